// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * DOC: the CLI in cluster mode
 *
 * With the global --cluster etcd://HOST:PORT[,...] (or $TRELLIS_CLUSTER;
 * etcds://... for TLS, with --cluster-ca/-cert/-key/-user and the password in
 * $TRELLIS_CLUSTER_PASSWORD) the CLI talks to etcd itself (lib/cluster.h): slice create/apply/delete write,
 * replace and remove desired state and wait for the nodes, slice list shows the
 * cluster's slices and each node's state, slice show one of them as the
 * cluster describes it, node list the registered nodes, node remove retires
 * one.
 * Against a node's socket the same requests are served by that node
 * (trellisd --cluster), so both ways give the same results.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "cluster.h"
#include "print.h"

static void progress_print(void *ctx, const char *node, const char *msg)
{
	struct cli *cli = ctx;
	char line[1200];
	json_t *ev;

	if (cli->quiet)
		return;
	if (node)
		snprintf(line, sizeof(line), "node '%s': %s", node, msg);
	else
		snprintf(line, sizeof(line), "%s", msg);
	ev = json_pack("{s:s, s:s, s:s}", "event", "progress", "step", "cluster", "message", line);
	print_progress(ev);
	json_decref(ev);
}

static int cluster_open(struct cli *cli, struct etcd **e)
{
	struct trl_error err = { 0 };

	if (etcd_open_opts(cli->cluster, &cli->cluster_opts, e, &err) < 0)
		return cli_error(cli, &err);
	return 0;
}

void cli_cluster_result_print(json_t *result)
{
	static const struct print_col cols[] = {
		{ .title = "NODE", .key = "node" },
		{ .title = "STATE", .key = "state" },
		{ .title = "MESSAGE", .key = "message" },
		{ .title = NULL },
	};
	json_t *rows = json_array(), *v;
	const char *node;

	json_object_foreach(json_object_get(result, "nodes"), node, v) {
		json_t *row = json_deep_copy(v);

		json_object_set_new(row, "node", json_string(node));
		json_array_append_new(rows, row);
	}
	print_line("slice '%s' ready on %zu node(s) (cluster revision %lld)",
		   json_string_value(json_object_get(result, "name")) ?: "?", json_array_size(rows),
		   (long long)json_integer_value(json_object_get(result, "revision")));
	print_table(rows, cols);
	json_decref(rows);
}

int cli_cluster_create(struct cli *cli, json_t *spec, const char *filename, json_t *files)
{
	struct trl_error err = { 0 };
	struct etcd *e = NULL;
	json_t *result = NULL;
	int status;

	if ((status = cluster_open(cli, &e)))
		return status;
	if (cluster_slice_create(e, json_string_value(spec), json_string_length(spec), filename, files, (unsigned)getuid(),
				 NULL, 600, progress_print, cli, &result, &err) < 0) {
		status = cli_error(cli, &err);
	} else {
		print_json(result);
		if (!cli->quiet && !cli->json)
			cli_cluster_result_print(result);
	}
	if (getenv("TRELLIS_ETCD_OPS"))
		fprintf(stderr, "etcd_ops=%lu\n", etcd_ops(e));
	json_decref(result);
	etcd_close(e);
	return status;
}

int cli_cluster_apply(struct cli *cli, json_t *spec, const char *filename, json_t *files, json_t **result)
{
	struct trl_error err = { 0 };
	struct etcd *e = NULL;
	int status;

	if ((status = cluster_open(cli, &e)))
		return status;
	if (cluster_slice_apply(e, json_string_value(spec), json_string_length(spec), filename, files, 600, progress_print,
				cli, result, &err) < 0)
		status = cli_error(cli, &err);
	etcd_close(e);
	return status;
}

int cli_cluster_delete(struct cli *cli, const char *name)
{
	struct trl_error err = { 0 };
	struct etcd *e = NULL;
	json_t *result = NULL;
	int status;

	if ((status = cluster_open(cli, &e)))
		return status;
	if (cluster_slice_delete(e, name, 600, progress_print, cli, &result, &err) < 0) {
		status = cli_error(cli, &err);
	} else {
		print_json(result);
		if (!cli->quiet)
			print_line("slice '%s' deleted from the cluster", name);
	}
	json_decref(result);
	etcd_close(e);
	return status;
}

static void status_cell(json_t *row, char *buf, size_t len)
{
	const char *node;
	json_t *v;
	size_t n = 0;

	buf[0] = '\0';
	json_object_foreach(json_object_get(row, "status"), node, v) {
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s=%s", n ? "," : "", node,
				      json_string_value(v) ?: "?");
		if (n >= len)
			break;
	}
}

int cli_cluster_list(struct cli *cli)
{
	static const struct print_col cols[] = {
		{ .title = "NAME", .key = "name" },
		{ .title = "NODES", .key = "nodes", .fmt = PRINT_FMT_LIST },
		{ .title = "REVISION", .key = "revision" },
		{ .title = "STATUS", .fn = status_cell },
		{ .title = NULL },
	};
	struct trl_error err = { 0 };
	struct etcd *e = NULL;
	json_t *result = NULL;
	int status;

	if ((status = cluster_open(cli, &e)))
		return status;
	if (cluster_slice_list(e, &result, &err) < 0) {
		status = cli_error(cli, &err);
	} else {
		print_json(result);
		print_table(json_object_get(result, "slices"), cols);
	}
	json_decref(result);
	etcd_close(e);
	return status;
}

static void tunnels_cell(json_t *row, char *buf, size_t len)
{
	print_format_value(json_object_get(row, "tunnels"), PRINT_FMT_LIST, buf, len);
}

/* What a node registers as still free under @key: "-" when it does not say
 * (no substrate, an older node), @zero when nothing is left, else as @fmt. */
static void free_cell(json_t *row, const char *key, enum print_fmt fmt, const char *zero, char *buf, size_t len)
{
	json_t *v = json_object_get(row, key);

	if (!json_is_integer(v))
		snprintf(buf, len, "-");
	else if (!json_integer_value(v))
		snprintf(buf, len, "%s", zero);
	else
		print_format_value(v, fmt, buf, len);
}

/* Bandwidth a new slice could still be guaranteed on the node. */
static void bw_free_cell(json_t *row, char *buf, size_t len)
{
	free_cell(row, "bw_free", PRINT_FMT_RATE, "0bit", buf, len);
}

/* Disk a create could still use there. */
static void disk_free_cell(json_t *row, char *buf, size_t len)
{
	free_cell(row, "disk_free", PRINT_FMT_SIZE, "0", buf, len);
}

void cli_cluster_nodes_print(json_t *result)
{
	static const struct print_col cols[] = {
		{ .title = "NODE", .key = "name" },
		{ .title = "STATE", .key = "state" },
		{ .title = "ADDRESS", .key = "address" },
		{ .title = "CAPACITY", .key = "capacity", .fmt = PRINT_FMT_RATE },
		{ .title = "BW FREE", .fn = bw_free_cell },
		{ .title = "DISK FREE", .fn = disk_free_cell },
		{ .title = "FASTPATH", .key = "fastpath" },
		{ .title = "TUNNELS", .fn = tunnels_cell },
		{ .title = "SLICES", .key = "slices", .fmt = PRINT_FMT_COUNT },
		{ .title = "ROUTERS", .key = "routers", .fmt = PRINT_FMT_COUNT },
		{ .title = "CPUS", .key = "cpus", .fmt = PRINT_FMT_COUNT },
		{ .title = "LOAD", .key = "load" },
		{ .title = "SEEN", .key = "seen", .fmt = PRINT_FMT_AGE },
		{ .title = NULL },
	};

	print_table(json_object_get(result, "nodes"), cols);
}

int cli_cluster_nodes(struct cli *cli)
{
	struct trl_error err = { 0 };
	struct etcd *e = NULL;
	json_t *nodes = NULL, *result;
	int status;

	if ((status = cluster_open(cli, &e)))
		return status;
	if (cluster_node_list(e, &nodes, &err) < 0) {
		status = cli_error(cli, &err);
	} else {
		result = json_pack("{s:s, s:o}", "cluster", cli->cluster, "nodes", nodes);
		print_json(result);
		cli_cluster_nodes_print(result);
		json_decref(result);
	}
	etcd_close(e);
	return status;
}

void cli_cluster_node_removed_print(json_t *result)
{
	json_t *v = json_object_get(result, "slices");

	if (json_array_size(v))
		print_line("node '%s' removed from the cluster (it was %s; slices that still place routers on it: %zu)",
			   json_string_value(json_object_get(result, "name")),
			   json_string_value(json_object_get(result, "was")), json_array_size(v));
	else
		print_line("node '%s' removed from the cluster (it was %s)", json_string_value(json_object_get(result, "name")),
			   json_string_value(json_object_get(result, "was")));
}

int cli_cluster_node_remove(struct cli *cli, const char *name, int force)
{
	struct trl_error err = { 0 };
	struct etcd *e = NULL;
	json_t *result = NULL;
	int status;

	if ((status = cluster_open(cli, &e)))
		return status;
	if (cluster_node_remove(e, name, force, &result, &err) < 0) {
		status = cli_error(cli, &err);
	} else {
		print_json(result);
		cli_cluster_node_removed_print(result);
	}
	json_decref(result);
	etcd_close(e);
	return status;
}

int cli_cluster_show(struct cli *cli, const char *name)
{
	struct trl_error err = { 0 };
	struct etcd *e = NULL;
	json_t *result = NULL;
	int status;

	if ((status = cluster_open(cli, &e)))
		return status;
	if (cluster_slice_describe(e, name, &result, &err) < 0) {
		status = cli_error(cli, &err);
	} else {
		print_json(result);
		cli_slice_print(result);
	}
	json_decref(result);
	etcd_close(e);
	return status;
}
