/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host-wide claims of node names and uid ranges between trellisd instances (claim.c). */
#ifndef TRELLISD_CLAIM_H
#define TRELLISD_CLAIM_H

#include "error.h"

#define CLAIM_ROOT "/run/trellis/claims"

/* Use another root (tests). */
void claim_set_root(const char *root);

/* Hold node name @node for this process's lifetime (the fd stays open,
 * close-on-exec).  -TRL_EEXIST, naming the live holder, when another daemon
 * holds it. */
int claim_node(const char *node, const char *state_dir, int *fd_out, struct trl_error *err);

/* Give the node name up (a clean stop). */
void claim_node_release(const char *node, int fd);

/* Who claims a uid range, and how to tell this daemon's own live slices. */
struct claim_uid {
	const char *node;
	const char *slice;
	unsigned long owner;
	const char *state_dir;
	int shared;	/* a cluster slice: its other parts on this host may hold the same range */
	/* 1 if this daemon's store uses index @idx already (skipped). */
	int (*skip_index)(unsigned idx, void *arg);
	/* 1 if this daemon's store holds slice @slice (its claims are live). */
	int (*ours)(const char *slice, void *arg);
	void *arg;
};

/* Claim the first uid range (index >= 1 of root's range @start:@count, each
 * 65536 wide) that no other slice on this host holds; @want_index first when
 * it is not 0 (the cluster's choice).  Fills @index_out. */
int claim_uid_take(const struct claim_uid *c, unsigned start, unsigned count, unsigned want_index,
		   unsigned *index_out, struct trl_error *err);
/* Claim (again) the range at host uid @base that a stored slice uses. */
int claim_uid_hold(const struct claim_uid *c, unsigned base, struct trl_error *err);
/* Drop @node's claim for @slice on the range at @base. */
void claim_uid_release(const char *node, const char *slice, unsigned base);

#endif
