/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * DOC: shortbridge - same-node point-to-point links at tc ingress
 *
 * Every router interface is a veth whose host end stays in the node's
 * namespace.  A link between two routers on the same node is two host ends
 * joined by this program, attached (clsact ingress, direct-action) on both:
 * a frame the router sends enters its host end's ingress, the program looks
 * the ingress ifindex up in sb_ports and redirects the frame to the peer
 * host end.  No learning, no copies, no host stack.
 *
 *  - bpf_redirect(peer, 0): the frame leaves through the peer host end's
 *    egress, so an egress qdisc there (the shaper) applies, then crosses the
 *    veth into the peer router.
 *  - bpf_redirect_peer(peer, 0), when the port has SB_F_PEER and the frame
 *    is IPv4/IPv6: straight into the peer router's namespace, skipping the
 *    peer host end's egress (and therefore its qdisc).  redirect_peer does
 *    not redo eth_type_trans(), so non-IP frames (ARP, ...) always take the
 *    plain redirect.
 *
 * A port with the program attached but no sb_ports entry drops everything
 * (an unjoined port must never leak a tenant's frames into the host stack)
 * and counts the drop.  Counters are per port (ingress ifindex), per CPU.
 *
 * The struct layouts below are mirrored in bridge.c; change both together.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define SB_F_PEER 0x1u
#define SB_MAX_PORTS 16384

struct sb_port {
	__u32 peer_ifindex;
	__u32 flags;
};

struct sb_counters {
	__u64 packets;
	__u64 bytes;
	__u64 drops;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SB_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct sb_port);
} sb_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, SB_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct sb_counters);
} sb_stats SEC(".maps");

static __always_inline struct sb_counters *counters(__u32 ifindex)
{
	struct sb_counters *c = bpf_map_lookup_elem(&sb_stats, &ifindex);

	if (!c) {
		struct sb_counters zero = {};

		/* Another CPU may win the insert; the lookup below still works. */
		bpf_map_update_elem(&sb_stats, &ifindex, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&sb_stats, &ifindex);
	}
	return c;
}

SEC("tc")
int sb_ingress(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct sb_counters *c = counters(ifindex);
	struct sb_port *port = bpf_map_lookup_elem(&sb_ports, &ifindex);

	if (!port || !port->peer_ifindex) {
		if (c)
			c->drops++;
		return TC_ACT_SHOT;
	}
	if (c) {
		c->packets++;
		c->bytes += skb->len;
	}
	if ((port->flags & SB_F_PEER) &&
	    (skb->protocol == bpf_htons(ETH_P_IP) || skb->protocol == bpf_htons(ETH_P_IPV6)))
		return bpf_redirect_peer(port->peer_ifindex, 0);
	return bpf_redirect(port->peer_ifindex, 0);
}

char LICENSE[] SEC("license") = "GPL";
