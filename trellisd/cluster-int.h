/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: cluster mode inside trellisd: what its files share
 *
 * cluster.c runs the threads (keepalive, watch, reconcile) and serves the
 * cluster's requests; cluster-links.c keeps this node's ends of cross-node
 * links in step with the cluster (far node away, users' link down/up given
 * to other nodes); cluster-show.c answers slice show with the cluster's view.
 */
#ifndef TRELLISD_CLUSTER_INT_H
#define TRELLISD_CLUSTER_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include "etcd.h"

#define CLUSTER_LINK_CHECK_S 2	/* how often the far nodes' liveness is checked */

struct cluster {
	struct daemon *d;
	char url[512];
	struct etcd_opts opts;	/* TLS and auth (its strings are the cluster's own) */
	pthread_t keep_th, watch_th, rec_th;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned long gen;	/* bumped when slices/ may have changed */
	int stop;
	int64_t lease;
	json_t *live;		/* nodes with a lease at the last check, or NULL before the first (reconcile thread) */
	json_t *followed;	/* links/ key -> the mod_revision this node followed (reconcile thread) */
};

/* cluster-links.c, both from the reconcile thread every CLUSTER_LINK_CHECK_S. */
/* Put this node's end of each link to a node whose lease expired down (and up when it is back). */
void cluster_links_check(struct cluster *c, struct etcd *e);
/* Follow the users' link down/up given to other nodes (links/SLICE/LINK). */
void cluster_links_follow(struct cluster *c, struct etcd *e);

#endif
