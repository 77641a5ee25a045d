#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The tools archive of make bench: an initramfs fragment with Debian's fio
# (and every shared library it needs, plus the ELF interpreter) and the
# in-tree tools/testing/selftests/dma/dma_map_benchmark.c built static.
#
# usage: scripts/bench/mktools.sh [--help] [--out FILE] [--src DIR]
#
#   --out FILE   the archive (default build/bench/tools.cpio.gz)
#   --src DIR    kernel tree for dma_map_benchmark.c and its header
#                (default build/src/test-base, the baseline source)
#
# Contents: /opt/bench/fio, /opt/bench/dma_map_benchmark, libshmshim.so (an
# LD_PRELOAD System V shm stand-in for fio: the guests have no SYSVIPC,
# scripts/bench/shmshim.c), the libraries in
# /lib/x86_64-linux-gnu (and /usr/lib/x86_64-linux-gnu/ceph), /lib64/ld-*.
# scripts/harness/run.sh appends it with --initrd-extra, for bench runs
# only: the default initramfs stays small.  Rebuilt only when fio, the
# tool's source or this script change.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

OUTF=$BUILD/bench/tools.cpio.gz
SRC=$WORKTREES/$BR_TEST_BASE
while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	--out) OUTF=$2; shift ;;
	--src) SRC=$2; shift ;;
	*) die "mktools: unknown argument '$1' (see --help)" ;;
	esac
	shift
done
FIO=$(command -v fio || true)
[ -n "$FIO" ] || die "mktools: fio missing (Debian package fio): run 'make deps'"
need_cmd gcc build-essential
need_cmd ldd libc-bin
TOOL_C=$SRC/tools/testing/selftests/dma/dma_map_benchmark.c
HDR=$SRC/include/linux/map_benchmark.h
[ -f "$TOOL_C" ] && [ -f "$HDR" ] || die "mktools: $TOOL_C or $HDR missing: run 'make tree'"
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || die "mktools: static libc missing (libc6-dev)"

key=$( (sha256sum "$FIO" "$TOOL_C" "$HDR" "$0" "$ROOT/scripts/bench/shmshim.c"; dpkg-query -W fio 2>/dev/null) | sha256sum | cut -c1-16)
if [ -f "$OUTF" ] && [ "$(cat "$OUTF.key" 2>/dev/null)" = "$key" ]; then
	log "mktools: ${OUTF#"$ROOT"/} up to date"
	exit 0
fi
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/cvm-benchtools.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/root/opt/bench" "$STAGE/inc/linux"
# the uapi part of the header is all the tool needs; the system's
# <linux/types.h> is the uapi one
cp "$HDR" "$STAGE/inc/linux/map_benchmark.h"
gcc -static -O2 -Wall -I"$STAGE/inc" -o "$STAGE/root/opt/bench/dma_map_benchmark" "$TOOL_C" ||
	die "mktools: dma_map_benchmark does not build"
# the guest kernels have no System V IPC; fio gets anonymous shared mappings
gcc -shared -fPIC -O2 -Wall -o "$STAGE/root/opt/bench/libshmshim.so" "$ROOT/scripts/bench/shmshim.c" ||
	die "mktools: shmshim.c does not build"
cp "$FIO" "$STAGE/root/opt/bench/fio"
n=0
for lib in $(ldd "$FIO" | awk '/=> \// { print $3 } /^\t\/[^ ]*ld-linux/ { print $1 }'); do
	real=$(readlink -f "$lib")
	# keep the path the loader looks for (the soname), file content only
	mkdir -p "$STAGE/root$(dirname "$lib")"
	cp "$real" "$STAGE/root$lib"
	n=$((n + 1))
done
[ -f "$STAGE/root/lib64/ld-linux-x86-64.so.2" ] || die "mktools: ELF interpreter of fio not found"
mkdir -p "$(dirname "$OUTF")"
python3 "$ROOT/scripts/harness/mkcpio.py" "$STAGE/root" "$OUTF.new"
mv "$OUTF.new" "$OUTF"
echo "$key" >"$OUTF.key"
log "mktools: ${OUTF#"$ROOT"/}: fio ($(dpkg-query -W -f='${Version}' fio)) + $n libraries, dma_map_benchmark ($(stat -c %s "$OUTF") bytes)"
