/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: container templates
 *
 * A template is a directory <name>/ on the template path holding template.conf
 * (description, routing = frr|bird|none, boot = command, requires = host file
 * and the package that provides it) and rootfs/, files copied into every
 * router's private /etc, /var ...  The host's /usr is shared read-only, so
 * templates are small and nothing is ever downloaded; a template whose
 * required files the host lacks is "missing" and names the package.
 */
#ifndef TRELLISD_TEMPLATE_H
#define TRELLISD_TEMPLATE_H

#include "error.h"

struct template {
	char name[32];
	char dir[4096];
	char description[256];
	int routing_frr;	/* routing = frr: frr.conf and daemons from the spec */
	int routing_bird;	/* routing = bird: bird.conf from the spec */
	char boot[512];
	char missing[64];	/* the package of the first requires = file not on this host, or "" */
	char missing_file[256];	/* ... and that file */
};

/* Find @name on the colon-separated @path. -TRL_EINVALID if unknown or its template.conf is bad. */
int template_find(const char *path, const char *name, struct template *out, struct trl_error *err);
/* Names of the usable templates on @path, comma-separated into @buf; those
 * whose requires = files this host lacks go to @missing as "name (needs package)". */
void template_list(const char *path, char *buf, size_t len, char *missing, size_t missing_len);

#endif
