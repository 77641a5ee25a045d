#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The main job ('make'): baseline-vs-patched conversion report.
#
# usage: scripts/main.sh [--help] [--cycles N]
#
# Installs what is missing, prepares the tree, builds convstat and the
# baseline and patched guest kernels, boots each in QEMU (TCG) with the same
# device matrix and workload, and writes results/: raw logs, JSON, a
# side-by-side Markdown table (results/report.md) and a memory picture per
# kernel.  Each kernel runs twice: --cycles N (default 10) and 50 nvme
# unbind/bind cycles, to show whether conversions grow with the workload,
# and once with swiotlb=1024 to force dynamic SWIOTLB growth.  Every
# output names the base version.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CYCLES=${CYCLES:-10}
while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	--cycles) CYCLES=$2; shift ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift
done

T0=$SECONDS
"$ROOT/scripts/deps.sh"
"$ROOT/scripts/prepare-tree.sh" all
make -s -C "$ROOT/scripts/convstat" O="$BIN"
"$ROOT/scripts/build-kernel.sh" baseline
"$ROOT/scripts/build-kernel.sh" patched
mkdir -p "$RESULTS"
cp "$BUILD/base-version" "$RESULTS/base-version"
runs=()
for v in baseline patched; do
	for c in $CYCLES 50; do
		label=$v; [ "$c" = "$CYCLES" ] || label=$v-cycles$c
		log "main: booting $v (cycles=$c)"
		"$ROOT/scripts/harness/run.sh" --variant "$v" --label "$label" --cycles "$c"
		runs+=("$RESULTS/runs/$label")
	done
	log "main: booting $v (swiotlb=1024: a 2 MiB boot pool, forces dynamic growth)"
	"$ROOT/scripts/harness/run.sh" --variant "$v" --label "$v-swiotlb" \
		--cycles "$CYCLES" --swiotlb 1024
	runs+=("$RESULTS/runs/$v-swiotlb")
done
python3 "$ROOT/scripts/harness/report.py" --out "$RESULTS" "${runs[@]}"
log "main: done in $((SECONDS - T0))s: ${RESULTS#"$ROOT"/}/report.md"
