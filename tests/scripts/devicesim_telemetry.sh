#!/usr/bin/env bash
# Device simulator, telemetry against the real backend (docs/DESIGN.md §4, §5, §10, §11):
# frames sealed by the library in every format are accepted and stored; counters continue
# across restarts (and across a power cut while the counter reservation is written) with no
# counter ever used twice; a server certificate from another CA is refused; http:// URLs
# are refused before any connection.
. "$(dirname "$0")/../../examples/device-sim/tests/lib.sh"

setup_pki
backend_start main "$T/server.pem" "$T/server.key"
URL=https://127.0.0.1:$PORT

# sent_ctrs: the counters of the frames in $T/out that the server accepted, one a line
accepted_ctrs() {
    sed -n 's/^frame [0-9]* ctr=\([0-9]*\): HTTP 200 {"accepted":true.*/\1/p' "$T/out"
}
# run_frames NAME N [run options]: N frames, every one accepted; their counters are
# appended to $T/NAME.ctrs
run_frames() {
    local name=$1 n=$2
    shift 2
    expect_rc 0 "$SIM" run --state "$T/$name" --server "$URL" --frames "$n" "$@"
    [ "$(accepted_ctrs | wc -l)" -eq "$n" ] || { cat "$T/out" >&2; fail "$name: not all $n frames accepted"; }
    accepted_ctrs >>"$T/$name.ctrs"
}
# strictly_increasing FILE: every counter above the one before (so none is reused)
strictly_increasing() {
    awk 'NR > 1 && $1 <= prev { exit 1 } { prev = $1 }' "$1" ||
        { cat "$1" >&2; fail "counters in $(basename "$1") are not strictly increasing"; }
}

# ---- binary frames, then JSON, encrypted, across restarts ------------------------------
device dev sensor
run_frames dev 3
expect_in "$T/out" "boot: running slot A version 1.0.0"
run_frames dev 2
run_frames dev 2 --format json --encrypt
run_frames dev 2 --format binary --encrypt --interval-ms 10
strictly_increasing "$T/dev.ctrs"
[ "$(head -1 "$T/dev.ctrs")" -eq 1 ] || fail "a blank device starts at counter 1"
# every frame is in the backend's database, with the plaintext payload
id=$(cat "$T/dev.id")
rows=$(sqlite3 "$DB" ".timeout 5000" "SELECT count(*) FROM telemetry WHERE device_id = '$id';")
[ "$rows" -eq 9 ] || fail "$rows telemetry rows stored, expected 9"
sqlite3 "$DB" ".timeout 5000" "SELECT CAST(payload AS TEXT) FROM telemetry WHERE device_id = '$id' AND encrypted = 1;" |
    grep -q '"fw":"1.0.0"' || fail "stored payload of an encrypted frame is not the reading"
status_is dev '"sender_counter":{"next":'

# ---- power cut while the next counter reservation is written ---------------------------
# the first frame of a run needs a new reservation (one NVS write): cut it, torn
expect_rc 8 "$SIM" run --state "$T/dev" --server "$URL" --frames 1 --power-loss-after-writes 1
expect_in "$T/err" "NVS counter record"
run_frames dev 2
strictly_increasing "$T/dev.ctrs"

# ---- the server's refusals are printed and end the run with exit 7 ----------------------
device disabled sensor
run_frames disabled 1
"$BACKEND" disable-device --db "$DB" --device-id "$(cat "$T/disabled.id")" >/dev/null ||
    fail "disable-device"
expect_rc 7 "$SIM" run --state "$T/disabled" --server "$URL" --frames 2
[ "$(grep -c '^frame [12] ctr=[0-9]*: HTTP 403 {"error":' "$T/out")" -eq 2 ] ||
    { cat "$T/out" >&2; fail "the 403 answers were not printed"; }

# ---- legacy EcoWatt profile for a device configured for it -------------------------------
"$CLI" secret --bytes 32 --out "$T/legacy.mac" >/dev/null || fail "secret"
"$CLI" secret --bytes 16 --out "$T/legacy.enc" >/dev/null || fail "secret"
ADD_DEVICE_ARGS=(--legacy-mac-key "$T/legacy.mac" --legacy-enc-key "$T/legacy.enc")
device eco sensor --image "$T/v1.bin" --manifest "$T/v1-sensor.m" \
    --legacy-mac-key "$T/legacy.mac" --legacy-enc-key "$T/legacy.enc"
ADD_DEVICE_ARGS=()
run_frames eco 2 --format ecowatt
run_frames eco 1 --format ecowatt --encrypt
strictly_increasing "$T/eco.ctrs"

# ---- a server whose certificate comes from another CA ------------------------------------
"$CLI" ca init --dir "$T/otherca" >/dev/null || fail "ca init (other)"
"$CLI" ca server --dir "$T/otherca" --name localhost --ip 127.0.0.1 \
    --out-key "$T/other.key" --out-cert "$T/other.pem" >/dev/null || fail "ca server (other)"
backend_start other "$T/other.pem" "$T/other.key"
expect_rc 4 "$SIM" run --state "$T/dev" --server "https://127.0.0.1:$PORT"
expect_in "$T/err" "server certificate refused"
expect_rc 4 "$SIM" update --state "$T/dev" --server "https://127.0.0.1:$PORT"
expect_in "$T/err" "server certificate refused"

# ---- plain HTTP: refused before any connection --------------------------------------------
# (port 1 has no listener: a connection attempt would fail with exit 4, not 6)
for url in "http://127.0.0.1:1" "HTTP://127.0.0.1:1/" "ftp://127.0.0.1:1" "127.0.0.1:1"; do
    expect_rc 6 "$SIM" run --state "$T/dev" --server "$url"
    expect_in "$T/err" "only https:// URLs are allowed"
    expect_rc 6 "$SIM" update --state "$T/dev" --server "$url"
done
# the device state is untouched by the refusals: one more frame continues the sequence
run_frames dev 1
strictly_increasing "$T/dev.ctrs"

# ---- command line ------------------------------------------------------------------------
expect_rc 0 "$SIM" --help
expect_in "$T/out" "Usage: iotsec-device-sim"
expect_rc 2 "$SIM" run --server "$URL"
expect_rc 2 "$SIM" run --state "$T/dev"
expect_rc 2 "$SIM" status --state "$T/dev" --frames 3
expect_rc 2 "$SIM" run --state "$T/dev" --server "$URL" --format xml
expect_rc 2 "$SIM" nosuchcommand
expect_rc 3 "$SIM" status --state "$T/nosuchdevice"
expect_rc 0 "$SIM" status --state "$T/dev"
expect_in "$T/out" "active slot A, boot attempts 0, stored security counter 1"
expect_in "$T/out" "slot A: version 1.0.0, security counter 1, 35664 bytes, verified"

echo "devicesim_telemetry: all scenarios passed"
