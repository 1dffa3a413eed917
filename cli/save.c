/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: trellis slice save
 *
 * Writes DIR/SLICE.yaml and DIR/ROUTER.conf for each router with a config,
 * so that 'trellis slice create -f DIR/SLICE.yaml' builds the slice as it
 * runs now.  Everything comes through the daemon, with the caller's rights:
 *
 *  - the spec from slice.show, which reports the live state: link shaping
 *    after 'link set', limits after 'slice set', the slice's bandwidth; every
 *    router gets its effective limits written out (router-defaults are
 *    folded in), and FRR routers their daemon list;
 *  - each FRR router's running configuration, from vtysh -c 'show
 *    running-config' run with slice.exec (vtysh's "Building configuration"
 *    preamble dropped); a BIRD router's configuration file
 *    /etc/bird/spec.conf, read with cat the same way (BIRD has no running-
 *    config dump; its file is what 'birdc configure' applies).
 *
 * exec's output goes to a memfd, not a pipe: the daemon holds our reply
 * until the command is done, so a pipe we only read afterwards could fill.
 * A link taken down is written as a comment with the command that takes it
 * down again: the spec has no key for it.  Values are written exactly (bit/s,
 * bytes, microseconds, ppm scaled without rounding); strings from the slice
 * as YAML double-quoted scalars (JSON's escapes are YAML's).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "print.h"
#include "views.h"

#define CONFIG_MAX (4u << 20)	/* what slice create accepts for one config file */

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static uint64_t u64(json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 ? (uint64_t)v : 0;
}

/* A YAML double-quoted scalar. */
static void put_quoted(FILE *f, const char *s)
{
	json_t *j = json_string(s);
	char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

	fputs(q ? q : "\"\"", f);
	free(q);
	json_decref(j);
}

static void put_rate(FILE *f, const char *key, uint64_t bps)
{
	if (bps % 1000000000 == 0)
		fprintf(f, "%s: %llugbit", key, (unsigned long long)(bps / 1000000000));
	else if (bps % 1000000 == 0)
		fprintf(f, "%s: %llumbit", key, (unsigned long long)(bps / 1000000));
	else if (bps % 1000 == 0)
		fprintf(f, "%s: %llukbit", key, (unsigned long long)(bps / 1000));
	else
		fprintf(f, "%s: %llubit", key, (unsigned long long)bps);
}

static void put_size(FILE *f, const char *key, uint64_t b)
{
	if (b % (1ULL << 30) == 0)
		fprintf(f, "%s: %lluG", key, (unsigned long long)(b >> 30));
	else if (b % (1ULL << 20) == 0)
		fprintf(f, "%s: %lluM", key, (unsigned long long)(b >> 20));
	else if (b % 1024 == 0)
		fprintf(f, "%s: %lluk", key, (unsigned long long)(b >> 10));
	else
		fprintf(f, "%s: %llu", key, (unsigned long long)b);
}

static void put_time(FILE *f, const char *key, uint64_t us)
{
	if (us % 1000 == 0)
		fprintf(f, "%s: %llums", key, (unsigned long long)(us / 1000));
	else
		fprintf(f, "%s: %lluus", key, (unsigned long long)us);
}

/* "limits: {cpu: 0.5, memory: 256M}" on one line, or nothing when none is set. */
static void put_limits(FILE *f, const char *indent, json_t *l, int with_disk)
{
	const char *sep = "";
	double cpu = json_number_value(json_object_get(l, "cpu"));

	if (cpu <= 0 && !u64(l, "cpu_weight") && !u64(l, "memory") && !u64(l, "pids") &&
	    !(with_disk && u64(l, "disk")))
		return;
	fprintf(f, "%slimits: {", indent);
	if (cpu > 0) {
		fprintf(f, "cpu: %.6g", cpu);
		sep = ", ";
	}
	if (u64(l, "cpu_weight")) {
		fprintf(f, "%scpu-weight: %llu", sep, (unsigned long long)u64(l, "cpu_weight"));
		sep = ", ";
	}
	if (u64(l, "memory")) {
		fputs(sep, f);
		put_size(f, "memory", u64(l, "memory"));
		sep = ", ";
	}
	if (u64(l, "pids")) {
		fprintf(f, "%spids: %llu", sep, (unsigned long long)u64(l, "pids"));
		sep = ", ";
	}
	if (with_disk && u64(l, "disk")) {
		fputs(sep, f);
		put_size(f, "disk", u64(l, "disk"));
	}
	fputs("}\n", f);
}

static void put_list(FILE *f, const char *indent, const char *key, json_t *items)
{
	json_t *v;
	size_t i;

	if (!json_array_size(items))
		return;
	fprintf(f, "%s%s: [", indent, key);
	json_array_foreach(items, i, v) {
		if (i)
			fputs(", ", f);
		put_quoted(f, json_string_value(v) ? json_string_value(v) : "");
	}
	fputs("]\n", f);
}

/* Run @argv in @router with stdout and stderr in memfds; *out gets stdout (malloc'd). */
static int exec_capture(struct cli *cli, const char *slice, const char *router, json_t *argv, char **out,
			struct trl_error *err)
{
	int fds[3] = { -1, -1, -1 }, status, r = 0;
	json_t *result = NULL, *code;
	struct stat st;
	char *buf = NULL;

	*out = NULL;
	fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fds[1] = memfd_create("trellis-save-out", MFD_CLOEXEC);
	fds[2] = memfd_create("trellis-save-err", MFD_CLOEXEC);
	if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0) {
		r = trl_error_errno(err, TRL_EFAILED, errno, "router '%s': cannot make a buffer for its output", router);
		json_decref(argv);
		goto out;
	}
	if (cli->n_nodes && (status = cli_multi_route(cli, slice, router))) {
		r = trl_error_set(err, TRL_EFAILED, "router '%s': no node runs it", router);
		json_decref(argv);
		goto out;
	}
	status = cli_request(cli, cli->socket,
			     json_pack("{s:s, s:s, s:s, s:o, s:b}", "op", "slice.exec", "name", slice, "router", router,
				       "argv", argv, "tty", 0),
			     fds, 3, &result, err);
	if (status) {
		r = -TRL_EFAILED;
		goto out;
	}
	code = json_object_get(result, "exit");
	for (int i = 1; i <= 2; i++) {
		off_t size = fstat(fds[i], &st) == 0 ? st.st_size : 0;
		ssize_t n;

		if (size > CONFIG_MAX) {
			r = trl_error_set(err, TRL_ELIMIT, "router '%s': its configuration is over %u bytes", router,
					  CONFIG_MAX);
			goto out;
		}
		free(buf);
		buf = calloc(1, (size_t)size + 1);
		if (!buf) {
			r = trl_error_set(err, TRL_EFAILED, "out of memory");
			goto out;
		}
		n = size ? pread(fds[i], buf, (size_t)size, 0) : 0;
		if (n < 0) {
			r = trl_error_errno(err, TRL_EFAILED, errno, "router '%s': cannot read its output", router);
			goto out;
		}
		buf[n] = '\0';
		if (i == 1 && json_integer_value(code) == 0 && json_is_integer(code)) {
			*out = buf;
			buf = NULL;
			break;
		}
		if (i == 2) {
			char *nl = strchr(buf, '\n');

			if (nl)
				*nl = '\0';
			r = trl_error_set(err, TRL_EFAILED, "router '%s': exit status %" JSON_INTEGER_FORMAT "%s%s", router,
					  json_integer_value(code), buf[0] ? ": " : "", buf);
		}
	}
out:
	free(buf);
	json_decref(result);
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return r;
}

/* vtysh's running configuration minus its preamble ("Building configuration...", "Current configuration:"). */
static void frr_strip(char *text)
{
	char *p = text;

	for (;;) {
		char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (!(n == 0 || !strncmp(p, "Building configuration...", n) || !strncmp(p, "Current configuration:", n) ||
		      (n == 1 && *p == '!')) ||
		    !nl)
			break;
		p = nl + 1;
	}
	memmove(text, p, strlen(p) + 1);
}

static int write_file(int dirfd, const char *dir, const char *name, const char *text, mode_t mode, struct trl_error *err)
{
	size_t len = strlen(text), off = 0;
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0)
		return trl_error_errno(err, TRL_EFAILED, errno, "cannot write '%s/%s'", dir, name);
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			trl_error_errno(err, TRL_EFAILED, errno, "cannot write '%s/%s'", dir, name);
			close(fd);
			return -TRL_EFAILED;
		}
		off += (size_t)n;
	}
	if (close(fd) < 0)
		return trl_error_errno(err, TRL_EFAILED, errno, "cannot write '%s/%s'", dir, name);
	return 0;
}

/* The addresses of endpoint @e of @link of family v6 (1) or v4 (0), from the routers' interfaces. */
static json_t *end_addrs(json_t *slice, json_t *link, int e, int v6)
{
	const char *ep = json_string_value(json_array_get(json_object_get(link, "endpoints"), (size_t)e));
	const char *colon = ep ? strchr(ep, ':') : NULL;
	json_t *out = json_array(), *r, *ifc, *a;
	size_t i, j, k;

	if (!colon)
		return out;
	json_array_foreach(json_object_get(slice, "routers"), i, r) {
		if (strlen(str(r, "name")) != (size_t)(colon - ep) || strncmp(str(r, "name"), ep, (size_t)(colon - ep)))
			continue;
		json_array_foreach(json_object_get(r, "interfaces"), j, ifc) {
			if (strcmp(str(ifc, "name"), colon + 1) || strcmp(str(ifc, "link"), str(link, "name")))
				continue;
			json_array_foreach(json_object_get(ifc, "addresses"), k, a)
				if (json_string_value(a) && !!strchr(json_string_value(a), ':') == v6)
					json_array_append(out, a);
		}
	}
	return out;
}

static void put_link(FILE *f, json_t *slice, json_t *link)
{
	json_t *sh = json_object_get(link, "shape");
	uint64_t loss = u64(sh, "loss_ppm");

	fputs("  - endpoints: [", f);
	put_quoted(f, json_string_value(json_array_get(json_object_get(link, "endpoints"), 0)) ?: "");
	fputs(", ", f);
	put_quoted(f, json_string_value(json_array_get(json_object_get(link, "endpoints"), 1)) ?: "");
	fputs("]\n", f);
	for (int v6 = 0; v6 < 2; v6++) {
		json_t *a = end_addrs(slice, link, 0, v6), *b = end_addrs(slice, link, 1, v6);

		/* A link family has one address per end (trellis-slice(5)). */
		if (json_array_size(a) == 1 && json_array_size(b) == 1) {
			json_t *both = json_pack("[O, O]", json_array_get(a, 0), json_array_get(b, 0));

			put_list(f, "    ", v6 ? "ipv6" : "ipv4", both);
			json_decref(both);
		}
		json_decref(a);
		json_decref(b);
	}
	if (u64(sh, "rate")) {
		fputs("    ", f);
		put_rate(f, "rate", u64(sh, "rate"));
		fputc('\n', f);
	}
	if (u64(sh, "ceil")) {
		fputs("    ", f);
		put_rate(f, "ceil", u64(sh, "ceil"));
		fputc('\n', f);
	}
	if (u64(sh, "burst")) {
		fputs("    ", f);
		put_size(f, "burst", u64(sh, "burst"));
		fputc('\n', f);
	}
	if (loss) {	/* ppm / 10000 = percent, exactly: at most four decimals */
		char frac[8];
		int n = snprintf(frac, sizeof(frac), "%04llu", (unsigned long long)(loss % 10000));

		while (n > 0 && frac[n - 1] == '0')
			frac[--n] = '\0';
		fprintf(f, "    loss: %llu%s%s%%\n", (unsigned long long)(loss / 10000), n ? "." : "", frac);
	}
	if (u64(sh, "delay_us")) {
		fputs("    ", f);
		put_time(f, "delay", u64(sh, "delay_us"));
		fputc('\n', f);
	}
	if (u64(sh, "jitter_us")) {
		fputs("    ", f);
		put_time(f, "jitter", u64(sh, "jitter_us"));
		fputc('\n', f);
	}
	if (!strcmp(str(link, "state"), "admin-down"))
		fprintf(f, "    # taken down when saved: trellis link down %s %s\n", str(slice, "name"), str(link, "name"));
}

/* More than one node among the routers: then every router names its node. */
static int multi_node(json_t *slice)
{
	json_t *r;
	size_t i;

	json_array_foreach(json_object_get(slice, "routers"), i, r)
		if (strcmp(str(r, "node"), str(json_array_get(json_object_get(slice, "routers"), 0), "node")))
			return 1;
	return 0;
}

static int write_spec(FILE *f, json_t *slice, json_t *configs)
{
	json_t *r, *l, *bw = json_object_get(slice, "bandwidth");
	int multi = multi_node(slice);
	char when[32];
	time_t now = time(NULL);
	size_t i;

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime(&now));
	fprintf(f, "# Saved by 'trellis slice save' at %s UTC from slice '%s' as it ran.\n", when, str(slice, "name"));
	fputs("# Recreate it with: trellis slice create -f THIS-FILE\n", f);
	fprintf(f, "slice: %s\n", str(slice, "name"));
	if (*str(slice, "owner")) {
		fputs("owner: ", f);
		put_quoted(f, str(slice, "owner"));
		fputc('\n', f);
	}
	if (*str(slice, "description")) {
		fputs("description: ", f);
		put_quoted(f, str(slice, "description"));
		fputc('\n', f);
	}
	if (json_is_true(json_object_get(slice, "persist")))
		fputs("persist: true\n", f);
	if (*str(slice, "tunnel"))
		fprintf(f, "tunnel: %s\n", str(slice, "tunnel"));
	if (u64(bw, "rate")) {
		fputs("bandwidth: {", f);
		put_rate(f, "rate", u64(bw, "rate"));
		if (u64(bw, "ceil")) {
			fputs(", ", f);
			put_rate(f, "ceil", u64(bw, "ceil"));
		}
		fputs("}\n", f);
	}
	put_limits(f, "", json_object_get(slice, "limits"), 0);
	fputs("\nrouters:\n", f);
	json_array_foreach(json_object_get(slice, "routers"), i, r) {
		const char *name = str(r, "name");
		int frr = !strcmp(str(r, "template"), "frr");

		fprintf(f, "  %s:\n", name);
		fprintf(f, "    template: %s\n", str(r, "template"));
		if (multi)
			fprintf(f, "    node: %s\n", str(r, "node"));
		put_list(f, "    ", "loopback", json_object_get(r, "loopback"));
		if (frr) {
			/* Written even when empty: [] runs only zebra, as now. */
			json_t *d = json_object_get(r, "daemons");
			json_t *v;
			size_t k;

			fputs("    daemons: [", f);
			json_array_foreach(d, k, v)
				fprintf(f, "%s%s", k ? ", " : "", json_string_value(v) ?: "");
			fputs("]\n", f);
		}
		put_limits(f, "    ", json_object_get(r, "limits"), 1);
		if (json_object_get(configs, name))
			fprintf(f, "    config-file: %s.conf\n", name);
	}
	if (json_array_size(json_object_get(slice, "links")))
		fputs("\nlinks:\n", f);
	json_array_foreach(json_object_get(slice, "links"), i, l)
		put_link(f, slice, l);
	return ferror(f) ? -EIO : 0;
}

int cli_slice_save(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct view_args va = { .accept = VIEW_OPT_OUTPUT };
	struct trl_error err = { 0 };
	json_t *slice = NULL, *configs = json_object(), *r, *files = json_array();
	const char *dir, *key;
	char *spec = NULL, specname[64], *text;
	size_t speclen = 0, i;
	int status, dirfd = -1;
	FILE *f;

	if (!view_args_parse(cli, cmd, argc, argv, &va, &status))
		goto out;
	dir = va.output ? va.output : va.name;
	if ((status = view_show(cli, va.name, &slice)))
		goto out;
	json_array_foreach(json_object_get(slice, "routers"), i, r) {
		const char *name = str(r, "name"), *tpl = str(r, "template");
		json_t *args;

		/* The name becomes a file name: only what the spec allows (trellis-slice(5), NAMES). */
		if (!*name || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(name) || strlen(name) > 15) {
			trl_error_set(&err, TRL_EPROTO, "slice '%s': trellisd reported a router named '%s'", va.name, name);
			status = cli_error(cli, &err);
			goto out;
		}
		if (!strcmp(tpl, "frr"))
			args = json_pack("[s, s, s]", "vtysh", "-c", "show running-config");
		else if (!strcmp(tpl, "bird"))
			args = json_pack("[s, s]", "cat", "/etc/bird/spec.conf");
		else
			continue;	/* plain and other templates: no routing config of ours */
		if (strcmp(str(r, "state"), "running")) {
			trl_error_set(&err, TRL_EFAILED, "slice '%s': router '%s' is %s, not running: its configuration cannot be read",
				      va.name, name, *str(r, "state") ? str(r, "state") : "in an unknown state");
			status = cli_error(cli, &err);
			goto out;
		}
		if (!cli->quiet && !cli->json)
			fprintf(stderr, "  [save] router '%s': %s\n", name,
				!strcmp(tpl, "frr") ? "vtysh -c 'show running-config'" : "cat /etc/bird/spec.conf");
		if (exec_capture(cli, va.name, name, args, &text, &err) < 0) {
			trl_error_prefix(&err, "slice '%s'", va.name);
			status = cli_error(cli, &err);
			goto out;
		}
		if (!strcmp(tpl, "frr"))
			frr_strip(text);
		if (*text && text[strlen(text) - 1] != '\n')
			json_object_set_new(configs, name, json_sprintf("%s\n", text));
		else
			json_object_set_new(configs, name, json_string(text));
		free(text);
	}
	f = open_memstream(&spec, &speclen);
	if (!f || write_spec(f, slice, configs) < 0 || fclose(f) != 0) {
		trl_error_set(&err, TRL_EFAILED, "out of memory");
		status = cli_error(cli, &err);
		goto out;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		trl_error_errno(&err, TRL_EFAILED, errno, "cannot create directory '%s'", dir);
		status = cli_error(cli, &err);
		goto out;
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		trl_error_errno(&err, TRL_EFAILED, errno, "cannot open directory '%s'", dir);
		status = cli_error(cli, &err);
		goto out;
	}
	snprintf(specname, sizeof(specname), "%s.yaml", va.name);
	/* Configs may hold secrets (BGP passwords): readable by their owner only. */
	json_object_foreach(configs, key, r) {
		char fname[64];

		snprintf(fname, sizeof(fname), "%s.conf", key);
		if (write_file(dirfd, dir, fname, json_string_value(r), 0600, &err) < 0) {
			status = cli_error(cli, &err);
			goto out;
		}
		json_array_append_new(files, json_sprintf("%s/%s", dir, fname));
	}
	if (write_file(dirfd, dir, specname, spec, 0644, &err) < 0) {
		status = cli_error(cli, &err);
		goto out;
	}
	json_array_insert_new(files, 0, json_sprintf("%s/%s", dir, specname));
	if (cli->json) {
		json_t *o = json_pack("{s:s, s:s, s:O}", "name", va.name, "directory", dir, "files", files);

		print_json(o);
		json_decref(o);
	} else if (!cli->quiet) {
		json_t *v;

		json_array_foreach(files, i, v)
			printf("%s\n", json_string_value(v));
	}
	status = 0;
out:
	if (dirfd >= 0)
		close(dirfd);
	free(spec);
	json_decref(slice);
	json_decref(configs);
	json_decref(files);
	return status;
}
