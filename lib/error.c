/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: errors
 *
 * struct trl_error carries a code, the failing step and a human message that
 * grows context as it travels up ("slice 'x': router 'r1': start: ...").
 */
#include <stdio.h>
#include <string.h>
#include "error.h"

static void verr(struct trl_error *err, int code, int errnum, const char *fmt, va_list ap)
{
	int n;

	if (!err)
		return;
	err->code = code;
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (errnum && n >= 0 && (size_t)n < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(errnum > 0 ? errnum : -errnum));
}

int trl_error_set(struct trl_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(err, code, 0, fmt, ap);
	va_end(ap);
	return -code;
}

int trl_error_errno(struct trl_error *err, int code, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(err, code, errnum ? errnum : 5, fmt, ap);
	va_end(ap);
	return -code;
}

int trl_error_prefix(struct trl_error *err, const char *fmt, ...)
{
	char prefix[512], old[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return -TRL_EFAILED;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
	if (!err->code)
		err->code = TRL_EFAILED;
	return -err->code;
}

void trl_error_set_step(struct trl_error *err, const char *step)
{
	if (err && !err->step[0])
		snprintf(err->step, sizeof(err->step), "%s", step);
}

void trl_error_clear(struct trl_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

static const struct {
	int code;
	const char *name;
	int exit;
} codes[] = {
	{ TRL_EFAILED, "failed", 1 },	   { TRL_EINVALID, "invalid", 3 },
	{ TRL_ENOTFOUND, "not-found", 4 }, { TRL_EEXIST, "exists", 5 },
	{ TRL_EPERM, "permission", 6 },	   { TRL_EUNAVAIL, "unavailable", 7 },
	{ TRL_EPROTO, "protocol", 8 },	   { TRL_ELIMIT, "limit", 9 },
	{ TRL_ECANCELED, "cancelled", 10 },	   { TRL_ENOTHERE, "elsewhere", 11 },
};

const char *trl_error_code_name(int code)
{
	if (code < 0)
		code = -code;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return codes[i].name;
	return "failed";
}

int trl_error_code_parse(const char *name)
{
	for (size_t i = 0; name && i < sizeof(codes) / sizeof(codes[0]); i++)
		if (!strcmp(codes[i].name, name))
			return codes[i].code;
	return TRL_EFAILED;
}

int trl_error_exit_code(int code)
{
	if (code < 0)
		code = -code;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return codes[i].exit;
	return 1;
}
