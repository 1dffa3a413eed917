/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: trellisd, the host daemon
 *
 * Parses options, prepares the state directory (SQLite, LXC path, seccomp
 * profile), probes the host (cgroup layout, eBPF fast path), loads or adopts
 * the pinned fast path and serves the control socket.  trellisd is the only
 * trellis process that touches the kernel or LXC.
 */
#define LOG_MODULE "trellisd"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <lxc/lxccontainer.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif
#include "bridge.h"
#include "cgroup.h"
#include "shape.h"
#include "shaper.h"
#include "units.h"
#include "claim.h"
#include "conf.h"
#include "container.h"
#include "events.h"
#include "log.h"
#include "names.h"
#include "store.h"
#include "template.h"
#include "trellisd.h"
#include "http.h"
#include "util.h"

#define DEFAULT_STATE_DIR "/var/lib/trellis"

struct daemon *g_daemon;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: trellisd [OPTIONS]\n"
		"\n"
		"The trellis host daemon: runs slices of virtual routers (LXC containers) joined\n"
		"by virtual links, and serves the 'trellis' CLI on a Unix socket.\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE        configuration file [" CONFIG_DEFAULT_PATH "];\n"
		"                           the options below override its keys\n"
		"  -s, --state-dir DIR      state (SQLite, containers) [" DEFAULT_STATE_DIR "]\n"
		"  -S, --socket PATH        control socket [" PROTO_DEFAULT_SOCKET "]\n"
		"  -n, --node NAME          node name, also names the bpffs pin dir [hostname]\n"
		"  -t, --template-path DIRS colon-separated template directories\n"
		"                           [" TRL_DATADIR "/templates:" TRL_SRCDIR "/container-templates]\n"
		"  -j, --parallel N         routers started at once [8]\n"
		"  -i, --substrate IFNAME   substrate interface for cross-node links [none: single node]\n"
		"  -a, --address ADDR       this node's outer IPv4 address [the substrate's first]\n"
		"      --capacity RATE      substrate capacity shared by slices, e.g. 1gbit\n"
		"                           [the substrate's link speed, else 10gbit]\n"
		"      --cluster etcd://HOST:PORT[,...]  cluster mode: desired state in etcd\n"
		"                           (etcds://HOST:PORT[,...]: over TLS)\n"
		"      --cluster-ca FILE    CA certificates etcd's certificate must chain to\n"
		"                           [the system's]\n"
		"      --cluster-cert FILE  client certificate for etcd (--client-cert-auth)\n"
		"      --cluster-key FILE   its private key [in the certificate file]\n"
		"      --cluster-user NAME  etcd user (etcd authentication)\n"
		"      --cluster-password-file FILE  its password: the file's first line\n"
		"                           (owned by root, no access for others)\n"
		"      --http ADDR:PORT     serve /metrics and a topology page over HTTP [off];\n"
		"                           beyond loopback only with TLS and tokens or client certificates\n"
		"      --http-tokens FILE   bearer tokens, lines 'TOKEN [USER]' (USER: a tenant's view)\n"
		"      --http-cert FILE     TLS certificate (PEM) of the HTTP endpoint\n"
		"      --http-key FILE      its private key (PEM)\n"
		"      --http-client-ca FILE  CA whose client certificates are let in (as root)\n"
		"  -u, --uid-range START:COUNT  subordinate ids for slices [root's entry in /etc/subuid]\n"
		"  -l, --log-level LEVEL    debug, info, warn or error [info]\n"
		"      --syslog             log to syslog instead of stderr\n"
		"  -h, --help               show this help\n"
		"  -V, --version            show the version\n"
		"\n"
		"trellisd runs in the foreground; see trellisd(8).\n");
}

/* --http* options: into the configuration's values, which they override. */
static int http_option(struct config_opts *co, int which, const char *v)
{
	static const char *const names[] = { "http", "http-tokens", "http-cert", "http-key", "http-client-ca" };
	char *dst[] = { co->http, co->http_tokens, co->http_cert, co->http_key, co->http_client_ca };
	size_t len[] = { sizeof(co->http), sizeof(co->http_tokens), sizeof(co->http_cert), sizeof(co->http_key),
			 sizeof(co->http_client_ca) };

	if (strlen(v) >= len[which]) {
		fprintf(stderr, "trellisd: --%s: longer than %zu bytes\n", names[which], len[which] - 1);
		return -1;
	}
	snprintf(dst[which], len[which], "%s", v);
	return 0;
}

static int subuid_range(unsigned *start, unsigned *count)
{
	_cleanup_fclose_ FILE *f = fopen("/etc/subuid", "re");
	char line[256];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned s, c;

		if (sscanf(line, "root:%u:%u", &s, &c) == 2 && c >= 2 * 65536) {
			*start = s;
			*count = c;
			return 0;
		}
	}
	return -ENOENT;
}

/* --config FILE (or -c FILE, --config=FILE) before getopt runs: the file's
 * values are defaults that the other options then override. */
static const char *config_arg(int argc, char **argv, int *info_only)
{
	const char *path = NULL;

	*info_only = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		/* --help and --version work whatever the file says. */
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-V") ||
		    !strcmp(argv[i], "--version"))
			*info_only = 1;
		if ((!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) && i + 1 < argc)
			path = argv[++i];
		else if (!strncmp(argv[i], "--config=", 9))
			path = argv[i] + 9;
	}
	return path;
}

/* The start-up reconciliation (which ends with the event watcher adopting
 * the routers that run), then the daemon's start is an event. */
static void *reconcile_main(void *arg)
{
	struct daemon *d = arg;
	int adopted;
	json_t *slices, *actions;

	adopted = slice_reconcile(d);
	slices = json_object_get(d->reconcile, "slices");
	actions = json_object_get(d->reconcile, "actions");
	events_emit(d, NULL, 0, NULL, "daemon-started",
		    "trellisd %s started (pid %d): %lld slices in the store, %d running routers adopted, %zu repairs",
		    PACKAGE_VERSION, (int)getpid(), (long long)json_integer_value(slices), adopted,
		    json_array_size(actions));
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 's' },	{ "socket", required_argument, NULL, 'S' },
		{ "node", required_argument, NULL, 'n' },	{ "template-path", required_argument, NULL, 't' },
		{ "parallel", required_argument, NULL, 'j' },	{ "uid-range", required_argument, NULL, 'u' },
		{ "log-level", required_argument, NULL, 'l' },	{ "syslog", no_argument, NULL, 1 },
		{ "substrate", required_argument, NULL, 'i' },	{ "address", required_argument, NULL, 'a' },
		{ "config", required_argument, NULL, 'c' },	{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },		{ "capacity", required_argument, NULL, 2 },
		{ "cluster", required_argument, NULL, 3 },
		{ "cluster-ca", required_argument, NULL, 4 },
		{ "cluster-cert", required_argument, NULL, 5 },
		{ "cluster-key", required_argument, NULL, 6 },
		{ "cluster-user", required_argument, NULL, 7 },
		{ "cluster-password-file", required_argument, NULL, 8 },
		{ "http", required_argument, NULL, 9 },
		{ "http-tokens", required_argument, NULL, 10 },
		{ "http-cert", required_argument, NULL, 11 },
		{ "http-key", required_argument, NULL, 12 },
		{ "http-client-ca", required_argument, NULL, 13 },
		{ 0 },
	};
	static struct daemon dm;
	struct daemon *d = &dm;
	struct trl_error err = { 0 };
	struct config_opts *co = &d->cfg.o;
	enum cgroup_layout layout;
	const char *uid_range = NULL, *substrate = NULL, *address = NULL, *config_path, *capacity = NULL;
	const char *cluster = NULL, *cluster_pwfile = NULL;
	struct etcd_opts eo = { 0 };
	static char cluster_password[1024];
	char why[512];
	int c, lfd, lvl, info_only, node_fd = -1, r, reconciling = 0;
	pthread_t reconcile_th;

	g_daemon = d;
	config_init(&d->cfg, TRL_SSH_SHELL);
	config_path = config_arg(argc, argv, &info_only);
	if (!info_only &&
	    config_load(&d->cfg, config_path ? config_path : CONFIG_DEFAULT_PATH, config_path != NULL, &err) < 0) {
		fprintf(stderr, "trellisd: %s\n", err.msg);
		return 2;
	}
	snprintf(d->state_dir, sizeof(d->state_dir), "%s", co->state_dir[0] ? co->state_dir : DEFAULT_STATE_DIR);
	snprintf(d->socket_path, sizeof(d->socket_path), "%s", co->socket[0] ? co->socket : PROTO_DEFAULT_SOCKET);
	if (co->template_path[0])
		snprintf(d->template_path, sizeof(d->template_path), "%s", co->template_path);
	else
		snprintf(d->template_path, sizeof(d->template_path), "%s/templates:%s/container-templates",
			 TRL_DATADIR, TRL_SRCDIR);
	if (co->node[0])
		snprintf(d->node_name, sizeof(d->node_name), "%s", co->node);
	else if (gethostname(d->node_name, sizeof(d->node_name) - 1) < 0 || !d->node_name[0])
		snprintf(d->node_name, sizeof(d->node_name), "node");
	d->parallel = co->parallel ? co->parallel : 8;
	if (co->log_level)
		log_set_level((enum log_level)(co->log_level - 1));
	if (co->syslog)
		log_use_syslog(1);
	uid_range = co->uid_range[0] ? co->uid_range : NULL;
	substrate = co->substrate[0] ? co->substrate : NULL;
	address = co->address[0] ? co->address : NULL;
	capacity = co->capacity[0] ? co->capacity : NULL;
	cluster = co->cluster[0] ? co->cluster : NULL;
	eo.ca = co->cluster_ca[0] ? co->cluster_ca : NULL;
	eo.cert = co->cluster_cert[0] ? co->cluster_cert : NULL;
	eo.key = co->cluster_key[0] ? co->cluster_key : NULL;
	eo.user = co->cluster_user[0] ? co->cluster_user : NULL;
	cluster_pwfile = co->cluster_password_file[0] ? co->cluster_password_file : NULL;
	pthread_rwlock_init(&d->ops_lock, NULL);
	pthread_mutex_init(&d->node_lock, NULL);

	while ((c = getopt_long(argc, argv, "c:s:S:n:t:j:u:l:i:a:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			break;	/* read above */
		case 's':
			snprintf(d->state_dir, sizeof(d->state_dir), "%s", optarg);
			break;
		case 'S':
			snprintf(d->socket_path, sizeof(d->socket_path), "%s", optarg);
			break;
		case 'n':
			if (config_check_node(optarg, why, sizeof(why)) < 0) {
				fprintf(stderr, "trellisd: --node: %s\n", why);
				return 2;
			}
			snprintf(d->node_name, sizeof(d->node_name), "%s", optarg);
			break;
		case 't':
			snprintf(d->template_path, sizeof(d->template_path), "%s", optarg);
			break;
		case 'j':
			if (config_check_parallel(optarg, &d->parallel, why, sizeof(why)) < 0) {
				fprintf(stderr, "trellisd: --parallel: %s\n", why);
				return 2;
			}
			break;
		case 'u':
			uid_range = optarg;
			break;
		case 'i':
			substrate = optarg;
			break;
		case 'a':
			address = optarg;
			break;
		case 'l':
			if (config_check_log_level(optarg, &lvl, why, sizeof(why)) < 0) {
				fprintf(stderr, "trellisd: --log-level: %s\n", why);
				return 2;
			}
			log_set_level((enum log_level)lvl);
			break;
		case 1:
			log_use_syslog(1);
			break;
		case 2:
			capacity = optarg;
			break;
		case 3:
			cluster = optarg;
			break;
		case 4:
			eo.ca = optarg;
			break;
		case 5:
			eo.cert = optarg;
			break;
		case 6:
			eo.key = optarg;
			break;
		case 7:
			eo.user = optarg;
			break;
		case 8:
			cluster_pwfile = optarg;
			break;
		case 9:
		case 10:
		case 11:
		case 12:
		case 13:
			if (http_option(co, c - 9, optarg) < 0)
				return 2;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("trellisd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "trellisd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (address && !substrate) {
		fprintf(stderr, "trellisd: --address needs --substrate\n");
		return 2;
	}
	if (capacity && !substrate) {
		fprintf(stderr, "trellisd: --capacity needs --substrate (it is the substrate's)\n");
		return 2;
	}
	if (capacity) {
		if (units_rate_parse(capacity, &d->capacity) < 0 || d->capacity < 1000000) {
			fprintf(stderr, "trellisd: --capacity: '%s' is not a rate from 1mbit to 1tbit (e.g. 10gbit)\n",
				capacity);
			return 2;
		}
		snprintf(d->capacity_source, sizeof(d->capacity_source), "--capacity");
	}
	if (!cluster && (eo.ca || eo.cert || eo.key || eo.user || cluster_pwfile)) {
		fprintf(stderr, "trellisd: --cluster-%s needs --cluster\n",
			eo.ca ? "ca" : eo.cert ? "cert" : eo.key ? "key" : eo.user ? "user" : "password-file");
		return 2;
	}
	if (cluster_pwfile && !eo.user) {
		fprintf(stderr, "trellisd: --cluster-password-file needs --cluster-user\n");
		return 2;
	}
	if (eo.user && !cluster_pwfile) {
		fprintf(stderr, "trellisd: --cluster-user '%s' needs --cluster-password-file (never a password on the command line)\n",
			eo.user);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "trellisd: must run as root (it creates containers, interfaces and cgroups)\n");
		return 1;
	}
	if (container_helper_init(&err) < 0) {
		fprintf(stderr, "trellisd: %s\n", err.msg);
		return 1;
	}
	if (uid_range) {
		if (config_check_uid_range(uid_range, &d->uid_start, &d->uid_count, why, sizeof(why)) < 0) {
			fprintf(stderr, "trellisd: --uid-range: %s\n", why);
			return 2;
		}
	} else if (subuid_range(&d->uid_start, &d->uid_count) < 0) {
		fprintf(stderr, "trellisd: no subordinate id range for root in /etc/subuid (need 'root:START:COUNT' "
				"with COUNT >= 131072, and the same in /etc/subgid; scripts/install-deps.sh adds one)\n");
		return 1;
	}

	if (cluster) {
		struct etcd *e = NULL;

		if (cluster_pwfile) {
			if (config_read_secret("cluster-password-file", cluster_pwfile, cluster_password,
					       sizeof(cluster_password), &err) < 0) {
				fprintf(stderr, "trellisd: %s\n", err.msg);
				return 1;
			}
			eo.password = cluster_password;
		}
		/* The URL and the TLS files now, before anything is set up (no I/O to etcd yet). */
		if (etcd_open_opts(cluster, &eo, &e, &err) < 0) {
			fprintf(stderr, "trellisd: --cluster: %s\n", err.msg);
			return 2;
		}
		etcd_close(e);
	}

	snprintf(d->lxcpath, sizeof(d->lxcpath), "%s/lxc", d->state_dir);
	snprintf(d->db_path, sizeof(d->db_path), "%s/trellis.db", d->state_dir);
	snprintf(d->seccomp_path, sizeof(d->seccomp_path), "%s/seccomp.conf", d->state_dir);
	snprintf(d->pin_dir, sizeof(d->pin_dir), "%s/%s", BRIDGE_PIN_ROOT, d->node_name);
	if (util_mkdir_p(d->lxcpath, 0711) < 0) {
		fprintf(stderr, "trellisd: cannot create '%s': %s\n", d->lxcpath, strerror(errno));
		return 1;
	}
	/* Traverse-only for others (0711): a router's mapped root must pass
	 * through to its own container directory, which lets in only it and root
	 * (container_prepare).  Nobody else may list the state or read any of it:
	 * the database and the logs are root's alone. */
	{
		static const char *const own[] = { "trellis.db", "trellis.db-wal", "trellis.db-shm",
						   "trellis.db-journal", "seccomp.conf" };
		char p[4096];

		chmod(d->state_dir, 0711);
		chmod(d->lxcpath, 0711);
		snprintf(p, sizeof(p), "%s/log", d->state_dir);
		if (util_mkdir_p(p, 0700) == 0)
			chmod(p, 0700);
		for (size_t i = 0; i < ARRAY_SIZE(own); i++) {
			snprintf(p, sizeof(p), "%s/%s", d->state_dir, own[i]);
			chmod(p, 0600);
		}
		container_secure_dirs(d->lxcpath);
	}
	/* Unprivileged routers' roots are unmapped on the host: every directory
	 * above their rootfs must be searchable by others. */
	{
		char p[4096], *slash;
		struct stat st;

		snprintf(p, sizeof(p), "%s", d->lxcpath);
		while ((slash = strrchr(p, '/')) && slash != p) {
			*slash = '\0';
			if (stat(p, &st) == 0 && !(st.st_mode & S_IXOTH)) {
				fprintf(stderr,
					"trellisd: '%s' (mode %04o) is not searchable by others: unprivileged routers could not reach their root filesystems under '%s' (chmod o+x it or choose another --state-dir)\n",
					p, st.st_mode & 07777, d->lxcpath);
				return 1;
			}
		}
	}
	{
		struct store *st;

		if (store_open(d->db_path, &st, &err) < 0) {
			fprintf(stderr, "trellisd: %s\n", err.msg);
			return 1;
		}
		store_close(st);
	}
	if (container_write_seccomp(d->seccomp_path, &err) < 0 || cgroup_detect(&layout, &err) < 0) {
		fprintf(stderr, "trellisd: %s\n", err.msg);
		return 1;
	}
	if (substrate && node_substrate_probe(substrate, address, &d->sub, &err) < 0) {
		fprintf(stderr, "trellisd: --substrate: %s\n", err.msg);
		return 1;
	}
	/* The node name names the pin directory and the cgroup subtree: one live daemon per name on a host. */
	if (claim_node(d->node_name, d->state_dir, &node_fd, &err) < 0) {
		fprintf(stderr, "trellisd: --node: %s\n", err.msg);
		return 1;
	}
	/* The socket first: a second instance must fail before it touches the fast path. */
	lfd = server_listen(d->socket_path, &err);
	if (lfd < 0) {
		fprintf(stderr, "trellisd: %s\n", err.msg);
		return 1;
	}
	/* The HTTP endpoint's address and files are checked before anything is touched. */
	if (http_start(d, &err) < 0) {
		fprintf(stderr, "trellisd: %s\n", err.msg);
		close(lfd);
		unlink(d->socket_path);
		return 1;
	}
	if (bridge_probe(&err) < 0 || bridge_open(d->pin_dir, &d->bridge, &err) < 0) {
		snprintf(d->fastpath, sizeof(d->fastpath), "unavailable");
		log_warn("fast path unavailable, slices with links will be refused: %s", err.msg);
		trl_error_clear(&err);
	} else {
		snprintf(d->fastpath, sizeof(d->fastpath), "ebpf-tc");
	}
	d->tunnels = node_tunnel_probe(d->bridge != NULL, d->tunnels_missing, sizeof(d->tunnels_missing));
	if (shaper_probe_netem(&err) == 0) {
		d->netem = 1;
	} else {
		snprintf(d->netem_why, sizeof(d->netem_why), "%s", err.msg);
		trl_error_clear(&err);
	}
	if (substrate) {
		d->has_substrate = 1;
		if (!d->capacity) {
			char path[128];
			_cleanup_free_ char *speed = NULL;
			long mbit = 0;

			snprintf(path, sizeof(path), "/sys/class/net/%s/speed", d->sub.ifname);
			if (util_read_file(path, 64, &speed, NULL) == 0)
				mbit = strtol(speed, NULL, 10);
			if (mbit > 0) {
				d->capacity = (uint64_t)mbit * 1000000;
				snprintf(d->capacity_source, sizeof(d->capacity_source), "link speed");
			} else {
				d->capacity = 10000000000ULL;
				snprintf(d->capacity_source, sizeof(d->capacity_source), "default");
			}
		}
		if (d->bridge) {
			struct bridge_node_cfg cfg = { .family = AF_INET, .local.v4 = d->sub.addr };

			snprintf(cfg.substrate, sizeof(cfg.substrate), "%s", d->sub.ifname);
			if (bridge_substrate_attach(d->bridge, &cfg, &err) < 0) {
				log_warn("egre tunnels unavailable: %s", err.msg);
				d->tunnels &= ~NODE_TUNNEL_EGRE;
				snprintf(d->tunnels_missing + strlen(d->tunnels_missing),
					 sizeof(d->tunnels_missing) - strlen(d->tunnels_missing), "%segre: %s",
					 d->tunnels_missing[0] ? "; " : "", err.msg);
				trl_error_clear(&err);
			}
		}
	}
	log_info("trellisd %s: node '%s', cgroups %s, fast path %s, templates %s", PACKAGE_VERSION, d->node_name,
		 cgroup_layout_name(layout), d->fastpath, d->template_path);
	if (d->has_substrate)
		log_info("substrate '%s' (%s, MTU %u); tunnels:%s%s%s%s%s", d->sub.ifname, d->sub.addr_text, d->sub.mtu,
			 d->tunnels & NODE_TUNNEL_EGRE ? " egre" : "", d->tunnels & NODE_TUNNEL_GRETAP ? " gretap" : "",
			 d->tunnels & NODE_TUNNEL_VXLAN ? " vxlan" : "", d->tunnels_missing[0] ? "; missing: " : "",
			 d->tunnels_missing);
	if (d->has_substrate && d->bridge)
		node_nexthop_watch_start(d->bridge);
	/* Events first: the reconciliation reports what it repairs as events. */
	if (events_start(d, &err) < 0) {
		log_warn("events: %s (no event stream)", err.msg);
		trl_error_clear(&err);
	}
	/* Re-adopt what runs.  Reads are served meanwhile (node show says the
	 * reconcile runs); every changing operation waits for it (d->ops_lock),
	 * the cluster's too: it starts once the reconciliation holds the lock. */
	if (pthread_create(&reconcile_th, NULL, reconcile_main, d) != 0) {
		reconcile_main(d);
	} else {
		reconciling = 1;
		while (!atomic_load(&d->reconcile_locked))
			usleep(1000);
	}
	if (cluster && cluster_start(d, cluster, &eo, &err) < 0) {
		explicit_bzero(cluster_password, sizeof(cluster_password));
		fprintf(stderr, "trellisd: --cluster: %s\n", err.msg);
		/* What the reconciliation started, it finishes: a restart then finds a whole slice. */
		if (reconciling)
			pthread_join(reconcile_th, NULL);
		close(lfd);
		unlink(d->socket_path);
		slice_node_cleanup(d);	/* the pins just made, if no slice uses them */
		node_nexthop_watch_stop();
		bridge_close(d->bridge);
		return 1;
	}
	explicit_bzero(cluster_password, sizeof(cluster_password));	/* the cluster keeps its own copy */
#ifdef HAVE_LIBSYSTEMD
	/* Type=notify (trellisd.service): ready once the socket serves (the
	 * reconciliation may still run: reads are answered, changes wait for it). */
	sd_notifyf(1, "READY=1\nSTATUS=node '%s', socket %s", d->node_name, d->socket_path);
#endif
	r = server_run(d, lfd, &err);
	http_stop();
	node_nexthop_watch_stop();
	if (reconciling)
		pthread_join(reconcile_th, NULL);
	if (r < 0) {
		fprintf(stderr, "trellisd: %s\n", err.msg);
		bridge_close(d->bridge);
		return 1;
	}
	bridge_close(d->bridge);
	claim_node_release(d->node_name, node_fd);
	return 0;
}
