#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Side-by-side report of harness runs (python3, standard library only).

usage: report.py [--out DIR] [--name NAME] [--base-version FILE] RUNDIR...

Each RUNDIR is an output directory of scripts/harness/run.sh (summary.json,
convstat.json, guest.json, map.txt).  Writes into DIR (default results/):

  NAME.md                tables: runs, analyzer figures, host cost (modelled),
                         guest counters, cross-check, checks, timing,
                         misaligned calls by site
  NAME.json              the same data, machine-readable
  <label>-memory.svg     guest memory as a grid of 2 MiB regions coloured
                         private / shared / mixed (state at the end of the run);
                         NAME-<label>-memory.svg if NAME is not "report"

NAME defaults to "report" (make's report); make harness uses another one so
that it does not overwrite make's.

Columns are ordered baseline first, then patched, then the rest as given.
"""
import argparse
import html
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
REGION = 2 << 20

COLOURS = {"private": "#d9d9d9", "shared": "#2b83ba", "mixed": "#d7191c"}


def load_json(path, default=None):
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return default


def load_run(d):
    s = load_json(os.path.join(d, "summary.json"))
    if s is None:
        raise SystemExit("report: %s has no readable summary.json "
                         "(run scripts/harness/run.sh first)" % d)
    conv = load_json(os.path.join(d, "convstat.json"), {}) or {}
    guest = load_json(os.path.join(d, "guest.json"), None)
    if guest is None:
        guest = s.get("guest", {})
    regions = []
    try:
        with open(os.path.join(d, "map.txt")) as fh:
            regions = analyze.parse_map(fh.read())
    except OSError:
        pass
    return {"dir": d, "label": s.get("label") or os.path.basename(
        os.path.abspath(d)), "summary": s, "convstat": conv, "guest": guest,
        "regions": regions}


def order_runs(runs):
    def key(ir):
        i, r = ir
        v = r["summary"].get("variant") or r["label"]
        rank = {"baseline": 0, "patched": 1}.get(v, 2)
        return (rank, i)
    return [r for _, r in sorted(enumerate(runs), key=key)]


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        return "%.1f" % v
    return str(v)


def table(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" if i == 0 else "---:"
                          for i in range(len(header))) + "|"]
    for r in rows:
        out.append("| " + " | ".join(fmt(c) for c in r) + " |")
    return out


def delta(a, b):
    if isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool):
        d = b - a
        if a:
            return "%+d (%+.0f%%)" % (d, 100.0 * d / a)
        return "%+d" % d
    return ""


# convstat's host-cost figures (Documentation/conversion-log.md)
HOST_COST = ("split_2m_ever", "double_alloc_peak_bytes")


def conv_figure(run, f):
    """Figure F of convstat for RUN: convstat.json, else the summary."""
    return (run["convstat"] or {}).get(f, (run["summary"].get("convstat")
                                           or {}).get(f))


def host_fmt(f, v):
    if f.endswith("_bytes") and isinstance(v, int) and not isinstance(v, bool):
        return "%d (%.1f MiB)" % (v, v / (1 << 20))
    return fmt(v)


# -- memory picture ----------------------------------------------------------

INVENTORY = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "..", "..", "Documentation", "conversion-sites.tsv")


def load_inventory(path=INVENTORY):
    """The conversion-site inventory (scripts/inventory.sh): a list of
    dicts, one per row; [] if the table cannot be read."""
    try:
        with open(path) as fh:
            lines = [l.rstrip("\n").split("\t") for l in fh if l.strip()]
    except OSError:
        return []
    return [dict(zip(lines[0], l)) for l in lines[1:]]


def inventory_of(site, inventory):
    """The inventory rows of a conversion-log site ("S f1<f2<f3"): those
    whose enclosing function is the first of the site's frames that has
    one, as "file:function [handling]"; "" if none (an inlined helper)."""
    frames = site.split(" ", 1)[-1].split("<")
    for f in frames:
        rows = [r for r in inventory if r.get("function") == f]
        if rows:
            return "; ".join(sorted({"%s:%s [%s]" % (
                r["file"], r["function"], r["handling"]) for r in rows}))
    return ""


def ram_regions(summary, regions):
    """Bases of the 2 MiB regions to draw: every region overlapping usable
    RAM (e820 from the console), plus every region the log touched."""
    bases = set()
    ranges = summary.get("ram_ranges") or []
    if not ranges:
        mem = summary.get("mem_bytes") or analyze.mem_bytes(
            summary.get("mem")) or (2 << 30)
        # q35: RAM up to 2 GiB below 4 GiB if it does not all fit under
        # the 2.75 GiB PCI hole, the rest from 4 GiB
        if mem <= 0xB0000000:
            ranges = [[0, mem]]
        else:
            ranges = [[0, 0x80000000], [1 << 32, (1 << 32) + mem - 0x80000000]]
    for start, end in ranges:
        b = start - start % REGION
        while b < end:
            bases.add(b)
            b += REGION
    for base, _, _ in regions:
        bases.add(base)
    return sorted(bases)


def memory_svg(run, cols=32, cell=14, gap=1):
    s = run["summary"]
    state = {b: (st, sp) for b, sp, st in run["regions"]}
    bases = ram_regions(s, run["regions"])
    counts = {"private": 0, "shared": 0, "mixed": 0}
    left, top = 96, 64
    rows = (len(bases) + cols - 1) // cols
    width = left + cols * (cell + gap) + 20
    height = top + rows * (cell + gap) + 84
    conv = run["convstat"] or s.get("convstat") or {}
    title = "%s: guest memory by 2 MiB region at the end of the run" % run["label"]
    sub = "%s | %s | %d regions | calls %s, misaligned %s, mixed 2M end %s (peak %s)" % (
        s.get("kernel_release") or "?", s.get("mem") or "?", len(bases),
        fmt(conv.get("calls")), fmt(conv.get("misaligned")),
        fmt(conv.get("mixed_2m_end")), fmt(conv.get("mixed_2m_peak")))
    # monospace: under 9 px per character at 14 px bold, 7 px at 11 px
    width = int(max(width, 24 + 9 * len(title), 24 + 7 * len(sub),
                    24 + 7 * 72))
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'viewBox="0 0 %d %d" font-family="monospace" font-size="11">'
           % (width, height, width, height),
           '<rect x="0" y="0" width="%d" height="%d" fill="white"/>'
           % (width, height),
           '<text x="8" y="18" font-size="14" font-weight="bold">%s</text>'
           % html.escape(title),
           '<text x="8" y="36">%s</text>' % html.escape(sub)]
    prev = None
    for i, b in enumerate(bases):
        r, c = divmod(i, cols)
        x = left + c * (cell + gap)
        y = top + r * (cell + gap)
        if c == 0:
            jump = prev is not None and b != prev + REGION
            out.append('<text x="%d" y="%d" text-anchor="end"%s>0x%09x</text>'
                       % (left - 6, y + cell - 3,
                          ' fill="#b00"' if jump else "", b))
        st, sp = state.get(b, ("private", 0))
        if st not in COLOURS:
            st = "mixed"
        counts[st] += 1
        out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="%s" '
                   'class="%s"><title>0x%x: %s, %d shared 4 KiB pages</title>'
                   '</rect>' % (x, y, cell, cell, COLOURS[st], st, b, st, sp))
        prev = b
    ly = top + rows * (cell + gap) + 22
    lx = 8
    for st in ("private", "shared", "mixed"):
        out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="%s" '
                   'stroke="#555"/>' % (lx, ly - cell + 3, cell, cell,
                                        COLOURS[st]))
        out.append('<text x="%d" y="%d">%s (%d)</text>'
                   % (lx + cell + 5, ly, st, counts[st]))
        lx += 170
    out.append('<text x="8" y="%d">one cell = 2 MiB of guest-physical '
               'memory, %d per row (%d MiB)</text>'
               % (ly + 22, cols, cols * 2))
    out.append('<text x="8" y="%d">mixed = shared and private 4 KiB pages '
               'in one region: the host splits its huge page</text>'
               % (ly + 38))
    out.append("</svg>")
    return "\n".join(out) + "\n", counts


# -- report ------------------------------------------------------------------

def build(run_dirs, out_dir, base_version_file=None, report_name="report"):
    runs = order_runs([load_run(d) for d in run_dirs])
    labels = [r["label"] for r in runs]
    if len(set(labels)) != len(labels):
        raise SystemExit("report: two runs share a label (%s): give them "
                         "distinct --label values" % ", ".join(labels))
    bv = None
    bvf = base_version_file or os.path.join(ROOT, "build", "base-version")
    try:
        with open(bvf) as fh:
            bv = fh.read().strip()
    except OSError:
        pass
    run_bvs = sorted({r["summary"].get("base_version") for r in runs
                      if r["summary"].get("base_version")})
    bv = bv or (run_bvs[0] if run_bvs else "unknown")
    two = len(runs) == 2
    hdr = lambda first: [first] + labels + (["change"] if two else [])

    md = ["# cvm-dma-align: harness report", "",
          "Base: `%s`" % bv, ""]
    if run_bvs and any(x != bv for x in run_bvs):
        md += ["**Note:** the runs were made on other bases: %s" %
               ", ".join("`%s`" % x for x in run_bvs), ""]

    # runs
    md += ["## Runs", ""]
    rows = []
    for k, name in (("kernel_release", "kernel"), ("platform", "platform"),
                    ("cvm", "emulated CVM"), ("mem", "memory"),
                    ("smp", "vCPUs"), ("cycles", "nvme rebind cycles"),
                    ("swiotlb", "swiotlb="), ("harness_id", "workload id"),
                    ("ok", "run ok")):
        rows.append([name] + [r["summary"].get(k) for r in runs] +
                     ([""] if two else []))
    md += table(hdr("run"), rows) + [""]

    # analyzer figures
    md += ["## Conversions (analyzer: convstat on the conversion log)", ""]
    rows = []
    for f in analyze.CONVSTAT_FIGURES:
        vals = [conv_figure(r, f) for r in runs]
        rows.append([f] + vals + ([delta(vals[0], vals[1])] if two else []))
    md += table(hdr("figure"), rows) + [""]

    # host cost, side by side
    md += ["## Host cost (modelled: 2 MiB host pages)", "",
           "The guest cannot count these; convstat models them from the "
           "conversion log (Documentation/conversion-log.md, \"Host cost\"). "
           "`split_2m_ever`: 2 MiB regions ever mixed (shared and private "
           "4 KiB pages after a call), each split once and for good on a TDX "
           "host.  `double_alloc_peak_bytes`: peak, over calls, of the shared "
           "bytes in mixed regions, backed twice with hugetlb-backed "
           "guest_memfd (the private 2 MiB page stays).", ""]
    rows = []
    for f in HOST_COST:
        vals = [conv_figure(r, f) for r in runs]
        rows.append([f] + [host_fmt(f, v) for v in vals] +
                    ([delta(vals[0], vals[1])] if two else []))
    md += table(hdr("host cost"), rows) + [""]

    # guest counters
    names = []
    for r in runs:
        for n in sorted(r["guest"]):
            if n not in names:
                names.append(n)
    md += ["## Guest counters (the guest's own debugfs)", ""]
    if names:
        rows = []
        for n in names:
            vals = [r["guest"].get(n) for r in runs]
            rows.append([n] + vals + ([delta(vals[0], vals[1])] if two else []))
        md += table(hdr("counter"), rows) + [""]
    else:
        md += ["(no run printed guest counters)", ""]

    # cross-check
    md += ["## Cross-check: analyzer vs guest counters", ""]
    fields = list(analyze.CROSS_FIELDS) + ["shared_bytes_end"]
    rows = []
    for f in fields:
        row = [f]
        for r in runs:
            xc = r["summary"].get("crosscheck") or {}
            e = next((x for x in xc.get("fields") or [] if x["name"] == f),
                     None)
            if e is None:
                row.append("n/a")
            elif e["ok"]:
                row.append("= %s" % fmt(e["analyzer"]))
            else:
                row.append("**MISMATCH** %s / %s" % (fmt(e["analyzer"]),
                                                     fmt(e["guest"])))
        rows.append(row + ([""] if two else []))
    rows.append(["result"] + [
        {True: "agree", False: "**MISMATCH**", None: "n/a"}[
            (r["summary"].get("crosscheck") or {}).get("ok")] for r in runs] +
        ([""] if two else []))
    md += table(hdr("field"), rows) + [""]

    # checks
    md += ["## I/O and device checks", ""]
    cks = []
    for r in runs:
        for c in (r["summary"].get("checks") or {}):
            if c not in cks:
                cks.append(c)
    rows = [[c] + [(r["summary"].get("checks") or {}).get(c) for r in runs] +
            ([""] if two else []) for c in cks]
    rows.append(["host re-read of the disk images"] + [
        ("%d/%d ok" % (sum(1 for v in r["summary"].get("host_verify") or []
                           if v.get("ok")),
                       len(r["summary"].get("host_verify") or [])))
        for r in runs] + ([""] if two else []))
    rows.append(["DMA-to-private detector"] + [
        r["summary"].get("detector_dma_to_private") for r in runs] +
        ([""] if two else []))
    md += table(hdr("check"), rows) + [""]

    # timing
    md += ["## Timing (seconds)", ""]
    rows = []
    for k, name in (("boot_s", "boot to workload (guest uptime)"),
                    ("workload_end_uptime_s", "workload end (guest uptime)"),
                    ("host_boot_s", "QEMU start to workload (host)"),
                    ("wall_s", "QEMU wall time (host)")):
        rows.append([name] + [(r["summary"].get("timing") or {}).get(k)
                              for r in runs] + ([""] if two else []))
    md += table(hdr("phase"), rows) + [""]

    # sites
    md += ["## Misaligned conversion calls by site", "",
           "Site = direction + first three frames (offsets stripped); "
           "inventory = the rows of the checked conversion-site inventory "
           "for the first frame that has one, with how the series handles "
           "them.", ""]
    sites = {}
    for i, r in enumerate(runs):
        for e in (r["convstat"] or {}).get("sites") or []:
            sites.setdefault(e["site"], [None] * len(runs))
            sites[e["site"]][i] = e
    if sites:
        order = sorted(sites, key=lambda k: (
            -max((e or {}).get("calls", 0) for e in sites[k]), k))
        inv = load_inventory()
        h = ["site"]
        for l in labels:
            h += ["%s calls" % l, "%s pages" % l]
        h += ["inventory (Documentation/conversion-sites.tsv)"]
        rows = []
        for k in order:
            row = ["`%s`" % k]
            for e in sites[k]:
                row += [(e or {}).get("calls", 0), (e or {}).get("pages", 0)]
            rows.append(row + [inventory_of(k, inv) or "-"])
        md += table(h, rows) + [""]
    else:
        md += ["(no misaligned calls in any run)", ""]

    # memory pictures
    md += ["## Guest memory at the end of the run", "",
           "Each cell is a 2 MiB region of guest-physical memory: grey "
           "private, blue shared, red mixed (shared and private 4 KiB pages "
           "in one region, which splits the host's huge page).", ""]
    os.makedirs(out_dir, exist_ok=True)
    pictures = {}
    for r in runs:
        svg, counts = memory_svg(r)
        svg_name = "%s-memory.svg" % r["label"]
        if report_name != "report":
            svg_name = "%s-%s" % (report_name, svg_name)
        with open(os.path.join(out_dir, svg_name), "w") as fh:
            fh.write(svg)
        pictures[r["label"]] = {"file": svg_name, "regions": counts}
        md += ["### %s" % r["label"], "",
               "![%s](%s)" % (r["label"], svg_name), "",
               "private %(private)d, shared %(shared)d, mixed %(mixed)d "
               "regions" % counts, ""]

    # failures
    fails = [(r["label"], f) for r in runs for f in
             r["summary"].get("failures") or []]
    if fails:
        md += ["## Failures", ""]
        md += ["- %s: %s" % (l, f.splitlines()[0]) for l, f in fails]
        md += [""]

    with open(os.path.join(out_dir, report_name + ".md"), "w") as fh:
        fh.write("\n".join(md))
    rep = {"base_version": bv,
           "runs": [{"label": r["label"], "dir": os.path.relpath(r["dir"], out_dir),
                     "summary": r["summary"], "convstat": r["convstat"],
                     "guest": r["guest"], "memory_svg": pictures[r["label"]]}
                    for r in runs]}
    with open(os.path.join(out_dir, report_name + ".json"), "w") as fh:
        json.dump(rep, fh, indent=1, sort_keys=True)
        fh.write("\n")
    return rep


def _description():
    """The module docstring without its usage paragraph (argparse prints
    its own)."""
    parts = __doc__.strip().split("\n\n")
    return "\n\n".join(parts[:1] + parts[2:])


def main(argv):
    ap = argparse.ArgumentParser(
        prog="report.py", description=_description(),
        usage="%(prog)s [--out DIR] [--name NAME] [--base-version FILE] "
        "RUNDIR...", formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "results"),
                    metavar="DIR", help="output directory (default results/)")
    ap.add_argument("--name", default="report",
                    help="base name of the .md and .json files (default "
                    "report)")
    ap.add_argument("--base-version", metavar="FILE",
                    help="file with the base tree's version")
    ap.add_argument("dirs", nargs="+", metavar="RUNDIR")
    a = ap.parse_args(argv)
    if not re.match(r"^[A-Za-z0-9._-]+$", a.name):
        ap.error("--name: letters, digits, . _ - only: %r" % a.name)
    build(a.dirs, a.out, a.base_version, a.name)
    print("report: %s (%d runs)" % (os.path.join(a.out, a.name + ".md"),
                                    len(a.dirs)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
