#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Prepare the kernel git tree under build/linux from linux-source-6.12.
#
# usage: scripts/prepare-tree.sh [--help] [--force] [base|branches|all]
#
#   base      extract /usr/src/linux-source-6.12.tar.xz (if needed) and make
#             it a git repository with one deterministic base commit
#   branches  (re)create the branches, each with 'git am':
#               series       = base   + patches/*.patch  (development branch)
#               test-base    = base   + kernel/patches/*.patch
#               test-series  = series + kernel/patches/*.patch
#             and check out test-base / test-series as worktrees under
#             build/src/ for the baseline and patched builds
#   all       both (default)
#
# The series branch is only recreated when it holds nothing that is not
# already in patches/ (compare with 'make export'); --force overrides.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FORCE=0
WHAT=all
for a in "$@"; do
	case "$a" in
	-h|--help) sed -n '3,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	--force) FORCE=1 ;;
	base|branches|all) WHAT=$a ;;
	*) die "unknown argument '$a' (see --help)" ;;
	esac
done

TARBALL=/usr/src/linux-source-6.12.tar.xz

pkg_version() {
	dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null ||
		die "linux-source-6.12 is not installed: run 'make deps'"
}

make_base() {
	need_cmd git git
	need_cmd xz xz-utils
	[ -f "$TARBALL" ] || die "$TARBALL missing: run 'make deps' (package linux-source-6.12)"
	local pv; pv=$(pkg_version)
	if [ -n "${LINUX_SOURCE_VERSION:-}" ] && [ "$pv" != "$LINUX_SOURCE_VERSION" ]; then
		loud "base tree is linux-source-6.12 $pv, NOT the pinned $LINUX_SOURCE_VERSION"
	fi
	if [ -d "$TREE/.git" ] && [ -f "$BUILD/base-version" ] &&
	   grep -q "^linux-source-6.12 $pv " "$BUILD/base-version" &&
	   tgit rev-parse -q --verify "refs/heads/$BR_BASE" >/dev/null; then
		log "tree: base $(cat "$BUILD/base-version") already present"
		return 0
	fi
	local t0=$SECONDS
	rm -rf "$TREE" "$WORKTREES" "$BUILD/base-version"
	mkdir -p "$BUILD"
	log "tree: extracting $TARBALL ($pv)"
	local tmp="$BUILD/.extract.$$"
	rm -rf "$tmp"; mkdir -p "$tmp"
	tar -xJf "$TARBALL" -C "$tmp"
	mv "$tmp"/linux-source-6.12 "$TREE"
	rmdir "$tmp"
	log "tree: extracted in $((SECONDS - t0))s"
	# Debian appends "/*  !/debian/" to the top-level .gitignore because its
	# packaging repository only tracks debian/.  Left in place, every *new*
	# file (a KUnit test, say) would silently stay out of commits and out of
	# the exported series, so the base commit drops exactly that block.
	python3 - "$TREE/.gitignore" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
block = "\n#\n# Debian packaging: ignore everything at the top level, since it isn't\n# included in our repository\n#\n/*\n!/debian/\n"
if block in s:
    s = s.replace(block, "\n")
    open(p, "w").write(s)
PY
	local t1=$SECONDS
	tgit init -q -b "$BR_BASE"
	tgit config core.abbrev 12
	tgit config gc.auto 0
	tgit add -f -A .
	local kv; kv=$(make -s -C "$TREE" kernelversion)
	tgit commit -q -m "Linux $kv (Debian linux-source-6.12 $pv)" \
		-m "Imported from $TARBALL; Debian's top-level ignore-all rule dropped."
	local sha; sha=$(tgit rev-parse HEAD)
	printf 'linux-source-6.12 %s linux-%s base-commit %s\n' "$pv" "$kv" "$sha" >"$BUILD/base-version"
	log "tree: base commit $sha in $((SECONDS - t1))s"
	record_time extract+commit $((SECONDS - t0))
}

# apply_dir BRANCH START DIR: create BRANCH at START and git am DIR's patches.
apply_dir() {
	local br=$1 start=$2 dir=$3
	local -a p
	mapfile -t p < <(series_patches "$dir")
	tgit checkout -q -B "$br" "$start"
	if [ ${#p[@]} -eq 0 ]; then
		log "tree: $br = $start (no patches in ${dir#$ROOT/})"
		return 0
	fi
	if ! tgit am -q --committer-date-is-author-date "${p[@]}" >"$BUILD/am-$br.log" 2>&1; then
		local cur; cur=$(cat "$TREE/.git/rebase-apply/next" 2>/dev/null || echo 0)
		cat "$BUILD/am-$br.log" >&2
		tgit am --abort >/dev/null 2>&1 || true
		die "tree: git am of ${dir#$ROOT/} onto $start failed at patch $cur: $(basename "${p[$((cur - 1))]:-unknown}")"
	fi
	log "tree: $br = $start + ${#p[@]} patch(es) from ${dir#$ROOT/}"
}

make_branches() {
	[ -d "$TREE/.git" ] || die "no tree: run 'scripts/prepare-tree.sh base' first"
	if [ $FORCE -eq 0 ] && tgit rev-parse -q --verify "refs/heads/$BR_SERIES" >/dev/null; then
		local tmp; tmp=$(mktemp -d)
		OUT="$tmp" "$ROOT/scripts/export-series.sh" --quiet
		if ! same_patches "$tmp" "$ROOT/patches"; then
			rm -rf "$tmp"
			die "tree: branch '$BR_SERIES' has work not exported to patches/: run 'make export' first, or 'make tree FORCE=1' to discard it"
		fi
		rm -rf "$tmp"
	fi
	if [ $FORCE -eq 0 ] && tgit rev-parse -q --verify "refs/heads/$BR_TEST_BASE" >/dev/null; then
		local tmp; tmp=$(mktemp -d)
		OUT="$tmp" "$ROOT/scripts/export-series.sh" --quiet --test
		if ! same_patches "$tmp" "$ROOT/kernel/patches"; then
			rm -rf "$tmp"
			die "tree: branch '$BR_TEST_BASE' has work not exported to kernel/patches/: run 'make export-test' first, or 'make tree FORCE=1' to discard it"
		fi
		rm -rf "$tmp"
	fi
	# worktrees hold test-base/test-series checked out: drop them first
	tgit worktree prune
	local w
	for w in "$WORKTREES"/*; do
		[ -d "$w" ] && tgit worktree remove --force "$w"
	done
	tgit checkout -q -f "$BR_BASE"
	tgit clean -q -fdx -e build >/dev/null
	apply_dir "$BR_SERIES" "$BR_BASE" "$ROOT/patches"
	"$ROOT/scripts/export-series.sh" --set-description
	apply_dir "$BR_TEST_BASE" "$BR_BASE" "$ROOT/kernel/patches"
	apply_dir "$BR_TEST" "$BR_SERIES" "$ROOT/kernel/patches"
	tgit checkout -q "$BR_SERIES"
	mkdir -p "$WORKTREES"
	for w in "$BR_TEST_BASE" "$BR_TEST"; do
		tgit worktree add -q -f "$WORKTREES/$w" "$w"
	done
	log "tree: worktrees $(ls "$WORKTREES" | tr '\n' ' ')(development happens on '$BR_SERIES' in ${TREE#$ROOT/})"
}

case $WHAT in
base) make_base ;;
branches) make_branches ;;
all) make_base; make_branches ;;
esac
