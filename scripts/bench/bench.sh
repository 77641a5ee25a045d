#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench: guest cost and host cost of the series, baseline vs patched,
# side by side from the same run; writes results/bench/report.md + SVG plots.
#
# usage: scripts/bench/bench.sh [--help] [--quick] [--axis LIST] [--reps N]
#                               [--reuse] [--report-only]
#
#   --axis LIST   comma-separated subset of (default: all, in this order)
#                   boot    --mode boot, REPS x 2 kernels: boot-time ratio
#                   micro   --mode bench, REPS x 2 kernels: per-step
#                           conversions, dma_alloc_coherent+free ops/s
#                           (cvm_dma_bench module), dma_map_benchmark, fio
#                   plain   the micro workload on a plain VM (--cvm off),
#                           REPS x 2 kernels, then REPS x 2 with
#                           swiotlb=force: what non-CVM kernels pay
#                   mem     default workload at 1, 4, 16 GiB
#                   smp     default workload at 1, 8 vCPUs
#                   cycles  default workload at 100, 1000 nvme rebind cycles
#                 (the scale axes share the default point 2 GiB, 2 vCPU,
#                 10 cycles, run once per kernel)
#   --reps N      repetitions of boot (default 5) and micro (default 3)
#   --quick       short version, into results/bench-quick/: reps 1 (boot 3),
#                 100 ms per dma_alloc run, 1 s per fio job and dma_map run;
#                 scale axes at 1 GiB, 1 vCPU and 100 cycles only
#   --reuse       keep runs that already have an ok summary.json (continue
#                 an interrupted bench)
#   --report-only only write the report from the runs in results/bench/runs
#
# Baseline and patched runs alternate (b, p, b, p, ...) so that load on the
# machine hits both alike; every figure of the report is a ratio of the two
# kernels from the same bench.  Runs: results/bench/runs/LABEL (run.sh
# outputs).  Each run prints progress lines; bench.sh prints the estimated
# total first and "[k/N]" with the elapsed time before each run.  The micro
# runs boot the bench variants of the kernels (scripts/build-kernel.sh
# bench, benchbase: + configs/bench.config) with the lockup and hung-task
# detectors on (run.sh --detectors); a
# fio job that outlives 90 s makes the guest dump its tasks, and 150 s
# without console output make the host collect QEMU's state (run.sh
# --stall) before it kills the guest.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

AXES=boot,micro,plain,mem,smp,cycles
REPS=
QUICK=0
REUSE=0
REPORT_ONLY=0
while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	--axis) AXES=$2; shift ;;
	--reps) REPS=$2; shift ;;
	--quick) QUICK=1 ;;
	--reuse) REUSE=1 ;;
	--report-only) REPORT_ONLY=1 ;;
	*) die "bench: unknown argument '$1' (see --help)" ;;
	esac
	shift
done
for a in ${AXES//,/ }; do
	case $a in boot|micro|plain|mem|smp|cycles) ;; *) die "bench: unknown axis '$a' (see --help)" ;; esac
done
has_axis() { case ",$AXES," in *",$1,"*) return 0 ;; esac; return 1; }

OUTD=$RESULTS/bench
# a quick bench never mixes its short runs into the full one's
[ $QUICK -eq 1 ] && OUTD=$RESULTS/bench-quick
RUNS=$OUTD/runs
BB=$BUILD/bench
mkdir -p "$RUNS" "$BB"

if [ $QUICK -eq 1 ]; then
	BOOT_REPS=${REPS:-3} MICRO_REPS=${REPS:-1}
	MICRO_APPEND="harness.bench_ms=100 harness.bench_fio_s=1 harness.bench_map_s=1 harness.stall_s=90"
	MEMS="1G" SMPS="1" CYCLESS="100"
else
	BOOT_REPS=${REPS:-5} MICRO_REPS=${REPS:-3}
	MICRO_APPEND="harness.bench_ms=300 harness.bench_fio_s=3 harness.bench_map_s=2 harness.stall_s=90"
	MEMS="1G 4G 16G" SMPS="1 8" CYCLESS="100 1000"
fi

# ---- the plan: one line per run: LABEL VARIANT EST_SECONDS run.sh-args ----
PLAN=()
add() { PLAN+=("$*"); }
if has_axis boot; then
	for i in $(seq 1 "$BOOT_REPS"); do
		for v in baseline patched; do add "boot-r$i-$v $v 20 --mode boot"; done
	done
fi
if has_axis micro; then
	for i in $(seq 1 "$MICRO_REPS"); do
		for v in baseline patched; do
			add "micro-r$i-$v $v $([ $QUICK -eq 1 ] && echo 70 || echo 110) --mode bench --timeout 900 @EXTRA-$v"
		done
	done
fi
if has_axis plain; then
	for k in plain plainsw; do
		for i in $(seq 1 "$MICRO_REPS"); do
			for v in baseline patched; do
				add "$k-r$i-$v $v $([ $QUICK -eq 1 ] && echo 70 || echo 110) --mode bench --cvm off --timeout 900 @EXTRA-$v$([ $k = plainsw ] && echo " @SWFORCE")"
			done
		done
	done
fi
if has_axis mem || has_axis smp || has_axis cycles; then
	for v in baseline patched; do add "scale-default-$v $v 35"; done
fi
if has_axis mem; then
	for m in $MEMS; do
		est=35; [ "$m" = 16G ] && est=50
		for v in baseline patched; do add "scale-mem-$m-$v $v $est --mem $m --timeout 1500"; done
	done
fi
if has_axis smp; then
	for s in $SMPS; do
		est=35; [ "$s" -ge 8 ] && est=60
		for v in baseline patched; do add "scale-smp-$s-$v $v $est --smp $s --timeout 1200"; done
	done
fi
if has_axis cycles; then
	for c in $CYCLESS; do
		# measured: ~0.3 s per nvme unbind/bind cycle under TCG
		est=$((30 + c * 3 / 10))
		for v in baseline patched; do add "scale-cycles-$c-$v $v $est --cycles $c --timeout $((600 + c * 2))"; done
	done
fi

# the kernel of a micro run: the variant with the hang detectors
micro_variant() { case $1 in baseline) echo benchbase ;; patched) echo bench ;; *) echo "$1" ;; esac; }

run_ok() {
	[ -f "$1/summary.json" ] &&
		python3 -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1])).get("ok") else 1)' "$1/summary.json"
}

if [ $REPORT_ONLY -eq 0 ]; then
	"$ROOT/scripts/deps.sh"
	[ -x "$BIN/convstat" ] || make -s -C "$ROOT/scripts/convstat" O="$BIN"
	# baseline and patched for the boot and scale axes, benchbase and
	# bench (the same + the hang detectors, configs/bench.config) for the
	# micro runs
	for v in baseline patched benchbase bench; do
		# the series under test (SERIES_REF), not whatever was built last:
		# an incremental build, a no-op when nothing changed
		"$ROOT/scripts/build-kernel.sh" "$v" || die "bench: the $v kernel does not build"
		grep -q '^CONFIG_DMA_MAP_BENCHMARK=y' "$KBUILD/$v/.config" ||
			die "bench: the $v kernel lacks CONFIG_DMA_MAP_BENCHMARK: rebuild it ('make build-$v')"
	done
	# the machine, for the report
	{
		echo "date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "host $(uname -srm)"
		echo "cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
		echo "cpus $(nproc)"
		echo "mem_kib $(awk '/MemTotal/ { print $2 }' /proc/meminfo)"
		echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "qemu $(qemu-system-x86_64 --version | head -n1)"
		echo "base $(cat "$BUILD/base-version" 2>/dev/null)"
		echo "axes $AXES quick=$QUICK boot_reps=$BOOT_REPS micro_reps=$MICRO_REPS"
		# which trees the kernels were built from (configure stamp: config hash-HEAD)
		echo "kernels baseline $(cut -d- -f2 "$KBUILD/baseline/.cfgstamp" 2>/dev/null | cut -c1-12) (test-base), patched $(cut -d- -f2 "$KBUILD/patched/.cfgstamp" 2>/dev/null | cut -c1-12) (test-series)"
	} >"$OUTD/machine.txt"
	if has_axis micro || has_axis plain; then
		# test-only module + tools archive, for the micro runs only
		"$ROOT/scripts/bench/mktools.sh" --out "$BB/tools.cpio.gz"
		mkdir -p "$BB/modsrc"
		ln -sfn "$ROOT/kernel/modules/cvm_dma_bench" "$BB/modsrc/cvm_dma_bench"
		for v in baseline patched; do
			MODSRC=$BB/modsrc "$ROOT/scripts/harness/modules.sh" \
				--out "$BB/modules-$v.cpio.gz" "$(micro_variant "$v")"
			cat "$BB/modules-$v.cpio.gz" "$BB/tools.cpio.gz" >"$BB/extra-$v.cpio.gz"
		done
	fi
	total=0
	# a PLAN entry is "LABEL VARIANT ESTIMATE ARGS...": split on purpose
	# shellcheck disable=SC2086
	for p in "${PLAN[@]}"; do set -- $p; total=$((total + $3)); done
	log "bench: ${#PLAN[@]} runs (axes $AXES), estimated $((total / 60)) min on an idle 2-CPU host (TCG; a loaded host takes longer)"
	# the scale and boot runs use the default initramfs and no module
	mkdir -p "$BB/no-modules"
	T0=$SECONDS
	k=0
	failed=0
	for p in "${PLAN[@]}"; do
		# shellcheck disable=SC2086 # split on purpose, as above
		set -- $p
		label=$1 v=$2 est=$3
		shift 3
		k=$((k + 1))
		args=()
		extra=()
		app=
		for a in "$@"; do
			case $a in
			@EXTRA-*) extra=(--initrd-extra "$BB/extra-${a#@EXTRA-}.cpio.gz"
				 --stall 150 --detectors); app=$MICRO_APPEND ;;
			@SWFORCE) app="$app swiotlb=force" ;;
			*) args+=("$a") ;;
			esac
		done
		[ -n "$app" ] && extra+=(--extra-append "$app")
		# micro runs (those with the tools archive) boot the bench kernels
		[ -n "$app" ] && v=$(micro_variant "$v")
		out=$RUNS/$label
		if [ $REUSE -eq 1 ] && run_ok "$out"; then
			log "bench: [$k/${#PLAN[@]}] $label: reusing the existing run"
			continue
		fi
		el=$((SECONDS - T0))
		log "bench: [$k/${#PLAN[@]}] $label (~${est}s; ${el}s elapsed)"
		if ! MODSRC=$BB/no-modules "$ROOT/scripts/harness/run.sh" --variant "$v" \
			--label "$label" --out "$out" "${args[@]}" "${extra[@]}" 2>&1 |
			sed 's/^/    /'; then
			warn "bench: $label failed (kept in the report as failed)"
			failed=$((failed + 1))
		fi
	done
	log "bench: runs done in $((SECONDS - T0))s, $failed failed"
fi

labels=()
# shellcheck disable=SC2086 # split on purpose, as above
for p in "${PLAN[@]}"; do set -- $p; [ -d "$RUNS/$1" ] && labels+=("$RUNS/$1"); done
[ ${#labels[@]} -gt 0 ] || die "bench: no runs in ${RUNS#"$ROOT"/}"
python3 "$ROOT/scripts/bench/report.py" --out "$OUTD" \
	--base-version "$BUILD/base-version" --machine "$OUTD/machine.txt" "${labels[@]}"
log "bench: report ${OUTD#"$ROOT"/}/report.md"
