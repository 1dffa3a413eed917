/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: container templates
 *
 * A template is a directory <name>/ on the template path holding template.conf
 * (description, routing = frr|none, boot = command) and rootfs/, files copied
 * into every router's private /etc, /var ...  The host's /usr is shared
 * read-only, so templates are small and nothing is ever downloaded.
 */
#ifndef TRELLISD_TEMPLATE_H
#define TRELLISD_TEMPLATE_H

#include "error.h"

struct template {
	char name[32];
	char dir[4096];
	char description[256];
	int routing_frr;
	char boot[512];
};

/* Find @name on the colon-separated @path. -TRL_EINVALID if unknown or its template.conf is bad. */
int template_find(const char *path, const char *name, struct template *out, struct trl_error *err);
/* Names of the templates on @path, comma-separated into @buf. */
void template_list(const char *path, char *buf, size_t len);

#endif
