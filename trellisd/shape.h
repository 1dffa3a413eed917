/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: link shaping policy - which HTB class a link's frames use, and admission
 *
 * The mechanism (HTB trees, classes, netem leaves) is shaper/; the fast path
 * steers frames (bridge/).  This file decides the layout, the one place class
 * ids are derived:
 *
 * Substrate (cross-node links, this node's direction):
 *   1:1            the node's capacity (trellisd --capacity, else the
 *                  substrate's link speed)
 *   1:2            default: the host's own traffic (2% guaranteed, ceil capacity)
 *   1:(0x8000|i)   slice with uid index i: rate = its bandwidth (or the sum of
 *                  its links' rates + 100kbit), ceil = its bandwidth ceil (or
 *                  the capacity)
 *   1:(0xc000|i)   under it: the slice's unshaped links (what is left of the
 *                  slice's rate, at least 100kbit; ceil = the slice's)
 *   1:(0x10+K)     under it: shaped link with key K (its rate, ceil, burst)
 * The substrate tree counts packets 42 bytes shorter (the EGRE overhead), so
 * rates are of tenant frames, like tc on the router's own interface.
 *
 * Same-node links (both directions, on each host end's egress):
 *   1:1 at the link's ceil, 1:10 (rate, ceil, burst) as the default class.
 *
 * Admission: the guaranteed rates of the slice classes under 1:1, read from
 * the kernel's tree, may not exceed the capacity minus what 1:2 keeps.
 */
#ifndef TRELLISD_SHAPE_H
#define TRELLISD_SHAPE_H

#include <stdint.h>
#include "error.h"
#include "model.h"

struct daemon;

#define SHAPE_CLS_NODE 1u
#define SHAPE_CLS_HOST 2u
#define SHAPE_LOCAL_ROOT 1u
#define SHAPE_LOCAL_LEAF 0x10u
#define SHAPE_MIN_RATE 100000ULL	/* guaranteed floor of unshaped classes, bit/s */
#define SHAPE_MAX_SLICE_INDEX 0x3fffu
#define SHAPE_LINK_BASE 0x10u	/* link with key K: class 1:(0x10 + K) */
#define SHAPE_MAX_KEY (0x7fffu - SHAPE_LINK_BASE)

/* One slice's presence on this node's substrate. */
struct shape_slice {
	unsigned index;		/* uid index: slice class 1:(0x8000|index) */
	uint64_t bw_rate, bw_ceil;	/* bandwidth:, 0 = none */
	uint64_t links_rate;	/* sum of its shaped tunnel links' rates here */
	int n_tunnel;		/* tunnel links on this node */
};

uint32_t shape_slice_class(unsigned index);
uint32_t shape_slice_default(unsigned index);
uint32_t shape_link_class(uint32_t key);

/* Guaranteed rate the slice class takes from the node. */
uint64_t shape_slice_guaranteed(const struct shape_slice *ss);

/* Substrate tree, base classes and the slice's classes (in place if present).
 * No tunnel links: nothing.  Refused (TRL_ELIMIT, naming the numbers) when
 * the slice's guaranteed rate does not fit next to the other slices'. */
int shape_slice_apply(struct daemon *d, const struct shape_slice *ss, const char *slice,
		      struct trl_error *err);

/* Admission only (nothing changes): would @ss fit?  (@ss replaces the slice's current class.) */
int shape_slice_admit(struct daemon *d, const struct shape_slice *ss, const char *slice,
		      struct trl_error *err);

/*
 * Apply @sh to a link.  Same node: @host_a and @host_b both set; tunnel:
 * @host_b NULL, @host_a this node's host end, @key its key, @ss its slice.
 * Creates/changes classes in place, sets the fast path's priority, loss and
 * redirect_peer (only for links without a qdisc on their way), netem where
 * delay is asked for.
 */
int shape_link_apply(struct daemon *d, const struct shape_slice *ss, const char *host_a, const char *host_b,
		     uint32_t key, const struct trl_link_shape *sh, struct trl_error *err);

/* Remove a slice's substrate classes (links first), and the substrate tree
 * when no slice class is left.  Idempotent, never fails half-way. */
void shape_slice_remove(struct daemon *d, unsigned index, const uint32_t *keys, size_t n_keys);

/* Current class of a link for stats: the same-node host end's 1:10, or the
 * substrate's 1:K (0 and TRL_ENOTFOUND when unshaped). */
int shape_link_class_of(const struct trl_link_shape *sh, int tunnel, uint32_t key, uint32_t *classid);

/* Capacity now guaranteed to slices on the substrate (bit/s). */
uint64_t shape_node_guaranteed(struct daemon *d);
/* What a new slice could still be guaranteed here: capacity less the host's share less the slices' classes. */
uint64_t shape_node_free(struct daemon *d);

#endif
