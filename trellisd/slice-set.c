/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slices: live changes (slice set, link set), and a link's ends
 *
 * slice.set changes a slice's or a router's limits (cgroups, the slice's
 * substrate classes) in place; link.set changes one link's shaping, loss and
 * delay or takes it administratively up or down.  slice_link_end() resolves
 * the end of a link a capture runs on (capture.c).  Each checks everything first,
 * then changes the kernel, then records the change in the store's settings;
 * a failure puts the previous values back.
 *
 * A link's admin state has two sources kept apart in the settings: the
 * user's ("up": false, link set) and the cluster's ("away": NODE, put by
 * link_away_set() while the node at the far end is down).  The interfaces
 * are down while either holds; clearing "away" never undoes the user's.
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

static int slice_set_limits(struct op_ctx *oc, const struct proto_request *req, json_t **result,
			    struct trl_error *err);

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
static int slice_set_bandwidth(struct op_ctx *oc, const struct proto_request *req, json_t **out,
			       struct trl_error *err)
{
	struct daemon *d = oc->d;
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
	if ((r = slice_plan_load(oc, ACCESS_CHANGE, req->name, &row, &p, err)) < 0)
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

int slice_set(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	json_t *bw = NULL;
	int r;

	if (req->set.bandwidth || req->set.ceil) {
		if ((r = slice_set_bandwidth(oc, req, &bw, err)) < 0)
			return r;
		if (!req->set.cpu && !req->set.cpu_weight && !req->set.memory && !req->set.pids) {
			*result = bw;
			return 0;
		}
	}
	r = slice_set_limits(oc, req, result, err);
	if (r == 0 && bw) {
		json_object_set(*result, "bandwidth", json_object_get(bw, "bandwidth"));
		json_object_set(*result, "bandwidth_previous", json_object_get(bw, "bandwidth_previous"));
	}
	json_decref(bw);
	return r;
}

static int slice_set_limits(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err)
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
	struct daemon *d = oc->d;
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
	if ((r = access_check(oc, access_rule(PROTO_OP_SLICE_SET), &row, err)) < 0)
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
			r = trl_error_set(err, TRL_ENOTHERE, "router '%s' runs on node '%s', not on '%s': send the change to that node",
					  rt->name, rt->node, d->node_name);
			goto out;
		}
		snprintf(what, sizeof(what), "router '%s'", rt->name);
		cur = trl_router_limits(s, rt);
		target = &rt->limits;
	} else {
		if (!local) {
			r = trl_error_set(err, TRL_ENOTHERE, "slice '%s' has no routers on node '%s'", s->name, d->node_name);
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
	events_emit_st(d, st, s->name, rt ? rt->name : NULL, "slice-set", "%s", why);
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

int slice_link_end(struct op_ctx *oc, const char *name, const char *link, const char *end,
		   struct slice_link_end *out, struct trl_error *err)
{
	struct store_slice row;
	struct plan p;
	const struct trl_link *lk;
	const struct trl_router *rt;
	long l;
	int r, e = 0;

	if ((r = slice_plan_load(oc, access_rule(PROTO_OP_LINK_CAPTURE), name, &row, &p, err)) < 0)
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
	if (container_state(p.d->lxcpath, out->container, &out->pid) != ROUTER_RUNNING || out->pid <= 0)
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

int link_set(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	struct daemon *d = oc->d;
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
	if ((r = slice_plan_load(oc, ACCESS_CHANGE, req->name, &row, &p, err)) < 0)
		goto out_plan;
	store_slice_release(&row);
	l = link_find(p.s, req->link);
	if (l < 0) {
		r = trl_error_set(err, TRL_ENOTFOUND, "slice '%s' has no link '%s'", req->name, req->link);
		goto out;
	}
	if (p.pl[l].kind == PLAN_LINK_REMOTE) {
		r = trl_error_set(err, TRL_ENOTHERE, "link '%s' has no end on node '%s'", p.s->links[l].name,
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
		r = link_admin(&p, (size_t)l, !down && !json_object_get(p.away, p.s->links[l].name), err);
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
	/* The cluster's own down (its far node away) is kept apart from the user's (link_away_set). */
	if (json_object_get(p.away, p.s->links[l].name))
		json_object_set(entry, "away", json_object_get(p.away, p.s->links[l].name));
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
		    link_shape(&p, (size_t)l, &e) < 0 || link_admin(&p, (size_t)l, !plan_link_down(&p, (size_t)l), &e) < 0)
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

int link_away_set(struct daemon *d, const char *slice, const char *link, const char *node, struct trl_error *err)
{
	struct op_ctx oc;
	struct store_slice row;
	struct store *st = NULL;
	struct plan p;
	json_t *set = NULL, *links, *entry;
	long l;
	int r;

	op_ctx_internal(&oc, d, NULL);
	slice_op_begin(d, slice);
	pthread_mutex_lock(&d->node_lock);
	if ((r = slice_plan_load(&oc, ACCESS_CHANGE, slice, &row, &p, err)) < 0)
		goto out_plan;
	store_slice_release(&row);
	l = link_find(p.s, link);
	if (l < 0 || p.pl[l].kind == PLAN_LINK_REMOTE) {
		r = trl_error_set(err, TRL_ENOTFOUND, "slice '%s' has no link '%s' on node '%s'", slice, link, d->node_name);
		goto out;
	}
	if ((r = store_open(d->db_path, &st, err)) < 0 || (r = store_settings_get(st, p.s->name, &set, err)) < 0)
		goto out;
	links = json_object_get(set, "links");
	if (!json_is_object(links)) {
		links = json_object();
		json_object_set_new(set, "links", links);
	}
	entry = json_object_get(links, p.s->links[l].name);
	if (!json_is_object(entry)) {
		/* Nothing recorded yet: the spec's shape, up as far as the user is concerned. */
		entry = shape_to_json(&p.s->links[l].shape);
		json_object_set_new(entry, "up", json_boolean(!p.down[l]));
		json_object_set_new(links, p.s->links[l].name, entry);
	}
	if (node)
		json_object_set_new(entry, "away", json_string(node));
	else
		json_object_del(entry, "away");
	if ((r = store_settings_put(st, p.s->name, set, err)) < 0)
		goto out;
	/* The user's own down stays whatever the far node does. */
	r = link_admin(&p, (size_t)l, !node && !p.down[l], err);
	events_emit_st(d, st, p.s->name, NULL, node ? "link-away" : "link-back", "link '%s' %s", p.s->links[l].name,
		       node ? "down: the node at its far end is away" :
		       p.down[l] ? "stays down (taken down by the user): the node at its far end is back" :
				   "up: the node at its far end is back");
out:
	json_decref(set);
	store_close(st);
out_plan:
	plan_free(&p);
	pthread_mutex_unlock(&d->node_lock);
	slice_op_end(d, slice);
	return r;
}
