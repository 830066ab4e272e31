#!/usr/bin/env bash
# examples/backend on PostgreSQL (docs/DESIGN.md §12): a private PostgreSQL 15 cluster
# (tests/lib/pg.sh), the real server with --db postgresql://..., curl as the devices, psql to
# look at the database. The essential flows of backend_e2e.sh: add-device / disable-device /
# list, frames accepted (binary, JSON encrypted, legacy EcoWatt), replay and forgery refused
# with nothing stored, publish-firmware + manifest + payload ranges, CRL floors, and two
# servers on one database: a frame accepted by one is a replay for the other. A build without
# the PostgreSQL store (no libpq) skips.
set -u
: "${BUILD:=build}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
BUILD=$(cd "$BUILD" && pwd) || exit 1
if ! grep -q '^#define IOTSEC_HAVE_PG 1$' "$BUILD/include/iotsec/config.h" 2>/dev/null; then
    echo "backend_pg: skipped: $BUILD has no PostgreSQL store (IOTSEC_HAVE_PG 0)"
    exit 0
fi
SRV=$BUILD/iotsec-backend
CLI=$BUILD/iotsec
T=$(mktemp -d "${TMPDIR:-/tmp}/scale-bkpg.XXXXXX")
PIDS=()
failures=0
# shellcheck source=tests/lib/pg.sh
. "$ROOT/tests/lib/pg.sh"
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    pg_stop
    rm -rf "$T"
}
pg_start || exit 1
trap cleanup EXIT
DB=$IOTSEC_TEST_PG_URI

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect() { [ "$2" == "$3" ] || fail "$1: got '$2', expected '$3'"; }
expect_match() { [[ $2 =~ $3 ]] || fail "$1: '$2' does not match /$3/"; }
q() { pg_psql -Atc "$1"; }

cd "$T" || exit 1
"$CLI" ca init --dir ca >/dev/null || { echo "FAIL: iotsec ca init"; exit 1; }
cp ca/ca.pem ca.pem
"$CLI" ca server --dir ca --name localhost --ip 127.0.0.1 --out-key srv.key \
    --out-cert srv.pem >/dev/null || { echo "FAIL: iotsec ca server"; exit 1; }
for d in dev-1 dev-2 dev-3 dev-5; do
    "$CLI" ca issue --dir ca --device-id "$d" --out-key "$d.key" --out-cert "$d.pem" \
        >/dev/null || { echo "FAIL: iotsec ca issue $d"; exit 1; }
done
"$CLI" ca revoke --dir ca dev-2.pem >/dev/null || fail "iotsec ca revoke"
"$CLI" ca crl --dir ca --out crl.pem >/dev/null || fail "iotsec ca crl"

# ---- admin subcommands --------------------------------------------------------------------
for d in dev-1 dev-2 dev-3 dev-5; do
    "$CLI" secret --bytes 32 --out "$d.secret" >/dev/null
    "$SRV" add-device --db "$DB" --device-id "$d" --secret-file "$d.secret" >/dev/null ||
        fail "add-device $d"
done
"$CLI" secret --bytes 32 --out legacy-mac.bin >/dev/null
"$CLI" secret --bytes 16 --out legacy-enc.bin >/dev/null
"$SRV" add-device --db "$DB" --device-id dev-3 --secret-file dev-3.secret --kid 1 \
    --legacy-mac-key legacy-mac.bin --legacy-enc-key legacy-enc.bin >/dev/null ||
    fail "add-device dev-3 kid 1 legacy"
"$SRV" add-device --db "$DB" --device-id dev-3 --secret-file dev-3.secret --kid 1 2>/dev/null
expect "add-device of an existing key generation" "$?" 1
head -c 31 /dev/urandom > short.secret
"$SRV" add-device --db "$DB" --device-id dev-9 --secret-file short.secret 2>/dev/null
expect "add-device with a 31-byte secret" "$?" 2
"$SRV" disable-device --db "$DB" --device-id dev-5 >/dev/null || fail "disable-device"
"$SRV" disable-device --db "$DB" --device-id nobody 2>/dev/null
expect "disable-device of an unknown device" "$?" 1
expect "devices listed" "$("$SRV" list devices --db "$DB" --json | grep -c '"device_id"')" 4
expect "device table" "$("$SRV" list devices --db "$DB" | grep '^dev-3' | cut -f1-4)" \
    $'dev-3\ttrue\ttrue\t0,1'
expect "schema version" "$(q "SELECT value FROM backend_meta WHERE key = 'schema_version'")" 3
"$SRV" list devices --db "postgresql:///nodb?host=$PG_DIR&port=$PG_PORT&user=postgres" \
    >/dev/null 2>&1
expect "list on a database that does not exist" "$?" 3

# ---- two servers on one database ----------------------------------------------------------
# start_server NAME ARGS...: sets PORT_NAME
start_server() {
    local name=$1 i port; shift
    : > "$name.out"
    "$SRV" serve --listen 127.0.0.1:0 --db "$DB" --ca ca.pem --cert srv.pem --key srv.key \
        "$@" > "$name.out" 2>> "$name.err" &
    PIDS+=("$!")
    eval "PID_$name=$!"
    for i in $(seq 1 100); do
        port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$name.out")
        if [ -n "$port" ]; then eval "PORT_$name=$port"; return 0; fi
        sleep 0.1
    done
    echo "FAIL: server $name did not start"; cat "$name.err"; exit 1
}
start_server a --crl crl.pem
start_server b --crl crl.pem
PORT=$PORT_a
U() { echo "https://127.0.0.1:$PORT$1"; }
req() {
    local dev=$1; shift
    curl -sS --max-time 10 --cacert ca.pem --cert "$dev.pem" --key "$dev.key" \
        -w '\n%{http_code}' "$@" 2>/dev/null
}
status() { req "$@" | tail -n 1; }
post() { req "$1" -H "Content-Type: $3" --data-binary "@$2" "$(U /v1/telemetry)"; }
seal() {
    local dev=$1 ctr=$2 out=$3; shift 3
    echo "reading $ctr" | "$CLI" frame seal --secret "$dev.secret" --device-id "$dev" \
        --ctr "$ctr" "$@" > "$out"
}

expect "/v1/auth" "$(req dev-1 "$(U /v1/auth)")" $'AUTH OK dev-1\n200'
seal dev-1 1 f1.bin
expect "sealed frame" "$(post dev-1 f1.bin application/iotsec-frame)" \
    $'{"accepted":true,"device_id":"dev-1","ctr":1}\n200'
expect "frame row" "$(q "SELECT device_id, kid, ctr, format, convert_from(payload, 'UTF8') FROM telemetry")" \
    "dev-1|0|1|binary|reading 1"
expect "accepted audit row" "$(q "SELECT count(*) FROM audit WHERE event = 'accepted'")" 1
expect_match "replay on the same server" "$(post dev-1 f1.bin application/iotsec-frame)" \
    $'"error":"replay".*\n409$'
PORT=$PORT_b
expect_match "replay on the other server" "$(post dev-1 f1.bin application/iotsec-frame)" \
    $'"error":"replay".*\n409$'
seal dev-1 2 f2.bin
expect "next frame on the other server" "$(post dev-1 f2.bin application/iotsec-frame | tail -n1)" 200
PORT=$PORT_a
expect_match "the other server's frame is a replay here" \
    "$(post dev-1 f2.bin application/iotsec-frame)" $'"error":"replay".*\n409$'
# a flipped byte → 401, and the window did not move: the intact frame passes
seal dev-1 7 f7.bin
python3 -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[-1] ^= 1;
open(sys.argv[2], "wb").write(d)' f7.bin f7-bad.bin
expect_match "flipped byte" "$(post dev-1 f7-bad.bin application/iotsec-frame)" $'"error":"bad_mac".*\n401$'
expect "intact frame after a forgery" "$(post dev-1 f7.bin application/iotsec-frame | tail -n1)" 200
seal dev-1 8 k9.bin --kid 9
expect_match "unknown kid" "$(post dev-1 k9.bin application/iotsec-frame)" $'"error":"unknown_key".*\n401$'
expect "rows after refusals" "$(q "SELECT string_agg(ctr::text, ',' ORDER BY id) FROM telemetry")" "1,2,7"
# a counter above 2^63 − 1 is stored exactly (numeric)
seal dev-1 18446744073709551000 fbig.bin
expect "64-bit counter" "$(post dev-1 fbig.bin application/iotsec-frame | tail -n1)" 200
expect "64-bit counter row" "$(q "SELECT ctr FROM telemetry ORDER BY id DESC LIMIT 1")" 18446744073709551000
seal dev-1 9 f9.json --format json --encrypt
expect "JSON frame below the window" "$(post dev-1 f9.json application/json | tail -n1)" 409
seal dev-3 9 f9.json --format json --encrypt
expect "JSON frame" "$(post dev-3 f9.json application/json | tail -n1)" 200
expect "JSON row" "$(q "SELECT format, encrypted, convert_from(payload, 'UTF8') FROM telemetry WHERE device_id = 'dev-3' AND ctr = 9")" \
    "json|1|reading 9"
# legacy EcoWatt profile
echo legacy | "$CLI" frame seal --format ecowatt --mac-key legacy-mac.bin \
    --enc-key legacy-enc.bin --device-id dev-3 --nonce 100 > e100.json
expect "legacy frame" "$(post dev-3 e100.json application/json | tail -n1)" 200
PORT=$PORT_b
expect "legacy replay on the other server" "$(post dev-3 e100.json application/json | tail -n1)" 409
PORT=$PORT_a
expect "legacy row" "$(q "SELECT format, kid IS NULL, ctr FROM telemetry WHERE format = 'ecowatt'")" \
    "ecowatt|t|100"
expect_match "disabled device" "$(req dev-5 "$(U /v1/auth)")" $'"error":"device_disabled".*\n403$'
r=$(req dev-2 "$(U /v1/auth)")
[[ $r != *"AUTH OK"* ]] || fail "revoked certificate served: '$r'"
expect "CRL floor stored" "$("$SRV" list crl-floors --db "$DB" | tail -n +2 | wc -l)" 1

# ---- firmware -------------------------------------------------------------------------------
"$CLI" keygen --alg ed25519 --out fw.key --pub fw.pub >/dev/null
head -c 200000 /dev/urandom > fw.bin
"$CLI" manifest sign --key fw.key --image fw.bin --version 1.0.0 --security-counter 3 \
    --class sensor-v1 --out fw.man >/dev/null
head -c 100 /dev/urandom > wrong.bin
"$SRV" publish-firmware --db "$DB" --manifest fw.man --payload wrong.bin --trust fw.pub 2>/dev/null
expect "publish with a wrong payload" "$?" 1
"$SRV" publish-firmware --db "$DB" --manifest fw.man --payload fw.bin --trust fw.pub >/dev/null ||
    fail "publish-firmware"
expect "payload chunks" "$(q "SELECT count(*) FROM payload_chunks")" 4
req dev-1 -o got.man "$(U '/v1/firmware/manifest?class=sensor-v1')" > code
expect "manifest download" "$(tail -n1 code)" 200
cmp -s got.man fw.man || fail "manifest bytes differ"
digest=$(sha256sum fw.bin | cut -c1-64)
PORT=$PORT_b
req dev-1 -H 'Range: bytes=65000-140000' -o part "$(U "/v1/firmware/payload/$digest")" > code
expect "payload range" "$(tail -n1 code)" 206
cmp -s part <(tail -c +65001 fw.bin | head -c 75001) || fail "payload range differs"
req dev-1 -o full "$(U "/v1/firmware/payload/$digest")" > code
expect "payload" "$(tail -n1 code)" 200
cmp -s full fw.bin || fail "payload differs"
expect "unknown payload" "$(status dev-1 "$(U "/v1/firmware/payload/$(printf '0%.0s' {1..64})")")" 404
expect "firmware listed" "$("$SRV" list firmware --db "$DB" | tail -n +2 | cut -f2-4)" \
    $'sensor-v1\t1.0.0\t3'
expect "payload listed" "$("$SRV" list payloads --db "$DB" | tail -n +2 | cut -f3-5)" \
    $'200000\ttrue\t4'
expect "telemetry listed" "$("$SRV" list telemetry --db "$DB" --json --limit 2 | grep -c '"ctr"')" 2
expect_match "audit listed" "$("$SRV" list audit --db "$DB" --limit 1000)" 'accepted'

# ---- SIGTERM ------------------------------------------------------------------------------
for n in a b; do
    eval "p=\$PID_$n"
    kill -TERM "$p"
    wait "$p"
    expect "server $n exit status after SIGTERM" "$?" 0
done
PIDS=()

if [ "$failures" -ne 0 ]; then
    echo "backend_pg: $failures failure(s)"
    tail -n 20 a.err b.err
    exit 1
fi
echo "backend_pg: all checks passed (two servers on one PostgreSQL database)"
