// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * DOC: cluster mode (trellisd --cluster etcd://HOST:PORT[,...] or etcds://...)
 *
 * Desired state lives in etcd (lib/cluster.h has the keys); this node keeps
 * its part of it real.  Three threads, each with its own etcd handle:
 *
 *   keepalive  registers the node under a lease (nodes/NODE, and members/NODE
 *              without one), renews the lease every TTL/3 and refreshes the
 *              registration (load, routers); a lease lost while etcd was away
 *              is replaced and the node registered again;
 *   watch      watches slices/ and wakes the reconciler on every change and
 *              every time the watch is (re)established;
 *   reconcile  level-triggered: compares slices/ with the slices in the local
 *              store that came from the cluster (their placement carries
 *              "cluster": create revision, "cluster_mod": the mod revision
 *              last applied) and creates, applies (a changed mod revision:
 *              an edited spec, lib/cluster-apply.c) or deletes through
 *              slice_create()/slice_apply()/slice_delete(), the same code a
 *              local request runs, reporting status/SLICE/NODE before and
 *              after; every
 *              CLUSTER_LINK_CHECK_S it also puts this node's half of every
 *              link to a node whose lease expired down (link_away_set(): the
 *              routers see carrier loss; recorded apart from a user's link
 *              down, which it never undoes) and up again when that node is back,
 *              and follows the users' link down/up given to other nodes
 *              (links/SLICE/LINK, links_follow()).
 *
 * When etcd is unreachable nothing is torn down: running slices stay as they
 * are and the reconciler retries until etcd answers again.  A slice whose
 * create failed here is not retried for the same revision.
 *
 * Every etcd handle is opened with the daemon's TLS files and etcd user
 * (struct etcd_opts, kept here for the daemon's lifetime); each handle
 * authenticates on its own and renews its token when etcd lets it expire.
 *
 * Requests on the control socket in cluster mode: slice.create and
 * slice.apply (without a placement or dry run) and slice.delete go to etcd
 * and wait for the cluster, with the nodes' progress streamed to the
 * client; node.list lists the cluster, node.remove retires a node; link.set
 * changes this node's end and records a state change in etcd for the other
 * end (cluster_link_set()); slice.show of a cluster slice adds every node's
 * state (cluster_show_state()).
 */
#define LOG_MODULE "cluster"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cluster.h"
#include "cluster-int.h"
#include "etcd.h"
#include "events.h"
#include "log.h"
#include "model.h"
#include "shape.h"
#include "spec.h"
#include "store.h"
#include "trellisd.h"
#include "util.h"

#define CLUSTER_WAIT_S 600

static int cluster_stopping(struct cluster *c)
{
	int s;

	pthread_mutex_lock(&c->lock);
	s = c->stop;
	pthread_mutex_unlock(&c->lock);
	return s;
}

static void cluster_kick(struct cluster *c)
{
	pthread_mutex_lock(&c->lock);
	c->gen++;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* Sleep up to @ms, waking early when stopping. */
static void cluster_nap(struct cluster *c, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	if (!c->stop)
		pthread_cond_timedwait(&c->cond, &c->lock, &ts);
	pthread_mutex_unlock(&c->lock);
}

/* What the node tells the cluster about itself. */
static char *registration(struct daemon *d)
{
	json_t *info = node_info(d), *sub, *o;
	char *text;
	double load = 0;
	_cleanup_fclose_ FILE *f = fopen("/proc/loadavg", "re");

	if (!info)
		return NULL;
	if (f && fscanf(f, "%lf", &load) != 1)
		load = 0;
	sub = json_object_get(info, "substrate");
	o = json_pack("{s:s, s:s, s:O*, s:O*, s:s, s:O*, s:O*, s:O*, s:O*, s:f, s:I, s:O*, s:I}", "name", d->node_name, "version",
		      PACKAGE_VERSION, "address", json_object_get(sub, "address"), "capacity",
		      json_object_get(sub, "capacity"), "fastpath", d->fastpath, "tunnels",
		      json_object_get(info, "tunnels"), "routers", json_object_get(info, "routers"), "slices",
		      json_object_get(info, "slices"), "max_key", json_object_get(info, "max_key"), "load", load,
		      "seen", (json_int_t)time(NULL), "socket", json_object_get(info, "socket"), "cpus",
		      (json_int_t)(sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 1));
	/* The keys this node uses: the cluster draws none of them (lib/cluster.c cluster_keys_pick). */
	if (o && json_object_get(info, "keys"))
		json_object_set(o, "keys", json_object_get(info, "keys"));
	json_decref(info);
	/* Placement weighs it (lib/cluster.c): bandwidth a new slice could still be guaranteed here. */
	if (o && d->has_substrate)
		json_object_set_new(o, "bw_free", json_integer((json_int_t)shape_node_free(d)));
	/* ... and disk for the routers' rootfs (limits.disk reserves it all). */
	if (o)
		json_object_set_new(o, "disk_free", json_integer((json_int_t)slice_disk_free(d)));
	/* ... and what its admission could still promise: a create is checked against it before it is written. */
	{
		double cpu_free;
		uint64_t mem_free;

		if (o && slice_promise_free(d, &cpu_free, &mem_free) == 0) {
			json_object_set_new(o, "cpu_free", json_real(cpu_free));
			json_object_set_new(o, "mem_free", json_integer((json_int_t)mem_free));
		}
	}
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}

static int node_register(struct cluster *c, struct etcd *e, struct trl_error *err)
{
	_cleanup_free_ char *text = registration(c->d);
	char nk[128], mk[128];
	int r;

	int64_t lease;

	if (!text)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	pthread_mutex_lock(&c->lock);
	lease = c->lease;
	pthread_mutex_unlock(&c->lock);
	snprintf(nk, sizeof(nk), CLUSTER_NODES "%s", c->d->node_name);
	snprintf(mk, sizeof(mk), CLUSTER_MEMBERS "%s", c->d->node_name);
	r = etcd_txn(e, NULL, json_pack("[o, o]", etcd_op_put(nk, text, lease), etcd_op_put(mk, text, 0)), NULL, NULL,
		     err);
	return r < 0 ? r : 0;
}

static int lease_renew(struct cluster *c, struct etcd *e, struct trl_error *err)
{
	int64_t ttl = 0, lease;
	int r;

	pthread_mutex_lock(&c->lock);
	lease = c->lease;
	pthread_mutex_unlock(&c->lock);
	if (lease && (r = etcd_lease_keepalive(e, lease, &ttl, err)) < 0)
		return r;
	if (ttl > 0)
		return 0;
	/* No lease yet, or it expired while etcd was unreachable: take a new one. */
	if ((r = etcd_lease_grant(e, CLUSTER_LEASE_TTL, &lease, err)) < 0)
		return r;
	pthread_mutex_lock(&c->lock);
	c->lease = lease;
	pthread_mutex_unlock(&c->lock);
	log_info("registered in the cluster at '%s' (lease %llx, %d s)", etcd_endpoint(e), (unsigned long long)lease,
		 CLUSTER_LEASE_TTL);
	return node_register(c, e, err);
}

static void *keepalive_main(void *arg)
{
	struct cluster *c = arg;
	struct etcd *e = NULL;
	struct trl_error err = { 0 };
	int down = 0;

	if (etcd_open_opts(c->url, &c->opts, &e, &err) < 0) {
		log_error("%s", err.msg);
		return NULL;
	}
	for (unsigned round = 1; !cluster_stopping(c); round++) {
		cluster_nap(c, CLUSTER_LEASE_TTL * 1000 / 3);
		if (cluster_stopping(c))
			break;
		trl_error_clear(&err);
		if (lease_renew(c, e, &err) == 0 && (round % 3 || node_register(c, e, &err) == 0)) {
			if (down)
				log_info("etcd at '%s' answers again", etcd_endpoint(e));
			down = 0;
			continue;
		}
		if (!down)
			log_warn("cannot renew this node's registration: %s (slices keep running)", err.msg);
		down = 1;
	}
	etcd_close(e);
	return NULL;
}

static int watch_cb(void *ctx, json_t *events, int64_t rev, struct trl_error *err)
{
	struct cluster *c = ctx;

	if (cluster_stopping(c))
		return 1;
	if (events)
		cluster_kick(c);
	return 0;
}

static void *watch_main(void *arg)
{
	struct cluster *c = arg;
	struct etcd *e = NULL;
	struct trl_error err = { 0 };
	int down = 0;

	if (etcd_open_opts(c->url, &c->opts, &e, &err) < 0) {
		log_error("%s", err.msg);
		return NULL;
	}
	while (!cluster_stopping(c)) {
		trl_error_clear(&err);
		if (etcd_watch(e, CLUSTER_SLICES, 0, watch_cb, c, &err) < 0) {
			if (!down)
				log_warn("watch of the cluster's slices: %s (retrying)", err.msg);
			down = 1;
			cluster_nap(c, 1000);
			continue;
		}
		down = 0;
	}
	etcd_close(e);
	return NULL;
}

/* status/SLICE/NODE: @rev the create revision, @mod the mod revision acted
 * on; @steps (may be NULL): the progress steps since the last report, which
 * the creator shows. */
static void status_put_steps(struct cluster *c, struct etcd *e, const char *slice, int64_t rev, int64_t mod,
			     const char *state, const struct trl_error *why, json_t *steps)
{
	struct trl_error err = { 0 };
	char key[192];
	char *text;
	json_t *o = json_pack("{s:s, s:I, s:I, s:s, s:s}", "state", state, "rev", (json_int_t)rev, "mod", (json_int_t)mod,
			      "message",
			      why && why->msg[0] ? why->msg : "", "code",
			      why && why->code ? trl_error_code_name(why->code) : "");

	if (o && json_array_size(steps))
		json_object_set(o, "steps", steps);

	snprintf(key, sizeof(key), CLUSTER_STATUS "%s/%s", slice, c->d->node_name);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (text && etcd_put(e, key, text, 0, &err) < 0)
		log_warn("slice '%s': cannot report '%s': %s", slice, state, err.msg);
	free(text);
}

static void status_put(struct cluster *c, struct etcd *e, const char *slice, int64_t rev, int64_t mod,
		       const char *state, const struct trl_error *why)
{
	status_put_steps(c, e, slice, rev, mod, state, why, NULL);
}

static void status_del(struct cluster *c, struct etcd *e, const char *slice)
{
	char key[192];

	snprintf(key, sizeof(key), CLUSTER_STATUS "%s/%s", slice, c->d->node_name);
	etcd_delete(e, key, 0, NULL);
}

/* The slices in the local store that came from the cluster: name -> create revision
 * (and into @mods: name -> the mod revision last applied, 0 if not recorded). */
static json_t *local_cluster_slices(struct daemon *d, json_t *mods)
{
	struct trl_error err = { 0 };
	struct store *st;
	char **names = NULL;
	json_t *out = json_object();
	int n;

	if (store_open(d->db_path, &st, &err) < 0) {
		log_warn("%s", err.msg);
		return out;
	}
	n = store_slice_names(st, &names, &err);
	for (int i = 0; i < n; i++) {
		struct store_slice row;

		if (store_slice_get(st, names[i], &row, NULL) == 0) {
			json_t *rev = json_object_get(row.placement, "cluster");
			json_t *mod = json_object_get(row.placement, "cluster_mod");

			json_object_set_new(out, names[i], json_integer(json_is_integer(rev) ? json_integer_value(rev) : 0));
			json_object_set_new(mods, names[i], json_integer(json_is_integer(mod) ? json_integer_value(mod) : 0));
			store_slice_release(&row);
		}
		free(names[i]);
	}
	free(names);
	store_close(st);
	return out;
}

static int uses_node(json_t *desired, const char *node)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(desired, "nodes"), i, v)
		if (!strcmp(json_string_value(v) ?: "", node))
			return 1;
	return 0;
}

static int files_resolver(void *ctx, const char *name, char **out);

struct realize_ctx {
	struct cluster *c;
	struct etcd *e;
	const char *slice;
	int64_t rev, mod;
	struct timespec last;
	pthread_mutex_t lock;	/* progress comes from several worker threads */
	json_t *steps;		/* the steps not reported yet (at most REALIZE_STEPS_MAX) */
	unsigned dropped;	/* ... and how many more there were */
};

#define REALIZE_STEPS_MAX 64

/* Take the steps not reported yet (with a line for the ones dropped): the caller reports them. */
static json_t *realize_steps_take(struct realize_ctx *x)
{
	json_t *steps = x->steps;

	if (x->dropped && steps)
		json_array_append_new(steps, json_sprintf("(%u more steps)", x->dropped));
	x->steps = json_array();
	x->dropped = 0;
	return steps;
}

/*
 * A create's progress, to status/SLICE/NODE: every step is kept, and sent
 * at most once a second in a batch ("steps"; the last one is the message),
 * so etcd round trips stay O(1) per node while the creator shows every step.
 */
static void realize_progress(void *ctx, const char *step, const char *msg)
{
	struct realize_ctx *x = ctx;
	struct timespec now;

	pthread_mutex_lock(&x->lock);
	if (x->steps && json_array_size(x->steps) < REALIZE_STEPS_MAX)
		json_array_append_new(x->steps, json_sprintf("%s: %s", step, msg));
	else
		x->dropped++;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - x->last.tv_sec + (now.tv_nsec - x->last.tv_nsec) / 1e9 >= 1.0) {
		struct trl_error why = { 0 };
		json_t *steps = realize_steps_take(x);

		x->last = now;
		snprintf(why.msg, sizeof(why.msg), "%s: %s", step, msg);
		status_put_steps(x->c, x->e, x->slice, x->rev, x->mod, "progress", &why, steps);
		json_decref(steps);
	}
	pthread_mutex_unlock(&x->lock);
}

/* This node's part of the desired state: created, or (@apply) an edit applied to it. */
static void realize(struct cluster *c, struct etcd *e, const char *name, json_t *desired, int64_t rev, int64_t mod,
		    int apply)
{
	struct realize_ctx x = { .c = c, .e = e, .slice = name, .rev = rev, .mod = mod };
	struct daemon *d = c->d;
	struct op_ctx oc;
	struct proto_request req = { .op = apply ? PROTO_OP_SLICE_APPLY : PROTO_OP_SLICE_CREATE, .name = name };
	json_t *res = NULL;
	struct trl_error err = { 0 };
	json_t *placement = json_deep_copy(json_object_get(desired, "placement"));
	json_t *files = json_object_get(desired, "files");
	int r;

	if (!placement)
		placement = json_object();
	json_object_set_new(placement, "cluster", json_integer(rev));
	json_object_set_new(placement, "cluster_mod", json_integer(mod));
	req.spec = json_string_value(json_object_get(desired, "spec"));
	req.spec_len = json_string_length(json_object_get(desired, "spec"));
	req.filename = json_string_value(json_object_get(desired, "filename"));
	req.files = json_is_object(files) ? files : NULL;
	req.placement = placement;
	log_info("slice '%s' (revision %lld/%lld): %s this node's part", name, (long long)rev, (long long)mod,
		 apply ? "applying the edited spec to" : "realizing");
	status_put(c, e, name, rev, mod, "progress", &(struct trl_error){ .msg = "realizing" });
	clock_gettime(CLOCK_MONOTONIC, &x.last);
	pthread_mutex_init(&x.lock, NULL);
	x.steps = json_array();
	op_ctx_internal(&oc, d, &(struct progress_sink){ .fn = realize_progress, .ctx = &x });
	if (!req.spec) {
		r = trl_error_set(&err, TRL_EINVALID, "the cluster's desired state of slice '%s' has no spec", name);
	} else {
		struct trl_slice *s = NULL;

		/* A spec filed under another name would be created and torn down forever. */
		r = spec_parse(req.spec, req.spec_len, req.filename ? req.filename : "spec", files_resolver, req.files, &s,
			       &err);
		if (r == 0 && strcmp(s->name, name))
			r = trl_error_set(&err, TRL_EINVALID, "the cluster's desired state '%s%s' describes slice '%s'",
					  CLUSTER_SLICES, name, s->name);
		trl_slice_free(s);
		if (r == 0)
			r = apply ? slice_apply(&oc, &req, &res, &err) : slice_create(&oc, &req, NULL, &err);
	}
	pthread_mutex_destroy(&x.lock);
	json_decref(placement);
	{
		json_t *steps = realize_steps_take(&x);

		if (r < 0) {
			log_warn("slice '%s': %s", name, err.msg);
			status_put_steps(c, e, name, rev, mod, "failed", &err, steps);
		} else {
			struct trl_error what = { 0 };
			size_t n = json_array_size(json_object_get(res, "changes"));

			if (apply)
				snprintf(what.msg, sizeof(what.msg), "applied: %zu change%s here", n, n == 1 ? "" : "s");
			status_put_steps(c, e, name, rev, mod, "ready", apply ? &what : NULL, steps);
		}
		json_decref(steps);
		json_decref(x.steps);
	}
	json_decref(res);
}

static void unrealize(struct cluster *c, struct etcd *e, const char *name)
{
	struct op_ctx oc;
	struct trl_error err = { 0 };
	json_t *res = NULL;

	log_info("slice '%s': no longer in the cluster, tearing this node's part down", name);
	op_ctx_internal(&oc, c->d, NULL);
	if (slice_delete(&oc, name, &res, &err) < 0)
		log_warn("slice '%s': delete: %s", name, err.msg);
	json_decref(res);
	status_del(c, e, name);
}

static int reconcile(struct cluster *c, struct etcd *e, struct trl_error *err)
{
	const char *me = c->d->node_name;
	json_t *kvs = NULL, *sts = NULL, *desired = json_object(), *mine = json_object(), *local, *kv, *v;
	json_t *mods = json_object();
	const char *name;
	size_t i;
	int r, changed = 0;

	if ((r = etcd_range(e, CLUSTER_SLICES, &kvs, NULL, err)) < 0 ||
	    (r = etcd_range(e, CLUSTER_STATUS, &sts, NULL, err)) < 0) {
		json_decref(kvs);
		json_decref(desired);
		json_decref(mine);
		json_decref(mods);
		return r;
	}
	json_array_foreach(kvs, i, kv) {
		const char *k = json_string_value(json_object_get(kv, "key")) + strlen(CLUSTER_SLICES);

		json_object_set(desired, k, kv);
	}
	/* This node's reports: slice -> {"state","rev"}. */
	json_array_foreach(sts, i, kv) {
		const char *k = json_string_value(json_object_get(kv, "key")) + strlen(CLUSTER_STATUS);
		const char *slash = strchr(k, '/');
		char slice[64];

		if (!slash || strcmp(slash + 1, me) || slash - k >= (int)sizeof(slice))
			continue;
		snprintf(slice, sizeof(slice), "%.*s", (int)(slash - k), k);
		json_object_set_new(mine, slice, json_loads(json_string_value(json_object_get(kv, "value")), 0, NULL));
	}
	local = local_cluster_slices(c->d, mods);

	/* Gone from the cluster, or replaced by a newer slice of the same name: tear down. */
	json_object_foreach(local, name, v) {
		int64_t lrev = json_integer_value(v);
		json_t *want = json_object_get(desired, name);

		if (!lrev)
			continue;	/* a local slice, not the cluster's */
		if (want && json_integer_value(json_object_get(want, "create_revision")) == lrev)
			continue;
		unrealize(c, e, name);
		json_object_del(mine, name);
		changed = 1;
	}
	/* Reports about slices this node no longer has or never got. */
	json_object_foreach(mine, name, v) {
		json_t *want = json_object_get(desired, name);

		if (!want || json_integer_value(json_object_get(want, "create_revision")) !=
				     json_integer_value(json_object_get(v, "rev")))
			if (!json_integer_value(json_object_get(local, name)))
				status_del(c, e, name);
	}
	/* New slices, ones this node missed while it was away, and edited ones (the mod revision moved). */
	json_object_foreach(desired, name, kv) {
		int64_t rev = json_integer_value(json_object_get(kv, "create_revision"));
		int64_t mod = json_integer_value(json_object_get(kv, "mod_revision"));
		json_t *st = json_object_get(mine, name), *val;
		const char *state = json_string_value(json_object_get(st, "state")) ?: "";
		int have = json_integer_value(json_object_get(local, name)) == rev;
		/* A part created before mod revisions were recorded has the create's (its first write). */
		int64_t lmod = json_integer_value(json_object_get(mods, name)) ?: rev;
		int64_t smod = json_integer_value(json_object_get(st, "mod"));

		if (cluster_stopping(c))
			break;
		if (st && json_integer_value(json_object_get(st, "rev")) != rev)
			state = "";
		if (have && lmod == mod) {
			if (strcmp(state, "ready") || smod != mod)
				status_put(c, e, name, rev, mod, "ready", NULL);
			continue;
		}
		/* Not retried for the same revision: the client rolls it back. */
		if (!strcmp(state, "failed") && (smod == mod || !smod))
			continue;
		val = json_loads(json_string_value(json_object_get(kv, "value")), 0, NULL);
		if (json_is_object(val) && uses_node(val, me)) {
			realize(c, e, name, val, rev, mod, have);
			changed = 1;
		} else if (have) {
			/* The edit left no router here. */
			unrealize(c, e, name);
			changed = 1;
		}
		json_decref(val);
	}
	json_decref(local);
	json_decref(mods);
	json_decref(kvs);
	json_decref(sts);
	json_decref(desired);
	json_decref(mine);
	/* Routers and slices changed: tell the cluster now (placement reads them), not at the next refresh. */
	if (changed)
		node_register(c, e, NULL);
	return 0;
}

static int files_resolver(void *ctx, const char *name, char **out)
{
	json_t *v = json_object_get(ctx, name);

	if (!json_is_string(v))
		return -ENOENT;
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

static void *reconcile_main(void *arg)
{
	struct cluster *c = arg;
	struct etcd *e = NULL;
	struct trl_error err = { 0 };
	unsigned long seen = (unsigned long)-1;
	int down = 0;

	if (etcd_open_opts(c->url, &c->opts, &e, &err) < 0) {
		log_error("%s", err.msg);
		return NULL;
	}
	time_t last = 0;

	for (;;) {
		struct timespec ts;
		int kicked;

		pthread_mutex_lock(&c->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += down ? 2 : CLUSTER_LINK_CHECK_S;
		while (!c->stop && c->gen == seen)
			if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT)
				break;
		kicked = c->gen != seen;
		seen = c->gen;
		if (c->stop) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		pthread_mutex_unlock(&c->lock);
		/* Between changes: only the far ends' liveness and users' link states, and a full pass now and then. */
		cluster_links_check(c, e);
		cluster_links_follow(c, e);
		if (!kicked && !down && time(NULL) - last < 30)
			continue;
		last = time(NULL);
		trl_error_clear(&err);
		if (reconcile(c, e, &err) < 0) {
			if (!down)
				log_warn("cannot read the cluster's slices: %s (running slices are left as they are)", err.msg);
			down = 1;
			continue;
		}
		down = 0;
	}
	etcd_close(e);
	return NULL;
}

static const char *opt_dup(const char *v, int *fail)
{
	char *p = v ? strdup(v) : NULL;

	if (v && !p)
		*fail = 1;
	return p;
}

static void cluster_free(struct cluster *c)
{
	free((char *)c->opts.ca);
	free((char *)c->opts.cert);
	free((char *)c->opts.key);
	free((char *)c->opts.user);
	if (c->opts.password) {
		explicit_bzero((char *)c->opts.password, strlen(c->opts.password));
		free((char *)c->opts.password);
	}
	json_decref(c->live);
	json_decref(c->followed);
	free(c);
}

int cluster_start(struct daemon *d, const char *url, const struct etcd_opts *o, struct trl_error *err)
{
	static const struct etcd_opts none;
	struct cluster *c;
	struct etcd *e = NULL;
	int r, fail = 0;

	if (!o)
		o = &none;
	c = calloc(1, sizeof(*c));
	if (!c)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	c->d = d;
	snprintf(c->url, sizeof(c->url), "%s", url);
	snprintf(d->cluster_url, sizeof(d->cluster_url), "%s", url);
	c->opts = (struct etcd_opts){ .ca = opt_dup(o->ca, &fail), .cert = opt_dup(o->cert, &fail),
				      .key = opt_dup(o->key, &fail), .user = opt_dup(o->user, &fail),
				      .password = opt_dup(o->password, &fail) };
	if (fail) {
		cluster_free(c);
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	if ((r = etcd_open_opts(url, &c->opts, &e, err)) < 0 || (r = lease_renew(c, e, err)) < 0) {
		etcd_close(e);
		cluster_free(c);
		return r;
	}
	etcd_close(e);
	d->cluster = c;
	if (pthread_create(&c->keep_th, NULL, keepalive_main, c) != 0 ||
	    pthread_create(&c->watch_th, NULL, watch_main, c) != 0 ||
	    pthread_create(&c->rec_th, NULL, reconcile_main, c) != 0)
		return trl_error_errno(err, TRL_EFAILED, errno, "cannot start the cluster threads");
	return 0;
}

void cluster_stop(struct daemon *d)
{
	struct cluster *c = d->cluster;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->keep_th, NULL);
	pthread_join(c->watch_th, NULL);
	pthread_join(c->rec_th, NULL);
	/* The lease is left to expire: a restarted node is "down" only briefly. */
}

static void progress_rq(void *ctx, const char *node, const char *msg)
{
	struct op_ctx *oc = ctx;

	if (node)
		op_progress(oc, "cluster", "node '%s': %s", node, msg);
	else
		op_progress(oc, "cluster", "%s", msg);
}

int cluster_request(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	struct cluster *c = oc->d->cluster;
	struct etcd *e = NULL;
	int r;

	if (req->op != PROTO_OP_NODE_LIST && !caller_is_privileged(&oc->who))
		return trl_error_set(err, TRL_EPERM, "permission denied: only root may change the cluster's slices");
	if ((r = etcd_open_opts(c->url, &c->opts, &e, err)) < 0)
		return r;
	switch (req->op) {
	case PROTO_OP_SLICE_CREATE:
		r = cluster_slice_create(e, req->spec, req->spec_len, req->filename, req->files, oc->who.uid,
					 oc->d->node_name, CLUSTER_WAIT_S,
					 progress_rq, oc, result, err);
		break;
	case PROTO_OP_SLICE_APPLY:
		r = cluster_slice_apply(e, req->spec, req->spec_len, req->filename, req->files, CLUSTER_WAIT_S, progress_rq,
					oc, result, err);
		if (r == -TRL_ENOTFOUND) {
			/* Not the cluster's: maybe a slice of this node alone. */
			etcd_close(e);
			trl_error_clear(err);
			return slice_apply(oc, req, result, err);
		}
		break;
	case PROTO_OP_SLICE_DELETE:
		r = cluster_slice_delete(e, req->name, CLUSTER_WAIT_S, progress_rq, oc, result, err);
		if (r == -TRL_ENOTFOUND) {
			/* Not the cluster's: maybe a slice of this node alone. */
			etcd_close(e);
			trl_error_clear(err);
			return slice_delete(oc, req->name, result, err);
		}
		break;
	case PROTO_OP_NODE_REMOVE:
		r = cluster_node_remove(e, req->name, req->force, result, err);
		break;
	case PROTO_OP_NODE_LIST: {
		json_t *nodes = NULL;

		r = cluster_node_list(e, &nodes, err);
		if (r == 0)
			*result = json_pack("{s:s, s:o}", "cluster", c->url, "nodes", nodes);
		break;
	}
	default:
		r = trl_error_set(err, TRL_EPROTO, "not a cluster request");
	}
	etcd_close(e);
	return r;
}
