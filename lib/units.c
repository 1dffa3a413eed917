/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: units
 *
 * Rates follow tc(8): decimal SI prefixes on "bit" (kbit = 1000 bit/s),
 * binary ones on "ibit" (kibit = 1024 bit/s), and "bps" means bytes per
 * second (x8).  Sizes follow cgroups and LXC: every prefix is binary
 * (k = 1024).  Suffixes are case-insensitive.  Numbers are parsed by hand
 * (digits, optional fraction) so the result never depends on the locale, and
 * the range checks happen before anything is converted to an integer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "units.h"

#define RATE_MAX 1000000000000ULL	  /* 1 Tbit/s */
#define SIZE_MAX_BYTES (1ULL << 50)	  /* 1 PiB */

struct unit {
	const char *suffix;
	long double mult;
};

static const struct unit rate_units[] = {
	{ "", 1 },
	{ "bit", 1 },
	{ "kbit", 1e3 },
	{ "mbit", 1e6 },
	{ "gbit", 1e9 },
	{ "tbit", 1e12 },
	{ "kibit", 1024.0L },
	{ "mibit", 1024.0L * 1024 },
	{ "gibit", 1024.0L * 1024 * 1024 },
	{ "tibit", 1024.0L * 1024 * 1024 * 1024 },
	{ "bps", 8 },
	{ "kbps", 8e3 },
	{ "mbps", 8e6 },
	{ "gbps", 8e9 },
	{ "tbps", 8e12 },
	{ "kibps", 8 * 1024.0L },
	{ "mibps", 8 * 1024.0L * 1024 },
	{ "gibps", 8 * 1024.0L * 1024 * 1024 },
	{ "tibps", 8 * 1024.0L * 1024 * 1024 * 1024 },
};

#define KI 1024.0L
static const struct unit size_units[] = {
	{ "", 1 },
	{ "b", 1 },
	{ "k", KI },
	{ "kb", KI },
	{ "kib", KI },
	{ "m", KI * KI },
	{ "mb", KI * KI },
	{ "mib", KI * KI },
	{ "g", KI * KI * KI },
	{ "gb", KI * KI * KI },
	{ "gib", KI * KI * KI },
	{ "t", KI * KI * KI * KI },
	{ "tb", KI * KI * KI * KI },
	{ "tib", KI * KI * KI * KI },
	{ "p", KI * KI * KI * KI * KI },
	{ "pb", KI * KI * KI * KI * KI },
	{ "pib", KI * KI * KI * KI * KI },
};

/*
 * Parse "<digits>[.<digits>]<suffix>" into a value scaled by the suffix.
 * -EINVAL if malformed or the suffix is unknown.
 */
static int parse_scaled(const char *text, const struct unit *units, size_t n_units,
			long double *out)
{
	long double v = 0, scale = 1;
	const char *p = text;
	int digits = 0;

	if (!text)
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++, digits++)
		v = v * 10 + (*p - '0');
	if (*p == '.') {
		p++;
		for (; *p >= '0' && *p <= '9'; p++, digits++) {
			scale /= 10;
			v += scale * (*p - '0');
		}
	}
	if (!digits)
		return -EINVAL;
	for (size_t i = 0; i < n_units; i++) {
		if (!strcasecmp(p, units[i].suffix)) {
			*out = v * units[i].mult;
			return 0;
		}
	}
	return -EINVAL;
}

int units_rate_parse(const char *text, uint64_t *bps)
{
	long double v;
	int r;

	r = parse_scaled(text, rate_units, sizeof(rate_units) / sizeof(rate_units[0]), &v);
	if (r < 0)
		return r;
	if (v < 0.5L || v >= (long double)RATE_MAX + 0.5L)
		return -ERANGE;
	*bps = (uint64_t)(v + 0.5L);
	return 0;
}

void units_rate_format(uint64_t bps, char *buf, size_t len)
{
	static const char *const prefix[] = { "", "K", "M", "G", "T" };
	size_t i;

	/* Same choice as tc: step up while the value stays exact or is large. */
	for (i = 0; i < sizeof(prefix) / sizeof(prefix[0]) - 1; i++) {
		if (bps < 1000)
			break;
		if (bps % 1000 && bps < 1000 * 1000)
			break;
		bps /= 1000;
	}
	snprintf(buf, len, "%llu%sbit", (unsigned long long)bps, prefix[i]);
}

int units_size_parse(const char *text, uint64_t *bytes)
{
	long double v;
	int r;

	r = parse_scaled(text, size_units, sizeof(size_units) / sizeof(size_units[0]), &v);
	if (r < 0)
		return r;
	if (v < 0.5L || v >= (long double)SIZE_MAX_BYTES + 0.5L)
		return -ERANGE;
	*bytes = (uint64_t)(v + 0.5L);
	return 0;
}

static const struct unit time_units[] = {
	{ "s", 1e6 },	  { "sec", 1e6 },    { "secs", 1e6 },
	{ "ms", 1e3 },	  { "msec", 1e3 },   { "msecs", 1e3 },
	{ "us", 1 },	  { "usec", 1 },     { "usecs", 1 },
};

int units_time_parse(const char *text, uint64_t *usec)
{
	long double v;
	int r;

	r = parse_scaled(text, time_units, sizeof(time_units) / sizeof(time_units[0]), &v);
	if (r < 0)
		return r;
	if (v >= (long double)UNITS_TIME_MAX + 0.5L)
		return -ERANGE;
	*usec = (uint64_t)(v + 0.5L);
	return 0;
}

void units_time_format(uint64_t usec, char *buf, size_t len)
{
	if (usec && usec % 1000000 == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(usec / 1000000));
	else if (usec && usec % 1000 == 0)
		snprintf(buf, len, "%llums", (unsigned long long)(usec / 1000));
	else
		snprintf(buf, len, "%lluus", (unsigned long long)usec);
}

static const struct unit percent_units[] = { { "%", 10000 }, { "", 1000000 } };

int units_percent_parse(const char *text, uint32_t *ppm)
{
	long double v;
	int r;

	r = parse_scaled(text, percent_units, sizeof(percent_units) / sizeof(percent_units[0]), &v);
	if (r < 0)
		return r;
	if (v >= 1000000.5L)
		return -ERANGE;
	*ppm = (uint32_t)(v + 0.5L);
	return 0;
}

void units_percent_format(uint32_t ppm, char *buf, size_t len)
{
	char *z;

	snprintf(buf, len, "%.4f", ppm / 10000.0);
	/* 1.5000 -> 1.5, 2.0000 -> 2 */
	z = buf + strlen(buf) - 1;
	while (z > buf && *z == '0')
		*z-- = '\0';
	if (*z == '.')
		*z = '\0';
	strncat(buf, "%", len - strlen(buf) - 1);
}

void units_size_format(uint64_t bytes, char *buf, size_t len)
{
	static const char *const suffix[] = { "", "K", "M", "G", "T", "P" };
	size_t i = 0;

	while (bytes && bytes % 1024 == 0 && i < sizeof(suffix) / sizeof(suffix[0]) - 1) {
		bytes /= 1024;
		i++;
	}
	snprintf(buf, len, "%llu%s", (unsigned long long)bytes, suffix[i]);
}
