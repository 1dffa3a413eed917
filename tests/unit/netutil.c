/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: netutil - topology helpers of the kernel-facing unit tests
 *
 * test-bridge and test-egre both build veth topologies in network namespaces
 * held only by their fds; these are the pieces they share (see netutil.h).
 * They talk rtnetlink through libnl and never print: the tests report.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_packet.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>

#include "netutil.h"

int tu_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		r = -errno;
	close(fd);
	return r;
}

int tu_netns_new(struct nl_sock **sk)
{
	int fd;

	*sk = NULL;
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* /proc/sys/net is that of the opening thread's namespace. */
	tu_write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	tu_write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	*sk = nl_socket_alloc();
	if (!*sk || nl_connect(*sk, NETLINK_ROUTE) < 0) {
		if (*sk)
			nl_socket_free(*sk);
		*sk = NULL;
		close(fd);
		return -EIO;
	}
	return fd;
}

int tu_veth_add(struct nl_sock *sk, const char *name, const char *peer, int peer_ns)
{
	struct rtnl_link *l = rtnl_link_veth_alloc(), *p;
	int r;

	if (!l)
		return -ENOMEM;
	p = rtnl_link_veth_get_peer(l);
	rtnl_link_set_name(l, name);
	rtnl_link_set_name(p, peer);
	rtnl_link_set_ns_fd(p, peer_ns);
	r = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(p);
	rtnl_link_veth_release(l);
	return r;
}

int tu_link_set(struct nl_sock *sk, const char *name, unsigned mtu)
{
	struct rtnl_link *l = NULL, *c;
	int r = rtnl_link_get_kernel(sk, 0, name, &l);

	if (r < 0)
		return r;
	c = rtnl_link_alloc();
	if (!c) {
		rtnl_link_put(l);
		return -ENOMEM;
	}
	rtnl_link_set_flags(c, IFF_UP);
	if (mtu)
		rtnl_link_set_mtu(c, mtu);
	r = rtnl_link_change(sk, l, c, 0);
	rtnl_link_put(c);
	rtnl_link_put(l);
	return r;
}

int tu_link_del(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *l = rtnl_link_alloc();
	int r;

	if (!l)
		return -ENOMEM;
	rtnl_link_set_name(l, name);
	r = rtnl_link_delete(sk, l);
	rtnl_link_put(l);
	return r;
}

int tu_addr_add(struct nl_sock *sk, const char *name, const char *cidr)
{
	int family = strchr(cidr, ':') ? AF_INET6 : AF_INET;
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct nl_addr *local = NULL;
	struct rtnl_link *l = NULL;
	int r = a ? rtnl_link_get_kernel(sk, 0, name, &l) : -ENOMEM;

	if (r == 0)
		r = nl_addr_parse(cidr, family, &local);
	if (r == 0) {
		rtnl_addr_set_ifindex(a, rtnl_link_get_ifindex(l));
		if (family == AF_INET6)
			rtnl_addr_set_flags(a, IFA_F_NODAD);
		r = rtnl_addr_set_local(a, local);
	}
	if (r == 0)
		r = rtnl_addr_add(sk, a, 0);
	nl_addr_put(local);
	rtnl_link_put(l);
	rtnl_addr_put(a);
	return r;
}

int tu_port_open(int ns, int home, const char *name, struct tu_port *p)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct ifreq ifr = { 0 };
	int r = 0;

	if (setns(ns, CLONE_NEWNET) < 0)
		return -errno;
	p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	sll.sll_ifindex = (int)if_nametoindex(name);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (p->fd < 0 || !sll.sll_ifindex || bind(p->fd, (void *)&sll, sizeof(sll)) < 0 ||
	    ioctl(p->fd, SIOCGIFHWADDR, &ifr) < 0)
		r = errno ? -errno : -ENODEV;
	else
		memcpy(p->mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	if (setns(home, CLONE_NEWNET) < 0 && r == 0)
		r = -errno;
	return r;
}
