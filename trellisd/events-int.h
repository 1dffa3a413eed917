/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: the event stream's internals (events.c, events-watch.c)
 *
 * One state for the node, under one lock: the ring, the followers, the
 * watched routers.  events.c owns the ring, SQLite and the followers;
 * events-watch.c the kernel sources and the watcher thread.
 */
#ifndef TRELLISD_EVENTS_INT_H
#define TRELLISD_EVENTS_INT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include "cgroup.h"
#include "error.h"
#include "events.h"
#include "store.h"

struct daemon;

enum { TAG_WAKE = 1, TAG_NL, TAG_CN, TAG_INO, TAG_PIDFD, TAG_OOM };

#define MAX_DAEMONS 32
#define MAX_GONE 8
#define MAX_IFS 32

struct wdaemon {
	pid_t pid;
	char comm[16];
};

struct wrouter {
	unsigned id;
	char slice[16], router[16];
	uid_t owner;
	pid_t init;
	int pidfd, oom_efd, oom_ctl_fd;
	int wd_mem, wd_pids;
	char mem_dir[512], pids_dir[512];
	uint64_t oom_kills, pids_max;
	int oom_pending;	/* v1: the OOM eventfd fired; the kill is counted a moment later */
	int init_status;	/* from the proc connector; -1 unknown */
	struct wdaemon daemons[MAX_DAEMONS];
	size_t n_daemons;
	char gone[MAX_GONE][16];	/* daemons that exited and are not back */
	size_t n_gone;
	struct {
		char host[16];
		int up;
	} ifs[MAX_IFS];
	size_t n_ifs;
};

struct follower {
	uid_t uid;
	int efd;
	struct store_event *q;	/* EVENTS_QUEUE ring */
	size_t head, n;
	uint64_t dropped;	/* events that did not fit: the follower is cut */
	struct follower *next;
};


struct events_state {
	pthread_mutex_t lock;
	pthread_cond_t written_cond;
	struct daemon *d;
	enum cgroup_layout layout;
	struct store *st;	/* the watcher thread's */
	int epfd, wake, nl, cn, ino;
	struct store_event ring[EVENTS_RING];
	int64_t last_id, written_id;
	uint64_t lost;		/* events the ring dropped before they were written */
	struct wrouter **routers;
	size_t n_routers;
	unsigned next_watch;
	struct follower *followers;
	unsigned n_followers;
	int started;
};

/* The state (events.c); E is short for it in these files only. */
extern struct events_state events_g;
#define E events_g

/* Record an event with E.lock held (events.c). */
void events_emit_locked(const char *slice, uid_t owner, const char *router, const char *kind, const char *msg);
/* Write what the ring holds beyond what is written (watcher thread). */
void events_flush(void);
/* Open the kernel sources into E.epfd (events-watch.c), and the watcher thread's loop. */
int events_watch_open(struct trl_error *err);
void *events_watch_main(void *arg);

#endif
