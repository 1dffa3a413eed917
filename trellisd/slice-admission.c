/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slices: admission
 *
 * What a create (or a live limit change) may take from this node: disk (the
 * state directory's file system, preflight()), host-side names that must be
 * free, the aggregate cpu and memory the node's slices promise against what the
 * host has (admission_check(), policy from trellisd.conf), the host-wide uid
 * range claims (claim.c) and per-owner quotas (owner_usage()).
 */
#define LOG_MODULE "slice"
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "bridge.h"
#include "cgroup.h"
#include "cluster.h"
#include "container.h"
#include "disk.h"
#include "escape.h"
#include "log.h"
#include "names.h"
#include "shape.h"
#include "shaper.h"
#include "spec.h"
#include "store.h"
#include "claim.h"
#include "template.h"
#include "tenant.h"
#include "trellisd.h"
#include "units.h"
#include "util.h"
#include "slice.h"

#define DISK_RESERVE (64ULL << 20)	/* free space a create leaves at least */
#define DISK_PER_ROUTER (1ULL << 20)	/* a router's rootfs, config and logs, generously */
#define INODES_PER_ROUTER 200

uint64_t slice_disk_free(struct daemon *d)
{
	struct statvfs sv;
	uint64_t avail;

	if (statvfs(d->state_dir, &sv) < 0)
		return 0;
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	return avail > DISK_RESERVE ? avail - DISK_RESERVE : 0;
}

/* Refuse a create whose host-side names are already taken (another instance, a leftover). */
int preflight(struct plan *p, struct trl_error *err)
{
	char path[PATH_MAX];
	struct statvfs sv;

	/* Out of disk is refused now, not half-way through writing rootfs.  A
	 * router with limits.disk reserves its whole image (rootfs included),
	 * the others the estimate. */
	if (p->n_local && statvfs(p->d->state_dir, &sv) == 0) {
		uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize, need = DISK_RESERVE, limits = 0;
		size_t n_limited = 0;
		char a[32], b[32], c[32], more[128] = "";

		for (size_t i = 0; i < p->s->n_routers; i++) {
			if (!p->local[i])
				continue;
			if (p->cs[i].limits.disk) {
				limits += p->cs[i].limits.disk;
				n_limited++;
			} else {
				need += DISK_PER_ROUTER;
			}
		}
		need += limits;
		if (n_limited) {
			units_size_format(limits, c, sizeof(c));
			if (n_limited < p->n_local)
				snprintf(more, sizeof(more), " + 1M each of %zu without limits.disk + limits.disk %s of %zu",
					 p->n_local - n_limited, c, n_limited);
			else
				snprintf(more, sizeof(more), " + their limits.disk %s", c);
		} else {
			snprintf(more, sizeof(more), " + 1M each");
		}
		if (avail < need) {
			units_size_format(avail & ~((1ULL << 20) - 1), a, sizeof(a));
			units_size_format(need, b, sizeof(b));
			return trl_error_set(err, TRL_ELIMIT,
					     "disk: %s free on the file system of the state directory '%s'; %zu routers need %s (64M kept free%s)",
					     a, p->d->state_dir, p->n_local, b, more);
		}
		if (sv.f_files && sv.f_favail < (fsfilcnt_t)(1000 + p->n_local * INODES_PER_ROUTER))
			return trl_error_set(err, TRL_ELIMIT,
					     "disk: %llu free inodes on the file system of the state directory '%s'; %zu routers need %zu",
					     (unsigned long long)sv.f_favail, p->d->state_dir, p->n_local,
					     1000 + p->n_local * INODES_PER_ROUTER);
	}

	for (size_t i = 0; i < p->s->n_routers; i++) {
		if (!p->local[i])
			continue;
		snprintf(path, sizeof(path), "%s/%s", p->d->lxcpath, p->cs[i].name);
		if (access(path, F_OK) == 0)
			return trl_error_set(err, TRL_EEXIST, "router '%s': container directory '%s' already exists",
					     p->cs[i].router->name, path);
		for (size_t k = 0; k < p->cs[i].n_ifs; k++)
			if (if_nametoindex(p->cs[i].ifs[k].host))
				return trl_error_set(err, TRL_EEXIST,
						     "router '%s': host interface '%s' already exists (another trellisd instance or a leftover)",
						     p->cs[i].router->name, p->cs[i].ifs[k].host);
	}
	if (cgroup_slice_exists(p->d->node_name, p->s->name))
		return trl_error_set(err, TRL_EEXIST, "cgroup 'trellis/%s/%s' already exists (a leftover, or another trellisd with node name '%s'?)",
				     p->d->node_name, p->s->name, p->d->node_name);
	return 0;
}

/*
 * Admission.  A slice promises, on this node, its aggregate cpu and memory
 * (limits:), or where it has none the sum over its routers here.  The node
 * hands out its online CPUs and MemTotal minus a headroom for the host
 * (ADMIT_HEADROOM: the larger of 10% and 512 MiB).  A create, or a set
 * that raises a promise, must fit beside every other slice's.
 */
#define ADMIT_HEADROOM_MIN (512ULL << 20)

void slice_promise(struct daemon *d, const struct trl_slice *s, double *cpu, uint64_t *mem)
{
	double c = 0;
	uint64_t m = 0;
	size_t local = 0;

	for (size_t i = 0; i < s->n_routers; i++) {
		struct trl_limits l;

		if (!router_is_local(d, &s->routers[i]))
			continue;
		l = trl_router_limits(s, &s->routers[i]);
		c += l.cpu;
		m += l.memory;
		local++;
	}
	*cpu = !local ? 0 : s->limits.cpu > 0 ? s->limits.cpu : c;
	*mem = !local ? 0 : s->limits.memory ? s->limits.memory : m;
}

/* "21.2G": sizes in messages, one decimal in the largest unit that fits. */
static const char *size_text(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGTP";
	double x = (double)v;
	int u = -1;

	while (x >= 1024 && u < 4) {
		x /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64, v);
	else if (x == (double)(uint64_t)x)
		snprintf(buf, len, "%.0f%c", x, units[u]);
	else
		snprintf(buf, len, "%.1f%c", x, units[u]);
	return buf;
}

static void host_capacity(double *cores, uint64_t *mem)
{
	_cleanup_free_ char *text = NULL;
	const char *p;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t total = 0, headroom;

	*cores = n > 0 ? (double)n : 1;
	if (util_read_file("/proc/meminfo", 65536, &text, NULL) == 0 && (p = strstr(text, "MemTotal:")))
		total = strtoull(p + 9, NULL, 10) * 1024;
	headroom = total / 10 > ADMIT_HEADROOM_MIN ? total / 10 : ADMIT_HEADROOM_MIN;
	*mem = total > headroom ? total - headroom : 0;
}

int admission_check(struct daemon *d, struct store *st, const struct trl_slice *s, int check_cpu, int check_mem,
			   struct trl_error *err)
{
	double cores, cpu, ocpu = 0;
	uint64_t have, mem, omem = 0;
	char **names = NULL;
	char a[32], b[32], c[32];
	int n;

	slice_promise(d, s, &cpu, &mem);
	if ((!check_cpu || cpu <= 0) && (!check_mem || !mem))
		return 0;
	host_capacity(&cores, &have);
	n = store_slice_names(st, &names, err);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct store_slice row;
		struct trl_slice *o = NULL;
		struct trl_error e = { 0 };
		double oc;
		uint64_t om;

		if (strcmp(names[i], s->name) && slice_load(st, names[i], &row, &o, &e) == 0) {
			slice_promise(d, o, &oc, &om);
			ocpu += oc;
			omem += om;
			store_slice_release(&row);
			trl_slice_free(o);
		}
		free(names[i]);
	}
	free(names);
	if (check_cpu && cpu > 0 && ocpu + cpu > cores + 1e-6)
		return trl_error_set(err, TRL_ELIMIT,
				     "slice '%s' asks %g cores; %g of %g cores are already promised to other slices on node '%s'",
				     s->name, cpu, ocpu, cores, d->node_name);
	if (check_mem && mem && omem + mem > have) {
		return trl_error_set(err, TRL_ELIMIT,
				     "slice '%s' asks %s of memory; %s of the %s node '%s' hands out (MemTotal less max(10%%, 512M) for the host) are already promised to other slices",
				     s->name, size_text(mem, a, sizeof(a)), size_text(omem, b, sizeof(b)),
				     size_text(have, c, sizeof(c)), d->node_name);
	}
	return 0;
}

int slice_promise_free(struct daemon *d, double *cpu_free, uint64_t *mem_free)
{
	struct trl_error err = { 0 };
	struct store *st;
	char **names = NULL;
	double cores, ocpu = 0;
	uint64_t have, omem = 0;
	int n;

	host_capacity(&cores, &have);
	if (store_open(d->db_path, &st, &err) < 0)
		return -err.code;
	n = store_slice_names(st, &names, &err);
	for (int i = 0; i < n; i++) {
		struct store_slice row;
		struct trl_slice *o = NULL;
		double oc;
		uint64_t om;

		if (slice_load(st, names[i], &row, &o, &err) == 0) {
			slice_promise(d, o, &oc, &om);
			ocpu += oc;
			omem += om;
			store_slice_release(&row);
			trl_slice_free(o);
		}
		free(names[i]);
	}
	free(names);
	store_close(st);
	if (n < 0)
		return -err.code;
	*cpu_free = cores > ocpu ? cores - ocpu : 0;
	*mem_free = have > omem ? have - omem : 0;
	return 0;
}

/* Host-wide uid range claims (claim.c) for this daemon's slices. */
static int claim_skip_index(unsigned idx, void *arg)
{
	return store_uid_index_used(arg, idx);
}

static int claim_ours(const char *slice, void *arg)
{
	return store_slice_exists(arg, slice);
}

void claim_init(struct daemon *d, struct store *st, const char *slice, uid_t owner, struct claim_uid *c)
{
	*c = (struct claim_uid){ .node = d->node_name, .slice = slice, .owner = owner, .state_dir = d->state_dir,
				 .skip_index = claim_skip_index, .ours = claim_ours, .arg = st };
}

_Static_assert(SHAPE_MAX_KEY == TRL_LINK_KEY_MAX, "link keys are the shaper's class ids (lib/model.h)");

/* How many slices @uid owns on this node, and routers of them here. */
int owner_usage(struct daemon *d, struct store *st, uid_t uid, unsigned *slices, unsigned *routers,
		       struct trl_error *err)
{
	char **names = NULL;
	int n = store_slice_names(st, &names, err);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct store_slice row;
		struct trl_slice *o = NULL;
		struct trl_error e = { 0 };

		if (slice_load(st, names[i], &row, &o, &e) == 0) {
			if (row.owner_uid == uid) {
				(*slices)++;
				for (size_t k = 0; k < o->n_routers; k++)
					*routers += (unsigned)router_is_local(d, &o->routers[k]);
			}
			store_slice_release(&row);
			trl_slice_free(o);
		}
		free(names[i]);
	}
	free(names);
	return 0;
}
