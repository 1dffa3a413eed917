/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: trellis, the command-line client of trellisd
 *
 *   trellis [--socket PATH] [--json] [-q] OBJECT COMMAND [ARGS...]
 *
 * main() parses the global options (up to the object), finds the object's
 * command table and hands the rest of argv to the verb.  Verbs parse their own
 * arguments with cli_args_parse(), which also accepts the global options
 * --json, -q, -h and --socket after the verb ("trellis slice list --json").
 * Help goes to stdout with status 0; usage errors go to stderr with a short
 * usage and status 2.  The CLI is thin: it validates nothing the daemon
 * validates, so every client sees the daemon's errors.
 */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "print.h"
#include "proto.h"
#include "util.h"

enum {
	OPT_JSON = CLI_OPTC_JSON,
	OPT_SOCKET = CLI_OPTC_SOCKET,
	OPT_SHELL = CLI_OPTC_OWN,
	OPT_VERSION,
	OPT_NODE,
	OPT_NODES,
	OPT_RATE,
	OPT_CEIL,
	OPT_BURST,
	OPT_LOSS,
	OPT_DELAY,
	OPT_JITTER,
	OPT_ROUTER,
	OPT_CPU,
	OPT_CPU_WEIGHT,
	OPT_MEMORY,
	OPT_PIDS,
	OPT_BANDWIDTH,
	OPT_CLUSTER,
	OPT_CLUSTER_CA,
	OPT_CLUSTER_CERT,
	OPT_CLUSTER_KEY,
	OPT_CLUSTER_USER,
	OPT_DRY_RUN,
	OPT_FORCE,
};

/* Before the object only (trellis --help). */
const struct cli_opt cli_global_opts[] = {
	{ 0, "socket", 0, "PATH", "trellisd's socket\n(default: $TRELLIS_SOCKET, else " PROTO_DEFAULT_SOCKET ")" },
	{ 0, "json", 0, NULL, "Print the result as JSON on stdout (progress: JSON lines on stderr)" },
	{ 0, "quiet", 'q', NULL, "No progress and no confirmation messages" },
	{ 0, "node", 0, "NAME=SOCKET", "A node of a multi-node deployment (repeat)" },
	{ 0, "nodes", 0, "FILE", "Nodes of a multi-node deployment, one 'NAME SOCKET' per line" },
	{ 0, "cluster", 0, "etcd://HOST:PORT[,...]",
	  "Talk to a cluster's etcd directly (slice create/delete/list/show,\nnode list/remove; default: $TRELLIS_CLUSTER); etcds:// for TLS" },
	{ 0, "cluster-ca", 0, "FILE", "CA certificates etcd's must chain to ($TRELLIS_CLUSTER_CA)" },
	{ 0, "cluster-cert", 0, "FILE", "client certificate for etcd ($TRELLIS_CLUSTER_CERT)" },
	{ 0, "cluster-key", 0, "FILE", "its key [in the certificate file] ($TRELLIS_CLUSTER_KEY)" },
	{ 0, "cluster-user", 0, "NAME",
	  "etcd user ($TRELLIS_CLUSTER_USER); the password is read\nfrom $TRELLIS_CLUSTER_PASSWORD, never from the command line" },
	{ 0, "version", 0, NULL, "Show the version of trellis" },
	{ 0, "help", 'h', NULL, "Show this help" },
	{ 0, NULL, 0, NULL, NULL },
};

/* After the verb: each verb takes the rows of its accept groups, and the group 0 rows. */
const struct cli_opt cli_opts[] = {
	{ CLI_OPT_FILE, "file", 'f', "FILE", "The slice spec (YAML; '-' reads it from stdin)" },
	{ CLI_OPT_DRY_RUN, "dry-run", 0, NULL, "Validate the spec and show the plan; change nothing" },
	{ CLI_OPT_FORCE, "force", 0, NULL, "Even while slices use the node, or it is up" },
	{ CLI_OPT_EVENTS, "slice", 0, "NAME", "Only the events of slice NAME" },
	{ CLI_OPT_EVENTS, "since", 0, "TIME", "Only events at or after TIME: unix seconds, an age (30s, 10m, 2h, 1d) or YYYY-MM-DDTHH:MM:SS (UTC)" },
	{ CLI_OPT_EVENTS, "follow", 'f', NULL, "Then print each new event as it happens, until interrupted" },
	{ CLI_OPT_CAPTURE, "end", 0, "ROUTER", "Capture on ROUTER's end of the link" },
	{ CLI_OPT_CAPTURE, "count", 'c', "N", "Stop after N frames" },
	{ CLI_OPT_CAPTURE, "seconds", 0, "N", "Stop after N seconds" },
	{ CLI_OPT_CAPTURE, "write", 'w', "FILE", "Write the capture file to FILE ('-': stdout)" },
	{ CLI_OPT_CAPTURE, "pcap", 0, NULL, "Write pcap instead of pcapng (with -w)" },
	{ CLI_OPT_CAPTURE, "snaplen", 's', "N", "Bytes kept of each frame (default 262144)" },
	{ CLI_OPT_GRAPH, "format", 0, "F", "dot (default), mermaid or svg" },
	{ CLI_OPT_GRAPH, "stats", 0, NULL, "Add current rates and drops (slice stats)" },
	{ CLI_OPT_SAVE, "output", 'o', "DIR", "The directory to write to (default: ./NAME; created)" },
	{ CLI_OPT_SHELL, "shell", 0, "PATH", "The shell to start as 'PATH -l' (default: " DEFAULT_SHELL ")" },
	{ CLI_OPT_SHAPE, "rate", 0, "RATE", "Guaranteed rate, tc units (10mbit, 1gbit, 500kbit, 1mbps)" },
	{ CLI_OPT_SHAPE, "ceil", 0, "RATE", "Rate it may borrow up to when its slice has spare" },
	{ CLI_OPT_SHAPE, "burst", 0, "SIZE", "Bucket size (32k); default 4 ms at the rate, >= 10 frames" },
	{ CLI_OPT_SHAPE, "loss", 0, "SHARE", "Random loss, e.g. 1% or 0.01 (in the fast path)" },
	{ CLI_OPT_SHAPE, "delay", 0, "TIME", "Added delay, e.g. 10ms (needs netem in the kernel)" },
	{ CLI_OPT_SHAPE, "jitter", 0, "TIME", "Delay variation, e.g. 2ms (needs a delay)" },
	{ CLI_OPT_LIMITS, "router", 0, "ROUTER", "Change this router's limits, not the slice's aggregate" },
	{ CLI_OPT_LIMITS, "cpu", 0, "CORES", "Hard CPU quota in cores (0.5 = half a core)" },
	{ CLI_OPT_LIMITS, "cpu-weight", 0, "W", "CPU share against siblings, 1..10000 (100 = default)" },
	{ CLI_OPT_LIMITS, "memory", 0, "SIZE", "Memory limit (e.g. 256M, 1G)" },
	{ CLI_OPT_LIMITS, "pids", 0, "N", "Most processes and threads (max: no limit)" },
	{ CLI_OPT_LIMITS, "bandwidth", 0, "RATE", "The slice's guaranteed share of the substrate (50mbit, none)" },
	{ CLI_OPT_LIMITS, "ceil", 0, "RATE", "What it may borrow up to beyond that (none: its bandwidth)" },
	{ 0, "json", 0, NULL, "Print the result as JSON on stdout (progress: JSON lines on stderr)" },
	{ 0, "quiet", 'q', NULL, "No progress and no confirmation messages" },
	{ 0, "socket", 0, "PATH", "trellisd's socket (default: $TRELLIS_SOCKET, else " PROTO_DEFAULT_SOCKET ")" },
	{ 0, "help", 'h', NULL, "Show this help" },
	{ 0, NULL, 0, NULL, NULL },
};

static int version_run(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
static int help_run(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);

/* The commands without an object. */
const struct cli_cmd cli_top_cmds[] = {
	{
		.name = "version",
		.run = version_run,
		.synopsis = "version",
		.summary = "Show the versions of trellis and of the trellisd it talks to",
	},
	{
		.name = "events",
		.run = cli_events_run,
		.synopsis = "events [--slice NAME] [--since TIME] [-f]",
		.summary = "Show what happened on the node, and follow it as it happens",
		.help = "Shows what happened on the node: slices created and deleted, routers started,\n"
			"stopped and exited, daemons restarted by their supervisor, OOM kills, pids\n"
			"limits hit, links taken down and up, carrier lost and back, drift repaired, the\n"
			"daemon started.  The daemon keeps the newest 10000; a tenant sees the events of\n"
			"its own slices.  With --json: the result object; with -f one object per line.\n",
		.accept = CLI_OPT_EVENTS,
	},
	{
		.name = "help",
		.run = help_run,
		.synopsis = "help [OBJECT [COMMAND]]",
		.summary = "Show the help of trellis, of an object or of a command",
	},
	{
		.name = "completion",
		.run = cli_completion_run,
		.synopsis = "completion bash",
		.summary = "Print the bash completion script (from this command table)",
		.help = "'trellis completion bash' prints the script installed as\n"
			"$(datadir)/bash-completion/completions/trellis: objects, commands and options\n"
			"come from trellis's own command table, slice, router and link names from\n"
			"trellisd ('trellis completion names slices|routers SLICE|links SLICE').\n"
			"'trellis completion table' prints the table: OBJECT COMMAND, its operands\n"
			"and its options, one command a line.\n",
	},
	{ .name = NULL },
};

const struct cli_object cli_objects[] = {
	{ "slice", cli_slice_cmds, "Slices: a tenant's routers and the links between them" },
	{ "link", cli_link_cmds, "A slice's links: shaping, loss, delay, up and down" },
	{ "node", cli_node_cmds, "The substrate node trellisd runs on" },
	{ "router", cli_router_cmds, "One router of a slice: stop, start, restart" },
};
const size_t cli_n_objects = ARRAY_SIZE(cli_objects);

static void cmd_path(const struct cli_cmd *cmd, char *buf, size_t len)
{
	if (cmd->object)
		snprintf(buf, len, "%s %s", cmd->object, cmd->name);
	else
		snprintf(buf, len, "%s", cmd->name);
}

static void usage_short(FILE *f, const char *synopsis, const char *path)
{
	fprintf(f, "Usage: trellis %s\n", synopsis);
	fprintf(f, "Try 'trellis %s%s--help' for more information.\n", path ? path : "",
		path ? " " : "");
}

/* "  -f, --file FILE   help", a help of several lines indented under the first. */
static void print_opt(const struct cli_opt *o)
{
	char left[64];
	const char *h = o->help;
	int n;

	n = snprintf(left, sizeof(left), "%s%c%s--%s%s%s", o->letter ? "-" : "", o->letter ? o->letter : ' ',
		     o->letter ? ", " : "", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
	/* without a short form the long one starts where the others' does */
	printf("  %s", o->letter ? left : left + 1);
	if (!o->letter)
		n--;
	if (n > 18)
		printf("\n%21s", "");
	else
		printf("%*s", 19 - n, "");
	for (;;) {
		size_t len = strcspn(h, "\n");

		printf("%.*s", (int)len, h);
		if (!h[len])
			break;
		h += len + 1;
		printf("\n%21s", "");	/* the next lines go under the first */
	}
	putchar('\n');
}

void cli_cmd_help(const struct cli_cmd *cmd)
{
	printf("Usage: trellis %s\n\n%s.\n", cmd->synopsis, cmd->summary);
	if (cmd->help)
		printf("\n%s", cmd->help);
	printf("\nOptions:\n");
	for (const struct cli_opt *o = cli_opts; o->name; o++)
		if (!o->group || (o->group & cmd->accept))
			print_opt(o);
	printf("\nThe options before the object (--node, --nodes, --cluster...): 'trellis --help'.\n"
	       "See trellis(8).\n");
}

int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
	char path[64];
	va_list ap;

	fputs("trellis: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cmd_path(cmd, path, sizeof(path));
	usage_short(stderr, cmd->synopsis, path);
	return CLI_EXIT_USAGE;
}

#define SYNOPSIS_WIDTH 38	/* the longest: slice exec's */

static void list_commands(FILE *f, const struct cli_cmd *cmds)
{
	for (const struct cli_cmd *c = cmds; c->name; c++)
		fprintf(f, "  %-*s  %s\n", SYNOPSIS_WIDTH, c->synopsis, c->summary);
}

const char *cli_suggest(const char *s, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t bestd = 3, ls = strlen(s);

	if (ls > 64)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		/* Levenshtein distance, one row at a time */
		size_t lt = strlen(names[i]), row[66], d;

		if (lt > 64)
			continue;
		for (size_t j = 0; j <= lt; j++)
			row[j] = j;
		for (size_t k = 1; k <= ls; k++) {
			size_t diag = row[0];

			row[0] = k;
			for (size_t j = 1; j <= lt; j++) {
				size_t up = row[j], best3 = diag + (s[k - 1] != names[i][j - 1]);

				if (up + 1 < best3)
					best3 = up + 1;
				if (row[j - 1] + 1 < best3)
					best3 = row[j - 1] + 1;
				diag = up;
				row[j] = best3;
			}
		}
		d = row[lt];
		if (d < bestd) {
			bestd = d;
			best = names[i];
		}
	}
	return best;
}

/* " (did you mean 'X'?)" for @s among the names of @cmds, or "". */
static const char *verb_hint(const char *s, const struct cli_cmd *cmds, char *buf, size_t len)
{
	const char *names[32], *hint;
	size_t n = 0;

	for (const struct cli_cmd *c = cmds; c->name && n < ARRAY_SIZE(names); c++)
		names[n++] = c->name;
	hint = cli_suggest(s, names, n);
	if (!hint)
		return "";
	snprintf(buf, len, " (did you mean '%s'?)", hint);
	return buf;
}

static int object_usage_error(const struct cli_object *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int object_usage_error(const struct cli_object *o, const char *fmt, ...)
{
	va_list ap;

	fputs("trellis: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nUsage: trellis %s COMMAND [ARGS...]\nCommands:", o->name);
	for (const struct cli_cmd *c = o->cmds; c->name; c++)
		fprintf(stderr, " %s", c->name);
	fprintf(stderr, "\nTry 'trellis %s --help' for more information.\n", o->name);
	return CLI_EXIT_USAGE;
}

static void help_object(const struct cli_object *o)
{
	printf("Usage: trellis %s COMMAND [ARGS...]\n\n%s.\n\nCommands:\n", o->name, o->summary);
	list_commands(stdout, o->cmds);
	printf("\nRun 'trellis %s COMMAND --help' for a command's options.\n", o->name);
}

static void help_main(void)
{
	printf("Usage: trellis [OPTIONS] OBJECT COMMAND [ARGS...]\n\n"
	       "Create, inspect and delete slices of virtual routers on a trellisd host.\n\n"
	       "Objects:\n");
	for (size_t i = 0; i < cli_n_objects; i++)
		printf("  %-8s %s\n", cli_objects[i].name, cli_objects[i].summary);
	printf("\nCommands:\n");
	for (size_t i = 0; i < cli_n_objects; i++)
		list_commands(stdout, cli_objects[i].cmds);
	list_commands(stdout, cli_top_cmds);
	printf("\nOptions (before the object):\n");
	for (const struct cli_opt *o = cli_global_opts; o->name; o++)
		print_opt(o);
	printf("\nThe options --json, -q, --socket and -h are also accepted after the command.\n"
	       "Run 'trellis help OBJECT [COMMAND]' or 'trellis OBJECT COMMAND --help' for a\n"
	       "command's options.  See trellis(8).\n");
}

/* "slice, link, node, version, help or completion" */
static void what_there_is(char *buf, size_t len)
{
	size_t n = 0, total = cli_n_objects;

	for (const struct cli_cmd *c = cli_top_cmds; c->name; c++)
		total++;
	buf[0] = '\0';
	for (size_t i = 0; i < total; i++) {
		const char *name = i < cli_n_objects ? cli_objects[i].name : cli_top_cmds[i - cli_n_objects].name;

		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", i == 0 ? "" : i + 1 == total ? " or " : ", ",
				      name);
	}
}

static const struct cli_object *find_object(const char *name)
{
	for (size_t i = 0; i < cli_n_objects; i++)
		if (!strcmp(cli_objects[i].name, name))
			return &cli_objects[i];
	return NULL;
}

static const struct cli_cmd *find_cmd(const struct cli_cmd *cmds, const char *name)
{
	for (const struct cli_cmd *c = cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static int main_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* " (did you mean 'X'?)" for an object or top-level command */
static const char *object_hint(const char *s, char *buf, size_t len)
{
	const char *names[16], *hint;
	size_t n = 0;

	for (size_t i = 0; i < cli_n_objects && n < ARRAY_SIZE(names); i++)
		names[n++] = cli_objects[i].name;
	for (const struct cli_cmd *c = cli_top_cmds; c->name && n < ARRAY_SIZE(names); c++)
		names[n++] = c->name;
	hint = cli_suggest(s, names, n);
	if (!hint)
		return "";
	snprintf(buf, len, " (did you mean '%s'?)", hint);
	return buf;
}

/* trellis help [OBJECT [COMMAND]] */
static int help_run(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	const struct cli_object *o;
	const struct cli_cmd *c;
	char hint[64];

	(void)cli;
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		cli_cmd_help(cmd);
		return 0;
	}
	if (argc < 2) {
		help_main();
		return 0;
	}
	if (argc > 3)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[3]);
	o = find_object(argv[1]);
	if (!o) {
		c = find_cmd(cli_top_cmds, argv[1]);
		if (c && argc == 2) {
			cli_cmd_help(c);
			return 0;
		}
		return cli_usage_error(cmd, "unknown object '%s'%s", argv[1], object_hint(argv[1], hint, sizeof(hint)));
	}
	if (argc == 2) {
		help_object(o);
		return 0;
	}
	c = find_cmd(o->cmds, argv[2]);
	if (!c)
		return object_usage_error(o, "unknown command '%s %s'%s", o->name, argv[2],
					  verb_hint(argv[2], o->cmds, hint, sizeof(hint)));
	cli_cmd_help(c);
	return 0;
}

static int main_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("trellis: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage_short(stderr, "[OPTIONS] OBJECT COMMAND [ARGS...]", NULL);
	return CLI_EXIT_USAGE;
}

static const struct option verb_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "file", required_argument, NULL, 'f' },
	{ "shell", required_argument, NULL, OPT_SHELL },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "ceil", required_argument, NULL, OPT_CEIL },
	{ "burst", required_argument, NULL, OPT_BURST },
	{ "loss", required_argument, NULL, OPT_LOSS },
	{ "delay", required_argument, NULL, OPT_DELAY },
	{ "jitter", required_argument, NULL, OPT_JITTER },
	{ "router", required_argument, NULL, OPT_ROUTER },
	{ "cpu", required_argument, NULL, OPT_CPU },
	{ "cpu-weight", required_argument, NULL, OPT_CPU_WEIGHT },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "pids", required_argument, NULL, OPT_PIDS },
	{ "bandwidth", required_argument, NULL, OPT_BANDWIDTH },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ NULL, 0, NULL, 0 },
};

/* Why getopt just refused an option, with the option as the user wrote it, and
 * the closest of @cands (the rows that apply: group 0 or in @accept) as a hint. */
static const char *bad_option(char **argv, int c, const struct cli_opt *cands, unsigned accept, char *buf,
			      size_t len)
{
	const char *arg = argv[optind - 1];

	if (c == ':') {
		if (optopt > 0 && optopt < 0x100 && strncmp(arg, "--", 2))
			snprintf(buf, len, "option '-%c' needs an argument", optopt);
		else
			snprintf(buf, len, "option '%s' needs an argument", arg);
	} else if (!strncmp(arg, "--", 2) && strchr(arg, '=') && optopt) {
		snprintf(buf, len, "option '%.*s' takes no argument", (int)(strchr(arg, '=') - arg), arg);
	} else if (optopt > 0 && optopt < 0x100 && strncmp(arg, "--", 2)) {
		snprintf(buf, len, "unknown option '-%c'", optopt);
	} else {
		const char *names[48], *hint;
		char name[64];
		size_t n = 0;

		snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
		if (cands != cli_global_opts)
			for (const struct cli_opt *o = cli_global_opts; o->name; o++)
				if (!strcmp(o->name, name)) {
					snprintf(buf, len, "option '--%s' goes before the object (trellis --%s%s OBJECT COMMAND ...)",
						 name, name, o->arg ? " ..." : "");
					return buf;
				}
		for (const struct cli_opt *o = cands; o->name && n < ARRAY_SIZE(names); o++)
			if (!o->group || (o->group & accept))
				names[n++] = o->name;
		hint = strncmp(arg, "--", 2) ? NULL : cli_suggest(name, names, n);
		if (hint)
			snprintf(buf, len, "unknown option '%s' (did you mean '--%s'?)", arg, hint);
		else
			snprintf(buf, len, "unknown option '%s'", arg);
	}
	return buf;
}

static const char *long_name(int val)
{
	for (const struct option *o = verb_options; o->name; o++)
		if (o->val == val)
			return o->name;
	return "?";
}

int cli_common_opt(struct cli *cli, const struct cli_cmd *cmd, int c, const char *arg)
{
	switch (c) {
	case 'h':
		cli_cmd_help(cmd);
		return -1;
	case 'q':
		cli->quiet = 1;
		return 1;
	case CLI_OPTC_JSON:
		cli->json = 1;
		return 1;
	case CLI_OPTC_SOCKET:
		cli->socket = arg;
		return 1;
	}
	return 0;
}

int cli_args_parse(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv,
		   struct cli_args *a, int *status)
{
	int dashdash = 0;
	char path[64], msg[128];

	*status = 0;
	a->operands = calloc((size_t)argc + 1, sizeof(*a->operands));
	if (!a->operands) {
		fprintf(stderr, "trellis: out of memory\n");
		*status = 1;
		return 0;
	}
	a->noperands = 0;
	a->accept = cmd->accept;
	a->rest = NULL;
	a->nrest = 0;

	optind = 0;	/* glibc: also reset the scanner's state */
	opterr = 0;
	while (!dashdash) {
		int before = optind ? optind : 1;
		int c = getopt_long(argc, argv, "+:hqf:", verb_options, NULL);

		if (c == -1) {
			if (optind >= argc)
				break;
			if (optind == before + 1 && !strcmp(argv[before], "--")) {
				dashdash = 1;
				break;
			}
			/* An operand: keep it and carry on with the options after it. */
			if (a->fixed && a->noperands == a->fixed)
				break;	/* the command starts here */
			a->operands[a->noperands++] = argv[optind++];
			continue;
		}
		switch (cli_common_opt(cli, cmd, c, optarg)) {
		case -1:
			return 0;
		case 1:
			continue;
		}
		switch (c) {
		case 'f':
			if (!(a->accept & CLI_OPT_FILE))
				goto not_here;
			a->file = optarg;
			break;
		case OPT_DRY_RUN:
			if (!(a->accept & CLI_OPT_DRY_RUN))
				goto not_here;
			a->dry_run = 1;
			break;
		case OPT_FORCE:
			if (!(a->accept & CLI_OPT_FORCE))
				goto not_here;
			a->force = 1;
			break;
		case OPT_SHELL:
			if (!(a->accept & CLI_OPT_SHELL))
				goto not_here;
			a->shell = optarg;
			break;
		case OPT_CEIL:
			if (a->accept & CLI_OPT_LIMITS) {
				a->ceil = optarg;
				break;
			}
			/* fall through */
		case OPT_RATE:
		case OPT_BURST:
		case OPT_LOSS:
		case OPT_DELAY:
		case OPT_JITTER:
			if (!(a->accept & CLI_OPT_SHAPE))
				goto not_here;
			*(c == OPT_RATE	   ? &a->rate
			  : c == OPT_CEIL  ? &a->ceil
			  : c == OPT_BURST ? &a->burst
			  : c == OPT_LOSS  ? &a->loss
			  : c == OPT_DELAY ? &a->delay
					   : &a->jitter) = optarg;
			break;
		case OPT_BANDWIDTH:
			if (!(a->accept & CLI_OPT_LIMITS))
				goto not_here;
			a->bandwidth = optarg;
			break;
		case OPT_ROUTER:
		case OPT_CPU:
		case OPT_CPU_WEIGHT:
		case OPT_MEMORY:
		case OPT_PIDS: {
			const char **slot = c == OPT_ROUTER ? &a->router : c == OPT_CPU ? &a->cpu
					    : c == OPT_CPU_WEIGHT ? &a->cpu_weight : c == OPT_MEMORY ? &a->memory : &a->pids;

			if (!(a->accept & CLI_OPT_LIMITS))
				goto not_here;
			if (*slot) {
				*status = cli_usage_error(cmd, "option '--%s' given twice", long_name(c));
				return 0;
			}
			*slot = optarg;
			break;
		}
		case ':':
		case '?':
			*status = cli_usage_error(cmd, "%s", bad_option(argv, c, cli_opts, cmd->accept, msg, sizeof(msg)));
			return 0;
		not_here:
			cmd_path(cmd, path, sizeof(path));
			*status = cli_usage_error(cmd, "option '--%s' does not apply to 'trellis %s'",
						  long_name(c), path);
			return 0;
		}
	}
	/* After "--" or where the command starts: no more options. */
	while (optind < argc && (!a->fixed || a->noperands < a->fixed))
		a->operands[a->noperands++] = argv[optind++];
	if (a->fixed) {
		a->rest = argv + optind;
		a->nrest = argc - optind;
	}
	print_init(cli->json ? PRINT_MODE_JSON : PRINT_MODE_TEXT, stdout);
	return 1;
}

static int version_run(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_args a = { 0 };
	json_t *result = NULL, *out;
	const char *daemon;
	int status;

	if (!cli_args_parse(cli, cmd, argc, argv, &a, &status))
		goto out;
	if (a.noperands) {
		status = cli_usage_error(cmd, "unexpected argument '%s'", a.operands[0]);
		goto out;
	}
	print_line("trellis %s", PACKAGE_VERSION);
	fflush(stdout);
	status = cli_call(cli, json_pack("{s:s}", "op", "ping"), NULL, 0, &result);
	if (status)
		goto out;
	daemon = json_string_value(json_object_get(result, "version"));
	print_line("trellisd %s", daemon ? daemon : "unknown");
	out = json_pack("{s:s, s:s?}", "client", PACKAGE_VERSION, "daemon", daemon);
	print_json(out);
	json_decref(out);
out:
	json_decref(result);
	free(a.operands);
	return status;
}

static const struct option main_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "node", required_argument, NULL, OPT_NODE },
	{ "nodes", required_argument, NULL, OPT_NODES },
	{ "cluster", required_argument, NULL, OPT_CLUSTER },
	{ "cluster-ca", required_argument, NULL, OPT_CLUSTER_CA },
	{ "cluster-cert", required_argument, NULL, OPT_CLUSTER_CERT },
	{ "cluster-key", required_argument, NULL, OPT_CLUSTER_KEY },
	{ "cluster-user", required_argument, NULL, OPT_CLUSTER_USER },
	{ NULL, 0, NULL, 0 },
};

/* An option's value, else the environment's (non-empty), else NULL. */
static const char *opt_env(const char *opt, const char *var)
{
	const char *v = getenv(var);

	return opt ? opt : v && *v ? v : NULL;
}

/* The cluster's TLS and auth options, after the command line and the environment. */
static int cluster_opts(struct cli *cli)
{
	struct etcd_opts *o = &cli->cluster_opts;

	/* Options without a cluster are a mistake; the environment's are for when there is one. */
	if (!cli->cluster) {
		if (o->ca || o->cert || o->key || o->user) {
			fprintf(stderr, "trellis: --cluster-%s needs --cluster (or $TRELLIS_CLUSTER)\n",
				o->ca ? "ca" : o->cert ? "cert" : o->key ? "key" : "user");
			return CLI_EXIT_USAGE;
		}
		return 0;
	}
	o->ca = opt_env(o->ca, "TRELLIS_CLUSTER_CA");
	o->cert = opt_env(o->cert, "TRELLIS_CLUSTER_CERT");
	o->key = opt_env(o->key, "TRELLIS_CLUSTER_KEY");
	o->user = opt_env(o->user, "TRELLIS_CLUSTER_USER");
	if (o->user) {
		o->password = getenv("TRELLIS_CLUSTER_PASSWORD");
		if (!o->password || !*o->password) {
			fprintf(stderr, "trellis: --cluster-user '%s': the password must be in $TRELLIS_CLUSTER_PASSWORD\n",
				o->user);
			return CLI_EXIT_USAGE;
		}
	}
	return 0;
}

/* The verbs --cluster serves from etcd (cli/cluster.c). */
static int cluster_verb(const char *object, const char *verb)
{
	static const char *const verbs[] = { "slice create", "slice apply", "slice delete", "slice list",
					     "slice show", "node list", "node remove" };
	char both[64];

	snprintf(both, sizeof(both), "%s %s", object, verb);
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
		if (!strcmp(both, verbs[i]))
			return 1;
	return 0;
}

static int run_object(struct cli *cli, const struct cli_object *o, int argc, char **argv)
{
	/* argv[0] is the object; the global options may also sit between it and the verb. */
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *arg = argv[i];

		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			help_object(o);
			return 0;
		} else if (!strcmp(arg, "--json")) {
			cli->json = 1;
		} else if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) {
			cli->quiet = 1;
		} else if (!strncmp(arg, "--socket=", 9)) {
			cli->socket = arg + 9;
		} else if (!strcmp(arg, "--socket")) {
			if (i + 1 >= argc)
				return object_usage_error(o, "option '--socket' needs an argument");
			cli->socket = argv[++i];
		} else {
			return object_usage_error(o, "unknown option '%s'", arg);
		}
	}
	if (i >= argc)
		return object_usage_error(o, "missing command after '%s'", o->name);
	for (const struct cli_cmd *c = o->cmds; c->name; c++)
		if (!strcmp(c->name, argv[i])) {
			if (cli->cluster && !cluster_verb(o->name, c->name))
				return object_usage_error(o, "'%s %s' is not available with --cluster: ask a node (--socket)",
							  o->name, c->name);
			return c->run(cli, c, argc - i, argv + i);
		}
	{
		char hint[64];

		return object_usage_error(o, "unknown command '%s %s'%s", o->name, argv[i],
					  verb_hint(argv[i], o->cmds, hint, sizeof(hint)));
	}
}

static int run(int argc, char **argv)
{
	const char *env = getenv("TRELLIS_SOCKET");
	struct cli cli = { .socket = env && *env ? env : PROTO_DEFAULT_SOCKET };
	const char *cenv = getenv("TRELLIS_CLUSTER");
	const char *object;
	char msg[128];
	int status;

	opterr = 0;
	for (;;) {
		int c = getopt_long(argc, argv, "+:hq", main_options, NULL);

		if (c == -1)
			break;
		switch (c) {
		case 'h':
			help_main();
			return 0;
		case OPT_VERSION:
			printf("trellis %s\n", PACKAGE_VERSION);
			return 0;
		case 'q':
			cli.quiet = 1;
			break;
		case OPT_JSON:
			cli.json = 1;
			break;
		case OPT_SOCKET:
			cli.socket = optarg;
			break;
		case OPT_CLUSTER:
			cli.cluster = optarg;
			break;
		case OPT_CLUSTER_CA:
			cli.cluster_opts.ca = optarg;
			break;
		case OPT_CLUSTER_CERT:
			cli.cluster_opts.cert = optarg;
			break;
		case OPT_CLUSTER_KEY:
			cli.cluster_opts.key = optarg;
			break;
		case OPT_CLUSTER_USER:
			cli.cluster_opts.user = optarg;
			break;
		case OPT_NODE:
		case OPT_NODES: {
			struct trl_error err = { 0 };

			if ((c == OPT_NODE ? cli_nodes_add(&cli, optarg, &err) : cli_nodes_file(&cli, optarg, &err)) < 0) {
				fprintf(stderr, "trellis: %s\n", err.msg);
				return CLI_EXIT_USAGE;
			}
			break;
		}
		default:
			return main_usage_error("%s", bad_option(argv, c, cli_global_opts, ~0u, msg, sizeof(msg)));
		}
	}
	if (!cli.cluster && cenv && *cenv)
		cli.cluster = cenv;
	if ((status = cluster_opts(&cli)))
		return status;
	if (cli.cluster && cli.n_nodes) {
		fprintf(stderr, "trellis: --cluster and --node/--nodes exclude each other (a cluster knows its nodes)\n");
		return CLI_EXIT_USAGE;
	}
	cli.backend = cli.cluster ? &cli_backend_cluster : cli.n_nodes ? &cli_backend_nodes : &cli_backend_node;
	if (optind >= argc)
		return main_usage_error("missing object (%s)", (what_there_is(msg, sizeof(msg)), msg));
	print_init(cli.json ? PRINT_MODE_JSON : PRINT_MODE_TEXT, stdout);

	object = argv[optind];
	{
		const struct cli_object *o = find_object(object);
		const struct cli_cmd *c = find_cmd(cli_top_cmds, object);

		if (o)
			return run_object(&cli, o, argc - optind, argv + optind);
		if (c)
			return c->run(&cli, c, argc - optind, argv + optind);
	}
	return main_usage_error("unknown object '%s'%s", object, object_hint(object, msg, sizeof(msg)));
}

int main(int argc, char **argv)
{
	int status = run(argc, argv);

	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("trellis: cannot write output");
		if (!status)
			status = 1;
	}
	return status;
}
