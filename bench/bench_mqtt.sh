#!/usr/bin/env bash
# make bench: mosquitto with the iotsec plugin against the same mosquitto without it, with
# the same load generator (bench/bench_mqtt.c, run in generator mode by this script), in the
# same run.
#
# Both brokers: mosquitto 2.0 (Debian), one process, the same TLS listener on loopback
# (client certificate required and verified against the device CA, TLS 1.2+), no
# persistence. The plugin's broker shares a backend database (iotsec-backend add-device)
# whose replay state it commits with SQLite synchronous=FULL (then =NORMAL) before each
# PUBACK; it audits every accepted frame to a file. Figures:
#   - telemetry frames acknowledged per second (QoS 1, binary frame v1, 64-byte payload,
#     BENCH_MQTT_WINDOW in flight per device) and delivered per second to one operator
#     subscribed to devices/+/telemetry; the ratio plugin / plain broker;
#   - under a flood of forged frames (BENCH_MQTT_FORGED connections of registered devices
#     publishing frames with a bad tag as fast as the broker answers) while one legitimate
#     device keeps publishing: forged frames refused per second and the legitimate device's
#     accepted frames per second.
# A benchmark, not a test: the goal (plugin >= 0.7 x plain, acknowledgement after the
# replay commit) is printed, not enforced. Bounded: a few seconds per measurement;
# everything runs in a temporary directory and is stopped at the end.
#
# Tunables (environment): BENCH_MQTT_DEVICES (8), BENCH_MQTT_FORGED (4),
# BENCH_MQTT_WINDOW (8), BENCH_SECONDS (3).
set -u
: "${BUILD:=build/bench-build}"
GEN=${1:-$BUILD/bench/bench_mqtt}
CLI=$BUILD/iotsec
SRV=$BUILD/iotsec-backend
PLUGIN=$BUILD/mosquitto_iotsec.so
N=${BENCH_MQTT_DEVICES:-8}
F=${BENCH_MQTT_FORGED:-4}
W=${BENCH_MQTT_WINDOW:-8}
S=${BENCH_SECONDS:-3}

for need in mosquitto "$PLUGIN"; do
    if ! command -v "$need" >/dev/null && [ ! -f "$need" ]; then
        echo "bench_mqtt: skipped: $need is missing (Debian mosquitto, mosquitto-dev)"
        exit 0
    fi
done
T=$(mktemp -d)
MOSQ_PID=
cleanup() {
    if [ -n "$MOSQ_PID" ]; then kill "$MOSQ_PID" 2>/dev/null; wait "$MOSQ_PID" 2>/dev/null; fi
    rm -rf "$T"
}
trap cleanup EXIT
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

"$CLI" ca init --dir "$T/ca" >/dev/null || exit 1
"$CLI" ca server --dir "$T/ca" --name localhost --ip 127.0.0.1 --out-key "$T/srv.key" \
    --out-cert "$T/srv.pem" >/dev/null || exit 1
"$CLI" ca issue --dir "$T/ca" --device-id ops --out-key "$T/ops.key" --out-cert "$T/ops.pem" \
    >/dev/null || exit 1
for ((i = 0; i < N + F; i++)); do
    "$CLI" ca issue --dir "$T/ca" --device-id "dev-$i" --out-key "$T/dev-$i.key" \
        --out-cert "$T/dev-$i.pem" >/dev/null || exit 1
    "$CLI" secret --bytes 32 --out "$T/dev-$i.secret" >/dev/null || exit 1
    "$SRV" add-device --db "$T/db" --device-id "dev-$i" --secret-file "$T/dev-$i.secret" \
        >/dev/null || exit 1
done
"$CLI" ca crl --dir "$T/ca" --out "$T/crl.pem" >/dev/null || exit 1

# start_broker PLUGIN-LINES...: mosquitto on a free port (PORT) with the common listener
start_broker() {
    PORT=$(free_port)
    {
        echo "user $(id -un)"
        echo "persistence false"
        echo "log_dest file $T/mosquitto.log"
        echo "listener $PORT 127.0.0.1"
        echo "cafile $T/ca/ca.pem"
        echo "certfile $T/srv.pem"
        echo "keyfile $T/srv.key"
        echo "require_certificate true"
        echo "tls_version tlsv1.2"
        if [ $# -eq 0 ]; then echo "allow_anonymous true"; else printf '%s\n' "$@"; fi
    } >"$T/mosquitto.conf"
    : >"$T/mosquitto.log"
    mosquitto -c "$T/mosquitto.conf" >"$T/mosquitto.out" 2>&1 &
    MOSQ_PID=$!
    for _ in $(seq 1 100); do
        grep -q 'mosquitto version [0-9.]* running' "$T/mosquitto.log" && return 0
        sleep 0.1
    done
    echo "bench_mqtt: mosquitto did not start"; cat "$T/mosquitto.out" "$T/mosquitto.log"; exit 1
}
stop_broker() { kill "$MOSQ_PID"; wait "$MOSQ_PID" 2>/dev/null; MOSQ_PID=; }
plugin_lines() { # SYNC
    printf '%s\n' "plugin $PLUGIN" "plugin_opt_device_ca $T/ca/ca.pem" "plugin_opt_database $T/db" \
        "plugin_opt_crl $T/crl.pem" "plugin_opt_audit_log $T/audit.log" \
        "plugin_opt_operator ops" "plugin_opt_sync $1"
}
gen() { # DEVICES FORGED CTR_BASE → "<ok/s> <refused/s> <forged ok/s> <forged refused/s> <delivered/s>"
    "$GEN" gen localhost "$PORT" "$T/ca/ca.pem" "$T" "$1" "$2" "$S" "$W" "$3"
}

echo "devices $N, $W frames in flight each, QoS 1, $S s per measurement (after 0.5 s warm-up), loopback"
start_broker
plain=$(gen "$N" 0 0)
stop_broker
mapfile -t lines < <(plugin_lines full)
start_broker "${lines[@]}"
full=$(gen "$N" 0 0)
flood=$(gen 1 "$F" 1000000000)
stop_broker
mapfile -t lines < <(plugin_lines normal)
start_broker "${lines[@]}"
normal=$(gen "$N" 0 2000000000)
stop_broker

read -r p_ok _ _ _ p_del <<<"$plain"
read -r f_ok f_ref _ _ f_del <<<"$full"
read -r n_ok n_ref _ _ n_del <<<"$normal"
read -r l_ok l_ref x_ok x_ref _ <<<"$flood"
printf '  %-58s %9.1f frames/s acknowledged, %9.1f delivered/s\n' \
    "mosquitto, no plugin (frames not checked)" "$p_ok" "$p_del"
printf '  %-58s %9.1f frames/s acknowledged, %9.1f delivered/s (%s refused/s)\n' \
    "mosquitto + iotsec plugin, SQLite synchronous=FULL" "$f_ok" "$f_del" "$f_ref"
printf '  %-58s %9.1f frames/s acknowledged, %9.1f delivered/s (%s refused/s)\n' \
    "mosquitto + iotsec plugin, plugin_opt_sync normal" "$n_ok" "$n_del" "$n_ref"
echo "flood: $F connections publishing forged frames, 1 legitimate device publishing:"
printf '  %-58s %9.1f refused/s (%s accepted/s)\n' "forged frames" "$x_ref" "$x_ok"
printf '  %-58s %9.1f accepted/s (%s refused/s)\n' "legitimate device during the flood" "$l_ok" "$l_ref"
awk -v f="$f_ok" -v n="$n_ok" -v p="$p_ok" 'BEGIN {
    if (p > 0) printf "ratio plugin/plain: %.2f (FULL), %.2f (NORMAL) (goal >= 0.7)\n", f / p, n / p
    else print "ratio plugin/plain: n/a (the plain broker acknowledged nothing)" }'
