#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the harness initramfs: busybox (static) + the guest workload.
#
# usage: scripts/harness/mkinitramfs.sh [--help] [--out FILE] [--busybox PATH]
#
#   --out FILE      output (default build/initramfs.cpio.gz)
#   --busybox PATH  static busybox binary (default /bin/busybox from the
#                   Debian package busybox-static)
#
# Contents: /bin/busybox and one symlink per applet (/sbin, /usr/bin and
# /usr/sbin point to /bin), /init = scripts/guest/init, every other file of
# scripts/guest/ under /harness/, /dev/console.  The archive is deterministic
# (sorted, owner 0:0, mtime 0, gzip without name/time): the same inputs give
# the same bytes, and the file is only replaced when its content changes.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

OUT=$BUILD/initramfs.cpio.gz
BUSYBOX=/bin/busybox
while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	--out) OUT=$2; shift ;;
	--busybox) BUSYBOX=$2; shift ;;
	*) die "mkinitramfs: unknown argument '$1' (see --help)" ;;
	esac
	shift
done

GUEST=$ROOT/scripts/guest
need_cmd python3 python3
[ -x "$BUSYBOX" ] || die "mkinitramfs: no busybox at $BUSYBOX (Debian package busybox-static): run 'make deps'"
# A dynamically linked busybox would need its libraries in the initramfs.
if command -v file >/dev/null 2>&1 && ! file -L "$BUSYBOX" | grep -q 'statically linked'; then
	die "mkinitramfs: $BUSYBOX is not statically linked (install busybox-static, not busybox)"
fi
[ -f "$GUEST/init" ] || die "mkinitramfs: $GUEST/init missing"

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/cvm-initramfs.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,dev,proc,sys,tmp,mnt,root,etc,harness,usr}
cp "$BUSYBOX" "$STAGE/bin/busybox"
chmod 755 "$STAGE/bin/busybox"
for a in $("$BUSYBOX" --list); do
	[ "$a" = busybox ] || ln -s busybox "$STAGE/bin/$a"
done
ln -s bin "$STAGE/sbin"
ln -s ../bin "$STAGE/usr/bin"
ln -s ../bin "$STAGE/usr/sbin"
install -m 755 "$GUEST/init" "$STAGE/init"
for f in "$GUEST"/*; do
	[ "$(basename "$f")" = init ] && continue
	[ -f "$f" ] || continue
	install -m 755 "$f" "$STAGE/harness/$(basename "$f")"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$STAGE/etc/passwd"
printf 'root:x:0:\n' >"$STAGE/etc/group"
# identify the workload inside the guest (printed at HARNESS START)
(cd "$GUEST" && { cat init; for f in *; do [ "$f" = init ] || cat "$f"; done; } |
	sha256sum | cut -c1-12) >"$STAGE/etc/harness-id"

mkdir -p "$(dirname "$OUT")"
python3 "$ROOT/scripts/harness/mkcpio.py" --nod /dev/console:c:5:1:600 \
	--nod /dev/null:c:1:3:666 "$STAGE" "$OUT.new"
if [ -f "$OUT" ] && cmp -s "$OUT" "$OUT.new"; then
	rm -f "$OUT.new"
else
	mv "$OUT.new" "$OUT"
fi
log "initramfs: ${OUT#"$ROOT"/} ($(stat -c %s "$OUT") bytes, workload $(cat "$STAGE/etc/harness-id"))"
