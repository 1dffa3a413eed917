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
/* What a tree removal left behind: how many entries it could not remove and
 * the first of them (relative to the tree's parent, control characters
 * replaced by '?') with its errno. */
struct util_rm_report {
	unsigned long left;
	int error;
	char first[256];
};

/*
 * rm -rf of the directory @name in @dirfd, safe in a tree that its owner
 * changes while root removes it: every step is relative to a directory fd
 * (openat O_NOFOLLOW|O_DIRECTORY, fstatat/statx AT_SYMLINK_NOFOLLOW,
 * unlinkat), so a symlink in the tree is removed as a link and never
 * followed, a directory swapped for a symlink half-way is seen as one, and a
 * mount point is not crossed (it is left and reported, EBUSY).  Each
 * directory becomes root's, mode 0700, as the walk enters it, so its owner
 * cannot refill or rearrange it meanwhile (when run as root).  A symlink
 * at @name itself is refused (-ELOOP) and left alone.  Trees deeper than the
 * fds it keeps open are moved up into @name's directory first (renameat).
 * Missing is success.  Returns 0 when everything went, else the first
 * failure's -errno with @rep (may be NULL) saying what is left.
 */
int util_rm_tree_at(int dirfd, const char *name, struct util_rm_report *rep);
/* util_rm_tree_at() on @path; the directories above its last component are trusted. */
int util_rm_rf(const char *path, struct util_rm_report *rep);

/*
 * Open @rel below the directory @dirfd without following a symlink or
 * leaving it: each component is opened with openat(O_NOFOLLOW); absolute
 * paths, "." and ".." components are refused (-EINVAL), a symlink anywhere
 * fails (-ELOOP or -ENOTDIR).  @flags and @mode as for openat (O_NOFOLLOW and
 * O_CLOEXEC are added).
 */
int util_open_beneath(int dirfd, const char *rel, int flags, mode_t mode);
/* The directory holding @rel's last component, opened as util_open_beneath()
 * does; *base points into @rel at that component. */
int util_open_parent_beneath(int dirfd, const char *rel, const char **base);
/* util_write_file() for @name in @dirfd owned by @uid:@gid ((uid_t)-1: as
 * created): a new file renamed over @name, so a symlink there is replaced,
 * never followed. */
int util_write_file_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode, uid_t uid,
		       gid_t gid);

#endif
