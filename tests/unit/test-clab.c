/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: containerlab topologies -> slice specs (lib/clab.c)
 *
 * The translation, its detection, and that the spec it makes is one the
 * daemon's parser accepts with the same routers, daemons and links.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "clab.h"
#include "model.h"
#include "spec.h"
#include "tap.h"

/* The topology's bound files: "d" is a daemons file, anything else is missing. */
static int fake_read(void *ctx, const char *name, char **text, struct trl_error *err)
{
	(void)ctx;
	if (!strcmp(name, "d"))
		return (*text = strdup("zebra=yes\nbgpd=yes\nospfd=no\nisisd=yes\nvtysh_enable=yes\nbgpd_options=\"-A 1\"\n"))
			       ? 0
			       : -ENOMEM;
	return trl_error_set(err, TRL_EINVALID, "cannot read '%s'", name);
}

static int resolve(void *ctx, const char *name, char **out)
{
	(void)ctx;
	(void)name;
	*out = strdup("hostname x\n");
	return *out ? 0 : -ENOMEM;
}

static char *to_spec(const char *topo, char **notes, struct trl_error *err)
{
	char *spec = NULL;

	*notes = NULL;
	memset(err, 0, sizeof(*err));
	if (clab_to_spec(topo, strlen(topo), "lab.clab.yml", fake_read, NULL, &spec, notes, err) < 0)
		return NULL;
	return spec;
}

static void refused(const char *topo, const char *want)
{
	struct trl_error err;
	char *notes, *spec = to_spec(topo, &notes, &err);

	ok(!spec, "refused: %s", want);
	like_str(err.msg, want, "  with the field and reason");
	free(spec);
	free(notes);
}

int main(void)
{
	struct trl_error err;
	struct trl_slice *s = NULL;
	char *notes, *spec;

	plan(21);
	ok(clab_detect("lab.clab.yml", "", 0), "detected by name (.clab.yml)");
	ok(clab_detect("x.clab.yaml", "", 0), "detected by name (.clab.yaml)");
	ok(clab_detect("lab.yml", "name: x\ntopology:\n  nodes: {}\n", 28), "detected by content");
	ok(!clab_detect("spec.yaml", "slice: x\ntopology: y\n", 21), "a spec is not a topology");

	spec = to_spec("name: lab\n"
		       "mgmt: {network: m}\n"
		       "topology:\n"
		       "  defaults: {kind: linux}\n"
		       "  kinds:\n"
		       "    linux: {image: frrouting/frr:v8.4.1, binds: [\"d:/etc/frr/daemons:ro\"]}\n"
		       "  nodes:\n"
		       "    r1: {binds: [\"r1 dir/frr.conf:/etc/frr/frr.conf\"]}\n"
		       "    r2: {image: quay.io/frrouting/frr:9.1.0}\n"
		       "  links:\n"
		       "    - endpoints: [\"r1:eth1\", \"r2:eth1\"]\n",
		       &notes, &err);
	ok(spec != NULL, "every field translates (%s)", err.msg);
	like_str(notes, "mgmt: ignored", "mgmt gets a note");
	like_str(spec, "slice: lab\n", "name -> slice");
	like_str(spec, "  r1:\n    template: frr\n    daemons: [bgpd, isisd]\n    config-file: \"r1 dir/frr.conf\"\n",
		 "binds -> daemons (zebra and =no left out) and config-file");
	like_str(spec, "  - endpoints: [r1:eth1, r2:eth1]\n", "links");
	ok(spec && spec_parse(spec, strlen(spec), "lab.clab.yml", resolve, NULL, &s, &err) == 0,
	   "the spec parses (%s)", err.msg);
	ok(s && s->n_routers == 2 && s->n_links == 1 && s->routers[0].n_daemons == 2, "two routers, one link");
	trl_slice_free(s);
	free(spec);
	free(notes);

	refused("name: lab\ntopology:\n  nodes:\n    r1: {kind: srl, image: ghcr.io/nokia/srlinux}\n",
		"lab.clab.yml:4:16: topology.nodes.r1.kind: 'srl' is not supported");
	refused("name: lab\ntopology:\n  nodes:\n    r1: {kind: linux, image: alpine}\n",
		"topology.nodes.r1.image: 'alpine' cannot run as a trellis template");
	refused("name: lab\ntopology:\n  nodes:\n    r1: {kind: linux, image: frr, binds: [\"x:/etc/frr/daemons\"]}\n",
		"topology.nodes.r1.binds: daemons file: cannot read 'x'");
	refused("name: Lab\ntopology:\n  nodes:\n    r1: {kind: linux, image: frr}\n",
		"name: 'Lab' cannot be a slice name");
	free(to_spec("name: lab\ntopology: [", &notes, &err));
	like_str(err.msg, "lab.clab.yml:3:", "not YAML: where");
	like_str(err.msg, "not a YAML document", "  and what");
	free(notes);
	return done();
}
