/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: bridge - the fast path: same-node shortbridge and EGRE tunnels (eBPF at tc)
 *
 * Every router interface is a veth whose host end stays in the node's
 * namespace.  One BPF object per node (fastpath.bpf.c) serves all of them:
 *  - a link between two routers on this node joins their host ends
 *    (bridge_link_attach): frames entering one end are redirected to the
 *    other;
 *  - a link to a router on another node is this node's half of an EGRE
 *    tunnel (bridge_tunnel_attach): frames entering the host end are
 *    encapsulated towards the remote node and sent out of the substrate
 *    interface; EGRE packets arriving on the substrate (bridge_substrate_attach)
 *    are decapsulated by key and redirected into the host end.
 * Programs and maps are pinned under a per-node pin directory, so forwarding
 * and counters survive a daemon restart; programs stay attached until the
 * interfaces go away or a detach removes them.
 *
 * EGRE on the wire, the layout Linux `gretap key N` emits and accepts (and
 * VINI Trellis used; not tried against a real gretap here: no GRE module):
 *   outer Ethernet | outer IPv4 (20) or IPv6 (40) | GRE: flags 0x2000 (key
 *   only, version 0), protocol 0x6558, key N (8) | inner Ethernet frame
 *   (VLAN tag inside when the router used one).
 * Outer header fields: source = the node's configured address, DF set (as
 * gretap's default pmtudisc; nothing fragments an EGRE packet, oversize
 * frames are dropped and counted instead), TTL / hop limit 64 (gretap's
 * default "inherit" would give TTL-1 tenant packets, e.g. OSPF or BGP, an
 * outer TTL of 1), TOS / traffic class 0 (tenants do not choose the
 * substrate's QoS, and no ECN: congestion on the substrate shows up as loss),
 * IPv4 ID 0 (atomic datagrams, RFC 6864; GSO numbers segments upwards),
 * header checksum computed by the program, IPv6 flow label from the inner
 * flow hash.  The receiving side accepts only that shape (see
 * bridge_substrate_attach) and passes everything else to the stack untouched.
 *
 * MTU: an encapsulated frame must fit the substrate MTU, so router
 * interfaces on cross-node links need bridge_inner_mtu() (substrate MTU - 42
 * for an IPv4 outer header, - 62 for IPv6).  Frames that would not fit are
 * dropped and counted (drops_mtu): redirected frames bypass the kernel's MTU
 * checks, nothing would report them otherwise.  GSO frames are checked per
 * segment and stay GSO through the tunnel.
 *
 * Segmentation into routers: BPF cannot clear the "encapsulated" mark the
 * kernel keeps on a GSO frame after decapsulation, and a router forwarding
 * such a frame into another tunnel would have it refused (measured: TCP
 * through a transit router stalls).  So tunnel host ends get GRE
 * segmentation offload turned off, and the kernel segments decapsulated GSO
 * frames on their way into the router (measured on a veth wire: one TCP
 * stream into a router 2.7-3.8 instead of 6.2 Gbit/s; transit works).
 *
 * What the daemon must do:
 *  - bridge_substrate_attach() once per node (again after changing the
 *    substrate's MTU or address), bridge_tunnel_attach() for each cross-node
 *    link, and bridge_neigh_refresh() for each remote node address (at tunnel
 *    attach; calling it again is harmless).  bridge_tunnel_attach() resolves
 *    the route to the remote node once and keeps the next hop in the port
 *    entry, so encapsulated frames skip the kernel's per-frame route lookup
 *    (bpf_redirect_neigh with that next hop; the kernel still resolves the
 *    neighbour itself); call bridge_nexthops_refresh() on route changes
 *    (bridge_route_watch_open()).  The refresh makes the neighbour entry
 *    kernel-managed, kept REACHABLE without a timer in the daemon, also while
 *    it is stopped, so frames do not wait for resolution.
 *    bridge_neigh_release() when no link to that node is left;
 *  - set router interface MTUs on cross-node links to bridge_inner_mtu();
 *  - detach BEFORE deleting the veths.  Map entries are keyed by ifindex,
 *    which can only be learnt from a name while the interface exists; link
 *    detach copes with one end already gone (it finds that end's ifindex in
 *    the surviving end's entry), tunnel detach with the host end gone (through
 *    the key), and bridge_prune() removes entries left behind otherwise.
 *
 * All functions return >= 0 on success, or a negative TRL_E* code with @err
 * filled in.  Nothing here prints above debug; libbpf's own messages are
 * routed into the trellis log (warnings as warnings, the rest as debug).
 */
#ifndef TRELLIS_BRIDGE_H
#define TRELLIS_BRIDGE_H

#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "error.h"

struct bridge;

/* bridge_link_attach() / bridge_tunnel_attach() flag: hand IPv4/IPv6 frames
 * straight to the (peer) router's namespace with bpf_redirect_peer() (other
 * frames, e.g. ARP, still take bpf_redirect; so do GSO and multicast frames
 * out of a tunnel).  Faster, but those frames skip the host end's egress
 * qdisc, i.e. they are NOT shaped.  The host ends must be veths whose other
 * ends live in another network namespace (the routers'): otherwise the
 * kernel silently drops the IP frames (measured; they still count as
 * forwarded in bridge_port_stats). */
#define BRIDGE_F_PEER 0x1u
/* bridge_tunnel_attach: leave GRE segmentation offload on at the host end;
 * the caller turns it off on the router-side end instead
 * (bridge_gre_offload_set), which keeps decapsulated TCP super-packets whole
 * on their way into the router (about 2.5x single-stream TCP). */
#define BRIDGE_F_KEEP_GSO 0x2u

/* Default pin directory root; the daemon uses BRIDGE_PIN_ROOT "/<node>". */
#define BRIDGE_PIN_ROOT "/sys/fs/bpf/trellis"

/*
 * Check that the fast path can work on this host: bpffs available, BPF
 * sched_cls programs and per-CPU hash maps loadable, bpf_redirect present,
 * and a clsact qdisc + direct-action cls_bpf filter attachable (tried on the
 * loopback device of a throw-away network namespace, so nothing visible
 * changes).  Returns 0, or -TRL_EUNAVAIL with the reason in @err.
 * Needs the privileges the daemon runs with (CAP_BPF, CAP_NET_ADMIN,
 * CAP_SYS_ADMIN); without them it reports that as the reason.
 */
int bridge_probe(struct trl_error *err);

/*
 * Open the fast path whose pins live in @pin_dir (e.g.
 * "/sys/fs/bpf/trellis/node1").  Mounts bpffs on /sys/fs/bpf if nothing is
 * mounted there and creates @pin_dir.  Existing map pins are reused (libbpf
 * pin reuse).  A pinned program is kept when it is the same code (BPF tag)
 * and uses those maps; otherwise the freshly loaded program replaces the pin
 * and every attachment (ports in the port map, the configured substrate), so
 * an upgraded build takes over without dropping links.  Same-node links of
 * the previous (shortbridge, sb_*) pin layout are migrated the same way.
 * Map pins from an incompatible build make this fail with TRL_EFAILED;
 * remove them with bridge_unpin().
 */
int bridge_open(const char *pin_dir, struct bridge **out, struct trl_error *err);

/* Release the handle.  NULL-safe.  Pins and attached programs stay in place. */
void bridge_close(struct bridge *b);

/*
 * Join host ends @host_a and @host_b point-to-point: map entries in both
 * directions, then a clsact qdisc (created if missing) and the program as a
 * direct-action ingress filter on both.  Idempotent: attaching the same pair
 * again (e.g. to change @flags) is fine.  An end already joined to a
 * different, still existing interface, or carrying a tunnel, is refused
 * (TRL_EEXIST): detach first.
 * Missing interfaces are TRL_ENOTFOUND.  On failure the pair may be half
 * joined; bridge_link_detach() cleans that up.
 * @flags: 0 or BRIDGE_F_PEER.
 */
int bridge_link_attach(struct bridge *b, const char *host_a, const char *host_b, unsigned flags,
		       struct trl_error *err);

/*
 * Undo bridge_link_attach(): delete both map entries and their counters,
 * remove our ingress filter from the ends that still exist (the clsact qdisc
 * is left, other filters may share it).  Idempotent: missing interfaces,
 * entries, qdiscs and filters are not errors.  If one end is already gone its
 * ifindex is recovered from the other end's entry; if both are gone nothing
 * can be resolved by name -- call bridge_prune().  Refuses (TRL_EINVALID)
 * when an end is joined to a third, still existing interface rather than to
 * the other end; an entry pointing at a vanished interface is simply removed.
 */
int bridge_link_detach(struct bridge *b, const char *host_a, const char *host_b,
		       struct trl_error *err);

struct bridge_port_stats {
	unsigned long long packets;	   /* frames from the router forwarded (to the peer
					      end or into the tunnel) */
	unsigned long long bytes;	   /* their bytes (skb->len, Ethernet header included) */
	unsigned long long rx_packets;	   /* frames handed to the router (from the peer end
					      or out of the tunnel) */
	unsigned long long rx_bytes;
	unsigned long long drops;	   /* frames from the router dropped: the sum of */
	unsigned long long drops_unjoined; /*  - port has the program but no entry */
	unsigned long long drops_mtu;	   /*  - encapsulated, it would exceed the substrate MTU */
	unsigned long long drops_other;	   /*  - no substrate attached, the kernel refused it */
	unsigned long long drops_loss;	   /*  - the port's configured random loss */
	unsigned long long drops_noneigh;  /* always 0, not in @drops: the kernel resolves the
					      substrate next hop for every frame (see below) */
};
/* Frames the kernel drops after the program handed them over are not in
 * these counters: the substrate neighbour failing to resolve (ip -s ntable:
 * unresolved_discards), no route to the remote node, a full substrate qdisc. */

/*
 * Re-resolve the substrate next hop of every tunnel (the route to its remote
 * node; bridge_tunnel_attach() resolves it once) and rewrite the entries
 * whose next hop changed (*@changed of them, may be NULL).  Encapsulated
 * frames go to that next hop without a per-frame route lookup; an entry
 * without one (no substrate, no route, a route through another interface)
 * lets the kernel route each frame.  Call on route changes
 * (bridge_route_watch_open()).  Thread-safe against the other calls.
 */
int bridge_nexthops_refresh(struct bridge *b, unsigned *changed, struct trl_error *err);

/* A non-blocking rtnetlink socket subscribed to route changes of @family
 * (AF_INET, AF_INET6, or AF_UNSPEC for both; a readable one means: call
 * bridge_nexthops_refresh()), or -errno.  Subscribe to the outer families
 * the tunnels use only: every new interface adds IPv6 routes (fe80::/64). */
int bridge_route_watch_open(int family);

/* Counters of host end @host_if, summed over CPUs.  All zero for a port that
 * never saw a frame.  TRL_ENOTFOUND if no such interface. */
int bridge_port_stats(struct bridge *b, const char *host_if, struct bridge_port_stats *out,
		      struct trl_error *err);

/* Per-port settings besides the join, changed in place by bridge_port_update(). */
struct bridge_port_opts {
	uint32_t priority;	/* tunnel ports: skb->priority given to encapsulated frames,
				   i.e. the substrate HTB class (TC_H_MAKE(major, minor)); 0 = none */
	uint32_t loss_ppm;	/* frames from the router dropped at random, parts per million */
	int peer;		/* 1/0: set/clear redirect_peer (BRIDGE_F_PEER) for frames
				   this port forwards; -1: leave as attached */
};

/* 1 if host end @host_if exists and has a port entry (is joined or carries a tunnel). */
int bridge_port_joined(struct bridge *b, const char *host_if);

/* Change the settings of an attached port (same-node or tunnel) in place: the
 * map entry is replaced whole, so every frame sees either the old or the new
 * settings.  An attach resets them (priority 0, no loss): call this after.
 * TRL_ENOTFOUND when @host_if is not attached. */
int bridge_port_update(struct bridge *b, const char *host_if, const struct bridge_port_opts *o,
		       struct trl_error *err);

/* --- cross-node links (EGRE) ---------------------------------------------- */

/* Encapsulation overhead over the inner frame's IP packet, by outer family:
 * outer IP + GRE with key (8) + inner Ethernet header (14). */
#define BRIDGE_EGRE_OVERHEAD4 42u
#define BRIDGE_EGRE_OVERHEAD6 62u

/* MTU for router interfaces on cross-node links over a substrate of
 * @substrate_mtu with @family outer headers; 0 if it does not fit at all. */
static inline unsigned bridge_inner_mtu(unsigned substrate_mtu, int family)
{
	unsigned o = family == AF_INET6 ? BRIDGE_EGRE_OVERHEAD6 : BRIDGE_EGRE_OVERHEAD4;

	return substrate_mtu > o ? substrate_mtu - o : 0;
}

struct bridge_node_cfg {
	char substrate[16]; /* interface name (IFNAMSIZ) */
	int family;	    /* AF_INET or AF_INET6: which address @local is */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} local;	    /* this node's outer address on the substrate */
	unsigned mtu;	    /* substrate IP MTU the outer packets must fit; 0: the
			       interface's MTU, read now */
};

/*
 * Configure the node's substrate and attach the decapsulating program to its
 * clsact ingress (qdisc created if missing, filter replaced in place).  One
 * substrate per node; one local address per family: attaching the same
 * substrate again with the other family adds that address, with the same
 * family replaces it, and naming another substrate moves everything there
 * (our filter leaves the old one).  The MTU applies to both families, last
 * call wins.  Idempotent.
 *
 * The program takes only EGRE for us: PACKET_HOST, no VLAN tag, outer IPv4
 * with no options, no fragmentation, a valid checksum (or IPv6 with GRE as
 * the first next header) to @cfg's local address, GRE flags 0x2000 and
 * protocol 0x6558.  Anything else goes to the stack untouched.  EGRE with an
 * unknown key, or from another address than the tunnel's remote, is dropped
 * and counted (bridge_node_stats).
 */
int bridge_substrate_attach(struct bridge *b, const struct bridge_node_cfg *cfg,
			    struct trl_error *err);

/* Undo bridge_substrate_attach(): our filter off @substrate (if it still
 * exists) and, when it is the configured one, the node configuration cleared
 * (tunnel ports then drop, counted as drops_other).  Idempotent. */
int bridge_substrate_detach(struct bridge *b, const char *substrate, struct trl_error *err);

/* The configured substrate (name "" if it vanished) into @out; TRL_ENOTFOUND
 * when none is configured.  @out->family is the IPv4 one when both are set;
 * @v6 (may be NULL) gets the IPv6 address, or in6addr_any. */
int bridge_substrate_get(struct bridge *b, struct bridge_node_cfg *out, struct in6_addr *v6,
			 struct trl_error *err);

/*
 * This node's half of a cross-node link: frames entering host end @host_if
 * go to @remote_addr (@family AF_INET or AF_INET6, the remote node's outer
 * address: struct in_addr / struct in6_addr) in EGRE with @key, and EGRE with
 * @key from that address comes out of @host_if.  Writes the port and key
 * entries, turns off GRE segmentation offload on @host_if (see the top of
 * this file), then attaches the program at @host_if's clsact ingress.  Works
 * before bridge_substrate_attach() too (frames drop until then).
 * Idempotent; attaching again with another key or remote changes them in
 * place.  Refused (TRL_EEXIST) when @host_if is joined to another host end,
 * or @key belongs to another existing host end.  Missing interface:
 * TRL_ENOTFOUND.  @flags: 0 or BRIDGE_F_PEER (decapsulated unicast IP frames
 * straight into the router, unshaped).
 */
int bridge_tunnel_attach(struct bridge *b, const char *host_if, uint32_t key, int family,
			 const void *remote_addr, unsigned flags, struct trl_error *err);

/* Undo bridge_tunnel_attach(): entries and counters removed, our filter off
 * @host_if, its GRE segmentation offload back on.  Idempotent; a vanished @host_if is found through @key.  Refused
 * (TRL_EINVALID) when @host_if carries another key or a same-node link, or
 * @key belongs to another existing host end. */
int bridge_tunnel_detach(struct bridge *b, const char *host_if, uint32_t key,
			 struct trl_error *err);

struct bridge_node_stats {
	unsigned long long rx_packets;	      /* EGRE packets decapsulated */
	unsigned long long rx_bytes;	      /* their bytes on the wire (outer Ethernet included) */
	unsigned long long drops_unknown_key; /* EGRE for us with a key no tunnel has */
	unsigned long long drops_bad_source;  /* known key from another address than its remote */
	unsigned long long drops_other;	      /* decapsulation failed */
};

/* Node-wide decapsulation counters, summed over CPUs. */
int bridge_node_stats(struct bridge *b, struct bridge_node_stats *out, struct trl_error *err);

/*
 * Make the kernel resolve the substrate next hop towards remote node @addr
 * (@family AF_INET/AF_INET6) and keep it resolved: the next hop is found by a
 * route lookup (a gateway when the remote is not on link; TRL_ENOTFOUND when
 * there is no route, it does not leave through @substrate, or there is no
 * such interface), then RTM_NEWNEIGH with NTF_USE and NTF_EXT_MANAGED creates
 * the entry if needed and starts resolution; the kernel re-probes managed
 * entries by itself, so they stay REACHABLE without a daemon timer.  An operator's static
 * (PERMANENT/NOARP) entry is left alone.  Returns at once; resolution
 * completes asynchronously.  Needs CAP_NET_ADMIN in the substrate's network
 * namespace (the calling thread's).
 */
int bridge_neigh_refresh(const char *substrate, int family, const void *addr,
			 struct trl_error *err);

/* Forget what bridge_neigh_refresh() set up: the next hop's entry is deleted
 * if it is a managed one (the kernel re-learns it on demand).  Idempotent. */
int bridge_neigh_release(const char *substrate, int family, const void *addr,
			 struct trl_error *err);

/* --- maintenance ------------------------------------------------------------ */

/* Delete map entries and counters whose port or peer ifindex no longer exists
 * (interfaces deleted without a detach), tunnel ports and their keys
 * included.  Stores how many ports were removed in @removed (may be NULL).
 * Meant for the daemon's start-up reconciliation. */
int bridge_prune(struct bridge *b, unsigned *removed, struct trl_error *err);

/* Remove the whole pin directory (missing is fine).  Programs stay attached to
 * interfaces, and keep forwarding, until those interfaces go away. */
int bridge_unpin(const char *pin_dir, struct trl_error *err);

/* Switch GRE segmentation offload (tx-gre-segmentation, tx-gre-csum-segmentation)
 * on interface @ifname of the calling thread's network namespace. */
int bridge_gre_offload_set(const char *ifname, int on, struct trl_error *err);

/* Switch TCP and generic segmentation offload (TSO, GSO) on interface @ifname
 * of the calling thread's namespace.  Off on a router's side of a shaped
 * cross-node link: the substrate's HTB then counts each segment's own length
 * (a super-packet would be counted with its per-segment tunnel headers but
 * the encapsulation overhead taken off only once). */
int bridge_segmentation_set(const char *ifname, int on, struct trl_error *err);

#endif
