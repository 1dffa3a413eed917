/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: host-side names
 *
 * The one place where host-side names are derived (the scheme is in
 * names.h).  Components never contain '.', so "<slice>.<router>.<ifname>"
 * splits back unambiguously.  MAC addresses are derived, not allocated: a
 * 64-bit FNV-1a hash of "slice\0router\0ifname" supplies the low five bytes
 * behind a 0x02 first byte (locally administered, unicast), so a router
 * interface keeps its MAC across daemon restarts and re-creation.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "names.h"
#include "model.h"

static int is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

const char *names_problem(enum names_kind kind, const char *s)
{
	size_t n = s ? strlen(s) : 0, max = kind == NAMES_TEMPLATE ? 31 : TRL_NAME_MAX;
	int dash = kind != NAMES_IFNAME;

	if (!n)
		return "must not be empty";
	if (!is_lower(s[0]))
		return "must start with a lowercase letter";
	for (size_t i = 1; i < n; i++)
		if (!is_lower(s[i]) && !is_digit(s[i]) && !(dash && s[i] == '-'))
			return dash ? "may contain only lowercase letters, digits and '-'"
				    : "may contain only lowercase letters and digits";
	if (n > max)
		return kind == NAMES_TEMPLATE ? "must be at most 31 characters" : "must be at most 15 characters";
	if (kind == NAMES_NAME && s[n - 1] == '-')
		return "must not end with '-'";
	if (kind == NAMES_IFNAME && !strcmp(s, "lo"))
		return "'lo' is the loopback (put its addresses under loopback:)";
	return NULL;
}

int names_valid(const char *s)
{
	return !names_problem(NAMES_NAME, s);
}

int names_ifname_valid(const char *s)
{
	return !names_problem(NAMES_IFNAME, s);
}

int names_container(char *buf, size_t len, const char *slice, const char *router)
{
	return snprintf(buf, len, "%s.%s", slice, router);
}

int names_host_veth(char *buf, size_t len, const char *slice, const char *router, const char *ifname)
{
	return snprintf(buf, len, "%s.%s.%s", slice, router, ifname);
}

int names_cgroup(char *buf, size_t len, const char *node, const char *slice, const char *router)
{
	if (!slice)
		return snprintf(buf, len, "trellis/%s", node);
	if (!router)
		return snprintf(buf, len, "trellis/%s/%s", node, slice);
	return snprintf(buf, len, "trellis/%s/%s/%s", node, slice, router);
}

int names_monitor_cgroup(char *buf, size_t len, const char *node, const char *slice, const char *router)
{
	return snprintf(buf, len, "trellis.monitor/%s/%s.%s", node, slice, router);
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
	/* Hash the terminating NUL too, so ("ab","c") and ("a","bc") differ. */
	do {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	} while (*s++);
	return h;
}

void names_mac(unsigned char mac[6], const char *slice, const char *router, const char *ifname)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = fnv1a(h, slice ? slice : "");
	h = fnv1a(h, router ? router : "");
	h = fnv1a(h, ifname ? ifname : "");
	mac[0] = 0x02;
	for (int i = 1; i < 6; i++)
		mac[i] = (unsigned char)(h >> (8 * (i - 1)));
}
