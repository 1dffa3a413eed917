/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: cgroups, both layouts
 *
 * Hosts are cgroup v1 (or hybrid: v1 controllers + an empty cgroup2 mount) or
 * pure v2.  This module detects which at start and is the one place that maps
 * a trellis limit to its controller file in each layout:
 *
 *   limit    v1 (lxc.cgroup.*)                               v2 (lxc.cgroup2.*)
 *   cpu      cpu.cfs_quota_us / cpu.cfs_period_us (100000)    cpu.max "QUOTA 100000"
 *   memory   memory.limit_in_bytes                           memory.max
 *   pids     pids.max                                        pids.max
 *
 * LXC silently ignores keys of the other layout, so every limit is read back
 * after start (cgroup_verify_limits) and a mismatch fails the create.
 */
#ifndef TRELLISD_CGROUP_H
#define TRELLISD_CGROUP_H

#include <stdio.h>
#include "error.h"
#include "model.h"

enum cgroup_layout { CGROUP_LAYOUT_V1, CGROUP_LAYOUT_V2 };

int cgroup_detect(enum cgroup_layout *out, struct trl_error *err);
const char *cgroup_layout_name(enum cgroup_layout l);
/* Emit the LXC config lines that apply @l (unset fields are skipped). */
void cgroup_lxc_limits(FILE *f, enum cgroup_layout layout, const struct trl_limits *l);
/* Emit the device allowlist lines (v1 devices controller; v2 uses LXC's eBPF device program). */
void cgroup_lxc_devices(FILE *f, enum cgroup_layout layout);
/* Read every set limit of the cgroup @rel (e.g. "trellis/blue/r1") back from the kernel. */
int cgroup_verify_limits(enum cgroup_layout layout, const char *rel, const struct trl_limits *want,
			 struct trl_error *err);
/* Remove trellis/<node>/<slice> and trellis.monitor/<node>/<slice>.* in every
 * hierarchy, then the node's and the top-level groups if they are empty.  Idempotent. */
void cgroup_remove_slice(const char *node, const char *slice);
/* 1 if any hierarchy has trellis/<node>/<slice>. */
int cgroup_slice_exists(const char *node, const char *slice);

#endif
