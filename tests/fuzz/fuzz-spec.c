/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: the slice spec parser (lib/spec.c).
 *
 * Input: spec text, optionally followed by a NUL byte and the text every
 * config-file: reference resolves to (so the FRR config scan is fuzzed too;
 * a spec itself may not contain NUL, the parser refuses control characters).
 * The spec is copied into a buffer of exactly its length, so a read past the
 * end is an ASan error rather than a read of the next input byte.  Both entry
 * points the daemon and the CLI use run: spec_parse() and
 * spec_referenced_files().  Everything they return is freed, so LeakSanitizer
 * sees any leak on an error path.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct conf {
	const uint8_t *text;
	size_t len;
	int present;
};

static int resolve(void *ctx, const char *name, char **out)
{
	const struct conf *c = ctx;

	if (!c->present)
		return -ENOENT;
	if (!strcmp(name, "denied.conf"))
		return -EACCES;
	*out = malloc(c->len + 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, c->text, c->len);
	(*out)[c->len] = '\0';
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t len = nul ? (size_t)(nul - data) : size;
	struct conf conf = { 0 };
	struct trl_slice *s = NULL;
	struct trl_error err;
	char **names = NULL;
	char *text;

	if (nul) {
		conf.text = nul + 1;
		conf.len = size - len - 1;
		conf.present = 1;
	}
	/* malloc(0) may return NULL; keep a valid pointer for empty input. */
	text = malloc(len ? len : 1);
	if (!text)
		return 0;
	memcpy(text, data, len);

	trl_error_clear(&err);
	if (spec_parse(text, len, "fuzz.yaml", resolve, &conf, &s, &err) == 0)
		trl_slice_free(s);
	else if (s)
		abort(); /* failure must not hand out a slice */

	trl_error_clear(&err);
	if (spec_referenced_files(text, len, &names, &err) >= 0)
		spec_free_names(names);

	free(text);
	return 0;
}
