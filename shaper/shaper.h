/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: shaper - HTB trees on egress points, changed in place
 *
 * Every egress point trellis shapes gets one HTB qdisc with handle 1: as
 * its root, and classes under it (the tree layout is the daemon's choice,
 * see DESIGN.md and trellisd/slice-realize.c):
 *  - the substrate interface: 1:1 the node's capacity, under it a class per
 *    slice with a bandwidth (its links' classes below it), a class per shaped
 *    link of a slice without one, 1:2 for the host's own traffic (the default
 *    class) and 1:3 for unshaped tenant traffic.  Frames are steered into
 *    their class by the fast path (skb->priority = class id, which HTB takes
 *    as the classification; no filters);
 *  - the host end of a shaped same-node link: 1:1 at the link's ceil, 1:10
 *    (rate, ceil) under it as the default class.
 * Classes are created or changed in place (NLM_F_REPLACE on an existing class
 * id is an HTB change: same class, same queue, no packet lost); the root is
 * only ever created or deleted whole.
 *
 * Rates are bit/s (iproute2 semantics: what HTB counts, the frame as it
 * enters the qdisc including its Ethernet header), bursts bytes.  @overhead
 * of a tree is added to every packet's length before HTB counts it (a tc size
 * table, may be negative): the substrate tree uses minus the encapsulation
 * overhead so that a link's rate counts the tenant's frames, not the tunnel's.
 *
 * All functions return >= 0 on success or a negative TRL_E* code with @err
 * filled in, and act in the network namespace of the calling thread.
 */
#ifndef TRELLIS_SHAPER_H
#define TRELLIS_SHAPER_H

#include <stdint.h>
#include "error.h"

#define SHAPER_MAJOR 0x10000u			  /* handle 1: */
#define SHAPER_H(minor) (SHAPER_MAJOR | (minor)) /* class 1:minor */
#define SHAPER_MINOR(h) ((h) & 0xffffu)
#define SHAPER_RATE_MAX 1000000000000ULL	  /* 1 Tbit/s, like the spec */

struct shaper_class {
	uint32_t classid;	/* SHAPER_H(minor), minor >= 1 */
	uint32_t parent;	/* SHAPER_H(minor) of the parent class; 0 = at the root */
	uint64_t rate;		/* bit/s guaranteed, > 0 */
	uint64_t ceil;		/* bit/s it may borrow up to; 0 = rate */
	uint64_t burst;		/* bytes at rate (and at ceil); 0 = derived: 4 ms at the rate, at
				   least 10 full frames */
};

struct shaper_class_info {
	uint32_t classid;
	uint64_t rate, ceil;	/* bit/s as the kernel has them */
	uint64_t burst, cburst;	/* bytes */
	uint32_t parent;
	int leaf;		/* 1 if no class hangs below it */
	uint64_t bytes, packets, drops, overlimits;
	uint64_t backlog_bytes, backlog_packets;
	char leaf_qdisc[16];	/* kind of the class's own queue: "pfifo", "netem"... ("" if inner) */
};

/* HTB usable here (a tree tried on the loopback of a scratch namespace). 0 or -TRL_EUNAVAIL. */
int shaper_probe(struct trl_error *err);

/* netem usable here (delay/jitter on links).  0, or -TRL_EUNAVAIL with the reason
 * naming the missing kernel feature (sch_netem). */
int shaper_probe_netem(struct trl_error *err);

/*
 * Make the root of @ifname an HTB 1: whose unclassified traffic goes to class
 * 1:@defcls, packets counted @overhead bytes longer (may be negative).  An
 * existing HTB 1: with the same default class and overhead is kept as it is
 * (with its classes); any other root qdisc is replaced.  Returns 1 if the
 * tree was created, 0 if it was there.  TRL_ENOTFOUND if no such interface.
 */
int shaper_tree_ensure(const char *ifname, uint32_t defcls, int overhead, struct trl_error *err);

/* Delete the root qdisc of @ifname if it is our HTB 1: (classes go with it).
 * Idempotent; a missing interface is fine. */
int shaper_tree_remove(const char *ifname, struct trl_error *err);

/* 1 if @ifname's root is an HTB 1:, 0 if not (or no such interface). */
int shaper_tree_exists(const char *ifname);

/* Create class @c under the tree of @ifname, or change it in place. */
int shaper_class_set(const char *ifname, const struct shaper_class *c, struct trl_error *err);

/* Delete class @classid (and its leaf qdisc).  Idempotent. */
int shaper_class_del(const char *ifname, uint32_t classid, struct trl_error *err);

/* What the kernel has for class @classid.  TRL_ENOTFOUND if there is no such class. */
int shaper_class_get(const char *ifname, uint32_t classid, struct shaper_class_info *out,
		     struct trl_error *err);

/* Every HTB class of @ifname's tree (leaf/leaf_qdisc not filled), malloc'd
 * into *@out (free() it).  Returns the count; 0 with *@out NULL when no tree. */
int shaper_class_list(const char *ifname, struct shaper_class_info **out, struct trl_error *err);

/* Number of classes in @ifname's tree whose minor is not in [1, @base_max]
 * (i.e. those the daemon added for tenants).  0 when there is no tree. */
int shaper_tenant_classes(const char *ifname, uint32_t base_max, struct trl_error *err);

/* Give leaf class @classid a byte-limited FIFO (bfifo, handle minor:) instead
 * of HTB's default one (txqueuelen packets: 1000 GSO super-packets can be 64 MB). */
int shaper_class_fifo(const char *ifname, uint32_t classid, uint64_t limit_bytes, struct trl_error *err);

/*
 * Give leaf class @classid a netem queue with @delay_us and @jitter_us (in
 * place if it has one), or with both 0 the default queue back.
 * TRL_EUNAVAIL (naming sch_netem) if the kernel has no netem.
 */
int shaper_class_netem(const char *ifname, uint32_t classid, uint32_t delay_us, uint32_t jitter_us,
		       struct trl_error *err);

#endif
