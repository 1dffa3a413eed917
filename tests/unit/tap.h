/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: a tiny TAP producer for unit tests
 *
 *   plan(3); ok(x == 1, "x is one"); is_int(a, b, "..."); is_str(s, "v", "..."); return done();
 * Exit status 77 (automake: skipped) via skip_all("reason").
 */
#ifndef TRELLIS_TAP_H
#define TRELLIS_TAP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed, tap_planned;

static inline void plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
}

static inline void skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	exit(77);
}

#define ok(cond, ...)                                                          \
	({                                                                     \
		int _c = !!(cond);                                             \
		tap_n++;                                                       \
		printf("%sok %d - ", _c ? "" : "not ", tap_n);                 \
		printf(__VA_ARGS__);                                           \
		printf("\n");                                                  \
		if (!_c) {                                                     \
			tap_failed++;                                          \
			printf("#   failed at %s:%d\n", __FILE__, __LINE__);   \
		}                                                              \
		_c;                                                            \
	})

#define is_int(got, want, ...)                                                 \
	({                                                                     \
		long long _g = (got), _w = (want);                             \
		int _r = ok(_g == _w, __VA_ARGS__);                            \
		if (!_r)                                                       \
			printf("#   got %lld, want %lld\n", _g, _w);           \
		_r;                                                            \
	})

#define is_str(got, want, ...)                                                 \
	({                                                                     \
		const char *_g = (got), *_w = (want);                          \
		int _r = ok(_g && _w && !strcmp(_g, _w), __VA_ARGS__);         \
		if (!_r)                                                       \
			printf("#   got '%s'\n#  want '%s'\n", _g ? _g : "(null)", \
			       _w ? _w : "(null)");                            \
		_r;                                                            \
	})

/* Substring match, for error messages. */
#define like_str(got, needle, ...)                                             \
	({                                                                     \
		const char *_g = (got), *_n = (needle);                        \
		int _r = ok(_g && _n && strstr(_g, _n), __VA_ARGS__);          \
		if (!_r)                                                       \
			printf("#   got '%s'\n#  want substring '%s'\n",       \
			       _g ? _g : "(null)", _n ? _n : "(null)");        \
		_r;                                                            \
	})

static inline int done(void)
{
	if (tap_planned && tap_n != tap_planned) {
		printf("# planned %d tests but ran %d\n", tap_planned, tap_n);
		return 1;
	}
	return tap_failed ? 1 : 0;
}

#endif
