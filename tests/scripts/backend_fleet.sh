#!/usr/bin/env bash
# A fleet on several servers (docs/DESIGN.md §12): HAProxy (Debian `haproxy`, TCP passthrough:
# mTLS still ends at the backends) on a loopback port in front of two iotsec-backend servers
# on their own ports, sharing one PostgreSQL database (a private cluster, tests/lib/pg.sh).
# 32 devices with real mTLS (backend_load.py) send through the balancer:
#   - every frame is acknowledged and stored once, and both backends accepted some (their
#     --log-json lines);
#   - every acknowledged frame sent again through the balancer (new connections, round robin
#     over both backends) is refused as a replay;
#   - a frame accepted by backend A directly is a replay for backend B directly, and the other
#     way round.
# Needs haproxy (scripts/install-deps) and a build with the PostgreSQL store; skips otherwise.
set -u
: "${BUILD:=build}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
BUILD=$(cd "$BUILD" && pwd) || exit 1
if ! grep -q '^#define IOTSEC_HAVE_PG 1$' "$BUILD/include/iotsec/config.h" 2>/dev/null; then
    echo "backend_fleet: skipped: $BUILD has no PostgreSQL store (IOTSEC_HAVE_PG 0)"
    exit 0
fi
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
[ -x "$HAPROXY" ] || { echo "backend_fleet: no haproxy (scripts/install-deps installs it)" >&2; exit 1; }
SRV=$BUILD/iotsec-backend
CLI=$BUILD/iotsec
LOAD=$ROOT/tests/scripts/backend_load.py
export IOTSEC_LIB=$BUILD/libiotsec.so.0
if ldd "$IOTSEC_LIB" 2>/dev/null | grep -q libasan && [ -e "$ROOT/build/libiotsec.so.0" ]; then
    IOTSEC_LIB=$ROOT/build/libiotsec.so.0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/scale-fleet.XXXXXX")
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
q() { pg_psql -Atc "$1"; }

cd "$T" || exit 1
"$CLI" ca init --dir ca >/dev/null || { echo "FAIL: iotsec ca init"; exit 1; }
cp ca/ca.pem ca.pem
"$CLI" ca server --dir ca --name localhost --ip 127.0.0.1 --out-key srv.key \
    --out-cert srv.pem >/dev/null || { echo "FAIL: iotsec ca server"; exit 1; }
for i in $(seq 1 32); do
    d=dev-$i
    "$CLI" ca issue --dir ca --device-id "$d" --out-key "$d.key" --out-cert "$d.pem" \
        >/dev/null || { echo "FAIL: iotsec ca issue $d"; exit 1; }
    "$CLI" secret --bytes 32 --out "$d.secret" >/dev/null
    "$SRV" add-device --db "$DB" --device-id "$d" --secret-file "$d.secret" >/dev/null ||
        fail "add-device $d"
done

start_server() { # NAME: sets PORT_NAME
    local name=$1 i port
    : > "$name.out"
    "$SRV" serve --listen 127.0.0.1:0 --db "$DB" --ca ca.pem --cert srv.pem --key srv.key \
        --rate 0 --log-json > "$name.out" 2> "$name.err" &
    PIDS+=("$!")
    eval "PID_$name=$!"
    for i in $(seq 1 100); do
        port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$name.out")
        if [ -n "$port" ]; then eval "PORT_$name=$port"; return 0; fi
        sleep 0.1
    done
    echo "FAIL: backend $name did not start"; cat "$name.err"; exit 1
}
start_server a
start_server b
LB=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > haproxy.cfg <<EOF
global
    maxconn 512
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend devices
    bind 127.0.0.1:$LB
    default_backend iotsec
backend iotsec
    balance roundrobin
    server a 127.0.0.1:$PORT_a
    server b 127.0.0.1:$PORT_b
EOF
"$HAPROXY" -c -f haproxy.cfg >/dev/null || { echo "FAIL: haproxy config"; exit 1; }
"$HAPROXY" -db -f haproxy.cfg > haproxy.log 2>&1 &
PIDS+=("$!")
HPID=$!
for i in $(seq 1 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $LB), 1).close()" \
        2>/dev/null && break
    sleep 0.1
done

python3 - > burst.json <<'EOF'
import json
print(json.dumps([{"dev": "dev-%d" % i, "ctr": c} for i in range(1, 33) for c in (1, 2, 3)]))
EOF
python3 "$LOAD" plan --port "$LB" --dir . burst.json > burst.out || fail "load generator"
acked=$(awk '$3 == 200' burst.out | wc -l)
expect "frames acknowledged through HAProxy" "$acked" 96
expect "rows" "$(q "SELECT count(*) FROM telemetry")" 96
expect "distinct rows" "$(q "SELECT count(*) FROM (SELECT DISTINCT device_id, ctr FROM telemetry) x")" 96
na=$(grep -c '"event":"accepted"' a.err)
nb=$(grep -c '"event":"accepted"' b.err)
[ "$na" -gt 0 ] && [ "$nb" -gt 0 ] || fail "HAProxy did not spread the frames: A $na, B $nb"
# every acknowledged frame again: new connections, round robin over both backends
python3 "$LOAD" plan --port "$LB" --dir . burst.json > again.out || fail "load generator (again)"
expect "acknowledged frames sent again: replays" "$(awk '$3 == 409' again.out | wc -l)" 96
expect "rows after the replays" "$(q "SELECT count(*) FROM telemetry")" 96

# directly: accepted by A → replay for B; accepted by B → replay for A
post() { # dev port file
    curl -sS --max-time 10 --cacert ca.pem --cert "$1.pem" --key "$1.key" -o /dev/null \
        -w '%{http_code}' -H 'Content-Type: application/iotsec-frame' --data-binary "@$3" \
        "https://127.0.0.1:$2/v1/telemetry" 2>/dev/null
}
echo x | "$CLI" frame seal --secret dev-1.secret --device-id dev-1 --ctr 10 > f10.bin
echo x | "$CLI" frame seal --secret dev-1.secret --device-id dev-1 --ctr 11 > f11.bin
expect "frame 10 on A" "$(post dev-1 "$PORT_a" f10.bin)" 200
expect "frame 10 on B" "$(post dev-1 "$PORT_b" f10.bin)" 409
expect "frame 11 on B" "$(post dev-1 "$PORT_b" f11.bin)" 200
expect "frame 11 on A" "$(post dev-1 "$PORT_a" f11.bin)" 409
expect "frame 11 through HAProxy" "$(post dev-1 "$LB" f11.bin)" 409

kill -TERM "$PID_a" "$PID_b"
wait "$PID_a"; expect "backend A exit status" "$?" 0
wait "$PID_b"; expect "backend B exit status" "$?" 0
kill "$HPID" 2>/dev/null
wait "$HPID" 2>/dev/null
PIDS=()
if [ "$failures" -ne 0 ]; then
    echo "backend_fleet: $failures failure(s)"
    grep -v '^{' a.err b.err | tail -n 20
    exit 1
fi
echo "backend_fleet: all checks passed ($acked frames through HAProxy: $na on A, $nb on B; 96 replays refused)"
