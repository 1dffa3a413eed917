/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slices: the realized inventory
 *
 * What a create (or an apply) built for a slice on this node, stored as data
 * (the store's inventory table) next to the spec:
 *   {"node", "uid_base", "shape_index",
 *    "containers": [NAME...],
 *    "links": [{"name", "kind", "key", "a", "b", "mine"}]}
 * (kind "local", "remote" or a tunnel kind; a and b the host veth ends, mine
 * the one on this node for a tunnel).  A delete whose stored spec no longer
 * parses (a spec an older release accepted that this one refuses) tears the
 * slice down from it instead of from a plan.  A slice stored by a release
 * before the inventory existed gets one guessed from what such a release
 * stored too: its link rows (names, keys, kinds), the container directories
 * named <slice>.*, and its uid range.
 *
 * The same data answers slice.show and slice.list for such a slice (what
 * runs, from the inventory: containers and their state, links and theirs;
 * "spec_error" says why the spec is not shown), and start-up reconciliation
 * finishes an interrupted create or delete of one from it.
 */
#define LOG_MODULE "slice"
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>
#include "bridge.h"
#include "log.h"
#include "names.h"
#include "slice.h"

json_t *inventory_of(const struct plan *p)
{
	const struct trl_slice *s = p->s;
	json_t *o, *cs = json_array(), *ls = json_array();

	for (size_t i = 0; i < s->n_routers; i++)
		if (p->local[i])
			json_array_append_new(cs, json_string(p->cs[i].name));
	for (size_t l = 0; l < s->n_links; l++) {
		const struct plan_link *pl = &p->pl[l];
		char a[16], b[16];

		host_veth(s, &s->links[l].ep[0], a);
		host_veth(s, &s->links[l].ep[1], b);
		json_array_append_new(ls, json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "name", s->links[l].name, "kind",
						    plan_link_kind_name(pl), "key", (json_int_t)pl->key, "a", a, "b", b,
						    "mine", pl->kind == PLAN_LINK_TUNNEL ? (pl->ep ? b : a) : ""));
	}
	o = json_pack("{s:s, s:I, s:I, s:o, s:o}", "node", p->d->node_name, "uid_base", (json_int_t)p->uid_base,
		      "shape_index", (json_int_t)p->ss.index, "containers", cs, "links", ls);
	return o;
}

void inventory_record(struct store *st, const struct plan *p)
{
	struct trl_error e = { 0 };
	json_t *inv = inventory_of(p);

	if (!inv || store_inventory_put(st, p->s->name, inv, &e) < 0)
		log_warn("slice '%s': cannot record what was built: %s", p->s->name, inv ? e.msg : "out of memory");
	json_decref(inv);
}

/* "r1:eth1-r2:eth1" -> the two host veth ends of @slice; *mine: which end's
 * router has a container here (a tunnel's end on this node), else -1. */
static int link_hosts(struct daemon *d, const char *slice, const char *name, char a[16], char b[16], int *mine)
{
	char r[2][32], f[2][32], path[4096 + 64];

	if (sscanf(name, "%31[^:]:%31[^-]-%31[^:]:%31s", r[0], f[0], r[1], f[1]) != 4)
		return -EINVAL;
	if (names_host_veth(a, 16, slice, r[0], f[0]) > 15 || names_host_veth(b, 16, slice, r[1], f[1]) > 15)
		return -EINVAL;
	*mine = -1;
	for (int k = 1; k >= 0; k--) {
		snprintf(path, sizeof(path), "%s/%s.%s", d->lxcpath, slice, r[k]);
		if (access(path, F_OK) == 0)
			*mine = k;
	}
	return 0;
}

json_t *inventory_guess(struct daemon *d, struct store *st, const struct store_slice *row)
{
	json_t *links = json_array(), *ls = json_array(), *cs = json_array(), *v;
	char prefix[80];
	size_t i;
	DIR *dir;
	struct dirent *de;

	snprintf(prefix, sizeof(prefix), "%s.", row->name);
	if ((dir = opendir(d->lxcpath))) {
		while ((de = readdir(dir)))
			if (!strncmp(de->d_name, prefix, strlen(prefix)) && names_valid(de->d_name + strlen(prefix)))
				json_array_append_new(cs, json_string(de->d_name));
		closedir(dir);
	}
	store_links(st, row->name, links, NULL);
	json_array_foreach(links, i, v) {
		const char *kind = json_string_value(json_object_get(v, "kind")) ?: "local";
		char a[16], b[16];
		int mine;

		if (link_hosts(d, row->name, json_string_value(json_object_get(v, "name")) ?: "", a, b, &mine) < 0)
			continue;
		json_array_append_new(ls, json_pack("{s:O, s:s, s:O, s:s, s:s, s:s}", "name", json_object_get(v, "name"),
						    "kind", kind, "key", json_object_get(v, "key"), "a", a, "b", b, "mine",
						    strcmp(kind, "local") && strcmp(kind, "remote") && mine >= 0
							    ? (mine ? b : a) : ""));
	}
	json_decref(links);
	return json_pack("{s:s, s:I, s:I, s:o, s:o}", "node", d->node_name, "uid_base", (json_int_t)row->uid_base,
			 "shape_index",
			 (json_int_t)(row->uid_base >= d->uid_start ? (row->uid_base - d->uid_start) / 65536 : 0),
			 "containers", cs, "links", ls);
}

int slice_teardown_inventory(struct daemon *d, const char *slice, json_t *inv, struct trl_error *err)
{
	json_t *links = json_object_get(inv, "links"), *v;
	uint32_t *keys = calloc(json_array_size(links) + 1, sizeof(*keys));
	struct trl_error e = { 0 }, first = { 0 };
	size_t i, n_keys = 0, failed = 0;
	unsigned index = (unsigned)json_integer_value(json_object_get(inv, "shape_index"));

	/* Before the routers stop: a deliberate stop is not an exit. */
	events_slice_unwatch(d, slice);
	json_array_foreach(links, i, v) {
		const char *kind = json_string_value(json_object_get(v, "kind")) ?: "";
		const char *a = json_string_value(json_object_get(v, "a")) ?: "";
		const char *b = json_string_value(json_object_get(v, "b")) ?: "";
		const char *mine = json_string_value(json_object_get(v, "mine")) ?: "";
		uint32_t key = (uint32_t)json_integer_value(json_object_get(v, "key"));
		int t = node_tunnel_parse(kind), r = 0;

		if (!strcmp(kind, "local")) {
			if (d->bridge)
				r = bridge_link_detach(d->bridge, a, b, &e);
		} else if (t == NODE_TUNNEL_EGRE) {
			if (d->bridge && key && *mine)
				r = bridge_tunnel_detach(d->bridge, mine, key, &e);
		} else if (t > 0 && key) {
			char dev[16];

			node_tunnel_dev_name(t, key, dev);
			if (d->bridge && *mine)
				r = bridge_link_detach(d->bridge, mine, dev, &e);
			node_netdev_del(dev);
		}
		if (r < 0)
			log_warn("slice '%s': link '%s': %s", slice, json_string_value(json_object_get(v, "name")), e.msg);
		if (keys && t > 0)
			keys[n_keys++] = key;
	}
	pthread_mutex_lock(&d->node_lock);
	if (index)
		shape_slice_remove(d, index, keys, n_keys);
	pthread_mutex_unlock(&d->node_lock);
	free(keys);
	json_array_foreach(json_object_get(inv, "containers"), i, v) {
		const char *name = json_string_value(v);

		if (name && names_valid(strchr(name, '.') ? strchr(name, '.') + 1 : "") &&
		    container_destroy(d->lxcpath, name, 0, &e) < 0) {
			log_warn("slice '%s': %s", slice, e.msg);
			if (!failed++)
				first = e;
		}
	}
	json_array_foreach(links, i, v) {
		const char *kind = json_string_value(json_object_get(v, "kind")) ?: "";

		const char *mine = json_string_value(json_object_get(v, "mine")) ?: "";

		/* A tunnel's other end may be another node's on this same kernel (emulated nodes). */
		if (!strcmp(kind, "local")) {
			node_netdev_del(json_string_value(json_object_get(v, "a")) ?: "");
			node_netdev_del(json_string_value(json_object_get(v, "b")) ?: "");
		} else if (*mine) {
			node_netdev_del(mine);
		}
	}
	pthread_mutex_lock(&d->node_lock);
	cgroup_remove_slice(d->node_name, slice);
	pthread_mutex_unlock(&d->node_lock);
	if (!failed)
		return 0;
	return trl_error_set(err, TRL_EFAILED, "%s%s", first.msg,
			     failed > 1 ? " (and other routers: see the daemon's log)" : "");
}

/* The inventory of slice @row (recorded, or guessed from its rows): a new reference, NULL when out of memory. */
json_t *inventory_load(struct daemon *d, struct store *st, const struct store_slice *row)
{
	json_t *inv = NULL;

	if (store_inventory_get(st, row->name, &inv, NULL) < 0)
		inv = inventory_guess(d, st, row);
	return inv;
}

json_t *inventory_show(struct daemon *d, struct store *st, const struct store_slice *row, const char *why)
{
	json_t *inv = inventory_load(d, st, row), *routers = json_array(), *links = json_array(), *v, *o;
	size_t i;

	json_array_foreach(json_object_get(inv, "containers"), i, v) {
		const char *cname = json_string_value(v) ?: "";
		const char *dot = strchr(cname, '.');
		pid_t pid = 0;
		enum router_state rs = container_state(d->lxcpath, cname, &pid);

		json_array_append_new(routers, json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", dot ? dot + 1 : cname, "node",
							 d->node_name, "container", cname, "state", router_state_name(rs),
							 "pid", (int)pid));
	}
	json_array_foreach(json_object_get(inv, "links"), i, v) {
		const char *kind = json_string_value(json_object_get(v, "kind")) ?: "";
		const char *a = json_string_value(json_object_get(v, "a")) ?: "";
		const char *b = json_string_value(json_object_get(v, "b")) ?: "";
		const char *mine = json_string_value(json_object_get(v, "mine")) ?: "";
		const char *state = "remote";

		if (!strcmp(kind, "local"))
			state = if_nametoindex(a) && if_nametoindex(b) ? "up" : "down";
		else if (*mine)
			state = if_nametoindex(mine) ? "up" : "down";
		json_array_append_new(links, json_pack("{s:s, s:[s,s], s:s, s:s, s:I}", "name",
						       json_string_value(json_object_get(v, "name")) ?: "?", "hosts", a, b,
						       "state", state, "kind", kind, "key",
						       json_integer_value(json_object_get(v, "key"))));
	}
	o = json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:s, s:o, s:o, s:s}", "name", row->name, "owner", row->owner,
		      "owner_uid", (json_int_t)row->owner_uid, "state", slice_state_name(row->state), "created",
		      (json_int_t)row->created, "uid_base", (json_int_t)row->uid_base, "node", d->node_name, "routers",
		      routers, "links", links, "spec_error", why);
	json_decref(inv);
	return o;
}
