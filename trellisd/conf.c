/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: trellisd.conf parser
 *
 * One pass over the lines.  A line is "key = value" (spaces around '=' and
 * at both ends are dropped; the value is the rest of the line, so paths may
 * hold spaces).  A table maps each key to a setter that checks and stores
 * the value; the setter's reason becomes "FILE:LINE: key: reason".
 * Lists (tenant-users, tenant-groups) are separated by spaces or commas.
 * Checks between keys (a default above its maximum, ssh-login without
 * ssh-keys-user) run once the whole file is read and name the line of the
 * key at fault; checks against the system (do the users exist?) run in
 * config_check_system(), from config_load().
 * The control socket's limits are checked together after the last line too.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "conf.h"
#include "log.h"
#include "names.h"
#include "spec.h"
#include "units.h"
#include "util.h"

#define CONFIG_MAX_SIZE (1u << 20)

void config_init(struct config *c, const char *ssh_shell)
{
	memset(c, 0, sizeof(*c));
	c->sock.max_connections = CONFIG_MAX_CONNECTIONS;
	c->sock.max_connections_per_user = CONFIG_MAX_CONNECTIONS_PER_USER;
	c->sock.root_connections = CONFIG_ROOT_CONNECTIONS;
	c->sock.request_timeout = CONFIG_REQUEST_TIMEOUT;
	c->sock.request_memory = CONFIG_REQUEST_MEMORY;
	c->capture.max = CONFIG_CAPTURE_MAX;
	c->capture.max_per_user = CONFIG_CAPTURE_MAX_PER_USER;
	c->capture.max_seconds = CONFIG_CAPTURE_MAX_SECONDS;
	c->capture.max_packets = CONFIG_CAPTURE_MAX_PACKETS;
	snprintf(c->ssh_shell, sizeof(c->ssh_shell), "%s", ssh_shell ? ssh_shell : "");
	snprintf(c->ssh_group, sizeof(c->ssh_group), "%s", CONFIG_SSH_GROUP);
	snprintf(c->sshd, sizeof(c->sshd), "%s", CONFIG_SSHD);
	snprintf(c->sshd_config, sizeof(c->sshd_config), "%s", CONFIG_SSHD_CONFIG);
	c->tenant_max_slices = CONFIG_TENANT_MAX_SLICES;
	c->tenant_max_routers = CONFIG_TENANT_MAX_ROUTERS;
	c->tenant_max.cpu = CONFIG_TENANT_MAX_CPU;
	c->tenant_max.memory = CONFIG_TENANT_MAX_MEMORY;
	c->tenant_max.pids = CONFIG_TENANT_MAX_PIDS;
	c->tenant_max.disk = CONFIG_TENANT_MAX_DISK;
	c->tenant_default.cpu = CONFIG_TENANT_DEFAULT_CPU;
	c->tenant_default.memory = CONFIG_TENANT_DEFAULT_MEMORY;
	c->tenant_default.pids = CONFIG_TENANT_DEFAULT_PIDS;
}

int config_check_parallel(const char *v, int *out, char *why, size_t len)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < 1 || n > 64) {
		snprintf(why, len, "'%s' is not a number from 1 to 64", v);
		return -1;
	}
	*out = (int)n;
	return 0;
}

int config_check_log_level(const char *v, int *out, char *why, size_t len)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(v, names[i])) {
			*out = (int)i;	/* enum log_level order */
			return 0;
		}
	snprintf(why, len, "'%s' is not debug, info, warn or error", v);
	return -1;
}

int config_check_uid_range(const char *v, unsigned *start, unsigned *count, char *why, size_t len)
{
	char tail;

	if (sscanf(v, "%u:%u%c", start, count, &tail) != 2 || *count < 2 * 65536) {
		snprintf(why, len, "'%s' is not START:COUNT with COUNT >= 131072", v);
		return -1;
	}
	return 0;
}

int config_check_node(const char *v, char *why, size_t len)
{
	if (!names_valid(v)) {
		snprintf(why, len, "'%s' is not a valid name ([a-z][a-z0-9-]*, at most 15 characters)", v);
		return -1;
	}
	return 0;
}

int config_list_has(const char (*list)[CONFIG_NAME_MAX + 1], int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(list[i], name))
			return 1;
	return 0;
}

/* A user or group name as useradd(8) accepts them. */
static int account_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CONFIG_NAME_MAX || !(islower((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_' || s[i] == '-' ||
		      (s[i] == '$' && i == n - 1)))
			return 0;
	return 1;
}

static int parse_bool(const char *v, int *out, char *why, size_t len)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0")) {
		*out = 0;
		return 0;
	}
	snprintf(why, len, "'%s' is not yes or no", v);
	return -1;
}

static int parse_list(const char *v, char (*list)[CONFIG_NAME_MAX + 1], int *n, const char *what, char *why,
		      size_t len)
{
	const char *p = v;

	*n = 0;
	while (*p) {
		size_t k;
		char name[256];

		p += strspn(p, " \t,");
		if (!*p)
			break;
		k = strcspn(p, " \t,");
		if (k >= sizeof(name)) {
			snprintf(why, len, "a %s name is longer than %d characters", what, CONFIG_NAME_MAX);
			return -1;
		}
		memcpy(name, p, k);
		name[k] = '\0';
		p += k;
		if (!account_name_ok(name)) {
			snprintf(why, len, "'%s' is not a %s name (lowercase letters, digits, '_' or '-', at most %d)",
				 name, what, CONFIG_NAME_MAX);
			return -1;
		}
		if (*n >= CONFIG_MAX_NAMES) {
			snprintf(why, len, "more than %d %ss", CONFIG_MAX_NAMES, what);
			return -1;
		}
		snprintf(list[(*n)++], CONFIG_NAME_MAX + 1, "%s", name);
	}
	if (*n == 0) {
		snprintf(why, len, "empty list (leave the key out to allow every %s)", what);
		return -1;
	}
	return 0;
}

static int set_path(char *dst, size_t dlen, const char *v, char *why, size_t len)
{
	if (v[0] != '/') {
		snprintf(why, len, "'%s' is not an absolute path", v);
		return -1;
	}
	if (strlen(v) >= dlen) {
		snprintf(why, len, "path longer than %zu bytes", dlen - 1);
		return -1;
	}
	snprintf(dst, dlen, "%s", v);
	return 0;
}

static int set_word(char *dst, size_t dlen, const char *v, char *why, size_t len)
{
	if (strlen(v) >= dlen || strpbrk(v, " \t")) {
		snprintf(why, len, "'%s' is not one word of at most %zu characters", v, dlen - 1);
		return -1;
	}
	snprintf(dst, dlen, "%s", v);
	return 0;
}

enum key_id {
	K_STATE_DIR,
	K_SOCKET,
	K_NODE,
	K_TEMPLATE_PATH,
	K_PARALLEL,
	K_UID_RANGE,
	K_LOG_LEVEL,
	K_SYSLOG,
	K_SUBSTRATE,
	K_ADDRESS,
	K_CAPACITY,
	K_ALLOW_TENANT_CREATE,
	K_TENANT_USERS,
	K_TENANT_GROUPS,
	K_SSH_LOGIN,
	K_SSH_SHELL,
	K_SSH_KEYS_USER,
	K_SSH_GROUP,
	K_SSHD,
	K_SSHD_CONFIG,
	K_CLUSTER,
	K_CLUSTER_CA,
	K_CLUSTER_CERT,
	K_CLUSTER_KEY,
	K_CLUSTER_USER,
	K_CLUSTER_PASSWORD_FILE,
	K_HTTP,
	K_HTTP_TOKENS,
	K_HTTP_CERT,
	K_HTTP_KEY,
	K_HTTP_CLIENT_CA,
	/* tenant policy */
	K_TENANT_MAX_SLICES,
	K_TENANT_MAX_ROUTERS,
	K_TENANT_MAX_CPU,
	K_TENANT_MAX_MEMORY,
	K_TENANT_MAX_PIDS,
	K_TENANT_MAX_DISK,
	K_TENANT_DEFAULT_CPU,
	K_TENANT_DEFAULT_MEMORY,
	K_TENANT_DEFAULT_PIDS,
	K_TENANT_DEFAULT_DISK,
	/* control socket limits */
	K_MAX_CONNECTIONS,
	K_MAX_CONNECTIONS_PER_USER,
	K_ROOT_CONNECTIONS,
	K_REQUEST_TIMEOUT,
	K_REQUEST_MEMORY,
	/* link captures */
	K_CAPTURE_MAX,
	K_CAPTURE_MAX_PER_USER,
	K_CAPTURE_MAX_SECONDS,
	K_CAPTURE_MAX_PACKETS,
	K_COUNT,
};

static const char *const key_names[K_COUNT] = {
	[K_STATE_DIR] = "state-dir",
	[K_SOCKET] = "socket",
	[K_NODE] = "node",
	[K_TEMPLATE_PATH] = "template-path",
	[K_PARALLEL] = "parallel",
	[K_UID_RANGE] = "uid-range",
	[K_LOG_LEVEL] = "log-level",
	[K_SYSLOG] = "syslog",
	[K_SUBSTRATE] = "substrate",
	[K_ADDRESS] = "address",
	[K_CAPACITY] = "capacity",
	[K_ALLOW_TENANT_CREATE] = "allow-tenant-create",
	[K_TENANT_USERS] = "tenant-users",
	[K_TENANT_GROUPS] = "tenant-groups",
	[K_SSH_LOGIN] = "ssh-login",
	[K_SSH_SHELL] = "ssh-shell",
	[K_SSH_KEYS_USER] = "ssh-keys-user",
	[K_SSH_GROUP] = "ssh-group",
	[K_SSHD] = "sshd",
	[K_SSHD_CONFIG] = "sshd-config",
	[K_CLUSTER] = "cluster",
	[K_CLUSTER_CA] = "cluster-ca",
	[K_CLUSTER_CERT] = "cluster-cert",
	[K_CLUSTER_KEY] = "cluster-key",
	[K_CLUSTER_USER] = "cluster-user",
	[K_CLUSTER_PASSWORD_FILE] = "cluster-password-file",
	[K_HTTP] = "http",
	[K_HTTP_TOKENS] = "http-tokens",
	[K_HTTP_CERT] = "http-cert",
	[K_HTTP_KEY] = "http-key",
	[K_HTTP_CLIENT_CA] = "http-client-ca",
	[K_TENANT_MAX_SLICES] = "tenant-max-slices",
	[K_TENANT_MAX_ROUTERS] = "tenant-max-routers",
	[K_TENANT_MAX_CPU] = "tenant-max-cpu",
	[K_TENANT_MAX_MEMORY] = "tenant-max-memory",
	[K_TENANT_MAX_PIDS] = "tenant-max-pids",
	[K_TENANT_MAX_DISK] = "tenant-max-disk",
	[K_TENANT_DEFAULT_CPU] = "tenant-default-cpu",
	[K_TENANT_DEFAULT_MEMORY] = "tenant-default-memory",
	[K_TENANT_DEFAULT_PIDS] = "tenant-default-pids",
	[K_TENANT_DEFAULT_DISK] = "tenant-default-disk",
	/* control socket limits */
	[K_MAX_CONNECTIONS] = "max-connections",
	[K_MAX_CONNECTIONS_PER_USER] = "max-connections-per-user",
	[K_ROOT_CONNECTIONS] = "root-connections",
	[K_REQUEST_TIMEOUT] = "request-timeout",
	[K_REQUEST_MEMORY] = "request-memory",
	/* link captures */
	[K_CAPTURE_MAX] = "capture-max",
	[K_CAPTURE_MAX_PER_USER] = "capture-max-per-user",
	[K_CAPTURE_MAX_SECONDS] = "capture-max-seconds",
	[K_CAPTURE_MAX_PACKETS] = "capture-max-packets",
};

/* tenant-max-slices, tenant-max-routers: a count, or none. */
static int set_count(unsigned *out, const char *v, char *why, size_t len)
{
	char *end;
	unsigned long n;

	if (!strcmp(v, "none")) {
		*out = 0;
		return 0;
	}
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || !isdigit((unsigned char)v[0]) || n < 1 || n > TRL_MAX_ROUTERS * 64) {
		snprintf(why, len, "'%s' is not a number from 1 to %d, or none", v, TRL_MAX_ROUTERS * 64);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

/* tenant-max-* and tenant-default-* limits: a value as in a spec's limits:, or none. */
static int set_limit(struct trl_limits *l, const char *field, const char *v, char *why, size_t len)
{
	struct trl_limits tmp = { 0 };

	if (!strcmp(v, "none")) {
		if (!strcmp(field, "cpu"))
			l->cpu = 0;
		else if (!strcmp(field, "memory"))
			l->memory = 0;
		else if (!strcmp(field, "pids"))
			l->pids = 0;
		else
			l->disk = 0;
		return 0;
	}
	if (spec_limit_parse(field, v, &tmp, why, len) < 0)
		return -1;
	if (!strcmp(field, "cpu"))
		l->cpu = tmp.cpu;
	else if (!strcmp(field, "memory"))
		l->memory = tmp.memory;
	else if (!strcmp(field, "pids"))
		l->pids = tmp.pids;
	else
		l->disk = tmp.disk;
	return 0;
}

/* ---- control socket limits ---- */

static int parse_count(const char *v, unsigned lo, unsigned hi, unsigned *out, char *why, size_t len)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n < lo || n > hi) {
		snprintf(why, len, "'%s' is not a number from %u to %u", v, lo, hi);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

static int set_socket_key(struct config *c, enum key_id k, const char *v, char *why, size_t len)
{
	struct config_socket *s = &c->sock;
	uint64_t bytes;

	switch (k) {
	case K_MAX_CONNECTIONS:
		return parse_count(v, 8, 4096, &s->max_connections, why, len);
	case K_MAX_CONNECTIONS_PER_USER:
		return parse_count(v, 1, 4096, &s->max_connections_per_user, why, len);
	case K_ROOT_CONNECTIONS:
		return parse_count(v, 1, 4096, &s->root_connections, why, len);
	case K_REQUEST_TIMEOUT:
		/* seconds, with or without an "s" */
		if (v[0] && v[strlen(v) - 1] == 's') {
			char num[32];

			snprintf(num, sizeof(num), "%.*s", (int)strlen(v) - 1, v);
			return parse_count(num, 1, 600, &s->request_timeout, why, len);
		}
		return parse_count(v, 1, 600, &s->request_timeout, why, len);
	case K_REQUEST_MEMORY:
		if (units_size_parse(v, &bytes) < 0 || bytes < CONFIG_REQUEST_MEMORY_MIN || bytes > (64ULL << 30)) {
			snprintf(why, len, "'%s' is not a size from 34M to 64G (half of it must hold the largest request, 16 MiB)",
				 v);
			return -1;
		}
		s->request_memory = bytes;
		return 0;
	default:
		break;
	}
	snprintf(why, len, "unknown key");
	return -1;
}

/* The limits together: root's reserve and one user's share fit in the total. */
static int check_socket_keys(const struct config *c, const char *filename, const unsigned *seen,
			     struct trl_error *err)
{
	const struct config_socket *s = &c->sock;

	if (s->root_connections >= s->max_connections)
		return trl_error_set(err, TRL_EINVALID,
				     "%s:%u: root-connections: %u leaves no connection for other users (max-connections = %u)",
				     filename, seen[K_ROOT_CONNECTIONS] ? seen[K_ROOT_CONNECTIONS] : seen[K_MAX_CONNECTIONS],
				     s->root_connections, s->max_connections);
	if (s->max_connections_per_user > s->max_connections - s->root_connections) {
		unsigned line = seen[K_MAX_CONNECTIONS_PER_USER] ? seen[K_MAX_CONNECTIONS_PER_USER] :
				seen[K_MAX_CONNECTIONS] ? seen[K_MAX_CONNECTIONS] : seen[K_ROOT_CONNECTIONS];

		return trl_error_set(err, TRL_EINVALID,
				     "%s:%u: max-connections-per-user: %u is more than max-connections less root-connections (%u)",
				     filename, line, s->max_connections_per_user,
				     s->max_connections - s->root_connections);
	}
	return 0;
}

static int set_key(struct config *c, enum key_id k, const char *v, char *why, size_t len)
{
	struct config_opts *o = &c->o;
	unsigned a, b;
	int lvl;

	switch (k) {
	case K_STATE_DIR:
		return set_path(o->state_dir, sizeof(o->state_dir), v, why, len);
	case K_SOCKET:
		return set_path(o->socket, sizeof(o->socket), v, why, len);
	case K_NODE:
		if (config_check_node(v, why, len) < 0)
			return -1;
		snprintf(o->node, sizeof(o->node), "%s", v);
		return 0;
	case K_TEMPLATE_PATH:
		if (strlen(v) >= sizeof(o->template_path)) {
			snprintf(why, len, "longer than %zu bytes", sizeof(o->template_path) - 1);
			return -1;
		}
		snprintf(o->template_path, sizeof(o->template_path), "%s", v);
		return 0;
	case K_PARALLEL:
		return config_check_parallel(v, &o->parallel, why, len);
	case K_UID_RANGE:
		if (config_check_uid_range(v, &a, &b, why, len) < 0)
			return -1;
		snprintf(o->uid_range, sizeof(o->uid_range), "%s", v);
		return 0;
	case K_LOG_LEVEL:
		if (config_check_log_level(v, &lvl, why, len) < 0)
			return -1;
		o->log_level = lvl + 1;
		return 0;
	case K_SYSLOG:
		return parse_bool(v, &o->syslog, why, len);
	case K_SUBSTRATE:
		return set_word(o->substrate, sizeof(o->substrate), v, why, len);
	case K_ADDRESS:
		return set_word(o->address, sizeof(o->address), v, why, len);
	case K_CAPACITY:
		return set_word(o->capacity, sizeof(o->capacity), v, why, len);
	case K_ALLOW_TENANT_CREATE:
		return parse_bool(v, &c->allow_tenant_create, why, len);
	case K_TENANT_USERS:
		return parse_list(v, c->tenant_users, &c->n_tenant_users, "user", why, len);
	case K_TENANT_GROUPS:
		return parse_list(v, c->tenant_groups, &c->n_tenant_groups, "group", why, len);
	case K_SSH_LOGIN:
		return parse_bool(v, &c->ssh_login, why, len);
	case K_SSH_SHELL:
		return set_path(c->ssh_shell, sizeof(c->ssh_shell), v, why, len);
	case K_SSH_KEYS_USER:
		if (!account_name_ok(v)) {
			snprintf(why, len, "'%s' is not a user name", v);
			return -1;
		}
		snprintf(c->ssh_keys_user, sizeof(c->ssh_keys_user), "%s", v);
		return 0;
	case K_SSH_GROUP:
		if (!account_name_ok(v)) {
			snprintf(why, len, "'%s' is not a group name", v);
			return -1;
		}
		snprintf(c->ssh_group, sizeof(c->ssh_group), "%s", v);
		return 0;
	case K_SSHD:
		return set_path(c->sshd, sizeof(c->sshd), v, why, len);
	case K_SSHD_CONFIG:
		return set_path(c->sshd_config, sizeof(c->sshd_config), v, why, len);
	case K_CLUSTER:
		return set_word(o->cluster, sizeof(o->cluster), v, why, len);
	case K_CLUSTER_CA:
		return set_path(o->cluster_ca, sizeof(o->cluster_ca), v, why, len);
	case K_CLUSTER_CERT:
		return set_path(o->cluster_cert, sizeof(o->cluster_cert), v, why, len);
	case K_CLUSTER_KEY:
		return set_path(o->cluster_key, sizeof(o->cluster_key), v, why, len);
	case K_CLUSTER_USER:
		return set_word(o->cluster_user, sizeof(o->cluster_user), v, why, len);
	case K_CLUSTER_PASSWORD_FILE:
		return set_path(o->cluster_password_file, sizeof(o->cluster_password_file), v, why, len);
	case K_HTTP:
		return set_word(o->http, sizeof(o->http), v, why, len);
	case K_HTTP_TOKENS:
		return set_path(o->http_tokens, sizeof(o->http_tokens), v, why, len);
	case K_HTTP_CERT:
		return set_path(o->http_cert, sizeof(o->http_cert), v, why, len);
	case K_HTTP_KEY:
		return set_path(o->http_key, sizeof(o->http_key), v, why, len);
	case K_HTTP_CLIENT_CA:
		return set_path(o->http_client_ca, sizeof(o->http_client_ca), v, why, len);
	case K_TENANT_MAX_SLICES:
		return set_count(&c->tenant_max_slices, v, why, len);
	case K_TENANT_MAX_ROUTERS:
		return set_count(&c->tenant_max_routers, v, why, len);
	case K_TENANT_MAX_CPU:
		return set_limit(&c->tenant_max, "cpu", v, why, len);
	case K_TENANT_MAX_MEMORY:
		return set_limit(&c->tenant_max, "memory", v, why, len);
	case K_TENANT_MAX_PIDS:
		return set_limit(&c->tenant_max, "pids", v, why, len);
	case K_TENANT_MAX_DISK:
		return set_limit(&c->tenant_max, "disk", v, why, len);
	case K_TENANT_DEFAULT_CPU:
		return set_limit(&c->tenant_default, "cpu", v, why, len);
	case K_TENANT_DEFAULT_MEMORY:
		return set_limit(&c->tenant_default, "memory", v, why, len);
	case K_TENANT_DEFAULT_PIDS:
		return set_limit(&c->tenant_default, "pids", v, why, len);
	case K_TENANT_DEFAULT_DISK:
		return set_limit(&c->tenant_default, "disk", v, why, len);
	case K_MAX_CONNECTIONS:
	case K_MAX_CONNECTIONS_PER_USER:
	case K_ROOT_CONNECTIONS:
	case K_REQUEST_TIMEOUT:
	case K_REQUEST_MEMORY:
		return set_socket_key(c, k, v, why, len);
	case K_CAPTURE_MAX:
		return parse_count(v, 1, CONFIG_CAPTURE_MAX_BOUND, &c->capture.max, why, len);
	case K_CAPTURE_MAX_PER_USER:
		return parse_count(v, 1, CONFIG_CAPTURE_MAX_BOUND, &c->capture.max_per_user, why, len);
	case K_CAPTURE_MAX_SECONDS:
		return parse_count(v, 1, 86400, &c->capture.max_seconds, why, len);
	case K_CAPTURE_MAX_PACKETS:
		return parse_count(v, 1, 100000000, &c->capture.max_packets, why, len);
	case K_COUNT:
		break;
	}
	snprintf(why, len, "unknown key");
	return -1;
}

/* The known key closest to @k (edit distance <= 3), or NULL. */
static const char *nearest_key(const char *k)
{
	const char *best = NULL;
	size_t best_d = 4, n = strlen(k);

	if (n > 40)
		return NULL;
	for (int i = 0; i < K_COUNT; i++) {
		const char *s = key_names[i];
		size_t m = strlen(s), prev[48], cur[48];

		for (size_t j = 0; j <= m; j++)
			prev[j] = j;
		for (size_t a = 1; a <= n; a++) {
			cur[0] = a;
			for (size_t j = 1; j <= m; j++) {
				size_t del = prev[j] + 1, ins = cur[j - 1] + 1, sub = prev[j - 1] + (k[a - 1] != s[j - 1]);

				cur[j] = del < ins ? del : ins;
				if (sub < cur[j])
					cur[j] = sub;
			}
			memcpy(prev, cur, sizeof(cur));
		}
		if (prev[m] < best_d) {
			best_d = prev[m];
			best = s;
		}
	}
	return best;
}

/*
 * Every tenant default within its maximum.  A built-in default above a
 * maximum the file lowered follows it down; a default the file set above
 * the maximum is an error on the later of the two lines.
 */
static int defaults_check(struct config *c, const char *filename, const unsigned *seen, struct trl_error *err)
{
	static const struct {
		const char *field;
		enum key_id dflt, max;
	} f[] = {
		{ "cpu", K_TENANT_DEFAULT_CPU, K_TENANT_MAX_CPU },
		{ "memory", K_TENANT_DEFAULT_MEMORY, K_TENANT_MAX_MEMORY },
		{ "pids", K_TENANT_DEFAULT_PIDS, K_TENANT_MAX_PIDS },
		{ "disk", K_TENANT_DEFAULT_DISK, K_TENANT_MAX_DISK },
	};

	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		char a[64], b[64];
		enum key_id at;

		if (!config_limit_above(&c->tenant_default, &c->tenant_max, f[i].field, a, sizeof(a), b, sizeof(b)))
			continue;
		if (!seen[f[i].dflt]) {
			if (!strcmp(f[i].field, "cpu"))
				c->tenant_default.cpu = c->tenant_max.cpu;
			else if (!strcmp(f[i].field, "memory"))
				c->tenant_default.memory = c->tenant_max.memory;
			else if (!strcmp(f[i].field, "pids"))
				c->tenant_default.pids = c->tenant_max.pids;
			else
				c->tenant_default.disk = c->tenant_max.disk;
			continue;
		}
		at = seen[f[i].dflt] >= seen[f[i].max] ? f[i].dflt : f[i].max;
		return trl_error_set(err, TRL_EINVALID, "%s:%u: %s: the default %s %s is above the maximum %s (%s)",
				     filename, seen[at], key_names[at], f[i].field, a, b,
				     at == f[i].dflt ? key_names[f[i].max] : key_names[f[i].dflt]);
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int config_parse(struct config *c, const char *filename, const char *text, size_t len, struct trl_error *err)
{
	unsigned seen[K_COUNT] = { 0 };
	size_t off = 0;
	unsigned lineno = 0;
	int r;

	if (memchr(text, '\0', len))
		return trl_error_set(err, TRL_EINVALID, "%s: contains a NUL byte (not a text file)", filename);
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
		char line[8192], *key, *val, *eq, why[512];
		int k;

		lineno++;
		if (n >= sizeof(line))
			return trl_error_set(err, TRL_EINVALID, "%s:%u: line longer than %zu bytes", filename, lineno,
					     sizeof(line) - 1);
		memcpy(line, text + off, n);
		line[n] = '\0';
		off += n + 1;
		key = trim(line);
		if (!*key || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (!eq)
			return trl_error_set(err, TRL_EINVALID, "%s:%u: '%.64s' is not 'key = value'", filename, lineno,
					     key);
		*eq = '\0';
		val = trim(eq + 1);
		key = trim(key);
		if (!*key)
			return trl_error_set(err, TRL_EINVALID, "%s:%u: no key before '='", filename, lineno);
		for (k = 0; k < K_COUNT; k++)
			if (!strcmp(key, key_names[k]))
				break;
		if (k == K_COUNT) {
			const char *near = nearest_key(key);

			if (near)
				return trl_error_set(err, TRL_EINVALID, "%s:%u: unknown key '%.64s' (did you mean '%s'?)",
						     filename, lineno, key, near);
			return trl_error_set(err, TRL_EINVALID, "%s:%u: unknown key '%.64s' (see trellisd.conf(5))",
					     filename, lineno, key);
		}
		if (seen[k])
			return trl_error_set(err, TRL_EINVALID, "%s:%u: %s: set again (first set on line %u)", filename,
					     lineno, key, seen[k]);
		seen[k] = lineno;
		if (!*val)
			return trl_error_set(err, TRL_EINVALID, "%s:%u: %s: no value", filename, lineno, key);
		if (set_key(c, (enum key_id)k, val, why, sizeof(why)) < 0)
			return trl_error_set(err, TRL_EINVALID, "%s:%u: %s: %s", filename, lineno, key, why);
	}
	snprintf(c->path, sizeof(c->path), "%s", filename);
	c->line_tenant_users = seen[K_TENANT_USERS];
	c->line_tenant_groups = seen[K_TENANT_GROUPS];
	c->line_ssh_login = seen[K_SSH_LOGIN];
	c->line_ssh_keys_user = seen[K_SSH_KEYS_USER];
	if (c->ssh_login && !c->ssh_keys_user[0])
		return trl_error_set(err, TRL_EINVALID,
				     "%s:%u: ssh-login: yes needs ssh-keys-user (the user sshd's AuthorizedKeysCommand runs as, see trellis-ssh(8))",
				     filename, seen[K_SSH_LOGIN]);
	if ((r = defaults_check(c, filename, seen, err)) < 0)
		return r;
	if (c->capture.max_per_user > c->capture.max)
		return trl_error_set(err, TRL_EINVALID, "%s:%u: capture-max-per-user: %u is more than capture-max (%u)",
				     filename, seen[K_CAPTURE_MAX_PER_USER] ? seen[K_CAPTURE_MAX_PER_USER] : seen[K_CAPTURE_MAX],
				     c->capture.max_per_user, c->capture.max);
	return check_socket_keys(c, filename, seen, err);
}

int config_load(struct config *c, const char *path, int must_exist, struct trl_error *err)
{
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t len = 0;
	int r = util_read_file(path, CONFIG_MAX_SIZE, &text, &len);

	if (r == -ENOENT && !must_exist)
		return 0;
	/* The file says who may create slices: only root may write it. */
	if (r == 0 && stat(path, &st) == 0 && (st.st_uid != 0 || (st.st_mode & 022)))
		return trl_error_set(err, TRL_EINVALID,
				     "%s: must be owned by root and writable by no one else (owner uid %u, mode %04o)", path,
				     (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	if (r == -EFBIG)
		return trl_error_set(err, TRL_EINVALID, "%s: larger than %u bytes", path, CONFIG_MAX_SIZE);
	if (r < 0)
		return trl_error_errno(err, TRL_EINVALID, -r, "cannot read '%s'", path);
	if ((r = config_parse(c, path, text, len, err)) < 0)
		return r;
	return config_check_system(c, err);
}

int config_limit_above(const struct trl_limits *v, const struct trl_limits *max, const char *field, char *vtext,
		       size_t vlen, char *mtext, size_t mlen)
{
	if (!strcmp(field, "cpu")) {
		if (!max->cpu || !v->cpu || v->cpu <= max->cpu + 1e-9)
			return 0;
		snprintf(vtext, vlen, "%g", v->cpu);
		snprintf(mtext, mlen, "%g", max->cpu);
		return 1;
	}
	if (!strcmp(field, "pids")) {
		if (!max->pids || !v->pids || v->pids <= max->pids)
			return 0;
		snprintf(vtext, vlen, "%" PRIu64, v->pids);
		snprintf(mtext, mlen, "%" PRIu64, max->pids);
		return 1;
	}
	{
		uint64_t a = !strcmp(field, "memory") ? v->memory : v->disk;
		uint64_t m = !strcmp(field, "memory") ? max->memory : max->disk;

		if (!m || !a || a <= m)
			return 0;
		units_size_format(a, vtext, vlen);
		units_size_format(m, mtext, mlen);
		return 1;
	}
}

int config_check_system(const struct config *c, struct trl_error *err)
{
	struct passwd pw, *res;
	struct group gr, *g;
	char buf[16384];

	for (int i = 0; i < c->n_tenant_users; i++) {
		res = NULL;
		if (getpwnam_r(c->tenant_users[i], &pw, buf, sizeof(buf), &res) != 0 || !res)
			return trl_error_set(err, TRL_EINVALID, "%s:%u: tenant-users: no user '%s' on this host", c->path,
					     c->line_tenant_users, c->tenant_users[i]);
	}
	for (int i = 0; i < c->n_tenant_groups; i++) {
		g = NULL;
		if (getgrnam_r(c->tenant_groups[i], &gr, buf, sizeof(buf), &g) != 0 || !g)
			return trl_error_set(err, TRL_EINVALID, "%s:%u: tenant-groups: no group '%s' on this host",
					     c->path, c->line_tenant_groups, c->tenant_groups[i]);
	}
	res = NULL;
	if (c->ssh_keys_user[0] && (getpwnam_r(c->ssh_keys_user, &pw, buf, sizeof(buf), &res) != 0 || !res))
		return trl_error_set(err, TRL_EINVALID, "%s:%u: ssh-keys-user: no user '%s' on this host", c->path,
				     c->line_ssh_keys_user, c->ssh_keys_user);
	return 0;
}

int config_read_secret(const char *what, const char *path, char *out, size_t outlen, struct trl_error *err)
{
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t len = 0, n;
	int r = util_read_file(path, 4096, &text, &len);

	if (r == -EFBIG)
		return trl_error_set(err, TRL_EINVALID, "%s '%s': larger than 4096 bytes (not a password file?)", what, path);
	if (r < 0)
		return trl_error_errno(err, TRL_EINVALID, -r, "%s '%s': cannot read it", what, path);
	/* A secret: root's alone (its group may read it), as the configuration that names it. */
	if (stat(path, &st) < 0) {
		explicit_bzero(text, len);
		return trl_error_errno(err, TRL_EINVALID, errno, "%s '%s'", what, path);
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 027)) {
		explicit_bzero(text, len);
		return trl_error_set(err, TRL_EINVALID,
				     "%s '%s': must be a file owned by root, readable by no one else and writable by root alone (owner uid %u, mode %04o)",
				     what, path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	}
	n = strcspn(text, "\r\n");	/* the first line */
	if (n == 0 || n >= outlen || memchr(text, '\0', n)) {
		explicit_bzero(text, len);
		return trl_error_set(err, TRL_EINVALID, "%s '%s': %s", what, path,
				     n == 0 ? "empty (the password is its first line)" : "the password is too long");
	}
	memcpy(out, text, n);
	out[n] = '\0';
	explicit_bzero(text, len);
	return 0;
}
