/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: talking to trellisd
 *
 * One request per connection (lib/proto.h): connect, send the request with
 * any fds, then read replies until the final one, printing progress events
 * on the way.  Every failure, local or reported by the daemon, ends in
 * cli_error(), which owns the error's presentation and exit status.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "cli.h"
#include "print.h"
#include "proto.h"
#include "util.h"

/*
 * trellisd checks a request's fields before the operation runs and names them
 * as the protocol does ("slice.show: field 'name': ..."); a user typed an
 * argument, not a field: "slice name: ...".
 */
static const char *user_words(const char *msg, char *buf, size_t len)
{
	static const struct {
		const char *field, *what;
	} words[] = {
		{ "name", "slice name" }, { "router", "router name" }, { "link", "link" },
		{ "key", "ssh key" },	  { "argv", "command" },	{ "spec", "spec" },
	};
	size_t op = strspn(msg, "abcdefghijklmnopqrstuvwxyz.");
	const char *f, *end;

	if (!op || strncmp(msg + op, ": field '", 9))
		return msg;
	f = msg + op + 9;
	end = strchr(f, '\'');
	if (!end || strncmp(end, "': ", 3))
		return msg;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i].field) == (size_t)(end - f) && !strncmp(f, words[i].field, (size_t)(end - f))) {
			snprintf(buf, len, "%s: %s", words[i].what, end + 3);
			return buf;
		}
	snprintf(buf, len, "%.*s: %s", (int)(end - f), f, end + 3);
	return buf;
}

int cli_error(struct cli *cli, const struct trl_error *err)
{
	int code = err->code ? err->code : TRL_EFAILED;
	char buf[sizeof(err->msg) + 16];
	const char *msg = user_words(err->msg, buf, sizeof(buf));
	json_t *j;

	fprintf(stderr, "trellis: %s\n", msg[0] ? msg : "operation failed");
	if (cli->json) {
		j = json_pack("{s:{s:s, s:s}}", "error", "code", trl_error_code_name(code), "message",
			      msg);
		if (j && err->step[0])
			json_object_set_new(json_object_get(j, "error"), "step", json_string(err->step));
		print_json(j);
		json_decref(j);
	}
	return trl_error_exit_code(code);
}

static int connect_daemon(const char *path, struct trl_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path))
		return trl_error_set(err, TRL_EINVALID, "socket path '%s' is too long (at most %zu bytes)",
				     path, sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return trl_error_errno(err, TRL_EFAILED, errno, "cannot create socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	e = errno;
	close(fd);
	switch (e) {
	case ENOENT:
	case ECONNREFUSED:
		return trl_error_set(err, TRL_EUNAVAIL, "cannot reach trellisd at %s: %s (is trellisd running?)",
				     path, strerror(e));
	case EACCES:
	case EPERM:
		return trl_error_errno(err, TRL_EPERM, e, "cannot reach trellisd at %s", path);
	default:
		return trl_error_errno(err, TRL_EUNAVAIL, e, "cannot reach trellisd at %s", path);
	}
}

/* Read replies until the final one.  Returns 0 with *result, or a negative code with @err. */
static int read_replies(struct cli *cli, struct proto_conn *conn, json_t **result,
			struct trl_error *err)
{
	for (;;) {
		json_t *msg, *res;
		int r;

		r = proto_recv(conn, &msg, err);
		if (r == -TRL_EFAILED) {
			/* An I/O error here means trellisd went away (ECONNRESET). */
			err->code = TRL_EUNAVAIL;
			return trl_error_prefix(err, "lost the connection to trellisd");
		}
		if (r < 0)
			return trl_error_prefix(err, "reply from trellisd");
		if (r == 0)
			return trl_error_set(err, TRL_EUNAVAIL, "trellisd closed the connection without a reply");
		r = proto_reply_kind(msg, err);
		if (r == 1 && !strcmp(json_string_value(json_object_get(msg, "event")), "pty")) {
			/* The session's terminal: its master fd rode along this event. */
			json_decref(msg);
			if (conn->nfds < 1)
				return trl_error_set(err, TRL_EPROTO, "trellisd sent a terminal event without its fd");
			int master = conn->fds[0];

			memmove(conn->fds, conn->fds + 1, (conn->nfds - 1) * sizeof(int));
			conn->nfds--;
			if (cli->pty_session)
				cli->pty_session(cli, master, conn);
			close(master);	/* hangs the session up if it still runs */
			continue;
		}
		if (r == 1 && cli->on_event && !strcmp(json_string_value(json_object_get(msg, "event")), "event")) {
			cli->on_event(cli, json_object_get(msg, "record"));
			json_decref(msg);
			continue;
		}
		if (r == 1 && !strcmp(json_string_value(json_object_get(msg, "event")), "capture")) {
			/* link capture: the read end of the capture's pipe rode along this event. */
			if (conn->nfds < 1 || !cli->capture_session) {
				json_decref(msg);
				return trl_error_set(err, TRL_EPROTO, "trellisd sent a capture event without its fd");
			}
			int pfd = conn->fds[0];

			memmove(conn->fds, conn->fds + 1, (conn->nfds - 1) * sizeof(int));
			conn->nfds--;
			cli->capture_session(cli, msg, pfd);
			json_decref(msg);
			close(pfd);	/* the daemon's next write fails: it stops and replies */
			continue;
		}
		if (r == 1) {
			if (!cli->quiet && !strcmp(json_string_value(json_object_get(msg, "event")), "progress")) {
				if (cli->label) {
					char line[1200];

					snprintf(line, sizeof(line), "%s: %s", cli->label,
						 json_string_value(json_object_get(msg, "message")) ?: "");
					json_object_set_new(msg, "message", json_string(line));
				}
				print_progress(msg);
			}
			json_decref(msg);
			continue;
		}
		if (r == 0) {
			res = json_object_get(msg, "result");
			*result = res ? json_incref(res) : json_object();
		}
		json_decref(msg);
		if (r == 0 && !*result)
			return trl_error_set(err, TRL_EFAILED, "out of memory");
		return r;
	}
}

int cli_request(struct cli *cli, const char *socket, json_t *req, const int *fds, size_t nfds, json_t **result,
		struct trl_error *err)
{
	struct proto_conn conn;
	_cleanup_close_ int fd = -1;
	int r;

	*result = NULL;
	if (!req)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	fd = connect_daemon(socket, err);
	if (fd < 0) {
		json_decref(req);
		return fd;
	}
	r = proto_send(fd, req, fds, nfds);
	json_decref(req);
	if (r == -EMSGSIZE)
		return trl_error_set(err, TRL_ELIMIT, "request too large (more than %u MiB)", PROTO_MAX_MSG >> 20);
	/* If the daemon hung up early it may have said why: read before giving up. */
	if (r < 0 && r != -EPIPE && r != -ECONNRESET)
		return trl_error_errno(err, TRL_EUNAVAIL, -r, "cannot send request to trellisd at %s", socket);

	proto_conn_init(&conn, fd);
	r = read_replies(cli, &conn, result, err);
	proto_conn_release(&conn);
	return r < 0 ? r : 0;
}

int cli_call(struct cli *cli, json_t *req, const int *fds, size_t nfds, json_t **result)
{
	struct trl_error err = { 0 };

	if (cli_request(cli, cli->socket, req, fds, nfds, result, &err) < 0)
		return cli_error(cli, &err);
	return 0;
}
