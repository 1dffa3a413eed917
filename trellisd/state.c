/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slice and router states: the name table (see state.h)
 */
#include <string.h>
#include "state.h"

static const char *const slice_names[] = {
	[SLICE_CREATING] = "creating",
	[SLICE_READY] = "ready",
	[SLICE_DELETING] = "deleting",
	[SLICE_FAILED] = "failed",
	[SLICE_DEGRADED] = "degraded",
	[SLICE_STATE_UNKNOWN] = "unknown",
};

static const char *const router_names[] = {
	[ROUTER_RUNNING] = "running",
	[ROUTER_STOPPED] = "stopped",
	[ROUTER_MISSING] = "missing",
};

const char *slice_state_name(enum slice_state s)
{
	return (unsigned)s < sizeof(slice_names) / sizeof(slice_names[0]) ? slice_names[s] : "unknown";
}

enum slice_state slice_state_parse(const char *name)
{
	for (unsigned i = 0; i < SLICE_STATE_UNKNOWN; i++)
		if (name && !strcmp(name, slice_names[i]))
			return (enum slice_state)i;
	return SLICE_STATE_UNKNOWN;
}

const char *router_state_name(enum router_state s)
{
	return (unsigned)s < sizeof(router_names) / sizeof(router_names[0]) ? router_names[s] : "missing";
}
