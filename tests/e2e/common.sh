# shellcheck shell=bash
# Shell helpers shared by the scripted tests that drive the real backend and device simulator
# (tests/e2e/lib.sh for scripts/demo, examples/device-sim/tests/lib.sh). Sourced, not run;
# defines functions only and changes nothing when sourced.

# flip_byte FILE OFFSET: invert the bits of one byte in place (a tampered or damaged file).
# Returns 1 (with a message) when FILE has no byte at OFFSET.
flip_byte() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    [ -n "$b" ] || { echo "flip_byte: $1 has no byte at $2" >&2; return 1; }
    printf "\\$(printf '%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# wait_listening LOG PID: wait (at most 10 s) until the backend started as PID with
# `--listen 127.0.0.1:0` writes "listening on 127.0.0.1:PORT" to LOG; prints PORT. Returns 1
# when the process ended or the line did not come.
wait_listening() {
    local port i
    for i in $(seq 1 100); do
        port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$1" 2>/dev/null)
        if [ -n "$port" ]; then
            echo "$port"
            return 0
        fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds (0) or SECONDS pass (1).
# CMD's arguments are expanded once, by the caller: to re-read a value each time, make CMD a
# function that reads it.
wait_for() {
    local n=$(($1 * 10)) i
    shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# The backend's payload storage, written as a compromised server (or its database) could,
# bypassing publish-firmware's checks. The SQL shape is the one examples/backend/README.md
# documents ("Payload storage"): a ready row payloads(digest, size, ready = 1, touched) and
# its chunks payload_chunks(payload = payloads.id, idx, data), 65536 bytes each but the last.

# backend_put_payload DB FILE: FILE served as the payload of its SHA-256 (kept if present).
backend_put_payload() {
    local d size
    d=$(sha256sum "$2" | cut -c1-64) && size=$(stat -c %s "$2") || return 1
    sqlite3 -cmd '.timeout 5000' "$1" "BEGIN IMMEDIATE;
        INSERT INTO payloads(digest, size, ready, touched) SELECT X'$d', $size, 1, 0
          WHERE NOT EXISTS (SELECT 1 FROM payloads WHERE digest = X'$d' AND ready = 1);
        WITH RECURSIVE c(i) AS (SELECT 0 WHERE $size > 0
                                UNION ALL SELECT i + 1 FROM c WHERE (i + 1) * 65536 < $size)
        INSERT OR IGNORE INTO payload_chunks(payload, idx, data)
          SELECT (SELECT id FROM payloads WHERE digest = X'$d' AND ready = 1), i,
                 substr(readfile('$2'), i * 65536 + 1, 65536) FROM c;
        COMMIT;" >/dev/null
}

# backend_replace_payload DB DIGEST FILE: the bytes served as payload DIGEST become FILE's,
# which must have the stored payload's size (returns 1 otherwise, or when there is none).
backend_replace_payload() {
    local size
    size=$(sqlite3 -cmd '.timeout 5000' "$1" \
        "SELECT size FROM payloads WHERE digest = X'$2' AND ready = 1") || return 1
    [ -n "$size" ] && [ "$size" = "$(stat -c %s "$3")" ] || {
        echo "backend_replace_payload: no payload $2 of the size of $3" >&2
        return 1
    }
    sqlite3 -cmd '.timeout 5000' "$1" "UPDATE payload_chunks
        SET data = substr(readfile('$3'), idx * 65536 + 1, 65536)
        WHERE payload = (SELECT id FROM payloads WHERE digest = X'$2' AND ready = 1);"
}
