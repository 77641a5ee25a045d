#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Offline tests of make bench (scripts/bench/, scripts/guest/mode-bench.sh):
the report generator on synthetic run directories (targets, ratios, medians,
SVG figures), the guest script's syntax, bench.sh's options.  Loaded by
test_harness.py, so they run in tests/harness/run-tests.sh (make check).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BENCH = os.path.join(ROOT, "scripts", "bench")
GUEST = os.path.join(ROOT, "scripts", "guest")
BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def summary(variant, calls, peak, boot, ok=True, nslabs=65536, cc_peak=None):
    g = {"swiotlb.io_tlb_nslabs": nslabs}
    if cc_peak is not None:
        g["swiotlb.cc_peak"] = cc_peak
    return {"ok": ok, "variant": variant,
            "convstat": {"calls": calls, "misaligned": calls, "mixed_2m_end": 1,
                         "mixed_2m_peak": 2, "shared_bytes_end": peak,
                         "shared_bytes_peak": peak},
            "guest": g, "timing": {"boot_s": boot, "wall_s": 30.0},
            "harness_id": "x"}


def micro_console(ops4k, calls4k, map_us, bw, step_calls):
    L = ["BENCH boot calls=3 to_shared=3 to_private=0 pages=1 shared_pages=1 cc_bytes=0 uptime=2.0"]
    for s, c in step_calls.items():
        L.append("BENCH step %s calls=%d to_shared=0 to_private=0 pages=0 shared_pages=1 cc_bytes=0 seconds=1.00" % (s, c))
    for th in (1, 2):
        L.append("BENCH dma_alloc size=4096 threads=%d ms=300 ops=%d fail=0 elapsed_ns=300000000 "
                 "ops_per_s=%d ns_per_op=1000 calls=%d to_shared=0 to_private=0 pages=0"
                 % (th, ops4k * 3 // 10, ops4k, calls4k))
    L.append("BENCH dma_map threads=1 granule=1 seconds=2 map_us=%.1f map_sd_us=1.0 "
             "unmap_us=%.1f unmap_sd_us=1.0 calls=0 to_shared=0 to_private=0 pages=0" % (map_us, map_us))
    L.append("BENCH fio dev=vda kind=blk job=randread4k seconds=3 bw_kib=%d iops=%d calls=0 "
             "to_shared=0 to_private=0 pages=0" % (bw, bw // 4))
    L.append("BENCH end calls=%d after_boot=%d shared_pages=1 cc_bytes=0 uptime=50.0"
             % (3 + sum(step_calls.values()), sum(step_calls.values())))
    return "\n".join(L) + "\n"


class BenchRuns(unittest.TestCase):
    """Synthetic run directories and a report.py run over them."""

    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="bench-test-")
        self.runs = os.path.join(self.d, "runs")
        os.makedirs(self.runs)

    def tearDown(self):
        shutil.rmtree(self.d)

    def mk(self, name, summ, console=""):
        p = os.path.join(self.runs, name)
        os.makedirs(p)
        with open(os.path.join(p, "summary.json"), "w") as f:
            json.dump(summ, f)
        with open(os.path.join(p, "console.log"), "w") as f:
            f.write(console)
        return p

    def report(self):
        dirs = sorted(os.path.join(self.runs, n) for n in os.listdir(self.runs))
        p = subprocess.run([sys.executable, os.path.join(BENCH, "report.py"),
                            "--out", self.d] + dirs, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(self.d, "report.json")) as f:
            js = json.load(f)
        with open(os.path.join(self.d, "report.md")) as f:
            md = f.read()
        return {t["target"]: t for t in js["targets"]}, md

    def populate(self):
        pool = 65536 * 2048
        steps_b = {"io": 1, "rebind": 160, "dma_alloc": 2000, "fio": 0}
        steps_p = {"io": 0, "rebind": 0, "dma_alloc": 0, "fio": 0}
        # baseline medians: 1000 ops/s, map 10 us, 10000 KiB/s
        for i, (ops, mu, bw) in enumerate(((900, 10.0, 9000), (1000, 10.0, 10000), (5000, 12.0, 11000)), 1):
            self.mk("micro-r%d-baseline" % i, summary("baseline", 2200, pool + 3 * 2**20, 2.0),
                    micro_console(ops, 2 * ops, mu, bw, steps_b))
        for i, (ops, mu, bw) in enumerate(((30000, 10.0, 9900), (20000, 10.0, 10000), (10, 10.0, 10000)), 1):
            self.mk("micro-r%d-patched" % i, summary("patched", 3, pool + 2 * 2**20, 2.0, cc_peak=300000),
                    micro_console(ops, 0, mu, bw, steps_p))
        self.mk("scale-default-baseline", summary("baseline", 185, pool + 800000, 2.0))
        self.mk("scale-default-patched", summary("patched", 3, pool + 2 * 2**20 + 8192, 2.1))
        self.mk("scale-cycles-100-baseline", summary("baseline", 1626, pool + 10**6, 2.0))
        self.mk("scale-cycles-100-patched", summary("patched", 3, pool + 2 * 2**20, 2.0))
        for i, (b, p) in enumerate(((2.0, 2.0), (2.2, 2.1), (1.0, 5.0)), 1):
            self.mk("boot-r%d-baseline" % i, summary("baseline", 25, pool, b))
            self.mk("boot-r%d-patched" % i, summary("patched", 3, pool, p))


class TestBenchReport(BenchRuns):
    def test_targets_and_medians(self):
        self.populate()
        T, md = self.report()
        one = T["dma_alloc_coherent+free 4 KiB, 1 thread"]
        # median 20000 / median 1000
        self.assertEqual(one["ratio"], "20.0x")
        self.assertTrue(one["met"].startswith("yes"))
        self.assertEqual(T["conversion calls after boot, every workload step"]["met"], "yes")
        self.assertEqual(T["total calls independent of cycles and I/O volume"]["met"], "yes")
        m = T["streaming map+unmap throughput (dma_map_benchmark)"]
        self.assertEqual(m["ratio"], "1.000 (worst)")
        f = T["fio throughput (virtio-blk, nvme; direct)"]
        self.assertEqual(f["ratio"], "1.000 (worst)")
        sh = T["shared memory beyond the boot SWIOTLB pool, peak, 2 GiB, default workload"]
        self.assertTrue(sh["met"].startswith("yes (2.008"), sh)
        b = T["boot time (uptime at HARNESS START)"]
        # medians 2.1 / 2.0
        self.assertEqual(b["ratio"], "1.050")
        self.assertEqual(b["met"], "no")
        self.assertIn("Absolute times are not meaningful", md)
        self.assertIn("| 100 | **ratio p/b** | 0.0018 |", md)
        self.assertIn("rebind s/cycle", md)

    def test_plain_vm_section(self):
        """plain and plainsw runs: their own section, not mixed into micro"""
        self.populate()
        pool = 65536 * 2048
        for i, (mb, mp) in enumerate(((10.0, 10.0), (10.0, 12.5), (8.0, 8.0)), 1):
            for v, mu in (("baseline", mb), ("patched", mp)):
                self.mk("plain-r%d-%s" % (i, v), summary(v, 0, pool, 2.0),
                        micro_console(1000, 0, mu, 10000, {"io": 0}))
                self.mk("plainsw-r%d-%s" % (i, v), summary(v, 0, pool, 2.0),
                        micro_console(1000, 0, 2 * mu, 10000, {"io": 0}))
        T, md = self.report()
        # the micro figures are those of populate() alone
        self.assertEqual(T["streaming map+unmap throughput (dma_map_benchmark)"]["ratio"], "1.000 (worst)")
        plain = md.split("## Non-CVM guest: a plain VM (`--cvm off`)")[1].split("## ")[0]
        # medians 10 us / 10 us; per rep 1.0, 0.8, 1.0
        self.assertIn("| dma_map pairs/s | 1 thread, granule 1 | 50000 | 50000 | 1.000 | 1.000 [0.800-1.000] |", plain)
        self.assertIn("geometric mean of 3 per-rep ratios: 0.928", plain)
        sw = md.split("## Non-CVM guest: a plain VM with `swiotlb=force`")[1].split("## ")[0]
        self.assertIn("| dma_map pairs/s | 1 thread, granule 1 | 25000 | 25000 | 1.000 |", sw)

    def test_missed_targets(self):
        pool = 65536 * 2048
        self.mk("micro-r1-baseline", summary("baseline", 2200, pool, 2.0),
                micro_console(1000, 2000, 10.0, 10000, {"io": 1, "dma_alloc": 2000}))
        self.mk("micro-r1-patched", summary("patched", 7, pool + 10 * 2**20, 2.0),
                micro_console(5000, 0, 20.0, 9000, {"io": 0, "dma_alloc": 4}))
        T, md = self.report()
        self.assertEqual(T["conversion calls after boot, every workload step"]["met"], "no")
        self.assertIn("dma_alloc 4", T["conversion calls after boot, every workload step"]["measured"])
        self.assertEqual(T["dma_alloc_coherent+free 4 KiB, 1 thread"]["met"], "no")
        self.assertEqual(T["streaming map+unmap throughput (dma_map_benchmark)"]["met"], "no")
        self.assertEqual(T["fio throughput (virtio-blk, nvme; direct)"]["ratio"], "0.900 (worst)")

    def test_failed_runs_are_left_out(self):
        self.populate()
        shutil.rmtree(os.path.join(self.runs, "micro-r3-patched"))
        self.mk("micro-r3-patched", summary("patched", 3, 0, 2.0, ok=False), "")
        T, md = self.report()
        self.assertIn("`micro-r3-patched`", md.split("## Targets")[0])
        # median of 30000 and 20000 = 25000, baseline 1000
        self.assertEqual(T["dma_alloc_coherent+free 4 KiB, 1 thread"]["ratio"], "25.0x")

    def test_svgs(self):
        self.populate()
        self.report()
        for n in ("bench-dma-alloc.svg", "bench-throughput.svg", "bench-scale.svg",
                  "bench-scale-memory.svg", "bench-boot.svg"):
            root = ET.parse(os.path.join(self.d, n)).getroot()
            self.assertTrue(root.tag.endswith("svg"), n)
            rects = [e for e in root.iter() if e.tag.endswith("rect")]
            self.assertGreater(len(rects), 1, n)

    def test_unknown_run_name(self):
        self.mk("whatever", summary("patched", 3, 0, 2.0))
        p = subprocess.run([sys.executable, os.path.join(BENCH, "report.py"), "--out", self.d,
                            os.path.join(self.runs, "whatever")], capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot tell", p.stderr)


class TestBenchReportBadInput(BenchRuns):
    """One cut-off console or summary must not lose the whole report."""

    def test_truncated_summary(self):
        self.populate()
        sp = os.path.join(self.runs, "micro-r3-patched", "summary.json")
        with open(sp) as f:
            text = f.read()
        with open(sp, "w") as f:
            f.write(text[:len(text) // 2])
        T, md = self.report()
        self.assertIn("## Problems with the input", md)
        self.assertRegex(md, r"`micro-r3-patched`: summary.json truncated")
        # the rest is there: medians over the two complete patched runs
        self.assertEqual(T["dma_alloc_coherent+free 4 KiB, 1 thread"]["ratio"], "25.0x")
        self.assertIn("`micro-r3-patched`", md.split("## Targets")[0])
        with open(os.path.join(self.d, "report.json")) as f:
            js = json.load(f)
        self.assertEqual(len(js["problems"]), 1, js["problems"])

    def test_dma_map_line_without_unmap(self):
        self.populate()
        cp = os.path.join(self.runs, "micro-r2-baseline", "console.log")
        with open(cp) as f:
            text = f.read()
        # the console of this run ends in the middle of its dma_map line
        text = text[:text.index(" unmap_us=")]
        with open(cp, "w") as f:
            f.write(text)
        p = subprocess.run([sys.executable, os.path.join(BENCH, "report.py"), "--out", self.d]
                           + sorted(os.path.join(self.runs, n) for n in os.listdir(self.runs)),
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("micro-r2-baseline", p.stderr)
        self.assertIn("unmap_us", p.stderr)
        with open(os.path.join(self.d, "report.md")) as f:
            md = f.read()
        self.assertRegex(md, r"`micro-r2-baseline`: console.log: BENCH dma_map .*incomplete: no unmap_us")
        with open(os.path.join(self.d, "report.json")) as f:
            T = {t["target"]: t for t in json.load(f)["targets"]}
        # dma_alloc figures of that run are still used
        self.assertEqual(T["dma_alloc_coherent+free 4 KiB, 1 thread"]["ratio"], "20.0x")

    def test_summary_without_sections(self):
        self.populate()
        self.mk("micro-r4-patched", {"ok": True}, micro_console(20000, 0, 10.0, 10000, {"io": 0}))
        T, md = self.report()
        self.assertIn("## Targets", md)

    def test_options(self):
        rp = os.path.join(BENCH, "report.py")
        p = subprocess.run([sys.executable, rp, "--out"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertNotIn("Traceback", p.stderr)
        self.assertIn("usage:", p.stderr)
        p = subprocess.run([sys.executable, rp, "--help"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0)
        self.assertIn("usage: report.py [--out DIR]", p.stdout)
        p = subprocess.run([sys.executable, rp, "--out", self.d], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)


class TestBenchScripts(unittest.TestCase):
    def test_guest_script_syntax(self):
        shells = [[BUSYBOX, "sh"]] + ([[shutil.which("dash")]] if shutil.which("dash") else [])
        for sh in shells:
            p = subprocess.run(sh + ["-n", os.path.join(GUEST, "mode-bench.sh")],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, "%s: %s" % (sh, p.stderr))

    def test_bench_help_and_bad_axis(self):
        b = os.path.join(BENCH, "bench.sh")
        p = subprocess.run([b, "--help"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0)
        self.assertIn("--axis", p.stdout)
        p = subprocess.run([b, "--axis", "nope"], capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("unknown axis", p.stderr)



# -- make soak (scripts/bench/soak.sh, soak_report.py, mode-soak.sh) -----------

sys.path.insert(0, BENCH)
sys.dont_write_bytecode = True
import soak_report  # noqa: E402

JOBS = ("randread4k", "randwrite4k", "seqread1M", "seqwrite1M")


def soak_console(bw, rounds=1, stall=None):
    L = ["HARNESS START uptime=2.0 mode=soak",
         "BENCH boot calls=3 shared_pages=32770 cc_bytes=16777216 uptime=2.0"]
    for r in range(1, rounds + 1):
        L.append("BENCH round %d" % r)
        for dev, kind in (("vda", "blk"), ("nvme0n1", "nvme")):
            for j in JOBS:
                L.append("HARNESS JOB dev=%s job=%s" % (dev, j))
                if stall and stall == (dev, j):
                    L.append("HARNESS STALL dev=%s job=%s after=90s uptime=99.0" % (dev, j))
                    return "\n".join(L) + "\n"
                L.append("BENCH fio dev=%s kind=%s job=%s seconds=3 bw_kib=%d iops=%d "
                         "calls=0 to_shared=0 to_private=0 pages=0 transient_nslabs=0 "
                         "shared_pages=32770 cc_bytes=16777216" % (dev, kind, j, bw, bw // 4))
    L.append("HARNESS DONE")
    return "\n".join(L) + "\n"


class TestSoak(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cvm-soak-test-")
        self.runs = os.path.join(self.tmp, "runs")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def run_dir(self, name, console, ok=True, stalled=False, device=None, timed_out=False):
        d = os.path.join(self.runs, name)
        os.makedirs(d)
        with open(os.path.join(d, "console.log"), "w") as fh:
            fh.write(console)
        with open(os.path.join(d, "summary.json"), "w") as fh:
            json.dump({"ok": ok, "stalled": stalled, "stall_device": device,
                       "timed_out": timed_out,
                       "failures": [] if ok else ["stall: ..."]}, fh)
        return d

    def test_upper_bound(self):
        # none in n: 1 - 0.05^(1/n), about 3/n
        self.assertAlmostEqual(soak_report.upper_bound(0, 100), 1 - 0.05 ** 0.01, places=6)
        self.assertAlmostEqual(soak_report.upper_bound(0, 10), 1 - 0.05 ** 0.1, places=6)
        # one in 21: P(X <= 1 | 21, p) = 0.05 at p = 0.2057 (Clopper-Pearson)
        ub = soak_report.upper_bound(1, 21)
        self.assertAlmostEqual(soak_report.binom_cdf(1, 21, ub), 0.05, places=6)
        self.assertTrue(0.20 < ub < 0.21, ub)
        self.assertEqual(soak_report.upper_bound(5, 5), 1.0)
        self.assertEqual(soak_report.upper_bound(0, 0), 1.0)

    def test_pairs_ratios_and_a_hang(self):
        # pairs 1-4 alternate b p / p b; patched at 0.9 of the bandwidth in
        # b p pairs and 1.1 in p b pairs; pair 5: the patched run hangs on
        # vda randwrite4k
        for i in range(1, 5):
            self.run_dir("p%d-baseline" % i, soak_console(1000))
            self.run_dir("p%d-patched" % i, soak_console(900 if i % 2 else 1100))
        self.run_dir("p5-baseline", soak_console(1000))
        self.run_dir("p5-patched", soak_console(1000, stall=("vda", "randwrite4k")),
                     ok=False, stalled=True, device="vda")
        out = os.path.join(self.tmp, "out")
        self.assertEqual(soak_report.main(["--out", out, "--baseline", "baseline",
                                           "--patched", "patched", self.runs]), 0)
        with open(os.path.join(out, "report.json")) as fh:
            r = json.load(fh)
        self.assertEqual(r["kernels"]["baseline"]["runs"], 5)
        self.assertEqual(r["kernels"]["baseline"]["hangs"], 0)
        self.assertEqual(r["kernels"]["patched"]["hangs"], 1)
        self.assertAlmostEqual(r["kernels"]["patched"]["hang_rate_upper95"],
                               soak_report.upper_bound(1, 5), places=9)
        self.assertEqual(r["pairs"], 4)
        j = r["ratios"]["blk randwrite4k"]
        self.assertEqual(j["bp"]["n"], 2)
        self.assertAlmostEqual(j["bp"]["geomean"], 0.9, places=6)
        self.assertAlmostEqual(j["pb"]["geomean"], 1.1, places=6)
        self.assertAlmostEqual(j["all"]["geomean"], (0.9 * 1.1) ** 0.5, places=6)
        self.assertTrue(j["all"]["lo"] < j["all"]["geomean"] < j["all"]["hi"])
        md = open(os.path.join(out, "report.md")).read()
        self.assertIn("`p5-patched`: hang, device vda", md)

    def test_fio_runs_count_rounds(self):
        """soak.sh --rounds R: every boot runs the fio jobs R times; a fio
        run is one round, the hang rate per fio run is bounded over the
        rounds started, and a boot that hangs counts the round it hung in
        (one if it hung before the first)."""
        for i in (1, 2):
            self.run_dir("p%d-baseline" % i, soak_console(1000, rounds=3))
            self.run_dir("p%d-patched" % i, soak_console(1000, rounds=3))
        self.run_dir("p3-baseline", soak_console(1000, rounds=3))
        # hangs in its first round, on the sixth job
        self.run_dir("p3-patched", soak_console(1000, rounds=3, stall=("nvme0n1", "seqread1M")),
                     ok=False, stalled=True, device="nvme0n1")
        self.run_dir("p4-baseline", "HARNESS START uptime=2.0 mode=soak\n", ok=False,
                     timed_out=True)
        out = os.path.join(self.tmp, "out")
        self.assertEqual(soak_report.main(["--out", out, "--baseline", "baseline",
                                           "--patched", "patched", self.runs]), 0)
        with open(os.path.join(out, "report.json")) as fh:
            r = json.load(fh)
        b, p = r["kernels"]["baseline"], r["kernels"]["patched"]
        self.assertEqual((b["runs"], b["fio_runs"], b["hangs"]), (4, 10, 1))
        self.assertEqual((p["runs"], p["fio_runs"], p["hangs"]), (3, 7, 1))
        self.assertAlmostEqual(p["hang_rate_per_fio_run_upper95"],
                               soak_report.upper_bound(1, 7), places=9)
        self.assertAlmostEqual(p["hang_rate_upper95"], soak_report.upper_bound(1, 3), places=9)
        self.assertEqual(r["pairs"], 2)
        md = open(os.path.join(out, "report.md")).read()
        self.assertIn("| patched | 3 | 2 | 1 | 0 |", md)

    def test_run_without_summary_is_incomplete(self):
        """A run directory without summary.json (the soak was stopped
        during it, or is running it; soak.sh runs it again when resumed) is
        listed apart and counted neither as a boot nor as a failure; a
        summary.json that is there but broken is a failure."""
        self.run_dir("p1-baseline", soak_console(1000))
        self.run_dir("p1-patched", soak_console(1000))
        self.run_dir("p2-patched", soak_console(1000))
        bad = self.run_dir("p2-baseline", soak_console(1000))
        with open(os.path.join(bad, "summary.json"), "w") as fh:
            fh.write('{"ok": tr')
        d = os.path.join(self.runs, "p3-baseline")
        os.makedirs(d)
        with open(os.path.join(d, "console.log"), "w") as fh:
            fh.write("HARNESS START uptime=2.0 mode=soak\n")
        out = os.path.join(self.tmp, "out")
        self.assertEqual(soak_report.main(["--out", out, "--baseline", "baseline",
                                           "--patched", "patched", self.runs]), 0)
        with open(os.path.join(out, "report.json")) as fh:
            r = json.load(fh)
        b = r["kernels"]["baseline"]
        self.assertEqual((b["runs"], b["ok"], b["failures"]), (2, 1, 1))
        self.assertEqual(r["incomplete"], ["p3-baseline"])
        with open(os.path.join(out, "report.md")) as fh:
            md = fh.read()
        self.assertIn("## Incomplete runs (1), not counted", md)
        self.assertIn("- `p3-baseline`", md)
        self.assertNotIn("`p3-baseline`: failure", md)
        # nothing finished: an error, not an empty report
        shutil.rmtree(self.runs)
        os.makedirs(d)
        with self.assertRaises(SystemExit):
            soak_report.main(["--out", out, "--baseline", "baseline",
                              "--patched", "patched", self.runs])

    def test_busy_host_pairs_apart(self):
        """A pair whose run had a build beside it (host-load.json from
        soak.sh) is busy: the ratio over the quiet pairs leaves it out, the
        report names it; pairs without the file are not measured."""
        def load(d, f):
            with open(os.path.join(d, "host-load.json"), "w") as fh:
                json.dump({"wall_s": 45.0, "host_cpu_s": 90.0, "run_cpu_s": 80.0,
                           "foreign_cpus": f}, fh)
        bw = {1: 1000, 2: 500, 3: 1000, 4: 1000, 5: 1000, 6: 700}
        for i, p in bw.items():
            b = self.run_dir("p%d-baseline" % i, soak_console(1000))
            q = self.run_dir("p%d-patched" % i, soak_console(p))
            if i <= 5:
                load(b, 0.02)
                load(q, 0.9 if i == 2 else 0.05)
        out = os.path.join(self.tmp, "out")
        self.assertEqual(soak_report.main(["--out", out, "--baseline", "baseline",
                                           "--patched", "patched", self.runs]), 0)
        with open(os.path.join(out, "report.json")) as fh:
            r = json.load(fh)
        self.assertEqual(r["load"], {"quiet": 4, "busy": 1, "unknown": 1})
        self.assertEqual([b["pair"] for b in r["busy_pairs"]], [2])
        self.assertAlmostEqual(r["busy_pairs"][0]["ratio"], 0.5, places=6)
        self.assertEqual(r["ratio_all_jobs"]["n"], 6)
        q = r["ratio_all_jobs_quiet"]
        self.assertEqual(q["n"], 4)
        self.assertAlmostEqual(q["geomean"], 1.0, places=6)
        self.assertEqual(r["ratios"]["nvme seqread1M"]["quiet"]["n"], 4)
        with open(os.path.join(out, "report.md")) as fh:
            md = fh.read()
        self.assertIn("4 quiet pairs", md)
        self.assertIn("- pair 2: 0.02, 0.90; 0.500", md)
        # a malformed file is a run not measured, not a crash
        with open(os.path.join(self.runs, "p1-patched", "host-load.json"), "w") as fh:
            fh.write("[1, 2")
        self.assertIsNone(soak_report.load_run(os.path.join(self.runs, "p1-patched"))["foreign_cpus"])

    def test_soak_host_load(self):
        """soak.sh's host_load/host_load_record: CPU time of a finished child
        is the run's, a busy loop outside it is foreign.  The loops burn one
        second of CPU time, not of wall time, so that a loaded host (a kernel
        build beside the tests) gives them as long as they need.  The foreign
        one is a grandchild, orphaned at once: bash reaps a background child
        of its own, and its CPU time then counts as the run's."""
        s = os.path.join(BENCH, "soak.sh")
        burn = ("python3 -c 'import time\nwhile time.process_time() < 1: pass'")
        done = os.path.join(self.tmp, "foreign-done")
        script = """
            eval "$(sed -n '/^host_load() {/,/^}/p;/^host_load_record() {/,/^}/p' %s)"
            host_load; a=$LOAD
            %s
            host_load
            host_load_record "$a" "$LOAD"
            ( (%s; touch %s) & )
            while [ ! -e %s ]; do sleep 0.1; done
            host_load
            host_load_record "$a" "$LOAD"
        """ % (s, burn, burn, done, done)
        p = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        first, second = [json.loads(x) for x in p.stdout.split("\n") if x.strip()]
        self.assertGreater(first["run_cpu_s"], 0.95)
        # the foreign share is what the host spent beside the run
        self.assertAlmostEqual(first["foreign_cpus"] * first["wall_s"],
                               first["host_cpu_s"] - first["run_cpu_s"], delta=0.2)
        self.assertGreater(second["host_cpu_s"] - second["run_cpu_s"], 0.85)

    def test_cut_console_is_a_failure_not_a_ratio(self):
        self.run_dir("p1-baseline", soak_console(1000))
        self.run_dir("p1-patched", soak_console(1000).replace("iops=250 calls=0", "iops=250"))
        r = soak_report.load_run(os.path.join(self.runs, "p1-patched"))
        self.assertFalse(r["ok"])
        self.assertFalse(r["hang"])
        self.assertTrue(any("incomplete" in p for p in r["problems"]), r["problems"])

    def test_guest_stall_guard(self):
        """mode-bench.sh's guard prints HARNESS STALL when a job outlives
        harness.stall_s, and nothing when it ends in time (busybox sh)."""
        script = """
            uptime_s() { echo 1.0; }
            . %s
            B_STALL_S=1
            bench_watch vda slowjob; sleep 2; bench_unwatch
            bench_watch vda fastjob; bench_unwatch; sleep 2
        """ % os.path.join(GUEST, "mode-bench.sh")
        p = subprocess.run([BUSYBOX, "sh", "-c", script], capture_output=True,
                           text=True, timeout=30)
        self.assertIn("HARNESS STALL dev=vda job=slowjob after=1s", p.stdout)
        self.assertNotIn("fastjob", p.stdout)

    def test_soak_sh_options(self):
        s = os.path.join(BENCH, "soak.sh")
        p = subprocess.run([s, "--help"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0)
        self.assertIn("--runs", p.stdout)
        for bad in (["--runs", "0"], ["--kernels", "nope"], ["--stall", "30"], ["--bogus"]):
            p = subprocess.run([s] + bad, capture_output=True, text=True)
            self.assertNotEqual(p.returncode, 0, bad)

    def test_guest_soak_syntax(self):
        for f in ("mode-soak.sh", "mode-bench.sh"):
            p = subprocess.run([BUSYBOX, "sh", "-n", os.path.join(GUEST, f)],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, "%s: %s" % (f, p.stderr))


if __name__ == "__main__":
    unittest.main()
