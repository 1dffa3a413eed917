/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: units
 *
 * Rates and sizes written the way tc(8) and cgroups write them.
 *   rates: "10mbit", "1gbit", "500kbit", "100bit", "1mbps" (bytes/s => x8),
 *          decimal (k = 1000); "kibit", "mibit", "gibit" binary; a bare number is bit/s.
 *   sizes: "64M", "1G", "512k", "4096" (bytes); binary (k = 1024), also "KiB/MiB/GiB", "kb/mb/gb".
 *   times: "10ms", "1.5s", "200us" (tc's s/sec, ms/msec, us/usec; a unit is required).
 *   shares: "1%", "0.25%" or a fraction "0.01" (stored in parts per million).
 */
#ifndef TRELLIS_UNITS_H
#define TRELLIS_UNITS_H

#include <stdint.h>
#include <stddef.h>

/* Parse a rate into bit/s. -EINVAL if malformed, -ERANGE if zero or above 1 Tbit/s. */
int units_rate_parse(const char *text, uint64_t *bps);
/* Format bit/s as tc does: "10Mbit", "1Gbit", "128Kbit", "100bit". */
void units_rate_format(uint64_t bps, char *buf, size_t len);
/* Parse a size into bytes. -EINVAL if malformed, -ERANGE if zero or absurd (> 1 PiB). */
int units_size_parse(const char *text, uint64_t *bytes);
void units_size_format(uint64_t bytes, char *buf, size_t len);

#define UNITS_TIME_MAX 60000000ULL	/* 60 s, in microseconds */

/* Parse a duration into microseconds. -EINVAL if malformed, -ERANGE above 60 s. */
int units_time_parse(const char *text, uint64_t *usec);
void units_time_format(uint64_t usec, char *buf, size_t len);
/* Parse "1.5%" or "0.015" into parts per million. -EINVAL if malformed, -ERANGE above 100%. */
int units_percent_parse(const char *text, uint32_t *ppm);
void units_percent_format(uint32_t ppm, char *buf, size_t len);

#endif
