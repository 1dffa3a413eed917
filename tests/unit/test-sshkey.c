/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for lib/sshkey.c (ssh public key lines) and the slice.key.* / ssh.keys requests. */
#include <string.h>
#include "tap.h"
#include "proto.h"
#include "sshkey.h"

/* Real keys made by ssh-keygen 9.2 (public halves only). */
#define ED25519 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIRyYuzk90jiZ1lrp2zDxR/hKqul68bNoYh5PBRTvUBp"
#define ECDSA                                                                                                   \
	"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBBjsLOQaGsOUsURVLtql49/EhMKMnQ0h6nA3" \
	"SphhoCClaVBd78IXGBI62SsHG++YFxGdDd4V9Gp8XLAdJ72XOGI="

static char key[SSHKEY_MAX + 1], comment[SSHKEY_COMMENT_MAX + 1];

static void bad(const char *line, const char *msg)
{
	struct trl_error err = { 0 };
	int r = sshkey_parse(line, key, comment, &err);

	ok(r == -TRL_EINVALID && strstr(err.msg, msg), "refused (%s): %.40s", msg, line);
	if (!(r == -TRL_EINVALID && strstr(err.msg, msg)))
		printf("#   got %d '%s'\n", r, err.msg);
}

/* The request borrows from the message: keep the last one alive. */
static json_t *last;

static int decode(const char *json, struct proto_request *req, struct trl_error *err)
{
	json_decref(last);
	last = json_loads(json, 0, NULL);
	return last ? proto_request_decode(last, req, err) : -999;
}

int main(void)
{
	struct trl_error err = { 0 };
	struct proto_request req;

	is_int(sshkey_parse(ED25519 " alice@laptop\n", key, comment, &err), 0, "ed25519 key with comment");
	is_str(key, ED25519, "key is TYPE BASE64");
	is_str(comment, "alice@laptop", "comment without the newline");
	is_int(sshkey_parse("  " ED25519, key, comment, &err), 0, "no comment, leading blanks");
	is_str(comment, "", "empty comment");
	is_int(sshkey_parse(ED25519 " two words  \r\n", key, comment, &err), 0, "comment with a space, CRLF");
	is_str(comment, "two words", "trailing blanks dropped");
	is_int(sshkey_parse(ECDSA " e", key, comment, &err), 0, "ecdsa-sha2-nistp256 key");

	bad("", "empty");
	bad("command=\"/bin/sh\" " ED25519, "options such as command= are not accepted");
	bad("restrict " ED25519, "is not a public key type");
	bad("ssh-ed25519", "has no key data");
	bad("ssh-ed25519 AAAA!!!!", "not base64");
	bad("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIRyYuzk90jiZ1lrp2zDxR/hKqul68bNoYh5PBRTvUB", "not base64");
	bad("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIIRyYuzk90jiZ1lrp2zDxR/hKqul68bNoYh5PBRTvUBp", "not a 'ssh-rsa' key");
	bad("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "truncated");
	bad(ED25519 " a\nssh-ed25519 AAAA", "control character");
	bad(ED25519 " a\tb", "control character");
	{
		char longc[400];

		memset(longc, 'c', sizeof(longc) - 1);
		longc[sizeof(longc) - 1] = '\0';
		char line[600];

		snprintf(line, sizeof(line), "%s %s", ED25519, longc);
		bad(line, "comment longer than 256 bytes");
	}

	is_int(decode("{\"op\":\"slice.key.add\",\"name\":\"blue\",\"key\":\"" ED25519 "\"}", &req, &err), 0,
	       "slice.key.add decodes");
	ok(req.op == PROTO_OP_SLICE_KEY_ADD && req.key && !strcmp(req.key, ED25519), "op and key");
	is_int(decode("{\"op\":\"slice.key.remove\",\"name\":\"blue\",\"key\":\"x\"}", &req, &err), 0,
	       "slice.key.remove decodes (the daemon checks the key)");
	is_int(decode("{\"op\":\"slice.key.add\",\"name\":\"blue\"}", &req, &err), -TRL_EPROTO, "key is required");
	is_int(decode("{\"op\":\"slice.key.add\",\"name\":\"blue\",\"key\":7}", &req, &err), -TRL_EPROTO,
	       "key must be a string");
	is_int(decode("{\"op\":\"slice.key.list\",\"name\":\"blue\"}", &req, &err), 0, "slice.key.list decodes");
	is_int(decode("{\"op\":\"ssh.keys\",\"name\":\"blue\"}", &req, &err), 0, "ssh.keys decodes");
	ok(req.op == PROTO_OP_SSH_KEYS && !strcmp(req.name, "blue"), "ssh.keys names the user");
	is_int(decode("{\"op\":\"ssh.keys\",\"name\":\"Root\"}", &req, &err), -TRL_EINVALID,
	       "ssh.keys: a user name that is no slice name is refused");
	is_int(decode("{\"op\":\"slice.exec\",\"name\":\"blue\",\"router\":\"r1\",\"argv\":[\"sh\"],\"tty\":true}", &req,
		      &err),
	       0, "slice.exec with a tty decodes");
	ok(req.tty == 1, "tty set");
	json_decref(last);
	plan(tap_n);
	return done();
}
