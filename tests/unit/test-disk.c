/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for trellisd/disk.c, a router's rootfs on its own file system,
 * against the real kernel: fallocate on a small tmpfs that cannot hold the
 * image (the refusal names limits.disk, the size and the free space, and
 * leaves no image), then a real image: ext4 of the size, loop device with
 * autoclear, mounted nosuid,nodev with the root owned by the given uid,
 * usage as statvfs sees it, and a release that leaves no mount, loop device
 * or image; release is idempotent.  Needs root, loop devices and mke2fs
 * (skipped otherwise).  Runs in a private mount namespace, so a crash
 * leaves no mount behind (and autoclear then frees the loop device).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tap.h"
#include "disk.h"
#include "util.h"

/* Is any loop device backed by @image? */
static int loop_bound(const char *image)
{
	DIR *d = opendir("/sys/block");
	struct dirent *de;
	int found = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) && !found) {
		char path[512], *text = NULL;

		if (strncmp(de->d_name, "loop", 4))
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file", de->d_name);
		if (util_read_file(path, 4096, &text, NULL) == 0 && !strncmp(text, image, strlen(image)))
			found = 1;
		free(text);
	}
	closedir(d);
	return found;
}

/* The mountinfo line of @mnt, or "". */
static const char *mountinfo(const char *mnt)
{
	static char line[1024];
	char want[600];
	FILE *f = fopen("/proc/self/mountinfo", "re");

	line[0] = '\0';
	if (!f)
		return line;
	snprintf(want, sizeof(want), " %s ", mnt);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, want))
			break;
		else
			line[0] = '\0';
	fclose(f);
	return line;
}

int main(void)
{
	char dir[] = "/tmp/test-disk.XXXXXX", small[256], big[256], image[300], mnt[300], path[400], want[512];
	struct trl_error err = { 0 };
	uint64_t used = 0, avail = 0;
	struct stat st;
	int r, fd;

	if (geteuid() != 0)
		skip_all("needs root (loop devices, mounts)");
	if (access("/dev/loop-control", F_OK) < 0)
		skip_all("no /dev/loop-control");
	if (access("/usr/sbin/mke2fs", X_OK) < 0 && access("/sbin/mke2fs", X_OK) < 0)
		skip_all("no mke2fs (e2fsprogs)");
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		skip_all("cannot make a private mount namespace");
	if (!mkdtemp(dir))
		skip_all("mkdtemp failed");
	snprintf(small, sizeof(small), "%s/small", dir);
	snprintf(big, sizeof(big), "%s/big", dir);
	mkdir(small, 0700);
	mkdir(big, 0700);
	/* The real image goes on /tmp's file system, as one does on the state directory's. */
	if (mount("tmpfs", small, "tmpfs", 0, "size=8m") < 0)
		skip_all("cannot mount tmpfs");

	disk_image_path(image, sizeof(image), "/var/lib/trellis/lxc", "blue.r1");
	is_str(image, "/var/lib/trellis/lxc/blue.r1.img", "image path: next to the container directory");

	/* An image the file system has no room for: refused at create, nothing left. */
	disk_image_path(image, sizeof(image), small, "blue.r1");
	snprintf(mnt, sizeof(mnt), "%s/blue.r1/rootfs", small);
	util_mkdir_p(mnt, 0755);
	r = disk_create(image, mnt, 16ULL << 20, 100000, &err);
	snprintf(want, sizeof(want), "limits.disk: cannot reserve 16M for the rootfs: 8M free on the file system of '%s'",
		 small);
	is_int(r, -TRL_ELIMIT, "16M image on an 8M file system: refused as out of a resource");
	is_str(err.msg, want, "the refusal names limits.disk, the size and the free space");
	ok(access(image, F_OK) < 0 && errno == ENOENT, "no image left");
	ok(!disk_mounted(mnt), "nothing mounted");
	ok(!loop_bound(image), "no loop device");

	/* A real one. */
	disk_image_path(image, sizeof(image), big, "blue.r1");
	snprintf(mnt, sizeof(mnt), "%s/blue.r1/rootfs", big);
	util_mkdir_p(mnt, 0755);
	trl_error_clear(&err);
	r = disk_create(image, mnt, 16ULL << 20, 100000, &err);
	if (!ok(r == 0, "16M image created and mounted"))
		printf("#   %s\n", err.msg);
	ok(stat(image, &st) == 0 && st.st_size == 16 << 20 && (uint64_t)st.st_blocks * 512 >= 16ULL << 20,
	   "the image is 16M and its blocks are allocated (fallocate, not sparse)");
	ok(disk_mounted(mnt), "disk_mounted: yes");
	ok(strstr(mountinfo(mnt), "nosuid,nodev") && strstr(mountinfo(mnt), " - ext4 /dev/loop"),
	   "mounted ext4 from a loop device, nosuid,nodev");
	ok(loop_bound(image), "a loop device is bound to the image");
	ok(stat(mnt, &st) == 0 && st.st_uid == 100000 && st.st_gid == 100000, "its root belongs to the mapped root");
	snprintf(path, sizeof(path), "%s/lost+found", mnt);
	ok(access(path, F_OK) < 0, "no lost+found (the host's root's, useless to the tenant)");
	ok(disk_usage(mnt, &used, &avail) == 0 && used < (1 << 20) && avail > (14ULL << 20) && avail < (16ULL << 20),
	   "usage: almost all of 16M free (no journal, no reserved blocks): used %llu, free %llu",
	   (unsigned long long)used, (unsigned long long)avail);
	snprintf(path, sizeof(path), "%s/fill", mnt);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	{
		static char block[1 << 16];
		ssize_t n = 0;
		int e = 0;

		while (fd >= 0 && (n = write(fd, block, sizeof(block))) > 0)
			;
		e = errno;
		ok(fd >= 0 && n < 0 && e == ENOSPC, "writing stops with ENOSPC");
		if (fd >= 0)
			close(fd);
	}
	ok(disk_usage(mnt, &used, &avail) == 0 && used > (14ULL << 20) && avail < (1 << 20), "usage: full");
	snprintf(path, sizeof(path), "%s/blue.r2", big);
	ok(disk_usage(path, &used, &avail) == -ENOENT, "usage of a directory without its own file system: -ENOENT");

	trl_error_clear(&err);
	ok(disk_release(image, mnt, &err) == 0, "released");
	ok(!disk_mounted(mnt) && !mountinfo(mnt)[0], "unmounted");
	ok(access(image, F_OK) < 0 && errno == ENOENT, "image removed");
	for (int i = 0; i < 150 && loop_bound(image); i++)
		usleep(100000);
	ok(!loop_bound(image), "loop device freed (autoclear)");
	ok(disk_release(image, mnt, &err) == 0, "release again: nothing to do, success");

	umount(small);
	util_rm_rf(dir, NULL);
	plan(tap_n);
	return done();
}
