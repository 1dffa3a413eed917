/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: trellis slice ...
 *
 * create reads the spec and the config files it names (the daemon never
 * reads a path a tenant names) and sends their text; list/show/delete are one
 * request each; exec hands this process's stdin, stdout and stderr to
 * trellisd (SCM_RIGHTS), which runs the command inside the router on them;
 * on a terminal (login, exec from a tty) trellisd instead opens a pty in the
 * router and passes its master back, and term.c runs our terminal on it.
 * Both exit with the command's status.
 *
 * The text view of a slice is declared below as print_col tables over the
 * daemon's slice object (proto.h); --json prints that object as it came.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "clab.h"
#include "print.h"
#include "spec.h"
#include "units.h"
#include "sshkey.h"
#include "util.h"
#include "views.h"

#define SPEC_MAX (4u << 20)	/* the spec, and each config file */

/* Text view of a slice object. */

static void owner_cell(json_t *o, char *buf, size_t len)
{
	const char *owner = json_string_value(json_object_get(o, "owner"));
	json_t *uid = json_object_get(o, "owner_uid");

	if (owner && json_is_integer(uid))
		snprintf(buf, len, "%s (uid %" JSON_INTEGER_FORMAT ")", owner, json_integer_value(uid));
	else if (json_is_integer(uid))
		snprintf(buf, len, "uid %" JSON_INTEGER_FORMAT, json_integer_value(uid));
	else if (owner)
		snprintf(buf, len, "%s", owner);
}

static void cpu_cell(json_t *o, char *buf, size_t len)
{
	double cpu = json_number_value(json_object_get(o, "cpu"));

	if (cpu > 0)
		snprintf(buf, len, "%g", cpu);
}

static void description_cell(json_t *o, char *buf, size_t len)
{
	snprintf(buf, len, "%s", json_string_value(json_object_get(o, "description")) ?: "");
}

/* The slice's share of the substrate: "50Mbit (ceil 100Mbit)", "-" without one. */
static void bandwidth_cell(json_t *o, char *buf, size_t len)
{
	json_t *bw = json_object_get(o, "bandwidth");
	json_int_t rate = json_integer_value(json_object_get(bw, "rate"));
	json_int_t ceil = json_integer_value(json_object_get(bw, "ceil"));
	char a[32], b[32];

	if (rate <= 0)
		return;
	units_rate_format((uint64_t)rate, a, sizeof(a));
	units_rate_format((uint64_t)(ceil > 0 ? ceil : rate), b, sizeof(b));
	snprintf(buf, len, "%s (ceil %s)", a, b);
}

static void persist_cell(json_t *o, char *buf, size_t len)
{
	if (json_is_boolean(json_object_get(o, "persist")))
		snprintf(buf, len, "%s", json_is_true(json_object_get(o, "persist")) ? "yes (rebuilt after a host restart)" : "no");
}

static const struct print_col slice_fields[] = {
	{ .title = "Name", .key = "name" },
	{ .title = "Description", .fn = description_cell },
	{ .title = "Owner", .fn = owner_cell },
	{ .title = "State", .key = "state" },
	{ .title = "Created", .key = "created", .fmt = PRINT_FMT_TIME },
	{ .title = "Bandwidth", .fn = bandwidth_cell },
	{ .title = "Persist", .fn = persist_cell },
	{ .title = NULL },
};

static const struct print_col router_cols[] = {
	{ .title = "NAME", .key = "name" },
	{ .title = "NODE", .key = "node" },
	{ .title = "TEMPLATE", .key = "template" },
	{ .title = "STATE", .key = "state" },
	{ .title = "PID", .key = "pid", .fmt = PRINT_FMT_ID },
	{ .title = "CONTAINER", .key = "container" },
	{ .title = "DAEMONS", .key = "daemons", .fmt = PRINT_FMT_LIST },
	{ .title = "LOOPBACK", .key = "loopback", .fmt = PRINT_FMT_LIST },
	{ .title = NULL },
};

static const struct print_col limit_cols[] = {
	{ .title = "ROUTER", .key = "router" },
	{ .title = "CPU", .fn = cpu_cell },
	{ .title = "CPU-WEIGHT", .key = "cpu_weight", .fmt = PRINT_FMT_ID },
	{ .title = "MEMORY", .key = "memory", .fmt = PRINT_FMT_SIZE },
	{ .title = "PIDS", .key = "pids", .fmt = PRINT_FMT_ID },
	{ .title = "DISK", .key = "disk", .fmt = PRINT_FMT_SIZE },
	{ .title = NULL },
};

static const struct print_col iface_cols[] = {
	{ .title = "ROUTER", .key = "router" },
	{ .title = "IFNAME", .key = "name" },
	{ .title = "HOST-IF", .key = "host" },
	{ .title = "MAC", .key = "mac" },
	{ .title = "ADDRESSES", .key = "addresses", .fmt = PRINT_FMT_LIST },
	{ .title = "LINK", .key = "link" },
	{ .title = NULL },
};

static void ceil_cell(json_t *o, char *buf, size_t len)
{
	uint64_t v = (uint64_t)json_integer_value(json_object_get(json_object_get(o, "shape"), "ceil"));

	if (v)
		units_rate_format(v, buf, len);
	else
		snprintf(buf, len, "-");
}

/* loss/delay/jitter of a link, "-" when none */
static void impair_cell(json_t *o, char *buf, size_t len)
{
	json_t *sh = json_object_get(o, "shape");
	uint32_t loss = (uint32_t)json_integer_value(json_object_get(sh, "loss_ppm"));
	uint64_t delay = (uint64_t)json_integer_value(json_object_get(sh, "delay_us"));
	uint64_t jitter = (uint64_t)json_integer_value(json_object_get(sh, "jitter_us"));
	char a[32], b[32], c[32];

	buf[0] = '\0';
	if (loss) {
		units_percent_format(loss, a, sizeof(a));
		snprintf(buf, len, "loss %s", a);
	}
	if (delay) {
		units_time_format(delay, b, sizeof(b));
		units_time_format(jitter, c, sizeof(c));
		snprintf(buf + strlen(buf), len - strlen(buf), "%sdelay %s%s%s", buf[0] ? ", " : "", b,
			 jitter ? "~" : "", jitter ? c : "");
	}
	if (!buf[0])
		snprintf(buf, len, "-");
}

static void burst_cell(json_t *o, char *buf, size_t len)
{
	json_int_t v = json_integer_value(json_object_get(json_object_get(o, "shape"), "burst"));

	if (v > 0)
		units_size_format((uint64_t)v, buf, len);
}

static const struct print_col link_cols[] = {
	{ .title = "LINK", .key = "name" },
	{ .title = "ENDPOINTS", .key = "endpoints", .fmt = PRINT_FMT_LIST },
	{ .title = "RATE", .key = "rate", .fmt = PRINT_FMT_RATE },
	{ .title = "CEIL", .fn = ceil_cell },
	{ .title = "BURST", .fn = burst_cell },
	{ .title = "IMPAIRMENT", .fn = impair_cell },
	{ .title = "KIND", .key = "kind" },
	{ .title = "KEY", .key = "key", .fmt = PRINT_FMT_ID },
	{ .title = "STATE", .key = "state" },
	{ .title = NULL },
};

static const struct print_col list_node_cols[] = {
	{ .title = "NAME", .key = "name" },
	{ .title = "NODE", .key = "node" },
	{ .title = "OWNER", .key = "owner" },
	{ .title = "STATE", .key = "state" },
	{ .title = "ROUTERS", .key = "routers", .fmt = PRINT_FMT_COUNT },
	{ .title = "LINKS", .key = "links", .fmt = PRINT_FMT_COUNT },
	{ .title = "CREATED", .key = "created", .fmt = PRINT_FMT_AGE },
	{ .title = NULL },
};

static const struct print_col stats_cols[] = {
	{ .title = "LINK", .key = "link" },
	{ .title = "KIND", .key = "kind" },
	{ .title = "KEY", .key = "key", .fmt = PRINT_FMT_ID },
	{ .title = "HOST-IF", .key = "host" },
	{ .title = "PACKETS", .key = "packets", .fmt = PRINT_FMT_ID },
	{ .title = "BYTES", .key = "bytes", .fmt = PRINT_FMT_ID },
	{ .title = "DROPS", .key = "drops", .fmt = PRINT_FMT_ID },
	{ .title = NULL },
};

static void rate_now_cell(json_t *o, char *buf, size_t len)
{
	units_rate_format((uint64_t)json_integer_value(json_object_get(o, "rate_now")), buf, len);
}

static void class_cell(json_t *o, char *buf, size_t len)
{
	const char *c = json_string_value(json_object_get(o, "class"));

	snprintf(buf, len, "%s", c && *c ? c : "unshaped");
}

static const struct print_col stats_dir_cols[] = {
	{ .title = "LINK", .key = "link" },
	{ .title = "FROM", .key = "from" },
	{ .title = "TO", .key = "to" },
	{ .title = "RATE-NOW", .fn = rate_now_cell },
	{ .title = "CLASS", .fn = class_cell },
	{ .title = "BYTES", .key = "bytes", .fmt = PRINT_FMT_ID },
	{ .title = "DROPS", .key = "drops", .fmt = PRINT_FMT_ID },
	{ .title = "BACKLOG", .key = "backlog_bytes", .fmt = PRINT_FMT_SIZE },
	{ .title = NULL },
};

/* One row per direction of each link (the shaping side of slice stats). */
static void stats_dir_rows(json_t *res, json_t *rows)
{
	json_t *l, *d;
	size_t i, k;

	json_array_foreach(json_object_get(res, "links"), i, l)
		json_array_foreach(json_object_get(l, "directions"), k, d) {
			json_t *row = json_deep_copy(d);

			json_object_set(row, "link", json_object_get(l, "name"));
			json_array_append_new(rows, row);
		}
}

static void cpu_time_cell(json_t *o, char *buf, size_t len)
{
	json_t *u = json_object_get(o, "usage");

	if (json_is_object(u))
		snprintf(buf, len, "%.3fs", (double)json_integer_value(json_object_get(u, "cpu_ns")) / 1e9);
}

static void mem_cell(json_t *o, char *buf, size_t len)
{
	json_t *u = json_object_get(o, "usage");
	char cur[32], max[32];

	if (!json_is_object(u))
		return;
	/* used as people read it (21.6M), the limit as a spec writes it (256M), "none" without one */
	{
		double used = (double)json_integer_value(json_object_get(u, "memory"));

		if (used >= 1 << 30)
			snprintf(cur, sizeof(cur), "%.1fG", used / (1 << 30));
		else if (used >= 1 << 20)
			snprintf(cur, sizeof(cur), "%.1fM", used / (1 << 20));
		else
			snprintf(cur, sizeof(cur), "%.0fK", used / 1024);
	}
	if (json_integer_value(json_object_get(u, "memory_max")) > 0)
		units_size_format((uint64_t)json_integer_value(json_object_get(u, "memory_max")), max, sizeof(max));
	else
		snprintf(max, sizeof(max), "none");
	snprintf(buf, len, "%s/%s", cur, max);
}

static void pids_cell(json_t *o, char *buf, size_t len)
{
	json_t *u = json_object_get(o, "usage");
	json_int_t max;

	if (!json_is_object(u))
		return;
	max = json_integer_value(json_object_get(u, "pids_max"));
	if (max > 0)
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(u, "pids")), max);
	else
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT "/none", json_integer_value(json_object_get(u, "pids")));
}

/* Used/limit of the router's own rootfs file system (limits.disk), "-" without one. */
static void disk_cell(json_t *o, char *buf, size_t len)
{
	json_t *u = json_object_get(o, "usage");
	double used;
	char max[32];

	if (!json_is_object(u))
		return;
	if (json_integer_value(json_object_get(u, "disk_max")) <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	used = (double)json_integer_value(json_object_get(u, "disk"));
	units_size_format((uint64_t)json_integer_value(json_object_get(u, "disk_max")), max, sizeof(max));
	if (used >= 1 << 30)
		snprintf(buf, len, "%.1fG/%s", used / (1 << 30), max);
	else
		snprintf(buf, len, "%.1fM/%s", used / (1 << 20), max);
}

static void usage_cell(json_t *o, const char *key, char *buf, size_t len)
{
	json_t *u = json_object_get(o, "usage");

	if (json_is_object(u))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(u, key)));
}

static void throttled_cell(json_t *o, char *buf, size_t len)
{
	usage_cell(o, "cpu_throttled", buf, len);
}

static void oom_cell(json_t *o, char *buf, size_t len)
{
	usage_cell(o, "oom_kills", buf, len);
}

static const struct print_col stats_router_cols[] = {
	{ .title = "ROUTER", .key = "name" },
	{ .title = "STATE", .key = "state" },
	{ .title = "CPU-TIME", .fn = cpu_time_cell },
	{ .title = "THROTTLED", .fn = throttled_cell },
	{ .title = "MEMORY", .fn = mem_cell },
	{ .title = "OOM-KILLS", .fn = oom_cell },
	{ .title = "PIDS", .fn = pids_cell },
	{ .title = "DISK", .fn = disk_cell },
	{ .title = NULL },
};

static const struct print_col list_cols[] = {
	{ .title = "NAME", .key = "name" },
	{ .title = "OWNER", .key = "owner" },
	{ .title = "STATE", .key = "state" },
	{ .title = "ROUTERS", .key = "routers", .fmt = PRINT_FMT_COUNT },
	{ .title = "LINKS", .key = "links", .fmt = PRINT_FMT_COUNT },
	{ .title = "CREATED", .key = "created", .fmt = PRINT_FMT_AGE },
	{ .title = NULL },
};

/* A row of a table built from a nested object, labelled with its router. */
static void add_row(json_t *rows, json_t *from, const char *router)
{
	json_t *row = json_is_object(from) ? json_copy(from) : json_object();

	if (!row)
		return;
	json_object_set_new(row, "router", json_string(router ? router : ""));
	json_array_append_new(rows, row);
}

void cli_slice_print(json_t *slice)
{
	json_t *routers = json_object_get(slice, "routers");
	json_t *ifaces, *limits, *router, *iface;
	int has_limits = 0;
	size_t i, j;

	if (print_is_json())
		return;
	ifaces = json_array();
	limits = json_array();
	/* The slice's aggregate first, when it has one. */
	{
		json_t *l = json_object_get(slice, "limits");

		if (json_number_value(json_object_get(l, "cpu")) > 0 || json_integer_value(json_object_get(l, "cpu_weight")) > 0 ||
		    json_integer_value(json_object_get(l, "memory")) > 0 || json_integer_value(json_object_get(l, "pids")) > 0) {
			add_row(limits, l, "(slice)");
			has_limits = 1;
		}
	}
	json_array_foreach(routers, i, router) {
		const char *name = json_string_value(json_object_get(router, "name"));
		json_t *l = json_object_get(router, "limits");

		json_array_foreach(json_object_get(router, "interfaces"), j, iface)
			add_row(ifaces, iface, name);
		add_row(limits, l, name);
		if (json_number_value(json_object_get(l, "cpu")) > 0 ||
		    json_integer_value(json_object_get(l, "cpu_weight")) > 0 ||
		    json_integer_value(json_object_get(l, "memory")) > 0 ||
		    json_integer_value(json_object_get(l, "pids")) > 0 || json_integer_value(json_object_get(l, "disk")) > 0)
			has_limits = 1;
	}

	print_fields(slice, slice_fields);
	/* A slice whose stored spec no longer parses: what runs, from its inventory. */
	if (json_is_string(json_object_get(slice, "spec_error")))
		print_line("Spec: %s (shown from what was built)", json_string_value(json_object_get(slice, "spec_error")));
	print_section("Routers:");
	print_table(routers, router_cols);
	if (has_limits) {
		print_section("Limits:");
		print_table(limits, limit_cols);
	}
	print_section("Interfaces:");
	print_table(ifaces, iface_cols);
	print_section("Links:");
	print_table(json_object_get(slice, "links"), link_cols);
	json_decref(ifaces);
	json_decref(limits);
}

/* Arguments become JSON strings, which must be UTF-8. */
static int check_utf8(struct cli *cli, char **args, int n)
{
	struct trl_error err = { 0 };

	for (int i = 0; i < n; i++) {
		json_t *s = json_string(args[i]);

		if (!s) {
			trl_error_set(&err, TRL_EINVALID, "argument %d is not valid UTF-8", i + 1);
			return cli_error(cli, &err);
		}
		json_decref(s);
	}
	return 0;
}

/* slice create */

/* Read a text file as a JSON string (so: UTF-8, no NUL bytes). */
static json_t *read_text(const char *path, struct trl_error *err)
{
	_cleanup_free_ char *text = NULL;
	json_t *s;
	size_t len;
	int r;

	r = util_read_file(path, SPEC_MAX, &text, &len);
	if (r == -EFBIG) {
		trl_error_set(err, TRL_EINVALID, "'%s' is larger than %u MiB", path, SPEC_MAX >> 20);
		return NULL;
	}
	if (r < 0) {
		trl_error_errno(err, TRL_EINVALID, -r, "cannot read '%s'", path);
		return NULL;
	}
	if (memchr(text, '\0', len)) {
		trl_error_set(err, TRL_EINVALID, "'%s' is not a text file (it contains NUL bytes)", path);
		return NULL;
	}
	s = json_stringn(text, len);
	if (!s)
		trl_error_set(err, TRL_EINVALID, "'%s' is not UTF-8 text", path);
	return s;
}

/* spec_referenced_files() does not know the file's name: put it in front. */
static void prefix_spec_error(struct trl_error *err, const char *file)
{
	static const char anon[] = "<spec>";
	char old[sizeof(err->msg)];

	memcpy(old, err->msg, sizeof(old));
	if (!strncmp(old, anon, strlen(anon)))
		snprintf(err->msg, sizeof(err->msg), "%s%.*s", file, (int)(sizeof(old) - 512),
			 old + strlen(anon));
	else if (old[0] >= '0' && old[0] <= '9')
		snprintf(err->msg, sizeof(err->msg), "%s:%.*s", file, (int)(sizeof(old) - 512), old);
	else
		trl_error_prefix(err, "%s", file);
	if (!err->code)
		err->code = TRL_EINVALID;
}

/* A config-file: name must stay below the spec's directory. */
static int config_name_check(const char *name, struct trl_error *err)
{
	const char *p = name;

	if (!*name)
		return trl_error_set(err, TRL_EINVALID, "config-file: empty file name");
	if (*name == '/')
		return trl_error_set(err, TRL_EINVALID,
				     "config-file '%s': absolute paths are not allowed (name the file relative to the spec's directory)",
				     name);
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return trl_error_set(err, TRL_EINVALID,
					     "config-file '%s': '..' is not allowed (the file must be in the spec's directory or below it)",
					     name);
		p += n;
		p += strspn(p, "/");
	}
	return 0;
}

static json_t *read_config_files(const char *file, const char *spec, size_t len, struct trl_error *err)
{
	const char *slash = strrchr(file, '/');
	_cleanup_free_ char *dir = NULL;
	json_t *files = NULL;
	char **names = NULL;
	int r;

	r = spec_referenced_files(spec, len, &names, err);
	if (r < 0) {
		/* Same name as the daemon's messages use: the file's base name. */
		prefix_spec_error(err, slash ? slash + 1 : file);
		return NULL;
	}
	if (slash)
		dir = strndup(file, slash == file ? 1 : (size_t)(slash - file));
	files = json_object();
	if ((slash && !dir) || !files) {
		trl_error_set(err, TRL_EFAILED, "out of memory");
		goto fail;
	}
	for (char **n = names; n && *n; n++) {
		_cleanup_free_ char *path = NULL;
		json_t *text;

		if (config_name_check(*n, err) < 0) {
			trl_error_prefix(err, "%s", file);
			goto fail;
		}
		if (json_object_get(files, *n))
			continue;
		if (asprintf(&path, "%s%s%s", dir ? dir : "", dir && strcmp(dir, "/") ? "/" : "", *n) < 0) {
			path = NULL;
			trl_error_set(err, TRL_EFAILED, "out of memory");
			goto fail;
		}
		text = read_text(path, err);
		if (!text) {
			trl_error_prefix(err, "%s: config-file '%s'", file, *n);
			goto fail;
		}
		json_object_set_new(files, *n, text);
	}
	spec_free_names(names);
	return files;
fail:
	spec_free_names(names);
	json_decref(files);
	return NULL;
}

/* A file a containerlab topology binds: relative to the topology's directory, as config-file: names are. */
static int clab_read(void *ctx, const char *name, char **text, struct trl_error *err)
{
	const char *file = ctx, *slash = strrchr(file, '/');
	_cleanup_free_ char *path = NULL;
	json_t *s;
	int r;

	if ((r = config_name_check(name, err)) < 0)
		return r;
	if (asprintf(&path, "%.*s%s%s", slash ? (int)(slash - file) : 0, file, slash ? "/" : "", name) < 0) {
		path = NULL;
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	}
	s = read_text(path, err);
	if (!s)
		return -err->code;
	*text = strdup(json_string_value(s));
	json_decref(s);
	return *text ? 0 : trl_error_set(err, TRL_EFAILED, "out of memory");
}

/* A containerlab topology in @spec: replaced by the slice spec it maps to
 * (lib/clab.c); 1 if it was one, 0 if not, or -code. */
static int clab_translate(struct cli *cli, const char *file, const char *base, json_t **spec, struct trl_error *err)
{
	char *out = NULL, *notes = NULL;

	if (!clab_detect(base, json_string_value(*spec), json_string_length(*spec)))
		return 0;
	if (clab_to_spec(json_string_value(*spec), json_string_length(*spec), base, clab_read, (void *)file, &out,
			 &notes, err) < 0)
		return -err->code;
	for (char *l = notes, *nl; l && *l; l = nl ? nl + 1 : NULL) {
		nl = strchr(l, '\n');
		if (!cli->quiet)
			fprintf(stderr, "trellis: %s: note: %.*s\n", base, nl ? (int)(nl - l) : (int)strlen(l), l);
		if (!nl)
			break;
	}
	free(notes);
	json_decref(*spec);
	*spec = json_string(out);
	free(out);
	return *spec ? 1 : trl_error_set(err, TRL_EFAILED, "out of memory");
}

/* slice create --dry-run: what trellisd would build. */
static void dry_run_print(json_t *plan)
{
	static const struct print_col router_plan[] = {
		{ .title = "ROUTER", .key = "name" },
		{ .title = "TEMPLATE", .key = "template" },
		{ .title = "NODE", .key = "node" },
		{ .title = NULL },
	};
	static const struct print_col link_plan[] = {
		{ .title = "LINK", .key = "name" },
		{ .title = "KIND", .key = "kind" },
		{ .title = NULL },
	};

	print_line("Slice '%s' is valid and fits on this node; nothing was built (--dry-run).",
		   json_string_value(json_object_get(plan, "name")) ?: "");
	print_section("Routers:");
	print_table(json_object_get(plan, "routers"), router_plan);
	print_section("Links:");
	print_table(json_object_get(plan, "links"), link_plan);
}

static int slice_create(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_args a = { 0 };
	struct trl_error err = { 0 };
	json_t *spec = NULL, *files = NULL, *result = NULL, *req;
	const char *base, *file;
	char clab_name[300];
	int status;

	if (!cli_args_parse(cli, cmd, argc, argv, &a, &status))
		goto out;
	if (a.noperands) {
		status = cli_usage_error(cmd, "unexpected argument '%s'", a.operands[0]);
		goto out;
	}
	if (!a.file) {
		status = cli_usage_error(cmd, "missing -f FILE (the slice spec; '-' for stdin)");
		goto out;
	}
	if (a.dry_run && cli->backend != &cli_backend_node) {
		status = cli_usage_error(cmd, "--dry-run asks one node (--socket), not --cluster or --node/--nodes");
		goto out;
	}
	status = check_utf8(cli, (char **)&a.file, 1);
	if (status)
		goto out;

	/* "-": the spec from stdin, its config-file: names relative to the current directory */
	file = strcmp(a.file, "-") ? a.file : "stdin";
	spec = read_text(strcmp(a.file, "-") ? a.file : "/dev/stdin", &err);
	if (!spec) {
		status = cli_error(cli, &err);
		goto out;
	}
	base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	if ((status = clab_translate(cli, file, base, &spec, &err)) < 0) {
		status = cli_error(cli, &err);
		goto out;
	}
	if (status > 0) {	/* the daemon's positions are the translated spec's */
		snprintf(clab_name, sizeof(clab_name), "%s (translated)", base);
		base = clab_name;
		status = 0;
	}
	files = read_config_files(file, json_string_value(spec), json_string_length(spec), &err);
	if (!files) {
		status = cli_error(cli, &err);
		goto out;
	}
	if (!a.dry_run) {
		status = cli->backend->create(cli, spec, base, files);
		goto out;
	}
	req = json_pack("{s:s, s:O, s:s, s:O, s:b}", "op", "slice.create", "spec", spec, "filename", base, "files",
			files, "dry_run", 1);
	status = cli_call(cli, req, NULL, 0, &result);
	if (status)
		goto out;
	print_json(result);
	if (!cli->quiet)
		dry_run_print(result);
out:
	json_decref(spec);
	json_decref(files);
	json_decref(result);
	free(a.operands);
	return status;
}

/* slice apply */

static void apply_print(json_t *result)
{
	json_t *changes = json_object_get(result, "changes"), *dist = json_object_get(result, "disturbed"), *c;
	const char *name = json_string_value(json_object_get(result, "name")) ?: "";
	int dry = json_is_true(json_object_get(result, "dry_run"));
	size_t i;

	if (!json_array_size(changes)) {
		print_line("slice '%s': the spec is what runs: nothing to change", name);
		return;
	}
	print_line("slice '%s': %zu change%s%s", name, json_array_size(changes), json_array_size(changes) == 1 ? "" : "s",
		   dry ? " (dry run: nothing was changed)" : "");
	json_array_foreach(changes, i, c) {
		const char *what = json_string_value(json_object_get(c, "change")) ?: "";

		print_line("  %s %s %s: %s", !strcmp(what, "added") ? "+" : !strcmp(what, "removed") ? "-" : "~",
			   json_string_value(json_object_get(c, "kind")) ?: "", json_string_value(json_object_get(c, "name")) ?: "",
			   json_string_value(json_object_get(c, "how")) ?: "");
	}
	if (!json_array_size(dist)) {
		print_line("disturbs nothing that runs");
	} else {
		json_array_foreach(dist, i, c)
			print_line("disturbs: %s", json_string_value(c) ?: "");
	}
	if (!dry)
		print_line("slice '%s': applied", name);
}

static int slice_apply(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_args a = { .accept = CLI_OPT_FILE | CLI_OPT_DRY_RUN };
	struct trl_error err = { 0 };
	json_t *spec = NULL, *files = NULL, *result = NULL;
	const char *base;
	int status;

	if (!cli_args_parse(cli, cmd, argc, argv, &a, &status))
		goto out;
	if (a.noperands) {
		status = cli_usage_error(cmd, "unexpected argument '%s'", a.operands[0]);
		goto out;
	}
	if (!a.file) {
		status = cli_usage_error(cmd, "missing -f FILE (the edited slice spec)");
		goto out;
	}
	status = check_utf8(cli, (char **)&a.file, 1);
	if (status)
		goto out;
	if (cli->backend == &cli_backend_cluster && a.dry_run) {
		status = cli_usage_error(cmd, "--dry-run asks the nodes (--socket, or --node/--nodes), not --cluster");
		goto out;
	}
	spec = read_text(a.file, &err);
	if (!spec) {
		status = cli_error(cli, &err);
		goto out;
	}
	files = read_config_files(a.file, json_string_value(spec), json_string_length(spec), &err);
	if (!files) {
		status = cli_error(cli, &err);
		goto out;
	}
	base = strrchr(a.file, '/') ? strrchr(a.file, '/') + 1 : a.file;
	status = cli->backend->apply(cli, spec, base, files, a.dry_run, &result);
	if (status)
		goto out;
	print_json(result);
	if (cli->quiet || cli->json)
		;
	else if (json_object_get(result, "revision"))
		cli_cluster_result_print(result);	/* the cluster applied it */
	else
		apply_print(result);
out:
	json_decref(spec);
	json_decref(files);
	json_decref(result);
	free(a.operands);
	return status;
}

/* The three backends (cli.h): one node, several nodes, a cluster. */

static int node_create(struct cli *cli, json_t *spec, const char *filename, json_t *files)
{
	json_t *result = NULL;
	int status = cli_call(cli, json_pack("{s:s, s:O, s:s, s:O}", "op", "slice.create", "spec", spec, "filename",
					     filename, "files", files),
			      NULL, 0, &result);

	if (status)
		return status;
	print_json(result);
	if (cli->quiet)
		;
	else if (json_object_get(result, "revision"))
		cli_cluster_result_print(result);	/* a node in cluster mode answered */
	else
		cli_slice_print(result);
	json_decref(result);
	return 0;
}

static int node_apply(struct cli *cli, json_t *spec, const char *filename, json_t *files, int dry_run,
		      json_t **result)
{
	return cli_call(cli,
			json_pack("{s:s, s:O, s:s, s:O, s:b}", "op", "slice.apply", "spec", spec, "filename", filename,
				  "files", files, "dry_run", dry_run),
			NULL, 0, result);
}

static int node_remove(struct cli *cli, const char *name)
{
	json_t *result = NULL;
	int status = cli_call(cli, json_pack("{s:s, s:s}", "op", "slice.delete", "name", name), NULL, 0, &result);

	if (status)
		return status;
	print_json(result);
	if (json_is_string(json_object_get(result, "name")))
		name = json_string_value(json_object_get(result, "name"));
	if (!cli->quiet)
		print_line("slice '%s' %s", name, json_is_false(json_object_get(result, "removed")) ? "did not exist" :
												      "deleted");
	json_decref(result);
	return 0;
}

static int node_list(struct cli *cli)
{
	json_t *result = NULL;
	int status = cli_call(cli, json_pack("{s:s}", "op", "slice.list"), NULL, 0, &result);

	if (status)
		return status;
	print_json(result);
	print_table(json_object_get(result, "slices"), list_cols);
	json_decref(result);
	return 0;
}

static int nodes_create(struct cli *cli, json_t *spec, const char *filename, json_t *files)
{
	return cli_multi_create(cli, spec, filename, files);
}

static int nodes_remove(struct cli *cli, const char *name)
{
	json_t *result = NULL, *v;
	const char *key;
	int removed = 0, status;

	status = cli_multi_call(cli, "slice.delete", name, &result);
	if (status)
		return status;
	print_json(result);
	json_object_foreach(json_object_get(result, "nodes"), key, v)
		removed += json_is_true(json_object_get(v, "removed"));
	if (!cli->quiet)
		print_line("slice '%s' %s (%d node(s))", name, removed ? "deleted" : "did not exist", removed);
	json_decref(result);
	return 0;
}

/* One row per slice and node it has routers on. */
static int nodes_list(struct cli *cli)
{
	json_t *result, *rows = json_array();
	int status = 0;

	for (int i = 0; i < cli->n_nodes && !status; i++) {
		struct trl_error err = { 0 };
		json_t *r = NULL, *sl;
		size_t k;

		if (cli_request(cli, cli->nodes[i].socket, json_pack("{s:s}", "op", "slice.list"), NULL, 0, &r, &err) <
		    0) {
			trl_error_prefix(&err, "node '%s'", cli->nodes[i].name);
			status = cli_error(cli, &err);
			break;
		}
		json_array_foreach(json_object_get(r, "slices"), k, sl) {
			json_object_set_new(sl, "node", json_string(cli->nodes[i].name));
			json_array_append(rows, sl);
		}
		json_decref(r);
	}
	result = json_pack("{s:o}", "slices", rows);
	if (!status) {
		print_json(result);
		print_table(json_object_get(result, "slices"), list_node_cols);
	}
	json_decref(result);
	return status;
}

static int cluster_apply(struct cli *cli, json_t *spec, const char *filename, json_t *files, int dry_run,
			 json_t **result)
{
	(void)dry_run;	/* refused before (slice apply asks the nodes for a dry run) */
	return cli_cluster_apply(cli, spec, filename, files, result);
}

const struct cli_backend cli_backend_node = {
	.name = "node", .create = node_create, .apply = node_apply, .remove = node_remove, .list = node_list,
};
const struct cli_backend cli_backend_nodes = {
	.name = "nodes", .create = nodes_create, .apply = cli_multi_apply, .remove = nodes_remove, .list = nodes_list,
	.each = cli_multi_call,
};
const struct cli_backend cli_backend_cluster = {
	.name = "cluster", .create = cli_cluster_create, .apply = cluster_apply, .remove = cli_cluster_delete,
	.list = cli_cluster_list,
};

/* slice list */

static int slice_list(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_args a = { 0 };
	int status;

	if (!cli_args_parse(cli, cmd, argc, argv, &a, &status))
		goto out;
	if (a.noperands) {
		status = cli_usage_error(cmd, "unexpected argument '%s'", a.operands[0]);
		goto out;
	}
	status = cli->backend->list(cli);
out:
	free(a.operands);
	return status;
}

/* slice show, slice delete: one slice name. */

static int one_name(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv,
		    struct cli_args *a, int *status)
{
	if (!cli_args_parse(cli, cmd, argc, argv, a, status))
		return 0;
	if (a->noperands == 0) {
		*status = cli_usage_error(cmd, "missing slice name");
		return 0;
	}
	if (a->noperands > 1) {
		*status = cli_usage_error(cmd, "unexpected argument '%s'", a->operands[1]);
		return 0;
	}
	*status = check_utf8(cli, a->operands, 1);
	return *status == 0;
}

static int slice_show(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_args a = { 0 };
	json_t *result = NULL;
	int status;

	if (!one_name(cli, cmd, argc, argv, &a, &status))
		goto out;
	if (cli->backend == &cli_backend_cluster) {
		status = cli_cluster_show(cli, a.operands[0]);
		goto out;
	}
	if (cli->backend->each) {
		const char *key;
		json_t *v;

		status = cli->backend->each(cli, "slice.show", a.operands[0], &result);
		if (status)
			goto out;
		print_json(result);
		json_object_foreach(json_object_get(result, "nodes"), key, v) {
			print_line("== node %s", key);
			cli_slice_print(v);
			print_line("%s", "");
		}
		goto out;
	}
	status = cli_call(cli, json_pack("{s:s, s:s}", "op", "slice.show", "name", a.operands[0]),
			  NULL, 0, &result);
	if (status)
		goto out;
	print_json(result);
	cli_slice_print(result);
out:
	json_decref(result);
	free(a.operands);
	return status;
}

/* Flatten a slice.stats result into one row per port. */
static void stats_rows(json_t *res, json_t *rows)
{
	json_t *l, *p;
	size_t i, k;

	json_array_foreach(json_object_get(res, "links"), i, l)
		json_array_foreach(json_object_get(l, "ports"), k, p) {
			json_t *row = json_deep_copy(p);

			json_object_set(row, "link", json_object_get(l, "name"));
			json_object_set(row, "kind", json_object_get(l, "kind"));
			json_object_set(row, "key", json_object_get(l, "key"));
			json_array_append_new(rows, row);
		}
}

/* The routers of a slice.stats result that run on the node that answered, the slice's aggregate first. */
static void router_usage_rows(json_t *res, json_t *rows)
{
	json_t *r;
	size_t i;

	if (json_is_object(json_object_get(res, "usage")))
		json_array_append_new(rows, json_pack("{s:s, s:s, s:O}", "name", "(slice)", "state", "-", "usage",
						       json_object_get(res, "usage")));
	json_array_foreach(json_object_get(res, "routers"), i, r)
		if (json_is_object(json_object_get(r, "usage")))
			json_array_append(rows, r);
}

static int slice_stats(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_args a = { 0 };
	json_t *result = NULL, *rows = json_array(), *rrows = json_array(), *drows = json_array();
	int status;

	if (!one_name(cli, cmd, argc, argv, &a, &status))
		goto out;
	if (cli->backend->each) {
		const char *key;
		json_t *v;

		status = cli->backend->each(cli, "slice.stats", a.operands[0], &result);
		if (status)
			goto out;
		json_object_foreach(json_object_get(result, "nodes"), key, v) {
			stats_rows(v, rows);
			stats_dir_rows(v, drows);
			router_usage_rows(v, rrows);
		}
	} else {
		status = cli_call(cli, json_pack("{s:s, s:s}", "op", "slice.stats", "name", a.operands[0]), NULL, 0,
				  &result);
		if (status)
			goto out;
		stats_rows(result, rows);
		stats_dir_rows(result, drows);
		router_usage_rows(result, rrows);
	}
	print_json(result);
	print_table(rows, stats_cols);
	if (json_array_size(drows)) {
		print_section("Directions:");
		print_table(drows, stats_dir_cols);
	}
	if (json_array_size(rrows)) {
		print_section("Routers:");
		print_table(rrows, stats_router_cols);
	}
out:
	json_decref(drows);
	json_decref(rrows);
	json_decref(rows);
	json_decref(result);
	free(a.operands);
	return status;
}

static int slice_delete(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_args a = { 0 };
	int status;

	if (!one_name(cli, cmd, argc, argv, &a, &status))
		goto out;
	status = cli->backend->remove(cli, a.operands[0]);
out:
	free(a.operands);
	return status;
}

/* slice set */

static void size_cell(json_int_t v, char *buf, size_t len)
{
	if (v > 0)
		units_size_format((uint64_t)v, buf, len);
	else
		snprintf(buf, len, "none");
}

static void bandwidth_line(const char *what, json_t *res)
{
	json_t *now = json_object_get(res, "bandwidth"), *prev = json_object_get(res, "bandwidth_previous");
	char a[32] = "none", b[32] = "none", c[32] = "", d[32] = "";
	uint64_t v;

	if (!now)
		return;
	if ((v = (uint64_t)json_integer_value(json_object_get(prev, "rate"))))
		units_rate_format(v, a, sizeof(a));
	if ((v = (uint64_t)json_integer_value(json_object_get(now, "rate"))))
		units_rate_format(v, b, sizeof(b));
	if ((v = (uint64_t)json_integer_value(json_object_get(prev, "ceil"))))
		units_rate_format(v, c + 1, sizeof(c) - 1), c[0] = '/';
	if ((v = (uint64_t)json_integer_value(json_object_get(now, "ceil"))))
		units_rate_format(v, d + 1, sizeof(d) - 1), d[0] = '/';
	print_line("%s: bandwidth %s%s -> %s%s", what, a, c, b, d);
}

static void limits_line(const char *what, json_t *now, json_t *prev)
{
	static const struct {
		const char *key, *label;
	} keys[] = { { "cpu", "cpu" }, { "cpu_weight", "cpu-weight" }, { "memory", "memory" }, { "pids", "pids" } };
	char line[512] = "", a[64], b[64];

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		json_t *n = json_object_get(now, keys[i].key), *p = json_object_get(prev, keys[i].key);

		if (json_equal(n, p))
			continue;
		if (i == 0) {
			double x = json_number_value(p), y = json_number_value(n);

			snprintf(a, sizeof(a), x > 0 ? "%g" : "none", x);
			snprintf(b, sizeof(b), y > 0 ? "%g" : "none", y);
		} else if (i == 2) {
			size_cell(json_integer_value(p), a, sizeof(a));
			size_cell(json_integer_value(n), b, sizeof(b));
		} else {
			const char *none = i == 1 ? "default" : "none";

			snprintf(a, sizeof(a), "%" JSON_INTEGER_FORMAT, json_integer_value(p));
			snprintf(b, sizeof(b), "%" JSON_INTEGER_FORMAT, json_integer_value(n));
			if (json_integer_value(p) <= 0)
				snprintf(a, sizeof(a), "%s", none);
			if (json_integer_value(n) <= 0)
				snprintf(b, sizeof(b), "%s", none);
		}
		snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s%s %s -> %s", line[0] ? ", " : "",
			 keys[i].label, a, b);
	}
	print_line("%s: %s", what, line[0] ? line : "unchanged");
}

/*
 * The aggregate of a slice on several nodes: the same change on every node
 * that has the slice.  If one refuses, the nodes already changed get their
 * previous values back (a limit that was unset there cannot be unset again
 * by a set: that is reported).
 */
static void multi_set_undo(struct cli *cli, json_t *req, json_t *done)
{
	const char *node, *key;
	json_t *res, *v;

	json_object_foreach(done, node, res) {
		json_t *prev = json_object_get(res, "previous"), *undo = json_pack("{s:s, s:O}", "op", "slice.set", "name",
										   json_object_get(req, "name"));
		struct trl_error err = { 0 };
		json_t *out = NULL;
		int n = 0;

		json_object_foreach(req, key, v) {
			json_t *p = json_object_get(prev, key);
			char buf[64];

			if (!strcmp(key, "bandwidth") || !strcmp(key, "ceil")) {
				json_t *bp = json_object_get(json_object_get(res, "bandwidth_previous"),
							     !strcmp(key, "bandwidth") ? "rate" : "ceil");

				if (!bp)
					continue;
				if (json_integer_value(bp) > 0)
					snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT "bit", json_integer_value(bp));
				else
					snprintf(buf, sizeof(buf), "none");
				json_object_set_new(undo, key, json_string(buf));
				n++;
				continue;
			}
			if (!strcmp(key, "op") || !strcmp(key, "name") || !p)
				continue;
			if (!strcmp(key, "cpu") && json_number_value(p) > 0)
				snprintf(buf, sizeof(buf), "%.6g", json_number_value(p));
			else if (!strcmp(key, "memory") && json_integer_value(p) > 0)
				units_size_format((uint64_t)json_integer_value(p), buf, sizeof(buf));
			else if (!strcmp(key, "cpu_weight"))
				snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
					 json_integer_value(p) > 0 ? json_integer_value(p) : 100);
			else if (!strcmp(key, "pids") && json_integer_value(p) > 0)
				snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(p));
			else {
				fprintf(stderr, "trellis: node '%s': %s had no limit before; it keeps the new one\n", node,
					key);
				continue;
			}
			json_object_set_new(undo, key, json_string(buf));
			n++;
		}
		for (int i = 0; n && i < cli->n_nodes; i++)
			if (!strcmp(cli->nodes[i].name, node) &&
			    cli_request(cli, cli->nodes[i].socket, json_incref(undo), NULL, 0, &out, &err) < 0)
				fprintf(stderr, "trellis: node '%s': cannot put the previous limits back: %s\n", node, err.msg);
		json_decref(out);
		json_decref(undo);
	}
}

static int multi_set(struct cli *cli, json_t *req, json_t **merged)
{
	struct trl_error err = { 0 };

	return cli_nodes_each(cli, req, merged, multi_set_undo, &err) < 0 ? cli_error(cli, &err) : 0;
}

static int slice_set(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_args a = { 0 };
	json_t *result = NULL, *req;
	char what[96];
	int status;

	if (!one_name(cli, cmd, argc, argv, &a, &status))
		goto out;
	if (!a.cpu && !a.cpu_weight && !a.memory && !a.pids && !a.bandwidth && !a.ceil) {
		status = cli_usage_error(cmd, "nothing to change: give --cpu, --cpu-weight, --memory, --pids, --bandwidth or --ceil");
		goto out;
	}
	{
		char *vals[] = { (char *)(a.router ? a.router : ""), (char *)(a.cpu ? a.cpu : ""),
				 (char *)(a.cpu_weight ? a.cpu_weight : ""), (char *)(a.memory ? a.memory : ""),
				 (char *)(a.pids ? a.pids : ""), (char *)(a.bandwidth ? a.bandwidth : ""),
				 (char *)(a.ceil ? a.ceil : "") };

		status = check_utf8(cli, vals, 7);
		if (status)
			goto out;
	}
	if (cli->n_nodes && a.router && (status = cli_multi_route(cli, a.operands[0], a.router)))
		goto out;
	req = json_pack("{s:s, s:s, s:s*, s:s*, s:s*, s:s*, s:s*, s:s*, s:s*}", "op", "slice.set", "name", a.operands[0],
			"router", a.router, "cpu", a.cpu, "cpu_weight", a.cpu_weight, "memory", a.memory, "pids", a.pids,
			"bandwidth", a.bandwidth, "ceil", a.ceil);
	if (cli->n_nodes && !a.router) {
		const char *key;
		json_t *v;

		status = multi_set(cli, req, &result);
		json_decref(req);
		if (status)
			goto out;
		print_json(result);
		if (!cli->quiet && !print_is_json())
			json_object_foreach(json_object_get(result, "nodes"), key, v) {
				snprintf(what, sizeof(what), "slice '%s' (aggregate) on node '%s'", a.operands[0], key);
				if (json_object_get(v, "limits"))
					limits_line(what, json_object_get(v, "limits"), json_object_get(v, "previous"));
				bandwidth_line(what, v);
			}
		goto out;
	}
	status = cli_call(cli, req, NULL, 0, &result);
	if (status)
		goto out;
	print_json(result);
	if (a.router)
		snprintf(what, sizeof(what), "slice '%s' router '%s'", a.operands[0], a.router);
	else
		snprintf(what, sizeof(what), "slice '%s' (aggregate)", a.operands[0]);
	if (!cli->quiet && !print_is_json()) {
		if (json_object_get(result, "limits"))
			limits_line(what, json_object_get(result, "limits"), json_object_get(result, "previous"));
		bandwidth_line(what, result);
	}
out:
	json_decref(result);
	free(a.operands);
	return status;
}

/* slice exec, slice login */

static int exec_in_router(struct cli *cli, const char *name, const char *router, json_t *argv, int tty)
{
	struct trl_error err = { 0 };
	json_t *result = NULL, *req, *code;
	int fds[3], opened[3] = { -1, -1, -1 };
	json_int_t n;
	int status;

	/* A closed std fd cannot be passed: hand the command /dev/null instead. */
	for (int i = 0; i < 3 && !tty; i++) {
		fds[i] = i;
		if (fcntl(i, F_GETFD) < 0 && errno == EBADF) {
			opened[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (opened[i] < 0) {
				json_decref(argv);
				trl_error_errno(&err, TRL_EFAILED, errno, "cannot open /dev/null");
				return cli_error(cli, &err);
			}
			fds[i] = opened[i];
		}
	}
	req = json_pack("{s:s, s:s, s:s, s:o, s:b}", "op", "slice.exec", "name", name, "router", router,
			"argv", argv, "tty", tty);
	fflush(stdout);
	/* With a terminal trellisd opens a pty in the router and passes its
	 * master back: cli_pty_session() runs our side of it (term.c). */
	cli->pty_session = tty ? cli_pty_session : NULL;
	status = cli_call(cli, req, tty ? NULL : fds, tty ? 0 : 3, &result);
	for (int i = 0; i < 3; i++)
		if (opened[i] > 2)
			close(opened[i]);
	if (status)
		return status;
	code = json_object_get(result, "exit");
	if (!json_is_integer(code)) {
		json_decref(result);
		trl_error_set(&err, TRL_EPROTO, "trellisd's reply to slice.exec has no exit status");
		return cli_error(cli, &err);
	}
	n = json_integer_value(code);
	json_decref(result);
	return n < 0 || n > 255 ? 255 : (int)n;
}

static int slice_exec(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_args a = { .fixed = 2 };
	json_t *args;
	int status;

	if (!cli_args_parse(cli, cmd, argc, argv, &a, &status))
		goto out;
	if (a.noperands < 2) {
		status = cli_usage_error(cmd, a.noperands ? "missing router name" : "missing slice name");
		goto out;
	}
	if (a.nrest == 0) {
		status = cli_usage_error(cmd, "missing command to run");
		goto out;
	}
	status = check_utf8(cli, a.operands, 2);
	if (!status)
		status = check_utf8(cli, a.rest, a.nrest);
	if (status)
		goto out;
	if (cli->n_nodes && (status = cli_multi_route(cli, a.operands[0], a.operands[1])))
		goto out;
	args = json_array();
	for (int i = 0; args && i < a.nrest; i++)
		json_array_append_new(args, json_string(a.rest[i]));
	status = exec_in_router(cli, a.operands[0], a.operands[1], args,
				isatty(STDIN_FILENO) && isatty(STDOUT_FILENO));
out:
	free(a.operands);
	return status;
}

static int slice_login(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_args a = { 0 };
	const char *shell;
	int status;

	if (!cli_args_parse(cli, cmd, argc, argv, &a, &status))
		goto out;
	if (a.noperands < 2) {
		status = cli_usage_error(cmd, a.noperands ? "missing router name" : "missing slice name");
		goto out;
	}
	if (a.noperands > 2) {
		status = cli_usage_error(cmd, "unexpected argument '%s'", a.operands[2]);
		goto out;
	}
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "trellis: slice login needs a terminal (use 'trellis slice exec %s %s -- CMD')\n",
			a.operands[0], a.operands[1]);
		status = CLI_EXIT_USAGE;
		goto out;
	}
	if (cli->n_nodes && (status = cli_multi_route(cli, a.operands[0], a.operands[1])))
		goto out;
	shell = a.shell ? a.shell : DEFAULT_SHELL;
	status = check_utf8(cli, a.operands, 2);
	if (!status)
		status = check_utf8(cli, (char **)&shell, 1);
	if (status)
		goto out;
	status = exec_in_router(cli, a.operands[0], a.operands[1], json_pack("[s, s]", shell, "-l"), 1);
out:
	free(a.operands);
	return status;
}

/* slice key add|list|remove */

static void key_cell(json_t *o, char *buf, size_t len)
{
	const char *k = json_string_value(json_object_get(o, "key"));
	const char *sp = k ? strchr(k, ' ') : NULL;
	size_t n;

	if (!sp)
		return;
	/* The type and the last characters of the key data tell keys apart. */
	n = strlen(sp + 1);
	snprintf(buf, len, "%.*s ...%s", (int)(sp - k), k, sp + 1 + (n > 16 ? n - 16 : 0));
}

static const struct print_col key_cols[] = {
	{ .title = "KEY", .fn = key_cell },
	{ .title = "COMMENT", .key = "comment" },
	{ .title = "ADDED", .key = "added", .fmt = PRINT_FMT_AGE },
	{ .title = NULL },
};

/* Each key line of @path ("-": stdin): blank lines and '#' comments skipped. */
static int read_keys(const char *path, json_t **lines, struct trl_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	char *p, *save = NULL;
	int r;

	r = util_read_file(!strcmp(path, "-") ? "/dev/stdin" : path, 1u << 20, &text, &len);
	if (r < 0)
		return trl_error_errno(err, TRL_EINVALID, -r, "cannot read '%s'", path);
	*lines = json_array();
	for (p = strtok_r(text, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
		char *q = p + strspn(p, " \t\r");

		if (*q && *q != '#')
			json_array_append_new(*lines, json_string(q));
	}
	if (json_array_size(*lines) == 0) {
		json_decref(TAKE_PTR(*lines));
		return trl_error_set(err, TRL_EINVALID, "'%s' holds no ssh public key", path);
	}
	/* trellisd checks each key; checking them all first here keeps a file
	 * with a bad line from being registered in part. */
	for (size_t i = 0; i < json_array_size(*lines); i++) {
		static char key[SSHKEY_MAX + 1], comment[SSHKEY_COMMENT_MAX + 1];

		if (sshkey_parse(json_string_value(json_array_get(*lines, i)), key, comment, err) < 0) {
			json_decref(TAKE_PTR(*lines));
			return trl_error_prefix(err, "%s: key %zu", path, i + 1);
		}
	}
	return 0;
}

/* Send @req (stolen) to this node, or with --node/--nodes to every node that
 * has the slice (keys and ssh accounts are kept per node). */
static int key_call(struct cli *cli, const char *name, json_t *req, json_t **result)
{
	struct trl_error err = { 0 };
	json_t *merged = NULL, *v;
	const char *node;
	int r;

	(void)name;
	if (!cli->backend->each)
		return cli_call(cli, req, NULL, 0, result);
	r = cli_nodes_each(cli, req, &merged, NULL, &err);
	json_decref(req);
	if (r < 0)
		return cli_error(cli, &err);
	/* Keys and ssh accounts are kept per node: any node's reply says what was done. */
	*result = NULL;
	json_object_foreach(json_object_get(merged, "nodes"), node, v) {
		json_decref(*result);
		*result = json_incref(v);
	}
	json_decref(merged);
	return 0;
}

static int slice_key(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_args a = { 0 };
	struct trl_error err = { 0 };
	json_t *result = NULL, *lines = NULL, *line;
	const char *action, *name;
	size_t i;
	int status;

	if (!cli_args_parse(cli, cmd, argc, argv, &a, &status))
		goto out;
	if (a.noperands < 1) {
		status = cli_usage_error(cmd, "missing action (add, list or remove)");
		goto out;
	}
	action = a.operands[0];
	if (strcmp(action, "add") && strcmp(action, "list") && strcmp(action, "remove")) {
		status = cli_usage_error(cmd, "unknown action '%s' (add, list or remove)", action);
		goto out;
	}
	if (a.noperands < 2) {
		status = cli_usage_error(cmd, "missing slice name");
		goto out;
	}
	name = a.operands[1];
	if ((status = check_utf8(cli, a.operands + 1, 1)))
		goto out;
	if (!strcmp(action, "list")) {
		if (a.noperands > 2) {
			status = cli_usage_error(cmd, "unexpected argument '%s'", a.operands[2]);
			goto out;
		}
		if (cli->backend->each) {
			const char *node;
			json_t *v;

			status = cli->backend->each(cli, "slice.key.list", name, &result);
			if (status)
				goto out;
			print_json(result);
			json_object_foreach(json_object_get(result, "nodes"), node, v) {
				print_line("== node %s%s%s", node, json_is_string(json_object_get(v, "account")) ?
								   ", ssh account " : "",
					   json_string_value(json_object_get(v, "account")) ?: "");
				print_table(json_object_get(v, "keys"), key_cols);
			}
			goto out;
		}
		status = cli_call(cli, json_pack("{s:s, s:s}", "op", "slice.key.list", "name", name), NULL, 0,
				  &result);
		if (status)
			goto out;
		print_json(result);
		if (json_is_string(json_object_get(result, "account")))
			print_line("ssh account: %s", json_string_value(json_object_get(result, "account")));
		print_table(json_object_get(result, "keys"), key_cols);
		goto out;
	}
	if (a.noperands != 3) {
		status = a.noperands < 3 ? cli_usage_error(cmd, "missing key file ('-' reads the key from stdin)")
					 : cli_usage_error(cmd, "unexpected argument '%s'", a.operands[3]);
		goto out;
	}
	if (read_keys(a.operands[2], &lines, &err) < 0) {
		status = cli_error(cli, &err);
		goto out;
	}
	json_array_foreach(lines, i, line) {
		json_t *r = NULL;

		status = key_call(cli, name,
				  json_pack("{s:s, s:s, s:O}", "op", !strcmp(action, "add") ? "slice.key.add"
										 : "slice.key.remove",
					    "name", name, "key", line),
				  &r);
		if (status)
			goto out;
		print_json(r);
		if (!cli->quiet)
			print_line("slice '%s': ssh key %s %s", name, json_string_value(json_object_get(r, "key")) ?: "",
				   !strcmp(action, "add") ? "added" : "removed");
		json_decref(r);
	}
out:
	json_decref(lines);
	json_decref(result);
	free(a.operands);
	return status;
}

const struct cli_cmd cli_slice_cmds[] = {
	{
		.object = "slice",
		.name = "create",
		.run = slice_create,
		.synopsis = "slice create -f FILE",
		.summary = "Create a slice from a spec file",
		.help = "Reads the slice spec FILE (YAML, see trellis-slice(5); at most 4 MiB) and each\n"
			"file its config-file: entries name, relative to FILE's directory, and sends\n"
			"them to trellisd, which validates the spec and builds the slice.  Progress\n"
			"is shown on stderr, one line per step.  The new slice is then shown as\n"
			"'trellis slice show' shows it.  FILE '-' is stdin.  A containerlab topology\n"
			"(NAME.clab.yml: kind linux nodes with FRR images, their frr.conf and\n"
			"daemons binds, links) is translated into a spec first; what trellis cannot\n"
			"honour is refused, naming the field (trellis-slice(5)).\n",
		.accept = CLI_OPT_FILE | CLI_OPT_DRY_RUN,
	},
	{
		.object = "slice",
		.name = "apply",
		.run = slice_apply,
		.synopsis = "slice apply -f FILE",
		.summary = "Change a running slice to an edited spec",
		.help = "Compares the running slice with the edited spec FILE and changes only what\n"
			"differs, in place: new routers and links are built, removed ones go, a\n"
			"changed routing config is reloaded by the routing daemons (no restart),\n"
			"changed link shaping, addresses and limits are changed live, a new link's\n"
			"interfaces are added to running routers.  A router whose template, daemons,\n"
			"loopback or disk change restarts (its links flap).\n"
			"Routers and links the edit does not touch keep running.  Prints the plan\n"
			"and what it disturbs; with --dry-run that is all.  If a step fails, the\n"
			"slice is put back as it ran and its stored spec stays.  Root or the slice's\n"
			"owner only.  With --node/--nodes each node changes its part (a node that\n"
			"fails puts the others back); with --cluster the edit becomes the desired\n"
			"state and every node applies it (a failure writes the previous one back).\n",
		.accept = CLI_OPT_FILE | CLI_OPT_DRY_RUN,
	},
	{
		.object = "slice",
		.name = "list",
		.run = slice_list,
		.synopsis = "slice list",
		.summary = "List slices",
		.help = "One line per slice: NAME OWNER STATE ROUTERS LINKS CREATED.\n",
	},
	{
		.object = "slice",
		.name = "show",
		.run = slice_show,
		.synopsis = "slice show NAME",
		.summary = "Show a slice: its routers, interfaces and links",
	},
	{
		.object = "slice",
		.name = "delete",
		.run = slice_delete,
		.synopsis = "slice delete NAME",
		.summary = "Delete a slice and everything built for it",
		.help = "Deleting a slice that does not exist is not an error: trellis says so and\n"
			"exits with status 0.\n",
	},
	{
		.object = "slice",
		.name = "stats",
		.run = slice_stats,
		.synopsis = "slice stats NAME",
		.summary = "Show link counters and router CPU, memory, pids, disk",
		.help = "Packets, bytes and drops counted by the fast path on each host-side port of\n"
			"the slice's links on this node (with --node/--nodes: on every node), then\n"
			"for the slice's aggregate cgroup and each running router: CPU time used,\n"
			"periods throttled by the CPU quota, memory now/limit, OOM kills, and\n"
			"processes now/limit (from the kernel's cgroup accounting), and disk\n"
			"used/limit of a router with limits.disk (its rootfs file system).\n",
	},
	{
		.object = "slice",
		.name = "set",
		.run = slice_set,
		.synopsis = "slice set NAME [--router R] LIMIT...",
		.summary = "Change a slice's or a router's limits while it runs",
		.help = "LIMIT is one or more of --cpu, --cpu-weight, --memory, --pids, --bandwidth\n"
			"and --ceil.  --bandwidth/--ceil change the slice's share of each node's\n"
			"substrate (its HTB class, changed in place; 'none' removes the share).\n"
			"Without --router the slice's aggregate limits change (its parent cgroup,\n"
			"shared by all its routers on the node); with --router that router's own.\n"
			"Only the limits given change; values as in a spec (trellis-slice(5)).  The\n"
			"daemon writes them to the kernel, reads them back, and on any failure puts\n"
			"the previous values back.  A router cannot get more than its slice, and a\n"
			"change that would promise more CPU or memory than the node has is refused.\n"
			"Root or the slice's owner only.\n",
		.accept = CLI_OPT_LIMITS,
	},
	{
		.object = "slice",
		.name = "exec",
		.run = slice_exec,
		.synopsis = "slice exec NAME ROUTER -- CMD [ARG...]",
		.summary = "Run a command inside a router",
		.help = "Runs CMD inside router ROUTER of slice NAME on this process's stdin, stdout\n"
			"and stderr, and exits with the command's exit status (128+N if a signal N\n"
			"killed it).  Options for trellis go before '--'; the '--' may be left out\n"
			"when CMD does not start with '-'.\n",
	},
	{
		.object = "slice",
		.name = "login",
		.run = slice_login,
		.synopsis = "slice login NAME ROUTER",
		.summary = "Open a login shell inside a router",
		.help = "Runs a login shell inside router ROUTER of slice NAME on this terminal and\n"
			"exits with its exit status.  Needs a terminal on stdin; without one, use\n"
			"'trellis slice exec'.\n",
		.accept = CLI_OPT_SHELL,
	},
	{
		.object = "slice",
		.name = "key",
		.run = slice_key,
		.synopsis = "slice key add|list|remove NAME [FILE]",
		.summary = "Manage the ssh keys that may log into a slice",
		.help = "add registers each public key in FILE ('-': stdin; lines as in a .pub or\n"
			"authorized_keys file, without options) for slice NAME; remove unregisters them;\n"
			"list shows the keys.  With a registered key, 'ssh NAME@NODE [ROUTER] [CMD]'\n"
			"logs into a router of the slice (trellisd.conf(5): ssh-login).  Only the\n"
			"slice's owner and root may add or remove keys.  Keys are kept per node: with\n"
			"--node/--nodes, add and remove go to every node that has the slice.\n",
	},
	/* slice graph, slice save: cli/graph.c, cli/save.c */
	{
		.object = "slice",
		.name = "graph",
		.run = cli_slice_graph,
		.synopsis = "slice graph NAME [--format F] [--stats]",
		.summary = "Draw a slice: routers by node, links with addresses and shaping",
		.help = "Prints the slice's topology as Graphviz DOT (the default), as a Mermaid\n"
			"flowchart (pastes into Markdown renderers), or as SVG drawn by Graphviz's\n"
			"dot(1), which must be installed (Debian package graphviz).  Routers are\n"
			"grouped by the node they run on; each link is labelled with the interfaces\n"
			"and addresses of its ends, its shaping and its state.  --stats adds each\n"
			"direction's current rate (sampled over half a second by trellisd) and the\n"
			"link's drops so far.  Anyone who may see the slice may draw it.\n",
		.accept = CLI_OPT_GRAPH,
	},
	{
		.object = "slice",
		.name = "save",
		.run = cli_slice_save,
		.synopsis = "slice save NAME [-o DIR]",
		.summary = "Write a spec and router configs that recreate a slice as it runs",
		.help = "Writes DIR/NAME.yaml and DIR/ROUTER.conf for each FRR or BIRD router: the\n"
			"FRR routers' running configuration (vtysh 'show running-config'), the BIRD\n"
			"routers' /etc/bird/spec.conf, and in the spec the links' shaping and the\n"
			"limits as they are now (after 'link set' and 'slice set').  'trellis slice\n"
			"create -f DIR/NAME.yaml' builds the slice again.  Every FRR or BIRD router\n"
			"must be running.  Anyone who may exec in the slice may save it.\n",
		.accept = CLI_OPT_SAVE,
	},
	{ .name = NULL },
};
