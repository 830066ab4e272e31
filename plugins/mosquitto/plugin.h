/*
 * iotsec mosquitto plugin — shared declarations (docs/DESIGN.md §13, plugins/mosquitto/README.md).
 *
 * A mosquitto 2.x plugin (plugin API v5) that applies the backend's policy inside the
 * broker. Every security decision is a libiotsec call; the plugin maps mosquitto events to
 * those calls, keeps the table of connected clients and writes the audit trail:
 *
 *   MOSQ_EVT_BASIC_AUTH   certificate → iotsec_tls_check_cert (chain to the device CA,
 *                         identity, revocation); client id = identity; device registered
 *                         and enabled in the backend's database (operators excepted)
 *   MOSQ_EVT_ACL_CHECK    topic patterns per identity; a write on a telemetry topic carries
 *                         a frame that opens for the device through the backend's replay
 *                         store (iotsec_frame_open_stored / _json_stored /
 *                         iotsec_ecowatt_open_stored), committed before the broker goes on
 *   MOSQ_EVT_MESSAGE      a telemetry PUBLISH must be the one the ACL check just verified
 *                         (else it is verified here, which refuses it as a replay)
 *   MOSQ_EVT_TICK         revocation files polled; a reload disconnects every client whose
 *                         certificate the new set revokes; expired certificates disconnected
 *   MOSQ_EVT_RELOAD       (SIGHUP) revocation reloaded
 *   MOSQ_EVT_DISCONNECT   the client leaves the table
 *
 * mosquitto runs every callback in its one thread, so the plugin's state needs no lock.
 */
#ifndef IOTSEC_MQTT_PLUGIN_H
#define IOTSEC_MQTT_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "iotsec/iotsec.h"
#include "iotsec/replay_sqlite.h"
#include "topic.h"

struct mosquitto;
struct sqlite3_stmt;

#define MQ_MAX_CRLS 16u         /* plugin_opt_crl lines */
#define MQ_MAX_OPERATORS 64u    /* plugin_opt_operator lines */
#define MQ_DETAIL_MAX 256u      /* audit detail, bytes with NUL */
#define MQ_CLIENT_BUCKETS 1024u /* hash buckets of the client table */
#define MQ_SECRET_LEN 32u       /* frame master secret (backend device_keys.secret) */
#define MQ_LEGACY_MAC_LEN 32u   /* EcoWatt raw MAC key (backend devices.legacy_mac_key) */
#define MQ_LEGACY_ENC_LEN 16u   /* EcoWatt raw AES-128 key (backend devices.legacy_enc_key) */

/* The plugin_opt_* options (README.md lists them with their defaults). Strings are owned. */
typedef struct mq_options {
    char *ca_path;
    char *db_path;
    char *crl_paths[MQ_MAX_CRLS];
    size_t crl_count;
    char *denylist_path;
    uint32_t crl_grace;
    iotsec_identity_policy identity; /* trust_domain points at trust_domain below */
    char *trust_domain;
    unsigned replay_window;
    int sync_normal;
    char *audit_path;
    double audit_rate;
    unsigned reload_interval; /* seconds */
    char *telemetry_topic;
    mq_patterns publish, subscribe, op_publish, op_subscribe;
    char *operators[MQ_MAX_OPERATORS];
    size_t operator_count;
    size_t max_payload; /* bytes of a telemetry PUBLISH */
} mq_options;

/* Parse mosquitto's option array into o (defaults first). On error a message goes to err
 * and IOTSEC_E_INVALID_ARG (bad value, unknown option) or IOTSEC_E_NO_MEMORY is returned;
 * o is then released. */
struct mosquitto_opt;
int mq_options_parse(mq_options *o, const struct mosquitto_opt *opts, int count, char *err,
                     size_t err_cap);
void mq_options_free(mq_options *o);

/* ---- the plugin's state (plugin.c) -------------------------------------------------------- */

/* The audit rows of rejections from one source, limited by a token bucket. */
typedef struct mq_gate {
    double tokens;
    double last;             /* monotonic seconds of the last refill */
    unsigned long suppressed; /* rows dropped since the last audit_suppressed row */
    char event[32];          /* the last event dropped */
} mq_gate;

/* A connected client the plugin admitted. The mosquitto pointer is only a key: it is never
 * dereferenced here, only handed back to mosquitto's own functions inside its callbacks. */
typedef struct mq_client {
    const struct mosquitto *client;
    iotsec_peer_identity id; /* client id = id.device_id */
    int64_t not_after;       /* the certificate's notAfter, Unix seconds */
    int is_operator;
    int superseded; /* another connection took over its client id: refused everything */
    char peer[64];  /* address, for the audit */
    mq_gate gate;
    struct mq_client *next;
} mq_client;

/* A file's identity for change polling. */
typedef struct mq_stamp {
    int exists;
    struct stat st;
} mq_stamp;

typedef struct mq_plugin {
    void *pid; /* mosquitto_plugin_id_t */
    mq_options opt;
    const iotsec_crypto *crypto;
    struct x509_st *ca;
    iotsec_revocation_holder *holder;
    iotsec_tls_policy policy;
    mq_stamp crl_stamp[MQ_MAX_CRLS], deny_stamp;
    double next_poll;    /* monotonic seconds */
    double next_flush;   /* audit_suppressed rows, once a second */
    /* storage: the backend's database through the library's SQLite store */
    iotsec_replay_sqlite *db;
    struct sqlite3_stmt *st_device, *st_key;
    /* audit */
    int audit_fd;
    mq_gate anon_gate; /* rejections without a verified identity */
    /* connected clients */
    mq_client *clients[MQ_CLIENT_BUCKETS];
    size_t nclients;
    /* the telemetry PUBLISH the last write check verified (MOSQ_EVT_MESSAGE pairs with it) */
    const struct mosquitto *verified_client;
    const void *verified_payload;
    uint32_t verified_len;
    /* scratch for opened payloads (plaintext), wiped after each frame */
    uint8_t plain[IOTSEC_FRAME_CIPHER_MAX];
} mq_plugin;

/* ---- the backend's database (store.c) ------------------------------------------------------ */

/* A device as the backend registers it (table devices of examples/backend/db.c). */
typedef struct mq_device {
    int enabled;
    int legacy;        /* legacy_mac_key set: the EcoWatt profile is allowed */
    int has_legacy_enc;
    uint8_t legacy_mac[MQ_LEGACY_MAC_LEN];
    uint8_t legacy_enc[MQ_LEGACY_ENC_LEN];
} mq_device;

/* Open the backend's database (it must exist: the backend or its add-device made it) through
 * the library's replay store, and prepare the read-only queries on its devices and
 * device_keys tables. Errors: IOTSEC_E_IO (missing file, tables absent), those of
 * iotsec_replay_sqlite_open; a message goes to err. */
int mq_store_open(mq_plugin *p, char *err, size_t err_cap);
void mq_store_close(mq_plugin *p);
/* The device row of id; *found 0 when not registered. Secrets in dev: wipe after use.
 * Errors: IOTSEC_E_IO, IOTSEC_E_CORRUPT (a key column of the wrong size). */
int mq_store_device(mq_plugin *p, const char *id, size_t id_len, mq_device *dev, int *found);
/* The frame master secret of (id, kid); *found 0 when there is none. Wipe after use. */
int mq_store_key(mq_plugin *p, const char *id, size_t id_len, unsigned kid,
                 uint8_t secret[MQ_SECRET_LEN], int *found);

/* ---- audit (audit.c) ---------------------------------------------------------------------- */

/* One audit line, the backend's --log-json shape:
 * {"time":T,"peer":"…","identity":"…","event":"…","detail":"…"} to the audit file (or the
 * broker's log when none is configured). gate (NULL: never limited) limits rejections. */
void mq_audit(mq_plugin *p, mq_gate *gate, const char *peer, const char *identity,
              const char *event, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Open (or, on SIGHUP, reopen: log rotation) the audit file of plugin_opt_audit_log. On
 * failure the previous file stays in use and IOTSEC_E_IO is returned (errno set). */
int mq_audit_open(mq_plugin *p);
/* Write the audit_suppressed row of a gate that dropped rows, once a second. */
void mq_audit_flush(mq_plugin *p, mq_gate *gate, const char *identity);
/* The backend's event name for a library error: the IOTSEC_E_* name without the prefix, in
 * lower case ("bad_mac", "replay"). */
const char *mq_error_code(int rc, char *buf, size_t cap);
/* Monotonic seconds; wall-clock Unix seconds. */
double mq_mono(void);
int64_t mq_now(void);

/* ---- telemetry (frames.c) ----------------------------------------------------------------- */

/* Verify and commit the telemetry PUBLISH of client c on topic (a telemetry topic, naming
 * device topic_id): the device registered and enabled, the frame (binary v1, JSON v1, or
 * EcoWatt for a legacy device) opened for the certificate identity through the backend's
 * replay store. Audited either way. Returns IOTSEC_OK or the refusal's code. */
int mq_telemetry_verify(mq_plugin *p, mq_client *c, const char *topic, const char *topic_id,
                        const void *payload, uint32_t len, int retain);

#endif
