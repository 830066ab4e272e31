#!/usr/bin/env bash
# Device simulator against a hostile server (docs/DESIGN.md §11): a server holding a certificate
# of the pinned CA — a compromised or malicious backend — tries to make the device store or
# print what it sends. A small Python HTTPS server (mTLS, the test's CA) answers according
# to $T/mode:
#   esc        telemetry answered 200 with terminal escape sequences and a forged line
#   bigman     a manifest answer larger than any manifest (IOTSEC_MANIFEST_MAX_LEN)
#   redirect   the manifest request redirected to http://
#   overlong   a valid manifest, then each Range answered with one byte more than asked
#   shifted    a valid manifest, then each Range answered with the right length but the
#              bytes of the next offset (wrong Content-Range content)
#   drip       a valid manifest, then the payload one byte every 50 ms (20 bytes/s)
#   slowchunks a valid manifest, then each Range answered whole but after 1.2 s: every
#              request is quick enough on its own, the download as a whole is not
#   huge       a validly signed manifest announcing a 4 GiB image (payload 4 GiB + 16)
# Expected: the answer is printed escaped; oversize answers are cut off by the device's
# bounded buffers; the redirect is not followed; wrong payload bytes fail the library's
# digest check and the new slot is never marked bootable; a dripping or slow server is
# cut off by the update's deadline or minimum rate (device.conf settings) within the limit
# set, with a message naming it; a manifest that does not fit the slot is refused before
# any payload request (the server's request log shows none).
. "$(dirname "$0")/../../examples/device-sim/tests/lib.sh"

setup_pki
device dev sensor
sign_enc "$T/v2.m" "$T/v2.bin" 2.0.0 2 sensor
cp "$T/v2.m" "$T/serve.m"
cp "$T/v2.m.enc" "$T/serve.payload"

# a manifest announcing a 4 GiB image, validly signed with the firmware key and encrypted
# for the device's firmware key (iotsec manifest sign would need the 4 GiB image): docs/DESIGN.md §6
cat >"$T/huge.py" <<'EOF'
import hashlib, struct, sys
from cryptography.hazmat.primitives import serialization

T = sys.argv[1]
key = serialization.load_pem_private_key(open(T + "/fw-sign.key", "rb").read(), None)
spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                     serialization.PublicFormat.SubjectPublicKeyInfo)
fw_key = open(T + "/fw.key", "rb").read()
size = 1 << 32

def tlv(t, v):
    return struct.pack(">BH", t, len(v)) + v

body = (tlv(0x01, struct.pack(">Q", 3)) + tlv(0x02, b"3.0.0") + tlv(0x03, b"sensor")
        + tlv(0x04, struct.pack(">Q", size)) + tlv(0x05, b"\x11" * 32)
        + tlv(0x08, b"\x01" + hashlib.sha256(fw_key).digest()[:8] + b"\x22" * 16)
        + tlv(0x09, struct.pack(">Q", size + 16)) + tlv(0x0A, b"\x33" * 32))
head = b"IOTM\x01\x01" + struct.pack(">H", len(body)) + hashlib.sha256(spki).digest()[:8]
sig = key.sign(head + body)
open(T + "/huge.m", "wb").write(head + body + struct.pack(">H", len(sig)) + sig)
EOF
python3 "$T/huge.py" "$T" || fail "huge manifest"

cat >"$T/hostile.py" <<'EOF'
import http.server, ssl, sys, time

T = sys.argv[1]

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def mode(self):
        with open(T + "/mode") as f:
            return f.read().strip()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.answer(200, b'{"accepted":true}\x1b[2J\x1b]0;owned\x07\rframe 2 ctr=99: HTTP 200 forged')

    def do_GET(self):
        mode = self.mode()
        with open(T + "/requests.log", "a") as log:
            log.write(mode + " " + self.path + "\n")
        if self.path.startswith("/v1/firmware/manifest"):
            if mode == "bigman":
                self.answer(200, b"IOTM" + b"\0" * 100000)
            elif mode == "huge":
                self.answer(200, open(T + "/huge.m", "rb").read())
            elif mode == "redirect":
                self.answer(302, b"", [("Location", "http://127.0.0.1:9/v1/firmware/manifest")])
            else:
                self.answer(200, open(T + "/serve.m", "rb").read())
            return
        data = open(T + "/serve.payload", "rb").read()
        a, b = self.headers["Range"].split("=")[1].split("-")
        a, b = int(a), int(b)
        if mode == "overlong":
            part = data[a:b + 1] + b"\0"
        elif mode == "shifted":
            part = data[a + 1:b + 2].ljust(b - a + 1, b"\0")
        else:
            part = data[a:b + 1]
        if mode == "slowchunks":
            time.sleep(1.2)
        if mode == "drip":
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (a, b, len(data)))
            self.send_header("Content-Length", str(len(part)))
            self.end_headers()
            try:
                for i in range(len(part)):
                    self.wfile.write(part[i:i + 1])
                    time.sleep(0.05)
            except OSError:
                pass  # the device hung up
            return
        self.answer(206, part, [("Content-Range", "bytes %d-%d/%d" % (a, b, len(data)))])

http.server.ThreadingHTTPServer.daemon_threads = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(T + "/server.pem", T + "/server.key")
ctx.load_verify_locations(T + "/ca/ca.pem")
ctx.verify_mode = ssl.CERT_REQUIRED
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
srv.serve_forever()
EOF
echo esc >"$T/mode"
python3 "$T/hostile.py" "$T" >"$T/hostile.log" 2>&1 &
PIDS+=($!)
PORT=$(wait_listening "$T/hostile.log" "${PIDS[-1]}") || { cat "$T/hostile.log" >&2; fail "hostile server did not start"; }
URL=https://127.0.0.1:$PORT

# ---- the telemetry answer is printed as one line of printable text ---------------------
expect_rc 0 "$SIM" run --state "$T/dev" --server "$URL" --frames 1
grep -q $'\x1b' "$T/out" && fail "an escape sequence of the server reached stdout"
grep -q $'\r' "$T/out" && fail "a carriage return of the server reached stdout"
expect_in "$T/out" 'frame 1 ctr=1: HTTP 200 {"accepted":true}\x1b[2J\x1b]0;owned\x07\x0dframe 2 ctr=99: HTTP 200 forged'
[ "$(grep -c '^frame ' "$T/out")" -eq 1 ] || fail "the server forged a line of output"

# ---- a manifest answer larger than any manifest is cut off -------------------------------
echo bigman >"$T/mode"
expect_rc 4 "$SIM" update --state "$T/dev" --server "$URL"
expect_in "$T/err" "answer larger than the"

# ---- a redirect is not followed (let alone to http://) -----------------------------------
echo redirect >"$T/mode"
expect_rc 4 "$SIM" update --state "$T/dev" --server "$URL"
expect_in "$T/err" "update: manifest request answered HTTP 302"

# ---- a Range answer longer than asked is cut off; nothing becomes bootable ---------------
echo overlong >"$T/mode"
expect_rc 4 "$SIM" update --state "$T/dev" --server "$URL"
expect_in "$T/err" "answer larger than the 2048 bytes expected"
status_is dev '"active":"A","pending":false,"boot_attempts":0,"security_counter":1'
status_is dev '"B":null'

# ---- the right length but other bytes: the library's digest check refuses them -----------
echo shifted >"$T/mode"
expect_rc 1 "$SIM" update --state "$T/dev" --server "$URL"
expect_in "$T/err" "IOTSEC_E_DIGEST_MISMATCH"
status_is dev '"active":"A","pending":false,"boot_attempts":0,"security_counter":1'
status_is dev '"B":null'
expect_rc 0 "$SIM" boot --state "$T/dev"
expect_in "$T/out" "boot: running slot A version 1.0.0"

# ---- a manifest too large for the slot: refused before any payload request ----------------
cp "$T/dev/device.conf" "$T/device.conf.orig"
: >"$T/requests.log"
echo huge >"$T/mode"
expect_rc 1 "$SIM" update --state "$T/dev" --server "$URL"
expect_in "$T/err" "update: manifest refused before download: image_size 4294967296, payload_size 4294967312 bytes does not fit slot B (capacity 4194304 bytes, slot_size in device.conf)"
grep -q "^huge /v1/firmware/manifest" "$T/requests.log" || fail "the manifest was not even asked for"
if grep -q "/v1/firmware/payload" "$T/requests.log"; then
    cat "$T/requests.log" >&2
    fail "the device asked for the payload of a manifest that does not fit its slot"
fi
status_is dev '"active":"A","pending":false,"boot_attempts":0,"security_counter":1'
status_is dev '"B":null'
echo "devicesim_hostile_server: 4 GiB manifest refused, requests seen: $(tr '\n' ';' <"$T/requests.log")"

# ms_since START: milliseconds since START (date +%s%3N)
ms_since() { echo $(($(date +%s%3N) - $1)); }

# ---- a dripping server: the update's deadline (3 s here) cuts it off ---------------------
printf 'update_min_rate=0\nupdate_deadline=3\n' >>"$T/dev/device.conf"
echo drip >"$T/mode"
t0=$(date +%s%3N)
expect_rc 4 "$SIM" update --state "$T/dev" --server "$URL"
took=$(ms_since "$t0")
expect_in "$T/err" "the update's deadline passed during this request"
expect_in "$T/err" "update: download aborted after 0 of"
expect_in "$T/err" "deadline 3 s for the update; slot B left unbootable"
[ "$took" -lt 5500 ] || fail "the deadline of 3 s let the update run ${took} ms"
[ "$took" -ge 2500 ] || fail "aborted after ${took} ms, before the 3 s deadline"
status_is dev '"B":null'
echo "devicesim_hostile_server: dripping server cut off by the 3 s deadline after ${took} ms:"; sed "s/^/    /" "$T/err"

# ---- the same drip against the minimum rate (1000 bytes/s over 2 s), deadline far away ----
cp "$T/device.conf.orig" "$T/dev/device.conf"
printf 'update_min_rate=1000\nupdate_min_rate_time=2\n' >>"$T/dev/device.conf"
t0=$(date +%s%3N)
expect_rc 4 "$SIM" update --state "$T/dev" --server "$URL"
took=$(ms_since "$t0")
expect_in "$T/err" "transfer too slow: under the minimum of 1000 bytes/s for 2 s"
[ "$took" -lt 4500 ] || fail "the 2 s minimum-rate window let the update run ${took} ms"
status_is dev '"B":null'
echo "devicesim_hostile_server: dripping server cut off by the minimum rate after ${took} ms:"; sed "s/^/    /" "$T/err"

# ---- whole chunks, each 1.2 s late: every request passes libcurl's low-speed check, the
# download's average (2048 bytes per 1.2 s, under 2000 bytes/s) does not ------------------
cp "$T/device.conf.orig" "$T/dev/device.conf"
printf 'update_min_rate=2000\nupdate_min_rate_time=2\n' >>"$T/dev/device.conf"
echo slowchunks >"$T/mode"
t0=$(date +%s%3N)
expect_rc 4 "$SIM" update --state "$T/dev" --server "$URL"
took=$(ms_since "$t0")
expect_in "$T/err" "update: download too slow: 4096 bytes in 2."
expect_in "$T/err" "is under the minimum of 2000 bytes/s (slot B left unbootable)"
[ "$took" -lt 5000 ] || fail "the slow download ran ${took} ms"
status_is dev '"B":null'
echo "devicesim_hostile_server: slow chunks cut off by the average rate after ${took} ms:"; sed "s/^/    /" "$T/err"
cp "$T/device.conf.orig" "$T/dev/device.conf"

# ---- the same server serving the real bytes: the update installs (the test is sound) -----
echo honest >"$T/mode"
expect_rc 0 "$SIM" update --state "$T/dev" --server "$URL"
expect_in "$T/out" "boot: confirmed slot B; stored security counter now 2"

echo "devicesim_hostile_server: all scenarios passed"
