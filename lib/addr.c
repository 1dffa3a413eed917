/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: interface addresses
 *
 * An address in a spec is always written with its prefix length
 * ("10.0.12.1/24", "fd00:12::1/64"): it names both the interface address and
 * the connected subnet.  trl_addr keeps the binary address, the prefix length
 * and a canonical text form (inet_ntop + "/len").  Prefix comparisons work on
 * the address bytes in network order, so one code path serves both families.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "model.h"

static const unsigned char *addr_bytes(const struct trl_addr *a, size_t *n)
{
	if (a->family == AF_INET) {
		*n = 4;
		return (const unsigned char *)&a->a.v4;
	}
	*n = 16;
	return (const unsigned char *)&a->a.v6;
}

/* Compare the first @bits bits of two addresses of the same family. */
static int prefix_equal(const struct trl_addr *a, const struct trl_addr *b, int bits)
{
	const unsigned char *pa, *pb;
	size_t n, full;
	int rest;

	pa = addr_bytes(a, &n);
	pb = addr_bytes(b, &n);
	if (bits < 0)
		bits = 0;
	if ((size_t)bits > n * 8)
		bits = (int)(n * 8);
	full = (size_t)bits / 8;
	rest = bits % 8;
	if (memcmp(pa, pb, full))
		return 0;
	if (rest) {
		unsigned char mask = (unsigned char)(0xff << (8 - rest));

		if ((pa[full] & mask) != (pb[full] & mask))
			return 0;
	}
	return 1;
}

int trl_addr_parse(const char *text, struct trl_addr *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash, *p;
	struct trl_addr a;
	size_t alen;
	int plen = 0, max;

	if (!text || !out)
		return -EINVAL;
	slash = strchr(text, '/');
	if (!slash)
		return -EINVAL;
	alen = (size_t)(slash - text);
	if (alen == 0 || alen >= INET6_ADDRSTRLEN)
		return -EINVAL;
	memcpy(buf, text, alen);
	buf[alen] = '\0';

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, buf, &a.a.v4) == 1) {
		a.family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, &a.a.v6) == 1) {
		a.family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}

	p = slash + 1;
	if (!*p || strlen(p) > 3)
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		plen = plen * 10 + (*p - '0');
	}
	if (plen > max)
		return -EINVAL;
	a.prefixlen = plen;

	if (!inet_ntop(a.family, &a.a, buf, sizeof(buf)))
		return -EINVAL;
	snprintf(a.text, sizeof(a.text), "%s/%d", buf, plen);
	*out = a;
	return 0;
}

int trl_addr_prefix_overlap(const struct trl_addr *a, const struct trl_addr *b)
{
	if (a->family != b->family)
		return 0;
	return prefix_equal(a, b, a->prefixlen < b->prefixlen ? a->prefixlen : b->prefixlen);
}

int trl_addr_same_subnet(const struct trl_addr *a, const struct trl_addr *b)
{
	if (a->family != b->family)
		return 0;
	return prefix_equal(a, b, a->prefixlen);
}

int trl_addr_equal(const struct trl_addr *a, const struct trl_addr *b)
{
	size_t n;

	if (a->family != b->family || a->prefixlen != b->prefixlen)
		return 0;
	addr_bytes(a, &n);
	return prefix_equal(a, b, (int)(n * 8));
}
