/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slices: realize, tear down, report
 *
 * A create runs in fixed steps, each reported to the client as progress:
 *   validate  parse the spec (lib/spec.c) and check templates and FRR daemons
 *   allocate  one SQLite transaction: slice row (state 'creating'), uid range, link keys
 *   routers   prepare rootfs + start containers, several at once (d->parallel)
 *   ready     wait until every router's boot command (and FRR daemons) run
 *   links     join host veth ends in the fast path, apply link rates
 * Any failure runs slice_teardown() — the same idempotent teardown as delete,
 * derived from the spec alone — and removes the row, so nothing is left.
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
#include "events.h"
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

#define READY_TIMEOUT_MS 60000
#define READY_PER_ROUTER_MS 300

/* What this node does for a link. */
enum plan_link_kind {
	PLAN_LINK_LOCAL,	/* both ends here: shortbridge */
	PLAN_LINK_TUNNEL,	/* one end here: this node's half of a tunnel */
	PLAN_LINK_REMOTE,	/* neither end here: nothing */
};

struct plan_link {
	enum plan_link_kind kind;
	int ep;			/* PLAN_LINK_TUNNEL: index of the local endpoint */
	enum node_tunnel tunnel;
	struct in_addr remote;	/* the other node's outer address */
	char remote_node[TRL_NAME_MAX + 1];
	uint32_t key;
	char dev[16];		/* gretap/vxlan device */
};

struct plan {
	struct daemon *d;
	struct trl_slice *s;
	unsigned uid_base;
	enum cgroup_layout layout;
	struct template *tpls;		/* per router */
	struct container_spec *cs;	/* per router */
	char *local;			/* per router: runs on this node */
	size_t n_local;
	struct plan_link *pl;		/* per link */
	struct shape_slice ss;		/* its share of this node's substrate */
	int *down;			/* per link: administratively down (link down) */
	char *only;			/* per router: start/wait for only these (repairs); NULL = every local one */
	int keep_logs;			/* teardown after a failed create */
	size_t destroy_failed;		/* teardown: routers whose container directory is not all gone */
	struct trl_error destroy_err;	/* ... the first of them */
	uid_t owner;			/* the slice's owner (its events carry it) */
};

static void plan_shape(struct plan *p);
static void boot_id_store(struct store *st, const char *slice);
static int slice_set_limits(struct request_ctx *rq, const struct proto_request *req, json_t **result,
			    struct trl_error *err);

static void plan_free(struct plan *p)
{
	free(p->tpls);
	free(p->cs);
	free(p->local);
	free(p->pl);
	free(p->down);
	trl_slice_free(p->s);
	memset(p, 0, sizeof(*p));
}

/* --- locking ---------------------------------------------------------------
 * One lock per slice name: operations on one slice are serialized, different
 * slices proceed in parallel.  d->ops_lock is held shared by every operation
 * (exclusively by start-up reconciliation and shutdown), d->node_lock around
 * the short node-wide sections: admission + allocation, the substrate's HTB
 * tree, the node's cgroup directories.  Order: name lock, then node_lock;
 * nothing waits for a name lock while holding node_lock. */
struct name_lock {
	char name[64];
	int refs;
	pthread_mutex_t m;
	struct name_lock *next;
};

static pthread_mutex_t name_locks_m = PTHREAD_MUTEX_INITIALIZER;
static struct name_lock *name_locks;
static struct name_lock name_lock_spare = { .m = PTHREAD_MUTEX_INITIALIZER }; /* out of memory: one shared lock */

void slice_op_begin(struct daemon *d, const char *name)
{
	struct name_lock *l;

	pthread_rwlock_rdlock(&d->ops_lock);
	pthread_mutex_lock(&name_locks_m);
	for (l = name_locks; l && strcmp(l->name, name); l = l->next)
		;
	if (!l && (l = calloc(1, sizeof(*l)))) {
		snprintf(l->name, sizeof(l->name), "%s", name);
		pthread_mutex_init(&l->m, NULL);
		l->next = name_locks;
		name_locks = l;
	}
	if (!l)
		l = &name_lock_spare;
	l->refs++;
	pthread_mutex_unlock(&name_locks_m);
	pthread_mutex_lock(&l->m);
}

void slice_op_end(struct daemon *d, const char *name)
{
	struct name_lock **pp, *l = &name_lock_spare;

	pthread_mutex_lock(&name_locks_m);
	for (pp = &name_locks; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->name, name)) {
			l = *pp;
			break;
		}
	pthread_mutex_unlock(&l->m);
	if (--l->refs == 0 && l != &name_lock_spare) {
		*pp = l->next;
		pthread_mutex_destroy(&l->m);
		free(l);
	}
	pthread_mutex_unlock(&name_locks_m);
	pthread_rwlock_unlock(&d->ops_lock);
}

static int files_resolver(void *ctx, const char *name, char **out)
{
	json_t *files = ctx, *v = files ? json_object_get(files, name) : NULL;

	if (!v || !json_is_string(v))
		return -ENOENT;
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

static int router_is_local(struct daemon *d, const struct trl_router *r)
{
	return !r->node[0] || !strcmp(r->node, d->node_name);
}

/* Where links go: local, this node's half of a tunnel, or elsewhere. */
static int plan_links(struct daemon *d, struct plan *p, json_t *placement, int strict, struct trl_error *err)
{
	struct trl_slice *s = p->s;
	json_t *nodes = placement ? json_object_get(placement, "nodes") : NULL;
	int forced = 0;

	if (s->tunnel[0]) {
		forced = node_tunnel_parse(s->tunnel);
		if (forced < 0)
			return trl_error_set(err, TRL_EINVALID, "tunnel: '%s' is not egre, gretap or vxlan", s->tunnel);
	}
	for (size_t l = 0; l < s->n_links; l++) {
		struct trl_link *lk = &s->links[l];
		struct plan_link *pl = &p->pl[l];
		int a = router_is_local(d, trl_slice_router(s, lk->ep[0].router));
		int b = router_is_local(d, trl_slice_router(s, lk->ep[1].router));
		const struct trl_router *other;
		json_t *addr;

		if (a && b) {
			pl->kind = PLAN_LINK_LOCAL;
			continue;
		}
		if (!a && !b) {
			pl->kind = PLAN_LINK_REMOTE;
			continue;
		}
		pl->kind = PLAN_LINK_TUNNEL;
		pl->ep = a ? 0 : 1;
		other = trl_slice_router(s, lk->ep[1 - pl->ep].router);
		snprintf(pl->remote_node, sizeof(pl->remote_node), "%s", other->node);
		if (!strict)
			continue;	/* teardown: kinds and keys come from the store */
		if (!d->has_substrate)
			return trl_error_set(err, TRL_EINVALID,
					     "link '%s' crosses to node '%s', but node '%s' has no substrate interface (start trellisd with --substrate)",
					     lk->name, other->node, d->node_name);
		addr = nodes ? json_object_get(json_object_get(nodes, other->node), "address") : NULL;
		if (!addr || inet_pton(AF_INET, json_string_value(addr), &pl->remote) != 1)
			return trl_error_set(err, TRL_EINVALID,
					     "link '%s' crosses to node '%s', whose address this node was not given (create multi-node slices with 'trellis --node NAME=SOCKET ... slice create')",
					     lk->name, other->node);
		/* A node's substrate address: one host, never this node's own loopback, a group or everyone. */
		{
			uint32_t a4 = ntohl(pl->remote.s_addr);

			if ((a4 >> 24) == 0 || (a4 >> 24) == 127 || (a4 >> 28) == 0xe || a4 == 0xffffffffu ||
			    pl->remote.s_addr == d->sub.addr.s_addr)
				return trl_error_set(err, TRL_EINVALID,
						     "placement: nodes: node '%s': '%s' is not another node's substrate address",
						     other->node, json_string_value(addr));
		}
		if (forced) {
			if (!(d->tunnels & (unsigned)forced))
				return trl_error_set(err, TRL_EUNAVAIL, "link '%s': tunnel '%s' is not available on node '%s' (%s)",
						     lk->name, s->tunnel, d->node_name, d->tunnels_missing);
			pl->tunnel = forced;
		} else if (d->tunnels & NODE_TUNNEL_EGRE) {
			pl->tunnel = NODE_TUNNEL_EGRE;
		} else if (d->tunnels & NODE_TUNNEL_GRETAP) {
			pl->tunnel = NODE_TUNNEL_GRETAP;
		} else if (d->tunnels & NODE_TUNNEL_VXLAN) {
			pl->tunnel = NODE_TUNNEL_VXLAN;
		} else {
			return trl_error_set(err, TRL_EUNAVAIL, "link '%s': no tunnel kind works on node '%s' (%s)",
					     lk->name, d->node_name, d->tunnels_missing);
		}
	}
	return 0;
}

static const char *plan_link_kind_name(const struct plan_link *pl)
{
	switch (pl->kind) {
	case PLAN_LINK_LOCAL:
		return "local";
	case PLAN_LINK_REMOTE:
		return "remote";
	case PLAN_LINK_TUNNEL:
		return node_tunnel_name(pl->tunnel);
	}
	return "?";
}

/* Fill names and interfaces; templates only when @need_templates (teardown must not depend on them). */
static int plan_build(struct daemon *d, struct trl_slice *s, unsigned uid_base, json_t *placement, int need_templates,
		      struct plan *p, struct trl_error *err)
{
	json_t *nodes = placement ? json_object_get(placement, "nodes") : NULL;

	memset(p, 0, sizeof(*p));
	p->d = d;
	p->s = s;
	p->uid_base = uid_base;
	if (cgroup_detect(&p->layout, err) < 0)
		return -err->code;
	p->tpls = calloc(s->n_routers, sizeof(*p->tpls));
	p->cs = calloc(s->n_routers, sizeof(*p->cs));
	p->local = calloc(s->n_routers, 1);
	p->pl = calloc(s->n_links + 1, sizeof(*p->pl));
	p->down = calloc(s->n_links + 1, sizeof(*p->down));
	if (!p->tpls || !p->cs || !p->local || !p->pl || !p->down)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	for (size_t i = 0; i < s->n_routers; i++) {
		struct trl_router *r = &s->routers[i];

		p->local[i] = router_is_local(d, r);
		p->n_local += p->local[i];
		if (need_templates && !p->local[i] && !(nodes && json_object_get(nodes, r->node)))
			return trl_error_set(err, TRL_EINVALID,
					     "router '%s' is placed on node '%s', which is not this node ('%s') and not among the nodes it was given (create multi-node slices with 'trellis --node NAME=SOCKET ... slice create')",
					     r->name, r->node, d->node_name);
	}
	if (plan_links(d, p, placement, need_templates, err) < 0)
		return -err->code;
	for (size_t i = 0; i < s->n_routers; i++) {
		struct trl_router *r = &s->routers[i];
		struct container_spec *cs = &p->cs[i];

		if (need_templates && p->local[i]) {
			if (template_find(d->template_path, r->template_name, &p->tpls[i], err) < 0)
				return trl_error_prefix(err, "router '%s'", r->name);
			if (!p->tpls[i].routing_frr && !p->tpls[i].routing_bird && (r->config || r->n_daemons))
				return trl_error_set(err, TRL_EINVALID,
						     "router '%s': template '%s' runs no routing stack, but the router has routing config",
						     r->name, r->template_name);
			if (p->tpls[i].routing_bird && r->n_daemons)
				return trl_error_set(err, TRL_EINVALID,
						     "router '%s': template '%s' runs BIRD, but the router lists FRR daemons",
						     r->name, r->template_name);
			for (size_t k = 0; k < r->n_daemons && p->tpls[i].routing_frr; k++) {
				char bin[64];

				snprintf(bin, sizeof(bin), "/usr/lib/frr/%s", r->daemons[k]);
				if (access(bin, X_OK) < 0)
					return trl_error_set(err, TRL_EINVALID,
							     "router '%s': FRR daemon '%s' is not installed on this node (%s)",
							     r->name, r->daemons[k], bin);
			}
		} else {
			snprintf(p->tpls[i].name, sizeof(p->tpls[i].name), "%s", r->template_name);
		}
		cs->lxcpath = d->lxcpath;
		cs->node = d->node_name;
		names_container(cs->name, sizeof(cs->name), s->name, r->name);
		cs->slice = s->name;
		cs->router = r;
		cs->tpl = &p->tpls[i];
		cs->uid_base = uid_base;
		cs->seccomp_path = d->seccomp_path;
		cs->layout = p->layout;
		cs->limits = trl_router_limits(s, r);
		for (size_t l = 0; l < s->n_links; l++) {
			for (int e = 0; e < 2; e++) {
				struct trl_endpoint *ep = &s->links[l].ep[e];
				struct container_if *ci;

				if (strcmp(ep->router, r->name))
					continue;
				if (cs->n_ifs >= ARRAY_SIZE(cs->ifs))
					return trl_error_set(err, TRL_EINVALID, "router '%s': more than %zu interfaces",
							     r->name, ARRAY_SIZE(cs->ifs));
				ci = &cs->ifs[cs->n_ifs++];
				snprintf(ci->ifname, sizeof(ci->ifname), "%s", ep->ifname);
				names_host_veth(ci->host, sizeof(ci->host), s->name, r->name, ep->ifname);
				names_mac(ci->mac, s->name, r->name, ep->ifname);
				ci->addrs = ep->addrs;
				ci->n_addrs = ep->n_addrs;
				if (p->pl[l].kind == PLAN_LINK_TUNNEL)
					ci->mtu = d->sub.mtu - (p->pl[l].tunnel == NODE_TUNNEL_VXLAN ? NODE_VXLAN_OVERHEAD
												 : NODE_EGRE_OVERHEAD);
			}
		}
	}
	plan_shape(p);
	return 0;
}

static void host_veth(const struct trl_slice *s, const struct trl_endpoint *ep, char buf[16])
{
	names_host_veth(buf, 16, s->name, ep->router, ep->ifname);
}

/* The slice's share of the substrate, from the (possibly changed) spec and the uid range. */
static void plan_shape(struct plan *p)
{
	struct shape_slice *ss = &p->ss;

	memset(ss, 0, sizeof(*ss));
	if (p->uid_base >= p->d->uid_start)
		ss->index = (p->uid_base - p->d->uid_start) / 65536;
	ss->bw_rate = p->s->bw_rate;
	ss->bw_ceil = p->s->bw_ceil;
	for (size_t l = 0; l < p->s->n_links; l++) {
		if (p->pl[l].kind != PLAN_LINK_TUNNEL)
			continue;
		ss->n_tunnel++;
		ss->links_rate += p->s->links[l].shape.rate;
	}
}

static uint64_t json_u64(json_t *o, const char *key, uint64_t dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v) : dflt;
}

static void shape_from_json(json_t *o, struct trl_link_shape *sh)
{
	sh->rate = json_u64(o, "rate", sh->rate);
	sh->ceil = json_u64(o, "ceil", sh->ceil);
	sh->burst = json_u64(o, "burst", sh->burst);
	sh->loss_ppm = (uint32_t)json_u64(o, "loss_ppm", sh->loss_ppm);
	sh->delay_us = (uint32_t)json_u64(o, "delay_us", sh->delay_us);
	sh->jitter_us = (uint32_t)json_u64(o, "jitter_us", sh->jitter_us);
}

static json_t *shape_to_json(const struct trl_link_shape *sh)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "rate", (json_int_t)sh->rate, "ceil", (json_int_t)sh->ceil,
			 "burst", (json_int_t)sh->burst, "loss_ppm", (json_int_t)sh->loss_ppm, "delay_us",
			 (json_int_t)sh->delay_us, "jitter_us", (json_int_t)sh->jitter_us);
}

/* Live changes recorded after the create override the spec's values. */
static void plan_apply_settings(struct store *st, struct plan *p)
{
	json_t *set = NULL, *links, *bw;
	struct trl_error e = { 0 };

	if (store_settings_get(st, p->s->name, &set, &e) < 0)
		return;
	bw = json_object_get(set, "bandwidth");
	if (json_is_object(bw)) {
		p->s->bw_rate = json_u64(bw, "rate", p->s->bw_rate);
		p->s->bw_ceil = json_u64(bw, "ceil", p->s->bw_ceil);
	}
	links = json_object_get(set, "links");
	for (size_t l = 0; l < p->s->n_links && json_is_object(links); l++) {
		json_t *o = json_object_get(links, p->s->links[l].name);

		if (!json_is_object(o))
			continue;
		shape_from_json(o, &p->s->links[l].shape);
		p->down[l] = json_is_false(json_object_get(o, "up"));
	}
	json_decref(set);
	plan_shape(p);
}

/* A tiny worker pool: run fn(ctx, i) for i in [0, n), @workers at a time. */
struct pool {
	atomic_size_t next;
	size_t n;
	void *ctx;
	int (*fn)(void *ctx, size_t i, struct trl_error *err);
	pthread_mutex_t lock;
	int failed;
	struct trl_error err;
};

static void *pool_worker(void *arg)
{
	struct pool *pl = arg;

	for (;;) {
		size_t i = atomic_fetch_add(&pl->next, 1);
		struct trl_error e = { 0 };

		if (i >= pl->n)
			break;
		pthread_mutex_lock(&pl->lock);
		int stop = pl->failed;
		pthread_mutex_unlock(&pl->lock);
		if (stop)
			break;
		if (pl->fn(pl->ctx, i, &e) < 0) {
			pthread_mutex_lock(&pl->lock);
			if (!pl->failed) {
				pl->failed = 1;
				pl->err = e;
			}
			pthread_mutex_unlock(&pl->lock);
		}
	}
	return NULL;
}

/* Returns 0 or the first failure (err filled).  With @keep_going all items run. */
static int pool_run(size_t n, int workers, int (*fn)(void *, size_t, struct trl_error *), void *ctx,
		    struct trl_error *err)
{
	struct pool pl = { .n = n, .ctx = ctx, .fn = fn, .lock = PTHREAD_MUTEX_INITIALIZER };
	pthread_t th[64];
	int nth = 0;

	if (workers < 1)
		workers = 1;
	if ((size_t)workers > n)
		workers = (int)n;
	if (workers > 64)
		workers = 64;
	for (int i = 1; i < workers; i++)
		if (pthread_create(&th[nth], NULL, pool_worker, &pl) == 0)
			nth++;
	pool_worker(&pl);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	if (pl.failed) {
		*err = pl.err;
		return -err->code;
	}
	return 0;
}

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
static void link_detach(struct plan *p, size_t l)
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
static int slice_teardown(struct plan *p, struct trl_error *err)
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

struct start_ctx {
	struct plan *p;
	struct request_ctx *rq;
	atomic_size_t done;
};

static int start_one(void *ctx, size_t i, struct trl_error *err)
{
	struct start_ctx *sc = ctx;
	struct container_spec *cs = &sc->p->cs[i];

	if (!sc->p->local[i] || (sc->p->only && !sc->p->only[i]))
		return 0;
	/* Loopbacks go in as soon as the router runs, before its routing stack
	 * has picked a router ID from the other interfaces. */
	if (container_prepare(cs, err) < 0 || container_start(cs, err) < 0 || container_set_loopback(cs, err) < 0)
		return trl_error_prefix(err, "router '%s'", cs->router->name);
	request_progress(sc->rq, "routers", "router '%s' started (%zu/%zu)", cs->router->name,
			 atomic_fetch_add(&sc->done, 1) + 1, sc->p->n_local);
	return 0;
}

static int wait_ready(struct plan *p, struct request_ctx *rq, struct trl_error *err)
{
	size_t n = p->s->n_routers, ready = 0, want = p->n_local;
	char *done = calloc(n, 1);
	long long waited = 0, limit = READY_TIMEOUT_MS + (long long)READY_PER_ROUTER_MS * n;

	if (!done)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	want = 0;
	for (size_t i = 0; i < n; i++) {
		done[i] = !p->local[i] || (p->only && !p->only[i]);
		want += !done[i];
	}
	while (ready < want) {
		for (size_t i = 0; i < n; i++) {
			int r;

			if (done[i])
				continue;
			r = container_poll_ready(&p->cs[i], err);
			if (r < 0) {
				free(done);
				return trl_error_prefix(err, "router '%s'", p->cs[i].router->name);
			}
			if (r > 0) {
				done[i] = 1;
				ready++;
				events_router_watch(p->d, p->s->name, p->owner, p->cs[i].router->name, p->cs[i].init_pid);
				request_progress(rq, "ready", "router '%s' running (%zu/%zu)", p->cs[i].router->name,
						 ready, want);
			}
		}
		if (ready == want)
			break;
		if (waited > limit) {
			for (size_t i = 0; i < n; i++)
				if (!done[i]) {
					trl_error_set(err, TRL_EFAILED, "router '%s': not running after %lld ms (%s)",
						      p->cs[i].router->name, waited,
						      p->tpls[i].routing_frr	? "FRR daemons did not all start"
						      : p->tpls[i].routing_bird ? "BIRD does not answer on its control socket /run/bird/bird.ctl"
										: "boot command did not start");
					break;
				}
			free(done);
			return -err->code;
		}
		usleep(20000);
		waited += 20;
	}
	free(done);
	for (size_t i = 0; i < n; i++) {
		char cg[256];
		struct container_spec *cs = &p->cs[i];

		if (!p->local[i])
			continue;
		names_cgroup(cg, sizeof(cg), p->d->node_name, p->s->name, cs->router->name);
		if (cgroup_verify_limits(p->layout, cg, &cs->limits, err) < 0)
			return trl_error_prefix(err, "router '%s': limits", cs->router->name);
	}
	return 0;
}

struct router_offloads {
	const char *ifname;
	int gre;		/* GRE segmentation offload */
	int seg;		/* TSO/GSO: -1 leave */
	struct trl_error *err;
};

static int offloads_in_router(void *arg)
{
	struct router_offloads *o = arg;

	if (o->gre >= 0 && bridge_gre_offload_set(o->ifname, o->gre, o->err) < 0)
		return -1;
	if (o->seg >= 0 && bridge_segmentation_set(o->ifname, o->seg, o->err) < 0)
		return -1;
	return 0;
}

static pid_t router_pid(struct plan *p, const char *router)
{
	pid_t pid = 0;

	for (size_t i = 0; i < p->s->n_routers; i++)
		if (!strcmp(p->s->routers[i].name, router)) {
			pid = p->cs[i].init_pid;
			if (pid <= 0) {
				char cname[64];

				names_container(cname, sizeof(cname), p->s->name, router);
				container_state(p->d->lxcpath, cname, &pid);
			}
		}
	return pid;
}

/* Offloads of router interface @ep (inside its namespace). */
static int router_offloads_set(struct plan *p, const struct trl_endpoint *ep, int gre, int seg,
			       struct trl_error *err)
{
	struct router_offloads o = { .ifname = ep->ifname, .gre = gre, .seg = seg, .err = err };
	pid_t pid = router_pid(p, ep->router);

	if (pid <= 0)
		return trl_error_set(err, TRL_EFAILED, "router '%s' is not running", ep->router);
	if (container_netns_call(pid, offloads_in_router, &o) < 0)
		return err->code ? -err->code : trl_error_set(err, TRL_EFAILED, "cannot enter router '%s'", ep->router);
	return 0;
}

/* Shaping, loss, delay of link @l as p->s says now; in place. */
static int link_shape(struct plan *p, size_t l, struct trl_error *err)
{
	struct trl_slice *s = p->s;
	struct trl_link *lk = &s->links[l];
	struct plan_link *pl = &p->pl[l];
	char a[16], b[16];

	host_veth(s, &lk->ep[0], a);
	host_veth(s, &lk->ep[1], b);
	switch (pl->kind) {
	case PLAN_LINK_REMOTE:
		return 0;
	case PLAN_LINK_LOCAL:
		return shape_link_apply(p->d, &p->ss, a, b, pl->key, &lk->shape, err);
	case PLAN_LINK_TUNNEL:
		if (pl->tunnel != NODE_TUNNEL_EGRE) {
			if (lk->shape.rate || lk->shape.loss_ppm || lk->shape.delay_us)
				return trl_error_set(err, TRL_EUNAVAIL,
						     "shaping, loss and delay of cross-node links need the egre fast path (this link uses %s)",
						     node_tunnel_name(pl->tunnel));
			return 0;
		}
		/* A shaped link's frames (or those of a slice with a bandwidth) reach
		 * the substrate one segment each, so HTB counts exactly the tenant's
		 * frames (see bridge_segmentation_set); others keep TSO for speed. */
		if (router_offloads_set(p, &lk->ep[pl->ep], -1, lk->shape.rate || p->ss.bw_rate ? 0 : 1, err) < 0)
			return -err->code;
		return shape_link_apply(p->d, &p->ss, pl->ep ? b : a, NULL, pl->key, &lk->shape, err);
	}
	return 0;
}

static int link_admin(struct plan *p, size_t l, int up, struct trl_error *err);

static int link_attach_fastpath(struct plan *p, size_t l, struct trl_error *err)
{
	struct trl_slice *s = p->s;
	struct trl_link *lk = &s->links[l];
	struct plan_link *pl = &p->pl[l];
	char a[16], b[16];
	const char *mine;

	host_veth(s, &lk->ep[0], a);
	host_veth(s, &lk->ep[1], b);
	mine = pl->ep ? b : a;
	switch (pl->kind) {
	case PLAN_LINK_REMOTE:
		return 0;
	case PLAN_LINK_LOCAL:
		/* redirect_peer until link_shape() decides otherwise. */
		if (bridge_link_attach(p->d->bridge, a, b, BRIDGE_F_PEER, err) < 0)
			return -err->code;
		return link_shape(p, l, err);
	case PLAN_LINK_TUNNEL:
		if (pl->tunnel == NODE_TUNNEL_EGRE) {
			/* GRE segmentation stays on at the host end (decapsulated TCP
			 * reaches the router whole) and goes off on the router's side, so
			 * what the router forwards from one tunnel into another is
			 * segmented before it is encapsulated again. */
			if (router_offloads_set(p, &lk->ep[pl->ep], 0, -1, err) < 0)
				return -err->code;
			/* Shaping is on the substrate (this node's direction), never on
			 * the host end: decapsulated frames may go straight in. */
			if (bridge_tunnel_attach(p->d->bridge, mine, pl->key, AF_INET, &pl->remote,
						 BRIDGE_F_PEER | BRIDGE_F_KEEP_GSO, err) < 0)
				return -err->code;
			/* Non-IP frames (ARP) need the substrate next hop resolved ahead of time. */
			if (bridge_neigh_refresh(p->d->sub.ifname, AF_INET, &pl->remote, err) < 0)
				return -err->code;
		} else {
			if (node_tunnel_dev_add(pl->tunnel, pl->key, &p->d->sub, &pl->remote, pl->dev, err) < 0 ||
			    bridge_link_attach(p->d->bridge, mine, pl->dev, 0, err) < 0)
				return -err->code;
		}
		/* The router side has the tunnel's MTU; the host side takes anything, so a
		 * frame the tenant makes too big reaches the fast path and is counted as
		 * an MTU drop instead of vanishing in the veth. */
		if (node_netdev_set_mtu(mine, 65535, err) < 0)
			return -err->code;
		/* Only this node's direction: the other node shapes the way back. */
		return link_shape(p, l, err);
	}
	return 0;
}

/* The host ends come up only now, with the fast path program attached: until
 * then they were down, without ARP or IPv6 (trellis-lxc-helper veth-hold). */
static int link_attach(struct plan *p, size_t l, struct trl_error *err)
{
	if (link_attach_fastpath(p, l, err) < 0)
		return -err->code;
	return p->down[l] ? 0 : link_admin(p, l, 1, err);
}

static int links_attach(struct plan *p, struct request_ctx *rq, struct trl_error *err)
{
	struct trl_slice *s = p->s;
	size_t done = 0, todo = 0;

	for (size_t l = 0; l < s->n_links; l++)
		todo += p->pl[l].kind != PLAN_LINK_REMOTE;
	if (todo && !p->d->bridge)
		return trl_error_set(err, TRL_EUNAVAIL, "links need the fast path, which is unavailable on node '%s'",
				     p->d->node_name);
	for (size_t l = 0; l < s->n_links; l++) {
		if (p->pl[l].kind == PLAN_LINK_REMOTE)
			continue;
		if (link_attach(p, l, err) < 0)
			return trl_error_prefix(err, "link '%s'", s->links[l].name);
		if (p->pl[l].kind == PLAN_LINK_TUNNEL)
			request_progress(rq, "links", "link '%s' up: %s key %u to node '%s' (%zu/%zu)", s->links[l].name,
					 node_tunnel_name(p->pl[l].tunnel), p->pl[l].key, p->pl[l].remote_node, ++done, todo);
		else
			request_progress(rq, "links", "link '%s' up (%zu/%zu)", s->links[l].name, ++done, todo);
	}
	return 0;
}

/* What this node cannot do for the links' shaping, refused before anything is built. */
static int plan_check_shaping(struct plan *p, struct trl_error *err)
{
	for (size_t l = 0; l < p->s->n_links; l++) {
		const struct trl_link *lk = &p->s->links[l];
		const struct plan_link *pl = &p->pl[l];

		if (pl->kind == PLAN_LINK_REMOTE)
			continue;
		if ((lk->shape.delay_us || lk->shape.jitter_us) && !p->d->netem)
			return trl_error_set(err, TRL_EUNAVAIL, "links[%zu] (%s): delay: on node '%s': %s", l, lk->name,
					     p->d->node_name, p->d->netem_why);
		if (pl->kind == PLAN_LINK_TUNNEL && pl->tunnel != NODE_TUNNEL_EGRE &&
		    (lk->shape.rate || lk->shape.loss_ppm || lk->shape.delay_us))
			return trl_error_set(err, TRL_EUNAVAIL,
					     "links[%zu] (%s): rate/loss/delay of a cross-node link need the egre fast path, but it would use %s",
					     l, lk->name, node_tunnel_name(pl->tunnel));
		if (pl->kind == PLAN_LINK_TUNNEL && pl->key && pl->key > SHAPE_MAX_KEY)
			return trl_error_set(err, TRL_ELIMIT, "links[%zu] (%s): key %u is above the %u shaping can tell apart",
					     l, lk->name, pl->key, SHAPE_MAX_KEY);
	}
	return 0;
}

/* Refuse a create whose host-side names are already taken (another instance, a leftover). */
#define DISK_RESERVE (64ULL << 20)	/* free space a create leaves at least */
#define DISK_PER_ROUTER (1ULL << 20)	/* a router's rootfs, config and logs, generously */
#define INODES_PER_ROUTER 200

uint64_t slice_disk_free(struct daemon *d)
{
	struct statvfs sv;
	uint64_t avail;

	if (statvfs(d->state_dir, &sv) < 0)
		return 0;
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	return avail > DISK_RESERVE ? avail - DISK_RESERVE : 0;
}

static int preflight(struct plan *p, struct trl_error *err)
{
	char path[PATH_MAX];
	struct statvfs sv;

	/* Out of disk is refused now, not half-way through writing rootfs.  A
	 * router with limits.disk reserves its whole image (rootfs included),
	 * the others the estimate. */
	if (p->n_local && statvfs(p->d->state_dir, &sv) == 0) {
		uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize, need = DISK_RESERVE, limits = 0;
		size_t n_limited = 0;
		char a[32], b[32], c[32], more[128] = "";

		for (size_t i = 0; i < p->s->n_routers; i++) {
			if (!p->local[i])
				continue;
			if (p->cs[i].limits.disk) {
				limits += p->cs[i].limits.disk;
				n_limited++;
			} else {
				need += DISK_PER_ROUTER;
			}
		}
		need += limits;
		if (n_limited) {
			units_size_format(limits, c, sizeof(c));
			if (n_limited < p->n_local)
				snprintf(more, sizeof(more), " + 1M each of %zu without limits.disk + limits.disk %s of %zu",
					 p->n_local - n_limited, c, n_limited);
			else
				snprintf(more, sizeof(more), " + their limits.disk %s", c);
		} else {
			snprintf(more, sizeof(more), " + 1M each");
		}
		if (avail < need) {
			units_size_format(avail & ~((1ULL << 20) - 1), a, sizeof(a));
			units_size_format(need, b, sizeof(b));
			return trl_error_set(err, TRL_ELIMIT,
					     "disk: %s free on the file system of the state directory '%s'; %zu routers need %s (64M kept free%s)",
					     a, p->d->state_dir, p->n_local, b, more);
		}
		if (sv.f_files && sv.f_favail < (fsfilcnt_t)(1000 + p->n_local * INODES_PER_ROUTER))
			return trl_error_set(err, TRL_ELIMIT,
					     "disk: %llu free inodes on the file system of the state directory '%s'; %zu routers need %zu",
					     (unsigned long long)sv.f_favail, p->d->state_dir, p->n_local,
					     1000 + p->n_local * INODES_PER_ROUTER);
	}

	for (size_t i = 0; i < p->s->n_routers; i++) {
		if (!p->local[i])
			continue;
		snprintf(path, sizeof(path), "%s/%s", p->d->lxcpath, p->cs[i].name);
		if (access(path, F_OK) == 0)
			return trl_error_set(err, TRL_EEXIST, "router '%s': container directory '%s' already exists",
					     p->cs[i].router->name, path);
		for (size_t k = 0; k < p->cs[i].n_ifs; k++)
			if (if_nametoindex(p->cs[i].ifs[k].host))
				return trl_error_set(err, TRL_EEXIST,
						     "router '%s': host interface '%s' already exists (another trellisd instance or a leftover)",
						     p->cs[i].router->name, p->cs[i].ifs[k].host);
	}
	if (cgroup_slice_exists(p->d->node_name, p->s->name))
		return trl_error_set(err, TRL_EEXIST, "cgroup 'trellis/%s/%s' already exists (a leftover, or another trellisd with node name '%s'?)",
				     p->d->node_name, p->s->name, p->d->node_name);
	return 0;
}

static int resolve_owner(struct request_ctx *rq, const char *owner, char *name, size_t len, uid_t *uid,
			 struct trl_error *err)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	char *end;

	if (!owner[0]) {
		*uid = rq->uid;
		if (getpwuid_r(rq->uid, &pw, buf, sizeof(buf), &res) == 0 && res)
			snprintf(name, len, "%s", res->pw_name);
		else
			snprintf(name, len, "%u", (unsigned)rq->uid);
		return 0;
	}
	unsigned long v = strtoul(owner, &end, 10);
	if (*end == '\0') {
		*uid = (uid_t)v;
		snprintf(name, len, "%s", owner);
		if (getpwuid_r(*uid, &pw, buf, sizeof(buf), &res) == 0 && res)
			snprintf(name, len, "%s", res->pw_name);
		return 0;
	}
	if (getpwnam_r(owner, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return trl_error_set(err, TRL_EINVALID, "owner: no user '%s' on this node", owner);
	*uid = res->pw_uid;
	snprintf(name, len, "%s", owner);
	return 0;
}

static int slice_load(struct store *st, const char *name, struct store_slice *row, struct trl_slice **s,
		      struct trl_error *err);

/*
 * Admission.  A slice promises, on this node, its aggregate cpu and memory
 * (limits:), or where it has none the sum over its routers here.  The node
 * hands out its online CPUs and MemTotal minus a headroom for the host
 * (ADMIT_HEADROOM: the larger of 10% and 512 MiB).  A create, or a set
 * that raises a promise, must fit beside every other slice's.
 */
#define ADMIT_HEADROOM_MIN (512ULL << 20)

static void slice_promise(struct daemon *d, const struct trl_slice *s, double *cpu, uint64_t *mem)
{
	double c = 0;
	uint64_t m = 0;
	size_t local = 0;

	for (size_t i = 0; i < s->n_routers; i++) {
		struct trl_limits l;

		if (!router_is_local(d, &s->routers[i]))
			continue;
		l = trl_router_limits(s, &s->routers[i]);
		c += l.cpu;
		m += l.memory;
		local++;
	}
	*cpu = !local ? 0 : s->limits.cpu > 0 ? s->limits.cpu : c;
	*mem = !local ? 0 : s->limits.memory ? s->limits.memory : m;
}

/* "21.2G": sizes in messages, one decimal in the largest unit that fits. */
static const char *size_text(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGTP";
	double x = (double)v;
	int u = -1;

	while (x >= 1024 && u < 4) {
		x /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64, v);
	else if (x == (double)(uint64_t)x)
		snprintf(buf, len, "%.0f%c", x, units[u]);
	else
		snprintf(buf, len, "%.1f%c", x, units[u]);
	return buf;
}

static void host_capacity(double *cores, uint64_t *mem)
{
	_cleanup_free_ char *text = NULL;
	const char *p;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t total = 0, headroom;

	*cores = n > 0 ? (double)n : 1;
	if (util_read_file("/proc/meminfo", 65536, &text, NULL) == 0 && (p = strstr(text, "MemTotal:")))
		total = strtoull(p + 9, NULL, 10) * 1024;
	headroom = total / 10 > ADMIT_HEADROOM_MIN ? total / 10 : ADMIT_HEADROOM_MIN;
	*mem = total > headroom ? total - headroom : 0;
}

static int admission_check(struct daemon *d, struct store *st, const struct trl_slice *s, int check_cpu, int check_mem,
			   struct trl_error *err)
{
	double cores, cpu, ocpu = 0;
	uint64_t have, mem, omem = 0;
	char **names = NULL;
	char a[32], b[32], c[32];
	int n;

	slice_promise(d, s, &cpu, &mem);
	if ((!check_cpu || cpu <= 0) && (!check_mem || !mem))
		return 0;
	host_capacity(&cores, &have);
	n = store_slice_names(st, &names, err);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct store_slice row;
		struct trl_slice *o = NULL;
		struct trl_error e = { 0 };
		double oc;
		uint64_t om;

		if (strcmp(names[i], s->name) && slice_load(st, names[i], &row, &o, &e) == 0) {
			slice_promise(d, o, &oc, &om);
			ocpu += oc;
			omem += om;
			store_slice_release(&row);
			trl_slice_free(o);
		}
		free(names[i]);
	}
	free(names);
	if (check_cpu && cpu > 0 && ocpu + cpu > cores + 1e-6)
		return trl_error_set(err, TRL_ELIMIT,
				     "slice '%s' asks %g cores; %g of %g cores are already promised to other slices on node '%s'",
				     s->name, cpu, ocpu, cores, d->node_name);
	if (check_mem && mem && omem + mem > have) {
		return trl_error_set(err, TRL_ELIMIT,
				     "slice '%s' asks %s of memory; %s of the %s node '%s' hands out (MemTotal less max(10%%, 512M) for the host) are already promised to other slices",
				     s->name, size_text(mem, a, sizeof(a)), size_text(omem, b, sizeof(b)),
				     size_text(have, c, sizeof(c)), d->node_name);
	}
	return 0;
}

/* Host-wide uid range claims (claim.c) for this daemon's slices. */
static int claim_skip_index(unsigned idx, void *arg)
{
	return store_uid_index_used(arg, idx);
}

static int claim_ours(const char *slice, void *arg)
{
	return store_slice_exists(arg, slice);
}

static void claim_init(struct daemon *d, struct store *st, const char *slice, uid_t owner, struct claim_uid *c)
{
	*c = (struct claim_uid){ .node = d->node_name, .slice = slice, .owner = owner, .state_dir = d->state_dir,
				 .skip_index = claim_skip_index, .ours = claim_ours, .arg = st };
}

_Static_assert(SHAPE_MAX_KEY == TRL_LINK_KEY_MAX, "link keys are the shaper's class ids (lib/model.h)");

/* How many slices @uid owns on this node, and routers of them here. */
static int owner_usage(struct daemon *d, struct store *st, uid_t uid, unsigned *slices, unsigned *routers,
		       struct trl_error *err)
{
	char **names = NULL;
	int n = store_slice_names(st, &names, err);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct store_slice row;
		struct trl_slice *o = NULL;
		struct trl_error e = { 0 };

		if (slice_load(st, names[i], &row, &o, &e) == 0) {
			if (row.owner_uid == uid) {
				(*slices)++;
				for (size_t k = 0; k < o->n_routers; k++)
					*routers += (unsigned)router_is_local(d, &o->routers[k]);
			}
			store_slice_release(&row);
			trl_slice_free(o);
		}
		free(names[i]);
	}
	free(names);
	return 0;
}

/* "r1, r2, r3" for a message that names a router the slice does not have. */
static const char *router_list(const struct trl_slice *s, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->n_routers && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", s->routers[i].name);
	return buf;
}

/* slice.create with dry_run: the slice as planned on this node, nothing built. */
static int plan_dry_run(const struct plan *p, json_t **result, struct trl_error *err)
{
	json_t *routers = json_array(), *links = json_array();

	for (size_t i = 0; i < p->s->n_routers; i++)
		json_array_append_new(routers, json_pack("{s:s, s:s, s:s, s:b}", "name", p->s->routers[i].name, "template",
							 p->s->routers[i].template_name, "node",
							 p->s->routers[i].node[0] ? p->s->routers[i].node : p->d->node_name,
							 "local", p->local[i]));
	for (size_t i = 0; i < p->s->n_links; i++)
		json_array_append_new(links, json_pack("{s:s, s:s}", "name", p->s->links[i].name, "kind",
						       plan_link_kind_name(&p->pl[i])));
	*result = json_pack("{s:s, s:b, s:o, s:o}", "name", p->s->name, "dry_run", 1, "routers", routers, "links", links);
	if (!*result)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	return 0;
}

int slice_create(struct request_ctx *rq, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	struct daemon *d = rq->d;
	struct trl_slice *s = NULL;
	struct store *st = NULL;
	struct store_slice row = { 0 };
	struct trl_error te = { 0 };
	struct plan p = { 0 };
	struct store_link *links = NULL;
	struct start_ctx sc;
	const char *step = "validate";
	char lname[64] = "", owner[64];
	uid_t owner_uid = 0;
	int r, inserted = 0, node_locked = 0, claimed = 0;

	if ((r = server_may(rq, ACCESS_CREATE, NULL, err)) < 0)
		return r;
	r = spec_parse(req->spec, req->spec_len, req->filename ? req->filename : "spec", files_resolver, req->files, &s,
		       err);
	if (r < 0)
		return r;
	cluster_placement_apply(s, req->placement);
	if (s->placement == TRL_PLACE_EACH_NODE && !json_object_get(req->placement, "each-node")) {
		r = trl_error_set(err, TRL_EINVALID,
				  "%s: placement: each-node needs cluster mode (trellisd --cluster, or trellis --cluster)",
				  req->filename ? req->filename : "spec");
		trl_slice_free(s);
		return r;
	}
	/* Whose slice it is decides the policy, before anything is built (a refusal leaves nothing). */
	if ((r = resolve_owner(rq, s->owner, owner, sizeof(owner), &owner_uid, err)) < 0) {
		trl_slice_free(s);
		return r;
	}
	/* A tenant's slices are its own: only root creates slices for others. */
	if (rq->uid != 0 && owner_uid != rq->uid) {
		r = trl_error_set(err, TRL_EPERM, "owner: '%s' is not you (uid %u): only root may create slices for another user",
				  s->owner, (unsigned)rq->uid);
		trl_slice_free(s);
		return r;
	}
	if (owner_uid != 0 &&
	    (r = tenant_limits_apply(&d->cfg, s, req->filename ? req->filename : "spec", err)) < 0) {
		trl_slice_free(s);
		return r;
	}
	request_progress(rq, "validate", "spec of slice '%s' is valid: %zu router%s, %zu link%s", s->name, s->n_routers,
			 s->n_routers == 1 ? "" : "s", s->n_links, s->n_links == 1 ? "" : "s");

	snprintf(lname, sizeof(lname), "%s", s->name);
	slice_op_begin(d, lname);
	r = plan_build(d, s, 0, req->placement, 1, &p, err);
	s = NULL;	/* owned by the plan now */
	if (r < 0)
		goto out;
	p.owner = owner_uid;
	if ((r = store_open(d->db_path, &st, err)) < 0)
		goto out;
	if (store_slice_get(st, p.s->name, &row, err) == 0) {
		store_slice_release(&row);
		r = trl_error_set(err, TRL_EEXIST, "slice '%s' already exists", p.s->name);
		goto out;
	}
	trl_error_clear(err);
	if ((r = preflight(&p, err)) < 0 || (r = plan_check_shaping(&p, err)) < 0)
		goto out;

	step = "allocate";
	/* Admission and allocation against every other slice's, as one step. */
	pthread_mutex_lock(&d->node_lock);
	node_locked = 1;
	if ((r = admission_check(d, st, p.s, 1, 1, err)) < 0)
		goto out;
	if (owner_uid != 0) {
		unsigned n_slices = 0, n_routers = 0;

		if ((r = owner_usage(d, st, owner_uid, &n_slices, &n_routers, err)) < 0 ||
		    (r = tenant_count_check(&d->cfg, d->node_name, n_slices, n_routers, p.s, (unsigned)p.n_local, err)) < 0)
			goto out;
	}
	snprintf(row.name, sizeof(row.name), "%s", p.s->name);
	snprintf(row.owner, sizeof(row.owner), "%s", owner);
	row.owner_uid = owner_uid;
	if (req->dry_run) {	/* slice create --dry-run: what would be built; nothing is */
		r = result ? plan_dry_run(&p, result, err) : 0;
		goto out;
	}
	/* Cluster mode: the uid range the cluster allocated for the slice (the same on every node). */
	if (req->placement && json_is_integer(json_object_get(req->placement, "uid_index")))
		row.uid_index_want = (unsigned)json_integer_value(json_object_get(req->placement, "uid_index"));
	/* The uid range, host-wide: another trellisd on this host must not map the same ids. */
	{
		struct claim_uid c;

		claim_init(d, st, row.name, row.owner_uid, &c);
		c.shared = row.uid_index_want != 0;
		if ((r = claim_uid_take(&c, d->uid_start, d->uid_count, row.uid_index_want, &row.uid_index_want, err)) < 0)
			goto out;
		claimed = 1;
	}
	row.spec = (char *)req->spec;
	row.filename = (char *)(req->filename ? req->filename : "");
	row.files = req->files;
	row.placement = req->placement;
	links = calloc(p.s->n_links + 1, sizeof(*links));
	if (!links) {
		r = trl_error_set(err, TRL_EFAILED, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < p.s->n_links; i++) {
		json_t *k = req->placement ? json_object_get(json_object_get(req->placement, "keys"), p.s->links[i].name)
					   : NULL;

		/* Even root's placement brings only keys the node can use: they become its published highest. */
		if (k && (!json_is_integer(k) || json_integer_value(k) < 1 || json_integer_value(k) > SHAPE_MAX_KEY)) {
			r = trl_error_set(err, TRL_EINVALID, "placement: keys: link '%s': key %" JSON_INTEGER_FORMAT " is not from 1 to %u",
					  p.s->links[i].name, json_integer_value(k), SHAPE_MAX_KEY);
			goto out;
		}
		links[i].name = p.s->links[i].name;
		links[i].key = k ? (uint32_t)json_integer_value(k) : 0;
		snprintf(links[i].kind, sizeof(links[i].kind), "%s", plan_link_kind_name(&p.pl[i]));
		if (p.pl[i].kind != PLAN_LINK_LOCAL && !links[i].key) {
			r = trl_error_set(err, TRL_EINVALID, "link '%s' crosses nodes but the create brought no key for it",
					  p.s->links[i].name);
			goto out;
		}
	}
	r = store_slice_insert(st, &row, d->uid_start, d->uid_count, links, p.s->n_links, err);
	row.spec = row.filename = NULL;
	row.files = row.placement = NULL;
	if (r < 0)
		goto out;
	inserted = 1;
	/* The tenant defaults this create gave its routers are theirs from now on (a reload re-parses the spec). */
	for (size_t i = 0; i < p.s->n_routers && owner_uid != 0; i++) {
		const struct trl_limits *l = &p.s->routers[i].limits;
		unsigned f = (l->cpu > 0 ? STORE_LIMIT_CPU : 0) | (l->memory ? STORE_LIMIT_MEMORY : 0) |
			     (l->pids ? STORE_LIMIT_PIDS : 0);

		if (f && (r = store_limits_put(st, p.s->name, p.s->routers[i].name, l, f, err)) < 0)
			goto rollback;
	}
	for (size_t i = 0; i < p.s->n_links; i++)
		p.pl[i].key = links[i].key;
	p.uid_base = row.uid_base;
	for (size_t i = 0; i < p.s->n_routers; i++)
		p.cs[i].uid_base = row.uid_base;
	plan_shape(&p);
	/* The slice's substrate classes (admission included), before any port steers frames into them. */
	if ((r = plan_check_shaping(&p, err)) < 0 || (r = shape_slice_apply(d, &p.ss, p.s->name, err)) < 0)
		goto rollback;
	request_progress(rq, "allocate", "uid range %u-%u, %zu link key%s", row.uid_base, row.uid_base + 65535,
			 p.s->n_links, p.s->n_links == 1 ? "" : "s");
	/* The slice's parent cgroup, limits applied and read back, before any router is placed in it. */
	if (p.n_local) {
		char cg[256];

		names_cgroup(cg, sizeof(cg), d->node_name, p.s->name, NULL);
		if ((r = cgroup_slice_create(p.layout, d->node_name, p.s->name, &p.s->limits, err)) < 0) {
			trl_error_prefix(err, "limits");
			goto rollback;
		}
		request_progress(rq, "allocate", "cgroup '%s' ready (%s)", cg, cgroup_layout_name(p.layout));
	}
	pthread_mutex_unlock(&d->node_lock);
	node_locked = 0;

	step = "routers";
	sc = (struct start_ctx){ .p = &p, .rq = rq };
	if ((r = pool_run(p.s->n_routers, d->parallel, start_one, &sc, err)) < 0)
		goto rollback;
	step = "ready";
	if ((r = wait_ready(&p, rq, err)) < 0)
		goto rollback;
	step = "links";
	if ((r = links_attach(&p, rq, err)) < 0)
		goto rollback;
	if ((r = store_slice_set_state(st, p.s->name, "ready", err)) < 0)
		goto rollback;
	events_emit(d, p.s->name, owner_uid, NULL, "slice-created", "slice '%s' created: %zu routers, %zu links",
		    p.s->name, p.s->n_routers, p.s->n_links);
	boot_id_store(st, p.s->name);
	log_info("slice '%s' created: %zu routers, %zu links", p.s->name, p.s->n_routers, p.s->n_links);
	trl_error_clear(err);
	r = 0;
	goto out;

rollback:
	{
		if (node_locked) {
			pthread_mutex_unlock(&d->node_lock);
			node_locked = 0;
		}
		log_warn("slice '%s': create failed at step '%s': %s; rolling back", p.s->name, step, ESC_TEXT(err->msg));
		request_progress(rq, "rollback", "create failed at step '%s': rolling back", step);
		p.keep_logs = 1;
		if (slice_teardown(&p, &te) < 0) {
			/* Kept (state 'deleting') so that a delete can finish it. */
			log_warn("slice '%s': rollback incomplete: %s", p.s->name, te.msg);
			if (inserted)
				store_slice_set_state(st, p.s->name, "deleting", NULL);
			trl_error_prefix(&te, "; rollback incomplete");
			trl_error_prefix(err, "slice '%s': step '%s'", p.s->name, step);
			snprintf(err->msg + strlen(err->msg), sizeof(err->msg) - strlen(err->msg),
				 "%s (remove that, then delete the slice)", te.msg);
		} else {
			if (inserted)
				store_slice_remove(st, p.s->name, NULL);
			trl_error_prefix(err, "slice '%s': step '%s'", p.s->name, step);
		}
	}
out:
	if (r < 0 && claimed)
		claim_uid_release(d->node_name, row.name, d->uid_start + row.uid_index_want * 65536u);
	if (node_locked)
		pthread_mutex_unlock(&d->node_lock);
	if (r < 0)
		trl_error_set_step(err, step);
	if (r == 0 && result && !req->dry_run) {
		store_close(st);
		st = NULL;
		slice_op_end(d, lname);
		char name[64];

		snprintf(name, sizeof(name), "%s", p.s->name);
		plan_free(&p);
		free(links);
		return slice_show(rq, name, result, err);
	}
	store_close(st);
	if (lname[0])
		slice_op_end(d, lname);
	trl_slice_free(s);
	plan_free(&p);
	free(links);
	return r;
}

/* Load a slice's row and spec. */
static int slice_load(struct store *st, const char *name, struct store_slice *row, struct trl_slice **s,
		      struct trl_error *err)
{
	int r = store_slice_get(st, name, row, err);

	if (r < 0)
		return r;
	r = spec_parse(row->spec, strlen(row->spec), row->filename, files_resolver, row->files, s, err);
	if (r < 0) {
		store_slice_release(row);
		return trl_error_prefix(err, "slice '%s': stored spec no longer parses", name);
	}
	cluster_placement_apply(*s, row->placement);
	/* Limits changed live since the create. */
	r = store_limits_apply(st, *s, err);
	if (r < 0) {
		store_slice_release(row);
		trl_slice_free(*s);
		*s = NULL;
	}
	return r;
}

/* Keys and kinds as the create recorded them: the node's tunnel kinds may have changed since. */
static void plan_load_links(struct store *st, struct plan *p)
{
	for (size_t l = 0; l < p->s->n_links; l++) {
		struct store_link sl = { .name = p->s->links[l].name };
		int t;

		if (store_link_get(st, p->s->name, &sl, NULL) < 0)
			continue;
		p->pl[l].key = sl.key;
		if ((t = node_tunnel_parse(sl.kind)) > 0) {
			p->pl[l].kind = PLAN_LINK_TUNNEL;
			p->pl[l].tunnel = t;
		}
	}
}

int slice_delete(struct request_ctx *rq, const char *name, json_t **result, struct trl_error *err)
{
	struct daemon *d = rq->d;
	struct store *st = NULL;
	struct store_slice row;
	struct trl_slice *s = NULL;
	struct plan p = { 0 };
	unsigned uid_base;
	uid_t owner;
	int r;

	slice_op_begin(d, name);
	if ((r = store_open(d->db_path, &st, err)) < 0)
		goto out;
	r = slice_load(st, name, &row, &s, err);
	if (r == 0 && (r = server_may(rq, ACCESS_DELETE, &row, err)) < 0) {
		store_slice_release(&row);
		trl_slice_free(s);
		s = NULL;
	}
	if (r == -TRL_ENOTFOUND) {	/* missing, or not the caller's: the same answer */
		*result = json_pack("{s:s, s:b}", "name", name, "removed", 0);
		trl_error_clear(err);
		r = 0;
		goto out;
	}
	if (r < 0)
		goto out;
	store_slice_set_state(st, name, "deleting", NULL);
	request_progress(rq, "delete", "removing %zu router%s and %zu link%s", s->n_routers, s->n_routers == 1 ? "" : "s",
			 s->n_links, s->n_links == 1 ? "" : "s");
	uid_base = row.uid_base;
	owner = row.owner_uid;
	r = plan_build(d, s, row.uid_base, row.placement, 0, &p, err);
	s = NULL;
	store_slice_release(&row);
	if (r < 0)
		goto out;
	plan_load_links(st, &p);
	if ((r = slice_teardown(&p, err)) < 0) {
		/* Still 'deleting': another delete (or the next start) finishes it. */
		events_emit(d, name, owner, NULL, "slice-delete-incomplete", "%s", err->msg);
		log_error("slice '%s': delete incomplete: %s", name, err->msg);
		trl_error_prefix(err, "slice '%s': delete incomplete", name);
		snprintf(err->msg + strlen(err->msg), sizeof(err->msg) - strlen(err->msg),
			 " (the slice stays, state 'deleting': delete it again once that is gone)");
		goto out;
	}
	ssh_account_remove(d, name);
	if ((r = store_slice_remove(st, name, err)) < 0)
		goto out;
	claim_uid_release(d->node_name, name, uid_base);
	events_emit(d, name, owner, NULL, "slice-deleted", "slice '%s' deleted", name);
	log_info("slice '%s' deleted", name);
	*result = json_pack("{s:s, s:b}", "name", name, "removed", 1);
out:
	plan_free(&p);
	trl_slice_free(s);
	store_close(st);
	slice_op_end(d, name);
	return r;
}

static json_t *limits_json(const struct trl_limits *l)
{
	return json_pack("{s:f, s:I, s:I, s:I, s:I}", "cpu", l->cpu, "cpu_weight", (json_int_t)l->cpu_weight, "memory",
			 (json_int_t)l->memory, "pids", (json_int_t)l->pids, "disk", (json_int_t)l->disk);
}

/* A stored slice the caller may @op, planned for this node as it was
 * created (keys and kinds from the store).  The plan owns the parsed spec. */
static int slice_plan_load(struct request_ctx *rq, enum access_op op, const char *name, struct store_slice *row,
			   struct plan *p, struct trl_error *err)
{
	struct store *st = NULL;
	struct trl_slice *s = NULL;
	int r;

	memset(p, 0, sizeof(*p));
	if ((r = store_open(rq->d->db_path, &st, err)) < 0)
		return r;
	r = slice_load(st, name, row, &s, err);
	if (r == 0 && (r = server_may(rq, op, row, err)) < 0) {
		store_slice_release(row);
		trl_slice_free(s);
	}
	if (r == 0) {
		r = plan_build(rq->d, s, row->uid_base, row->placement, 0, p, err);
		if (r == 0) {
			plan_load_links(st, p);
			plan_apply_settings(st, p);
		} else
			store_slice_release(row);
	}
	store_close(st);
	return r;
}

int slice_show(struct request_ctx *rq, const char *name, json_t **result, struct trl_error *err)
{
	struct daemon *d = rq->d;
	struct store_slice row;
	struct trl_slice *s;
	struct plan p;
	json_t *o, *routers, *links;
	int r, degraded = 0;

	if ((r = slice_plan_load(rq, ACCESS_SEE, name, &row, &p, err)) < 0) {
		plan_free(&p);
		return r;
	}
	s = p.s;
	routers = json_array();
	links = json_array();
	for (size_t i = 0; i < s->n_routers; i++) {
		struct trl_router *rt = &s->routers[i];
		struct trl_limits lim = trl_router_limits(s, rt);
		char cname[64];
		pid_t pid = 0;
		const char *state = "remote";
		json_t *ifs = json_array(), *daemons = json_array(), *lo = json_array();

		names_container(cname, sizeof(cname), s->name, rt->name);
		if (p.local[i]) {
			state = container_state(d->lxcpath, cname, &pid);
			if (strcmp(state, "running"))
				degraded = 1;
		}
		for (size_t k = 0; k < rt->n_daemons; k++)
			json_array_append_new(daemons, json_string(rt->daemons[k]));
		for (size_t l = 0; l < s->n_links; l++)
			for (int e = 0; e < 2; e++) {
				struct trl_endpoint *ep = &s->links[l].ep[e];
				unsigned char mac[6];
				char host[16], macs[32];
				json_t *addrs;

				if (strcmp(ep->router, rt->name))
					continue;
				addrs = json_array();
				host_veth(s, ep, host);
				names_mac(mac, s->name, rt->name, ep->ifname);
				snprintf(macs, sizeof(macs), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
					 mac[3], mac[4], mac[5]);
				for (size_t a = 0; a < ep->n_addrs; a++)
					json_array_append_new(addrs, json_string(ep->addrs[a].text));
				json_array_append_new(ifs, json_pack("{s:s, s:s, s:s, s:o, s:s}", "name", ep->ifname,
								     "host", host, "mac", macs, "addresses", addrs,
								     "link", s->links[l].name));
			}
		for (size_t a = 0; a < rt->n_loopback; a++)
			json_array_append_new(lo, json_string(rt->loopback[a].text));
		json_array_append_new(routers,
				      json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:o}", "name", rt->name,
						"node", rt->node[0] ? rt->node : d->node_name, "template",
						rt->template_name, "container", cname, "state", state, "pid", (int)pid,
						"daemons", daemons, "limits", limits_json(&lim), "interfaces", ifs,
						"loopback", lo));
	}
	for (size_t l = 0; l < s->n_links; l++) {
		struct trl_link *lk = &s->links[l];
		struct plan_link *pl = &p.pl[l];
		char a[16], b[16], ea[40], eb[40];
		const char *state = "remote";

		host_veth(s, &lk->ep[0], a);
		host_veth(s, &lk->ep[1], b);
		snprintf(ea, sizeof(ea), "%s:%s", lk->ep[0].router, lk->ep[0].ifname);
		snprintf(eb, sizeof(eb), "%s:%s", lk->ep[1].router, lk->ep[1].ifname);
		if (pl->kind == PLAN_LINK_LOCAL)
			state = if_nametoindex(a) && if_nametoindex(b) ? "up" : "down";
		else if (pl->kind == PLAN_LINK_TUNNEL)
			state = if_nametoindex(pl->ep ? b : a) ? "up" : "down";
		if (!strcmp(state, "down"))
			degraded = 1;
		else if (p.down[l])
			state = "admin-down";
		json_array_append_new(links, json_pack("{s:s, s:[s,s], s:[s,s], s:I, s:o, s:s, s:s, s:I}", "name",
						       lk->name, "endpoints", ea, eb, "hosts", a, b, "rate",
						       (json_int_t)lk->shape.rate, "shape", shape_to_json(&lk->shape),
						       "state", state, "kind", plan_link_kind_name(pl), "key",
						       (json_int_t)pl->key));
	}
	o = json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:s?, s:s, s:{s:I, s:I}, s:o, s:o, s:o, s:b, s:s?}", "name", s->name,
		      "owner", row.owner, "owner_uid", (json_int_t)row.owner_uid, "state",
		      !strcmp(row.state, "ready") && degraded ? "degraded" : row.state, "created",
		      (json_int_t)row.created, "uid_base", (json_int_t)row.uid_base, "description", s->description,
		      "node", d->node_name, "bandwidth", "rate", (json_int_t)s->bw_rate, "ceil", (json_int_t)s->bw_ceil,
		      "limits", limits_json(&s->limits), "routers", routers, "links", links, "persist", s->persist,
		      "tunnel", s->tunnel[0] ? s->tunnel : NULL);
	store_slice_release(&row);
	plan_free(&p);
	if (!o)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	*result = o;
	return 0;
}

static json_t *port_stats_json(struct daemon *d, const char *host)
{
	struct bridge_port_stats ps = { 0 };
	struct trl_error e = { 0 };

	if (!d->bridge || bridge_port_stats(d->bridge, host, &ps, &e) < 0)
		return json_pack("{s:s, s:s}", "host", host, "error", e.msg[0] ? e.msg : "no fast path");
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "host", host, "packets",
			 (json_int_t)ps.packets, "bytes", (json_int_t)ps.bytes, "rx_packets", (json_int_t)ps.rx_packets,
			 "rx_bytes", (json_int_t)ps.rx_bytes, "drops", (json_int_t)ps.drops, "drops_mtu",
			 (json_int_t)ps.drops_mtu, "drops_loss", (json_int_t)ps.drops_loss, "drops_other",
			 (json_int_t)(ps.drops_other + ps.drops_unjoined));
}

/* One direction of a link on this node: where its frames are counted. */
struct stat_dir {
	size_t link;
	int from;		/* endpoint index the frames come from */
	char dev[16];		/* egress with the class (host end or substrate), "" = unshaped */
	uint32_t classid;
	char port[16];		/* host end whose fast-path counters say what the router sent */
	uint64_t bytes0, t0;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Bytes sent in direction @sd so far: its class's, else the router's port's. */
static uint64_t dir_bytes(struct daemon *d, const struct stat_dir *sd, struct shaper_class_info *ci)
{
	struct trl_error e = { 0 };
	struct bridge_port_stats ps;

	memset(ci, 0, sizeof(*ci));
	if (sd->dev[0] && shaper_class_get(sd->dev, sd->classid, ci, &e) == 0)
		return ci->bytes;
	if (d->bridge && bridge_port_stats(d->bridge, sd->port, &ps, &e) == 0)
		return ps.bytes;
	return 0;
}

#define RATE_SAMPLE_US 500000

/* Accounting of the slice's group (@router NULL) or a router's, or JSON null when it has none here. */
static json_t *usage_json(struct plan *p, const char *router)
{
	struct cgroup_usage u;
	char cg[256];

	names_cgroup(cg, sizeof(cg), p->d->node_name, p->s->name, router);
	if (cgroup_usage_read(p->layout, cg, &u) < 0)
		return json_null();
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "cpu_ns", (json_int_t)u.cpu_ns, "cpu_throttled",
			 (json_int_t)u.cpu_throttled, "memory", (json_int_t)u.mem_current, "memory_max",
			 (json_int_t)u.mem_max, "memory_failcnt", (json_int_t)u.mem_failcnt, "oom_kills",
			 (json_int_t)u.oom_kills, "pids", (json_int_t)u.pids_current, "pids_max", (json_int_t)u.pids_max);
}

/* limits.disk: the router's own rootfs file system as df would see it (all 0 without one). */
static void disk_usage_add(struct plan *p, size_t i, const char *cname, json_t *u)
{
	uint64_t used = 0, avail = 0, max = p->cs[i].limits.disk;
	char rootfs[PATH_MAX];

	snprintf(rootfs, sizeof(rootfs), "%s/%s/rootfs", p->d->lxcpath, cname);
	if (!max || disk_usage(rootfs, &used, &avail) < 0)
		used = avail = max = 0;
	json_object_set_new(u, "disk", json_integer((json_int_t)used));
	json_object_set_new(u, "disk_free", json_integer((json_int_t)avail));
	json_object_set_new(u, "disk_max", json_integer((json_int_t)max));
}

static json_t *routers_usage_json(struct plan *p)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < p->s->n_routers; i++) {
		const char *name = p->s->routers[i].name, *state = "remote";
		json_t *u = json_null();
		char cname[64];
		pid_t pid;

		if (p->local[i]) {
			names_container(cname, sizeof(cname), p->s->name, name);
			state = container_state(p->d->lxcpath, cname, &pid);
			u = usage_json(p, name);
			if (json_is_object(u))
				disk_usage_add(p, i, cname, u);
		}
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o}", "name", name, "state", state, "usage", u));
	}
	return arr;
}

int slice_stats(struct request_ctx *rq, const char *name, json_t **result, struct trl_error *err)
{
	struct store_slice row;
	struct trl_slice *s;
	struct plan p;
	struct stat_dir *sd;
	size_t nd = 0;
	json_t *links;
	int r;

	if ((r = slice_plan_load(rq, ACCESS_SEE, name, &row, &p, err)) < 0) {
		plan_free(&p);
		return r;
	}
	store_slice_release(&row);
	s = p.s;
	sd = calloc(2 * s->n_links + 1, sizeof(*sd));
	if (!sd) {
		plan_free(&p);
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	}
	/* Directions this node carries, first sample. */
	for (size_t l = 0; l < s->n_links; l++) {
		struct trl_link *lk = &s->links[l];
		struct plan_link *pl = &p.pl[l];
		uint32_t cls;
		int shaped = shape_link_class_of(&lk->shape, pl->kind == PLAN_LINK_TUNNEL, pl->key, &cls) == 0;

		for (int from = 0; from < 2; from++) {
			struct stat_dir *x;
			struct shaper_class_info ci;

			if (pl->kind == PLAN_LINK_REMOTE || (pl->kind == PLAN_LINK_TUNNEL && pl->ep != from))
				continue;
			x = &sd[nd++];
			x->link = l;
			x->from = from;
			x->classid = cls;
			host_veth(s, &lk->ep[from], x->port);
			if (shaped && pl->kind == PLAN_LINK_LOCAL)
				host_veth(s, &lk->ep[1 - from], x->dev);
			else if (shaped && pl->kind == PLAN_LINK_TUNNEL && pl->tunnel == NODE_TUNNEL_EGRE)
				snprintf(x->dev, sizeof(x->dev), "%s", rq->d->sub.ifname);
			x->bytes0 = dir_bytes(rq->d, x, &ci);
			x->t0 = now_ns();
		}
	}
	if (nd)
		usleep(RATE_SAMPLE_US);

	links = json_array();
	for (size_t l = 0; l < s->n_links; l++) {
		struct trl_link *lk = &s->links[l];
		struct plan_link *pl = &p.pl[l];
		json_t *ports = json_array(), *dirs = json_array();
		char h[16];

		for (int e = 0; e < 2; e++) {
			if (pl->kind == PLAN_LINK_REMOTE || (pl->kind == PLAN_LINK_TUNNEL && pl->ep != e))
				continue;
			host_veth(s, &lk->ep[e], h);
			json_array_append_new(ports, port_stats_json(rq->d, h));
		}
		for (size_t i = 0; i < nd; i++) {
			struct shaper_class_info ci;
			uint64_t b1, t1;
			char from[40], to[40], cls[48] = "";

			if (sd[i].link != l)
				continue;
			b1 = dir_bytes(rq->d, &sd[i], &ci);
			t1 = now_ns();
			snprintf(from, sizeof(from), "%s:%s", lk->ep[sd[i].from].router, lk->ep[sd[i].from].ifname);
			snprintf(to, sizeof(to), "%s:%s", lk->ep[1 - sd[i].from].router, lk->ep[1 - sd[i].from].ifname);
			if (sd[i].dev[0])
				snprintf(cls, sizeof(cls), "%s 1:%x", sd[i].dev, SHAPER_MINOR(sd[i].classid));
			json_array_append_new(
				dirs, json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "from", from, "to", to,
						"rate_now",
						(json_int_t)(t1 > sd[i].t0 && b1 >= sd[i].bytes0
								     ? (b1 - sd[i].bytes0) * 8 * 1000000000ULL / (t1 - sd[i].t0)
								     : 0),
						"class", cls, "bytes", (json_int_t)ci.bytes, "packets", (json_int_t)ci.packets,
						"drops", (json_int_t)ci.drops, "overlimits", (json_int_t)ci.overlimits,
						"backlog_bytes", (json_int_t)ci.backlog_bytes, "backlog_packets",
						(json_int_t)ci.backlog_packets));
		}
		json_array_append_new(links, json_pack("{s:s, s:s, s:I, s:I, s:o, s:s, s:o, s:o}", "name", lk->name, "kind",
						       plan_link_kind_name(pl), "key", (json_int_t)pl->key, "rate",
						       (json_int_t)lk->shape.rate, "shape", shape_to_json(&lk->shape),
						       "admin", p.down[l] ? "down" : "up", "ports", ports,
						       "directions", dirs));
	}
	free(sd);
	*result = json_pack("{s:s, s:s, s:o, s:o, s:o}", "name", s->name, "node", rq->d->node_name, "links", links,
			    "usage", usage_json(&p, NULL), "routers", routers_usage_json(&p));
	plan_free(&p);
	return 0;
}

/*
 * slice.set: change limits live.  Without a router the slice's aggregate
 * (its parent cgroup) changes, with one that router's group.  Order: parse
 * and check everything (values, router within slice, admission), then
 * change the kernel (cgroup_limits_set reads back and restores on failure),
 * then record the values; if recording fails the kernel is put back.  So
 * every refusal or failure leaves the previous values in force.
 */
static int rate_value(const char *what, const char *t, uint64_t *out, struct trl_error *err)
{
	*out = 0;
	if (!strcmp(t, "none") || !strcmp(t, "0"))
		return 0;
	if (units_rate_parse(t, out) < 0 || *out < 8)
		return trl_error_set(err, TRL_EINVALID, "%s: '%.32s' is not a rate (e.g. 50mbit, or none)", what, t);
	return 0;
}

/* slice set --bandwidth/--ceil: the slice's substrate classes, in place. */
static int slice_set_bandwidth(struct request_ctx *rq, const struct proto_request *req, json_t **out,
			       struct trl_error *err)
{
	struct daemon *d = rq->d;
	struct store_slice row;
	struct store *st = NULL;
	struct plan p;
	struct shape_slice old_ss;
	uint64_t rate = 0, ceil = 0, old_rate, old_ceil;
	json_t *set = NULL;
	int r;

	if ((req->set.bandwidth && rate_value("bandwidth", req->set.bandwidth, &rate, err) < 0) ||
	    (req->set.ceil && rate_value("ceil", req->set.ceil, &ceil, err) < 0))
		return -err->code;
	if (req->router)
		return trl_error_set(err, TRL_EINVALID, "bandwidth: a slice's share, not a router's (leave out --router)");
	slice_op_begin(d, req->name);
	pthread_mutex_lock(&d->node_lock);
	if ((r = slice_plan_load(rq, ACCESS_CHANGE, req->name, &row, &p, err)) < 0)
		goto out;
	store_slice_release(&row);
	old_rate = p.s->bw_rate;
	old_ceil = p.s->bw_ceil;
	old_ss = p.ss;
	if (req->set.bandwidth)
		p.s->bw_rate = rate;
	if (req->set.ceil)
		p.s->bw_ceil = ceil;
	if (!p.s->bw_rate && p.s->bw_ceil) {
		r = trl_error_set(err, TRL_EINVALID, "ceil: needs a bandwidth (the guaranteed share it may borrow above)");
		goto out;
	}
	if (p.s->bw_ceil && p.s->bw_ceil < p.s->bw_rate) {
		char a[32], b[32];

		units_rate_format(p.s->bw_ceil, a, sizeof(a));
		units_rate_format(p.s->bw_rate, b, sizeof(b));
		r = trl_error_set(err, TRL_EINVALID, "ceil: %s is below the bandwidth %s", a, b);
		goto out;
	}
	plan_shape(&p);
	if ((r = shape_slice_admit(d, &p.ss, p.s->name, err)) < 0)
		goto out;
	r = shape_slice_apply(d, &p.ss, p.s->name, err);
	for (size_t l = 0; r == 0 && l < p.s->n_links; l++)
		if (p.pl[l].kind == PLAN_LINK_TUNNEL)
			r = link_shape(&p, l, err);
	if (r == 0 && (r = store_open(d->db_path, &st, err)) == 0 && (r = store_settings_get(st, p.s->name, &set, err)) == 0) {
		json_object_set_new(set, "bandwidth", json_pack("{s:I, s:I}", "rate", (json_int_t)p.s->bw_rate, "ceil",
								(json_int_t)p.s->bw_ceil));
		r = store_settings_put(st, p.s->name, set, err);
	}
	if (r < 0) {
		struct trl_error e = { 0 };

		p.s->bw_rate = old_rate;
		p.s->bw_ceil = old_ceil;
		p.ss = old_ss;
		if (shape_slice_apply(d, &p.ss, p.s->name, &e) < 0)
			log_warn("slice '%s': restoring its bandwidth: %s", p.s->name, e.msg);
		for (size_t l = 0; l < p.s->n_links; l++)
			if (p.pl[l].kind == PLAN_LINK_TUNNEL && link_shape(&p, l, &e) < 0)
				log_warn("slice '%s': restoring link '%s': %s", p.s->name, p.s->links[l].name, e.msg);
		goto out;
	}
	events_emit_st(d, st, p.s->name, NULL, "slice-set", "bandwidth %llu ceil %llu bit/s",
		       (unsigned long long)p.s->bw_rate, (unsigned long long)p.s->bw_ceil);
	log_info("slice '%s': bandwidth %llu ceil %llu bit/s", p.s->name, (unsigned long long)p.s->bw_rate,
		 (unsigned long long)p.s->bw_ceil);
	*out = json_pack("{s:s, s:{s:I, s:I}, s:{s:I, s:I}, s:b}", "name", p.s->name, "bandwidth", "rate",
			 (json_int_t)p.s->bw_rate, "ceil", (json_int_t)p.s->bw_ceil, "bandwidth_previous", "rate",
			 (json_int_t)old_rate, "ceil", (json_int_t)old_ceil, "substrate", p.ss.n_tunnel > 0);
out:
	json_decref(set);
	store_close(st);
	plan_free(&p);
	pthread_mutex_unlock(&d->node_lock);
	slice_op_end(d, req->name);
	return r;
}

int slice_set(struct request_ctx *rq, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	json_t *bw = NULL;
	int r;

	if (req->set.bandwidth || req->set.ceil) {
		if ((r = slice_set_bandwidth(rq, req, &bw, err)) < 0)
			return r;
		if (!req->set.cpu && !req->set.cpu_weight && !req->set.memory && !req->set.pids) {
			*result = bw;
			return 0;
		}
	}
	r = slice_set_limits(rq, req, result, err);
	if (r == 0 && bw) {
		json_object_set(*result, "bandwidth", json_object_get(bw, "bandwidth"));
		json_object_set(*result, "bandwidth_previous", json_object_get(bw, "bandwidth_previous"));
	}
	json_decref(bw);
	return r;
}

static int slice_set_limits(struct request_ctx *rq, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	const struct {
		const char *text, *name;
		unsigned bit;
	} vals[] = {
		{ req->set.cpu, "cpu", CGROUP_F_CPU },
		{ req->set.cpu_weight, "cpu-weight", CGROUP_F_WEIGHT },
		{ req->set.memory, "memory", CGROUP_F_MEMORY },
		{ req->set.pids, "pids", CGROUP_F_PIDS },
	};
	struct daemon *d = rq->d;
	struct store *st = NULL;
	struct store_slice row;
	struct trl_slice *s = NULL;
	struct trl_router *rt = NULL;
	struct trl_limits want = { 0 }, cur, next, before, now;
	struct trl_limits *target;
	enum cgroup_layout layout;
	unsigned fields = 0;
	char rel[256], why[256], what[64];
	double cpu0, cpu1;
	uint64_t mem0, mem1;
	size_t local = 0;
	int r, loaded = 0;

	for (size_t i = 0; i < ARRAY_SIZE(vals); i++) {
		if (!vals[i].text)
			continue;
		if (spec_limit_parse(vals[i].name, vals[i].text, &want, why, sizeof(why)) < 0)
			return trl_error_set(err, TRL_EINVALID, "%s: %s", vals[i].name, why);
		fields |= vals[i].bit;
	}
	if (!fields)
		return trl_error_set(err, TRL_EINVALID, "nothing to change: give cpu, cpu-weight, memory, pids, bandwidth or ceil");
	if (cgroup_detect(&layout, err) < 0)
		return -err->code;

	slice_op_begin(d, req->name);
	pthread_mutex_lock(&d->node_lock);
	if ((r = store_open(d->db_path, &st, err)) < 0)
		goto out;
	if ((r = slice_load(st, req->name, &row, &s, err)) < 0)
		goto out;
	loaded = 1;
	/* Like show: a slice the caller may not change does not exist for it. */
	if ((r = server_may(rq, ACCESS_CHANGE, &row, err)) < 0)
		goto out;
	for (size_t i = 0; i < s->n_routers; i++)
		local += router_is_local(d, &s->routers[i]);
	if (req->router) {
		rt = trl_slice_router(s, req->router);
		if (!rt) {
			char names[256];

			r = trl_error_set(err, TRL_ENOTFOUND, "slice '%s' has no router '%s' (its routers: %s)", s->name,
					  req->router, router_list(s, names, sizeof(names)));
			goto out;
		}
		if (!router_is_local(d, rt)) {
			r = trl_error_set(err, TRL_EINVALID, "router '%s' runs on node '%s', not on '%s': send the change to that node",
					  rt->name, rt->node, d->node_name);
			goto out;
		}
		snprintf(what, sizeof(what), "router '%s'", rt->name);
		cur = trl_router_limits(s, rt);
		target = &rt->limits;
	} else {
		if (!local) {
			r = trl_error_set(err, TRL_EINVALID, "slice '%s' has no routers on node '%s'", s->name, d->node_name);
			goto out;
		}
		snprintf(what, sizeof(what), "limits");
		cur = s->limits;
		target = &s->limits;
	}
	slice_promise(d, s, &cpu0, &mem0);
	next = cur;
	if (fields & CGROUP_F_CPU)
		next.cpu = want.cpu;
	if (fields & CGROUP_F_WEIGHT)
		next.cpu_weight = want.cpu_weight;
	if (fields & CGROUP_F_MEMORY)
		next.memory = want.memory;
	if (fields & CGROUP_F_PIDS)
		next.pids = want.pids;

	/* A tenant's router stays within the operator's maxima (the slice's aggregate only bounds its routers further). */
	if (rt && row.owner_uid != 0 &&
	    (r = tenant_set_check(&d->cfg, rt->name, &next, !!(fields & CGROUP_F_CPU), !!(fields & CGROUP_F_MEMORY),
				  !!(fields & CGROUP_F_PIDS), err)) < 0)
		goto out;
	/* A router within its slice; the slice above each of its routers (v1 refuses a parent quota below a child's). */
	for (size_t i = 0; i < s->n_routers; i++) {
		const struct trl_router *o = &s->routers[i];
		struct trl_limits rl = o == rt ? next : trl_router_limits(s, o);
		const struct trl_limits *sl = rt ? &s->limits : &next;
		char a[32], b[32];

		if (!router_is_local(d, o) || (rt && o != rt))
			continue;
		if ((fields & CGROUP_F_CPU) && sl->cpu > 0 && rl.cpu > sl->cpu) {
			r = trl_error_set(err, TRL_EINVALID,
					  "cpu: router '%s' would get %g cores, more than the slice's limits.cpu (%g)%s", o->name,
					  rl.cpu, sl->cpu, rt ? "" : ": lower the router's first (--router)");
			goto out;
		}
		if ((fields & CGROUP_F_MEMORY) && sl->memory && rl.memory > sl->memory) {
			units_size_format(rl.memory, a, sizeof(a));
			units_size_format(sl->memory, b, sizeof(b));
			r = trl_error_set(err, TRL_EINVALID,
					  "memory: router '%s' would get %s, more than the slice's limits.memory (%s)%s", o->name,
					  a, b, rt ? "" : ": lower the router's first (--router)");
			goto out;
		}
		if ((fields & CGROUP_F_PIDS) && sl->pids && rl.pids > sl->pids) {
			r = trl_error_set(err, TRL_EINVALID,
					  "pids: router '%s' would get %" PRIu64 ", more than the slice's limits.pids (%" PRIu64 ")%s",
					  o->name, rl.pids, sl->pids, rt ? "" : ": lower the router's first (--router)");
			goto out;
		}
	}
	if (!rt && (fields & CGROUP_F_MEMORY) && next.memory < (uint64_t)local * (16ULL << 20)) {
		units_size_format(next.memory, why, sizeof(why));
		r = trl_error_set(err, TRL_EINVALID, "memory: '%s' cannot hold the %zu routers on node '%s' (each needs at least 16M)",
				  why, local, d->node_name);
		goto out;
	}
	if (!rt && (fields & CGROUP_F_PIDS) && next.pids && next.pids < (uint64_t)local * 16) {
		r = trl_error_set(err, TRL_EINVALID, "pids: %" PRIu64 " cannot hold the %zu routers on node '%s' (each needs at least 16)",
				  next.pids, local, d->node_name);
		goto out;
	}
	/* Admission on the slice as it would be; only a promise that grows can be refused. */
	if (fields & CGROUP_F_CPU)
		target->cpu = next.cpu;
	if (fields & CGROUP_F_MEMORY)
		target->memory = next.memory;
	slice_promise(d, s, &cpu1, &mem1);
	if ((r = admission_check(d, st, s, cpu1 > cpu0 + 1e-9, mem1 > mem0, err)) < 0)
		goto out;

	names_cgroup(rel, sizeof(rel), d->node_name, s->name, rt ? rt->name : NULL);
	if ((r = cgroup_limits_read(layout, rel, CGROUP_F_ALL, &before, err)) < 0) {
		trl_error_prefix(err, "%s", what);
		goto out;
	}
	if ((r = cgroup_limits_set(layout, rel, &next, fields, NULL, err)) < 0) {
		trl_error_prefix(err, "%s", what);
		goto out;
	}
	if ((r = store_limits_put(st, s->name, rt ? rt->name : NULL, &next, fields, err)) < 0) {
		struct trl_error e2 = { 0 };

		if (cgroup_limits_set(layout, rel, &before, fields, NULL, &e2) < 0)
			log_error("slice '%s': %s: %s", s->name, what, e2.msg);
		goto out;
	}
	if ((r = cgroup_limits_read(layout, rel, CGROUP_F_ALL, &now, err)) < 0)
		goto out;
	/* Not a cgroup knob, and not changed here: what the router was created with. */
	now.disk = before.disk = rt ? trl_router_limits(s, rt).disk : 0;
	snprintf(why, sizeof(why), "%s changed (cgroup '%s')", what, rel);
	events_emit_st(rq->d, st, s->name, rt ? rt->name : NULL, "slice-set", "%s", why);
	log_info("slice '%s': %s", s->name, why);
	*result = json_pack("{s:s, s:s?, s:s, s:o, s:o}", "name", s->name, "router", rt ? rt->name : NULL, "cgroup", rel,
			    "limits", limits_json(&now), "previous", limits_json(&before));
	r = 0;
out:
	if (loaded)
		store_slice_release(&row);
	trl_slice_free(s);
	store_close(st);
	pthread_mutex_unlock(&d->node_lock);
	slice_op_end(d, req->name);
	/* Most messages name the slice already ("no slice 'x'", admission). */
	if (r < 0 && !strstr(err->msg, "slice '"))
		trl_error_prefix(err, "slice '%s'", req->name);
	return r;
}

int slice_list(struct request_ctx *rq, json_t **result, struct trl_error *err)
{
	struct store *st = NULL;
	char **names = NULL;
	json_t *arr = json_array();
	int n, r;

	if ((r = store_open(rq->d->db_path, &st, err)) < 0)
		return r;
	n = store_slice_names(st, &names, err);
	for (int i = 0; i < n; i++) {
		struct store_slice row;
		struct trl_slice *s = NULL;

		if (slice_load(st, names[i], &row, &s, err) < 0) {
			trl_error_clear(err);
			continue;
		}
		if (server_may(rq, ACCESS_SEE, &row, NULL) == 0)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I}", "name", row.name,
							     "owner", row.owner, "owner_uid",
							     (json_int_t)row.owner_uid, "state", row.state, "routers",
							     (json_int_t)s->n_routers, "links", (json_int_t)s->n_links,
							     "created", (json_int_t)row.created));
		store_slice_release(&row);
		trl_slice_free(s);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	store_close(st);
	*result = json_pack("{s:o}", "slices", arr);
	return 0;
}

int slice_exec(struct request_ctx *rq, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	struct store *st = NULL;
	struct store_slice row;
	struct trl_slice *s = NULL;
	struct container_io io = { .tty = req->tty, .fds = rq->fds, .conn_fd = rq->fd };
	struct ssh_session *session = NULL;
	char cname[64];
	char **argv = NULL;
	size_t n;
	pid_t pid;
	int r, status = 0;

	/* With a terminal the daemon opens the pty and passes its master back;
	 * without one the command runs on the client's own stdio. */
	if (req->tty && rq->nfds != 0)
		return trl_error_set(err, TRL_EPROTO, "slice.exec with tty passes no fds (the daemon sends the pty), got %zu",
				     rq->nfds);
	if (!req->tty && rq->nfds != 3)
		return trl_error_set(err, TRL_EPROTO, "slice.exec needs the client's stdin, stdout and stderr (3 fds), got %zu",
				     rq->nfds);
	for (size_t i = 0; i < rq->nfds; i++) {
		struct stat sb;

		/* A directory fd would let the command walk the host's tree from outside its root. */
		if (fstat(rq->fds[i], &sb) < 0 || S_ISDIR(sb.st_mode))
			return trl_error_set(err, TRL_EINVALID, "slice.exec: passed fd %zu is a directory or unusable", i);
	}
	if ((r = store_open(rq->d->db_path, &st, err)) < 0)
		return r;
	r = slice_load(st, req->name, &row, &s, err);
	store_close(st);
	if (r < 0)
		return r;
	r = server_may(rq, ACCESS_LOGIN, &row, err);
	store_slice_release(&row);
	if (r < 0) {
		trl_slice_free(s);
		return r;
	}
	if (!trl_slice_router(s, req->router)) {
		char names[256];

		r = trl_error_set(err, TRL_ENOTFOUND, "slice '%s' has no router '%s' (its routers: %s)", req->name,
				  req->router, router_list(s, names, sizeof(names)));
		trl_slice_free(s);
		return r;
	}
	names_container(cname, sizeof(cname), s->name, req->router);
	trl_slice_free(s);
	if (strcmp(container_state(rq->d->lxcpath, cname, &pid), "running"))
		return trl_error_set(err, TRL_EFAILED, "router '%s' of slice '%s' is not running", req->router,
				     req->name);
	n = json_array_size(req->argv);
	argv = calloc(n + 1, sizeof(*argv));
	if (!argv)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	for (size_t i = 0; i < n; i++)
		argv[i] = (char *)json_string_value(json_array_get(req->argv, i));
	/* Who opens a terminal in which router is worth an operator's log line. */
	log_msg(req->tty ? LOG_LVL_INFO : LOG_LVL_DEBUG, LOG_MODULE, "uid %u: %s '%s' in router '%s' of slice '%s'",
		(unsigned)rq->uid, req->tty ? "session" : "exec", ESC(argv[0]), req->router, req->name);
	/* A slice's ssh account: tracked by key, so removing the key ends it. */
	if ((r = ssh_session_begin(rq, req->name, req->key, &session, err)) < 0) {
		free(argv);
		return r;
	}
	io.started = session ? ssh_session_started : NULL;
	io.started_arg = session;
	/* The session's process writes to the client's socket: nobody else may meanwhile. */
	pthread_mutex_lock(&rq->lock);
	r = container_exec(rq->d->lxcpath, cname, argv, &io, &status, err);
	pthread_mutex_unlock(&rq->lock);
	ssh_session_end(session);
	free(argv);
	if (r < 0)
		return r;
	*result = json_pack("{s:i}", "exit", status);
	return 0;
}

/* Index of link @which ("r1:eth1-r2:eth1", "r1:eth1" or "r2:eth1"), or -1. */
static long link_find(const struct trl_slice *s, const char *which)
{
	for (size_t l = 0; l < s->n_links; l++) {
		const struct trl_link *lk = &s->links[l];
		char ep[40];

		if (!strcmp(lk->name, which))
			return (long)l;
		for (int e = 0; e < 2; e++) {
			snprintf(ep, sizeof(ep), "%s:%s", lk->ep[e].router, lk->ep[e].ifname);
			if (!strcmp(ep, which))
				return (long)l;
		}
	}
	return -1;
}

int slice_link_end(struct request_ctx *rq, const char *name, const char *link, const char *end,
		   struct slice_link_end *out, struct trl_error *err)
{
	struct store_slice row;
	struct plan p;
	const struct trl_link *lk;
	const struct trl_router *rt;
	long l;
	int r, e = 0;

	if ((r = slice_plan_load(rq, ACCESS_SEE, name, &row, &p, err)) < 0)
		return r;
	store_slice_release(&row);
	l = link_find(p.s, link);
	if (l < 0) {
		r = trl_error_set(err, TRL_ENOTFOUND, "slice '%s' has no link '%s'", name, link);
		goto out;
	}
	lk = &p.s->links[l];
	/* LINK names an end ("r2:eth1") or the link (first end); --end picks by router. */
	if (strcmp(lk->name, link)) {
		char ep0[40];

		snprintf(ep0, sizeof(ep0), "%s:%s", lk->ep[0].router, lk->ep[0].ifname);
		e = strcmp(ep0, link) != 0;
	}
	if (end && strcmp(lk->ep[e].router, end))
		e = !e;
	if (end && strcmp(lk->ep[e].router, end)) {
		r = trl_error_set(err, TRL_EINVALID, "end: router '%s' is not an end of link '%s'", end, lk->name);
		goto out;
	}
	rt = trl_slice_router(p.s, lk->ep[e].router);
	if (!rt || !router_is_local(p.d, rt)) {
		r = trl_error_set(err, TRL_EINVALID, "link '%s': router '%s' runs on node '%s', not on '%s' (ask that node)",
				  lk->name, lk->ep[e].router, rt ? rt->node : "?", p.d->node_name);
		goto out;
	}
	snprintf(out->router, sizeof(out->router), "%s", lk->ep[e].router);
	snprintf(out->ifname, sizeof(out->ifname), "%s", lk->ep[e].ifname);
	snprintf(out->link, sizeof(out->link), "%s", lk->name);
	names_container(out->container, sizeof(out->container), p.s->name, lk->ep[e].router);
	if (strcmp(container_state(p.d->lxcpath, out->container, &out->pid), "running") || out->pid <= 0)
		r = trl_error_set(err, TRL_EFAILED, "router '%s' of slice '%s' is not running", out->router, name);
out:
	plan_free(&p);
	return r;
}

/* The same checks the spec parser makes, for values that come from link set. */
static int shape_check(const struct trl_link_shape *sh, struct trl_error *err)
{
	char a[32], b[32];

	if (sh->rate && (sh->rate < 8 || sh->rate > SHAPER_RATE_MAX))
		return trl_error_set(err, TRL_EINVALID, "rate: %llu bit/s is outside 8bit..1Tbit", (unsigned long long)sh->rate);
	if (sh->ceil && !sh->rate)
		return trl_error_set(err, TRL_EINVALID, "ceil: needs a rate (the guaranteed share it may borrow above)");
	if (sh->ceil && sh->ceil < sh->rate) {
		units_rate_format(sh->ceil, a, sizeof(a));
		units_rate_format(sh->rate, b, sizeof(b));
		return trl_error_set(err, TRL_EINVALID, "ceil: %s is below the rate %s", a, b);
	}
	if (sh->ceil > SHAPER_RATE_MAX)
		return trl_error_set(err, TRL_EINVALID, "ceil: above 1Tbit");
	if (sh->burst && !sh->rate)
		return trl_error_set(err, TRL_EINVALID, "burst: needs a rate (an unshaped link has no bucket)");
	if (sh->burst && (sh->burst < 1600 || sh->burst > (1ULL << 30)))
		return trl_error_set(err, TRL_EINVALID, "burst: %llu bytes is outside 1600 bytes (one frame) .. 1G",
				     (unsigned long long)sh->burst);
	if (sh->loss_ppm > 1000000)
		return trl_error_set(err, TRL_EINVALID, "loss: above 100%%");
	if (sh->delay_us > UNITS_TIME_MAX || sh->jitter_us > UNITS_TIME_MAX)
		return trl_error_set(err, TRL_EINVALID, "delay/jitter: above 60s");
	if (sh->jitter_us && !sh->delay_us)
		return trl_error_set(err, TRL_EINVALID, "jitter: needs a delay (it varies the delay)");
	if (sh->jitter_us > sh->delay_us)
		return trl_error_set(err, TRL_EINVALID, "jitter: larger than the delay");
	return 0;
}

/* Host ends of link @l on this node, up or down (the router ends lose their carrier). */
static int link_admin(struct plan *p, size_t l, int up, struct trl_error *err)
{
	struct trl_link *lk = &p->s->links[l];
	struct plan_link *pl = &p->pl[l];
	char h[16];

	for (int e = 0; e < 2; e++) {
		if (pl->kind == PLAN_LINK_REMOTE || (pl->kind == PLAN_LINK_TUNNEL && pl->ep != e))
			continue;
		host_veth(p->s, &lk->ep[e], h);
		if (node_netdev_set_up(h, up, err) < 0)
			return -err->code;
	}
	return 0;
}

int link_set(struct request_ctx *rq, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	struct daemon *d = rq->d;
	struct store_slice row;
	struct store *st = NULL;
	struct plan p;
	struct trl_link_shape old, *sh;
	struct shape_slice old_ss;
	json_t *set = NULL, *links, *entry, *changed = json_array(), *v;
	const char *state;
	long l;
	int r, applied = 0, down, was_down;

	slice_op_begin(d, req->name);
	pthread_mutex_lock(&d->node_lock);
	if ((r = slice_plan_load(rq, ACCESS_CHANGE, req->name, &row, &p, err)) < 0)
		goto out_plan;
	store_slice_release(&row);
	l = link_find(p.s, req->link);
	if (l < 0) {
		r = trl_error_set(err, TRL_ENOTFOUND, "slice '%s' has no link '%s'", req->name, req->link);
		goto out;
	}
	if (p.pl[l].kind == PLAN_LINK_REMOTE) {
		r = trl_error_set(err, TRL_EINVALID, "link '%s' has no end on node '%s'", p.s->links[l].name,
				  d->node_name);
		goto out;
	}
	sh = &p.s->links[l].shape;
	old = *sh;
	old_ss = p.ss;
	shape_from_json(req->settings, sh);
	if ((r = shape_check(sh, err)) < 0) {
		trl_error_prefix(err, "link '%s'", p.s->links[l].name);
		goto out;
	}
	if ((sh->delay_us || sh->jitter_us) && !d->netem) {
		r = trl_error_set(err, TRL_EUNAVAIL, "link '%s': delay on node '%s': %s", p.s->links[l].name,
				  d->node_name, d->netem_why);
		goto out;
	}
	plan_shape(&p);
	if (p.pl[l].kind == PLAN_LINK_TUNNEL && (r = shape_slice_admit(d, &p.ss, p.s->name, err)) < 0)
		goto out;

	/* Apply; on failure put the previous settings back. */
	applied = 1;
	if (p.pl[l].kind == PLAN_LINK_TUNNEL && sh->rate >= old.rate)
		r = shape_slice_apply(d, &p.ss, p.s->name, err);
	if (r == 0)
		r = link_shape(&p, (size_t)l, err);
	if (r == 0 && p.pl[l].kind == PLAN_LINK_TUNNEL && sh->rate < old.rate)
		r = shape_slice_apply(d, &p.ss, p.s->name, err);
	state = json_string_value(json_object_get(req->settings, "state"));
	was_down = p.down[l];
	down = state ? !strcmp(state, "down") : p.down[l];
	if (r == 0 && state)
		r = link_admin(&p, (size_t)l, !down, err);
	if (r < 0)
		goto restore;

	if ((r = store_open(d->db_path, &st, err)) < 0 || (r = store_settings_get(st, p.s->name, &set, err)) < 0)
		goto restore;
	links = json_object_get(set, "links");
	if (!json_is_object(links)) {
		links = json_object();
		json_object_set_new(set, "links", links);
	}
	entry = shape_to_json(sh);
	json_object_set_new(entry, "up", json_boolean(!down));
	json_object_set_new(links, p.s->links[l].name, entry);
	if ((r = store_settings_put(st, p.s->name, set, err)) < 0)
		goto restore;
	{
		const char *key;
		char msg[256];

		json_object_foreach(req->settings, key, v)
			if (strcmp(key, "state") || down != was_down)	/* up when up: nothing changed */
				json_array_append_new(changed, json_string(key));
		snprintf(msg, sizeof(msg), "link '%s' changed", p.s->links[l].name);
		events_emit_st(d, st, p.s->name, NULL, !state ? "link-set" : down ? "link-down" : "link-up", "%s%s",
			       msg, !state ? "" : down ? ": taken down" : ": brought up");
		log_info("slice '%s': %s", p.s->name, msg);
	}
	*result = json_pack("{s:s, s:s, s:o, s:s, s:o}", "slice", p.s->name, "link", p.s->links[l].name, "shape",
			    shape_to_json(sh), "admin", down ? "down" : "up", "changed", changed);
	changed = NULL;
	goto out;

restore:
	if (applied) {
		struct trl_error e = { 0 };

		*sh = old;
		p.ss = old_ss;
		if ((p.pl[l].kind == PLAN_LINK_TUNNEL && shape_slice_apply(d, &p.ss, p.s->name, &e) < 0) ||
		    link_shape(&p, (size_t)l, &e) < 0 || link_admin(&p, (size_t)l, !p.down[l], &e) < 0)
			log_warn("slice '%s': link '%s': restoring the previous settings: %s", p.s->name,
				 p.s->links[l].name, e.msg);
	}
out:
	json_decref(set);
	json_decref(changed);
	store_close(st);
out_plan:
	plan_free(&p);
	pthread_mutex_unlock(&d->node_lock);
	slice_op_end(d, req->name);
	return r;
}

/* --- restart: re-adopt what runs, finish what was interrupted, repair drift --- */

static void boot_id_read(char out[64])
{
	_cleanup_free_ char *t = NULL;

	out[0] = '\0';
	if (util_read_file("/proc/sys/kernel/random/boot_id", 128, &t, NULL) == 0) {
		t[strcspn(t, "\n")] = '\0';
		snprintf(out, 64, "%s", t);
	}
}

/* Remember the boot a slice was built in (a later boot means the host restarted). */
static void boot_id_store(struct store *st, const char *slice)
{
	json_t *set = NULL;
	char id[64];

	boot_id_read(id);
	if (!id[0] || store_settings_get(st, slice, &set, NULL) < 0)
		return;
	json_object_set_new(set, "boot_id", json_string(id));
	store_settings_put(st, slice, set, NULL);
	json_decref(set);
}

/* The owner of the slice being reconciled (one at a time, under ops_lock): its events carry it. */
static uid_t note_owner;

static void note(json_t *actions, const char *slice, const char *action, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void note(json_t *actions, const char *slice, const char *action, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("reconcile: slice '%s': %s: %s", slice, action, msg);
	events_emit(g_daemon, slice, note_owner, NULL, "reconcile", "%s: %s", action, msg);
	json_array_append_new(actions, json_pack("{s:s, s:s, s:s}", "slice", slice, "action", action, "detail", msg));
}

/* The whole slice from its row, as create builds it (templates resolved). */
static int reconcile_plan(struct daemon *d, struct store *st, const char *name, struct store_slice *row,
			  struct plan *p, int strict, struct trl_error *err)
{
	struct trl_slice *s = NULL;
	int r = slice_load(st, name, row, &s, err);

	memset(p, 0, sizeof(*p));
	if (r < 0)
		return r;
	r = plan_build(d, s, row->uid_base, row->placement, strict, p, err);
	if (r < 0)
		return r;
	p->owner = row->owner_uid;
	plan_load_links(st, p);
	plan_apply_settings(st, p);
	return 0;
}

/* Start p->only routers (all local ones if NULL), wait, attach @links (all if NULL). */
static int reconcile_realize(struct plan *p, const char *links, struct trl_error *err)
{
	struct start_ctx sc = { .p = p };
	int r;

	if ((r = pool_run(p->s->n_routers, p->d->parallel, start_one, &sc, err)) < 0 ||
	    (r = wait_ready(p, NULL, err)) < 0)
		return r;
	if ((r = shape_slice_apply(p->d, &p->ss, p->s->name, err)) < 0)
		return r;
	for (size_t l = 0; l < p->s->n_links; l++) {
		if (p->pl[l].kind == PLAN_LINK_REMOTE || (links && !links[l]))
			continue;
		if ((r = link_attach(p, l, err)) < 0)
			return trl_error_prefix(err, "link '%s'", p->s->links[l].name);
		if (p->down[l] && (r = link_admin(p, l, 0, err)) < 0)
			return r;
	}
	return 0;
}

static void reconcile_one(struct daemon *d, struct store *st, const char *name, const char *boot, json_t *actions)
{
	struct store_slice row = { 0 };
	struct trl_error e = { 0 };
	struct plan p = { 0 };
	json_t *set = NULL;
	char *links = NULL;
	const char *built_in;
	size_t fixes = 0;
	int r;

	r = reconcile_plan(d, st, name, &row, &p, 0, &e);
	note_owner = row.spec ? row.owner_uid : 0;
	if (r < 0) {
		note(actions, name, "error", "cannot plan it: %s (left alone)", e.msg);
		goto out;
	}
	if (!strcmp(row.state, "creating") || !strcmp(row.state, "deleting")) {
		/* Interrupted half-way: a create is rolled back, a delete finished. */
		if (slice_teardown(&p, &e) < 0) {
			store_slice_set_state(st, name, "deleting", NULL);
			note(actions, name, "error", "removing it failed: %s (state 'deleting': delete it again)", e.msg);
			goto out;
		}
		store_slice_remove(st, name, NULL);
		claim_uid_release(d->node_name, name, row.uid_base);
		note(actions, name, !strcmp(row.state, "creating") ? "rolled-back" : "deleted",
		     "%s was interrupted (daemon stopped); everything it built is removed",
		     !strcmp(row.state, "creating") ? "its create" : "its delete");
		goto out;
	}
	{
		/* Its uid range stays this daemon's, host-wide (the claims are gone after a reboot). */
		struct claim_uid c;

		claim_init(d, st, name, row.owner_uid, &c);
		c.shared = json_is_integer(json_object_get(row.placement, "uid_index"));
		if (claim_uid_hold(&c, row.uid_base, &e) < 0) {
			note(actions, name, "error", "%s", e.msg);
			trl_error_clear(&e);
		}
	}
	if (!p.n_local)
		goto out;
	store_settings_get(st, name, &set, NULL);
	built_in = json_string_value(json_object_get(set, "boot_id"));
	if (built_in && boot[0] && strcmp(built_in, boot)) {
		/* The host restarted: nothing of the slice survived. */
		if (!p.s->persist) {
			if (slice_teardown(&p, &e) < 0) {
				store_slice_set_state(st, name, "deleting", NULL);
				note(actions, name, "error", "removing it failed: %s (state 'deleting': delete it again)",
				     e.msg);
				goto out;
			}
			store_slice_remove(st, name, NULL);
			claim_uid_release(d->node_name, name, row.uid_base);
			note(actions, name, "removed", "the host restarted and the slice is not marked persist: its state is removed");
			goto out;
		}
		plan_free(&p);
		store_slice_release(&row);
		if ((r = reconcile_plan(d, st, name, &row, &p, 1, &e)) < 0 ||
		    (r = cgroup_slice_create(p.layout, d->node_name, name, &p.s->limits, &e)) < 0 ||
		    (r = reconcile_realize(&p, NULL, &e)) < 0) {
			note(actions, name, "error", "rebuilding it after the host restart failed: %s", e.msg);
			store_slice_set_state(st, name, "failed", NULL);
			goto out;
		}
		boot_id_store(st, name);
		note(actions, name, "rebuilt", "persistent slice rebuilt after a host restart: %zu routers, %zu links",
		     p.n_local, p.s->n_links);
		goto out;
	}

	/* Same boot: re-adopt, and repair what drifted. */
	plan_free(&p);
	store_slice_release(&row);
	if ((r = reconcile_plan(d, st, name, &row, &p, 1, &e)) < 0) {
		note(actions, name, "error", "cannot plan it: %s (left alone)", e.msg);
		goto out;
	}
	p.only = calloc(p.s->n_routers + 1, 1);
	links = calloc(p.s->n_links + 1, 1);
	if (!p.only || !links)
		goto out;
	for (size_t i = 0; i < p.s->n_routers; i++) {
		struct container_spec *cs = &p.cs[i];
		const char *state;
		pid_t pid = 0;

		if (!p.local[i])
			continue;
		state = container_state(d->lxcpath, cs->name, &pid);
		if (strcmp(state, "running")) {
			p.only[i] = 1;
			note(actions, name, "restarted", "router '%s' was %s", cs->router->name, state);
			continue;
		}
		cs->init_pid = pid;
		for (size_t k = 0; k < cs->n_ifs; k++)
			if (!if_nametoindex(cs->ifs[k].host)) {
				p.only[i] = 1;
				note(actions, name, "restarted", "router '%s' lost its interface '%s' (host end '%s' missing)",
				     cs->router->name, cs->ifs[k].ifname, cs->ifs[k].host);
				break;
			}
	}
	for (size_t l = 0; l < p.s->n_links; l++) {
		struct trl_link *lk = &p.s->links[l];
		struct plan_link *pl = &p.pl[l];
		char a[16], b[16];

		if (pl->kind == PLAN_LINK_REMOTE)
			continue;
		host_veth(p.s, &lk->ep[0], a);
		host_veth(p.s, &lk->ep[1], b);
		for (int k = 0; k < 2; k++) {
			const struct trl_router *rt = trl_slice_router(p.s, lk->ep[k].router);

			for (size_t i = 0; i < p.s->n_routers; i++)
				if (&p.s->routers[i] == rt && p.only[i])
					links[l] = 1;
		}
		if (links[l])
			continue;
		if (!d->bridge ||
		    (pl->kind == PLAN_LINK_LOCAL ? !bridge_port_joined(d->bridge, a) || !bridge_port_joined(d->bridge, b)
						 : !bridge_port_joined(d->bridge, pl->ep ? b : a))) {
			links[l] = 1;
			note(actions, name, "relinked", "link '%s' was not joined in the fast path", lk->name);
		} else if (pl->kind == PLAN_LINK_LOCAL && (lk->shape.rate || lk->shape.delay_us) &&
			   (!shaper_tree_exists(a) || !shaper_tree_exists(b))) {
			links[l] = 1;
			note(actions, name, "reshaped", "link '%s' had lost its qdisc", lk->name);
		}
	}
	for (size_t i = 0; i < p.s->n_routers; i++)
		fixes += p.only[i];
	for (size_t l = 0; l < p.s->n_links; l++)
		fixes += links[l];
	if (!fixes)
		goto out;
	/* A running router with a lost interface is started afresh: LXC makes its veths. */
	for (size_t i = 0; i < p.s->n_routers; i++)
		if (p.only[i] && p.cs[i].init_pid > 0 && container_destroy(d->lxcpath, p.cs[i].name, 0, &e) < 0)
			log_warn("reconcile: %s", e.msg);
	if ((r = reconcile_realize(&p, links, &e)) < 0) {
		note(actions, name, "error", "repair failed: %s", e.msg);
		goto out;
	}
	events_emit_st(d, st, name, NULL, "drift-repaired", "slice '%s' repaired after a daemon restart", name);
out:
	json_decref(set);
	free(links);
	free(p.only);
	p.only = NULL;
	plan_free(&p);
	if (row.spec)
		store_slice_release(&row);
}

void slice_reconcile(struct daemon *d)
{
	struct store *st = NULL;
	struct trl_error e = { 0 };
	char **names = NULL, boot[64];
	json_t *actions = json_array();
	struct timespec t0, t1;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	boot_id_read(boot);
	pthread_rwlock_wrlock(&d->ops_lock);
	if (store_open(d->db_path, &st, &e) < 0) {
		log_error("reconcile: %s", e.msg);
		pthread_rwlock_unlock(&d->ops_lock);
		json_decref(actions);
		return;
	}
	n = store_slice_names(st, &names, &e);
	for (int i = 0; i < n; i++) {
		reconcile_one(d, st, names[i], boot, actions);
		free(names[i]);
	}
	free(names);
	store_close(st);
	pthread_rwlock_unlock(&d->ops_lock);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	json_decref(d->reconcile);
	d->reconcile = json_pack("{s:I, s:i, s:f, s:o}", "time", (json_int_t)time(NULL), "slices", n < 0 ? 0 : n,
				 "seconds", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, "actions",
				 actions);
	log_info("reconcile: %d slices checked in %.3f s, %zu actions", n < 0 ? 0 : n,
		 json_real_value(json_object_get(d->reconcile, "seconds")), json_array_size(actions));
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
