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
 * is refused) and the loser rolls back.  A cluster store replaces this later.
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

int cli_multi_call(struct cli *cli, const char *op, const char *name, json_t **merged)
{
	struct trl_error err = { 0 };
	json_t *nodes = json_object();
	int found = 0, status = 0;

	for (int i = 0; i < cli->n_nodes; i++) {
		json_t *res = NULL;
		char label[64];

		snprintf(label, sizeof(label), "node '%s'", cli->nodes[i].name);
		cli->label = label;
		if (cli_request(cli, cli->nodes[i].socket, json_pack("{s:s, s:s}", "op", op, "name", name), NULL, 0, &res,
				&err) < 0) {
			cli->label = NULL;
			if (err.code == TRL_ENOTFOUND)
				continue;	/* the slice has no routers there */
			trl_error_prefix(&err, "node '%s'", cli->nodes[i].name);
			status = cli_error(cli, &err);
			break;
		}
		cli->label = NULL;
		found++;
		json_object_set_new(nodes, cli->nodes[i].name, res);
	}
	if (!status && !found) {
		trl_error_set(&err, TRL_ENOTFOUND, "no slice '%s' on any of the %d nodes", name, cli->n_nodes);
		status = cli_error(cli, &err);
	}
	if (status) {
		json_decref(nodes);
		return status;
	}
	*merged = json_pack("{s:s, s:o}", "name", name, "nodes", nodes);
	return 0;
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
