#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Quality gates of the series.
#
# usage: scripts/gates.sh [--help] GATE...
#
#   am          the series applies with 'git am' to a fresh checkout of base:
#               each fix of patches/fixes/ alone, then the fixes and the
#               main series on top of them
#   checkpatch  scripts/checkpatch.pl --strict: 0 errors, 0 warnings and
#               0 checks on every patch (cover letter excluded)
#   sparse      sparse (C=2) reports nothing new on the .c files the series
#               touches (base vs series, same config)
#   w1          a W=1 build of the objects the series touches adds no warning
#   b4          'b4 --offline-mode am -m' accepts each series (the fixes,
#               the main series) as one mbox
#   bisect      every patch builds on its own: at each commit, the .c files
#               touched so far compile without error or W=1 warning
#   config      builds for bare metal and ordinary VMs are unchanged: Debian's
#               amd64 and cloud-amd64 configurations (linux-config-6.12)
#               after 'make olddefconfig' on base and on the series differ
#               only by the series' own new symbols
#   all         all of the above
#
# The series under test is the fixes (patches/fixes/) followed by the main
# series (patches/); checkpatch, sparse, W=1, bisect and config run over
# both.  Environment: PATCHES=DIR checks another series directory (default
# patches/), on top of FIXES_PATCHES=DIR (default patches/fixes/, none when
# PATCHES is given).
# Each gate prints "GATE <name>: PASS|FAIL <reason>", naming the patch at
# fault.  Every gate asked for runs, even after one fails; the last line is
# "gates: N passed, N failed" and the exit status is non-zero if any failed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

GATES=(am checkpatch sparse w1 b4 bisect config)

# The gates to run, checked before anything is touched.
[ $# -gt 0 ] || set -- all
RUN=()
for g in "$@"; do
	case $g in
	-h|--help) usage; exit 0 ;;
	all) RUN+=("${GATES[@]}") ;;
	am|checkpatch|sparse|w1|b4|bisect|config) RUN+=("$g") ;;
	*) die "unknown gate '$g' (see --help)" ;;
	esac
done

# One series under test: by default the gates check patches/, which must
# then be the export of the series branch (what make kunit and the kernel
# builds test), or they refuse and name the fix.
if [ -z "${PATCHES:-}" ] && [ -d "$TREE/.git" ] &&
   tgit rev-parse -q --verify "refs/heads/$BR_SERIES" >/dev/null; then
	fresh=$(mktemp -d)
	OUT=$fresh "$ROOT/scripts/export-series.sh" --quiet ||
		die "gates: cannot export the series branch to compare it with patches/"
	if tgit rev-parse -q --verify "refs/heads/$BR_FIXES" >/dev/null; then
		OUT=$fresh/fixes "$ROOT/scripts/export-series.sh" --quiet --fixes ||
			die "gates: cannot export the fixes branch to compare it with patches/fixes/"
	fi
	if ! same_patches "$fresh" "$ROOT/patches" ||
	   ! same_patches "$fresh/fixes" "$ROOT/patches/fixes"; then
		rm -rf "$fresh"
		die "gates: patches/ is not the export of the '$BR_FIXES' and '$BR_SERIES' branches (which make kunit and the kernel builds test): run 'make export' first (or PATCHES=DIR to gate another series)"
	fi
	rm -rf "$fresh"
fi
if [ -z "${PATCHES:-}" ]; then
	FIXES_PATCHES=${FIXES_PATCHES:-$ROOT/patches/fixes}
fi
FIXES_PATCHES=${FIXES_PATCHES:-}
PATCHES=${PATCHES:-$ROOT/patches}
PATCHES=$(cd "$PATCHES" 2>/dev/null && pwd) || die "no series directory ${PATCHES}"
GB=${GATES_DIR:-$BUILD/gates}
mkdir -p "$GB"
GB=$(cd "$GB" && pwd)
GSRC=$GB/src
GOBJ=$GB/obj

# pass/fail print the gate's line and record its result for run_gate.
pass() { echo "GATE $1: PASS${2:+ ($2)}"; echo PASS >"$GB/.result"; }
fail() { echo "GATE $1: FAIL: $2"; echo FAIL >"$GB/.result"; exit 1; }

# FIXES: the fixes series; MAIN: the main series; SERIES: both, in order
FIXES=()
FIXES_COVER=''
if [ -n "$FIXES_PATCHES" ] && [ -d "$FIXES_PATCHES" ]; then
	mapfile -t FIXES < <(series_patches "$FIXES_PATCHES")
	FIXES_COVER=$(cover_of "$FIXES_PATCHES")
fi
mapfile -t MAIN < <(series_patches "$PATCHES")
SERIES=("${FIXES[@]}" "${MAIN[@]}")
COVER=$(cover_of "$PATCHES")
NP=${#SERIES[@]}

# Without a tree (or its base branch) every gate fails, and says why.
BASE_SHA='' NO_BASE=''
if [ ! -d "$TREE/.git" ]; then
	NO_BASE="no kernel tree ($TREE): run 'make tree'"
elif ! BASE_SHA=$(tgit rev-parse -q --verify "$BR_BASE^{commit}"); then
	BASE_SHA='' NO_BASE="no branch '$BR_BASE' in $TREE: run 'make tree'"
fi

# A scratch worktree at base, reused between runs.
scratch_at_base() { worktree_at "$GSRC" "$BASE_SHA"; }

# am_list PATCH...: apply the patches in the scratch tree; on failure name
# the patch.  am_series: the whole series.
am_list() {
	[ $# -gt 0 ] || return 0
	local -a p=("$@")
	if ! GIT_COMMITTER_NAME="$TOOL_NAME" GIT_COMMITTER_EMAIL="$TOOL_EMAIL" \
	     git -C "$GSRC" am -q "${p[@]}" >"$GB/am.log" 2>&1; then
		local cur
		cur=$(cat "$(git -C "$GSRC" rev-parse --git-path rebase-apply)/next" 2>/dev/null || echo 1)
		git -C "$GSRC" am --abort >/dev/null 2>&1 || true
		echo "$(basename "${p[$((cur - 1))]}"): $(grep -m1 -E 'error:|patch failed|does not apply' "$GB/am.log" || head -n1 "$GB/am.log")"
		return 1
	fi
}
am_series() { am_list "${SERIES[@]}"; }

gate_am() {
	local why f
	# each fix on its own, onto base
	for f in "${FIXES[@]}"; do
		scratch_at_base
		if ! why=$(am_list "$f"); then
			fail am "fix alone onto base: $why"
		fi
	done
	scratch_at_base
	if ! why=$(am_series); then
		fail am "$why"
	fi
	pass am "${#FIXES[@]} fix(es) each alone, then ${#FIXES[@]} + ${#MAIN[@]} patch(es) onto base ${BASE_SHA:0:12}, $(base_version | cut -d' ' -f1-2)"
}

gate_checkpatch() {
	local bad=0 p out tot
	local cp=$TREE/scripts/checkpatch.pl
	[ "$NP" -gt 0 ] || { pass checkpatch "empty series"; return 0; }
	for p in "${SERIES[@]}"; do
		# Debian's python3 (with python3-ply, python3-git) for
		# spdxcheck.py, whatever python3 comes first in PATH
		out=$(cd "$TREE" && PATH=/usr/bin:$PATH perl "$cp" --strict --showfile "$p" 2>&1 || true)
		tot=$(grep -m1 '^total:' <<<"$out" || echo 'total: ? errors')
		if ! echo "$tot" | grep -q '^total: 0 errors, 0 warnings, 0 checks' ||
		   grep -q '^Traceback' <<<"$out"; then
			# (messages on the changelog start with ":LINE:")
			echo "$out" | grep -E '^(ERROR|WARNING|CHECK):|^[^ ]*:[0-9]+:' | head -20 || true
			echo "checkpatch: $(basename "$p"): $tot"
			bad=$((bad + 1))
		fi
	done
	[ $bad -eq 0 ] || fail checkpatch "$bad of $NP patch(es) not clean (see above)"
	pass checkpatch "$NP patch(es): 0 errors, 0 warnings, 0 checks"
}

# The .c files the series touches (paths after the patch, existing at the end).
touched_c() {
	cat "${SERIES[@]}" | sed -n 's|^diff --git a/\(.*\) b/\(.*\)$|\2|p' | grep '\.c$' | sort -u |
		while read -r f; do [ -f "$GSRC/$f" ] && echo "$f"; done || true
}

# Build the touched objects with C=2 W=1 in the scratch tree; the messages
# go to $1/<obj>.log.  Line numbers are dropped so that code moving down a
# file does not look new.
analyse() {
	local dir=$1; shift
	mkdir -p "$dir"
	local f o
	for f in "$@"; do
		o=${f%.c}.o
		if [ -f "$GSRC/$f" ]; then
			make -C "$GSRC" O="$GOBJ" ARCH=x86_64 CC="ccache gcc" -j"$JOBS" \
				C=2 W=1 "$o" >"$dir/${o//\//_}.raw" 2>&1 ||
				echo "BUILD FAILED: $o" >>"$dir/${o//\//_}.raw"
		else
			: >"$dir/${o//\//_}.raw"
		fi
		grep -E '(warning|error):|BUILD FAILED' "$dir/${o//\//_}.raw" |
			sed -E "s|$GSRC/||g; s|^([^:]+):[0-9]+:[0-9]+:|\\1:|" | sort >"$dir/${o//\//_}.log" || true
	done
}

# gates_config OBJ: configure the build directory OBJ like the patched
# guest (configs/guest.config), minus the test-only platform, plus KUnit
# and SWIOTLB_DYNAMIC (which the series no longer selects; its code is
# touched too):
# the series' KUnit suites are touched files too, and they only compile
# with CONFIG_KUNIT (kunit/device.h, static stubs).  Done again only when
# the fragment changes.
gates_config() {
	local obj=$1 frag
	frag=$( { grep -v CVM_EMULATE "$ROOT/configs/guest.config"
		  printf 'CONFIG_KUNIT=y\nCONFIG_KUNIT_ALL_TESTS=y\nCONFIG_SWIOTLB_DYNAMIC=y\n'; } )
	[ -f "$obj/.config" ] && [ "$(cat "$obj/.gates-frag" 2>/dev/null)" = "$frag" ] && return 0
	log "gates: configuring ${obj#"$ROOT"/}"
	mkdir -p "$obj"
	printf '%s\n' "$frag" >"$obj/gates.config"
	make -C "$GSRC" O="$obj" ARCH=x86_64 -s tinyconfig >/dev/null
	(cd "$GSRC" && ARCH=x86_64 scripts/kconfig/merge_config.sh -m -O "$obj" "$obj/.config" \
		kernel/configs/kvm_guest.config "$obj/gates.config") >/dev/null
	make -C "$GSRC" O="$obj" ARCH=x86_64 -s olddefconfig >/dev/null
	printf '%s\n' "$frag" >"$obj/.gates-frag"
}

# analysis GATE: sparse and W=1 share one analysis, cached by the series'
# content.
analysis() {
	local gate=$1
	local key; key=$( (echo "$BASE_SHA"; cat "${SERIES[@]}" /dev/null "$ROOT/configs/guest.config") |
		sha256sum | cut -c1-16)
	ANALYSIS=$GB/analysis-$key
	[ -f "$ANALYSIS/done" ] && return 0
	rm -rf "$GB"/analysis-*
	mkdir -p "$ANALYSIS"
	scratch_at_base
	local why
	why=$(am_series) || fail "$gate" "series does not apply: $why"
	mapfile -t FILES < <(touched_c)
	printf '%s\n' "${FILES[@]}" >"$ANALYSIS/files"
	if [ ${#FILES[@]} -eq 0 ]; then
		touch "$ANALYSIS/done"
		return 0
	fi
	gates_config "$GOBJ"
	local head; head=$(git -C "$GSRC" rev-parse HEAD)
	git -C "$GSRC" checkout -q -f --detach "$BASE_SHA"
	with_progress "$GB/prepare.log" "gates: prepare (base)" \
		make -C "$GSRC" O="$GOBJ" ARCH=x86_64 CC="ccache gcc" -j"$JOBS" prepare
	log "gates: C=2 W=1 on base: ${FILES[*]}"
	analyse "$ANALYSIS/base" "${FILES[@]}"
	git -C "$GSRC" checkout -q -f --detach "$head"
	with_progress "$GB/prepare.log" "gates: prepare (series)" \
		make -C "$GSRC" O="$GOBJ" ARCH=x86_64 CC="ccache gcc" -j"$JOBS" prepare
	log "gates: C=2 W=1 on series"
	analyse "$ANALYSIS/series" "${FILES[@]}"
	touch "$ANALYSIS/done"
}

# new_messages KIND: messages in series but not in base; KIND sparse = no
# [-W...] tag (sparse), w1 = gcc warnings (tagged [-W...]) and build failures.
new_messages() {
	local kind=$1 b s
	for s in "$ANALYSIS"/series/*.log; do
		[ -e "$s" ] || continue
		b=$ANALYSIS/base/$(basename "$s")
		if [ "$kind" = sparse ]; then
			comm -13 <(grep -v -E '\[-W[^]]+\]|BUILD FAILED' "$b" || true) \
				 <(grep -v -E '\[-W[^]]+\]|BUILD FAILED' "$s" || true)
		else
			comm -13 <(grep -E '\[-W[^]]+\]|BUILD FAILED' "$b" || true) \
				 <(grep -E '\[-W[^]]+\]|BUILD FAILED' "$s" || true)
		fi
	done
}

# blame: which patch introduces a message on FILE (first patch touching it)
first_patch_touching() {
	local f=$1 p
	for p in "${SERIES[@]}"; do
		grep -q "^diff --git a/.* b/$f\$" "$p" && { basename "$p"; return; }
	done
}

gate_build() {
	local g=$1 new
	[ "$NP" -gt 0 ] || { pass "$g" "empty series"; return 0; }
	analysis "$g"
	local nf; nf=$(grep -c . "$ANALYSIS/files" || true)
	[ "$nf" -gt 0 ] || { pass "$g" "series touches no .c file"; return 0; }
	new=$(new_messages "$g")
	if [ -n "$new" ]; then
		echo "$new" | while IFS= read -r l; do
			f=${l%%:*}; echo "$(first_patch_touching "$f"): $l"
		done
		fail "$g" "$(echo "$new" | grep -c .) new message(s) on touched files"
	fi
	pass "$g" "$nf touched file(s): $(tr '\n' ' ' <"$ANALYSIS/files")"
}

# Every patch builds on its own: at each commit of the series, the .c files
# that the patches so far touch are compiled with W=1 (config: the gates
# config plus every KUnit suite, re-synced at each commit), so a patch that
# only builds with a later one is named.
gate_bisect() {
	[ "$NP" -gt 0 ] || { pass bisect "empty series"; return 0; }
	scratch_at_base
	local why
	why=$(am_series) || fail bisect "series does not apply: $why"
	local obj=$GB/bisect-obj cfg=$GB/bisect.config
	gates_config "$obj"
	[ -f "$cfg" ] && [ "$cfg" -nt "$obj/.gates-frag" ] || cp "$obj/.config" "$cfg"
	local -a commits
	mapfile -t commits < <(git -C "$GSRC" rev-list --reverse "$BASE_SHA..HEAD")
	local k=0 c f o t0=$SECONDS
	local -a objs
	for c in "${commits[@]}"; do
		k=$((k + 1))
		git -C "$GSRC" checkout -q -f --detach "$c"
		# re-sync the config only where Kconfig changes: a new .config
		# makes every step regenerate the prepared headers
		if [ $k -eq 1 ] || git -C "$GSRC" diff --name-only "$c~1" "$c" | grep -q 'Kconfig'; then
			cp "$cfg" "$obj/.config"
			make -C "$GSRC" O="$obj" ARCH=x86_64 -s olddefconfig >/dev/null 2>&1 ||
				fail bisect "$(basename "${SERIES[$((k - 1))]}"): olddefconfig failed"
		fi
		objs=()
		while read -r f; do
			[ -f "$GSRC/$f" ] && objs+=("${f%.c}.o")
		done < <(cat "${SERIES[@]:0:$k}" | sed -n 's|^diff --git a/.* b/\(.*\.c\)$|\1|p' | sort -u)
		[ ${#objs[@]} -gt 0 ] || continue
		if ! make -C "$GSRC" O="$obj" ARCH=x86_64 CC="ccache gcc" -j"$JOBS" W=1 \
			"${objs[@]}" >"$GB/bisect-$k.log" 2>&1; then
			grep -m5 -E 'error:' "$GB/bisect-$k.log" || tail -5 "$GB/bisect-$k.log"
			fail bisect "$(basename "${SERIES[$((k - 1))]}") does not build on its own (${#objs[@]} objects, log ${GB#"$ROOT"/}/bisect-$k.log)"
		fi
		if grep -q -E 'warning:' "$GB/bisect-$k.log"; then
			grep -m5 -E 'warning:' "$GB/bisect-$k.log"
			fail bisect "$(basename "${SERIES[$((k - 1))]}"): W=1 warnings at this patch"
		fi
		log "gates: bisect: $k/$NP ${#objs[@]} object(s) ok, $((SECONDS - t0))s"
	done
	pass bisect "$NP patches each build their touched objects on their own"
}

gate_b4() {
	need_cmd b4 b4
	[ "$NP" -gt 0 ] || { pass b4 "empty series"; return 0; }
	local res=''
	if [ ${#FIXES[@]} -gt 0 ]; then
		b4_one fixes "$FIXES_COVER" "${FIXES[@]}"
		res+="fixes: $B4_RES; "
	fi
	b4_one main "$COVER" "${MAIN[@]}"
	pass b4 "${res}main: $B4_RES"
}

# b4_one NAME COVER PATCH...: b4 accepts COVER + PATCHes as one mbox
b4_one() {
	local name=$1 cover=$2; shift 2
	local d=$GB/b4-$name
	rm -rf "$d"; mkdir -p "$d/out"
	# The mbox is the series as git send-email would mail it: each message
	# gets a Message-Id and replies to the first (the cover letter), which
	# b4 needs to find the series.  Folded headers are unfolded: b4 0.12
	# (Debian 12) dies with "Header values may not contain linefeed" on the
	# folded Subject: git writes for long subjects; unfolding is transparent
	# (RFC 5322 2.2.3).
	cat ${cover:+"$cover"} "$@" | python3 -c '
import sys
out, hdr, n = [], False, 0
for l in sys.stdin.read().split("\n"):
    if l.startswith("From ") and l.endswith(" 2001"):
        hdr = True
        out.append(l)
        mid = "<cvm-dma-align-series.%d@localhost>" % n
        out.append("Message-Id: " + mid)
        if n:
            out.append("In-Reply-To: <cvm-dma-align-series.0@localhost>")
            out.append("References: <cvm-dma-align-series.0@localhost>")
        n += 1
        continue
    elif hdr and l == "":
        hdr = False
    elif hdr and l[:1] in (" ", "\t") and out:
        out[-1] += l
        continue
    out.append(l)
sys.stdout.write("\n".join(out))
' >"$d/series.mbox"
	if ! (cd "$TREE" && b4 --offline-mode am -m "$d/series.mbox" -o "$d/out") >"$d/b4.log" 2>&1 ||
	   grep -q 'Could not find any patches\|ERROR' "$d/b4.log"; then
		cat "$d/b4.log"
		fail b4 "$name: b4 am rejected the mbox"
	fi
	local mbx; mbx=$(find "$d/out" -name '*.mbx' | head -n1)
	[ -n "$mbx" ] || { cat "$d/b4.log"; fail b4 "b4 am wrote no .mbx"; }
	local got; got=$(grep -c '^Subject: ' "$mbx" || true)
	[ "$got" -eq $# ] || { cat "$d/b4.log"; fail b4 "$name: b4 am kept $got of $# patches"; }
	B4_RES="$got patch(es) in $(basename "$mbx")"
}

# Symbols the series adds; any other difference of a distribution's
# configuration after olddefconfig (a select, a changed default) fails.
SERIES_SYMBOLS='SWIOTLB_CC|ARCH_HAS_SWIOTLB_CC|SWIOTLB_CC_KUNIT_TEST|CC_CONVERSION_KUNIT_TEST'
DISTRO_CONFIGS=(config.amd64_none_amd64 config.amd64_none_cloud-amd64)
DISTRO_CONFIG_DIR=${DISTRO_CONFIG_DIR:-/usr/src/linux-config-6.12}

gate_config() {
	[ "$NP" -gt 0 ] || { pass config "empty series"; return 0; }
	local d=$GB/config f side diff bad summary=''
	for f in "${DISTRO_CONFIGS[@]}"; do
		[ -f "$DISTRO_CONFIG_DIR/$f.xz" ] ||
			fail config "no $DISTRO_CONFIG_DIR/$f.xz: run scripts/deps.sh (linux-config-6.12)"
	done
	rm -rf "$d"
	scratch_at_base
	for side in base series; do
		if [ "$side" = series ]; then
			local why
			why=$(am_series) || fail config "series does not apply: $why"
		fi
		for f in "${DISTRO_CONFIGS[@]}"; do
			mkdir -p "$d/$side/$f"
			xz -dc "$DISTRO_CONFIG_DIR/$f.xz" >"$d/$side/$f/.config"
			make -C "$GSRC" O="$d/$side/$f" ARCH=x86_64 -s olddefconfig \
				>"$d/$side/$f.log" 2>&1 ||
				fail config "$f: olddefconfig failed on $side (${d#"$ROOT"/}/$side/$f.log)"
		done
	done
	for f in "${DISTRO_CONFIGS[@]}"; do
		diff=$("$GSRC/scripts/diffconfig" "$d/base/$f/.config" "$d/series/$f/.config")
		echo "$diff" | sed "/^\$/d; s/^/    $f: /"
		bad=$(echo "$diff" | grep -v -E "^\+($SERIES_SYMBOLS) |^\$" || true)
		[ -z "$bad" ] || fail config "$f: the series changes $(echo "$bad" | grep -c .) symbol(s) of a non-CVM build: $(echo "$bad" | head -3 | tr '\n' ';')"
		summary+="$f: $(echo "$diff" | grep -c '^+' || true) new, 0 changed; "
	done
	pass config "${summary%; }"
}

# run_gate NAME: run one gate in a subshell (so that a failing gate, even
# one that dies, does not stop the others), with set -e active inside; a
# gate that ends without its PASS/FAIL line fails with its exit status.
NPASS=0; NFAIL=0
run_gate() {
	local g=$1 rc res
	rm -f "$GB/.result"
	set +e
	(
		set -e
		[ -z "$NO_BASE" ] || fail "$g" "$NO_BASE"
		case $g in
		am) gate_am ;;
		checkpatch) gate_checkpatch ;;
		sparse|w1) gate_build "$g" ;;
		b4) gate_b4 ;;
		bisect) gate_bisect ;;
		config) gate_config ;;
		esac
	)
	rc=$?
	set -e
	res=$(cat "$GB/.result" 2>/dev/null || true)
	rm -f "$GB/.result"
	if [ $rc -eq 0 ] && [ "$res" = PASS ]; then
		NPASS=$((NPASS + 1))
		return 0
	fi
	[ "$res" = FAIL ] || echo "GATE $g: FAIL: the gate stopped with exit status $rc${res:+ after $res}"
	NFAIL=$((NFAIL + 1))
}

for g in "${RUN[@]}"; do
	run_gate "$g"
done
echo "gates: $NPASS passed, $NFAIL failed"
[ $NFAIL -eq 0 ]
