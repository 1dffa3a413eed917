// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * DOC: cluster mode: what the cluster says (nodes, slices' states)
 *
 * Read-mostly views over the keys of cluster.h, for the CLI with --cluster
 * and for a node serving a request: the nodes (list, and retiring one), the
 * slices with each node's state (a node that is down is "down" whatever it
 * reported last), one slice's state, and one slice described from its
 * desired state (for a node without a part of it, or a management host).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cluster.h"
#include "cluster-int.h"
#include "model.h"
#include "spec.h"
#include "util.h"

static int files_resolver(void *ctx, const char *name, char **out)
{
	json_t *v = json_object_get(ctx, name);

	if (!json_is_string(v))
		return -ENOENT;
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

int cluster_node_list(struct etcd *e, json_t **nodes, struct trl_error *err)
{
	json_t *live = NULL, *kvs = NULL, *kv;
	size_t i;
	int r;

	*nodes = NULL;
	if ((r = cluster_live_nodes(e, &live, err)) < 0)
		return r;
	if ((r = etcd_range(e, CLUSTER_MEMBERS, &kvs, NULL, err)) < 0) {
		json_decref(live);
		return r;
	}
	*nodes = json_array();
	json_array_foreach(kvs, i, kv) {
		const char *name = cluster_kv_base(kv);
		json_t *up = json_object_get(live, name);
		json_t *v = up ? json_deep_copy(up) : cluster_kv_json(kv);

		if (!json_is_object(v)) {
			json_decref(v);
			continue;
		}
		json_object_set_new(v, "state", json_string(up ? "up" : "down"));
		json_array_append_new(*nodes, v);
	}
	json_decref(kvs);
	json_decref(live);
	return 0;
}

/*
 * What the cluster says of a slice on each of its nodes: a node that is down
 * (its lease expired) is "down" whatever it last reported, one that is up
 * and has not reported about this revision "unknown".
 */
static void status_of_nodes(json_t *status, json_t *nodes, json_t *live)
{
	json_t *v;
	size_t i;

	json_array_foreach(nodes, i, v) {
		const char *node = json_string_value(v);

		if (!node)
			continue;
		if (!json_object_get(live, node))
			json_object_set_new(status, node, json_string("down"));
		else if (!json_object_get(status, node))
			json_object_set_new(status, node, json_string("unknown"));
	}
}

/* A slice's entry of the list: its desired state @kv, every report @sts (any slice), the live nodes. */
static json_t *slice_entry(json_t *kv, json_t *sts, json_t *live)
{
	const char *name = cluster_kv_base(kv);
	int64_t rev = json_integer_value(json_object_get(kv, "create_revision"));
	json_t *v = cluster_kv_json(kv), *status = json_object(), *st, *o;
	char pfx[128];
	size_t j;

	snprintf(pfx, sizeof(pfx), CLUSTER_STATUS "%s/", name);
	json_array_foreach(sts, j, st) {
		json_t *sv;

		if (strncmp(json_string_value(json_object_get(st, "key")) ?: "", pfx, strlen(pfx)))
			continue;
		sv = cluster_kv_json(st);
		if (json_integer_value(json_object_get(sv, "rev")) == rev)
			json_object_set(status, cluster_kv_base(st), json_object_get(sv, "state"));
		json_decref(sv);
	}
	status_of_nodes(status, json_object_get(v, "nodes"), live);
	o = json_pack("{s:s, s:O*, s:O*, s:I, s:o}", "name", name, "owner_uid", json_object_get(v, "owner_uid"), "nodes",
		      json_object_get(v, "nodes"), "revision", (json_int_t)rev, "status", status);
	json_decref(v);
	return o;
}

int cluster_slice_list(struct etcd *e, json_t **result, struct trl_error *err)
{
	json_t *kvs = NULL, *sts = NULL, *kv, *list = json_array(), *live = NULL;
	size_t i;
	int r;

	*result = NULL;
	if ((r = etcd_range(e, CLUSTER_SLICES, &kvs, NULL, err)) < 0 ||
	    (r = etcd_range(e, CLUSTER_STATUS, &sts, NULL, err)) < 0 || (r = cluster_live_nodes(e, &live, err)) < 0) {
		json_decref(kvs);
		json_decref(sts);
		json_decref(list);
		return r;
	}
	json_array_foreach(kvs, i, kv)
		json_array_append_new(list, slice_entry(kv, sts, live));
	json_decref(kvs);
	json_decref(sts);
	json_decref(live);
	*result = json_pack("{s:o}", "slices", list);
	return 0;
}

int cluster_slice_status(struct etcd *e, const char *name, json_t **result, struct trl_error *err)
{
	_cleanup_free_ char *skey = cluster_slice_key(name), *sp = cluster_status_prefix(name);
	json_t *kv = NULL, *sts = NULL, *live = NULL;
	int r;

	*result = NULL;
	if (!skey || !sp)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	if ((r = etcd_get(e, skey, &kv, err)) < 0)
		return r;
	if (!kv)
		return 0;
	if ((r = etcd_range(e, sp, &sts, NULL, err)) == 0 && (r = cluster_live_nodes(e, &live, err)) == 0)
		*result = slice_entry(kv, sts, live);
	json_decref(kv);
	json_decref(sts);
	json_decref(live);
	return r < 0 ? r : 0;
}

int cluster_node_remove(struct etcd *e, const char *name, int force, json_t **result, struct trl_error *err)
{
	char nk[192], mk[192], suffix[80];
	json_t *node = NULL, *member = NULL, *kvs = NULL, *kv, *users, *info;
	json_int_t routers;
	size_t i;
	int r, up, removed_reports = 0;

	*result = NULL;
	snprintf(nk, sizeof(nk), CLUSTER_NODES "%s", name);
	snprintf(mk, sizeof(mk), CLUSTER_MEMBERS "%s", name);
	if ((r = etcd_get(e, nk, &node, err)) < 0 || (r = etcd_get(e, mk, &member, err)) < 0 ||
	    (r = etcd_range(e, CLUSTER_SLICES, &kvs, NULL, err)) < 0)
		goto out;
	if (!node && !member) {
		r = trl_error_set(err, TRL_ENOTFOUND, "no node '%s' in the cluster", name);
		goto out;
	}
	up = node != NULL;
	/* The slices of the cluster that place routers on it. */
	users = json_array();
	json_array_foreach(kvs, i, kv) {
		json_t *v = cluster_kv_json(kv), *n;
		size_t j;

		json_array_foreach(json_object_get(v, "nodes"), j, n)
			if (!strcmp(json_string_value(n) ?: "", name))
				json_array_append_new(users, json_string(cluster_kv_base(kv)));
		json_decref(v);
	}
	info = cluster_kv_json(node ? node : member);
	routers = json_integer_value(json_object_get(info, "routers"));
	json_decref(info);
	if (!force && (json_array_size(users) || routers > 0)) {
		char list[256] = "";
		size_t n = 0;
		json_t *v;

		json_array_foreach(users, i, v)
			n += (size_t)snprintf(list + n, n < sizeof(list) ? sizeof(list) - n : 0, "%s'%s'", n ? ", " : "",
					      json_string_value(v));
		r = trl_error_set(err, TRL_EEXIST,
				  "node '%s' holds routers (%lld registered%s%s): delete them first, or --force (its slices then miss its part)",
				  name, (long long)routers, json_array_size(users) ? "; slices " : "", list);
		json_decref(users);
		goto out;
	}
	if (!force && up) {
		r = trl_error_set(err, TRL_EEXIST,
				  "node '%s' is up (its lease lives): stop its trellisd first, or --force (it registers again while its trellisd runs)",
				  name);
		json_decref(users);
		goto out;
	}
	if ((r = etcd_txn(e, NULL, json_pack("[o, o]", etcd_op_delete(nk, 0), etcd_op_delete(mk, 0)), NULL, NULL, err)) < 0) {
		json_decref(users);
		goto out;
	}
	/* Its reports about slices: the cluster's status no longer names it. */
	json_decref(kvs);
	kvs = NULL;
	snprintf(suffix, sizeof(suffix), "/%s", name);
	if (etcd_range(e, CLUSTER_STATUS, &kvs, NULL, NULL) == 0)
		json_array_foreach(kvs, i, kv) {
			const char *k = json_string_value(json_object_get(kv, "key")) ?: "";
			size_t kl = strlen(k), sl = strlen(suffix);

			if (kl > sl && !strcmp(k + kl - sl, suffix) && etcd_delete(e, k, 0, NULL) > 0)
				removed_reports++;
		}
	*result = json_pack("{s:s, s:b, s:s, s:o, s:I, s:i}", "name", name, "removed", 1, "was", up ? "up" : "down",
			    "slices", users, "routers", routers, "reports_removed", removed_reports);
	r = 0;
out:
	json_decref(node);
	json_decref(member);
	json_decref(kvs);
	return r;
}

int cluster_slice_describe(struct etcd *e, const char *name, json_t **result, struct trl_error *err)
{
	_cleanup_free_ char *skey = cluster_slice_key(name), *sp = cluster_status_prefix(name);
	json_t *kv = NULL, *sts = NULL, *live = NULL, *v = NULL, *entry = NULL, *status, *routers, *links, *st;
	struct trl_slice *s = NULL;
	const char *node, *state = "ready";
	int r;

	*result = NULL;
	if (!skey || !sp)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	if ((r = etcd_get(e, skey, &kv, err)) < 0)
		return r;
	if (!kv)
		return trl_error_set(err, TRL_ENOTFOUND, "no slice '%s' in the cluster", name);
	v = cluster_kv_json(kv);
	if ((r = etcd_range(e, sp, &sts, NULL, err)) < 0 || (r = cluster_live_nodes(e, &live, err)) < 0)
		goto out;
	if ((r = spec_parse(json_string_value(json_object_get(v, "spec")) ?: "",
			    json_string_length(json_object_get(v, "spec")),
			    json_string_value(json_object_get(v, "filename")) ?: "spec", files_resolver,
			    json_object_get(v, "files"), &s, err)) < 0) {
		trl_error_prefix(err, "the cluster's desired state of slice '%s'", name);
		goto out;
	}
	cluster_placement_apply(s, json_object_get(v, "placement"));
	entry = slice_entry(kv, sts, live);
	status = json_object_get(entry, "status");
	json_object_foreach(status, node, st) {
		const char *x = json_string_value(st) ?: "";

		if (!strcmp(x, "down") || !strcmp(x, "failed"))
			state = "degraded";
		else if (strcmp(x, "ready") && strcmp(state, "degraded"))
			state = "creating";
	}
	routers = json_array();
	for (size_t i = 0; i < s->n_routers; i++) {
		const char *at = s->routers[i].node;

		json_array_append_new(routers, json_pack("{s:s, s:s, s:s, s:s}", "name", s->routers[i].name, "node", at,
							 "template", s->routers[i].template_name, "state",
							 json_string_value(json_object_get(status, at)) ?: "unknown"));
	}
	links = json_array();
	for (size_t l = 0; l < s->n_links; l++) {
		const struct trl_link *lk = &s->links[l];
		const struct trl_router *a = trl_slice_router(s, lk->ep[0].router), *b = trl_slice_router(s, lk->ep[1].router);
		char ea[40], eb[40];

		snprintf(ea, sizeof(ea), "%s:%s", lk->ep[0].router, lk->ep[0].ifname);
		snprintf(eb, sizeof(eb), "%s:%s", lk->ep[1].router, lk->ep[1].ifname);
		json_array_append_new(links, json_pack("{s:s, s:[s,s], s:[s,s], s:I, s:O*, s:s}", "name", lk->name,
						       "endpoints", ea, eb, "nodes", a ? a->node : "", b ? b->node : "",
						       "rate", (json_int_t)lk->shape.rate, "key",
						       json_object_get(json_object_get(json_object_get(v, "placement"), "keys"),
								       lk->name),
						       "kind", a && b && strcmp(a->node, b->node) ? "tunnel" : "local"));
	}
	*result = json_pack("{s:s, s:O*, s:s, s:s, s:s*, s:o, s:o, s:O}", "name", s->name, "owner_uid",
			    json_object_get(v, "owner_uid"), "state", state, "node", "(cluster)", "description",
			    s->description, "routers", routers, "links", links, "cluster", entry);
	r = *result ? 0 : trl_error_set(err, TRL_EFAILED, "out of memory");
out:
	trl_slice_free(s);
	json_decref(entry);
	json_decref(v);
	json_decref(kv);
	json_decref(sts);
	json_decref(live);
	return r;
}
