/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: a router's rootfs on a file system of its own
 *
 * See disk.h for the layout.  disk_create() builds image, file system, loop
 * device and mount in that order and unwinds on failure; the loop device is
 * configured with autoclear and its fd closed once mounted, so the mount holds
 * the only reference and the kernel frees the device at unmount (or when the
 * daemon dies between configure and mount).  disk_release() is the one way
 * back, used by delete, rollback, repair and a rootfs that is rebuilt.
 */
#define LOG_MODULE "disk"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/loop.h>
#include "disk.h"
#include "log.h"
#include "units.h"
#include "util.h"

#ifndef LOOP_CONFIGURE
#define LOOP_CONFIGURE 0x4C0A
#endif

#define LOOP_TRIES 16		/* another process may take the free device first */
#define UMOUNT_TRIES 20		/* 50 ms apart: a just-stopped router's last references */

extern char **environ;

void disk_image_path(char *buf, size_t len, const char *lxcpath, const char *container)
{
	snprintf(buf, len, "%s/%s.img", lxcpath, container);
}

int disk_mounted(const char *mnt)
{
	char parent[PATH_MAX];
	struct stat a, b;

	snprintf(parent, sizeof(parent), "%s/..", mnt);
	if (lstat(mnt, &a) < 0 || !S_ISDIR(a.st_mode) || stat(parent, &b) < 0)
		return 0;
	return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}

int disk_usage(const char *mnt, uint64_t *used, uint64_t *avail)
{
	struct statvfs sv;

	if (!disk_mounted(mnt))
		return -ENOENT;
	if (statvfs(mnt, &sv) < 0)
		return -errno;
	*used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	*avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	return 0;
}

static void mib_floor(uint64_t v, char *buf, size_t len)
{
	units_size_format(v & ~((1ULL << 20) - 1), buf, len);
}

/* mke2fs on the image; its complaint (last line) goes into the error. */
static int make_fs(const char *image, uid_t owner, struct trl_error *err)
{
	static const char *const paths[] = { "/usr/sbin/mke2fs", "/sbin/mke2fs" };
	const char *bin = NULL;
	char ext[64], out[1024];
	posix_spawn_file_actions_t fa;
	int pfd[2], status = -1, r;
	size_t n = 0;
	ssize_t k;
	pid_t pid;

	for (size_t i = 0; i < ARRAY_SIZE(paths) && !bin; i++)
		if (access(paths[i], X_OK) == 0)
			bin = paths[i];
	if (!bin)
		return trl_error_set(err, TRL_EUNAVAIL,
				     "limits.disk: mke2fs is not installed on this node (Debian package e2fsprogs)");
	/* nodiscard: on a regular file a discard punches holes, giving back the space fallocate reserved. */
	snprintf(ext, sizeof(ext), "nodiscard,root_owner=%u:%u", (unsigned)owner, (unsigned)owner);
	char *const argv[] = { (char *)bin, "-q", "-F", "-t", "ext4", "-O", "^has_journal", "-m", "0", "-E", ext,
			       (char *)image, NULL };

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return trl_error_errno(err, TRL_EFAILED, errno, "limits.disk: pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	r = posix_spawn(&pid, bin, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (r) {
		close(pfd[0]);
		return trl_error_errno(err, TRL_EFAILED, r, "limits.disk: cannot run '%s'", bin);
	}
	while ((k = read(pfd[0], out + n, sizeof(out) - 1 - n)) > 0 || (k < 0 && errno == EINTR))
		if (k > 0 && (n += (size_t)k) == sizeof(out) - 1)
			n = 0;	/* keep reading; only the tail matters */
	out[n] = '\0';
	close(pfd[0]);
	while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, errno, "limits.disk: waiting for mke2fs");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	while (n && out[n - 1] == '\n')
		out[--n] = '\0';
	return trl_error_set(err, TRL_EFAILED, "limits.disk: mke2fs on '%s' failed (status %d)%s%s", image,
			     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), n ? ": " : "",
			     strrchr(out, '\n') ? strrchr(out, '\n') + 1 : out);
}

/* A free loop device bound to @image (autoclear).  Returns its fd, *dev its path. */
static int loop_attach(const char *image, int image_fd, char *dev, size_t len, struct trl_error *err)
{
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	struct loop_config cfg;
	int e = 0;

	if (ctl < 0)
		return trl_error_errno(err, TRL_EUNAVAIL, errno, "limits.disk: cannot open '/dev/loop-control'");
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = (unsigned)image_fd;
	cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
	snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "%s", image);
	for (int tries = 0; tries < LOOP_TRIES; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE), fd;

		if (n < 0)
			return trl_error_errno(err, TRL_ELIMIT, errno, "limits.disk: no free loop device");
		snprintf(dev, len, "/dev/loop%d", n);
		fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT) {
			/* No devtmpfs to make the node: make it ourselves. */
			if (mknod(dev, S_IFBLK | 0600, makedev(7, (unsigned)n)) < 0 && errno != EEXIST)
				return trl_error_errno(err, TRL_EFAILED, errno, "limits.disk: cannot create '%s'", dev);
			fd = open(dev, O_RDWR | O_CLOEXEC);
		}
		if (fd < 0)
			return trl_error_errno(err, TRL_EFAILED, errno, "limits.disk: cannot open '%s'", dev);
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0)
			return fd;
		e = errno;
		close(fd);
		if (e != EBUSY)
			break;
	}
	return trl_error_errno(err, TRL_EFAILED, e, "limits.disk: cannot attach '%s' to a loop device", image);
}

int disk_create(const char *image, const char *mnt, uint64_t size, uid_t owner, struct trl_error *err)
{
	_cleanup_close_ int fd = -1, loop = -1;
	char dev[32], want[32], have[32], dir[PATH_MAX], *slash;
	struct statvfs sv;
	int r;

	units_size_format(size, want, sizeof(want));
	snprintf(dir, sizeof(dir), "%s", image);
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	fd = open(image, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return trl_error_errno(err, TRL_EFAILED, errno, "limits.disk: cannot create the rootfs image '%s'", image);
	r = fallocate(fd, 0, 0, (off_t)size);
	if (r < 0) {
		int e = errno;

		unlink(image);
		if (e == ENOSPC || e == EDQUOT) {
			if (statvfs(dir, &sv) < 0)
				memset(&sv, 0, sizeof(sv));
			mib_floor((uint64_t)sv.f_bavail * sv.f_frsize, have, sizeof(have));
			return trl_error_set(err, TRL_ELIMIT,
					     "limits.disk: cannot reserve %s for the rootfs: %s free on the file system of '%s'",
					     want, have, dir);
		}
		return trl_error_errno(err, TRL_EFAILED, e,
				       "limits.disk: cannot reserve %s for the rootfs in '%s' (fallocate)", want, image);
	}
	if (make_fs(image, owner, err) < 0)
		goto fail;
	loop = loop_attach(image, fd, dev, sizeof(dev), err);
	if (loop < 0)
		goto fail;
	if (mount(dev, mnt, "ext4", MS_NOSUID | MS_NODEV, "") < 0) {
		trl_error_errno(err, TRL_EFAILED, errno, "limits.disk: cannot mount '%s' (%s) on '%s'", dev, image, mnt);
		goto fail;
	}
	/* Owned by the host's root and useless to the tenant. */
	snprintf(dir, sizeof(dir), "%s/lost+found", mnt);
	rmdir(dir);
	log_debug("rootfs '%s': %s ext4 on %s (%s)", mnt, want, dev, image);
	return 0;
fail:
	/* Closing the configured loop fd (autoclear) detaches it. */
	unlink(image);
	return -err->code;
}

/* Detach loop devices still bound to @image (a mount elsewhere keeps them busy: autoclear then). */
static void loop_detach_stale(const char *image)
{
	_cleanup_free_ char *text = NULL;
	struct dirent *de;
	DIR *d = opendir("/sys/block");
	char path[PATH_MAX];
	size_t len;

	if (!d)
		return;
	len = strlen(image);
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "loop", 4))
			continue;
		free(text);
		text = NULL;
		snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file", de->d_name);
		if (util_read_file(path, PATH_MAX, &text, NULL) < 0 || strncmp(text, image, len) ||
		    (text[len] != '\n' && text[len] != '\0' && strcmp(text + len, " (deleted)\n")))
			continue;
		snprintf(path, sizeof(path), "/dev/%s", de->d_name);
		int fd = open(path, O_RDWR | O_CLOEXEC);

		/* ENXIO: autoclear got there first.  A device still in use only gets autoclear set. */
		if (fd >= 0) {
			if (ioctl(fd, LOOP_CLR_FD, 0) < 0 && errno != ENXIO)
				log_warn("cannot detach '%s' from '%s': %s", path, image, strerror(errno));
			close(fd);
		}
	}
	closedir(d);
}

int disk_release(const char *image, const char *mnt, struct trl_error *err)
{
	struct stat st;
	int was = 0;

	for (int tries = 0; disk_mounted(mnt); tries++) {
		was = 1;
		if (umount2(mnt, UMOUNT_NOFOLLOW) == 0)
			continue;
		if (errno != EBUSY)
			return trl_error_errno(err, TRL_EFAILED, errno, "cannot unmount the rootfs '%s'", mnt);
		if (tries < UMOUNT_TRIES) {
			nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 * 1000 }, NULL);
			continue;
		}
		/* Still held (a process of the router outlived it): detach, the kernel frees it later. */
		log_warn("rootfs '%s' is still busy: detached lazily", mnt);
		if (umount2(mnt, UMOUNT_NOFOLLOW | MNT_DETACH) < 0)
			return trl_error_errno(err, TRL_EFAILED, errno, "cannot unmount the rootfs '%s'", mnt);
	}
	if (lstat(image, &st) == 0 || was)
		loop_detach_stale(image);
	if (unlink(image) < 0 && errno != ENOENT)
		return trl_error_errno(err, TRL_EFAILED, errno, "cannot remove the rootfs image '%s'", image);
	return 0;
}
