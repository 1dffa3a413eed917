/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slices: teardown
 *
 * slice_teardown() removes everything a plan could have built: links (fast
 * path entries, tunnel devices), the slice's substrate classes, the routers'
 * containers (in parallel), leftover host veth ends, the slice's cgroups.  It
 * is idempotent and never stops half-way, so it serves delete, a failed
 * create's rollback and restart reconciliation alike.  slice_node_cleanup()
 * removes the node-wide objects once no slice is left.
 */
#define LOG_MODULE "slice"
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "bridge.h"
#include "cgroup.h"
#include "cluster.h"
#include "container.h"
#include "disk.h"
#include "escape.h"
#include "log.h"
#include "names.h"
#include "shape.h"
#include "shaper.h"
#include "spec.h"
#include "store.h"
#include "claim.h"
#include "template.h"
#include "tenant.h"
#include "trellisd.h"
#include "units.h"
#include "util.h"
#include "slice.h"

/* The first router whose container could not be removed (teardown keeps going). */
static pthread_mutex_t destroy_err_lock = PTHREAD_MUTEX_INITIALIZER;

static int destroy_one(void *ctx, size_t i, struct trl_error *err)
{
	struct plan *p = ctx;
	struct trl_error e = { 0 };

	if (!p->local[i])
		return 0;
	if (container_destroy(p->d->lxcpath, p->cs[i].name, p->keep_logs, &e) < 0) {
		log_warn("slice '%s': router '%s': %s", p->s->name, p->cs[i].router->name, e.msg);
		pthread_mutex_lock(&destroy_err_lock);
		if (!p->destroy_failed++) {
			p->destroy_err = e;
			trl_error_prefix(&p->destroy_err, "router '%s'", p->cs[i].router->name);
		}
		pthread_mutex_unlock(&destroy_err_lock);
	}
	return 0;
}

/* Remove everything the plan could have built.  Idempotent; never fails half-way. */
void link_detach(struct plan *p, size_t l)
{
	struct trl_slice *s = p->s;
	struct plan_link *pl = &p->pl[l];
	struct trl_error e = { 0 };
	char a[16], b[16];
	int r = 0;

	host_veth(s, &s->links[l].ep[0], a);
	host_veth(s, &s->links[l].ep[1], b);
	switch (pl->kind) {
	case PLAN_LINK_REMOTE:
		return;
	case PLAN_LINK_LOCAL:
		if (p->d->bridge)
			r = bridge_link_detach(p->d->bridge, a, b, &e);
		break;
	case PLAN_LINK_TUNNEL:
		if (pl->tunnel == NODE_TUNNEL_EGRE) {
			if (p->d->bridge && pl->key)
				r = bridge_tunnel_detach(p->d->bridge, pl->ep ? b : a, pl->key, &e);
		} else {
			char dev[16];

			node_tunnel_dev_name(pl->tunnel, pl->key, dev);
			if (p->d->bridge && pl->key)
				r = bridge_link_detach(p->d->bridge, pl->ep ? b : a, dev, &e);
			if (pl->key)
				node_netdev_del(dev);
		}
		break;
	}
	if (r < 0)
		log_warn("slice '%s': link '%s': %s", s->name, s->links[l].name, e.msg);
}

/* Remove everything the plan could have built.  Idempotent; never stops
 * half-way.  Fails (err filled) if a router's container directory could not
 * all be removed: the caller keeps the slice's row so a delete can retry. */
int slice_teardown(struct plan *p, struct trl_error *err)
{
	struct trl_slice *s = p->s;
	struct trl_error e = { 0 };

	/* Before the routers stop: a deliberate stop is not an exit. */
	events_slice_unwatch(p->d, s->name);
	uint32_t *keys = calloc(s->n_links + 1, sizeof(*keys));
	size_t n_keys = 0;

	for (size_t l = 0; l < s->n_links; l++) {
		link_detach(p, l);
		if (keys && p->pl[l].kind == PLAN_LINK_TUNNEL)
			keys[n_keys++] = p->pl[l].key;
	}
	pthread_mutex_lock(&p->d->node_lock);
	if (p->ss.index)
		shape_slice_remove(p->d, p->ss.index, keys, n_keys);
	pthread_mutex_unlock(&p->d->node_lock);
	free(keys);
	pool_run(s->n_routers, p->d->parallel, destroy_one, p, &e);
	/* The kernel deletes a veth when its netns dies, but asynchronously: do not leave it to chance. */
	for (size_t l = 0; l < s->n_links; l++)
		for (int k = 0; k < 2; k++) {
			char h[16];

			if (!router_is_local(p->d, trl_slice_router(s, s->links[l].ep[k].router)))
				continue;
			host_veth(s, &s->links[l].ep[k], h);
			node_netdev_del(h);
		}
	pthread_mutex_lock(&p->d->node_lock);
	cgroup_remove_slice(p->d->node_name, s->name);
	pthread_mutex_unlock(&p->d->node_lock);
	if (!p->destroy_failed)
		return 0;
	return trl_error_set(err, TRL_EFAILED, "%s%s", p->destroy_err.msg,
			     p->destroy_failed > 1 ? " (and other routers: see the daemon's log)" : "");
}

void slice_node_cleanup(struct daemon *d)
{
	struct store *st = NULL;
	struct trl_error e = { 0 };
	char **names = NULL;
	int n;

	if (store_open(d->db_path, &st, &e) < 0)
		return;
	n = store_slice_names(st, &names, &e);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	store_close(st);
	if (n == 0 && d->bridge) {
		if (d->has_substrate && bridge_substrate_detach(d->bridge, d->sub.ifname, &e) < 0)
			log_warn("%s", e.msg);
		node_nexthop_watch_stop();	/* it holds d->bridge */
		bridge_close(d->bridge);
		d->bridge = NULL;
		if (bridge_unpin(d->pin_dir, &e) < 0) {
			log_warn("%s", e.msg);
		} else {
			log_info("no slices left: fast-path pins '%s' removed", d->pin_dir);
			rmdir(BRIDGE_PIN_ROOT);	/* only if no other node's pins are there */
		}
	}
}
