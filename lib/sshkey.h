/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: OpenSSH public keys
 *
 * A slice's ssh keys are stored and handed to sshd (AuthorizedKeysCommand)
 * as "TYPE BASE64 [COMMENT]" lines.  sshkey_parse() accepts exactly one such
 * line (as in a .pub file): TYPE one of the key types OpenSSH 9 accepts, the
 * base64 blob well-formed and beginning with the same TYPE (so a mangled key
 * is caught here, not by sshd later), no options before TYPE (trellis adds
 * its own), and a comment of printable characters only.  Nothing a tenant
 * registers can therefore add a line or an option to what sshd reads.
 */
#ifndef TRELLIS_SSHKEY_H
#define TRELLIS_SSHKEY_H

#include <stddef.h>
#include "error.h"

#define SSHKEY_MAX 16384	/* "TYPE BASE64" */
#define SSHKEY_COMMENT_MAX 256

/* Parse @line (a trailing newline is allowed).  Fills @key with "TYPE BASE64"
 * and @comment (possibly "").  -TRL_EINVALID with the reason in @err. */
int sshkey_parse(const char *line, char key[SSHKEY_MAX + 1], char comment[SSHKEY_COMMENT_MAX + 1],
		 struct trl_error *err);

#endif
