/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: host-wide claims
 *
 * Several trellisd may run on one host (a production daemon beside test
 * daemons, or emulated substrate nodes).  What must be theirs alone is claimed
 * under CLAIM_ROOT (/run/trellis/claims, root-only), so that a clash is refused
 * instead of one daemon silently tearing down the other's objects:
 *
 *   nodes/NAME.lock   held with flock() for the daemon's lifetime.  The node
 *                     name names the bpffs pin directory and the cgroup subtree
 *                     (trellis/NAME), so a second daemon on the same name is
 *                     refused at start, naming the holder (pid, state dir).
 *   uids/BASE/NODE    one file per daemon holding the 65536-wide id range that
 *                     starts at host uid BASE for one of its slices; content
 *                     "SLICE OWNER_UID STATE_DIR".  Allocation (under the flock
 *                     of uids/.lock) skips every range that overlaps one held
 *                     by another slice.  A cluster slice (its range chosen by
 *                     the cluster, the same on every node) may hold one range
 *                     on several emulated nodes of one host: the same name and
 *                     owner there is one tenant's slice realized in parts.
 *
 * A range claim outlives its daemon (a killed daemon's routers keep running
 * and are re-adopted); it is stale only when the state directory it names is
 * gone (then the next allocation removes it), or, for this daemon's own node, when its store does not hold
 * the slice (claim_uid_forget() after a failed create).  /run is a tmpfs, so a
 * reboot clears the claims with the routers; the start-up reconciliation
 * claims again what it re-adopts.  A starting daemon removes the node lock
 * files nobody holds (daemons killed without a clean stop) and the range
 * claims whose state directory is gone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "claim.h"
#include "log.h"
#include "util.h"

#define UID_SPAN 65536u

static char claim_root[256] = CLAIM_ROOT;

void claim_set_root(const char *root)
{
	snprintf(claim_root, sizeof(claim_root), "%s", root);
}

static int mkdir_private(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(path, &st) < 0)
		return -errno;
	/* Only root may have made it, and nobody else may write into it. */
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
		return -EPERM;
	return 0;
}

static int claim_dirs(void)
{
	char p[512];
	int r;

	if ((r = util_mkdir_p(claim_root, 0700)) < 0)
		return r;
	if ((r = mkdir_private(claim_root)) < 0)
		return r;
	snprintf(p, sizeof(p), "%s/nodes", claim_root);
	if ((r = mkdir_private(p)) < 0)
		return r;
	snprintf(p, sizeof(p), "%s/uids", claim_root);
	return mkdir_private(p);
}

/* Lock files of daemons that died without a clean stop: nobody holds them. */
static void sweep_node_locks(const char *own)
{
	char p[512];
	DIR *dir;
	struct dirent *e;

	snprintf(p, sizeof(p), "%s/nodes", claim_root);
	dir = opendir(p);
	if (!dir)
		return;
	while ((e = readdir(dir))) {
		size_t n = strlen(e->d_name);
		struct stat a, b;
		int fd;

		if (e->d_name[0] == '.' || n < 6 || strcmp(e->d_name + n - 5, ".lock") ||
		    (!strncmp(e->d_name, own, n - 5) && strlen(own) == n - 5))
			continue;
		fd = openat(dirfd(dir), e->d_name, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &a) == 0 &&
		    fstatat(dirfd(dir), e->d_name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_ino == b.st_ino)
			unlinkat(dirfd(dir), e->d_name, 0);	/* while holding it, as claim_node_release() does */
		close(fd);
	}
	closedir(dir);
}

struct holder {
	char node[64];
	char slice[128];
	unsigned long owner;
	char state_dir[4096];
	int shared;
};

static int holder_read(int dirfd, const char *name, struct holder *h)
{
	char buf[4400];
	ssize_t n;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	buf[n] = '\0';
	snprintf(h->node, sizeof(h->node), "%s", name);
	h->shared = 0;
	if (sscanf(buf, "%127s %lu %4095s %d", h->slice, &h->owner, h->state_dir, &h->shared) < 3)
		return -EINVAL;
	return 0;
}

static int lock_uids(void);

/* Range claims whose state dir is gone (their daemon and its state were removed). */
static void sweep_uid_claims(const char *own)
{
	char p[512];
	DIR *dir;
	struct dirent *e;
	int lk = lock_uids();

	if (lk < 0)
		return;
	snprintf(p, sizeof(p), "%s/uids", claim_root);
	dir = opendir(p);
	while (dir && (e = readdir(dir))) {
		DIR *hd;
		struct dirent *he;
		int dfd;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		dfd = openat(dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (dfd < 0 || !(hd = fdopendir(dfd))) {
			if (dfd >= 0)
				close(dfd);
			continue;
		}
		while ((he = readdir(hd))) {
			struct holder h;

			if (he->d_name[0] == '.' || holder_read(dirfd(hd), he->d_name, &h) < 0 || !strcmp(h.node, own))
				continue;
			if (access(h.state_dir, F_OK) < 0 && errno == ENOENT)
				unlinkat(dirfd(hd), he->d_name, 0);
		}
		closedir(hd);
		unlinkat(dirfd(dir), e->d_name, AT_REMOVEDIR);	/* fails while a holder is left */
	}
	if (dir)
		closedir(dir);
	close(lk);
}

int claim_node(const char *node, const char *state_dir, int *fd_out, struct trl_error *err)
{
	char path[512], held[4200];
	int fd, r;
	ssize_t n;

	if ((r = claim_dirs()) < 0)
		return trl_error_set(err, TRL_EFAILED, "cannot use '%s' for host-wide claims: %s", claim_root,
				     strerror(-r));
	snprintf(path, sizeof(path), "%s/nodes/%s.lock", claim_root, node);
again:
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return trl_error_set(err, TRL_EFAILED, "cannot open '%s': %s", path, strerror(errno));
	/* A daemon sweeping stale lock files (below) may hold ours for an instant. */
	for (int i = 0; i < 10 && flock(fd, LOCK_EX | LOCK_NB) < 0; i++)
		usleep(20000);
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		struct stat a, b;

		/* The holder before us may have removed the file as it stopped: lock the one that is there. */
		if (fstat(fd, &a) < 0 || stat(path, &b) < 0 || a.st_ino != b.st_ino) {
			close(fd);
			goto again;
		}
	} else {
		n = pread(fd, held, sizeof(held) - 1, 0);
		held[n > 0 ? n : 0] = '\0';
		held[strcspn(held, "\n")] = '\0';
		close(fd);
		return trl_error_set(err, TRL_EEXIST,
				     "node name '%s' is held by a live trellisd (%s): it names the bpffs pin directory and the cgroup subtree, so a second daemon on this host needs another --node",
				     node, held[0] ? held : "pid unknown");
	}
	snprintf(held, sizeof(held), "pid %ld, state dir %s\n", (long)getpid(), state_dir);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, held, strlen(held), 0) < 0)
		log_warn("cannot write '%s': %s", path, strerror(errno));
	*fd_out = fd;
	sweep_node_locks(node);
	sweep_uid_claims(node);
	return 0;
}

void claim_node_release(const char *node, int fd)
{
	char path[512];

	if (fd < 0)
		return;
	snprintf(path, sizeof(path), "%s/nodes/%s.lock", claim_root, node);
	unlink(path);	/* while still holding it (claim_node() checks which file it locked) */
	close(fd);
}

/* Is @h still somebody's?  Another node's holder lives while its state dir does. */
static int holder_live(const struct holder *h, const char *node, int (*ours)(const char *slice, void *arg),
		       void *arg)
{
	struct stat st;

	if (!strcmp(h->node, node))
		return ours ? ours(h->slice, arg) : 1;
	return stat(h->state_dir, &st) == 0;
}

/*
 * Does the range at @base overlap one held by another slice?  Fills @who with
 * the holder when it does.
 */
static int range_taken(unsigned base, const struct claim_uid *c, char *who, size_t wlen)
{
	char p[512];
	DIR *dir;
	struct dirent *e;
	int taken = 0;

	snprintf(p, sizeof(p), "%s/uids", claim_root);
	dir = opendir(p);
	if (!dir)
		return 0;
	while (!taken && (e = readdir(dir))) {
		char *end;
		unsigned long b = strtoul(e->d_name, &end, 10);
		DIR *hd;
		struct dirent *he;
		int dfd;

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || *end)
			continue;
		if (b + UID_SPAN <= base || (unsigned long)base + UID_SPAN <= b)
			continue;
		dfd = openat(dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (dfd < 0)
			continue;
		hd = fdopendir(dfd);
		if (!hd) {
			close(dfd);
			continue;
		}
		while ((he = readdir(hd))) {
			struct holder h;

			if (he->d_name[0] == '.' || holder_read(dirfd(hd), he->d_name, &h) < 0)
				continue;
			if (b == base && c->shared && h.shared && !strcmp(h.slice, c->slice) && h.owner == c->owner)
				continue;	/* the same cluster slice, another part of it */
			if (!strcmp(h.node, c->node) && !strcmp(h.slice, c->slice))
				continue;	/* our own earlier claim for this slice */
			if (!holder_live(&h, c->node, c->ours, c->arg)) {
				/* Another daemon's claim whose state dir is gone: nobody's, remove it (under the lock). */
				if (strcmp(h.node, c->node) && access(h.state_dir, F_OK) < 0 && errno == ENOENT)
					unlinkat(dirfd(hd), he->d_name, 0);
				continue;
			}
			snprintf(who, wlen, "slice '%s' of node '%s' (state dir %s) holds %lu-%lu", h.slice, h.node,
				 h.state_dir, b, b + UID_SPAN - 1);
			taken = 1;
			break;
		}
		closedir(hd);
		if (!taken)
			unlinkat(dirfd(dir), e->d_name, AT_REMOVEDIR);	/* fails while a holder is left */
	}
	closedir(dir);
	return taken;
}

static int lock_uids(void)
{
	char p[512];
	int fd;

	if (claim_dirs() < 0)
		return -EPERM;
	snprintf(p, sizeof(p), "%s/uids/.lock", claim_root);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static int holder_write(unsigned base, const struct claim_uid *c)
{
	char p[512], tmp[600], buf[4400];
	int fd, r = 0;

	snprintf(p, sizeof(p), "%s/uids/%u", claim_root, base);
	if ((r = mkdir_private(p)) < 0)
		return r;
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", p, c->node);
	snprintf(buf, sizeof(buf), "%s %lu %s %d\n", c->slice, c->owner, c->state_dir, c->shared);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf))
		r = -EIO;
	close(fd);
	snprintf(p + strlen(p), sizeof(p) - strlen(p), "/%s", c->node);
	if (r == 0 && rename(tmp, p) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int claim_uid_take(const struct claim_uid *c, unsigned start, unsigned count, unsigned want_index,
		   unsigned *index_out, struct trl_error *err)
{
	char who[4400] = "";
	unsigned idx;
	int lk, r;

	lk = lock_uids();
	if (lk < 0)
		return trl_error_set(err, TRL_EFAILED, "cannot lock the host's uid range claims under '%s': %s",
				     claim_root, strerror(-lk));
	/* The cluster's choice first (the same range on every node); where another
	 * slice on this host holds it, this node's part takes the first free one. */
	idx = want_index;
	if (!idx || (unsigned long long)(idx + 1) * UID_SPAN > count || range_taken(start + idx * UID_SPAN, c, who, sizeof(who))) {
		if (want_index)
			log_info("slice '%s': uid range %u is held on this host (%s): taking another", c->slice,
				 want_index, who);
		for (idx = 1; (unsigned long long)(idx + 1) * UID_SPAN <= count; idx++) {
			if (c->skip_index && c->skip_index(idx, c->arg))
				continue;	/* this daemon's own store uses it */
			if (!range_taken(start + idx * UID_SPAN, c, who, sizeof(who)))
				break;
		}
	}
	if ((unsigned long long)(idx + 1) * UID_SPAN > count) {
		close(lk);
		return trl_error_set(err, TRL_ELIMIT,
				     "out of subordinate uid ranges: root's range %u:%u holds %u slices, all used on this host%s%s (widen it in /etc/subuid and /etc/subgid)",
				     start, count, count / UID_SPAN - 1, who[0] ? "; last: " : "", who);
	}
	r = holder_write(start + idx * UID_SPAN, c);
	close(lk);
	if (r < 0)
		return trl_error_set(err, TRL_EFAILED, "cannot claim uid range %u under '%s': %s", idx, claim_root,
				     strerror(-r));
	*index_out = idx;
	return 0;
}

int claim_uid_hold(const struct claim_uid *c, unsigned base, struct trl_error *err)
{
	char who[4400];
	int lk, r;

	lk = lock_uids();
	if (lk < 0)
		return trl_error_set(err, TRL_EFAILED, "cannot lock the host's uid range claims under '%s': %s",
				     claim_root, strerror(-lk));
	if (range_taken(base, c, who, sizeof(who))) {
		close(lk);
		return trl_error_set(err, TRL_EEXIST, "uid range %u-%u of slice '%s': %s", base,
				     base + UID_SPAN - 1, c->slice, who);
	}
	r = holder_write(base, c);
	close(lk);
	if (r < 0)
		return trl_error_set(err, TRL_EFAILED, "cannot claim uid range %u under '%s': %s", base, claim_root,
				     strerror(-r));
	return 0;
}

void claim_uid_release(const char *node, const char *slice, unsigned base)
{
	char p[512];
	struct holder h;
	int lk, dfd;

	lk = lock_uids();
	if (lk < 0)
		return;
	snprintf(p, sizeof(p), "%s/uids/%u", claim_root, base);
	dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd >= 0) {
		/* Only this slice's claim: a later slice may hold the range already. */
		if (holder_read(dfd, node, &h) == 0 && !strcmp(h.slice, slice))
			unlinkat(dfd, node, 0);
		close(dfd);
		rmdir(p);	/* fails while another node's part holds it */
	}
	close(lk);
}
