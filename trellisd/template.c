/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: container templates
 *
 * See template.h.  template.conf is "key = value" lines; '#' starts a comment.
 * Unknown keys are errors so a typo in a template is not silently ignored.
 * "requires = FILE PACKAGE" (any number) names a host file the template's
 * routers run, and the Debian package that installs it: a host without it
 * lists the template as missing and refuses routers of it, naming PACKAGE.
 */
#define LOG_MODULE "template"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "names.h"
#include "template.h"
#include "util.h"

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int parse_conf(const char *file, struct template *t, struct trl_error *err)
{
	_cleanup_fclose_ FILE *f = fopen(file, "re");
	char line[1024];
	int lineno = 0;

	if (!f)
		return trl_error_errno(err, TRL_EINVALID, errno, "template '%s': cannot read '%s'", t->name, file);
	while (fgets(line, sizeof(line), f)) {
		char *key, *val, *eq;

		lineno++;
		key = trim(line);
		if (!*key || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (!eq)
			return trl_error_set(err, TRL_EINVALID, "%s:%d: expected 'key = value'", file, lineno);
		*eq = '\0';
		val = trim(eq + 1);
		key = trim(key);
		if (!strcmp(key, "description"))
			snprintf(t->description, sizeof(t->description), "%s", val);
		else if (!strcmp(key, "routing")) {
			if (strcmp(val, "frr") && strcmp(val, "bird") && strcmp(val, "none"))
				return trl_error_set(err, TRL_EINVALID,
						     "%s:%d: routing: '%s' is not 'frr', 'bird' or 'none'", file, lineno,
						     val);
			t->routing_frr = !strcmp(val, "frr");
			t->routing_bird = !strcmp(val, "bird");
		} else if (!strcmp(key, "requires")) {
			char *pkg = val + strcspn(val, " \t");

			if (val[0] != '/' || !*pkg)
				return trl_error_set(err, TRL_EINVALID,
						     "%s:%d: requires: '%s' is not 'FILE PACKAGE' (an absolute path and a package name)",
						     file, lineno, val);
			*pkg++ = '\0';
			pkg = trim(pkg);
			if (!t->missing[0] && access(val, F_OK) < 0) {
				snprintf(t->missing, sizeof(t->missing), "%s", pkg);
				snprintf(t->missing_file, sizeof(t->missing_file), "%s", val);
			}
		} else if (!strcmp(key, "boot")) {
			if (val[0] != '/')
				return trl_error_set(err, TRL_EINVALID, "%s:%d: boot: '%s' is not an absolute path",
						     file, lineno, val);
			snprintf(t->boot, sizeof(t->boot), "%s", val);
		} else
			return trl_error_set(err, TRL_EINVALID, "%s:%d: unknown key '%s'", file, lineno, key);
	}
	if (!t->boot[0])
		return trl_error_set(err, TRL_EINVALID, "%s: 'boot' is missing", file);
	return 0;
}

int template_find(const char *path, const char *name, struct template *out, struct trl_error *err)
{
	_cleanup_free_ char *copy = strdup(path ? path : "");
	char *save = NULL;

	memset(out, 0, sizeof(*out));
	if (!names_valid(name))
		return trl_error_set(err, TRL_EINVALID, "template '%s': not a valid template name", name);
	snprintf(out->name, sizeof(out->name), "%s", name);
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char conf[4200];
		struct stat st;

		snprintf(out->dir, sizeof(out->dir), "%s/%s", dir, name);
		snprintf(conf, sizeof(conf), "%s/template.conf", out->dir);
		if (stat(conf, &st) < 0)
			continue;
		if (parse_conf(conf, out, err) < 0)
			return -err->code;
		if (out->missing[0])
			return trl_error_set(err, TRL_EINVALID,
					     "template '%s' needs package '%s', which is not installed on this node (no %s)",
					     name, out->missing, out->missing_file);
		return 0;
	}
	return trl_error_set(err, TRL_EINVALID, "template '%s' is not installed (template path: %s)", name,
			     path);
}

void template_list(const char *path, char *buf, size_t len, char *missing, size_t missing_len)
{
	_cleanup_free_ char *copy = strdup(path ? path : "");
	char *save = NULL;
	size_t used = 0, mused = 0;

	buf[0] = '\0';
	missing[0] = '\0';
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		DIR *d = opendir(dir);
		struct dirent *de;

		if (!d)
			continue;
		while ((de = readdir(d))) {
			char conf[4400];
			struct stat st;
			struct template t = { 0 };
			struct trl_error e = { 0 };

			if (de->d_name[0] == '.')
				continue;
			snprintf(conf, sizeof(conf), "%s/%s/template.conf", dir, de->d_name);
			if (stat(conf, &st) < 0)
				continue;
			snprintf(t.name, sizeof(t.name), "%s", de->d_name);
			if (parse_conf(conf, &t, &e) < 0 || t.missing[0]) {
				mused += snprintf(missing + mused, mused < missing_len ? missing_len - mused : 0,
						  "%s%s (%s%s)", mused ? ", " : "", de->d_name,
						  t.missing[0] ? "needs package " : "bad template.conf", t.missing);
				continue;
			}
			used += snprintf(buf + used, used < len ? len - used : 0, "%s%s", used ? "," : "", de->d_name);
		}
		closedir(d);
	}
}
