/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * DOC: fastpath - router links at tc ingress: shortbridge and EGRE tunnels
 *
 * One object per node, two programs, maps pinned under the node's pin dir.
 * Layouts are in fastpath.h (shared with the loader, bridge.c).
 *
 * fp_port_ingress, on the clsact ingress of every host-side veth end.  A
 * frame the router sends enters its host end; fp_ports (keyed by that
 * ifindex) says where it goes:
 *  - same node: bpf_redirect to the peer host end (its egress qdisc shapes,
 *    then the veth hands it to the peer router), or with FP_F_PEER and an
 *    IP frame bpf_redirect_peer straight into the peer router's namespace;
 *  - tunnel (FP_F_TUNNEL): wrap the frame in EGRE -- outer IPv4/IPv6 from
 *    the node's address to the port's remote node, GRE with only the key
 *    flag (key = link id) and protocol 0x6558, then the frame itself, the
 *    layout of Linux `gretap key N` -- and send it out of the substrate:
 *      IP frames: bpf_skb_adjust_room at the MAC header (with the ENCAP
 *        flags when the frame is GSO, so the kernel can still segment it);
 *      other frames (ARP, VLAN-tagged in the packet): adjust_room refuses
 *        them, so bpf_skb_change_head, and skb->protocol is then set to the
 *        outer header's (set_outer_protocol);
 *    then bpf_redirect_neigh(substrate, next hop) for both: the loader
 *    resolves the route to the remote node when the tunnel is attached (and
 *    again on route changes) and keeps the next hop in the port entry, so
 *    the kernel skips its per-packet FIB lookup and only looks the
 *    neighbour up (resolving, queueing for and refreshing it itself, so an
 *    ARP-only exchange between routers resolves the substrate next hop
 *    too); without a resolved next hop, NULL: the kernel routes the outer
 *    packet (gateways work).  (bpf_fib_lookup is no use here:
 *    it answers FWD_DISABLED unless forwarding is on for the substrate.)
 *    A frame whose outer packet would exceed the substrate MTU is a counted
 *    drop (drop_mtu): bpf redirects bypass the kernel's MTU checks.
 *  - no entry: drop and count (an unjoined port never leaks into the host).
 * Counters live in a per-CPU array, at the slot the loader stored in the
 * port entry (one inlined array access, no hash lookup); each frame is
 * counted once, by the port it enters (a same-node peer's rx is read from
 * this port's tx).  Before any of that a port with a configured loss drops frames at random
 * (bpf_get_prandom_u32() below fp_port.loss), counted as drop_loss: the
 * link's loss: works without netem.  An encapsulated frame gets the port's
 * priority, which HTB on the substrate takes as its class.
 *
 * fp_wire_ingress, on the substrate's clsact ingress, parses strictly: for
 * this host (PACKET_HOST, untagged), outer IPv4 without options or
 * fragmentation and a valid header checksum (or IPv6 with GRE as the first
 * next header) addressed to the node's address, GRE flags exactly 0x2000
 * (key, version 0), protocol 0x6558.  Everything else goes to the stack
 * untouched.  The key is looked up in fp_keys; an unknown key, or a known
 * one from another source than the tunnel's remote node, is counted per node
 * and dropped.  The outer headers are removed with adjust_room and the inner
 * frame is redirected into the port's host end (bpf_redirect, so its egress
 * qdisc shapes), or with FP_F_PEER and a unicast IP frame into the router.
 *
 * Outer header fields (the wire contract, see bridge.h): DF set, TTL/hop
 * limit 64, TOS/traffic class 0, IPv4 ID 0 (atomic datagrams, RFC 6864),
 * IPv6 flow label from the inner flow hash.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "fastpath.h"

/* Not in Debian 12's uapi headers (an enum there, so no #ifndef): the
 * values are kernel ABI, read from the running kernel's BTF. */
#define FP_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#define FP_ADJ_ROOM_DECAP_L3_IPV6 (1ULL << 8)

#define IP4_HLEN 20
#define IP6_HLEN 40
#define VLAN_HLEN 4

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct fp_port);
} fp_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_MAX_PORTS);
	__type(key, __u32);   /* GRE key */
	__type(value, __u32); /* host-end ifindex */
} fp_keys SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fp_node);
} fp_node SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, FP_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct fp_port_counters);
} fp_port_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FP_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct fp_port_counters);
} fp_port_ctrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fp_node_counters);
} fp_node_stats SEC(".maps");

#define COUNT(c, field) \
	do { \
		if (c) \
			(c)->field++; \
	} while (0)

/* A port's counters: its slot in the per-CPU array (one inlined array
 * access), or 0 without a slot. */
static __always_inline struct fp_port_counters *port_counters(const struct fp_port *port)
{
	__u32 slot = port->slot;

	if (!slot)
		return 0;
	return bpf_map_lookup_elem(&fp_port_ctrs, &slot);
}

/* Drops of a port without an entry (rare): per-CPU hash keyed by ifindex. */
static __always_inline struct fp_port_counters *unjoined_counters(__u32 ifindex)
{
	struct fp_port_counters *c = bpf_map_lookup_elem(&fp_port_stats, &ifindex);

	if (!c) {
		struct fp_port_counters zero = {};

		/* Another CPU may win the insert; the lookup below still works. */
		bpf_map_update_elem(&fp_port_stats, &ifindex, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&fp_port_stats, &ifindex);
	}
	return c;
}

static __always_inline struct fp_node_counters *node_counters(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&fp_node_stats, &zero);
}

static __always_inline struct fp_node *node_config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&fp_node, &zero);
}

static __always_inline int is_ip(__be16 proto)
{
	return proto == bpf_htons(ETH_P_IP) || proto == bpf_htons(ETH_P_IPV6);
}

/* --- same node ------------------------------------------------------------- */

static __always_inline int shortbridge(struct __sk_buff *skb, struct fp_port *port,
				       struct fp_port_counters *c)
{
	__u32 peer = port->peer_ifindex;

	/* Counted once: the peer's rx is this port's tx (bridge_port_stats). */
	if (c) {
		c->tx_packets++;
		c->tx_bytes += skb->len;
	}
	if ((port->flags & FP_F_PEER) && is_ip(skb->protocol))
		return bpf_redirect_peer(peer, 0);
	return bpf_redirect(peer, 0);
}

/* --- encapsulation --------------------------------------------------------- */

/* One's complement checksum of a 20-byte IPv4 header at a 2-aligned address. */
static __always_inline __u16 ip4_csum(const void *hdr)
{
	const __u16 *w = hdr;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < IP4_HLEN / 2; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Header length (L3 + L4) of a GSO IP frame, for the per-segment MTU check;
 * 0 when it cannot be parsed (IPv6 extension headers, not TCP/UDP). */
static __always_inline __u32 gso_hdr_len(struct __sk_buff *skb, __be16 proto)
{
	__u32 l3;
	__u8 l4, b;

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
			return 0;
		l3 = ip.ihl * 4;
		l4 = ip.protocol;
		if (l3 < IP4_HLEN)
			return 0;
	} else {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)))
			return 0;
		l3 = IP6_HLEN;
		l4 = ip6.nexthdr;
	}
	if (l4 == IPPROTO_UDP)
		return l3 + 8;
	if (l4 != IPPROTO_TCP || l3 > 60)
		return 0;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + l3 + 12, &b, 1) || (b >> 4) < 5)
		return 0;
	return l3 + (b >> 4) * 4;
}

/*
 * The whole header block of an EGRE frame: outer Ethernet, outer IP, GRE
 * with key, inner Ethernet (with an in-packet VLAN tag when @tag), written
 * at offset 0 once room has been made.  buf[0..1] is padding so that the
 * outer IP header is 4-byte aligned on the stack (buf + 16).
 */
struct egre_hdr {
	__u8 buf[2 + ETH_HLEN + IP6_HLEN + FP_GRE_HLEN + ETH_HLEN + VLAN_HLEN + 2];
} __attribute__((aligned(8)));

struct encap_args {
	const struct fp_node *node;
	const struct fp_port *port;
	const struct ethhdr *inner; /* the frame's own Ethernet header */
	__u32 tag;		    /* 0, or VLAN_HLEN when the tag below goes into the packet */
	__be16 tag_proto;
	__u16 tci;
	__u32 payload;		    /* GRE header + inner frame, bytes */
	__u32 flowlabel;
};

static __always_inline void put_inner(__u8 *p, const struct encap_args *a)
{
	__builtin_memcpy(p, a->inner, 2 * ETH_ALEN);
	if (a->tag) {
		__be16 tci = bpf_htons(a->tci);

		__builtin_memcpy(p + 12, &a->tag_proto, 2);
		__builtin_memcpy(p + 14, &tci, 2);
		__builtin_memcpy(p + 16, &a->inner->h_proto, 2);
	} else {
		__builtin_memcpy(p + 12, &a->inner->h_proto, 2);
	}
}

/* Placeholder addresses (bpf_redirect_neigh writes the real ones), but
 * unicast: it refuses frames whose destination is multicast. */
static __always_inline void put_outer_eth(__u8 *p, __be16 type)
{
	__builtin_memset(p, 0, 2 * ETH_ALEN);
	__builtin_memcpy(p + 2 * ETH_ALEN, &type, 2);
}

static __always_inline void put_gre(__u8 *p, __u32 key)
{
	__be16 *w = (void *)p;
	__be32 k = bpf_htonl(key);

	w[0] = bpf_htons(FP_GRE_FLAGS_KEY);
	w[1] = bpf_htons(FP_GRE_PROTO_TEB);
	__builtin_memcpy(p + 4, &k, 4);
}

/* Outer IPv4: block length 14 + 20 + 8 + 14 (+ 4). */
static __always_inline __u32 build_v4(struct egre_hdr *h, const struct encap_args *a)
{
	struct iphdr *ip = (void *)(h->buf + 2 + ETH_HLEN);
	__u32 tot = IP4_HLEN + a->payload;
	__be32 remote;

	__builtin_memcpy(&remote, a->port->remote, 4);
	put_outer_eth(h->buf + 2, bpf_htons(ETH_P_IP));
	ip->version = 4;
	ip->ihl = 5;
	ip->tos = 0;
	/* A GSO frame's length is fixed up per segment by the kernel. */
	ip->tot_len = bpf_htons(tot > 0xffff ? 0xffff : tot);
	ip->id = 0;
	ip->frag_off = bpf_htons(0x4000); /* DF */
	ip->ttl = FP_OUTER_TTL;
	ip->protocol = IPPROTO_GRE;
	ip->check = 0;
	ip->saddr = a->node->local4;
	ip->daddr = remote;
	ip->check = ip4_csum(ip);
	put_gre(h->buf + 2 + ETH_HLEN + IP4_HLEN, a->port->key);
	put_inner(h->buf + 2 + ETH_HLEN + IP4_HLEN + FP_GRE_HLEN, a);
	return ETH_HLEN + IP4_HLEN + FP_GRE_HLEN + ETH_HLEN + a->tag;
}

/* Outer IPv6: block length 14 + 40 + 8 + 14 (+ 4). */
static __always_inline __u32 build_v6(struct egre_hdr *h, const struct encap_args *a)
{
	struct ipv6hdr *ip6 = (void *)(h->buf + 2 + ETH_HLEN);
	__u32 fl = a->flowlabel & 0xfffff;

	put_outer_eth(h->buf + 2, bpf_htons(ETH_P_IPV6));
	ip6->version = 6;
	ip6->priority = 0;
	ip6->flow_lbl[0] = fl >> 16;
	ip6->flow_lbl[1] = fl >> 8;
	ip6->flow_lbl[2] = fl;
	ip6->payload_len = bpf_htons(a->payload > 0xffff ? 0xffff : a->payload);
	ip6->nexthdr = IPPROTO_GRE;
	ip6->hop_limit = FP_OUTER_TTL;
	__builtin_memcpy(&ip6->saddr, a->node->local6, 16);
	__builtin_memcpy(&ip6->daddr, a->port->remote, 16);
	put_gre(h->buf + 2 + ETH_HLEN + IP6_HLEN, a->port->key);
	put_inner(h->buf + 2 + ETH_HLEN + IP6_HLEN + FP_GRE_HLEN, a);
	return ETH_HLEN + IP6_HLEN + FP_GRE_HLEN + ETH_HLEN + a->tag;
}

/*
 * skb->protocol of a frame built with bpf_skb_change_head stays what the
 * router sent (ARP, ...), after adjust_room without ENCAP flags the inner
 * family, and bpf_redirect_neigh goes by it (and only takes IPv4/IPv6).  No
 * helper sets the protocol directly, but popping an in-packet VLAN tag sets
 * it from the ethertype behind the tag: push two tags (the second push moves
 * the first into the packet, in front of our outer ethertype, and sets the
 * protocol to 802.1Q), then pop both (the first pop takes the in-packet tag
 * out again and sets the protocol to the outer ethertype).  The frame ends up
 * exactly as built, with skb->protocol matching its outer header.
 */
static __always_inline int set_outer_protocol(struct __sk_buff *skb)
{
	if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), 1) ||
	    bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), 2) || bpf_skb_vlan_pop(skb) ||
	    bpf_skb_vlan_pop(skb))
		return -1;
	return 0;
}

static __always_inline int encap(struct __sk_buff *skb, const struct fp_port *port,
				 struct fp_port_counters *c)
{
	const struct fp_node *node = node_config();
	int v6 = port->family == FP_AF_INET6;
	__u32 l3 = v6 ? IP6_HLEN : IP4_HLEN;
	__u32 len = skb->len, gso = skb->gso_size;
	__be16 proto = skb->protocol;
	int ip = is_ip(proto);
	struct encap_args a = { .node = node, .port = port };
	struct ethhdr eth;
	struct egre_hdr h;
	__u64 flags = 0;
	__u32 hlen, room;
	int r;

	if (!node || !node->ifindex || !(node->flags & (v6 ? FP_N_V6 : FP_N_V4)) ||
	    bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		goto drop_other;
	a.inner = &eth;
	if (skb->vlan_present) {
		/* Out-of-band tag: it must travel inside the tunnel, not on the substrate. */
		a.tag = VLAN_HLEN;
		a.tag_proto = skb->vlan_proto;
		a.tci = skb->vlan_tci;
	}
	a.payload = FP_GRE_HLEN + len + a.tag;

	if (!gso) {
		if (l3 + a.payload > node->mtu) {
			COUNT(c, drop_mtu);
			return TC_ACT_SHOT;
		}
	} else {
		__u32 hl;

		/* Only IP GSO frames can be segmented after encapsulation. */
		if (!ip)
			goto drop_other;
		hl = gso_hdr_len(skb, proto);
		if (hl && l3 + FP_GRE_HLEN + ETH_HLEN + a.tag + hl + gso > node->mtu) {
			COUNT(c, drop_mtu);
			return TC_ACT_SHOT;
		}
		/* Segments keep their size (the router's MTU already allows for
		 * the tunnel); unparsed ones let the kernel shrink them.  Without
		 * GSO no ENCAP flags: nothing needs the inner offsets, and a frame
		 * still marked encapsulated by an earlier decapsulation (a router
		 * forwarding from one tunnel into another) would be refused. */
		flags = (hl ? BPF_F_ADJ_ROOM_FIXED_GSO : 0) |
			(v6 ? BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 : BPF_F_ADJ_ROOM_ENCAP_L3_IPV4) |
			BPF_F_ADJ_ROOM_ENCAP_L4_GRE | BPF_F_ADJ_ROOM_ENCAP_L2_ETH |
			BPF_F_ADJ_ROOM_ENCAP_L2(ETH_HLEN + a.tag);
	}

	if (v6)
		a.flowlabel = bpf_get_hash_recalc(skb);
	if (a.tag && bpf_skb_vlan_pop(skb))
		goto drop_other;

	room = l3 + FP_GRE_HLEN + ETH_HLEN + a.tag;
	if (ip)
		r = bpf_skb_adjust_room(skb, room, BPF_ADJ_ROOM_MAC, flags);
	else
		r = bpf_skb_change_head(skb, room, 0);
	if (r)
		goto drop_other;

	hlen = v6 ? build_v6(&h, &a) : build_v4(&h, &a);
	if (bpf_skb_store_bytes(skb, 0, h.buf + 2, hlen, 0))
		goto drop_other;
	/* Only the ENCAP flags switch the protocol to the outer family. */
	if (skb->protocol != bpf_htons(v6 ? ETH_P_IPV6 : ETH_P_IP) && set_outer_protocol(skb))
		goto drop_other;

	if (c) {
		c->tx_packets++;
		c->tx_bytes += len;
	}
	/* Steers the frame into its link's (or slice's) class of the
	 * substrate's HTB tree: HTB takes a priority naming one of its leaf
	 * classes as the classification, no filter needed. */
	if (port->priority)
		skb->priority = port->priority;
	/* The next hop the loader resolved (struct bpf_redir_neigh's layout):
	 * the kernel skips its route lookup and goes straight to the neighbour
	 * (resolving or queueing as needed).  Unresolved: the kernel routes the
	 * outer packet itself.  The outer MAC addresses are its business. */
	if (port->nh_family)
		return bpf_redirect_neigh(node->ifindex, (void *)&port->nh_family,
					  sizeof(struct bpf_redir_neigh), 0);
	return bpf_redirect_neigh(node->ifindex, NULL, 0, 0);

drop_other:
	COUNT(c, drop_other);
	return TC_ACT_SHOT;
}

SEC("tc")
int fp_port_ingress(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct fp_port *port = bpf_map_lookup_elem(&fp_ports, &ifindex);
	struct fp_port_counters *c;

	if (!port) {
		c = unjoined_counters(ifindex);
		COUNT(c, drop_unjoined);
		return TC_ACT_SHOT;
	}
	c = port_counters(port);
	/* Configured random loss (a link's loss:), before anything else. */
	if (port->loss && bpf_get_prandom_u32() < port->loss) {
		COUNT(c, drop_loss);
		return TC_ACT_SHOT;
	}
	if (port->flags & FP_F_TUNNEL)
		return encap(skb, port, c);
	if (port->peer_ifindex)
		return shortbridge(skb, port, c);
	COUNT(c, drop_unjoined);
	return TC_ACT_SHOT;
}

/* --- decapsulation --------------------------------------------------------- */

struct wire_v4 {
	struct iphdr ip;
	__be16 gre_flags;
	__be16 gre_proto;
	__be32 gre_key;
};

struct wire_v6 {
	struct ipv6hdr ip;
	__be16 gre_flags;
	__be16 gre_proto;
	__be32 gre_key;
};

static __always_inline int gre_ok(__be16 flags, __be16 proto)
{
	return flags == bpf_htons(FP_GRE_FLAGS_KEY) && proto == bpf_htons(FP_GRE_PROTO_TEB);
}

static __always_inline int addr6_eq(const void *a, const void *b)
{
	const __u32 *x = a, *y = b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

SEC("tc")
int fp_wire_ingress(struct __sk_buff *skb)
{
	const struct fp_node *node = node_config();
	struct fp_node_counters *nc;
	struct fp_port_counters *c;
	const struct fp_port *port;
	__be16 proto = skb->protocol;
	__u32 len = skb->len, olen, key, ifindex, inner_len, min_l3, *ifp;
	__u64 flags = BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_NO_CSUM_RESET;
	__u32 src[4] = {};
	struct ethhdr inner;
	int v6, peer;

	if (!node || !node->ifindex || skb->ifindex != node->ifindex ||
	    skb->pkt_type != PACKET_HOST || skb->vlan_present)
		return TC_ACT_OK;

	if (proto == bpf_htons(ETH_P_IP)) {
		struct wire_v4 w;
		__u32 tot;

		if (!(node->flags & FP_N_V4) || bpf_skb_load_bytes(skb, ETH_HLEN, &w, sizeof(w)))
			return TC_ACT_OK;
		tot = bpf_ntohs(w.ip.tot_len);
		if (w.ip.version != 4 || w.ip.ihl != 5 || w.ip.protocol != IPPROTO_GRE ||
		    w.ip.daddr != node->local4 || (w.ip.frag_off & bpf_htons(0x3fff)) ||
		    !gre_ok(w.gre_flags, w.gre_proto) || ip4_csum(&w.ip) != 0)
			return TC_ACT_OK;
		/* GSO (GRO'd or never segmented) frames: the kernel owns the length. */
		if (!skb->gso_size &&
		    (tot < IP4_HLEN + FP_GRE_HLEN + ETH_HLEN || tot > len - ETH_HLEN))
			return TC_ACT_OK;
		key = bpf_ntohl(w.gre_key);
		src[0] = w.ip.saddr;
		olen = IP4_HLEN + FP_GRE_HLEN;
		v6 = 0;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct wire_v6 w;
		__u32 plen;

		if (!(node->flags & FP_N_V6) || bpf_skb_load_bytes(skb, ETH_HLEN, &w, sizeof(w)))
			return TC_ACT_OK;
		plen = bpf_ntohs(w.ip.payload_len);
		if (w.ip.version != 6 || w.ip.nexthdr != IPPROTO_GRE ||
		    !addr6_eq(&w.ip.daddr, node->local6) || !gre_ok(w.gre_flags, w.gre_proto))
			return TC_ACT_OK;
		if (!skb->gso_size &&
		    (plen < FP_GRE_HLEN + ETH_HLEN || plen > len - ETH_HLEN - IP6_HLEN))
			return TC_ACT_OK;
		key = bpf_ntohl(w.gre_key);
		__builtin_memcpy(src, &w.ip.saddr, 16);
		olen = IP6_HLEN + FP_GRE_HLEN;
		v6 = 1;
	} else {
		return TC_ACT_OK;
	}
	if (len < ETH_HLEN + olen + ETH_HLEN)
		return TC_ACT_OK;

	/* From here on the packet is ours: deliver it or count the drop. */
	nc = node_counters();
	ifp = bpf_map_lookup_elem(&fp_keys, &key);
	if (!ifp) {
		COUNT(nc, drop_unknown_key);
		return TC_ACT_SHOT;
	}
	ifindex = *ifp;
	port = bpf_map_lookup_elem(&fp_ports, &ifindex);
	if (!port || !(port->flags & FP_F_TUNNEL) || port->key != key) {
		COUNT(nc, drop_unknown_key);
		return TC_ACT_SHOT;
	}
	if (port->family != (v6 ? FP_AF_INET6 : FP_AF_INET) ||
	    (v6 ? !addr6_eq(src, port->remote) : src[0] != *(const __u32 *)port->remote)) {
		COUNT(nc, drop_bad_source);
		return TC_ACT_SHOT;
	}

	if (bpf_skb_load_bytes(skb, ETH_HLEN + olen, &inner, sizeof(inner)))
		goto drop_other;
	inner_len = len - ETH_HLEN - olen;
	/* adjust_room keeps at least an IP header's worth after the MAC header
	 * (of the outer protocol): pad shorter frames (ARP under IPv6, runts)
	 * like Ethernet pads them. */
	min_l3 = v6 ? IP6_HLEN : IP4_HLEN;
	if (inner_len < ETH_HLEN + min_l3 &&
	    bpf_skb_change_tail(skb, len + ETH_HLEN + min_l3 - inner_len, 0))
		goto drop_other;
	if (inner.h_proto == bpf_htons(ETH_P_IP) && v6)
		flags |= FP_ADJ_ROOM_DECAP_L3_IPV4;
	else if (inner.h_proto == bpf_htons(ETH_P_IPV6) && !v6)
		flags |= FP_ADJ_ROOM_DECAP_L3_IPV6;
	if (bpf_skb_adjust_room(skb, -(__s32)(olen + ETH_HLEN), BPF_ADJ_ROOM_MAC, flags) ||
	    bpf_skb_store_bytes(skb, 0, &inner, sizeof(inner), 0))
		goto drop_other;

	if (nc) {
		nc->rx_packets++;
		nc->rx_bytes += len;
	}
	c = port_counters(port);
	if (c) {
		c->rx_packets++;
		c->rx_bytes += inner_len;
	}
	/* redirect_peer skips eth_type_trans: only for unicast IP frames whose
	 * protocol adjust_room has set, and not for GSO ones (the host end's
	 * egress is where the kernel segments what the router cannot take). */
	peer = (port->flags & FP_F_PEER) && is_ip(inner.h_proto) && !(inner.h_dest[0] & 1) &&
	       !skb->gso_size;
	if (peer)
		return bpf_redirect_peer(ifindex, 0);
	return bpf_redirect(ifindex, 0);

drop_other:
	COUNT(nc, drop_other);
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
