/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: protocol unit tests
 *
 * Framing over a real socketpair: round trip, a message arriving a byte at a
 * time and in large pieces (from a child process, so the reader really sees
 * partial reads), two messages in one write, fd passing, oversize, garbage,
 * EOF inside a message, a peer that goes silent.  Then every request-decode error, successful decodes,
 * and reply building and classification.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include "proto.h"
#include "tap.h"

static int pair[2];

static void new_pair(void)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
		perror("socketpair");
		exit(1);
	}
}

static void close_pair(void)
{
	close(pair[0]);
	close(pair[1]);
}

static void write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

/* Fork a writer that sends @len bytes of @data in @chunk-byte writes (pausing between them), then closes. */
static pid_t spawn_writer(const char *data, size_t len, size_t chunk, int pause_us)
{
	pid_t pid = fork();

	if (pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		close(pair[0]);
		for (size_t off = 0; off < len; off += chunk) {
			write_all(pair[1], data + off, len - off < chunk ? len - off : chunk);
			if (pause_us)
				usleep(pause_us);
		}
		close(pair[1]);
		_exit(0);
	}
	close(pair[1]);
	pair[1] = -1;
	return pid;
}

static void reap(pid_t pid)
{
	int st;

	waitpid(pid, &st, 0);
}

static void test_roundtrip(void)
{
	struct trl_error err = { 0 };
	struct proto_conn c;
	json_t *in, *out = NULL;
	int r;

	new_pair();
	in = json_pack("{s:s, s:s, s:[s,s], s:b, s:i}", "op", "slice.exec", "name", "blue", "argv",
		       "ip", "line1\nline2 \xc3\xa9", "tty", 1, "n", 42);
	is_int(proto_send(pair[1], in, NULL, 0), 0, "send a message");
	proto_conn_init(&c, pair[0]);
	r = proto_recv(&c, &out, &err);
	is_int(r, 1, "receive it");
	ok(out && json_equal(in, out), "round trip keeps the message (newline inside a string too)");
	is_int(c.len, 0, "nothing left buffered");
	json_decref(out);

	close(pair[1]);
	is_int(proto_recv(&c, &out, &err), 0, "clean EOF returns 0");
	ok(out == NULL, "no message on EOF");
	proto_conn_release(&c);
	close(pair[0]);
	json_decref(in);
}

static void test_fragmented(void)
{
	struct trl_error err = { 0 };
	const char text[] = "{\"event\": \"progress\", \"step\": \"routers\", \"message\": \"router 'r1' running (1/2)\"}\n";
	struct proto_conn c;
	json_t *out = NULL;
	pid_t pid;
	int r;

	new_pair();
	pid = spawn_writer(text, sizeof(text) - 1, 1, 200);
	proto_conn_init(&c, pair[0]);
	r = proto_recv(&c, &out, &err);
	is_int(r, 1, "a message written a byte at a time arrives whole");
	is_str(json_string_value(json_object_get(out, "message")), "router 'r1' running (1/2)",
	       "and decodes");
	json_decref(out);
	is_int(proto_recv(&c, &out, &err), 0, "then EOF");
	proto_conn_release(&c);
	close(pair[0]);
	reap(pid);
}

static void test_large(void)
{
	struct trl_error err = { 0 };
	size_t n = 3u << 20;
	struct proto_conn c;
	json_t *in, *out = NULL;
	char *big = malloc(n + 1), *text;
	pid_t pid;

	memset(big, 'y', n);
	big[n] = '\0';
	in = json_pack("{s:s, s:s}", "op", "slice.create", "spec", big);
	text = json_dumps(in, JSON_COMPACT);
	new_pair();
	/* 3 MiB is more than a socket buffer: the reader sees many partial reads. */
	pid = spawn_writer(text, strlen(text), 100000, 0);
	proto_conn_init(&c, pair[0]);
	is_int(proto_recv(&c, &out, &err), -TRL_EPROTO, "a message cut by EOF is a protocol error");
	like_str(err.msg, "closed in the middle", "error says the connection closed mid-message");
	proto_conn_release(&c);
	close(pair[0]);
	reap(pid);
	free(text);

	/* The same, properly sent. */
	new_pair();
	pid = fork();
	if (pid == 0) {
		close(pair[0]);
		_exit(proto_send(pair[1], in, NULL, 0) == 0 ? 0 : 1);
	}
	close(pair[1]);
	proto_conn_init(&c, pair[0]);
	is_int(proto_recv(&c, &out, &err), 1, "a 3 MiB message arrives");
	ok(out && json_equal(in, out), "and is intact");
	json_decref(out);
	proto_conn_release(&c);
	close(pair[0]);
	reap(pid);
	json_decref(in);
	free(big);
}

static void test_two_in_one(void)
{
	struct trl_error err = { 0 };
	const char text[] = "{\"a\":1}\n{\"b\":2}\n{\"c\":";
	struct proto_conn c;
	json_t *out = NULL;

	new_pair();
	write_all(pair[1], text, sizeof(text) - 1);
	proto_conn_init(&c, pair[0]);
	is_int(proto_recv(&c, &out, &err), 1, "first of two messages in one write");
	is_int(json_integer_value(json_object_get(out, "a")), 1, "first message is {a:1}");
	json_decref(out);
	ok(c.len > 0, "the rest stays buffered");
	is_int(proto_recv(&c, &out, &err), 1, "second message from the buffer");
	is_int(json_integer_value(json_object_get(out, "b")), 2, "second message is {b:2}");
	json_decref(out);
	write_all(pair[1], "3}\n", 3);
	is_int(proto_recv(&c, &out, &err), 1, "third message completed by a later write");
	is_int(json_integer_value(json_object_get(out, "c")), 3, "third message is {c:3}");
	json_decref(out);
	proto_conn_release(&c);
	close_pair();
}

static void test_fds(void)
{
	struct trl_error err = { 0 };
	struct proto_conn c;
	json_t *msg, *out = NULL;
	int p[2], fds[3];
	char buf[8] = { 0 };

	new_pair();
	if (pipe(p) < 0)
		exit(1);
	fds[0] = p[1];
	fds[1] = p[1];
	fds[2] = STDERR_FILENO;
	msg = json_pack("{s:s}", "op", "ping");
	is_int(proto_send(pair[1], msg, fds, 3), 0, "send with 3 fds");
	is_int(proto_send(pair[1], msg, fds, PROTO_MAX_FDS + 1), -EINVAL, "too many fds to send: -EINVAL");
	proto_conn_init(&c, pair[0]);
	is_int(proto_recv(&c, &out, &err), 1, "receive the message carrying fds");
	is_int(c.nfds, 3, "three fds queued");
	ok(c.nfds == 3 && fcntl(c.fds[0], F_GETFD) == FD_CLOEXEC, "received fds are close-on-exec");
	ok(c.nfds == 3 && write(c.fds[0], "hi", 2) == 2 && read(p[0], buf, 2) == 2 && !strcmp(buf, "hi"),
	   "a received fd is the pipe that was sent");
	json_decref(out);

	/* fds that nobody took are closed on release. */
	{
		int kept = c.nfds ? c.fds[1] : -1;

		proto_conn_release(&c);
		ok(kept >= 0 && fcntl(kept, F_GETFD) < 0 && errno == EBADF, "release closes untaken fds");
	}
	close(p[0]);
	close(p[1]);
	json_decref(msg);
	close_pair();
}

static void test_oversize(void)
{
	struct trl_error err = { 0 };
	size_t n = PROTO_MAX_MSG + 16;
	struct proto_conn c;
	json_t *out = NULL, *big;
	char *junk = malloc(n);
	pid_t pid;

	memset(junk, 'x', n);
	new_pair();
	pid = spawn_writer(junk, n, 1u << 20, 0);
	proto_conn_init(&c, pair[0]);
	is_int(proto_recv(&c, &out, &err), -TRL_EPROTO, "a line longer than PROTO_MAX_MSG is refused");
	like_str(err.msg, "too long", "error says the message is too long");
	ok(c.cap <= PROTO_MAX_MSG + (1u << 17), "without buffering much more than the limit");
	proto_conn_release(&c);
	close(pair[0]);
	kill(pid, SIGKILL);
	reap(pid);

	junk[n - 1] = '\0';
	big = json_pack("{s:s}", "spec", junk);
	new_pair();
	is_int(proto_send(pair[1], big, NULL, 0), -EMSGSIZE, "sending an oversize message: -EMSGSIZE");
	close_pair();
	json_decref(big);
	free(junk);
}

static void test_garbage(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "not json\n", "not valid JSON" },
		{ "{\"a\":1} trailing\n", "not valid JSON" },
		{ "{\"a\":\n", "not valid JSON" },
		{ "\n", "not valid JSON" },
		{ "{\"a\":1,\"a\":2}\n", "duplicate" },
		{ "[1,2]\n", "not a JSON object" },
		{ "\"str\"\n", "not valid JSON" },
		{ "{\"s\":\"\\u0000\"}\n", "not valid JSON" },
	};
	struct trl_error err = { 0 };
	struct proto_conn c;
	json_t *out = NULL;

	new_pair();
	proto_conn_init(&c, pair[0]);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		trl_error_clear(&err);
		write_all(pair[1], cases[i].text, strlen(cases[i].text));
		is_int(proto_recv(&c, &out, &err), -TRL_EPROTO, "garbage %zu is a protocol error", i);
		like_str(err.msg, cases[i].want, "garbage %zu: message", i);
	}
	write_all(pair[1], "{\"ok\":true}\n", 12);
	is_int(proto_recv(&c, &out, &err), 1, "a good message after garbage still decodes");
	json_decref(out);

	/* jansson's own words reach the message. */
	write_all(pair[1], "{x}\n", 4);
	proto_recv(&c, &out, &err);
	like_str(err.msg, "string or '}' expected", "jansson's message is included");
	proto_conn_release(&c);
	close_pair();
}

/* A silent peer: SO_RCVTIMEO expiring on a blocking socket ends the read. */
static void test_timeout(void)
{
	struct timeval tv = { .tv_usec = 200000 };
	struct trl_error err = { 0 };
	struct proto_conn c;
	json_t *out = NULL;

	new_pair();
	setsockopt(pair[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	proto_conn_init(&c, pair[0]);
	is_int(proto_recv(&c, &out, &err), -TRL_EPROTO, "nothing sent: receive timeout is a protocol error");
	like_str(err.msg, "timed out waiting for a message", "nothing sent: message");
	trl_error_clear(&err);
	write_all(pair[1], "{\"op\":", 6);
	is_int(proto_recv(&c, &out, &err), -TRL_EPROTO, "half a message: receive timeout is a protocol error");
	like_str(err.msg, "timed out waiting for the rest of the message", "half a message: message");
	proto_conn_release(&c);
	close_pair();
}

/* A peer that stops reading: SO_SNDTIMEO expiring on a blocking socket ends the send. */
static void test_send_timeout(void)
{
	struct timeval tv = { .tv_usec = 200000 };
	json_t *m = json_pack("{s:s}", "event", "progress");
	int r = 0, n;

	new_pair();
	setsockopt(pair[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	for (n = 0; n < 100000 && r == 0; n++)
		r = proto_send(pair[0], m, NULL, 0);
	is_int(r, -ETIMEDOUT, "a peer that reads nothing: send times out (after %d messages)", n);
	json_decref(m);
	close_pair();
}

static void test_decode_errors(void)
{
	static const struct {
		const char *json;
		int code;
		const char *want;
	} cases[] = {
		{ "[]", TRL_EPROTO, "not a JSON object" },
		{ "{}", TRL_EPROTO, "no field 'op'" },
		{ "{\"op\":1}", TRL_EPROTO, "field 'op' must be a string" },
		{ "{\"op\":\"slice.frob\"}", TRL_EPROTO, "unknown op 'slice.frob'" },
		{ "{\"op\":\"ping\",\"x\":1}", TRL_EPROTO, "ping: unknown field 'x'" },
		{ "{\"op\":\"slice.list\",\"name\":\"a\"}", TRL_EPROTO, "slice.list: unknown field 'name'" },
		{ "{\"op\":\"node.show\",\"verbose\":true}", TRL_EPROTO, "node.show: unknown field 'verbose'" },
		{ "{\"op\":\"slice.show\"}", TRL_EPROTO, "slice.show: missing field 'name'" },
		{ "{\"op\":\"slice.show\",\"name\":5}", TRL_EPROTO, "slice.show: field 'name' must be a string" },
		{ "{\"op\":\"slice.show\",\"name\":\"Blue\"}", TRL_EINVALID, "field 'name': 'Blue' is not a valid name" },
		{ "{\"op\":\"slice.show\",\"name\":\"\"}", TRL_EINVALID, "is not a valid name" },
		{ "{\"op\":\"slice.show\",\"name\":\"a-very-long-slice-name\"}", TRL_EINVALID, "is not a valid name" },
		{ "{\"op\":\"slice.delete\"}", TRL_EPROTO, "slice.delete: missing field 'name'" },
		{ "{\"op\":\"slice.delete\",\"name\":\"b\",\"force\":true}", TRL_EPROTO, "unknown field 'force'" },
		{ "{\"op\":\"slice.create\"}", TRL_EPROTO, "slice.create: missing field 'spec'" },
		{ "{\"op\":\"slice.create\",\"spec\":[]}", TRL_EPROTO, "field 'spec' must be a string" },
		{ "{\"op\":\"slice.create\",\"spec\":\"x\",\"filename\":3}", TRL_EPROTO, "field 'filename' must be a string" },
		{ "{\"op\":\"slice.create\",\"spec\":\"x\",\"filename\":\"a/b.yaml\"}", TRL_EINVALID, "field 'filename'" },
		{ "{\"op\":\"slice.create\",\"spec\":\"x\",\"files\":[]}", TRL_EPROTO, "field 'files' must be an object" },
		{ "{\"op\":\"slice.create\",\"spec\":\"x\",\"files\":{\"a\":1}}", TRL_EPROTO, "entry 'a' must be a string" },
		{ "{\"op\":\"slice.create\",\"spec\":\"x\",\"files\":{\"/etc/passwd\":\"\"}}", TRL_EINVALID, "'/etc/passwd' is not a relative path" },
		{ "{\"op\":\"slice.create\",\"spec\":\"x\",\"files\":{\"a/../../b\":\"\"}}", TRL_EINVALID, "'a/../../b' is not a relative path" },
		{ "{\"op\":\"slice.create\",\"spec\":\"x\",\"owner\":\"root\"}", TRL_EPROTO, "slice.create: unknown field 'owner'" },
		{ "{\"op\":\"slice.exec\",\"router\":\"r1\",\"argv\":[\"ls\"]}", TRL_EPROTO, "slice.exec: missing field 'name'" },
		{ "{\"op\":\"slice.exec\",\"name\":\"b\",\"argv\":[\"ls\"]}", TRL_EPROTO, "slice.exec: missing field 'router'" },
		{ "{\"op\":\"slice.exec\",\"name\":\"b\",\"router\":\"R1\",\"argv\":[\"ls\"]}", TRL_EINVALID, "field 'router': 'R1' is not a valid name" },
		{ "{\"op\":\"slice.exec\",\"name\":\"b\",\"router\":null,\"argv\":[\"ls\"]}", TRL_EPROTO, "field 'router' must be a string" },
		{ "{\"op\":\"slice.exec\",\"name\":\"b\",\"router\":\"r1\"}", TRL_EPROTO, "slice.exec: missing field 'argv'" },
		{ "{\"op\":\"slice.exec\",\"name\":\"b\",\"router\":\"r1\",\"argv\":\"ls\"}", TRL_EPROTO, "field 'argv' must be an array of strings" },
		{ "{\"op\":\"slice.exec\",\"name\":\"b\",\"router\":\"r1\",\"argv\":[]}", TRL_EINVALID, "field 'argv' must not be empty" },
		{ "{\"op\":\"slice.exec\",\"name\":\"b\",\"router\":\"r1\",\"argv\":[\"ls\",2]}", TRL_EPROTO, "field 'argv[1]' must be a string" },
		{ "{\"op\":\"slice.exec\",\"name\":\"b\",\"router\":\"r1\",\"argv\":[\"\"]}", TRL_EINVALID, "field 'argv[0]' (the command) is empty" },
		{ "{\"op\":\"slice.exec\",\"name\":\"b\",\"router\":\"r1\",\"argv\":[\"ls\"],\"tty\":1}", TRL_EPROTO, "field 'tty' must be true or false" },
		{ "{\"op\":\"slice.exec\",\"name\":\"b\",\"router\":\"r1\",\"argv\":[\"ls\"],\"env\":{}}", TRL_EPROTO, "slice.exec: unknown field 'env'" },
		{ "{\"op\":\"slice.set\",\"cpu\":\"1\"}", TRL_EPROTO, "slice.set: missing field 'name'" },
		{ "{\"op\":\"slice.set\",\"name\":\"b\",\"cpu\":1.5}", TRL_EPROTO, "field 'cpu' must be a string" },
		{ "{\"op\":\"slice.set\",\"name\":\"b\",\"memory\":\"\"}", TRL_EINVALID, "field 'memory' must be 1 to 64 characters" },
		{ "{\"op\":\"slice.set\",\"name\":\"b\",\"router\":\"R\",\"pids\":\"20\"}", TRL_EINVALID, "field 'router': 'R' is not a valid name" },
		{ "{\"op\":\"slice.set\",\"name\":\"b\",\"cpu-weight\":\"20\"}", TRL_EPROTO, "slice.set: unknown field 'cpu-weight'" },
		{ "{\"op\":\"slice.set\",\"name\":\"b\",\"pids\":null}", TRL_EPROTO, "field 'pids' must be a string" },
		{ "{\"op\":\"events\",\"since\":-1}", TRL_EPROTO, "field 'since' must be an integer >= 0" },
		{ "{\"op\":\"events\",\"since\":\"10m\"}", TRL_EPROTO, "field 'since' must be an integer >= 0" },
		{ "{\"op\":\"events\",\"follow\":1}", TRL_EPROTO, "field 'follow' must be true or false" },
		{ "{\"op\":\"events\",\"name\":\"B!\"}", TRL_EINVALID, "field 'name': 'B!' is not a valid name" },
		{ "{\"op\":\"events\",\"tty\":true}", TRL_EPROTO, "events: unknown field 'tty'" },
		{ "{\"op\":\"link.capture\",\"name\":\"b\"}", TRL_EPROTO, "link.capture: missing field 'link'" },
		{ "{\"op\":\"link.capture\",\"name\":\"b\",\"link\":\"r1:eth1\",\"capture\":[]}", TRL_EPROTO,
		  "link.capture: field 'capture' must be an object" },
		{ "{\"op\":\"link.capture\",\"name\":\"b\",\"link\":\"r1:eth1\",\"capture\":{\"count\":0}}", TRL_EINVALID,
		  "'capture.count' must be an integer from 1 to 100000000" },
		{ "{\"op\":\"link.capture\",\"name\":\"b\",\"link\":\"r1:eth1\",\"capture\":{\"snaplen\":10}}", TRL_EINVALID,
		  "'capture.snaplen' must be an integer from 64 to 262144" },
		{ "{\"op\":\"link.capture\",\"name\":\"b\",\"link\":\"r1:eth1\",\"capture\":{\"format\":\"pcapx\"}}", TRL_EINVALID,
		  "'capture.format' must be \"pcapng\" or \"pcap\"" },
		{ "{\"op\":\"link.capture\",\"name\":\"b\",\"link\":\"r1:eth1\",\"capture\":{\"ring\":1}}", TRL_EPROTO,
		  "field 'capture': unknown member 'ring'" },
		{ "{\"op\":\"link.capture\",\"name\":\"b\",\"link\":\"r1:eth1\",\"router\":\"R\"}", TRL_EINVALID,
		  "field 'router': 'R' is not a valid name" },
	};
	struct proto_request req;
	struct trl_error err;
	json_t *msg, *argv;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_error_t jerr;

		trl_error_clear(&err);
		msg = json_loads(cases[i].json, JSON_DECODE_ANY, &jerr);
		if (!msg) {
			ok(0, "test case %zu parses: %s", i, jerr.text);
			ok(0, "(skipped)");
			continue;
		}
		is_int(proto_request_decode(msg, &req, &err), -cases[i].code, "decode error: %s", cases[i].json);
		like_str(err.msg, cases[i].want, "  message names the problem");
		json_decref(msg);
	}

	/* argv length limit: 256 is fine, 257 is not. */
	argv = json_array();
	for (int i = 0; i < 256; i++)
		json_array_append_new(argv, json_string("x"));
	msg = json_pack("{s:s, s:s, s:s, s:O}", "op", "slice.exec", "name", "b", "router", "r1", "argv", argv);
	is_int(proto_request_decode(msg, &req, &err), 0, "argv with 256 entries is accepted");
	json_decref(msg);
	json_array_append_new(argv, json_string("x"));
	msg = json_pack("{s:s, s:s, s:s, s:O}", "op", "slice.exec", "name", "b", "router", "r1", "argv", argv);
	is_int(proto_request_decode(msg, &req, &err), -TRL_EINVALID, "argv with 257 entries is refused");
	like_str(err.msg, "has 257 entries (at most 256)", "  message gives the limit");
	json_decref(msg);
	json_decref(argv);
}

static void test_decode_ok(void)
{
	static const struct {
		const char *name;
		enum proto_op op;
	} names[] = {
		{ "ping", PROTO_OP_PING },
		{ "slice.create", PROTO_OP_SLICE_CREATE },
		{ "slice.list", PROTO_OP_SLICE_LIST },
		{ "slice.show", PROTO_OP_SLICE_SHOW },
		{ "slice.delete", PROTO_OP_SLICE_DELETE },
		{ "slice.exec", PROTO_OP_SLICE_EXEC },
		{ "node.show", PROTO_OP_NODE_SHOW },
		{ "slice.set", PROTO_OP_SLICE_SET },
	};
	struct proto_request req;
	struct trl_error err = { 0 };
	json_t *msg;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		is_str(proto_op_name(names[i].op), names[i].name, "proto_op_name(%d)", (int)names[i].op);

	msg = json_pack("{s:s}", "op", "ping");
	ok(proto_request_decode(msg, &req, &err) == 0 && req.op == PROTO_OP_PING, "ping decodes");
	json_decref(msg);
	msg = json_pack("{s:s}", "op", "slice.list");
	ok(proto_request_decode(msg, &req, &err) == 0 && req.op == PROTO_OP_SLICE_LIST, "slice.list decodes");
	json_decref(msg);
	msg = json_pack("{s:s}", "op", "node.show");
	ok(proto_request_decode(msg, &req, &err) == 0 && req.op == PROTO_OP_NODE_SHOW, "node.show decodes");
	json_decref(msg);

	msg = json_pack("{s:s, s:s}", "op", "slice.delete", "name", "blue-2");
	ok(proto_request_decode(msg, &req, &err) == 0 && req.op == PROTO_OP_SLICE_DELETE &&
		   !strcmp(req.name, "blue-2"), "slice.delete decodes with its name");
	json_decref(msg);

	msg = json_pack("{s:s, s:s%, s:s, s:{s:s, s:s}}", "op", "slice.create", "spec", "a\0b", (size_t)3,
			"filename", "pair.yaml", "files", "r1.conf", "x", "conf/r2.conf", "y");
	ok(proto_request_decode(msg, &req, &err) == 0, "slice.create decodes");
	is_int(req.op, PROTO_OP_SLICE_CREATE, "  op");
	is_int(req.spec_len, 3, "  spec_len counts every byte");
	is_str(req.filename, "pair.yaml", "  filename");
	is_int(json_object_size(req.files), 2, "  files");
	ok(req.name == NULL && req.argv == NULL, "  absent fields stay NULL");
	json_decref(msg);

	msg = json_pack("{s:s, s:s}", "op", "slice.create", "spec", "");
	ok(proto_request_decode(msg, &req, &err) == 0 && !req.filename && !req.files,
	   "slice.create needs only spec");
	json_decref(msg);

	msg = json_pack("{s:s, s:s, s:s, s:[s,s], s:b}", "op", "slice.exec", "name", "blue", "router", "r1",
			"argv", "ip", "addr", "tty", 1);
	ok(proto_request_decode(msg, &req, &err) == 0, "slice.exec decodes");
	is_str(req.name, "blue", "  name");
	is_str(req.router, "r1", "  router");
	is_int(json_array_size(req.argv), 2, "  argv");
	is_int(req.tty, 1, "  tty");
	json_decref(msg);
	msg = json_pack("{s:s, s:s, s:s, s:[s]}", "op", "slice.exec", "name", "blue", "router", "r1",
			"argv", "ls");
	ok(proto_request_decode(msg, &req, &err) == 0 && req.tty == 0, "tty defaults to false");
	json_decref(msg);

	msg = json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "slice.set", "name", "blue", "router", "r1", "cpu", "0.5",
			"memory", "256M");
	ok(proto_request_decode(msg, &req, &err) == 0 && req.op == PROTO_OP_SLICE_SET, "slice.set decodes");
	is_str(req.router, "r1", "  router");
	is_str(req.set.cpu, "0.5", "  cpu");
	is_str(req.set.memory, "256M", "  memory");
	ok(!req.set.pids && !req.set.cpu_weight, "  absent values stay NULL (unchanged)");
	json_decref(msg);
	msg = json_pack("{s:s, s:s, s:I, s:b}", "op", "events", "name", "blue", "since", (json_int_t)1700000000, "follow", 1);
	ok(proto_request_decode(msg, &req, &err) == 0 && req.op == PROTO_OP_EVENTS, "events decodes");
	ok(req.follow == 1 && req.tty == 0 && req.since == 1700000000 && !strcmp(req.name, "blue"),
	   "  follow, since, name (follow is not tty)");
	json_decref(msg);
	msg = json_pack("{s:s}", "op", "events");
	ok(proto_request_decode(msg, &req, &err) == 0 && !req.name && !req.follow && !req.since,
	   "events: every field optional");
	json_decref(msg);
	msg = json_pack("{s:s, s:s, s:s, s:s, s:{s:i, s:s, s:s}}", "op", "link.capture", "name", "blue", "link",
			"r1:eth1-r2:eth1", "router", "r2", "capture", "count", 10, "filter", "icmp", "format", "pcap");
	ok(proto_request_decode(msg, &req, &err) == 0 && req.op == PROTO_OP_LINK_CAPTURE, "link.capture decodes");
	is_str(req.link, "r1:eth1-r2:eth1", "  link");
	is_str(req.router, "r2", "  router: the end");
	is_int(json_integer_value(json_object_get(req.capture, "count")), 10, "  capture.count");
	json_decref(msg);
	msg = json_pack("{s:s, s:s, s:s}", "op", "link.capture", "name", "blue", "link", "r1:eth1");
	ok(proto_request_decode(msg, &req, &err) == 0 && !req.capture && !req.router,
	   "link.capture needs only name and link");
	json_decref(msg);
	msg = json_pack("{s:s, s:s, s:s}", "op", "slice.set", "name", "blue", "cpu_weight", "300");
	ok(proto_request_decode(msg, &req, &err) == 0 && !req.router && !strcmp(req.set.cpu_weight, "300"),
	   "slice.set without a router: the slice's aggregate");
	json_decref(msg);
}

static void test_replies(void)
{
	struct trl_error err = { 0 }, in = { 0 };
	json_t *r;

	r = proto_event_new("routers", "router '%s' running (%d/%d)", "r1", 1, 2);
	is_int(proto_reply_kind(r, &err), 1, "an event is kind 1");
	is_str(json_string_value(json_object_get(r, "event")), "progress", "  event: progress");
	is_str(json_string_value(json_object_get(r, "step")), "routers", "  step");
	is_str(json_string_value(json_object_get(r, "message")), "router 'r1' running (1/2)", "  message");
	json_decref(r);

	r = proto_ok_new(json_pack("{s:i}", "exit", 3));
	is_int(proto_reply_kind(r, &err), 0, "ok is kind 0");
	is_int(json_integer_value(json_object_get(json_object_get(r, "result"), "exit")), 3, "  result kept");
	json_decref(r);
	r = proto_ok_new(NULL);
	is_int(proto_reply_kind(r, &err), 0, "ok without a result is kind 0");
	ok(json_is_object(json_object_get(r, "result")), "  with an empty result object");
	json_decref(r);

	trl_error_set(&in, TRL_ENOTFOUND, "slice 'blue' does not exist");
	trl_error_set_step(&in, "lookup");
	r = proto_error_new(&in);
	trl_error_clear(&err);
	is_int(proto_reply_kind(r, &err), -TRL_ENOTFOUND, "an error reply is -code");
	is_int(err.code, TRL_ENOTFOUND, "  code filled");
	is_str(err.step, "lookup", "  step filled");
	is_str(err.msg, "slice 'blue' does not exist", "  message filled");
	is_str(json_string_value(json_object_get(json_object_get(r, "error"), "code")), "not-found",
	       "  wire code is 'not-found'");
	json_decref(r);

	r = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", "brand-new", "message", "m");
	is_int(proto_reply_kind(r, &err), -TRL_EFAILED, "an unknown error code reads as 'failed'");
	json_decref(r);

	{
		static const char *const bad[] = {
			"[]",
			"{}",
			"{\"ok\":\"yes\"}",
			"{\"ok\":false}",
			"{\"ok\":false,\"error\":\"boom\"}",
			"{\"ok\":false,\"error\":{\"code\":1,\"message\":\"m\"}}",
			"{\"ok\":false,\"error\":{\"code\":\"invalid\"}}",
			"{\"ok\":false,\"error\":{\"code\":\"invalid\",\"message\":\"m\",\"step\":7}}",
			"{\"ok\":true,\"result\":[1]}",
			"{\"event\":5}",
			"{\"event\":\"progress\"}",
			"{\"event\":\"progress\",\"message\":\"m\",\"ok\":true}",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			r = json_loads(bad[i], JSON_DECODE_ANY, NULL);
			trl_error_clear(&err);
			is_int(proto_reply_kind(r, &err), -TRL_EPROTO, "malformed reply %s", bad[i]);
			json_decref(r);
		}
	}
}

/* The charge hook: every growth of the buffer is asked first, a refusal ends the read, release refunds all. */
static long charged, charge_limit;

static int charge(struct proto_conn *c, long delta, struct trl_error *err)
{
	(void)c;
	if (delta > 0 && charged + delta > charge_limit)
		return trl_error_set(err, TRL_ELIMIT, "over budget by %ld", charged + delta - charge_limit);
	charged += delta;
	return 0;
}

static void test_charge(void)
{
	struct trl_error err = { 0 };
	size_t n = 3u << 20;
	struct proto_conn c;
	json_t *in, *out = NULL;
	char *big = malloc(n + 1);
	pid_t pid;

	memset(big, 'z', n);
	big[n] = '\0';
	in = json_pack("{s:s, s:s}", "op", "slice.create", "spec", big);
	for (int pass = 0; pass < 2; pass++) {
		charged = 0;
		charge_limit = pass == 0 ? 8L << 20 : 1L << 20;
		new_pair();
		pid = fork();
		if (pid == 0) {
			signal(SIGPIPE, SIG_IGN);
			close(pair[0]);
			_exit(proto_send(pair[1], in, NULL, 0) == 0 ? 0 : 1);
		}
		close(pair[1]);
		proto_conn_init(&c, pair[0]);
		c.charge = charge;
		if (pass == 0) {
			is_int(proto_recv(&c, &out, &err), 1, "charge: a 3 MiB message within an 8 MiB budget arrives");
			ok(charged == (long)c.cap && charged >= 3L << 20, "charge: the whole buffer is charged (%ld bytes)",
			   charged);
			json_decref(out);
		} else {
			is_int(proto_recv(&c, &out, &err), -TRL_ELIMIT, "charge: over a 1 MiB budget the read fails");
			like_str(err.msg, "over budget", "charge: with the hook's error");
			ok(charged <= 1L << 20, "charge: nothing beyond the budget was allocated (%ld bytes)", charged);
		}
		proto_conn_release(&c);
		is_int(charged, 0, "charge: release refunds every byte");
		close(pair[0]);
		reap(pid);
	}
	json_decref(in);
	free(big);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	plan(233);
	test_roundtrip();
	test_fragmented();
	test_large();
	test_two_in_one();
	test_fds();
	test_oversize();
	test_garbage();
	test_timeout();
	test_send_timeout();
	test_decode_errors();
	test_decode_ok();
	test_replies();
	test_charge();
	return done();
}
