/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: ssh login to slices, PlanetLab-style
 *
 * `ssh SLICE@node [ROUTER] [COMMAND]` lands in a router of SLICE.  sshd needs
 * a passwd entry for the user SLICE, so when a slice's first ssh key is
 * registered (and trellisd.conf says ssh-login = yes) trellisd makes a system
 * account named after the slice (home '/': sshd complains into the session
 * about a home it cannot enter, and nothing there is the account's):
 *   useradd --system --no-create-home --home-dir / --no-user-group
 *           --gid nogroup --password '*' --shell <ssh-shell> --comment 'trellis slice SLICE' SLICE
 * and records its uid in the store.  Its shell is trellis-ssh (cli/ssh.c): a
 * session of the account can only be a trellis login.  The account holds no
 * password and no home, so only the keys sshd gets from trellis-ssh's
 * AuthorizedKeysCommand open it; those keys are printed with "restrict,pty"
 * (no forwarding, no agent, no ~/.ssh/rc).
 *
 * trellisd lets the account's uid see the slice and log into its routers
 * (access.c: ACCESS_SEE, ACCESS_LOGIN) and nothing else: it cannot change
 * or delete the slice, register keys, or reach another slice.  A key belongs
 * to one slice: sshd asks for the keys of user B and gets only B's.
 * A user that already exists under the slice's name (root, daemon, a real
 * person) is never taken over: key add is refused.  The uid recorded must
 * still be the account's, or the keys are not printed and the login is
 * refused.  Deleting the slice removes the account.
 */
#define LOG_MODULE "ssh"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "events.h"
#include "log.h"
#include "sshkey.h"
#include "access.h"
#include "store.h"
#include "trellisd.h"
#include "util.h"

#define ACCOUNT_GECOS_PREFIX "trellis slice "

/* Run a shadow-utils tool; 0, or -1 with its exit status and stderr in @why. */
static int run_tool(char *const argv[], char *why, size_t len)
{
	char *const env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
	int p[2], st;
	pid_t pid;
	ssize_t n, off = 0;

	why[0] = '\0';
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(why, len, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
			_exit(127);
		close_range(3, ~0U, 0);
		execve(argv[0], argv, env);
		_exit(127);
	}
	close(p[1]);
	while (off < (ssize_t)len - 1 && (n = read(p[0], why + off, len - 1 - off)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += n;
	}
	why[off] = '\0';
	while (off > 0 && why[off - 1] == '\n')
		why[--off] = '\0';
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (!why[0])
		snprintf(why, len, "%s exited with status %d", argv[0], WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return -1;
}

/* The account @name if it is the one trellisd made (uid @uid, our comment). */
static int account_is_ours(const char *name, long uid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	return getpwnam_r(name, &pw, buf, sizeof(buf), &res) == 0 && res && (long)res->pw_uid == uid &&
	       res->pw_uid != 0 && !strncmp(res->pw_gecos, ACCOUNT_GECOS_PREFIX, strlen(ACCOUNT_GECOS_PREFIX));
}

int ssh_account_is(struct daemon *d, const char *slice, uid_t uid)
{
	struct store *st = NULL;
	struct trl_error e = { 0 };
	char account[64];
	long rec = -1;
	int yes;

	/* Most callers are not the slice's account: the passwd lookup says so
	 * without opening the store. */
	if (!account_is_ours(slice, (long)uid) || store_open(d->db_path, &st, &e) < 0)
		return 0;
	yes = store_ssh_account_get(st, slice, account, &rec) == 0 && !strcmp(account, slice) && rec == (long)uid;
	store_close(st);
	return yes;
}

int ssh_account_slice(struct daemon *d, uid_t uid, char *slice, size_t len)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (uid == 0 || getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res || strlen(res->pw_name) >= len ||
	    !ssh_account_is(d, res->pw_name, uid))
		return 0;
	snprintf(slice, len, "%s", res->pw_name);
	return 1;
}

/*
 * Every slice account is in the ssh group (ssh-group, default trellis-ssh),
 * which the sshd_config Match block names; made on first use.  An account
 * from before (group nogroup) is moved into it.
 */
static int group_ensure(struct daemon *d, const char *account, struct trl_error *err)
{
	struct group gr, *gres = NULL;
	struct passwd pw, *res = NULL;
	char buf[4096], pbuf[4096], why[1024];
	char *add[] = { "/usr/sbin/groupadd", "--system", "--", d->cfg.ssh_group, NULL };
	char *mod[] = { "/usr/sbin/usermod", "--gid", d->cfg.ssh_group, "--", (char *)account, NULL };
	int r;

	if (getgrnam_r(d->cfg.ssh_group, &gr, buf, sizeof(buf), &gres) != 0 || !gres) {
		for (int i = 0; (r = run_tool(add, why, sizeof(why))) < 0 && i < 5 && strstr(why, "lock"); i++)
			usleep(200000);
		if (r < 0 && !strstr(why, "already exists"))
			return trl_error_set(err, TRL_EFAILED, "cannot create the ssh group '%s' (ssh-group): %s",
					     d->cfg.ssh_group, why);
		if (getgrnam_r(d->cfg.ssh_group, &gr, buf, sizeof(buf), &gres) != 0 || !gres)
			return trl_error_set(err, TRL_EFAILED, "groupadd succeeded but no group '%s' exists",
					     d->cfg.ssh_group);
	}
	if (!account)
		return 0;
	if (getpwnam_r(account, &pw, pbuf, sizeof(pbuf), &res) != 0 || !res)
		return trl_error_set(err, TRL_EFAILED, "no account '%s'", account);
	if (res->pw_gid == gres->gr_gid)
		return 0;
	if (run_tool(mod, why, sizeof(why)) < 0)
		return trl_error_set(err, TRL_EFAILED, "slice '%s': cannot move its ssh account into group '%s': %s",
				     account, d->cfg.ssh_group, why);
	return 0;
}

/* The slice's account, made if it has none yet (*created then 1).  Under slice_op_begin(). */
static int account_ensure(struct daemon *d, struct store *st, const char *slice, long *uid, int *created,
			  struct trl_error *err)
{
	struct passwd pw, *res = NULL;
	char buf[4096], account[64], gecos[128], why[1024];
	int r;
	char *argv[] = { "/usr/sbin/useradd", "--system", "--no-create-home", "--home-dir", "/",
			 "--no-user-group", "--gid", d->cfg.ssh_group, "--password", "*", "--shell", d->cfg.ssh_shell,
			 "--comment", gecos, "--", (char *)slice, NULL };

	*created = 0;
	if (store_ssh_account_get(st, slice, account, uid) == 0 && !strcmp(account, slice) &&
	    account_is_ours(account, *uid))
		return group_ensure(d, slice, err);
	if (!d->cfg.ssh_login)
		return trl_error_set(err, TRL_EUNAVAIL,
				     "ssh login is off on node '%s' (the operator sets ssh-login = yes in trellisd.conf)",
				     d->node_name);
	if (getpwnam_r(slice, &pw, buf, sizeof(buf), &res) == 0 && res)
		return trl_error_set(err, TRL_EEXIST,
				     "slice '%s': ssh login needs a system account named '%s', and a user of that name already exists on node '%s' (uid %u); choose another slice name",
				     slice, slice, d->node_name, (unsigned)res->pw_uid);
	if (access(d->cfg.ssh_shell, X_OK) < 0)
		return trl_error_errno(err, TRL_EUNAVAIL, errno, "ssh-shell '%s' of trellisd.conf is not executable",
				       d->cfg.ssh_shell);
	if (group_ensure(d, NULL, err) < 0)
		return -err->code;
	snprintf(gecos, sizeof(gecos), ACCOUNT_GECOS_PREFIX "%s", slice);
	/* useradd fails while another tool holds /etc/passwd's lock: retry a little. */
	for (int i = 0; (r = run_tool(argv, why, sizeof(why))) < 0 && i < 5 && strstr(why, "lock"); i++)
		usleep(200000);
	if (r < 0)
		return trl_error_set(err, TRL_EFAILED, "slice '%s': cannot create its ssh account: %s", slice, why);
	if (getpwnam_r(slice, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return trl_error_set(err, TRL_EFAILED, "slice '%s': useradd succeeded but no account '%s' exists", slice,
				     slice);
	*uid = res->pw_uid;
	if (store_ssh_account_set(st, slice, slice, *uid, err) < 0) {
		char *del[] = { "/usr/sbin/userdel", "--", (char *)slice, NULL };

		run_tool(del, why, sizeof(why));
		return -err->code;
	}
	log_info("slice '%s': ssh account '%s' (uid %ld) created", slice, slice, *uid);
	*created = 1;
	return 0;
}

/* SIGKILL every process running as @uid (sessions of a slice being deleted). */
static void kill_uid(uid_t uid)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		char path[300], line[256];
		FILE *f;
		unsigned r;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		if (!(f = fopen(path, "re")))
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "Uid: %u", &r) == 1) {
				if (r == uid)
					kill(atoi(de->d_name), SIGKILL);
				break;
			}
		fclose(f);
	}
	closedir(dir);
}

void ssh_account_remove(struct daemon *d, const char *slice)
{
	struct store *st = NULL;
	struct trl_error e = { 0 };
	char account[64], why[1024];
	char *argv[] = { "/usr/sbin/userdel", "--", account, NULL };
	long uid;
	int r;

	if (store_open(d->db_path, &st, &e) < 0)
		return;
	r = store_ssh_account_get(st, slice, account, &uid);
	store_close(st);
	if (r < 0)
		return;
	if (strcmp(account, slice) || !account_is_ours(account, uid)) {
		log_warn("slice '%s': ssh account '%s' (uid %ld) is no longer the one trellisd made: left alone", slice,
			 account, uid);
		return;
	}
	/* userdel refuses while the account runs processes: its sessions end with the slice. */
	kill_uid((uid_t)uid);
	for (int i = 0; i < 3; i++) {
		if (run_tool(argv, why, sizeof(why)) == 0) {
			log_info("slice '%s': ssh account '%s' removed", slice, account);
			return;
		}
		usleep(100000);
		kill_uid((uid_t)uid);
	}
	log_warn("slice '%s': cannot remove ssh account '%s': %s", slice, account, why);
}

/*
 * sshd must run trellis-ssh for a slice account whatever the client asks: a
 * subsystem (internal-sftp runs inside sshd and never reaches the shell),
 * forwarding (a tunnel into the host's network or sockets) or a command.
 * So trellisd asks sshd for its effective configuration for the account
 * (sshd -T -C user=ACCOUNT,host=localhost,addr=127.0.0.1 -f sshd-config)
 * and enables ssh login only when it forces trellis-ssh, forwards nothing
 * and exposes which key opened the session (ExposeAuthInfo: the key's
 * sessions end when it is removed).  Checked when a key is added and each
 * time sshd asks for an account's keys: a configuration changed later stops
 * the logins instead of opening the host.
 */
static const struct {
	const char *key, *name, *want;
} sshd_musts[] = {
	{ "allowtcpforwarding", "AllowTcpForwarding", "no" },
	{ "allowstreamlocalforwarding", "AllowStreamLocalForwarding", "no" },
	{ "allowagentforwarding", "AllowAgentForwarding", "no" },
	{ "x11forwarding", "X11Forwarding", "no" },
	{ "permittunnel", "PermitTunnel", "no" },
	{ "exposeauthinfo", "ExposeAuthInfo", "yes" },
};

#define SSHD_T_MAX (256u << 10)

static int sshd_check(struct daemon *d, const char *account, struct trl_error *err)
{
	char spec[160], bad[2048] = "";
	char *argv[] = { d->cfg.sshd, "-T", "-C", spec, "-f", d->cfg.sshd_config, NULL };
	_cleanup_free_ char *out = malloc(SSHD_T_MAX);
	const char *vals[ARRAY_SIZE(sshd_musts)] = { 0 }, *force = NULL, *disable = NULL;
	size_t n = 0;
	char *line, *save = NULL;

	if (!out)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	snprintf(spec, sizeof(spec), "user=%s,host=localhost,addr=127.0.0.1", account);
	if (run_tool(argv, out, SSHD_T_MAX) < 0)
		return trl_error_set(err, TRL_EUNAVAIL,
				     "ssh login: cannot read sshd's configuration ('%s -T -C %s -f %s'): %.400s",
				     d->cfg.sshd, spec, d->cfg.sshd_config, out);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, ' ');

		if (!v)
			continue;
		*v++ = '\0';
		if (!strcmp(line, "forcecommand"))
			force = v;
		else if (!strcmp(line, "disableforwarding"))
			disable = v;
		for (size_t i = 0; i < ARRAY_SIZE(sshd_musts); i++)
			if (!strcmp(line, sshd_musts[i].key))
				vals[i] = v;
	}
	if (!force || strcmp(force, d->cfg.ssh_shell))
		n += snprintf(bad + n, sizeof(bad) - n, "%sForceCommand is '%s' (must be '%s')", n ? ", " : "",
			      force ? force : "unset", d->cfg.ssh_shell);
	for (size_t i = 0; i < ARRAY_SIZE(sshd_musts) && n < sizeof(bad); i++) {
		/* DisableForwarding yes overrides every forwarding option but PermitTunnel. */
		if (disable && !strcmp(disable, "yes") && strstr(sshd_musts[i].key, "forwarding"))
			continue;
		if (!vals[i] || strcmp(vals[i], sshd_musts[i].want))
			n += snprintf(bad + n, sizeof(bad) - n, "%s%s is '%s' (must be '%s')", n ? ", " : "",
				      sshd_musts[i].name, vals[i] ? vals[i] : "unset", sshd_musts[i].want);
	}
	if (n)
		return trl_error_set(err, TRL_EUNAVAIL,
				     "ssh login refused: sshd's configuration for slice account '%s' ('%s -T -C %s -f %s') lets it bypass trellis-ssh: %s; add the Match Group %s block of trellisd.conf(5), SSH LOGIN",
				     account, d->cfg.sshd, spec, d->cfg.sshd_config, bad, d->cfg.ssh_group);
	return 0;
}

/*
 * Sessions by key.  trellis-ssh tells which key opened its session (sshd's
 * ExposeAuthInfo file) in slice.exec; slice_exec() registers the session
 * here before it checks that the key is still registered, so a removal
 * either refuses the session or finds it.  Removing a key sends SIGTERM to
 * each of its sessions' helper (which kills the command's process group in
 * the router) and to its client (trellis-ssh, whose sshd session then ends).
 * pidfds, so a pid reused meanwhile is never signalled.
 */
struct ssh_session {
	struct ssh_session *next;
	char slice[64];
	char *key;
	int client;		/* pidfd of trellis-ssh */
	int helper;		/* pidfd of trellis-lxc-helper, -1 until it runs */
	int ended;
};

static pthread_mutex_t sessions_m = PTHREAD_MUTEX_INITIALIZER;
static struct ssh_session *sessions;

static void session_signal(struct ssh_session *ss)
{
	if (ss->helper >= 0)
		syscall(SYS_pidfd_send_signal, ss->helper, SIGTERM, NULL, 0);
	if (ss->client >= 0)
		syscall(SYS_pidfd_send_signal, ss->client, SIGTERM, NULL, 0);
}

static int key_registered(struct daemon *d, const char *slice, const char *key, struct trl_error *err)
{
	struct store *st = NULL;
	json_t *keys = NULL, *k;
	size_t i;
	int found = 0;

	if (store_open(d->db_path, &st, err) < 0)
		return -err->code;
	if (store_ssh_keys(st, slice, &keys, err) < 0) {
		store_close(st);
		return -err->code;
	}
	store_close(st);
	json_array_foreach(keys, i, k)
		found |= !strcmp(json_string_value(json_object_get(k, "key")) ?: "", key);
	json_decref(keys);
	return found;
}

int ssh_session_begin(struct op_ctx *oc, const char *slice, const char *key, struct ssh_session **out,
		      struct trl_error *err)
{
	char k[SSHKEY_MAX + 1], comment[SSHKEY_COMMENT_MAX + 1];
	struct ssh_session *ss;
	int r;

	*out = NULL;
	if (!ssh_account_is(oc->d, slice, oc->who.uid))
		return 0;
	if (!key)
		return trl_error_set(err, TRL_EPERM,
				     "slice '%s': an ssh session must say which key opened it (sshd: ExposeAuthInfo yes for the slice accounts; see trellisd.conf(5))",
				     slice);
	if ((r = sshkey_parse(key, k, comment, err)) < 0)
		return r;
	ss = calloc(1, sizeof(*ss));
	if (!ss || !(ss->key = strdup(k))) {
		free(ss);
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	}
	snprintf(ss->slice, sizeof(ss->slice), "%s", slice);
	ss->helper = -1;
	ss->client = (int)syscall(SYS_pidfd_open, oc->who.pid, 0);
	pthread_mutex_lock(&sessions_m);
	ss->next = sessions;
	sessions = ss;
	pthread_mutex_unlock(&sessions_m);
	r = key_registered(oc->d, slice, k, err);
	if (r <= 0) {
		ssh_session_end(ss);
		return r < 0 ? r : trl_error_set(err, TRL_EPERM, "slice '%s': the ssh key of this session is no longer registered", slice);
	}
	*out = ss;
	return 0;
}

void ssh_session_started(void *arg, pid_t helper)
{
	struct ssh_session *ss = arg;

	pthread_mutex_lock(&sessions_m);
	ss->helper = (int)syscall(SYS_pidfd_open, helper, 0);
	if (ss->ended)
		session_signal(ss);
	pthread_mutex_unlock(&sessions_m);
}

void ssh_session_end(struct ssh_session *ss)
{
	if (!ss)
		return;
	pthread_mutex_lock(&sessions_m);
	for (struct ssh_session **pp = &sessions; *pp; pp = &(*pp)->next)
		if (*pp == ss) {
			*pp = ss->next;
			break;
		}
	pthread_mutex_unlock(&sessions_m);
	if (ss->client >= 0)
		close(ss->client);
	if (ss->helper >= 0)
		close(ss->helper);
	free(ss->key);
	free(ss);
}

/* End the sessions @key opened in @slice; how many. */
static int sessions_end_key(const char *slice, const char *key)
{
	int n = 0;

	pthread_mutex_lock(&sessions_m);
	for (struct ssh_session *ss = sessions; ss; ss = ss->next)
		if (!strcmp(ss->slice, slice) && !strcmp(ss->key, key)) {
			ss->ended = 1;
			session_signal(ss);
			n++;
		}
	pthread_mutex_unlock(&sessions_m);
	return n;
}

/* Load @name's row and check the caller may @op it. */
static int load_checked(struct op_ctx *oc, struct store *st, const char *name, enum access_op op,
			struct trl_error *err)
{
	struct store_slice row;
	int r = store_slice_get(st, name, &row, err);

	if (r < 0)
		return r;
	r = access_check(oc, op, &row, err);
	store_slice_release(&row);
	return r;
}

static int key_op(struct op_ctx *oc, const struct proto_request *req, int add, json_t **result,
		  struct trl_error *err)
{
	struct daemon *d = oc->d;
	struct store *st = NULL;
	char key[SSHKEY_MAX + 1], comment[SSHKEY_COMMENT_MAX + 1];
	long uid = -1;
	int r, ended;

	if ((r = sshkey_parse(req->key, key, comment, err)) < 0)
		return r;
	slice_op_begin(d, req->name);
	if ((r = store_open(d->db_path, &st, err)) < 0)
		goto out;
	if ((r = load_checked(oc, st, req->name, ACCESS_CHANGE, err)) < 0)
		goto out;
	if (add) {
		int created;

		if ((r = account_ensure(d, st, req->name, &uid, &created, err)) < 0)
			goto out;
		if ((r = sshd_check(d, req->name, err)) < 0) {
			if (created) {
				store_close(st);
				st = NULL;
				ssh_account_remove(d, req->name);
			}
			goto out;
		}
		if ((r = store_ssh_key_add(st, req->name, key, comment, err)) < 0)
			goto out;
		events_emit_st(oc->d, st, req->name, NULL, "ssh-key", "ssh key added");
		*result = json_pack("{s:s, s:s, s:s, s:s}", "name", req->name, "account", req->name, "key", key,
				    "comment", comment);
	} else {
		if ((r = store_ssh_key_remove(st, req->name, key, err)) < 0)
			goto out;
		events_emit_st(oc->d, st, req->name, NULL, "ssh-key", "ssh key removed");
		*result = json_pack("{s:s, s:s}", "name", req->name, "key", key);
		if ((ended = sessions_end_key(req->name, key)) > 0)
			log_info("slice '%s': ended %d ssh session%s of the removed key", req->name, ended,
				 ended == 1 ? "" : "s");
	}
	log_info("slice '%s': ssh key %s by uid %u", req->name, add ? "added" : "removed", (unsigned)oc->who.uid);
out:
	store_close(st);
	slice_op_end(d, req->name);
	return r;
}

int ssh_key_add(struct op_ctx *oc, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	return key_op(oc, req, 1, result, err);
}

int ssh_key_remove(struct op_ctx *oc, const struct proto_request *req, json_t **result,
		   struct trl_error *err)
{
	return key_op(oc, req, 0, result, err);
}

int ssh_key_list(struct op_ctx *oc, const char *name, json_t **result, struct trl_error *err)
{
	struct store *st = NULL;
	json_t *keys = NULL;
	char account[64];
	long uid;
	int r;

	if ((r = store_open(oc->d->db_path, &st, err)) < 0)
		return r;
	if ((r = load_checked(oc, st, name, ACCESS_SEE, err)) == 0 && (r = store_ssh_keys(st, name, &keys, err)) == 0) {
		int has = store_ssh_account_get(st, name, account, &uid) == 0;

		*result = json_pack("{s:s, s:s?, s:o}", "name", name, "account", has ? account : NULL, "keys", keys);
	}
	store_close(st);
	return r;
}

/* 1 (logged) if sshd's configuration for @account fails sshd_check(). */
static int sshd_refuses(struct daemon *d, const char *account)
{
	struct trl_error e = { 0 };

	if (sshd_check(d, account, &e) == 0)
		return 0;
	log_warn("slice '%s': no ssh keys given to sshd: %s", account, e.msg);
	return 1;
}

int ssh_authorized_keys(struct op_ctx *oc, const char *user, json_t **result, struct trl_error *err)
{
	struct store *st = NULL;
	json_t *keys = NULL, *lines = json_array(), *k;
	char account[64];
	long uid;
	size_t i;
	int r;

	if (!lines)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	if ((r = access_check(oc, ACCESS_SSH_KEYS, NULL, err)) < 0) {
		json_decref(lines);
		return r;
	}
	if ((r = store_open(oc->d->db_path, &st, err)) < 0) {
		json_decref(lines);
		return r;
	}
	/* Keys only for the account trellisd made for this very slice. */
	if (store_ssh_account_get(st, user, account, &uid) == 0 && !strcmp(account, user) &&
	    account_is_ours(account, uid) && !sshd_refuses(oc->d, user) && store_ssh_keys(st, user, &keys, NULL) == 0) {
		json_array_foreach(keys, i, k) {
			const char *c = json_string_value(json_object_get(k, "comment"));
			char *line = NULL;

			if (asprintf(&line, "restrict,pty %s%s%s", json_string_value(json_object_get(k, "key")),
				     c && *c ? " " : "", c ? c : "") >= 0) {
				json_array_append_new(lines, json_string(line));
				free(line);
			}
		}
		json_decref(keys);
	}
	store_close(st);
	*result = json_pack("{s:s, s:o}", "name", user, "keys", lines);
	return 0;
}
