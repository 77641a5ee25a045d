#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make soak: many boots of the baseline and the patched kernel, each running
# the fio jobs of make bench, to bound the rate of storage hangs and to
# measure the fio ratio in alternating (ABBA) order.
#
# usage: scripts/bench/soak.sh [--help] [--runs N] [--kernels bench|debug]
#                              [--rounds R] [--fio-s S] [--stall S]
#                              [--out DIR] [--report-only]
#
#   --runs N        boots per kernel (default 20); pairs of boots alternate
#                   their order, b p, p b, b p, ... (ABBA)
#   --kernels K     bench (default): the kernels of make bench's micro runs
#                   (variants benchbase and bench: baseline and patched +
#                   configs/bench.config, the hang detectors); debug:
#                   kasanbase and kasan (the same + configs/debug.config and
#                   configs/kasan.config: lockdep, KASAN, DMA-API debugging)
#   --rounds R      rounds of the 8 fio jobs per boot (default 5): a fio run
#                   is one round, so the defaults make 100 fio runs per
#                   kernel
#   --fio-s S       seconds per fio job (default 3, as make bench)
#   --stall S       the host collects the guest's state and kills it after S
#                   seconds without a progress line (default 150); the guest
#                   dumps its tasks (sysrq w, t) when a job has run for
#                   S - 60 seconds
#   --out DIR       default results/soak (--kernels debug: results/soak-debug)
#   --report-only   only write the report from the runs in DIR/runs
#   --inject-stall  check the hang diagnosis instead: one patched run whose
#                   virtio-blk disk the host throttles to 1 byte/s (QMP
#                   block_set_io_throttle) once fio's first write job on it
#                   starts; passes if the guest dumps its tasks, the host
#                   collects QEMU's state, and both name vda (into
#                   DIR/inject-stall)
#
# Resumable: a run whose directory has a summary.json is kept, so an
# interrupted soak goes on where it stopped; delete DIR to start again.
# Every boot runs with the lockup and hung-task detectors on (run.sh
# --detectors).  A run is a hang if the host saw a stall (run.sh --stall),
# the guest reported one (HARNESS STALL) or QEMU ran into its timeout.
# Output: DIR/report.md and report.json (scripts/bench/soak_report.py): per
# kernel the boots, fio runs, hangs and the 95 % upper bounds of the hang
# rate per boot and per fio run; per fio job the patched/baseline ratio with
# its 95 % interval over the pairs; the counters around every job.  A boot
# takes about 15 s plus 32 s per round on this machine (TCG, 2 CPUs): the
# defaults (40 boots) take about 2 h.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

RUNS_N=20
KERNELS=bench
ROUNDS=5
FIO_S=3
STALL=150
OUTD=
REPORT_ONLY=0
INJECT=0
while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	--runs) need_arg "$@"; RUNS_N=$2; shift ;;
	--kernels) need_arg "$@"; KERNELS=$2; shift ;;
	--rounds) need_arg "$@"; ROUNDS=$2; shift ;;
	--fio-s) need_arg "$@"; FIO_S=$2; shift ;;
	--stall) need_arg "$@"; STALL=$2; shift ;;
	--out) need_arg "$@"; OUTD=$2; shift ;;
	--report-only) REPORT_ONLY=1 ;;
	--inject-stall) INJECT=1 ;;
	*) die "soak: unknown argument '$1' (see --help)" ;;
	esac
	shift
done
is_num() { case "$1" in ''|*[!0-9]*) return 1 ;; esac; [ "$1" -ge 1 ]; }
is_num "$RUNS_N" || die "soak: --runs: a positive number, not '$RUNS_N'"
is_num "$ROUNDS" || die "soak: --rounds: a positive number, not '$ROUNDS'"
is_num "$FIO_S" || die "soak: --fio-s: a positive number, not '$FIO_S'"
is_num "$STALL" && [ "$STALL" -gt 60 ] || die "soak: --stall: more than 60 seconds, not '$STALL'"
# For the estimate of the time left: JOB_S, seconds a fio job takes beyond
# --fio-s, and BOOT_S, to the first job; a boot of the defaults comes to
# 180 s (bench) and 350 s (KASAN: idle boots of 324 and 354 s, 2026-12-02)
case $KERNELS in
bench) VB=benchbase VP=bench JOB_S=1 BOOT_S=20 ;;
debug) VB=kasanbase VP=kasan JOB_S=5 BOOT_S=30 ;;
*) die "soak: --kernels: bench or debug, not '$KERNELS'" ;;
esac
if [ -z "$OUTD" ]; then
	OUTD=$RESULTS/soak
	[ "$KERNELS" = bench ] || OUTD=$RESULTS/soak-$KERNELS
fi
RUNS=$OUTD/runs
BB=$BUILD/soak
mkdir -p "$RUNS" "$BB"

# the plan: pair i runs b, p when i is odd and p, b when it is even
PLAN=()
for i in $(seq 1 "$RUNS_N"); do
	if [ $((i % 2)) -eq 1 ]; then
		PLAN+=("p$i-$VB" "p$i-$VP")
	else
		PLAN+=("p$i-$VP" "p$i-$VB")
	fi
done

# LOAD="WALL BUSY CHILD": wall clock (s), CPU time of the whole host (s,
# /proc/stat) and of this script's finished children (s, bash's times:
# run.sh with its QEMU).  Not in a subshell: times must see our children.
host_load() {
	local t
	t=$(mktemp)
	times >"$t"
	LOAD="$(date +%s.%N) $(awk -v hz="$(getconf CLK_TCK)" \
		'$1 == "cpu" { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat) $(
		tail -1 "$t" | awk 'function sec(t,  m) { m = t; sub(/m.*/, "", m)
			sub(/^[0-9]+m/, "", t); sub(/s$/, "", t); return m * 60 + t }
			{ printf "%.2f", sec($1) + sec($2) }')"
	rm -f "$t"
}

# The host's CPU time that did not go to the run, between two host_load
# samples, in CPUs: a build beside the soak skews a pair's ratio.
host_load_record() {
	echo "$1 $2" | awk '{ w = $4 - $1; b = $5 - $2; c = $6 - $3
		printf "{\"wall_s\": %.1f, \"host_cpu_s\": %.1f, \"run_cpu_s\": %.1f, \"foreign_cpus\": %.3f}\n",
			w, b, c, (w > 0 ? (b - c) / w : 0) }'
}

# prepare VARIANT...: packages, the analyzer, the kernels, fio for the guest
prepare() {
	local v
	"$ROOT/scripts/deps.sh"
	[ -x "$BIN/convstat" ] || make -s -C "$ROOT/scripts/convstat" O="$BIN"
	for v in "$@"; do
		"$ROOT/scripts/build-kernel.sh" "$v" || die "soak: the $v kernel does not build"
	done
	"$ROOT/scripts/bench/mktools.sh" --out "$BB/tools.cpio.gz"
	mkdir -p "$BB/no-modules"
}

if [ $INJECT -eq 1 ]; then
	prepare "$VP"
	out=$OUTD/inject-stall
	rm -rf "$out"
	mkdir -p "$out"
	# the guest guard after 20 s, the host after 60 s of silence
	MODSRC=$BB/no-modules "$ROOT/scripts/harness/run.sh" --variant "$VP" \
		--label soak-inject-stall --out "$out" --mode soak --timeout 600 \
		--stall 60 --detectors --initrd-extra "$BB/tools.cpio.gz" \
		--extra-append "harness.bench_fio_s=2 harness.stall_s=20" \
		>"$BB/inject-stall.log" 2>&1 &
	rpid=$!
	python3 - "$out" "$ROOT" <<'PY' || { kill $rpid 2>/dev/null; wait $rpid; die "soak: --inject-stall: could not throttle the disk"; }
import os, re, sys, time
sys.path.insert(0, os.path.join(sys.argv[2], "scripts", "harness"))
sys.dont_write_bytecode = True
from stall import Qmp  # noqa: E402
out = sys.argv[1]
con = os.path.join(out, "console.log")
t0 = time.time()
while time.time() - t0 < 400:
    try:
        if "HARNESS JOB dev=vda job=randwrite4k" in open(con, errors="replace").read():
            # the socket run.sh gave QEMU (in /tmp if the path is long)
            cmd = open(os.path.join(out, "qemu-cmdline.txt")).read()
            q = Qmp(re.search(r"-qmp '?unix:([^,]+),", cmd).group(1))
            q.call("block_set_io_throttle", device="dblk", bps=1, bps_rd=0, bps_wr=0,
                   iops=0, iops_rd=0, iops_wr=0)
            print("soak: --inject-stall: vda throttled to 1 byte/s")
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit(1)
PY
	rc=0
	wait $rpid || rc=$?
	sed 's/^/    /' "$BB/inject-stall.log"
	bad=()
	grep -q 'HARNESS STALL dev=vda job=randwrite4k' "$out/console.log" || bad+=("no HARNESS STALL from the guest")
	grep -q 'sysrq: Show Blocked State' "$out/console.log" || bad+=("no sysrq task dump")
	[ -f "$out/stall.json" ] || bad+=("no stall.json from the host")
	python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s.get("stalled") and s.get("stall_device") == "vda" else 1)' \
		"$out/summary.json" 2>/dev/null || bad+=("summary.json does not name the stalled device vda")
	grep -q '"device": "virtio-blk"' "$out/stall.json" 2>/dev/null || bad+=("stall.json shows no virtio-blk queue in flight")
	[ $rc -ne 0 ] || bad+=("run.sh passed a stalled run")
	if [ ${#bad[@]} -gt 0 ]; then
		printf '  %s\n' "${bad[@]}" >&2
		die "soak: --inject-stall: FAILED (${out#"$ROOT"/})"
	fi
	log "soak: --inject-stall: PASS: the guest dumped its tasks, the host collected QEMU's state (${out#"$ROOT"/}/stall.txt), both name vda"
	exit 0
fi

if [ $REPORT_ONLY -eq 0 ]; then
	prepare "$VB" "$VP"
	# per boot: the fio jobs, fio_s each, times rounds, plus the boot
	est=$((BOOT_S + ROUNDS * 8 * (FIO_S + JOB_S)))
	timeout=$((300 + ROUNDS * 8 * (FIO_S + 30)))
	done_n=0
	for l in "${PLAN[@]}"; do [ -f "$RUNS/$l/summary.json" ] && done_n=$((done_n + 1)); done
	todo=$((${#PLAN[@]} - done_n))
	log "soak: $KERNELS kernels ($VB, $VP), ${#PLAN[@]} runs of which $done_n done; ~$((todo * est / 60)) min left on an idle 2-CPU host"
	T0=$SECONDS
	k=0
	for l in "${PLAN[@]}"; do
		k=$((k + 1))
		out=$RUNS/$l
		[ -f "$out/summary.json" ] && continue
		v=${l#*-}
		log "soak: [$k/${#PLAN[@]}] $l ($((SECONDS - T0))s elapsed)"
		host_load
		load0=$LOAD
		MODSRC=$BB/no-modules "$ROOT/scripts/harness/run.sh" --variant "$v" \
			--label "soak-$l" --out "$out" --mode soak --timeout "$timeout" \
			--stall "$STALL" --detectors --initrd-extra "$BB/tools.cpio.gz" \
			--extra-append "harness.bench_fio_s=$FIO_S harness.soak_rounds=$ROUNDS harness.stall_s=$((STALL - 60))" \
			2>&1 | sed 's/^/    /' || warn "soak: $l failed (in the report)"
		host_load
		[ -d "$out" ] && host_load_record "$load0" "$LOAD" >"$out/host-load.json"
		# a run that left no summary (killed host side) is not done
		[ -f "$out/summary.json" ] || warn "soak: $l left no summary.json; it runs again next time"
	done
	log "soak: runs done in $((SECONDS - T0))s"
fi

python3 "$ROOT/scripts/bench/soak_report.py" --out "$OUTD" \
	--baseline "$VB" --patched "$VP" "$RUNS"
log "soak: report ${OUTD#"$ROOT"/}/report.md"
