/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slice and router states: the enums and their one name table
 *
 * A slice is creating (its row is in, routers are being built), ready
 * (built and usable: every router runs its routing stack, every link is
 * attached, addresses are usable at once), or deleting (a teardown ran and
 * did not finish), or failed (a persistent slice that could not be rebuilt
 * after a host restart).  slice show says degraded for a ready slice with a
 * router that does not run.  A router is running, stopped (its container
 * exists and does not run: 'router stop', or it died) or missing (no
 * container here).  The names are what the store keeps and what the
 * protocol says; state.c holds the table.
 */
#ifndef TRELLISD_STATE_H
#define TRELLISD_STATE_H

enum slice_state {
	SLICE_CREATING,
	SLICE_READY,
	SLICE_DELETING,
	SLICE_FAILED,		/* a persistent slice whose rebuild after a host restart failed */
	SLICE_DEGRADED,		/* shown only: ready, with a router that does not run */
	SLICE_STATE_UNKNOWN,	/* a name this release does not know (a newer one's) */
};

enum router_state {
	ROUTER_RUNNING,
	ROUTER_STOPPED,
	ROUTER_MISSING,
};

const char *slice_state_name(enum slice_state s);
/* SLICE_STATE_UNKNOWN for a name not in the table. */
enum slice_state slice_state_parse(const char *name);
const char *router_state_name(enum router_state s);

#endif
