/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: fastpath.h - map layouts shared by fastpath.bpf.c and bridge.c
 *
 * Included by the BPF object (clang -target bpf) and by the loader, so the
 * two sides cannot drift apart: only fixed-width kernel types, no padding
 * holes (every struct is a multiple of 8 bytes and naturally aligned).
 * Changing a layout changes the map value size; pins from an older build
 * are then refused by bridge_open() (remove them with bridge_unpin()).
 */
#ifndef TRELLIS_FASTPATH_H
#define TRELLIS_FASTPATH_H

#include <linux/types.h>

#define FP_MAX_PORTS 16384
/* Counter slots: fp_port.slot indexes fp_port_ctrs; slot 0 is never given
 * out (an entry without a slot counts nothing). */
#define FP_MAX_SLOTS (FP_MAX_PORTS + 1)

/* Address families as the kernel numbers them (AF_INET, AF_INET6). */
#define FP_AF_INET 2
#define FP_AF_INET6 10

/* EGRE on the wire: outer IP + GRE with key (4 + 4 bytes) + inner Ethernet. */
#define FP_GRE_HLEN 8
#define FP_GRE_FLAGS_KEY 0x2000	 /* K bit only, version 0 */
#define FP_GRE_PROTO_TEB 0x6558	 /* transparent Ethernet bridging */
#define FP_OUTER_TTL 64

/* fp_port.flags */
#define FP_F_PEER 0x1u	 /* IP frames into the router with bpf_redirect_peer */
#define FP_F_TUNNEL 0x2u /* cross-node port: encapsulate towards fp_port.remote */

/* fp_ports value, keyed by host-end ifindex.  Builds before counter slots
 * had the first 40 bytes only (FP_PORT_V1_SIZE); bridge_open migrates them. */
struct fp_port {
	__u32 peer_ifindex; /* same node: the other host end; 0 for a tunnel port */
	__u32 flags;	    /* FP_F_* */
	__u32 key;	    /* tunnel: GRE key, host byte order */
	__u32 family;	    /* tunnel: FP_AF_INET or FP_AF_INET6 (outer header) */
	__u8 remote[16];    /* tunnel: remote node's outer address (IPv4: first 4 bytes) */
	__u32 priority;	    /* tunnel: skb->priority for the encapsulated frame (the
			       substrate HTB class, major:minor); 0 = leave it */
	__u32 loss;	    /* drop frames from the router with probability loss / 2^32 */
	__u32 slot;	    /* this port's element of fp_port_ctrs, 0 = none */
	/* tunnel: the substrate next hop towards remote, resolved by the loader
	 * (the layout of struct bpf_redir_neigh, handed to bpf_redirect_neigh
	 * as is); nh_family 0 = unresolved, the kernel routes each frame */
	__u32 nh_family;
	__u8 nh[16];
};
#define FP_PORT_V1_SIZE 40

/* fp_node.flags: which local outer addresses are configured. */
#define FP_N_V4 0x1u
#define FP_N_V6 0x2u

/* fp_node value, the only element of an array map. */
struct fp_node {
	__u32 ifindex;	   /* substrate interface, 0 = not attached */
	__u32 mtu;	   /* substrate IP MTU the outer packets must fit */
	__u32 flags;	   /* FP_N_* */
	__u32 local4;	   /* network byte order */
	__u8 local6[16];
};

/* fp_port_ctrs value (per-CPU array indexed by fp_port.slot); also the
 * fp_port_stats value (per-CPU hash keyed by host-end ifindex), which since
 * counter slots only takes the drops of ports without an entry (and keeps
 * what an older build counted).  A same-node port counts what it forwards
 * only: its rx is its peer's tx. */
struct fp_port_counters {
	__u64 tx_packets; /* frames from the router, forwarded (to the peer, into the tunnel) */
	__u64 tx_bytes;	  /* their length as the router sent them (Ethernet header included) */
	__u64 rx_packets; /* frames handed to the router (from the peer, out of the tunnel) */
	__u64 rx_bytes;
	__u64 drop_unjoined; /* program attached, no fp_ports entry */
	__u64 drop_mtu;	     /* encapsulated frame would exceed the substrate MTU */
	__u64 drop_other;    /* no substrate configured, a helper refused the frame */
	__u64 drop_loss;     /* dropped on purpose: the link's configured random loss */
};

/* fp_node_stats value (per CPU), the only element of an array map. */
struct fp_node_counters {
	__u64 rx_packets;	/* EGRE packets decapsulated */
	__u64 rx_bytes;		/* their outer length (outer Ethernet header included) */
	__u64 drop_unknown_key; /* well-formed EGRE for us, but no tunnel has this key */
	__u64 drop_bad_source;	/* key known, but sent by another node than its remote */
	__u64 drop_other;	/* decapsulation failed */
};

#endif
