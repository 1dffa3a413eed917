/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: trellis link ...
 *
 * link set: change a link's shaping (rate, ceil, burst), random loss and
 * netem delay/jitter in place; link up/down: the link's host ends, so both
 * routers see their interface lose its carrier.  Values are parsed here
 * with the spec's units (lib/units.c) and sent as integers (link.set in
 * proto.h).  With --node/--nodes the request goes to every node that has
 * an end of the link: each applies its own direction.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "print.h"
#include "units.h"

/* What changed, as the options name it (loss, not loss_ppm). */
static void changed_cell(json_t *o, char *buf, size_t len)
{
	json_t *v;
	size_t i, n = 0;

	buf[0] = '\0';
	json_array_foreach(json_object_get(o, "changed"), i, v) {
		const char *k = json_string_value(v);
		size_t kl;

		if (!k)
			continue;
		kl = strcspn(k, "_");	/* loss_ppm, delay_us, jitter_us: the option's name */
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%.*s", n ? ", " : "", (int)kl, k);
	}
	if (!n)
		snprintf(buf, len, "nothing");
}

static const struct print_col link_fields[] = {
	{ .title = "Slice", .key = "slice" },
	{ .title = "Link", .key = "link" },
	{ .title = "Admin", .key = "admin" },
	{ .title = "Changed", .fn = changed_cell },
	{ .title = NULL },
};

static void shape_line(json_t *res)
{
	json_t *sh = json_object_get(res, "shape");
	char rate[32] = "unshaped", ceil[32] = "none", burst[32] = "default", loss[32] = "none", delay[32] = "none",
	     jitter[32] = "none";
	uint64_t v;

	if ((v = (uint64_t)json_integer_value(json_object_get(sh, "rate"))))
		units_rate_format(v, rate, sizeof(rate));
	if ((v = (uint64_t)json_integer_value(json_object_get(sh, "ceil"))))
		units_rate_format(v, ceil, sizeof(ceil));
	if ((v = (uint64_t)json_integer_value(json_object_get(sh, "burst"))))
		units_size_format(v, burst, sizeof(burst));
	if ((v = (uint64_t)json_integer_value(json_object_get(sh, "loss_ppm"))))
		units_percent_format((uint32_t)v, loss, sizeof(loss));
	if ((v = (uint64_t)json_integer_value(json_object_get(sh, "delay_us"))))
		units_time_format(v, delay, sizeof(delay));
	if ((v = (uint64_t)json_integer_value(json_object_get(sh, "jitter_us"))))
		units_time_format(v, jitter, sizeof(jitter));
	print_line("Shape:    rate %s, ceil %s, burst %s, loss %s, delay %s, jitter %s", rate, ceil, burst, loss,
		   delay, jitter);
}

/* "none"/"0" for "off" where off makes sense. */
static int is_off(const char *t)
{
	return !strcmp(t, "none") || !strcmp(t, "off") || !strcmp(t, "0");
}

/* A value trellis cannot read is invalid input (exit 3), as the daemon's refusals of values are. */
static int bad_value(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad_value(struct cli *cli, const char *fmt, ...)
{
	struct trl_error err = { .code = TRL_EINVALID };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err.msg, sizeof(err.msg), fmt, ap);
	va_end(ap);
	return cli_error(cli, &err);
}

static int add_rate(struct cli *cli, json_t *set, const char *key, const char *t)
{
	uint64_t v = 0;

	if (!t)
		return 0;
	if (!is_off(t) && units_rate_parse(t, &v) < 0)
		return bad_value(cli, "--%s: '%s' is not a rate (e.g. 50mbit, or none)", key, t);
	json_object_set_new(set, key, json_integer((json_int_t)v));
	return 0;
}

static int build_set(struct cli *cli, const struct cli_args *a, json_t *set)
{
	uint64_t v = 0;
	uint32_t ppm = 0;
	int r;

	if ((r = add_rate(cli, set, "rate", a->rate)) || (r = add_rate(cli, set, "ceil", a->ceil)))
		return r;
	if (a->burst) {
		if (!is_off(a->burst) && units_size_parse(a->burst, &v) < 0)
			return bad_value(cli, "--burst: '%s' is not a size (e.g. 32k, or none)", a->burst);
		json_object_set_new(set, "burst", json_integer((json_int_t)v));
	}
	if (a->loss) {
		int pr = is_off(a->loss) ? 0 : units_percent_parse(a->loss, &ppm);

		if (pr == -ERANGE)
			return bad_value(cli, "--loss: '%s' is above 100%%", a->loss);
		if (pr < 0)
			return bad_value(cli, "--loss: '%s' is not a share (e.g. 1%%, 0.01, or none)", a->loss);
		json_object_set_new(set, "loss_ppm", json_integer(ppm));
	}
	if (a->delay) {
		v = 0;
		if (!is_off(a->delay) && units_time_parse(a->delay, &v) < 0)
			return bad_value(cli, "--delay: '%s' is not a time up to 60s (e.g. 10ms, or none)", a->delay);
		json_object_set_new(set, "delay_us", json_integer((json_int_t)v));
	}
	if (a->jitter) {
		v = 0;
		if (!is_off(a->jitter) && units_time_parse(a->jitter, &v) < 0)
			return bad_value(cli, "--jitter: '%s' is not a time up to 60s (e.g. 2ms, or none)", a->jitter);
		json_object_set_new(set, "jitter_us", json_integer((json_int_t)v));
	}
	return 0;
}

/* Send link.set to this node, or to every node of --node/--nodes that has an end of it. */
static int send_set(struct cli *cli, const char *slice, const char *link, json_t *set, json_t **result)
{
	json_t *req = json_pack("{s:s, s:s, s:s, s:O}", "op", "link.set", "name", slice, "link", link, "set", set);
	struct trl_error err = { 0 };
	json_t *merged = NULL, *v;
	const char *node;
	int r;

	if (!cli->backend->each)
		return cli_call(cli, req, NULL, 0, result);
	/* Every node with an end of it changes its own direction; the first reply is shown. */
	r = cli_nodes_each(cli, req, &merged, NULL, &err);
	json_decref(req);
	if (r < 0)
		return cli_error(cli, &err);
	json_object_foreach(json_object_get(merged, "nodes"), node, v) {
		*result = json_incref(v);
		break;
	}
	json_decref(merged);
	return 0;
}

static int link_change(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv, const char *state)
{
	struct cli_args a = { 0 };
	json_t *set = json_object(), *result = NULL;
	int status;

	if (!cli_args_parse(cli, cmd, argc, argv, &a, &status))
		goto out;
	if (a.noperands < 2) {
		status = cli_usage_error(cmd, a.noperands ? "missing link (ROUTER:IF or ROUTER:IF-ROUTER:IF)"
							  : "missing slice name and link");
		goto out;
	}
	if (a.noperands > 2) {
		status = cli_usage_error(cmd, "unexpected argument '%s'", a.operands[2]);
		goto out;
	}
	if (state)
		json_object_set_new(set, "state", json_string(state));
	else if ((status = build_set(cli, &a, set)))
		goto out;
	if (!json_object_size(set)) {
		status = cli_usage_error(cmd, "nothing to change (give --rate, --ceil, --burst, --loss, --delay or --jitter)");
		goto out;
	}
	status = send_set(cli, a.operands[0], a.operands[1], set, &result);
	if (status)
		goto out;
	print_json(result);
	if (!cli->quiet) {
		print_fields(result, link_fields);
		shape_line(result);
	}
out:
	json_decref(set);
	json_decref(result);
	free(a.operands);
	return status;
}

static int link_set(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	return link_change(cli, cmd, argc, argv, NULL);
}

static int link_up(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	return link_change(cli, cmd, argc, argv, "up");
}

static int link_down(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	return link_change(cli, cmd, argc, argv, "down");
}

const struct cli_cmd cli_link_cmds[] = {
	{
		.object = "link",
		.name = "set",
		.run = link_set,
		.synopsis = "link set SLICE LINK [--rate R] [--ceil R] [--burst B] [--loss P] [--delay T] [--jitter T]",
		.summary = "Change a link's shaping, loss or delay while it runs",
		.help = "LINK is the link's name as 'trellis slice show' prints it\n"
			"(r1:eth1-r2:eth1) or either of its endpoints (r1:eth1).  Only the values\n"
			"given change, in place: the link's HTB class is changed, not rebuilt, so\n"
			"flows through it keep going.  'none' turns a value off (--rate none: the\n"
			"link is unshaped again).  Both directions get the same values; on a\n"
			"cross-node link each node shapes the direction leaving it (with\n"
			"--node/--nodes both are changed).  A change that does not fit (ceil below\n"
			"rate, guaranteed rates above the node's capacity, delay without netem in\n"
			"the kernel) is refused and the link keeps its previous settings.\n",
		.accept = CLI_OPT_SHAPE,
	},
	{
		.object = "link",
		.name = "down",
		.run = link_down,
		.synopsis = "link down SLICE LINK",
		.summary = "Take a link down: both routers see their interface lose its carrier",
		.help = "For failure experiments: the link's host-side ends go down, so the\n"
			"routers' interfaces lose their carrier (the routing stack sees the\n"
			"interface go down at once).  The state is kept until 'trellis link up'.\n",
	},
	{
		.object = "link",
		.name = "up",
		.run = link_up,
		.synopsis = "link up SLICE LINK",
		.summary = "Bring a link that was taken down back up",
	},
	{
		.object = "link",
		.name = "capture",
		.run = cli_link_capture,
		.synopsis = "link capture SLICE LINK [OPTIONS] [FILTER...]",
		.summary = "Capture a link's frames (pcapng), or print one line per frame",
		.help = cli_link_capture_help,
		.accept = CLI_OPT_CAPTURE,
	},
	{ .name = NULL },
};
