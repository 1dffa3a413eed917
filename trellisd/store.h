/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: state store (SQLite)
 *
 * Desired state: one row per slice holding the spec exactly as submitted
 * (plus the config files the client attached), the owner, the allocated
 * subordinate uid range and a lifecycle state; one row per link holding its
 * allocated tunnel key.  Everything else about a slice (routers, interfaces,
 * host-side names) is derived from the spec, never stored twice.
 * WAL mode; each thread opens its own connection (store_open).
 */
#ifndef TRELLISD_STORE_H
#define TRELLISD_STORE_H

#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "error.h"
#include "model.h"
#include "state.h"

struct store;

struct store_link {
	const char *name;	/* "r1:eth1-r2:eth1" */
	uint32_t key;		/* 0 on insert: allocate one */
	char kind[16];		/* "local", "remote", or a tunnel kind */
};

struct store_slice {
	char name[64];
	char owner[64];
	uid_t owner_uid;
	enum slice_state state;
	char *spec;
	char *filename;
	json_t *files;		/* object name -> text */
	json_t *placement;	/* multi-node: {"nodes": ..., "keys": ...} as the CLI sent it, or NULL */
	unsigned uid_base;
	unsigned uid_index_want;	/* insert: this uid index (cluster mode allocates it), 0 = the first free */
	int64_t created;
};

int store_open(const char *path, struct store **out, struct trl_error *err);
void store_close(struct store *st);

/* Insert a new slice row in state 'creating', allocating a uid range (index
 * from [1, uid_count/65536)) and a key for each link whose key is 0 (the
 * others keep theirs: a multi-node create brings them), in one transaction.
 * -TRL_EEXIST if the name or a given key is taken, -TRL_ELIMIT when out of
 * ranges or keys.  Fills links[i].key. */
int store_slice_insert(struct store *st, struct store_slice *s, unsigned uid_start, unsigned uid_count,
		       struct store_link *links, size_t n_links, struct trl_error *err);
int store_slice_set_state(struct store *st, const char *name, enum slice_state state, struct trl_error *err);
/* 0 found, -TRL_ENOTFOUND, or another error. */
int store_slice_get(struct store *st, const char *name, struct store_slice *out, struct trl_error *err);
void store_slice_release(struct store_slice *s);
/* Delete the slice row and its links. Missing is success. */
int store_slice_remove(struct store *st, const char *name, struct trl_error *err);
/* Is uid index @idx used by a slice of this store?  (1 also when it cannot tell.) */
int store_uid_index_used(struct store *st, unsigned idx);
/* Does this store hold slice @name?  (1 also when it cannot tell.) */
int store_slice_exists(struct store *st, const char *name);
/* Names of all slices (NULL-terminated, free with spec_free_names-style loop). */
int store_slice_names(struct store *st, char ***names, struct trl_error *err);
/* slice.apply: a link row for a new link of a stored slice (key 0: allocate
 * one, filled in), and the removal of one. */
int store_link_add(struct store *st, const char *slice, struct store_link *l, struct trl_error *err);
int store_link_remove(struct store *st, const char *slice, const char *name, struct trl_error *err);
/* slice.apply, once the edited spec runs: it (and its files) become the slice's spec;
 * @placement (multi-node: nodes and keys) replaces the stored one unless NULL. */
int store_slice_respec(struct store *st, const char *name, const char *spec, const char *filename, json_t *files,
		       json_t *placement, struct trl_error *err);
/* Every link row of @slice, appended to @out as {"name", "key", "kind"}. */
int store_links(struct store *st, const char *slice, json_t *out, struct trl_error *err);
/* Key and kind of link l->name. */
int store_link_get(struct store *st, const char *slice, struct store_link *l, struct trl_error *err);
/* Every link key in use on this node, appended to the JSON array @keys (ascending). */
int store_keys(struct store *st, json_t *keys);
/* Highest link key in use on this node (0 if none). */
int store_max_key(struct store *st, uint32_t *max);
/* Live changes made after the create (link set/up/down, slice set), an object
 * {"bandwidth": {...}, "links": {NAME: {...}}}; an empty object when none.
 * The spec itself is never rewritten.  Removed with the slice. */
int store_settings_get(struct store *st, const char *slice, json_t **out, struct trl_error *err);
int store_settings_put(struct store *st, const char *slice, json_t *value, struct trl_error *err);
/* Which limits store_limits_put() changes (the same bits as CGROUP_F_*). */
#define STORE_LIMIT_CPU 0x1
#define STORE_LIMIT_WEIGHT 0x2
#define STORE_LIMIT_MEMORY 0x4
#define STORE_LIMIT_PIDS 0x8

/* Record limits changed live (slice.set) for @router of @slice, or for the
 * slice's aggregate when @router is NULL or "": only the @fields given. */
int store_limits_put(struct store *st, const char *slice, const char *router, const struct trl_limits *l,
		     unsigned fields, struct trl_error *err);
/* Overlay the recorded live changes on a slice parsed from its stored spec. */
int store_limits_apply(struct store *st, struct trl_slice *s, struct trl_error *err);
/* ssh keys of a slice ("TYPE BASE64" lines, lib/sshkey.h): add (-TRL_EEXIST
 * if registered), remove (-TRL_ENOTFOUND if not), list as
 * [{"key", "comment", "added"}]. */
int store_ssh_key_add(struct store *st, const char *slice, const char *key, const char *comment,
		      struct trl_error *err);
int store_ssh_key_remove(struct store *st, const char *slice, const char *key, struct trl_error *err);
int store_ssh_keys(struct store *st, const char *slice, json_t **out, struct trl_error *err);
/* The system account made for a slice's ssh logins. get: 0, -TRL_ENOTFOUND, -TRL_EFAILED. */
int store_ssh_account_set(struct store *st, const char *slice, const char *account, long uid,
			  struct trl_error *err);
int store_ssh_account_get(struct store *st, const char *slice, char account[64], long *uid);
/* Events (events.c): one row each, the newest kept. */
struct store_event {
	int64_t id;		/* ascending, assigned by events.c */
	double time;		/* unix s */
	char slice[16];		/* "" = a node event */
	char router[16];	/* "" = none */
	char kind[24];
	char message[232];
	uid_t owner;		/* the slice's owner (0: root only) */
};
/* Write @n events (ascending ids) in one transaction and drop rows older than
 * the newest @keep. */
int store_events_put(struct store *st, const struct store_event *ev, size_t n, unsigned keep);
int store_events_max_id(struct store *st, int64_t *out);
/* The newest @limit events with id <= @max_id, time >= @since, (unless
 * NULL) of @slice and (unless @uid is 0) of a slice @uid owns or is the ssh
 * account of, oldest first, in a new array *out (free()).  The uid filter
 * only narrows: the caller still applies access.c's rule. */
int store_events_query(struct store *st, int64_t max_id, double since, const char *slice, uid_t uid, unsigned limit,
		       struct store_event **out, size_t *n_out);
/* What was built for a slice on this node (slice-inventory.c), as JSON:
 * put replaces it; get: 0, -TRL_ENOTFOUND (a slice from an older release),
 * or another error.  Removed with the slice. */
int store_inventory_put(struct store *st, const char *slice, json_t *data, struct trl_error *err);
int store_inventory_get(struct store *st, const char *slice, json_t **out, struct trl_error *err);

#endif
