#!/usr/bin/env python3
"""Connection floods against iotsec-backend for tests/scripts/backend_flood.sh (loopback only).

    backend_flood.py MODE --port P [--count N] [--addrs 127.0.0.2-12] [--duration S]
                     [--total MAX] [--rate R] [--gap S] [--cert C --key K --ca CA]
                     [--ready FILE]

MODE is what each connection does once connected, from one of the source addresses in turn
(bound before connect: Linux routes all of 127.0.0.0/8 to lo):
    tcp     nothing: an idle TCP connection that never sends a byte
    hello   a TLS ClientHello, then silence (the server's answer is read and dropped)
    cert    a complete TLS handshake with --cert/--key, one GET /v1/auth answered, then idle
    busy    a complete handshake, then half a request (no end of headers), then silence

Up to --count connections are held at once for --duration seconds. A connection the server
closes is opened again, at most --rate new connections per second (the first --count at
once, --gap seconds apart) and at most --total connections in all, so the flood is bounded
in count and time. --ready FILE is created once the first --count connections are open (or
were tried), for a caller that must act only then. At the end the script waits 0.5 s for the
server's last closes, prints one line of key=value figures and closes everything:
    opened=… failed=… closed=… open_at_end=… max_open=… served=… open_idx=i,j,…
(served: cert connections whose GET was answered AUTH OK; open_idx: the indices, in opening
order, of the connections still open at the end).
"""
import argparse
import errno
import selectors
import socket
import ssl
import sys
import time


def parse_addrs(spec):
    out = []
    for part in spec.split(","):
        if "-" in part:
            base, last = part.rsplit("-", 1)
            prefix, first = base.rsplit(".", 1)
            out += ["%s.%d" % (prefix, i) for i in range(int(first), int(last) + 1)]
        else:
            out.append(part)
    return out


def client_hellos(n):
    """n ClientHellos made by Python's ssl over memory BIOs (never sent by ssl itself)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    hellos = []
    for _ in range(n):
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hellos.append(out.read())
    return hellos


class Flood:
    def __init__(self, a):
        self.a = a
        self.addrs = parse_addrs(a.addrs)
        self.sel = selectors.DefaultSelector()
        self.opened = self.failed = self.closed = self.served = self.max_open = 0
        self.conns = {}  # socket -> index in opening order
        self.hellos = client_hellos(8) if a.mode == "hello" else None
        self.ctx = None
        if a.mode in ("cert", "busy"):
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self.ctx.load_verify_locations(a.ca)
            self.ctx.load_cert_chain(a.cert, a.key)

    def open_one(self):
        idx = self.opened
        self.opened += 1
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # each TLS record in its own segment at once (else Nagle waits for delayed ACKs)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            raw.bind((self.addrs[idx % len(self.addrs)], 0))
            raw.settimeout(5)
            raw.connect(("127.0.0.1", self.a.port))
            if self.a.mode == "hello":
                raw.sendall(self.hellos[idx % len(self.hellos)])
                s = raw
            elif self.ctx is not None:
                s = self.ctx.wrap_socket(raw, server_hostname="localhost")
                if self.a.mode == "cert":
                    s.sendall(b"GET /v1/auth HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    got = b""
                    while b"AUTH OK" not in got:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        got += chunk
                    self.served += b"AUTH OK" in got
                else:
                    s.sendall(b"GET /v1/auth HTTP/1.1\r\nHost: localhost\r\n")
            else:
                s = raw
            s.setblocking(False)
        except (OSError, ssl.SSLError):
            raw.close()
            self.failed += 1
            return
        self.conns[s] = idx
        self.sel.register(s, selectors.EVENT_READ)
        self.max_open = max(self.max_open, len(self.conns))

    def poll(self, timeout):
        for key, _ in self.sel.select(timeout):
            s = key.fileobj
            try:
                while True:  # drain what the server sent; b"" is its close
                    if not s.recv(65536):
                        raise ConnectionResetError
            except (ssl.SSLWantReadError, BlockingIOError):
                continue
            except ssl.SSLWantWriteError:
                continue
            except (OSError, ssl.SSLError):
                self.sel.unregister(s)
                del self.conns[s]
                s.close()
                self.closed += 1

    def run(self):
        a = self.a
        start = time.monotonic()
        end = start + a.duration
        tokens, last = float(a.count), start
        ready = a.ready is None
        while True:
            now = time.monotonic()
            if now >= end:
                break
            tokens = min(float(a.count), tokens + (now - last) * a.rate)
            last = now
            while len(self.conns) < a.count and self.opened < a.total and tokens >= 1:
                tokens -= 1
                self.open_one()
                if a.gap > 0:
                    time.sleep(a.gap)
                if len(self.conns) % 64 == 0 or a.gap > 0:
                    self.poll(0)
                if time.monotonic() >= end:
                    break
            if not ready and self.opened >= min(a.count, a.total):
                self.poll(0)
                open(a.ready, "w").close()
                ready = True
            self.poll(0.02)
        settle = time.monotonic() + 0.5
        while time.monotonic() < settle:
            self.poll(0.05)
        left = sorted(self.conns.values())
        print("opened=%d failed=%d closed=%d open_at_end=%d max_open=%d served=%d open_idx=%s"
              % (self.opened, self.failed, self.closed, len(left), self.max_open, self.served,
                 ",".join(map(str, left))))
        sys.stdout.flush()
        for s in list(self.conns):
            s.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["tcp", "hello", "cert", "busy"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=1100)
    p.add_argument("--addrs", default="127.0.0.2-12")
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--total", type=int, default=0, help="default 3 × count")
    p.add_argument("--rate", type=float, default=200)
    p.add_argument("--gap", type=float, default=0)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--ca")
    p.add_argument("--ready")
    a = p.parse_args()
    if a.total <= 0:
        a.total = 3 * a.count
    try:
        Flood(a).run()
    except OSError as e:
        if e.errno == errno.EMFILE:
            sys.exit("backend_flood.py: out of file descriptors (raise ulimit -n)")
        raise


if __name__ == "__main__":
    main()
