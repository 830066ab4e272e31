#!/usr/bin/env bash
# Scripted test of `iotsec frame seal|open` (docs/DESIGN.md §9): round trips of every format,
# the committed vectors reproduced through the CLI (--iv), the header JSON on stderr, exit
# codes 0/1/2/3 with the IOTSEC_E_* name and the malformed field on stderr, and --help.
set -uo pipefail
: "${BUILD:=build}"
cd "$(dirname "$0")/../.."
IOTSEC=$PWD/$BUILD/iotsec
[ -x "$IOTSEC" ] || { echo "cli_frame: $IOTSEC not built"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# expect CODE CMD... : run, compare the exit status, keep stdout/stderr in $T/out $T/err
expect() {
    local want=$1; shift
    "$@" >"$T/out" 2>"$T/err" </dev/null
    local got=$?
    [ "$got" = "$want" ] || fail "exit $got (want $want): $* :: $(head -c 300 "$T/err")"
}
# expect_in CODE INPUT CMD... : same with stdin from INPUT
expect_in() {
    local want=$1 input=$2; shift 2
    "$@" <"$input" >"$T/out" 2>"$T/err"
    local got=$?
    [ "$got" = "$want" ] || fail "exit $got (want $want): $* < $input :: $(head -c 300 "$T/err")"
}
err_has() { grep -q -- "$1" "$T/err" || fail "stderr lacks '$1': $(head -c 300 "$T/err")"; }

printf '\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f' >"$T/master.bin"
head -c 32 /dev/urandom >"$T/s.bin"
head -c 32 /dev/urandom >"$T/mac.bin"
head -c 16 /dev/urandom >"$T/enc.bin"
head -c 31 /dev/urandom >"$T/short.bin"
head -c 5000 /dev/urandom >"$T/payload"
: >"$T/empty"

# --help everywhere
for c in "frame --help" "frame seal --help" "frame open --help"; do
    expect 0 $IOTSEC $c
    grep -q Usage "$T/out" || fail "$c prints no usage"
done
expect 2 $IOTSEC frame
expect 2 $IOTSEC frame bogus

# round trips: binary and JSON, plain and encrypted, up and down
for fmt in binary json; do
    for dir in up down; do
        for enc in "" --encrypt; do
            for p in payload empty; do
                what="$fmt $dir $enc $p"
                expect_in 0 "$T/$p" $IOTSEC frame seal --secret "$T/s.bin" --device-id dev-1 \
                    --kid 4 --ctr 77 --direction $dir --format $fmt $enc
                cp "$T/out" "$T/frame"
                expect_in 0 "$T/frame" $IOTSEC frame open --secret "$T/s.bin" --direction $dir \
                    --format $fmt
                cmp -s "$T/out" "$T/$p" || fail "$what: payload differs"
                want="{\"v\":1,\"device_id\":\"dev-1\",\"kid\":4,\"ctr\":77,\"dir\":\"$dir\",\"encrypted\":$([ -n "$enc" ] && echo true || echo false)}"
                [ "$(cat "$T/err")" = "$want" ] || fail "$what: header $(cat "$T/err")"
                # the other direction's receiver rejects it, naming the code
                other=$([ $dir = up ] && echo down || echo up)
                expect_in 1 "$T/frame" $IOTSEC frame open --secret "$T/s.bin" --direction $other \
                    --format $fmt
                err_has IOTSEC_E_BAD_MAC
                err_has "says $dir"
            done
        done
    done
done

# default direction is up, default format binary, default kid 0
expect_in 0 "$T/payload" $IOTSEC frame seal --secret "$T/s.bin" --device-id d --ctr 1
cp "$T/out" "$T/frame"
expect_in 0 "$T/frame" $IOTSEC frame open --secret "$T/s.bin"
grep -q '"kid":0,"ctr":1,"dir":"up","encrypted":false' "$T/err" || fail "defaults: $(cat "$T/err")"

# the committed vectors, reproduced through the CLI with --iv
python3 - "$T" <<'EOF' || fail "vector extraction"
import json, sys
t = sys.argv[1]
for v in json.load(open("bindings-spec/vectors/frame_v1.json"))["vectors"]:
    with open("%s/vec-%s.payload" % (t, v["name"]), "wb") as f:
        f.write(bytes.fromhex(v["payload"]))
    with open("%s/vec-%s.frame" % (t, v["name"]), "wb") as f:
        f.write(bytes.fromhex(v["frame"]))
    with open("%s/vec-%s.args" % (t, v["name"]), "w") as f:
        f.write("--device-id %s --kid %d --ctr %d --direction %s%s\n" % (
            v["device_id"], v["kid"], v["ctr"], v["direction"],
            " --encrypt --iv " + v["iv"] if v["encrypted"] else ""))
for v in json.load(open("bindings-spec/vectors/frame_json.json"))["vectors"]:
    with open("%s/vec-%s.json" % (t, v["name"]), "w") as f:
        f.write(v["json"])
EOF
for args in "$T"/vec-*.args; do
    name=$(basename "$args" .args)
    # shellcheck disable=SC2046
    expect_in 0 "$T/$name.payload" $IOTSEC frame seal --secret "$T/master.bin" $(cat "$args")
    cmp -s "$T/out" "$T/$name.frame" || fail "$name: CLI frame differs from the vector"
    expect_in 0 "$T/$name.frame" $IOTSEC frame open --secret "$T/master.bin" \
        --direction "$(sed -n 's/.*--direction \([a-z]*\).*/\1/p' "$args")"
    cmp -s "$T/out" "$T/$name.payload" || fail "$name: opened payload differs"
    if [ -f "$T/$name.json" ]; then
        # shellcheck disable=SC2046
        expect_in 0 "$T/$name.payload" $IOTSEC frame seal --secret "$T/master.bin" \
            --format json $(cat "$args")
        cmp -s "$T/out" "$T/$name.json" || fail "$name: CLI JSON differs from the vector"
    fi
done

# tampering and malformed input: exit 1, the code named, the field and offset for malformed
expect_in 0 "$T/payload" $IOTSEC frame seal --secret "$T/s.bin" --device-id dev-1 --ctr 9
cp "$T/out" "$T/frame"
python3 -c "import sys; b=bytearray(open(sys.argv[1],'rb').read()); b[100]^=1; open(sys.argv[2],'wb').write(b)" \
    "$T/frame" "$T/tampered"
expect_in 1 "$T/tampered" $IOTSEC frame open --secret "$T/s.bin"
err_has IOTSEC_E_BAD_MAC
[ -s "$T/out" ] && fail "payload written for a rejected frame"
head -c 20 "$T/frame" >"$T/trunc"
expect_in 1 "$T/trunc" $IOTSEC frame open --secret "$T/s.bin"
err_has IOTSEC_E_TRUNCATED
err_has "field 'payload_len' at byte 17"
printf '\x01\x04' >"$T/flags"
expect_in 1 "$T/flags" $IOTSEC frame open --secret "$T/s.bin"
err_has IOTSEC_E_BAD_VALUE
err_has "field 'flags' at byte 1"
{ cat "$T/frame"; printf 'x'; } >"$T/trailing"
expect_in 1 "$T/trailing" $IOTSEC frame open --secret "$T/s.bin"
err_has IOTSEC_E_TRAILING_DATA
printf '{"v":1,"device_id":"d","kid":0,"ctr":1,"payload":"","mac":"","x":1}' >"$T/unknown.json"
expect_in 1 "$T/unknown.json" $IOTSEC frame open --secret "$T/s.bin" --format json
err_has IOTSEC_E_UNKNOWN_CRITICAL
err_has "at character 61"
printf '{"v":1,"device_id":"d","kid":0,"ctr":01,"payload":"","mac":""}' >"$T/zero.json"
expect_in 1 "$T/zero.json" $IOTSEC frame open --secret "$T/s.bin" --format json
err_has IOTSEC_E_BAD_ENCODING
err_has "field 'ctr'"
# a frame whose claimed device is not the secret's: authentication fails
expect_in 1 "$T/frame" $IOTSEC frame open --secret "$T/master.bin"
err_has IOTSEC_E_BAD_MAC

# legacy EcoWatt
for enc in "" "--enc-key $T/enc.bin"; do
    # shellcheck disable=SC2086
    expect_in 0 "$T/payload" $IOTSEC frame seal --format ecowatt --mac-key "$T/mac.bin" $enc \
        --device-id EcoWatt-001 --nonce 10001
    cp "$T/out" "$T/eco.json"
    grep -q '"nonce":10001' "$T/eco.json" || fail "ecowatt: nonce missing"
    grep -Eq '"mac":"[0-9a-f]{64}"' "$T/eco.json" || fail "ecowatt: mac not lowercase hex"
    # shellcheck disable=SC2086
    expect_in 0 "$T/eco.json" $IOTSEC frame open --format ecowatt --mac-key "$T/mac.bin" $enc
    cmp -s "$T/out" "$T/payload" || fail "ecowatt $enc: payload differs"
    grep -q "\"format\":\"ecowatt\",\"device_id\":\"EcoWatt-001\",\"nonce\":10001" "$T/err" ||
        fail "ecowatt header: $(cat "$T/err")"
done
expect_in 1 "$T/eco.json" $IOTSEC frame open --format ecowatt --mac-key "$T/mac.bin"
err_has IOTSEC_E_POLICY
sed 's/"nonce":10001/"nonce":10002/' "$T/eco.json" >"$T/eco2.json"
expect_in 1 "$T/eco2.json" $IOTSEC frame open --format ecowatt --mac-key "$T/mac.bin" \
    --enc-key "$T/enc.bin"
err_has IOTSEC_E_BAD_MAC
expect_in 0 "$T/payload" $IOTSEC frame seal --format ecowatt --mac-key "$T/mac.bin" \
    --enc-key "$T/enc.bin" --device-id E --nonce 5 --iv 000102030405060708090A0B0C0D0E0F
grep -q '"iv":"AAECAwQFBgcICQoLDA0ODw=="' "$T/out" || fail "ecowatt --iv not used"

# usage errors: exit 2
expect 2 $IOTSEC frame seal --secret "$T/s.bin" --device-id d --ctr 0
expect 2 $IOTSEC frame seal --secret "$T/s.bin" --device-id d
expect 2 $IOTSEC frame seal --secret "$T/s.bin" --device-id "bad id" --ctr 1
expect 2 $IOTSEC frame seal --secret "$T/s.bin" --device-id d --ctr 1 --iv 00
expect 2 $IOTSEC frame seal --secret "$T/s.bin" --device-id d --ctr 1 --encrypt --iv 00
expect 2 $IOTSEC frame seal --secret "$T/s.bin" --device-id d --ctr 1 --encrypt \
    --iv 000102030405060708090a0b0c0d0e0g
expect 2 $IOTSEC frame seal --secret "$T/s.bin" --device-id d --ctr 1 --format yaml
expect 2 $IOTSEC frame seal --secret "$T/s.bin" --device-id d --ctr 1 --direction sideways
expect 2 $IOTSEC frame seal --secret "$T/s.bin" --device-id d --ctr 1 --kid 256
expect 2 $IOTSEC frame seal --secret "$T/s.bin" --device-id d --ctr 9007199254740992 --format json
expect 2 $IOTSEC frame seal --secret "$T/s.bin" --device-id d --nonce 1
expect 2 $IOTSEC frame seal --format ecowatt --mac-key "$T/mac.bin" --device-id d --ctr 1
expect 2 $IOTSEC frame seal --format ecowatt --secret "$T/s.bin" --device-id d --nonce 1
expect 2 $IOTSEC frame seal --format ecowatt --mac-key "$T/mac.bin" --device-id d --nonce 1 \
    --direction down
expect 2 $IOTSEC frame seal --secret "$T/s.bin" --device-id d --ctr 1 --bogus
# one file argument is the input (tests/scripts/cli_stdio.sh); a second is a usage error
expect 2 $IOTSEC frame seal --secret "$T/s.bin" --device-id d --ctr 1 "$T/payload" extra
expect 2 $IOTSEC frame open --secret "$T/s.bin" "$T/payload" extra
expect 3 $IOTSEC frame seal --secret "$T/s.bin" --device-id d --ctr 1 "$T/nonexistent"
expect 2 $IOTSEC frame open --secret "$T/s.bin" --ctr 1
expect 2 $IOTSEC frame open
# a secret of the wrong length is a usage error; a missing one is I/O
expect_in 2 "$T/payload" $IOTSEC frame seal --secret "$T/short.bin" --device-id d --ctr 1
err_has "32-byte secret"
expect_in 2 "$T/frame" $IOTSEC frame open --secret "$T/short.bin"
expect_in 2 "$T/payload" $IOTSEC frame seal --format ecowatt --mac-key "$T/mac.bin" \
    --enc-key "$T/s.bin" --device-id d --nonce 1
expect_in 3 "$T/payload" $IOTSEC frame seal --secret "$T/nonexistent" --device-id d --ctr 1
# a payload larger than a frame carries is rejected
head -c 65537 /dev/zero >"$T/big"
expect_in 1 "$T/big" $IOTSEC frame seal --secret "$T/s.bin" --device-id d --ctr 1
head -c 65536 /dev/zero >"$T/max"
# so is any input larger than the tool reads (1 MiB): rejected (1), not an I/O failure (3)
head -c 2000000 /dev/zero >"$T/huge"
expect_in 1 "$T/huge" $IOTSEC frame seal --secret "$T/s.bin" --device-id d --ctr 1
expect_in 1 "$T/huge" $IOTSEC frame open --secret "$T/s.bin"
expect_in 0 "$T/max" $IOTSEC frame seal --secret "$T/s.bin" --device-id d --ctr 1 --encrypt

# libsodium has no AES-CBC: plaintext frames work, encryption is refused as unsupported
if IOTSEC_BACKEND=sodium $IOTSEC version >/dev/null 2>&1 && $IOTSEC version | grep -q sodium; then
    expect_in 0 "$T/payload" env IOTSEC_BACKEND=sodium $IOTSEC frame seal --secret "$T/s.bin" \
        --device-id d --ctr 1
    cp "$T/out" "$T/sodium.frame"
    expect_in 0 "$T/sodium.frame" $IOTSEC frame open --secret "$T/s.bin"
    expect_in 1 "$T/payload" env IOTSEC_BACKEND=sodium $IOTSEC frame seal --secret "$T/s.bin" \
        --device-id d --ctr 1 --encrypt
    err_has IOTSEC_E_UNSUPPORTED
fi

if [ $failed -ne 0 ]; then
    echo "cli_frame: FAILED"
    exit 1
fi
echo "cli_frame: ok"
