/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: trellis node ...
 *
 * node show: what the substrate node's trellisd reports about itself (the
 * node.show result in proto.h), as aligned fields or, with --json, as is.
 */
#include <stdlib.h>
#include "cli.h"
#include "print.h"

static const struct print_col node_fields[] = {
	{ .title = "Name", .key = "name" },
	{ .title = "Version", .key = "version" },
	{ .title = "State dir", .key = "state_dir" },
	{ .title = "Socket", .key = "socket" },
	{ .title = "LXC path", .key = "lxcpath" },
	{ .title = "Cgroups", .key = "cgroup_layout" },
	{ .title = "Fast path", .key = "fastpath" },
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

const struct cli_cmd cli_node_cmds[] = {
	{
		.object = "node",
		.name = "show",
		.run = node_show,
		.synopsis = "node show",
		.summary = "Show this node: version, paths, cgroup layout, fast path, counts",
	},
	{ .name = NULL },
};
