// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * DOC: cluster operations a client starts (CLI with --cluster, or a node
 * serving a request for a client)
 *
 * See cluster.h for the keys.  A create costs a fixed number of round trips
 * whatever the slice's size: one range of nodes/, one read of the key
 * counter, one transaction (retried only when another create won the race
 * for the counter), one watch of status/SLICE/ that delivers every node's
 * reports.  Delete and rollback poll status/SLICE/ until the nodes that are
 * up have withdrawn their reports.  What the cluster says (node list and
 * remove, the slices' states, a slice described) is in cluster-view.c.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include "cluster.h"
#include "cluster-int.h"
#include "model.h"
#include "names.h"
#include "spec.h"
#include "units.h"
#include "util.h"

static void progress_to(cluster_progress_fn fn, void *ctx, const char *node, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void progress_to(cluster_progress_fn fn, void *ctx, const char *node, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fn(ctx, node, msg);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The last component of a key: "/trellis/nodes/n1" -> "n1". */
const char *cluster_kv_base(json_t *kv)
{
	const char *k = json_string_value(json_object_get(kv, "key"));
	const char *slash = k ? strrchr(k, '/') : NULL;

	return slash ? slash + 1 : "";
}

json_t *cluster_kv_json(json_t *kv)
{
	return json_loads(json_string_value(json_object_get(kv, "value")) ?: "", 0, NULL);
}

/* Live nodes: name -> registration. */
int cluster_live_nodes(struct etcd *e, json_t **out, struct trl_error *err)
{
	json_t *kvs, *kv;
	size_t i;
	int r;

	*out = NULL;
	if ((r = etcd_range(e, CLUSTER_NODES, &kvs, NULL, err)) < 0)
		return r;
	*out = json_object();
	json_array_foreach(kvs, i, kv) {
		json_t *v = cluster_kv_json(kv);

		if (json_is_object(v))
			json_object_set_new(*out, cluster_kv_base(kv), v);
		else
			json_decref(v);
	}
	json_decref(kvs);
	return 0;
}

static int files_resolver(void *ctx, const char *name, char **out)
{
	json_t *v = json_object_get(ctx, name);

	if (!json_is_string(v))
		return -ENOENT;
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

char *cluster_slice_key(const char *name)
{
	char *k = NULL;

	return asprintf(&k, CLUSTER_SLICES "%s", name) < 0 ? NULL : k;
}

char *cluster_status_prefix(const char *name)
{
	char *k = NULL;

	return asprintf(&k, CLUSTER_STATUS "%s/", name) < 0 ? NULL : k;
}

/* Put the slice and take @n keys in one transaction.  1 = done (*rev, *first set), 0 = lost a race, retry. */
/* Deleting the uid-range key of a desired state (a harmless no-op delete without one). */
/* The users' link states of slice @name (deleted with the slice). */
static json_t *links_release_op(const char *name)
{
	char key[192];

	snprintf(key, sizeof(key), CLUSTER_LINKS "%s/", name);
	return etcd_op_delete(key, 1);
}

static json_t *uid_release_op(json_t *desired)
{
	json_t *u = json_object_get(json_object_get(desired, "placement"), "uid_index");
	char key[96];

	if (json_is_integer(u))
		snprintf(key, sizeof(key), CLUSTER_UID_PREFIX "%lld", (long long)json_integer_value(u));
	else
		snprintf(key, sizeof(key), CLUSTER_UID_PREFIX "none");
	return etcd_op_delete(key, 0);
}

/* The smallest uid index (>= 1) no slice of the cluster holds: CLUSTER_UID_PREFIX<index>. */
static int free_uid_index(struct etcd *e, unsigned *out, struct trl_error *err)
{
	json_t *kvs = NULL, *kv;
	unsigned char used[CLUSTER_UID_MAX + 1] = { 0 };
	size_t i;
	int64_t rev;
	int r;

	if ((r = etcd_range(e, CLUSTER_UID_PREFIX, &kvs, &rev, err)) < 0)
		return r;
	json_array_foreach(kvs, i, kv) {
		const char *k = json_string_value(json_object_get(kv, "key"));
		unsigned long v = k ? strtoul(k + strlen(CLUSTER_UID_PREFIX), NULL, 10) : 0;

		if (v <= CLUSTER_UID_MAX)
			used[v] = 1;
	}
	json_decref(kvs);
	for (unsigned v = 1; v <= CLUSTER_UID_MAX; v++)
		if (!used[v]) {
			*out = v;
			return 0;
		}
	return trl_error_set(err, TRL_ELIMIT, "the cluster's uid ranges are used up (%u slices)", CLUSTER_UID_MAX);
}

int cluster_keys_pick(json_t *used, size_t n, uint32_t *out, struct trl_error *err)
{
	_cleanup_free_ unsigned char *taken = calloc(TRL_LINK_KEY_MAX + 1, 1);
	size_t i, free_keys = TRL_LINK_KEY_MAX;
	json_t *v;

	if (!taken)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	json_array_foreach(used, i, v) {
		json_int_t k = json_integer_value(v);

		if (k >= 1 && k <= TRL_LINK_KEY_MAX && !taken[k]) {
			taken[k] = 1;
			free_keys--;
		}
	}
	if (n > free_keys)
		return trl_error_set(err, TRL_ELIMIT, "link keys are used up: %zu wanted, %zu of %u free", n, free_keys,
				     TRL_LINK_KEY_MAX);
	for (i = 0; i < n; i++) {
		uint32_t r = 0, k;

		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			return trl_error_errno(err, TRL_EFAILED, errno, "getrandom");
		/* From a random start, the next free key: uniform enough while keys are sparse, and always ends. */
		k = 1 + r % TRL_LINK_KEY_MAX;
		while (taken[k])
			k = k == TRL_LINK_KEY_MAX ? 1 : k + 1;
		taken[k] = 1;
		out[i] = k;
	}
	return 0;
}

void cluster_keys_of_node(json_t *used, json_t *info)
{
	json_t *keys = json_object_get(info, "keys"), *v;
	size_t i;

	if (json_is_array(keys)) {
		json_array_foreach(keys, i, v)
			json_array_append(used, v);
		return;
	}
	for (json_int_t k = 1; k <= json_integer_value(json_object_get(info, "max_key")) && k <= TRL_LINK_KEY_MAX; k++)
		json_array_append_new(used, json_integer(k));
}

/* Every link key the cluster's slices hold (their desired state), added to @used. */
int cluster_keys_held(struct etcd *e, json_t *used, struct trl_error *err)
{
	json_t *kvs = NULL, *kv;
	size_t i;
	int r;

	if ((r = etcd_range(e, CLUSTER_SLICES, &kvs, NULL, err)) < 0)
		return r;
	json_array_foreach(kvs, i, kv) {
		json_t *d = cluster_kv_json(kv), *v;
		const char *name;

		json_object_foreach(json_object_get(json_object_get(d, "placement"), "keys"), name, v)
			json_array_append(used, v);
		json_decref(d);
	}
	json_decref(kvs);
	return 0;
}

/*
 * Write the slice's desired state with its uid range and link keys, in one
 * transaction that also bumps alloc/next-key: two creates that drew keys at
 * the same time compare that counter, so one of them draws again (0).
 */
static int claim(struct etcd *e, const char *skey, json_t *desired, const struct trl_slice *s, json_t *node_keys,
		 int64_t *rev, struct trl_error *err)
{
	json_t *ctr = NULL, *resp = NULL, *placement, *keys, *used;
	_cleanup_free_ uint32_t *picked = NULL;
	uint64_t next = 1;
	char *text = NULL, num[32], ukey[96];
	int64_t ctr_mod = 0;
	size_t n = s->n_links;
	unsigned uid_index = 0;
	int r, have_ctr = 0;

	/* The slice's uid range, the same on every node, taken in the same transaction. */
	if ((r = free_uid_index(e, &uid_index, err)) < 0)
		return r;
	snprintf(ukey, sizeof(ukey), CLUSTER_UID_PREFIX "%u", uid_index);
	if ((r = etcd_get(e, CLUSTER_NEXT_KEY, &ctr, err)) < 0)
		return r;
	if (ctr) {
		next = strtoull(json_string_value(json_object_get(ctr, "value")) ?: "1", NULL, 10);
		ctr_mod = json_integer_value(json_object_get(ctr, "mod_revision"));
		have_ctr = 1;
		json_decref(ctr);
	}
	/* Keys no node uses (slices it had before it joined, too) and no slice of the cluster holds. */
	used = json_deep_copy(node_keys);
	picked = calloc(n + 1, sizeof(*picked));
	if (!used || !picked) {
		json_decref(used);
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	}
	if ((r = cluster_keys_held(e, used, err)) < 0 || (r = cluster_keys_pick(used, n, picked, err)) < 0) {
		json_decref(used);
		if (r == -TRL_ELIMIT)
			trl_error_prefix(err, "the cluster's");
		return r;
	}
	json_decref(used);
	placement = json_object_get(desired, "placement");
	json_object_set_new(placement, "uid_index", json_integer(uid_index));
	keys = json_object_get(placement, "keys");
	json_object_clear(keys);
	for (size_t l = 0; l < n; l++)
		json_object_set_new(keys, s->links[l].name, json_integer((json_int_t)picked[l]));
	text = json_dumps(desired, JSON_COMPACT);
	if (!text)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	snprintf(num, sizeof(num), "%llu", (unsigned long long)(next + 1));
	r = etcd_txn(e,
		     json_pack("[o, o, o]", have_ctr ? etcd_cmp_mod(CLUSTER_NEXT_KEY, ctr_mod) : etcd_cmp_create(CLUSTER_NEXT_KEY, 0),
			       etcd_cmp_create(skey, 0), etcd_cmp_create(ukey, 0)),
		     json_pack("[o, o, o]", etcd_op_put(CLUSTER_NEXT_KEY, num, 0), etcd_op_put(skey, text, 0),
			       etcd_op_put(ukey, skey + strlen(CLUSTER_SLICES), 0)),
		     json_pack("[o]", etcd_op_get(skey)), &resp, err);
	free(text);
	if (r < 0)
		return r;
	if (r == 1) {
		json_t *hdr = json_object_get(resp, "header");
		json_t *rv = json_object_get(hdr, "revision");

		*rev = json_is_string(rv) ? strtoll(json_string_value(rv), NULL, 10) : json_integer_value(rv);
		json_decref(resp);
		return 1;
	}
	/* Which comparison failed: the name is taken, or another create took the counter. */
	{
		json_t *rr = json_object_get(json_array_get(json_object_get(resp, "responses"), 0), "response_range");

		if (json_array_size(json_object_get(rr, "kvs")) > 0) {
			json_decref(resp);
			return trl_error_set(err, TRL_EEXIST, "slice '%s' already exists in the cluster",
					     skey + strlen(CLUSTER_SLICES));
		}
	}
	json_decref(resp);
	return 0;
}

struct wait_ctx {
	int64_t rev;
	int64_t mod;		/* an apply: the reports about this mod revision (0: any) */
	json_t *want;		/* node -> {"state","message","code"} */
	double deadline;
	cluster_progress_fn progress;
	void *pctx;
	char failed[64];	/* the first node that failed */
	struct etcd *probe;	/* beside the watch: the nodes' liveness (NULL: not checked) */
	double next_probe;
	char down[64];		/* the first node it needs that went down */
};

#define CLUSTER_PROBE_S 1.0	/* how often a create waiting for the nodes checks they are up */

/* A node the create waits for is down (its lease expired): it will not report. */
static int wait_probe(struct wait_ctx *w)
{
	json_t *kvs = NULL, *st, *kv;
	const char *node;
	size_t i;

	if (!w->probe || now_s() < w->next_probe)
		return 0;
	w->next_probe = now_s() + CLUSTER_PROBE_S;
	if (etcd_range(w->probe, CLUSTER_NODES, &kvs, NULL, NULL) < 0)
		return 0;	/* etcd away: that says nothing about the nodes */
	json_object_foreach(w->want, node, st) {
		int up = 0;

		json_array_foreach(kvs, i, kv)
			if (!strcmp(cluster_kv_base(kv), node))
				up = 1;
		if (!up) {
			snprintf(w->down, sizeof(w->down), "%s", node);
			progress_to(w->progress, w->pctx, node, "down (its lease expired)");
			break;
		}
	}
	json_decref(kvs);
	return w->down[0] != 0;
}

static int status_cb(void *ctx, json_t *events, int64_t rev, struct trl_error *err)
{
	struct wait_ctx *w = ctx;
	json_t *ev, *st;
	const char *node;
	size_t i;
	int ready = 0;

	if (!events) {
		if (wait_probe(w))
			return 1;
		return now_s() > w->deadline ? trl_error_set(err, TRL_EFAILED, "timed out waiting for the nodes") : 0;
	}
	json_array_foreach(events, i, ev) {
		json_t *kv = json_object_get(ev, "kv"), *v, *cur;
		const char *state, *msg;

		if (strcmp(json_string_value(json_object_get(ev, "type")) ?: "", "put"))
			continue;
		node = cluster_kv_base(kv);
		cur = json_object_get(w->want, node);
		v = cluster_kv_json(kv);
		if (!cur || !json_is_object(v) || json_integer_value(json_object_get(v, "rev")) != w->rev ||
		    (w->mod && json_integer_value(json_object_get(v, "mod")) != w->mod)) {
			json_decref(v);
			continue;
		}
		state = json_string_value(json_object_get(v, "state")) ?: "?";
		msg = json_string_value(json_object_get(v, "message")) ?: "";
		/* The node's steps since its last report, then the report (a progress report's message is its last step). */
		{
			json_t *step;
			size_t k, n = json_array_size(json_object_get(v, "steps"));

			json_array_foreach(json_object_get(v, "steps"), k, step)
				if (strcmp(state, "progress") || k + 1 < n)
					progress_to(w->progress, w->pctx, node, "%s", json_string_value(step) ?: "");
		}
		progress_to(w->progress, w->pctx, node, "%s%s%s", state, *msg ? ": " : "", msg);
		json_object_update(cur, v);
		if (!strcmp(state, "failed") && !w->failed[0])
			snprintf(w->failed, sizeof(w->failed), "%s", node);
		json_decref(v);
	}
	if (w->failed[0] || wait_probe(w))
		return 1;
	json_object_foreach(w->want, node, st)
		ready += !strcmp(json_string_value(json_object_get(st, "state")) ?: "", "ready");
	return ready == (int)json_object_size(w->want);
}

int cluster_status_wait(struct etcd *e, const char *name, int64_t rev, int64_t mod, json_t *want, int timeout_s,
			cluster_progress_fn progress, void *ctx, char failed[64], struct trl_error *err)
{
	_cleanup_free_ char *sp = cluster_status_prefix(name);
	struct wait_ctx w = { .rev = rev, .mod = mod, .want = want, .deadline = now_s() + timeout_s,
			      .progress = progress, .pctx = ctx };
	int r;

	if (!sp)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	while ((r = etcd_watch(e, sp, mod ? mod : rev, status_cb, &w, err)) == -TRL_EUNAVAIL && !w.failed[0] &&
	       now_s() < w.deadline) {
		progress_to(progress, ctx, NULL, "%s: watching again", err->msg);
		usleep(1000 * 1000);
	}
	snprintf(failed, 64, "%s", w.failed);
	if (w.failed[0])
		return 0;
	return r < 0 ? r : 0;
}

/* Poll until no live node has a report about revision @rev of the slice (that did not fail); then remove the reports. */
static int wait_withdrawn(struct etcd *e, const char *name, int64_t rev, int timeout_s, cluster_progress_fn progress,
			  void *ctx, struct trl_error *err)
{
	_cleanup_free_ char *sp = cluster_status_prefix(name);
	double deadline = now_s() + timeout_s;
	int reported = 0;

	for (;;) {
		json_t *kvs = NULL, *live = NULL, *kv;
		size_t i;
		int left = 0, r;

		if ((r = etcd_range(e, sp, &kvs, NULL, err)) < 0 || (r = cluster_live_nodes(e, &live, err)) < 0) {
			json_decref(kvs);
			return r;
		}
		json_array_foreach(kvs, i, kv) {
			json_t *v = cluster_kv_json(kv);

			/* A failed node has nothing to tear down; a node that is down cannot answer;
			 * a report about a newer slice of the same name is not ours. */
			if (json_integer_value(json_object_get(v, "rev")) == rev && json_object_get(live, cluster_kv_base(kv)) &&
			    strcmp(json_string_value(json_object_get(v, "state")) ?: "", "failed"))
				left++;
			json_decref(v);
		}
		if (left != reported && progress)
			progress_to(progress, ctx, NULL, "%d node(s) still removing slice '%s'", left, name);
		reported = left;
		if (!left) {
			/* Reports about this revision that are left (failed, or from nodes that are down). */
			json_array_foreach(kvs, i, kv) {
				json_t *v = cluster_kv_json(kv);

				if (json_integer_value(json_object_get(v, "rev")) == rev)
					etcd_txn(e, json_pack("[o]", etcd_cmp_mod(json_string_value(json_object_get(kv, "key")),
										 json_integer_value(json_object_get(kv, "mod_revision")))),
						 json_pack("[o]", etcd_op_delete(json_string_value(json_object_get(kv, "key")), 0)),
						 NULL, NULL, NULL);
				json_decref(v);
			}
			json_decref(kvs);
			json_decref(live);
			break;
		}
		json_decref(kvs);
		json_decref(live);
		if (now_s() > deadline)
			return trl_error_set(err, TRL_EFAILED, "slice '%s': %d node(s) did not remove it within %d s",
					     name, left, timeout_s);
		usleep(200 * 1000);
	}
	return 0;
}

/* A sliver router's name: "<router>-<node>".  -1 if it is not a valid name (too long). */
static int sliver_name(char *buf, size_t len, const char *router, const char *node)
{
	int n = snprintf(buf, len, "%s-%s", router, node);

	return n < 0 || (size_t)n >= len || n > TRL_NAME_MAX || names_problem(NAMES_NAME, buf) ? -1 : 0;
}

static void routers_free(struct trl_router *rs, size_t n)
{
	for (size_t i = 0; rs && i < n; i++) {
		free(rs[i].config);
		free(rs[i].config_file);
	}
	free(rs);
}

/*
 * placement: each-node: replace the spec's routers (the template sliver) by
 * one copy per node of @nodes (a JSON array of names), router R on node N
 * named "R-N", with the links between them copied alike.
 */
static int each_node_expand(struct trl_slice *s, json_t *nodes, const char *filename, struct trl_error *err)
{
	size_t nn = json_array_size(nodes), nr = s->n_routers, nl = s->n_links;
	struct trl_router *rs = NULL;
	struct trl_link *ls = NULL;
	int r = 0;

	if (!nn)
		return trl_error_set(err, TRL_EUNAVAIL, "%s: placement: each-node, but no node is up", filename);
	if (nr * nn > TRL_MAX_ROUTERS || nl * nn > TRL_MAX_LINKS)
		return trl_error_set(err, TRL_ELIMIT,
				     "%s: placement: each-node: %zu routers and %zu links on %zu nodes is more than a slice may have (%d routers, %d links)",
				     filename, nr, nl, nn, TRL_MAX_ROUTERS, TRL_MAX_LINKS);
	rs = calloc(nr * nn, sizeof(*rs));
	ls = nl ? calloc(nl * nn, sizeof(*ls)) : NULL;
	if (!rs || (nl && !ls)) {
		r = trl_error_set(err, TRL_EFAILED, "out of memory");
		goto fail;
	}
	for (size_t k = 0; k < nn; k++) {
		const char *node = json_string_value(json_array_get(nodes, k)) ?: "";

		for (size_t i = 0; i < nr; i++) {
			struct trl_router *to = &rs[k * nr + i];
			const struct trl_router *from = &s->routers[i];

			*to = *from;
			to->config = from->config ? strdup(from->config) : NULL;
			to->config_file = from->config_file ? strdup(from->config_file) : NULL;
			if ((from->config && !to->config) || (from->config_file && !to->config_file)) {
				r = trl_error_set(err, TRL_EFAILED, "out of memory");
				goto fail;
			}
			if (sliver_name(to->name, sizeof(to->name), from->name, node) < 0) {
				r = trl_error_set(err, TRL_EINVALID,
						  "%s:%d:%d: routers.%s: placement: each-node names it '%s-%s' on node '%s', longer than %d characters: use a shorter router name",
						  filename, from->mark.line, from->mark.col, from->name, from->name, node,
						  node, TRL_NAME_MAX);
				goto fail;
			}
			snprintf(to->node, sizeof(to->node), "%s", node);
		}
		for (size_t l = 0; l < nl; l++) {
			struct trl_link *to = &ls[k * nl + l];

			*to = s->links[l];
			for (int e = 0; e < 2; e++) {
				char veth[64];

				sliver_name(to->ep[e].router, sizeof(to->ep[e].router), s->links[l].ep[e].router, node);
				if (names_host_veth(veth, sizeof(veth), s->name, to->ep[e].router, to->ep[e].ifname) >
				    NAMES_IFNAMSIZ - 1) {
					r = trl_error_set(err, TRL_EINVALID,
							  "%s:%d:%d: links[%zu].endpoints[%d]: placement: each-node: host interface name '%s' on node '%s' would be %zu characters; IFNAMSIZ allows %d (shorten the slice, router or interface name)",
							  filename, to->mark.line, to->mark.col, l, e, veth, node, strlen(veth),
							  NAMES_IFNAMSIZ - 1);
					goto fail;
				}
			}
			snprintf(to->name, sizeof(to->name), "%s:%s-%s:%s", to->ep[0].router, to->ep[0].ifname,
				 to->ep[1].router, to->ep[1].ifname);
		}
	}
	routers_free(s->routers, nr);
	free(s->links);
	s->routers = rs;
	s->n_routers = nr * nn;
	s->links = ls;
	s->n_links = nl * nn;
	return 0;
fail:
	routers_free(rs, nr * nn);
	free(ls);
	return r;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The live nodes' names, sorted (a sliver's routers are named and placed alike whoever deploys it). */
static json_t *sorted_names(json_t *live)
{
	size_t n = json_object_size(live), i = 0;
	const char **v = calloc(n ? n : 1, sizeof(*v));
	json_t *out = json_array(), *info;
	const char *node;

	if (!v || !out) {
		free(v);
		json_decref(out);
		return NULL;
	}
	json_object_foreach(live, node, info)
		v[i++] = node;
	qsort(v, n, sizeof(*v), name_cmp);
	for (i = 0; i < n; i++)
		json_array_append_new(out, json_string(v[i]));
	free(v);
	return out;
}

/* A node's free CPU: online CPUs less its load average less the CPU of the routers this create put there. */
static double free_cpu(json_t *info)
{
	json_t *cpus = json_object_get(info, "cpus");

	if (!json_is_number(cpus))
		return HUGE_VAL;	/* a node that does not say: never full */
	return json_number_value(cpus) - json_number_value(json_object_get(info, "load")) -
	       json_number_value(json_object_get(info, "placed_cpu"));
}

/* What a node registers as free under @key (bw_free: what a new slice could
 * still be guaranteed; disk_free: what its state directory can still hold),
 * less what this create placed there (@placed).  A node that does not say
 * (no substrate, an older version) is never full. */
static double free_of(json_t *info, const char *key, const char *placed)
{
	json_t *v = json_object_get(info, key);

	if (!json_is_integer(v))
		return HUGE_VAL;
	return (double)json_integer_value(v) - json_number_value(json_object_get(info, placed));
}

/* What a router's rootfs takes on its node: its limits.disk in full, else what admission counts (1M). */
static uint64_t router_disk(const struct trl_slice *s, const struct trl_router *r)
{
	uint64_t disk = trl_router_limits(s, r).disk;

	return disk ? disk : 1ULL << 20;
}

/*
 * What a router needs guaranteed on its node's substrate at most: the rates
 * of its links (all of them cross-node if its neighbours go elsewhere).
 */
static uint64_t router_bw(const struct trl_slice *s, const struct trl_router *r)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < s->n_links; i++)
		for (int j = 0; j < 2; j++)
			if (!strcmp(s->links[i].ep[j].router, r->name))
				sum += s->links[i].shape.rate;
	return sum;
}

/*
 * What placing a router on the node with @info takes from its substrate:
 * with a slice bandwidth:, the slice's class once per node (the first of its
 * routers there; its links' classes sit inside it), else the router's links'
 * rates (@links_bw).
 */
static uint64_t need_bw(const struct trl_slice *s, json_t *info, uint64_t links_bw)
{
	if (s->bw_rate)
		return json_is_true(json_object_get(info, "placed_slice")) ? 0 : s->bw_rate;
	return links_bw;
}

static void place(json_t *info, double cpu, uint64_t bw, uint64_t disk)
{
	json_object_set_new(info, "placed_slice", json_true());
	json_object_set_new(info, "placed", json_integer(json_integer_value(json_object_get(info, "placed")) + 1));
	json_object_set_new(info, "placed_cpu", json_real(json_number_value(json_object_get(info, "placed_cpu")) + cpu));
	json_object_set_new(info, "placed_bw", json_real(json_number_value(json_object_get(info, "placed_bw")) + (double)bw));
	json_object_set_new(info, "placed_disk",
			    json_real(json_number_value(json_object_get(info, "placed_disk")) + (double)disk));
}

enum short_of { SHORT_NONE, SHORT_BW, SHORT_DISK };

/*
 * The node for a router that the cluster places (@cpu: its guaranteed CPU,
 * @bw: router_bw, @disk: router_disk), from the live nodes in name order
 * (@order), counting the routers each runs and the ones placed so far.  Only
 * nodes with @bw free bandwidth and @disk free disk qualify (the node's
 * admission would refuse the others).  Spread (the default): fewest routers,
 * then most free CPU, then most free bandwidth.  Pack: most routers among the
 * nodes with @cpu free CPU, then least free CPU, then least free bandwidth.
 * Ties go to the first name.  NULL if none fits; then *@short_of tells
 * whether bandwidth or disk was what no node had.
 */
static const char *pick_node(const struct trl_slice *s, json_t *live, json_t *order, int mode, double cpu,
			     uint64_t links_bw, uint64_t disk, enum short_of *short_of)
{
	const char *best = NULL;
	json_int_t best_n = 0;
	double best_cpu = 0, best_bw = 0;
	int cpu_fits = 0, disk_fits = 0;
	size_t i;
	json_t *v;

	json_array_foreach(order, i, v) {
		const char *node = json_string_value(v);
		json_t *info = json_object_get(live, node);
		json_int_t n = json_integer_value(json_object_get(info, "routers")) +
			       json_integer_value(json_object_get(info, "placed"));
		double fc = free_cpu(info), fb = free_of(info, "bw_free", "placed_bw");
		uint64_t bw = need_bw(s, info, links_bw);
		int better;

		if (!json_is_string(json_object_get(info, "address")) && json_object_size(live) > 1)
			continue;	/* no substrate: cannot take part in cross-node links */
		if (mode == TRL_PLACE_PACK && fc < cpu)
			continue;
		cpu_fits = 1;
		if (free_of(info, "disk_free", "placed_disk") < (double)disk)
			continue;
		disk_fits = 1;
		if (fb < (double)bw)
			continue;
		if (mode == TRL_PLACE_PACK)
			better = !best || n > best_n || (n == best_n && (fc < best_cpu || (fc == best_cpu && fb < best_bw)));
		else
			better = !best || n < best_n || (n == best_n && (fc > best_cpu || (fc == best_cpu && fb > best_bw)));
		if (better) {
			best = node;
			best_n = n;
			best_cpu = fc;
			best_bw = fb;
		}
	}
	*short_of = best || !cpu_fits ? SHORT_NONE : !disk_fits ? SHORT_DISK : SHORT_BW;
	return best;
}

/*
 * Admission against what the nodes registered, before anything is written:
 * on each node the slice promises its limits.cpu / limits.memory (or the sum
 * over its routers there, as the node's own admission counts), which must fit
 * in what the node can still promise (cpu_free, mem_free; a node of an older
 * version that registers only "cpus" is checked against those).  The node
 * checks again when it realizes its part (its load may have changed).
 */
static int admission_precheck(const struct trl_slice *s, json_t *live, const char *filename, struct trl_error *err)
{
	const char *node;
	json_t *info;

	json_object_foreach(live, node, info) {
		double cpu = 0, cpu_free;
		uint64_t mem = 0;
		const char *first = NULL, *cpu_router = NULL, *mem_router = NULL;
		json_t *cf = json_object_get(info, "cpu_free"), *mf = json_object_get(info, "mem_free");

		for (size_t i = 0; i < s->n_routers; i++) {
			struct trl_limits l;

			if (strcmp(s->routers[i].node, node))
				continue;
			l = trl_router_limits(s, &s->routers[i]);
			first = first ? first : s->routers[i].name;
			if (l.cpu > 0 && !cpu_router)
				cpu_router = s->routers[i].name;
			if (l.memory && !mem_router)
				mem_router = s->routers[i].name;
			cpu += l.cpu;
			mem += l.memory;
		}
		if (!first)
			continue;
		if (s->limits.cpu > 0)
			cpu = s->limits.cpu;
		if (s->limits.memory)
			mem = s->limits.memory;
		cpu_free = json_is_number(cf) ? json_number_value(cf) :
			   json_is_number(json_object_get(info, "cpus")) ? json_number_value(json_object_get(info, "cpus")) :
									  HUGE_VAL;
		if (cpu > 0 && cpu > cpu_free + 1e-6) {
			char field[80];

			if (s->limits.cpu > 0)
				snprintf(field, sizeof(field), "limits.cpu");
			else
				snprintf(field, sizeof(field), "routers.%s.limits.cpu", cpu_router ? cpu_router : first);
			return trl_error_set(err, TRL_ELIMIT,
					     "%s: %s: the slice asks %g cores on node '%s', which registered %g free (its %g online CPUs less what its slices promise): nothing was written",
					     filename, field, cpu, node, cpu_free,
					     json_number_value(json_object_get(info, "cpus")));
		}
		if (mem && json_is_integer(mf) && mem > (uint64_t)json_integer_value(mf)) {
			char a[32], b[32], field[80];

			if (s->limits.memory)
				snprintf(field, sizeof(field), "limits.memory");
			else
				snprintf(field, sizeof(field), "routers.%s.limits.memory", mem_router ? mem_router : first);
			units_size_format(mem, a, sizeof(a));
			units_size_format((uint64_t)json_integer_value(mf), b, sizeof(b));
			return trl_error_set(err, TRL_ELIMIT,
					     "%s: %s: the slice asks %s of memory on node '%s', which registered %s free (MemTotal less the host's headroom less what its slices promise): nothing was written",
					     filename, field, a, node, b);
		}
	}
	return 0;
}

int cluster_slice_create(struct etcd *e, const char *spec, size_t spec_len, const char *filename, json_t *files,
			 unsigned owner_uid, const char *default_node, int timeout_s, cluster_progress_fn progress,
			 void *ctx, json_t **result, struct trl_error *err)
{
	struct trl_slice *s = NULL;
	json_t *live = NULL, *desired = NULL, *pnodes, *used, *prouters, *order = NULL;
	struct wait_ctx w = { 0 };
	_cleanup_free_ char *skey = NULL, *sp = NULL;
	json_t *node_keys = NULL;
	int64_t rev = 0;
	const char *node;
	json_t *info;
	int r;

	*result = NULL;
	if ((r = spec_parse(spec, spec_len, filename ? filename : "spec", files_resolver, files, &s, err)) < 0)
		return r;
	if ((r = cluster_live_nodes(e, &live, err)) < 0)
		goto out;
	pnodes = json_object();
	used = json_array();
	prouters = json_object();
	desired = json_pack("{s:s%, s:s, s:O, s:I, s:o, s:{s:o, s:{}, s:o}}", "spec", spec, spec_len, "filename",
			    filename ? filename : "spec", "files", files ? files : json_null(), "owner_uid",
			    (json_int_t)owner_uid, "nodes", used, "placement", "nodes", pnodes, "keys", "routers",
			    prouters);
	if (!desired) {
		r = trl_error_set(err, TRL_EFAILED, "out of memory");
		goto out;
	}
	if (s->placement == TRL_PLACE_EACH_NODE) {
		json_t *each = sorted_names(live);

		if (!each) {
			r = trl_error_set(err, TRL_EFAILED, "out of memory");
			goto out;
		}
		json_object_set_new(json_object_get(desired, "placement"), "each-node", each);
		if ((r = each_node_expand(s, each, filename ? filename : "spec", err)) < 0)
			goto out;
	}
	/* Routers placed by name count against their node's share when spreading the others. */
	for (size_t i = 0; i < s->n_routers; i++) {
		const char *nd = s->routers[i].node[0] ? s->routers[i].node : default_node;

		if (!s->routers[i].node[0] && (s->placement == TRL_PLACE_SPREAD || s->placement == TRL_PLACE_PACK))
			continue;	/* placed below */
		info = nd ? json_object_get(live, nd) : NULL;
		if (info)
			place(info, trl_router_limits(s, &s->routers[i]).cpu,
			      need_bw(s, info, router_bw(s, &s->routers[i])), router_disk(s, &s->routers[i]));
	}
	order = sorted_names(live);
	if (!order) {
		r = trl_error_set(err, TRL_EFAILED, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < s->n_routers; i++) {
		const char *nd = s->routers[i].node;
		json_t *addr;

		if (!strcmp(nd, CLUSTER_NODE_ANY) ||
		    (!nd[0] && (s->placement == TRL_PLACE_SPREAD || s->placement == TRL_PLACE_PACK))) {
			double need = trl_router_limits(s, &s->routers[i]).cpu;
			uint64_t bw = router_bw(s, &s->routers[i]), disk = router_disk(s, &s->routers[i]);
			enum short_of short_of = SHORT_NONE;
			const char *best = pick_node(s, live, order, s->placement, need, bw, disk, &short_of);

			if (!best && short_of == SHORT_DISK) {
				char size[32];

				units_size_format(disk, size, sizeof(size));
				r = trl_error_set(err, TRL_ELIMIT,
						  "%s: routers.%s: placement: no node has %s free disk for its rootfs (free space of the node's state directory less 64M kept free less the routers placed so far)",
						  filename, s->routers[i].name, size);
				goto out;
			}
			if (!best && short_of == SHORT_BW) {
				char rate[32];

				units_rate_format(s->bw_rate ? s->bw_rate : bw, rate, sizeof(rate));
				r = trl_error_set(err, TRL_ELIMIT,
						  "%s: routers.%s: placement: no node has %s free bandwidth for %s (substrate capacity less the host's share less the slices' guaranteed rates less the routers placed so far)",
						  filename, s->routers[i].name, rate,
						  s->bw_rate ? "the slice's bandwidth" : "its links");
				goto out;
			}
			if (!best && s->placement == TRL_PLACE_PACK && json_object_size(live)) {
				r = trl_error_set(err, TRL_ELIMIT,
						  "%s: routers.%s: placement: pack: no node has %g free CPU for it (online CPUs less load average less the routers placed so far)",
						  filename, s->routers[i].name, need);
				goto out;
			}
			if (!best) {
				r = trl_error_set(err, TRL_EUNAVAIL, "%s: routers.%s.node: 'any', but no node is up",
						  filename, s->routers[i].name);
				goto out;
			}
			place(json_object_get(live, best), need, need_bw(s, json_object_get(live, best), bw), disk);
			json_object_set_new(prouters, s->routers[i].name, json_string(best));
			snprintf(s->routers[i].node, sizeof(s->routers[i].node), "%s", best);
			nd = s->routers[i].node;
		}
		if (!nd[0] && default_node) {
			json_object_set_new(prouters, s->routers[i].name, json_string(default_node));
			snprintf(s->routers[i].node, sizeof(s->routers[i].node), "%s", default_node);
		}
		if (!nd[0]) {
			r = trl_error_set(err, TRL_EINVALID,
					  "%s: routers.%s: with trellis --cluster every router needs 'node:' (a node name or 'any')",
					  filename, s->routers[i].name);
			goto out;
		}
		info = json_object_get(live, nd);
		if (!info) {
			r = trl_error_set(err, TRL_EUNAVAIL, "%s: routers.%s.node: node '%s' is not up in the cluster",
					  filename, s->routers[i].name, nd);
			goto out;
		}
		if (json_object_get(pnodes, nd))
			continue;
		addr = json_object_get(info, "address");
		json_object_set_new(pnodes, nd, json_is_string(addr) ? json_pack("{s:O}", "address", addr) : json_object());
		json_array_append_new(used, json_string(nd));
	}
	if ((r = admission_precheck(s, live, filename ? filename : "spec", err)) < 0)
		goto out;
	/* Keys every node already uses (slices it had before it joined): none of them is drawn. */
	node_keys = json_array();
	json_object_foreach(live, node, info)
		cluster_keys_of_node(node_keys, info);
	skey = cluster_slice_key(s->name);
	sp = cluster_status_prefix(s->name);
	if (!skey || !sp) {
		r = trl_error_set(err, TRL_EFAILED, "out of memory");
		goto out;
	}
	for (int tries = 0;; tries++) {
		r = claim(e, skey, desired, s, node_keys, &rev, err);
		if (r != 0)
			break;
		if (tries >= 50) {
			r = trl_error_set(err, TRL_EFAILED, "slice '%s': too many concurrent creates, try again", s->name);
			break;
		}
		usleep((useconds_t)(1000 * (1 + rand() % 20)));
	}
	if (r < 0)
		goto out;
	if (s->n_links)
		progress_to(progress, ctx, NULL, "slice '%s' written (revision %lld, %zu link keys drawn at random): %zu node(s) realizing",
			    s->name, (long long)rev, s->n_links, json_array_size(used));
	else
		progress_to(progress, ctx, NULL, "slice '%s' written (revision %lld): %zu node(s) realizing", s->name,
			    (long long)rev, json_array_size(used));

	w.rev = rev;
	w.want = json_object();
	w.deadline = now_s() + timeout_s;
	w.progress = progress;
	w.pctx = ctx;
	if (etcd_dup(e, &w.probe, &(struct trl_error){ 0 }) < 0)
		w.probe = NULL;	/* then only the time limit ends a wait for a dead node */
	{
		size_t i;
		json_t *v;

		json_array_foreach(used, i, v)
			json_object_set_new(w.want, json_string_value(v), json_pack("{s:s}", "state", "waiting"));
	}
	/* etcd away for a moment: watch again from the same revision (reports are replayed). */
	while ((r = etcd_watch(e, sp, rev, status_cb, &w, err)) == -TRL_EUNAVAIL && !w.failed[0] && !w.down[0] &&
	       now_s() < w.deadline) {
		progress_to(progress, ctx, NULL, "%s: watching again", err->msg);
		usleep(1000 * 1000);
	}
	if (r < 0 && !w.failed[0] && !w.down[0]) {
		trl_error_prefix(err, "slice '%s'", s->name);
		goto rollback;
	}
	if (w.down[0] && !w.failed[0]) {
		r = trl_error_set(err, TRL_EUNAVAIL,
				  "node '%s' went down (its lease expired) before its part of slice '%s' was ready",
				  w.down, s->name);
		goto rollback;
	}
	if (w.failed[0]) {
		json_t *st = json_object_get(w.want, w.failed);
		int code = trl_error_code_parse(json_string_value(json_object_get(st, "code")) ?: "failed");

		r = trl_error_set(err, code > 0 ? code : TRL_EFAILED, "node '%s': %s", w.failed,
				  json_string_value(json_object_get(st, "message")) ?: "failed");
		goto rollback;
	}
	*result = json_pack("{s:s, s:I, s:O}", "name", s->name, "revision", (json_int_t)rev, "nodes", w.want);
	r = 0;
	goto out;

rollback:
	{
		struct trl_error e2 = { 0 };
		char step[64];

		snprintf(step, sizeof(step), "%s", err->step);
		progress_to(progress, ctx, NULL, "rolling back slice '%s' on every node", s->name);
		if (etcd_txn(e, json_pack("[o]", etcd_cmp_create(skey, rev)),
			     json_pack("[o, o, o]", etcd_op_delete(skey, 0), uid_release_op(desired), links_release_op(s->name)),
			     NULL, NULL, &e2) < 0 ||
		    wait_withdrawn(e, s->name, rev, timeout_s, progress, ctx, &e2) < 0)
			progress_to(progress, ctx, NULL, "rollback: %s", e2.msg);
		else
			progress_to(progress, ctx, NULL, "slice '%s' removed from every node", s->name);
		(void)step;
	}
out:
	etcd_close(w.probe);
	json_decref(w.want);
	json_decref(order);
	json_decref(node_keys);
	json_decref(live);
	json_decref(desired);
	trl_slice_free(s);
	return r;
}

void cluster_placement_apply(struct trl_slice *s, json_t *placement)
{
	json_t *routers = json_object_get(placement, "routers");
	json_t *each = json_object_get(placement, "each-node");

	/* The creator expanded it the same way with the same names (and checked them). */
	if (s->placement == TRL_PLACE_EACH_NODE && json_is_array(each))
		each_node_expand(s, each, "spec", &(struct trl_error){ 0 });

	for (size_t i = 0; routers && i < s->n_routers; i++) {
		json_t *nd = json_object_get(routers, s->routers[i].name);

		if (json_is_string(nd))
			snprintf(s->routers[i].node, sizeof(s->routers[i].node), "%s", json_string_value(nd));
	}
}

int cluster_slice_delete(struct etcd *e, const char *name, int timeout_s, cluster_progress_fn progress, void *ctx,
			 json_t **result, struct trl_error *err)
{
	_cleanup_free_ char *skey = cluster_slice_key(name);
	json_t *kv = NULL;
	int64_t rev;
	int r;

	*result = NULL;
	if (!skey)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	if ((r = etcd_get(e, skey, &kv, err)) < 0)
		return r;
	if (!kv)
		return trl_error_set(err, TRL_ENOTFOUND, "no slice '%s' in the cluster", name);
	rev = json_integer_value(json_object_get(kv, "create_revision"));
	{
		json_t *v = cluster_kv_json(kv);

		r = etcd_txn(e, json_pack("[o]", etcd_cmp_create(skey, rev)),
			     json_pack("[o, o, o]", etcd_op_delete(skey, 0), uid_release_op(v), links_release_op(name)), NULL,
			     NULL, err);
		json_decref(v);
	}
	json_decref(kv);
	if (r < 0)
		return r;
	if (r == 0)
		return trl_error_set(err, TRL_ENOTFOUND, "slice '%s' was deleted or replaced meanwhile", name);
	progress_to(progress, ctx, NULL, "slice '%s' deleted from the cluster: nodes tearing down", name);
	if ((r = wait_withdrawn(e, name, rev, timeout_s, progress, ctx, err)) < 0)
		return r;
	*result = json_pack("{s:s, s:b}", "name", name, "removed", 1);
	return 0;
}
