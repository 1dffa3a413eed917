/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slices: one action runner for create, apply and repair
 *
 * A struct apply (slice-apply.h) holds a desired plan (np), an actual one
 * (op), and per router and link the action that takes one to the other
 * (AR_* / AL_*).  slice-apply-run.c runs those actions in order
 * (apply_run()), with progress, cancellation and an undo.  What differs
 * between the operations is only where the actual state comes from:
 *   apply     the running slice (its stored spec with the live changes) and
 *             an edited spec, diffed by slice-apply.c
 *   create    nothing: apply_from_empty() makes every router AR_ADD and every
 *             link AL_ADD (slice-create.c); a host-restart rebuild the same
 *   repair    what exists (slice-reconcile.c looks): apply_from_actual()
 *             makes a router that is not running AR_ADD, one that runs but
 *             lost an interface AR_RESTART, their links and links that are
 *             not joined (or lost their qdisc) AL_FLAP, the rest KEEP
 * This file builds those structs and frees them.  Delete is the other
 * direction (everything AR_REMOVE/AL_REMOVE) and is done as a whole from the
 * inventory (slice-inventory.c, slice-teardown.c), which also covers what an
 * apply's actions never build (the cgroup, uid range and store rows).
 */
#define LOG_MODULE "slice"
#include <errno.h>
#include <string.h>
#include "log.h"
#include "slice-apply.h"

int apply_alloc(struct apply *a, size_t o_routers, size_t o_links, size_t n_routers, size_t n_links,
		struct trl_error *err)
{
	a->ors = calloc(o_routers + 1, 1);
	a->nrs = calloc(n_routers + 1, 1);
	a->ols = calloc(o_links + 1, 1);
	a->nls = calloc(n_links + 1, 1);
	a->nlim = calloc(n_routers + 1, 1);
	a->readdr = calloc(n_links + 1, 1);
	a->readdr_done = calloc(n_links + 1, 1);
	a->r_n2o = calloc(n_routers + 1, sizeof(long));
	a->l_n2o = calloc(n_links + 1, sizeof(long));
	a->r_o2n = calloc(o_routers + 1, sizeof(long));
	a->l_o2n = calloc(o_links + 1, sizeof(long));
	if (!a->ors || !a->nrs || !a->ols || !a->nls || !a->nlim || !a->readdr || !a->readdr_done || !a->r_n2o ||
	    !a->l_n2o || !a->r_o2n || !a->l_o2n)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	for (size_t i = 0; i < o_routers; i++)
		a->r_o2n[i] = -1;
	for (size_t i = 0; i < o_links; i++)
		a->l_o2n[i] = -1;
	for (size_t j = 0; j < n_routers; j++)
		a->r_n2o[j] = -1;
	for (size_t l = 0; l < n_links; l++)
		a->l_n2o[l] = -1;
	return 0;
}

int apply_from_empty(struct apply *a, struct op_ctx *oc, struct plan *p, struct trl_error *err)
{
	memset(a, 0, sizeof(*a));
	a->oc = oc;
	a->d = p->d;
	a->np = *p;
	memset(p, 0, sizeof(*p));
	a->op.d = a->d;
	a->op.layout = a->np.layout;
	a->op.uid_base = a->np.uid_base;
	a->op.s = calloc(1, sizeof(*a->op.s));
	if (!a->op.s)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	snprintf(a->op.s->name, sizeof(a->op.s->name), "%s", a->np.s->name);
	if (apply_alloc(a, 0, 0, a->np.s->n_routers, a->np.s->n_links, err) < 0)
		return -err->code;
	for (size_t j = 0; j < a->np.s->n_routers; j++)
		a->nrs[j] = AR_ADD;
	for (size_t l = 0; l < a->np.s->n_links; l++)
		a->nls[l] = AL_ADD;
	return 0;
}

int apply_from_actual(struct apply *a, struct op_ctx *oc, struct plan *actual, struct plan *p,
		      const unsigned char *router, const unsigned char *relink, struct trl_error *err)
{
	struct trl_slice *s = p->s;

	memset(a, 0, sizeof(*a));
	a->oc = oc;
	a->d = p->d;
	a->np = *p;
	memset(p, 0, sizeof(*p));
	a->op = *actual;
	memset(actual, 0, sizeof(*actual));
	if (a->op.s->n_routers != s->n_routers || a->op.s->n_links != s->n_links)
		return trl_error_set(err, TRL_EFAILED, "slice '%s': the actual and desired plans differ in size", s->name);
	if (apply_alloc(a, s->n_routers, s->n_links, s->n_routers, s->n_links, err) < 0)
		return -err->code;
	for (size_t j = 0; j < s->n_routers; j++) {
		a->r_n2o[j] = a->r_o2n[j] = (long)j;
		a->nrs[j] = router[j] == AR_ADD || router[j] == AR_RESTART ? router[j] : AR_KEEP;
		a->ors[j] = a->nrs[j] == AR_RESTART ? AR_RESTART : AR_KEEP;
	}
	for (size_t l = 0; l < s->n_links; l++) {
		int flap = relink && relink[l];

		a->l_n2o[l] = a->l_o2n[l] = (long)l;
		for (int e = 0; e < 2; e++) {
			long j = router_index(s, s->links[l].ep[e].router);

			flap |= j >= 0 && a->nrs[j] != AR_KEEP;
		}
		/* A link of a router stopped on purpose ('router stop') stays down. */
		for (int e = 0; e < 2 && a->np.stopped; e++) {
			long j = router_index(s, s->links[l].ep[e].router);

			if (j >= 0 && a->np.stopped[j])
				flap = 0;
		}
		a->nls[l] = a->ols[l] = flap ? AL_FLAP : AL_KEEP;
	}
	return 0;
}

void apply_take_plan(struct apply *a, struct plan *p)
{
	free(a->np.only);	/* which routers an action started: not the plan's */
	a->np.only = NULL;
	*p = a->np;
	memset(&a->np, 0, sizeof(a->np));
}

void apply_free(struct apply *a)
{
	free(a->op.only);
	a->op.only = NULL;
	free(a->np.only);
	a->np.only = NULL;
	plan_free(&a->op);
	plan_free(&a->np);
	trl_slice_free(a->oraw);
	trl_slice_free(a->nraw);
	free(a->ors);
	free(a->nrs);
	free(a->ols);
	free(a->nls);
	free(a->r_n2o);
	free(a->l_n2o);
	free(a->r_o2n);
	free(a->l_o2n);
	free(a->nlim);
	free(a->readdr);
	free(a->readdr_done);
	free(a->remtu);
	free(a->added_keys);
	free(a->attached);
	free(a->shaped);
	free(a->reloaded);
	free(a->hot);
	json_decref(a->changes);
	json_decref(a->disturbed);
	store_close(a->st);
	memset(a, 0, sizeof(*a));
}
