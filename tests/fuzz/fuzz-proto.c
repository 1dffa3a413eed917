/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: the protocol decoder (lib/proto.c).
 *
 * Input: bytes as a peer would write them on the socket (one or more JSON
 * lines, possibly truncated, oversized or garbage).  They go through a real
 * socketpair into proto_recv(), exactly as the daemon and the CLI read them;
 * every message that comes out is decoded both as a request
 * (proto_request_decode) and as a reply (proto_reply_kind), and a decoded
 * error reply is encoded again (proto_error_new) and re-classified, which
 * must give the same code.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The socket buffer must take the whole input: the writer does not block. */
#define FUZZ_MAX_INPUT (64u << 10)

static void decode(json_t *msg)
{
	struct proto_request req;
	struct trl_error err;
	int kind;

	trl_error_clear(&err);
	if (proto_request_decode(msg, &req, &err) == 0 && !proto_op_name(req.op))
		abort();

	trl_error_clear(&err);
	kind = proto_reply_kind(msg, &err);
	if (kind < 0 && kind != -TRL_EPROTO) {
		/* A well-formed error reply: encoding it again must classify the same. */
		struct trl_error again;
		json_t *re = proto_error_new(&err);

		if (!re)
			abort();
		trl_error_clear(&again);
		if (proto_reply_kind(re, &again) != kind)
			abort();
		json_decref(re);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_conn c;
	int sv[2], sndbuf = FUZZ_MAX_INPUT * 4;
	size_t off = 0;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	while (off < size) {
		ssize_t n = write(sv[0], data + off, size - off);

		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	close(sv[0]);

	proto_conn_init(&c, sv[1]);
	for (;;) {
		struct trl_error err;
		json_t *msg = NULL;
		int r;

		trl_error_clear(&err);
		r = proto_recv(&c, &msg, &err);
		if (r <= 0) {
			if (r < 0 && (err.code != TRL_EPROTO || !err.msg[0]))
				abort(); /* only protocol errors are possible here */
			break;
		}
		decode(msg);
		json_decref(msg);
	}
	proto_conn_release(&c);
	close(sv[1]);
	return 0;
}
