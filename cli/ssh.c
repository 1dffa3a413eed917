/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: trellis-ssh, the OpenSSH side of slice logins
 *
 * Two roles (trellisd.conf(5), SSH LOGIN):
 *
 *   trellis-ssh keys [--socket PATH] USER
 *	sshd's AuthorizedKeysCommand (run as AuthorizedKeysCommandUser, which
 *	trellisd.conf names as ssh-keys-user).  Prints the keys registered for
 *	slice USER as authorized_keys lines ("restrict,pty TYPE KEY COMMENT"),
 *	nothing when USER is not a slice with an ssh account.
 *
 *   trellis-ssh [-c COMMAND]
 *	The login shell of a slice's ssh account (sshd runs it as "-c COMMAND"
 *	for `ssh SLICE@node COMMAND`, or with no argument for an interactive
 *	login).  Also works as a ForceCommand: SSH_ORIGINAL_COMMAND wins over
 *	-c.  The first word of the command names the router when it is one of
 *	the slice's routers on this node; otherwise the slice's first router on
 *	this node is used and the whole command runs there.  No command: a login
 *	shell on a terminal.  It runs as the slice's account: trellisd lets that
 *	uid log into this slice only (trellisd/access.c).
 *
 * With ExposeAuthInfo (which trellisd requires of sshd for slice accounts)
 * it tells trellisd which key opened the session: removing that key ends it.
 *
 * The socket is --socket, else $TRELLIS_SOCKET (sshd_config: SetEnv), else
 * the default.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "names.h"
#include "print.h"
#include "proto.h"
#include "sshkey.h"

#define LOGIN_SHELL "/bin/bash"

static int usage(void)
{
	fprintf(stderr, "Usage: trellis-ssh keys [--socket PATH] USER   (sshd AuthorizedKeysCommand)\n"
			"       trellis-ssh [-c COMMAND]                   (login shell of a slice's ssh account)\n"
			"See trellisd.conf(5), SSH LOGIN.\n");
	return 2;
}

static int keys(struct cli *cli, const char *user)
{
	json_t *result = NULL, *line;
	size_t i;
	int status;

	if (!names_valid(user))
		return 0;	/* not a slice name: no keys */
	status = cli_call(cli, json_pack("{s:s, s:s}", "op", "ssh.keys", "name", user), NULL, 0, &result);
	if (status)
		return status;
	json_array_foreach(json_object_get(result, "keys"), i, line)
		if (json_is_string(line))
			printf("%s\n", json_string_value(line));
	json_decref(result);
	return 0;
}

/* The router @word names among the slice's routers on this node, or the first of them when @word is NULL. */
static const char *pick_router(json_t *slice, const char *word)
{
	json_t *r;
	size_t i;

	json_array_foreach(json_object_get(slice, "routers"), i, r) {
		const char *name = json_string_value(json_object_get(r, "name"));
		const char *state = json_string_value(json_object_get(r, "state"));

		if (!name || (state && !strcmp(state, "remote")))
			continue;
		if (!word || !strcmp(word, name))
			return name;
	}
	return NULL;
}

/*
 * The key that opened this session, from the file sshd names in
 * SSH_USER_AUTH (ExposeAuthInfo): its "publickey TYPE BASE64" line.  trellisd
 * needs it to end the session when the key is removed, and refuses a slice
 * account's session without it.
 */
static int session_key(char *key, size_t len)
{
	const char *path = getenv("SSH_USER_AUTH");
	char buf[65536], *line, *save = NULL;
	ssize_t n;
	int fd;

	if (!path || !*path || (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, "publickey ", 10) && strlen(line + 10) < len) {
			snprintf(key, len, "%s", line + 10);
			return 0;
		}
	return -1;
}

static int login(struct cli *cli, const char *command)
{
	struct trl_error err = { 0 };
	struct passwd *pw = getpwuid(getuid());
	json_t *slice = NULL, *result = NULL, *argv;
	const char *router = NULL, *rest = "";
	char slice_name[64], word[64];
	int tty, status;
	json_int_t n;

	if (!pw || !names_valid(pw->pw_name)) {
		fprintf(stderr, "trellis-ssh: uid %u is not a slice's ssh account\n", (unsigned)getuid());
		return 1;
	}
	snprintf(slice_name, sizeof(slice_name), "%s", pw->pw_name);
	status = cli_call(cli, json_pack("{s:s, s:s}", "op", "slice.show", "name", slice_name), NULL, 0, &slice);
	if (status)
		return status;
	command += strspn(command, " \t");
	if (*command) {
		size_t k = strcspn(command, " \t");

		if (k < sizeof(word)) {
			memcpy(word, command, k);
			word[k] = '\0';
			router = pick_router(slice, word);
			if (router)
				rest = command + k + strspn(command + k, " \t");
		}
		if (!router)
			rest = command;
	}
	if (!router)
		router = pick_router(slice, NULL);
	if (!router) {
		fprintf(stderr, "trellis-ssh: slice '%s' has no router on this node\n", slice_name);
		json_decref(slice);
		return 1;
	}
	if (*rest) {
		argv = json_pack("[s, s, s]", "/bin/sh", "-c", rest);
		tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	} else {
		if (!isatty(STDIN_FILENO)) {
			fprintf(stderr,
				"trellis-ssh: a login shell needs a terminal (ssh -t), or give a command: ssh %s@HOST [ROUTER] COMMAND\n",
				slice_name);
			json_decref(slice);
			return 1;
		}
		argv = json_pack("[s, s]", LOGIN_SHELL, "-l");
		tty = 1;
	}
	{
		int fds[3] = { 0, 1, 2 };
		static char key[SSHKEY_MAX + 1];
		json_t *req = json_pack("{s:s, s:s, s:s, s:o, s:b}", "op", "slice.exec", "name", slice_name, "router",
					router, "argv", argv, "tty", tty);

		if (req && session_key(key, sizeof(key)) == 0)
			json_object_set_new(req, "key", json_string(key));

		cli->pty_session = tty ? cli_pty_session : NULL;
		status = cli_call(cli, req, tty ? NULL : fds, tty ? 0 : 3, &result);
	}
	json_decref(slice);
	if (status)
		return status;
	if (!json_is_integer(json_object_get(result, "exit"))) {
		json_decref(result);
		trl_error_set(&err, TRL_EPROTO, "trellisd's reply to slice.exec has no exit status");
		return cli_error(cli, &err);
	}
	n = json_integer_value(json_object_get(result, "exit"));
	json_decref(result);
	return n < 0 || n > 255 ? 255 : (int)n;
}

int main(int argc, char **argv)
{
	const char *env = getenv("TRELLIS_SOCKET");
	const char *orig = getenv("SSH_ORIGINAL_COMMAND");
	struct cli cli = { .socket = env && *env ? env : PROTO_DEFAULT_SOCKET, .quiet = 1 };

	print_init(PRINT_MODE_TEXT, stdout);
	if (argc >= 2 && !strcmp(argv[1], "keys")) {
		int i = 2;

		if (i + 1 < argc && !strcmp(argv[i], "--socket")) {
			cli.socket = argv[i + 1];
			i += 2;
		}
		if (i + 1 != argc)
			return usage();
		return keys(&cli, argv[i]);
	}
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage();
		return 0;
	}
	if (argc != 1 && !(argc == 3 && !strcmp(argv[1], "-c")))
		return usage();
	/* A ForceCommand's -c names itself; the user's command is SSH_ORIGINAL_COMMAND. */
	return login(&cli, orig ? orig : argc == 3 ? argv[2] : "");
}
