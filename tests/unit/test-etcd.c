/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for lib/etcd.c against a real etcd (etcd-server) that the test
 * starts on loopback with its own data directory and ports, and kills at the
 * end.  Skips (77) when etcd is not installed.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <jansson.h>
#include "cluster.h"
#include "etcd.h"
#include "model.h"
#include "spec.h"
#include "tap.h"

static pid_t etcd_pid;
static char data_dir[] = "/tmp/trellis-test-etcd.XXXXXX";

static void stop_etcd(void)
{
	char cmd[256];

	if (etcd_pid > 0) {
		kill(etcd_pid, SIGTERM);
		waitpid(etcd_pid, NULL, 0);
		etcd_pid = 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", data_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# cannot remove %s\n", data_dir);
}

static int start_etcd(int port)
{
	char client[64], peer[64], initial[96], log[4200];
	struct etcd *e = NULL;

	if (!mkdtemp(data_dir))
		return -errno;
	snprintf(client, sizeof(client), "http://127.0.0.1:%d", port);
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", port + 1);
	snprintf(log, sizeof(log), "%s/etcd.log", data_dir);
	snprintf(initial, sizeof(initial), "unit=%s", peer);
	fflush(stdout);
	etcd_pid = fork();
	if (etcd_pid == 0) {
		if (!freopen(log, "w", stdout) || !freopen(log, "a", stderr))
			_exit(127);
		execlp("etcd", "etcd", "--name", "unit", "--data-dir", data_dir, "--listen-client-urls", client,
		       "--advertise-client-urls", client, "--listen-peer-urls", peer, "--initial-advertise-peer-urls",
		       peer, "--initial-cluster", initial, (char *)NULL);
		_exit(127);
	}
	(void)e;
	return etcd_pid > 0 ? 0 : -errno;
}

static int watch_seen;

static int watch_cb(void *ctx, json_t *events, int64_t rev, struct trl_error *err)
{
	struct etcd *other = ctx;
	json_t *ev;
	size_t i;

	if (!events)
		return 0;
	if (json_array_size(events) == 0) {
		/* Set up: now change the keys from another handle. */
		etcd_put(other, "/u/w/k1", "v1", 0, NULL);
		etcd_delete(other, "/u/w/k1", 0, NULL);
		return 0;
	}
	json_array_foreach(events, i, ev) {
		const char *t = json_string_value(json_object_get(ev, "type"));
		json_t *kv = json_object_get(ev, "kv");

		if (!strcmp(t, "put") && !strcmp(json_string_value(json_object_get(kv, "key")), "/u/w/k1") &&
		    !strcmp(json_string_value(json_object_get(kv, "value")), "v1"))
			watch_seen |= 1;
		if (!strcmp(t, "delete") && !strcmp(json_string_value(json_object_get(kv, "key")), "/u/w/k1"))
			watch_seen |= 2;
	}
	return watch_seen == 3;
}

int main(void)
{
	/* Three ports per run (client, peer, one nobody listens on): slots of
	 * four, so two runs at once (pids one apart) never share one. */
	int port = 24000 + (getpid() % 500) * 4;
	struct trl_error err = { 0 };
	struct etcd *e = NULL, *e2 = NULL, *dead = NULL;
	char url[256], bad[64];
	json_t *kv = NULL, *kvs = NULL;
	int64_t lease = 0, ttl = 0, rev = 0;
	unsigned long ops;
	int r, up = 0;

	if (system("command -v etcd >/dev/null 2>&1") != 0)
		skip_all("etcd is not installed (Debian package etcd-server)");
	plan(64);

	/* Link keys: drawn at random, never one in use, all different, bounded. */
	{
		json_t *used = json_array(), *info = json_pack("{s:i}", "max_key", 3);
		uint32_t k[200];
		int seq = 0, fine = 1;

		for (json_int_t v = 1; v <= (json_int_t)TRL_LINK_KEY_MAX; v++)
			if (v != 7 && v != 700 && v != 7000 && v != 32751)
				json_array_append_new(used, json_integer(v));
		ok(cluster_keys_pick(used, 4, k, &err) == 0, "4 keys from the 4 free ones");
		ok(k[0] + k[1] + k[2] + k[3] == 7 + 700 + 7000 + 32751 && k[0] != k[1] && k[1] != k[2] && k[2] != k[3] &&
			   k[0] != k[2] && k[0] != k[3] && k[1] != k[3],
		   "exactly the free keys, each once");
		ok(cluster_keys_pick(used, 5, k, &err) == -TRL_ELIMIT && strstr(err.msg, "link keys are used up"),
		   "one more than free is refused: %s", err.msg);
		json_array_clear(used);
		cluster_keys_of_node(used, info);
		ok(json_array_size(used) == 3, "a node that lists no keys holds every key up to its max_key");
		ok(cluster_keys_pick(NULL, 200, k, &err) == 0, "200 keys drawn");
		for (int i = 0; i < 200; i++) {
			fine &= k[i] >= 1 && k[i] <= TRL_LINK_KEY_MAX && k[i] > 3;
			seq += i && k[i] == k[i - 1] + 1;
		}
		ok(fine && seq < 20, "in range and not sequential (%d of 199 follow their predecessor)", seq);
		json_decref(used);
		json_decref(info);
	}

	/* Placement chosen by the cluster ('node: any') applied to a parsed spec. */
	{
		const char *spec = "slice: u2\nrouters:\n  a: { node: n1, template: plain }\n"
				   "  b: { node: any, template: plain }\n  c: { template: plain }\n";
		struct trl_slice *s = NULL;
		json_t *pl = json_pack("{s:{s:s, s:s}}", "routers", "b", "n2", "c", "n3");

		ok(spec_parse(spec, strlen(spec), "u2.yaml", NULL, NULL, &s, &err) == 0, "a spec with node: any parses");
		cluster_placement_apply(s, pl);
		is_str(trl_slice_router(s, "b")->node, "n2", "placement puts 'any' router b on n2");
		ok(!strcmp(trl_slice_router(s, "a")->node, "n1") && !strcmp(trl_slice_router(s, "c")->node, "n3"),
		   "named routers keep their node, unplaced ones get the placement's");
		json_decref(pl);
		trl_slice_free(s);
	}

	/* placement: each-node: the sliver copied onto every node of the placement, named router-node. */
	{
		const char *spec = "slice: u3\nplacement: each-node\nrouters:\n  a: { template: plain }\n"
				   "  b: { template: plain }\nlinks:\n  - endpoints: [a:eth1, b:eth1]\n";
		struct trl_slice *s = NULL;
		json_t *pl = json_pack("{s:[s, s]}", "each-node", "n1", "n2");
		const struct trl_router *rb;

		ok(spec_parse(spec, strlen(spec), "u3.yaml", NULL, NULL, &s, &err) == 0, "a spec with placement: each-node parses");
		cluster_placement_apply(s, pl);
		rb = trl_slice_router(s, "b-n2");
		ok(s->n_routers == 4 && rb && !strcmp(rb->node, "n2") && !trl_slice_router(s, "a"),
		   "each-node: 2 routers on 2 nodes become 4, b-n2 on n2");
		ok(s->n_links == 2 && !strcmp(s->links[1].name, "a-n2:eth1-b-n2:eth1") &&
		   !strcmp(s->links[0].ep[1].router, "b-n1"), "each-node: the link is copied per node, between that node's routers");
		json_decref(pl);
		trl_slice_free(s);
	}

	/* Malformed URLs, and an endpoint nothing listens on. */
	is_int(etcd_open("http:/x", &e, &err), -TRL_EINVALID, "a URL without etcd:// is refused");
	is_int(etcd_open("etcd://host", &e, &err), -TRL_EINVALID, "an endpoint without a port is refused");
	like_str(err.msg, "'host' is not HOST:PORT", "the message names the endpoint");
	/* TLS and auth options: checked at open, errors naming the option and the path. */
	{
		struct etcd_opts o = { 0 };

		ok(etcd_open("etcds://127.0.0.1:1,127.0.0.2:2", &e, &err) == 0, "etcds:// parses");
		is_str(etcd_endpoint(e), "https://127.0.0.1:1", "an etcds:// endpoint is https");
		etcd_close(e);
		ok(etcd_open("https://127.0.0.1:1", &e, &err) == 0, "https:// is the same");
		etcd_close(e);
		o.ca = "/etc/hostname";
		is_int(etcd_open_opts("etcd://127.0.0.1:1", &o, &e, &err), -TRL_EINVALID, "a CA with a plain URL is refused");
		like_str(err.msg, "cluster-ca is set but the URL is plain HTTP (use etcds://)", "saying why: %s", err.msg);
		o.ca = "/nonexistent/ca.pem";
		is_int(etcd_open_opts("etcds://127.0.0.1:1", &o, &e, &err), -TRL_EINVALID, "a missing CA file is refused");
		like_str(err.msg, "cluster-ca '/nonexistent/ca.pem': cannot read it: No such file or directory",
			 "naming the option and the path: %s", err.msg);
		o.ca = "/etc";
		is_int(etcd_open_opts("etcds://127.0.0.1:1", &o, &e, &err), -TRL_EINVALID, "a directory is no CA file");
		like_str(err.msg, "cluster-ca '/etc': not a regular file", "%s", err.msg);
		o = (struct etcd_opts){ .key = "/etc/hostname" };
		is_int(etcd_open_opts("etcds://127.0.0.1:1", &o, &e, &err), -TRL_EINVALID, "a key without a certificate is refused");
		like_str(err.msg, "cluster-key '/etc/hostname' is set without cluster-cert", "%s", err.msg);
		o = (struct etcd_opts){ .user = "u" };
		is_int(etcd_open_opts("etcds://127.0.0.1:1", &o, &e, &err), -TRL_EINVALID, "a user without a password is refused");
		like_str(err.msg, "cluster-user 'u' is set without a password", "%s", err.msg);
		o = (struct etcd_opts){ .password = "p" };
		is_int(etcd_open_opts("etcds://127.0.0.1:1", &o, &e, &err), -TRL_EINVALID, "a password without a user is refused");
	}

	snprintf(bad, sizeof(bad), "etcd://127.0.0.1:%d", port + 2);
	ok(etcd_open(bad, &dead, &err) == 0, "open does no I/O");
	is_int(etcd_put(dead, "/u/x", "y", 0, &err), -TRL_EUNAVAIL, "nothing listening: unavailable");
	snprintf(url, sizeof(url), "127.0.0.1:%d", port + 2);
	like_str(err.msg, url, "the message names the endpoint: %s", err.msg);
	etcd_close(dead);

	if (start_etcd(port) < 0) {
		ok(0, "etcd started");
		return done();
	}
	snprintf(url, sizeof(url), "etcd://127.0.0.1:%d,127.0.0.1:%d", port + 2, port);
	ok(etcd_open(url, &e, &err) == 0, "open a list whose first endpoint is dead");
	for (int i = 0; i < 100 && !up; i++) {
		up = etcd_put(e, "/u/ping", "1", 0, &err) == 0;
		if (!up)
			usleep(100000);
	}
	ok(up, "etcd answers (%s)", up ? etcd_endpoint(e) : err.msg);
	if (!up) {
		char cmd[4200];

		snprintf(cmd, sizeof(cmd), "sed 's/^/# /' %s/etcd.log", data_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "# no etcd log\n");
		stop_etcd();
		return done();
	}
	snprintf(bad, sizeof(bad), "http://127.0.0.1:%d", port);
	is_str(etcd_endpoint(e), bad, "failed over to the live endpoint");

	ops = etcd_ops(e);
	ok(etcd_put(e, "/u/a", "hello \"world\"\n", 0, &err) == 0, "put");
	is_int((int)(etcd_ops(e) - ops), 1, "one round trip per put");
	r = etcd_get(e, "/u/a", &kv, &err);
	ok(r == 1 && !strcmp(json_string_value(json_object_get(kv, "value")), "hello \"world\"\n"),
	   "get returns the value as put");
	json_decref(kv);
	is_int(etcd_get(e, "/u/none", &kv, &err), 0, "get of an absent key: 0");
	ok(kv == NULL, "and no kv");

	etcd_put(e, "/u/p/1", "a", 0, NULL);
	etcd_put(e, "/u/p/3", "c", 0, NULL);
	etcd_put(e, "/u/p/2", "b", 0, NULL);
	etcd_put(e, "/u/q", "x", 0, NULL);
	ok(etcd_range(e, "/u/p/", &kvs, &rev, &err) == 0 && json_array_size(kvs) == 3, "range of a prefix: 3 keys");
	is_str(json_string_value(json_object_get(json_array_get(kvs, 1), "key")), "/u/p/2", "sorted by key");
	ok(rev > 0, "with the store's revision");
	json_decref(kvs);
	is_int(etcd_delete(e, "/u/p/", 1, &err), 3, "delete of a prefix counts 3");

	/* Create-if-absent: the second one loses. */
	r = etcd_txn(e, json_pack("[o]", etcd_cmp_create("/u/c", 0)), json_pack("[o]", etcd_op_put("/u/c", "first", 0)),
		     NULL, NULL, &err);
	is_int(r, 1, "txn create-if-absent succeeds on a new key");
	r = etcd_txn(e, json_pack("[o]", etcd_cmp_create("/u/c", 0)),
		     json_pack("[o]", etcd_op_put("/u/c", "second", 0)), json_pack("[o]", etcd_op_get("/u/c")), NULL, &err);
	is_int(r, 0, "and fails once it exists");
	etcd_get(e, "/u/c", &kv, &err);
	is_str(json_string_value(json_object_get(kv, "value")), "first", "the first value stays");
	/* Compare-and-swap on the mod revision. */
	r = etcd_txn(e, json_pack("[o]", etcd_cmp_mod("/u/c", json_integer_value(json_object_get(kv, "mod_revision")))),
		     json_pack("[o]", etcd_op_put("/u/c", "swapped", 0)), NULL, NULL, &err);
	is_int(r, 1, "CAS on the current mod revision succeeds");
	r = etcd_txn(e, json_pack("[o]", etcd_cmp_mod("/u/c", json_integer_value(json_object_get(kv, "mod_revision")))),
		     json_pack("[o]", etcd_op_put("/u/c", "again", 0)), NULL, NULL, &err);
	is_int(r, 0, "CAS on a stale mod revision fails");
	json_decref(kv);

	/* Leases. */
	ok(etcd_lease_grant(e, 2, &lease, &err) == 0 && lease != 0, "lease granted");
	ok(etcd_put(e, "/u/l", "leased", lease, &err) == 0, "put under the lease");
	ok(etcd_lease_keepalive(e, lease, &ttl, &err) == 0 && ttl > 0, "keepalive: TTL %lld", (long long)ttl);
	/* A 2 s lease: etcd checks expiry every 500 ms and revokes through raft;
	 * a busy host may take longer, so poll (up to 15 s) instead of a fixed sleep. */
	sleep(2);
	for (int i = 0; i < 130 && (r = etcd_get(e, "/u/l", &kv, &err)) == 1; i++) {
		json_decref(kv);
		kv = NULL;
		usleep(100000);
	}
	is_int(r, 0, "the key is gone once the lease expired");
	json_decref(kv);
	ok(etcd_lease_keepalive(e, lease, &ttl, &err) == 0 && ttl == 0, "keepalive of an expired lease: TTL 0");

	/* TLS to a plain-HTTP etcd, and a user where etcd has no authentication: precise errors. */
	{
		struct etcd_opts o = { .user = "u", .password = "p" };
		struct etcd *t = NULL;

		snprintf(bad, sizeof(bad), "etcds://127.0.0.1:%d", port);
		etcd_open(bad, &t, &err);
		is_int(etcd_put(t, "/u/tls", "x", 0, &err), -TRL_EFAILED, "TLS to a plain-HTTP endpoint fails");
		like_str(err.msg, "TLS handshake failed", "%s", err.msg);
		like_str(err.msg, "use etcd://", "with the fix");
		etcd_close(t);
		snprintf(bad, sizeof(bad), "etcd://127.0.0.1:%d", port);
		etcd_open_opts(bad, &o, &t, &err);
		is_int(etcd_put(t, "/u/auth", "x", 0, &err), -TRL_EPERM, "authenticating where etcd has no auth fails");
		like_str(err.msg, "cannot authenticate as cluster-user 'u'", "%s", err.msg);
		ok(etcd_auths(t) == 1, "after one attempt");
		etcd_close(t);
	}

	/* Watch: a put and a delete from another handle arrive as events. */
	etcd_open(url, &e2, &err);
	r = etcd_watch(e, "/u/w/", 0, watch_cb, e2, &err);
	ok(r == 0 && watch_seen == 3, "watch sees the put and the delete (r=%d %s)", r, err.msg);
	etcd_close(e2);

	/* Cluster: a router on a node that is not up is refused before anything is written. */
	{
		const char *spec = "slice: u1\nrouters:\n  r1:\n    node: nowhere\n    template: plain\n";
		json_t *res = NULL;

		r = cluster_slice_create(e, spec, strlen(spec), "u1.yaml", NULL, 0, NULL, 5, NULL, NULL, &res, &err);
		is_int(r, -TRL_EUNAVAIL, "cluster create with a node that is not up: unavailable");
		like_str(err.msg, "node 'nowhere' is not up", "the message names the node: %s", err.msg);
	}

	/* etcd gone: unavailable, naming the endpoint. */
	stop_etcd();
	r = etcd_get(e, "/u/a", &kv, &err);
	is_int(r, -TRL_EUNAVAIL, "etcd stopped: unavailable (%s)", err.msg);
	etcd_close(e);
	return done();
}
