/*
 * libiotsec — sender counters that survive power loss (bindings-spec/SPEC.md §6; the reservation idea
 * of OSCORE, RFC 8613 Appendix B.1.1).
 *
 * A sender (a device sealing uplink frames, or a server sealing downlink frames) must never
 * use a counter twice with the same key, even across a power cut, and must not write flash
 * for every frame. The counter is therefore reserved in steps of R: the persisted record
 * says "every counter below `reserved` may have been used"; the sender hands out counters
 * from memory and writes a new record (`reserved + R`) only when it reaches `reserved` —
 * one flash write per R counters. After a power cut it starts again at the persisted
 * `reserved`, skipping at most R counters and never reusing one.
 *
 * Persisted form (normative, big-endian): two slots of IOTSEC_COUNTER_RECORD_LEN (20) bytes,
 *
 *   offset 0  4 bytes  magic "IOTN"
 *   offset 4  u32      seq: record sequence number (serial arithmetic, RFC 1982, mod 2^32)
 *   offset 8  u64      reserved: counters below it may have been used
 *   offset 16 u32      crc32: CRC-32/IEEE (iotsec_crc32) of bytes 0–15
 *
 * A slot is valid when it decodes (magic, CRC, reserved ≥ 1). The valid slot with the newer
 * seq wins; slot 0 wins a tie (and the undefined RFC 1982 case of two seqs exactly 2^31
 * apart, which a sender never writes). No valid slot means a blank device: it starts at
 * counter 1 and writes its first record to slot 0 with seq 1. Each new record takes the
 * winner's seq + 1 and goes to the slot NOT holding the winner, so a write torn by a power
 * cut can only damage the older record; the newer one stays valid. On boot the sender
 * starts at the winner's `reserved` (defensively at the larger `reserved` of the two slots
 * when both are valid: a sender never writes a newer record with a smaller reservation, so
 * this only matters for damaged or forged slots, and starting higher is always safe). When
 * the next counter reaches `reserved`, it first writes and flushes the other slot with
 * `reserved + R`; only then is the counter handed out. The largest counter ever handed out
 * is UINT64_MAX − 1: a reservation that would pass UINT64_MAX is refused (exhausted), never
 * wrapped.
 *
 * Storage is a port (MCUboot flash-map style): read a slot, write a slot, flush. Firmware
 * puts it on raw flash (erase + program inside write) or NVS; POSIX ships a file port
 * (iotsec_counter_file_open, counter_file.h). The core (libiotsec/core/counter.c) allocates nothing
 * and calls no OS function. An iotsec_counter is not thread-safe: one owner per record.
 */
#ifndef IOTSEC_COUNTER_H
#define IOTSEC_COUNTER_H

#include <stddef.h>
#include <stdint.h>

#include "iotsec/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IOTSEC_COUNTER_RECORD_LEN 20u   /* bytes of one slot */
#define IOTSEC_COUNTER_SLOTS 2u         /* slots per counter record */
#define IOTSEC_COUNTER_DEFAULT_STEP 1024u /* default reservation step R */
#define IOTSEC_COUNTER_MAGIC "IOTN"     /* first 4 bytes of a slot */

/* ---- one slot record ------------------------------------------------------------------ */

typedef struct iotsec_counter_record {
    uint32_t seq;      /* record sequence number, serial arithmetic mod 2^32 */
    uint64_t reserved; /* reservation high-water mark, ≥ 1 */
} iotsec_counter_record;

/* Encode rec as the 20-byte slot format above (magic, seq, reserved, CRC-32 of bytes 0–15).
 * Errors: IOTSEC_E_INVALID_ARG (NULL, or rec->reserved == 0, which no sender writes). */
IOTSEC_API int iotsec_counter_record_encode(const iotsec_counter_record *rec,
                                            uint8_t out[IOTSEC_COUNTER_RECORD_LEN]);

/* Parse one slot of exactly len == 20 bytes (bounded reader). Errors, checked in this order:
 * IOTSEC_E_INVALID_ARG (NULL), IOTSEC_E_TRUNCATED (len < 20), IOTSEC_E_TRAILING_DATA
 * (len > 20), IOTSEC_E_BAD_VERSION (magic is not "IOTN": erased or foreign storage),
 * IOTSEC_E_CORRUPT (CRC-32 mismatch: a torn or damaged write), IOTSEC_E_BAD_VALUE
 * (reserved == 0). *rec is written only on success. Any error means "slot not valid". */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_counter_record_decode(iotsec_counter_record *rec,
                                                              const uint8_t *in, size_t len);

/* 1 when seq a is newer than seq b in RFC 1982 serial arithmetic on 32 bits
 * (0 < (a − b) mod 2^32 < 2^31), else 0 (equal, older, or exactly 2^31 apart). */
IOTSEC_API int iotsec_counter_seq_newer(uint32_t a, uint32_t b);

/* ---- storage port ---------------------------------------------------------------------- */

/* The storage hooks. Each returns IOTSEC_OK or a negative IOTSEC_E_* code (IOTSEC_E_IO for
 * storage failures); any other non-zero value is treated as IOTSEC_E_IO.
 *   read:  fill buf with the 20 bytes of slot (0 or 1). Blank or erased storage is not an
 *          error: return its bytes (e.g. 0xFF) or any bytes that do not decode; an error
 *          means the state cannot be known, and the counter refuses to start.
 *   write: replace slot (0 or 1) with buf's 20 bytes (erase first if the medium needs it).
 *          It may be torn by a power cut; the other slot must not be touched.
 *   flush: make every completed write durable (fsync, cache flush); IOTSEC_OK when there
 *          is nothing to do. */
typedef struct iotsec_counter_port {
    void *ctx; /* passed back to every hook */
    int (*read)(void *ctx, unsigned slot, uint8_t buf[IOTSEC_COUNTER_RECORD_LEN]);
    int (*write)(void *ctx, unsigned slot, const uint8_t buf[IOTSEC_COUNTER_RECORD_LEN]);
    int (*flush)(void *ctx);
} iotsec_counter_port;

/* The sender state. Plain data, caller-owned (static memory is fine); fields are read-only
 * for the caller. */
typedef struct iotsec_counter {
    iotsec_counter_port port; /* copy of the caller's port */
    uint64_t next;            /* next counter to hand out */
    uint64_t reserved;        /* persisted high-water mark: next < reserved needs no write */
    uint32_t step;            /* R */
    uint32_t seq;             /* seq of the current record (0 on a blank device) */
    unsigned slot;            /* slot of the current record; new records go to 1 − slot */
    uint32_t ready;           /* set by a successful iotsec_counter_open */
} iotsec_counter;

/* Boot: read both slots through port (copied into c; port->ctx must outlive c), pick the
 * current record as described at the top, and position c at its `reserved` (counter 1 on a
 * blank device). Writes nothing: the first iotsec_counter_next writes the first reservation.
 * step is R, 1 … 2^32 − 1 counters per flash write (IOTSEC_COUNTER_DEFAULT_STEP = 1024 is
 * the recommended value; a smaller R burns fewer counters per power cut but writes more
 * often). Errors: IOTSEC_E_INVALID_ARG (NULL, missing hook, step 0), or the error of a
 * failing port read (IOTSEC_E_IO); c is then unusable (iotsec_counter_next gives
 * IOTSEC_E_STATE). */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_counter_open(iotsec_counter *c,
                                                     const iotsec_counter_port *port,
                                                     uint32_t step);

/* Hand out the next counter in *ctr (1 … UINT64_MAX − 1, strictly increasing for this
 * record across reboots). When the counter reaches the reservation, first writes the other
 * slot with reserved + R (seq + 1), flushes and reads the slot back; if the write, flush or
 * read fails, or the slot does not hold exactly the new record (a port that dropped the
 * write), returns its error (IOTSEC_E_IO), hands out NO counter and changes no state, so
 * the next call retries the same write. Errors: IOTSEC_E_INVALID_ARG (NULL),
 * IOTSEC_E_STATE (c not opened, or its open failed), IOTSEC_E_COUNTER_EXHAUSTED (reserved +
 * R would exceed UINT64_MAX: refused, never wrapped; permanent for this record), the port's
 * write, flush or read error, IOTSEC_E_IO (read back differs). *ctr is 0 on every error. */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_counter_next(iotsec_counter *c, uint64_t *ctr);

#ifdef __cplusplus
}
#endif

#endif
