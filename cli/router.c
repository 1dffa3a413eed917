/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: trellis router: one router's lifecycle
 *
 * router stop|start|restart SLICE ROUTER: one request each (router.stop,
 * router.start, router.restart); the daemon keeps the rootfs, and a stopped
 * router stays stopped until started (slice show: state "stopped").
 */
#include <string.h>
#include "cli.h"
#include "names.h"
#include "print.h"

static int router_verb(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_args a = { 0 };
	json_t *result = NULL, *req;
	char op[32];
	int status;

	if (!cli_args_parse(cli, cmd, argc, argv, &a, &status))
		goto out;
	if (a.noperands < 2) {
		status = cli_usage_error(cmd, a.noperands ? "missing router name" : "missing slice and router names");
		goto out;
	}
	if (a.noperands > 2) {
		status = cli_usage_error(cmd, "unexpected argument '%s'", a.operands[2]);
		goto out;
	}
	for (int i = 0; i < 2; i++)
		if (!names_valid(a.operands[i])) {
			status = cli_usage_error(cmd, "'%.64s' is not a valid name", a.operands[i]);
			goto out;
		}
	snprintf(op, sizeof(op), "router.%s", cmd->name);
	req = json_pack("{s:s, s:s, s:s}", "op", op, "name", a.operands[0], "router", a.operands[1]);
	status = cli_call(cli, req, NULL, 0, &result);
	if (status)
		goto out;
	print_json(result);
	if (!cli->quiet)
		print_line("slice '%s': router '%s' %s", a.operands[0], a.operands[1],
			   json_string_value(json_object_get(result, "state")) ?: "?");
out:
	json_decref(result);
	free(a.operands);
	return status;
}

const struct cli_cmd cli_router_cmds[] = {
	{
		.object = "router",
		.name = "stop",
		.run = router_verb,
		.synopsis = "router stop SLICE ROUTER",
		.summary = "Stop a router; its links go down for its neighbours",
		.help = "Stops router ROUTER of slice SLICE and keeps its rootfs.  Its neighbours'\n"
			"interfaces on its links lose their carrier.  The router stays stopped (also\n"
			"across a daemon restart) until 'trellis router start'.\n",
	},
	{
		.object = "router",
		.name = "start",
		.run = router_verb,
		.synopsis = "router start SLICE ROUTER",
		.summary = "Start a stopped router again, on the same rootfs",
	},
	{
		.object = "router",
		.name = "restart",
		.run = router_verb,
		.synopsis = "router restart SLICE ROUTER",
		.summary = "Stop and start a router (its rootfs is kept; its links flap)",
	},
	{ .name = NULL },
};
