/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: trellis CLI internals
 *
 * One file per object (slice.c, node.c); trellis.c holds main(), the global
 * options and the dispatch tables; call.c talks to trellisd.  A verb is a
 * struct cli_cmd; it parses its own arguments with cli_args_parse(), builds a
 * request, calls cli_call() and renders the result through the print layer
 * (lib/print.h).  Verbs return the process exit status (trellis(8), EXIT
 * STATUS): 0, 2 for usage errors, trl_error_exit_code() for everything else,
 * or the remote command's status for exec/login.
 */
#ifndef TRELLIS_CLI_H
#define TRELLIS_CLI_H

#include <jansson.h>
#include <stddef.h>
#include "error.h"
#include "etcd.h"
#include "proto.h"

#define CLI_EXIT_USAGE 2

struct cli_node {
	char name[16];
	const char *socket;	/* into argv, or into @path (from a --nodes file) */
	char path[108];		/* sizeof(sun_path) */
};

#define CLI_MAX_NODES 64

struct cli;

/*
 * Where whole-slice operations go, chosen once from the global options
 * (trellis.c): one node (--socket), several nodes (--node/--nodes: this
 * client fans each request out, multi.c) or a cluster (--cluster: etcd,
 * cluster.c).  Each reports its own errors and returns the exit status;
 * create, remove and list print their result, apply returns it, @each is
 * the fan-out of a read (NULL where one answer says it all).
 */
struct cli_backend {
	const char *name;	/* "node", "nodes", "cluster" */
	int (*create)(struct cli *cli, json_t *spec, const char *filename, json_t *files);
	int (*apply)(struct cli *cli, json_t *spec, const char *filename, json_t *files, int dry_run,
		     json_t **result);
	int (*remove)(struct cli *cli, const char *name);
	int (*list)(struct cli *cli);
	/* {"op": op, "name": name} to every node that has the slice: {"name", "nodes": {NODE: reply}} */
	int (*each)(struct cli *cli, const char *op, const char *name, json_t **merged);
};

extern const struct cli_backend cli_backend_node, cli_backend_nodes, cli_backend_cluster;

struct cli {
	const struct cli_backend *backend;	/* chosen once, after the global options */
	const char *socket;	/* daemon socket path */
	int json;		/* --json */
	int quiet;		/* -q: no progress, no confirmations */
	const char *label;	/* prefix for progress lines ("node 'n1'"), or NULL */
	struct cli_node nodes[CLI_MAX_NODES];	/* --node / --nodes: a multi-node deployment */
	int n_nodes;
	/* Set by a verb that asks for a terminal (slice exec/login on a tty):
	 * runs the session on the pty master trellisd passes with the event
	 * {"event": "pty"}, and returns when the session is over (its pty
	 * closed, or the final reply is waiting on @conn). */
	void (*pty_session)(struct cli *cli, int master, struct proto_conn *conn);
	/* Set by trellis events -f: each {"event": "event"} record as it comes. */
	void (*on_event)(struct cli *cli, json_t *record);
	/* Set by link capture: reads the capture file from the pipe trellisd
	 * passes with the event {"event": "capture"} until it ends; the final
	 * reply (what was captured and dropped) comes after. */
	void (*capture_session)(struct cli *cli, json_t *event, int fd);
	void *capture_ctx;
	const char *cluster;	/* --cluster etcd://...: talk to the cluster's etcd directly */
	struct etcd_opts cluster_opts;	/* --cluster-ca/cert/key/user, $TRELLIS_CLUSTER_PASSWORD */
};

struct cli_cmd {
	const char *object;	/* "slice", or NULL for a top-level command */
	const char *name;	/* "create" */
	int (*run)(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
	const char *synopsis;	/* "slice create -f FILE" (without "trellis") */
	const char *summary;	/* one line for the object's help */
	const char *help;	/* what the verb does, in a paragraph or two; or NULL */
	unsigned accept;	/* CLI_OPT_*: the verb's own options (its --help, completion) */
};

/* An object and its verbs: trellis.c's table, the one source of --help, the
 * completion script and the checks against trellis(8)'s SYNOPSIS. */
struct cli_object {
	const char *name;
	const struct cli_cmd *cmds;
	const char *summary;
};

extern const struct cli_object cli_objects[];
extern const size_t cli_n_objects;
/* The commands without an object (version, help, completion). */
extern const struct cli_cmd cli_top_cmds[];

/* An option after the verb: the verbs whose accept has @group take it (0: all). */
struct cli_opt {
	unsigned group;
	const char *name;	/* long name, without "--" */
	char letter;		/* short form, or 0 */
	const char *arg;	/* its argument's name, or NULL */
	const char *help;
};

extern const struct cli_opt cli_opts[];
/* The options before the object (trellis --help), NULL-terminated like cli_opts. */
extern const struct cli_opt cli_global_opts[];

#define DEFAULT_SHELL "/bin/bash"

/* Options a verb accepts besides --json, -q, -h, --socket. */
#define CLI_OPT_FILE 0x1	/* -f, --file FILE */
#define CLI_OPT_SHELL 0x2	/* --shell PATH */
#define CLI_OPT_SHAPE 0x4	/* --rate --ceil --burst --loss --delay --jitter */
#define CLI_OPT_LIMITS 0x8	/* --router NAME --cpu N --cpu-weight N --memory SIZE --pids N */
#define CLI_OPT_DRY_RUN 0x10	/* --dry-run */
#define CLI_OPT_GRAPH 0x20	/* --format F --stats (slice graph: parsed by view_args_parse) */
#define CLI_OPT_EVENTS 0x80	/* --slice NAME --since TIME -f, --follow (events: parsed by cli/events.c) */
#define CLI_OPT_CAPTURE 0x100	/* --end -c --seconds -w --pcap -s (link capture: parsed by cli/capture.c) */
#define CLI_OPT_SAVE 0x40	/* -o, --output DIR (slice save: parsed by view_args_parse) */
#define CLI_OPT_FORCE 0x200	/* --force (node remove) */

struct cli_args {
	unsigned accept;	/* CLI_OPT_*: set from the verb's table entry */
	int fixed;		/* exec style: after this many operands, the rest is a command; 0 = off */
	const char *file;
	const char *shell;
	const char *rate, *ceil, *burst, *loss, *delay, *jitter;	/* CLI_OPT_SHAPE, as typed */
	const char *router, *cpu, *cpu_weight, *memory, *pids;	/* CLI_OPT_LIMITS, as written */
	const char *bandwidth;	/* CLI_OPT_LIMITS: --bandwidth (its --ceil goes to ceil) */
	int dry_run;		/* CLI_OPT_DRY_RUN */
	int force;		/* CLI_OPT_FORCE */
	char **operands;	/* points into argv */
	int noperands;
	char **rest;		/* the command after the fixed operands (fixed > 0) */
	int nrest;
};

/* getopt_long codes of the options every verb's parser takes beside -h and -q;
 * a parser's own long-only options start at CLI_OPTC_OWN. */
enum { CLI_OPTC_JSON = 0x100, CLI_OPTC_SOCKET, CLI_OPTC_OWN };
/* -h, -q, --json and --socket, the same in every verb's parser: 1 taken, 0
 * not one of them, -1 the help was printed (the parser stops, status 0). */
int cli_common_opt(struct cli *cli, const struct cli_cmd *cmd, int c, const char *arg);

/*
 * Parse a verb's arguments (argv[0] is the verb).  Options may appear anywhere
 * among the operands; "--" ends them.  Sets the print mode.  Returns 1 to run
 * the verb, or 0 when it must return *status right away (0 after --help, 2
 * after a usage error; both already printed).
 */
int cli_args_parse(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv,
		   struct cli_args *a, int *status);
/* Print "trellis: MESSAGE" and the verb's short usage to stderr; returns 2. */
int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print the help for one verb to stdout. */
void cli_cmd_help(const struct cli_cmd *cmd);

/* Report @err: "trellis: MESSAGE" on stderr, and {"error":{...}} on stdout with
 * --json.  Returns the exit status for its code. */
int cli_error(struct cli *cli, const struct trl_error *err);

/*
 * Send @req (a reference the call steals; NULL reports out of memory) with
 * @fds attached, print progress events unless quiet, and wait for the final
 * reply.  Returns 0 with *result set (a new reference, never
 * NULL), or an exit status after reporting the error.
 */
int cli_call(struct cli *cli, json_t *req, const int *fds, size_t nfds, json_t **result);
/* Like cli_call against @socket, but errors are returned in @err, not printed. */
int cli_request(struct cli *cli, const char *socket, json_t *req, const int *fds, size_t nfds, json_t **result,
		struct trl_error *err);

/* multi.c: several nodes (global --node NAME=SOCKET, --nodes FILE). */
int cli_nodes_add(struct cli *cli, const char *arg, struct trl_error *err);
int cli_nodes_file(struct cli *cli, const char *path, struct trl_error *err);
/* Create a slice on every node its routers are placed on; roll back everywhere on failure. */
int cli_multi_create(struct cli *cli, json_t *spec, const char *filename, json_t *files);
/* Apply an edited spec to a slice over the nodes (see multi.c); the merged plan in *merged. */
int cli_multi_apply(struct cli *cli, json_t *spec, const char *filename, json_t *files, int dry_run, json_t **merged);
/*
 * The fan-out: send @req (borrowed) to every node of --node/--nodes that has
 * what it names; the replies in *merged {"name", "nodes": {NODE: reply}}.  A
 * node without the slice (not-found) or without a part of it (elsewhere) is
 * skipped; when no node has it, that error.  When a node fails, @undo (if
 * not NULL) gets the replies so far to put those nodes back.  Errors are
 * returned in @err (naming the node), not printed.
 */
int cli_nodes_each(struct cli *cli, json_t *req, json_t **merged,
		   void (*undo)(struct cli *cli, json_t *req, json_t *done), struct trl_error *err);
/* Send {"op": op, "name": name} to every node; results in {"name", "nodes": {node: result}}. */
int cli_multi_call(struct cli *cli, const char *op, const char *name, json_t **merged);
/* Point cli->socket at the node that runs @router of @slice. */
int cli_multi_route(struct cli *cli, const char *slice, const char *router);

/* capture.c: trellis link capture (an entry of cli_link_cmds). */
int cli_link_capture(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
extern const char cli_link_capture_help[];

/* term.c: the terminal side of a login: raw mode, bytes both ways, window size. */
void cli_pty_session(struct cli *cli, int master, struct proto_conn *conn);
/* cluster.c: --cluster etcd://HOST:PORT[,...] */
int cli_cluster_create(struct cli *cli, json_t *spec, const char *filename, json_t *files);
/* An edited spec to a slice of the cluster; {"name","revision","applied","nodes": {NODE: status}} in *result. */
int cli_cluster_apply(struct cli *cli, json_t *spec, const char *filename, json_t *files, json_t **result);
int cli_cluster_delete(struct cli *cli, const char *name);
int cli_cluster_list(struct cli *cli);
int cli_cluster_nodes(struct cli *cli);
int cli_cluster_node_remove(struct cli *cli, const char *name, int force);
int cli_cluster_show(struct cli *cli, const char *name);
/* A cluster create's result (per-node states); node.list's result; node.remove's. */
void cli_cluster_result_print(json_t *result);
void cli_cluster_nodes_print(json_t *result);
void cli_cluster_node_removed_print(json_t *result);

/* events.c: trellis events (a top-level verb). */
int cli_events_run(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);

/* The object tables. */
extern const struct cli_cmd cli_slice_cmds[];
extern const struct cli_cmd cli_node_cmds[];
extern const struct cli_cmd cli_link_cmds[];
extern const struct cli_cmd cli_router_cmds[];

/* complete.c: 'trellis completion bash|table|names ...' */
int cli_completion_run(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
/* Closest of @names to @s within two edits, or NULL. */
const char *cli_suggest(const char *s, const char *const *names, size_t n);

/* Render a slice object (slice show, slice create) in text mode. */
void cli_slice_print(json_t *slice);

#endif
