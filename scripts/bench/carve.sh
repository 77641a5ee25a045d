#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# How to carve allocations out of the 2 MiB shared chunks: the series'
# bitmaps vs lib/genalloc as kernel/dma/pool.c uses it, measured in one run.
#
# usage: scripts/bench/carve.sh [--help] [--smp LIST] [--reps N] [--ms MS]
#                               [--variant V] [--out DIR]
#
#   --smp LIST   vCPU counts, one boot each (default 1,8)
#   --reps N     runs of each scheme per boot, alternating (default 3)
#   --ms MS      length of one run (default 1000)
#   --variant V  kernel build/kbuild/V (default patched)
#   --out DIR    runs and report (default results/bench/carve)
#
# Each boot (scripts/harness/run.sh --mode carve --cvm off: carving needs no
# conversion) loads kernel/modules/cvm_carve_bench, which carves random
# page-granular, order-aligned allocations (1 page to 64 KiB, 64 per
# thread) out of the same eight 2 MiB chunks with each scheme, one thread
# per vCPU (scripts/guest/mode-carve.sh).  Writes DIR/report.md: median
# ops/s per scheme and vCPU count, the genalloc/bitmap ratio, and the
# bookkeeping bytes per chunk.  Under TCG, vCPUs beyond the host's cores
# share them: only the ratio of one boot means something.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

SMPS=1,8 REPS=3 MS=1000 VARIANT=patched OUT=$ROOT/results/bench/carve
while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	--smp) SMPS=$2; shift ;;
	--reps) REPS=$2; shift ;;
	--ms) MS=$2; shift ;;
	--variant) VARIANT=$2; shift ;;
	--out) OUT=$2; shift ;;
	*) die "carve: unknown argument '$1' (see --help)" ;;
	esac
	shift
done
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "carve: --reps needs a positive number"
[[ $MS =~ ^[1-9][0-9]*$ ]] || die "carve: --ms needs a positive number"
mkdir -p "$OUT"
IFS=, read -r -a smp_list <<<"$SMPS"
for n in "${smp_list[@]}"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "carve: bad vCPU count '$n'"
	"$ROOT/scripts/harness/run.sh" --variant "$VARIANT" --label "carve-smp$n" \
		--out "$OUT/smp$n" --mode carve --cvm off --smp "$n" --cycles 0 \
		--timeout $((240 + REPS * MS * 2 * n / 1000)) \
		--extra-append "harness.carve_reps=$REPS harness.carve_ms=$MS" ||
		die "carve: the run with $n vCPU(s) failed (see ${OUT#"$ROOT"/}/smp$n)"
done
python3 - "$OUT" "${smp_list[@]}" <<'PY'
import re, statistics, sys
out, smps = sys.argv[1], sys.argv[2:]
rows, over = [], {}
for n in smps:
    ops = {"bitmap": [], "genalloc": []}
    fails = {"bitmap": 0, "genalloc": 0}
    for line in open("%s/smp%s/console.log" % (out, n), errors="replace"):
        m = re.match(r"CHECK carve (\w+)-\d+ PASS (.*)", line.strip())
        if not m:
            continue
        kv = dict(w.split("=", 1) for w in m.group(2).split() if "=" in w)
        ops[m.group(1)].append(int(kv["ops_per_s"]))
        fails[m.group(1)] += int(kv["fails"])
        over[m.group(1)] = kv["overhead_bytes_per_chunk"]
    if not ops["bitmap"] or not ops["genalloc"]:
        sys.exit("carve: no result in smp%s/console.log" % n)
    b, g = statistics.median(ops["bitmap"]), statistics.median(ops["genalloc"])
    rows.append((n, b, g, g / b, fails["bitmap"], fails["genalloc"], len(ops["bitmap"])))
with open(out + "/report.md", "w") as f:
    f.write("# Carving 2 MiB chunks: bitmap (the series) vs genalloc\n\n")
    f.write("| vCPUs | runs | bitmap ops/s | genalloc ops/s | genalloc/bitmap | no-room bitmap/genalloc |\n")
    f.write("|---|---|---|---|---|---|\n")
    for n, b, g, r, fb, fg, k in rows:
        f.write("| %s | %d | %d | %d | %.2f | %d / %d |\n" % (n, k, b, g, r, fb, fg))
    f.write("\nBookkeeping per 2 MiB chunk: bitmap %s B, genalloc %s B.\n" % (
        over.get("bitmap"), over.get("genalloc")))
print(open(out + "/report.md").read())
PY
