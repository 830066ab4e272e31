/* Fuzz target: the sender counter record (counter.h). The decoder on arbitrary bytes; a
 * record that decodes must re-encode to the same 20 bytes (one canonical form); fields taken
 * from the input (seq: bytes 0–3, reserved: bytes 4–11) encode and decode back; and the
 * first 40 bytes taken as the two slots of a device booting: the counters it hands out must
 * never fall below a valid slot's reservation and must strictly increase, and what it writes
 * must decode as the newer record. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iotsec/counter.h"
#include "iotsec/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct flash {
    uint8_t slot[2][IOTSEC_COUNTER_RECORD_LEN];
    unsigned writes;
} flash;

static int f_read(void *ctx, unsigned slot, uint8_t buf[IOTSEC_COUNTER_RECORD_LEN])
{
    memcpy(buf, ((flash *)ctx)->slot[slot], IOTSEC_COUNTER_RECORD_LEN);
    return IOTSEC_OK;
}

static int f_write(void *ctx, unsigned slot, const uint8_t buf[IOTSEC_COUNTER_RECORD_LEN])
{
    flash *f = ctx;
    memcpy(f->slot[slot], buf, IOTSEC_COUNTER_RECORD_LEN);
    f->writes++;
    return IOTSEC_OK;
}

static int f_flush(void *ctx)
{
    (void)ctx;
    return IOTSEC_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    iotsec_counter_record rec, back;
    uint8_t out[IOTSEC_COUNTER_RECORD_LEN];
    int rc = iotsec_counter_record_decode(&rec, data, size);

    if (rc == IOTSEC_OK) {
        if (size != IOTSEC_COUNTER_RECORD_LEN || rec.reserved == 0 ||
            iotsec_counter_record_encode(&rec, out) != IOTSEC_OK ||
            memcmp(out, data, sizeof out) != 0)
            abort();
    } else if (!iotsec_err_is_malformed(rc) && rc != IOTSEC_E_CORRUPT) {
        abort();
    }
    if (size >= 12) {
        /* encode → decode: the fields come back; reserved 0 is refused by the encoder */
        unsigned k;
        rec.seq = 0;
        rec.reserved = 0;
        for (k = 0; k < 4; k++)
            rec.seq = rec.seq << 8 | data[k];
        for (k = 4; k < 12; k++)
            rec.reserved = rec.reserved << 8 | data[k];
        rc = iotsec_counter_record_encode(&rec, out);
        if (rec.reserved == 0 ? rc != IOTSEC_E_INVALID_ARG
                              : (rc != IOTSEC_OK ||
                                 iotsec_counter_record_decode(&back, out, sizeof out) != IOTSEC_OK ||
                                 back.seq != rec.seq || back.reserved != rec.reserved))
            abort();
    }
    if (size >= 2 * IOTSEC_COUNTER_RECORD_LEN) {
        flash f;
        iotsec_counter_port port = {&f, f_read, f_write, f_flush};
        iotsec_counter c;
        iotsec_counter_record r[2];
        uint64_t floor = 1, prev = 0, ctr;
        uint32_t step = 1;
        unsigned i, v;

        memcpy(f.slot, data, sizeof f.slot);
        f.writes = 0;
        if (size > 2 * IOTSEC_COUNTER_RECORD_LEN)
            step = 1u + data[2 * IOTSEC_COUNTER_RECORD_LEN] % 64u;
        for (v = 0; v < 2; v++) {
            if (iotsec_counter_record_decode(&r[v], f.slot[v], IOTSEC_COUNTER_RECORD_LEN) ==
                    IOTSEC_OK &&
                r[v].reserved > floor)
                floor = r[v].reserved;
        }
        if (iotsec_counter_open(&c, &port, step) != IOTSEC_OK)
            abort();
        for (i = 0; i < 3u * step + 2u; i++) {
            rc = iotsec_counter_next(&c, &ctr);
            if (rc == IOTSEC_E_COUNTER_EXHAUSTED) {
                if (ctr != 0 || c.reserved <= UINT64_MAX - step)
                    abort();
                break;
            }
            if (rc != IOTSEC_OK || ctr < floor || ctr <= prev || ctr == UINT64_MAX)
                abort();
            prev = ctr;
            /* the record just written is valid and is the one a reboot would pick */
            if (iotsec_counter_record_decode(&back, f.slot[c.slot], IOTSEC_COUNTER_RECORD_LEN) !=
                    IOTSEC_OK ||
                back.seq != c.seq || back.reserved != c.reserved || ctr >= back.reserved)
                abort();
        }
        if (prev != 0) {
            /* reboot: resumes at the reservation, above everything handed out */
            if (iotsec_counter_open(&c, &port, step) != IOTSEC_OK)
                abort();
            rc = iotsec_counter_next(&c, &ctr);
            if (rc == IOTSEC_OK ? ctr <= prev : rc != IOTSEC_E_COUNTER_EXHAUSTED)
                abort();
        }
    }
    return 0;
}
