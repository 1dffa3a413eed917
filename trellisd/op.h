/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: operations: who asks, and where progress goes
 *
 * Every domain operation (slice create/delete/show/..., ssh keys, node.show)
 * takes a struct op_ctx, never the client connection: the caller's identity
 * (a principal and its uid), a progress sink (a callback and its context)
 * and, for slice.exec, events and link.capture only, the passed fds and the
 * channel a session streams on.  server.c builds one per request from SO_PEERCRED; cluster.c builds one
 * for the cluster's own work, as the named internal principal
 * PRINCIPAL_CLUSTER (access.c knows it; there is no fake connection).
 */
#ifndef TRELLISD_OP_H
#define TRELLISD_OP_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

struct daemon;
struct trl_error;

enum principal {
	PRINCIPAL_ROOT,		/* uid 0 on the control socket */
	PRINCIPAL_TENANT,	/* any other local user */
	PRINCIPAL_SSH,		/* a slice's ssh account (trellis-ssh after an ssh login): ssh_slice */
	PRINCIPAL_CLUSTER,	/* this daemon realizing the cluster's desired state (cluster.c) */
};

struct caller {
	enum principal kind;
	uid_t uid;
	gid_t gid;
	pid_t pid;		/* 0 for PRINCIPAL_CLUSTER */
	char ssh_slice[64];	/* PRINCIPAL_SSH: the slice whose account it is */
};

/* Name of @kind for logs ("root", "tenant", "ssh account", "cluster"). */
const char *principal_name(enum principal kind);
/* Root and the cluster act for anyone (owner, placement). */
static inline int caller_is_privileged(const struct caller *c)
{
	return c->kind == PRINCIPAL_ROOT || c->kind == PRINCIPAL_CLUSTER;
}

/* A progress sink: fn(ctx, step, message), called from any thread (the
 * sink serializes itself).  fn NULL: progress is only logged (debug). */
struct progress_sink {
	void (*fn)(void *ctx, const char *step, const char *msg);
	void *ctx;
};

struct op_ctx {
	struct daemon *d;
	struct caller who;
	struct progress_sink progress;
	/* slice.exec, events, link.capture: the client's passed fds (-1 if none) and the socket
	 * the session's process writes its events to, with the lock that keeps
	 * everybody else off it meanwhile (conn_fd -1: no client). */
	int fds[3];
	size_t nfds;
	int conn_fd;
	pthread_mutex_t *conn_lock;
	/* Set (under conn_lock) once the client stopped reading: nothing more
	 * is sent on conn_fd, the final reply neither (events, link.capture). */
	int *conn_gone;
	/* Cancelled (OP_CANCEL_*): long operations (create) look between steps
	 * and in their waits (op_cancelled), and roll back. */
	atomic_int cancel;
};

enum { OP_CANCEL_NONE, OP_CANCEL_CLIENT, OP_CANCEL_DELETE };

/* Is @oc's operation cancelled?  Also notices a client that went away
 * (its connection hung up).  0, or why (OP_CANCEL_*). */
int op_cancelled(struct op_ctx *oc);
/* "cancelled: the client went away" or the like, in @err; returns -TRL_ECANCELED. */
int op_cancel_error(struct op_ctx *oc, struct trl_error *err);

/* An op_ctx for the cluster's own work (no client, progress to @sink). */
void op_ctx_internal(struct op_ctx *oc, struct daemon *d, const struct progress_sink *sink);

/* Report progress of @oc's operation (best effort). */
void op_progress(const struct op_ctx *oc, const char *step, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
