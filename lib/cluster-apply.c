// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * DOC: cluster mode: apply an edited spec to a slice of the cluster
 *
 * The desired state slices/SLICE is replaced in one transaction that
 * compares its mod revision with the one read (an apply or delete that came
 * in between wins; this one is refused).  Kept routers keep the node the
 * create placed them on (also those placed with 'node: any'), kept links
 * keep their key, new links get keys drawn as a create draws them; the uid
 * range stays.  Every node sees the mod revision change and applies the
 * difference to its part with the same code as 'trellis slice apply' (a node
 * the edit newly uses creates its part, a node it no longer uses deletes
 * its part), reporting status/SLICE/NODE with "mod" = the new revision.
 * The client waits until every node the edited slice uses is ready; when
 * one fails it writes the previous desired state back, so each node
 * applies the old spec again, and returns that node's error.
 *
 * Not here: 'node: any' for a new router, placement: each-node slices.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cluster.h"
#include "model.h"
#include "spec.h"
#include "util.h"

static int files_of(void *ctx, const char *name, char **out)
{
	json_t *v = json_object_get(ctx, name);

	if (!json_is_string(v))
		return -ENOENT;
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

static int64_t txn_revision(json_t *resp)
{
	json_t *rv = json_object_get(json_object_get(resp, "header"), "revision");

	return json_is_string(rv) ? strtoll(json_string_value(rv), NULL, 10) : json_integer_value(rv);
}

/* Replace slices/NAME with @desired if its mod revision is still @mod; the new one in *out (0: it changed meanwhile). */
static int desired_swap(struct etcd *e, const char *skey, int64_t mod, json_t *desired, int64_t *out,
			struct trl_error *err)
{
	_cleanup_free_ char *text = json_dumps(desired, JSON_COMPACT);
	json_t *resp = NULL;
	int r;

	*out = 0;
	if (!text)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	r = etcd_txn(e, json_pack("[o]", etcd_cmp_mod(skey, mod)), json_pack("[o]", etcd_op_put(skey, text, 0)), NULL,
		     &resp, err);
	if (r == 1)
		*out = txn_revision(resp);
	json_decref(resp);
	return r < 0 ? r : 0;
}

static json_t *want_of(json_t *nodes)
{
	json_t *want = json_object(), *v;
	size_t i;

	json_array_foreach(nodes, i, v)
		json_object_set_new(want, json_string_value(v), json_pack("{s:s}", "state", "waiting"));
	return want;
}

/* The edited desired state: @old's, with the new spec, its routers' nodes and its links' keys. */
static int desired_edit(struct etcd *e, json_t *old, struct trl_slice *s, const char *spec, size_t spec_len,
			const char *filename, json_t *files, json_t **out, struct trl_error *err)
{
	json_t *desired = json_deep_copy(old), *live = NULL, *placement, *oldrouters, *oldkeys, *used = NULL;
	json_t *pnodes = json_object(), *nodes = json_array(), *routers = json_object(), *keys = json_object();
	_cleanup_free_ uint32_t *picked = calloc(s->n_links + 1, sizeof(*picked));
	size_t n_new = 0, k = 0;
	int r;

	if (!desired || !picked) {
		r = trl_error_set(err, TRL_EFAILED, "out of memory");
		goto out;
	}
	placement = json_object_get(desired, "placement");
	if (!json_is_object(placement))
		json_object_set_new(desired, "placement", placement = json_object());
	oldrouters = json_object_get(placement, "routers");
	oldkeys = json_object_get(placement, "keys");
	if ((r = cluster_live_nodes(e, &live, err)) < 0)
		goto out;
	for (size_t i = 0; i < s->n_routers; i++) {
		struct trl_router *rt = &s->routers[i];
		json_t *was = json_object_get(oldrouters, rt->name), *info, *addr;

		/* Where the create put a router it placed itself stays where it is. */
		if ((!rt->node[0] || !strcmp(rt->node, CLUSTER_NODE_ANY)) && json_is_string(was)) {
			snprintf(rt->node, sizeof(rt->node), "%s", json_string_value(was));
			json_object_set(routers, rt->name, was);
		}
		if (!rt->node[0] || !strcmp(rt->node, CLUSTER_NODE_ANY)) {
			r = trl_error_set(err, TRL_EINVALID,
					  "%s: routers.%s.node: a router an apply adds needs a node's name (not 'any')",
					  filename, rt->name);
			goto out;
		}
		if (json_object_get(pnodes, rt->node))
			continue;
		info = json_object_get(live, rt->node);
		if (!info) {
			r = trl_error_set(err, TRL_EUNAVAIL, "%s: routers.%s.node: node '%s' is not up in the cluster",
					  filename, rt->name, rt->node);
			goto out;
		}
		addr = json_object_get(info, "address");
		json_object_set_new(pnodes, rt->node, json_is_string(addr) ? json_pack("{s:O}", "address", addr) : json_object());
		json_array_append_new(nodes, json_string(rt->node));
	}
	/* Keys: kept links keep theirs; new ones are drawn from what no node and no slice uses. */
	for (size_t l = 0; l < s->n_links; l++)
		n_new += !json_is_integer(json_object_get(oldkeys, s->links[l].name));
	if (n_new) {
		const char *name;
		json_t *info;

		used = json_array();
		json_object_foreach(live, name, info)
			cluster_keys_of_node(used, info);
		if ((r = cluster_keys_held(e, used, err)) < 0 || (r = cluster_keys_pick(used, n_new, picked, err)) < 0)
			goto out;
	}
	for (size_t l = 0; l < s->n_links; l++) {
		json_t *old_key = json_object_get(oldkeys, s->links[l].name);

		json_object_set_new(keys, s->links[l].name,
				    json_is_integer(old_key) ? json_incref(old_key) : json_integer((json_int_t)picked[k++]));
	}
	json_object_set_new(desired, "spec", json_stringn(spec, spec_len));
	json_object_set_new(desired, "filename", json_string(filename ? filename : "spec"));
	json_object_set(desired, "files", files ? files : json_null());
	json_object_set(desired, "nodes", nodes);
	json_object_set(placement, "nodes", pnodes);
	json_object_set(placement, "keys", keys);
	json_object_set(placement, "routers", routers);
	*out = desired;
	desired = NULL;
	r = 0;
out:
	json_decref(desired);
	json_decref(live);
	json_decref(used);
	json_decref(pnodes);
	json_decref(nodes);
	json_decref(routers);
	json_decref(keys);
	return r;
}

int cluster_slice_apply(struct etcd *e, const char *spec, size_t spec_len, const char *filename, json_t *files,
			int timeout_s, cluster_progress_fn progress, void *ctx, json_t **result, struct trl_error *err)
{
	struct trl_slice *s = NULL;
	json_t *kv = NULL, *old = NULL, *desired = NULL, *want = NULL;
	_cleanup_free_ char *skey = NULL;
	int64_t rev, mod, nmod = 0;
	char failed[64] = "";
	int r;

	*result = NULL;
	if ((r = spec_parse(spec, spec_len, filename ? filename : "spec", files_of, files, &s, err)) < 0)
		return r;
	if (s->placement == TRL_PLACE_EACH_NODE) {
		r = trl_error_set(err, TRL_EUNAVAIL, "%s: placement: each-node: apply does not change such slices yet",
				  filename ? filename : "spec");
		goto out;
	}
	if (asprintf(&skey, CLUSTER_SLICES "%s", s->name) < 0) {
		skey = NULL;
		r = trl_error_set(err, TRL_EFAILED, "out of memory");
		goto out;
	}
	if ((r = etcd_get(e, skey, &kv, err)) < 0)
		goto out;
	if (!kv) {
		r = trl_error_set(err, TRL_ENOTFOUND, "no slice '%s' in the cluster", s->name);
		goto out;
	}
	rev = json_integer_value(json_object_get(kv, "create_revision"));
	mod = json_integer_value(json_object_get(kv, "mod_revision"));
	old = json_loads(json_string_value(json_object_get(kv, "value")) ?: "", 0, NULL);
	if (!json_is_object(old)) {
		r = trl_error_set(err, TRL_EINVALID, "the cluster's desired state of slice '%s' is not JSON", s->name);
		goto out;
	}
	if ((r = desired_edit(e, old, s, spec, spec_len, filename, files, &desired, err)) < 0)
		goto out;
	if ((r = desired_swap(e, skey, mod, desired, &nmod, err)) < 0)
		goto out;
	if (!nmod) {
		r = trl_error_set(err, TRL_EEXIST, "slice '%s' was changed or deleted meanwhile: try again", s->name);
		goto out;
	}
	if (progress) {
		char msg[256];

		snprintf(msg, sizeof(msg), "slice '%s' edited (revision %lld): %zu node(s) applying", s->name,
			 (long long)nmod, json_array_size(json_object_get(desired, "nodes")));
		progress(ctx, NULL, msg);
	}
	want = want_of(json_object_get(desired, "nodes"));
	r = cluster_status_wait(e, s->name, rev, nmod, want, timeout_s, progress, ctx, failed, err);
	if (r == 0 && !failed[0]) {
		*result = json_pack("{s:s, s:I, s:b, s:O}", "name", s->name, "revision", (json_int_t)nmod, "applied", 1,
				    "nodes", want);
		goto out;
	}
	if (failed[0]) {
		json_t *st = json_object_get(want, failed);
		int code = trl_error_code_parse(json_string_value(json_object_get(st, "code")) ?: "failed");

		r = trl_error_set(err, code > 0 ? code : TRL_EFAILED, "node '%s': %s", failed,
				  json_string_value(json_object_get(st, "message")) ?: "failed");
	}
	/* The previous desired state again: every node applies it back. */
	{
		struct trl_error e2 = { 0 };
		json_t *back = want_of(json_object_get(old, "nodes"));
		int64_t bmod = 0;
		char f2[64] = "";

		if (progress)
			progress(ctx, NULL, "rolling back: the previous spec to every node");
		if (desired_swap(e, skey, nmod, old, &bmod, &e2) < 0 || !bmod ||
		    cluster_status_wait(e, s->name, rev, bmod, back, timeout_s, progress, ctx, f2, &e2) < 0 || f2[0])
			snprintf(err->msg + strlen(err->msg), sizeof(err->msg) - strlen(err->msg),
				 " (rollback incomplete: %s)", f2[0] ? f2 : e2.msg[0] ? e2.msg : "changed meanwhile");
		else
			snprintf(err->msg + strlen(err->msg), sizeof(err->msg) - strlen(err->msg),
				 " (rolled back on every node)");
		json_decref(back);
	}
out:
	json_decref(kv);
	json_decref(old);
	json_decref(desired);
	json_decref(want);
	trl_slice_free(s);
	return r;
}
