#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The series' KUnit suites built and run as modules (=m): the "kunit-modules"
# step of make check.
#
# usage: scripts/harness/kunit-modules.sh [--help] [--no-build] [--out DIR]
#
#   --no-build   do not (re)build the debug kernel first
#   --out DIR    directory of the two runs (default results/runs/kunit-modules:
#                nocvm/ and cvm/)
#
# Builds the debug variant (scripts/build-kernel.sh debug: the patched
# kernel + configs/debug.config, with configs/kunit-modules.config every
# KUnit suite of the series and of the test-only emulated CVM =m; modpost
# fails the build on a missing export; the suites run under lockdep and
# DMA-API debugging) and boots it twice, as kunit/run.sh patched boots the
# suites built in (kunit.enable=1: KUnit is off by default in every guest
# kernel, configs/guest.config; 4 GiB, 2 vCPUs, cma=32M@0-4G):
#   nocvm  a plain VM, the series' two suites (x86_cc_conversion and
#          swiotlb_cc, modules cc_conversion_kunit and swiotlb_cc_kunit):
#          the tests against the fake conversion backend, and the DMA API
#          stays stock without CVM
#   cvm    the emulated CVM with the arguments of kunit/run.sh cvm
#          (swiotlb=1536 cc_conversion_align=strict), every suite
# In each, the guest (scripts/guest/mode-kunit.sh) loads the modules, checks
# the results of their suites in debugfs and unloads them.  The one kernel
# warning a suite provokes on purpose (an injected conversion failure: "CPA
# VMM failure") is expected; any other splat fails the run.
#
# Output: the guest's CHECK kunit lines as "PASS kunit-module SUITE (...)" /
# "FAIL ...", SUITE-nocvm for the plain VM, then "kunit-modules: N passed,
# N failed" over the test cases (a failed or skipped case, a module that
# does not load or unload, or a run that fails counts as failed).
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
p=0 f=0
# boot LABEL SUFFIX run.sh-options...: one boot, its results counted
boot() {
	local label=$1 sfx=$2 dir=$OUT/$1 rc=0 subject status rest w
	shift 2
	HARNESS_EXPECT_SPLAT='CPA VMM failure to convert memory' \
		"$ROOT/scripts/harness/run.sh" --variant debug --label "kunit-modules-$label" \
		--out "$dir" --mode kunit --mem 4G --smp 2 --cycles 0 --timeout 900 "$@" || rc=$?
	local n=$((p + f))
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
		echo "$status kunit-module $subject$sfx ($rest)"
	done < <(grep -a '^CHECK kunit ' "$dir/console.log" 2>/dev/null | tr -d '\r' | sort -u)
	if [ $((p + f)) -eq "$n" ]; then
		echo "FAIL kunit-module$sfx (no result: see ${dir#"$ROOT"/}/console.log)"
		f=$((f + 1))
	fi
	if [ $rc -ne 0 ]; then
		echo "FAIL kunit-module$sfx run (run.sh exit status $rc: see ${dir#"$ROOT"/}/summary.json)"
		f=$((f + 1))
	fi
}
boot nocvm -nocvm --cvm off \
	--extra-append "kunit.enable=1 cma=32M@0-4G harness.kunit_modules=cc_conversion_kunit,swiotlb_cc_kunit"
boot cvm "" --cvm on \
	--extra-append "kunit.enable=1 swiotlb=1536 cc_conversion_align=strict cma=32M@0-4G"
echo "kunit-modules: $p passed, $f failed"
[ $f -eq 0 ]
