/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: cgroups, both layouts
 *
 * Hosts are cgroup v1 (or hybrid: v1 controllers + an empty cgroup2 mount) or
 * pure v2.  This module detects which at start and is the one place that maps
 * a trellis limit to its controller file in each layout:
 *
 *   limit       v1 (lxc.cgroup.*)                               v2 (lxc.cgroup2.*)
 *   cpu         cpu.cfs_quota_us / cpu.cfs_period_us (100000)    cpu.max "QUOTA 100000"
 *   cpu-weight  cpu.shares = weight * 1024 / 100                 cpu.weight
 *   memory      memory.limit_in_bytes                           memory.max
 *   pids        pids.max                                        pids.max
 *
 * and back: usage is cpuacct.usage / cpu.stat usage_usec, memory.usage_in_bytes
 * / memory.current, pids.current; OOM kills from memory.oom_control /
 * memory.events.  An unset limit is written as the layout's "no limit" (-1,
 * max; weight 100 = 1024 shares).
 *
 * Groups: trellis/<node>/<slice> holds the slice's aggregate limits and is
 * created here (libcgroup) before any router starts; LXC creates each
 * router's trellis/<node>/<slice>/<router> below it (lxc.cgroup.dir), so the
 * aggregate constrains them all.  LXC silently ignores keys of the other
 * layout, so every limit is read back after it is applied
 * (cgroup_verify_limits) and a mismatch fails the operation.  Live changes
 * (cgroup_limits_set) go through libcgroup too, are read back, and put the
 * previous values back if any step fails.
 */
#ifndef TRELLISD_CGROUP_H
#define TRELLISD_CGROUP_H

#include <stdint.h>
#include <stdio.h>
#include "error.h"
#include "model.h"

enum cgroup_layout { CGROUP_LAYOUT_V1, CGROUP_LAYOUT_V2 };

int cgroup_detect(enum cgroup_layout *out, struct trl_error *err);
const char *cgroup_layout_name(enum cgroup_layout l);
/* Emit the LXC config lines that apply @l (unset fields are skipped); with
 * @swap (cgroup_swap_accounting()) a memory limit also caps swap. */
void cgroup_lxc_limits(FILE *f, enum cgroup_layout layout, const struct trl_limits *l, int swap);
/* Whether the kernel accounts swap per cgroup (v1 memsw files; v2 memory.swap.max). */
int cgroup_swap_accounting(enum cgroup_layout layout);
/* The swap file and the text written there for @l's memory limit (v1: memory
 * + swap = the limit; v2: no swap), and whether read-back @text holds it. */
const char *cgroup_swap_file(enum cgroup_layout layout);
void cgroup_swap_format(enum cgroup_layout layout, const struct trl_limits *l, char *buf, size_t len);
int cgroup_swap_equal(enum cgroup_layout layout, const struct trl_limits *want, const char *text);
/* Emit the device allowlist lines (v1 devices controller; v2 uses LXC's eBPF device program). */
void cgroup_lxc_devices(FILE *f, enum cgroup_layout layout);
/* Read every set limit of the cgroup @rel (e.g. "trellis/blue/r1") back from the kernel. */
int cgroup_verify_limits(enum cgroup_layout layout, const char *rel, const struct trl_limits *want,
			 struct trl_error *err);
/* Which limits a call touches. */
#define CGROUP_F_CPU 0x1
#define CGROUP_F_WEIGHT 0x2
#define CGROUP_F_MEMORY 0x4
#define CGROUP_F_PIDS 0x8
#define CGROUP_F_ALL 0xf

/* The fields of @l that are set (non-zero). */
unsigned cgroup_limits_fields(const struct trl_limits *l);
/* "cpu", "cpu-weight", "memory", "pids" for one CGROUP_F_* bit. */
const char *cgroup_field_name(unsigned field);

/* The mapping itself, one CGROUP_F_* @field at a time (unit-tested): the
 * file, the text written for @l (0 = the layout's "no limit"), and back. */
const char *cgroup_limit_file(enum cgroup_layout layout, unsigned field);
void cgroup_limit_format(enum cgroup_layout layout, unsigned field, const struct trl_limits *l, char *buf,
			 size_t len);
int cgroup_limit_parse(enum cgroup_layout layout, unsigned field, const char *text, struct trl_limits *out);

/*
 * Create trellis/<node>/<slice> in the cpu, cpuacct, memory and pids
 * hierarchies (v1) or below the cgroup2 root with those controllers enabled
 * (v2), apply @l (unset fields: no limit) and read every value back.
 * -TRL_EFAILED naming the file and both values if the kernel did not take
 * one.  The caller removes the group on failure (cgroup_remove_slice).
 */
int cgroup_slice_create(enum cgroup_layout layout, const char *node, const char *slice, const struct trl_limits *l,
			struct trl_error *err);
/*
 * Change the @fields of group @rel ("trellis/n1/blue" or
 * "trellis/n1/blue/r1") to the values in @l (0 = no limit), live, through
 * libcgroup; read them back.  On any failure the previous values are written
 * again, so the group is left as it was.  @old (may be NULL) receives the
 * values before the change.
 */
int cgroup_limits_set(enum cgroup_layout layout, const char *rel, const struct trl_limits *l, unsigned fields,
		      struct trl_limits *old, struct trl_error *err);
/* Read the @fields of group @rel from the kernel (0 = no limit; weight 0 = default). */
int cgroup_limits_read(enum cgroup_layout layout, const char *rel, unsigned fields, struct trl_limits *out,
		       struct trl_error *err);

/* Accounting of one group; a value the kernel does not offer is left 0 with its have_ bit clear. */
struct cgroup_usage {
	uint64_t cpu_ns;		/* CPU time used, ns */
	uint64_t cpu_throttled;		/* periods in which the quota ran out */
	uint64_t mem_current, mem_max;	/* bytes; max 0 = no limit */
	uint64_t mem_failcnt;		/* v1 memory.failcnt, v2 memory.events max */
	uint64_t oom_kills;		/* processes the OOM killer took in this group */
	uint64_t pids_current, pids_max;	/* max 0 = no limit */
	unsigned have_cpu : 1, have_mem : 1, have_pids : 1;
};

/* The directory of group @rel ("trellis/n1/blue/r1") under controller @ctrl's mount. */
int cgroup_dir(enum cgroup_layout layout, const char *ctrl, const char *rel, char *buf, size_t len);
int cgroup_usage_read(enum cgroup_layout layout, const char *rel, struct cgroup_usage *u);

/* Remove trellis/<node>/<slice> and trellis.monitor/<node>/<slice>.* in every
 * hierarchy, then the node's and the top-level groups if they are empty.  Idempotent. */
void cgroup_remove_slice(const char *node, const char *slice);
/* 1 if any hierarchy has trellis/<node>/<slice>. */
int cgroup_slice_exists(const char *node, const char *slice);

#endif
