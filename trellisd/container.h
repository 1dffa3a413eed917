/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: routers as LXC containers
 *
 * Each router is an unprivileged LXC container (user namespace mapped onto
 * the slice's 65536-wide subordinate uid range) on a shared-base rootfs:
 * the host's /usr bind-mounted read-only, /bin /sbin /lib* symlinks into it,
 * and a private /etc /var (on disk, from the template) and /run /tmp (tmpfs).
 * Nothing is downloaded; a rootfs is a few dozen small files.
 *
 * Interfaces are LXC veths (lxc.net.N.veth.pair = the derived host name,
 * host end left unattached for the fast path), addresses set by LXC.
 * init.lxc is PID 1 (reaps orphans, forwards signals), the template's boot
 * command PID 2; the frr template's boot starts watchfrr, which supervises
 * zebra, staticd and the spec's daemons.  Seccomp and a capability allowlist
 * are always on.
 */
#ifndef TRELLISD_CONTAINER_H
#define TRELLISD_CONTAINER_H

#include <sys/types.h>
#include "cgroup.h"
#include "error.h"
#include "model.h"
#include "template.h"
#include "state.h"

struct container_if {
	char ifname[16];
	char host[16];
	unsigned char mac[6];
	const struct trl_addr *addrs;
	size_t n_addrs;
	unsigned mtu;		/* 0: the kernel's default */
};

struct container_spec {
	const char *lxcpath;
	char name[64];		/* container name */
	const char *node;	/* this node's name (cgroup paths) */
	const char *slice;
	const struct trl_router *router;
	const struct template *tpl;
	unsigned uid_base;
	const char *seccomp_path;
	enum cgroup_layout layout;
	struct trl_limits limits;
	struct container_if ifs[64];
	size_t n_ifs;
	pid_t init_pid;		/* set by container_start */
	long long ready_since;	/* container_poll_ready's bookkeeping */
};

/* Write rootfs and LXC config under <lxcpath>/<name>/ (root:<mapped root> 0710:
 * only root and the router's own ids reach its rootfs).  Every write into the
 * rootfs is fd-relative and follows no symlink; a rootfs left from before goes
 * first (util_rm_rf: fails, naming what is left, if it cannot all go). */
int container_prepare(const struct container_spec *cs, struct trl_error *err);
/* Rewrite only the routing configuration (FRR: daemons and frr.conf; BIRD:
 * bird.conf and spec.conf) of a prepared router from cs->router, in place
 * (slice apply; the running daemons read it on reload, reload.c). */
int container_routing_write(const struct container_spec *cs, struct trl_error *err);
/* Give every container directory under @lxcpath the owner and mode
 * container_prepare() gives (state from older versions).  Returns how many. */
int container_secure_dirs(const char *lxcpath);
/* Start the container; returns once LXC reports it RUNNING. */
int container_start(struct container_spec *cs, struct trl_error *err);
/* Is the router up: its boot command runs (and, for FRR, every daemon has its
 * pid file)?  1 ready, 0 not yet, <0 it stopped (err filled).  Non-blocking. */
int container_poll_ready(struct container_spec *cs, struct trl_error *err);
/* Run @fn(@arg) on this thread inside the network namespace of process @pid
 * (a router's init), then return to the daemon's.  Returns what @fn returns,
 * or -errno if the namespace cannot be entered. */
int container_netns_call(pid_t pid, int (*fn)(void *), void *arg);
/* accept_dad = 0 on the router's link interfaces (inside its netns), before
 * they get a carrier: their IPv6 addresses are usable the moment the link is. */
int container_set_nodad(const struct container_spec *cs, struct trl_error *err);
/* A netlink route socket inside the network namespace of process @pid. */
struct nl_sock;
int container_netns_socket(pid_t pid, struct nl_sock **out);
/* Rewrite the LXC config of a prepared router from @cs (its interfaces and
 * limits as they are now: slice apply), for its next start. */
int container_config_write(const struct container_spec *cs, struct trl_error *err);
/* Give running router @cs its interface cs->ifs[@k] now (container-if.c):
 * the veth pair, the router's end named, addressed (IPv6 without DAD) and
 * up, the host end down without ARP or IPv6 until the links step. */
int container_if_add(const struct container_spec *cs, size_t k, struct trl_error *err);
/* Running router @cs's interface cs->ifs[@k] from addresses @old to its own
 * (those in both stay; IPv6 without DAD), in place (container-if.c). */
/* Interface @k of the running router @cs takes @mtu (its link became a tunnel, or stopped being one). */
int container_if_set_mtu(const struct container_spec *cs, size_t k, unsigned mtu, struct trl_error *err);
int container_if_readdress(const struct container_spec *cs, size_t k, const struct trl_addr *old, size_t n_old,
			   struct trl_error *err);
/* Add the router's loopback addresses inside its netns. */
int container_set_loopback(const struct container_spec *cs, struct trl_error *err);
/* Stop (SIGKILL) and remove config and rootfs, and the LXC log unless @keep_log
 * (a failed create keeps it in <state>/log/ for the operator).  Idempotent.
 * Fails, naming the first entry and how many are left, if the directory
 * cannot all be removed (a mount point in it, an immutable file). */
int container_destroy(const char *lxcpath, const char *name, int keep_log, struct trl_error *err);
/* Stop (SIGKILL) a router, keeping its config and rootfs for a later
 * container_start().  Stopped already is success. */
int container_stop(const char *lxcpath, const char *name, struct trl_error *err);
/* Running, stopped, or missing (state.h); *pid = init pid or 0. */
enum router_state container_state(const char *lxcpath, const char *name, pid_t *pid);
/* How a command gets its terminal or stdio. */
struct container_io {
	int tty;		/* 0: run on @fds; 1: on a new pty from the router's devpts */
	const int *fds;		/* !tty: the client's stdin, stdout, stderr */
	int conn_fd;		/* tty: the client's connection; once the command runs,
				 * the session's process sends the pty master over it
				 * (a "pty" event) */
	/* If set: called with the helper's pid once it runs.  SIGTERM to the
	 * helper ends the session (it kills the command's process group). */
	void (*started)(void *arg, pid_t helper);
	void *started_arg;
};

/* Run argv inside the container (liblxc attach: the router's namespaces,
 * cgroup, capabilities and seccomp filter) as @io says.  Returns 0 and
 * *status (exit code, 128+signal) once the command ends, or an error.  Runs
 * in a helper process (see below), so liblxc never runs in the daemon's
 * forked copy. */
int container_exec(const char *lxcpath, const char *name, char *const argv[], const struct container_io *io,
		   int *status, struct trl_error *err);
/* container_start() and container_exec() run liblxc in trellis-lxc-helper
 * (lxc-helper.c), never in a fork of the multi-threaded daemon.  Find it:
 * next to trellisd's own executable, else at CONTAINER_HELPER (the installed
 * one).  0, or an error naming both places. */
int container_helper_init(struct trl_error *err);
/* The seccomp profile (LXC v2 syntax) every router gets. */
int container_write_seccomp(const char *path, struct trl_error *err);

#endif
