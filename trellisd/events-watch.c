/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: the event stream's kernel sources and watcher thread
 *
 * See events.c for the sources and how each event is told.  Routers are
 * registered here (events_router_watch, events_adopt) with their pidfd,
 * cgroup event files and host veth states; the watcher thread (one epoll)
 * turns the kernel's notifications into events and, after each batch,
 * has events.c write them to SQLite.
 */
#define LOG_MODULE "events"
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "container.h"
#include "events-int.h"
#include "log.h"
#include "names.h"
#include "store.h"
#include "trellisd.h"
#include "util.h"

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000	/* linux/if.h, which clashes with net/if.h */
#endif

static const char *const routing_daemons[] = {
	"zebra", "staticd", "ospfd", "ospf6d", "bgpd", "isisd", "ripd", "ripngd", "ldpd", "bfdd",
	"pimd", "pim6d", "eigrpd", "babeld", "fabricd", "pathd", "vrrpd", "nhrpd", "mgmtd", "bird",
};

/* ---- routers ---- */

static struct wrouter *router_by_id(unsigned id)
{
	for (size_t i = 0; i < E.n_routers; i++)
		if (E.routers[i]->id == id)
			return E.routers[i];
	return NULL;
}

static struct wrouter *router_by_name(const char *slice, const char *router)
{
	for (size_t i = 0; i < E.n_routers; i++)
		if (!strcmp(E.routers[i]->slice, slice) && !strcmp(E.routers[i]->router, router))
			return E.routers[i];
	return NULL;
}

static void router_free(struct wrouter *w)
{
	if (w->pidfd >= 0)
		close(w->pidfd);
	if (w->oom_efd >= 0)
		close(w->oom_efd);
	if (w->oom_ctl_fd >= 0)
		close(w->oom_ctl_fd);
	if (E.ino >= 0 && w->wd_mem >= 0)
		inotify_rm_watch(E.ino, w->wd_mem);
	if (E.ino >= 0 && w->wd_pids >= 0 && w->wd_pids != w->wd_mem)
		inotify_rm_watch(E.ino, w->wd_pids);
	free(w);
}

static int keyed(const char *dir, const char *file, const char *key, uint64_t *out)
{
	char path[600], line[256];
	size_t kl = strlen(key);
	FILE *f;
	int r = -ENOENT;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ' ') {
			*out = strtoull(line + kl + 1, NULL, 10);
			r = 0;
			break;
		}
	fclose(f);
	return r;
}

static int read_oom_kills(struct wrouter *w, uint64_t *v)
{
	return keyed(w->mem_dir, E.layout == CGROUP_LAYOUT_V2 ? "memory.events" : "memory.oom_control", "oom_kill", v);
}

/* The cgroup's event files, and the daemons already running (an adopted router). */
static void router_sources(struct wrouter *w)
{
	char rel[256], path[600];
	struct epoll_event ev = { .events = EPOLLIN };
	int v2 = E.layout == CGROUP_LAYOUT_V2;

	names_cgroup(rel, sizeof(rel), E.d->node_name, w->slice, w->router);
	if (cgroup_dir(E.layout, "memory", rel, w->mem_dir, sizeof(w->mem_dir)) == 0) {
		read_oom_kills(w, &w->oom_kills);
		if (v2) {
			snprintf(path, sizeof(path), "%s/memory.events", w->mem_dir);
			w->wd_mem = inotify_add_watch(E.ino, path, IN_MODIFY);
		} else {
			char ctl[600], line[64];
			int cfd;

			snprintf(path, sizeof(path), "%s/memory.oom_control", w->mem_dir);
			snprintf(ctl, sizeof(ctl), "%s/cgroup.event_control", w->mem_dir);
			w->oom_ctl_fd = open(path, O_RDONLY | O_CLOEXEC);
			w->oom_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			cfd = open(ctl, O_WRONLY | O_CLOEXEC);
			snprintf(line, sizeof(line), "%d %d", w->oom_efd, w->oom_ctl_fd);
			if (w->oom_ctl_fd < 0 || w->oom_efd < 0 || cfd < 0 || write(cfd, line, strlen(line)) < 0) {
				log_debug("router '%s/%s': no OOM notification: %s", w->slice, w->router, strerror(errno));
			} else {
				ev.data.u64 = ((uint64_t)TAG_OOM << 32) | w->id;
				epoll_ctl(E.epfd, EPOLL_CTL_ADD, w->oom_efd, &ev);
			}
			if (cfd >= 0)
				close(cfd);
		}
	}
	if (cgroup_dir(E.layout, "pids", rel, w->pids_dir, sizeof(w->pids_dir)) == 0) {
		keyed(w->pids_dir, "pids.events", "max", &w->pids_max);
		snprintf(path, sizeof(path), "%s/pids.events", w->pids_dir);
		w->wd_pids = inotify_add_watch(E.ino, path, IN_MODIFY);
	}
	/* Daemons running already: the tasks of the router's group, once. */
	snprintf(path, sizeof(path), "%s/cgroup.procs", w->pids_dir);
	FILE *f = fopen(path, "re");
	char line[32];

	while (f && fgets(line, sizeof(line), f) && w->n_daemons < MAX_DAEMONS) {
		pid_t pid = (pid_t)atoi(line);
		char comm_path[64], comm[32] = "";
		FILE *c;

		snprintf(comm_path, sizeof(comm_path), "/proc/%d/comm", (int)pid);
		c = fopen(comm_path, "re");
		if (!c)
			continue;
		if (fgets(comm, sizeof(comm), c))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(c);
		for (size_t i = 0; i < ARRAY_SIZE(routing_daemons); i++)
			if (!strcmp(comm, routing_daemons[i])) {
				w->daemons[w->n_daemons].pid = pid;
				snprintf(w->daemons[w->n_daemons].comm, 16, "%s", comm);
				w->n_daemons++;
			}
	}
	if (f)
		fclose(f);
}

static void router_watch(const char *slice, uid_t owner, const char *router, pid_t pid, int quiet);

void events_router_watch(struct daemon *d, const char *slice, uid_t owner, const char *router, pid_t pid)
{
	(void)d;
	router_watch(slice, owner, router, pid, 0);
}

static void router_watch(const char *slice, uid_t owner, const char *router, pid_t pid, int quiet)
{
	struct wrouter *w, **grown;
	struct epoll_event ev = { .events = EPOLLIN };

	if (!E.started)
		return;
	w = calloc(1, sizeof(*w));
	if (!w)
		return;
	snprintf(w->slice, sizeof(w->slice), "%s", slice);
	snprintf(w->router, sizeof(w->router), "%s", router);
	w->owner = owner;
	w->init = pid;
	w->pidfd = w->oom_efd = w->oom_ctl_fd = w->wd_mem = w->wd_pids = -1;
	w->init_status = -1;
	pthread_mutex_lock(&E.lock);
	if (router_by_name(slice, router)) {
		pthread_mutex_unlock(&E.lock);
		free(w);
		return;
	}
	grown = realloc(E.routers, (E.n_routers + 1) * sizeof(*grown));
	if (!grown) {
		pthread_mutex_unlock(&E.lock);
		free(w);
		return;
	}
	E.routers = grown;
	w->id = ++E.next_watch;
	E.routers[E.n_routers++] = w;
	w->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (w->pidfd >= 0) {
		ev.data.u64 = ((uint64_t)TAG_PIDFD << 32) | w->id;
		epoll_ctl(E.epfd, EPOLL_CTL_ADD, w->pidfd, &ev);
	}
	router_sources(w);
	if (!quiet) {
		char msg[96];

		snprintf(msg, sizeof(msg), "router '%s' running (init pid %d)", router, (int)pid);
		events_emit_locked(slice, owner, router, "router-started", msg);
	}
	pthread_mutex_unlock(&E.lock);
}

/* Remove router @i from the table and close its sources (lock held). */
static void router_drop(size_t i)
{
	struct wrouter *w = E.routers[i];

	E.routers[i] = E.routers[--E.n_routers];
	router_free(w);
}

void events_slice_unwatch(struct daemon *d, const char *slice)
{
	events_router_unwatch(d, slice, NULL);
}

void events_router_unwatch(struct daemon *d, const char *slice, const char *router)
{
	(void)d;
	pthread_mutex_lock(&E.lock);
	for (size_t i = 0; i < E.n_routers;) {
		struct wrouter *w = E.routers[i];
		char msg[64];

		if (strcmp(w->slice, slice) || (router && strcmp(w->router, router))) {
			i++;
			continue;
		}
		snprintf(msg, sizeof(msg), "router '%s' stopped", w->router);
		events_emit_locked(w->slice, w->owner, w->router, "router-stopped", msg);
		router_drop(i);
	}
	pthread_mutex_unlock(&E.lock);
}

int events_adopt(struct daemon *d)
{
	DIR *dir = opendir(d->lxcpath);
	struct dirent *de;
	struct store *st = NULL;
	struct trl_error err = { 0 };
	int n = 0;

	if (!dir)
		return 0;
	if (store_open(d->db_path, &st, &err) < 0) {
		closedir(dir);
		return 0;
	}
	while ((de = readdir(dir))) {
		char slice[64], *router;
		struct store_slice row = { 0 };
		struct trl_error e = { 0 };
		pid_t pid = 0;

		snprintf(slice, sizeof(slice), "%s", de->d_name);
		router = strchr(slice, '.');
		if (de->d_name[0] == '.' || !router)
			continue;
		*router++ = '\0';
		if (!names_valid(slice) || !names_valid(router))
			continue;
		if (container_state(d->lxcpath, de->d_name, &pid) != ROUTER_RUNNING || pid <= 0)
			continue;
		if (store_slice_get(st, slice, &row, &e) < 0)
			continue;
		router_watch(slice, row.owner_uid, router, pid, 1);
		store_slice_release(&row);
		n++;
	}
	closedir(dir);
	store_close(st);
	return n;
}

/* ---- kernel sources (watcher thread) ---- */

static void status_text(int status, char *buf, size_t len)
{
	if (status < 0)
		snprintf(buf, len, "status unknown");
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
}

static void on_link(struct nlmsghdr *h)
{
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct rtattr *a = IFLA_RTA(ifi);
	int len = (int)IFLA_PAYLOAD(h), up = !!(ifi->ifi_flags & IFF_LOWER_UP);
	char name[IFNAMSIZ] = "", slice[IFNAMSIZ], *router, *ifname;
	struct wrouter *w;
	size_t k;

	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFLA_IFNAME)
			snprintf(name, sizeof(name), "%s", (const char *)RTA_DATA(a));
	snprintf(slice, sizeof(slice), "%s", name);
	router = strchr(slice, '.');
	if (!router)
		return;
	*router++ = '\0';
	ifname = strchr(router, '.');
	if (!ifname)
		return;
	*ifname++ = '\0';
	pthread_mutex_lock(&E.lock);
	w = router_by_name(slice, router);
	if (!w) {
		pthread_mutex_unlock(&E.lock);
		return;
	}
	for (k = 0; k < w->n_ifs && strcmp(w->ifs[k].host, name); k++)
		;
	if (k == w->n_ifs) {
		if (k == MAX_IFS) {
			pthread_mutex_unlock(&E.lock);
			return;
		}
		/* first seen: a running router's link end is taken to have had carrier */
		snprintf(w->ifs[k].host, sizeof(w->ifs[k].host), "%s", name);
		w->ifs[k].up = 1;
		w->n_ifs++;
	}
	if (w->ifs[k].up != up) {
		char msg[128];

		w->ifs[k].up = up;
		snprintf(msg, sizeof(msg), "%s:%s (host end '%s'): carrier %s", router, ifname, name,
			 up ? "back" : "lost");
		events_emit_locked(slice, w->owner, router, up ? "carrier-up" : "carrier-lost", msg);
	}
	pthread_mutex_unlock(&E.lock);
}

static void read_netlink(void)
{
	char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
	ssize_t n;

	while ((n = recv(E.nl, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n))
			if (h->nlmsg_type == RTM_NEWLINK)
				on_link(h);
	}
}

/* Which watched router does @pid run in (its cgroup)?  Lock held. */
static struct wrouter *router_of_pid(pid_t pid)
{
	char path[64], line[512], prefix[96];
	struct wrouter *w = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	snprintf(prefix, sizeof(prefix), "/trellis/%s/", E.d->node_name);
	while (!w && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':'), *q, *slice, *router;

		if (!p || !(p = strchr(p + 1, ':')))
			continue;
		p++;
		if (E.layout == CGROUP_LAYOUT_V1 && strncmp(line + (strchr(line, ':') - line) + 1, "pids:", 5))
			continue;
		if (strncmp(p, prefix, strlen(prefix)))
			continue;
		slice = p + strlen(prefix);
		if (!(router = strchr(slice, '/')))
			continue;
		*router++ = '\0';
		if ((q = strpbrk(router, "/\n")))
			*q = '\0';
		w = router_by_name(slice, router);
	}
	fclose(f);
	return w;
}

static int is_routing_daemon(const char *comm)
{
	for (size_t i = 0; i < ARRAY_SIZE(routing_daemons); i++)
		if (!strcmp(comm, routing_daemons[i]))
			return 1;
	return 0;
}

static void on_exec(pid_t pid)
{
	char path[64], comm[32] = "";
	struct wrouter *w;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(comm, sizeof(comm), f))
		comm[strcspn(comm, "\n")] = '\0';
	fclose(f);
	if (!is_routing_daemon(comm))
		return;
	pthread_mutex_lock(&E.lock);
	w = router_of_pid(pid);
	if (w && w->n_daemons < MAX_DAEMONS) {
		w->daemons[w->n_daemons].pid = pid;
		snprintf(w->daemons[w->n_daemons].comm, 16, "%s", comm);
		w->n_daemons++;
		for (size_t i = 0; i < w->n_gone; i++)
			if (!strcmp(w->gone[i], comm)) {
				char msg[160];

				snprintf(msg, sizeof(msg), "%s restarted by its supervisor (%s), pid %d", comm,
					 strcmp(comm, "bird") ? "watchfrr" : "the boot loop", (int)pid);
				events_emit_locked(w->slice, w->owner, w->router, "daemon-restarted", msg);
				memmove(w->gone[i], w->gone[i + 1], (w->n_gone - i - 1) * sizeof(w->gone[0]));
				w->n_gone--;
				break;
			}
	}
	pthread_mutex_unlock(&E.lock);
}

static void on_fork(pid_t parent, pid_t child)
{
	pthread_mutex_lock(&E.lock);
	for (size_t i = 0; i < E.n_routers; i++) {
		struct wrouter *w = E.routers[i];

		for (size_t k = 0; k < w->n_daemons; k++)
			if (w->daemons[k].pid == parent && w->n_daemons < MAX_DAEMONS) {
				w->daemons[w->n_daemons].pid = child;
				memcpy(w->daemons[w->n_daemons].comm, w->daemons[k].comm, 16);
				w->n_daemons++;
				goto out;
			}
	}
out:
	pthread_mutex_unlock(&E.lock);
}

static void on_exit_ev(pid_t pid, int status)
{
	pthread_mutex_lock(&E.lock);
	for (size_t i = 0; i < E.n_routers; i++) {
		struct wrouter *w = E.routers[i];

		if (w->init == pid)
			w->init_status = status;
		for (size_t k = 0; k < w->n_daemons; k++) {
			struct wdaemon dm = w->daemons[k];
			int others = 0;
			char msg[160], st[64];

			if (dm.pid != pid)
				continue;
			w->daemons[k] = w->daemons[--w->n_daemons];
			for (size_t j = 0; j < w->n_daemons; j++)
				others += !strcmp(w->daemons[j].comm, dm.comm);
			if (others)
				goto out;	/* a daemonizing parent: its child runs on */
			if (w->n_gone < MAX_GONE)
				snprintf(w->gone[w->n_gone++], 16, "%s", dm.comm);
			status_text(status, st, sizeof(st));
			snprintf(msg, sizeof(msg), "%s (pid %d) exited: %s", dm.comm, (int)pid, st);
			events_emit_locked(w->slice, w->owner, w->router, "daemon-exited", msg);
			goto out;
		}
	}
out:
	pthread_mutex_unlock(&E.lock);
}

static void read_connector(void)
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	ssize_t n;

	while ((n = recv(E.cn, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			struct cn_msg *cm = NLMSG_DATA(h);
			struct proc_event *pe = (struct proc_event *)cm->data;

			if (h->nlmsg_type != NLMSG_DONE || cm->id.idx != CN_IDX_PROC)
				continue;
			if (!E.n_routers)
				continue;
			switch (pe->what) {
			case PROC_EVENT_EXEC:
				if (pe->event_data.exec.process_pid == pe->event_data.exec.process_tgid)
					on_exec(pe->event_data.exec.process_pid);
				break;
			case PROC_EVENT_FORK:
				if (pe->event_data.fork.child_pid == pe->event_data.fork.child_tgid)
					on_fork(pe->event_data.fork.parent_tgid, pe->event_data.fork.child_pid);
				break;
			case PROC_EVENT_EXIT:
				if (pe->event_data.exit.process_pid == pe->event_data.exit.process_tgid)
					on_exit_ev(pe->event_data.exit.process_pid, (int)pe->event_data.exit.exit_code);
				break;
			default:
				break;
			}
		}
	}
}

static void on_router_exit(unsigned id)
{
	struct wrouter *w;

	/* The exit's status comes by the connector: take what it has first,
	 * and give a message still on its way a moment (a pidfd wakes as soon
	 * as the process is a zombie). */
	read_connector();
	for (int i = 0; i < 5 && E.cn >= 0; i++) {
		struct pollfd pfd = { .fd = E.cn, .events = POLLIN };
		int known;

		pthread_mutex_lock(&E.lock);
		w = router_by_id(id);
		known = !w || w->init_status >= 0;
		pthread_mutex_unlock(&E.lock);
		if (known || poll(&pfd, 1, 40) <= 0)
			break;
		read_connector();
	}
	pthread_mutex_lock(&E.lock);
	w = router_by_id(id);
	if (w) {
		char msg[160], st[64];

		status_text(w->init_status, st, sizeof(st));
		snprintf(msg, sizeof(msg), "router '%s' exited (init pid %d): %s", w->router, (int)w->init, st);
		events_emit_locked(w->slice, w->owner, w->router, "router-exited", msg);
		for (size_t i = 0; i < E.n_routers; i++)
			if (E.routers[i] == w) {
				router_drop(i);
				break;
			}
	}
	pthread_mutex_unlock(&E.lock);
}

static void check_oom(struct wrouter *w)
{
	uint64_t v;

	if (w->oom_pending && ++w->oom_pending > 20) {
		/* 2 s under OOM and nothing killed: say so once. */
		w->oom_pending = 0;
		events_emit_locked(w->slice, w->owner, w->router, "oom", "memory limit reached: under OOM, nothing killed yet");
		return;
	}
	if (read_oom_kills(w, &v) == 0 && v > w->oom_kills) {
		w->oom_pending = 0;
		char msg[160];

		snprintf(msg, sizeof(msg), "router '%s': %" PRIu64 " process(es) OOM-killed (memory limit reached)",
			 w->router, v - w->oom_kills);
		w->oom_kills = v;
		events_emit_locked(w->slice, w->owner, w->router, "oom", msg);
	}
}

static void check_pids(struct wrouter *w)
{
	uint64_t v;

	if (keyed(w->pids_dir, "pids.events", "max", &v) == 0 && v > w->pids_max) {
		char msg[160];

		snprintf(msg, sizeof(msg), "router '%s': pids limit reached, %" PRIu64 " fork(s) refused", w->router,
			 v - w->pids_max);
		w->pids_max = v;
		events_emit_locked(w->slice, w->owner, w->router, "pids-max", msg);
	}
}

static void read_inotify(void)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(E.ino, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ie = (struct inotify_event *)p;

			pthread_mutex_lock(&E.lock);
			for (size_t i = 0; i < E.n_routers; i++) {
				struct wrouter *w = E.routers[i];

				if (ie->wd == w->wd_mem)
					check_oom(w);
				if (ie->wd == w->wd_pids)
					check_pids(w);
			}
			pthread_mutex_unlock(&E.lock);
			p += sizeof(*ie) + ie->len;
		}
	}
}

/*
 * What the kernel does not notify: v1's pids.events (the kernel notifies
 * only v2's files) is read every PIDS_CHECK_MS; a v1 OOM notification comes
 * before the kill is counted, so the counter is read every 100 ms until it
 * moves.  Returns the epoll timeout until the next check.
 */
#define PIDS_CHECK_MS 1000
static int timed_checks(void)
{
	static uint64_t last_pids;
	uint64_t now;
	struct timespec ts;
	int pending = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	pthread_mutex_lock(&E.lock);
	for (size_t i = 0; i < E.n_routers; i++) {
		struct wrouter *w = E.routers[i];

		if (w->oom_pending)
			check_oom(w);
		pending |= w->oom_pending;
		if (E.layout == CGROUP_LAYOUT_V1 && now - last_pids >= PIDS_CHECK_MS)
			check_pids(w);
	}
	if (now - last_pids >= PIDS_CHECK_MS)
		last_pids = now;
	pthread_mutex_unlock(&E.lock);
	if (pending)
		return 100;
	return E.layout == CGROUP_LAYOUT_V1 && E.n_routers ? PIDS_CHECK_MS : -1;
}

void *events_watch_main(void *arg)
{
	int timeout = -1;

	(void)arg;
	for (;;) {
		struct epoll_event evs[32];
		int n = epoll_wait(E.epfd, evs, 32, timeout);

		for (int i = 0; i < n; i++) {
			unsigned tag = (unsigned)(evs[i].data.u64 >> 32), id = (unsigned)evs[i].data.u64;
			uint64_t v;

			switch (tag) {
			case TAG_WAKE:
				if (read(E.wake, &v, sizeof(v)) < 0) {
					/* spurious */
				}
				break;
			case TAG_NL:
				read_netlink();
				break;
			case TAG_CN:
				read_connector();
				break;
			case TAG_INO:
				read_inotify();
				break;
			case TAG_PIDFD:
				on_router_exit(id);
				break;
			case TAG_OOM: {
				struct wrouter *w;

				pthread_mutex_lock(&E.lock);
				w = router_by_id(id);
				if (w) {
					if (read(w->oom_efd, &v, sizeof(v)) < 0) {
						/* spurious */
					}
					w->oom_pending = 1;
				}
				pthread_mutex_unlock(&E.lock);
				break;
			}
			}
		}
		timeout = timed_checks();
		events_flush();
	}
	return NULL;
}

int events_watch_open(struct trl_error *err)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1u << (RTNLGRP_LINK - 1) };
	struct epoll_event ev = { .events = EPOLLIN };
	int rcvbuf = 4 << 20;

	E.epfd = epoll_create1(EPOLL_CLOEXEC);
	E.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	E.ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (E.epfd < 0 || E.wake < 0 || E.ino < 0)
		return trl_error_errno(err, TRL_EFAILED, errno, "events: epoll/eventfd/inotify");
	ev.data.u64 = (uint64_t)TAG_WAKE << 32;
	epoll_ctl(E.epfd, EPOLL_CTL_ADD, E.wake, &ev);
	ev.data.u64 = (uint64_t)TAG_INO << 32;
	epoll_ctl(E.epfd, EPOLL_CTL_ADD, E.ino, &ev);

	E.nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (E.nl < 0 || bind(E.nl, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return trl_error_errno(err, TRL_EFAILED, errno, "events: rtnetlink RTNLGRP_LINK");
	setsockopt(E.nl, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	ev.data.u64 = (uint64_t)TAG_NL << 32;
	epoll_ctl(E.epfd, EPOLL_CTL_ADD, E.nl, &ev);

	/* The proc connector: daemons' exec/exit inside the routers (restarts, exit statuses). */
	E.cn = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
	sa = (struct sockaddr_nl){ .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = 0 };
	if (E.cn >= 0 && bind(E.cn, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		struct {
			struct nlmsghdr h;
			struct cn_msg cm;
			enum proc_cn_mcast_op op;
		} __attribute__((packed)) req = { 0 };

		req.h.nlmsg_len = sizeof(req);
		req.h.nlmsg_type = NLMSG_DONE;
		req.cm.id.idx = CN_IDX_PROC;
		req.cm.id.val = CN_VAL_PROC;
		req.cm.len = sizeof(req.op);
		req.op = PROC_CN_MCAST_LISTEN;
		setsockopt(E.cn, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
		if (send(E.cn, &req, sizeof(req), 0) < 0) {
			log_warn("proc connector: %s (no daemon restart events, no exit statuses; it serves only the initial network namespace)", strerror(errno));
			close(E.cn);
			E.cn = -1;
		} else {
			ev.data.u64 = (uint64_t)TAG_CN << 32;
			epoll_ctl(E.epfd, EPOLL_CTL_ADD, E.cn, &ev);
		}
	} else {
		log_warn("proc connector: %s (no daemon restart events, no exit statuses; it serves only the initial network namespace)", strerror(errno));
		if (E.cn >= 0)
			close(E.cn);
		E.cn = -1;
	}
	return 0;
}
