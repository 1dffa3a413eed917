/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: object model
 *
 * A slice is one tenant's virtual network: routers (containers) joined by
 * point-to-point links.  The model is what the spec parser produces and what
 * the daemon realizes; it holds no kernel state.  See DESIGN.md.
 *
 * Names of slices, routers and interfaces follow [a-z][a-z0-9-]* (interfaces
 * [a-z][a-z0-9]*), and every host-side name derived from them must fit
 * IFNAMSIZ: see names.h for the derivation, done in exactly one place.
 */
#ifndef TRELLIS_MODEL_H
#define TRELLIS_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define TRL_NAME_MAX 15	   /* longest slice/router name */
#define TRL_IFNAME_MAX 15  /* IFNAMSIZ - 1 */
#define TRL_MAX_ROUTERS 1024
#define TRL_MAX_LINKS 4096
#define TRL_MAX_ADDRS 8	   /* per interface / loopback */
#define TRL_MAX_DAEMONS 16
/*
 * Link keys (the EGRE key / VXLAN VNI of a cross-node link, and a link's
 * shaping class) are 1..TRL_LINK_KEY_MAX, unique per node, drawn at random
 * (cluster_keys_pick()): the substrate does not authenticate, so a key must
 * not be guessable from the order of creates.  The bound is the shaper's
 * (trellisd/shape.h SHAPE_MAX_KEY: classes 1:(0x10 + key) below 1:0x8000).
 */
#define TRL_LINK_KEY_MAX 32751u

struct trl_addr {
	int family;		/* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} a;
	int prefixlen;
	char text[64];		/* "10.0.0.1/24" as written (canonicalized) */
};

#define TRL_CPU_WEIGHT_MIN 1
#define TRL_CPU_WEIGHT_MAX 10000

struct trl_limits {
	double cpu;		/* hard quota in cores (0.5 = half a core); 0 = unset */
	unsigned cpu_weight;	/* share among siblings, 1..10000 (cgroup v2 cpu.weight, 100 = default); 0 = unset */
	uint64_t memory;	/* bytes; 0 = unset */
	uint64_t pids;		/* 0 = unset */
	uint64_t disk;		/* bytes: the router's rootfs is its own file system of this size; 0 = unset */
};

#define TRL_DISK_MIN (16ULL << 20)	/* ext4's metadata plus the private /etc and /var a router needs */
#define TRL_DISK_MAX (1ULL << 40)	/* 1T: a router's rootfs, not a storage volume */

/* Where a spec element came from, for errors after parsing. */
struct trl_mark {
	int line, col;		/* 1-based; 0 if unknown */
};

struct trl_router {
	char name[TRL_NAME_MAX + 1];
	char template_name[32];	/* "frr" (default), "plain", or another installed template */
	char *config;		/* routing config text (frr.conf), inline or read from config-file; may be NULL */
	char *config_file;	/* the config-file value as written, or NULL */
	char daemons[TRL_MAX_DAEMONS][16]; /* FRR daemons besides zebra/staticd: "ospfd", "bgpd" ... */
	size_t n_daemons;
	struct trl_addr loopback[TRL_MAX_ADDRS];
	size_t n_loopback;
	struct trl_limits limits;	/* per-router; unset fields inherit router-defaults */
	char node[TRL_NAME_MAX + 1];	/* substrate node it runs on; "" = the node given the spec */
	struct trl_mark mark;
};

struct trl_endpoint {
	char router[TRL_NAME_MAX + 1];
	char ifname[TRL_IFNAME_MAX + 1];
	struct trl_addr addrs[TRL_MAX_ADDRS];	/* from the link's ipv4:/ipv6: lists */
	size_t n_addrs;
};

/* Shaping and impairment of a link, per direction (both directions alike). */
struct trl_link_shape {
	uint64_t rate;		/* bit/s guaranteed, 0 = unshaped */
	uint64_t ceil;		/* bit/s it may borrow up to (HTB ceil), 0 = rate */
	uint64_t burst;		/* bytes, 0 = derived from the rate */
	uint32_t loss_ppm;	/* random loss, parts per million */
	uint32_t delay_us;	/* added delay (netem) */
	uint32_t jitter_us;	/* delay variation (netem), needs delay */
};

struct trl_link {
	struct trl_endpoint ep[2];
	struct trl_link_shape shape;
	char name[64];		/* "r1:eth1-r2:eth1", derived */
	struct trl_mark mark;
};

/* placement: of a slice (cluster mode, man/trellis-slice.5). */
enum {
	TRL_PLACE_DEFAULT = 0,	/* routers name their node (or 'any') */
	TRL_PLACE_EACH_NODE,	/* the routers are a template sliver, instantiated on every live node */
	TRL_PLACE_SPREAD,	/* unplaced routers to the node with the fewest routers, then most free CPU */
	TRL_PLACE_PACK,		/* unplaced routers to the node with the most routers that has room */
};

struct trl_slice {
	char name[TRL_NAME_MAX + 1];
	char owner[64];		/* user name or numeric uid as written; "" = the caller */
	char *description;
	struct trl_limits limits;		/* limits: the slice's aggregate (its parent cgroup) */
	struct trl_limits router_defaults;	/* router-defaults: limits: applied to every router */
	char tunnel[16];	/* forced cross-node tunnel kind ("egre", "gretap", "vxlan"), "" = the node's best */
	int persist;		/* persist: rebuilt by trellisd after a host restart */
	uint64_t bw_rate;	/* bandwidth: the slice's guaranteed share of each node's substrate, 0 = none */
	uint64_t bw_ceil;	/* bandwidth: ceil, what it may borrow up to; 0 = bw_rate */
	int placement;		/* placement: TRL_PLACE_* (cluster mode) */
	struct trl_router *routers;
	size_t n_routers;
	struct trl_link *links;
	size_t n_links;
};

void trl_slice_free(struct trl_slice *s);	/* frees contents and @s itself; NULL-safe */
struct trl_router *trl_slice_router(const struct trl_slice *s, const char *name);
/* Effective limits of a router (its own, else the slice's router-defaults). */
struct trl_limits trl_router_limits(const struct trl_slice *s, const struct trl_router *r);

/* Address helpers (lib/addr.c). */
/* Parse "10.0.0.1/24" or "fd00::1/64"; the prefix length is required. -EINVAL if malformed. */
int trl_addr_parse(const char *text, struct trl_addr *out);
/* True if the two prefixes overlap (same family, one network contains the other). */
int trl_addr_prefix_overlap(const struct trl_addr *a, const struct trl_addr *b);
/* True if both addresses are in the same prefix (using a's prefix length). */
int trl_addr_same_subnet(const struct trl_addr *a, const struct trl_addr *b);
int trl_addr_equal(const struct trl_addr *a, const struct trl_addr *b);

#endif
