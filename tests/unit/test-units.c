/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for lib/units.c: tc-style rates and cgroup-style sizes. */
#include <errno.h>
#include <stdint.h>
#include "tap.h"
#include "units.h"

static void rate_ok(const char *text, uint64_t want)
{
	uint64_t v = 0;
	int r = units_rate_parse(text, &v);

	ok(r == 0 && v == want, "rate '%s' = %llu bit/s (got r=%d v=%llu)", text,
	   (unsigned long long)want, r, (unsigned long long)v);
}

static void rate_bad(const char *text, int want)
{
	uint64_t v = 0;

	is_int(units_rate_parse(text, &v), want, "rate '%s' rejected with %d", text ? text : "(null)", want);
}

static void size_ok(const char *text, uint64_t want)
{
	uint64_t v = 0;
	int r = units_size_parse(text, &v);

	ok(r == 0 && v == want, "size '%s' = %llu bytes (got r=%d v=%llu)", text,
	   (unsigned long long)want, r, (unsigned long long)v);
}

static void size_bad(const char *text, int want)
{
	uint64_t v = 0;

	is_int(units_size_parse(text, &v), want, "size '%s' rejected with %d", text ? text : "(null)", want);
}

static void rate_fmt(uint64_t bps, const char *want)
{
	char buf[32];

	units_rate_format(bps, buf, sizeof(buf));
	is_str(buf, want, "format %llu bit/s as %s", (unsigned long long)bps, want);
}

static void size_fmt(uint64_t bytes, const char *want)
{
	char buf[32];

	units_size_format(bytes, buf, sizeof(buf));
	is_str(buf, want, "format %llu bytes as %s", (unsigned long long)bytes, want);
}

int main(void)
{
	/* rates: tc(8) suffixes */
	rate_ok("10mbit", 10000000);
	rate_ok("10Mbit", 10000000);
	rate_ok("1gbit", 1000000000);
	rate_ok("500kbit", 500000);
	rate_ok("100bit", 100);
	rate_ok("100", 100);
	rate_ok("1mbps", 8000000);
	rate_ok("1bps", 8);
	rate_ok("2kibit", 2048);
	rate_ok("1mibit", 1048576);
	rate_ok("1gibit", 1073741824);
	rate_ok("1.5mbit", 1500000);
	rate_ok("0.5kbit", 500);
	rate_ok("1tbit", 1000000000000ULL);
	rate_bad("10kbs", -EINVAL);
	rate_bad("mbit", -EINVAL);
	rate_bad("", -EINVAL);
	rate_bad(NULL, -EINVAL);
	rate_bad("-5mbit", -EINVAL);
	rate_bad("10 mbit", -EINVAL);
	rate_bad("1e6", -EINVAL);
	rate_bad("0", -ERANGE);
	rate_bad("0mbit", -ERANGE);
	rate_bad("0.1bit", -ERANGE);
	rate_bad("2tbit", -ERANGE);
	rate_bad("99999999999999999999999999999999999999gbit", -ERANGE);

	rate_fmt(10000000, "10Mbit");
	rate_fmt(1000000000, "1Gbit");
	rate_fmt(128000, "128Kbit");
	rate_fmt(100, "100bit");
	rate_fmt(1500000, "1500Kbit");
	rate_fmt(1000000000000ULL, "1Tbit");

	/* sizes: binary prefixes */
	size_ok("64M", 64ULL << 20);
	size_ok("1G", 1ULL << 30);
	size_ok("512k", 512ULL << 10);
	size_ok("4096", 4096);
	size_ok("256MiB", 256ULL << 20);
	size_ok("2gb", 2ULL << 30);
	size_ok("1.5G", 3ULL << 29);
	size_ok("1P", 1ULL << 50);
	size_bad("12X", -EINVAL);
	size_bad("M", -EINVAL);
	size_bad("", -EINVAL);
	size_bad("1,5G", -EINVAL);
	size_bad("0", -ERANGE);
	size_bad("2P", -ERANGE);

	size_fmt(256ULL << 20, "256M");
	size_fmt(1ULL << 30, "1G");
	size_fmt(512ULL << 10, "512K");
	size_fmt(1000, "1000");
	size_fmt(0, "0");

	plan(tap_n);
	return done();
}
