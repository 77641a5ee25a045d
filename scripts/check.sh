#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check: every test of the project, in dependency order.
#
# usage: scripts/check.sh [--help] [--only STEP[,STEP...]] [--list]
#
# Steps: deps lint tooling-unit tree convstat tooling gates inventory
#        harness-unit build-debugbase build-debug kunit-modules harness
#        stress
# Two guest kernels, both with configs/debug.config (lockdep, DMA-API
# debugging, fault injection): debugbase (the baseline) and debug (the
# series, its KUnit suites as modules), which takes every object the
# series does not change from ccache.  kunit-modules runs the KUnit suites
# on debug without and with the emulated CVM, the harness compares the
# two, the reduced stress set runs on debug.  make, make kunit and
# make stress build kernels of their own (baseline/patched, kunit.py's,
# kasan).
# Each step's output goes to build/check/STEP.log and is summarised; the run
# ends with one line "N passed, N failed" over all test cases.  A step that
# prints no count of its own counts as one test (its exit code).  deps and
# tree are prerequisites: if they fail, the run stops there.  An unknown
# step fails before anything runs.  deps also checks that the file system
# of build/ has room for the build output (CHECK_DISK_GIB, default 20 GiB
# counting what build/ holds; 0 skips).
#
# Beside the log: build/check/STEP.ktap (KTAP, one test line per counted
# test case), build/check/results.ktap (every step as a subtest) and
# build/check/summary.json ({"version": 1, "steps": [{"name", "rc",
# "passed", "failed", "seconds"}], "passed", "failed", "seconds", "base"}).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

ALL_STEPS=(deps lint tooling-unit tree convstat tooling gates inventory harness-unit build-debugbase build-debug kunit-modules harness stress)
STEPS=("${ALL_STEPS[@]}")
while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	--list) printf '%s\n' "${ALL_STEPS[@]}"; exit 0 ;;
	--only) [ -n "${2:-}" ] || die "--only needs a list of steps (see --list)"
		IFS=, read -r -a STEPS <<<"$2"; shift ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift
done
# every step must be known before the first one runs
for s in "${STEPS[@]}"; do
	known=0
	for k in "${ALL_STEPS[@]}"; do [ "$s" = "$k" ] && known=1; done
	[ $known -eq 1 ] || die "unknown step '$s' (steps: ${ALL_STEPS[*]})"
done
[ ${#STEPS[@]} -gt 0 ] || die "no step to run (see --list)"

step_cmd() {
	case $1 in
	deps) echo "$ROOT/scripts/deps.sh --disk ${CHECK_DISK_GIB:-20}" ;;
	lint) echo "$ROOT/scripts/lint.sh" ;;
	tooling-unit) echo "$ROOT/tests/tooling/run-tests.sh" ;;
	tree) echo "$ROOT/scripts/prepare-tree.sh all" ;;
	convstat) echo "make -s -C $ROOT/scripts/convstat test O=$BIN" ;;
	tooling) echo "$ROOT/scripts/test-tooling.sh" ;;
	gates) echo "$ROOT/scripts/gates.sh all" ;;
	inventory) echo "$ROOT/scripts/test-inventory.sh" ;;
	harness-unit) echo "$ROOT/tests/harness/run-tests.sh" ;;
	build-debugbase) echo "$ROOT/scripts/build-kernel.sh debugbase" ;;
	build-debug) echo "$ROOT/scripts/build-kernel.sh debug" ;;
	kunit-modules) echo "$ROOT/scripts/harness/kunit-modules.sh" ;;
	harness) echo "$ROOT/scripts/harness/check.sh --kernels debug" ;;
	stress) echo "$ROOT/scripts/harness/stress.sh --reduced" ;;
	*) die "unknown step '$1' (steps: ${ALL_STEPS[*]})" ;;
	esac
}

# step_ktap STEP LOG PASSED FAILED RC: the KTAP of one step, one line per
# counted test case, so that the plan always equals PASSED + FAILED; named
# after the step's PASS/FAIL (or GATE name: PASS/FAIL) lines when they are
# exactly the counted ones, numbered otherwise (a count line of the step's
# own, or PASS/FAIL lines of a nested tool's output).
step_ktap() {
	awk -v step="$1" -v p="$3" -v f="$4" -v rc="$5" '
		function name(s) {
			sub(/^(PASS|FAIL) /, "", s); sub(/ \(.*$/, "", s); sub(/: .*$/, "", s)
			gsub(/#/, "", s); return s
		}
		/^PASS / { n++; res[n] = "ok"; nm[n] = name($0); np++; next }
		/^FAIL / { n++; res[n] = "not ok"; nm[n] = name($0); nf++; next }
		/^GATE [a-z0-9]+: PASS/ { n++; res[n] = "ok"; nm[n] = "gate " substr($2, 1, length($2) - 1); np++; next }
		/^GATE [a-z0-9]+: FAIL/ { n++; res[n] = "not ok"; nm[n] = "gate " substr($2, 1, length($2) - 1); nf++; next }
		END {
			print "KTAP version 1"
			print "1.." p + f
			if (np == p && nf == f) {
				for (i = 1; i <= n; i++) print res[i] " " i " " nm[i]
				exit
			}
			for (i = 1; i <= p; i++) print "ok " i " " step " case " i
			for (; i <= p + f; i++) print "not ok " i " " step " case " i (rc != 0 ? ", exit status " rc : "")
		}' "$2"
}

# json_str STRING: STRING as a JSON string literal (control characters
# become spaces)
json_str() {
	printf '"%s"' "$(printf '%s' "$1" | tr '\001-\037' ' ' | sed 's/\\/\\\\/g; s/"/\\"/g')"
}

# write_results SECONDS: build/check/summary.json and results.ktap from
# summary.tsv; steps not run (a prerequisite failed) are KTAP skips.
write_results() {
	local d=$BUILD/check secs=$1 base n=0 s rc p f dt sep=""
	base=$(cat "$BUILD/base-version" 2>/dev/null) && base=$(json_str "$base") || base=null
	{
		printf '{"version": 1, "steps": ['
		while IFS=$'\t' read -r s rc p f dt; do
			printf '%s\n  {"name": %s, "rc": %d, "passed": %d, "failed": %d, "seconds": %d}' \
				"$sep" "$(json_str "$s")" "$rc" "$p" "$f" "$dt"
			sep=,
		done <"$d/summary.tsv"
		printf '],\n "passed": %d, "failed": %d, "seconds": %d, "base": %s}\n' \
			"$TP" "$TF" "$secs" "$base"
	} >"$d/summary.json"
	{
		echo "KTAP version 1"
		echo "1..${#STEPS[@]}"
		while IFS=$'\t' read -r s rc p f dt; do
			n=$((n + 1))
			sed 's/^/    /' "$d/$s.ktap"
			if [ "$f" -eq 0 ]; then echo "ok $n $s"; else echo "not ok $n $s"; fi
		done <"$d/summary.tsv"
		while [ $n -lt ${#STEPS[@]} ]; do
			echo "ok $((n + 1)) ${STEPS[$n]} # SKIP a prerequisite failed"
			n=$((n + 1))
		done
	} >"$d/results.ktap"
}

mkdir -p "$BUILD/check"
: >"$BUILD/check/summary.tsv"
TP=0; TF=0
T0=$SECONDS
for s in "${STEPS[@]}"; do
	cmd=$(step_cmd "$s")
	logf=$BUILD/check/$s.log
	log "check: step $s: $cmd"
	t0=$SECONDS
	# stream the output (progress lines) and keep it for counting
	bash -c "$cmd" 2>&1 | tee "$logf"
	rc=${PIPESTATUS[0]}
	dt=$((SECONDS - t0))
	# counts: "N passed, N failed" lines (summed), else PASS/FAIL lines
	read -r p f < <(awk '
		/(^|[^0-9])[0-9]+ passed, [0-9]+ failed/ {
			match($0, /[0-9]+ passed, [0-9]+ failed/); split(substr($0, RSTART, RLENGTH), a, " ")
			sp += a[1]; sf += a[3]; have = 1; next }
		/^PASS |^GATE [a-z0-9]+: PASS/ { lp++ }
		/^FAIL |^GATE [a-z0-9]+: FAIL/ { lf++ }
		END { if (have) print sp + 0, sf + 0; else print lp + 0, lf + 0 }' "$logf")
	if [ $((p + f)) -eq 0 ]; then
		[ "$rc" -eq 0 ] && p=1 || f=1
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	TP=$((TP + p)); TF=$((TF + f))
	printf '%s\t%s\t%s\t%s\t%s\n' "$s" "$rc" "$p" "$f" "$dt" >>"$BUILD/check/summary.tsv"
	step_ktap "$s" "$logf" "$p" "$f" "$rc" >"$BUILD/check/$s.ktap"
	record_time "check-$s" "$dt"
	log "check: step $s: rc=$rc, $p passed, $f failed, ${dt}s"
	if [ "$rc" -ne 0 ] && { [ "$s" = deps ] || [ "$s" = tree ]; }; then
		log "check: prerequisite '$s' failed, stopping"
		break
	fi
done

echo
echo "step            rc  passed failed  seconds"
awk -F'\t' '{ printf "%-15s %3s %7s %6s %8s\n", $1, $2, $3, $4, $5 }' "$BUILD/check/summary.tsv"
TT=$((SECONDS - T0))
echo "total time: ${TT}s, base: $(cat "$BUILD/base-version" 2>/dev/null || echo unknown)"
write_results "$TT"
log "check: ${BUILD#"$ROOT"/}/check/summary.json, results.ktap, STEP.ktap"
echo "$TP passed, $TF failed"
[ "$TF" -eq 0 ]
