/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* DOC: small helpers shared by every component: cleanup attributes, ownership transfer. */
#ifndef TRELLIS_UTIL_H
#define TRELLIS_UTIL_H

#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>
#include <stddef.h>

static inline void cleanup_freep(void *p)
{
	free(*(void **)p);
}
static inline void cleanup_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
static inline void cleanup_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define _cleanup_free_ __attribute__((cleanup(cleanup_freep)))
#define _cleanup_close_ __attribute__((cleanup(cleanup_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(cleanup_fclosep)))

#define TAKE_PTR(p)                                                            \
	({                                                                     \
		__typeof__(p) _p = (p);                                        \
		(p) = NULL;                                                    \
		_p;                                                            \
	})
#define TAKE_FD(fd)                                                            \
	({                                                                     \
		int _fd = (fd);                                                \
		(fd) = -1;                                                     \
		_fd;                                                           \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Read a whole file (at most @max bytes) into a NUL-terminated buffer. -errno on failure. */
int util_read_file(const char *path, size_t max, char **out, size_t *len);
/* Write @len bytes to @path (created 0644 or truncated) atomically via rename. */
int util_write_file(const char *path, const void *data, size_t len, mode_t mode);
/* mkdir -p. */
int util_mkdir_p(const char *path, mode_t mode);
/* 1 if this process has capability @cap in its effective set (/proc/self/status). */
int util_have_cap(int cap);
/* rm -rf, not crossing mount points; missing path is success. */
int util_rm_rf(const char *path);

#endif
