#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Analyse one harness run directory (python3, standard library only).

usage: analyze.py RUNDIR [--convstat PATH] [--meta KEY=VALUE]...
       analyze.py --assert [--no-misaligned-check] [--baseline] RUNDIR...
                  [--patched RUNDIR]... [--nocvm RUNDIR]...

Reads RUNDIR/console.log (guest output) and RUNDIR/conv.log (conversion
records, Documentation/conversion-log.md), runs the analyzer
(convstat --json / --map), parses the guest's CHECK and GUEST lines,
cross-checks analyzer and guest counters, verifies the data patterns the
guest wrote against the disk image files, and writes

  convstat.json  the analyzer's figures for conv.log
  map.txt        convstat --map: state of every 2 MiB region touched
  guest.json     the guest's own counters (GUEST <name> <value> lines)
  summary.json   everything a report needs, with "ok" and "failures"

It prints one line per failure and exits 1 if there is any, 0 otherwise.
With --assert it prints the harness assertions of 'make check' for existing
run directories, one "PASS|FAIL <name> (<detail>)" line each, and exits 1
if any fails: baseline runs (RUNDIR, --baseline), patched runs under the
emulated CVM (--patched, given twice with different --cycles for the
growth assertion) and runs without a CVM (--nocvm); see assertions(),
patched_assertions(), nocvm_assertions(), cross_assertions().
The functions are used by report.py and the tests in tests/harness/.
"""
import hashlib
import json
import os
import re
import subprocess
import sys

PAGE = 4096

# Figures that must be identical in the analyzer output (conv.log) and in the
# guest's own counters.  Each guest counter may be known under a few names.
CROSS_FIELDS = ("calls", "to_shared", "to_private", "pages", "misaligned",
                "refused")
GUEST_ALIASES = {
    "calls": ("calls", "conversions"),
    "to_shared": ("to_shared", "decrypted", "shared_calls"),
    "to_private": ("to_private", "encrypted", "private_calls"),
    "pages": ("pages", "pages_converted"),
    "misaligned": ("misaligned", "unaligned"),
    "refused": ("refused", "failed"),
    "shared_pages": ("shared_pages", "shared"),
    "dma_to_private": ("dma_to_private", "dma_private"),
}

# The marker a guest may leave in the conversion log when it reads its
# counters (a comment record): records after it are not in the counters.
SNAPSHOT_MARK = "# harness: counters snapshot"

CONVSTAT_FIGURES = ("calls", "to_shared", "to_private", "refused", "pages",
                    "misaligned", "mixed_2m_end", "mixed_2m_peak",
                    "shared_bytes_end", "shared_bytes_peak", "tdx_calls",
                    "snp_exits", "malformed", "redundant_pages")

_num = re.compile(r"^(?:0x[0-9a-fA-F]+|-?[0-9]+)$")


def to_value(s):
    """'12' -> 12, '0x10' -> 16, anything else stays a string."""
    if _num.match(s):
        return int(s, 16) if s.lower().startswith("0x") else int(s)
    return s


def parse_kv(text):
    """'a=1 b=x c' -> {'a': 1, 'b': 'x'} (words without '=' are ignored)."""
    out = {}
    for w in text.split():
        if "=" in w:
            k, v = w.split("=", 1)
            out[k] = to_value(v.strip("'\""))
    return out


_re_check = re.compile(r"CHECK (\S+) (\S+) (PASS|FAIL|SKIP)\b(.*)$")
_re_guest = re.compile(r"^GUEST (\S+) (\S+)\s*$")
_re_ts = re.compile(r"^\[\s*([0-9]+\.[0-9]+)\]")
_re_e820 = re.compile(
    r"BIOS-e820: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] usable")
_re_linux = re.compile(r"Linux version (\S+)")


def parse_console(text):
    """Parse the guest console.  Returns a dict with the markers, the checks,
    the GUEST counters, the kernel release, the usable RAM ranges (e820) and
    the kernel timestamp just before the workload started."""
    res = {"started": False, "done": False, "start": {}, "result": {},
           "checks": [], "guest": {}, "kernel_release": None,
           "ram_ranges": [], "last_kernel_ts_before_start": None,
           "errors": [], "devices": [], "tail": [], "cvm_lines": []}
    last_ts = None
    lines = text.replace("\r", "").split("\n")
    for line in lines:
        m = _re_ts.match(line)
        if m:
            last_ts = float(m.group(1))
        if res["kernel_release"] is None:
            m = _re_linux.search(line)
            if m:
                res["kernel_release"] = m.group(1)
        m = _re_e820.search(line)
        if m and not res["started"]:
            res["ram_ranges"].append([int(m.group(1), 16),
                                      int(m.group(2), 16) + 1])
        if "HARNESS START" in line and not res["started"]:
            res["started"] = True
            res["start"] = parse_kv(line.split("HARNESS START", 1)[1])
            res["last_kernel_ts_before_start"] = last_ts
            continue
        if "HARNESS DONE" in line:
            res["done"] = True
            continue
        if line.startswith("HARNESS RESULT"):
            res["result"] = parse_kv(line[len("HARNESS RESULT"):])
            continue
        if line.startswith("HARNESS ERROR"):
            res["errors"].append(line[len("HARNESS ERROR"):].strip())
            continue
        if line.startswith("HARNESS DEVICE"):
            res["devices"].append(line[len("HARNESS DEVICE"):].strip())
            continue
        if line.startswith("KMSG "):
            continue
        if "cvm_emulate:" in line:
            res["cvm_lines"].append(line.strip())
        m = _re_guest.match(line)
        if m:
            res["guest"][m.group(1)] = to_value(m.group(2))
            continue
        m = _re_check.search(line)
        if m:
            res["checks"].append({"kind": m.group(1), "subject": m.group(2),
                                  "status": m.group(3),
                                  "fields": parse_kv(m.group(4))})
    res["tail"] = [l for l in lines if l.strip()][-15:]
    return res


def guest_counter(guest, name):
    """The guest counter NAME under any of its aliases, or None."""
    for alias in GUEST_ALIASES.get(name, (name,)):
        if alias in guest:
            return guest[alias]
    return None


def crosscheck(conv, guest):
    """Compare analyzer figures with the guest counters.  Returns a list of
    {"name", "analyzer", "guest", "ok"}; ok is False when they differ or a
    side is missing."""
    out = []
    for f in CROSS_FIELDS:
        a = conv.get(f)
        g = guest_counter(guest, f)
        out.append({"name": f, "analyzer": a, "guest": g,
                    "ok": a is not None and g is not None and a == g})
    a = conv.get("shared_bytes_end")
    sp = guest_counter(guest, "shared_pages")
    g = sp * PAGE if isinstance(sp, int) else None
    out.append({"name": "shared_bytes_end", "analyzer": a, "guest": g,
                "ok": a is not None and g is not None and a == g})
    return out


def snapshot_prefix(log_text):
    """The part of a conversion log up to the snapshot marker, or None if
    the log has no marker."""
    out = []
    for line in log_text.splitlines(keepends=True):
        if line.rstrip("\n") == SNAPSHOT_MARK or line.startswith(SNAPSHOT_MARK):
            return "".join(out)
        out.append(line)
    return None


def run_convstat(convstat, path, mode):
    """Run 'convstat --json|--map PATH'.  Returns (output, error)."""
    if not convstat or not os.access(convstat, os.X_OK):
        return None, ("analyzer %s missing: run 'make convstat'" % convstat)
    try:
        p = subprocess.run([convstat, "--" + mode, path], capture_output=True,
                           text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, "convstat --%s failed: %s" % (mode, e)
    if p.returncode != 0:
        return None, "convstat --%s %s: exit %d: %s" % (
            mode, path, p.returncode, p.stderr.strip()[:300])
    return p.stdout, None


def parse_map(text):
    """convstat --map output -> list of (base, shared_pages, state)."""
    out = []
    for line in text.splitlines():
        w = line.split()
        if len(w) >= 3 and w[0].startswith("0x"):
            out.append((int(w[0], 16), int(w[1]), w[2]))
    return out


def required_checks(mode, cycles, net=True):
    """(kind, matcher, description) of the checks a full run must pass."""
    if mode == "boot":
        return []
    req = [("io", lambda c, k=k: c["fields"].get("disk") == k, "io %s" % k)
           for k in ("blk", "scsi", "nvme")]
    req.append(("rng", lambda c: True, "rng hwrng"))
    if net:
        req.append(("net", lambda c: True, "net hub"))
    if cycles > 0:
        req.append(("rebind", lambda c: True, "rebind nvme"))
        req.append(("io", lambda c: c["subject"].endswith("-after-rebind"),
                    "io nvme after rebind"))
    return req


def verify_images(rundir, checks):
    """Re-read every pattern a PASSing io check wrote from the host's disk
    image and compare its SHA-256.  Returns a list of results."""
    out = []
    for c in checks:
        f = c["fields"]
        if c["kind"] != "io" or c["status"] != "PASS" or "sha256" not in f:
            continue
        img = os.path.join(rundir, "disk-%s.img" % f.get("disk"))
        r = {"check": "%s %s" % (c["kind"], c["subject"]), "image":
             os.path.basename(img), "offset": f.get("offset"),
             "bytes": f.get("bytes")}
        try:
            h = hashlib.sha256()
            with open(img, "rb") as fh:
                fh.seek(int(f["offset"]))
                left = int(f["bytes"])
                while left > 0:
                    b = fh.read(min(left, 1 << 20))
                    if not b:
                        break
                    h.update(b)
                    left -= len(b)
            r["ok"] = left == 0 and h.hexdigest() == f["sha256"]
            if not r["ok"]:
                r["error"] = "image content differs from the guest's pattern"
        except (OSError, ValueError, KeyError) as e:
            r["ok"] = False
            r["error"] = str(e)
        out.append(r)
    return out


def _f(meta, k, default=None):
    v = meta.get(k, "")
    if v in ("", None):
        return default
    try:
        return float(v) if "." in str(v) else int(v)
    except ValueError:
        return v


def analyze(rundir, convstat=None, meta=None):
    """Analyse RUNDIR, write the JSON files, return the summary dict."""
    meta = dict(meta or {})
    failures = []
    notes = []
    platform = meta.get("platform", "tcg")
    cvm = meta.get("cvm", "on")
    mode = meta.get("mode", "full")
    cycles = int(meta.get("cycles") or 0)

    con_path = os.path.join(rundir, "console.log")
    try:
        with open(con_path, errors="replace") as fh:
            con = parse_console(fh.read())
    except OSError as e:
        con = parse_console("")
        failures.append("no console log: %s" % e)

    # -- the run itself
    if str(meta.get("timed_out", "0")) == "1":
        failures.append("timeout: QEMU killed after %ss (last console line: %s)"
                        % (meta.get("timeout"), (con["tail"] or ["-"])[-1][:120]))
    qrc = _f(meta, "qemu_rc", 0)
    if qrc not in (0, None) and str(meta.get("timed_out", "0")) != "1":
        qlog = ""
        try:
            with open(os.path.join(rundir, "qemu.log"), errors="replace") as fh:
                qlog = " | ".join(fh.read().strip().splitlines()[-5:])
        except OSError:
            pass
        failures.append("QEMU exited with status %s: %s" % (qrc, qlog or "-"))
    if not con["started"]:
        failures.append("boot failed: the guest never reached the workload "
                        "(no 'HARNESS START'); last console lines:\n    "
                        + ("\n    ".join(con["tail"][-8:]) or
                           "(console empty)"))
    elif not con["done"]:
        failures.append("missing 'HARNESS DONE': the workload did not finish; "
                        "last console lines:\n    "
                        + "\n    ".join(con["tail"][-8:]))
    for e in con["errors"]:
        failures.append("guest error: %s" % e)

    # -- checks
    for c in con["checks"]:
        if c["status"] == "FAIL":
            failures.append("check failed: %s %s %s" % (
                c["kind"], c["subject"],
                " ".join("%s=%s" % kv for kv in c["fields"].items())))
    missing = []
    if con["started"] and con["done"]:
        for kind, match, desc in required_checks(mode, cycles):
            if not any(c["kind"] == kind and c["status"] == "PASS" and match(c)
                       for c in con["checks"]):
                missing.append(desc)
                # a FAIL line was reported above already
                if not any(c["kind"] == kind and c["status"] == "FAIL" and
                           match(c) for c in con["checks"]):
                    failures.append("check missing: %s" % desc)
    host_verify = verify_images(rundir, con["checks"])
    for r in host_verify:
        if not r["ok"]:
            failures.append("host verify %s in %s at %s: %s" % (
                r["check"], r["image"], r["offset"], r.get("error")))

    # -- analyzer
    conv = {}
    conv_snap = None
    map_rows = []
    log_path = os.path.join(rundir, "conv.log")
    have_log = platform == "tcg"
    if have_log:
        if not os.path.exists(log_path):
            failures.append("no conversion log %s" % log_path)
        else:
            out, err = run_convstat(convstat, log_path, "json")
            if err:
                failures.append(err)
            else:
                conv = json.loads(out)
                with open(os.path.join(rundir, "convstat.json"), "w") as fh:
                    json.dump(conv, fh, indent=1, sort_keys=True)
                    fh.write("\n")
            out, err = run_convstat(convstat, log_path, "map")
            if err:
                failures.append(err)
            else:
                with open(os.path.join(rundir, "map.txt"), "w") as fh:
                    fh.write(out)
                map_rows = parse_map(out)
            with open(log_path, errors="replace") as fh:
                prefix = snapshot_prefix(fh.read())
            if prefix is not None and conv:
                sp = os.path.join(rundir, "conv.snapshot.log")
                with open(sp, "w") as fh:
                    fh.write(prefix)
                out, err = run_convstat(convstat, sp, "json")
                if err:
                    failures.append(err)
                else:
                    conv_snap = json.loads(out)
        if cvm == "on" and conv and con["started"] and \
                conv.get("calls", 0) == 0 and not conv.get("refused"):
            failures.append(
                "the emulated CVM logged no conversion at all (is cvm_emulate "
                "active in this kernel?); console: %s" % (
                    "; ".join(con["cvm_lines"][:3]) or
                    "no 'cvm_emulate:' message"))
        if conv.get("malformed"):
            failures.append("conversion log has %d malformed lines "
                            "(interleaved or truncated records?)"
                            % conv["malformed"])

    # -- guest counters
    guest = con["guest"]
    with open(os.path.join(rundir, "guest.json"), "w") as fh:
        json.dump(guest, fh, indent=1, sort_keys=True)
        fh.write("\n")
    detector = guest_counter(guest, "dma_to_private")
    if isinstance(detector, int) and detector > 0:
        failures.append("DMA-to-private detector fired %d times: a device was "
                        "given private memory" % detector)

    # -- cross-check
    xc = {"ok": None, "source": None, "fields": []}
    if have_log and cvm == "on" and conv:
        if guest_counter(guest, "calls") is None:
            if con["done"]:
                failures.append("cross-check impossible: the guest printed no "
                                "emulated-CVM counters (GUEST calls ...)")
            xc["ok"] = False
        else:
            ref = conv_snap if conv_snap is not None else conv
            xc["source"] = "snapshot" if conv_snap is not None else "full log"
            xc["fields"] = crosscheck(ref, guest)
            xc["ok"] = all(f["ok"] for f in xc["fields"])
            for f in xc["fields"]:
                if not f["ok"]:
                    failures.append(
                        "cross-check mismatch: %s analyzer=%s guest=%s"
                        % (f["name"], f["analyzer"], f["guest"]))
    elif have_log and cvm == "off" and conv:
        if conv.get("calls", 0) != 0:
            failures.append("no emulated CVM, yet %d conversions were logged"
                            % conv["calls"])
        notes.append("cvm off: cross-check not applicable")
    elif not have_log:
        notes.append("platform %s: no conversion log; the guest counters "
                     "are the only source" % platform)

    # -- timing
    start = con["start"]
    timing = {
        "boot_s": start.get("uptime") if isinstance(start.get("uptime"),
                                                   (int, float)) else
        _float(start.get("uptime")),
        "kernel_ts_before_start_s": con["last_kernel_ts_before_start"],
        "workload_end_uptime_s": _float(con["result"].get("uptime")),
        "host_boot_s": _f(meta, "host_start_s"),
        "host_done_s": _f(meta, "host_done_s"),
        "wall_s": _f(meta, "wall_s"),
    }

    checks = {}
    for c in con["checks"]:
        checks["%s %s" % (c["kind"], c["subject"])] = c["status"]
    io_checks = [c for c in con["checks"] if c["kind"] == "io"]
    summary = {
        "label": meta.get("label") or os.path.basename(os.path.abspath(rundir)),
        "variant": meta.get("variant"),
        "kernel": meta.get("kernel"),
        "kernel_release": con["kernel_release"],
        "base_version": meta.get("base_version") or None,
        "platform": platform,
        "cvm": cvm,
        "mode": mode,
        "cycles": cycles,
        "swiotlb": meta.get("swiotlb") or None,
        "smp": _f(meta, "smp"),
        "mem": meta.get("mem"),
        "mem_bytes": mem_bytes(meta.get("mem")),
        "append": meta.get("append"),
        "harness_id": start.get("id"),
        "ram_ranges": con["ram_ranges"],
        "started": con["started"],
        "done": con["done"],
        "timed_out": str(meta.get("timed_out", "0")) == "1",
        "checks": checks,
        "missing_checks": missing,
        "checks_detail": con["checks"],
        "io_ok": bool(io_checks) and all(c["status"] == "PASS"
                                         for c in io_checks),
        "host_verify": host_verify,
        "detector_dma_to_private": detector,
        "convstat": {k: conv.get(k) for k in CONVSTAT_FIGURES} if conv else {},
        "guest": guest,
        "crosscheck": xc,
        "map_regions": {s: sum(1 for r in map_rows if r[2] == s)
                        for s in ("private", "shared", "mixed")},
        "timing": timing,
        "qemu_rc": _f(meta, "qemu_rc"),
        "notes": notes,
        "failures": failures,
        "ok": not failures,
    }
    with open(os.path.join(rundir, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=1, sort_keys=True)
        fh.write("\n")
    return summary


def _float(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def mem_bytes(s):
    """QEMU -m syntax ('2G', '1536M', '2048') -> bytes (None if unknown)."""
    if not s:
        return None
    m = re.match(r"^([0-9]+)([KMGTkmgt]?)$", str(s))
    if not m:
        return None
    mult = {"": 1 << 20, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30,
            "t": 1 << 40}[m.group(2).lower()]
    return int(m.group(1)) * mult


def assertions(summary, expect_misaligned=True):
    """The harness assertions of 'make check' on one run summary: a list of
    (name, ok, detail)."""
    out = []
    s = summary
    out.append(("harness-boot", bool(s.get("started") and s.get("done")
                                     and not s.get("timed_out")),
                "started=%s done=%s timeout=%s" % (
                    s.get("started"), s.get("done"), s.get("timed_out"))))
    det = s.get("checks_detail") or []
    io = [c for c in det if c["kind"] == "io"]
    hv = s.get("host_verify") or []
    miss_io = [m for m in s.get("missing_checks") or [] if m.startswith("io")]
    out.append(("harness-io", bool(io) and all(c["status"] == "PASS"
                                               for c in io)
                and not miss_io and bool(hv) and all(v["ok"] for v in hv),
                "%d io checks, %d failed, missing %s, host re-read %d/%d ok"
                % (len(io), sum(1 for c in io if c["status"] != "PASS"),
                   miss_io or "none", sum(1 for v in hv if v["ok"]), len(hv))))
    for kind, name in (("net", "harness-net"), ("rng", "harness-rng"),
                       ("rebind", "harness-nvme-rebind")):
        cs = [c for c in det if c["kind"] == kind]
        ok = bool(cs) and all(c["status"] == "PASS" for c in cs)
        if kind == "rebind" and not s.get("cycles"):
            ok = True
        out.append((name, ok, ", ".join("%s %s" % (c["subject"], c["status"])
                                         for c in cs) or "no check ran"))
    d = s.get("detector_dma_to_private")
    out.append(("harness-dma-to-private-zero", d == 0,
                "dma_to_private=%s" % d))
    conv = s.get("convstat") or {}
    if expect_misaligned:
        m = conv.get("misaligned")
        ok = isinstance(m, int) and m > 0
        out.append(("harness-baseline-misaligned", ok,
                    "misaligned=%s%s" % (m, "" if ok else
                                         ": the baseline must make misaligned "
                                         "conversions, the harness sees "
                                         "nothing: it is broken")))
    out.append(("harness-log-wellformed", conv.get("malformed") == 0,
                "malformed=%s" % conv.get("malformed")))
    xc = s.get("crosscheck") or {}
    bad = [f for f in xc.get("fields") or [] if not f["ok"]]
    out.append(("harness-crosscheck", xc.get("ok") is True,
                "analyzer == guest (%s)" % xc.get("source") if xc.get("ok")
                else "; ".join("%s analyzer=%s guest=%s" % (
                    f["name"], f["analyzer"], f["guest"]) for f in bad)
                or "not done"))
    return out


def main_assert(argv):
    expect = True
    dirs = []
    for a in argv:
        if a == "--no-misaligned-check":
            expect = False
        else:
            dirs.append(a)
    bad = 0
    for d in dirs:
        try:
            with open(os.path.join(d, "summary.json")) as fh:
                s = json.load(fh)
        except (OSError, ValueError) as e:
            print("FAIL harness-summary (%s: %s)" % (d, e))
            bad += 1
            continue
        for name, ok, detail in assertions(s, expect):
            print("%s %s (%s)" % ("PASS" if ok else "FAIL", name, detail))
            bad += 0 if ok else 1
    return 1 if bad else 0


def main(argv):
    if argv[:1] == ["--assert"]:
        return main_assert(argv[1:])
    rundir = None
    convstat = None
    meta = {}
    it = iter(argv)
    for a in it:
        if a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        if a == "--convstat":
            convstat = next(it)
        elif a == "--meta":
            k, _, v = next(it).partition("=")
            meta[k] = v
        elif rundir is None:
            rundir = a
        else:
            print("analyze.py: unexpected argument %r" % a, file=sys.stderr)
            return 2
    if rundir is None:
        print("usage: analyze.py RUNDIR [--convstat PATH] [--meta K=V]...",
              file=sys.stderr)
        return 2
    s = analyze(rundir, convstat, meta)
    c = s["convstat"]
    t = s["timing"]
    print("  checks: %s" % ", ".join("%s=%s" % kv for kv in s["checks"].items()))
    if c:
        print("  analyzer: calls=%s (S %s / P %s) pages=%s misaligned=%s "
              "refused=%s mixed_2m end/peak=%s/%s shared_bytes end/peak=%s/%s"
              % (c.get("calls"), c.get("to_shared"), c.get("to_private"),
                 c.get("pages"), c.get("misaligned"), c.get("refused"),
                 c.get("mixed_2m_end"), c.get("mixed_2m_peak"),
                 c.get("shared_bytes_end"), c.get("shared_bytes_peak")))
    if s["crosscheck"]["source"] is not None:
        print("  cross-check (%s): %s" % (s["crosscheck"]["source"],
              "agree" if s["crosscheck"]["ok"] else "MISMATCH"))
    elif s["crosscheck"]["ok"] is False:
        print("  cross-check: not possible (no guest counters)")
    print("  DMA-to-private detector: %s" % s["detector_dma_to_private"])
    n = lambda v: "-" if v is None else v
    print("  timing: boot %ss (guest uptime at HARNESS START), workload end "
          "%ss, wall %ss" % (n(t["boot_s"]), n(t["workload_end_uptime_s"]),
                             n(t["wall_s"])))
    for n in s["notes"]:
        print("  note: %s" % n)
    for f in s["failures"]:
        print("FAIL: %s" % f)
    return 0 if s["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
