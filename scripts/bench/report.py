#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Report of make bench: baseline vs patched, ratios from the same bench.

usage: report.py [--out DIR] [--base-version FILE] [--machine FILE] RUNDIR...

RUNDIRs are run.sh output directories named (last path element)
  boot-rN-VARIANT                 --mode boot
  micro-rN-VARIANT                --mode bench (BENCH lines in console.log)
  plain-rN-VARIANT                --mode bench on a plain VM (--cvm off)
  plainsw-rN-VARIANT              the same with swiotlb=force
  scale-default-VARIANT           default workload, 2 GiB, 2 vCPU, 10 cycles
  scale-AXIS-VALUE-VARIANT        AXIS mem|smp|cycles
with VARIANT baseline or patched.  Writes DIR/report.md, DIR/report.json
and DIR/bench-*.svg (default DIR: results/bench).  Every figure is a ratio
patched/baseline; with repetitions, the median per kernel is taken first.
Input that is missing or cut off (a truncated summary.json, an incomplete
BENCH line) is named under "Problems with the input" and left out; the rest
of the report is written.
"""
import argparse
import json
import math
import os
import re
import statistics
import sys

VARIANTS = ("baseline", "patched")
STEPS = ("io", "net", "rng", "rebind", "modload", "dma_alloc", "dma_map", "fio")
AXIS_DEFAULT = {"mem": "2G", "smp": "2", "cycles": "10"}
AXIS_TITLE = {"mem": "guest memory", "smp": "vCPUs", "cycles": "nvme unbind/bind cycles"}
TARGET = {"dma_alloc_4k": 10.0, "map": 0.97, "fio": 0.97, "boot": 1.02,
          "shared_mib": 4.0}

LABEL_RE = re.compile(r"^(boot|microcc|micro|plainsw|plain)-r(\d+)-(baseline|patched)$|"
                      r"^scale-(default|mem|smp|cycles)(?:-([0-9A-Za-z]+))?-(baseline|patched)$")


def kv(words):
    out = {}
    for w in words:
        if "=" in w:
            k, v = w.split("=", 1)
            try:
                out[k] = float(v) if "." in v else int(v)
            except ValueError:
                out[k] = v
    return out


# The fields each BENCH line must have (numbers) to be used; a line cut
# off by a lost console misses some and is reported instead.
BENCH_NEEDS = {
    "dma_alloc": ("size", "threads", "ops", "ops_per_s", "ns_per_op", "calls"),
    "dma_map": ("threads", "granule", "map_us", "unmap_us", "calls"),
    "fio": ("kind", "job", "bw_kib", "iops", "calls"),
}


def incomplete(kind, d):
    """The fields of BENCH_NEEDS[kind] that D lacks (or that are not numbers
    where numbers are needed)."""
    return [k for k in BENCH_NEEDS[kind] if k not in d or
            (k not in ("kind", "job") and not isinstance(d[k], (int, float)))]


def parse_bench(console):
    """BENCH lines of a micro run."""
    r = {"boot": None, "end": None, "steps": {}, "dma_alloc": {},
         "dma_map": {}, "fio": {}, "errors": []}
    with open(console, errors="replace") as f:
        for line in f:
            line = line.strip().replace("\r", "")
            if not line.startswith("BENCH "):
                continue
            w = line.split()
            kind = w[1] if len(w) > 1 else ""
            if kind in ("boot", "end"):
                r[kind] = kv(w[2:])
            elif kind == "step":
                if len(w) < 3:
                    r["errors"].append(line + " (incomplete: no step name)")
                    continue
                r["steps"][w[2]] = kv(w[3:])
            elif kind in BENCH_NEEDS:
                d = kv(w[2:])
                if "error" in d:
                    r["errors"].append(line)
                    continue
                miss = incomplete(kind, d)
                if miss:
                    r["errors"].append("%s (incomplete: no %s)" % (line, ", ".join(miss)))
                    continue
                if kind == "dma_alloc":
                    r["dma_alloc"][(d["size"], d["threads"])] = d
                elif kind == "fio":
                    r["fio"][(d["kind"], d["job"])] = d
                else:
                    lat = d["map_us"] + d["unmap_us"]
                    # the tool reports mean latencies only: map+unmap pairs
                    # per second of all threads = threads / (map + unmap)
                    d["pairs_per_s"] = d["threads"] * 1e6 / lat if lat > 0 else 0
                    r["dma_map"][(d["threads"], d["granule"])] = d
    return r


def load(rundir):
    name = os.path.basename(os.path.normpath(rundir))
    m = LABEL_RE.match(name)
    if not m:
        raise SystemExit("report: cannot tell what run %s is (see --help)" % rundir)
    run = {"dir": rundir, "name": name}
    if m.group(1):
        run.update(kind=m.group(1), rep=int(m.group(2)), variant=m.group(3))
    else:
        run.update(kind="scale", axis=m.group(4), value=m.group(5), variant=m.group(6))
    run["build"] = None
    cp = os.path.join(rundir, "console.log")
    if os.path.exists(cp):
        with open(cp, errors="replace") as f:
            for line in f:
                m2 = re.search(r"Linux version (\S+) .*?(#\d+ .*)$", line)
                if m2:
                    run["build"] = "%s %s" % (m2.group(1), m2.group(2).strip())
                    break
    # what is missing or cut off: named in the report, the run left out
    run["problems"] = []
    sp = os.path.join(rundir, "summary.json")
    run["summary"] = {}
    if not os.path.exists(sp):
        run["problems"].append("no summary.json")
    else:
        try:
            with open(sp) as f:
                run["summary"] = json.load(f)
            if not isinstance(run["summary"], dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as e:
            run["summary"] = {}
            run["problems"].append("summary.json truncated or unreadable (%s)" % e)
    run["ok"] = bool(run["summary"].get("ok"))
    if run["kind"] in ("micro", "microcc", "plain", "plainsw"):
        if os.path.exists(cp):
            run["bench"] = parse_bench(cp)
            run["problems"] += ["console.log: %s" % e for e in run["bench"]["errors"]
                                if "(incomplete" in e]
        else:
            run["problems"].append("no console.log (no BENCH lines)")
    return run


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ratio(p, b):
    if p is None or b is None or b == 0:
        return None
    return p / b


def fmt(x, nd=2):
    if x is None:
        return "-"
    if isinstance(x, int):
        return str(x)
    if abs(x) >= 1000:
        return "%.0f" % x
    if abs(x) >= 100:
        return "%.1f" % x
    return ("%%.%df" % nd) % x


def fmt_ratio(x):
    if x is None:
        return "-"
    if x >= 100:
        return "%.0fx" % x
    if x >= 10:
        return "%.1fx" % x
    if 0 < x < 0.01:
        return "%.2g" % x
    return "%.3f" % x


def mib(b):
    return None if b is None else b / 1048576.0


# ---- SVG: horizontal bar chart of ratios ----------------------------------
def svg_bars(path, title, rows, log=False, refs=(), note=""):
    """rows: [(label, value or None)]; refs: [(value, label, colour)]."""
    esc = lambda s: (str(s).replace("&", "&amp;").replace("<", "&lt;")
                     .replace(">", "&gt;"))
    W, left, right, bar, gap, top = 760, 230, 70, 16, 6, 46
    H = top + len(rows) * (bar + gap) + 50
    vals = [v for _, v in rows if v is not None and v > 0]
    vals += [r[0] for r in refs]
    if not vals:
        vals = [1.0]
    if log:
        lo = 10 ** math.floor(math.log10(min(vals + [1.0])))
        hi = 10 ** math.ceil(math.log10(max(vals + [1.0]) * 1.05))
        pos = lambda v: left + (W - left - right) * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
        ticks = [10 ** e for e in range(int(math.log10(lo)), int(math.log10(hi)) + 1)]
    else:
        lo = 0.0
        hi = max(vals) * 1.1
        pos = lambda v: left + (W - left - right) * (v - lo) / (hi - lo)
        step = 10 ** math.floor(math.log10(hi / 5 if hi > 0 else 1))
        for m_ in (1, 2, 5, 10):
            if hi / (step * m_) <= 6:
                step *= m_
                break
        ticks = [i * step for i in range(int(hi / step) + 1)]
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
         'font-family="sans-serif" font-size="12">' % (W, H),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="10" y="20" font-size="15" font-weight="bold">%s</text>' % esc(title)]
    if note:
        o.append('<text x="10" y="36" fill="#555">%s</text>' % esc(note))
    y0, y1 = top - 4, top + len(rows) * (bar + gap)
    for t in ticks:
        x = pos(t) if (not log or t > 0) else left
        o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (x, y0, x, y1))
        o.append('<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>'
                 % (x, y1 + 14, esc(("%g" % t))))
    for i, (lab, v) in enumerate(rows):
        y = top + i * (bar + gap)
        o.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (left - 6, y + bar - 4, esc(lab)))
        if v is None or (log and v <= 0):
            o.append('<text x="%d" y="%d" fill="#a00">no data</text>' % (left + 4, y + bar - 4))
            continue
        x0 = pos(lo) if not log else left
        x1 = max(pos(v), x0 + 1)
        o.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#3b7dd8">'
                 '<title>%s: %s</title></rect>' % (x0, y, x1 - x0, bar, esc(lab), fmt_ratio(v)))
        o.append('<text x="%.1f" y="%d">%s</text>' % (x1 + 4, y + bar - 4, esc(fmt_ratio(v))))
    for v, lab, col in refs:
        x = pos(v)
        o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="2" '
                 'stroke-dasharray="5,3"/>' % (x, y0, x, y1, col))
        o.append('<text x="%.1f" y="%d" fill="%s" text-anchor="middle">%s</text>'
                 % (x, y1 + 30, col, esc(lab)))
    o.append('<text x="%d" y="%d" fill="#555">patched / baseline%s</text>'
             % (left, H - 4, " (log scale)" if log else ""))
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


# ---- analysis --------------------------------------------------------------
def analyse(runs):
    A = {"boot": {}, "micro": {}, "scale": {}, "failed": [r["name"] for r in runs if not r["ok"]]}
    # boot axis
    for v in VARIANTS:
        A["boot"][v] = [r["summary"].get("timing", {}).get("boot_s")
                        for r in sorted(runs, key=lambda r: r.get("rep", 0))
                        if r["kind"] == "boot" and r["variant"] == v and r["ok"]]
    A["micro"] = analyse_micro(runs, "micro")
    A["plain"] = analyse_micro(runs, "plain")
    A["plainsw"] = analyse_micro(runs, "plainsw")
    # scale: axis -> value -> variant -> summary
    S = A["scale"]
    default = {r["variant"]: r for r in runs if r["kind"] == "scale" and r["axis"] == "default" and r["ok"]}
    for axis in ("mem", "smp", "cycles"):
        pts = {}
        for r in runs:
            if r["kind"] == "scale" and r["axis"] == axis and r["ok"]:
                pts.setdefault(r["value"], {})[r["variant"]] = r
        if not pts:
            continue
        if default:
            pts.setdefault(AXIS_DEFAULT[axis], {}).update(default)

        def key(val):
            n = re.match(r"(\d+)", val)
            return int(n.group(1)) if n else 0
        S[axis] = [(val, pts[val]) for val in sorted(pts, key=key)]
    S["default"] = default
    return A


def analyse_micro(runs, kind):
    """the --mode bench runs of one kind (micro, plain, plainsw)"""
    mic = {v: [r for r in sorted(runs, key=lambda r: r.get("rep", 0))
               if r["kind"] == kind and r["variant"] == v and r["ok"] and r.get("bench")]
           for v in VARIANTS}
    M = {}
    M["reps"] = {v: len(mic[v]) for v in VARIANTS}

    def collect(section, field):
        keys = sorted({k for v in VARIANTS for r in mic[v] for k in r["bench"][section]})
        out = {}
        for k in keys:
            out[k] = {v: [r["bench"][section][k].get(field) for r in mic[v]
                          if k in r["bench"][section]] for v in VARIANTS}
        return out

    def pairs(section, field):
        """per-repetition ratios: patched rN / baseline rN (adjacent runs)"""
        out = {}
        byrep = {v: {r["rep"]: r for r in mic[v]} for v in VARIANTS}
        for k in {k for v in VARIANTS for r in mic[v] for k in r["bench"][section]}:
            rs = []
            for rep in sorted(set(byrep["baseline"]) & set(byrep["patched"])):
                b = byrep["baseline"][rep]["bench"][section].get(k, {}).get(field)
                p_ = byrep["patched"][rep]["bench"][section].get(k, {}).get(field)
                if b and p_ is not None:
                    rs.append(p_ / b)
            out[k] = rs
        return out

    M["map_pairs"] = pairs("dma_map", "pairs_per_s")
    M["fio_pairs"] = pairs("fio", "bw_kib")
    M["dma_alloc_ops"] = collect("dma_alloc", "ops_per_s")
    M["dma_alloc_ns"] = collect("dma_alloc", "ns_per_op")
    cpo = {}
    for k in M["dma_alloc_ops"]:
        cpo[k] = {v: [r["bench"]["dma_alloc"][k]["calls"] / r["bench"]["dma_alloc"][k]["ops"]
                      for r in mic[v] if k in r["bench"]["dma_alloc"] and r["bench"]["dma_alloc"][k]["ops"]]
                  for v in VARIANTS}
    M["dma_alloc_cpo"] = cpo
    M["dma_map_pairs"] = collect("dma_map", "pairs_per_s")
    M["dma_map_map_us"] = collect("dma_map", "map_us")
    M["dma_map_unmap_us"] = collect("dma_map", "unmap_us")
    M["dma_map_calls"] = collect("dma_map", "calls")
    M["fio_bw"] = collect("fio", "bw_kib")
    M["fio_iops"] = collect("fio", "iops")
    M["fio_calls"] = collect("fio", "calls")
    M["steps"] = {s: {v: [r["bench"]["steps"].get(s, {}).get("calls") for r in mic[v]]
                      for v in VARIANTS} for s in STEPS}
    M["step_s"] = {s: {v: [r["bench"]["steps"].get(s, {}).get("seconds") for r in mic[v]]
                       for v in VARIANTS} for s in STEPS}
    M["boot_calls"] = {v: [(r["bench"]["boot"] or {}).get("calls") for r in mic[v]] for v in VARIANTS}
    M["after_boot"] = {v: [(r["bench"]["end"] or {}).get("after_boot") for r in mic[v]] for v in VARIANTS}
    M["total_calls"] = {v: [(r["summary"].get("convstat") or {}).get("calls") for r in mic[v]] for v in VARIANTS}
    M["shared_peak"] = {v: [(r["summary"].get("convstat") or {}).get("shared_bytes_peak") for r in mic[v]] for v in VARIANTS}
    M["pool"] = {v: [(r["summary"].get("guest") or {}).get("swiotlb.io_tlb_nslabs", 0) * 2048 for r in mic[v]] for v in VARIANTS}
    M["cc_peak"] = {v: [(r["summary"].get("guest") or {}).get("swiotlb.cc_peak") for r in mic[v]] for v in VARIANTS}
    M["errors"] = {r["name"]: r["bench"]["errors"] for v in VARIANTS for r in mic[v] if r["bench"]["errors"]}
    return M


def scale_fig(r):
    s = r["summary"]
    c = s.get("convstat", {})
    g = s.get("guest", {})
    pool = g.get("swiotlb.io_tlb_nslabs", 0) * 2048
    return {"calls": c.get("calls"), "misaligned": c.get("misaligned"),
            "mixed_end": c.get("mixed_2m_end"), "mixed_peak": c.get("mixed_2m_peak"),
            "shared_end_mib": mib(c.get("shared_bytes_end")),
            "shared_peak_mib": mib(c.get("shared_bytes_peak")),
            "beyond_pool_mib": mib(c.get("shared_bytes_peak", 0) - pool) if c.get("shared_bytes_peak") is not None else None,
            "boot_s": s.get("timing", {}).get("boot_s"),
            "wall_s": s.get("timing", {}).get("wall_s"),
            "rebind_s": rebind_per_cycle(s)}


def rebind_per_cycle(s):
    """guest seconds per nvme unbind/bind cycle (CHECK rebind t0/t1)"""
    for c in s.get("checks_detail", []):
        f = c.get("fields", {})
        if c.get("kind") == "rebind" and c.get("status") == "PASS" and "t0" in f:
            try:
                n = int(f["cycles"])
                return (float(f["t1"]) - float(f["t0"])) / n if n else None
            except (KeyError, ValueError):
                return None
    return None


def write(A, runs, out, base, machine):
    M, S = A["micro"], A["scale"]
    L = []
    P = L.append
    P("# make bench: guest and host cost of the series, baseline vs patched\n")
    P("Base: `%s`.  Machine: %s." % (base or "unknown", machine.get("cpu", "?")))
    P("Host: %s, %s CPUs, %s MiB RAM, load average at the start %s; %s.  Bench started %s; axes `%s`.\n"
      % (machine.get("host", "?"), machine.get("cpus", "?"),
         int(machine.get("mem_kib", "0")) // 1024 if machine.get("mem_kib", "").isdigit() else "?",
         machine.get("load", "?"), machine.get("qemu", "?"), machine.get("date", "?"),
         machine.get("axes", "?")))
    P("**Absolute times are not meaningful.**  Every guest runs under QEMU TCG "
      "(binary translation, no KVM), with an *emulated* CVM (the test-only "
      "`cvm_emulate=on`: conversions cost a page-table change, TLB and cache "
      "flushes and a log record, not a TDX/SNP exit), on a 2-CPU host shared "
      "with other builds and boots: an operation costs tens of times what it "
      "costs on hardware, and the noise between runs is large.  Only the "
      "ratio patched/baseline from the same bench means something: baseline "
      "and patched runs alternate (b, p, b, p, ...), so machine load hits "
      "both alike, and with repetitions the median of each kernel is taken "
      "before the ratio.  Conversion counts are exact (from the guest's "
      "counters and the host-side log) and do not depend on timing.\n")
    for v in VARIANTS:
        builds = sorted({r["build"] for r in runs if r["variant"] == v and r["build"]})
        if builds:
            P("%s kernel: %s%s  " % (v.capitalize(), "; ".join("`%s`" % b for b in builds),
                                   "  **(more than one build: the runs mix kernels)**" if len(builds) > 1 else ""))
    if machine.get("kernels"):
        P("Trees: %s.\n" % machine["kernels"])
    else:
        P("")
    if A["failed"]:
        P("Runs that failed (left out of every figure): %s\n" % ", ".join("`%s`" % n for n in A["failed"]))
    # ---- targets ---------------------------------------------------------
    T = []

    def tgt(name, target, measured, r, met, how):
        T.append((name, target, measured, r, met, how))

    # 1 calls after boot per step
    if M["reps"]["patched"]:
        worst = {s: max([x for x in M["steps"][s]["patched"] if x is not None], default=None) for s in STEPS}
        nonzero = {s: v for s, v in worst.items() if v}
        b_after = med(M["after_boot"]["baseline"])
        p_after = max([x for x in M["after_boot"]["patched"] if x is not None], default=None)
        tgt("conversion calls after boot, every workload step", "0",
            "patched: %s after boot (%s); baseline: %s" % (
                fmt(p_after), ", ".join("%s %s" % (s, fmt(v)) for s, v in worst.items() if v is not None),
                fmt(b_after)),
            "-", "yes" if not nonzero and p_after == 0 else "no",
            "micro runs, worst of %d reps" % M["reps"]["patched"])
    # 2 calls independent of cycles and I/O
    pts = []
    for val, d in S.get("cycles", []):
        if "patched" in d:
            pts.append(("%s cycles" % val, scale_fig(d["patched"])["calls"], scale_fig(d["baseline"])["calls"] if "baseline" in d else None))
    if M["reps"]["patched"]:
        # the workload steps of the micro runs without the synthetic
        # allocation benchmark: boot + I/O + fio + rebinds
        io_only = []
        for r in runs:
            if r["kind"] == "micro" and r["variant"] == "patched" and r["ok"] and r.get("bench"):
                b = r["bench"]
                io_only.append((b["boot"] or {}).get("calls", 0) + sum(
                    b["steps"].get(s, {}).get("calls", 0) for s in STEPS if s != "dma_alloc"))
        if io_only:
            pts.append(("micro (+fio, -dma_alloc bench)", max(io_only), None))
    if pts:
        vals = [p[1] for p in pts if p[1] is not None]
        tgt("total calls independent of cycles and I/O volume", "flat",
            "patched: " + ", ".join("%s %s" % (p[0], fmt(p[1])) for p in pts) +
            "; baseline: " + ", ".join("%s %s" % (p[0], fmt(p[2])) for p in pts if p[2] is not None),
            fmt_ratio(max(vals) / min(vals)) + " max/min" if vals and min(vals) else "-",
            "yes" if vals and max(vals) == min(vals) else "no", "scale-cycles runs + micro runs")
    # 3 dma_alloc 4 KiB
    for k in sorted(M["dma_alloc_ops"]):
        if k[0] != 4096:
            continue
        d = M["dma_alloc_ops"][k]
        r_ = ratio(med(d["patched"]), med(d["baseline"]))
        tgt("dma_alloc_coherent+free 4 KiB, %d thread%s" % (k[1], "s" if k[1] > 1 else ""),
            ">= 10x", "%s vs %s ops/s" % (fmt(med(d["patched"])), fmt(med(d["baseline"]))),
            fmt_ratio(r_), "yes" if r_ is not None and r_ >= TARGET["dma_alloc_4k"] else "no",
            "median of %d/%d reps" % (len(d["patched"]), len(d["baseline"])))
    # 4 streaming
    if M["dma_map_pairs"]:
        rs = {k: ratio(med(d["patched"]), med(d["baseline"])) for k, d in M["dma_map_pairs"].items()}
        worst = min((v for v in rs.values() if v is not None), default=None)
        allp = [x for v in M["map_pairs"].values() for x in v]
        if allp:
            gm = math.exp(sum(math.log(x) for x in allp) / len(allp))
            tgt("streaming map+unmap, all configurations and reps (geometric mean of per-rep ratios)", ">= 0.97",
                "%d pairs, median %s, range %s-%s%s" % (len(allp), fmt_ratio(med(allp)),
                                                    fmt_ratio(min(allp)), fmt_ratio(max(allp)), ci_h(M["map_pairs"])),
                fmt_ratio(gm), met_ci(gm, TARGET["map"], M["map_pairs"]), "micro runs")
        tgt("streaming map+unmap throughput (dma_map_benchmark)", ">= 0.97",
            ", ".join("t%d g%d %s (per rep %s)" % (k[0], k[1], fmt_ratio(v), spread(M["map_pairs"].get(k))) for k, v in sorted(rs.items())),
            fmt_ratio(worst) + " (worst)", "yes" if worst is not None and worst >= TARGET["map"] else "no",
            "median of reps per kernel")
    # 5 fio
    if M["fio_bw"]:
        rs = {k: ratio(med(d["patched"]), med(d["baseline"])) for k, d in M["fio_bw"].items()}
        worst = min((v for v in rs.values() if v is not None), default=None)
        allp = [x for v in M["fio_pairs"].values() for x in v]
        if allp:
            gm = math.exp(sum(math.log(x) for x in allp) / len(allp))
            tgt("fio throughput, all jobs and reps (geometric mean of per-rep ratios)", ">= 0.97",
                "%d job x rep pairs, median %s, range %s-%s%s" % (len(allp), fmt_ratio(med(allp)),
                                                               fmt_ratio(min(allp)), fmt_ratio(max(allp)), ci_h(M["fio_pairs"])),
                fmt_ratio(gm), met_ci(gm, TARGET["fio"], M["fio_pairs"]), "micro runs")
        tgt("fio throughput (virtio-blk, nvme; direct)", ">= 0.97",
            ", ".join("%s %s %s (per rep %s)" % (k[0], k[1], fmt_ratio(v), spread(M["fio_pairs"].get(k))) for k, v in sorted(rs.items())),
            fmt_ratio(worst) + " (worst)", "yes" if worst is not None and worst >= TARGET["fio"] else "no",
            "median of reps per kernel")
    # 6 shared memory overhead: the default workload at 2 GiB
    sh = []
    for v in VARIANTS:
        if v in S.get("default", {}):
            sh.append((v, scale_fig(S["default"][v])["beyond_pool_mib"]))
    if sh:
        pw = [x for v, x in sh if v == "patched" and x is not None]
        extra = ""
        for v in VARIANTS:
            xs = [p - q for p, q in zip(M["shared_peak"][v], M["pool"][v]) if p is not None]
            if xs:
                extra += "; micro runs (8 MiB of concurrent allocations) %s %s MiB" % (v, fmt(mib(max(xs)), 3))
        tgt("shared memory beyond the boot SWIOTLB pool, peak, 2 GiB, default workload", "< 4 MiB",
            ", ".join("%s %s MiB" % (v, fmt(x, 3)) for v, x in sh) + extra,
            "-", ("yes (%s MiB)" % fmt(max(pw), 3) if max(pw) < TARGET["shared_mib"] else "no (%s MiB)" % fmt(max(pw), 3)) if pw else "-",
            "convstat shared_bytes_peak - io_tlb_nslabs*2 KiB")
    # 7 boot time
    if A["boot"]["patched"] and A["boot"]["baseline"]:
        b, p = med(A["boot"]["baseline"]), med(A["boot"]["patched"])
        r_ = ratio(p, b)
        tgt("boot time (uptime at HARNESS START)", "<= 1.02",
            "%s s vs %s s (medians of %d/%d boot-only runs)" % (fmt(p), fmt(b), len(A["boot"]["patched"]), len(A["boot"]["baseline"])),
            fmt_ratio(r_), "yes" if r_ is not None and r_ <= TARGET["boot"] else "no", "boot axis")
    br = []
    for axis in ("mem", "smp", "cycles"):
        for val, d in S.get(axis, []):
            if "patched" in d and "baseline" in d:
                br.append(ratio(scale_fig(d["patched"])["boot_s"], scale_fig(d["baseline"])["boot_s"]))
    br = [x for x in br if x is not None]
    if br:
        tgt("boot time over the scale runs", "<= 1.02",
            "per-point ratios %s" % ", ".join(fmt_ratio(x) for x in br),
            fmt_ratio(med(br)) + " (median)", "yes" if med(br) <= TARGET["boot"] else "no",
            "one run per kernel and point")
    P("## Targets\n")
    P("| target | wanted | measured | ratio p/b | met | from |")
    P("|---|---|---|---:|---|---|")
    for t in T:
        P("| %s | %s | %s | %s | %s | %s |" % t)
    P("")
    # ---- micro -------------------------------------------------------------
    if M["reps"]["baseline"] or M["reps"]["patched"]:
        P("## Micro benchmarks (2 GiB, 2 vCPU, the device matrix)\n")
        P("%d baseline and %d patched runs of `--mode bench`, alternating; the "
          "median per kernel, then the ratio.  Conversions are counted by the "
          "guest around each step (`/sys/kernel/debug/cvm_emulate/calls`).\n"
          % (M["reps"]["baseline"], M["reps"]["patched"]))
        P("![dma_alloc ratio](bench-dma-alloc.svg)\n")
        P("### dma_alloc_coherent + dma_free_coherent pairs (`kernel/modules/cvm_dma_bench`)\n")
        P("| size | threads | baseline ops/s | patched ops/s | ratio | baseline conv/op | patched conv/op |")
        P("|---:|---:|---:|---:|---:|---:|---:|")
        for k in sorted(M["dma_alloc_ops"]):
            d, c = M["dma_alloc_ops"][k], M["dma_alloc_cpo"][k]
            P("| %s | %d | %s | %s | %s | %s | %s |" % (
                size_h(k[0]), k[1], fmt(med(d["baseline"])), fmt(med(d["patched"])),
                fmt_ratio(ratio(med(d["patched"]), med(d["baseline"]))),
                fmt(med(c["baseline"]), 3), fmt(med(c["patched"]), 4)))
        P("")
        P("### Streaming DMA: `dma_map_benchmark` on the virtio-rng PCI device\n")
        P("The in-tree `CONFIG_DMA_MAP_BENCHMARK` driver bound through "
          "`driver_override`; the static `tools/testing/selftests/dma/dma_map_benchmark` "
          "(`-b 64`, bidirectional) reports mean map and unmap latencies; "
          "throughput = threads / (map + unmap).  Every mapping bounces through "
          "SWIOTLB (CVM).  The kernel truncates each sample to 100 ns.\n")
        P("| threads | granule (pages) | baseline map/unmap us | patched map/unmap us | baseline pairs/s | patched pairs/s | ratio | per-rep ratios median [min-max] | conversions b/p |")
        P("|---:|---:|---|---|---:|---:|---:|---|---|")
        for k in sorted(M["dma_map_pairs"]):
            d = M["dma_map_pairs"][k]
            mu, uu, cc = M["dma_map_map_us"][k], M["dma_map_unmap_us"][k], M["dma_map_calls"][k]
            P("| %d | %d | %s / %s | %s / %s | %s | %s | %s | %s | %s / %s |" % (
                k[0], k[1], fmt(med(mu["baseline"])), fmt(med(uu["baseline"])),
                fmt(med(mu["patched"])), fmt(med(uu["patched"])),
                fmt(med(d["baseline"])), fmt(med(d["patched"])),
                fmt_ratio(ratio(med(d["patched"]), med(d["baseline"]))), spread(M["map_pairs"].get(k)),
                fmt(med(cc["baseline"])), fmt(med(cc["patched"]))))
        P("")
        P("### fio, direct I/O, psync, last 16 MiB of each disk\n")
        P("| device | job | baseline KiB/s | patched KiB/s | ratio | per-rep ratios median [min-max] | baseline IOPS | patched IOPS | conversions b/p |")
        P("|---|---|---:|---:|---:|---|---:|---:|---|")
        for k in sorted(M["fio_bw"]):
            d, io, cc = M["fio_bw"][k], M["fio_iops"][k], M["fio_calls"][k]
            P("| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |" % (
                k[0], k[1], fmt(med(d["baseline"])), fmt(med(d["patched"])),
                fmt_ratio(ratio(med(d["patched"]), med(d["baseline"]))), spread(M["fio_pairs"].get(k)),
                fmt(med(io["baseline"])), fmt(med(io["patched"])),
                fmt(med(cc["baseline"])), fmt(med(cc["patched"]))))
        P("")
        P("![throughput ratios](bench-throughput.svg)\n")
        P("### Conversion calls per workload step (all reps)\n")
        P("| step | baseline | patched |")
        P("|---|---|---|")
        P("| boot | %s | %s |" % (reps_h(M["boot_calls"]["baseline"]), reps_h(M["boot_calls"]["patched"])))
        for s in STEPS:
            P("| %s | %s | %s |" % (s, reps_h(M["steps"][s]["baseline"]), reps_h(M["steps"][s]["patched"])))
        P("| all after boot | %s | %s |" % (reps_h(M["after_boot"]["baseline"]), reps_h(M["after_boot"]["patched"])))
        P("| total (host log) | %s | %s |" % (reps_h(M["total_calls"]["baseline"]), reps_h(M["total_calls"]["patched"])))
        P("| peak shared MiB | %s | %s |" % (
            reps_h([mib(x) for x in M["shared_peak"]["baseline"]], 3), reps_h([mib(x) for x in M["shared_peak"]["patched"]], 3)))
        P("| boot SWIOTLB pool MiB | %s | %s |" % (
            reps_h([mib(x) for x in M["pool"]["baseline"]], 1), reps_h([mib(x) for x in M["pool"]["patched"]], 1)))
        P("| peak shared-chunk use (cc_peak) KiB | - | %s |" % reps_h([x / 1024 if x else x for x in M["cc_peak"]["patched"]], 0))
        P("\nGuest time per step (median seconds; the dma_alloc, dma_map and fio "
          "steps run for fixed times):\n")
        P("| step | baseline s | patched s | ratio |")
        P("|---|---:|---:|---:|")
        for s_ in STEPS:
            b_, p_ = med(M["step_s"][s_]["baseline"]), med(M["step_s"][s_]["patched"])
            P("| %s | %s | %s | %s |" % (s_, fmt(b_), fmt(p_), fmt_ratio(ratio(p_, b_))))
        P("\nSteps: io = the harness I/O checks (3 disks, then in parallel), "
          "net = two NICs over the QEMU hub, rng, rebind = nvme unbind/bind cycles "
          "and an I/O check, modload = insmod cvm_dma_bench, dma_alloc = the "
          "allocation benchmark (plus 3 s for idle chunks to be given back), "
          "dma_map = virtio-rng unbound and dma_map_benchmark, fio.\n")
        if M["errors"]:
            P("Errors in BENCH lines: %s\n" % "; ".join("%s: %s" % (n, " | ".join(e)) for n, e in M["errors"].items()))
    # ---- plain VMs -----------------------------------------------------------
    for kind, title, what in (
            ("plain", "a plain VM (`--cvm off`)",
             "no CVM: dma-direct maps without bouncing and allocates pages as stock"),
            ("plainsw", "a plain VM with `swiotlb=force`",
             "no CVM, every mapping bounces through SWIOTLB: the paths the "
             "series changes, with its CVM-only parts inactive")):
        Q = A.get(kind)
        if not Q or not (Q["reps"]["baseline"] and Q["reps"]["patched"]):
            continue
        P("## Non-CVM guest: %s\n" % title)
        P("%d baseline and %d patched runs of `--mode bench` on %s, "
          "alternating; what the series costs a kernel that is not a "
          "confidential guest (it should cost nothing).\n"
          % (Q["reps"]["baseline"], Q["reps"]["patched"], what))
        P("| step | configuration | baseline | patched | ratio | per-rep ratios median [min-max] |")
        P("|---|---|---:|---:|---:|---|")
        for k in sorted(Q["dma_map_pairs"]):
            d = Q["dma_map_pairs"][k]
            P("| dma_map pairs/s | %d thread%s, granule %d | %s | %s | %s | %s |" % (
                k[0], "s" if k[0] > 1 else "", k[1], fmt(med(d["baseline"])), fmt(med(d["patched"])),
                fmt_ratio(ratio(med(d["patched"]), med(d["baseline"]))), spread(Q["map_pairs"].get(k))))
        for k in sorted(Q["dma_alloc_ops"]):
            d = Q["dma_alloc_ops"][k]
            P("| dma_alloc ops/s | %s, %d thread%s | %s | %s | %s | - |" % (
                size_h(k[0]), k[1], "s" if k[1] > 1 else "", fmt(med(d["baseline"])), fmt(med(d["patched"])),
                fmt_ratio(ratio(med(d["patched"]), med(d["baseline"])))))
        allp = [x for v in Q["map_pairs"].values() for x in v]
        if allp:
            gm = math.exp(sum(math.log(x) for x in allp) / len(allp))
            P("\nStreaming map+unmap, geometric mean of %d per-rep ratios: %s%s.\n"
              % (len(allp), fmt_ratio(gm), ci_h(Q["map_pairs"])))
        else:
            P("")
    # ---- scale ---------------------------------------------------------------
    axes = [a for a in ("mem", "smp", "cycles") if S.get(a)]
    if axes:
        P("## Scale (default workload: data-checked I/O on 3 disks, 2 NICs, rng, nvme rebinds)\n")
        P("One run per kernel and point, baseline then patched; the other two "
          "axes at their defaults (2 GiB, 2 vCPU, 10 cycles).  calls, mixed "
          "2 MiB regions and shared bytes come from the host-side conversion "
          "log (`convstat`); \"beyond pool\" is the peak shared memory minus "
          "the boot SWIOTLB pool; boot is the guest uptime at `HARNESS START`.\n")
        P("![scale ratios](bench-scale.svg)\n")
        P("![scale memory ratios](bench-scale-memory.svg)\n")
        for axis in axes:
            P("### %s\n" % AXIS_TITLE[axis])
            P("| %s | kernel | calls | misaligned | mixed 2M end/peak | shared MiB end / peak | beyond pool MiB | boot s | rebind s/cycle | wall s |" % axis)
            P("|---|---|---:|---:|---|---|---:|---:|---:|---:|")
            for val, d in S[axis]:
                for v in VARIANTS:
                    if v not in d:
                        P("| %s | %s | (no run) | | | | | | | |" % (val, v))
                        continue
                    f = scale_fig(d[v])
                    P("| %s | %s | %s | %s | %s / %s | %s / %s | %s | %s | %s | %s |" % (
                        val, v, fmt(f["calls"]), fmt(f["misaligned"]), fmt(f["mixed_end"]),
                        fmt(f["mixed_peak"]), fmt(f["shared_end_mib"], 3), fmt(f["shared_peak_mib"], 3),
                        fmt(f["beyond_pool_mib"], 3), fmt(f["boot_s"]), fmt(f["rebind_s"], 3), fmt(f["wall_s"], 1)))
                if "baseline" in d and "patched" in d:
                    fb, fp = scale_fig(d["baseline"]), scale_fig(d["patched"])
                    P("| %s | **ratio p/b** | %s | %s | %s / %s | %s / %s | | %s | %s | |" % (
                        val, fmt_ratio(ratio(fp["calls"], fb["calls"])),
                        fmt_ratio(ratio(fp["misaligned"], fb["misaligned"])),
                        fmt_ratio(ratio(fp["mixed_end"], fb["mixed_end"])),
                        fmt_ratio(ratio(fp["mixed_peak"], fb["mixed_peak"])),
                        fmt_ratio(ratio(fp["shared_end_mib"], fb["shared_end_mib"])),
                        fmt_ratio(ratio(fp["shared_peak_mib"], fb["shared_peak_mib"])),
                        fmt_ratio(ratio(fp["boot_s"], fb["boot_s"])),
                        fmt_ratio(ratio(fp["rebind_s"], fb["rebind_s"]))))
            P("")
    if A["boot"]["baseline"] or A["boot"]["patched"]:
        P("## Boot time (`--mode boot`, alternating)\n")
        P("| kernel | boot s per run | median |")
        P("|---|---|---:|")
        for v in VARIANTS:
            P("| %s | %s | %s |" % (v, ", ".join(fmt(x) for x in A["boot"][v]), fmt(med(A["boot"][v]))))
        P("")
    P("## Runs\n")
    P("| run | ok | wall s | harness id |")
    P("|---|---|---:|---|")
    for r in runs:
        s = r["summary"]
        P("| `%s` | %s | %s | %s |" % (r["name"], "yes" if r["ok"] else "**no**",
                                       fmt(s.get("timing", {}).get("wall_s"), 1), s.get("harness_id", "-")))
    P("")
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    return T


T975 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31,
        9: 2.26, 10: 2.23, 11: 2.20, 12: 2.18, 13: 2.16, 14: 2.14, 15: 2.13,
        16: 2.12, 17: 2.11, 18: 2.10, 19: 2.09, 20: 2.09}


def rep_geomean_ci(pairs_by_key):
    """geometric mean over keys per repetition, then a 95 % t interval of
    the mean over repetitions (keys of one repetition share the machine
    load, so the repetition is the independent unit)"""
    reps = {}
    for v in pairs_by_key.values():
        for i, x in enumerate(v):
            reps.setdefault(i, []).append(math.log(x))
    g = [statistics.mean(v) for v in reps.values() if v]
    if len(g) < 2:
        return None
    m, sd, n = statistics.mean(g), statistics.stdev(g), len(g)
    h = T975.get(n - 1, 1.96) * sd / math.sqrt(n)
    return math.exp(m), math.exp(m - h), math.exp(m + h), n


def met_ci(gm, target, pairs_by_key):
    if gm >= target:
        return "yes"
    c = rep_geomean_ci(pairs_by_key)
    if c and c[2] >= 1.0:
        return "not resolved (95%% CI %s-%s includes 1.0)" % (fmt_ratio(c[1]), fmt_ratio(c[2]))
    return "no"


def ci_h(pairs_by_key):
    c = rep_geomean_ci(pairs_by_key)
    if not c:
        return ""
    return "; per-rep geomean %s, 95%% CI %s-%s over %d reps" % (
        fmt_ratio(c[0]), fmt_ratio(c[1]), fmt_ratio(c[2]), c[3])


def spread(rs):
    if not rs:
        return "-"
    return "%s [%s-%s]" % (fmt_ratio(med(rs)), fmt_ratio(min(rs)), fmt_ratio(max(rs)))


def size_h(n):
    return "%d MiB" % (n >> 20) if n >= 1048576 else "%d KiB" % (n >> 10)


def reps_h(xs, nd=None):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    if nd is not None:
        return ", ".join(("%%.%df" % nd) % x for x in xs)
    return ", ".join(fmt(x) for x in xs)


def figures(A, out):
    M, S = A["micro"], A["scale"]
    rows = []
    for k in sorted(M["dma_alloc_ops"]):
        d = M["dma_alloc_ops"][k]
        rows.append(("%s, %d thread%s" % (size_h(k[0]), k[1], "s" if k[1] > 1 else ""),
                     ratio(med(d["patched"]), med(d["baseline"]))))
    if rows:
        svg_bars(os.path.join(out, "bench-dma-alloc.svg"),
                 "dma_alloc_coherent + free: operations per second, patched / baseline",
                 rows, log=True, refs=[(10.0, "target 10x", "#c00")],
                 note="median per kernel over the micro runs; TCG, emulated CVM")
    rows = []
    for k in sorted(M["dma_map_pairs"]):
        d = M["dma_map_pairs"][k]
        rows.append(("dma_map t%d g%d" % k, ratio(med(d["patched"]), med(d["baseline"]))))
    for k in sorted(M["fio_bw"]):
        d = M["fio_bw"][k]
        rows.append(("fio %s %s" % k, ratio(med(d["patched"]), med(d["baseline"]))))
    if rows:
        svg_bars(os.path.join(out, "bench-throughput.svg"),
                 "Streaming DMA and fio throughput, patched / baseline", rows,
                 refs=[(0.97, "target 0.97", "#c00"), (1.0, "", "#888")],
                 note="median per kernel over the micro runs; TCG, emulated CVM")
    rows = []
    for axis in ("mem", "smp", "cycles"):
        for val, d in S.get(axis, []):
            if "baseline" in d and "patched" in d:
                fb, fp = scale_fig(d["baseline"]), scale_fig(d["patched"])
                rows.append(("calls, %s=%s" % (axis, val), ratio(fp["calls"], fb["calls"])))
    brows = []
    for axis in ("mem", "smp", "cycles"):
        for val, d in S.get(axis, []):
            if "baseline" in d and "patched" in d:
                fb, fp = scale_fig(d["baseline"]), scale_fig(d["patched"])
                brows.append(("boot, %s=%s" % (axis, val), ratio(fp["boot_s"], fb["boot_s"])))
    if A["boot"]["baseline"] and A["boot"]["patched"]:
        brows.append(("boot, boot-only runs (median)", ratio(med(A["boot"]["patched"]), med(A["boot"]["baseline"]))))
    mrows = []
    for axis in ("mem", "smp", "cycles"):
        for val, d in S.get(axis, []):
            if "baseline" in d and "patched" in d:
                fb, fp = scale_fig(d["baseline"]), scale_fig(d["patched"])
                mrows.append(("mixed 2M peak, %s=%s" % (axis, val), ratio(fp["mixed_peak"], fb["mixed_peak"])))
                mrows.append(("shared peak, %s=%s" % (axis, val), ratio(fp["shared_peak_mib"], fb["shared_peak_mib"])))
    if mrows:
        svg_bars(os.path.join(out, "bench-scale-memory.svg"),
                 "Mixed 2 MiB regions and shared memory along each axis, patched / baseline",
                 mrows, refs=[(1.0, "", "#888")],
                 note="peak over the run, from the host-side conversion log")
    if rows:
        svg_bars(os.path.join(out, "bench-scale.svg"),
                 "Conversion calls along each scale axis, patched / baseline", rows,
                 log=True, note="default workload; the other axes at 2 GiB, 2 vCPU, 10 cycles")
    if brows:
        svg_bars(os.path.join(out, "bench-boot.svg"), "Boot time, patched / baseline", brows,
                 refs=[(1.02, "target 1.02", "#c00"), (1.0, "", "#888")],
                 note="guest uptime at HARNESS START; TCG timing noise applies")


def _description():
    """The module docstring without its usage paragraph (argparse prints
    its own)."""
    parts = __doc__.strip().split("\n\n")
    return "\n\n".join(parts[:1] + parts[2:])


def main(argv):
    ap = argparse.ArgumentParser(
        prog="report.py", description=_description(),
        usage="%(prog)s [--out DIR] [--base-version FILE] [--machine FILE] RUNDIR...",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="results/bench", metavar="DIR",
                    help="output directory (default results/bench)")
    ap.add_argument("--base-version", metavar="FILE",
                    help="file with the base tree's version")
    ap.add_argument("--machine", metavar="FILE",
                    help="'KEY VALUE' lines describing the host (bench.sh)")
    ap.add_argument("dirs", nargs="+", metavar="RUNDIR")
    a = ap.parse_args(argv)
    out, base, machine = a.out, None, {}
    if a.base_version and os.path.exists(a.base_version):
        with open(a.base_version) as f:
            base = f.read().strip()
    if a.machine and os.path.exists(a.machine):
        with open(a.machine) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition(" ")
                machine[k] = v
    if not base:
        base = machine.get("base")
    runs = [load(d) for d in a.dirs]
    problems = ["`%s`: %s" % (r["name"], p) for r in runs for p in r["problems"]]
    for p in problems:
        print("report: WARNING: %s" % p.replace("`", ""), file=sys.stderr)
    os.makedirs(out, exist_ok=True)
    A = analyse(runs)
    figures(A, out)
    T = write(A, runs, out, base, machine)
    if os.path.exists(os.path.join(out, "bench-boot.svg")):
        with open(os.path.join(out, "report.md"), "a") as f:
            f.write("![boot ratio](bench-boot.svg)\n")
    if problems:
        with open(os.path.join(out, "report.md"), "a") as f:
            f.write("\n## Problems with the input\n\nLeft out of every figure above:\n\n" +
                    "".join("- %s\n" % p for p in problems))
    js = {"targets": [dict(zip(("target", "wanted", "measured", "ratio", "met", "from"), t)) for t in T],
          "runs": [r["name"] for r in runs], "failed": A["failed"], "base": base, "machine": machine,
          "problems": problems}
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(js, f, indent=1, sort_keys=True)
    for t in T:
        print("TARGET %s: %s (%s) met=%s" % (t[0], t[3], t[2], t[4]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
