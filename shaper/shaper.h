/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: shaper - egress bandwidth limits on host-side interfaces
 *
 * For now one TBF as the root qdisc of an interface (the host end of a
 * link's veth: frames the shortbridge redirects leave through it, so it
 * shapes the link in that direction).  Changes are made in place, never by
 * delete + add, so a rate change does not drop the queue.  A later version
 * turns this into the HTB tree of DESIGN.md (slice class -> link classes).
 *
 * Rates are in bits per second.  All functions return >= 0 on success or a
 * negative TRL_E* code with @err filled in.
 */
#ifndef TRELLIS_SHAPER_H
#define TRELLIS_SHAPER_H

#include <stdint.h>
#include "error.h"

/* Highest rate a TBF can be given through libnl 3.7 (32-bit bytes/s): ~17 Gbit/s. */
#define SHAPER_RATE_MAX (8ULL * 0x7fffffffULL)

/*
 * Check that TBF qdiscs can be installed here (tried on the loopback device of
 * a throw-away network namespace).  0, or -TRL_EUNAVAIL with the reason.
 */
int shaper_probe(struct trl_error *err);

/*
 * Limit egress of @ifname to @rate_bps (> 0, <= SHAPER_RATE_MAX) with a root
 * TBF, created or changed in place (its handle stays the same).  The bucket
 * is max(rate / HZ, 10 frames) and the queue ~50 ms at rate (at least 4
 * frames), frames being MTU + Ethernet header.  @rate_bps == 0 removes the
 * root qdisc so the interface is unshaped again (nothing there is fine).
 * A different root qdisc is replaced.  TRL_ENOTFOUND if no such interface.
 */
int shaper_link_set_rate(const char *ifname, uint64_t rate_bps, struct trl_error *err);

/* Current TBF rate of @ifname in bits per second; 0 when its root qdisc is not a TBF. */
int shaper_link_get_rate(const char *ifname, uint64_t *rate_bps, struct trl_error *err);

#endif
