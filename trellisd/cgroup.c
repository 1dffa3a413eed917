/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: cgroups, both layouts
 *
 * See cgroup.h.  Mount points are read from /proc/self/mountinfo, never
 * assumed, so the same code works under /sys/fs/cgroup/<ctrl> (v1) and a
 * unified /sys/fs/cgroup (v2).
 */
#define LOG_MODULE "cgroup"
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>
#include <linux/magic.h>
#include <pthread.h>
#include <libcgroup.h>
#include "cgroup.h"
#include "log.h"
#include "names.h"
#include "util.h"

#define CPU_PERIOD 100000

struct mnt {
	char path[512];
	int v2;
	char opts[512];
};

static int read_mounts(struct mnt *out, int max)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[2048];
	int n = 0;

	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		char mp[512], fstype[64], src[256], sopts[512];
		char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %511s", mp) != 1)
			continue;
		if (sscanf(sep + 3, "%63s %255s %511s", fstype, src, sopts) != 3)
			continue;
		if (strcmp(fstype, "cgroup") && strcmp(fstype, "cgroup2"))
			continue;
		snprintf(out[n].path, sizeof(out[n].path), "%s", mp);
		snprintf(out[n].opts, sizeof(out[n].opts), ",%s,", sopts);
		out[n].v2 = !strcmp(fstype, "cgroup2");
		n++;
	}
	return n;
}

/* Mount point of v1 controller @ctrl, or of the v2 root; NULL if none. */
/*
 * The mounts, read again when the last read is more than a second old: a
 * slice's stats (and a /metrics scrape) look up a few controllers for every
 * router, and /proc/self/mountinfo is long on a host with many containers.
 */
static int mounts_cached(struct mnt *out, int max)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct mnt cache[32];
	static int n_cache;
	static uint64_t when;	/* CLOCK_MONOTONIC, ms; 0: never read */
	struct timespec ts;
	uint64_t now;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	pthread_mutex_lock(&lock);
	if (!when || now - when > 1000) {
		n_cache = read_mounts(cache, 32);
		when = now;
	}
	n = n_cache < max ? n_cache : max;
	memcpy(out, cache, (size_t)n * sizeof(*out));
	pthread_mutex_unlock(&lock);
	return n;
}

static int ctrl_mount(const char *ctrl, int v2, char *buf, size_t len)
{
	struct mnt m[32];
	int n = mounts_cached(m, 32);
	char needle[64];

	snprintf(needle, sizeof(needle), ",%s,", ctrl);
	for (int i = 0; i < n; i++) {
		if (v2 && m[i].v2) {
			char file[600];
			_cleanup_free_ char *ctrls = NULL;

			snprintf(file, sizeof(file), "%s/cgroup.controllers", m[i].path);
			if (util_read_file(file, 4096, &ctrls, NULL) == 0 && strstr(ctrls, ctrl)) {
				snprintf(buf, len, "%s", m[i].path);
				return 0;
			}
		} else if (!v2 && !m[i].v2 && strstr(m[i].opts, needle)) {
			snprintf(buf, len, "%s", m[i].path);
			return 0;
		}
	}
	return -ENOENT;
}

int cgroup_detect(enum cgroup_layout *out, struct trl_error *err)
{
	char mp[512];

	/* Controllers on v1 win: that is where LXC will put them (hybrid hosts). */
	if (ctrl_mount("memory", 0, mp, sizeof(mp)) == 0) {
		*out = CGROUP_LAYOUT_V1;
		return 0;
	}
	if (ctrl_mount("memory", 1, mp, sizeof(mp)) == 0) {
		*out = CGROUP_LAYOUT_V2;
		return 0;
	}
	return trl_error_set(err, TRL_EUNAVAIL,
			     "no memory cgroup controller on v1 or v2 (is /sys/fs/cgroup mounted?)");
}

const char *cgroup_layout_name(enum cgroup_layout l)
{
	return l == CGROUP_LAYOUT_V2 ? "v2" : "v1";
}

/* ---- the mapping, both ways ---- */

enum knob { K_CPU, K_WEIGHT, K_MEMORY, K_PIDS, K_N };

static const struct {
	unsigned field;
	const char *ctrl;
	const char *file[2];	/* [v1, v2] */
} knobs[K_N] = {
	[K_CPU] = { CGROUP_F_CPU, "cpu", { "cpu.cfs_quota_us", "cpu.max" } },
	[K_WEIGHT] = { CGROUP_F_WEIGHT, "cpu", { "cpu.shares", "cpu.weight" } },
	[K_MEMORY] = { CGROUP_F_MEMORY, "memory", { "memory.limit_in_bytes", "memory.max" } },
	[K_PIDS] = { CGROUP_F_PIDS, "pids", { "pids.max", "pids.max" } },
};

#define V1_SHARES_DEFAULT 1024
#define V2_WEIGHT_DEFAULT 100
/* v1 memory.limit_in_bytes reads back as this (PAGE_COUNTER_MAX pages) or more when unlimited. */
#define V1_MEM_UNLIMITED (1ULL << 62)

static unsigned weight_to_shares(unsigned w)
{
	unsigned s = w * V1_SHARES_DEFAULT / V2_WEIGHT_DEFAULT;

	return s < 2 ? 2 : s;
}

static unsigned shares_to_weight(unsigned long long s)
{
	unsigned long long w = (s * V2_WEIGHT_DEFAULT + V1_SHARES_DEFAULT / 2) / V1_SHARES_DEFAULT;

	return w < TRL_CPU_WEIGHT_MIN ? TRL_CPU_WEIGHT_MIN : w > TRL_CPU_WEIGHT_MAX ? TRL_CPU_WEIGHT_MAX : (unsigned)w;
}

static long long cpu_quota(double cores)
{
	return (long long)(cores * CPU_PERIOD + 0.5);
}

unsigned cgroup_limits_fields(const struct trl_limits *l)
{
	return (l->cpu > 0 ? CGROUP_F_CPU : 0) | (l->cpu_weight ? CGROUP_F_WEIGHT : 0) |
	       (l->memory ? CGROUP_F_MEMORY : 0) | (l->pids ? CGROUP_F_PIDS : 0);
}

const char *cgroup_field_name(unsigned field)
{
	switch (field) {
	case CGROUP_F_CPU:
		return "cpu";
	case CGROUP_F_WEIGHT:
		return "cpu-weight";
	case CGROUP_F_MEMORY:
		return "memory";
	case CGROUP_F_PIDS:
		return "pids";
	}
	return "?";
}

/* Trellis value -> the text written to the knob's file (0 = the layout's "no limit"). */
static void knob_format(enum cgroup_layout layout, enum knob k, const struct trl_limits *l, char *buf, size_t len)
{
	int v2 = layout == CGROUP_LAYOUT_V2;

	switch (k) {
	case K_CPU:
		if (v2)
			l->cpu > 0 ? snprintf(buf, len, "%lld %d", cpu_quota(l->cpu), CPU_PERIOD)
				   : snprintf(buf, len, "max %d", CPU_PERIOD);
		else
			snprintf(buf, len, "%lld", l->cpu > 0 ? cpu_quota(l->cpu) : -1LL);
		return;
	case K_WEIGHT:
		if (v2)
			snprintf(buf, len, "%u", l->cpu_weight ? l->cpu_weight : V2_WEIGHT_DEFAULT);
		else
			snprintf(buf, len, "%u", l->cpu_weight ? weight_to_shares(l->cpu_weight) : V1_SHARES_DEFAULT);
		return;
	case K_MEMORY:
		if (l->memory)
			snprintf(buf, len, "%" PRIu64, l->memory);
		else
			snprintf(buf, len, "%s", v2 ? "max" : "-1");
		return;
	case K_PIDS:
		if (l->pids)
			snprintf(buf, len, "%" PRIu64, l->pids);
		else
			snprintf(buf, len, "max");
		return;
	case K_N:
		break;
	}
	buf[0] = '\0';
}

/* The knob's file text -> trellis value in @out (0 = no limit; weight: the default reads as 0). */
static int knob_parse(enum cgroup_layout layout, enum knob k, const char *text, struct trl_limits *out)
{
	int v2 = layout == CGROUP_LAYOUT_V2;
	unsigned long long u;
	long long q, period = CPU_PERIOD;
	char *end;

	switch (k) {
	case K_CPU:
		if (v2 && !strncmp(text, "max", 3)) {
			out->cpu = 0;
			return 0;
		}
		q = strtoll(text, &end, 10);
		if (end == text)
			return -EINVAL;
		if (v2 && (period = strtoll(end, NULL, 10)) <= 0)
			return -EINVAL;
		out->cpu = q < 0 ? 0 : (double)q / (double)period;
		return 0;
	case K_WEIGHT:
		u = strtoull(text, &end, 10);
		if (end == text)
			return -EINVAL;
		if (!v2)
			u = u == V1_SHARES_DEFAULT ? 0 : shares_to_weight(u);
		else if (u == V2_WEIGHT_DEFAULT)
			u = 0;
		out->cpu_weight = (unsigned)u;
		return 0;
	case K_MEMORY:
		if (!strncmp(text, "max", 3)) {
			out->memory = 0;
			return 0;
		}
		u = strtoull(text, &end, 10);
		if (end == text)
			return -EINVAL;
		out->memory = u >= V1_MEM_UNLIMITED ? 0 : u;
		return 0;
	case K_PIDS:
		if (!strncmp(text, "max", 3)) {
			out->pids = 0;
			return 0;
		}
		u = strtoull(text, &end, 10);
		if (end == text)
			return -EINVAL;
		out->pids = u;
		return 0;
	case K_N:
		break;
	}
	return -EINVAL;
}

/* Whether the kernel holds what was asked (it rounds memory down to a page). */
static int knob_equal(enum knob k, const struct trl_limits *want, const struct trl_limits *got)
{
	switch (k) {
	case K_CPU:
		return cpu_quota(want->cpu) == cpu_quota(got->cpu);
	case K_WEIGHT:
		/* v1 shares round: compare what the mapping gives back. */
		return (want->cpu_weight == V2_WEIGHT_DEFAULT ? 0 : want->cpu_weight) == got->cpu_weight ||
		       (want->cpu_weight && got->cpu_weight &&
			shares_to_weight(weight_to_shares(want->cpu_weight)) == got->cpu_weight);
	case K_MEMORY:
		if (!want->memory || !got->memory)
			return want->memory == got->memory;
		return got->memory <= want->memory && want->memory - got->memory < 65536;
	case K_PIDS:
		return want->pids == got->pids;
	case K_N:
		break;
	}
	return 0;
}

static int knob_of(unsigned field)
{
	for (int k = 0; k < K_N; k++)
		if (knobs[k].field == field)
			return k;
	return -1;
}

const char *cgroup_limit_file(enum cgroup_layout layout, unsigned field)
{
	int k = knob_of(field);

	return k < 0 ? NULL : knobs[k].file[layout == CGROUP_LAYOUT_V2];
}

void cgroup_limit_format(enum cgroup_layout layout, unsigned field, const struct trl_limits *l, char *buf, size_t len)
{
	int k = knob_of(field);

	if (k < 0)
		snprintf(buf, len, "%s", "");
	else
		knob_format(layout, k, l, buf, len);
}

int cgroup_limit_parse(enum cgroup_layout layout, unsigned field, const char *text, struct trl_limits *out)
{
	int k = knob_of(field);

	return k < 0 ? -EINVAL : knob_parse(layout, k, text, out);
}

/*
 * Swap: a memory limit covers swap too, or a router with a 256M limit on a
 * host with swap goes on past it into swap.  v1: memory.memsw.limit_in_bytes
 * (memory + swap) = the memory limit, a file only there with swap accounting
 * (swapaccount=1, the default since 5.8); v2: memory.swap.max = 0.
 */
static const char *const swap_files[2] = { "memory.memsw.limit_in_bytes", "memory.swap.max" };

const char *cgroup_swap_file(enum cgroup_layout layout)
{
	return swap_files[layout == CGROUP_LAYOUT_V2];
}

void cgroup_swap_format(enum cgroup_layout layout, const struct trl_limits *l, char *buf, size_t len)
{
	if (layout == CGROUP_LAYOUT_V2)
		snprintf(buf, len, "%s", l->memory ? "0" : "max");
	else if (l->memory)
		snprintf(buf, len, "%" PRIu64, l->memory);
	else
		snprintf(buf, len, "-1");
}

/* Whether the swap file holds what @want's memory limit asks for. */
int cgroup_swap_equal(enum cgroup_layout layout, const struct trl_limits *want, const char *text)
{
	unsigned long long u;
	char *end;

	if (!strncmp(text, "max", 3))
		return !want->memory;
	u = strtoull(text, &end, 10);
	if (end == text)
		return 0;
	if (layout == CGROUP_LAYOUT_V2)
		return want->memory ? u == 0 : 0;
	if (!want->memory)
		return u >= V1_MEM_UNLIMITED;
	return u <= want->memory && want->memory - u < 65536;
}

static int swap_probe(enum cgroup_layout layout)
{
	char mp[512], path[1200];
	DIR *d;
	struct dirent *de;
	int found = -1;

	if (layout == CGROUP_LAYOUT_V1) {
		if (ctrl_mount("memory", 0, mp, sizeof(mp)) < 0)
			return 0;
		snprintf(path, sizeof(path), "%s/%s", mp, swap_files[0]);
		return access(path, F_OK) == 0;
	}
	/* v2: the root group has no memory files; look at a child that has them (-1: none yet). */
	if (ctrl_mount("memory", 1, mp, sizeof(mp)) < 0 || !(d = opendir(mp)))
		return -1;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/memory.max", mp, de->d_name);
		if (access(path, F_OK) < 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", mp, de->d_name, swap_files[1]);
		found = access(path, F_OK) == 0;
		break;
	}
	closedir(d);
	return found;
}

/* A boot-time property (swapaccount=, cgroup.memory=noswap): probed once per layout. */
int cgroup_swap_accounting(enum cgroup_layout layout)
{
	static int known[2] = { -1, -1 };
	int v2 = layout == CGROUP_LAYOUT_V2, v = __atomic_load_n(&known[v2], __ATOMIC_RELAXED);

	if (v < 0) {
		v = swap_probe(layout);
		if (v < 0)
			return 0;
		__atomic_store_n(&known[v2], v, __ATOMIC_RELAXED);
	}
	return v;
}

void cgroup_lxc_limits(FILE *f, enum cgroup_layout layout, const struct trl_limits *l, int swap)
{
	const char *pfx = layout == CGROUP_LAYOUT_V1 ? "lxc.cgroup" : "lxc.cgroup2";
	unsigned fields = cgroup_limits_fields(l);
	char val[64];

	for (int k = 0; k < K_N; k++) {
		if (!(fields & knobs[k].field))
			continue;
		if (k == K_CPU && layout == CGROUP_LAYOUT_V1)
			fprintf(f, "%s.cpu.cfs_period_us = %d\n", pfx, CPU_PERIOD);
		knob_format(layout, k, l, val, sizeof(val));
		fprintf(f, "%s.%s = %s\n", pfx, knobs[k].file[layout == CGROUP_LAYOUT_V2], val);
		/* After the memory limit: v1 refuses memsw below it. */
		if (k == K_MEMORY && swap) {
			cgroup_swap_format(layout, l, val, sizeof(val));
			fprintf(f, "%s.%s = %s\n", pfx, cgroup_swap_file(layout), val);
		}
	}
}

void cgroup_lxc_devices(FILE *f, enum cgroup_layout layout)
{
	static const char *allow[] = {
		"c 1:3 rwm",   /* null */
		"c 1:5 rwm",   /* zero */
		"c 1:7 rwm",   /* full */
		"c 1:8 rwm",   /* random */
		"c 1:9 rwm",   /* urandom */
		"c 5:0 rwm",   /* tty */
		"c 5:2 rwm",   /* ptmx */
		"c 136:* rwm", /* pts */
		"c 10:200 rwm", /* net/tun */
	};
	const char *pfx = layout == CGROUP_LAYOUT_V1 ? "lxc.cgroup" : "lxc.cgroup2";

	fprintf(f, "%s.devices.deny = a\n", pfx);
	for (size_t i = 0; i < ARRAY_SIZE(allow); i++)
		fprintf(f, "%s.devices.allow = %s\n", pfx, allow[i]);
}

static int read_text(const char *dir, const char *rel, const char *file, char *val, size_t len)
{
	char path[1200];
	_cleanup_free_ char *text = NULL;
	int r;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, rel, file);
	r = util_read_file(path, 65536, &text, NULL);
	if (r < 0)
		return r;
	text[strcspn(text, "\n")] = '\0';
	snprintf(val, len, "%s", text);
	return 0;
}

/* Read one knob: its raw text in @raw and the value in @out. */
static int knob_read(enum cgroup_layout layout, const char *rel, enum knob k, struct trl_limits *out, char *raw,
		     size_t rawlen, struct trl_error *err)
{
	int v2 = layout == CGROUP_LAYOUT_V2, r;
	const char *file = knobs[k].file[v2];
	char mp[512];

	if (ctrl_mount(knobs[k].ctrl, v2, mp, sizeof(mp)) < 0)
		return trl_error_set(err, TRL_EUNAVAIL, "cgroup '%s': no %s controller (cgroup layout %s)", rel,
				     knobs[k].ctrl, cgroup_layout_name(layout));
	r = read_text(mp, rel, file, raw, rawlen);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, -r, "cgroup '%s': cannot read %s/%s/%s", rel, mp, rel, file);
	if (knob_parse(layout, k, raw, out) < 0)
		return trl_error_set(err, TRL_EFAILED, "cgroup '%s': %s reads '%s', which is not a value", rel, file, raw);
	return 0;
}

int cgroup_limits_read(enum cgroup_layout layout, const char *rel, unsigned fields, struct trl_limits *out,
		       struct trl_error *err)
{
	char raw[128];

	memset(out, 0, sizeof(*out));
	for (int k = 0; k < K_N; k++)
		if ((fields & knobs[k].field) && knob_read(layout, rel, k, out, raw, sizeof(raw), err) < 0)
			return -err->code;
	return 0;
}

/* Read the @fields back and compare with @want; the message names the file and both values. */
static int limits_check(enum cgroup_layout layout, const char *rel, const struct trl_limits *want, unsigned fields,
			struct trl_error *err)
{
	int v2 = layout == CGROUP_LAYOUT_V2;

	for (int k = 0; k < K_N; k++) {
		struct trl_limits got = { 0 };
		char raw[128], exp[64];

		if (!(fields & knobs[k].field))
			continue;
		if (knob_read(layout, rel, k, &got, raw, sizeof(raw), err) < 0)
			return -err->code;
		if (!knob_equal(k, want, &got)) {
			knob_format(layout, k, want, exp, sizeof(exp));
			return trl_error_set(err, TRL_EFAILED,
					     "cgroup '%s': %s is '%s', not '%s' (%s: the kernel did not take it; cgroup layout %s)",
					     rel, knobs[k].file[v2], raw, exp, cgroup_field_name(knobs[k].field),
					     cgroup_layout_name(layout));
		}
		if (k == K_MEMORY && cgroup_swap_accounting(layout)) {
			char mp[512];

			if (ctrl_mount("memory", v2, mp, sizeof(mp)) < 0 ||
			    read_text(mp, rel, swap_files[v2], raw, sizeof(raw)) < 0)
				return trl_error_set(err, TRL_EFAILED, "cgroup '%s': cannot read %s (swap accounting is on)",
						     rel, swap_files[v2]);
			if (!cgroup_swap_equal(layout, want, raw)) {
				cgroup_swap_format(layout, want, exp, sizeof(exp));
				return trl_error_set(err, TRL_EFAILED,
						     "cgroup '%s': %s is '%s', not '%s' (memory: the swap limit; the kernel did not take it; cgroup layout %s)",
						     rel, swap_files[v2], raw, exp, cgroup_layout_name(layout));
			}
		}
	}
	return 0;
}

int cgroup_verify_limits(enum cgroup_layout layout, const char *rel, const struct trl_limits *want,
			 struct trl_error *err)
{
	return limits_check(layout, rel, want, cgroup_limits_fields(want), err);
}

/* ---- libcgroup: create and change ---- */

static pthread_once_t lcg_once = PTHREAD_ONCE_INIT;
static int lcg_status;

static void lcg_init(void)
{
	lcg_status = cgroup_init();
}

static int lcg_ready(struct trl_error *err)
{
	pthread_once(&lcg_once, lcg_init);
	if (lcg_status)
		return trl_error_set(err, TRL_EUNAVAIL, "libcgroup: cannot initialise: %s", cgroup_strerror(lcg_status));
	return 0;
}

static int lcg_error(struct trl_error *err, int rc, const char *rel, const char *what)
{
	if (rc == ECGOTHER)
		return trl_error_errno(err, TRL_EFAILED, cgroup_get_last_errno(), "cgroup '%s': %s", rel, what);
	return trl_error_set(err, TRL_EFAILED, "cgroup '%s': %s: %s", rel, what, cgroup_strerror(rc));
}

/*
 * v1 keeps memsw >= the memory limit at every moment: raising both, memsw
 * goes first; lowering, the memory limit does.  libcgroup writes a
 * controller's values in the order they were added.
 */
static int swap_first(enum cgroup_layout layout, const char *rel, const struct trl_limits *l)
{
	unsigned long long cur, want = l->memory ? l->memory : ~0ULL;
	char mp[512], raw[128];

	if (layout != CGROUP_LAYOUT_V1)
		return 0;
	if (ctrl_mount("memory", 0, mp, sizeof(mp)) < 0 || read_text(mp, rel, swap_files[0], raw, sizeof(raw)) < 0)
		return 0;
	cur = strtoull(raw, NULL, 10);
	return want > cur;
}

/* Write the @fields of @l to @rel through libcgroup, in knob order (v1: the period before the quota). */
static int limits_write(enum cgroup_layout layout, const char *rel, const struct trl_limits *l, unsigned fields,
			int create, struct trl_error *err)
{
	static const char *const v1_ctrls[] = { "cpu", "cpuacct", "memory", "pids" };
	static const char *const v2_ctrls[] = { "cpu", "memory", "pids" };
	int v2 = layout == CGROUP_LAYOUT_V2, rc;
	struct cgroup *cg;
	char what[160];

	if (lcg_ready(err) < 0)
		return -err->code;
	cg = cgroup_new_cgroup(rel);
	if (!cg)
		return trl_error_set(err, TRL_EFAILED, "cgroup '%s': out of memory", rel);
	if (create) {
		/* Every hierarchy the slice's accounting needs, values or not. */
		for (size_t i = 0; i < (v2 ? ARRAY_SIZE(v2_ctrls) : ARRAY_SIZE(v1_ctrls)); i++)
			if (!cgroup_add_controller(cg, v2 ? v2_ctrls[i] : v1_ctrls[i])) {
				cgroup_free(&cg);
				return trl_error_set(err, TRL_EFAILED, "cgroup '%s': libcgroup: cannot add controller '%s'",
						     rel, v2 ? v2_ctrls[i] : v1_ctrls[i]);
			}
		rc = cgroup_create_cgroup(cg, 1);
		cgroup_free(&cg);
		if (rc)
			return lcg_error(err, rc, rel, "create");
		return 0;
	}
	for (int k = 0; k < K_N; k++) {
		struct cgroup_controller *cc;
		char val[64];
		int swap, first;

		if (!(fields & knobs[k].field))
			continue;
		cc = cgroup_get_controller(cg, knobs[k].ctrl);
		if (!cc)
			cc = cgroup_add_controller(cg, knobs[k].ctrl);
		if (!cc)
			goto oom;
		if (k == K_CPU && !v2) {
			snprintf(val, sizeof(val), "%d", CPU_PERIOD);
			if (cgroup_add_value_string(cc, "cpu.cfs_period_us", val))
				goto oom;
		}
		swap = k == K_MEMORY && cgroup_swap_accounting(layout);
		first = swap && swap_first(layout, rel, l);
		if (first) {
			cgroup_swap_format(layout, l, val, sizeof(val));
			if (cgroup_add_value_string(cc, swap_files[v2], val))
				goto oom;
		}
		knob_format(layout, k, l, val, sizeof(val));
		if (cgroup_add_value_string(cc, knobs[k].file[v2], val))
			goto oom;
		if (swap && !first) {
			cgroup_swap_format(layout, l, val, sizeof(val));
			if (cgroup_add_value_string(cc, swap_files[v2], val))
				goto oom;
		}
	}
	rc = cgroup_modify_cgroup(cg);
	cgroup_free(&cg);
	if (rc) {
		what[0] = '\0';
		for (int k = 0; k < K_N; k++)
			if (fields & knobs[k].field) {
				char val[64];

				knob_format(layout, k, l, val, sizeof(val));
				snprintf(what + strlen(what), sizeof(what) - strlen(what), "%s%s=%s", what[0] ? " " : "set ",
					 knobs[k].file[v2], val);
			}
		return lcg_error(err, rc, rel, what);
	}
	return 0;
oom:
	cgroup_free(&cg);
	return trl_error_set(err, TRL_EFAILED, "cgroup '%s': libcgroup: out of memory", rel);
}

int cgroup_limits_set(enum cgroup_layout layout, const char *rel, const struct trl_limits *l, unsigned fields,
		      struct trl_limits *old, struct trl_error *err)
{
	struct trl_limits prev;
	struct trl_error e2 = { 0 };

	fields &= CGROUP_F_ALL;
	if (!fields)
		return 0;
	if (cgroup_limits_read(layout, rel, fields, &prev, err) < 0)
		return -err->code;
	if (old)
		*old = prev;
	/* One knob at a time: a failure names its file, and what went in before is put back. */
	for (int k = 0; k < K_N; k++) {
		if (!(fields & knobs[k].field))
			continue;
		if (limits_write(layout, rel, l, knobs[k].field, 0, err) < 0 ||
		    limits_check(layout, rel, l, knobs[k].field, err) < 0)
			goto restore;
	}
	return 0;
restore:
	if (limits_write(layout, rel, &prev, fields, 0, &e2) < 0 || limits_check(layout, rel, &prev, fields, &e2) < 0) {
		log_error("cgroup '%s': cannot restore the previous limits: %s", rel, e2.msg);
		return trl_error_prefix(err, "(previous limits NOT restored: %s)", e2.msg);
	}
	{
		size_t n = strlen(err->msg);

		snprintf(err->msg + n, sizeof(err->msg) - n, " (previous limits restored)");
	}
	return -err->code;
}

/* v2: a controller's files appear in a group only when its parent delegates it. */
static void v2_delegate(const char *rel)
{
	char mp[512], path[1200], part[600];
	const char *p = rel;

	if (ctrl_mount("memory", 1, mp, sizeof(mp)) < 0)
		return;
	part[0] = '\0';
	for (;;) {
		_cleanup_fclose_ FILE *f = NULL;

		snprintf(path, sizeof(path), "%s%s%s/cgroup.subtree_control", mp, part[0] ? "/" : "", part);
		for (const char *c = "+cpu", *n = NULL; c; c = n) {
			/* One controller per write: a missing one must not stop the others. */
			f = fopen(path, "we");
			if (f) {
				fputs(c, f);
				fclose(f);
				f = NULL;
			}
			n = !strcmp(c, "+cpu") ? "+memory" : !strcmp(c, "+memory") ? "+pids" : NULL;
		}
		if (!*p)
			break;
		{
			size_t n = strcspn(p, "/");

			snprintf(part + strlen(part), sizeof(part) - strlen(part), "%s%.*s", part[0] ? "/" : "", (int)n, p);
			p += n;
			p += *p == '/';
		}
	}
}

int cgroup_slice_create(enum cgroup_layout layout, const char *node, const char *slice, const struct trl_limits *l,
			struct trl_error *err)
{
	char rel[256];

	names_cgroup(rel, sizeof(rel), node, slice, NULL);
	if (layout == CGROUP_LAYOUT_V2)
		v2_delegate("");
	if (limits_write(layout, rel, l, 0, 1, err) < 0)
		return -err->code;
	if (layout == CGROUP_LAYOUT_V2)
		v2_delegate(rel);
	/* Every knob, set or not: a leftover value from an earlier group of the same name must not survive. */
	if (limits_write(layout, rel, l, CGROUP_F_ALL, 0, err) < 0 || limits_check(layout, rel, l, CGROUP_F_ALL, err) < 0)
		return -err->code;
	return 0;
}

/* ---- accounting ---- */

/* "key value" lines: the value of @key, or -ENOENT. */
static int keyed_value(const char *dir, const char *rel, const char *file, const char *key, uint64_t *out)
{
	char path[1200], line[256];
	size_t kl = strlen(key);
	_cleanup_fclose_ FILE *f = NULL;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, rel, file);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ' ') {
			*out = strtoull(line + kl + 1, NULL, 10);
			return 0;
		}
	return -ENOENT;
}

static int plain_value(const char *dir, const char *rel, const char *file, uint64_t *out)
{
	char val[128];
	int r = read_text(dir, rel, file, val, sizeof(val));

	if (r < 0)
		return r;
	if (!strncmp(val, "max", 3)) {
		*out = 0;
		return 0;
	}
	*out = strtoull(val, NULL, 10);
	return 0;
}

int cgroup_dir(enum cgroup_layout layout, const char *ctrl, const char *rel, char *buf, size_t len)
{
	char mp[512];
	int n;

	if (ctrl_mount(ctrl, layout == CGROUP_LAYOUT_V2, mp, sizeof(mp)) < 0)
		return -ENOENT;
	n = snprintf(buf, len, "%s/%s", mp, rel);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int cgroup_usage_read(enum cgroup_layout layout, const char *rel, struct cgroup_usage *u)
{
	int v2 = layout == CGROUP_LAYOUT_V2;
	char mp[512];
	uint64_t v;

	memset(u, 0, sizeof(*u));
	if (v2) {
		if (ctrl_mount("cpu", 1, mp, sizeof(mp)) == 0 && keyed_value(mp, rel, "cpu.stat", "usage_usec", &v) == 0) {
			u->cpu_ns = v * 1000;
			u->have_cpu = 1;
			keyed_value(mp, rel, "cpu.stat", "nr_throttled", &u->cpu_throttled);
		}
	} else {
		if (ctrl_mount("cpuacct", 0, mp, sizeof(mp)) == 0 && plain_value(mp, rel, "cpuacct.usage", &v) == 0) {
			u->cpu_ns = v;
			u->have_cpu = 1;
		}
		if (ctrl_mount("cpu", 0, mp, sizeof(mp)) == 0)
			keyed_value(mp, rel, "cpu.stat", "nr_throttled", &u->cpu_throttled);
	}
	if (ctrl_mount("memory", v2, mp, sizeof(mp)) == 0 &&
	    plain_value(mp, rel, v2 ? "memory.current" : "memory.usage_in_bytes", &u->mem_current) == 0) {
		struct trl_limits l = { 0 };
		char raw[128];

		u->have_mem = 1;
		if (read_text(mp, rel, knobs[K_MEMORY].file[v2], raw, sizeof(raw)) == 0 &&
		    knob_parse(layout, K_MEMORY, raw, &l) == 0)
			u->mem_max = l.memory;
		if (v2) {
			keyed_value(mp, rel, "memory.events", "max", &u->mem_failcnt);
			keyed_value(mp, rel, "memory.events", "oom_kill", &u->oom_kills);
		} else {
			plain_value(mp, rel, "memory.failcnt", &u->mem_failcnt);
			keyed_value(mp, rel, "memory.oom_control", "oom_kill", &u->oom_kills);
		}
	}
	if (ctrl_mount("pids", v2, mp, sizeof(mp)) == 0 && plain_value(mp, rel, "pids.current", &u->pids_current) == 0) {
		u->have_pids = 1;
		plain_value(mp, rel, "pids.max", &u->pids_max);
	}
	return u->have_cpu || u->have_mem || u->have_pids ? 0 : -ENOENT;
}

static void rmdir_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char sub[1024];

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		rmdir_tree(sub);
	}
	closedir(d);
	/* A container's monitor leaves its cgroup a moment after the container
	 * stops: retry EBUSY for up to ~2 s rather than leak the group. */
	for (int i = 0; i < 100; i++) {
		if (rmdir(path) == 0 || errno == ENOENT)
			return;
		if (errno != EBUSY)
			break;
		usleep(20000);
	}
	log_warn("cannot remove cgroup '%s': %s", path, strerror(errno));
}

void cgroup_remove_slice(const char *node, const char *slice)
{
	struct mnt m[32];
	int n = read_mounts(m, 32);

	for (int i = 0; i < n; i++) {
		char p[1024], mon[600];
		size_t sl = strlen(slice);
		DIR *d;
		struct dirent *de;

		snprintf(p, sizeof(p), "%s/trellis/%s/%s", m[i].path, node, slice);
		rmdir_tree(p);
		snprintf(mon, sizeof(mon), "%s/trellis.monitor/%s", m[i].path, node);
		if ((d = opendir(mon))) {
			while ((de = readdir(d))) {
				if (!strncmp(de->d_name, slice, sl) && de->d_name[sl] == '.') {
					snprintf(p, sizeof(p), "%s/%s", mon, de->d_name);
					rmdir_tree(p);
				}
			}
			closedir(d);
		}
		/* The node's and the top-level groups go when they are empty (EBUSY otherwise). */
		rmdir(mon);
		snprintf(p, sizeof(p), "%s/trellis.monitor", m[i].path);
		rmdir(p);
		snprintf(p, sizeof(p), "%s/trellis/%s", m[i].path, node);
		rmdir(p);
		snprintf(p, sizeof(p), "%s/trellis", m[i].path);
		rmdir(p);
	}
}

int cgroup_slice_exists(const char *node, const char *slice)
{
	struct mnt m[32];
	int n = read_mounts(m, 32);

	for (int i = 0; i < n; i++) {
		char p[1024];
		struct stat st;

		snprintf(p, sizeof(p), "%s/trellis/%s/%s", m[i].path, node, slice);
		if (stat(p, &st) == 0)
			return 1;
	}
	return 0;
}
