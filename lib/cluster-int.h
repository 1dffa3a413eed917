/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: cluster mode: what lib/cluster.c and lib/cluster-view.c share
 */
#ifndef TRELLIS_CLUSTER_INT_H
#define TRELLIS_CLUSTER_INT_H

#include <jansson.h>
#include "error.h"
#include "etcd.h"

/* The last component of a kv's key: "/trellis/nodes/n1" -> "n1". */
const char *cluster_kv_base(json_t *kv);
/* A kv's value parsed as JSON (NULL if it is not). */
json_t *cluster_kv_json(json_t *kv);
/* Live nodes (a lease): name -> registration. */
int cluster_live_nodes(struct etcd *e, json_t **out, struct trl_error *err);
/* slices/NAME and status/NAME/ (malloc'd; NULL when out of memory). */
char *cluster_slice_key(const char *name);
char *cluster_status_prefix(const char *name);

#endif
