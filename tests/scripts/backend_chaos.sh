#!/usr/bin/env bash
# Chaos (docs/DESIGN.md §12): under load from 32 devices with real mTLS (backend_load.py),
# kill -9 a worker of `serve --workers 2` at random moments, 12 times, on SQLite and on
# PostgreSQL (a private cluster, tests/lib/pg.sh); the parent starts another worker each
# time. Then:
#   - every frame that got a 200 is stored, exactly once (and no frame is stored twice);
#   - every acknowledged frame sent again is refused as a replay (409);
#   - the database passes its integrity check: SQLite PRAGMA integrity_check; PostgreSQL
#     amcheck's bt_index_check on every index of the backend's and the replay store's
#     tables, plus a consistency query (no telemetry row above its replay state's counter).
# Prints the counts. Frames that got no answer (their worker died) may or may not be stored.
set -u
: "${BUILD:=build}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
BUILD=$(cd "$BUILD" && pwd) || exit 1
SRV=$BUILD/iotsec-backend
CLI=$BUILD/iotsec
LOAD=$ROOT/tests/scripts/backend_load.py
export IOTSEC_LIB=$BUILD/libiotsec.so.0
if ldd "$IOTSEC_LIB" 2>/dev/null | grep -q libasan && [ -e "$ROOT/build/libiotsec.so.0" ]; then
    IOTSEC_LIB=$ROOT/build/libiotsec.so.0
fi
KILLS=${CHAOS_KILLS:-12}
LOAD_SECONDS=${CHAOS_SECONDS:-12}
HAVE_PG=0
grep -q '^#define IOTSEC_HAVE_PG 1$' "$BUILD/include/iotsec/config.h" && HAVE_PG=1
T=$(mktemp -d "${TMPDIR:-/tmp}/scale-chaos.XXXXXX")
PID=
LPID=
failures=0
# shellcheck source=tests/lib/pg.sh
. "$ROOT/tests/lib/pg.sh"
cleanup() {
    [ -n "$LPID" ] && kill -9 "$LPID" 2>/dev/null
    if [ -n "$PID" ]; then
        pkill -9 -P "$PID" 2>/dev/null
        kill -9 "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
    fi
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
DEVS=
for i in $(seq 1 32); do
    d=dev-$i
    DEVS+=${DEVS:+,}$d
    "$CLI" ca issue --dir ca --device-id "$d" --out-key "$d.key" --out-cert "$d.pem" \
        >/dev/null || { echo "FAIL: iotsec ca issue $d"; exit 1; }
    "$CLI" secret --bytes 32 --out "$d.secret" >/dev/null
done

run_engine() {
    local i victim acked sent lost refused stored dups missing replays restarts
    for i in $(seq 1 32); do
        "$SRV" add-device --db "$DB" --device-id "dev-$i" --secret-file "dev-$i.secret" \
            >/dev/null || fail "$ENGINE: add-device dev-$i"
    done
    : > srv.out
    "$SRV" serve --workers 2 --listen 127.0.0.1:0 --db "$DB" --ca ca.pem --cert srv.pem \
        --key srv.key --rate 0 > srv.out 2> "srv-$ENGINE.err" &
    PID=$!
    for i in $(seq 1 100); do
        PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' srv.out)
        [ -n "$PORT" ] && break
        sleep 0.1
    done
    [ -n "$PORT" ] || { echo "FAIL: $ENGINE: server did not start"; cat "srv-$ENGINE.err"; exit 1; }
    rm -f stop
    python3 "$LOAD" run --port "$PORT" --dir . --devices "$DEVS" --seconds 60 \
        --stop-file stop > "load-$ENGINE.out" &
    LPID=$!
    sleep 1
    for i in $(seq 1 "$KILLS"); do
        sleep "0.$((RANDOM % 6 + 3))"
        victim=$(pgrep -P "$PID" | shuf -n1)
        [ -n "$victim" ] && kill -9 "$victim"
    done
    sleep $((LOAD_SECONDS > KILLS ? 2 : 1))
    touch stop
    wait "$LPID"
    LPID=
    kill -TERM "$PID"
    wait "$PID"
    expect "$ENGINE: exit status after SIGTERM" "$?" 0
    PID=
    restarts=$(grep -c 'starting another' "srv-$ENGINE.err")
    sent=$(wc -l < "load-$ENGINE.out")
    awk '$3 == 200 { print $1 " " $2 }' "load-$ENGINE.out" | sort > acked
    acked=$(wc -l < acked)
    lost=$(awk '$3 == 0' "load-$ENGINE.out" | wc -l)
    refused=$(awk '$3 != 0 && $3 != 200' "load-$ENGINE.out" | wc -l)
    Q "SELECT device_id || ' ' || ctr FROM telemetry" | sort > stored
    stored=$(wc -l < stored)
    dups=$(uniq -d stored | wc -l)
    missing=$(comm -23 acked <(sort -u stored) | wc -l)
    expect "$ENGINE: acknowledged frames missing from the database" "$missing" 0
    expect "$ENGINE: frames stored twice" "$dups" 0
    [ "$restarts" -ge "$KILLS" ] || fail "$ENGINE: $restarts worker restarts for $KILLS kills"
    [ "$acked" -gt 100 ] || fail "$ENGINE: only $acked frames acknowledged"
    # every acknowledged frame again, through a fresh server: replays
    : > srv.out
    "$SRV" serve --listen 127.0.0.1:0 --db "$DB" --ca ca.pem --cert srv.pem --key srv.key \
        --rate 0 > srv.out 2>> "srv-$ENGINE.err" &
    PID=$!
    for i in $(seq 1 100); do
        PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' srv.out)
        [ -n "$PORT" ] && break
        sleep 0.1
    done
    python3 -c 'import json, sys
print(json.dumps([{"dev": l.split()[0], "ctr": int(l.split()[1])} for l in open(sys.argv[1])]))' \
        acked > again.json
    python3 "$LOAD" plan --port "$PORT" --dir . again.json > again.out || fail "load generator"
    replays=$(awk '$3 == 409' again.out | wc -l)
    expect "$ENGINE: acknowledged frames sent again, refused as replays" "$replays" "$acked"
    kill -TERM "$PID"
    wait "$PID"
    PID=
    expect "$ENGINE: rows after the replays" "$(Q "SELECT count(*) FROM telemetry")" "$stored"
    integrity
    echo "backend_chaos: $ENGINE: $KILLS kills ($restarts restarts); $sent frames sent:" \
        "$acked acknowledged, $refused refused, $lost unanswered; $stored stored" \
        "($((stored - acked)) of them unanswered), $dups twice, $missing acknowledged missing;" \
        "$replays/$acked resent refused as replays"
}

ENGINE=sqlite
DB=$T/db
Q() { sqlite3 "$DB" "$1"; }
integrity() { expect "sqlite: integrity_check" "$(Q 'PRAGMA integrity_check')" ok; }
run_engine

if [ "$HAVE_PG" = 1 ]; then
    pg_start || exit 1
    ENGINE=postgresql
    DB=$IOTSEC_TEST_PG_URI
    Q() { pg_psql -Atc "$1"; }
    integrity() {
        local r
        r=$(Q "CREATE EXTENSION IF NOT EXISTS amcheck;
               SELECT count(*) FROM (SELECT bt_index_check(c.oid, true) FROM pg_index i
               JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
               WHERE a.amname = 'btree' AND i.indrelid IN (SELECT oid FROM pg_class WHERE
               relnamespace = 'public'::regnamespace)) x" 2>&1)
        [[ $r =~ ^[0-9]+$ ]] && [ "$r" -gt 0 ] || fail "postgresql: amcheck: $r"
        # the replay state holds at least every stored counter's device
        expect "postgresql: devices with rows but no replay state" \
            "$(Q "SELECT count(DISTINCT device_id) FROM telemetry t WHERE NOT EXISTS (SELECT 1
                  FROM iotsec_replay_state s WHERE s.device_id = convert_to(t.device_id, 'UTF8'))")" 0
    }
    run_engine
else
    echo "backend_chaos: PostgreSQL part skipped (IOTSEC_HAVE_PG 0)"
fi

if [ "$failures" -ne 0 ]; then
    echo "backend_chaos: $failures failure(s)"
    exit 1
fi
echo "backend_chaos: all checks passed"
