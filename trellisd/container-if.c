/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: an interface for a running router (slice apply)
 *
 * At start LXC makes a router's veths from its config.  A link that slice
 * apply adds to a router that keeps running gets its interface here, the way
 * LXC and trellis-lxc-helper veth-hold would have made it: a veth pair with
 * the host end in the host's namespace (its derived name) and the other end
 * created straight in the router's namespace under its interface name (so it
 * never meets a host interface of that name), the derived MAC, the MTU, the
 * addresses (IPv6 without duplicate address detection: a point-to-point
 * link), up; the host end down, without ARP or IPv6, until the links step
 * attaches the fast path.  The router's LXC config is rewritten by the
 * caller (container_config_write) so a later start makes the same.
 */
#define LOG_MODULE "container"
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_addr.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include "container.h"
#include "log.h"

static int sysctl_write(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) != (ssize_t)strlen(value))
		r = -errno;
	close(fd);
	return r;
}

struct nodad_one {
	const char *ifname;
};

static int nodad_one_in(void *arg)
{
	struct nodad_one *n = arg;
	char path[96];
	int r;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_dad", n->ifname);
	r = sysctl_write(path, "0");
	return r == -ENOENT ? 0 : r;
}

/* The host end as veth-hold leaves it: no ARP, down (IPv6 off: the caller). */
static int host_end_hold(struct nl_sock *host, const char *name)
{
	struct rtnl_link *link = NULL, *change = NULL;
	int r;

	if ((r = rtnl_link_get_kernel(host, 0, name, &link)) < 0)
		return r;
	change = rtnl_link_alloc();
	if (!change) {
		rtnl_link_put(link);
		return -NLE_NOMEM;
	}
	rtnl_link_set_flags(change, IFF_NOARP);
	rtnl_link_unset_flags(change, IFF_UP);
	r = rtnl_link_change(host, link, change, 0);
	rtnl_link_put(change);
	rtnl_link_put(link);
	return r;
}

static int router_end_set(struct nl_sock *sk, const struct container_if *ci)
{
	struct rtnl_link *link = NULL, *change = NULL;
	struct nl_addr *mac = NULL;
	int r, ifindex;

	if ((r = rtnl_link_get_kernel(sk, 0, ci->ifname, &link)) < 0)
		return r;
	ifindex = rtnl_link_get_ifindex(link);
	change = rtnl_link_alloc();
	mac = nl_addr_build(AF_LLC, ci->mac, 6);
	if (!change || !mac) {
		r = -NLE_NOMEM;
		goto out;
	}
	rtnl_link_set_addr(change, mac);
	if (ci->mtu)
		rtnl_link_set_mtu(change, ci->mtu);
	rtnl_link_set_flags(change, IFF_UP);
	if ((r = rtnl_link_change(sk, link, change, 0)) < 0)
		goto out;
	for (size_t a = 0; a < ci->n_addrs && r >= 0; a++) {
		struct rtnl_addr *ad = rtnl_addr_alloc();
		struct nl_addr *local = NULL;

		if (!ad || nl_addr_parse(ci->addrs[a].text, ci->addrs[a].family, &local) < 0) {
			rtnl_addr_put(ad);
			r = -NLE_NOMEM;
			break;
		}
		rtnl_addr_set_ifindex(ad, ifindex);
		rtnl_addr_set_local(ad, local);
		rtnl_addr_set_prefixlen(ad, ci->addrs[a].prefixlen);
		if (ci->addrs[a].family == AF_INET6)
			rtnl_addr_set_flags(ad, IFA_F_NODAD);
		r = rtnl_addr_add(sk, ad, 0);
		if (r == -NLE_EXIST)
			r = 0;
		nl_addr_put(local);
		rtnl_addr_put(ad);
	}
out:
	nl_addr_put(mac);
	rtnl_link_put(change);
	rtnl_link_put(link);
	return r;
}

int container_if_add(const struct container_spec *cs, size_t k, struct trl_error *err)
{
	const struct container_if *ci = &cs->ifs[k];
	struct nl_sock *host = NULL, *sk = NULL;
	struct nodad_one n = { .ifname = ci->ifname };
	const char *why = "";
	char path[96];
	int r;

	if (cs->init_pid <= 0)
		return trl_error_set(err, TRL_EFAILED, "container '%s' is not running", cs->name);
	if (if_nametoindex(ci->host))
		return trl_error_set(err, TRL_EEXIST, "host interface '%s' already exists", ci->host);
	host = nl_socket_alloc();
	if (!host || nl_connect(host, NETLINK_ROUTE) < 0) {
		nl_socket_free(host);
		return trl_error_set(err, TRL_EFAILED, "cannot open a netlink socket");
	}
	r = rtnl_link_veth_add(host, ci->host, ci->ifname, cs->init_pid);
	if (r < 0) {
		nl_socket_free(host);
		return trl_error_set(err, TRL_EFAILED, "router '%s': interface '%s': cannot make its veth pair: %s",
				     cs->router->name, ci->ifname, nl_geterror(r));
	}
	/* host_end_hold and router_end_set: -NLE_*; the sysctl and namespace steps: -errno. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ci->host);
	if ((r = sysctl_write(path, "1")) < 0 && r != -ENOENT) {
		why = strerror(-r);
		goto fail;
	}
	if ((r = host_end_hold(host, ci->host)) < 0) {
		why = nl_geterror(r);
		goto fail;
	}
	if ((r = container_netns_call(cs->init_pid, nodad_one_in, &n)) < 0 ||
	    (r = container_netns_socket(cs->init_pid, &sk)) < 0) {
		why = strerror(-r);
		goto fail;
	}
	r = router_end_set(sk, ci);
	nl_socket_free(sk);
	if (r < 0) {
		why = nl_geterror(r);
		goto fail;
	}
	nl_socket_free(host);
	return 0;
fail:
	{
		struct rtnl_link *del = rtnl_link_alloc();

		if (del) {
			rtnl_link_set_name(del, ci->host);
			rtnl_link_delete(host, del);
			rtnl_link_put(del);
		}
	}
	nl_socket_free(host);
	return trl_error_set(err, TRL_EFAILED, "router '%s': interface '%s': %s", cs->router->name, ci->ifname, why);
}

static int addr_in(const struct trl_addr *a, const struct trl_addr *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(a->text, set[i].text))
			return 1;
	return 0;
}

static int addr_op(struct nl_sock *sk, int ifindex, const struct trl_addr *a, int add)
{
	struct rtnl_addr *ad = rtnl_addr_alloc();
	struct nl_addr *local = NULL;
	int r;

	if (!ad || nl_addr_parse(a->text, a->family, &local) < 0) {
		rtnl_addr_put(ad);
		return -NLE_NOMEM;
	}
	rtnl_addr_set_ifindex(ad, ifindex);
	rtnl_addr_set_local(ad, local);
	rtnl_addr_set_prefixlen(ad, a->prefixlen);
	if (add && a->family == AF_INET6)
		rtnl_addr_set_flags(ad, IFA_F_NODAD);
	r = add ? rtnl_addr_add(sk, ad, 0) : rtnl_addr_delete(sk, ad, 0);
	if ((add && r == -NLE_EXIST) || (!add && (r == -NLE_NOADDR || r == -NLE_OBJ_NOTFOUND)))
		r = 0;
	nl_addr_put(local);
	rtnl_addr_put(ad);
	return r;
}

int container_if_set_mtu(const struct container_spec *cs, size_t k, unsigned mtu, struct trl_error *err)
{
	const struct container_if *ci = &cs->ifs[k];
	struct rtnl_link *link = NULL, *change = NULL;
	struct nl_sock *sk = NULL;
	int r;

	if (cs->init_pid <= 0)
		return trl_error_set(err, TRL_EFAILED, "container '%s' is not running", cs->name);
	if ((r = container_netns_socket(cs->init_pid, &sk)) < 0)
		return trl_error_errno(err, TRL_EFAILED, -r, "router '%s': cannot enter its network namespace",
				       cs->router->name);
	if ((r = rtnl_link_get_kernel(sk, 0, ci->ifname, &link)) >= 0) {
		if (!(change = rtnl_link_alloc())) {
			r = -NLE_NOMEM;
		} else {
			rtnl_link_set_mtu(change, mtu ? mtu : 1500);
			r = rtnl_link_change(sk, link, change, 0);
		}
	}
	rtnl_link_put(change);
	rtnl_link_put(link);
	nl_socket_free(sk);
	if (r < 0)
		return trl_error_set(err, TRL_EFAILED, "router '%s': interface '%s': mtu %u: %s", cs->router->name,
				     ci->ifname, mtu, nl_geterror(r));
	return 0;
}

int container_if_readdress(const struct container_spec *cs, size_t k, const struct trl_addr *old, size_t n_old,
			   struct trl_error *err)
{
	const struct container_if *ci = &cs->ifs[k];
	struct nl_sock *sk = NULL;
	struct rtnl_link *link = NULL;
	int r, ifindex;

	if (cs->init_pid <= 0)
		return trl_error_set(err, TRL_EFAILED, "container '%s' is not running", cs->name);
	if ((r = container_netns_socket(cs->init_pid, &sk)) < 0)
		return trl_error_errno(err, TRL_EFAILED, -r, "router '%s': cannot enter its network namespace",
				       cs->router->name);
	if ((r = rtnl_link_get_kernel(sk, 0, ci->ifname, &link)) < 0)
		goto out;
	ifindex = rtnl_link_get_ifindex(link);
	rtnl_link_put(link);
	for (size_t i = 0; i < n_old && r >= 0; i++)
		if (!addr_in(&old[i], ci->addrs, ci->n_addrs))
			r = addr_op(sk, ifindex, &old[i], 0);
	for (size_t i = 0; i < ci->n_addrs && r >= 0; i++)
		if (!addr_in(&ci->addrs[i], old, n_old))
			r = addr_op(sk, ifindex, &ci->addrs[i], 1);
out:
	nl_socket_free(sk);
	if (r < 0)
		return trl_error_set(err, TRL_EFAILED, "router '%s': interface '%s': addresses: %s", cs->router->name,
				     ci->ifname, nl_geterror(r));
	return 0;
}
