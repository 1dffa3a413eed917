/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: the control socket
 *
 * A SOCK_STREAM Unix socket speaking lib/proto.h.  One thread per connection:
 * it reads one request, checks the caller (SO_PEERCRED), dispatches, streams
 * progress events and sends one final reply.  Bad requests get an error
 * reply; nothing a client sends can take the daemon down.
 *
 * Anyone may connect, so everything a connection holds is capped
 * (trellisd.conf(5), CONTROL SOCKET):
 *   - connections (each a thread and an fd): at most max-connections in all,
 *     max-connections-per-user for each uid but root, and the last
 *     root-connections of the total are root's alone, so root always gets in.
 *     The main thread admits or refuses a connection as it accepts it (the
 *     peer's uid comes with the socket); a refused client gets an error reply
 *     ("too many connections from uid N (limit M)") and the connection closes.
 *     Long-lived sessions (exec, login) count as long as they last.
 *   - time: a request must be complete request-timeout seconds after the
 *     connection was accepted, however the client drips it.  The main thread
 *     keeps the deadlines and shuts the read side of a late connection down,
 *     which wakes its thread; the client gets "timed out waiting for ...".
 *   - memory: the request buffer (lib/proto.c, up to 16 MiB + 64 KiB for the
 *     largest request) is charged as it grows: the buffers of users other than
 *     root together at most request-memory, one uid at most half of it.
 *   - file descriptors: accept() failing for want of fds or memory pauses
 *     accepting for a moment instead of spinning; the soft RLIMIT_NOFILE is
 *     raised at start towards the hard one so the caps, not the fd limit, bind.
 * Refusals, and requests of users other than root that fail before they are
 * served (malformed, late, too large), are logged at most one line per 10 s
 * with a count of the others: a client cannot flood the log either.
 * The slot table is one array under one mutex; the main thread and the
 * connection threads hold it for a few instructions at a time.
 */
#define LOG_MODULE "server"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "escape.h"
#include "events.h"
#include "log.h"
#include "proto.h"
#include "access.h"
#include "store.h"
#include "trellisd.h"
#include "util.h"

atomic_ulong server_requests, server_errors;

/* A client request being served: replies and progress go to fd. */
struct request_ctx {
	struct op_ctx op;	/* what the operation sees: the caller, the progress sink */
	int fd;
	pthread_mutex_t lock;	/* progress may come from several worker threads */
	int gone;		/* client went away: stop sending */
};

/* The progress sink of a client's operation: events on its socket. */
static void request_progress(void *ctx, const char *step, const char *msg)
{
	struct request_ctx *rq = ctx;
	json_t *ev = proto_event_new(step, "%s", msg);

	pthread_mutex_lock(&rq->lock);
	if (!rq->gone && ev && proto_send(rq->fd, ev, NULL, 0) < 0) {
		rq->gone = 1;
		log_info("client pid %d stopped reading (or left): no more progress events", (int)rq->op.who.pid);
	}
	pthread_mutex_unlock(&rq->lock);
	json_decref(ev);
}

/* The principal behind SO_PEERCRED's uid: root, a slice's ssh account, or a tenant. */
static void request_caller(struct request_ctx *rq)
{
	struct caller *who = &rq->op.who;

	if (who->uid == 0)
		who->kind = PRINCIPAL_ROOT;
	else if (ssh_account_slice(rq->op.d, who->uid, who->ssh_slice, sizeof(who->ssh_slice)))
		who->kind = PRINCIPAL_SSH;
	else
		who->kind = PRINCIPAL_TENANT;
}

static int dispatch(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	struct daemon *d = oc->d;
	int r;

	/* Access control, once, before any handler (access.h). */
	if ((r = access_request(oc, req, err)) < 0)
		return r;
	/* An apply is the cluster's when root asks (a tenant's slices here are this node's own). */
	if (d->cluster && ((req->op == PROTO_OP_SLICE_CREATE && !req->placement) || req->op == PROTO_OP_SLICE_DELETE ||
			   req->op == PROTO_OP_NODE_LIST || req->op == PROTO_OP_NODE_REMOVE ||
			   (req->op == PROTO_OP_SLICE_APPLY && !req->placement && !req->dry_run &&
			    caller_is_privileged(&oc->who))))
		return cluster_request(oc, req, result, err);
	if (d->cluster && req->op == PROTO_OP_LINK_SET)
		return cluster_link_set(oc, req, result, err);
	if (d->cluster && req->op == PROTO_OP_SLICE_SHOW)
		return cluster_slice_show(oc, req->name, result, err);
	if (d->cluster && req->op == PROTO_OP_SLICE_LIST)
		return cluster_slice_list_local(oc, result, err);
	switch (req->op) {
	case PROTO_OP_PING:
		*result = json_pack("{s:s}", "version", PACKAGE_VERSION);
		return 0;
	case PROTO_OP_SLICE_CREATE:
		return slice_create(oc, req, result, err);
	case PROTO_OP_SLICE_LIST:
		return slice_list(oc, result, err);
	case PROTO_OP_SLICE_SHOW:
		return slice_show(oc, req->name, result, err);
	case PROTO_OP_SLICE_DELETE:
		return slice_delete(oc, req->name, result, err);
	case PROTO_OP_SLICE_EXEC:
		return slice_exec(oc, req, result, err);
	case PROTO_OP_SLICE_STATS:
		return slice_stats(oc, req->name, result, err);
	case PROTO_OP_LINK_SET:
		return link_set(oc, req, result, err);
	case PROTO_OP_LINK_CAPTURE:
		return link_capture(oc, req, result, err);
	case PROTO_OP_SLICE_SET:
		return slice_set(oc, req, result, err);
	case PROTO_OP_SLICE_APPLY:
		return slice_apply(oc, req, result, err);
	case PROTO_OP_ROUTER_STOP:
	case PROTO_OP_ROUTER_START:
	case PROTO_OP_ROUTER_RESTART:
		return router_lifecycle(oc, req, result, err);
	case PROTO_OP_SLICE_KEY_ADD:
		return ssh_key_add(oc, req, result, err);
	case PROTO_OP_SLICE_KEY_REMOVE:
		return ssh_key_remove(oc, req, result, err);
	case PROTO_OP_SLICE_KEY_LIST:
		return ssh_key_list(oc, req->name, result, err);
	case PROTO_OP_SSH_KEYS:
		return ssh_authorized_keys(oc, req->name, result, err);
	case PROTO_OP_NODE_SHOW:
		*result = node_info_for(oc);
		return 0;
	case PROTO_OP_EVENTS:
		return events_request(oc, req, result, err);
	case PROTO_OP_NODE_LIST:
	case PROTO_OP_NODE_REMOVE:
		return trl_error_set(err, TRL_EUNAVAIL, "node '%s' is not in a cluster (start trellisd with --cluster)",
				     d->node_name);
	}
	return trl_error_set(err, TRL_EPROTO, "unknown op");
}

/* ---- connection slots: caps, deadlines, request memory ---- */

struct conn_slot {
	int used;
	uid_t uid;
	int fd;
	int reading;		/* the request is not complete: the deadline applies */
	int timed_out;		/* the deadline cut it (read side shut down) */
	uint64_t deadline;	/* CLOCK_MONOTONIC, ms */
	uint64_t buffered;	/* bytes of request buffer */
};

static struct {
	pthread_mutex_t lock;
	struct config_socket lim;
	struct conn_slot *slots;	/* lim.max_connections of them */
	unsigned used;
	uint64_t buffered_users;	/* request buffers of users other than root */
} conns = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* What a connection's thread gets: the request context and its slot. */
struct server_conn {
	struct request_ctx rq;
	int slot;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A refused connection, or a user's request that failed before it could be
 * served (protocol error, deadline, memory): worth a log line, not one each. */
static void log_refusal(uid_t uid, pid_t pid, const char *why)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static uint64_t last;
	static unsigned quiet;
	uint64_t now = now_ms();
	unsigned n;

	pthread_mutex_lock(&lock);
	if (last && now - last < 10000) {
		quiet++;
		pthread_mutex_unlock(&lock);
		return;
	}
	n = quiet;
	quiet = 0;
	last = now;
	pthread_mutex_unlock(&lock);
	if (n)
		log_warn("client uid %u pid %d: %s (and %u more refused connections or requests since the last report)",
			 (unsigned)uid, (int)pid, why, n);
	else
		log_warn("client uid %u pid %d: %s", (unsigned)uid, (int)pid, why);
}

/* Take a slot for a connection of @uid, or say in @why why not.  Main thread. */
static int conn_admit(uid_t uid, int fd, char *why, size_t len)
{
	const struct config_socket *l = &conns.lim;
	unsigned mine = 0;
	int free_slot = -1;

	pthread_mutex_lock(&conns.lock);
	for (unsigned i = 0; i < l->max_connections; i++) {
		if (!conns.slots[i].used) {
			if (free_slot < 0)
				free_slot = (int)i;
		} else if (conns.slots[i].uid == uid) {
			mine++;
		}
	}
	if (uid != 0 && mine >= l->max_connections_per_user) {
		snprintf(why, len, "too many connections from uid %u (limit %u)", (unsigned)uid,
			 l->max_connections_per_user);
		free_slot = -1;
	} else if (uid != 0 && conns.used >= l->max_connections - l->root_connections) {
		snprintf(why, len, "too many connections (limit %u, the other %u are kept for root)",
			 l->max_connections - l->root_connections, l->root_connections);
		free_slot = -1;
	} else if (free_slot < 0) {
		snprintf(why, len, "too many connections (limit %u)", l->max_connections);
	} else {
		conns.slots[free_slot] = (struct conn_slot){ .used = 1, .uid = uid, .fd = fd, .reading = 1,
							     .deadline = now_ms() + 1000ULL * l->request_timeout };
		conns.used++;
	}
	pthread_mutex_unlock(&conns.lock);
	return free_slot;
}

static void conn_release(int slot)
{
	pthread_mutex_lock(&conns.lock);
	conns.slots[slot].used = 0;
	conns.used--;
	pthread_mutex_unlock(&conns.lock);
}

/* The request is in (or the reading ended): stop the deadline.  1 if the deadline cut it first. */
static int conn_read_done(int slot)
{
	int cut;

	pthread_mutex_lock(&conns.lock);
	conns.slots[slot].reading = 0;
	cut = conns.slots[slot].timed_out;
	pthread_mutex_unlock(&conns.lock);
	return cut;
}

/* Cut the connections whose request is late; ms until the next deadline, or -1.  Main thread. */
static int conn_expire(void)
{
	uint64_t now = now_ms(), next = UINT64_MAX;

	pthread_mutex_lock(&conns.lock);
	for (unsigned i = 0; i < conns.lim.max_connections; i++) {
		struct conn_slot *c = &conns.slots[i];

		if (!c->used || !c->reading || c->timed_out)
			continue;
		if (c->deadline <= now) {
			c->timed_out = 1;
			/* Wakes the thread blocked reading; it answers and closes. */
			shutdown(c->fd, SHUT_RD);
		} else if (c->deadline < next) {
			next = c->deadline;
		}
	}
	pthread_mutex_unlock(&conns.lock);
	return next == UINT64_MAX ? -1 : (int)(next - now);
}

/* proto_conn's charge hook: the request buffer of one connection. */
static int conn_charge(struct proto_conn *pc, long delta, struct trl_error *err)
{
	struct server_conn *sc = pc->charge_ctx;
	struct conn_slot *c = &conns.slots[sc->slot];
	uint64_t limit = conns.lim.request_memory, mine = 0;
	int r = 0;

	pthread_mutex_lock(&conns.lock);
	if (delta > 0 && c->uid != 0) {
		for (unsigned i = 0; i < conns.lim.max_connections; i++)
			if (conns.slots[i].used && conns.slots[i].uid == c->uid)
				mine += conns.slots[i].buffered;
		if (conns.buffered_users + (uint64_t)delta > limit)
			r = trl_error_set(err, TRL_ELIMIT,
					  "the daemon is receiving too many large requests (request-memory %" PRIu64
					  " MiB in use): try again later",
					  limit >> 20);
		else if (mine + (uint64_t)delta > limit / 2)
			r = trl_error_set(err, TRL_ELIMIT,
					  "too many large requests from uid %u at once (limit %" PRIu64 " MiB buffered)",
					  (unsigned)c->uid, (limit / 2) >> 20);
	}
	if (r == 0) {
		c->buffered += (uint64_t)delta;
		if (c->uid != 0)
			conns.buffered_users += (uint64_t)delta;
	}
	pthread_mutex_unlock(&conns.lock);
	return r;
}

static void *serve_conn(void *arg)
{
	struct server_conn *sc = arg;
	struct request_ctx *rq = &sc->rq;
	struct proto_conn conn;
	struct proto_request req;
	struct trl_error err = { 0 };
	struct timeval stv = { .tv_sec = 10 };
	json_t *msg = NULL, *result = NULL, *reply;
	int r, dispatched = 0;

	proto_conn_init(&conn, rq->fd);
	conn.charge = conn_charge;
	conn.charge_ctx = sc;
	/*
	 * A client that stops reading must not stall the operation (which may
	 * hold the slice lock): after 10 s of a full socket buffer it gets no
	 * more progress events or reply, and the operation runs to its end.
	 * Reading needs no timeout of its own: the request's deadline
	 * (conn_expire) cuts a slow client.
	 */
	setsockopt(rq->fd, SOL_SOCKET, SO_SNDTIMEO, &stv, sizeof(stv));
	r = proto_recv(&conn, &msg, &err);
	if (conn_read_done(sc->slot) && r <= 0) {
		/* The deadline passed: r is the EOF the shutdown made. */
		memset(&err, 0, sizeof(err));
		r = trl_error_set(&err, TRL_EPROTO, r == 0 ? "timed out waiting for a message" :
						   "timed out waiting for the rest of the message");
	} else if (r == 0) {
		goto done;
	}
	if (r > 0)
		r = proto_request_decode(msg, &req, &err);
	if (r >= 0) {
		for (size_t i = 0; i < conn.nfds && i < 3; i++) {
			rq->op.fds[i] = conn.fds[i];
			conn.fds[i] = -1;
		}
		rq->op.nfds = conn.nfds < 3 ? conn.nfds : 3;
		log_debug("request '%s' from uid %u pid %d", proto_op_name(req.op), (unsigned)rq->op.who.uid, (int)rq->op.who.pid);
		dispatched = 1;
		request_caller(rq);
		r = dispatch(&rq->op, &req, &result, &err);
	}
	atomic_fetch_add(&server_requests, 1);
	if (r < 0) {
		atomic_fetch_add(&server_errors, 1);
		if (!err.code)
			trl_error_set(&err, TRL_EFAILED, "request failed");
		/* A user's malformed, late or oversized requests cost a log line per 10 s, not one each. */
		if (dispatched || rq->op.who.uid == 0)
			log_info("request from uid %u failed: %s", (unsigned)rq->op.who.uid, ESC_TEXT(err.msg));
		else
			log_refusal(rq->op.who.uid, rq->op.who.pid, ESC_TEXT(err.msg));
		reply = proto_error_new(&err);
	} else {
		reply = proto_ok_new(result);
	}
	pthread_mutex_lock(&rq->lock);
	if (reply && !rq->gone)
		proto_send(rq->fd, reply, NULL, 0);
	pthread_mutex_unlock(&rq->lock);
	json_decref(reply);
done:
	json_decref(msg);
	for (size_t i = 0; i < 3; i++)
		if (rq->op.fds[i] >= 0)
			close(rq->op.fds[i]);
	proto_conn_release(&conn);
	/* Out of the table before the fd number can be reused. */
	conn_release(sc->slot);
	close(rq->fd);
	pthread_mutex_destroy(&rq->lock);
	free(sc);
	return NULL;
}

/* Tell a client it was not admitted, then hang up.  Main thread: never blocks. */
static void refuse(int fd, const char *why)
{
	static char sink[64 << 10];
	struct trl_error e = { 0 };
	struct timeval tv = { .tv_usec = 100000 };
	json_t *reply;

	trl_error_set(&e, TRL_ELIMIT, "%s", why);
	reply = proto_error_new(&e);
	/* A new connection's send buffer is empty: the reply fits unless memory is short. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (reply)
		proto_send(fd, reply, NULL, 0);
	json_decref(reply);
	shutdown(fd, SHUT_WR);
	/* Read what the client sent already: closing on unread data resets the
	 * connection, and the client should see the reply, then an orderly end. */
	for (int i = 0; i < 4 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
	close(fd);
}

/* Raise the soft fd limit to the hard one (at most 65536), so the connection caps bind first. */
static void raise_nofile(const struct config_socket *l)
{
	struct rlimit rl;
	rlim_t want, need = 256 + (rlim_t)l->max_connections * (2 + PROTO_MAX_FDS);

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			log_debug("file descriptor limit raised to %llu", (unsigned long long)want);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		log_warn("max-connections = %u may need %llu file descriptors, RLIMIT_NOFILE allows %llu: accepting pauses when they run out",
			 l->max_connections, (unsigned long long)need, (unsigned long long)rl.rlim_cur);
}

int server_listen(const char *path, struct trl_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[4096], *slash;
	int fd, probe;

	if (strlen(path) >= sizeof(sa.sun_path))
		return trl_error_set(err, TRL_EINVALID, "socket path '%s' is too long", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		util_mkdir_p(dir, 0755);
	}
	/* A live daemon on this path wins; a stale socket file is replaced. */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(probe);
		return trl_error_set(err, TRL_EEXIST, "another trellisd is already listening on '%s'", path);
	}
	if (probe >= 0)
		close(probe);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return trl_error_errno(err, TRL_EFAILED, errno, "socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		int e = errno;

		close(fd);
		return trl_error_errno(err, TRL_EFAILED, e, "cannot listen on '%s'", path);
	}
	/* Anyone may connect; every request is checked against SO_PEERCRED. */
	chmod(path, 0666);
	return fd;
}

static int stop_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	char c = (char)sig;

	if (write(stop_pipe[1], &c, 1) < 0) {
		/* nothing to do: the pipe is full, a stop is pending already */
	}
}

int server_run(struct daemon *d, int lfd, struct trl_error *err)
{
	struct sigaction sa = { .sa_handler = on_signal };
	pthread_attr_t attr;
	uint64_t paused_until = 0;

	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		close(lfd);
		return trl_error_errno(err, TRL_EFAILED, errno, "pipe");
	}
	conns.lim = d->cfg.sock;
	conns.slots = calloc(conns.lim.max_connections, sizeof(*conns.slots));
	if (!conns.slots) {
		close(lfd);
		return trl_error_set(err, TRL_EFAILED, "out of memory for %u connection slots", conns.lim.max_connections);
	}
	raise_nofile(&conns.lim);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	log_info("node '%s' listening on '%s' (state '%s')", d->node_name, d->socket_path, d->state_dir);
	log_info("control socket: at most %u connections (%u per user, %u kept for root), %u s to send a request, %" PRIu64
		 " MiB for requests being received",
		 conns.lim.max_connections, conns.lim.max_connections_per_user, conns.lim.root_connections,
		 conns.lim.request_timeout, conns.lim.request_memory >> 20);

	for (;;) {
		struct pollfd pfd[2] = { { .fd = lfd, .events = POLLIN }, { .fd = stop_pipe[0], .events = POLLIN } };
		struct server_conn *sc;
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		char why[256];
		pthread_t th;
		int cfd, slot, r, timeout = conn_expire();
		uint64_t now = now_ms();

		if (paused_until > now) {
			/* Out of fds or memory: the pending connection waits in the backlog. */
			pfd[0].fd = -1;
			if (timeout < 0 || (uint64_t)timeout > paused_until - now)
				timeout = (int)(paused_until - now);
		}
		if (poll(pfd, 2, timeout) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				char msg[128];

				snprintf(msg, sizeof(msg), "cannot accept connections: %s (pausing 100 ms)", strerror(errno));
				log_refusal(0, 0, msg);
				paused_until = now_ms() + 100;
			}
			continue;
		}
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
			log_warn("SO_PEERCRED: %s", strerror(errno));
			close(cfd);
			continue;
		}
		slot = conn_admit(cred.uid, cfd, why, sizeof(why));
		if (slot < 0) {
			log_refusal(cred.uid, cred.pid, why);
			refuse(cfd, why);
			continue;
		}
		sc = calloc(1, sizeof(*sc));
		if (!sc) {
			conn_release(slot);
			refuse(cfd, "out of memory");
			continue;
		}
		sc->slot = slot;
		sc->rq.op.d = d;
		sc->rq.fd = cfd;
		sc->rq.op.who.uid = cred.uid;
		sc->rq.op.who.gid = cred.gid;
		sc->rq.op.who.pid = cred.pid;
		sc->rq.op.fds[0] = sc->rq.op.fds[1] = sc->rq.op.fds[2] = -1;
		sc->rq.op.conn_fd = cfd;
		sc->rq.op.conn_lock = &sc->rq.lock;
		sc->rq.op.conn_gone = &sc->rq.gone;
		sc->rq.op.progress = (struct progress_sink){ .fn = request_progress, .ctx = &sc->rq };
		pthread_mutex_init(&sc->rq.lock, NULL);
		r = pthread_create(&th, &attr, serve_conn, sc);
		if (r != 0) {
			snprintf(why, sizeof(why), "cannot start a thread for the connection: %s", strerror(r));
			log_refusal(cred.uid, cred.pid, why);
			pthread_mutex_destroy(&sc->rq.lock);
			free(sc);
			conn_release(slot);
			refuse(cfd, why);
		}
	}
	log_info("stopping: waiting for running slice operations");
	close(lfd);
	unlink(d->socket_path);
	d->stopping = 1;
	cluster_stop(d);
	/* Let a create/delete in flight finish so no slice is left half-built. */
	pthread_rwlock_wrlock(&d->ops_lock);
	slice_node_cleanup(d);
	pthread_rwlock_unlock(&d->ops_lock);
	pthread_attr_destroy(&attr);
	return 0;
}
