#!/usr/bin/env bash
# mosquitto with the iotsec plugin under hostile load (issue 19 item 2, the broker's half of
# tests/scripts/backend_flood.sh; plugins/mosquitto/README.md "Hostile load"). Loopback only,
# bounded in count and time (about 45 s; 50 s under ASan).
#
# mosquitto 2.0 on a free loopback port (TLS, require_certificate, the plugin), configured
# as plugins/mosquitto/README.md "Hostile load" says. Four floods, each from 11 source
# addresses (127.0.0.2-12, bound before connect), while a legitimate device (dev-1, from
# 127.0.0.1) publishes a sealed frame with QoS 1 on a new MQTT 5 connection (mosquitto_pub)
# every 0.1 s:
#   tcp    ~1,100 idle TCP connections that never send a byte
#   hello  ~1,100 half-open TLS handshakes (a ClientHello, then silence)
#   tls    one stolen device certificate (dev-x) holding ~1,024 complete TLS handshakes
#          that send no CONNECT (so no session and no takeover: mosquitto 2.0 has no limit
#          per certificate before CONNECT)
#   cert   the same certificate opening ~1,024 MQTT connections, each a
#          complete handshake and CONNECT with client id dev-x (the plugin requires client
#          id = identity), then idle. Each takes over the session of the one before
#          (mosquitto's session takeover — a denial of service for whoever holds dev-x,
#          which the thief is; not for other devices, which is what is measured here)
# The tcp and hello connections are opened at once (non-blocking connects), the tls and
# cert ones one after the other; connections the broker closes are opened again (at most 200/s, 3 ×
# the count in all). dev-1 starts once the flood is up and publishes for 8 s; an operator
# subscribes to all telemetry. A publish answered PUBACK with reason 0 is a success.
# Asserts the legitimate device's success rate ≥ 99% in each flood, that the thief held at
# most one session at the end of cert, that the plugin accepted and the operator received
# every acknowledged frame and that dev-1 is served after the floods. Prints per flood:
# dev-1's PUBACKs (slowest publish, connection included), the attacker's connections opened
# / still open at the end on its side (max at once, seconds until the flood was up),
# mosquitto's open descriptors at the end of the flood (fewer than the attacker's count:
# mosquitto listens with a backlog of 100, and connections the kernel answered with a SYN
# cookie while that queue was full and that never send a byte never reach it), its CPU time
# and its RSS (VmRSS) before and after.
# ASan build (SANITIZE=1): as tests/scripts/mqtt_plugin.sh, mosquitto runs with libasan
# preloaded so the plugin is instrumented; a sanitizer report fails the test.
# Needs BUILD ($BUILD/mosquitto_iotsec.so, $BUILD/iotsec-backend, $BUILD/iotsec), mosquitto,
# mosquitto_pub, python3, Linux (127/8 on lo) and a hard descriptor limit of at least 2,600
# (skipped otherwise, with the reason).
set -u
: "${BUILD:=build}"
BUILD=$(cd "$BUILD" && pwd) || exit 1
HERE=$(cd "$(dirname "$0")" && pwd)
PLUGIN=$BUILD/mosquitto_iotsec.so
BACKEND=$BUILD/iotsec-backend
CLI=$BUILD/iotsec
FLOOD=$HERE/mqtt_flood.py
T=$(mktemp -d "${TMPDIR:-/tmp}/mqtt-flood.XXXXXX") || exit 1
MOSQ_PID=
PORT=
failures=0

cleanup() {
    if [ -n "$MOSQ_PID" ]; then kill -9 "$MOSQ_PID" 2>/dev/null; wait "$MOSQ_PID" 2>/dev/null; fi
    local p
    for p in $(jobs -p); do kill "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
die() { echo "FAIL: $*"; exit 1; }
skip() { echo "mqtt_flood: skipped: $*"; exit 0; }
# field LINE KEY: the value of KEY=value in a line of mqtt_flood.py
field() { sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" <<<"$1"; }
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$MOSQ_PID/status" 2>/dev/null; }
# nfds: the broker's open descriptors (its listening socket, log and database files, and a
# socket per connection it accepted)
nfds() { find "/proc/$MOSQ_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# cpu: the broker's CPU time so far (user + system), in clock ticks
cpu() { awk '{ print $14 + $15 }' "/proc/$MOSQ_PID/stat" 2>/dev/null; }

# ---- environment --------------------------------------------------------------------------
[ "$(uname -s)" == Linux ] || skip "needs Linux (all of 127.0.0.0/8 routed to lo)"
for c in mosquitto mosquitto_pub; do
    command -v "$c" >/dev/null || die "$c is not installed (scripts/install-deps)"
done
if [ ! -f "$PLUGIN" ]; then
    [ -f /usr/include/mosquitto_broker.h ] ||
        skip "mosquitto's plugin headers are absent (Debian mosquitto-dev), so the plugin was not built"
    die "$PLUGIN is not built"
fi
for b in "$BACKEND" "$CLI"; do [ -x "$b" ] || die "$b is not built"; done
command -v python3 >/dev/null || skip "needs python3"
hard=$(ulimit -Hn)
[ "$hard" == unlimited ] || [ "$hard" -ge 2600 ] ||
    skip "the hard descriptor limit is $hard; the floods need 2,600 (1,100 client + 1,100 broker)"
ulimit -n "$([ "$hard" == unlimited ] && echo 8192 || echo $((hard < 8192 ? hard : 8192)))" ||
    skip "cannot raise ulimit -n"
python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.12", 0))' 2>/dev/null ||
    skip "cannot bind to 127.0.0.12"

# ---- PKI, devices, frames -------------------------------------------------------------------
cd "$T" || exit 1
DB=$T/backend.db
"$CLI" ca init --dir ca >/dev/null || die "iotsec ca init"
"$CLI" ca server --dir ca --name localhost --ip 127.0.0.1 --out-key srv.key \
    --out-cert srv.pem >/dev/null || die "iotsec ca server"
for d in dev-1 dev-x; do
    "$CLI" ca issue --dir ca --device-id "$d" --out-key "$d.key" --out-cert "$d.pem" \
        >/dev/null || die "iotsec ca issue $d"
    "$CLI" secret --bytes 32 --out "$d.secret" >/dev/null || die "secret $d"
    "$BACKEND" add-device --db "$DB" --device-id "$d" --secret-file "$d.secret" >/dev/null ||
        die "add-device $d"
done
"$CLI" ca issue --dir ca --device-id ops --out-key ops.key --out-cert ops.pem >/dev/null ||
    die "iotsec ca issue ops"
"$CLI" ca crl --dir ca --out crl.pem >/dev/null || die "iotsec ca crl"
NFRAMES=300
mkdir frames
# shellcheck disable=SC2016 # expanded by sh -c, not here
seq 1 "$NFRAMES" | xargs -P 2 -I{} sh -c \
    'echo "reading {}" | "$0" frame seal --secret dev-1.secret --device-id dev-1 --ctr {} > frames/{}.bin' \
    "$CLI" || die "frame seal"
NEXT=1
# publishes a flood must measure at least: one every 0.1 s plus mosquitto_pub's own time
# for 8 s is about 50, fewer on a loaded machine or under a sanitizer; with 25 or fewer,
# 99% means that none failed
MIN_FRAMES=25
# connections a flood must have opened (held, or opened again after the broker closed them):
# under a sanitizer the broker completes fewer handshakes (the cert flood: about 700 in 10 s)
MIN_OPENED=1000
if [ -n "${SANITIZE:-}" ] && [ "${SANITIZE:-}" != 0 ]; then MIN_FRAMES=15 MIN_OPENED=500; fi

# ---- the broker ------------------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
AUDIT=$T/audit.log
# the settings of plugins/mosquitto/README.md "Hostile load"
cat >mosquitto.conf <<EOF
user $(id -un)
per_listener_settings false
allow_anonymous false
persistence false
log_dest file $T/mosquitto.log
log_type error
log_type warning
log_type notice
log_type information
listener $PORT 127.0.0.1
cafile $T/ca/ca.pem
certfile $T/srv.pem
keyfile $T/srv.key
require_certificate true
tls_version tlsv1.2
max_connections -1
plugin $PLUGIN
plugin_opt_device_ca $T/ca/ca.pem
plugin_opt_database $DB
plugin_opt_crl $T/crl.pem
plugin_opt_audit_log $AUDIT
plugin_opt_operator ops
EOF
MOSQ_ENV=()
# the ASan build: the runtime the plugin was linked with, preloaded (as mqtt_plugin.sh)
ASAN_RT=$(ldd "$PLUGIN" 2>/dev/null | sed -n 's/^[[:space:]]*libasan\.so[^ ]* => \([^ ]*\) .*/\1/p')
if [ "${SANITIZE:-0}" = 1 ] || [ -n "$ASAN_RT" ]; then
    [ -n "$ASAN_RT" ] && [ -f "$ASAN_RT" ] || die "SANITIZE=1 but $PLUGIN is not linked with libasan"
    MOSQ_ENV=(env "LD_PRELOAD=$ASAN_RT"
        "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:log_path=$T/asan"
        "UBSAN_OPTIONS=print_stacktrace=1:log_path=$T/ubsan")
fi
: >mosquitto.log
"${MOSQ_ENV[@]}" mosquitto -c mosquitto.conf >mosquitto.out 2>&1 &
MOSQ_PID=$!
for _ in $(seq 1 100); do
    grep -q 'mosquitto version [0-9.]* running' mosquitto.log 2>/dev/null && break
    kill -0 "$MOSQ_PID" 2>/dev/null || break
    sleep 0.1
done
grep -q 'mosquitto version [0-9.]* running' mosquitto.log 2>/dev/null || {
    cat mosquitto.out mosquitto.log
    die "mosquitto with the plugin did not start"
}
if [ ${#MOSQ_ENV[@]} -gt 0 ]; then
    grep -q libasan "/proc/$MOSQ_PID/maps" && grep -q mosquitto_iotsec "/proc/$MOSQ_PID/maps" ||
        die "mosquitto does not run the plugin under ASan"
    echo "mqtt_flood: ASan build: the plugin runs instrumented inside mosquitto (libasan preloaded)"
fi
echo "mqtt_flood: mosquitto $(mosquitto -h | sed -n 's/^mosquitto version //p') on 127.0.0.1:$PORT," \
    "descriptor limit $(sed -n 's/^Max open files *\([0-9a-z]*\).*/\1/p' "/proc/$MOSQ_PID/limits")"

# the operator subscribes to every device's telemetry: one line per message delivered
mosquitto_sub -h localhost -p "$PORT" --cafile ca/ca.pem --cert ops.pem --key ops.key -i ops \
    -V mqttv5 -q 1 -t 'devices/+/telemetry' -F '%t %l' >delivered 2>sub.err &
SUB_PID=$!
for _ in $(seq 1 50); do
    grep -q 'New client connected from .* as ops ' mosquitto.log 2>/dev/null && break
    sleep 0.1
done
sleep 0.5
# pub N: dev-1 publishes frame N with QoS 1 on a new MQTT 5 connection; prints
# "RC SECONDS": the PUBACK reason code (or "connack C", or "none") and the time taken
pub() {
    local out t0 t1 rc
    t0=$(date +%s.%N)
    out=$(timeout 5 mosquitto_pub -h localhost -p "$PORT" --cafile ca/ca.pem --cert dev-1.pem \
        --key dev-1.key -i dev-1 -V mqttv5 -q 1 -t devices/dev-1/telemetry \
        -f "frames/$1.bin" -d 2>&1)
    t1=$(date +%s.%N)
    if [[ $out =~ received\ PUBACK\ \(Mid:\ [0-9]+,\ RC:([0-9]+)\) ]]; then
        rc=${BASH_REMATCH[1]}
    elif [[ $out =~ received\ CONNACK\ \(([0-9]+)\) ]]; then
        rc="connack-${BASH_REMATCH[1]}"
    else
        rc=none
    fi
    awk -v rc="$rc" -v a="$t0" -v b="$t1" 'BEGIN { printf "%s %.3f\n", rc, b - a }'
}
# legit SECONDS OUT: dev-1 publishes the next frame every 0.1 s for SECONDS; one line
# "RC SECONDS" per frame in OUT
legit() {
    local end=$((SECONDS + $1))
    : >"$2"
    while [ "$SECONDS" -lt "$end" ] && [ "$NEXT" -le "$NFRAMES" ]; do
        pub "$NEXT" >>"$2"
        NEXT=$((NEXT + 1))
        sleep 0.1
    done
}
# before anything: the device is served
r=$(pub "$NEXT")
NEXT=$((NEXT + 1))
[ "${r%% *}" == 0 ] || die "dev-1's first publish, no flood: $r"

# ---- floods ------------------------------------------------------------------------------------
printf '%-6s  %-40s  %-7s  %-30s  %-5s  %-7s  %s\n' flood "legitimate dev-1 (new MQTT conn each)" \
    success "attacker opened/held" "fds" "CPU" "mosquitto RSS before -> after"
# run_flood NAME SECONDS MAX_HELD FLOOD-ARGS...
run_flood() {
    local name=$1 secs=$2 max_held=$3 before after fpid r ok n rate worst cpu0 cpu1 fds _
    shift 3
    before=$(rss)
    cpu0=$(cpu)
    rm -f "ready-$name" "stop-$name"
    python3 "$FLOOD" "$@" --port "$PORT" --duration 25 --ready "ready-$name" \
        --stop "stop-$name" >"flood-$name.out" 2>"flood-$name.err" &
    fpid=$!
    # the legitimate device publishes once the flood has opened its connections (at most
    # 12 s), for SECONDS; then the flood stops
    for _ in $(seq 1 120); do [ -e "ready-$name" ] && break; sleep 0.1; done
    [ -e "ready-$name" ] || fail "$name flood: not all connections opened within 12 s"
    legit "$secs" "legit-$name.out"
    fds=$(nfds)
    : >"stop-$name"
    wait "$fpid" || fail "$name flood: mqtt_flood.py failed: $(cat "flood-$name.err")"
    r=$(cat "flood-$name.out")
    [ -n "${MQTT_FLOOD_VERBOSE:-}" ] && echo "$name: $r"
    sleep 0.5
    after=$(rss)
    cpu1=$(cpu)
    n=$(wc -l <"legit-$name.out")
    ok=$(grep -c '^0 ' "legit-$name.out")
    worst=$(sort -k2 -n "legit-$name.out" | tail -n 1 | awk '{ print $2 "s" }')
    rate=$(awk -v ok="$ok" -v n="$n" 'BEGIN { printf "%.1f", n ? 100 * ok / n : 0 }')
    printf '%-6s  %-40s  %-7s  %-30s  %-5s  %-7s  %s\n' "$name" \
        "$ok/$n PUBACK 0 (slowest $worst)" "$rate%" \
        "$(field "$r" opened)/$(field "$r" open_at_end) (max $(field "$r" max_open), $(field "$r" ready_after) s)" \
        "$fds" \
        "$(awk -v t=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f s", t / hz }')" \
        "$before kB -> $after kB"
    [ "$n" -ge "$MIN_FRAMES" ] || fail "$name flood: only $n frames published (at least $MIN_FRAMES)"
    awk -v ok="$ok" -v n="$n" 'BEGIN { exit !(n > 0 && ok * 100 >= 99 * n) }' ||
        fail "$name flood: legitimate success $ok/$n < 99% ($(grep -v '^0 ' "legit-$name.out" | cut -d' ' -f1 | sort | uniq -c | head -n 3 | tr '\n' ' '))"
    [ "$(field "$r" open_at_end)" -le "$max_held" ] ||
        fail "$name flood: the attacker still holds $(field "$r" open_at_end) connections (at most $max_held)"
    [ "$(field "$r" opened)" -ge "$MIN_OPENED" ] ||
        fail "$name flood: only $(field "$r" opened) connections opened (at least $MIN_OPENED): $r"
    kill -0 "$MOSQ_PID" 2>/dev/null || die "$name flood: mosquitto died"
}
run_flood tcp 8 1100 tcp --count 1100
run_flood hello 8 1100 hello --count 1100
run_flood tls 8 1024 tls --count 1024 --cert dev-x.pem --key dev-x.key --ca ca/ca.pem
run_flood cert 8 1 cert --count 1024 --ready-count 100 --cert dev-x.pem --key dev-x.key --ca ca/ca.pem --client-id dev-x
echo "cert flood: $(field "$(cat flood-cert.out)" served) of dev-x's connections admitted" \
    "(CONNACK 0), $(field "$(cat flood-cert.out)" refused) refused; mosquitto logged" \
    "$(grep -c 'already connected, closing old connection' mosquitto.log) session takeovers"
accepted=$(grep -c '"identity":"dev-1","event":"accepted"' "$AUDIT")
acked=$(cat legit-*.out | grep -c '^0 ')
[ "$accepted" -ge $((acked + 1)) ] ||
    fail "the plugin audited $accepted accepted frames of dev-1, fewer than the $((acked + 1)) acknowledged"
r=$(pub "$NEXT")
[ "${r%% *}" == 0 ] || fail "dev-1 served after the floods: $r"
sleep 0.5
delivered=$(grep -c '^devices/dev-1/telemetry ' delivered)
[ "$delivered" -ge $((acked + 2)) ] ||
    fail "the operator received $delivered frames of dev-1, fewer than the $((acked + 2)) acknowledged"
echo "mqtt_flood: $((acked + 2)) frames of dev-1 acknowledged, $accepted accepted by the plugin, $delivered delivered to the operator"

# ---- stop --------------------------------------------------------------------------------------
kill "$SUB_PID" 2>/dev/null
wait "$SUB_PID" 2>/dev/null
kill -TERM "$MOSQ_PID"
for _ in $(seq 1 100); do kill -0 "$MOSQ_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$MOSQ_PID" 2>/dev/null; then
    fail "mosquitto did not stop within 10 s of SIGTERM"
else
    wait "$MOSQ_PID"
    rc=$?
    [ "$rc" == 0 ] || fail "mosquitto exit status after SIGTERM: $rc"
    MOSQ_PID=
fi
if [ ${#MOSQ_ENV[@]} -gt 0 ] && ls "$T"/asan.* "$T"/ubsan.* >/dev/null 2>&1; then
    cat "$T"/asan.* "$T"/ubsan.* 2>/dev/null | head -n 80
    fail "sanitizer report from the plugin inside mosquitto"
fi
if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed; mosquitto's log:"
    grep -v 'New connection\|New client\|Client .* disconnected\|already connected' mosquitto.log | tail -n 20
    exit 1
fi
echo "mqtt_flood: four floods passed"
exit 0
