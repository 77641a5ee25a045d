#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Self-tests of the series tooling: round trip and gates.
#
# usage: scripts/test-tooling.sh [--help]
#
# 1. the real series: export of the series branch == patches/, and of the
#    fixes branch == patches/fixes/, byte for byte
# 2. a one-patch series made here (a comment fix in kernel/dma/swiotlb.c):
#    every gate passes, and apply + export is byte-identical
# 3. an empty series: every gate passes
# 4. broken series, each must make the right gate fail naming the patch:
#    trailing whitespace (checkpatch), a hunk that no longer applies (am),
#    a new non-static function without prototype (sparse and W=1), a
#    patch that builds only with the next (bisect), a select that changes
#    Debian's configuration (config), a fix that applies only on top of
#    the one before it (am: each fix must apply to base alone)
# Prints one "PASS name" / "FAIL name" line per test.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
case "${1:-}" in -h|--help) usage; exit 0 ;; esac

T=$BUILD/selftest
WT=$T/src
rm -rf "$T/series"; mkdir -p "$T/series"
npass=0; nfail=0
ok()  { echo "PASS $1"; npass=$((npass + 1)); }
bad() { echo "FAIL $1${2:+: $2}"; nfail=$((nfail + 1)); }

# expect_gate NAME DIR GATE pass|fail [PATTERN]: run GATE on DIR; on
# expected failure the output must contain PATTERN (the patch name).
expect_gate() {
	local name=$1 dir=$2 gate=$3 want=$4 pat=${5:-}
	local out rc
	out=$(PATCHES=$dir FIXES_PATCHES=${FIXES_DIR:-} GATES_DIR=$T/gates "$ROOT/scripts/gates.sh" "$gate" 2>&1); rc=$?
	# not gates.sh's own count line: check.sh would add it to ours
	echo "$out" | grep -v -E '^gates: [0-9]+ passed, [0-9]+ failed$' |
		sed 's/^/    /' | tail -n 6
	if [ "$want" = pass ]; then
		[ $rc -eq 0 ] && ok "$name" || bad "$name" "gate $gate failed"
	elif [ $rc -eq 0 ]; then
		bad "$name" "gate $gate passed a broken series"
	elif [ -n "$pat" ] && ! grep -q -- "$pat" <<<"$out"; then
		bad "$name" "gate $gate failed without naming $pat"
	else
		ok "$name"
	fi
}

# 1. real series round trip
rt=$T/series/roundtrip
mkdir -p "$rt"
if OUT=$rt "$ROOT/scripts/export-series.sh" --quiet && same_patches "$rt" "$ROOT/patches"; then
	ok "roundtrip-real-series ($(find "$rt" -mindepth 1 -maxdepth 1 ! -name '.*' | wc -l) files)"
else
	bad roundtrip-real-series "export of '$BR_SERIES' differs from patches/ (run 'make tree' or 'make export')"
fi
if OUT=$rt/fixes "$ROOT/scripts/export-series.sh" --quiet --fixes &&
   same_patches "$rt/fixes" "$ROOT/patches/fixes"; then
	ok "roundtrip-real-fixes ($(find "$rt/fixes" -mindepth 1 -maxdepth 1 | wc -l) files)"
else
	bad roundtrip-real-fixes "export of '$BR_FIXES' differs from patches/fixes/ (run 'make tree' or 'make export')"
fi

# 2. a one-patch series, committed on a scratch branch
worktree_at "$WT" "$BR_BASE"
sg() { GIT_AUTHOR_NAME="Selftest Developer" GIT_AUTHOR_EMAIL="selftest@localhost" \
	GIT_COMMITTER_NAME="Selftest Developer" GIT_COMMITTER_EMAIL="selftest@localhost" \
	GIT_AUTHOR_DATE="$TOOL_DATE" GIT_COMMITTER_DATE="$TOOL_DATE" git -C "$WT" "$@"; }
sg checkout -q -f -B selftest-one "$BR_BASE"
f=kernel/dma/swiotlb.c
grep -q 'The number of slot in an area' "$WT/$f" ||
	{ bad selftest-setup "anchor comment not found in $f"; }
sed -i 's/The number of slot in an area/The number of slots in an area/' "$WT/$f"
sg commit -q -a -F - <<'MSG'
swiotlb: fix a plural in the comment of round_up_default_nslabs()

No functional change.

Signed-off-by: Selftest Developer <selftest@localhost>
MSG
sg config branch.selftest-one.description "selftest: a one-patch series

This cover letter exists to test the round trip of the tooling."
one=$T/series/one
mkdir -p "$one"
BR_SERIES=selftest-one OUT=$one "$ROOT/scripts/export-series.sh" --quiet
[ "$(series_patches "$one" | wc -l)" -eq 1 ] && ok "export-one-patch" || bad export-one-patch
grep -q "^Subject: \\[PATCH v$SERIES_VERSION 0/1\\] selftest: a one-patch series" "$one"/*0000-cover-letter.patch &&
	ok "cover-letter-subject" || bad cover-letter-subject "$(grep -h '^Subject' "$one"/*0000* || true)"
grep -q "^base-commit: $(tgit rev-parse "$BR_BASE")" "$one"/*0000-cover-letter.patch &&
	ok "cover-letter-base-commit" || bad cover-letter-base-commit

# apply + export again: byte-identical
sg checkout -q -f -B selftest-rt "$BR_BASE"
mapfile -t onep < <(series_patches "$one")
sg am -q --committer-date-is-author-date "${onep[@]}"
PATCHES=$one BR_SERIES=selftest-rt "$ROOT/scripts/export-series.sh" --set-description
rt1=$T/series/one-rt
mkdir -p "$rt1"
BR_SERIES=selftest-rt OUT=$rt1 "$ROOT/scripts/export-series.sh" --quiet
[ -n "$(series_patches "$one")" ] && same_patches "$one" "$rt1" && ok "roundtrip-one-patch" ||
	bad roundtrip-one-patch "$(diff -r "$one" "$rt1" | head -5)"

for g in am checkpatch sparse w1 b4 bisect config; do
	expect_gate "one-patch-gate-$g" "$one" "$g" pass
done

# 3. empty series
mkdir -p "$T/series/empty"
for g in am checkpatch sparse w1 b4 bisect config; do
	expect_gate "empty-gate-$g" "$T/series/empty" "$g" pass
done

# 4a. trailing whitespace in an added line
ws=$T/series/whitespace; rm -rf "$ws"; cp -r "$one" "$ws"
p=$(series_patches "$ws")
sed -i 's/^+ \* The number of slots in an area.*$/& /' "$p"
expect_gate broken-whitespace-checkpatch "$ws" checkpatch fail "$(basename "$p")"

# 4a'. a changelog line over 75 characters: checkpatch reports it on the
# changelog (":LINE:", no file name); the gate must still name the patch
lc=$T/series/longlog; rm -rf "$lc"; cp -r "$one" "$lc"
p=$(series_patches "$lc")
sed -i '0,/^No functional change\.$/s//No functional change, and this changelog line is deliberately longer than seventy-five characters./' "$p"
expect_gate broken-changelog-checkpatch "$lc" checkpatch fail "$(basename "$p")"

# 4b. a hunk that no longer applies (its context changed)
na=$T/series/noapply; rm -rf "$na"; cp -r "$one" "$na"
p=$(series_patches "$na")
sed -i 's/^  \* Round up number of slabs/  * Round down number of slabs/' "$p"
expect_gate broken-hunk-am "$na" am fail "$(basename "$p")"

# export_broken BRANCH DIR WHAT: commit the work tree's changes on BRANCH
# with the message on stdin, describe the series as deliberately broken
# (WHAT) and export it into DIR
export_broken() {
	sg commit -q -a -F -
	sg config "branch.$1.description" "selftest: $3

Deliberately broken."
	mkdir -p "$2"
	BR_SERIES=$1 OUT=$2 "$ROOT/scripts/export-series.sh" --quiet
}

# 4c. a new global function without prototype: new sparse + W=1 warnings
sg checkout -q -f -B selftest-proto "$BR_BASE"
printf '\nint swiotlb_selftest_unused(void)\n{\n\treturn 0;\n}\n' >>"$WT/$f"
pr=$T/series/proto
export_broken selftest-proto "$pr" "broken prototype" <<'MSG'
swiotlb: add a function nobody declares

Deliberately broken for the tooling self-test.

Signed-off-by: Selftest Developer <selftest@localhost>
MSG
p=$(series_patches "$pr")
expect_gate broken-proto-sparse "$pr" sparse fail "$(basename "$p")"
expect_gate broken-proto-w1 "$pr" w1 fail "$(basename "$p")"

# 4d. patch 1 uses what only patch 2 defines: the tip builds, patch 1 not
sg checkout -q -f -B selftest-bisect "$BR_BASE"
sed -i 's/^\(static bool swiotlb_force_bounce;\)$/\1\nstatic int swiotlb_selftest_used = SWIOTLB_SELFTEST_N;/' "$WT/$f"
grep -q swiotlb_selftest_used "$WT/$f" || bad selftest-setup "anchor 'static bool swiotlb_force_bounce;' not found in $f"
printf '\nint swiotlb_selftest_get(void);\nint swiotlb_selftest_get(void)\n{\n\treturn swiotlb_selftest_used;\n}\n' >>"$WT/$f"
sg commit -q -a -F - <<'MSG'
swiotlb: use a constant defined by the next patch

Deliberately broken for the tooling self-test: builds only with the
next patch.

Signed-off-by: Selftest Developer <selftest@localhost>
MSG
sed -i 's/^\(static bool swiotlb_force_bounce;\)$/#define SWIOTLB_SELFTEST_N 1\n\1/' "$WT/$f"
sg commit -q -a -F - <<'MSG'
swiotlb: define the constant the previous patch uses

Deliberately broken for the tooling self-test.

Signed-off-by: Selftest Developer <selftest@localhost>
MSG
sg config branch.selftest-bisect.description "selftest: a series that only builds at its tip

Deliberately broken."
bi=$T/series/bisect; mkdir -p "$bi"
BR_SERIES=selftest-bisect OUT=$bi "$ROOT/scripts/export-series.sh" --quiet
p=$(series_patches "$bi" | head -n1)
expect_gate broken-order-w1-at-tip "$bi" w1 pass
expect_gate broken-order-bisect "$bi" bisect fail "$(basename "$p")"

# 4e. a select that turns an option on in distribution kernels
sg checkout -q -f -B selftest-select "$BR_BASE"
k=arch/x86/Kconfig
sed -i '/^config AMD_MEM_ENCRYPT$/,/^\thelp$/s/^\tselect X86_MEM_ENCRYPT$/&\n\tselect SWIOTLB_DYNAMIC/' "$WT/$k"
grep -q 'select SWIOTLB_DYNAMIC' "$WT/$k" || bad selftest-setup "anchor 'select X86_MEM_ENCRYPT' of AMD_MEM_ENCRYPT not found in $k"
se=$T/series/select
export_broken selftest-select "$se" "a select" <<'MSG'
x86: select SWIOTLB_DYNAMIC for SEV guests

Deliberately broken for the tooling self-test: changes every
distribution kernel that enables AMD_MEM_ENCRYPT.

Signed-off-by: Selftest Developer <selftest@localhost>
MSG
expect_gate broken-select-config "$se" config fail "SWIOTLB_DYNAMIC n -> y"

# 4f. two fixes, the second applying only on top of the first: as a stack
# they apply, but each fix must apply to base alone
sg checkout -q -f -B selftest-dep selftest-one
sed -i 's/The number of slots in an area/The number of slots in one area/' "$WT/$f"
dp=$T/series/dep
export_broken selftest-dep "$dp" "a fix on top of another" <<'MSG'
swiotlb: fix the article in the comment of round_up_default_nslabs()

Deliberately applies only on top of the previous fix.

Signed-off-by: Selftest Developer <selftest@localhost>
MSG
p=$(series_patches "$dp" | tail -n1)
mkdir -p "$T/series/none"
FIXES_DIR=$dp expect_gate broken-fix-not-alone-am "$T/series/none" am fail "$(basename "$p")"

sg checkout -q -f --detach "$BR_BASE"
echo "tooling: $npass passed, $nfail failed"
[ $nfail -eq 0 ]
