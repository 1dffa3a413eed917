/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: trellisd.conf, the operator's configuration file
 *
 * Plain "key = value" lines; '#' starts a comment line; blank lines are
 * ignored; a key may appear once.  Every value is checked while the file is
 * read, so an error names the file, the line and the key:
 *   /etc/trellis/trellisd.conf:7: parallel: '0' is not a number from 1 to 64
 * Keys (trellisd.conf(5)): the daemon's command-line options without their
 * dashes (state-dir, socket, node, template-path, parallel, uid-range,
 * log-level, syslog, substrate, address, capacity, cluster, cluster-ca,
 * cluster-cert, cluster-key, cluster-user, cluster-password-file, http,
 * http-tokens, http-cert, http-key, http-client-ca) as
 * defaults the command line overrides, and the operator's policy:
 * allow-tenant-create, tenant-users, tenant-groups, ssh-login, ssh-shell,
 * ssh-keys-user, ssh-group, sshd, sshd-config, and the tenant policy
 * (tenant-max-slices, tenant-max-routers, tenant-max-{cpu,memory,pids,disk},
 * tenant-default-{cpu,memory,pids,disk}): what the slices a tenant (any owner
 * but root) creates may hold here; and the control socket's limits:
 * max-connections, max-connections-per-user, root-connections,
 * request-timeout, request-memory; link captures: capture-max,
 * capture-max-per-user, capture-max-seconds, capture-max-packets.
 *
 * config_load() also checks what needs the system: every user and group it
 * names exists, and ssh-login = yes comes with an ssh-keys-user.
 *
 * This module only parses and checks; main.c applies the values and
 * access.c (access_check) enforces the policy.
 */
#ifndef TRELLISD_CONF_H
#define TRELLISD_CONF_H

#include <stdint.h>
#include "error.h"
#include "model.h"

#define CONFIG_DEFAULT_PATH "/etc/trellis/trellisd.conf"
#define CONFIG_MAX_NAMES 64
#define CONFIG_NAME_MAX 32	/* user and group names */

/* Values of the command-line-option keys; "" (or 0) when not set. */
struct config_opts {
	char state_dir[4096];
	char socket[4096];
	char node[64];
	char template_path[8192];
	int parallel;
	char uid_range[64];
	int log_level;		/* LOG_LVL_* + 1; 0 unset */
	int syslog;		/* 1 yes, 0 unset or no */
	char substrate[64];
	char address[64];
	char capacity[32];	/* a rate, checked where --capacity is */
	char cluster[512];	/* etcd://... or etcds://..., checked by etcd_open_opts() */
	char cluster_ca[4096];
	char cluster_cert[4096];
	char cluster_key[4096];
	char cluster_user[128];
	char cluster_password_file[4096];
	/* the HTTP listener (http.h, trellisd(8) HTTP ENDPOINT) */
	char http[128];		/* ADDR:PORT, checked by http_start() */
	char http_tokens[4096];
	char http_cert[4096];
	char http_key[4096];
	char http_client_ca[4096];
};

/*
 * Control socket limits (server.c enforces them; trellisd.conf(5), CONTROL SOCKET).
 * Every client holds a connection, a thread and a request buffer: these cap them.
 */
#define CONFIG_MAX_CONNECTIONS 256
#define CONFIG_MAX_CONNECTIONS_PER_USER 32
#define CONFIG_ROOT_CONNECTIONS 16
#define CONFIG_REQUEST_TIMEOUT 10		/* seconds */
#define CONFIG_REQUEST_MEMORY (64ULL << 20)
#define CONFIG_REQUEST_MEMORY_MIN (34ULL << 20)	/* half of it holds the largest request (16 MiB) */

struct config_socket {
	unsigned max_connections;	/* all clients together, root included */
	unsigned max_connections_per_user;	/* each uid but root */
	unsigned root_connections;	/* of max_connections, only root may use these */
	unsigned request_timeout;	/* seconds from connect to a complete request */
	uint64_t request_memory;	/* bytes buffered for requests of users other than root, together;
					   one uid at most half of it */
};

/*
 * Link captures (capture.c enforces them; trellisd.conf(5), LINK CAPTURES).
 */
#define CONFIG_CAPTURE_MAX 16
#define CONFIG_CAPTURE_MAX_BOUND 256		/* most capture-max may say */
#define CONFIG_CAPTURE_MAX_PER_USER 4
#define CONFIG_CAPTURE_MAX_SECONDS 3600
#define CONFIG_CAPTURE_MAX_PACKETS 10000000

struct config_capture {
	unsigned max;		/* on this node at once, root's included */
	unsigned max_per_user;	/* of one uid but root */
	unsigned max_seconds;	/* a capture's longest (and default) duration */
	unsigned max_packets;	/* ... and frame count */
};

struct config {
	struct config_opts o;
	struct config_socket sock;
	struct config_capture capture;
	int allow_tenant_create;	/* default no: only root creates slices */
	char tenant_users[CONFIG_MAX_NAMES][CONFIG_NAME_MAX + 1];	/* empty lists: any user */
	int n_tenant_users;
	char tenant_groups[CONFIG_MAX_NAMES][CONFIG_NAME_MAX + 1];
	int n_tenant_groups;
	int ssh_login;			/* default no: no per-slice ssh accounts */
	char ssh_shell[4096];		/* the slice accounts' login shell (trellis-ssh) */
	char ssh_keys_user[CONFIG_NAME_MAX + 1];	/* may read any slice's ssh keys */
	char ssh_group[CONFIG_NAME_MAX + 1];	/* the slice accounts' group (sshd_config Match Group) */
	char sshd[4096];		/* sshd, asked for its effective configuration (sshd -T) */
	char sshd_config[4096];		/* the configuration that sshd serves */

	/*
	 * Tenant policy: binds every slice whose owner is not root (root's
	 * own slices are not bound).  Maxima are per tenant on this node
	 * (slices, routers) and per router (cpu, memory, pids, disk); 0 = none.
	 * tenant_default: what a tenant's router gets for a limit neither it
	 * nor its slice's router-defaults declare; 0 fields = none.
	 */
	unsigned tenant_max_slices;
	unsigned tenant_max_routers;
	struct trl_limits tenant_max;
	struct trl_limits tenant_default;

	/* Where the file set the keys config_load() checks against the system. */
	char path[4096];
	unsigned line_tenant_users, line_tenant_groups, line_ssh_login, line_ssh_keys_user;
};

#define CONFIG_SSH_GROUP "trellis-ssh"
#define CONFIG_SSHD "/usr/sbin/sshd"
#define CONFIG_SSHD_CONFIG "/etc/ssh/sshd_config"

/* Tenant policy defaults (trellisd.conf(5) says why these). */
#define CONFIG_TENANT_MAX_SLICES 8
#define CONFIG_TENANT_MAX_ROUTERS 32
#define CONFIG_TENANT_MAX_CPU 2.0
#define CONFIG_TENANT_MAX_MEMORY (1ULL << 30)
#define CONFIG_TENANT_MAX_PIDS 4096
#define CONFIG_TENANT_MAX_DISK (4ULL << 30)
#define CONFIG_TENANT_DEFAULT_CPU 0.25
#define CONFIG_TENANT_DEFAULT_MEMORY (256ULL << 20)
#define CONFIG_TENANT_DEFAULT_PIDS 512

/* Defaults (everything unset, policy closed; ssh_shell = @ssh_shell). */
void config_init(struct config *c, const char *ssh_shell);
/* Parse @text (@len bytes) named @filename into @c.  -TRL_EINVALID with
 * "FILE:LINE: key: reason" in @err. */
int config_parse(struct config *c, const char *filename, const char *text, size_t len, struct trl_error *err);
/* Read and parse @path.  A missing file is an error only if @must_exist.
 * Then config_check_system(). */
int config_load(struct config *c, const char *path, int must_exist, struct trl_error *err);

/*
 * What the file names must exist: the users of tenant-users and
 * ssh-keys-user, the groups of tenant-groups.  -TRL_EINVALID with
 * "FILE:LINE: key: reason" in @err.
 */
int config_check_system(const struct config *c, struct trl_error *err);

/* Checks shared with the command line; 0 or -1 with a reason in @why. */
int config_check_parallel(const char *v, int *out, char *why, size_t len);
int config_check_log_level(const char *v, int *out, char *why, size_t len);
int config_check_uid_range(const char *v, unsigned *start, unsigned *count, char *why, size_t len);
int config_check_node(const char *v, char *why, size_t len);

/*
 * Read a secret (the etcd password) from @path into @out: its first line.
 * The file must be owned by root, not writable by its group and not
 * accessible to others; errors name @what (the option) and @path.
 */
int config_read_secret(const char *what, const char *path, char *out, size_t outlen, struct trl_error *err);

/*
 * Is @field ("cpu", "memory", "pids" or "disk") of @v above that of @max
 * (neither 0)?  1 with both values as text (as a spec writes them), else 0.
 */
int config_limit_above(const struct trl_limits *v, const struct trl_limits *max, const char *field, char *vtext,
		       size_t vlen, char *mtext, size_t mlen);

/* Is @name on the list? */
int config_list_has(const char (*list)[CONFIG_NAME_MAX + 1], int n, const char *name);

#endif
