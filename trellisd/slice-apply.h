/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slices: what slice-apply.c (the plan, the request), slice-apply-run.c
 * (the actions, their undo, the commit) and slice-runner.c (the same actions
 * for a create and a repair) share
 */
#ifndef TRELLISD_SLICE_APPLY_H
#define TRELLISD_SLICE_APPLY_H

#include <string.h>
#include "slice.h"

enum apply_router { AR_KEEP, AR_RELOAD, AR_RESTART, AR_ADD, AR_REMOVE };
enum apply_link { AL_KEEP, AL_SHAPE, AL_FLAP, AL_ADD, AL_REMOVE };

struct apply {
	struct op_ctx *oc;
	struct daemon *d;
	struct store *st;
	struct plan op, np;		/* the running slice, the edited one */
	struct trl_slice *oraw, *nraw;	/* the specs as written (no live changes), to tell edits apart */
	unsigned char *ors, *nrs;	/* per old / new router: enum apply_router */
	unsigned char *ols, *nls;	/* per old / new link: enum apply_link */
	long *r_n2o, *l_n2o, *r_o2n, *l_o2n;
	unsigned char *nlim;		/* per new router: its limits change in place */
	unsigned char *readdr;		/* per new link: 1 << endpoint whose addresses change in place */
	unsigned char *readdr_done;	/* ... done (for the undo) */
	unsigned char *remtu;		/* per new link: 1 << endpoint whose MTU changed (a router moved: tunnel or not) */
	int slice_lim;			/* the slice's aggregate limits change */
	int bw;				/* the slice's bandwidth changes */
	int ss_done;			/* the slice's substrate classes were changed (for the undo) */
	json_t *changes, *disturbed;
	json_t *placement;		/* the edited slice's (borrowed): the stored one, or the request's */
	/* what ran, for the undo */
	uint32_t *added_keys;
	int old_down, new_up, lim_done, slice_lim_done;
	unsigned char *attached, *shaped, *reloaded;
	char (*hot)[16];		/* host ends of interfaces added to running routers */
	size_t n_hot;
	const char *step;		/* the step apply_run() is at: "limits", "routers", "ready", "links", "config" */
	int substrate;			/* the slice's substrate classes: 0 as the diff says, 1 (re)made, -1 made already (create) */
};

static inline long router_index(const struct trl_slice *s, const char *name)
{
	for (size_t i = 0; i < s->n_routers; i++)
		if (!strcmp(s->routers[i].name, name))
			return (long)i;
	return -1;
}

static inline unsigned limits_diff(const struct trl_limits *a, const struct trl_limits *b)
{
	return (a->cpu != b->cpu ? CGROUP_F_CPU : 0) | (a->cpu_weight != b->cpu_weight ? CGROUP_F_WEIGHT : 0) |
	       (a->memory != b->memory ? CGROUP_F_MEMORY : 0) | (a->pids != b->pids ? CGROUP_F_PIDS : 0);
}

/* slice-apply-run.c: link keys (also with nothing else to do here), the
 * actions in their order, their undo, the removals that come last, and the
 * record of the edited spec. */
int apply_keys(struct apply *a, struct trl_error *err);
int apply_run(struct apply *a, struct trl_error *err);
int apply_undo(struct apply *a, struct trl_error *err);
void apply_finish(struct apply *a);
int apply_commit(struct apply *a, const struct proto_request *req, struct trl_error *err);

/* slice-runner.c: the per-router/link arrays for old and new sizes (maps -1). */
int apply_alloc(struct apply *a, size_t o_routers, size_t o_links, size_t n_routers, size_t n_links,
		struct trl_error *err);
/* Actions from nothing to @p (taken over; a create, a rebuild): every router
 * AR_ADD, every link AL_ADD. */
int apply_from_empty(struct apply *a, struct op_ctx *oc, struct plan *p, struct trl_error *err);
/* Actions from @actual (what exists; the same spec as @p) to @p (both taken
 * over): @router[j] is AR_ADD (not running), AR_RESTART (runs, but broken)
 * or AR_KEEP; @relink[l] (NULL: none) links to attach again; links of
 * routers that (re)start flap. */
int apply_from_actual(struct apply *a, struct op_ctx *oc, struct plan *actual, struct plan *p,
		      const unsigned char *router, const unsigned char *relink, struct trl_error *err);
/* Give the desired plan back (for the teardown, the inventory). */
void apply_take_plan(struct apply *a, struct plan *p);
void apply_free(struct apply *a);

#endif
