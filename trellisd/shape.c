/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: link shaping policy
 *
 * See shape.h for the layout.  Everything here is idempotent: applying the
 * same settings twice changes nothing, and a change is made class by class
 * in place (HTB change), never by rebuilding a tree that carries traffic.
 */
#define LOG_MODULE "shape"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "bridge.h"
#include "log.h"
#include "shape.h"
#include "shaper.h"
#include "trellisd.h"
#include "units.h"

/* EGRE over IPv4: outer IP 20 + GRE 8 + outer Ethernet 14 - the frame's own
 * Ethernet header is counted in both: 42 bytes to take off each packet. */
#define SUBSTRATE_OVERHEAD (-42)

uint32_t shape_slice_class(unsigned index)
{
	return SHAPER_H(0x8000u | index);
}

uint32_t shape_slice_default(unsigned index)
{
	return SHAPER_H(0xc000u | index);
}

uint32_t shape_link_class(uint32_t key)
{
	return SHAPER_H(SHAPE_LINK_BASE + key);
}

static uint64_t host_reserve(const struct daemon *d)
{
	uint64_t r = d->capacity / 50;

	return r < SHAPE_MIN_RATE ? SHAPE_MIN_RATE : r;
}

uint64_t shape_slice_guaranteed(const struct shape_slice *ss)
{
	if (ss->bw_rate)
		return ss->bw_rate;
	return ss->links_rate + SHAPE_MIN_RATE;
}

static void rate_str(uint64_t bps, char *buf, size_t len)
{
	units_rate_format(bps, buf, len);
}

/* Sum of the guaranteed rates of slice classes directly under 1:1, except @skip. */
static uint64_t guaranteed_except(struct daemon *d, uint32_t skip)
{
	struct shaper_class_info *ci = NULL;
	struct trl_error e = { 0 };
	uint64_t sum = 0;
	int n;

	if (!d->has_substrate)
		return 0;
	n = shaper_class_list(d->sub.ifname, &ci, &e);
	for (int i = 0; i < n; i++)
		if (ci[i].parent == SHAPER_H(SHAPE_CLS_NODE) && ci[i].classid != SHAPER_H(SHAPE_CLS_HOST) &&
		    ci[i].classid != skip)
			sum += ci[i].rate;
	free(ci);
	return sum;
}

uint64_t shape_node_guaranteed(struct daemon *d)
{
	return guaranteed_except(d, 0);
}

uint64_t shape_node_free(struct daemon *d)
{
	uint64_t avail = d->capacity > host_reserve(d) ? d->capacity - host_reserve(d) : 0, g = guaranteed_except(d, 0);

	return avail > g ? avail - g : 0;
}

int shape_slice_admit(struct daemon *d, const struct shape_slice *ss, const char *slice,
		      struct trl_error *err)
{
	uint64_t want, others, avail;
	char a[32], b[32], c[32], cap[32], h[32];

	if (!ss->n_tunnel)
		return 0;
	if (ss->index < 1 || ss->index > SHAPE_MAX_SLICE_INDEX)
		return trl_error_set(err, TRL_ELIMIT, "slice '%s': uid index %u is beyond the %u slices shaping can tell apart",
				     slice, ss->index, SHAPE_MAX_SLICE_INDEX);
	if (ss->bw_rate && ss->links_rate > ss->bw_rate) {
		rate_str(ss->links_rate, a, sizeof(a));
		rate_str(ss->bw_rate, b, sizeof(b));
		return trl_error_set(err, TRL_ELIMIT,
				     "slice '%s': its cross-node links on node '%s' are guaranteed %s in total, above the slice's bandwidth %s",
				     slice, d->node_name, a, b);
	}
	want = shape_slice_guaranteed(ss);
	others = guaranteed_except(d, shape_slice_class(ss->index));
	avail = d->capacity > host_reserve(d) ? d->capacity - host_reserve(d) : 0;
	if (want + others > avail) {
		rate_str(want, a, sizeof(a));
		rate_str(others, b, sizeof(b));
		rate_str(avail, c, sizeof(c));
		rate_str(d->capacity, cap, sizeof(cap));
		rate_str(host_reserve(d), h, sizeof(h));
		return trl_error_set(err, TRL_ELIMIT,
				     "slice '%s' needs %s guaranteed on node '%s', but other slices hold %s of the %s available (capacity %s minus %s for the host)",
				     slice, a, d->node_name, b, c, cap, h);
	}
	return 0;
}

/* The queue of a leaf class: 50 ms at its ceil, at least 128 KB (two GSO
 * super-packets), at most 8 MB: enough for TCP to fill the class (at 1gbit
 * 20 ms cost ~1% of goodput in drops), not the seconds of bufferbloat HTB's
 * default (1000 packets) can hold. */
static int leaf_queue(const char *dev, uint32_t classid, uint64_t ceil_bps, struct trl_error *err)
{
	uint64_t limit = ceil_bps / 8 / 20;

	if (limit < 128 * 1024)
		limit = 128 * 1024;
	if (limit > 8 * 1024 * 1024)
		limit = 8 * 1024 * 1024;
	return shaper_class_fifo(dev, classid, limit, err);
}

static int tree_ensure(struct daemon *d, struct trl_error *err)
{
	struct shaper_class node = { .classid = SHAPER_H(SHAPE_CLS_NODE), .rate = d->capacity };
	struct shaper_class host = { .classid = SHAPER_H(SHAPE_CLS_HOST), .parent = SHAPER_H(SHAPE_CLS_NODE),
				     .rate = host_reserve(d), .ceil = d->capacity };
	int r = shaper_tree_ensure(d->sub.ifname, SHAPE_CLS_HOST, SUBSTRATE_OVERHEAD, err);

	if (r < 0)
		return r;
	if (r == 1 || shaper_class_get(d->sub.ifname, node.classid, &(struct shaper_class_info){ 0 }, err) < 0) {
		if (shaper_class_set(d->sub.ifname, &node, err) < 0 || shaper_class_set(d->sub.ifname, &host, err) < 0 ||
		    leaf_queue(d->sub.ifname, host.classid, host.ceil, err) < 0)
			return -err->code;
		log_info("substrate '%s': shaping tree at %llu bit/s", d->sub.ifname,
			 (unsigned long long)d->capacity);
	}
	trl_error_clear(err);
	return 0;
}

int shape_slice_apply(struct daemon *d, const struct shape_slice *ss, const char *slice,
		      struct trl_error *err)
{
	uint64_t ceil, left;
	struct shaper_class sc, dc;

	if (!ss->n_tunnel || !d->has_substrate)
		return 0;
	if (shape_slice_admit(d, ss, slice, err) < 0)
		return -err->code;
	if (tree_ensure(d, err) < 0)
		return -err->code;
	ceil = ss->bw_rate ? (ss->bw_ceil ? ss->bw_ceil : ss->bw_rate) : d->capacity;
	if (ceil > d->capacity)
		ceil = d->capacity;
	sc = (struct shaper_class){ .classid = shape_slice_class(ss->index), .parent = SHAPER_H(SHAPE_CLS_NODE),
				    .rate = shape_slice_guaranteed(ss) },
	sc.ceil = ceil < sc.rate ? sc.rate : ceil;
	left = sc.rate > ss->links_rate ? sc.rate - ss->links_rate : 0;
	dc = (struct shaper_class){ .classid = shape_slice_default(ss->index), .parent = sc.classid,
				    .rate = left < SHAPE_MIN_RATE ? SHAPE_MIN_RATE : left, .ceil = sc.ceil };
	if (dc.ceil < dc.rate)
		dc.ceil = dc.rate;
	if (shaper_class_set(d->sub.ifname, &sc, err) < 0 || shaper_class_set(d->sub.ifname, &dc, err) < 0 ||
	    leaf_queue(d->sub.ifname, dc.classid, dc.ceil, err) < 0)
		return trl_error_prefix(err, "slice '%s': substrate class", slice);
	return 0;
}

void shape_slice_remove(struct daemon *d, unsigned index, const uint32_t *keys, size_t n_keys)
{
	struct trl_error e = { 0 };

	if (!d->has_substrate || !shaper_tree_exists(d->sub.ifname))
		return;
	for (size_t i = 0; i < n_keys; i++)
		if (keys[i] && shaper_class_del(d->sub.ifname, shape_link_class(keys[i]), &e) < 0)
			log_warn("%s", e.msg);
	if (shaper_class_del(d->sub.ifname, shape_slice_default(index), &e) < 0 ||
	    shaper_class_del(d->sub.ifname, shape_slice_class(index), &e) < 0)
		log_warn("%s", e.msg);
	if (shaper_tenant_classes(d->sub.ifname, SHAPE_CLS_HOST, &e) == 0) {
		if (shaper_tree_remove(d->sub.ifname, &e) < 0)
			log_warn("%s", e.msg);
		else
			log_info("substrate '%s': no slice class left, shaping tree removed", d->sub.ifname);
	}
}

/* The host end of a same-node link: tree, or none when the link is plain. */
static int local_end(const char *host, const struct trl_link_shape *sh, struct trl_error *err)
{
	uint64_t rate = sh->rate ? sh->rate : SHAPER_RATE_MAX / 10, ceil = sh->ceil ? sh->ceil : rate;
	struct shaper_class root = { .classid = SHAPER_H(SHAPE_LOCAL_ROOT), .rate = ceil };
	struct shaper_class leaf = { .classid = SHAPER_H(SHAPE_LOCAL_LEAF), .parent = SHAPER_H(SHAPE_LOCAL_ROOT),
				     .rate = rate, .ceil = ceil, .burst = sh->burst };

	if (!sh->rate && !sh->delay_us)
		return shaper_tree_remove(host, err);
	if (shaper_tree_ensure(host, SHAPE_LOCAL_LEAF, 0, err) < 0)
		return -err->code;
	/* Growing: the parent first, so the child never asks more than it has;
	 * shrinking: the child first.  Either way each class changes in place. */
	if (shaper_class_set(host, &root, err) < 0 || shaper_class_set(host, &leaf, err) < 0 ||
	    shaper_class_set(host, &root, err) < 0)
		return -err->code;
	if (sh->delay_us ? shaper_class_netem(host, leaf.classid, sh->delay_us, sh->jitter_us, err) < 0
			 : leaf_queue(host, leaf.classid, ceil, err) < 0)
		return -err->code;
	return 0;
}

int shape_link_apply(struct daemon *d, const struct shape_slice *ss, const char *host_a, const char *host_b,
		     uint32_t key, const struct trl_link_shape *sh, struct trl_error *err)
{
	struct bridge_port_opts po = { .loss_ppm = sh->loss_ppm };

	if (!d->bridge)
		return trl_error_set(err, TRL_EUNAVAIL, "no fast path on node '%s'", d->node_name);
	if (host_b) {
		/* redirect_peer skips the peer's egress qdisc: only without one. */
		po.peer = !sh->rate && !sh->delay_us;
		if (local_end(host_a, sh, err) < 0 || local_end(host_b, sh, err) < 0)
			return -err->code;
		if (bridge_port_update(d->bridge, host_a, &po, err) < 0 ||
		    bridge_port_update(d->bridge, host_b, &po, err) < 0)
			return -err->code;
		return 0;
	}

	/* This node's half of a tunnel. */
	po.peer = -1;
	if (key < 1 || key > SHAPE_MAX_KEY)
		return trl_error_set(err, TRL_ELIMIT, "link key %u is outside the 1..%u shaping can tell apart", key,
				     SHAPE_MAX_KEY);
	if (sh->rate || sh->delay_us) {
		uint64_t scap = ss->bw_rate ? (ss->bw_ceil ? ss->bw_ceil : ss->bw_rate) : d->capacity;
		struct shaper_class lc = { .classid = shape_link_class(key), .parent = shape_slice_class(ss->index),
					   .rate = sh->rate ? sh->rate : SHAPE_MIN_RATE,
					   .ceil = sh->ceil ? sh->ceil : (sh->rate ? sh->rate : scap),
					   .burst = sh->burst };

		if (lc.ceil < lc.rate)
			lc.ceil = lc.rate;
		if (shaper_class_set(d->sub.ifname, &lc, err) < 0 ||
		    (sh->delay_us ? shaper_class_netem(d->sub.ifname, lc.classid, sh->delay_us, sh->jitter_us, err)
				  : leaf_queue(d->sub.ifname, lc.classid, lc.ceil, err)) < 0)
			return -err->code;
		po.priority = lc.classid;
	} else {
		struct trl_error e = { 0 };

		po.priority = shape_slice_default(ss->index);
		/* Unshaped now: a class it had before goes (after the port moved). */
		if (bridge_port_update(d->bridge, host_a, &po, err) < 0)
			return -err->code;
		if (shaper_class_del(d->sub.ifname, shape_link_class(key), &e) < 0)
			log_warn("%s", e.msg);
		return 0;
	}
	return bridge_port_update(d->bridge, host_a, &po, err);
}

int shape_link_class_of(const struct trl_link_shape *sh, int tunnel, uint32_t key, uint32_t *classid)
{
	*classid = 0;
	if (!sh->rate && !sh->delay_us)
		return -TRL_ENOTFOUND;
	*classid = tunnel ? shape_link_class(key) : SHAPER_H(SHAPE_LOCAL_LEAF);
	return 0;
}
