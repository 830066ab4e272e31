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
# Expected: the answer is printed escaped; oversize answers are cut off by the device's
# bounded buffers; the redirect is not followed; wrong payload bytes fail the library's
# digest check and the new slot is never marked bootable.
. "$(dirname "$0")/../../examples/device-sim/tests/lib.sh"

setup_pki
device dev sensor
sign_enc "$T/v2.m" "$T/v2.bin" 2.0.0 2 sensor
cp "$T/v2.m" "$T/serve.m"
cp "$T/v2.m.enc" "$T/serve.payload"

cat >"$T/hostile.py" <<'EOF'
import http.server, ssl, sys

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
        if self.path.startswith("/v1/firmware/manifest"):
            if mode == "bigman":
                self.answer(200, b"IOTM" + b"\0" * 100000)
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
        self.answer(206, part, [("Content-Range", "bytes %d-%d/%d" % (a, b, len(data)))])

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

# ---- the same server serving the real bytes: the update installs (the test is sound) -----
echo honest >"$T/mode"
expect_rc 0 "$SIM" update --state "$T/dev" --server "$URL"
expect_in "$T/out" "boot: confirmed slot B; stored security counter now 2"

echo "devicesim_hostile_server: all scenarios passed"
