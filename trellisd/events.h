/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: the event stream (trellis events)
 *
 * What happened on this node, as it happens: slices created and deleted,
 * routers started, stopped and exited, daemons restarted by their
 * supervisor, OOM kills, pids limits hit, links taken down and up, carrier
 * lost and back, drift repaired, the daemon started.  Each event is kept in
 * a bounded in-memory ring, written to SQLite (the newest EVENTS_KEEP rows
 * are kept) by the watcher thread in batches, and pushed to followers.
 *
 * The watcher thread (one epoll) takes events from the kernel where it
 * offers them: rtnetlink RTNLGRP_LINK (carrier and oper state of the
 * slices' host veth ends), the cgroups' event files (v1: memory.oom_control
 * through cgroup.event_control + an eventfd; v2: memory.events; both:
 * pids.events, by inotify), a pidfd per router init (exit), and the proc
 * connector (exec/fork/exit of the routing daemons inside the routers: a
 * daemon that exits and is exec'd again in the same router was restarted by
 * its supervisor, watchfrr or the bird boot loop).  No polling loop.
 */
#ifndef TRELLISD_EVENTS_H
#define TRELLISD_EVENTS_H

#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "error.h"
#include "proto.h"

struct daemon;
struct op_ctx;

#define EVENTS_KEEP 10000	/* rows kept in SQLite */
#define EVENTS_RING 4096	/* events kept in memory (not yet written, or recent) */
#define EVENTS_HISTORY_MAX 1000	/* rows an events request returns at most */
#define EVENTS_QUEUE 1024	/* events queued for one follower before it is dropped */
#define EVENTS_FOLLOWERS 64	/* followers at once in all */
#define EVENTS_FOLLOWERS_PER_USER 8	/* followers of one uid (root: no own limit) */

/* Open the watcher's sources and start its thread (after the store exists). */
int events_start(struct daemon *d, struct trl_error *err);

/* Record an event (any thread; never waits for I/O).  @slice and @router may
 * be NULL; @owner is the slice's owner uid (0 for node events: root only). */
void events_emit(struct daemon *d, const char *slice, uid_t owner, const char *router, const char *kind,
		 const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The same for an event of @slice whose owner is in the store @st (the caller's). */
struct store;
void events_emit_st(struct daemon *d, struct store *st, const char *slice, const char *router, const char *kind,
		    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Watch router @router of @slice, running with init @pid: its exit, its
 * cgroup's OOM and pids events, its daemons, its host veth ends.  Emits
 * "router-started". */
void events_router_watch(struct daemon *d, const char *slice, uid_t owner, const char *router, pid_t pid);
/* Stop watching @slice's routers before they are stopped on purpose; emits
 * "router-stopped" for each (so a deliberate stop is not an exit). */
void events_slice_unwatch(struct daemon *d, const char *slice);
/* The same for one router of @slice (router stop/restart, apply's restarts). */
void events_router_unwatch(struct daemon *d, const char *slice, const char *router);
/* After start-up reconciliation: watch every running router of this node's
 * slices; returns how many. */
int events_adopt(struct daemon *d);

/* The events op (see proto.h); with follow it returns when the client leaves. */
int events_request(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err);

/* Between events.c and events-follow.c. */
struct follower;
struct store_event;
/* Register a follower of @uid (capped); *snapshot = the last event id before it. */
int events_follower_add(uid_t uid, struct follower **out, int64_t *snapshot, struct trl_error *err);
void events_follower_remove(struct follower *f);
/* Readable when events are queued for @f. */
int events_follower_fd(struct follower *f);
/* Take up to @max queued events; *dropped > 0 once the queue overflowed. */
size_t events_follower_take(struct follower *f, struct store_event *out, size_t max, uint64_t *dropped);
/* The last event id given out. */
int64_t events_snapshot(void);
/* Wait (at most @ms) until the events up to @id are in SQLite. */
int events_wait_written(int64_t id, int ms);

#endif
