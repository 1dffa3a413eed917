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
#include <sys/types.h>
#include <jansson.h>
#include "conf.h"
#include "error.h"
#include "etcd.h"
#include "proto.h"
#include "node.h"

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
	struct config cfg;	/* trellisd.conf (policy; option defaults already applied) */
	pthread_rwlock_t ops_lock;	/* shared by every slice operation, exclusive for start-up
					   reconciliation and shutdown (slice_op_begin) */
	pthread_mutex_t node_lock;	/* the short node-wide sections: admission + allocation,
					   the substrate's HTB tree, the node's cgroup directories */
	struct cluster *cluster;	/* --cluster: desired state in etcd (cluster.c), or NULL */
	volatile int stopping;
};

extern struct daemon *g_daemon;

/* A client request being served: replies and progress go to conn_fd. */
struct request_ctx {
	struct daemon *d;
	int fd;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int fds[3];		/* passed fds (slice.exec), -1 if none */
	size_t nfds;
	pthread_mutex_t lock;	/* progress may come from several worker threads */
	int gone;		/* client went away: stop sending */
	/* Also hand progress here (under lock); cluster.c reports it to etcd. */
	void (*on_progress)(struct request_ctx *rq, const char *step, const char *msg);
	void *on_progress_ctx;
};

/*
 * Access control: the one place that decides what a caller may do.
 *
 * Every op that touches a slice calls server_may() after loading the slice's
 * row (struct store_slice: name and owner_uid) and before doing anything, and
 * returns its error as is.  Rules:
 *   - root (uid 0) may do everything;
 *   - ACCESS_CREATE (row NULL): a non-root caller only if trellisd.conf has
 *     allow-tenant-create = yes and the caller is on tenant-users or in one of
 *     tenant-groups (no list: any user); the slice's owner is then the caller;
 *   - ACCESS_SEE (list, show, stats), ACCESS_CHANGE (slice.set, link.set,
 *     link.up/down, key add/remove), ACCESS_LOGIN (exec, login) and
 *     ACCESS_DELETE: the slice's owner;
 *   - ACCESS_SEE and ACCESS_LOGIN also: the slice's ssh account (trellis-ssh
 *     runs as that uid after an ssh login, see trellisd.conf(5));
 *   - ACCESS_SSH_KEYS (row NULL; reading the ssh keys of any slice, for sshd's
 *     AuthorizedKeysCommand): the ssh-keys-user of trellisd.conf.
 * A caller who may not see a slice gets exactly the error a missing slice
 * gives ("no slice 'NAME'", TRL_ENOTFOUND), so a slice's existence never leaks;
 * ops whose answer for a missing slice is not an error (slice.delete) check
 * for -TRL_ENOTFOUND and answer as for a missing slice.  Refusals of
 * ACCESS_CREATE and ACCESS_SSH_KEYS are TRL_EPERM.
 * Returns 0 when allowed, else the negative code with @err filled.
 */
enum access_op {
	ACCESS_CREATE,
	ACCESS_SEE,
	ACCESS_CHANGE,
	ACCESS_LOGIN,
	ACCESS_DELETE,
	ACCESS_SSH_KEYS,
};
struct store_slice;
int server_may(const struct request_ctx *rq, enum access_op op, const struct store_slice *row,
	       struct trl_error *err);

/* Send a progress event to the client of @rq (best effort). */
void request_progress(struct request_ctx *rq, const char *step, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* server.c: bind the control socket (refusing one a live daemon serves), then
 * serve it until SIGTERM/SIGINT. */
int server_listen(const char *path, struct trl_error *err);
int server_run(struct daemon *d, int lfd, struct trl_error *err);
/* main.c: the node.show result. */
json_t *node_info(struct daemon *d);
/* node.show as @rq's caller may see it: a tenant's view names only slices it may see. */
json_t *node_info_for(struct request_ctx *rq);
/* Disk a create could still use on this node: free space of the state
 * directory's file system less what admission keeps free (cluster placement). */
uint64_t slice_disk_free(struct daemon *d);

/* slice-*.c (slice.h lists which file holds what) */
int slice_create(struct request_ctx *rq, const struct proto_request *req, json_t **result,
		 struct trl_error *err);
int slice_delete(struct request_ctx *rq, const char *name, json_t **result, struct trl_error *err);
int slice_show(struct request_ctx *rq, const char *name, json_t **result, struct trl_error *err);
int slice_list(struct request_ctx *rq, json_t **result, struct trl_error *err);
int slice_stats(struct request_ctx *rq, const char *name, json_t **result, struct trl_error *err);
/* Change a slice's or a router's limits live (slice.set). */
int slice_set(struct request_ctx *rq, const struct proto_request *req, json_t **result, struct trl_error *err);
int slice_exec(struct request_ctx *rq, const struct proto_request *req, json_t **result,
	       struct trl_error *err);
int link_set(struct request_ctx *rq, const struct proto_request *req, json_t **result, struct trl_error *err);
/* Serialize operations on slice @name (different slices run in parallel);
 * also holds d->ops_lock shared.  Every changing operation brackets itself
 * with these; the node-wide sections inside take d->node_lock briefly. */
void slice_op_begin(struct daemon *d, const char *name);
void slice_op_end(struct daemon *d, const char *name);
/* At start: re-adopt every slice in the store, finish or roll back interrupted
 * creates/deletes, repair drift (stopped routers, lost interfaces, fast-path
 * entries, qdiscs), rebuild persistent slices after a host restart.  The
 * report goes to d->reconcile (node.show) and the log. */
void slice_reconcile(struct daemon *d);
/* ssh.c: ssh keys of slices and the slices' ssh accounts (trellisd.conf(5)). */
int ssh_key_add(struct request_ctx *rq, const struct proto_request *req, json_t **result, struct trl_error *err);
int ssh_key_remove(struct request_ctx *rq, const struct proto_request *req, json_t **result,
		   struct trl_error *err);
int ssh_key_list(struct request_ctx *rq, const char *name, json_t **result, struct trl_error *err);
int ssh_authorized_keys(struct request_ctx *rq, const char *user, json_t **result, struct trl_error *err);
/* Is @uid the ssh account trellisd made for @slice? */
int ssh_account_is(struct daemon *d, const char *slice, uid_t uid);
/* slice.delete: remove @slice's ssh account (if it has one trellisd made). */
void ssh_account_remove(struct daemon *d, const char *slice);
/* An ssh session (slice.exec from a slice's ssh account, which must name the
 * key that opened it: @key, "TYPE BASE64"); *out NULL when the caller is not
 * a slice account.  Refused if the key is not registered (any more).
 * ssh_session_started() is container_io.started; ssh_session_end() when the
 * command is over (NULL-safe).  slice.key.remove ends the key's sessions. */
struct ssh_session;
int ssh_session_begin(struct request_ctx *rq, const char *slice, const char *key, struct ssh_session **out,
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
/* The etcd URL given with --cluster, or NULL. */
const char *cluster_url(struct daemon *d);
/* Serve slice.create, slice.delete and node.list through the cluster. */
int cluster_request(struct request_ctx *rq, const struct proto_request *req, json_t **result, struct trl_error *err);

#endif
