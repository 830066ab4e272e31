/* Check suite: sender counters that survive power loss (counter.h, bindings-spec/SPEC.md §6) — slot
 * record known answers and the bindings-spec vectors, boot selection, reservation writes,
 * write/flush failures, exhaustion, an exhaustive torn-write proof, random power-loss
 * chains, the POSIX file port and a kill -9 test. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define JSMN_STATIC
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#include "../../libiotsec/core/third_party/jsmn/jsmn.h" /* the bundled copy */
#pragma GCC diagnostic pop

#include "testutil.h"

#define SLOT IOTSEC_COUNTER_RECORD_LEN

/* ---- an in-memory test port -------------------------------------------------------------- */

typedef struct tport tport;
struct tport {
    uint8_t flash[2 * SLOT];
    unsigned reads, writes, flushes;
    unsigned last_slot; /* slot of the last write */
    int read_rc, write_rc, flush_rc; /* injected results (0 = work normally) */
    int lie;                         /* 1: write reports success and stores nothing;
                                        2: it stores the record with one bit flipped */
    /* called with the write about to happen, before it reaches flash; returning non-zero
     * makes the write "lose power": it returns that code and the flash keeps what the hook
     * left there */
    int (*hook)(tport *p, unsigned slot, const uint8_t *buf);
};

static int tp_read(void *ctx, unsigned slot, uint8_t buf[SLOT])
{
    tport *p = ctx;

    ck_assert_uint_lt(slot, 2);
    p->reads++;
    if (p->read_rc != 0)
        return p->read_rc;
    memcpy(buf, p->flash + slot * SLOT, SLOT);
    return IOTSEC_OK;
}

static int tp_write(void *ctx, unsigned slot, const uint8_t buf[SLOT])
{
    tport *p = ctx;

    ck_assert_uint_lt(slot, 2);
    if (p->write_rc != 0)
        return p->write_rc;
    if (p->hook != NULL) {
        int rc = p->hook(p, slot, buf);
        if (rc != 0)
            return rc;
    }
    if (p->lie == 1)
        return IOTSEC_OK;
    memcpy(p->flash + slot * SLOT, buf, SLOT);
    if (p->lie == 2)
        p->flash[slot * SLOT + 11] ^= 0x04;
    p->writes++;
    p->last_slot = slot;
    return IOTSEC_OK;
}

static int tp_flush(void *ctx)
{
    tport *p = ctx;

    if (p->flush_rc != 0)
        return p->flush_rc;
    p->flushes++;
    return IOTSEC_OK;
}

static void tp_init(tport *p, iotsec_counter_port *port)
{
    memset(p, 0, sizeof *p);
    memset(p->flash, 0xff, sizeof p->flash); /* erased flash */
    port->ctx = p;
    port->read = tp_read;
    port->write = tp_write;
    port->flush = tp_flush;
}

static void put_record(tport *p, unsigned slot, uint32_t seq, uint64_t reserved)
{
    iotsec_counter_record rec;

    rec.seq = seq;
    rec.reserved = reserved;
    ck_assert_int_eq(iotsec_counter_record_encode(&rec, p->flash + slot * SLOT), IOTSEC_OK);
}

static iotsec_counter_record get_record(const tport *p, unsigned slot)
{
    iotsec_counter_record rec;

    ck_assert_int_eq(iotsec_counter_record_decode(&rec, p->flash + slot * SLOT, SLOT),
                     IOTSEC_OK);
    return rec;
}

static uint64_t next_ok(iotsec_counter *c)
{
    uint64_t ctr = 0;
    int rc = iotsec_counter_next(c, &ctr);

    ck_assert_msg(rc == IOTSEC_OK, "next: %s", iotsec_strerror(rc));
    return ctr;
}

/* ---- the record ------------------------------------------------------------------------ */

START_TEST(test_record_known_answer)
{
    /* seq 1, reserved 1025: a blank device's first record with R = 1024. CRC-32/IEEE of
     * the first 16 bytes computed independently (zlib.crc32) = 0xfc1133dd. */
    size_t n;
    uint8_t *want = tu_hex("494f544e 00000001 0000000000000401 fc1133dd", &n);
    uint8_t out[SLOT];
    iotsec_counter_record rec = {1, 1025}, back;

    ck_assert_uint_eq(n, SLOT);
    ck_assert_int_eq(iotsec_counter_record_encode(&rec, out), IOTSEC_OK);
    ck_assert_mem_eq(out, want, SLOT);
    ck_assert_int_eq(iotsec_counter_record_decode(&back, want, n), IOTSEC_OK);
    ck_assert_uint_eq(back.seq, 1);
    ck_assert_uint_eq(back.reserved, 1025);
    free(want);
}
END_TEST

START_TEST(test_record_errors)
{
    uint8_t buf[SLOT + 1], zero[SLOT];
    iotsec_counter_record rec = {7, 7169}, back = {99, 99};
    size_t i;

    ck_assert_int_eq(iotsec_counter_record_encode(&rec, buf), IOTSEC_OK);
    buf[SLOT] = 0;
    ck_assert_int_eq(iotsec_counter_record_decode(NULL, buf, SLOT), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_counter_record_decode(&back, NULL, SLOT), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_counter_record_encode(NULL, buf), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_counter_record_encode(&rec, NULL), IOTSEC_E_INVALID_ARG);
    rec.reserved = 0;
    memset(zero, 0x5a, sizeof zero);
    ck_assert_int_eq(iotsec_counter_record_encode(&rec, zero), IOTSEC_E_INVALID_ARG);
    for (i = 0; i < SLOT; i++)
        ck_assert_int_eq(iotsec_counter_record_decode(&back, buf, i), IOTSEC_E_TRUNCATED);
    ck_assert_int_eq(iotsec_counter_record_decode(&back, buf, SLOT + 1), IOTSEC_E_TRAILING_DATA);
    /* every single-bit flip is detected: magic → BAD_VERSION, anything else → CORRUPT */
    for (i = 0; i < SLOT * 8; i++) {
        int rc;
        buf[i / 8] ^= (uint8_t)(1u << (i % 8));
        rc = iotsec_counter_record_decode(&back, buf, SLOT);
        ck_assert_int_eq(rc, i < 32 ? IOTSEC_E_BAD_VERSION : IOTSEC_E_CORRUPT);
        buf[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    ck_assert_uint_eq(back.seq, 99); /* never written on error */
    ck_assert_int_eq(iotsec_counter_record_decode(&back, buf, SLOT), IOTSEC_OK);
    ck_assert_uint_eq(back.reserved, 7169);
}
END_TEST

START_TEST(test_seq_newer)
{
    ck_assert_int_eq(iotsec_counter_seq_newer(2, 1), 1);
    ck_assert_int_eq(iotsec_counter_seq_newer(1, 2), 0);
    ck_assert_int_eq(iotsec_counter_seq_newer(5, 5), 0);
    ck_assert_int_eq(iotsec_counter_seq_newer(0, 0xffffffffu), 1); /* wraps */
    ck_assert_int_eq(iotsec_counter_seq_newer(0xffffffffu, 0), 0);
    ck_assert_int_eq(iotsec_counter_seq_newer(0x7fffffffu, 0), 1);
    ck_assert_int_eq(iotsec_counter_seq_newer(0x80000000u, 0), 0); /* undefined: neither */
    ck_assert_int_eq(iotsec_counter_seq_newer(0, 0x80000000u), 0);
    ck_assert_int_eq(iotsec_counter_seq_newer(0x80000001u, 1), 0);
}
END_TEST

/* ---- bindings-spec/vectors/counter_record.json ------------------------------------------ */

typedef struct json {
    char *text;
    jsmntok_t *tok;
    int ntok;
} json;

static void json_load(json *j, const char *path)
{
    size_t len;
    jsmn_parser p;

    j->text = (char *)tu_read_file(path, &len);
    jsmn_init(&p);
    j->ntok = jsmn_parse(&p, j->text, len, NULL, 0);
    ck_assert_int_gt(j->ntok, 0);
    j->tok = calloc((size_t)j->ntok, sizeof *j->tok);
    ck_assert_ptr_nonnull(j->tok);
    jsmn_init(&p);
    ck_assert_int_eq(jsmn_parse(&p, j->text, len, j->tok, (unsigned)j->ntok), j->ntok);
}

static int json_skip(const json *j, int i)
{
    int n = j->tok[i].size, k;

    i++;
    for (k = 0; k < n; k++)
        i = json_skip(j, i);
    return i;
}

static int json_is(const json *j, int i, const char *s)
{
    size_t n = (size_t)(j->tok[i].end - j->tok[i].start);
    return strlen(s) == n && memcmp(j->text + j->tok[i].start, s, n) == 0;
}

/* index of the value of member key in object obj, or -1 */
static int json_get(const json *j, int obj, const char *key)
{
    int i = obj + 1, k;

    ck_assert_int_eq(j->tok[obj].type, JSMN_OBJECT);
    for (k = 0; k < j->tok[obj].size; k++) {
        if (json_is(j, i, key))
            return i + 1;
        i = json_skip(j, i + 1);
    }
    return -1;
}

static char *json_str(const json *j, int i)
{
    size_t n = (size_t)(j->tok[i].end - j->tok[i].start);
    char *s = malloc(n + 1);

    ck_assert_ptr_nonnull(s);
    memcpy(s, j->text + j->tok[i].start, n);
    s[n] = 0;
    return s;
}

static uint64_t json_u64(const json *j, int i)
{
    uint64_t v = 0;

    ck_assert_int_ge(i, 0);
    ck_assert_int_eq(iotsec_parse_u64_dec(j->text + j->tok[i].start,
                                          (size_t)(j->tok[i].end - j->tok[i].start), UINT64_MAX,
                                          &v),
                     IOTSEC_OK);
    return v;
}

static uint8_t *json_hex(const json *j, int i, size_t *len)
{
    char *s = json_str(j, i);
    uint8_t *b = tu_hex(s, len);

    free(s);
    return b;
}

START_TEST(test_vectors_json)
{
    json j;
    int arr, i, k, nrec = 0, ninv = 0, nboot = 0;

    json_load(&j, "bindings-spec/vectors/counter_record.json");
    /* records: encode and decode */
    arr = json_get(&j, 0, "records");
    ck_assert_int_gt(arr, 0);
    for (k = 0, i = arr + 1; k < j.tok[arr].size; k++, i = json_skip(&j, i), nrec++) {
        iotsec_counter_record rec, back;
        uint8_t out[SLOT];
        size_t n;
        uint8_t *want = json_hex(&j, json_get(&j, i, "encoded"), &n);
        rec.seq = (uint32_t)json_u64(&j, json_get(&j, i, "seq"));
        rec.reserved = json_u64(&j, json_get(&j, i, "reserved"));
        ck_assert_uint_eq(n, SLOT);
        ck_assert_int_eq(iotsec_counter_record_encode(&rec, out), IOTSEC_OK);
        ck_assert_mem_eq(out, want, SLOT);
        ck_assert_int_eq(iotsec_counter_record_decode(&back, want, n), IOTSEC_OK);
        ck_assert(back.seq == rec.seq && back.reserved == rec.reserved);
        free(want);
    }
    /* invalid slots: the named error */
    arr = json_get(&j, 0, "invalid");
    for (k = 0, i = arr + 1; k < j.tok[arr].size; k++, i = json_skip(&j, i), ninv++) {
        iotsec_counter_record back;
        size_t n;
        uint8_t *in = json_hex(&j, json_get(&j, i, "encoded"), &n);
        char *err = json_str(&j, json_get(&j, i, "error"));
        int rc = iotsec_counter_record_decode(&back, in, n);
        ck_assert_msg(iotsec_error_name(rc) != NULL && strcmp(iotsec_error_name(rc), err) == 0,
                      "invalid vector %d: got %s, want %s", k, iotsec_strerror(rc), err);
        free(in);
        free(err);
    }
    /* boot: the first counter and the record written before it */
    arr = json_get(&j, 0, "boot");
    for (k = 0, i = arr + 1; k < j.tok[arr].size; k++, i = json_skip(&j, i), nboot++) {
        tport p;
        iotsec_counter_port port;
        iotsec_counter c;
        uint8_t *s0, *s1;
        size_t n0, n1;
        uint64_t ctr = 7;
        int e = json_get(&j, i, "error");

        tp_init(&p, &port);
        s0 = json_hex(&j, json_get(&j, i, "slot0"), &n0);
        s1 = json_hex(&j, json_get(&j, i, "slot1"), &n1);
        ck_assert(n0 == SLOT && n1 == SLOT);
        memcpy(p.flash, s0, SLOT);
        memcpy(p.flash + SLOT, s1, SLOT);
        ck_assert_int_eq(iotsec_counter_open(&c, &port, (uint32_t)json_u64(&j, json_get(&j, i, "step"))),
                         IOTSEC_OK);
        if (e >= 0) {
            char *err = json_str(&j, e);
            ck_assert_str_eq(iotsec_error_name(iotsec_counter_next(&c, &ctr)), err);
            ck_assert_uint_eq(ctr, 0);
            ck_assert_uint_eq(p.writes, 0);
            free(err);
        } else {
            size_t n;
            uint8_t *rec = json_hex(&j, json_get(&j, i, "write_record"), &n);
            unsigned slot = (unsigned)json_u64(&j, json_get(&j, i, "write_slot"));
            ck_assert_uint_eq(next_ok(&c), json_u64(&j, json_get(&j, i, "first_counter")));
            ck_assert_uint_eq(p.writes, 1);
            ck_assert_uint_eq(p.flushes, 1);
            ck_assert_uint_eq(p.last_slot, slot);
            ck_assert_mem_eq(p.flash + slot * SLOT, rec, SLOT);
            /* the other slot is untouched */
            ck_assert_mem_eq(p.flash + (1u - slot) * SLOT, slot ? s0 : s1, SLOT);
            free(rec);
        }
        free(s0);
        free(s1);
    }
    ck_assert(nrec >= 5 && ninv >= 10 && nboot >= 15);
    free(j.tok);
    free(j.text);
}
END_TEST

/* ---- reservation behaviour ------------------------------------------------------------- */

START_TEST(test_blank_device_sequence)
{
    tport p;
    iotsec_counter_port port;
    iotsec_counter c;
    iotsec_counter_record r;
    uint64_t i;

    tp_init(&p, &port);
    ck_assert_int_eq(iotsec_counter_open(&c, &port, 4), IOTSEC_OK);
    ck_assert_uint_eq(p.reads, 2);
    ck_assert_uint_eq(p.writes, 0); /* open writes nothing */
    ck_assert_uint_eq(next_ok(&c), 1);
    r = get_record(&p, 0); /* first reservation: slot 0, seq 1, reserved 1 + R */
    ck_assert(r.seq == 1 && r.reserved == 5);
    ck_assert_uint_eq(p.writes, 1);
    ck_assert_uint_eq(p.flushes, 1);
    for (i = 2; i <= 4; i++)
        ck_assert_uint_eq(next_ok(&c), i);
    ck_assert_uint_eq(p.writes, 1); /* no write inside a reservation */
    ck_assert_uint_eq(next_ok(&c), 5);
    r = get_record(&p, 1);
    ck_assert(r.seq == 2 && r.reserved == 9);
    for (i = 6; i <= 9; i++)
        ck_assert_uint_eq(next_ok(&c), i);
    r = get_record(&p, 0); /* alternates */
    ck_assert(r.seq == 3 && r.reserved == 13);
    ck_assert_uint_eq(p.writes, 3);
    ck_assert_uint_eq(p.flushes, 3);
}
END_TEST

START_TEST(test_reboot_resumes_at_reservation)
{
    tport p;
    iotsec_counter_port port;
    iotsec_counter c;
    uint64_t i;

    tp_init(&p, &port);
    ck_assert_int_eq(iotsec_counter_open(&c, &port, 4), IOTSEC_OK);
    for (i = 1; i <= 6; i++)
        ck_assert_uint_eq(next_ok(&c), i); /* reserved is now 9 (slot 1, seq 2) */
    /* reboot: every counter below 9 may have been used; start at 9 */
    ck_assert_int_eq(iotsec_counter_open(&c, &port, 4), IOTSEC_OK);
    ck_assert_uint_eq(next_ok(&c), 9);
    ck_assert_uint_eq(p.last_slot, 0);
    ck_assert(get_record(&p, 0).seq == 3 && get_record(&p, 0).reserved == 13);
    /* reboot with another R: the step changes, the position does not go back */
    ck_assert_int_eq(iotsec_counter_open(&c, &port, 100), IOTSEC_OK);
    ck_assert_uint_eq(next_ok(&c), 13);
    ck_assert(get_record(&p, 1).seq == 4 && get_record(&p, 1).reserved == 113);
}
END_TEST

START_TEST(test_write_and_flush_failures)
{
    tport p;
    iotsec_counter_port port;
    iotsec_counter c;
    uint64_t ctr = 5;
    uint8_t before[2 * SLOT];

    tp_init(&p, &port);
    ck_assert_int_eq(iotsec_counter_open(&c, &port, 4), IOTSEC_OK);
    /* write fails: an error, no counter, nothing stored; then the retry succeeds */
    p.write_rc = IOTSEC_E_IO;
    ck_assert_int_eq(iotsec_counter_next(&c, &ctr), IOTSEC_E_IO);
    ck_assert_uint_eq(ctr, 0);
    ck_assert_int_eq(iotsec_counter_next(&c, &ctr), IOTSEC_E_IO);
    p.write_rc = 0;
    ck_assert_uint_eq(next_ok(&c), 1);
    ck_assert(get_record(&p, 0).seq == 1 && get_record(&p, 0).reserved == 5);
    ck_assert_uint_eq(next_ok(&c), 2);
    ck_assert_uint_eq(next_ok(&c), 3);
    ck_assert_uint_eq(next_ok(&c), 4);
    /* flush fails: the write may or may not be durable, so no counter is handed out */
    p.flush_rc = IOTSEC_E_IO;
    ctr = 5;
    ck_assert_int_eq(iotsec_counter_next(&c, &ctr), IOTSEC_E_IO);
    ck_assert_uint_eq(ctr, 0);
    memcpy(before, p.flash, sizeof before);
    /* a port reporting a non-IOTSEC failure (positive) is an I/O error; a negative code passes */
    p.flush_rc = 1;
    ck_assert_int_eq(iotsec_counter_next(&c, &ctr), IOTSEC_E_IO);
    p.flush_rc = IOTSEC_E_NO_MEMORY;
    ck_assert_int_eq(iotsec_counter_next(&c, &ctr), IOTSEC_E_NO_MEMORY);
    ck_assert_mem_eq(p.flash, before, sizeof before); /* each retry rewrites the same record */
    p.flush_rc = 0;
    ck_assert_uint_eq(next_ok(&c), 5);
    ck_assert(get_record(&p, 1).seq == 2 && get_record(&p, 1).reserved == 9);
    ck_assert(get_record(&p, 0).seq == 1); /* the current record was never touched */
}
END_TEST

/* A port that says a write succeeded when the record is not on the medium (a worn or
 * write-protected flash, a driver that drops writes): the counters of that reservation
 * would be handed out again after the next reboot. The written slot is read back, and no
 * counter is handed out unless it holds exactly the new record. */
START_TEST(test_lying_port)
{
    tport p;
    iotsec_counter_port port;
    iotsec_counter c;
    uint64_t ctr = 7;
    unsigned lie;

    for (lie = 1; lie <= 2; lie++) {
        tp_init(&p, &port);
        ck_assert_int_eq(iotsec_counter_open(&c, &port, 4), IOTSEC_OK);
        p.lie = (int)lie;
        ck_assert_int_eq(iotsec_counter_next(&c, &ctr), IOTSEC_E_IO);
        ck_assert_uint_eq(ctr, 0);
        ck_assert_int_eq(iotsec_counter_next(&c, &ctr), IOTSEC_E_IO);
        /* the port works again: the same record is written, counting resumes at 1 */
        p.lie = 0;
        ck_assert_uint_eq(next_ok(&c), 1);
        ck_assert(get_record(&p, 0).seq == 1 && get_record(&p, 0).reserved == 5);
        ck_assert_uint_eq(next_ok(&c), 2);
        ck_assert_uint_eq(next_ok(&c), 3);
        ck_assert_uint_eq(next_ok(&c), 4);
        /* a lie at the next reservation: counters 5.. stay unused, the old record stands */
        p.lie = (int)lie;
        ck_assert_int_eq(iotsec_counter_next(&c, &ctr), IOTSEC_E_IO);
        ck_assert_uint_eq(ctr, 0);
        ck_assert_int_eq(iotsec_counter_open(&c, &port, 4), IOTSEC_OK);
        p.lie = 0;
        ck_assert_uint_eq(next_ok(&c), 5);
        /* a read failing during the check is an error too */
        ck_assert_uint_eq(next_ok(&c), 6);
        ck_assert_uint_eq(next_ok(&c), 7);
        ck_assert_uint_eq(next_ok(&c), 8);
        p.read_rc = IOTSEC_E_IO;
        ck_assert_int_eq(iotsec_counter_next(&c, &ctr), IOTSEC_E_IO);
        ck_assert_uint_eq(ctr, 0);
        p.read_rc = 0;
        ck_assert_uint_eq(next_ok(&c), 9);
    }
}
END_TEST

START_TEST(test_open_errors)
{
    tport p;
    iotsec_counter_port port, bad;
    iotsec_counter c;
    uint64_t ctr = 3;

    tp_init(&p, &port);
    ck_assert_int_eq(iotsec_counter_open(NULL, &port, 4), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_counter_open(&c, NULL, 4), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_counter_open(&c, &port, 0), IOTSEC_E_INVALID_ARG);
    bad = port;
    bad.read = NULL;
    ck_assert_int_eq(iotsec_counter_open(&c, &bad, 4), IOTSEC_E_INVALID_ARG);
    bad = port;
    bad.write = NULL;
    ck_assert_int_eq(iotsec_counter_open(&c, &bad, 4), IOTSEC_E_INVALID_ARG);
    bad = port;
    bad.flush = NULL;
    ck_assert_int_eq(iotsec_counter_open(&c, &bad, 4), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_counter_next(&c, &ctr), IOTSEC_E_STATE); /* failed open */
    ck_assert_uint_eq(ctr, 0);
    /* a read error is not a blank device: refuse to start */
    put_record(&p, 0, 1, 1000);
    p.read_rc = IOTSEC_E_IO;
    ck_assert_int_eq(iotsec_counter_open(&c, &port, 4), IOTSEC_E_IO);
    ck_assert_int_eq(iotsec_counter_next(&c, &ctr), IOTSEC_E_STATE);
    ck_assert_uint_eq(p.writes, 0);
    p.read_rc = 0;
    ck_assert_int_eq(iotsec_counter_open(&c, &port, 4), IOTSEC_OK);
    ck_assert_int_eq(iotsec_counter_next(NULL, &ctr), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_counter_next(&c, NULL), IOTSEC_E_INVALID_ARG);
    ck_assert_uint_eq(next_ok(&c), 1000);
    memset(&c, 0, sizeof c); /* never opened */
    ck_assert_int_eq(iotsec_counter_next(&c, &ctr), IOTSEC_E_STATE);
}
END_TEST

START_TEST(test_exhaustion)
{
    tport p;
    iotsec_counter_port port;
    iotsec_counter c;
    uint64_t ctr = 1, i;

    /* the last reservation ends exactly at UINT64_MAX: counters up to UINT64_MAX − 1 */
    tp_init(&p, &port);
    put_record(&p, 1, 9, UINT64_MAX - 16);
    ck_assert_int_eq(iotsec_counter_open(&c, &port, 16), IOTSEC_OK);
    for (i = UINT64_MAX - 16; i < UINT64_MAX; i++)
        ck_assert_uint_eq(next_ok(&c), i);
    ck_assert(get_record(&p, 0).reserved == UINT64_MAX);
    ck_assert_int_eq(iotsec_counter_next(&c, &ctr), IOTSEC_E_COUNTER_EXHAUSTED);
    ck_assert_uint_eq(ctr, 0);
    ck_assert_int_eq(iotsec_counter_next(&c, &ctr), IOTSEC_E_COUNTER_EXHAUSTED);
    ck_assert_uint_eq(p.writes, 1);
    /* after a reboot, still exhausted (reserved = UINT64_MAX, nothing left) */
    ck_assert_int_eq(iotsec_counter_open(&c, &port, 1), IOTSEC_OK);
    ck_assert_int_eq(iotsec_counter_next(&c, &ctr), IOTSEC_E_COUNTER_EXHAUSTED);
    /* a reservation that would pass UINT64_MAX is refused, never wrapped or clamped */
    tp_init(&p, &port);
    put_record(&p, 0, 9, UINT64_MAX - 5);
    ck_assert_int_eq(iotsec_counter_open(&c, &port, 16), IOTSEC_OK);
    ck_assert_int_eq(iotsec_counter_next(&c, &ctr), IOTSEC_E_COUNTER_EXHAUSTED);
    ck_assert_uint_eq(p.writes, 0);
    ck_assert_int_eq(iotsec_counter_open(&c, &port, 5), IOTSEC_OK);
    ck_assert_uint_eq(next_ok(&c), UINT64_MAX - 5); /* exactly fits with R = 5 */
}
END_TEST

START_TEST(test_boot_selection)
{
    tport p;
    iotsec_counter_port port;
    iotsec_counter c;

    /* seq wraps: 0 is newer than 0xffffffff */
    tp_init(&p, &port);
    put_record(&p, 0, 0xffffffffu, 5000);
    put_record(&p, 1, 0, 6024);
    ck_assert_int_eq(iotsec_counter_open(&c, &port, 1024), IOTSEC_OK);
    ck_assert_uint_eq(next_ok(&c), 6024);
    ck_assert_uint_eq(p.last_slot, 0);
    ck_assert(get_record(&p, 0).seq == 1 && get_record(&p, 0).reserved == 7048);
    /* torn newest slot: the older one is used */
    tp_init(&p, &port);
    put_record(&p, 0, 4, 400);
    put_record(&p, 1, 5, 500);
    p.flash[SLOT + 10] ^= 1;
    ck_assert_int_eq(iotsec_counter_open(&c, &port, 100), IOTSEC_OK);
    ck_assert_uint_eq(next_ok(&c), 400);
    ck_assert_uint_eq(p.last_slot, 1); /* the damaged slot is the one rewritten */
    ck_assert(get_record(&p, 1).seq == 5 && get_record(&p, 1).reserved == 500);
    /* a forged or damaged pair whose newer record reserves less: never go back */
    tp_init(&p, &port);
    put_record(&p, 0, 7, 500);
    put_record(&p, 1, 6, 900);
    ck_assert_int_eq(iotsec_counter_open(&c, &port, 64), IOTSEC_OK);
    ck_assert_uint_eq(next_ok(&c), 900);
    ck_assert_uint_eq(p.last_slot, 1);
    ck_assert(get_record(&p, 1).seq == 8 && get_record(&p, 1).reserved == 964);
}
END_TEST

/* ---- power-loss proof: every write torn at every byte ----------------------------------- */

#define PL_STEP 16u
#define PL_COUNTERS 5000u

static struct {
    uint64_t max_out;       /* largest counter handed out in the main timeline */
    unsigned reboots;       /* torn states rebooted from */
    unsigned new_won;       /* reboots where the torn record was nevertheless complete */
    unsigned old_won;       /* reboots that resumed from the previous record */
} pl;

/* Boot from flash as a power cut left it and check the sender moves on past max_out:
 * the first counter is above it (and skips at most R + 1), then it keeps going across two
 * more reservations. */
static void reboot_and_check(const uint8_t flash[2 * SLOT], uint64_t max_out)
{
    tport t;
    iotsec_counter_port port;
    iotsec_counter c;
    uint64_t prev = max_out, ctr;
    unsigned i;

    tp_init(&t, &port);
    memcpy(t.flash, flash, sizeof t.flash);
    ck_assert_int_eq(iotsec_counter_open(&c, &port, PL_STEP), IOTSEC_OK);
    for (i = 0; i < 2 * PL_STEP + 1; i++) {
        ctr = next_ok(&c); /* progress after the reboot */
        ck_assert_msg(ctr > prev, "counter %llu reused after a torn write (max %llu)",
                      (unsigned long long)ctr, (unsigned long long)prev);
        if (i == 0) {
            ck_assert_uint_le(ctr, max_out + 1u + PL_STEP);
            if (ctr == max_out + 1u)
                pl.old_won++;
            else
                pl.new_won++;
        }
        prev = ctr;
    }
    ck_assert_uint_ge(t.writes, 2);
    pl.reboots++;
}

/* Before each write of the main timeline reaches flash: for every k = 0..20, the first k
 * bytes are written and the rest of the slot keeps its old bytes (or reads as erased), the
 * flush never happens, and the device reboots from that. */
static int tear_every_byte(tport *p, unsigned slot, const uint8_t *buf)
{
    uint8_t torn[2 * SLOT];
    unsigned k, fill;

    for (k = 0; k <= SLOT; k++) {
        for (fill = 0; fill < 2; fill++) {
            memcpy(torn, p->flash, sizeof torn);
            memcpy(torn + slot * SLOT, buf, k);
            if (fill)
                memset(torn + slot * SLOT + k, 0xff, SLOT - k);
            reboot_and_check(torn, pl.max_out);
        }
    }
    return 0; /* then the real write completes and the main timeline goes on */
}

START_TEST(test_power_loss_every_write_every_byte)
{
    tport p;
    iotsec_counter_port port;
    iotsec_counter c;
    uint64_t i;

    memset(&pl, 0, sizeof pl);
    tp_init(&p, &port);
    p.hook = tear_every_byte;
    ck_assert_int_eq(iotsec_counter_open(&c, &port, PL_STEP), IOTSEC_OK);
    for (i = 1; i <= PL_COUNTERS; i++) {
        ck_assert_uint_eq(next_ok(&c), i);
        pl.max_out = i;
    }
    /* ceil(5000 / 16) writes, each torn 21 × 2 ways */
    ck_assert_uint_eq(p.writes, (PL_COUNTERS + PL_STEP - 1) / PL_STEP);
    ck_assert_uint_eq(pl.reboots, p.writes * (SLOT + 1) * 2);
    /* both outcomes happened: the proof is not vacuous */
    ck_assert_uint_gt(pl.old_won, 0);
    ck_assert_uint_gt(pl.new_won, 0);
}
END_TEST

/* ---- random chains of power cuts -------------------------------------------------------- */

static uint32_t rng_state;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static int tear_random(tport *p, unsigned slot, const uint8_t *buf)
{
    unsigned k;

    if (rng() % 3 != 0)
        return 0; /* this write survives */
    k = rng() % (SLOT + 1);
    memcpy(p->flash + slot * SLOT, buf, k);
    if (rng() & 1)
        memset(p->flash + slot * SLOT + k, 0xff, SLOT - k);
    return IOTSEC_E_IO; /* power lost during the write: next() never returns */
}

START_TEST(test_power_loss_random_chains)
{
    tport p;
    iotsec_counter_port port;
    iotsec_counter c;
    uint64_t last = 0;
    unsigned boot, cuts = 0, handed = 0;

    rng_state = 0x9e3779b9u;
    tp_init(&p, &port);
    p.hook = tear_random;
    for (boot = 0; boot < 3000; boot++) {
        uint32_t step = 1u + rng() % 8u, n = rng() % 40u, i;
        ck_assert_int_eq(iotsec_counter_open(&c, &port, step), IOTSEC_OK);
        for (i = 0; i < n; i++) {
            uint64_t ctr = 0;
            int rc = iotsec_counter_next(&c, &ctr);
            if (rc == IOTSEC_E_IO) {
                cuts++;
                ck_assert_uint_eq(ctr, 0);
                break; /* power lost mid-write: reboot */
            }
            ck_assert_int_eq(rc, IOTSEC_OK);
            ck_assert_msg(ctr > last, "counter %llu reused (last %llu) at boot %u",
                          (unsigned long long)ctr, (unsigned long long)last, boot);
            last = ctr;
            handed++;
        }
    }
    ck_assert_uint_gt(cuts, 300);
    ck_assert_uint_gt(handed, 10000);
}
END_TEST

/* ---- POSIX file port -------------------------------------------------------------------- */

START_TEST(test_file_port)
{
    char dir[256], path[512], other[512];
    iotsec_counter_file f;
    iotsec_counter_port port;
    iotsec_counter c;
    struct stat st;
    uint8_t *data;
    size_t len;
    uint64_t i;
    int fd;

    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/nvs/ctr.bin", dir);
    ck_assert_int_eq(iotsec_counter_file_open(&f, path, &port), IOTSEC_E_IO); /* no dir */
    snprintf(path, sizeof path, "%s/ctr.bin", dir);
    umask(0); /* the file must still be 0600 */
    ck_assert_int_eq(iotsec_counter_file_open(&f, path, &port), IOTSEC_OK);
    umask(022);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777u, 0600u);
    ck_assert_int_eq(st.st_size, 0); /* created empty: both slots blank */
    ck_assert_int_eq(iotsec_counter_open(&c, &port, 8), IOTSEC_OK);
    for (i = 1; i <= 20; i++)
        ck_assert_uint_eq(next_ok(&c), i); /* reserved 25: slot 0 seq 3 */
    iotsec_counter_file_close(&f);
    iotsec_counter_file_close(&f); /* idempotent */
    ck_assert_int_eq(f.fd, -1);
    {
        /* the hooks of a closed port, or for a slot that does not exist, refuse */
        uint8_t slot[SLOT] = {0};
        ck_assert_int_eq(port.read(port.ctx, 0, slot), IOTSEC_E_INVALID_ARG);
        ck_assert_int_eq(port.write(port.ctx, 0, slot), IOTSEC_E_INVALID_ARG);
        ck_assert_int_eq(port.flush(port.ctx), IOTSEC_E_INVALID_ARG);
        ck_assert_int_eq(iotsec_counter_open(&c, &port, 8), IOTSEC_E_INVALID_ARG);
        ck_assert_int_eq(iotsec_counter_file_open(&f, path, &port), IOTSEC_OK);
        ck_assert_int_eq(port.read(port.ctx, 2, slot), IOTSEC_E_INVALID_ARG);
        ck_assert_int_eq(port.write(port.ctx, 2, slot), IOTSEC_E_INVALID_ARG);
        iotsec_counter_file_close(&f);
    }
    data = tu_read_file(path, &len);
    ck_assert_uint_eq(len, 2 * SLOT);
    {
        iotsec_counter_record r0, r1;
        ck_assert_int_eq(iotsec_counter_record_decode(&r0, data, SLOT), IOTSEC_OK);
        ck_assert_int_eq(iotsec_counter_record_decode(&r1, data + SLOT, SLOT), IOTSEC_OK);
        ck_assert(r0.seq == 3 && r0.reserved == 25 && r1.seq == 2 && r1.reserved == 17);
    }
    free(data);
    /* reopen: resumes at the reservation */
    ck_assert_int_eq(iotsec_counter_file_open(&f, path, &port), IOTSEC_OK);
    ck_assert_int_eq(iotsec_counter_open(&c, &port, 8), IOTSEC_OK);
    ck_assert_uint_eq(next_ok(&c), 25);
    iotsec_counter_file_close(&f);
    /* a short file reads as blank slots: 30 bytes = slot 0 and a third of slot 1 */
    {
        uint8_t buf[30];
        iotsec_counter_record rec = {1, 100};
        ck_assert_int_eq(iotsec_counter_record_encode(&rec, buf), IOTSEC_OK);
        memset(buf + SLOT, 0x00, sizeof buf - SLOT);
        tu_write_file(dir, "short.bin", buf, sizeof buf, other, sizeof other);
        ck_assert_int_eq(chmod(other, 0600), 0);
    }
    ck_assert_int_eq(iotsec_counter_file_open(&f, other, &port), IOTSEC_OK);
    ck_assert_int_eq(iotsec_counter_open(&c, &port, 8), IOTSEC_OK);
    ck_assert_uint_eq(next_ok(&c), 100);
    iotsec_counter_file_close(&f);
    ck_assert_int_eq(stat(other, &st), 0);
    ck_assert_int_eq(st.st_size, 2 * SLOT); /* slot 1 now holds seq 2, reserved 108 */
    /* longer than two slots: not a counter file, left untouched */
    snprintf(other, sizeof other, "%s/big.bin", dir);
    fd = open(other, O_WRONLY | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 41), 0);
    close(fd);
    ck_assert_int_eq(iotsec_counter_file_open(&f, other, &port), IOTSEC_E_CORRUPT);
    ck_assert_int_eq(stat(other, &st), 0);
    ck_assert_int_eq(st.st_size, 41);
    /* group- or world-writable: refused */
    ck_assert_int_eq(chmod(path, 0620), 0);
    ck_assert_int_eq(iotsec_counter_file_open(&f, path, &port), IOTSEC_E_IO);
    ck_assert_int_eq(chmod(path, 0602), 0);
    ck_assert_int_eq(iotsec_counter_file_open(&f, path, &port), IOTSEC_E_IO);
    ck_assert_int_eq(chmod(path, 0600), 0);
    /* a symbolic link is never followed; a directory is not a counter file */
    snprintf(other, sizeof other, "%s/link.bin", dir);
    ck_assert_int_eq(symlink(path, other), 0);
    ck_assert_int_eq(iotsec_counter_file_open(&f, other, &port), IOTSEC_E_IO);
    snprintf(other, sizeof other, "%s/subdir", dir);
    ck_assert_int_eq(mkdir(other, 0700), 0);
    ck_assert_int_eq(iotsec_counter_file_open(&f, other, &port), IOTSEC_E_IO);
    ck_assert_int_eq(iotsec_counter_file_open(NULL, path, &port), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_counter_file_open(&f, NULL, &port), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_counter_file_open(&f, path, NULL), IOTSEC_E_INVALID_ARG);
    tu_tmpdir_cleanup(dir);
}
END_TEST

START_TEST(test_file_port_write_error)
{
    /* a port whose file became unwritable: the reservation fails, no counter is handed out */
    char dir[256], path[512];
    iotsec_counter_file f;
    iotsec_counter_port port;
    iotsec_counter c;
    uint64_t ctr = 9;
    int fd;

    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/ctr.bin", dir);
    ck_assert_int_eq(iotsec_counter_file_open(&f, path, &port), IOTSEC_OK);
    ck_assert_int_eq(iotsec_counter_open(&c, &port, 8), IOTSEC_OK);
    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(dup2(fd, f.fd), f.fd); /* same descriptor number, now read-only */
    close(fd);
    ck_assert_int_eq(iotsec_counter_next(&c, &ctr), IOTSEC_E_IO);
    ck_assert_uint_eq(ctr, 0);
    iotsec_counter_file_close(&f);
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* ---- kill -9 at random moments ---------------------------------------------------------- */

#define K9_RUNS 100
#define K9_MAX_STEP 16u

static void k9_child(const char *path, int wfd, uint32_t step)
{
    iotsec_counter_file f;
    iotsec_counter_port port;
    iotsec_counter c;
    uint64_t ctr;

    if (iotsec_counter_file_open(&f, path, &port) != IOTSEC_OK ||
        iotsec_counter_open(&c, &port, step) != IOTSEC_OK)
        _exit(3);
    for (;;) {
        if (iotsec_counter_next(&c, &ctr) != IOTSEC_OK)
            _exit(4);
        /* reported only after next() returned it: 8 bytes, atomic on a pipe */
        if (write(wfd, &ctr, sizeof ctr) != (ssize_t)sizeof ctr)
            _exit(5);
    }
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Take the whole counters out of buf[0..*have) in order, checking each is above *last. */
typedef struct k9_tally {
    uint64_t last, first, count;
} k9_tally;

static void k9_consume(uint8_t *buf, size_t *have, k9_tally *t, unsigned run)
{
    size_t off = 0;

    for (; *have - off >= sizeof(uint64_t); off += sizeof(uint64_t)) {
        uint64_t ctr;
        memcpy(&ctr, buf + off, sizeof ctr);
        ck_assert_msg(ctr > t->last, "run %u: counter %llu repeats (last %llu)", run,
                      (unsigned long long)ctr, (unsigned long long)t->last);
        if (t->count++ == 0)
            t->first = ctr;
        t->last = ctr;
    }
    memmove(buf, buf + off, *have - off);
    *have -= off;
}

START_TEST(test_kill9_no_counter_repeats)
{
    char dir[256], path[512];
    uint64_t last = 0, total = 0, allow = K9_MAX_STEP + 1;
    k9_tally tally;
    unsigned run;

    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/ctr.bin", dir);
    rng_state = (uint32_t)getpid() * 2654435761u + 1u;
    for (run = 0; run < K9_RUNS; run++) {
        int fds[2], status, got_first = 0;
        uint32_t step = (run % 4 == 0) ? 1u : K9_MAX_STEP;
        /* odd runs: a random moment after the first counter; even: from the fork on */
        double delay = (double)(rng() % 8000u) / 1e6, deadline = 0, start;
        uint8_t buf[4096];
        size_t have = 0;
        uint64_t prev_last = last;
        pid_t pid;

        tally.last = last;
        tally.first = tally.count = 0;
        ck_assert_int_eq(pipe(fds), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            k9_child(path, fds[1], step);
        }
        close(fds[1]);
        start = now_s();
        if (run % 2 == 0)
            deadline = start + delay;
        for (;;) {
            double t = now_s();
            struct pollfd pfd;
            ssize_t n;
            int wait_ms;
            if (deadline > 0 && t >= deadline)
                break;
            ck_assert_msg(t - start < 10.0, "child produced no counter in 10 s");
            wait_ms = deadline > 0 ? (int)((deadline - t) * 1000.0) + 1 : 100;
            pfd.fd = fds[0];
            pfd.events = POLLIN;
            if (poll(&pfd, 1, wait_ms) <= 0)
                continue;
            n = read(fds[0], buf + have, sizeof buf - have);
            if (n <= 0)
                break; /* the child died on its own: caught below */
            have += (size_t)n;
            if (!got_first && have >= sizeof(uint64_t)) {
                got_first = 1;
                if (deadline == 0)
                    deadline = now_s() + delay;
            }
            k9_consume(buf, &have, &tally, run);
        }
        kill(pid, SIGKILL);
        /* drain what the child reported before it died */
        for (;;) {
            ssize_t n = read(fds[0], buf + have, sizeof buf - have);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            have += (size_t)n;
            k9_consume(buf, &have, &tally, run);
        }
        ck_assert_uint_eq(have, 0);
        close(fds[0]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                      "run %u: child exited by itself (status %d)", run, status);
        last = tally.last;
        if (run % 2 == 1)
            ck_assert_uint_gt(tally.count, 0);
        /* a restart skips at most one reservation per child that reported nothing */
        if (tally.count > 0) {
            ck_assert_uint_le(tally.first, prev_last + allow);
            allow = K9_MAX_STEP + 1;
        } else {
            allow += K9_MAX_STEP;
        }
        total += tally.count;
    }
    ck_assert_uint_ge(total, K9_RUNS / 2);
    /* and the file still moves on */
    {
        iotsec_counter_file f;
        iotsec_counter_port port;
        iotsec_counter c;
        ck_assert_int_eq(iotsec_counter_file_open(&f, path, &port), IOTSEC_OK);
        ck_assert_int_eq(iotsec_counter_open(&c, &port, 16), IOTSEC_OK);
        ck_assert_uint_gt(next_ok(&c), last);
        iotsec_counter_file_close(&f);
    }
    tu_tmpdir_cleanup(dir);
}
END_TEST

static Suite *counter_suite(void)
{
    Suite *s = suite_create("counter");
    TCase *tc = tcase_create("record");
    TCase *pl_tc = tcase_create("power-loss");
    TCase *posix = tcase_create("posix");

    tcase_add_test(tc, test_record_known_answer);
    tcase_add_test(tc, test_record_errors);
    tcase_add_test(tc, test_seq_newer);
    tcase_add_test(tc, test_vectors_json);
    tcase_add_test(tc, test_blank_device_sequence);
    tcase_add_test(tc, test_reboot_resumes_at_reservation);
    tcase_add_test(tc, test_write_and_flush_failures);
    tcase_add_test(tc, test_lying_port);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_exhaustion);
    tcase_add_test(tc, test_boot_selection);
    suite_add_tcase(s, tc);
    tcase_add_test(pl_tc, test_power_loss_every_write_every_byte);
    tcase_add_test(pl_tc, test_power_loss_random_chains);
    tcase_set_timeout(pl_tc, 120);
    suite_add_tcase(s, pl_tc);
    tcase_add_test(posix, test_file_port);
    tcase_add_test(posix, test_file_port_write_error);
    tcase_add_test(posix, test_kill9_no_counter_repeats);
    tcase_set_timeout(posix, 120);
    suite_add_tcase(s, posix);
    return s;
}

int main(void)
{
    return tu_run_suite(counter_suite());
}
