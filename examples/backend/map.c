/*
 * iotsec-backend serve — per-device state of the server (server.h): a small chained hash
 * table keyed by (device id, kid) that holds cached frame keys (telemetry.c), token
 * buckets (the frame rate limit) and audit gates (audit.c), and the token bucket itself.
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t map_hash(const char *id, size_t id_len, int kid)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < id_len; i++)
        h = (h ^ (uint8_t)id[i]) * 16777619u;
    h = (h ^ (uint32_t)(kid + 1)) * 16777619u;
    return h % MAP_BUCKETS;
}

static struct map_entry *map_find(struct map *m, const char *id, size_t id_len, int kid)
{
    struct map_entry *e;

    for (e = m->b[map_hash(id, id_len, kid)]; e != NULL; e = e->next)
        if (e->kid == kid && e->id_len == id_len && memcmp(e->id, id, id_len) == 0)
            return e;
    return NULL;
}

struct map_entry *map_get(struct map *m, const char *id, size_t id_len, int kid)
{
    struct map_entry *e = map_find(m, id, id_len, kid);
    uint32_t h;

    if (e != NULL || id_len > BK_ID_MAX)
        return e;
    e = calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    memcpy(e->id, id, id_len);
    e->id_len = id_len;
    e->kid = kid;
    h = map_hash(id, id_len, kid);
    e->next = m->b[h];
    m->b[h] = e;
    return e;
}

void map_clear(struct map *m)
{
    size_t i;

    for (i = 0; i < MAP_BUCKETS; i++) {
        struct map_entry *e = m->b[i], *n;
        for (; e != NULL; e = n) {
            n = e->next;
            if (e->value != NULL && m->free_value != NULL)
                m->free_value(e->value);
            free(e);
        }
        m->b[i] = NULL;
    }
}

int bucket_take(struct bucket *b, double rate, double burst)
{
    double now = mono_now();

    b->tokens = b->last == 0 ? burst : b->tokens + (now - b->last) * rate;
    if (b->tokens > burst)
        b->tokens = burst;
    b->last = now;
    if (b->tokens < 1.0)
        return 0;
    b->tokens -= 1.0;
    return 1;
}
