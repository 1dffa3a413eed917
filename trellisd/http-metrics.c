/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: /metrics: the node in the Prometheus text format
 *
 * Nothing here measures: the figures are those node.show, slice.list and
 * slice.stats compute (node_info_for, slice_list, slice_stats_sample
 * without its rate sample), as the caller may see them,
 * turned into metric families.  A family is declared once in fams[] (name,
 * type, help: the list trellisd(8) METRICS documents); samples are appended
 * to the family's buffer as the JSON is walked and the families are written
 * one after the other, each with its HELP and TYPE, as the format wants.
 * Label values are escaped (backslash, quote, newline).  A slice that
 * vanishes between the list and its stats is skipped.
 */
#define LOG_MODULE "http"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "access.h"
#include "http.h"
#include "log.h"
#include "trellisd.h"

enum fam {
	F_BUILD_INFO,
	F_START_TIME,
	F_UPTIME,
	F_SOCKET_REQUESTS,
	F_SOCKET_ERRORS,
	F_HTTP_REQUESTS,
	F_HTTP_UNAUTHORIZED,
	F_HTTP_CONNECTIONS,
	F_HTTP_CUT,
	F_NODE_SLICES,
	F_NODE_ROUTERS,
	F_NODE_CAPACITY,
	F_NODE_GUARANTEED,
	F_NODE_DISK_FREE,
	F_FP_DECAP_PACKETS,
	F_FP_DECAP_BYTES,
	F_FP_DROPS,
	F_SLICE_INFO,
	F_SLICE_ROUTERS,
	F_SLICE_LINKS,
	F_SLICE_RATE,
	F_SLICE_CEIL,
	F_SLICE_CPU,
	F_SLICE_MEMORY,
	F_LINK_UP,
	F_LINK_ADMIN_UP,
	F_LINK_RATE,
	F_LINK_TX_PACKETS,
	F_LINK_TX_BYTES,
	F_LINK_RX_PACKETS,
	F_LINK_RX_BYTES,
	F_LINK_DROPS,
	F_HTB_BYTES,
	F_HTB_PACKETS,
	F_HTB_DROPS,
	F_HTB_OVERLIMITS,
	F_HTB_BACKLOG_BYTES,
	F_HTB_BACKLOG_PACKETS,
	F_ROUTER_UP,
	F_ROUTER_STATE,
	F_ROUTER_CPU,
	F_ROUTER_THROTTLED,
	F_ROUTER_CPU_LIMIT,
	F_ROUTER_MEMORY,
	F_ROUTER_MEMORY_MAX,
	F_ROUTER_MEMORY_FAILCNT,
	F_ROUTER_OOM,
	F_ROUTER_PIDS,
	F_ROUTER_PIDS_MAX,
	F_ROUTER_DISK,
	F_ROUTER_DISK_FREE,
	F_ROUTER_DISK_MAX,
	F_COUNT,
};

static const struct {
	const char *name, *type, *help;
} fams[F_COUNT] = {
	[F_BUILD_INFO] = { "trellis_build_info", "gauge", "trellisd's version and node name (always 1)" },
	[F_START_TIME] = { "trellis_daemon_start_time_seconds", "gauge", "When trellisd started, seconds since the epoch" },
	[F_UPTIME] = { "trellis_daemon_uptime_seconds", "gauge", "Seconds since trellisd started" },
	[F_SOCKET_REQUESTS] = { "trellis_socket_requests_total", "counter", "Requests the control socket answered" },
	[F_SOCKET_ERRORS] = { "trellis_socket_request_errors_total", "counter",
			      "Requests the control socket answered with an error" },
	[F_HTTP_REQUESTS] = { "trellis_http_requests_total", "counter", "HTTP requests answered, by status class" },
	[F_HTTP_UNAUTHORIZED] = { "trellis_http_unauthorized_total", "counter",
				  "HTTP requests refused for a missing or wrong token (401)" },
	[F_HTTP_CONNECTIONS] = { "trellis_http_connections_total", "counter", "HTTP connections accepted" },
	[F_HTTP_CUT] = { "trellis_http_connections_cut_total", "counter",
			 "HTTP connections cut for taking longer than request-timeout" },
	[F_NODE_SLICES] = { "trellis_node_slices", "gauge", "Slices on this node (a tenant: its own)" },
	[F_NODE_ROUTERS] = { "trellis_node_routers", "gauge", "Routers on this node (a tenant: its own)" },
	[F_NODE_CAPACITY] = { "trellis_node_capacity_bytes_per_second", "gauge",
			      "Substrate capacity slices share, bytes/s (0 without a substrate)" },
	[F_NODE_GUARANTEED] = { "trellis_node_guaranteed_bytes_per_second", "gauge",
				"Substrate bandwidth admitted slices are guaranteed" },
	[F_NODE_DISK_FREE] = { "trellis_node_disk_free_bytes", "gauge",
			       "Disk a slice create could still use here (admission)" },
	[F_FP_DECAP_PACKETS] = { "trellis_fastpath_decap_packets_total", "counter",
				 "EGRE packets the fast path decapsulated" },
	[F_FP_DECAP_BYTES] = { "trellis_fastpath_decap_bytes_total", "counter",
			       "Bytes of EGRE packets the fast path decapsulated (outer headers included)" },
	[F_FP_DROPS] = { "trellis_fastpath_drops_total", "counter",
			 "EGRE packets the fast path dropped, by reason (unknown_key, bad_source, other)" },
	[F_SLICE_INFO] = { "trellis_slice_info", "gauge", "A slice, its owner and state (always 1)" },
	[F_SLICE_ROUTERS] = { "trellis_slice_routers", "gauge", "Routers of a slice" },
	[F_SLICE_LINKS] = { "trellis_slice_links", "gauge", "Links of a slice" },
	[F_SLICE_RATE] = { "trellis_slice_bandwidth_rate_bytes_per_second", "gauge",
			   "A slice's guaranteed substrate bandwidth (admission; 0 none)" },
	[F_SLICE_CEIL] = { "trellis_slice_bandwidth_ceil_bytes_per_second", "gauge",
			   "A slice's substrate bandwidth ceiling (0 none)" },
	[F_SLICE_CPU] = { "trellis_slice_cpu_seconds_total", "counter", "CPU time of a slice's routers on this node" },
	[F_SLICE_MEMORY] = { "trellis_slice_memory_bytes", "gauge", "Memory of a slice's routers on this node" },
	[F_LINK_UP] = { "trellis_link_up", "gauge", "1 if the link is up on this node, 0 if down or taken down" },
	[F_LINK_ADMIN_UP] = { "trellis_link_admin_up", "gauge", "0 if the link was taken down (trellis link down)" },
	[F_LINK_RATE] = { "trellis_link_rate_bytes_per_second", "gauge", "A link's configured rate (0 unshaped)" },
	[F_LINK_TX_PACKETS] = { "trellis_link_tx_packets_total", "counter",
				"Frames a router sent into a link, forwarded by the fast path" },
	[F_LINK_TX_BYTES] = { "trellis_link_tx_bytes_total", "counter",
			      "Bytes a router sent into a link, forwarded by the fast path" },
	[F_LINK_RX_PACKETS] = { "trellis_link_rx_packets_total", "counter",
				"Frames the fast path delivered to a router from a link" },
	[F_LINK_RX_BYTES] = { "trellis_link_rx_bytes_total", "counter",
			      "Bytes the fast path delivered to a router from a link" },
	[F_LINK_DROPS] = { "trellis_link_drops_total", "counter",
			   "Frames a router sent that the fast path dropped, by reason (mtu, loss, other)" },
	[F_HTB_BYTES] = { "trellis_htb_class_bytes_total", "counter", "Bytes an HTB class of a link direction sent" },
	[F_HTB_PACKETS] = { "trellis_htb_class_packets_total", "counter",
			    "Packets an HTB class of a link direction sent" },
	[F_HTB_DROPS] = { "trellis_htb_class_drops_total", "counter", "Packets an HTB class dropped" },
	[F_HTB_OVERLIMITS] = { "trellis_htb_class_overlimits_total", "counter", "Times an HTB class was over its rate" },
	[F_HTB_BACKLOG_BYTES] = { "trellis_htb_class_backlog_bytes", "gauge", "Bytes queued in an HTB class" },
	[F_HTB_BACKLOG_PACKETS] = { "trellis_htb_class_backlog_packets", "gauge", "Packets queued in an HTB class" },
	[F_ROUTER_UP] = { "trellis_router_up", "gauge", "1 if the router runs" },
	[F_ROUTER_STATE] = { "trellis_router_state", "gauge", "The router's state as a label (always 1)" },
	[F_ROUTER_CPU] = { "trellis_router_cpu_seconds_total", "counter", "CPU time the router used" },
	[F_ROUTER_THROTTLED] = { "trellis_router_cpu_throttled_periods_total", "counter",
				 "CFS periods in which the router's CPU quota ran out" },
	[F_ROUTER_CPU_LIMIT] = { "trellis_router_cpu_limit_cores", "gauge", "The router's CPU limit (0 none)" },
	[F_ROUTER_MEMORY] = { "trellis_router_memory_bytes", "gauge", "Memory the router uses" },
	[F_ROUTER_MEMORY_MAX] = { "trellis_router_memory_max_bytes", "gauge", "The router's memory limit (0 none)" },
	[F_ROUTER_MEMORY_FAILCNT] = { "trellis_router_memory_limit_hits_total", "counter",
				      "Times the router hit its memory limit" },
	[F_ROUTER_OOM] = { "trellis_router_oom_kills_total", "counter", "Processes of the router the OOM killer took" },
	[F_ROUTER_PIDS] = { "trellis_router_pids", "gauge", "Tasks in the router" },
	[F_ROUTER_PIDS_MAX] = { "trellis_router_pids_max", "gauge", "The router's task limit (0 none)" },
	[F_ROUTER_DISK] = { "trellis_router_disk_used_bytes", "gauge", "Disk the router's own file system uses" },
	[F_ROUTER_DISK_FREE] = { "trellis_router_disk_free_bytes", "gauge", "Disk left on the router's own file system" },
	[F_ROUTER_DISK_MAX] = { "trellis_router_disk_max_bytes", "gauge", "The router's disk limit (0 none)" },
};

struct mset {
	FILE *f[F_COUNT];
	char *buf[F_COUNT];
	size_t len[F_COUNT];
	int failed;
};

/* Labels as 'k="v",...' from NULL-terminated pairs, values escaped. */
static void labels(char *out, size_t len, va_list ap)
{
	const char *k, *v;
	size_t o = 0;

	out[0] = '\0';
	while ((k = va_arg(ap, const char *))) {
		v = va_arg(ap, const char *);
		if (!v)
			v = "";
		o += (size_t)snprintf(out + o, o < len ? len - o : 0, "%s%s=\"", o ? "," : "", k);
		for (; *v && o + 4 < len; v++) {
			if (*v == '\\' || *v == '"') {
				out[o++] = '\\';
				out[o++] = *v;
			} else if (*v == '\n') {
				out[o++] = '\\';
				out[o++] = 'n';
			} else {
				out[o++] = *v;
			}
		}
		if (o + 2 < len) {
			out[o++] = '"';
			out[o] = '\0';
		}
	}
}

/* A sample of family @f with value @v and labels (NULL-terminated key, value pairs). */
static void add(struct mset *m, enum fam f, double v, ...)
{
	char lb[1024];
	va_list ap;

	if (!m->f[f] && !(m->f[f] = open_memstream(&m->buf[f], &m->len[f]))) {
		m->failed = 1;
		return;
	}
	va_start(ap, v);
	labels(lb, sizeof(lb), ap);
	va_end(ap);
	if (v == (double)(int64_t)v && v < 9e15 && v > -9e15)
		fprintf(m->f[f], "%s%s%s%s %" PRId64 "\n", fams[f].name, lb[0] ? "{" : "", lb, lb[0] ? "}" : "", (int64_t)v);
	else
		fprintf(m->f[f], "%s%s%s%s %.9g\n", fams[f].name, lb[0] ? "{" : "", lb, lb[0] ? "}" : "", v);
}

static double num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : 0;
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static void node_metrics(struct mset *m, struct op_ctx *oc)
{
	json_t *n = node_info_for(oc), *fp, *sub;
	const char *node = oc->d->node_name;
	double now = (double)time(NULL);

	add(m, F_BUILD_INFO, 1, "version", PACKAGE_VERSION, "node", node, NULL);
	add(m, F_START_TIME, http_daemon_start, "node", node, NULL);
	add(m, F_UPTIME, now - http_daemon_start, "node", node, NULL);
	add(m, F_SOCKET_REQUESTS, (double)atomic_load(&server_requests), "node", node, NULL);
	add(m, F_SOCKET_ERRORS, (double)atomic_load(&server_errors), "node", node, NULL);
	add(m, F_HTTP_REQUESTS, (double)atomic_load(&http_counters.status[2]), "node", node, "code", "2xx", NULL);
	add(m, F_HTTP_REQUESTS, (double)atomic_load(&http_counters.status[4]), "node", node, "code", "4xx", NULL);
	add(m, F_HTTP_REQUESTS, (double)atomic_load(&http_counters.status[5]), "node", node, "code", "5xx", NULL);
	add(m, F_HTTP_UNAUTHORIZED, (double)atomic_load(&http_counters.unauthorized), "node", node, NULL);
	add(m, F_HTTP_CONNECTIONS, (double)atomic_load(&http_counters.connections), "node", node, NULL);
	add(m, F_HTTP_CUT, (double)atomic_load(&http_counters.cut), "node", node, NULL);
	if (!n)
		return;
	add(m, F_NODE_SLICES, num(n, "slices"), "node", node, NULL);
	add(m, F_NODE_ROUTERS, num(n, "routers"), "node", node, NULL);
	sub = json_object_get(n, "substrate");
	add(m, F_NODE_CAPACITY, num(sub, "capacity") / 8, "node", node, NULL);
	add(m, F_NODE_GUARANTEED, num(sub, "guaranteed") / 8, "node", node, NULL);
	add(m, F_NODE_DISK_FREE, (double)slice_disk_free(oc->d), "node", node, NULL);
	if ((fp = json_object_get(n, "fastpath_stats"))) {
		add(m, F_FP_DECAP_PACKETS, num(fp, "rx_packets"), "node", node, NULL);
		add(m, F_FP_DECAP_BYTES, num(fp, "rx_bytes"), "node", node, NULL);
		add(m, F_FP_DROPS, num(fp, "unknown_key"), "node", node, "reason", "unknown_key", NULL);
		add(m, F_FP_DROPS, num(fp, "bad_source"), "node", node, "reason", "bad_source", NULL);
		add(m, F_FP_DROPS, num(fp, "other"), "node", node, "reason", "other", NULL);
	}
	json_decref(n);
}

static void link_metrics(struct mset *m, const char *sl, const char *node, json_t *stats)
{
	size_t i, k;
	json_t *l, *p;

	json_array_foreach(json_object_get(stats, "links"), i, l) {
		const char *name = str(l, "name"), *state = str(l, "state");

		if (!strcmp(state, "remote"))
			continue;
		add(m, F_LINK_UP, !strcmp(state, "up"), "slice", sl, "link", name, "node", node, NULL);
		add(m, F_LINK_ADMIN_UP, strcmp(state, "admin-down") != 0, "slice", sl, "link", name, "node", node, NULL);
		add(m, F_LINK_RATE, num(l, "rate") / 8, "slice", sl, "link", name, "node", node, NULL);
	}
	json_array_foreach(json_object_get(stats, "links"), i, l) {
		const char *name = str(l, "name");

		json_array_foreach(json_object_get(l, "ports"), k, p) {
			const char *r = str(p, "router"), *ifn = str(p, "ifname");

			if (json_object_get(p, "error"))
				continue;
#define PORT_LABELS "slice", sl, "link", name, "router", r, "ifname", ifn, "node", node
			add(m, F_LINK_TX_PACKETS, num(p, "packets"), PORT_LABELS, NULL);
			add(m, F_LINK_TX_BYTES, num(p, "bytes"), PORT_LABELS, NULL);
			add(m, F_LINK_RX_PACKETS, num(p, "rx_packets"), PORT_LABELS, NULL);
			add(m, F_LINK_RX_BYTES, num(p, "rx_bytes"), PORT_LABELS, NULL);
			add(m, F_LINK_DROPS, num(p, "drops_mtu"), PORT_LABELS, "reason", "mtu", NULL);
			add(m, F_LINK_DROPS, num(p, "drops_loss"), PORT_LABELS, "reason", "loss", NULL);
			add(m, F_LINK_DROPS, num(p, "drops_other"), PORT_LABELS, "reason", "other", NULL);
#undef PORT_LABELS
		}
		json_array_foreach(json_object_get(l, "directions"), k, p) {
			const char *from = str(p, "from"), *to = str(p, "to"), *cls = str(p, "class");

			if (!cls[0])
				continue;
#define DIR_LABELS "slice", sl, "link", name, "from", from, "to", to, "class", cls, "node", node
			add(m, F_HTB_BYTES, num(p, "bytes"), DIR_LABELS, NULL);
			add(m, F_HTB_PACKETS, num(p, "packets"), DIR_LABELS, NULL);
			add(m, F_HTB_DROPS, num(p, "drops"), DIR_LABELS, NULL);
			add(m, F_HTB_OVERLIMITS, num(p, "overlimits"), DIR_LABELS, NULL);
			add(m, F_HTB_BACKLOG_BYTES, num(p, "backlog_bytes"), DIR_LABELS, NULL);
			add(m, F_HTB_BACKLOG_PACKETS, num(p, "backlog_packets"), DIR_LABELS, NULL);
#undef DIR_LABELS
		}
	}
}

static void router_metrics(struct mset *m, const char *sl, const char *node, json_t *stats)
{
	size_t i;
	json_t *r;

	json_array_foreach(json_object_get(stats, "routers"), i, r) {
		const char *name = str(r, "name"), *state = str(r, "state");
		json_t *u = json_object_get(r, "usage"), *lim = json_object_get(r, "limits");

		if (!strcmp(state, "remote"))
			continue;
#define R_LABELS "slice", sl, "router", name, "node", node
		add(m, F_ROUTER_UP, !strcmp(state, "running"), R_LABELS, NULL);
		add(m, F_ROUTER_STATE, 1, R_LABELS, "state", state, NULL);
		add(m, F_ROUTER_CPU_LIMIT, num(lim, "cpu"), R_LABELS, NULL);
		if (!json_is_object(u))
			continue;
		add(m, F_ROUTER_CPU, num(u, "cpu_ns") / 1e9, R_LABELS, NULL);
		add(m, F_ROUTER_THROTTLED, num(u, "cpu_throttled"), R_LABELS, NULL);
		add(m, F_ROUTER_MEMORY, num(u, "memory"), R_LABELS, NULL);
		add(m, F_ROUTER_MEMORY_MAX, num(u, "memory_max"), R_LABELS, NULL);
		add(m, F_ROUTER_MEMORY_FAILCNT, num(u, "memory_failcnt"), R_LABELS, NULL);
		add(m, F_ROUTER_OOM, num(u, "oom_kills"), R_LABELS, NULL);
		add(m, F_ROUTER_PIDS, num(u, "pids"), R_LABELS, NULL);
		add(m, F_ROUTER_PIDS_MAX, num(u, "pids_max"), R_LABELS, NULL);
		add(m, F_ROUTER_DISK, num(u, "disk"), R_LABELS, NULL);
		add(m, F_ROUTER_DISK_FREE, num(u, "disk_free"), R_LABELS, NULL);
		add(m, F_ROUTER_DISK_MAX, num(u, "disk_max"), R_LABELS, NULL);
#undef R_LABELS
	}
}

static void slice_metrics(struct mset *m, struct op_ctx *oc, const json_t *entry)
{
	const char *sl = str(entry, "name"), *node = oc->d->node_name;
	struct trl_error e = { 0 };
	json_t *stats = NULL, *u;

	/* slice.stats alone: it has the links' and routers' states and limits (slice.show would ask
	 * liblxc about every router a second time). */
	if (slice_stats_sample(oc, sl, 0, &stats, &e) < 0) {
		log_debug("metrics: slice '%s' skipped: %s", sl, e.msg);
		return;
	}
	add(m, F_SLICE_INFO, 1, "slice", sl, "owner", str(stats, "owner"), "state", str(entry, "state"), "node", node,
	    NULL);
	add(m, F_SLICE_ROUTERS, num(entry, "routers"), "slice", sl, "node", node, NULL);
	add(m, F_SLICE_LINKS, num(entry, "links"), "slice", sl, "node", node, NULL);
	add(m, F_SLICE_RATE, num(json_object_get(stats, "bandwidth"), "rate") / 8, "slice", sl, "node", node, NULL);
	add(m, F_SLICE_CEIL, num(json_object_get(stats, "bandwidth"), "ceil") / 8, "slice", sl, "node", node, NULL);
	if (json_is_object(u = json_object_get(stats, "usage"))) {
		add(m, F_SLICE_CPU, num(u, "cpu_ns") / 1e9, "slice", sl, "node", node, NULL);
		add(m, F_SLICE_MEMORY, num(u, "memory"), "slice", sl, "node", node, NULL);
	}
	link_metrics(m, sl, node, stats);
	router_metrics(m, sl, node, stats);
	json_decref(stats);
}

int http_metrics(struct op_ctx *oc, struct http_reply *rep)
{
	struct mset m = { 0 };
	struct trl_error e = { 0 };
	json_t *list = NULL, *s;
	FILE *out;
	size_t i;

	node_metrics(&m, oc);
	if (slice_list(oc, &list, &e) == 0)
		json_array_foreach(json_object_get(list, "slices"), i, s)
			slice_metrics(&m, oc, s);
	json_decref(list);
	free(rep->body);
	rep->body = NULL;
	out = open_memstream(&rep->body, &rep->len);
	for (int f = 0; f < F_COUNT; f++) {
		if (!m.f[f])
			continue;
		fclose(m.f[f]);
		if (out)
			fprintf(out, "# HELP %s %s\n# TYPE %s %s\n%.*s", fams[f].name, fams[f].help, fams[f].name,
				fams[f].type, (int)m.len[f], m.buf[f]);
		free(m.buf[f]);
	}
	if (!out || fclose(out) != 0 || m.failed) {
		if (!out)
			rep->body = NULL;
		http_reply_error(rep, 500, "out of memory");
		return -1;
	}
	rep->status = 200;
	rep->type = "text/plain; version=0.0.4; charset=utf-8";
	return 0;
}
