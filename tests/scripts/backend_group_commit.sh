#!/usr/bin/env bash
# Group commit of examples/backend (docs/DESIGN.md §12), on SQLite and on PostgreSQL (a
# private cluster, tests/lib/pg.sh): 32 devices with real mTLS (backend_load.py) send bursts
# at once; frames that arrive together share one transaction and every 200 comes after its
# commit:
#   - a burst of 128 fresh frames: all 200, each stored exactly once, in fewer commits than
#     frames (the server's stop audit row counts them);
#   - a mixed burst (a replay, a forgery, then fresh frames per device): the refused frames
#     do not poison their batch: 409 / 401 for them, 200 and one row for each fresh one;
#   - PostgreSQL: a real commit failure — INSERT on telemetry revoked from the server's role
#     while it runs: every frame of the burst gets 503 and none is stored, not even its
#     replay state: once the grant is back the very same frames are accepted.
set -u
: "${BUILD:=build}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
BUILD=$(cd "$BUILD" && pwd) || exit 1
SRV=$BUILD/iotsec-backend
CLI=$BUILD/iotsec
LOAD=$ROOT/tests/scripts/backend_load.py
# the client side seals with an uninstrumented library when this is the sanitizer build
export IOTSEC_LIB=$BUILD/libiotsec.so.0
if ldd "$IOTSEC_LIB" 2>/dev/null | grep -q libasan && [ -e "$ROOT/build/libiotsec.so.0" ]; then
    IOTSEC_LIB=$ROOT/build/libiotsec.so.0
fi
HAVE_PG=0
grep -q '^#define IOTSEC_HAVE_PG 1$' "$BUILD/include/iotsec/config.h" && HAVE_PG=1
T=$(mktemp -d "${TMPDIR:-/tmp}/scale-gc.XXXXXX")
PID=
failures=0
# shellcheck source=tests/lib/pg.sh
. "$ROOT/tests/lib/pg.sh"
cleanup() {
    [ -n "$PID" ] && { kill -9 "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
    pg_stop
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect() { [ "$2" == "$3" ] || fail "$1: got '$2', expected '$3'"; }

cd "$T" || exit 1
"$CLI" ca init --dir ca >/dev/null || { echo "FAIL: iotsec ca init"; exit 1; }
cp ca/ca.pem ca.pem
"$CLI" ca server --dir ca --name localhost --ip 127.0.0.1 --out-key srv.key \
    --out-cert srv.pem >/dev/null || { echo "FAIL: iotsec ca server"; exit 1; }
DEVS=()
for i in $(seq 1 32); do
    d=dev-$i
    DEVS+=("$d")
    "$CLI" ca issue --dir ca --device-id "$d" --out-key "$d.key" --out-cert "$d.pem" \
        >/dev/null || { echo "FAIL: iotsec ca issue $d"; exit 1; }
    "$CLI" secret --bytes 32 --out "$d.secret" >/dev/null
done

# plan NAME ENTRIES...: each entry "ctr[:forge]" is sent by every device, in order
plan() {
    local name=$1; shift
    python3 - "$@" > "$name.json" <<'EOF'
import json, sys
out = []
for i in range(1, 33):
    for e in sys.argv[1:]:
        ctr, _, forge = e.partition(":")
        out.append({"dev": "dev-%d" % i, "ctr": int(ctr), "forge": forge == "forge"})
print(json.dumps(out))
EOF
}
burst() { # NAME → NAME.out ("dev ctr status" lines)
    python3 "$LOAD" plan --port "$PORT" --dir . "$1.json" > "$1.out" ||
        fail "load generator ($1)"
}
count() { awk -v s="$2" '$3 == s' "$1.out" | wc -l; }
start_server() {
    : > srv.out
    "$SRV" serve --listen 127.0.0.1:0 --db "$DB" --ca ca.pem --cert srv.pem --key srv.key \
        --rate 0 > srv.out 2>> srv.err &
    PID=$!
    local i
    for i in $(seq 1 100); do
        PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' srv.out)
        [ -n "$PORT" ] && return 0
        sleep 0.1
    done
    echo "FAIL: server did not start"; cat srv.err; exit 1
}
stop_server() {
    kill -TERM "$PID"
    wait "$PID"
    expect "$ENGINE: exit status after SIGTERM" "$?" 0
    PID=
}

run_engine() {
    local rows stop fr cm
    for d in "${DEVS[@]}"; do
        "$SRV" add-device --db "$DB" --device-id "$d" --secret-file "$d.secret" >/dev/null ||
            fail "$ENGINE: add-device $d"
    done
    start_server
    plan fresh 1 2 3 4
    burst fresh
    expect "$ENGINE: fresh burst, 200s" "$(count fresh 200)" 128
    expect "$ENGINE: fresh burst, rows" "$(Q "SELECT count(*) FROM telemetry")" 128
    expect "$ENGINE: fresh burst, distinct rows" \
        "$(Q "SELECT count(*) FROM (SELECT DISTINCT device_id, ctr FROM telemetry) x")" 128
    plan mixed 4 5:forge 5 6
    burst mixed
    expect "$ENGINE: mixed burst, 409 (replays)" "$(count mixed 409)" 32
    expect "$ENGINE: mixed burst, 401 (forgeries)" "$(count mixed 401)" 32
    expect "$ENGINE: mixed burst, 200 (fresh)" "$(count mixed 200)" 64
    expect "$ENGINE: rows after the mixed burst" "$(Q "SELECT count(*) FROM telemetry")" 192
    expect "$ENGINE: rows of counter 5" "$(Q "SELECT count(*) FROM telemetry WHERE ctr = 5")" 32
    if [ "$ENGINE" = postgresql ]; then
        fleet_psql -c 'REVOKE INSERT ON telemetry FROM bk' || fail "REVOKE"
        plan denied 7 8
        burst denied
        expect "$ENGINE: commit failure, 503s" "$(count denied 503)" 64
        expect "$ENGINE: commit failure, rows" "$(Q "SELECT count(*) FROM telemetry")" 192
        fleet_psql -c 'GRANT INSERT ON telemetry TO bk' || fail "GRANT"
        burst denied
        expect "$ENGINE: the refused frames again after the grant, 200s" "$(count denied 200)" 64
        expect "$ENGINE: rows after the grant" "$(Q "SELECT count(*) FROM telemetry")" 256
    fi
    stop_server
    stop=$(Q "SELECT detail FROM audit WHERE event = 'stop'")
    fr=$(sed -n 's/.* \([0-9]*\) frames acknowledged in \([0-9]*\) commits.*/\1/p' <<<"$stop")
    cm=$(sed -n 's/.* \([0-9]*\) frames acknowledged in \([0-9]*\) commits.*/\2/p' <<<"$stop")
    rows=$(Q "SELECT count(*) FROM telemetry")
    expect "$ENGINE: frames acknowledged (stop row)" "$fr" "$rows"
    if [ -z "$cm" ] || [ "$cm" -ge "$fr" ]; then
        fail "$ENGINE: no group commit: '$stop'"
    fi
    echo "backend_group_commit: $ENGINE: $fr frames acknowledged in $cm commits"
}

ENGINE=sqlite
DB=$T/db
Q() { sqlite3 "$DB" "$1"; }
run_engine
expect "sqlite: integrity" "$(Q 'PRAGMA integrity_check')" ok

if [ "$HAVE_PG" = 1 ]; then
    pg_start || exit 1
    pg_psql -c "CREATE ROLE bk LOGIN" -c "CREATE DATABASE fleet OWNER bk" >/dev/null ||
        { echo "FAIL: cannot create the role and database"; exit 1; }
    ENGINE=postgresql
    DB="postgresql:///fleet?host=$(_pg_uri_encode "$PG_DIR")&port=$PG_PORT&user=bk"
    fleet_psql() {
        "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "${DB%user=bk}user=postgres" "$@"
    }
    Q() { fleet_psql -Atc "$1"; }
    run_engine
else
    echo "backend_group_commit: PostgreSQL part skipped (IOTSEC_HAVE_PG 0)"
fi

if [ "$failures" -ne 0 ]; then
    echo "backend_group_commit: $failures failure(s)"
    grep -v '^{' srv.err | tail -n 20
    exit 1
fi
echo "backend_group_commit: all checks passed"
