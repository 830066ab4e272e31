/*
 * iotsec mosquitto plugin — entry points and event callbacks (plugin.h, README.md).
 *
 * Where each decision is taken, in mosquitto 2.0's order of events:
 *
 *   CONNECT      MOSQ_EVT_BASIC_AUTH (mosquitto_unpwd_check; not called on a listener with
 *                use_identity_as_username or use_subject_as_username, which the plugin then
 *                refuses at every ACL check): the client certificate
 *                (mosquitto_client_certificate) through iotsec_tls_check_cert — chain to
 *                the device CA, identity per plugin_opt_identity, revocation against the
 *                current set —, the client id equal to the identity byte for byte, the
 *                device registered and enabled (operators: listed instead). Admitted
 *                clients enter the table (identity, serial, fingerprint, notAfter).
 *   SUBSCRIBE    MOSQ_EVT_ACL_CHECK (MOSQ_ACL_SUBSCRIBE): the filter lies within one of the
 *                client's subscribe patterns.
 *   PUBLISH      MOSQ_EVT_ACL_CHECK (MOSQ_ACL_WRITE): the topic lies within a publish
 *                pattern; on a telemetry topic the frame is verified and its counter
 *                committed (frames.c). mosquitto calls the write check with the payload
 *                right before MOSQ_EVT_MESSAGE for a PUBLISH, and alone for a will, so
 *                checking here covers wills too. Then MOSQ_EVT_MESSAGE: a telemetry
 *                message must be the one the write check just verified, else it is
 *                verified again (which a committed frame fails as a replay). A refusal in
 *                either returns MOSQ_ERR_ACL_DENIED: mosquitto 2.0.11 drops the message
 *                before it is queued for any subscriber and answers QoS 1/2 with reason
 *                0x87 (not authorized) on MQTT 5 (handle__publish, process_bad_message).
 *   DELIVERY     MOSQ_EVT_ACL_CHECK (MOSQ_ACL_READ): the topic lies within a subscribe
 *                pattern of the receiving client.
 *   TICK         (at least every 100 ms) every plugin_opt_reload_interval seconds: the CRL
 *                and denylist files' stat() compared; on a change iotsec_revocation_reload
 *                swaps the set in and reports which connected identities it revokes; those
 *                clients are disconnected (mosquitto_kick_client_by_clientid, without
 *                will). Clients past their certificate's notAfter, and every client while
 *                the set is stale (a CRL past nextUpdate + grace), are disconnected too.
 *   SIGHUP       MOSQ_EVT_RELOAD: the same reload, whatever the files' stamps.
 *   DISCONNECT   MOSQ_EVT_DISCONNECT: the client leaves the table.
 *
 * Every check of an admitted client also checks its certificate against the current set and
 * its notAfter, so a reload applies at once even before the tick disconnects the client.
 */
#include "plugin.h"

#include <errno.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the client table --------------------------------------------------------------------- */

static size_t bucket_of(const struct mosquitto *client)
{
    uintptr_t v = (uintptr_t)client;

    return (size_t)((v >> 4) ^ (v >> 14)) % MQ_CLIENT_BUCKETS;
}

static mq_client *client_find(mq_plugin *p, const struct mosquitto *client)
{
    mq_client *c;

    for (c = p->clients[bucket_of(client)]; c != NULL; c = c->next)
        if (c->client == client)
            return c;
    return NULL;
}

static void client_remove(mq_plugin *p, const struct mosquitto *client)
{
    mq_client **pp = &p->clients[bucket_of(client)], *c;

    while ((c = *pp) != NULL) {
        if (c->client == client) {
            *pp = c->next;
            mq_audit_flush(p, &c->gate, c->id.device_id);
            iotsec_zeroize(c, sizeof *c);
            free(c);
            p->nclients--;
            return;
        }
        pp = &c->next;
    }
}

/* Call fn for every admitted client (fn must not add or remove clients). */
static void clients_each(mq_plugin *p, void (*fn)(mq_plugin *, mq_client *, void *), void *arg)
{
    size_t b;
    mq_client *c;

    for (b = 0; b < MQ_CLIENT_BUCKETS; b++)
        for (c = p->clients[b]; c != NULL; c = c->next)
            fn(p, c, arg);
}

static int is_operator(const mq_plugin *p, const char *id)
{
    size_t i;

    for (i = 0; i < p->opt.operator_count; i++)
        if (strcmp(p->opt.operators[i], id) == 0)
            return 1;
    return 0;
}

static void supersede(mq_plugin *p, mq_client *c, void *arg)
{
    (void)p;
    if (strcmp(c->id.device_id, (const char *)arg) == 0)
        c->superseded = 1;
}

/* ---- connect ------------------------------------------------------------------------------- */

static void copy_peer(char *out, size_t cap, const struct mosquitto *client)
{
    const char *a = mosquitto_client_address(client);

    snprintf(out, cap, "%s", a != NULL ? a : "");
}

/* The certificate's notAfter as Unix seconds (0 when unreadable). */
static int64_t cert_not_after(X509 *cert, int64_t now)
{
    int days = 0, secs = 0;

    if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)) != 1)
        return 0;
    return now + (int64_t)days * 86400 + secs;
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
    struct mosquitto_evt_basic_auth *ed = event_data;
    mq_plugin *p = userdata;
    struct mosquitto *client = ed->client;
    const char *cid = mosquitto_client_id(client);
    iotsec_tls_verdict v;
    char peer[64], code[48];
    int64_t now = mq_now(), not_after;
    mq_device dev;
    mq_client *c;
    X509 *cert;
    int rc, found = 0, enabled = 0, op;

    (void)event;
    copy_peer(peer, sizeof peer, client);
    cert = mosquitto_client_certificate(client);
    if (cert == NULL) {
        mq_audit(p, &p->anon_gate, peer, NULL, "handshake_failed",
                 "no client certificate (client id %s)", cid != NULL ? cid : "");
        return MOSQ_ERR_AUTH;
    }
    memset(&v, 0, sizeof v);
    rc = iotsec_tls_check_cert(&p->policy, cert, now, &v);
    not_after = rc == IOTSEC_OK ? cert_not_after(cert, now) : 0;
    X509_free(cert);
    if (rc != IOTSEC_OK) {
        /* as the backend: a revocation names a verified identity (the chain verified before
         * revocation was checked); any other refusal names one nobody vouches for */
        int verified = rc == IOTSEC_E_REVOKED && v.reason != IOTSEC_REVOKED_NONE;
        mq_audit(p, &p->anon_gate, peer, v.have_identity ? v.identity.device_id : NULL,
                 verified ? "revoked" : "handshake_failed", "%s: %s%s",
                 mq_error_code(rc, code, sizeof code), v.detail,
                 v.have_identity && !verified ? " (device id unverified)" : "");
        return MOSQ_ERR_AUTH;
    }
    if (not_after == 0) {
        mq_audit(p, &p->anon_gate, peer, v.identity.device_id, "handshake_failed",
                 "certificate notAfter unreadable");
        return MOSQ_ERR_AUTH;
    }
    if (cid == NULL || strcmp(cid, v.identity.device_id) != 0) {
        mq_audit(p, &p->anon_gate, peer, v.identity.device_id, "identity_mismatch",
                 "client id %s is not the certificate identity %s", cid != NULL ? cid : "",
                 v.identity.device_id);
        return MOSQ_ERR_AUTH;
    }
    op = is_operator(p, v.identity.device_id);
    if (!op) {
        rc = mq_store_device(p, v.identity.device_id, v.identity.device_id_len, &dev, &found);
        enabled = found && dev.enabled;
        iotsec_zeroize(&dev, sizeof dev); /* only registration matters here */
        if (rc != IOTSEC_OK) {
            mq_audit(p, NULL, peer, v.identity.device_id, "internal",
                     "device lookup failed (%s)", mq_error_code(rc, code, sizeof code));
            return MOSQ_ERR_AUTH;
        }
        if (!enabled) {
            mq_audit(p, &p->anon_gate, peer, v.identity.device_id,
                     found ? "device_disabled" : "unknown_device", "device %s is %s",
                     v.identity.device_id, found ? "disabled" : "not registered");
            return MOSQ_ERR_AUTH;
        }
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        mq_audit(p, NULL, peer, v.identity.device_id, "internal", "out of memory");
        return MOSQ_ERR_AUTH;
    }
    /* a new connection with the same client id takes over the old one's session (mosquitto
     * then disconnects it, publishing its will first): from now on the old one is refused */
    clients_each(p, supersede, v.identity.device_id);
    client_remove(p, client);
    c->client = client;
    c->id = v.identity;
    c->not_after = not_after;
    c->is_operator = op;
    memcpy(c->peer, peer, sizeof c->peer);
    c->next = p->clients[bucket_of(client)];
    p->clients[bucket_of(client)] = c;
    p->nclients++;
    return MOSQ_ERR_SUCCESS;
}

static int on_disconnect(int event, void *event_data, void *userdata)
{
    struct mosquitto_evt_disconnect *ed = event_data;
    mq_plugin *p = userdata;

    (void)event;
    client_remove(p, ed->client);
    return MOSQ_ERR_SUCCESS;
}

/* ---- topics and messages ------------------------------------------------------------------- */

/* Is c's certificate still good now: not revoked by the current set (which is not stale),
 * not past its notAfter? On refusal *event and the detail say why. */
static int still_valid(mq_plugin *p, const mq_client *c, const char **event, char *detail,
                       size_t cap)
{
    iotsec_revocation *rs = iotsec_revocation_holder_get(p->holder);
    iotsec_revocation_reason reason = IOTSEC_REVOKED_NONE;
    int64_t now = mq_now();
    int rc;

    rc = rs != NULL ? iotsec_revocation_check(rs, &c->id, now, &reason) : IOTSEC_E_STATE;
    iotsec_revocation_unref(rs);
    if (rc == IOTSEC_E_REVOKED) {
        *event = "revoked";
        snprintf(detail, cap, "certificate refused (%s)", iotsec_revocation_reason_name((int)reason));
        return 0;
    }
    if (rc != IOTSEC_OK) {
        *event = "expired";
        snprintf(detail, cap, "revocation set refused the check (%s): a CRL is stale",
                 iotsec_error_name(rc));
        return 0;
    }
    if (now > c->not_after) {
        *event = "expired";
        snprintf(detail, cap, "certificate expired %lld s ago", (long long)(now - c->not_after));
        return 0;
    }
    return 1;
}

static const char *access_name(int access)
{
    switch (access) {
    case MOSQ_ACL_READ: return "receive";
    case MOSQ_ACL_WRITE: return "publish";
    case MOSQ_ACL_SUBSCRIBE: return "subscribe";
    default: return "unsubscribe";
    }
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
    struct mosquitto_evt_acl_check *ed = event_data;
    mq_plugin *p = userdata;
    mq_client *c = client_find(p, ed->client);
    const mq_patterns *pub, *sub;
    char detail[MQ_DETAIL_MAX], tid[IOTSEC_DEVICE_ID_MAX + 1], peer[64];
    const char *why = NULL;
    int audited = ed->access == MOSQ_ACL_WRITE || ed->access == MOSQ_ACL_SUBSCRIBE;

    (void)event;
    /* a new check: whatever the previous write check verified is no longer pending */
    p->verified_client = NULL;
    p->verified_payload = NULL;
    p->verified_len = 0;
    if (ed->topic == NULL)
        return MOSQ_ERR_ACL_DENIED;
    if (c == NULL || c->superseded) {
        if (audited) {
            copy_peer(peer, sizeof peer, ed->client);
            mq_audit(p, &p->anon_gate, peer, NULL, "handshake_failed",
                     "%s on %s by a client the plugin did not admit (%s)",
                     access_name(ed->access), ed->topic,
                     c != NULL ? "its session was taken over" : "no certificate check");
        }
        return MOSQ_ERR_ACL_DENIED;
    }
    if (ed->access == MOSQ_ACL_UNSUBSCRIBE)
        return MOSQ_ERR_SUCCESS;
    if (!still_valid(p, c, &why, detail, sizeof detail)) {
        if (audited)
            mq_audit(p, &c->gate, c->peer, c->id.device_id, why, "%s on %s: %s",
                     access_name(ed->access), ed->topic, detail);
        return MOSQ_ERR_ACL_DENIED;
    }
    pub = c->is_operator ? &p->opt.op_publish : &p->opt.publish;
    sub = c->is_operator ? &p->opt.op_subscribe : &p->opt.subscribe;
    switch (ed->access) {
    case MOSQ_ACL_READ:
        return mq_topic_within_any(ed->topic, sub, c->id.device_id) ? MOSQ_ERR_SUCCESS
                                                                    : MOSQ_ERR_ACL_DENIED;
    case MOSQ_ACL_SUBSCRIBE:
        if (mq_topic_within_any(ed->topic, sub, c->id.device_id))
            return MOSQ_ERR_SUCCESS;
        mq_audit(p, &c->gate, c->peer, c->id.device_id, "topic_denied",
                 "subscribe to %s not allowed", ed->topic);
        return MOSQ_ERR_ACL_DENIED;
    case MOSQ_ACL_WRITE:
        if (!mq_topic_within_any(ed->topic, pub, c->id.device_id)) {
            mq_audit(p, &c->gate, c->peer, c->id.device_id, "topic_denied",
                     "publish to %s not allowed", ed->topic);
            return MOSQ_ERR_ACL_DENIED;
        }
        if (!mq_topic_capture(ed->topic, p->opt.telemetry_topic, tid, sizeof tid))
            return MOSQ_ERR_SUCCESS;
        if (mq_telemetry_verify(p, c, ed->topic, tid, ed->payload, ed->payloadlen,
                                ed->retain) != IOTSEC_OK)
            return MOSQ_ERR_ACL_DENIED;
        p->verified_client = ed->client;
        p->verified_payload = ed->payload;
        p->verified_len = ed->payloadlen;
        return MOSQ_ERR_SUCCESS;
    default:
        return MOSQ_ERR_ACL_DENIED;
    }
}

static int on_message(int event, void *event_data, void *userdata)
{
    struct mosquitto_evt_message *ed = event_data;
    mq_plugin *p = userdata;
    char tid[IOTSEC_DEVICE_ID_MAX + 1];
    int paired = p->verified_client != NULL && p->verified_client == ed->client &&
                 p->verified_payload == ed->payload && p->verified_len == ed->payloadlen;
    mq_client *c;

    (void)event;
    p->verified_client = NULL;
    p->verified_payload = NULL;
    p->verified_len = 0;
    if (ed->topic == NULL)
        return MOSQ_ERR_ACL_DENIED;
    if (!mq_topic_capture(ed->topic, p->opt.telemetry_topic, tid, sizeof tid) || paired)
        return MOSQ_ERR_SUCCESS;
    /* a telemetry message the write check did not just verify (mosquitto always runs the
     * check first, so this is a safety net): verify it now */
    c = client_find(p, ed->client);
    if (c == NULL || c->superseded)
        return MOSQ_ERR_ACL_DENIED;
    return mq_telemetry_verify(p, c, ed->topic, tid, ed->payload, ed->payloadlen,
                               ed->retain) == IOTSEC_OK
               ? MOSQ_ERR_SUCCESS
               : MOSQ_ERR_ACL_DENIED;
}

/* ---- revocation reload, expiry, disconnection ---------------------------------------------- */

/* Clients to disconnect: their ids (copied: a kick runs MOSQ_EVT_DISCONNECT, which frees
 * the entry), event and detail for the audit. */
typedef struct kick_list {
    struct kick {
        char id[IOTSEC_DEVICE_ID_MAX + 1];
        char peer[64];
        const char *event;
        char detail[128];
    } *v;
    size_t n, cap;
} kick_list;

static void kick_add(kick_list *k, mq_client *c, const char *event, const char *detail)
{
    struct kick *e;

    c->superseded = 1; /* refused from now on, whether or not the kick succeeds */
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 16;
        struct kick *v = realloc(k->v, cap * sizeof *v);
        if (v == NULL)
            return;
        k->v = v;
        k->cap = cap;
    }
    e = &k->v[k->n++];
    memcpy(e->id, c->id.device_id, sizeof e->id);
    memcpy(e->peer, c->peer, sizeof e->peer);
    e->event = event;
    snprintf(e->detail, sizeof e->detail, "%s", detail);
}

static void kick_all(mq_plugin *p, kick_list *k)
{
    size_t i;

    for (i = 0; i < k->n; i++) {
        int rc = mosquitto_kick_client_by_clientid(k->v[i].id, false);
        mq_audit(p, NULL, k->v[i].peer, k->v[i].id, k->v[i].event, "%s%s", k->v[i].detail,
                 rc == MOSQ_ERR_SUCCESS ? "" : " (already gone)");
    }
    free(k->v);
    memset(k, 0, sizeof *k);
}

typedef struct reload_ctx {
    iotsec_peer_identity *ids;
    mq_client **who;
    size_t n;
} reload_ctx;

static void collect(mq_plugin *p, mq_client *c, void *arg)
{
    reload_ctx *r = arg;

    (void)p;
    if (c->superseded)
        return;
    r->ids[r->n] = c->id;
    r->who[r->n++] = c;
}

static void revocation_config(const mq_plugin *p, iotsec_revocation_config *rc)
{
    memset(rc, 0, sizeof *rc);
    rc->ca = p->ca;
    rc->crl_paths = (const char *const *)p->opt.crl_paths;
    rc->crl_count = p->opt.crl_count;
    rc->denylist_path = p->opt.denylist_path;
    rc->grace_seconds = p->opt.crl_grace;
}

static void reload(mq_plugin *p, const char *why)
{
    iotsec_revocation_config cfg;
    iotsec_revocation_error err = {NULL, 0};
    reload_ctx r = {NULL, NULL, 0};
    kick_list k = {NULL, 0, 0};
    uint8_t *revoked = NULL;
    size_t nrev = 0, i, n = p->nclients;
    char code[48], detail[128];
    int rc;

    if (n > 0) {
        r.ids = calloc(n, sizeof *r.ids);
        r.who = calloc(n, sizeof *r.who);
        revoked = calloc(n, 1);
        if (r.ids == NULL || r.who == NULL || revoked == NULL) {
            mq_audit(p, NULL, NULL, NULL, "reload_failed", "%s: out of memory", why);
            goto out;
        }
        clients_each(p, collect, &r);
    }
    revocation_config(p, &cfg);
    rc = iotsec_revocation_reload(p->holder, &cfg, mq_now(), r.ids, r.n, revoked, &nrev, &err);
    if (rc != IOTSEC_OK) {
        mq_audit(p, NULL, NULL, NULL, "reload_failed",
                 "%s: %s (%s, line %zu): %s; the previous revocation set stays in force", why,
                 mq_error_code(rc, code, sizeof code), err.path ? err.path : "-", err.line,
                 iotsec_strerror(rc));
        goto out;
    }
    {
        iotsec_revocation *rs = iotsec_revocation_holder_get(p->holder);
        mq_audit(p, NULL, NULL, NULL, "reload",
                 "%s: %zu revoked serials, %zu denylist entries, %zu connected clients revoked",
                 why, iotsec_revocation_serial_count(rs), iotsec_revocation_denylist_count(rs),
                 nrev);
        iotsec_revocation_unref(rs);
    }
    for (i = 0; i < r.n; i++) {
        if (revoked[i] == 0)
            continue;
        snprintf(detail, sizeof detail, "connected client disconnected after reload (%s)",
                 iotsec_revocation_reason_name(revoked[i]));
        kick_add(&k, r.who[i], "revoked", detail);
    }
    kick_all(p, &k);
out:
    free(r.ids);
    free(r.who);
    free(revoked);
}

static void sweep_one(mq_plugin *p, mq_client *c, void *arg)
{
    char detail[MQ_DETAIL_MAX];
    const char *why = NULL;

    if (c->superseded || still_valid(p, c, &why, detail, sizeof detail))
        return;
    kick_add(arg, c, why, detail);
}

/* Disconnect every client whose certificate is no longer good (expired, or revoked by a set
 * that went stale: fail closed). */
static void sweep(mq_plugin *p)
{
    kick_list k = {NULL, 0, 0};

    clients_each(p, sweep_one, &k);
    kick_all(p, &k);
}

static int stamp_changed(mq_stamp *st, const char *path)
{
    mq_stamp now;

    memset(&now, 0, sizeof now);
    now.exists = stat(path, &now.st) == 0;
    if (now.exists == st->exists &&
        (!now.exists ||
         (now.st.st_ino == st->st.st_ino && now.st.st_dev == st->st.st_dev &&
          now.st.st_size == st->st.st_size &&
          now.st.st_mtim.tv_sec == st->st.st_mtim.tv_sec &&
          now.st.st_mtim.tv_nsec == st->st.st_mtim.tv_nsec &&
          now.st.st_ctim.tv_sec == st->st.st_ctim.tv_sec &&
          now.st.st_ctim.tv_nsec == st->st.st_ctim.tv_nsec)))
        return 0;
    *st = now;
    return 1;
}

static int stamps_changed(mq_plugin *p)
{
    int changed = 0;
    size_t i;

    for (i = 0; i < p->opt.crl_count; i++)
        changed |= stamp_changed(&p->crl_stamp[i], p->opt.crl_paths[i]);
    if (p->opt.denylist_path != NULL)
        changed |= stamp_changed(&p->deny_stamp, p->opt.denylist_path);
    return changed;
}

static void flush_one(mq_plugin *p, mq_client *c, void *arg)
{
    (void)arg;
    mq_audit_flush(p, &c->gate, c->id.device_id);
}

static int on_tick(int event, void *event_data, void *userdata)
{
    mq_plugin *p = userdata;
    double now = mq_mono();

    (void)event;
    (void)event_data;
    if (now >= p->next_flush) {
        mq_audit_flush(p, &p->anon_gate, NULL);
        clients_each(p, flush_one, NULL);
        p->next_flush = now + 1.0;
    }
    if (now < p->next_poll)
        return MOSQ_ERR_SUCCESS;
    p->next_poll = now + (double)p->opt.reload_interval;
    if (stamps_changed(p))
        reload(p, "revocation files changed");
    sweep(p);
    return MOSQ_ERR_SUCCESS;
}

static int on_reload(int event, void *event_data, void *userdata)
{
    mq_plugin *p = userdata;

    (void)event;
    (void)event_data;
    if (p->opt.audit_path != NULL && mq_audit_open(p) != IOTSEC_OK)
        mosquitto_log_printf(MOSQ_LOG_ERR, "iotsec plugin: cannot reopen the audit log %s: %s; "
                             "still writing to the previous file", p->opt.audit_path,
                             strerror(errno));
    (void)stamps_changed(p);
    reload(p, "SIGHUP");
    sweep(p);
    return MOSQ_ERR_SUCCESS;
}

/* ---- plugin entry points ------------------------------------------------------------------- */

static const struct {
    int event;
    MOSQ_FUNC_generic_callback cb;
} callbacks[] = {
    {MOSQ_EVT_BASIC_AUTH, on_basic_auth}, {MOSQ_EVT_ACL_CHECK, on_acl_check},
    {MOSQ_EVT_MESSAGE, on_message},       {MOSQ_EVT_DISCONNECT, on_disconnect},
    {MOSQ_EVT_TICK, on_tick},             {MOSQ_EVT_RELOAD, on_reload},
};
#define N_CALLBACKS (sizeof callbacks / sizeof callbacks[0])

static void plugin_free(mq_plugin *p, size_t registered)
{
    size_t b, i;

    for (i = 0; i < registered; i++)
        (void)mosquitto_callback_unregister(p->pid, callbacks[i].event, callbacks[i].cb, NULL);
    for (b = 0; b < MQ_CLIENT_BUCKETS; b++) {
        while (p->clients[b] != NULL) {
            mq_client *c = p->clients[b];
            p->clients[b] = c->next;
            iotsec_zeroize(c, sizeof *c);
            free(c);
        }
    }
    mq_store_close(p);
    iotsec_revocation_holder_free(p->holder);
    X509_free(p->ca);
    if (p->audit_fd >= 0)
        close(p->audit_fd);
    mq_options_free(&p->opt);
    iotsec_zeroize(p, sizeof *p);
    free(p);
}

static int init_fail(mq_plugin *p, size_t registered, const char *msg)
{
    mosquitto_log_printf(MOSQ_LOG_ERR, "iotsec plugin: %s", msg);
    plugin_free(p, registered);
    return MOSQ_ERR_INVAL;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
    int i;

    for (i = 0; i < supported_version_count; i++)
        if (supported_versions[i] == 5)
            return 5;
    return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
                          struct mosquitto_opt *options, int option_count)
{
    iotsec_revocation_config cfg;
    iotsec_revocation_error rerr = {NULL, 0};
    iotsec_revocation *rs = NULL;
    char err[512];
    mq_plugin *p;
    size_t i;
    int rc;

    p = calloc(1, sizeof *p);
    if (p == NULL)
        return MOSQ_ERR_NOMEM;
    p->pid = identifier;
    p->audit_fd = -1;
    if (mq_options_parse(&p->opt, options, option_count, err, sizeof err) != IOTSEC_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "iotsec plugin: %s", err);
        free(p);
        return MOSQ_ERR_INVAL;
    }
    p->crypto = iotsec_crypto_default();
    if (p->crypto == NULL)
        return init_fail(p, 0, "no crypto backend");
    rc = iotsec_x509_cert_load_file(p->opt.ca_path, &p->ca);
    if (rc != IOTSEC_OK) {
        snprintf(err, sizeof err, "plugin_opt_device_ca %s: %s", p->opt.ca_path, iotsec_strerror(rc));
        return init_fail(p, 0, err);
    }
    revocation_config(p, &cfg);
    (void)stamps_changed(p);
    rc = iotsec_revocation_load(&rs, &cfg, mq_now(), &rerr);
    if (rc != IOTSEC_OK) {
        snprintf(err, sizeof err, "revocation: %s line %zu: %s", rerr.path ? rerr.path : "(set)",
                 rerr.line, iotsec_strerror(rc));
        return init_fail(p, 0, err);
    }
    rc = iotsec_revocation_holder_new(&p->holder, rs);
    iotsec_revocation_unref(rs);
    if (rc != IOTSEC_OK)
        return init_fail(p, 0, "revocation holder: out of memory");
    p->policy.ca = p->ca;
    p->policy.revocation = p->holder;
    p->policy.identity = p->opt.identity;
    if (mq_store_open(p, err, sizeof err) != IOTSEC_OK)
        return init_fail(p, 0, err);
    if (p->opt.audit_path != NULL) {
        if (mq_audit_open(p) != IOTSEC_OK) {
            snprintf(err, sizeof err, "plugin_opt_audit_log %s: %s", p->opt.audit_path,
                     strerror(errno));
            return init_fail(p, 0, err);
        }
    }
    for (i = 0; i < N_CALLBACKS; i++) {
        if (mosquitto_callback_register(identifier, callbacks[i].event, callbacks[i].cb, NULL, p) !=
            MOSQ_ERR_SUCCESS)
            return init_fail(p, i, "cannot register the event callbacks");
    }
    p->next_poll = mq_mono() + (double)p->opt.reload_interval;
    p->next_flush = mq_mono() + 1.0;
    *userdata = p;
    mq_audit(p, NULL, NULL, NULL, "start",
             "iotsec plugin (libiotsec %s): database %s, %zu CRL files%s, identity %s, "
             "%zu operators", IOTSEC_VERSION_STRING, p->opt.db_path, p->opt.crl_count,
             p->opt.denylist_path != NULL ? ", denylist" : "",
             p->opt.identity.source == IOTSEC_ID_CN       ? "cn"
             : p->opt.identity.source == IOTSEC_ID_SAN_URI ? "san-uri"
                                                           : "san-dns",
             p->opt.operator_count);
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
    mq_plugin *p = userdata;

    (void)options;
    (void)option_count;
    if (p == NULL)
        return MOSQ_ERR_SUCCESS;
    mq_audit(p, NULL, NULL, NULL, "stop", "broker stopping, %zu clients admitted", p->nclients);
    plugin_free(p, N_CALLBACKS);
    return MOSQ_ERR_SUCCESS;
}
