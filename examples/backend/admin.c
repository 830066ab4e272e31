/*
 * iotsec-backend — admin subcommands working on the database: add-device, disable-device,
 * publish-firmware, list. They open the same file as the server (WAL: safe while it runs).
 *
 * Exit codes as the iotsec CLI (docs/DESIGN.md §9): 0 success; 1 refused (the manifest or
 * payload did not verify, the device or key already exists or is unknown); 2 usage,
 * including a secret file of the wrong length; 3 I/O.
 */
#include "backend.h"
#include "est_server.h"

#include <stdlib.h>
#include <string.h>

#include "iotsec/image.h"
#include "iotsec/manifest.h"

#define MAX_TRUST 8

/* ---- option parsing shared by the subcommands -------------------------------------------- */

struct opt {
    const char *name;
    const char **value; /* NULL for a flag */
    int *flag;
    const char **multi; /* repeated option: array of MAX_TRUST */
    size_t *count;
};

/* Parse argv[1..] against opts; positional arguments go to pos (at most pos_cap).
 * Returns 0, −1 for --help (usage printed), or an exit code. */
static int parse_opts(int argc, char **argv, const struct opt *opts, const char **pos,
                      size_t pos_cap, size_t *npos, const char *usage)
{
    int i;

    if (npos != NULL)
        *npos = 0;
    for (i = 1; i < argc; i++) {
        const struct opt *o;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return -1;
        }
        if (strncmp(argv[i], "--", 2) != 0) {
            if (npos == NULL || *npos == pos_cap)
                return bk_error(BK_EXIT_USAGE, "unexpected argument '%s'\n%s", argv[i], usage);
            pos[(*npos)++] = argv[i];
            continue;
        }
        for (o = opts; o->name != NULL && strcmp(o->name, argv[i]) != 0; o++)
            ;
        if (o->name == NULL)
            return bk_error(BK_EXIT_USAGE, "unknown option %s\n%s", argv[i], usage);
        if (o->flag != NULL) {
            *o->flag = 1;
            continue;
        }
        if (i + 1 >= argc)
            return bk_error(BK_EXIT_USAGE, "%s needs a value", argv[i]);
        if (o->multi != NULL) {
            if (*o->count == MAX_TRUST)
                return bk_error(BK_EXIT_USAGE, "at most %d %s", MAX_TRUST, o->name);
            o->multi[(*o->count)++] = argv[++i];
        } else {
            *o->value = argv[++i];
        }
    }
    return 0;
}

static int open_db(const char *path, bk_db **db)
{
    char err[256];
    int rc;

    if (path == NULL)
        return bk_error(BK_EXIT_USAGE, "--db is required");
    rc = bk_db_open(db, path, IOTSEC_REPLAY_DEFAULT_WINDOW, 0, err, sizeof err);
    if (rc != IOTSEC_OK)
        return bk_error(rc == IOTSEC_E_IO ? BK_EXIT_IO : BK_EXIT_REJECTED, "--db: %s", err);
    return BK_EXIT_OK;
}

static int sql_fail(bk_db *db, const char *what)
{
    return bk_error(BK_EXIT_IO, "%s: %s", what, bk_db_errmsg(db));
}

/* open_db, then BEGIN IMMEDIATE (the write lock, waiting up to the busy timeout). */
static int open_db_begin(const char *path, bk_db **db)
{
    int rc = open_db(path, db);

    if (rc == BK_EXIT_OK && bk_db_tx_begin(*db) != IOTSEC_OK)
        rc = sql_fail(*db, "begin");
    return rc;
}

/* ---- add-device / disable-device --------------------------------------------------------- */

static const char add_usage[] =
    "usage: iotsec-backend add-device --db DB --device-id D --secret-file S [--kid K]\n"
    "         [--legacy-mac-key K.bin [--legacy-enc-key E.bin]]\n"
    "         [--enroll-token-out FILE [--enroll-token-ttl SECONDS]]\n"
    "Registers device D (enabled) with the 32-byte frame master secret S for key generation\n"
    "K (default 0); on an existing device, adds key generation K. --legacy-mac-key (32\n"
    "bytes) and --legacy-enc-key (16 bytes) allow the EcoWatt legacy profile for D.\n"
    "\n"
    "  --db DB                the database (an SQLite file, created mode 0600 if missing,\n"
    "                         or a postgresql:// URI)\n"
    "  --device-id D          the device id, as its certificate names it: 1-64 characters\n"
    "                         of [A-Za-z0-9._:@-]\n"
    "  --secret-file S        the frame master secret, a file of exactly 32 bytes\n"
    "  --kid K                its key generation, 0-255 (0); each is added once\n"
    "  --legacy-mac-key K.bin the EcoWatt profile's raw HMAC key, 32 bytes (allows the\n"
    "                         legacy profile; replaces the device's legacy keys)\n"
    "  --legacy-enc-key E.bin the EcoWatt profile's raw AES-128 key, 16 bytes (needs\n"
    "                         --legacy-mac-key)\n"
    "  --enroll-token-out FILE  also make D a one-time enrollment (EST) bootstrap token,\n"
    "                         written to FILE (mode 0600; the database keeps only its\n"
    "                         hash); a new token replaces an unused previous one\n"
    "  --enroll-token-ttl SECONDS  how long the token is valid (86400)\n"
    "  -h, --help             print this help and exit\n"
    "Exit status: 0 added or updated; 1 the device already has key generation K; 2 usage,\n"
    "including a secret file of the wrong length; 3 I/O. (Every command: 1 also for a\n"
    "database of another schema version.)\n";

int bk_cmd_add_device(int argc, char **argv)
{
    const char *dbp = NULL, *id = NULL, *secret_path = NULL, *kid_s = NULL, *mac_p = NULL,
               *enc_p = NULL, *token_out = NULL, *ttl_s = NULL;
    const struct opt opts[] = {{"--db", &dbp, NULL, NULL, NULL},
                               {"--device-id", &id, NULL, NULL, NULL},
                               {"--secret-file", &secret_path, NULL, NULL, NULL},
                               {"--kid", &kid_s, NULL, NULL, NULL},
                               {"--legacy-mac-key", &mac_p, NULL, NULL, NULL},
                               {"--legacy-enc-key", &enc_p, NULL, NULL, NULL},
                               {"--enroll-token-out", &token_out, NULL, NULL, NULL},
                               {"--enroll-token-ttl", &ttl_s, NULL, NULL, NULL},
                               {NULL, NULL, NULL, NULL, NULL}};
    uint8_t secret[BK_SECRET_LEN], mac[BK_LEGACY_MAC_LEN], enc[BK_LEGACY_ENC_LEN];
    uint8_t token_hash[IOTSEC_EST_TOKEN_HASH_LEN];
    char token[IOTSEC_EST_TOKEN_TEXT_LEN + 2];
    uint64_t kid = 0, ttl = EST_TOKEN_TTL_DEFAULT;
    bk_db *db = NULL;
    int rc, exists = 0, taken = 0;

    rc = parse_opts(argc, argv, opts, NULL, 0, NULL, add_usage);
    if (rc != 0)
        return rc < 0 ? BK_EXIT_OK : rc;
    if (id == NULL || secret_path == NULL)
        return bk_error(BK_EXIT_USAGE, "--device-id and --secret-file are required\n%s",
                        add_usage);
    if (iotsec_device_id_check(id, strlen(id)) != IOTSEC_OK)
        return bk_error(BK_EXIT_USAGE, "--device-id: 1-64 characters of [A-Za-z0-9._:@-]");
    if (kid_s != NULL && iotsec_parse_u64_dec(kid_s, strlen(kid_s), 255, &kid) != IOTSEC_OK)
        return bk_error(BK_EXIT_USAGE, "--kid: an integer 0-255");
    if (enc_p != NULL && mac_p == NULL)
        return bk_error(BK_EXIT_USAGE, "--legacy-enc-key needs --legacy-mac-key");
    if (ttl_s != NULL && (token_out == NULL ||
                          iotsec_parse_u64_dec(ttl_s, strlen(ttl_s), 86400u * 365u, &ttl) !=
                              IOTSEC_OK ||
                          ttl == 0))
        return bk_error(BK_EXIT_USAGE, "--enroll-token-ttl: 1 to 31536000 seconds, with "
                                       "--enroll-token-out");
    rc = iotsec_file_read_secret(secret_path, secret, sizeof secret);
    if (rc == IOTSEC_OK && mac_p != NULL)
        rc = iotsec_file_read_secret(mac_p, mac, sizeof mac);
    if (rc == IOTSEC_OK && enc_p != NULL)
        rc = iotsec_file_read_secret(enc_p, enc, sizeof enc);
    if (rc != IOTSEC_OK) {
        rc = bk_error(rc == IOTSEC_E_BAD_LENGTH ? BK_EXIT_USAGE : BK_EXIT_IO,
                      "secret files: frame secret 32 bytes, legacy MAC key 32, legacy "
                      "encryption key 16: %s",
                      iotsec_strerror(rc));
        goto out;
    }
    if ((rc = open_db_begin(dbp, &db)) != BK_EXIT_OK)
        goto out;
    rc = bk_db_device_exists(db, id, &exists);
    if (rc == IOTSEC_OK && !exists)
        rc = bk_db_device_insert(db, id, mac_p ? mac : NULL, enc_p ? enc : NULL);
    else if (rc == IOTSEC_OK && mac_p != NULL)
        rc = bk_db_device_set_legacy(db, id, mac, enc_p ? enc : NULL);
    if (rc == IOTSEC_OK && token_out != NULL) {
        /* enrollment: only the token's hash is stored, bound to the device id */
        rc = iotsec_est_token_new(id, strlen(id), token, token_hash);
        if (rc == IOTSEC_OK)
            rc = bk_est_schema(db);
        if (rc == IOTSEC_OK)
            rc = bk_est_token_put(db, id, token_hash, bk_now() + (int64_t)ttl, bk_now());
    }
    if (rc == IOTSEC_OK) {
        rc = bk_db_device_key_add(db, id, (unsigned)kid, secret, &taken);
        if (taken) {
            bk_db_tx_rollback(db);
            rc = bk_error(BK_EXIT_REJECTED, "device %s already has key generation %u", id,
                          (unsigned)kid);
            goto out;
        }
    }
    if (rc == IOTSEC_OK && token_out != NULL) {
        /* written before the commit: a token in the database was handed out */
        size_t tl = strlen(token);
        token[tl] = '\n';
        if (iotsec_file_write_atomic(token_out, token, tl + 1u, 0600) != IOTSEC_OK) {
            bk_db_tx_rollback(db);
            rc = bk_error(BK_EXIT_IO, "--enroll-token-out %s: cannot write it", token_out);
            goto out;
        }
    }
    if (rc != IOTSEC_OK || bk_db_tx_commit(db) != IOTSEC_OK) {
        rc = sql_fail(db, "add-device");
        bk_db_tx_rollback(db);
        goto out;
    }
    printf("%s device %s, key generation %u%s\n", exists ? "updated" : "added", id,
           (unsigned)kid, mac_p ? ", legacy EcoWatt profile allowed" : "");
    if (token_out != NULL)
        printf("enrollment token for %s written to %s, valid %llu s\n", id, token_out,
               (unsigned long long)ttl);
    rc = BK_EXIT_OK;
out:
    iotsec_zeroize(secret, sizeof secret);
    iotsec_zeroize(token, sizeof token);
    iotsec_zeroize(mac, sizeof mac);
    iotsec_zeroize(enc, sizeof enc);
    bk_db_close(db);
    return rc;
}

static const char disable_usage[] =
    "usage: iotsec-backend disable-device --db DB --device-id D\n"
    "Refuses every further request of D (403 device_disabled); its rows are kept.\n"
    "\n"
    "  --db DB                the database\n"
    "  --device-id D          the device to disable\n"
    "  -h, --help             print this help and exit\n"
    "Exit status: 0 disabled; 1 no such device; 2 usage; 3 I/O.\n";

int bk_cmd_disable_device(int argc, char **argv)
{
    const char *dbp = NULL, *id = NULL;
    const struct opt opts[] = {{"--db", &dbp, NULL, NULL, NULL},
                               {"--device-id", &id, NULL, NULL, NULL},
                               {NULL, NULL, NULL, NULL, NULL}};
    bk_db *db = NULL;
    int rc, found = 0;

    rc = parse_opts(argc, argv, opts, NULL, 0, NULL, disable_usage);
    if (rc != 0)
        return rc < 0 ? BK_EXIT_OK : rc;
    if (id == NULL)
        return bk_error(BK_EXIT_USAGE, "--device-id is required");
    if ((rc = open_db(dbp, &db)) != BK_EXIT_OK)
        return rc;
    rc = bk_db_device_disable(db, id, &found);
    if (rc != IOTSEC_OK)
        rc = sql_fail(db, "disable-device");
    else if (!found)
        rc = bk_error(BK_EXIT_REJECTED, "no device %s", id);
    else {
        printf("disabled device %s\n", id);
        rc = BK_EXIT_OK;
    }
    bk_db_close(db);
    return rc;
}

/* ---- publish-firmware --------------------------------------------------------------------- */

static const char publish_usage[] =
    "usage: iotsec-backend publish-firmware --db DB --manifest M --payload P\n"
    "         --trust PUB.pem [--trust PUB2.pem]...\n"
    "Verifies M's signature against the trusted keys and P, as it will be transferred,\n"
    "against M's signed size and digest of the transferred bytes (streamed through the\n"
    "library's transfer-only image check: an encrypted payload is checked as ciphertext,\n"
    "so the server never needs the firmware key) before storing anything. P is then\n"
    "stored in 64 KiB chunks, one short transaction each, into a staging row the server\n"
    "does not serve (checked again as written), and published with M in one transaction.\n"
    "P is served at /v1/firmware/payload/<hex of its digest as transferred>; the current\n"
    "manifest of a class (highest security counter, then latest) at\n"
    "/v1/firmware/manifest?class=C. Safe while the server runs.\n"
    "\n"
    "  --db DB                the database\n"
    "  --manifest M           the signed manifest (iotsec manifest sign)\n"
    "  --payload P            the payload exactly as devices download it (the image, or\n"
    "                         the encrypted payload of an encrypted manifest)\n"
    "  --trust PUB.pem        a public key the manifest may be signed with (PEM); repeat\n"
    "                         for up to 8\n"
    "  -h, --help             print this help and exit\n"
    "Exit status: 0 published (a payload already stored is not stored again); 1 refused\n"
    "(the signature, size or digest does not verify, a payload over 256 MiB, an unusable\n"
    "key); 2 usage; 3 I/O.\n";

/* Stream the payload file from its start through a fresh transfer check of m (the bytes as
 * transferred against the signed size and digest) and, with db non-NULL, into chunks of
 * staging row id, one short transaction each. Reading stops past the signed size, so a file
 * that grows (or never ends) is refused without being stored. *lib_rc gets the library's
 * refusal (exit 1); other failures print their message (exit 3). */
static int stream_payload(FILE *f, const iotsec_crypto *crypto, const iotsec_manifest *m,
                          uint64_t signed_size, bk_db *db, int64_t id, uint8_t *buf,
                          int *lib_rc)
{
    iotsec_image_verify_ctx vctx;
    uint64_t total = 0, idx = 0;
    size_t n;
    int rc, alive;

    rewind(f);
    rc = iotsec_image_verify_init_transfer(&vctx, crypto, m);
    while (rc == IOTSEC_OK && (n = fread(buf, 1, BK_CHUNK, f)) > 0) {
        total += n;
        rc = total > signed_size ? IOTSEC_E_DIGEST_MISMATCH
                                 : iotsec_image_verify_update(&vctx, buf, n, NULL, 0, NULL);
        if (rc != IOTSEC_OK || db == NULL)
            continue;
        if (bk_db_stage_chunk(db, id, idx++, buf, n, bk_now(), &alive) != IOTSEC_OK) {
            iotsec_image_verify_cleanup(&vctx);
            return sql_fail(db, "storing a payload chunk");
        }
        if (!alive) {
            iotsec_image_verify_cleanup(&vctx);
            return bk_error(BK_EXIT_IO, "the staged payload was removed while it was being "
                                        "stored (idle over %d s?); nothing published",
                            BK_STAGING_STALE);
        }
    }
    if (rc == IOTSEC_OK && ferror(f)) {
        iotsec_image_verify_cleanup(&vctx);
        return bk_error(BK_EXIT_IO, "reading the payload failed");
    }
    if (rc == IOTSEC_OK)
        rc = iotsec_image_verify_final(&vctx, NULL, 0, NULL);
    iotsec_image_verify_cleanup(&vctx);
    if (rc != IOTSEC_OK) {
        *lib_rc = rc;
        return BK_EXIT_REJECTED;
    }
    return BK_EXIT_OK;
}

/* The firmware row, and the staged payload made ready, in one short transaction: the
 * manifest and its payload become visible to the server together. *dup: another
 * publish-firmware made the same payload ready first (ours is to be dropped). */
static int publish_rows(bk_db *db, const iotsec_manifest *m, const uint8_t *mbuf, size_t mlen,
                        const uint8_t *digest, int64_t staged, uint64_t nchunks, int *dup)
{
    bk_payload p;
    int rc, found = 0, done = 1;

    *dup = 0;
    if (bk_db_tx_begin(db) != IOTSEC_OK)
        return sql_fail(db, "begin");
    rc = staged ? bk_db_payload_find(db, digest, &p, &found) : IOTSEC_OK;
    if (rc == IOTSEC_OK && staged && found)
        *dup = 1;
    else if (rc == IOTSEC_OK && staged)
        rc = bk_db_stage_ready(db, staged, nchunks, &done);
    if (rc != IOTSEC_OK || !done) {
        bk_db_tx_rollback(db);
        return rc != IOTSEC_OK ? sql_fail(db, "publish")
                               : bk_error(BK_EXIT_IO, "the staged payload is incomplete "
                                                      "(removed while being stored?); nothing "
                                                      "published");
    }
    rc = bk_db_firmware_add(db, m->f.device_class, m->f.device_class_len, m->f.version,
                            m->f.version_len, m->f.security_counter, mbuf, mlen, digest);
    if (rc != IOTSEC_OK || bk_db_tx_commit(db) != IOTSEC_OK) {
        rc = sql_fail(db, "publish");
        bk_db_tx_rollback(db);
        return rc;
    }
    return BK_EXIT_OK;
}

int bk_cmd_publish_firmware(int argc, char **argv)
{
    const char *dbp = NULL, *man_p = NULL, *pay_p = NULL;
    const char *trust[MAX_TRUST];
    size_t ntrust = 0, mlen = 0, i;
    const struct opt opts[] = {{"--db", &dbp, NULL, NULL, NULL},
                               {"--manifest", &man_p, NULL, NULL, NULL},
                               {"--payload", &pay_p, NULL, NULL, NULL},
                               {"--trust", NULL, NULL, trust, &ntrust},
                               {NULL, NULL, NULL, NULL, NULL}};
    const iotsec_crypto *crypto = iotsec_crypto_openssl();
    iotsec_pubkey keys[MAX_TRUST];
    size_t nkeys = 0;
    iotsec_trust_store store;
    iotsec_manifest m;
    uint8_t *mbuf = NULL, *buf = NULL;
    const uint8_t *digest;
    uint64_t size;
    int64_t staged = 0;
    char hex[65];
    bk_db *db = NULL;
    bk_payload have;
    unsigned pruned = 0;
    FILE *f = NULL;
    int rc, lib_rc = IOTSEC_OK, found = 0, dup = 0;

    rc = parse_opts(argc, argv, opts, NULL, 0, NULL, publish_usage);
    if (rc != 0)
        return rc < 0 ? BK_EXIT_OK : rc;
    if (man_p == NULL || pay_p == NULL || ntrust == 0)
        return bk_error(BK_EXIT_USAGE, "--manifest, --payload and --trust are required\n%s",
                        publish_usage);
    if (crypto == NULL)
        return bk_error(BK_EXIT_IO, "this build has no OpenSSL backend");
    for (i = 0; i < ntrust; i++, nkeys++) {
        rc = iotsec_pubkey_load_file(&keys[i], crypto, trust[i]);
        if (rc != IOTSEC_OK) {
            rc = bk_error(rc == IOTSEC_E_IO ? BK_EXIT_IO : BK_EXIT_REJECTED, "--trust %s: %s",
                          trust[i], iotsec_strerror(rc));
            goto out;
        }
    }
    rc = iotsec_trust_store_init(&store, keys, nkeys);
    if (rc != IOTSEC_OK) {
        rc = bk_error(BK_EXIT_REJECTED, "trust store: %s", iotsec_strerror(rc));
        goto out;
    }
    rc = iotsec_file_read(man_p, IOTSEC_MANIFEST_MAX_LEN, &mbuf, &mlen);
    if (rc != IOTSEC_OK) {
        rc = bk_error(rc == IOTSEC_E_IO ? BK_EXIT_IO : BK_EXIT_REJECTED, "--manifest %s: %s",
                      man_p, iotsec_strerror(rc));
        goto out;
    }
    rc = iotsec_manifest_verify(&store, mbuf, mlen, &m);
    if (rc != IOTSEC_OK) {
        rc = bk_error(BK_EXIT_REJECTED, "--manifest %s refused: %s", man_p,
                      iotsec_strerror(rc));
        goto out;
    }
    /* the bytes as transferred against the signed payload_size / payload_digest (or, for
     * a plain manifest, image_size / image_digest): no key, nothing decrypted */
    if (m.f.present & IOTSEC_MF_ENCRYPTION) {
        digest = m.f.payload_digest;
        size = m.f.payload_size;
    } else {
        digest = m.f.image_digest;
        size = m.f.image_size;
    }
    if (size > BK_PAYLOAD_MAX) {
        rc = bk_error(BK_EXIT_REJECTED, "--manifest %s: a payload over %u bytes", man_p,
                      BK_PAYLOAD_MAX);
        goto out;
    }
    f = fopen(pay_p, "rb");
    buf = malloc(BK_CHUNK);
    if (f == NULL || buf == NULL) {
        rc = bk_error(BK_EXIT_IO, "--payload %s: %s", pay_p,
                      f == NULL ? "cannot open" : "out of memory");
        goto out;
    }
    /* 1. verify before anything is stored: a refused payload never touches the database */
    rc = stream_payload(f, crypto, &m, size, NULL, 0, buf, &lib_rc);
    if (rc != BK_EXIT_OK)
        goto refused;
    if ((rc = open_db(dbp, &db)) != BK_EXIT_OK)
        goto out;
    if (bk_db_stage_prune(db, bk_now(), &pruned) != IOTSEC_OK) {
        rc = sql_fail(db, "removing stale staging payloads");
        goto out;
    }
    if (pruned > 0)
        fprintf(stderr, "iotsec-backend: removed %u staging payload(s) left by an interrupted "
                        "publish-firmware\n", pruned);
    if (bk_db_payload_find(db, digest, &have, &found) != IOTSEC_OK) {
        rc = sql_fail(db, "payload lookup");
        goto out;
    }
    /* 2. an identical payload already published is not stored again; otherwise its chunks
     * go into a staging row the server never serves, one short transaction each (the
     * server waits at most for one chunk's write), hashed again as they are written: the
     * file may have changed since step 1. Durability comes with the publishing commit
     * (synchronous=FULL syncs the whole write-ahead log), so staging commits skip it. This
     * process copies the log into the database itself every 256 pages (SQLite's automatic
     * checkpoint, passive: it takes no lock the server waits for), well before the 1000
     * pages at which a commit of the server would do it, inside its event loop. */
    if (!found) {
        if (bk_db_staging_mode(db, 1) != IOTSEC_OK ||
            bk_db_stage_begin(db, digest, size, bk_now(), &staged) != IOTSEC_OK) {
            rc = sql_fail(db, "staging the payload");
            goto out;
        }
        rc = stream_payload(f, crypto, &m, size, db, staged, buf, &lib_rc);
        if (rc == BK_EXIT_REJECTED) {
            bk_error(0, "--payload %s changed while it was being stored: %s; nothing "
                        "published", pay_p, iotsec_strerror(lib_rc));
            goto out;
        }
        if (rc != BK_EXIT_OK)
            goto out;
        if (bk_db_staging_mode(db, 0) != IOTSEC_OK) {
            rc = sql_fail(db, "synchronous");
            goto out;
        }
    }
    /* 3. publish: the firmware row and the payload made ready, one short transaction */
    rc = publish_rows(db, &m, mbuf, mlen, digest, staged, (size + BK_CHUNK - 1u) / BK_CHUNK,
                      &dup);
    if (rc != BK_EXIT_OK)
        goto out;
    if (!dup)
        staged = 0; /* ready now: kept */
    (void)iotsec_hex_encode(digest, 32, hex, sizeof hex);
    printf("published class %.*s version %.*s security counter %llu: payload %s "
           "(%llu bytes)\n",
           (int)m.f.device_class_len, (const char *)m.f.device_class, (int)m.f.version_len,
           (const char *)m.f.version, (unsigned long long)m.f.security_counter, hex,
           (unsigned long long)size);
    rc = BK_EXIT_OK;
    goto out;
refused:
    if (lib_rc != IOTSEC_OK)
        bk_error(0, "--payload %s does not match the manifest: %s", pay_p,
                 iotsec_strerror(lib_rc));
out:
    /* a staging row not made ready (refused, failed, or the same payload published by
     * another publish-firmware first) is removed; if even that fails, a later publish
     * removes it once stale */
    if (staged != 0 && bk_db_stage_drop(db, staged) != IOTSEC_OK)
        bk_error(0, "could not remove the staged payload (a later publish-firmware will)");
    if (f != NULL)
        fclose(f);
    for (i = 0; i < nkeys; i++)
        iotsec_pubkey_free(&keys[i]);
    free(mbuf);
    free(buf);
    bk_db_close(db);
    return rc;
}

/* ---- list -------------------------------------------------------------------------------- */

static const char list_usage[] =
    "usage: iotsec-backend list devices|audit|telemetry|firmware|payloads|crl-floors --db DB\n"
    "         [--json] [--limit N]\n"
    "Prints a table, or a JSON array with --json. audit and telemetry show the last N rows\n"
    "(default 100), oldest first. payloads shows staging rows too (ready false: being\n"
    "stored by publish-firmware, or left by an interrupted one; never served). crl-floors\n"
    "shows, per CRL issuer, the newest CRL the server has had in force (number in hex,\n"
    "- when the CRL has none): serve refuses an older one.\n"
    "\n"
    "  --db DB                the database\n"
    "  --json                 print a JSON array of objects instead of a table\n"
    "  --limit N              audit and telemetry: the last N rows, 0-1000000000 (100)\n"
    "  -h, --help             print this help and exit\n"
    "Exit status: 0 listed; 1 a database of another schema version; 2 usage; 3 I/O.\n";

/* One column of a listing: how to print it. */
enum col_kind { COL_INT, COL_TEXT, COL_BOOL, COL_HEX, COL_PAYLOAD, COL_U64BE };

struct col {
    const char *name;
    enum col_kind kind;
};

static void print_value(bk_rows *st, int i, enum col_kind kind, int json)
{
    const unsigned char *p;
    int n = bk_rows_bytes(st, i), k;
    char esc[1024];

    if (bk_rows_is_null(st, i)) {
        fputs(json ? "null" : "-", stdout);
        return;
    }
    switch (kind) {
    case COL_INT:
        /* counters above 2^63 − 1 are stored as decimal text: print either as a number */
        fputs((const char *)bk_rows_text(st, i), stdout);
        break;
    case COL_BOOL:
        fputs(bk_rows_int(st, i) ? "true" : "false", stdout);
        break;
    case COL_U64BE: {
        uint64_t v = 0;
        p = bk_rows_blob(st, i);
        for (k = 0; p != NULL && k < n && k < 8; k++)
            v = (v << 8) | p[k];
        printf("%llu", (unsigned long long)v);
        break;
    }
    case COL_HEX:
        p = bk_rows_blob(st, i);
        if (json)
            putchar('"');
        for (k = 0; p != NULL && k < n; k++)
            printf("%02x", p[k]);
        if (json)
            putchar('"');
        break;
    case COL_PAYLOAD:
        /* the payload as base64 in JSON; in a table its size and up to 32 bytes of text */
        p = bk_rows_blob(st, i);
        if (json) {
            char *b64 = malloc(IOTSEC_BASE64_ENCODED_LEN((size_t)n) + 1u);
            if (b64 != NULL && iotsec_base64_encode(p, (size_t)n, b64,
                                                    IOTSEC_BASE64_ENCODED_LEN((size_t)n) + 1u,
                                                    NULL) == IOTSEC_OK)
                printf("\"%s\"", b64);
            else
                fputs("null", stdout);
            free(b64);
        } else {
            printf("%d:", n);
            for (k = 0; p != NULL && k < n && k < 32; k++)
                putchar(p[k] >= 0x20 && p[k] < 0x7f ? p[k] : '.');
        }
        break;
    case COL_TEXT:
        p = bk_rows_text(st, i);
        bk_json_escape((const char *)p, esc, sizeof esc);
        printf(json ? "\"%s\"" : "%s", esc);
        break;
    }
}

int bk_cmd_list(int argc, char **argv)
{
    static const struct col dev_cols[] = {{"device_id", COL_TEXT}, {"enabled", COL_BOOL},
                                          {"legacy", COL_BOOL},    {"kids", COL_TEXT},
                                          {"created", COL_INT},    {NULL, COL_INT}};
    static const struct col audit_cols[] = {{"id", COL_INT},      {"time", COL_INT},
                                            {"peer", COL_TEXT},   {"identity", COL_TEXT},
                                            {"event", COL_TEXT},  {"detail", COL_TEXT},
                                            {NULL, COL_INT}};
    static const struct col tel_cols[] = {{"id", COL_INT},          {"received", COL_INT},
                                          {"device_id", COL_TEXT},  {"kid", COL_INT},
                                          {"ctr", COL_INT},         {"format", COL_TEXT},
                                          {"encrypted", COL_BOOL},  {"peer", COL_TEXT},
                                          {"payload", COL_PAYLOAD}, {NULL, COL_INT}};
    static const struct col fw_cols[] = {{"id", COL_INT},
                                         {"device_class", COL_TEXT},
                                         {"version", COL_TEXT},
                                         {"security_counter", COL_U64BE},
                                         {"payload_digest", COL_HEX},
                                         {"manifest_bytes", COL_INT},
                                         {"published", COL_INT},
                                         {NULL, COL_INT}};
    static const struct col pay_cols[] = {{"id", COL_INT},     {"digest", COL_HEX},
                                          {"size", COL_INT},   {"ready", COL_BOOL},
                                          {"chunks", COL_INT}, {"touched", COL_INT},
                                          {NULL, COL_INT}};
    static const struct col floor_cols[] = {{"issuer", COL_HEX},      {"number", COL_HEX},
                                            {"this_update", COL_INT}, {"digest", COL_HEX},
                                            {"updated", COL_INT},     {NULL, COL_INT}};
    const char *dbp = NULL, *limit_s = NULL, *what[1] = {NULL};
    int json = 0;
    const struct opt opts[] = {{"--db", &dbp, NULL, NULL, NULL},
                               {"--limit", &limit_s, NULL, NULL, NULL},
                               {"--json", NULL, &json, NULL, NULL},
                               {NULL, NULL, NULL, NULL, NULL}};
    const struct col *cols;
    enum bk_listing listing;
    uint64_t limit = 100;
    size_t npos = 0;
    bk_db *db = NULL;
    bk_rows *st = NULL;
    int rc, row = 0, i;

    rc = parse_opts(argc, argv, opts, what, 1, &npos, list_usage);
    if (rc != 0)
        return rc < 0 ? BK_EXIT_OK : rc;
    if (limit_s != NULL &&
        iotsec_parse_u64_dec(limit_s, strlen(limit_s), 1000000000, &limit) != IOTSEC_OK)
        return bk_error(BK_EXIT_USAGE, "--limit: a decimal integer");
    if (npos != 1)
        return bk_error(BK_EXIT_USAGE, "what to list?\n%s", list_usage);
    if (strcmp(what[0], "devices") == 0) {
        cols = dev_cols;
        listing = BK_LIST_DEVICES;
    } else if (strcmp(what[0], "audit") == 0) {
        cols = audit_cols;
        listing = BK_LIST_AUDIT;
    } else if (strcmp(what[0], "telemetry") == 0) {
        cols = tel_cols;
        listing = BK_LIST_TELEMETRY;
    } else if (strcmp(what[0], "firmware") == 0) {
        cols = fw_cols;
        listing = BK_LIST_FIRMWARE;
    } else if (strcmp(what[0], "payloads") == 0) {
        cols = pay_cols;
        listing = BK_LIST_PAYLOADS;
    } else if (strcmp(what[0], "crl-floors") == 0) { /* db_floors.c */
        cols = floor_cols;
        listing = BK_LIST_CRL_FLOORS;
    } else {
        return bk_error(BK_EXIT_USAGE,
                        "list devices, audit, telemetry, firmware, payloads or crl-floors");
    }
    if ((rc = open_db(dbp, &db)) != BK_EXIT_OK)
        return rc;
    if (bk_db_list_open(db, listing, limit, &st) != IOTSEC_OK) {
        rc = sql_fail(db, "list");
        bk_db_close(db);
        return rc;
    }
    if (json)
        putchar('[');
    else {
        for (i = 0; cols[i].name != NULL; i++)
            printf("%s%s", i ? "\t" : "", cols[i].name);
        putchar('\n');
    }
    while ((rc = bk_rows_next(st)) == 1) {
        if (json)
            printf("%s\n{", row ? "," : "");
        for (i = 0; cols[i].name != NULL; i++) {
            if (json)
                printf("%s\"%s\":", i ? "," : "", cols[i].name);
            else if (i)
                putchar('\t');
            print_value(st, i, cols[i].kind, json);
        }
        if (json)
            putchar('}');
        else
            putchar('\n');
        row++;
    }
    if (json)
        printf("%s]\n", row ? "\n" : "");
    bk_rows_close(st);
    if (rc != 0)
        rc = sql_fail(db, "list");
    else
        rc = BK_EXIT_OK;
    bk_db_close(db);
    return rc;
}
