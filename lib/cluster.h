/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: cluster mode: desired state in etcd
 *
 * Keys (all under /trellis/):
 *   nodes/NODE          {"name","address","capacity","tunnels","fastpath","routers","slices",
 *                        "max_key","version","seen"}   under the node's lease: gone when it dies
 *   members/NODE        the same, without a lease: a node once seen (so a dead one shows "down")
 *   slices/SLICE        desired state {"spec","filename","files","owner_uid","nodes":[NODE..],
 *                        "placement": {"nodes": {NODE: {"address"}}, "keys": {LINK: KEY},
 *                                      "routers": {ROUTER: NODE}  (where 'node: any' put it),
 *                                      "each-node": [NODE..]  (placement: each-node: the sorted
 *                                       live nodes the sliver is copied onto, router R as R-NODE)}}
 *   status/SLICE/NODE   {"state": "progress"|"ready"|"failed", "message", "code", "rev", "mod"}
 *                        rev = create_revision of slices/SLICE the node acted on, mod = its
 *                        mod_revision (an apply changes it; the node applies the edit)
 *   alloc/next-key      the next free link key (a decimal string)
 *   links/SLICE/LINK    {"rev","up","node"}: the admin state a user gave the link through
 *                        node "node"; the node at its other end follows it
 *
 * A create puts slices/SLICE and advances alloc/next-key in one transaction
 * that compares both (the slice must not exist, the counter must be the one
 * read): two creates can never share a name or a key.  Every node watches
 * slices/ and realizes its part; the creator watches status/SLICE/ until each
 * node named in the slice is ready or one failed, and in that case deletes
 * slices/SLICE so every node tears its part down again.
 */
#ifndef TRELLIS_CLUSTER_H
#define TRELLIS_CLUSTER_H

#include <jansson.h>
#include <stdint.h>
#include "error.h"
#include "etcd.h"

#define CLUSTER_ROOT "/trellis/"
#define CLUSTER_NODES CLUSTER_ROOT "nodes/"
#define CLUSTER_MEMBERS CLUSTER_ROOT "members/"
#define CLUSTER_SLICES CLUSTER_ROOT "slices/"
#define CLUSTER_STATUS CLUSTER_ROOT "status/"
#define CLUSTER_NEXT_KEY CLUSTER_ROOT "alloc/next-key"
#define CLUSTER_UID_PREFIX CLUSTER_ROOT "alloc/uid/"	/* <index> -> slice: the slice's uid range */
#define CLUSTER_UID_MAX 4096
/* links/SLICE/LINK  {"rev", "up", "node"}: a user's link down/up through one node (rev = the
 * slice's create revision); every node holding an end of LINK follows it. */
#define CLUSTER_LINKS CLUSTER_ROOT "links/"
/* A node's lease: it is shown down this long after it stops renewing. */
#define CLUSTER_LEASE_TTL 10

/* A router placed with 'node: any' goes to the node with the fewest routers. */
#define CLUSTER_NODE_ANY "any"

struct trl_slice;
/* Apply a placement to a parsed spec: expand a placement: each-node sliver over its "each-node"
 * nodes, then set the "routers" (router -> node chosen for 'node: any'). */
void cluster_placement_apply(struct trl_slice *s, json_t *placement);

/*
 * Draw @n different link keys at random (getrandom) from 1..TRL_LINK_KEY_MAX,
 * none of them in @used (a JSON array of integers; NULL = none) into @out.
 * -TRL_ELIMIT when fewer than @n are free.
 */
int cluster_keys_pick(json_t *used, size_t n, uint32_t *out, struct trl_error *err);
/* Add to @used every key a node's registration or node.show @info lists ("keys"),
 * or, from a daemon that lists none, every key up to its "max_key". */
void cluster_keys_of_node(json_t *used, json_t *info);

/* Progress of a cluster operation, per node (@node may be NULL). */
typedef void (*cluster_progress_fn)(void *ctx, const char *node, const char *msg);

/* Nodes with a lease: {NODE: registration}. */
int cluster_live_nodes(struct etcd *e, json_t **out, struct trl_error *err);
/* Append to @used every link key a slice of the cluster holds. */
int cluster_keys_held(struct etcd *e, json_t *used, struct trl_error *err);
/*
 * Watch status/@name/ from revision @mod (or @rev) until every node of @want
 * ({NODE: {"state": ...}}, updated with each report) reports "ready" about
 * create revision @rev (and, if @mod, the slice's mod revision @mod), or one
 * reports "failed" (0, its name in @failed).  <0: etcd failed or timed out.
 */
int cluster_status_wait(struct etcd *e, const char *name, int64_t rev, int64_t mod, json_t *want, int timeout_s,
			cluster_progress_fn progress, void *ctx, char failed[64], struct trl_error *err);
/*
 * Apply an edited spec to a slice of the cluster (lib/cluster-apply.c): write
 * the new desired state if nobody changed it meanwhile, wait for the nodes it
 * uses, and on a failure write the previous one back.  *result as for
 * slice.apply, merged: {"name","revision","applied","changes": [...],"nodes"}.
 */
int cluster_slice_apply(struct etcd *e, const char *spec, size_t spec_len, const char *filename, json_t *files,
			int timeout_s, cluster_progress_fn progress, void *ctx, json_t **result, struct trl_error *err);

/* Every node ever registered: [{..., "state": "up"|"down"}], by name. */
int cluster_node_list(struct etcd *e, json_t **nodes, struct trl_error *err);

/*
 * Deploy a slice: validate @spec, place it (every router names a node, or
 * 'any'; a router without node: goes to @default_node, if not NULL), allocate its link keys and name, write it and wait until every
 * node it uses reports ready (then 0 and *result = {"name","revision",
 * "nodes": {NODE: {"state","message"}}}) or one reports failure (then the
 * slice is deleted again everywhere and that node's error is returned).
 * @timeout_s bounds the wait.
 */
int cluster_slice_create(struct etcd *e, const char *spec, size_t spec_len, const char *filename, json_t *files,
			 unsigned owner_uid, const char *default_node, int timeout_s, cluster_progress_fn progress,
			 void *ctx, json_t **result, struct trl_error *err);
/* Delete a slice's desired state and wait until the nodes that are up have torn it down.
 * -TRL_ENOTFOUND if the cluster has no such slice. */
int cluster_slice_delete(struct etcd *e, const char *name, int timeout_s, cluster_progress_fn progress, void *ctx,
			 json_t **result, struct trl_error *err);
/* The cluster's slices: {"slices": [{"name","owner_uid","nodes","revision","status": {NODE: state}}]};
 * a node's state is what it reported ("progress", "ready", "failed"), "down" when the node is down
 * (whatever it reported), "unknown" when it is up and reported nothing about this slice. */
int cluster_slice_list(struct etcd *e, json_t **result, struct trl_error *err);

/*
 * Retire node @name: remove its registration (members/, and nodes/) and its
 * reports.  Refused (-TRL_EEXIST) while slices of the cluster place routers
 * on it or it registered routers, or while it is up (its lease lives), unless
 * @force.  *result = {"name","removed","was": "up"|"down","slices","routers","reports_removed"}.
 * -TRL_ENOTFOUND if the cluster never saw it.
 */
int cluster_node_remove(struct etcd *e, const char *name, int force, json_t **result, struct trl_error *err);
/*
 * A slice as the cluster describes it, for a node without a part of it or a
 * management host (slice show): {"name","owner_uid","state" ("ready" when every
 * node is, "creating", "degraded"),"node": "(cluster)","description",
 * "routers": [{"name","node","template","state": its node's report}],
 * "links": [{"name","endpoints","nodes","rate","key","kind"}],"cluster": its
 * cluster_slice_list() entry}.  -TRL_ENOTFOUND if the cluster has no such slice.
 */
int cluster_slice_describe(struct etcd *e, const char *name, json_t **result, struct trl_error *err);
/* One slice's entry of cluster_slice_list() (3 round trips); *result NULL if the cluster has no such slice. */
int cluster_slice_status(struct etcd *e, const char *name, json_t **result, struct trl_error *err);

#endif
