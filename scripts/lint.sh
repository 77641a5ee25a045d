#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Static checks of the project's own scripts: shellcheck on every shell
# script, pyflakes3 on every Python file.
#
# usage: scripts/lint.sh [--help] [--list]
#
#   --list   print the files and the checker of each, check nothing
#
# The files: those git tracks plus the untracked ones it does not ignore
# (every file outside build/ and results/ when ROOT is not a git checkout);
# shell: *.sh, a sh/bash shebang or a "# shellcheck shell=" directive near
# the top (the sourced guest scripts); Python: *.py or a python shebang.
# The exceptions to shellcheck's rules are in .shellcheckrc at the root,
# each with its reason.  One test per file, "PASS lint FILE" or "FAIL lint
# FILE" followed by the findings; the last line is "lint: N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/lib.sh"

LIST=0
while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	--list) LIST=1 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift
done

# the project's files, relative to ROOT
project_files() {
	if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$ROOT" ls-files --cached --others --exclude-standard
	else
		(cd "$ROOT" && find . \( -path ./build -o -path ./results -o -path ./.git \) -prune \
			-o -type f -print | sed 's|^\./||')
	fi | sort -u
}

# kind FILE: sh, py or nothing
kind() {
	case $1 in
	*.sh) echo sh; return ;;
	*.py) echo py; return ;;
	*.patch|*.c|*.h|*.md|*.config|*.kunitconfig|Makefile|Kbuild) return ;;
	esac
	local first
	first=$(head -n1 "$ROOT/$1" 2>/dev/null | tr -d '\0')
	case $first in
	'#!'*python*) echo py ;;
	'#!'*/sh|'#!'*/bash|'#!'*'env sh'|'#!'*'env bash'|'#!'*/sh\ *|'#!'*/bash\ *) echo sh ;;
	*) head -n5 "$ROOT/$1" 2>/dev/null | grep -q '^# shellcheck shell=' && echo sh ;;
	esac
	return 0
}

FILES=(); KINDS=()
while IFS= read -r f; do
	[ -f "$ROOT/$f" ] || continue
	k=$(kind "$f")
	[ -n "$k" ] || continue
	FILES+=("$f"); KINDS+=("$k")
done < <(project_files)

if [ $LIST -eq 1 ]; then
	for i in "${!FILES[@]}"; do printf '%s\t%s\n' "${KINDS[$i]}" "${FILES[$i]}"; done
	exit 0
fi
need_cmd shellcheck shellcheck
need_cmd pyflakes3 pyflakes3

np=0; nf=0
for i in "${!FILES[@]}"; do
	f=${FILES[$i]}
	# from ROOT: .shellcheckrc and the sourced files are found from there
	case ${KINDS[$i]} in
	sh) out=$(cd "$ROOT" && shellcheck -x "$f" 2>&1) ;;
	py) out=$(cd "$ROOT" && pyflakes3 "$f" 2>&1) ;;
	esac
	rc=$?
	if [ $rc -eq 0 ] && [ -z "$out" ]; then
		echo "PASS lint $f"
		np=$((np + 1))
	else
		echo "FAIL lint $f"
		printf '%s\n' "$out" | sed 's/^/    /'
		nf=$((nf + 1))
	fi
done
echo "lint: $np passed, $nf failed"
[ $nf -eq 0 ]
