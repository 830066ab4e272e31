#!/usr/bin/env python3
"""Connection floods against mosquitto with the iotsec plugin, for tests/scripts/mqtt_flood.sh
(loopback only). The MQTT counterpart of backend_flood.py, self-contained (no MQTT library).

    mqtt_flood.py MODE --port P [--count N] [--addrs 127.0.0.2-12] [--duration S]
                  [--total MAX] [--rate R] [--ready FILE [--ready-count N]] [--stop FILE]
                  [--cert C --key K --ca CA [--client-id ID]]

MODE is what each connection does once connected, from one of the source addresses in turn
(bound before connect: Linux routes all of 127.0.0.0/8 to lo):
    tcp     nothing: an idle TCP connection that never sends a byte
    hello   a TLS ClientHello, then silence (the broker's answer is read and dropped)
    cert    a complete TLS handshake with --cert/--key, an MQTT 3.1.1 CONNECT with client id
            --client-id (keep-alive 600 s), then idle (the CONNACK is read when it comes;
            the next connection does not wait for it).
    tls     a complete TLS handshake with --cert/--key, then silence: no CONNECT, so no
            session and no takeover — mosquitto holds it as a connection not yet in MQTT Every connection of
            one identity uses the same client id (the plugin requires client id = identity),
            so each new one takes over the session of the one before (MQTT session
            takeover): the broker closes the older connection and the flood opens it again

Up to --count connections are held at once for --duration seconds. A connection the broker
closes is opened again, at most --rate new connections per second (the first --count at
once) and at most --total connections in all (default 3 × --count), so the flood is bounded
in count and time. --ready FILE is created once the first --ready-count (default --count)
connections were tried and none is still connecting; the flood ends early once --stop FILE
exists.
At the end the script waits 0.5 s for the broker's last closes, prints one line of
key=value figures and closes everything:
    opened=… failed=… closed=… open_at_end=… connecting=… max_open=… served=… refused=…
    ready_after=…
(open_at_end includes the connecting ones: tcp and hello connections whose connect has not
finished; served: cert connections answered CONNACK 0; refused: another CONNACK code;
ready_after: seconds until --ready would be created, -1 if never).
"""
import argparse
import errno
import os
import selectors
import socket
import ssl
import struct
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


def mqtt_connect(client_id, keepalive=600):
    """An MQTT 3.1.1 CONNECT packet: clean session, no will, no user name."""
    cid = client_id.encode()
    body = (struct.pack("!H", 4) + b"MQTT" + bytes([4, 0x02]) + struct.pack("!H", keepalive)
            + struct.pack("!H", len(cid)) + cid)
    n, rl = len(body), b""
    while True:
        byte, n = n % 128, n // 128
        rl += bytes([byte | (0x80 if n else 0)])
        if not n:
            break
    return b"\x10" + rl + body


class Flood:
    def __init__(self, a):
        self.a = a
        self.addrs = parse_addrs(a.addrs)
        self.sel = selectors.DefaultSelector()
        self.opened = self.failed = self.closed = self.served = self.refused = 0
        self.max_open = 0
        self.conns = {}  # socket -> index in opening order
        self.pending = {}  # cert: socket -> bytes of its CONNACK read so far
        self.connecting = {}  # tcp, hello: socket -> index, while its connect is under way
        self.hellos = client_hellos(8) if a.mode == "hello" else None
        self.ctx = None
        if a.mode in ("cert", "tls"):
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self.ctx.load_verify_locations(a.ca)
            self.ctx.load_cert_chain(a.cert, a.key)
        if a.mode == "cert":
            self.connect_pkt = mqtt_connect(a.client_id)

    def open_one(self):
        idx = self.opened
        self.opened += 1
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            raw.bind((self.addrs[idx % len(self.addrs)], 0))
            if self.a.mode in ("tcp", "hello"):
                # tcp, hello: connect without waiting, so that a SYN the broker's full
                # accept queue dropped (and the kernel sends again 1 s later) does not hold
                # up the flood; the hello is sent once the connection is up
                raw.setblocking(False)
                err = raw.connect_ex(("127.0.0.1", self.a.port))
                if err not in (0, errno.EINPROGRESS):
                    raise OSError(err, os.strerror(err))
                self.connecting[raw] = idx
                self.sel.register(raw, selectors.EVENT_WRITE)
                self.conns[raw] = idx
                self.max_open = max(self.max_open, len(self.conns))
                return
            raw.settimeout(5)
            raw.connect(("127.0.0.1", self.a.port))
            s = self.ctx.wrap_socket(raw, server_hostname="localhost")
            if self.a.mode == "cert":
                s.sendall(self.connect_pkt)
                self.pending[s] = b""  # the CONNACK is read by poll()
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
            if s in self.connecting:  # tcp, hello: the connect finished
                idx = self.connecting.pop(s)
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                try:
                    if err:
                        raise OSError(err, os.strerror(err))
                    if self.a.mode == "hello":
                        s.sendall(self.hellos[idx % len(self.hellos)])
                    self.sel.modify(s, selectors.EVENT_READ)
                except OSError:
                    self.sel.unregister(s)
                    del self.conns[s]
                    s.close()
                    self.failed += 1
                continue
            try:
                while True:  # drain what the broker sent; b"" is its close
                    data = s.recv(65536)
                    if not data:
                        raise ConnectionResetError
                    if s in self.pending:
                        got = self.pending.pop(s) + data
                        if len(got) < 4:
                            self.pending[s] = got
                        elif got[0] == 0x20 and got[3] == 0:
                            self.served += 1
                        else:
                            self.refused += 1
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                continue
            except (OSError, ssl.SSLError):
                self.sel.unregister(s)
                del self.conns[s]
                self.pending.pop(s, None)
                s.close()
                self.closed += 1

    def check_ready(self, start):
        """--ready-count connections tried and none of them still connecting: --ready."""
        a = self.a
        if (self.ready_after < 0 and self.opened >= min(a.ready_count, a.total)
                and not self.connecting):
            self.ready_after = time.monotonic() - start
            if a.ready:
                open(a.ready, "w").close()

    def run(self):
        a = self.a
        start = time.monotonic()
        end = start + a.duration
        tokens, last = float(a.count), start
        self.ready_after = -1.0
        while True:
            now = time.monotonic()
            if now >= end or (a.stop and os.path.exists(a.stop)):
                break
            tokens = min(float(a.count), tokens + (now - last) * a.rate)
            last = now
            while len(self.conns) < a.count and self.opened < a.total and tokens >= 1:
                tokens -= 1
                self.open_one()
                if len(self.conns) % 64 == 0 or a.mode in ("cert", "tls"):
                    self.poll(0)
                self.check_ready(start)
                if time.monotonic() >= end or (a.stop and os.path.exists(a.stop)):
                    break
            self.poll(0.02)
            self.check_ready(start)
        settle = time.monotonic() + 0.5
        while time.monotonic() < settle:
            self.poll(0.05)
        print("opened=%d failed=%d closed=%d open_at_end=%d connecting=%d max_open=%d served=%d "
              "refused=%d ready_after=%.1f"
              % (self.opened, self.failed, self.closed, len(self.conns), len(self.connecting),
                 self.max_open, self.served, self.refused, self.ready_after))
        sys.stdout.flush()
        for s in list(self.conns):
            s.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["tcp", "hello", "cert", "tls"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=1100)
    p.add_argument("--addrs", default="127.0.0.2-12")
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--total", type=int, default=0, help="default 3 × count")
    p.add_argument("--rate", type=float, default=200)
    p.add_argument("--ready")
    p.add_argument("--stop")
    p.add_argument("--ready-count", type=int, default=0, help="default --count")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--ca")
    p.add_argument("--client-id")
    a = p.parse_args()
    if a.total <= 0:
        a.total = 3 * a.count
    if a.ready_count <= 0:
        a.ready_count = a.count
    if a.mode in ("cert", "tls") and not (a.cert and a.key and a.ca):
        p.error("%s needs --cert, --key and --ca" % a.mode)
    if a.mode == "cert" and not a.client_id:
        p.error("cert needs --client-id")
    try:
        Flood(a).run()
    except OSError as e:
        if e.errno == errno.EMFILE:
            sys.exit("mqtt_flood.py: out of file descriptors (raise ulimit -n)")
        raise


if __name__ == "__main__":
    main()
