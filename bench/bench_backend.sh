#!/usr/bin/env bash
# make bench: iotsec-backend against nginx on loopback, with the same load generator
# (bench/bench_backend.c, run in generator mode by this script).
#
# Both servers: TLS with the same server certificate, client certificates required and
# verified against the same device CA and CRL, no session resumption; each with one process
# and with one per core (iotsec-backend --workers auto, nginx worker_processes auto). nginx
# (Debian nginx-light, installed on demand) answers a static 200 on the same paths. Figures:
# full mTLS connections per second (handshake + GET /v1/auth, each device in a loop),
# telemetry frames per second over keep-alive with p50/p99 latency — SQLite and, when the
# build has the PostgreSQL store and a server is installed, PostgreSQL (a private cluster,
# tests/lib/pg.sh), with 1 and N workers —, and the connection-rate ratio backend / nginx at
# the same process count (target ≥ 1.0). Bounded: a few seconds per measurement; everything
# runs in a temporary directory and is stopped at the end.
#
# Tunables (environment): BENCH_DEVICES (64), BENCH_SECONDS (3), BENCH_PROCS (2).
set -u
: "${BUILD:=build/bench-build}"
GEN=${1:-$BUILD/bench/bench_backend}
SRV=$BUILD/iotsec-backend
CLI=$BUILD/iotsec
N=${BENCH_DEVICES:-64}
CORES=$(nproc)
S=${BENCH_SECONDS:-3}
P=${BENCH_PROCS:-2}

scripts/install-deps nginx-light || { echo "bench_backend: nginx-light unavailable"; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
T=$(mktemp -d)
SRV_PID=
NGX_PID=
HAVE_PG=0
grep -q '^#define IOTSEC_HAVE_PG 1$' "$BUILD/include/iotsec/config.h" 2>/dev/null && HAVE_PG=1
# shellcheck source=tests/lib/pg.sh
. tests/lib/pg.sh
cleanup() {
    [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
    [ -n "$NGX_PID" ] && kill "$NGX_PID" 2>/dev/null && wait "$NGX_PID" 2>/dev/null
    pg_stop
    rm -rf "$T"
}
trap cleanup EXIT
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# PKI: device CA, server certificate, N devices (+ one revoked, so the CRL is not empty)
"$CLI" ca init --dir "$T/ca" >/dev/null || exit 1
"$CLI" ca server --dir "$T/ca" --name localhost --ip 127.0.0.1 --out-key "$T/srv.key" \
    --out-cert "$T/srv.pem" >/dev/null || exit 1
for ((i = 0; i <= N; i++)); do
    "$CLI" ca issue --dir "$T/ca" --device-id "dev-$i" --out-key "$T/dev-$i.key" \
        --out-cert "$T/dev-$i.pem" >/dev/null || exit 1
    "$CLI" secret --bytes 32 --out "$T/dev-$i.secret" >/dev/null || exit 1
done
"$CLI" ca revoke --dir "$T/ca" "$T/dev-$N.pem" >/dev/null
"$CLI" ca crl --dir "$T/ca" --out "$T/crl.pem" >/dev/null || exit 1
for ((i = 0; i < N; i++)); do
    "$SRV" add-device --db "$T/db" --device-id "dev-$i" --secret-file "$T/dev-$i.secret" \
        >/dev/null || exit 1
done

gen() { # mode port ctr_base → "<ok> <errors> <per second> <p50> <p99>"
    "$GEN" gen "$1" 127.0.0.1 "$2" "$T/ca/ca.pem" "$T" "$N" "$S" "$P" "$3"
}
DB=$T/db
start_backend() {
    "$SRV" serve --listen 127.0.0.1:0 --db "$DB" --ca "$T/ca/ca.pem" --cert "$T/srv.pem" \
        --key "$T/srv.key" --crl "$T/crl.pem" --rate 0 --max-conns 100000 \
        --max-conns-per-peer 100000 "$@" > "$T/srv.out" 2> "$T/srv.err" &
    SRV_PID=$!
    PORT=
    for _ in $(seq 1 100); do
        PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/srv.out")
        [ -n "$PORT" ] && return 0
        sleep 0.1
    done
    echo "bench_backend: iotsec-backend did not start"; cat "$T/srv.err"; exit 1
}
stop_backend() { kill "$SRV_PID"; wait "$SRV_PID"; SRV_PID=; }
show() { # label "<ok> <err> <rate> <p50> <p99>" unit
    read -r ok err rate p50 p99 <<< "$2"
    printf '  %-44s %9.1f %s   p50 %7.3f ms  p99 %7.3f ms   (%s ok, %s errors)\n' \
        "$1" "$rate" "$3" "$p50" "$p99" "$ok" "$err"
}

echo "devices $N, generator processes $P, $S s per measurement (after 0.5 s warm-up), loopback"
start_backend
b_conn=$(gen conn "$PORT" 0)
b_tel=$(gen telemetry "$PORT" 0)
stop_backend
start_backend --sync normal
b_tel_n=$(gen telemetry "$PORT" 1000000000)
stop_backend
start_backend --workers auto
b_conn_w=$(gen conn "$PORT" 0)
b_tel_w=$(gen telemetry "$PORT" 2000000000)
stop_backend
pg_tel=
if [ "$HAVE_PG" = 1 ] && pg_start >/dev/null 2>&1; then
    trap cleanup EXIT # pg_start installed its own
    DB=$IOTSEC_TEST_PG_URI
    for ((i = 0; i < N; i++)); do
        "$SRV" add-device --db "$DB" --device-id "dev-$i" --secret-file "$T/dev-$i.secret" \
            >/dev/null || exit 1
    done
    start_backend
    pg_tel=$(gen telemetry "$PORT" 0)
    stop_backend
    start_backend --workers auto
    pg_tel_w=$(gen telemetry "$PORT" 1000000000)
    stop_backend
    pg_stop
fi

run_nginx() { # SUFFIX WORKERS: sets n_conn$SUFFIX, n_tel$SUFFIX
NPORT=$(free_port)
mkdir -p "$T/nginx"
user_line=
[ "$(id -u)" -eq 0 ] && user_line="user root;"
cat > "$T/nginx/nginx.conf.in" <<EOF
$user_line
worker_processes @WORKERS@;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $T/nginx/body;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:$NPORT ssl;
        ssl_certificate $T/srv.pem;
        ssl_certificate_key $T/srv.key;
        ssl_client_certificate $T/ca/ca.pem;
        ssl_verify_client on;
        ssl_verify_depth 1;
        ssl_crl $T/crl.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets off;
        location = /v1/auth { default_type text/plain; return 200 "AUTH OK"; }
        location = /v1/telemetry { default_type application/json; return 200 '{"accepted":true}'; }
    }
}
EOF
sed "s/@WORKERS@/$2/" "$T/nginx/nginx.conf.in" > "$T/nginx/nginx.conf"
"$NGINX" -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" 2>> "$T/nginx/error.log" &
NGX_PID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null --cacert "$T/ca/ca.pem" --cert "$T/dev-0.pem" --key "$T/dev-0.key" \
        "https://127.0.0.1:$NPORT/v1/auth" && break
    sleep 0.1
done
eval "n_conn$1=\$(gen conn \"\$NPORT\" 0)"
eval "n_tel$1=\$(gen telemetry \"\$NPORT\" 0)"
kill "$NGX_PID"
wait "$NGX_PID" 2>/dev/null
NGX_PID=

}
run_nginx "" 1
run_nginx _w auto

echo "mTLS connections (full handshake + GET /v1/auth, no resumption):"
show "iotsec-backend, 1 worker" "$b_conn" "conn/s"
show "iotsec-backend, --workers auto ($CORES)" "$b_conn_w" "conn/s"
show "nginx (static 200), 1 worker" "$n_conn" "conn/s"
show "nginx (static 200), worker_processes auto" "$n_conn_w" "conn/s"
echo "telemetry over keep-alive (POST binary frame v1, 64-byte payload, acknowledged after"
echo "its group commit):"
show "SQLite synchronous=FULL, 1 worker" "$b_tel" "frames/s"
show "SQLite synchronous=FULL, $CORES workers" "$b_tel_w" "frames/s"
show "SQLite --sync normal, 1 worker" "$b_tel_n" "frames/s"
if [ -n "$pg_tel" ]; then
    show "PostgreSQL synchronous_commit=on, 1 worker" "$pg_tel" "frames/s"
    show "PostgreSQL synchronous_commit=on, $CORES workers" "$pg_tel_w" "frames/s"
else
    echo "  (PostgreSQL: not measured: no PostgreSQL store in this build or no server)"
fi
show "nginx (static 200, frame not checked), 1 worker" "$n_tel" "req/s"
show "nginx (static 200), worker_processes auto" "$n_tel_w" "req/s"
ratio() { # LABEL BACKEND NGINX
    local br nr
    read -r _ _ br _ <<< "$2"
    read -r _ _ nr _ <<< "$3"
    awk -v l="$1" -v b="$br" -v n="$nr" 'BEGIN {
        if (n > 0) printf "handshake ratio backend/nginx, %s: %.2f (target >= 1.0)\n", l, b / n
        else printf "handshake ratio backend/nginx, %s: n/a (nginx served nothing)\n", l }'
}
ratio "1 process each" "$b_conn" "$n_conn"
ratio "one per core each" "$b_conn_w" "$n_conn_w"
