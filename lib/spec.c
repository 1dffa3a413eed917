/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slice spec parser
 *
 * libfyaml builds a document tree (duplicate keys allowed, so we can name
 * both places ourselves; aliases left unresolved and refused, so no input can
 * expand), then one walker per level checks keys against a fixed table,
 * converts values and validates them, stopping at the first error.  Errors
 * are "file:line:col: field: reason": the field is a path kept in the parse
 * context as the walk descends ("routers.r1.limits.memory", "links[0].ipv4[1]"),
 * the position is the offending node's (the key's for unknown keys).
 *
 * Checks that need the whole slice run in phases after the per-node ones:
 * routers first (links refer to them), then links (endpoints, addresses,
 * subnet overlaps between links), then loopbacks against everything else.
 *
 * libfyaml 0.7 has no public start mark for collection nodes, so a node's
 * position comes from its scalar token, or for a mapping or sequence from a
 * report into a throwaway diag object that records where libfyaml would
 * have pointed.  Diagnostics are collected, never printed.
 *
 * The input is hostile (the daemon parses tenants' specs), and libfyaml
 * 0.7.12 mishandles some odd block scalars.  So before parsing: a size cap,
 * no control characters, no long runs of blank lines (quadratic in libfyaml),
 * a final newline; and a block scalar's raw lines are checked for YAML's
 * indentation rule before its text is taken (libfyaml accepts some bad ones
 * and returns uninitialised bytes for them).  Limits on counts come before
 * any work proportional to them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libfyaml.h>
#include "spec.h"
#include "names.h"
#include "units.h"
#include "util.h"

#define SPEC_MAX_SIZE (4u << 20)
#define CONFIG_MAX_SIZE (4u << 20)
#define SPEC_MAX_BLANK_LINES 100
#define PATH_DEPTH 16
#define QBUF 72

static const char *const known_daemons[] = {
	"bgpd", "ospfd", "ospf6d", "ripd", "ripngd", "isisd", "pimd", "pim6d", "ldpd",
	"nhrpd", "eigrpd", "babeld", "sharpd", "pbrd", "bfdd", "fabricd", "vrrpd", "pathd",
};

/*
 * frr.conf lines that need a daemon, by their first words.  Interface
 * commands count too: "ip ospf area 0" alone makes ospfd create its instance.
 */
static const struct {
	const char *words;
	const char *daemon;
	bool whole;	/* the line is exactly these words */
} config_daemons[] = {
	{ "router ospf", "ospfd", false },	    { "router ospf6", "ospf6d", false },
	{ "router bgp", "bgpd", false },	    { "router rip", "ripd", false },
	{ "router ripng", "ripngd", false },	    { "router isis", "isisd", false },
	{ "router babel", "babeld", false },	    { "router eigrp", "eigrpd", false },
	{ "router openfabric", "fabricd", false }, { "bfd", "bfdd", true },
	{ "ip ospf", "ospfd", false },		    { "ipv6 ospf6", "ospf6d", false },
	{ "ip router isis", "isisd", false },	    { "ipv6 router isis", "isisd", false },
	{ "ip router openfabric", "fabricd", false }, { "ipv6 router openfabric", "fabricd", false },
	{ "ip route", "staticd", false },	    { "ipv6 route", "staticd", false },
};

struct spec_ctx {
	const char *file;
	struct trl_error *err;
	spec_file_resolver resolve;
	void *resolve_ctx;
	struct trl_slice *s;
	char default_template[32];

	char path[512];
	size_t path_len[PATH_DEPTH];
	struct fy_node *path_node[PATH_DEPTH];
	int depth;

	const char *text;		/* the YAML as parsed */
	size_t len;

	struct fy_node **router_keys;	/* per router: its name key */
	struct fy_node **lo_nodes;	/* per router: TRL_MAX_ADDRS loopback nodes */
};

/* A key of a mapping with a fixed set of keys. */
struct field {
	const char *name;
	struct fy_node *key, *val;	/* val NULL when absent or null */
	bool present;
};

/* ---- small helpers ---- */

/* Printable, bounded copy of user text for messages. */
static const char *qs(char *buf, size_t size, const char *s)
{
	size_t i = 0, n = s ? strlen(s) : 0;
	bool cut = n > size - 1;

	for (; s && *s && i < size - 1; s++) {
		if (cut && i == size - 4)
			break;
		buf[i++] = (*s < 0x20 || *s == 0x7f || (unsigned char)*s >= 0x80) ? '?' : *s;
	}
	if (cut)
		for (int k = 0; k < 3 && i < size - 1; k++)
			buf[i++] = '.';
	buf[i] = '\0';
	return buf;
}

static bool is_lower(char ch)
{
	return ch >= 'a' && ch <= 'z';
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[33];

	if (la > 32 || lb > 32)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* The nearest of @names to @s within edit distance 2, or NULL. */
static const char *suggest(const char *s, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t bestd = 3;

	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(s, names[i]);

		if (d < bestd) {
			bestd = d;
			best = names[i];
		}
	}
	return best;
}

/* ---- positions and errors ---- */

static void quiet_output(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	(void)diag;
	(void)user;
	(void)buf;
	(void)len;
}

static struct fy_diag *quiet_diag(void)
{
	struct fy_diag_cfg dc;
	struct fy_diag *diag;

	fy_diag_cfg_default(&dc);
	dc.fp = NULL;
	dc.output_fn = quiet_output;
	dc.level = FYET_ERROR;
	dc.colorize = false;
	diag = fy_diag_create(&dc);
	if (diag)
		fy_diag_set_collect_errors(diag, true);
	return diag;
}

static struct trl_mark node_mark(struct fy_node *n)
{
	struct trl_mark m = { 0, 0 };
	struct fy_diag_error *e;
	struct fy_diag *diag;
	void *it = NULL;

	if (!n)
		return m;
	if (fy_node_is_scalar(n)) {
		struct fy_token *t = fy_node_get_scalar_token(n);
		const struct fy_mark *fm = t ? fy_token_start_mark(t) : NULL;

		if (fm) {
			enum fy_node_style st = fy_node_get_style(n);

			m.line = fm->line + 1;
			m.col = fm->column + 1;
			/* Point at the opening quote or '*', not inside it. */
			if (m.col > 1 && (st == FYNS_SINGLE_QUOTED || st == FYNS_DOUBLE_QUOTED || st == FYNS_ALIAS))
				m.col--;
			return m;
		}
		return m;
	}
	diag = quiet_diag();
	if (diag) {
		fy_diag_node_report(diag, n, FYET_ERROR, "%s", "here");
		e = fy_diag_errors_iterate(diag, &it);
		if (e && e->line > 0) {
			m.line = e->line;
			m.col = e->column > 0 ? e->column : 1;
		}
		fy_diag_destroy(diag);
	}
	/* No report (seen for block mappings): where the first entry starts. */
	if (!m.line && fy_node_is_mapping(n)) {
		struct fy_node_pair *p = fy_node_mapping_get_by_index(n, 0);

		if (p)
			m = node_mark(fy_node_pair_key(p));
	} else if (!m.line && fy_node_is_sequence(n)) {
		m = node_mark(fy_node_sequence_get_by_index(n, 0));
	}
	return m;
}

static void path_push(struct spec_ctx *c, struct fy_node *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void path_push(struct spec_ctx *c, struct fy_node *at, const char *fmt, ...)
{
	size_t len = strnlen(c->path, sizeof(c->path));
	va_list ap;

	if (c->depth < PATH_DEPTH) {
		c->path_len[c->depth] = len;
		c->path_node[c->depth] = at;
	}
	c->depth++;
	va_start(ap, fmt);
	vsnprintf(c->path + len, sizeof(c->path) - len, fmt, ap);
	va_end(ap);
}

/* Push a key: "name" at the top, ".name" below. */
static void path_key(struct spec_ctx *c, struct fy_node *at, const char *name)
{
	char q[QBUF];

	path_push(c, at, "%s%s", c->path[0] ? "." : "", qs(q, sizeof(q), name));
}

static void path_pop(struct spec_ctx *c)
{
	if (c->depth <= 0)
		return;
	c->depth--;
	if (c->depth < PATH_DEPTH)
		c->path[c->path_len[c->depth]] = '\0';
}

static void path_reset(struct spec_ctx *c)
{
	c->depth = 0;
	c->path[0] = '\0';
}

static int fail(struct spec_ctx *c, struct fy_node *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct spec_ctx *c, struct fy_node *at, const char *fmt, ...)
{
	struct trl_mark m = node_mark(at);
	char reason[1024];
	va_list ap;

	for (int d = c->depth < PATH_DEPTH ? c->depth : PATH_DEPTH; !m.line && d > 0; d--)
		m = node_mark(c->path_node[d - 1]);
	if (!m.line)
		m.line = m.col = 1;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return trl_error_set(c->err, TRL_EINVALID, "%s:%d:%d: %s: %s", c->file, m.line, m.col,
			     c->path[0] ? c->path : "document", reason);
}

/* ---- node access ---- */

static bool is_null(struct fy_node *n)
{
	const char *t;
	size_t len;

	if (!n)
		return true;
	if (!fy_node_is_scalar(n) || fy_node_get_style(n) != FYNS_PLAIN)
		return false;
	t = fy_node_get_scalar(n, &len);
	if (!t || !len)
		return true;
	return (len == 1 && t[0] == '~') ||
	       (len == 4 && (!memcmp(t, "null", 4) || !memcmp(t, "Null", 4) || !memcmp(t, "NULL", 4)));
}

/* A key we can use: a plain or quoted scalar (not an alias, not a block scalar). */
static bool simple_key(struct fy_node *key)
{
	enum fy_node_style st;

	if (!key || !fy_node_is_scalar(key))
		return false;
	st = fy_node_get_style(key);
	return st == FYNS_PLAIN || st == FYNS_SINGLE_QUOTED || st == FYNS_DOUBLE_QUOTED;
}

static const char *kind(struct fy_node *n)
{
	if (!n || is_null(n))
		return "nothing";
	if (fy_node_is_alias(n))
		return "an alias";
	if (fy_node_is_mapping(n))
		return "a mapping";
	if (fy_node_is_sequence(n))
		return "a sequence";
	if (fy_node_get_style(n) == FYNS_LITERAL || fy_node_get_style(n) == FYNS_FOLDED)
		return "a block scalar";
	return "a string";
}

static int no_alias(struct spec_ctx *c, struct fy_node *n)
{
	if (n && fy_node_is_alias(n))
		return fail(c, n, "aliases (*name) are not supported; write the value out");
	return 0;
}

static int expect_mapping(struct spec_ctx *c, struct fy_node *n, const char *what)
{
	int r = no_alias(c, n);

	if (r < 0)
		return r;
	if (!n || !fy_node_is_mapping(n))
		return fail(c, n, "expected %s, got %s", what, kind(n));
	return 0;
}

static int expect_sequence(struct spec_ctx *c, struct fy_node *n, const char *what)
{
	int r = no_alias(c, n);

	if (r < 0)
		return r;
	if (!n || !fy_node_is_sequence(n))
		return fail(c, n, "expected %s, got %s", what, kind(n));
	return 0;
}

/*
 * libfyaml 0.7.12 takes lines indented no deeper than the key as part of a
 * block scalar ("  c: |" followed by "  x") and then formats the text with
 * uninitialised bytes in it.  YAML wants every non-blank line of the block
 * deeper than its parent: check that on the raw text before asking for it.
 */
static int block_scalar_check(struct spec_ctx *c, struct fy_node *n)
{
	struct fy_token *t = fy_node_get_scalar_token(n);
	const struct fy_mark *sm = t ? fy_token_start_mark(t) : NULL, *em = t ? fy_token_end_mark(t) : NULL;
	struct fy_node *parent = fy_node_get_parent(n);
	int parent_col = -1, line;
	size_t pos, end;

	if (!sm || !em || !c->text)
		return 0;
	if (parent && fy_node_is_mapping(parent)) {
		struct fy_node_pair *p;
		void *it = NULL;

		while ((p = fy_node_mapping_iterate(parent, &it)))
			if (fy_node_pair_value(p) == n) {
				parent_col = node_mark(fy_node_pair_key(p)).col - 1;
				break;
			}
	} else if (parent && fy_node_is_sequence(parent)) {
		parent_col = node_mark(parent).col - 1;
	}
	pos = sm->input_pos;
	end = em->input_pos < c->len ? em->input_pos : c->len;
	line = sm->line + 1;
	/* Back up to the start of the first line. */
	while (pos > 0 && pos <= c->len && c->text[pos - 1] != '\n')
		pos--;
	while (pos < end) {
		size_t eol = pos, ind = 0;

		while (eol < c->len && c->text[eol] != '\n')
			eol++;
		while (pos + ind < eol && c->text[pos + ind] == ' ')
			ind++;
		/* The end mark is where the next token starts: its line is not ours. */
		if (pos + ind < eol && pos + ind < end && c->text[pos + ind] != '\r' &&
		    c->text[pos + ind] != '\t' && (int)ind <= parent_col)
			return trl_error_set(c->err, TRL_EINVALID,
					     "%s:%d:%zu: %s: block scalar line indented %zu, not deeper than its key (column %d)",
					     c->file, line, ind + 1, c->path[0] ? c->path : "document", ind, parent_col + 1);
		pos = eol + 1;
		line++;
	}
	return 0;
}

/* The text of a scalar node (NUL-terminated, owned by the document). */
static int get_str(struct spec_ctx *c, struct fy_node *n, const char *what, const char **out)
{
	const char *t;
	size_t len;
	int r = no_alias(c, n);

	if (r < 0)
		return r;
	if (!n || !fy_node_is_scalar(n))
		return fail(c, n, "expected %s, got %s", what, kind(n));
	if (fy_node_get_style(n) == FYNS_LITERAL || fy_node_get_style(n) == FYNS_FOLDED) {
		r = block_scalar_check(c, n);
		if (r < 0)
			return r;
	}
	t = fy_node_get_scalar(n, &len);
	if (!t) {
		*out = "";
		return 0;
	}
	if (memchr(t, '\0', len))
		return fail(c, n, "contains a NUL character");
	t = fy_node_get_scalar0(n);
	if (!t)
		return trl_error_set(c->err, TRL_EFAILED, "%s: out of memory", c->file);
	*out = t;
	return 0;
}

/* Match the keys of mapping @map against @f (which must be known to be a mapping). */
static int map_fields(struct spec_ctx *c, struct fy_node *map, struct field *f, size_t nf)
{
	const char *names[16];
	struct fy_node_pair *p;
	void *it = NULL;

	for (size_t i = 0; i < nf && i < 16; i++)
		names[i] = f[i].name;
	while ((p = fy_node_mapping_iterate(map, &it))) {
		struct fy_node *key = fy_node_pair_key(p), *val = fy_node_pair_value(p);
		const char *name, *hint;
		char q[QBUF];
		size_t i;
		int r;

		if (!simple_key(key))
			return fail(c, key ? key : map, "keys must be plain strings, got %s", kind(key));
		r = get_str(c, key, "a key", &name);
		if (r < 0)
			return r;
		for (i = 0; i < nf; i++)
			if (!strcmp(f[i].name, name))
				break;
		if (i == nf) {
			path_key(c, key, name);
			hint = suggest(name, names, nf < 16 ? nf : 16);
			if (hint)
				return fail(c, key, "unknown key '%s' (did you mean '%s'?)", qs(q, sizeof(q), name), hint);
			return fail(c, key, "unknown key '%s'", qs(q, sizeof(q), name));
		}
		if (f[i].present) {
			path_key(c, key, name);
			return fail(c, key, "duplicate key '%s' (first at line %d)", name, node_mark(f[i].key).line);
		}
		f[i].present = true;
		f[i].key = key;
		f[i].val = is_null(val) ? NULL : val;
	}
	return 0;
}

static int missing(struct spec_ctx *c, struct fy_node *map, const char *key, const char *hint)
{
	path_key(c, map, key);
	return fail(c, map, "missing required key '%s'%s", key, hint);
}

/* ---- values ---- */

static int parse_owner(struct spec_ctx *c, struct fy_node *n)
{
	const char *t;
	size_t len;
	char q[QBUF];
	int r = get_str(c, n, "a user name or uid", &t);

	if (r < 0)
		return r;
	len = strlen(t);
	if (len && strspn(t, "0123456789") == len) {
		if (len > 10 || strtoull(t, NULL, 10) > 4294967294ULL)
			return fail(c, n, "uid %s is out of range", qs(q, sizeof(q), t));
	} else {
		bool ok = len > 0 && len < sizeof(c->s->owner) && (is_lower(t[0]) || t[0] == '_');

		for (size_t i = 1; ok && i < len; i++)
			ok = is_lower(t[i]) || is_digit(t[i]) || t[i] == '_' || t[i] == '-';
		if (!ok)
			return fail(c, n, "invalid owner '%s': expected a user name ([a-z_][a-z0-9_-]*, at most 63 characters) or a numeric uid",
				    qs(q, sizeof(q), t));
	}
	snprintf(c->s->owner, sizeof(c->s->owner), "%s", t);
	return 0;
}

static int parse_template(struct spec_ctx *c, struct fy_node *n, char *out, size_t size)
{
	const char *t, *why;
	char q[QBUF];
	int r = get_str(c, n, "a template name", &t);

	if (r < 0)
		return r;
	why = names_problem(NAMES_TEMPLATE, t);
	if (why)
		return fail(c, n, "invalid template '%s': %s", qs(q, sizeof(q), t), why);
	snprintf(out, size, "%s", t);
	return 0;
}

/* "0.5", "2": cores, parsed without the locale. -1 if malformed.  Digits are
 * gathered as an integer and divided once, so "0.3" is the double nearest 0.3. */
static double parse_decimal(const char *t)
{
	double v = 0, scale = 1;
	int digits = 0;

	for (; is_digit(*t); t++, digits++) {
		v = v * 10 + (*t - '0');
		if (v > 1e9)
			return 1e9;
	}
	if (*t == '.')
		for (t++; is_digit(*t); t++, digits++) {
			if (scale < 1e15) {
				v = v * 10 + (*t - '0');
				scale *= 10;
			}
		}
	if (*t || !digits)
		return -1;
	return v / scale;
}

static bool integer_part_zero(const char *t)
{
	for (; *t && *t != '.'; t++)
		if (is_digit(*t) && *t != '0')
			return false;
	return true;
}

int spec_limit_parse(const char *field, const char *t, struct trl_limits *l, char *why, size_t len)
{
	char q[QBUF];
	size_t n = strlen(t);
	uint64_t v;
	int r;

	if (!strcmp(field, "cpu")) {
		double d = parse_decimal(t);

		if (d < 0)
			snprintf(why, len, "'%s' is not a number of cores (e.g. 0.5 or 2)", qs(q, sizeof(q), t));
		else if (d <= 0)
			snprintf(why, len, "cpu must be more than 0 cores");
		else if (d > 1024)
			snprintf(why, len, "%s cores is more than the 1024 allowed", qs(q, sizeof(q), t));
		else if (d < 0.01)	/* the quota is in microseconds of a 100 ms period */
			snprintf(why, len, "%s cores is below the 0.01 (1 ms per 100 ms) the kernel can enforce",
				 qs(q, sizeof(q), t));
		else {
			l->cpu = d;
			return 0;
		}
		return -EINVAL;
	}
	if (!strcmp(field, "cpu-weight")) {
		if (!n || strspn(t, "0123456789") != n) {
			snprintf(why, len, "'%s' is not a whole number (a weight from %d to %d, 100 = default)",
				 qs(q, sizeof(q), t), TRL_CPU_WEIGHT_MIN, TRL_CPU_WEIGHT_MAX);
			return -EINVAL;
		}
		v = n > 10 ? UINT64_MAX : strtoull(t, NULL, 10);
		if (v < TRL_CPU_WEIGHT_MIN || v > TRL_CPU_WEIGHT_MAX) {
			snprintf(why, len, "cpu-weight %s is outside %d..%d (100 = default)", qs(q, sizeof(q), t),
				 TRL_CPU_WEIGHT_MIN, TRL_CPU_WEIGHT_MAX);
			return -EINVAL;
		}
		l->cpu_weight = (unsigned)v;
		return 0;
	}
	if (!strcmp(field, "memory")) {
		r = units_size_parse(t, &v);
		if (r == -ERANGE && !integer_part_zero(t)) {
			snprintf(why, len, "'%s' is too large (at most 1P)", qs(q, sizeof(q), t));
			return -EINVAL;
		}
		if (r == -ERANGE)
			v = 0;
		else if (r < 0) {
			snprintf(why, len, "'%s' is not a size (try 256M)", qs(q, sizeof(q), t));
			return -EINVAL;
		}
		if (v < 16ULL << 20) {
			snprintf(why, len, "memory '%s' is below the 16M a router needs", qs(q, sizeof(q), t));
			return -EINVAL;
		}
		l->memory = v;
		return 0;
	}
	if (!strcmp(field, "pids")) {
		if (!strcmp(t, "max")) {	/* no limit: trellis slice set --pids max removes one */
			l->pids = 0;
			return 0;
		}
		if (!n || strspn(t, "0123456789") != n) {
			snprintf(why, len, "'%s' is not a whole number (or max: no limit)", qs(q, sizeof(q), t));
			return -EINVAL;
		}
		v = n > 10 ? UINT64_MAX : strtoull(t, NULL, 10);
		if (v < 16)
			snprintf(why, len, "pids %s is below the 16 a router needs", t);
		else if (v > 4194304)
			snprintf(why, len, "pids %s is above 4194304 (the kernel's pid_max limit)", qs(q, sizeof(q), t));
		else {
			l->pids = v;
			return 0;
		}
		return -EINVAL;
	}
	if (!strcmp(field, "disk")) {
		r = units_size_parse(t, &v);
		if (r == -ERANGE && !integer_part_zero(t))
			v = UINT64_MAX;
		else if (r == -ERANGE)
			v = 0;
		else if (r < 0) {
			snprintf(why, len, "'%s' is not a size (try 256M)", qs(q, sizeof(q), t));
			return -EINVAL;
		}
		if (v < TRL_DISK_MIN)
			snprintf(why, len,
				 "disk '%s' is below the 16M a router's rootfs needs (its ext4 metadata and the private /etc and /var)",
				 qs(q, sizeof(q), t));
		else if (v > TRL_DISK_MAX)
			snprintf(why, len, "disk '%s' is above the 1T a router's rootfs may have", qs(q, sizeof(q), t));
		else {
			l->disk = v;
			return 0;
		}
		return -EINVAL;
	}
	snprintf(why, len, "unknown limit '%s' (cpu, cpu-weight, memory, pids or disk)", qs(q, sizeof(q), field));
	return -ENOENT;
}

/*
 * A limits: mapping.  @cap is the slice's aggregate (limits: at the top) when
 * @l belongs to a router or router-defaults: a router can never get more
 * CPU, memory or pids than its whole slice (cgroup v1 even refuses a child
 * quota above its parent's), so such a spec is refused here, naming both.
 */
static int parse_limits(struct spec_ctx *c, struct fy_node *n, struct trl_limits *l, const struct trl_limits *cap)
{
	static const char *const names[] = { "cpu", "cpu-weight", "memory", "pids", "disk" };
	struct field f[] = { { .name = "cpu" },	 { .name = "cpu-weight" }, { .name = "memory" },
			     { .name = "pids" }, { .name = "disk" } };
	char why[256], q[QBUF];
	const char *t;
	int r;

	r = expect_mapping(c, n, "a mapping (cpu:, cpu-weight:, memory:, pids:, disk:)");
	if (r < 0)
		return r;
	r = map_fields(c, n, f, ARRAY_SIZE(f));
	if (r < 0)
		return r;

	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		if (!f[i].val)
			continue;
		path_key(c, f[i].key, names[i]);
		r = get_str(c, f[i].val, i == 0 ? "a number of cores" : i == 1 ? "a weight" : i == 2 || i == 4 ? "a size"
								: "a number of processes", &t);
		if (r < 0)
			return r;
		/* Each router's rootfs is a file system of its own: nothing holds a slice's sum. */
		if (i == 4 && !cap)
			return fail(c, f[i].val,
				    "disk is per router, a slice has no aggregate disk (set it for every router in router-defaults: limits:)");
		if (spec_limit_parse(names[i], t, l, why, sizeof(why)) < 0)
			return fail(c, f[i].val, "%s", why);
		if (!cap)
			goto next;
		if (i == 0 && cap->cpu > 0 && l->cpu > cap->cpu)
			return fail(c, f[i].val, "%s cores is more than the slice's limits.cpu (%g): a router cannot get more than its whole slice",
				    qs(q, sizeof(q), t), cap->cpu);
		if (i == 2 && cap->memory && l->memory > cap->memory) {
			units_size_format(cap->memory, why, sizeof(why));
			return fail(c, f[i].val, "memory '%s' is more than the slice's limits.memory (%s): a router cannot get more than its whole slice",
				    qs(q, sizeof(q), t), why);
		}
		if (i == 3 && cap->pids && l->pids > cap->pids)
			return fail(c, f[i].val, "pids %s is more than the slice's limits.pids (%" PRIu64 "): a router cannot get more than its whole slice",
				    t, cap->pids);
next:
		path_pop(c);
	}
	return 0;
}

/* Why @t is not an address of @family (AF_UNSPEC: either) with a prefix length, or NULL. */
static const char *addr_problem(const char *t, int family, struct trl_addr *a, char *buf, size_t size)
{
	const char *slash = strchr(t, '/'), *fam = family == AF_INET ? "IPv4" : "IPv6";
	char q[QBUF];

	if (trl_addr_parse(t, a) == 0) {
		if (family != AF_UNSPEC && a->family != family) {
			snprintf(buf, size, "'%s' is an %s address; %s takes %s addresses",
				 qs(q, sizeof(q), t), a->family == AF_INET ? "IPv4" : "IPv6",
				 family == AF_INET ? "ipv4:" : "ipv6:", fam);
			return buf;
		}
		return NULL;
	}
	if (!slash) {
		snprintf(buf, size, "'%s' has no prefix length (e.g. %s)", qs(q, sizeof(q), t),
			 family == AF_INET6 || strchr(t, ':') ? "fd00::1/64" : "10.0.0.1/24");
		return buf;
	}
	{
		char host[INET6_ADDRSTRLEN + 8];
		size_t hl = (size_t)(slash - t);
		struct trl_addr probe;

		if (hl < INET6_ADDRSTRLEN) {
			memcpy(host, t, hl);
			snprintf(host + hl, sizeof(host) - hl, "/0");
			if (trl_addr_parse(host, &probe) == 0) {
				snprintf(buf, size, "'%s' has a bad prefix length (0-%d for %s)", qs(q, sizeof(q), t),
					 probe.family == AF_INET ? 32 : 128, probe.family == AF_INET ? "IPv4" : "IPv6");
				return buf;
			}
		}
	}
	snprintf(buf, size, "'%s' is not an %s address", qs(q, sizeof(q), t),
		 family == AF_UNSPEC ? "IPv4 or IPv6" : fam);
	return buf;
}

/* "10.0.12.0/24" for "10.0.12.1/24". */
static const char *subnet_text(const struct trl_addr *a, char *buf, size_t size)
{
	unsigned char b[16];
	size_t n = a->family == AF_INET ? 4 : 16;
	char host[INET6_ADDRSTRLEN];

	memcpy(b, &a->a, n);
	for (size_t i = 0; i < n; i++) {
		int bits = a->prefixlen - (int)i * 8;

		if (bits <= 0)
			b[i] = 0;
		else if (bits < 8)
			b[i] &= (unsigned char)(0xff << (8 - bits));
	}
	if (!inet_ntop(a->family, b, host, sizeof(host)))
		snprintf(host, sizeof(host), "?");
	snprintf(buf, size, "%s/%d", host, a->prefixlen);
	return buf;
}

static bool same_host(const struct trl_addr *a, const struct trl_addr *b)
{
	return a->family == b->family &&
	       !memcmp(&a->a, &b->a, a->family == AF_INET ? 4 : 16);
}

/* Host part all zeros (network / subnet-router anycast) or all ones (IPv4 broadcast). */
static int host_part(const struct trl_addr *a)
{
	size_t n = a->family == AF_INET ? 4 : 16;
	const unsigned char *b = (const unsigned char *)&a->a;
	bool zeros = true, ones = true;

	for (size_t i = 0; i < n; i++) {
		int bits = a->prefixlen - (int)i * 8;
		unsigned char mask = bits >= 8 ? 0 : bits <= 0 ? 0xff : (unsigned char)(0xff >> bits);

		if (b[i] & mask)
			zeros = false;
		if ((b[i] & mask) != mask)
			ones = false;
	}
	return zeros ? 0 : ones ? 1 : 2;
}

/* ---- routers ---- */

static int add_daemon(struct trl_router *r, const char *d)
{
	for (size_t i = 0; i < r->n_daemons; i++)
		if (!strcmp(r->daemons[i], d))
			return 0;
	if (r->n_daemons >= TRL_MAX_DAEMONS)
		return -E2BIG;
	snprintf(r->daemons[r->n_daemons++], sizeof(r->daemons[0]), "%s", d);
	return 0;
}

/* Does the line made of @words match the words of @pattern? */
static bool line_matches(const char *const *w, const size_t *wl, size_t nw, const char *pattern, bool whole)
{
	size_t k = 0;

	for (const char *p = pattern; *p; k++) {
		size_t l = strcspn(p, " ");

		if (k >= nw || wl[k] != l || memcmp(w[k], p, l))
			return false;
		p += l;
		p += *p == ' ';
	}
	return !whole || k == nw;
}

/* Daemons a config needs, from lines like "router ospf", "ip ospf area 0", "bfd". */
static void infer_daemons(struct trl_router *r)
{
	const char *p = r->config;

	while (p && *p) {
		const char *eol = strchr(p, '\n'), *w[5];
		size_t wl[5], nw = 0;

		if (!eol)
			eol = p + strlen(p);
		while (p < eol) {
			while (p < eol && (*p == ' ' || *p == '\t' || *p == '\r'))
				p++;
			if (p == eol)
				break;
			if (nw == ARRAY_SIZE(w)) {
				p = eol;
				break;
			}
			w[nw] = p;
			while (p < eol && *p != ' ' && *p != '\t' && *p != '\r')
				p++;
			wl[nw] = (size_t)(p - w[nw]);
			nw++;
		}
		for (size_t i = 0; nw && i < ARRAY_SIZE(config_daemons); i++)
			if (line_matches(w, wl, nw, config_daemons[i].words, config_daemons[i].whole))
				add_daemon(r, config_daemons[i].daemon);
		p = *eol ? eol + 1 : eol;
	}
}

static int parse_daemons(struct spec_ctx *c, struct trl_router *r, struct fy_node *n)
{
	const char *seen[TRL_MAX_DAEMONS + 2];
	size_t n_seen = 0, idx = 0;
	struct fy_node *item;
	void *it = NULL;
	int ret;

	ret = expect_sequence(c, n, "a sequence of FRR daemon names");
	if (ret < 0)
		return ret;
	while ((item = fy_node_sequence_iterate(n, &it))) {
		const char *t, *hint;
		char q[QBUF];
		size_t i;

		path_push(c, item, "[%zu]", idx++);
		ret = get_str(c, item, "a daemon name", &t);
		if (ret < 0)
			return ret;
		for (i = 0; i < n_seen; i++)
			if (!strcmp(seen[i], t))
				return fail(c, item, "duplicate daemon '%s'", qs(q, sizeof(q), t));
		if (!strcmp(t, "staticd")) {
			if (add_daemon(r, t) < 0)
				return fail(c, item, "too many daemons (at most %d)", TRL_MAX_DAEMONS);
		} else if (strcmp(t, "zebra")) {
			for (i = 0; i < ARRAY_SIZE(known_daemons); i++)
				if (!strcmp(known_daemons[i], t))
					break;
			if (i == ARRAY_SIZE(known_daemons)) {
				hint = suggest(t, known_daemons, ARRAY_SIZE(known_daemons));
				if (hint)
					return fail(c, item, "unknown daemon '%s' (did you mean '%s'?)",
						    qs(q, sizeof(q), t), hint);
				return fail(c, item, "unknown daemon '%s' (known: bgpd ospfd ospf6d ripd ripngd isisd pimd pim6d ldpd nhrpd eigrpd babeld sharpd pbrd bfdd fabricd vrrpd pathd)",
					    qs(q, sizeof(q), t));
			}
			if (add_daemon(r, t) < 0)
				return fail(c, item, "too many daemons (at most %d)", TRL_MAX_DAEMONS);
		}
		if (n_seen < ARRAY_SIZE(seen))
			seen[n_seen++] = t;
		path_pop(c);
	}
	return 0;
}

/* A config-file: name must stay below the spec's directory. */
static const char *config_file_problem(const char *t)
{
	const char *p = t;

	if (!*t)
		return "must not be empty";
	if (*t == '/')
		return "is absolute; name a file relative to the spec";
	if (strlen(t) > 4095)
		return "is too long";
	while (*p) {
		size_t l = strcspn(p, "/");

		if (l == 2 && p[0] == '.' && p[1] == '.')
			return "must not contain '..' components";
		p += l;
		if (*p == '/')
			p++;
	}
	return NULL;
}

static int parse_loopback(struct spec_ctx *c, size_t ri, struct trl_router *r, struct fy_node *n)
{
	struct fy_node *item;
	void *it = NULL;
	int cnt, ret;

	ret = expect_sequence(c, n, "a sequence of addresses");
	if (ret < 0)
		return ret;
	cnt = fy_node_sequence_item_count(n);
	if (cnt > TRL_MAX_ADDRS)
		return fail(c, n, "too many addresses (%d; at most %d)", cnt, TRL_MAX_ADDRS);
	while ((item = fy_node_sequence_iterate(n, &it)) && r->n_loopback < TRL_MAX_ADDRS) {
		const char *t, *why;
		char buf[256];

		path_push(c, item, "[%zu]", r->n_loopback);
		ret = get_str(c, item, "an address", &t);
		if (ret < 0)
			return ret;
		why = addr_problem(t, AF_UNSPEC, &r->loopback[r->n_loopback], buf, sizeof(buf));
		if (why)
			return fail(c, item, "%s", why);
		c->lo_nodes[ri * TRL_MAX_ADDRS + r->n_loopback] = item;
		r->n_loopback++;
		path_pop(c);
	}
	return 0;
}

static int read_config_file(struct spec_ctx *c, struct trl_router *r, struct fy_node *n)
{
	const char *t, *why;
	char *text = NULL;
	char q[QBUF];
	int ret;

	ret = get_str(c, n, "a file name", &t);
	if (ret < 0)
		return ret;
	why = config_file_problem(t);
	if (why)
		return fail(c, n, "config file '%s' %s", qs(q, sizeof(q), t), why);
	if (!c->resolve)
		return fail(c, n, "cannot read config file '%s': no files were supplied with the spec",
			    qs(q, sizeof(q), t));
	ret = c->resolve(c->resolve_ctx, t, &text);
	if (ret >= 0 && !text)
		ret = -EIO;
	if (ret < 0)
		return fail(c, n, "cannot read config file '%s': %s", qs(q, sizeof(q), t), strerror(-ret));
	if (strlen(text) > CONFIG_MAX_SIZE) {
		free(text);
		return fail(c, n, "config file '%s' is larger than 4 MiB", qs(q, sizeof(q), t));
	}
	r->config = text;
	r->config_file = strdup(t);
	if (!r->config_file)
		return trl_error_set(c->err, TRL_EFAILED, "%s: out of memory", c->file);
	return 0;
}

static int parse_router(struct spec_ctx *c, size_t ri, struct trl_router *r, struct fy_node *n)
{
	enum { F_TEMPLATE, F_DAEMONS, F_CONFIG, F_CONFIG_FILE, F_LOOPBACK, F_LIMITS, F_NODE };
	struct field f[] = {
		[F_TEMPLATE] = { .name = "template" },	   [F_DAEMONS] = { .name = "daemons" },
		[F_CONFIG] = { .name = "config" },	   [F_CONFIG_FILE] = { .name = "config-file" },
		[F_LOOPBACK] = { .name = "loopback" },	   [F_LIMITS] = { .name = "limits" },
		[F_NODE] = { .name = "node" },
	};
	int ret;

	snprintf(r->template_name, sizeof(r->template_name), "%s", c->default_template);
	if (!n)
		return 0;	/* "r1:" alone: a router with every default */
	ret = expect_mapping(c, n, "a mapping (template:, config:, loopback:, ...)");
	if (ret < 0)
		return ret;
	ret = map_fields(c, n, f, ARRAY_SIZE(f));
	if (ret < 0)
		return ret;

	if (f[F_TEMPLATE].val) {
		path_key(c, f[F_TEMPLATE].key, "template");
		ret = parse_template(c, f[F_TEMPLATE].val, r->template_name, sizeof(r->template_name));
		if (ret < 0)
			return ret;
		path_pop(c);
	}
	if (!strcmp(r->template_name, "plain")) {
		static const int stack[] = { F_DAEMONS, F_CONFIG, F_CONFIG_FILE };

		for (size_t i = 0; i < ARRAY_SIZE(stack); i++) {
			if (!f[stack[i]].present)
				continue;
			path_key(c, f[stack[i]].key, f[stack[i]].name);
			return fail(c, f[stack[i]].key, "template 'plain' runs no routing stack; remove %s: or use template 'frr'",
				    f[stack[i]].name);
		}
	}
	/* BIRD reads its whole config from bird.conf: FRR daemons mean nothing there. */
	if (!strcmp(r->template_name, "bird") && f[F_DAEMONS].present) {
		path_key(c, f[F_DAEMONS].key, "daemons");
		return fail(c, f[F_DAEMONS].key,
			    "template 'bird' runs BIRD, configured by config: alone; daemons: lists FRR daemons (remove it or use template 'frr')");
	}
	if (f[F_CONFIG].present && f[F_CONFIG_FILE].present) {
		path_key(c, f[F_CONFIG_FILE].key, "config-file");
		return fail(c, f[F_CONFIG_FILE].key, "config and config-file are mutually exclusive");
	}
	if (f[F_CONFIG].val) {
		const char *t;

		path_key(c, f[F_CONFIG].key, "config");
		ret = get_str(c, f[F_CONFIG].val, "a string (frr.conf or bird.conf text, e.g. config: |)", &t);
		if (ret < 0)
			return ret;
		r->config = strdup(t);
		if (!r->config)
			return trl_error_set(c->err, TRL_EFAILED, "%s: out of memory", c->file);
		path_pop(c);
	}
	if (f[F_CONFIG_FILE].present) {
		path_key(c, f[F_CONFIG_FILE].key, "config-file");
		ret = read_config_file(c, r, f[F_CONFIG_FILE].val);
		if (ret < 0)
			return ret;
		path_pop(c);
	}
	if (f[F_DAEMONS].present) {
		path_key(c, f[F_DAEMONS].key, "daemons");
		if (f[F_DAEMONS].val) {
			ret = parse_daemons(c, r, f[F_DAEMONS].val);
			if (ret < 0)
				return ret;
			/* Static routes in the config need staticd even when the list forgot it. */
			if (r->config && (strstr(r->config, "ip route ") || strstr(r->config, "ipv6 route ")))
				add_daemon(r, "staticd");
		}
		path_pop(c);
	} else if (strcmp(r->template_name, "bird")) {
		infer_daemons(r);
	}
	if (f[F_LOOPBACK].val) {
		path_key(c, f[F_LOOPBACK].key, "loopback");
		ret = parse_loopback(c, ri, r, f[F_LOOPBACK].val);
		if (ret < 0)
			return ret;
		path_pop(c);
	}
	if (f[F_LIMITS].val) {
		path_key(c, f[F_LIMITS].key, "limits");
		ret = parse_limits(c, f[F_LIMITS].val, &r->limits, &c->s->limits);
		if (ret < 0)
			return ret;
		path_pop(c);
	}
	if (f[F_NODE].val) {
		const char *t, *why;
		char q[QBUF];

		path_key(c, f[F_NODE].key, "node");
		if (c->s->placement == TRL_PLACE_EACH_NODE)
			return fail(c, f[F_NODE].key, "not allowed with placement: each-node (every router runs on every node)");
		ret = get_str(c, f[F_NODE].val, "a node name", &t);
		if (ret < 0)
			return ret;
		why = names_problem(NAMES_NAME, t);
		if (why)
			return fail(c, f[F_NODE].val, "invalid node name '%s': %s", qs(q, sizeof(q), t), why);
		snprintf(r->node, sizeof(r->node), "%s", t);
		path_pop(c);
	}
	return 0;
}

static int parse_routers(struct spec_ctx *c, struct fy_node *n)
{
	struct trl_slice *s = c->s;
	struct fy_node_pair *p;
	void *it = NULL;
	int cnt, ret;

	ret = expect_mapping(c, n, "a mapping of router names to routers");
	if (ret < 0)
		return ret;
	cnt = fy_node_mapping_item_count(n);
	if (cnt <= 0)
		return fail(c, n, "at least one router is required");
	if (cnt > TRL_MAX_ROUTERS)
		return fail(c, n, "too many routers (%d; at most %d)", cnt, TRL_MAX_ROUTERS);
	s->routers = calloc((size_t)cnt, sizeof(*s->routers));
	c->router_keys = calloc((size_t)cnt, sizeof(*c->router_keys));
	c->lo_nodes = calloc((size_t)cnt * TRL_MAX_ADDRS, sizeof(*c->lo_nodes));
	if (!s->routers || !c->router_keys || !c->lo_nodes)
		return trl_error_set(c->err, TRL_EFAILED, "%s: out of memory", c->file);

	while ((p = fy_node_mapping_iterate(n, &it)) && s->n_routers < (size_t)cnt) {
		struct fy_node *key = fy_node_pair_key(p), *val = fy_node_pair_value(p);
		size_t ri = s->n_routers;
		struct trl_router *r = &s->routers[ri];
		const char *name, *why;
		char q[QBUF];

		if (!simple_key(key))
			return fail(c, key ? key : n, "router names must be plain strings, got %s", kind(key));
		ret = get_str(c, key, "a router name", &name);
		if (ret < 0)
			return ret;
		path_key(c, key, name);
		why = names_problem(NAMES_NAME, name);
		if (why)
			return fail(c, key, "invalid router name '%s': %s", qs(q, sizeof(q), name), why);
		for (size_t j = 0; j < ri; j++)
			if (!strcmp(s->routers[j].name, name))
				return fail(c, key, "duplicate router '%s' (first defined at line %d)", name,
					    node_mark(c->router_keys[j]).line);
		snprintf(r->name, sizeof(r->name), "%s", name);
		r->mark = node_mark(key);
		c->router_keys[ri] = key;
		s->n_routers++;
		ret = parse_router(c, ri, r, is_null(val) ? NULL : val);
		if (ret < 0)
			return ret;
		path_pop(c);
	}
	return 0;
}

/* ---- links ---- */

static int parse_endpoint(struct spec_ctx *c, size_t li, int k, struct fy_node *n)
{
	struct trl_slice *s = c->s;
	struct trl_link *l = &s->links[li];
	struct trl_endpoint *ep = &l->ep[k];
	char q[QBUF], q2[QBUF], veth[64];
	const char *t, *colon, *ifname, *why;
	size_t rl;
	int ret, vl;

	ret = get_str(c, n, "router:ifname", &t);
	if (ret < 0)
		return ret;
	colon = strchr(t, ':');
	if (!colon || colon == t || !colon[1] || strchr(colon + 1, ':'))
		return fail(c, n, "expected router:ifname (e.g. r1:eth1), got '%s'", qs(q, sizeof(q), t));
	rl = (size_t)(colon - t);
	ifname = colon + 1;
	if (rl > TRL_NAME_MAX)
		return fail(c, n, "router '%.*s' is not defined", (int)rl, qs(q, sizeof(q), t));
	memcpy(ep->router, t, rl);
	ep->router[rl] = '\0';
	if (!trl_slice_router(s, ep->router))
		return fail(c, n, "router '%s' is not defined", qs(q, sizeof(q), ep->router));
	why = names_problem(NAMES_IFNAME, ifname);
	if (why)
		return fail(c, n, "invalid interface name '%s': %s", qs(q, sizeof(q), ifname), why);
	snprintf(ep->ifname, sizeof(ep->ifname), "%s", ifname);
	vl = names_host_veth(veth, sizeof(veth), s->name, ep->router, ep->ifname);
	if (vl > TRL_IFNAME_MAX)
		return fail(c, n, "host interface name '%s' would be %d characters; IFNAMSIZ allows %d (shorten the slice, router or interface name)",
			    veth, vl, TRL_IFNAME_MAX);
	if (k == 1 && !strcmp(l->ep[0].router, ep->router) && !strcmp(l->ep[0].ifname, ep->ifname))
		return fail(c, n, "both endpoints are '%s:%s'; a link joins two different interfaces",
			    ep->router, ep->ifname);
	for (size_t j = 0; j < li; j++)
		for (int e = 0; e < 2; e++)
			if (!strcmp(s->links[j].ep[e].router, ep->router) &&
			    !strcmp(s->links[j].ep[e].ifname, ep->ifname))
				return fail(c, n, "interface '%s:%s' is already used by links[%zu] (%s)", ep->router,
					    ep->ifname, j, qs(q2, sizeof(q2), s->links[j].name));
	return 0;
}

static int parse_link_addrs(struct spec_ctx *c, size_t li, struct fy_node *n, int family)
{
	struct trl_link *l = &c->s->links[li];
	struct fy_node *items[2];
	struct trl_addr a[2];
	char buf[256], q[QBUF], q2[QBUF];
	int cnt, ret;

	ret = expect_sequence(c, n, family == AF_INET ? "a sequence of 2 IPv4 addresses" : "a sequence of 2 IPv6 addresses");
	if (ret < 0)
		return ret;
	cnt = fy_node_sequence_item_count(n);
	if (cnt != 2)
		return fail(c, n, "expected 2 addresses (one per endpoint, in endpoint order), got %d", cnt);
	for (int k = 0; k < 2; k++) {
		const char *t, *why;

		items[k] = fy_node_sequence_get_by_index(n, k);
		path_push(c, items[k], "[%d]", k);
		ret = get_str(c, items[k], "an address", &t);
		if (ret < 0)
			return ret;
		why = addr_problem(t, family, &a[k], buf, sizeof(buf));
		if (why)
			return fail(c, items[k], "%s", why);
		if ((family == AF_INET && a[k].prefixlen < 31) || (family == AF_INET6 && a[k].prefixlen < 127)) {
			int h = host_part(&a[k]);

			if (h == 0)
				return fail(c, items[k], "'%s' is the %s address of %s; use a host address",
					    a[k].text, family == AF_INET ? "network" : "subnet-router anycast",
					    subnet_text(&a[k], q, sizeof(q)));
			if (h == 1 && family == AF_INET)
				return fail(c, items[k], "'%s' is the broadcast address of %s; use a host address",
					    a[k].text, subnet_text(&a[k], q, sizeof(q)));
		}
		if (k == 1) {
			if (a[1].prefixlen != a[0].prefixlen)
				return fail(c, items[1], "'%s' has a different prefix length than '%s' on the other end",
					    a[1].text, a[0].text);
			if (same_host(&a[0], &a[1]))
				return fail(c, items[1], "'%s' is also the address of the other end", a[1].text);
			if (!trl_addr_same_subnet(&a[0], &a[1]))
				return fail(c, items[1], "'%s' is not in the same subnet as '%s' (%s)", a[1].text,
					    a[0].text, subnet_text(&a[0], q, sizeof(q)));
		}
		path_pop(c);
	}
	for (size_t j = 0; j < li; j++) {
		const struct trl_endpoint *o = &c->s->links[j].ep[0];

		for (size_t i = 0; i < o->n_addrs; i++) {
			if (!trl_addr_prefix_overlap(&a[0], &o->addrs[i]))
				continue;
			path_push(c, items[0], "[0]");
			return fail(c, items[0], "subnet %s overlaps links[%zu] (%s)", subnet_text(&a[0], q, sizeof(q)),
				    j, subnet_text(&o->addrs[i], q2, sizeof(q2)));
		}
	}
	for (int k = 0; k < 2; k++) {
		struct trl_endpoint *ep = &l->ep[k];

		if (ep->n_addrs < TRL_MAX_ADDRS)
			ep->addrs[ep->n_addrs++] = a[k];
	}
	return 0;
}

/* A rate field: "10mbit".  @what names it in messages ("rate", "ceil"). */
static int parse_rate_field(struct spec_ctx *c, struct fy_node *key, struct fy_node *val, const char *what,
			    const char *zero_hint, uint64_t *out)
{
	const char *t;
	char q[QBUF];
	int ret;

	path_key(c, key, what);
	ret = get_str(c, val, "a rate (e.g. 10mbit)", &t);
	if (ret < 0)
		return ret;
	ret = units_rate_parse(t, out);
	if (ret == -ERANGE && integer_part_zero(t))
		return fail(c, val, "%s '%s' is zero; %s", what, qs(q, sizeof(q), t), zero_hint);
	if (ret == -ERANGE)
		return fail(c, val, "%s '%s' is above 1Tbit", what, qs(q, sizeof(q), t));
	if (ret < 0)
		return fail(c, val, "'%s' is not a rate (try 10mbit)", qs(q, sizeof(q), t));
	if (*out < 8)
		return fail(c, val, "%s '%s' is below 8bit (1 byte/s)", what, qs(q, sizeof(q), t));
	path_pop(c);
	return 0;
}

static int parse_time_field(struct spec_ctx *c, struct fy_node *key, struct fy_node *val, const char *what,
			    uint32_t *out)
{
	const char *t;
	char q[QBUF];
	uint64_t v;
	int ret;

	path_key(c, key, what);
	ret = get_str(c, val, "a time (e.g. 10ms)", &t);
	if (ret < 0)
		return ret;
	ret = units_time_parse(t, &v);
	if (ret == -ERANGE)
		return fail(c, val, "%s '%s' is above 60s", what, qs(q, sizeof(q), t));
	if (ret < 0)
		return fail(c, val, "'%s' is not a time (try 10ms; units s, ms, us)", qs(q, sizeof(q), t));
	*out = (uint32_t)v;
	path_pop(c);
	return 0;
}

/* rate/ceil/burst/loss/delay/jitter of a link (absent fields stay 0). */
static int parse_shape(struct spec_ctx *c, struct trl_link_shape *sh, struct fy_node *rk, struct fy_node *rv,
		       struct fy_node *ck, struct fy_node *cv, struct fy_node *bk, struct fy_node *bv,
		       struct fy_node *lk, struct fy_node *lv, struct fy_node *dk, struct fy_node *dv,
		       struct fy_node *jk, struct fy_node *jv)
{
	const char *t;
	char q[QBUF];
	int ret;

	if (rv && (ret = parse_rate_field(c, rk, rv, "rate", "leave rate: out for an unshaped link", &sh->rate)) < 0)
		return ret;
	if (cv) {
		if ((ret = parse_rate_field(c, ck, cv, "ceil", "leave ceil: out to cap the link at its rate",
					    &sh->ceil)) < 0)
			return ret;
		path_key(c, ck, "ceil");
		if (!sh->rate)
			return fail(c, cv, "ceil needs a rate: (the guaranteed share it may borrow above)");
		if (sh->ceil < sh->rate) {
			char a[32], b[32];

			units_rate_format(sh->ceil, a, sizeof(a));
			units_rate_format(sh->rate, b, sizeof(b));
			return fail(c, cv, "ceil %s is below the rate %s", a, b);
		}
		path_pop(c);
	}
	if (bv) {
		uint64_t v;

		path_key(c, bk, "burst");
		ret = get_str(c, bv, "a size (e.g. 32k)", &t);
		if (ret < 0)
			return ret;
		ret = units_size_parse(t, &v);
		if (ret < 0)
			return fail(c, bv, "'%s' is not a size (try 32k)", qs(q, sizeof(q), t));
		if (!sh->rate)
			return fail(c, bv, "burst needs a rate: (an unshaped link has no bucket)");
		if (v < 1600 || v > (1ULL << 30))
			return fail(c, bv, "burst '%s' is outside 1600 bytes (one frame) .. 1G", qs(q, sizeof(q), t));
		sh->burst = v;
		path_pop(c);
	}
	if (lv) {
		path_key(c, lk, "loss");
		ret = get_str(c, lv, "a share (e.g. 1%)", &t);
		if (ret < 0)
			return ret;
		ret = units_percent_parse(t, &sh->loss_ppm);
		if (ret == -ERANGE)
			return fail(c, lv, "loss '%s' is above 100%%", qs(q, sizeof(q), t));
		if (ret < 0)
			return fail(c, lv, "'%s' is not a share (try 1%% or 0.01)", qs(q, sizeof(q), t));
		path_pop(c);
	}
	if (dv && (ret = parse_time_field(c, dk, dv, "delay", &sh->delay_us)) < 0)
		return ret;
	if (jv) {
		if ((ret = parse_time_field(c, jk, jv, "jitter", &sh->jitter_us)) < 0)
			return ret;
		if (!sh->delay_us) {
			path_key(c, jk, "jitter");
			return fail(c, jv, "jitter needs a delay: (it varies the delay)");
		}
		if (sh->jitter_us > sh->delay_us) {
			path_key(c, jk, "jitter");
			return fail(c, jv, "jitter is larger than the delay");
		}
	}
	return 0;
}

static int parse_link(struct spec_ctx *c, size_t li, struct fy_node *n)
{
	enum { F_ENDPOINTS, F_IPV4, F_IPV6, F_RATE, F_CEIL, F_BURST, F_LOSS, F_DELAY, F_JITTER };
	struct field f[] = {
		[F_ENDPOINTS] = { .name = "endpoints" }, [F_IPV4] = { .name = "ipv4" },
		[F_IPV6] = { .name = "ipv6" },		 [F_RATE] = { .name = "rate" },
		[F_CEIL] = { .name = "ceil" },		 [F_BURST] = { .name = "burst" },
		[F_LOSS] = { .name = "loss" },		 [F_DELAY] = { .name = "delay" },
		[F_JITTER] = { .name = "jitter" },
	};
	struct trl_link *l = &c->s->links[li];
	int cnt, ret;

	ret = expect_mapping(c, n, "a mapping (endpoints:, ipv4:, ipv6:, rate:, ceil:, burst:, loss:, delay:, jitter:)");
	if (ret < 0)
		return ret;
	ret = map_fields(c, n, f, ARRAY_SIZE(f));
	if (ret < 0)
		return ret;
	l->mark = node_mark(n);
	if (!f[F_ENDPOINTS].val)
		return missing(c, n, "endpoints", " (e.g. endpoints: [r1:eth1, r2:eth1])");

	path_key(c, f[F_ENDPOINTS].key, "endpoints");
	ret = expect_sequence(c, f[F_ENDPOINTS].val, "a sequence of 2 endpoints (router:ifname)");
	if (ret < 0)
		return ret;
	cnt = fy_node_sequence_item_count(f[F_ENDPOINTS].val);
	if (cnt != 2)
		return fail(c, f[F_ENDPOINTS].val, "expected 2 endpoints (router:ifname), got %d", cnt);
	for (int k = 0; k < 2; k++) {
		struct fy_node *item = fy_node_sequence_get_by_index(f[F_ENDPOINTS].val, k);

		path_push(c, item, "[%d]", k);
		ret = parse_endpoint(c, li, k, item);
		if (ret < 0)
			return ret;
		path_pop(c);
	}
	path_pop(c);
	snprintf(l->name, sizeof(l->name), "%s:%s-%s:%s", l->ep[0].router, l->ep[0].ifname,
		 l->ep[1].router, l->ep[1].ifname);

	if (f[F_IPV4].val) {
		path_key(c, f[F_IPV4].key, "ipv4");
		ret = parse_link_addrs(c, li, f[F_IPV4].val, AF_INET);
		if (ret < 0)
			return ret;
		path_pop(c);
	}
	if (f[F_IPV6].val) {
		path_key(c, f[F_IPV6].key, "ipv6");
		ret = parse_link_addrs(c, li, f[F_IPV6].val, AF_INET6);
		if (ret < 0)
			return ret;
		path_pop(c);
	}
	return parse_shape(c, &l->shape, f[F_RATE].key, f[F_RATE].val, f[F_CEIL].key, f[F_CEIL].val,
			   f[F_BURST].key, f[F_BURST].val, f[F_LOSS].key, f[F_LOSS].val, f[F_DELAY].key,
			   f[F_DELAY].val, f[F_JITTER].key, f[F_JITTER].val);
}

static int parse_links(struct spec_ctx *c, struct fy_node *n)
{
	struct trl_slice *s = c->s;
	struct fy_node *item;
	void *it = NULL;
	int cnt, ret;

	path_reset(c);
	path_push(c, n, "links");
	ret = expect_sequence(c, n, "a sequence of links");
	if (ret < 0)
		return ret;
	cnt = fy_node_sequence_item_count(n);
	if (cnt > TRL_MAX_LINKS)
		return fail(c, n, "too many links (%d; at most %d)", cnt, TRL_MAX_LINKS);
	if (cnt <= 0)
		return 0;
	s->links = calloc((size_t)cnt, sizeof(*s->links));
	if (!s->links)
		return trl_error_set(c->err, TRL_EFAILED, "%s: out of memory", c->file);
	while ((item = fy_node_sequence_iterate(n, &it)) && s->n_links < (size_t)cnt) {
		size_t li = s->n_links;

		path_reset(c);
		path_push(c, item, "links[%zu]", li);
		s->n_links++;
		ret = parse_link(c, li, item);
		if (ret < 0)
			return ret;
	}
	path_reset(c);
	return 0;
}

/* Loopbacks must not repeat or overlap each other or any link subnet. */
static int check_loopbacks(struct spec_ctx *c)
{
	const struct trl_slice *s = c->s;
	char q[QBUF], q2[QBUF];

	for (size_t ri = 0; ri < s->n_routers; ri++) {
		const struct trl_router *r = &s->routers[ri];

		for (size_t k = 0; k < r->n_loopback; k++) {
			const struct trl_addr *a = &r->loopback[k];
			struct fy_node *at = c->lo_nodes[ri * TRL_MAX_ADDRS + k];

			path_reset(c);
			path_push(c, at, "routers.%s.loopback[%zu]", r->name, k);
			for (size_t rj = 0; rj <= ri; rj++) {
				const struct trl_router *o = &s->routers[rj];

				for (size_t m = 0; m < o->n_loopback && (rj < ri || m < k); m++) {
					if (same_host(a, &o->loopback[m]))
						return fail(c, at, "duplicate loopback address '%s' (also routers.%s.loopback[%zu])",
							    a->text, o->name, m);
					if (trl_addr_prefix_overlap(a, &o->loopback[m]))
						return fail(c, at, "'%s' overlaps routers.%s.loopback[%zu] (%s)", a->text,
							    o->name, m, o->loopback[m].text);
				}
			}
			for (size_t j = 0; j < s->n_links; j++) {
				const struct trl_link *l = &s->links[j];

				for (size_t m = 0; m < l->ep[0].n_addrs; m++)
					if (trl_addr_prefix_overlap(a, &l->ep[0].addrs[m]))
						return fail(c, at, "'%s' overlaps the subnet of links[%zu] %s (%s)", a->text, j,
							    qs(q2, sizeof(q2), l->name),
							    subnet_text(&l->ep[0].addrs[m], q, sizeof(q)));
			}
		}
	}
	path_reset(c);
	return 0;
}

/* ---- top level ---- */

/* bandwidth: 50mbit, or bandwidth: {rate: 50mbit, ceil: 100mbit} */
static int parse_bandwidth(struct spec_ctx *c, struct fy_node *key, struct fy_node *n)
{
	struct field f[] = { { .name = "rate" }, { .name = "ceil" } };
	struct trl_slice *s = c->s;
	int ret;

	if (fy_node_is_scalar(n)) {
		path_reset(c);
		ret = parse_rate_field(c, key, n, "bandwidth", "leave bandwidth: out for no slice share", &s->bw_rate);
		path_reset(c);
		return ret;
	}
	path_reset(c);
	path_key(c, key, "bandwidth");
	ret = expect_mapping(c, n, "a rate (e.g. 50mbit) or a mapping (rate:, ceil:)");
	if (ret < 0)
		return ret;
	ret = map_fields(c, n, f, ARRAY_SIZE(f));
	if (ret < 0)
		return ret;
	if (!f[0].val)
		return missing(c, n, "rate", " (the slice's guaranteed share, e.g. rate: 50mbit)");
	ret = parse_rate_field(c, f[0].key, f[0].val, "rate", "leave bandwidth: out for no slice share", &s->bw_rate);
	if (ret < 0)
		return ret;
	if (f[1].val) {
		ret = parse_rate_field(c, f[1].key, f[1].val, "ceil", "leave ceil: out to cap the slice at its rate",
				       &s->bw_ceil);
		if (ret < 0)
			return ret;
		if (s->bw_ceil < s->bw_rate) {
			char a[32], b[32];

			path_key(c, f[1].key, "ceil");
			units_rate_format(s->bw_ceil, a, sizeof(a));
			units_rate_format(s->bw_rate, b, sizeof(b));
			return fail(c, f[1].val, "ceil %s is below the rate %s", a, b);
		}
	}
	path_reset(c);
	return 0;
}

/*
 * The slice's aggregate memory and pids must leave every router on a node
 * the minimum one router needs (16M, 16 pids): the aggregate holds on each
 * node separately.
 */
static int check_slice_room(struct spec_ctx *c, struct fy_node *key, struct fy_node *lim)
{
	const struct trl_slice *s = c->s;
	size_t most = 0;
	const char *node = "";
	char q[QBUF];

	for (size_t i = 0; i < s->n_routers; i++) {
		size_t n = 0;

		for (size_t j = 0; j < s->n_routers; j++)
			n += !strcmp(s->routers[i].node, s->routers[j].node);
		if (n > most) {
			most = n;
			node = s->routers[i].node;
		}
	}
	snprintf(q, sizeof(q), node[0] ? " placed on node '%s'" : "%s", node);
	path_reset(c);
	path_key(c, key, "limits");
	if (s->limits.memory && s->limits.memory < (uint64_t)most * (16ULL << 20)) {
		char have[32];

		units_size_format(s->limits.memory, have, sizeof(have));
		path_key(c, lim, "memory");
		return fail(c, fy_node_mapping_lookup_by_string(lim, "memory", 6),
			    "memory '%s' cannot hold the %zu routers%s (each needs at least 16M)", have, most, q);
	}
	if (s->limits.pids && s->limits.pids < (uint64_t)most * 16) {
		path_key(c, lim, "pids");
		return fail(c, fy_node_mapping_lookup_by_string(lim, "pids", 4),
			    "pids %" PRIu64 " cannot hold the %zu routers%s (each needs at least 16)", s->limits.pids, most, q);
	}
	path_reset(c);
	return 0;
}

static int parse_slice(struct spec_ctx *c, struct fy_node *root)
{
	enum { F_SLICE, F_OWNER, F_DESCRIPTION, F_DEFAULTS, F_ROUTERS, F_LINKS, F_TUNNEL, F_BANDWIDTH, F_LIMITS,
	       F_PERSIST, F_PLACEMENT };
	struct field f[] = {
		[F_PERSIST] = { .name = "persist" },
		[F_PLACEMENT] = { .name = "placement" },
		[F_BANDWIDTH] = { .name = "bandwidth" },
		[F_SLICE] = { .name = "slice" },
		[F_OWNER] = { .name = "owner" },
		[F_DESCRIPTION] = { .name = "description" },
		[F_DEFAULTS] = { .name = "router-defaults" },
		[F_ROUTERS] = { .name = "routers" },
		[F_LINKS] = { .name = "links" },
		[F_TUNNEL] = { .name = "tunnel" },
		[F_LIMITS] = { .name = "limits" },
	};
	struct trl_slice *s = c->s;
	const char *t, *why;
	char q[QBUF];
	int ret;

	ret = map_fields(c, root, f, ARRAY_SIZE(f));
	if (ret < 0)
		return ret;

	if (!f[F_SLICE].present)
		return missing(c, root, "slice", " (the slice name, e.g. slice: blue)");
	path_key(c, f[F_SLICE].key, "slice");
	if (!f[F_SLICE].val)
		return fail(c, f[F_SLICE].key, "the slice needs a name (e.g. slice: blue)");
	ret = get_str(c, f[F_SLICE].val, "a slice name", &t);
	if (ret < 0)
		return ret;
	why = names_problem(NAMES_NAME, t);
	if (why)
		return fail(c, f[F_SLICE].val, "invalid slice name '%s': %s", qs(q, sizeof(q), t), why);
	snprintf(s->name, sizeof(s->name), "%s", t);
	path_pop(c);

	if (f[F_OWNER].val) {
		path_key(c, f[F_OWNER].key, "owner");
		ret = parse_owner(c, f[F_OWNER].val);
		if (ret < 0)
			return ret;
		path_pop(c);
	}
	if (f[F_DESCRIPTION].val) {
		path_key(c, f[F_DESCRIPTION].key, "description");
		ret = get_str(c, f[F_DESCRIPTION].val, "a string", &t);
		if (ret < 0)
			return ret;
		s->description = strdup(t);
		if (!s->description)
			return trl_error_set(c->err, TRL_EFAILED, "%s: out of memory", c->file);
		path_pop(c);
	}
	if (f[F_PERSIST].val) {
		path_key(c, f[F_PERSIST].key, "persist");
		ret = get_str(c, f[F_PERSIST].val, "true or false", &t);
		if (ret < 0)
			return ret;
		if (!strcmp(t, "true") || !strcmp(t, "yes"))
			s->persist = 1;
		else if (strcmp(t, "false") && strcmp(t, "no"))
			return fail(c, f[F_PERSIST].val, "'%s' is not true or false", qs(q, sizeof(q), t));
		path_pop(c);
	}
	if (f[F_TUNNEL].val) {
		path_key(c, f[F_TUNNEL].key, "tunnel");
		ret = get_str(c, f[F_TUNNEL].val, "a tunnel kind", &t);
		if (ret < 0)
			return ret;
		if (strcmp(t, "egre") && strcmp(t, "gretap") && strcmp(t, "vxlan"))
			return fail(c, f[F_TUNNEL].val, "unknown tunnel '%s' (egre, gretap or vxlan)", qs(q, sizeof(q), t));
		snprintf(s->tunnel, sizeof(s->tunnel), "%s", t);
		path_pop(c);
	}
	/* Before the routers: each-node forbids their node:. */
	if (f[F_PLACEMENT].val) {
		path_key(c, f[F_PLACEMENT].key, "placement");
		ret = get_str(c, f[F_PLACEMENT].val, "a placement", &t);
		if (ret < 0)
			return ret;
		if (!strcmp(t, "each-node"))
			s->placement = TRL_PLACE_EACH_NODE;
		else if (!strcmp(t, "spread"))
			s->placement = TRL_PLACE_SPREAD;
		else if (!strcmp(t, "pack"))
			s->placement = TRL_PLACE_PACK;
		else
			return fail(c, f[F_PLACEMENT].val, "unknown placement '%s' (each-node, spread or pack)",
				    qs(q, sizeof(q), t));
		path_pop(c);
	}
	if (f[F_BANDWIDTH].val) {
		ret = parse_bandwidth(c, f[F_BANDWIDTH].key, f[F_BANDWIDTH].val);
		if (ret < 0)
			return ret;
	}
	/* Before the routers: their limits are checked against it. */
	if (f[F_LIMITS].val) {
		path_key(c, f[F_LIMITS].key, "limits");
		ret = parse_limits(c, f[F_LIMITS].val, &s->limits, NULL);
		if (ret < 0)
			return ret;
		path_pop(c);
	}
	if (f[F_DEFAULTS].val) {
		struct field d[] = { { .name = "template" }, { .name = "limits" } };
		struct fy_node *n = f[F_DEFAULTS].val;

		path_key(c, f[F_DEFAULTS].key, "router-defaults");
		ret = expect_mapping(c, n, "a mapping (template:, limits:)");
		if (ret < 0)
			return ret;
		ret = map_fields(c, n, d, ARRAY_SIZE(d));
		if (ret < 0)
			return ret;
		if (d[0].val) {
			path_key(c, d[0].key, "template");
			ret = parse_template(c, d[0].val, c->default_template, sizeof(c->default_template));
			if (ret < 0)
				return ret;
			path_pop(c);
		}
		if (d[1].val) {
			path_key(c, d[1].key, "limits");
			ret = parse_limits(c, d[1].val, &s->router_defaults, &s->limits);
			if (ret < 0)
				return ret;
			path_pop(c);
		}
		path_pop(c);
	}

	if (!f[F_ROUTERS].present)
		return missing(c, root, "routers", " (at least one router, e.g. routers: {r1: {}})");
	path_key(c, f[F_ROUTERS].key, "routers");
	if (!f[F_ROUTERS].val)
		return fail(c, f[F_ROUTERS].key, "at least one router is required");
	ret = parse_routers(c, f[F_ROUTERS].val);
	if (ret < 0)
		return ret;
	path_reset(c);
	if (f[F_LIMITS].val) {
		ret = check_slice_room(c, f[F_LIMITS].key, f[F_LIMITS].val);
		if (ret < 0)
			return ret;
	}

	if (f[F_LINKS].val) {
		ret = parse_links(c, f[F_LINKS].val);
		if (ret < 0)
			return ret;
	}
	return check_loopbacks(c);
}

/* ---- YAML loading ---- */

struct yaml {
	struct fy_diag *diag;
	struct fy_parser *fyp;
	struct fy_document *fyd;	/* NULL: empty stream */
	char *copy;			/* the input with a final newline added */
	const char *text;		/* what libfyaml parses: the input or copy */
	size_t len;
};

static void yaml_close(struct yaml *y)
{
	if (y->fyd)
		fy_parse_document_destroy(y->fyp, y->fyd);
	if (y->fyp)
		fy_parser_destroy(y->fyp);
	if (y->diag)
		fy_diag_destroy(y->diag);
	free(y->copy);
	memset(y, 0, sizeof(*y));
}

static int yaml_syntax_error(struct yaml *y, const char *file, struct trl_error *err)
{
	struct fy_diag_error *e;
	void *it = NULL;

	while ((e = fy_diag_errors_iterate(y->diag, &it)))
		if (e->type == FYET_ERROR && e->msg)
			return trl_error_set(err, TRL_EINVALID, "%s:%d:%d: syntax error: %s", file,
					     e->line > 0 ? e->line : 1, e->column > 0 ? e->column : 1, e->msg);
	return trl_error_set(err, TRL_EINVALID, "%s:1:1: syntax error: not valid YAML", file);
}

/*
 * Length of the well-formed UTF-8 sequence at @p (at most @n bytes), or 0:
 * no overlong forms, no surrogates, nothing above U+10FFFF.
 */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/*
 * Refuse input that libfyaml 0.7.12 handles badly before it sees it: C0
 * control characters (YAML forbids them; several of its block scalar paths
 * then return uninitialised bytes), bytes that are not UTF-8 (a directive
 * line with one, "%x\xd3}", makes its scanner loop forever) and long runs
 * of blank lines (folding them is quadratic and grows the stack: a 4 MiB
 * spec of blank lines inside one scalar runs for hours).
 */
static int yaml_prescan(const char *text, size_t len, const char *file, struct trl_error *err)
{
	size_t blank_run = 0;
	int line = 1, col = 1;
	bool blank = true;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)text[i];

		if (ch >= 0x80) {
			size_t n = utf8_seq_len((const unsigned char *)text + i, len - i);

			if (!n)
				return trl_error_set(err, TRL_EINVALID,
						     "%s:%d:%d: syntax error: byte 0x%02x is not valid UTF-8",
						     file, line, col, ch);
			i += n - 1;
			blank = false;
			col++;
			continue;
		}
		if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || ch == 0x7f)
			return trl_error_set(err, TRL_EINVALID, "%s:%d:%d: syntax error: control character 0x%02x is not allowed",
					     file, line, col, ch);
		if (ch == '\n') {
			blank_run = blank ? blank_run + 1 : 0;
			if (blank_run > SPEC_MAX_BLANK_LINES)
				return trl_error_set(err, TRL_EINVALID, "%s:%d:1: syntax error: more than %d blank lines in a row",
						     file, line, SPEC_MAX_BLANK_LINES);
			line++;
			col = 1;
			blank = true;
			continue;
		}
		if (ch != ' ' && ch != '\t' && ch != '\r')
			blank = false;
		col++;
	}
	return 0;
}

/*
 * libfyaml 0.7.12 mis-reads a single-quoted scalar with two escaped quotes
 * in a row ('a''''b' comes out as "a'''" instead of "a''b") and, when the
 * result outgrows the length it computed, leaks its chunk buffer on every
 * read of the node.  Find such scalars (keys too) on the raw text before
 * anything reads them.
 */
static int yaml_quotes_check(struct yaml *y, const char *file, struct trl_error *err)
{
	struct fy_document_iterator *it;
	struct fy_node *n;
	int r = 0;

	it = fy_document_iterator_create();
	if (!it)
		return trl_error_set(err, TRL_EFAILED, "%s: out of memory", file);
	fy_document_iterator_node_start(it, fy_document_root(y->fyd));
	while (!r && (n = fy_document_iterator_node_next(it))) {
		struct fy_token *t;
		const struct fy_mark *sm, *em;

		if (!fy_node_is_scalar(n) || fy_node_get_style(n) != FYNS_SINGLE_QUOTED)
			continue;
		t = fy_node_get_scalar_token(n);
		sm = t ? fy_token_start_mark(t) : NULL;
		em = t ? fy_token_end_mark(t) : NULL;
		if (!sm || !em || sm->input_pos >= em->input_pos || em->input_pos > y->len)
			continue;
		if (memmem(y->text + sm->input_pos, em->input_pos - sm->input_pos, "''''", 4))
			r = trl_error_set(err, TRL_EINVALID,
					  "%s:%d:%d: syntax error: two escaped quotes in a row ('''') in a single-quoted string are not supported; use a double-quoted string",
					  file, sm->line + 1, sm->column);
	}
	fy_document_iterator_destroy(it);
	return r;
}

static int yaml_open(struct yaml *y, const char *text, size_t len, const char *file, struct trl_error *err)
{
	struct fy_parse_cfg cfg;
	struct fy_document *next;
	int r;

	memset(y, 0, sizeof(*y));
	if (len > SPEC_MAX_SIZE)
		return trl_error_set(err, TRL_EINVALID, "%s:1:1: document: spec is %zu bytes; at most 4 MiB", file, len);
	r = yaml_prescan(text, len, file, err);
	if (r < 0)
		return r;
	y->diag = quiet_diag();
	if (!y->diag)
		return trl_error_set(err, TRL_EFAILED, "%s: out of memory", file);
	memset(&cfg, 0, sizeof(cfg));
	cfg.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_ALLOW_DUPLICATE_KEYS | FYPCF_JSON_NONE;
	cfg.diag = y->diag;
	/*
	 * libfyaml 0.7.12 reads uninitialised memory formatting a block scalar
	 * that ends the input without a newline ("config: |\n " at EOF): give
	 * it one.  Positions do not change.
	 */
	if (len && text[len - 1] != '\n') {
		y->copy = malloc(len + 1);
		if (!y->copy) {
			yaml_close(y);
			return trl_error_set(err, TRL_EFAILED, "%s: out of memory", file);
		}
		memcpy(y->copy, text, len);
		y->copy[len++] = '\n';
		text = y->copy;
	}
	y->text = len ? text : "";
	y->len = len;
	y->fyp = fy_parser_create(&cfg);
	if (!y->fyp || fy_parser_set_string(y->fyp, y->text, y->len) < 0) {
		yaml_close(y);
		return trl_error_set(err, TRL_EFAILED, "%s: cannot create YAML parser", file);
	}
	y->fyd = fy_parse_load_document(y->fyp);
	if (fy_diag_got_error(y->diag))
		goto syntax;
	if (!y->fyd)
		return 0;	/* empty stream */
	next = fy_parse_load_document(y->fyp);
	if (next) {
		struct trl_mark m = node_mark(fy_document_root(next));

		fy_parse_document_destroy(y->fyp, next);
		yaml_close(y);
		return trl_error_set(err, TRL_EINVALID, "%s:%d:%d: document: only one YAML document is allowed", file,
				     m.line ? m.line : 1, m.col ? m.col : 1);
	}
	if (fy_diag_got_error(y->diag))
		goto syntax;
	r = yaml_quotes_check(y, file, err);
	if (r < 0)
		yaml_close(y);
	return r;

syntax:
	r = yaml_syntax_error(y, file, err);
	yaml_close(y);
	return r;
}

int spec_parse(const char *text, size_t len, const char *filename, spec_file_resolver resolve,
	       void *resolve_ctx, struct trl_slice **out, struct trl_error *err)
{
	struct spec_ctx c;
	struct yaml y;
	struct fy_node *root;
	int r;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	c.file = filename && *filename ? filename : "<spec>";
	c.err = err;
	c.resolve = resolve;
	c.resolve_ctx = resolve_ctx;
	snprintf(c.default_template, sizeof(c.default_template), "frr");

	r = yaml_open(&y, text, text ? len : 0, c.file, err);
	if (r < 0)
		return r;
	c.text = y.text;
	c.len = y.len;
	root = y.fyd ? fy_document_root(y.fyd) : NULL;
	if (is_null(root)) {
		r = trl_error_set(err, TRL_EINVALID, "%s:1:1: document: empty spec (expected slice: and routers:)", c.file);
		goto out;
	}
	if (!fy_node_is_mapping(root)) {
		r = fail(&c, root, "expected a mapping (slice:, routers:, links:), got %s", kind(root));
		goto out;
	}
	c.s = calloc(1, sizeof(*c.s));
	if (!c.s) {
		r = trl_error_set(err, TRL_EFAILED, "%s: out of memory", c.file);
		goto out;
	}
	r = parse_slice(&c, root);
	if (r == 0)
		*out = TAKE_PTR(c.s);
out:
	trl_slice_free(c.s);
	free(c.router_keys);
	free(c.lo_nodes);
	yaml_close(&y);
	return r;
}

/* ---- referenced files ---- */

static int names_add(char ***names, size_t *n, size_t *cap, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*names)[i], name))
			return 0;
	if (*n + 1 >= *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		char **nn = realloc(*names, nc * sizeof(*nn));

		if (!nn)
			return -ENOMEM;
		*names = nn;
		*cap = nc;
	}
	(*names)[*n] = strdup(name);
	if (!(*names)[*n])
		return -ENOMEM;
	(*n)++;
	(*names)[*n] = NULL;
	return 0;
}

int spec_referenced_files(const char *text, size_t len, char ***names, struct trl_error *err)
{
	struct fy_node *root, *routers;
	struct fy_node_pair *p;
	char **v = NULL;
	size_t n = 0, cap = 0;
	void *it = NULL;
	struct yaml y;
	int r;

	*names = NULL;
	r = yaml_open(&y, text, text ? len : 0, "<spec>", err);
	if (r < 0)
		return r;
	root = y.fyd ? fy_document_root(y.fyd) : NULL;
	routers = root && fy_node_is_mapping(root) ? fy_node_mapping_lookup_by_string(root, "routers", 7) : NULL;
	r = 0;
	while (routers && fy_node_is_mapping(routers) && (p = fy_node_mapping_iterate(routers, &it))) {
		struct fy_node *rn = fy_node_pair_value(p), *cf;
		const char *t;
		size_t tl;

		if (!rn || !fy_node_is_mapping(rn))
			continue;
		cf = fy_node_mapping_lookup_by_string(rn, "config-file", 11);
		if (!cf || !fy_node_is_scalar(cf) || fy_node_get_style(cf) == FYNS_ALIAS ||
		    fy_node_get_style(cf) == FYNS_LITERAL || fy_node_get_style(cf) == FYNS_FOLDED)
			continue;
		t = fy_node_get_scalar(cf, &tl);
		if (!t || !tl || memchr(t, '\0', tl) || !(t = fy_node_get_scalar0(cf)))
			continue;
		r = names_add(&v, &n, &cap, t);
		if (r < 0) {
			r = trl_error_set(err, TRL_EFAILED, "out of memory");
			break;
		}
	}
	yaml_close(&y);
	if (r < 0) {
		spec_free_names(v);
		return r;
	}
	if (!v) {
		v = calloc(1, sizeof(*v));
		if (!v)
			return trl_error_set(err, TRL_EFAILED, "out of memory");
	}
	*names = v;
	return (int)n;
}

void spec_free_names(char **names)
{
	if (!names)
		return;
	for (char **p = names; *p; p++)
		free(*p);
	free(names);
}
