#!/usr/bin/env bash
# Timing of the backend's firmware storage (figures, never a test): Range reads of 2 KiB at
# the start, middle and end of a 64 MiB payload, whole downloads of it, and how long the
# server stalls while publish-firmware stores another 64 MiB payload against the running
# server (the longest answer to a request that writes an audit row, and to a telemetry
# frame, while the publish runs; any 500 is counted).
#
#   examples/backend/payload_timing.sh [BUILD]     (BUILD holds iotsec-backend and iotsec)
#
# Tunables (environment): PT_MIB (64), PT_READS (50 per position), PT_FULL (3 downloads).
set -u
BUILD=$(cd "${1:-build}" && pwd) || exit 1
SRV=$BUILD/iotsec-backend
CLI=$BUILD/iotsec
MIB=${PT_MIB:-64}
T=$(mktemp -d)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
cd "$T" || exit 1
die() { echo "payload_timing: $*" >&2; exit 1; }

"$CLI" ca init --dir ca >/dev/null && cp ca/ca.pem ca.pem &&
    "$CLI" ca server --dir ca --name localhost --ip 127.0.0.1 --out-key srv.key \
        --out-cert srv.pem >/dev/null &&
    "$CLI" ca issue --dir ca --device-id dev-1 --out-key dev-1.key --out-cert dev-1.pem \
        >/dev/null &&
    "$CLI" secret --bytes 32 --out dev-1.secret >/dev/null &&
    "$SRV" add-device --db db --device-id dev-1 --secret-file dev-1.secret >/dev/null &&
    "$CLI" keygen --alg ed25519 --out fw.key --pub fw.pub >/dev/null || die "setup"
for n in 1 2; do
    head -c $((MIB << 20)) /dev/urandom > "p$n.bin"
    "$CLI" manifest sign --key fw.key --image "p$n.bin" --version "$n.0.0" \
        --security-counter "$n" --class timing --out "p$n.man" >/dev/null || die "sign"
done
for ((i = 1; i <= 1000; i++)); do
    echo "reading $i" | "$CLI" frame seal --secret dev-1.secret --device-id dev-1 --ctr "$i" \
        > "f$i.bin" || die "seal"
done
start=$(date +%s.%N)
"$SRV" publish-firmware --db db --manifest p1.man --payload p1.bin --trust fw.pub >/dev/null ||
    die "publish p1"
echo "publish-firmware of ${MIB} MiB, no server running: $(echo "$(date +%s.%N) - $start" | bc) s"

"$SRV" serve --listen 127.0.0.1:0 --db db --ca ca.pem --cert srv.pem --key srv.key \
    --rate 0 --audit-rate 0 ${PT_SERVE_ARGS:-} > srv.out 2> srv.err &
PID=$!
for i in $(seq 1 100); do
    PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' srv.out)
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || die "server did not start"

python3 - "$PORT" "$(sha256sum p1.bin | cut -c1-64)" "${PT_READS:-50}" "${PT_FULL:-3}" \
    "$SRV" <<'EOF'
import http.client, os, ssl, statistics, subprocess, sys, threading, time

port, digest, reads, full, srv = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4]), sys.argv[5]
ctx = ssl.create_default_context(cafile="ca.pem")
ctx.load_cert_chain("dev-1.pem", "dev-1.key")
size = os.path.getsize("p1.bin")
path = "/v1/firmware/payload/" + digest

def conn():
    return http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=60)

def get(c, p, headers={}):
    c.request("GET", p, headers=headers)
    r = c.getresponse()
    return r.status, r.read()

c = conn()
with open("p1.bin", "rb") as f:
    for name, off in (("start", 0), ("middle", size // 2), ("end", size - 2048)):
        f.seek(off)
        want, times = f.read(2048), []
        for _ in range(reads):
            t = time.perf_counter()
            st, body = get(c, path, {"Range": "bytes=%d-%d" % (off, off + 2047)})
            times.append(time.perf_counter() - t)
            assert st == 206 and body == want, (st, len(body))
        print("Range 2 KiB at the %-6s of %d MiB: median %.2f ms, max %.2f ms (%d reads)"
              % (name, size >> 20, statistics.median(times) * 1e3, max(times) * 1e3, reads))
want, times = open("p1.bin", "rb").read(), []
for _ in range(full):
    t = time.perf_counter()
    st, body = get(c, path)
    times.append(time.perf_counter() - t)
    assert st == 200 and body == want
print("whole download of %d MiB: median %.3f s (%d downloads)"
      % (size >> 20, statistics.median(times), full))
c.close()

# stall while publish-firmware runs: one connection asks again and again for an unknown
# payload (the 404 writes an audit row: the write lock), another posts telemetry frames;
# the same for as long without a publish, for comparison
frames = iter(range(1, 1001))
def prober(kind, stop, lat, codes):
    c = conn()
    while not stop.is_set():
        t = time.perf_counter()
        if kind == "audit":
            st, _ = get(c, "/v1/firmware/payload/" + "0" * 64)
        else:
            i = next(frames, None)
            if i is None:
                break
            c.request("POST", "/v1/telemetry", body=open("f%d.bin" % i, "rb").read(),
                      headers={"Content-Type": "application/iotsec-frame"})
            r = c.getresponse(); r.read(); st = r.status
        lat[kind].append(time.perf_counter() - t)
        codes[st] = codes.get(st, 0) + 1
        if kind == "telemetry":
            time.sleep(0.01)

def probe(what, action):
    stop, lat, codes = threading.Event(), {"audit": [], "telemetry": []}, {}
    threads = [threading.Thread(target=prober, args=(k, stop, lat, codes)) for k in lat]
    for th in threads:
        th.start()
    time.sleep(0.2)
    t = time.perf_counter()
    action()
    took = time.perf_counter() - t
    time.sleep(0.2)
    stop.set()
    for th in threads:
        th.join()
    print("%s: %.2f s" % (what, took))
    for k in (k for k in lat if lat[k]):
        print("  longest answer (%s): %.1f ms over %d requests, median %.2f ms"
              % (k, max(lat[k]) * 1e3, len(lat[k]), statistics.median(lat[k]) * 1e3))
    print("  statuses: %s" % ", ".join("%d x%d" % (s, n) for s, n in sorted(codes.items())))
    return took

took = probe("publish-firmware of %d MiB against the running server" % (size >> 20),
             lambda: subprocess.run([srv, "publish-firmware", "--db", "db", "--manifest",
                                     "p2.man", "--payload", "p2.bin", "--trust", "fw.pub"],
                                    check=True, stdout=subprocess.DEVNULL))
probe("the same without a publish, for comparison", lambda: time.sleep(took))
EOF
