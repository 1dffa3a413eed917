/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: operations: the caller and the progress sink
 *
 * The small helpers of op.h: principal names, the internal (cluster)
 * context, progress formatting.  Nothing here knows the connection.
 */
#define LOG_MODULE "op"
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "escape.h"
#include "log.h"
#include "op.h"
#include "error.h"

const char *principal_name(enum principal kind)
{
	static const char *const names[] = {
		[PRINCIPAL_ROOT] = "root",
		[PRINCIPAL_TENANT] = "tenant",
		[PRINCIPAL_SSH] = "ssh account",
		[PRINCIPAL_CLUSTER] = "cluster",
	};

	return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

void op_ctx_internal(struct op_ctx *oc, struct daemon *d, const struct progress_sink *sink)
{
	memset(oc, 0, sizeof(*oc));
	oc->d = d;
	oc->who.kind = PRINCIPAL_CLUSTER;
	oc->fds[0] = oc->fds[1] = oc->fds[2] = -1;
	oc->conn_fd = -1;
	if (sink)
		oc->progress = *sink;
}

void op_progress(const struct op_ctx *oc, const char *step, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!oc)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_debug("%s: %s", step, ESC_TEXT(msg));
	if (oc->progress.fn)
		oc->progress.fn(oc->progress.ctx, step, msg);
}

int op_cancelled(struct op_ctx *oc)
{
	struct pollfd pfd;

	if (!oc)
		return 0;
	if (atomic_load(&oc->cancel))
		return atomic_load(&oc->cancel);
	/* POLLHUP: the client closed its end (it exited, Ctrl-C, the connection
	 * was lost).  A client that only shut down its writing side still waits
	 * for the reply (POLLRDHUP alone): not cancelled. */
	if (oc->conn_fd >= 0) {
		pfd = (struct pollfd){ .fd = oc->conn_fd, .events = 0 };
		if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR)))
			atomic_store(&oc->cancel, OP_CANCEL_CLIENT);
	}
	return atomic_load(&oc->cancel);
}

int op_cancel_error(struct op_ctx *oc, struct trl_error *err)
{
	return trl_error_set(err, TRL_ECANCELED, "cancelled: %s",
			     op_cancelled(oc) == OP_CANCEL_DELETE ? "a delete of the slice came" : "the client went away");
}
