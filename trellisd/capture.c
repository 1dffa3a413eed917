/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: link capture (link.capture)
 *
 * A tenant who may see a slice (ACCESS_SEE, as for slice show) may capture
 * the frames of one end of its links, without root.  The session:
 *   1. resolve the end (slice_link_end: this node's router and interface);
 *   2. take a capture slot: at most capture-max captures on the node,
 *      capture-max-per-user for each uid but root (trellisd.conf(5));
 *   3. compile the tcpdump-style filter with libpcap (pcap_compile on a
 *      "dead" Ethernet handle: classic BPF, checked again by the kernel);
 *   4. open an AF_PACKET socket inside the router's network namespace
 *      (container_netns_call), with protocol 0 so it receives nothing yet,
 *      attach the filter, map a TPACKET_V3 ring (CAPTURE_BLOCKS blocks of
 *      CAPTURE_BLOCK_SIZE: the capture's whole kernel buffer), then bind it
 *      to the interface for every protocol;
 *   5. make a pipe and send its read end to the client with the event
 *      {"event": "capture"} (SCM_RIGHTS, as exec/login pass their fds);
 *   6. copy ring blocks into the pipe as pcapng (or pcap) records, through
 *      a bounded buffer of two blocks, until the count or the time limit is
 *      reached, the reader closes the pipe, the client hangs up, the router
 *      stops (a pidfd of its init) or its interface goes away;
 *   7. close the pipe, and reply with what was written and what the kernel
 *      dropped (PACKET_STATISTICS).
 * Why the router's side of the veth and not the host end: the fast path
 * hands IP frames to a router with bpf_redirect_peer, which skips the host
 * end entirely, so a capture there would see only one direction.  Inside the
 * router the capture sees both, as tcpdump in the router does.
 * A reader that does not keep up is never waited for: the ring fills and the
 * kernel drops (counted), so a capture costs the link its filter and a copy
 * per matching frame, nothing more.  The thread serving the connection runs
 * the capture; nothing outlives it.
 */
#define LOG_MODULE "capture"
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "container.h"
#include "escape.h"
#include "log.h"
#include "trellisd.h"
#include "util.h"

#define CAPTURE_SNAPLEN 262144
#define CAPTURE_BLOCK_SIZE (256u << 10)
#define CAPTURE_BLOCKS 8		/* 2 MiB of ring per capture */
#define CAPTURE_BLOCK_TOV_MS 50		/* a partly filled block is handed over after this */
#define CAPTURE_OUT_SIZE (2 * CAPTURE_BLOCK_SIZE)
#define CAPTURE_PIPE_SIZE (1 << 20)
#define CAPTURE_FLUSH_MS 5000		/* at the end: how long the reader gets for what is buffered */

static struct {
	pthread_mutex_t lock;
	int used[CONFIG_CAPTURE_MAX_BOUND];
	uid_t uid[CONFIG_CAPTURE_MAX_BOUND];
} slots = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int slot_take(const struct config_capture *lim, uid_t uid, struct trl_error *err)
{
	int free_slot = -1;
	unsigned mine = 0;

	pthread_mutex_lock(&slots.lock);
	for (int i = 0; i < (int)lim->max; i++) {
		if (!slots.used[i]) {
			if (free_slot < 0)
				free_slot = i;
		} else if (slots.uid[i] == uid) {
			mine++;
		}
	}
	if (uid != 0 && mine >= lim->max_per_user)
		free_slot = trl_error_set(err, TRL_ELIMIT, "too many captures of uid %u at once (limit %u)", (unsigned)uid,
					  lim->max_per_user);
	else if (free_slot < 0)
		free_slot = trl_error_set(err, TRL_ELIMIT, "too many captures on this node at once (limit %u)",
					  lim->max);
	else {
		slots.used[free_slot] = 1;
		slots.uid[free_slot] = uid;
	}
	pthread_mutex_unlock(&slots.lock);
	return free_slot;
}

static void slot_release(int i)
{
	pthread_mutex_lock(&slots.lock);
	slots.used[i] = 0;
	pthread_mutex_unlock(&slots.lock);
}

static int filter_compile(const char *expr, int snaplen, struct bpf_program *prog, struct trl_error *err)
{
	pcap_t *p = pcap_open_dead(DLT_EN10MB, snaplen);
	int r = 0;

	if (!p)
		return trl_error_set(err, TRL_EFAILED, "filter: out of memory");
	/* Thread-safe since libpcap 1.8 (configure asks for it): a filter whose
	 * host names take the resolver long holds up only its own capture. */
	if (pcap_compile(p, prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0)
		r = trl_error_set(err, TRL_EINVALID, "filter: '%s': %s", expr, pcap_geterr(p));
	pcap_close(p);
	return r;
}

struct open_ctx {
	const char *ifname;
	int fd;
	int ifindex;
};

/* In the router's netns: a packet socket that receives nothing until bound. */
static int open_in_router(void *arg)
{
	struct open_ctx *o = arg;

	o->ifindex = (int)if_nametoindex(o->ifname);
	if (!o->ifindex)
		return -ENODEV;
	o->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	return o->fd < 0 ? -errno : 0;
}

struct cap {
	int sock;
	uint8_t *ring;
	size_t ring_len;
	unsigned block;		/* the next block to read */
	int out;		/* the pipe's write end, non-blocking */
	int pcapng;
	uint8_t *buf;		/* records not yet written: buf[off..len) */
	size_t off, len;
	uint64_t packets, bytes, limit;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void put32(struct cap *c, uint32_t v)
{
	memcpy(c->buf + c->len, &v, 4);
	c->len += 4;
}

static void put_bytes(struct cap *c, const void *p, size_t n, size_t padded)
{
	memcpy(c->buf + c->len, p, n);
	memset(c->buf + c->len + n, 0, padded - n);
	c->len += padded;
}

#define PAD4(n) (((n) + 3u) & ~3u)

/* pcapng: section header, one interface (Ethernet, ns timestamps, named); or the pcap file header (ns). */
static void file_header(struct cap *c, const char *ifdesc, uint32_t snaplen)
{
	if (!c->pcapng) {
		uint16_t v[2] = { 2, 4 };

		put32(c, 0xa1b23c4d);
		memcpy(c->buf + c->len, v, 4);
		c->len += 4;
		put32(c, 0);
		put32(c, 0);
		put32(c, snaplen);
		put32(c, DLT_EN10MB);
		return;
	}
	size_t nl = strlen(ifdesc), idb = 20 + 4 + PAD4(nl) + 4 + 4 + 4;
	uint16_t v[2] = { 1, 0 };
	uint64_t section = UINT64_MAX;
	uint16_t opt[2];

	put32(c, 0x0A0D0D0A);
	put32(c, 28);
	put32(c, 0x1A2B3C4D);
	memcpy(c->buf + c->len, v, 4);
	c->len += 4;
	memcpy(c->buf + c->len, &section, 8);
	c->len += 8;
	put32(c, 28);

	put32(c, 1);
	put32(c, (uint32_t)idb);
	put32(c, DLT_EN10MB);	/* linktype (16 bits) + reserved (16 bits), little-endian hosts */
	put32(c, snaplen);
	opt[0] = 2;		/* if_name */
	opt[1] = (uint16_t)nl;
	memcpy(c->buf + c->len, opt, 4);
	c->len += 4;
	put_bytes(c, ifdesc, nl, PAD4(nl));
	opt[0] = 9;		/* if_tsresol: 10^-9 */
	opt[1] = 1;
	memcpy(c->buf + c->len, opt, 4);
	c->len += 4;
	put32(c, 9);
	put32(c, 0);		/* opt_endofopt */
	put32(c, (uint32_t)idb);
}

/* The frame as it was on the wire: the kernel hands a VLAN tag it took out
 * (veth offloads it) beside the frame; put it back after the MAC addresses. */
static void put_frame(struct cap *c, const struct tpacket3_hdr *h, const uint8_t *data, uint32_t caplen,
		      uint32_t padded)
{
	if ((h->tp_status & TP_STATUS_VLAN_VALID) && h->tp_snaplen >= 12) {
		uint16_t tag[2] = { htons(h->tp_status & TP_STATUS_VLAN_TPID_VALID ? h->hv1.tp_vlan_tpid : ETH_P_8021Q),
				    htons(h->hv1.tp_vlan_tci) };

		memcpy(c->buf + c->len, data, 12);
		memcpy(c->buf + c->len + 12, tag, 4);
		c->len += 16;
		put_bytes(c, data + 12, h->tp_snaplen - 12, padded - 16);
		return;
	}
	put_bytes(c, data, caplen, padded);
}

static void record(struct cap *c, const struct tpacket3_hdr *h)
{
	const struct sockaddr_ll *sll = (const void *)((const uint8_t *)h + TPACKET_ALIGN(sizeof(*h)));
	const uint8_t *data = (const uint8_t *)h + h->tp_mac;
	int vlan = (h->tp_status & TP_STATUS_VLAN_VALID) && h->tp_snaplen >= 12;
	uint32_t caplen = h->tp_snaplen + (vlan ? 4 : 0), origlen = h->tp_len + (vlan ? 4 : 0);

	if (c->pcapng) {
		uint64_t ts = (uint64_t)h->tp_sec * 1000000000ULL + h->tp_nsec;
		uint32_t total = 28 + PAD4(caplen) + 12 + 4;
		uint16_t opt[2] = { 2, 4 };	/* epb_flags: direction */

		put32(c, 6);
		put32(c, total);
		put32(c, 0);
		put32(c, (uint32_t)(ts >> 32));
		put32(c, (uint32_t)ts);
		put32(c, caplen);
		put32(c, origlen);
		put_frame(c, h, data, caplen, PAD4(caplen));
		memcpy(c->buf + c->len, opt, 4);
		c->len += 4;
		put32(c, sll->sll_pkttype == PACKET_OUTGOING ? 2 : 1);
		put32(c, 0);
		put32(c, total);
	} else {
		put32(c, h->tp_sec);
		put32(c, h->tp_nsec);
		put32(c, caplen);
		put32(c, origlen);
		put_frame(c, h, data, caplen, caplen);
	}
	c->packets++;
	c->bytes += origlen;
}

static struct tpacket_block_desc *block_at(struct cap *c, unsigned i)
{
	return (struct tpacket_block_desc *)(c->ring + (size_t)i * CAPTURE_BLOCK_SIZE);
}

static int block_ready(struct cap *c)
{
	return __atomic_load_n(&block_at(c, c->block)->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER;
}

/* Turn the next ready block into records (up to the count) and give it back to the kernel. */
static void block_take(struct cap *c)
{
	struct tpacket_block_desc *bd = block_at(c, c->block);
	const uint8_t *p = (const uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt;

	for (uint32_t i = 0; i < bd->hdr.bh1.num_pkts && c->packets < c->limit; i++) {
		const struct tpacket3_hdr *h = (const void *)p;

		record(c, h);
		p += h->tp_next_offset;
	}
	__atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
	c->block = (c->block + 1) % CAPTURE_BLOCKS;
}

/* Write what is buffered, as far as the pipe takes it.  -EPIPE: the reader is gone. */
static int flush_some(struct cap *c)
{
	while (c->off < c->len) {
		ssize_t n = write(c->out, c->buf + c->off, c->len - c->off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		c->off += (size_t)n;
	}
	c->off = c->len = 0;
	return 0;
}

/* The reader went away: because its client did (killed: its connection
 * closes too, a moment later at most), or on its own (a closed pipe, the
 * client still there). */
static const char *reader_gone(struct op_ctx *oc)
{
	struct pollfd p = { .fd = oc->conn_fd, .events = POLLIN | POLLRDHUP };

	return poll(&p, 1, 50) > 0 && p.revents ? "client" : "reader";
}

/* The capture loop; returns why it ended. */
static const char *capture_run(struct op_ctx *oc, struct cap *c, int pidfd, uint64_t deadline)
{
	for (;;) {
		struct pollfd pfd[4] = {
			{ .fd = c->sock }, { .fd = c->out }, { .fd = oc->conn_fd, .events = POLLIN | POLLRDHUP },
			{ .fd = pidfd, .events = POLLIN },
		};
		uint64_t now;
		int timeout;

		while (c->packets < c->limit && CAPTURE_OUT_SIZE - c->len >= CAPTURE_BLOCK_SIZE && block_ready(c))
			block_take(c);
		if (flush_some(c) < 0)
			return reader_gone(oc);
		if (c->packets >= c->limit)
			return "count";
		now = now_ms();
		if (now >= deadline)
			return "seconds";
		if (oc->d->stopping)
			return "daemon";
		if (CAPTURE_OUT_SIZE - c->len >= CAPTURE_BLOCK_SIZE)
			pfd[0].events = POLLIN;
		if (c->len)
			pfd[1].events = POLLOUT;
		timeout = deadline - now > 500 ? 500 : (int)(deadline - now);
		if (poll(pfd, 4, timeout) < 0 && errno != EINTR)
			return "daemon";
		if (pfd[2].revents)
			return "client";
		if (pfd[3].revents)
			return "router";
		if (pfd[1].revents & (POLLERR | POLLHUP))
			return reader_gone(oc);
		if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL))
			return "interface";
	}
}

/* At the end: give the reader what is buffered (and what the ring holds up to the count). */
static void capture_drain(struct cap *c, int final_blocks)
{
	uint64_t until = now_ms() + CAPTURE_FLUSH_MS;

	while (now_ms() < until) {
		struct pollfd pfd = { .fd = c->out, .events = POLLOUT };

		while (final_blocks && c->packets < c->limit && CAPTURE_OUT_SIZE - c->len >= CAPTURE_BLOCK_SIZE &&
		       block_ready(c))
			block_take(c);
		if (flush_some(c) < 0 || !c->len)
			return;
		if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
			return;
		if (pfd.revents & (POLLERR | POLLHUP))
			return;
	}
}

static int pidfd_open_router(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int opt_int(json_t *o, const char *key, long long dflt)
{
	json_t *v = json_object_get(o, key);

	return v ? (int)json_integer_value(v) : (int)dflt;
}

int link_capture(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	struct slice_link_end end = { 0 };
	struct bpf_program prog = { 0 };
	struct open_ctx octx = { .fd = -1 };
	struct cap c = { .sock = -1, .out = -1, .ring = MAP_FAILED };
	struct tpacket_req3 treq = {
		.tp_block_size = CAPTURE_BLOCK_SIZE,
		.tp_block_nr = CAPTURE_BLOCKS,
		.tp_frame_size = 2048,
		.tp_frame_nr = CAPTURE_BLOCK_SIZE / 2048 * CAPTURE_BLOCKS,
		.tp_retire_blk_tov = CAPTURE_BLOCK_TOV_MS,
	};
	struct tpacket_stats_v3 st = { 0 };
	socklen_t stlen = sizeof(st);
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	const char *filter = json_string_value(json_object_get(req->capture, "filter"));
	const char *format = json_string_value(json_object_get(req->capture, "format"));
	const char *reason = NULL;
	const struct config_capture *lim = &oc->d->cfg.capture;
	int count = opt_int(req->capture, "count", lim->max_packets);
	int seconds = opt_int(req->capture, "seconds", lim->max_seconds);
	int snaplen = opt_int(req->capture, "snaplen", CAPTURE_SNAPLEN);
	int version = TPACKET_V3, slot = -1, pidfd = -1, p[2] = { -1, -1 }, r;
	char ifdesc[40];
	uint64_t start;
	pid_t pid2 = 0;
	json_t *ev;

	if ((unsigned)count > lim->max_packets)
		return trl_error_set(err, TRL_ELIMIT, "count: at most %u packets per capture on node '%s' (capture-max-packets)",
				     lim->max_packets, oc->d->node_name);
	if ((unsigned)seconds > lim->max_seconds)
		return trl_error_set(err, TRL_ELIMIT, "seconds: a capture lasts at most %u s on node '%s' (capture-max-seconds)",
				     lim->max_seconds, oc->d->node_name);
	if ((r = slice_link_end(oc, req->name, req->link, req->router, &end, err)) < 0)
		return r;
	if ((slot = slot_take(lim, oc->who.uid, err)) < 0)
		return slot;
	if ((r = filter_compile(filter ? filter : "", snaplen, &prog, err)) < 0)
		goto out;
	/* The router's init: its exit ends the capture.  Same pid after the open: the pidfd is the router's. */
	pidfd = pidfd_open_router(end.pid);
	if (pidfd < 0 || container_state(oc->d->lxcpath, end.container, &pid2) != ROUTER_RUNNING || pid2 != end.pid) {
		r = trl_error_set(err, TRL_EFAILED, "router '%s' of slice '%s' is not running", end.router, req->name);
		goto out;
	}
	octx.ifname = end.ifname;
	if ((r = container_netns_call(end.pid, open_in_router, &octx)) < 0) {
		r = trl_error_errno(err, TRL_EFAILED, -r, "router '%s': interface '%s'", end.router, end.ifname);
		goto out;
	}
	c.sock = octx.fd;
	{
		/* Still alive after we entered /proc/PID/ns/net: that pid was the router's, not a reuse. */
		struct pollfd pp = { .fd = pidfd, .events = POLLIN };

		if (poll(&pp, 1, 0) != 0) {
			r = trl_error_set(err, TRL_EFAILED, "router '%s' of slice '%s' stopped", end.router, req->name);
			goto out;
		}
	}
	{
		struct sock_fprog fp = { .len = (unsigned short)prog.bf_len, .filter = (struct sock_filter *)prog.bf_insns };

		if (setsockopt(c.sock, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) < 0) {
			r = trl_error_errno(err, TRL_EINVALID, errno, "filter: the kernel refused it");
			goto out;
		}
	}
	if (setsockopt(c.sock, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) < 0 ||
	    setsockopt(c.sock, SOL_PACKET, PACKET_RX_RING, &treq, sizeof(treq)) < 0) {
		r = trl_error_errno(err, TRL_EFAILED, errno, "capture ring");
		goto out;
	}
	c.ring_len = (size_t)CAPTURE_BLOCK_SIZE * CAPTURE_BLOCKS;
	c.ring = mmap(NULL, c.ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, c.sock, 0);
	if (c.ring == MAP_FAILED) {
		r = trl_error_errno(err, TRL_EFAILED, errno, "capture ring: mmap");
		goto out;
	}
	sll.sll_ifindex = octx.ifindex;
	if (bind(c.sock, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		r = trl_error_errno(err, TRL_EFAILED, errno, "router '%s': interface '%s'", end.router, end.ifname);
		goto out;
	}
	c.buf = malloc(CAPTURE_OUT_SIZE);
	if (!c.buf || pipe2(p, O_CLOEXEC) < 0) {
		r = trl_error_errno(err, TRL_EFAILED, c.buf ? errno : ENOMEM, "capture pipe");
		goto out;
	}
	c.out = p[1];
	fcntl(c.out, F_SETFL, O_NONBLOCK);
	fcntl(c.out, F_SETPIPE_SZ, CAPTURE_PIPE_SIZE);	/* best effort: the default 64 KiB works too */
	c.pcapng = !format || !strcmp(format, "pcapng");
	c.limit = (uint64_t)count;
	snprintf(ifdesc, sizeof(ifdesc), "%s:%s", end.router, end.ifname);
	file_header(&c, ifdesc, (uint32_t)snaplen);

	ev = json_pack("{s:s, s:s, s:s, s:s, s:s}", "event", "capture", "router", end.router, "interface", end.ifname,
		       "link", end.link, "format", c.pcapng ? "pcapng" : "pcap");
	pthread_mutex_lock(oc->conn_lock);
	r = ev ? proto_send(oc->conn_fd, ev, &p[0], 1) : -ENOMEM;
	pthread_mutex_unlock(oc->conn_lock);
	json_decref(ev);
	close(p[0]);
	p[0] = -1;
	if (r < 0) {
		r = trl_error_errno(err, TRL_EFAILED, -r, "cannot pass the capture to the client");
		goto out;
	}
	log_info("uid %u: capture on router '%s' interface '%s' of slice '%s' (filter '%s', %d packets, %d s)",
		 (unsigned)oc->who.uid, end.router, end.ifname, req->name, ESC_TEXT(filter ? filter : ""), count, seconds);
	start = now_ms();
	reason = capture_run(oc, &c, pidfd, start + 1000ULL * (unsigned)seconds);
	if (strcmp(reason, "reader") && strcmp(reason, "client"))
		capture_drain(&c, !strcmp(reason, "count") || !strcmp(reason, "seconds"));
	getsockopt(c.sock, SOL_PACKET, PACKET_STATISTICS, &st, &stlen);
	log_info("uid %u: capture on router '%s' interface '%s' of slice '%s' ended (%s): %llu packets, %u dropped",
		 (unsigned)oc->who.uid, end.router, end.ifname, req->name, reason, (unsigned long long)c.packets,
		 st.tp_drops);
	*result = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:s}", "router", end.router, "interface",
			    end.ifname, "link", end.link, "packets", (json_int_t)c.packets, "matched",
			    (json_int_t)st.tp_packets, "dropped", (json_int_t)st.tp_drops, "bytes", (json_int_t)c.bytes,
			    "seconds", (double)(now_ms() - start) / 1000.0, "reason", reason);
	r = 0;
out:
	if (c.out >= 0)
		close(c.out);	/* the reader sees the end of the file before the reply */
	if (p[0] >= 0)
		close(p[0]);
	if (c.ring != MAP_FAILED)
		munmap(c.ring, c.ring_len);
	if (c.sock >= 0)
		close(c.sock);
	if (pidfd >= 0)
		close(pidfd);
	free(c.buf);
	pcap_freecode(&prog);
	slot_release(slot);
	return r;
}
