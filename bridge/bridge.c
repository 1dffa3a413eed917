/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: bridge - loader and API for the fast path (shortbridge + EGRE)
 *
 * The BPF side (fastpath.bpf.c, layouts in fastpath.h) is built into a
 * bpftool skeleton (fastpath.skel.h in the build directory).  This file:
 *
 *  - opens it against a pin directory: the six maps get libbpf pin paths
 *    (reused when pinned and compatible, pinned after creation otherwise;
 *    fp_port_ctrs, new with counter slots, is simply created next to the
 *    pins of an older build, whose 40-byte fp_ports is taken out of the
 *    pin dir before load and its entries written into the new one after);
 *    both programs are always loaded, and a pinned program is kept when it
 *    has the same BPF tag (same code) and uses only the pinned maps, so a
 *    restarted daemon talks to the very programs that keep forwarding
 *    meanwhile.  Otherwise the fresh program takes the pin and replaces the
 *    filter on every attachment found in the maps (an upgrade never leaves
 *    interfaces running old code against new maps).  Links of the old
 *    shortbridge pin layout (sb_*) are migrated into the port map first;
 *  - writes map entries before attaching (clsact + a direct-action cls_bpf
 *    filter with fixed handle/priority, BPF_TC_F_REPLACE), so there is no
 *    window where a joined port drops;
 *  - tears down idempotently, recovering a vanished interface's ifindex from
 *    the entries that still name it (the peer's entry, the key map), and
 *    prunes entries of vanished interfaces;
 *  - gives each port entry a counter slot (an index into the per-CPU
 *    array fp_port_ctrs; the free ones are found again from the entries at
 *    open), kept when an entry is rewritten, freed with the entry;
 *  - keeps substrate next hops resolved through rtnetlink (route lookup,
 *    then a kernel-managed neighbour entry), so encapsulated frames do not
 *    wait for neighbour resolution, and stores each tunnel's next hop in its
 *    entry (at attach, and again in bridge_nexthops_refresh() on route
 *    changes) so the program hands it to bpf_redirect_neigh and the kernel
 *    skips a route lookup per frame.  Port entries are read-modify-written
 *    under b->lock: the refresh runs on the daemon's watcher thread;
 *  - probes support in a throw-away network namespace (a thread that
 *    unshares CLONE_NEWNET), so the probe never touches a real interface.
 *
 * libbpf's output goes to our log.  Warnings that are expected on idempotent
 * paths (clsact already there, nothing to detach) are demoted to debug while
 * such a call runs (libbpf_quiet, per thread).
 */
#define LOG_MODULE "bridge"

#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/magic.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bridge.h"
#include "fastpath.h"
#include "log.h"
#include "util.h"
#include "fastpath.skel.h"

_Static_assert(BRIDGE_F_PEER == FP_F_PEER, "flag values are shared with the BPF side");
_Static_assert(FP_AF_INET == AF_INET && FP_AF_INET6 == AF_INET6, "address families");
_Static_assert(BRIDGE_EGRE_OVERHEAD4 == 20 + FP_GRE_HLEN + 14, "IPv4 overhead");
_Static_assert(BRIDGE_EGRE_OVERHEAD6 == 40 + FP_GRE_HLEN + 14, "IPv6 overhead");

/* Our filter's identity in each clsact ingress: fixed so that attach can
 * replace it in place and detach can remove exactly it. */
#define TC_HANDLE 0x5b
#define TC_PRIO 1

#define BPFFS "/sys/fs/bpf"
#define PIN_PORT_PROG "fp_port_ingress"
#define PIN_WIRE_PROG "fp_wire_ingress"
/* The shortbridge layout this replaces: same-node links only. */
#define LEGACY_PROG "sb_ingress"
#define LEGACY_PORTS "sb_ports"
#define LEGACY_STATS "sb_stats"

struct bridge {
	struct fastpath *skel;
	int port_prog; /* attach with these */
	int wire_prog;
	int own_port_prog; /* pinned ones from bpf_obj_get, or -1 (the skeleton's) */
	int own_wire_prog;
	int ports_fd;
	int keys_fd;
	int node_fd;
	int pstats_fd;
	int nstats_fd;
	int ctrs_fd;
	/* Counter slots in use (fp_port.slot), rebuilt from fp_ports at open. */
	uint8_t slot_used[FP_MAX_SLOTS];
	unsigned slot_hint;
	/* Serialises read-modify-write of port entries (the next-hop refresh
	 * may run on another thread than attach/detach/update). */
	pthread_mutex_t lock;
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

/* --- interfaces and tc ------------------------------------------------------ */

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

/* 1 if @ifindex names an interface in our namespace, 0 if not, -errno. */
static int ifindex_exists(unsigned ifindex)
{
	char name[IF_NAMESIZE];

	if (if_indextoname(ifindex, name))
		return 1;
	return errno == ENXIO || errno == ENODEV ? 0 : -errno;
}

static int tc_attach(int prog_fd, unsigned ifindex, const char *name, struct trl_error *err)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO, .prog_fd = prog_fd,
		    .flags = BPF_TC_F_REPLACE);
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

/* --- map access ------------------------------------------------------------- */

/* 0 and *port filled, -ENOENT, or -errno. */
static int port_get(struct bridge *b, unsigned ifindex, struct fp_port *port)
{
	uint32_t key = ifindex;

	return bpf_map_lookup_elem(b->ports_fd, &key, port) < 0 ? -errno : 0;
}

static int port_put(struct bridge *b, unsigned ifindex, const struct fp_port *port)
{
	uint32_t key = ifindex;

	return bpf_map_update_elem(b->ports_fd, &key, port, BPF_ANY) < 0 ? -errno : 0;
}

static int port_forget(struct bridge *b, unsigned ifindex)
{
	uint32_t key = ifindex;
	struct fp_port port;
	bool had = port_get(b, ifindex, &port) == 0;

	if (bpf_map_delete_elem(b->ports_fd, &key) < 0 && errno != ENOENT)
		return -errno;
	if (had && port.slot && port.slot < FP_MAX_SLOTS)
		b->slot_used[port.slot] = 0;
	if (bpf_map_delete_elem(b->pstats_fd, &key) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int map_keys(int fd, uint32_t **out, unsigned *n, unsigned max);

/* A free counter slot, its per-CPU counters zeroed; 0 when none is left
 * (the port then forwards without counting). */
static uint32_t slot_alloc(struct bridge *b)
{
	_cleanup_free_ struct fp_port_counters *zero = NULL;
	int ncpus = libbpf_num_possible_cpus();

	if (ncpus <= 0 || !(zero = calloc((size_t)ncpus, sizeof(*zero))))
		return 0;
	for (unsigned i = 0; i < FP_MAX_SLOTS - 1; i++) {
		uint32_t slot = 1 + (b->slot_hint + i) % (FP_MAX_SLOTS - 1);

		if (b->slot_used[slot])
			continue;
		if (bpf_map_update_elem(b->ctrs_fd, &slot, zero, BPF_ANY) < 0)
			return 0;
		b->slot_used[slot] = 1;
		b->slot_hint = slot;
		return slot;
	}
	return 0;
}

/* Write a new or changed entry: keep the slot of the entry it replaces
 * (@old, or NULL), else give it a fresh one. */
static int port_put_slot(struct bridge *b, unsigned ifindex, struct fp_port *port,
			 const struct fp_port *old)
{
	if (old && old->slot && old->slot < FP_MAX_SLOTS)
		port->slot = old->slot;
	else
		port->slot = slot_alloc(b);
	return port_put(b, ifindex, port);
}

/* Mark the slots of every entry used; give entries without one (migrated
 * from a build without slots) or sharing one a fresh slot. */
static int slots_rebuild(struct bridge *b)
{
	_cleanup_free_ uint32_t *keys = NULL;
	unsigned n;
	int r;

	memset(b->slot_used, 0, sizeof(b->slot_used));
	r = map_keys(b->ports_fd, &keys, &n, FP_MAX_PORTS);
	if (r < 0)
		return r;
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < n; i++) {
			struct fp_port port;
			bool good;

			if (port_get(b, keys[i], &port) < 0)
				continue;
			good = port.slot && port.slot < FP_MAX_SLOTS;
			if (pass == 0 && good && !b->slot_used[port.slot]) {
				b->slot_used[port.slot] = 2; /* 2: claimed by keys[i] */
				continue;
			}
			if (pass == 1 && good && b->slot_used[port.slot] == 2) {
				b->slot_used[port.slot] = 1;
				continue;
			}
			if (pass == 1 && (!good || b->slot_used[port.slot] == 1)) {
				port.slot = slot_alloc(b);
				r = port_put(b, keys[i], &port);
				if (r < 0)
					return r;
			}
		}
	}
	return 0;
}

/* Owner ifindex of tunnel key @key: 0 and *ifindex, -ENOENT, or -errno. */
static int key_get(struct bridge *b, uint32_t key, unsigned *ifindex)
{
	uint32_t v;

	if (bpf_map_lookup_elem(b->keys_fd, &key, &v) < 0)
		return -errno;
	*ifindex = v;
	return 0;
}

static int key_forget(struct bridge *b, uint32_t key)
{
	return bpf_map_delete_elem(b->keys_fd, &key) < 0 && errno != ENOENT ? -errno : 0;
}

static int node_get(struct bridge *b, struct fp_node *node)
{
	uint32_t zero = 0;

	return bpf_map_lookup_elem(b->node_fd, &zero, node) < 0 ? -errno : 0;
}

static int node_put(struct bridge *b, const struct fp_node *node)
{
	uint32_t zero = 0;

	return bpf_map_update_elem(b->node_fd, &zero, node, BPF_ANY) < 0 ? -errno : 0;
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

/* Sum a per-CPU value of @nfields u64 counters into @sum. */
static int percpu_sum(int fd, uint32_t key, uint64_t *sum, unsigned nfields)
{
	_cleanup_free_ uint64_t *vals = NULL;
	int ncpus = libbpf_num_possible_cpus();

	memset(sum, 0, nfields * sizeof(*sum));
	if (ncpus <= 0)
		return ncpus < 0 ? ncpus : -EINVAL;
	vals = calloc((size_t)ncpus * nfields, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, vals) < 0)
		return errno == ENOENT ? 0 : -errno;
	for (int cpu = 0; cpu < ncpus; cpu++)
		for (unsigned f = 0; f < nfields; f++)
			sum[f] += vals[(size_t)cpu * nfields + f];
	return 0;
}

/* --- open: maps, programs, upgrades ------------------------------------------ */

/* Kernel id of the map behind @fd, 0 on failure. */
static uint32_t map_id(int fd)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) < 0 ? 0 : info.id;
}

/* Whether pinned program @pfd is @fresh's code and uses only maps in @ids. */
static bool prog_matches(int pfd, int fresh, const uint32_t *ids, unsigned nids)
{
	uint32_t used[8] = {};
	struct bpf_prog_info pi = {}, fi = {};
	uint32_t len = sizeof(pi), flen = sizeof(fi);

	pi.nr_map_ids = ARRAY_SIZE(used);
	pi.map_ids = (uint64_t)(uintptr_t)used;
	if (bpf_obj_get_info_by_fd(pfd, &pi, &len) < 0 ||
	    bpf_obj_get_info_by_fd(fresh, &fi, &flen) < 0)
		return false;
	if (pi.type != BPF_PROG_TYPE_SCHED_CLS || memcmp(pi.tag, fi.tag, sizeof(pi.tag)) ||
	    pi.nr_map_ids > ARRAY_SIZE(used))
		return false;
	for (unsigned i = 0; i < pi.nr_map_ids; i++) {
		bool found = false;

		for (unsigned j = 0; j < nids; j++)
			found |= used[i] == ids[j];
		if (!found)
			return false;
	}
	return true;
}

/*
 * Use the pinned program @name if it matches the freshly loaded @prog, else
 * pin @prog in its place.  Sets *fd (and *own when the pinned one is kept)
 * and *replaced when the pin changed.
 */
static int prog_adopt(const char *dir, struct bpf_program *prog, const char *name,
		      const uint32_t *ids, unsigned nids, int *fd, int *own, bool *replaced,
		      struct trl_error *err)
{
	char path[PATH_MAX];
	int fresh = bpf_program__fd(prog), pfd, r;

	pin_path(path, sizeof(path), dir, name);
	pfd = bpf_obj_get(path);
	if (pfd >= 0 && prog_matches(pfd, fresh, ids, nids)) {
		*own = *fd = pfd;
		return 0;
	}
	if (pfd >= 0) {
		log_debug("Pinned program '%s' is other code or uses other maps, replacing it", path);
		close(pfd);
		unlink(path);
	}
	r = bpf_program__pin(prog, path);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "pin program at '%s'", path);
	*fd = fresh;
	*replaced = true;
	return 0;
}

/* Same-node links of the shortbridge layout (sb_ports: ifindex -> {peer,
 * flags}) into fp_ports; then the old pins go (the old program stays attached
 * until bridge_open re-attaches the new one, its maps live as long as it). */
static int legacy_migrate(struct bridge *b, const char *dir, bool *migrated)
{
	struct {
		uint32_t peer_ifindex;
		uint32_t flags;
	} old;
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info), key, *prev = NULL;
	int r;

	pin_path(path, sizeof(path), dir, LEGACY_PORTS);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.key_size == 4 &&
	    info.value_size == sizeof(old)) {
		while (bpf_map_get_next_key(fd, prev, &key) == 0) {
			struct fp_port port = { 0 };

			prev = &key;
			if (bpf_map_lookup_elem(fd, &key, &old) < 0 || !old.peer_ifindex ||
			    port_get(b, key, &port) == 0)
				continue;
			port.peer_ifindex = old.peer_ifindex;
			port.flags = old.flags & FP_F_PEER;
			r = port_put(b, key, &port);
			if (r < 0)
				return r;
			log_debug("Migrated shortbridge port %u (peer %u)", key, old.peer_ifindex);
		}
	}
	unlink(path);
	pin_path(path, sizeof(path), dir, LEGACY_STATS);
	unlink(path);
	pin_path(path, sizeof(path), dir, LEGACY_PROG);
	unlink(path);
	*migrated = true;
	return 0;
}

/* fp_ports of a build before counter slots and next hops (40-byte values):
 * taken out of the pin dir before load (libbpf would refuse the pin), its
 * entries written into the fresh map after.  The old program keeps the old
 * map until reattach_all() replaces it. */
struct ports_v1 {
	int fd;
	unsigned n;
	uint32_t *keys;
	struct fp_port *vals;
};

static void ports_v1_free(struct ports_v1 *v)
{
	if (v->fd >= 0)
		close(v->fd);
	free(v->keys);
	free(v->vals);
	v->fd = -1;
	v->keys = NULL;
	v->vals = NULL;
}

static int ports_v1_take(const char *dir, struct ports_v1 *v)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	char path[PATH_MAX];
	int r;

	_Static_assert(FP_PORT_V1_SIZE == offsetof(struct fp_port, slot), "v1 is a prefix");
	pin_path(path, sizeof(path), dir, "fp_ports");
	v->fd = bpf_obj_get(path);
	if (v->fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (bpf_obj_get_info_by_fd(v->fd, &info, &len) < 0 || info.key_size != 4 ||
	    info.value_size != FP_PORT_V1_SIZE) {
		ports_v1_free(v); /* current (or foreign: load refuses it) */
		return 0;
	}
	r = map_keys(v->fd, &v->keys, &v->n, FP_MAX_PORTS);
	if (r < 0)
		return r;
	v->vals = calloc(v->n ? v->n : 1, sizeof(*v->vals));
	if (!v->vals)
		return -ENOMEM;
	for (unsigned i = 0; i < v->n; i++)
		if (bpf_map_lookup_elem(v->fd, &v->keys[i], &v->vals[i]) < 0)
			v->keys[i] = 0;
	if (unlink(path) < 0)
		return -errno;
	return 1;
}

/* Load failed: put the old map back under its pin. */
static void ports_v1_restore(const char *dir, struct ports_v1 *v)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), dir, "fp_ports");
	if (v->fd >= 0 && v->vals && bpf_obj_pin(v->fd, path) < 0)
		log_warn("Cannot restore the pin '%s': %s", path, strerror(errno));
}

static int ports_v1_migrate(struct bridge *b, struct ports_v1 *v)
{
	for (unsigned i = 0; i < v->n; i++) {
		int r;

		if (!v->keys[i])
			continue;
		v->vals[i].slot = 0;
		v->vals[i].nh_family = 0;
		r = port_put(b, v->keys[i], &v->vals[i]);
		if (r < 0)
			return r;
	}
	log_debug("Migrated %u port entries to counter slots", v->n);
	return 0;
}

/* Put the current programs on every attachment the maps know of. */
static int reattach_all(struct bridge *b, struct trl_error *err)
{
	_cleanup_free_ uint32_t *keys = NULL;
	char name[IF_NAMESIZE];
	struct fp_node node = { 0 };
	unsigned n;
	int r;

	r = map_keys(b->ports_fd, &keys, &n, FP_MAX_PORTS);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "list port entries");
	for (unsigned i = 0; i < n; i++) {
		if (!if_indextoname(keys[i], name))
			continue;
		r = tc_attach(b->port_prog, keys[i], name, err);
		if (r < 0)
			return r;
	}
	if (node_get(b, &node) == 0 && node.ifindex && if_indextoname(node.ifindex, name)) {
		r = tc_attach(b->wire_prog, node.ifindex, name, err);
		if (r < 0)
			return r;
	}
	log_debug("Re-attached the fast path to %u ports%s", n, node.ifindex ? " and the substrate" : "");
	return 0;
}

int bridge_open(const char *pin_dir, struct bridge **out, struct trl_error *err)
{
	struct {
		struct bpf_map *map;
		const char *name;
		int *fd;
		size_t value_size;
	} maps[6];
	uint32_t ids[ARRAY_SIZE(maps)];
	bool replaced = false, migrated = false;
	struct ports_v1 v1 = { .fd = -1 };
	struct bridge *b;
	char path[PATH_MAX];
	int r;

	*out = NULL;
	libbpf_log_init();
	if (!pin_dir || pin_dir[0] != '/' || strlen(pin_dir) + 1 + sizeof(PIN_PORT_PROG) > sizeof(path))
		return trl_error_set(err, TRL_EINVALID, "pin directory '%s' is not a usable absolute path",
				     pin_dir ? pin_dir : "");
	r = pin_dir_prepare(pin_dir, err);
	if (r < 0)
		return r;

	b = calloc(1, sizeof(*b));
	if (!b)
		return trl_error_errno(err, TRL_EFAILED, ENOMEM, "bridge");
	b->port_prog = b->wire_prog = b->own_port_prog = b->own_wire_prog = -1;
	pthread_mutex_init(&b->lock, NULL);

	b->skel = fastpath__open();
	if (!b->skel) {
		r = trl_error_errno(err, TRL_EFAILED, errno, "open fast path BPF object");
		goto fail;
	}
	maps[0] = (typeof(maps[0])){ b->skel->maps.fp_ports, "fp_ports", &b->ports_fd,
				     sizeof(struct fp_port) };
	maps[1] = (typeof(maps[0])){ b->skel->maps.fp_keys, "fp_keys", &b->keys_fd, sizeof(uint32_t) };
	maps[2] = (typeof(maps[0])){ b->skel->maps.fp_node, "fp_node", &b->node_fd,
				     sizeof(struct fp_node) };
	maps[3] = (typeof(maps[0])){ b->skel->maps.fp_port_stats, "fp_port_stats", &b->pstats_fd,
				     sizeof(struct fp_port_counters) };
	maps[4] = (typeof(maps[0])){ b->skel->maps.fp_node_stats, "fp_node_stats", &b->nstats_fd,
				     sizeof(struct fp_node_counters) };
	maps[5] = (typeof(maps[0])){ b->skel->maps.fp_port_ctrs, "fp_port_ctrs", &b->ctrs_fd,
				     sizeof(struct fp_port_counters) };
	for (size_t i = 0; i < ARRAY_SIZE(maps); i++) {
		pin_path(path, sizeof(path), pin_dir, maps[i].name);
		r = bpf_map__set_pin_path(maps[i].map, path);
		if (r < 0) {
			r = trl_error_errno(err, TRL_EFAILED, r, "set pin paths under '%s'", pin_dir);
			goto fail;
		}
	}

	r = ports_v1_take(pin_dir, &v1);
	if (r < 0) {
		r = trl_error_errno(err, TRL_EFAILED, r, "read port entries of an older build in '%s'",
				    pin_dir);
		goto fail;
	}
	r = fastpath__load(b->skel);
	if (r < 0) {
		ports_v1_restore(pin_dir, &v1);
		r = trl_error_errno(err, TRL_EFAILED, r,
				    "load fast path (pins in '%s' from an incompatible build? "
				    "remove them with bridge_unpin)",
				    pin_dir);
		goto fail;
	}
	for (size_t i = 0; i < ARRAY_SIZE(maps); i++) {
		if (bpf_map__value_size(maps[i].map) != maps[i].value_size) {
			r = trl_error_set(err, TRL_EFAILED, "fast path map '%s' does not match fastpath.h",
					  maps[i].name);
			goto fail;
		}
		*maps[i].fd = bpf_map__fd(maps[i].map);
		ids[i] = map_id(*maps[i].fd);
	}

	if (v1.vals) {
		r = ports_v1_migrate(b, &v1);
		if (r < 0) {
			r = trl_error_errno(err, TRL_EFAILED, r, "migrate port entries in '%s'", pin_dir);
			goto fail;
		}
		migrated = true;
	}
	r = legacy_migrate(b, pin_dir, &migrated);
	if (r < 0) {
		r = trl_error_errno(err, TRL_EFAILED, r, "migrate shortbridge pins in '%s'", pin_dir);
		goto fail;
	}
	r = slots_rebuild(b);
	if (r < 0) {
		r = trl_error_errno(err, TRL_EFAILED, r, "assign counter slots in '%s'", pin_dir);
		goto fail;
	}
	r = prog_adopt(pin_dir, b->skel->progs.fp_port_ingress, PIN_PORT_PROG, ids, ARRAY_SIZE(ids),
		       &b->port_prog, &b->own_port_prog, &replaced, err);
	if (r == 0)
		r = prog_adopt(pin_dir, b->skel->progs.fp_wire_ingress, PIN_WIRE_PROG, ids,
			       ARRAY_SIZE(ids), &b->wire_prog, &b->own_wire_prog, &replaced, err);
	if (r == 0 && (replaced || migrated))
		r = reattach_all(b, err);
	if (r < 0)
		goto fail;
	log_debug("%s fast path in '%s'", replaced ? "Loaded and pinned" : "Reusing pinned", pin_dir);
	ports_v1_free(&v1);
	*out = b;
	return 0;

fail:
	ports_v1_free(&v1);
	bridge_close(b);
	return r;
}

void bridge_close(struct bridge *b)
{
	if (!b)
		return;
	if (b->own_port_prog >= 0)
		close(b->own_port_prog);
	if (b->own_wire_prog >= 0)
		close(b->own_wire_prog);
	fastpath__destroy(b->skel);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static void port_nexthop(struct bridge *b, struct fp_port *port);

/* --- same-node links --------------------------------------------------------- */

/* Refuse to steal an end that is joined to a third interface that still
 * exists, or that carries a tunnel. */
static int port_check_free(struct bridge *b, const char *name, unsigned ifindex, unsigned peer,
			   struct trl_error *err)
{
	struct fp_port port;
	char other[IF_NAMESIZE];
	int r = port_get(b, ifindex, &port);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': read port entry", name);
	if (port.flags & FP_F_TUNNEL)
		return trl_error_set(err, TRL_EEXIST, "'%s' carries the tunnel with key %u", name,
				     port.key);
	if (port.peer_ifindex == 0 || port.peer_ifindex == peer ||
	    !if_indextoname(port.peer_ifindex, other))
		return 0;
	return trl_error_set(err, TRL_EEXIST, "'%s' is already joined to '%s'", name, other);
}

static int link_attach_locked(struct bridge *b, const char *host_a, const char *host_b, unsigned flags,
		       struct trl_error *err)
{
	struct fp_port pa = { 0 }, pb = { 0 }, oa, ob;
	unsigned ia, ib;
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
	pa.flags = pb.flags = flags & BRIDGE_F_PEER ? FP_F_PEER : 0;
	if ((r = port_put_slot(b, ia, &pa, port_get(b, ia, &oa) == 0 ? &oa : NULL)) < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': write port entry", host_a);
	if ((r = port_put_slot(b, ib, &pb, port_get(b, ib, &ob) == 0 ? &ob : NULL)) < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': write port entry", host_b);

	r = tc_attach(b->port_prog, ia, host_a, err);
	if (r == 0)
		r = tc_attach(b->port_prog, ib, host_b, err);
	if (r < 0)
		return r;
	log_debug("Joined '%s' (%u) and '%s' (%u)%s", host_a, ia, host_b, ib,
		  flags & BRIDGE_F_PEER ? " with redirect_peer" : "");
	return 0;
}

int bridge_link_attach(struct bridge *b, const char *host_a, const char *host_b, unsigned flags,
		       struct trl_error *err)
{
	int r;

	pthread_mutex_lock(&b->lock);
	r = link_attach_locked(b, host_a, host_b, flags, err);
	pthread_mutex_unlock(&b->lock);
	return r;
}

static int link_detach_locked(struct bridge *b, const char *host_a, const char *host_b,
		       struct trl_error *err)
{
	unsigned ia, ib, keys[4], n = 0;
	struct fp_port pa, pb;
	bool have_a, have_b;
	int r;

	r = ifindex_or_gone(host_a, &ia, err);
	if (r == 0)
		r = ifindex_or_gone(host_b, &ib, err);
	if (r < 0)
		return r;

	have_a = ia && port_get(b, ia, &pa) == 0;
	have_b = ib && port_get(b, ib, &pb) == 0;
	if ((have_a && (pa.flags & FP_F_TUNNEL)) || (have_b && (pb.flags & FP_F_TUNNEL)))
		return trl_error_set(err, TRL_EINVALID,
				     "'%s' carries a tunnel, not a link: use bridge_tunnel_detach",
				     have_a && (pa.flags & FP_F_TUNNEL) ? host_a : host_b);
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

int bridge_link_detach(struct bridge *b, const char *host_a, const char *host_b,
		       struct trl_error *err)
{
	int r;

	pthread_mutex_lock(&b->lock);
	r = link_detach_locked(b, host_a, host_b, err);
	pthread_mutex_unlock(&b->lock);
	return r;
}

int bridge_port_stats(struct bridge *b, const char *host_if, struct bridge_port_stats *out,
		      struct trl_error *err)
{
	struct fp_port_counters c, s, p;
	struct fp_port port, peer;
	const unsigned nf = sizeof(c) / sizeof(uint64_t);
	unsigned ifindex;
	int r;

	_Static_assert(sizeof(c) % sizeof(uint64_t) == 0, "counters are u64 only");
	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	memset(&p, 0, sizeof(p));
	r = ifindex_of(host_if, &ifindex, err);
	if (r < 0)
		return r;
	/* The unjoined-drop hash (and what a build before slots counted) ... */
	r = percpu_sum(b->pstats_fd, ifindex, (uint64_t *)&c, nf);
	/* ... plus the port's slot, plus (same node) the peer's tx as our rx. */
	if (r == 0 && port_get(b, ifindex, &port) == 0) {
		if (port.slot && port.slot < FP_MAX_SLOTS)
			r = percpu_sum(b->ctrs_fd, port.slot, (uint64_t *)&s, nf);
		if (r == 0 && !(port.flags & FP_F_TUNNEL) && port.peer_ifindex &&
		    port_get(b, port.peer_ifindex, &peer) == 0 && peer.slot && peer.slot < FP_MAX_SLOTS)
			r = percpu_sum(b->ctrs_fd, peer.slot, (uint64_t *)&p, nf);
	}
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': read counters", host_if);
	for (unsigned i = 0; i < nf; i++)
		((uint64_t *)&c)[i] += ((uint64_t *)&s)[i];
	c.rx_packets += p.tx_packets;
	c.rx_bytes += p.tx_bytes;
	out->packets = c.tx_packets;
	out->bytes = c.tx_bytes;
	out->rx_packets = c.rx_packets;
	out->rx_bytes = c.rx_bytes;
	out->drops_unjoined = c.drop_unjoined;
	out->drops_mtu = c.drop_mtu;
	out->drops_other = c.drop_other;
	out->drops_loss = c.drop_loss;
	out->drops = c.drop_unjoined + c.drop_mtu + c.drop_other + c.drop_loss;
	return 0;
}

int bridge_port_joined(struct bridge *b, const char *host_if)
{
	struct fp_port port;
	unsigned ifindex;

	ifindex = if_nametoindex(host_if);
	return ifindex && port_get(b, ifindex, &port) == 0;
}

static int port_update_locked(struct bridge *b, const char *host_if, const struct bridge_port_opts *o,
		       struct trl_error *err)
{
	struct fp_port port;
	unsigned ifindex;
	int r;

	if (o->loss_ppm > 1000000)
		return trl_error_set(err, TRL_EINVALID, "'%s': loss above 100%%", host_if);
	r = ifindex_of(host_if, &ifindex, err);
	if (r < 0)
		return r;
	r = port_get(b, ifindex, &port);
	if (r == -ENOENT)
		return trl_error_set(err, TRL_ENOTFOUND, "'%s' is not joined", host_if);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': read port entry", host_if);
	port.priority = o->priority;
	/* ppm -> threshold of a uniform 32-bit random number */
	port.loss = o->loss_ppm >= 1000000 ? UINT32_MAX
					   : (uint32_t)(((uint64_t)o->loss_ppm << 32) / 1000000);
	if (o->peer >= 0)
		port.flags = o->peer ? port.flags | FP_F_PEER : port.flags & ~FP_F_PEER;
	/* One element, replaced whole: the program sees the old or the new entry. */
	if ((r = port_put(b, ifindex, &port)) < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': write port entry", host_if);
	log_debug("'%s': priority %x:%x loss %u ppm%s", host_if, o->priority >> 16, o->priority & 0xffff,
		  o->loss_ppm, port.flags & FP_F_PEER ? " redirect_peer" : "");
	return 0;
}

int bridge_port_update(struct bridge *b, const char *host_if, const struct bridge_port_opts *o,
		       struct trl_error *err)
{
	int r;

	pthread_mutex_lock(&b->lock);
	r = port_update_locked(b, host_if, o, err);
	pthread_mutex_unlock(&b->lock);
	return r;
}

/* --- substrate ----------------------------------------------------------------- */

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

/* A unicast address we can put in an outer header. */
static bool addr_usable(int family, const void *addr)
{
	if (family == AF_INET) {
		uint32_t a = ntohl(((const struct in_addr *)addr)->s_addr);

		return a != 0 && a != INADDR_BROADCAST && !IN_MULTICAST(a);
	}
	if (family == AF_INET6) {
		const struct in6_addr *a = addr;

		return !IN6_IS_ADDR_UNSPECIFIED(a) && !IN6_IS_ADDR_MULTICAST(a);
	}
	return false;
}

static const char *addr_str(int family, const void *addr, char *buf, size_t len)
{
	if (!inet_ntop(family, addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

static int if_mtu(const char *name, unsigned *mtu)
{
	struct ifreq ifr = {};
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0)
		return -errno;
	*mtu = (unsigned)ifr.ifr_mtu;
	return 0;
}

int bridge_substrate_attach(struct bridge *b, const struct bridge_node_cfg *cfg,
			    struct trl_error *err)
{
	struct fp_node old = { 0 }, node = { 0 };
	char name[IF_NAMESIZE], abuf[INET6_ADDRSTRLEN];
	unsigned ifindex, mtu = cfg->mtu;
	int r;

	if (!addr_len(cfg->family) || !addr_usable(cfg->family, &cfg->local))
		return trl_error_set(err, TRL_EINVALID,
				     "substrate '%s': local address must be a unicast IPv4 or IPv6 address",
				     cfg->substrate);
	r = ifindex_of(cfg->substrate, &ifindex, err);
	if (r < 0)
		return trl_error_prefix(err, "substrate");
	if (!mtu && (r = if_mtu(cfg->substrate, &mtu)) < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "substrate '%s': read MTU", cfg->substrate);
	if (mtu < 576 || mtu > 65535 ||
	    !bridge_inner_mtu(mtu, cfg->family) || (cfg->family == AF_INET6 && mtu < 1280))
		return trl_error_set(err, TRL_EINVALID, "substrate '%s': MTU %u is not usable",
				     cfg->substrate, mtu);

	r = node_get(b, &old);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "read node configuration");
	if (old.ifindex == ifindex)
		node = old; /* keep the other family's address */
	node.ifindex = ifindex;
	node.mtu = mtu;
	if (cfg->family == AF_INET) {
		node.flags |= FP_N_V4;
		node.local4 = cfg->local.v4.s_addr;
	} else {
		node.flags |= FP_N_V6;
		memcpy(node.local6, &cfg->local.v6, 16);
	}
	r = node_put(b, &node);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "write node configuration");
	r = tc_attach(b->wire_prog, ifindex, cfg->substrate, err);
	if (r < 0)
		return trl_error_prefix(err, "substrate");
	if (old.ifindex && old.ifindex != ifindex && if_indextoname(old.ifindex, name) &&
	    (r = tc_detach(old.ifindex, name, err)) < 0)
		return trl_error_prefix(err, "substrate moved from '%s'", name);
	log_debug("Substrate '%s' (%u), %s, MTU %u", cfg->substrate, ifindex,
		  addr_str(cfg->family, &cfg->local, abuf, sizeof(abuf)), mtu);
	/* Tunnels re-adopted from the pins: their next hops on this substrate. */
	if (bridge_nexthops_refresh(b, NULL, err) < 0) {
		log_debug("%s", err->msg);
		trl_error_clear(err);
	}
	return 0;
}

int bridge_substrate_detach(struct bridge *b, const char *substrate, struct trl_error *err)
{
	struct fp_node node = { 0 };
	unsigned ifindex;
	int r;

	r = ifindex_or_gone(substrate, &ifindex, err);
	if (r < 0)
		return r;
	r = node_get(b, &node);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "read node configuration");
	/* Ours, or gone with the interface (nothing else can be meant then). */
	if (node.ifindex && (node.ifindex == ifindex || ifindex_exists(node.ifindex) == 0)) {
		struct fp_node zero = { 0 };

		r = node_put(b, &zero);
		if (r < 0)
			return trl_error_errno(err, TRL_EFAILED, r, "clear node configuration");
	}
	if (ifindex && (r = tc_detach(ifindex, substrate, err)) < 0)
		return trl_error_prefix(err, "substrate");
	log_debug("Substrate '%s' (%u) detached", substrate, ifindex);
	return 0;
}

int bridge_substrate_get(struct bridge *b, struct bridge_node_cfg *out, struct in6_addr *v6,
			 struct trl_error *err)
{
	struct fp_node node = { 0 };
	char name[IF_NAMESIZE] = "";
	int r;

	memset(out, 0, sizeof(*out));
	if (v6)
		*v6 = in6addr_any;
	r = node_get(b, &node);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "read node configuration");
	if (!node.ifindex)
		return trl_error_set(err, TRL_ENOTFOUND, "no substrate configured");
	if (!if_indextoname(node.ifindex, name))
		name[0] = '\0';
	snprintf(out->substrate, sizeof(out->substrate), "%s", name);
	out->mtu = node.mtu;
	if (node.flags & FP_N_V4) {
		out->family = AF_INET;
		out->local.v4.s_addr = node.local4;
	} else {
		out->family = AF_INET6;
		memcpy(&out->local.v6, node.local6, 16);
	}
	if (v6 && (node.flags & FP_N_V6))
		memcpy(v6, node.local6, 16);
	return 0;
}

/* --- tunnels --------------------------------------------------------------------- */

/*
 * The kernel cannot clear skb->encapsulation from BPF (bpf_skb_adjust_room
 * only sets it), so a GSO frame decapsulated into a router still looks like
 * a GRE super-packet.  Delivered locally that is harmless; forwarded by the
 * router into another tunnel, bpf_skb_adjust_room refuses to encapsulate it
 * again (-EALREADY).  Without GRE segmentation offload on the host end, the
 * kernel segments such frames on their way into the router instead (plain
 * frames from the router stay GSO), and single segments re-encapsulate fine.
 */
static const char *const tunnel_off_features[] = { "tx-gre-segmentation",
						   "tx-gre-csum-segmentation" };

/* Switch the netdev features named @names (ethtool strings) on @name. */
static int if_features_set(const char *name, const char *const *names, size_t n, bool on)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	_cleanup_free_ struct ethtool_gstrings *strings = NULL;
	_cleanup_free_ struct ethtool_sfeatures *sf = NULL;
	_cleanup_free_ struct ethtool_gfeatures *gf = NULL;
	struct {
		struct ethtool_sset_info hdr;
		uint32_t count;
	} sset = { .hdr = { .cmd = ETHTOOL_GSSET_INFO, .sset_mask = 1ULL << ETH_SS_FEATURES } };
	struct ifreq ifr = {};
	uint32_t count, blocks;
	size_t found = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&sset;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		return -errno;
	count = sset.hdr.sset_mask ? sset.count : 0;
	if (!count || count > 4096)
		return -EOPNOTSUPP;
	strings = calloc(1, sizeof(*strings) + (size_t)count * ETH_GSTRING_LEN);
	blocks = (count + 31) / 32;
	sf = calloc(1, sizeof(*sf) + blocks * sizeof(sf->features[0]));
	if (!strings || !sf)
		return -ENOMEM;
	strings->cmd = ETHTOOL_GSTRINGS;
	strings->string_set = ETH_SS_FEATURES;
	strings->len = count;
	ifr.ifr_data = (void *)strings;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		return -errno;
	sf->cmd = ETHTOOL_SFEATURES;
	sf->size = blocks;
	for (uint32_t i = 0; i < count; i++)
		for (size_t j = 0; j < n; j++)
			if (!strncmp((char *)strings->data + (size_t)i * ETH_GSTRING_LEN, names[j],
				     ETH_GSTRING_LEN)) {
				sf->features[i / 32].valid |= 1u << (i % 32);
				if (on)
					sf->features[i / 32].requested |= 1u << (i % 32);
				found++;
			}
	if (found != n)
		return -EOPNOTSUPP;
	ifr.ifr_data = (void *)sf;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		return -errno;
	/* Judge by the result: a feature the device cannot change may well be
	 * in the wanted state already. */
	gf = calloc(1, sizeof(*gf) + blocks * sizeof(gf->features[0]));
	if (!gf)
		return -ENOMEM;
	gf->cmd = ETHTOOL_GFEATURES;
	gf->size = blocks;
	ifr.ifr_data = (void *)gf;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		return -errno;
	for (uint32_t i = 0; i < blocks; i++)
		if ((gf->features[i].active & sf->features[i].valid) != sf->features[i].requested)
			return -EOPNOTSUPP;
	return 0;
}


static int tunnel_attach_locked(struct bridge *b, const char *host_if, uint32_t key, int family,
			 const void *remote_addr, unsigned flags, struct trl_error *err)
{
	struct fp_port old, port = { 0 };
	char other[IF_NAMESIZE], abuf[INET6_ADDRSTRLEN];
	unsigned ifindex, owner;
	bool had_old;
	int r;

	if (flags & ~(BRIDGE_F_PEER | BRIDGE_F_KEEP_GSO))
		return trl_error_set(err, TRL_EINVALID, "unknown bridge flags 0x%x", flags);
	if (!remote_addr || !addr_len(family) || !addr_usable(family, remote_addr))
		return trl_error_set(err, TRL_EINVALID,
				     "'%s': remote node address must be a unicast IPv4 or IPv6 address",
				     host_if ? host_if : "");
	r = ifindex_of(host_if, &ifindex, err);
	if (r < 0)
		return r;

	r = port_get(b, ifindex, &old);
	if (r < 0 && r != -ENOENT)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': read port entry", host_if);
	had_old = r == 0;
	if (had_old && !(old.flags & FP_F_TUNNEL) && old.peer_ifindex &&
	    if_indextoname(old.peer_ifindex, other))
		return trl_error_set(err, TRL_EEXIST, "'%s' is already joined to '%s'", host_if, other);

	r = key_get(b, key, &owner);
	if (r < 0 && r != -ENOENT)
		return trl_error_errno(err, TRL_EFAILED, r, "key %u: read key entry", key);
	if (r == 0 && owner != ifindex && if_indextoname(owner, other)) {
		struct fp_port op;

		if (port_get(b, owner, &op) == 0 && (op.flags & FP_F_TUNNEL) && op.key == key)
			return trl_error_set(err, TRL_EEXIST, "key %u is already used by '%s'", key,
					     other);
	}

	port.flags = FP_F_TUNNEL | (flags & BRIDGE_F_PEER ? FP_F_PEER : 0);
	port.key = key;
	port.family = (uint32_t)family;
	memcpy(port.remote, remote_addr, addr_len(family));
	port_nexthop(b, &port);
	/* Port first: the decap side checks the key's port entry. */
	if ((r = port_put_slot(b, ifindex, &port, had_old ? &old : NULL)) < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': write port entry", host_if);
	owner = ifindex;
	if (bpf_map_update_elem(b->keys_fd, &key, &owner, BPF_ANY) < 0)
		return trl_error_errno(err, TRL_EFAILED, errno, "'%s': write key entry", host_if);
	if (had_old && (old.flags & FP_F_TUNNEL) && old.key != key &&
	    key_get(b, old.key, &owner) == 0 && owner == ifindex && (r = key_forget(b, old.key)) < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': drop old key %u", host_if, old.key);

	r = if_features_set(host_if, tunnel_off_features, ARRAY_SIZE(tunnel_off_features),
			    (flags & BRIDGE_F_KEEP_GSO) != 0);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': set GRE segmentation offload", host_if);
	r = tc_attach(b->port_prog, ifindex, host_if, err);
	if (r < 0)
		return r;
	log_debug("Tunnel '%s' (%u) key %u to %s%s", host_if, ifindex, key,
		  addr_str(family, remote_addr, abuf, sizeof(abuf)),
		  flags & BRIDGE_F_PEER ? " with redirect_peer" : "");
	return 0;
}

int bridge_tunnel_attach(struct bridge *b, const char *host_if, uint32_t key, int family,
			 const void *remote_addr, unsigned flags, struct trl_error *err)
{
	int r;

	pthread_mutex_lock(&b->lock);
	r = tunnel_attach_locked(b, host_if, key, family, remote_addr, flags, err);
	pthread_mutex_unlock(&b->lock);
	return r;
}

static int tunnel_detach_locked(struct bridge *b, const char *host_if, uint32_t key,
			 struct trl_error *err)
{
	struct fp_port port;
	char other[IF_NAMESIZE];
	unsigned ifindex, owner = 0;
	bool have_owner;
	int r;

	r = ifindex_or_gone(host_if, &ifindex, err);
	if (r < 0)
		return r;
	if (ifindex && port_get(b, ifindex, &port) == 0) {
		if (!(port.flags & FP_F_TUNNEL) && port.peer_ifindex)
			return trl_error_set(err, TRL_EINVALID,
					     "'%s' is joined to a same-node link, not a tunnel", host_if);
		if ((port.flags & FP_F_TUNNEL) && port.key != key)
			return trl_error_set(err, TRL_EINVALID, "'%s' carries key %u, not %u", host_if,
					     port.key, key);
	}
	have_owner = key_get(b, key, &owner) == 0;
	if (have_owner && owner != ifindex && if_indextoname(owner, other) &&
	    port_get(b, owner, &port) == 0 && (port.flags & FP_F_TUNNEL) && port.key == key)
		return trl_error_set(err, TRL_EINVALID, "key %u belongs to '%s', not to '%s'", key,
				     other, host_if);

	/* The port by name, and the key's owner (the only trace of a vanished host end). */
	if (ifindex && (r = port_forget(b, ifindex)) < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': delete port entry", host_if);
	if (have_owner && owner != ifindex && port_get(b, owner, &port) == 0 &&
	    (port.flags & FP_F_TUNNEL) && port.key == key && (r = port_forget(b, owner)) < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "key %u: delete port entry %u", key, owner);
	if ((r = key_forget(b, key)) < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "key %u: delete key entry", key);
	if (ifindex && (r = tc_detach(ifindex, host_if, err)) < 0)
		return r;
	/* Best effort: the offload only matters to frames out of a tunnel. */
	if (ifindex)
		if_features_set(host_if, tunnel_off_features, ARRAY_SIZE(tunnel_off_features), true);
	log_debug("Tunnel '%s' (%u) key %u detached", host_if, ifindex, key);
	return 0;
}

int bridge_tunnel_detach(struct bridge *b, const char *host_if, uint32_t key,
			 struct trl_error *err)
{
	int r;

	pthread_mutex_lock(&b->lock);
	r = tunnel_detach_locked(b, host_if, key, err);
	pthread_mutex_unlock(&b->lock);
	return r;
}

int bridge_node_stats(struct bridge *b, struct bridge_node_stats *out, struct trl_error *err)
{
	struct fp_node_counters c;
	int r;

	_Static_assert(sizeof(c) % sizeof(uint64_t) == 0, "counters are u64 only");
	memset(out, 0, sizeof(*out));
	r = percpu_sum(b->nstats_fd, 0, (uint64_t *)&c, sizeof(c) / sizeof(uint64_t));
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "read node counters");
	out->rx_packets = c.rx_packets;
	out->rx_bytes = c.rx_bytes;
	out->drops_unknown_key = c.drop_unknown_key;
	out->drops_bad_source = c.drop_bad_source;
	out->drops_other = c.drop_other;
	return 0;
}

/* --- substrate neighbours (rtnetlink) ---------------------------------------------- */

struct nl_req {
	struct nlmsghdr n;
	union {
		struct rtmsg rt;
		struct ndmsg nd;
	};
	char attrs[128];
};

static void nl_attr(struct nl_req *req, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (void *)((char *)req + NLMSG_ALIGN(req->n.nlmsg_len));

	/* Our requests carry at most two small attributes; were one to grow
	 * beyond the buffer, the kernel would reject the incomplete request. */
	if (NLMSG_ALIGN(req->n.nlmsg_len) + RTA_SPACE(len) > sizeof(*req))
		return;

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	req->n.nlmsg_len = NLMSG_ALIGN(req->n.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Send @req (NLM_F_ACK is added) and feed replies to @cb until the ack.
 * Returns 0, or the kernel's -errno. */
static int nl_talk(struct nl_req *req, void (*cb)(struct nlmsghdr *, void *), void *arg)
{
	static uint32_t seq;
	_cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));

	if (fd < 0)
		return -errno;
	req->n.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	req->n.nlmsg_seq = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
	if (sendto(fd, req, req->n.nlmsg_len, 0, (void *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != req->n.nlmsg_seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error;
			}
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (cb)
				cb(h, arg);
		}
	}
}

struct nexthop {
	int family;
	unsigned char addr[16];
	unsigned oif;
};

static void route_reply(struct nlmsghdr *h, void *arg)
{
	struct nexthop *nh = arg;
	struct rtmsg *rt = NLMSG_DATA(h);
	int len = (int)RTM_PAYLOAD(h);

	if (h->nlmsg_type != RTM_NEWROUTE)
		return;
	for (struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == addr_len(rt->rtm_family)) {
			nh->family = rt->rtm_family;
			memcpy(nh->addr, RTA_DATA(a), RTA_PAYLOAD(a));
		} else if (a->rta_type == RTA_VIA && RTA_PAYLOAD(a) >= sizeof(struct rtvia)) {
			struct rtvia *via = RTA_DATA(a);
			size_t alen = addr_len(via->rtvia_family);

			if (alen && RTA_PAYLOAD(a) >= sizeof(*via) + alen) {
				nh->family = via->rtvia_family;
				memcpy(nh->addr, via->rtvia_addr, alen);
			}
		} else if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == sizeof(uint32_t)) {
			memcpy(&nh->oif, RTA_DATA(a), sizeof(uint32_t));
		}
	}
}

/* The neighbour @addr is reached through: a gateway, or itself.  -EXDEV when
 * the route does not leave through @ifindex.  (No RTA_OIF in the request:
 * with one, the kernel assumes any destination without a route is on link.) */
static int next_hop(unsigned ifindex, int family, const void *addr, struct nexthop *nh)
{
	struct nl_req req = { 0 };
	int r;

	memset(nh, 0, sizeof(*nh));
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.n.nlmsg_type = RTM_GETROUTE;
	req.rt.rtm_family = (unsigned char)family;
	req.rt.rtm_dst_len = (unsigned char)(addr_len(family) * 8);
	nl_attr(&req, RTA_DST, addr, addr_len(family));
	r = nl_talk(&req, route_reply, nh);
	if (r < 0)
		return r;
	if (nh->oif != ifindex)
		return -EXDEV;
	if (!nh->family) {
		nh->family = family;
		memcpy(nh->addr, addr, addr_len(family));
	}
	return 0;
}

/* Resolve tunnel @port's substrate next hop into the entry (nh_family 0
 * when there is no substrate, no route, or it leaves elsewhere: the kernel
 * then routes each frame). */
static void port_nexthop(struct bridge *b, struct fp_port *port)
{
	struct fp_node node = { 0 };
	struct nexthop nh;

	port->nh_family = 0;
	memset(port->nh, 0, sizeof(port->nh));
	if (!(port->flags & FP_F_TUNNEL) || node_get(b, &node) < 0 || !node.ifindex ||
	    next_hop(node.ifindex, (int)port->family, port->remote, &nh) < 0 ||
	    !addr_len(nh.family))
		return;
	port->nh_family = (uint32_t)nh.family;
	memcpy(port->nh, nh.addr, addr_len(nh.family));
}

/* One route lookup per remote node, not per tunnel: most tunnels of a node
 * share a few remotes. */
struct nh_cache {
	unsigned n;
	struct {
		struct fp_port in; /* family + remote */
		struct fp_port out; /* nh_family + nh */
	} e[32];
};

static void port_nexthop_cached(struct bridge *b, struct fp_port *port, struct nh_cache *c)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->e[i].in.family == port->family &&
		    !memcmp(c->e[i].in.remote, port->remote, sizeof(port->remote))) {
			port->nh_family = c->e[i].out.nh_family;
			memcpy(port->nh, c->e[i].out.nh, sizeof(port->nh));
			return;
		}
	port_nexthop(b, port);
	if (c->n < ARRAY_SIZE(c->e)) {
		c->e[c->n].in = *port;
		c->e[c->n].out = *port;
		c->n++;
	}
}

static int nexthops_refresh_locked(struct bridge *b, unsigned *changed)
{
	_cleanup_free_ uint32_t *keys = NULL;
	_cleanup_free_ struct nh_cache *cache = calloc(1, sizeof(*cache));
	unsigned n;
	int r;

	if (!cache)
		return -ENOMEM;

	*changed = 0;
	r = map_keys(b->ports_fd, &keys, &n, FP_MAX_PORTS);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < n; i++) {
		struct fp_port port, fresh;

		if (port_get(b, keys[i], &port) < 0 || !(port.flags & FP_F_TUNNEL))
			continue;
		fresh = port;
		port_nexthop_cached(b, &fresh, cache);
		if (fresh.nh_family == port.nh_family && !memcmp(fresh.nh, port.nh, sizeof(port.nh)))
			continue;
		r = port_put(b, keys[i], &fresh);
		if (r < 0)
			return r;
		(*changed)++;
	}
	return 0;
}

int bridge_nexthops_refresh(struct bridge *b, unsigned *changed, struct trl_error *err)
{
	unsigned dummy;
	int r;

	pthread_mutex_lock(&b->lock);
	r = nexthops_refresh_locked(b, changed ? changed : &dummy);
	pthread_mutex_unlock(&b->lock);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "refresh tunnel next hops");
	return 0;
}

int bridge_route_watch_open(int family)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
				  .nl_groups = (family != AF_INET6 ? RTMGRP_IPV4_ROUTE : 0) |
					       (family != AF_INET ? RTMGRP_IPV6_ROUTE : 0) };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (void *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

struct neigh_info {
	bool found;
	uint16_t state;
	uint32_t ext_flags;
};

static void neigh_reply(struct nlmsghdr *h, void *arg)
{
	struct neigh_info *ni = arg;
	struct ndmsg *nd = NLMSG_DATA(h);
	int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*nd)));

	if (h->nlmsg_type != RTM_NEWNEIGH)
		return;
	ni->found = true;
	ni->state = nd->ndm_state;
	for (struct rtattr *a = (void *)((char *)nd + NLMSG_ALIGN(sizeof(*nd))); RTA_OK(a, len);
	     a = RTA_NEXT(a, len))
		if (a->rta_type == NDA_FLAGS_EXT && RTA_PAYLOAD(a) == sizeof(uint32_t))
			memcpy(&ni->ext_flags, RTA_DATA(a), sizeof(uint32_t));
}

static int neigh_msg(int type, unsigned flags, const struct nexthop *nh, unsigned ifindex,
		     uint8_t ndm_flags, bool managed, struct neigh_info *ni)
{
	struct nl_req req = { 0 };
	uint32_t ext = NTF_EXT_MANAGED;

	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg));
	req.n.nlmsg_type = (unsigned short)type;
	req.n.nlmsg_flags = (unsigned short)flags;
	req.nd.ndm_family = (unsigned char)nh->family;
	req.nd.ndm_ifindex = (int)ifindex;
	req.nd.ndm_state = NUD_NONE;
	req.nd.ndm_flags = ndm_flags;
	nl_attr(&req, NDA_DST, nh->addr, addr_len(nh->family));
	if (managed)
		nl_attr(&req, NDA_FLAGS_EXT, &ext, sizeof(ext));
	return nl_talk(&req, ni ? neigh_reply : NULL, ni);
}

static int neigh_prepare(const char *substrate, int family, const void *addr, unsigned *ifindex,
			 struct nexthop *nh, struct neigh_info *ni, struct trl_error *err)
{
	char abuf[INET6_ADDRSTRLEN];
	int r;

	if (!addr || !addr_len(family) || !addr_usable(family, addr))
		return trl_error_set(err, TRL_EINVALID,
				     "remote node address must be a unicast IPv4 or IPv6 address");
	r = ifindex_of(substrate, ifindex, err);
	if (r < 0)
		return trl_error_prefix(err, "substrate");
	r = next_hop(*ifindex, family, addr, nh);
	if (r == -EXDEV)
		return trl_error_set(err, TRL_ENOTFOUND, "%s is not reached through '%s'",
				     addr_str(family, addr, abuf, sizeof(abuf)), substrate);
	if (r < 0)
		return trl_error_errno(err, TRL_ENOTFOUND, r, "no route to %s",
				       addr_str(family, addr, abuf, sizeof(abuf)));
	memset(ni, 0, sizeof(*ni));
	r = neigh_msg(RTM_GETNEIGH, 0, nh, *ifindex, 0, false, ni);
	if (r < 0 && r != -ENOENT)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': read neighbour %s", substrate,
				       addr_str(nh->family, nh->addr, abuf, sizeof(abuf)));
	return 0;
}

int bridge_neigh_refresh(const char *substrate, int family, const void *addr,
			 struct trl_error *err)
{
	char abuf[INET6_ADDRSTRLEN];
	struct neigh_info ni;
	struct nexthop nh;
	unsigned ifindex;
	int r;

	r = neigh_prepare(substrate, family, addr, &ifindex, &nh, &ni, err);
	if (r < 0)
		return r;
	/* NTF_USE / managed would turn a static entry into a dynamic one. */
	if (ni.found && (ni.state & (NUD_PERMANENT | NUD_NOARP)))
		return 0;
	r = neigh_msg(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, &nh, ifindex, NTF_USE, true, NULL);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': resolve neighbour %s", substrate,
				       addr_str(nh.family, nh.addr, abuf, sizeof(abuf)));
	log_debug("Neighbour %s on '%s' managed (for %s)",
		  addr_str(nh.family, nh.addr, abuf, sizeof(abuf)), substrate,
		  family == nh.family && !memcmp(nh.addr, addr, addr_len(family)) ? "itself" : "a remote");
	return 0;
}

int bridge_neigh_release(const char *substrate, int family, const void *addr,
			 struct trl_error *err)
{
	char abuf[INET6_ADDRSTRLEN];
	struct neigh_info ni;
	struct nexthop nh;
	unsigned ifindex;
	int r;

	r = neigh_prepare(substrate, family, addr, &ifindex, &nh, &ni, err);
	if (r == -TRL_ENOTFOUND) {
		/* Substrate or route gone: no next hop of ours left to forget. */
		trl_error_clear(err);
		return 0;
	}
	if (r < 0)
		return r;
	if (!ni.found || !(ni.ext_flags & NTF_EXT_MANAGED) ||
	    (ni.state & (NUD_PERMANENT | NUD_NOARP)))
		return 0;
	r = neigh_msg(RTM_DELNEIGH, 0, &nh, ifindex, 0, false, NULL);
	if (r < 0 && r != -ENOENT)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': delete neighbour %s", substrate,
				       addr_str(nh.family, nh.addr, abuf, sizeof(abuf)));
	return 0;
}

/* --- maintenance ------------------------------------------------------------------ */

static int prune_locked(struct bridge *b, unsigned *removed, struct trl_error *err)
{
	_cleanup_free_ uint32_t *keys = NULL;
	unsigned n, gone = 0;
	int r;

	if (removed)
		*removed = 0;
	r = map_keys(b->ports_fd, &keys, &n, FP_MAX_PORTS);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "list port entries");
	for (unsigned i = 0; i < n; i++) {
		struct fp_port port;
		int here, there = 1;

		if (port_get(b, keys[i], &port) < 0)
			continue;
		here = ifindex_exists(keys[i]);
		if (here > 0 && !(port.flags & FP_F_TUNNEL))
			there = port.peer_ifindex ? ifindex_exists(port.peer_ifindex) : 0;
		if (here < 0 || there < 0)
			return trl_error_errno(err, TRL_EFAILED, here < 0 ? here : there,
					       "check interface %u", keys[i]);
		if (here && there)
			continue;
		r = port_forget(b, keys[i]);
		if (r < 0)
			return trl_error_errno(err, TRL_EFAILED, r, "delete port entry %u", keys[i]);
		log_debug("Pruned stale port %u (peer %u, key %u)", keys[i], port.peer_ifindex,
			  port.key);
		gone++;
	}
	free(keys);
	keys = NULL;

	/* Keys whose port entry is gone (with the port above, or never written). */
	r = map_keys(b->keys_fd, &keys, &n, FP_MAX_PORTS);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "list key entries");
	for (unsigned i = 0; i < n; i++) {
		struct fp_port port;
		unsigned owner = 0;

		if (key_get(b, keys[i], &owner) == 0 &&
		    (port_get(b, owner, &port) < 0 || !(port.flags & FP_F_TUNNEL) ||
		     port.key != keys[i]))
			key_forget(b, keys[i]);
	}
	free(keys);
	keys = NULL;

	/* Counters of ports that were never joined (drops only) and have vanished. */
	r = map_keys(b->pstats_fd, &keys, &n, FP_MAX_PORTS);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "list counters");
	for (unsigned i = 0; i < n; i++) {
		uint32_t key = keys[i];

		if (ifindex_exists(key) == 0)
			bpf_map_delete_elem(b->pstats_fd, &key);
	}
	if (removed)
		*removed = gone;
	return 0;
}

int bridge_prune(struct bridge *b, unsigned *removed, struct trl_error *err)
{
	int r;

	pthread_mutex_lock(&b->lock);
	r = prune_locked(b, removed, err);
	pthread_mutex_unlock(&b->lock);
	return r;
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
	r = util_rm_rf(pin_dir, NULL);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "remove pin directory '%s'", pin_dir);
	log_debug("Removed pin directory '%s'", pin_dir);
	return 0;
}

/* --- probing ------------------------------------------------------------------ */

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
	static const struct {
		enum bpf_func_id id;
		const char *name;
	} egre_helpers[] = {
		{ BPF_FUNC_skb_adjust_room, "bpf_skb_adjust_room" },
		{ BPF_FUNC_skb_change_head, "bpf_skb_change_head" },
		{ BPF_FUNC_redirect_neigh, "bpf_redirect_neigh" },
		{ BPF_FUNC_skb_vlan_push, "bpf_skb_vlan_push" },
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
					     "eBPF fast path unavailable: kernel has no bpf filesystem");
	}
	prog = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "trl_probe", "GPL", insns, ARRAY_SIZE(insns),
			     NULL);
	if (prog < 0) {
		if (errno == EPERM || errno == EACCES)
			return trl_error_errno(err, TRL_EUNAVAIL, errno,
					       "eBPF fast path unavailable: loading BPF programs "
					       "needs CAP_BPF and CAP_NET_ADMIN");
		return trl_error_errno(err, TRL_EUNAVAIL, errno,
				       "eBPF fast path unavailable: cannot load a tc (sched_cls) program");
	}
	map = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "trl_probe", sizeof(uint32_t),
			     sizeof(struct fp_port_counters), 1, NULL);
	if (map < 0)
		return trl_error_errno(err, TRL_EUNAVAIL, errno,
				       "eBPF fast path unavailable: cannot create a per-CPU hash map");
	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_redirect, NULL) != 1)
		return trl_error_set(err, TRL_EUNAVAIL,
				     "eBPF fast path unavailable: no bpf_redirect for tc programs");
	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_redirect_peer, NULL) != 1)
		log_debug("bpf_redirect_peer unavailable: BRIDGE_F_PEER frames will be dropped");
	/* All in one object: without them nothing loads, same-node links included. */
	for (size_t i = 0; i < ARRAY_SIZE(egre_helpers); i++)
		if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, egre_helpers[i].id, NULL) != 1)
			return trl_error_set(err, TRL_EUNAVAIL,
					     "eBPF fast path unavailable: no %s for tc programs "
					     "(kernel too old)",
					     egre_helpers[i].name);

	ctx.prog_fd = prog;
	r = pthread_create(&th, NULL, probe_tc_thread, &ctx);
	if (r != 0)
		return trl_error_errno(err, TRL_EFAILED, r, "start tc probe");
	pthread_join(th, NULL);
	if (ctx.no_netns && util_have_cap(12 /* CAP_NET_ADMIN */)) {
		/* No CAP_SYS_ADMIN: the tc side cannot be tried out, assume the kernel has it. */
		log_debug("clsact/cls_bpf not verified: cannot %s: %s", ctx.what, strerror(-ctx.r));
	} else if (ctx.no_netns) {
		return trl_error_set(err, TRL_EUNAVAIL,
				     "eBPF fast path unavailable: attaching at tc needs CAP_NET_ADMIN");
	} else if (ctx.r < 0) {
		return trl_error_errno(err, TRL_EUNAVAIL, ctx.r,
				       "eBPF fast path unavailable: cannot %s", ctx.what);
	}

	free(fs);
	fs = NULL;
	if (util_read_file("/proc/sys/net/core/bpf_jit_enable", 64, &fs, NULL) == 0 && fs[0] == '0')
		log_debug("BPF JIT disabled: the fast path runs interpreted (slower)");
	return 0;
}

int bridge_gre_offload_set(const char *ifname, int on, struct trl_error *err)
{
	int r = if_features_set(ifname, tunnel_off_features, ARRAY_SIZE(tunnel_off_features), on != 0);

	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': %s GRE segmentation offload", ifname,
				       on ? "turn on" : "turn off");
	return 0;
}

static const char *const segmentation_features[] = { "tx-tcp-segmentation", "tx-tcp6-segmentation",
							"tx-tcp-ecn-segmentation",
							"tx-tcp-mangleid-segmentation",
							"tx-generic-segmentation" };

int bridge_segmentation_set(const char *ifname, int on, struct trl_error *err)
{
	int r = if_features_set(ifname, segmentation_features, ARRAY_SIZE(segmentation_features), on != 0);

	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, r, "'%s': %s segmentation offload", ifname,
				       on ? "turn on" : "turn off");
	return 0;
}
