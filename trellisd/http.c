/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: the HTTP listener: who asks, caps, routing
 *
 * libmicrohttpd serves a thread per connection.  For every request this file
 *   1. refuses what is not a plain GET or HEAD without a body (405, 413);
 *      request line and headers live in a HTTP_MEMORY_LIMIT pool, so larger
 *      ones get libmicrohttpd's 431/414 before any of our code runs;
 *   2. resolves the caller (struct caller, op.h): with an http-tokens file a
 *      request needs "Authorization: Bearer TOKEN" (else 401): a token with
 *      a user is that tenant (PRINCIPAL_TENANT, its uid), one without is
 *      root; with http-client-ca a verified client certificate is root;
 *      with neither (loopback only) every request is root's;
 *   3. refuses paths with "..", "//", a backslash or control characters
 *      (400) and routes the rest; access_http_request() (access.c) runs
 *      before the handler, whose slice loads check ACCESS_SEE themselves.
 * Caps: HTTP_MAX_CONNECTIONS in all and HTTP_MAX_PER_IP from one address
 * (libmicrohttpd closes the ones beyond at accept); a watchdog thread shuts
 * down every connection whose request is not in and answered request-timeout
 * seconds after it was accepted or its previous request was answered, so a
 * client that drips its headers or never reads holds nothing for long.
 * Tokens are compared in constant time and never logged.
 */
#define LOG_MODULE "http"
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "access.h"
#include "escape.h"
#include "http.h"
#include "log.h"
#include "trellisd.h"
#include "util.h"

#define TOKEN_MIN 16
#define TOKEN_MAX 128
#define TOKENS_MAX 1024
#define TOKENS_FILE_MAX (256 * 1024)

struct http_counters http_counters;
double http_daemon_start;

struct token {
	char secret[TOKEN_MAX + 1];
	size_t len;
	int tenant;		/* bound to a user: PRINCIPAL_TENANT */
	uid_t uid;
	gid_t gid;
};

/* A connection the watchdog keeps an eye on. */
struct tracked {
	struct tracked *next, **pprev;
	int fd;
	struct timespec since;	/* accepted, or its last request answered */
	int shut;
};

static struct {
	struct daemon *d;
	struct MHD_Daemon *mhd;
	struct token *tokens;
	size_t n_tokens;
	int have_tokens, client_ca;
	char *cert, *key, *ca;	/* PEM, kept for libmicrohttpd's lifetime */
	unsigned timeout;
	pthread_mutex_t lock;
	struct tracked *conns;
	pthread_t watchdog;
	int watchdog_on;
	volatile int stopping;
} H = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- token file ---- */

/* Lines "TOKEN [USER]"; '#' comments.  Root's file, read by no one else. */
static int tokens_load(const char *path, struct trl_error *err)
{
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t len = 0, off = 0;
	unsigned lineno = 0;
	int r = util_read_file(path, TOKENS_FILE_MAX, &text, &len);

	if (r == -EFBIG)
		return trl_error_set(err, TRL_EINVALID, "http-tokens '%s': larger than %d bytes", path, TOKENS_FILE_MAX);
	if (r < 0)
		return trl_error_errno(err, TRL_EINVALID, -r, "http-tokens '%s': cannot read it", path);
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 027)) {
		explicit_bzero(text, len);
		return trl_error_set(err, TRL_EINVALID,
				     "http-tokens '%s': must be a file owned by root, readable by no one else and writable by root alone",
				     path);
	}
	H.tokens = calloc(TOKENS_MAX, sizeof(*H.tokens));
	if (!H.tokens)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	while (off < len) {
		char *line = text + off, *nl = memchr(line, '\n', len - off), *tok, *user, *extra, *save = NULL;
		struct token *t;

		lineno++;
		if (nl)
			*nl = '\0';
		off += strlen(line) + 1;
		tok = strtok_r(line, " \t\r", &save);
		if (!tok || tok[0] == '#')
			continue;
		user = strtok_r(NULL, " \t\r", &save);
		extra = strtok_r(NULL, " \t\r", &save);
		if (extra) {
			r = trl_error_set(err, TRL_EINVALID, "http-tokens '%s':%u: more than 'TOKEN [USER]'", path, lineno);
			goto fail;
		}
		if (strlen(tok) < TOKEN_MIN || strlen(tok) > TOKEN_MAX) {
			r = trl_error_set(err, TRL_EINVALID, "http-tokens '%s':%u: a token has %d to %d characters", path,
					  lineno, TOKEN_MIN, TOKEN_MAX);
			goto fail;
		}
		if (H.n_tokens == TOKENS_MAX) {
			r = trl_error_set(err, TRL_EINVALID, "http-tokens '%s': more than %d tokens", path, TOKENS_MAX);
			goto fail;
		}
		t = &H.tokens[H.n_tokens];
		t->len = strlen(tok);
		memcpy(t->secret, tok, t->len);
		if (user && strcmp(user, "root")) {
			struct passwd pw, *res = NULL;
			char buf[4096];

			if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) != 0 || !res) {
				r = trl_error_set(err, TRL_EINVALID, "http-tokens '%s':%u: no user '%s' on this host", path,
						  lineno, ESC(user));
				goto fail;
			}
			if (res->pw_uid != 0) {
				t->tenant = 1;
				t->uid = res->pw_uid;
				t->gid = res->pw_gid;
			}
		}
		H.n_tokens++;
	}
	explicit_bzero(text, len);
	H.have_tokens = 1;
	return 0;
fail:
	explicit_bzero(text, len);
	return r;
}

/* The token @got names, or NULL: every token is compared, in constant time. */
static const struct token *token_find(const char *got)
{
	const struct token *found = NULL;
	size_t n = strnlen(got, TOKEN_MAX + 1);

	for (size_t i = 0; i < H.n_tokens; i++) {
		unsigned char diff = (unsigned char)(n != H.tokens[i].len);

		for (size_t k = 0; k < TOKEN_MAX; k++)
			diff |= (unsigned char)((k < n ? got[k] : 0) ^ H.tokens[i].secret[k]);
		if (!diff)
			found = &H.tokens[i];
	}
	return found;
}

/* ---- connection deadlines ---- */

static double since_s(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
			      enum MHD_ConnectionNotificationCode code)
{
	struct tracked *t = *socket_ctx;
	const union MHD_ConnectionInfo *ci;

	(void)cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		t = calloc(1, sizeof(*t));
		if (!t || !ci) {
			free(t);
			return;
		}
		t->fd = ci->connect_fd;
		clock_gettime(CLOCK_MONOTONIC, &t->since);
		pthread_mutex_lock(&H.lock);
		t->next = H.conns;
		if (t->next)
			t->next->pprev = &t->next;
		t->pprev = &H.conns;
		H.conns = t;
		pthread_mutex_unlock(&H.lock);
		*socket_ctx = t;
		atomic_fetch_add(&http_counters.connections, 1);
		return;
	}
	/* Closed: out of the table before libmicrohttpd closes the fd (its number may be reused). */
	if (!t)
		return;
	pthread_mutex_lock(&H.lock);
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
	pthread_mutex_unlock(&H.lock);
	free(t);
	*socket_ctx = NULL;
}

/* A request answered: the connection's clock starts again for the next one. */
static void request_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			      enum MHD_RequestTerminationCode toe)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct tracked *t = ci ? ci->socket_context : NULL;

	(void)cls;
	(void)toe;
	*con_cls = NULL;
	if (!t)
		return;
	pthread_mutex_lock(&H.lock);
	clock_gettime(CLOCK_MONOTONIC, &t->since);
	pthread_mutex_unlock(&H.lock);
}

static void *watchdog_main(void *arg)
{
	(void)arg;
	while (!H.stopping) {
		unsigned cut = 0;

		usleep(250000);
		pthread_mutex_lock(&H.lock);
		for (struct tracked *t = H.conns; t; t = t->next)
			if (!t->shut && since_s(&t->since) > H.timeout) {
				/* Wakes the connection's thread, which closes it. */
				shutdown(t->fd, SHUT_RDWR);
				t->shut = 1;
				cut++;
			}
		pthread_mutex_unlock(&H.lock);
		if (cut) {
			atomic_fetch_add(&http_counters.cut, cut);
			log_info("cut %u connection(s) that took longer than %u s (request-timeout)", cut, H.timeout);
		}
	}
	return NULL;
}

/* ---- replies ---- */

void http_reply_error(struct http_reply *rep, unsigned status, const char *msg)
{
	free(rep->body);
	rep->status = status;
	rep->type = "text/plain; charset=utf-8";
	if (asprintf(&rep->body, "%s\n", msg) < 0)
		rep->body = NULL;
	rep->len = rep->body ? strlen(rep->body) : 0;
}

void http_reply_json(struct http_reply *rep, json_t *doc)
{
	char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	if (!s) {
		http_reply_error(rep, 500, "internal error");
		return;
	}
	free(rep->body);
	rep->status = 200;
	rep->type = "application/json";
	rep->body = s;
	rep->len = strlen(s);
}

/* Queue @rep (its body then belongs to libmicrohttpd, which leaves it out for HEAD). */
static enum MHD_Result send_reply(struct MHD_Connection *c, struct http_reply *rep)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!rep->body)
		http_reply_error(rep, 500, "out of memory");
	resp = MHD_create_response_from_buffer(rep->len, rep->body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(rep->body);
		return MHD_NO;
	}
	rep->body = NULL;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rep->type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Content-Security-Policy",
				"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'");
	if (rep->status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"trellis\"");
	atomic_fetch_add(&http_counters.requests, 1);
	if (rep->status / 100 < 6)
		atomic_fetch_add(&http_counters.status[rep->status / 100], 1);
	ret = MHD_queue_response(c, rep->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- requests ---- */

/* A path we serve has no "..", "//", backslash or control character. */
static int path_clean(const char *p)
{
	if (p[0] != '/' || strstr(p, "..") || strstr(p, "//") || strchr(p, '\\'))
		return 0;
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* The caller, or 0 with a 401 in @rep. */
static int request_caller(struct MHD_Connection *c, struct caller *who, struct http_reply *rep)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	const struct token *t;

	memset(who, 0, sizeof(*who));
	who->kind = PRINCIPAL_ROOT;
	if (!H.have_tokens && !H.client_ca)
		return 1;
	if (H.client_ca) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		unsigned status = 1;

		if (ci && ci->tls_session && gnutls_certificate_get_peers(ci->tls_session, NULL) &&
		    gnutls_certificate_verify_peers2(ci->tls_session, &status) == 0 && status == 0)
			return 1;
	}
	if (H.have_tokens && auth && !strncasecmp(auth, "Bearer ", 7) && (t = token_find(auth + 7))) {
		if (t->tenant) {
			who->kind = PRINCIPAL_TENANT;
			who->uid = t->uid;
			who->gid = t->gid;
		}
		return 1;
	}
	atomic_fetch_add(&http_counters.unauthorized, 1);
	http_reply_error(rep, 401, auth ? "unauthorized: the token is not valid" : "unauthorized: a bearer token is needed");
	return 0;
}

static void route(struct MHD_Connection *c, const char *url, struct http_reply *rep)
{
	struct trl_error err = { 0 };
	enum access_http_op op;
	struct op_ctx oc;

	if (!path_clean(url)) {
		http_reply_error(rep, 400, "bad path");
		return;
	}
	if (!strcmp(url, "/metrics"))
		op = ACCESS_HTTP_METRICS;
	else if (!strcmp(url, "/api/node"))
		op = ACCESS_HTTP_NODE;
	else if (!strcmp(url, "/api/slices"))
		op = ACCESS_HTTP_SLICES;
	else if (!strncmp(url, "/api/slice/", 11))
		op = ACCESS_HTTP_SLICE;
	else
		op = ACCESS_HTTP_ASSET;
	if (op == ACCESS_HTTP_ASSET) {
		if (http_page_asset(url, rep) < 0)
			http_reply_error(rep, 404, "not found");
		return;
	}
	memset(&oc, 0, sizeof(oc));
	oc.d = H.d;
	oc.fds[0] = oc.fds[1] = oc.fds[2] = -1;
	oc.conn_fd = -1;
	if (!request_caller(c, &oc.who, rep))
		return;
	if (access_http_request(&oc, op, &err) < 0) {
		http_reply_error(rep, 403, err.msg);
		return;
	}
	if (op == ACCESS_HTTP_METRICS)
		http_metrics(&oc, rep);
	else
		http_api(&oc, url, rep);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	static int first_call_mark;
	struct http_reply rep = { 0 };
	const char *cl, *te;
	int head = !strcmp(method, MHD_HTTP_METHOD_HEAD);

	(void)cls;
	(void)version;
	(void)upload_data;
	if (*con_cls == &first_call_mark) {
		/* Body data of a request we already answered: discard it. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	*con_cls = &first_call_mark;
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	if (strcmp(method, MHD_HTTP_METHOD_GET) && !head)
		http_reply_error(&rep, 405, "only GET and HEAD");
	else if ((cl && strcmp(cl, "0")) || te)
		http_reply_error(&rep, 413, "a request has no body here");
	else
		route(c, url, &rep);
	if (rep.status >= 400 && rep.status != 401 && rep.status != 404)
		log_debug("%s '%s': %u", method, ESC(url), rep.status);
	return send_reply(c, &rep);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("libmicrohttpd: %s", buf);
}

/* ADDR:PORT, [ADDR6]:PORT or :PORT (loopback) into @ss. */
static int parse_listen(const char *v, struct sockaddr_storage *ss, int *loopback, struct trl_error *err)
{
	char host[128];
	const char *colon;
	char *end;
	unsigned long port;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	colon = strrchr(v, ':');
	if (!colon || (size_t)(colon - v) >= sizeof(host))
		return trl_error_set(err, TRL_EINVALID, "--http: '%s' is not ADDR:PORT (e.g. 127.0.0.1:9465)", v);
	snprintf(host, sizeof(host), "%.*s", (int)(colon - v), v);
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port < 1 || port > 65535)
		return trl_error_set(err, TRL_EINVALID, "--http: '%s': the port is not a number from 1 to 65535", v);
	if (!host[0])
		snprintf(host, sizeof(host), "127.0.0.1");
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return trl_error_set(err, TRL_EINVALID, "--http: '%s' is not an IPv6 address", host);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
		return 0;
	}
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return trl_error_set(err, TRL_EINVALID, "--http: '%s' is not an IPv4 address (IPv6: [ADDR]:PORT)", host);
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	*loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	return 0;
}

static int read_pem(const char *what, const char *path, char **out, struct trl_error *err)
{
	size_t len = 0;
	int r = util_read_file(path, 1 << 20, out, &len);

	if (r < 0)
		return trl_error_errno(err, TRL_EINVALID, -r, "%s '%s': cannot read it", what, path);
	return 0;
}

int http_start(struct daemon *d, struct trl_error *err)
{
	const struct config_opts *o = &d->cfg.o;
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG |
			 MHD_USE_POLL;
	int loopback = 0, r;

	http_daemon_start = (double)time(NULL);
	if (!o->http[0])
		return 0;
	if ((r = parse_listen(o->http, &ss, &loopback, err)) < 0)
		return r;
	if (!o->http_cert[0] != !o->http_key[0])
		return trl_error_set(err, TRL_EINVALID, "--http: http-cert and http-key go together (TLS)");
	if (o->http_client_ca[0] && !o->http_cert[0])
		return trl_error_set(err, TRL_EINVALID, "--http: http-client-ca needs TLS (http-cert, http-key)");
	if (!loopback && (!o->http_cert[0] || (!o->http_tokens[0] && !o->http_client_ca[0])))
		return trl_error_set(err, TRL_EINVALID,
				     "--http: '%s' is beyond loopback: it needs TLS (http-cert, http-key) and bearer tokens (http-tokens) or client certificates (http-client-ca)",
				     o->http);
	if (o->http_tokens[0] && (r = tokens_load(o->http_tokens, err)) < 0)
		return r;
	if (o->http_cert[0]) {
		if ((r = read_pem("http-cert", o->http_cert, &H.cert, err)) < 0 ||
		    (r = read_pem("http-key", o->http_key, &H.key, err)) < 0)
			return r;
		flags |= MHD_USE_TLS;
	}
	if (o->http_client_ca[0]) {
		if ((r = read_pem("http-client-ca", o->http_client_ca, &H.ca, err)) < 0)
			return r;
		H.client_ca = 1;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	H.d = d;
	H.timeout = d->cfg.sock.request_timeout;
	{
		struct MHD_OptionItem opts[16];
		size_t n = 0;

#define OPT(o, v, p) opts[n++] = (struct MHD_OptionItem){ (o), (intptr_t)(v), (p) }
		OPT(MHD_OPTION_CONNECTION_LIMIT, HTTP_MAX_CONNECTIONS, NULL);
		OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, HTTP_MAX_PER_IP, NULL);
		OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_MEMORY_LIMIT, NULL);
		OPT(MHD_OPTION_CONNECTION_TIMEOUT, H.timeout, NULL);
		OPT(MHD_OPTION_NOTIFY_CONNECTION, notify_connection, NULL);
		OPT(MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL);
		OPT(MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL);
		if (H.cert) {
			OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, H.cert);
			OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, H.key);
		}
		if (H.ca)
			OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, H.ca);
		OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
		H.mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
					 MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	}
	if (!H.mhd)
		return trl_error_set(err, TRL_EFAILED, "--http: cannot listen on '%s' (in use, or TLS files not valid?)",
				     o->http);
	if (pthread_create(&H.watchdog, NULL, watchdog_main, NULL) == 0)
		H.watchdog_on = 1;
	log_info("HTTP endpoint on %s%s%s%s", o->http, H.cert ? ", TLS" : "",
		 H.have_tokens ? ", bearer tokens" : "", H.client_ca ? ", client certificates" : "");
	return 0;
}

void http_stop(void)
{
	H.stopping = 1;
	if (H.watchdog_on)
		pthread_join(H.watchdog, NULL);
	H.watchdog_on = 0;
	if (H.mhd)
		MHD_stop_daemon(H.mhd);
	H.mhd = NULL;
	if (H.tokens)
		explicit_bzero(H.tokens, sizeof(*H.tokens) * TOKENS_MAX);
	free(H.tokens);
	H.tokens = NULL;
	if (H.key)
		explicit_bzero(H.key, strlen(H.key));
	free(H.cert);
	free(H.key);
	free(H.ca);
	H.cert = H.key = H.ca = NULL;
}
