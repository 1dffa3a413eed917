/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: access control: the table and the rules
 *
 * See access.h for the rules.  The table below is the only list of who may
 * call which op; server.c consults it before dispatching, the handlers for
 * the loaded slice's row.  The caller's principal was resolved once, when
 * server.c built the operation's context (a slice's ssh account is
 * recognised there, ssh.c), so nothing here knows the connection.
 */
#define LOG_MODULE "access"
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include "access.h"
#include "conf.h"
#include "store.h"
#include "trellisd.h"
#include "util.h"

static const struct {
	enum access_op rule;
	int listed;
} rules[] = {
	[PROTO_OP_PING] = { ACCESS_ANY, 1 },
	[PROTO_OP_NODE_SHOW] = { ACCESS_ANY, 1 },	/* a tenant's view names only its slices (node-info.c) */
	[PROTO_OP_NODE_LIST] = { ACCESS_ANY, 1 },
	[PROTO_OP_SLICE_LIST] = { ACCESS_ANY, 1 },	/* filtered by ACCESS_SEE */
	[PROTO_OP_SLICE_CREATE] = { ACCESS_CREATE, 1 },
	[PROTO_OP_SLICE_SHOW] = { ACCESS_SEE, 1 },
	[PROTO_OP_SLICE_STATS] = { ACCESS_SEE, 1 },
	[PROTO_OP_SLICE_KEY_LIST] = { ACCESS_SEE, 1 },
	[PROTO_OP_SLICE_SET] = { ACCESS_CHANGE, 1 },
	[PROTO_OP_LINK_SET] = { ACCESS_CHANGE, 1 },
	[PROTO_OP_SLICE_APPLY] = { ACCESS_CHANGE, 1 },
	[PROTO_OP_ROUTER_STOP] = { ACCESS_CHANGE, 1 },
	[PROTO_OP_ROUTER_START] = { ACCESS_CHANGE, 1 },
	[PROTO_OP_ROUTER_RESTART] = { ACCESS_CHANGE, 1 },
	[PROTO_OP_SLICE_KEY_ADD] = { ACCESS_CHANGE, 1 },
	[PROTO_OP_SLICE_KEY_REMOVE] = { ACCESS_CHANGE, 1 },
	[PROTO_OP_SLICE_EXEC] = { ACCESS_LOGIN, 1 },
	[PROTO_OP_SLICE_DELETE] = { ACCESS_DELETE, 1 },
	[PROTO_OP_SSH_KEYS] = { ACCESS_SSH_KEYS, 1 },
	[PROTO_OP_EVENTS] = { ACCESS_ANY, 1 },		/* filtered by ACCESS_SEE per event (events-follow.c) */
	[PROTO_OP_LINK_CAPTURE] = { ACCESS_SEE, 1 },
	[PROTO_OP_NODE_REMOVE] = { ACCESS_ROOT, 1 },	/* changes the cluster (cluster.c) */
};

static const struct {
	enum access_op rule;
	int listed;
} http_rules[] = {
	[ACCESS_HTTP_ASSET] = { ACCESS_ANY, 1 },	/* no data in the page's files */
	[ACCESS_HTTP_METRICS] = { ACCESS_ANY, 1 },	/* filtered by ACCESS_SEE per slice (http-metrics.c) */
	[ACCESS_HTTP_NODE] = { ACCESS_ANY, 1 },		/* as node.show */
	[ACCESS_HTTP_SLICES] = { ACCESS_ANY, 1 },	/* filtered by ACCESS_SEE, as slice.list */
	[ACCESS_HTTP_SLICE] = { ACCESS_SEE, 1 },	/* slice.show + slice.stats */
};

enum access_op access_http_rule(enum access_http_op op)
{
	if ((unsigned)op >= ARRAY_SIZE(http_rules) || !http_rules[op].listed)
		return ACCESS_ROOT;
	return http_rules[op].rule;
}

int access_http_request(const struct op_ctx *oc, enum access_http_op op, struct trl_error *err)
{
	enum access_op rule = access_http_rule(op);

	switch (rule) {
	case ACCESS_CREATE:
	case ACCESS_SSH_KEYS:
	case ACCESS_ROOT:
		return access_check(oc, rule, NULL, err);
	default:
		/* The handler checks the slice's row (slice_show, slice_stats). */
		return 0;
	}
}

enum access_op access_rule(enum proto_op op)
{
	if ((unsigned)op >= ARRAY_SIZE(rules) || !rules[op].listed)
		return ACCESS_ROOT;
	return rules[op].rule;
}

/* May @uid create slices under tenant-users / tenant-groups (no list: anyone)? */
static int tenant_listed(const struct config *c, uid_t uid, gid_t gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t groups[256];
	int ng = (int)ARRAY_SIZE(groups);

	if (!c->n_tenant_users && !c->n_tenant_groups)
		return 1;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return 0;
	if (config_list_has(c->tenant_users, c->n_tenant_users, res->pw_name))
		return 1;
	if (getgrouplist(res->pw_name, res->pw_gid, groups, &ng) < 0)
		ng = 0;
	for (int i = 0; i < c->n_tenant_groups; i++) {
		struct group gr, *g = NULL;
		char gbuf[16384];

		if (getgrnam_r(c->tenant_groups[i], &gr, gbuf, sizeof(gbuf), &g) != 0 || !g)
			continue;
		if (g->gr_gid == gid)
			return 1;
		for (int k = 0; k < ng; k++)
			if (groups[k] == g->gr_gid)
				return 1;
	}
	return 0;
}

int access_check(const struct op_ctx *oc, enum access_op op, const struct store_slice *row, struct trl_error *err)
{
	const struct config *c = &oc->d->cfg;
	const struct caller *who = &oc->who;

	if (caller_is_privileged(who) || op == ACCESS_ANY)
		return 0;
	switch (op) {
	case ACCESS_ANY:
		return 0;
	case ACCESS_ROOT:
		return trl_error_set(err, TRL_EPERM, "permission denied: only root may do this");
	case ACCESS_CREATE:
		if (!c->allow_tenant_create)
			return trl_error_set(err, TRL_EPERM,
					     "permission denied: only root may create slices on this node (allow-tenant-create = no in trellisd.conf)");
		if (!tenant_listed(c, who->uid, who->gid))
			return trl_error_set(err, TRL_EPERM,
					     "permission denied: uid %u is not among the tenants allowed to create slices on this node (tenant-users, tenant-groups in trellisd.conf)",
					     (unsigned)who->uid);
		return 0;
	case ACCESS_SSH_KEYS: {
		struct passwd pw, *res = NULL;
		char buf[4096];

		if (c->ssh_keys_user[0] && getpwnam_r(c->ssh_keys_user, &pw, buf, sizeof(buf), &res) == 0 && res &&
		    res->pw_uid == who->uid)
			return 0;
		return trl_error_set(err, TRL_EPERM,
				     "permission denied: only root and the ssh-keys-user of trellisd.conf may read ssh keys");
	}
	case ACCESS_SEE:
	case ACCESS_LOGIN:
		if (row && row->owner_uid == who->uid)
			return 0;
		if (row && who->kind == PRINCIPAL_SSH && !strcmp(who->ssh_slice, row->name))
			return 0;
		break;
	case ACCESS_CHANGE:
	case ACCESS_DELETE:
		if (row && row->owner_uid == who->uid)
			return 0;
		break;
	}
	return trl_error_set(err, TRL_ENOTFOUND, "no slice '%s'", row ? row->name : "?");
}

int access_request(const struct op_ctx *oc, const struct proto_request *req, struct trl_error *err)
{
	enum access_op rule = access_rule(req->op);

	/* placement: is the multi-node fan-out's and the cluster's (realize() runs as root), never a tenant's. */
	if ((req->op == PROTO_OP_SLICE_CREATE || req->op == PROTO_OP_SLICE_APPLY) && req->placement &&
	    !caller_is_privileged(&oc->who))
		return trl_error_set(err, TRL_EPERM,
				     "placement: permission denied: only root places a slice's routers and link keys (the multi-node CLI, or the cluster)");
	switch (rule) {
	case ACCESS_CREATE:
	case ACCESS_SSH_KEYS:
	case ACCESS_ROOT:
		return access_check(oc, rule, NULL, err);
	default:
		/* The handler checks the slice's row: a refusal must look like a missing slice. */
		return 0;
	}
}
