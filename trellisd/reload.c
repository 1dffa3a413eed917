/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: routing config reload: a router's new config without a restart
 *
 * slice apply changes a running router's routing config in place: the new
 * files are written into its rootfs (container_routing_write) and the
 * routing daemons told.
 *
 * FRR: the difference between the old and the new config as vtysh commands
 * (frr-diff.c), run as one vtysh session inside the router (vtysh -c ...
 * -c ...); a command FRR refuses fails the reload.
 *
 * BIRD: bird.conf and spec.conf are rewritten, then 'birdc configure'
 * (BIRD reconfigures protocols in place where it can).
 */
#define LOG_MODULE "reload"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "container.h"
#include "escape.h"
#include "log.h"
#include "reload.h"
#include "util.h"

/* Run @argv in the router, its output into @why (trimmed). */
static int run_in(const struct container_spec *cs, char *const argv[], int *status, char *why, size_t len,
		  struct trl_error *err)
{
	int out = memfd_create("reload", MFD_CLOEXEC), null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int fds[3] = { null, out, out };
	struct container_io io = { .tty = 0, .fds = fds, .conn_fd = -1 };
	ssize_t n;
	int r;

	why[0] = '\0';
	if (out < 0 || null < 0) {
		r = trl_error_errno(err, TRL_EFAILED, errno, "memfd");
		goto out;
	}
	r = container_exec(cs->lxcpath, cs->name, argv, &io, status, err);
	if (r == 0 && (n = pread(out, why, len - 1, 0)) > 0) {
		why[n] = '\0';
		while (n > 0 && (why[n - 1] == '\n' || why[n - 1] == ' '))
			why[--n] = '\0';
	}
out:
	if (out >= 0)
		close(out);
	if (null >= 0)
		close(null);
	return r;
}

int reload_router(const struct container_spec *cs, const char *old_config, struct trl_error *err)
{
	const char *router = cs->router->name;
	char why[1024];
	int status = 0, r;

	if (!cs->tpl->routing_frr && !cs->tpl->routing_bird)
		return trl_error_set(err, TRL_EUNAVAIL, "router '%s': template '%s' has no routing daemon to reload",
				     router, cs->tpl->name);
	if ((r = container_routing_write(cs, err)) < 0)
		return trl_error_prefix(err, "router '%s'", router);
	if (cs->tpl->routing_bird) {
		char *argv[] = { "birdc", "configure", NULL };

		if ((r = run_in(cs, argv, &status, why, sizeof(why), err)) < 0)
			return trl_error_prefix(err, "router '%s': birdc configure", router);
		/* birdc exits 0 on a refused config too: its reply says (0003 Reconfigured, 0004 in progress). */
		if (status != 0 || !strstr(why, "econfigur") || strstr(why, "rror"))
			return trl_error_set(err, TRL_EFAILED, "router '%s': birdc configure: %s", router,
					     ESC_TEXT(why[0] ? why : "failed"));
		return 0;
	}
	{
		char **cmds = NULL, **argv;
		size_t n = 0;

		if ((r = reload_frr_commands(old_config, cs->router->config, &cmds, &n)) < 0)
			return trl_error_errno(err, r == -E2BIG ? TRL_ELIMIT : TRL_EFAILED, -r,
					       "router '%s': config reload", router);
		argv = calloc(2 * n + 2, sizeof(*argv));
		if (!argv) {
			reload_commands_free(cmds, n);
			return trl_error_set(err, TRL_EFAILED, "out of memory");
		}
		argv[0] = "vtysh";
		for (size_t i = 0; i < n; i++) {
			argv[1 + 2 * i] = "-c";
			argv[2 + 2 * i] = cmds[i];
		}
		log_debug("router '%s': vtysh with %zu commands", router, n);
		r = run_in(cs, argv, &status, why, sizeof(why), err);
		free(argv);
		reload_commands_free(cmds, n);
		if (r < 0)
			return trl_error_prefix(err, "router '%s': vtysh", router);
		if (status != 0)
			return trl_error_set(err, TRL_EFAILED, "router '%s': FRR refused the new config (vtysh exit %d): %s",
					     router, status, ESC_TEXT(why[0] ? why : "no message"));
	}
	return 0;
}
