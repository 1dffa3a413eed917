/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: this node: substrate interface, tunnel kinds, tunnel devices
 *
 * See node.h.  Kernel devices are managed over rtnetlink with libnl; the
 * gretap probe creates and deletes a device, since a missing module shows only
 * as "operation not supported" when the kernel is asked for one.  The next-hop
 * watcher is a thread blocked in poll() on an rtnetlink route-group socket
 * and an eventfd that stops it.
 */
#define LOG_MODULE "node"
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/ipgre.h>
#include <netlink/route/link/vxlan.h>
#include "bridge.h"
#include "log.h"
#include "node.h"
#include "util.h"

static struct nl_sock *nl_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();

	if (sk && nl_connect(sk, NETLINK_ROUTE) < 0) {
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

int node_substrate_probe(const char *ifname, const char *addr, struct node_substrate *out, struct trl_error *err)
{
	struct nl_sock *sk = nl_open();
	struct rtnl_link *link = NULL;
	struct nl_cache *cache = NULL;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (!sk)
		return trl_error_set(err, TRL_EFAILED, "cannot open rtnetlink");
	if (rtnl_link_get_kernel(sk, 0, ifname, &link) < 0) {
		r = trl_error_set(err, TRL_EINVALID, "substrate interface '%s' does not exist", ifname);
		goto out;
	}
	snprintf(out->ifname, sizeof(out->ifname), "%s", ifname);
	out->ifindex = rtnl_link_get_ifindex(link);
	out->mtu = rtnl_link_get_mtu(link);
	if (addr) {
		if (inet_pton(AF_INET, addr, &out->addr) != 1) {
			r = trl_error_set(err, TRL_EINVALID, "substrate address '%s' is not an IPv4 address", addr);
			goto out;
		}
	} else {
		struct nl_object *o;
		int found = 0;

		if (rtnl_addr_alloc_cache(sk, &cache) < 0) {
			r = trl_error_set(err, TRL_EFAILED, "cannot read addresses");
			goto out;
		}
		for (o = nl_cache_get_first(cache); o && !found; o = nl_cache_get_next(o)) {
			struct rtnl_addr *a = (struct rtnl_addr *)o;
			struct nl_addr *local = rtnl_addr_get_local(a);

			if (rtnl_addr_get_ifindex(a) != out->ifindex || rtnl_addr_get_family(a) != AF_INET || !local)
				continue;
			memcpy(&out->addr, nl_addr_get_binary_addr(local), 4);
			found = 1;
		}
		if (!found) {
			r = trl_error_set(err, TRL_EINVALID,
					  "substrate interface '%s' has no IPv4 address (give one with --address)", ifname);
			goto out;
		}
	}
	inet_ntop(AF_INET, &out->addr, out->addr_text, sizeof(out->addr_text));
out:
	nl_cache_free(cache);
	rtnl_link_put(link);
	nl_socket_free(sk);
	return r;
}

const char *node_tunnel_name(enum node_tunnel t)
{
	switch (t) {
	case NODE_TUNNEL_EGRE:
		return "egre";
	case NODE_TUNNEL_GRETAP:
		return "gretap";
	case NODE_TUNNEL_VXLAN:
		return "vxlan";
	}
	return "?";
}

int node_tunnel_parse(const char *name)
{
	if (!strcmp(name, "egre"))
		return NODE_TUNNEL_EGRE;
	if (!strcmp(name, "gretap"))
		return NODE_TUNNEL_GRETAP;
	if (!strcmp(name, "vxlan"))
		return NODE_TUNNEL_VXLAN;
	return -1;
}

void node_netdev_del(const char *name)
{
	struct nl_sock *sk;
	struct rtnl_link *l;

	if (!if_nametoindex(name) || !(sk = nl_open()))
		return;
	if ((l = rtnl_link_alloc())) {
		rtnl_link_set_name(l, name);
		rtnl_link_delete(sk, l);
		rtnl_link_put(l);
	}
	nl_socket_free(sk);
}

static int probe_kind(const char *kind)
{
	struct nl_sock *sk = nl_open();
	struct rtnl_link *l = NULL;
	char name[16];
	int r = -EIO;

	if (!sk)
		return -EIO;
	snprintf(name, sizeof(name), "trlprobe%d", (int)(getpid() % 100000));
	if (!strcmp(kind, "gretap")) {
		l = rtnl_link_ipgretap_alloc();
	} else {
		/* No port: libnl 3.7 sends IFLA_VXLAN_PORT as 4 bytes where the
		 * kernel wants 2 ("netlink: 'trellisd': attribute type 15 has an
		 * invalid length" in the kernel log; it still reads the right
		 * value), and a probe needs only the kind. */
		l = rtnl_link_vxlan_alloc();
		if (l)
			rtnl_link_vxlan_set_id(l, 1);
	}
	if (l) {
		rtnl_link_set_name(l, name);
		r = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
		rtnl_link_put(l);
	}
	nl_socket_free(sk);
	if (r == 0)
		node_netdev_del(name);
	return r;
}

unsigned node_tunnel_probe(int ebpf_ok, char *why, size_t len)
{
	unsigned kinds = 0;
	size_t n = 0;
	int r;

	why[0] = '\0';
	if (ebpf_ok)
		kinds |= NODE_TUNNEL_EGRE;
	else
		n += snprintf(why + n, n < len ? len - n : 0, "egre: no eBPF tc fast path; ");
	r = probe_kind("gretap");
	if (r == 0)
		kinds |= NODE_TUNNEL_GRETAP;
	else
		n += snprintf(why + n, n < len ? len - n : 0, "gretap: the kernel has no gretap (ip_gre) support (%s); ",
			      nl_geterror(r));
	r = probe_kind("vxlan");
	if (r == 0)
		kinds |= NODE_TUNNEL_VXLAN;
	else
		n += snprintf(why + n, n < len ? len - n : 0, "vxlan: the kernel has no vxlan support (%s); ",
			      nl_geterror(r));
	if (n >= 2 && n < len)
		why[n - 2] = '\0';
	return kinds;
}

void node_tunnel_dev_name(enum node_tunnel kind, uint32_t key, char name[16])
{
	snprintf(name, 16, "%s%u", kind == NODE_TUNNEL_GRETAP ? "tg" : "tv", key);
}

int node_tunnel_dev_add(enum node_tunnel kind, uint32_t key, const struct node_substrate *sub,
			const struct in_addr *remote, char name[16], struct trl_error *err)
{
	struct nl_sock *sk = nl_open();
	struct nl_addr *local = NULL, *peer = NULL;
	struct rtnl_link *l = NULL, *up = NULL;
	int r;

	node_tunnel_dev_name(kind, key, name);
	if (!sk)
		return trl_error_set(err, TRL_EFAILED, "cannot open rtnetlink");
	node_netdev_del(name);	/* a leftover of a crashed create */
	if (kind == NODE_TUNNEL_GRETAP) {
		l = rtnl_link_ipgretap_alloc();
		if (l) {
			rtnl_link_ipgre_set_link(l, sub->ifindex);
			rtnl_link_ipgre_set_local(l, sub->addr.s_addr);
			rtnl_link_ipgre_set_remote(l, remote->s_addr);
			rtnl_link_ipgre_set_ikey(l, htonl(key));
			rtnl_link_ipgre_set_okey(l, htonl(key));
			rtnl_link_ipgre_set_iflags(l, htons(0x2000));	/* GRE_KEY */
			rtnl_link_ipgre_set_oflags(l, htons(0x2000));
			rtnl_link_ipgre_set_ttl(l, 64);
		}
	} else {
		l = rtnl_link_vxlan_alloc();
		local = nl_addr_build(AF_INET, &sub->addr, 4);
		peer = nl_addr_build(AF_INET, remote, 4);
		if (l && local && peer) {
			rtnl_link_vxlan_set_id(l, key);
			rtnl_link_vxlan_set_local(l, local);
			rtnl_link_vxlan_set_group(l, peer);
			rtnl_link_vxlan_set_link(l, sub->ifindex);
			/* IANA's port, not Linux's old default 8472.  libnl 3.7 sends it
			 * 4 bytes long (see probe_kind): one kernel log warning per
			 * tunnel, the value itself arrives intact. */
			rtnl_link_vxlan_set_port(l, 4789);
			rtnl_link_vxlan_set_learning(l, 0);
		}
	}
	if (!l) {
		r = trl_error_set(err, TRL_EFAILED, "out of memory");
		goto out;
	}
	rtnl_link_set_name(l, name);
	rtnl_link_set_mtu(l, sub->mtu - (kind == NODE_TUNNEL_GRETAP ? 28 : 36));
	r = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	if (r < 0) {
		r = trl_error_set(err, TRL_EFAILED, "cannot create %s device '%s': %s", node_tunnel_name(kind), name,
				  nl_geterror(r));
		goto out;
	}
	up = rtnl_link_alloc();
	if (up) {
		struct rtnl_link *cur = NULL;

		if (rtnl_link_get_kernel(sk, 0, name, &cur) == 0) {
			rtnl_link_set_flags(up, IFF_UP);
			r = rtnl_link_change(sk, cur, up, 0);
			rtnl_link_put(cur);
			if (r < 0) {
				r = trl_error_set(err, TRL_EFAILED, "cannot bring '%s' up: %s", name, nl_geterror(r));
				node_netdev_del(name);
				goto out;
			}
		}
	}
	r = 0;
out:
	rtnl_link_put(up);
	rtnl_link_put(l);
	nl_addr_put(local);
	nl_addr_put(peer);
	nl_socket_free(sk);
	return r;
}

int node_netdev_set_mtu(const char *name, unsigned mtu, struct trl_error *err)
{
	struct nl_sock *sk = nl_open();
	struct rtnl_link *cur = NULL, *chg = NULL;
	int r;

	if (!sk)
		return trl_error_set(err, TRL_EFAILED, "cannot open rtnetlink");
	r = rtnl_link_get_kernel(sk, 0, name, &cur);
	if (r == 0 && (chg = rtnl_link_alloc())) {
		rtnl_link_set_mtu(chg, mtu);
		r = rtnl_link_change(sk, cur, chg, 0);
	}
	rtnl_link_put(chg);
	rtnl_link_put(cur);
	nl_socket_free(sk);
	if (r < 0)
		return trl_error_set(err, TRL_EFAILED, "cannot set the MTU of '%s' to %u: %s", name, mtu, nl_geterror(r));
	return 0;
}

int node_netdev_set_up(const char *name, int up, struct trl_error *err)
{
	struct nl_sock *sk = nl_open();
	struct rtnl_link *cur = NULL, *chg = NULL;
	int r;

	if (!sk)
		return trl_error_set(err, TRL_EFAILED, "cannot open rtnetlink");
	r = rtnl_link_get_kernel(sk, 0, name, &cur);
	if (r == 0 && (chg = rtnl_link_alloc())) {
		if (up)
			rtnl_link_set_flags(chg, IFF_UP);
		else
			rtnl_link_unset_flags(chg, IFF_UP);
		r = rtnl_link_change(sk, cur, chg, 0);
	}
	rtnl_link_put(chg);
	rtnl_link_put(cur);
	nl_socket_free(sk);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return trl_error_set(err, TRL_ENOTFOUND, "no interface '%s'", name);
	if (r < 0)
		return trl_error_set(err, TRL_EFAILED, "cannot set '%s' %s: %s", name, up ? "up" : "down",
				     nl_geterror(r));
	return 0;
}

/* --- tunnel next hops ---------------------------------------------------------- */

static struct {
	pthread_t th;
	int route_fd;
	int stop_fd;
	struct bridge *b;
	int running;
} nhw = { .route_fd = -1, .stop_fd = -1 };

/* Read everything queued on @fd; 1 if anything was, 0 if not. */
static int drain(int fd)
{
	char buf[8192];
	int any = 0;

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0 || errno == ENOBUFS)
		any = 1;
	return any;
}

static void nexthop_refresh(struct bridge *b)
{
	struct trl_error err = { 0 };
	unsigned changed = 0;

	if (bridge_nexthops_refresh(b, &changed, &err) < 0) {
		log_warn("%s", err.msg);
		return;
	}
	if (changed)
		log_info("Route change: %u tunnel next hop%s updated", changed, changed == 1 ? "" : "s");
}

static void *nexthop_watch_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[2] = { { .fd = nhw.route_fd, .events = POLLIN },
				       { .fd = nhw.stop_fd, .events = POLLIN } };
		int n = poll(p, 2, 60000);

		if (n < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (n > 0 && p[0].revents) {
			/* A route change comes in bursts (a link going down takes
			 * several routes): refresh once they have settled, at
			 * most five times a second. */
			do
				drain(nhw.route_fd);
			while (poll(&p[0], 1, 50) > 0 && !(p[0].revents & (POLLERR | POLLNVAL)));
		}
		nexthop_refresh(nhw.b);
		poll(&p[1], 1, 150);
	}
	return NULL;
}

void node_nexthop_watch_start(struct bridge *b)
{
	if (!b || nhw.running)
		return;
	nhw.b = b;
	/* The daemon's tunnels have IPv4 outer headers (slice-realize.c). */
	nhw.route_fd = bridge_route_watch_open(AF_INET);
	nhw.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (nhw.route_fd < 0 || nhw.stop_fd < 0 ||
	    pthread_create(&nhw.th, NULL, nexthop_watch_main, NULL) != 0) {
		log_warn("Tunnel next hops will not follow route changes: %s",
			 strerror(nhw.route_fd < 0 ? -nhw.route_fd : errno));
		if (nhw.route_fd >= 0)
			close(nhw.route_fd);
		if (nhw.stop_fd >= 0)
			close(nhw.stop_fd);
		nhw.route_fd = nhw.stop_fd = -1;
		return;
	}
	nhw.running = 1;
}

void node_nexthop_watch_stop(void)
{
	uint64_t one = 1;

	if (!nhw.running)
		return;
	if (write(nhw.stop_fd, &one, sizeof(one)) < 0)
		log_warn("Stop the next-hop watcher: %s", strerror(errno));
	pthread_join(nhw.th, NULL);
	close(nhw.route_fd);
	close(nhw.stop_fd);
	nhw.route_fd = nhw.stop_fd = -1;
	nhw.running = 0;
}
