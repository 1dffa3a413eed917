/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: trellis-lxc-helper, where liblxc runs
 *
 * trellisd is multi-threaded, and a child of fork() in a multi-threaded
 * process may only make async-signal-safe calls until it execs: liblxc
 * allocates, takes locks and forks again.  (glibc's malloc survives that by
 * luck of its atfork handlers; AddressSanitizer's allocator does not: a
 * child forked while another thread held one of its locks hung for ever.)
 * So container_start() and container_exec() fork, arrange fds with
 * async-signal-safe calls only, and exec this small program, which links
 * liblxc and little else (about 1 ms to exec, against 6 ms for trellisd
 * itself with its 50 libraries):
 *
 *   trellis-lxc-helper start LXCPATH NAME
 *	start the container daemonized (liblxc moves the calling process into
 *	the monitor's cgroup: this short-lived helper, not the daemon); exit 0
 *	once it runs, 1 if it did not start, 2 if liblxc cannot load it.
 *   trellis-lxc-helper exec LXCPATH NAME tty|stdio -- ARGV...
 *	run ARGV attached to the router (its namespaces, cgroup, capabilities,
 *	seccomp filter).  fd 0-2: the command's stdio (stdio) or /dev/null
 *	(tty); fd 3: a pipe on which "p" means no pty could be opened; fd 4
 *	(tty): the client's connection, which gets the pty master in a "pty"
 *	event once the command runs.  The command itself holds fds 0-2 only
 *	(its pty, or its stdio with terminals replaced by pipes): never the
 *	client's connection.  Exits with the command's status
 *	(128+N for a signal), 125 if the router is not running, 126/127 on
 *	other failures.
 *
 *   trellis-lxc-helper veth-hold
 *	LXC's up hook for a router's veth: keeps the host end down, without
 *	ARP or IPv6, until the daemon's links step attaches the fast path.
 *
 * Not meant to be run by hand; trellisd finds it next to itself or in
 * $(pkglibexecdir).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <net/if.h>
#include <lxc/lxccontainer.h>
#include <lxc/attach_options.h>
#include "proto.h"

struct exec_cmd {
	char *const *argv;
	int tty;
};

/* Runs inside the router (after liblxc entered its namespaces, cgroup,
 * seccomp and capability set): make the pty our controlling terminal. */
static int exec_in_router(void *payload)
{
	struct exec_cmd *cmd = payload;

	/* Its own process group either way, so ending the session (SIGTERM
	 * to the helper) reaches what it started. */
	if (cmd->tty) {
		setsid();
		ioctl(0, TIOCSCTTY, 0);
	} else {
		setpgid(0, 0);
	}
	/* The command holds its terminal or pipes and nothing else: not the
	 * client's connection, nor whatever liblxc or we still have open. */
	close_range(3, ~0U, 0);
	execvp(cmd->argv[0], cmd->argv);
	fprintf(stderr, "trellis: %s: %s\n", cmd->argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/*
 * The session's pty comes from the router's own devpts instance (so 'tty'
 * inside names it), opened by a child that has become the router's root:
 * it joins the router's user and mount namespaces (one setns() on a pidfd,
 * so init cannot be swapped in between) and takes the mapped root's ids.
 * Every path it resolves is the router's own, with the router's rights: a
 * /dev/pts/ptmx the tenant turned into a symlink to a host path, a FIFO or
 * a file reaches nothing of the host.  What it opened must be a ptmx (char
 * device 5:2) that answers TIOCGPTN; the master comes back over a socket
 * pair.  The child gets PTY_OPEN_TIMEOUT_MS, then it is killed.
 */
#define PTY_OPEN_TIMEOUT_MS 5000

static void pty_child(int pidfd, int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = "m", .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	struct stat st;
	unsigned int ptn;
	int m;

	if (setns(pidfd, CLONE_NEWUSER | CLONE_NEWNS) < 0 || setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 ||
	    setresuid(0, 0, 0) < 0)
		_exit(3);
	/* Nothing of the helper's (the client's connection) comes along. */
	if (sock > 3)
		close_range(3, sock - 1, 0);
	close_range(sock + 1, ~0U, 0);
	m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (m < 0)
		_exit(4);
	if (fstat(m, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 || minor(st.st_rdev) != 2 ||
	    ioctl(m, TIOCGPTN, &ptn) < 0)
		_exit(5);
	if (fcntl(m, F_SETFL, O_RDWR) < 0)
		_exit(6);
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &m, sizeof(int));
	_exit(sendmsg(sock, &mh, MSG_NOSIGNAL) == 1 ? 0 : 7);
}

static int open_pty(pid_t init, int *master, int *slave)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct pollfd p;
	struct cmsghdr *cm;
	int sv[2], pidfd, r = -EIO;
	pid_t child;

	*master = *slave = -1;
	pidfd = (int)syscall(SYS_pidfd_open, init, 0);
	if (pidfd < 0)
		return -errno;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		close(pidfd);
		return r;
	}
	child = fork();
	if (child == 0) {
		close(sv[0]);
		pty_child(pidfd, sv[1]);
	}
	close(sv[1]);
	close(pidfd);
	if (child < 0) {
		close(sv[0]);
		return -EAGAIN;
	}
	p = (struct pollfd){ .fd = sv[0], .events = POLLIN };
	if (poll(&p, 1, PTY_OPEN_TIMEOUT_MS) == 1 && recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC) == 1 &&
	    (cm = CMSG_FIRSTHDR(&mh)) && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int))) {
		memcpy(master, CMSG_DATA(cm), sizeof(int));
		r = 0;
	}
	close(sv[0]);
	kill(child, SIGKILL);
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	if (r < 0)
		return r;
	if (unlockpt(*master) < 0)
		return -errno;
	*slave = ioctl(*master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	return *slave < 0 ? -errno : 0;
}

/*
 * Without a pty, the client's fds go to the command as they are -- except
 * terminals.  A process the tenant leaves behind in the router would keep the
 * operator's terminal: read what is typed after the exec returned (the next
 * password), write escape sequences to it.  So a terminal is replaced by a
 * pipe (@term[i] gets our end, -1 for fds passed as they are); pipe_proxy()
 * copies between them while the command runs.
 */
static int pipes_for_terminals(int term[3], int cmd_fds[3])
{
	for (int i = 0; i < 3; i++) {
		int p[2];

		term[i] = -1;
		cmd_fds[i] = i;
		if (!isatty(i))
			continue;
		if (pipe2(p, O_CLOEXEC) < 0)
			return -errno;
		term[i] = i == 0 ? p[1] : p[0];
		cmd_fds[i] = i == 0 ? p[0] : p[1];
	}
	return 0;
}

static void write_all(int fd, const char *buf, ssize_t n)
{
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(fd, buf + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += w;
	}
}

/* Copy terminal <-> pipes until @pid exits, then what its output pipes
 * already hold; then close them all, so nothing left in the router can use
 * them. */
static void pipe_proxy(pid_t pid, int term[3])
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	char buf[16384];
	int exited = 0;

	/* Never block on the command: typed-ahead input it does not read is
	 * dropped past a full pipe, and a pipe it closed is no reason to die. */
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < 3; i++)
		if (term[i] >= 0)
			fcntl(term[i], F_SETFL, O_NONBLOCK);
	while (!exited && pidfd >= 0) {
		struct pollfd p[4] = {
			{ .fd = pidfd, .events = POLLIN },
			{ .fd = term[0] >= 0 ? 0 : -1, .events = POLLIN },
			{ .fd = term[1], .events = POLLIN },
			{ .fd = term[2], .events = POLLIN },
		};
		ssize_t n;

		if (poll(p, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		exited = p[0].revents != 0;
		if (p[1].revents) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0) {
				close(term[0]); /* end of input: the command sees EOF */
				term[0] = -1;
			} else {
				write_all(term[0], buf, n);
			}
		}
		for (int i = 1; i < 3; i++)
			if (p[i + 1].revents) {
				n = read(term[i], buf, sizeof(buf));
				if (n > 0)
					write_all(i, buf, n);
				else if (n == 0 || errno != EAGAIN) {
					close(term[i]);
					term[i] = -1;
				}
			}
	}
	for (int i = 1; i < 3; i++) {
		ssize_t n;

		/* Bounded: a process left behind must not keep the session open. */
		for (int k = 0; term[i] >= 0 && k < 64 && (n = read(term[i], buf, sizeof(buf))) > 0; k++)
			write_all(i, buf, n);
	}
	for (int i = 0; i < 3; i++)
		if (term[i] >= 0)
			close(term[i]);
	if (pidfd >= 0)
		close(pidfd);
}

/* The attached command, for end_session(); and whether the session ended
 * before it was known. */
static volatile pid_t session_pid;
static volatile sig_atomic_t session_ended;

/* SIGTERM from trellisd (e.g. the ssh key that opened the session was
 * removed): the command's process group goes, then the helper reports. */
static void end_session(int sig)
{
	(void)sig;
	session_ended = 1;
	if (session_pid > 0) {
		kill(-session_pid, SIGKILL);
		kill(session_pid, SIGKILL);
	}
}

/* Hand a login session's pty master to the client over @conn (in the helper). */
static void send_pty(int conn, int master)
{
	json_t *ev = json_pack("{s:s, s:s, s:s}", "event", "pty", "step", "login", "message",
			       "terminal of the session attached");

	if (!ev || proto_send(conn, ev, &master, 1) < 0)
		fprintf(stderr, "trellisd: the client left before its session's terminal could be passed\n");
	json_decref(ev);
}

/* The helper's side of container_exec(): fd 0-2 the command's stdio (or
 * /dev/null with a tty), 3 the report pipe ("p": no pty), 4 the client's
 * connection with a tty.  Exits with the command's status. */
static int helper_exec(const char *lxcpath, const char *name, int tty, char **argv)
{
	char *env[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"HOME=/root", "TERM=xterm-256color", "USER=root", "LOGNAME=root", NULL };
	lxc_attach_options_t o = LXC_ATTACH_OPTIONS_DEFAULT;
	struct exec_cmd cmd = { .argv = argv, .tty = tty };
	struct lxc_container *c;
	int master = -1, slave = -1, term[3] = { -1, -1, -1 }, cmd_fds[3];
	pid_t pid;
	int st;

	/* Ours alone: dup2() left it inheritable. */
	if (tty && fcntl(4, F_SETFD, FD_CLOEXEC) < 0)
		_exit(126);
	c = lxc_container_new(name, lxcpath);
	if (!c || !c->is_running(c))
		_exit(125);
	o.env_policy = LXC_ATTACH_CLEAR_ENV;
	o.extra_env_vars = env;
	if (tty) {
		if (open_pty(c->init_pid(c), &master, &slave) < 0) {
			if (write(3, "p", 1) < 0)
				_exit(126);
			_exit(124);
		}
		o.stdin_fd = o.stdout_fd = o.stderr_fd = slave;
	} else {
		if (pipes_for_terminals(term, cmd_fds) < 0)
			_exit(126);
		o.stdin_fd = cmd_fds[0];
		o.stdout_fd = cmd_fds[1];
		o.stderr_fd = cmd_fds[2];
	}
	close(3);
	{
		struct sigaction sa = { .sa_handler = end_session };

		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
	}
	if (c->attach(c, exec_in_router, &cmd, &o, &pid) < 0)
		_exit(127);
	session_pid = pid;
	if (session_ended)
		end_session(SIGTERM);
	if (tty) {
		close(slave);
		/* The client now holds the only master: when it goes, the
		 * session gets SIGHUP. */
		send_pty(4, master);
		close(master);
		close(4);
	} else if (term[0] >= 0 || term[1] >= 0 || term[2] >= 0) {
		for (int i = 0; i < 3; i++)
			if (term[i] >= 0)
				close(cmd_fds[i]);
		pipe_proxy(pid, term);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			_exit(127);
	if (WIFSIGNALED(st))
		_exit(128 + WTERMSIG(st));
	_exit(WEXITSTATUS(st));
}

/*
 * LXC's net up hook for each veth (lxc.hook.version 1: the host end's name
 * in LXC_NET_PEER).  LXC runs it right after it made the pair and set the
 * host end up, while the router's end is still down on the host and nothing
 * can have crossed.  The host end goes down again, never answers ARP and has
 * no IPv6 (no link-local address, no router solicitations or MLD into the
 * router): the daemon's links step sets it up once the fast path program
 * owns it.  Any failure fails the start.
 */
static int helper_veth_hold(void)
{
	const char *name = getenv("LXC_NET_PEER");
	char path[128];
	struct ifreq ifr = { 0 };
	int fd, r = 1;

	if (!name || !*name || strlen(name) >= IFNAMSIZ || strchr(name, '/') || name[0] == '.') {
		fprintf(stderr, "trellis-lxc-helper: veth-hold: no host interface in LXC_NET_PEER\n");
		return 1;
	}
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1", 1) != 1) {
		fprintf(stderr, "trellis-lxc-helper: veth-hold: '%s': %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	close(fd);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memcpy(ifr.ifr_name, name, strlen(name));
	if (fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags = (short)((ifr.ifr_flags | IFF_NOARP) & ~IFF_UP);
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) == 0)
			r = 0;
	}
	if (r)
		fprintf(stderr, "trellis-lxc-helper: veth-hold: '%s': %s\n", name, strerror(errno));
	if (fd >= 0)
		close(fd);
	return r;
}

/* The helper's side of container_start(). */
static int helper_start(const char *lxcpath, const char *name)
{
	struct lxc_container *c = lxc_container_new(name, lxcpath);
	bool ok;

	if (!c)
		return 2;
	c->want_daemonize(c, true);
	c->want_close_all_fds(c, true);
	ok = c->start(c, 0, NULL) && c->is_running(c);
	lxc_container_put(c);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "start"))
		return helper_start(argv[2], argv[3]);
	if (argc >= 2 && !strcmp(argv[1], "veth-hold"))
		return helper_veth_hold();
	if (argc >= 7 && !strcmp(argv[1], "exec") && !strcmp(argv[5], "--"))
		return helper_exec(argv[2], argv[3], !strcmp(argv[4], "tty"), argv + 6);
	fprintf(stderr, "trellis-lxc-helper: internal to trellisd (it starts routers and runs commands in them);\n"
			"usage: trellis-lxc-helper start LXCPATH NAME\n"
			"       trellis-lxc-helper exec LXCPATH NAME tty|stdio -- ARGV...\n"
			"       trellis-lxc-helper veth-hold   (LXC's net up hook)\n");
	return 2;
}
