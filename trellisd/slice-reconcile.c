/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slices: start-up reconciliation
 *
 * At start every slice in the store is re-adopted: interrupted creates are
 * rolled back and interrupted deletes finished, stopped routers restarted, lost
 * interfaces, fast-path entries and qdiscs repaired, persistent slices rebuilt
 * after a host restart.  Each action is noted in d->reconcile (node.show) and
 * the log.
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

/* --- restart: re-adopt what runs, finish what was interrupted, repair drift --- */

static void boot_id_read(char out[64])
{
	_cleanup_free_ char *t = NULL;

	out[0] = '\0';
	if (util_read_file("/proc/sys/kernel/random/boot_id", 128, &t, NULL) == 0) {
		t[strcspn(t, "\n")] = '\0';
		snprintf(out, 64, "%s", t);
	}
}

/* Remember the boot a slice was built in (a later boot means the host restarted). */
void boot_id_store(struct store *st, const char *slice)
{
	json_t *set = NULL;
	char id[64];

	boot_id_read(id);
	if (!id[0] || store_settings_get(st, slice, &set, NULL) < 0)
		return;
	json_object_set_new(set, "boot_id", json_string(id));
	store_settings_put(st, slice, set, NULL);
	json_decref(set);
}

/* The owner of the slice being reconciled (one at a time, in the reconcile's thread): its events carry it. */
static uid_t note_owner;

static void note(json_t *actions, const char *slice, const char *action, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void note(json_t *actions, const char *slice, const char *action, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("reconcile: slice '%s': %s: %s", slice, action, msg);
	events_emit(g_daemon, slice, note_owner, NULL, "reconcile", "%s: %s", action, msg);
	json_array_append_new(actions, json_pack("{s:s, s:s, s:s}", "slice", slice, "action", action, "detail", msg));
}

/* The whole slice from its row, as create builds it (templates resolved). */
static int reconcile_plan(struct daemon *d, struct store *st, const char *name, struct store_slice *row,
			  struct plan *p, int strict, struct trl_error *err)
{
	struct trl_slice *s = NULL;
	int r = slice_load(st, name, row, &s, err);

	memset(p, 0, sizeof(*p));
	if (r < 0)
		return r;
	r = plan_build(d, s, row->uid_base, row->placement, strict, p, err);
	if (r < 0)
		return r;
	p->owner = row->owner_uid;
	plan_load_links(st, p);
	plan_apply_settings(st, p);
	return 0;
}

/* Start p->only routers (all local ones if NULL), wait, attach @links (all if NULL). */
static int reconcile_realize(struct plan *p, const char *links, struct trl_error *err)
{
	struct start_ctx sc = { .p = p };
	int r;

	if ((r = pool_run(p->s->n_routers, p->d->parallel, start_one, &sc, err)) < 0 ||
	    (r = wait_ready(p, NULL, err)) < 0)
		return r;
	if ((r = shape_slice_apply(p->d, &p->ss, p->s->name, err)) < 0)
		return r;
	for (size_t l = 0; l < p->s->n_links; l++) {
		if (p->pl[l].kind == PLAN_LINK_REMOTE || (links && !links[l]))
			continue;
		if ((r = link_attach(p, l, err)) < 0)
			return trl_error_prefix(err, "link '%s'", p->s->links[l].name);
		if (plan_link_down(p, l) && (r = link_admin(p, l, 0, err)) < 0)
			return r;
	}
	return 0;
}

static void reconcile_one(struct daemon *d, struct store *st, const char *name, const char *boot, json_t *actions)
{
	struct store_slice row = { 0 };
	struct trl_error e = { 0 };
	struct plan p = { 0 };
	json_t *set = NULL;
	char *links = NULL;
	const char *built_in;
	size_t fixes = 0;
	int r, links_of_stopped = 0;

	r = reconcile_plan(d, st, name, &row, &p, 0, &e);
	note_owner = row.spec ? row.owner_uid : 0;
	if (r < 0) {
		note(actions, name, "error", "cannot plan it: %s (left alone)", e.msg);
		goto out;
	}
	if (row.state == SLICE_CREATING || row.state == SLICE_DELETING) {
		/* Interrupted half-way: a create is rolled back, a delete finished. */
		if (slice_teardown(&p, &e) < 0) {
			store_slice_set_state(st, name, SLICE_DELETING, NULL);
			note(actions, name, "error", "removing it failed: %s (state 'deleting': delete it again)", e.msg);
			goto out;
		}
		store_slice_remove(st, name, NULL);
		claim_uid_release(d->node_name, name, row.uid_base);
		note(actions, name, row.state == SLICE_CREATING ? "rolled-back" : "deleted",
		     "%s was interrupted (daemon stopped); everything it built is removed",
		     row.state == SLICE_CREATING ? "its create" : "its delete");
		goto out;
	}
	{
		/* Its uid range stays this daemon's, host-wide (the claims are gone after a reboot). */
		struct claim_uid c;

		claim_init(d, st, name, row.owner_uid, &c);
		c.shared = json_is_integer(json_object_get(row.placement, "uid_index"));
		if (claim_uid_hold(&c, row.uid_base, &e) < 0) {
			note(actions, name, "error", "%s", e.msg);
			trl_error_clear(&e);
		}
	}
	if (!p.n_local)
		goto out;
	store_settings_get(st, name, &set, NULL);
	built_in = json_string_value(json_object_get(set, "boot_id"));
	if (built_in && boot[0] && strcmp(built_in, boot)) {
		/* The host restarted: nothing of the slice survived. */
		if (!p.s->persist) {
			if (slice_teardown(&p, &e) < 0) {
				store_slice_set_state(st, name, SLICE_DELETING, NULL);
				note(actions, name, "error", "removing it failed: %s (state 'deleting': delete it again)",
				     e.msg);
				goto out;
			}
			store_slice_remove(st, name, NULL);
			claim_uid_release(d->node_name, name, row.uid_base);
			note(actions, name, "removed", "the host restarted and the slice is not marked persist: its state is removed");
			goto out;
		}
		plan_free(&p);
		store_slice_release(&row);
		if ((r = reconcile_plan(d, st, name, &row, &p, 1, &e)) < 0 ||
		    (r = cgroup_slice_create(p.layout, d->node_name, name, &p.s->limits, &e)) < 0 ||
		    (r = reconcile_realize(&p, NULL, &e)) < 0) {
			note(actions, name, "error", "rebuilding it after the host restart failed: %s", e.msg);
			store_slice_set_state(st, name, SLICE_FAILED, NULL);
			goto out;
		}
		boot_id_store(st, name);
		note(actions, name, "rebuilt", "persistent slice rebuilt after a host restart: %zu routers, %zu links",
		     p.n_local, p.s->n_links);
		goto out;
	}

	/* Same boot: re-adopt, and repair what drifted. */
	plan_free(&p);
	store_slice_release(&row);
	if ((r = reconcile_plan(d, st, name, &row, &p, 1, &e)) < 0) {
		note(actions, name, "error", "cannot plan it: %s (left alone)", e.msg);
		goto out;
	}
	p.only = calloc(p.s->n_routers + 1, 1);
	links = calloc(p.s->n_links + 1, 1);
	if (!p.only || !links)
		goto out;
	for (size_t i = 0; i < p.s->n_routers; i++) {
		struct container_spec *cs = &p.cs[i];
		enum router_state state;
		pid_t pid = 0;

		if (!p.local[i])
			continue;
		/* 'router stop' keeps it stopped (slice-router.c). */
		if (p.stopped && p.stopped[i]) {
			links_of_stopped = 1;
			continue;
		}
		state = container_state(d->lxcpath, cs->name, &pid);
		if (state != ROUTER_RUNNING) {
			p.only[i] = 1;
			note(actions, name, "restarted", "router '%s' was %s", cs->router->name, router_state_name(state));
			continue;
		}
		cs->init_pid = pid;
		for (size_t k = 0; k < cs->n_ifs; k++)
			if (!if_nametoindex(cs->ifs[k].host)) {
				p.only[i] = 1;
				note(actions, name, "restarted", "router '%s' lost its interface '%s' (host end '%s' missing)",
				     cs->router->name, cs->ifs[k].ifname, cs->ifs[k].host);
				break;
			}
	}
	for (size_t l = 0; l < p.s->n_links; l++) {
		struct trl_link *lk = &p.s->links[l];
		struct plan_link *pl = &p.pl[l];
		char a[16], b[16];
		int skip = 0;

		if (pl->kind == PLAN_LINK_REMOTE)
			continue;
		host_veth(p.s, &lk->ep[0], a);
		host_veth(p.s, &lk->ep[1], b);
		for (int k = 0; k < 2; k++) {
			const struct trl_router *rt = trl_slice_router(p.s, lk->ep[k].router);

			for (size_t i = 0; i < p.s->n_routers; i++) {
				if (&p.s->routers[i] == rt && p.only[i])
					links[l] = 1;
				if (&p.s->routers[i] == rt && links_of_stopped && p.stopped[i])
					skip = 1;
			}
		}
		if (skip) {
			links[l] = 0;
			continue;
		}
		if (links[l])
			continue;
		if (!d->bridge ||
		    (pl->kind == PLAN_LINK_LOCAL ? !bridge_port_joined(d->bridge, a) || !bridge_port_joined(d->bridge, b)
						 : !bridge_port_joined(d->bridge, pl->ep ? b : a))) {
			links[l] = 1;
			note(actions, name, "relinked", "link '%s' was not joined in the fast path", lk->name);
		} else if (pl->kind == PLAN_LINK_LOCAL && (lk->shape.rate || lk->shape.delay_us) &&
			   (!shaper_tree_exists(a) || !shaper_tree_exists(b))) {
			links[l] = 1;
			note(actions, name, "reshaped", "link '%s' had lost its qdisc", lk->name);
		}
	}
	for (size_t i = 0; i < p.s->n_routers; i++)
		fixes += p.only[i];
	for (size_t l = 0; l < p.s->n_links; l++)
		fixes += links[l];
	if (!fixes)
		goto out;
	/* A running router with a lost interface is started afresh: LXC makes its veths. */
	for (size_t i = 0; i < p.s->n_routers; i++)
		if (p.only[i] && p.cs[i].init_pid > 0 && container_destroy(d->lxcpath, p.cs[i].name, 0, &e) < 0)
			log_warn("reconcile: %s", e.msg);
	if ((r = reconcile_realize(&p, links, &e)) < 0) {
		note(actions, name, "error", "repair failed: %s", e.msg);
		goto out;
	}
	events_emit_st(d, st, name, NULL, "drift-repaired", "slice '%s' repaired after a daemon restart", name);
out:
	json_decref(set);
	free(links);
	free(p.only);
	p.only = NULL;
	plan_free(&p);
	if (row.spec)
		store_slice_release(&row);
}

int slice_reconcile(struct daemon *d)
{
	struct store *st = NULL;
	struct trl_error e = { 0 };
	char **names = NULL, boot[64];
	json_t *actions = json_array();
	struct timespec t0, t1;
	int n, adopted;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	boot_id_read(boot);
	pthread_mutex_lock(&d->node_lock);
	json_decref(d->reconcile);
	d->reconcile = json_pack("{s:b, s:I}", "running", 1, "time", (json_int_t)time(NULL));
	pthread_mutex_unlock(&d->node_lock);
	pthread_rwlock_wrlock(&d->ops_lock);
	if (store_open(d->db_path, &st, &e) < 0) {
		log_error("reconcile: %s", e.msg);
		pthread_rwlock_unlock(&d->ops_lock);
		json_decref(actions);
		return events_adopt(d);
	}
	n = store_slice_names(st, &names, &e);
	for (int i = 0; i < n; i++) {
		/* What it is doing, for node show meanwhile. */
		pthread_mutex_lock(&d->node_lock);
		json_decref(d->reconcile);
		d->reconcile = json_pack("{s:b, s:I, s:i, s:i, s:s}", "running", 1, "time", (json_int_t)time(NULL),
					 "slices", n, "checked", i, "slice", names[i]);
		pthread_mutex_unlock(&d->node_lock);
		reconcile_one(d, st, names[i], boot, actions);
		free(names[i]);
	}
	free(names);
	store_close(st);
	/* The event watcher takes the routers that run, before any operation
	 * may start or stop one (still under ops_lock, still 'running'). */
	adopted = events_adopt(d);
	pthread_rwlock_unlock(&d->ops_lock);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_mutex_lock(&d->node_lock);
	json_decref(d->reconcile);
	d->reconcile = json_pack("{s:I, s:i, s:f, s:o}", "time", (json_int_t)time(NULL), "slices", n < 0 ? 0 : n,
				 "seconds", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, "actions",
				 actions);
	pthread_mutex_unlock(&d->node_lock);
	log_info("reconcile: %d slices checked in %.3f s, %zu actions", n < 0 ? 0 : n,
		 json_real_value(json_object_get(d->reconcile, "seconds")), json_array_size(actions));
	return adopted;
}
