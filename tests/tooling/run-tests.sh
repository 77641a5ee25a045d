#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Offline tests of the tooling itself, in seconds: no kernel tree, no
# build, no QEMU.  check.sh on stub steps (unknown steps, counts, the JSON
# summary, KTAP), gates.sh on a tiny git tree (every gate runs and is
# counted), the --help of every script (usage, no side effect), the lock of
# kunit/run.sh, the report files of make harness, lint.sh on planted
# findings.  One "PASS name" or "FAIL name: why" line per test; the last
# line is "tooling-unit: N passed, N failed".
#
# usage: tests/tooling/run-tests.sh [--help] [NAME-FILTER...]
set -uo pipefail
case "${1:-}" in
-h|--help) awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "$0"; exit 0 ;;
esac

REPO=$(cd "$(dirname "$0")/../.." && pwd)
# every test chooses the layout of the scripts it runs
unset ROOT BUILD TREE WORKTREES KBUILD BIN RESULTS PATCHES GATES_DIR BR_BASE BR_SERIES
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tooling-unit.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
FILTERS=("$@")
npass=0; nfail=0

# run_test NAME: t_NAME in a subshell, in a directory of its own ($T); it
# fails by exiting non-zero (fail MSG), its output is shown on failure.
run_test() {
	local name=$1 x m=0 out rc
	for x in "${FILTERS[@]}"; do [[ $name == *"$x"* ]] && m=1; done
	[ ${#FILTERS[@]} -eq 0 ] || [ $m -eq 1 ] || return 0
	T=$TMP/$name
	mkdir -p "$T"
	out=$(cd "$T" && "t_$name" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "PASS $name"
		npass=$((npass + 1))
	else
		printf '%s\n' "$out" | tail -n 25 | sed 's/^/    /'
		echo "FAIL $name: $(printf '%s\n' "$out" | tail -n 1 | cut -c1-200)"
		nfail=$((nfail + 1))
	fi
}
# fail MSG: end the test; the message on one line (the FAIL line's reason)
fail() { printf '%s\n' "$*" | paste -s -d'|' -; exit 1; }

# -- check.sh -------------------------------------------------------------

# Every command check.sh runs for a step, relative to ROOT.
STEP_CMDS=(scripts/deps.sh scripts/lint.sh tests/tooling/run-tests.sh
	scripts/prepare-tree.sh scripts/test-tooling.sh scripts/gates.sh
	tests/harness/run-tests.sh scripts/build-kernel.sh scripts/harness/kunit-modules.sh
	scripts/harness/check.sh scripts/harness/stress.sh scripts/convstat/stub.sh)

# fake_root DIR: a project tree whose step commands are stubs; the stub
# for path P appends its key K (P with / -> _) to DIR/ran, prints DIR/out/K
# and exits with DIR/rc/K (default 0).
# shellcheck disable=SC2016 # the stub's text: expanded when the stub runs
fake_root() {
	local d=$1 p k
	mkdir -p "$d/out" "$d/rc"
	for p in "${STEP_CMDS[@]}"; do
		k=${p//\//_}
		mkdir -p "$d/$(dirname "$p")"
		printf '#!/bin/bash\necho %s >>"%s/ran"\ncat "%s/out/%s" 2>/dev/null\nexit "$(cat "%s/rc/%s" 2>/dev/null || echo 0)"\n' \
			"$k" "$d" "$d" "$k" "$d" "$k" >"$d/$p"
		chmod +x "$d/$p"
	done
	printf 'test:\n\t@%s/scripts/convstat/stub.sh\n' "$d" >"$d/scripts/convstat/Makefile"
}

# check ROOT ARGS...: check.sh on the fake tree ROOT; sets $out and $rc
check() {
	local r=$1; shift
	out=$(ROOT=$r BUILD=$r/build "$REPO/scripts/check.sh" "$@" 2>&1)
	rc=$?
}

# ktap_ok FILE: the plan matches the test lines, numbered 1..N in order
ktap_ok() {
	awk 'NR == 1 && $0 != "KTAP version 1" { print FILENAME ": no KTAP header"; bad = 1 }
	     NR == 2 { if ($0 !~ /^1\.\.[0-9]+$/) { print FILENAME ": no plan"; bad = 1 }; plan = substr($0, 4) }
	     /^(not )?ok / { n++; k = ($1 == "not") ? $3 : $2
		if (k != n) { print FILENAME ": test " n " numbered " k; bad = 1 } }
	     END { if (n != plan) { print FILENAME ": plan " plan ", " n " tests"; bad = 1 }; exit bad }' "$1"
}

t_check_unknown_step() {
	fake_root r
	check "$T/r" --only bogus
	[ $rc -ne 0 ] || fail "--only bogus: exit 0: $(tail -n1 <<<"$out")"
	! grep -q 'passed, ' <<<"$out" || fail "--only bogus counted: $(grep 'passed, ' <<<"$out")"
	grep -q "unknown step 'bogus'" <<<"$out" || fail "no message naming the step: $out"
	check "$T/r" --only deps,bogus
	[ $rc -ne 0 ] || fail "--only deps,bogus: exit 0"
	[ ! -e r/ran ] || fail "steps ran before the unknown one was noticed: $(cat r/ran)"
	check "$T/r" --only 'deps tree'
	[ $rc -ne 0 ] || fail "--only 'deps tree': exit 0"
	check "$T/r" --only
	[ $rc -ne 0 ] || fail "--only without a list: exit 0"
	[ ! -e r/ran ] || fail "steps ran: $(cat r/ran)"
	check "$T/r" --list
	grep -qx lint <<<"$out" && grep -qx tooling-unit <<<"$out" || fail "--list: no lint or tooling-unit: $out"
}

t_check_counts_json_ktap() {
	fake_root r
	printf 'GATE am: PASS (x)\nGATE checkpatch: FAIL: 2 of 18 patch(es) not clean\ngates: 1 passed, 1 failed\n' \
		>r/out/scripts_gates.sh
	echo 1 >r/rc/scripts_gates.sh
	printf 'PASS harness-boot (started)\nFAIL harness-io: io failed\nPASS harness-net\n    PASS nested\n' \
		>r/out/tests_harness_run-tests.sh
	echo 1 >r/rc/tests_harness_run-tests.sh
	# a count and an exit status that disagree: one more failure
	printf 'tooling: 2 passed, 0 failed\n' >r/out/scripts_test-tooling.sh
	echo 3 >r/rc/scripts_test-tooling.sh
	check "$T/r" --only deps,tooling,gates,harness-unit
	[ $rc -ne 0 ] || fail "failures, yet exit 0"
	[ "$(tail -n1 <<<"$out")" = "6 passed, 3 failed" ] || fail "last line: $(tail -n1 <<<"$out")"
	local c=r/build/check
	python3 - "$c/summary.json" <<'PY' || fail "summary.json: see above"
import json, sys
d = json.load(open(sys.argv[1]))
want = [("deps", 0, 1, 0), ("tooling", 3, 2, 1), ("gates", 1, 1, 1), ("harness-unit", 1, 2, 1)]
got = [(s["name"], s["rc"], s["passed"], s["failed"]) for s in d["steps"]]
assert d["version"] == 1, d
assert got == want, got
assert (d["passed"], d["failed"], d["base"]) == (6, 3, None), d
assert all(isinstance(s["seconds"], int) for s in d["steps"]) and isinstance(d["seconds"], int), d
assert sorted(d) == ["base", "failed", "passed", "seconds", "steps", "version"], sorted(d)
PY
	local f
	for f in deps tooling gates harness-unit; do
		ktap_ok "$c/$f.ktap" || fail "$f.ktap"
	done
	diff <(printf 'KTAP version 1\n1..2\nok 1 gate am\nnot ok 2 gate checkpatch\n') "$c/gates.ktap" ||
		fail "gates.ktap"
	diff <(printf 'KTAP version 1\n1..3\nok 1 harness-boot\nnot ok 2 harness-io\nok 3 harness-net\n') \
		"$c/harness-unit.ktap" || fail "harness-unit.ktap"
	diff <(printf 'KTAP version 1\n1..3\nok 1 tooling case 1\nok 2 tooling case 2\nnot ok 3 tooling case 3, exit status 3\n') \
		"$c/tooling.ktap" || fail "tooling.ktap"
	diff <(printf 'KTAP version 1\n1..1\nok 1 deps case 1\n') "$c/deps.ktap" || fail "deps.ktap"
	ktap_ok "$c/results.ktap" || fail "results.ktap"
	grep -qx '    ok 1 gate am' "$c/results.ktap" && grep -qx 'not ok 3 gates' "$c/results.ktap" &&
		grep -qx 'ok 1 deps' "$c/results.ktap" || fail "results.ktap: $(cat "$c/results.ktap")"
}

t_check_ktap_names_only_when_lines_match() {
	fake_root r
	# a count line and a FAIL line of some nested output: not the names
	printf '    PASS nested\nFAIL stray (of a tool the step ran)\n3 passed, 1 failed\n' \
		>r/out/scripts_test-tooling.sh
	echo 1 >r/rc/scripts_test-tooling.sh
	check "$T/r" --only tooling
	[ "$(tail -n1 <<<"$out")" = "3 passed, 1 failed" ] || fail "last line: $(tail -n1 <<<"$out")"
	diff <(printf 'KTAP version 1\n1..4\nok 1 tooling case 1\nok 2 tooling case 2\nok 3 tooling case 3\nnot ok 4 tooling case 4, exit status 1\n') \
		r/build/check/tooling.ktap || fail "tooling.ktap"
}

t_check_prerequisite_stops() {
	fake_root r
	echo 1 >r/rc/scripts_prepare-tree.sh
	mkdir -p r/build
	printf 'linux-source-6.12 "6.12" \\ x\n' >r/build/base-version
	check "$T/r" --only deps,tree,gates
	[ $rc -ne 0 ] || fail "tree failed, yet exit 0"
	[ "$(tail -n1 <<<"$out")" = "1 passed, 1 failed" ] || fail "last line: $(tail -n1 <<<"$out")"
	! grep -q scripts_gates.sh r/ran || fail "gates ran after tree failed"
	ktap_ok r/build/check/results.ktap || fail "results.ktap"
	grep -qx 'ok 3 gates # SKIP a prerequisite failed' r/build/check/results.ktap ||
		fail "results.ktap: $(cat r/build/check/results.ktap)"
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert [s["name"] for s in d["steps"]] == ["deps", "tree"], d
assert d["base"] == "linux-source-6.12 \"6.12\" \\ x", d["base"]' r/build/check/summary.json ||
		fail "summary.json"
}

# -- gates.sh -------------------------------------------------------------

# tiny_tree DIR: a git repository with a branch base and a checkpatch.pl
# that finds nothing; DIR.series: a one-patch series that does not apply.
tiny_tree() {
	local d=$1
	git init -q "$d" && git -C "$d" checkout -q -b base || return 1
	mkdir -p "$d/scripts"
	echo hello >"$d/a.txt"
	printf '#!/usr/bin/perl\nprint "total: 0 errors, 0 warnings, 0 checks, 1 lines checked\\n";\n' \
		>"$d/scripts/checkpatch.pl"
	git -C "$d" add -A &&
	GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@localhost GIT_COMMITTER_NAME=t \
	GIT_COMMITTER_EMAIL=t@localhost git -C "$d" commit -q -m base || return 1
	mkdir -p "$d.series"
	cat >"$d.series/v1-0001-a-say-world.patch" <<'EOF'
From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: T <t@localhost>
Date: Mon, 1 Jan 2024 00:00:00 +0000
Subject: [PATCH v1 1/1] a: say world

Signed-off-by: T <t@localhost>
---
 a.txt | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/a.txt b/a.txt
--- a/a.txt
+++ b/a.txt
@@ -1 +1 @@
-goodbye
+world
-- 
2.39.5

EOF
}

# gates ARGS...: gates.sh on the tiny tree; sets $out and $rc
gates() {
	out=$(TREE=$T/tree BUILD=$T/build PATCHES=$T/tree.series "$REPO/scripts/gates.sh" "$@" 2>&1)
	rc=$?
}

t_gates_all_run_after_a_failure() {
	tiny_tree "$T/tree" || fail "cannot make the tiny tree"
	gates all
	[ $rc -ne 0 ] || fail "a gate failed, yet exit 0"
	local g n
	for g in am checkpatch sparse w1 b4 bisect; do
		n=$(grep -c "^GATE $g: \(PASS\|FAIL\)" <<<"$out")
		[ "$n" -eq 1 ] || fail "gate $g reported $n times: $out"
	done
	grep -q '^GATE am: FAIL: v1-0001-a-say-world.patch' <<<"$out" || fail "am does not name the patch: $out"
	grep -q '^GATE checkpatch: PASS' <<<"$out" || fail "checkpatch did not run after am failed: $out"
	local p f
	p=$(grep -c '^GATE [a-z0-9]*: PASS' <<<"$out")
	f=$(grep -c '^GATE [a-z0-9]*: FAIL' <<<"$out")
	[ "$(tail -n1 <<<"$out")" = "gates: $p passed, $f failed" ] || fail "last line: $(tail -n1 <<<"$out")"
	[ "$f" -ge 4 ] || fail "$f failed: $out"
}

t_gates_without_tree() {
	mkdir -p tree.series
	gates all
	[ $rc -ne 0 ] || fail "no tree, yet exit 0"
	# every gate of 'all', as gates.sh lists them
	local n
	n=$(sed -n 's/^GATES=(\(.*\))$/\1/p' "$REPO/scripts/gates.sh" | wc -w)
	[ "$n" -ge 7 ] || fail "cannot read GATES= of gates.sh ($n)"
	[ "$(grep -c "^GATE [a-z0-9]*: FAIL: no kernel tree" <<<"$out")" -eq "$n" ] || fail "not $n failures: $out"
	[ "$(tail -n1 <<<"$out")" = "gates: 0 passed, $n failed" ] || fail "last line: $(tail -n1 <<<"$out")"
	tiny_tree "$T/tree" || fail "cannot make the tiny tree"
	out=$(BR_BASE=nope TREE=$T/tree BUILD=$T/build PATCHES=$T/tree.series "$REPO/scripts/gates.sh" am sparse 2>&1)
	[ "$(grep -c "^GATE [a-z0-9]*: FAIL: no branch 'nope'" <<<"$out")" -eq 2 ] || fail "no base: $out"
}

t_gates_unknown_and_help() {
	mkdir -p tree.series
	gates am bogus
	[ $rc -ne 0 ] || fail "unknown gate: exit 0"
	! grep -q '^GATE ' <<<"$out" || fail "a gate ran before the unknown one was noticed: $out"
	gates --help
	[ $rc -eq 0 ] || fail "--help: exit $rc: $out"
	grep -q '^usage: scripts/gates.sh' <<<"$out" || fail "--help: $out"
	[ ! -e build ] || fail "--help created $(find build | head -n3)"
}

# -- --help of every script --------------------------------------------------

# copy_repo DIR: the project's files (no build/, no results/) in DIR
copy_repo() {
	mkdir -p "$1"
	if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$REPO" ls-files -co --exclude-standard -z |
			(cd "$REPO" && xargs -0 tar -cf - --no-recursion) | tar -C "$1" -xf -
	else
		(cd "$REPO" && tar -cf - --exclude=./build --exclude=./results .) | tar -C "$1" -xf -
	fi
}

# the scripts one runs (not scripts/lib.sh, sourced; not the guest scripts)
host_scripts() {
	(cd "$1" && find . -type f ! -path './scripts/guest/*' ! -path './.git/*' \
		! -path './build/*' ! -path './results/*' | sed 's|^\./||' | sort) |
	while read -r f; do
		case $f in
		scripts/lib.sh|*.patch|*.c|*.h|*.md|*.config) continue ;;
		*.sh|*.py) echo "$f" ;;
		*) head -n1 "$1/$f" | grep -q '^#!' && echo "$f" ;;
		esac
	done
}

t_help_of_every_script() {
	copy_repo repo
	mkdir -p home
	local f n=0 o e rc1 bad=()
	find repo -printf '%p %s %T@\n' | sort >before
	local run
	while read -r f; do
		n=$((n + 1))
		# never start what may be a long job: a script that does not
		# handle --help is not run
		if ! grep -qE -- '--help|argparse|unittest\.main' "repo/$f"; then
			bad+=("$f: does not handle --help (not run)")
			continue
		fi
		# as the project runs it: directly, else with its interpreter
		run=("./$f")
		if [ ! -x "repo/$f" ]; then
			case $f in *.py) run=(python3 "$f") ;; *) run=(bash "$f") ;; esac
		fi
		o=$(cd repo && HOME=$T/home timeout 30 "${run[@]}" --help 2>"$T/err" </dev/null)
		rc1=$?
		e=$(cat "$T/err")
		if [ $rc1 -ne 0 ]; then
			bad+=("$f: exit $rc1: $(tail -n1 <<<"$e$o")")
		elif ! grep -qi '^usage: ' <<<"$o"; then
			bad+=("$f: no 'usage:' line: $(head -n2 <<<"$o" | tr '\n' ' ')")
		elif grep -qE '^(set -[euo]|\. "\$\(dirname|[A-Z_]+=\$\{[A-Z_]+:-|(passed|failed)[, ]|import |def )' <<<"$o"; then
			bad+=("$f: prints code or runs: $(grep -m1 -E '^(set -|\. |[A-Z_]+=|import |def )|passed' <<<"$o")")
		fi
	done < <(host_scripts repo)
	[ $n -ge 25 ] || bad+=("only $n scripts found")
	find repo -printf '%p %s %T@\n' | grep -v '/__pycache__' | sort >after
	local changed
	changed=$(diff before after | grep '^[<>]' | head -n5)
	[ -z "$changed" ] || bad+=("--help changed files: $changed")
	[ -z "$(ls -A home)" ] || bad+=("--help wrote into HOME: $(ls -A home)")
	[ ${#bad[@]} -eq 0 ] || { printf '%s\n' "${bad[@]}"; fail "${#bad[@]} script(s) without a clean --help"; }
}

# -- kunit/run.sh's lock ----------------------------------------------------

# kunit_cvm: kunit/run.sh cvm on a fresh build directory and no tree; it
# stops right after the lock (no kernel tree)
kunit_cvm() {
	out=$(BUILD=$T/build TREE=$T/none timeout "$1" "$REPO/kunit/run.sh" cvm 2>&1)
	rc=$?
}

t_kunit_lock_on_a_fresh_tree() {
	kunit_cvm 60
	[ -f build/kunit/.lock ] || fail "no lock file build/kunit/.lock: $out"
	! grep -q '\.lock: No such file or directory' <<<"$out" || fail "$(grep -m1 '\.lock: No such' <<<"$out")"
	! grep -q 'Bad file descriptor' <<<"$out" || fail "flock without the lock: $out"
	# someone else holds it (kunit/mutants.sh): run.sh waits
	( flock 8; touch held; sleep 4 ) 8>build/kunit/.lock &
	local i=0
	while [ ! -e held ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	kunit_cvm 2
	wait
	[ $rc -eq 124 ] || fail "run.sh did not wait for the lock (exit $rc): $out"
}

# -- make harness -------------------------------------------------------------

t_make_harness_own_report() {
	local g
	for g in harness harness-swiotlb; do
		out=$(make -s -n -C "$REPO" "$g" 2>&1)
		grep -q "report.py --name report-$g " <<<"$out" || fail "make $g: $out"
	done
	out=$(make -s -C "$REPO" help)
	grep -q 'report-harness\.md' <<<"$out" && grep -q 'report-harness-swiotlb\.md' <<<"$out" ||
		fail "make help does not name the report files"
}

# -- lint.sh ------------------------------------------------------------------

# shellcheck disable=SC2016 # the planted scripts' text
t_lint_reports_findings() {
	mkdir -p r/sub
	printf '#!/bin/bash\n# SPDX-License-Identifier: GPL-2.0\necho "$1"\n' >r/good.sh
	printf '#!/bin/sh\ncp $1 /tmp\n' >r/sub/bad-noext
	printf 'import os\n' >r/bad.py
	printf '# shellcheck shell=sh\necho "ok"\n' >r/sourced
	printf 'not a script $1\n' >r/README
	out=$(ROOT=$T/r "$REPO/scripts/lint.sh" 2>&1)
	rc=$?
	[ $rc -ne 0 ] || fail "findings, yet exit 0: $out"
	grep -qx 'PASS lint good.sh' <<<"$out" && grep -qx 'PASS lint sourced' <<<"$out" &&
		grep -qx 'FAIL lint sub/bad-noext' <<<"$out" && grep -qx 'FAIL lint bad.py' <<<"$out" ||
		fail "lines: $out"
	grep -q 'SC2086' <<<"$out" && grep -q "'os' imported but unused" <<<"$out" || fail "findings not shown: $out"
	[ "$(tail -n1 <<<"$out")" = "lint: 2 passed, 2 failed" ] || fail "last line: $(tail -n1 <<<"$out")"
}

# tg ARGS...: git in $T/tree as "Proj <proj@localhost>"
tg() {
	GIT_AUTHOR_NAME=Proj GIT_AUTHOR_EMAIL=proj@localhost GIT_COMMITTER_NAME=Proj \
	GIT_COMMITTER_EMAIL=proj@localhost git -C "$T/tree" "$@"
}

# two_branch_tree: root/ with the tree scripts, and $T/tree with branch base
# (a.txt hello, b.txt one) and branch series (one commit: a.txt world)
two_branch_tree() {
	mkdir -p root/scripts root/kernel/patches "$T/tree" || fail "mkdir"
	cp "$REPO/scripts/lib.sh" "$REPO/scripts/prepare-tree.sh" "$REPO/scripts/export-series.sh" root/scripts/
	cp "$REPO/Makefile" root/
	git init -q "$T/tree" && tg checkout -q -b base || fail "git init"
	printf 'hello\n' >"$T/tree/a.txt"; printf 'one\n' >"$T/tree/b.txt"
	tg add -A && tg commit -q -m base || fail "base commit"
	tg checkout -q -b series
	printf 'world\n' >"$T/tree/a.txt"
	tg commit -q -am 'a: world' -m 'Signed-off-by: Proj <proj@localhost>' || fail "series commit"
}

# One series under test: prepare-tree.sh test rebuilds the worktrees from
# SERIES_REF (default: the series branch as committed) + kernel/patches
# when they are stale, and leaves them alone when they are not.
t_worktrees_follow_series_ref() {
	two_branch_tree
	cat >root/kernel/patches/0001-b-two.patch <<'PATCH'
From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: T <t@localhost>
Date: Mon, 1 Jan 2024 00:00:00 +0000
Subject: [PATCH] b: two

---
 b.txt | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/b.txt b/b.txt
--- a/b.txt
+++ b/b.txt
@@ -1 +1 @@
-one
+two
-- 
2.39.5

PATCH
	local run=(env ROOT="$T/root" TREE="$T/tree" BUILD="$T/build" WORKTREES="$T/src" root/scripts/prepare-tree.sh test)
	out=$("${run[@]}" 2>&1) || fail "first refresh: $out"
	[ "$(cat src/test-series/a.txt src/test-series/b.txt)" = "world
two" ] || fail "test-series: $(cat src/test-series/*.txt)"
	[ "$(cat src/test-base/a.txt src/test-base/b.txt)" = "hello
two" ] || fail "test-base: $(cat src/test-base/*.txt)"
	out=$("${run[@]}" 2>&1) || fail "second refresh: $out"
	! grep -q stale <<<"$out" || fail "refreshed although up to date: $out"
	# a new commit on series: test-series follows, test-base stays
	printf 'again\n' >"$T/tree/a.txt"
	tg commit -q -am 'a: again' || fail "second series commit"
	out=$("${run[@]}" 2>&1) || fail "third refresh: $out"
	grep -q 'src/test-series is stale' <<<"$out" && ! grep -q 'test-base is stale' <<<"$out" ||
		fail "which worktree was refreshed: $out"
	[ "$(cat src/test-series/a.txt)" = again ] || fail "test-series a: $(cat src/test-series/a.txt)"
	# SERIES_REF chooses another commit; a bad one is a clear error
	out=$(SERIES_REF=base "${run[@]}" 2>&1) || fail "SERIES_REF=base: $out"
	[ "$(cat src/test-series/a.txt src/test-series/b.txt)" = "hello
two" ] || fail "SERIES_REF=base: $(cat src/test-series/*.txt)"
	out=$(SERIES_REF=nope "${run[@]}" 2>&1) && fail "SERIES_REF=nope accepted: $out"
	grep -q "SERIES_REF: 'nope' is no commit" <<<"$out" || fail "SERIES_REF=nope: $out"
}

# export-series.sh --as-me: the series under the user's git identity, in
# its own directory; without one, a clear error
t_export_as_me() {
	two_branch_tree
	mkdir -p home
	tg config branch.series.description "$(printf 'a: say world\n\nThe cover letter.')"
	local run=(env HOME="$T/home" ROOT="$T/root" TREE="$T/tree" BUILD="$T/build" root/scripts/export-series.sh --as-me)
	out=$("${run[@]}" 2>&1) && fail "exported without an identity: $out"
	grep -q "no user.name and user.email in your git configuration" <<<"$out" || fail "message: $out"
	printf '[user]\n\tname = Jane Doe\n\temail = jane@example.org\n' >home/.gitconfig
	out=$("${run[@]}" 2>&1) || fail "export --as-me: $out"
	p=$(ls build/export-mine/*0001-*.patch) || fail "no patch in build/export-mine: $out"
	grep -qx 'From: Jane Doe <jane@example.org>' "$p" &&
		grep -qx 'Signed-off-by: Jane Doe <jane@example.org>' "$p" &&
		! grep -q 'proj@localhost' build/export-mine/*.patch || fail "identity: $(grep -h '^From:\|^Signed' build/export-mine/*.patch)"
	[ ! -d root/patches ] || fail "--as-me wrote patches/"
}

# deps.sh --disk: room for the build output is checked before anything is
# built, with what to free in the message (the CI run of session 8 failed
# on a full disk with "unable to write file" errors late in the run)
t_deps_disk_room() {
	mkdir -p build/old
	head -c 3145728 /dev/zero >build/old/blob
	local free_g
	free_g=$(df -Pk build | awk 'NR == 2 { print int($4 / 1048576) }')
	out=$(BUILD=$T/build "$REPO/scripts/deps.sh" --disk $((free_g + 50)) 2>&1) &&
		fail "--disk $((free_g + 50)) passed with $free_g GiB free: $out"
	grep -q "GiB free on the file system of .*the build output needs about $((free_g + 50)) GiB in all: free [0-9]* GiB" <<<"$out" ||
		fail "message: $out"
	out=$(BUILD=$T/build "$REPO/scripts/deps.sh" --disk 12x 2>&1) && fail "--disk 12x accepted: $out"
	grep -q 'needs a number of GiB' <<<"$out" || fail "message: $out"
	out=$(BUILD=$T/build "$REPO/scripts/deps.sh" --bogus 2>&1) && fail "--bogus accepted: $out"
	return 0
}

# qemu_accel auto: KVM only once a Linux kernel reached its console under
# it.  On the machine of session 11 the one-sector probe ran under KVM and
# Linux hung: KUnit, which had no kernel to probe with, chose KVM and timed
# out after 600 s.  A fake QEMU runs the sector and hangs on any kernel
# (FAKE_LINUX=1: prints Linux's first line); KVM_DEV stands for /dev/kvm.
t_accel_probe_needs_linux() {
	mkdir -p bin build/kbuild
	cat >bin/qemu <<'Q'
#!/bin/bash
echo "$*" >>"$(dirname "$0")/calls"
for a in "$@"; do
	case $a in
	file:*) f=${a#file:} ;;
	esac
done
case " $* " in
*" -drive "*) printf K >"$f" ;;
*" -kernel "*) [ "${FAKE_LINUX:-0}" = 1 ] && echo "Linux version 6.12" >"$f" ;;
esac
sleep 30
Q
	chmod +x bin/qemu
	: >kvm
	accel() {
		(ROOT=$T BUILD=$T/build KBUILD=$T/build/kbuild QEMU=$T/bin/qemu \
		 KVM_DEV=$T/kvm ACCEL_PROBE_TIMEOUT=1 FAKE_LINUX=${FAKE_LINUX:-0}
		 . "$REPO/scripts/lib.sh"; qemu_accel "$@")
	}
	out=$(accel auto 2>&1) || fail "auto failed: $out"
	[ "$(tail -n1 <<<"$out")" = tcg ] || fail "no kernel to probe with: not tcg: $out"
	grep -q 'no built kernel' <<<"$out" || fail "no reason given: $out"
	mkdir -p build/kbuild/patched/arch/x86/boot
	: >build/kbuild/patched/arch/x86/boot/bzImage
	out=$(accel auto 2>&1) || fail "auto failed: $out"
	[ "$(tail -n1 <<<"$out")" = tcg ] || fail "Linux hangs under KVM, yet: $out"
	[ "$(sed -n 3p build/accel-probe)" = tcg ] || fail "Linux's answer not kept: $(cat build/accel-probe)"
	n=$(wc -l <bin/calls)
	out=$(accel auto build/kbuild/patched/arch/x86/boot/bzImage 2>&1)
	[ "$(tail -n1 <<<"$out")" = tcg ] && [ "$(wc -l <bin/calls)" = "$n" ] ||
		fail "the kept answer was not used: $out, $(cat bin/calls)"
	out=$(accel kvm 2>&1) && fail "--accel kvm accepted where Linux hangs: $out"
	grep -q 'does not run Linux here' <<<"$out" || fail "message: $out"
	rm build/accel-probe
	out=$(FAKE_LINUX=1 accel auto 2>&1) || fail "auto failed: $out"
	[ "$(tail -n1 <<<"$out")" = kvm ] || fail "Linux runs under KVM, yet: $out"
	rm kvm
	out=$(accel auto 2>&1)
	[ "$(tail -n1 <<<"$out")" = tcg ] || fail "no /dev/kvm, yet: $out"
}

for t in $(declare -F | awk '$3 ~ /^t_/ { print substr($3, 3) }'); do
	run_test "$t"
done
echo "tooling-unit: $npass passed, $nfail failed"
[ $nfail -eq 0 ]
