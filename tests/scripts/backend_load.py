#!/usr/bin/env python3
"""Devices with real mTLS for the backend's scale tests (backend_group_commit.sh,
backend_fleet.sh, backend_chaos.sh). Frames are sealed by libiotsec itself through the
Python reference binding (bindings-spec/python/iotsec.py; IOTSEC_LIB names the library).

    backend_load.py plan --port P --dir D PLAN.json      > RESULTS
    backend_load.py run  --port P --dir D --devices dev-1,dev-2,... --seconds S
                         [--start-file F] [--stop-file F] [--first N]  > RESULTS

D holds ca.pem and, per device X, X.pem, X.key and X.secret (the 32-byte frame master
secret). Every device has its own thread and one keep-alive connection, opened again after
a failure.

plan: PLAN.json is a list of {"dev": X, "ctr": N, "forge": bool}; the devices start at once
(a barrier) and each sends its entries in order. forge flips the tag's last byte.
run: each device sends frames with counters first, first+1, ... for S seconds (or until
--stop-file exists); a frame without an answer (connection lost: a killed server) is not
sent again, the next counter is used.

RESULTS: one line per frame sent: "DEV CTR STATUS" (STATUS the HTTP status, or 0 when no
answer came).
"""
import argparse
import http.client
import json
import os
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "bindings-spec", "python"))
import iotsec  # noqa: E402


class Device:
    def __init__(self, a, name):
        self.a, self.name = a, name
        with open(os.path.join(a.dir, name + ".secret"), "rb") as f:
            self.keys = iotsec.FrameKeys(f.read(), name)
        self.ctx = ssl.create_default_context(cafile=os.path.join(a.dir, "ca.pem"))
        self.ctx.load_cert_chain(os.path.join(a.dir, name + ".pem"),
                                 os.path.join(a.dir, name + ".key"))
        self.conn = None

    def send(self, ctr, forge=False):
        body = bytearray(self.keys.seal(ctr, b"reading %d" % ctr))
        if forge:
            body[-1] ^= 1
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPSConnection("127.0.0.1", self.a.port,
                                                            context=self.ctx, timeout=10)
                self.conn.request("POST", "/v1/telemetry", body=bytes(body),
                                  headers={"Content-Type": "application/iotsec-frame"})
                r = self.conn.getresponse()
                r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                # a request never written (connection refused / reset before sending) is
                # safe to send again once; after that the outcome is unknown: 0
                if attempt == 0 and isinstance(sys.exc_info()[1], ConnectionRefusedError):
                    time.sleep(0.05)
                    continue
                return 0
        return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["plan", "run"])
    p.add_argument("plan", nargs="?")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--devices", default="")
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--first", type=int, default=1)
    p.add_argument("--stop-file")
    a = p.parse_intermixed_args()
    out, lock = [], threading.Lock()

    if a.mode == "plan":
        with open(a.plan) as f:
            plan = json.load(f)
        per = {}
        for e in plan:
            per.setdefault(e["dev"], []).append(e)
        devs = {n: Device(a, n) for n in per}
        barrier = threading.Barrier(len(per))

        def work(n):
            barrier.wait()
            for e in per[n]:
                st = devs[n].send(e["ctr"], e.get("forge", False))
                with lock:
                    out.append("%s %d %d" % (n, e["ctr"], st))
        threads = [threading.Thread(target=work, args=(n,)) for n in per]
    else:
        names = [n for n in a.devices.split(",") if n]
        devs = {n: Device(a, n) for n in names}
        end = time.time() + a.seconds

        def work(n):
            ctr = a.first
            while time.time() < end and not (a.stop_file and os.path.exists(a.stop_file)):
                st = devs[n].send(ctr)
                with lock:
                    out.append("%s %d %d" % (n, ctr, st))
                if st == 0:
                    time.sleep(0.05)  # the server is restarting
                ctr += 1
        threads = [threading.Thread(target=work, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sys.stdout.write("".join(line + "\n" for line in out))


if __name__ == "__main__":
    main()
