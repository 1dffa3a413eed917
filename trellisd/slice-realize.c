/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slices: realize
 *
 * Building a plan on this node: start_one() prepares a router's rootfs and
 * starts its container (run by the pool), wait_ready() waits until every
 * router's boot command and routing daemons run, links_attach() brings the host
 * ends up with the fast path attached and applies shaping (link_shape()), after
 * plan_check_shaping() refused what this node cannot shape.  These are the
 * steps the action runner (slice-apply-run.c) takes for create, apply and
 * repairs alike; p->only and links_attach()'s @want say which routers and
 * links an action concerns.
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

#define READY_TIMEOUT_MS 60000
#define READY_PER_ROUTER_MS 300

int start_one(void *ctx, size_t i, struct trl_error *err)
{
	struct start_ctx *sc = ctx;
	struct container_spec *cs = &sc->p->cs[i];

	if (!sc->p->local[i] || (sc->p->only && !sc->p->only[i]))
		return 0;
	if (op_cancelled(sc->oc))
		return op_cancel_error(sc->oc, err);
	/* Loopbacks go in as soon as the router runs, before its routing stack
	 * has picked a router ID from the other interfaces. */
	if (container_prepare(cs, err) < 0 || container_start(cs, err) < 0 || container_set_loopback(cs, err) < 0 ||
	    container_set_nodad(cs, err) < 0)
		return trl_error_prefix(err, "router '%s'", cs->router->name);
	op_progress(sc->oc, "routers", "router '%s' started (%zu/%zu)", cs->router->name,
			 atomic_fetch_add(&sc->done, 1) + 1, sc->p->n_local);
	return 0;
}

int wait_ready(struct plan *p, struct op_ctx *oc, struct trl_error *err)
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
				op_progress(oc, "ready", "router '%s' running (%zu/%zu)", p->cs[i].router->name,
						 ready, want);
			}
		}
		if (ready == want)
			break;
		if (op_cancelled(oc)) {
			free(done);
			return op_cancel_error(oc, err);
		}
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
int link_shape(struct plan *p, size_t l, struct trl_error *err)
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
int link_attach(struct plan *p, size_t l, struct trl_error *err)
{
	if (link_attach_fastpath(p, l, err) < 0)
		return -err->code;
	return plan_link_down(p, l) ? 0 : link_admin(p, l, 1, err);
}

/* Attach the links @want marks (NULL: every one with an end here), noting in
 * @attached (NULL: nowhere) each one tried, for an undo; a link set down
 * ('link set --down') stays down. */
int links_attach(struct plan *p, struct op_ctx *oc, const unsigned char *want, unsigned char *attached,
		 struct trl_error *err)
{
	struct trl_slice *s = p->s;
	size_t done = 0, todo = 0;

	for (size_t l = 0; l < s->n_links; l++)
		todo += p->pl[l].kind != PLAN_LINK_REMOTE && (!want || want[l]);
	if (todo && !p->d->bridge)
		return trl_error_set(err, TRL_EUNAVAIL, "links need the fast path, which is unavailable on node '%s'",
				     p->d->node_name);
	for (size_t l = 0; l < s->n_links; l++) {
		if (p->pl[l].kind == PLAN_LINK_REMOTE || (want && !want[l]))
			continue;
		if (op_cancelled(oc))
			return op_cancel_error(oc, err);
		if (attached)
			attached[l] = 1;
		if (link_attach(p, l, err) < 0 || (plan_link_down(p, l) && link_admin(p, l, 0, err) < 0))
			return trl_error_prefix(err, "link '%s'", s->links[l].name);
		if (p->pl[l].kind == PLAN_LINK_TUNNEL)
			op_progress(oc, "links", "link '%s' up: %s key %u to node '%s' (%zu/%zu)", s->links[l].name,
					 node_tunnel_name(p->pl[l].tunnel), p->pl[l].key, p->pl[l].remote_node, ++done, todo);
		else
			op_progress(oc, "links", "link '%s' %s (%zu/%zu)", s->links[l].name, plan_link_down(p, l) ? "attached, down" : "up",
				    ++done, todo);
	}
	return 0;
}

/* What this node cannot do for the links' shaping, refused before anything is built. */
int plan_check_shaping(struct plan *p, struct trl_error *err)
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

/* Host ends of link @l on this node, up or down (the router ends lose their carrier). */
int link_admin(struct plan *p, size_t l, int up, struct trl_error *err)
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
