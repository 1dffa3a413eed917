/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hostile-probe: what a hostile tenant tries from inside a router.
 *
 * Built by tests/integration/080-hostile.bats, 081-spoof.bats and
 * 088-exec-fds.bats with the host's cc and copied into routers.  Each subcommand makes one attempt with
 * a raw system call, prints what it tried and what the kernel answered, and
 * exits:
 *   0  the attempt SUCCEEDED (a hole: the tests fail on it)
 *   1  the kernel refused it (what the tests want)
 *   2  the probe itself could not run (bad arguments, setup failure)
 * So a probe that cannot run never passes for a refused attack.
 *
 * 'hostile-probe agent DIR' is not a probe: a router's boot starts it, and it
 * runs each DIR/NAME.req with sh, output to NAME.out, exit status to NAME.rc,
 * so tests can act as a process of the router itself rather than an attached
 * one.  It retries a fork the pids limit refuses instead of dying.
 *
 * The ia32 and x32 subcommands make the same calls through the 32-bit and
 * x32 system call entry points: a seccomp filter that only knows the native
 * numbers would let them through.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef __NR_clone3
#define __NR_clone3 435
#endif
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif
#ifndef __NR_open_tree
#define __NR_open_tree 428
#endif
#ifndef __NR_fsopen
#define __NR_fsopen 430
#endif
#ifndef __NR_mount_setattr
#define __NR_mount_setattr 442
#endif

static const char *what = "?";

/* The verdict on a syscall's result: r < 0 is a refusal. */
static int verdict(long r, int e)
{
	if (r < 0) {
		printf("%s: refused: %s (errno %d)\n", what, strerror(e), e);
		return 1;
	}
	printf("%s: SUCCEEDED (returned %ld)\n", what, r);
	return 0;
}

#define TRY(expr)                                    \
	do {                                         \
		long r_ = (long)(expr);              \
		return verdict(r_, errno);           \
	} while (0)

static int usage(void)
{
	fprintf(stderr, "hostile-probe: bad arguments for '%s'\n", what);
	return 2;
}

/* --- handles --------------------------------------------------------------- */

/* The "shocker" handle: FILEID_INO32_GEN, inode 2 (the root of most
 * filesystems), generation 0. */
static void forge(struct file_handle *fh)
{
	unsigned char *b = (unsigned char *)fh + sizeof(*fh);

	fh->handle_bytes = 8;
	fh->handle_type = 1;
	memset(b, 0, 8);
	b[0] = 2;
}

static int probe_handle(const char *path)
{
	static uint64_t raw[(sizeof(struct file_handle) + MAX_HANDLE_SZ) / 8 + 1];
	struct file_handle *fh = (struct file_handle *)raw;
	int mount_id, mfd;
	long r;

	fh->handle_bytes = MAX_HANDLE_SZ;
	mfd = open(path, O_RDONLY | O_DIRECTORY);
	if (mfd < 0) {
		fprintf(stderr, "hostile-probe: open '%s': %s\n", path, strerror(errno));
		return 2;
	}
	r = name_to_handle_at(AT_FDCWD, path, fh, &mount_id, 0);
	if (r < 0) {
		/* Denied already at the first step: report that, and still try
		 * the open with a forged handle below. */
		printf("name_to_handle_at('%s'): refused: %s (errno %d)\n", path, strerror(errno), errno);
		forge(fh);
	}
	r = open_by_handle_at(mfd, fh, O_RDONLY);
	return verdict(r, errno);
}

/* open_by_handle_at with the forged handle on the filesystem of @path. */
static int probe_handle_forge(const char *path)
{
	static uint64_t raw[(sizeof(struct file_handle) + 8) / 8 + 1];
	struct file_handle *fh = (struct file_handle *)raw;
	int mfd = open(path, O_RDONLY | O_DIRECTORY);

	if (mfd < 0)
		return usage();
	forge(fh);
	TRY(open_by_handle_at(mfd, fh, O_RDONLY | O_DIRECTORY));
}

/* --- BPF ------------------------------------------------------------------- */

static long bpf_prog_load(void)
{
	/* r0 = 0; exit */
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = 2;
	a.license = (uintptr_t) "GPL";
	return syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof(a));
}

static long bpf_map_create(void)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = 4;
	a.max_entries = 1;
	return syscall(__NR_bpf, BPF_MAP_CREATE, &a, sizeof(a));
}

/* --- 32-bit entry points ----------------------------------------------------- */

#if defined(__x86_64__)
static long int80(long nr, long a, long b, long c, long d, long e)
{
	long r;

	__asm__ volatile("int $0x80"
			 : "=a"(r)
			 : "0"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
			 : "memory", "r8", "r9", "r10", "r11");
	return r;
}

/* i386 numbers (arch/x86/entry/syscalls/syscall_32.tbl). */
static const struct {
	const char *name;
	long nr;
} i386_calls[] = {
	{ "mount", 21 }, { "unshare", 310 }, { "clone", 120 }, { "bpf", 357 },
	{ "open_by_handle_at", 342 }, { "init_module", 128 }, { "finit_module", 350 },
	{ "fsopen", 430 }, { "open_tree", 428 }, { "perf_event_open", 336 },
	{ "keyctl", 288 }, { "userfaultfd", 374 },
};

/* Strings and structs a 32-bit call can address: below 4 GiB. */
static char *low;

static int probe_compat(const char *abi, const char *name)
{
	long nr = -1, r;
	long a[5] = { 0 };
	pid_t pid;
	int st, x32 = !strcmp(abi, "x32");

	for (size_t i = 0; i < sizeof(i386_calls) / sizeof(i386_calls[0]); i++)
		if (!strcmp(i386_calls[i].name, name))
			nr = i386_calls[i].nr;
	if (nr < 0)
		return usage();
	low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (low == MAP_FAILED)
		return 2;
	strcpy(low, "tmpfs");
	strcpy(low + 64, "/mnt");
	if (!strcmp(name, "mount")) {
		a[0] = (long)low;
		a[1] = (long)(low + 64);
		a[2] = (long)low;
	} else if (!strcmp(name, "unshare")) {
		a[0] = CLONE_NEWUSER;
	} else if (!strcmp(name, "clone")) {
		a[0] = CLONE_NEWUSER | SIGCHLD;
	} else if (!strcmp(name, "fsopen")) {
		a[0] = (long)low;
	} else if (!strcmp(name, "open_tree")) {
		strcpy(low + 64, "/usr");
		a[0] = AT_FDCWD;
		a[1] = (long)(low + 64);
		a[2] = OPEN_TREE_CLONE;
	} else if (!strcmp(name, "bpf")) {
		/* BPF_MAP_CREATE with a zeroed attr: -EINVAL when allowed, not 0. */
		a[0] = BPF_MAP_CREATE;
		a[1] = (long)(low + 512);
		a[2] = 64;
		((union bpf_attr *)(low + 512))->map_type = BPF_MAP_TYPE_ARRAY;
		((union bpf_attr *)(low + 512))->key_size = 4;
		((union bpf_attr *)(low + 512))->value_size = 4;
		((union bpf_attr *)(low + 512))->max_entries = 1;
	} else if (!strcmp(name, "init_module")) {
		a[0] = (long)low;
		a[1] = 64;
		a[2] = (long)(low + 128);
	} else if (!strcmp(name, "finit_module")) {
		a[0] = open("/dev/null", O_RDONLY);
		a[1] = (long)(low + 128);
	} else if (!strcmp(name, "open_by_handle_at")) {
		struct file_handle *fh = (void *)(low + 256);

		a[0] = open("/", O_RDONLY | O_DIRECTORY);
		forge(fh);
		a[1] = (long)fh;
		a[2] = O_RDONLY;
	} else if (!strcmp(name, "perf_event_open")) {
		a[0] = (long)(low + 512);
		a[2] = -1;
		a[3] = -1;
	} else if (!strcmp(name, "keyctl")) {
		a[0] = 0; /* KEYCTL_GET_KEYRING_ID */
		a[1] = -3; /* session keyring */
	}
	/* In a child: an entry point the kernel lacks kills the caller. */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (x32) {
			/* x32 uses the 64-bit numbers with bit 30 set: look the
			 * native number up instead. */
			static const struct { const char *n; long nr; } nat[] = {
				{ "mount", __NR_mount }, { "unshare", __NR_unshare }, { "clone", __NR_clone },
				{ "bpf", __NR_bpf }, { "open_by_handle_at", __NR_open_by_handle_at },
				{ "init_module", __NR_init_module }, { "finit_module", __NR_finit_module },
				{ "fsopen", __NR_fsopen }, { "open_tree", __NR_open_tree },
				{ "perf_event_open", __NR_perf_event_open }, { "keyctl", __NR_keyctl },
				{ "userfaultfd", __NR_userfaultfd },
			};
			for (size_t i = 0; i < sizeof(nat) / sizeof(nat[0]); i++)
				if (!strcmp(nat[i].n, name))
					nr = nat[i].nr | 0x40000000;
			r = syscall(nr, a[0], a[1], a[2], a[3], a[4]);
			if (r < 0)
				r = -errno;
		} else {
			r = int80(nr, a[0], a[1], a[2], a[3], a[4]);
		}
		if (r == 0 && !strcmp(name, "clone"))
			_exit(0); /* the new child */
		if (r < 0) {
			printf("%s %s: refused: %s (errno %ld)\n", abi, name, strerror(-r), -r);
			fflush(stdout);
			_exit(1);
		}
		printf("%s %s: SUCCEEDED (returned %ld)\n", abi, name, r);
		fflush(stdout);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return 2;
	if (WIFSIGNALED(st)) {
		printf("%s %s: refused: the entry point killed the caller with signal %d (%s)\n", abi, name,
		       WTERMSIG(st), strsignal(WTERMSIG(st)));
		return 1;
	}
	return WEXITSTATUS(st);
}
#endif

/* --- frames ------------------------------------------------------------------ */

static int parse_mac(const char *s, unsigned char m[6])
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) == 6 ? 0 : -1;
}

static uint16_t csum(const void *p, size_t n)
{
	const uint16_t *w = p;
	uint32_t s = 0;

	for (; n > 1; n -= 2)
		s += *w++;
	if (n)
		s += *(const uint8_t *)w;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static const char MARK[] = "TRELLIS-SPOOF-MARK";

/* An inner Ethernet frame: @dst @src, ethertype 0x88b5 (local experimental),
 * then the marker; returns its length. */
static size_t inner_frame(unsigned char *b, const unsigned char dst[6], const unsigned char src[6])
{
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	b[12] = 0x88;
	b[13] = 0xb5;
	memset(b + 14, 0, 46);
	memcpy(b + 14, MARK, sizeof(MARK) - 1);
	return 60;
}

static int send_frames(const char *ifname, const unsigned char *frame, size_t len, int count)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_halen = 6 };
	int fd = socket(AF_PACKET, SOCK_RAW, 0), sent = 0;

	if (fd < 0) {
		printf("%s: socket(AF_PACKET): refused: %s\n", what, strerror(errno));
		return 1;
	}
	sll.sll_ifindex = if_nametoindex(ifname);
	if (!sll.sll_ifindex) {
		fprintf(stderr, "hostile-probe: no interface '%s'\n", ifname);
		return 2;
	}
	memcpy(sll.sll_addr, frame, 6);
	for (int i = 0; i < count; i++)
		if (sendto(fd, frame, len, 0, (struct sockaddr *)&sll, sizeof(sll)) == (ssize_t)len)
			sent++;
	/* Sending is allowed (routers send frames); where they arrive is the test. */
	printf("%s: sent %d of %d frames of %zu bytes out of '%s'\n", what, sent, count, len, ifname);
	return sent == count ? 0 : 2;
}

/* Raw Ethernet frames with forged addresses. */
static int probe_frames(int argc, char **argv)
{
	unsigned char dst[6], src[6], f[64];

	if (argc != 5 || parse_mac(argv[2], dst) || parse_mac(argv[3], src))
		return usage();
	return send_frames(argv[1], f, inner_frame(f, dst, src), atoi(argv[4]));
}

/* An EGRE packet as a node would put it on the wire: Ethernet to @dstmac,
 * IPv4 @saddr -> @daddr proto 47, GRE key flag + key, protocol 0x6558, and
 * an inner frame @idst <- @isrc carrying the marker. */
static int probe_egre(int argc, char **argv)
{
	unsigned char f[128], dst[6], idst[6], isrc[6];
	unsigned char *ip = f + 14, *gre = ip + 20;
	struct in_addr s, d;
	uint32_t key;
	size_t in;

	if (argc != 9 || parse_mac(argv[2], dst) || inet_pton(AF_INET, argv[3], &s) != 1 ||
	    inet_pton(AF_INET, argv[4], &d) != 1 || parse_mac(argv[6], idst) || parse_mac(argv[7], isrc))
		return usage();
	key = htonl((uint32_t)strtoul(argv[5], NULL, 0));
	memcpy(f, dst, 6);
	memset(f + 6, 0x02, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	in = inner_frame(gre + 8, idst, isrc);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	*(uint16_t *)(ip + 2) = htons(20 + 8 + in);
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 47;
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	*(uint16_t *)(ip + 10) = csum(ip, 20);
	gre[0] = 0x20;
	gre[1] = 0x00;
	gre[2] = 0x65;
	gre[3] = 0x58;
	memcpy(gre + 4, &key, 4);
	return send_frames(argv[1], f, 14 + 20 + 8 + in, atoi(argv[8]));
}

/* The same EGRE packet through a raw IP socket: the router's own routing
 * decides where it goes. */
static int probe_egre_ip(int argc, char **argv)
{
	unsigned char p[128], idst[6], isrc[6];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	uint32_t key;
	size_t in;
	int fd, sent = 0, count;

	if (argc != 6 || inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1 || parse_mac(argv[3], idst) ||
	    parse_mac(argv[4], isrc))
		return usage();
	key = htonl((uint32_t)strtoul(argv[2], NULL, 0));
	count = atoi(argv[5]);
	p[0] = 0x20;
	p[1] = 0x00;
	p[2] = 0x65;
	p[3] = 0x58;
	memcpy(p + 4, &key, 4);
	in = inner_frame(p + 8, idst, isrc);
	fd = socket(AF_INET, SOCK_RAW, 47);
	if (fd < 0) {
		printf("%s: socket(AF_INET, SOCK_RAW, GRE): refused: %s\n", what, strerror(errno));
		return 1;
	}
	for (int i = 0; i < count; i++)
		if (sendto(fd, p, 8 + in, 0, (struct sockaddr *)&sin, sizeof(sin)) >= 0)
			sent++;
	printf("%s: sent %d of %d GRE packets to %s (%s)\n", what, sent, count, argv[1],
	       sent ? "the router routed them" : strerror(errno));
	return 0;
}

/* --- memory ------------------------------------------------------------------ */

/* Touch @mb MiB; prints progress so a kill shows how far it got. */
static int probe_alloc(long mb)
{
	for (long i = 0; i < mb; i++) {
		char *p = malloc(1 << 20);

		if (!p) {
			printf("%s: malloc refused after %ld MiB\n", what, i);
			return 1;
		}
		memset(p, 1, 1 << 20);
		if (i % 16 == 0) {
			printf("%s: %ld MiB touched\n", what, i);
			fflush(stdout);
		}
	}
	printf("%s: SUCCEEDED: %ld MiB touched\n", what, mb);
	return 0;
}

/* --- the attach window ------------------------------------------------------ */

/*
 * For @secs seconds, watch for new processes in the router and try to reach
 * into each one as soon as it appears: an attaching process (a fork of
 * trellisd entering the router, before it execs the command) must not let
 * the tenant read its executable or open its file descriptors, which are
 * the host's.  Prints every access that worked to something that is not the
 * router's own; exits 0 if there was one.
 */
static int probe_attach_window(int secs)
{
	time_t end = time(NULL) + secs;
	int seen = 0, leaks = 0, denied = 0, self = getpid();
	char me[PATH_MAX];
	ssize_t mn = readlink("/proc/self/exe", me, sizeof(me) - 1);

	me[mn > 0 ? mn : 0] = '\0';

	while (time(NULL) < end) {
		DIR *d = opendir("/proc");
		struct dirent *de;

		while (d && (de = readdir(d))) {
			char path[64], target[PATH_MAX];
			int pid = atoi(de->d_name);
			ssize_t n;
			DIR *fds;

			if (pid <= 1 || pid == self)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/exe", pid);
			n = readlink(path, target, sizeof(target) - 1);
			if (n <= 0) {
				if (errno == EACCES || errno == EPERM)
					denied++;
				continue;
			}
			target[n] = '\0';
			if (!strncmp(target, "/usr/", 5) || !strcmp(target, me))
				continue; /* the router's own programs */
			seen++;
			printf("%s: pid %d runs '%s', readable\n", what, pid, target);
			leaks++;
			snprintf(path, sizeof(path), "/proc/%d/fd", pid);
			fds = opendir(path);
			while (fds && (de = readdir(fds))) {
				char fp[300];

				if (de->d_name[0] == '.')
					continue;
				snprintf(fp, sizeof(fp), "/proc/%d/fd/%s", pid, de->d_name);
				n = readlink(fp, target, sizeof(target) - 1);
				if (n > 0) {
					target[n] = '\0';
					printf("%s:   its fd %s -> %s\n", what, de->d_name, target);
				}
			}
			if (fds)
				closedir(fds);
		}
		if (d)
			closedir(d);
	}
	printf("%s: %d accesses into processes that are not the router's own programs, %d denied\n", what, seen,
	       denied);
	return leaks ? 0 : 1;
}

/* --- the agent ------------------------------------------------------------ */

static void put_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			perror(path);
		close(fd);
	}
}

static int agent(const char *dir)
{
	mkdir(dir, 0755);
	for (;;) {
		DIR *d = opendir(dir);
		struct dirent *de;

		while (d && (de = readdir(d))) {
			size_t l = strlen(de->d_name);
			char base[PATH_MAX], req[PATH_MAX + 8], run[PATH_MAX + 8], out[PATH_MAX + 8], tmp[PATH_MAX + 8],
				rcf[PATH_MAX + 8], rc[32];
			int st;
			pid_t pid;

			if (l < 5 || strcmp(de->d_name + l - 4, ".req"))
				continue;
			snprintf(base, sizeof(base), "%s/%.*s", dir, (int)(l - 4), de->d_name);
			snprintf(req, sizeof(req), "%s.req", base);
			snprintf(run, sizeof(run), "%s.run", base);
			snprintf(out, sizeof(out), "%s.out", base);
			snprintf(tmp, sizeof(tmp), "%s.tmp", base);
			snprintf(rcf, sizeof(rcf), "%s.rc", base);
			if (rename(req, run) < 0)
				continue;
			while ((pid = fork()) < 0)
				usleep(100000);
			if (pid == 0) {
				int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
				int null = open("/dev/null", O_RDONLY);

				if (fd < 0 || null < 0)
					_exit(125);
				dup2(null, 0);
				dup2(fd, 1);
				dup2(fd, 2);
				execl("/bin/sh", "sh", run, (char *)NULL);
				_exit(127);
			}
			while (waitpid(pid, &st, 0) < 0)
				if (errno != EINTR)
					break;
			snprintf(rc, sizeof(rc), "%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			put_text(tmp, rc);
			rename(tmp, rcf);
		}
		if (d)
			closedir(d);
		usleep(50000);
	}
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		fprintf(stderr, "usage: hostile-probe COMMAND [ARGS]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	cmd = argv[1];
	argc--;
	argv++;
	what = cmd;
	if (!strcmp(cmd, "mount-tmpfs") && argc == 2)
		TRY(mount("none", argv[1], "tmpfs", 0, NULL));
	if (!strcmp(cmd, "mount-proc") && argc == 2)
		TRY(mount("proc", argv[1], "proc", 0, NULL));
	if (!strcmp(cmd, "mount-bind") && argc == 3)
		TRY(mount(argv[1], argv[2], NULL, MS_BIND, NULL));
	if (!strcmp(cmd, "remount-rw") && argc == 2)
		TRY(mount(NULL, argv[1], NULL, MS_REMOUNT | MS_BIND, NULL));
	if (!strcmp(cmd, "umount") && argc == 2)
		TRY(umount2(argv[1], MNT_DETACH));
	if (!strcmp(cmd, "fsopen") && argc == 1)
		TRY(syscall(__NR_fsopen, "tmpfs", 0));
	if (!strcmp(cmd, "open-tree") && argc == 2)
		TRY(syscall(__NR_open_tree, AT_FDCWD, argv[1], OPEN_TREE_CLONE));
	if (!strcmp(cmd, "mount-setattr-rw") && argc == 2) {
		struct { uint64_t set, clr, prop, userns; } attr = { .clr = MOUNT_ATTR_RDONLY };

		TRY(syscall(__NR_mount_setattr, AT_FDCWD, argv[1], AT_RECURSIVE, &attr, sizeof(attr)));
	}
	if (!strcmp(cmd, "handle") && argc == 2)
		return probe_handle(argv[1]);
	if (!strcmp(cmd, "handle-forge") && argc == 2)
		return probe_handle_forge(argv[1]);
	if (!strcmp(cmd, "bpf-prog") && argc == 1)
		TRY(bpf_prog_load());
	if (!strcmp(cmd, "bpf-map") && argc == 1)
		TRY(bpf_map_create());
	if (!strcmp(cmd, "init-module") && argc == 1) {
		static char image[64] = "\177ELF";

		TRY(syscall(__NR_init_module, image, sizeof(image), ""));
	}
	if (!strcmp(cmd, "finit-module") && argc == 2) {
		int fd = open(argv[1], O_RDONLY);

		if (fd < 0)
			return usage();
		TRY(syscall(__NR_finit_module, fd, "", 0));
	}
	if (!strcmp(cmd, "unshare-user") && argc == 1)
		TRY(unshare(CLONE_NEWUSER));
	if (!strcmp(cmd, "clone-user") && argc == 1) {
		long r = syscall(__NR_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);

		if (r == 0)
			_exit(0);
		if (r > 0)
			waitpid(r, NULL, 0);
		return verdict(r, errno);
	}
	if (!strcmp(cmd, "clone3-user") && argc == 1) {
		struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls; } a = {
			.flags = CLONE_NEWUSER, .exit_signal = SIGCHLD,
		};
		long r = syscall(__NR_clone3, &a, sizeof(a));

		if (r == 0)
			_exit(0);
		if (r > 0)
			waitpid(r, NULL, 0);
		return verdict(r, errno);
	}
	if (!strcmp(cmd, "setns") && argc == 2) {
		int fd = open(argv[1], O_RDONLY);

		if (fd < 0) {
			printf("%s: open '%s': refused: %s (errno %d)\n", what, argv[1], strerror(errno), errno);
			return 1;
		}
		TRY(setns(fd, 0));
	}
	if (!strcmp(cmd, "io-uring") && argc == 1) {
		static uint64_t params[16];	/* struct io_uring_params: 120 bytes */

		TRY(syscall(__NR_io_uring_setup, 8, params));
	}
	if (!strcmp(cmd, "perf") && argc == 1)
		TRY(syscall(__NR_perf_event_open, calloc(1, 256), 0, -1, -1, 0));
#if defined(__x86_64__)
	if ((!strcmp(cmd, "ia32") || !strcmp(cmd, "x32")) && argc == 2) {
		what = cmd;
		return probe_compat(cmd, argv[1]);
	}
#endif
	if (!strcmp(cmd, "frames"))
		return probe_frames(argc, argv);
	if (!strcmp(cmd, "egre"))
		return probe_egre(argc, argv);
	if (!strcmp(cmd, "egre-ip"))
		return probe_egre_ip(argc, argv);
	if (!strcmp(cmd, "attach-window") && argc == 2)
		return probe_attach_window(atoi(argv[1]));
	if (!strcmp(cmd, "agent") && argc == 2)
		return agent(argv[1]);
	if (!strcmp(cmd, "alloc") && argc == 2)
		return probe_alloc(atol(argv[1]));
	return usage();
}
