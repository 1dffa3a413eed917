/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: client/daemon protocol
 *
 * JSON messages, one per line ('\n'-terminated, UTF-8, at most PROTO_MAX_MSG
 * bytes), over the SOCK_STREAM Unix socket (default /run/trellis/trellisd.sock).
 * File descriptors may ride along a message as SCM_RIGHTS (slice.exec passes
 * the client's stdin/stdout/stderr).
 *
 * Request (client -> daemon), one per connection:
 *   {"op": "slice.create", "spec": "<yaml text>", "filename": "pair.yaml",
 *    "files": {"r1.conf": "<text>"}}
 *   {"op": "slice.list"}
 *   {"op": "slice.show",   "name": "blue"}
 *   {"op": "slice.delete", "name": "blue"}
 *   {"op": "slice.exec",   "name": "blue", "router": "r1", "argv": ["ip","addr"],
 *    "tty": true}                                  + fds 0,1,2 via SCM_RIGHTS
 *   {"op": "slice.stats",  "name": "blue"}
 *   {"op": "node.show"}
 *
 * A multi-node create (the CLI fans one spec out to every node named in it)
 * adds where the other nodes are and the link keys every node must use:
 *   "placement": {"nodes": {"n2": {"address": "198.18.2.2"}}, "keys": {"r1:eth1-r2:eth1": 7}}
 *   {"op": "ping"}
 *
 * Replies (daemon -> client): zero or more events, then exactly one final reply.
 *   {"event": "progress", "step": "routers", "message": "router 'r1' running (1/2)"}
 *   {"ok": true,  "result": {...}}
 *   {"ok": false, "error": {"code": "invalid", "step": "start", "message": "..."}}
 * Error codes: see trl_error_code_name(): failed invalid not-found exists
 * permission unavailable protocol limit.
 *
 * Result shapes:
 *   slice.create, slice.show -> a slice object:
 *     {"name","owner","owner_uid","state","created" (unix s),"uid_base",
 *      "routers": [{"name","template","container","state" ("running"|"stopped"|"missing"),
 *                   "pid","daemons":[..],"limits":{"cpu","memory","pids"} (0 = unset),
 *                   "interfaces":[{"name","host","mac","addresses":[..],"link"}]}],
 *      "links": [{"name","endpoints":["r1:eth1","r2:eth1"],"hosts":["blue.r1.eth1",..],
 *                 "rate" (bit/s, 0 = unshaped),"state"}]}
 *   slice.list -> {"slices": [{"name","owner","owner_uid","state","routers","links","created"}]}
 *   slice.delete -> {"name", "removed": bool}  (removed false: nothing existed)
 *   slice.exec -> {"exit": N}  (N = exit status, 128+signal if killed)
 *   node.show -> {"name","version","state_dir","socket","lxcpath","cgroup_layout","fastpath",
 *                 "slices","routers"}
 *   ping -> {"version"}
 *   slice.stats -> {"name", "links": [{"name", "kind" ("local"|"egre"|"gretap"|"vxlan"|"remote"),
 *                   "key", "ports": [{"host", "rx_packets", "rx_bytes", "tx_packets", "tx_bytes",
 *                   "drops", ...}]}]}
 */
#ifndef TRELLIS_PROTO_H
#define TRELLIS_PROTO_H

#include <jansson.h>
#include <stddef.h>
#include "error.h"

#define PROTO_MAX_MSG (16u << 20)
#define PROTO_MAX_FDS 4
#define PROTO_DEFAULT_SOCKET "/run/trellis/trellisd.sock"

enum proto_op {
	PROTO_OP_PING,
	PROTO_OP_SLICE_CREATE,
	PROTO_OP_SLICE_LIST,
	PROTO_OP_SLICE_SHOW,
	PROTO_OP_SLICE_DELETE,
	PROTO_OP_SLICE_EXEC,
	PROTO_OP_NODE_SHOW,
	PROTO_OP_SLICE_STATS,
};

/* A decoded request; pointers borrow from the json_t it was decoded from. */
struct proto_request {
	enum proto_op op;
	const char *name;	/* slice name */
	const char *router;
	const char *spec;
	size_t spec_len;
	const char *filename;
	json_t *files;		/* object name -> string, or NULL */
	json_t *argv;		/* array of strings, or NULL */
	json_t *placement;	/* multi-node create: {"nodes": {...}, "keys": {...}}, or NULL */
	int tty;
};

/* Buffered reader for one connection. */
struct proto_conn {
	int fd;
	char *buf;
	size_t len, cap;
	int fds[PROTO_MAX_FDS * 4];
	size_t nfds;
};

void proto_conn_init(struct proto_conn *c, int fd);
/* Free buffers and close received-but-untaken fds (not c->fd). */
void proto_conn_release(struct proto_conn *c);

/* Send one message (+ optional fds). Returns 0 or -errno (-ETIMEDOUT: the
 * blocking socket's SO_SNDTIMEO expired; part of the message may be sent). */
int proto_send(int fd, json_t *msg, const int *fds, size_t nfds);
/* Receive one message. Returns 1 with *msg set, 0 on clean EOF, or -TRL_EPROTO
 * (oversized, not JSON, not an object) / -TRL_EFAILED (I/O) with @err filled. */
int proto_recv(struct proto_conn *c, json_t **msg, struct trl_error *err);

/* Strictly decode a request: known op, required fields present with the right
 * types, no unknown fields, names valid.  -TRL_EPROTO/-TRL_EINVALID on failure. */
int proto_request_decode(json_t *msg, struct proto_request *req, struct trl_error *err);
const char *proto_op_name(enum proto_op op);

/* Build replies. Each returns a new reference. */
json_t *proto_event_new(const char *step, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
json_t *proto_ok_new(json_t *result);	/* steals @result (may be NULL) */
json_t *proto_error_new(const struct trl_error *err);
/* Classify a reply: 1 = event, 0 = final ok, -code = final error (err filled), -TRL_EPROTO if malformed. */
int proto_reply_kind(json_t *reply, struct trl_error *err);

#endif
