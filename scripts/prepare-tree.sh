#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Prepare the kernel git tree under build/linux from linux-source-6.12.
#
# usage: scripts/prepare-tree.sh [--help] [--force] [base|branches|test|all]
#
#   base      extract /usr/src/linux-source-6.12.tar.xz (if needed) and make
#             it a git repository with one deterministic base commit
#   branches  (re)create the branches, each with 'git am':
#               fixes        = base   + patches/fixes/*.patch (independent fixes)
#               series       = fixes  + patches/*.patch  (development branch)
#               test-base    = base   + kernel/patches/*.patch
#               test-series  = series + kernel/patches/*.patch
#             and check out test-base / test-series as worktrees under
#             build/src/ for the baseline and patched builds
#   test      only the two worktrees, where they are stale: test-series =
#             SERIES_REF (default: the series branch, as it is, committed
#             or not exported) + kernel/patches, test-base = base +
#             kernel/patches.  Every kernel build runs this first, so that
#             builds, harness, bench and stress test the same series as
#             'make kunit' does
#   all       base and branches (default)
#
# The series branch is only recreated when it holds nothing that is not
# already in patches/ (compare with 'make export'); --force overrides.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FORCE=0
WHAT=all
for a in "$@"; do
	case "$a" in
	-h|--help) usage; exit 0 ;;
	--force) FORCE=1 ;;
	base|branches|test|all) WHAT=$a ;;
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
	# commits made while developing the series carry the project's
	# identity (the patches' From: and Signed-off-by:), not the global
	# one of whoever runs this; make export-mine sends under your own
	tgit config user.name "cvm-dma-align developers"
	tgit config user.email "$TOOL_EMAIL"
	tgit add -f -A .
	local kv; kv=$(make -s -C "$TREE" kernelversion)
	tgit commit -q -m "Linux $kv (Debian linux-source-6.12 $pv)" \
		-m "Imported from $TARBALL; Debian's top-level ignore-all rule dropped."
	local sha; sha=$(tgit rev-parse HEAD)
	printf 'linux-source-6.12 %s linux-%s base-commit %s\n' "$pv" "$kv" "$sha" >"$BUILD/base-version"
	log "tree: base commit $sha in $((SECONDS - t1))s"
	record_time extract+commit $((SECONDS - t0))
}

# apply_dir WORKTREE BRANCH START DIR: in WORKTREE, reset BRANCH to START
# and git am DIR's patches.  Only files that differ are rewritten, so the
# kernel builds that use the worktree stay incremental.
apply_dir() {
	local wt=$1 br=$2 start=$3 dir=$4
	local -a p
	mapfile -t p < <(series_patches "$dir")
	wg() { tgit -C "$wt" "$@"; }
	wg am --abort >/dev/null 2>&1 || true
	wg checkout -q -f -B "$br" "$start"
	wg clean -q -fdx -e "/.kbuild-*"
	if [ ${#p[@]} -eq 0 ]; then
		log "tree: $br = $start (no patches in ${dir#"$ROOT"/})"
		return 0
	fi
	if ! wg am -q -3 --committer-date-is-author-date "${p[@]}" >"$BUILD/am-$br.log" 2>&1; then
		local cur; cur=$(cat "$(wg rev-parse --path-format=absolute --git-path rebase-apply)/next" 2>/dev/null || echo 0)
		cat "$BUILD/am-$br.log" >&2
		wg am --abort >/dev/null 2>&1 || true
		die "tree: git am of ${dir#"$ROOT"/} onto $start failed at patch $cur: $(basename "${p[$((cur - 1))]:-unknown}")"
	fi
	log "tree: $br = $start + ${#p[@]} patch(es) from ${dir#"$ROOT"/}"
}

# test_stamp START: what a test worktree built on START holds: START's
# commit and the kernel/patches
test_stamp() {
	printf '%s %s\n' "$(tgit rev-parse "$1^{commit}")" \
		"$(series_patches "$ROOT/kernel/patches" | xargs -r cat | sha256sum | cut -c1-32)"
}

# refresh_test BRANCH START: make the worktree of BRANCH START +
# kernel/patches unless it is already (per its stamp, and its HEAD is where
# the stamp left it)
refresh_test() {
	local br=$1 start=$2 want st=$BUILD/worktree-$1.stamp
	want="$(test_stamp "$start")"
	if [ -e "$WORKTREES/$br/.git" ] && [ -f "$st" ] &&
	   [ "$(sed -n 1p "$st")" = "$want" ] &&
	   [ "$(sed -n 2p "$st")" = "$(tgit -C "$WORKTREES/$br" rev-parse HEAD)" ] &&
	   [ -z "$(tgit -C "$WORKTREES/$br" status --porcelain)" ]; then
		return 0
	fi
	mkdir -p "$WORKTREES"
	[ -e "$WORKTREES/$br/.git" ] || worktree_at "$WORKTREES/$br" "$start"
	log "tree: ${WORKTREES#"$ROOT"/}/$br is stale: rebuilding it from $start"
	apply_dir "$WORKTREES/$br" "$br" "$start" "$ROOT/kernel/patches"
	printf '%s\n%s\n' "$want" "$(tgit -C "$WORKTREES/$br" rev-parse HEAD)" >"$st"
}

refresh_tests() {
	[ -d "$TREE/.git" ] || die "no tree: run 'make tree' first"
	local ref=${SERIES_REF:-$BR_SERIES}
	mkdir -p "$BUILD" "$WORKTREES"
	tgit rev-parse -q --verify "$ref^{commit}" >/dev/null ||
		die "SERIES_REF: '$ref' is no commit of ${TREE#"$ROOT"/}"
	refresh_test "$BR_TEST_BASE" "$BR_BASE"
	refresh_test "$BR_TEST" "$(tgit rev-parse "$ref^{commit}")"
}

# unexported BRANCH DIR [--test]: fail if BRANCH holds work that DIR lacks
unexported() {
	local br=$1 dir=$2; shift 2
	[ $FORCE -eq 0 ] || return 0
	tgit rev-parse -q --verify "refs/heads/$br" >/dev/null || return 0
	local tmp; tmp=$(mktemp -d)
	OUT="$tmp" "$ROOT/scripts/export-series.sh" --quiet "$@"
	if ! same_patches "$tmp" "$dir"; then
		rm -rf "$tmp"
		die "tree: branch '$br' has work not exported to ${dir#"$ROOT"/}/: run 'make export$([ "${1:-}" = --test ] && echo -test)' first, or 'make tree FORCE=1' to discard it"
	fi
	rm -rf "$tmp"
}

# branch_heads: the commits of series, test-base and test-series (those that
# exist), on one line
branch_heads() {
	local b
	for b in "$BR_FIXES" "$BR_SERIES" "$BR_TEST_BASE" "$BR_TEST"; do
		tgit rev-parse -q --verify "refs/heads/$b" || true
	done | tr '\n' ' '
}

make_branches() {
	[ -d "$TREE/.git" ] || die "no tree: run 'scripts/prepare-tree.sh base' first"
	local base_sha; base_sha=$(tgit rev-parse "$BR_BASE")
	# Nothing to do when the inputs are those of the last run and the
	# branches still point where that run left them.
	local stamp; stamp=$( (echo "$base_sha"; find "$ROOT/patches" "$ROOT/patches/fixes" "$ROOT/kernel/patches" \
		-maxdepth 1 -name '*.patch' 2>/dev/null | sort | xargs -r cat) | sha256sum | cut -c1-32)
	local heads; heads=$(branch_heads)
	if [ $FORCE -eq 0 ] && [ -f "$BUILD/branches.stamp" ] &&
	   [ "$(cat "$BUILD/branches.stamp")" = "$stamp $heads" ] &&
	   [ -e "$WORKTREES/$BR_TEST_BASE/.git" ] && [ -e "$WORKTREES/$BR_TEST/.git" ] &&
	   [ -z "$(tgit status --porcelain --untracked-files=no)" ]; then
		log "tree: branches up to date with patches/ and kernel/patches/"
		return 0
	fi
	unexported "$BR_FIXES" "$ROOT/patches/fixes" --fixes
	unexported "$BR_SERIES" "$ROOT/patches"
	unexported "$BR_TEST_BASE" "$ROOT/kernel/patches" --test
	if [ $FORCE -eq 0 ] && [ -n "$(tgit status --porcelain --untracked-files=no)" ]; then
		die "tree: uncommitted changes in ${TREE#"$ROOT"/}: commit (and 'make export') or 'make tree FORCE=1' to discard them"
	fi
	mkdir -p "$WORKTREES"
	local w
	for w in "$BR_TEST_BASE" "$BR_TEST"; do
		# existing worktrees are reset by apply_dir, file by file
		[ -e "$WORKTREES/$w/.git" ] || worktree_at "$WORKTREES/$w" "$BR_BASE"
	done
	apply_dir "$TREE" "$BR_FIXES" "$BR_BASE" "$ROOT/patches/fixes"
	apply_dir "$TREE" "$BR_SERIES" "$BR_FIXES" "$ROOT/patches"
	"$ROOT/scripts/export-series.sh" --set-description
	apply_dir "$WORKTREES/$BR_TEST_BASE" "$BR_TEST_BASE" "$BR_BASE" "$ROOT/kernel/patches"
	apply_dir "$WORKTREES/$BR_TEST" "$BR_TEST" "$BR_SERIES" "$ROOT/kernel/patches"
	echo "$stamp $(branch_heads)" >"$BUILD/branches.stamp"
	for w in "$BR_TEST_BASE" "$BR_TEST"; do
		printf '%s\n%s\n' "$(test_stamp "$([ "$w" = "$BR_TEST" ] && echo "$BR_SERIES" || echo "$BR_BASE")")" \
			"$(tgit -C "$WORKTREES/$w" rev-parse HEAD)" >"$BUILD/worktree-$w.stamp"
	done
	log "tree: worktrees $(cd "$WORKTREES" && printf '%s ' *)(development happens on '$BR_SERIES' in ${TREE#"$ROOT"/})"
}

case $WHAT in
base) make_base ;;
branches) make_branches ;;
test) refresh_tests ;;
all) make_base; make_branches ;;
esac
