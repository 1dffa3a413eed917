/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: client/daemon protocol (implementation; the wire format is in proto.h)
 *
 * Framing: a message is one line of compact JSON.  json_dumps(JSON_COMPACT)
 * escapes every control character inside strings, so the only '\n' in a
 * message is the one that ends it.
 *
 * Reading: struct proto_conn keeps what recvmsg() returned beyond the current
 * message, so one read may yield several messages and a message may take many
 * reads.  Only bytes not yet searched are scanned for the newline, so a large
 * message costs linear time.  A line longer than PROTO_MAX_MSG is refused
 * before it is fully buffered.  The buffer grows by doubling from 64 KiB; a
 * caller may charge each growth to a budget (conn->charge: the daemon's cap on
 * memory held for requests being received).
 *
 * File descriptors: proto_send() attaches them (SCM_RIGHTS) to the first byte
 * of the message.  The kernel hands them to whichever recvmsg() reads that
 * byte, possibly while an earlier message is being read, so received fds are
 * queued in conn->fds (close-on-exec) rather than tied to a message; a caller
 * that expects fds with a message takes them from the queue after receiving it
 * (copy them out and set conn->nfds = 0).  Untaken fds are closed by
 * proto_conn_release().
 *
 * Both directions block: on a non-blocking socket EAGAIN waits in poll().  On
 * a blocking socket EAGAIN means the caller's SO_RCVTIMEO or SO_SNDTIMEO
 * expired: proto_recv() and proto_send() then fail, so a peer that sends
 * nothing, or reads nothing, cannot hold the other side.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "names.h"
#include "proto.h"
#include "util.h"

#define PROTO_READ_CHUNK (64u << 10)
/* Room for the longest message, its newline and the start of the next one. */
#define PROTO_BUF_LIMIT (PROTO_MAX_MSG + PROTO_READ_CHUNK)
#define PROTO_MAX_ARGV 256

void proto_conn_init(struct proto_conn *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	for (size_t i = 0; i < ARRAY_SIZE(c->fds); i++)
		c->fds[i] = -1;
}

void proto_conn_release(struct proto_conn *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nfds && i < ARRAY_SIZE(c->fds); i++)
		if (c->fds[i] >= 0)
			close(c->fds[i]);
	c->nfds = 0;
	if (c->charge && c->cap)
		c->charge(c, -(long)c->cap, NULL);
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
}

static int wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int proto_send(int fd, json_t *msg, const int *fds, size_t nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * PROTO_MAX_FDS)];
	} ctl;
	_cleanup_free_ char *text = NULL;
	size_t len, off = 0;

	if (!msg || nfds > PROTO_MAX_FDS || (nfds && !fds))
		return -EINVAL;
	text = json_dumps(msg, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	if (len > PROTO_MAX_MSG)
		return -EMSGSIZE;
	/* json_dumps() allocated len + 1 bytes: the NUL becomes the terminator. */
	text[len++] = '\n';

	while (off < len) {
		struct iovec iov = { .iov_base = text + off, .iov_len = len - off };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (off == 0 && nfds > 0) {
			struct cmsghdr *cm;

			memset(&ctl, 0, sizeof(ctl));
			mh.msg_control = ctl.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
		}
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			int r;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			/* On a blocking socket EAGAIN means its SO_SNDTIMEO expired. */
			if (!(fcntl(fd, F_GETFL) & O_NONBLOCK))
				return -ETIMEDOUT;
			r = wait_fd(fd, POLLOUT);
			if (r < 0)
				return r;
			continue;
		}
		off += (size_t)n;
	}
	return 0;
}

/* Queue the fds of every SCM_RIGHTS header; close what does not fit.  -1 if any was lost. */
static int take_fds(struct proto_conn *c, struct msghdr *mh)
{
	int lost = (mh->msg_flags & MSG_CTRUNC) ? -1 : 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;
		int *p;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		p = (int *)CMSG_DATA(cm);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, p + i, sizeof(fd));
			if (c->nfds < ARRAY_SIZE(c->fds)) {
				c->fds[c->nfds++] = fd;
			} else {
				close(fd);
				lost = -1;
			}
		}
	}
	return lost;
}

/* Read more bytes into c->buf.  Returns bytes read, 0 on EOF, or a negative code with @err set. */
static int fill(struct proto_conn *c, struct trl_error *err)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * PROTO_MAX_FDS)];
	} ctl;

	if (c->cap - c->len < PROTO_READ_CHUNK / 4 && c->cap < PROTO_BUF_LIMIT) {
		size_t cap = c->cap ? c->cap * 2 : PROTO_READ_CHUNK;
		char *nb;

		if (cap > PROTO_BUF_LIMIT)
			cap = PROTO_BUF_LIMIT;
		if (c->charge) {
			int r = c->charge(c, (long)(cap - c->cap), err);

			if (r < 0)
				return r;
		}
		nb = realloc(c->buf, cap);
		if (!nb) {
			if (c->charge)
				c->charge(c, -(long)(cap - c->cap), NULL);
			return trl_error_errno(err, TRL_EFAILED, ENOMEM, "cannot buffer message");
		}
		c->buf = nb;
		c->cap = cap;
	}

	for (;;) {
		struct iovec iov = { .iov_base = c->buf + c->len, .iov_len = c->cap - c->len };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = ctl.buf,
			.msg_controllen = sizeof(ctl.buf),
		};
		ssize_t n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);

		if (n < 0) {
			int r;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return trl_error_errno(err, TRL_EFAILED, errno, "cannot read from socket");
			/* On a blocking socket EAGAIN means its SO_RCVTIMEO expired. */
			if (!(fcntl(c->fd, F_GETFL) & O_NONBLOCK))
				return trl_error_set(err, TRL_EPROTO, c->len ? "timed out waiting for the rest of the message" :
							 "timed out waiting for a message");
			r = wait_fd(c->fd, POLLIN);
			if (r < 0)
				return trl_error_errno(err, TRL_EFAILED, -r, "cannot read from socket");
			continue;
		}
		c->len += (size_t)n;
		if (take_fds(c, &mh) < 0)
			return trl_error_set(err, TRL_EPROTO,
					     "too many file descriptors attached (at most %u per message)",
					     PROTO_MAX_FDS);
		return (int)(n > 0);
	}
}

/* Consume the first @n bytes of the buffer plus the newline after them. */
static void consume(struct proto_conn *c, size_t n)
{
	memmove(c->buf, c->buf + n + 1, c->len - n - 1);
	c->len -= n + 1;
}

int proto_recv(struct proto_conn *c, json_t **msg, struct trl_error *err)
{
	size_t scanned = 0;

	*msg = NULL;
	for (;;) {
		char *nl = c->len > scanned ? memchr(c->buf + scanned, '\n', c->len - scanned) : NULL;
		json_error_t jerr;
		json_t *v;
		size_t n;
		int r;

		if (!nl) {
			scanned = c->len;
			if (c->len > PROTO_MAX_MSG)
				return trl_error_set(err, TRL_EPROTO,
						     "message too long (more than %u bytes)", PROTO_MAX_MSG);
			r = fill(c, err);
			if (r < 0)
				return r;
			if (r == 0) {
				if (c->len == 0)
					return 0;
				c->len = 0;
				return trl_error_set(err, TRL_EPROTO,
						     "connection closed in the middle of a message");
			}
			continue;
		}

		n = (size_t)(nl - c->buf);
		if (n > PROTO_MAX_MSG) {
			consume(c, n);
			return trl_error_set(err, TRL_EPROTO, "message too long (more than %u bytes)",
					     PROTO_MAX_MSG);
		}
		v = json_loadb(c->buf, n, JSON_REJECT_DUPLICATES, &jerr);
		consume(c, n);
		if (!v)
			return trl_error_set(err, TRL_EPROTO, "message is not valid JSON: %s (column %d)",
					     jerr.text, jerr.column);
		if (!json_is_object(v)) {
			json_decref(v);
			return trl_error_set(err, TRL_EPROTO, "message is not a JSON object");
		}
		*msg = v;
		return 1;
	}
}

/* Request decoding. */

enum field_type {
	FIELD_NAME,	/* string, names_valid() */
	FIELD_TEXT,	/* string */
	FIELD_FILENAME,	/* string, a base name */
	FIELD_FILES,	/* object: relative path -> string */
	FIELD_ARGV,	/* non-empty array of strings */
	FIELD_BOOL,
	FIELD_PLACEMENT,	/* object: {"nodes": {name: {"address": str}}, "keys": {link: int}} */
	FIELD_LINK,	/* string: a link name "r1:eth1-r2:eth1" or one endpoint "r1:eth1" */
	FIELD_LINK_SET,	/* object: link settings, see proto.h */
	FIELD_VALUE,	/* slice.set: a short non-empty string, checked by the daemon */
	FIELD_SSHKEY,	/* string, one line of at most PROTO_MAX_SSHKEY bytes */
	FIELD_TIME,	/* integer >= 0: unix seconds */
	FIELD_CAPTURE,	/* object: link.capture's settings, see proto.h */
};

#define PROTO_MAX_SSHKEY 20000

struct field_desc {
	const char *key;
	enum field_type type;
	int required;
};

static const struct field_desc no_fields[] = { { NULL, 0, 0 } };
static const struct field_desc create_fields[] = {
	{ "spec", FIELD_TEXT, 1 },
	{ "filename", FIELD_FILENAME, 0 },
	{ "files", FIELD_FILES, 0 },
	{ "placement", FIELD_PLACEMENT, 0 },
	{ "dry_run", FIELD_BOOL, 0 },
	{ NULL, 0, 0 },
};
static const struct field_desc apply_fields[] = {
	{ "name", FIELD_NAME, 0 },	/* if given: the spec must be for this slice */
	{ "spec", FIELD_TEXT, 1 },
	{ "filename", FIELD_FILENAME, 0 },
	{ "files", FIELD_FILES, 0 },
	{ "placement", FIELD_PLACEMENT, 0 },	/* multi-node: the nodes, and keys of new links */
	{ "dry_run", FIELD_BOOL, 0 },
	{ NULL, 0, 0 },
};
static const struct field_desc router_fields[] = {
	{ "name", FIELD_NAME, 1 },
	{ "router", FIELD_NAME, 1 },
	{ NULL, 0, 0 },
};
static const struct field_desc name_fields[] = {
	{ "name", FIELD_NAME, 1 },
	{ NULL, 0, 0 },
};
static const struct field_desc exec_fields[] = {
	{ "name", FIELD_NAME, 1 },
	{ "router", FIELD_NAME, 1 },
	{ "argv", FIELD_ARGV, 1 },
	{ "tty", FIELD_BOOL, 0 },
	{ "key", FIELD_SSHKEY, 0 },	/* trellis-ssh: the key that opened the ssh session */
	{ NULL, 0, 0 },
};

static const struct field_desc link_set_fields[] = {
	{ "name", FIELD_NAME, 1 },
	{ "link", FIELD_LINK, 1 },
	{ "set", FIELD_LINK_SET, 1 },
	{ NULL, 0, 0 },
};

/* To add a value: a row here, a member in struct proto_set, a line in set_value_slot(). */
static const struct field_desc set_fields[] = {
	{ "name", FIELD_NAME, 1 },
	{ "router", FIELD_NAME, 0 },
	{ "cpu", FIELD_VALUE, 0 },
	{ "cpu_weight", FIELD_VALUE, 0 },
	{ "memory", FIELD_VALUE, 0 },
	{ "pids", FIELD_VALUE, 0 },
	{ "bandwidth", FIELD_VALUE, 0 },
	{ "ceil", FIELD_VALUE, 0 },
	{ NULL, 0, 0 },
};

static const char **set_value_slot(struct proto_request *req, const char *key)
{
	if (!strcmp(key, "cpu"))
		return &req->set.cpu;
	if (!strcmp(key, "cpu_weight"))
		return &req->set.cpu_weight;
	if (!strcmp(key, "memory"))
		return &req->set.memory;
	if (!strcmp(key, "pids"))
		return &req->set.pids;
	if (!strcmp(key, "bandwidth"))
		return &req->set.bandwidth;
	if (!strcmp(key, "ceil"))
		return &req->set.ceil;
	return NULL;
}

static const struct field_desc capture_fields[] = {
	{ "name", FIELD_NAME, 1 },
	{ "link", FIELD_LINK, 1 },
	{ "router", FIELD_NAME, 0 },
	{ "capture", FIELD_CAPTURE, 0 },
	{ NULL, 0, 0 },
};

static const struct field_desc key_fields[] = {
	{ "name", FIELD_NAME, 1 },
	{ "key", FIELD_SSHKEY, 1 },
	{ NULL, 0, 0 },
};

static const struct field_desc node_remove_fields[] = {
	{ "name", FIELD_NAME, 1 },
	{ "force", FIELD_BOOL, 0 },
	{ NULL, 0, 0 },
};

static const struct field_desc events_fields[] = {
	{ "name", FIELD_NAME, 0 },
	{ "since", FIELD_TIME, 0 },
	{ "follow", FIELD_BOOL, 0 },
	{ NULL, 0, 0 },
};

static const struct op_desc {
	enum proto_op op;
	const char *name;
	const struct field_desc *fields;
} ops[] = {
	{ PROTO_OP_PING, "ping", no_fields },
	{ PROTO_OP_SLICE_CREATE, "slice.create", create_fields },
	{ PROTO_OP_SLICE_LIST, "slice.list", no_fields },
	{ PROTO_OP_SLICE_SHOW, "slice.show", name_fields },
	{ PROTO_OP_SLICE_DELETE, "slice.delete", name_fields },
	{ PROTO_OP_SLICE_EXEC, "slice.exec", exec_fields },
	{ PROTO_OP_NODE_SHOW, "node.show", no_fields },
	{ PROTO_OP_SLICE_STATS, "slice.stats", name_fields },
	{ PROTO_OP_LINK_SET, "link.set", link_set_fields },
	{ PROTO_OP_SLICE_SET, "slice.set", set_fields },
	{ PROTO_OP_SLICE_KEY_ADD, "slice.key.add", key_fields },
	{ PROTO_OP_SLICE_KEY_REMOVE, "slice.key.remove", key_fields },
	{ PROTO_OP_SLICE_KEY_LIST, "slice.key.list", name_fields },
	{ PROTO_OP_SSH_KEYS, "ssh.keys", name_fields },
	{ PROTO_OP_NODE_LIST, "node.list", no_fields },
	{ PROTO_OP_EVENTS, "events", events_fields },
	{ PROTO_OP_LINK_CAPTURE, "link.capture", capture_fields },
	{ PROTO_OP_SLICE_APPLY, "slice.apply", apply_fields },
	{ PROTO_OP_ROUTER_STOP, "router.stop", router_fields },
	{ PROTO_OP_ROUTER_START, "router.start", router_fields },
	{ PROTO_OP_ROUTER_RESTART, "router.restart", router_fields },
	{ PROTO_OP_NODE_REMOVE, "node.remove", node_remove_fields },
};

const char *proto_op_name(enum proto_op op)
{
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (ops[i].op == op)
			return ops[i].name;
	return "unknown";
}

/* A config-file name: relative, no empty or '..' component. */
static int file_name_ok(const char *s)
{
	const char *p = s;

	if (!*s || *s == '/')
		return 0;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += n;
		if (*p == '/')
			p++;
	}
	return p[-1] != '/';
}

static int decode_field(const struct op_desc *od, const struct field_desc *f, json_t *v,
			struct proto_request *req, struct trl_error *err)
{
	const char *op = od->name;

	switch (f->type) {
	case FIELD_NAME:
		if (!json_is_string(v))
			return trl_error_set(err, TRL_EPROTO, "%s: field '%s' must be a string", op, f->key);
		if (!names_valid(json_string_value(v)))
			return trl_error_set(err, TRL_EINVALID,
					     "%s: field '%s': '%.64s' is not a valid name (a lowercase letter, then lowercase letters, digits or '-', at most 15 characters)",
					     op, f->key, json_string_value(v));
		if (!strcmp(f->key, "name"))
			req->name = json_string_value(v);
		else
			req->router = json_string_value(v);
		return 0;
	case FIELD_TEXT:
		if (!json_is_string(v))
			return trl_error_set(err, TRL_EPROTO, "%s: field '%s' must be a string", op, f->key);
		req->spec = json_string_value(v);
		req->spec_len = json_string_length(v);
		return 0;
	case FIELD_FILENAME: {
		const char *s;

		if (!json_is_string(v))
			return trl_error_set(err, TRL_EPROTO, "%s: field '%s' must be a string", op, f->key);
		s = json_string_value(v);
		if (!*s || strchr(s, '/') || json_string_length(v) > 255)
			return trl_error_set(err, TRL_EINVALID,
					     "%s: field '%s': '%.64s' is not a file name (no '/', 1 to 255 bytes)",
					     op, f->key, s);
		req->filename = s;
		return 0;
	}
	case FIELD_FILES: {
		const char *key;
		json_t *text;

		if (!json_is_object(v))
			return trl_error_set(err, TRL_EPROTO, "%s: field '%s' must be an object", op, f->key);
		json_object_foreach(v, key, text) {
			if (!json_is_string(text))
				return trl_error_set(err, TRL_EPROTO,
						     "%s: field '%s': entry '%.64s' must be a string",
						     op, f->key, key);
			if (!file_name_ok(key))
				return trl_error_set(err, TRL_EINVALID,
						     "%s: field '%s': '%.64s' is not a relative path without '..'",
						     op, f->key, key);
		}
		req->files = v;
		return 0;
	}
	case FIELD_ARGV: {
		size_t i, n;
		json_t *a;

		if (!json_is_array(v))
			return trl_error_set(err, TRL_EPROTO, "%s: field '%s' must be an array of strings",
					     op, f->key);
		n = json_array_size(v);
		if (n == 0)
			return trl_error_set(err, TRL_EINVALID, "%s: field '%s' must not be empty", op, f->key);
		if (n > PROTO_MAX_ARGV)
			return trl_error_set(err, TRL_EINVALID,
					     "%s: field '%s' has %zu entries (at most %d)", op, f->key,
					     n, PROTO_MAX_ARGV);
		json_array_foreach(v, i, a)
			if (!json_is_string(a))
				return trl_error_set(err, TRL_EPROTO, "%s: field '%s[%zu]' must be a string",
						     op, f->key, i);
		if (!*json_string_value(json_array_get(v, 0)))
			return trl_error_set(err, TRL_EINVALID, "%s: field '%s[0]' (the command) is empty",
					     op, f->key);
		req->argv = v;
		return 0;
	}
	case FIELD_LINK: {
		const char *t;

		if (!json_is_string(v))
			return trl_error_set(err, TRL_EPROTO, "%s: field '%s' must be a string", op, f->key);
		t = json_string_value(v);
		if (!*t || json_string_length(v) > 63 || strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789-:") != strlen(t))
			return trl_error_set(err, TRL_EINVALID,
					     "%s: field '%s': '%.64s' is not a link (ROUTER:IF or ROUTER:IF-ROUTER:IF)",
					     op, f->key, t);
		req->link = t;
		return 0;
	}
	case FIELD_LINK_SET: {
		static const char *const ints[] = { "rate", "ceil", "burst", "loss_ppm", "delay_us", "jitter_us" };
		const char *key;
		json_t *m;

		if (!json_is_object(v) || !json_object_size(v))
			return trl_error_set(err, TRL_EPROTO, "%s: field '%s' must be a non-empty object", op, f->key);
		json_object_foreach(v, key, m) {
			size_t i;

			if (!strcmp(key, "state")) {
				if (!json_is_string(m) ||
				    (strcmp(json_string_value(m), "up") && strcmp(json_string_value(m), "down")))
					return trl_error_set(err, TRL_EINVALID, "%s: '%s.state' must be \"up\" or \"down\"",
							     op, f->key);
				continue;
			}
			for (i = 0; i < ARRAY_SIZE(ints); i++)
				if (!strcmp(key, ints[i]))
					break;
			if (i == ARRAY_SIZE(ints))
				return trl_error_set(err, TRL_EPROTO, "%s: field '%s': unknown member '%.64s'", op,
						     f->key, key);
			if (!json_is_integer(m) || json_integer_value(m) < 0 ||
			    json_integer_value(m) > (json_int_t)1000000000000LL)
				return trl_error_set(err, TRL_EINVALID,
						     "%s: '%s.%s' must be an integer from 0 to 10^12", op, f->key, key);
		}
		req->settings = v;
		return 0;
	}
	case FIELD_PLACEMENT: {
		json_t *nodes, *keys, *n, *k;
		const char *key;

		if (!json_is_object(v))
			return trl_error_set(err, TRL_EPROTO, "%s: field '%s' must be an object", op, f->key);
		json_object_foreach(v, key, n)
			if (strcmp(key, "nodes") && strcmp(key, "keys"))
				return trl_error_set(err, TRL_EPROTO, "%s: field '%s': unknown member '%.64s'", op,
						     f->key, key);
		nodes = json_object_get(v, "nodes");
		keys = json_object_get(v, "keys");
		if (!json_is_object(nodes))
			return trl_error_set(err, TRL_EPROTO, "%s: field '%s.nodes' must be an object", op, f->key);
		json_object_foreach(nodes, key, n) {
			if (!names_valid(key))
				return trl_error_set(err, TRL_EINVALID, "%s: '%s.nodes': '%.64s' is not a valid node name",
						     op, f->key, key);
			if (!json_is_object(n) || !json_is_string(json_object_get(n, "address")) ||
			    json_object_size(n) != 1)
				return trl_error_set(err, TRL_EPROTO,
						     "%s: '%s.nodes.%s' must be {\"address\": \"IPv4 address\"}", op,
						     f->key, key);
		}
		if (keys) {
			if (!json_is_object(keys))
				return trl_error_set(err, TRL_EPROTO, "%s: field '%s.keys' must be an object", op,
						     f->key);
			json_object_foreach(keys, key, k)
				if (!json_is_integer(k) || json_integer_value(k) < 1 ||
				    json_integer_value(k) > 0xffffffffLL)
					return trl_error_set(err, TRL_EINVALID,
							     "%s: '%s.keys.%.64s' must be an integer from 1 to 4294967295",
							     op, f->key, key);
		}
		req->placement = v;
		return 0;
	}
	case FIELD_VALUE: {
		const char **slot = set_value_slot(req, f->key);

		if (!json_is_string(v))
			return trl_error_set(err, TRL_EPROTO, "%s: field '%s' must be a string (the value as written, e.g. \"1.5\")",
					     op, f->key);
		if (!json_string_length(v) || json_string_length(v) > 64 ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return trl_error_set(err, TRL_EINVALID, "%s: field '%s' must be 1 to 64 characters", op, f->key);
		if (!slot)
			return trl_error_set(err, TRL_EPROTO, "%s: field '%s' has no slot", op, f->key);
		*slot = json_string_value(v);
		return 0;
	}
	case FIELD_SSHKEY: {
		const char *s;

		if (!json_is_string(v))
			return trl_error_set(err, TRL_EPROTO, "%s: field '%s' must be a string", op, f->key);
		s = json_string_value(v);
		if (json_string_length(v) > PROTO_MAX_SSHKEY || strlen(s) != json_string_length(v))
			return trl_error_set(err, TRL_EINVALID, "%s: field '%s': longer than %d bytes or holds a NUL",
					     op, f->key, PROTO_MAX_SSHKEY);
		req->key = s;
		return 0;
	}
	case FIELD_CAPTURE: {
		static const struct {
			const char *key;
			json_int_t min, max;
		} ints[] = { { "count", 1, PROTO_CAPTURE_MAX_COUNT },
			     { "seconds", 1, PROTO_CAPTURE_MAX_SECONDS },
			     { "snaplen", 64, PROTO_CAPTURE_MAX_SNAPLEN } };
		const char *key, *t;
		json_t *m;

		if (!json_is_object(v))
			return trl_error_set(err, TRL_EPROTO, "%s: field '%s' must be an object", op, f->key);
		json_object_foreach(v, key, m) {
			size_t i;

			if (!strcmp(key, "filter")) {
				if (!json_is_string(m) || json_string_length(m) > PROTO_CAPTURE_MAX_FILTER ||
				    strlen(json_string_value(m)) != json_string_length(m))
					return trl_error_set(err, TRL_EINVALID,
							     "%s: '%s.filter' must be a string of at most %d bytes without NUL",
							     op, f->key, PROTO_CAPTURE_MAX_FILTER);
				continue;
			}
			if (!strcmp(key, "format")) {
				t = json_string_value(m);
				if (!t || (strcmp(t, "pcapng") && strcmp(t, "pcap")))
					return trl_error_set(err, TRL_EINVALID, "%s: '%s.format' must be \"pcapng\" or \"pcap\"",
							     op, f->key);
				continue;
			}
			for (i = 0; i < ARRAY_SIZE(ints); i++)
				if (!strcmp(key, ints[i].key))
					break;
			if (i == ARRAY_SIZE(ints))
				return trl_error_set(err, TRL_EPROTO, "%s: field '%s': unknown member '%.64s'", op,
						     f->key, key);
			if (!json_is_integer(m) || json_integer_value(m) < ints[i].min ||
			    json_integer_value(m) > ints[i].max)
				return trl_error_set(err, TRL_EINVALID, "%s: '%s.%s' must be an integer from %lld to %lld",
						     op, f->key, key, (long long)ints[i].min, (long long)ints[i].max);
		}
		req->capture = v;
		return 0;
	}
	case FIELD_BOOL:
		if (!json_is_boolean(v))
			return trl_error_set(err, TRL_EPROTO, "%s: field '%s' must be true or false", op, f->key);
		if (!strcmp(f->key, "follow"))
			req->follow = json_is_true(v);
		else if (!strcmp(f->key, "dry_run"))
			req->dry_run = json_is_true(v);
		else if (!strcmp(f->key, "force"))
			req->force = json_is_true(v);
		else
			req->tty = json_is_true(v);
		return 0;
	case FIELD_TIME:
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return trl_error_set(err, TRL_EPROTO, "%s: field '%s' must be an integer >= 0 (unix seconds)",
					     op, f->key);
		req->since = json_integer_value(v);
		return 0;
	}
	return trl_error_set(err, TRL_EPROTO, "%s: field '%s' has an unknown type", op, f->key);
}

int proto_request_decode(json_t *msg, struct proto_request *req, struct trl_error *err)
{
	const struct op_desc *od = NULL;
	const char *key, *opname;
	json_t *v;
	int r;

	memset(req, 0, sizeof(*req));
	if (!json_is_object(msg))
		return trl_error_set(err, TRL_EPROTO, "request is not a JSON object");
	v = json_object_get(msg, "op");
	if (!v)
		return trl_error_set(err, TRL_EPROTO, "request has no field 'op'");
	if (!json_is_string(v))
		return trl_error_set(err, TRL_EPROTO, "field 'op' must be a string");
	opname = json_string_value(v);
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (!strcmp(ops[i].name, opname))
			od = &ops[i];
	if (!od)
		return trl_error_set(err, TRL_EPROTO, "unknown op '%.64s'", opname);

	json_object_foreach(msg, key, v) {
		const struct field_desc *f;

		if (!strcmp(key, "op"))
			continue;
		for (f = od->fields; f->key; f++)
			if (!strcmp(f->key, key))
				break;
		if (!f->key)
			return trl_error_set(err, TRL_EPROTO, "%s: unknown field '%.64s'", od->name, key);
	}
	for (const struct field_desc *f = od->fields; f->key; f++) {
		v = json_object_get(msg, f->key);
		if (!v) {
			if (f->required)
				return trl_error_set(err, TRL_EPROTO, "%s: missing field '%s'", od->name, f->key);
			continue;
		}
		r = decode_field(od, f, v, req, err);
		if (r < 0)
			return r;
	}
	req->op = od->op;
	return 0;
}

/* Replies. */

json_t *proto_event_new(const char *step, const char *fmt, ...)
{
	char *text = NULL;
	json_t *ev;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	ev = json_pack("{s:s, s:s, s:s}", "event", "progress", "step", step ? step : "",
		       "message", text);
	free(text);
	return ev;
}

json_t *proto_ok_new(json_t *result)
{
	if (!result)
		result = json_object();
	return json_pack("{s:b, s:o}", "ok", 1, "result", result);
}

json_t *proto_error_new(const struct trl_error *err)
{
	json_t *e;

	e = json_pack("{s:s, s:s}", "code", trl_error_code_name(err && err->code ? err->code : TRL_EFAILED),
		      "message", err && err->msg[0] ? err->msg : "operation failed");
	if (!e)
		return NULL;
	if (err && err->step[0] && json_object_set_new(e, "step", json_string(err->step)) < 0) {
		json_decref(e);
		return NULL;
	}
	return json_pack("{s:b, s:o}", "ok", 0, "error", e);
}

int proto_reply_kind(json_t *reply, struct trl_error *err)
{
	json_t *ok, *ev, *e, *code, *msg, *step;

	if (!json_is_object(reply))
		return trl_error_set(err, TRL_EPROTO, "malformed reply: not a JSON object");
	ev = json_object_get(reply, "event");
	ok = json_object_get(reply, "ok");
	if (ev) {
		if (ok || !json_is_string(ev))
			return trl_error_set(err, TRL_EPROTO, "malformed reply: bad event");
		if (!strcmp(json_string_value(ev), "progress") &&
		    !json_is_string(json_object_get(reply, "message")))
			return trl_error_set(err, TRL_EPROTO, "malformed reply: progress event without a message");
		return 1;
	}
	if (json_is_true(ok)) {
		json_t *res = json_object_get(reply, "result");

		if (res && !json_is_object(res))
			return trl_error_set(err, TRL_EPROTO, "malformed reply: 'result' is not an object");
		return 0;
	}
	if (!json_is_false(ok))
		return trl_error_set(err, TRL_EPROTO, "malformed reply: neither an event nor a final reply");

	e = json_object_get(reply, "error");
	code = json_object_get(e, "code");
	msg = json_object_get(e, "message");
	step = json_object_get(e, "step");
	if (!json_is_object(e) || !json_is_string(code) || !json_is_string(msg) ||
	    (step && !json_is_string(step)))
		return trl_error_set(err, TRL_EPROTO, "malformed reply: bad 'error' object");
	if (err) {
		trl_error_clear(err);
		if (step)
			trl_error_set_step(err, json_string_value(step));
	}
	return trl_error_set(err, trl_error_code_parse(json_string_value(code)), "%s",
			     json_string_value(msg));
}
