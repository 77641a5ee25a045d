#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Regenerate patches/ (or kernel/patches/) from the kernel tree's branches.
#
# usage: scripts/export-series.sh [--help] [--quiet] [--test] [--fixes]
#                                 [--set-description] [--as-me]
#
#   (default)          fixes..series -> patches/ : numbered, cover letter from
#                      the branch description, "[PATCH vN 00/NN]" subjects,
#                      base-commit: base and a prerequisite-patch-id for each
#                      fix (base..series if the series branch does not hold
#                      the fixes branch)
#   --fixes            base..fixes -> patches/fixes/ : the independent fixes,
#                      a series of their own ("[PATCH 0/N]", cover letter from
#                      the fixes branch's description), each applying to
#                      base alone
#   --test             base..test-base -> kernel/patches/ (test-only patches,
#                      no cover letter)
#   --as-me            the series under your own name, to send it: the
#                      author (From:) and Signed-off-by of the project
#                      identity become user.name <user.email> of your git
#                      configuration (global, then system), into
#                      build/export-mine/ (OUT= to choose); patches/ keeps
#                      the project identity, so that every copy of the
#                      project exports byte-identical patches
#   --set-description  read the cover letters in patches/ and patches/fixes/
#                      back into the descriptions of the branches (used by 'make tree',
#                      so that apply + export is a byte-identical round trip)
#
# The output does not depend on who runs it or when: commit ids are zeroed,
# there is no signature, and the cover letter's From/Date are those of the
# newest patch.  Environment: SERIES_VERSION (default 1), OUT (output dir).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

QUIET=0
AS_ME=0
MODE=series
for a in "$@"; do
	case "$a" in
	-h|--help) usage; exit 0 ;;
	--quiet) QUIET=1 ;;
	--test) MODE="test" ;;
	--fixes) MODE=fixes ;;
	--set-description) MODE=desc ;;
	--as-me) AS_ME=1 ;;
	*) die "unknown argument '$a' (see --help)" ;;
	esac
done
V=${SERIES_VERSION:-1}
[ -d "$TREE/.git" ] || die "no kernel tree: run 'make tree'"

if [ "$MODE" = desc ]; then
	for pair in "$BR_SERIES:${PATCHES:-$ROOT/patches}" "$BR_FIXES:${FIXES_PATCHES:-$ROOT/patches/fixes}"; do
		br=${pair%%:*}
		c=$(cover_of "${pair#*:}")
		[ -n "$c" ] || continue
		tgit rev-parse -q --verify "refs/heads/$br" >/dev/null || continue
		python3 - "$c" >"$BUILD/.desc" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().split("\n")
i = 0
subj = ""
while lines[i] != "":
    if lines[i].startswith("Subject: "):
        subj = re.sub(r"^Subject: \[[^\]]*\] ", "", lines[i])
        j = i + 1
        while lines[j].startswith(" "):      # folded header
            subj += lines[j]
            j += 1
    i += 1
body = []
for l in lines[i + 1:]:
    if re.match(r"^\S.* \(\d+\):$", l):      # start of the shortlog (column 0)
        break
    body.append(l)
while body and body[-1] == "":
    body.pop()
sys.stdout.write(subj + "\n\n" + "\n".join(body) + "\n")
PY
		tgit config "branch.$br.description" "$(cat "$BUILD/.desc")"
		rm -f "$BUILD/.desc"
	done
	exit 0
fi

if [ "$MODE" = test ]; then
	OUT=${OUT:-$ROOT/kernel/patches}
	range="$BR_BASE..$BR_TEST_BASE"
	extra=(--no-numbered)
else
	if [ $AS_ME -eq 1 ]; then
		OUT=${OUT:-$BUILD/export-mine}
		ME_NAME=$(git config --global user.name || git config --system user.name || true)
		ME_EMAIL=$(git config --global user.email || git config --system user.email || true)
		[ -n "$ME_NAME" ] && [ -n "$ME_EMAIL" ] ||
			die "export --as-me: no user.name and user.email in your git configuration: git config --global user.name 'Your Name'; git config --global user.email you@example.org"
	fi
	BRANCH=$BR_SERIES
	if [ "$MODE" = fixes ]; then
		OUT=${OUT:-$ROOT/patches/fixes}
		[ $AS_ME -eq 1 ] && OUT=$OUT/fixes
		BRANCH=$BR_FIXES
		tgit rev-parse -q --verify "refs/heads/$BRANCH" >/dev/null ||
			die "export --fixes: no branch '$BRANCH' in ${TREE#"$ROOT"/}"
		range="$BR_BASE..$BR_FIXES"
		ver=()
	else
		OUT=${OUT:-$ROOT/patches}
		range="$(series_base)..$BR_SERIES"
		ver=(-v"$V")
	fi
	extra=(--numbered --cover-letter --cover-from-description=subject
	       "${ver[@]}" --base="$(tgit rev-parse "$BR_BASE")")
fi

n=$(tgit rev-list --count "$range")
mkdir -p "$OUT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ "$n" -gt 0 ]; then
	if [ "$MODE" != test ] &&
	   [ -z "$(tgit config "branch.$BRANCH.description" || true)" ]; then
		die "export: branch '$BRANCH' has no description (the cover letter): 'git -C ${TREE#"$ROOT"/} branch --edit-description $BRANCH'"
	fi
	tgit -c diff.noprefix=false -c format.signature= -c format.coverLetter=false \
		format-patch -q --zero-commit --no-signature --no-thread \
		"${extra[@]}" -o "$tmp" "$range" >/dev/null
	c=$(cover_of "$tmp")
	if [ -n "$c" ]; then
		# Deterministic cover letter: From and Date of the newest patch.
		last=$(printf '%s\n' "$tmp"/*.patch | grep -v 0000-cover-letter | tail -n1)
		from=$(grep -m1 '^From: ' "$last")
		date=$(grep -m1 '^Date: ' "$last")
		FROM="$from" DATE="$date" python3 - "$c" <<'PY'
import os, sys
p = sys.argv[1]
lines = open(p).read().split("\n")
for i, l in enumerate(lines):
    if l == "":
        break
    if l.startswith("From: "):
        lines[i] = os.environ["FROM"]
    elif l.startswith("Date: "):
        lines[i] = os.environ["DATE"]
open(p, "w").write("\n".join(lines))
PY
		if grep -q '\*\*\* \(SUBJECT\|BLURB\) HERE \*\*\*' "$c"; then
			die "export: cover letter still has the SUBJECT/BLURB placeholders"
		fi
	fi
fi
if [ $AS_ME -eq 1 ] && [ "$n" -gt 0 ]; then
	# the identity the commits carry, replaced in From: and Signed-off-by:
	PROJECT=$(tgit log -1 --format='%an <%ae>' "$BRANCH")
	ME="$ME_NAME <$ME_EMAIL>" PROJECT="$PROJECT" python3 - "$tmp"/*.patch <<'PY'
import os, sys
me, project = os.environ["ME"], os.environ["PROJECT"]
for p in sys.argv[1:]:
    lines = open(p).read().split("\n")
    for i, l in enumerate(lines):
        if l in ("From: " + project, "Signed-off-by: " + project):
            lines[i] = l.split(": ", 1)[0] + ": " + me
    open(p, "w").write("\n".join(lines))
PY
fi
# patches/ holds only what format-patch wrote: replace every *.patch
find "$OUT" -maxdepth 1 -name '*.patch' -delete
find "$tmp" -maxdepth 1 -name '*.patch' -exec cp {} "$OUT"/ \;
[ $QUIET -eq 1 ] || log "export: $n patch(es) from $range -> ${OUT#"$ROOT"/}"
