/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: small file helpers used by the daemon and the CLI
 *
 * Plain path helpers for files only root can write (the state directory),
 * and fd-relative ones for trees a tenant can write (a router's rootfs):
 * util_rm_tree_at(), util_open_beneath(), util_write_file_at() never follow
 * a symlink or a path through one (see the comment above them).
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "util.h"

int util_read_file(const char *path, size_t max, char **out, size_t *len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, n = 0;
	char *buf;

	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			char *nb;

			if (cap > max) {
				free(buf);
				return -EFBIG;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return -errno;
		}
		if (r == 0)
			break;
		n += r;
	}
	if (n > max) {
		free(buf);
		return -EFBIG;
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

int util_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[4096];
	const char *p = data;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			close(fd);
			unlink(tmp);
			return -e;
		}
		p += w;
		len -= w;
	}
	if (fchmod(fd, mode) < 0 || close(fd) < 0) {
		int e = errno;

		unlink(tmp);
		return -e;
	}
	if (rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		return -e;
	}
	return 0;
}

int util_mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* --- trees a tenant can write -------------------------------------------
 * Root walks these only through directory fds: a name is looked up in the
 * directory it was listed in, with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW, and a
 * directory is entered only after checking that what was opened is what was
 * examined (same inode, same mount).  Its owner may rename and swap entries
 * all along: the walk then sees the new entry, never a path through it. */

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif

#define RM_DEPTH 32	/* directory fds held open; deeper subtrees are moved up */
#define RM_PASSES 16	/* re-reads of a directory that is still not empty (concurrent writers) */
#define RM_RETRIES 8	/* re-examinations of one entry that changed type under us */

struct rm_walk {
	int top;		/* the tree's root directory */
	uint64_t mnt;		/* its mount (statx), 0 if unknown */
	dev_t dev;
	unsigned long moved;	/* subtrees moved up into top */
	unsigned long left;	/* entries given up on, this walk */
	struct util_rm_report *rep;
	char path[PATH_MAX];	/* the directory being walked, for reports */
	size_t plen;
};

/* Identity of a directory entry (or, with name "", of @fd itself). */
static int rm_stat(int fd, const char *name, struct statx *sx)
{
	int flags = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | (*name ? 0 : AT_EMPTY_PATH);

	if (statx(fd, name, flags, STATX_TYPE | STATX_INO | STATX_MNT_ID, sx) < 0)
		return -errno;
	if (!(sx->stx_mask & STATX_MNT_ID))
		sx->stx_mnt_id = 0;
	return 0;
}

static void rm_fail(struct rm_walk *w, const char *name, int e)
{
	w->left++;
	if (!w->rep)
		return;
	if (!w->rep->left++) {
		w->rep->error = e;
		snprintf(w->rep->first, sizeof(w->rep->first), "%.*s%s%s", (int)w->plen, w->path,
			 w->plen && *name ? "/" : "", name);
		/* The tenant names these: no control characters into messages and logs. */
		for (char *c = w->rep->first; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
	}
}

static int rm_contents(struct rm_walk *w, int fd, int depth);

/* A directory about to be emptied becomes root's 0700: its owner can no
 * longer add, rename or swap entries in it (not even through an fd it holds),
 * so the walk does not race a writer that refills it. */
static void rm_seize(int fd)
{
	if (fchown(fd, 0, 0) == 0)
		fchmod(fd, 0700);
}

/* Remove one entry of the directory @fd.  0: gone; -EAGAIN: it changed
 * type while we looked, look again; other -errno: given up (reported). */
static int rm_entry(struct rm_walk *w, int fd, const char *name, int depth)
{
	struct statx sx, in;
	_cleanup_close_ int sub = -1;
	size_t plen = w->plen;
	int r;

	if ((r = rm_stat(fd, name, &sx)) < 0) {
		if (r == -ENOENT)
			return 0;
		rm_fail(w, name, -r);
		return r;
	}
	if (!S_ISDIR(sx.stx_mode)) {
		if (unlinkat(fd, name, 0) == 0 || errno == ENOENT)
			return 0;
		if (errno == EISDIR)
			return -EAGAIN;
		r = -errno;
		rm_fail(w, name, -r);
		return r;
	}
	/* A mount point (another file system, or a bind mount of this one): not crossed. */
	if (makedev(sx.stx_dev_major, sx.stx_dev_minor) != w->dev || (w->mnt && sx.stx_mnt_id != w->mnt)) {
		rm_fail(w, name, EBUSY);
		return -EBUSY;
	}
	if (depth >= RM_DEPTH) {
		char up[64];

		snprintf(up, sizeof(up), ".trellis-rm-%lu", ++w->moved);
		if (renameat(fd, name, w->top, up) == 0)
			return 0;
		if (errno == ENOENT)
			return 0;
		r = -errno;
		rm_fail(w, name, -r);
		return r;
	}
	sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (sub < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ENOTDIR || errno == ELOOP)
			return -EAGAIN; /* swapped for a symlink or a file since the statx */
		r = -errno;
		rm_fail(w, name, -r);
		return r;
	}
	if (rm_stat(sub, "", &in) < 0 || in.stx_ino != sx.stx_ino ||
	    in.stx_dev_major != sx.stx_dev_major || in.stx_dev_minor != sx.stx_dev_minor ||
	    in.stx_mnt_id != sx.stx_mnt_id)
		return -EAGAIN;	/* swapped for another directory (or mounted over) */
	rm_seize(sub);
	if (w->plen + 1 + strlen(name) < sizeof(w->path))
		w->plen += (size_t)snprintf(w->path + w->plen, sizeof(w->path) - w->plen, "%s%s", w->plen ? "/" : "",
					    name);
	r = rm_contents(w, sub, depth + 1);
	w->plen = plen;
	w->path[plen] = '\0';
	if (r < 0)
		return r;	/* what is left inside is reported */
	if (unlinkat(fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return 0;
	if (errno == ENOTEMPTY || errno == ENOTDIR)
		return -EAGAIN;	/* refilled, or swapped, after we emptied it */
	r = -errno;
	rm_fail(w, name, -r);
	return r;
}

/* Empty the directory @fd.  0 when it is empty, else the first failure's -errno. */
static int rm_contents(struct rm_walk *w, int fd, int depth)
{
	for (int pass = 0;; pass++) {
		unsigned long left = w->left, moved = w->moved;
		int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), seen = 0, first = 0;
		struct dirent *de;
		DIR *d;

		if (dfd < 0 || !(d = fdopendir(dfd))) {
			int e = errno;

			if (dfd >= 0)
				close(dfd);
			rm_fail(w, "", e);
			return -e;
		}
		while ((de = readdir(d))) {
			int r = -EAGAIN;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			seen++;
			for (int t = 0; r == -EAGAIN && t < RM_RETRIES; t++)
				r = rm_entry(w, fd, de->d_name, depth);
			if (r == -EAGAIN) {
				rm_fail(w, de->d_name, EAGAIN);
				r = -EAGAIN;
			}
			if (r < 0 && !first)
				first = r;
		}
		closedir(d);
		if (w->left != left)
			return first;	/* permanent failures: another pass would meet them again */
		if (!seen)
			return 0;
		/* New entries (a writer, or subtrees moved up into top): read it again. */
		if (pass >= RM_PASSES && w->moved == moved) {
			rm_fail(w, "", ENOTEMPTY);
			return -ENOTEMPTY;
		}
	}
}

int util_rm_tree_at(int dirfd, const char *name, struct util_rm_report *rep)
{
	struct rm_walk w = { .rep = rep };
	_cleanup_close_ int top = -1;
	struct statx sx;
	int r;

	if (rep)
		memset(rep, 0, sizeof(*rep));
	if ((r = rm_stat(dirfd, name, &sx)) < 0) {
		if (r == -ENOENT)
			return 0;
		rm_fail(&w, name, -r);
		return r;
	}
	if (S_ISLNK(sx.stx_mode)) {
		rm_fail(&w, name, ELOOP);
		return -ELOOP;
	}
	if (!S_ISDIR(sx.stx_mode)) {
		if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
			return 0;
		r = -errno;
		rm_fail(&w, name, -r);
		return r;
	}
	top = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (top < 0 || rm_stat(top, "", &sx) < 0) {
		r = -errno;
		rm_fail(&w, name, -r);
		return r;
	}
	rm_seize(top);
	w.top = top;
	w.dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	w.mnt = sx.stx_mnt_id;
	w.plen = (size_t)snprintf(w.path, sizeof(w.path), "%s", name);
	r = rm_contents(&w, top, 0);
	if (r < 0)
		return r;
	w.plen = 0;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return 0;
	r = -errno;
	rm_fail(&w, name, -r);
	return r;
}

int util_rm_rf(const char *path, struct util_rm_report *rep)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	_cleanup_close_ int fd = -1;

	if (rep)
		memset(rep, 0, sizeof(*rep));
	if (strlen(path) >= sizeof(parent))
		return -ENAMETOOLONG;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return -EINVAL;
	if (!slash)
		snprintf(parent, sizeof(parent), ".");
	else if (slash == path)
		snprintf(parent, sizeof(parent), "/");
	else
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - path), path);
	fd = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	return util_rm_tree_at(fd, base, rep);
}

/* The next component of @p (no '/'), or -EINVAL for "", "." and "..". */
static int component(const char **p, char *buf, size_t len)
{
	const char *s = *p, *e = strchr(s, '/');
	size_t n = e ? (size_t)(e - s) : strlen(s);

	if (!n || n >= len || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	*p = e ? e + 1 : s + n;
	return 0;
}

int util_open_parent_beneath(int dirfd, const char *rel, const char **base)
{
	const char *p = rel, *last = strrchr(rel, '/');
	int fd;

	if (rel[0] == '/' || !rel[0])
		return -EINVAL;
	fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	*base = last ? last + 1 : rel;
	while (last && p < last + 1) {
		char comp[NAME_MAX + 1];
		int next, r = component(&p, comp, sizeof(comp));

		if (r < 0) {
			close(fd);
			return r;
		}
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		r = -errno;
		close(fd);
		if (next < 0)
			return r;
		fd = next;
	}
	{
		char comp[NAME_MAX + 1];
		const char *q = *base;

		if (component(&q, comp, sizeof(comp)) < 0) {
			close(fd);
			return -EINVAL;
		}
	}
	return fd;
}

int util_open_beneath(int dirfd, const char *rel, int flags, mode_t mode)
{
	const char *base;
	_cleanup_close_ int parent = util_open_parent_beneath(dirfd, rel, &base);
	int fd;

	if (parent < 0)
		return parent;
	fd = openat(parent, base, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	return fd < 0 ? -errno : fd;
}

int util_write_file_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode, uid_t uid,
		       gid_t gid)
{
	char tmp[NAME_MAX + 1];
	const char *p = data;
	int fd, e = 0;

	if (strchr(name, '/') || snprintf(tmp, sizeof(tmp), ".%.200s.tmp%d", name, (int)getpid()) >= (int)sizeof(tmp))
		return -EINVAL;
	unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (len > 0 && !e) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno != EINTR)
			e = errno;
		if (w > 0) {
			p += w;
			len -= (size_t)w;
		}
	}
	if (!e && uid != (uid_t)-1 && fchown(fd, uid, gid) < 0)
		e = errno;
	if (!e && fchmod(fd, mode) < 0)
		e = errno;
	if (close(fd) < 0 && !e)
		e = errno;
	if (!e && renameat(dirfd, tmp, dirfd, name) < 0)
		e = errno;
	if (e)
		unlinkat(dirfd, tmp, 0);
	return -e;
}

int util_have_cap(int cap)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
	char line[256];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "CapEff:", 7))
			return (int)((strtoull(line + 7, NULL, 16) >> cap) & 1);
	return 0;
}
