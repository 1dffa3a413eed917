// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * DOC: cluster mode: slice show and slice list with the cluster's view
 *
 * A node's own part of a cluster slice can be built and ready while the
 * slice is not (another node still creating it, or down): slice show and
 * slice list add every node's state from etcd and show "ready" only when
 * every node is (slice list: one read of the cluster for all its slices).
 * A node without a part of the slice answers with the cluster's description
 * of it (lib/cluster.c cluster_slice_describe()), to its owner and root.
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

/* The state a node's "ready" part shows, given every node's state in the cluster: NULL when all are ready. */
static const char *whole_state(json_t *status)
{
	const char *node, *worst = NULL;
	json_t *v;

	json_object_foreach(status, node, v) {
		const char *s = json_string_value(v) ?: "";

		if (!strcmp(s, "down") || !strcmp(s, "failed"))
			worst = "degraded";
		else if (strcmp(s, "ready") && !worst)
			worst = "creating";
	}
	return worst;
}

int cluster_slice_list_local(struct op_ctx *oc, json_t **result, struct trl_error *err)
{
	struct cluster *c = oc->d->cluster;
	struct trl_error e2 = { 0 };
	struct etcd *e = NULL;
	json_t *cl = NULL, *v, *entry;
	size_t i, j;
	int r = slice_list(oc, result, err);

	if (r < 0)
		return r;
	/* One read of the cluster (3 round trips) whatever the number of slices; etcd away: as the node sees it. */
	if (etcd_open_opts(c->url, &c->opts, &e, &e2) < 0 || cluster_slice_list(e, &cl, &e2) < 0) {
		etcd_close(e);
		return 0;
	}
	etcd_close(e);
	json_array_foreach(json_object_get(*result, "slices"), i, v)
		json_array_foreach(json_object_get(cl, "slices"), j, entry) {
			const char *worst;

			if (strcmp(json_string_value(json_object_get(entry, "name")) ?: "",
				   json_string_value(json_object_get(v, "name")) ?: ""))
				continue;
			worst = whole_state(json_object_get(entry, "status"));
			if (worst && !strcmp(json_string_value(json_object_get(v, "state")) ?: "", "ready"))
				json_object_set_new(v, "state", json_string(worst));
			json_object_set(v, "cluster", json_object_get(entry, "status"));
		}
	json_decref(cl);
	return 0;
}

void cluster_show_state(struct daemon *d, const char *name, json_t *placement, json_t *shown)
{
	struct cluster *c = d->cluster;
	json_t *rev = json_object_get(placement, "cluster"), *entry = NULL;
	struct trl_error err = { 0 };
	struct etcd *e = NULL;
	const char *state = json_string_value(json_object_get(shown, "state")) ?: "", *worst = NULL;

	if (!c || !json_is_integer(rev))
		return;
	if (etcd_open_opts(c->url, &c->opts, &e, &err) < 0 || cluster_slice_status(e, name, &entry, &err) < 0) {
		etcd_close(e);
		json_object_set_new(shown, "cluster", json_pack("{s:s}", "error", err.msg));
		return;
	}
	etcd_close(e);
	if (!entry || json_integer_value(json_object_get(entry, "revision")) != json_integer_value(rev)) {
		/* Deleted (or rolled back, or replaced) in the cluster: this node tears its part down next. */
		json_decref(entry);
		json_object_set_new(shown, "cluster", json_pack("{s:s}", "state", "removed"));
		if (!strcmp(state, "ready") || !strcmp(state, "degraded"))
			json_object_set_new(shown, "state", json_string("deleting"));
		return;
	}
	/* Ready here is not ready: every node of the slice must be. */
	worst = whole_state(json_object_get(entry, "status"));
	if (worst && !strcmp(state, "ready"))
		json_object_set_new(shown, "state", json_string(worst));
	json_object_set_new(shown, "cluster", entry);
}

int cluster_slice_show(struct op_ctx *oc, const char *name, json_t **result, struct trl_error *err)
{
	struct cluster *c = oc->d->cluster;
	struct trl_error e2 = { 0 };
	struct etcd *e = NULL;
	json_t *o = NULL;
	int r = slice_show(oc, name, result, err);

	if (r != -TRL_ENOTFOUND)
		return r;
	/* No part here: the cluster's description, to whom may see the slice (its owner, root). */
	if (etcd_open_opts(c->url, &c->opts, &e, &e2) < 0 || cluster_slice_describe(e, name, &o, &e2) < 0) {
		etcd_close(e);
		return r;
	}
	etcd_close(e);
	if (!caller_is_privileged(&oc->who) &&
	    json_integer_value(json_object_get(o, "owner_uid")) != (json_int_t)oc->who.uid) {
		json_decref(o);
		return r;	/* the same answer as for a slice that does not exist */
	}
	trl_error_clear(err);
	*result = o;
	return 0;
}
