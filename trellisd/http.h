/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: the HTTP endpoint: Prometheus metrics and a read-only topology page
 *
 * Off unless --http ADDR:PORT (or http = ADDR:PORT in trellisd.conf) is
 * given.  http.c runs the listener (libmicrohttpd, a thread per connection)
 * and decides who asks: a bearer token from the http-tokens file (bound to
 * a tenant user or not), a client certificate (http-client-ca), or, with
 * neither configured, anyone who can reach the loopback address: root.
 * Beyond loopback the listener needs TLS (http-cert, http-key) and tokens
 * or client certificates.  The operations and who may call them are in
 * access.c's table (enum access_http_op); the handlers are in
 * http-metrics.c (/metrics) and http-page.c (/, its files, /api/...).
 * Everything a client holds is capped: connections (HTTP_MAX_CONNECTIONS,
 * HTTP_MAX_PER_IP), request memory (headers, no bodies) and time (a request
 * must be in, and its answer out, request-timeout seconds after the
 * connection was accepted or its previous request was answered).
 */
#ifndef TRELLISD_HTTP_H
#define TRELLISD_HTTP_H

#include <stdatomic.h>
#include <stddef.h>
#include <jansson.h>
#include "error.h"
#include "op.h"

#define HTTP_MAX_CONNECTIONS 64
#define HTTP_MAX_PER_IP 32
#define HTTP_MEMORY_LIMIT (16 * 1024)	/* per connection: request line and headers */

struct daemon;

/* Start the listener @d->cfg.o.http names (nothing when empty): parse
 * ADDR:PORT, read the token file, the TLS files, bind.  Errors name the
 * option and the reason. */
int http_start(struct daemon *d, struct trl_error *err);
/* Stop it (NULL-safe when it never started). */
void http_stop(void);

/* Daemon health counters, for /metrics. */
struct http_counters {
	atomic_ulong requests;		/* answered requests */
	atomic_ulong status[6];		/* by class: [2] 2xx, [4] 4xx, [5] 5xx */
	atomic_ulong unauthorized;	/* 401s */
	atomic_ulong cut;		/* connections cut at their deadline */
	atomic_ulong connections;	/* accepted connections */
};
extern struct http_counters http_counters;
/* Seconds since the epoch when the daemon started. */
extern double http_daemon_start;

/* A response body the handlers build: malloc'ed text and its type. */
struct http_reply {
	unsigned status;
	char *body;
	size_t len;
	const char *type;
};

/* http-metrics.c: the Prometheus text of what @oc's caller may see. */
int http_metrics(struct op_ctx *oc, struct http_reply *rep);
/* http-page.c: a static file of the page (@path "/", "/app.js", ...): 0, or
 * -ENOENT when there is none. */
int http_page_asset(const char *path, struct http_reply *rep);
/* http-page.c: the JSON of /api/node, /api/slices, /api/slice/NAME. */
int http_api(struct op_ctx *oc, const char *path, struct http_reply *rep);
/* Set @rep to a JSON document (stolen) and status 200, or 500 when NULL. */
void http_reply_json(struct http_reply *rep, json_t *doc);
/* Set @rep to a short text error. */
void http_reply_error(struct http_reply *rep, unsigned status, const char *msg);

#endif
