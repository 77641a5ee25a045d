# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Stress scenarios of the debug kernel (scripts/harness/stress.sh), sourced
# by workload.sh for harness.mode=stress (busybox sh, POSIX).
#
# Parameters from /proc/cmdline:
#   harness.stress=NAME   rebind | swiotlb | alloc | pagefail | convfail |
#                         periodic | fragment | probefail | chaos
#   harness.cycles=N      rebind: unbind/bind cycles of nvme and of virtio-net
#   harness.stress_s=S    swiotlb, alloc, pagefail, convfail, chaos: seconds
#                         of load
#   harness.stress_ops=N  alloc ...: operations bound per stress thread
#   harness.fail_every=N  convfail, chaos: every Nth conversion fails
#                         (default 3)
#   harness.fail_times=N  pagefail: injected page-allocation failures bound
#   harness.probe_step=B  probefail: bytes of slab budget between two
#                         failure points of the sweep (default 256)
#
# Every scenario ends with the same invariants (CHECK invariant ...):
#   accounting  shared pages (emulated CVM bitmap) == SWIOTLB pool slabs +
#               shared chunks (cc_bytes) + leaked (cvm_emulate/
#               refused_shared_pages: left shared by a refused conversion to
#               private) + the non-RAM pages shared at boot, and the
#               series' leak counters (cc_leaked + io_tlb_leaked_bytes)
#               <= leaked (dma-direct's own leaks are not in them)
#   ranges      (cvm_dma_stress scan) no partly shared 2 MiB region except
#               the one holding the non-RAM pages below 1 MiB, pages
#               dma-direct leaked (leaked - the series' leak counters), and
#               below 16 MiB the pieces smaller than 2 MiB that ZONE_DMA's
#               atomic pool grew by (see invariants())
#   giveback    after every PCI device is unbound and idle pools are given
#               back: shared pages == those at boot + leaked, to the page
#   detector    DMA-to-private detector 0
# and the I/O loops report CHECK io lines: every round's data compared;
# an I/O error is counted (it reached the caller), a mismatch fails.

ST_NAME=
ST_S=20
ST_OPS=100000
ST_FAIL_EVERY=3
ST_FAIL_TIMES=200
ST_PROBE_STEP=256
DBG=/sys/kernel/debug
CVM=$DBG/cvm_emulate
TLB=$DBG/swiotlb
APOOL=$DBG/dma_pools

st_params() {
	ST_NAME=$(cmdline_value harness.stress "$ST_NAME")
	ST_S=$(cmdline_value harness.stress_s "$ST_S")
	ST_OPS=$(cmdline_value harness.stress_ops "$ST_OPS")
	ST_FAIL_EVERY=$(cmdline_value harness.fail_every "$ST_FAIL_EVERY")
	ST_FAIL_TIMES=$(cmdline_value harness.fail_times "$ST_FAIL_TIMES")
	ST_PROBE_STEP=$(cmdline_value harness.probe_step "$ST_PROBE_STEP")
}

rd() { cat "$1" 2>/dev/null || echo 0; }

# counters into ST_* variables
st_read() {
	ST_SHARED=$(rd $CVM/shared_pages)
	ST_NSLABS=$(rd $TLB/io_tlb_nslabs)
	ST_CC=$(rd $TLB/cc_bytes)
	ST_CCLEAK=$(rd $TLB/cc_leaked)
	ST_TLBLEAK=$(rd $TLB/io_tlb_leaked_bytes)
	ST_D2P=$(rd $CVM/dma_to_private)
	# dma-direct's atomic pools, shared when created and when they grow
	# (on the patched CVM guest only ZONE_DMA's: 2 MiB blocks, smaller
	# pieces when ZONE_DMA has no free block of the size it grows by)
	ST_APOOL_DMA=$(rd $APOOL/pool_size_dma)
	ST_APOOL=$((ST_APOOL_DMA + $(rd $APOOL/pool_size_dma32) + $(rd $APOOL/pool_size_kernel)))
	# leaked: shared pages that a refused conversion to private left
	# shared (the emulated CVM counts them); the series' own counters
	# cover its pools and chunks, dma-direct's pages (stock) are not in them
	ST_SERIES_LEAKED=$(((ST_CCLEAK + ST_TLBLEAK) / 4096))
	ST_LEAKED_PAGES=$(rd $CVM/refused_shared_pages)
	ST_EXPECT=$((ST_NSLABS * 2048 / 4096 + ST_CC / 4096 + ST_APOOL / 4096 + ST_LEAKED_PAGES + ST_NONRAM))
}

# size in bytes of a "mapped [mem A-B]" line of the kernel log matching $1
mapped_bytes() {
	_mb=$(dmesg | grep "$1" | grep -o 'mapped \[mem 0x[0-9a-f]*-0x[0-9a-f]*\]' | head -n1)
	[ -n "$_mb" ] || { echo 0; return; }
	_mb=${_mb#mapped ?mem }
	_mb=${_mb%]}
	# the SWIOTLB line prints the end exclusive, the chunk line inclusive
	echo $(((${_mb#*-} - ${_mb%-*} + 1) / 4096 * 4096))
}

st_boot() {
	st_params
	ST_NONRAM=0
	st_read
	ST_SHARED0=$ST_SHARED
	ST_NSLABS0=$ST_NSLABS
	ST_APOOL0=$ST_APOOL
	ST_APOOL_DMA0=$ST_APOOL_DMA
	ST_BOOT_TLB=$(mapped_bytes 'software IO TLB: mapped \[mem .*MB)$')
	ST_BOOT_CC=$(mapped_bytes 'for shared DMA allocations')
	ST_NONRAM=$((ST_SHARED0 - ST_BOOT_TLB / 4096 - ST_BOOT_CC / 4096 - ST_APOOL / 4096))
	note "stress boot: shared_pages=$ST_SHARED0 boot_pool=$ST_BOOT_TLB boot_chunk=$ST_BOOT_CC atomic_pools=$ST_APOOL nslabs=$ST_NSLABS0 cc_bytes=$ST_CC nonram_pages=$ST_NONRAM"
	if [ "$ST_BOOT_TLB" -gt 0 ] && [ "$ST_NONRAM" -ge 0 ] && [ "$ST_NONRAM" -le 256 ] &&
	   [ "$((ST_NSLABS0 * 2048))" -eq "$ST_BOOT_TLB" ] && [ "$ST_CC" -eq "$ST_BOOT_CC" ]; then
		check invariant boot PASS shared_pages="$ST_SHARED0" boot_pool="$ST_BOOT_TLB" boot_chunk="$ST_BOOT_CC" atomic_pools="$ST_APOOL" nonram_pages=$ST_NONRAM
	else
		check invariant boot FAIL shared_pages="$ST_SHARED0" boot_pool="$ST_BOOT_TLB" boot_chunk="$ST_BOOT_CC" atomic_pools="$ST_APOOL" nslabs="$ST_NSLABS0" cc_bytes="$ST_CC" nonram_pages=$ST_NONRAM
	fi
}

# st_settle SECONDS: wait until the shared pages equal what the pools,
# chunks and leaks account for (pools are converted before they are
# linked and after they are unlinked); 0 if they do
st_settle() {
	_i=0
	while [ $_i -lt $(($1 * 5)) ]; do
		st_read
		[ "$ST_SHARED" -eq "$ST_EXPECT" ] && return 0
		usleep 200000
		_i=$((_i + 1))
	done
	return 1
}

# invariants NAME: accounting + ranges + detector, now
invariants() {
	if st_settle 20 && [ "$ST_SERIES_LEAKED" -le "$ST_LEAKED_PAGES" ]; then
		check invariant "$1-accounting" PASS shared_pages="$ST_SHARED" pool_slabs="$ST_NSLABS" cc_bytes="$ST_CC" leaked_pages="$ST_LEAKED_PAGES" series_leaked_pages="$ST_SERIES_LEAKED" nonram_pages="$ST_NONRAM"
	else
		check invariant "$1-accounting" FAIL shared_pages="$ST_SHARED" expected="$ST_EXPECT" pool_slabs="$ST_NSLABS" cc_bytes="$ST_CC" atomic_pools="$ST_APOOL" leaked_pages="$ST_LEAKED_PAGES" cc_leaked="$ST_CCLEAK" tlb_leaked="$ST_TLBLEAK" nonram_pages="$ST_NONRAM"
	fi
	_sc=$DBG/cvm_dma_stress/scan
	if [ -r $_sc ]; then
		_mr=$(awk '$1 == "mixed_regions" { print $2 }' $_sc)
		_mp=$(awk '$1 == "mixed_region_pages" { print $2 }' $_sc)
		_lo=$(awk '$1 == "shared_below_1m" { print $2 }' $_sc)
		_list=$(awk '$1 == "mixed" { printf "%s:%s,", $2, $3 }' $_sc)
		# partly shared regions beyond the non-RAM pages below 1 MiB: only
		# dma-direct's own (stock) pages, leaked when their conversion
		# back was refused (their fallback converts single pages), and
		# pieces of ZONE_DMA's atomic pool smaller than 2 MiB, which it
		# grows by when ZONE_DMA has no free block of the pool's size
		# or an injected failure refused one (as stock does).  Pieces
		# are naturally aligned powers of two: those of 2 MiB or more
		# fill their regions, the smaller ones lie in one region each,
		# so with no leak the pages partly shared below 16 MiB (Z) are
		# the pool's growth (G) less whole regions: Z <= G and G - Z a
		# multiple of 512 pages.
		_dd=$((ST_LEAKED_PAGES - ST_SERIES_LEAKED))
		_ag=$(((ST_APOOL_DMA - ST_APOOL_DMA0) / 4096))
		_zd=0
		for _e in $(echo "$_list" | tr ',' ' '); do
			[ $((${_e%%:*})) -lt $((0x1000000)) ] && _zd=$((_zd + ${_e#*:}))
		done
		_zd=$((_zd - ${_lo:-0}))
		[ "$_zd" -ge 0 ] || _zd=0
		[ "$_zd" -le "$_ag" ] || _zd=$_ag
		[ "$_dd" -gt 0 ] || [ $(((_ag - _zd) % 512)) -eq 0 ] || _zd=0
		if [ "${_lo:--2}" -eq "$ST_NONRAM" ] && [ "${_mp:--1}" -ge "$_lo" ] &&
		   [ $((_mp - _lo - _zd)) -le "$_dd" ] &&
		   { [ "${_mr:-9}" -le 1 ] || [ "$_dd" -gt 0 ] || [ "$_zd" -gt 0 ]; }; then
			check invariant "$1-ranges" PASS mixed_regions="$_mr" mixed_pages="$_mp" below_1m="$_lo" atomic_pool_small_pages="$_zd" list="$_list"
		else
			check invariant "$1-ranges" FAIL mixed_regions="$_mr" mixed_pages="$_mp" below_1m="$_lo" nonram_pages="$ST_NONRAM" atomic_pool_dma_grown="$_ag" list="$_list"
		fi
	else
		check invariant "$1-ranges" FAIL reason=no-cvm_dma_stress-scan
	fi
	if [ "$ST_D2P" -eq 0 ]; then
		check invariant "$1-detector" PASS dma_to_private=0
	else
		check invariant "$1-detector" FAIL dma_to_private="$ST_D2P"
	fi
}

# reclaim_shared: idle shared chunks are given back under memory pressure
# (a shrinker), not on a timer: drop_slab() runs the shrinkers.  Chunks idle
# for less than a second are kept, so callers repeat this in a loop.
reclaim_shared() {
	echo 2 >/proc/sys/vm/drop_caches 2>/dev/null || :
}

# giveback: unbind every nvme and virtio-pci device, wait until the pools
# are back to their boot size (dropping caches for the shared chunks),
# compare the shared pages with boot + leaked
giveback() {
	_n=0
	for _p in /sys/bus/pci/devices/*; do
		_drv=$(readlink "$_p/driver" 2>/dev/null)
		case "${_drv##*/}" in
		nvme|virtio-pci)
			echo "${_p##*/}" >"$_p/driver/unbind" && _n=$((_n + 1)) ;;
		esac
	done
	# dma-direct's atomic pools never shrink (stock): what they grew by
	# stays shared
	_i=0
	while [ $_i -lt 150 ]; do
		st_read
		_grown=$(((ST_APOOL - ST_APOOL0) / 4096))
		[ "$ST_NSLABS" -eq "$ST_NSLABS0" ] && [ "$ST_CC" -eq "$ST_BOOT_CC" ] &&
			[ "$ST_SHARED" -eq $((ST_SHARED0 + ST_LEAKED_PAGES + _grown)) ] && break
		reclaim_shared
		usleep 200000
		_i=$((_i + 1))
	done
	_f="unbound=$_n shared_pages=$ST_SHARED boot=$ST_SHARED0 leaked_pages=$ST_LEAKED_PAGES atomic_pools_grown=$_grown pool_slabs=$ST_NSLABS/$ST_NSLABS0 cc_bytes=$ST_CC/$ST_BOOT_CC wait_s=$((_i / 5))"
	# shellcheck disable=SC2086 # $_f: name=value fields, split on purpose
	if [ "$ST_SHARED" -eq $((ST_SHARED0 + ST_LEAKED_PAGES + _grown)) ] && [ "$ST_NSLABS" -eq "$ST_NSLABS0" ] &&
	   [ "$ST_CC" -eq "$ST_BOOT_CC" ]; then
		check invariant giveback PASS $_f
	else
		check invariant giveback FAIL $_f
	fi
	invariants end
}

# io_loop DEV KIND OFFSET_MB BS: write/read/compare rounds on DEV until
# /tmp/stop exists; two alternating patterns so that a lost write shows.
# Summary in /tmp/io.DEV: rounds bytes eio corrupt last_sha
io_loop() {
	_d=$1 _k=$2 _o=$3 _bs=$4
	_r=0 _b=0 _e=0 _c=0 _last=-
	_sa=$(sha256sum </tmp/pa."$_d") _sb=$(sha256sum </tmp/pb."$_d")
	_sa=${_sa%% *} _sb=${_sb%% *}
	while [ ! -e /tmp/stop ]; do
		if [ $((_r % 2)) -eq 0 ]; then _p=/tmp/pa.$_d _w=$_sa; else _p=/tmp/pb.$_d _w=$_sb; fi
		_r=$((_r + 1))
		if ! dd if="$_p" of=/dev/"$_d" bs="$_bs" seek=$((_o * 1048576)) \
			oflag=direct,seek_bytes conv=notrunc,fsync 2>/dev/null; then
			_e=$((_e + 1)) _last=-
			continue
		fi
		if ! dd if=/dev/"$_d" of=/tmp/rd."$_d" bs=64k skip=$((_o * 16)) \
			count=$((H_IO_MB * 16)) iflag=direct 2>/dev/null; then
			_e=$((_e + 1)) _last=-
			continue
		fi
		_g=$(sha256sum </tmp/rd."$_d")
		_g=${_g%% *}
		_b=$((_b + H_IO_MB * 2097152))
		if [ "$_g" = "$_w" ]; then
			_last=$_w
		else
			_c=$((_c + 1)) _last=-
		fi
		echo $_r >/tmp/io."$_d".r
	done
	echo "$_r $_b $_e $_c $_last" >/tmp/io."$_d"
}

# io_start "KIND:DEV ..." BS: one loop per disk in the background
io_start() {
	rm -f /tmp/stop
	ST_IO_PIDS=
	ST_IO_DISKS=$1
	# the patterns first, so that the loops start writing at once
	for _e in $1; do
		rm -f /tmp/io."${_e#*:}".r
		dd if=/dev/urandom of=/tmp/pa."${_e#*:}" bs=1M count="$H_IO_MB" 2>/dev/null
		dd if=/dev/urandom of=/tmp/pb."${_e#*:}" bs=1M count="$H_IO_MB" 2>/dev/null
	done
	for _e in $1; do
		io_loop "${_e#*:}" "${_e%%:*}" 40 "$2" &
		ST_IO_PIDS="$ST_IO_PIDS $!"
	done
}

# io_stop: stop the loops, one CHECK io line per disk; an I/O error is
# allowed only if $1 = eio-ok
io_stop() {
	# every loop completes a round first (at most 120 s more)
	_w=0
	for _e in $ST_IO_DISKS; do
		while [ ! -s /tmp/io."${_e#*:}".r ] && [ $_w -lt 600 ]; do
			usleep 200000
			_w=$((_w + 1))
		done
	done
	touch /tmp/stop
	for _p in $ST_IO_PIDS; do wait "$_p"; done
	ST_IO_ROUNDS=0 ST_IO_BYTES=0 ST_IO_EIO=0 ST_IO_CORRUPT=0
	for _e in $ST_IO_DISKS; do
		_d=${_e#*:} _k=${_e%%:*}
		# five numbers: split on purpose
		# shellcheck disable=SC2046
		set -- $(cat /tmp/io."$_d" 2>/dev/null || echo 0 0 0 0 -)
		ST_IO_ROUNDS=$((ST_IO_ROUNDS + $1)) ST_IO_BYTES=$((ST_IO_BYTES + $2))
		ST_IO_EIO=$((ST_IO_EIO + $3)) ST_IO_CORRUPT=$((ST_IO_CORRUPT + $4))
		_f="disk=$_k dev=$_d offset=$((40 * 1048576)) bytes=$((H_IO_MB * 1048576)) rounds=$1 io_bytes=$2 eio=$3 corrupt=$4"
		[ "$5" != - ] && _f="$_f sha256=$5"
		# shellcheck disable=SC2086 # $_f: name=value fields, split on purpose
		if [ "$1" -gt 0 ] && [ "$4" -eq 0 ] && [ "$5" != - ] &&
		   { [ "$3" -eq 0 ] || [ "${ST_EIO_OK:-0}" = 1 ]; }; then
			check io "$_d-stress" PASS $_f
		else
			check io "$_d-stress" FAIL $_f
		fi
	done
}

st_disks() {
	_l=
	for _spec in "blk:vd*" "scsi:sd*" "nvme:nvme*n1"; do
		case " $1 " in *" ${_spec%%:*} "*) ;; *) continue ;; esac
		_d=$(wait_block "${_spec#*:}" "$H_WAIT") && _l="$_l ${_spec%%:*}:$_d"
	done
	echo "$_l"
}

st_module() {
	load_module cvm_dma_stress
}

stress_modparam() {
	echo "$2" >/sys/module/cvm_dma_stress/parameters/"$1"
}

# stress_once: one run of the module; sets _f (its result as " name=value"
# fields), _qa (allocations), _qe (errors; 1 if not reported), _qnk
# (blocking allocations that found no memory; empty if not reported), _qdev
# (devices used), _qlow (allocations below 32 bits), _qbits and _qmin (the
# smallest mask of the run and its device's allocations)
stress_once() {
	echo 1 >$DBG/cvm_dma_stress/run
	# the result is "name value ..." words: split them on purpose
	# shellcheck disable=SC2046
	set -- $(tr '\n' ' ' <$DBG/cvm_dma_stress/run)
	_f='' _qa=0 _qe=1 _qnk='' _qdev=0 _qlow=0 _qbits=0 _qmin=0
	while [ $# -ge 2 ]; do
		_f="$_f $1=$2"
		case $1 in
		errors) _qe=$2 ;;
		allocs) _qa=$2 ;;
		nomem_kernel) _qnk=$2 ;;
		devices) _qdev=$2 ;;
		low_mask_allocs) _qlow=$2 ;;
		min_mask_bits) _qbits=$2 ;;
		min_mask_allocs) _qmin=$2 ;;
		esac
		shift 2
	done
}

# stress_run SUBJECT: one run of the module, its result as CHECK stress SUBJECT
stress_run() {
	stress_once
	stress_check "$1"
}

# stress_check NAME [FIELD...]: the check line of the last stress_once run
# (passes if it allocated and found no error), with FIELDs added
stress_check() {
	_sn=$1
	shift
	# shellcheck disable=SC2086 # $_f: name=value fields, split on purpose
	if [ "$_qe" -eq 0 ] && [ "$_qa" -gt 0 ]; then
		check stress "$_sn" PASS $_f "$@"
	else
		check stress "$_sn" FAIL $_f "$@"
	fi
}

# fail_order9 TIMES PROBABILITY: fail_page_alloc ($_fa) fails allocations of
# order >= 9, GFP_KERNEL ones included, with PROBABILITY %, at most TIMES
# times (-1: no limit); returns 1 if the kernel has no fail_page_alloc
fail_order9() {
	_fa=$DBG/fail_page_alloc
	[ -d $_fa ] || return 1
	echo 0 >$_fa/verbose
	echo N >$_fa/ignore-gfp-wait
	echo N >$_fa/ignore-gfp-highmem
	echo 9 >$_fa/min-order
	echo 1 >$_fa/interval
	echo "$1" >$_fa/times
	echo "$2" >$_fa/probability
}

# ---- scenarios ------------------------------------------------------------

# rebind_targets: what rebind and chaos unbind and bind: the nvme PCI
# device _bdf of driver _drv, and the virtio device _vdev of the second
# NIC (the first if there is only one) of driver _vd
rebind_targets() {
	_drv=/sys/bus/pci/drivers/nvme
	_bdf=
	for _x in "$_drv"/0000:*; do [ -e "$_x" ] && { _bdf=${_x##*/}; break; }; done
	# one word per NIC: split on purpose
	# shellcheck disable=SC2046
	set -- $(virtio_nics)
	_nic=${2:-$1}
	_vdev=$(readlink /sys/class/net/"$_nic"/device)
	_vdev=${_vdev##*/}
	_vd=/sys/bus/virtio/drivers/virtio_net
}

# nvme and virtio-net unbind/bind, alternating, with I/O on virtio-blk and
# virtio-scsi
sc_rebind() {
	io_start "$(st_disks 'blk scsi')" 1M
	rebind_targets
	_i=0 _n=0 _why=
	_t0=$(uptime_s)
	while [ $_i -lt "$H_CYCLES" ]; do
		echo "$_bdf" >$_drv/unbind 2>/dev/null || { _why=nvme-unbind; break; }
		echo "$_bdf" >$_drv/bind 2>/dev/null || { _why=nvme-bind; break; }
		wait_block 'nvme*n1' "$H_WAIT" >/dev/null || { _why=no-namespace; break; }
		_i=$((_i + 1))
		echo "$_vdev" >$_vd/unbind 2>/dev/null || { _why=net-unbind; break; }
		echo "$_vdev" >$_vd/bind 2>/dev/null || { _why=net-bind; break; }
		_j=0
		while [ ! -d /sys/bus/virtio/devices/"$_vdev"/net ] && [ $_j -lt 100 ]; do
			usleep 100000
			_j=$((_j + 1))
		done
		[ -d /sys/bus/virtio/devices/"$_vdev"/net ] || { _why=no-netdev; break; }
		_n=$((_n + 1))
	done
	_t1=$(uptime_s)
	io_stop
	_f="nvme_cycles=$_i net_cycles=$_n of=$H_CYCLES bdf=$_bdf nic=$_vdev t0=$_t0 t1=$_t1 io_rounds=$ST_IO_ROUNDS io_bytes=$ST_IO_BYTES"
	# shellcheck disable=SC2086 # $_f: name=value fields, split on purpose
	if [ -z "$_why" ] && [ $_i -eq "$H_CYCLES" ] && [ $_n -eq "$H_CYCLES" ]; then
		check stress rebind PASS $_f
	else
		check stress rebind FAIL $_f reason=$_why
	fi
	check_rebound rebind "$_vdev"
	invariants load
}

# check_rebound WHAT VDEV: the devices rebound during WHAT work: data-checked
# I/O on nvme, and the NIC of virtio device VDEV comes up
check_rebound() {
	_d=$(wait_block 'nvme*n1' "$H_WAIT") && io_check "$_d-after-$1" "$_d" nvme 8 1M
	_nn=$(ls /sys/bus/virtio/devices/"$2"/net 2>/dev/null)
	if [ -n "$_nn" ] && ip link set "$_nn" up && wait_carrier "$_nn"; then
		check net "$_nn-after-$1" PASS nic="$2"
	else
		check net "$_nn-after-$1" FAIL nic="$2"
	fi
}

# poll the SWIOTLB size while $1 seconds pass; ST_PEAK = largest nslabs
poll_peak() {
	ST_PEAK=$(rd $TLB/io_tlb_nslabs)
	_t=0
	while [ $_t -lt $(($1 * 5)) ]; do
		_s=$(rd $TLB/io_tlb_nslabs)
		[ "$_s" -gt "$ST_PEAK" ] && ST_PEAK=$_s
		usleep 200000
		_t=$((_t + 1))
	done
}

# concurrent I/O on all disks with a small swiotlb=: pools grow, then
# shrink back once idle
sc_swiotlb() {
	io_start "$(st_disks 'blk scsi nvme')" 4M
	poll_peak "$ST_S"
	io_stop
	_g=$(rd $TLB/cc_grow)
	# idle growth pools are given back: wait for the boot size
	_i=0
	while [ "$(rd $TLB/io_tlb_nslabs)" -ne "$ST_NSLABS0" ] && [ $_i -lt 100 ]; do
		usleep 200000
		_i=$((_i + 1))
	done
	_now=$(rd $TLB/io_tlb_nslabs)
	_f="pool_slabs_boot=$ST_NSLABS0 pool_slabs_peak=$ST_PEAK pool_slabs_after=$_now grown_bytes=$(((ST_PEAK - ST_NSLABS0) * 2048)) shrink_wait_s=$((_i / 5)) io_rounds=$ST_IO_ROUNDS io_bytes=$ST_IO_BYTES"
	# shellcheck disable=SC2086 # $_f: name=value fields, split on purpose
	if [ "$ST_PEAK" -gt "$ST_NSLABS0" ] && [ "$_now" -eq "$ST_NSLABS0" ]; then
		check stress swiotlb-grow-shrink PASS $_f
	else
		check stress swiotlb-grow-shrink FAIL $_f
	fi
	invariants load
}

# the module from process and hard-IRQ context on every CPU
sc_alloc() {
	stress_modparam duration_ms $((ST_S * 1000))
	stress_modparam max_ops "$ST_OPS"
	stress_run alloc
	invariants load
}

# page allocations of order >= 9 (pool growth, 2 MiB chunks) fail while
# the disks (small swiotlb=) and the module load the pools
sc_pagefail() {
	if ! fail_order9 "$ST_FAIL_TIMES" 50; then
		check stress pagefail FAIL reason=no-fail_page_alloc
		return
	fi
	ST_EIO_OK=1
	io_start "$(st_disks 'blk scsi nvme')" 4M
	stress_modparam duration_ms $((ST_S * 1000))
	stress_modparam max_ops "$ST_OPS"
	stress_modparam irq_us 2000
	stress_run pagefail-alloc
	io_stop
	echo 0 >"$_fa"/probability
	_left=$(cat $_fa/times)
	_inj=$((ST_FAIL_TIMES - _left))
	_f="injected=$_inj of=$ST_FAIL_TIMES io_rounds=$ST_IO_ROUNDS io_bytes=$ST_IO_BYTES io_eio=$ST_IO_EIO cc_grow=$(rd $TLB/cc_grow) pool_slabs=$(rd $TLB/io_tlb_nslabs)"
	# shellcheck disable=SC2086 # $_f: name=value fields, split on purpose
	if [ "$_inj" -gt 0 ]; then
		check stress pagefail PASS $_f
	else
		check stress pagefail FAIL $_f reason=nothing-injected
	fi
	invariants load
}

# no free order-9 block (fail_page_alloc: every allocation of order >= 9
# fails, as on a guest whose memory is fragmented) while the module
# allocates buffers below 2 MiB from its devices (64-, 32- and, where the
# kernel has ZONE_DMA, 30-bit, which must then have been served): once
# the boot chunk is full, new chunks come from the default CMA area, which
# the host side places below 1 GiB (cma=; cma_alloc() does not go through
# the page allocator's fault injection), so every blocking allocation
# succeeds and no conversion is smaller than 2 MiB (the emulated CVM's
# cvm_emulate/misaligned); CMA must have served (swiotlb/cc_grow_cma)
sc_fragment() {
	if ! fail_order9 -1 100; then
		check stress fragment FAIL reason=no-fail_page_alloc
		return
	fi
	_cc=$DBG/cvm_emulate
	stress_modparam duration_ms $((ST_S * 1000))
	stress_modparam max_ops "$ST_OPS"
	stress_modparam max_size 1048576
	stress_modparam irq_us 2000
	_m0=$(rd $_cc/misaligned) _c0=$(rd $_cc/calls) _g0=$(rd $TLB/cc_grow)
	_r0=$(rd $TLB/cc_grow_cma) _p0=$(rd $APOOL/pool_size_dma)
	stress_run fragment-alloc
	echo 0 >"$_fa"/probability
	_m1=$(rd $_cc/misaligned) _c1=$(rd $_cc/calls) _g1=$(rd $TLB/cc_grow)
	_r1=$(rd $TLB/cc_grow_cma)
	_nk=$_qnk _mis=$((_m1 - _m0)) _res=$((_r1 - _r0))
	# ZONE_DMA's atomic pool, if it grew here, did so in 1 MiB pieces
	# (order 9 and up fail): one conversion below 2 MiB each, as stock
	_pp=$((($(rd $APOOL/pool_size_dma) - _p0) / 1048576))
	_zdma=0
	grep -q 'zone  *DMA$' /proc/zoneinfo && _zdma=1
	_f="zone_dma=$_zdma devices=$_qdev low_mask_allocs=$_qlow nomem_kernel=${_nk:-?} calls=$((_c1 - _c0)) misaligned=$_mis atomic_pool_pieces=$_pp cc_grow=$((_g1 - _g0)) cc_grow_cma=$_res cc_peak=$(rd $TLB/cc_peak) cc_bytes=$(rd $TLB/cc_bytes)"
	_why=
	[ "${_nk:-1}" -eq 0 ] || _why=blocking-allocation-failed
	[ "$_mis" -le "$_pp" ] || _why=${_why:+$_why,}conversion-below-2M
	[ "$_res" -gt 0 ] || _why=${_why:+$_why,}cma-not-used
	if [ $_zdma -eq 1 ]; then
		[ "$_qdev" -eq 3 ] && [ "$_qlow" -gt 0 ] || _why=${_why:+$_why,}no-30-bit-allocations
	fi
	# shellcheck disable=SC2086 # $_f: name=value fields, split on purpose
	if [ -z "$_why" ]; then
		check stress fragment PASS $_f
	else
		check stress fragment FAIL $_f reason=$_why
	fi
	invariants load
}

# a 24-bit device (ISA-style DMA, whose memory must come from ZONE_DMA's
# 16 MiB) beside the 64-, 32- and 30-bit ones, buffers of up to 256 KiB
# from threads and from hard-IRQ context.  The shared chunks serve it only
# if one grows in ZONE_DMA (a free 2 MiB block there), else its blocking
# allocations convert pages of their own, as stock does: every blocking
# allocation must succeed all the same, and the 24-bit device must have got
# buffers.  Conversions below 2 MiB are allowed here (stock makes them for
# every allocation) and reported, with the chunks grown.
sc_lowmask() {
	if ! grep -q 'zone  *DMA$' /proc/zoneinfo; then
		check stress lowmask FAIL reason=no-zone-dma
		return
	fi
	_cc=$DBG/cvm_emulate
	stress_modparam min_mask_bits 24
	stress_modparam duration_ms $((ST_S * 1000))
	stress_modparam max_ops "$ST_OPS"
	stress_modparam max_size 262144
	stress_modparam irq_us 2000
	_m0=$(rd $_cc/misaligned) _c0=$(rd $_cc/calls) _g0=$(rd $TLB/cc_grow)
	stress_run lowmask-alloc
	_m1=$(rd $_cc/misaligned) _c1=$(rd $_cc/calls) _g1=$(rd $TLB/cc_grow)
	_f="devices=$_qdev min_mask_bits=$_qbits min_mask_allocs=$_qmin low_mask_allocs=$_qlow nomem_kernel=${_qnk:-?} calls=$((_c1 - _c0)) misaligned=$((_m1 - _m0)) cc_grow=$((_g1 - _g0)) cc_bytes=$(rd $TLB/cc_bytes)"
	_why=
	[ "${_qnk:-1}" -eq 0 ] || _why=blocking-allocation-failed
	[ "$_qdev" -eq 4 ] && [ "$_qbits" -eq 24 ] || _why=${_why:+$_why,}no-24-bit-device
	[ "$_qmin" -gt 0 ] || _why=${_why:+$_why,}no-24-bit-allocations
	# shellcheck disable=SC2086 # $_f: name=value fields, split on purpose
	if [ -z "$_why" ]; then
		check stress lowmask PASS $_f
	else
		check stress lowmask FAIL $_f reason=$_why
	fi
	invariants load
}

# idle_giveback N: up to N times 200 ms, until the growth pools and chunks
# are back to their boot size (dropping caches for the chunks)
idle_giveback() {
	_i=0
	while [ $_i -lt "$1" ]; do
		[ "$(rd $TLB/io_tlb_nslabs)" -eq "$ST_NSLABS0" ] && [ "$(rd $TLB/cc_bytes)" -eq "$ST_BOOT_CC" ] && break
		reclaim_shared
		usleep 200000
		_i=$((_i + 1))
	done
}

# convfail_load NAME REFUSED0: the load, then idle memory given back, again
# until the injector has refused a conversion since REFUSED0 (at most 4
# runs): pools and chunks convert when they grow and when they go back, and
# on a slow host one run does so fewer times than fail_every at times
convfail_load() {
	_n=0
	while :; do
		stress_once
		_n=$((_n + 1))
		idle_giveback 25
		[ "$(rd $CVM/refused)" -eq "$2" ] && [ "$_qe" -eq 0 ] && [ $_n -lt 4 ] || break
	done
	stress_check "$1" runs=$_n
}

# every Nth conversion fails: to shared while the load makes the pools and
# chunks grow, then to private while a second load runs and the idle pools
# and chunks are given back (drop_caches for the chunks; their memory is
# leaked on purpose)
sc_convfail() {
	ST_EIO_OK=1
	_half=$(((ST_S + 1) / 2))
	stress_modparam duration_ms $((_half * 1000))
	stress_modparam max_ops "$ST_OPS"
	_r0=$(rd $CVM/refused)
	echo shared >$CVM/fail_dir
	echo "$ST_FAIL_EVERY" >$CVM/fail_every
	io_start "$(st_disks 'blk scsi nvme')" 4M
	# idle chunks go back only under memory pressure: make some, so that
	# the chunks are converted back and again during the load
	rm -f /tmp/stop-reclaim
	( while [ ! -e /tmp/stop-reclaim ]; do reclaim_shared; usleep 300000; done ) &
	_rp=$!
	convfail_load convfail-shared "$_r0"
	_r1=$(rd $CVM/refused)
	echo private >$CVM/fail_dir
	echo "$ST_FAIL_EVERY" >$CVM/fail_every
	convfail_load convfail-private "$_r1"
	touch /tmp/stop-reclaim
	wait $_rp
	io_stop
	# idle growth pools and chunks are given back while the injector runs
	idle_giveback 75
	usleep 1000000
	_r2=$(rd $CVM/refused)
	echo 0 >$CVM/fail_every
	echo both >$CVM/fail_dir
	st_read
	_f="every=$ST_FAIL_EVERY refused_shared=$((_r1 - _r0)) refused_private=$((_r2 - _r1)) leaked_pages=$ST_LEAKED_PAGES cc_leaked=$ST_CCLEAK tlb_leaked=$ST_TLBLEAK io_rounds=$ST_IO_ROUNDS io_bytes=$ST_IO_BYTES io_eio=$ST_IO_EIO"
	# shellcheck disable=SC2086 # $_f: name=value fields, split on purpose
	if [ $((_r1 - _r0)) -gt 0 ] && [ $((_r2 - _r1)) -gt 0 ]; then
		check stress convfail PASS $_f
	else
		check stress convfail FAIL $_f reason=nothing-refused-in-a-direction
	fi
	invariants load
}

# a periodic workload: every 2 s, one thread allocates, holds and frees a
# few MiB of coherent memory (8 buffers of up to 1 MiB, the same 400
# operations each round, fixed seed).  The first round may grow the shared
# chunks beyond the boot chunk; they stay while idle (no memory pressure),
# so no later round converts anything.  Conversions counted by the
# emulated CVM (cvm_emulate/calls),
# growth by swiotlb/cc_grow.  The 64- and 32-bit devices only: a 30-bit
# device's memory must come from below 1 GiB, where the boot chunk is not
# (its chunks grow in the first round; fragment covers that device).
sc_periodic() {
	_cc=$DBG/cvm_emulate
	stress_modparam min_mask_bits 32
	stress_modparam duration_ms 30000
	stress_modparam max_ops 400
	stress_modparam threads 1
	stress_modparam slots 8
	stress_modparam max_size 1048576
	stress_modparam irq_us 0
	_c0=$(rd $_cc/calls) _g0=$(rd $TLB/cc_grow)
	stress_run periodic-first
	# growth that atomic allocations asked the worker for lands now
	sleep 2
	_c1=$(rd $_cc/calls) _g1=$(rd $TLB/cc_grow)
	_n=0 _alloc=0 _err=0
	while [ $_n -lt $((ST_S / 2)) ]; do
		stress_once
		_alloc=$((_alloc + _qa)) _err=$((_err + _qe)) _n=$((_n + 1))
		sleep 2
	done
	_c2=$(rd $_cc/calls) _g2=$(rd $TLB/cc_grow)
	_f="periods=$_n first_calls=$((_c1 - _c0)) first_grow=$((_g1 - _g0)) later_calls=$((_c2 - _c1)) later_grow=$((_g2 - _g1)) later_allocs=$_alloc later_errors=$_err cc_bytes=$(rd $TLB/cc_bytes) cc_idle=$(rd $TLB/cc_idle)"
	# shellcheck disable=SC2086 # $_f: name=value fields, split on purpose
	if [ $((_c2 - _c1)) -eq 0 ] && [ "$_err" -eq 0 ] && [ "$_alloc" -gt 0 ] && [ "$_n" -gt 0 ]; then
		check stress periodic PASS $_f
	else
		check stress periodic FAIL $_f
	fi
	invariants load
}

# virtio_scsi's probe fails at one slab allocation after another, as when
# a host makes a guest's allocations or virtio_find_vqs() fail (a queue the
# driver cannot set up): failslab, for the binding task only, fails the
# first allocation after a budget of 0, B, 2B ... bytes (the step doubles while
# the first failure hits the same allocation), until a bind gets through
# with no failure, or the first failure is in scsi_add_host() (SCSI scans
# are off during the sweep).  Every error path of the probe runs:
# scsi_host_alloc(), virtscsi_init() with virtio_find_vqs() failing (with
# pci=nomsi, INTx is its only way) and virtscsi_remove_vqs() without an
# event virtqueue (v1 of the series dereferenced it), scsi_add_host().  A
# probe must fail only where a failure was injected, leave nothing shared
# behind (the invariants), and the bound device then carries data-checked
# I/O.

# pf_first: where the first report on stdin (failslab, verbose=2) hit,
# from its stack trace: scan (the SCSI scan virtio_scsi starts at the end
# of its probe), find_vqs (inside virtio_find_vqs()), add_host (inside
# scsi_add_host()), probe (elsewhere in the probe), or bind (the sysfs write and the driver core before the
# probe); and the function that allocated (the first frame above the
# allocator)
pf_first() {
	awk '/FAULT_INJECTION: forcing a failure/ { if (++k > 1) exit; b = ""; f = "" }
		{ b = b "\n" $0 }
		f == "" && / [a-z_0-9.]+\+0x/ && !/ \? / &&
		!/dump_stack|should_fail|kmalloc|kmem_cache_alloc|slab_pre_alloc/ {
			f = $0; sub(/.* /, "", f); sub(/\+0x.*/, "", f)
		}
		END {
			if (b ~ /scsi_scan_host|scsi_probe_and_add_lun|__scsi_scan_target/) w = "scan"
			else if (b ~ /vp_find_vqs/) w = "find_vqs"
			else if (b ~ /scsi_add_host/) w = "add_host"
			else if (b ~ /virtscsi_probe/) w = "probe"
			else w = "bind"
			print w, f
		}'
}

sc_probefail() {
	_fs=$DBG/failslab
	_sd=/sys/bus/virtio/drivers/virtio_scsi
	if [ ! -d $_fs ] || [ ! -e /proc/self/make-it-fail ]; then
		check stress probefail FAIL reason=no-failslab
		return
	fi
	_v=
	for _x in "$_sd"/virtio*; do [ -e "$_x" ] && { _v=${_x##*/}; break; }; done
	if [ -z "$_v" ] || ! echo "$_v" >$_sd/unbind; then
		check stress probefail FAIL reason=no-virtio_scsi-device
		return
	fi
	# no SCSI scan during the sweep: after a bind that gets through, the
	# unbind waits for the scan of the host's targets (~20 s on the debug
	# kernel under TCG), and the scan's failures are not the probe's; the
	# disk is bound and scanned again after the sweep
	_scan=/sys/module/scsi_mod/parameters/scan
	_scan0=$(cat $_scan 2>/dev/null) || _scan0=
	[ -n "$_scan0" ] && echo none >$_scan
	# a stack trace per injected failure (not a splat): where it hit
	echo 2 >$_fs/verbose
	echo N >$_fs/ignore-gfp-wait
	echo Y >$_fs/task-filter
	echo 1 >$_fs/interval
	echo 100 >$_fs/probability
	_sp=0 _runs=0 _why='' _step=$ST_PROBE_STEP _prev='' _end=time
	_n_bind=0 _n_probe=0 _n_fvq=0 _n_ok=0
	_t0=$(uptime_s)
	# bounded by harness.stress_s: a bind that gets through costs the
	# unbind of the disk (~20 s on the debug kernel under TCG)
	_deadline=$((${_t0%.*} + ST_S))
	while [ $_runs -lt 2000 ] && [ "$(uptime_s | cut -d. -f1)" -lt $_deadline ]; do
		# this bind's reports only, its first one at the start
		dmesg -c >/dev/null
		echo $_sp >$_fs/space
		# one failure: the first allocation beyond the budget (the
		# guest boots with pci=nomsi, so virtio_find_vqs() has no
		# fallback left when it fails, and its error path runs)
		echo 1 >$_fs/times
		# only this subshell (the task that binds, and probes) fails
		( echo 1 >/proc/self/make-it-fail && echo "$_v" >$_sd/bind ) 2>/dev/null
		_left=$(cat $_fs/times)
		echo 0 >$_fs/times
		_runs=$((_runs + 1))
		_at=none _site=
		if [ "$_left" = 0 ]; then
			# shellcheck disable=SC2046 # two words: where, and the function
			set -- $(dmesg | pf_first)
			_at=$1 _site=${2:-}
		fi
		# probes that failed, by where: find_vqs is virtio_find_vqs()
		# failing, and virtscsi_remove_vqs() without an event queue
		if [ ! -e "$_sd/$_v" ]; then
			case $_at in
			bind) _n_bind=$((_n_bind + 1)) ;;
			probe) _n_probe=$((_n_probe + 1)) ;;
			find_vqs) _n_fvq=$((_n_fvq + 1)) ;;
			add_host) _n_probe=$((_n_probe + 1)) ;;
			esac
		fi
		# past virtio_scsi's own code: the first failure in
		# scsi_add_host() (its error path: del_vqs) ends the sweep; the
		# midlayer's and the driver core's own error paths are not the
		# series' (after a failure in its device_add(), the next bind
		# failed with -ENOENT once, with nothing injected)
		if [ "$_at" = add_host ]; then
			_end=add_host
			break
		fi
		if [ -e "$_sd/$_v" ]; then
			# the probe is through: no failure left to inject, or
			# the next ones hit the SCSI scan, which goes on without
			case $_at in none|scan) _end=$_at; break ;; esac
			# failures the probe can take: bound all the same
			_n_ok=$((_n_ok + 1))
			echo "$_v" >$_sd/unbind 2>/dev/null || { _why=unbind; break; }
		elif [ "$_at" = none ]; then
			_why=probe-failed-without-injection
			break
		fi
		# the same allocation again (a large one): take bigger steps
		# until the next one, then the base step again
		if [ -n "$_site" ] && [ "$_site" = "$_prev" ]; then
			_step=$((_step * 2))
		else
			_step=$ST_PROBE_STEP
		fi
		_prev=$_site
		_sp=$((_sp + _step))
	done
	echo 0 >$_fs/times
	echo 0 >$_fs/probability
	echo 0 >$_fs/verbose
	_t1=$(uptime_s)
	if [ -n "$_scan0" ]; then
		echo "$_scan0" >$_scan
		[ -e "$_sd/$_v" ] && echo "$_v" >$_sd/unbind 2>/dev/null
	fi
	[ -e "$_sd/$_v" ] || echo "$_v" >$_sd/bind 2>/dev/null
	[ -e "$_sd/$_v" ] || { sleep 1; echo "$_v" >$_sd/bind 2>/dev/null; }
	[ -e "$_sd/$_v" ] || _why=${_why:-not-bound-at-the-end}
	[ $_n_probe -gt 0 ] || _why=${_why:-no-failure-in-the-probe}
	[ $_n_fvq -gt 0 ] || _why=${_why:-no-failure-in-find_vqs}
	_f="runs=$_runs end=$_end in_bind=$_n_bind in_probe=$_n_probe in_find_vqs=$_n_fvq survived=$_n_ok budget_bytes=$_sp step=$ST_PROBE_STEP device=$_v t0=$_t0 t1=$_t1"
	# shellcheck disable=SC2086 # $_f: name=value fields, split on purpose
	if [ -z "$_why" ]; then
		check stress probefail PASS $_f
	else
		check stress probefail FAIL $_f reason=$_why
	fi
	_d=$(wait_block 'sd*' "$H_WAIT") && io_check "$_d-after-probefail" "$_d" scsi 8 1M
	invariants load
}

# chaos: every failure injector at once while the guest does all it does
# elsewhere: the emulated CVM refuses every Nth conversion in both
# directions, fail_page_alloc fails half the allocations of order >= 9,
# failslab fails every 500th slab allocation of the task that unbinds and
# binds virtio-net over and over (task-filter; the guest boots with
# pci=nomsi, see probefail), that task also unbinds and binds nvme, without
# failslab (a failure in ACPICA's _PRT evaluation of nvme's
# pci_enable_device() ends in a KASAN use-after-free in
# acpi_ut_update_object_reference(), a base bug), data-checked I/O runs on
# virtio-blk and
# virtio-scsi (I/O errors may reach the caller, corruption may not), the
# module allocates from threads and hard-IRQ context, and idle shared
# memory is asked back.  Then every injector off, both devices bound again
# and checked (data on nvme, carrier on the NIC), and the invariants:
# nothing shared that is not accounted for (a refused conversion to private
# leaks on purpose), no DMA to private memory.  Each injector must have
# hit.
CHAOS_TIMES=100000000
sc_chaos() {
	_fs=$DBG/failslab
	if [ ! -d $_fs ] || ! fail_order9 $CHAOS_TIMES 50; then
		check stress chaos FAIL reason=no-fault-injection
		return
	fi
	echo 0 >$_fs/verbose
	echo N >$_fs/ignore-gfp-wait
	echo Y >$_fs/task-filter
	echo 500 >$_fs/interval
	echo $CHAOS_TIMES >$_fs/times
	echo 100 >$_fs/probability
	_r0=$(rd $CVM/refused)
	echo both >$CVM/fail_dir
	echo "$ST_FAIL_EVERY" >$CVM/fail_every
	ST_EIO_OK=1
	io_start "$(st_disks 'blk scsi')" 4M
	stress_modparam duration_ms $((ST_S * 1000))
	stress_modparam max_ops 1000000000
	stress_modparam irq_us 2000
	( stress_run chaos-alloc ) &
	_mp=$!
	rebind_targets
	rm -f /tmp/stop-chaos /tmp/chaos.rebind
	(
		_c=0 _bf=0
		while [ ! -e /tmp/stop-chaos ]; do
			echo "$_bdf" >$_drv/unbind 2>/dev/null
			echo "$_bdf" >$_drv/bind 2>/dev/null || _bf=$((_bf + 1))
			# failslab for this subshell only: clearing the flag
			# again is an open() that failslab may fail, after which
			# every later bind (nvme's too) would run under it
			( echo 1 >/proc/self/make-it-fail || exit 0
			  echo "$_vdev" >$_vd/unbind 2>/dev/null
			  echo "$_vdev" >$_vd/bind 2>/dev/null ) || _bf=$((_bf + 1))
			_c=$((_c + 1))
			reclaim_shared
		done
		echo "$_c $_bf" >/tmp/chaos.rebind
	) &
	_rp=$!
	_t0=$(uptime_s)
	sleep "$ST_S"
	# every injector off, then the devices bound again
	echo 0 >$_fs/probability
	echo 0 >"$_fa"/probability
	_slab=$((CHAOS_TIMES - $(cat $_fs/times)))
	_page=$((CHAOS_TIMES - $(cat "$_fa"/times)))
	echo 0 >$CVM/fail_every
	echo both >$CVM/fail_dir
	_r1=$(rd $CVM/refused)
	touch /tmp/stop-chaos
	wait $_rp
	wait $_mp
	_t1=$(uptime_s)
	io_stop
	read -r _c _bf </tmp/chaos.rebind || _c=0 _bf=0
	_why=
	[ -e "$_drv/$_bdf" ] || echo "$_bdf" >$_drv/bind 2>/dev/null
	[ -e "$_vd/$_vdev" ] || echo "$_vdev" >$_vd/bind 2>/dev/null
	[ -e "$_drv/$_bdf" ] || _why=nvme-not-bound
	[ -e "$_vd/$_vdev" ] || _why=${_why:-net-not-bound}
	[ "$_c" -gt 0 ] || _why=${_why:-no-rebind}
	[ "$_slab" -gt 0 ] || _why=${_why:-no-slab-failure}
	[ "$_page" -gt 0 ] || _why=${_why:-no-page-failure}
	[ $((_r1 - _r0)) -gt 0 ] || _why=${_why:-nothing-refused}
	st_read
	_f="seconds=$ST_S rebinds=$_c binds_failed=$_bf slab_failures=$_slab page_failures=$_page refused=$((_r1 - _r0)) every=$ST_FAIL_EVERY leaked_pages=$ST_LEAKED_PAGES io_rounds=$ST_IO_ROUNDS io_bytes=$ST_IO_BYTES io_eio=$ST_IO_EIO t0=$_t0 t1=$_t1"
	# shellcheck disable=SC2086 # $_f: name=value fields, split on purpose
	if [ -z "$_why" ]; then
		check stress chaos PASS $_f
	else
		check stress chaos FAIL $_f reason=$_why
	fi
	check_rebound chaos "$_vdev"
	invariants load
}

mode_stress_main() {
	st_boot
	st_module || return
	case "$ST_NAME" in
	rebind|swiotlb|alloc|pagefail|convfail|periodic|fragment|lowmask|probefail|chaos) "sc_$ST_NAME" ;;
	*) check stress "${ST_NAME:-none}" FAIL reason=unknown-scenario; return ;;
	esac
	giveback
}
