/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: the event stream: sources, ring, SQLite, followers
 *
 * See events.h for what is recorded.  events_emit() (any thread) takes the
 * one lock for a few copies: the event gets the next id, goes into the ring
 * and into each follower's queue (a full queue marks the follower dropped;
 * the emitter never waits for a client), and the watcher thread is woken.
 * The watcher thread writes what the ring holds beyond what it wrote last in
 * one SQLite transaction per wake-up, so a create storm costs a transaction
 * per batch, not per event, and no creating thread waits for the disk.
 *
 * Sources (one epoll, the watcher thread):
 *   - rtnetlink RTNLGRP_LINK: a host veth end <slice>.<router>.<if> of a
 *     watched router changing IFF_LOWER_UP -> "carrier" (lost / back);
 *   - a pidfd per watched router's init: readable when it exits ->
 *     "router-exited", with the wait status the proc connector reported;
 *   - the proc connector (NETLINK_CONNECTOR, CN_IDX_PROC): exec, fork and
 *     exit of processes.  An exec'd routing daemon (zebra, ospfd, bird, ...)
 *     whose cgroup is a watched router's is tracked by pid; its exit (no
 *     other process of that name left in the router: a daemonizing parent
 *     leaves its child) -> "daemon-exited"; the same name exec'd again in
 *     that router -> "daemon-restarted" (watchfrr, the bird boot loop);
 *   - memory: v1 cgroup.event_control + an eventfd on memory.oom_control,
 *     v2 inotify on memory.events; the oom_kill counter going up -> "oom";
 *   - pids.events (v1 and v2) by inotify; its max counter going up -> "pids-max".
 * Routers are looked up by a watch id under the lock, never by pointer from
 * epoll, so an unwatch racing an event is harmless.
 */
#define LOG_MODULE "events"
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include "escape.h"
#include "events-int.h"
#include "log.h"
#include "store.h"
#include "trellisd.h"

struct events_state events_g = { .lock = PTHREAD_MUTEX_INITIALIZER, .written_cond = PTHREAD_COND_INITIALIZER,
				 .epfd = -1, .wake = -1, .nl = -1, .cn = -1, .ino = -1 };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void events_emit_locked(const char *slice, uid_t owner, const char *router, const char *kind, const char *msg)
{
	struct store_event *e;
	uint64_t one = 1;

	E.last_id++;
	e = &E.ring[E.last_id % EVENTS_RING];
	memset(e, 0, sizeof(*e));
	e->id = E.last_id;
	e->time = now_s();
	snprintf(e->slice, sizeof(e->slice), "%s", slice ? slice : "");
	snprintf(e->router, sizeof(e->router), "%s", router ? router : "");
	snprintf(e->kind, sizeof(e->kind), "%s", kind);
	snprintf(e->message, sizeof(e->message), "%s", msg);
	e->owner = owner;
	for (struct follower *f = E.followers; f; f = f->next) {
		if (f->dropped || f->n == EVENTS_QUEUE) {
			f->dropped++;
		} else {
			f->q[(f->head + f->n) % EVENTS_QUEUE] = *e;
			f->n++;
		}
		if (write(f->efd, &one, sizeof(one)) < 0) {
			/* the counter is already non-zero: the follower is awake */
		}
	}
	if (E.wake >= 0 && write(E.wake, &one, sizeof(one)) < 0) {
		/* as above */
	}
}

void events_emit(struct daemon *d, const char *slice, uid_t owner, const char *router, const char *kind,
		 const char *fmt, ...)
{
	char msg[sizeof(((struct store_event *)0)->message)];
	va_list ap;

	(void)d;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_debug("event %s %s%s%s: %s", kind, slice ? slice : "-", router ? "/" : "", router ? router : "",
		  ESC_TEXT(msg));
	pthread_mutex_lock(&E.lock);
	events_emit_locked(slice, owner, router, kind, msg);
	pthread_mutex_unlock(&E.lock);
}

void events_emit_st(struct daemon *d, struct store *st, const char *slice, const char *router, const char *kind,
		    const char *fmt, ...)
{
	char msg[sizeof(((struct store_event *)0)->message)];
	struct store_slice row;
	struct trl_error e = { 0 };
	uid_t owner = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (st && store_slice_get(st, slice, &row, &e) == 0) {
		owner = row.owner_uid;
		store_slice_release(&row);
	}
	events_emit(d, slice, owner, router, kind, "%s", msg);
}

/* ---- writing to SQLite (watcher thread) ---- */

void events_flush(void)
{
	static struct store_event batch[EVENTS_RING];
	int64_t from, to;
	size_t n = 0;

	pthread_mutex_lock(&E.lock);
	to = E.last_id;
	from = E.written_id + 1;
	if (to - from + 1 > EVENTS_RING) {
		E.lost += (uint64_t)(to - from + 1 - EVENTS_RING);
		from = to - EVENTS_RING + 1;
	}
	for (int64_t id = from; id <= to; id++)
		batch[n++] = E.ring[id % EVENTS_RING];
	pthread_mutex_unlock(&E.lock);
	if (!n)
		return;
	if (store_events_put(E.st, batch, n, EVENTS_KEEP) < 0)
		log_warn("cannot write %zu events to the state store", n);
	pthread_mutex_lock(&E.lock);
	E.written_id = to;
	pthread_cond_broadcast(&E.written_cond);
	pthread_mutex_unlock(&E.lock);
}

int events_start(struct daemon *d, struct trl_error *err)
{
	pthread_attr_t attr;
	pthread_t th;
	int r;

	E.d = d;
	if (cgroup_detect(&E.layout, err) < 0)
		return -err->code;
	if (store_open(d->db_path, &E.st, err) < 0)
		return -err->code;
	store_events_max_id(E.st, &E.last_id);
	E.written_id = E.last_id;
	if ((r = events_watch_open(err)) < 0)
		return r;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&th, &attr, events_watch_main, NULL);
	pthread_attr_destroy(&attr);
	if (r)
		return trl_error_errno(err, TRL_EFAILED, r, "events: watcher thread");
	pthread_setname_np(th, "trl-events");	/* its CPU time is bench/events' events_cpu_s */
	E.started = 1;
	return 0;
}

/* ---- followers (events-follow.c serves the op) ---- */

int events_follower_add(uid_t uid, struct follower **out, int64_t *snapshot, struct trl_error *err)
{
	struct follower *f;
	unsigned mine = 0;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (f)
		f->q = calloc(EVENTS_QUEUE, sizeof(*f->q));
	if (!f || !f->q) {
		if (f)
			free(f);
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	}
	f->uid = uid;
	f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->efd < 0) {
		int e = errno;

		free(f->q);
		free(f);
		return trl_error_errno(err, TRL_ELIMIT, e, "events: eventfd");
	}
	pthread_mutex_lock(&E.lock);
	for (struct follower *o = E.followers; o; o = o->next)
		mine += o->uid == uid;
	if (E.n_followers >= EVENTS_FOLLOWERS || (uid != 0 && mine >= EVENTS_FOLLOWERS_PER_USER)) {
		pthread_mutex_unlock(&E.lock);
		close(f->efd);
		free(f->q);
		free(f);
		if (uid != 0 && mine >= EVENTS_FOLLOWERS_PER_USER)
			return trl_error_set(err, TRL_ELIMIT, "too many event followers from uid %u (limit %u)",
					     (unsigned)uid, EVENTS_FOLLOWERS_PER_USER);
		return trl_error_set(err, TRL_ELIMIT, "too many event followers (limit %u)", EVENTS_FOLLOWERS);
	}
	f->next = E.followers;
	E.followers = f;
	E.n_followers++;
	*snapshot = E.last_id;
	pthread_mutex_unlock(&E.lock);
	*out = f;
	return 0;
}

void events_follower_remove(struct follower *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&E.lock);
	for (struct follower **pp = &E.followers; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			E.n_followers--;
			break;
		}
	pthread_mutex_unlock(&E.lock);
	close(f->efd);
	free(f->q);
	free(f);
}

int events_follower_fd(struct follower *f)
{
	return f->efd;
}

size_t events_follower_take(struct follower *f, struct store_event *out, size_t max, uint64_t *dropped)
{
	size_t n = 0;
	uint64_t v;

	if (read(f->efd, &v, sizeof(v)) < 0) {
		/* nothing new */
	}
	pthread_mutex_lock(&E.lock);
	while (f->n && n < max) {
		out[n++] = f->q[f->head];
		f->head = (f->head + 1) % EVENTS_QUEUE;
		f->n--;
	}
	*dropped = f->dropped;
	pthread_mutex_unlock(&E.lock);
	return n;
}

int64_t events_snapshot(void)
{
	int64_t id;

	pthread_mutex_lock(&E.lock);
	id = E.last_id;
	pthread_mutex_unlock(&E.lock);
	return id;
}

int events_wait_written(int64_t id, int ms)
{
	struct timespec ts;
	int r = 0;
	uint64_t one = 1;

	if (!E.started)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	if (write(E.wake, &one, sizeof(one)) < 0) {
		/* awake already */
	}
	pthread_mutex_lock(&E.lock);
	while (E.written_id < id && r == 0)
		r = pthread_cond_timedwait(&E.written_cond, &E.lock, &ts);
	pthread_mutex_unlock(&E.lock);
	return r ? -ETIMEDOUT : 0;
}
