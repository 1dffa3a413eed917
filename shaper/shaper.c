/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: shaper - per-interface TBF through libnl-route
 *
 * shaper_link_set_rate() reads the interface's current root qdisc and:
 *  - root is already a TBF: sends the new parameters with that qdisc's handle
 *    (NLM_F_CREATE | NLM_F_REPLACE on an existing handle of the same kind is
 *    a change in the kernel: same qdisc, same handle, queue kept);
 *  - anything else (noqueue, pfifo_fast, mq, ...): a TBF with handle 1: is
 *    grafted in its place.  Only a foreign qdisc already holding handle 1: is
 *    deleted first, since the kernel refuses to replace a handle by a
 *    different kind.
 * Rate 0 deletes a root qdisc that is not the device default (handle 0:).
 *
 * Sizing (frame = MTU + 14): bucket = max(rate/HZ, 10 frames) so one timer
 * tick of traffic and short bursts pass without being throttled; limit =
 * max(50 ms at rate, 4 frames) of queue, a bounded bufferbloat.
 *
 * libnl reports -NLE_* codes; they are translated (nl_geterror for the text,
 * a small table for the TRL_E* code) only at the API boundary, in nl_fail().
 * Each call opens its own rtnetlink socket, so it acts in the network
 * namespace of the calling thread.
 */
#define LOG_MODULE "shaper"

#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/pkt_sched.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>

#include "shaper.h"
#include "log.h"
#include "util.h"

#define ASSUMED_HZ 250		 /* CONFIG_HZ of the kernels we run on */
#define TBF_HANDLE 0x10000u	 /* 1: */
#define ETH_HDR 14

static void nl_sock_freep(struct nl_sock **s)
{
	if (*s)
		nl_socket_free(*s);
}
static void rtnl_link_putp(struct rtnl_link **l)
{
	if (*l)
		rtnl_link_put(*l);
}
static void rtnl_qdisc_putp(struct rtnl_qdisc **q)
{
	if (*q)
		rtnl_qdisc_put(*q);
}
static void nl_cache_freep(struct nl_cache **c)
{
	if (*c)
		nl_cache_free(*c);
}
#define _cleanup_nlsock_ __attribute__((cleanup(nl_sock_freep)))
#define _cleanup_link_ __attribute__((cleanup(rtnl_link_putp)))
#define _cleanup_qdisc_ __attribute__((cleanup(rtnl_qdisc_putp)))
#define _cleanup_cache_ __attribute__((cleanup(nl_cache_freep)))

/* The one place libnl's error space becomes ours. */
static int nl_fail(struct trl_error *err, int nlerr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int nl_fail(struct trl_error *err, int nlerr, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	int code;

	if (nlerr < 0)
		nlerr = -nlerr;
	switch (nlerr) {
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:
		code = TRL_ENOTFOUND;
		break;
	case NLE_PERM:
		code = TRL_EPERM;
		break;
	case NLE_OPNOTSUPP:
	case NLE_PROTO_MISMATCH:
		code = TRL_EUNAVAIL;
		break;
	case NLE_INVAL:
	case NLE_RANGE:
		code = TRL_EINVALID;
		break;
	default:
		code = TRL_EFAILED;
	}
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return trl_error_set(err, code, "%s: %s", what, nl_geterror(nlerr));
}

static int sock_open(struct nl_sock **out, struct trl_error *err)
{
	struct nl_sock *s = nl_socket_alloc();
	int r;

	if (!s)
		return trl_error_errno(err, TRL_EFAILED, ENOMEM, "netlink socket");
	r = nl_connect(s, NETLINK_ROUTE);
	if (r < 0) {
		nl_socket_free(s);
		return nl_fail(err, r, "connect to rtnetlink");
	}
	*out = s;
	return 0;
}

static int link_get(struct nl_sock *s, const char *ifname, struct rtnl_link **out,
		    struct trl_error *err)
{
	int r;

	if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ)
		return trl_error_set(err, TRL_EINVALID, "'%s' is not an interface name",
				     ifname ? ifname : "");
	r = rtnl_link_get_kernel(s, 0, ifname, out);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return trl_error_set(err, TRL_ENOTFOUND, "no interface '%s'", ifname);
	if (r < 0)
		return nl_fail(err, r, "'%s': read link", ifname);
	return 0;
}

/* The root qdisc of @ifindex (a new reference), or NULL if the dump has none. */
static int root_qdisc_get(struct nl_sock *s, int ifindex, const char *ifname,
			  struct rtnl_qdisc **out, struct trl_error *err)
{
	_cleanup_cache_ struct nl_cache *cache = NULL;
	struct rtnl_qdisc *q;
	int r;

	*out = NULL;
	r = rtnl_qdisc_alloc_cache(s, &cache);
	if (r < 0)
		return nl_fail(err, r, "'%s': list qdiscs", ifname);
	q = rtnl_qdisc_get_by_parent(cache, ifindex, TC_H_ROOT);
	*out = q; /* rtnl_qdisc_get_by_parent already took a reference */
	return 0;
}

static bool is_tbf(struct rtnl_qdisc *q)
{
	const char *kind = q ? rtnl_tc_get_kind(TC_CAST(q)) : NULL;

	return kind && !strcmp(kind, "tbf");
}

static int root_delete(struct nl_sock *s, struct rtnl_qdisc *root, const char *ifname,
		       struct trl_error *err)
{
	int r = rtnl_qdisc_delete(s, root);

	/* Gone meanwhile is what we wanted. */
	if (r < 0 && r != -NLE_OBJ_NOTFOUND && r != -NLE_NOADDR)
		return nl_fail(err, r, "'%s': delete root qdisc", ifname);
	return 0;
}

int shaper_link_set_rate(const char *ifname, uint64_t rate_bps, struct trl_error *err)
{
	_cleanup_nlsock_ struct nl_sock *s = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	_cleanup_qdisc_ struct rtnl_qdisc *root = NULL, *q = NULL;
	uint64_t rate, frame, burst, limit;
	uint32_t handle = TBF_HANDLE;
	int r, ifindex;

	if (rate_bps > SHAPER_RATE_MAX)
		return trl_error_set(err, TRL_EINVALID,
				     "'%s': rate %llu bit/s is above the TBF maximum (%llu bit/s)",
				     ifname, (unsigned long long)rate_bps, SHAPER_RATE_MAX);
	if (rate_bps && rate_bps < 8)
		return trl_error_set(err, TRL_EINVALID, "'%s': rate %llu bit/s is below 1 byte/s",
				     ifname, (unsigned long long)rate_bps);
	r = sock_open(&s, err);
	if (r == 0)
		r = link_get(s, ifname, &link, err);
	if (r < 0)
		return r;
	ifindex = rtnl_link_get_ifindex(link);
	r = root_qdisc_get(s, ifindex, ifname, &root, err);
	if (r < 0)
		return r;

	if (rate_bps == 0) {
		if (!root || rtnl_tc_get_handle(TC_CAST(root)) == 0)
			return 0;
		r = root_delete(s, root, ifname, err);
		if (r == 0)
			log_debug("'%s': unshaped", ifname);
		return r;
	}

	if (is_tbf(root)) {
		handle = rtnl_tc_get_handle(TC_CAST(root));
	} else if (root && rtnl_tc_get_handle(TC_CAST(root)) == TBF_HANDLE) {
		r = root_delete(s, root, ifname, err);
		if (r < 0)
			return r;
	}

	rate = rate_bps / 8;
	frame = (uint64_t)(rtnl_link_get_mtu(link) ? rtnl_link_get_mtu(link) : 1500) + ETH_HDR;
	burst = rate / ASSUMED_HZ > 10 * frame ? rate / ASSUMED_HZ : 10 * frame;
	limit = rate / 20 > 4 * frame ? rate / 20 : 4 * frame;
	if (limit > 0x7fffffff)
		limit = 0x7fffffff;
	if (burst > 0x7fffffff)
		burst = 0x7fffffff;

	q = rtnl_qdisc_alloc();
	if (!q)
		return trl_error_errno(err, TRL_EFAILED, ENOMEM, "'%s': qdisc", ifname);
	rtnl_tc_set_link(TC_CAST(q), link); /* ifindex, and the MTU for the rate table */
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), handle);
	r = rtnl_tc_set_kind(TC_CAST(q), "tbf");
	if (r < 0)
		return nl_fail(err, r, "'%s': tbf", ifname);
	rtnl_qdisc_tbf_set_limit(q, (int)limit);
	rtnl_qdisc_tbf_set_rate(q, (int)rate, (int)burst, 0);

	r = rtnl_qdisc_add(s, q, NLM_F_CREATE | NLM_F_REPLACE);
	if (r < 0)
		return nl_fail(err, r, "'%s': set tbf rate %llu bit/s", ifname,
			       (unsigned long long)rate_bps);
	log_debug("'%s': tbf %x: rate %llu bit/s burst %llu limit %llu", ifname, handle >> 16,
		  (unsigned long long)rate_bps, (unsigned long long)burst,
		  (unsigned long long)limit);
	return 0;
}

int shaper_link_get_rate(const char *ifname, uint64_t *rate_bps, struct trl_error *err)
{
	_cleanup_nlsock_ struct nl_sock *s = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	_cleanup_qdisc_ struct rtnl_qdisc *root = NULL;
	int r;

	*rate_bps = 0;
	r = sock_open(&s, err);
	if (r == 0)
		r = link_get(s, ifname, &link, err);
	if (r == 0)
		r = root_qdisc_get(s, rtnl_link_get_ifindex(link), ifname, &root, err);
	if (r < 0)
		return r;
	if (is_tbf(root))
		*rate_bps = (uint64_t)(unsigned)rtnl_qdisc_tbf_get_rate(root) * 8;
	return 0;
}

/* --- probing ------------------------------------------------------------ */

struct probe_ctx {
	bool no_netns;
	int r;
	struct trl_error err;
};

/* In a network namespace private to this thread: a TBF on lo. */
static void *probe_thread(void *arg)
{
	struct probe_ctx *c = arg;

	if (unshare(CLONE_NEWNET) < 0) {
		c->no_netns = true;
		c->r = trl_error_errno(&c->err, TRL_EUNAVAIL, errno,
				       "create a network namespace to probe in");
		return NULL;
	}
	c->r = shaper_link_set_rate("lo", 8000000, &c->err);
	return NULL;
}

int shaper_probe(struct trl_error *err)
{
	struct probe_ctx ctx = { .r = 0 };
	pthread_t th;
	int r;

	r = pthread_create(&th, NULL, probe_thread, &ctx);
	if (r != 0)
		return trl_error_errno(err, TRL_EFAILED, r, "start shaper probe");
	pthread_join(th, NULL);
	if (ctx.no_netns) {
		if (!util_have_cap(12 /* CAP_NET_ADMIN */))
			return trl_error_set(err, TRL_EUNAVAIL,
					     "shaping unavailable: changing qdiscs needs CAP_NET_ADMIN");
		/* No CAP_SYS_ADMIN for a scratch namespace: assume the kernel has TBF. */
		log_debug("TBF not verified: %s", ctx.err.msg);
		return 0;
	}
	if (ctx.r < 0)
		return trl_error_set(err, TRL_EUNAVAIL, "shaping unavailable: %s",
				     ctx.err.msg);
	return 0;
}
