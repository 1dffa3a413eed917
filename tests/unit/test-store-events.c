/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for the events table of trellisd/store.c (events.c's history):
 * a fresh store keeps the newest EVENTS_KEEP rows however many are written,
 * in batches; the query returns the newest @limit at or below an id, oldest
 * first, filtered by time, by slice, and (for a uid other than root) by the
 * slice's owner or its ssh account; an event of a deleted slice stays its
 * owner's.  Runs without root on a temporary SQLite file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tap.h"
#include "events.h"
#include "store.h"

static struct store_event ev(int64_t id, double t, const char *slice, uid_t owner, const char *kind)
{
	struct store_event e = { .id = id, .time = t, .owner = owner };

	snprintf(e.slice, sizeof(e.slice), "%s", slice);
	snprintf(e.kind, sizeof(e.kind), "%s", kind);
	snprintf(e.message, sizeof(e.message), "event %lld", (long long)id);
	return e;
}

int main(void)
{
	char dir[] = "/tmp/trellis-test-store-events.XXXXXX", path[128];
	struct trl_error err = { 0 };
	struct store *st = NULL;
	struct store_event *batch, *out = NULL;
	size_t n = 0;
	int64_t max = 0;

	plan(19);
	if (!mkdtemp(dir))
		skip_all("mkdtemp failed");
	snprintf(path, sizeof(path), "%s/trellis.db", dir);
	ok(store_open(path, &st, &err) == 0, "store opens: %s", err.msg);

	/* 12500 events in batches of 500: slice 'a' owned by 1000 (even ids), 'b' by 1001 (odd). */
	batch = calloc(500, sizeof(*batch));
	for (int64_t base = 1; base <= 12500; base += 500) {
		for (int i = 0; i < 500; i++) {
			int64_t id = base + i;

			batch[i] = ev(id, 1000.0 + (double)id, id % 2 ? "b" : "a", id % 2 ? 1001 : 1000, "k");
		}
		if (store_events_put(st, batch, 500, EVENTS_KEEP) < 0)
			break;
	}
	ok(store_events_max_id(st, &max) == 0 && max == 12500, "the newest id is 12500 (got %lld)", (long long)max);
	ok(store_events_query(st, max, 0, NULL, 0, 20000, &out, &n) == 0, "query everything");
	is_int((long long)n, EVENTS_KEEP, "  only the newest %d rows are kept", EVENTS_KEEP);
	ok(n && out[0].id == 12500 - EVENTS_KEEP + 1 && out[n - 1].id == 12500, "  oldest first, %lld..%lld",
	   n ? (long long)out[0].id : 0LL, n ? (long long)out[n - 1].id : 0LL);
	free(out);

	ok(store_events_query(st, 12000, 0, NULL, 0, 10, &out, &n) == 0 && n == 10 && out[0].id == 11991 &&
		   out[9].id == 12000,
	   "the newest 10 at or below id 12000");
	free(out);
	ok(store_events_query(st, max, 1000.0 + 12491, NULL, 0, 100, &out, &n) == 0 && n == 10 && out[0].id == 12491,
	   "since: the events at or after a time (%zu)", n);
	free(out);
	ok(store_events_query(st, max, 0, "a", 0, 100, &out, &n) == 0 && n == 100, "slice 'a': 100 of its events");
	{
		int only_a = 1;

		for (size_t i = 0; i < n; i++)
			only_a &= !strcmp(out[i].slice, "a") && out[i].owner == 1000;
		ok(only_a, "  all of slice 'a', owner 1000");
	}
	free(out);

	/* uid filter: the owner's slices, or those it is the ssh account of; root: all. */
	ok(store_events_query(st, max, 1000.0 + 12491, NULL, 1000, 100, &out, &n) == 0 && n == 5,
	   "uid 1000 gets its own 5 of the last 10");
	free(out);
	ok(store_events_query(st, max, 1000.0 + 12491, NULL, 4242, 100, &out, &n) == 0 && n == 0,
	   "a stranger gets none");
	free(out);
	ok(store_events_query(st, max, 1000.0 + 12491, "a", 1001, 100, &out, &n) == 0 && n == 0,
	   "another tenant naming slice 'a' gets none");
	free(out);
	/* the ssh account's view needs the slice row (ssh_accounts references slices) */
	{
		struct store_slice s = { .owner_uid = 1001 };

		snprintf(s.name, sizeof(s.name), "b");
		snprintf(s.owner, sizeof(s.owner), "u1001");
		s.state = SLICE_READY;
		s.spec = "slice: b\n";
		s.filename = "b.yaml";
		s.files = json_object();
		ok(store_slice_insert(st, &s, 65536, 65536 * 4, NULL, 0, &err) == 0, "slice 'b' inserted: %s", err.msg);
		json_decref(s.files);
		ok(store_ssh_account_set(st, "b", "b", 5555, &err) == 0, "ssh account of 'b' is uid 5555");
	}
	ok(store_events_query(st, max, 1000.0 + 12491, NULL, 5555, 100, &out, &n) == 0 && n == 5 &&
		   !strcmp(out[0].slice, "b"),
	   "the ssh account of 'b' gets b's 5");
	free(out);
	ok(store_events_query(st, max, 0, NULL, 0, 100, &out, &n) == 0 && n == 100, "root gets everything");
	free(out);
	/* a deleted slice's events stay, and stay its owner's */
	ok(store_slice_remove(st, "b", &err) == 0, "slice 'b' removed");
	ok(store_events_query(st, max, 1000.0 + 12491, NULL, 1001, 100, &out, &n) == 0 && n == 5,
	   "b's owner still gets b's events after the delete");
	free(out);
	ok(store_events_query(st, max, 1000.0 + 12491, NULL, 5555, 100, &out, &n) == 0 && n == 0,
	   "its ssh account (gone with the slice) no longer does");
	free(out);

	free(batch);
	store_close(st);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		fprintf(stderr, "# could not remove %s\n", dir);
	return done();
}
