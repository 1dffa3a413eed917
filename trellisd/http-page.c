/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: the topology page: its files and its JSON
 *
 * The page is three plain files in web/ (index.html, app.js, style.css),
 * compiled into the daemon (web-assets.h, made from them at build time by
 * od(1): the page is the daemon's, not a file anyone could swap) and served
 * as they are: no build step, nothing fetched from elsewhere.  They carry no
 * data; the script asks for it with the token the page's address holds
 * after '#' (never sent to the server by the browser):
 *   /api/node          node.show as the caller may see it
 *   /api/slices        slice.list
 *   /api/slice/NAME    {"show": slice.show, "stats": slice.stats counters}
 * once a second, and works out the rates from the byte counters itself.
 */
#define LOG_MODULE "http"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "http.h"
#include "trellisd.h"
#include "web-assets.h"

static const struct {
	const char *path;
	const unsigned char *data;
	const size_t *len;
	const char *type;
} assets[] = {
	{ "/", web_index_html, &web_index_html_len, "text/html; charset=utf-8" },
	{ "/index.html", web_index_html, &web_index_html_len, "text/html; charset=utf-8" },
	{ "/app.js", web_app_js, &web_app_js_len, "text/javascript; charset=utf-8" },
	{ "/style.css", web_style_css, &web_style_css_len, "text/css; charset=utf-8" },
};

int http_page_asset(const char *path, struct http_reply *rep)
{
	for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++) {
		if (strcmp(path, assets[i].path))
			continue;
		free(rep->body);
		rep->body = malloc(*assets[i].len + 1);
		if (!rep->body) {
			http_reply_error(rep, 500, "out of memory");
			return 0;
		}
		memcpy(rep->body, assets[i].data, *assets[i].len);
		rep->len = *assets[i].len;
		rep->status = 200;
		rep->type = assets[i].type;
		return 0;
	}
	return -ENOENT;
}

/* An error of a domain operation as an HTTP status: a slice the caller may not see is missing. */
static void reply_trl_error(struct http_reply *rep, const struct trl_error *e)
{
	unsigned status = e->code == TRL_ENOTFOUND ? 404 : e->code == TRL_EPERM ? 403 : 500;

	http_reply_error(rep, status, e->msg[0] ? e->msg : "failed");
}

int http_api(struct op_ctx *oc, const char *path, struct http_reply *rep)
{
	struct trl_error e = { 0 };
	json_t *a = NULL, *b = NULL;

	if (!strcmp(path, "/api/node")) {
		http_reply_json(rep, node_info_for(oc));
		return 0;
	}
	if (!strcmp(path, "/api/slices")) {
		if (slice_list(oc, &a, &e) < 0) {
			reply_trl_error(rep, &e);
			return -1;
		}
		http_reply_json(rep, a);
		return 0;
	}
	if (!strncmp(path, "/api/slice/", 11)) {
		const char *name = path + 11;

		if (!name[0] || strchr(name, '/') || strlen(name) > 64) {
			http_reply_error(rep, 404, "not found");
			return -1;
		}
		if (slice_show(oc, name, &a, &e) < 0 || slice_stats_sample(oc, name, 0, &b, &e) < 0) {
			json_decref(a);
			reply_trl_error(rep, &e);
			return -1;
		}
		http_reply_json(rep, json_pack("{s:o, s:o}", "show", a, "stats", b));
		return 0;
	}
	http_reply_error(rep, 404, "not found");
	return -1;
}
