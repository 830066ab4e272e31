/*
 * iotsec mosquitto plugin — topic patterns (plugin.h).
 *
 * A pattern is an MQTT filter (MQTT 5.0 §4.7) whose levels may be "%i", the identity of the
 * client being checked. Device ids are of [A-Za-z0-9._:@-] (docs/DESIGN.md §4), so an
 * identity never contains '/', '+', '#' or '$' and always fills exactly one level.
 *
 * "within" is containment, not matching: a subscription filter is allowed only when every
 * topic it can match is one the pattern matches, so "devices/+/cmd/#" is not within
 * "devices/%i/cmd/#", while "devices/<id>/cmd/+" is.
 */
#include "topic.h"

#include <string.h>

/* The next level of *s (up to '/' or the end): start and length; *s moves past the '/'.
 * *more is 0 after the last level. */
static void next_level(const char **s, int *more, const char **lv, size_t *len)
{
    const char *slash = strchr(*s, '/');

    *lv = *s;
    if (slash == NULL) {
        *len = strlen(*s);
        *s += *len;
        *more = 0;
    } else {
        *len = (size_t)(slash - *s);
        *s = slash + 1;
        *more = 1;
    }
}

static int level_is(const char *lv, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(lv, word, len) == 0;
}

int mq_topic_within(const char *filter, const char *pattern, const char *id)
{
    const char *f = filter, *pt = pattern, *fl, *pl;
    size_t flen, plen, idlen;
    int fmore = 1, pmore = 1, first = 1;

    if (filter == NULL || pattern == NULL || id == NULL)
        return 0;
    idlen = strlen(id);
    while (pmore) {
        next_level(&pt, &pmore, &pl, &plen);
        if (level_is(pl, plen, "#")) {
            /* covers the rest, whatever it is — but a wildcard never covers a '$' topic */
            return !(first && filter[0] == '$');
        }
        if (!fmore)
            return 0; /* the filter is shorter: it matches topics the pattern does not */
        next_level(&f, &fmore, &fl, &flen);
        if (level_is(fl, flen, "#"))
            return 0; /* only '#' covers '#' */
        if (level_is(pl, plen, "+")) {
            if (first && fl[0] == '$')
                return 0;
        } else if (level_is(pl, plen, "%i")) {
            if (flen != idlen || memcmp(fl, id, idlen) != 0)
                return 0; /* '+' in the filter is not the identity either */
        } else if (flen != plen || memcmp(fl, pl, plen) != 0 || level_is(fl, flen, "+")) {
            return 0;
        }
        first = 0;
    }
    return !fmore;
}

int mq_topic_within_any(const char *filter, const mq_patterns *p, const char *id)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        if (mq_topic_within(filter, p->v[i], id))
            return 1;
    return 0;
}

int mq_topic_capture(const char *topic, const char *pattern, char *id, size_t id_cap)
{
    const char *t = topic, *pt = pattern, *tl, *pl;
    size_t tlen, plen;
    int tmore = 1, pmore = 1, got = 0;

    if (topic == NULL || pattern == NULL || id == NULL || id_cap == 0 || topic[0] == '$')
        return 0;
    while (pmore) {
        next_level(&pt, &pmore, &pl, &plen);
        if (!tmore)
            return 0;
        next_level(&t, &tmore, &tl, &tlen);
        if (level_is(pl, plen, "%i")) {
            if (tlen == 0 || tlen >= id_cap || memchr(tl, '+', tlen) || memchr(tl, '#', tlen))
                return 0;
            memcpy(id, tl, tlen);
            id[tlen] = '\0';
            got = 1;
        } else if (tlen != plen || memcmp(tl, pl, plen) != 0) {
            return 0;
        }
    }
    if (tmore || !got) {
        id[0] = '\0';
        return 0;
    }
    return 1;
}

/* "%i" somewhere in lv[0..len) */
static int has_id_mark(const char *lv, size_t len)
{
    size_t i;

    for (i = 0; i + 1 < len; i++)
        if (lv[i] == '%' && lv[i + 1] == 'i')
            return 1;
    return 0;
}

int mq_pattern_valid(const char *pattern, int telemetry)
{
    const char *s = pattern, *lv;
    size_t len, ids = 0;
    int more = 1;

    if (pattern == NULL || pattern[0] == '\0' || strlen(pattern) > 1024)
        return 0;
    while (more) {
        next_level(&s, &more, &lv, &len);
        if (level_is(lv, len, "#")) {
            if (more || telemetry)
                return 0;
        } else if (level_is(lv, len, "+")) {
            if (telemetry)
                return 0;
        } else if (level_is(lv, len, "%i")) {
            ids++;
        } else if (memchr(lv, '+', len) || memchr(lv, '#', len) || has_id_mark(lv, len)) {
            return 0; /* a wildcard or %i inside a level */
        }
    }
    return telemetry ? ids == 1 : 1;
}
