// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * DOC: cluster mode: this node's ends of cross-node links
 *
 * Two checks the reconcile thread runs every CLUSTER_LINK_CHECK_S, and the
 * link.set of a cluster slice:
 *
 *   cluster_links_check   the far node's liveness: a link to a node whose
 *                         lease expired goes down on this side, recorded
 *                         apart from the user's own down (link_away_set());
 *   cluster_links_follow  a user's link down/up given to the node at the
 *                         other end, which recorded it in etcd
 *                         (links/SLICE/LINK): this node's end follows;
 *   cluster_link_set      link.set here, and a state change recorded there.
 *
 * Only daemons write links/ (tenants have no etcd access); the node that
 * took the request checked the caller's right to change the slice.
 */
#define LOG_MODULE "cluster"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cluster.h"
#include "cluster-int.h"
#include "etcd.h"
#include "events.h"
#include "log.h"
#include "model.h"
#include "spec.h"
#include "store.h"
#include "trellisd.h"
#include "util.h"

static int files_resolver(void *ctx, const char *name, char **out)
{
	json_t *v = json_object_get(ctx, name);

	if (!json_is_string(v))
		return -ENOENT;
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

/* Record (and apply) that @link's far node is away (@node), or back (NULL). */
static void link_away(struct cluster *c, const char *slice, const char *link, const char *node)
{
	struct trl_error err = { 0 };

	if (link_away_set(c->d, slice, link, node, &err) < 0)
		log_warn("slice '%s': link '%s': %s", slice, link, err.msg);
}

/*
 * Links that cross to a node whose lease expired are put down on this side
 * (the routers' interfaces lose carrier: their routing stack sees it at
 * once), and up again when the node is back.  This is recorded apart from
 * the user's own link down (settings "away": NODE beside "up", see
 * slice-set.c): a link the user took down stays down when the node returns,
 * and the record survives this daemon's restart.  An unreachable etcd says
 * nothing about the nodes: nothing changes then.
 */
void cluster_links_check(struct cluster *c, struct etcd *e)
{
	struct daemon *d = c->d;
	struct trl_error err = { 0 };
	json_t *kvs = NULL, *live = json_object(), *kv, *want = json_object(), *v;
	struct store *st;
	char **names = NULL;
	const char *key;
	size_t i;
	int n;

	if (etcd_range(e, CLUSTER_NODES, &kvs, NULL, &err) < 0) {
		json_decref(live);
		json_decref(want);
		return;
	}
	json_array_foreach(kvs, i, kv) {
		const char *k = json_string_value(json_object_get(kv, "key"));

		json_object_set_new(live, k + strlen(CLUSTER_NODES), json_true());
	}
	json_decref(kvs);
	/* Node events: a lease that expired is a node down, a new one a node up. */
	if (c->live) {
		json_object_foreach(c->live, key, v)
			if (!json_object_get(live, key))
				events_emit(d, NULL, 0, NULL, "node-down", "node '%s' is down (its lease expired)", key);
		json_object_foreach(live, key, v)
			if (!json_object_get(c->live, key))
				events_emit(d, NULL, 0, NULL, "node-up", "node '%s' is up (registered)", key);
	}
	json_decref(c->live);
	c->live = json_deep_copy(live);
	if (store_open(d->db_path, &st, &err) == 0) {
		n = store_slice_names(st, &names, &err);
		for (int s = 0; s < n; s++) {
			struct store_slice row;
			struct trl_slice *sl = NULL;

			if (store_slice_get(st, names[s], &row, NULL) < 0)
				continue;
			json_t *set = NULL, *slinks;

			if (json_is_integer(json_object_get(row.placement, "cluster")) &&
			    spec_parse(row.spec, strlen(row.spec), row.filename, files_resolver, row.files, &sl, NULL) == 0) {
				store_settings_get(st, names[s], &set, NULL);
				slinks = json_object_get(set, "links");
				cluster_placement_apply(sl, row.placement);
				for (size_t l = 0; l < sl->n_links; l++) {
					const struct trl_router *a = trl_slice_router(sl, sl->links[l].ep[0].router);
					const struct trl_router *b = trl_slice_router(sl, sl->links[l].ep[1].router);
					int la = !strcmp(a->node, d->node_name), lb = !strcmp(b->node, d->node_name);
					const char *far = la ? b->node : a->node;
					json_t *away = json_object_get(json_object_get(slinks, sl->links[l].name), "away");
					int is_away = json_object_get(live, far) == NULL;
					char k[160];

					if (la == lb || is_away == json_is_string(away))
						continue;
					snprintf(k, sizeof(k), "%s/%s", sl->name, sl->links[l].name);
					json_object_set_new(want, k, is_away ? json_string(far) : json_null());
				}
			}
			json_decref(set);
			trl_slice_free(sl);
			store_slice_release(&row);
		}
		for (int s = 0; s < n; s++)
			free(names[s]);
		free(names);
		store_close(st);
	}
	/* What changed: "SLICE/LINK" -> the far node now away, or null when it is back. */
	json_object_foreach(want, key, v) {
		char slice[64];
		const char *slash = strchr(key, '/');

		snprintf(slice, sizeof(slice), "%.*s", (int)(slash - key), key);
		if (json_is_string(v))
			log_info("slice '%s': link '%s' goes down: node '%s' at its far end is down", slice, slash + 1,
				 json_string_value(v));
		else
			log_info("slice '%s': link '%s': the node at its far end is back", slice, slash + 1);
		link_away(c, slice, slash + 1, json_string_value(v));
	}
	json_decref(live);
	json_decref(want);
}

/* The create revision of cluster slice @name in the local store, 0 if it is not the cluster's; its settings. */
static int64_t local_rev(struct store *st, const char *name, json_t **settings)
{
	struct store_slice row;
	int64_t rev = 0;

	*settings = NULL;
	if (store_slice_get(st, name, &row, NULL) < 0)
		return 0;
	if (json_is_integer(json_object_get(row.placement, "cluster")))
		rev = json_integer_value(json_object_get(row.placement, "cluster"));
	store_slice_release(&row);
	if (rev)
		store_settings_get(st, name, settings, NULL);
	return rev;
}

/*
 * A user's link down/up given to another node (links/SLICE/LINK): put this
 * node's end the same way, through link_set() as the cluster (the node that
 * took the request checked the caller's right).  Each change is followed
 * once (c->followed); a link this node holds no end of is left alone.
 */
void cluster_links_follow(struct cluster *c, struct etcd *e)
{
	struct daemon *d = c->d;
	json_t *kvs = NULL, *kv, *seen = json_object();
	struct store *st = NULL;
	size_t i;

	if (etcd_range(e, CLUSTER_LINKS, &kvs, NULL, NULL) < 0) {
		json_decref(seen);
		return;
	}
	if (!c->followed)
		c->followed = json_object();
	json_array_foreach(kvs, i, kv) {
		const char *key = json_string_value(json_object_get(kv, "key")) ?: "";
		const char *rest = key + strlen(CLUSTER_LINKS), *slash = strchr(rest, '/');
		json_int_t mod = json_integer_value(json_object_get(kv, "mod_revision"));
		json_t *v, *set = NULL;
		char slice[64];
		int up, other;

		if (!slash || slash - rest >= (int)sizeof(slice) || strchr(slash + 1, '/') ||
		    json_integer_value(json_object_get(c->followed, key)) == mod) {
			json_object_set_new(seen, key, json_integer(mod));
			continue;
		}
		snprintf(slice, sizeof(slice), "%.*s", (int)(slash - rest), rest);
		v = json_loads(json_string_value(json_object_get(kv, "value")) ?: "", 0, NULL);
		up = json_is_true(json_object_get(v, "up"));
		other = json_is_object(v) && strcmp(json_string_value(json_object_get(v, "node")) ?: "", d->node_name);
		if (!st && store_open(d->db_path, &st, NULL) < 0) {
			json_decref(v);
			break;	/* not followed: the next check tries again */
		}
		if (other && local_rev(st, slice, &set) != json_integer_value(json_object_get(v, "rev"))) {
			/* Not (yet) a slice of this node: looked at again next time. */
			json_decref(set);
			json_decref(v);
			continue;
		}
		if (other && json_is_false(json_object_get(json_object_get(json_object_get(set, "links"), slash + 1), "up")) == up) {
			struct op_ctx oc;
			struct proto_request req = { .op = PROTO_OP_LINK_SET, .name = slice, .link = slash + 1 };
			struct trl_error err = { 0 };
			json_t *res = NULL;

			req.settings = json_pack("{s:s}", "state", up ? "up" : "down");
			op_ctx_internal(&oc, d, NULL);
			if (link_set(&oc, &req, &res, &err) == 0)
				log_info("slice '%s': link '%s' %s: node '%s' took it %s", slice, slash + 1,
					 up ? "up" : "down", json_string_value(json_object_get(v, "node")), up ? "up" : "down");
			else if (err.code != TRL_ENOTHERE)
				log_warn("slice '%s': link '%s': following node '%s': %s", slice, slash + 1,
					 json_string_value(json_object_get(v, "node")), err.msg);
			json_decref(res);
			json_decref(req.settings);
		}
		json_decref(set);
		json_decref(v);
		json_object_set_new(seen, key, json_integer(mod));
	}
	store_close(st);
	json_decref(kvs);
	/* Forget keys that are gone (their slice was deleted). */
	json_decref(c->followed);
	c->followed = seen;
}

/* Record a user's state of @link (its name in the spec) for the nodes at its ends. */
static int link_record(struct cluster *c, const char *slice, const char *link, int64_t rev, int up, struct trl_error *err)
{
	json_t *o = json_pack("{s:I, s:b, s:s}", "rev", (json_int_t)rev, "up", up, "node", c->d->node_name);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	struct etcd *e = NULL;
	char key[256];
	int r;

	json_decref(o);
	snprintf(key, sizeof(key), CLUSTER_LINKS "%s/%s", slice, link);
	if (!text)
		r = trl_error_set(err, TRL_EFAILED, "out of memory");
	else if ((r = etcd_open_opts(c->url, &c->opts, &e, err)) == 0)
		r = etcd_put(e, key, text, 0, err);
	free(text);
	etcd_close(e);
	return r;
}

/*
 * link down/up of a cluster slice's link this node holds no end of (or of a
 * slice it has no part of): the cluster's description names the link and
 * the owner; recorded for the nodes at its ends.  @r is what link_set() said.
 */
static int link_set_elsewhere(struct op_ctx *oc, const struct proto_request *req, int r, json_t **result,
			      struct trl_error *err)
{
	struct cluster *c = oc->d->cluster;
	const char *state = json_string_value(json_object_get(req->settings, "state"));
	struct trl_error e2 = { 0 };
	struct etcd *e = NULL;
	json_t *o = NULL, *lk, *found = NULL;
	size_t i;

	if (etcd_open_opts(c->url, &c->opts, &e, &e2) < 0 || cluster_slice_describe(e, req->name, &o, &e2) < 0) {
		etcd_close(e);
		return r;
	}
	etcd_close(e);
	if (!caller_is_privileged(&oc->who) &&
	    json_integer_value(json_object_get(o, "owner_uid")) != (json_int_t)oc->who.uid) {
		json_decref(o);
		return r;	/* as for a slice that does not exist */
	}
	json_array_foreach(json_object_get(o, "links"), i, lk) {
		json_t *ends = json_object_get(lk, "endpoints");

		if (!strcmp(json_string_value(json_object_get(lk, "name")) ?: "", req->link) ||
		    !strcmp(json_string_value(json_array_get(ends, 0)) ?: "", req->link) ||
		    !strcmp(json_string_value(json_array_get(ends, 1)) ?: "", req->link))
			found = lk;
	}
	if (!found || json_object_size(req->settings) != 1) {
		r = found ? trl_error_set(err, TRL_ENOTHERE, "link '%s' has no end on node '%s': only its state can be set from here",
					  req->link, oc->d->node_name) :
			    trl_error_set(err, TRL_ENOTFOUND, "slice '%s' has no link '%s'", req->name, req->link);
		json_decref(o);
		return r;
	}
	trl_error_clear(err);
	if (link_record(c, req->name, json_string_value(json_object_get(found, "name")),
			json_integer_value(json_object_get(json_object_get(o, "cluster"), "revision")),
			strcmp(state, "down") != 0, err) < 0) {
		json_decref(o);
		return -err->code;
	}
	*result = json_pack("{s:s, s:O, s:s, s:o, s:{s:s, s:O}}", "slice", req->name, "link", json_object_get(found, "name"),
			    "admin", strcmp(state, "down") ? "up" : "down", "changed", json_pack("[s]", "state"), "cluster",
			    "far_end", "follows", "nodes", json_object_get(found, "nodes"));
	json_decref(o);
	return *result ? 0 : trl_error_set(err, TRL_EFAILED, "out of memory");
}

int cluster_link_set(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	struct cluster *c = oc->d->cluster;
	const char *state = json_string_value(json_object_get(req->settings, "state"));
	struct trl_error e2 = { 0 };
	struct store *st = NULL;
	json_t *set = NULL;
	int64_t rev;
	int r;

	r = link_set(oc, req, result, err);
	if ((r == -TRL_ENOTHERE || r == -TRL_ENOTFOUND) && state)
		return link_set_elsewhere(oc, req, r, result, err);
	if (r < 0 || !state)
		return r;
	if (store_open(oc->d->db_path, &st, &e2) < 0)
		return 0;
	rev = local_rev(st, req->name, &set);
	store_close(st);
	json_decref(set);
	if (!rev)
		return 0;	/* a slice of this node alone */
	/* Recorded for the node at the other end, which follows within CLUSTER_LINK_CHECK_S. */
	if (link_record(c, req->name, json_string_value(json_object_get(*result, "link")) ?: req->link, rev,
			strcmp(state, "down") != 0, &e2) < 0)
		json_object_set_new(*result, "cluster", json_pack("{s:s}", "error", e2.msg));
	else
		json_object_set_new(*result, "cluster", json_pack("{s:s}", "far_end", "follows"));
	return 0;
}
