/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: bridge - loader and API for the shortbridge fast path
 *
 * The BPF side (shortbridge.bpf.c) is built into a bpftool skeleton
 * (shortbridge.skel.h in the build directory).  This file:
 *
 *  - opens it against a pin directory: the two maps get libbpf pin paths
 *    (reused when pinned and compatible, pinned after creation otherwise);
 *    the program is reused from its pin when that pinned program still
 *    references exactly those maps (autoload is then switched off so nothing
 *    is loaded twice), else loaded and pinned.  So a restarted daemon talks
 *    to the very program and maps that keep forwarding meanwhile;
 *  - joins host ends: sb_ports entries both ways first, then clsact + a
 *    direct-action cls_bpf filter (fixed handle/priority, BPF_TC_F_REPLACE)
 *    on each end, so there is no window where a joined port drops;
 *  - tears down idempotently, recovering a vanished end's ifindex from the
 *    surviving end's entry, and prunes entries of vanished interfaces;
 *  - probes support in a throw-away network namespace (a thread that
 *    unshares CLONE_NEWNET), so the probe never touches a real interface.
 *
 * libbpf's output goes to our log.  Warnings that are expected on idempotent
 * paths (clsact already there, nothing to detach) are demoted to debug while
 * such a call runs (libbpf_quiet, per thread).
 */
#define LOG_MODULE "bridge"

#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bridge.h"
#include "log.h"
#include "util.h"
#include "shortbridge.skel.h"

/* Mirrors of the layouts in shortbridge.bpf.c (checked against the BTF-sized
 * map definitions at open time). */
#define SB_F_PEER 0x1u
struct sb_port {
	uint32_t peer_ifindex;
	uint32_t flags;
};
struct sb_counters {
	uint64_t packets;
	uint64_t bytes;
	uint64_t drops;
};
_Static_assert(BRIDGE_F_PEER == SB_F_PEER, "flag values are shared with the BPF side");

/* Our filter's identity in each clsact ingress: fixed so that attach can
 * replace it in place and detach can remove exactly it. */
#define TC_HANDLE 0x5b
#define TC_PRIO 1

#define BPFFS "/sys/fs/bpf"
#define PIN_PROG "sb_ingress"
#define PIN_PORTS "sb_ports"
#define PIN_STATS "sb_stats"

struct bridge {
	struct shortbridge *skel;
	int prog_fd;	  /* attach with this one */
	int own_prog_fd;  /* from bpf_obj_get, or -1 when the skeleton owns prog_fd */
	int ports_fd;
	int stats_fd;
};

static __thread int libbpf_quiet;

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t n;

	if (level == LIBBPF_DEBUG && log_get_level() > LOG_LVL_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (level == LIBBPF_WARN && !libbpf_quiet)
		log_warn("%s", buf);
	else
		log_debug("%s", buf);
	return 0;
}

static void libbpf_log_install(void)
{
	libbpf_set_print(libbpf_log);
}

static void libbpf_log_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, libbpf_log_install);
}

static int pin_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool on_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && (unsigned long)st.f_type == BPF_FS_MAGIC;
}

/* Mount bpffs on /sys/fs/bpf when the pin dir lives there and nothing is
 * mounted yet, then create the pin dir and make sure it is on bpffs. */
static int pin_dir_prepare(const char *pin_dir, struct trl_error *err)
{
	int r;

	if (!strncmp(pin_dir, BPFFS "/", strlen(BPFFS "/")) && !on_bpffs(BPFFS)) {
		if (mkdir(BPFFS, 0700) < 0 && errno != EEXIST)
			return trl_error_errno(err, TRL_EFAILED, errno, "create '%s'", BPFFS);
		if (mount("bpf", BPFFS, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") < 0)
			return trl_error_errno(err, TRL_EUNAVAIL, errno, "mount bpffs on '%s'", BPFFS);
		log_debug("Mounted bpffs on '%s'", BPFFS);
	}
	r = util_mkdir_p(pin_dir, 0700);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "create pin directory '%s'", pin_dir);
	if (!on_bpffs(pin_dir))
		return trl_error_set(err, TRL_EINVALID, "pin directory '%s' is not on a bpf filesystem",
				     pin_dir);
	return 0;
}

/* Kernel id of the map behind @fd. */
static int map_id(int fd, uint32_t *id)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
		return -errno;
	*id = info.id;
	return 0;
}

/*
 * The pinned program, if it is a sched_cls program that uses exactly the
 * pinned maps (then it is what keeps forwarding and we must keep using it).
 * A stale program pin is removed so the fresh program can take its place.
 * Returns an fd, or -1 when there is nothing to reuse.
 */
static int pinned_prog_get(const char *dir)
{
	char path[PATH_MAX];
	_cleanup_close_ int pfd = -1, ports = -1, stats = -1;
	uint32_t ids[4] = {}, ports_id = 0, stats_id = 0;
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);
	bool fresh;

	if (pin_path(path, sizeof(path), dir, PIN_PORTS) == 0)
		ports = bpf_obj_get(path);
	if (pin_path(path, sizeof(path), dir, PIN_STATS) == 0)
		stats = bpf_obj_get(path);
	if (pin_path(path, sizeof(path), dir, PIN_PROG) < 0)
		return -1;
	pfd = bpf_obj_get(path);
	if (pfd < 0)
		return -1;

	info.nr_map_ids = ARRAY_SIZE(ids);
	info.map_ids = (uint64_t)(uintptr_t)ids;
	fresh = ports >= 0 && stats >= 0 && map_id(ports, &ports_id) == 0 &&
		map_id(stats, &stats_id) == 0 && bpf_obj_get_info_by_fd(pfd, &info, &len) == 0 &&
		info.type == BPF_PROG_TYPE_SCHED_CLS && info.nr_map_ids == 2 &&
		((ids[0] == ports_id && ids[1] == stats_id) ||
		 (ids[0] == stats_id && ids[1] == ports_id));
	if (!fresh) {
		log_debug("Pinned program '%s' does not use the pinned maps, replacing it", path);
		unlink(path);
		return -1;
	}
	return TAKE_FD(pfd);
}

int bridge_open(const char *pin_dir, struct bridge **out, struct trl_error *err)
{
	struct bridge *b;
	char path[PATH_MAX];
	int r;

	*out = NULL;
	libbpf_log_init();
	if (!pin_dir || pin_dir[0] != '/' || strlen(pin_dir) + 1 + sizeof(PIN_PROG) > sizeof(path))
		return trl_error_set(err, TRL_EINVALID, "pin directory '%s' is not a usable absolute path",
				     pin_dir ? pin_dir : "");
	r = pin_dir_prepare(pin_dir, err);
	if (r < 0)
		return r;

	b = calloc(1, sizeof(*b));
	if (!b)
		return trl_error_errno(err, TRL_EFAILED, ENOMEM, "bridge");
	b->prog_fd = b->own_prog_fd = b->ports_fd = b->stats_fd = -1;

	b->skel = shortbridge__open();
	if (!b->skel) {
		r = trl_error_errno(err, TRL_EFAILED, errno, "open shortbridge BPF object");
		goto fail;
	}
	pin_path(path, sizeof(path), pin_dir, PIN_PORTS);
	r = bpf_map__set_pin_path(b->skel->maps.sb_ports, path);
	if (r == 0) {
		pin_path(path, sizeof(path), pin_dir, PIN_STATS);
		r = bpf_map__set_pin_path(b->skel->maps.sb_stats, path);
	}
	if (r < 0) {
		r = trl_error_errno(err, TRL_EFAILED, r, "set pin paths under '%s'", pin_dir);
		goto fail;
	}

	b->own_prog_fd = pinned_prog_get(pin_dir);
	if (b->own_prog_fd >= 0)
		bpf_program__set_autoload(b->skel->progs.sb_ingress, false);

	r = shortbridge__load(b->skel);
	if (r < 0) {
		r = trl_error_errno(err, TRL_EFAILED, r,
				    "load shortbridge (pins in '%s' from an incompatible build? "
				    "remove them with bridge_unpin)",
				    pin_dir);
		goto fail;
	}
	if (bpf_map__value_size(b->skel->maps.sb_ports) != sizeof(struct sb_port) ||
	    bpf_map__value_size(b->skel->maps.sb_stats) != sizeof(struct sb_counters)) {
		r = trl_error_set(err, TRL_EFAILED, "shortbridge map layout does not match bridge.c");
		goto fail;
	}

	if (b->own_prog_fd >= 0) {
		b->prog_fd = b->own_prog_fd;
		log_debug("Reusing pinned shortbridge in '%s'", pin_dir);
	} else {
		b->prog_fd = bpf_program__fd(b->skel->progs.sb_ingress);
		pin_path(path, sizeof(path), pin_dir, PIN_PROG);
		r = bpf_program__pin(b->skel->progs.sb_ingress, path);
		if (r < 0) {
			r = trl_error_errno(err, TRL_EFAILED, r, "pin program at '%s'", path);
			goto fail;
		}
		log_debug("Loaded and pinned shortbridge in '%s'", pin_dir);
	}
	b->ports_fd = bpf_map__fd(b->skel->maps.sb_ports);
	b->stats_fd = bpf_map__fd(b->skel->maps.sb_stats);
	*out = b;
	return 0;

fail:
	bridge_close(b);
	return r;
}

void bridge_close(struct bridge *b)
{
	if (!b)
		return;
	if (b->own_prog_fd >= 0)
		close(b->own_prog_fd);
	shortbridge__destroy(b->skel);
	free(b);
}

static int ifindex_of(const char *name, unsigned *out, struct trl_error *err)
{
	unsigned idx;

	if (!name || !*name || strlen(name) >= IFNAMSIZ)
		return trl_error_set(err, TRL_EINVALID, "'%s' is not an interface name",
				     name ? name : "");
	idx = if_nametoindex(name);
	if (!idx) {
		if (errno == ENODEV || errno == ENXIO)
			return trl_error_set(err, TRL_ENOTFOUND, "no interface '%s'", name);
		return trl_error_errno(err, TRL_EFAILED, errno, "look up interface '%s'", name);
	}
	*out = idx;
	return 0;
}

/* 1 if @ifindex names an interface in our namespace, 0 if not, -errno. */
static int ifindex_exists(unsigned ifindex)
{
	char name[IF_NAMESIZE];

	if (if_indextoname(ifindex, name))
		return 1;
	return errno == ENXIO || errno == ENODEV ? 0 : -errno;
}

/* 0 and *port filled, -ENOENT, or -errno. */
static int port_get(struct bridge *b, unsigned ifindex, struct sb_port *port)
{
	uint32_t key = ifindex;

	return bpf_map_lookup_elem(b->ports_fd, &key, port) < 0 ? -errno : 0;
}

static int port_forget(struct bridge *b, unsigned ifindex)
{
	uint32_t key = ifindex;

	if (bpf_map_delete_elem(b->ports_fd, &key) < 0 && errno != ENOENT)
		return -errno;
	if (bpf_map_delete_elem(b->stats_fd, &key) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Refuse to steal an end that is joined to a third interface that still exists. */
static int port_check_free(struct bridge *b, const char *name, unsigned ifindex, unsigned peer,
			   struct trl_error *err)
{
	struct sb_port port;
	char other[IF_NAMESIZE];
	int r = port_get(b, ifindex, &port);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': read port entry", name);
	if (port.peer_ifindex == 0 || port.peer_ifindex == peer ||
	    !if_indextoname(port.peer_ifindex, other))
		return 0;
	return trl_error_set(err, TRL_EEXIST, "'%s' is already joined to '%s'", name, other);
}

static int tc_attach(struct bridge *b, unsigned ifindex, const char *name, struct trl_error *err)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO,
		    .prog_fd = b->prog_fd, .flags = BPF_TC_F_REPLACE);
	int r;

	libbpf_quiet++;
	r = bpf_tc_hook_create(&hook);
	libbpf_quiet--;
	if (r < 0 && r != -EEXIST)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': create clsact qdisc", name);
	r = bpf_tc_attach(&hook, &opts);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': attach ingress filter", name);
	return 0;
}

static int tc_detach(unsigned ifindex, const char *name, struct trl_error *err)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO);
	int r;

	libbpf_quiet++;
	r = bpf_tc_detach(&hook, &opts);
	libbpf_quiet--;
	/* ENOENT: no such filter; EINVAL: no clsact at all; ENODEV: interface just went away. */
	if (r < 0 && r != -ENOENT && r != -EINVAL && r != -ENODEV)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': detach ingress filter", name);
	return 0;
}

int bridge_link_attach(struct bridge *b, const char *host_a, const char *host_b, unsigned flags,
		       struct trl_error *err)
{
	struct sb_port pa = { .flags = 0 }, pb = { .flags = 0 };
	unsigned ia, ib;
	uint32_t key;
	int r;

	if (flags & ~BRIDGE_F_PEER)
		return trl_error_set(err, TRL_EINVALID, "unknown bridge flags 0x%x", flags);
	r = ifindex_of(host_a, &ia, err);
	if (r == 0)
		r = ifindex_of(host_b, &ib, err);
	if (r < 0)
		return r;
	if (ia == ib)
		return trl_error_set(err, TRL_EINVALID, "cannot join '%s' to itself", host_a);
	r = port_check_free(b, host_a, ia, ib, err);
	if (r == 0)
		r = port_check_free(b, host_b, ib, ia, err);
	if (r < 0)
		return r;

	pa.peer_ifindex = ib;
	pb.peer_ifindex = ia;
	pa.flags = pb.flags = flags & BRIDGE_F_PEER ? SB_F_PEER : 0;
	key = ia;
	if (bpf_map_update_elem(b->ports_fd, &key, &pa, BPF_ANY) < 0)
		return trl_error_errno(err, TRL_EFAILED, errno, "'%s': write port entry", host_a);
	key = ib;
	if (bpf_map_update_elem(b->ports_fd, &key, &pb, BPF_ANY) < 0)
		return trl_error_errno(err, TRL_EFAILED, errno, "'%s': write port entry", host_b);

	r = tc_attach(b, ia, host_a, err);
	if (r == 0)
		r = tc_attach(b, ib, host_b, err);
	if (r < 0)
		return r;
	log_debug("Joined '%s' (%u) and '%s' (%u)%s", host_a, ia, host_b, ib,
		  flags & BRIDGE_F_PEER ? " with redirect_peer" : "");
	return 0;
}

/* Resolve @name; 0 (not an error) when the interface is gone. */
static int ifindex_or_gone(const char *name, unsigned *out, struct trl_error *err)
{
	int r = ifindex_of(name, out, err);

	if (r == -TRL_ENOTFOUND) {
		trl_error_clear(err);
		*out = 0;
		return 0;
	}
	return r;
}

int bridge_link_detach(struct bridge *b, const char *host_a, const char *host_b,
		       struct trl_error *err)
{
	unsigned ia, ib, keys[4], n = 0;
	struct sb_port pa, pb;
	bool have_a, have_b;
	int r;

	r = ifindex_or_gone(host_a, &ia, err);
	if (r == 0)
		r = ifindex_or_gone(host_b, &ib, err);
	if (r < 0)
		return r;

	have_a = ia && port_get(b, ia, &pa) == 0;
	have_b = ib && port_get(b, ib, &pb) == 0;
	/* Joined to a third interface that still exists: the caller has the wrong pair.
	 * A peer that no longer exists is just stale (e.g. re-created under the same name). */
	if (have_a && ib && pa.peer_ifindex != ib && ifindex_exists(pa.peer_ifindex) > 0)
		return trl_error_set(err, TRL_EINVALID, "'%s' is joined to ifindex %u, not to '%s'",
				     host_a, pa.peer_ifindex, host_b);
	if (have_b && ia && pb.peer_ifindex != ia && ifindex_exists(pb.peer_ifindex) > 0)
		return trl_error_set(err, TRL_EINVALID, "'%s' is joined to ifindex %u, not to '%s'",
				     host_b, pb.peer_ifindex, host_a);

	/* Every ifindex this pair is known under: by name, and through each entry
	 * (a vanished end is only known through the surviving end's entry). */
	keys[n++] = ia;
	keys[n++] = ib;
	if (have_a)
		keys[n++] = pa.peer_ifindex;
	if (have_b)
		keys[n++] = pb.peer_ifindex;
	for (unsigned i = 0; i < n; i++) {
		if (!keys[i])
			continue;
		r = port_forget(b, keys[i]);
		if (r < 0)
			return trl_error_errno(err, TRL_EFAILED, r, "'%s'-'%s': delete port entry %u",
					       host_a, host_b, keys[i]);
	}

	if (ia && (r = tc_detach(ia, host_a, err)) < 0)
		return r;
	if (ib && (r = tc_detach(ib, host_b, err)) < 0)
		return r;
	log_debug("Detached '%s' (%u) and '%s' (%u)", host_a, ia, host_b, ib);
	return 0;
}

int bridge_port_stats(struct bridge *b, const char *host_if, struct bridge_port_stats *out,
		      struct trl_error *err)
{
	_cleanup_free_ struct sb_counters *vals = NULL;
	int ncpus = libbpf_num_possible_cpus();
	unsigned ifindex;
	uint32_t key;
	int r;

	memset(out, 0, sizeof(*out));
	r = ifindex_of(host_if, &ifindex, err);
	if (r < 0)
		return r;
	if (ncpus <= 0)
		return trl_error_errno(err, TRL_EFAILED, ncpus, "count possible CPUs");
	/* Per-CPU values are 8-byte aligned slots; sb_counters is 3 x u64. */
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals)
		return trl_error_errno(err, TRL_EFAILED, ENOMEM, "'%s': counters", host_if);
	key = ifindex;
	if (bpf_map_lookup_elem(b->stats_fd, &key, vals) < 0) {
		if (errno == ENOENT)
			return 0;
		return trl_error_errno(err, TRL_EFAILED, errno, "'%s': read counters", host_if);
	}
	for (int i = 0; i < ncpus; i++) {
		out->packets += vals[i].packets;
		out->bytes += vals[i].bytes;
		out->drops += vals[i].drops;
	}
	return 0;
}

/* Collect every key of @fd (at most @max) into a new array. */
static int map_keys(int fd, uint32_t **out, unsigned *n, unsigned max)
{
	uint32_t *keys = calloc(max, sizeof(*keys));
	uint32_t key, *prev = NULL;
	unsigned cnt = 0;

	if (!keys)
		return -ENOMEM;
	while (cnt < max && bpf_map_get_next_key(fd, prev, &key) == 0) {
		keys[cnt++] = key;
		prev = &keys[cnt - 1];
	}
	if (errno != ENOENT && cnt < max) {
		int e = errno;

		free(keys);
		return -e;
	}
	*out = keys;
	*n = cnt;
	return 0;
}

int bridge_prune(struct bridge *b, unsigned *removed, struct trl_error *err)
{
	_cleanup_free_ uint32_t *keys = NULL;
	unsigned max = bpf_map__max_entries(b->skel->maps.sb_ports), n, gone = 0;
	int r;

	if (removed)
		*removed = 0;
	r = map_keys(b->ports_fd, &keys, &n, max);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "list port entries");
	for (unsigned i = 0; i < n; i++) {
		struct sb_port port;
		int here, there = 0;

		if (port_get(b, keys[i], &port) < 0)
			continue;
		here = ifindex_exists(keys[i]);
		if (here > 0)
			there = port.peer_ifindex ? ifindex_exists(port.peer_ifindex) : 0;
		if (here < 0 || there < 0)
			return trl_error_errno(err, TRL_EFAILED, here < 0 ? here : there,
					       "check interface %u", keys[i]);
		if (here && there)
			continue;
		r = port_forget(b, keys[i]);
		if (r < 0)
			return trl_error_errno(err, TRL_EFAILED, r, "delete port entry %u", keys[i]);
		log_debug("Pruned stale port %u (peer %u)", keys[i], port.peer_ifindex);
		gone++;
	}
	free(keys);
	keys = NULL;

	/* Counters of ports that were never joined (drops only) and have vanished. */
	r = map_keys(b->stats_fd, &keys, &n, max);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "list counters");
	for (unsigned i = 0; i < n; i++) {
		uint32_t key = keys[i];

		if (ifindex_exists(key) == 0)
			bpf_map_delete_elem(b->stats_fd, &key);
	}
	if (removed)
		*removed = gone;
	return 0;
}

int bridge_unpin(const char *pin_dir, struct trl_error *err)
{
	_cleanup_free_ char *parent = NULL;
	struct stat st, pst;
	char *slash;
	int r;

	if (!pin_dir || pin_dir[0] != '/')
		return trl_error_set(err, TRL_EINVALID, "pin directory '%s' is not an absolute path",
				     pin_dir ? pin_dir : "");
	if (lstat(pin_dir, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return trl_error_errno(err, TRL_EFAILED, errno, "'%s'", pin_dir);
	}
	/* This is an rm -rf: only ever inside a bpffs, never a mount point itself. */
	parent = strdup(pin_dir);
	if (!parent)
		return trl_error_errno(err, TRL_EFAILED, ENOMEM, "'%s'", pin_dir);
	slash = strrchr(parent, '/');
	if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (!S_ISDIR(st.st_mode) || !on_bpffs(pin_dir) || lstat(parent, &pst) < 0 ||
	    pst.st_dev != st.st_dev)
		return trl_error_set(err, TRL_EINVALID,
				     "refusing to remove '%s': not a directory inside a bpf filesystem",
				     pin_dir);
	r = util_rm_rf(pin_dir);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "remove pin directory '%s'", pin_dir);
	log_debug("Removed pin directory '%s'", pin_dir);
	return 0;
}

/* --- probing ------------------------------------------------------------ */

/* Whether this process holds CAP_NET_ADMIN (from /proc/self/status). */
static bool have_net_admin(void)
{
	char line[256];
	bool yes = false;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "CapEff:", 7)) {
			yes = (strtoull(line + 7, NULL, 16) >> 12) & 1; /* CAP_NET_ADMIN */
			break;
		}
	fclose(f);
	return yes;
}

struct probe_ctx {
	int prog_fd;
	bool no_netns;
	int r;
	char what[128];
};

/* In a private network namespace (this thread only): clsact on lo + our
 * kind of filter.  Everything vanishes with the namespace when the thread ends. */
static void *probe_tc_thread(void *arg)
{
	struct probe_ctx *c = arg;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = 1, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO,
		    .prog_fd = c->prog_fd);

	if (unshare(CLONE_NEWNET) < 0) {
		c->r = -errno;
		c->no_netns = true;
		snprintf(c->what, sizeof(c->what), "create a network namespace to probe tc in");
		return NULL;
	}
	libbpf_quiet++;
	c->r = bpf_tc_hook_create(&hook);
	libbpf_quiet--;
	if (c->r < 0) {
		snprintf(c->what, sizeof(c->what), "create a clsact qdisc (sch_ingress/clsact missing?)");
		return NULL;
	}
	c->r = bpf_tc_attach(&hook, &opts);
	if (c->r < 0)
		snprintf(c->what, sizeof(c->what),
			 "attach a direct-action cls_bpf filter (cls_bpf missing?)");
	return NULL;
}

int bridge_probe(struct trl_error *err)
{
	/* r0 = TC_ACT_OK; exit */
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = TC_ACT_OK },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	_cleanup_free_ char *fs = NULL;
	_cleanup_close_ int prog = -1, map = -1;
	struct probe_ctx ctx = { .r = 0 };
	pthread_t th;
	int r;

	libbpf_log_init();
	if (!on_bpffs(BPFFS)) {
		r = util_read_file("/proc/filesystems", 1 << 16, &fs, NULL);
		if (r < 0 || !strstr(fs, "\tbpf\n"))
			return trl_error_set(err, TRL_EUNAVAIL,
					     "eBPF shortbridge unavailable: kernel has no bpf filesystem");
	}
	prog = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "trl_probe", "GPL", insns, ARRAY_SIZE(insns),
			     NULL);
	if (prog < 0) {
		if (errno == EPERM || errno == EACCES)
			return trl_error_errno(err, TRL_EUNAVAIL, errno,
					       "eBPF shortbridge unavailable: loading BPF programs "
					       "needs CAP_BPF and CAP_NET_ADMIN");
		return trl_error_errno(err, TRL_EUNAVAIL, errno,
				       "eBPF shortbridge unavailable: cannot load a tc (sched_cls) program");
	}
	map = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "trl_probe", sizeof(uint32_t),
			     sizeof(struct sb_counters), 1, NULL);
	if (map < 0)
		return trl_error_errno(err, TRL_EUNAVAIL, errno,
				       "eBPF shortbridge unavailable: cannot create a per-CPU hash map");
	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_redirect, NULL) != 1)
		return trl_error_set(err, TRL_EUNAVAIL,
				     "eBPF shortbridge unavailable: no bpf_redirect for tc programs");
	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_redirect_peer, NULL) != 1)
		log_debug("bpf_redirect_peer unavailable: BRIDGE_F_PEER frames will be dropped");

	ctx.prog_fd = prog;
	r = pthread_create(&th, NULL, probe_tc_thread, &ctx);
	if (r != 0)
		return trl_error_errno(err, TRL_EFAILED, r, "start tc probe");
	pthread_join(th, NULL);
	if (ctx.no_netns && have_net_admin()) {
		/* No CAP_SYS_ADMIN: the tc side cannot be tried out, assume the kernel has it. */
		log_debug("clsact/cls_bpf not verified: cannot %s: %s", ctx.what, strerror(-ctx.r));
	} else if (ctx.no_netns) {
		return trl_error_set(err, TRL_EUNAVAIL,
				     "eBPF shortbridge unavailable: attaching at tc needs CAP_NET_ADMIN");
	} else if (ctx.r < 0) {
		return trl_error_errno(err, TRL_EUNAVAIL, ctx.r,
				       "eBPF shortbridge unavailable: cannot %s", ctx.what);
	}

	free(fs);
	fs = NULL;
	if (util_read_file("/proc/sys/net/core/bpf_jit_enable", 64, &fs, NULL) == 0 && fs[0] == '0')
		log_debug("BPF JIT disabled: the shortbridge runs interpreted (slower)");
	return 0;
}
