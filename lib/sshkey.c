/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: OpenSSH public key lines (see sshkey.h)
 *
 * The blob is the SSH wire encoding: a uint32 big-endian length and the key
 * type string first, then type-specific fields, which are not checked.
 */
#include <stdint.h>
#include <string.h>
#include "sshkey.h"
#include "util.h"

static const char *const key_types[] = {
	"ssh-ed25519",
	"ssh-rsa",
	"ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521",
	"sk-ssh-ed25519@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com",
	"ssh-dss",
};

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decode @n base64 characters into @out; returns the byte count or -1. */
static long b64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
	size_t o = 0, pad = 0;

	if (n == 0 || n % 4)
		return -1;
	while (pad < 2 && s[n - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		uint32_t w = 0;

		for (int k = 0; k < 4; k++) {
			char c = s[i + k];

			if (c == '=' && i + 4 == n && k >= 4 - (int)pad) {
				v[k] = 0;
				continue;
			}
			if ((v[k] = b64_value(c)) < 0)
				return -1;
		}
		w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		for (int k = 0; k < 3; k++) {
			if (i + 4 == n && k >= 3 - (int)pad)
				break;
			if (o >= cap)
				return -1;
			out[o++] = (unsigned char)(w >> (16 - 8 * k));
		}
	}
	return (long)o;
}

int sshkey_parse(const char *line, char key[SSHKEY_MAX + 1], char comment[SSHKEY_COMMENT_MAX + 1],
		 struct trl_error *err)
{
	unsigned char blob[SSHKEY_MAX];
	const char *p = line, *type, *b64, *c;
	size_t tlen, blen, clen;
	const char *known = NULL;
	long n;
	uint32_t inner;

	key[0] = comment[0] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	type = p;
	tlen = strcspn(p, " \t\r\n");
	if (tlen == 0)
		return trl_error_set(err, TRL_EINVALID, "ssh key: empty (expected 'TYPE BASE64 [COMMENT]', as in a .pub file)");
	for (size_t i = 0; i < ARRAY_SIZE(key_types); i++)
		if (strlen(key_types[i]) == tlen && !memcmp(key_types[i], type, tlen))
			known = key_types[i];
	if (!known)
		return trl_error_set(err, TRL_EINVALID,
				     "ssh key: '%.*s' is not a public key type (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ...; options such as command= are not accepted)",
				     (int)(tlen > 40 ? 40 : tlen), type);
	p += tlen;
	while (*p == ' ' || *p == '\t')
		p++;
	b64 = p;
	blen = strcspn(p, " \t\r\n");
	if (blen == 0)
		return trl_error_set(err, TRL_EINVALID, "ssh key: '%s' has no key data after the type", known);
	if (tlen + 1 + blen > SSHKEY_MAX)
		return trl_error_set(err, TRL_EINVALID, "ssh key: longer than %d bytes", SSHKEY_MAX);
	n = b64_decode(b64, blen, blob, sizeof(blob));
	if (n < 4)
		return trl_error_set(err, TRL_EINVALID, "ssh key: the key data is not base64");
	inner = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 | blob[3];
	if (inner != tlen || (size_t)n < 4 + inner || memcmp(blob + 4, known, tlen))
		return trl_error_set(err, TRL_EINVALID, "ssh key: the key data is not a '%s' key", known);
	if ((size_t)n == 4 + inner)
		return trl_error_set(err, TRL_EINVALID, "ssh key: the '%s' key data is truncated", known);
	p += blen;
	while (*p == ' ' || *p == '\t')
		p++;
	c = p;
	clen = strlen(c);
	if (clen && c[clen - 1] == '\n')
		clen--;
	if (clen && c[clen - 1] == '\r')
		clen--;
	while (clen && (c[clen - 1] == ' ' || c[clen - 1] == '\t'))
		clen--;
	if (clen > SSHKEY_COMMENT_MAX)
		return trl_error_set(err, TRL_EINVALID, "ssh key: comment longer than %d bytes", SSHKEY_COMMENT_MAX);
	for (size_t i = 0; i < clen; i++) {
		unsigned char ch = (unsigned char)c[i];

		if (ch < 0x20 || ch == 0x7f)
			return trl_error_set(err, TRL_EINVALID,
					     "ssh key: the comment has a control character (one key per line, one line per key)");
	}
	memcpy(key, type, tlen);
	key[tlen] = ' ';
	memcpy(key + tlen + 1, b64, blen);
	key[tlen + 1 + blen] = '\0';
	memcpy(comment, c, clen);
	comment[clen] = '\0';
	return 0;
}
