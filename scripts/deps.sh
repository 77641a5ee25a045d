#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the project needs (idempotent).
#
# usage: scripts/deps.sh [--help] [--pin VERSION] [--disk GIB]
#
#   --disk GIB   also check that the file system of build/ has room for GIB
#                GiB of build output, counting what build/ already holds
#                (make check: 20; a finished make check leaves about 16 GiB
#                in build/ of a fresh clone); 0 skips the check
#
# The kernel base comes from linux-source-6.12 at the version pinned in the
# Makefile (LINUX_SOURCE_VERSION).  If that version is no longer offered by
# the archive, the newest available one is installed with a loud warning.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PIN=${LINUX_SOURCE_VERSION:-}
DISK_GIB=0
while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	--pin) [ -n "${2:-}" ] || die "--pin needs a version (see --help)"
		PIN=$2; shift ;;
	--disk) [[ "${2:-}" =~ ^[0-9]+$ ]] || die "--disk needs a number of GiB (see --help)"
		DISK_GIB=$2; shift ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift
done

# Room for the build output: a full disk fails steps much later with
# errors that name files, not the disk.
if [ "$DISK_GIB" -gt 0 ]; then
	mkdir -p "$BUILD"
	have_k=$(du -sk "$BUILD" 2>/dev/null | cut -f1)
	free_k=$(df -Pk "$BUILD" | awk 'NR == 2 { print $4 }')
	need_k=$((DISK_GIB * 1048576 - ${have_k:-0}))
	if [ "$need_k" -gt "$free_k" ]; then
		die "deps: $((free_k / 1048576)) GiB free on the file system of ${BUILD#"$ROOT"/}/, which holds $((have_k / 1048576)) GiB; the build output needs about $DISK_GIB GiB in all: free $(((need_k - free_k) / 1048576 + 1)) GiB (or --disk 0 to skip the check)"
	fi
	log "deps: disk: $((free_k / 1048576)) GiB free, build/ holds $((have_k / 1048576)) GiB of the $DISK_GIB needed"
fi

PKGS=(build-essential bc bison flex libelf-dev libssl-dev cpio kmod rsync
      xz-utils python3 git ccache sparse b4 busybox-static qemu-system-x86
      perl gawk python3-ply python3-git fio shellcheck pyflakes3
      coccinelle
      libpython3-dev     # spatch's python scripting loads libpython
      linux-config-6.12) # Debian's configurations: gates.sh config

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done

have_src=$(dpkg-query -W -f='${Status} ${Version}' linux-source-6.12 2>/dev/null || true)
want_src=
if [ -n "$PIN" ]; then
	case "$have_src" in
	*"ok installed $PIN") ;;
	*) want_src="linux-source-6.12=$PIN" ;;
	esac
elif ! echo "$have_src" | grep -q 'ok installed'; then
	want_src=linux-source-6.12
fi

if [ ${#missing[@]} -eq 0 ] && [ -z "$want_src" ]; then
	log "deps: all packages present"
	exit 0
fi

[ "$(id -u)" -eq 0 ] || die "deps: missing packages (${missing[*]} $want_src) and not root"
log "deps: apt-get update"
apt-get update -q >"${TMPDIR:-/tmp}/cvm-apt-update.log" 2>&1 ||
	{ cat "${TMPDIR:-/tmp}/cvm-apt-update.log" >&2; die "apt-get update failed"; }

if [ -n "$want_src" ] && [ -n "$PIN" ]; then
	if ! apt-cache madison linux-source-6.12 | awk '{print $3}' | grep -qx -- "$PIN"; then
		newest=$(apt-cache madison linux-source-6.12 | awk 'NR==1 {print $3}')
		[ -n "$newest" ] || die "deps: linux-source-6.12 is not offered by any configured archive"
		loud "pinned linux-source-6.12 $PIN is gone from the archive; FALLING BACK to newest $newest. Update LINUX_SOURCE_VERSION in the Makefile."
		want_src="linux-source-6.12=$newest"
	fi
fi

log "deps: installing ${missing[*]} $want_src"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	--allow-downgrades "${missing[@]}" ${want_src:+"$want_src"} \
	>"${TMPDIR:-/tmp}/cvm-apt-install.log" 2>&1 ||
	{ tail -30 "${TMPDIR:-/tmp}/cvm-apt-install.log" >&2; die "apt-get install failed"; }
log "deps: done"
