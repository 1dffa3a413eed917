/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: containerlab topologies -> trellis slice specs
 *
 * A containerlab topology ("name:", "topology: {nodes, links, kinds,
 * defaults}", "mgmt:") becomes a spec the daemon validates like any other:
 *
 *   name                      -> slice
 *   nodes.N (kind linux, an FRR image) -> routers.N, template frr
 *   binds SRC:/etc/frr/frr.conf        -> config-file: SRC
 *   binds SRC:/etc/frr/daemons         -> daemons: [the daemons SRC turns on]
 *   links[].endpoints [A:IF, B:IF]     -> links[].endpoints
 *   kinds.linux, defaults              -> what the nodes inherit
 *   mgmt                               -> ignored, with a note
 *
 * Anything else (other kinds, other images, exec hooks, other binds, links
 * to the host) is refused with the field and the reason.  This runs in the
 * CLI, on the user's own file; the daemon sees only the resulting spec.
 */
#include "config.h"

#include <errno.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clab.h"
#include "names.h"
#include "util.h"

#define CLAB_MAX_DAEMONS 16

struct clab {
	const char *file;
	struct trl_error *err;
	clab_read_fn read;
	void *ctx;
	FILE *out, *notes;
	struct fy_node *nodes;			/* topology.nodes */
	struct fy_node *kind_linux;		/* topology.kinds.linux, or NULL */
	struct fy_node *defaults;		/* topology.defaults, or NULL */
};

int clab_detect(const char *name, const char *text, size_t len)
{
	size_t n = strlen(name);
	int topology = 0, slice = 0;

	if ((n > 9 && !strcmp(name + n - 9, ".clab.yml")) || (n > 10 && !strcmp(name + n - 10, ".clab.yaml")))
		return 1;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t l = nl ? (size_t)(nl - (text + i)) : len - i;

		if (l >= 9 && !strncmp(text + i, "topology:", 9))
			topology = 1;
		if (l >= 6 && !strncmp(text + i, "slice:", 6))
			slice = 1;
		i += l + 1;
	}
	return topology && !slice;
}

/* "FILE:LINE:COL: FIELD: why", at @at (a scalar: a key or a value) when it has a position. */
static int fail(struct clab *c, struct fy_node *at, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(struct clab *c, struct fy_node *at, const char *field, const char *fmt, ...)
{
	struct fy_token *t = at && fy_node_is_scalar(at) ? fy_node_get_scalar_token(at) : NULL;
	const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (m)
		return trl_error_set(c->err, TRL_EINVALID, "%s:%d:%d: %s: %s", c->file, m->line + 1, m->column + 1,
				     field, why);
	return trl_error_set(c->err, TRL_EINVALID, "%s: %s: %s", c->file, field, why);
}

/* A scalar's text, or NULL (not a scalar, or null). */
static const char *scalar(struct fy_node *n)
{
	const char *s;

	if (!n || !fy_node_is_scalar(n))
		return NULL;
	s = fy_node_get_scalar0(n);
	return s && *s ? s : NULL;
}

static const char *key_text(struct fy_node_pair *p)
{
	return scalar(fy_node_pair_key(p)) ?: "";
}

/* Is @key one of @keys (NULL-terminated)? Else fail naming what is read there. */
static int check_keys(struct clab *c, struct fy_node *map, const char *field, const char *const *keys,
		      const char *why)
{
	struct fy_node_pair *p;
	void *it = NULL;

	if (!map)
		return 0;
	if (!fy_node_is_mapping(map))
		return fail(c, map, field, "must be a mapping");
	while ((p = fy_node_mapping_iterate(map, &it))) {
		const char *k = key_text(p);
		size_t i;

		for (i = 0; keys[i] && strcmp(keys[i], k); i++)
			;
		if (!keys[i])
			return fail(c, fy_node_pair_key(p), field, "'%s' is not supported (%s)", k, why);
	}
	return 0;
}

static struct fy_node *get(struct fy_node *map, const char *key)
{
	return map && fy_node_is_mapping(map) ? fy_node_mapping_lookup_by_string(map, key, FY_NT) : NULL;
}

/* The key node of @key in @map, for positions. */
static struct fy_node *key_node(struct fy_node *map, const char *key)
{
	return map && fy_node_is_mapping(map) ? fy_node_mapping_lookup_key_by_string(map, key, FY_NT) : NULL;
}

/* A path or file name as a double-quoted YAML scalar. */
static void put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* The daemons an FRR daemons file turns on ("ospfd=yes"); zebra, staticd and
 * the like always run in a trellis router. */
static int daemons_from(struct clab *c, const char *text, const char *field, struct fy_node *at,
			char daemons[][16], size_t *n)
{
	static const char *const always[] = { "zebra", "staticd", "mgmtd", "watchfrr" };

	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t l = nl ? (size_t)(nl - line) : strlen(line), name;
		char d[16];
		int skip = 0;

		name = strspn(line, "abcdefghijklmnopqrstuvwxyz0123456789");
		if (name && name < sizeof(d) && name < l && line[name] == '=' && l - name - 1 >= 3 &&
		    !strncmp(line + name + 1, "yes", 3)) {
			memcpy(d, line, name);
			d[name] = '\0';
			for (size_t i = 0; i < ARRAY_SIZE(always); i++)
				skip |= !strcmp(d, always[i]);
			for (size_t i = 0; i < *n; i++)
				skip |= !strcmp(d, daemons[i]);
			if (!skip) {
				if (*n == CLAB_MAX_DAEMONS)
					return fail(c, at, field, "turns on more than %d daemons", CLAB_MAX_DAEMONS);
				memcpy(daemons[(*n)++], d, name + 1);
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

/* One bind "SRC:DST[:MODE]" of node @name. */
static int bind_one(struct clab *c, const char *name, struct fy_node *b, const char **config, char daemons[][16],
		    size_t *nd, int *have_daemons)
{
	char field[96], src[512];
	const char *s = scalar(b), *dst, *end;
	size_t sl;
	int r;

	snprintf(field, sizeof(field), "topology.nodes.%s.binds", name);
	if (!s)
		return fail(c, b, field, "a bind must be a string SRC:DST");
	dst = strchr(s, ':');
	if (!dst || dst == s)
		return fail(c, b, field, "'%s' is not SRC:DST", s);
	sl = (size_t)(dst - s);
	if (sl >= sizeof(src))
		return fail(c, b, field, "the source path is too long");
	memcpy(src, s, sl);
	src[sl] = '\0';
	dst++;
	end = strchr(dst, ':');
	if (end && strcmp(end, ":ro") && strcmp(end, ":rw"))
		return fail(c, b, field, "'%s': the mode must be ro or rw", s);
	sl = end ? (size_t)(end - dst) : strlen(dst);
	if (src[0] == '/' && strncmp(dst, "/etc/frr/vtysh.conf", sl))
		return fail(c, b, field,
			    "'%s' is an absolute path: trellis reads bound files relative to the topology's directory", src);
	if (sl == strlen("/etc/frr/frr.conf") && !strncmp(dst, "/etc/frr/frr.conf", sl)) {
		if (*config)
			return fail(c, b, field, "a second frr.conf bind");
		*config = fy_node_get_scalar0(b);	/* the source is its prefix: copied below */
		return 0;
	}
	if (sl == strlen("/etc/frr/daemons") && !strncmp(dst, "/etc/frr/daemons", sl)) {
		_cleanup_free_ char *text = NULL;

		if (*have_daemons)
			return fail(c, b, field, "a second daemons bind");
		*have_daemons = 1;
		r = c->read(c->ctx, src, &text, c->err);
		if (r < 0) {
			trl_error_prefix(c->err, "%s: %s: daemons file", c->file, field);
			return r;
		}
		return daemons_from(c, text, field, b, daemons, nd);
	}
	if (sl == strlen("/etc/frr/vtysh.conf") && !strncmp(dst, "/etc/frr/vtysh.conf", sl)) {
		fprintf(c->notes, "%s: '%s' ignored: the frr template has its own vtysh.conf\n", field, s);
		return 0;
	}
	return fail(c, b, field, "'%.*s': trellis binds only /etc/frr/frr.conf and /etc/frr/daemons into a router",
		    (int)sl, dst);
}

static int binds_of(struct clab *c, const char *name, struct fy_node *list, const char **config,
		    char daemons[][16], size_t *nd, int *have_daemons)
{
	struct fy_node *b;
	void *it = NULL;
	char field[96];
	int r;

	if (!list)
		return 0;
	snprintf(field, sizeof(field), "topology.nodes.%s.binds", name);
	if (!fy_node_is_sequence(list))
		return fail(c, list, field, "must be a list of SRC:DST");
	while ((b = fy_node_sequence_iterate(list, &it)))
		if ((r = bind_one(c, name, b, config, daemons, nd, have_daemons)) < 0)
			return r;
	return 0;
}

static int node_one(struct clab *c, struct fy_node_pair *p)
{
	static const char *const node_keys[] = { "kind", "image", "binds", NULL };
	struct fy_node *key = fy_node_pair_key(p), *n = fy_node_pair_value(p), *at;
	const char *name = key_text(p), *kind, *image, *config = NULL, *problem;
	char daemons[CLAB_MAX_DAEMONS][16], field[96];
	size_t nd = 0;
	int have_daemons = 0, r;

	snprintf(field, sizeof(field), "topology.nodes.%s", name);
	if ((problem = names_problem(NAMES_NAME, name)))
		return fail(c, key, field, "'%s' cannot be a router name: %s", name, problem);
	if (n && !fy_node_is_mapping(n) && scalar(n))
		return fail(c, n, field, "must be a mapping");
	if (get(n, "exec"))
		return fail(c, key_node(n, "exec"), field,
			    "exec: trellis runs no commands in a router at start (put addresses and routes in its frr.conf)");
	if ((r = check_keys(c, n, field, node_keys, "trellis reads kind, image and binds of a node")) < 0)
		return r;
	kind = scalar(get(n, "kind")) ?: scalar(get(c->defaults, "kind"));
	at = get(n, "kind") ? get(n, "kind") : key;
	snprintf(field, sizeof(field), "topology.nodes.%s.kind", name);
	if (!kind)
		return fail(c, at, field, "missing (trellis runs nodes of kind linux)");
	if (strcmp(kind, "linux"))
		return fail(c, at, field, "'%s' is not supported: trellis runs kind linux nodes with an FRR image", kind);
	image = scalar(get(n, "image")) ?: scalar(get(c->kind_linux, "image")) ?: scalar(get(c->defaults, "image"));
	at = get(n, "image") ? get(n, "image") : key;
	snprintf(field, sizeof(field), "topology.nodes.%s.image", name);
	if (!image)
		return fail(c, at, field, "missing (an FRR image, e.g. frrouting/frr)");
	if (!strcasestr(image, "frr"))
		return fail(c, at, field,
			    "'%s' cannot run as a trellis template: trellis runs FRR images (as its frr template)", image);
	if ((r = binds_of(c, name, get(c->defaults, "binds"), &config, daemons, &nd, &have_daemons)) < 0 ||
	    (r = binds_of(c, name, get(c->kind_linux, "binds"), &config, daemons, &nd, &have_daemons)) < 0 ||
	    (r = binds_of(c, name, get(n, "binds"), &config, daemons, &nd, &have_daemons)) < 0)
		return r;
	fprintf(c->out, "  %s:\n    template: frr\n", name);
	if (nd) {
		fputs("    daemons: [", c->out);
		for (size_t i = 0; i < nd; i++)
			fprintf(c->out, "%s%s", i ? ", " : "", daemons[i]);
		fputs("]\n", c->out);
	}
	if (config) {
		char src[512];

		snprintf(src, sizeof(src), "%.*s", (int)strcspn(config, ":"), config);
		fputs("    config-file: ", c->out);
		put_quoted(c->out, src);
		fputc('\n', c->out);
	}
	return 0;
}

static int endpoint(struct clab *c, struct fy_node *e, const char *field)
{
	const char *s = scalar(e), *colon, *problem;
	char node[64];

	if (!s || !(colon = strchr(s, ':')) || colon == s || (size_t)(colon - s) >= sizeof(node))
		return fail(c, e, field, "'%s' is not NODE:INTERFACE", s ? s : "");
	snprintf(node, sizeof(node), "%.*s", (int)(colon - s), s);
	if (!get(c->nodes, node))
		return fail(c, e, field,
			    "'%s': '%s' is not a node of the topology (links to the host, macvlan and the like are not supported)",
			    s, node);
	if ((problem = names_problem(NAMES_IFNAME, colon + 1)))
		return fail(c, e, field, "'%s': '%s' cannot be an interface name: %s", s, colon + 1, problem);
	return 0;
}

static int links_of(struct clab *c, struct fy_node *links)
{
	static const char *const link_keys[] = { "endpoints", NULL };
	struct fy_node *l;
	void *it = NULL;
	int i = 0, r;

	if (!links)
		return 0;
	if (!fy_node_is_sequence(links))
		return fail(c, links, "topology.links", "must be a list");
	if (fy_node_sequence_item_count(links))
		fputs("links:\n", c->out);
	while ((l = fy_node_sequence_iterate(links, &it))) {
		struct fy_node *eps = get(l, "endpoints");
		char field[64];

		snprintf(field, sizeof(field), "topology.links[%d]", i);
		if ((r = check_keys(c, l, field, link_keys, "trellis reads the endpoints of a link")) < 0)
			return r;
		snprintf(field, sizeof(field), "topology.links[%d].endpoints", i);
		if (!eps || !fy_node_is_sequence(eps) || fy_node_sequence_item_count(eps) != 2)
			return fail(c, eps ? eps : key_node(l, "endpoints"), field, "must list two NODE:INTERFACE endpoints");
		if ((r = endpoint(c, fy_node_sequence_get_by_index(eps, 0), field)) < 0 ||
		    (r = endpoint(c, fy_node_sequence_get_by_index(eps, 1), field)) < 0)
			return r;
		fprintf(c->out, "  - endpoints: [%s, %s]\n", scalar(fy_node_sequence_get_by_index(eps, 0)),
			scalar(fy_node_sequence_get_by_index(eps, 1)));
		i++;
	}
	return 0;
}

static int translate(struct clab *c, struct fy_node *root)
{
	static const char *const top_keys[] = { "name", "mgmt", "topology", NULL };
	static const char *const topo_keys[] = { "nodes", "links", "kinds", "defaults", NULL };
	static const char *const inherit_keys[] = { "kind", "image", "binds", NULL };
	struct fy_node *topo, *kinds;
	struct fy_node_pair *p;
	const char *name, *problem;
	void *it = NULL;
	int r;

	if (!root || !fy_node_is_mapping(root))
		return fail(c, root, "document", "a containerlab topology is a mapping (name:, topology:)");
	if ((r = check_keys(c, root, "topology file", top_keys, "trellis reads name, topology and mgmt")) < 0)
		return r;
	name = scalar(get(root, "name"));
	if (!name)
		return fail(c, key_node(root, "name"), "name", "missing: the lab's name becomes the slice's");
	if ((problem = names_problem(NAMES_NAME, name)))
		return fail(c, get(root, "name"), "name", "'%s' cannot be a slice name: %s", name, problem);
	if (get(root, "mgmt") || key_node(root, "mgmt"))
		fprintf(c->notes, "mgmt: ignored: trellis routers have no management network (use trellis slice exec or login)\n");
	topo = get(root, "topology");
	if (!topo || !fy_node_is_mapping(topo))
		return fail(c, key_node(root, "topology"), "topology", "missing or not a mapping");
	if ((r = check_keys(c, topo, "topology", topo_keys, "trellis reads nodes, links, kinds and defaults")) < 0)
		return r;
	kinds = get(topo, "kinds");
	if (kinds && !fy_node_is_mapping(kinds))
		return fail(c, key_node(topo, "kinds"), "topology.kinds", "must be a mapping");
	c->kind_linux = get(kinds, "linux");
	c->defaults = get(topo, "defaults");
	if ((r = check_keys(c, c->kind_linux, "topology.kinds.linux", inherit_keys,
			    "trellis reads kind, image and binds")) < 0 ||
	    (r = check_keys(c, c->defaults, "topology.defaults", inherit_keys, "trellis reads kind, image and binds")) < 0)
		return r;
	c->nodes = get(topo, "nodes");
	if (!c->nodes || !fy_node_is_mapping(c->nodes) || !fy_node_mapping_item_count(c->nodes))
		return fail(c, key_node(topo, "nodes"), "topology.nodes", "missing or empty");
	fprintf(c->out, "# from the containerlab topology %s (trellis-slice(5), CONTAINERLAB TOPOLOGIES)\n", c->file);
	fprintf(c->out, "slice: %s\nrouters:\n", name);
	while ((p = fy_node_mapping_iterate(c->nodes, &it)))
		if ((r = node_one(c, p)) < 0)
			return r;
	return links_of(c, get(topo, "links"));
}

static void quiet(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	(void)diag;
	(void)user;
	(void)buf;
	(void)len;
}

int clab_to_spec(const char *text, size_t len, const char *file, clab_read_fn read, void *ctx, char **spec,
		 char **notes, struct trl_error *err)
{
	struct clab c = { .file = file, .err = err, .read = read, .ctx = ctx };
	struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_JSON_NONE };
	struct fy_document *doc;
	struct fy_diag_cfg dc;
	size_t slen = 0, nlen = 0;
	char *nbuf = NULL;
	int r;

	*spec = NULL;
	*notes = NULL;
	/* libfyaml's messages are collected, not printed: the first is the error's */
	fy_diag_cfg_default(&dc);
	dc.fp = NULL;
	dc.output_fn = quiet;
	dc.level = FYET_ERROR;
	dc.colorize = false;
	cfg.diag = fy_diag_create(&dc);
	if (!cfg.diag)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	fy_diag_set_collect_errors(cfg.diag, true);
	doc = fy_document_build_from_string(&cfg, text, len);
	if (!doc) {
		struct fy_diag_error *e;
		void *it = NULL;

		while ((e = fy_diag_errors_iterate(cfg.diag, &it)) && !(e->type == FYET_ERROR && e->msg))
			;
		if (e)
			r = trl_error_set(err, TRL_EINVALID, "%s:%d:%d: not a YAML document: %s", file,
					  e->line > 0 ? e->line : 1, e->column > 0 ? e->column : 1, e->msg);
		else
			r = trl_error_set(err, TRL_EINVALID, "%s: not a YAML document", file);
		fy_diag_destroy(cfg.diag);
		return r;
	}
	c.out = open_memstream(spec, &slen);
	c.notes = open_memstream(&nbuf, &nlen);
	if (!c.out || !c.notes) {
		r = trl_error_set(err, TRL_EFAILED, "out of memory");
	} else {
		r = translate(&c, fy_document_root(doc));
	}
	if (c.out)
		fclose(c.out);
	if (c.notes)
		fclose(c.notes);
	fy_document_destroy(doc);
	fy_diag_destroy(cfg.diag);
	if (r < 0) {
		free(*spec);
		*spec = NULL;
		free(nbuf);
		return r;
	}
	if (nlen)
		*notes = nbuf;
	else
		free(nbuf);
	return 0;
}
