/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for lib/util.c's helpers for trees a tenant can write:
 * util_rm_tree_at() removes symlinks as links and never follows them (to a
 * directory, a file, "..", the tree itself), refuses a symlinked top, removes
 * trees deeper than the fds it keeps, survives a writer that swaps a
 * directory and a symlink to a canary (renameat2 RENAME_EXCHANGE) in a loop
 * while it removes, and does not cross mount points (a bind mount of the same
 * file system, a tmpfs): it reports the first one left and how many (control
 * characters in names replaced), and removes the tree once they are gone.  util_open_beneath() refuses symlinked
 * components and "..", util_write_file_at() replaces a symlink rather than
 * writing through it.  The mount cases need root (a private mount namespace)
 * and are skipped otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tap.h"
#include "util.h"

static char base[256];

static void mk(const char *rel, const char *text)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", base, rel);
	if (!text) {
		mkdir(p, 0755);
		return;
	}
	f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void ln(const char *target, const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", base, rel);
	if (symlink(target, p) < 0)
		printf("# symlink '%s': %s\n", p, strerror(errno));
}

static int exists(const char *rel)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", base, rel);
	return lstat(p, &st) == 0;
}

/* The canary: a directory with two files, outside every tree removed here. */
static void canary_make(void)
{
	mk("canary", NULL);
	mk("canary/a", "keep");
	mk("canary/f1", "keep");
	mk("canary/sub", NULL);
	mk("canary/sub/b", "keep");
}

static int canary_intact(void)
{
	return exists("canary/a") && exists("canary/f1") && exists("canary/sub/b");
}

static void test_symlinks(int bfd)
{
	char canary[512];
	struct util_rm_report rep;
	int r;

	snprintf(canary, sizeof(canary), "%s/canary", base);
	mk("t", NULL);
	mk("t/d", NULL);
	mk("t/d/f", "x");
	mk("t/d/e", NULL);
	mk("t/d/e/g", "x");
	ln(canary, "t/to-dir");
	ln("../canary/a", "t/d/to-file");
	ln("..", "t/d/e/up");
	ln(".", "t/self");
	ln("/", "t/d/root");
	r = util_rm_tree_at(bfd, "t", &rep);
	is_int(r, 0, "tree with symlinks to a directory, a file, '..', '.' and '/' removed");
	ok(!exists("t"), "... all of it");
	ok(canary_intact() && exists("canary"), "... and nothing they point to");

	ln(canary, "top");
	r = util_rm_tree_at(bfd, "top", &rep);
	is_int(r, -ELOOP, "a symlinked top is refused (-ELOOP)");
	ok(exists("top") && canary_intact(), "... and neither it nor its target is touched");
	is_int(rep.left, 1, "... reported as left");
	unlinkat(bfd, "top", 0);

	is_int(util_rm_tree_at(bfd, "missing", &rep), 0, "a missing tree is success");
	mk("plain", "x");
	is_int(util_rm_tree_at(bfd, "plain", &rep), 0, "a file at the top is removed");
	ok(!exists("plain"), "... gone");
}

static void test_deep(int bfd)
{
	char rel[8192] = "deep";
	size_t n = strlen(rel);
	int r;

	mk("deep", NULL);
	for (int i = 0; i < 200 && n + 4 < sizeof(rel); i++) {
		n += (size_t)snprintf(rel + n, sizeof(rel) - n, "/d%d", i % 10);
		mk(rel, NULL);
	}
	mk("deep/d0/f", "x");
	r = util_rm_tree_at(bfd, "deep", NULL);
	is_int(r, 0, "a tree 200 directories deep is removed (deeper than the fds it holds)");
	ok(!exists("deep"), "... all of it");
}

/* A writer swapping a full directory and a symlink to the canary, as a tenant would. */
static pid_t swapper_start(int bfd, const char *canary)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	for (;;)
		if (renameat2(bfd, "r/x/dir", bfd, "r/x/link", RENAME_EXCHANGE) < 0) {
			/* the walk removed one of them: a new symlink in its place */
			symlinkat(canary, bfd, "r/x/link");
			symlinkat(canary, bfd, "r/x/dir");
		}
}

static void test_race(int bfd)
{
	char canary[512];
	int failed = 0, swapped = 0;
	pid_t sw;

	snprintf(canary, sizeof(canary), "%s/canary", base);
	sw = swapper_start(bfd, canary);
	for (int i = 0; i < 300 && canary_intact(); i++) {
		struct stat st;

		mk("r", NULL);
		mk("r/x", NULL);
		mk("r/x/dir", NULL);
		for (int k = 0; k < 20; k++) {
			char f[64];

			snprintf(f, sizeof(f), "r/x/dir/f%d", k);
			mk(f, "x");
		}
		ln(canary, "r/x/link");
		usleep(200);
		if (fstatat(bfd, "r/x/dir", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			swapped++;
		if (util_rm_tree_at(bfd, "r", NULL) < 0)
			failed++;
	}
	kill(sw, SIGKILL);
	waitpid(sw, NULL, 0);
	printf("# race: %d removals saw the swap in progress, %d failed\n", swapped, failed);
	ok(swapped > 0, "the swapper ran during the removals");
	ok(canary_intact(), "300 removals against a directory/symlink swap: the canary is untouched");
	util_rm_tree_at(bfd, "r", NULL);
}

static void test_mounts(int bfd)
{
	char p[512], canary[512];
	struct util_rm_report rep;
	int r;

	if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		for (int i = 0; i < 7; i++)
			ok(1, "# SKIP mount points need root and a mount namespace");
		return;
	}
	snprintf(canary, sizeof(canary), "%s/canary", base);
	mk("m", NULL);
	mk("m/a", NULL);
	mk("m/a/bind", NULL);
	mk("m/a/tmp", NULL);
	mk("m/a/f", "x");
	mk("m/b\033[2J", NULL);
	mk("m/b\033[2J/mnt", NULL);
	snprintf(p, sizeof(p), "%s/m/a/bind", base);
	r = mount(canary, p, NULL, MS_BIND, NULL);
	snprintf(p, sizeof(p), "%s/m/a/tmp", base);
	r |= mount("tmpfs", p, "tmpfs", 0, "size=1m");
	snprintf(p, sizeof(p), "%s/m/b\033[2J/mnt", base);
	r |= mount("tmpfs", p, "tmpfs", 0, "size=1m");
	mk("m/a/tmp/t", "x");
	ok(r == 0, "bind mount of the canary (same file system) and two tmpfs inside the tree");
	r = util_rm_tree_at(bfd, "m", &rep);
	is_int(r, -EBUSY, "removal fails: mount points are not crossed");
	ok(rep.left == 3 && rep.error == EBUSY &&
		   (!strcmp(rep.first, "m/a/bind") || !strcmp(rep.first, "m/a/tmp") ||
		    !strcmp(rep.first, "m/b?[2J/mnt")),
	   "... reported: 3 left, first '%s': %s", rep.first, strerror(rep.error));

	ok(canary_intact() && exists("m/a/tmp/t"), "... nothing inside them removed");
	ok(!exists("m/a/f"), "... what could go went");
	snprintf(p, sizeof(p), "%s/m/a/bind", base);
	umount(p);
	snprintf(p, sizeof(p), "%s/m/a/tmp", base);
	umount(p);
	r = util_rm_tree_at(bfd, "m", &rep);
	ok(r == -EBUSY && rep.left == 1 && !strcmp(rep.first, "m/b?[2J/mnt"),
	   "a name with control characters is reported with them replaced: '%s'", rep.first);
	snprintf(p, sizeof(p), "%s/m/b\033[2J/mnt", base);
	umount(p);
	ok(util_rm_tree_at(bfd, "m", &rep) == 0 && !exists("m"), "once unmounted, the tree is removed");
}

static void test_beneath(int bfd)
{
	char canary[512];
	int fd;

	snprintf(canary, sizeof(canary), "%s/canary", base);
	mk("b", NULL);
	mk("b/etc", NULL);
	mk("b/etc/f", "ok");
	ln(canary, "b/var");
	ln("../canary/a", "b/etc/passwd");
	fd = util_open_beneath(bfd, "b/etc/f", O_RDONLY, 0);
	ok(fd >= 0, "open beneath: a plain path opens");
	if (fd >= 0)
		close(fd);
	fd = util_open_beneath(bfd, "b/var/sub/b", O_RDONLY, 0);
	ok(fd == -ENOTDIR || fd == -ELOOP, "open beneath: a symlinked directory on the way is refused");
	fd = util_open_beneath(bfd, "b/etc/passwd", O_RDONLY, 0);
	ok(fd == -ELOOP, "open beneath: a symlink at the end is refused");
	ok(util_open_beneath(bfd, "b/etc/../etc/f", O_RDONLY, 0) == -EINVAL &&
		   util_open_beneath(bfd, "/etc/passwd", O_RDONLY, 0) == -EINVAL &&
		   util_open_beneath(bfd, "b//etc", O_RDONLY, 0) == -EINVAL,
	   "open beneath: '..', absolute paths and empty components are refused");
	fd = util_open_beneath(bfd, "b/etc", O_RDONLY | O_DIRECTORY, 0);
	ok(fd >= 0 && util_write_file_at(fd, "passwd", "new\n", 4, 0644, (uid_t)-1, (gid_t)-1) == 0,
	   "write at: over a symlink");
	{
		struct stat st;

		ok(fd >= 0 && fstatat(fd, "passwd", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
			   (st.st_mode & 07777) == 0644,
		   "... the symlink is replaced by the file (mode 0644)");
	}
	{
		char p[512];
		char *got = NULL;

		snprintf(p, sizeof(p), "%s/canary/a", base);
		ok(util_read_file(p, 64, &got, NULL) == 0 && !strcmp(got, "keep"), "... its target is unchanged");
		free(got);
	}
	if (fd >= 0)
		close(fd);
	util_rm_tree_at(bfd, "b", NULL);
}

int main(void)
{
	int bfd;

	snprintf(base, sizeof(base), "/tmp/test-util.XXXXXX");
	if (!mkdtemp(base))
		skip_all("mkdtemp failed");
	bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	canary_make();
	test_symlinks(bfd);
	test_deep(bfd);
	test_race(bfd);
	test_beneath(bfd);
	test_mounts(bfd);
	ok(canary_intact(), "the canary survived every test");
	close(bfd);
	util_rm_rf(base, NULL);
	plan(tap_n);
	return done();
}
