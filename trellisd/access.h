/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: access control: the one place that decides what a caller may do
 *
 * One table (access.c) gives every request op its rule.  server.c calls
 * access_request() before the handler runs: it decides what needs no slice
 * row (creating, reading ssh keys, placement, root-only ops).  A handler that
 * loads a slice's row calls access_check() with its op's rule from the same
 * table (access_rule(PROTO_OP_...)) before doing anything, and returns its
 * error as is.  Rules:
 *   - root (PRINCIPAL_ROOT) and the cluster (PRINCIPAL_CLUSTER, this daemon
 *     realizing the cluster's desired state) may do everything;
 *   - ACCESS_ANY: anyone (ping, node.show, slice.list, events: they filter
 *     by ACCESS_SEE themselves);
 *   - ACCESS_CREATE (row NULL): a tenant only if trellisd.conf has
 *     allow-tenant-create = yes and the caller is on tenant-users or in one of
 *     tenant-groups (no list: any user); the slice's owner is then the caller.
 *     A placement (routers' nodes, link keys) is root's and the cluster's only;
 *   - ACCESS_SEE (list, show, stats, link capture), ACCESS_CHANGE (slice.set, link.set,
 *     apply, router stop/start, key add/remove), ACCESS_LOGIN (exec, login)
 *     and ACCESS_DELETE: the slice's owner;
 *   - ACCESS_SEE and ACCESS_LOGIN also: the slice's ssh account
 *     (PRINCIPAL_SSH with that slice; see trellisd.conf(5));
 *   - ACCESS_SSH_KEYS (row NULL; reading the ssh keys of any slice, for sshd's
 *     AuthorizedKeysCommand): the ssh-keys-user of trellisd.conf;
 *   - ACCESS_ROOT: root and the cluster only (also every op the table does
 *     not list: a new op is closed until it is given a rule).
 * A caller who may not see a slice gets exactly the error a missing slice
 * gives ("no slice 'NAME'", TRL_ENOTFOUND), so a slice's existence never leaks;
 * ops whose answer for a missing slice is not an error (slice.delete) check
 * for -TRL_ENOTFOUND and answer as for a missing slice.  Refusals of
 * ACCESS_CREATE, ACCESS_SSH_KEYS and ACCESS_ROOT are TRL_EPERM.
 */
#ifndef TRELLISD_ACCESS_H
#define TRELLISD_ACCESS_H

#include "error.h"
#include "op.h"
#include "proto.h"

enum access_op {
	ACCESS_ANY,
	ACCESS_CREATE,
	ACCESS_SEE,
	ACCESS_CHANGE,
	ACCESS_LOGIN,
	ACCESS_DELETE,
	ACCESS_SSH_KEYS,
	ACCESS_ROOT,
};

struct store_slice;

/*
 * The HTTP endpoint's operations (http.c), in the same table: a bearer
 * token bound to a tenant makes its requests that tenant's (PRINCIPAL_TENANT
 * with its uid), an unbound token, a client certificate or no token file
 * root's.  Metrics, the node and the slice list are ACCESS_ANY and filtered
 * by ACCESS_SEE slice by slice, as node.show and slice.list are; a slice's
 * state is ACCESS_SEE; the page's static files carry no data (ACCESS_ANY).
 */
enum access_http_op {
	ACCESS_HTTP_ASSET,	/* /, /app.js, /style.css */
	ACCESS_HTTP_METRICS,	/* /metrics */
	ACCESS_HTTP_NODE,	/* /api/node */
	ACCESS_HTTP_SLICES,	/* /api/slices */
	ACCESS_HTTP_SLICE,	/* /api/slice/NAME */
	ACCESS_HTTP_COUNT,
};
/* The rule of HTTP operation @op (ACCESS_ROOT for one the table does not list). */
enum access_op access_http_rule(enum access_http_op op);
/* Before an HTTP handler runs: as access_request() for a socket request. */
int access_http_request(const struct op_ctx *oc, enum access_http_op op, struct trl_error *err);

/* The rule of request op @op. */
enum access_op access_rule(enum proto_op op);
/* Before the handler: what @req's op needs that no slice row decides.
 * Returns 0 when the handler may run, else the negative code, @err filled. */
int access_request(const struct op_ctx *oc, const struct proto_request *req, struct trl_error *err);
/* May @oc's caller @op the slice of @row (NULL for the row-less rules)?
 * Returns 0 when allowed, else the negative code with @err filled. */
int access_check(const struct op_ctx *oc, enum access_op op, const struct store_slice *row, struct trl_error *err);

#endif
