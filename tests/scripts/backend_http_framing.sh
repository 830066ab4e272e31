#!/usr/bin/env bash
# Strict HTTP/1.1 framing of examples/backend (RFC 9112): the real server on an ephemeral
# loopback port, a python3 ssl client (mutual TLS with a registered device's certificate)
# sending each malformed request head byte for byte. Checks every answer's status line, that
# it is the backend's JSON error, that it comes at once (never after --read-timeout), that
# nothing behind a refused head is served, and the audit rows. Needs BUILD ($BUILD holds
# iotsec-backend and iotsec).
set -u
: "${BUILD:=build}"
BUILD=$(cd "$BUILD" && pwd) || exit 1
SRV=$BUILD/iotsec-backend
CLI=$BUILD/iotsec
T=$(mktemp -d)
PID=
failures=0
cleanup() {
    if [ -n "$PID" ]; then kill -9 "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
q() { sqlite3 "$T/db" "$1"; }

cd "$T" || exit 1
"$CLI" ca init --dir ca >/dev/null || { echo "FAIL: iotsec ca init"; exit 1; }
"$CLI" ca server --dir ca --name localhost --ip 127.0.0.1 --out-key srv.key \
    --out-cert srv.pem >/dev/null || { echo "FAIL: iotsec ca server"; exit 1; }
"$CLI" ca issue --dir ca --device-id dev-1 --out-key dev-1.key --out-cert dev-1.pem \
    >/dev/null || { echo "FAIL: iotsec ca issue"; exit 1; }
"$CLI" secret --bytes 32 --out dev-1.secret >/dev/null
"$SRV" add-device --db db --device-id dev-1 --secret-file dev-1.secret >/dev/null ||
    { echo "FAIL: add-device"; exit 1; }

# --read-timeout 5: an answer that waits for it is caught by the 2 s bound below;
# --audit-rate 0: every refusal writes its row, so they can be counted
"$SRV" serve --listen 127.0.0.1:0 --db db --ca ca/ca.pem --cert srv.pem --key srv.key \
    --read-timeout 5 --audit-rate 0 --max-body 1000 > srv.out 2> srv.err &
PID=$!
PORT=
for _ in $(seq 1 100); do
    PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' srv.out)
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || { echo "FAIL: server did not start"; cat srv.err; exit 1; }

# The cases: NAME, then the expected status lines of the answers (space-separated; a
# refusal is one answer and the connection closed), then the request bytes as a Python
# bytes literal. H is a valid Host header line, AUTH a valid GET /v1/auth request.
cat > cases.txt <<'EOF'
ok-get                   200            b"GET /v1/auth HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n"
ok-http10-no-host        200            b"GET /v1/auth HTTP/1.0\r\n\r\n"
ok-pipelined             200,200        AUTH + b"GET /v1/auth HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n"
ok-obs-text-value        200            b"GET /v1/auth HTTP/1.1\r\n" + H + b"X-Name: caf\xe9\r\nConnection: close\r\n\r\n"
ok-chunked-body          400            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Content-Type: application/iotsec-frame\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
ok-expect-continue       100,400        b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Content-Type: application/iotsec-frame\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n" + WAIT + b"abc"
ok-head-slow             200            b"GET /v1/auth HTTP/1.1\r\n" + H + b"X-Pad: " + b"a" * 300 + b"\r\nConnection: close\r\n\r\n"
pipelined-bad            200,400        AUTH + b"GET /v1/auth HTTP/1.1\r\n" + H + b"X-A: a\x01\r\n\r\n"
pipelined-smuggle        200,400        AUTH + b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + AUTH
cl-duplicate             400            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc"
cl-conflicting           400            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
cl-list                  400            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Content-Length: 3, 3\r\n\r\nabc"
cl-not-decimal           400            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Content-Length: abc\r\n\r\n"
cl-signed                400            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Content-Length: +3\r\n\r\nabc"
cl-negative              400            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n"
cl-empty                 400            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Content-Length: \r\n\r\n"
cl-over-max-body         413            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Content-Length: 1001\r\n\r\n"
cl-over-max-expect       413            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Content-Length: 5000\r\nExpect: 100-continue\r\n\r\n"
cl-2-to-64               413            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Content-Length: 18446744073709551616\r\n\r\n"
cl-10-to-18              413            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Content-Length: 1000000000000000000\r\n\r\n"
cl-huge-digits           413            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Content-Length: " + b"9" * 200 + b"\r\n\r\n"
te-gzip                  501            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n"
te-gzip-chunked          501            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
te-chunked-twice         501            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
te-identity              501            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Transfer-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc"
te-and-cl                400            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"
te-on-http10             400            b"POST /v1/telemetry HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
smuggle-te-cl            400            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + AUTH
body-on-get              400            b"GET /v1/auth HTTP/1.1\r\n" + H + b"Content-Length: " + str(len(AUTH)).encode() + b"\r\n\r\n" + AUTH
host-missing             400            b"GET /v1/auth HTTP/1.1\r\n\r\n"
host-twice               400            b"GET /v1/auth HTTP/1.1\r\n" + H + H + b"\r\n"
host-empty               400            b"GET /v1/auth HTTP/1.1\r\nHost: \r\n\r\n"
obs-fold                 400            b"GET /v1/auth HTTP/1.1\r\n" + H + b"X-A: one\r\n two\r\n\r\n"
leading-ws-field         400            b"GET /v1/auth HTTP/1.1\r\n " + H + b"\r\n"
ctl-in-value             400            b"GET /v1/auth HTTP/1.1\r\n" + H + b"X-A: a\x01b\r\n\r\n"
nul-in-value             400            b"GET /v1/auth HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n"
nul-in-name              400            b"GET /v1/auth HTTP/1.1\r\n" + H + b"X-\x00A: b\r\n\r\n"
del-in-value             400            b"GET /v1/auth HTTP/1.1\r\n" + H + b"X-A: a\x7fb\r\n\r\n"
bare-cr-in-value         400            b"GET /v1/auth HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n"
space-before-colon       400            b"GET /v1/auth HTTP/1.1\r\nHost : localhost\r\n\r\n"
no-colon                 400            b"GET /v1/auth HTTP/1.1\r\n" + H + b"X-A\r\n\r\n"
bare-lf                  400            b"GET /v1/auth HTTP/1.1\n" + H[:-2] + b"\n\n"
version-long-minor       400            b"GET /v1/auth HTTP/1.1000000000000\r\n" + H + b"\r\n"
version-2                400            b"GET /v1/auth HTTP/2.0\r\n" + H + b"\r\n"
version-1x               400            b"GET /v1/auth HTTP/1.x\r\n" + H + b"\r\n"
version-lowercase        400            b"GET /v1/auth http/1.1\r\n" + H + b"\r\n"
version-missing          400            b"GET /v1/auth\r\n" + H + b"\r\n"
version-0-9              400            b"GET /v1/auth HTTP/0.9\r\n" + H + b"\r\n"
request-line-2-spaces    400            b"GET  /v1/auth HTTP/1.1\r\n" + H + b"\r\n"
request-line-tab         400            b"GET\t/v1/auth HTTP/1.1\r\n" + H + b"\r\n"
request-line-empty       400            b"\r\nGET /v1/auth HTTP/1.1\r\n" + H + b"\r\n"
method-unknown           501            b"FOO /v1/auth HTTP/1.1\r\n" + H + b"\r\n"
method-trace             501            b"TRACE /v1/auth HTTP/1.1\r\n" + H + b"\r\n"
method-lowercase         501            b"get /v1/auth HTTP/1.1\r\n" + H + b"\r\n"
expect-other             417            b"POST /v1/telemetry HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nExpect: 200-ok\r\n\r\nabc"
head-too-large           431            b"GET /v1/auth HTTP/1.1\r\n" + H + b"X-A: " + b"a" * 9000 + b"\r\n\r\n"
head-too-large-slow      431            b"GET /v1/auth HTTP/1.1\r\n" + H + b"X-A: " + SLOW(b"a" * 9000)
EOF

cat > client.py <<'EOF'
import re, socket, ssl, sys, time
port, ca, cert, key, cases = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
H = b"Host: localhost\r\n"
AUTH = b"GET /v1/auth HTTP/1.1\r\n" + H + b"\r\n"
WAIT = b"\0WAIT\0"        # marker: wait for an interim answer before the rest
def SLOW(b): return b          # a case named *-slow is sent in 100-byte records, 10 ms apart

def answers(data):
    """The status lines of the answers in data (1xx included), and the body of the last."""
    out, body = [], b""
    while data:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            break
        head, data = data[:end].decode("latin-1"), data[end + 4:]
        out.append(head.split("\r\n")[0])
        m = re.search(r"(?im)^content-length:\s*(\d+)", head)
        n = int(m.group(1)) if m else 0
        if out[-1].split(" ")[1].startswith("1"):
            n = 0
        body, data = data[:n], data[n:]
    return out, body

def run(raw):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port)), timeout=8),
                        server_hostname="localhost")
    start = time.time()
    data, first = b"", None
    parts = raw.split(WAIT)
    try:
        for i, part in enumerate(parts):
            if i > 0:  # wait for the interim answer
                while b"\r\n\r\n" not in data:
                    d = s.recv(65536)
                    if not d:
                        break
                    data += d
            s.sendall(part)
        while True:
            d = s.recv(65536)
            if not d:
                break
            if first is None:
                first = time.time() - start
            data += d
    except (socket.timeout, ConnectionResetError, ssl.SSLError, BrokenPipeError) as e:
        data += ("<%s>" % type(e).__name__).encode()
    s.close()
    return data, first if first is not None else time.time() - start

for line in open(cases):
    name, expect, expr = line.split(None, 2)
    raw = eval(expr)
    if name.endswith("-slow"):
        # the head in many small records: the refusal comes once the limit is reached
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port)), timeout=8),
                            server_hostname="localhost")
        start, data = time.time(), b""
        try:
            for i in range(0, len(raw), 100):
                s.sendall(raw[i:i + 100])
                time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                data += d
        except (socket.timeout, ConnectionResetError, ssl.SSLError) as e:
            data += ("<%s>" % type(e).__name__).encode()
        s.close()
        first = time.time() - start
    else:
        data, first = run(raw)
    lines, body = answers(data)
    codes = ",".join(l.split(" ")[1] for l in lines if len(l.split(" ")) > 1)
    tail = data[-40:].decode("latin-1") if data.endswith(b">") else ""
    print("%s %s %.2f %s %s" % (name, codes or "-", first, body.decode("latin-1").replace(" ", "_") or "-", tail or "-"))
EOF

python3 client.py "$PORT" ca/ca.pem dev-1.pem dev-1.key cases.txt > results.txt 2> client.err ||
    { cat client.err; fail "client failed"; }
while read -r name expect _; do
    read -r rname codes secs body tail < <(grep "^$name " results.txt)
    [ "$rname" == "$name" ] || { fail "$name: no result"; continue; }
    [ "$codes" == "$expect" ] || fail "$name: answers $codes, expected $expect ($tail)"
    # at once: well before --read-timeout (5 s)
    awk -v s="$secs" 'BEGIN { exit !(s < 2.0) }' || fail "$name: answered after $secs s"
    # a refusal (4xx/5xx as the last answer) is the backend's JSON error
    case "${expect##*,}" in
    4* | 5*)
        [[ $body == '{"error":"'* ]] || fail "$name: body '$body' is not the JSON error"
        ;;
    esac
done < cases.txt

# every refusal of a head wrote one audit row, with its code as the event
n_bad=$(awk '$2 ~ /(^|,)(400|413|417|431|501)$/ && $1 !~ /^ok-/' cases.txt | wc -l)
n_rows=$(q "SELECT count(*) FROM audit WHERE event IN ('bad_request', 'too_large',
    'expectation_failed', 'headers_too_large', 'not_implemented') AND detail LIKE 'HTTP framing:%'")
[ "$n_rows" -eq "$n_bad" ] || fail "audit: $n_rows framing rows, expected $n_bad"
[ "$(q "SELECT count(*) FROM audit WHERE event = 'http_error'")" -eq 0 ] ||
    fail "audit: libevent answered a request by itself"
# the server is still healthy: a normal request on a new connection
r=$(curl -sS --max-time 5 --cacert ca/ca.pem --cert dev-1.pem --key dev-1.key \
    "https://127.0.0.1:$PORT/v1/auth")
[ "$r" == "AUTH OK dev-1" ] || fail "after the cases: /v1/auth answered '$r'"
kill -TERM "$PID"
wait "$PID"
rc=$?
PID=
[ "$rc" -eq 0 ] || fail "server exit status $rc after SIGTERM"

if [ "$failures" -ne 0 ]; then
    echo "--- results"; cat results.txt
    echo "--- audit"; q "SELECT event, detail FROM audit WHERE event NOT IN ('start', 'stop')"
    echo "$failures failure(s)"
    exit 1
fi
[ -n "${FRAMING_VERBOSE:-}" ] && cat results.txt
echo "HTTP framing: $(wc -l < cases.txt) requests answered as RFC 9112 requires, at once, audited"
