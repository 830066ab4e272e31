#!/usr/bin/env bash
# Scripted test of `iotsec manifest sign | verify | show` (docs/DESIGN.md §9): every algorithm,
# encrypted payloads, each policy failure, the --image/--payload rules, the stderr note on
# skipped checks, exit codes 0/1/2/3, and `show` against the committed vectors.
set -u
: "${BUILD:=build}"
CLI="$BUILD/iotsec"
VEC=bindings-spec/vectors/manifest_v1.json
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect CODE [--err REGEX] -- command...: exit status must be CODE (and stderr match REGEX)
expect() {
    local want=$1 re=""; shift
    if [ "$1" = --err ]; then re=$2; shift 2; fi
    [ "$1" = -- ] && shift
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" != "$want" ]; then
        fail "exit $got (want $want): $*"; sed 's/^/    /' "$T/err"; return
    fi
    if [ -n "$re" ] && ! grep -Eq "$re" "$T/err"; then
        fail "stderr of '$*' lacks /$re/"; sed 's/^/    /' "$T/err"
    fi
}

# flip the byte at offset $2 of file $1 into $3
flip() { python3 - "$1" "$2" "$3" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], 'rb').read()); b[int(sys.argv[2])] ^= 1
open(sys.argv[3], 'wb').write(b)
EOF
}

for h in "manifest --help" "manifest sign --help" "manifest verify --help" "manifest show --help"; do
    expect 0 -- $CLI $h
done
expect 2 -- $CLI manifest
expect 2 -- $CLI manifest frobnicate

head -c 70001 /dev/urandom >"$T/fw.bin"
$CLI secret --bytes 32 --out "$T/fw.key" >/dev/null || fail "secret"
$CLI secret --bytes 32 --out "$T/other.key" >/dev/null || fail "secret"
$CLI secret --bytes 16 --out "$T/short.key" >/dev/null || fail "secret"

# ---- every algorithm: sign → verify → show -------------------------------------------------
for alg in ed25519 p256 rsa2048; do
    $CLI keygen --alg $alg --out "$T/$alg.pem" --pub "$T/$alg.pub" >/dev/null || fail "keygen $alg"
    expect 0 -- $CLI manifest sign --key "$T/$alg.pem" --image "$T/fw.bin" --version 2.0.1 \
        --security-counter 10 --class ecowatt-esp32 --out "$T/$alg.m"
    expect 0 --err "skipped: device class \(no --class\), security counter \(no --min-counter\)" \
        -- $CLI manifest verify --trust "$T/$alg.pub" --image "$T/fw.bin" "$T/$alg.m"
    expect 0 -- $CLI manifest show "$T/$alg.m"
    want=$alg; [ $alg = rsa2048 ] && want=rsa-pss
    python3 - "$T/out" $want <<'EOF' || fail "show JSON for $alg"
import json, sys
d = json.load(open(sys.argv[1]))
assert list(d) == ["format", "sig_alg", "key_id", "security_counter", "version", "device_class",
                   "image_size", "image_digest"], list(d)
assert d["sig_alg"] == sys.argv[2] and d["format"] == 1 and d["security_counter"] == 10
assert d["version"] == "2.0.1" and d["device_class"] == "ecowatt-esp32" and d["image_size"] == 70001
assert len(d["key_id"]) == 16 and len(d["image_digest"]) == 64
EOF
done
# the image digest printed is SHA-256 of the image
$CLI manifest show "$T/ed25519.m" 2>/dev/null | grep -q "$(sha256sum "$T/fw.bin" | cut -c1-64)" ||
    fail "show: image_digest is not sha256(fw.bin)"

K=ed25519
# ---- rotation, unknown and duplicate trusted keys ---------------------------------------------
expect 0 -- $CLI manifest verify --trust "$T/p256.pub" --trust "$T/ed25519.pub" --image "$T/fw.bin" "$T/ed25519.m"
expect 0 -- $CLI manifest verify --trust "$T/p256.pub" --trust "$T/ed25519.pub" --image "$T/fw.bin" "$T/p256.m"
expect 1 --err IOTSEC_E_UNKNOWN_KEY -- $CLI manifest verify --trust "$T/p256.pub" --image "$T/fw.bin" "$T/ed25519.m"
expect 1 --err IOTSEC_E_BAD_KEY -- $CLI manifest verify --trust "$T/ed25519.pub" --trust "$T/ed25519.pub" \
    --image "$T/fw.bin" "$T/ed25519.m"

# ---- tampered manifests -----------------------------------------------------------------------
flip "$T/$K.m" 30 "$T/bad.m"
expect 1 --err IOTSEC_E_BAD_SIGNATURE -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin" "$T/bad.m"
cp "$T/$K.m" "$T/trail.m"; printf 'x' >>"$T/trail.m"
expect 1 --err IOTSEC_E_TRAILING_DATA -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin" "$T/trail.m"
expect 1 --err IOTSEC_E_TRAILING_DATA -- $CLI manifest show "$T/trail.m"
head -c 40 "$T/$K.m" >"$T/short.m"
expect 1 --err IOTSEC_E_TRUNCATED -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin" "$T/short.m"

# ---- plain image: changed, short, long ------------------------------------------------------------
flip "$T/fw.bin" 35000 "$T/fw-changed.bin"
expect 1 --err IOTSEC_E_DIGEST_MISMATCH -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw-changed.bin" "$T/$K.m"
head -c 70000 "$T/fw.bin" >"$T/fw-short.bin"
expect 1 --err IOTSEC_E_DIGEST_MISMATCH -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw-short.bin" "$T/$K.m"
cp "$T/fw.bin" "$T/fw-long.bin"; printf '\0' >>"$T/fw-long.bin"
expect 1 --err IOTSEC_E_DIGEST_MISMATCH -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw-long.bin" "$T/$K.m"

# ---- policy -------------------------------------------------------------------------------------
expect 0 -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin" --class ecowatt-esp32 --min-counter 10 "$T/$K.m"
if grep -q "skipped" "$T/err"; then fail "no check was skipped, yet stderr says so"; fi
expect 1 --err IOTSEC_E_WRONG_TARGET -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin" --class other "$T/$K.m"
expect 1 --err IOTSEC_E_ROLLBACK -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin" --min-counter 11 "$T/$K.m"
expect 0 --err "skipped: device class \(no --class\)$" -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin" --min-counter 10 "$T/$K.m"
expect 0 --err "skipped: security counter \(no --min-counter\)$" -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin" --class ecowatt-esp32 "$T/$K.m"
# a manifest bound to a device: refused without --device-id (fail closed) or with another id
expect 0 -- $CLI manifest sign --key "$T/$K.pem" --image "$T/fw.bin" --version 2.0.2 --security-counter 11 \
    --class ecowatt-esp32 --device-id dev-7 --not-after 2000000000 --out "$T/dev.m"
expect 1 --err IOTSEC_E_WRONG_DEVICE -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin" "$T/dev.m"
expect 1 --err IOTSEC_E_WRONG_DEVICE -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin" --device-id dev-8 "$T/dev.m"
expect 0 -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin" --device-id dev-7 "$T/dev.m"
# expiry: --now, and the system clock by default
expect 0 -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin" --device-id dev-7 --now 2000000000 "$T/dev.m"
expect 1 --err IOTSEC_E_EXPIRED -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin" --device-id dev-7 --now 2000000001 "$T/dev.m"
expect 0 -- $CLI manifest sign --key "$T/$K.pem" --image "$T/fw.bin" --version 2.0.3 --security-counter 12 \
    --class ecowatt-esp32 --not-after 1000000000 --out "$T/old.m"
expect 1 --err IOTSEC_E_EXPIRED -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin" "$T/old.m"
expect 0 -- $CLI manifest show "$T/old.m"
grep -q '"not_after": 1000000000, "not_after_iso": "2001-09-09T01:46:40Z"' "$T/out" || fail "show: not_after ISO 8601"

# ---- encrypted payloads ------------------------------------------------------------------------
expect 0 -- $CLI manifest sign --key "$T/$K.pem" --image "$T/fw.bin" --version 3.0.0 --security-counter 20 \
    --class ecowatt-esp32 --chunk-size 2048 --uri https://fw.example/3.0.0 --description "beta" \
    --encrypt-key "$T/fw.key" --payload-out "$T/fw.enc" --out "$T/enc.m"
[ "$(stat -c %s "$T/fw.enc")" = 70016 ] || fail "payload size is not image + PKCS#7 padding"
cmp -s "$T/fw.enc" "$T/fw.bin" && fail "payload equals the image"
expect 0 -- $CLI manifest verify --trust "$T/$K.pub" --payload "$T/fw.enc" --decrypt-key "$T/fw.key" "$T/enc.m"
# the payload decrypts with the openssl tool to the image
iv=$($CLI manifest show "$T/enc.m" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["encryption"]["iv"])')
openssl enc -d -aes-256-cbc -K "$(od -An -tx1 -v "$T/fw.key" | tr -d " \n")" -iv "$iv" -in "$T/fw.enc" -out "$T/dec.bin" &&
    cmp -s "$T/dec.bin" "$T/fw.bin" || fail "openssl enc -d does not give the image back"
expect 0 -- $CLI manifest show "$T/enc.m"
python3 - "$T/out" "$T/fw.key" <<'EOF' || fail "show JSON of an encrypted manifest"
import json, sys, hashlib
d = json.load(open(sys.argv[1]))
assert list(d) == ["format", "sig_alg", "key_id", "security_counter", "version", "device_class",
                   "image_size", "image_digest", "encryption", "payload_size", "payload_digest",
                   "chunk_size", "uri", "description"], list(d)
assert d["encryption"]["alg"] == "aes-256-cbc" and len(d["encryption"]["iv"]) == 32
assert d["encryption"]["key_id"] == hashlib.sha256(open(sys.argv[2], 'rb').read()).hexdigest()[:16]
assert d["payload_size"] == 70016 and d["chunk_size"] == 2048 and d["description"] == "beta"
EOF
flip "$T/fw.enc" 100 "$T/enc-changed"
expect 1 --err IOTSEC_E_DIGEST_MISMATCH -- $CLI manifest verify --trust "$T/$K.pub" --payload "$T/enc-changed" --decrypt-key "$T/fw.key" "$T/enc.m"
flip "$T/fw.enc" 70015 "$T/enc-padding"
expect 1 --err IOTSEC_E_DIGEST_MISMATCH -- $CLI manifest verify --trust "$T/$K.pub" --payload "$T/enc-padding" --decrypt-key "$T/fw.key" "$T/enc.m"
head -c 70015 "$T/fw.enc" >"$T/enc-short"
expect 1 --err IOTSEC_E_DIGEST_MISMATCH -- $CLI manifest verify --trust "$T/$K.pub" --payload "$T/enc-short" --decrypt-key "$T/fw.key" "$T/enc.m"
cp "$T/fw.enc" "$T/enc-long"; printf '\0' >>"$T/enc-long"
expect 1 --err IOTSEC_E_DIGEST_MISMATCH -- $CLI manifest verify --trust "$T/$K.pub" --payload "$T/enc-long" --decrypt-key "$T/fw.key" "$T/enc.m"
expect 1 --err IOTSEC_E_UNKNOWN_KEY -- $CLI manifest verify --trust "$T/$K.pub" --payload "$T/fw.enc" --decrypt-key "$T/other.key" "$T/enc.m"
expect 2 --err "32-byte secret" -- $CLI manifest verify --trust "$T/$K.pub" --payload "$T/fw.enc" --decrypt-key "$T/short.key" "$T/enc.m"
expect 2 --err "32-byte secret" -- $CLI manifest sign --key "$T/$K.pem" --image "$T/fw.bin" --version 1 --security-counter 1 \
    --class c --encrypt-key "$T/short.key" --payload-out "$T/x.enc" --out "$T/x.m"
# --image alone with an encrypted manifest, --payload with a plain one: rejected
expect 1 --err "is encrypted" -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin" "$T/enc.m"
expect 1 --err "IOTSEC_E_POLICY" -- $CLI manifest verify --trust "$T/$K.pub" --payload "$T/fw.enc" --decrypt-key "$T/fw.key" "$T/$K.m"

# ---- usage and I/O ----------------------------------------------------------------------------
expect 2 -- $CLI manifest sign --key "$T/$K.pem" --image "$T/fw.bin" --version 1 --class c --out "$T/x.m"
expect 2 -- $CLI manifest sign --key "$T/$K.pem" --image "$T/fw.bin" --version 1 --security-counter 1 --class c \
    --encrypt-key "$T/fw.key" --out "$T/x.m"
expect 2 --err IOTSEC_E_BAD_VALUE -- $CLI manifest sign --key "$T/$K.pem" --image "$T/fw.bin" --version 1 --security-counter 1 \
    --class c --chunk-size 100 --out "$T/x.m"
expect 2 --err IOTSEC_E_BAD_LENGTH -- $CLI manifest sign --key "$T/$K.pem" --image "$T/fw.bin" \
    --version 123456789012345678901234567890123 --security-counter 1 --class c --out "$T/x.m"
expect 2 --err IOTSEC_E_COUNTER_EXHAUSTED -- $CLI manifest sign --key "$T/$K.pem" --image "$T/fw.bin" --version 1 \
    --security-counter 18446744073709551615 --class c --out "$T/x.m"
expect 2 -- $CLI manifest sign --key "$T/$K.pem" --image "$T/fw.bin" --version 1 --security-counter -1 --class c --out "$T/x.m"
: >"$T/empty.bin"
expect 2 --err "1 to 2\^32 bytes" -- $CLI manifest sign --key "$T/$K.pem" --image "$T/empty.bin" --version 1 --security-counter 1 --class c --out "$T/x.m"
expect 2 --err "1 to 2\^32 bytes" -- $CLI manifest sign --key "$T/$K.pem" --image "$T/empty.bin" --version 1 --security-counter 1 \
    --class c --encrypt-key "$T/fw.key" --payload-out "$T/x.enc" --out "$T/x.m"
[ -e "$T/x.m" ] && fail "a refused sign wrote its manifest"
[ -e "$T/x.enc" ] && fail "a refused sign left a payload"
ls "$T" | grep -q '\.tmp\.' && fail "a temporary file was left behind"
expect 2 -- $CLI manifest verify --trust "$T/$K.pub" "$T/$K.m"
expect 2 -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin" --payload "$T/fw.enc" --decrypt-key "$T/fw.key" "$T/$K.m"
expect 2 -- $CLI manifest verify --trust "$T/$K.pub" --payload "$T/fw.enc" "$T/enc.m"
expect 2 -- $CLI manifest verify --image "$T/fw.bin" "$T/$K.m"
expect 2 -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin"
expect 2 -- $CLI manifest show
expect 3 -- $CLI manifest show "$T/missing.m"
# an input far larger than any manifest is rejected input (1), like a slightly too long one
# (trailing data), not an I/O failure (3)
cp "$T/$K.m" "$T/long.m"; head -c 100 /dev/zero >>"$T/long.m"
expect 1 --err IOTSEC_E_TRAILING_DATA -- $CLI manifest show "$T/long.m"
head -c 2000000 /dev/zero >"$T/huge.m"
expect 1 -- $CLI manifest show "$T/huge.m"
expect 1 -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin" "$T/huge.m"
expect 3 -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin" "$T/missing.m"
expect 3 -- $CLI manifest verify --trust "$T/$K.pub" --image "$T/missing.bin" "$T/$K.m"
expect 3 -- $CLI manifest verify --trust "$T/missing.pub" --image "$T/fw.bin" "$T/$K.m"
expect 3 -- $CLI manifest sign --key "$T/missing.pem" --image "$T/fw.bin" --version 1 --security-counter 1 --class c --out "$T/x.m"
expect 3 -- $CLI manifest sign --key "$T/$K.pem" --image "$T/missing.bin" --version 1 --security-counter 1 --class c --out "$T/x.m"
expect 3 -- $CLI manifest sign --key "$T/$K.pem" --image "$T/fw.bin" --version 1 --security-counter 1 --class c --out "$T/no/such/dir/x.m"

# ---- the libsodium backend: Ed25519 only -----------------------------------------------------------
expect 0 -- env IOTSEC_BACKEND=sodium $CLI manifest verify --trust "$T/$K.pub" --image "$T/fw.bin" "$T/$K.m"
expect 0 -- env IOTSEC_BACKEND=sodium $CLI manifest sign --key "$T/$K.pem" --image "$T/fw.bin" --version 1 \
    --security-counter 1 --class c --out "$T/sodium.m"
expect 0 -- $CLI manifest sign --key "$T/$K.pem" --image "$T/fw.bin" --version 1 --security-counter 1 \
    --class c --out "$T/openssl.m"
cmp -s "$T/sodium.m" "$T/openssl.m" || fail "Ed25519 manifests of the two backends differ"
expect 1 --err IOTSEC_E_UNSUPPORTED -- env IOTSEC_BACKEND=sodium $CLI manifest verify --trust "$T/p256.pub" --image "$T/fw.bin" "$T/p256.m"
expect 1 --err IOTSEC_E_UNSUPPORTED -- env IOTSEC_BACKEND=sodium $CLI manifest verify --trust "$T/$K.pub" --payload "$T/fw.enc" \
    --decrypt-key "$T/fw.key" "$T/enc.m"

# ---- show agrees with the committed vectors --------------------------------------------------------
python3 - "$VEC" "$T" "$CLI" <<'EOF' || fail "show disagrees with $VEC"
import json, subprocess, sys
vec, tmp, cli = sys.argv[1:]
doc = json.load(open(vec))
for v in doc["vectors"]:
    path = tmp + "/vec.m"
    open(path, "wb").write(bytes.fromhex(v["manifest_hex"]))
    r = subprocess.run([cli, "manifest", "show", path], capture_output=True)
    if "fields" in v:
        assert r.returncode == 0, (v["name"], r.stderr)
        d = json.loads(r.stdout)
        d.pop("not_after_iso", None)
        for k in ("format", "key_id"):
            d.pop(k)
        assert d.pop("sig_alg") == v["sig_alg"], v["name"]
        assert d == v["fields"], (v["name"], d, v["fields"])
    elif v["result"] in ("IOTSEC_E_NON_CANONICAL", "IOTSEC_E_UNKNOWN_CRITICAL", "IOTSEC_E_TRUNCATED",
                         "IOTSEC_E_BAD_VERSION", "IOTSEC_E_MISSING_FIELD", "IOTSEC_E_BAD_LENGTH",
                         "IOTSEC_E_TRAILING_DATA", "IOTSEC_E_COUNTER_EXHAUSTED"):
        # format errors are found without the signature too
        assert r.returncode == 1 and v["result"].encode() in r.stderr, (v["name"], r.stderr)
EOF

if [ $fails -ne 0 ]; then
    echo "cli_manifest: $fails failure(s)"
    exit 1
fi
exit 0
