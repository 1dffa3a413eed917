/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: routing config reload (reload.c)
 */
#ifndef TRELLISD_RELOAD_H
#define TRELLISD_RELOAD_H

#include <stddef.h>
#include "container.h"
#include "error.h"

/* The vtysh commands that turn FRR config @old_config into @new_config
 * (either may be NULL): "configure terminal", negations of what is gone,
 * the new and changed blocks, "end".  *out is a malloc'd NULL-terminated
 * array (free with reload_commands_free).  0, -ENOMEM, -E2BIG (too long). */
int reload_frr_commands(const char *old_config, const char *new_config, char ***out, size_t *n_out);
void reload_commands_free(char **v, size_t n);

/* Give running router @cs its routing config cs->router->config, which was
 * @old_config: rewrite the files, then vtysh (FRR) or birdc configure (BIRD).
 * Fails, naming the router and what the daemon said, if the daemon refuses. */
int reload_router(const struct container_spec *cs, const char *old_config, struct trl_error *err);

#endif
