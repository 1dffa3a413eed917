/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for trellisd/template.c: template.conf keys (routing = frr,
 * bird or none; requires = FILE PACKAGE), a template whose required file
 * this host lacks is refused naming the package and listed as missing, a bad
 * template.conf is listed as such, and the shipped bird, frr and plain
 * templates parse.  Templates are written to a temporary directory; no root
 * needed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tap.h"
#include "template.h"
#include "util.h"

static char top[64];

static void put_template(const char *name, const char *conf)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", top, name);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/template.conf", top, name);
	if (util_write_file(path, conf, strlen(conf), 0644) < 0)
		printf("# cannot write %s\n", path);
}

int main(void)
{
	struct template t;
	struct trl_error err = { 0 };
	char list[1024], missing[1024];

	snprintf(top, sizeof(top), "/tmp/test-template.XXXXXX");
	if (!mkdtemp(top))
		skip_all("cannot make a temporary directory");
	put_template("suite", "description = a suite\nrouting = bird\nrequires = /bin/sh dash\n"
			      "boot = /bin/sh /etc/trellis/boot\n");
	put_template("gone", "routing = bird\nrequires = /bin/sh dash\nrequires = /nonexistent/sbin/bird bird2\n"
			     "boot = /bin/sh /etc/trellis/boot\n");
	put_template("quagga", "routing = quagga\nboot = /bin/sh\n");
	put_template("halfreq", "requires = /usr/sbin/bird\nboot = /bin/sh\n");

	is_int(template_find(top, "suite", &t, &err), 0, "a template whose required files exist is found");
	ok(t.routing_bird && !t.routing_frr, "routing = bird");
	is_str(t.boot, "/bin/sh /etc/trellis/boot", "boot command");
	is_str(t.description, "a suite", "description");

	is_int(template_find(top, "gone", &t, &err), -TRL_EINVALID, "a template whose required file is missing is refused");
	like_str(err.msg, "template 'gone' needs package 'bird2', which is not installed on this node",
		 "naming the package: %s", err.msg);
	like_str(err.msg, "(no /nonexistent/sbin/bird)", "and the file");

	is_int(template_find(top, "quagga", &t, &err), -TRL_EINVALID, "an unknown routing suite is refused");
	like_str(err.msg, "routing: 'quagga' is not 'frr', 'bird' or 'none'", "naming the choices: %s", err.msg);
	is_int(template_find(top, "halfreq", &t, &err), -TRL_EINVALID, "requires without a package is refused");
	like_str(err.msg, "requires: '/usr/sbin/bird' is not 'FILE PACKAGE'", "saying what it wants: %s", err.msg);
	is_int(template_find(top, "nothere", &t, &err), -TRL_EINVALID, "an absent template is refused");
	like_str(err.msg, "template 'nothere' is not installed", "as not installed: %s", err.msg);

	template_list(top, list, sizeof(list), missing, sizeof(missing));
	is_str(list, "suite", "only the usable template is listed");
	like_str(missing, "gone (needs package bird2)", "the missing one with its package: %s", missing);
	like_str(missing, "quagga (bad template.conf)", "a bad one as bad");
	like_str(missing, "halfreq (bad template.conf)", "(each)");

	/* The shipped templates. */
	is_int(template_find(TRL_SRCDIR "/container-templates", "frr", &t, &err) == 0 || access("/usr/lib/frr/zebra", F_OK) < 0,
	       1, "frr parses (found when FRR is installed)");
	is_int(template_find(TRL_SRCDIR "/container-templates", "plain", &t, &err), 0, "plain parses");
	ok(!t.routing_bird && !t.routing_frr, "plain runs no routing suite");
	if (access("/usr/sbin/bird", F_OK) == 0) {
		is_int(template_find(TRL_SRCDIR "/container-templates", "bird", &t, &err), 0, "bird parses (bird2 installed)");
		ok(t.routing_bird, "bird runs BIRD");
	} else {
		is_int(template_find(TRL_SRCDIR "/container-templates", "bird", &t, &err), -TRL_EINVALID,
		       "bird is refused without bird2");
		like_str(err.msg, "needs package 'bird2'", "naming the package: %s", err.msg);
	}

	for (const char *const *n = (const char *const[]){ "suite", "gone", "quagga", "halfreq", NULL }; *n; n++) {
		char path[256];

		snprintf(path, sizeof(path), "%s/%s/template.conf", top, *n);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s", top, *n);
		rmdir(path);
	}
	rmdir(top);
	plan(tap_n);
	return done();
}
