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
 *    "tty": false}                                 + fds 0,1,2 via SCM_RIGHTS
 *   trellis-ssh adds "key": "TYPE BASE64", the key that opened the ssh session
 *   (required from a slice's ssh account; removing the key ends the session).
 *   With "tty": true the client passes no fds: the daemon opens a pty in the
 *   router, starts the command on it and sends its master fd back with the
 *   event {"event": "pty"}; the client runs the terminal on it and the final
 *   reply comes when the command ends.
 *   {"op": "slice.stats",  "name": "blue"}
 *   {"op": "link.set",     "name": "blue", "link": "r1:eth1",
 *    "set": {"rate": 50000000, "ceil": 0, "burst": 0, "loss_ppm": 0, "delay_us": 0,
 *            "jitter_us": 0, "state": "up"|"down"}}   (any subset; 0 = off/derived)
 *   {"op": "link.capture", "name": "blue", "link": "r1:eth1", "router": "r2",
 *    "capture": {"count": 10, "seconds": 60, "snaplen": 262144, "filter": "icmp",
 *                "format": "pcapng"|"pcap"}}       (router, capture and its members optional)
 *      "router" picks the link's end by its router (default: the end "link" names,
 *      the first for a link name).  The daemon captures on that end's interface in
 *      the router's network namespace (both directions), sends {"event": "capture",
 *      "router", "interface", "link", "format"} with the read end of a pipe
 *      (SCM_RIGHTS) and writes the capture file into it; it closes the pipe when the
 *      capture ends (count, seconds, the router stopped, the reader closed its end,
 *      the client hung up), then sends the final reply.
 *   {"op": "slice.set",    "name": "blue", "router": "r1", "cpu": "0.5", "cpu_weight": "200",
 *    "memory": "256M", "pids": "512"}
 *      every value a string, parsed by the daemon as in a spec (spec_limit_parse);
 *      an absent field is left unchanged; without "router" the slice's aggregate
 *      (its parent cgroup) changes; at least one value is needed.  "bandwidth" and
 *      "ceil" (rates, or "none") change the slice's share of the substrate (no "router")
 *   {"op": "slice.key.add",    "name": "blue", "key": "ssh-ed25519 AAAA... comment"}
 *   {"op": "slice.key.remove", "name": "blue", "key": "ssh-ed25519 AAAA..."}
 *   {"op": "slice.key.list",   "name": "blue"}
 *   {"op": "ssh.keys",     "name": "blue"}   (sshd's AuthorizedKeysCommand, via trellis-ssh)
 *   {"op": "node.show"}
 *   {"op": "node.list"}     (cluster mode: every node of the cluster)
 *   {"op": "node.remove", "name": "n3", "force": false}   (cluster mode: retire a node;
 *      refused while slices of the cluster use it or it is up, unless "force")
 *   {"op": "events", "name": "blue", "since": 1700000000, "follow": true}
 *      (every field optional) what happened: the kept history (newest
 *      EVENTS_HISTORY_MAX, at or after "since"), and with "follow" then each
 *      new event as {"event": "event", "record": EVENT} until the client
 *      leaves; a follower that falls behind gets a final error (limit).
 *      A caller sees the events of the slices it may see (root: all,
 *      daemon and node events too).
 *
 * A multi-node create (the CLI fans one spec out to every node named in it)
 * adds where the other nodes are and the link keys every node must use:
 *   "placement": {"nodes": {"n2": {"address": "198.18.2.2"}}, "keys": {"r1:eth1-r2:eth1": 7}}
 * Only root may send a placement (any other uid: a permission error naming
 * "placement"); keys are 1..TRL_LINK_KEY_MAX (lib/model.h), drawn at random.
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
 *     {"name","owner","owner_uid","state","created" (unix s),"uid_base","node",
 *      "limits": LIMITS (the slice's aggregate, current values),
 *      "routers": [{"name","template","container","state" ("running"|"stopped"|"missing"),
 *                   "pid","daemons":[..],"limits":LIMITS (effective: own, else router-defaults),
 *                   "interfaces":[{"name","host","mac","addresses":[..],"link"}]}],
 *      "links": [{"name","endpoints":["r1:eth1","r2:eth1"],"hosts":["blue.r1.eth1",..],
 *                 "rate" (bit/s, 0 = unshaped),"state"}]}
 *   slice.list -> {"slices": [{"name","owner","owner_uid","state","routers","links","created"}]}
 *   slice.delete -> {"name", "removed": bool}  (removed false: nothing existed)
 *   slice.exec -> {"exit": N}  (N = exit status, 128+signal if killed)
 *   slice.key.add -> {"name", "account", "key", "comment"}
 *   slice.key.remove -> {"name", "key"}
 *   slice.key.list -> {"name", "account" (or null), "keys": [{"key", "comment", "added"}]}
 *   ssh.keys -> {"name", "keys": ["restrict,pty TYPE BASE64 COMMENT", ...]}
 *   node.show -> {"name","version","state_dir","socket","lxcpath","cgroup_layout","fastpath",
 *                 "slices","routers"}
 *   node.list -> {"cluster", "nodes": [{"name","state" ("up"|"down"),"address","capacity",
 *                 "fastpath","tunnels","routers","slices","load","max_key","version","seen"}]}
 *   slice.create in cluster mode -> {"name","revision","nodes": {NODE: {"state","message","code"}}}
 *   ping -> {"version"}
 *   events -> {"events": [EVENT...]} (oldest first)
 *     EVENT = {"id", "time" (unix s, float), "node", "slice" (or null), "router" (or null),
 *              "kind", "message"}
 *   slice.stats -> {"name", "links": [{"name", "kind" ("local"|"egre"|"gretap"|"vxlan"|"remote"),
 *                   "key", "shape": {...}, "admin": "up"|"down",
 *                   "ports": [{"host", "rx_packets", "rx_bytes", "tx_packets", "tx_bytes",
 *                   "drops", "drops_mtu", "drops_loss", "drops_other"}],
 *                   "directions": [{"from", "to", "rate_now" (bit/s over 0.5 s), "class"
 *                   ("DEV 1:N", "" if unshaped), "bytes", "packets", "drops", "overlimits",
 *                   "backlog_bytes", "backlog_packets"}]}]}
 *   link.capture -> {"router", "interface", "link", "packets" (written), "matched" (passed the
 *                 filter), "dropped" (by the kernel: the buffer was full), "bytes", "seconds",
 *                 "reason" ("count", "seconds", "reader", "client", "router", "interface", "daemon")}
 *   link.set -> the link as slice.show reports it, plus "changed": [names of what changed]
 *                   "key", "ports": [{"host", "rx_packets", "rx_bytes", "tx_packets", "tx_bytes",
 *                   "drops", ...}]}],
 *                   "usage": USAGE (the slice's aggregate group on this node, or null),
 *                   "routers": [{"name", "state", "usage": USAGE or null (not running / remote)}]}
 *     USAGE = {"cpu_ns" (CPU time used), "cpu_throttled" (periods the quota ran out),
 *              "memory", "memory_max" (bytes; max 0 = no limit), "memory_failcnt",
 *              "oom_kills", "pids", "pids_max" (0 = no limit),
 *              "disk", "disk_free", "disk_max" (bytes used and free in the router's own rootfs
 *              file system, and its limits.disk; all 0 when it has no disk limit)}
 *   slice.set -> {"name", "router" (or null), "limits": LIMITS (now, read from the kernel),
 *                 "previous": LIMITS}; with bandwidth/ceil also "bandwidth": {"rate", "ceil"}
 *                 and "bandwidth_previous" (bit/s, 0 = none); only those when nothing else changed
 *     LIMITS = {"cpu" (cores), "cpu_weight", "memory" (bytes), "pids", "disk" (bytes)}  (0 = unset / no limit)
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
	PROTO_OP_LINK_SET,
	PROTO_OP_SLICE_SET,
	PROTO_OP_SLICE_KEY_ADD,
	PROTO_OP_SLICE_KEY_REMOVE,
	PROTO_OP_SLICE_KEY_LIST,
	PROTO_OP_SSH_KEYS,
	PROTO_OP_NODE_LIST,
	PROTO_OP_EVENTS,
	PROTO_OP_LINK_CAPTURE,
	PROTO_OP_SLICE_APPLY,
	PROTO_OP_ROUTER_STOP,
	PROTO_OP_ROUTER_START,
	PROTO_OP_ROUTER_RESTART,
	PROTO_OP_NODE_REMOVE,
};

/* link.capture's settings: bounds the protocol checks (the daemon's own
 * limits, trellisd(8) LIMITS, may be lower). */
#define PROTO_CAPTURE_MAX_COUNT 100000000
#define PROTO_CAPTURE_MAX_SECONDS 86400
#define PROTO_CAPTURE_MAX_SNAPLEN 262144
#define PROTO_CAPTURE_MAX_FILTER 1024

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
	const char *link;	/* link.set: "r1:eth1-r2:eth1" or "r1:eth1" */
	json_t *settings;	/* link.set: the "set" object */
	json_t *capture;	/* link.capture: the "capture" object, or NULL */
	const char *key;	/* slice.key.*: an ssh public key line; slice.exec: the session's key */
	int tty;
	int dry_run;		/* slice.create: validate, plan and admit, build nothing; slice.apply: plan only */
	int follow;		/* events: stay and stream */
	int force;		/* node.remove: even while slices use the node, or it is up */
	long long since;	/* events: unix time, 0 = the whole kept history */
	/* slice.set: new values as the user wrote them ("1.5", "512M"); NULL = leave unchanged. */
	struct proto_set {
		const char *cpu, *cpu_weight, *memory, *pids;
		const char *bandwidth, *ceil;	/* the slice's substrate share: "50mbit", "none" */
	} set;
};

/* Buffered reader for one connection. */
struct proto_conn {
	int fd;
	char *buf;
	size_t len, cap;
	int fds[PROTO_MAX_FDS * 4];
	size_t nfds;
	/* Optional (the daemon's memory budget): asked before the buffer grows by
	 * @delta bytes (a negative return refuses, with @err filled, and becomes
	 * proto_recv()'s), told when it is freed (@delta < 0, @err NULL). */
	int (*charge)(struct proto_conn *c, long delta, struct trl_error *err);
	void *charge_ctx;
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
