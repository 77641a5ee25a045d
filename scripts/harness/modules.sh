#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the test-only guest modules of kernel/modules/ against one kernel
# build and pack them as an initramfs fragment.
#
# usage: scripts/harness/modules.sh [--help] [--out FILE] VARIANT|KBUILD_DIR
#
#   VARIANT      a build of scripts/build-kernel.sh (build/kbuild/VARIANT)
#   KBUILD_DIR   any O= build directory of a kernel with CONFIG_MODULES
#   --out FILE   the archive (default KBUILD_DIR/harness-modules.cpio.gz)
#
# Every directory kernel/modules/NAME/ with a Kbuild file is one external
# module build (make M=...), done in a copy under
# KBUILD_DIR/harness-modules/NAME so the project tree stays clean.  The
# archive holds /harness/modules/*.ko; scripts/harness/run.sh appends it
# to the initramfs (the kernel unpacks concatenated archives in order) and
# the guest loads modules with load_module (scripts/guest/workload.sh).
# Nothing is rebuilt when nothing changed.  No module directory: an empty
# archive.  MODSRC=DIR builds the modules of DIR instead (self-tests).
# KUnit suites that the kernel build itself made modules (*kunit*.ko of
# modules.order: the debug variant) go to /harness/modules/ too, with
# kunit.order: their names in the kernel's link order (the order kunit.py
# runs them built in), moved after the modules they depend on (modinfo),
# for scripts/guest/mode-kunit.sh.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

OUTF=
TARGET=
while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	--out) OUTF=$2; shift ;;
	-*) die "modules: unknown option '$1' (see --help)" ;;
	*) TARGET=$1 ;;
	esac
	shift
done
[ -n "$TARGET" ] || die "modules: which kernel build? (a variant or a build directory, see --help)"
if [ -d "$TARGET" ]; then
	KB=$(cd "$TARGET" && pwd)
else
	KB=$KBUILD/$TARGET
fi
# a variant whose build is a symlink (patched == baseline) resolves here
KB=$(readlink -f "$KB")
[ -f "$KB/Makefile" ] && [ -f "$KB/.config" ] ||
	die "modules: $KB is not a kernel build directory: build it first ('scripts/build-kernel.sh $TARGET')"
grep -q '^CONFIG_MODULES=y' "$KB/.config" ||
	die "modules: $KB was built without CONFIG_MODULES"
[ -f "$KB/Module.symvers" ] ||
	die "modules: $KB has no Module.symvers: the kernel build did not finish"
OUTF=${OUTF:-$KB/harness-modules.cpio.gz}
MODSRC=${MODSRC:-$ROOT/kernel/modules}

export CCACHE_BASEDIR=$ROOT
CC_ARG=gcc
command -v ccache >/dev/null && CC_ARG="ccache gcc"

STAGE=$KB/harness-modules/stage
rm -rf "$STAGE"
mkdir -p "$STAGE/harness/modules"
n=0
for src in "$MODSRC"/*/; do
	[ -f "$src/Kbuild" ] || continue
	name=$(basename "$src")
	wd=$KB/harness-modules/$name
	mkdir -p "$wd"
	# a fresh copy only when the sources changed: make keeps the rest
	sum=$(cd "$src" && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
	if [ "$(cat "$wd/.srcsum" 2>/dev/null)" != "$sum" ]; then
		rm -rf "$wd"
		mkdir -p "$wd"
		cp -a "$src/." "$wd/"
		echo "$sum" >"$wd/.srcsum"
	fi
	log "modules: building $name against ${KB#"$ROOT"/}"
	if ! make -C "$KB" ARCH=x86_64 CC="$CC_ARG" HOSTCC="$CC_ARG" M="$wd" \
		-j"$JOBS" modules >"$wd/build.log" 2>&1; then
		tail -30 "$wd/build.log" >&2
		die "modules: $name failed to build (log: ${wd#"$ROOT"/}/build.log)"
	fi
	grep -E 'warning:' "$wd/build.log" >&2 && die "modules: $name builds with warnings"
	for ko in "$wd"/*.ko; do
		[ -f "$ko" ] || die "modules: $name built no .ko"
		cp "$ko" "$STAGE/harness/modules/"
		n=$((n + 1))
	done
done
# in-tree KUnit modules in the kernel's link order (modules.order, as
# kunit.py runs built-in suites), each after those it depends on
declare -A KDEPS=()
kos=()
while IFS= read -r o; do
	ko=$KB/${o%.o}.ko
	[ -f "$ko" ] || continue
	name=$(basename "$ko" .ko)
	KDEPS[$name]=$(modinfo -F depends "$ko" | tr ',' ' ')
	kos+=("$name")
	cp "$ko" "$STAGE/harness/modules/"
	n=$((n + 1))
done < <(grep 'kunit' "$KB/modules.order" 2>/dev/null || true)
order=()
while [ ${#order[@]} -lt ${#kos[@]} ]; do
	progress=0
	for name in "${kos[@]}"; do
		case " ${order[*]} " in *" $name "*) continue ;; esac
		ready=1
		for d in ${KDEPS[$name]}; do
			# a dependency that is not one of them is built in or loaded
			# before (kernel/modules/): only ours are ordered here
			[ -n "${KDEPS[$d]+x}" ] || continue
			case " ${order[*]} " in *" $d "*) ;; *) ready=0 ;; esac
		done
		if [ $ready -eq 1 ]; then
			order+=("$name")
			progress=1
			break
		fi
	done
	[ $progress -eq 1 ] || die "modules: KUnit modules depend on each other in a circle: ${kos[*]}"
done
[ ${#order[@]} -eq 0 ] || printf '%s\n' "${order[@]}" >"$STAGE/harness/modules/kunit.order"
python3 "$ROOT/scripts/harness/mkcpio.py" "$STAGE" "$OUTF.new"
if [ -f "$OUTF" ] && cmp -s "$OUTF" "$OUTF.new"; then
	rm -f "$OUTF.new"
else
	mv "$OUTF.new" "$OUTF"
fi
log "modules: $n module(s) -> ${OUTF#"$ROOT"/}"
