/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Replay a committed fuzz corpus through its target in `make check`.
 *
 * Linked with one fuzz target (fuzz-spec.c or fuzz-proto.c) but without
 * libFuzzer, so every build (gcc, clang, --enable-asan) runs each seed and
 * each fixed reproducer of tests/fuzz/corpus/FUZZ_CORPUS/ once: one TAP line
 * per file.  A crash or sanitizer report ends the program (the TAP driver
 * reports the error); an input that runs longer than 10 s is killed by
 * SIGALRM, which catches hangs like the one libfyaml had on bad UTF-8.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tap.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int regular(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

int main(void)
{
	const char *dir = TRL_SRCDIR "/tests/fuzz/corpus/" FUZZ_CORPUS;
	struct dirent **names;
	int n = scandir(dir, &names, regular, by_name);

	if (n <= 0) {
		printf("1..0 # SKIP no corpus in '%s'\n", dir);
		return 77;
	}
	plan(n);
	for (int i = 0; i < n; i++) {
		char path[4096];
		char *data = NULL;
		size_t len = 0;
		int r;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		r = util_read_file(path, 1 << 20, &data, &len);
		if (r < 0) {
			ok(0, "%s: cannot read (%s)", names[i]->d_name, strerror(-r));
		} else {
			alarm(10);
			LLVMFuzzerTestOneInput((const uint8_t *)data, len);
			alarm(0);
			ok(1, "%s/%s (%zu bytes)", FUZZ_CORPUS, names[i]->d_name, len);
		}
		free(data);
		free(names[i]);
	}
	free(names);
	return done();
}
