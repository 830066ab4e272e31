#!/usr/bin/env bash
# The iotsec CLI's stream conventions (issue 14 item 6): a file argument '-' is standard input
# or standard output, for every file argument — each '-' form is compared byte for byte with
# the file form; one argument at most may read stdin and one write stdout (exit 2 otherwise);
# `frame open --json`; secrets are not written to a terminal; -V/--version of every program.
# Run with BUILD set (the programs are $BUILD/iotsec and $BUILD/iotsec-device-sim).
set -uo pipefail
: "${BUILD:=build}"
cd "$(dirname "$0")/../.."
IOTSEC=$PWD/$BUILD/iotsec
SIM=$PWD/$BUILD/iotsec-device-sim
[ -x "$IOTSEC" ] || { echo "cli_stdio: $IOTSEC not built"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# every temporary spool directory of the CLI goes here; it must be empty at the end
mkdir "$T/tmp"
export TMPDIR=$T/tmp
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# run CODE [--in FILE] CMD... : run CMD (stdin from FILE, else /dev/null), stdout to $T/out,
# stderr to $T/err; the exit status must be CODE
run() {
    local want=$1 input=/dev/null got
    shift
    if [ "$1" = --in ]; then input=$2; shift 2; fi
    "$@" <"$input" >"$T/out" 2>"$T/err"
    got=$?
    [ "$got" = "$want" ] || fail "exit $got (want $want): $* < $input :: $(head -c 300 "$T/err")"
    [ "$got" = "$want" ]
}
# same FILE1 FILE2 WHAT: byte-for-byte equal
same() { cmp -s "$1" "$2" || fail "$3: $1 and $2 differ"; }
err_has() { grep -q -- "$1" "$T/err" || fail "stderr lacks '$1': $(head -c 300 "$T/err")"; }
# keep NAME: save the last stdout and stderr as $T/NAME.out, $T/NAME.err
keep() { cp "$T/out" "$T/$1.out" && cp "$T/err" "$T/$1.err"; }
# on_tty CMD...: run CMD with a pseudo-terminal as stdout (util-linux script); its status
on_tty() {
    local cmd
    printf -v cmd '%q ' "$@"
    script -qec "$cmd" /dev/null >"$T/tty" 2>&1 </dev/null
}

# ---- -V / --version -------------------------------------------------------------------------
version=$(sed -n 's/^#define IOTSEC_VERSION_STRING "\(.*\)"$/\1/p' include/iotsec/version.h)
run 0 "$IOTSEC" version && keep version
case $(cat "$T/version.out") in
"iotsec $version "*) ;;
*) fail "iotsec version: '$(cat "$T/version.out")' does not start with 'iotsec $version'" ;;
esac
for v in -V --version; do
    run 0 "$IOTSEC" $v && same "$T/out" "$T/version.out" "iotsec $v"
    run 2 "$IOTSEC" $v extra
done
run 0 "$IOTSEC" version --help && grep -q -- '--version' "$T/out" || fail "version --help"
run 0 "$IOTSEC" --help && grep -q -- '-V, --version' "$T/out" || fail "--help lacks -V"
if [ -x "$SIM" ]; then
    run 0 "$SIM" --version && keep simversion
    grep -q "^iotsec-device-sim firmware .* (libiotsec $version)\$" "$T/out" ||
        fail "iotsec-device-sim --version: $(cat "$T/out")"
    run 0 "$SIM" -V && same "$T/out" "$T/simversion.out" "iotsec-device-sim -V"
    run 2 "$SIM" -V extra
    run 0 "$SIM" --help && grep -q -- '-V, --version' "$T/out" || fail "device-sim --help lacks -V"
fi

# ---- material ---------------------------------------------------------------------------------
"$IOTSEC" secret --bytes 32 --out "$T/s.bin" || fail "secret"
"$IOTSEC" secret --bytes 32 --out "$T/mac.bin" || fail "secret"
"$IOTSEC" secret --bytes 16 --out "$T/enc.bin" || fail "secret"
"$IOTSEC" secret --bytes 32 --out "$T/fw.key" || fail "secret"
head -c 31 /dev/urandom >"$T/short.bin"
head -c 33 /dev/urandom >"$T/long.bin"
head -c 3000 /dev/urandom >"$T/payload"
head -c 70001 /dev/urandom >"$T/fw.bin"
IV=000102030405060708090a0b0c0d0e0f

# ---- frame seal: PAYLOAD, '-', --out, secrets from '-' ----------------------------------------
SEAL=(frame seal --device-id dev-1 --kid 2 --ctr 9 --encrypt --iv $IV)
run 0 --in "$T/payload" "$IOTSEC" "${SEAL[@]}" --secret "$T/s.bin" && keep seal  # the old form
run 0 "$IOTSEC" "${SEAL[@]}" --secret "$T/s.bin" "$T/payload" && same "$T/out" "$T/seal.out" "seal PAYLOAD"
run 0 --in "$T/payload" "$IOTSEC" "${SEAL[@]}" --secret "$T/s.bin" - &&
    same "$T/out" "$T/seal.out" "seal -"
run 0 --in "$T/s.bin" "$IOTSEC" "${SEAL[@]}" --secret - "$T/payload" &&
    same "$T/out" "$T/seal.out" "seal --secret -"
run 0 "$IOTSEC" "${SEAL[@]}" --secret "$T/s.bin" --out "$T/frame" "$T/payload" &&
    same "$T/frame" "$T/seal.out" "seal --out FILE"
[ -s "$T/out" ] && fail "seal --out FILE wrote to stdout"
run 0 --in "$T/payload" "$IOTSEC" "${SEAL[@]}" --secret "$T/s.bin" --out - - &&
    same "$T/out" "$T/seal.out" "seal --out - -"
run 0 "$IOTSEC" "${SEAL[@]}" --format json --secret "$T/s.bin" --out "$T/frame.json" "$T/payload"
ECO=(frame seal --format ecowatt --device-id E --nonce 7 --iv $IV)
run 0 --in "$T/payload" "$IOTSEC" "${ECO[@]}" --mac-key "$T/mac.bin" --enc-key "$T/enc.bin" &&
    keep eco
run 0 --in "$T/mac.bin" "$IOTSEC" "${ECO[@]}" --mac-key - --enc-key "$T/enc.bin" "$T/payload" &&
    same "$T/out" "$T/eco.out" "ecowatt seal --mac-key -"
run 0 --in "$T/enc.bin" "$IOTSEC" "${ECO[@]}" --mac-key "$T/mac.bin" --enc-key - "$T/payload" &&
    same "$T/out" "$T/eco.out" "ecowatt seal --enc-key -"
cp "$T/eco.out" "$T/eco.frame"

# ---- frame open: FRAME, '-', --out, --json ----------------------------------------------------
run 0 --in "$T/frame" "$IOTSEC" frame open --secret "$T/s.bin" && keep open     # the old form
same "$T/open.out" "$T/payload" "open: payload"
run 0 "$IOTSEC" frame open --secret "$T/s.bin" "$T/frame" && same "$T/out" "$T/open.out" "open FRAME" &&
    same "$T/err" "$T/open.err" "open FRAME: header"
run 0 --in "$T/frame" "$IOTSEC" frame open --secret "$T/s.bin" - && same "$T/out" "$T/open.out" "open -" &&
    same "$T/err" "$T/open.err" "open -: header"
run 0 --in "$T/s.bin" "$IOTSEC" frame open --secret - "$T/frame" &&
    same "$T/out" "$T/open.out" "open --secret -"
run 0 --in "$T/frame" "$IOTSEC" frame open --secret "$T/s.bin" --out - && same "$T/out" "$T/open.out" "open --out -"
run 0 "$IOTSEC" frame open --secret "$T/s.bin" --out "$T/p.out" "$T/frame" &&
    same "$T/p.out" "$T/payload" "open --out FILE" && same "$T/err" "$T/open.err" "open --out FILE: header"
[ -s "$T/out" ] && fail "open --out FILE wrote to stdout"
[ "$(stat -c %a "$T/p.out")" = 600 ] || fail "open --out FILE: mode $(stat -c %a "$T/p.out"), not 600"
# --json: the header (exactly the stderr line of the plain form) on stdout, nothing on stderr
run 0 "$IOTSEC" frame open --secret "$T/s.bin" --json --out "$T/pj.out" "$T/frame" &&
    same "$T/out" "$T/open.err" "open --json: header on stdout" && same "$T/pj.out" "$T/payload" "open --json --out"
[ -s "$T/err" ] && fail "open --json wrote to stderr: $(cat "$T/err")"
run 0 --in "$T/frame.json" "$IOTSEC" frame open --format json --secret "$T/s.bin" --json \
    --out "$T/pj2.out" - && same "$T/pj2.out" "$T/payload" "open --format json --json -"
grep -q '^{"v":1,"device_id":"dev-1","kid":2,"ctr":9,"dir":"up","encrypted":true}$' "$T/out" ||
    fail "open --json header: $(cat "$T/out")"
run 0 "$IOTSEC" frame open --secret "$T/s.bin" --json --out /dev/null "$T/frame" &&
    same "$T/out" "$T/open.err" "open --json --out /dev/null"
[ -c /dev/null ] || fail "/dev/null is no longer a character device"
run 0 --in "$T/eco.frame" "$IOTSEC" frame open --format ecowatt --mac-key "$T/mac.bin" \
    --enc-key "$T/enc.bin" && keep ecoopen
run 0 --in "$T/enc.bin" "$IOTSEC" frame open --format ecowatt --mac-key "$T/mac.bin" --enc-key - \
    --json --out "$T/pe.out" "$T/eco.frame" && same "$T/out" "$T/ecoopen.err" "ecowatt open --json" &&
    same "$T/pe.out" "$T/payload" "ecowatt open --enc-key -"
# a rejected frame writes no payload file and no header
cp "$T/frame" "$T/bad.frame" && printf 'x' | dd of="$T/bad.frame" bs=1 seek=40 conv=notrunc 2>/dev/null
run 1 "$IOTSEC" frame open --secret "$T/s.bin" --json --out "$T/rejected.out" "$T/bad.frame"
[ -e "$T/rejected.out" ] && fail "a rejected frame wrote --out"
[ -s "$T/out" ] && fail "a rejected frame printed a header on stdout"
# --json needs --out FILE (not '-'); --json is not a seal option
run 2 --in "$T/frame" "$IOTSEC" frame open --secret "$T/s.bin" --json && err_has "--out PAYLOAD"
run 2 --in "$T/frame" "$IOTSEC" frame open --secret "$T/s.bin" --json --out - && err_has "not '-'"
run 2 --in "$T/payload" "$IOTSEC" "${SEAL[@]}" --secret "$T/s.bin" --json --out "$T/x"
# secrets from '-' keep their exact-length check (usage, exit 2)
run 2 --in "$T/short.bin" "$IOTSEC" frame open --secret - "$T/frame" && err_has "32-byte secret"
run 2 --in "$T/long.bin" "$IOTSEC" frame open --secret - "$T/frame" && err_has "32-byte secret"
run 2 --in /dev/null "$IOTSEC" frame open --secret - "$T/frame" && err_has "it has 0 bytes"
run 2 --in "$T/s.bin" "$IOTSEC" "${ECO[@]}" --mac-key "$T/mac.bin" --enc-key - "$T/payload" &&
    err_has "16-byte secret"
# standard input has the same bound as a file: over 1 MiB is rejected input (1)
head -c 2000000 /dev/zero >"$T/huge"
run 1 --in "$T/huge" "$IOTSEC" frame open --secret "$T/s.bin" - && err_has "standard input: larger than"
run 1 "$IOTSEC" frame open --secret "$T/s.bin" "$T/huge" && err_has "huge: larger than"
head -c 1048576 /dev/zero >"$T/limit"      # exactly the bound: read, then found malformed
run 1 --in "$T/limit" "$IOTSEC" frame open --secret "$T/s.bin" - && err_has IOTSEC_E_ &&
    grep -q "larger than" "$T/err" && fail "open -: an input of exactly 1 MiB is refused as too large"
head -c 1048577 /dev/zero >"$T/limit1"
run 1 --in "$T/limit1" "$IOTSEC" frame open --secret "$T/s.bin" - && err_has "larger than 1048576 bytes"
# a large payload through standard input (the buffer grows) is the same as from a file
head -c 65536 /dev/urandom >"$T/max"
run 0 "$IOTSEC" "${SEAL[@]}" --secret "$T/s.bin" "$T/max" && keep sealmax
run 0 --in "$T/max" "$IOTSEC" "${SEAL[@]}" --secret "$T/s.bin" - && same "$T/out" "$T/sealmax.out" "seal - (64 KiB)"

# ---- two '-' inputs (or outputs) are a usage error ---------------------------------------------
dup_in() { err_has "both read standard input"; }
run 2 --in "$T/frame" "$IOTSEC" frame open --secret - - && dup_in
run 2 --in "$T/frame" "$IOTSEC" frame open --secret - && dup_in    # the frame is stdin too
run 2 --in "$T/payload" "$IOTSEC" "${SEAL[@]}" --secret - && dup_in
run 2 --in "$T/payload" "$IOTSEC" "${ECO[@]}" --mac-key - --enc-key - "$T/payload" && dup_in
run 2 "$IOTSEC" keygen --alg ed25519 --out - --pub - && err_has "both write standard output"
[ -s "$T/out" ] && fail "a refused keygen wrote to stdout"

# ---- keygen and secret to '-' ---------------------------------------------------------------------
run 0 "$IOTSEC" keygen --alg ed25519 --out - --pub "$T/k1.pub" && cp "$T/out" "$T/k1.pem"
openssl pkey -in "$T/k1.pem" -noout 2>/dev/null || fail "keygen --out -: openssl refuses the key"
grep -q -- '-----BEGIN PRIVATE KEY-----' "$T/k1.pem" || fail "keygen --out -: not PKCS#8 PEM"
kid=$(sed -n 's/^key_id \([0-9a-f]\{16\}\)$/\1/p' "$T/err")
[ "$kid" = "$(openssl pkey -in "$T/k1.pem" -pubout -outform DER | sha256sum | cut -c1-16)" ] ||
    fail "keygen --out -: key_id on stderr '$kid' is not the key's"
openssl pkey -in "$T/k1.pem" -pubout -out "$T/k1.pub.openssl" 2>/dev/null
same "$T/k1.pub" "$T/k1.pub.openssl" "keygen --out -: --pub FILE"
run 0 "$IOTSEC" keygen --alg p256 --out "$T/k2.pem" --pub - && cp "$T/out" "$T/k2.pub"
openssl pkey -in "$T/k2.pem" -pubout -out "$T/k2.pub.openssl" 2>/dev/null
same "$T/k2.pub" "$T/k2.pub.openssl" "keygen --pub -"
grep -q '^key_id [0-9a-f]\{16\}$' "$T/err" || fail "keygen --pub -: no key_id on stderr"
[ "$(stat -c %a "$T/k2.pem")" = 600 ] || fail "keygen --pub -: private key mode"
run 0 "$IOTSEC" keygen --alg ed25519 --out "$T/k3.pem"
grep -q '^key_id [0-9a-f]\{16\}$' "$T/out" || fail "keygen to files: key_id not on stdout"
run 0 "$IOTSEC" secret --bytes 32 --out - && [ "$(wc -c <"$T/out")" = 32 ] ||
    fail "secret --bytes 32 --out -: $(wc -c <"$T/out") bytes"
run 0 "$IOTSEC" secret --bytes 16 --out - && [ "$(wc -c <"$T/out")" = 16 ] ||
    fail "secret --bytes 16 --out -"
if command -v script >/dev/null; then
    on_tty "$IOTSEC" keygen --alg ed25519 --out -
    [ $? = 2 ] || fail "keygen --out - to a terminal: not refused"
    grep -q "refusing to write a secret to a terminal" "$T/tty" || fail "keygen tty message: $(cat "$T/tty")"
    grep -q "PRIVATE KEY" "$T/tty" && fail "keygen wrote a private key to a terminal"
    on_tty "$IOTSEC" secret --bytes 32 --out -
    [ $? = 2 ] || fail "secret --out - to a terminal: not refused"
    on_tty "$IOTSEC" keygen --alg ed25519 --out "$T/k4.pem" --pub -
    [ $? = 0 ] || fail "keygen --pub - to a terminal: $(cat "$T/tty")"
else
    fail "util-linux 'script' is needed for the terminal checks"
fi

# ---- manifest sign: Ed25519 is deterministic, so every form gives the same bytes -----------------
SIGN=(manifest sign --version 1.2.3 --security-counter 4 --class sensor)
K=$T/k1.pem P=$T/k1.pub
run 0 "$IOTSEC" "${SIGN[@]}" --key "$K" --image "$T/fw.bin" --out "$T/m" && keep sign
grep -q "^signed $T/m: ed25519" "$T/sign.out" || fail "sign: summary $(cat "$T/sign.out")"
run 0 --in "$K" "$IOTSEC" "${SIGN[@]}" --key - --image "$T/fw.bin" --out "$T/m.key-" &&
    same "$T/m.key-" "$T/m" "sign --key -"
run 0 --in "$T/fw.bin" "$IOTSEC" "${SIGN[@]}" --key "$K" --image - --out "$T/m.image-" &&
    same "$T/m.image-" "$T/m" "sign --image -"
run 0 "$IOTSEC" "${SIGN[@]}" --key "$K" --image "$T/fw.bin" --out - && same "$T/out" "$T/m" "sign --out -" &&
    grep -q "^signed standard output: ed25519" "$T/err" || fail "sign --out -: summary not on stderr"
run 0 --in "$T/fw.bin" "$IOTSEC" "${SIGN[@]}" --key "$K" --image - --out - && same "$T/out" "$T/m" "sign --image - --out -"
# encrypted: a random IV, so compare through verify and show
run 0 --in "$T/fw.bin" "$IOTSEC" "${SIGN[@]}" --key "$K" --image - --encrypt-key "$T/fw.key" \
    --payload-out - --out "$T/me" && cp "$T/out" "$T/me.enc"
grep -q "payload standard output" "$T/err" || fail "sign --payload-out -: summary $(cat "$T/err")"
run 0 --in "$T/fw.key" "$IOTSEC" "${SIGN[@]}" --key "$K" --image "$T/fw.bin" --encrypt-key - \
    --payload-out "$T/me2.enc" --out - && cp "$T/out" "$T/me2"
for m in me me2; do
    run 0 "$IOTSEC" manifest verify --trust "$P" --payload "$T/$m.enc" --decrypt-key "$T/fw.key" "$T/$m"
    run 0 "$IOTSEC" manifest show "$T/$m" &&
        python3 -c 'import json,sys,os; d=json.load(open(sys.argv[1])); assert d["payload_size"]==os.path.getsize(sys.argv[2])' \
            "$T/out" "$T/$m.enc" || fail "$m: payload_size is not the size of the payload written"
done
run 2 "$IOTSEC" "${SIGN[@]}" --key "$K" --image "$T/fw.bin" --encrypt-key "$T/fw.key" \
    --payload-out - --out - && err_has "both write standard output"
run 2 --in "$T/fw.bin" "$IOTSEC" "${SIGN[@]}" --key - --image - --out "$T/x.m" && dup_in
run 2 --in "$T/fw.key" "$IOTSEC" "${SIGN[@]}" --key "$K" --image - --encrypt-key - \
    --payload-out "$T/x.enc" --out "$T/x.m" && dup_in
[ -e "$T/x.m" ] && fail "a refused sign wrote its manifest"
run 2 --in "$T/short.bin" "$IOTSEC" "${SIGN[@]}" --key "$K" --image "$T/fw.bin" --encrypt-key - \
    --payload-out "$T/x.enc" --out "$T/x.m" && err_has "32-byte secret"

# ---- manifest show and verify ---------------------------------------------------------------------
run 0 "$IOTSEC" manifest show "$T/m" && keep show
run 0 --in "$T/m" "$IOTSEC" manifest show - && same "$T/out" "$T/show.out" "show -"
VER=(manifest verify --class sensor --min-counter 4)
run 0 "$IOTSEC" "${VER[@]}" --trust "$P" --image "$T/fw.bin" "$T/m" && keep verify
run 0 --in "$P" "$IOTSEC" "${VER[@]}" --trust "$T/k2.pub" --trust - --image "$T/fw.bin" "$T/m" &&
    same "$T/out" "$T/verify.out" "verify --trust -"
run 0 --in "$T/fw.bin" "$IOTSEC" "${VER[@]}" --trust "$P" --image - "$T/m" &&
    same "$T/out" "$T/verify.out" "verify --image -"
run 0 --in "$T/m" "$IOTSEC" "${VER[@]}" --trust "$P" --image "$T/fw.bin" - &&
    sed "s|^verified $T/m:|verified standard input:|" "$T/verify.out" >"$T/verify.stdin" &&
    same "$T/out" "$T/verify.stdin" "verify -"
run 0 "$IOTSEC" "${VER[@]}" --trust "$P" --payload "$T/me.enc" --decrypt-key "$T/fw.key" "$T/me" && keep verifye
run 0 --in "$T/me.enc" "$IOTSEC" "${VER[@]}" --trust "$P" --payload - --decrypt-key "$T/fw.key" "$T/me" &&
    same "$T/out" "$T/verifye.out" "verify --payload -"
run 0 --in "$T/fw.key" "$IOTSEC" "${VER[@]}" --trust "$P" --payload "$T/me.enc" --decrypt-key - "$T/me" &&
    same "$T/out" "$T/verifye.out" "verify --decrypt-key -"
head -c 70001 /dev/urandom >"$T/other.bin"
run 1 --in "$T/other.bin" "$IOTSEC" "${VER[@]}" --trust "$P" --image - "$T/m" && err_has IOTSEC_E_DIGEST_MISMATCH
run 2 --in "$P" "$IOTSEC" "${VER[@]}" --trust - --image - "$T/m" && dup_in
run 2 --in "$P" "$IOTSEC" "${VER[@]}" --trust - --trust - --image "$T/fw.bin" "$T/m" && dup_in
run 2 --in "$T/m" "$IOTSEC" "${VER[@]}" --trust "$P" --payload - --decrypt-key - - && dup_in

# ---- ca and crl check -------------------------------------------------------------------------------
CA=$T/ca
run 0 "$IOTSEC" ca init --dir "$CA"
run 0 "$IOTSEC" ca issue --dir "$CA" --device-id dev-1 --out-key "$T/d1.key" --out-cert - &&
    cp "$T/out" "$T/d1.pem"
grep -q "^issued device certificate for 'dev-1'" "$T/err" || fail "ca issue --out-cert -: summary"
openssl verify -CAfile "$CA/ca.pem" "$T/d1.pem" >/dev/null 2>&1 || fail "ca issue --out-cert -: openssl verify"
run 0 "$IOTSEC" ca issue --dir "$CA" --device-id dev-2 --out-key - --out-cert "$T/d2.pem" &&
    cp "$T/out" "$T/d2.key"
[ "$(openssl x509 -in "$T/d2.pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)" = \
  "$(openssl pkey -in "$T/d2.key" -pubout -outform DER | sha256sum)" ] ||
    fail "ca issue --out-key -: the key does not match the certificate"
run 0 "$IOTSEC" ca server --dir "$CA" --name localhost --out-key "$T/srv.key" --out-cert - &&
    openssl x509 -in "$T/out" -noout 2>/dev/null || fail "ca server --out-cert -"
run 2 "$IOTSEC" ca issue --dir "$CA" --device-id dev-3 --out-key - --out-cert - &&
    err_has "both write standard output"
# a CA directory is not a stream
run 2 "$IOTSEC" ca init --dir - && err_has "a CA directory cannot be"
run 2 "$IOTSEC" ca crl --dir - --out "$T/x.crl"
[ -e - ] && fail "ca init --dir - created a directory named '-'"
if command -v script >/dev/null; then
    on_tty "$IOTSEC" ca issue --dir "$CA" --device-id dev-4 --out-key - --out-cert "$T/d4.pem"
    [ $? = 2 ] || fail "ca issue --out-key - to a terminal: not refused"
fi
# the CRL: to a file, then to '-' (PEM and DER)
run 0 "$IOTSEC" crl check --ca "$CA/ca.pem" "$T/d1.pem" && keep check
run 0 --in "$CA/ca.pem" "$IOTSEC" crl check --ca - "$T/d1.pem" && same "$T/out" "$T/check.out" "crl check --ca -"
run 0 --in "$T/d1.pem" "$IOTSEC" crl check --ca "$CA/ca.pem" - && same "$T/out" "$T/check.out" "crl check -"
run 0 --in "$T/d2.pem" "$IOTSEC" ca revoke --dir "$CA" - && grep -q "^revoked serial" "$T/out" ||
    fail "ca revoke -: $(cat "$T/out")"
run 0 "$IOTSEC" ca crl --dir "$CA" --out "$T/crl.pem" && keep crl
run 0 "$IOTSEC" ca crl --dir "$CA" --out - && cp "$T/out" "$T/crl2.pem"
grep -q "to standard output: 1 revoked" "$T/err" || fail "ca crl --out -: summary $(cat "$T/err")"
run 0 "$IOTSEC" ca crl --dir "$CA" --out - --der && cp "$T/out" "$T/crl3.der"
for c in crl2.pem:PEM crl3.der:DER; do
    openssl crl -in "$T/${c%%:*}" -inform "${c##*:}" -noout 2>/dev/null || fail "ca crl --out -: ${c##*:} unreadable"
done
printf '# none\n' >"$T/deny"
run 0 "$IOTSEC" crl check --ca "$CA/ca.pem" --crl "$T/crl.pem" --denylist "$T/deny" "$T/d1.pem" && keep checkcrl
run 0 --in "$T/crl2.pem" "$IOTSEC" crl check --ca "$CA/ca.pem" --crl "$T/crl.pem" --crl - \
    --denylist "$T/deny" "$T/d1.pem" && keep checkcrl2
run 0 --in "$T/crl3.der" "$IOTSEC" crl check --ca "$CA/ca.pem" --crl - --denylist "$T/deny" "$T/d1.pem" &&
    same "$T/out" "$T/checkcrl.out" "crl check --crl - (DER)"
run 0 --in "$T/deny" "$IOTSEC" crl check --ca "$CA/ca.pem" --crl "$T/crl.pem" --denylist - "$T/d1.pem" &&
    same "$T/out" "$T/checkcrl.out" "crl check --denylist -"
run 1 --in "$T/d2.pem" "$IOTSEC" crl check --ca "$CA/ca.pem" --crl "$T/crl.pem" - && err_has IOTSEC_E_REVOKED
printf 'id:dev-1\n' | { "$IOTSEC" crl check --ca "$CA/ca.pem" --denylist - "$T/d1.pem" >/dev/null 2>"$T/err"; [ $? = 1 ]; } ||
    fail "crl check --denylist - (denied): not rejected"
run 2 --in "$T/d1.pem" "$IOTSEC" crl check --ca - - && dup_in
run 2 --in "$T/crl.pem" "$IOTSEC" crl check --ca "$CA/ca.pem" --crl - --crl - "$T/d1.pem" && dup_in
run 2 --in "$T/deny" "$IOTSEC" crl check --ca "$CA/ca.pem" --denylist - - && dup_in

# no spool directory is left behind
[ -z "$(ls -A "$T/tmp")" ] || fail "temporary files left in TMPDIR: $(ls -A "$T/tmp")"

if [ $failed -ne 0 ]; then
    echo "cli_stdio: FAILED"
    exit 1
fi
echo "cli_stdio: ok"
