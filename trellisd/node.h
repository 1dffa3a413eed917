/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: this node: substrate interface, tunnel kinds, tunnel devices
 *
 * A node is a trellisd with a name, a substrate interface and an outer
 * address.  Cross-node links leave through the substrate as tunnels of one
 * of three kinds, chosen per node by probing the kernel at start (best first)
 * and forced per slice with the spec's tunnel: key:
 *
 *   egre    the eBPF fast path encapsulates Ethernet in GRE (key = link key)
 *   gretap  a kernel gretap device per link, joined to the router's veth
 *   vxlan   a kernel VXLAN device per link (VNI = link key), joined likewise
 *
 * Kernel devices are joined to the host veth by the same eBPF shortbridge as
 * same-node links.  Device names: "tg<key>" (gretap), "tv<key>" (vxlan).
 */
#ifndef TRELLISD_NODE_H
#define TRELLISD_NODE_H

#include <netinet/in.h>
#include <stdint.h>
#include "error.h"

enum node_tunnel {
	NODE_TUNNEL_EGRE = 1 << 0,
	NODE_TUNNEL_GRETAP = 1 << 1,
	NODE_TUNNEL_VXLAN = 1 << 2,
};

/* Outer header sizes over the substrate IP MTU (inner Ethernet included). */
#define NODE_EGRE_OVERHEAD 42	/* IPv4 20 + GRE with key 8 + inner Ethernet 14 */
#define NODE_VXLAN_OVERHEAD 50	/* IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 */

struct node_substrate {
	char ifname[16];
	int ifindex;
	unsigned mtu;
	struct in_addr addr;
	char addr_text[INET_ADDRSTRLEN];
};

/* Find @ifname, its MTU and (unless @addr is given) its first IPv4 address. */
int node_substrate_probe(const char *ifname, const char *addr, struct node_substrate *out, struct trl_error *err);
/* Which tunnel kinds work here; @why gets the reasons for the missing ones. */
unsigned node_tunnel_probe(int ebpf_ok, char *why, size_t len);
const char *node_tunnel_name(enum node_tunnel t);
int node_tunnel_parse(const char *name);	/* -1 if unknown */
/* The tunnel device of link @key: create (up, MTU set) or delete (idempotent). */
int node_tunnel_dev_add(enum node_tunnel kind, uint32_t key, const struct node_substrate *sub,
			const struct in_addr *remote, char name[16], struct trl_error *err);
void node_tunnel_dev_name(enum node_tunnel kind, uint32_t key, char name[16]);
void node_netdev_del(const char *name);
int node_netdev_set_mtu(const char *name, unsigned mtu, struct trl_error *err);
/* Administrative state of @name; the peer of a veth loses its carrier while it is down. */
int node_netdev_set_up(const char *name, int up, struct trl_error *err);

struct bridge;
/*
 * Keep the tunnels' resolved substrate next hops (bridge_tunnel_attach)
 * current: a thread listens for IPv4 route changes (the daemon's tunnels are
 * IPv4 outside) and calls bridge_nexthops_refresh() (debounced, ~50 ms after
 * the last change, at most ~5 times a second; also every 60 s as a safety
 * net).  Neighbour changes need nothing: the kernel
 * looks the next hop's neighbour entry up for every frame.  Best effort: a
 * failure to start is logged and tunnels keep their next hops (stale ones
 * are fixed on the next attach or restart).  Stop before bridge_close().
 */
void node_nexthop_watch_start(struct bridge *b);
void node_nexthop_watch_stop(void);

#endif
