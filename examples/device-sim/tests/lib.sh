# Shared setup of the device simulator's scripted tests (tests/scripts/devicesim_*.sh),
# sourced, not run. Everything is real: a device CA and server certificate from `iotsec ca`,
# firmware signed with `iotsec manifest sign`, the backend on an ephemeral loopback port,
# and real ELF binaries as firmware images.
#
# Provides: $SIM $BACKEND $CLI (absolute paths), $T (temporary directory, removed on exit,
# every process started here is stopped on exit), fail, expect_rc, backend_start, device,
# sign, publish, status_is, and flip_byte and backend_replace_payload from
# tests/e2e/common.sh.

set -u
# flip_byte, wait_listening
. "$(dirname "${BASH_SOURCE[0]}")/../../../tests/e2e/common.sh"
: "${BUILD:=build}"
BUILD_ABS=$(cd "$BUILD" && pwd) || { echo "FAIL: no build directory $BUILD" >&2; exit 1; }
SIM=$BUILD_ABS/iotsec-device-sim
BACKEND=$BUILD_ABS/iotsec-backend
CLI=$BUILD_ABS/iotsec
for b in "$SIM" "$BACKEND" "$CLI"; do
    [ -x "$b" ] || { echo "FAIL: $b is not built" >&2; exit 1; }
done

T=$(mktemp -d)
PIDS=()
ADD_DEVICE_ARGS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# expect_rc WANT CMD...: run CMD (stdout in $T/out, stderr in $T/err) and require exit WANT.
expect_rc() {
    local want=$1 rc
    shift
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "--- stdout" >&2; cat "$T/out" >&2
        echo "--- stderr" >&2; cat "$T/err" >&2
        fail "exit $rc (expected $want): $*"
    fi
}

# expect_in FILE TEXT: FILE contains TEXT (fixed string).
expect_in() {
    grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "'$2' not found in $(basename "$1")"; }
}

# The device CA, the server certificate, the firmware signing key and the firmware key,
# and two real firmware images (v1 and v2 are different ELF binaries).
setup_pki() {
    "$CLI" ca init --dir "$T/ca" >/dev/null || fail "ca init"
    "$CLI" ca server --dir "$T/ca" --name localhost --ip 127.0.0.1 \
        --out-key "$T/server.key" --out-cert "$T/server.pem" >/dev/null || fail "ca server"
    "$CLI" keygen --alg ed25519 --out "$T/fw-sign.key" --pub "$T/fw-sign.pub" >/dev/null ||
        fail "keygen"
    "$CLI" secret --bytes 32 --out "$T/fw.key" >/dev/null || fail "secret"
    cp /bin/true "$T/v1.bin" && cp /bin/false "$T/v2.bin" || fail "firmware images"
    cmp -s "$T/v1.bin" "$T/v2.bin" && fail "v1 and v2 images are identical"
    DB=$T/backend.db
}

# backend_start NAME CERT KEY: start the backend on an ephemeral loopback port with the
# device CA; sets PORT. The database is $DB.
backend_start() {
    local name=$1 cert=$2 key=$3
    : >"$T/$name.log"
    "$BACKEND" serve --listen 127.0.0.1:0 --db "$DB" --ca "$T/ca/ca.pem" --cert "$cert" \
        --key "$key" --rate 0 >"$T/$name.log" 2>&1 &
    PIDS+=($!)
    PORT=$(wait_listening "$T/$name.log" "${PIDS[-1]}") && return 0
    cat "$T/$name.log" >&2
    fail "backend $name did not start"
}

# sign OUT IMAGE VERSION COUNTER CLASS [manifest sign options]: a manifest; with
# --encrypt-key the payload goes to OUT.enc.
sign() {
    local out=$1 image=$2 version=$3 counter=$4 class=$5
    shift 5
    "$CLI" manifest sign --key "$T/fw-sign.key" --image "$image" --version "$version" \
        --security-counter "$counter" --class "$class" --out "$out" "$@" >/dev/null ||
        fail "manifest sign $out"
}

# sign_enc OUT IMAGE VERSION COUNTER CLASS [options]: encrypted with the firmware key.
sign_enc() {
    local out=$1
    sign "$@" --encrypt-key "$T/fw.key" --payload-out "$out.enc"
}

# publish MANIFEST PAYLOAD: make it the firmware of its class on the backend (which checks
# the payload as transferred and never holds the firmware key).
publish() {
    "$BACKEND" publish-firmware --db "$DB" --manifest "$1" --payload "$2" \
        --trust "$T/fw-sign.pub" >/dev/null || fail "publish $1"
}

# device NAME CLASS [provision options]: a device with its own certificate and frame
# secret, registered on the backend (with "${ADD_DEVICE_ARGS[@]}" added to add-device), provisioned with v1 (security counter 1) of CLASS
# unless a --manifest/--image pair is given. Its id is $T/NAME.id, its state $T/NAME.
device() {
    local name=$1 class=$2 id
    shift 2
    id=$(cat /proc/sys/kernel/random/uuid)
    echo "$id" >"$T/$name.id"
    "$CLI" ca issue --dir "$T/ca" --device-id "$id" --out-key "$T/$name.key" \
        --out-cert "$T/$name.pem" >/dev/null || fail "ca issue $name"
    "$CLI" secret --bytes 32 --out "$T/$name.secret" >/dev/null || fail "secret $name"
    "$BACKEND" add-device --db "$DB" --device-id "$id" --secret-file "$T/$name.secret" \
        "${ADD_DEVICE_ARGS[@]}" >/dev/null || fail "add-device $name"
    if [ $# -eq 0 ]; then
        [ -f "$T/v1-$class.m" ] || sign "$T/v1-$class.m" "$T/v1.bin" 1.0.0 1 "$class"
        set -- --image "$T/v1.bin" --manifest "$T/v1-$class.m"
    fi
    expect_rc 0 "$SIM" provision --state "$T/$name" --device-id "$id" --cert "$T/$name.pem" \
        --key "$T/$name.key" --ca "$T/ca/ca.pem" --secret "$T/$name.secret" \
        --trust "$T/fw-sign.pub" --fw-key "$T/fw.key" --class "$class" "$@"
}

# status_is NAME TEXT: the device's `status --json` contains TEXT.
status_is() {
    "$SIM" status --state "$T/$1" --json >"$T/status.json" 2>"$T/status.err" ||
        { cat "$T/status.err" >&2; fail "status $1"; }
    expect_in "$T/status.json" "$2"
}
