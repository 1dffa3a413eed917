/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for lib/spec.c: the slice spec parser and its validation.
 *
 * Every rejected spec is checked for the exact position prefix
 * ("t.yaml:LINE:" or "t.yaml:LINE:COL:"), the exact field (": FIELD: ") and a
 * recognisable piece of the reason.  The examples in examples/ must parse.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "spec.h"
#include "util.h"

/* In-memory files for config-file: tests. */
static int mem_resolve(void *ctx, const char *name, char **out)
{
	(void)ctx;
	if (!strcmp(name, "r1.conf") || !strcmp(name, "conf/r1.conf")) {
		*out = strdup("router bgp 65001\n neighbor 10.0.12.2 remote-as 65002\n");
		return *out ? 0 : -ENOMEM;
	}
	if (!strcmp(name, "secret.conf"))
		return -EACCES;
	return -ENOENT;
}

/* Files next to the spec: ctx is the spec's directory. */
static int dir_resolve(void *ctx, const char *name, char **out)
{
	char path[4096];

	if (snprintf(path, sizeof(path), "%s/%s", (const char *)ctx, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return util_read_file(path, 4 << 20, out, NULL);
}

static int parse(const char *yaml, struct trl_slice **s, struct trl_error *err)
{
	trl_error_clear(err);
	return spec_parse(yaml, strlen(yaml), "t.yaml", mem_resolve, NULL, s, err);
}

/*
 * Expect @yaml to be rejected at @pos ("3:" or "3:7:"), in @field, with
 * @reason somewhere in the message.
 */
static void bad(const char *yaml, const char *pos, const char *field, const char *reason)
{
	struct trl_slice *s = NULL;
	struct trl_error err;
	char prefix[64], fld[256];
	int r = parse(yaml, &s, &err);
	int good;

	snprintf(prefix, sizeof(prefix), "t.yaml:%s", pos);
	snprintf(fld, sizeof(fld), ": %s: ", field);
	good = r == -TRL_EINVALID && err.code == TRL_EINVALID && s == NULL &&
	       !strncmp(err.msg, prefix, strlen(prefix)) && strstr(err.msg, fld) && strstr(err.msg, reason);
	ok(good, "%s: %s", field, reason);
	if (!good)
		printf("#   r=%d msg='%s'\n#   want '%s...%s...%s'\n", r, err.msg, prefix, fld, reason);
	trl_slice_free(s);
}

static struct trl_slice *good(const char *yaml, const char *what)
{
	struct trl_slice *s = NULL;
	struct trl_error err;
	int r = parse(yaml, &s, &err);

	if (!ok(r == 0 && s, "accepted: %s", what))
		printf("#   r=%d msg='%s'\n", r, err.msg);
	return r == 0 ? s : NULL;
}

#define HEAD "slice: blue\nrouters:\n  r1: {}\n  r2: {}\n"
#define LINK "links:\n  - endpoints: [r1:eth1, r2:eth1]\n"

static void test_document(void)
{
	struct trl_slice *s = NULL;
	struct trl_error err;
	char *big;

	bad("slice: [blue\nrouters: {}\n", "3:", "syntax error", "flow sequence without a closing bracket");
	bad("slice: blue\nrouters:\n\tr1: {}\n", "3:1:", "syntax error", "tab");
	bad("", "1:1:", "document", "empty spec");
	bad("# only a comment\n", "1:1:", "document", "empty spec");
	bad("- a\n- b\n", "1:1:", "document", "expected a mapping");
	bad("just a string\n", "1:1:", "document", "expected a mapping");
	bad(HEAD "---\nslice: red\n", "6:", "document", "only one YAML document");

	big = malloc((4u << 20) + 2);
	if (big) {
		memset(big, '#', (4u << 20) + 1);
		big[(4u << 20) + 1] = '\0';
		bad(big, "1:1:", "document", "at most 4 MiB");
		free(big);
	}
	bad("slice: b\001lue\nrouters: {r1: {}}\n", "1:9:", "syntax error", "control character 0x01 is not allowed");
	/* found by fuzzing: libfyaml loops forever on a directive with a bad UTF-8 byte */
	bad("%sl\xd3}\n", "1:4:", "syntax error", "byte 0xd3 is not valid UTF-8");
	bad("slice: blue\nrouters: {r\xc3\xa9\xc0\xaf: {}}\n", "2:13:", "syntax error", "byte 0xc0 is not valid UTF-8");
	bad("slice: blue\ndescription: \xed\xa0\x80\n", "2:14:", "syntax error", "byte 0xed is not valid UTF-8");
	bad("slice: blue\ndescription: x\xf4\x90\x80\x80\n", "2:15:", "syntax error", "byte 0xf4 is not valid UTF-8");
	bad("slice: blue\ndescription: x\xe2\x82", "2:15:", "syntax error", "byte 0xe2 is not valid UTF-8");
	/* found by fuzzing: libfyaml mis-reads and leaks single-quoted scalars with '''' in them */
	bad("slice: blue\ndescription: 'a''''b'\nrouters: {r1: {}}\n", "2:14:", "syntax error",
	    "two escaped quotes in a row");
	bad("slice: blue\nrouters: {'r''''1': {}}\n", "2:11:", "syntax error", "two escaped quotes in a row");
	s = good("slice: blue\ndescription: 'it''s '' ''a'' '\nrouters: {r1: {}}\n", "single-quoted escapes");
	ok(s && s->description && !strcmp(s->description, "it's ' 'a' "), "single-quoted escapes read right");
	trl_slice_free(s);
	s = NULL;
	s = good("slice: blue\ndescription: \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\nrouters: {r1: {}}\n",
		 "UTF-8 text in a description");
	trl_slice_free(s);
	s = NULL;
	bad("slice: blue\nrouters:\n  r1:\n    config: |\n \n    router ospf\n", "6:5:", "routers.r1.config",
	    "block scalar line indented 4, not deeper than its key (column 5)");
	big = malloc(256);
	if (big) {
		char *p = big + sprintf(big, "slice: blue\nrouters:\n  r1:\n    config: |\n      x\n");

		memset(p, '\n', 101);
		strcpy(p + 101, "      y\n");
		bad(big, "106:1:", "syntax error", "more than 100 blank lines in a row");
		p[100] = ' ';
		s = good(big, "100 blank lines in a row");
		ok(s && s->routers[0].config && strlen(s->routers[0].config) == 2 + 100 + 3, "blank lines kept in the config");
		trl_slice_free(s);
		s = NULL;
		free(big);
	}
	ok(spec_parse(NULL, 0, NULL, NULL, NULL, &s, &err) == -TRL_EINVALID && !s &&
		   !strncmp(err.msg, "<spec>:1:1:", 11),
	   "NULL text is an empty spec");
}

static void test_keys(void)
{
	bad("slice: blue\nrouter:\n  r1: {}\n", "2:1:", "router", "unknown key 'router' (did you mean 'routers'?)");
	bad("slice: blue\ncolour: red\nrouters: {r1: {}}\n", "2:1:", "colour", "unknown key 'colour'");
	bad(HEAD "  r3:\n    limit: {cpu: 1}\n", "6:5:", "routers.r3.limit", "(did you mean 'limits'?)");
	bad(HEAD "  r3:\n    limits: {memroy: 64M}\n", "6:14:", "routers.r3.limits.memroy",
	    "unknown key 'memroy' (did you mean 'memory'?)");
	bad(HEAD "links:\n  - endpoint: [r1:eth1, r2:eth1]\n", "6:5:", "links[0].endpoint", "(did you mean 'endpoints'?)");
	bad(HEAD "router-defaults:\n  foo: 1\n", "6:3:", "router-defaults.foo", "unknown key 'foo'");
	bad("slice: blue\nrouters: {r1: {}}\nslice: red\n", "3:1:", "slice", "duplicate key 'slice' (first at line 1)");
	bad(HEAD "  r3:\n    limits:\n      cpu: 1\n      cpu: 2\n", "8:7:", "routers.r3.limits.cpu",
	    "duplicate key 'cpu' (first at line 7)");
	bad("? [a]\n: 1\n", "1:", "document", "keys must be plain strings, got a sequence");
	bad("slice: blue\nrouters:\n  ? |\n    r1\n  : {}\n", "4:", "routers", "router names must be plain strings, got a block scalar");

	bad("routers: {r1: {}}\n", "1:1:", "slice", "missing required key 'slice'");
	bad("slice:\nrouters: {r1: {}}\n", "1:1:", "slice", "needs a name");
	bad("slice: blue\nowner: alice\n", "1:1:", "routers", "missing required key 'routers'");
	bad("slice: blue\nrouters: {}\n", "2:10:", "routers", "at least one router is required");
	bad("slice: blue\nrouters:\n", "2:1:", "routers", "at least one router is required");
}

static void test_types(void)
{
	bad("slice: blue\nrouters: [r1, r2]\n", "2:10:", "routers", "expected a mapping of router names to routers, got a sequence");
	bad(HEAD "links: {r1: r2}\n", "5:8:", "links", "expected a sequence of links, got a mapping");
	bad("slice: [a]\nrouters: {r1: {}}\n", "1:8:", "slice", "expected a slice name, got a sequence");
	bad(HEAD "  r3: [a]\n", "5:7:", "routers.r3", "expected a mapping");
	bad(HEAD "  r3:\n    config: {router: ospf}\n", "6:13:", "routers.r3.config", "expected a string");
	bad(HEAD "  r3:\n    loopback: 10.255.0.3/32\n", "6:15:", "routers.r3.loopback",
	    "expected a sequence of addresses, got a string");
	bad(HEAD "links:\n  - r1:eth1\n", "6:5:", "links[0]", "expected a mapping");
	bad(HEAD "links:\n  - endpoints: r1:eth1\n", "6:16:", "links[0].endpoints", "expected a sequence of 2 endpoints");
	bad(HEAD "  r3:\n    limits: 2\n", "6:13:", "routers.r3.limits", "expected a mapping (cpu:, cpu-weight:, memory:, pids:, disk:)");
	bad("slice: &s blue\nowner: *s\nrouters: {r1: {}}\n", "2:8:", "owner", "aliases (*name) are not supported");
	bad("slice: \"bl\\0ue\"\nrouters: {r1: {}}\n", "1:8:", "slice", "contains a NUL character");
	bad(HEAD "description: [a]\n", "5:14:", "description", "expected a string");
}

static void test_names(void)
{
	bad("slice: Blue\nrouters: {r1: {}}\n", "1:8:", "slice", "invalid slice name 'Blue': must start with a lowercase letter");
	bad("slice: blue_1\nrouters: {r1: {}}\n", "1:8:", "slice", "may contain only lowercase letters, digits and '-'");
	bad("slice: abcdefghijklmnop\nrouters: {r1: {}}\n", "1:8:", "slice", "must be at most 15 characters");
	bad("slice: blue-\nrouters: {r1: {}}\n", "1:8:", "slice", "must not end with '-'");
	bad("slice: blue\nrouters:\n  1r: {}\n", "3:3:", "routers.1r", "invalid router name '1r': must start with a lowercase letter");
	bad("slice: blue\nrouters:\n  r.1: {}\n", "3:3:", "routers.r.1", "may contain only lowercase letters, digits and '-'");
	bad(HEAD "links:\n  - endpoints: [r1:eth-1, r2:eth1]\n", "6:17:", "links[0].endpoints[0]",
	    "invalid interface name 'eth-1': may contain only lowercase letters and digits");
	bad(HEAD "links:\n  - endpoints: [r1:eth1, r2:lo]\n", "6:26:", "links[0].endpoints[1]", "'lo' is the loopback");
	bad(HEAD "links:\n  - endpoints: [r1:Eth1, r2:eth1]\n", "6:17:", "links[0].endpoints[0]", "must start with a lowercase letter");
	bad(HEAD "links:\n  - endpoints: [r1:abcdefghijklmnop, r2:eth1]\n", "6:17:", "links[0].endpoints[0]",
	    "must be at most 15 characters");
	bad("slice: longslice\nrouters:\n  router1: {}\n  r2: {}\nlinks:\n  - endpoints: [router1:eth1, r2:eth1]\n",
	    "6:17:", "links[0].endpoints[0]",
	    "host interface name 'longslice.router1.eth1' would be 22 characters; IFNAMSIZ allows 15 "
	    "(shorten the slice, router or interface name)");
	bad(HEAD "  r3: {template: FRR}\n", "5:18:", "routers.r3.template", "invalid template 'FRR'");
	bad(HEAD "owner: Alice\n", "5:8:", "owner", "invalid owner 'Alice'");
	bad(HEAD "  r3: {node: Node1}\n", "5:14:", "routers.r3.node", "invalid node name 'Node1': must start with a lowercase letter");
	bad(HEAD "tunnel: gre\n", "5:9:", "tunnel", "unknown tunnel 'gre' (egre, gretap or vxlan)");
	bad(HEAD "placement: everywhere\n", "5:12:", "placement", "unknown placement 'everywhere' (each-node, spread or pack)");
	bad("slice: blue\nplacement: each-node\nrouters:\n  r1: {}\n  r2: {node: n1}\n", "5:8:", "routers.r2.node",
	    "not allowed with placement: each-node");
	{
		struct trl_slice *s = good("slice: blue\nplacement: each-node\nrouters:\n  r1: {}\n", "placement: each-node");

		ok(s && s->placement == TRL_PLACE_EACH_NODE && s->n_routers == 1, "each-node parses to the template sliver");
		trl_slice_free(s);
		s = good("slice: blue\nplacement: pack\nrouters:\n  r1: {node: any}\n  r2: {}\n", "placement: pack");
		ok(s && s->placement == TRL_PLACE_PACK, "pack parses, node: allowed");
		trl_slice_free(s);
		s = good("slice: blue\nplacement: spread\nrouters:\n  r1: {}\n", "placement: spread");
		ok(s && s->placement == TRL_PLACE_SPREAD, "spread parses");
		trl_slice_free(s);
	}
	bad(HEAD "owner: 99999999999\n", "5:8:", "owner", "uid 99999999999 is out of range");
	bad("slice: blue\nrouters:\n  r1: {}\n  r2: {}\n  r1: {}\n", "5:3:", "routers.r1",
	    "duplicate router 'r1' (first defined at line 3)");
}

static void test_endpoints(void)
{
	bad(HEAD "links:\n  - endpoints: [r1eth1, r2:eth1]\n", "6:17:", "links[0].endpoints[0]",
	    "expected router:ifname (e.g. r1:eth1), got 'r1eth1'");
	bad(HEAD "links:\n  - endpoints: [r1:eth1:x, r2:eth1]\n", "6:17:", "links[0].endpoints[0]", "expected router:ifname");
	bad(HEAD "links:\n  - endpoints: [r1:eth1, r3:eth1]\n", "6:26:", "links[0].endpoints[1]", "router 'r3' is not defined");
	bad(HEAD "links:\n  - endpoints: [averyveryverylongrouter:eth1, r3:eth1]\n", "6:17:", "links[0].endpoints[0]",
	    "is not defined");
	bad(HEAD "links:\n  - endpoints: [r1:eth1, r1:eth1]\n", "6:26:", "links[0].endpoints[1]",
	    "both endpoints are 'r1:eth1'");
	bad(HEAD LINK "  - endpoints: [r1:eth1, r2:eth2]\n", "7:17:", "links[1].endpoints[0]",
	    "interface 'r1:eth1' is already used by links[0] (r1:eth1-r2:eth1)");
	bad(HEAD "links:\n  - endpoints: [r1:eth1, r2:eth1, r2:eth2]\n", "6:16:", "links[0].endpoints",
	    "expected 2 endpoints (router:ifname), got 3");
	bad(HEAD "links:\n  - rate: 10mbit\n", "6:5:", "links[0].endpoints", "missing required key 'endpoints'");
}

static void test_addresses(void)
{
	bad(HEAD LINK "    ipv4: [10.0.12.1, 10.0.12.2/24]\n", "7:12:", "links[0].ipv4[0]", "'10.0.12.1' has no prefix length");
	bad(HEAD LINK "    ipv4: [10.0.12.1/24, 10.0.12.2/33]\n", "7:26:", "links[0].ipv4[1]", "has a bad prefix length (0-32 for IPv4)");
	bad(HEAD LINK "    ipv4: [10.0.12.1/x, 10.0.12.2/24]\n", "7:12:", "links[0].ipv4[0]", "has a bad prefix length");
	bad(HEAD LINK "    ipv4: [10.0.12.300/24, 10.0.12.2/24]\n", "7:12:", "links[0].ipv4[0]", "'10.0.12.300/24' is not an IPv4 address");
	bad(HEAD LINK "    ipv4: [\"fd00::1/64\", \"fd00::2/64\"]\n", "7:12:", "links[0].ipv4[0]",
	    "'fd00::1/64' is an IPv6 address; ipv4: takes IPv4 addresses");
	bad(HEAD LINK "    ipv6: [10.0.12.1/24, 10.0.12.2/24]\n", "7:12:", "links[0].ipv6[0]", "is an IPv4 address; ipv6: takes IPv6");
	bad(HEAD LINK "    ipv4: [10.0.12.1/24]\n", "7:11:", "links[0].ipv4", "expected 2 addresses (one per endpoint");
	bad(HEAD LINK "    ipv4: 10.0.12.1/24\n", "7:11:", "links[0].ipv4", "expected a sequence of 2 IPv4 addresses");
	bad(HEAD LINK "    ipv4: [10.0.12.1/24, 10.0.13.2/24]\n", "7:26:", "links[0].ipv4[1]",
	    "'10.0.13.2/24' is not in the same subnet as '10.0.12.1/24' (10.0.12.0/24)");
	bad(HEAD LINK "    ipv4: [10.0.12.1/24, 10.0.12.2/25]\n", "7:26:", "links[0].ipv4[1]", "different prefix length");
	bad(HEAD LINK "    ipv4: [10.0.12.1/24, 10.0.12.1/24]\n", "7:26:", "links[0].ipv4[1]", "is also the address of the other end");
	bad(HEAD LINK "    ipv4: [10.0.12.0/24, 10.0.12.2/24]\n", "7:12:", "links[0].ipv4[0]",
	    "'10.0.12.0/24' is the network address of 10.0.12.0/24");
	bad(HEAD LINK "    ipv4: [10.0.12.1/24, 10.0.12.255/24]\n", "7:26:", "links[0].ipv4[1]",
	    "'10.0.12.255/24' is the broadcast address of 10.0.12.0/24");
	bad(HEAD LINK "    ipv6: [\"fd00:12::/64\", \"fd00:12::2/64\"]\n", "7:12:", "links[0].ipv6[0]", "subnet-router anycast");
	bad(HEAD LINK "    ipv4: [10.0.12.1/24, 10.0.12.2/24]\n  - endpoints: [r1:eth2, r2:eth2]\n    ipv4: [10.0.12.5/25, 10.0.12.6/25]\n",
	    "9:12:", "links[1].ipv4[0]", "subnet 10.0.12.0/25 overlaps links[0] (10.0.12.0/24)");
	bad("slice: blue\nrouters:\n  r1:\n    loopback: [10.0.12.1/32]\n  r2: {}\n" LINK "    ipv4: [10.0.12.1/24, 10.0.12.2/24]\n",
	    "4:16:", "routers.r1.loopback[0]", "'10.0.12.1/32' overlaps the subnet of links[0] r1:eth1-r2:eth1 (10.0.12.0/24)");
	bad("slice: blue\nrouters:\n  r1:\n    loopback: [10.255.0.1/32]\n  r2:\n    loopback: [10.255.0.1/32]\n",
	    "6:16:", "routers.r2.loopback[0]", "duplicate loopback address '10.255.0.1/32' (also routers.r1.loopback[0])");
	bad("slice: blue\nrouters:\n  r1:\n    loopback: [10.255.0.0/16, 10.255.0.1/32]\n", "4:31:", "routers.r1.loopback[1]",
	    "'10.255.0.1/32' overlaps routers.r1.loopback[0] (10.255.0.0/16)");
	bad("slice: blue\nrouters:\n  r1:\n    loopback: [10.255.0.1]\n", "4:16:", "routers.r1.loopback[0]", "has no prefix length");
	bad("slice: blue\nrouters:\n  r1:\n    loopback: [a/b/c/32]\n", "4:16:", "routers.r1.loopback[0]", "is not an IPv4 or IPv6 address");
	bad("slice: blue\nrouters:\n  r1:\n    loopback: [10.0.0.1/32, 10.0.0.2/32, 10.0.0.3/32, 10.0.0.4/32, 10.0.0.5/32,"
	    " 10.0.0.6/32, 10.0.0.7/32, 10.0.0.8/32, 10.0.0.9/32]\n",
	    "4:15:", "routers.r1.loopback", "too many addresses (9; at most 8)");
}

static void test_rates_limits(void)
{
	bad(HEAD LINK "    rate: 10kbs\n", "7:11:", "links[0].rate", "'10kbs' is not a rate (try 10mbit)");
	bad(HEAD LINK "    rate: 0\n", "7:11:", "links[0].rate", "rate '0' is zero");
	bad(HEAD LINK "    rate: 5tbit\n", "7:11:", "links[0].rate", "is above 1Tbit");
	bad(HEAD LINK "    ceil: 10mbit\n", "7:11:", "links[0].ceil", "ceil needs a rate:");
	bad(HEAD LINK "    rate: 20mbit\n    ceil: 10mbit\n", "8:11:", "links[0].ceil", "ceil 10Mbit is below the rate 20Mbit");
	bad(HEAD LINK "    rate: 1mbit\n    burst: 100\n", "8:12:", "links[0].burst",
	    "burst '100' is outside 1600 bytes (one frame) .. 1G");
	bad(HEAD LINK "    burst: 32k\n", "7:12:", "links[0].burst", "burst needs a rate:");
	bad(HEAD LINK "    loss: 150%\n", "7:11:", "links[0].loss", "loss '150%' is above 100%");
	bad(HEAD LINK "    loss: lots\n", "7:11:", "links[0].loss", "'lots' is not a share (try 1% or 0.01)");
	bad(HEAD LINK "    delay: 10\n", "7:12:", "links[0].delay", "'10' is not a time (try 10ms; units s, ms, us)");
	bad(HEAD LINK "    delay: 2min\n", "7:12:", "links[0].delay", "'2min' is not a time");
	bad(HEAD LINK "    delay: 61s\n", "7:12:", "links[0].delay", "delay '61s' is above 60s");
	bad(HEAD LINK "    jitter: 1ms\n", "7:13:", "links[0].jitter", "jitter needs a delay:");
	bad(HEAD LINK "    delay: 1ms\n    jitter: 2ms\n", "8:13:", "links[0].jitter", "jitter is larger than the delay");
	bad("slice: blue\nbandwidth: fast\nrouters: {r1: {}}\n", "2:12:", "bandwidth", "'fast' is not a rate (try 10mbit)");
	bad("slice: blue\nbandwidth: {ceil: 1mbit}\nrouters: {r1: {}}\n", "2:12:", "bandwidth.rate", "missing required key 'rate'");
	bad("slice: blue\nbandwidth: {rate: 20mbit, ceil: 10mbit}\nrouters: {r1: {}}\n", "2:33:", "bandwidth.ceil",
	    "ceil 10Mbit is below the rate 20Mbit");
	bad("slice: blue\nbandwidth: {rate: 1mbit, burst: 1}\nrouters: {r1: {}}\n", "2:", "bandwidth.burst", "unknown key 'burst'");
	{
		struct trl_slice *s = good("slice: blue\nbandwidth: {rate: 50mbit, ceil: 80mbit}\nrouters: {r1: {}, r2: {}}\n"
					   "links:\n  - endpoints: [r1:eth1, r2:eth1]\n    rate: 10mbit\n    ceil: 20mbit\n"
					   "    burst: 64k\n    loss: 0.5%\n    delay: 10ms\n    jitter: 1500us\n",
					   "bandwidth and every link shaping key");

		ok(s && s->bw_rate == 50000000 && s->bw_ceil == 80000000, "bandwidth rate and ceil");
		ok(s && s->links[0].shape.rate == 10000000 && s->links[0].shape.ceil == 20000000 &&
			   s->links[0].shape.burst == 65536,
		   "link rate, ceil, burst");
		ok(s && s->links[0].shape.loss_ppm == 5000 && s->links[0].shape.delay_us == 10000 &&
			   s->links[0].shape.jitter_us == 1500,
		   "link loss 0.5%% = 5000 ppm, delay 10ms, jitter 1500us");
		trl_slice_free(s);
		s = good("slice: blue\nbandwidth: 1gbit\nrouters: {r1: {}}\n", "bandwidth as a plain rate");
		ok(s && s->bw_rate == 1000000000 && s->bw_ceil == 0, "bandwidth: 1gbit, no ceil");
		trl_slice_free(s);
	}
	bad(HEAD "  r3: {limits: {cpu: 0}}\n", "5:22:", "routers.r3.limits.cpu", "cpu must be more than 0");
	bad(HEAD "  r3: {limits: {cpu: 2000}}\n", "5:22:", "routers.r3.limits.cpu", "more than the 1024 allowed");
	bad(HEAD "  r3: {limits: {cpu: half}}\n", "5:22:", "routers.r3.limits.cpu", "'half' is not a number of cores");
	bad(HEAD "  r3: {limits: {memory: 8M}}\n", "5:25:", "routers.r3.limits.memory", "below the 16M a router needs");
	bad(HEAD "  r3: {limits: {memory: 0}}\n", "5:25:", "routers.r3.limits.memory", "below the 16M a router needs");
	bad(HEAD "  r3: {limits: {memory: 12X}}\n", "5:25:", "routers.r3.limits.memory", "'12X' is not a size (try 256M)");
	bad(HEAD "  r3: {limits: {memory: 5P}}\n", "5:25:", "routers.r3.limits.memory", "too large");
	bad(HEAD "  r3: {limits: {pids: 8}}\n", "5:23:", "routers.r3.limits.pids", "pids 8 is below");
	bad(HEAD "  r3: {limits: {pids: 5000000}}\n", "5:23:", "routers.r3.limits.pids", "above 4194304");
	bad(HEAD "  r3: {limits: {pids: 1.5}}\n", "5:23:", "routers.r3.limits.pids", "'1.5' is not a whole number");
	bad(HEAD "router-defaults:\n  limits: {memory: 1M}\n", "6:20:", "router-defaults.limits.memory", "below the 16M");
}

static void test_slice_limits(void)
{
	struct trl_slice *s;
	struct trl_limits l;

	bad(HEAD "  r3: {limits: {cpu-weight: 0}}\n", "5:29:", "routers.r3.limits.cpu-weight", "outside 1..10000");
	bad(HEAD "  r3: {limits: {cpu-weight: 10001}}\n", "5:29:", "routers.r3.limits.cpu-weight", "outside 1..10000");
	bad(HEAD "  r3: {limits: {cpu-weight: 1.5}}\n", "5:29:", "routers.r3.limits.cpu-weight", "'1.5' is not a whole number");
	bad(HEAD "  r3: {limits: {cpu-weight: -5}}\n", "5:29:", "routers.r3.limits.cpu-weight", "not a whole number");
	bad(HEAD "  r3: {limits: {cpu: 0.001}}\n", "5:22:", "routers.r3.limits.cpu", "below the 0.01");
	bad(HEAD "limits: {cpu-wieght: 5}\n", "5:10:", "limits.cpu-wieght", "(did you mean 'cpu-weight'?)");
	bad(HEAD "limits: 1G\n", "5:9:", "limits", "expected a mapping (cpu:, cpu-weight:, memory:, pids:, disk:)");
	bad(HEAD "limits: {cpu: 0}\n", "5:15:", "limits.cpu", "cpu must be more than 0");
	/* A router above its slice's aggregate, the key order not mattering. */
	bad("slice: blue\nlimits: {cpu: 1.5}\nrouters:\n  r1: {limits: {cpu: 2}}\n", "4:22:", "routers.r1.limits.cpu",
	    "2 cores is more than the slice's limits.cpu (1.5)");
	bad("slice: blue\nrouters:\n  r1: {limits: {memory: 2G}}\nlimits: {memory: 1G}\n", "3:25:",
	    "routers.r1.limits.memory", "memory '2G' is more than the slice's limits.memory (1G)");
	bad("slice: blue\nrouters:\n  r1: {limits: {pids: 3000}}\nlimits: {pids: 2000}\n", "3:23:", "routers.r1.limits.pids",
	    "pids 3000 is more than the slice's limits.pids (2000)");
	bad("slice: blue\nlimits: {cpu: 1}\nrouter-defaults:\n  limits: {cpu: 1.5}\nrouters:\n  r1: {}\n", "4:17:",
	    "router-defaults.limits.cpu", "1.5 cores is more than the slice's limits.cpu (1)");
	bad("slice: blue\nlimits: {memory: 40M}\nrouters:\n  r1: {}\n  r2: {}\n  r3: {}\n", "2:18:", "limits.memory",
	    "memory '40M' cannot hold the 3 routers (each needs at least 16M)");
	bad("slice: blue\nlimits: {pids: 40}\nrouters:\n  r1: {node: n1}\n  r2: {node: n1}\n  r3: {node: n1}\n  r4: {node: n2}\n",
	    "2:16:", "limits.pids", "pids 40 cannot hold the 3 routers placed on node 'n1' (each needs at least 16)");

	{
		struct trl_limits v = { 0 };
		char why[256];

		ok(spec_limit_parse("cpu", "0.25", &v, why, sizeof(why)) == 0 && v.cpu == 0.25, "spec_limit_parse: cpu 0.25");
		ok(spec_limit_parse("cpu", "0.3", &v, why, sizeof(why)) == 0 && v.cpu == 0.3,
		   "spec_limit_parse: cpu 0.3 is the double nearest 0.3 (not 3 * 0.1)");
		ok(spec_limit_parse("memory", "1G", &v, why, sizeof(why)) == 0 && v.memory == 1ULL << 30,
		   "spec_limit_parse: memory 1G");
		ok(spec_limit_parse("cpu-weight", "200", &v, why, sizeof(why)) == 0 && v.cpu_weight == 200,
		   "spec_limit_parse: cpu-weight 200");
		ok(spec_limit_parse("pids", "8", &v, why, sizeof(why)) == -EINVAL && strstr(why, "below the 16") &&
			   v.pids == 0,
		   "spec_limit_parse: pids 8 refused, value untouched");
		ok(spec_limit_parse("bandwith", "1", &v, why, sizeof(why)) == -ENOENT && strstr(why, "unknown limit"),
		   "spec_limit_parse: unknown field");
	}
	s = good("slice: blue\nlimits: {cpu: 1.5, cpu-weight: 200, memory: 1G, pids: 2000}\n"
		 "router-defaults:\n  limits: {cpu: 0.5, cpu-weight: 50}\n"
		 "routers:\n  r1: {limits: {cpu: 1.5, cpu-weight: 300, memory: 1G}}\n  r2: {}\n",
		 "slice aggregate limits and cpu-weight everywhere");
	if (s) {
		ok(s->limits.cpu == 1.5 && s->limits.cpu_weight == 200 && s->limits.memory == 1ULL << 30 &&
			   s->limits.pids == 2000,
		   "slice limits parsed");
		l = trl_router_limits(s, trl_slice_router(s, "r1"));
		ok(l.cpu == 1.5 && l.cpu_weight == 300 && l.memory == 1ULL << 30 && l.pids == 0,
		   "r1: own cpu, weight and memory; the slice's aggregate is not a default");
		l = trl_router_limits(s, trl_slice_router(s, "r2"));
		ok(l.cpu == 0.5 && l.cpu_weight == 50 && l.memory == 0, "r2: cpu and weight from router-defaults");
		trl_slice_free(s);
	} else {
		ok(0, "slice limits parsed");
		ok(0, "r1 limits");
		ok(0, "r2 limits");
	}
}

/* disk: a router's rootfs of its own; per router and in router-defaults only. */
static void test_disk(void)
{
	struct trl_slice *s;
	struct trl_limits l, v = { 0 };
	char why[256];

	s = good("slice: blue\nrouter-defaults:\n  limits: {disk: 64M}\n"
		 "routers:\n  r1: {limits: {disk: 1.5G}}\n  r2: {}\n  r3: {limits: {disk: 16MiB, memory: 32M}}\n",
		 "disk per router and in router-defaults");
	if (s) {
		l = trl_router_limits(s, trl_slice_router(s, "r1"));
		ok(l.disk == 3ULL << 29, "r1: own disk 1.5G");
		l = trl_router_limits(s, trl_slice_router(s, "r2"));
		ok(l.disk == 64ULL << 20, "r2: disk 64M from router-defaults");
		l = trl_router_limits(s, trl_slice_router(s, "r3"));
		ok(l.disk == 16ULL << 20 && l.memory == 32ULL << 20, "r3: disk at the 16M minimum, with memory");
		ok(s->limits.disk == 0, "no slice aggregate disk");
		trl_slice_free(s);
	} else {
		ok(0, "r1 disk");
		ok(0, "r2 disk");
		ok(0, "r3 disk");
		ok(0, "no slice aggregate disk");
	}
	s = good("slice: blue\nrouters:\n  r1: {limits: {disk: 1T}}\n", "disk at the 1T maximum");
	ok(s && s->routers[0].limits.disk == 1ULL << 40, "disk 1T");
	trl_slice_free(s);

	bad(HEAD "  r3: {limits: {disk: 8M}}\n", "5:23:", "routers.r3.limits.disk",
	    "disk '8M' is below the 16M a router's rootfs needs (its ext4 metadata and the private /etc and /var)");
	bad(HEAD "  r3: {limits: {disk: 0}}\n", "5:23:", "routers.r3.limits.disk",
	    "disk '0' is below the 16M a router's rootfs needs");
	bad(HEAD "  r3: {limits: {disk: 16777215}}\n", "5:23:", "routers.r3.limits.disk",
	    "disk '16777215' is below the 16M");
	bad(HEAD "  r3: {limits: {disk: 1025G}}\n", "5:23:", "routers.r3.limits.disk",
	    "disk '1025G' is above the 1T a router's rootfs may have");
	bad(HEAD "  r3: {limits: {disk: 5P}}\n", "5:23:", "routers.r3.limits.disk",
	    "disk '5P' is above the 1T a router's rootfs may have");
	bad(HEAD "  r3: {limits: {disk: lots}}\n", "5:23:", "routers.r3.limits.disk", "'lots' is not a size (try 256M)");
	bad(HEAD "  r3: {limits: {disk: 64Mbit}}\n", "5:23:", "routers.r3.limits.disk", "'64Mbit' is not a size (try 256M)");
	bad(HEAD "  r3: {limits: {disk: [64M]}}\n", "5:23:", "routers.r3.limits.disk", "a size");
	bad(HEAD "router-defaults:\n  limits: {disk: 1M}\n", "6:18:", "router-defaults.limits.disk",
	    "disk '1M' is below the 16M a router's rootfs needs");
	bad("slice: blue\nlimits: {disk: 1G}\nrouters:\n  r1: {}\n", "2:16:", "limits.disk",
	    "disk is per router, a slice has no aggregate disk (set it for every router in router-defaults: limits:)");
	bad(HEAD "  r3: {limits: {disc: 1G}}\n", "5:17:", "routers.r3.limits.disc", "unknown key 'disc' (did you mean 'disk'?)");

	ok(spec_limit_parse("disk", "64M", &v, why, sizeof(why)) == 0 && v.disk == 64ULL << 20,
	   "spec_limit_parse: disk 64M");
	ok(spec_limit_parse("disk", "2T", &v, why, sizeof(why)) == -EINVAL && v.disk == 64ULL << 20 &&
		   !strcmp(why, "disk '2T' is above the 1T a router's rootfs may have"),
	   "spec_limit_parse: disk 2T refused with the exact reason, value untouched");
}

static void test_config(void)
{
	struct trl_slice *s = NULL;
	struct trl_error err;
	const char *y = HEAD "  r3: {config-file: r1.conf}\n";
	int r;

	bad(HEAD "  r3: {config-file: missing.conf}\n", "5:21:", "routers.r3.config-file",
	    "cannot read config file 'missing.conf': No such file or directory");
	bad(HEAD "  r3: {config-file: secret.conf}\n", "5:21:", "routers.r3.config-file", "Permission denied");
	bad(HEAD "  r3: {config: \"router ospf\", config-file: r1.conf}\n", "5:31:", "routers.r3.config-file",
	    "config and config-file are mutually exclusive");
	bad(HEAD "  r3: {config-file: /etc/frr/frr.conf}\n", "5:21:", "routers.r3.config-file", "is absolute");
	bad(HEAD "  r3: {config-file: conf/../../x.conf}\n", "5:21:", "routers.r3.config-file", "must not contain '..' components");
	bad(HEAD "  r3: {daemons: [ospf]}\n", "5:18:", "routers.r3.daemons[0]", "unknown daemon 'ospf' (did you mean 'ospfd'?)");
	bad(HEAD "  r3: {daemons: [quagga]}\n", "5:18:", "routers.r3.daemons[0]", "unknown daemon 'quagga' (known: bgpd");
	bad(HEAD "  r3: {daemons: [ospfd, bgpd, ospfd]}\n", "5:31:", "routers.r3.daemons[2]", "duplicate daemon 'ospfd'");
	bad(HEAD "  r3: {daemons: ospfd}\n", "5:17:", "routers.r3.daemons", "expected a sequence of FRR daemon names");
	bad(HEAD "  r3: {template: plain, config: \"router ospf\"}\n", "5:25:", "routers.r3.config",
	    "template 'plain' runs no routing stack");
	bad(HEAD "  r3: {template: plain, daemons: []}\n", "5:25:", "routers.r3.daemons", "template 'plain' runs no routing stack");
	bad("slice: blue\nrouter-defaults: {template: plain}\nrouters:\n  r1: {config-file: r1.conf}\n", "4:8:",
	    "routers.r1.config-file", "template 'plain' runs no routing stack");
	bad(HEAD "  r3: {template: bird, daemons: [bgpd]}\n", "5:24:", "routers.r3.daemons",
	    "template 'bird' runs BIRD, configured by config: alone");

	r = spec_parse(y, strlen(y), "t.yaml", NULL, NULL, &s, &err);
	ok(r == -TRL_EINVALID && !s && strstr(err.msg, "t.yaml:5:21: routers.r3.config-file: ") &&
		   strstr(err.msg, "no files were supplied"),
	   "config-file without a resolver is an error");
}

static void test_limits_counts(void)
{
	size_t cap = 64 + (TRL_MAX_ROUTERS + 1) * 16 + 64;
	char *y = malloc(cap > (TRL_MAX_LINKS + 1) * 8 + 128 ? cap : (TRL_MAX_LINKS + 1) * 8 + 128);
	size_t n;

	if (!y) {
		ok(0, "malloc");
		return;
	}
	n = (size_t)sprintf(y, "slice: blue\nrouters:\n");
	for (int i = 0; i <= TRL_MAX_ROUTERS; i++)
		n += (size_t)sprintf(y + n, "  r%d:\n", i);
	bad(y, "3:3:", "routers", "too many routers (1025; at most 1024)");

	n = (size_t)sprintf(y, "slice: blue\nrouters: {r1: }\nlinks:\n");
	for (int i = 0; i <= TRL_MAX_LINKS; i++)
		n += (size_t)sprintf(y + n, "  - {}\n");
	bad(y, "4:", "links", "too many links (4097; at most 4096)");
	free(y);
}

static void test_good(void)
{
	struct trl_slice *s;
	struct trl_limits l;
	struct trl_router *r;

	s = good("slice: blue\n"
		 "owner: alice\n"
		 "description: \"test slice\"\n"
		 "router-defaults:\n"
		 "  limits: {cpu: 0.5, memory: 256M, pids: 512}\n"
		 "routers:\n"
		 "  r1:\n"
		 "    daemons: [zebra, ospfd, staticd, bgpd]\n"
		 "    loopback: [10.255.0.1/32, \"FD00::1/128\"]\n"
		 "    limits: {memory: 128M}\n"
		 "    config: |\n"
		 "      router ospf\n"
		 "       network 10.0.0.0/8 area 0\n"
		 "  r2:\n"
		 "    config-file: conf/r1.conf\n"
		 "  r3:\n"
		 "    template: plain\n"
		 "  r4:\n"
		 "    config: |\n"
		 "      router ospf6\n"
		 "      !\n"
		 "        router isis x\n"
		 "      bfd\n"
		 "       peer 10.0.0.1\n"
		 "      router openfabric 1\n"
		 "      router bgpx\n"
		 "      ! router rip\n"
		 "  r5:\n"
		 "    daemons: []\n"
		 "    config: \"router bgp 1\"\n"
		 "    node: n2\n"
		 "  r6:\n"
		 "    config: |\n"
		 "      interface eth1\n"
		 "       ip ospf area 0\n"
		 "       ipv6 ospf6 area 0\n"
		 "       ip router isis x\n"
		 "      ip route 10.9.0.0/16 Null0\n"
		 "tunnel: vxlan\n"
		 "links:\n"
		 "  - endpoints: [r1:eth1, r2:eth1]\n"
		 "    ipv4: [10.0.12.1/24, 10.0.12.2/24]\n"
		 "    ipv6: [\"fd00:12::1/64\", \"fd00:12::2/64\"]\n"
		 "    rate: 10mbit\n"
		 "  - endpoints: [r1:eth2, r1:eth3]\n"
		 "    ipv4: [10.0.0.0/31, 10.0.0.1/31]\n"
		 "  - endpoints: [r3:eth1, r4:eth1]\n",
		 "a spec using every key");
	if (!s) {
		ok(0, "(skipped checks)");
		return;
	}
	is_str(s->name, "blue", "slice name");
	is_str(s->owner, "alice", "owner");
	is_str(s->description, "test slice", "description");
	is_int(s->n_routers, 6, "6 routers");
	is_str(s->tunnel, "vxlan", "tunnel");
	is_int(s->n_links, 3, "3 links");
	r = trl_slice_router(s, "r1");
	ok(r && !strcmp(r->template_name, "frr"), "default template is frr");
	ok(r && r->n_daemons == 3 && !strcmp(r->daemons[0], "ospfd") && !strcmp(r->daemons[1], "staticd") &&
		   !strcmp(r->daemons[2], "bgpd"),
	   "explicit daemons kept in order, zebra (always run) not stored");
	ok(r && r->n_loopback == 2 && !strcmp(r->loopback[1].text, "fd00::1/128") && r->loopback[1].family == AF_INET6,
	   "loopbacks parsed and canonicalized");
	ok(r && r->config && !strcmp(r->config, "router ospf\n network 10.0.0.0/8 area 0\n") && !r->config_file,
	   "inline config kept verbatim");
	ok(r && r->mark.line == 7 && r->mark.col == 3, "router mark points at its name (7:3)");
	if (r) {
		l = trl_router_limits(s, r);
		ok(l.cpu == 0.5 && l.memory == 128ULL << 20 && l.pids == 512, "limits: own memory, inherited cpu and pids");
	} else {
		ok(0, "limits");
	}
	r = trl_slice_router(s, "r2");
	ok(r && r->config_file && !strcmp(r->config_file, "conf/r1.conf") && r->config &&
		   !strncmp(r->config, "router bgp 65001", 16),
	   "config-file resolved");
	ok(r && r->n_daemons == 1 && !strcmp(r->daemons[0], "bgpd"), "bgpd inferred from config-file text");
	r = trl_slice_router(s, "r3");
	ok(r && !strcmp(r->template_name, "plain") && r->n_daemons == 0 && !r->config, "plain router");
	r = trl_slice_router(s, "r4");
	ok(r && r->n_daemons == 4 && !strcmp(r->daemons[0], "ospf6d") && !strcmp(r->daemons[1], "isisd") &&
		   !strcmp(r->daemons[2], "bfdd") && !strcmp(r->daemons[3], "fabricd"),
	   "daemons inferred: ospf6d isisd bfdd fabricd (not ospfd, bgpd or ripd)");
	r = trl_slice_router(s, "r5");
	ok(r && r->n_daemons == 0, "daemons: [] means no inference");
	ok(r && !strcmp(r->node, "n2") && !s->routers[0].node[0], "router node (default: none)");
	r = trl_slice_router(s, "r6");
	ok(r && r->n_daemons == 4 && !strcmp(r->daemons[0], "ospfd") && !strcmp(r->daemons[1], "ospf6d") &&
		   !strcmp(r->daemons[2], "isisd") && !strcmp(r->daemons[3], "staticd"),
	   "daemons inferred from interface commands and static routes: ospfd ospf6d isisd staticd");
	is_str(s->links[0].name, "r1:eth1-r2:eth1", "link name derived");
	ok(s->links[0].ep[0].n_addrs == 2 && !strcmp(s->links[0].ep[0].addrs[0].text, "10.0.12.1/24") &&
		   !strcmp(s->links[0].ep[0].addrs[1].text, "fd00:12::1/64") &&
		   !strcmp(s->links[0].ep[1].addrs[0].text, "10.0.12.2/24"),
	   "endpoint addresses: ipv4 then ipv6, in endpoint order");
	ok(s->links[0].shape.rate == 10000000, "rate 10mbit");
	ok(s->links[0].mark.line == 41, "link mark points at the link (line 41)");
	ok(s->links[1].ep[0].n_addrs == 1 && s->links[1].shape.rate == 0, "a /31 link may use both addresses; no rate = unshaped");
	ok(s->links[2].ep[0].n_addrs == 0, "a link without addresses");
	trl_slice_free(s);

	s = good("slice: u\nowner: \"1000\"\nrouters:\n  r1:\n", "numeric owner, router with no body");
	ok(s && !strcmp(s->owner, "1000") && !strcmp(s->routers[0].template_name, "frr"), "defaults for an empty router");
	trl_slice_free(s);

	s = good("slice: d\nrouter-defaults: {template: plain}\nrouters: {r1: {}, r2: {template: frr, config: \"router rip\"}}\n",
		 "router-defaults template");
	ok(s && !strcmp(s->routers[0].template_name, "plain") && !strcmp(s->routers[1].template_name, "frr") &&
		   s->routers[1].n_daemons == 1 && !strcmp(s->routers[1].daemons[0], "ripd"),
	   "router-defaults template applies unless a router sets its own");
	trl_slice_free(s);

	/* A BIRD config that reads like FRR lines ("bfd", "ip route") starts no FRR daemons. */
	s = good("slice: b\nrouters:\n  r1:\n    template: bird\n    config: |\n      bfd\n      ip route x;\n"
		 "      protocol device {}\n",
		 "bird router");
	ok(s && !strcmp(s->routers[0].template_name, "bird") && s->routers[0].n_daemons == 0 && s->routers[0].config &&
		   strstr(s->routers[0].config, "protocol device {}"),
	   "a bird router keeps its config and infers no FRR daemons");
	trl_slice_free(s);

	s = good("{\"slice\": \"j\", \"routers\": {\"r1\": {\"template\": \"my-tmpl\"}}}", "JSON-style flow spec, custom template");
	ok(s && !strcmp(s->routers[0].template_name, "my-tmpl"), "custom template name kept");
	trl_slice_free(s);
}

static void test_referenced_files(void)
{
	struct trl_error err;
	char **names = NULL;
	const char *y = "slice: x\nrouters:\n  r1: {config-file: a.conf}\n  r2: {config: x}\n"
			"  r3: {config-file: b.conf}\n  r4: {config-file: a.conf}\n  r5:\n  r6: {config-file: [x]}\n";
	int n;

	n = spec_referenced_files(y, strlen(y), &names, &err);
	ok(n == 2 && names && !strcmp(names[0], "a.conf") && !strcmp(names[1], "b.conf") && !names[2],
	   "referenced files listed once each, in order");
	spec_free_names(names);

	n = spec_referenced_files("slice: x\n", 9, &names, &err);
	ok(n == 0 && names && !names[0], "no referenced files");
	spec_free_names(names);

	n = spec_referenced_files("a: [\n", 5, &names, &err);
	ok(n == -TRL_EINVALID && !names && strstr(err.msg, "syntax error"), "YAML error reported");

	n = spec_referenced_files("", 0, &names, &err);
	ok(n == 0 && names && !names[0], "empty text: no files");
	spec_free_names(names);
}

static void test_examples(void)
{
	static const char *const files[] = { "ospf-pair.yaml", "ospf-ring.yaml", "bgp-triangle.yaml" };
	const char *dir = TRL_SRCDIR "/examples";

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		struct trl_slice *s = NULL;
		struct trl_error err;
		char path[4096], *text = NULL;
		size_t len = 0;
		int r;

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		r = util_read_file(path, 4 << 20, &text, &len);
		if (r < 0) {
			ok(0, "read %s: %s", path, strerror(-r));
			continue;
		}
		trl_error_clear(&err);
		r = spec_parse(text, len, files[i], dir_resolve, (void *)dir, &s, &err);
		if (!ok(r == 0 && s, "example %s parses", files[i]))
			printf("#   %s\n", err.msg);
		if (s && !strcmp(files[i], "ospf-pair.yaml"))
			ok(s->n_routers == 2 && s->n_links == 1 && s->routers[1].config_file &&
				   s->routers[0].n_daemons == 1 && !strcmp(s->routers[0].daemons[0], "ospfd") &&
				   s->routers[1].n_daemons == 1 && !strcmp(s->routers[1].daemons[0], "ospfd"),
			   "ospf-pair: 2 routers running ospfd, r2's config from a file");
		if (s && !strcmp(files[i], "ospf-ring.yaml"))
			ok(s->n_routers == 4 && s->n_links == 4 && s->links[1].shape.rate == 100000000,
			   "ospf-ring: 4 routers, 4 links, one shaped");
		if (s && !strcmp(files[i], "bgp-triangle.yaml"))
			ok(s->n_routers == 3 && s->n_links == 3 && s->routers[2].n_daemons == 1 &&
				   !strcmp(s->routers[2].daemons[0], "bgpd"),
			   "bgp-triangle: 3 routers running bgpd");
		trl_slice_free(s);
		free(text);
	}
}

/* Every prefix and many single-byte corruptions of a real spec: no crash, and a message on error. */
static void test_robustness(void)
{
	char path[4096], *text = NULL, *buf;
	static const char junk[] = { '\0', ':', '-', '[', '{', '"', '\'', '&', '*', '!', '|', '\n', ' ', '\t', '#', 'x', '9', '/', '.' };
	size_t len = 0, bad_msgs = 0, runs = 0;

	snprintf(path, sizeof(path), "%s/examples/ospf-pair.yaml", TRL_SRCDIR);
	if (util_read_file(path, 4 << 20, &text, &len) < 0) {
		ok(0, "read %s", path);
		return;
	}
	buf = malloc(len + 1);
	if (!buf) {
		free(text);
		ok(0, "malloc");
		return;
	}
	for (size_t cut = 0; cut <= len; cut++) {
		for (size_t j = 0; j <= ARRAY_SIZE(junk); j++) {
			struct trl_slice *s = NULL;
			struct trl_error err;
			int r;

			memcpy(buf, text, len + 1);
			if (j < ARRAY_SIZE(junk)) {
				if (cut == len || cut % 3)
					continue;
				buf[cut] = junk[j];
				r = spec_parse(buf, len, "f.yaml", dir_resolve, TRL_SRCDIR "/examples", &s, &err);
			} else {
				r = spec_parse(buf, cut, "f.yaml", dir_resolve, TRL_SRCDIR "/examples", &s, &err);
			}
			runs++;
			if (r < 0 && (s || strncmp(err.msg, "f.yaml:", 7)))
				bad_msgs++;
			trl_slice_free(s);
		}
	}
	ok(bad_msgs == 0, "%zu truncated or corrupted specs: no crash, every error starts with file:line:col", runs);
	free(buf);
	free(text);
}

int main(void)
{
	test_document();
	test_keys();
	test_types();
	test_names();
	test_endpoints();
	test_addresses();
	test_rates_limits();
	test_slice_limits();
	test_disk();
	test_config();
	test_limits_counts();
	test_good();
	test_referenced_files();
	test_examples();
	test_robustness();
	plan(tap_n);
	return done();
}
