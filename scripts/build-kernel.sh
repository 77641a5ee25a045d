#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build a guest kernel variant.
#
# usage: scripts/build-kernel.sh [--help] [--config-only] VARIANT
#
#   VARIANT   baseline  source build/src/test-base   (base + kernel/patches)
#             patched   source build/src/test-series (SERIES_REF, default
#                       the series branch, + kernel/patches; both worktrees
#                       are refreshed first where stale: prepare-tree.sh test)
#                       + configs/kunit-builtin.config (the KUnit suites
#                       built in, run only by kunit/run.sh patched)
#             debug     source build/src/test-series, + configs/debug.config
#                       (lockdep, DMA-API debugging, fault injection, no
#                       KASAN) + configs/kunit-modules.config (the series'
#                       KUnit suites =m): make check's patched kernel
#                       (harness, kunit-modules, reduced stress)
#             debugbase baseline + configs/debug.config: make check's
#                       baseline kernel; the same options as debug, so
#                       that debug takes debugbase's objects from ccache
#             bench     patched + configs/bench.config (hang detectors):
#                       the patched kernel of make bench and make soak
#             benchbase baseline + configs/bench.config
#             kasan, kasanbase: debug and debugbase + configs/kasan.config
#                       + configs/bench.config: make stress (full) and
#                       make soak --kernels debug
#
# Config: tinyconfig + kernel/configs/kvm_guest.config + configs/guest.config
# + the variant's fragments of configs/ (the case below), merged with
# scripts/kconfig/merge_config.sh; any option a fragment asks for that does
# not survive is an error.  Output in SOURCE/.kbuild-VARIANT, a direct subdirectory of the source worktree, with
# build/kbuild/VARIANT a link to it (bzImage, vmlinux); compiled through
# ccache.  Kbuild names a source tree one level up ".." on every command
# line, so every variant compiles with the same paths and an object whose
# preprocessed source the series does not change is a ccache hit whatever
# tree it was first compiled in: the patched kernel reuses the baseline's.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CONFIG_ONLY=0
VARIANT=
for a in "$@"; do
	case "$a" in
	-h|--help) usage; exit 0 ;;
	--config-only) CONFIG_ONLY=1 ;;
	baseline|patched|debug|debugbase|bench|benchbase|kasan|kasanbase) VARIANT=$a ;;
	*) die "unknown argument '$a' (see --help)" ;;
	esac
done
[ -n "$VARIANT" ] || die "which variant? (baseline, patched, debug, debugbase, bench, benchbase, kasan or kasanbase)"

case $VARIANT in
baseline|debugbase|benchbase|kasanbase) SRC=$WORKTREES/$BR_TEST_BASE ;;
*) SRC=$WORKTREES/$BR_TEST ;;
esac
OUTLINK=$KBUILD/$VARIANT
OUTDIR=$SRC/.kbuild-$VARIANT
# one series under test: the worktrees hold SERIES_REF (default: the
# series branch) + kernel/patches, refreshed here if they do not
if [ -d "$TREE/.git" ] && [ "${NO_REFRESH:-0}" != 1 ]; then
	"$ROOT/scripts/prepare-tree.sh" test
fi
[ -f "$SRC/Makefile" ] || die "no source tree $SRC: run 'make tree'"
need_cmd gcc build-essential
need_cmd flex flex
need_cmd bison bison
need_cmd bc bc
[ -f /usr/include/libelf.h ] || die "libelf.h missing (Debian package libelf-dev): run 'make deps'"

frags=("$SRC/kernel/configs/kvm_guest.config" "$ROOT/configs/guest.config")
# each variant names its fragments, in this order
case $VARIANT in
baseline) frags+=("$ROOT/configs/baseline.config") ;;
patched) frags+=("$ROOT/configs/kunit-builtin.config" "$ROOT/configs/patched.config") ;;
debug|kasan) frags+=("$ROOT/configs/patched.config" "$ROOT/configs/kunit-modules.config" "$ROOT/configs/debug.config") ;;
debugbase|kasanbase) frags+=("$ROOT/configs/debug.config") ;;
bench) frags+=("$ROOT/configs/patched.config" "$ROOT/configs/bench.config") ;;
benchbase) frags+=("$ROOT/configs/bench.config") ;;
esac
# kasan, kasanbase: debug, debugbase + KASAN + the hang detectors
case $VARIANT in
kasan|kasanbase) frags+=("$ROOT/configs/kasan.config" "$ROOT/configs/bench.config") ;;
esac

export CCACHE_BASEDIR=$ROOT
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
CC_ARG=gcc
command -v ccache >/dev/null && CC_ARG="ccache gcc"
KMAKE=(make -C "$SRC" O="$OUTDIR" ARCH=x86_64 CC="$CC_ARG" HOSTCC="$CC_ARG" -j"$JOBS")

# While the series adds nothing, test-series and test-base hold the same
# source tree: the patched kernel *is* the baseline kernel, built once.
same_tree() {
	[ "$(git -C "$SRC" rev-parse 'HEAD^{tree}')" = \
	  "$(git -C "$WORKTREES/$BR_TEST_BASE" rev-parse 'HEAD^{tree}')" ]
}
# build/kbuild/VARIANT was a directory before the builds moved into the
# worktrees: make it the link
mkdir -p "$KBUILD"
[ -L "$OUTLINK" ] || rm -rf "$OUTLINK"
if [ "$VARIANT" = patched ] && same_tree; then
	log "build patched: series is empty, same source as baseline: reusing that build"
	"$0" baseline
	ln -sfn baseline "$OUTLINK"
	exit 0
fi
mkdir -p "$OUTDIR"
ln -sfn "$OUTDIR" "$OUTLINK"
stamp=$(cat "${frags[@]}" | sha256sum | cut -c1-16)-$(git -C "$SRC" rev-parse HEAD)
if [ ! -f "$OUTDIR/.config" ] || [ "$(cat "$OUTDIR/.cfgstamp" 2>/dev/null)" != "$stamp" ]; then
	log "build $VARIANT: configuring (tinyconfig + ${#frags[@]} fragments)"
	"${KMAKE[@]}" -s tinyconfig >"$OUTDIR/config.log" 2>&1 ||
		{ cat "$OUTDIR/config.log" >&2; die "build $VARIANT: tinyconfig failed"; }
	(cd "$SRC" && ARCH=x86_64 scripts/kconfig/merge_config.sh -m -O "$OUTDIR" \
		"$OUTDIR/.config" "${frags[@]}") >>"$OUTDIR/config.log" 2>&1 ||
		{ tail -20 "$OUTDIR/config.log" >&2; die "build $VARIANT: merge_config failed"; }
	"${KMAKE[@]}" -s olddefconfig >>"$OUTDIR/config.log" 2>&1 ||
		{ tail -20 "$OUTDIR/config.log" >&2; die "build $VARIANT: olddefconfig failed"; }
	# Every option our own fragments ask for must survive olddefconfig.
	lost=$(awk '
		FNR == NR { if ($0 ~ /^CONFIG_/) { split($0, kv, "="); have[kv[1]] = $0 }; next }
		/^CONFIG_[A-Za-z0-9_]+=/ {
			split($0, kv, "="); k = kv[1]; v = substr($0, length(k) + 2)
			if (v == "n") { if (k in have) print FILENAME ": " $0 " but " have[k] }
			else if (have[k] != $0) print FILENAME ": " $0 " but " (k in have ? have[k] : "unset")
		}
		/^# CONFIG_[A-Za-z0-9_]+ is not set/ { if ($2 in have) print FILENAME ": " $0 " but " have[$2] }
	' "$OUTDIR/.config" "${frags[@]:1}")
	if [ -n "$lost" ]; then
		echo "$lost" >&2
		die "build $VARIANT: config options asked for by a fragment did not survive (dependency missing?)"
	fi
	echo "$stamp" >"$OUTDIR/.cfgstamp"
	# Kbuild names the source ".." only from a direct subdirectory
	[ "$(readlink "$OUTDIR/source" 2>/dev/null)" = .. ] ||
		log "build $VARIANT: warning: Kbuild does not name the source '..': the variants will not share objects in ccache"
fi
[ $CONFIG_ONLY -eq 1 ] && { log "build $VARIANT: config in ${OUTDIR#"$ROOT"/}/.config"; exit 0; }

t0=$SECONDS
with_progress "$OUTDIR/build.log" "build $VARIANT" "${KMAKE[@]}" bzImage modules
record_time "build-$VARIANT" $((SECONDS - t0))
cp "$BUILD/base-version" "$OUTDIR/base-version"
log "build $VARIANT: $(cat "$OUTDIR/include/config/kernel.release") ${OUTDIR#"$ROOT"/}/arch/x86/boot/bzImage"
