#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Analyse one harness run directory (python3, standard library only).

usage: analyze.py RUNDIR [--convstat PATH] [--meta KEY=VALUE]...
       analyze.py --assert [--no-misaligned-check] [--baseline] RUNDIR...
                  [--patched RUNDIR]... [--nocvm RUNDIR]... [--stock RUNDIR]...

Reads RUNDIR/console.log (guest output) and RUNDIR/conv.log (conversion
records, Documentation/conversion-log.md), runs the analyzer
(convstat --json / --map), parses the guest's CHECK and GUEST lines,
cross-checks analyzer and guest counters, verifies the data patterns the
guest wrote against the disk image files, fails on any kernel splat in the
console (lockdep, KASAN, DMA-API debug, sleeping in atomic context, WARN,
BUG, Oops, panic; see find_splats(); --meta expect_splat=REGEX exempts the
reports it matches, e.g. the WARN of an injected conversion failure), and
writes

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
import shlex
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
                    "snp_exits", "malformed", "redundant_pages",
                    "split_2m_ever", "double_alloc_peak_bytes")

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
# The series' x86 policy, printed at boot by arch/x86/mm/cc_conversion.c
# on a CVM guest, and its report of a conversion it refused.
_re_x86_policy = re.compile(r"cc_conversion: conversion granule ([0-9]+) KiB, "
                            r"cc_conversion_align=([a-z]+)")
_re_x86_refused = re.compile(r"cc_conversion: .*refused "
                             r"\(cc_conversion_align=strict\)")


def parse_console(text):
    """Parse the guest console.  Returns a dict with the markers, the checks,
    the GUEST counters, the kernel release, the usable RAM ranges (e820),
    the x86 policy line and refusal reports, and the kernel timestamp just
    before the workload started."""
    res = {"started": False, "done": False, "start": {}, "result": {},
           "checks": [], "guest": {}, "kernel_release": None,
           "x86": {"policy": None, "granule_kib": None,
                   "refused_reports": 0},
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
        m = _re_x86_policy.search(line)
        if m:
            res["x86"]["granule_kib"] = int(m.group(1))
            res["x86"]["policy"] = m.group(2)
        if _re_x86_refused.search(line):
            res["x86"]["refused_reports"] += 1
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


# -- kernel splats --------------------------------------------------------------

# Lines that start a kernel report ("splat"): any of them fails a run.  Each
# is (kind, regex); the first that matches names the splat.  Benign lines
# (e.g. "loading out-of-tree module taints kernel.", "DMA-API: preallocated
# 65536 debug entries") match none of them.
SPLAT_PATTERNS = (
    ("kasan", re.compile(r"BUG: KASAN: ")),
    ("sleep-in-atomic", re.compile(
        r"BUG: sleeping function called from invalid context|"
        r"BUG: scheduling while atomic|BUG: Invalid wait context")),
    ("lockdep", re.compile(
        r"WARNING: (possible circular locking dependency|possible recursive "
        r"locking|inconsistent lock state|suspicious RCU usage|possible irq "
        r"lock inversion|bad unlock balance|held lock freed|lock held when "
        r"returning to user space|nested lock was not taken|"
        r"lockdep bug)|INFO: (possible irq lock inversion dependency|"
        r"possible recursive locking|inconsistent lock state|trying to "
        r"register non-static key)|BUG: (looking up invalid subclass|"
        r"MAX_LOCKDEP_|key .* has not been registered|held lock freed)|"
        r"DEBUG_LOCKS_WARN_ON")),
    ("dma-api", re.compile(r"DMA-API: (?!preallocated \d+ debug entries|"
                           r"debugging enabled by kernel config|"
                           r"Debugging is disabled|Mapped at:)")),
    ("warn", re.compile(r"WARNING: CPU: \d+ PID: \d+ at |"
                        r"WARNING: at |------------\[ cut here \]------------")),
    ("bug", re.compile(r"\bBUG: |kernel BUG at |Oops: |"
                       r"general protection fault|Unable to handle kernel")),
    ("panic", re.compile(r"Kernel panic - not syncing")),
    # the detectors of run.sh --detectors (soft lockups are "BUG: soft
    # lockup", above; hard lockups and blocked tasks are not BUG lines)
    ("hung-task", re.compile(r"INFO: task \S+ blocked for more than \d+ seconds")),
    ("lockup", re.compile(r"Watchdog detected hard LOCKUP on cpu")),
)

# The "[ cut here ]" line that precedes a WARNING/BUG is part of the same
# report: it is only counted when no WARNING/BUG line follows within this
# many lines.
_SPLAT_CONTEXT = 6


def find_splats(text, expected=None):
    """Kernel reports in a console log: a list of {"kind", "line", "text",
    "expected"}, one per report (the "[ cut here ]" line and the WARNING or
    BUG that follows it count once; a line that appears both on the console
    and in the KMSG dump of the workload counts once).  EXPECTED, a regex or
    None, marks reports whose line or the lines just before and after it
    match it (e.g. the WARN of an injected conversion failure): they are
    listed with "expected": True and do not count as failures."""
    exp = re.compile(expected) if expected else None
    lines = text.replace("\r", "").split("\n")
    body = [l[len("KMSG "):] if l.startswith("KMSG ") else l for l in lines]
    out = []
    seen = set()
    for i, line in enumerate(body):
        for kind, rx in SPLAT_PATTERNS:
            if not rx.search(line):
                continue
            if "cut here" in line:
                nxt = body[i + 1:i + 1 + _SPLAT_CONTEXT]
                if any(r.search(n) for n in nxt
                       for k, r in SPLAT_PATTERNS if k != "warn" or
                       "cut here" not in n):
                    break       # the WARNING/BUG line itself counts
            key = line.strip()
            if key in seen:
                break
            # the WARNING line of a report whose first line (after its
            # "[ cut here ]") was a splat already: the same report
            if kind == "warn" and out and i - out[-1]["_i"] <= _SPLAT_CONTEXT \
                    and "cut here" not in line and not any(
                        "end trace" in b for b in body[out[-1]["_i"]:i]):
                seen.add(key)
                break
            seen.add(key)
            # the report's own text: from its "[ cut here ]" line, if
            # there is one just before, to the line itself
            start = i
            for j in range(i - 1, max(-1, i - 1 - _SPLAT_CONTEXT), -1):
                if "cut here" in body[j]:
                    start = j
                    break
                if any(r.search(body[j]) for _, r in SPLAT_PATTERNS):
                    break
            ctx = "\n".join(body[start:i + 1])
            out.append({"kind": kind, "line": i + 1, "text": line.strip()[:200],
                        "expected": bool(exp and exp.search(ctx)), "_i": i})
            break
    for sp in out:
        del sp["_i"]
    return out


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
    """(kind, matcher, description) of the checks a full run must pass.
    Other workloads (mode-NAME.sh) define their own checks; they must
    report at least one (see analyze())."""
    if mode != "full":
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
    con_text = ""
    try:
        with open(con_path, errors="replace") as fh:
            con_text = fh.read()
        con = parse_console(con_text)
    except OSError as e:
        con = parse_console("")
        failures.append("no console log: %s" % e)

    # -- kernel splats: any lockdep/KASAN/DMA-API report, WARN, BUG, panic
    splats = find_splats(con_text, meta.get("expect_splat") or None)
    for sp in splats:
        if not sp["expected"]:
            failures.append("kernel splat (%s) at console line %d: %s" % (
                sp["kind"], sp["line"], sp["text"]))

    # -- the run itself
    if str(meta.get("timed_out", "0")) == "1":
        failures.append("timeout: QEMU killed after %ss (last console line: %s)"
                        % (meta.get("timeout"), (con["tail"] or ["-"])[-1][:120]))
    stalled = str(meta.get("stalled", "0")) == "1"
    if stalled:
        failures.append("stall: no progress line for the --stall time; guest "
                        "device of the last job: %s (state from QEMU in "
                        "stall.txt)" % (meta.get("stall_device") or "?"))
    qrc = _f(meta, "qemu_rc", 0)
    if qrc not in (0, None) and str(meta.get("timed_out", "0")) != "1" \
            and not stalled:
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
    if (con["started"] and con["done"] and mode not in ("full", "boot") and
            not con["checks"]):
        failures.append("workload '%s' reported no CHECK line" % mode)
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
        "stalled": stalled,
        "stall_device": meta.get("stall_device") or None,
        "checks": checks,
        "missing_checks": missing,
        "checks_detail": con["checks"],
        "io_ok": bool(io_checks) and all(c["status"] == "PASS"
                                         for c in io_checks),
        "host_verify": host_verify,
        "detector_dma_to_private": detector,
        "convstat": {k: conv.get(k) for k in CONVSTAT_FIGURES} if conv else {},
        "guest": guest,
        "x86": con["x86"],
        "crosscheck": xc,
        "map_regions": {s: sum(1 for r in map_rows if r[2] == s)
                        for s in ("private", "shared", "mixed")},
        "timing": timing,
        "splats": [sp for sp in splats if not sp["expected"]],
        "splats_expected": [sp for sp in splats if sp["expected"]],
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


# -- assertions of 'make check' ------------------------------------------------

GRANULE = 2 << 20       # the host's large page: conversions should be in these
REGION_PAGES = GRANULE // PAGE
# The legacy x86 ISA window ends at 1 MiB (ISA_END_ADDRESS): the VGA text
# buffer (0xb8000) and the BIOS area lie below it.  The only conversion of
# something that is not RAM on the harness VM is vgacon's of the VGA buffer.
ISA_END = 0x100000

# The record grammar of convstat_parse_line() (scripts/convstat/convstat.c,
# Documentation/conversion-log.md): <dir> 0x<gpa> <pages> <site>, the gpa
# 4 KiB aligned and below 2^52 (the x86-64 MAXPHYADDR limit), 0 < pages
# <= 2^40 with the range ending at or below 2^52, the site non-empty
# printable ASCII without a leading space; trailing white space is not part
# of the line.
ADDR_LIMIT = 1 << 52            # CONVSTAT_ADDR_LIMIT
MAX_PAGES = ADDR_LIMIT // PAGE  # CONVSTAT_MAX_PAGES
_SPACE = b" \t\r\n\v\f"         # convstat's is_space()
_re_rec = re.compile(rb"([SPsp]) 0x([0-9a-fA-F]+) ([0-9]+) ([\x21-\x7e][\x20-\x7e]*)\Z")


def parse_record(line):
    """One line of a conversion log (bytes or str, with or without its new
    line) -> a record dict (dir S|P|s|p, accepted = upper case, gpa, pages,
    site), "comment", "blank", or None for a line convstat counts as
    malformed.  The same rules as convstat_feed_line()."""
    if isinstance(line, str):
        line = line.encode("utf-8", "surrogateescape")
    if not line.strip(_SPACE):
        return "blank"
    if line[:1] == b"#":
        return "comment"
    m = _re_rec.match(line.rstrip(_SPACE))
    if not m:
        return None
    # no int() of an unbounded digit string: leading zeros aside, more
    # than 13 hex digits is >= 2^52 and more than 13 decimal ones > 2^40
    hx, dec = m.group(2).lstrip(b"0"), m.group(3).lstrip(b"0")
    if len(hx) > 13 or len(dec) > 13:
        return None
    gpa, pages = int(hx or b"0", 16), int(dec or b"0")
    if gpa >= ADDR_LIMIT or gpa % PAGE or pages == 0 or pages > MAX_PAGES \
            or pages > (ADDR_LIMIT - gpa) // PAGE:
        return None
    d = m.group(1).decode()
    return {"dir": d, "accepted": d.isupper(), "gpa": gpa, "pages": pages,
            "site": m.group(4).decode("ascii")}


def read_records(path):
    """The records of a conversion log: a list of dicts (see
    parse_record()).  Comment lines, blank lines and lines that convstat
    counts as malformed are skipped.  Lines end at "\\n" only, as in
    convstat."""
    out = []
    with open(path, "rb") as fh:
        for line in fh:
            r = parse_record(line)
            if isinstance(r, dict):
                out.append(r)
    return out


def record_text(r):
    """'S 0xb8000+2p vgacon_startup<con_init' (frames without offsets)."""
    site = "<".join(f.split("+", 1)[0] for f in r["site"].split("<")[:2])
    return "%s 0x%x+%dp %s" % (r["dir"], r["gpa"], r["pages"], site)


def is_misaligned(r):
    return r["gpa"] % GRANULE != 0 or (r["pages"] * PAGE) % GRANULE != 0


def overlaps_ram(r, ram_ranges):
    """Whether the record's range intersects usable e820 RAM."""
    a, b = r["gpa"], r["gpa"] + r["pages"] * PAGE
    return any(a < e and s < b for s, e in ram_ranges)


def regions_of(r):
    """The 2 MiB region bases a record's range touches."""
    a, b = r["gpa"], r["gpa"] + r["pages"] * PAGE
    return set(range(a - a % GRANULE, b, GRANULE))


def log_facts(records, ram_ranges):
    """What the assertions on a patched run need from its conversion log.

    A record is non-RAM when its range lies entirely outside usable e820
    RAM (the rule of the series: entirely outside System RAM, which the
    kernel takes from the e820 map); ram_ranges is the e820 map of the
    console.  The log is replayed as convstat does, to know which regions
    are mixed (shared and private 4 KiB pages) at the end and at any time;
    one 2 MiB region at a time (a bit mask of its shared pages), so that a
    record costs at most 2^19 steps (1 TiB), never one per page."""
    shared = {}             # region base -> bit mask of its shared pages
    mixed = set()
    f = {"misaligned": [], "nonram": [], "nonram_calls": 0,
         "ram_regions_shared": set(), "mixed_end": set(),
         "mixed_ever": set(), "mixed_peak": 0, "calls": 0}
    for r in records:
        nonram = not overlaps_ram(r, ram_ranges)
        if is_misaligned(r):
            f["misaligned"].append(r)
            if nonram:
                f["nonram"].append(r)
        if not r["accepted"]:
            continue        # refused: does not change the map
        f["calls"] += 1
        if nonram:
            f["nonram_calls"] += 1
        a, b = r["gpa"], r["gpa"] + r["pages"] * PAGE
        for base in range(a - a % GRANULE, b, GRANULE):
            lo, hi = max(a, base), min(b, base + GRANULE)
            m = ((1 << ((hi - lo) // PAGE)) - 1) << ((lo - base) // PAGE)
            bits = shared.get(base, 0)
            bits = bits | m if r["dir"] == "S" else bits & ~m
            shared[base] = bits
            if 0 < bin(bits).count("1") < REGION_PAGES:
                mixed.add(base)
                f["mixed_ever"].add(base)
            else:
                mixed.discard(base)
            if r["dir"] == "S" and not nonram:
                f["ram_regions_shared"].add(base)
        f["mixed_peak"] = max(f["mixed_peak"], len(mixed))
    f["mixed_end"] = set(mixed)
    return f


def _hexes(bases, limit=4):
    b = sorted(bases)
    return " ".join("0x%x" % x for x in b[:limit]) + (
        " (+%d)" % (len(b) - limit) if len(b) > limit else "")


def _recs(rs, limit=3):
    return "; ".join(record_text(r) for r in rs[:limit]) + (
        "; +%d more" % (len(rs) - limit) if len(rs) > limit else "")


def _run_assertions(s, prefix):
    """boot, io, net, rng and nvme-rebind of one run: every run has them."""
    out = []
    out.append((prefix + "-boot", bool(s.get("started") and s.get("done")
                                       and not s.get("timed_out")),
                "started=%s done=%s timeout=%s" % (
                    s.get("started"), s.get("done"), s.get("timed_out"))))
    det = s.get("checks_detail") or []
    io = [c for c in det if c["kind"] == "io"]
    hv = s.get("host_verify") or []
    miss_io = [m for m in s.get("missing_checks") or [] if m.startswith("io")]
    out.append((prefix + "-io", bool(io) and all(c["status"] == "PASS"
                                                 for c in io)
                and not miss_io and bool(hv) and all(v["ok"] for v in hv),
                "%d io checks, %d failed, missing %s, host re-read %d/%d ok"
                % (len(io), sum(1 for c in io if c["status"] != "PASS"),
                   miss_io or "none", sum(1 for v in hv if v["ok"]), len(hv))))
    for kind, name in (("net", "-net"), ("rng", "-rng"),
                       ("rebind", "-nvme-rebind")):
        cs = [c for c in det if c["kind"] == kind]
        ok = bool(cs) and all(c["status"] == "PASS" for c in cs)
        if kind == "rebind" and not s.get("cycles"):
            ok = True
        out.append((prefix + name, ok,
                    ", ".join("%s %s" % (c["subject"], c["status"])
                              for c in cs) or "no check ran"))
    return out


def _detector(s, prefix):
    d = s.get("detector_dma_to_private")
    return (prefix + "-dma-to-private-zero", d == 0, "dma_to_private=%s" % d)


def _wellformed(s, prefix):
    conv = s.get("convstat") or {}
    return (prefix + "-log-wellformed", conv.get("malformed") == 0,
            "malformed=%s" % conv.get("malformed"))


def _crosscheck(s, prefix):
    xc = s.get("crosscheck") or {}
    bad = [f for f in xc.get("fields") or [] if not f["ok"]]
    return (prefix + "-crosscheck", xc.get("ok") is True,
            "analyzer == guest (%s)" % xc.get("source") if xc.get("ok")
            else "; ".join("%s analyzer=%s guest=%s" % (
                f["name"], f["analyzer"], f["guest"]) for f in bad)
            or "not done")


def assertions(summary, expect_misaligned=True, prefix="harness"):
    """The harness assertions of 'make check' on one baseline run summary:
    a list of (name, ok, detail)."""
    s = summary
    out = _run_assertions(s, prefix)
    out.append(_detector(s, prefix))
    conv = s.get("convstat") or {}
    if expect_misaligned:
        m = conv.get("misaligned")
        ok = isinstance(m, int) and m > 0
        out.append((prefix + "-baseline-misaligned", ok,
                    "misaligned=%s%s" % (m, "" if ok else
                                         ": the baseline must make misaligned "
                                         "conversions, the harness sees "
                                         "nothing: it is broken")))
    out.append(_wellformed(s, prefix))
    out.append(_crosscheck(s, prefix))
    return out


def kernel_params(rundir):
    """The kernel command line of a run (-append of qemu-cmdline.txt), as a
    list of words; [] if it cannot be read."""
    try:
        with open(os.path.join(rundir, "qemu-cmdline.txt")) as fh:
            words = shlex.split(fh.read())
    except (OSError, ValueError):
        return []
    for i, w in enumerate(words[:-1]):
        if w == "-append":
            return words[i + 1].split()
    return []


def expected_policy(params):
    """The cc_conversion_align policy the series gives an emulated CVM guest
    (granule 2 MiB) booted with PARAMS: off with swiotlb_cc=off, else the
    last valid cc_conversion_align=, else the default, warn."""
    vals = [w.partition("=")[2] for w in params
            if w.startswith("swiotlb_cc=")]
    if vals and vals[-1] == "off":
        return "off"
    pol = "warn"
    for w in params:
        k, _, v = w.partition("=")
        if k == "cc_conversion_align" and v in ("strict", "warn", "off"):
            pol = v
    return pol


X86_HINT = ("no 'cc_conversion: conversion granule' line in the console "
            "(the series' x86 policy prints it at boot on a CVM guest)")


def _policy(s, rundir, prefix):
    pol = (s.get("x86") or {}).get("policy")
    want = expected_policy(kernel_params(rundir))
    return (prefix + "-policy", pol == want,
            X86_HINT if pol is None else "cc_conversion_align=%s at boot, "
            "expected %s from the command line" % (pol, want))


def _refused_zero(s, prefix):
    x86 = s.get("x86") or {}
    conv = s.get("convstat") or {}
    ref, cref = x86.get("refused_reports"), conv.get("refused")
    return (prefix + "-refused-zero",
            x86.get("policy") is not None and ref == 0 and cref == 0,
            X86_HINT if x86.get("policy") is None else
            "conversions reported refused by the x86 policy: %s, refused "
            "records in conv.log (platform): %s" % (ref, cref))


def stock_assertions(summary, rundir, prefix=None):
    """The assertions on a run of the patched kernel booted with
    swiotlb_cc=off under the emulated CVM: it behaves as the baseline (every
    device works, the per-allocation conversions are back, so misaligned
    ones are seen), and the x86 policy is off and refused nothing."""
    s = summary
    prefix = prefix or os.path.basename(s.get("label") or "stock").replace(
        "check-", "", 1)
    out = assertions(s, True, prefix)
    out.append(_policy(s, rundir, prefix))
    out.append(_refused_zero(s, prefix))
    return out


def patched_assertions(summary, rundir, prefix=None):
    """The assertions on a run of the patched kernel under the emulated CVM:
    those of every run, and that the x86 policy is the one its command line
    asks for (expected_policy()) and refused nothing, that no RAM conversion
    is misaligned, that only
    regions holding a non-RAM conversion are mixed, and that no 2 MiB region
    is converted more than once.  Needs RUNDIR/conv.log and the console's
    x86 policy line."""
    s = summary
    prefix = prefix or "patched-c%s" % s.get("cycles")
    out = _run_assertions(s, prefix)
    out.append(_detector(s, prefix))
    out.append(_wellformed(s, prefix))
    out.append(_crosscheck(s, prefix))
    conv = s.get("convstat") or {}
    out.append(_policy(s, rundir, prefix))
    out.append(_refused_zero(s, prefix))

    ram = s.get("ram_ranges") or []
    try:
        recs = read_records(os.path.join(rundir, "conv.log"))
        err = None
    except OSError as e:
        recs, err = [], "conv.log: %s" % e
    f = log_facts(recs, ram)

    # every misaligned record below 1 MiB and outside e820 RAM
    bad = [r for r in f["misaligned"] if overlaps_ram(r, ram) or
           r["gpa"] + r["pages"] * PAGE > ISA_END]
    if err:
        ok, d = False, err
    elif not ram and f["misaligned"]:
        ok, d = False, ("no e820 RAM map in the console: cannot tell RAM "
                        "from non-RAM")
    elif bad:
        ok, d = False, ("%d of %d misaligned records in RAM or above 1 MiB: %s"
                        % (len(bad), len(f["misaligned"]), _recs(bad)))
    else:
        ok, d = True, ("misaligned records: %d, all below 1 MiB outside "
                       "e820 RAM%s" % (len(f["misaligned"]), ": " + _recs(
                           f["misaligned"]) if f["misaligned"] else ""))
    out.append((prefix + "-misaligned-below-1m", ok, d))

    # mixed regions: only those of non-RAM misaligned records
    allowed = set()
    for r in f["nonram"]:
        allowed |= regions_of(r)
    cend, cpeak = conv.get("mixed_2m_end"), conv.get("mixed_2m_peak")
    bad_end = f["mixed_end"] - allowed
    bad_ever = f["mixed_ever"] - allowed
    if err:
        ok, d = False, err
    elif (len(f["mixed_end"]), f["mixed_peak"]) != (cend, cpeak):
        ok, d = False, ("replay of conv.log (mixed end %d, peak %d) disagrees "
                        "with the analyzer (mixed_2m_end %s, mixed_2m_peak %s)"
                        % (len(f["mixed_end"]), f["mixed_peak"], cend, cpeak))
    elif bad_end or bad_ever:
        ok, d = False, ("mixed regions without a non-RAM conversion: end %d "
                        "[%s], at any time %d [%s]; non-RAM regions [%s]" % (
                            len(bad_end), _hexes(bad_end), len(bad_ever),
                            _hexes(bad_ever), _hexes(allowed)))
    else:
        ok, d = True, ("mixed_2m end %s / peak %s, all in regions of non-RAM "
                       "records [%s]; others 0" % (cend, cpeak,
                                                   _hexes(allowed)))
    out.append((prefix + "-mixed-nonram-only", ok, d))

    # each 2 MiB region (and each non-RAM range) converted once
    calls = conv.get("calls")
    bound = len(f["ram_regions_shared"]) + f["nonram_calls"]
    ok = not err and isinstance(calls, int) and calls == f["calls"] and \
        calls <= bound
    if err:
        d = err
    elif calls != f["calls"]:
        d = "analyzer calls=%s, conv.log has %d accepted records" % (
            calls, f["calls"])
    else:
        d = ("calls=%d %s %d RAM 2 MiB regions ever shared + %d non-RAM calls"
             % (calls, "<=" if ok else ">", len(f["ram_regions_shared"]),
                f["nonram_calls"]))
    out.append((prefix + "-calls-bound", ok, d))
    return out


def nocvm_assertions(summary, rundir, prefix=None):
    """The assertions on a run without a CVM (--cvm off): those of every
    run, no conversion at all, and no shared-memory (swiotlb cc) chunk."""
    s = summary
    # make check's runs are named for their role (check-patched-nocvm),
    # whichever kernel pair booted; other runs for their variant
    label = os.path.basename(s.get("label") or "")
    if label.startswith("check-"):
        prefix = prefix or label[len("check-"):]
    prefix = prefix or "%s-nocvm" % (s.get("variant") or "run")
    out = _run_assertions(s, prefix)
    g = s.get("guest") or {}
    conv = s.get("convstat") or {}
    try:
        with open(os.path.join(rundir, "conv.log"), errors="replace") as fh:
            lines = [l for l in fh.read().splitlines()
                     if l.strip() and not l.startswith("#")]
        err = None
    except OSError as e:
        lines, err = [], "conv.log: %s" % e
    pol = (s.get("x86") or {}).get("policy")
    ok = (not err and s.get("cvm") == "off" and not lines and
          conv.get("calls", 0) == 0 and pol is None)
    out.append((prefix + "-no-conversions", ok, err or (
        "cvm=%s, conv.log: %d records, x86 policy line: %s"
        % (s.get("cvm"), len(lines), pol or "absent"))))
    keys = ("swiotlb.cc_bytes", "swiotlb.cc_chunks", "swiotlb.cc_used")
    used = ["%s=%s" % (k, g[k]) for k in keys if g.get(k) not in (None, 0)]
    have = ["%s=%s" % (k, g[k]) for k in keys if k in g]
    out.append((prefix + "-no-cc-swiotlb", not used,
                ", ".join(used) + ": shared memory in use without a CVM"
                if used else ", ".join(have) if have else
                "no swiotlb.cc_* counters (no cc debugfs)"))
    return out


def cross_assertions(baselines, patched):
    """Assertions across runs: the patched kernel's calls do not grow with
    the workload (runs with different cycles), and the baseline makes more
    calls than the patched kernel (same cycles if there is such a run).
    BASELINES, PATCHED: lists of run summaries."""
    out = []
    calls = lambda s: (s.get("convstat") or {}).get("calls")
    if len(patched) >= 2:
        cyc = [s.get("cycles") for s in patched]
        cs = [calls(s) for s in patched]
        d = ", ".join("%s calls at %s cycles" % (c, y) for c, y in zip(cs, cyc))
        ok = len(set(cyc)) >= 2 and all(isinstance(c, int) for c in cs) and \
            len(set(cs)) == 1
        if len(set(cyc)) < 2:
            d += ": all runs have the same cycles, nothing to compare"
        elif not ok:
            d += ": the calls grow with the workload"
        out.append(("patched-calls-flat", ok, d))
    if baselines and patched:
        b = baselines[0]
        p = next((x for x in patched if x.get("cycles") == b.get("cycles")),
                 patched[0])
        bc, pc = calls(b), calls(p)
        ok = isinstance(bc, int) and isinstance(pc, int) and bc > pc
        f = lambda s, k: (s.get("convstat") or {}).get(k)
        out.append(("compare-baseline-patched", ok,
                    "calls baseline %s %s patched %s (cycles %s / %s); "
                    "misaligned %s -> %s, mixed_2m end %s -> %s, peak %s -> %s"
                    % (bc, ">" if ok else "NOT >", pc, b.get("cycles"),
                       p.get("cycles"), f(b, "misaligned"), f(p, "misaligned"),
                       f(b, "mixed_2m_end"), f(p, "mixed_2m_end"),
                       f(b, "mixed_2m_peak"), f(p, "mixed_2m_peak"))))
    return out


def main_assert(argv):
    expect = True
    roles = []
    it = iter(argv)
    for a in it:
        if a == "--no-misaligned-check":
            expect = False
        elif a in ("--baseline", "--patched", "--nocvm", "--stock"):
            d = next(it, None)
            if d is None:
                print("analyze.py --assert: %s needs a run directory" % a,
                      file=sys.stderr)
                return 2
            roles.append((a[2:], d))
        elif a.startswith("-"):
            print("analyze.py --assert: unknown option %r" % a,
                  file=sys.stderr)
            return 2
        else:
            roles.append(("baseline", a))
    bad = 0
    runs = {"baseline": [], "patched": []}
    for role, d in roles:
        try:
            with open(os.path.join(d, "summary.json")) as fh:
                s = json.load(fh)
        except (OSError, ValueError) as e:
            print("FAIL %s-summary (%s: %s)" % (
                "harness" if role == "baseline" else role, d, e))
            bad += 1
            continue
        if role == "baseline":
            res = assertions(s, expect)
            runs["baseline"].append(s)
        elif role == "patched":
            res = patched_assertions(s, d)
            runs["patched"].append(s)
        elif role == "stock":
            res = stock_assertions(s, d)
        else:
            res = nocvm_assertions(s, d)
        for name, ok, detail in res:
            print("%s %s (%s)" % ("PASS" if ok else "FAIL", name, detail))
            bad += 0 if ok else 1
    for name, ok, detail in cross_assertions(runs["baseline"],
                                             runs["patched"]):
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
    print("  kernel splats: %d%s" % (len(s["splats"]), (
        " (+%d expected: %s)" % (len(s["splats_expected"]), "; ".join(
            x["text"][:80] for x in s["splats_expected"][:3])))
        if s["splats_expected"] else ""))
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
