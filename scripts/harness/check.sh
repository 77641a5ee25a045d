#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The harness assertions of 'make check': boot the baseline and the patched
# kernel with the full device matrix and assert on the results.
#
# usage: scripts/harness/check.sh [--help] [--kernels release|debug]
#                                 [--run DIR | --from DIR] [run.sh options...]
#
#   --kernels K the kernels booted: release (default: variants baseline and
#               patched, make's kernels) or debug (debugbase and debug:
#               the same plus configs/debug.config, lockdep and DMA-API
#               debugging; make check's kernels)
#   --run DIR   do not boot: the baseline assertions on one existing run
#               directory of run.sh
#   --from DIR  do not boot: all assertions on the check-* run directories
#               in DIR (e.g. results/runs after a check.sh run)
#   other options go to every run (e.g. --timeout 600, --smp 2); options
#   that select the run (--variant --kernel --label --out --cycles --cvm
#   --mode --platform --print-cmdline) are check.sh's own and refused.
#   --extra-append STR is added to the parameters check.sh passes.
#
# Runs, in results/runs/ (each 25-35 s under TCG, about 4 minutes in all):
#   check-baseline        baseline kernel, emulated CVM, 10 nvme rebinds
#   check-patched         patched kernel, emulated CVM, 10 nvme rebinds
#                         (default policy: warn)
#   check-patched-c50     patched kernel, emulated CVM, 50 nvme rebinds,
#                         cc_conversion_align=strict
#   check-patched-off     patched kernel, emulated CVM, 2 nvme rebinds,
#                         cc_conversion_align=off
#   check-patched-ccoff   patched kernel, emulated CVM, swiotlb_cc=off:
#                         must behave as the baseline, policy off
#   check-patched-ccoff-strict  the same with cc_conversion_align=strict
#                         (still off: strict needs the shared pools)
#   check-patched-nocvm   patched kernel, no CVM (--cvm off), 10 rebinds
#   check-baseline-nocvm  baseline kernel, no CVM, 10 rebinds (reference)
# Nothing boots if a kernel or the analyzer is missing.
#
# One line per assertion, "PASS <name> (<detail>)" or "FAIL <name> (<detail>)"
# (the runs' own output is indented):
#   harness-kernel               the baseline (debugbase) bzImage and convstat exist
#   patched-kernel               the patched (--kernels debug: debug) bzImage exists
#  the baseline run (check-baseline), prefix harness-:
#   harness-boot                 the guest reached HARNESS DONE, no timeout
#   harness-io                   every I/O check passed (virtio-blk,
#                                virtio-scsi, nvme, parallel, after rebind)
#                                and the host re-read every pattern from
#                                the disk images
#   harness-net, harness-rng, harness-nvme-rebind
#   harness-dma-to-private-zero  the DMA-to-private detector counted 0
#   harness-baseline-misaligned  the baseline makes misaligned conversions
#                                (if not, the harness sees nothing: broken)
#   harness-log-wellformed       no malformed record in the conversion log
#   harness-crosscheck           analyzer == guest counters (calls,
#                                to_shared, to_private, pages, misaligned,
#                                refused, shared bytes)
#  each patched CVM run, prefix patched-c10-, patched-c50- and patched-c2-:
#   boot, io, net, rng, nvme-rebind, dma-to-private-zero, log-wellformed,
#   crosscheck                   as for the baseline
#   policy                       the policy the series' x86 code prints at
#                                boot ("cc_conversion: conversion granule
#                                ... cc_conversion_align=P") is the one the
#                                command line asks for (analyze.py
#                                expected_policy())
#   refused-zero                 that line is there, no conversion reported
#                                refused by the x86 policy, and no refused
#                                record in conv.log (platform)
#   misaligned-below-1m          every misaligned record of conv.log lies
#                                below 1 MiB (legacy ISA/VGA hole) and
#                                outside the e820 RAM of the console
#   mixed-nonram-only            the 2 MiB regions mixed at the end and at
#                                any time (conv.log replayed; must agree with
#                                mixed_2m_end/peak) all hold a non-RAM
#                                misaligned record; no other region is mixed
#   calls-bound                  calls <= RAM 2 MiB regions ever shared +
#                                non-RAM calls (each converted once)
#  each swiotlb_cc=off run, prefix patched-ccoff- and patched-ccoff-strict-:
#   the baseline assertions (every device works, misaligned > 0: the
#   per-allocation conversions are back), policy (off), refused-zero
#  each run without CVM, prefix patched-nocvm- and baseline-nocvm-:
#   boot, io, net, rng, nvme-rebind
#   no-conversions               no record in conv.log, no x86 policy line
#   no-cc-swiotlb                GUEST swiotlb.cc_bytes/cc_chunks/cc_used
#                                absent or 0 (no shared-memory chunk)
#  across runs:
#   patched-calls-flat           patched calls equal at 10 and 50 cycles
#   compare-baseline-patched     baseline calls > patched calls (10 cycles)
# Exit status 1 if any assertion fails.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

RUN_DIR=
FROM=
EXTRA=
KERNELS=release
ARGS=()
while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	--run) [ $# -ge 2 ] || die "--run needs a directory"; RUN_DIR=$2; shift ;;
	--from) [ $# -ge 2 ] || die "--from needs a directory"; FROM=$2; shift ;;
	--kernels)
		case "${2:-}" in release|debug) KERNELS=$2 ;; *) die "--kernels needs release or debug" ;; esac
		shift ;;
	--extra-append) [ $# -ge 2 ] || die "--extra-append needs an argument"; EXTRA+=" $2"; shift ;;
	--variant|--kernel|--label|--out|--cycles|--cvm|--mode|--platform|--print-cmdline)
		die "check.sh chooses $1 of its runs itself (see --help)" ;;
	*) ARGS+=("$1") ;;
	esac
	shift
done

# the assertions on the run directories in $1
assert_all() {
	python3 "$ROOT/scripts/harness/analyze.py" --assert \
		--baseline "$1/check-baseline" \
		--patched "$1/check-patched" --patched "$1/check-patched-c50" \
		--patched "$1/check-patched-off" \
		--stock "$1/check-patched-ccoff" \
		--stock "$1/check-patched-ccoff-strict" \
		--nocvm "$1/check-patched-nocvm" --nocvm "$1/check-baseline-nocvm"
}

if [ -n "$RUN_DIR" ]; then
	[ -f "$RUN_DIR/summary.json" ] || { echo "FAIL harness-boot (no $RUN_DIR/summary.json)"; exit 1; }
	exec python3 "$ROOT/scripts/harness/analyze.py" --assert "$RUN_DIR"
fi
[ -n "$FROM" ] && { assert_all "$FROM"; exit; }

VB=baseline VP=patched
[ "$KERNELS" = debug ] && VB=debugbase VP=debug
KB=$KBUILD/$VB/arch/x86/boot/bzImage
KP=$KBUILD/$VP/arch/x86/boot/bzImage
CS=${CONVSTAT:-$BIN/convstat}
if [ -f "$KB" ] && [ -x "$CS" ]; then
	echo "PASS harness-kernel (${KB#"$ROOT"/}, ${CS#"$ROOT"/})"
else
	echo "FAIL harness-kernel (missing:$([ -f "$KB" ] || echo " $KB (scripts/build-kernel.sh $VB)")$([ -x "$CS" ] || echo " $CS (make convstat)"))"
fi
if [ -f "$KP" ]; then
	echo "PASS patched-kernel (${KP#"$ROOT"/})"
else
	echo "FAIL patched-kernel (missing $KP: build it with 'scripts/build-kernel.sh $VP')"
fi
[ -f "$KB" ] && [ -x "$CS" ] && [ -f "$KP" ] || exit 1

OUT=$RESULTS/runs
T0=$SECONDS
# run LABEL PARAMS run.sh-options...: one boot with the kernel parameters
# PARAMS (may be empty), its output indented so that no line of the run
# itself reads as an assertion
run() {
	local label=$1 params=$2 rc t=$SECONDS
	shift 2
	log "check: $label"
	"$ROOT/scripts/harness/run.sh" --label "$label" --out "$OUT/$label" \
		"$@" "${ARGS[@]}" --extra-append "$params$EXTRA" 2>&1 |
		sed -u 's/^/    /' >&2
	rc=${PIPESTATUS[0]}
	[ "$rc" -eq 0 ] || warn "check: run $label failed (rc=$rc); the assertions below say where"
	log "check: $label done in $((SECONDS - t))s"
}
run check-baseline "" --variant $VB --cycles 10
run check-patched "" --variant $VP --cycles 10
run check-patched-c50 cc_conversion_align=strict --variant $VP --cycles 50
run check-patched-off cc_conversion_align=off --variant $VP --cycles 2
run check-patched-ccoff swiotlb_cc=off --variant $VP --cycles 10
run check-patched-ccoff-strict "swiotlb_cc=off cc_conversion_align=strict" \
	--variant $VP --cycles 2
run check-patched-nocvm "" --variant $VP --cycles 10 --cvm off
run check-baseline-nocvm "" --variant $VB --cycles 10 --cvm off
log "check: 8 runs in $((SECONDS - T0))s"
assert_all "$OUT"
