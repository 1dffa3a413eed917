/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slices: one router's lifecycle (router stop, start, restart)
 *
 * router.stop stops a router's container and keeps its config and rootfs;
 * its links go down for its neighbours (their host ends go down, so their
 * interfaces lose the carrier at once, as with 'link down').  The stop is
 * recorded in the slice's settings ("routers": {NAME: {"stopped": true}}):
 * the start-up reconciliation leaves the router stopped and slice show says
 * "stopped".  router.start starts it again on the same rootfs, waits until
 * it is ready and attaches its links (those not taken down by 'link down'
 * come up for both ends).  router.restart is a stop, then a start.
 */
#define LOG_MODULE "slice"
#include <errno.h>
#include <string.h>
#include "log.h"
#include "names.h"
#include "slice.h"

static int stopped_record(struct store *st, const char *slice, const char *router, int stopped,
			  struct trl_error *err)
{
	json_t *set = NULL, *routers, *rt;
	int r;

	if ((r = store_settings_get(st, slice, &set, err)) < 0)
		return r;
	routers = json_object_get(set, "routers");
	if (!json_is_object(routers)) {
		routers = json_object();
		json_object_set_new(set, "routers", routers);
	}
	rt = json_object_get(routers, router);
	if (!json_is_object(rt)) {
		rt = json_object();
		json_object_set_new(routers, router, rt);
	}
	if (stopped)
		json_object_set_new(rt, "stopped", json_true());
	else
		json_object_del(rt, "stopped");
	r = store_settings_put(st, slice, set, err);
	json_decref(set);
	return r;
}

static int touches(const struct trl_link *lk, const char *router)
{
	return !strcmp(lk->ep[0].router, router) || !strcmp(lk->ep[1].router, router);
}

static int router_stop(struct plan *p, size_t i, struct trl_error *err)
{
	const char *router = p->s->routers[i].name;

	/* Before it stops: a deliberate stop is not an exit (events: router-stopped). */
	events_router_unwatch(p->d, p->s->name, router);
	for (size_t l = 0; l < p->s->n_links; l++) {
		if (!touches(&p->s->links[l], router))
			continue;
		link_detach(p, l);
		/* The neighbour's end goes down: its interface loses the carrier. */
		link_admin(p, l, 0, NULL);
	}
	return container_stop(p->d->lxcpath, p->cs[i].name, err);
}

static int router_start(struct plan *p, size_t i, struct op_ctx *oc, struct trl_error *err)
{
	const char *router = p->s->routers[i].name;
	int r;

	free(p->only);
	if (!(p->only = calloc(p->s->n_routers + 1, 1)))
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	p->only[i] = 1;
	if ((r = container_start(&p->cs[i], err)) < 0 || (r = container_set_loopback(&p->cs[i], err)) < 0 ||
	    (r = container_set_nodad(&p->cs[i], err)) < 0 ||
	    (r = wait_ready(p, oc, err)) < 0)
		return r;
	for (size_t l = 0; l < p->s->n_links; l++)
		if (touches(&p->s->links[l], router) && p->pl[l].kind != PLAN_LINK_REMOTE &&
		    (r = link_attach(p, l, err)) < 0)
			return trl_error_prefix(err, "link '%s'", p->s->links[l].name);
	return 0;
}

int router_lifecycle(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	struct daemon *d = oc->d;
	struct store *st = NULL;
	struct store_slice row = { 0 };
	struct trl_slice *s = NULL;
	struct plan p = { 0 };
	const char *verb = req->op == PROTO_OP_ROUTER_STOP ? "stop" : req->op == PROTO_OP_ROUTER_START ? "start" : "restart";
	enum router_state state;
	pid_t pid = 0;
	long i = -1;
	int r;

	slice_op_begin(d, req->name);
	if ((r = store_open(d->db_path, &st, err)) < 0)
		goto out;
	r = slice_load(st, req->name, &row, &s, err);
	if (r == 0 && (r = access_check(oc, access_rule(PROTO_OP_ROUTER_RESTART), &row, err)) < 0) {
		store_slice_release(&row);
		trl_slice_free(s);
		s = NULL;
	}
	if (r < 0)
		goto out;
	r = plan_build(d, s, row.uid_base, row.placement, req->op != PROTO_OP_ROUTER_STOP, &p, err);
	s = NULL;
	if (r < 0)
		goto out;
	p.owner = row.owner_uid;
	plan_load_links(st, &p);
	plan_apply_settings(st, &p);
	for (size_t k = 0; k < p.s->n_routers; k++)
		if (!strcmp(p.s->routers[k].name, req->router))
			i = (long)k;
	if (i < 0) {
		char names[256];

		r = trl_error_set(err, TRL_ENOTFOUND, "slice '%s' has no router '%s' (its routers: %s)", req->name,
				  req->router, router_list(p.s, names, sizeof(names)));
		goto out;
	}
	if (!p.local[i]) {
		r = trl_error_set(err, TRL_ENOTHERE, "router '%s' runs on node '%s', not here", req->router,
				  p.s->routers[i].node);
		goto out;
	}
	state = container_state(d->lxcpath, p.cs[i].name, &pid);
	if (state == ROUTER_MISSING) {
		r = trl_error_set(err, TRL_EFAILED, "router '%s' has no container (the next daemon start rebuilds it)",
				  req->router);
		goto out;
	}
	if (req->op != PROTO_OP_ROUTER_START && state == ROUTER_RUNNING) {
		op_progress(oc, "stop", "stopping router '%s'", req->router);
		if ((r = router_stop(&p, (size_t)i, err)) < 0)
			goto out;
	}
	if (req->op == PROTO_OP_ROUTER_STOP) {
		if ((r = stopped_record(st, req->name, req->router, 1, err)) < 0)
			goto out;
	} else {
		op_progress(oc, "start", "starting router '%s'", req->router);
		if ((r = router_start(&p, (size_t)i, oc, err)) < 0) {
			trl_error_prefix(err, "router '%s': %s", req->router, verb);
			goto out;
		}
		if ((r = stopped_record(st, req->name, req->router, 0, err)) < 0)
			goto out;
	}
	log_info("slice '%s': router '%s': %s", req->name, req->router, verb);
	state = container_state(d->lxcpath, p.cs[i].name, &pid);
	*result = json_pack("{s:s, s:s, s:s, s:i}", "name", req->name, "router", req->router, "state", router_state_name(state), "pid",
			    (int)pid);
out:
	if (row.spec)
		store_slice_release(&row);
	trl_slice_free(s);
	plan_free(&p);
	store_close(st);
	slice_op_end(d, req->name);
	return r;
}
