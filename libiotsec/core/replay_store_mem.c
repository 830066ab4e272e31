/* libiotsec — replay store interface wrappers and the in-memory store
 * (include/iotsec/replay_store.h). No allocation: the caller provides the table and the
 * transaction journal. */
#include "iotsec/replay_store.h"

#include <string.h>

#include "iotsec/error.h"

enum { ENTRY_FREE = 0, ENTRY_COMMITTED = 1, ENTRY_PENDING = 2 };

/* ---- interface wrappers ------------------------------------------------------------------ */

static int store_ok(const iotsec_replay_store *s)
{
    return s != NULL && s->ops != NULL;
}

static int key_ok(const uint8_t *device_id, size_t id_len)
{
    return device_id != NULL && id_len >= 1 && id_len <= IOTSEC_REPLAY_STORE_MAX_ID;
}

int iotsec_replay_store_check(iotsec_replay_store *s, const uint8_t *device_id, size_t id_len,
                              uint8_t kid, uint64_t ctr)
{
    if (!store_ok(s) || s->ops->check == NULL || !key_ok(device_id, id_len))
        return IOTSEC_E_INVALID_ARG;
    return s->ops->check(s->ctx, device_id, id_len, kid, ctr);
}

int iotsec_replay_store_check_and_commit(iotsec_replay_store *s, const uint8_t *device_id,
                                         size_t id_len, uint8_t kid, uint64_t ctr)
{
    if (!store_ok(s) || s->ops->check_and_commit == NULL || !key_ok(device_id, id_len))
        return IOTSEC_E_INVALID_ARG;
    return s->ops->check_and_commit(s->ctx, device_id, id_len, kid, ctr);
}

int iotsec_replay_store_begin(iotsec_replay_store *s)
{
    if (!store_ok(s) || s->ops->begin == NULL)
        return IOTSEC_E_INVALID_ARG;
    return s->ops->begin(s->ctx);
}

int iotsec_replay_store_commit(iotsec_replay_store *s)
{
    if (!store_ok(s) || s->ops->commit == NULL)
        return IOTSEC_E_INVALID_ARG;
    return s->ops->commit(s->ctx);
}

int iotsec_replay_store_rollback(iotsec_replay_store *s)
{
    if (!store_ok(s) || s->ops->rollback == NULL)
        return IOTSEC_E_INVALID_ARG;
    return s->ops->rollback(s->ctx);
}

int iotsec_replay_store_window(iotsec_replay_store *s, unsigned *window)
{
    unsigned w = 0;
    int rc;

    if (!store_ok(s) || window == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (s->ops->window == NULL)
        return IOTSEC_E_UNSUPPORTED;
    rc = s->ops->window(s->ctx, &w);
    if (rc == IOTSEC_OK)
        *window = w;
    return rc;
}

/* ---- in-memory store --------------------------------------------------------------------- */

/* index of the live entry for (device_id, kid), or table_len when absent */
static size_t mem_find(const iotsec_replay_mem *m, const uint8_t *device_id, size_t id_len,
                       uint8_t kid)
{
    size_t i;

    for (i = 0; i < m->table_len; i++) {
        const iotsec_replay_mem_entry *e = &m->table[i];
        if (e->state != ENTRY_FREE && e->kid == kid && e->id_len == id_len &&
            memcmp(e->device_id, device_id, id_len) == 0)
            return i;
    }
    return m->table_len;
}

/* The window of (device_id, kid) as the open transaction sees it: the stored window (or an
 * empty one) with this entry's journaled counters applied. */
static int mem_view(const iotsec_replay_mem *m, size_t idx, iotsec_replay_window *w)
{
    size_t j;

    if (idx == m->table_len)
        return iotsec_replay_init(w, m->window);
    *w = m->table[idx].window;
    for (j = 0; j < m->pending; j++) {
        if (m->journal[j].entry == idx && iotsec_replay_commit(w, m->journal[j].ctr) != IOTSEC_OK)
            return IOTSEC_E_STATE; /* cannot happen: each intent was checked on this view */
    }
    return IOTSEC_OK;
}

static int mem_check(void *ctx, const uint8_t *device_id, size_t id_len, uint8_t kid,
                     uint64_t ctr)
{
    const iotsec_replay_mem *m = ctx;
    iotsec_replay_window w;
    int rc = mem_view(m, mem_find(m, device_id, id_len, kid), &w);

    return rc != IOTSEC_OK ? rc : iotsec_replay_check(&w, ctr);
}

static int mem_check_and_commit(void *ctx, const uint8_t *device_id, size_t id_len,
                                uint8_t kid, uint64_t ctr)
{
    iotsec_replay_mem *m = ctx;
    iotsec_replay_window w;
    size_t idx = mem_find(m, device_id, id_len, kid), free_idx;
    int rc = mem_view(m, idx, &w);

    if (rc == IOTSEC_OK)
        rc = iotsec_replay_check(&w, ctr);
    if (rc != IOTSEC_OK)
        return rc;
    if (m->in_txn && m->pending == m->journal_len)
        return IOTSEC_E_NO_MEMORY; /* journal full: nothing recorded */
    if (idx == m->table_len) {
        for (free_idx = 0; free_idx < m->table_len; free_idx++) {
            if (m->table[free_idx].state == ENTRY_FREE)
                break;
        }
        if (free_idx == m->table_len)
            return IOTSEC_E_NO_MEMORY; /* table full: never evict replay state */
        idx = free_idx;
        memset(&m->table[idx], 0, sizeof m->table[idx]);
        memcpy(m->table[idx].device_id, device_id, id_len);
        m->table[idx].id_len = (uint8_t)id_len;
        m->table[idx].kid = kid;
        m->table[idx].state = m->in_txn ? ENTRY_PENDING : ENTRY_COMMITTED;
        rc = iotsec_replay_init(&m->table[idx].window, m->window);
        if (rc != IOTSEC_OK)
            return rc;
    }
    if (m->in_txn) {
        m->journal[m->pending].entry = idx;
        m->journal[m->pending].ctr = ctr;
        m->pending++;
        return IOTSEC_OK;
    }
    return iotsec_replay_commit(&m->table[idx].window, ctr);
}

static int mem_begin(void *ctx)
{
    iotsec_replay_mem *m = ctx;

    if (m->journal_len == 0)
        return IOTSEC_E_UNSUPPORTED;
    if (m->in_txn)
        return IOTSEC_E_STATE;
    m->in_txn = 1;
    m->pending = 0;
    return IOTSEC_OK;
}

/* Close the open transaction: entries it inserted are kept (commit) or freed (rollback). */
static void mem_end(iotsec_replay_mem *m, int keep)
{
    size_t i;

    for (i = 0; i < m->table_len; i++) {
        if (m->table[i].state != ENTRY_PENDING)
            continue;
        if (keep)
            m->table[i].state = ENTRY_COMMITTED;
        else
            memset(&m->table[i], 0, sizeof m->table[i]);
    }
    m->pending = 0;
    m->in_txn = 0;
}

static int mem_commit(void *ctx)
{
    iotsec_replay_mem *m = ctx;
    size_t i;
    int rc = IOTSEC_OK;

    if (!m->in_txn)
        return IOTSEC_E_STATE;
    /* in journal order, as check_and_commit saw them: each is fresh on the view that
     * includes the ones before it, so every commit succeeds */
    for (i = 0; i < m->pending; i++) {
        int r = iotsec_replay_commit(&m->table[m->journal[i].entry].window, m->journal[i].ctr);
        if (r != IOTSEC_OK && rc == IOTSEC_OK)
            rc = IOTSEC_E_STATE;
    }
    mem_end(m, 1);
    return rc;
}

static int mem_rollback(void *ctx)
{
    iotsec_replay_mem *m = ctx;

    if (!m->in_txn)
        return IOTSEC_E_STATE;
    mem_end(m, 0);
    return IOTSEC_OK;
}

static int mem_window(void *ctx, unsigned *window)
{
    *window = ((const iotsec_replay_mem *)ctx)->window;
    return IOTSEC_OK;
}

static const iotsec_replay_store_ops mem_ops = {mem_check,  mem_check_and_commit, mem_begin,
                                                mem_commit, mem_rollback,         mem_window};

int iotsec_replay_mem_init(iotsec_replay_mem *m, iotsec_replay_mem_entry *table,
                           size_t table_len, iotsec_replay_mem_intent *journal,
                           size_t journal_len, unsigned window)
{
    if (m == NULL || table == NULL || table_len == 0 || (journal == NULL && journal_len > 0) ||
        window > IOTSEC_REPLAY_MAX_WINDOW)
        return IOTSEC_E_INVALID_ARG;
    memset(m, 0, sizeof *m);
    memset(table, 0, table_len * sizeof *table);
    m->table = table;
    m->table_len = table_len;
    m->journal = journal;
    m->journal_len = journal_len;
    m->window = window;
    m->store.ops = &mem_ops;
    m->store.ctx = m;
    return IOTSEC_OK;
}

iotsec_replay_store *iotsec_replay_mem_store(iotsec_replay_mem *m)
{
    return m == NULL ? NULL : &m->store;
}
