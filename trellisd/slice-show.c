/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slices: show, list, stats (the report side)
 *
 * The read-only requests: slice.show (spec as realized on this node, live
 * link settings, router states), slice.list and slice.stats (per-link counters
 * from the fast path and the shaper, per-router and per-slice accounting from
 * cgroups, disk usage).  All output is JSON; the CLI prints it.  A slice
 * whose stored spec no longer parses (an older release's) is shown and
 * listed from its realized inventory (slice-inventory.c).
 */
#define LOG_MODULE "slice"
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "bridge.h"
#include "cgroup.h"
#include "cluster.h"
#include "container.h"
#include "disk.h"
#include "escape.h"
#include "log.h"
#include "names.h"
#include "shape.h"
#include "shaper.h"
#include "spec.h"
#include "store.h"
#include "claim.h"
#include "template.h"
#include "tenant.h"
#include "trellisd.h"
#include "units.h"
#include "util.h"
#include "slice.h"

json_t *limits_json(const struct trl_limits *l)
{
	return json_pack("{s:f, s:I, s:I, s:I, s:I}", "cpu", l->cpu, "cpu_weight", (json_int_t)l->cpu_weight, "memory",
			 (json_int_t)l->memory, "pids", (json_int_t)l->pids, "disk", (json_int_t)l->disk);
}

/* A stored slice the caller may @op, planned for this node as it was
 * created (keys and kinds from the store).  The plan owns the parsed spec. */
int slice_plan_load(struct op_ctx *oc, enum access_op op, const char *name, struct store_slice *row,
			   struct plan *p, struct trl_error *err)
{
	struct store *st = NULL;
	struct trl_slice *s = NULL;
	int r;

	memset(p, 0, sizeof(*p));
	if ((r = store_open(oc->d->db_path, &st, err)) < 0)
		return r;
	r = slice_load(st, name, row, &s, err);
	if (r == 0 && (r = access_check(oc, op, row, err)) < 0) {
		store_slice_release(row);
		trl_slice_free(s);
	}
	if (r == 0) {
		r = plan_build(oc->d, s, row->uid_base, row->placement, 0, p, err);
		if (r == 0) {
			plan_load_links(st, p);
			plan_apply_settings(st, p);
		} else
			store_slice_release(row);
	}
	store_close(st);
	return r;
}

/* Link @l of plan @p on this node: "up", "down" (an end's interface is gone),
 * "admin-down" (taken down: trellis link down), "down (node N away)" (its far
 * node is away, cluster mode: in @buf) or "remote". */
static const char *link_state(const struct plan *p, size_t l, char *buf, size_t len)
{
	const char *away = json_string_value(json_object_get(p->away, p->s->links[l].name));
	const struct trl_link *lk = &p->s->links[l];
	const struct plan_link *pl = &p->pl[l];
	char a[16], b[16];
	int up;

	if (pl->kind != PLAN_LINK_LOCAL && pl->kind != PLAN_LINK_TUNNEL)
		return "remote";
	host_veth(p->s, &lk->ep[0], a);
	host_veth(p->s, &lk->ep[1], b);
	if (pl->kind == PLAN_LINK_LOCAL)
		up = if_nametoindex(a) && if_nametoindex(b);
	else
		up = if_nametoindex(pl->ep ? b : a) != 0;
	if (!up)
		return "down";
	if (p->down[l])
		return "admin-down";
	if (away) {
		snprintf(buf, len, "down (node %s away)", away);
		return buf;
	}
	return "up";
}

/* The spec does not parse (@err says why): what runs, from the inventory; else @err as it is. */
static int show_from_inventory(struct op_ctx *oc, const char *name, json_t **result, struct trl_error *err)
{
	struct store_slice row;
	struct store *st = NULL;
	int r = -err->code;

	if (store_open(oc->d->db_path, &st, NULL) < 0)
		return r;
	if (store_slice_get(st, name, &row, NULL) == 0) {
		if (access_check(oc, ACCESS_SEE, &row, NULL) == 0 && (*result = inventory_show(oc->d, st, &row, err->msg))) {
			trl_error_clear(err);
			r = 0;
		}
		store_slice_release(&row);
	}
	store_close(st);
	return r;
}

int slice_show(struct op_ctx *oc, const char *name, json_t **result, struct trl_error *err)
{
	struct daemon *d = oc->d;
	struct store_slice row;
	struct trl_slice *s;
	struct plan p;
	json_t *o, *routers, *links;
	int r, degraded = 0;

	if ((r = slice_plan_load(oc, ACCESS_SEE, name, &row, &p, err)) < 0) {
		plan_free(&p);
		if (r != -TRL_ENOTFOUND && r != -TRL_EPERM)
			return show_from_inventory(oc, name, result, err);
		return r;
	}
	s = p.s;
	routers = json_array();
	links = json_array();
	for (size_t i = 0; i < s->n_routers; i++) {
		struct trl_router *rt = &s->routers[i];
		struct trl_limits lim = trl_router_limits(s, rt);
		char cname[64];
		pid_t pid = 0;
		const char *state = "remote";
		json_t *ifs = json_array(), *daemons = json_array(), *lo = json_array();

		names_container(cname, sizeof(cname), s->name, rt->name);
		if (p.local[i]) {
			enum router_state rs = container_state(d->lxcpath, cname, &pid);

			state = router_state_name(rs);
			/* A router stopped on purpose ('router stop') does not make the slice degraded. */
			if (rs != ROUTER_RUNNING && !(p.stopped && p.stopped[i]))
				degraded = 1;
		}
		for (size_t k = 0; k < rt->n_daemons; k++)
			json_array_append_new(daemons, json_string(rt->daemons[k]));
		for (size_t l = 0; l < s->n_links; l++)
			for (int e = 0; e < 2; e++) {
				struct trl_endpoint *ep = &s->links[l].ep[e];
				unsigned char mac[6];
				char host[16], macs[32];
				json_t *addrs;

				if (strcmp(ep->router, rt->name))
					continue;
				addrs = json_array();
				host_veth(s, ep, host);
				names_mac(mac, s->name, rt->name, ep->ifname);
				snprintf(macs, sizeof(macs), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
					 mac[3], mac[4], mac[5]);
				for (size_t a = 0; a < ep->n_addrs; a++)
					json_array_append_new(addrs, json_string(ep->addrs[a].text));
				json_array_append_new(ifs, json_pack("{s:s, s:s, s:s, s:o, s:s}", "name", ep->ifname,
								     "host", host, "mac", macs, "addresses", addrs,
								     "link", s->links[l].name));
			}
		for (size_t a = 0; a < rt->n_loopback; a++)
			json_array_append_new(lo, json_string(rt->loopback[a].text));
		json_array_append_new(routers,
				      json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:o}", "name", rt->name,
						"node", rt->node[0] ? rt->node : d->node_name, "template",
						rt->template_name, "container", cname, "state", state, "pid", (int)pid,
						"daemons", daemons, "limits", limits_json(&lim), "interfaces", ifs,
						"loopback", lo));
	}
	for (size_t l = 0; l < s->n_links; l++) {
		struct trl_link *lk = &s->links[l];
		struct plan_link *pl = &p.pl[l];
		char a[16], b[16], ea[40], eb[40];
		char state_buf[TRL_NAME_MAX + 32];
		const char *state = link_state(&p, l, state_buf, sizeof(state_buf));

		host_veth(s, &lk->ep[0], a);
		host_veth(s, &lk->ep[1], b);
		snprintf(ea, sizeof(ea), "%s:%s", lk->ep[0].router, lk->ep[0].ifname);
		snprintf(eb, sizeof(eb), "%s:%s", lk->ep[1].router, lk->ep[1].ifname);
		const char *away = json_string_value(json_object_get(p.away, lk->name));

		if (!strcmp(state, "down"))
			degraded = 1;
		/* admin: the user's state (link set); away: the far node whose absence put it down (cluster). */
		json_array_append_new(links, json_pack("{s:s, s:[s,s], s:[s,s], s:I, s:o, s:s, s:s, s:I, s:s, s:s?}", "name",
						       lk->name, "endpoints", ea, eb, "hosts", a, b, "rate",
						       (json_int_t)lk->shape.rate, "shape", shape_to_json(&lk->shape),
						       "state", state, "kind", plan_link_kind_name(pl), "key",
						       (json_int_t)pl->key, "admin", p.down[l] ? "down" : "up", "away", away));
	}
	o = json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:s?, s:s, s:{s:I, s:I}, s:o, s:o, s:o, s:b, s:s?}", "name", s->name,
		      "owner", row.owner, "owner_uid", (json_int_t)row.owner_uid, "state",
		      slice_state_name(row.state == SLICE_READY && degraded ? SLICE_DEGRADED : row.state), "created",
		      (json_int_t)row.created, "uid_base", (json_int_t)row.uid_base, "description", s->description,
		      "node", d->node_name, "bandwidth", "rate", (json_int_t)s->bw_rate, "ceil", (json_int_t)s->bw_ceil,
		      "limits", limits_json(&s->limits), "routers", routers, "links", links, "persist", s->persist,
		      "tunnel", s->tunnel[0] ? s->tunnel : NULL);
	if (o)
		cluster_show_state(d, s->name, row.placement, o);
	store_slice_release(&row);
	plan_free(&p);
	if (!o)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	*result = o;
	return 0;
}

static json_t *port_stats_json(struct daemon *d, const char *host, const struct trl_endpoint *ep)
{
	struct bridge_port_stats ps = { 0 };
	struct trl_error e = { 0 };

	if (!d->bridge || bridge_port_stats(d->bridge, host, &ps, &e) < 0)
		return json_pack("{s:s, s:s, s:s, s:s}", "host", host, "router", ep->router, "ifname", ep->ifname, "error",
				 e.msg[0] ? e.msg : "no fast path");
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "host", host, "router", ep->router, "ifname", ep->ifname, "packets",
			 (json_int_t)ps.packets, "bytes", (json_int_t)ps.bytes, "rx_packets", (json_int_t)ps.rx_packets,
			 "rx_bytes", (json_int_t)ps.rx_bytes, "drops", (json_int_t)ps.drops, "drops_mtu",
			 (json_int_t)ps.drops_mtu, "drops_loss", (json_int_t)ps.drops_loss, "drops_other",
			 (json_int_t)(ps.drops_other + ps.drops_unjoined));
}

/* One direction of a link on this node: where its frames are counted. */
struct stat_dir {
	size_t link;
	int from;		/* endpoint index the frames come from */
	char dev[16];		/* egress with the class (host end or substrate), "" = unshaped */
	uint32_t classid;
	char port[16];		/* host end whose fast-path counters say what the router sent */
	uint64_t bytes0, t0;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Bytes sent in direction @sd so far: its class's, else the router's port's. */
static uint64_t dir_bytes(struct daemon *d, const struct stat_dir *sd, struct shaper_class_info *ci)
{
	struct trl_error e = { 0 };
	struct bridge_port_stats ps;

	memset(ci, 0, sizeof(*ci));
	if (sd->dev[0] && shaper_class_get(sd->dev, sd->classid, ci, &e) == 0)
		return ci->bytes;
	if (d->bridge && bridge_port_stats(d->bridge, sd->port, &ps, &e) == 0)
		return ps.bytes;
	return 0;
}

#define RATE_SAMPLE_US 500000

/* Accounting of the slice's group (@router NULL) or a router's, or JSON null when it has none here. */
static json_t *usage_json(struct plan *p, const char *router)
{
	struct cgroup_usage u;
	char cg[256];

	names_cgroup(cg, sizeof(cg), p->d->node_name, p->s->name, router);
	if (cgroup_usage_read(p->layout, cg, &u) < 0)
		return json_null();
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "cpu_ns", (json_int_t)u.cpu_ns, "cpu_throttled",
			 (json_int_t)u.cpu_throttled, "memory", (json_int_t)u.mem_current, "memory_max",
			 (json_int_t)u.mem_max, "memory_failcnt", (json_int_t)u.mem_failcnt, "oom_kills",
			 (json_int_t)u.oom_kills, "pids", (json_int_t)u.pids_current, "pids_max", (json_int_t)u.pids_max);
}

/* limits.disk: the router's own rootfs file system as df would see it (all 0 without one). */
static void disk_usage_add(struct plan *p, size_t i, const char *cname, json_t *u)
{
	uint64_t used = 0, avail = 0, max = p->cs[i].limits.disk;
	char rootfs[PATH_MAX];

	snprintf(rootfs, sizeof(rootfs), "%s/%s/rootfs", p->d->lxcpath, cname);
	if (!max || disk_usage(rootfs, &used, &avail) < 0)
		used = avail = max = 0;
	json_object_set_new(u, "disk", json_integer((json_int_t)used));
	json_object_set_new(u, "disk_free", json_integer((json_int_t)avail));
	json_object_set_new(u, "disk_max", json_integer((json_int_t)max));
}

static json_t *routers_usage_json(struct plan *p)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < p->s->n_routers; i++) {
		const char *name = p->s->routers[i].name, *state = "remote";
		struct trl_limits lim;
		json_t *u = json_null();
		char cname[64];
		pid_t pid;

		if (p->local[i]) {
			names_container(cname, sizeof(cname), p->s->name, name);
			state = router_state_name(container_state(p->d->lxcpath, cname, &pid));
			u = usage_json(p, name);
			if (json_is_object(u))
				disk_usage_add(p, i, cname, u);
		}
		lim = trl_router_limits(p->s, &p->s->routers[i]);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:o}", "name", name, "state", state, "usage", u,
						     "limits", limits_json(&lim)));
	}
	return arr;
}

int slice_stats(struct op_ctx *oc, const char *name, json_t **result, struct trl_error *err)
{
	return slice_stats_sample(oc, name, 1, result, err);
}

int slice_stats_sample(struct op_ctx *oc, const char *name, int sample, json_t **result, struct trl_error *err)
{
	struct store_slice row;
	struct trl_slice *s;
	struct plan p;
	struct stat_dir *sd;
	size_t nd = 0;
	json_t *links;
	int r;

	if ((r = slice_plan_load(oc, ACCESS_SEE, name, &row, &p, err)) < 0) {
		plan_free(&p);
		return r;
	}
	store_slice_release(&row);
	s = p.s;
	sd = calloc(2 * s->n_links + 1, sizeof(*sd));
	if (!sd) {
		plan_free(&p);
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	}
	/* Directions this node carries, first sample. */
	for (size_t l = 0; l < s->n_links; l++) {
		struct trl_link *lk = &s->links[l];
		struct plan_link *pl = &p.pl[l];
		uint32_t cls;
		int shaped = shape_link_class_of(&lk->shape, pl->kind == PLAN_LINK_TUNNEL, pl->key, &cls) == 0;

		for (int from = 0; from < 2; from++) {
			struct stat_dir *x;
			struct shaper_class_info ci;

			if (pl->kind == PLAN_LINK_REMOTE || (pl->kind == PLAN_LINK_TUNNEL && pl->ep != from))
				continue;
			x = &sd[nd++];
			x->link = l;
			x->from = from;
			x->classid = cls;
			host_veth(s, &lk->ep[from], x->port);
			if (shaped && pl->kind == PLAN_LINK_LOCAL)
				host_veth(s, &lk->ep[1 - from], x->dev);
			else if (shaped && pl->kind == PLAN_LINK_TUNNEL && pl->tunnel == NODE_TUNNEL_EGRE)
				snprintf(x->dev, sizeof(x->dev), "%s", oc->d->sub.ifname);
			x->bytes0 = sample ? dir_bytes(oc->d, x, &ci) : 0;
			x->t0 = now_ns();
		}
	}
	if (nd && sample)
		usleep(RATE_SAMPLE_US);

	links = json_array();
	for (size_t l = 0; l < s->n_links; l++) {
		struct trl_link *lk = &s->links[l];
		struct plan_link *pl = &p.pl[l];
		json_t *ports = json_array(), *dirs = json_array();
		char h[16];

		for (int e = 0; e < 2; e++) {
			if (pl->kind == PLAN_LINK_REMOTE || (pl->kind == PLAN_LINK_TUNNEL && pl->ep != e))
				continue;
			host_veth(s, &lk->ep[e], h);
			json_array_append_new(ports, port_stats_json(oc->d, h, &lk->ep[e]));
		}
		for (size_t i = 0; i < nd; i++) {
			struct shaper_class_info ci;
			uint64_t b1, t1;
			char from[40], to[40], cls[48] = "";

			if (sd[i].link != l)
				continue;
			b1 = dir_bytes(oc->d, &sd[i], &ci);
			t1 = now_ns();
			snprintf(from, sizeof(from), "%s:%s", lk->ep[sd[i].from].router, lk->ep[sd[i].from].ifname);
			snprintf(to, sizeof(to), "%s:%s", lk->ep[1 - sd[i].from].router, lk->ep[1 - sd[i].from].ifname);
			if (sd[i].dev[0])
				snprintf(cls, sizeof(cls), "%s 1:%x", sd[i].dev, SHAPER_MINOR(sd[i].classid));
			json_array_append_new(
				dirs, json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "from", from, "to", to,
						"rate_now",
						(json_int_t)(sample && t1 > sd[i].t0 && b1 >= sd[i].bytes0
								     ? (b1 - sd[i].bytes0) * 8 * 1000000000ULL / (t1 - sd[i].t0)
								     : 0),
						"class", cls, "bytes", (json_int_t)ci.bytes, "packets", (json_int_t)ci.packets,
						"drops", (json_int_t)ci.drops, "overlimits", (json_int_t)ci.overlimits,
						"backlog_bytes", (json_int_t)ci.backlog_bytes, "backlog_packets",
						(json_int_t)ci.backlog_packets));
		}
		char state_buf[TRL_NAME_MAX + 32];

		json_array_append_new(links, json_pack("{s:s, s:s, s:I, s:I, s:o, s:s, s:s, s:o, s:o}", "name", lk->name,
						       "kind", plan_link_kind_name(pl), "key", (json_int_t)pl->key, "rate",
						       (json_int_t)lk->shape.rate, "shape", shape_to_json(&lk->shape),
						       "admin", p.down[l] ? "down" : "up", "state",
						       link_state(&p, l, state_buf, sizeof(state_buf)), "ports", ports,
						       "directions", dirs));
	}
	free(sd);
	/* row's strings outlive store_slice_release(), which frees what it points to */
	*result = json_pack("{s:s, s:s, s:s, s:{s:I, s:I}, s:o, s:o, s:o}", "name", s->name, "node", oc->d->node_name,
			    "owner", row.owner, "bandwidth", "rate", (json_int_t)s->bw_rate, "ceil", (json_int_t)s->bw_ceil,
			    "links", links, "usage", usage_json(&p, NULL), "routers", routers_usage_json(&p));
	plan_free(&p);
	return 0;
}

int slice_list(struct op_ctx *oc, json_t **result, struct trl_error *err)
{
	struct store *st = NULL;
	char **names = NULL;
	json_t *arr = json_array();
	int n, r;

	if ((r = store_open(oc->d->db_path, &st, err)) < 0)
		return r;
	n = store_slice_names(st, &names, err);
	for (int i = 0; i < n; i++) {
		struct store_slice row;
		struct trl_slice *s = NULL;

		if (slice_load(st, names[i], &row, &s, err) < 0) {
			/* Its spec does not parse (an older release's): listed from its inventory. */
			if (store_slice_get(st, names[i], &row, NULL) == 0) {
				json_t *inv = access_check(oc, ACCESS_SEE, &row, NULL) == 0 ? inventory_load(oc->d, st, &row)
											    : NULL;

				if (inv)
					json_array_append_new(
						arr, json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I}", "name", row.name, "owner",
							       row.owner, "owner_uid", (json_int_t)row.owner_uid, "state",
							       slice_state_name(row.state), "routers",
							       (json_int_t)json_array_size(json_object_get(inv, "containers")),
							       "links", (json_int_t)json_array_size(json_object_get(inv, "links")),
							       "created", (json_int_t)row.created));
				json_decref(inv);
				store_slice_release(&row);
			}
			trl_error_clear(err);
			continue;
		}
		if (access_check(oc, ACCESS_SEE, &row, NULL) == 0)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I}", "name", row.name,
							     "owner", row.owner, "owner_uid",
							     (json_int_t)row.owner_uid, "state", slice_state_name(row.state), "routers",
							     (json_int_t)s->n_routers, "links", (json_int_t)s->n_links,
							     "created", (json_int_t)row.created));
		store_slice_release(&row);
		trl_slice_free(s);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	store_close(st);
	*result = json_pack("{s:o}", "slices", arr);
	return 0;
}
