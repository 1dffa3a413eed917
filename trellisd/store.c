/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: state store (SQLite)
 *
 * See store.h.  Schema version lives in PRAGMA user_version; allocations are
 * made inside BEGIN IMMEDIATE transactions so two threads (or two processes
 * sharing a state dir by mistake) can never take the same uid range or key.
 */
#define LOG_MODULE "store"
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/random.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "log.h"
#include "model.h"
#include "store.h"
#include "util.h"

struct store {
	sqlite3 *db;
};

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA foreign_keys=ON;"
	"CREATE TABLE IF NOT EXISTS slices("
	"  name TEXT PRIMARY KEY,"
	"  owner TEXT NOT NULL,"
	"  owner_uid INTEGER NOT NULL,"
	"  state TEXT NOT NULL,"
	"  spec TEXT NOT NULL,"
	"  filename TEXT NOT NULL,"
	"  files TEXT NOT NULL,"
	"  placement TEXT NOT NULL DEFAULT '{}',"
	"  uid_index INTEGER NOT NULL UNIQUE,"
	"  uid_base INTEGER NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS links("
	"  slice TEXT NOT NULL REFERENCES slices(name) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  key INTEGER NOT NULL UNIQUE,"
	"  kind TEXT NOT NULL DEFAULT 'local',"
	"  PRIMARY KEY(slice, name));"
	"CREATE TABLE IF NOT EXISTS settings("
	"  slice TEXT PRIMARY KEY REFERENCES slices(name) ON DELETE CASCADE,"
	"  value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS events("
	"  id INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"
	"  slice TEXT,"
	"  kind TEXT NOT NULL,"
	"  message TEXT NOT NULL);"
	/* ssh login (ssh.c): the keys registered for a slice, and the system
	 * account trellisd made for it (name = slice name, uid checked on use). */
	"CREATE TABLE IF NOT EXISTS ssh_keys("
	"  slice TEXT NOT NULL REFERENCES slices(name) ON DELETE CASCADE,"
	"  key TEXT NOT NULL,"
	"  comment TEXT NOT NULL,"
	"  added INTEGER NOT NULL,"
	"  PRIMARY KEY(slice, key));"
	"CREATE TABLE IF NOT EXISTS ssh_accounts("
	"  slice TEXT PRIMARY KEY REFERENCES slices(name) ON DELETE CASCADE,"
	"  account TEXT NOT NULL,"
	"  uid INTEGER NOT NULL);";

static int db_error(struct store *st, struct trl_error *err, const char *what)
{
	return trl_error_set(err, TRL_EFAILED, "state store: %s: %s", what, sqlite3_errmsg(st->db));
}

/*
 * Schema changes after version 1, applied in order to a db whose
 * user_version is below their number (a new db runs them all), each in one
 * transaction with its user_version bump.
 */
static const struct {
	int version;
	const char *sql;
} migrations[] = {
	/* 2: limits changed live by slice.set; a NULL column = the spec's value. */
	{ 2, "CREATE TABLE IF NOT EXISTS limits("
	     "  slice TEXT NOT NULL REFERENCES slices(name) ON DELETE CASCADE,"
	     "  router TEXT NOT NULL,"	/* '' = the slice's aggregate */
	     "  cpu REAL, cpu_weight INTEGER, memory INTEGER, pids INTEGER,"
	     "  PRIMARY KEY(slice, router));" },
	/* 3: events name their router and carry the slice's owner (who may see them). */
	{ 3, "ALTER TABLE events ADD COLUMN router TEXT;"
	     "ALTER TABLE events ADD COLUMN owner_uid INTEGER NOT NULL DEFAULT 0;" },
	/* 4: what was built for a slice on this node (slice-inventory.c), so a
	 * delete never depends on the stored spec still parsing. */
	{ 4, "CREATE TABLE IF NOT EXISTS inventory("
	     "  slice TEXT PRIMARY KEY REFERENCES slices(name) ON DELETE CASCADE,"
	     "  data TEXT NOT NULL);" },
};

static int migrate(struct store *st, struct trl_error *err)
{
	sqlite3_stmt *q;
	int version = 0;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK)
		return db_error(st, err, "prepare");
	if (sqlite3_step(q) == SQLITE_ROW)
		version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	for (size_t i = 0; i < ARRAY_SIZE(migrations); i++) {
		char *msg = NULL, *sql;
		int rc;

		if (version >= migrations[i].version)
			continue;
		sql = sqlite3_mprintf("BEGIN IMMEDIATE; %s PRAGMA user_version=%d; COMMIT;", migrations[i].sql,
				      migrations[i].version);
		if (!sql)
			return trl_error_set(err, TRL_EFAILED, "out of memory");
		rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
		sqlite3_free(sql);
		if (rc != SQLITE_OK) {
			int r = trl_error_set(err, TRL_EFAILED, "state store: migration to schema %d: %s",
					      migrations[i].version, msg ? msg : "?");

			sqlite3_free(msg);
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			return r;
		}
		log_info("state store: schema %d -> %d", version, migrations[i].version);
		version = migrations[i].version;
	}
	return 0;
}

int store_open(const char *path, struct store **out, struct trl_error *err)
{
	struct store *st = calloc(1, sizeof(*st));
	char *msg = NULL;

	if (!st)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	/* Root's alone (every slice's spec, files, owners and keys): made 0600
	 * before SQLite creates it, which gives its -wal and -shm the same mode.
	 * Never open()+close() an existing database here: a close drops every
	 * POSIX lock this process holds on the file, those of other threads'
	 * connections too. */
	{
		struct stat sb;

		if (stat(path, &sb) < 0 && errno == ENOENT) {
			int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

			if (fd >= 0)
				close(fd);
		} else if (sb.st_mode & 077) {
			chmod(path, 0600);
		}
	}
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		int r = trl_error_set(err, TRL_EFAILED, "state store: cannot open '%s': %s", path,
				      st->db ? sqlite3_errmsg(st->db) : "out of memory");
		sqlite3_close(st->db);
		free(st);
		return r;
	}
	sqlite3_busy_timeout(st->db, 10000);
	if (sqlite3_exec(st->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		int r = trl_error_set(err, TRL_EFAILED, "state store: schema: %s", msg ? msg : "?");
		sqlite3_free(msg);
		store_close(st);
		return r;
	}
	if (migrate(st, err) < 0) {
		store_close(st);
		return -err->code;
	}
	*out = st;
	return 0;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	sqlite3_close(st->db);
	free(st);
}

static int exec_simple(struct store *st, const char *sql, struct trl_error *err)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int r = trl_error_set(err, TRL_EFAILED, "state store: %s: %s", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return r;
	}
	return 0;
}

/* Smallest integer >= @lo not present in column @col of @table (a "free slot" query). */
static int first_free(struct store *st, const char *sql, long long lo, long long *out, struct trl_error *err)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
		return db_error(st, err, "prepare");
	sqlite3_bind_int64(q, 1, lo);
	rc = sqlite3_step(q);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : lo;
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(st, err, "allocate");
	return 0;
}

/* A link key no link on this node has: drawn at random (TRL_LINK_KEY_MAX, lib/model.h), the lowest free one
 * if 64 draws all hit used keys (a node nearly full). */
static int free_key(struct store *st, long long *out, struct trl_error *err)
{
	sqlite3_stmt *q;
	int rc, r;

	if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM links WHERE key = ?", -1, &q, NULL) != SQLITE_OK)
		return db_error(st, err, "prepare");
	for (int tries = 0; tries < 64; tries++) {
		uint32_t v = 0;

		if (getrandom(&v, sizeof(v), 0) != sizeof(v))
			break;
		*out = 1 + (long long)(v % TRL_LINK_KEY_MAX);
		sqlite3_reset(q);
		sqlite3_bind_int64(q, 1, *out);
		rc = sqlite3_step(q);
		if (rc == SQLITE_DONE) {
			sqlite3_finalize(q);
			return 0;
		}
		if (rc != SQLITE_ROW) {
			sqlite3_finalize(q);
			return db_error(st, err, "allocate");
		}
	}
	sqlite3_finalize(q);
	r = first_free(st,
		       "SELECT MIN(a.key + 1) FROM (SELECT ? - 1 AS key UNION SELECT key FROM links) a "
		       "WHERE a.key + 1 NOT IN (SELECT key FROM links)",
		       1, out, err);
	if (r == 0 && *out > TRL_LINK_KEY_MAX)
		return trl_error_set(err, TRL_ELIMIT, "out of link keys (%u on this node)", TRL_LINK_KEY_MAX);
	return r;
}

int store_slice_insert(struct store *st, struct store_slice *s, unsigned uid_start, unsigned uid_count,
		       struct store_link *links, size_t n_links, struct trl_error *err)
{
	_cleanup_free_ char *files = NULL, *placement = NULL;
	sqlite3_stmt *q = NULL;
	long long idx, key;
	int r;

	r = exec_simple(st, "BEGIN IMMEDIATE", err);
	if (r < 0)
		return r;
	if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM slices WHERE name = ?", -1, &q, NULL) != SQLITE_OK) {
		r = db_error(st, err, "prepare");
		goto rollback;
	}
	sqlite3_bind_text(q, 1, s->name, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		r = trl_error_set(err, TRL_EEXIST, "slice '%s' already exists", s->name);
		goto rollback;
	}
	sqlite3_finalize(q);
	q = NULL;

	/* uid ranges are 65536 wide; index 0 is never used (it would map host uid_start). */
	if (s->uid_index_want) {
		idx = s->uid_index_want;
		if (sqlite3_prepare_v2(st->db, "SELECT name FROM slices WHERE uid_index = ?", -1, &q, NULL) != SQLITE_OK) {
			r = db_error(st, err, "prepare");
			goto rollback;
		}
		sqlite3_bind_int64(q, 1, idx);
		if (sqlite3_step(q) == SQLITE_ROW) {
			r = trl_error_set(err, TRL_EEXIST, "uid range %lld is already used here by slice '%s'", idx,
					  (const char *)sqlite3_column_text(q, 0));
			goto rollback;
		}
		sqlite3_finalize(q);
		q = NULL;
	} else {
		r = first_free(st,
			       "SELECT MIN(a.uid_index + 1) FROM (SELECT ? - 1 AS uid_index UNION SELECT uid_index FROM slices) a "
			       "WHERE a.uid_index + 1 NOT IN (SELECT uid_index FROM slices)",
			       1, &idx, err);
		if (r < 0)
			goto rollback;
	}
	if ((unsigned long long)(idx + 1) * 65536ULL > uid_count) {
		r = trl_error_set(err, TRL_ELIMIT,
				  "out of subordinate uid ranges: root's range %u:%u holds %u slices (widen it in /etc/subuid and /etc/subgid)",
				  uid_start, uid_count, uid_count / 65536 - 1);
		goto rollback;
	}
	s->uid_base = uid_start + (unsigned)idx * 65536u;
	s->created = time(NULL);
	files = s->files ? json_dumps(s->files, JSON_COMPACT) : NULL;
	placement = s->placement ? json_dumps(s->placement, JSON_COMPACT) : NULL;
	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO slices(name, owner, owner_uid, state, spec, filename, files, uid_index, uid_base, created, placement) "
			       "VALUES(?,?,?,?,?,?,?,?,?,?,?)",
			       -1, &q, NULL) != SQLITE_OK) {
		r = db_error(st, err, "prepare");
		goto rollback;
	}
	sqlite3_bind_text(q, 1, s->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, s->owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, s->owner_uid);
	sqlite3_bind_text(q, 4, slice_state_name(SLICE_CREATING), -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, s->spec, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, s->filename ? s->filename : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 7, files ? files : "{}", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 8, idx);
	sqlite3_bind_int64(q, 9, s->uid_base);
	sqlite3_bind_int64(q, 10, s->created);
	sqlite3_bind_text(q, 11, placement ? placement : "{}", -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_DONE) {
		r = db_error(st, err, "insert slice");
		goto rollback;
	}
	sqlite3_finalize(q);
	q = NULL;

	for (size_t i = 0; i < n_links; i++) {
		key = links[i].key;
		/* Keys are node-wide unique and never 0 (a GRE key of 0 reads as "no key" to people). */
		if (!key && (r = free_key(st, &key, err)) < 0)
			goto rollback;
		if (sqlite3_prepare_v2(st->db, "INSERT INTO links(slice, name, key, kind) VALUES(?,?,?,?)", -1, &q,
				       NULL) != SQLITE_OK) {
			r = db_error(st, err, "prepare");
			goto rollback;
		}
		sqlite3_bind_text(q, 1, s->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, links[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, key);
		sqlite3_bind_text(q, 4, links[i].kind, -1, SQLITE_STATIC);
		if (sqlite3_step(q) != SQLITE_DONE) {
			if (sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_UNIQUE)
				r = trl_error_set(err, TRL_EEXIST, "link '%s': key %lld is already used on this node",
						  links[i].name, key);
			else
				r = db_error(st, err, "insert link");
			goto rollback;
		}
		links[i].key = (uint32_t)key;
		sqlite3_finalize(q);
		q = NULL;
	}
	return exec_simple(st, "COMMIT", err);

rollback:
	sqlite3_finalize(q);
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

int store_slice_set_state(struct store *st, const char *name, enum slice_state state, struct trl_error *err)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "UPDATE slices SET state = ? WHERE name = ?", -1, &q, NULL) != SQLITE_OK)
		return db_error(st, err, "prepare");
	sqlite3_bind_text(q, 1, slice_state_name(state), -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_error(st, err, "update slice");
}

static char *col_dup(sqlite3_stmt *q, int i)
{
	const unsigned char *t = sqlite3_column_text(q, i);

	return strdup(t ? (const char *)t : "");
}

int store_slice_get(struct store *st, const char *name, struct store_slice *out, struct trl_error *err)
{
	sqlite3_stmt *q;
	_cleanup_free_ char *files = NULL, *placement = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(st->db,
			       "SELECT name, owner, owner_uid, state, spec, filename, files, uid_base, created, placement "
			       "FROM slices WHERE name = ?",
			       -1, &q, NULL) != SQLITE_OK)
		return db_error(st, err, "prepare");
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(q);
		if (rc == SQLITE_DONE)
			return trl_error_set(err, TRL_ENOTFOUND, "no slice '%s'", name);
		return db_error(st, err, "read slice");
	}
	snprintf(out->name, sizeof(out->name), "%s", sqlite3_column_text(q, 0));
	snprintf(out->owner, sizeof(out->owner), "%s", sqlite3_column_text(q, 1));
	out->owner_uid = sqlite3_column_int64(q, 2);
	out->state = slice_state_parse((const char *)sqlite3_column_text(q, 3));
	out->spec = col_dup(q, 4);
	out->filename = col_dup(q, 5);
	files = col_dup(q, 6);
	out->uid_base = sqlite3_column_int64(q, 7);
	out->created = sqlite3_column_int64(q, 8);
	placement = col_dup(q, 9);
	sqlite3_finalize(q);
	out->files = json_loads(files ? files : "{}", 0, NULL);
	out->placement = json_loads(placement ? placement : "{}", 0, NULL);
	if (!out->spec || !out->filename || !out->files) {
		store_slice_release(out);
		return trl_error_set(err, TRL_EFAILED, "state store: slice '%s': corrupt row", name);
	}
	return 0;
}

void store_slice_release(struct store_slice *s)
{
	free(s->spec);
	free(s->filename);
	json_decref(s->files);
	json_decref(s->placement);
	s->spec = s->filename = NULL;
	s->files = s->placement = NULL;
}

int store_slice_remove(struct store *st, const char *name, struct trl_error *err)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "DELETE FROM slices WHERE name = ?", -1, &q, NULL) != SQLITE_OK)
		return db_error(st, err, "prepare");
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_error(st, err, "delete slice");
}

int store_slice_names(struct store *st, char ***names, struct trl_error *err)
{
	sqlite3_stmt *q;
	size_t n = 0, cap = 16;
	char **v = calloc(cap, sizeof(*v));
	int rc;

	if (!v)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	if (sqlite3_prepare_v2(st->db, "SELECT name FROM slices ORDER BY name", -1, &q, NULL) != SQLITE_OK) {
		free(v);
		return db_error(st, err, "prepare");
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (n + 1 >= cap) {
			char **nv = realloc(v, cap * 2 * sizeof(*v));

			if (!nv)
				break;
			v = nv;
			cap *= 2;
		}
		v[n++] = col_dup(q, 0);
		v[n] = NULL;
	}
	sqlite3_finalize(q);
	v[n] = NULL;
	*names = v;
	return (int)n;
}

int store_link_get(struct store *st, const char *slice, struct store_link *l, struct trl_error *err)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT key, kind FROM links WHERE slice = ? AND name = ?", -1, &q, NULL) !=
	    SQLITE_OK)
		return db_error(st, err, "prepare");
	sqlite3_bind_text(q, 1, slice, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, l->name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	l->key = rc == SQLITE_ROW ? (uint32_t)sqlite3_column_int64(q, 0) : 0;
	if (rc == SQLITE_ROW)
		snprintf(l->kind, sizeof(l->kind), "%s", sqlite3_column_text(q, 1));
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW)
		return trl_error_set(err, TRL_ENOTFOUND, "no key for link '%s' of slice '%s'", l->name, slice);
	return 0;
}

int store_keys(struct store *st, json_t *keys)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT key FROM links ORDER BY key", -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		json_array_append_new(keys, json_integer(sqlite3_column_int64(q, 0)));
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int store_max_key(struct store *st, uint32_t *max)
{
	sqlite3_stmt *q;

	*max = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT IFNULL(MAX(key), 0) FROM links", -1, &q, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(q) == SQLITE_ROW)
		*max = (uint32_t)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return 0;
}

int store_events_put(struct store *st, const struct store_event *ev, size_t n, unsigned keep)
{
	sqlite3_stmt *q = NULL;
	int r = 0;

	if (!n)
		return 0;
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR REPLACE INTO events(id, time, slice, router, kind, message, owner_uid) "
			       "VALUES(?,?,?,?,?,?,?)",
			       -1, &q, NULL) != SQLITE_OK)
		r = -EIO;
	for (size_t i = 0; r == 0 && i < n; i++) {
		sqlite3_bind_int64(q, 1, ev[i].id);
		sqlite3_bind_double(q, 2, ev[i].time);
		if (ev[i].slice[0])
			sqlite3_bind_text(q, 3, ev[i].slice, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(q, 3);
		if (ev[i].router[0])
			sqlite3_bind_text(q, 4, ev[i].router, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(q, 4);
		sqlite3_bind_text(q, 5, ev[i].kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 6, ev[i].message, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 7, (sqlite3_int64)ev[i].owner);
		if (sqlite3_step(q) != SQLITE_DONE)
			r = -EIO;
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
	}
	sqlite3_finalize(q);
	if (r == 0) {
		char sql[160];

		snprintf(sql, sizeof(sql), "DELETE FROM events WHERE id <= %lld", (long long)ev[n - 1].id - keep);
		if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
			r = -EIO;
	}
	sqlite3_exec(st->db, r == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
	return r;
}

int store_events_max_id(struct store *st, int64_t *out)
{
	sqlite3_stmt *q;

	*out = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT IFNULL(MAX(id), 0) FROM events", -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(q) == SQLITE_ROW)
		*out = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return 0;
}

int store_events_query(struct store *st, int64_t max_id, double since, const char *slice, uid_t uid, unsigned limit,
		       struct store_event **out, size_t *n_out)
{
	sqlite3_stmt *q;
	struct store_event *ev;
	size_t n = 0;
	int rc;

	*out = NULL;
	*n_out = 0;
	ev = calloc(limit ? limit : 1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT id, time, IFNULL(slice, ''), IFNULL(router, ''), kind, message, owner_uid "
			       "FROM events WHERE id <= ?1 AND time >= ?2 AND (?3 IS NULL OR slice = ?3) "
			       "AND (?5 = 0 OR owner_uid = ?5 OR slice IN (SELECT slice FROM ssh_accounts WHERE uid = ?5)) "
			       "ORDER BY id DESC LIMIT ?4",
			       -1, &q, NULL) != SQLITE_OK) {
		free(ev);
		return -EIO;
	}
	sqlite3_bind_int64(q, 1, max_id);
	sqlite3_bind_double(q, 2, since);
	if (slice)
		sqlite3_bind_text(q, 3, slice, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 4, (int)limit);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)uid);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW && n < limit) {
		/* newest first from the query; stored oldest first */
		struct store_event *e = &ev[n++];

		e->id = sqlite3_column_int64(q, 0);
		e->time = sqlite3_column_double(q, 1);
		snprintf(e->slice, sizeof(e->slice), "%s", (const char *)sqlite3_column_text(q, 2));
		snprintf(e->router, sizeof(e->router), "%s", (const char *)sqlite3_column_text(q, 3));
		snprintf(e->kind, sizeof(e->kind), "%s", (const char *)sqlite3_column_text(q, 4));
		snprintf(e->message, sizeof(e->message), "%s", (const char *)sqlite3_column_text(q, 5));
		e->owner = (uid_t)sqlite3_column_int64(q, 6);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		free(ev);
		return -EIO;
	}
	for (size_t i = 0; i < n / 2; i++) {
		struct store_event t = ev[i];

		ev[i] = ev[n - 1 - i];
		ev[n - 1 - i] = t;
	}
	*out = ev;
	*n_out = n;
	return 0;
}

int store_settings_get(struct store *st, const char *slice, json_t **out, struct trl_error *err)
{
	sqlite3_stmt *q;
	json_t *v = NULL;
	int rc;

	*out = NULL;
	if (sqlite3_prepare_v2(st->db, "SELECT value FROM settings WHERE slice = ?", -1, &q, NULL) != SQLITE_OK)
		return db_error(st, err, "prepare");
	sqlite3_bind_text(q, 1, slice, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		v = json_loads((const char *)sqlite3_column_text(q, 0), 0, NULL);
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(st, err, "read settings");
	*out = json_is_object(v) ? v : (json_decref(v), json_object());
	return *out ? 0 : trl_error_set(err, TRL_EFAILED, "out of memory");
}

int store_settings_put(struct store *st, const char *slice, json_t *value, struct trl_error *err)
{
	char *text = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS);
	sqlite3_stmt *q;
	int rc;

	if (!text)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	if (sqlite3_prepare_v2(st->db, "INSERT INTO settings(slice, value) VALUES (?, ?) "
				       "ON CONFLICT(slice) DO UPDATE SET value = excluded.value",
			       -1, &q, NULL) != SQLITE_OK) {
		free(text);
		return db_error(st, err, "prepare");
	}
	sqlite3_bind_text(q, 1, slice, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, text, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	free(text);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "write settings");
	return 0;
}

int store_limits_put(struct store *st, const char *slice, const char *router, const struct trl_limits *l,
		     unsigned fields, struct trl_error *err)
{
	sqlite3_stmt *q;
	int rc;

	/* Only the fields given change; the others keep what an earlier set stored (or NULL). */
	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO limits(slice, router, cpu, cpu_weight, memory, pids) VALUES(?1,?2,?3,?4,?5,?6) "
			       "ON CONFLICT(slice, router) DO UPDATE SET cpu = IFNULL(?3, cpu), "
			       "cpu_weight = IFNULL(?4, cpu_weight), memory = IFNULL(?5, memory), pids = IFNULL(?6, pids)",
			       -1, &q, NULL) != SQLITE_OK)
		return db_error(st, err, "prepare");
	sqlite3_bind_text(q, 1, slice, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, router ? router : "", -1, SQLITE_STATIC);
	if (fields & STORE_LIMIT_CPU)
		sqlite3_bind_double(q, 3, l->cpu);
	if (fields & STORE_LIMIT_WEIGHT)
		sqlite3_bind_int64(q, 4, l->cpu_weight);
	if (fields & STORE_LIMIT_MEMORY)
		sqlite3_bind_int64(q, 5, (sqlite3_int64)l->memory);
	if (fields & STORE_LIMIT_PIDS)
		sqlite3_bind_int64(q, 6, (sqlite3_int64)l->pids);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_error(st, err, "store limits");
}

int store_limits_apply(struct store *st, struct trl_slice *s, struct trl_error *err)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT router, cpu, cpu_weight, memory, pids FROM limits WHERE slice = ?", -1, &q,
			       NULL) != SQLITE_OK)
		return db_error(st, err, "prepare");
	sqlite3_bind_text(q, 1, s->name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *router = (const char *)sqlite3_column_text(q, 0);
		struct trl_limits *l = NULL;

		if (!router || !*router) {
			l = &s->limits;
		} else {
			struct trl_router *r = trl_slice_router(s, router);

			if (r)
				l = &r->limits;
		}
		if (!l)
			continue;
		if (sqlite3_column_type(q, 1) != SQLITE_NULL)
			l->cpu = sqlite3_column_double(q, 1);
		if (sqlite3_column_type(q, 2) != SQLITE_NULL)
			l->cpu_weight = (unsigned)sqlite3_column_int64(q, 2);
		if (sqlite3_column_type(q, 3) != SQLITE_NULL)
			l->memory = (uint64_t)sqlite3_column_int64(q, 3);
		if (sqlite3_column_type(q, 4) != SQLITE_NULL)
			l->pids = (uint64_t)sqlite3_column_int64(q, 4);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_error(st, err, "read limits");
}

int store_ssh_key_add(struct store *st, const char *slice, const char *key, const char *comment,
		      struct trl_error *err)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "INSERT INTO ssh_keys(slice, key, comment, added) VALUES(?, ?, ?, ?)", -1, &q,
			       NULL) != SQLITE_OK)
		return db_error(st, err, "prepare");
	sqlite3_bind_text(q, 1, slice, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, comment, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc == SQLITE_CONSTRAINT)
		return trl_error_set(err, TRL_EEXIST, "slice '%s': this key is registered already", slice);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "add ssh key");
	return 0;
}

int store_ssh_key_remove(struct store *st, const char *slice, const char *key, struct trl_error *err)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "DELETE FROM ssh_keys WHERE slice = ? AND key = ?", -1, &q, NULL) != SQLITE_OK)
		return db_error(st, err, "prepare");
	sqlite3_bind_text(q, 1, slice, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "remove ssh key");
	if (sqlite3_changes(st->db) == 0)
		return trl_error_set(err, TRL_ENOTFOUND, "slice '%s' has no such key", slice);
	return 0;
}

int store_ssh_keys(struct store *st, const char *slice, json_t **out, struct trl_error *err)
{
	sqlite3_stmt *q;
	json_t *arr = json_array();
	int rc;

	if (!arr)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	if (sqlite3_prepare_v2(st->db, "SELECT key, comment, added FROM ssh_keys WHERE slice = ? ORDER BY added, key",
			       -1, &q, NULL) != SQLITE_OK) {
		json_decref(arr);
		return db_error(st, err, "prepare");
	}
	sqlite3_bind_text(q, 1, slice, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:I}", "key", (const char *)sqlite3_column_text(q, 0),
						     "comment", (const char *)sqlite3_column_text(q, 1), "added",
						     (json_int_t)sqlite3_column_int64(q, 2)));
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return db_error(st, err, "read ssh keys");
	}
	*out = arr;
	return 0;
}

int store_ssh_account_set(struct store *st, const char *slice, const char *account, long uid,
			  struct trl_error *err)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO ssh_accounts(slice, account, uid) VALUES(?, ?, ?)", -1,
			       &q, NULL) != SQLITE_OK)
		return db_error(st, err, "prepare");
	sqlite3_bind_text(q, 1, slice, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, account, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, uid);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "record ssh account");
	return 0;
}

int store_ssh_account_get(struct store *st, const char *slice, char account[64], long *uid)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT account, uid FROM ssh_accounts WHERE slice = ?", -1, &q, NULL) !=
	    SQLITE_OK)
		return -TRL_EFAILED;
	sqlite3_bind_text(q, 1, slice, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		snprintf(account, 64, "%s", sqlite3_column_text(q, 0));
		*uid = (long)sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -TRL_ENOTFOUND : -TRL_EFAILED;
}

int store_uid_index_used(struct store *st, unsigned idx)
{
	sqlite3_stmt *q;
	int used;

	if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM slices WHERE uid_index = ?", -1, &q, NULL) != SQLITE_OK)
		return 1;	/* cannot tell: do not hand it out */
	sqlite3_bind_int64(q, 1, idx);
	used = sqlite3_step(q) == SQLITE_ROW;
	sqlite3_finalize(q);
	return used;
}

int store_slice_exists(struct store *st, const char *name)
{
	sqlite3_stmt *q;
	int found;

	if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM slices WHERE name = ?", -1, &q, NULL) != SQLITE_OK)
		return 1;	/* cannot tell: keep what may be live */
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(q) == SQLITE_ROW;
	sqlite3_finalize(q);
	return found;
}

int store_link_add(struct store *st, const char *slice, struct store_link *l, struct trl_error *err)
{
	sqlite3_stmt *q;
	long long key = l->key;
	int r;

	if ((r = exec_simple(st, "BEGIN IMMEDIATE", err)) < 0)
		return r;
	if (!key && (r = free_key(st, &key, err)) < 0)
		goto rollback;
	if (sqlite3_prepare_v2(st->db, "INSERT INTO links(slice, name, key, kind) VALUES(?,?,?,?)", -1, &q, NULL) !=
	    SQLITE_OK) {
		r = db_error(st, err, "prepare");
		goto rollback;
	}
	sqlite3_bind_text(q, 1, slice, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, l->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, key);
	sqlite3_bind_text(q, 4, l->kind, -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_UNIQUE ||
		    sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
			r = trl_error_set(err, TRL_EEXIST, "link '%s': key %lld or the name is already used", l->name, key);
		else
			r = db_error(st, err, "insert link");
		sqlite3_finalize(q);
		goto rollback;
	}
	sqlite3_finalize(q);
	l->key = (uint32_t)key;
	return exec_simple(st, "COMMIT", err);
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

int store_link_remove(struct store *st, const char *slice, const char *name, struct trl_error *err)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "DELETE FROM links WHERE slice = ? AND name = ?", -1, &q, NULL) != SQLITE_OK)
		return db_error(st, err, "prepare");
	sqlite3_bind_text(q, 1, slice, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_error(st, err, "remove link");
}

int store_slice_respec(struct store *st, const char *name, const char *spec, const char *filename, json_t *files,
		       json_t *placement, struct trl_error *err)
{
	_cleanup_free_ char *ftext = files ? json_dumps(files, JSON_COMPACT) : strdup("{}");
	_cleanup_free_ char *ptext = placement ? json_dumps(placement, JSON_COMPACT) : NULL;
	sqlite3_stmt *q;
	int rc;

	if (!ftext || (placement && !ptext))
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	if (sqlite3_prepare_v2(st->db,
			       "UPDATE slices SET spec = ?, filename = ?, files = ?, placement = coalesce(?, placement) "
			       "WHERE name = ?",
			       -1, &q, NULL) != SQLITE_OK)
		return db_error(st, err, "prepare");
	sqlite3_bind_text(q, 1, spec, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, filename ? filename : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, ftext, -1, SQLITE_STATIC);
	if (ptext)
		sqlite3_bind_text(q, 4, ptext, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 4);
	sqlite3_bind_text(q, 5, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "update spec");
	return sqlite3_changes(st->db) ? 0 : trl_error_set(err, TRL_ENOTFOUND, "no slice '%s'", name);
}

int store_inventory_put(struct store *st, const char *slice, json_t *data, struct trl_error *err)
{
	_cleanup_free_ char *text = json_dumps(data, JSON_COMPACT);
	sqlite3_stmt *q;
	int rc;

	if (!text)
		return trl_error_set(err, TRL_EFAILED, "out of memory");
	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO inventory(slice, data) VALUES(?, ?)", -1, &q, NULL) !=
	    SQLITE_OK)
		return db_error(st, err, "prepare");
	sqlite3_bind_text(q, 1, slice, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, text, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_error(st, err, "write inventory");
}

int store_inventory_get(struct store *st, const char *slice, json_t **out, struct trl_error *err)
{
	sqlite3_stmt *q;
	int rc;

	*out = NULL;
	if (sqlite3_prepare_v2(st->db, "SELECT data FROM inventory WHERE slice = ?", -1, &q, NULL) != SQLITE_OK)
		return db_error(st, err, "prepare");
	sqlite3_bind_text(q, 1, slice, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*out = json_loads((const char *)sqlite3_column_text(q, 0), 0, NULL);
	sqlite3_finalize(q);
	if (rc == SQLITE_DONE)
		return trl_error_set(err, TRL_ENOTFOUND, "no inventory of slice '%s'", slice);
	if (rc != SQLITE_ROW || !*out)
		return db_error(st, err, "read inventory");
	return 0;
}

int store_links(struct store *st, const char *slice, json_t *out, struct trl_error *err)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT name, key, kind FROM links WHERE slice = ? ORDER BY name", -1, &q, NULL) !=
	    SQLITE_OK)
		return db_error(st, err, "prepare");
	sqlite3_bind_text(q, 1, slice, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		json_array_append_new(out, json_pack("{s:s, s:I, s:s}", "name", (const char *)sqlite3_column_text(q, 0), "key",
						     (json_int_t)sqlite3_column_int64(q, 1), "kind",
						     (const char *)sqlite3_column_text(q, 2)));
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_error(st, err, "read links");
}
