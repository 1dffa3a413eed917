/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Network helpers shared by the unit tests that build topologies in private
 * network namespaces (test-bridge, test-egre): namespaces, veths, links,
 * addresses and AF_PACKET ports, through libnl.  Each returns 0 or a
 * negative error (libnl's -NLE_* or -errno), as the test's caller reports it.
 */
#ifndef TRELLIS_TESTS_NETUTIL_H
#define TRELLIS_TESTS_NETUTIL_H

#include <stddef.h>
#include <linux/if_ether.h>
#include <netlink/netlink.h>

/* Write @s to an existing file (a sysctl). */
int tu_write_file(const char *path, const char *s);

/* Move the calling thread into a fresh network namespace with IPv6
 * autoconfiguration off (no ND/MLD noise in counters); returns an fd of it
 * (or -errno) and an rtnetlink socket in it in *@sk (NULL on failure). */
int tu_netns_new(struct nl_sock **sk);

/* veth @name in @sk's namespace, its peer @peer in namespace @peer_ns. */
int tu_veth_add(struct nl_sock *sk, const char *name, const char *peer, int peer_ns);

/* @name up, and its MTU set when @mtu is not 0. */
int tu_link_set(struct nl_sock *sk, const char *name, unsigned mtu);

int tu_link_del(struct nl_sock *sk, const char *name);

/* Address @cidr (IPv4, or IPv6 without DAD) on @name. */
int tu_addr_add(struct nl_sock *sk, const char *name, const char *cidr);

struct tu_port {
	int fd;
	unsigned char mac[ETH_ALEN];
};

/* A packet socket (all protocols) bound to @name inside namespace @ns; the
 * thread goes back to namespace @home afterwards. */
int tu_port_open(int ns, int home, const char *name, struct tu_port *p);

#endif
