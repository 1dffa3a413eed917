/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slices: the actions of an apply
 *
 * What slice-apply.c planned, done on this node in an order whose every
 * step can be undone: link keys, the slice's substrate classes and limits,
 * the routers that restart or go stopped, new and restarted routers started,
 * interfaces hot-added to running routers, other addresses and MTUs put on
 * kept interfaces, links attached, shaping changed, routing configs
 * reloaded.  The first failure runs apply_undo(), which puts back what ran
 * (the old routers rebuilt from the old plan).  Removals of links between
 * routers that keep running come last (apply_finish), after every step that
 * can fail; then apply_commit() records the edited spec, the links' keys and
 * kinds, the live settings the edit replaced, and the inventory.
 *
 * apply_run() is the one action runner: a create (from an empty actual
 * state) and the start-up repairs (from what exists) run it too, set up by
 * slice-runner.c.  a->step names the step it is at (a create reports it),
 * a->substrate says whether the slice's substrate classes follow the diff,
 * are made again (repair) or were made by the caller (create, under the
 * lock of its admission).  Links come up through links_attach()
 * (slice-realize.c), with the same progress and cancellation as a create's.
 */
#define LOG_MODULE "slice"
#include <errno.h>
#include <string.h>
#include "log.h"
#include "names.h"
#include "reload.h"
#include "slice-apply.h"

/* Index of interface @ifname in @cs, or -1. */
static long if_index_of(const struct container_spec *cs, const char *ifname)
{
	for (size_t k = 0; k < cs->n_ifs; k++)
		if (!strcmp(cs->ifs[k].ifname, ifname))
			return (long)k;
	return -1;
}

/* Does old router @i stop on this node (restarts, goes, or moves away)? */
static int router_goes(const struct apply *a, long i)
{
	return a->op.local[i] && (a->ors[i] == AR_RESTART || a->ors[i] == AR_REMOVE);
}

static int old_routers_down(struct apply *a)
{
	struct trl_slice *os = a->op.s;
	struct trl_error e = { 0 };
	int r = 0;

	for (size_t m = 0; m < os->n_links; m++) {
		int gone = a->ols[m] == AL_FLAP;

		for (int k = 0; k < 2 && a->ols[m] == AL_REMOVE; k++) {
			long i = router_index(os, os->links[m].ep[k].router);

			gone |= router_goes(a, i);
		}
		if (gone)
			link_detach(&a->op, m);
	}
	for (size_t i = 0; i < os->n_routers; i++) {
		if ((a->ors[i] != AR_RESTART && a->ors[i] != AR_REMOVE) || !a->op.local[i])
			continue;
		/* Before it stops: a deliberate stop is not an exit. */
		events_router_unwatch(a->d, os->name, os->routers[i].name);
		if (container_destroy(a->d->lxcpath, a->op.cs[i].name, 0, &e) < 0) {
			log_warn("slice '%s': router '%s': %s", os->name, os->routers[i].name, e.msg);
			r = -1;
		}
	}
	return r;
}

static void limits_undo(struct apply *a)
{
	struct trl_error e = { 0 };
	char cg[256];

	for (size_t j = 0; j < a->np.s->n_routers && a->lim_done; j++) {
		long i = a->r_n2o[j];
		struct trl_limits ol;

		if (!a->nlim[j] || i < 0 || (a->nrs[j] != AR_KEEP && a->nrs[j] != AR_RELOAD) || !a->np.local[j])
			continue;
		ol = trl_router_limits(a->op.s, &a->op.s->routers[i]);
		names_cgroup(cg, sizeof(cg), a->d->node_name, a->np.s->name, a->np.s->routers[j].name);
		if (cgroup_limits_set(a->op.layout, cg, &ol, CGROUP_F_ALL, NULL, &e) < 0)
			log_warn("slice '%s': undo: %s", a->np.s->name, e.msg);
	}
	if (a->slice_lim_done) {
		names_cgroup(cg, sizeof(cg), a->d->node_name, a->np.s->name, NULL);
		if (cgroup_limits_set(a->op.layout, cg, &a->op.s->limits, CGROUP_F_ALL, NULL, &e) < 0)
			log_warn("slice '%s': undo: %s", a->np.s->name, e.msg);
	}
}

static int limits_do(struct apply *a, struct trl_error *err)
{
	char cg[256];

	if (a->slice_lim && a->op.n_local && a->np.n_local) {
		names_cgroup(cg, sizeof(cg), a->d->node_name, a->np.s->name, NULL);
		if (cgroup_limits_set(a->np.layout, cg, &a->np.s->limits,
				      limits_diff(&a->op.s->limits, &a->np.s->limits), NULL, err) < 0)
			return trl_error_prefix(err, "slice limits");
		a->slice_lim_done = 1;
	}
	a->lim_done = 1;
	for (size_t j = 0; j < a->np.s->n_routers; j++) {
		long i = a->r_n2o[j];
		struct trl_limits ol, nl;

		if (!a->nlim[j] || i < 0 || (a->nrs[j] != AR_KEEP && a->nrs[j] != AR_RELOAD) || !a->np.local[j])
			continue;
		ol = trl_router_limits(a->op.s, &a->op.s->routers[i]);
		nl = trl_router_limits(a->np.s, &a->np.s->routers[j]);
		names_cgroup(cg, sizeof(cg), a->d->node_name, a->np.s->name, a->np.s->routers[j].name);
		if (cgroup_limits_set(a->np.layout, cg, &nl, limits_diff(&ol, &nl), NULL, err) < 0)
			return trl_error_prefix(err, "router '%s': limits", a->np.s->routers[j].name);
		a->np.cs[j].limits = nl;
	}
	return 0;
}

/* The slice's substrate classes: a new bandwidth, or tunnels this node had none of before. */
static int substrate_do(struct apply *a, struct trl_error *err)
{
	const struct shape_slice *o = &a->op.ss, *n = &a->np.ss;
	int r;

	if (a->substrate < 0 || (!a->substrate && !a->bw && o->n_tunnel == n->n_tunnel && o->links_rate == n->links_rate))
		return 0;
	pthread_mutex_lock(&a->d->node_lock);
	r = shape_slice_admit(a->d, n, a->np.s->name, err);
	a->ss_done = 1;
	if (r == 0)
		r = shape_slice_apply(a->d, n, a->np.s->name, err);
	pthread_mutex_unlock(&a->d->node_lock);
	if (r < 0)
		return trl_error_prefix(err, "bandwidth");
	/* Tunnels that stay take the new share now; new and flapping ones when they attach. */
	for (size_t l = 0; a->bw && l < a->np.s->n_links; l++)
		if (a->np.pl[l].kind == PLAN_LINK_TUNNEL && a->nls[l] != AL_ADD && a->nls[l] != AL_FLAP &&
		    (r = link_shape(&a->np, l, err)) < 0)
			return trl_error_prefix(err, "link '%s'", a->np.s->links[l].name);
	return 0;
}

static void substrate_undo(struct apply *a)
{
	struct trl_error e = { 0 };

	if (!a->ss_done)
		return;
	if (shape_slice_apply(a->d, &a->op.ss, a->op.s->name, &e) < 0)
		log_warn("slice '%s': undo: bandwidth: %s", a->op.s->name, e.msg);
	for (size_t m = 0; a->bw && m < a->op.s->n_links; m++)
		if (a->op.pl[m].kind == PLAN_LINK_TUNNEL && a->ols[m] != AL_FLAP && a->ols[m] != AL_REMOVE &&
		    link_shape(&a->op, m, &e) < 0)
			log_warn("slice '%s': undo: link '%s': %s", a->op.s->name, a->op.s->links[m].name, e.msg);
}

/* Put the running slice back as it was (best effort; says what it could not). */
int apply_undo(struct apply *a, struct trl_error *err)
{
	struct trl_slice *ns = a->np.s, *os = a->op.s;
	struct trl_error e = { 0 }, e2 = { 0 };
	struct start_ctx sc = { .p = &a->op, .oc = a->oc };
	int r = 0;

	for (size_t j = 0; j < ns->n_routers && a->reloaded; j++) {
		long i = a->r_n2o[j];

		if (a->reloaded[j] && reload_router(&a->op.cs[i], ns->routers[j].config, &e) < 0) {
			log_warn("slice '%s': undo: %s", ns->name, e.msg);
			r = -1;
		}
	}
	for (size_t l = 0; l < ns->n_links; l++) {
		if (a->shaped && a->shaped[l] && link_shape(&a->op, (size_t)a->l_n2o[l], &e) < 0) {
			log_warn("slice '%s': undo: link '%s': %s", ns->name, ns->links[l].name, e.msg);
			r = -1;
		}
		if (a->attached && a->attached[l])
			link_detach(&a->np, l);
	}
	for (size_t h = 0; h < a->n_hot; h++)
		node_netdev_del(a->hot[h]);
	for (size_t l = 0; l < ns->n_links && a->readdr_done; l++)
		for (int k2 = 0; k2 < 2; k2++) {
			const struct trl_endpoint *ep = &ns->links[l].ep[k2];
			long i = router_index(os, ep->router);
			struct container_spec *cs = &a->op.cs[i];

			if (!(a->readdr_done[l] & (1 << k2)))
				continue;
			container_state(a->d->lxcpath, cs->name, &cs->init_pid);
			for (size_t k = 0; k < cs->n_ifs; k++)
				if (!strcmp(cs->ifs[k].ifname, ep->ifname) &&
				    container_if_readdress(cs, k, ep->addrs, ep->n_addrs, &e2) < 0) {
					log_warn("slice '%s': undo: %s", ns->name, e2.msg);
					r = -1;
				}
		}
	for (size_t l = 0; l < ns->n_links && a->remtu; l++)
		for (int k2 = 0; k2 < 2; k2++) {
			const struct trl_endpoint *ep = &ns->links[l].ep[k2];
			long i = router_index(os, ep->router), k;
			struct container_spec *cs = &a->op.cs[i];

			if (!(a->remtu[l] & (1 << k2)) || (k = if_index_of(cs, ep->ifname)) < 0)
				continue;
			container_state(a->d->lxcpath, cs->name, &cs->init_pid);
			if (container_if_set_mtu(cs, (size_t)k, cs->ifs[k].mtu, &e2) < 0) {
				log_warn("slice '%s': undo: %s", ns->name, e2.msg);
				r = -1;
			}
		}
	limits_undo(a);
	substrate_undo(a);
	if (a->new_up)
		for (size_t j = 0; j < ns->n_routers; j++) {
			if ((a->nrs[j] != AR_ADD && a->nrs[j] != AR_RESTART) || !a->np.local[j])
				continue;
			events_router_unwatch(a->d, ns->name, ns->routers[j].name);
			if (container_destroy(a->d->lxcpath, a->np.cs[j].name, 1, &e) < 0) {
				log_warn("slice '%s': undo: router '%s': %s", ns->name, ns->routers[j].name, e.msg);
				r = -1;
			}
		}
	if (a->old_down) {
		free(a->op.only);
		a->op.only = calloc(os->n_routers, 1);
		for (size_t i = 0; a->op.only && i < os->n_routers; i++)
			a->op.only[i] = a->ors[i] == AR_RESTART || a->ors[i] == AR_REMOVE;
		if (!a->op.only || pool_run(os->n_routers, a->d->parallel, start_one, &sc, &e) < 0 ||
		    wait_ready(&a->op, NULL, &e) < 0) {
			log_warn("slice '%s': undo: restarting the old routers: %s", ns->name, e.msg);
			r = -1;
		} else {
			for (size_t m = 0; m < os->n_links; m++) {
				int again = a->ols[m] == AL_FLAP;

				for (int k = 0; k < 2 && a->ols[m] == AL_REMOVE; k++) {
					long i = router_index(os, os->links[m].ep[k].router);

					again |= router_goes(a, i);
				}
				if (again && link_attach(&a->op, m, &e) < 0) {
					log_warn("slice '%s': undo: link '%s': %s", ns->name, os->links[m].name, e.msg);
					r = -1;
				}
			}
		}
	}
	for (size_t l = 0; l < ns->n_links && a->added_keys; l++)
		if (a->nls[l] == AL_ADD && a->added_keys[l])
			store_link_remove(a->st, ns->name, ns->links[l].name, NULL);
	if (r < 0)
		trl_error_set(err, TRL_EFAILED, "the rollback could not restore everything (see the daemon's log)");
	return r;
}

/* Link keys: the links the slice keeps keep theirs; a new one gets a row (also where it is another node's only). */
int apply_keys(struct apply *a, struct trl_error *err)
{
	struct trl_slice *ns = a->np.s;
	int r;

	a->added_keys = calloc(ns->n_links + 1, sizeof(*a->added_keys));
	if (!a->added_keys)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	for (size_t l = 0; l < ns->n_links; l++) {
		struct store_link sl = { .name = ns->links[l].name };

		json_t *k = a->placement ? json_object_get(json_object_get(a->placement, "keys"), ns->links[l].name) : NULL;

		if (a->nls[l] != AL_ADD) {
			a->np.pl[l].key = a->op.pl[a->l_n2o[l]].key;
			continue;
		}
		/* Multi-node: a new link's key comes with the placement, the same on every node. */
		if (k && (!json_is_integer(k) || json_integer_value(k) < 1 || json_integer_value(k) > SHAPE_MAX_KEY))
			return trl_error_set(err, TRL_EINVALID,
					     "placement: keys: link '%s': key %" JSON_INTEGER_FORMAT " is not from 1 to %u",
					     ns->links[l].name, json_integer_value(k), SHAPE_MAX_KEY);
		if (!k && a->np.pl[l].kind != PLAN_LINK_LOCAL)
			return trl_error_set(err, TRL_EINVALID, "link '%s' is new and crosses nodes, but the apply brought no key for it",
					     ns->links[l].name);
		sl.key = k ? (uint32_t)json_integer_value(k) : 0;
		snprintf(sl.kind, sizeof(sl.kind), "%s", plan_link_kind_name(&a->np.pl[l]));
		if ((r = store_link_add(a->st, ns->name, &sl, err)) < 0)
			return trl_error_prefix(err, "link '%s'", ns->links[l].name);
		a->added_keys[l] = sl.key;
		a->np.pl[l].key = sl.key;
	}
	return 0;
}

int apply_run(struct apply *a, struct trl_error *err)
{
	struct trl_slice *ns = a->np.s, *os = a->op.s;
	struct start_ctx sc = { .p = &a->np, .oc = a->oc };
	size_t n_new = 0, n_down = 0;
	int r;

	a->attached = calloc(ns->n_links + 1, 1);
	a->shaped = calloc(ns->n_links + 1, 1);
	a->reloaded = calloc(ns->n_routers + 1, 1);
	free(a->np.only);
	a->np.only = calloc(ns->n_routers + 1, 1);
	if (!a->attached || !a->shaped || !a->reloaded || !a->np.only)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	plan_shape(&a->np);
	plan_shape(&a->op);
	a->step = "limits";
	if ((r = substrate_do(a, err)) < 0)
		return r;
	if ((r = limits_do(a, err)) < 0)
		return r;
	a->step = "routers";
	for (size_t i = 0; i < os->n_routers; i++)
		n_down += router_goes(a, (long)i);
	if (n_down)
		op_progress(a->oc, "apply", "stopping the %zu routers that restart or go", n_down);
	a->old_down = 1;
	if (old_routers_down(a) < 0)
		return trl_error_set(err, TRL_EFAILED, "could not remove all of the old routers (see the daemon's log)");
	for (size_t j = 0; j < ns->n_routers; j++) {
		a->np.only[j] = a->nrs[j] == AR_ADD || a->nrs[j] == AR_RESTART;
		n_new += a->np.only[j] && a->np.local[j];
	}
	if (n_new) {
		op_progress(a->oc, "routers", "starting %zu routers", n_new);
		a->new_up = 1;
		if ((r = pool_run(ns->n_routers, a->d->parallel, start_one, &sc, err)) < 0)
			return r;
		a->step = "ready";
		if ((r = wait_ready(&a->np, a->oc, err)) < 0)
			return r;
	}
	a->step = "links";
	/* New links of routers that keep running: their interfaces, now. */
	a->hot = calloc(2 * ns->n_links + 1, sizeof(*a->hot));
	if (!a->hot)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	for (size_t l = 0; l < ns->n_links; l++)
		for (int e = 0; e < 2 && a->nls[l] == AL_ADD; e++) {
			const struct trl_endpoint *ep = &ns->links[l].ep[e];
			long j = router_index(ns, ep->router);
			struct container_spec *cs = &a->np.cs[j];
			pid_t pid = 0;

			if ((a->nrs[j] != AR_KEEP && a->nrs[j] != AR_RELOAD) || !a->np.local[j])
				continue;
			container_state(a->d->lxcpath, cs->name, &pid);
			cs->init_pid = pid;
			for (size_t k = 0; k < cs->n_ifs; k++) {
				if (strcmp(cs->ifs[k].ifname, ep->ifname))
					continue;
				if ((r = container_if_add(cs, k, err)) < 0)
					return r;
				snprintf(a->hot[a->n_hot++], 16, "%s", cs->ifs[k].host);
				op_progress(a->oc, "links", "router '%s': interface '%s' added", ep->router, ep->ifname);
			}
		}
	/* Other addresses on kept interfaces of routers that keep running. */
	for (size_t l = 0; l < ns->n_links; l++)
		for (int e = 0; e < 2; e++) {
			const struct trl_endpoint *ep = &ns->links[l].ep[e], *oep;
			long j = router_index(ns, ep->router);
			struct container_spec *cs = &a->np.cs[j];
			pid_t pid = 0;

			if (!(a->readdr[l] & (1 << e)) || !a->np.local[j])
				continue;
			oep = &os->links[a->l_n2o[l]].ep[e];
			container_state(a->d->lxcpath, cs->name, &pid);
			cs->init_pid = pid;
			for (size_t k = 0; k < cs->n_ifs; k++) {
				if (strcmp(cs->ifs[k].ifname, ep->ifname))
					continue;
				if ((r = container_if_readdress(cs, k, oep->addrs, oep->n_addrs, err)) < 0)
					return r;
				a->readdr_done[l] |= 1 << e;
				op_progress(a->oc, "links", "router '%s': interface '%s' readdressed", ep->router,
					    ep->ifname);
			}
		}
	/* A link that became a tunnel (or stopped being one): the running end's MTU follows. */
	a->remtu = calloc(ns->n_links + 1, 1);
	if (!a->remtu)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	for (size_t l = 0; l < ns->n_links; l++)
		for (int e = 0; e < 2 && a->nls[l] == AL_FLAP; e++) {
			const struct trl_endpoint *ep = &ns->links[l].ep[e];
			long j = router_index(ns, ep->router), i = a->r_n2o[j], k, ok;
			struct container_spec *cs = &a->np.cs[j];
			pid_t pid = 0;

			if ((a->nrs[j] != AR_KEEP && a->nrs[j] != AR_RELOAD) || !a->np.local[j] || i < 0 ||
			    (k = if_index_of(cs, ep->ifname)) < 0 || (ok = if_index_of(&a->op.cs[i], ep->ifname)) < 0 ||
			    cs->ifs[k].mtu == a->op.cs[i].ifs[ok].mtu)
				continue;
			container_state(a->d->lxcpath, cs->name, &pid);
			cs->init_pid = pid;
			if ((r = container_if_set_mtu(cs, (size_t)k, cs->ifs[k].mtu, err)) < 0)
				return r;
			a->remtu[l] |= 1 << e;
		}
	/* New links, and those that flap: up with the fast path attached. */
	{
		unsigned char *want = calloc(ns->n_links + 1, 1);

		if (!want)
			return trl_error_set(err, TRL_EFAILED, "out of memory");
		for (size_t l = 0; l < ns->n_links; l++)
			want[l] = a->nls[l] == AL_ADD || a->nls[l] == AL_FLAP;
		r = links_attach(&a->np, a->oc, want, a->attached, err);
		free(want);
		if (r < 0)
			return r;
	}
	for (size_t l = 0; l < ns->n_links; l++) {
		if (a->nls[l] != AL_SHAPE || a->np.pl[l].kind == PLAN_LINK_REMOTE)
			continue;
		a->shaped[l] = 1;
		if ((r = link_shape(&a->np, l, err)) < 0)
			return trl_error_prefix(err, "link '%s'", ns->links[l].name);
		op_progress(a->oc, "links", "link '%s' reshaped in place", ns->links[l].name);
	}
	a->step = "config";
	for (size_t j = 0; j < ns->n_routers; j++) {
		if (a->nrs[j] != AR_RELOAD || !a->np.local[j])
			continue;
		a->reloaded[j] = 1;
		if ((r = reload_router(&a->np.cs[j], os->routers[a->r_n2o[j]].config, err)) < 0)
			return r;
		op_progress(a->oc, "config", "router '%s' reloaded its config", ns->routers[j].name);
	}
	return 0;
}

/* After every step that can fail: links between routers that keep running go. */
void apply_finish(struct apply *a)
{
	struct trl_slice *os = a->op.s;

	for (size_t m = 0; m < os->n_links; m++) {
		int both_stay = a->ols[m] == AL_REMOVE;

		if (!both_stay)
			continue;
		for (int k = 0; k < 2; k++) {
			long i = router_index(os, os->links[m].ep[k].router);

			both_stay &= !router_goes(a, i);
		}
		if (!both_stay)
			continue;
		link_detach(&a->op, m);
		for (int k = 0; k < 2; k++) {
			char h[16];

			if (a->op.pl[m].kind == PLAN_LINK_REMOTE || (a->op.pl[m].kind == PLAN_LINK_TUNNEL && a->op.pl[m].ep != k))
				continue;
			host_veth(os, &os->links[m].ep[k], h);
			node_netdev_del(h);
		}
	}
}

/* Record the edited spec; live settings of links it changed or removed go. */
int apply_commit(struct apply *a, const struct proto_request *req, struct trl_error *err)
{
	struct trl_slice *ns = a->np.s, *os = a->op.s;
	json_t *set = NULL, *links = NULL;
	int r;

	if ((r = store_slice_respec(a->st, ns->name, req->spec, req->filename, req->files, req->placement, err)) < 0)
		return r;
	for (size_t m = 0; m < os->n_links; m++)
		if (a->ols[m] == AL_REMOVE)
			store_link_remove(a->st, ns->name, os->links[m].name, NULL);
	/* A link whose kind here changed (a router moved between nodes): its row says the new one. */
	for (size_t l = 0; l < ns->n_links; l++) {
		long m = a->l_n2o[l];
		struct store_link sl = { .name = ns->links[l].name, .key = a->np.pl[l].key };

		if (m < 0 || !strcmp(plan_link_kind_name(&a->op.pl[m]), plan_link_kind_name(&a->np.pl[l])))
			continue;
		snprintf(sl.kind, sizeof(sl.kind), "%s", plan_link_kind_name(&a->np.pl[l]));
		store_link_remove(a->st, ns->name, sl.name, NULL);
		if (store_link_add(a->st, ns->name, &sl, err) < 0)
			log_warn("slice '%s': link '%s': %s", ns->name, sl.name, err->msg);
	}
	if (store_settings_get(a->st, ns->name, &set, NULL) == 0 && json_is_object(links = json_object_get(set, "links"))) {
		for (size_t m = 0; m < os->n_links; m++) {
			json_t *o = json_object_get(links, os->links[m].name), *keep;

			if (a->ols[m] == AL_REMOVE || !o) {
				json_object_del(links, os->links[m].name);
				continue;
			}
			if (a->ols[m] != AL_SHAPE)
				continue;
			/* The edit's shaping replaces the live one; the link's state stays
			 * (the user's link down, the cluster's far-node-away). */
			keep = json_object();
			if (json_object_get(o, "up"))
				json_object_set(keep, "up", json_object_get(o, "up"));
			if (json_object_get(o, "away"))
				json_object_set(keep, "away", json_object_get(o, "away"));
			json_object_set_new(links, os->links[m].name, keep);
		}
	}
	/* A bandwidth the edit set is the spec's from now on (not a live one of 'slice set'). */
	if (json_is_object(set) && (json_is_object(links) || a->bw)) {
		if (a->bw)
			json_object_del(set, "bandwidth");
		store_settings_put(a->st, ns->name, set, NULL);
	}
	json_decref(set);
	/* Limits the edit changed: the spec's values from now on (a reload re-parses it). */
	for (size_t j = 0; j < ns->n_routers; j++)
		if (a->nlim[j] || a->nrs[j] == AR_ADD || a->nrs[j] == AR_RESTART)
			store_limits_put(a->st, ns->name, ns->routers[j].name, &ns->routers[j].limits,
					 STORE_LIMIT_CPU | STORE_LIMIT_WEIGHT | STORE_LIMIT_MEMORY | STORE_LIMIT_PIDS, NULL);
	if (a->slice_lim)
		store_limits_put(a->st, ns->name, NULL, &ns->limits,
				 STORE_LIMIT_CPU | STORE_LIMIT_WEIGHT | STORE_LIMIT_MEMORY | STORE_LIMIT_PIDS, NULL);
	inventory_record(a->st, &a->np);
	/* Routers that kept running: a later start makes what runs now. */
	for (size_t j = 0; j < ns->n_routers; j++) {
		struct trl_error e = { 0 };
		int changed = a->nlim[j];

		if ((a->nrs[j] != AR_KEEP && a->nrs[j] != AR_RELOAD) || !a->np.local[j])
			continue;
		for (size_t l = 0; l < ns->n_links; l++)
			changed |= (a->nls[l] == AL_ADD || a->readdr[l] || (a->remtu && a->remtu[l])) &&
				   (!strcmp(ns->links[l].ep[0].router, ns->routers[j].name) ||
				    !strcmp(ns->links[l].ep[1].router, ns->routers[j].name));
		for (size_t m = 0; m < os->n_links; m++)
			changed |= a->ols[m] == AL_REMOVE && (!strcmp(os->links[m].ep[0].router, ns->routers[j].name) ||
							      !strcmp(os->links[m].ep[1].router, ns->routers[j].name));
		if (!changed)
			continue;
		if (container_config_write(&a->np.cs[j], &e) < 0)
			log_warn("slice '%s': router '%s': %s", ns->name, ns->routers[j].name, e.msg);
	}
	return 0;
}
