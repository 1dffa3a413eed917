/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: topology pictures (DOT and Mermaid)
 *
 * graph_render() walks a slice.show result once per format.  Every label is
 * first built as a JSON array of plain lines (router: name, template, state
 * when not running, loopbacks; link: each end's interface and addresses,
 * shaping, state, and with stats each direction's rate and the drops), then
 * written through the format's escaper, which is the only place that knows
 * the format's quoting: DOT double-quoted strings (backslash and quote
 * escaped, lines joined with the \n escape), Mermaid quoted labels (the
 * characters Mermaid or its HTML labels treat specially as #NN; entities,
 * lines joined with <br/>).  The slice's strings come from tenants, so
 * nothing is written unescaped except identifiers we derive ourselves.
 *
 * Routers are grouped by their node: DOT clusters, Mermaid subgraphs, in the
 * order the nodes first appear among the routers.  Links that are not up
 * are dashed.  The output depends only on the JSON (no clocks, no keys, no
 * PIDs), so it can be compared against golden files.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "graph.h"
#include "units.h"

int graph_format_parse(const char *name, enum graph_format *fmt)
{
	if (!strcmp(name, "dot"))
		*fmt = GRAPH_DOT;
	else if (!strcmp(name, "mermaid"))
		*fmt = GRAPH_MERMAID;
	else
		return -EINVAL;
	return 0;
}

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

static void add_line(json_t *lines, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_line(json_t *lines, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(lines, json_string(buf));
}

/* One line of a label, escaped for @fmt.  Control characters become spaces. */
static void put_escaped(FILE *f, enum graph_format fmt, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f) {
			fputc(' ', f);
		} else if (fmt == GRAPH_DOT) {
			if (c == '"' || c == '\\')
				fputc('\\', f);
			fputc(c, f);
		} else if (strchr("\"#&<>|`", c)) {
			fprintf(f, "#%d;", c);
		} else {
			fputc(c, f);
		}
	}
}

/* A quoted label from @lines. */
static void put_label(FILE *f, enum graph_format fmt, json_t *lines)
{
	json_t *l;
	size_t i;

	fputc('"', f);
	json_array_foreach(lines, i, l) {
		if (i)
			fputs(fmt == GRAPH_DOT ? "\\n" : "<br/>", f);
		put_escaped(f, fmt, json_string_value(l));
	}
	fputc('"', f);
}

/* A Mermaid identifier for a router or a node: @prefix + name, [A-Za-z0-9_] only. */
static void put_id(FILE *f, const char *prefix, const char *name)
{
	fputs(prefix, f);
	for (; *name; name++)
		fputc((*name >= 'a' && *name <= 'z') || (*name >= 'A' && *name <= 'Z') || (*name >= '0' && *name <= '9')
			      ? *name
			      : '_',
		      f);
}

static void router_lines(json_t *router, json_t *lines)
{
	const char *state = str(router, "state");
	json_t *a;
	size_t i;

	add_line(lines, "%s", str(router, "name"));
	if (strcmp(state, "running") && strcmp(state, "remote") && *state)
		add_line(lines, "%s (%s)", str(router, "template"), state);
	else
		add_line(lines, "%s", str(router, "template"));
	json_array_foreach(json_object_get(router, "loopback"), i, a)
		add_line(lines, "lo %s", json_string_value(a) ? json_string_value(a) : "");
}

/* "eth1 10.0.12.1/24 fd00::1/64" for endpoint "r1:eth1" of link @link. */
static void end_text(json_t *slice, const char *link, const char *endpoint, char *buf, size_t len)
{
	const char *colon = strchr(endpoint, ':');
	size_t rlen = colon ? (size_t)(colon - endpoint) : strlen(endpoint);
	const char *ifname = colon ? colon + 1 : "";
	json_t *r, *ifc, *a;
	size_t i, j, k;

	snprintf(buf, len, "%s", ifname);
	json_array_foreach(json_object_get(slice, "routers"), i, r) {
		if (strlen(str(r, "name")) != rlen || strncmp(str(r, "name"), endpoint, rlen))
			continue;
		json_array_foreach(json_object_get(r, "interfaces"), j, ifc) {
			if (strcmp(str(ifc, "name"), ifname) || strcmp(str(ifc, "link"), link))
				continue;
			json_array_foreach(json_object_get(ifc, "addresses"), k, a) {
				size_t n = strlen(buf);

				snprintf(buf + n, len - n, " %s", json_string_value(a) ? json_string_value(a) : "");
			}
		}
	}
}

/* "100Mbit ceil 200Mbit, loss 1%, delay 10ms~2ms" or "unshaped". */
static void shape_text(json_t *link, char *buf, size_t len)
{
	json_t *sh = json_object_get(link, "shape");
	uint64_t rate = u64(sh, "rate"), ceil = u64(sh, "ceil"), burst = u64(sh, "burst");
	uint64_t loss = u64(sh, "loss_ppm"), delay = u64(sh, "delay_us"), jitter = u64(sh, "jitter_us");
	char a[32], b[32];
	size_t n;

	if (!json_is_object(sh))
		rate = u64(link, "rate");
	if (rate) {
		units_rate_format(rate, a, sizeof(a));
		snprintf(buf, len, "%s", a);
	} else {
		snprintf(buf, len, "unshaped");
	}
	if (ceil) {
		units_rate_format(ceil, a, sizeof(a));
		n = strlen(buf);
		snprintf(buf + n, len - n, " ceil %s", a);
	}
	if (burst) {
		units_size_format(burst, a, sizeof(a));
		n = strlen(buf);
		snprintf(buf + n, len - n, " burst %s", a);
	}
	if (loss) {
		units_percent_format((uint32_t)loss, a, sizeof(a));
		n = strlen(buf);
		snprintf(buf + n, len - n, ", loss %s", a);
	}
	if (delay) {
		units_time_format(delay, a, sizeof(a));
		units_time_format(jitter, b, sizeof(b));
		n = strlen(buf);
		snprintf(buf + n, len - n, ", delay %s%s%s", a, jitter ? "~" : "", jitter ? b : "");
	}
}

static json_t *stats_link(json_t *stats, const char *name)
{
	json_t *l;
	size_t i;

	json_array_foreach(json_object_get(stats, "links"), i, l)
		if (!strcmp(str(l, "name"), name))
			return l;
	return NULL;
}

/* Each direction's current rate, then the drops (shaper and fast path) of the link on this node. */
static void stats_lines(json_t *sl, json_t *lines)
{
	uint64_t drops = 0;
	json_t *d, *p;
	size_t i;
	char a[32];

	json_array_foreach(json_object_get(sl, "directions"), i, d) {
		const char *from = str(d, "from"), *to = str(d, "to");
		const char *fc = strchr(from, ':'), *tc = strchr(to, ':');

		units_rate_format(u64(d, "rate_now"), a, sizeof(a));
		add_line(lines, "%.*s → %.*s %s/s", fc ? (int)(fc - from) : (int)strlen(from), from,
			 tc ? (int)(tc - to) : (int)strlen(to), to, a);
		drops += u64(d, "drops");
	}
	json_array_foreach(json_object_get(sl, "ports"), i, p)
		drops += u64(p, "drops");
	add_line(lines, "drops %llu", (unsigned long long)drops);
}

/* Label lines of a link: each end ("eth1 10.0.12.1/24", with @full "r1:eth1 ..."), and the middle. */
static void link_lines(json_t *slice, json_t *stats, json_t *link, int full, json_t *ends[2], json_t *mid)
{
	const char *name = str(link, "name");
	json_t *ep = json_object_get(link, "endpoints");
	char buf[512];

	for (int e = 0; e < 2; e++) {
		const char *endpoint = json_string_value(json_array_get(ep, (size_t)e));

		end_text(slice, name, endpoint ? endpoint : "", buf, sizeof(buf));
		if (full && endpoint && strchr(endpoint, ':'))
			add_line(ends[e], "%.*s:%s", (int)(strchr(endpoint, ':') - endpoint), endpoint, buf);
		else
			add_line(ends[e], "%s", buf);
	}
	shape_text(link, buf, sizeof(buf));
	add_line(mid, "%s", buf);
	add_line(mid, "%s", *str(link, "state") ? str(link, "state") : "unknown");
	if (stats && stats_link(stats, name))
		stats_lines(stats_link(stats, name), mid);
}

/* The router names at both ends of @link; 0 if it has two. */
static int link_routers(json_t *link, char r[2][64])
{
	json_t *ep = json_object_get(link, "endpoints");

	for (int e = 0; e < 2; e++) {
		const char *s = json_string_value(json_array_get(ep, (size_t)e));
		const char *colon = s ? strchr(s, ':') : NULL;

		if (!colon || colon - s >= 64)
			return -EINVAL;
		snprintf(r[e], 64, "%.*s", (int)(colon - s), s);
	}
	return 0;
}

/* The distinct nodes of the routers, in order of first appearance. */
static json_t *node_list(json_t *slice)
{
	json_t *nodes = json_array(), *r, *n;
	size_t i, j;

	json_array_foreach(json_object_get(slice, "routers"), i, r) {
		int seen = 0;

		json_array_foreach(nodes, j, n)
			seen |= !strcmp(json_string_value(n), str(r, "node"));
		if (!seen)
			json_array_append_new(nodes, json_string(str(r, "node")));
	}
	return nodes;
}

static void title_lines(json_t *slice, json_t *lines)
{
	if (*str(slice, "description"))
		add_line(lines, "slice %s: %s", str(slice, "name"), str(slice, "description"));
	else
		add_line(lines, "slice %s", str(slice, "name"));
}

static void render_dot(FILE *f, json_t *slice, json_t *stats)
{
	json_t *nodes = node_list(slice), *n, *r, *l, *lines;
	size_t i, j;

	fputs("graph ", f);
	lines = json_array();
	add_line(lines, "%s", str(slice, "name"));
	put_label(f, GRAPH_DOT, lines);
	json_decref(lines);
	fputs(" {\n\tgraph [labelloc=t, fontname=\"Helvetica\", label=", f);
	lines = json_array();
	title_lines(slice, lines);
	put_label(f, GRAPH_DOT, lines);
	json_decref(lines);
	fputs("];\n\tnode [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", fontname=\"Helvetica\"];\n"
	      "\tedge [fontname=\"Helvetica\", fontsize=10];\n",
	      f);
	json_array_foreach(nodes, i, n) {
		fprintf(f, "\tsubgraph \"cluster_%zu\" {\n\t\tstyle=rounded;\n\t\tlabel=", i);
		lines = json_array();
		add_line(lines, "node %s", json_string_value(n));
		put_label(f, GRAPH_DOT, lines);
		json_decref(lines);
		fputs(";\n", f);
		json_array_foreach(json_object_get(slice, "routers"), j, r) {
			const char *state = str(r, "state");

			if (strcmp(str(r, "node"), json_string_value(n)))
				continue;
			lines = json_array();
			add_line(lines, "%s", str(r, "name"));
			fputs("\t\t", f);
			put_label(f, GRAPH_DOT, lines);
			json_array_clear(lines);
			router_lines(r, lines);
			fputs(" [label=", f);
			put_label(f, GRAPH_DOT, lines);
			json_decref(lines);
			if (strcmp(state, "running") && strcmp(state, "remote"))
				fputs(", fillcolor=\"#dddddd\"", f);
			fputs("];\n", f);
		}
		fputs("\t}\n", f);
	}
	json_array_foreach(json_object_get(slice, "links"), i, l) {
		json_t *ends[2] = { json_array(), json_array() }, *mid = json_array();
		char rn[2][64];

		if (link_routers(l, rn) == 0) {
			link_lines(slice, stats, l, 0, ends, mid);
			for (int e = 0; e < 2; e++) {
				lines = json_array();
				add_line(lines, "%s", rn[e]);
				fputs(e ? " -- " : "\t", f);
				put_label(f, GRAPH_DOT, lines);
				json_decref(lines);
			}
			fputs(" [taillabel=", f);
			put_label(f, GRAPH_DOT, ends[0]);
			fputs(", headlabel=", f);
			put_label(f, GRAPH_DOT, ends[1]);
			fputs(", label=", f);
			put_label(f, GRAPH_DOT, mid);
			if (strcmp(str(l, "state"), "up") && strcmp(str(l, "state"), "remote"))
				fputs(", style=dashed, color=\"#c0392b\"", f);
			fputs("];\n", f);
		}
		json_decref(ends[0]);
		json_decref(ends[1]);
		json_decref(mid);
	}
	fputs("}\n", f);
	json_decref(nodes);
}

static void render_mermaid(FILE *f, json_t *slice, json_t *stats)
{
	json_t *nodes = node_list(slice), *n, *r, *l, *lines;
	size_t i, j;

	/* A comment, not a title: front matter is not understood everywhere. */
	lines = json_array();
	title_lines(slice, lines);
	fputs("%% ", f);
	for (const char *c = json_string_value(json_array_get(lines, 0)); c && *c; c++)
		fputc((unsigned char)*c < 0x20 || *c == 0x7f ? ' ' : *c, f);
	fputs("\nflowchart LR\n", f);
	json_decref(lines);
	json_array_foreach(nodes, i, n) {
		fprintf(f, "\tsubgraph node%zu[", i);
		lines = json_array();
		add_line(lines, "node %s", json_string_value(n));
		put_label(f, GRAPH_MERMAID, lines);
		json_decref(lines);
		fputs("]\n", f);
		json_array_foreach(json_object_get(slice, "routers"), j, r) {
			if (strcmp(str(r, "node"), json_string_value(n)))
				continue;
			lines = json_array();
			router_lines(r, lines);
			fputs("\t\t", f);
			put_id(f, "r_", str(r, "name"));
			fputc('[', f);
			put_label(f, GRAPH_MERMAID, lines);
			fputs("]\n", f);
			json_decref(lines);
		}
		fputs("\tend\n", f);
	}
	json_array_foreach(json_object_get(slice, "links"), i, l) {
		json_t *ends[2] = { json_array(), json_array() }, *mid = json_array();
		char rn[2][64];

		if (link_routers(l, rn) == 0) {
			link_lines(slice, stats, l, 1, ends, mid);
			/* No tail/head labels in Mermaid: both ends go into the one label. */
			lines = json_array();
			json_array_extend(lines, ends[0]);
			json_array_extend(lines, mid);
			json_array_extend(lines, ends[1]);
			fputc('\t', f);
			put_id(f, "r_", rn[0]);
			fputs(strcmp(str(l, "state"), "up") && strcmp(str(l, "state"), "remote") ? " -.-|" : " ---|", f);
			put_label(f, GRAPH_MERMAID, lines);
			fputs("| ", f);
			put_id(f, "r_", rn[1]);
			fputc('\n', f);
			json_decref(lines);
		}
		json_decref(ends[0]);
		json_decref(ends[1]);
		json_decref(mid);
	}
	json_decref(nodes);
}

int graph_render(json_t *slice, json_t *stats, enum graph_format fmt, char **out, struct trl_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	*out = NULL;
	if (!json_is_object(slice) || !json_is_array(json_object_get(slice, "routers")))
		return trl_error_set(err, TRL_EPROTO, "graph: the slice has no 'routers' array");
	f = open_memstream(&buf, &len);
	if (!f)
		return trl_error_errno(err, TRL_EFAILED, errno, "graph: cannot open a memory stream");
	if (fmt == GRAPH_DOT)
		render_dot(f, slice, json_is_object(stats) ? stats : NULL);
	else
		render_mermaid(f, slice, json_is_object(stats) ? stats : NULL);
	if (ferror(f) || fclose(f)) {
		free(buf);
		return trl_error_set(err, TRL_EFAILED, "graph: out of memory");
	}
	*out = buf;
	return 0;
}
