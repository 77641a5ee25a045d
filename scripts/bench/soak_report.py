#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Report of make soak (scripts/bench/soak.sh).

usage: soak_report.py --out DIR --baseline V --patched V RUNSDIR

RUNSDIR holds one run.sh output directory per run, named pI-VARIANT (pair I).
Each run is ok, a hang (the host saw a stall, the guest printed HARNESS
STALL, or QEMU hit its timeout) or a failure (anything else: a splat, a
failed fio job, a missing summary).  Writes DIR/report.md and report.json:

 - per kernel: runs, ok, hangs, failures, and the 95 % upper bound of the
   hang rate per run (one-sided Clopper-Pearson: the rate p at which
   seeing at most the observed hangs has probability 5 %; 3/n for none),
   and the same per fio run: a boot runs the 8 fio jobs R times (soak.sh
   --rounds R, "BENCH round N" lines); a boot that hangs counts the round
   it hung in (at least one);
 - per fio job (device kind and job): the ratio patched/baseline of the
   bandwidth in each pair where both runs are ok, and their geometric mean
   with a 95 % t interval over the pairs, with the run order (b p or p b)
   counted apart too;
 - the host's load beside each run (host-load.json, from soak.sh: CPU time
   that did not go to the run, in CPUs): a pair is quiet if neither run
   had more than QUIET_CPUS of it, and the ratios are given over the quiet
   pairs too, since a build beside one run of a pair skews its ratio;
 - the counters around the jobs: conversion calls, SWIOTLB transient slabs
   and shared pages after each job (medians per kernel);
 - every hang and failure, with its stalled device and files.
"""
import argparse
import json
import math
import os
import re
import statistics
import sys

sys.dont_write_bytecode = True


def _bench_report():
    """scripts/bench/report.py (make bench's report), by path: the harness
    has a report.py of its own."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report.py")
    spec = importlib.util.spec_from_file_location("bench_report", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_BR = _bench_report()
T975, incomplete, kv = _BR.T975, _BR.incomplete, _BR.kv

RUN_RE = re.compile(r"^p(\d+)-([A-Za-z0-9_.]+)$")

# a run is quiet if other work took at most this many of the host's CPUs
QUIET_CPUS = 0.10


def binom_cdf(k, n, p):
    """P(X <= k) for X ~ Binomial(n, p)."""
    if p <= 0:
        return 1.0
    if p >= 1:
        return 1.0 if k >= n else 0.0
    return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k + 1))


def upper_bound(k, n, conf=0.95):
    """One-sided Clopper-Pearson upper bound of a rate after k events in n
    trials: the p with P(X <= k | n, p) = 1 - conf (1.0 when k == n)."""
    if n <= 0:
        return 1.0
    if k >= n:
        return 1.0
    lo, hi = k / n, 1.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if binom_cdf(k, n, mid) > 1 - conf:
            lo = mid
        else:
            hi = mid
    return hi


def t975(df):
    """Two-sided 95 % t quantile (df >= 1)."""
    if df in T975:
        return T975[df]
    for d, t in ((30, 2.04), (40, 2.02), (60, 2.00), (120, 1.98)):
        if df <= d:
            return t
    return 1.96


def geomean_ci(ratios):
    """Geometric mean of RATIOS and its 95 % t interval, or None (< 2)."""
    xs = [math.log(r) for r in ratios if r and r > 0]
    if len(xs) < 2:
        return None
    m, sd, n = statistics.mean(xs), statistics.stdev(xs), len(xs)
    h = t975(n - 1) * sd / math.sqrt(n)
    return {"geomean": math.exp(m), "lo": math.exp(m - h), "hi": math.exp(m + h), "n": n}


def parse_console(path):
    """The fio lines (per job, a list over rounds), stall lines, problems and
    the number of fio rounds started (the highest "BENCH round N") of a run."""
    fio, stalls, errors, rounds = {}, [], [], 0
    try:
        fh = open(path, errors="replace")
    except OSError as e:
        return fio, stalls, ["no console.log (%s)" % e], rounds
    with fh:
        for line in fh:
            line = line.strip().replace("\r", "")
            m = re.match(r"BENCH round (\d+)$", line)
            if m:
                rounds = max(rounds, int(m.group(1)))
                continue
            m = re.search(r"HARNESS STALL (.*)$", line)
            if m:
                stalls.append(kv(m.group(1).split()))
                continue
            if not line.startswith("BENCH fio "):
                continue
            d = kv(line.split()[2:])
            miss = incomplete("fio", d) if "error" not in d else ["error"]
            if miss:
                errors.append("%s (incomplete: %s)" % (line[:160], ", ".join(miss)))
                continue
            fio.setdefault("%s %s" % (d["kind"], d["job"]), []).append(d)
    return fio, stalls, errors, rounds


def load_run(d):
    name = os.path.basename(os.path.normpath(d))
    m = RUN_RE.match(name)
    if not m:
        return None
    r = {"name": name, "dir": d, "pair": int(m.group(1)), "variant": m.group(2),
         "problems": [], "incomplete": False}
    if not os.path.exists(os.path.join(d, "summary.json")):
        # soak.sh writes no summary.json before the run ends, and runs a
        # directory without one again when resumed: interrupted or running
        r["incomplete"] = True
        return r
    try:
        with open(os.path.join(d, "summary.json")) as fh:
            s = json.load(fh)
        if not isinstance(s, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        s = {}
        r["problems"].append("summary.json: %s" % e)
    r["fio"], r["stalls"], errs, r["rounds"] = parse_console(os.path.join(d, "console.log"))
    r["problems"] += errs
    r["stalled"] = bool(s.get("stalled")) or bool(r["stalls"])
    r["timed_out"] = bool(s.get("timed_out"))
    r["hang"] = r["stalled"] or r["timed_out"]
    r["device"] = s.get("stall_device") or (r["stalls"][-1].get("dev") if r["stalls"] else None)
    r["ok"] = bool(s.get("ok")) and not r["hang"] and not errs
    # fio runs: the rounds started; a hang before the first round is one
    r["fio_runs"] = max(r["rounds"], 1 if r["hang"] else 0)
    r["failures"] = s.get("failures") or []
    r["foreign_cpus"] = None
    try:
        with open(os.path.join(d, "host-load.json")) as fh:
            f = json.load(fh).get("foreign_cpus")
        if isinstance(f, (int, float)) and not isinstance(f, bool):
            r["foreign_cpus"] = float(f)
    except (OSError, ValueError, AttributeError):
        pass
    return r


def pair_load(b, q):
    """quiet, busy or unknown (a run without host-load.json)"""
    f = [b["foreign_cpus"], q["foreign_cpus"]]
    if any(x is not None and x > QUIET_CPUS for x in f):
        return "busy"
    return "unknown" if None in f else "quiet"


def analyse(runs, vb, vp):
    A = {"kernels": {}, "jobs": {}, "counters": {}, "pairs": 0,
         "load": {"quiet": 0, "busy": 0, "unknown": 0}, "busy_pairs": []}
    for v in (vb, vp):
        rs = [r for r in runs if r["variant"] == v]
        n, h = len(rs), sum(r["hang"] for r in rs)
        nf = sum(r["fio_runs"] for r in rs)
        A["kernels"][v] = {
            "runs": n, "ok": sum(r["ok"] for r in rs), "hangs": h,
            "failures": sum(not r["ok"] and not r["hang"] for r in rs),
            "hang_rate_upper95": upper_bound(h, n) if n else None,
            "fio_runs": nf,
            "hang_rate_per_fio_run_upper95": upper_bound(h, nf) if nf else None,
            "fio_jobs": sum(len(x) for r in rs for x in r["fio"].values())}
        cnt = {}
        for r in rs:
            for dl in r["fio"].values():
                for d in dl:
                    for k in ("calls", "transient_nslabs", "shared_pages"):
                        if isinstance(d.get(k), (int, float)):
                            cnt.setdefault(k, []).append(d[k])
        A["counters"][v] = {k: {"median": statistics.median(x), "max": max(x)}
                            for k, x in cnt.items()}
    by_pair, pair_ratio, pair_load_of = {}, {}, {}
    for r in runs:
        by_pair.setdefault(r["pair"], {})[r["variant"]] = r
    for i, p in sorted(by_pair.items()):
        b, q = p.get(vb), p.get(vp)
        if not (b and q and b["ok"] and q["ok"]):
            continue
        A["pairs"] += 1
        order = "bp" if i % 2 == 1 else "pb"
        load = pair_load(b, q)
        A["load"][load] += 1
        if load == "busy":
            A["busy_pairs"].append({"pair": i, "foreign_cpus": [b["foreign_cpus"], q["foreign_cpus"]]})
        logs = []
        for job in sorted(set(b["fio"]) & set(q["fio"])):
            bw_b = statistics.mean(d["bw_kib"] for d in b["fio"][job])
            bw_p = statistics.mean(d["bw_kib"] for d in q["fio"][job])
            if bw_b > 0 and bw_p > 0:
                A["jobs"].setdefault(job, {"all": [], "bp": [], "pb": [], "quiet": []})
                A["jobs"][job]["all"].append(bw_p / bw_b)
                A["jobs"][job][order].append(bw_p / bw_b)
                if load == "quiet":
                    A["jobs"][job]["quiet"].append(bw_p / bw_b)
                logs.append(math.log(bw_p / bw_b))
        # all jobs: the geometric mean over the jobs of each pair
        if logs:
            pair_ratio[i] = math.exp(statistics.mean(logs))
            pair_load_of[i] = load
    A["ratios"] = {}
    for job, rr in A["jobs"].items():
        A["ratios"][job] = {k: geomean_ci(v) for k, v in rr.items()}
    # ... then over the pairs
    A["ratio_all_jobs"] = geomean_ci(list(pair_ratio.values()))
    A["ratio_all_jobs_quiet"] = geomean_ci([x for i, x in pair_ratio.items()
                                            if pair_load_of[i] == "quiet"])
    for bp in A["busy_pairs"]:
        bp["ratio"] = pair_ratio.get(bp["pair"])
    return A


def fmt_ci(c):
    if not c:
        return "-"
    return "%.3f (%.3f-%.3f, %d pairs)" % (c["geomean"], c["lo"], c["hi"], c["n"])


def write(A, runs, out, vb, vp, incomplete=()):
    L = []
    P = L.append
    P("# make soak: hangs and the fio ratio, %s vs %s\n" % (vb, vp))
    P("Runs alternate in pairs, b p then p b (ABBA); each boot runs the fio "
      "jobs of make bench with the lockup and hung-task detectors on.  A hang "
      "is a stall seen by the host (no progress line, run.sh --stall), "
      "one reported by the guest (HARNESS STALL) or a QEMU timeout.\n")
    P("| kernel | boots | ok | hangs | failures | hang rate per boot, 95 % upper bound "
      "| fio runs (rounds of the 8 jobs) | hang rate per fio run, 95 % upper bound | fio jobs |")
    P("|---|---:|---:|---:|---:|---:|---:|---:|---:|")

    def pct(x):
        return "-" if x is None else "%.2f %%" % (100 * x)
    for v in (vb, vp):
        k = A["kernels"][v]
        P("| %s | %d | %d | %d | %d | %s | %d | %s | %d |" % (
            v, k["runs"], k["ok"], k["hangs"], k["failures"], pct(k["hang_rate_upper95"]),
            k["fio_runs"], pct(k["hang_rate_per_fio_run_upper95"]), k["fio_jobs"]))
    P("")
    P("## fio bandwidth, patched / baseline (%d pairs with both runs ok)\n" % A["pairs"])
    P("Geometric mean of the per-pair ratios, 95 % t interval over the pairs.\n")
    ld = A["load"]
    P("Host load beside the runs: %d quiet pairs (other work took at most %.2f "
      "CPUs during each run), %d busy, %d not measured (runs without "
      "host-load.json).\n" % (ld["quiet"], QUIET_CPUS, ld["busy"], ld["unknown"]))
    P("| job | all pairs | order b p | order p b | quiet host |")
    P("|---|---|---|---|---|")
    for job in sorted(A["ratios"]):
        r = A["ratios"][job]
        P("| %s | %s | %s | %s | %s |" % (job, fmt_ci(r["all"]), fmt_ci(r["bp"]),
                                         fmt_ci(r["pb"]), fmt_ci(r.get("quiet"))))
    P("| **all jobs** | %s | | | %s |" % (fmt_ci(A["ratio_all_jobs"]),
                                          fmt_ci(A["ratio_all_jobs_quiet"])))
    P("")
    if A["busy_pairs"]:
        P("Busy pairs (CPUs taken by other work during the baseline, patched run; "
          "ratio over all jobs):\n")
        for bp in A["busy_pairs"]:
            P("- pair %d: %s; %s" % (bp["pair"], ", ".join(
                "-" if f is None else "%.2f" % f for f in bp["foreign_cpus"]),
                "-" if bp["ratio"] is None else "%.3f" % bp["ratio"]))
        P("")
    P("## Counters after each fio job (median / max over all jobs)\n")
    P("| kernel | conversion calls during the job | SWIOTLB transient slabs | shared pages |")
    P("|---|---|---|---|")
    for v in (vb, vp):
        c = A["counters"][v]

        def mm(k):
            return "%g / %g" % (c[k]["median"], c[k]["max"]) if k in c else "-"
        P("| %s | %s | %s | %s |" % (v, mm("calls"), mm("transient_nslabs"), mm("shared_pages")))
    P("")
    bad = [r for r in runs if not r["ok"]]
    P("## Hangs and failures (%d)\n" % len(bad))
    for r in bad:
        what = "hang" if r["hang"] else "failure"
        extra = []
        if r["hang"]:
            extra.append("device %s" % (r["device"] or "?"))
            if os.path.exists(os.path.join(r["dir"], "stall.txt")):
                extra.append("QEMU state in %s/stall.txt" % r["name"])
        reasons = (r["failures"] + r["problems"])[:3]
        P("- `%s`: %s%s%s" % (r["name"], what, (", " + ", ".join(extra)) if extra else "",
                              (": " + "; ".join(x[:200] for x in reasons)) if reasons else ""))
    if not bad:
        P("none")
    P("")
    if incomplete:
        P("## Incomplete runs (%d), not counted\n" % len(incomplete))
        P("No summary.json: the soak was interrupted during the run, or is "
          "running it; a resumed soak runs it again.\n")
        for r in incomplete:
            P("- `%s`" % r["name"])
        P("")
    with open(os.path.join(out, "report.md"), "w") as fh:
        fh.write("\n".join(L) + "\n")
    with open(os.path.join(out, "report.json"), "w") as fh:
        json.dump({"version": 1, "baseline": vb, "patched": vp,
                   "kernels": A["kernels"], "pairs": A["pairs"],
                   "ratios": A["ratios"], "ratio_all_jobs": A["ratio_all_jobs"],
                   "ratio_all_jobs_quiet": A["ratio_all_jobs_quiet"],
                   "quiet_cpus": QUIET_CPUS, "load": A["load"], "busy_pairs": A["busy_pairs"],
                   "counters": A["counters"],
                   "runs": [{k: r[k] for k in ("name", "pair", "variant", "ok", "hang",
                                               "device", "fio_runs", "problems")}
                            for r in runs],
                   "incomplete": [r["name"] for r in incomplete]},
                  fh, indent=1)
        fh.write("\n")
    return L


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="where report.md/json go")
    ap.add_argument("--baseline", required=True, help="variant name of the baseline")
    ap.add_argument("--patched", required=True, help="variant name of the patched kernel")
    ap.add_argument("runsdir", help="directory of the runs (pI-VARIANT)")
    a = ap.parse_args(argv)
    runs = []
    for n in sorted(os.listdir(a.runsdir)) if os.path.isdir(a.runsdir) else []:
        r = load_run(os.path.join(a.runsdir, n))
        if r and r["variant"] in (a.baseline, a.patched):
            runs.append(r)
    incomplete = [r for r in runs if r["incomplete"]]
    runs = [r for r in runs if not r["incomplete"]]
    if not runs:
        raise SystemExit("soak_report: no finished runs in %s" % a.runsdir)
    A = analyse(runs, a.baseline, a.patched)
    os.makedirs(a.out, exist_ok=True)
    write(A, runs, a.out, a.baseline, a.patched, incomplete)
    for v in (a.baseline, a.patched):
        k = A["kernels"][v]
        print("soak: %s: %d boots, %d fio runs, %d hangs (95 %% upper bound %.2f %% per boot, "
              "%.2f %% per fio run), %d failures"
              % (v, k["runs"], k["fio_runs"], k["hangs"], 100 * (k["hang_rate_upper95"] or 0),
                 100 * (k["hang_rate_per_fio_run_upper95"] or 0), k["failures"]))
    print("soak: fio patched/baseline over all jobs: %s; quiet host: %s"
          % (fmt_ci(A["ratio_all_jobs"]), fmt_ci(A["ratio_all_jobs_quiet"])))
    if incomplete:
        print("soak: not counted, no summary.json (interrupted or running): %s"
              % " ".join(r["name"] for r in incomplete))
    return 0


if __name__ == "__main__":
    sys.exit(main())
