/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slice spec parser
 *
 * Parses the YAML slice spec (format: man/trellis-slice.5) with libfyaml into
 * a struct trl_slice and validates it completely before anything touches the
 * kernel.  Every error names file:line:col, the field and the reason:
 *   ospf-pair.yaml:12:7: links[0].endpoints[1]: router 'r3' is not defined
 *
 * config-file: references are resolved through a callback, so the daemon can
 * take file contents the CLI read on the user's behalf (proto "files" map)
 * and never reads paths a tenant names.
 */
#ifndef TRELLIS_SPEC_H
#define TRELLIS_SPEC_H

#include <stddef.h>
#include "model.h"
#include "error.h"

/* Resolve a config-file: name.  Return 0 and a malloc'd NUL-terminated text in
 * *out, or -errno (e.g. -ENOENT) on failure. */
typedef int (*spec_file_resolver)(void *ctx, const char *name, char **out);

/*
 * Parse and validate @text (@len bytes; @filename is used in messages only).
 * On success *out is a new slice (free with trl_slice_free) and 0 is returned.
 * On failure returns -TRL_EINVALID with err->msg = "file:line:col: field: reason".
 * @resolve may be NULL: then any config-file: is an error.
 */
int spec_parse(const char *text, size_t len, const char *filename,
	       spec_file_resolver resolve, void *resolve_ctx,
	       struct trl_slice **out, struct trl_error *err);

/*
 * List the config-file: names a spec refers to (without validating the rest),
 * so a client can read and attach them.  *names is a NULL-terminated malloc'd
 * array of malloc'd strings.  Returns count or -TRL_EINVALID on a YAML error.
 */
int spec_referenced_files(const char *text, size_t len, char ***names, struct trl_error *err);
void spec_free_names(char **names);

/*
 * Parse one limit, as a spec's limits: mapping or 'trellis slice set' gives
 * it: @field is "cpu", "cpu-weight", "memory", "pids" or "disk"; the value goes into
 * its member of @l.  -EINVAL with the reason in @why (the same words the
 * spec parser uses), -ENOENT for an unknown field.
 */
int spec_limit_parse(const char *field, const char *text, struct trl_limits *l, char *why, size_t len);

#endif
