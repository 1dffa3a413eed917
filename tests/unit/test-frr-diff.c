/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for trellisd/frr-diff.c: the vtysh commands slice apply sends. */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "reload.h"

/* The commands as one string, joined by '|'. */
static char *diff(const char *o, const char *n)
{
	char **v = NULL, *s;
	size_t nv = 0, len = 1;

	if (reload_frr_commands(o, n, &v, &nv) < 0)
		return strdup("ERROR");
	for (size_t i = 0; i < nv; i++)
		len += strlen(v[i]) + 1;
	s = calloc(1, len);
	for (size_t i = 0; i < nv; i++) {
		if (i)
			strcat(s, "|");
		strcat(s, v[i]);
	}
	reload_commands_free(v, nv);
	return s;
}

static void check(const char *o, const char *n, const char *want, const char *what)
{
	char *got = diff(o, n);

	is_str(got, want, "%s", what);
	free(got);
}

static const char base[] =
	"router ospf\n"
	" ospf router-id 10.255.0.1\n"
	"interface lo\n"
	" ip ospf area 0\n"
	"interface eth1\n"
	" ip ospf area 0\n"
	" ip ospf cost 10\n";

int main(void)
{
	plan(8);
	check(base, base, "configure terminal|end", "the same config: no command");
	check(base,
	      "router ospf\n ospf router-id 10.255.0.1\ninterface lo\n ip ospf area 0\ninterface eth1\n ip ospf area 0\n ip ospf cost 50\n",
	      "configure terminal|interface eth1|no ip ospf cost 10|exit|interface eth1|ip ospf area 0|ip ospf cost 50|exit|end",
	      "a changed cost: the old one negated in its interface, the interface's block entered; others untouched");
	check(base, "router ospf\n ospf router-id 10.255.0.1\ninterface lo\n ip ospf area 0\n",
	      "configure terminal|interface eth1|no ip ospf area 0|exit|interface eth1|no ip ospf cost 10|exit|end",
	      "an interface block gone: its statements negated one by one");
	check("router bgp 65001\n neighbor 10.0.0.2 remote-as 65002\n", "",
	      "configure terminal|no router bgp 65001|end", "a router block gone: negated by its header");
	check("", "ip route 10.9.0.0/16 10.0.12.2\n", "configure terminal|ip route 10.9.0.0/16 10.0.12.2|end",
	      "a new top-level statement");
	check("ip route 10.9.0.0/16 10.0.12.2\n", "", "configure terminal|no ip route 10.9.0.0/16 10.0.12.2|end",
	      "a top-level statement gone");
	check("router bgp 1\n address-family ipv4 unicast\n  network 10.1.0.0/16\n exit-address-family\n",
	      "router bgp 1\n address-family ipv4 unicast\n  network 10.2.0.0/16\n exit-address-family\n",
	      "configure terminal|router bgp 1|address-family ipv4 unicast|no network 10.1.0.0/16|exit|exit|"
	      "router bgp 1|address-family ipv4 unicast|network 10.2.0.0/16|exit|exit|end",
	      "a statement in an address-family: negated in its sub-context");
	check("frr defaults traditional\nhostname r1\n!\nrouter ospf\n", "frr defaults datacenter\nhostname r2\nrouter ospf\n",
	      "configure terminal|end", "frr defaults, hostname and comments are left alone");
	return done();
}
