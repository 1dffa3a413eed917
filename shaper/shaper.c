/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: shaper - HTB trees through libnl-route
 *
 * See shaper.h for the model.  The root is created once (an HTB 1: grafted in
 * place of whatever root the interface had: noqueue, pfifo_fast, mq...; a
 * foreign qdisc already holding handle 1: is deleted first, since the kernel
 * refuses to replace a handle by a different kind).  Classes are sent with
 * NLM_F_CREATE only: on an existing class id the kernel changes that class
 * (htb_change_class), keeping its queue and counters.
 *
 * Sizing (frame = MTU + 14): burst = max(4 ms at the rate, 10 frames), so a
 * GSO super-packet or a short burst passes without the class stalling on the
 * timer (HTB's own default, one MTU, under-delivers at high rates);
 * quantum = rate / 10 bytes clamped to [1 frame, 200 kB] (HTB's r2q = 10
 * without the "quantum is big" warnings), so spare bandwidth is lent in
 * proportion to the guaranteed rates.
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
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/class.h>
#include <netlink/route/qdisc/fifo.h>
#include <netlink/route/qdisc/htb.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/tc.h>

#include "shaper.h"
#include "log.h"
#include "util.h"

#define ASSUMED_HZ 250		 /* CONFIG_HZ of the kernels we run on */
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
static void rtnl_class_putp(struct rtnl_class **c)
{
	if (*c)
		rtnl_class_put(*c);
}
#define _cleanup_class_ __attribute__((cleanup(rtnl_class_putp)))

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

static const char *tc_kind(void *obj)
{
	const char *kind = obj ? rtnl_tc_get_kind(TC_CAST(obj)) : NULL;

	return kind ? kind : "";
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

static bool is_our_tree(struct rtnl_qdisc *q)
{
	return q && !strcmp(tc_kind(q), "htb") && rtnl_tc_get_handle(TC_CAST(q)) == SHAPER_MAJOR;
}

static int open_link(const char *ifname, struct nl_sock **s, struct rtnl_link **link, struct trl_error *err)
{
	int r = sock_open(s, err);

	if (r == 0)
		r = link_get(*s, ifname, link, err);
	return r;
}

int shaper_tree_ensure(const char *ifname, uint32_t defcls, int overhead, struct trl_error *err)
{
	_cleanup_nlsock_ struct nl_sock *s = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	_cleanup_qdisc_ struct rtnl_qdisc *root = NULL, *q = NULL;
	struct nl_msg *msg = NULL;
	int r, ifindex;

	if (defcls < 1 || defcls > 0xffff)
		return trl_error_set(err, TRL_EINVALID, "'%s': default class 1:%x out of range", ifname, defcls);
	r = open_link(ifname, &s, &link, err);
	if (r < 0)
		return r;
	ifindex = rtnl_link_get_ifindex(link);
	r = root_qdisc_get(s, ifindex, ifname, &root, err);
	if (r < 0)
		return r;
	if (is_our_tree(root) && rtnl_htb_get_defcls(root) == defcls)
		return 0;
	if (root && rtnl_tc_get_handle(TC_CAST(root)) == SHAPER_MAJOR) {
		r = root_delete(s, root, ifname, err);
		if (r < 0)
			return r;
	}
	q = rtnl_qdisc_alloc();
	if (!q)
		return trl_error_errno(err, TRL_EFAILED, ENOMEM, "'%s': qdisc", ifname);
	rtnl_tc_set_link(TC_CAST(q), link);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), SHAPER_MAJOR);
	r = rtnl_tc_set_kind(TC_CAST(q), "htb");
	if (r < 0)
		return nl_fail(err, r, "'%s': htb", ifname);
	rtnl_htb_set_defcls(q, defcls);
	rtnl_htb_set_rate2quantum(q, 10);
	r = rtnl_qdisc_build_add_request(q, NLM_F_CREATE | NLM_F_REPLACE, &msg);
	if (r < 0)
		return nl_fail(err, r, "'%s': build htb root", ifname);
	if (overhead) {
		/* A size table without a table (tsize 0): the kernel only adds
		 * @overhead to each packet's length (libnl 3.7 cannot send one). */
		struct tc_sizespec sz = { .overhead = overhead, .linklayer = TC_LINKLAYER_ETHERNET };
		struct nlattr *stab = nla_nest_start(msg, TCA_STAB);

		if (!stab || nla_put(msg, TCA_STAB_BASE, sizeof(sz), &sz) < 0) {
			nlmsg_free(msg);
			return trl_error_set(err, TRL_EFAILED, "'%s': size table does not fit the message", ifname);
		}
		nla_nest_end(msg, stab);
	}
	r = nl_send_sync(s, msg); /* frees msg */
	if (r < 0)
		return nl_fail(err, r, "'%s': create htb root", ifname);
	log_debug("'%s': htb 1: default 1:%x overhead %d", ifname, defcls, overhead);
	return 1;
}

int shaper_tree_remove(const char *ifname, struct trl_error *err)
{
	_cleanup_nlsock_ struct nl_sock *s = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	_cleanup_qdisc_ struct rtnl_qdisc *root = NULL;
	int r;

	r = open_link(ifname, &s, &link, err);
	if (r == -TRL_ENOTFOUND) {
		trl_error_clear(err);
		return 0;
	}
	if (r == 0)
		r = root_qdisc_get(s, rtnl_link_get_ifindex(link), ifname, &root, err);
	if (r < 0)
		return r;
	if (!is_our_tree(root))
		return 0;
	r = root_delete(s, root, ifname, err);
	if (r == 0)
		log_debug("'%s': htb tree removed", ifname);
	return r;
}

int shaper_tree_exists(const char *ifname)
{
	_cleanup_nlsock_ struct nl_sock *s = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	_cleanup_qdisc_ struct rtnl_qdisc *root = NULL;
	struct trl_error e = { 0 };

	if (open_link(ifname, &s, &link, &e) < 0 ||
	    root_qdisc_get(s, rtnl_link_get_ifindex(link), ifname, &root, &e) < 0)
		return 0;
	return is_our_tree(root);
}

static uint64_t derived_burst(uint64_t rate_bps, uint64_t frame)
{
	uint64_t b = rate_bps / 8 / 250;

	if (b < 10 * frame)
		b = 10 * frame;
	return b > 0x7fffffff ? 0x7fffffff : b;
}

int shaper_class_set(const char *ifname, const struct shaper_class *c, struct trl_error *err)
{
	_cleanup_nlsock_ struct nl_sock *s = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	_cleanup_class_ struct rtnl_class *cl = NULL;
	uint64_t ceil = c->ceil ? c->ceil : c->rate, frame, burst, cburst, quantum;
	int r;

	if (SHAPER_MINOR(c->classid) < 1 || (c->classid & ~0xffffu) != SHAPER_MAJOR)
		return trl_error_set(err, TRL_EINVALID, "'%s': class id %x:%x is not in tree 1:", ifname,
				     c->classid >> 16, c->classid & 0xffff);
	if (c->rate < 8 || c->rate > SHAPER_RATE_MAX || ceil < c->rate || ceil > SHAPER_RATE_MAX)
		return trl_error_set(err, TRL_EINVALID,
				     "'%s': class 1:%x: rate %llu / ceil %llu bit/s is not 8 bit/s <= rate <= ceil <= 1 Tbit/s",
				     ifname, SHAPER_MINOR(c->classid), (unsigned long long)c->rate,
				     (unsigned long long)ceil);
	r = open_link(ifname, &s, &link, err);
	if (r < 0)
		return r;
	frame = (uint64_t)(rtnl_link_get_mtu(link) ? rtnl_link_get_mtu(link) : 1500) + ETH_HDR;
	if (frame > 65536 + ETH_HDR)
		frame = 65536 + ETH_HDR;
	burst = c->burst ? c->burst : derived_burst(c->rate, frame);
	cburst = c->burst ? c->burst : derived_burst(ceil, frame);
	quantum = c->rate / 8 / 10;
	if (quantum < frame)
		quantum = frame;
	if (quantum > 200000)
		quantum = 200000;

	cl = rtnl_class_alloc();
	if (!cl)
		return trl_error_errno(err, TRL_EFAILED, ENOMEM, "'%s': class", ifname);
	rtnl_tc_set_link(TC_CAST(cl), link);
	rtnl_tc_set_parent(TC_CAST(cl), c->parent ? c->parent : SHAPER_MAJOR);
	rtnl_tc_set_handle(TC_CAST(cl), c->classid);
	r = rtnl_tc_set_kind(TC_CAST(cl), "htb");
	if (r < 0)
		return nl_fail(err, r, "'%s': htb class", ifname);
	rtnl_htb_set_rate64(cl, c->rate / 8);
	rtnl_htb_set_ceil64(cl, ceil / 8);
	rtnl_htb_set_rbuffer(cl, (uint32_t)burst);
	rtnl_htb_set_cbuffer(cl, (uint32_t)cburst);
	rtnl_htb_set_quantum(cl, (uint32_t)quantum);
	rtnl_htb_set_prio(cl, 0);
	r = rtnl_class_add(s, cl, NLM_F_CREATE);
	if (r < 0)
		return nl_fail(err, r, "'%s': class 1:%x rate %llu ceil %llu bit/s", ifname,
			       SHAPER_MINOR(c->classid), (unsigned long long)c->rate, (unsigned long long)ceil);
	log_debug("'%s': class 1:%x parent %x:%x rate %llu ceil %llu burst %llu/%llu", ifname,
		  SHAPER_MINOR(c->classid), (c->parent ? c->parent : SHAPER_MAJOR) >> 16,
		  SHAPER_MINOR(c->parent), (unsigned long long)c->rate, (unsigned long long)ceil,
		  (unsigned long long)burst, (unsigned long long)cburst);
	return 0;
}

int shaper_class_del(const char *ifname, uint32_t classid, struct trl_error *err)
{
	_cleanup_nlsock_ struct nl_sock *s = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	_cleanup_class_ struct rtnl_class *cl = NULL;
	int r;

	r = open_link(ifname, &s, &link, err);
	if (r == -TRL_ENOTFOUND) {
		trl_error_clear(err);
		return 0;
	}
	if (r < 0)
		return r;
	cl = rtnl_class_alloc();
	if (!cl)
		return trl_error_errno(err, TRL_EFAILED, ENOMEM, "'%s': class", ifname);
	rtnl_tc_set_link(TC_CAST(cl), link);
	rtnl_tc_set_handle(TC_CAST(cl), classid);
	r = rtnl_class_delete(s, cl);
	if (r < 0 && r != -NLE_OBJ_NOTFOUND && r != -NLE_NOADDR && r != -NLE_INVAL)
		return nl_fail(err, r, "'%s': delete class 1:%x", ifname, SHAPER_MINOR(classid));
	return 0;
}

static void stat_fill(struct rtnl_tc *tc, struct shaper_class_info *out)
{
	out->bytes = rtnl_tc_get_stat(tc, RTNL_TC_BYTES);
	out->packets = rtnl_tc_get_stat(tc, RTNL_TC_PACKETS);
	out->drops = rtnl_tc_get_stat(tc, RTNL_TC_DROPS);
	out->overlimits = rtnl_tc_get_stat(tc, RTNL_TC_OVERLIMITS);
	out->backlog_bytes = rtnl_tc_get_stat(tc, RTNL_TC_BACKLOG);
	out->backlog_packets = rtnl_tc_get_stat(tc, RTNL_TC_QLEN);
}

static void info_fill(struct rtnl_class *cl, struct shaper_class_info *out)
{
	uint64_t v;

	out->classid = rtnl_tc_get_handle(TC_CAST(cl));
	if (rtnl_htb_get_rate64(cl, &v) == 0)
		out->rate = v * 8;
	if (rtnl_htb_get_ceil64(cl, &v) == 0)
		out->ceil = v * 8;
	out->burst = rtnl_htb_get_rbuffer(cl);
	out->cburst = rtnl_htb_get_cbuffer(cl);
	out->parent = rtnl_tc_get_parent(TC_CAST(cl));
	stat_fill(TC_CAST(cl), out);
}

int shaper_class_list(const char *ifname, struct shaper_class_info **out, struct trl_error *err)
{
	_cleanup_nlsock_ struct nl_sock *s = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	_cleanup_cache_ struct nl_cache *classes = NULL;
	struct shaper_class_info *arr;
	struct nl_object *o;
	int r, n = 0;

	*out = NULL;
	r = open_link(ifname, &s, &link, err);
	if (r == -TRL_ENOTFOUND) {
		trl_error_clear(err);
		return 0;
	}
	if (r < 0)
		return r;
	r = rtnl_class_alloc_cache(s, rtnl_link_get_ifindex(link), &classes);
	if (r < 0)
		return nl_fail(err, r, "'%s': list classes", ifname);
	arr = calloc((size_t)nl_cache_nitems(classes) + 1, sizeof(*arr));
	if (!arr)
		return trl_error_errno(err, TRL_EFAILED, ENOMEM, "'%s': classes", ifname);
	for (o = nl_cache_get_first(classes); o; o = nl_cache_get_next(o)) {
		if (strcmp(tc_kind(o), "htb") || (rtnl_tc_get_handle(TC_CAST(o)) & ~0xffffu) != SHAPER_MAJOR)
			continue;
		info_fill((struct rtnl_class *)o, &arr[n++]);
	}
	*out = arr;
	return n;
}

int shaper_class_get(const char *ifname, uint32_t classid, struct shaper_class_info *out,
		     struct trl_error *err)
{
	_cleanup_nlsock_ struct nl_sock *s = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	_cleanup_cache_ struct nl_cache *classes = NULL, *qdiscs = NULL;
	_cleanup_class_ struct rtnl_class *cl = NULL;
	struct nl_object *o;
	int r, ifindex;

	memset(out, 0, sizeof(*out));
	r = open_link(ifname, &s, &link, err);
	if (r < 0)
		return r;
	ifindex = rtnl_link_get_ifindex(link);
	r = rtnl_class_alloc_cache(s, ifindex, &classes);
	if (r < 0)
		return nl_fail(err, r, "'%s': list classes", ifname);
	cl = rtnl_class_get(classes, ifindex, classid);
	if (!cl || strcmp(tc_kind(cl), "htb"))
		return trl_error_set(err, TRL_ENOTFOUND, "'%s': no class 1:%x", ifname, SHAPER_MINOR(classid));
	info_fill(cl, out);
	out->leaf = 1;
	for (o = nl_cache_get_first(classes); o; o = nl_cache_get_next(o))
		if (rtnl_tc_get_parent(TC_CAST(o)) == classid)
			out->leaf = 0;
	if (out->leaf) {
		snprintf(out->leaf_qdisc, sizeof(out->leaf_qdisc), "pfifo");
		if (rtnl_qdisc_alloc_cache(s, &qdiscs) == 0) {
			for (o = nl_cache_get_first(qdiscs); o; o = nl_cache_get_next(o))
				if (rtnl_tc_get_ifindex(TC_CAST(o)) == ifindex &&
				    rtnl_tc_get_parent(TC_CAST(o)) == classid)
					snprintf(out->leaf_qdisc, sizeof(out->leaf_qdisc), "%s", tc_kind(o));
		}
	}
	return 0;
}

int shaper_tenant_classes(const char *ifname, uint32_t base_max, struct trl_error *err)
{
	_cleanup_nlsock_ struct nl_sock *s = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	_cleanup_cache_ struct nl_cache *classes = NULL;
	struct nl_object *o;
	int r, n = 0, ifindex;

	r = open_link(ifname, &s, &link, err);
	if (r == -TRL_ENOTFOUND) {
		trl_error_clear(err);
		return 0;
	}
	if (r < 0)
		return r;
	ifindex = rtnl_link_get_ifindex(link);
	r = rtnl_class_alloc_cache(s, ifindex, &classes);
	if (r < 0)
		return nl_fail(err, r, "'%s': list classes", ifname);
	for (o = nl_cache_get_first(classes); o; o = nl_cache_get_next(o)) {
		uint32_t h = rtnl_tc_get_handle(TC_CAST(o));

		if ((h & ~0xffffu) == SHAPER_MAJOR && !strcmp(tc_kind(o), "htb") &&
		    (SHAPER_MINOR(h) < 1 || SHAPER_MINOR(h) > base_max))
			n++;
	}
	return n;
}

/* A qdisc of @kind for leaf class @classid (handle minor:), ready to send on *@s. */
static int leaf_qdisc(const char *ifname, uint32_t classid, const char *kind, struct nl_sock **s,
		      struct rtnl_qdisc **q, struct trl_error *err)
{
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r;

	if (SHAPER_MINOR(classid) < 2)
		return trl_error_set(err, TRL_EINVALID, "'%s': class 1:%x has no queue of its own", ifname,
				     SHAPER_MINOR(classid));
	r = open_link(ifname, s, &link, err);
	if (r < 0)
		return r;
	*q = rtnl_qdisc_alloc();
	if (!*q)
		return trl_error_errno(err, TRL_EFAILED, ENOMEM, "'%s': qdisc", ifname);
	rtnl_tc_set_link(TC_CAST(*q), link);
	rtnl_tc_set_parent(TC_CAST(*q), classid);
	rtnl_tc_set_handle(TC_CAST(*q), SHAPER_MINOR(classid) << 16);
	r = rtnl_tc_set_kind(TC_CAST(*q), kind);
	if (r < 0)
		return nl_fail(err, r, "'%s': %s", ifname, kind);
	return 0;
}

int shaper_class_fifo(const char *ifname, uint32_t classid, uint64_t limit_bytes, struct trl_error *err)
{
	_cleanup_nlsock_ struct nl_sock *s = NULL;
	_cleanup_qdisc_ struct rtnl_qdisc *q = NULL;
	int r;

	r = leaf_qdisc(ifname, classid, "bfifo", &s, &q, err);
	if (r < 0)
		return r;
	rtnl_qdisc_fifo_set_limit(q, (int)(limit_bytes > 0x7fffffff ? 0x7fffffff : limit_bytes));
	r = rtnl_qdisc_add(s, q, NLM_F_CREATE | NLM_F_REPLACE);
	if (r == -NLE_INVAL || r == -NLE_EXIST) {
		/* Another kind (netem) holds the handle: the kernel does not change kinds in place. */
		rtnl_qdisc_delete(s, q);
		r = rtnl_qdisc_add(s, q, NLM_F_CREATE | NLM_F_REPLACE);
	}
	if (r < 0)
		return nl_fail(err, r, "'%s': queue of class 1:%x", ifname, SHAPER_MINOR(classid));
	return 0;
}

int shaper_class_netem(const char *ifname, uint32_t classid, uint32_t delay_us, uint32_t jitter_us,
		       struct trl_error *err)
{
	_cleanup_nlsock_ struct nl_sock *s = NULL;
	_cleanup_qdisc_ struct rtnl_qdisc *q = NULL;
	int r;

	r = leaf_qdisc(ifname, classid, "netem", &s, &q, err);
	if (r < 0)
		return r;
	if (!delay_us && !jitter_us) {
		/* HTB grafts its default queue back in place of a deleted leaf qdisc. */
		r = rtnl_qdisc_delete(s, q);
		if (r < 0 && r != -NLE_OBJ_NOTFOUND && r != -NLE_NOADDR && r != -NLE_INVAL)
			return nl_fail(err, r, "'%s': remove netem of class 1:%x", ifname, SHAPER_MINOR(classid));
		return 0;
	}
	rtnl_netem_set_delay(q, (int)delay_us);
	rtnl_netem_set_jitter(q, (int)jitter_us);
	rtnl_netem_set_limit(q, 10000);
	r = rtnl_qdisc_add(s, q, NLM_F_CREATE | NLM_F_REPLACE);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_OPNOTSUPP)
		return trl_error_set(err, TRL_EUNAVAIL,
				     "'%s': delay/jitter need the netem qdisc, which this kernel lacks (sch_netem)",
				     ifname);
	if (r < 0)
		return nl_fail(err, r, "'%s': netem delay %u us jitter %u us on class 1:%x", ifname, delay_us,
			       jitter_us, SHAPER_MINOR(classid));
	return 0;
}

/* --- probing ------------------------------------------------------------ */

struct probe_ctx {
	bool netem;
	bool no_netns;
	int r;
	struct trl_error err;
};

/* In a network namespace private to this thread: an HTB tree on lo (and netem). */
static void *probe_thread(void *arg)
{
	struct probe_ctx *c = arg;
	struct shaper_class cl = { .classid = SHAPER_H(2), .rate = 8000000 };

	if (unshare(CLONE_NEWNET) < 0) {
		c->no_netns = true;
		c->r = trl_error_errno(&c->err, TRL_EUNAVAIL, errno,
				       "create a network namespace to probe in");
		return NULL;
	}
	c->r = shaper_tree_ensure("lo", 2, 0, &c->err);
	if (c->r >= 0)
		c->r = shaper_class_set("lo", &cl, &c->err);
	if (c->r >= 0 && c->netem)
		c->r = shaper_class_netem("lo", SHAPER_H(2), 1000, 0, &c->err);
	return NULL;
}

static int probe(bool netem, struct trl_error *err)
{
	struct probe_ctx ctx = { .netem = netem };
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
		/* No CAP_SYS_ADMIN for a scratch namespace: cannot tell. */
		log_debug("qdiscs not verified: %s", ctx.err.msg);
		return netem ? trl_error_set(err, TRL_EUNAVAIL, "netem not verified: %s", ctx.err.msg) : 0;
	}
	if (ctx.r < 0 && netem && ctx.err.code == TRL_EUNAVAIL)
		return trl_error_set(err, TRL_EUNAVAIL,
				     "delay/jitter need the netem qdisc, which this kernel lacks (sch_netem)");
	if (ctx.r < 0)
		return trl_error_set(err, TRL_EUNAVAIL, "%s unavailable: %s", netem ? "netem" : "shaping",
				     ctx.err.msg);
	return 0;
}

int shaper_probe(struct trl_error *err)
{
	return probe(false, err);
}

int shaper_probe_netem(struct trl_error *err)
{
	return probe(true, err);
}
