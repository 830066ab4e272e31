#!/usr/bin/env bash
# serve --workers 2 (docs/DESIGN.md §12), on SQLite: two worker processes on one port
# (SO_REUSEPORT) under a parent that forwards signals and restarts a worker that dies.
#   - both workers start (two children, two 'start' audit rows) and serve: /v1/auth, a burst
#     of 64 frames from 16 devices, all 200 and stored once; a frame accepted is a replay on
#     every later connection, whichever worker takes it;
#   - the denylist watcher of each worker: a device added to the denylist file is refused on
#     every new connection; SIGHUP to the parent reaches both workers (two 'reload' rows);
#   - kill -9 of a worker: the parent starts another, the port keeps serving;
#   - SIGTERM to the parent: both workers drain, everything exits 0.
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
T=$(mktemp -d "${TMPDIR:-/tmp}/scale-wk.XXXXXX")
PID=
failures=0
cleanup() {
    if [ -n "$PID" ]; then
        pkill -9 -P "$PID" 2>/dev/null
        kill -9 "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
    fi
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect() { [ "$2" == "$3" ] || fail "$1: got '$2', expected '$3'"; }
q() { sqlite3 "$T/db" "$1"; }
wait_q() {
    local i r
    for i in $(seq 1 50); do
        r=$(q "$2")
        [ "$r" == "$3" ] && return 0
        sleep 0.1
    done
    fail "$1: got '$r', expected '$3'"
}
children() { pgrep -P "$PID" | wc -l; }

cd "$T" || exit 1
"$CLI" ca init --dir ca >/dev/null || { echo "FAIL: iotsec ca init"; exit 1; }
cp ca/ca.pem ca.pem
"$CLI" ca server --dir ca --name localhost --ip 127.0.0.1 --out-key srv.key \
    --out-cert srv.pem >/dev/null || { echo "FAIL: iotsec ca server"; exit 1; }
for i in $(seq 1 16); do
    d=dev-$i
    "$CLI" ca issue --dir ca --device-id "$d" --out-key "$d.key" --out-cert "$d.pem" \
        >/dev/null || { echo "FAIL: iotsec ca issue $d"; exit 1; }
    "$CLI" secret --bytes 32 --out "$d.secret" >/dev/null
    "$SRV" add-device --db db --device-id "$d" --secret-file "$d.secret" >/dev/null ||
        fail "add-device $d"
done
: > deny.txt

"$SRV" serve --workers 0 --db db --ca ca.pem --cert srv.pem --key srv.key 2>/dev/null
expect "--workers 0" "$?" 2
"$SRV" serve --workers 2 --db db --ca ca.pem --cert srv.pem --key nonexistent.key \
    --listen 127.0.0.1:0 >/dev/null 2>&1
expect "--workers 2 with a missing key: the workers' start-up status" "$?" 3

"$SRV" serve --workers 2 --listen 127.0.0.1:0 --db db --ca ca.pem --cert srv.pem \
    --key srv.key --denylist deny.txt --rate 0 --pid-file srv.pid > srv.out 2> srv.err &
PID=$!
for i in $(seq 1 100); do
    PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' srv.out)
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || { echo "FAIL: server did not start"; cat srv.err; exit 1; }
expect "pid file" "$(cat srv.pid)" "$PID"
expect "workers" "$(children)" 2
wait_q "two start rows" "SELECT count(*) FROM audit WHERE event = 'start'" 2
U() { echo "https://127.0.0.1:$PORT$1"; }
req() {
    local dev=$1; shift
    curl -sS --max-time 10 --cacert ca.pem --cert "$dev.pem" --key "$dev.key" \
        -w '\n%{http_code}' "$@" 2>/dev/null
}
expect "/v1/auth" "$(req dev-1 "$(U /v1/auth)")" $'AUTH OK dev-1\n200'

python3 - > burst.json <<'EOF'
import json
print(json.dumps([{"dev": "dev-%d" % i, "ctr": c} for i in range(1, 17) for c in (1, 2, 3, 4)]))
EOF
python3 "$LOAD" plan --port "$PORT" --dir . burst.json > burst.out || fail "load generator"
expect "burst: 200s" "$(awk '$3 == 200' burst.out | wc -l)" 64
expect "burst: rows" "$(q "SELECT count(*) FROM telemetry")" 64
expect "burst: distinct rows" "$(q "SELECT count(*) FROM (SELECT DISTINCT device_id, ctr FROM telemetry)")" 64
# a frame accepted once is a replay on every later connection (whichever worker)
echo "reading 9" | "$CLI" frame seal --secret dev-1.secret --device-id dev-1 --ctr 9 > f9.bin
codes=
for i in 1 2 3 4 5 6 7 8; do
    codes+=$(req dev-1 -H 'Content-Type: application/iotsec-frame' --data-binary @f9.bin \
        "$(U /v1/telemetry)" | tail -n1)" "
done
expect "one acceptance, then replays on new connections" "$codes" \
    "200 409 409 409 409 409 409 409 "
expect "frame 9 stored once" "$(q "SELECT count(*) FROM telemetry WHERE ctr = 9")" 1

# the denylist watcher of every worker
printf 'id:dev-2\n' > deny.new && mv deny.new deny.txt
wait_q "both workers reloaded the denylist" \
    "SELECT count(*) FROM audit WHERE event = 'reload' AND detail LIKE '%1 denylist%'" 2
ok=0
for i in 1 2 3 4 5 6 7 8; do
    [[ $(req dev-2 "$(U /v1/auth)") == *"AUTH OK"* ]] && ok=$((ok + 1))
done
expect "denylisted device served on new connections" "$ok" 0
# SIGHUP to the parent reaches both workers
n0=$(q "SELECT count(*) FROM audit WHERE event = 'reload'")
kill -HUP "$PID"
wait_q "SIGHUP reached both workers" "SELECT count(*) FROM audit WHERE event = 'reload'" $((n0 + 2))

# kill -9 a worker: another one takes its place
victim=$(pgrep -P "$PID" | head -n1)
kill -9 "$victim"
for i in $(seq 1 50); do
    [ "$(children)" = 2 ] && ! pgrep -P "$PID" | grep -qx "$victim" && break
    sleep 0.1
done
expect "workers after kill -9" "$(children)" 2
pgrep -P "$PID" | grep -qx "$victim" && fail "the killed worker is still a child"
wait_q "a third start row" "SELECT count(*) FROM audit WHERE event = 'start'" 3
for i in 1 2 3 4 5 6; do
    [ "$(req dev-3 "$(U /v1/auth)" | tail -n1)" = 200 ] || fail "auth after the restart ($i)"
done

# SIGTERM: drain, exit 0, no worker left
kids=$(pgrep -P "$PID" | tr '\n' ' ')
kill -TERM "$PID"
wait "$PID"
expect "exit status after SIGTERM" "$?" 0
for k in $kids; do kill -0 "$k" 2>/dev/null && fail "worker $k still runs"; done
PID=
expect "two stop rows of the last workers" "$(q "SELECT count(*) FROM audit WHERE event = 'stop'")" 2
[ -e srv.pid ] && fail "pid file left behind"
expect "integrity" "$(q 'PRAGMA integrity_check')" ok

if [ "$failures" -ne 0 ]; then
    echo "backend_workers: $failures failure(s)"
    tail -n 20 srv.err
    exit 1
fi
echo "backend_workers: all checks passed (2 workers)"
