/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for lib/names.c: name rules and host-side name derivation. */
#include <string.h>
#include "tap.h"
#include "names.h"

int main(void)
{
	unsigned char a[6], b[6], c[6];
	char buf[NAMES_IFNAMSIZ];
	int n;

	ok(names_valid("blue"), "'blue' is a valid name");
	ok(names_valid("r1"), "'r1' is a valid name");
	ok(names_valid("a-b-c"), "'a-b-c' is a valid name");
	ok(names_valid("abcdefghijklmno"), "15 characters are allowed");
	ok(!names_valid("abcdefghijklmnop"), "16 characters are not");
	ok(!names_valid(""), "empty name is invalid");
	ok(!names_valid(NULL), "NULL name is invalid");
	ok(!names_valid("1r"), "name must start with a letter");
	ok(!names_valid("-r"), "name must not start with '-'");
	ok(!names_valid("r-"), "name must not end with '-'");
	ok(!names_valid("Blue"), "uppercase is invalid");
	ok(!names_valid("a.b"), "'.' is invalid (it separates derived names)");
	ok(!names_valid("a_b"), "'_' is invalid");

	ok(names_ifname_valid("eth1"), "'eth1' is a valid interface name");
	ok(names_ifname_valid("x"), "'x' is a valid interface name");
	ok(!names_ifname_valid("lo"), "'lo' is reserved");
	ok(!names_ifname_valid("eth-1"), "'-' is not allowed in interface names");
	ok(!names_ifname_valid("1eth"), "interface name must start with a letter");
	ok(!names_ifname_valid("abcdefghijklmnop"), "16-character interface name is invalid");
	ok(!names_ifname_valid(""), "empty interface name is invalid");

	n = names_container(buf, sizeof(buf), "blue", "r1");
	ok(n == 7 && !strcmp(buf, "blue.r1"), "container name blue.r1");
	n = names_host_veth(buf, sizeof(buf), "blue", "r1", "eth1");
	ok(n == 12 && !strcmp(buf, "blue.r1.eth1"), "host veth blue.r1.eth1");
	n = names_host_veth(buf, sizeof(buf), "longslice", "router1", "eth1");
	is_int(n, 22, "too-long veth name reports its full length");
	ok(strlen(buf) == sizeof(buf) - 1, "and is truncated to the buffer");
	{
		char cg[64];

		names_cgroup(cg, sizeof(cg), "n1", "blue", "r1");
		is_str(cg, "trellis/n1/blue/r1", "router cgroup");
		names_cgroup(cg, sizeof(cg), "n1", "blue", NULL);
		is_str(cg, "trellis/n1/blue", "slice cgroup");
		names_monitor_cgroup(cg, sizeof(cg), "n1", "blue", "r1");
		is_str(cg, "trellis.monitor/n1/blue.r1", "monitor cgroup");
	}

	names_mac(a, "blue", "r1", "eth1");
	names_mac(b, "blue", "r1", "eth1");
	names_mac(c, "blue", "r1", "eth2");
	ok(!memcmp(a, b, 6), "MAC is deterministic");
	ok(memcmp(a, c, 6) != 0, "MAC differs per interface");
	ok(a[0] == 0x02, "MAC is locally administered unicast (02:...)");
	names_mac(b, "blue", "r1e", "th1");
	ok(memcmp(a, b, 6) != 0, "component boundaries matter (r1/eth1 vs r1e/th1)");
	names_mac(b, "red", "r1", "eth1");
	ok(memcmp(a, b, 6) != 0, "MAC differs per slice");

	plan(tap_n);
	return done();
}
