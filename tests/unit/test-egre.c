/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: test-egre - EGRE tunnels between two emulated substrate nodes
 *
 * Needs root and a kernel with clsact/cls_bpf and the BPF helpers the fast
 * path uses; otherwise it skips (77).  Everything lives in namespaces
 * private to this process (network namespaces held only by our fds, a mount
 * namespace with its own bpffs on /sys/fs/bpf), so nothing leaks onto the
 * host even if the test dies; the test still detaches, releases and unpins
 * everything and checks that.
 *
 *          node A                         wire                       node B
 *   r1 eth1 ==== h1  key 101 \   wa 192.0.2.1  ====  wb 192.0.2.2   / key 101 h2 ==== eth1 r2
 *   r3 eth1 ==== h4  key 102  >  2001:db8:ff::1      2001:db8:ff::2 <  key 102 h3 ==== eth2 r2
 *   r1 eth2 ==== h5  key 201 /   (IPv6 outer)                        \ key 201 h6 ==== eth3 r2
 *
 * r1 10.1.0.1 -- r2 10.1.0.2 (IPv4 outer), r2 10.2.0.2 -- r3 10.2.0.3
 * (IPv4 outer; r1 <-> r3 is routed through r2, i.e. A -> B -> A), r1 10.3.0.1
 * -- r2 10.3.0.2 (IPv6 outer).  Raw frames are sent and caught with AF_PACKET
 * sockets in the routers; a packet socket on wa (node A) sees the wire.
 * TCP transfers move 1 MiB each; TRL_EGRE_MIB=n moves n MiB (for measuring).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_addr.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/magic.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>

#include "tap.h"
#include "netutil.h"
#include "bridge/bridge.h"
#include "bridge/fastpath.h"
#include "log.h"
#include "util.h"

#define ETH_P_TEST 0x88b5 /* IEEE local experimental */
#define KEY1 101u	  /* r1 - r2, IPv4 outer */
#define KEY2 102u	  /* r2 - r3, IPv4 outer */
#define KEY6 201u	  /* r1 - r2, IPv6 outer */
#define WIRE_MTU 1500u

enum { NS_A, NS_B, NS_R1, NS_R2, NS_R3, NS_N };

static int ns[NS_N] = { -1, -1, -1, -1, -1 };
static struct nl_sock *nl[NS_N];
static char pin_a[64], pin_b[64];
static struct bridge *ba, *bb;
static unsigned magic_seq;
static struct in_addr a4, b4;
static struct in6_addr a6, b6;

static int enter(int which)
{
	return setns(ns[which], CLONE_NEWNET);
}

/* Whatever happens, leave no pins behind (the mount namespace would drop
 * them anyway, but a leak here would show in the checks at the end). */
static void cleanup(void)
{
	bridge_close(ba);
	bridge_close(bb);
	if (pin_a[0])
		bridge_unpin(pin_a, NULL);
	if (pin_b[0])
		bridge_unpin(pin_b, NULL);
}

/* --- namespaces and links ------------------------------------------------------ */

/* A fresh network namespace without IPv6 noise (only the wire gets IPv6). */
static int netns_new(int which)
{
	ns[which] = tu_netns_new(&nl[which]);
	return ns[which] < 0 ? ns[which] : 0;
}

/* Frames @name (in namespace @in) has transmitted: what bpf_redirect sends
 * through it counts, what bpf_redirect_peer hands past it does not. */
static uint64_t link_tx(int in, const char *name)
{
	struct rtnl_link *l = NULL;
	uint64_t n = 0;

	if (rtnl_link_get_kernel(nl[in], 0, name, &l) == 0) {
		n = rtnl_link_get_stat(l, RTNL_LINK_TX_PACKETS);
		rtnl_link_put(l);
	}
	return n;
}

/* Run an `ip` command inside namespace @in. */
static int ip_cmd(int in, const char *args)
{
	char cmd[256];
	int r;

	snprintf(cmd, sizeof(cmd), "ip %s >/dev/null 2>&1", args);
	enter(in);
	r = system(cmd);
	enter(NS_A);
	return r;
}

/* `ip neigh show` line for @addr on wire @dev in node @in ("" if none). */
static void neigh_line(int in, const char *dev, const char *addr, char *out, size_t len)
{
	char cmd[128];
	FILE *f;

	out[0] = '\0';
	snprintf(cmd, sizeof(cmd), "ip neigh show dev %s to %s 2>/dev/null", dev, addr);
	enter(in);
	f = popen(cmd, "r");
	enter(NS_A);
	if (!f)
		return;
	if (!fgets(out, (int)len, f))
		out[0] = '\0';
	pclose(f);
	out[strcspn(out, "\n")] = '\0';
}

/* Wait up to 10 s for the neighbour entry to be resolved (an lladdr and a
 * valid state; DELAY/STALE after earlier traffic is resolved too) and, with
 * @state, to be in that state. */
static int neigh_wait_state(int in, const char *dev, const char *addr, const char *state, char *line, size_t len)
{
	for (int i = 0; i < 200; i++) {
		neigh_line(in, dev, addr, line, len);
		if (strstr(line, "lladdr") && !strstr(line, "FAILED") && !strstr(line, "INCOMPLETE") &&
		    (!state || strstr(line, state)))
			return 1;
		usleep(50000);
	}
	return 0;
}

static int neigh_wait(int in, const char *dev, const char *addr, char *line, size_t len)
{
	return neigh_wait_state(in, dev, addr, NULL, line, len);
}

static uint64_t snmp_ip_in_receives(int in)
{
	char line[1024], vals[1024];
	unsigned long long v = 0;
	FILE *f;

	enter(in);
	f = fopen("/proc/thread-self/net/snmp", "re");
	enter(NS_A);
	if (!f)
		return 0;
	/* "Ip: Forwarding DefaultTTL InReceives ..." then the values line. */
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Ip: F", 5) && fgets(vals, sizeof(vals), f)) {
			sscanf(vals, "Ip: %*u %*u %llu", &v);
			break;
		}
	fclose(f);
	return v;
}

/* --- frames ---------------------------------------------------------------------- */

static void drain(struct tu_port *p)
{
	unsigned char buf[128];

	while (recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static uint16_t csum16(const void *data, size_t len)
{
	const unsigned char *b = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static unsigned get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

struct frame {
	unsigned char b[2048];
	size_t len;
	unsigned magic;
};

/*
 * A frame from @src to @dst of exactly @len bytes carrying a fresh magic
 * string: experimental ethertype, or (@ip) IPv4/UDP @sip -> @dip.
 */
static void frame_build(struct frame *f, const unsigned char *dst, const unsigned char *src, int ip,
			const char *sip, const char *dip, size_t len)
{
	size_t off = ETH_HLEN;
	char tag[32];

	memset(f, 0, sizeof(*f));
	f->magic = ++magic_seq;
	f->len = len;
	memcpy(f->b, dst, ETH_ALEN);
	memcpy(f->b + 6, src, ETH_ALEN);
	put16(f->b + 12, ip ? ETH_P_IP : ETH_P_TEST);
	if (ip) {
		unsigned char *h = f->b + off;
		struct in_addr s, d;

		inet_pton(AF_INET, sip, &s);
		inet_pton(AF_INET, dip, &d);
		h[0] = 0x45;
		put16(h + 2, (unsigned)(len - ETH_HLEN));
		h[8] = 64;
		h[9] = IPPROTO_UDP;
		memcpy(h + 12, &s, 4);
		memcpy(h + 16, &d, 4);
		put16(h + 10, csum16(h, 20));
		put16(h + 20, 5555);
		put16(h + 22, 5556);
		put16(h + 24, (unsigned)(len - ETH_HLEN - 20)); /* UDP checksum 0: none */
		off += 28;
	}
	snprintf(tag, sizeof(tag), "trellis-egre-%u", f->magic);
	memcpy(f->b + off, tag, strlen(tag) + 1);
}

static int frame_send(struct tu_port *p, const struct frame *f)
{
	return send(p->fd, f->b, f->len, 0) == (ssize_t)f->len ? 0 : -errno;
}

/* Wait up to @ms for a frame (of direction @outgoing) carrying @magic; copy it to @out. */
static int frame_wait(struct tu_port *p, unsigned magic, int outgoing, int ms, struct frame *out)
{
	char tag[32];
	unsigned char buf[2048];

	snprintf(tag, sizeof(tag), "trellis-egre-%u", magic);
	for (;;) {
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n;

		if (poll(&pfd, 1, ms) <= 0)
			return 0;
		n = recvfrom(p->fd, buf, sizeof(buf), 0, (void *)&from, &fl);
		if (n <= 0 || (from.sll_pkttype == PACKET_OUTGOING) != !!outgoing)
			continue;
		if (memmem(buf, (size_t)n, tag, strlen(tag) + 1)) {
			if (out) {
				memcpy(out->b, buf, (size_t)n);
				out->len = (size_t)n;
			}
			return 1;
		}
	}
}

/* An EGRE packet as another node would send it, for injection on the wire. */
static size_t egre_build(unsigned char *b, const unsigned char *dst, const unsigned char *src,
			 const char *sip, const char *dip, unsigned gre_flags, uint32_t key,
			 const struct frame *inner)
{
	struct in_addr s, d;
	unsigned char *h = b + ETH_HLEN;

	memset(b, 0, ETH_HLEN + 28);
	memcpy(b, dst, ETH_ALEN);
	memcpy(b + 6, src, ETH_ALEN);
	put16(b + 12, ETH_P_IP);
	inet_pton(AF_INET, sip, &s);
	inet_pton(AF_INET, dip, &d);
	h[0] = 0x45;
	put16(h + 2, (unsigned)(28 + inner->len));
	put16(h + 6, 0x4000);
	h[8] = 64;
	h[9] = IPPROTO_GRE;
	memcpy(h + 12, &s, 4);
	memcpy(h + 16, &d, 4);
	put16(h + 10, csum16(h, 20));
	put16(h + 20, gre_flags);
	put16(h + 22, 0x6558);
	put32(h + 24, key);
	memcpy(h + 28, inner->b, inner->len);
	return ETH_HLEN + 28 + inner->len;
}

/* --- the wire contract ------------------------------------------------------------- */

/* Check captured EGRE/IPv4 frame @c against what was sent (@in from r1). */
static void check_egre4(const struct frame *c, const struct tu_port *wa, const unsigned char *wb_mac,
			uint32_t key, const struct frame *in, const char *what)
{
	const unsigned char *ip = c->b + ETH_HLEN, *gre = ip + 20;

	ok(c->len == ETH_HLEN + 20 + 8 + in->len, "%s: wire frame is 42 + %zu bytes (%zu)", what,
	   in->len, c->len);
	ok(!memcmp(c->b, wb_mac, 6) && !memcmp(c->b + 6, wa->mac, 6) && get16(c->b + 12) == ETH_P_IP,
	   "%s: outer Ethernet node A -> node B (kernel-resolved), type IPv4", what);
	ok(ip[0] == 0x45 && ip[1] == 0, "%s: IPv4, no options, TOS 0", what);
	is_int(get16(ip + 2), 20 + 8 + in->len, "%s: total length", what);
	ok(get16(ip + 4) == 0 && get16(ip + 6) == 0x4000, "%s: ID 0, DF set, not a fragment", what);
	ok(ip[8] == 64 && ip[9] == 47, "%s: TTL 64, protocol 47 (GRE)", what);
	ok(csum16(ip, 20) == 0, "%s: header checksum valid (%04x)", what, get16(ip + 10));
	ok(!memcmp(ip + 12, &a4, 4) && !memcmp(ip + 16, &b4, 4), "%s: 192.0.2.1 -> 192.0.2.2", what);
	ok(get16(gre) == 0x2000 && get16(gre + 2) == 0x6558 && get32(gre + 4) == key,
	   "%s: GRE flags 0x2000 (key), protocol 0x6558, key %u", what, key);
	ok(c->len >= 42 && !memcmp(c->b + 42, in->b, in->len), "%s: inner frame intact", what);
}

static void check_egre6(const struct frame *c, const struct tu_port *wa, const unsigned char *wb_mac,
			uint32_t key, const struct frame *in, const char *what)
{
	const unsigned char *ip = c->b + ETH_HLEN, *gre = ip + 40;

	ok(c->len == ETH_HLEN + 40 + 8 + in->len, "%s: wire frame is 62 + %zu bytes (%zu)", what,
	   in->len, c->len);
	ok(!memcmp(c->b, wb_mac, 6) && !memcmp(c->b + 6, wa->mac, 6) &&
		   get16(c->b + 12) == ETH_P_IPV6,
	   "%s: outer Ethernet node A -> node B, type IPv6", what);
	ok(ip[0] >> 4 == 6 && ((ip[0] & 0xf) << 4 | ip[1] >> 4) == 0, "%s: IPv6, traffic class 0",
	   what);
	ok(get16(ip + 4) == 8 + in->len && ip[6] == 47 && ip[7] == 64,
	   "%s: payload length, next header 47 (GRE), hop limit 64", what);
	ok(!memcmp(ip + 8, &a6, 16) && !memcmp(ip + 24, &b6, 16), "%s: 2001:db8:ff::1 -> ::2", what);
	ok(get16(gre) == 0x2000 && get16(gre + 2) == 0x6558 && get32(gre + 4) == key,
	   "%s: GRE flags 0x2000, protocol 0x6558, key %u", what, key);
	ok(c->len >= 62 && !memcmp(c->b + 62, in->b, in->len), "%s: inner frame intact", what);
}

/* --- traffic through the routers' stacks ------------------------------------------- */

static int udp_roundtrip(int from, int to, const char *to_ip, uint16_t port, const char *payload)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int tx = -1, rx = -1, good = 0;
	char buf[128];

	inet_pton(AF_INET, to_ip, &sa.sin_addr);
	if (enter(to) == 0) {
		rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (rx >= 0 && bind(rx, (void *)&sa, sizeof(sa)) < 0) {
			close(rx);
			rx = -1;
		}
	}
	if (enter(from) == 0)
		tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	enter(NS_A);
	if (rx >= 0 && tx >= 0 &&
	    sendto(tx, payload, strlen(payload), 0, (void *)&sa, sizeof(sa)) > 0) {
		struct pollfd pfd = { .fd = rx, .events = POLLIN };

		if (poll(&pfd, 1, 3000) == 1) {
			ssize_t n = recv(rx, buf, sizeof(buf) - 1, 0);

			good = n == (ssize_t)strlen(payload) && !memcmp(buf, payload, (size_t)n);
		}
	}
	if (tx >= 0)
		close(tx);
	if (rx >= 0)
		close(rx);
	return good;
}

static unsigned char pattern(size_t off)
{
	return (unsigned char)(off ^ (off >> 8) ^ (off >> 16) ^ 0x5a);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Send @total bytes over TCP from namespace @cli to @srv_ip:@port in @srv and
 * check every byte.  Returns 0, or -1 with the reason in @why. */
static int tcp_transfer(int srv, const char *srv_ip, uint16_t port, int cli, size_t total,
			double *secs, char *why, size_t wl)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int lfd = -1, cfd = -1, afd = -1, one = 1, r = -1;
	size_t sent = 0, got = 0;
	unsigned char buf[65536];
	double t0 = now();

	snprintf(why, wl, "ok");
	inet_pton(AF_INET, srv_ip, &sa.sin_addr);
	enter(srv);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (void *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0) {
		snprintf(why, wl, "listen: %s", strerror(errno));
		goto out;
	}
	enter(cli);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (cfd < 0 || (connect(cfd, (void *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)) {
		snprintf(why, wl, "connect: %s", strerror(errno));
		goto out;
	}
	enter(NS_A);
	while (got < total) {
		struct pollfd p[2] = { { .fd = afd >= 0 ? afd : lfd, .events = POLLIN },
				       { .fd = cfd, .events = sent < total ? POLLOUT : 0 } };

		if (now() - t0 > 30) {
			snprintf(why, wl, "timed out after %zu of %zu bytes", got, total);
			goto out;
		}
		if (poll(p, 2, 1000) < 0)
			continue;
		if (p[1].revents & (POLLERR | POLLHUP)) {
			snprintf(why, wl, "client socket error after %zu bytes sent", sent);
			goto out;
		}
		if (afd < 0 && (p[0].revents & POLLIN)) {
			afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			continue;
		}
		if (p[1].revents & POLLOUT) {
			size_t n = total - sent < sizeof(buf) ? total - sent : sizeof(buf);
			ssize_t w;

			for (size_t i = 0; i < n; i++)
				buf[i] = pattern(sent + i);
			w = send(cfd, buf, n, MSG_NOSIGNAL);
			if (w > 0)
				sent += (size_t)w;
			if (sent == total)
				shutdown(cfd, SHUT_WR);
		}
		if (afd >= 0 && (p[0].revents & (POLLIN | POLLHUP))) {
			ssize_t n = recv(afd, buf, sizeof(buf), 0);

			if (n == 0) {
				snprintf(why, wl, "early EOF after %zu bytes", got);
				goto out;
			}
			for (ssize_t i = 0; i < n; i++)
				if (buf[i] != pattern(got + (size_t)i)) {
					snprintf(why, wl, "byte %zu corrupted", got + (size_t)i);
					goto out;
				}
			if (n > 0)
				got += (size_t)n;
		}
	}
	r = 0;
out:
	enter(NS_A);
	*secs = now() - t0;
	if (lfd >= 0)
		close(lfd);
	if (cfd >= 0)
		close(cfd);
	if (afd >= 0)
		close(afd);
	return r;
}

/* --- setup ---------------------------------------------------------------------------- */

static int setup(void)
{
	struct statfs st;

	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0)
		return -errno;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	/* Cover a host bpffs with a private instance; with none, bridge_open()
	 * mounts one (private to us anyway). */
	if (statfs("/sys/fs/bpf", &st) == 0 && (unsigned long)st.f_type == BPF_FS_MAGIC &&
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0)
		return -errno;
	return 0;
}

static int build_topology(void)
{
	static const struct {
		int host_ns;
		const char *host;
		int router;
		const char *rname, *addr;
		unsigned mtu;
	} legs[] = {
		{ NS_A, "h1", NS_R1, "eth1", "10.1.0.1/24", WIRE_MTU - 42 },
		{ NS_A, "h4", NS_R3, "eth1", "10.2.0.3/24", WIRE_MTU - 42 },
		{ NS_A, "h5", NS_R1, "eth2", "10.3.0.1/24", WIRE_MTU - 62 },
		{ NS_B, "h2", NS_R2, "eth1", "10.1.0.2/24", WIRE_MTU - 42 },
		{ NS_B, "h3", NS_R2, "eth2", "10.2.0.2/24", WIRE_MTU - 42 },
		{ NS_B, "h6", NS_R2, "eth3", "10.3.0.2/24", WIRE_MTU - 62 },
	};
	int r;

	for (int i = 0; i < NS_N; i++)
		if ((r = netns_new(i)) < 0)
			return r;
	enter(NS_A);
	if ((r = tu_veth_add(nl[NS_A], "wa", "wb", ns[NS_B])) < 0 || (r = tu_link_set(nl[NS_A], "wa", 0)) < 0 ||
	    (r = tu_link_set(nl[NS_B], "wb", 0)) < 0)
		return r;
	/* IPv6 only on the wire (outer headers), everything else stays quiet. */
	enter(NS_A);
	tu_write_file("/proc/sys/net/ipv6/conf/wa/accept_dad", "0"); /* link-local usable at once */
	tu_write_file("/proc/sys/net/ipv6/conf/wa/disable_ipv6", "0");
	enter(NS_B);
	tu_write_file("/proc/sys/net/ipv6/conf/wb/accept_dad", "0");
	tu_write_file("/proc/sys/net/ipv6/conf/wb/disable_ipv6", "0");
	enter(NS_A);
	if ((r = tu_addr_add(nl[NS_A], "wa", "192.0.2.1/24")) < 0 ||
	    (r = tu_addr_add(nl[NS_B], "wb", "192.0.2.2/24")) < 0 ||
	    (r = tu_addr_add(nl[NS_A], "wa", "2001:db8:ff::1/64")) < 0 ||
	    (r = tu_addr_add(nl[NS_B], "wb", "2001:db8:ff::2/64")) < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(legs); i++) {
		if ((r = tu_veth_add(nl[legs[i].host_ns], legs[i].host, legs[i].rname, ns[legs[i].router])) < 0 ||
		    (r = tu_link_set(nl[legs[i].host_ns], legs[i].host, 0)) < 0 ||
		    (r = tu_link_set(nl[legs[i].router], legs[i].rname, legs[i].mtu)) < 0 ||
		    (r = tu_addr_add(nl[legs[i].router], legs[i].rname, legs[i].addr)) < 0)
			return r;
	}
	enter(NS_R2);
	tu_write_file("/proc/sys/net/ipv4/ip_forward", "1");
	enter(NS_A);
	if (ip_cmd(NS_R1, "route add 10.2.0.0/24 via 10.1.0.2") != 0 ||
	    ip_cmd(NS_R3, "route add 10.1.0.0/24 via 10.2.0.2") != 0)
		return -EIO;
	inet_pton(AF_INET, "192.0.2.1", &a4);
	inet_pton(AF_INET, "192.0.2.2", &b4);
	inet_pton(AF_INET6, "2001:db8:ff::1", &a6);
	inet_pton(AF_INET6, "2001:db8:ff::2", &b6);
	return 0;
}

static uint32_t prog_id(const char *dir, const char *name)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
		info.id = 0;
	close(fd);
	return info.id;
}

static unsigned map_entries(const char *dir, const char *name)
{
	char path[128];
	uint32_t key, *prev = NULL;
	unsigned n = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return ~0u;
	while (bpf_map_get_next_key(fd, prev, &key) == 0) {
		n++;
		prev = &key;
	}
	close(fd);
	return n;
}

/* Port entry of @dev (in the current namespace) in @dir's fp_ports. */
static int port_entry(const char *dir, const char *dev, struct fp_port *port)
{
	char path[128];
	uint32_t key = if_nametoindex(dev);
	int fd, r;

	memset(port, 0, sizeof(*port));
	snprintf(path, sizeof(path), "%s/fp_ports", dir);
	fd = bpf_obj_get(path);
	if (fd < 0 || !key)
		return -1;
	r = bpf_map_lookup_elem(fd, &key, port);
	close(fd);
	return r;
}

/* Id of the program in our ingress filter on @dev in node @in, 0 if none. */
static uint32_t filter_prog(int in, const char *dev)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 0x5b, .priority = 1);
	int r;

	libbpf_print_fn_t old = libbpf_set_print(NULL); /* "no filter" is an answer here */

	enter(in);
	hook.ifindex = (int)if_nametoindex(dev);
	r = hook.ifindex ? bpf_tc_query(&hook, &opts) : -ENODEV;
	enter(NS_A);
	libbpf_set_print(old);
	return r == 0 ? opts.prog_id : 0;
}

static struct bridge_port_stats pstats(struct bridge *b, int in, const char *dev)
{
	struct bridge_port_stats s;
	struct trl_error e = {};

	enter(in);
	bridge_port_stats(b, dev, &s, &e);
	enter(NS_A);
	return s;
}

static struct bridge_node_stats nstats(struct bridge *b)
{
	struct bridge_node_stats s;
	struct trl_error e = {};

	bridge_node_stats(b, &s, &e);
	return s;
}

/* --- the test ---------------------------------------------------------------------------- */

int main(void)
{
	struct trl_error err = {};
	struct tu_port r1e1, r1e2, r2e1, r2e3, wa, wbp;
	struct bridge_port_stats s0, s1, t0, t1;
	struct bridge_node_stats n0, n1;
	struct bridge_node_cfg cfg = {};
	struct frame f, cap;
	char line[256], why[128];
	uint32_t pa, pw;
	uint64_t rcv0;
	size_t bulk = 1 << 20;
	double secs;
	int r;

	if (geteuid() != 0)
		skip_all("needs root (network namespaces, BPF, qdiscs)");
	if (getenv("TRL_DEBUG"))
		log_set_level(LOG_LVL_DEBUG);
	if (setup() < 0)
		skip_all("cannot create private network and mount namespaces");
	if (bridge_probe(&err) < 0)
		skip_all(err.msg);
	if (system("ip -V >/dev/null 2>&1") != 0)
		skip_all("needs iproute2 (ip) for routes and neighbour checks");
	if (getenv("TRL_EGRE_MIB") && atoi(getenv("TRL_EGRE_MIB")) > 0)
		bulk = (size_t)atoi(getenv("TRL_EGRE_MIB")) << 20;
	snprintf(pin_a, sizeof(pin_a), "/sys/fs/bpf/trellis-egre-a-%d", (int)getpid());
	snprintf(pin_b, sizeof(pin_b), "/sys/fs/bpf/trellis-egre-b-%d", (int)getpid());
	atexit(cleanup);

	plan(153);

	r = build_topology();
	if (!ok(r == 0, "topology: nodes A and B on a veth wire, routers r1 r3 on A, r2 on B (%s)",
		r ? nl_geterror(r) : "ok"))
		return done();
	if (!ok(tu_port_open(ns[NS_R1], ns[NS_A], "eth1", &r1e1) == 0 && tu_port_open(ns[NS_R1], ns[NS_A], "eth2", &r1e2) == 0 &&
		    tu_port_open(ns[NS_R2], ns[NS_A], "eth1", &r2e1) == 0 && tu_port_open(ns[NS_R2], ns[NS_A], "eth3", &r2e3) == 0 &&
		    tu_port_open(ns[NS_A], ns[NS_A], "wa", &wa) == 0 && tu_port_open(ns[NS_B], ns[NS_A], "wb", &wbp) == 0,
		"packet sockets in r1, r2 and on the wire"))
		return done();

	/* --- open and attach ------------------------------------------------------------ */
	enter(NS_A);
	r = bridge_open(pin_a, &ba, &err);
	ok(r == 0, "node A: bridge_open (%s)", r ? err.msg : "ok");
	enter(NS_B);
	r = bridge_open(pin_b, &bb, &err);
	enter(NS_A);
	if (!ok(r == 0, "node B: bridge_open (%s)", r ? err.msg : "ok") || !ba)
		return done();

	snprintf(cfg.substrate, sizeof(cfg.substrate), "wa");
	cfg.family = AF_INET;
	cfg.local.v4 = a4;
	r = bridge_substrate_attach(ba, &cfg, &err);
	ok(r == 0, "A: substrate 'wa' 192.0.2.1 (%s)", r ? err.msg : "ok");
	cfg.family = AF_INET6;
	cfg.local.v6 = a6;
	r = bridge_substrate_attach(ba, &cfg, &err);
	ok(r == 0, "A: substrate 'wa' 2001:db8:ff::1 added (%s)", r ? err.msg : "ok");
	r = bridge_substrate_attach(ba, &cfg, &err);
	ok(r == 0, "A: attaching the substrate again is fine");
	enter(NS_B);
	snprintf(cfg.substrate, sizeof(cfg.substrate), "wb");
	cfg.family = AF_INET;
	cfg.local.v4 = b4;
	r = bridge_substrate_attach(bb, &cfg, &err);
	cfg.family = AF_INET6;
	cfg.local.v6 = b6;
	if (r == 0)
		r = bridge_substrate_attach(bb, &cfg, &err);
	enter(NS_A);
	ok(r == 0, "B: substrate 'wb' 192.0.2.2 and 2001:db8:ff::2 (%s)", r ? err.msg : "ok");
	{
		struct bridge_node_cfg got;
		struct in6_addr v6;
		char s6[INET6_ADDRSTRLEN] = "";

		r = bridge_substrate_get(ba, &got, &v6, &err);
		inet_ntop(AF_INET6, &v6, s6, sizeof(s6));
		ok(r == 0 && !strcmp(got.substrate, "wa") && got.family == AF_INET &&
			   got.local.v4.s_addr == a4.s_addr && got.mtu == WIRE_MTU &&
			   !strcmp(s6, "2001:db8:ff::1"),
		   "A: configuration reads back (wa, 192.0.2.1, %s, MTU %u)", s6, got.mtu);
	}
	cfg.family = AF_INET;
	cfg.local.v4.s_addr = htonl(0xe0000001);
	r = bridge_substrate_attach(bb, &cfg, &err);
	is_int(r, -TRL_EINVALID, "a multicast local address is refused");

	r = bridge_tunnel_attach(ba, "h1", KEY1, AF_INET, &b4, 0, &err);
	ok(r == 0, "A: tunnel h1 key %u -> 192.0.2.2 (%s)", KEY1, r ? err.msg : "ok");
	r = bridge_tunnel_attach(ba, "h4", KEY2, AF_INET, &b4, 0, &err);
	if (r == 0)
		r = bridge_tunnel_attach(ba, "h5", KEY6, AF_INET6, &b6, 0, &err);
	ok(r == 0, "A: tunnels h4 key %u, h5 key %u (IPv6 outer) (%s)", KEY2, KEY6,
	   r ? err.msg : "ok");
	r = bridge_tunnel_attach(ba, "h1", KEY1, AF_INET, &b4, 0, &err);
	ok(r == 0, "A: attaching h1 again is fine");
	enter(NS_B);
	r = bridge_tunnel_attach(bb, "h2", KEY1, AF_INET, &a4, 0, &err);
	if (r == 0)
		r = bridge_tunnel_attach(bb, "h3", KEY2, AF_INET, &a4, 0, &err);
	if (r == 0)
		r = bridge_tunnel_attach(bb, "h6", KEY6, AF_INET6, &a6, 0, &err);
	enter(NS_A);
	ok(r == 0, "B: tunnels h2, h3, h6 (%s)", r ? err.msg : "ok");
	is_int(map_entries(pin_a, "fp_ports"), 3, "A: three port entries");
	is_int(map_entries(pin_a, "fp_keys"), 3, "A: three key entries");
	{
		struct fp_port p1, p5;
		struct in_addr gw;
		unsigned changed = 0;

		ok(port_entry(pin_a, "h1", &p1) == 0 && p1.nh_family == AF_INET &&
			   !memcmp(p1.nh, &b4, 4) && port_entry(pin_a, "h5", &p5) == 0 &&
			   p5.nh_family == AF_INET6 && !memcmp(p5.nh, &b6, 16),
		   "A: next hops resolved at attach (on link: the remote nodes themselves)");
		ok(p1.slot && p5.slot && p1.slot != p5.slot, "A: distinct counter slots (%u, %u)",
		   p1.slot, p5.slot);
		/* A route change: 192.0.2.2 now through a gateway on the wire. */
		inet_pton(AF_INET, "192.0.2.9", &gw);
		r = ip_cmd(NS_A, "route add 192.0.2.2/32 via 192.0.2.9 dev wa");
		if (r == 0)
			r = bridge_nexthops_refresh(ba, &changed, &err);
		ok(r == 0 && changed == 2 && port_entry(pin_a, "h1", &p1) == 0 &&
			   p1.nh_family == AF_INET && !memcmp(p1.nh, &gw, 4),
		   "A: refresh after a route change moves both IPv4 tunnels to the gateway (%u)",
		   changed);
		r = ip_cmd(NS_A, "route del 192.0.2.2/32 via 192.0.2.9 dev wa");
		if (r == 0)
			r = bridge_nexthops_refresh(ba, &changed, &err);
		ok(r == 0 && changed == 2 && port_entry(pin_a, "h1", &p1) == 0 &&
			   !memcmp(p1.nh, &b4, 4),
		   "A: and back once the route is gone (%u)", changed);
		r = bridge_nexthops_refresh(ba, &changed, &err);
		ok(r == 0 && changed == 0, "A: a refresh without a change rewrites nothing");
		/* No route to the remote at all: the kernel routes (NULL params). */
		r = ip_cmd(NS_A, "route add unreachable 192.0.2.2/32");
		if (r == 0)
			r = bridge_nexthops_refresh(ba, &changed, &err);
		ok(r == 0 && port_entry(pin_a, "h1", &p1) == 0 && p1.nh_family == 0,
		   "A: unresolvable remote: next hop cleared");
		ip_cmd(NS_A, "route del unreachable 192.0.2.2/32");
		bridge_nexthops_refresh(ba, NULL, &err);
	}
	pa = prog_id(pin_a, "fp_port_ingress");
	pw = prog_id(pin_a, "fp_wire_ingress");
	ok(pa && filter_prog(NS_A, "h1") == pa && filter_prog(NS_A, "h5") == pa,
	   "A: port program on the host ends");
	ok(pw && filter_prog(NS_A, "wa") == pw, "A: decapsulating program on the substrate");

	r = bridge_tunnel_attach(ba, "h4", KEY1, AF_INET, &b4, 0, &err);
	is_int(r, -TRL_EEXIST, "key %u on a second host end is refused", KEY1);
	like_str(err.msg, "key 101 is already used by 'h1'", "error names the owner");
	r = bridge_link_attach(ba, "h1", "h4", 0, &err);
	is_int(r, -TRL_EEXIST, "a tunnel port cannot join a same-node link");
	r = bridge_tunnel_attach(ba, "h1", KEY1, AF_INET, &(struct in_addr){ htonl(0xe0000001) }, 0,
				 &err);
	is_int(r, -TRL_EINVALID, "a multicast remote is refused");
	r = bridge_tunnel_attach(ba, "nosuch", 999, AF_INET, &b4, 0, &err);
	is_int(r, -TRL_ENOTFOUND, "a missing host end is not-found");

	/* --- non-IP frames resolve the substrate next hop themselves ---------------------- */
	neigh_line(NS_A, "wa", "192.0.2.2", line, sizeof(line));
	ok(!strstr(line, "lladdr"), "A has not resolved 192.0.2.2 yet ('%s')", line);
	frame_build(&f, r2e1.mac, r1e1.mac, 0, NULL, NULL, 60);
	drain(&r2e1);
	drain(&wa);
	ok(frame_send(&r1e1, &f) == 0 && frame_wait(&r2e1, f.magic, 0, 3000, NULL),
	   "first frame r1 -> r2 is non-IP: delivered (the kernel resolved the next hop for it)");
	ok(frame_wait(&wa, f.magic, 1, 3000, &cap), "captured on the wire");
	check_egre4(&cap, &wa, wbp.mac, KEY1, &f, "non-IP");
	neigh_line(NS_A, "wa", "192.0.2.2", line, sizeof(line));
	ok(strstr(line, "lladdr") && !strstr(line, "managed"), "A: 192.0.2.2 learnt ('%s')", line);

	r = bridge_neigh_refresh("wa", AF_INET, &b4, &err);
	ok(r == 0, "A: bridge_neigh_refresh 192.0.2.2 on 'wa' (%s)", r ? err.msg : "ok");
	ok(neigh_wait_state(NS_A, "wa", "192.0.2.2", "REACHABLE", line, sizeof(line)),
	   "A: 192.0.2.2 reachable (%s)", line);
	like_str(line, "managed", "A: and kernel-managed (kept REACHABLE without a daemon)");
	enter(NS_B);
	r = bridge_neigh_refresh("wb", AF_INET, &a4, &err);
	if (r == 0)
		r = bridge_neigh_refresh("wb", AF_INET6, &a6, &err);
	enter(NS_A);
	if (r == 0)
		r = bridge_neigh_refresh("wa", AF_INET6, &b6, &err);
	ok(r == 0, "A and B: refresh the other next hops (%s)", r ? err.msg : "ok");
	ok(neigh_wait(NS_B, "wb", "192.0.2.1", line, sizeof(line)), "B: 192.0.2.1 (%s)", line);
	ok(neigh_wait(NS_A, "wa", "2001:db8:ff::2", line, sizeof(line)), "A: 2001:db8:ff::2 (%s)",
	   line);
	ok(neigh_wait(NS_B, "wb", "2001:db8:ff::1", line, sizeof(line)), "B: 2001:db8:ff::1 (%s)",
	   line);
	r = bridge_neigh_refresh("wa", AF_INET, &b4, &err);
	ok(r == 0 && neigh_wait(NS_A, "wa", "192.0.2.2", line, sizeof(line)) &&
		   strstr(line, "managed"),
	   "refreshing again is harmless (%s)", line);
	r = bridge_neigh_refresh("wa", AF_INET, &(struct in_addr){ htonl(0x0a090909) }, &err);
	is_int(r, -TRL_ENOTFOUND, "refresh towards an unroutable address fails");
	like_str(err.msg, "no route to 10.9.9.9", "and says so");

	/* --- IP frame: adjust_room + redirect_neigh path ---------------------------------- */
	frame_build(&f, r2e1.mac, r1e1.mac, 1, "10.1.0.1", "10.1.0.2", 100);
	drain(&wa);
	ok(frame_send(&r1e1, &f) == 0 && frame_wait(&r2e1, f.magic, 0, 3000, NULL),
	   "IPv4 frame r1 -> r2 crosses the tunnel");
	ok(frame_wait(&wa, f.magic, 1, 3000, &cap), "captured on the wire");
	check_egre4(&cap, &wa, wbp.mac, KEY1, &f, "IPv4");

	/* --- VLAN-tagged frames: the tag travels inside the tunnel ------------------------ */
	{
		struct frame v;

		/* veth hands the tag to the host end out of band (skb->vlan_tci). */
		for (int ip = 0; ip <= 1; ip++) {
			frame_build(&f, r2e1.mac, r1e1.mac, ip, "10.1.0.1", "10.1.0.2", 100);
			memcpy(v.b, f.b, 12);
			put16(v.b + 12, ETH_P_8021Q);
			put16(v.b + 14, 5);
			memcpy(v.b + 16, f.b + 12, f.len - 12);
			v.len = f.len + 4;
			v.magic = f.magic;
			drain(&wa);
			ok(frame_send(&r1e1, &v) == 0 && frame_wait(&r2e1, v.magic, 0, 3000, NULL),
			   "VLAN 5 %s frame r1 -> r2", ip ? "IPv4" : "non-IP");
			ok(frame_wait(&wa, v.magic, 1, 3000, &cap) && cap.len == 42 + v.len &&
				   get16(cap.b + 12) == ETH_P_IP && !memcmp(cap.b + 42, v.b, v.len),
			   "on the wire: untagged outer, tag inside the inner frame");
		}
	}

	/* --- IPv6 outer ---------------------------------------------------------------------- */
	frame_build(&f, r2e3.mac, r1e2.mac, 0, NULL, NULL, 42);
	drain(&wa);
	drain(&r2e3);
	ok(frame_send(&r1e2, &f) == 0 && frame_wait(&r2e3, f.magic, 0, 3000, NULL),
	   "short non-IP frame r1 -> r2 over the IPv6 tunnel (padded on decap)");
	ok(frame_wait(&wa, f.magic, 1, 3000, &cap), "captured on the wire");
	check_egre6(&cap, &wa, wbp.mac, KEY6, &f, "IPv6 outer");
	frame_build(&f, r2e3.mac, r1e2.mac, 1, "10.3.0.1", "10.3.0.2", 200);
	drain(&wa);
	ok(frame_send(&r1e2, &f) == 0 && frame_wait(&r2e3, f.magic, 0, 3000, NULL) &&
		   frame_wait(&wa, f.magic, 1, 3000, &cap) && cap.len == 62 + f.len,
	   "IPv4 frame over the IPv6 tunnel");

	/* --- the routers' own traffic --------------------------------------------------------- */
	ok(udp_roundtrip(NS_R1, NS_R2, "10.1.0.2", 5001, "r1 to r2"), "UDP r1 -> r2 (ARP + IPv4)");
	ok(udp_roundtrip(NS_R2, NS_R1, "10.1.0.1", 5001, "r2 to r1"), "UDP r2 -> r1");
	ok(udp_roundtrip(NS_R1, NS_R2, "10.3.0.2", 5002, "r1 to r2, v6"),
	   "UDP r1 -> r2 over the IPv6 tunnel (ARP decapsulated from IPv6)");
	ok(udp_roundtrip(NS_R1, NS_R3, "10.2.0.3", 5003, "r1 to r3"),
	   "UDP r1 -> r3 routed through r2 (A -> B -> A)");
	s1 = pstats(ba, NS_A, "h1");
	t1 = pstats(bb, NS_B, "h2");
	ok(s1.packets >= 3 && s1.rx_packets >= 2 && t1.rx_packets >= 3,
	   "port counters: h1 tx %llu rx %llu, h2 rx %llu", s1.packets, s1.rx_packets,
	   t1.rx_packets);
	ok(s1.bytes > 0 && t1.rx_bytes > 0, "byte counters move");
	n1 = nstats(bb);
	ok(n1.rx_packets >= 5 && n1.drops_unknown_key == 0 && n1.drops_bad_source == 0 &&
		   n1.drops_other == 0,
	   "B: %llu packets decapsulated, no drops", n1.rx_packets);

	/* --- MTU: outer packet must fit the substrate ----------------------------------------- */
	tu_link_set(nl[NS_R1], "eth1", WIRE_MTU); /* let r1 send what the tunnel cannot carry */
	s0 = pstats(ba, NS_A, "h1");
	frame_build(&f, r2e1.mac, r1e1.mac, 0, NULL, NULL, WIRE_MTU - 28);
	drain(&wa);
	ok(frame_send(&r1e1, &f) == 0 && frame_wait(&r2e1, f.magic, 0, 3000, NULL),
	   "a %zu-byte frame fits exactly (outer packet %u bytes)", f.len, WIRE_MTU);
	ok(frame_wait(&wa, f.magic, 1, 3000, &cap) && get16(cap.b + 16) == WIRE_MTU,
	   "outer total length %u on the wire", WIRE_MTU);
	frame_build(&f, r2e1.mac, r1e1.mac, 1, "10.1.0.1", "10.1.0.2", WIRE_MTU - 27);
	ok(frame_send(&r1e1, &f) == 0 && !frame_wait(&r2e1, f.magic, 0, 300, NULL),
	   "a %zu-byte frame is not sent", f.len);
	frame_build(&f, r2e1.mac, r1e1.mac, 0, NULL, NULL, WIRE_MTU + 14);
	ok(frame_send(&r1e1, &f) == 0 && !frame_wait(&r2e1, f.magic, 0, 300, NULL),
	   "nor is a %zu-byte one", f.len);
	s1 = pstats(ba, NS_A, "h1");
	is_int(s1.drops_mtu - s0.drops_mtu, 2, "both counted as MTU drops");
	is_int(s1.drops - s0.drops, 2, "and in the drop total");
	tu_link_set(nl[NS_R1], "eth1", WIRE_MTU - 42);
	tu_link_set(nl[NS_R1], "eth2", WIRE_MTU);
	s0 = pstats(ba, NS_A, "h5");
	frame_build(&f, r2e3.mac, r1e2.mac, 0, NULL, NULL, WIRE_MTU - 48);
	ok(frame_send(&r1e2, &f) == 0 && frame_wait(&r2e3, f.magic, 0, 3000, NULL),
	   "IPv6 outer: a %zu-byte frame fits exactly", f.len);
	frame_build(&f, r2e3.mac, r1e2.mac, 0, NULL, NULL, WIRE_MTU - 47);
	ok(frame_send(&r1e2, &f) == 0 && !frame_wait(&r2e3, f.magic, 0, 300, NULL),
	   "IPv6 outer: a %zu-byte frame is not sent", f.len);
	s1 = pstats(ba, NS_A, "h5");
	is_int(s1.drops_mtu - s0.drops_mtu, 1, "IPv6 outer: counted as an MTU drop");
	tu_link_set(nl[NS_R1], "eth2", WIRE_MTU - 62);
	is_int(bridge_inner_mtu(WIRE_MTU, AF_INET), 1458, "bridge_inner_mtu: 1500 - 42 for IPv4");
	is_int(bridge_inner_mtu(WIRE_MTU, AF_INET6), 1438, "bridge_inner_mtu: 1500 - 62 for IPv6");

	/* --- strict parsing on the substrate ingress ------------------------------------------- */
	{
		unsigned char pkt[256];
		struct frame inner;
		size_t n;

		frame_build(&inner, r2e1.mac, r1e1.mac, 0, NULL, NULL, 60);
		n0 = nstats(bb);
		drain(&r2e1);
		n = egre_build(pkt, wbp.mac, wa.mac, "192.0.2.1", "192.0.2.2", 0x2000, 999, &inner);
		ok(send(wa.fd, pkt, n, 0) == (ssize_t)n && !frame_wait(&r2e1, inner.magic, 0, 300, NULL),
		   "EGRE with unknown key 999: not delivered");
		n1 = nstats(bb);
		is_int(n1.drops_unknown_key - n0.drops_unknown_key, 1, "counted as an unknown-key drop");

		n = egre_build(pkt, wbp.mac, wa.mac, "192.0.2.77", "192.0.2.2", 0x2000, KEY1, &inner);
		ok(send(wa.fd, pkt, n, 0) == (ssize_t)n && !frame_wait(&r2e1, inner.magic, 0, 300, NULL),
		   "EGRE with key %u from a foreign source: not delivered", KEY1);
		n0 = nstats(bb);
		is_int(n0.drops_bad_source - n1.drops_bad_source, 1, "counted as a bad-source drop");

		n = egre_build(pkt, wbp.mac, wa.mac, "192.0.2.1", "192.0.2.2", 0x2000, KEY1, &inner);
		ok(send(wa.fd, pkt, n, 0) == (ssize_t)n && frame_wait(&r2e1, inner.magic, 0, 3000, NULL),
		   "the same packet from 192.0.2.1 (as a Linux gretap peer would send it) is delivered");

		rcv0 = snmp_ip_in_receives(NS_B);
		n = egre_build(pkt, wbp.mac, wa.mac, "192.0.2.1", "192.0.2.2", 0xa000, KEY1, &inner);
		ok(send(wa.fd, pkt, n, 0) == (ssize_t)n && !frame_wait(&r2e1, inner.magic, 0, 300, NULL),
		   "GRE with the checksum flag is not ours");
		n = egre_build(pkt, wbp.mac, wa.mac, "192.0.2.1", "192.0.2.2", 0x2000, KEY1, &inner);
		put16(pkt + ETH_HLEN + 6, 0x2000); /* MF: a first fragment */
		put16(pkt + ETH_HLEN + 10, 0);
		put16(pkt + ETH_HLEN + 10, csum16(pkt + ETH_HLEN, 20));
		ok(send(wa.fd, pkt, n, 0) == (ssize_t)n && !frame_wait(&r2e1, inner.magic, 0, 300, NULL),
		   "nor is a fragment");
		n = egre_build(pkt, wbp.mac, wa.mac, "192.0.2.1", "192.0.2.2", 0x2000, KEY1, &inner);
		pkt[ETH_HLEN + 10] ^= 0xff; /* broken header checksum */
		ok(send(wa.fd, pkt, n, 0) == (ssize_t)n && !frame_wait(&r2e1, inner.magic, 0, 300, NULL),
		   "nor a header with a bad checksum");
		ok(snmp_ip_in_receives(NS_B) - rcv0 >= 3,
		   "all three went to B's stack untouched (Ip InReceives +%llu)",
		   (unsigned long long)(snmp_ip_in_receives(NS_B) - rcv0));
		n1 = nstats(bb);
		ok(n1.drops_unknown_key == n0.drops_unknown_key &&
			   n1.drops_bad_source == n0.drops_bad_source && n1.drops_other == n0.drops_other,
		   "and none counted as a fast-path drop");
	}
	ok(udp_roundtrip(NS_B, NS_A, "192.0.2.1", 5004, "node B to node A"),
	   "plain UDP to node A's wire address reaches A's stack");
	ok(udp_roundtrip(NS_A, NS_B, "192.0.2.2", 5004, "node A to node B"),
	   "and B's (substrate traffic is untouched)");

	/* --- TCP with GSO --------------------------------------------------------------------- */
	s0 = pstats(ba, NS_A, "h1");
	t0 = pstats(bb, NS_B, "h2");
	r = tcp_transfer(NS_R2, "10.1.0.2", 5101, NS_R1, bulk, &secs, why, sizeof(why));
	ok(r == 0, "TCP: %zu MiB r1 -> r2 intact in %.3f s (%s)", bulk >> 20, secs, why);
	printf("# TCP r1 -> r2, IPv4 outer: %.0f Mbit/s\n", (double)bulk * 8 / secs / 1e6);
	s1 = pstats(ba, NS_A, "h1");
	t1 = pstats(bb, NS_B, "h2");
	ok(s1.packets - s0.packets < bulk / 1418,
	   "sent as GSO frames: %llu frames for %zu MSS-sized segments", s1.packets - s0.packets,
	   bulk / 1418);
	ok(s1.drops == s0.drops && t1.drops == t0.drops, "no drops on h1 or h2");
	ok(t1.rx_bytes - t0.rx_bytes >= bulk, "h2 delivered %llu bytes into r2",
	   t1.rx_bytes - t0.rx_bytes);

	r = tcp_transfer(NS_R2, "10.3.0.2", 5102, NS_R1, bulk, &secs, why, sizeof(why));
	ok(r == 0, "TCP: %zu MiB over the IPv6 outer tunnel intact in %.3f s (%s)", bulk >> 20,
	   secs, why);
	printf("# TCP r1 -> r2, IPv6 outer: %.0f Mbit/s\n", (double)bulk * 8 / secs / 1e6);

	t0 = pstats(bb, NS_B, "h3");
	r = tcp_transfer(NS_R3, "10.2.0.3", 5103, NS_R1, bulk, &secs, why, sizeof(why));
	ok(r == 0, "TCP: %zu MiB r1 -> r3 through r2 (A -> B -> A) intact in %.3f s (%s)",
	   bulk >> 20, secs, why);
	printf("# TCP r1 -> r3 through r2: %.0f Mbit/s\n", (double)bulk * 8 / secs / 1e6);
	t1 = pstats(bb, NS_B, "h3");
	ok(t1.drops == t0.drops, "no drops re-encapsulating at r2 (h3: other %llu, mtu %llu)",
	   t1.drops_other - t0.drops_other, t1.drops_mtu - t0.drops_mtu);

	/* --- redirect_peer out of the tunnel (BRIDGE_F_PEER) ------------------------------ */
	enter(NS_B);
	r = bridge_tunnel_attach(bb, "h2", KEY1, AF_INET, &a4, BRIDGE_F_PEER, &err);
	if (r == 0)
		r = bridge_tunnel_attach(bb, "h6", KEY6, AF_INET6, &a6, BRIDGE_F_PEER, &err);
	enter(NS_A);
	ok(r == 0, "B: h2 and h6 re-attached with BRIDGE_F_PEER (%s)", r ? err.msg : "ok");
	{
		uint64_t tx0 = link_tx(NS_B, "h2"), tx1, tx2;

		drain(&r2e1); /* full of the TCP transfers above */
		frame_build(&f, r2e1.mac, r1e1.mac, 1, "10.1.0.1", "10.1.0.2", 100);
		ok(frame_send(&r1e1, &f) == 0 && frame_wait(&r2e1, f.magic, 0, 3000, NULL),
		   "IPv4 frame into r2 with redirect_peer");
		tx1 = link_tx(NS_B, "h2");
		frame_build(&f, r2e1.mac, r1e1.mac, 0, NULL, NULL, 60);
		ok(frame_send(&r1e1, &f) == 0 && frame_wait(&r2e1, f.magic, 0, 3000, NULL),
		   "non-IP frame into r2 (plain redirect)");
		tx2 = link_tx(NS_B, "h2");
		ok(tx1 == tx0 && tx2 == tx1 + 1,
		   "only the non-IP frame went through h2's egress (+%llu, +%llu)",
		   (unsigned long long)(tx1 - tx0), (unsigned long long)(tx2 - tx1));
	}
	ok(udp_roundtrip(NS_R1, NS_R2, "10.1.0.2", 5010, "peer v4"),
	   "UDP r1 -> r2 with redirect_peer on decapsulation");
	ok(udp_roundtrip(NS_R1, NS_R2, "10.3.0.2", 5011, "peer v6"),
	   "UDP r1 -> r2 over the IPv6 tunnel (IPv4 inner: protocol set on decapsulation)");
	r = tcp_transfer(NS_R2, "10.1.0.2", 5104, NS_R1, bulk, &secs, why, sizeof(why));
	ok(r == 0, "TCP: %zu MiB r1 -> r2 with redirect_peer intact (%s)", bulk >> 20, why);

	/* --- daemon restart --------------------------------------------------------------------- */
	bridge_close(ba);
	ba = NULL;
	ok(udp_roundtrip(NS_R1, NS_R2, "10.1.0.2", 5005, "no daemon"),
	   "forwarding continues while no process holds node A's bridge");
	r = bridge_open(pin_a, &ba, &err);
	ok(r == 0, "A: bridge_open again (%s)", r ? err.msg : "ok");
	ok(prog_id(pin_a, "fp_port_ingress") == pa && prog_id(pin_a, "fp_wire_ingress") == pw &&
		   filter_prog(NS_A, "h1") == pa && filter_prog(NS_A, "wa") == pw,
	   "pinned programs reused, filters unchanged");
	s1 = pstats(ba, NS_A, "h1");
	ok(s1.packets > s0.packets, "counters survived the reopen");

	/* --- an upgraded build takes over every attachment -------------------------------------- */
	bridge_close(ba);
	ba = NULL;
	{
		/* Stand-in for older code: a trivial program pinned in the program's place. */
		const struct bpf_insn insns[] = {
			{ .code = 0xb7 /* mov64 imm */, .dst_reg = 0, .imm = TC_ACT_OK },
			{ .code = 0x95 /* exit */ },
		};
		char path[128];
		int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "old", "GPL", insns, 2, NULL);

		snprintf(path, sizeof(path), "%s/fp_port_ingress", pin_a);
		unlink(path);
		ok(fd >= 0 && bpf_obj_pin(fd, path) == 0, "pin a different program as fp_port_ingress");
		if (fd >= 0)
			close(fd);
	}
	r = bridge_open(pin_a, &ba, &err);
	ok(r == 0, "A: bridge_open replaces it (%s)", r ? err.msg : "ok");
	pa = prog_id(pin_a, "fp_port_ingress");
	ok(pa && filter_prog(NS_A, "h1") == pa && filter_prog(NS_A, "h4") == pa &&
		   filter_prog(NS_A, "h5") == pa && filter_prog(NS_A, "wa") == pw,
	   "and re-attaches the fresh program on every port");
	ok(udp_roundtrip(NS_R1, NS_R2, "10.1.0.2", 5006, "after upgrade"), "still forwarding");

	/* --- detach ----------------------------------------------------------------------------- */
	r = bridge_tunnel_detach(ba, "h1", KEY2, &err);
	is_int(r, -TRL_EINVALID, "detach h1 with the wrong key refused");
	r = bridge_tunnel_detach(ba, "h4", KEY1, &err);
	is_int(r, -TRL_EINVALID, "detach h4 with h1's key refused");
	like_str(err.msg, "'h4' carries key 102, not 101", "error names both keys");
	r = bridge_tunnel_detach(ba, "h5", KEY1, &err);
	is_int(r, -TRL_EINVALID, "detach h5 with h1's key refused");
	r = bridge_tunnel_detach(ba, "nosuch", KEY1, &err);
	is_int(r, -TRL_EINVALID, "detach a missing interface with h1's key refused");
	like_str(err.msg, "key 101 belongs to 'h1'", "error names the owner");
	r = bridge_tunnel_detach(ba, "h1", KEY1, &err);
	ok(r == 0, "A: detach h1 (%s)", r ? err.msg : "ok");
	ok(filter_prog(NS_A, "h1") == 0, "h1 has no filter any more");
	ok(!udp_roundtrip(NS_R1, NS_R2, "10.1.0.2", 5007, "detached"), "r1 -> r2 no longer works");
	r = bridge_tunnel_detach(ba, "h1", KEY1, &err);
	is_int(r, 0, "detach again is fine");
	r = bridge_tunnel_detach(ba, "h4", KEY2, &err);
	ok(r == 0, "A: detach h4");
	ok(tu_link_del(nl[NS_A], "h5") == 0, "delete h5 before detaching it");
	r = bridge_tunnel_detach(ba, "h5", KEY6, &err);
	ok(r == 0, "A: detach the vanished h5 by its key (%s)", r ? err.msg : "ok");
	is_int(map_entries(pin_a, "fp_ports"), 0, "A: no port entries left");
	is_int(map_entries(pin_a, "fp_keys"), 0, "A: no key entries left");
	r = bridge_substrate_detach(ba, "wa", &err);
	ok(r == 0 && filter_prog(NS_A, "wa") == 0, "A: substrate detached, filter gone (%s)",
	   r ? err.msg : "ok");
	r = bridge_substrate_get(ba, &cfg, NULL, &err);
	is_int(r, -TRL_ENOTFOUND, "A: no substrate configured");
	r = bridge_substrate_detach(ba, "wa", &err);
	is_int(r, 0, "A: detaching the substrate again is fine");
	r = bridge_neigh_release("wa", AF_INET, &b4, &err);
	if (r == 0)
		r = bridge_neigh_release("wa", AF_INET6, &b6, &err);
	neigh_line(NS_A, "wa", "192.0.2.2", line, sizeof(line));
	ok(r == 0 && !strstr(line, "managed"), "A: managed neighbours released ('%s')", line);
	r = bridge_neigh_release("wa", AF_INET, &b4, &err);
	is_int(r, 0, "releasing again is fine");

	enter(NS_B);
	r = bridge_tunnel_detach(bb, "h2", KEY1, &err);
	if (r == 0)
		r = bridge_tunnel_detach(bb, "h3", KEY2, &err);
	if (r == 0)
		r = bridge_tunnel_detach(bb, "h6", KEY6, &err);
	if (r == 0)
		r = bridge_substrate_detach(bb, "wb", &err);
	if (r == 0)
		r = bridge_neigh_release("wb", AF_INET, &a4, &err);
	if (r == 0)
		r = bridge_neigh_release("wb", AF_INET6, &a6, &err);
	enter(NS_A);
	ok(r == 0 && map_entries(pin_b, "fp_ports") == 0 && map_entries(pin_b, "fp_keys") == 0 &&
		   filter_prog(NS_B, "wb") == 0 && filter_prog(NS_B, "h2") == 0,
	   "B: everything detached (%s)", r ? err.msg : "ok");

	bridge_close(ba);
	bridge_close(bb);
	ba = bb = NULL;
	r = bridge_unpin(pin_a, &err);
	if (r == 0)
		r = bridge_unpin(pin_b, &err);
	{
		struct stat st;

		ok(r == 0 && stat(pin_a, &st) < 0 && stat(pin_b, &st) < 0, "both pin dirs removed");
	}
	pin_a[0] = pin_b[0] = '\0';
	return done();
}
