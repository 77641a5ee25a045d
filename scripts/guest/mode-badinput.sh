# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Bad boot parameters (scripts/harness/stress.sh --scenario badinput),
# sourced by workload.sh for harness.mode=badinput (busybox sh, POSIX).
#
# The host boots the debug kernel with malformed, negative, huge or empty
# values of swiotlb_cc=, cc_conversion_align= and swiotlb=; the guest checks
# that it booted with the default and said so:
#   harness.expect_nslabs=N   SWIOTLB slabs of a boot without swiotlb=
#   harness.expect_cc=BYTES   boot chunk of a boot without swiotlb_cc=
#   harness.bad=KIND          malformed | negative | empty | overflow | huge
# Expected: swiotlb_cc= (which knows only "off") and cc_conversion_align=
# always print a line naming the parameter and keep the default: the boot
# chunk of an unchanged size, whatever swiotlb= says.  swiotlb= is the
# upstream parser, which ignores what it cannot read without a word: the
# default must stay (malformed, negative, empty); a huge or overflowing
# number must give the series' "adjusted A -> B slabs" line.
# One CHECK badinput PARAM line each, with value=, message= (the kernel
# line about it, or "none") and the effective setting; then one
# data-checked I/O on virtio-blk: DMA still works.

BI_NSLABS=
BI_CC=
BI_KIND=

bi_params() {
	BI_NSLABS=$(cmdline_value harness.expect_nslabs "$BI_NSLABS")
	BI_CC=$(cmdline_value harness.expect_cc "$BI_CC")
	BI_KIND=$(cmdline_value harness.bad "$BI_KIND")
}

# the value of parameter $1 on the command line (last one wins), or "unset"
bi_value() {
	_v="unset"
	# the words of the command line, split on purpose
	# shellcheck disable=SC2013
	for w in $(cat /proc/cmdline); do
		case "$w" in
		"$1") _v='(no-value)' ;;
		"$1"=*) _v=${w#*=}; [ -n "$_v" ] || _v='(empty)' ;;
		esac
	done
	echo "$_v" | cut -c1-40
}

# bi_msg REGEX: the first kernel line matching, as one word, or "none"
bi_msg() {
	_m=$(dmesg | grep -v -i 'command line' | grep -E "$1" | head -n1 | sed 's/^\[[ 0-9.]*\] //' | cut -c1-100)
	[ -n "$_m" ] && echo "'$_m'" | tr ' ' _ || echo none
}

mode_badinput_main() {
	bi_params
	_d=/sys/kernel/debug

	# swiotlb_cc=: the boot chunk of shared memory for DMA allocations
	_v=$(bi_value swiotlb_cc)
	# the boot chunk itself (a missing one would be replaced by a chunk
	# grown at run time, so cc_bytes alone could look like the default)
	_cc=$(dmesg | grep 'for shared DMA allocations' | grep -o 'mapped \[mem 0x[0-9a-f]*-0x[0-9a-f]*\]' | head -n1)
	if [ -n "$_cc" ]; then
		_cc=${_cc#mapped ?mem }
		_cc=${_cc%]}
		_cc=$((${_cc#*-} - ${_cc%-*} + 1))
	else
		_cc=none
	fi
	_m=$(bi_msg 'swiotlb_cc')
	_want=$BI_CC
	_ok=0
	[ "$_cc" = "${_want:-x}" ] && [ "$_m" != none ] && _ok=1
	if [ $_ok = 1 ]; then
		check badinput swiotlb_cc PASS "value=$_v" boot_chunk=$_cc default="$_want" "message=$_m"
	else
		check badinput swiotlb_cc FAIL "value=$_v" boot_chunk=$_cc default="$_want" "message=$_m"
	fi

	# cc_conversion_align=: the x86 policy
	_v=$(bi_value cc_conversion_align)
	# the policy in force, from the line the series prints at boot
	_p=$(dmesg | sed -n 's/.*cc_conversion: conversion granule .*cc_conversion_align=\([a-z]*\).*/\1/p' | head -n1)
	_p=${_p:-none}
	_m=$(bi_msg 'cc_conversion_align')
	# a malformed value leaves the default: warn on the emulated CVM (2 MiB)
	if [ "$_p" = warn ] && [ "$_m" != none ]; then
		check badinput cc_conversion_align PASS "value=$_v" policy="$_p" default=warn "message=$_m"
	else
		check badinput cc_conversion_align FAIL "value=$_v" policy="$_p" default=warn "message=$_m"
	fi

	# swiotlb=: the size of the boot bounce pool (upstream parser; the
	# series changes the sizing after it)
	_v=$(bi_value swiotlb)
	_n=$(cat $_d/swiotlb/io_tlb_nslabs 2>/dev/null || echo none)
	_ok=0
	case "$BI_KIND" in
	huge|overflow)
		_m=$(bi_msg 'software IO TLB: .*(adjusted [0-9]+ -> |Failed|No low mem)')
		[ "$_m" != none ] && [ "$_n" != none ] && _ok=1
		;;
	*)
		_m=$(bi_msg 'swiotlb=')
		[ "$_n" = "${BI_NSLABS:-x}" ] && _ok=1
		;;
	esac
	if [ $_ok = 1 ]; then
		check badinput swiotlb PASS "value=$_v" nslabs="$_n" default="$BI_NSLABS" "message=$_m"
	else
		check badinput swiotlb FAIL "value=$_v" nslabs="$_n" default="$BI_NSLABS" "message=$_m"
	fi

	if _dev=$(wait_block 'vd*' "$H_WAIT"); then
		io_check "$_dev" "$_dev" blk 0 1M
	else
		check io blk FAIL disk=blk reason=no-device
	fi
}
