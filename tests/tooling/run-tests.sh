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
	tests/harness/run-tests.sh scripts/build-kernel.sh kunit/run.sh
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
	grep -qx tooling-unit <<<"$out" || fail "--list: no tooling-unit: $out"
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

for t in $(declare -F | awk '$3 ~ /^t_/ { print substr($3, 3) }'); do
	run_test "$t"
done
echo "tooling-unit: $npass passed, $nfail failed"
[ $nfail -eq 0 ]
