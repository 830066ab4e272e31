/* libiotsec — sender counters that survive power loss (include/iotsec/counter.h). */
#include "iotsec/counter.h"

#include <string.h>

#include "iotsec/error.h"
#include "iotsec/reader.h"
#include "iotsec/util.h"

#define COUNTER_READY 0x494f544eu /* "IOTN": set by a successful open */
#define CRC_COVERED 16u           /* the CRC covers magic, seq and reserved */

int iotsec_counter_record_encode(const iotsec_counter_record *rec,
                                 uint8_t out[IOTSEC_COUNTER_RECORD_LEN])
{
    iotsec_writer w;

    if (rec == NULL || out == NULL || rec->reserved == 0)
        return IOTSEC_E_INVALID_ARG;
    iotsec_writer_init(&w, out, IOTSEC_COUNTER_RECORD_LEN);
    iotsec_writer_bytes(&w, IOTSEC_COUNTER_MAGIC, 4);
    iotsec_writer_u32(&w, rec->seq);
    iotsec_writer_u64(&w, rec->reserved);
    iotsec_writer_u32(&w, iotsec_crc32(0, out, CRC_COVERED));
    return iotsec_writer_error(&w);
}

int iotsec_counter_record_decode(iotsec_counter_record *rec, const uint8_t *in, size_t len)
{
    iotsec_reader r;
    const uint8_t *magic;
    uint32_t seq, crc;
    uint64_t reserved;
    int rc;

    if (rec == NULL || in == NULL)
        return IOTSEC_E_INVALID_ARG;
    iotsec_reader_init(&r, in, len);
    magic = iotsec_reader_bytes(&r, 4);
    seq = iotsec_reader_u32(&r);
    reserved = iotsec_reader_u64(&r);
    crc = iotsec_reader_u32(&r);
    rc = iotsec_reader_finish(&r);
    if (rc != IOTSEC_OK)
        return rc; /* TRUNCATED or TRAILING_DATA */
    if (memcmp(magic, IOTSEC_COUNTER_MAGIC, 4) != 0)
        return IOTSEC_E_BAD_VERSION;
    if (crc != iotsec_crc32(0, in, CRC_COVERED))
        return IOTSEC_E_CORRUPT;
    if (reserved == 0)
        return IOTSEC_E_BAD_VALUE;
    rec->seq = seq;
    rec->reserved = reserved;
    return IOTSEC_OK;
}

int iotsec_counter_seq_newer(uint32_t a, uint32_t b)
{
    uint32_t d = a - b; /* modulo 2^32 */

    return d != 0 && d < 0x80000000u;
}

/* a port hook's result as an IOTSEC code: negative codes pass, anything else non-zero is I/O */
static int port_rc(int rc)
{
    if (rc == IOTSEC_OK)
        return IOTSEC_OK;
    return rc < 0 ? rc : IOTSEC_E_IO;
}

int iotsec_counter_open(iotsec_counter *c, const iotsec_counter_port *port, uint32_t step)
{
    uint8_t buf[IOTSEC_COUNTER_RECORD_LEN];
    iotsec_counter_record rec[IOTSEC_COUNTER_SLOTS];
    int valid[IOTSEC_COUNTER_SLOTS];
    unsigned i, cur;
    int rc;

    if (c == NULL)
        return IOTSEC_E_INVALID_ARG;
    memset(c, 0, sizeof *c);
    if (port == NULL || port->read == NULL || port->write == NULL || port->flush == NULL ||
        step == 0)
        return IOTSEC_E_INVALID_ARG;
    for (i = 0; i < IOTSEC_COUNTER_SLOTS; i++) {
        rc = port_rc(port->read(port->ctx, i, buf));
        if (rc != IOTSEC_OK)
            return rc; /* state unknown: refuse to start rather than guess */
        valid[i] = iotsec_counter_record_decode(&rec[i], buf, sizeof buf) == IOTSEC_OK;
    }
    c->port = *port;
    c->step = step;
    if (!valid[0] && !valid[1]) {
        /* blank: counter 1; the first record is seq 1 in slot 0 */
        c->next = 1;
        c->reserved = 1;
        c->seq = 0;
        c->slot = 1;
    } else {
        if (valid[0] && valid[1])
            cur = iotsec_counter_seq_newer(rec[1].seq, rec[0].seq) ? 1u : 0u;
        else
            cur = valid[0] ? 0u : 1u;
        c->seq = rec[cur].seq;
        c->slot = cur;
        c->next = rec[cur].reserved;
        /* never below a reservation still on the medium (only damaged or forged slot
         * pairs differ here: a sender's newer record always reserves more) */
        if (valid[1u - cur] && rec[1u - cur].reserved > c->next)
            c->next = rec[1u - cur].reserved;
        c->reserved = c->next;
    }
    c->ready = COUNTER_READY;
    return IOTSEC_OK;
}

int iotsec_counter_next(iotsec_counter *c, uint64_t *ctr)
{
    if (ctr != NULL)
        *ctr = 0;
    if (c == NULL || ctr == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (c->ready != COUNTER_READY)
        return IOTSEC_E_STATE;
    if (c->next >= c->reserved) {
        iotsec_counter_record rec;
        uint8_t buf[IOTSEC_COUNTER_RECORD_LEN], back[IOTSEC_COUNTER_RECORD_LEN];
        unsigned slot = 1u - c->slot;
        int rc;

        if (c->reserved > UINT64_MAX - c->step)
            return IOTSEC_E_COUNTER_EXHAUSTED;
        rec.seq = c->seq + 1u; /* serial arithmetic: wraps modulo 2^32 */
        rec.reserved = c->reserved + c->step;
        rc = iotsec_counter_record_encode(&rec, buf);
        if (rc == IOTSEC_OK)
            rc = port_rc(c->port.write(c->port.ctx, slot, buf));
        if (rc == IOTSEC_OK)
            rc = port_rc(c->port.flush(c->port.ctx));
        /* read the record back: a port that reports success for a write that never reached
         * the medium would otherwise let this reservation be handed out again after a
         * reboot */
        if (rc == IOTSEC_OK)
            rc = port_rc(c->port.read(c->port.ctx, slot, back));
        if (rc == IOTSEC_OK && memcmp(back, buf, sizeof buf) != 0)
            rc = IOTSEC_E_IO;
        if (rc != IOTSEC_OK)
            return rc; /* nothing handed out; the next call rewrites the same slot */
        c->seq = rec.seq;
        c->slot = slot;
        c->reserved = rec.reserved;
    }
    *ctr = c->next++;
    return IOTSEC_OK;
}
