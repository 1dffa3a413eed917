/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slices: delete
 *
 * slice.delete: tear the slice down from its plan (slice-teardown.c), then
 * remove its row, its ssh account and its uid range claim.  A teardown that could not remove everything keeps the row (state
 * 'deleting') so a retry or the next start finishes it.
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

/* A slice whose stored spec the current validator refuses: from its inventory
 * (or, stored by a release before the inventory, one guessed from its rows). */
static int delete_from_inventory(struct op_ctx *oc, struct store *st, const struct store_slice *row,
				 struct trl_error *err)
{
	struct daemon *d = oc->d;
	json_t *inv = NULL;
	int r;

	if (store_inventory_get(st, row->name, &inv, NULL) < 0) {
		inv = inventory_guess(d, st, row);
		log_info("slice '%s': stored spec no longer parses and no inventory was recorded: removing what its rows and names show",
			 row->name);
	} else {
		log_info("slice '%s': stored spec no longer parses: removing what its inventory lists", row->name);
	}
	if (!inv)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	store_slice_set_state(st, row->name, SLICE_DELETING, NULL);
	op_progress(oc, "delete", "removing %zu routers and %zu links (from the inventory)",
		    json_array_size(json_object_get(inv, "containers")), json_array_size(json_object_get(inv, "links")));
	r = slice_teardown_inventory(d, row->name, inv, err);
	json_decref(inv);
	if (r < 0) {
		events_emit(d, row->name, row->owner_uid, NULL, "slice-delete-incomplete", "%s", err->msg);
		return trl_error_prefix(err, "slice '%s': delete incomplete", row->name);
	}
	ssh_account_remove(d, row->name);
	if ((r = store_slice_remove(st, row->name, err)) < 0)
		return r;
	claim_uid_release(d->node_name, row->name, row->uid_base);
	events_emit(d, row->name, row->owner_uid, NULL, "slice-deleted", "slice '%s' deleted (from its inventory)",
		    row->name);
	log_info("slice '%s' deleted", row->name);
	return 0;
}

int slice_delete(struct op_ctx *oc, const char *name, json_t **result, struct trl_error *err)
{
	struct daemon *d = oc->d;
	struct store *st = NULL;
	struct store_slice row;
	struct trl_slice *s = NULL;
	struct plan p = { 0 };
	unsigned uid_base;
	uid_t owner;
	int r;

	/* A create of this slice in progress is cancelled (it rolls back), not
	 * waited out: by whoever may delete the slice (its row is in from the
	 * allocate step on). */
	if (store_open(d->db_path, &st, NULL) == 0) {
		if (store_slice_get(st, name, &row, NULL) == 0) {
			if (access_check(oc, access_rule(PROTO_OP_SLICE_DELETE), &row, NULL) == 0 && row.state == SLICE_CREATING &&
			    slice_op_cancel(name))
				op_progress(oc, "delete", "cancelling the create of slice '%s' in progress", name);
			store_slice_release(&row);
		}
		store_close(st);
		st = NULL;
	}
	slice_op_begin(d, name);
	if ((r = store_open(d->db_path, &st, err)) < 0)
		goto out;
	r = slice_load(st, name, &row, &s, err);
	if (r < 0 && r != -TRL_ENOTFOUND && store_slice_get(st, name, &row, NULL) == 0) {
		/* The stored spec no longer parses (an older release's): the inventory says what to remove. */
		trl_error_clear(err);
		r = access_check(oc, access_rule(PROTO_OP_SLICE_DELETE), &row, err);
		if (r == 0)
			r = delete_from_inventory(oc, st, &row, err);
		store_slice_release(&row);
		if (r == -TRL_ENOTFOUND) {
			*result = json_pack("{s:s, s:b}", "name", name, "removed", 0);
			trl_error_clear(err);
			r = 0;
		} else if (r == 0) {
			*result = json_pack("{s:s, s:b}", "name", name, "removed", 1);
		}
		goto out;
	}
	if (r == 0 && (r = access_check(oc, access_rule(PROTO_OP_SLICE_DELETE), &row, err)) < 0) {
		store_slice_release(&row);
		trl_slice_free(s);
		s = NULL;
	}
	if (r == -TRL_ENOTFOUND) {	/* missing, or not the caller's: the same answer */
		*result = json_pack("{s:s, s:b}", "name", name, "removed", 0);
		trl_error_clear(err);
		r = 0;
		goto out;
	}
	if (r < 0)
		goto out;
	store_slice_set_state(st, name, SLICE_DELETING, NULL);
	op_progress(oc, "delete", "removing %zu router%s and %zu link%s", s->n_routers, s->n_routers == 1 ? "" : "s",
		    s->n_links, s->n_links == 1 ? "" : "s");
	uid_base = row.uid_base;
	owner = row.owner_uid;
	r = plan_build(d, s, row.uid_base, row.placement, 0, &p, err);
	s = NULL;
	store_slice_release(&row);
	if (r < 0)
		goto out;
	plan_load_links(st, &p);
	if ((r = slice_teardown(&p, err)) < 0) {
		/* Still 'deleting': another delete (or the next start) finishes it. */
		events_emit(d, name, owner, NULL, "slice-delete-incomplete", "%s", err->msg);
		log_error("slice '%s': delete incomplete: %s", name, err->msg);
		trl_error_prefix(err, "slice '%s': delete incomplete", name);
		snprintf(err->msg + strlen(err->msg), sizeof(err->msg) - strlen(err->msg),
			 " (the slice stays, state 'deleting': delete it again once that is gone)");
		goto out;
	}
	ssh_account_remove(d, name);
	if ((r = store_slice_remove(st, name, err)) < 0)
		goto out;
	claim_uid_release(d->node_name, name, uid_base);
	events_emit(d, name, owner, NULL, "slice-deleted", "slice '%s' deleted", name);
	log_info("slice '%s' deleted", name);
	*result = json_pack("{s:s, s:b}", "name", name, "removed", 1);
out:
	plan_free(&p);
	trl_slice_free(s);
	store_close(st);
	slice_op_end(d, name);
	return r;
}
