/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: node.show: what this node is and has
 *
 * node_info() gathers the node's facts (version, paths, cgroup layout, fast
 * path, templates, tunnels, substrate, netem, keys in use, slice and router
 * counts, the start-up reconciliation's report) for node.show and the
 * cluster's node registration.  node_info_for() is what a given caller may
 * see of it.
 */
#define LOG_MODULE "node"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <lxc/lxccontainer.h>
#include "bridge.h"
#include "cgroup.h"
#include "shape.h"
#include "store.h"
#include "template.h"
#include "trellisd.h"
#include "util.h"

json_t *node_info(struct daemon *d)
{
	enum cgroup_layout layout;
	struct trl_error e = { 0 };
	char templates[1024], tpl_missing[1024];
	json_t *o, *tun = json_array();

	template_list(d->template_path, templates, sizeof(templates), tpl_missing, sizeof(tpl_missing));
	for (unsigned t = NODE_TUNNEL_EGRE; t <= NODE_TUNNEL_VXLAN; t <<= 1)
		if (d->tunnels & t)
			json_array_append_new(tun, json_string(node_tunnel_name(t)));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:I, s:I}", "name", d->node_name,
			 "version", PACKAGE_VERSION, "state_dir", d->state_dir, "socket", d->socket_path, "lxcpath",
			 d->lxcpath, "cgroup_layout",
			 cgroup_detect(&layout, &e) == 0 ? cgroup_layout_name(layout) : "unavailable", "fastpath",
			 d->fastpath, "pin_dir", d->pin_dir, "templates", templates, "parallel", d->parallel,
			 "liblxc", lxc_get_version(), "uid_start", (json_int_t)d->uid_start, "uid_count",
			 (json_int_t)d->uid_count);
	if (!o) {
		json_decref(tun);
		return NULL;
	}
	json_object_set_new(o, "tunnels", tun);
	json_object_set_new(o, "templates_missing", json_string(tpl_missing));
	{
		struct store *st;
		uint32_t max = 0;

		char **names = NULL;
		int n = 0;
		DIR *dir;
		struct dirent *de;
		json_int_t routers = 0;

		json_t *keys = json_array();

		if (store_open(d->db_path, &st, &e) == 0) {
			store_max_key(st, &max);
			store_keys(st, keys);
			n = store_slice_names(st, &names, &e);
			for (int i = 0; i < n; i++)
				free(names[i]);
			free(names);
			store_close(st);
		}
		json_object_set_new(o, "max_key", json_integer(max));
		/* Multi-node creates draw keys none of their nodes uses (lib/cluster.c cluster_keys_pick). */
		json_object_set_new(o, "keys", keys);
		json_object_set_new(o, "slices", json_integer(n < 0 ? 0 : n));
		/* Routers on this node: their container directories (not the rootfs images beside them). */
		if ((dir = opendir(d->lxcpath))) {
			while ((de = readdir(dir))) {
				struct stat sb;

				if (de->d_name[0] == '.')
					continue;
				if (de->d_type == DT_DIR ||
				    (de->d_type == DT_UNKNOWN && fstatat(dirfd(dir), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
				     S_ISDIR(sb.st_mode)))
					routers++;
			}
			closedir(dir);
		}
		json_object_set_new(o, "routers", json_integer(routers));
	}
	json_object_set_new(o, "tunnels_missing", json_string(d->tunnels_missing));
	if (d->bridge) {
		struct bridge_node_stats ns = { 0 };

		if (bridge_node_stats(d->bridge, &ns, &e) == 0)
			json_object_set_new(o, "fastpath_stats",
					    json_pack("{s:I, s:I, s:I, s:I, s:I}", "rx_packets", (json_int_t)ns.rx_packets,
						      "rx_bytes", (json_int_t)ns.rx_bytes, "unknown_key",
						      (json_int_t)ns.drops_unknown_key, "bad_source",
						      (json_int_t)ns.drops_bad_source, "other",
						      (json_int_t)ns.drops_other));
	}
	if (d->has_substrate)
		json_object_set_new(o, "substrate",
				    json_pack("{s:s, s:s, s:i, s:I, s:s, s:I}", "interface", d->sub.ifname, "address",
					      d->sub.addr_text, "mtu", (int)d->sub.mtu, "capacity",
					      (json_int_t)d->capacity, "capacity_source", d->capacity_source,
					      "guaranteed", (json_int_t)shape_node_guaranteed(d)));
	json_object_set_new(o, "netem", json_boolean(d->netem));
	/* The start-up reconciliation runs while reads are served: its report, or {"running": true}. */
	pthread_mutex_lock(&d->node_lock);
	if (d->reconcile)
		json_object_set_new(o, "reconcile", json_deep_copy(d->reconcile));
	pthread_mutex_unlock(&d->node_lock);
	if (d->cluster)
		json_object_set_new(o, "cluster", json_string(d->cluster_url));
	if (!d->netem)
		json_object_set_new(o, "netem_missing", json_string(d->netem_why));
	return o;
}

/*
 * "Other users' slices look missing" holds for node.show too: a tenant gets
 * the node's facts but counts, and a reconcile report, of its own slices
 * only (those slice.list shows it).  The cluster registration and root see
 * everything.
 */
json_t *node_info_for(struct op_ctx *oc)
{
	json_t *o = node_info(oc->d), *mine = NULL, *list, *rec, *acts, *kept, *a, *v;
	struct trl_error e = { 0 };
	json_int_t routers = 0;
	size_t i, k;

	if (!o || caller_is_privileged(&oc->who))
		return o;
	if (slice_list(oc, &mine, &e) < 0)
		mine = json_pack("{s:[]}", "slices");
	list = json_object_get(mine, "slices");
	json_array_foreach(list, i, v)
		routers += json_integer_value(json_object_get(v, "routers"));
	json_object_set_new(o, "slices", json_integer((json_int_t)json_array_size(list)));
	json_object_set_new(o, "routers", json_integer(routers));
	json_object_del(o, "max_key");
	json_object_del(o, "keys");
	rec = json_object_get(o, "reconcile");
	if (json_is_object(rec)) {
		rec = json_deep_copy(rec);
		/* While it runs: which slice it is at is not every tenant's business. */
		json_object_del(rec, "slice");
		json_object_del(rec, "checked");
		acts = json_object_get(rec, "actions");
		kept = json_array();
		json_array_foreach(acts, i, a) {
			const char *name = json_string_value(json_object_get(a, "slice"));

			json_array_foreach(list, k, v)
				if (name && !strcmp(name, json_string_value(json_object_get(v, "name")) ?: "")) {
					json_array_append(kept, a);
					break;
				}
		}
		json_object_set_new(rec, "actions", kept);
		json_object_set_new(rec, "slices", json_integer((json_int_t)json_array_size(list)));
		json_object_set_new(o, "reconcile", rec);
	}
	json_decref(mine);
	return o;
}
