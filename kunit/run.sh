#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run the series' KUnit suites with the kernel's own kunit.py.
#
# usage: kunit/run.sh [--help] [series|cvm|all|patched] [--filter GLOB]
#                    [--accel auto|kvm|tcg] [-- KUNIT_PY_ARGS...]
#
#   series  the series alone (branch 'series', detached worktree
#           build/src/kunit-series), kunitconfig kunit/series.kunitconfig;
#           no CVM: the tests run against a fake conversion backend and
#           check that the DMA API stays stock; none may skip
#   cvm     the series + kernel/patches (the test-only emulated CVM and
#           its KUnit suite; detached worktree build/src/kunit-cvm),
#           kunitconfig kunit/cvm.kunitconfig, booted with cvm_emulate=on
#           swiotlb=1536 cc_conversion_align=strict through --kernel_args:
#           every CVM test must run, none may skip
#   all     both (default)
#   patched no kernel of its own: kunit.py exec on the patched guest
#           kernel of make (scripts/build-kernel.sh patched:
#           series + kernel/patches, the suites built in, KUnit off unless
#           kunit.py asks), three boots: the x86_cc_conversion and the
#           swiotlb_cc suites without CVM (the series' tests against the
#           fake backend; the emulated CVM's code is in that kernel but
#           off), then every suite on the emulated CVM with cvm's
#           arguments; none may skip
#   --filter GLOB   only the tests that kunit.py's filter_glob selects
#                   (SUITE or SUITE.TEST, with * and ?), e.g.
#                   kunit/run.sh cvm --filter 'swiotlb_cc.swiotlb_cc_test_frag*'
#   --accel A       QEMU's accelerator: auto (default: KVM if /dev/kvm runs
#                   a guest, probed as scripts/harness/run.sh --accel does,
#                   else TCG), kvm, tcg
#   -- ARGS         the rest goes to kunit.py run as it is, e.g.
#                   kunit/run.sh series -- --raw_output=all
#                   (with --filter or ARGS, the "none may skip" rule still
#                   holds for what runs)
#
# QEMU runs with -cpu max (the emulated CVM needs RDRAND), 4 GiB and 2 vCPUs
# (KUNIT_QEMU_ARGS overrides all but -accel).
# Prints kunit.py's summary and "kunit-RUN: N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

WHAT=all
ACCEL=auto
FILTER=
PASS=()
while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	series|cvm|all|patched) WHAT=$1 ;;
	--filter)
		[ $# -ge 2 ] && [ -n "$2" ] || die "--filter needs a glob (see --help)"
		FILTER=$2; shift ;;
	--accel)
		[ $# -ge 2 ] || die "--accel needs auto, kvm or tcg (see --help)"
		ACCEL=$2; shift ;;
	--) shift; PASS+=("$@"); break ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift
done

# 4 GiB so that there is memory above 4 GiB (DMA mask tests), 2 vCPUs for
# the concurrency test.
QEMU_ARGS=${KUNIT_QEMU_ARGS:--cpu max -m 4G -smp 2}
QEMU_ARGS="-accel $(qemu_accel "$ACCEL") $QEMU_ARGS" || exit 1

# run_kunit NAME SRC run|exec [kunit.py args...]: kunit.py in SRC, its
# output in build/kunit/NAME.log, then its summary and "kunit-NAME: N
# passed, N failed"
run_kunit() {
	local name=$1 src=$2 sub=$3; shift 3
	local out=$BUILD/kunit/$name.log
	[ -x "$src/tools/testing/kunit/kunit.py" ] || die "no kunit.py in $src: run 'make tree'"
	log "kunit $name: kunit.py $sub in QEMU, log ${out#"$ROOT"/}"
	local t0=$SECONDS
	(cd "$src" && CCACHE_BASEDIR=$ROOT ./tools/testing/kunit/kunit.py "$sub" \
		--arch=x86_64 --timeout=600 --qemu_args="$QEMU_ARGS" "$@" \
		${FILTER:+"$FILTER"} "${PASS[@]}") >"$out" 2>&1 &
	local pid=$! n=0
	# a progress line every 30 s, but no wait beyond kunit.py's end
	while kill -0 $pid 2>/dev/null; do
		sleep 1
		n=$((n + 1))
		[ $((n % 30)) -eq 0 ] && kill -0 $pid 2>/dev/null &&
			log "kunit $name: $((SECONDS - t0))s, $(grep -v '^\s*$' "$out" | tail -n1 | cut -c1-90)"
	done
	wait $pid; local rc=$?
	record_time "kunit-$name" $((SECONDS - t0))
	# kunit.py's output without its colour codes, and its own summary
	local plain=$BUILD/kunit/$name.txt
	sed 's/\x1b\[[0-9;]*m//g' "$out" >"$plain"
	sed -n '/Testing complete/,$p' "$plain" | head -n 5
	local line p f s
	line=$(grep -m1 'Testing complete. Ran' "$plain")
	p=$(echo "$line" | sed -n 's/.*passed: \([0-9]*\).*/\1/p'); p=${p:-0}
	f=$(echo "$line" | sed -n 's/.*failed: \([0-9]*\).*/\1/p'); f=${f:-0}
	s=$(echo "$line" | sed -n 's/.*skipped: \([0-9]*\).*/\1/p'); s=${s:-0}
	local e; e=$(echo "$line" | sed -n 's/.*errors: \([0-9]*\).*/\1/p'); e=${e:-0}
	f=$((f + e))
	if [ -z "$line" ]; then
		tail -n 30 "$plain"
		echo "kunit $name: kunit.py did not complete (rc=$rc)"
		f=$((f + 1))
	elif [ "$s" -gt 0 ]; then
		grep -i 'skip' "$plain" | head -n 20
		echo "kunit $name: $s test(s) skipped: every test must run (series: against the fake backend, cvm: on the emulated CVM)"
		f=$((f + s))
	elif [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	echo "kunit-$name: test cases: $((p + f + s)) (skipped $s)"
	echo "kunit-$name: $p passed, $f failed"
	[ "$f" -eq 0 ]
}

# kunit/mutants.sh uses the same worktrees and build directories: hold its
# lock (on a fresh tree, build/kunit does not exist yet)
mkdir -p "$BUILD/kunit" || die "cannot create $BUILD/kunit"
exec 9>"$BUILD/kunit/.lock" || die "cannot open the lock $BUILD/kunit/.lock"
flock 9 || die "cannot take the lock $BUILD/kunit/.lock"

BUILD_ARGS=(--jobs="$JOBS" --make_options "CC=ccache gcc")
# swiotlb=1536: a 4 MiB boot pool that the growth test can exhaust, and a
# 3 MiB default growth size that must be rounded to 4 MiB;
# cc_conversion_align=strict: the live test of a refused conversion (the
# default, warn, never refuses) and every other suite under it
CVM_ARGS=(--kernel_args=cvm_emulate=on --kernel_args=swiotlb=1536
	  --kernel_args=cc_conversion_align=strict)
# a CMA area below 4 GiB: the only memory for allocations beyond
# MAX_PAGE_ORDER, for 64- and 32-bit devices (every run)
CMA_ARGS=(--kernel_args=cma=32M@0-4G)
rc=0
if [ "$WHAT" = series ] || [ "$WHAT" = all ]; then
	wt=$WORKTREES/kunit-series
	worktree_at "$wt" "$(tgit rev-parse "${SERIES_REF:-$BR_SERIES}^{commit}")"
	run_kunit series "$wt" run "${BUILD_ARGS[@]}" --build_dir="$BUILD/kunit/series" \
		--kunitconfig="$ROOT/kunit/series.kunitconfig" "${CMA_ARGS[@]}" || rc=1
fi
if [ "$WHAT" = cvm ] || [ "$WHAT" = all ]; then
	# series + kernel/patches (what test-series holds), in a worktree of
	# its own so that builds from build/src/test-series and 'make tree'
	# do not race with this run
	wt=$WORKTREES/kunit-cvm
	worktree_at "$wt" "$(tgit rev-parse "${SERIES_REF:-$BR_SERIES}^{commit}")"
	mapfile -t tp < <(series_patches "$ROOT/kernel/patches")
	if [ ${#tp[@]} -gt 0 ] && ! tgit -C "$wt" am -q -3 "${tp[@]}" >"$BUILD/kunit/cvm-am.log" 2>&1; then
		cat "$BUILD/kunit/cvm-am.log"
		die "kernel/patches do not apply on the series"
	fi
	run_kunit cvm "$wt" run "${BUILD_ARGS[@]}" --build_dir="$BUILD/kunit/cvm" \
		--kunitconfig="$ROOT/kunit/cvm.kunitconfig" "${CVM_ARGS[@]}" "${CMA_ARGS[@]}" || rc=1
fi
if [ "$WHAT" = patched ]; then
	"$ROOT/scripts/build-kernel.sh" patched || die "the patched kernel does not build"
	kb=$KBUILD/patched
	grep -q '^CONFIG_SWIOTLB_CC_KUNIT_TEST=y' "$kb/.config" ||
		die "${kb#"$ROOT"/} has no built-in suites (configs/kunit-builtin.config)"
	ex=(--build_dir="$kb" --kunitconfig="$ROOT/configs/kunit-builtin.config" "${CMA_ARGS[@]}")
	# without CVM, one boot per suite of the series (the emulated CVM's
	# suite would skip every test), unless --filter names what runs
	if [ -n "$FILTER" ]; then
		run_kunit patched-series "$WORKTREES/$BR_TEST" exec "${ex[@]}" || rc=1
	else
		for g in x86_cc_conversion swiotlb_cc; do
			FILTER=$g run_kunit "patched-series-$g" "$WORKTREES/$BR_TEST" exec "${ex[@]}" || rc=1
		done
	fi
	run_kunit patched-cvm "$WORKTREES/$BR_TEST" exec "${ex[@]}" "${CVM_ARGS[@]}" || rc=1
fi
exit $rc
