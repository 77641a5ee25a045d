#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Collect the state of a stalled harness guest from QEMU, before it is killed.

usage: stall.py --qmp SOCKET --out DIR [--console FILE] [--conv FILE]

Asks QEMU over its QMP socket (run.sh starts every guest with one) for:
the run state, every virtio device's status and the status of each of its
queues (x-query-virtio*, QEMU >= 7.2), the block devices' I/O counters
(query-blockstats), the PCI devices and every vCPU's registers (HMP "info
pci", "info registers -a").  Adds the guest's last "HARNESS JOB" line (the
fio job that did not end) and the last conversion records, and writes
DIR/stall.txt (everything, readable) and DIR/stall.json ("device": the
guest's device of the last job, "queues_in_flight": the virtio queues with
requests the device has not completed, "errors": what QEMU did not answer).
Exit status 0 if QEMU answered, 1 if not (the files are written anyway).
"""
import argparse
import json
import os
import re
import socket
import sys


class Qmp:
    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.f = self.sock.makefile("rw")
        self._read()                    # greeting
        self.call("qmp_capabilities")

    def _read(self):
        while True:
            line = self.f.readline()
            if not line:
                raise OSError("QMP connection closed")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def call(self, cmd, **args):
        req = {"execute": cmd}
        if args:
            req["arguments"] = args
        self.f.write(json.dumps(req) + "\n")
        self.f.flush()
        msg = self._read()
        if "error" in msg:
            raise RuntimeError("%s: %s" % (cmd, msg["error"].get("desc")))
        return msg.get("return")

    def hmp(self, line):
        return self.call("human-monitor-command", **{"command-line": line})


def last_job(console):
    """The dev= and job= of the last "HARNESS JOB" line, or (None, None)."""
    dev = job = None
    try:
        with open(console, errors="replace") as fh:
            for line in fh:
                m = re.search(r"HARNESS JOB dev=(\S+) job=(\S+)", line)
                if m:
                    dev, job = m.group(1), m.group(2)
    except OSError:
        pass
    return dev, job


def tail(path, n):
    try:
        with open(path, errors="replace") as fh:
            return fh.read().splitlines()[-n:]
    except OSError:
        return []


def collect(qmp_path, console=None, conv=None):
    out = {"device": None, "job": None, "queues_in_flight": [], "errors": []}
    text = []
    if console:
        out["device"], out["job"] = last_job(console)
        text.append("last HARNESS JOB: dev=%s job=%s" % (out["device"], out["job"]))
    try:
        q = Qmp(qmp_path)
    except (OSError, ValueError) as e:
        out["errors"].append("QMP: %s" % e)
        q = None
    if q:
        def section(title, fn):
            try:
                val = fn()
            except (OSError, RuntimeError, ValueError) as e:
                out["errors"].append("%s: %s" % (title, e))
                val = "(error: %s)" % e
            text.append("==== %s" % title)
            text.append(val if isinstance(val, str) else json.dumps(val, indent=1))
            return val
        section("query-status", lambda: q.call("query-status"))
        devs = section("x-query-virtio", lambda: q.call("x-query-virtio")) or []
        if isinstance(devs, list):
            for d in devs:
                st = section("virtio-status %s (%s)" % (d["path"], d["name"]),
                             lambda: q.call("x-query-virtio-status", path=d["path"]))
                nvq = st.get("num-vqs", 0) if isinstance(st, dict) else 0
                for i in range(nvq):
                    qs = section("virtio-queue-status %s queue %d" % (d["name"], i),
                                 lambda: q.call("x-query-virtio-queue-status",
                                                path=d["path"], queue=i))
                    # requests the device took and has not completed
                    # (inuse), or that the guest made available and the
                    # device never took (a lost notification); not the
                    # receive queues of virtio-net (even index but the
                    # control queue), whose buffers wait for packets
                    rx = d["name"] == "virtio-net" and i % 2 == 0 and i != nvq - 1
                    if isinstance(qs, dict) and (
                            qs.get("inuse", 0) or
                            (not rx and qs.get("last-avail-idx") !=
                             qs.get("shadow-avail-idx"))):
                        out["queues_in_flight"].append({
                            "device": d["name"], "path": d["path"], "queue": i,
                            "inuse": qs.get("inuse"),
                            "last_avail_idx": qs.get("last-avail-idx"),
                            "shadow_avail_idx": qs.get("shadow-avail-idx"),
                            "used_idx": qs.get("used-idx")})
        section("query-blockstats", lambda: q.call("query-blockstats"))
        section("info pci", lambda: q.hmp("info pci"))
        section("info registers -a", lambda: q.hmp("info registers -a"))
    if conv:
        text.append("==== last conversion records (%s)" % os.path.basename(conv))
        text.extend(tail(conv, 20))
    return out, "\n".join(text) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qmp", required=True, help="QEMU's QMP socket")
    ap.add_argument("--out", required=True, help="run directory")
    ap.add_argument("--console", help="console.log of the run")
    ap.add_argument("--conv", help="conv.log of the run")
    a = ap.parse_args(argv)
    out, text = collect(a.qmp, a.console, a.conv)
    with open(os.path.join(a.out, "stall.txt"), "w") as fh:
        fh.write(text)
    with open(os.path.join(a.out, "stall.json"), "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    inflight = ", ".join("%s q%d (%s in use)" % (x["device"], x["queue"], x["inuse"])
                         for x in out["queues_in_flight"]) or "none"
    print("stall: guest device %s (job %s); virtio queues with requests in flight: %s%s"
          % (out["device"] or "?", out["job"] or "?", inflight,
             "; errors: " + "; ".join(out["errors"]) if out["errors"] else ""))
    return 1 if any(e.startswith("QMP") for e in out["errors"]) else 0


if __name__ == "__main__":
    sys.exit(main())
