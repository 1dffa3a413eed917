/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: trellis node ...
 *
 * node show: what the substrate node's trellisd reports about itself (the
 * node.show result in proto.h), as aligned fields or, with --json, as is.
 */
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"
#include "print.h"
#include "units.h"

static void substrate_cell(json_t *o, char *buf, size_t len)
{
	json_t *s = json_object_get(o, "substrate");

	if (!s) {
		snprintf(buf, len, "none (single node)");
		return;
	}
	snprintf(buf, len, "%s %s, MTU %lld", json_string_value(json_object_get(s, "interface")) ?: "?",
		 json_string_value(json_object_get(s, "address")) ?: "?",
		 (long long)json_integer_value(json_object_get(s, "mtu")));
}

static void capacity_cell(json_t *o, char *buf, size_t len)
{
	json_t *s = json_object_get(o, "substrate");
	char cap[32], g[32];

	if (!s) {
		snprintf(buf, len, "-");
		return;
	}
	units_rate_format((uint64_t)json_integer_value(json_object_get(s, "capacity")), cap, sizeof(cap));
	units_rate_format((uint64_t)json_integer_value(json_object_get(s, "guaranteed")), g, sizeof(g));
	snprintf(buf, len, "%s (%s), %s guaranteed to slices", cap,
		 json_string_value(json_object_get(s, "capacity_source")) ?: "?",
		 json_integer_value(json_object_get(s, "guaranteed")) ? g : "nothing");
}

static void netem_cell(json_t *o, char *buf, size_t len)
{
	const char *why = json_string_value(json_object_get(o, "netem_missing"));

	snprintf(buf, len, "%s", json_is_true(json_object_get(o, "netem")) ? "yes" : why ? why : "no");
}

static void missing_cell(json_t *o, char *buf, size_t len)
{
	const char *m = json_string_value(json_object_get(o, "tunnels_missing"));

	snprintf(buf, len, "%s", m && *m ? m : "-");
}

static void templates_missing_cell(json_t *o, char *buf, size_t len)
{
	const char *m = json_string_value(json_object_get(o, "templates_missing"));

	snprintf(buf, len, "%s", m && *m ? m : "-");
}

static void decap_cell(json_t *o, char *buf, size_t len)
{
	json_t *s = json_object_get(o, "fastpath_stats");

	if (!s) {
		snprintf(buf, len, "-");
		return;
	}
	snprintf(buf, len, "%lld packets in, %lld unknown key, %lld bad source, %lld other drops",
		 (long long)json_integer_value(json_object_get(s, "rx_packets")),
		 (long long)json_integer_value(json_object_get(s, "unknown_key")),
		 (long long)json_integer_value(json_object_get(s, "bad_source")),
		 (long long)json_integer_value(json_object_get(s, "other")));
}

static const struct print_col node_fields[] = {
	{ .title = "Name", .key = "name" },
	{ .title = "Version", .key = "version" },
	{ .title = "State dir", .key = "state_dir" },
	{ .title = "Socket", .key = "socket" },
	{ .title = "LXC path", .key = "lxcpath" },
	{ .title = "Cgroups", .key = "cgroup_layout" },
	{ .title = "Fast path", .key = "fastpath" },
	{ .title = "Substrate", .fn = substrate_cell },
	{ .title = "Capacity", .fn = capacity_cell },
	{ .title = "Delay (netem)", .fn = netem_cell },
	{ .title = "Tunnels", .key = "tunnels", .fmt = PRINT_FMT_LIST },
	{ .title = "Missing", .fn = missing_cell },
	{ .title = "Decap", .fn = decap_cell },
	{ .title = "Templates", .key = "templates" },
	{ .title = "Templates missing", .fn = templates_missing_cell },
	{ .title = "Slices", .key = "slices", .fmt = PRINT_FMT_COUNT },
	{ .title = "Routers", .key = "routers", .fmt = PRINT_FMT_COUNT },
	{ .title = NULL },
};

static int node_show(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_args a = { 0 };
	json_t *result = NULL;
	int status;

	if (!cli_args_parse(cli, cmd, argc, argv, &a, &status))
		goto out;
	if (a.noperands) {
		status = cli_usage_error(cmd, "unexpected argument '%s'", a.operands[0]);
		goto out;
	}
	status = cli_call(cli, json_pack("{s:s}", "op", "node.show"), NULL, 0, &result);
	if (status)
		goto out;
	print_json(result);
	print_fields(result, node_fields);
out:
	json_decref(result);
	free(a.operands);
	return status;
}

static int node_list(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_args a = { 0 };
	json_t *result = NULL;
	int status;

	if (!cli_args_parse(cli, cmd, argc, argv, &a, &status))
		goto out;
	if (a.noperands) {
		status = cli_usage_error(cmd, "unexpected argument '%s'", a.operands[0]);
		goto out;
	}
	if (cli->cluster) {
		status = cli_cluster_nodes(cli);
		goto out;
	}
	status = cli_call(cli, json_pack("{s:s}", "op", "node.list"), NULL, 0, &result);
	if (status)
		goto out;
	print_json(result);
	cli_cluster_nodes_print(result);
out:
	json_decref(result);
	free(a.operands);
	return status;
}

static int node_remove(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_args a = { 0 };
	json_t *result = NULL;
	int status;

	if (!cli_args_parse(cli, cmd, argc, argv, &a, &status))
		goto out;
	if (a.noperands != 1) {
		status = a.noperands ? cli_usage_error(cmd, "unexpected argument '%s'", a.operands[1]) :
				       cli_usage_error(cmd, "missing NAME (the node to remove)");
		goto out;
	}
	if (cli->cluster) {
		status = cli_cluster_node_remove(cli, a.operands[0], a.force);
		goto out;
	}
	status = cli_call(cli, json_pack("{s:s, s:s, s:b}", "op", "node.remove", "name", a.operands[0], "force", a.force),
			  NULL, 0, &result);
	if (status)
		goto out;
	print_json(result);
	cli_cluster_node_removed_print(result);
out:
	json_decref(result);
	free(a.operands);
	return status;
}

const struct cli_cmd cli_node_cmds[] = {
	{
		.object = "node",
		.name = "show",
		.run = node_show,
		.synopsis = "node show",
		.summary = "Show this node: version, paths, cgroup layout, fast path, counts",
	},
	{
		.object = "node",
		.name = "list",
		.run = node_list,
		.synopsis = "node list",
		.summary = "List the nodes of the cluster: liveness, address, capacity, fast path, load",
		.help = "Cluster mode only: asks etcd (with --cluster) or the node's trellisd (started with\n"
			"--cluster) for every node that ever registered; a node whose lease expired is 'down'.",
	},
	{
		.object = "node",
		.name = "remove",
		.run = node_remove,
		.synopsis = "node remove NAME [--force]",
		.summary = "Retire a node from the cluster: node list no longer shows it",
		.help = "Cluster mode only: removes the node's registration and its reports about slices.\n"
			"Refused while slices of the cluster place routers on it, or it is up (its lease\n"
			"lives), unless --force; a node whose trellisd still runs registers again.",
		.accept = CLI_OPT_FORCE,
	},
	{ .name = NULL },
};
