/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: routers as LXC containers
 *
 * See container.h for the design.  container_prepare() writes everything a
 * router needs under <lxcpath>/<name>/ (config + rootfs); container_start()
 * hands it to liblxc.  Files in the private rootfs are owned by the slice's
 * mapped root (uid_base), FRR's files by its mapped frr user, BIRD's by its
 * bird user (BIRD reads bird.conf again on 'birdc configure').  Only a short
 * allowlist of host /etc files is copied in (never passwd/shadow/ssh keys).
 */
#define LOG_MODULE "container"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <lxc/lxccontainer.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include "container.h"
#include "disk.h"
#include "log.h"
#include "names.h"
#include "util.h"

/* Inside-the-container ids of FRR's user and groups (our passwd/group). */
#define FRR_UID 100
#define FRR_GID 101
#define FRRVTY_GID 102
/* ... and of BIRD's (routing = bird templates). */
#define BIRD_UID 103
#define BIRD_GID 103
/* ... and tcpdump's (it drops to this user once the capture is open). */
#define TCPDUMP_UID 104

#define INIT_LXC "/usr/sbin/init.lxc"
#define READY_STABLE_MS 100

/*
 * Host /etc files a router gets: named files only, never a whole directory
 * (a directory is a place a host package or admin may later drop a secret).
 * No credentials, keys, password hashes or host identity: no passwd, shadow,
 * gshadow, opasswd (/etc/security), sudoers, ssh or ssl keys, keytabs,
 * machine-id.  An entry ending in '/' is a directory made (empty) for the
 * named files below it.  tests/integration/084-tenant-policy.bats lists a
 * fresh router's /etc against this.
 */
static const char *const etc_allow[] = {
	"profile", "bash.bashrc", "inputrc", "environment", "shells", "login.defs",
	"ld.so.cache", "ld.so.conf", "protocols", "services", "localtime", "os-release", "debian_version",
	"iproute2/", "iproute2/rt_tables", "iproute2/rt_protos", "iproute2/rt_scopes", "iproute2/rt_realms",
	"iproute2/rt_dsfield", "iproute2/group", "iproute2/ematch_map", "iproute2/nl_protos", "iproute2/bpf_pinning",
	"iproute2/rt_protos.d/", "iproute2/rt_protos.d/frr.conf",
	"vim/", "vim/vimrc",
	"pam.d/", "pam.d/other", "pam.d/common-auth", "pam.d/common-account", "pam.d/common-password",
	"pam.d/common-session", "pam.d/common-session-noninteractive",
};

/* Capabilities routers keep (inside their user namespace).  FRR needs
 * sys_admin for its privilege setup; mount & co. are denied by seccomp. */
static const char caps_keep[] = "chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap "
				"net_bind_service net_broadcast net_admin net_raw ipc_lock sys_chroot sys_admin "
				"sys_resource audit_write";

static const char seccomp_profile[] =
	"2\n"
	"denylist\n"
	"[all]\n"
	"# trellis router profile: no mounts, modules, kexec, BPF, perf, keyrings,\n"
	"# userfaultfd, io_uring, handle-based opens or new user namespaces.\n"
	"mount errno 1\n"
	"umount errno 1\n"
	"umount2 errno 1\n"
	"pivot_root errno 1\n"
	"move_mount errno 1\n"
	"open_tree errno 1\n"
	"fsopen errno 1\n"
	"fsconfig errno 1\n"
	"fsmount errno 1\n"
	"fspick errno 1\n"
	"mount_setattr errno 1\n"
	"init_module errno 1\n"
	"finit_module errno 1\n"
	"delete_module errno 1\n"
	"kexec_load errno 1\n"
	"kexec_file_load errno 1\n"
	"open_by_handle_at errno 1\n"
	"name_to_handle_at errno 1\n"
	"bpf errno 1\n"
	"perf_event_open errno 1\n"
	"add_key errno 1\n"
	"request_key errno 1\n"
	"keyctl errno 1\n"
	"userfaultfd errno 1\n"
	"# io_uring: a second syscall surface seccomp cannot see into (its\n"
	"# operations never pass this filter); ENOSYS, so programs fall back.\n"
	"io_uring_setup errno 38\n"
	"io_uring_enter errno 38\n"
	"io_uring_register errno 38\n"
	"swapon errno 1\n"
	"swapoff errno 1\n"
	"acct errno 1\n"
	"quotactl errno 1\n"
	"syslog errno 1\n"
	"settimeofday errno 1\n"
	"clock_settime errno 1\n"
	"clock_adjtime errno 1\n"
	"adjtimex errno 1\n"
	"lookup_dcookie errno 1\n"
	"iopl errno 1\n"
	"ioperm errno 1\n"
	"# clone3 cannot be filtered by flags: ENOSYS makes libc fall back to clone\n"
	"clone3 errno 38\n"
	"unshare errno 1 [0,0x10000000,SCMP_CMP_MASKED_EQ,0x10000000]\n"
	"clone errno 1 [0,0x10000000,SCMP_CMP_MASKED_EQ,0x10000000]\n";

int container_write_seccomp(const char *path, struct trl_error *err)
{
	int r = util_write_file(path, seccomp_profile, sizeof(seccomp_profile) - 1, 0600);

	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, -r, "cannot write seccomp profile '%s'", path);
	return 0;
}

/*
 * Writes into a rootfs.  Its owner (the router's mapped root) can rename and
 * swap anything in it whenever a process of the router runs, and a rootfs is
 * rebuilt or repaired while others of the slice run: so every write is
 * relative to the rootfs directory fd @root, each path component opened with
 * O_NOFOLLOW (util_open_beneath), ownership and modes set on the opened fd,
 * files written under a new name and renamed over the old (a symlink there
 * is replaced, not followed).  A symlinked component fails the write.
 */
static int put_file(int root, const char *rel, const char *text, mode_t mode, uid_t uid, gid_t gid)
{
	const char *base;
	_cleanup_close_ int dir = util_open_parent_beneath(root, rel, &base);

	if (dir < 0)
		return dir;
	return util_write_file_at(dir, base, text, strlen(text), mode, uid, gid);
}

/* mkdir (if missing), then owner and mode of what is there, which must be a directory. */
static int put_dir(int root, const char *rel, mode_t mode, uid_t uid, gid_t gid)
{
	const char *base;
	_cleanup_close_ int dir = util_open_parent_beneath(root, rel, &base), fd = -1;

	if (dir < 0)
		return dir;
	if (mkdirat(dir, base, mode) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(dir, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0)
		return -errno;
	return 0;
}

static int put_link(int root, const char *rel, const char *target, uid_t uid)
{
	const char *base;
	_cleanup_close_ int dir = util_open_parent_beneath(root, rel, &base);

	if (dir < 0)
		return dir;
	if (symlinkat(target, dir, base) < 0 && errno != EEXIST)
		return -errno;
	return fchownat(dir, base, uid, uid, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/* Owner and mode of an existing regular file (missing is fine). */
static int put_owner(int root, const char *rel, mode_t mode, uid_t uid, gid_t gid)
{
	_cleanup_close_ int fd = util_open_beneath(root, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
	struct stat st;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	return fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0 ? -errno : 0;
}

static int copy_into(const char *src, int dst, uid_t uid, gid_t gid);

/* cp -a @src (a host path) to @name in the directory @dst, owned by @uid:@gid. */
static int copy_tree_at(const char *src, int dst, const char *name, uid_t uid, gid_t gid)
{
	struct stat st;

	if (lstat(src, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(src, target, sizeof(target) - 1);

		if (n < 0)
			return -errno;
		target[n] = '\0';
		unlinkat(dst, name, 0);
		if (symlinkat(target, dst, name) < 0)
			return -errno;
		return fchownat(dst, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	}
	if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int fd = -1;

		if (mkdirat(dst, name, st.st_mode & 07777) < 0 && errno != EEXIST)
			return -errno;
		fd = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fchown(fd, uid, gid) < 0)
			return -errno;
		return copy_into(src, fd, uid, gid);
	}
	if (S_ISREG(st.st_mode)) {
		_cleanup_free_ char *data = NULL;
		size_t len;
		int r = util_read_file(src, 64u << 20, &data, &len);

		if (r < 0)
			return r;
		return util_write_file_at(dst, name, data, len, st.st_mode & 0777, uid, gid);
	}
	return 0;	/* devices, fifos, sockets: never copied */
}

/* Everything in the host directory @src into the directory @dst. */
static int copy_into(const char *src, int dst, uid_t uid, gid_t gid)
{
	DIR *d = opendir(src);
	struct dirent *de;
	int r = 0;

	if (!d)
		return -errno;
	while (r == 0 && (de = readdir(d))) {
		char s[PATH_MAX];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(s, sizeof(s), "%s/%s", src, de->d_name);
		r = copy_tree_at(s, dst, de->d_name, uid, gid);
	}
	closedir(d);
	return r;
}

static int write_frr(int rootfs, const struct container_spec *cs)
{
	const struct trl_router *r = cs->router;
	uid_t fu = cs->uid_base + FRR_UID;
	gid_t fg = cs->uid_base + FRR_GID;
	char buf[8192];
	size_t n = 0;
	FILE *f;
	char *conf = NULL;
	size_t conf_len = 0;
	int ret;

	n += snprintf(buf + n, sizeof(buf) - n,
		      "# Written by trellisd from the slice spec. FRR daemons to run under watchfrr.\n"
		      "# zebra always runs; staticd when the config has static routes or the spec lists it.\n");
	for (size_t i = 0; i < r->n_daemons; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "%s=yes\n", r->daemons[i]);
	n += snprintf(buf + n, sizeof(buf) - n,
		      "vtysh_enable=yes\n"
		      "zebra_options=\"-A 127.0.0.1\"\n");
	for (size_t i = 0; i < r->n_daemons; i++) {
		int v6 = !strcmp(r->daemons[i], "ospf6d") || !strcmp(r->daemons[i], "ripngd") ||
			 !strcmp(r->daemons[i], "pim6d");
		n += snprintf(buf + n, sizeof(buf) - n, "%s_options=\"-A %s\"\n", r->daemons[i],
			      v6 ? "::1" : "127.0.0.1");
	}
	ret = put_file(rootfs, "etc/frr/daemons", buf, 0640, fu, fg);
	if (ret < 0)
		return ret;

	f = open_memstream(&conf, &conf_len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "! Written by trellisd for router '%s' of slice '%s'.\n"
		   "frr defaults traditional\n"
		   "hostname %s\n"
		   "log file /var/log/frr/frr.log informational\n"
		   "service integrated-vtysh-config\n"
		   "!\n",
		r->name, cs->slice, r->name);
	if (r->config)
		fputs(r->config, f);
	fprintf(f, "\n!\nline vty\n!\n");
	fclose(f);
	ret = put_file(rootfs, "etc/frr/frr.conf", conf, 0640, fu, fg);
	free(conf);
	if (ret < 0)
		return ret;
	/* vtysh.conf comes from the template; FRR wants every file frr:frr. */
	ret = put_owner(rootfs, "etc/frr/vtysh.conf", 0640, fu, fg);
	if (ret < 0)
		return ret;
	ret = put_dir(rootfs, "etc/frr", 0750, fu, fg);
	if (ret < 0)
		return ret;
	ret = put_dir(rootfs, "var/log/frr", 0750, fu, fg);
	if (ret < 0)
		return ret;
	ret = put_dir(rootfs, "var/tmp/frr", 0750, fu, fg);
	if (ret < 0)
		return ret;
	return put_dir(rootfs, "var/lib/frr", 0750, fu, fg);
}

/*
 * BIRD's configuration: the spec's text as /etc/bird/spec.conf, included by
 * a bird.conf that adds the log file, so BIRD's messages give the lines of
 * the spec's config: as they are.  Root's files, readable by the bird user
 * BIRD drops to (it reads them again on 'birdc configure').
 */
static int write_bird(int rootfs, const struct container_spec *cs)
{
	const struct trl_router *r = cs->router;
	char buf[1024];
	int ret;

	ret = put_dir(rootfs, "etc/bird", 0750, cs->uid_base, cs->uid_base + BIRD_GID);
	if (ret < 0)
		return ret;
	ret = put_dir(rootfs, "var/log/bird", 0750, cs->uid_base + BIRD_UID, cs->uid_base + BIRD_GID);
	if (ret < 0)
		return ret;
	snprintf(buf, sizeof(buf),
		 "# Written by trellisd for router '%s' of slice '%s'.  The spec's config: is spec.conf;\n"
		 "# apply changes to either file with 'birdc configure'.\n"
		 "log \"/var/log/bird/bird.log\" 4000000 \"/var/log/bird/bird.log.old\" { info, remote, warning, error, auth, fatal, bug };\n"
		 "include \"/etc/bird/spec.conf\";\n",
		 r->name, cs->slice);
	ret = put_file(rootfs, "etc/bird/bird.conf", buf, 0640, cs->uid_base, cs->uid_base + BIRD_GID);
	if (ret < 0)
		return ret;
	return put_file(rootfs, "etc/bird/spec.conf", r->config ? r->config : "", 0640, cs->uid_base,
			cs->uid_base + BIRD_GID);
}

int container_routing_write(const struct container_spec *cs, struct trl_error *err)
{
	char path[PATH_MAX];
	_cleanup_close_ int root = -1;
	int r = 0;

	snprintf(path, sizeof(path), "%s/%s/rootfs", cs->lxcpath, cs->name);
	/* The container directory is root's (0710); the rootfs below it is the
	 * router's to change: opened without following, written fd-relative. */
	root = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (root < 0)
		return trl_error_errno(err, TRL_EFAILED, errno, "cannot open rootfs '%s'", path);
	if (cs->tpl->routing_frr)
		r = write_frr(root, cs);
	else if (cs->tpl->routing_bird)
		r = write_bird(root, cs);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, -r, "cannot write the routing config into '%s'", path);
	return 0;
}

static int write_config(const char *dir, const char *rootfs, const struct container_spec *cs);

int container_config_write(const struct container_spec *cs, struct trl_error *err)
{
	char dir[PATH_MAX], rootfs[PATH_MAX];
	int r;

	snprintf(dir, sizeof(dir), "%s/%s", cs->lxcpath, cs->name);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", dir);
	if ((r = write_config(dir, rootfs, cs)) < 0)
		return trl_error_errno(err, TRL_EFAILED, -r, "cannot write the LXC config of '%s'", cs->name);
	return 0;
}

/* trellis-lxc-helper, found by container_helper_init() (defined below). */
static char helper_path[PATH_MAX];

static void format_mac(char *buf, size_t len, const unsigned char m[6])
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static int write_config(const char *dir, const char *rootfs, const struct container_spec *cs)
{
	char path[PATH_MAX];
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int r;

	if (!f)
		return -ENOMEM;
	fprintf(f, "# Written by trellisd: router '%s' of slice '%s' (template '%s').\n", cs->router->name,
		cs->slice, cs->tpl->name);
	fprintf(f, "lxc.uts.name = %s\n", cs->router->name);
	fprintf(f, "lxc.rootfs.path = dir:%s\n", rootfs);
	fprintf(f, "lxc.idmap = u 0 %u 65536\nlxc.idmap = g 0 %u 65536\n", cs->uid_base, cs->uid_base);
	fprintf(f, "lxc.mount.auto = proc:mixed sys:ro cgroup:mixed\n");
	fprintf(f, "lxc.mount.entry = /usr usr none bind,ro,nosuid,nodev 0 0\n");
	/* Hundreds of symlinks into /usr: shared read-only rather than copied per router. */
	fprintf(f, "lxc.mount.entry = /etc/alternatives etc/alternatives none bind,ro,nosuid,nodev,create=dir 0 0\n");
	fprintf(f, "lxc.mount.entry = tmpfs run tmpfs rw,nosuid,nodev,mode=0755,size=16m 0 0\n");
	fprintf(f, "lxc.mount.entry = tmpfs tmp tmpfs rw,nosuid,nodev,mode=1777,size=64m 0 0\n");
	fprintf(f, "lxc.autodev = 1\nlxc.tty.max = 0\nlxc.pty.max = 64\n");
	fprintf(f, "lxc.cap.keep = %s\n", caps_keep);
	fprintf(f, "lxc.seccomp.profile = %s\n", cs->seccomp_path);
	fprintf(f, "lxc.init.cmd = " INIT_LXC " --name=%s --quiet -- %s\n", cs->name, cs->tpl->boot);
	fprintf(f, "lxc.signal.halt = SIGTERM\n");
	fprintf(f, "lxc.sysctl.net.ipv4.ip_forward = 1\n");
	fprintf(f, "lxc.sysctl.net.ipv6.conf.all.forwarding = 1\n");
	{
		char cg[256];

		names_cgroup(cg, sizeof(cg), cs->node, cs->slice, cs->router->name);
		fprintf(f, "lxc.cgroup.dir.container = %s\n", cg);
		names_monitor_cgroup(cg, sizeof(cg), cs->node, cs->slice, cs->router->name);
		fprintf(f, "lxc.cgroup.dir.monitor = %s\n", cg);
	}
	fprintf(f, "lxc.cgroup.relative = 0\n");
	cgroup_lxc_devices(f, cs->layout);
	cgroup_lxc_limits(f, cs->layout, &cs->limits, cgroup_swap_accounting(cs->layout));
	/* Outside the container dir, so a failed create leaves its log for the operator. */
	fprintf(f, "lxc.log.file = %s/../log/%s.log\nlxc.log.level = WARN\n", cs->lxcpath, cs->name);
	/* Net hooks get the host end's name in LXC_NET_PEER. */
	fprintf(f, "lxc.hook.version = 1\n");
	for (size_t i = 0; i < cs->n_ifs; i++) {
		const struct container_if *ci = &cs->ifs[i];
		char mac[32];

		format_mac(mac, sizeof(mac), ci->mac);
		fprintf(f, "lxc.net.%zu.type = veth\n", i);
		fprintf(f, "lxc.net.%zu.name = %s\n", i, ci->ifname);
		fprintf(f, "lxc.net.%zu.veth.pair = %s\n", i, ci->host);
		fprintf(f, "lxc.net.%zu.hwaddr = %s\n", i, mac);
		fprintf(f, "lxc.net.%zu.flags = up\n", i);
		/* The host end stays down, without ARP or IPv6, until the links step. */
		fprintf(f, "lxc.net.%zu.script.up = %s veth-hold\n", i, helper_path);
		if (ci->mtu)
			fprintf(f, "lxc.net.%zu.mtu = %u\n", i, ci->mtu);
		for (size_t a = 0; a < ci->n_addrs; a++)
			fprintf(f, "lxc.net.%zu.%s.address = %s\n", i,
				ci->addrs[a].family == AF_INET6 ? "ipv6" : "ipv4", ci->addrs[a].text);
	}
	fclose(f);
	snprintf(path, sizeof(path), "%s/config", dir);
	r = util_write_file(path, text, len, 0640);
	return r;
}

/* "N entries left, first 'X': why" for an error about a tree removal. */
static void rm_left(char *buf, size_t len, const struct util_rm_report *rep, int r)
{
	if (rep->left)
		snprintf(buf, len, ": %lu entr%s left, first '%s': %s", rep->left, rep->left == 1 ? "y" : "ies",
			 rep->first, strerror(rep->error));
	else
		snprintf(buf, len, ": %s", strerror(-r));
}

/*
 * The container directory: root:<mapped root's group> 0710, so only root and
 * the router's own mapped root reach the rootfs below it (LXC's rule for
 * unprivileged containers); other host users cannot look into a router.
 */
static int secure_container_dir(int dirfd, gid_t g)
{
	return fchown(dirfd, 0, g) < 0 || fchmod(dirfd, 0710) < 0 ? -errno : 0;
}

int container_secure_dirs(const char *lxcpath)
{
	DIR *d = opendir(lxcpath);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		_cleanup_close_ int fd = -1, cfd = -1;
		char text[8192], *m;
		unsigned g;
		ssize_t len;

		if (de->d_name[0] == '.')
			continue;
		/* The group from our own config (lxc.idmap), not from the rootfs its tenant may chown. */
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || (cfd = openat(fd, "config", O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
		    (len = read(cfd, text, sizeof(text) - 1)) <= 0)
			continue;
		text[len] = '\0';
		if (!(m = strstr(text, "\nlxc.idmap = g 0 ")) || sscanf(m, "\nlxc.idmap = g 0 %u", &g) != 1 || !g)
			continue;
		if (secure_container_dir(fd, (gid_t)g) == 0)
			n++;
	}
	closedir(d);
	return n;
}

int container_prepare(const struct container_spec *cs, struct trl_error *err)
{
	static const char *const dirs[] = { "usr", "etc", "var", "var/log", "var/lib", "var/tmp", "var/cache",
					    "var/spool", "run", "tmp", "dev", "proc", "sys", "root", "home", "mnt",
					    "etc/trellis", "etc/alternatives" };
	static const char *const usr_links[] = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" };
	char dir[PATH_MAX], rootfs[PATH_MAX], buf[4096], path[PATH_MAX], image[PATH_MAX];
	_cleanup_close_ int dfd = -1, root = -1, etc = -1;
	struct util_rm_report rep;
	uid_t u = cs->uid_base;
	int r;

	snprintf(dir, sizeof(dir), "%s/%s", cs->lxcpath, cs->name);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", dir);
	disk_image_path(image, sizeof(image), cs->lxcpath, cs->name);
	/* A rootfs left from before (a repair, a rebuild) goes with its file system. */
	if (disk_release(image, rootfs, err) < 0)
		return -err->code;
	r = util_rm_rf(dir, &rep);
	if (r < 0) {
		rm_left(buf, sizeof(buf), &rep, r);
		return trl_error_set(err, TRL_EFAILED, "cannot remove the old container directory '%s'%s", dir, buf);
	}
	snprintf(path, sizeof(path), "%s/../log", cs->lxcpath);
	util_mkdir_p(path, 0700);
	snprintf(path, sizeof(path), "%s/../log/%s.log", cs->lxcpath, cs->name);
	unlink(path);
	/* Root's until the rootfs is ready; then secure_container_dir(). */
	if (mkdir(dir, 0700) < 0 || (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    (mkdirat(dfd, "rootfs", 0755) < 0 && errno != EEXIST)) {
		r = -errno;
		goto fail;
	}
	/* limits.disk: the rootfs is its own file system, mounted before anything is written. */
	if (cs->limits.disk && disk_create(image, rootfs, cs->limits.disk, u, err) < 0)
		return -err->code;
	root = openat(dfd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (root < 0 || fchown(root, u, u) < 0 || fchmod(root, 0755) < 0) {
		r = -errno;
		goto fail;
	}
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if ((r = put_dir(root, dirs[i], !strcmp(dirs[i], "root") ? 0700 : 0755, u, u)) < 0)
			goto fail;
	if ((r = put_dir(root, "tmp", 01777, u, u)) < 0 || (r = put_dir(root, "var/tmp", 01777, u, u)) < 0)
		goto fail;
	/* Debian 12 is merged-/usr: mirror the host's top-level symlinks. */
	for (size_t i = 0; i < ARRAY_SIZE(usr_links); i++) {
		char host[64], target[256];
		ssize_t n;

		snprintf(host, sizeof(host), "/%s", usr_links[i]);
		n = readlink(host, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if ((r = put_link(root, usr_links[i], target, u)) < 0)
			goto fail;
	}
	if ((r = put_link(root, "var/run", "/run", u)) < 0 || (r = put_link(root, "var/lock", "/run/lock", u)) < 0)
		goto fail;

	etc = util_open_beneath(root, "etc", O_RDONLY | O_DIRECTORY, 0);
	if (etc < 0) {
		r = etc;
		goto fail;
	}
	for (size_t i = 0; i < ARRAY_SIZE(etc_allow); i++) {
		size_t n = strlen(etc_allow[i]);
		char src[256], rel[256];
		struct stat st;

		if (etc_allow[i][n - 1] == '/') {
			snprintf(rel, sizeof(rel), "etc/%.*s", (int)(n - 1), etc_allow[i]);
			if ((r = put_dir(root, rel, 0755, u, u)) < 0)
				goto fail;
			continue;
		}
		snprintf(src, sizeof(src), "/etc/%s", etc_allow[i]);
		/* A file or a symlink (localtime, os-release) as it is; a directory where a file was named is skipped. */
		if (lstat(src, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
			continue;
		{
			/* Named files may sit in a subdirectory (iproute2/rt_tables): made above, opened beneath. */
			const char *base;
			_cleanup_close_ int pfd = util_open_parent_beneath(etc, etc_allow[i], &base);

			if (pfd < 0) {
				r = pfd;
				goto fail;
			}
			if ((r = copy_tree_at(src, pfd, base, u, u)) < 0)
				goto fail;
		}
	}
	snprintf(buf, sizeof(buf),
		 "root:x:0:0:root:/root:/bin/bash\n"
		 "frr:x:%d:%d:FRR routing suite:/nonexistent:/usr/sbin/nologin\n"
		 "bird:x:%d:%d:BIRD routing daemon:/run/bird:/usr/sbin/nologin\n"
		 "tcpdump:x:%d:%d::/nonexistent:/usr/sbin/nologin\n"
		 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		 FRR_UID, FRR_GID, BIRD_UID, BIRD_GID, TCPDUMP_UID, TCPDUMP_UID);
	if ((r = put_file(root, "etc/passwd", buf, 0644, u, u)) < 0)
		goto fail;
	snprintf(buf, sizeof(buf), "root:x:0:\nfrr:x:%d:\nfrrvty:x:%d:frr\nbird:x:%d:\ntcpdump:x:%d:\nnogroup:x:65534:\n",
		 FRR_GID, FRRVTY_GID, BIRD_GID, TCPDUMP_UID);
	if ((r = put_file(root, "etc/group", buf, 0644, u, u)) < 0)
		goto fail;
	snprintf(buf, sizeof(buf), "%s\n", cs->router->name);
	if ((r = put_file(root, "etc/hostname", buf, 0644, u, u)) < 0)
		goto fail;
	snprintf(buf, sizeof(buf), "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost\n",
		 cs->router->name);
	if ((r = put_file(root, "etc/hosts", buf, 0644, u, u)) < 0)
		goto fail;
	if ((r = put_file(root, "etc/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files\n",
			  0644, u, u)) < 0)
		goto fail;
	if ((r = put_file(root, "etc/resolv.conf", "", 0644, u, u)) < 0)
		goto fail;
	snprintf(buf, sizeof(buf), "TRELLIS_SLICE=%s\nTRELLIS_ROUTER=%s\nTRELLIS_TEMPLATE=%s\n", cs->slice,
		 cs->router->name, cs->tpl->name);
	if ((r = put_file(root, "etc/trellis/router", buf, 0644, u, u)) < 0)
		goto fail;

	snprintf(path, sizeof(path), "%s/rootfs", cs->tpl->dir);
	if (access(path, F_OK) == 0 && (r = copy_into(path, root, u, u)) < 0)
		goto fail;
	if (cs->tpl->routing_frr && (r = write_frr(root, cs)) < 0)
		goto fail;
	if (cs->tpl->routing_bird && (r = write_bird(root, cs)) < 0)
		goto fail;
	if ((r = write_config(dir, rootfs, cs)) < 0 || (r = secure_container_dir(dfd, u)) < 0)
		goto fail;
	return 0;
fail:
	return trl_error_errno(err, TRL_EFAILED, -r, "cannot prepare rootfs '%s'", rootfs);
}

/* Last error line of a container's LXC log, for messages. */
static void lxc_log_tail(const char *lxcpath, const char *name, char *buf, size_t len)
{
	char path[PATH_MAX];
	_cleanup_free_ char *text = NULL;
	char *last = NULL, *p, *save = NULL;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/../log/%s.log", lxcpath, name);
	if (util_read_file(path, 1 << 20, &text, NULL) < 0)
		return;
	/* The first error is the cause; later ones are LXC unwinding. */
	for (p = strtok_r(text, "\n", &save); p; p = strtok_r(NULL, "\n", &save))
		if (strstr(p, "ERROR")) {
			log_warn("%s: %s", name, p);
			if (!last)
				last = p;
		}
	if (last) {
		char *m = strstr(last, " - ");

		snprintf(buf, len, "%s", m ? m + 3 : last);
	}
}

/* liblxc runs in trellis-lxc-helper (see lxc-helper.c for why), found once
 * at start by container_helper_init(). */
static char helper_path[PATH_MAX];
extern char **environ;

int container_helper_init(struct trl_error *err)
{
	char dir[PATH_MAX] = "", *slash;
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);

	/* Next to trellisd (a build tree, or both in one directory), else where
	 * 'make install' puts it. */
	dir[n > 0 ? n : 0] = '\0';
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		snprintf(helper_path, sizeof(helper_path), "%s/trellis-lxc-helper", dir);
		if (access(helper_path, X_OK) == 0)
			return 0;
	}
	snprintf(helper_path, sizeof(helper_path), "%s", CONTAINER_HELPER);
	if (access(helper_path, X_OK) == 0)
		return 0;
	return trl_error_set(err, TRL_EFAILED, "cannot find trellis-lxc-helper (looked in '%s' and '%s'): is trellis installed?",
			     dir, CONTAINER_HELPER);
}

/*
 * liblxc 5.0's daemonized start moves the *calling* process into the
 * container's monitor cgroup (the handler records the caller's pid before it
 * forks).  So the start runs in a short-lived helper: it lands in the monitor
 * cgroup and exits, the daemon stays where it is.
 */
int container_start(struct container_spec *cs, struct trl_error *err)
{
	char *const argv[] = { "trellis-lxc-helper", "start", (char *)cs->lxcpath, (char *)cs->name, NULL };
	char why[512];
	pid_t child;
	int ws;

	child = fork();
	if (child < 0)
		return trl_error_errno(err, TRL_EFAILED, errno, "fork");
	if (child == 0) {
		/* Other threads' fds (a router's boot script being written, client
		 * sockets) must not live on in LXC's monitor: an executable held open
		 * for writing fails with ETXTBSY in the router that runs it. */
		close_range(3, ~0U, 0);
		execve(helper_path, argv, environ);
		_exit(3);
	}
	while (waitpid(child, &ws, 0) < 0)
		if (errno != EINTR)
			return trl_error_errno(err, TRL_EFAILED, errno, "waitpid");
	if (WIFEXITED(ws) && WEXITSTATUS(ws) == 3)
		return trl_error_set(err, TRL_EFAILED, "container '%s': cannot run '%s'", cs->name, helper_path);
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
		lxc_log_tail(cs->lxcpath, cs->name, why, sizeof(why));
		return trl_error_set(err, TRL_EFAILED, "container '%s' failed to start%s%s (log: %s/../log/%s.log)",
				     cs->name, why[0] ? ": " : "", why, cs->lxcpath, cs->name);
	}
	/* The monitor's command socket can reset a query made right after the
	 * start (seen under parallel starts): ask again for up to a second. */
	for (int i = 0; i < 50; i++) {
		struct lxc_container *c = lxc_container_new(cs->name, cs->lxcpath);

		cs->init_pid = c && c->is_running(c) ? c->init_pid(c) : 0;
		lxc_container_put(c);
		if (cs->init_pid > 0)
			break;
		usleep(20000);
	}
	if (cs->init_pid <= 0)
		return trl_error_set(err, TRL_EFAILED, "container '%s' stopped right after starting (log: %s/../log/%s.log)",
				     cs->name, cs->lxcpath, cs->name);
	return 0;
}

/* 1 once init.lxc's child has exec'ed the boot command. */
static int boot_running(pid_t init)
{
	char path[128], exe[PATH_MAX];
	_cleanup_free_ char *kids = NULL;
	char *save = NULL;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", init, init);
	if (util_read_file(path, 4096, &kids, NULL) < 0)
		return 0;
	for (char *k = strtok_r(kids, " \n", &save); k; k = strtok_r(NULL, " \n", &save)) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%s/exe", k);
		n = readlink(path, exe, sizeof(exe) - 1);
		if (n <= 0)
			continue;
		exe[n] = '\0';
		if (strcmp(exe, INIT_LXC))
			return 1;
	}
	return 0;
}

/* Does @rel exist in the running router's root?  Resolved inside that root
 * (RESOLVE_IN_ROOT): a symlink the tenant made there leads nowhere on the host. */
static int exists_in_root(int root, const char *rel)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	int fd = (int)syscall(SYS_openat2, root, rel, &how, sizeof(how));

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* The start of the regular file @rel in the router's root, printable, into
 * @buf.  No symlink is followed at all: one to /proc/self/... would name a
 * file of trellisd's own. */
static void read_in_root(int root, const char *rel, char *buf, size_t len)
{
	struct open_how how = { .flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
	_cleanup_close_ int fd = (int)syscall(SYS_openat2, root, rel, &how, sizeof(how));
	struct stat st;
	ssize_t n = 0;

	buf[0] = '\0';
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (n = read(fd, buf, len - 1)) <= 0)
		return;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] >= 0x7f)
			buf[i] = buf[i] == '\n' ? ';' : '?';
}

/*
 * The bird template's boot script makes /run/bird/ready once birdc has had an
 * answer on BIRD's control socket, and removes it before each restart; when
 * BIRD exits before it ever answered (its configuration is refused), the
 * script writes BIRD's message to /run/bird/failed.  1 ready, 0 not yet,
 * -1 failed with the message in @why.
 */
static int bird_running(pid_t init, char *why, size_t len)
{
	char path[64];
	_cleanup_close_ int root = -1;

	snprintf(path, sizeof(path), "/proc/%d/root", init);
	root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return 0;
	if (exists_in_root(root, "run/bird/ready"))
		return 1;
	read_in_root(root, "run/bird/failed", why, len);
	return why[0] ? -1 : 0;
}

static int frr_running(pid_t init, const struct trl_router *r)
{
	char path[256];
	_cleanup_close_ int root = -1;

	snprintf(path, sizeof(path), "/proc/%d/root", init);
	root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0 || !exists_in_root(root, "run/frr/zebra.pid"))
		return 0;
	for (size_t i = 0; i < r->n_daemons; i++) {
		snprintf(path, sizeof(path), "run/frr/%s.pid", r->daemons[i]);
		if (!exists_in_root(root, path))
			return 0;
	}
	return 1;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int container_poll_ready(struct container_spec *cs, struct trl_error *err)
{
	pid_t init = cs->init_pid;
	char why[512], path[64];
	int bird;

	snprintf(path, sizeof(path), "/proc/%d", init);
	if (init <= 0 || access(path, F_OK) < 0) {
		lxc_log_tail(cs->lxcpath, cs->name, why, sizeof(why));
		return trl_error_set(err, TRL_EFAILED, "container '%s' stopped while booting (template '%s', boot '%s')%s%s",
				     cs->name, cs->tpl->name, cs->tpl->boot, why[0] ? ": " : "", why);
	}
	bird = cs->tpl->routing_bird ? bird_running(init, why, sizeof(why)) : 1;
	if (bird < 0)
		return trl_error_set(err, TRL_EFAILED, "BIRD did not start: %s", why);
	if (!boot_running(init) || (cs->tpl->routing_frr && !frr_running(init, cs->router)) || !bird) {
		cs->ready_since = 0;
		return 0;
	}
	/* A boot command that fails at once must not pass for a running router:
	 * it has to stay up for READY_STABLE_MS. */
	if (!cs->ready_since)
		cs->ready_since = mono_ms();
	return mono_ms() - cs->ready_since >= READY_STABLE_MS;
}

int container_netns_call(pid_t pid, int (*fn)(void *), void *arg)
{
	char path[64];
	_cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int target = -1;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || target < 0)
		return -errno;
	if (setns(target, CLONE_NEWNET) < 0)
		return -errno;
	r = fn(arg);
	if (setns(self, CLONE_NEWNET) < 0)
		abort(); /* a thread stuck in a tenant's netns must not go on */
	return r;
}

/* A netlink socket is bound to the netns it is connected in. */
static int nl_connect_here(void *arg)
{
	return nl_connect(arg, NETLINK_ROUTE) < 0 ? -EIO : 0;
}

/* A rtnetlink socket in @pid's network namespace. */
int container_netns_socket(pid_t pid, struct nl_sock **out)
{
	struct nl_sock *sk = nl_socket_alloc();
	int r;

	if (!sk)
		return -ENOMEM;
	r = container_netns_call(pid, nl_connect_here, sk);
	if (r < 0) {
		nl_socket_free(sk);
		return r;
	}
	*out = sk;
	return 0;
}

/* No duplicate address detection on a router's point-to-point interfaces:
 * nothing else can hold their addresses, and DAD would keep an IPv6 address
 * tentative for a second or two after the link comes up (a ping right after
 * create would fail).  Set before the links step gives them a carrier, which
 * is when DAD would start. */
static int nodad_in(void *arg)
{
	const struct container_spec *cs = arg;
	char path[96];

	for (size_t i = 0; i < cs->n_ifs; i++) {
		int fd;

		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_dad", cs->ifs[i].ifname);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)	/* IPv6 off in the kernel or on the interface */
				continue;
			return -errno;
		}
		if (write(fd, "0", 1) != 1) {
			int e = errno;

			close(fd);
			return -e;
		}
		close(fd);
	}
	return 0;
}

int container_set_nodad(const struct container_spec *cs, struct trl_error *err)
{
	struct nl_sock *sk = NULL;
	int r;

	if (!cs->n_ifs)
		return 0;
	if (cs->init_pid <= 0)
		return trl_error_set(err, TRL_EFAILED, "container '%s' is not running", cs->name);
	r = container_netns_call(cs->init_pid, nodad_in, (void *)cs);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, -r, "router '%s': cannot turn off IPv6 DAD on its interfaces",
				       cs->router->name);
	/* LXC put the addresses in while the host end was briefly up: a DAD may
	 * have begun that the sysctl no longer stops.  Each IPv6 address goes in
	 * again, without DAD (the link has no carrier yet: nothing is lost). */
	if ((r = container_netns_socket(cs->init_pid, &sk)) < 0)
		return trl_error_errno(err, TRL_EFAILED, -r, "router '%s': cannot enter its network namespace",
				       cs->router->name);
	for (size_t i = 0; i < cs->n_ifs && r >= 0; i++) {
		const struct container_if *ci = &cs->ifs[i];
		struct rtnl_link *link = NULL;
		int ifindex;

		if (rtnl_link_get_kernel(sk, 0, ci->ifname, &link) < 0)
			continue;
		ifindex = rtnl_link_get_ifindex(link);
		rtnl_link_put(link);
		for (size_t k = 0; k < ci->n_addrs && r >= 0; k++) {
			struct rtnl_addr *a;
			struct nl_addr *local = NULL;

			if (ci->addrs[k].family != AF_INET6)
				continue;
			a = rtnl_addr_alloc();
			if (!a || nl_addr_parse(ci->addrs[k].text, AF_INET6, &local) < 0) {
				rtnl_addr_put(a);
				r = -NLE_NOMEM;
				break;
			}
			rtnl_addr_set_ifindex(a, ifindex);
			rtnl_addr_set_local(a, local);
			rtnl_addr_set_prefixlen(a, ci->addrs[k].prefixlen);
			rtnl_addr_delete(sk, a, 0);
			rtnl_addr_set_flags(a, IFA_F_NODAD);
			r = rtnl_addr_add(sk, a, 0);
			if (r == -NLE_EXIST)
				r = 0;
			nl_addr_put(local);
			rtnl_addr_put(a);
		}
	}
	nl_socket_free(sk);
	if (r < 0)
		return trl_error_set(err, TRL_EFAILED, "router '%s': cannot set its IPv6 addresses without DAD: %s",
				     cs->router->name, nl_geterror(r));
	return 0;
}

int container_set_loopback(const struct container_spec *cs, struct trl_error *err)
{
	const struct trl_router *rt = cs->router;
	struct nl_sock *sk = NULL;
	pid_t pid;
	int r;

	if (!rt->n_loopback)
		return 0;
	pid = cs->init_pid;
	if (pid <= 0)
		return trl_error_set(err, TRL_EFAILED, "container '%s' is not running", cs->name);
	r = container_netns_socket(pid, &sk);
	if (r < 0)
		return trl_error_errno(err, TRL_EFAILED, -r, "router '%s': cannot enter its network namespace",
				       rt->name);
	for (size_t i = 0; i < rt->n_loopback; i++) {
		struct rtnl_addr *a = rtnl_addr_alloc();
		struct nl_addr *local = NULL;

		if (!a || nl_addr_parse(rt->loopback[i].text, rt->loopback[i].family, &local) < 0) {
			rtnl_addr_put(a);
			nl_socket_free(sk);
			return trl_error_set(err, TRL_EFAILED, "router '%s': loopback '%s': cannot build address",
					     rt->name, rt->loopback[i].text);
		}
		rtnl_addr_set_ifindex(a, 1);	/* lo is always ifindex 1 in a new netns */
		rtnl_addr_set_local(a, local);
		rtnl_addr_set_prefixlen(a, rt->loopback[i].prefixlen);
		r = rtnl_addr_add(sk, a, NLM_F_REPLACE);
		nl_addr_put(local);
		rtnl_addr_put(a);
		if (r < 0 && r != -NLE_EXIST) {
			nl_socket_free(sk);
			return trl_error_set(err, TRL_EFAILED, "router '%s': loopback '%s': %s", rt->name,
					     rt->loopback[i].text, nl_geterror(r));
		}
	}
	nl_socket_free(sk);
	return 0;
}

int container_destroy(const char *lxcpath, const char *name, int keep_log, struct trl_error *err)
{
	char dir[PATH_MAX], rootfs[PATH_MAX], image[PATH_MAX];
	struct util_rm_report rep;
	struct lxc_container *c;
	int r;

	snprintf(dir, sizeof(dir), "%s/%s", lxcpath, name);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", dir);
	disk_image_path(image, sizeof(image), lxcpath, name);
	c = lxc_container_new(name, lxcpath);
	if (c) {
		if (c->is_running(c) && !c->stop(c)) {
			lxc_container_put(c);
			return trl_error_set(err, TRL_EFAILED, "container '%s' could not be stopped", name);
		}
		lxc_container_put(c);
	}
	/* Unmounted before the directory goes: the removal does not cross into it. */
	if (disk_release(image, rootfs, err) < 0)
		return -err->code;
	r = util_rm_rf(dir, &rep);
	if (r < 0) {
		char why[512];

		rm_left(why, sizeof(why), &rep, r);
		return trl_error_set(err, TRL_EFAILED, "cannot remove '%s'%s", dir, why);
	}
	if (!keep_log) {
		snprintf(dir, sizeof(dir), "%s/../log/%s.log", lxcpath, name);
		unlink(dir);
	}
	return 0;
}

int container_stop(const char *lxcpath, const char *name, struct trl_error *err)
{
	struct lxc_container *c = lxc_container_new(name, lxcpath);
	int ok = 1;

	if (!c)
		return trl_error_set(err, TRL_EFAILED, "container '%s' cannot be opened", name);
	if (c->is_running(c))
		ok = c->stop(c);
	lxc_container_put(c);
	return ok ? 0 : trl_error_set(err, TRL_EFAILED, "container '%s' could not be stopped", name);
}

enum router_state container_state(const char *lxcpath, const char *name, pid_t *pid)
{
	char path[PATH_MAX];
	struct lxc_container *c;
	enum router_state st = ROUTER_STOPPED;

	*pid = 0;
	snprintf(path, sizeof(path), "%s/%s/config", lxcpath, name);
	if (access(path, F_OK) < 0)
		return ROUTER_MISSING;
	c = lxc_container_new(name, lxcpath);
	if (!c)
		return ROUTER_MISSING;
	if (c->is_running(c)) {
		st = ROUTER_RUNNING;
		*pid = c->init_pid(c);
	}
	lxc_container_put(c);
	return st;
}

int container_exec(const char *lxcpath, const char *name, char *const argv[], const struct container_io *io,
		   int *status, struct trl_error *err)
{
	_cleanup_free_ char **hargv = NULL;
	char no_pty = 0;
	pid_t child;
	int ws, report[2];
	size_t n = 0;

	while (argv[n])
		n++;
	hargv = calloc(n + 7, sizeof(*hargv));
	if (!hargv)
		return trl_error_errno(err, TRL_EFAILED, ENOMEM, "exec");
	hargv[0] = "trellis-lxc-helper";
	hargv[1] = "exec";
	hargv[2] = (char *)lxcpath;
	hargv[3] = (char *)name;
	hargv[4] = io->tty ? "tty" : "stdio";
	hargv[5] = "--";
	memcpy(hargv + 6, argv, n * sizeof(*argv));
	/* The helper reports on this pipe that it got no pty (124 may be a real exit status). */
	if (pipe2(report, O_CLOEXEC) < 0)
		return trl_error_errno(err, TRL_EFAILED, errno, "pipe");
	child = fork();
	if (child < 0) {
		close(report[0]);
		close(report[1]);
		return trl_error_errno(err, TRL_EFAILED, errno, "fork");
	}
	if (child == 0) {
		/* Only async-signal-safe calls until the exec.  Keep only what the
		 * session needs (the client's three fds as 0, 1, 2, or /dev/null
		 * there; the report pipe as 3; the client's connection as 4 with a
		 * tty): the helper lives for a whole session and must not pin the
		 * daemon's other fds. */
		int tmp[5] = { -1, -1, -1, -1, -1 };

		signal(SIGPIPE, SIG_DFL);
		for (int i = 0; i < 3; i++) {
			tmp[i] = io->tty ? open("/dev/null", O_RDWR | O_CLOEXEC) : fcntl(io->fds[i], F_DUPFD_CLOEXEC, 10);
			if (tmp[i] < 0)
				_exit(126);
		}
		if ((tmp[3] = fcntl(report[1], F_DUPFD_CLOEXEC, 10)) < 0)
			_exit(126);
		if (io->tty && (tmp[4] = fcntl(io->conn_fd, F_DUPFD_CLOEXEC, 10)) < 0)
			_exit(126);
		for (int i = 0; i < 5; i++)
			if (tmp[i] >= 0 && dup2(tmp[i], i) < 0)
				_exit(126);
		close_range(io->tty ? 5 : 4, ~0U, 0);
		execve(helper_path, hargv, environ);
		_exit(126);
	}
	close(report[1]);
	if (io->started)
		io->started(io->started_arg, child);
	while (waitpid(child, &ws, 0) < 0)
		if (errno != EINTR) {
			close(report[0]);
			return trl_error_errno(err, TRL_EFAILED, errno, "waitpid");
		}
	if (read(report[0], &no_pty, 1) != 1)
		no_pty = 0;
	close(report[0]);
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (*status == 125)
		return trl_error_set(err, TRL_EFAILED, "router container '%s' is not running", name);
	if (no_pty)
		return trl_error_set(err, TRL_EFAILED, "router container '%s': cannot open a pty in it", name);
	return 0;
}
