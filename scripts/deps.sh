#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the project needs (idempotent).
#
# usage: scripts/deps.sh [--help] [--pin VERSION]
#
# The kernel base comes from linux-source-6.12 at the version pinned in the
# Makefile (LINUX_SOURCE_VERSION).  If that version is no longer offered by
# the archive, the newest available one is installed with a loud warning.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PIN=${LINUX_SOURCE_VERSION:-}
case "${1:-}" in
-h|--help) usage; exit 0 ;;
--pin) PIN=$2 ;;
esac

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
