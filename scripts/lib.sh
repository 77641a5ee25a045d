# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Common helpers for the cvm-dma-align scripts. Source it; do not run it.
#
# Layout (all relative to the project root, overridable from the environment):
#   BUILD      git-ignored build directory
#   TREE       the kernel git repository made from linux-source-6.12
#   KBUILD     per-variant kernel build directories

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${BUILD:-$ROOT/build}
TREE=${TREE:-$BUILD/linux}
WORKTREES=${WORKTREES:-$BUILD/src}
KBUILD=${KBUILD:-$BUILD/kbuild}
BIN=${BIN:-$BUILD/bin}
RESULTS=${RESULTS:-$ROOT/results}

# Branch names inside $TREE.
BR_BASE=${BR_BASE:-base}            # the pristine Debian source, one commit
BR_FIXES=${BR_FIXES:-fixes}           # base + patches/fixes/*.patch (independent fixes)
BR_SERIES=${BR_SERIES:-series}        # fixes + patches/*.patch (the development branch)
# shellcheck disable=SC2034 # used by the scripts that source this file
BR_TEST_BASE=test-base  # base + kernel/patches (emulated CVM etc.)
# shellcheck disable=SC2034 # the same
BR_TEST=test-series     # series + kernel/patches

# Deterministic identity for commits the scripts make themselves, so that
# the base commit id (and so base-commit: in the cover letter) is the same
# on every machine for the same source package.
TOOL_NAME="cvm-dma-align tooling"
TOOL_EMAIL="cvm-dma-align@localhost"
TOOL_DATE="2024-11-17T00:00:00+0000"

JOBS=${JOBS:-$(nproc)}

# Revision of the series ("[PATCH vN ...]"): the Makefile is the one place.
SERIES_VERSION=${SERIES_VERSION:-$(sed -n 's/^SERIES_VERSION := *//p' "$ROOT/Makefile")}

_ts() { date +%H:%M:%S; }
log()  { printf '[%s] %s\n' "$(_ts)" "$*" >&2; }
warn() { printf '[%s] WARNING: %s\n' "$(_ts)" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "$(_ts)" "$*" >&2; exit 1; }

# usage: the --help of a script: the comment block at the top of the running
# script, without the shebang and SPDX lines, up to the first line that is
# not a comment.  Reads the file only: no side effect.
usage() {
	awk 'NR == 1 && /^#!/ { next }
	     /^# SPDX-License-Identifier:/ { next }
	     /^#/ { sub(/^# ?/, ""); if (n || $0 != "") { print; n++ }; next }
	     { exit }' "$0"
}

# need_arg OPTION ARGS...: die unless OPTION (the first of ARGS) has a value
# after it; for the option loops: need_arg "$@"
need_arg() { [ $# -ge 2 ] || die "option $1 needs an argument (see --help)"; }

# loud: a banner that cannot be missed in a long build log
loud() {
	local line='!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!'
	printf '%s\n!!! %s\n%s\n' "$line" "$*" "$line" >&2
}

# need_cmd CMD PACKAGE: fail with a message that names the missing piece.
need_cmd() {
	command -v "$1" >/dev/null 2>&1 ||
		die "'$1' not found (Debian package '$2'); run 'make deps' or 'scripts/deps.sh'"
}

# Run a long command, printing a progress line every $PROGRESS_EVERY
# seconds with the last line of its log, so CI and users see it moving.
# usage: with_progress LOGFILE LABEL cmd args...
PROGRESS_EVERY=${PROGRESS_EVERY:-30}
with_progress() {
	local logf=$1 label=$2; shift 2
	local start=$SECONDS rc
	mkdir -p "$(dirname "$logf")"
	"$@" >"$logf" 2>&1 &
	local pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		local i=0
		while [ $i -lt "$PROGRESS_EVERY" ] && kill -0 "$pid" 2>/dev/null; do
			sleep 1; i=$((i + 1))
		done
		kill -0 "$pid" 2>/dev/null || break
		log "$label: $((SECONDS - start))s, $(tail -n1 "$logf" | cut -c1-100)"
	done
	wait "$pid"; rc=$?
	if [ $rc -ne 0 ]; then
		tail -n 40 "$logf" >&2
		log "$label: FAILED after $((SECONDS - start))s (rc=$rc), full log: $logf"
		return $rc
	fi
	log "$label: done in $((SECONDS - start))s"
}

# Record a step time in build/times.tsv (step<TAB>seconds).
record_time() {
	mkdir -p "$BUILD"
	printf '%s\t%s\n' "$1" "$2" >>"$BUILD/times.tsv"
}

base_version() {
	[ -f "$BUILD/base-version" ] || die "no base tree yet: run 'make tree'"
	cat "$BUILD/base-version"
}

# git in the kernel tree with the tool identity
tgit() {
	local C=(-C "$TREE")
	if [ "${1:-}" = -C ]; then C=(-C "$2"); shift 2; fi
	GIT_AUTHOR_NAME="$TOOL_NAME" GIT_AUTHOR_EMAIL="$TOOL_EMAIL" \
	GIT_COMMITTER_NAME="$TOOL_NAME" GIT_COMMITTER_EMAIL="$TOOL_EMAIL" \
	GIT_AUTHOR_DATE="$TOOL_DATE" GIT_COMMITTER_DATE="$TOOL_DATE" \
		git "${C[@]}" -c core.autocrlf=false -c advice.detachedHead=false "$@"
}

# worktree_at DIR REV: a worktree of the kernel tree at DIR, created on
# first use, then detached at REV and clean (no am in progress, no
# untracked files).
worktree_at() {
	local dir=$1 rev=$2
	if [ ! -e "$dir/.git" ]; then
		tgit worktree prune
		rm -rf "$dir"
		tgit worktree add -q -f --detach "$dir" "$rev" >/dev/null
	fi
	tgit -C "$dir" am --abort >/dev/null 2>&1 || true
	tgit -C "$dir" checkout -q -f --detach "$rev"
	tgit -C "$dir" clean -q -fdx -e "/.kbuild-*"
}

# The patches of a series directory, cover letter excluded, in order.
series_patches() {
	local dir=$1
	[ -d "$dir" ] || return 0
	find "$dir" -maxdepth 1 -name '*[0-9][0-9][0-9][0-9]-*.patch' \
		! -name '*0000-cover-letter.patch' | sort
}

# cover_of DIR: the cover letter of the series in DIR (empty if none)
cover_of() { find "$1" -maxdepth 1 -name '*0000-cover-letter.patch' | head -n1; }

# series_base: where the main series starts, the fixes branch if the series
# branch holds it, else base
series_base() {
	if tgit rev-parse -q --verify "refs/heads/$BR_FIXES" >/dev/null &&
	   tgit merge-base --is-ancestor "$BR_FIXES" "$BR_SERIES" 2>/dev/null; then
		echo "$BR_FIXES"
	else
		echo "$BR_BASE"
	fi
}

# same_patches DIR1 DIR2: the *.patch files of both directories are identical
same_patches() {
	local a b
	a=$(cd "$1" && pwd) && b=$(cd "$2" && pwd) || return 1
	diff <(cd "$a" && ls -- *.patch 2>/dev/null) <(cd "$b" && ls -- *.patch 2>/dev/null) >/dev/null &&
	(cd "$a" && for f in *.patch; do [ -e "$f" ] || continue; cmp -s "$f" "$b/$f" || exit 1; done)
}

# qemu_accel auto|kvm|tcg [KERNEL]: print the accelerator to use.  auto:
# kvm if /dev/kvm is there and runs Linux, else tcg.  That is probed under
# a timeout (a /dev/kvm that hangs must not hang the caller), with -cpu max
# as the harness and KUnit use it: a one-sector boot image that writes 'K'
# to the debug port 0xe9, then a Linux kernel up to its first console line
# (on some hosts the first works and Linux hangs): KERNEL, or without one
# (KUnit, whose kernel is not built yet) the first of the project's built
# guest kernels; with no kernel to try, tcg.  Both answers are kept per
# host boot in $BUILD/accel-probe (line 1 the boot id, 2 the sector's
# answer, 3 Linux's), so that the 20 s of a hanging probe are paid once.
# ACCEL_PROBE_TIMEOUT seconds each (default 20).
qemu_accel() {
	local want=$1 kernel=${2-} cache=$BUILD/accel-probe boot img got='' lx='' k
	case "$want" in
	tcg) echo tcg; return 0 ;;
	kvm|auto) ;;
	*) die "--accel: auto, kvm or tcg, not '$want'" ;;
	esac
	if [ ! -r "${KVM_DEV:-/dev/kvm}" ] || [ ! -w "${KVM_DEV:-/dev/kvm}" ]; then
		[ "$want" = kvm ] && die "--accel kvm: no usable /dev/kvm"
		echo tcg
		return 0
	fi
	boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)
	mkdir -p "$BUILD"
	img=$(mktemp "$BUILD/accel-probe.XXXXXX")
	if [ -f "$cache" ] && [ "$(sed -n 1p "$cache")" = "$boot" ]; then
		got=$(sed -n 2p "$cache")
		lx=$(sed -n 3p "$cache")
	else
		# mov al,'K'; out 0xe9,al; cli; hlt; jmp $-1 ... 0x55 0xaa
		python3 -c 'import sys; b = bytes([0xb0, 0x4b, 0xe6, 0xe9, 0xfa, 0xf4, 0xeb, 0xfd]); sys.stdout.buffer.write(b + bytes(510 - len(b)) + b"\x55\xaa")' >"$img"
		got=tcg
		_accel_probe "$img.out" K -drive "file=$img,format=raw,if=ide" \
			-debugcon "file:$img.out" && got=kvm
		[ "$got" = kvm ] || { lx=tcg; warn "KVM probe: /dev/kvm does not run a guest (-cpu max) within ${ACCEL_PROBE_TIMEOUT:-20}s: using TCG (kept in ${cache#"$ROOT"/})"; }
	fi
	if [ "$got" = kvm ] && [ -z "$lx" ]; then
		if [ -z "$kernel" ]; then
			for k in "$KBUILD/patched" "$KBUILD/baseline" "$KBUILD/debug"; do
				k=$k/arch/x86/boot/bzImage
				[ -f "$k" ] && { kernel=$k; break; }
			done
		fi
		if [ -n "$kernel" ]; then
			lx=tcg
			_accel_probe "$img.out" 'Linux version' -kernel "$kernel" \
				-append "console=ttyS0 panic=-1" -serial "file:$img.out" && lx=kvm
			[ "$lx" = kvm ] || warn "KVM probe: $kernel does not reach its console under KVM within ${ACCEL_PROBE_TIMEOUT:-20}s: using TCG (kept in ${cache#"$ROOT"/})"
		fi
	fi
	printf '%s\n%s\n%s\n' "$boot" "$got" "$lx" >"$cache"
	rm -f "$img" "$img.out"
	if [ "$lx" != kvm ]; then
		if [ "$want" = kvm ]; then
			[ -n "$lx" ] || die "--accel kvm: no built kernel to try Linux under KVM with: make build-patched"
			die "--accel kvm: /dev/kvm does not run Linux here (probe kept in ${cache#"$ROOT"/}; remove it to probe again)"
		fi
		[ -z "$lx" ] && warn "KVM probe: no built kernel to try Linux under KVM with: using TCG"
		echo tcg
		return 0
	fi
	echo kvm
}

# _accel_probe OUT TEXT QEMU-ARGS...: does a KVM guest write TEXT to OUT in time?
_accel_probe() {
	local out=$1 text=$2 pid i ok=1
	shift 2
	: >"$out"
	"${QEMU:-qemu-system-x86_64}" -accel kvm -cpu max -nodefaults \
		-display none -no-user-config -no-reboot -m 256 "$@" \
		</dev/null >/dev/null 2>&1 &
	pid=$!
	for i in $(seq 1 $((2 * ${ACCEL_PROBE_TIMEOUT:-20}))); do
		if grep -q "$text" "$out" 2>/dev/null; then ok=0; break; fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	kill -9 "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null
	return $ok
}
