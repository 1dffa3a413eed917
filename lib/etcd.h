/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: etcd v3 client
 *
 * A small client for etcd v3 through its JSON gateway (grpc-gateway: POST
 * /v3/kv/range, /v3/kv/put, /v3/kv/deleterange, /v3/kv/txn, /v3/lease/grant,
 * /v3/lease/keepalive, /v3/watch) over libcurl.  Keys and values are strings
 * here and base64 on the wire; 64-bit integers come back as JSON strings and
 * are converted.  A handle is used by one thread at a time (open one per
 * thread); it counts its round trips (etcd_ops()) so callers can measure.
 *
 * Endpoints are given as etcd://HOST:PORT[,HOST:PORT...] (or http://...),
 * or etcds://HOST:PORT[,...] (or https://...) for TLS; a request goes to the
 * endpoint that answered last and fails over to the next when one cannot be
 * reached.  When none answers the error is TRL_EUNAVAIL and names the
 * endpoint(s).
 *
 * TLS always verifies the server's certificate and host name (against
 * etcd_opts.ca, else the system's CAs); a client certificate answers etcd's
 * --client-cert-auth.  With etcd_opts.user the handle authenticates (etcd v3
 * auth) on its first request and again, once, when etcd says its token
 * expired.  Errors name the option at fault as the configuration spells it
 * (cluster-ca, cluster-cert, cluster-key, cluster-user) and the path.
 */
#ifndef TRELLIS_ETCD_H
#define TRELLIS_ETCD_H

#include <jansson.h>
#include <stdint.h>
#include "error.h"

struct etcd;

/* How to reach etcd besides its URL; every field may be NULL. */
struct etcd_opts {
	const char *ca;		/* PEM CA certificates the server's must chain to (etcds:// only) */
	const char *cert;	/* PEM client certificate (etcds:// only) */
	const char *key;	/* its private key (NULL: in @cert) */
	const char *user;	/* etcd user to authenticate as; needs @password */
	const char *password;
};

/*
 * Parse @url and prepare a handle (no network I/O; the files of @o must be
 * readable; @o's strings are copied).  -TRL_EINVALID if @url or @o is
 * malformed or a file cannot be read.
 */
int etcd_open_opts(const char *url, const struct etcd_opts *o, struct etcd **ep, struct trl_error *err);
/* etcd_open_opts() without options. */
int etcd_open(const char *url, struct etcd **ep, struct trl_error *err);
void etcd_close(struct etcd *e);
/* A second handle to the same endpoints with the same options (for another thread, or
 * for requests beside a watch running on @e). */
int etcd_dup(const struct etcd *e, struct etcd **ep, struct trl_error *err);
/* The endpoint requests go to ("http://127.0.0.1:2379"). */
const char *etcd_endpoint(const struct etcd *e);
/* Round trips made with this handle (a watch counts one). */
unsigned long etcd_ops(const struct etcd *e);
/* Times this handle authenticated (its first request, then once per expired token). */
unsigned long etcd_auths(const struct etcd *e);

/*
 * One round trip: POST @req (stolen) to @path ("/v3/kv/put"); *resp is the
 * decoded reply object.  -TRL_EUNAVAIL (no endpoint answers), -TRL_EFAILED
 * (etcd refused: its message is in @err; TLS failed), -TRL_EPERM (etcd's
 * authentication refused us), -TRL_EINVALID (a TLS file is unusable),
 * -TRL_EPROTO (reply not JSON).
 */
int etcd_call(struct etcd *e, const char *path, json_t *req, json_t **resp, struct trl_error *err);

/* A key-value as the functions below return it:
 *   {"key", "value" (strings), "create_revision", "mod_revision", "version", "lease" (integers)} */

/* Put @key = @value, attached to @lease (0 = none). */
int etcd_put(struct etcd *e, const char *key, const char *value, int64_t lease, struct trl_error *err);
/* Get @key: 1 with *kv set, 0 if absent (*kv NULL). */
int etcd_get(struct etcd *e, const char *key, json_t **kv, struct trl_error *err);
/* Every key under @prefix, sorted by key: an array of kvs; *rev = the store's revision (may be NULL). */
int etcd_range(struct etcd *e, const char *prefix, json_t **kvs, int64_t *rev, struct trl_error *err);
/* Delete @key (or every key under it with @prefix): returns how many were deleted. */
int etcd_delete(struct etcd *e, const char *key, int prefix, struct trl_error *err);

/* Operations and comparisons for etcd_txn() (new references). */
json_t *etcd_op_put(const char *key, const char *value, int64_t lease);
json_t *etcd_op_get(const char *key);
json_t *etcd_op_delete(const char *key, int prefix);
/* Compare @key's create_revision (0 = the key does not exist) or mod_revision. */
json_t *etcd_cmp_create(const char *key, int64_t rev);
json_t *etcd_cmp_mod(const char *key, int64_t rev);
/*
 * If every comparison holds, apply @success, else @failure (arrays, stolen;
 * NULL = empty).  Returns 1 if it succeeded, 0 if not; *resp (may be NULL)
 * gets the raw reply (its "responses" hold the range results, values still base64).
 */
int etcd_txn(struct etcd *e, json_t *compare, json_t *success, json_t *failure, json_t **resp,
	     struct trl_error *err);
/* Decode a raw kv object of a reply into the form above (new reference). */
json_t *etcd_kv_decode(json_t *raw);

/* Leases. */
int etcd_lease_grant(struct etcd *e, int64_t ttl, int64_t *id, struct trl_error *err);
/* Refresh @id: *ttl = its remaining TTL, 0 if it has expired (a new one is needed). */
int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl, struct trl_error *err);

/*
 * Watch every key under @prefix from revision @start (0 = from now).  @fn is
 * called with each batch of events (a JSON array of {"type": "put"|"delete",
 * "kv": kv}) and the batch's revision, and with NULL about once a second while
 * idle; the first call is (empty array, revision) once the watch is set up.
 * @fn returns 0 to go on, > 0 to stop (etcd_watch returns 0), < 0 to stop
 * with that error.  The stream ending (etcd went away) is -TRL_EUNAVAIL.
 */
typedef int (*etcd_watch_fn)(void *ctx, json_t *events, int64_t rev, struct trl_error *err);
int etcd_watch(struct etcd *e, const char *prefix, int64_t start, etcd_watch_fn fn, void *ctx,
	       struct trl_error *err);

#endif
