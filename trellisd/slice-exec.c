/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slices: exec
 *
 * slice.exec: run a command (or a login shell) inside a router, with the
 * client's passed terminal or pipe fds, as the router's mapped root; for a
 * slice's ssh account only with a registered key (ssh.c).
 */
#define LOG_MODULE "slice"
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "bridge.h"
#include "cgroup.h"
#include "cluster.h"
#include "container.h"
#include "disk.h"
#include "escape.h"
#include "log.h"
#include "names.h"
#include "shape.h"
#include "shaper.h"
#include "spec.h"
#include "store.h"
#include "claim.h"
#include "template.h"
#include "tenant.h"
#include "trellisd.h"
#include "units.h"
#include "util.h"
#include "slice.h"

int slice_exec(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	struct store *st = NULL;
	struct store_slice row;
	struct trl_slice *s = NULL;
	struct container_io io = { .tty = req->tty, .fds = oc->fds, .conn_fd = oc->conn_fd };
	struct ssh_session *session = NULL;
	char cname[64];
	char **argv = NULL;
	size_t n;
	pid_t pid;
	int r, status = 0;

	/* With a terminal the daemon opens the pty and passes its master back;
	 * without one the command runs on the client's own stdio. */
	if (req->tty && oc->nfds != 0)
		return trl_error_set(err, TRL_EPROTO, "slice.exec with tty passes no fds (the daemon sends the pty), got %zu",
				     oc->nfds);
	if (!req->tty && oc->nfds != 3)
		return trl_error_set(err, TRL_EPROTO, "slice.exec needs the client's stdin, stdout and stderr (3 fds), got %zu",
				     oc->nfds);
	for (size_t i = 0; i < oc->nfds; i++) {
		struct stat sb;

		/* A directory fd would let the command walk the host's tree from outside its root. */
		if (fstat(oc->fds[i], &sb) < 0 || S_ISDIR(sb.st_mode))
			return trl_error_set(err, TRL_EINVALID, "slice.exec: passed fd %zu is a directory or unusable", i);
	}
	if ((r = store_open(oc->d->db_path, &st, err)) < 0)
		return r;
	r = slice_load(st, req->name, &row, &s, err);
	store_close(st);
	if (r < 0)
		return r;
	r = access_check(oc, access_rule(PROTO_OP_SLICE_EXEC), &row, err);
	store_slice_release(&row);
	if (r < 0) {
		trl_slice_free(s);
		return r;
	}
	if (!trl_slice_router(s, req->router)) {
		char names[256];

		r = trl_error_set(err, TRL_ENOTFOUND, "slice '%s' has no router '%s' (its routers: %s)", req->name,
				  req->router, router_list(s, names, sizeof(names)));
		trl_slice_free(s);
		return r;
	}
	names_container(cname, sizeof(cname), s->name, req->router);
	trl_slice_free(s);
	if (container_state(oc->d->lxcpath, cname, &pid) != ROUTER_RUNNING)
		return trl_error_set(err, TRL_EFAILED, "router '%s' of slice '%s' is not running", req->router,
				     req->name);
	n = json_array_size(req->argv);
	argv = calloc(n + 1, sizeof(*argv));
	if (!argv)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	for (size_t i = 0; i < n; i++)
		argv[i] = (char *)json_string_value(json_array_get(req->argv, i));
	/* Who opens a terminal in which router is worth an operator's log line. */
	log_msg(req->tty ? LOG_LVL_INFO : LOG_LVL_DEBUG, LOG_MODULE, "uid %u: %s '%s' in router '%s' of slice '%s'",
		(unsigned)oc->who.uid, req->tty ? "session" : "exec", ESC(argv[0]), req->router, req->name);
	/* A slice's ssh account: tracked by key, so removing the key ends it. */
	if ((r = ssh_session_begin(oc, req->name, req->key, &session, err)) < 0) {
		free(argv);
		return r;
	}
	io.started = session ? ssh_session_started : NULL;
	io.started_arg = session;
	/* The session's process writes to the client's socket: nobody else may meanwhile. */
	pthread_mutex_lock(oc->conn_lock);
	r = container_exec(oc->d->lxcpath, cname, argv, &io, &status, err);
	pthread_mutex_unlock(oc->conn_lock);
	ssh_session_end(session);
	free(argv);
	if (r < 0)
		return r;
	*result = json_pack("{s:i}", "exit", status);
	return 0;
}
