# shellcheck shell=bash
# Scenario helpers of the end-to-end demo (scripts/demo; `make check` runs it through
# tests/scripts/e2e_demo.sh). Sourced, not run. The caller sets:
#   CLI SIM BACKEND   absolute paths of iotsec, iotsec-device-sim, iotsec-backend
#   W                 the workspace (absolute); logs go to $W/logs, scratch files to $W/tmp
# and, once the backend runs, DB (its database) and URL (https://127.0.0.1:PORT).
#
# Every scenario ends in one `row`: what was expected and what was observed. Observations
# are built from what the programs did (exit status, IOTSEC_E_* name on stderr, HTTP status
# and error code, the device's `status --json`, the backend's audit table), never constants.

# flip_byte, wait_listening, wait_for
# shellcheck source=tests/e2e/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# ---- the results table ------------------------------------------------------------------
ROW_S=()
ROW_E=()
ROW_O=()
ROW_R=()

# row SCENARIO EXPECTED OBSERVED [REGEX]: PASS when OBSERVED equals EXPECTED, or when a REGEX
# is given, when OBSERVED matches it (for observations that vary between runs, such as
# curl's exit status on a refused handshake). Prints one progress line.
row() {
    local res=FAIL
    if [ $# -ge 4 ]; then
        [[ $3 =~ $4 ]] && res=PASS
    else
        [ "$3" == "$2" ] && res=PASS
    fi
    ROW_S+=("$1")
    ROW_E+=("$2")
    ROW_O+=("$3")
    ROW_R+=("$res")
    printf '  %-4s  %s\n' "$res" "$1"
    [ "$res" == PASS ] || printf '        expected: %s\n        observed: %s\n' "$2" "$3"
}

# print_table: every row, as an aligned pipe table.
print_table() {
    local ws=8 we=8 wo=8 i
    for i in "${!ROW_S[@]}"; do
        ((${#ROW_S[i]} > ws)) && ws=${#ROW_S[i]}
        ((${#ROW_E[i]} > we)) && we=${#ROW_E[i]}
        ((${#ROW_O[i]} > wo)) && wo=${#ROW_O[i]}
    done
    printf '| %-*s | %-*s | %-*s | %-6s |\n' "$ws" scenario "$we" expected "$wo" observed result
    printf '|-%s-|-%s-|-%s-|-%s-|\n' "$(printf '%*s' "$ws" '' | tr ' ' -)" \
        "$(printf '%*s' "$we" '' | tr ' ' -)" "$(printf '%*s' "$wo" '' | tr ' ' -)" ------
    for i in "${!ROW_S[@]}"; do
        printf '| %-*s | %-*s | %-*s | %-6s |\n' "$ws" "${ROW_S[i]}" "$we" "${ROW_E[i]}" \
            "$wo" "${ROW_O[i]}" "${ROW_R[i]}"
    done
}

# rows_failed: how many rows are FAIL.
rows_failed() {
    local n=0 r
    for r in "${ROW_R[@]}"; do [ "$r" == PASS ] || n=$((n + 1)); done
    echo "$n"
}

# ---- running programs ---------------------------------------------------------------------
# run LOG CMD...: run CMD; its command line, stdout, stderr and exit status are appended to
# $W/logs/LOG.log. Sets RC; this run's output stays in $W/tmp/out and $W/tmp/err.
run() {
    local log=$W/logs/$1.log
    shift
    "$@" >"$W/tmp/out" 2>"$W/tmp/err"
    RC=$?
    {
        printf '$'
        printf ' %q' "$@"
        printf '\n'
        cat "$W/tmp/out"
        if [ -s "$W/tmp/err" ]; then
            echo "--- stderr"
            cat "$W/tmp/err"
        fi
        echo "--- exit $RC"
        echo
    } >>"$log"
}

# must LOG CMD...: run, and stop the demo if CMD fails (setup steps, not scenarios).
must() {
    run "$@"
    if [ "$RC" -ne 0 ]; then
        echo "demo: setup step failed (exit $RC): ${*:2}" >&2
        cat "$W/tmp/err" >&2
        exit 1
    fi
}

# err_name: the first IOTSEC_E_* name on the last run's stderr (empty if none).
err_name() {
    grep -o 'IOTSEC_E_[A-Z0-9_]*' "$W/tmp/err" | head -n 1
}

# exit_text: "exit N" of the last run, followed by the IOTSEC_E_* name it printed, if any.
exit_text() {
    local e
    e=$(err_name)
    echo "exit $RC${e:+ $e}"
}

# ---- devices ------------------------------------------------------------------------------
# dev_dir NAME: the directory of a device's credentials; its simulator state is dev_dir/state.
dev_dir() { echo "$W/devices/$1"; }

# device_state NAME: "runs SLOT VERSION, counter N" from the device's `status --json`
# (", pending" when the active image awaits confirmation).
device_state() {
    "$SIM" status --state "$(dev_dir "$1")/state" --json 2>/dev/null | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)
    slot = s["slots"][s["active"]]
    print("runs %s %s, counter %d%s" % (s["active"], slot["version"] if slot else "(empty)",
          s["security_counter"], ", pending" if s["pending"] else ""))
except (ValueError, KeyError, TypeError):
    print("no readable status")'
}

# sim LOG NAME COMMAND [options]: the device simulator on device NAME's state (RC set).
sim() {
    local log=$1 name=$2 cmd=$3
    shift 3
    run "$log" "$SIM" "$cmd" --state "$(dev_dir "$name")/state" "$@"
}

# sim_frame: from the output of the last `sim run`, FRAME_STATUS = "HTTP S" of its first
# frame (or "no answer (exit N ...)") and FRAME_CTR = that frame's counter (0 if none).
sim_frame() {
    local line
    line=$(grep -m1 '^frame 1 ctr=' "$W/tmp/out")
    FRAME_CTR=$(sed -n 's/^frame 1 ctr=\([0-9]*\):.*/\1/p' <<<"$line")
    FRAME_CTR=${FRAME_CTR:-0}
    if [[ $line =~ :\ HTTP\ ([0-9]+) ]]; then
        FRAME_STATUS="HTTP ${BASH_REMATCH[1]}"
    else
        FRAME_STATUS="no answer ($(exit_text))"
    fi
}

# ---- enrollment ---------------------------------------------------------------------------
# cert_serial FILE: the serial of the (first) certificate in FILE, or "none".
cert_serial() { openssl x509 -in "$1" -noout -serial 2>/dev/null || echo none; }

# enrolled_cert NAME: what the device NAME holds after `enroll`, from its state directory:
# "CN=ID" of its certificate, "issued by the device CA" when it verifies against
# $W/pki/ca/ca.pem, "for the device's own key" when its public key is that of the
# device's key in the state directory; "no certificate" when there is none.
enrolled_cert() {
    local c k cn by key
    c=$(dev_dir "$1")/state/creds/device.crt
    k=$(dev_dir "$1")/state/creds/device.key
    [ -s "$c" ] || { echo "no certificate"; return; }
    cn=$(openssl x509 -in "$c" -noout -subject -nameopt RFC2253 2>/dev/null | sed 's/^subject=//')
    if openssl verify -CAfile "$W/pki/ca/ca.pem" "$c" >/dev/null 2>&1; then
        by="issued by the device CA"
    else
        by="not issued by the device CA"
    fi
    if [ -s "$k" ] && [ "$(openssl x509 -in "$c" -noout -pubkey 2>/dev/null)" == \
        "$(openssl pkey -in "$k" -pubout 2>/dev/null)" ]; then
        key="for the device's own key"
    else
        key="not for the device's key"
    fi
    echo "$cn $by $key"
}

# enroll_refusal: "HTTP S CODE" from the last `enroll`'s stderr ("the server refused: HTTP
# 409 {"error":"replay",...}"), or "no HTTP refusal".
enroll_refusal() {
    local r
    r=$(sed -n 's/.*the server refused: HTTP \([0-9]*\) {"error":"\([a-z_]*\)".*/HTTP \1 \2/p' \
        "$W/tmp/err" | head -n 1)
    echo "${r:-no HTTP refusal}"
}

# ---- HTTP with curl, as a device ------------------------------------------------------------
# post NAME FILE CONTENT-TYPE: POST FILE to /v1/telemetry over NAME's mTLS connection; prints
# "HTTP S" and, for a refusal, the error code of the JSON answer ("HTTP 409 replay"). Each
# request and answer is appended to $W/logs/curl.log.
post() {
    local d body code err
    d=$(dev_dir "$1")
    body=$(curl -sS --max-time 10 --cacert "$W/pki/ca/ca.pem" --cert "$d/cert.pem" \
        --key "$d/key.pem" -H "Content-Type: $3" --data-binary "@$2" -w '\n%{http_code}' \
        "$URL/v1/telemetry" 2>>"$W/logs/curl.log")
    code=${body##*$'\n'}
    body=${body%$'\n'*}
    err=$(sed -n 's/^{"error":"\([a-z_]*\)".*/\1/p' <<<"$body")
    printf 'POST %s as %s: %s %s\n' "${2##*/}" "$1" "$code" "$body" >>"$W/logs/curl.log"
    echo "HTTP $code${err:+ $err}"
}

# ---- the backend's database -----------------------------------------------------------------
q() { sqlite3 -cmd '.timeout 5000' "$DB" "$1"; }

# stored NAME CTR: "stored FORMAT" for the telemetry row of device NAME with counter CTR,
# "+aes" when the frame was encrypted, ", reading" when the stored payload is the device's
# JSON reading (so the backend decrypted it); "not stored" when there is no row.
stored() {
    local r fmt enc reading
    r=$(q "SELECT format, encrypted, CAST(payload AS TEXT) LIKE '{\"seq\":%' FROM telemetry
           WHERE device_id = '$1' AND ctr = $2 ORDER BY id DESC LIMIT 1")
    [ -n "$r" ] || { echo "not stored"; return; }
    IFS='|' read -r fmt enc reading <<<"$r"
    printf 'stored %s%s%s\n' "$fmt" "$([ "$enc" = 1 ] && echo +aes)" \
        "$([ "$reading" = 1 ] && echo ', reading')"
}

# audit_count EVENT [IDENTITY]: how many audit rows of EVENT (for that certificate identity).
audit_count() {
    if [ $# -ge 2 ]; then
        q "SELECT count(*) FROM audit WHERE event = '$1' AND coalesce(identity, '') = '$2'"
    else
        q "SELECT count(*) FROM audit WHERE event = '$1'"
    fi
}

# audit_mark: later audit_seen / audit_new look only at rows written after this call.
audit_mark() { AUDIT_MARK=$(q "SELECT coalesce(max(id), 0) FROM audit"); }
AUDIT_MARK=0

# audit_new: how many audit rows were written since audit_mark.
audit_new() { q "SELECT count(*) FROM audit WHERE id > $AUDIT_MARK"; }

# audit_exists WHERE: an audit row matches the SQL condition WHERE.
audit_exists() { [ "$(q "SELECT count(*) FROM audit WHERE $1")" -gt 0 ]; }

# audit_seen EVENT IDENTITY: waits (5 s: refused handshakes are audited when the server frees
# the connection) for a row of EVENT for certificate identity IDENTITY ('' for none) written
# since audit_mark; prints "audit EVENT" with the IOTSEC_E_* name of its detail, if any, or
# "no audit EVENT".
audit_seen() {
    local where detail
    where="id > $AUDIT_MARK AND event = '$1' AND coalesce(identity, '') = '$2'"
    if ! wait_for 5 audit_exists "$where"; then
        echo "no audit $1"
        return
    fi
    detail=$(q "SELECT detail FROM audit WHERE $where ORDER BY id DESC LIMIT 1" |
        grep -o 'IOTSEC_E_[A-Z0-9_]*' | head -n 1)
    echo "audit $1${detail:+ $detail}"
}

# slot_version NAME SLOT: what the image in the device's slot (a or b) prints with --version:
# the firmware images are real programs (the simulator built with a version string).
slot_version() {
    local img=$W/tmp/slot-$1-$2
    cp "$(dev_dir "$1")/state/slots/$2.bin" "$img" && chmod 755 "$img" &&
        "$img" --version 2>/dev/null | sed -n 's/^iotsec-device-sim firmware \([^ ]*\).*/\1/p'
    rm -f "$img"
}

# slot_sig_alg NAME SLOT: the signature algorithm of the manifest in the device's slot.
slot_sig_alg() {
    "$CLI" manifest show "$(dev_dir "$1")/state/slots/$2.manifest" 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["sig_alg"])' 2>/dev/null
}

# ---- firmware -------------------------------------------------------------------------------
# publish_firmware MANIFEST PAYLOAD TRUST.pem: the operator publishes a release on the backend,
# which checks the signature and the payload as transferred; the firmware key never goes to
# the server.
publish_firmware() {
    must publish "$BACKEND" publish-firmware --db "$DB" --manifest "$1" --payload "$2" \
        --trust "$3"
}

# attacker_serves CLASS MANIFEST PAYLOAD: a compromised server (or its database) hands out
# MANIFEST and PAYLOAD as the current firmware of CLASS, bypassing publish-firmware's checks:
# the row is written straight into the backend's tables with the highest ordering key.
# Prints the row id for attacker_withdraws.
attacker_serves() {
    local d
    d=$(sha256sum "$3" | cut -c1-64)
    backend_put_payload "$DB" "$3" || return 1
    q "INSERT INTO firmware(device_class, version, security_counter, manifest, payload_digest,
                            published)
         VALUES (CAST('$1' AS BLOB), 'attack', X'FFFFFFFFFFFFFFFF', readfile('$2'), X'$d',
                 CAST(strftime('%s') AS INTEGER));
       SELECT last_insert_rowid();"
}

# attacker_withdraws ID: remove the row attacker_serves wrote.
attacker_withdraws() { q "DELETE FROM firmware WHERE id = $1;" >/dev/null; }

# attacker_replaces_payload DIGEST FILE: the bytes stored under payload DIGEST become FILE's
# (of the same size).
attacker_replaces_payload() { backend_replace_payload "$DB" "$1" "$2" >/dev/null; }

# ---- MQTT: mosquitto with the iotsec plugin ---------------------------------------------------
# The broker shares the backend's database ($DB: devices, keys, replay state) and its CRL
# file; an operator ("operator", a certificate of the device CA) subscribes to every
# device's telemetry with mosquitto_sub, its messages in $W/broker/delivered.

# broker_start PLUGIN CRL: mosquitto on a free loopback port (MQTT_PORT) with the plugin;
# BROKER_PID, SUB_PID. Returns 1 when the broker or the subscription did not come up.
broker_start() {
    local bw=$W/broker i
    mkdir -p "$bw"
    MQTT_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    BROKER_AUDIT=$bw/audit.log
    cat >"$bw/mosquitto.conf" <<EOC
user $(id -un)
per_listener_settings false
allow_anonymous false
persistence false
log_dest file $bw/mosquitto.log
log_type error
log_type warning
log_type notice
log_type information
log_type subscribe
listener $MQTT_PORT 127.0.0.1
cafile $W/pki/ca/ca.pem
certfile $W/pki/server.pem
keyfile $W/pki/server.key
require_certificate true
tls_version tlsv1.2
plugin $1
plugin_opt_device_ca $W/pki/ca/ca.pem
plugin_opt_database $DB
plugin_opt_crl $2
plugin_opt_audit_log $BROKER_AUDIT
plugin_opt_reload_interval 1
plugin_opt_operator operator
EOC
    : >"$bw/mosquitto.log"
    # a plugin built with AddressSanitizer (the ASan build) loads only into a process whose
    # first library is the ASan runtime: preload it into mosquitto (not instrumented itself)
    local asan preload=()
    asan=$(ldd "$1" 2>/dev/null | sed -n 's/^[[:space:]]*libasan\.so[^ ]* => \([^ ]*\) .*/\1/p')
    [ -n "$asan" ] && preload=(env "LD_PRELOAD=$asan")
    "${preload[@]}" mosquitto -c "$bw/mosquitto.conf" >"$bw/mosquitto.out" 2>&1 &
    BROKER_PID=$!
    broker_up() { grep -q 'mosquitto version [0-9.]* running' "$W/broker/mosquitto.log"; }
    wait_for 10 broker_up || return 1
    : >"$bw/delivered"
    mosquitto_sub -h localhost -p "$MQTT_PORT" $(mqtt_tls operator) -i operator -V mqttv5 \
        -q 1 -t 'devices/+/telemetry' -F '%t %x' >"$bw/delivered" 2>"$bw/sub.err" &
    SUB_PID=$!
    # subscribed once the broker has seen the operator's SUBSCRIBE
    for i in $(seq 1 50); do
        grep -q 'operator 1 devices/+/telemetry' "$bw/mosquitto.log" && return 0
        sleep 0.1
    done
    return 1
}

# broker_stop: the subscriber, then the broker (SIGTERM).
broker_stop() {
    local p
    for p in ${SUB_PID:-} ${BROKER_PID:-}; do
        kill -TERM "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    SUB_PID=
    BROKER_PID=
}

# mqtt_tls NAME: mosquitto_pub/_sub TLS options for device NAME's certificate
# (NAME "operator": $W/devices/operator).
mqtt_tls() {
    local d
    d=$(dev_dir "$1")
    echo "--cafile $W/pki/ca/ca.pem --cert $d/cert.pem --key $d/key.pem"
}

# mqtt_pub NAME TOPIC FILE: publish FILE with QoS 1 as device NAME (client id = its id);
# prints "PUBACK R" (R the MQTT 5 reason code: 0 accepted, 135 not authorized), "CONNACK R"
# when the connection was refused, or "no connection". Logged to $W/logs/mqtt.log.
mqtt_pub() {
    local out
    # shellcheck disable=SC2046
    out=$(timeout 20 mosquitto_pub -h localhost -p "$MQTT_PORT" $(mqtt_tls "$1") -i "$1" \
        -V mqttv5 -q 1 -t "$2" -f "$3" -d 2>&1)
    printf 'mosquitto_pub as %s on %s (%s):\n%s\n\n' "$1" "$2" "${3##*/}" "$out" >>"$W/logs/mqtt.log"
    if [[ $out =~ received\ PUBACK\ \(Mid:\ [0-9]+,\ RC:([0-9]+)\) ]]; then
        echo "PUBACK ${BASH_REMATCH[1]}"
    elif [[ $out =~ received\ CONNACK\ \(([0-9]+)\) ]]; then
        echo "CONNACK ${BASH_REMATCH[1]}"
    else
        echo "no connection"
    fi
}

# mqtt_subscribe NAME FILTER: subscribe as device NAME; prints "SUBACK R".
mqtt_subscribe() {
    local out r
    # shellcheck disable=SC2046
    out=$(timeout 20 mosquitto_sub -h localhost -p "$MQTT_PORT" $(mqtt_tls "$1") -i "$1" \
        -V mqttv5 -t "$2" -d -W 1 2>&1)
    printf 'mosquitto_sub as %s on %s:\n%s\n\n' "$1" "$2" "$out" >>"$W/logs/mqtt.log"
    r=$(sed -n 's/^Subscribed (mid: [0-9]*): \([0-9]*\).*/\1/p' <<<"$out" | head -n 1)
    echo "SUBACK ${r:-none}"
}

# mqtt_delivered FILE: "delivered" when the operator's subscription received FILE's bytes
# (waits up to 3 s), else "not delivered".
mqtt_delivered() {
    local h
    h=$(od -An -v -tx1 "$1" | tr -d ' \n')
    delivered_now() { grep -q " $h\$" "$W/broker/delivered"; }
    if wait_for 3 delivered_now; then echo delivered; else echo "not delivered"; fi
}

# broker_mark / broker_audit_seen EVENT IDENTITY: like audit_mark / audit_seen, on the
# plugin's audit log (JSON lines): "audit EVENT" once a line of EVENT for IDENTITY has been
# written since broker_mark (waits up to 5 s), else "no audit EVENT".
broker_mark() { BROKER_MARK=$(wc -l <"$BROKER_AUDIT"); }
BROKER_MARK=0
broker_audit_seen() {
    local pat="\"identity\":\"$2\",\"event\":\"$1\""
    seen_now() { tail -n +$((BROKER_MARK + 1)) "$BROKER_AUDIT" | grep -qF -- "$pat"; }
    if wait_for 5 seen_now; then echo "audit $1"; else echo "no audit $1"; fi
}
