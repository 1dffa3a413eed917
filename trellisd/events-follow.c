/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: the events op: history and followers
 *
 * A request reads the kept history from SQLite; with "follow" the
 * connection's thread then stays and streams.  Order without gaps or
 * doubles: the follower is registered first (its queue takes every event
 * after the snapshot id), the watcher is asked to write everything up to the
 * snapshot, the history is read up to that id, sent, and then the queue.
 * A follower is a connection (the control socket's caps count it) and also
 * one of at most EVENTS_FOLLOWERS (EVENTS_FOLLOWERS_PER_USER per uid but
 * root's).  Its queue holds EVENTS_QUEUE events; a follower that falls that
 * far behind (or whose socket stays full for the send timeout) is ended
 * with an error naming how many events it lost, never waited for.
 * Visibility: root sees everything; another uid the events of the slices
 * it owns or is the ssh account of (access.c's rule for ACCESS_SEE),
 * checked per event; node events (daemon started, node up/down) are root's.
 */
#define LOG_MODULE "events"
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "events.h"
#include "log.h"
#include "store.h"
#include "trellisd.h"

static int visible(const struct op_ctx *oc, const struct store_event *e, const char *slice)
{
	if (slice && strcmp(e->slice, slice))
		return 0;
	if (caller_is_privileged(&oc->who))
		return 1;
	if (!e->slice[0])
		return 0;
	return e->owner == oc->who.uid || ssh_account_is(oc->d, e->slice, oc->who.uid);
}

static json_t *event_json(struct daemon *d, const struct store_event *e)
{
	return json_pack("{s:I, s:f, s:s, s:s?, s:s?, s:s, s:s}", "id", (json_int_t)e->id, "time", e->time, "node",
			 d->node_name, "slice", e->slice[0] ? e->slice : NULL, "router",
			 e->router[0] ? e->router : NULL, "kind", e->kind, "message", e->message);
}

/* Send one event to a follower; -1 when it cannot take it. */
static int send_event(struct op_ctx *oc, const struct store_event *e)
{
	json_t *m = json_pack("{s:s, s:o}", "event", "event", "record", event_json(oc->d, e));
	int r = 0;

	pthread_mutex_lock(oc->conn_lock);
	if (!m || *oc->conn_gone || proto_send(oc->conn_fd, m, NULL, 0) < 0) {
		*oc->conn_gone = 1;
		r = -1;
	}
	pthread_mutex_unlock(oc->conn_lock);
	json_decref(m);
	return r;
}

static int follow(struct op_ctx *oc, struct follower *f, const char *slice, struct trl_error *err)
{
	static const size_t batch = 64;
	struct store_event *evs = calloc(batch, sizeof(*evs));

	if (!evs)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	for (;;) {
		struct pollfd p[2] = { { .fd = oc->conn_fd, .events = POLLIN | POLLRDHUP },
				       { .fd = events_follower_fd(f), .events = POLLIN } };
		uint64_t dropped = 0;
		size_t n;

		if (oc->d->stopping) {
			free(evs);
			return trl_error_set(err, TRL_EUNAVAIL, "trellisd is stopping");
		}
		if (poll(p, 2, 1000) < 0 && errno != EINTR)
			break;
		if (p[0].revents) {
			/* The client sends nothing after its request: data or hang-up both end it. */
			pthread_mutex_lock(oc->conn_lock);
			*oc->conn_gone = 1;
			pthread_mutex_unlock(oc->conn_lock);
			break;
		}
		while ((n = events_follower_take(f, evs, batch, &dropped)) > 0) {
			for (size_t i = 0; i < n; i++)
				if (visible(oc, &evs[i], slice) && send_event(oc, &evs[i]) < 0)
					goto gone;
		}
		if (dropped) {
			free(evs);
			log_info("event follower uid %u pid %d fell behind: %llu events lost, ended", (unsigned)oc->who.uid,
				 (int)oc->who.pid, (unsigned long long)dropped);
			return trl_error_set(err, TRL_ELIMIT,
					     "events: this follower fell behind: %llu events did not fit its queue of %u; follow again with --since",
					     (unsigned long long)dropped, EVENTS_QUEUE);
		}
	}
	free(evs);
	return 0;
gone:
	free(evs);
	log_info("event follower uid %u pid %d stopped reading: ended", (unsigned)oc->who.uid, (int)oc->who.pid);
	return 0;
}

int events_request(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	struct follower *f = NULL;
	struct store *st = NULL;
	struct store_event *hist = NULL;
	size_t n = 0;
	int64_t snap;
	json_t *arr = NULL;
	int r;

	if (req->follow) {
		if ((r = events_follower_add(oc->who.uid, &f, &snap, err)) < 0)
			return r;
	} else {
		snap = events_snapshot();
	}
	if (events_wait_written(snap, 3000) < 0)
		log_warn("the history is not all written yet: the answer may miss the newest");
	if ((r = store_open(oc->d->db_path, &st, err)) < 0)
		goto out;
	if (store_events_query(st, snap, (double)req->since, req->name, oc->who.uid, EVENTS_HISTORY_MAX, &hist, &n) < 0) {
		r = trl_error_set(err, TRL_EFAILED, "state store: cannot read the events");
		goto out;
	}
	store_close(st);
	st = NULL;
	if (!f) {
		arr = json_array();
		for (size_t i = 0; arr && i < n; i++)
			if (visible(oc, &hist[i], req->name))
				json_array_append_new(arr, event_json(oc->d, &hist[i]));
		*result = json_pack("{s:o}", "events", arr);
		r = *result ? 0 : trl_error_set(err, TRL_EFAILED, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (visible(oc, &hist[i], req->name) && send_event(oc, &hist[i]) < 0) {
			log_info("event follower uid %u pid %d stopped reading: ended", (unsigned)oc->who.uid, (int)oc->who.pid);
			r = 0;
			goto out;
		}
	free(hist);
	hist = NULL;
	r = follow(oc, f, req->name, err);
	if (r == 0)
		*result = json_pack("{s:b}", "ended", 1);
out:
	free(hist);
	store_close(st);
	events_follower_remove(f);
	return r;
}
