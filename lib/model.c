/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* DOC: object model helpers (see model.h). */
#include <string.h>
#include <stdlib.h>
#include "model.h"

void trl_slice_free(struct trl_slice *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_routers; i++) {
		free(s->routers[i].config);
		free(s->routers[i].config_file);
	}
	free(s->routers);
	free(s->links);
	free(s->description);
	free(s);
}

struct trl_router *trl_slice_router(const struct trl_slice *s, const char *name)
{
	for (size_t i = 0; i < s->n_routers; i++)
		if (!strcmp(s->routers[i].name, name))
			return &s->routers[i];
	return NULL;
}

struct trl_limits trl_router_limits(const struct trl_slice *s, const struct trl_router *r)
{
	struct trl_limits l = r->limits;

	if (l.cpu == 0)
		l.cpu = s->router_defaults.cpu;
	if (!l.cpu_weight)
		l.cpu_weight = s->router_defaults.cpu_weight;
	if (!l.memory)
		l.memory = s->router_defaults.memory;
	if (!l.pids)
		l.pids = s->router_defaults.pids;
	if (!l.disk)
		l.disk = s->router_defaults.disk;
	return l;
}
