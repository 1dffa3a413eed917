/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: trellis slice graph
 *
 * Fetches the slice (slice.show) and, with --stats, its counters
 * (slice.stats: each direction's rate as the daemon sampled it over half a
 * second, and the drop counters since the links were built), renders them
 * with lib/graph.c as DOT or Mermaid, and for SVG pipes the DOT through
 * Graphviz's dot(1) (Debian package graphviz).  Running dot rather than
 * linking libgvc keeps the CLI on lib/ alone (DESIGN.md): libgvc pulls in
 * cairo, pango, expat and a plugin loader that every other verb would load
 * for nothing, and a missing dot only costs the svg format.  $TRELLIS_DOT
 * names another dot binary.
 *
 * Also the option parser shared with slice save (views.h), and the fetch of a
 * slice object from one node or merged from several (--node/--nodes): each
 * node reports its own routers and links, and marks the others "remote".
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "graph.h"
#include "print.h"
#include "views.h"

enum {
	VOPT_JSON = CLI_OPTC_JSON,
	VOPT_SOCKET = CLI_OPTC_SOCKET,
	VOPT_FORMAT = CLI_OPTC_OWN,
	VOPT_STATS,
};

static const struct option view_options[] = {
	{ "json", no_argument, NULL, VOPT_JSON },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "socket", required_argument, NULL, VOPT_SOCKET },
	{ "format", required_argument, NULL, VOPT_FORMAT },
	{ "stats", no_argument, NULL, VOPT_STATS },
	{ "output", required_argument, NULL, 'o' },
	{ NULL, 0, NULL, 0 },
};

int view_args_parse(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv, struct view_args *va,
		    int *status)
{
	int c;

	*status = 0;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hqo:", view_options, NULL)) != -1) {
		switch (cli_common_opt(cli, cmd, c, optarg)) {
		case -1:
			return 0;
		case 1:
			continue;
		}
		switch (c) {
		case VOPT_FORMAT:
			if (!(va->accept & VIEW_OPT_FORMAT))
				goto not_here;
			va->format = optarg;
			break;
		case VOPT_STATS:
			if (!(va->accept & VIEW_OPT_STATS))
				goto not_here;
			va->stats = 1;
			break;
		case 'o':
			if (!(va->accept & VIEW_OPT_OUTPUT))
				goto not_here;
			va->output = optarg;
			break;
		case ':':
			*status = cli_usage_error(cmd, "option '%s' needs an argument", argv[optind - 1]);
			return 0;
		default:
			*status = cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
			return 0;
		not_here:
			*status = cli_usage_error(cmd, "option '%s' does not apply to 'trellis %s %s'", argv[optind - 1],
						  cmd->object, cmd->name);
			return 0;
		}
	}
	if (optind >= argc) {
		*status = cli_usage_error(cmd, "missing slice name");
		return 0;
	}
	if (optind + 1 < argc) {
		*status = cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
		return 0;
	}
	va->name = argv[optind];
	print_init(cli->json ? PRINT_MODE_JSON : PRINT_MODE_TEXT, stdout);
	return 1;
}

static json_t *find_named(json_t *array, const char *name)
{
	json_t *o;
	size_t i;

	json_array_foreach(array, i, o)
		if (!strcmp(json_string_value(json_object_get(o, "name")) ?: "", name))
			return o;
	return NULL;
}

/* Each router and link as the node that runs it reports it. */
static json_t *merge_show(json_t *merged)
{
	json_t *nodes = json_object_get(merged, "nodes"), *first = NULL, *v, *o;
	const char *key;
	size_t i;

	json_object_foreach(nodes, key, v)
		if (!first)
			first = v;
	if (!first)
		return NULL;
	first = json_deep_copy(first);
	json_array_foreach(json_object_get(first, "routers"), i, o) {
		const char *node = json_string_value(json_object_get(o, "node"));
		json_t *there = node ? find_named(json_object_get(json_object_get(nodes, node), "routers"),
						   json_string_value(json_object_get(o, "name")))
				     : NULL;

		if (there)
			json_array_set(json_object_get(first, "routers"), i, there);
	}
	json_array_foreach(json_object_get(first, "links"), i, o) {
		if (strcmp(json_string_value(json_object_get(o, "state")) ?: "", "remote"))
			continue;
		json_object_foreach(nodes, key, v) {
			json_t *there = find_named(json_object_get(v, "links"),
						   json_string_value(json_object_get(o, "name")));

			if (there && strcmp(json_string_value(json_object_get(there, "state")) ?: "", "remote")) {
				json_array_set(json_object_get(first, "links"), i, there);
				break;
			}
		}
	}
	return first;
}

int view_show(struct cli *cli, const char *name, json_t **slice)
{
	json_t *merged = NULL;
	int status;

	*slice = NULL;
	if (!cli->n_nodes)
		return cli_call(cli, json_pack("{s:s, s:s}", "op", "slice.show", "name", name), NULL, 0, slice);
	if ((status = cli_multi_call(cli, "slice.show", name, &merged)))
		return status;
	*slice = merge_show(merged);
	json_decref(merged);
	if (!*slice) {
		struct trl_error err = { 0 };

		trl_error_set(&err, TRL_ENOTFOUND, "slice '%s': no node answered", name);
		return cli_error(cli, &err);
	}
	return 0;
}

/* Stats of every node, the directions and ports of each link gathered under one entry. */
static int view_stats(struct cli *cli, const char *name, json_t **stats)
{
	json_t *merged = NULL, *v, *l;
	const char *key;
	size_t i;
	int status;

	*stats = NULL;
	if (!cli->n_nodes)
		return cli_call(cli, json_pack("{s:s, s:s}", "op", "slice.stats", "name", name), NULL, 0, stats);
	if ((status = cli_multi_call(cli, "slice.stats", name, &merged)))
		return status;
	*stats = json_pack("{s:s, s:[]}", "name", name, "links");
	json_object_foreach(json_object_get(merged, "nodes"), key, v)
		json_array_foreach(json_object_get(v, "links"), i, l) {
			json_t *into = find_named(json_object_get(*stats, "links"),
						  json_string_value(json_object_get(l, "name")) ?: "");

			if (!into) {
				json_array_append_new(json_object_get(*stats, "links"), json_deep_copy(l));
				continue;
			}
			json_array_extend(json_object_get(into, "directions"), json_object_get(l, "directions"));
			json_array_extend(json_object_get(into, "ports"), json_object_get(l, "ports"));
		}
	json_decref(merged);
	return 0;
}

/* Feed @dot to dot(1) -Tsvg, whose output goes straight to our stdout. */
static int run_dot(const char *dot, struct trl_error *err)
{
	const char *bin = getenv("TRELLIS_DOT") && *getenv("TRELLIS_DOT") ? getenv("TRELLIS_DOT") : "dot";
	size_t len = strlen(dot), off = 0;
	int p[2], wstatus, ready[2];
	char why[256];
	ssize_t n;
	pid_t pid;

	fflush(stdout);
	if (pipe2(p, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0)
		return trl_error_errno(err, TRL_EFAILED, errno, "svg: cannot create a pipe");
	pid = fork();
	if (pid < 0)
		return trl_error_errno(err, TRL_EFAILED, errno, "svg: cannot fork");
	if (pid == 0) {
		int e;

		dup2(p[0], STDIN_FILENO);
		execlp(bin, bin, "-Tsvg", (char *)NULL);
		e = errno;
		/* Tell the parent why exec failed (the pipe closes on a successful exec). */
		if (write(ready[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(p[0]);
	close(ready[1]);
	{
		int e = 0;

		if (read(ready[0], &e, sizeof(e)) == (ssize_t)sizeof(e)) {
			close(ready[0]);
			close(p[1]);
			waitpid(pid, &wstatus, 0);
			return trl_error_errno(err, e == ENOENT ? TRL_EUNAVAIL : TRL_EFAILED, e,
					       "svg: cannot run '%s' (Graphviz; Debian package graphviz)", bin);
		}
		close(ready[0]);
	}
	signal(SIGPIPE, SIG_IGN);
	while (off < len) {
		n = write(p[1], dot + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(p[1]);
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 && off == len)
		return 0;
	if (WIFSIGNALED(wstatus))
		snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(wstatus));
	else
		snprintf(why, sizeof(why), "exit status %d", WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
	return trl_error_set(err, TRL_EFAILED, "svg: '%s -Tsvg' failed (%s)", bin, why);
}

int cli_slice_graph(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct view_args va = { .accept = VIEW_OPT_FORMAT | VIEW_OPT_STATS };
	struct trl_error err = { 0 };
	enum graph_format fmt = GRAPH_DOT;
	json_t *slice = NULL, *stats = NULL;
	char *text = NULL;
	int status, svg = 0;

	if (!view_args_parse(cli, cmd, argc, argv, &va, &status))
		return status;
	if (va.format && !strcmp(va.format, "svg"))
		svg = 1;
	else if (va.format && graph_format_parse(va.format, &fmt) < 0)
		return cli_usage_error(cmd, "--format: '%s' is not dot, mermaid or svg", va.format);
	if (svg && cli->json)
		return cli_usage_error(cmd, "--json: svg is not text: use --format dot or mermaid with --json");
	if ((status = view_show(cli, va.name, &slice)))
		goto out;
	if (va.stats && (status = view_stats(cli, va.name, &stats)))
		goto out;
	if (graph_render(slice, stats, fmt, &text, &err) < 0) {
		status = cli_error(cli, &err);
		goto out;
	}
	if (cli->json) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "name", va.name, "format", va.format ? va.format : "dot",
				      "graph", text);

		print_json(o);
		json_decref(o);
	} else if (svg) {
		if (run_dot(text, &err) < 0)
			status = cli_error(cli, &err);
	} else {
		fputs(text, stdout);
	}
out:
	free(text);
	json_decref(slice);
	json_decref(stats);
	return status;
}
