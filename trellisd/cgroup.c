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
#include <linux/magic.h>
#include "cgroup.h"
#include "log.h"
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
static int ctrl_mount(const char *ctrl, int v2, char *buf, size_t len)
{
	struct mnt m[32];
	int n = read_mounts(m, 32);
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

void cgroup_lxc_limits(FILE *f, enum cgroup_layout layout, const struct trl_limits *l)
{
	if (layout == CGROUP_LAYOUT_V1) {
		if (l->cpu > 0) {
			fprintf(f, "lxc.cgroup.cpu.cfs_period_us = %d\n", CPU_PERIOD);
			fprintf(f, "lxc.cgroup.cpu.cfs_quota_us = %lld\n", (long long)(l->cpu * CPU_PERIOD + 0.5));
		}
		if (l->memory)
			fprintf(f, "lxc.cgroup.memory.limit_in_bytes = %" PRIu64 "\n", l->memory);
		if (l->pids)
			fprintf(f, "lxc.cgroup.pids.max = %" PRIu64 "\n", l->pids);
	} else {
		if (l->cpu > 0)
			fprintf(f, "lxc.cgroup2.cpu.max = %lld %d\n", (long long)(l->cpu * CPU_PERIOD + 0.5), CPU_PERIOD);
		if (l->memory)
			fprintf(f, "lxc.cgroup2.memory.max = %" PRIu64 "\n", l->memory);
		if (l->pids)
			fprintf(f, "lxc.cgroup2.pids.max = %" PRIu64 "\n", l->pids);
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

static int read_u64(const char *dir, const char *rel, const char *file, char *val, size_t len)
{
	char path[1200];
	_cleanup_free_ char *text = NULL;
	int r;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, rel, file);
	r = util_read_file(path, 4096, &text, NULL);
	if (r < 0)
		return r;
	text[strcspn(text, "\n")] = '\0';
	snprintf(val, len, "%s", text);
	return 0;
}

int cgroup_verify_limits(enum cgroup_layout layout, const char *rel, const struct trl_limits *want,
			 struct trl_error *err)
{
	int v2 = layout == CGROUP_LAYOUT_V2;
	char mp[512], val[256];
	int r;

	if (want->memory) {
		unsigned long long got;

		if (ctrl_mount("memory", v2, mp, sizeof(mp)) < 0 ||
		    (r = read_u64(mp, rel, v2 ? "memory.max" : "memory.limit_in_bytes", val, sizeof(val))) < 0)
			return trl_error_set(err, TRL_EFAILED, "cgroup '%s': cannot read the memory limit back", rel);
		got = strtoull(val, NULL, 10);
		/* The kernel rounds down to a page. */
		if (got > want->memory || want->memory - got >= 4096)
			return trl_error_set(err, TRL_EFAILED,
					     "cgroup '%s': memory limit is %s, not %" PRIu64
					     " (the kernel ignored it: cgroup layout %s)",
					     rel, val, want->memory, cgroup_layout_name(layout));
	}
	if (want->pids) {
		if (ctrl_mount("pids", v2, mp, sizeof(mp)) < 0 || read_u64(mp, rel, "pids.max", val, sizeof(val)) < 0)
			return trl_error_set(err, TRL_EFAILED, "cgroup '%s': cannot read the pids limit back", rel);
		if (strtoull(val, NULL, 10) != want->pids)
			return trl_error_set(err, TRL_EFAILED,
					     "cgroup '%s': pids limit is '%s', not %" PRIu64 " (the kernel ignored it)", rel,
					     val, want->pids);
	}
	if (want->cpu > 0) {
		long long quota = (long long)(want->cpu * CPU_PERIOD + 0.5), got;

		if (ctrl_mount("cpu", v2, mp, sizeof(mp)) < 0 ||
		    read_u64(mp, rel, v2 ? "cpu.max" : "cpu.cfs_quota_us", val, sizeof(val)) < 0)
			return trl_error_set(err, TRL_EFAILED, "cgroup '%s': cannot read the cpu quota back", rel);
		got = strtoll(val, NULL, 10);
		if (got != quota)
			return trl_error_set(err, TRL_EFAILED,
					     "cgroup '%s': cpu quota is '%s', not %lld/%d (the kernel ignored it)", rel, val,
					     quota, CPU_PERIOD);
	}
	return 0;
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
