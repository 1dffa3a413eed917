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
 * (server_may: ACCESS_SEE, ACCESS_LOGIN) and nothing else: it cannot change
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
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "log.h"
#include "sshkey.h"
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

/* The slice's account, made if it has none yet.  Under slice_op_begin(). */
static int account_ensure(struct daemon *d, struct store *st, const char *slice, long *uid, struct trl_error *err)
{
	struct passwd pw, *res = NULL;
	char buf[4096], account[64], gecos[128], why[1024];
	int r;
	char *argv[] = { "/usr/sbin/useradd", "--system", "--no-create-home", "--home-dir", "/",
			 "--no-user-group", "--gid", "nogroup", "--password", "*", "--shell", d->cfg.ssh_shell,
			 "--comment", gecos, "--", (char *)slice, NULL };

	if (store_ssh_account_get(st, slice, account, uid) == 0 && !strcmp(account, slice) &&
	    account_is_ours(account, *uid))
		return 0;
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

/* Load @name's row and check the caller may @op it. */
static int load_checked(struct request_ctx *rq, struct store *st, const char *name, enum access_op op,
			struct trl_error *err)
{
	struct store_slice row;
	int r = store_slice_get(st, name, &row, err);

	if (r < 0)
		return r;
	r = server_may(rq, op, &row, err);
	store_slice_release(&row);
	return r;
}

static int key_op(struct request_ctx *rq, const struct proto_request *req, int add, json_t **result,
		  struct trl_error *err)
{
	struct daemon *d = rq->d;
	struct store *st = NULL;
	char key[SSHKEY_MAX + 1], comment[SSHKEY_COMMENT_MAX + 1];
	long uid = -1;
	int r;

	if ((r = sshkey_parse(req->key, key, comment, err)) < 0)
		return r;
	slice_op_begin(d, req->name);
	if ((r = store_open(d->db_path, &st, err)) < 0)
		goto out;
	if ((r = load_checked(rq, st, req->name, ACCESS_CHANGE, err)) < 0)
		goto out;
	if (add) {
		if ((r = account_ensure(d, st, req->name, &uid, err)) < 0)
			goto out;
		if ((r = store_ssh_key_add(st, req->name, key, comment, err)) < 0)
			goto out;
		store_event_add(st, req->name, "ssh-key", "ssh key added");
		*result = json_pack("{s:s, s:s, s:s, s:s}", "name", req->name, "account", req->name, "key", key,
				    "comment", comment);
	} else {
		if ((r = store_ssh_key_remove(st, req->name, key, err)) < 0)
			goto out;
		store_event_add(st, req->name, "ssh-key", "ssh key removed");
		*result = json_pack("{s:s, s:s}", "name", req->name, "key", key);
	}
	log_info("slice '%s': ssh key %s by uid %u", req->name, add ? "added" : "removed", (unsigned)rq->uid);
out:
	store_close(st);
	slice_op_end(d, req->name);
	return r;
}

int ssh_key_add(struct request_ctx *rq, const struct proto_request *req, json_t **result, struct trl_error *err)
{
	return key_op(rq, req, 1, result, err);
}

int ssh_key_remove(struct request_ctx *rq, const struct proto_request *req, json_t **result,
		   struct trl_error *err)
{
	return key_op(rq, req, 0, result, err);
}

int ssh_key_list(struct request_ctx *rq, const char *name, json_t **result, struct trl_error *err)
{
	struct store *st = NULL;
	json_t *keys = NULL;
	char account[64];
	long uid;
	int r;

	if ((r = store_open(rq->d->db_path, &st, err)) < 0)
		return r;
	if ((r = load_checked(rq, st, name, ACCESS_SEE, err)) == 0 && (r = store_ssh_keys(st, name, &keys, err)) == 0) {
		int has = store_ssh_account_get(st, name, account, &uid) == 0;

		*result = json_pack("{s:s, s:s?, s:o}", "name", name, "account", has ? account : NULL, "keys", keys);
	}
	store_close(st);
	return r;
}

int ssh_authorized_keys(struct request_ctx *rq, const char *user, json_t **result, struct trl_error *err)
{
	struct store *st = NULL;
	json_t *keys = NULL, *lines = json_array(), *k;
	char account[64];
	long uid;
	size_t i;
	int r;

	if (!lines)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	if ((r = server_may(rq, ACCESS_SSH_KEYS, NULL, err)) < 0) {
		json_decref(lines);
		return r;
	}
	if ((r = store_open(rq->d->db_path, &st, err)) < 0) {
		json_decref(lines);
		return r;
	}
	/* Keys only for the account trellisd made for this very slice. */
	if (store_ssh_account_get(st, user, account, &uid) == 0 && !strcmp(account, user) &&
	    account_is_ours(account, uid) && store_ssh_keys(st, user, &keys, NULL) == 0) {
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
