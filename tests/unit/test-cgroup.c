/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for trellisd/cgroup.c's mapping of trellis limits to cgroup
 * files, v1 and v2, both ways: the file names, the text written, what reads
 * back as which value (including each layout's "no limit"), every cpu-weight
 * surviving the v1 shares round trip, and the LXC keys for each layout.
 * Pure functions: no root and no cgroupfs needed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "cgroup.h"

static const char *fmt(enum cgroup_layout layout, unsigned field, struct trl_limits l)
{
	static char buf[64];

	cgroup_limit_format(layout, field, &l, buf, sizeof(buf));
	return buf;
}

static void test_files(void)
{
	is_str(cgroup_limit_file(CGROUP_LAYOUT_V1, CGROUP_F_CPU), "cpu.cfs_quota_us", "v1 cpu file");
	is_str(cgroup_limit_file(CGROUP_LAYOUT_V2, CGROUP_F_CPU), "cpu.max", "v2 cpu file");
	is_str(cgroup_limit_file(CGROUP_LAYOUT_V1, CGROUP_F_WEIGHT), "cpu.shares", "v1 weight file");
	is_str(cgroup_limit_file(CGROUP_LAYOUT_V2, CGROUP_F_WEIGHT), "cpu.weight", "v2 weight file");
	is_str(cgroup_limit_file(CGROUP_LAYOUT_V1, CGROUP_F_MEMORY), "memory.limit_in_bytes", "v1 memory file");
	is_str(cgroup_limit_file(CGROUP_LAYOUT_V2, CGROUP_F_MEMORY), "memory.max", "v2 memory file");
	is_str(cgroup_limit_file(CGROUP_LAYOUT_V2, CGROUP_F_PIDS), "pids.max", "pids file");
	ok(cgroup_limit_file(CGROUP_LAYOUT_V1, 0x40) == NULL, "no file for an unknown field");
}

static void test_format(void)
{
	is_str(fmt(CGROUP_LAYOUT_V1, CGROUP_F_CPU, (struct trl_limits){ .cpu = 1.5 }), "150000", "v1 cpu 1.5");
	is_str(fmt(CGROUP_LAYOUT_V1, CGROUP_F_CPU, (struct trl_limits){ .cpu = 0.3 }), "30000", "v1 cpu 0.3 rounds");
	is_str(fmt(CGROUP_LAYOUT_V1, CGROUP_F_CPU, (struct trl_limits){ 0 }), "-1", "v1 cpu unset = -1");
	is_str(fmt(CGROUP_LAYOUT_V2, CGROUP_F_CPU, (struct trl_limits){ .cpu = 0.25 }), "25000 100000", "v2 cpu 0.25");
	is_str(fmt(CGROUP_LAYOUT_V2, CGROUP_F_CPU, (struct trl_limits){ 0 }), "max 100000", "v2 cpu unset = max");
	is_str(fmt(CGROUP_LAYOUT_V1, CGROUP_F_WEIGHT, (struct trl_limits){ .cpu_weight = 200 }), "2048",
	       "v1 weight 200 = 2048 shares");
	is_str(fmt(CGROUP_LAYOUT_V1, CGROUP_F_WEIGHT, (struct trl_limits){ .cpu_weight = 1 }), "10",
	       "v1 weight 1 = 10 shares");
	is_str(fmt(CGROUP_LAYOUT_V1, CGROUP_F_WEIGHT, (struct trl_limits){ 0 }), "1024", "v1 weight unset = 1024");
	is_str(fmt(CGROUP_LAYOUT_V2, CGROUP_F_WEIGHT, (struct trl_limits){ .cpu_weight = 10000 }), "10000",
	       "v2 weight 10000");
	is_str(fmt(CGROUP_LAYOUT_V2, CGROUP_F_WEIGHT, (struct trl_limits){ 0 }), "100", "v2 weight unset = 100");
	is_str(fmt(CGROUP_LAYOUT_V1, CGROUP_F_MEMORY, (struct trl_limits){ .memory = 1ULL << 30 }), "1073741824",
	       "memory in bytes");
	is_str(fmt(CGROUP_LAYOUT_V1, CGROUP_F_MEMORY, (struct trl_limits){ 0 }), "-1", "v1 memory unset = -1");
	is_str(fmt(CGROUP_LAYOUT_V2, CGROUP_F_MEMORY, (struct trl_limits){ 0 }), "max", "v2 memory unset = max");
	is_str(fmt(CGROUP_LAYOUT_V1, CGROUP_F_PIDS, (struct trl_limits){ .pids = 64 }), "64", "pids 64");
	is_str(fmt(CGROUP_LAYOUT_V2, CGROUP_F_PIDS, (struct trl_limits){ 0 }), "max", "pids unset = max");
}

static void test_parse(void)
{
	struct trl_limits l;

	memset(&l, 0, sizeof(l));
	ok(cgroup_limit_parse(CGROUP_LAYOUT_V1, CGROUP_F_CPU, "50000", &l) == 0 && l.cpu == 0.5, "v1 50000 = 0.5 cores");
	ok(cgroup_limit_parse(CGROUP_LAYOUT_V1, CGROUP_F_CPU, "-1", &l) == 0 && l.cpu == 0, "v1 -1 = no quota");
	ok(cgroup_limit_parse(CGROUP_LAYOUT_V2, CGROUP_F_CPU, "150000 100000", &l) == 0 && l.cpu == 1.5,
	   "v2 '150000 100000' = 1.5 cores");
	ok(cgroup_limit_parse(CGROUP_LAYOUT_V2, CGROUP_F_CPU, "50000 200000", &l) == 0 && l.cpu == 0.25,
	   "v2 uses the period it reads");
	ok(cgroup_limit_parse(CGROUP_LAYOUT_V2, CGROUP_F_CPU, "max 100000", &l) == 0 && l.cpu == 0, "v2 max = no quota");
	ok(cgroup_limit_parse(CGROUP_LAYOUT_V2, CGROUP_F_CPU, "garbage", &l) < 0, "v2 garbage refused");
	ok(cgroup_limit_parse(CGROUP_LAYOUT_V1, CGROUP_F_MEMORY, "9223372036854771712", &l) == 0 && l.memory == 0,
	   "v1 PAGE_COUNTER_MAX reads as no limit");
	ok(cgroup_limit_parse(CGROUP_LAYOUT_V2, CGROUP_F_MEMORY, "max", &l) == 0 && l.memory == 0, "v2 max memory");
	ok(cgroup_limit_parse(CGROUP_LAYOUT_V2, CGROUP_F_MEMORY, "268435456", &l) == 0 && l.memory == 256ULL << 20,
	   "v2 memory bytes");
	ok(cgroup_limit_parse(CGROUP_LAYOUT_V1, CGROUP_F_PIDS, "max", &l) == 0 && l.pids == 0, "pids max");
	ok(cgroup_limit_parse(CGROUP_LAYOUT_V1, CGROUP_F_PIDS, "300", &l) == 0 && l.pids == 300, "pids 300");
	ok(cgroup_limit_parse(CGROUP_LAYOUT_V1, CGROUP_F_WEIGHT, "1024", &l) == 0 && l.cpu_weight == 0,
	   "v1 1024 shares = default weight");
	ok(cgroup_limit_parse(CGROUP_LAYOUT_V2, CGROUP_F_WEIGHT, "100", &l) == 0 && l.cpu_weight == 0,
	   "v2 weight 100 = default");
	ok(cgroup_limit_parse(CGROUP_LAYOUT_V1, CGROUP_F_WEIGHT, "262144", &l) == 0 && l.cpu_weight == 10000,
	   "v1 shares above the weight range clamp to 10000");
	ok(cgroup_limit_parse(CGROUP_LAYOUT_V1, 0x40, "1", &l) < 0, "unknown field refused");
}

/* Every weight and a spread of quotas, memory and pids survive format -> parse in both layouts. */
static void test_roundtrip(void)
{
	int bad = 0;

	for (int layout = CGROUP_LAYOUT_V1; layout <= CGROUP_LAYOUT_V2; layout++) {
		for (unsigned w = TRL_CPU_WEIGHT_MIN; w <= TRL_CPU_WEIGHT_MAX; w++) {
			struct trl_limits in = { .cpu_weight = w }, out = { 0 };
			char buf[64];

			cgroup_limit_format(layout, CGROUP_F_WEIGHT, &in, buf, sizeof(buf));
			if (cgroup_limit_parse(layout, CGROUP_F_WEIGHT, buf, &out) < 0 ||
			    out.cpu_weight != (w == 100 ? 0 : w))
				bad++;
		}
		for (int q = 1; q <= 102400; q += 7) {
			struct trl_limits in = { .cpu = q / 100.0 }, out = { 0 };
			char buf[64];

			cgroup_limit_format(layout, CGROUP_F_CPU, &in, buf, sizeof(buf));
			if (cgroup_limit_parse(layout, CGROUP_F_CPU, buf, &out) < 0 ||
			    (long long)(out.cpu * 100000 + 0.5) != (long long)(in.cpu * 100000 + 0.5))
				bad++;
		}
	}
	is_int(bad, 0, "every weight 1..10000 and 14629 quotas round-trip in v1 and v2");
}

static void test_lxc(void)
{
	struct trl_limits l = { .cpu = 0.5, .cpu_weight = 300, .memory = 128ULL << 20, .pids = 100 };
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&text, &len);
	cgroup_lxc_limits(f, CGROUP_LAYOUT_V1, &l, 0);
	fclose(f);
	is_str(text,
	       "lxc.cgroup.cpu.cfs_period_us = 100000\n"
	       "lxc.cgroup.cpu.cfs_quota_us = 50000\n"
	       "lxc.cgroup.cpu.shares = 3072\n"
	       "lxc.cgroup.memory.limit_in_bytes = 134217728\n"
	       "lxc.cgroup.pids.max = 100\n",
	       "LXC keys, v1");
	free(text);
	text = NULL;
	f = open_memstream(&text, &len);
	cgroup_lxc_limits(f, CGROUP_LAYOUT_V2, &l, 0);
	fclose(f);
	is_str(text,
	       "lxc.cgroup2.cpu.max = 50000 100000\n"
	       "lxc.cgroup2.cpu.weight = 300\n"
	       "lxc.cgroup2.memory.max = 134217728\n"
	       "lxc.cgroup2.pids.max = 100\n",
	       "LXC keys, v2");
	free(text);
	text = NULL;
	f = open_memstream(&text, &len);
	cgroup_lxc_limits(f, CGROUP_LAYOUT_V1, &(struct trl_limits){ .pids = 20 }, 1);
	fclose(f);
	is_str(text, "lxc.cgroup.pids.max = 20\n", "unset limits write no keys");
	free(text);
	f = open_memstream(&text, &len);
	cgroup_lxc_limits(f, CGROUP_LAYOUT_V1, &l, 1);
	fclose(f);
	is_str(text,
	       "lxc.cgroup.cpu.cfs_period_us = 100000\n"
	       "lxc.cgroup.cpu.cfs_quota_us = 50000\n"
	       "lxc.cgroup.cpu.shares = 3072\n"
	       "lxc.cgroup.memory.limit_in_bytes = 134217728\n"
	       "lxc.cgroup.memory.memsw.limit_in_bytes = 134217728\n"
	       "lxc.cgroup.pids.max = 100\n",
	       "LXC keys, v1 with swap accounting: memory + swap = the memory limit, after it");
	free(text);
	text = NULL;
	f = open_memstream(&text, &len);
	cgroup_lxc_limits(f, CGROUP_LAYOUT_V2, &(struct trl_limits){ .memory = 1 << 20 }, 1);
	fclose(f);
	is_str(text, "lxc.cgroup2.memory.max = 1048576\nlxc.cgroup2.memory.swap.max = 0\n",
	       "LXC keys, v2 with swap accounting: no swap");
	free(text);
	text = NULL;
	ok(cgroup_limits_fields(&l) == CGROUP_F_ALL && cgroup_limits_fields(&(struct trl_limits){ .memory = 1 }) ==
									    CGROUP_F_MEMORY,
	   "cgroup_limits_fields: the set fields");
}

static void test_swap(void)
{
	struct trl_limits m = { .memory = 256 << 20 }, none = { 0 };
	char buf[64];

	is_str(cgroup_swap_file(CGROUP_LAYOUT_V1), "memory.memsw.limit_in_bytes", "v1 swap file");
	is_str(cgroup_swap_file(CGROUP_LAYOUT_V2), "memory.swap.max", "v2 swap file");
	cgroup_swap_format(CGROUP_LAYOUT_V1, &m, buf, sizeof(buf));
	is_str(buf, "268435456", "v1: memory + swap = the memory limit");
	cgroup_swap_format(CGROUP_LAYOUT_V1, &none, buf, sizeof(buf));
	is_str(buf, "-1", "v1: no memory limit, no swap limit");
	cgroup_swap_format(CGROUP_LAYOUT_V2, &m, buf, sizeof(buf));
	is_str(buf, "0", "v2: a memory limit means no swap");
	cgroup_swap_format(CGROUP_LAYOUT_V2, &none, buf, sizeof(buf));
	is_str(buf, "max", "v2: no memory limit, swap unlimited");
	ok(cgroup_swap_equal(CGROUP_LAYOUT_V1, &m, "268435456"), "v1 read-back: equal");
	ok(cgroup_swap_equal(CGROUP_LAYOUT_V1, &m, "268431360"), "v1 read-back: rounded down to a page");
	ok(!cgroup_swap_equal(CGROUP_LAYOUT_V1, &m, "9223372036854771712"), "v1 read-back: unlimited is not the limit");
	ok(cgroup_swap_equal(CGROUP_LAYOUT_V1, &none, "9223372036854771712"), "v1 read-back: unlimited");
	ok(cgroup_swap_equal(CGROUP_LAYOUT_V2, &m, "0"), "v2 read-back: 0");
	ok(!cgroup_swap_equal(CGROUP_LAYOUT_V2, &m, "max"), "v2 read-back: max is not 0");
	ok(cgroup_swap_equal(CGROUP_LAYOUT_V2, &none, "max"), "v2 read-back: max");
	ok(!cgroup_swap_equal(CGROUP_LAYOUT_V2, &none, "0"), "v2 read-back: 0 is not max");
	ok(!cgroup_swap_equal(CGROUP_LAYOUT_V1, &m, "junk"), "read-back: not a number");
}

int main(void)
{
	test_files();
	test_format();
	test_parse();
	test_roundtrip();
	test_lxc();
	test_swap();
	plan(tap_n);
	return done();
}
