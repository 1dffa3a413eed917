/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: the control socket
 *
 * A SOCK_STREAM Unix socket speaking lib/proto.h.  One thread per connection:
 * it reads one request, checks the caller (SO_PEERCRED), dispatches, streams
 * progress events and sends one final reply.  Bad requests get an error
 * reply; nothing a client sends can take the daemon down.
 */
#define LOG_MODULE "server"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "log.h"
#include "proto.h"
#include "store.h"
#include "trellisd.h"
#include "util.h"

void request_progress(struct request_ctx *rq, const char *step, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	json_t *ev;

	if (!rq)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_debug("%s: %s", step, msg);
	ev = proto_event_new(step, "%s", msg);
	pthread_mutex_lock(&rq->lock);
	if (!rq->gone && ev && proto_send(rq->fd, ev, NULL, 0) < 0) {
		rq->gone = 1;
		log_info("client pid %d stopped reading (or left): no more progress events", (int)rq->pid);
	}
	if (rq->on_progress)
		rq->on_progress(rq, step, msg);
	pthread_mutex_unlock(&rq->lock);
	json_decref(ev);
}

/* May @uid create slices under tenant-users / tenant-groups (no list: anyone)? */
static int tenant_listed(const struct config *c, uid_t uid, gid_t gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t groups[256];
	int ng = (int)ARRAY_SIZE(groups);

	if (!c->n_tenant_users && !c->n_tenant_groups)
		return 1;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return 0;
	if (config_list_has(c->tenant_users, c->n_tenant_users, res->pw_name))
		return 1;
	if (getgrouplist(res->pw_name, res->pw_gid, groups, &ng) < 0)
		ng = 0;
	for (int i = 0; i < c->n_tenant_groups; i++) {
		struct group gr, *g = NULL;
		char gbuf[16384];

		if (getgrnam_r(c->tenant_groups[i], &gr, gbuf, sizeof(gbuf), &g) != 0 || !g)
			continue;
		if (g->gr_gid == gid)
			return 1;
		for (int k = 0; k < ng; k++)
			if (groups[k] == g->gr_gid)
				return 1;
	}
	return 0;
}

int server_may(const struct request_ctx *rq, enum access_op op, const struct store_slice *row,
	       struct trl_error *err)
{
	const struct config *c = &rq->d->cfg;

	if (rq->uid == 0)
		return 0;
	switch (op) {
	case ACCESS_CREATE:
		if (!c->allow_tenant_create)
			return trl_error_set(err, TRL_EPERM,
					     "permission denied: only root may create slices on this node (allow-tenant-create = no in trellisd.conf)");
		if (!tenant_listed(c, rq->uid, rq->gid))
			return trl_error_set(err, TRL_EPERM,
					     "permission denied: uid %u is not among the tenants allowed to create slices on this node (tenant-users, tenant-groups in trellisd.conf)",
					     (unsigned)rq->uid);
		return 0;
	case ACCESS_SSH_KEYS: {
		struct passwd pw, *res = NULL;
		char buf[4096];

		if (c->ssh_keys_user[0] && getpwnam_r(c->ssh_keys_user, &pw, buf, sizeof(buf), &res) == 0 && res &&
		    res->pw_uid == rq->uid)
			return 0;
		return trl_error_set(err, TRL_EPERM,
				     "permission denied: only root and the ssh-keys-user of trellisd.conf may read ssh keys");
	}
	case ACCESS_SEE:
	case ACCESS_LOGIN:
		if (row && row->owner_uid == rq->uid)
			return 0;
		if (row && ssh_account_is(rq->d, row->name, rq->uid))
			return 0;
		break;
	case ACCESS_CHANGE:
	case ACCESS_DELETE:
		if (row && row->owner_uid == rq->uid)
			return 0;
		break;
	}
	return trl_error_set(err, TRL_ENOTFOUND, "no slice '%s'", row ? row->name : "?");
}

static int dispatch(struct request_ctx *rq, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	struct daemon *d = rq->d;

	/* placement: is the multi-node fan-out's and the cluster's (realize() runs as root), never a tenant's. */
	if (req->op == PROTO_OP_SLICE_CREATE && req->placement && rq->uid != 0)
		return trl_error_set(err, TRL_EPERM,
				     "placement: permission denied: only root places a slice's routers and link keys (the multi-node CLI, or the cluster)");
	if (d->cluster && ((req->op == PROTO_OP_SLICE_CREATE && !req->placement) || req->op == PROTO_OP_SLICE_DELETE ||
			   req->op == PROTO_OP_NODE_LIST))
		return cluster_request(rq, req, result, err);
	switch (req->op) {
	case PROTO_OP_PING:
		*result = json_pack("{s:s}", "version", PACKAGE_VERSION);
		return 0;
	case PROTO_OP_SLICE_CREATE:
		return slice_create(rq, req, result, err);
	case PROTO_OP_SLICE_LIST:
		return slice_list(rq, result, err);
	case PROTO_OP_SLICE_SHOW:
		return slice_show(rq, req->name, result, err);
	case PROTO_OP_SLICE_DELETE:
		return slice_delete(rq, req->name, result, err);
	case PROTO_OP_SLICE_EXEC:
		return slice_exec(rq, req, result, err);
	case PROTO_OP_SLICE_STATS:
		return slice_stats(rq, req->name, result, err);
	case PROTO_OP_LINK_SET:
		return link_set(rq, req, result, err);
	case PROTO_OP_SLICE_SET:
		return slice_set(rq, req, result, err);
	case PROTO_OP_SLICE_KEY_ADD:
		return ssh_key_add(rq, req, result, err);
	case PROTO_OP_SLICE_KEY_REMOVE:
		return ssh_key_remove(rq, req, result, err);
	case PROTO_OP_SLICE_KEY_LIST:
		return ssh_key_list(rq, req->name, result, err);
	case PROTO_OP_SSH_KEYS:
		return ssh_authorized_keys(rq, req->name, result, err);
	case PROTO_OP_NODE_SHOW:
		*result = node_info_for(rq);
		return 0;
	case PROTO_OP_NODE_LIST:
		return trl_error_set(err, TRL_EUNAVAIL, "node '%s' is not in a cluster (start trellisd with --cluster)",
				     d->node_name);
	}
	return trl_error_set(err, TRL_EPROTO, "unknown op");
}

static void *serve_conn(void *arg)
{
	struct request_ctx *rq = arg;
	struct proto_conn conn;
	struct proto_request req;
	struct trl_error err = { 0 };
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct timeval tv = { .tv_sec = 30 }, stv = { .tv_sec = 10 };
	json_t *msg = NULL, *result = NULL, *reply;
	int r;

	proto_conn_init(&conn, rq->fd);
	if (getsockopt(rq->fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		log_warn("SO_PEERCRED: %s", strerror(errno));
		goto done;
	}
	rq->uid = cred.uid;
	rq->gid = cred.gid;
	rq->pid = cred.pid;
	/* A client must send its request promptly; a slow one cannot hold a thread forever. */
	setsockopt(rq->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/*
	 * A client that stops reading must not stall the operation (which may
	 * hold the slice lock): after 10 s of a full socket buffer it gets no
	 * more progress events or reply, and the operation runs to its end.
	 */
	setsockopt(rq->fd, SOL_SOCKET, SO_SNDTIMEO, &stv, sizeof(stv));
	r = proto_recv(&conn, &msg, &err);
	if (r == 0)
		goto done;
	if (r > 0)
		r = proto_request_decode(msg, &req, &err);
	if (r >= 0) {
		for (size_t i = 0; i < conn.nfds && i < 3; i++) {
			rq->fds[i] = conn.fds[i];
			conn.fds[i] = -1;
		}
		rq->nfds = conn.nfds < 3 ? conn.nfds : 3;
		log_debug("request '%s' from uid %u pid %d", proto_op_name(req.op), (unsigned)rq->uid, (int)rq->pid);
		r = dispatch(rq, &req, &result, &err);
	}
	if (r < 0) {
		if (!err.code)
			trl_error_set(&err, TRL_EFAILED, "request failed");
		log_info("request from uid %u failed: %s", (unsigned)rq->uid, err.msg);
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
		if (rq->fds[i] >= 0)
			close(rq->fds[i]);
	proto_conn_release(&conn);
	close(rq->fd);
	pthread_mutex_destroy(&rq->lock);
	free(rq);
	return NULL;
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

	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		close(lfd);
		return trl_error_errno(err, TRL_EFAILED, errno, "pipe");
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	log_info("node '%s' listening on '%s' (state '%s')", d->node_name, d->socket_path, d->state_dir);

	for (;;) {
		struct pollfd pfd[2] = { { .fd = lfd, .events = POLLIN }, { .fd = stop_pipe[0], .events = POLLIN } };
		struct request_ctx *rq;
		pthread_t th;
		int cfd;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0)
			continue;
		rq = calloc(1, sizeof(*rq));
		if (!rq) {
			close(cfd);
			continue;
		}
		rq->d = d;
		rq->fd = cfd;
		rq->fds[0] = rq->fds[1] = rq->fds[2] = -1;
		pthread_mutex_init(&rq->lock, NULL);
		if (pthread_create(&th, &attr, serve_conn, rq) != 0) {
			log_warn("cannot start a thread for a client: %s", strerror(errno));
			close(cfd);
			pthread_mutex_destroy(&rq->lock);
			free(rq);
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
