#!/usr/bin/env python3
"""Generate bindings-spec/vectors/counter_record.json: the sender counter record of
bindings-spec/SPEC.md §6, from an independent model (Python's zlib.crc32 is CRC-32/IEEE) rather than
from the library, so the file is a second opinion on the C code. The C suite
tests/unit/test_counter.c checks libiotsec against every vector in the file,
bindings-spec/python/run_vectors.py runs them through the reference binding, and
tests/scripts/vectors_regen.sh regenerates the file and fails on any difference.

    python3 tools/gen-vectors/gen_counter.py [OUT]   (default bindings-spec/vectors/counter_record.json)
"""
import json
import os
import struct
import sys
import zlib

U64 = (1 << 64) - 1


def enc(seq, reserved):
    body = b"IOTN" + struct.pack(">IQ", seq, reserved)
    return body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def dec(b):
    if len(b) < 20:
        return "IOTSEC_E_TRUNCATED"
    if len(b) > 20:
        return "IOTSEC_E_TRAILING_DATA"
    if b[:4] != b"IOTN":
        return "IOTSEC_E_BAD_VERSION"
    seq, reserved, crc = struct.unpack(">IQI", b[4:])
    if crc != zlib.crc32(b[:16]) & 0xFFFFFFFF:
        return "IOTSEC_E_CORRUPT"
    if reserved == 0:
        return "IOTSEC_E_BAD_VALUE"
    return (seq, reserved)


def newer(a, b):
    d = (a - b) & 0xFFFFFFFF
    return d != 0 and d < 0x80000000


def boot(s0, s1, step):
    """First counter and the record written before it is handed out."""
    r = [dec(s0), dec(s1)]
    ok = [isinstance(x, tuple) for x in r]
    if not any(ok):
        seq, slot, start = 0, 1, 1
    else:
        cur = (1 if newer(r[1][0], r[0][0]) else 0) if all(ok) else (0 if ok[0] else 1)
        seq, slot, start = r[cur][0], cur, r[cur][1]
        if ok[1 - cur] and r[1 - cur][1] > start:
            start = r[1 - cur][1]
    if start > U64 - step:
        return {"error": "IOTSEC_E_COUNTER_EXHAUSTED"}
    nseq, nres = (seq + 1) & 0xFFFFFFFF, start + step
    return {"first_counter": str(start), "write_slot": 1 - slot, "write_seq": nseq,
            "write_reserved": str(nres), "write_record": enc(nseq, nres).hex()}


def main():
    records = [(1, 1025), (2, 2049), (0xFFFFFFFF, 0x0123456789ABCDEF), (0, U64), (0x80000000, 1)]
    good = enc(7, 7169)
    flip_crc = bytearray(good); flip_crc[19] ^= 0x01
    flip_res = bytearray(good); flip_res[15] ^= 0x80
    torn = enc(8, 8193)[:9] + good[9:]  # a write torn after 9 bytes over the old record
    invalid = [
        ("19 bytes", good[:19]),
        ("21 bytes", good + b"\x00"),
        ("empty", b""),
        ("erased flash", b"\xff" * 20),
        ("zeros", b"\x00" * 20),
        ("wrong magic IOTM", b"IOTM" + good[4:]),
        ("CRC bit flipped", bytes(flip_crc)),
        ("reserved bit flipped", bytes(flip_res)),
        ("torn write (9 new bytes over an older record)", torn),
        ("reserved 0 with a valid CRC", enc(3, 0)),
    ]
    ff = b"\xff" * 20
    boots = [
        ("blank device", ff, ff, 1024),
        ("blank device, zeroed storage", b"\x00" * 20, b"\x00" * 20, 16),
        ("first record only", enc(1, 1025), ff, 1024),
        ("slot 1 newer", enc(1, 1025), enc(2, 2049), 1024),
        ("slot 0 newer", enc(3, 3073), enc(2, 2049), 1024),
        ("tie: slot 0 wins", enc(5, 100), enc(5, 100), 1024),
        ("seq wraps: 0 is newer than 0xffffffff", enc(0xFFFFFFFF, 5000), enc(0, 6024), 1024),
        ("seqs 2^31 apart: undefined in RFC 1982, slot 0 wins; start at the larger reservation",
         enc(0, 10), enc(0x80000000, 20), 1024),
        ("slot 0 torn: slot 1 used", bytes(flip_crc), enc(6, 900), 16),
        ("slot 1 torn: slot 0 used", enc(6, 900), torn, 16),
        ("inconsistent pair: winner reserves less; start at the larger reservation",
         enc(7, 500), enc(6, 900), 64),
        ("R = 1", enc(41, 42), ff, 1),
        ("last reservation ends at UINT64_MAX", enc(9, U64 - 16), ff, 16),
        ("exhausted: reservation would pass UINT64_MAX", enc(9, U64 - 5), ff, 16),
        ("exhausted: reserved = UINT64_MAX", enc(9, U64), enc(8, 1), 1),
    ]
    out = {
        "format": "iotsec sender counter record v1",
        "spec": "bindings-spec/SPEC.md section 6; include/iotsec/counter.h",
        "generator": "tools/gen-vectors/gen_counter.py",
        "notes": [
            "A slot is 20 bytes, big-endian: magic \"IOTN\", seq u32, reserved u64, "
            "crc32 u32 = CRC-32/IEEE (zlib crc32) of bytes 0-15.",
            "u64 values are decimal strings (JSON numbers lose precision above 2^53).",
            "boot: slots as stored, R = step; first_counter is the first counter handed out, "
            "after write_record (seq write_seq, reserved write_reserved) was written to "
            "write_slot and flushed.",
            "Starting at the larger reservation of two valid slots is libiotsec's defensive "
            "choice; the two differ only for damaged or forged pairs.",
        ],
        "records": [{"seq": s, "reserved": str(r), "encoded": enc(s, r).hex()} for s, r in records],
        "invalid": [{"description": d, "encoded": b.hex(), "error": dec(b)} for d, b in invalid],
        "boot": [dict({"description": d, "slot0": a.hex(), "slot1": b.hex(), "step": st},
                      **boot(a, b, st)) for d, a, b, st in boots],
    }
    for v in out["invalid"]:
        assert isinstance(v["error"], str), v
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "bindings-spec", "vectors",
                                                            "counter_record.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
