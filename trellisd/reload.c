/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: routing config reload: a router's new config without a restart
 *
 * slice apply changes a running router's routing config in place: the new
 * files are written into its rootfs (container_routing_write) and the
 * routing daemons told.
 *
 * FRR: frr-reload.py (package frr-pythontools) is not installed with the frr
 * package, and vtysh -b / -f only add statements.  So the difference is made
 * here, for the shape FRR configs have: top-level statements, and blocks (a
 * line, then lines indented below it, one more level of nesting for
 * address-family and the like).  A statement gone from the new config is
 * negated in its context ("router ospf" / " no network ..."), a whole block
 * gone is negated by its header (interface blocks line by line: FRR keeps a
 * kernel interface's node), then every new or changed block and every new
 * statement is entered whole.  Unchanged blocks are not touched: their
 * daemons see no command at all, so adjacencies stay up.  The commands run
 * as one vtysh session inside the router (vtysh -c ... -c ...); a command
 * FRR refuses fails the reload.
 *
 * BIRD: bird.conf and spec.conf are rewritten, then 'birdc configure'
 * (BIRD reconfigures protocols in place where it can).
 */
#define LOG_MODULE "reload"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "container.h"
#include "escape.h"
#include "log.h"
#include "reload.h"
#include "util.h"

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

/* Run @argv in the router, its output into @why (trimmed). */
static int run_in(const struct container_spec *cs, char *const argv[], int *status, char *why, size_t len,
		  struct trl_error *err)
{
	int out = memfd_create("reload", MFD_CLOEXEC), null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int fds[3] = { null, out, out };
	struct container_io io = { .tty = 0, .fds = fds, .conn_fd = -1 };
	ssize_t n;
	int r;

	why[0] = '\0';
	if (out < 0 || null < 0) {
		r = trl_error_errno(err, TRL_EFAILED, errno, "memfd");
		goto out;
	}
	r = container_exec(cs->lxcpath, cs->name, argv, &io, status, err);
	if (r == 0 && (n = pread(out, why, len - 1, 0)) > 0) {
		why[n] = '\0';
		while (n > 0 && (why[n - 1] == '\n' || why[n - 1] == ' '))
			why[--n] = '\0';
	}
out:
	if (out >= 0)
		close(out);
	if (null >= 0)
		close(null);
	return r;
}

int reload_router(const struct container_spec *cs, const char *old_config, struct trl_error *err)
{
	const char *router = cs->router->name;
	char why[1024];
	int status = 0, r;

	if (!cs->tpl->routing_frr && !cs->tpl->routing_bird)
		return trl_error_set(err, TRL_EUNAVAIL, "router '%s': template '%s' has no routing daemon to reload",
				     router, cs->tpl->name);
	if ((r = container_routing_write(cs, err)) < 0)
		return trl_error_prefix(err, "router '%s'", router);
	if (cs->tpl->routing_bird) {
		char *argv[] = { "birdc", "configure", NULL };

		if ((r = run_in(cs, argv, &status, why, sizeof(why), err)) < 0)
			return trl_error_prefix(err, "router '%s': birdc configure", router);
		/* birdc exits 0 on a refused config too: its reply says (0003 Reconfigured, 0004 in progress). */
		if (status != 0 || !strstr(why, "econfigur") || strstr(why, "rror"))
			return trl_error_set(err, TRL_EFAILED, "router '%s': birdc configure: %s", router,
					     ESC_TEXT(why[0] ? why : "failed"));
		return 0;
	}
	{
		char **cmds = NULL, **argv;
		size_t n = 0;

		if ((r = reload_frr_commands(old_config, cs->router->config, &cmds, &n)) < 0)
			return trl_error_errno(err, r == -E2BIG ? TRL_ELIMIT : TRL_EFAILED, -r,
					       "router '%s': config reload", router);
		argv = calloc(2 * n + 2, sizeof(*argv));
		if (!argv) {
			reload_commands_free(cmds, n);
			return trl_error_set(err, TRL_EFAILED, "out of memory");
		}
		argv[0] = "vtysh";
		for (size_t i = 0; i < n; i++) {
			argv[1 + 2 * i] = "-c";
			argv[2 + 2 * i] = cmds[i];
		}
		log_debug("router '%s': vtysh with %zu commands", router, n);
		r = run_in(cs, argv, &status, why, sizeof(why), err);
		free(argv);
		reload_commands_free(cmds, n);
		if (r < 0)
			return trl_error_prefix(err, "router '%s': vtysh", router);
		if (status != 0)
			return trl_error_set(err, TRL_EFAILED, "router '%s': FRR refused the new config (vtysh exit %d): %s",
					     router, status, ESC_TEXT(why[0] ? why : "no message"));
	}
	return 0;
}
