/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: tenant policy (trellisd.conf tenant-max-*, tenant-default-*)
 *
 * A tenant is any slice owner but root.  What a tenant's slices may hold on
 * a node is the operator's: at most tenant-max-slices slices and
 * tenant-max-routers routers here, no router above tenant-max-cpu, -memory,
 * -pids or -disk, and a router that declares no limit (itself or through
 * its slice's router-defaults:) gets tenant-default-cpu, -memory, -pids and
 * -disk.  Root's own slices are bound by none of it.
 *
 * Checks run before anything is built, so a refusal leaves nothing behind;
 * the defaults are written into the parsed spec's routers, so every later
 * step (cgroups, admission, show) sees the limits the router really has.
 */
#ifndef TRELLISD_TENANT_H
#define TRELLISD_TENANT_H

#include "conf.h"
#include "error.h"
#include "model.h"

/*
 * Give the routers of tenant slice @s the defaults for what they leave
 * unset (never above the slice's own aggregate limits:), then check every
 * router against the maxima.  @filename prefixes errors:
 *   spec.yaml: routers.r1.limits.memory: 8G exceeds the tenant maximum 1G (trellisd.conf tenant-max-memory)
 */
int tenant_limits_apply(const struct config *c, struct trl_slice *s, const char *filename, struct trl_error *err);

/*
 * Would a tenant that already has @slices slices and @routers routers on
 * node @node stay within tenant-max-slices and tenant-max-routers with
 * @s (its @new_routers routers here) added?  -TRL_ELIMIT naming the key.
 */
int tenant_count_check(const struct config *c, const char *node, unsigned slices, unsigned routers,
		       const struct trl_slice *s, unsigned new_routers, struct trl_error *err);

/*
 * `slice set` on a tenant's router: may the router's limits become @next
 * (only @fields, CGROUP_F_* bits, change)?  No limit the policy has a
 * maximum for may go above it or be lifted.
 */
int tenant_set_check(const struct config *c, const char *router, const struct trl_limits *next, int cpu,
		     int memory, int pids, struct trl_error *err);

#endif
