#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Mutation check of the KUnit suites: break the code they cover on purpose
# and make sure at least one test notices.
#
# usage: kunit/mutants.sh [--help] [--list] [--series] [NAME...]
#
# For each mutation (all but known gaps by default, or the NAMEs given): the scratch
# worktree build/src/kunit-cvm is reset to series + kernel/patches (as
# for 'kunit/run.sh cvm'), one exact piece of code is replaced, and
# kunit.py runs the swiotlb_cc suites on the emulated CVM, with the build
# directory of 'kunit/run.sh cvm' (so each mutant is an incremental build).
# A mutant PASSes (is killed) only if at least one test fails; the failing
# tests are printed.  A mutant that no test notices, or whose code no
# longer matches (the mutation is stale), FAILs.  The worktree is reset
# afterwards.  Takes a few minutes per mutant; not part of 'make check'.
#
#   --list   print the mutations and exit
#   --series run the suites on the series alone instead (no CVM: the
#            tests call the allocator against a fake conversion backend;
#            worktree build/src/kunit-series, kunitconfig and build
#            directory of 'kunit/run.sh series')
set -uo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

# name|file|description[|gap] ; the code before and after is in mutate() below.
# A mutant marked "gap" is a known blind spot of the tests: it only runs
# when named on the command line (and is expected to survive).
MUTANTS=(
	"growth-rounding|kernel/dma/swiotlb_cc.c|blocking growth adds a chunk of the allocation's order, not at least 2 MiB"
	"no-zeroing|kernel/dma/swiotlb_cc.c|allocations are not zeroed"
	"dma-mask|kernel/dma/swiotlb_cc.c|an existing chunk is used whatever the device's DMA mask"
	"pool-rounding|kernel/dma/swiotlb.c|SWIOTLB growth pools are not rounded to power-of-two multiples of 2 MiB|gap"
	"free-shared|kernel/dma/swiotlb_cc.c|a chunk that cannot be made private again is freed instead of leaked"
	"atomic-grows|kernel/dma/swiotlb_cc.c|atomic callers grow the chunks themselves (and sleep)"
	"no-dma-pool|kernel/dma/pool.c|CVM guests keep no ZONE_DMA atomic pool (atomic callers with masks below 32 bits fail until a chunk grows in reach)"
)

LIST=0
SERIES=0
SEL=()
for a in "$@"; do
	case "$a" in
	-h|--help) usage; exit 0 ;;
	--list) LIST=1 ;;
	--series) SERIES=1 ;;
	-*) die "unknown argument '$a' (see --help)" ;;
	*) SEL+=("$a") ;;
	esac
done
if [ $LIST -eq 1 ]; then
	for m in "${MUTANTS[@]}"; do
		IFS='|' read -r n f d g <<<"$m"
		printf '%-16s %-26s %s%s\n' "$n" "$f" "$d" "${g:+ (known gap: only when named)}"
	done
	exit 0
fi

# mutate NAME FILE: apply the mutation to FILE; fails if the code is not there
mutate() {
	python3 - "$1" "$2" <<'PY'
import sys
name, path = sys.argv[1], sys.argv[2]
M = {
    "growth-rounding": (
        "chunk = swiotlb_cc_new_chunk(max(order, SWIOTLB_CC_ORDER), gfp,",
        "chunk = swiotlb_cc_new_chunk(order, gfp,"),
    "no-zeroing": (
        "memset(vaddr, 0, PAGE_ALIGN(size));",
        "/* mutant: not zeroed */"),
    # both checks: the chunk's start and the end of the search in it
    "dma-mask": [(
        "if (phys > limit || chunk->used + nr > 1UL << chunk->order)",
        "if (chunk->used + nr > 1UL << chunk->order)"), (
        "\t\tif (limit - phys < swiotlb_cc_bytes(chunk) - 1)\n"
        "\t\t\tend = (limit - phys + 1) >> PAGE_SHIFT;\n",
        "\t\t/* mutant: no reach check */\n")],
    "pool-rounding": (
        "\tif (granular) {\n\t\tminslabs = max_t(",
        "\tif (0) {\n\t\tminslabs = max_t("),
    "free-shared": (
        "if (!swiotlb_cc_set_private(page_address(page), 1UL << order)) {",
        "if (swiotlb_cc_set_private(page_address(page), 1UL << order) || 1) {"),
    "atomic-grows": (
        "if (!vaddr && gfpflags_allow_blocking(gfp)) {",
        "if (!vaddr) {"),
    "no-dma-pool": (
        "\t\tif (has_managed_dma()) {\n\t\t\tsize_t size = ALIGN(",
        "\t\tif (0) {\n\t\t\tsize_t size = ALIGN("),
}
pairs = M[name] if isinstance(M[name], list) else [M[name]]
s = open(path).read()
for old, new in pairs:
    if s.count(old) != 1:
        sys.exit("mutation %s: the code to change is not (exactly once) in %s" % (name, path))
    s = s.replace(old, new)
open(path, "w").write(s)
PY
}

if [ $SERIES -eq 1 ]; then
	WT=$WORKTREES/kunit-series
	BD=$BUILD/kunit/series
	KC=$ROOT/kunit/series.kunitconfig
	KARGS=()
	LOGD=$BUILD/kunit/mutants-series
else
	WT=$WORKTREES/kunit-cvm
	BD=$BUILD/kunit/cvm
	KC=$ROOT/kunit/cvm.kunitconfig
	KARGS=(--kernel_args=cvm_emulate=on --kernel_args=swiotlb=1536)
	LOGD=$BUILD/kunit/mutants
fi
mkdir -p "$BD" "$LOGD"
exec 9>"$BUILD/kunit/.lock"
flock -n 9 || die "another kunit run uses $BD (build/kunit/.lock)"

# reset the worktree to series + kernel/patches
reset_tree() {
	worktree_at "$WT" "$(tgit rev-parse "${SERIES_REF:-$BR_SERIES}^{commit}")"
	[ $SERIES -eq 1 ] && return
	local tp
	mapfile -t tp < <(series_patches "$ROOT/kernel/patches")
	[ ${#tp[@]} -eq 0 ] || tgit -C "$WT" am -q -3 "${tp[@]}" >/dev/null 2>&1 ||
		die "kernel/patches do not apply on the series"
}

killed=0 survived=0 t_all=$SECONDS
for m in "${MUTANTS[@]}"; do
	IFS='|' read -r name file desc gap <<<"$m"
	if [ ${#SEL[@]} -gt 0 ]; then
		printf '%s\n' "${SEL[@]}" | grep -qx "$name" || continue
	elif [ -n "$gap" ]; then
		continue
	fi
	reset_tree
	if ! why=$(mutate "$name" "$WT/$file" 2>&1); then
		echo "MUTANT $name: FAIL: $why"
		survived=$((survived + 1))
		continue
	fi
	log "mutant $name: $desc ($file); building and running"
	t0=$SECONDS
	out=$LOGD/$name.log
	(cd "$WT" && CCACHE_BASEDIR=$ROOT ./tools/testing/kunit/kunit.py run \
		--arch=x86_64 --kunitconfig="$KC" \
		--build_dir="$BD" --jobs="$JOBS" --make_options CC="ccache gcc" \
		--timeout=300 --qemu_args="${KUNIT_QEMU_ARGS:--cpu max -m 4G -smp 2}" \
		"${KARGS[@]}" 'swiotlb_cc*') >"$out" 2>&1
	rc=$?
	plain=$LOGD/$name.txt
	sed 's/\x1b\[[0-9;]*m//g' "$out" >"$plain"
	summary=$(grep -m1 'Testing complete. Ran' "$plain")
	failed=$(grep -E '\[(FAILED|CRASHED)\] ' "$plain" | grep -v '====' |
		sed -E 's/.*\[(FAILED|CRASHED)\] ?//' | grep -v '^$' | sort -u | tr '\n' ',' | sed 's/,$//; s/,/, /g')
	record_time "kunit-mutant-$name" $((SECONDS - t0))
	if [ -n "$failed" ]; then
		echo "MUTANT $name: PASS (killed; $desc): failing: $failed [$summary] ($((SECONDS - t0))s)"
		killed=$((killed + 1))
	elif grep -q 'Build Failed\|make.*Error' "$plain" || [ -z "$summary" ]; then
		echo "MUTANT $name: FAIL: no test result (build or boot failed, rc=$rc), see ${out#"$ROOT"/}"
		survived=$((survived + 1))
	else
		echo "MUTANT $name: FAIL (survived; $desc): no test failed [$summary] ($((SECONDS - t0))s)"
		survived=$((survived + 1))
	fi
done
reset_tree
echo "mutants: $killed killed, $survived not killed ($((SECONDS - t_all))s)"
[ $survived -eq 0 ] && [ $killed -gt 0 ]
