/* Check suite: device ids and the denylist text format (core, bindings-spec/SPEC.md §1.2, §8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* SHA-256("abc") (FIPS 180-4 example), used as a certificate fingerprint value. */
static const char fp_abc_hex[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

static int parse_text(const char *text, iotsec_denylist *dl, iotsec_deny_entry *st, size_t cap,
                      size_t *line)
{
    return iotsec_denylist_parse(dl, st, cap, (const uint8_t *)text, strlen(text), line);
}

/* The error code and line number a one-shot parse reports for text. */
static void expect_error(const char *text, int code, size_t line)
{
    iotsec_deny_entry st[8];
    iotsec_denylist dl = {NULL, 12345};
    size_t got_line = 99, count = 77;

    ck_assert_int_eq(iotsec_denylist_count((const uint8_t *)text, strlen(text), &count, &got_line),
                     code);
    ck_assert_uint_eq(got_line, line);
    ck_assert_uint_eq(count, 77); /* not written on error */
    got_line = 99;
    ck_assert_int_eq(parse_text(text, &dl, st, 8, &got_line), code);
    ck_assert_uint_eq(got_line, line);
    ck_assert_ptr_null(dl.entries); /* *dl untouched */
    ck_assert_uint_eq(dl.count, 12345);
}

START_TEST(test_device_id_alphabet)
{
    static const char all[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@-";
    char id[80];
    int c;

    ck_assert_int_eq(iotsec_device_id_check("dev-001", 7), IOTSEC_OK);
    ck_assert_int_eq(iotsec_device_id_check("3f2b9c1e-8d4a-4b7e-9f10-123456789abc", 36), IOTSEC_OK);
    ck_assert_int_eq(iotsec_device_id_check(all, 64), IOTSEC_OK);
    ck_assert_int_eq(iotsec_device_id_check(all + 3, 64), IOTSEC_OK);
    ck_assert_int_eq(iotsec_device_id_check("x", 0), IOTSEC_E_BAD_LENGTH);
    memset(id, 'a', sizeof id);
    ck_assert_int_eq(iotsec_device_id_check(id, 64), IOTSEC_OK);
    ck_assert_int_eq(iotsec_device_id_check(id, 65), IOTSEC_E_BAD_LENGTH);
    ck_assert_int_eq(iotsec_device_id_check(NULL, 3), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_device_id_check(NULL, 0), IOTSEC_E_BAD_LENGTH);
    /* every byte outside the alphabet is refused, NUL included */
    for (c = 0; c < 256; c++) {
        int ok = strchr(all, c) != NULL && c != 0;
        memcpy(id, "dev", 3);
        id[3] = (char)c;
        ck_assert_int_eq(iotsec_device_id_check(id, 4), ok ? IOTSEC_OK : IOTSEC_E_BAD_ENCODING);
    }
}
END_TEST

START_TEST(test_parse_and_lookup)
{
    static const char text[] =
        "# revoked devices, one per line\n"
        "\n"
        "id:dev-002\r\n"
        "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD\n"
        "   \t \n"
        "id:dev-001\n"
        "#id:dev-commented-out\n"
        "id:dev-002\n" /* duplicate, merged */
        "id:a\n"
        "id:dev-003"; /* no final newline */
    iotsec_deny_entry st[6];
    iotsec_denylist dl;
    iotsec_deny_kind kind;
    uint8_t *fp;
    size_t fp_len, count = 0, line = 42;

    fp = tu_hex(fp_abc_hex, &fp_len);
    ck_assert_int_eq(iotsec_denylist_count((const uint8_t *)text, strlen(text), &count, &line),
                     IOTSEC_OK);
    ck_assert_uint_eq(count, 6);
    ck_assert_uint_eq(line, 0);
    ck_assert_int_eq(parse_text(text, &dl, st, count, &line), IOTSEC_OK);
    ck_assert_uint_eq(dl.count, 5);
    ck_assert_ptr_eq(dl.entries, st);

    ck_assert_int_eq(iotsec_denylist_check(&dl, fp, NULL, 0, &kind), IOTSEC_E_REVOKED);
    ck_assert_int_eq(kind, IOTSEC_DENY_FINGERPRINT);
    ck_assert_int_eq(iotsec_denylist_check(&dl, NULL, "dev-001", 7, &kind), IOTSEC_E_REVOKED);
    ck_assert_int_eq(kind, IOTSEC_DENY_DEVICE_ID);
    ck_assert_int_eq(iotsec_denylist_check(&dl, NULL, "dev-002", 7, &kind), IOTSEC_E_REVOKED);
    ck_assert_int_eq(iotsec_denylist_check(&dl, NULL, "dev-003", 7, &kind), IOTSEC_E_REVOKED);
    ck_assert_int_eq(iotsec_denylist_check(&dl, NULL, "a", 1, &kind), IOTSEC_E_REVOKED);
    /* both given: the fingerprint is reported first */
    ck_assert_int_eq(iotsec_denylist_check(&dl, fp, "dev-001", 7, &kind), IOTSEC_E_REVOKED);
    ck_assert_int_eq(kind, IOTSEC_DENY_FINGERPRINT);

    /* misses: prefixes, other case, commented-out id, another fingerprint */
    ck_assert_int_eq(iotsec_denylist_check(&dl, NULL, "dev-00", 6, &kind), IOTSEC_OK);
    ck_assert_int_eq(kind, IOTSEC_DENY_NONE);
    ck_assert_int_eq(iotsec_denylist_check(&dl, NULL, "DEV-001", 7, &kind), IOTSEC_OK);
    ck_assert_int_eq(iotsec_denylist_check(&dl, NULL, "dev-commented-out", 17, &kind), IOTSEC_OK);
    ck_assert_int_eq(iotsec_denylist_check(&dl, NULL, "", 0, &kind), IOTSEC_OK);
    fp[31] ^= 1;
    ck_assert_int_eq(iotsec_denylist_check(&dl, fp, "dev-004", 7, &kind), IOTSEC_OK);
    ck_assert_int_eq(kind, IOTSEC_DENY_NONE);
    /* an over-long id is simply not listed */
    ck_assert_int_eq(iotsec_denylist_check(&dl, NULL, text, 100, NULL), IOTSEC_OK);

    ck_assert_int_eq(iotsec_denylist_check(NULL, fp, NULL, 0, NULL), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_denylist_check(&dl, NULL, NULL, 3, NULL), IOTSEC_E_INVALID_ARG);
    free(fp);
}
END_TEST

START_TEST(test_empty_and_capacity)
{
    iotsec_deny_entry st[2];
    iotsec_denylist dl = {NULL, 9};
    size_t count = 5, line = 5;

    ck_assert_int_eq(iotsec_denylist_count(NULL, 0, &count, &line), IOTSEC_OK);
    ck_assert_uint_eq(count, 0);
    ck_assert_int_eq(iotsec_denylist_parse(&dl, NULL, 0, NULL, 0, &line), IOTSEC_OK);
    ck_assert_uint_eq(dl.count, 0);
    ck_assert_int_eq(iotsec_denylist_check(&dl, NULL, "x", 1, NULL), IOTSEC_OK);
    ck_assert_int_eq(parse_text("# only comments\n\n", &dl, NULL, 0, &line), IOTSEC_OK);
    ck_assert_uint_eq(dl.count, 0);

    dl.entries = NULL;
    dl.count = 9;
    ck_assert_int_eq(parse_text("id:a\nid:b\nid:c\n", &dl, st, 2, &line),
                     IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_ptr_null(dl.entries);
    /* a bad line is reported even when the storage is short */
    ck_assert_int_eq(parse_text("id:a\nid:b\nid:c\nbogus\n", &dl, st, 2, &line),
                     IOTSEC_E_MALFORMED);
    ck_assert_uint_eq(line, 4);

    ck_assert_int_eq(iotsec_denylist_count(NULL, 3, &count, &line), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_denylist_count((const uint8_t *)"id:a", 4, NULL, &line),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_denylist_parse(NULL, st, 2, (const uint8_t *)"id:a", 4, &line),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_denylist_parse(&dl, NULL, 2, (const uint8_t *)"id:a", 4, &line),
                     IOTSEC_E_INVALID_ARG);
    /* err_line is optional */
    ck_assert_int_eq(parse_text("nope", &dl, st, 2, NULL), IOTSEC_E_MALFORMED);
}
END_TEST

START_TEST(test_bad_lines_name_their_number)
{
    char text[2200];

    expect_error("id:ok\nfoo:bar\n", IOTSEC_E_MALFORMED, 2);
    expect_error("\n\n\nsha1:0123\n", IOTSEC_E_MALFORMED, 4);
    expect_error(" id:dev-1\n", IOTSEC_E_MALFORMED, 1);   /* leading space */
    expect_error("ID:dev-1\n", IOTSEC_E_MALFORMED, 1);    /* prefixes are lower case */
    expect_error("SHA256:ba78\n", IOTSEC_E_MALFORMED, 1);
    expect_error("id:ok\nid:dev 1\n", IOTSEC_E_BAD_ENCODING, 2);
    expect_error("id:dev-1 \n", IOTSEC_E_BAD_ENCODING, 1); /* trailing space */
    expect_error("id:dev-1 # stolen\n", IOTSEC_E_BAD_ENCODING, 1); /* no trailing comments */
    expect_error("id:dev/1\n", IOTSEC_E_BAD_ENCODING, 1);
    expect_error("id:\n", IOTSEC_E_BAD_LENGTH, 1);
    expect_error("# c\nid:"
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
                 IOTSEC_E_BAD_LENGTH, 2); /* 65 bytes */
    /* fingerprints: exactly 64 hex digits */
    expect_error("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a\n",
                 IOTSEC_E_BAD_ENCODING, 1);
    expect_error("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015adaa\n",
                 IOTSEC_E_BAD_ENCODING, 1);
    expect_error("sha256:zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n",
                 IOTSEC_E_BAD_ENCODING, 1);
    expect_error("sha256:BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C\n",
                 IOTSEC_E_BAD_ENCODING, 1);
    expect_error("sha256:\n", IOTSEC_E_BAD_ENCODING, 1);

    /* an embedded NUL byte (the text is not a C string here) */
    {
        static const uint8_t nul_text[] = "id:ok\nid:de\0v\n";
        size_t count, line = 0;
        ck_assert_int_eq(iotsec_denylist_count(nul_text, sizeof nul_text - 1u, &count, &line),
                         IOTSEC_E_BAD_ENCODING);
        ck_assert_uint_eq(line, 2);
    }

    /* a line over IOTSEC_DENYLIST_LINE_MAX, even a comment */
    memset(text, 0, sizeof text);
    strcpy(text, "id:a\n#");
    memset(text + 6, 'x', IOTSEC_DENYLIST_LINE_MAX);
    strcat(text, "\nid:b\n");
    expect_error(text, IOTSEC_E_BAD_LENGTH, 2);
    /* exactly the maximum is fine */
    text[6 + IOTSEC_DENYLIST_LINE_MAX - 1u] = '\n';
    {
        size_t count = 0, line = 0;
        ck_assert_int_eq(iotsec_denylist_count((const uint8_t *)text, strlen(text), &count, &line),
                         IOTSEC_OK);
        ck_assert_uint_eq(count, 2);
    }
}
END_TEST

/* Many entries in random order: every one found, sorted output, non-members absent. */
START_TEST(test_many_entries_sorted)
{
    enum { N = 3000 };
    char *text = malloc((size_t)N * 80u), id[32];
    iotsec_deny_entry *st = malloc(N * sizeof *st);
    iotsec_denylist dl;
    uint8_t fp[32];
    char hex[65];
    size_t pos = 0, line = 0, i;
    uint32_t x = 7;

    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(st);
    for (i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        if (i % 3 == 0) {
            tu_pattern(fp, sizeof fp, (uint32_t)i);
            ck_assert_int_eq(iotsec_hex_encode(fp, 32, hex, sizeof hex), IOTSEC_OK);
            pos += (size_t)sprintf(text + pos, "sha256:%s\n", hex);
        } else {
            pos += (size_t)sprintf(text + pos, "id:d%u-%zu\n", (unsigned)(x % 1000u), i);
        }
    }
    ck_assert_int_eq(iotsec_denylist_parse(&dl, st, N, (const uint8_t *)text, pos, &line),
                     IOTSEC_OK);
    ck_assert_uint_eq(dl.count, N);
    for (i = 1; i < dl.count; i++) {
        const iotsec_deny_entry *a = &dl.entries[i - 1], *b = &dl.entries[i];
        ck_assert(a->kind < b->kind || (a->kind == b->kind && (a->len < b->len ||
                  (a->len == b->len && memcmp(a->value, b->value, a->len) < 0))));
    }
    x = 7;
    for (i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        if (i % 3 == 0) {
            tu_pattern(fp, sizeof fp, (uint32_t)i);
            ck_assert_int_eq(iotsec_denylist_check(&dl, fp, NULL, 0, NULL), IOTSEC_E_REVOKED);
            fp[0] ^= 0x55;
            ck_assert_int_eq(iotsec_denylist_check(&dl, fp, NULL, 0, NULL), IOTSEC_OK);
        } else {
            int n = sprintf(id, "d%u-%zu", (unsigned)(x % 1000u), i);
            ck_assert_int_eq(iotsec_denylist_check(&dl, NULL, id, (size_t)n, NULL),
                             IOTSEC_E_REVOKED);
            n = sprintf(id, "d%u-%zu", (unsigned)(x % 1000u), i + N);
            ck_assert_int_eq(iotsec_denylist_check(&dl, NULL, id, (size_t)n, NULL), IOTSEC_OK);
        }
    }
    free(text);
    free(st);
}
END_TEST

static Suite *denylist_suite(void)
{
    Suite *s = suite_create("denylist");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_device_id_alphabet);
    tcase_add_test(tc, test_parse_and_lookup);
    tcase_add_test(tc, test_empty_and_capacity);
    tcase_add_test(tc, test_bad_lines_name_their_number);
    tcase_add_test(tc, test_many_entries_sorted);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(denylist_suite()); }
