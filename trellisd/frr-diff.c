/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: FRR config difference as vtysh commands
 *
 * frr-reload.py (package frr-pythontools) is not installed with the frr
 * package, and vtysh -b / -f only add statements.  So the difference is made
 * here, for the shape FRR configs have: top-level statements, and blocks (a
 * line, then lines indented below it, with one more level of nesting for
 * address-family and the like).  A statement gone from the new config is
 * negated in its context ("router ospf", then "no network ..."), a whole
 * block gone is negated by its header (interface blocks line by line: FRR
 * keeps a kernel interface's node), then every new or changed block and
 * every new statement is entered whole.  Blocks that did not change get no
 * command at all, so their daemons' adjacencies stay up.  Lines trellisd
 * writes itself (frr defaults, hostname, log, service) are left alone.
 * Pure text in, text out: tests/unit/test-frr-diff.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "reload.h"

#define RELOAD_MAX_CMDS 4096

struct cfg_line {
	char *text;		/* trimmed */
	int indent;
	int block;		/* index of its top-level block */
	int sub;		/* index (in lines) of its sub-block header, or -1 */
};

struct cfg {
	struct cfg_line *l;
	size_t n;
};

/* Lines trellisd writes itself, or that FRR cannot change while it runs. */
static int skipped(const char *t)
{
	return !*t || *t == '!' || *t == '#' || !strcmp(t, "end") || !strcmp(t, "exit") ||
	       !strncmp(t, "exit-", 5) || !strncmp(t, "frr ", 4) || !strncmp(t, "hostname ", 9) ||
	       !strncmp(t, "log ", 4) || !strcmp(t, "service integrated-vtysh-config") || !strcmp(t, "line vty");
}

static void cfg_free(struct cfg *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->l[i].text);
	free(c->l);
	memset(c, 0, sizeof(*c));
}

static int cfg_parse(const char *text, struct cfg *c)
{
	const char *p = text ? text : "";
	int block = -1, sub = -1, sub_indent = 0;

	memset(c, 0, sizeof(*c));
	while (*p) {
		size_t len = strcspn(p, "\n"), a = 0, b;
		int indent = 0;

		while (a < len && (p[a] == ' ' || p[a] == '\t'))
			a++, indent++;
		b = len;
		while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t' || p[b - 1] == '\r'))
			b--;
		if (b > a) {
			char *t = strndup(p + a, b - a);
			struct cfg_line *nl;

			if (!t)
				return -ENOMEM;
			if (skipped(t)) {
				/* exit-address-family and the like close a sub-block. */
				if (!strncmp(t, "exit", 4) && indent > 0)
					sub = -1;
				else if (!indent)
					block = -1, sub = -1;
				free(t);
			} else {
				if (!(nl = realloc(c->l, (c->n + 1) * sizeof(*c->l)))) {
					free(t);
					return -ENOMEM;
				}
				c->l = nl;
				if (!indent) {
					block = (int)c->n;
					sub = -1;
				} else if (sub >= 0 && indent <= sub_indent) {
					sub = -1;
				}
				c->l[c->n] = (struct cfg_line){ .text = t, .indent = indent, .block = block < 0 ? (int)c->n : block,
								.sub = indent ? sub : -1 };
				c->n++;
				if (c->n > RELOAD_MAX_CMDS)
					return -E2BIG;
			}
		}
		p += len;
		if (*p)
			p++;
		/* A line followed by deeper ones heads a sub-block. */
		if (c->n && c->l[c->n - 1].indent > 0 && *p) {
			const char *q = p;
			int next = 0;

			while (*q == ' ' || *q == '\t')
				q++, next++;
			if (*q && *q != '\n' && *q != '!' && next > c->l[c->n - 1].indent && c->l[c->n - 1].sub < 0) {
				sub = (int)c->n - 1;
				sub_indent = c->l[c->n - 1].indent;
			}
		}
	}
	return 0;
}

/* The path of line @i: "block\nsub\ntext", to compare lines across configs. */
static int line_key(const struct cfg *c, size_t i, char *buf, size_t len)
{
	const struct cfg_line *l = &c->l[i];

	return snprintf(buf, len, "%s\n%s\n%s", l->indent ? c->l[l->block].text : "",
			l->sub >= 0 ? c->l[l->sub].text : "", l->text);
}

static int cfg_has(const struct cfg *c, const struct cfg *from, size_t i)
{
	char a[2048], b[2048];

	line_key(from, i, a, sizeof(a));
	for (size_t k = 0; k < c->n; k++) {
		line_key(c, k, b, sizeof(b));
		if (!strcmp(a, b))
			return 1;
	}
	return 0;
}

/* Is block header @h of @c (its lines) unchanged in @o? */
static int block_same(const struct cfg *c, size_t h, const struct cfg *o)
{
	size_t n_c = 0, n_o = 0;
	long oh = -1;

	for (size_t k = 0; k < o->n; k++)
		if (!o->l[k].indent && !strcmp(o->l[k].text, c->l[h].text))
			oh = (long)k;
	if (oh < 0)
		return 0;
	for (size_t k = 0; k < c->n; k++)
		if (c->l[k].block == (int)h && k != h) {
			n_c++;
			if (!cfg_has(o, c, k))
				return 0;
		}
	for (size_t k = 0; k < o->n; k++)
		if (o->l[k].block == (int)oh && k != (size_t)oh)
			n_o++;
	return n_c == n_o;
}

struct cmds {
	char **v;
	size_t n;
	int oom;
};

static void cmd(struct cmds *c, const char *prefix, const char *text)
{
	char **nv;
	char *s;

	if (c->oom || asprintf(&s, "%s%s", prefix, text) < 0) {
		c->oom = 1;
		return;
	}
	if (!(nv = realloc(c->v, (c->n + 2) * sizeof(*c->v)))) {
		free(s);
		c->oom = 1;
		return;
	}
	c->v = nv;
	c->v[c->n++] = s;
	c->v[c->n] = NULL;
}

static void cmds_free(struct cmds *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i]);
	free(c->v);
}

/* "no X" for X, X for "no X". */
static void negate(struct cmds *c, const char *text)
{
	if (!strncmp(text, "no ", 3))
		cmd(c, "", text + 3);
	else
		cmd(c, "no ", text);
}

int reload_frr_commands(const char *old_config, const char *new_config, char ***out, size_t *n_out)
{
	struct cfg o, n;
	struct cmds c = { 0 };
	int r;

	*out = NULL;
	*n_out = 0;
	if ((r = cfg_parse(old_config, &o)) < 0 || (r = cfg_parse(new_config, &n)) < 0) {
		cfg_free(&o);
		cfg_free(&n);
		return r;
	}
	cmd(&c, "", "configure terminal");
	/* What is gone. */
	for (size_t i = 0; i < o.n; i++) {
		const struct cfg_line *l = &o.l[i];
		int header = !l->indent, has_body = i + 1 < o.n && o.l[i + 1].block == (int)i && o.l[i + 1].indent;

		if (header) {
			int in_new = 0;

			for (size_t k = 0; k < n.n; k++)
				if (!n.l[k].indent && !strcmp(n.l[k].text, l->text))
					in_new = 1;
			if (in_new)
				continue;
			if (!has_body || strncmp(l->text, "interface ", 10)) {
				negate(&c, l->text);
				continue;
			}
			/* An interface's node stays: its statements go one by one (below). */
			continue;
		}
		if (cfg_has(&n, &o, i))
			continue;
		/* A removed block (not an interface) went with its header. */
		{
			int block_in_new = 0;

			for (size_t k = 0; k < n.n; k++)
				if (!n.l[k].indent && !strcmp(n.l[k].text, o.l[l->block].text))
					block_in_new = 1;
			if (!block_in_new && strncmp(o.l[l->block].text, "interface ", 10))
				continue;
		}
		/* A statement that heads a sub-block goes whole when it is gone. */
		cmd(&c, "", o.l[l->block].text);
		if (l->sub >= 0) {
			if (!cfg_has(&n, &o, (size_t)l->sub)) {
				cmd(&c, "", "exit");
				continue;
			}
			cmd(&c, "", o.l[l->sub].text);
		}
		negate(&c, l->text);
		if (l->sub >= 0)
			cmd(&c, "", "exit");
		cmd(&c, "", "exit");
	}
	/* What is new or changed: whole blocks, entered as written. */
	for (size_t i = 0; i < n.n; i++) {
		const struct cfg_line *l = &n.l[i];

		if (l->indent)
			continue;
		if (block_same(&n, i, &o))
			continue;
		cmd(&c, "", l->text);
		for (size_t k = i + 1; k < n.n && n.l[k].block == (int)i && n.l[k].indent; k++) {
			if (n.l[k].sub < 0 && k > i + 1 && n.l[k - 1].sub >= 0)
				cmd(&c, "", "exit");
			cmd(&c, "", n.l[k].text);
		}
		if (i + 1 < n.n && n.l[i + 1].block == (int)i && n.l[i + 1].indent) {
			size_t last = i + 1;

			while (last + 1 < n.n && n.l[last + 1].block == (int)i && n.l[last + 1].indent)
				last++;
			if (n.l[last].sub >= 0)
				cmd(&c, "", "exit");
			cmd(&c, "", "exit");
		}
	}
	cmd(&c, "", "end");
	cfg_free(&o);
	cfg_free(&n);
	if (c.oom) {
		cmds_free(&c);
		return -ENOMEM;
	}
	*out = c.v;
	*n_out = c.n;
	return 0;
}

void reload_commands_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
