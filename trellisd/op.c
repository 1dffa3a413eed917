/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: operations: the caller and the progress sink
 *
 * The small helpers of op.h: principal names, the internal (cluster)
 * context, progress formatting.  Nothing here knows the connection.
 */
#define LOG_MODULE "op"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "escape.h"
#include "log.h"
#include "op.h"

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
