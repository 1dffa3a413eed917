/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slices: the worker pool and per-slice locks
 *
 * pool_run() runs fn(ctx, i) for every router, d->parallel at a time (router
 * starts and teardowns).  slice_op_begin()/slice_op_end() serialize operations
 * on one slice name while different slices proceed in parallel; see the lock
 * order below.
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

/* --- locking ---------------------------------------------------------------
 * One lock per slice name: operations on one slice are serialized, different
 * slices proceed in parallel.  d->ops_lock is held shared by every operation
 * (exclusively by start-up reconciliation and shutdown), d->node_lock around
 * the short node-wide sections: admission + allocation, the substrate's HTB
 * tree, the node's cgroup directories.  Order: name lock, then node_lock;
 * nothing waits for a name lock while holding node_lock. */
struct name_lock {
	char name[64];
	int refs;
	atomic_int *cancel;	/* the holder's, if it may be cancelled (a create) */
	pthread_mutex_t m;
	struct name_lock *next;
};

static pthread_mutex_t name_locks_m = PTHREAD_MUTEX_INITIALIZER;
static struct name_lock *name_locks;
static struct name_lock name_lock_spare = { .m = PTHREAD_MUTEX_INITIALIZER }; /* out of memory: one shared lock */

void slice_op_begin(struct daemon *d, const char *name)
{
	struct name_lock *l;

	pthread_rwlock_rdlock(&d->ops_lock);
	pthread_mutex_lock(&name_locks_m);
	for (l = name_locks; l && strcmp(l->name, name); l = l->next)
		;
	if (!l && (l = calloc(1, sizeof(*l)))) {
		snprintf(l->name, sizeof(l->name), "%s", name);
		pthread_mutex_init(&l->m, NULL);
		l->next = name_locks;
		name_locks = l;
	}
	if (!l)
		l = &name_lock_spare;
	l->refs++;
	pthread_mutex_unlock(&name_locks_m);
	pthread_mutex_lock(&l->m);
}

void slice_op_end(struct daemon *d, const char *name)
{
	struct name_lock **pp, *l = &name_lock_spare;

	pthread_mutex_lock(&name_locks_m);
	for (pp = &name_locks; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->name, name)) {
			l = *pp;
			break;
		}
	pthread_mutex_unlock(&l->m);
	if (--l->refs == 0 && l != &name_lock_spare) {
		*pp = l->next;
		pthread_mutex_destroy(&l->m);
		free(l);
	}
	pthread_mutex_unlock(&name_locks_m);
	pthread_rwlock_unlock(&d->ops_lock);
}

void slice_op_cancellable(const char *name, atomic_int *flag)
{
	pthread_mutex_lock(&name_locks_m);
	for (struct name_lock *l = name_locks; l; l = l->next)
		if (!strcmp(l->name, name))
			l->cancel = flag;
	pthread_mutex_unlock(&name_locks_m);
}

int slice_op_cancel(const char *name)
{
	int done = 0;

	pthread_mutex_lock(&name_locks_m);
	for (struct name_lock *l = name_locks; l; l = l->next)
		if (!strcmp(l->name, name) && l->cancel) {
			atomic_store(l->cancel, OP_CANCEL_DELETE);
			done = 1;
		}
	pthread_mutex_unlock(&name_locks_m);
	return done;
}

/* A tiny worker pool: run fn(ctx, i) for i in [0, n), @workers at a time. */
struct pool {
	atomic_size_t next;
	size_t n;
	void *ctx;
	int (*fn)(void *ctx, size_t i, struct trl_error *err);
	pthread_mutex_t lock;
	int failed;
	struct trl_error err;
};

static void *pool_worker(void *arg)
{
	struct pool *pl = arg;

	for (;;) {
		size_t i = atomic_fetch_add(&pl->next, 1);
		struct trl_error e = { 0 };

		if (i >= pl->n)
			break;
		pthread_mutex_lock(&pl->lock);
		int stop = pl->failed;
		pthread_mutex_unlock(&pl->lock);
		if (stop)
			break;
		if (pl->fn(pl->ctx, i, &e) < 0) {
			pthread_mutex_lock(&pl->lock);
			if (!pl->failed) {
				pl->failed = 1;
				pl->err = e;
			}
			pthread_mutex_unlock(&pl->lock);
		}
	}
	return NULL;
}

/* Returns 0 or the first failure (err filled).  With @keep_going all items run. */
int pool_run(size_t n, int workers, int (*fn)(void *, size_t, struct trl_error *), void *ctx,
		    struct trl_error *err)
{
	struct pool pl = { .n = n, .ctx = ctx, .fn = fn, .lock = PTHREAD_MUTEX_INITIALIZER };
	pthread_t th[64];
	int nth = 0;

	if (workers < 1)
		workers = 1;
	if ((size_t)workers > n)
		workers = (int)n;
	if (workers > 64)
		workers = 64;
	for (int i = 1; i < workers; i++)
		if (pthread_create(&th[nth], NULL, pool_worker, &pl) == 0)
			nth++;
	pool_worker(&pl);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	if (pl.failed) {
		*err = pl.err;
		return -err->code;
	}
	return 0;
}
