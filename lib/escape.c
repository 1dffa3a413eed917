/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: escaping strings for log lines (the forms are described in escape.h)
 *
 * One pass over the bytes.  A well-formed UTF-8 sequence (no overlong forms,
 * no surrogates, at most U+10FFFF) is copied unless it is a code point that
 * changes how a line reads (C1 controls, U+2028/2029, the bidirectional
 * embeddings, overrides and isolates): those become \uXXXX.  Any other byte
 * that is not part of a well-formed sequence becomes \xNN.  Output never
 * exceeds the buffer: when the next escape does not fit, "..." ends it.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "escape.h"

/* Length of the well-formed UTF-8 sequence at @p (at most @n bytes) and its code point; 0 if none. */
static size_t utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2, c = p[0] & 0x1f, min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3, c = p[0] & 0x0f, min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4, c = p[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* A code point that could make a log line read differently from what it holds. */
static int disguising(uint32_t c)
{
	return (c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029 || (c >= 0x202a && c <= 0x202e) ||
	       (c >= 0x2066 && c <= 0x2069) || c == 0x200e || c == 0x200f || c == 0x061c;
}

static const char *escape(char *buf, size_t len, const char *s, int value)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "(null)");
	size_t n = strlen((const char *)p), o = 0;

	if (!buf || len < 8)
		return "";
	while (n) {
		char tmp[16];
		const char *out = tmp;
		size_t k = 1, w;
		uint32_t cp;

		if (*p < 0x20 || *p == 0x7f) {
			switch (*p) {
			case '\n': out = "\\n"; break;
			case '\r': out = "\\r"; break;
			case '\t': out = "\\t"; break;
			default: snprintf(tmp, sizeof(tmp), "\\x%02x", *p); break;
			}
		} else if (value && *p == '\\') {
			out = "\\\\";
		} else if (value && *p == '\'') {
			out = "\\'";
		} else if (*p < 0x80) {
			tmp[0] = (char)*p;
			tmp[1] = '\0';
		} else if ((k = utf8_seq(p, n, &cp)) == 0) {
			k = 1;
			snprintf(tmp, sizeof(tmp), "\\x%02x", *p);
		} else if (disguising(cp)) {
			snprintf(tmp, sizeof(tmp), "\\u%04x", (unsigned)cp);
		} else {
			memcpy(tmp, p, k);
			tmp[k] = '\0';
		}
		w = strlen(out);
		/* Keep room for "..." unless this is the end of the string. */
		if (o + w + (n > k ? 3 : 0) >= len) {
			if (o + 3 >= len)
				o = len - 4;
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, out, w);
		o += w;
		p += k;
		n -= k;
	}
	buf[o] = '\0';
	return buf;
}

const char *escape_value(char *buf, size_t len, const char *s)
{
	return escape(buf, len, s, 1);
}

const char *escape_text(char *buf, size_t len, const char *s)
{
	return escape(buf, len, s, 0);
}
