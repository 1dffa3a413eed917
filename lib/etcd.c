// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * DOC: etcd v3 over its JSON gateway
 *
 * Each call is one HTTP POST with a JSON body on a reused curl easy handle
 * (keep-alive, so a round trip is one request on an open connection).  The
 * gateway speaks proto3 JSON: bytes are base64, int64 are strings, fields at
 * their default value (0, false, PUT) are left out.  A watch is a POST whose
 * reply never ends: a stream of {"result": {...}} objects, decoded as they
 * arrive.
 *
 * etcds:// (or https://) endpoints are reached over TLS with peer and host
 * verification always on, against the CA file of struct etcd_opts (else the
 * system's CAs), with an optional client certificate (etcd's
 * --client-cert-auth).  With a user, the handle authenticates on its first
 * request (POST /v3/auth/authenticate) and sends the token in the
 * Authorization header; a token etcd no longer accepts (it expired: 401,
 * "invalid auth token", or a watch canceled for it) is replaced once and the
 * request repeated.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "etcd.h"
#include "util.h"

#define ETCD_MAX_ENDPOINTS 8
#define ETCD_TIMEOUT_S 10
#define ETCD_CONNECT_TIMEOUT_MS 2000

struct etcd {
	char *endpoints[ETCD_MAX_ENDPOINTS];
	int n, cur;
	char url_text[512];	/* the list as given, for messages */
	CURL *curl;
	unsigned long ops;
	int tls;		/* etcds:// */
	char *ca, *cert, *key;	/* TLS files, or NULL */
	char *user, *password;	/* etcd v3 auth, or NULL */
	char *token;		/* the current auth token, or NULL */
	unsigned long auths;
};

struct buf {
	char *p;
	size_t len, cap;
};

static int buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const char *s, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)s[i] << 16;

		if (i + 1 < n)
			v |= (unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		*o++ = b64chars[(v >> 18) & 63];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? b64chars[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int b64_val(char c)
{
	const char *p = c ? strchr(b64chars, c) : NULL;

	return p ? (int)(p - b64chars) : -1;
}

/* Decode into a NUL-terminated string; NULL if malformed. */
static char *b64_decode(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n / 4 * 3 + 4), *o = out;
	unsigned v = 0;
	int bits = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int x;

		if (s[i] == '=')
			break;
		if ((x = b64_val(s[i])) < 0) {
			free(out);
			return NULL;
		}
		v = (v << 6) | (unsigned)x;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*o++ = (char)((v >> bits) & 0xff);
		}
	}
	*o = '\0';
	return out;
}

static json_t *b64_json(const char *s)
{
	char *b = b64_encode(s, strlen(s));
	json_t *j = b ? json_string(b) : NULL;

	free(b);
	return j;
}

/* The first key after every key that starts with @prefix. */
static json_t *prefix_end(const char *prefix)
{
	size_t n = strlen(prefix);
	char *p = strdup(prefix);
	json_t *j;

	if (!p)
		return NULL;
	while (n > 0 && (unsigned char)p[n - 1] == 0xff)
		p[--n] = '\0';
	if (n == 0) {
		free(p);
		return json_string("AA==");	/* "\0": every key */
	}
	p[n - 1]++;
	j = b64_json(p);
	free(p);
	return j;
}

/* An int64 as the gateway sends it: a string, or a number, or absent (0). */
static int64_t jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	if (json_is_integer(v))
		return json_integer_value(v);
	return 0;
}

/* @path names a regular file this process can read; else an error naming @what (the option) and @path. */
static int file_check(const char *what, const char *path, struct trl_error *err)
{
	struct stat st;
	int fd;

	if (!*path)
		return trl_error_set(err, TRL_EINVALID, "%s: empty path", what);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return trl_error_errno(err, TRL_EINVALID, errno, "%s '%s': cannot read it", what, path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return trl_error_set(err, TRL_EINVALID, "%s '%s': not a regular file", what, path);
	}
	close(fd);
	return 0;
}

static int dup_opt(char **dst, const char *v)
{
	if (!v)
		return 0;
	*dst = strdup(v);
	return *dst ? 0 : -ENOMEM;
}

int etcd_open_opts(const char *url, const struct etcd_opts *o, struct etcd **ep, struct trl_error *err)
{
	static const struct etcd_opts none;
	static int global_done;
	struct etcd *e;
	const char *p;
	int tls;

	if (!o)
		o = &none;
	if (!strncmp(url, "etcd://", 7) || !strncmp(url, "http://", 7)) {
		p = url + 7;
		tls = 0;
	} else if (!strncmp(url, "etcds://", 8) || !strncmp(url, "https://", 8)) {
		p = url + 8;
		tls = 1;
	} else {
		return trl_error_set(err, TRL_EINVALID,
				     "cluster '%s': expected etcd://HOST:PORT[,HOST:PORT...] (plain HTTP) or etcds://... (TLS)",
				     url);
	}
	if (!tls && (o->ca || o->cert || o->key))
		return trl_error_set(err, TRL_EINVALID, "cluster '%s': %s is set but the URL is plain HTTP (use etcds://)", url,
				     o->ca ? "cluster-ca" : o->cert ? "cluster-cert" : "cluster-key");
	if (o->key && !o->cert)
		return trl_error_set(err, TRL_EINVALID, "cluster-key '%s' is set without cluster-cert", o->key);
	if (o->user && (!*o->user || strpbrk(o->user, "\r\n")))
		return trl_error_set(err, TRL_EINVALID, "cluster-user '%s' is not a user name", o->user);
	if (o->user && !o->password)
		return trl_error_set(err, TRL_EINVALID, "cluster-user '%s' is set without a password", o->user);
	if (o->password && !o->user)
		return trl_error_set(err, TRL_EINVALID, "a cluster password is set without cluster-user");
	if ((o->ca && file_check("cluster-ca", o->ca, err) < 0) ||
	    (o->cert && file_check("cluster-cert", o->cert, err) < 0) ||
	    (o->key && file_check("cluster-key", o->key, err) < 0))
		return -TRL_EINVALID;
	if (!global_done) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		global_done = 1;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	e->tls = tls;
	if (dup_opt(&e->ca, o->ca) < 0 || dup_opt(&e->cert, o->cert) < 0 || dup_opt(&e->key, o->key) < 0 ||
	    dup_opt(&e->user, o->user) < 0 || dup_opt(&e->password, o->password) < 0) {
		etcd_close(e);
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	}
	snprintf(e->url_text, sizeof(e->url_text), "%s", url);
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *colon = memchr(p, ':', n);
		char hostport[256];

		if (n == 0 || n >= sizeof(hostport) || !colon || colon == p || colon + 1 >= p + n ||
		    strspn(colon + 1, "0123456789") != (size_t)(p + n - colon - 1)) {
			etcd_close(e);
			return trl_error_set(err, TRL_EINVALID, "cluster '%s': endpoint '%.*s' is not HOST:PORT", url,
					     (int)n, p);
		}
		if (e->n >= ETCD_MAX_ENDPOINTS) {
			etcd_close(e);
			return trl_error_set(err, TRL_EINVALID, "cluster '%s': at most %d endpoints", url,
					     ETCD_MAX_ENDPOINTS);
		}
		snprintf(hostport, sizeof(hostport), "%.*s", (int)n, p);
		if (asprintf(&e->endpoints[e->n], "%s://%s", tls ? "https" : "http", hostport) < 0) {
			e->endpoints[e->n] = NULL;
			etcd_close(e);
			return trl_error_set(err, TRL_EFAILED, "out of memory");
		}
		e->n++;
		p += n;
		if (*p == ',')
			p++;
	}
	if (!e->n) {
		etcd_close(e);
		return trl_error_set(err, TRL_EINVALID, "cluster '%s': no endpoint", url);
	}
	e->curl = curl_easy_init();
	if (!e->curl) {
		etcd_close(e);
		return trl_error_set(err, TRL_EFAILED, "cannot initialize libcurl");
	}
	*ep = e;
	return 0;
}

int etcd_open(const char *url, struct etcd **ep, struct trl_error *err)
{
	return etcd_open_opts(url, NULL, ep, err);
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void etcd_close(struct etcd *e)
{
	if (!e)
		return;
	for (int i = 0; i < e->n; i++)
		free(e->endpoints[i]);
	if (e->curl)
		curl_easy_cleanup(e->curl);
	free(e->ca);
	free(e->cert);
	free(e->key);
	free(e->user);
	free_secret(e->password);
	free_secret(e->token);
	free(e);
}

int etcd_dup(const struct etcd *e, struct etcd **ep, struct trl_error *err)
{
	const struct etcd_opts o = { .ca = e->ca, .cert = e->cert, .key = e->key, .user = e->user,
				     .password = e->password };

	return etcd_open_opts(e->url_text, &o, ep, err);
}

const char *etcd_endpoint(const struct etcd *e)
{
	return e->endpoints[e->cur];
}

unsigned long etcd_ops(const struct etcd *e)
{
	return e->ops;
}

unsigned long etcd_auths(const struct etcd *e)
{
	return e->auths;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *ctx)
{
	return buf_add(ctx, data, size * nmemb) < 0 ? 0 : size * nmemb;
}

static int unreachable(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_OPERATION_TIMEDOUT ||
	       rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR;
}

/* The request's headers: JSON, and the auth token when there is one and @auth. */
static struct curl_slist *headers(struct etcd *e, int auth)
{
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json"), *h;
	char *line;

	if (!hdr || !auth || !e->token)
		return hdr;
	if (asprintf(&line, "Authorization: %s", e->token) < 0) {
		curl_slist_free_all(hdr);
		return NULL;
	}
	h = curl_slist_append(hdr, line);
	free_secret(line);
	if (!h)
		curl_slist_free_all(hdr);
	return h;
}

/* Set up the handle for one POST of @body to @path on endpoint @i. */
static void prepare(struct etcd *e, int i, const char *path, const char *body, struct curl_slist *hdr, long timeout)
{
	char url[512];

	snprintf(url, sizeof(url), "%s%s", e->endpoints[i], path);
	curl_easy_reset(e->curl);
	curl_easy_setopt(e->curl, CURLOPT_URL, url);
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)ETCD_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(e->curl, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(e->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e->curl, CURLOPT_TCP_KEEPIDLE, 5L);
	curl_easy_setopt(e->curl, CURLOPT_TCP_KEEPINTVL, 2L);
	curl_easy_setopt(e->curl, CURLOPT_PROXY, "");	/* never through a proxy from the environment */
	if (e->tls) {
		/* libcurl's defaults, set anyway: nothing here ever turns verification off. */
		curl_easy_setopt(e->curl, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(e->curl, CURLOPT_SSL_VERIFYHOST, 2L);
		if (e->ca)
			curl_easy_setopt(e->curl, CURLOPT_CAINFO, e->ca);
		if (e->cert) {
			curl_easy_setopt(e->curl, CURLOPT_SSLCERT, e->cert);
			curl_easy_setopt(e->curl, CURLOPT_SSLCERTTYPE, "PEM");
			curl_easy_setopt(e->curl, CURLOPT_SSLKEY, e->key ? e->key : e->cert);
		}
	}
}

/* A transfer that failed below HTTP: a precise error, naming the endpoint or the file at fault. */
static int curl_error(struct etcd *e, const char *path, CURLcode rc, const char *cerr, struct trl_error *err)
{
	const char *ep = etcd_endpoint(e);
	char why[CURL_ERROR_SIZE];
	size_t n;

	snprintf(why, sizeof(why), "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
	n = strlen(why);
	while (n > 0 && (why[n - 1] == ' ' || why[n - 1] == '\n'))
		why[--n] = '\0';

	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
		return trl_error_set(err, TRL_EFAILED,
				     "etcd at '%s': the server's TLS certificate does not verify against %s%s%s: %s", ep,
				     e->ca ? "cluster-ca '" : "the system's CA certificates", e->ca ? e->ca : "",
				     e->ca ? "'" : "", why);
	case CURLE_SSL_CACERT_BADFILE:
		return trl_error_set(err, TRL_EINVALID, "cluster-ca '%s': not a usable CA certificate file: %s",
				     e->ca ? e->ca : "", why);
	case CURLE_SSL_CERTPROBLEM:
		return trl_error_set(err, TRL_EINVALID,
				     "cluster-cert '%s', cluster-key '%s': not a usable client certificate and key: %s",
				     e->cert ? e->cert : "", e->key ? e->key : e->cert ? e->cert : "", why);
	case CURLE_SSL_CONNECT_ERROR:
		/* A plain-HTTP etcd answers the TLS hello with an HTTP error and
		 * closes.  What OpenSSL then reports ("wrong version number", a
		 * reset, SSL_ERROR_SYSCALL) depends on timing, so the hint does not
		 * look at it. */
		return trl_error_set(err, TRL_EFAILED, "etcd at '%s': TLS handshake failed: %s (a plain-HTTP endpoint? use etcd://%s)",
				     ep, why, e->cert ? "" : "; or does etcd require a client certificate? set cluster-cert");
	default:
		break;
	}
	if (unreachable(rc)) {
		const char *hint = "";

		if (!e->tls && rc == CURLE_GOT_NOTHING)
			hint = " (a TLS endpoint? use etcds://)";
		else if (e->tls && !e->cert && (rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR))
			hint = " (the server closed the TLS connection: does etcd require a client certificate? set cluster-cert)";
		return trl_error_set(err, TRL_EUNAVAIL, "etcd at '%s' is unreachable: %s%s", e->n > 1 ? e->url_text : ep,
				     why, hint);
	}
	return trl_error_set(err, TRL_EFAILED, "etcd at '%s': %s: %s", ep, path, why);
}

/* The message of an error reply, plain or the gateway's {"error"|"message": ...} (new string, or NULL). */
static char *reply_message(const char *body)
{
	json_t *j = json_loads(body ? body : "", 0, NULL), *o;
	const char *m = json_string_value(json_object_get(j, "message"));
	char *out;

	if (!m)
		m = json_string_value(json_object_get(j, "error"));
	if (!m && json_is_object(o = json_object_get(j, "error")))	/* a streaming call's error */
		m = json_string_value(json_object_get(o, "message"));
	if (!m && !j && body && *body)
		m = body;
	out = m ? strdup(m) : NULL;
	json_decref(j);
	if (out)
		out[strcspn(out, "\r\n")] = '\0';
	return out;
}

/* Does the reply say the token is no longer good (it expired)? */
static int token_expired(long code, const char *msg)
{
	return code == 401 || (msg && strstr(msg, "invalid auth token"));
}

/* A hint where etcd's own message leaves the fix unsaid; *kind = the error's code. */
static const char *reply_hint(const char *m, int *kind)
{
	*kind = TRL_EFAILED;
	if (!m)
		return "";
	if (strstr(m, "HTTPS server"))
		return " (a TLS endpoint? use etcds://)";
	*kind = TRL_EPERM;
	if (strstr(m, "CommonName of client"))
		return " (with authentication enabled, etcd's JSON gateway refuses client certificates that carry a "
		       "CommonName: use one without, and cluster-user)";
	if (strstr(m, "user name is empty"))
		return " (etcd has authentication enabled: set cluster-user and its password)";
	if (strstr(m, "permission denied"))
		return " (the etcd user lacks a role that grants this key range)";
	if (strstr(m, "authentication failed"))
		return "";
	*kind = TRL_EFAILED;
	return "";
}

/* An HTTP error reply. */
static int http_error(struct etcd *e, const char *path, long code, const char *body, struct trl_error *err)
{
	_cleanup_free_ char *m = reply_message(body);
	int kind;
	const char *hint = reply_hint(m, &kind);

	if (e->tls && code == 503 && m && strstr(m, "connection closed"))
		hint = " (etcd's gateway could not reach etcd itself: with --client-cert-auth, etcd's own certificate "
		       "must also allow client authentication, extendedKeyUsage clientAuth)";
	return trl_error_set(err, kind, "etcd at '%s': %s: HTTP %ld: %s%s", etcd_endpoint(e), path, code,
			     m ? m : "no message", hint);
}

static void token_forget(struct etcd *e);

/* POST @body to @path, failing over between endpoints: the reply in @b, its HTTP status in *code. */
static int post(struct etcd *e, const char *path, const char *body, int auth, struct buf *b, long *code,
		struct trl_error *err)
{
	struct curl_slist *hdr = headers(e, auth);
	char cerr[CURL_ERROR_SIZE] = "";
	CURLcode rc = CURLE_OK;
	int r = 0;

	*code = 0;
	if (!hdr)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	for (int tries = 0; tries < e->n; tries++) {
		int i = (e->cur + tries) % e->n;

		free(b->p);
		*b = (struct buf){ 0 };
		prepare(e, i, path, body, hdr, ETCD_TIMEOUT_S);
		curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, collect);
		curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, b);
		curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, cerr);
		cerr[0] = '\0';
		e->ops++;
		rc = curl_easy_perform(e->curl);
		if (rc == CURLE_OK || !unreachable(rc)) {
			e->cur = i;
			break;
		}
	}
	if (rc != CURLE_OK)
		r = curl_error(e, path, rc, cerr, err);
	else
		curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, code);
	/* etcd holds a request whose token names a raft index it has not reached
	 * (a token from before a restore to an older snapshot) until its own
	 * timeout, and only then says "invalid auth token": the reply comes after
	 * ours.  A timed-out request forgets its token: the next one logs in. */
	if (rc == CURLE_OPERATION_TIMEDOUT && auth && e->token)
		token_forget(e);
	/* The request may hold the password (authenticate): clear libcurl's pointer to it; and
	 * the error buffer is on this stack. */
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdr);
	return r;
}

/*
 * The last token of each process, for its cluster, user and password: etcd
 * checks a password with bcrypt (~50 ms a login here), and trellisd opens a
 * handle per client request, so a new handle starts with the token an
 * earlier one got.  One that expired is replaced as any other.
 */
static pthread_mutex_t token_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char *url, *user, *password, *token;
} token_cache;

static int token_cache_match(const struct etcd *e)
{
	return token_cache.token && !strcmp(token_cache.url, e->url_text) && !strcmp(token_cache.user, e->user) &&
	       !strcmp(token_cache.password, e->password);
}

/* Take the cached token for @e, if there is one: 1 if @e has a token now. */
static int token_cache_get(struct etcd *e)
{
	pthread_mutex_lock(&token_lock);
	if (token_cache_match(e))
		e->token = strdup(token_cache.token);
	pthread_mutex_unlock(&token_lock);
	return e->token != NULL;
}

static void token_cache_put(const struct etcd *e)
{
	pthread_mutex_lock(&token_lock);
	free(token_cache.url);
	free(token_cache.user);
	free_secret(token_cache.password);
	free_secret(token_cache.token);
	token_cache.url = strdup(e->url_text);
	token_cache.user = strdup(e->user);
	token_cache.password = strdup(e->password);
	token_cache.token = strdup(e->token);
	if (!token_cache.url || !token_cache.user || !token_cache.password || !token_cache.token) {
		free_secret(token_cache.token);
		token_cache.token = NULL;
	}
	pthread_mutex_unlock(&token_lock);
}

/* Drop @e's token, and the process's cached copy when it is the same one. */
static void token_forget(struct etcd *e)
{
	pthread_mutex_lock(&token_lock);
	if (token_cache.token && !strcmp(token_cache.token, e->token)) {
		free_secret(token_cache.token);
		token_cache.token = NULL;
	}
	pthread_mutex_unlock(&token_lock);
	free_secret(e->token);
	e->token = NULL;
}

/* Trade the user and password for a token (POST /v3/auth/authenticate). */
static int authenticate(struct etcd *e, struct trl_error *err)
{
	json_t *req = json_pack("{s:s, s:s}", "name", e->user, "password", e->password), *resp = NULL;
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	const char *token;
	struct buf b = { 0 };
	long code = 0;
	int r;

	json_decref(req);
	free_secret(e->token);
	e->token = NULL;
	if (!body)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	e->auths++;
	r = post(e, "/v3/auth/authenticate", body, 0, &b, &code, err);
	free_secret(body);
	if (r < 0)
		goto out;
	if (code != 200) {
		_cleanup_free_ char *m = reply_message(b.p);
		int kind;
		const char *hint = reply_hint(m, &kind);

		r = trl_error_set(err, TRL_EPERM, "etcd at '%s': cannot authenticate as cluster-user '%s': HTTP %ld: %s%s",
				  etcd_endpoint(e), e->user, code, m ? m : "no message", hint);
		goto out;
	}
	resp = json_loads(b.p ? b.p : "", 0, NULL);
	token = json_string_value(json_object_get(resp, "token"));
	if (!token || !*token || strpbrk(token, "\r\n")) {
		r = trl_error_set(err, TRL_EPROTO, "etcd at '%s': authenticate as '%s': no token in the reply",
				  etcd_endpoint(e), e->user);
		goto out;
	}
	e->token = strdup(token);
	r = e->token ? 0 : trl_error_set(err, TRL_EFAILED, "out of memory");
	if (e->token)
		token_cache_put(e);
out:
	json_decref(resp);
	if (b.p)
		explicit_bzero(b.p, b.len);
	free(b.p);
	return r;
}

int etcd_call(struct etcd *e, const char *path, json_t *req, json_t **resp, struct trl_error *err)
{
	char *body = json_dumps(req, JSON_COMPACT);
	struct buf b = { 0 };
	long code = 0;
	json_error_t je;
	int r;

	json_decref(req);
	*resp = NULL;
	if (!body) {
		r = trl_error_set(err, TRL_EFAILED, "out of memory");
		goto out;
	}
	if (e->user && !e->token && !token_cache_get(e) && (r = authenticate(e, err)) < 0)
		goto out;
	for (int again = 0;; again++) {
		if ((r = post(e, path, body, 1, &b, &code, err)) < 0)
			goto out;
		if (code != 200 && e->user && !again) {
			_cleanup_free_ char *m = reply_message(b.p);

			/* The token expired (etcd's --auth-token-ttl): a new one, and the request once more. */
			if (token_expired(code, m)) {
				if ((r = authenticate(e, err)) < 0)
					goto out;
				continue;
			}
		}
		break;
	}
	if (code != 200) {
		r = http_error(e, path, code, b.p, err);
		goto out;
	}
	*resp = json_loads(b.p ? b.p : "", 0, &je);
	if (!json_is_object(*resp)) {
		json_decref(*resp);
		*resp = NULL;
		r = trl_error_set(err, TRL_EPROTO, "etcd at '%s': %s: reply is not a JSON object (%s)", etcd_endpoint(e),
				  path, je.text);
		goto out;
	}
	r = 0;
out:
	free(body);
	free(b.p);
	return r;
}

json_t *etcd_kv_decode(json_t *raw)
{
	const char *k = json_string_value(json_object_get(raw, "key"));
	const char *v = json_string_value(json_object_get(raw, "value"));
	char *key = b64_decode(k ? k : ""), *val = b64_decode(v ? v : "");
	json_t *o = NULL;

	if (key && val)
		o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "key", key, "value", val, "create_revision",
			      (json_int_t)jint(raw, "create_revision"), "mod_revision",
			      (json_int_t)jint(raw, "mod_revision"), "version", (json_int_t)jint(raw, "version"), "lease",
			      (json_int_t)jint(raw, "lease"));
	free(key);
	free(val);
	return o;
}

static json_t *kvs_decode(json_t *raw)
{
	json_t *out = json_array(), *kv;
	size_t i;

	json_array_foreach(raw, i, kv)
		json_array_append_new(out, etcd_kv_decode(kv));
	return out;
}

json_t *etcd_op_put(const char *key, const char *value, int64_t lease)
{
	json_t *p = json_pack("{s:o, s:o}", "key", b64_json(key), "value", b64_json(value));

	if (p && lease)
		json_object_set_new(p, "lease", json_integer(lease));
	return json_pack("{s:o}", "request_put", p);
}

json_t *etcd_op_get(const char *key)
{
	return json_pack("{s:{s:o}}", "request_range", "key", b64_json(key));
}

json_t *etcd_op_delete(const char *key, int prefix)
{
	json_t *d = json_pack("{s:o}", "key", b64_json(key));

	if (d && prefix)
		json_object_set_new(d, "range_end", prefix_end(key));
	return json_pack("{s:o}", "request_delete_range", d);
}

json_t *etcd_cmp_create(const char *key, int64_t rev)
{
	return json_pack("{s:o, s:s, s:s, s:I}", "key", b64_json(key), "target", "CREATE", "result", "EQUAL",
			 "create_revision", (json_int_t)rev);
}

json_t *etcd_cmp_mod(const char *key, int64_t rev)
{
	return json_pack("{s:o, s:s, s:s, s:I}", "key", b64_json(key), "target", "MOD", "result", "EQUAL",
			 "mod_revision", (json_int_t)rev);
}

int etcd_put(struct etcd *e, const char *key, const char *value, int64_t lease, struct trl_error *err)
{
	json_t *op = etcd_op_put(key, value, lease), *req = json_incref(json_object_get(op, "request_put"));
	json_t *resp = NULL;
	int r;

	json_decref(op);
	r = etcd_call(e, "/v3/kv/put", req, &resp, err);
	json_decref(resp);
	return r;
}

int etcd_get(struct etcd *e, const char *key, json_t **kv, struct trl_error *err)
{
	json_t *resp = NULL, *kvs;
	int r = etcd_call(e, "/v3/kv/range", json_pack("{s:o}", "key", b64_json(key)), &resp, err);

	*kv = NULL;
	if (r < 0)
		return r;
	kvs = json_object_get(resp, "kvs");
	if (json_array_size(kvs) > 0)
		*kv = etcd_kv_decode(json_array_get(kvs, 0));
	json_decref(resp);
	return *kv ? 1 : 0;
}

int etcd_range(struct etcd *e, const char *prefix, json_t **kvs, int64_t *rev, struct trl_error *err)
{
	json_t *resp = NULL;
	int r = etcd_call(e, "/v3/kv/range",
			  json_pack("{s:o, s:o, s:s, s:s}", "key", b64_json(prefix), "range_end", prefix_end(prefix),
				    "sort_order", "ASCEND", "sort_target", "KEY"),
			  &resp, err);

	*kvs = NULL;
	if (r < 0)
		return r;
	*kvs = kvs_decode(json_object_get(resp, "kvs"));
	if (rev)
		*rev = jint(json_object_get(resp, "header"), "revision");
	json_decref(resp);
	return 0;
}

int etcd_delete(struct etcd *e, const char *key, int prefix, struct trl_error *err)
{
	json_t *op = etcd_op_delete(key, prefix), *req = json_incref(json_object_get(op, "request_delete_range"));
	json_t *resp = NULL;
	int r;

	json_decref(op);
	r = etcd_call(e, "/v3/kv/deleterange", req, &resp, err);
	if (r < 0)
		return r;
	r = (int)jint(resp, "deleted");
	json_decref(resp);
	return r;
}

int etcd_txn(struct etcd *e, json_t *compare, json_t *success, json_t *failure, json_t **resp,
	     struct trl_error *err)
{
	json_t *reply = NULL;
	int r = etcd_call(e, "/v3/kv/txn",
			  json_pack("{s:o, s:o, s:o}", "compare", compare ? compare : json_array(), "success",
				    success ? success : json_array(), "failure", failure ? failure : json_array()),
			  &reply, err);

	if (r < 0)
		return r;
	r = json_is_true(json_object_get(reply, "succeeded"));
	if (resp)
		*resp = reply;
	else
		json_decref(reply);
	return r;
}

int etcd_lease_grant(struct etcd *e, int64_t ttl, int64_t *id, struct trl_error *err)
{
	json_t *resp = NULL;
	int r = etcd_call(e, "/v3/lease/grant", json_pack("{s:I}", "TTL", (json_int_t)ttl), &resp, err);

	if (r < 0)
		return r;
	*id = jint(resp, "ID");
	json_decref(resp);
	if (!*id)
		return trl_error_set(err, TRL_EPROTO, "etcd at '%s': lease grant: no lease ID in the reply",
				     etcd_endpoint(e));
	return 0;
}

int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl, struct trl_error *err)
{
	json_t *resp = NULL;
	int r = etcd_call(e, "/v3/lease/keepalive", json_pack("{s:I}", "ID", (json_int_t)id), &resp, err);

	if (r < 0)
		return r;
	/* A streaming call: the one reply is wrapped in "result"; an unknown lease has no TTL. */
	*ttl = jint(json_object_get(resp, "result"), "TTL");
	json_decref(resp);
	return 0;
}

struct watch_ctx {
	struct etcd *e;
	struct buf b;
	size_t off;
	etcd_watch_fn fn;
	void *ctx;
	struct trl_error *err;
	int stop;		/* 1: the callback asked to stop; < 0: its error */
	int expired;		/* canceled because the auth token expired */
};

/* Hand every complete object of the stream to the callback. */
static int watch_drain(struct watch_ctx *w)
{
	while (w->off < w->b.len && !w->stop) {
		json_error_t je;
		json_t *msg, *res, *events, *ev, *out;
		size_t i;
		int r;

		while (w->off < w->b.len && strchr(" \r\n\t", w->b.p[w->off]))
			w->off++;
		if (w->off >= w->b.len)
			break;
		msg = json_loadb(w->b.p + w->off, w->b.len - w->off, JSON_DISABLE_EOF_CHECK, &je);
		if (!msg)
			break;	/* incomplete: wait for more */
		w->off += je.position;
		res = json_object_get(msg, "result");
		if (!res) {
			const char *m = json_string_value(json_object_get(json_object_get(msg, "error"), "message"));

			/* The gateway lost its stream to etcd ("transport is closing"): etcd went away. */
			trl_error_set(w->err, TRL_EUNAVAIL, "etcd at '%s': watch: %s", etcd_endpoint(w->e),
				      m ? m : "error in the stream");
			json_decref(msg);
			w->stop = -TRL_EUNAVAIL;
			break;
		}
		if (json_is_true(json_object_get(res, "canceled"))) {
			const char *m = json_string_value(json_object_get(res, "cancel_reason"));

			w->expired = token_expired(0, m);
			trl_error_set(w->err, TRL_EFAILED, "etcd at '%s': watch canceled: %s", etcd_endpoint(w->e),
				      m ? m : "no reason given");
			json_decref(msg);
			w->stop = -TRL_EFAILED;
			break;
		}
		events = json_object_get(res, "events");
		out = json_array();
		json_array_foreach(events, i, ev) {
			const char *t = json_string_value(json_object_get(ev, "type"));

			json_array_append_new(out, json_pack("{s:s, s:o*}", "type", t && !strcmp(t, "DELETE") ? "delete" : "put",
							     "kv", etcd_kv_decode(json_object_get(ev, "kv"))));
		}
		if (json_array_size(out) || json_is_true(json_object_get(res, "created"))) {
			r = w->fn(w->ctx, out, jint(json_object_get(res, "header"), "revision"), w->err);
			if (r != 0)
				w->stop = r > 0 ? 1 : r;
		}
		json_decref(out);
		json_decref(msg);
	}
	if (w->off == w->b.len) {
		w->off = w->b.len = 0;
	}
	return 0;
}

static size_t watch_write(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct watch_ctx *w = ctx;

	if (buf_add(&w->b, data, size * nmemb) < 0)
		return 0;
	watch_drain(w);
	return w->stop ? 0 : size * nmemb;
}

static int watch_tick(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct watch_ctx *w = ctx;
	int r;

	if (w->stop)
		return 1;
	r = w->fn(w->ctx, NULL, 0, w->err);
	if (r != 0)
		w->stop = r > 0 ? 1 : r;
	return w->stop != 0;
}

int etcd_watch(struct etcd *e, const char *prefix, int64_t start, etcd_watch_fn fn, void *ctx,
	       struct trl_error *err)
{
	json_t *req = json_pack("{s:{s:o, s:o}}", "create_request", "key", b64_json(prefix), "range_end",
				prefix_end(prefix));
	struct watch_ctx w = { .e = e, .fn = fn, .ctx = ctx, .err = err };
	char cerr[CURL_ERROR_SIZE] = "";
	char *body;
	CURLcode rc = CURLE_OK;
	int r;

	if (req && start)
		json_object_set_new(json_object_get(req, "create_request"), "start_revision", json_integer(start));
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!body)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	if (e->user && !e->token && !token_cache_get(e) && (r = authenticate(e, err)) < 0) {
		free(body);
		return r;
	}
	for (int again = 0;; again++) {
		struct curl_slist *hdr = headers(e, 1);

		if (!hdr) {
			free(body);
			return trl_error_set(err, TRL_EFAILED, "out of memory");
		}
		for (int tries = 0; tries < e->n; tries++) {
			int i = (e->cur + tries) % e->n;

			prepare(e, i, "/v3/watch", body, hdr, 0L);
			curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, watch_write);
			curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &w);
			curl_easy_setopt(e->curl, CURLOPT_XFERINFOFUNCTION, watch_tick);
			curl_easy_setopt(e->curl, CURLOPT_XFERINFODATA, &w);
			curl_easy_setopt(e->curl, CURLOPT_NOPROGRESS, 0L);
			curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, cerr);
			cerr[0] = '\0';
			e->ops++;
			rc = curl_easy_perform(e->curl);
			if (!unreachable(rc) || w.b.len || w.off) {
				e->cur = i;
				break;
			}
		}
		curl_slist_free_all(hdr);
		curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, NULL);	/* on this stack */
		/* Canceled at once because the token expired: a new one, and the watch once more. */
		if (w.expired && e->user && !again) {
			if ((r = authenticate(e, err)) < 0) {
				free(body);
				free(w.b.p);
				return r;
			}
			trl_error_clear(err);
			w.expired = 0;
			w.stop = 0;
			w.off = w.b.len = 0;
			continue;
		}
		break;
	}
	free(body);
	if (rc == CURLE_OK && !w.stop) {
		long code = 0;

		curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &code);
		if (code != 200) {
			r = http_error(e, "/v3/watch", code, w.b.p, err);
			free(w.b.p);
			return r;
		}
	}
	free(w.b.p);
	if (w.stop > 0)
		return 0;
	if (w.stop < 0)
		return w.stop;
	if (rc == CURLE_OK || unreachable(rc) || rc == CURLE_PARTIAL_FILE) {
		if (rc != CURLE_OK && !w.b.len && !w.off)
			return curl_error(e, "/v3/watch", rc, cerr, err);
		return trl_error_set(err, TRL_EUNAVAIL, "etcd at '%s': watch ended: %s", etcd_endpoint(e),
				     rc == CURLE_OK ? "the server closed the stream" : (cerr[0] ? cerr : curl_easy_strerror(rc)));
	}
	return curl_error(e, "/v3/watch", rc, cerr, err);
}
