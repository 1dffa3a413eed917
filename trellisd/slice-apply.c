/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slices: apply an edited spec to a running slice
 *
 * slice.apply compares the running slice (its stored spec, with the live
 * changes made since) with an edited spec and changes only what differs:
 *   router added          built and started (new links to it come up)
 *   router removed        stopped and removed (its links go)
 *   router changed        template, daemons, loopback, node or limits.disk:
 *                         that router restarts (its rootfs is rebuilt), its
 *                         links flap
 *   link added            its interfaces are added to the running routers
 *   link addresses        changed on the running routers' interfaces
 *   routing config only   written and reloaded in place (reload.c): no restart
 *   limits only           its cgroup changed in place
 *   link shaping          rate/ceil/burst/loss/delay/jitter changed in place
 *   link removed          its host ends deleted; both routers keep running
 *   slice limits          the slice's cgroup changed in place
 *   slice bandwidth       its substrate classes changed in place (as
 *                         'slice set --bandwidth' does)
 * Routers and links the edit does not touch are not touched at all.
 * The plan (what changes, and what is disturbed: "router r3 restarts",
 * "link r1:eth1-r2:eth1 flaps") is the reply; with dry_run that is all.
 *
 * Atomic at the slice level: the steps (slice-apply-run.c) run in an order
 * whose every step can be undone, and the first failure undoes the steps
 * done, rebuilding the old routers from the old plan.  Only removals of links
 * between routers that keep running come last, after every step that can
 * fail.  The stored spec changes only once all of it ran.  The same action
 * runner builds a slice at create and repairs it at start-up, from an empty
 * or an observed actual state (slice-runner.c).
 *
 * A new link's interfaces are added to routers that keep running
 * (container-if.c), and the LXC config of a router whose interfaces or
 * limits changed is rewritten, so a later start makes what runs now.
 *
 * A slice over several nodes: every node that holds a part gets the same
 * edited spec (and a placement with the nodes' addresses and the keys of new
 * links, from the multi-node CLI) and acts on its part only: its routers,
 * its links and its halves of cross-node links.  The plan it reports names
 * only what concerns it; the CLI merges the nodes' plans, and rolls back the
 * nodes that applied when a later one fails (an apply of the previous spec,
 * which the reply carries).
 *
 * Not yet: tunnel:, placement: changes (refused, naming the field).
 */
#define LOG_MODULE "slice"
#include <errno.h>
#include <string.h>
#include <stdatomic.h>
#include "cluster.h"
#include "escape.h"
#include "log.h"
#include "spec.h"
#include "tenant.h"
#include "util.h"
#include "slice-apply.h"

static long link_index(const struct trl_slice *s, const char *name)
{
	for (size_t i = 0; i < s->n_links; i++)
		if (!strcmp(s->links[i].name, name))
			return (long)i;
	return -1;
}
static int shape_equal(const struct trl_link_shape *a, const struct trl_link_shape *b)
{
	return a->rate == b->rate && a->ceil == b->ceil && a->burst == b->burst && a->loss_ppm == b->loss_ppm &&
	       a->delay_us == b->delay_us && a->jitter_us == b->jitter_us;
}
static int addrs_equal(const struct trl_addr *a, size_t na, const struct trl_addr *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].text, b[i].text))
			return 0;
	return 1;
}

static int str_equal(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

/* Does router @name (old index @i, new index @j; -1: none) concern this node? */
static int router_here(const struct apply *a, long i, long j)
{
	return (i >= 0 && a->op.local[i]) || (j >= 0 && a->np.local[j]);
}

/* Does link @name (old index @m, new index @l; -1: none) have an end on this node? */
static int link_here(const struct apply *a, long m, long l)
{
	return (m >= 0 && a->op.pl[m].kind != PLAN_LINK_REMOTE) || (l >= 0 && a->np.pl[l].kind != PLAN_LINK_REMOTE);
}

/* Why router @o must restart to become @n (NULL: it need not).  @tpl is NULL
 * for a router of another node: that node tells a reload from a restart. */
static const char *router_restart_why(const struct apply *a, const struct trl_router *o, const struct trl_router *n,
				      const struct template *tpl)
{
	const struct trl_slice *os = a->oraw, *ns = a->nraw;

	if (strcmp(o->template_name, n->template_name))
		return "template";
	if (strcmp(o->node, n->node))
		return "node";
	if (o->n_daemons != n->n_daemons)
		return "daemons";
	for (size_t i = 0; i < o->n_daemons; i++)
		if (strcmp(o->daemons[i], n->daemons[i]))
			return "daemons";
	if (!addrs_equal(o->loopback, o->n_loopback, n->loopback, n->n_loopback))
		return "loopback";
	if (trl_router_limits(os, o).disk != trl_router_limits(ns, n).disk)
		return "limits.disk";
	if (!str_equal(o->config, n->config) && tpl && !tpl->routing_frr && !tpl->routing_bird)
		return "config";
	/* A new interface is added while it runs, other addresses are put on an
	 * interface it keeps (container-if.c). */
	return NULL;
}

/* A change of the plan; one that does not concern this node (@here 0) is made by the other nodes and not reported. */
static void change(struct apply *a, int here, const char *kind, const char *name, const char *what, const char *fmt,
		   ...) __attribute__((format(printf, 6, 7)));
static void change(struct apply *a, int here, const char *kind, const char *name, const char *what, const char *fmt,
		   ...)
{
	char detail[512];
	va_list ap;

	if (!here)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	json_array_append_new(a->changes,
			      json_pack("{s:s, s:s, s:s, s:s}", "kind", kind, "name", name, "change", what, "how", detail));
}

static void disturb(struct apply *a, int here, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void disturb(struct apply *a, int here, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!here)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_array_append_new(a->disturbed, json_string(msg));
}

/* What differs, and how each difference is made. */
static int apply_diff(struct apply *a, struct trl_error *err)
{
	struct trl_slice *os = a->oraw, *ns = a->nraw;
	const struct trl_slice *oe = a->op.s, *ne = a->np.s;	/* effective (live changes in) */

	if (strcmp(os->tunnel, ns->tunnel))
		return trl_error_set(err, TRL_EUNAVAIL, "tunnel: apply cannot change it (delete and create the slice)");
	if (os->placement != ns->placement)
		return trl_error_set(err, TRL_EUNAVAIL, "placement: apply cannot change it (delete and create the slice)");
	if (os->bw_rate != ns->bw_rate || os->bw_ceil != ns->bw_ceil) {
		a->bw = 1;
		change(a, 1, "slice", ns->name, "changed", "bandwidth: in place");
	}
	if (limits_diff(&os->limits, &ns->limits) || os->limits.disk != ns->limits.disk) {
		if (os->limits.disk != ns->limits.disk)
			return trl_error_set(err, TRL_EUNAVAIL, "limits.disk of the slice: apply cannot change it");
		a->slice_lim = 1;
		change(a, 1, "slice", ns->name, "changed", "limits: in place");
	}
	for (size_t j = 0; j < ns->n_routers; j++) {
		long i = router_index(os, ns->routers[j].name);

		a->r_n2o[j] = i;
		if (i >= 0)
			a->r_o2n[i] = (long)j;
	}
	for (size_t l = 0; l < ns->n_links; l++) {
		long m = link_index(os, ns->links[l].name);

		a->l_n2o[l] = m;
		if (m >= 0)
			a->l_o2n[m] = (long)l;
	}
	for (size_t i = 0; i < os->n_routers; i++)
		if (a->r_o2n[i] < 0) {
			a->ors[i] = AR_REMOVE;
			change(a, router_here(a, (long)i, -1), "router", os->routers[i].name, "removed", "stopped and removed");
			disturb(a, router_here(a, (long)i, -1), "router %s stops", os->routers[i].name);
		}
	for (size_t j = 0; j < ns->n_routers; j++) {
		const struct trl_router *n = &ns->routers[j];
		const char *why;
		long i = a->r_n2o[j];
		int here = router_here(a, i, (long)j);

		if (i < 0) {
			a->nrs[j] = AR_ADD;
			change(a, here, "router", n->name, "added", "built and started");
			continue;
		}
		{
			struct trl_limits ol = trl_router_limits(os, &os->routers[i]), nl = trl_router_limits(ns, n);

			a->nlim[j] = limits_diff(&ol, &nl) != 0;
		}
		if ((why = router_restart_why(a, &os->routers[i], n, a->np.local[j] ? &a->np.tpls[j] : NULL))) {
			a->nrs[j] = a->ors[i] = AR_RESTART;
			change(a, here, "router", n->name, "changed", "%s: restarts", why);
			disturb(a, here, "router %s restarts", n->name);
			continue;
		}
		if (!str_equal(os->routers[i].config, n->config)) {
			a->nrs[j] = a->ors[i] = AR_RELOAD;
			change(a, here, "router", n->name, "changed", "config: %s reload, no restart",
			       a->np.tpls[j].routing_bird ? "BIRD" : "FRR");
		}
		if (a->nlim[j])
			change(a, here, "router", n->name, "changed", "limits: in place");
	}
	for (size_t m = 0; m < os->n_links; m++)
		if (a->l_o2n[m] < 0) {
			a->ols[m] = AL_REMOVE;
			change(a, link_here(a, (long)m, -1), "link", os->links[m].name, "removed",
			       "its interfaces go; the routers keep running");
			disturb(a, link_here(a, (long)m, -1), "link %s goes down", os->links[m].name);
		}
	for (size_t l = 0; l < ns->n_links; l++) {
		const struct trl_link *lk = &ns->links[l];
		long m = a->l_n2o[l];
		int restart = 0, here = link_here(a, m, (long)l);

		/* A restart on another node is that node's: this half of the tunnel stays. */
		for (int e = 0; e < 2; e++) {
			long j = router_index(ns, lk->ep[e].router);

			restart |= (a->nrs[j] == AR_RESTART || a->nrs[j] == AR_ADD) && router_here(a, a->r_n2o[j], j);
		}
		/* A router that moved between nodes: this node's part of the link is another kind, or goes elsewhere. */
		if (m >= 0 && (a->op.pl[m].kind != a->np.pl[l].kind || a->op.pl[m].ep != a->np.pl[l].ep ||
			       a->op.pl[m].remote.s_addr != a->np.pl[l].remote.s_addr))
			restart = 1;
		if (m < 0) {
			a->nls[l] = AL_ADD;
			change(a, here, "link", lk->name, "added", "%s", restart ? "comes up with its new or restarted router" :
					"its interfaces are added to the running routers");
		} else if (restart) {
			a->nls[l] = a->ols[m] = AL_FLAP;
			disturb(a, here, "link %s flaps", lk->name);
		} else {
			for (int e = 0; e < 2; e++)
				if (!addrs_equal(os->links[m].ep[e].addrs, os->links[m].ep[e].n_addrs, lk->ep[e].addrs,
						 lk->ep[e].n_addrs))
					a->readdr[l] |= 1 << e;
			if (a->readdr[l]) {
				change(a, here, "link", lk->name, "changed", "addresses: in place, the routers keep running");
				disturb(a, here, "link %s changes addresses", lk->name);
			}
			if (!shape_equal(&os->links[m].shape, &lk->shape)) {
				a->nls[l] = a->ols[m] = AL_SHAPE;
				change(a, here, "link", lk->name, "changed", "shaping: in place");
			}
		}
	}
	/* Live changes stay on what the edit does not touch: the effective plans agree there. */
	(void)oe;
	(void)ne;
	return 0;
}
/* The new router-level and slice-level limits: the spec's where the edit changed them, else the live ones. */
static void limits_merge(struct apply *a, struct trl_slice *ns)
{
	for (size_t j = 0; j < ns->n_routers; j++) {
		long i = router_index(a->oraw, ns->routers[j].name);

		if (i >= 0 && !limits_diff(&a->oraw->routers[i].limits, &a->nraw->routers[j].limits) &&
		    a->oraw->routers[i].limits.disk == a->nraw->routers[j].limits.disk) {
			long oi = router_index(a->op.s, ns->routers[j].name);

			if (oi >= 0)
				ns->routers[j].limits = a->op.s->routers[oi].limits;
		}
	}
	if (!limits_diff(&a->oraw->limits, &a->nraw->limits))
		ns->limits = a->op.s->limits;
}

int slice_apply(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	struct daemon *d = oc->d;
	struct apply a = { .oc = oc, .d = d };
	struct store_slice row = { 0 };
	struct trl_slice *s = NULL, *ns = NULL;
	const char *fname = req->filename ? req->filename : "spec";
	char name[64] = "";
	int r, locked = 0;

	r = spec_parse(req->spec, req->spec_len, fname, files_resolver, req->files, &ns, err);
	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "%s", ns->name);
	if (req->name && strcmp(req->name, ns->name)) {
		trl_slice_free(ns);
		return trl_error_set(err, TRL_EINVALID, "%s: name: the spec is for slice '%s', not '%s'", fname, name,
				     req->name);
	}
	slice_op_begin(d, name);
	locked = 1;
	if ((r = store_open(d->db_path, &a.st, err)) < 0)
		goto out;
	r = slice_load(a.st, name, &row, &s, err);
	if (r == 0 && (r = access_check(oc, access_rule(PROTO_OP_SLICE_APPLY), &row, err)) < 0) {
		store_slice_release(&row);
		trl_slice_free(s);
		s = NULL;
	}
	if (r < 0)
		goto out;
	if (row.state != SLICE_READY) {
		r = trl_error_set(err, TRL_EUNAVAIL, "slice '%s' is %s, not ready: apply needs a running slice", name,
				  slice_state_name(row.state));
		goto out;
	}
	if (row.owner_uid != 0 && (r = tenant_limits_apply(&d->cfg, ns, fname, err)) < 0)
		goto out;
	/* The two specs as written, to tell edits from live changes. */
	if ((r = spec_parse(row.spec, strlen(row.spec), row.filename, files_resolver, row.files, &a.oraw, err)) < 0) {
		trl_error_prefix(err, "the running spec no longer parses");
		goto out;
	}
	if ((r = spec_parse(req->spec, req->spec_len, fname, files_resolver, req->files, &a.nraw, err)) < 0)
		goto out;
	if (row.owner_uid != 0 && (r = tenant_limits_apply(&d->cfg, a.nraw, fname, err)) < 0)
		goto out;
	if (strcmp(a.oraw->owner, a.nraw->owner)) {
		r = trl_error_set(err, TRL_EINVALID, "%s: owner: apply cannot change a slice's owner", fname);
		goto out;
	}
	if ((r = plan_build(d, s, row.uid_base, row.placement, 1, &a.op, err)) < 0) {
		s = NULL;
		trl_error_prefix(err, "the running slice");
		goto out;
	}
	s = NULL;
	a.op.owner = row.owner_uid;
	plan_load_links(a.st, &a.op);
	plan_apply_settings(a.st, &a.op);
	limits_merge(&a, ns);
	/* Multi-node: the nodes (one may be new to the slice) and the keys of new links come with the request. */
	a.placement = req->placement ? req->placement : row.placement;
	/* Where the cluster put routers it placed ('node: any'): in the specs compared, too. */
	cluster_placement_apply(ns, a.placement);
	cluster_placement_apply(a.oraw, row.placement);
	cluster_placement_apply(a.nraw, a.placement);
	if ((r = plan_build(d, ns, row.uid_base, a.placement, 1, &a.np, err)) < 0) {
		ns = NULL;
		goto out;
	}
	ns = NULL;
	a.np.owner = row.owner_uid;
	for (size_t i = 0; a.op.stopped && i < a.op.s->n_routers; i++)
		if (a.op.stopped[i]) {
			r = trl_error_set(err, TRL_EUNAVAIL,
					  "router '%s' is stopped ('trellis router stop'): start it before an apply",
					  a.op.s->routers[i].name);
			goto out;
		}
	a.changes = json_array();
	a.disturbed = json_array();
	if (!a.changes || !a.disturbed) {
		r = trl_error_set(err, TRL_EFAILED, "out of memory");
		goto out;
	}
	if ((r = apply_alloc(&a, a.oraw->n_routers, a.oraw->n_links, a.nraw->n_routers, a.nraw->n_links, err)) < 0)
		goto out;
	if ((r = apply_diff(&a, err)) < 0)
		goto out;
	/* Live link settings of links the edit does not reshape stay; the new plan takes them. */
	plan_apply_settings(a.st, &a.np);
	if (a.bw) {	/* the edit's bandwidth, not the live one */
		a.np.s->bw_rate = a.nraw->bw_rate;
		a.np.s->bw_ceil = a.nraw->bw_ceil;
	}
	for (size_t l = 0; l < a.np.s->n_links; l++)
		if (a.nls[l] == AL_SHAPE || a.nls[l] == AL_ADD) {
			a.np.s->links[l].shape = a.nraw->links[l].shape;
			a.np.down[l] = 0;
		}
	if ((r = plan_check_shaping(&a.np, err)) < 0)
		goto out;
	pthread_mutex_lock(&d->node_lock);
	r = admission_check(d, a.st, a.np.s, 1, 1, err);
	if (r == 0 && row.owner_uid != 0) {
		unsigned n_slices = 0, n_routers = 0;

		r = owner_usage(d, a.st, row.owner_uid, &n_slices, &n_routers, err);
		if (r == 0)
			r = tenant_count_check(&d->cfg, d->node_name, n_slices ? n_slices - 1 : 0,
					       n_routers >= a.op.n_local ? n_routers - (unsigned)a.op.n_local : 0, a.np.s,
					       (unsigned)a.np.n_local, err);
	}
	pthread_mutex_unlock(&d->node_lock);
	if (r < 0)
		goto out;
	op_progress(oc, "plan", "%zu changes, %zu disturbances", json_array_size(a.changes),
		    json_array_size(a.disturbed));
	if (!req->dry_run && (r = apply_keys(&a, err)) < 0) {
		for (size_t l = 0; l < a.np.s->n_links && a.added_keys; l++)
			if (a.added_keys[l])
				store_link_remove(a.st, name, a.np.s->links[l].name, NULL);
		goto out;
	}
	if (!req->dry_run && json_array_size(a.changes)) {
		log_info("slice '%s': applying %zu changes", name, json_array_size(a.changes));
		if ((r = apply_run(&a, err)) < 0) {
			struct trl_error ue = { 0 };

			log_warn("slice '%s': apply failed: %s; rolling back", name, ESC_TEXT(err->msg));
			op_progress(oc, "rollback", "apply failed: rolling back to the running spec");
			if (apply_undo(&a, &ue) < 0)
				snprintf(err->msg + strlen(err->msg), sizeof(err->msg) - strlen(err->msg), "; %s",
					 ue.msg);
			trl_error_prefix(err, "slice '%s': apply (rolled back)", name);
			events_emit(d, name, row.owner_uid, NULL, "slice-apply-failed", "%s", err->msg);
			goto out;
		}
		apply_finish(&a);
	}
	/* Even with nothing to do here, the spec is the new one (other nodes' parts changed). */
	if (!req->dry_run && (r = apply_commit(&a, req, err)) < 0) {
		log_error("slice '%s': applied, but the store kept the old spec: %s", name, err->msg);
		goto out;
	}
	if (!req->dry_run && json_array_size(a.changes)) {
		events_emit(d, name, row.owner_uid, NULL, "slice-applied", "slice '%s': edited spec applied: %zu change%s",
			    name, json_array_size(a.changes), json_array_size(a.changes) == 1 ? "" : "s");
		log_info("slice '%s': edited spec applied", name);
	}
	*result = json_pack("{s:s, s:s, s:b, s:b, s:O, s:O}", "name", name, "node", d->node_name, "dry_run",
			    req->dry_run, "applied", !req->dry_run && json_array_size(a.changes) > 0, "changes", a.changes,
			    "disturbed", a.disturbed);
	/* What ran before, for a multi-node client that must undo this node's part when another node fails. */
	if (*result && !req->dry_run)
		json_object_set_new(*result, "previous",
				    json_pack("{s:s, s:s, s:o}", "spec", row.spec, "filename", row.filename ? row.filename : "",
					      "files", row.files ? json_incref(row.files) : json_object()));
	r = *result ? 0 : trl_error_set(err, TRL_EFAILED, "out of memory");
out:
	if (row.spec)
		store_slice_release(&row);
	trl_slice_free(s);
	trl_slice_free(ns);
	apply_free(&a);
	if (locked)
		slice_op_end(d, name);
	return r;
}
