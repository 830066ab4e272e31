/* Check suite: the backend's per-request device record (examples/backend: bk_db_device in
 * db.c, bk_device_wipe in util.c) on a real SQLite database. The record carries a device's
 * legacy EcoWatt keys; the server wipes it at the one exit of every request (on_request in
 * http.c). These tests pin what that relies on: a filled record is wiped by bk_device_wipe
 * (every byte), and bk_db_device leaves no key bytes behind when it finds no device or a
 * damaged one. The storage files belong to the example program, not to the library: the
 * suite links them from the internal library $(BUILD)/internal/libbackend-db.a. */
#include "testutil.h"

#include <sqlite3.h>
#include <string.h>

#include "../../examples/backend/backend.h"
#include "../../examples/backend/db_internal.h"

static int all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i;

    for (i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

START_TEST(wipe_every_byte)
{
    bk_device dev;

    memset(&dev, 0xa5, sizeof dev); /* padding included */
    dev.enabled = 1;
    dev.legacy = 1;
    bk_device_wipe(&dev);
    ck_assert(all_zero(&dev, sizeof dev));
    bk_device_wipe(NULL);
}
END_TEST

/* A database with device "legacy" (MAC and encryption keys) and device "plain". */
static bk_db *open_fixture(char *dir, size_t cap, uint8_t mac[BK_LEGACY_MAC_LEN],
                           uint8_t enc[BK_LEGACY_ENC_LEN])
{
    char path[512], err[256];
    uint8_t secret[BK_SECRET_LEN];
    bk_db *db = NULL;
    int taken = 1;

    tu_tmpdir(dir, cap);
    snprintf(path, sizeof path, "%s/db", dir);
    ck_assert_int_eq(bk_db_open(&db, path, 64, 0, err, sizeof err), IOTSEC_OK);
    tu_pattern(mac, BK_LEGACY_MAC_LEN, 1);
    tu_pattern(enc, BK_LEGACY_ENC_LEN, 2);
    tu_pattern(secret, sizeof secret, 3);
    ck_assert_int_eq(bk_db_tx_begin(db), IOTSEC_OK);
    ck_assert_int_eq(bk_db_device_insert(db, "legacy", mac, enc), IOTSEC_OK);
    ck_assert_int_eq(bk_db_device_key_add(db, "legacy", 0, secret, &taken), IOTSEC_OK);
    ck_assert_int_eq(taken, 0);
    ck_assert_int_eq(bk_db_device_insert(db, "plain", NULL, NULL), IOTSEC_OK);
    ck_assert_int_eq(bk_db_tx_commit(db), IOTSEC_OK);
    return db;
}

START_TEST(record_of_a_refused_device_is_wiped)
{
    char dir[256];
    uint8_t mac[BK_LEGACY_MAC_LEN], enc[BK_LEGACY_ENC_LEN];
    bk_db *db = open_fixture(dir, sizeof dir, mac, enc);
    bk_device dev;
    int found = 0;

    /* a disabled device: authorize refuses it after the lookup filled the record with its
     * keys — the path that used to return without wiping */
    ck_assert_int_eq(bk_db_device_disable(db, "legacy", &found), IOTSEC_OK);
    ck_assert_int_eq(found, 1);
    ck_assert_int_eq(bk_db_device(db, "legacy", 6, &dev, &found), IOTSEC_OK);
    ck_assert_int_eq(found, 1);
    ck_assert_int_eq(dev.enabled, 0);
    ck_assert_int_eq(dev.legacy, 1);
    ck_assert_int_eq(dev.has_legacy_enc, 1);
    ck_assert_mem_eq(dev.legacy_mac, mac, sizeof mac);
    ck_assert_mem_eq(dev.legacy_enc, enc, sizeof enc);
    bk_device_wipe(&dev);
    ck_assert(all_zero(&dev, sizeof dev));
    bk_db_close(db);
    tu_tmpdir_cleanup(dir);
}
END_TEST

START_TEST(lookup_leaves_no_key_bytes)
{
    char dir[256];
    uint8_t mac[BK_LEGACY_MAC_LEN], enc[BK_LEGACY_ENC_LEN];
    bk_db *db = open_fixture(dir, sizeof dir, mac, enc);
    bk_device dev;
    int found = 1;

    /* not registered: the record (full of an earlier device's keys) comes back all zero */
    memset(&dev, 0xa5, sizeof dev);
    ck_assert_int_eq(bk_db_device(db, "nobody", 6, &dev, &found), IOTSEC_OK);
    ck_assert_int_eq(found, 0);
    ck_assert(all_zero(&dev, sizeof dev));
    /* no legacy keys: none copied */
    ck_assert_int_eq(bk_db_device(db, "plain", 5, &dev, &found), IOTSEC_OK);
    ck_assert_int_eq(found, 1);
    ck_assert_int_eq(dev.legacy, 0);
    ck_assert(all_zero(dev.legacy_mac, sizeof dev.legacy_mac));
    ck_assert(all_zero(dev.legacy_enc, sizeof dev.legacy_enc));
    /* a damaged row (a 1-byte encryption key, past the schema's CHECK): the MAC key was
     * copied before the damage was seen, and is wiped with the rest */
    ck_assert_int_eq(sqlite3_exec(bk_db_handle(db),
                                  "PRAGMA ignore_check_constraints = ON;"
                                  "UPDATE devices SET legacy_enc_key = x'00'"
                                  " WHERE device_id = 'legacy';"
                                  "PRAGMA ignore_check_constraints = OFF;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    memset(&dev, 0xa5, sizeof dev);
    found = 1;
    ck_assert_int_eq(bk_db_device(db, "legacy", 6, &dev, &found), IOTSEC_E_CORRUPT);
    ck_assert_int_eq(found, 0);
    ck_assert(all_zero(&dev, sizeof dev));
    bk_db_close(db);
    tu_tmpdir_cleanup(dir);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("backend_device");
    TCase *tc = tcase_create("record");

    tcase_add_test(tc, wipe_every_byte);
    tcase_add_test(tc, record_of_a_refused_device_is_wiped);
    tcase_add_test(tc, lookup_leaves_no_key_bytes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(make_suite());
}
