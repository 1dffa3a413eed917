/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: trellisd internals
 *
 * struct daemon is the one process-wide context: options, the fast path, the
 * template path and the lock that serializes slice changes.  Each client
 * connection is served by its own thread (server.c); slice-*.c realize and
 * tear down slices; store.c keeps desired state in SQLite; container.c runs
 * routers as LXC containers; cgroup.c knows the host's cgroup layout.
 */
#ifndef TRELLISD_H
#define TRELLISD_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <jansson.h>
#include "conf.h"
#include "error.h"
#include "etcd.h"
#include "proto.h"
#include "node.h"
#include "op.h"

struct bridge;

struct daemon {
	char node_name[64];
	char state_dir[4096];
	char socket_path[4096];
	char lxcpath[4096];	/* <state_dir>/lxc */
	char db_path[4096];	/* <state_dir>/trellis.db */
	char seccomp_path[4096];
	char template_path[8192];	/* colon-separated directories */
	char pin_dir[4096];	/* /sys/fs/bpf/trellis/<node> */
	unsigned uid_start, uid_count;	/* root's subordinate range used for slices */
	int parallel;		/* routers started at once */
	struct bridge *bridge;
	char fastpath[64];	/* "ebpf-tc" or "unavailable" */
	int has_substrate;	/* --substrate given: cross-node links possible */
	struct node_substrate sub;
	unsigned tunnels;	/* enum node_tunnel bits that work here */
	char tunnels_missing[512];	/* why the others do not */
	uint64_t capacity;	/* substrate capacity, bit/s (0 without a substrate) */
	char capacity_source[64];	/* "--capacity", "link speed", "default" */
	int netem;		/* netem qdisc usable: delay/jitter on links */
	char netem_why[256];	/* why not */
	json_t *reconcile;	/* what the start-up reconciliation found and did */
	atomic_int reconcile_locked; /* it holds ops_lock: operations started now wait for it */
	struct config cfg;	/* trellisd.conf (policy; option defaults already applied) */
	pthread_rwlock_t ops_lock;	/* shared by every slice operation, exclusive for start-up
					   reconciliation and shutdown (slice_op_begin) */
	pthread_mutex_t node_lock;	/* the short node-wide sections: admission + allocation,
					   the substrate's HTB tree, the node's cgroup directories */
	struct cluster *cluster;	/* --cluster: desired state in etcd (cluster.c), or NULL */
	char cluster_url[512];	/* ... its etcd URL (node.show) */
	volatile int stopping;
};

extern struct daemon *g_daemon;

/* server.c: bind the control socket (refusing one a live daemon serves), then
 * serve it until SIGTERM/SIGINT. */
int server_listen(const char *path, struct trl_error *err);
int server_run(struct daemon *d, int lfd, struct trl_error *err);
/* Requests the control socket answered, and those answered with an error (daemon health, /metrics). */
extern atomic_ulong server_requests, server_errors;
/* node-info.c: the node.show result. */
json_t *node_info(struct daemon *d);
/* node.show as @oc's caller may see it: a tenant's view names only slices it may see. */
json_t *node_info_for(struct op_ctx *oc);
/* Disk a create could still use on this node: free space of the state
 * directory's file system less what admission keeps free (cluster placement). */
uint64_t slice_disk_free(struct daemon *d);
/* What admission could still promise a new slice here: the node's cores and handed-out
 * memory less what its slices promise (cluster mode registers it: lib/cluster.c checks
 * a create against it before writing).  -errno if the store cannot be read. */
int slice_promise_free(struct daemon *d, double *cpu_free, uint64_t *mem_free);

/* slice-*.c (slice.h lists which file holds what) */
int slice_create(struct op_ctx *oc, const struct proto_request *req, json_t **result,
		 struct trl_error *err);
int slice_delete(struct op_ctx *oc, const char *name, json_t **result, struct trl_error *err);
int slice_show(struct op_ctx *oc, const char *name, json_t **result, struct trl_error *err);
int slice_list(struct op_ctx *oc, json_t **result, struct trl_error *err);
int slice_stats(struct op_ctx *oc, const char *name, json_t **result, struct trl_error *err);
/* slice.stats; @sample 0: counters only, no rate_now sample (no 0.5 s wait; the HTTP endpoint). */
int slice_stats_sample(struct op_ctx *oc, const char *name, int sample, json_t **result, struct trl_error *err);
/* Change a slice's or a router's limits live (slice.set). */
int slice_set(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err);
int slice_exec(struct op_ctx *oc, const struct proto_request *req, json_t **result,
	       struct trl_error *err);
/* slice.apply: change a running slice to an edited spec (slice-apply.c). */
int slice_apply(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err);
/* router.stop, router.start, router.restart (slice-router.c). */
int router_lifecycle(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err);
int link_set(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err);
/* Cluster mode: put this node's half of @link down because @node, at its far end, is away, or
 * (@node NULL) clear that; the user's own down (link set) is kept apart and never undone. */
int link_away_set(struct daemon *d, const char *slice, const char *link, const char *node, struct trl_error *err);
/* The end of a link a capture runs on: a router of this node and its interface. */
struct slice_link_end {
	char router[16];
	char ifname[16];
	char link[64];		/* the link's name, "r1:eth1-r2:eth1" */
	char container[64];
	pid_t pid;		/* the router's init */
};
/* link.capture: resolve @link ("r1:eth1-r2:eth1" = its first end, or "r2:eth1")
 * of slice @name, or its end on router @end (NULL: as @link says), for a
 * caller who may see the slice (ACCESS_SEE).  The end must run on this node
 * (slice-set.c). */
int slice_link_end(struct op_ctx *oc, const char *name, const char *link, const char *end,
		   struct slice_link_end *out, struct trl_error *err);
/* capture.c: link.capture, the whole session (trellis(8), link capture). */
int link_capture(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err);
/* Serialize operations on slice @name (different slices run in parallel);
 * also holds d->ops_lock shared.  Every changing operation brackets itself
 * with these; the node-wide sections inside take d->node_lock briefly. */
void slice_op_begin(struct daemon *d, const char *name);
void slice_op_end(struct daemon *d, const char *name);
/* At start: re-adopt every slice in the store, finish or roll back interrupted
 * creates/deletes, repair drift (stopped routers, lost interfaces, fast-path
 * entries, qdiscs), rebuild persistent slices after a host restart.  The
 * report goes to d->reconcile (node.show) and the log.  Last, the event
 * watcher adopts the routers that run (events_adopt); returns how many. */
int slice_reconcile(struct daemon *d);
/* ssh.c: ssh keys of slices and the slices' ssh accounts (trellisd.conf(5)). */
int ssh_key_add(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err);
int ssh_key_remove(struct op_ctx *oc, const struct proto_request *req, json_t **result,
		   struct trl_error *err);
int ssh_key_list(struct op_ctx *oc, const char *name, json_t **result, struct trl_error *err);
int ssh_authorized_keys(struct op_ctx *oc, const char *user, json_t **result, struct trl_error *err);
/* Is @uid the ssh account trellisd made for @slice? */
int ssh_account_is(struct daemon *d, const char *slice, uid_t uid);
/* Is @uid the ssh account of some slice?  Then 1 and its name in @slice. */
int ssh_account_slice(struct daemon *d, uid_t uid, char *slice, size_t len);
/* slice.delete: remove @slice's ssh account (if it has one trellisd made). */
void ssh_account_remove(struct daemon *d, const char *slice);
/* An ssh session (slice.exec from a slice's ssh account, which must name the
 * key that opened it: @key, "TYPE BASE64"); *out NULL when the caller is not
 * a slice account.  Refused if the key is not registered (any more).
 * ssh_session_started() is container_io.started; ssh_session_end() when the
 * command is over (NULL-safe).  slice.key.remove ends the key's sessions. */
struct ssh_session;
int ssh_session_begin(struct op_ctx *oc, const char *slice, const char *key, struct ssh_session **out,
		      struct trl_error *err);
void ssh_session_started(void *arg, pid_t helper);
void ssh_session_end(struct ssh_session *ss);

/* Remove the daemon's node-wide objects (pins) when no slice is left. */
void slice_node_cleanup(struct daemon *d);

/* cluster.c: register in etcd at @url (TLS files and etcd user in @o, may be
 * NULL) and start realizing the cluster's slices. */
int cluster_start(struct daemon *d, const char *url, const struct etcd_opts *o, struct trl_error *err);
/* Stop the cluster threads (after the slice operation in flight). */
void cluster_stop(struct daemon *d);
/* Serve slice.create, slice.delete and node.list through the cluster. */
int cluster_request(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err);
/* slice show of a cluster slice (@placement has "cluster"): add "cluster" (its entry of the cluster's
 * slice list: every node's state) to @shown, and show its "state" ready only when every node is
 * (creating while one is not yet, degraded while one is down or failed, deleting once removed). */
void cluster_show_state(struct daemon *d, const char *name, json_t *placement, json_t *shown);
/* slice.show in cluster mode: slice_show(), or for a cluster slice without a part on this node,
 * the cluster's description of it (cluster_slice_describe()) to its owner and root. */
int cluster_slice_show(struct op_ctx *oc, const char *name, json_t **result, struct trl_error *err);
/* slice.list in cluster mode: slice_list(), a cluster slice's "ready" shown as creating/degraded
 * while another node of it is not ready (as cluster_show_state()), with "cluster": every node's state. */
int cluster_slice_list_local(struct op_ctx *oc, json_t **result, struct trl_error *err);
/* link.set in cluster mode: link_set() here, and a state change of a cluster slice's link also
 * recorded in etcd (links/SLICE/LINK), which the node at the other end follows. */
int cluster_link_set(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err);

#endif
