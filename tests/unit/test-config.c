/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for trellisd/conf.c: trellisd.conf values and errors with file:line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "tap.h"
#include "conf.h"
#include "log.h"

static int parse(struct config *c, const char *text, struct trl_error *err)
{
	config_init(c, "/usr/bin/trellis-ssh");
	memset(err, 0, sizeof(*err));
	return config_parse(c, "t.conf", text, strlen(text), err);
}

static void fails(const char *text, const char *msg)
{
	struct config c;
	struct trl_error err;
	int r = parse(&c, text, &err);

	ok(r == -TRL_EINVALID && strstr(err.msg, msg), "refused: %s", msg);
	if (!(r == -TRL_EINVALID && strstr(err.msg, msg)))
		printf("#   got %d '%s'\n", r, err.msg);
}

/* ---- control socket limits ---- */
static void socket_limits(void)
{
	struct config c;
	struct trl_error err;

	is_int(parse(&c, "", &err), 0, "socket limits: defaults");
	ok(c.sock.max_connections == 256 && c.sock.max_connections_per_user == 32 && c.sock.root_connections == 16 &&
		   c.sock.request_timeout == 10 && c.sock.request_memory == 64ULL << 20,
	   "socket limits: 256 connections, 32 per user, 16 for root, 10 s, 64 MiB");
	is_int(parse(&c,
		     "max-connections = 1000\n"
		     "max-connections-per-user = 8\n"
		     "root-connections = 50\n"
		     "request-timeout = 5s\n"
		     "request-memory = 128M\n",
		     &err),
	       0, "socket limits: all keys");
	ok(c.sock.max_connections == 1000 && c.sock.max_connections_per_user == 8 && c.sock.root_connections == 50 &&
		   c.sock.request_timeout == 5 && c.sock.request_memory == 128ULL << 20,
	   "socket limits: values read");
	fails("max-connections = 0\n", "t.conf:1: max-connections: '0' is not a number from 8 to 4096");
	fails("max-connections = many\n", "max-connections: 'many' is not a number");
	fails("max-connections-per-user = -1\n", "max-connections-per-user: '-1' is not a number from 1 to 4096");
	fails("request-timeout = 0\n", "request-timeout: '0' is not a number from 1 to 600");
	fails("request-timeout = 10m\n", "request-timeout: '10m' is not a number");
	fails("request-memory = 1M\n", "request-memory: '1M' is not a size from 34M to 64G");
	fails("request-memory = lots\n", "request-memory: 'lots' is not a size");
	fails("max-connections = 16\n", "t.conf:1: root-connections: 16 leaves no connection for other users (max-connections = 16)");
	fails("max-connections = 64\nmax-connections-per-user = 60\n",
	      "t.conf:2: max-connections-per-user: 60 is more than max-connections less root-connections (48)");
}

/* ---- link captures ---- */
static void capture_limits(void)
{
	struct config c;
	struct trl_error err;

	is_int(parse(&c, "", &err), 0, "capture limits: defaults");
	ok(c.capture.max == 16 && c.capture.max_per_user == 4 && c.capture.max_seconds == 3600 &&
		   c.capture.max_packets == 10000000,
	   "capture limits: 16 captures, 4 per user, 3600 s, 10000000 frames");
	is_int(parse(&c, "capture-max = 64\ncapture-max-per-user = 8\ncapture-max-seconds = 60\ncapture-max-packets = 1000\n",
		     &err),
	       0, "capture limits: all keys");
	ok(c.capture.max == 64 && c.capture.max_per_user == 8 && c.capture.max_seconds == 60 &&
		   c.capture.max_packets == 1000,
	   "capture limits: values read");
	fails("capture-max = 0\n", "t.conf:1: capture-max: '0' is not a number from 1 to 256");
	fails("capture-max-seconds = 100000\n", "capture-max-seconds: '100000' is not a number from 1 to 86400");
	fails("capture-max-packets = lots\n", "capture-max-packets: 'lots' is not a number");
	fails("capture-max = 2\n", "t.conf:1: capture-max-per-user: 4 is more than capture-max (2)");
}

int main(void)
{
	struct config c;
	struct trl_error err;
	char why[256];
	unsigned a, b;
	int v;

	is_int(parse(&c, "", &err), 0, "an empty file is fine");
	ok(!c.allow_tenant_create && !c.ssh_login && !c.n_tenant_users && !c.n_tenant_groups,
	   "defaults: policy closed, no lists");
	is_str(c.ssh_shell, "/usr/bin/trellis-ssh", "default ssh-shell");
	ok(!c.o.state_dir[0] && !c.o.parallel && !c.o.log_level, "option keys unset by default");

	is_int(parse(&c,
		     "# a comment\n"
		     "\n"
		     "   allow-tenant-create   =   yes   \n"
		     "tenant-users = alice, bob carol\r\n"
		     "tenant-groups = staff\n"
		     "state-dir = /srv/trellis state\n"
		     "socket = /run/t/t.sock\n"
		     "node = n1\n"
		     "template-path = /a:/b\n"
		     "parallel = 4\n"
		     "uid-range = 1000000:262144\n"
		     "log-level = debug\n"
		     "syslog = no\n"
		     "substrate = eth0\n"
		     "address = 198.18.0.1\n"
		     "ssh-login = on\n"
		     "ssh-shell = /opt/t/trellis-ssh\n"
		     "ssh-keys-user = trellis-keys\n",
		     &err),
	       0, "every key parses");
	if (err.msg[0])
		printf("#   %s\n", err.msg);
	ok(c.allow_tenant_create == 1 && c.ssh_login == 1, "booleans yes/on");
	is_int(c.n_tenant_users, 3, "three tenant users (commas and spaces separate)");
	ok(config_list_has(c.tenant_users, c.n_tenant_users, "carol") &&
	   !config_list_has(c.tenant_users, c.n_tenant_users, "dave"), "list lookup");
	is_int(c.n_tenant_groups, 1, "one tenant group");
	is_str(c.o.state_dir, "/srv/trellis state", "a value keeps inner spaces");
	is_str(c.tenant_users[0], "alice", "first user");
	is_int(c.o.parallel, 4, "parallel");
	is_int(c.o.log_level, LOG_LVL_DEBUG + 1, "log-level");
	is_str(c.o.uid_range, "1000000:262144", "uid-range");
	is_str(c.ssh_keys_user, "trellis-keys", "ssh-keys-user");
	is_str(c.ssh_shell, "/opt/t/trellis-ssh", "ssh-shell");

	fails("parallel = 0\n", "t.conf:1: parallel: '0' is not a number from 1 to 64");
	fails("\n\nparallel = 65\n", "t.conf:3: parallel: '65' is not a number from 1 to 64");
	fails("parallel = 4x\n", "'4x' is not a number");
	fails("allow-tenant-create = maybe\n", "t.conf:1: allow-tenant-create: 'maybe' is not yes or no");
	fails("allow-tenant-crate = yes\n", "unknown key 'allow-tenant-crate' (did you mean 'allow-tenant-create'?)");
	fails("frobnicate = 1\n", "t.conf:1: unknown key 'frobnicate' (see trellisd.conf(5))");
	fails("node = a\n# x\nnode = b\n", "t.conf:3: node: set again (first set on line 1)");
	fails("node = Bad_Name\n", "node: 'Bad_Name' is not a valid name");
	fails("just some words\n", "t.conf:1: 'just some words' is not 'key = value'");
	fails(" = 1\n", "t.conf:1: no key before '='");
	fails("socket =\n", "t.conf:1: socket: no value");
	fails("socket = relative/path\n", "socket: 'relative/path' is not an absolute path");
	fails("uid-range = 1000:10\n", "uid-range: '1000:10' is not START:COUNT with COUNT >= 131072");
	fails("uid-range = 1000:200000:3\n", "is not START:COUNT");
	fails("log-level = loud\n", "log-level: 'loud' is not debug, info, warn or error");
	fails("tenant-users = Alice\n", "tenant-users: 'Alice' is not a user name");
	fails("tenant-users = , ,\n", "tenant-users: empty list");
	fails("tenant-groups = a;b\n", "tenant-groups: 'a;b' is not a group name");
	fails("ssh-keys-user = 9lives\n", "ssh-keys-user: '9lives' is not a user name");
	fails("substrate = eth0 eth1\n", "substrate: 'eth0 eth1' is not one word");
	{
		char big[70 * 6 + 32] = "tenant-users =";

		for (int i = 0; i < 70; i++)
			snprintf(big + strlen(big), sizeof(big) - strlen(big), " u%d", i);
		strcat(big, "\n");
		fails(big, "more than 64 users");
	}
	{
		const char nul[] = "node = a\0b\n";
		config_init(&c, NULL);
		is_int(config_parse(&c, "t.conf", nul, sizeof(nul) - 1, &err), -TRL_EINVALID, "a NUL byte is refused");
	}
	is_int(config_load(&c, "/nonexistent/trellisd.conf", 0, &err), 0, "a missing default file is no error");
	is_int(config_load(&c, "/nonexistent/trellisd.conf", 1, &err), -TRL_EINVALID,
	       "a missing --config file is an error");
	like_str(err.msg, "cannot read '/nonexistent/trellisd.conf'", "and says which");

	ok(config_check_uid_range("65536:131072", &a, &b, why, sizeof(why)) == 0 && a == 65536 && b == 131072,
	   "uid range check shared with --uid-range");
	ok(config_check_log_level("warn", &v, why, sizeof(why)) == 0 && v == LOG_LVL_WARN, "log level check");
	ok(config_check_parallel("64", &v, why, sizeof(why)) == 0 && v == 64, "parallel 64 is the maximum");
	ok(config_check_node("n-1", why, sizeof(why)) == 0, "node name check");

	/* Cluster keys: the URL as one word, files as absolute paths, the password only as a file. */
	is_int(parse(&c,
		     "cluster = etcds://10.0.0.1:2379,10.0.0.2:2379\n"
		     "cluster-ca = /etc/trellis/etcd-ca.pem\n"
		     "cluster-cert = /etc/trellis/etcd client.pem\n"
		     "cluster-key = /etc/trellis/etcd-client.key\n"
		     "cluster-user = trellis\n"
		     "cluster-password-file = /etc/trellis/etcd.pw\n",
		     &err),
	       0, "the cluster keys parse");
	is_str(c.o.cluster, "etcds://10.0.0.1:2379,10.0.0.2:2379", "cluster");
	is_str(c.o.cluster_cert, "/etc/trellis/etcd client.pem", "cluster-cert (a path may hold spaces)");
	ok(!strcmp(c.o.cluster_user, "trellis") && !strcmp(c.o.cluster_password_file, "/etc/trellis/etcd.pw") &&
		   !strcmp(c.o.cluster_ca, "/etc/trellis/etcd-ca.pem") && !strcmp(c.o.cluster_key, "/etc/trellis/etcd-client.key"),
	   "cluster-ca, -key, -user, -password-file");
	fails("cluster-ca = etcd-ca.pem\n", "t.conf:1: cluster-ca: 'etcd-ca.pem' is not an absolute path");
	fails("cluster = etcd://a:1 etcd://b:2\n", "cluster: 'etcd://a:1 etcd://b:2' is not one word");
	fails("cluster-pasword-file = /x\n", "unknown key 'cluster-pasword-file' (did you mean 'cluster-password-file'?)");

	/* HTTP endpoint keys: the address one word, files absolute paths. */
	is_int(parse(&c,
		     "http = 127.0.0.1:9465\n"
		     "http-tokens = /etc/trellis/http-tokens\n"
		     "http-cert = /etc/trellis/http.pem\n"
		     "http-key = /etc/trellis/http.key\n"
		     "http-client-ca = /etc/trellis/http-ca.pem\n",
		     &err),
	       0, "the http keys parse");
	ok(!strcmp(c.o.http, "127.0.0.1:9465") && !strcmp(c.o.http_tokens, "/etc/trellis/http-tokens") &&
		   !strcmp(c.o.http_cert, "/etc/trellis/http.pem") && !strcmp(c.o.http_key, "/etc/trellis/http.key") &&
		   !strcmp(c.o.http_client_ca, "/etc/trellis/http-ca.pem"),
	   "http, http-tokens, -cert, -key, -client-ca");
	fails("http-tokens = tokens\n", "t.conf:1: http-tokens: 'tokens' is not an absolute path");
	fails("http-token = /x\n", "unknown key 'http-token' (did you mean 'http-tokens'?)");

	/* The password file: its first line; root's alone. */
	{
		char dir[] = "/tmp/test-config.XXXXXX", path[64], pw[64];
		FILE *f;

		if (!mkdtemp(dir))
			skip_all("mkdtemp failed");
		snprintf(path, sizeof(path), "%s/pw", dir);
		f = fopen(path, "w");
		fputs("s3cret word\nsecond line\n", f);
		fclose(f);
		chmod(path, 0600);
		if (geteuid() == 0) {
			is_int(config_read_secret("cluster-password-file", path, pw, sizeof(pw), &err), 0, "a root-only password file is read");
			is_str(pw, "s3cret word", "its first line is the password");
			chmod(path, 0644);
			is_int(config_read_secret("cluster-password-file", path, pw, sizeof(pw), &err), -TRL_EINVALID,
			       "a password file others may read is refused");
			like_str(err.msg, "readable by no one else", "and says why: %s", err.msg);
			like_str(err.msg, "mode 0644", "with its mode");
			chmod(path, 0640);
			is_int(config_read_secret("cluster-password-file", path, pw, sizeof(pw), &err), 0,
			       "its group may read it");
			chmod(path, 0660);
			is_int(config_read_secret("cluster-password-file", path, pw, sizeof(pw), &err), -TRL_EINVALID,
			       "its group may not write it");
		} else {
			is_int(config_read_secret("cluster-password-file", path, pw, sizeof(pw), &err), -TRL_EINVALID,
			       "a password file not owned by root is refused");
			like_str(err.msg, "owned by root", "and says why: %s", err.msg);
		}
		unlink(path);
		is_int(config_read_secret("cluster-password-file", path, pw, sizeof(pw), &err), -TRL_EINVALID,
		       "a missing password file is an error");
		like_str(err.msg, "cluster-password-file '", "naming the option: %s", err.msg);
		like_str(err.msg, "cannot read it: No such file or directory", "and the reason");
		rmdir(dir);
	}
	/* Tenant policy: built-in defaults safe on a small host, values as in a spec, none lifts a bound. */
	is_int(parse(&c, "", &err), 0, "no tenant keys");
	ok(c.tenant_max_slices == 8 && c.tenant_max_routers == 32 && c.tenant_max.memory == 1ULL << 30 &&
		   c.tenant_default.pids == 512 && c.tenant_default.memory == 256ULL << 20 && c.tenant_default.cpu == 0.25 &&
		   !c.tenant_default.disk,
	   "tenant defaults: 8 slices, 32 routers, 1G max; 0.25 core, 256M, 512 pids by default");
	is_int(parse(&c,
		     "tenant-max-slices = 2\ntenant-max-routers = none\ntenant-max-memory = 512M\n"
		     "tenant-default-memory = 64M\ntenant-default-disk = 64M\ntenant-max-cpu = 0.2\n",
		     &err),
	       0, "tenant keys parse");
	ok(c.tenant_max_slices == 2 && !c.tenant_max_routers && c.tenant_max.memory == 512ULL << 20 &&
		   c.tenant_default.memory == 64ULL << 20 && c.tenant_default.disk == 64ULL << 20,
	   "tenant values stored");
	ok(c.tenant_default.cpu == 0.2, "a built-in default follows a lower maximum down");
	fails("tenant-max-memory = 128M\ntenant-default-memory = 512M\n",
	      "t.conf:2: tenant-default-memory: the default memory 512M is above the maximum 128M (tenant-max-memory)");
	fails("tenant-max-pids = 10\n", "t.conf:1: tenant-max-pids: pids 10 is below the 16 a router needs");
	fails("tenant-max-slices = 0\n", "t.conf:1: tenant-max-slices: '0' is not a number from 1");
	fails("tenant-default-cpu = lots\n", "tenant-default-cpu: 'lots' is not a number of cores");
	fails("# ssh\n\nssh-login = yes\n", "t.conf:3: ssh-login: yes needs ssh-keys-user");
	/* Names the system must know: checked at load, naming the line. */
	is_int(parse(&c, "allow-tenant-create = yes\ntenant-users = root, nosuchuser84x\n", &err), 0, "syntax is fine");
	is_int(config_check_system(&c, &err), -TRL_EINVALID, "an unknown tenant user is refused");
	like_str(err.msg, "t.conf:2: tenant-users: no user 'nosuchuser84x' on this host", "naming file:line and key: %s",
		 err.msg);
	parse(&c, "tenant-groups = nosuchgroup84x\n", &err);
	is_int(config_check_system(&c, &err), -TRL_EINVALID, "an unknown tenant group is refused");
	like_str(err.msg, "t.conf:1: tenant-groups: no group 'nosuchgroup84x'", "%s", err.msg);
	parse(&c, "ssh-login = yes\nssh-keys-user = nosuchuser84x\n", &err);
	is_int(config_check_system(&c, &err), -TRL_EINVALID, "an unknown ssh-keys-user is refused");
	like_str(err.msg, "t.conf:2: ssh-keys-user: no user 'nosuchuser84x'", "%s", err.msg);
	parse(&c, "tenant-users = root\nssh-login = yes\nssh-keys-user = root\n", &err);
	is_int(config_check_system(&c, &err), 0, "known names pass");

	socket_limits();
	capture_limits();
	plan(tap_n);
	return done();
}
