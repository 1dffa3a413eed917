/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slices: create
 *
 * A create runs in fixed steps, each reported to the client as progress:
 *   validate  parse the spec (lib/spec.c) and check templates and FRR daemons
 *   allocate  one SQLite transaction: slice row (state 'creating'), uid range, link keys
 *   routers   prepare rootfs + start containers, several at once (d->parallel)
 *   ready     wait until every router's boot command (and FRR daemons) run
 *   links     join host veth ends in the fast path, apply link rates
 * validate and allocate are create's own (with admission, the uid range, the
 * rows, the substrate classes and the slice's cgroup, under the node lock);
 * routers, ready and links are the action runner's (slice-apply-run.c, the
 * same as an apply's), run from an empty actual state: every router AR_ADD,
 * every link AL_ADD (slice-runner.c).  Any failure runs slice_teardown()
 * (slice-teardown.c) - the same idempotent teardown as delete, which also
 * covers what the runner's undo cannot (the allocation) - and removes the
 * row, so nothing is left.
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
#include "slice-apply.h"

static int resolve_owner(struct op_ctx *oc, const char *owner, char *name, size_t len, uid_t *uid,
			 struct trl_error *err)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	char *end;

	if (!owner[0]) {
		*uid = oc->who.uid;
		if (getpwuid_r(oc->who.uid, &pw, buf, sizeof(buf), &res) == 0 && res)
			snprintf(name, len, "%s", res->pw_name);
		else
			snprintf(name, len, "%u", (unsigned)oc->who.uid);
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

int slice_create(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	struct daemon *d = oc->d;
	struct trl_slice *s = NULL;
	struct store *st = NULL;
	struct store_slice row = { 0 };
	struct trl_error te = { 0 };
	struct plan p = { 0 };
	struct store_link *links = NULL;
	const char *step = "validate";
	char lname[64] = "", owner[64];
	uid_t owner_uid = 0;
	int r, inserted = 0, node_locked = 0, claimed = 0;

	if ((r = access_check(oc, ACCESS_CREATE, NULL, err)) < 0)
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
	if ((r = resolve_owner(oc, s->owner, owner, sizeof(owner), &owner_uid, err)) < 0) {
		trl_slice_free(s);
		return r;
	}
	/* A tenant's slices are its own: only root creates slices for others. */
	if (!caller_is_privileged(&oc->who) && owner_uid != oc->who.uid) {
		r = trl_error_set(err, TRL_EPERM, "owner: '%s' is not you (uid %u): only root may create slices for another user",
				  s->owner, (unsigned)oc->who.uid);
		trl_slice_free(s);
		return r;
	}
	if (owner_uid != 0 &&
	    (r = tenant_limits_apply(&d->cfg, s, req->filename ? req->filename : "spec", err)) < 0) {
		trl_slice_free(s);
		return r;
	}
	op_progress(oc, "validate", "spec of slice '%s' is valid: %zu router%s, %zu link%s", s->name, s->n_routers,
		    s->n_routers == 1 ? "" : "s", s->n_links, s->n_links == 1 ? "" : "s");

	snprintf(lname, sizeof(lname), "%s", s->name);
	slice_op_begin(d, lname);
	slice_op_cancellable(lname, &oc->cancel);
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
	op_progress(oc, "allocate", "uid range %u-%u, %zu link key%s", row.uid_base, row.uid_base + 65535,
		    p.s->n_links, p.s->n_links == 1 ? "" : "s");
	/* The slice's parent cgroup, limits applied and read back, before any router is placed in it. */
	if (p.n_local) {
		char cg[256];

		names_cgroup(cg, sizeof(cg), d->node_name, p.s->name, NULL);
		if ((r = cgroup_slice_create(p.layout, d->node_name, p.s->name, &p.s->limits, err)) < 0) {
			trl_error_prefix(err, "limits");
			goto rollback;
		}
		op_progress(oc, "allocate", "cgroup '%s' ready (%s)", cg, cgroup_layout_name(p.layout));
	}
	pthread_mutex_unlock(&d->node_lock);
	node_locked = 0;

	step = "routers";
	if (op_cancelled(oc)) {
		r = op_cancel_error(oc, err);
		goto rollback;
	}
	/* The action runner, from nothing: every router and link added.  The
	 * substrate classes were made with the allocation, under its lock. */
	{
		struct apply a;

		r = apply_from_empty(&a, oc, &p, err);
		a.substrate = -1;
		if (r == 0)
			r = apply_run(&a, err);
		if (r < 0 && a.step)
			step = a.step;
		apply_take_plan(&a, &p);
		apply_free(&a);
		if (r < 0)
			goto rollback;
	}
	inventory_record(st, &p);
	if ((r = store_slice_set_state(st, p.s->name, SLICE_READY, err)) < 0)
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
		op_progress(oc, "rollback", "create failed at step '%s': rolling back", step);
		p.keep_logs = 1;
		if (slice_teardown(&p, &te) < 0) {
			/* Kept (state 'deleting') so that a delete can finish it. */
			log_warn("slice '%s': rollback incomplete: %s", p.s->name, te.msg);
			if (inserted)
				store_slice_set_state(st, p.s->name, SLICE_DELETING, NULL);
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
		slice_op_cancellable(lname, NULL);
		slice_op_end(d, lname);
		char name[64];

		snprintf(name, sizeof(name), "%s", p.s->name);
		plan_free(&p);
		free(links);
		return slice_show(oc, name, result, err);
	}
	store_close(st);
	if (lname[0]) {
		slice_op_cancellable(lname, NULL);
		slice_op_end(d, lname);
	}
	trl_slice_free(s);
	plan_free(&p);
	free(links);
	return r;
}
