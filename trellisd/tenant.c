/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: tenant policy
 *
 * See tenant.h.  Four fields (cpu, memory, pids, disk) go through one table
 * so defaults, maxima and messages stay alike; cpu-weight is a share among
 * siblings, not a bound, and is left to the tenant.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "tenant.h"
#include "util.h"

enum field { F_CPU, F_MEMORY, F_PIDS, F_DISK };

static const char *const field_name[] = { "cpu", "memory", "pids", "disk" };

static int is_set(const struct trl_limits *l, enum field f)
{
	switch (f) {
	case F_CPU:
		return l->cpu > 0;
	case F_MEMORY:
		return l->memory != 0;
	case F_PIDS:
		return l->pids != 0;
	case F_DISK:
		return l->disk != 0;
	}
	return 0;
}

/* @dst's field @f becomes the smaller of @v's (set) and @cap's (if set). */
static void give(struct trl_limits *dst, enum field f, const struct trl_limits *v, const struct trl_limits *cap)
{
	switch (f) {
	case F_CPU:
		dst->cpu = cap->cpu > 0 && cap->cpu < v->cpu ? cap->cpu : v->cpu;
		break;
	case F_MEMORY:
		dst->memory = cap->memory && cap->memory < v->memory ? cap->memory : v->memory;
		break;
	case F_PIDS:
		dst->pids = cap->pids && cap->pids < v->pids ? cap->pids : v->pids;
		break;
	case F_DISK:
		dst->disk = v->disk;	/* not a cgroup: the slice's aggregate has none */
		break;
	}
}

int tenant_limits_apply(const struct config *c, struct trl_slice *s, const char *filename, struct trl_error *err)
{
	for (size_t i = 0; i < s->n_routers; i++) {
		struct trl_router *r = &s->routers[i];
		struct trl_limits eff = trl_router_limits(s, r);

		for (enum field f = F_CPU; f <= F_DISK; f++) {
			char a[64], b[64];

			if (!is_set(&eff, f) && is_set(&c->tenant_default, f)) {
				give(&r->limits, f, &c->tenant_default, &s->limits);
				give(&eff, f, &c->tenant_default, &s->limits);
			}
			if (!config_limit_above(&eff, &c->tenant_max, field_name[f], a, sizeof(a), b, sizeof(b)))
				continue;
			/* Name the spec key the value came from. */
			if (is_set(&r->limits, f))
				return trl_error_set(err, TRL_ELIMIT,
						     "%s: routers.%s.limits.%s: %s exceeds the tenant maximum %s (trellisd.conf tenant-max-%s)",
						     filename, r->name, field_name[f], a, b, field_name[f]);
			return trl_error_set(err, TRL_ELIMIT,
					     "%s: router-defaults.limits.%s: %s (router '%s') exceeds the tenant maximum %s (trellisd.conf tenant-max-%s)",
					     filename, field_name[f], a, r->name, b, field_name[f]);
		}
	}
	return 0;
}

int tenant_count_check(const struct config *c, const char *node, unsigned slices, unsigned routers,
		       const struct trl_slice *s, unsigned new_routers, struct trl_error *err)
{
	if (c->tenant_max_slices && slices + 1 > c->tenant_max_slices)
		return trl_error_set(err, TRL_ELIMIT,
				     "slice '%s': you have %u slices on node '%s', the tenant maximum (trellisd.conf tenant-max-slices)",
				     s->name, slices, node);
	if (c->tenant_max_routers && routers + new_routers > c->tenant_max_routers)
		return trl_error_set(err, TRL_ELIMIT,
				     "slice '%s': %u routers beside your %u on node '%s' exceed the tenant maximum %u (trellisd.conf tenant-max-routers)",
				     s->name, new_routers, routers, node, c->tenant_max_routers);
	return 0;
}

int tenant_set_check(const struct config *c, const char *router, const struct trl_limits *next, int cpu,
		     int memory, int pids, struct trl_error *err)
{
	const int changes[] = { cpu, memory, pids, 0 };

	for (enum field f = F_CPU; f <= F_PIDS; f++) {
		char a[64], b[64];

		if (!changes[f] || !is_set(&c->tenant_max, f))
			continue;
		if (!is_set(next, f))
			return trl_error_set(err, TRL_ELIMIT,
					     "%s: router '%s' may not go without a %s limit: the tenant maximum applies (trellisd.conf tenant-max-%s)",
					     field_name[f], router, field_name[f], field_name[f]);
		if (config_limit_above(next, &c->tenant_max, field_name[f], a, sizeof(a), b, sizeof(b)))
			return trl_error_set(err, TRL_ELIMIT,
					     "%s: router '%s': %s exceeds the tenant maximum %s (trellisd.conf tenant-max-%s)",
					     field_name[f], router, a, b, field_name[f]);
	}
	return 0;
}
