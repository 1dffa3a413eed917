/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: multi-node slices from the CLI
 *
 * With --node NAME=SOCKET (repeated) or --nodes FILE, one spec is deployed
 * over several trellisd nodes, PlanetLab-style, without a cluster store:
 *
 *   1. the spec is parsed here to see which node each router is placed on;
 *   2. every node used is asked (node.show) for its outer address and the
 *      link keys it uses; the slice's links get keys none of them uses,
 *      drawn at random (cluster_keys_pick: an EGRE key on the substrate must
 *      not be guessable), the same for both halves of a cross-node link;
 *   3. each node gets the same spec plus a placement {nodes, keys} and
 *      realizes its own routers and its half of every cross-node link;
 *   4. if any node fails, the slice is deleted on every node.
 *
 * Two clients racing for the same keys are caught by the nodes (a key in use
 * is refused) and the loser rolls back.
 *
 * slice apply goes the same way (cli_multi_apply): every node that holds a
 * part of the slice gets the edited spec with a placement (the nodes'
 * addresses, the links' keys: kept ones as they are, new links' drawn as
 * above) and changes its part; a node the edit newly places routers on gets
 * a create of its part; a node the edit leaves without routers loses its part
 * once every node applied.  When a node fails, the nodes done so far are put
 * back: an apply of the spec they ran before (each reply carries it), a
 * delete of a part just created.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "cluster.h"
#include "names.h"
#include "print.h"
#include "spec.h"
#include "util.h"

int cli_nodes_add(struct cli *cli, const char *arg, struct trl_error *err)
{
	const char *eq = strchr(arg, '=');
	char name[64];

	if (!eq || eq == arg || !eq[1])
		return trl_error_set(err, TRL_EINVALID, "--node '%s': expected NAME=SOCKET", arg);
	snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
	if (!names_valid(name))
		return trl_error_set(err, TRL_EINVALID, "--node '%s': '%s' is not a valid node name", arg, name);
	for (int i = 0; i < cli->n_nodes; i++)
		if (!strcmp(cli->nodes[i].name, name))
			return trl_error_set(err, TRL_EINVALID, "--node: node '%s' given twice", name);
	if (cli->n_nodes >= CLI_MAX_NODES)
		return trl_error_set(err, TRL_ELIMIT, "--node: at most %d nodes", CLI_MAX_NODES);
	snprintf(cli->nodes[cli->n_nodes].name, sizeof(cli->nodes[0].name), "%s", name);
	cli->nodes[cli->n_nodes++].socket = eq + 1;
	return 0;
}

int cli_nodes_file(struct cli *cli, const char *path, struct trl_error *err)
{
	_cleanup_free_ char *text = NULL;
	char *save = NULL;
	int r, lineno = 0;

	r = util_read_file(path, 1 << 20, &text, NULL);
	if (r < 0)
		return trl_error_errno(err, TRL_EINVALID, -r, "--nodes: cannot read '%s'", path);
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *name, *sock, *extra, *s2 = NULL;
		char arg[4200];

		lineno++;
		if (strchr(line, '#'))
			*strchr(line, '#') = '\0';
		name = strtok_r(line, " \t", &s2);
		if (!name)
			continue;
		sock = strtok_r(NULL, " \t", &s2);
		extra = strtok_r(NULL, " \t", &s2);
		if (!sock || extra)
			return trl_error_set(err, TRL_EINVALID, "%s:%d: expected 'NAME SOCKET'", path, lineno);
		if (strlen(sock) >= sizeof(cli->nodes[0].path))
			return trl_error_set(err, TRL_EINVALID, "%s:%d: socket path is longer than %zu bytes", path,
					     lineno, sizeof(cli->nodes[0].path) - 1);
		snprintf(arg, sizeof(arg), "%s=%s", name, sock);
		if (cli_nodes_add(cli, arg, err) < 0)
			return trl_error_prefix(err, "%s:%d", path, lineno);
		/* Copied: @text is freed on return. */
		snprintf(cli->nodes[cli->n_nodes - 1].path, sizeof(cli->nodes[0].path), "%s", sock);
		cli->nodes[cli->n_nodes - 1].socket = cli->nodes[cli->n_nodes - 1].path;
	}
	return 0;
}

/* One request to node @nd, its progress lines labelled with the node; an error names it. */
static int node_call(struct cli *cli, const struct cli_node *nd, json_t *req, json_t **res, struct trl_error *err)
{
	char label[64];
	int r;

	snprintf(label, sizeof(label), "node '%s'", nd->name);
	cli->label = label;
	r = cli_request(cli, nd->socket, req, NULL, 0, res, err);
	cli->label = NULL;
	if (r < 0)
		trl_error_prefix(err, "node '%s'", nd->name);
	return r;
}

static const struct cli_node *node_find(struct cli *cli, const char *name)
{
	for (int i = 0; i < cli->n_nodes; i++)
		if (!strcmp(cli->nodes[i].name, name))
			return &cli->nodes[i];
	return NULL;
}

static int files_resolver(void *ctx, const char *name, char **out)
{
	json_t *v = json_object_get(ctx, name);

	if (!json_is_string(v))
		return -ENOENT;
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

static void rollback(struct cli *cli, const char *slice, const char **used, int n)
{
	struct trl_error e = { 0 };
	int quiet = cli->quiet;

	cli->quiet = 1;
	for (int i = 0; i < n; i++) {
		json_t *res = NULL;
		const struct cli_node *nd = node_find(cli, used[i]);

		if (cli_request(cli, nd->socket, json_pack("{s:s, s:s}", "op", "slice.delete", "name", slice), NULL, 0,
				&res, &e) < 0)
			fprintf(stderr, "trellis: node '%s': rollback: %s\n", used[i], e.msg);
		json_decref(res);
	}
	cli->quiet = quiet;
}

int cli_multi_create(struct cli *cli, json_t *spec, const char *filename, json_t *files)
{
	struct trl_error err = { 0 };
	struct trl_slice *s = NULL;
	const char *used[CLI_MAX_NODES];
	json_t *nodes = json_object(), *keys = json_object(), *placement = NULL, *merged = json_object();
	json_t *node_keys = json_array();
	_cleanup_free_ uint32_t *picked = NULL;
	int n_used = 0, status = 0;

	if (spec_parse(json_string_value(spec), json_string_length(spec), filename, files_resolver, files, &s, &err) <
	    0) {
		status = cli_error(cli, &err);
		goto out;
	}
	for (size_t i = 0; i < s->n_routers; i++) {
		const char *nd = s->routers[i].node;
		int seen = 0;

		if (!nd[0]) {
			trl_error_set(&err, TRL_EINVALID,
				      "%s: routers.%s: a multi-node create (--node/--nodes) needs 'node:' on every router",
				      filename, s->routers[i].name);
			status = cli_error(cli, &err);
			goto out;
		}
		if (!node_find(cli, nd)) {
			trl_error_set(&err, TRL_EINVALID, "%s: routers.%s.node: node '%s' is not among --node/--nodes",
				      filename, s->routers[i].name, nd);
			status = cli_error(cli, &err);
			goto out;
		}
		for (int k = 0; k < n_used; k++)
			seen |= !strcmp(used[k], nd);
		if (!seen)
			used[n_used++] = nd;
	}
	/* Where the nodes are, and keys no node uses yet. */
	for (int k = 0; k < n_used; k++) {
		const struct cli_node *nd = node_find(cli, used[k]);
		json_t *info = NULL, *addr;

		if (cli_request(cli, nd->socket, json_pack("{s:s}", "op", "node.show"), NULL, 0, &info, &err) < 0) {
			trl_error_prefix(&err, "node '%s'", nd->name);
			status = cli_error(cli, &err);
			goto out;
		}
		if (strcmp(json_string_value(json_object_get(info, "name")) ?: "", nd->name)) {
			trl_error_set(&err, TRL_EINVALID, "--node %s=%s: the trellisd there calls itself '%s'", nd->name,
				      nd->socket, json_string_value(json_object_get(info, "name")) ?: "?");
			json_decref(info);
			status = cli_error(cli, &err);
			goto out;
		}
		addr = json_object_get(json_object_get(info, "substrate"), "address");
		if (!json_is_string(addr) && n_used > 1) {
			trl_error_set(&err, TRL_EINVALID, "node '%s' has no substrate interface (trellisd --substrate)",
				      nd->name);
			json_decref(info);
			status = cli_error(cli, &err);
			goto out;
		}
		if (json_is_string(addr))
			json_object_set_new(nodes, nd->name, json_pack("{s:O}", "address", addr));
		cluster_keys_of_node(node_keys, info);
		json_decref(info);
	}
	picked = calloc(s->n_links + 1, sizeof(*picked));
	if (!picked) {
		trl_error_set(&err, TRL_EFAILED, "out of memory");
		status = cli_error(cli, &err);
		goto out;
	}
	if (cluster_keys_pick(node_keys, s->n_links, picked, &err) < 0) {
		status = cli_error(cli, &err);
		goto out;
	}
	for (size_t l = 0; l < s->n_links; l++)
		json_object_set_new(keys, s->links[l].name, json_integer((json_int_t)picked[l]));
	placement = json_pack("{s:O, s:O}", "nodes", nodes, "keys", keys);

	for (int k = 0; k < n_used; k++) {
		const struct cli_node *nd = node_find(cli, used[k]);
		json_t *res = NULL;
		char label[64];

		snprintf(label, sizeof(label), "node '%s'", nd->name);
		cli->label = label;
		if (cli_request(cli, nd->socket,
				json_pack("{s:s, s:O, s:s, s:O, s:O}", "op", "slice.create", "spec", spec, "filename",
					  filename, "files", files, "placement", placement),
				NULL, 0, &res, &err) < 0) {
			cli->label = NULL;
			trl_error_prefix(&err, "node '%s'", nd->name);
			if (err.code != TRL_EEXIST || k > 0)
				rollback(cli, s->name, used, k + (err.code != TRL_EEXIST));
			if (!cli->quiet)
				fprintf(stderr, "  [rollback] slice '%s' removed from %d node(s)\n", s->name, k);
			status = cli_error(cli, &err);
			goto out;
		}
		cli->label = NULL;
		json_object_set_new(merged, nd->name, res);
	}
	if (cli->json) {
		json_t *o = json_pack("{s:s, s:O}", "name", s->name, "nodes", merged);

		print_json(o);
		json_decref(o);
	} else if (!cli->quiet) {
		const char *key;
		json_t *v;

		json_object_foreach(merged, key, v) {
			printf("== node %s\n", key);
			cli_slice_print(v);
			printf("\n");
		}
	}
out:
	trl_slice_free(s);
	json_decref(nodes);
	json_decref(keys);
	json_decref(node_keys);
	json_decref(placement);
	json_decref(merged);
	return status;
}

int cli_nodes_each(struct cli *cli, json_t *req, json_t **merged,
		   void (*undo)(struct cli *cli, json_t *req, json_t *done), struct trl_error *err)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	struct trl_error missing = { 0 };
	json_t *nodes = json_object();

	*merged = NULL;
	for (int i = 0; i < cli->n_nodes; i++) {
		json_t *res = NULL;

		if (node_call(cli, &cli->nodes[i], json_incref(req), &res, err) < 0) {
			/* Classified by code: no slice there (not-found), or none of what was named (elsewhere). */
			if (err->code == TRL_ENOTFOUND || err->code == TRL_ENOTHERE) {
				if (!missing.code)
					missing = *err;
				trl_error_clear(err);
				continue;
			}
			if (undo)
				undo(cli, req, nodes);
			json_decref(nodes);
			return -err->code;
		}
		json_object_set_new(nodes, cli->nodes[i].name, res);
	}
	if (!json_object_size(nodes)) {
		json_decref(nodes);
		*err = missing;
		if (!err->code)
			trl_error_set(err, TRL_ENOTFOUND, "no slice '%s'", name ? name : "?");
		snprintf(err->msg + strlen(err->msg), sizeof(err->msg) - strlen(err->msg), " (on any of the %d nodes)",
			 cli->n_nodes);
		return -err->code;
	}
	*merged = json_pack("{s:s, s:o}", "name", name ? name : "", "nodes", nodes);
	return 0;
}

int cli_multi_call(struct cli *cli, const char *op, const char *name, json_t **merged)
{
	struct trl_error err = { 0 };
	json_t *req = json_pack("{s:s, s:s}", "op", op, "name", name);
	int r = cli_nodes_each(cli, req, merged, NULL, &err);

	json_decref(req);
	return r < 0 ? cli_error(cli, &err) : 0;
}

int cli_multi_route(struct cli *cli, const char *slice, const char *router)
{
	struct trl_error err = { 0 };

	for (int i = 0; i < cli->n_nodes; i++) {
		json_t *res = NULL, *r;
		size_t k;

		if (cli_request(cli, cli->nodes[i].socket, json_pack("{s:s, s:s}", "op", "slice.show", "name", slice),
				NULL, 0, &res, &err) < 0)
			continue;
		json_array_foreach(json_object_get(res, "routers"), k, r) {
			const char *nd;

			if (strcmp(json_string_value(json_object_get(r, "name")) ?: "", router))
				continue;
			nd = json_string_value(json_object_get(r, "node"));
			for (int j = 0; nd && j < cli->n_nodes; j++)
				if (!strcmp(cli->nodes[j].name, nd)) {
					cli->socket = cli->nodes[j].socket;
					json_decref(res);
					return 0;
				}
		}
		json_decref(res);
	}
	trl_error_set(&err, TRL_ENOTFOUND, "no router '%s' of slice '%s' on the nodes given", router, slice);
	return cli_error(cli, &err);
}

/* slice apply over the nodes */

enum part { PART_NONE, PART_APPLY, PART_CREATE };

struct multi_apply {
	struct cli *cli;
	struct trl_slice *s;
	json_t *spec, *files;
	const char *filename;
	enum part part[CLI_MAX_NODES];	/* what each --node gets */
	int used[CLI_MAX_NODES];	/* the edited spec places routers there */
	json_t *previous[CLI_MAX_NODES];	/* an applied node's reply's "previous" */
	json_t *nodes, *keys, *old_keys, *used_keys;
};

/* A change or disturbance once, however many nodes report it. */
static void merge_unique(json_t *into, json_t *from, int by_name)
{
	size_t i, k;
	json_t *v, *w;

	json_array_foreach(from, i, v) {
		int seen = 0;

		json_array_foreach(into, k, w)
			if (by_name ? (json_equal(json_object_get(v, "kind"), json_object_get(w, "kind")) &&
				       json_equal(json_object_get(v, "name"), json_object_get(w, "name")) &&
				       json_equal(json_object_get(v, "change"), json_object_get(w, "change")))
				    : json_equal(v, w))
				seen = 1;
		if (!seen)
			json_array_append(into, v);
	}
}

/* Which nodes hold the slice, where they are, and which keys they use. */
static int multi_apply_survey(struct multi_apply *m, struct trl_error *err)
{
	struct cli *cli = m->cli;
	int have = 0, n_involved = 0;

	for (size_t i = 0; i < m->s->n_routers; i++) {
		const char *nd = m->s->routers[i].node;

		if (!nd[0])
			return trl_error_set(err, TRL_EINVALID,
					     "%s: routers.%s: a multi-node apply (--node/--nodes) needs 'node:' on every router",
					     m->filename, m->s->routers[i].name);
		if (!node_find(cli, nd))
			return trl_error_set(err, TRL_EINVALID, "%s: routers.%s.node: node '%s' is not among --node/--nodes",
					     m->filename, m->s->routers[i].name, nd);
		for (int k = 0; k < cli->n_nodes; k++)
			m->used[k] |= !strcmp(cli->nodes[k].name, nd);
	}
	for (int k = 0; k < cli->n_nodes; k++) {
		const struct cli_node *nd = &cli->nodes[k];
		json_t *show = NULL, *l;
		size_t i;

		if (node_call(cli, nd, json_pack("{s:s, s:s}", "op", "slice.show", "name", m->s->name), &show, err) < 0) {
			if (err->code != TRL_ENOTFOUND)
				return -err->code;
			trl_error_clear(err);
			m->part[k] = m->used[k] ? PART_CREATE : PART_NONE;
			continue;
		}
		m->part[k] = PART_APPLY;
		have++;
		json_array_foreach(json_object_get(show, "links"), i, l) {
			json_t *key = json_object_get(l, "key");
			const char *name = json_string_value(json_object_get(l, "name"));

			if (name && json_is_integer(key) && json_integer_value(key) > 0)
				json_object_set(m->old_keys, name, key);
		}
		json_decref(show);
	}
	if (!have)
		return trl_error_set(err, TRL_ENOTFOUND, "no slice '%s' on any of the %d nodes", m->s->name, cli->n_nodes);
	for (int k = 0; k < cli->n_nodes; k++)
		n_involved += m->part[k] != PART_NONE;
	for (int k = 0; k < cli->n_nodes; k++) {
		const struct cli_node *nd = &cli->nodes[k];
		json_t *info = NULL, *addr;
		const char *name;

		if (m->part[k] == PART_NONE)
			continue;
		if (node_call(cli, nd, json_pack("{s:s}", "op", "node.show"), &info, err) < 0)
			return -err->code;
		name = json_string_value(json_object_get(info, "name"));
		if (strcmp(name ? name : "", nd->name)) {
			trl_error_set(err, TRL_EINVALID, "--node %s=%s: the trellisd there calls itself '%s'", nd->name,
				      nd->socket, name ? name : "?");
			json_decref(info);
			return -err->code;
		}
		addr = json_object_get(json_object_get(info, "substrate"), "address");
		if (!json_is_string(addr) && n_involved > 1) {
			trl_error_set(err, TRL_EINVALID, "node '%s' has no substrate interface (trellisd --substrate)",
				      nd->name);
			json_decref(info);
			return -err->code;
		}
		if (json_is_string(addr))
			json_object_set_new(m->nodes, nd->name, json_pack("{s:O}", "address", addr));
		cluster_keys_of_node(m->used_keys, info);
		json_decref(info);
	}
	return 0;
}

/* Keys of the edited spec's links: a kept link keeps its key, a new one gets one no node uses. */
static int multi_apply_keys(struct multi_apply *m, struct trl_error *err)
{
	_cleanup_free_ uint32_t *picked = calloc(m->s->n_links + 1, sizeof(*picked));
	size_t n_new = 0, k = 0;

	if (!picked)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	for (size_t l = 0; l < m->s->n_links; l++)
		n_new += !json_object_get(m->old_keys, m->s->links[l].name);
	if (n_new && cluster_keys_pick(m->used_keys, n_new, picked, err) < 0)
		return -err->code;
	for (size_t l = 0; l < m->s->n_links; l++) {
		json_t *old = json_object_get(m->old_keys, m->s->links[l].name);

		json_object_set_new(m->keys, m->s->links[l].name,
				    old ? json_incref(old) : json_integer((json_int_t)picked[k++]));
	}
	return 0;
}

/* Put back the nodes done so far (@done: node indexes, in order), newest first. */
static void multi_apply_undo(struct multi_apply *m, const int *done, int n)
{
	struct cli *cli = m->cli;
	json_t *placement = json_pack("{s:O, s:O}", "nodes", m->nodes, "keys", m->old_keys);
	int quiet = cli->quiet;

	cli->quiet = 1;
	for (int i = n - 1; i >= 0; i--) {
		const struct cli_node *nd = &cli->nodes[done[i]];
		struct trl_error e = { 0 };
		json_t *res = NULL, *req, *prev = m->previous[done[i]];

		if (m->part[done[i]] == PART_CREATE)
			req = json_pack("{s:s, s:s}", "op", "slice.delete", "name", m->s->name);
		else
			req = json_pack("{s:s, s:s, s:O, s:O, s:O, s:O}", "op", "slice.apply", "name", m->s->name, "spec",
					json_object_get(prev, "spec"), "filename", json_object_get(prev, "filename"),
					"files", json_object_get(prev, "files"), "placement", placement);
		if (node_call(cli, nd, req, &res, &e) < 0)
			fprintf(stderr, "trellis: rollback: %s\n", e.msg);
		json_decref(res);
	}
	cli->quiet = quiet;
	if (!quiet)
		fprintf(stderr, "  [rollback] slice '%s' put back on %d node(s)\n", m->s->name, n);
	json_decref(placement);
}

int cli_multi_apply(struct cli *cli, json_t *spec, const char *filename, json_t *files, int dry_run, json_t **merged)
{
	struct trl_error err = { 0 };
	struct multi_apply m = { .cli = cli, .spec = spec, .files = files, .filename = filename };
	json_t *placement = NULL, *per_node = json_object(), *changes = json_array(), *dist = json_array();
	int done[CLI_MAX_NODES], n_done = 0, status = 0;

	m.nodes = json_object();
	m.keys = json_object();
	m.old_keys = json_object();
	m.used_keys = json_array();
	if (spec_parse(json_string_value(spec), json_string_length(spec), filename, files_resolver, files, &m.s, &err) <
		    0 ||
	    multi_apply_survey(&m, &err) < 0 || multi_apply_keys(&m, &err) < 0) {
		status = cli_error(cli, &err);
		goto out;
	}
	placement = json_pack("{s:O, s:O}", "nodes", m.nodes, "keys", m.keys);
	/* The nodes that hold a part first: a refusal there leaves nothing to undo elsewhere. */
	for (int pass = 0; pass < 2; pass++)
		for (int k = 0; k < cli->n_nodes; k++) {
			const struct cli_node *nd = &cli->nodes[k];
			json_t *res = NULL, *req;

			if (m.part[k] != (pass ? PART_CREATE : PART_APPLY))
				continue;
			req = json_pack("{s:s, s:O, s:s, s:O, s:O, s:b}", "op", pass ? "slice.create" : "slice.apply",
					"spec", spec, "filename", filename, "files", files, "placement", placement,
					"dry_run", dry_run);
			if (node_call(cli, nd, req, &res, &err) < 0) {
				if (!dry_run && n_done)
					multi_apply_undo(&m, done, n_done);
				status = cli_error(cli, &err);
				goto out;
			}
			if (pass) {
				/* A new part: its routers are what it adds. */
				json_t *c = json_array();

				for (size_t i = 0; i < m.s->n_routers; i++)
					if (!strcmp(m.s->routers[i].node, nd->name))
						json_array_append_new(
							c, json_pack("{s:s, s:s, s:s, s:s}", "kind", "router", "name",
								     m.s->routers[i].name, "change", "added", "how",
								     "built and started (the slice's first router on this node)"));
				merge_unique(changes, c, 1);
				json_decref(c);
			} else {
				m.previous[k] = json_incref(json_object_get(res, "previous"));
				merge_unique(changes, json_object_get(res, "changes"), 1);
				merge_unique(dist, json_object_get(res, "disturbed"), 0);
			}
			json_object_set_new(per_node, nd->name, res);
			done[n_done++] = k;
		}
	/* A node the edited spec leaves without routers: its (now empty) part goes. */
	for (int k = 0; k < cli->n_nodes && !dry_run; k++) {
		json_t *res = NULL;

		if (m.part[k] != PART_APPLY || m.used[k])
			continue;
		if (node_call(cli, &cli->nodes[k], json_pack("{s:s, s:s}", "op", "slice.delete", "name", m.s->name), &res,
			      &err) < 0)
			fprintf(stderr, "trellis: %s (its part has no routers left: delete it there)\n", err.msg);
		json_decref(res);
	}
	*merged = json_pack("{s:s, s:b, s:b, s:O, s:O, s:O}", "name", m.s->name, "dry_run", dry_run, "applied",
			    !dry_run && json_array_size(changes) > 0, "changes", changes, "disturbed", dist, "nodes",
			    per_node);
	if (!*merged) {
		trl_error_set(&err, TRL_EFAILED, "out of memory");
		status = cli_error(cli, &err);
	}
out:
	for (int k = 0; k < CLI_MAX_NODES; k++)
		json_decref(m.previous[k]);
	trl_slice_free(m.s);
	json_decref(m.nodes);
	json_decref(m.keys);
	json_decref(m.old_keys);
	json_decref(m.used_keys);
	json_decref(placement);
	json_decref(per_node);
	json_decref(changes);
	json_decref(dist);
	return status;
}
