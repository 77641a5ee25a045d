#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The harness assertions of 'make check': boot the baseline kernel with the
# full device matrix and assert on the result.
#
# usage: scripts/harness/check.sh [--help] [--run DIR] [run.sh options...]
#
#   --run DIR   do not boot: assert on an existing run directory of run.sh
#   other options are passed to scripts/harness/run.sh (default: --variant
#   baseline --label check-baseline --cycles 10)
#
# One line per assertion, "PASS <name> (<detail>)" or "FAIL <name> (<detail>)":
#   harness-kernel               the baseline bzImage and convstat exist
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
# Exit status 1 if any assertion fails.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

RUN_DIR=
ARGS=()
while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "$0"; exit 0 ;;
	--run) [ $# -ge 2 ] || die "--run needs a directory"; RUN_DIR=$2; shift ;;
	*) ARGS+=("$1") ;;
	esac
	shift
done

if [ -z "$RUN_DIR" ]; then
	RUN_DIR=$RESULTS/runs/check-baseline
	K=$KBUILD/baseline/arch/x86/boot/bzImage
	C=${CONVSTAT:-$BIN/convstat}
	if [ ! -f "$K" ] || [ ! -x "$C" ]; then
		echo "FAIL harness-kernel (missing:$([ -f "$K" ] || echo " $K (make build-baseline)")$([ -x "$C" ] || echo " $C (make convstat)"))"
		exit 1
	fi
	echo "PASS harness-kernel (${K#$ROOT/})"
	# indented, so that no line of the run itself reads as an assertion
	"$ROOT/scripts/harness/run.sh" --variant baseline --label check-baseline \
		--out "$RUN_DIR" --cycles 10 "${ARGS[@]}" 2>&1 | sed -u 's/^/    /' >&2
	rc=${PIPESTATUS[0]}
	[ $rc -eq 0 ] || warn "harness run failed (rc=$rc); the assertions below say where"
fi
[ -f "$RUN_DIR/summary.json" ] || { echo "FAIL harness-boot (no $RUN_DIR/summary.json)"; exit 1; }
python3 "$ROOT/scripts/harness/analyze.py" --assert "$RUN_DIR"
