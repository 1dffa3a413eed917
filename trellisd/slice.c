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
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include "bridge.h"
#include "cgroup.h"
#include "container.h"
#include "log.h"
#include "names.h"
#include "shaper.h"
#include "spec.h"
#include "store.h"
#include "template.h"
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
	int keep_logs;			/* teardown after a failed create */
};

static void plan_free(struct plan *p)
{
	free(p->tpls);
	free(p->cs);
	free(p->local);
	free(p->pl);
	trl_slice_free(p->s);
	memset(p, 0, sizeof(*p));
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
	if (!p->tpls || !p->cs || !p->local || !p->pl)
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
			if (!p->tpls[i].routing_frr && (r->config || r->n_daemons))
				return trl_error_set(err, TRL_EINVALID,
						     "router '%s': template '%s' runs no routing stack, but the router has routing config",
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
	return 0;
}

static void host_veth(const struct trl_slice *s, const struct trl_endpoint *ep, char buf[16])
{
	names_host_veth(buf, 16, s->name, ep->router, ep->ifname);
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

struct destroy_ctx {
	struct plan *p;
};

static int destroy_one(void *ctx, size_t i, struct trl_error *err)
{
	struct plan *p = ctx;
	struct trl_error e = { 0 };

	if (!p->local[i])
		return 0;
	if (container_destroy(p->d->lxcpath, p->cs[i].name, p->keep_logs, &e) < 0)
		log_warn("slice '%s': %s", p->s->name, e.msg);
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

/* Remove everything the plan could have built.  Idempotent; never fails half-way. */
static void slice_teardown(struct plan *p)
{
	struct trl_slice *s = p->s;
	struct trl_error e = { 0 };

	for (size_t l = 0; l < s->n_links; l++)
		link_detach(p, l);
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
	cgroup_remove_slice(p->d->node_name, s->name);
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

	if (!sc->p->local[i])
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
	for (size_t i = 0; i < n; i++)
		done[i] = !p->local[i];
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
						      p->tpls[i].routing_frr ? "FRR daemons did not all start"
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

struct gre_off {
	const char *ifname;
	struct trl_error *err;
};

static int gre_off_in_router(void *arg)
{
	struct gre_off *g = arg;

	return bridge_gre_offload_set(g->ifname, 0, g->err);
}

static int link_attach(struct plan *p, size_t l, struct trl_error *err)
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
		/* redirect_peer skips the peer's egress qdisc: only for unshaped links. */
		if (bridge_link_attach(p->d->bridge, a, b, lk->rate ? 0 : BRIDGE_F_PEER, err) < 0)
			return -err->code;
		if (lk->rate && (shaper_link_set_rate(a, lk->rate, err) < 0 || shaper_link_set_rate(b, lk->rate, err) < 0))
			return -err->code;
		return 0;
	case PLAN_LINK_TUNNEL:
		if (pl->tunnel == NODE_TUNNEL_EGRE) {
			/* redirect_peer skips the veth's egress qdisc: only for unshaped links. */
			struct trl_endpoint *ep = &lk->ep[pl->ep];
			struct gre_off g = { .ifname = ep->ifname, .err = err };
			pid_t pid = 0;

			/* GRE segmentation stays on at the host end (decapsulated TCP
			 * reaches the router whole) and goes off on the router's side, so
			 * what the router forwards from one tunnel into another is
			 * segmented before it is encapsulated again. */
			for (size_t i = 0; i < s->n_routers; i++)
				if (!strcmp(s->routers[i].name, ep->router))
					pid = p->cs[i].init_pid;
			if (pid <= 0)
				return trl_error_set(err, TRL_EFAILED, "router '%s' is not running", ep->router);
			if (container_netns_call(pid, gre_off_in_router, &g) < 0)
				return err->code ? -err->code
						 : trl_error_set(err, TRL_EFAILED, "cannot enter router '%s'", ep->router);
			if (bridge_tunnel_attach(p->d->bridge, mine, pl->key, AF_INET, &pl->remote,
						 (lk->rate ? 0 : BRIDGE_F_PEER) | BRIDGE_F_KEEP_GSO, err) < 0)
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
		if (lk->rate && shaper_link_set_rate(mine, lk->rate, err) < 0)
			return -err->code;
		return 0;
	}
	return 0;
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

/* Refuse a create whose host-side names are already taken (another instance, a leftover). */
static int preflight(struct plan *p, struct trl_error *err)
{
	char path[PATH_MAX];

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

static int require_root(struct request_ctx *rq, const char *what, struct trl_error *err)
{
	if (rq->uid != 0)
		return trl_error_set(err, TRL_EPERM, "permission denied: only root may %s on this node", what);
	return 0;
}

int slice_create(struct request_ctx *rq, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	struct daemon *d = rq->d;
	struct trl_slice *s = NULL;
	struct store *st = NULL;
	struct store_slice row = { 0 };
	struct plan p = { 0 };
	struct store_link *links = NULL;
	struct start_ctx sc;
	const char *step = "validate";
	int r, inserted = 0;

	if ((r = require_root(rq, "create slices", err)) < 0)
		return r;
	r = spec_parse(req->spec, req->spec_len, req->filename ? req->filename : "spec", files_resolver, req->files, &s,
		       err);
	if (r < 0)
		return r;
	request_progress(rq, "validate", "spec of slice '%s' is valid: %zu routers, %zu links", s->name, s->n_routers,
			 s->n_links);

	pthread_mutex_lock(&d->slice_lock);
	r = plan_build(d, s, 0, req->placement, 1, &p, err);
	s = NULL;	/* owned by the plan now */
	if (r < 0)
		goto out;
	if ((r = store_open(d->db_path, &st, err)) < 0)
		goto out;
	if (store_slice_get(st, p.s->name, &row, err) == 0) {
		store_slice_release(&row);
		r = trl_error_set(err, TRL_EEXIST, "slice '%s' already exists", p.s->name);
		goto out;
	}
	trl_error_clear(err);
	if ((r = preflight(&p, err)) < 0)
		goto out;

	step = "allocate";
	snprintf(row.name, sizeof(row.name), "%s", p.s->name);
	if ((r = resolve_owner(rq, p.s->owner, row.owner, sizeof(row.owner), &row.owner_uid, err)) < 0)
		goto out;
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
	for (size_t i = 0; i < p.s->n_links; i++)
		p.pl[i].key = links[i].key;
	p.uid_base = row.uid_base;
	for (size_t i = 0; i < p.s->n_routers; i++)
		p.cs[i].uid_base = row.uid_base;
	request_progress(rq, "allocate", "uid range %u-%u, %zu link keys", row.uid_base, row.uid_base + 65535,
			 p.s->n_links);

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
	store_event_add(st, p.s->name, "create", "slice created");
	log_info("slice '%s' created: %zu routers, %zu links", p.s->name, p.s->n_routers, p.s->n_links);
	trl_error_clear(err);
	r = 0;
	goto out;

rollback:
	{
		log_warn("slice '%s': create failed at step '%s': %s; rolling back", p.s->name, step, err->msg);
		request_progress(rq, "rollback", "create failed at step '%s': rolling back", step);
		p.keep_logs = 1;
		slice_teardown(&p);
		if (inserted)
			store_slice_remove(st, p.s->name, NULL);
		trl_error_prefix(err, "slice '%s': step '%s'", p.s->name, step);
	}
out:
	if (r < 0)
		trl_error_set_step(err, step);
	if (r == 0 && result) {
		store_close(st);
		st = NULL;
		pthread_mutex_unlock(&d->slice_lock);
		char name[64];

		snprintf(name, sizeof(name), "%s", p.s->name);
		plan_free(&p);
		free(links);
		return slice_show(rq, name, result, err);
	}
	store_close(st);
	pthread_mutex_unlock(&d->slice_lock);
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
	return 0;
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
	int r;

	if ((r = require_root(rq, "delete slices", err)) < 0)
		return r;
	pthread_mutex_lock(&d->slice_lock);
	if ((r = store_open(d->db_path, &st, err)) < 0)
		goto out;
	r = slice_load(st, name, &row, &s, err);
	if (r == -TRL_ENOTFOUND) {
		*result = json_pack("{s:s, s:b}", "name", name, "removed", 0);
		trl_error_clear(err);
		r = 0;
		goto out;
	}
	if (r < 0)
		goto out;
	store_slice_set_state(st, name, "deleting", NULL);
	request_progress(rq, "delete", "removing %zu routers and %zu links", s->n_routers, s->n_links);
	r = plan_build(d, s, row.uid_base, row.placement, 0, &p, err);
	s = NULL;
	store_slice_release(&row);
	if (r < 0)
		goto out;
	plan_load_links(st, &p);
	slice_teardown(&p);
	if ((r = store_slice_remove(st, name, err)) < 0)
		goto out;
	store_event_add(st, name, "delete", "slice deleted");
	log_info("slice '%s' deleted", name);
	*result = json_pack("{s:s, s:b}", "name", name, "removed", 1);
out:
	plan_free(&p);
	trl_slice_free(s);
	store_close(st);
	pthread_mutex_unlock(&d->slice_lock);
	return r;
}

static json_t *limits_json(const struct trl_limits *l)
{
	return json_pack("{s:f, s:I, s:I}", "cpu", l->cpu, "memory", (json_int_t)l->memory, "pids",
			 (json_int_t)l->pids);
}

/* A stored slice, visible to the caller, planned for this node as it was
 * created (keys and kinds from the store).  The plan owns the parsed spec. */
static int slice_plan_load(struct request_ctx *rq, const char *name, struct store_slice *row, struct plan *p,
			   struct trl_error *err)
{
	struct store *st = NULL;
	struct trl_slice *s = NULL;
	int r;

	memset(p, 0, sizeof(*p));
	if ((r = store_open(rq->d->db_path, &st, err)) < 0)
		return r;
	r = slice_load(st, name, row, &s, err);
	if (r == 0 && rq->uid != 0 && rq->uid != row->owner_uid) {
		store_slice_release(row);
		trl_slice_free(s);
		r = trl_error_set(err, TRL_ENOTFOUND, "no slice '%s'", name);
	}
	if (r == 0) {
		r = plan_build(rq->d, s, row->uid_base, row->placement, 0, p, err);
		if (r == 0)
			plan_load_links(st, p);
		else
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

	if ((r = slice_plan_load(rq, name, &row, &p, err)) < 0) {
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
		json_array_append_new(links, json_pack("{s:s, s:[s,s], s:[s,s], s:I, s:s, s:s, s:I}", "name", lk->name,
						       "endpoints", ea, eb, "hosts", a, b, "rate",
						       (json_int_t)lk->rate, "state", state, "kind",
						       plan_link_kind_name(pl), "key", (json_int_t)pl->key));
	}
	o = json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:s?, s:s, s:o, s:o}", "name", s->name, "owner", row.owner,
		      "owner_uid", (json_int_t)row.owner_uid, "state",
		      !strcmp(row.state, "ready") && degraded ? "degraded" : row.state, "created",
		      (json_int_t)row.created, "uid_base", (json_int_t)row.uid_base, "description", s->description,
		      "node", d->node_name, "routers", routers, "links", links);
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
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "host", host, "packets",
			 (json_int_t)ps.packets, "bytes", (json_int_t)ps.bytes, "rx_packets", (json_int_t)ps.rx_packets,
			 "rx_bytes", (json_int_t)ps.rx_bytes, "drops", (json_int_t)ps.drops, "drops_mtu",
			 (json_int_t)ps.drops_mtu, "drops_other",
			 (json_int_t)(ps.drops_other + ps.drops_unjoined));
}

int slice_stats(struct request_ctx *rq, const char *name, json_t **result, struct trl_error *err)
{
	struct store_slice row;
	struct trl_slice *s;
	struct plan p;
	json_t *links;
	int r;

	if ((r = slice_plan_load(rq, name, &row, &p, err)) < 0) {
		plan_free(&p);
		return r;
	}
	store_slice_release(&row);
	s = p.s;
	links = json_array();
	for (size_t l = 0; l < s->n_links; l++) {
		struct trl_link *lk = &s->links[l];
		struct plan_link *pl = &p.pl[l];
		json_t *ports = json_array();
		char h[16];

		for (int e = 0; e < 2; e++) {
			if (pl->kind == PLAN_LINK_REMOTE || (pl->kind == PLAN_LINK_TUNNEL && pl->ep != e))
				continue;
			host_veth(s, &lk->ep[e], h);
			json_array_append_new(ports, port_stats_json(rq->d, h));
		}
		json_array_append_new(links, json_pack("{s:s, s:s, s:I, s:I, s:o}", "name", lk->name, "kind",
						       plan_link_kind_name(pl), "key", (json_int_t)pl->key, "rate",
						       (json_int_t)lk->rate, "ports", ports));
	}
	*result = json_pack("{s:s, s:s, s:o}", "name", s->name, "node", rq->d->node_name, "links", links);
	plan_free(&p);
	return 0;
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
		if (rq->uid == 0 || rq->uid == row.owner_uid)
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
	char cname[64];
	char **argv = NULL;
	size_t n;
	pid_t pid;
	int r, status = 0;

	if ((r = require_root(rq, "log into routers", err)) < 0)
		return r;
	if (rq->nfds != 3)
		return trl_error_set(err, TRL_EPROTO, "slice.exec needs the client's stdin, stdout and stderr (3 fds), got %zu",
				     rq->nfds);
	if ((r = store_open(rq->d->db_path, &st, err)) < 0)
		return r;
	r = slice_load(st, req->name, &row, &s, err);
	store_close(st);
	if (r < 0)
		return r;
	store_slice_release(&row);
	if (!trl_slice_router(s, req->router)) {
		trl_slice_free(s);
		return trl_error_set(err, TRL_ENOTFOUND, "slice '%s' has no router '%s'", req->name, req->router);
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
	r = container_exec(rq->d->lxcpath, cname, argv, rq->fds, req->tty, &status, err);
	free(argv);
	if (r < 0)
		return r;
	*result = json_pack("{s:i}", "exit", status);
	return 0;
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
