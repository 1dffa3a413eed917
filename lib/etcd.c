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
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
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

int etcd_open(const char *url, struct etcd **ep, struct trl_error *err)
{
	static int global_done;
	struct etcd *e;
	const char *p;

	if (!strncmp(url, "etcd://", 7))
		p = url + 7;
	else if (!strncmp(url, "http://", 7))
		p = url + 7;
	else
		return trl_error_set(err, TRL_EINVALID, "cluster '%s': expected etcd://HOST:PORT[,HOST:PORT...]", url);
	if (!global_done) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		global_done = 1;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
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
		if (asprintf(&e->endpoints[e->n], "http://%s", hostport) < 0) {
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

void etcd_close(struct etcd *e)
{
	if (!e)
		return;
	for (int i = 0; i < e->n; i++)
		free(e->endpoints[i]);
	if (e->curl)
		curl_easy_cleanup(e->curl);
	free(e);
}

const char *etcd_endpoint(const struct etcd *e)
{
	return e->endpoints[e->cur];
}

unsigned long etcd_ops(const struct etcd *e)
{
	return e->ops;
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
}

/* An HTTP error reply: the gateway's {"error"|"message": ...}. */
static int http_error(struct etcd *e, const char *path, long code, const char *body, struct trl_error *err)
{
	json_t *j = json_loads(body ? body : "", 0, NULL);
	const char *m = json_string_value(json_object_get(j, "message"));
	int r;

	if (!m)
		m = json_string_value(json_object_get(j, "error"));
	r = trl_error_set(err, TRL_EFAILED, "etcd at '%s': %s: HTTP %ld: %s", etcd_endpoint(e), path, code,
			  m ? m : (body && *body ? body : "no message"));
	json_decref(j);
	return r;
}

int etcd_call(struct etcd *e, const char *path, json_t *req, json_t **resp, struct trl_error *err)
{
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	char *body = json_dumps(req, JSON_COMPACT);
	struct buf b = { 0 };
	char cerr[CURL_ERROR_SIZE] = "";
	CURLcode rc = CURLE_OK;
	long code = 0;
	json_error_t je;
	int r;

	json_decref(req);
	*resp = NULL;
	if (!body || !hdr) {
		r = trl_error_set(err, TRL_EFAILED, "out of memory");
		goto out;
	}
	for (int tries = 0; tries < e->n; tries++) {
		int i = (e->cur + tries) % e->n;

		free(b.p);
		b = (struct buf){ 0 };
		prepare(e, i, path, body, hdr, ETCD_TIMEOUT_S);
		curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, collect);
		curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &b);
		curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, cerr);
		cerr[0] = '\0';
		e->ops++;
		rc = curl_easy_perform(e->curl);
		if (rc == CURLE_OK || !unreachable(rc)) {
			e->cur = i;
			break;
		}
	}
	if (rc != CURLE_OK) {
		if (unreachable(rc))
			r = trl_error_set(err, TRL_EUNAVAIL, "etcd at '%s' is unreachable: %s", e->n > 1 ? e->url_text : etcd_endpoint(e),
					  cerr[0] ? cerr : curl_easy_strerror(rc));
		else
			r = trl_error_set(err, TRL_EFAILED, "etcd at '%s': %s: %s", etcd_endpoint(e), path,
					  cerr[0] ? cerr : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &code);
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
	curl_slist_free_all(hdr);
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
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	json_t *req = json_pack("{s:{s:o, s:o}}", "create_request", "key", b64_json(prefix), "range_end",
				prefix_end(prefix));
	struct watch_ctx w = { .e = e, .fn = fn, .ctx = ctx, .err = err };
	char cerr[CURL_ERROR_SIZE] = "";
	char *body;
	CURLcode rc = CURLE_OK;

	if (req && start)
		json_object_set_new(json_object_get(req, "create_request"), "start_revision", json_integer(start));
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!body || !hdr) {
		curl_slist_free_all(hdr);
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
	free(body);
	free(w.b.p);
	if (w.stop > 0)
		return 0;
	if (w.stop < 0)
		return w.stop;
	if (rc == CURLE_OK || unreachable(rc) || rc == CURLE_PARTIAL_FILE)
		return trl_error_set(err, TRL_EUNAVAIL, "etcd at '%s': watch ended: %s", etcd_endpoint(e),
				     rc == CURLE_OK ? "the server closed the stream" : (cerr[0] ? cerr : curl_easy_strerror(rc)));
	return trl_error_set(err, TRL_EFAILED, "etcd at '%s': watch: %s", etcd_endpoint(e),
			     cerr[0] ? cerr : curl_easy_strerror(rc));
}
