/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: errors
 *
 * Module APIs return >= 0 on success and a negative value on failure, and
 * fill a struct trl_error whose message carries the context a user needs:
 *   slice 'blue': router 'r1': start: container failed to start
 * Leaf helpers return -errno.  Callers add context going up with
 * trl_error_prefix().  TRL_E* codes map onto wire codes (proto) and CLI
 * exit codes in exactly one place (trl_error_code_name/trl_error_exit_code).
 */
#ifndef TRELLIS_ERROR_H
#define TRELLIS_ERROR_H

#include <stdarg.h>

enum trl_errcode {
	TRL_EFAILED = 1, /* operation failed (kernel, LXC, I/O) */
	TRL_EINVALID,	 /* bad input: spec, arguments, names */
	TRL_ENOTFOUND,	 /* no such slice/router/link */
	TRL_EEXIST,	 /* name already in use */
	TRL_EPERM,	 /* caller may not do this */
	TRL_EUNAVAIL,	 /* daemon unreachable, feature missing */
	TRL_EPROTO,	 /* malformed protocol message */
	TRL_ELIMIT,	 /* out of a resource (ranges, keys, capacity) */
	TRL_ECANCELED,	 /* cancelled: the client went away, or a delete came */
	TRL_ENOTHERE,	 /* it exists, but has no part on this node (multi-node clients skip the node) */
};

struct trl_error {
	int code;	/* enum trl_errcode, 0 when no error */
	char step[64];	/* step of a long operation that failed, or "" */
	char msg[2048];
};

/* Set @err (if not NULL) and return -@code. */
int trl_error_set(struct trl_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Like trl_error_set, appending ": strerror(-errnum)". Returns -@code. */
int trl_error_errno(struct trl_error *err, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Prepend "context: " to the message. Returns -err->code. */
int trl_error_prefix(struct trl_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void trl_error_set_step(struct trl_error *err, const char *step);
void trl_error_clear(struct trl_error *err);

/* Wire name ("invalid", "not-found", ...) <-> code. */
const char *trl_error_code_name(int code);
int trl_error_code_parse(const char *name);
/* CLI exit status for an error code (documented in trellis(8)). */
int trl_error_exit_code(int code);

#endif
