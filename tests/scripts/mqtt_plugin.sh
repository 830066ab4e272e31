#!/usr/bin/env bash
# The mosquitto plugin with the real broker (docs/DESIGN.md §13, plugins/mosquitto/README.md):
# mosquitto 2.0 on free loopback ports with $BUILD/mosquitto_iotsec.so and a generated
# mosquitto.conf; the backend's database made by `iotsec-backend add-device`; certificates,
# CRLs and frames from the iotsec CLI; clients: mosquitto_pub/mosquitto_sub, Python's
# paho-mqtt (an independent MQTT implementation) and the device simulator. Checked:
#   - an accepted frame is delivered to a subscriber; a forged MAC, a frame naming another
#     device, a replay, a wrong topic, retained telemetry, a subscription to another
#     device's topic are refused (PUBACK/SUBACK reason 0x87) and never delivered;
#   - certificates: of an unknown CA, none at all, revoked, of an unregistered or disabled
#     device, a client id other than the identity — refused (by mosquitto's TLS listener
#     and, on a listener that lets them through TLS, by the plugin itself);
#   - a device revoked while connected (CRL, then denylist) is disconnected within one
#     reload interval and cannot reconnect; a denylist that does not parse keeps the set;
#   - one replay state with the backend: a frame accepted over HTTPS is a replay over MQTT
#     and the other way round (binary, JSON and the legacy EcoWatt profile);
#   - the device simulator: run --transport mqtt, mqtt:// refused, listen opens downlink
#     commands and refuses a replayed one;
#   - every refusal is an audit line with the backend's event name.
# ASan build (SANITIZE=1): the plugin is built with the sanitizers and mosquitto (not
# instrumented) is started with libasan preloaded, so the plugin's code runs under ASan and
# UBSan here too; a sanitizer report fails the test.
. "$(dirname "$0")/../../examples/device-sim/tests/lib.sh"

PLUGIN=$BUILD_ABS/mosquitto_iotsec.so
for p in mosquitto mosquitto_pub mosquitto_sub curl; do
    command -v "$p" >/dev/null || fail "$p is not installed (scripts/install-deps)"
done
if [ ! -f "$PLUGIN" ]; then
    if [ ! -f /usr/include/mosquitto_broker.h ]; then
        echo "mqtt_plugin: SKIP: mosquitto's plugin headers are absent (Debian mosquitto-dev), so the plugin was not built"
        exit 0
    fi
    fail "$PLUGIN is not built"
fi
PY=
for candidate in python3 /usr/bin/python3; do
    if "$candidate" -c 'import paho.mqtt.client' 2>/dev/null; then PY=$candidate; break; fi
done
[ -n "$PY" ] || fail "no python3 can import paho.mqtt (Debian python3-paho-mqtt)"
"$SIM" listen --help >/dev/null 2>&1 || fail "the device simulator has no listen command"

# ---- PKI, devices, the backend's database ----------------------------------------------------
setup_pki
CA=$T/ca/ca.pem
device d1 sensor
device d2 sensor
device d3 sensor
device d4 sensor
D1=$(cat "$T/d1.id") D2=$(cat "$T/d2.id") D3=$(cat "$T/d3.id") D4=$(cat "$T/d4.id")
"$BACKEND" disable-device --db "$DB" --device-id "$D4" >/dev/null || fail "disable-device"
for n in ops stranger eco-1; do
    "$CLI" ca issue --dir "$T/ca" --device-id "$n" --out-key "$T/$n.key" \
        --out-cert "$T/$n.pem" >/dev/null || fail "ca issue $n"
done
"$CLI" secret --bytes 32 --out "$T/eco-1.secret" >/dev/null
"$CLI" secret --bytes 32 --out "$T/eco-mac.bin" >/dev/null
"$CLI" secret --bytes 16 --out "$T/eco-enc.bin" >/dev/null
"$BACKEND" add-device --db "$DB" --device-id eco-1 --secret-file "$T/eco-1.secret" \
    --legacy-mac-key "$T/eco-mac.bin" --legacy-enc-key "$T/eco-enc.bin" >/dev/null ||
    fail "add-device eco-1"
# an attacker's CA with a certificate carrying a real device's id
"$CLI" ca init --dir "$T/evil" >/dev/null || fail "ca init evil"
"$CLI" ca issue --dir "$T/evil" --device-id "$D1" --out-key "$T/evil.key" \
    --out-cert "$T/evil.pem" >/dev/null || fail "ca issue evil"
cat "$CA" "$T/evil/ca.pem" >"$T/both-ca.pem"
"$CLI" ca crl --dir "$T/ca" --out "$T/crl.pem" >/dev/null || fail "ca crl"
: >"$T/deny.txt"

# ---- the broker ------------------------------------------------------------------------------
free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
P1=$(free_port) P2=$(free_port) P3=$(free_port)
[ "$P1" != "$P2" ] && [ "$P2" != "$P3" ] && [ "$P1" != "$P3" ] || fail "free ports: $P1 $P2 $P3" 
AUDIT=$T/audit.log
# P1: the production listener (TLS client certificate required, the device CA only).
# P2 and P3 let through TLS what P1 refuses, to show that the plugin decides on its own:
# P2 trusts the attacker's CA too, P3 asks for no client certificate.
cat >"$T/mosquitto.conf" <<EOF
user $(id -un)
per_listener_settings false
allow_anonymous false
persistence false
log_dest file $T/mosquitto.log
log_type error
log_type warning
log_type notice
log_type information
listener $P1 127.0.0.1
cafile $CA
certfile $T/server.pem
keyfile $T/server.key
require_certificate true
tls_version tlsv1.2
listener $P2 127.0.0.1
cafile $T/both-ca.pem
certfile $T/server.pem
keyfile $T/server.key
require_certificate true
tls_version tlsv1.2
listener $P3 127.0.0.1
cafile $CA
certfile $T/server.pem
keyfile $T/server.key
require_certificate false
tls_version tlsv1.2
plugin $PLUGIN
plugin_opt_device_ca $CA
plugin_opt_database $DB
plugin_opt_crl $T/crl.pem
plugin_opt_denylist $T/deny.txt
plugin_opt_audit_log $AUDIT
plugin_opt_reload_interval 1
plugin_opt_operator ops
EOF
MOSQ_ENV=()
# the runtime the plugin was linked with (the ASan build): preloaded, it comes first
ASAN_RT=$(ldd "$PLUGIN" 2>/dev/null | sed -n 's/^[[:space:]]*libasan\.so[^ ]* => \([^ ]*\) .*/\1/p')
if [ "${SANITIZE:-0}" = 1 ] || [ -n "$ASAN_RT" ]; then
    [ -n "$ASAN_RT" ] && [ -f "$ASAN_RT" ] || fail "SANITIZE=1 but $PLUGIN is not linked with libasan"
    MOSQ_ENV=(env "LD_PRELOAD=$ASAN_RT"
        "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:log_path=$T/asan"
        "UBSAN_OPTIONS=print_stacktrace=1:log_path=$T/ubsan")
fi
broker_running() { grep -q 'mosquitto version [0-9.]* running' "$T/mosquitto.log" 2>/dev/null; }
broker_start() {
    : >"$T/mosquitto.log"
    "${MOSQ_ENV[@]}" mosquitto -c "$T/mosquitto.conf" >"$T/mosquitto.out" 2>&1 &
    MOSQ_PID=$!
    PIDS+=("$MOSQ_PID")
    wait_for 10 broker_running || {
        cat "$T/mosquitto.out" "$T/mosquitto.log" >&2
        fail "mosquitto with the plugin did not start"
    }
}
broker_start
grep -q '"event":"start"' "$AUDIT" || fail "no start line in the audit log"
if [ ${#MOSQ_ENV[@]} -gt 0 ]; then
    grep -q libasan "/proc/$MOSQ_PID/maps" && grep -q mosquitto_iotsec "/proc/$MOSQ_PID/maps" ||
        fail "mosquitto does not run the plugin under ASan"
    echo "mqtt_plugin: ASan build: the plugin runs instrumented inside mosquitto (libasan preloaded)"
fi

# ---- clients ---------------------------------------------------------------------------------
# tls NAME: mosquitto_pub/_sub TLS options for the certificate NAME ($T/NAME.pem)
tls() { echo "--cafile $CA --cert $T/$1.pem --key $T/$1.key"; }
id_of() { case $1 in d[0-9]) cat "$T/$1.id" ;; *) echo "$1" ;; esac; }
# pub NAME TOPIC FILE [mosquitto_pub options]: publish FILE with QoS 1 as NAME (client id =
# its identity); prints the PUBACK reason code, or "connack N" when the connection was
# refused, or "error" when it never got that far
pub() {
    local name=$1 topic=$2 file=$3 out
    shift 3
    # shellcheck disable=SC2046
    out=$(timeout 20 mosquitto_pub -h localhost -p "$P1" $(tls "$name") -i "$(id_of "$name")" \
        -V mqttv5 -q 1 -t "$topic" -f "$file" -d "$@" 2>&1)
    if [[ $out =~ received\ PUBACK\ \(Mid:\ [0-9]+,\ RC:([0-9]+)\) ]]; then
        echo "${BASH_REMATCH[1]}"
    elif [[ $out =~ received\ CONNACK\ \(([0-9]+)\) ]]; then
        echo "connack ${BASH_REMATCH[1]}"
    else
        echo "error"
    fi
}
expect_eq() { [ "$2" == "$3" ] || fail "$1: got '$2', expected '$3'"; }
audit_has() { grep -qs -- "$1" "$AUDIT"; }
expect_audit() { # DESC REGEX: an audit line matches (within 5 s)
    wait_for 5 audit_has "$2" || { tail -n 20 "$AUDIT" >&2; fail "$1: no audit line matching /$2/"; }
}
seal() { # NAME CTR OUT [frame seal options]
    local name=$1 ctr=$2 out=$3
    shift 3
    echo "reading $ctr of $name" | "$CLI" frame seal --secret "$T/$name.secret" \
        --device-id "$(id_of "$name")" --ctr "$ctr" "$@" >"$out" || fail "frame seal $out"
}
hex() { od -An -v -tx1 "$1" | tr -d ' \n'; }

cat >"$T/client.py" <<'EOF'
# An independent MQTT 5 client (paho-mqtt) for the broker test.
#   client.py MODE HOST PORT CA CERT|- KEY|- CLIENT-ID [TOPIC [FILE]]
#   connect           print the CONNACK reason code, or "error <exception>"
#   subcheck TOPIC    subscribe; print the SUBACK reason code
#   sub TOPIC FILE    subscribe; print "ready"; append "<topic> <payload hex>" to FILE per
#                     message; run until disconnected
#   pub TOPIC FILE    publish FILE with QoS 1, wait for the PUBACK, print "puback"
#   hold TOPIC        subscribe, print "ready", wait until the broker disconnects us (at
#                     most 30 s); print "disconnected <reason>" or "still connected"
import os, ssl, sys, time
import paho.mqtt.client as mqtt

mode, host, port, ca, cert, key, cid = sys.argv[1:8]
args = sys.argv[8:]
state = {"connack": None, "suback": None, "puback": False, "gone": None}

def on_connect(c, u, flags, rc, props=None):
    state["connack"] = rc.value if hasattr(rc, "value") else int(rc)
def on_subscribe(c, u, mid, rcs, props=None):
    state["suback"] = rcs[0].value if hasattr(rcs[0], "value") else int(rcs[0])
def on_publish(c, u, mid):
    state["puback"] = True
def on_disconnect(c, u, rc, props=None):
    state["gone"] = rc.value if hasattr(rc, "value") else int(rc)
def on_message(c, u, msg):
    with open(args[1], "a") as f:
        f.write("%s %s\n" % (msg.topic, msg.payload.hex()))

c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5)
c.on_connect, c.on_subscribe, c.on_publish = on_connect, on_subscribe, on_publish
c.on_disconnect, c.on_message = on_disconnect, on_message
c.tls_set(ca_certs=ca, certfile=None if cert == "-" else cert, keyfile=None if key == "-" else key,
          cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)

def loop_until(cond, seconds):
    end = time.monotonic() + seconds
    while not cond() and time.monotonic() < end:
        if c.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS and state["gone"] is None:
            state["gone"] = -1
        if state["gone"] is not None:
            break
    return cond()

try:
    c.connect(host, int(port), keepalive=30)
    loop_until(lambda: state["connack"] is not None, 10)
except Exception as e:  # TLS refused, connection reset
    print("error %s" % type(e).__name__)
    sys.exit(0)
if mode == "connect" or state["connack"] != 0:
    print(state["connack"] if state["connack"] is not None else "error no-connack")
    sys.exit(0)
if mode in ("subcheck", "sub", "hold"):
    c.subscribe(args[0], qos=1)
    loop_until(lambda: state["suback"] is not None, 10)
    if mode == "subcheck":
        print(state["suback"])
        sys.exit(0)
    print("ready", flush=True)
    loop_until(lambda: False, 30 if mode == "hold" else 3600)
    print("disconnected %s" % state["gone"] if state["gone"] is not None else "still connected",
          flush=True)
    sys.exit(0)
if mode == "pub":
    with open(args[1], "rb") as f:
        c.publish(args[0], f.read(), qos=1)
    loop_until(lambda: state["puback"], 10)
    print("puback" if state["puback"] else "no puback")
    c.disconnect()
    c.loop(timeout=0.2)
EOF
# py MODE NAME|-nocert [PORT] ARGS...: run client.py as NAME (client id = its identity)
py() {
    local mode=$1 name=$2 port=$P1 cert key
    shift 2
    if [ "${1:-}" = "-p" ]; then port=$2; shift 2; fi
    if [ "$name" = "-nocert" ]; then cert=- key=- name=anon; else cert=$T/$name.pem key=$T/$name.key; fi
    timeout 40 "$PY" "$T/client.py" "$mode" localhost "$port" "$CA" "$cert" "$key" \
        "$(id_of "$name")" "$@" 2>"$T/py.err"
}

# ---- delivery and refusals ---------------------------------------------------------------
# the operator (paho) subscribes to every device's telemetry
: >"$T/delivered"
py sub ops 'devices/+/telemetry' "$T/delivered" >"$T/sub.out" &
PIDS+=($!)
sub_ready() { grep -qs ready "$T/sub.out"; }
wait_for 10 sub_ready || { cat "$T/sub.out" "$T/py.err" >&2; fail "operator subscription"; }
delivered_count() { wc -l <"$T/delivered"; }
is_delivered() { grep -q " $(hex "$1")\$" "$T/delivered"; }
# wait_delivered FILE: the frame in FILE reached the subscriber (within 5 s)
wait_delivered() { wait_for 5 is_delivered "$1" || { cat "$T/delivered" >&2; fail "$1 not delivered"; }; }

TOP1=devices/$D1/telemetry
seal d1 1 "$T/f1.bin"
expect_eq "accepted frame" "$(pub d1 "$TOP1" "$T/f1.bin")" 0
wait_delivered "$T/f1.bin"
expect_audit "accepted audit line" "\"identity\":\"$D1\",\"event\":\"accepted\",\"detail\":\"format binary, kid 0, ctr 1"
expect_eq "replay" "$(pub d1 "$TOP1" "$T/f1.bin")" 135
expect_audit "replay audited" "\"event\":\"replay\",\"detail\":\"binary frame, kid 0, counter 1"
seal d1 2 "$T/f2.bin"
cp "$T/f2.bin" "$T/f2-forged.bin"
flip_byte "$T/f2-forged.bin" $(($(stat -c %s "$T/f2.bin") - 1))
expect_eq "forged MAC" "$(pub d1 "$TOP1" "$T/f2-forged.bin")" 135
expect_audit "forged MAC audited" '"event":"bad_mac"'
expect_eq "intact frame after the forgery (window unmoved)" "$(pub d1 "$TOP1" "$T/f2.bin")" 0
seal d2 5 "$T/d2-as-d1.bin"
expect_eq "frame of another device on d1's topic" "$(pub d1 "$TOP1" "$T/d2-as-d1.bin")" 135
expect_audit "identity mismatch audited" "\"identity\":\"$D1\",\"event\":\"identity_mismatch\",\"detail\":\"frame for device $D2"
seal d1 3 "$T/f3.bin"
expect_eq "d1 publishing on d2's topic" "$(pub d1 "devices/$D2/telemetry" "$T/f3.bin")" 135
expect_eq "d1 publishing on another topic" "$(pub d1 "devices/$D1/status" "$T/f3.bin")" 135
expect_eq "d1 publishing on a command topic" "$(pub d1 "devices/$D1/cmd/x" "$T/f3.bin")" 135
expect_audit "topic refusal audited" "\"event\":\"topic_denied\",\"detail\":\"publish to devices/$D2/telemetry not allowed"
expect_eq "retained telemetry" "$(pub d1 "$TOP1" "$T/f3.bin" -r)" 135
expect_audit "retained telemetry audited" '"event":"policy","detail":"retained telemetry refused'
printf 'garbage' >"$T/garbage.bin"
expect_eq "not a frame" "$(pub d1 "$TOP1" "$T/garbage.bin")" 135
: >"$T/empty.bin"
expect_eq "empty message" "$(pub d1 "$TOP1" "$T/empty.bin")" 135
expect_audit "empty message audited" '"event":"truncated","detail":"empty payload on'
# JSON frame v1, then the legacy EcoWatt profile of a device registered with legacy keys
seal d1 4 "$T/f4.json" --format json
expect_eq "JSON frame" "$(pub d1 "$TOP1" "$T/f4.json")" 0
wait_delivered "$T/f4.json"
echo "legacy reading" | "$CLI" frame seal --format ecowatt --mac-key "$T/eco-mac.bin" \
    --enc-key "$T/eco-enc.bin" --device-id eco-1 --nonce 7 >"$T/eco7.json" || fail "ecowatt seal"
expect_eq "EcoWatt frame of a legacy device" "$(pub eco-1 devices/eco-1/telemetry "$T/eco7.json")" 0
wait_delivered "$T/eco7.json"
expect_eq "EcoWatt replay" "$(pub eco-1 devices/eco-1/telemetry "$T/eco7.json")" 135
echo "legacy reading" | "$CLI" frame seal --format ecowatt --mac-key "$T/eco-mac.bin" \
    --device-id "$D1" --nonce 9 >"$T/eco-d1.json" || fail "ecowatt seal d1"
expect_eq "EcoWatt frame of a device not configured for it" "$(pub d1 "$TOP1" "$T/eco-d1.json")" 135
expect_audit "legacy policy audited" "\"identity\":\"$D1\",\"event\":\"policy\",\"detail\":\"device $D1 is not configured"
# paho as the publisher: accepted frame delivered, forged frame not
seal d1 6 "$T/f6.bin"
cp "$T/f6.bin" "$T/f6-forged.bin"
flip_byte "$T/f6-forged.bin" 20
expect_eq "paho publishes a forged frame" "$(py pub d1 "$TOP1" "$T/f6-forged.bin")" puback
expect_eq "paho publishes the frame" "$(py pub d1 "$TOP1" "$T/f6.bin")" puback
wait_delivered "$T/f6.bin"
# nothing refused above reached the subscriber: exactly the accepted frames did
for f in f1.bin f2.bin f4.json eco7.json f6.bin; do is_delivered "$T/$f" || fail "$f not delivered"; done
expect_eq "deliveries (accepted frames only, each once)" "$(delivered_count)" 5

# subscriptions: only the device's own command topics
expect_eq "subscription to d2's commands" "$(py subcheck d1 "devices/$D2/cmd/#")" 135
expect_eq "subscription to every device's commands" "$(py subcheck d1 'devices/+/cmd/#')" 135
expect_eq "subscription to d2's telemetry" "$(py subcheck d1 "devices/$D2/telemetry")" 135
expect_eq "subscription to '#'" "$(py subcheck d1 '#')" 135
expect_eq "subscription to d1's own commands" "$(py subcheck d1 "devices/$D1/cmd/#")" 1
expect_eq "subscription to one of d1's command topics" "$(py subcheck d1 "devices/$D1/cmd/+")" 1
expect_audit "subscription refusal audited" "\"event\":\"topic_denied\",\"detail\":\"subscribe to devices/$D2/cmd/# not allowed"

# ---- who may connect -----------------------------------------------------------------------
expect_eq "certificate of an unknown CA (TLS listener)" "$(py connect evil -p "$P1" 2>/dev/null | cut -d' ' -f1)" error
expect_eq "no certificate (TLS listener)" "$(py connect -nocert | cut -d' ' -f1)" error
# shellcheck disable=SC2046
timeout 20 mosquitto_pub -h localhost -p "$P1" --cafile "$CA" -i "$D1" -t "$TOP1" -m x -q 1 \
    >/dev/null 2>&1 && fail "mosquitto_pub without a certificate was let in"
expect_eq "certificate of an unknown CA, through TLS (the plugin decides)" \
    "$("$PY" "$T/client.py" connect localhost "$P2" "$CA" "$T/evil.pem" "$T/evil.key" "$D1" 2>/dev/null)" 135
expect_audit "unknown CA audited" "\"event\":\"handshake_failed\",\"detail\":\"untrusted: .*(device id unverified)"
expect_eq "no certificate, through TLS (the plugin decides)" "$(py connect -nocert -p "$P3")" 135
expect_audit "no certificate audited" '"event":"handshake_failed","detail":"no client certificate'
expect_eq "client id other than the identity" \
    "$("$PY" "$T/client.py" connect localhost "$P1" "$CA" "$T/d1.pem" "$T/d1.key" "$D2" 2>/dev/null)" 135
expect_audit "client id mismatch audited" "\"event\":\"identity_mismatch\",\"detail\":\"client id $D2 is not the certificate identity $D1"
expect_eq "unregistered device" "$(py connect stranger)" 135
expect_audit "unregistered device audited" '"identity":"stranger","event":"unknown_device"'
expect_eq "disabled device" "$(py connect d4)" 135
expect_audit "disabled device audited" "\"identity\":\"$D4\",\"event\":\"device_disabled\""
expect_eq "registered device" "$(py connect d2)" 0

# ---- one replay state with the backend ------------------------------------------------------
backend_start backend "$T/server.pem" "$T/server.key"
post() { # NAME FILE CONTENT-TYPE → HTTP status
    curl -sS -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$CA" --cert "$T/$1.pem" \
        --key "$T/$1.key" -H "Content-Type: $3" --data-binary "@$2" \
        "https://127.0.0.1:$PORT/v1/telemetry"
}
seal d1 10 "$T/f10.bin"
expect_eq "frame over HTTPS" "$(post d1 "$T/f10.bin" application/iotsec-frame)" 200
expect_eq "the same frame over MQTT" "$(pub d1 "$TOP1" "$T/f10.bin")" 135
expect_audit "cross-transport replay audited" '"event":"replay","detail":"binary frame, kid 0, counter 10'
seal d1 11 "$T/f11.bin"
expect_eq "frame over MQTT" "$(pub d1 "$TOP1" "$T/f11.bin")" 0
expect_eq "the same frame over HTTPS" "$(post d1 "$T/f11.bin" application/iotsec-frame)" 409
seal d1 12 "$T/f12.json" --format json
expect_eq "JSON frame over MQTT" "$(pub d1 "$TOP1" "$T/f12.json")" 0
expect_eq "the same JSON frame over HTTPS" "$(post d1 "$T/f12.json" application/json)" 409
expect_eq "the MQTT frame of counter 1 over HTTPS" "$(post d1 "$T/f1.bin" application/iotsec-frame)" 409
expect_eq "a legacy frame accepted over MQTT, over HTTPS" "$(post eco-1 "$T/eco7.json" application/json)" 409
echo "legacy reading" | "$CLI" frame seal --format ecowatt --mac-key "$T/eco-mac.bin" \
    --device-id eco-1 --nonce 20 >"$T/eco20.json" || fail "ecowatt seal"
expect_eq "legacy frame over HTTPS" "$(post eco-1 "$T/eco20.json" application/json)" 200
expect_eq "the same legacy frame over MQTT" "$(pub eco-1 devices/eco-1/telemetry "$T/eco20.json")" 135

# ---- the device simulator -------------------------------------------------------------------
expect_rc 0 "$SIM" run --state "$T/d2" --transport mqtt --broker "mqtts://localhost:$P1" --frames 3
[ "$(grep -c ': MQTT PUBACK 0 Success$' "$T/out")" -eq 3 ] || { cat "$T/out" >&2; fail "device-sim: 3 frames not all acknowledged"; }
d2_delivered() { [ "$(grep -c "^devices/$D2/telemetry " "$T/delivered")" -ge 3 ]; }
wait_for 5 d2_delivered || fail "device-sim frames not delivered"
expect_rc 6 "$SIM" run --state "$T/d2" --transport mqtt --broker "mqtt://localhost:$P1"
expect_in "$T/err" "only mqtts:// URLs are allowed"
expect_rc 2 "$SIM" run --state "$T/d2" --transport mqtt --server "https://localhost:$PORT"
expect_rc 2 "$SIM" listen --state "$T/d2"
expect_rc 4 "$SIM" run --state "$T/d4" --transport mqtt --broker "mqtts://localhost:$P1"
expect_in "$T/err" "the broker refused the device"
# listen: a command opens; the same command again is refused as a replay
"$SIM" listen --state "$T/d2" --broker "mqtts://localhost:$P1" --count 3 --timeout-ms 20000 \
    >"$T/listen.out" 2>"$T/listen.err" &
LISTEN_PID=$!
PIDS+=("$LISTEN_PID")
listening() { grep -qs "^listening on devices/$D2/cmd/#" "$T/listen.out"; }
wait_for 15 listening || { cat "$T/listen.out" "$T/listen.err" >&2; fail "device-sim listen did not subscribe"; }
echo "reboot" | "$CLI" frame seal --secret "$T/d2.secret" --device-id "$D2" --ctr 1 \
    --direction down >"$T/cmd1.bin" || fail "seal command"
echo "set interval 60" | "$CLI" frame seal --secret "$T/d2.secret" --device-id "$D2" --ctr 2 \
    --direction down --format json >"$T/cmd2.json" || fail "seal command"
expect_eq "operator publishes a command" "$(pub ops "devices/$D2/cmd/reboot" "$T/cmd1.bin")" 0
expect_eq "operator publishes the same command again" "$(pub ops "devices/$D2/cmd/reboot" "$T/cmd1.bin")" 0
expect_eq "operator publishes a JSON command" "$(pub ops "devices/$D2/cmd/config" "$T/cmd2.json")" 0
expect_eq "d1 publishing a command to d2" "$(pub d1 "devices/$D2/cmd/reboot" "$T/cmd1.bin")" 135
listen_rc=0
wait "$LISTEN_PID" || listen_rc=$?
expect_eq "listen exit status (one command refused)" "$listen_rc" 1
grep -q "^command 1 topic=devices/$D2/cmd/reboot ctr=1: reboot\\\\x0a\$" "$T/listen.out" &&
    grep -q "^command 2 topic=devices/$D2/cmd/reboot: refused IOTSEC_E_REPLAY\$" "$T/listen.out" &&
    grep -q "^command 3 topic=devices/$D2/cmd/config ctr=2: set interval 60" "$T/listen.out" ||
    { cat "$T/listen.out" "$T/listen.err" >&2; fail "device-sim listen output"; }
[ "$(stat -c %s "$T/d2/nvs/cmd-window")" -eq 139 ] || fail "the command replay window is not stored"

# ---- revocation while connected ---------------------------------------------------------------
# hold NAME: a paho connection of NAME subscribed to its commands, output in $T/hold-NAME
hold() {
    py hold "$1" "devices/$(id_of "$1")/cmd/#" >"$T/hold-$1" &
    HOLD_PID=$!
    PIDS+=("$HOLD_PID")
    held() { grep -qs ready "$T/hold-$1"; }
    wait_for 10 held "$1" || { cat "$T/hold-$1" "$T/py.err" >&2; fail "hold $1"; }
}
# kicked_within SECONDS: the held connection ended within SECONDS
kicked_within() {
    local start=$SECONDS
    gone() { ! kill -0 "$HOLD_PID" 2>/dev/null; }
    wait_for "$1" gone || fail "connection not closed within $1 s of the revocation"
    wait "$HOLD_PID" 2>/dev/null
    grep -q '^disconnected' "$T/hold-$2" || { cat "$T/hold-$2" >&2; fail "hold $2 did not see a disconnection"; }
    echo "mqtt_plugin: $2 disconnected $((SECONDS - start)) s after the revocation file changed"
}
hold d3
"$CLI" ca revoke --dir "$T/ca" "$T/d3.pem" >/dev/null || fail "ca revoke d3"
"$CLI" ca crl --dir "$T/ca" --out "$T/crl.new" >/dev/null && mv "$T/crl.new" "$T/crl.pem" || fail "ca crl"
# one reload interval (1 s) plus the broker's tick (0.1 s) and the client's loop
kicked_within 3 d3
expect_audit "reload audited" '"event":"reload","detail":"revocation files changed: 1 revoked serials, 0 denylist entries, 1 connected clients revoked"'
expect_audit "disconnection audited" "\"identity\":\"$D3\",\"event\":\"revoked\",\"detail\":\"connected client disconnected after reload (crl)\""
expect_eq "revoked device reconnects" "$(py connect d3)" 135
expect_audit "revoked certificate refused at connect" "\"identity\":\"$D3\",\"event\":\"revoked\",\"detail\":\"revoked: "
# a denylist that does not parse: the previous set stays in force, d1 stays connected
hold d1
echo "not a denylist line" >"$T/deny.txt"
expect_audit "bad denylist refused" '"event":"reload_failed"'
kill -0 "$HOLD_PID" 2>/dev/null || fail "a failed reload disconnected a client"
echo "id:$D1" >"$T/deny.txt"
kicked_within 3 d1
expect_audit "denylist disconnection audited" "\"identity\":\"$D1\",\"event\":\"revoked\",\"detail\":\"connected client disconnected after reload (denylist-id)\""
seal d1 30 "$T/f30.bin"
expect_eq "denylisted device publishes" "$(pub d1 "$TOP1" "$T/f30.bin")" "connack 135"

# SIGHUP: the audit file is reopened (log rotation) and revocation reloaded
mv "$AUDIT" "$AUDIT.1"
kill -HUP "$MOSQ_PID"
expect_audit "SIGHUP reload in the reopened audit file" '"event":"reload","detail":"SIGHUP: '
cat "$AUDIT" >>"$AUDIT.1" && mv "$AUDIT.1" "$AUDIT"
kill -HUP "$MOSQ_PID" # back to the file the test reads

# ---- stop --------------------------------------------------------------------------------------
kill -TERM "$MOSQ_PID"
mosq_gone() { ! kill -0 "$MOSQ_PID" 2>/dev/null; }
wait_for 10 mosq_gone || { kill -KILL "$MOSQ_PID"; fail "mosquitto did not stop within 10 s of SIGTERM"; }
mosq_rc=0
wait "$MOSQ_PID" || mosq_rc=$?
expect_eq "mosquitto exit status after SIGTERM" "$mosq_rc" 0
expect_audit "stop audited" '"event":"stop"'
if [ ${#MOSQ_ENV[@]} -gt 0 ]; then
    if ls "$T"/asan.* "$T"/ubsan.* >/dev/null 2>&1; then
        cat "$T"/asan.* "$T"/ubsan.* 2>/dev/null | head -n 80 >&2
        fail "sanitizer report from the plugin inside mosquitto"
    fi
fi
# every audit line is one JSON object
"$PY" -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1])]' "$AUDIT" ||
    fail "an audit line is not JSON"
echo "mqtt_plugin: $(wc -l <"$AUDIT") audit lines; events: $(sed 's/.*"event":"\([a-z_]*\)".*/\1/' "$AUDIT" | sort | uniq -c | tr -s ' ' | tr '\n' ',')"
exit 0
