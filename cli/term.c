/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: the terminal of a login session
 *
 * trellisd opens the session's pty inside the router and passes its master
 * to us (lib/proto.h, slice.exec with tty): this process, running as the
 * caller, copies bytes between its own terminal and the master until the
 * session ends.  Our terminal is raw (keys such as ^C, ^Z and arrows reach the
 * router's pty untouched; the router's pty echoes), and its window size
 * follows ours (SIGWINCH).  The session is over when the pty reports EIO
 * (every process in the router closed it) or when trellisd's final reply
 * arrives (the command exited; what it printed last is drained first).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include "cli.h"

static volatile sig_atomic_t winch;

static void on_winch(int sig)
{
	(void)sig;
	winch = 1;
}

static int write_all(int fd, const char *buf, ssize_t n)
{
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(fd, buf + off, n - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += w;
	}
	return 0;
}

/* Copy what the session still has for us, briefly. */
static void drain(int master)
{
	char buf[16384];

	for (;;) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			return;
		n = read(master, buf, sizeof(buf));
		if (n <= 0 || write_all(STDOUT_FILENO, buf, n) < 0)
			return;
	}
}

void cli_pty_session(struct cli *cli, int master, struct proto_conn *conn)
{
	struct sigaction sa = { .sa_handler = on_winch }, old;
	struct termios saved, raw;
	struct winsize ws;
	char buf[16384];
	int raw_mode = 0;

	(void)cli;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGWINCH, &sa, &old);	/* no SA_RESTART: poll() wakes up */
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
		ioctl(master, TIOCSWINSZ, &ws);
	if (tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		raw_mode = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	while (conn->len == 0) {	/* a buffered final reply ends the session */
		struct pollfd p[3] = {
			{ .fd = master, .events = POLLIN },
			{ .fd = STDIN_FILENO, .events = POLLIN },
			{ .fd = conn->fd, .events = POLLIN },
		};
		ssize_t n;

		if (winch) {
			winch = 0;
			if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
				ioctl(master, TIOCSWINSZ, &ws);
		}
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents) {
			n = read(master, buf, sizeof(buf));
			if (n <= 0 || write_all(STDOUT_FILENO, buf, n) < 0)
				break;	/* EIO: every process closed the pty */
		}
		if (p[1].revents) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0 || write_all(master, buf, n) < 0)
				break;	/* our terminal is gone: hang the session up */
		}
		if (p[2].revents) {
			drain(master);
			break;
		}
	}
	if (raw_mode)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	sigaction(SIGWINCH, &old, NULL);
}
