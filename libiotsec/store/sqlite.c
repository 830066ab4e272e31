/* libiotsec — replay state in SQLite (include/iotsec/replay_store.h). */
#include "iotsec/replay_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iotsec/error.h"
#include "../core/replay_int.h"
#include "../port/posix/sync_dir.h"

/* One namespace of the database: a table of (device_id, kid) → window, its two statements,
 * and the interface handle whose ctx is this struct. */
struct ns {
    iotsec_replay_store store;
    iotsec_replay_sqlite *owner;
    sqlite3_stmt *sel;    /* the state of one (device, kid) */
    sqlite3_stmt *upsert; /* write the state of one (device, kid) */
    const char *sel_sql, *upsert_sql;
    unsigned window;
};

struct iotsec_replay_sqlite {
    struct ns frames;  /* iotsec_replay_state: frames v1, W given at open */
    struct ns ecowatt; /* iotsec_replay_ecowatt: the legacy profile's nonces, W = 0 */
    sqlite3 *db;
    int busy; /* the last failure was lock contention */
};

/* Both tables have one shape. IF NOT EXISTS: the legacy table is added to databases made
 * before it existed. */
#define TABLE_SQL(name)                                                                     \
    "CREATE TABLE IF NOT EXISTS " name "("                                                  \
    " device_id BLOB NOT NULL CHECK(length(device_id) BETWEEN 1 AND 64),"                   \
    " kid INTEGER NOT NULL CHECK(kid BETWEEN 0 AND 255),"                                   \
    " state BLOB NOT NULL,"                                                                 \
    " PRIMARY KEY(device_id, kid)) WITHOUT ROWID"
#define SELECT_SQL(name) "SELECT state FROM " name " WHERE device_id = ?1 AND kid = ?2"
#define UPSERT_SQL(name)                                                                    \
    "INSERT OR REPLACE INTO " name "(device_id, kid, state) VALUES(?1, ?2, ?3)"
#define FRAMES_TABLE "iotsec_replay_state"
#define ECOWATT_TABLE "iotsec_replay_ecowatt"

/* One place maps SQLite's result codes to ours. */
static int map_sqlite(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return IOTSEC_OK;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return IOTSEC_E_CORRUPT;
    case SQLITE_NOMEM:
        return IOTSEC_E_NO_MEMORY;
    default: /* BUSY, LOCKED, IOERR, FULL, CANTOPEN, READONLY, PROTOCOL, ... */
        return IOTSEC_E_IO;
    }
}

/* map_sqlite, remembering whether the failure was lock contention (worth a retry while the
 * file is being set up by several processes at once) */
static int rc_of(iotsec_replay_sqlite *s, int rc)
{
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        s->busy = 1;
    return map_sqlite(rc);
}

static int exec(iotsec_replay_sqlite *s, const char *sql)
{
    return rc_of(s, sqlite3_exec(s->db, sql, NULL, NULL, NULL));
}

/* Run a statement returning one row; copy column 0 as an integer (*num) or compare it, as
 * text, with expect (case-insensitive) into *equal. */
static int query_one(iotsec_replay_sqlite *s, const char *sql, int64_t *num, const char *expect,
                     int *equal)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            if (num != NULL) {
                *num = sqlite3_column_int64(st, 0);
            } else {
                const unsigned char *t = sqlite3_column_text(st, 0);
                *equal = t != NULL && sqlite3_stricmp((const char *)t, expect) == 0;
            }
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_CORRUPT; /* these statements always return a row */
        }
    }
    sqlite3_finalize(st);
    return rc_of(s, rc);
}

enum db_kind { DB_FRESH, DB_OURS };

/* Identify the file, in one read transaction (one snapshot): ours (our application id and
 * schema version), fresh (no id, no version, no schema object) or refused. Reads only. */
static int identify(iotsec_replay_sqlite *s, enum db_kind *kind)
{
    int64_t app = 0, ver = 0, objects = 0;
    int own = sqlite3_get_autocommit(s->db);
    int rc = own ? exec(s, "BEGIN") : IOTSEC_OK;

    if (rc == IOTSEC_OK)
        rc = query_one(s, "PRAGMA application_id", &app, NULL, NULL);
    if (rc == IOTSEC_OK)
        rc = query_one(s, "PRAGMA user_version", &ver, NULL, NULL);
    if (rc == IOTSEC_OK)
        rc = query_one(s, "SELECT count(*) FROM sqlite_master", &objects, NULL, NULL);
    if (own && !sqlite3_get_autocommit(s->db))
        (void)sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL); /* read-only: nothing to lose */
    if (rc != IOTSEC_OK)
        return rc;
    if (app == IOTSEC_REPLAY_SQLITE_APPLICATION_ID) {
        if (ver != IOTSEC_REPLAY_SQLITE_SCHEMA_VERSION)
            return IOTSEC_E_BAD_VERSION;
        *kind = DB_OURS;
        return IOTSEC_OK;
    }
    if (app == 0 && ver == 0 && objects == 0) {
        *kind = DB_FRESH;
        return IOTSEC_OK;
    }
    return IOTSEC_E_CORRUPT; /* another application's database */
}

/* Create tables under the write lock: the whole schema when the file is still fresh (another
 * process may have created it meanwhile, so re-identify), else only the legacy table, which
 * databases made before it existed lack. */
static int create_schema(iotsec_replay_sqlite *s)
{
    enum db_kind kind = DB_OURS;
    int rc = exec(s, "BEGIN IMMEDIATE");

    if (rc != IOTSEC_OK)
        return rc;
    rc = identify(s, &kind);
    if (rc == IOTSEC_OK && kind == DB_FRESH) {
        char sql[64];
        rc = exec(s, TABLE_SQL(FRAMES_TABLE));
        sqlite3_snprintf((int)sizeof sql, sql, "PRAGMA application_id = %d",
                         IOTSEC_REPLAY_SQLITE_APPLICATION_ID);
        if (rc == IOTSEC_OK)
            rc = exec(s, sql);
        sqlite3_snprintf((int)sizeof sql, sql, "PRAGMA user_version = %d",
                         IOTSEC_REPLAY_SQLITE_SCHEMA_VERSION);
        if (rc == IOTSEC_OK)
            rc = exec(s, sql);
    }
    if (rc == IOTSEC_OK)
        rc = exec(s, TABLE_SQL(ECOWATT_TABLE));
    if (rc == IOTSEC_OK)
        rc = exec(s, "COMMIT");
    if (rc != IOTSEC_OK && !sqlite3_get_autocommit(s->db))
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Create path as an empty file, mode 0600, if it does not exist (SQLite would use 0644);
 * symbolic links are never followed. */
static int create_file(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (fd < 0)
        return errno == EEXIST ? IOTSEC_OK : IOTSEC_E_IO;
    if (fchmod(fd, 0600) != 0) {
        close(fd);
        return IOTSEC_E_IO;
    }
    close(fd);
    return iotsec_posix_sync_dir_of(path);
}

static int sqlite_check(void *ctx, const uint8_t *device_id, size_t id_len, uint8_t kid,
                        uint64_t ctr);
static int sqlite_check_and_commit(void *ctx, const uint8_t *device_id, size_t id_len,
                                   uint8_t kid, uint64_t ctr);
static int sqlite_begin(void *ctx);
static int sqlite_commit(void *ctx);
static int sqlite_rollback(void *ctx);
static int sqlite_window(void *ctx, unsigned *window);

static const iotsec_replay_store_ops sqlite_ops = {sqlite_check,  sqlite_check_and_commit,
                                                   sqlite_begin,  sqlite_commit,
                                                   sqlite_rollback, sqlite_window};

/* A namespace's table as it must be (prepares both statements). IOTSEC_E_CORRUPT when the
 * table or a column is missing. */
static int prepare(struct ns *n)
{
    iotsec_replay_sqlite *s = n->owner;
    int rc = SQLITE_OK;

    if (n->sel == NULL)
        rc = sqlite3_prepare_v3(s->db, n->sel_sql, -1, SQLITE_PREPARE_PERSISTENT, &n->sel, NULL);
    if (rc == SQLITE_OK && n->upsert == NULL)
        rc = sqlite3_prepare_v3(s->db, n->upsert_sql, -1, SQLITE_PREPARE_PERSISTENT,
                                &n->upsert, NULL);
    if ((rc & 0xff) == SQLITE_ERROR)
        return IOTSEC_E_CORRUPT; /* no such table or column */
    return rc_of(s, rc);
}

/* Identify and check an existing file with reads only, so a refused file is left exactly as
 * it was; only then switch to WAL and, for a fresh file, create the schema. */
static int setup(iotsec_replay_sqlite *s)
{
    enum db_kind kind = DB_OURS;
    int rc = identify(s, &kind), wal = 0, ok = 0;
    int64_t legacy = 0;

    if (rc == IOTSEC_OK && kind == DB_OURS) {
        rc = query_one(s, "PRAGMA quick_check", NULL, "ok", &ok);
        if (rc == IOTSEC_OK && !ok)
            rc = IOTSEC_E_CORRUPT;
        if (rc == IOTSEC_OK)
            rc = prepare(&s->frames); /* our id without our table: foreign */
        if (rc == IOTSEC_OK)
            rc = query_one(s,
                           "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND"
                           " name = '" ECOWATT_TABLE "'",
                           &legacy, NULL, NULL);
        if (rc == IOTSEC_OK && legacy)
            rc = prepare(&s->ecowatt); /* present, so it must be right */
    }
    if (rc == IOTSEC_OK)
        rc = query_one(s, "PRAGMA journal_mode = WAL", NULL, "wal", &wal);
    if (rc == IOTSEC_OK && !wal)
        rc = IOTSEC_E_IO; /* WAL unavailable (e.g. no shared memory on this file system) */
    /* a fresh file gets the schema; a database of ours made before the legacy table existed
     * gets that table */
    if (rc == IOTSEC_OK && (kind == DB_FRESH || !legacy)) {
        rc = create_schema(s);
        if (rc == IOTSEC_OK)
            rc = prepare(&s->frames);
        if (rc == IOTSEC_OK)
            rc = prepare(&s->ecowatt);
    }
    return rc;
}

static int open_db(iotsec_replay_sqlite *s, const char *path, unsigned flags)
{
    int rc, waited;

    rc = create_file(path);
    if (rc != IOTSEC_OK)
        return rc;
    /* no SQLITE_OPEN_CREATE: the file exists now, and a vanished one is an error */
    rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc != SQLITE_OK)
        return s->db == NULL ? IOTSEC_E_NO_MEMORY : map_sqlite(rc);
    sqlite3_extended_result_codes(s->db, 1);
    if (sqlite3_busy_timeout(s->db, IOTSEC_REPLAY_SQLITE_BUSY_TIMEOUT_MS) != SQLITE_OK ||
        sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL) != SQLITE_OK ||
        sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL) != SQLITE_OK)
        return IOTSEC_E_IO;
    /* While several processes set up a new file at once (journal mode change, schema
     * creation), SQLite may report SQLITE_BUSY without waiting, to avoid a deadlock: retry
     * the whole setup for up to the busy timeout. */
    for (waited = 0;; waited += 10) {
        s->busy = 0;
        rc = setup(s);
        if (rc == IOTSEC_OK || !s->busy || waited >= IOTSEC_REPLAY_SQLITE_BUSY_TIMEOUT_MS)
            break;
        sqlite3_sleep(10);
    }
    if (rc == IOTSEC_OK)
        rc = exec(s, (flags & IOTSEC_REPLAY_SQLITE_SYNC_NORMAL) ? "PRAGMA synchronous = NORMAL"
                                                                : "PRAGMA synchronous = FULL");
    return rc;
}

static void ns_init(struct ns *n, iotsec_replay_sqlite *owner, unsigned window,
                    const char *sel_sql, const char *upsert_sql)
{
    n->store.ops = &sqlite_ops;
    n->store.ctx = n;
    n->owner = owner;
    n->window = window;
    n->sel_sql = sel_sql;
    n->upsert_sql = upsert_sql;
}

int iotsec_replay_sqlite_open(iotsec_replay_sqlite **out, const char *path, unsigned window,
                              unsigned flags)
{
    iotsec_replay_sqlite *s;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (out == NULL || path == NULL || window > IOTSEC_REPLAY_MAX_WINDOW ||
        (flags & ~IOTSEC_REPLAY_SQLITE_SYNC_NORMAL) != 0)
        return IOTSEC_E_INVALID_ARG;
    /* sqlite3_malloc: the allocation obeys SQLite's heap limit like the rest of the store */
    s = sqlite3_malloc64(sizeof *s);
    if (s == NULL)
        return IOTSEC_E_NO_MEMORY;
    memset(s, 0, sizeof *s);
    ns_init(&s->frames, s, window, SELECT_SQL(FRAMES_TABLE), UPSERT_SQL(FRAMES_TABLE));
    ns_init(&s->ecowatt, s, 0, SELECT_SQL(ECOWATT_TABLE), UPSERT_SQL(ECOWATT_TABLE));
    rc = open_db(s, path, flags);
    if (rc != IOTSEC_OK) {
        iotsec_replay_sqlite_close(s);
        return rc;
    }
    *out = s;
    return IOTSEC_OK;
}

iotsec_replay_store *iotsec_replay_sqlite_store(iotsec_replay_sqlite *s)
{
    return s == NULL ? NULL : &s->frames.store;
}

iotsec_replay_store *iotsec_replay_sqlite_ecowatt_store(iotsec_replay_sqlite *s)
{
    return s == NULL ? NULL : &s->ecowatt.store;
}

struct sqlite3 *iotsec_replay_sqlite_db(iotsec_replay_sqlite *s)
{
    return s == NULL ? NULL : s->db;
}

void iotsec_replay_sqlite_close(iotsec_replay_sqlite *s)
{
    if (s == NULL)
        return;
    if (s->db != NULL && !sqlite3_get_autocommit(s->db))
        (void)exec(s, "ROLLBACK");
    sqlite3_finalize(s->frames.sel);
    sqlite3_finalize(s->frames.upsert);
    sqlite3_finalize(s->ecowatt.sel);
    sqlite3_finalize(s->ecowatt.upsert);
    sqlite3_close_v2(s->db);
    sqlite3_free(s);
}

/* The window of (device_id, kid): the stored one (converted to the store's W) or an empty
 * one. IOTSEC_E_CORRUPT when the row does not decode. */
static int load(struct ns *s, const uint8_t *device_id, size_t id_len, uint8_t kid,
                iotsec_replay_window *w)
{
    int rc;

    rc = sqlite3_bind_blob(s->sel, 1, device_id, (int)id_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s->sel, 2, kid);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s->sel);
    if (rc == SQLITE_ROW) {
        const void *blob = sqlite3_column_blob(s->sel, 0);
        int n = sqlite3_column_bytes(s->sel, 0);
        if (sqlite3_column_type(s->sel, 0) != SQLITE_BLOB || blob == NULL || n < 0 ||
            iotsec_replay_decode(w, blob, (size_t)n) != IOTSEC_OK) {
            rc = IOTSEC_E_CORRUPT;
        } else {
            iotsec__replay_resize(w, s->window);
            rc = IOTSEC_OK;
        }
    } else if (rc == SQLITE_DONE) {
        rc = iotsec_replay_init(w, s->window);
    } else {
        rc = map_sqlite(rc);
    }
    sqlite3_reset(s->sel);
    sqlite3_clear_bindings(s->sel);
    return rc;
}

static int store_state(struct ns *s, const uint8_t *device_id, size_t id_len,
                       uint8_t kid, const iotsec_replay_window *w)
{
    uint8_t buf[IOTSEC_REPLAY_STATE_LEN];
    size_t n = 0;
    int rc = iotsec_replay_encode(w, buf, sizeof buf, &n);

    if (rc != IOTSEC_OK)
        return rc;
    rc = sqlite3_bind_blob(s->upsert, 1, device_id, (int)id_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s->upsert, 2, kid);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(s->upsert, 3, buf, (int)n, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s->upsert);
    sqlite3_reset(s->upsert);
    sqlite3_clear_bindings(s->upsert);
    return map_sqlite(rc);
}

static int sqlite_check(void *ctx, const uint8_t *device_id, size_t id_len, uint8_t kid,
                        uint64_t ctr)
{
    iotsec_replay_window w;
    int rc = load(ctx, device_id, id_len, kid, &w);

    return rc != IOTSEC_OK ? rc : iotsec_replay_check(&w, ctr);
}

static int sqlite_check_and_commit(void *ctx, const uint8_t *device_id, size_t id_len,
                                   uint8_t kid, uint64_t ctr)
{
    struct ns *n = ctx;
    iotsec_replay_sqlite *s = n->owner;
    iotsec_replay_window w;
    int own = sqlite3_get_autocommit(s->db); /* no transaction open: this call is one */
    int rc = IOTSEC_OK;

    if (own)
        rc = exec(s, "BEGIN IMMEDIATE");
    if (rc != IOTSEC_OK)
        return rc;
    rc = load(n, device_id, id_len, kid, &w);
    if (rc == IOTSEC_OK)
        rc = iotsec_replay_commit(&w, ctr);
    if (rc == IOTSEC_OK)
        rc = store_state(n, device_id, id_len, kid, &w);
    if (own) {
        if (rc == IOTSEC_OK)
            rc = exec(s, "COMMIT");
        if (rc != IOTSEC_OK && !sqlite3_get_autocommit(s->db))
            (void)exec(s, "ROLLBACK");
    }
    return rc;
}

static int sqlite_begin(void *ctx)
{
    iotsec_replay_sqlite *s = ((struct ns *)ctx)->owner;

    if (!sqlite3_get_autocommit(s->db))
        return IOTSEC_E_STATE;
    return exec(s, "BEGIN IMMEDIATE");
}

static int sqlite_commit(void *ctx)
{
    iotsec_replay_sqlite *s = ((struct ns *)ctx)->owner;
    int rc;

    if (sqlite3_get_autocommit(s->db))
        return IOTSEC_E_STATE;
    rc = exec(s, "COMMIT");
    if (rc != IOTSEC_OK && !sqlite3_get_autocommit(s->db))
        (void)exec(s, "ROLLBACK"); /* documented: a failed commit accepts nothing */
    return rc;
}

static int sqlite_rollback(void *ctx)
{
    iotsec_replay_sqlite *s = ((struct ns *)ctx)->owner;

    if (sqlite3_get_autocommit(s->db))
        return IOTSEC_E_STATE;
    return exec(s, "ROLLBACK");
}

static int sqlite_window(void *ctx, unsigned *window)
{
    *window = ((const struct ns *)ctx)->window;
    return IOTSEC_OK;
}
