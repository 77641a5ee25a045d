#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The series' KUnit suites built and run as modules (=m): the "kunit-modules"
# step of make check.
#
# usage: scripts/harness/kunit-modules.sh [--help] [--no-build] [--out DIR]
#
#   --no-build   do not (re)build the debug kernel first
#   --out DIR    run directory (default results/runs/kunit-modules)
#
# Builds the debug variant (scripts/build-kernel.sh debug: the patched
# kernel + configs/debug.config, with configs/kunit-modules.config every
# KUnit suite of the series and of the test-only emulated CVM =m; modpost
# fails the build on a missing export; the suites run under lockdep, KASAN
# and DMA-API debugging), boots it on the emulated CVM (kunit.enable=1: KUnit is
# off by default in every guest kernel, configs/guest.config) with the arguments of kunit/run.sh
# cvm (4 GiB, 2 vCPUs, swiotlb=1536 cc_conversion_align=strict), and the
# guest (scripts/guest/mode-kunit.sh) loads each module, checks the results
# of its suites in debugfs and unloads it.  The one kernel warning a suite
# provokes on purpose (an injected conversion failure: "CPA VMM failure")
# is expected; any other splat fails the run.
#
# Output: the guest's CHECK kunit lines as "PASS kunit-module SUITE (...)" /
# "FAIL ...", then "kunit-modules: N passed, N failed" over the test cases
# (a failed or skipped case, a module that does not load or unload, or a
# run that fails counts as failed).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

BUILD_FIRST=1
OUT=$ROOT/results/runs/kunit-modules
while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	--no-build) BUILD_FIRST=0 ;;
	--out) OUT=$2; shift ;;
	*) die "kunit-modules: unknown argument '$1' (see --help)" ;;
	esac
	shift
done

[ $BUILD_FIRST -eq 0 ] || "$ROOT/scripts/build-kernel.sh" debug
rc=0
HARNESS_EXPECT_SPLAT='CPA VMM failure to convert memory' \
	"$ROOT/scripts/harness/run.sh" --variant debug --label kunit-modules \
	--out "$OUT" --mode kunit --mem 4G --smp 2 --cycles 0 --timeout 900 \
	--extra-append "kunit.enable=1 swiotlb=1536 cc_conversion_align=strict cma=32M@0-4G" || rc=$?

p=0 f=0
while read -r _ _ subject status rest; do
	declare -A kv=()
	for w in $rest; do kv[${w%%=*}]=${w#*=}; done
	if [ "$subject" = unload ] || [ -z "${kv[cases]:-}" ]; then
		# a module that did not load, or the unload: one case
		[ "$status" = PASS ] && p=$((p + 1)) || f=$((f + 1))
	else
		p=$((p + kv[passed]))
		f=$((f + kv[failed] + kv[skipped]))
	fi
	echo "$status kunit-module $subject ($rest)"
done < <(grep -a '^CHECK kunit ' "$OUT/console.log" 2>/dev/null | tr -d '\r' | sort -u)
if [ $((p + f)) -eq 0 ]; then
	echo "FAIL kunit-module (no result: see ${OUT#"$ROOT"/}/console.log)"
	f=$((f + 1))
fi
if [ $rc -ne 0 ]; then
	echo "FAIL kunit-module run (run.sh exit status $rc: see ${OUT#"$ROOT"/}/summary.json)"
	f=$((f + 1))
fi
echo "kunit-modules: $p passed, $f failed"
[ $f -eq 0 ]
