/*
 * iotsec mosquitto plugin — the plugin_opt_* options (plugin.h; README.md lists them).
 *
 * Strict: an unknown option, a value out of range or a pattern that is not a valid filter
 * stops the broker at start (mosquitto refuses to run with a plugin whose init failed), so a
 * typo never leaves a broker running with a weaker policy than the one written.
 */
#include "plugin.h"

#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TELEMETRY "devices/%i/telemetry"
#define DEFAULT_SUBSCRIBE "devices/%i/cmd/#"
#define DEFAULT_OP_PUBLISH "devices/+/cmd/#"
#define DEFAULT_OP_SUBSCRIBE "devices/+/telemetry"

static int fail(char *err, size_t cap, int rc, const char *key, const char *what)
{
    snprintf(err, cap, "plugin_opt_%s: %s", key, what);
    return rc;
}

static int set_string(char **slot, const char *v)
{
    char *s = strdup(v);

    if (s == NULL)
        return IOTSEC_E_NO_MEMORY;
    free(*slot);
    *slot = s;
    return IOTSEC_OK;
}

static int parse_u64(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    return iotsec_parse_u64_dec(v, strlen(v), max, out) == IOTSEC_OK && *out >= min;
}

/* Append pattern v to list p; the first configured line replaces the default. */
static int add_pattern(mq_patterns *p, const char *v, int telemetry)
{
    size_t i;

    if (!mq_pattern_valid(v, telemetry))
        return IOTSEC_E_BAD_VALUE;
    if (!p->given) {
        for (i = 0; i < p->n; i++)
            free(p->v[i]);
        p->n = 0;
        p->given = 1;
    }
    if (p->n == MQ_MAX_PATTERNS)
        return IOTSEC_E_BAD_LENGTH;
    p->v[p->n] = strdup(v);
    if (p->v[p->n] == NULL)
        return IOTSEC_E_NO_MEMORY;
    p->n++;
    return IOTSEC_OK;
}

static int set_default(mq_patterns *p, const char *v)
{
    p->v[0] = strdup(v);
    if (p->v[0] == NULL)
        return IOTSEC_E_NO_MEMORY;
    p->n = 1;
    return IOTSEC_OK;
}

static int one(mq_options *o, const char *k, const char *v, char *err, size_t cap)
{
    uint64_t n;
    int rc;

    if (strcmp(k, "device_ca") == 0)
        rc = set_string(&o->ca_path, v);
    else if (strcmp(k, "database") == 0)
        rc = set_string(&o->db_path, v);
    else if (strcmp(k, "denylist") == 0)
        rc = set_string(&o->denylist_path, v);
    else if (strcmp(k, "audit_log") == 0)
        rc = set_string(&o->audit_path, v);
    else if (strcmp(k, "trust_domain") == 0)
        rc = set_string(&o->trust_domain, v);
    else if (strcmp(k, "crl") == 0) {
        if (o->crl_count == MQ_MAX_CRLS)
            return fail(err, cap, IOTSEC_E_INVALID_ARG, k, "at most 16 CRL files");
        rc = set_string(&o->crl_paths[o->crl_count], v);
        if (rc == IOTSEC_OK)
            o->crl_count++;
    } else if (strcmp(k, "crl_grace") == 0) {
        if (!parse_u64(v, 0, 31536000, &n))
            return fail(err, cap, IOTSEC_E_INVALID_ARG, k, "seconds, 0-31536000");
        o->crl_grace = (uint32_t)n;
        rc = IOTSEC_OK;
    } else if (strcmp(k, "identity") == 0) {
        if (strcmp(v, "cn") == 0)
            o->identity.source = IOTSEC_ID_CN;
        else if (strcmp(v, "san-uri") == 0)
            o->identity.source = IOTSEC_ID_SAN_URI;
        else if (strcmp(v, "san-dns") == 0)
            o->identity.source = IOTSEC_ID_SAN_DNS;
        else
            return fail(err, cap, IOTSEC_E_INVALID_ARG, k, "cn, san-uri or san-dns");
        rc = IOTSEC_OK;
    } else if (strcmp(k, "replay_window") == 0) {
        if (!parse_u64(v, 0, 1024, &n))
            return fail(err, cap, IOTSEC_E_INVALID_ARG, k, "0-1024 (the backend's --replay-window)");
        o->replay_window = (unsigned)n;
        rc = IOTSEC_OK;
    } else if (strcmp(k, "sync") == 0) {
        if (strcmp(v, "full") != 0 && strcmp(v, "normal") != 0)
            return fail(err, cap, IOTSEC_E_INVALID_ARG, k, "full or normal");
        o->sync_normal = strcmp(v, "normal") == 0;
        rc = IOTSEC_OK;
    } else if (strcmp(k, "audit_rate") == 0) {
        if (!parse_u64(v, 0, 1000000, &n))
            return fail(err, cap, IOTSEC_E_INVALID_ARG, k, "rows per second, 0-1000000 (0: no limit)");
        o->audit_rate = (double)n;
        rc = IOTSEC_OK;
    } else if (strcmp(k, "reload_interval") == 0) {
        if (!parse_u64(v, 1, 3600, &n))
            return fail(err, cap, IOTSEC_E_INVALID_ARG, k, "seconds, 1-3600");
        o->reload_interval = (unsigned)n;
        rc = IOTSEC_OK;
    } else if (strcmp(k, "max_payload") == 0) {
        if (!parse_u64(v, 64, IOTSEC_FRAME_JSON_MAX_LEN, &n))
            return fail(err, cap, IOTSEC_E_INVALID_ARG, k, "bytes, 64-131072");
        o->max_payload = (size_t)n;
        rc = IOTSEC_OK;
    } else if (strcmp(k, "telemetry_topic") == 0) {
        if (!mq_pattern_valid(v, 1))
            return fail(err, cap, IOTSEC_E_INVALID_ARG, k,
                        "a topic with exactly one %i level and no wildcard");
        rc = set_string(&o->telemetry_topic, v);
    } else if (strcmp(k, "publish") == 0 || strcmp(k, "subscribe") == 0 ||
               strcmp(k, "operator_publish") == 0 || strcmp(k, "operator_subscribe") == 0) {
        mq_patterns *p = strcmp(k, "publish") == 0     ? &o->publish
                         : strcmp(k, "subscribe") == 0 ? &o->subscribe
                         : strcmp(k, "operator_publish") == 0 ? &o->op_publish
                                                              : &o->op_subscribe;
        rc = add_pattern(p, v, 0);
        if (rc == IOTSEC_E_BAD_VALUE)
            return fail(err, cap, IOTSEC_E_INVALID_ARG, k,
                        "not a topic filter ('+' and '#' alone in a level, '#' last, %i a whole level)");
        if (rc == IOTSEC_E_BAD_LENGTH)
            return fail(err, cap, IOTSEC_E_INVALID_ARG, k, "at most 32 patterns");
    } else if (strcmp(k, "operator") == 0) {
        if (iotsec_device_id_check(v, strlen(v)) != IOTSEC_OK)
            return fail(err, cap, IOTSEC_E_INVALID_ARG, k,
                        "an identity: 1-64 characters of [A-Za-z0-9._:@-]");
        if (o->operator_count == MQ_MAX_OPERATORS)
            return fail(err, cap, IOTSEC_E_INVALID_ARG, k, "at most 64 operators");
        rc = set_string(&o->operators[o->operator_count], v);
        if (rc == IOTSEC_OK)
            o->operator_count++;
    } else {
        return fail(err, cap, IOTSEC_E_INVALID_ARG, k, "unknown option");
    }
    if (rc == IOTSEC_E_NO_MEMORY)
        return fail(err, cap, rc, k, "out of memory");
    return rc;
}

int mq_options_parse(mq_options *o, const struct mosquitto_opt *opts, int count, char *err,
                     size_t err_cap)
{
    int i, rc = IOTSEC_OK;

    memset(o, 0, sizeof *o);
    o->identity.source = IOTSEC_ID_CN;
    o->replay_window = IOTSEC_REPLAY_DEFAULT_WINDOW;
    o->audit_rate = 20;
    o->reload_interval = 1;
    o->max_payload = IOTSEC_FRAME_JSON_MAX_LEN;
    if (set_string(&o->telemetry_topic, DEFAULT_TELEMETRY) != IOTSEC_OK ||
        set_default(&o->publish, DEFAULT_TELEMETRY) != IOTSEC_OK ||
        set_default(&o->subscribe, DEFAULT_SUBSCRIBE) != IOTSEC_OK ||
        set_default(&o->op_publish, DEFAULT_OP_PUBLISH) != IOTSEC_OK ||
        set_default(&o->op_subscribe, DEFAULT_OP_SUBSCRIBE) != IOTSEC_OK) {
        snprintf(err, err_cap, "out of memory");
        rc = IOTSEC_E_NO_MEMORY;
    }
    for (i = 0; rc == IOTSEC_OK && i < count; i++) {
        if (opts[i].key == NULL || opts[i].value == NULL) {
            snprintf(err, err_cap, "an option without a value");
            rc = IOTSEC_E_INVALID_ARG;
        } else {
            rc = one(o, opts[i].key, opts[i].value, err, err_cap);
        }
    }
    if (rc == IOTSEC_OK && (o->ca_path == NULL || o->db_path == NULL)) {
        snprintf(err, err_cap, "plugin_opt_device_ca and plugin_opt_database are required");
        rc = IOTSEC_E_INVALID_ARG;
    }
    if (rc == IOTSEC_OK && o->trust_domain != NULL && o->identity.source != IOTSEC_ID_SAN_URI) {
        snprintf(err, err_cap, "plugin_opt_trust_domain needs plugin_opt_identity san-uri");
        rc = IOTSEC_E_INVALID_ARG;
    }
    if (rc != IOTSEC_OK) {
        mq_options_free(o);
        return rc;
    }
    o->identity.trust_domain = o->trust_domain;
    return IOTSEC_OK;
}

static void patterns_free(mq_patterns *p)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        free(p->v[i]);
    memset(p, 0, sizeof *p);
}

void mq_options_free(mq_options *o)
{
    size_t i;

    free(o->ca_path);
    free(o->db_path);
    for (i = 0; i < o->crl_count; i++)
        free(o->crl_paths[i]);
    free(o->denylist_path);
    free(o->trust_domain);
    free(o->audit_path);
    free(o->telemetry_topic);
    patterns_free(&o->publish);
    patterns_free(&o->subscribe);
    patterns_free(&o->op_publish);
    patterns_free(&o->op_subscribe);
    for (i = 0; i < o->operator_count; i++)
        free(o->operators[i]);
    memset(o, 0, sizeof *o);
}
