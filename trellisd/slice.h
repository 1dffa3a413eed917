/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slices: what the slice-*.c files share
 *
 * The slice code is split by responsibility:
 *   slice-plan.c       the plan model: what this node builds for a slice
 *   slice-pool.c       the worker pool and the per-slice operation locks
 *   slice-admission.c  what a create may take from this node
 *   slice-realize.c    start routers, wait until ready, attach links
 *   slice-teardown.c   remove what a plan could have built (idempotent)
 *   slice-inventory.c  what was built, stored as data; teardown from it
 *   slice-create.c     slice.create
 *   slice-delete.c     slice.delete
 *   slice-show.c       slice.show, slice.list, slice.stats
 *   slice-set.c        slice.set, link.set, a link's ends (link.capture)
 *   slice-exec.c       slice.exec
 *   slice-apply.c      slice.apply: a running slice to an edited spec (the plan)
 *   slice-apply-run.c  ... its actions, their undo, the commit: the action runner
 *   slice-runner.c     the runner's input for a create (from nothing) and a
 *                      repair (from what exists): one path for all three
 *   slice-router.c     router.stop, router.start, router.restart
 *   slice-reconcile.c  start-up reconciliation (looks, then runs the runner)
 * The requests' entry points are declared in trellisd.h; this header is
 * internal to those files.
 */
#ifndef TRELLISD_SLICE_H
#define TRELLISD_SLICE_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <jansson.h>
#include "access.h"
#include "cgroup.h"
#include "claim.h"
#include "container.h"
#include "events.h"
#include "node.h"
#include "shape.h"
#include "spec.h"
#include "store.h"
#include "template.h"
#include "trellisd.h"

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
	int *down;			/* per link: administratively down (link down: the user's) */
	json_t *away;			/* link -> node: down while that node is away (cluster mode, automatic; settings) */
	char *only;			/* per router: start/wait for only these (repairs); NULL = every local one */
	char *stopped;			/* per router: stopped by 'router stop' (settings), kept stopped */
	int keep_logs;			/* teardown after a failed create */
	size_t destroy_failed;		/* teardown: routers whose container directory is not all gone */
	struct trl_error destroy_err;	/* ... the first of them */
	uid_t owner;			/* the slice's owner (its events carry it) */
};


/* Progress of start_one() over a pool run. */
struct start_ctx {
	struct plan *p;
	struct op_ctx *oc;
	atomic_size_t done;
};

/* slice-admission.c */
int preflight(struct plan *p, struct trl_error *err);
void slice_promise(struct daemon *d, const struct trl_slice *s, double *cpu, uint64_t *mem);
int admission_check(struct daemon *d, struct store *st, const struct trl_slice *s, int check_cpu, int check_mem,
		    struct trl_error *err);
void claim_init(struct daemon *d, struct store *st, const char *slice, uid_t owner, struct claim_uid *c);
int owner_usage(struct daemon *d, struct store *st, uid_t uid, unsigned *slices, unsigned *routers,
		struct trl_error *err);

/* slice-plan.c */
void plan_free(struct plan *p);
int files_resolver(void *ctx, const char *name, char **out);
int router_is_local(struct daemon *d, const struct trl_router *r);
const char *plan_link_kind_name(const struct plan_link *pl);
int plan_build(struct daemon *d, struct trl_slice *s, unsigned uid_base, json_t *placement, int need_templates,
	       struct plan *p, struct trl_error *err);
void host_veth(const struct trl_slice *s, const struct trl_endpoint *ep, char buf[16]);
void plan_shape(struct plan *p);
void shape_from_json(json_t *o, struct trl_link_shape *sh);
json_t *shape_to_json(const struct trl_link_shape *sh);
void plan_apply_settings(struct store *st, struct plan *p);
int slice_load(struct store *st, const char *name, struct store_slice *row, struct trl_slice **s,
	       struct trl_error *err);
void plan_load_links(struct store *st, struct plan *p);
/* "r1, r2, r3" in @buf, for a message that names a router the slice does not have. */
const char *router_list(const struct trl_slice *s, char *buf, size_t len);

/* slice-pool.c */
int pool_run(size_t n, int workers, int (*fn)(void *, size_t, struct trl_error *), void *ctx,
	     struct trl_error *err);

/* slice-realize.c */
int start_one(void *ctx, size_t i, struct trl_error *err);
int wait_ready(struct plan *p, struct op_ctx *oc, struct trl_error *err);
int link_shape(struct plan *p, size_t l, struct trl_error *err);
int link_attach(struct plan *p, size_t l, struct trl_error *err);
int links_attach(struct plan *p, struct op_ctx *oc, const unsigned char *want, unsigned char *attached,
		 struct trl_error *err);
int plan_check_shaping(struct plan *p, struct trl_error *err);
int link_admin(struct plan *p, size_t l, int up, struct trl_error *err);
/* Link @l's interfaces must be down: the user took it down, or its far node is away. */
int plan_link_down(const struct plan *p, size_t l);

/* slice-reconcile.c */
void boot_id_store(struct store *st, const char *slice);

/* slice-show.c */
json_t *limits_json(const struct trl_limits *l);
int slice_plan_load(struct op_ctx *oc, enum access_op op, const char *name, struct store_slice *row,
		    struct plan *p, struct trl_error *err);

/* slice-pool.c: the holder of @name's lock (a create) may be cancelled
 * through @flag (NULL: no longer); slice_op_cancel() does it (a delete),
 * 1 if there was one to cancel. */
void slice_op_cancellable(const char *name, atomic_int *flag);
int slice_op_cancel(const char *name);

/* slice-teardown.c */
int slice_teardown(struct plan *p, struct trl_error *err);
/* slice-inventory.c: what was built, as data (see there); the teardown from it. */
json_t *inventory_of(const struct plan *p);
void inventory_record(struct store *st, const struct plan *p);
json_t *inventory_guess(struct daemon *d, struct store *st, const struct store_slice *row);
int slice_teardown_inventory(struct daemon *d, const char *slice, json_t *inv, struct trl_error *err);
/* The recorded inventory of @row, or one guessed (a new reference; NULL: out of memory). */
json_t *inventory_load(struct daemon *d, struct store *st, const struct store_slice *row);
/* slice.show of a slice whose spec does not parse (@why): what runs, from its inventory. */
json_t *inventory_show(struct daemon *d, struct store *st, const struct store_slice *row, const char *why);
/* Take link @l out of the fast path (and its tunnel device); never fails. */
void link_detach(struct plan *p, size_t l);

#endif
