#!/usr/bin/env bash
# `iotsec manifest sign --pkcs11-module` with Debian's SoftHSM 2 (docs/DESIGN.md §9): a
# private SOFTHSM2_CONF and token directory, a token initialised with softhsm2-util, keys
# made by `iotsec keygen` imported as PKCS#8 (softhsm2-util --import), manifests signed
# through PKCS#11 (Ed25519 CKM_EDDSA, P-256 CKM_ECDSA, RSA-PSS CKM_RSA_PKCS_PSS) and verified
# with `iotsec manifest verify --trust PUB.pem`; the URI forms (object, id, pin-value,
# pin-source), and the refusals: wrong PIN, no such object or token, no PIN, a module that
# does not load, a public key that is not the private key's.
# Needs softhsm2 (scripts/install-deps) and $BUILD/iotsec built with libp11-kit-dev.
set -u
: "${BUILD:=build}"
CLI="$BUILD/iotsec"
MODULE=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
T=$(mktemp -d /tmp/pki2-p11.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

for need in softhsm2-util "$MODULE"; do
    if ! command -v "$need" >/dev/null 2>&1 && [ ! -e "$need" ]; then
        echo "cli_pkcs11: $need not found: install softhsm2 (scripts/install-deps)"
        exit 1
    fi
done
if $CLI manifest sign --pkcs11-module "$MODULE" --key 'pkcs11:object=x?pin-value=1' \
    --image /dev/null --version 1 --security-counter 1 --class c --out /dev/null 2>&1 |
    grep -q 'without PKCS#11'; then
    echo "cli_pkcs11: $CLI was built without PKCS#11 support: install libp11-kit-dev"
    exit 1
fi

# expect CODE [--err REGEX] -- command...: exit status must be CODE (and output match REGEX)
expect() {
    local want=$1 re=""; shift
    if [ "$1" = --err ]; then re=$2; shift 2; fi
    [ "$1" = -- ] && shift
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" != "$want" ]; then
        fail "exit $got (want $want): $*"; sed 's/^/    /' "$T/err"; return
    fi
    if [ -n "$re" ] && ! grep -Eq -e "$re" "$T/err" "$T/out"; then
        fail "output of '$*' lacks /$re/"; sed 's/^/    /' "$T/err" "$T/out"
    fi
}

mkdir -p "$T/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$T" >"$T/softhsm2.conf"
export SOFTHSM2_CONF="$T/softhsm2.conf"
softhsm2-util --init-token --free --label fw-signing --so-pin 87654321 --pin 123456 \
    >/dev/null || { echo "cli_pkcs11: softhsm2-util --init-token failed"; exit 1; }

id=1
for alg in ed25519 p256 rsa2048 rsa3072; do
    $CLI keygen --alg $alg --out "$T/$alg.key" --pub "$T/$alg.pub" >/dev/null || fail "keygen $alg"
    softhsm2-util --import "$T/$alg.key" --token fw-signing --label "$alg" \
        --id "$(printf '%02x' $id)" --pin 123456 >/dev/null || fail "import $alg"
    id=$((id + 1))
done
rm -f "$T"/*.key   # from now on the private keys exist only in the token
printf '123456\n' >"$T/pin"
printf '000000\n' >"$T/badpin"
head -c 20000 /dev/urandom >"$T/fw.bin"
FIELDS=(--image "$T/fw.bin" --version 3.0.0 --security-counter 4 --class gateway)

for alg in ed25519 p256 rsa2048 rsa3072; do
    expect 0 --err "^signed" -- $CLI manifest sign --pkcs11-module "$MODULE" \
        --key "pkcs11:token=fw-signing;object=$alg" --pin-file "$T/pin" "${FIELDS[@]}" \
        --out "$T/$alg.m"
    expect 0 --err "^verified" -- $CLI manifest verify --trust "$T/$alg.pub" \
        --image "$T/fw.bin" --class gateway --min-counter 4 "$T/$alg.m"
    # the key id in the manifest is the public key's
    want=$($CLI manifest show "$T/$alg.m" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["key_id"])')
    other=$(for k in ed25519 p256 rsa2048 rsa3072; do [ $k = $alg ] || echo "--trust $T/$k.pub"; done)
    # shellcheck disable=SC2086
    expect 1 --err "IOTSEC_E_UNKNOWN_KEY" -- $CLI manifest verify $other --image "$T/fw.bin" "$T/$alg.m"
    [ -n "$want" ] || fail "$alg: no key_id in manifest show"
done

# URI forms: id instead of object, the PIN in the URI (query and path), pin-source, --pub
expect 0 -- $CLI manifest sign --pkcs11-module "$MODULE" \
    --key "pkcs11:token=fw-signing;id=%02;type=private?pin-value=123456" "${FIELDS[@]}" \
    --out "$T/id.m"
expect 0 -- $CLI manifest verify --trust "$T/p256.pub" --image "$T/fw.bin" "$T/id.m"
expect 0 -- $CLI manifest sign --pkcs11-module "$MODULE" \
    --key "pkcs11:token=fw-signing;object=ed25519?pin-source=file:$T/pin" "${FIELDS[@]}" \
    --out "$T/src.m"
expect 0 -- $CLI manifest sign --pkcs11-module "$MODULE" \
    --key "pkcs11:object=rsa2048;pin-value=123456" --pub "$T/rsa2048.pub" "${FIELDS[@]}" \
    --out "$T/pub.m"
expect 0 -- $CLI manifest verify --trust "$T/rsa2048.pub" --image "$T/fw.bin" "$T/pub.m"
# an encrypted image
$CLI secret --bytes 32 --out "$T/fw.key" >/dev/null
expect 0 -- $CLI manifest sign --pkcs11-module "$MODULE" \
    --key "pkcs11:token=fw-signing;object=p256" --pin-file "$T/pin" "${FIELDS[@]}" \
    --encrypt-key "$T/fw.key" --payload-out "$T/fw.enc" --out "$T/enc.m"
expect 0 -- $CLI manifest verify --trust "$T/p256.pub" --payload "$T/fw.enc" \
    --decrypt-key "$T/fw.key" "$T/enc.m"

# refusals
rm -f "$T/x.m"
expect 1 --err "login to token 'fw-signing'.*CKR_PIN_INCORRECT" -- $CLI manifest sign \
    --pkcs11-module "$MODULE" --key "pkcs11:token=fw-signing;object=ed25519" \
    --pin-file "$T/badpin" "${FIELDS[@]}" --out "$T/x.m"
expect 1 --err "no private key object 'missing' in token 'fw-signing'" -- $CLI manifest sign \
    --pkcs11-module "$MODULE" --key "pkcs11:token=fw-signing;object=missing" \
    --pin-file "$T/pin" "${FIELDS[@]}" --out "$T/x.m"
expect 1 --err "no token 'other'" -- $CLI manifest sign --pkcs11-module "$MODULE" \
    --key "pkcs11:token=other;object=ed25519" --pin-file "$T/pin" "${FIELDS[@]}" --out "$T/x.m"
expect 1 --err "does not verify|does not match" -- $CLI manifest sign --pkcs11-module "$MODULE" \
    --key "pkcs11:token=fw-signing;object=p256" --pub "$T/ed25519.pub" --pin-file "$T/pin" \
    "${FIELDS[@]}" --out "$T/x.m"
expect 1 --err "is not the public key's" -- $CLI manifest sign --pkcs11-module "$MODULE" \
    --key "pkcs11:token=fw-signing;object=rsa2048" --pub "$T/rsa3072.pub" --pin-file "$T/pin" \
    "${FIELDS[@]}" --out "$T/x.m"
[ -e "$T/x.m" ] && fail "a manifest was written by a refused signing"
expect 2 --err "no PIN" -- $CLI manifest sign --pkcs11-module "$MODULE" \
    --key "pkcs11:token=fw-signing;object=ed25519" "${FIELDS[@]}" --out "$T/x.m"
expect 2 --err "names no key" -- $CLI manifest sign --pkcs11-module "$MODULE" \
    --key "pkcs11:token=fw-signing" --pin-file "$T/pin" "${FIELDS[@]}" --out "$T/x.m"
expect 2 --err "unknown URI attribute" -- $CLI manifest sign --pkcs11-module "$MODULE" \
    --key "pkcs11:token=fw-signing;colour=red;object=p256" --pin-file "$T/pin" "${FIELDS[@]}" \
    --out "$T/x.m"
expect 2 --err "needs --key 'pkcs11:" -- $CLI manifest sign --pkcs11-module "$MODULE" \
    --key "$T/ed25519.pub" --pin-file "$T/pin" "${FIELDS[@]}" --out "$T/x.m"
expect 2 --err "needs --pkcs11-module" -- $CLI manifest sign \
    --key "pkcs11:object=p256" "${FIELDS[@]}" --out "$T/x.m"
expect 3 --err "cannot load module" -- $CLI manifest sign --pkcs11-module "$T/nonexistent.so" \
    --key "pkcs11:object=p256" --pin-file "$T/pin" "${FIELDS[@]}" --out "$T/x.m"
expect 3 -- $CLI manifest sign --pkcs11-module "$MODULE" --key "pkcs11:object=p256" \
    --pin-file "$T/nopin" "${FIELDS[@]}" --out "$T/x.m"

if [ "$fails" -ne 0 ]; then
    echo "cli_pkcs11: $fails failure(s)"
    exit 1
fi
echo "cli_pkcs11: ok (Ed25519 CKM_EDDSA, P-256 CKM_ECDSA, RSA-PSS 2048 and 3072 through SoftHSM)"
