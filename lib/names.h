/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: host-side names
 *
 * Every name trellis creates on the host is derived here and nowhere else.
 * Slice and router names match [a-z][a-z0-9-]*, interface names [a-z][a-z0-9]*,
 * so '.' never occurs inside a component and the derived names are unambiguous.
 *
 *   container      <slice>.<router>              e.g. blue.r1     (LXC name, hostname = router)
 *   host veth end  <slice>.<router>.<ifname>     e.g. blue.r1.eth1 (<= 15 chars: IFNAMSIZ)
 *   cgroup         trellis/<node>/<slice>/<router> (below each controller / the cgroup2 root;
 *                  the node keeps emulated nodes sharing one kernel apart)
 *   monitor cgroup trellis.monitor/<node>/<slice>.<router> (LXC's monitor process)
 *   bpffs pins     /sys/fs/bpf/trellis/<node>/   (one object per node)
 *
 * A spec whose names would make a host veth name longer than 15 characters is
 * rejected by the parser, naming the interface and the derived name.
 */
#ifndef TRELLIS_NAMES_H
#define TRELLIS_NAMES_H

#include <stddef.h>

#define NAMES_IFNAMSIZ 16

enum names_kind {
	NAMES_NAME,	/* slice, router, node: [a-z][a-z0-9-]*, <= 15, no trailing '-' */
	NAMES_IFNAME,	/* router interface: [a-z][a-z0-9]*, <= 15, not "lo" */
	NAMES_TEMPLATE,	/* template: [a-z][a-z0-9-]*, <= 31 */
};

/* Why @s is not a valid name of @kind, as a phrase for error messages
 * ("must start with a lowercase letter"); NULL if it is valid.  The one place
 * that holds the naming rules. */
const char *names_problem(enum names_kind kind, const char *s);

/* 1 if @s is a valid slice/router name ([a-z][a-z0-9-]*, 1..15 chars, no trailing '-'). */
int names_valid(const char *s);
/* 1 if @s is a valid router interface name ([a-z][a-z0-9]*, 1..15 chars, not "lo"). */
int names_ifname_valid(const char *s);

/* Each returns the length it needs (snprintf-style); > bufsize-1 means it did not fit. */
int names_container(char *buf, size_t len, const char *slice, const char *router);
int names_host_veth(char *buf, size_t len, const char *slice, const char *router, const char *ifname);
/* router NULL: the slice's group; slice and router NULL: the node's group. */
int names_cgroup(char *buf, size_t len, const char *node, const char *slice, const char *router);
int names_monitor_cgroup(char *buf, size_t len, const char *node, const char *slice, const char *router);

/* Deterministic locally-administered unicast MAC for a router interface. */
void names_mac(unsigned char mac[6], const char *slice, const char *router, const char *ifname);

#endif
