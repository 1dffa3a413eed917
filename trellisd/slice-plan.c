/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slices: the plan model
 *
 * A plan is what this node builds for one slice: the parsed spec (lib/spec.c),
 * per router its template and container spec and whether it runs here, per link
 * what this node does for it (both ends here: a shortbridge; one end: this node's
 * half of a tunnel; neither: nothing) with its key and tunnel device, and the
 * slice's share of the substrate (HTB classes).  plan_build() derives it from the
 * spec alone (templates only when the caller starts routers: teardown must not
 * depend on them); plan_load_links() puts back the keys and tunnel kinds the
 * create recorded, plan_apply_settings() the live changes made since.
 */
#define LOG_MODULE "slice"
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "bridge.h"
#include "cgroup.h"
#include "cluster.h"
#include "container.h"
#include "disk.h"
#include "escape.h"
#include "log.h"
#include "names.h"
#include "shape.h"
#include "shaper.h"
#include "spec.h"
#include "store.h"
#include "claim.h"
#include "template.h"
#include "tenant.h"
#include "trellisd.h"
#include "units.h"
#include "util.h"
#include "slice.h"

void plan_free(struct plan *p)
{
	free(p->tpls);
	free(p->cs);
	free(p->local);
	free(p->pl);
	free(p->down);
	json_decref(p->away);
	free(p->stopped);
	trl_slice_free(p->s);
	memset(p, 0, sizeof(*p));
}

int files_resolver(void *ctx, const char *name, char **out)
{
	json_t *files = ctx, *v = files ? json_object_get(files, name) : NULL;

	if (!v || !json_is_string(v))
		return -ENOENT;
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

int router_is_local(struct daemon *d, const struct trl_router *r)
{
	return !r->node[0] || !strcmp(r->node, d->node_name);
}

/* Where links go: local, this node's half of a tunnel, or elsewhere. */
static int plan_links(struct daemon *d, struct plan *p, json_t *placement, int strict, struct trl_error *err)
{
	struct trl_slice *s = p->s;
	json_t *nodes = placement ? json_object_get(placement, "nodes") : NULL;
	int forced = 0;

	if (s->tunnel[0]) {
		forced = node_tunnel_parse(s->tunnel);
		if (forced < 0)
			return trl_error_set(err, TRL_EINVALID, "tunnel: '%s' is not egre, gretap or vxlan", s->tunnel);
	}
	for (size_t l = 0; l < s->n_links; l++) {
		struct trl_link *lk = &s->links[l];
		struct plan_link *pl = &p->pl[l];
		int a = router_is_local(d, trl_slice_router(s, lk->ep[0].router));
		int b = router_is_local(d, trl_slice_router(s, lk->ep[1].router));
		const struct trl_router *other;
		json_t *addr;

		if (a && b) {
			pl->kind = PLAN_LINK_LOCAL;
			continue;
		}
		if (!a && !b) {
			pl->kind = PLAN_LINK_REMOTE;
			continue;
		}
		pl->kind = PLAN_LINK_TUNNEL;
		pl->ep = a ? 0 : 1;
		other = trl_slice_router(s, lk->ep[1 - pl->ep].router);
		snprintf(pl->remote_node, sizeof(pl->remote_node), "%s", other->node);
		if (!strict)
			continue;	/* teardown: kinds and keys come from the store */
		if (!d->has_substrate)
			return trl_error_set(err, TRL_EINVALID,
					     "link '%s' crosses to node '%s', but node '%s' has no substrate interface (start trellisd with --substrate)",
					     lk->name, other->node, d->node_name);
		addr = nodes ? json_object_get(json_object_get(nodes, other->node), "address") : NULL;
		if (!addr || inet_pton(AF_INET, json_string_value(addr), &pl->remote) != 1)
			return trl_error_set(err, TRL_EINVALID,
					     "link '%s' crosses to node '%s', whose address this node was not given (create multi-node slices with 'trellis --node NAME=SOCKET ... slice create')",
					     lk->name, other->node);
		/* A node's substrate address: one host, never this node's own loopback, a group or everyone. */
		{
			uint32_t a4 = ntohl(pl->remote.s_addr);

			if ((a4 >> 24) == 0 || (a4 >> 24) == 127 || (a4 >> 28) == 0xe || a4 == 0xffffffffu ||
			    pl->remote.s_addr == d->sub.addr.s_addr)
				return trl_error_set(err, TRL_EINVALID,
						     "placement: nodes: node '%s': '%s' is not another node's substrate address",
						     other->node, json_string_value(addr));
		}
		if (forced) {
			if (!(d->tunnels & (unsigned)forced))
				return trl_error_set(err, TRL_EUNAVAIL, "link '%s': tunnel '%s' is not available on node '%s' (%s)",
						     lk->name, s->tunnel, d->node_name, d->tunnels_missing);
			pl->tunnel = forced;
		} else if (d->tunnels & NODE_TUNNEL_EGRE) {
			pl->tunnel = NODE_TUNNEL_EGRE;
		} else if (d->tunnels & NODE_TUNNEL_GRETAP) {
			pl->tunnel = NODE_TUNNEL_GRETAP;
		} else if (d->tunnels & NODE_TUNNEL_VXLAN) {
			pl->tunnel = NODE_TUNNEL_VXLAN;
		} else {
			return trl_error_set(err, TRL_EUNAVAIL, "link '%s': no tunnel kind works on node '%s' (%s)",
					     lk->name, d->node_name, d->tunnels_missing);
		}
	}
	return 0;
}

const char *plan_link_kind_name(const struct plan_link *pl)
{
	switch (pl->kind) {
	case PLAN_LINK_LOCAL:
		return "local";
	case PLAN_LINK_REMOTE:
		return "remote";
	case PLAN_LINK_TUNNEL:
		return node_tunnel_name(pl->tunnel);
	}
	return "?";
}

/* Fill names and interfaces; templates only when @need_templates (teardown must not depend on them). */
int plan_build(struct daemon *d, struct trl_slice *s, unsigned uid_base, json_t *placement, int need_templates,
		      struct plan *p, struct trl_error *err)
{
	json_t *nodes = placement ? json_object_get(placement, "nodes") : NULL;

	memset(p, 0, sizeof(*p));
	p->d = d;
	p->s = s;
	p->uid_base = uid_base;
	if (cgroup_detect(&p->layout, err) < 0)
		return -err->code;
	p->tpls = calloc(s->n_routers, sizeof(*p->tpls));
	p->cs = calloc(s->n_routers, sizeof(*p->cs));
	p->local = calloc(s->n_routers, 1);
	p->pl = calloc(s->n_links + 1, sizeof(*p->pl));
	p->down = calloc(s->n_links + 1, sizeof(*p->down));
	if (!p->tpls || !p->cs || !p->local || !p->pl || !p->down)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	for (size_t i = 0; i < s->n_routers; i++) {
		struct trl_router *r = &s->routers[i];

		p->local[i] = router_is_local(d, r);
		p->n_local += p->local[i];
		if (need_templates && !p->local[i] && !(nodes && json_object_get(nodes, r->node)))
			return trl_error_set(err, TRL_EINVALID,
					     "router '%s' is placed on node '%s', which is not this node ('%s') and not among the nodes it was given (create multi-node slices with 'trellis --node NAME=SOCKET ... slice create')",
					     r->name, r->node, d->node_name);
	}
	if (plan_links(d, p, placement, need_templates, err) < 0)
		return -err->code;
	for (size_t i = 0; i < s->n_routers; i++) {
		struct trl_router *r = &s->routers[i];
		struct container_spec *cs = &p->cs[i];

		if (need_templates && p->local[i]) {
			if (template_find(d->template_path, r->template_name, &p->tpls[i], err) < 0)
				return trl_error_prefix(err, "router '%s'", r->name);
			if (!p->tpls[i].routing_frr && !p->tpls[i].routing_bird && (r->config || r->n_daemons))
				return trl_error_set(err, TRL_EINVALID,
						     "router '%s': template '%s' runs no routing stack, but the router has routing config",
						     r->name, r->template_name);
			if (p->tpls[i].routing_bird && r->n_daemons)
				return trl_error_set(err, TRL_EINVALID,
						     "router '%s': template '%s' runs BIRD, but the router lists FRR daemons",
						     r->name, r->template_name);
			for (size_t k = 0; k < r->n_daemons && p->tpls[i].routing_frr; k++) {
				char bin[64];

				snprintf(bin, sizeof(bin), "/usr/lib/frr/%s", r->daemons[k]);
				if (access(bin, X_OK) < 0)
					return trl_error_set(err, TRL_EINVALID,
							     "router '%s': FRR daemon '%s' is not installed on this node (%s)",
							     r->name, r->daemons[k], bin);
			}
		} else {
			snprintf(p->tpls[i].name, sizeof(p->tpls[i].name), "%s", r->template_name);
		}
		cs->lxcpath = d->lxcpath;
		cs->node = d->node_name;
		names_container(cs->name, sizeof(cs->name), s->name, r->name);
		cs->slice = s->name;
		cs->router = r;
		cs->tpl = &p->tpls[i];
		cs->uid_base = uid_base;
		cs->seccomp_path = d->seccomp_path;
		cs->layout = p->layout;
		cs->limits = trl_router_limits(s, r);
		for (size_t l = 0; l < s->n_links; l++) {
			for (int e = 0; e < 2; e++) {
				struct trl_endpoint *ep = &s->links[l].ep[e];
				struct container_if *ci;

				if (strcmp(ep->router, r->name))
					continue;
				if (cs->n_ifs >= ARRAY_SIZE(cs->ifs))
					return trl_error_set(err, TRL_EINVALID, "router '%s': more than %zu interfaces",
							     r->name, ARRAY_SIZE(cs->ifs));
				ci = &cs->ifs[cs->n_ifs++];
				snprintf(ci->ifname, sizeof(ci->ifname), "%s", ep->ifname);
				names_host_veth(ci->host, sizeof(ci->host), s->name, r->name, ep->ifname);
				names_mac(ci->mac, s->name, r->name, ep->ifname);
				ci->addrs = ep->addrs;
				ci->n_addrs = ep->n_addrs;
				if (p->pl[l].kind == PLAN_LINK_TUNNEL)
					ci->mtu = d->sub.mtu - (p->pl[l].tunnel == NODE_TUNNEL_VXLAN ? NODE_VXLAN_OVERHEAD
												 : NODE_EGRE_OVERHEAD);
			}
		}
	}
	plan_shape(p);
	return 0;
}

void host_veth(const struct trl_slice *s, const struct trl_endpoint *ep, char buf[16])
{
	names_host_veth(buf, 16, s->name, ep->router, ep->ifname);
}

/* The slice's share of the substrate, from the (possibly changed) spec and the uid range. */
void plan_shape(struct plan *p)
{
	struct shape_slice *ss = &p->ss;

	memset(ss, 0, sizeof(*ss));
	if (p->uid_base >= p->d->uid_start)
		ss->index = (p->uid_base - p->d->uid_start) / 65536;
	ss->bw_rate = p->s->bw_rate;
	ss->bw_ceil = p->s->bw_ceil;
	for (size_t l = 0; l < p->s->n_links; l++) {
		if (p->pl[l].kind != PLAN_LINK_TUNNEL)
			continue;
		ss->n_tunnel++;
		ss->links_rate += p->s->links[l].shape.rate;
	}
}

static uint64_t json_u64(json_t *o, const char *key, uint64_t dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v) : dflt;
}

void shape_from_json(json_t *o, struct trl_link_shape *sh)
{
	sh->rate = json_u64(o, "rate", sh->rate);
	sh->ceil = json_u64(o, "ceil", sh->ceil);
	sh->burst = json_u64(o, "burst", sh->burst);
	sh->loss_ppm = (uint32_t)json_u64(o, "loss_ppm", sh->loss_ppm);
	sh->delay_us = (uint32_t)json_u64(o, "delay_us", sh->delay_us);
	sh->jitter_us = (uint32_t)json_u64(o, "jitter_us", sh->jitter_us);
}

json_t *shape_to_json(const struct trl_link_shape *sh)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "rate", (json_int_t)sh->rate, "ceil", (json_int_t)sh->ceil,
			 "burst", (json_int_t)sh->burst, "loss_ppm", (json_int_t)sh->loss_ppm, "delay_us",
			 (json_int_t)sh->delay_us, "jitter_us", (json_int_t)sh->jitter_us);
}

/* Live changes recorded after the create override the spec's values. */
void plan_apply_settings(struct store *st, struct plan *p)
{
	json_t *set = NULL, *links, *bw;
	struct trl_error e = { 0 };

	if (store_settings_get(st, p->s->name, &set, &e) < 0)
		return;
	bw = json_object_get(set, "bandwidth");
	if (json_is_object(bw)) {
		p->s->bw_rate = json_u64(bw, "rate", p->s->bw_rate);
		p->s->bw_ceil = json_u64(bw, "ceil", p->s->bw_ceil);
	}
	{
		json_t *routers = json_object_get(set, "routers");

		free(p->stopped);
		p->stopped = calloc(p->s->n_routers + 1, 1);
		for (size_t i = 0; p->stopped && i < p->s->n_routers && json_is_object(routers); i++)
			p->stopped[i] = json_is_true(json_object_get(json_object_get(routers, p->s->routers[i].name),
								     "stopped"));
	}
	links = json_object_get(set, "links");
	for (size_t l = 0; l < p->s->n_links && json_is_object(links); l++) {
		json_t *o = json_object_get(links, p->s->links[l].name);

		if (!json_is_object(o))
			continue;
		shape_from_json(o, &p->s->links[l].shape);
		p->down[l] = json_is_false(json_object_get(o, "up"));
		if (json_is_string(json_object_get(o, "away"))) {
			if (!p->away)
				p->away = json_object();
			json_object_set(p->away, p->s->links[l].name, json_object_get(o, "away"));
		}
	}
	json_decref(set);
	plan_shape(p);
}

int plan_link_down(const struct plan *p, size_t l)
{
	return p->down[l] || (p->away && json_object_get(p->away, p->s->links[l].name));
}

/* Load a slice's row and spec. */
int slice_load(struct store *st, const char *name, struct store_slice *row, struct trl_slice **s,
		      struct trl_error *err)
{
	int r = store_slice_get(st, name, row, err);

	if (r < 0)
		return r;
	r = spec_parse(row->spec, strlen(row->spec), row->filename, files_resolver, row->files, s, err);
	if (r < 0) {
		store_slice_release(row);
		return trl_error_prefix(err, "slice '%s': stored spec no longer parses", name);
	}
	cluster_placement_apply(*s, row->placement);
	/* Limits changed live since the create. */
	r = store_limits_apply(st, *s, err);
	if (r < 0) {
		store_slice_release(row);
		trl_slice_free(*s);
		*s = NULL;
	}
	return r;
}

/* Keys and kinds as the create recorded them: the node's tunnel kinds may have changed since. */
void plan_load_links(struct store *st, struct plan *p)
{
	for (size_t l = 0; l < p->s->n_links; l++) {
		struct store_link sl = { .name = p->s->links[l].name };
		int t;

		if (store_link_get(st, p->s->name, &sl, NULL) < 0)
			continue;
		p->pl[l].key = sl.key;
		if ((t = node_tunnel_parse(sl.kind)) > 0) {
			p->pl[l].kind = PLAN_LINK_TUNNEL;
			p->pl[l].tunnel = t;
		}
	}
}

const char *router_list(const struct trl_slice *s, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->n_routers && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", s->routers[i].name);
	return buf;
}
