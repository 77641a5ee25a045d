# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# make bench: the guest side (busybox sh, POSIX), sourced by workload.sh for
# harness.mode=bench.  Needs the cvm_dma_bench module (kernel/modules/) and
# the tools archive of scripts/bench/mktools.sh (/opt/bench: fio with its
# libraries, dma_map_benchmark); see Documentation/bench.md.
#
# Every workload step is bracketed by reads of the emulated CVM's counters,
# so that each conversion is attributed to "boot" or to one step:
#
#   BENCH boot calls=C pages=P shared_pages=S uptime=U
#   BENCH step NAME calls=dC to_shared=dS to_private=dP pages=dN shared_pages=S
#         cc_bytes=B seconds=T
#   BENCH dma_alloc size=.. threads=.. ops=.. ops_per_s=.. ns_per_op=.. calls=..
#   BENCH dma_map threads=.. granule=.. map_100ns=.. map_sd=.. unmap_100ns=..
#   BENCH fio dev=.. kind=blk|nvme job=randread4k|... bw_kib=.. iops=.. calls=..
#   BENCH end calls=C ... (after_boot=C - boot calls)
#
# Parameters (kernel command line): harness.bench_ms=MS per dma_alloc run
# (300), harness.bench_map_s=S per dma_map_benchmark run (2),
# harness.bench_fio_s=S per fio job (3), harness.bench_sizes=a,b,.. bytes,
# harness.stall_s=S: if a fio job has not ended S seconds after it started,
# print "HARNESS STALL dev=.. job=.." and the blocked and all tasks (sysrq w
# and t) on the console (0 = off, the default).
#
# Before each fio job: "HARNESS JOB dev=.. job=..", so that the host can name
# the device of a job that never ends.  Each "BENCH fio" line also carries
# the SWIOTLB transient slabs, the shared pages and the shared chunks' bytes
# after the job (transient_nslabs=, shared_pages=, cc_bytes=).

B_CVM=/sys/kernel/debug/cvm_emulate
B_MS=300
B_MAP_S=2
B_FIO_S=3
B_SIZES="4096 65536 262144 1048576 4194304"
B_TOOLS=/opt/bench
B_STALL_S=0

bench_params() {
	B_MS=$(cmdline_value harness.bench_ms "$B_MS")
	B_MAP_S=$(cmdline_value harness.bench_map_s "$B_MAP_S")
	B_FIO_S=$(cmdline_value harness.bench_fio_s "$B_FIO_S")
	B_SIZES=$(cmdline_value harness.bench_sizes "$B_SIZES" | tr ',' ' ')
	B_STALL_S=$(cmdline_value harness.stall_s "$B_STALL_S")
}

# bench_watch DEV JOB: a guard that reports the job if it has not ended
# after B_STALL_S seconds (the hung-task detector, if on, reports blocked
# tasks on its own later); bench_unwatch stops it.
bench_watch() {
	_bw=
	[ "${B_STALL_S:-0}" -gt 0 ] 2>/dev/null || return 0
	(
		sleep "$B_STALL_S"
		echo "HARNESS STALL dev=$1 job=$2 after=${B_STALL_S}s uptime=$(uptime_s)"
		echo w >/proc/sysrq-trigger 2>/dev/null
		echo t >/proc/sysrq-trigger 2>/dev/null
	) &
	_bw=$!
}
bench_unwatch() {
	[ -n "$_bw" ] || return 0
	kill "$_bw" 2>/dev/null
	wait "$_bw" 2>/dev/null
	_bw=
}
bench_transient() { cat /sys/kernel/debug/swiotlb/io_tlb_transient_nslabs 2>/dev/null || echo 0; }

# bench_ctr NAME: one counter of the emulated CVM (0 without it)
bench_ctr() { cat "$B_CVM/$1" 2>/dev/null || echo 0; }
bench_cc_bytes() { cat /sys/kernel/debug/swiotlb/cc_bytes 2>/dev/null || echo 0; }

# bench_begin: remember the counters; bench_delta: "calls=.. to_shared=.. ..."
# since the last bench_begin
bench_begin() {
	_bc0=$(bench_ctr calls) _bs0=$(bench_ctr to_shared)
	_bp0=$(bench_ctr to_private) _bn0=$(bench_ctr pages) _bt0=$(uptime_s)
}
bench_delta() {
	echo "calls=$(($(bench_ctr calls) - _bc0)) to_shared=$(($(bench_ctr to_shared) - _bs0)) to_private=$(($(bench_ctr to_private) - _bp0)) pages=$(($(bench_ctr pages) - _bn0))"
}
# bench_step NAME COMMAND...: run one workload step, attribute its conversions
bench_step() {
	_bsn=$1
	shift
	bench_begin
	_sc0=$_bc0 _ss0=$_bs0 _sp0=$_bp0 _sn0=$_bn0 _st0=$_bt0
	"$@"
	_bc0=$_sc0 _bs0=$_ss0 _bp0=$_sp0 _bn0=$_sn0
	echo "BENCH step $_bsn $(bench_delta) shared_pages=$(bench_ctr shared_pages) cc_bytes=$(bench_cc_bytes) seconds=$(awk -v a="$_st0" -v b="$(uptime_s)" 'BEGIN { printf "%.2f", b - a }')"
}

# dma_alloc_coherent + dma_free_coherent pairs, per size, 1 thread and one
# thread per CPU
bench_dma_alloc() {
	_run=/sys/kernel/debug/cvm_dma_bench/run
	if [ ! -w "$_run" ]; then
		check bench dma_alloc FAIL reason=no-cvm_dma_bench
		return 1
	fi
	_ok=0 _bad=0
	for _sz in $B_SIZES; do
		for _th in 1 $(nproc); do
			bench_begin
			if echo "$_sz $_th $B_MS" >"$_run" 2>/dev/null; then
				echo "BENCH dma_alloc $(cat "$_run") $(bench_delta)"
				_ok=$((_ok + 1))
			else
				echo "BENCH dma_alloc size=$_sz threads=$_th error=write"
				_bad=$((_bad + 1))
			fi
		done
	done
	# (v1 gave idle shared chunks back after a second, converting them in
	# the next step; a pause keeps the steps comparable with its results)
	sleep 3
	[ $_bad -eq 0 ] && check bench dma_alloc PASS runs=$_ok ||
		check bench dma_alloc FAIL runs=$_ok failed=$_bad
}

# The in-tree dma_map_benchmark (CONFIG_DMA_MAP_BENCHMARK), bound through
# driver_override to the virtio-rng PCI device of the matrix (the rng check
# has run before): streaming map/unmap of bounce buffers.
bench_dma_map() {
	_tool=$B_TOOLS/dma_map_benchmark
	[ -x "$_tool" ] || { check bench dma_map FAIL reason=no-tool; return 1; }
	_bdf=
	for _p in /sys/bus/pci/devices/*; do
		# virtio 1.0 entropy device: 1af4:1044
		if [ "$(cat "$_p/vendor")" = 0x1af4 ] && [ "$(cat "$_p/device")" = 0x1044 ]; then
			_bdf=${_p##*/}
			break
		fi
	done
	[ -n "$_bdf" ] || { check bench dma_map FAIL reason=no-virtio-rng; return 1; }
	_p=/sys/bus/pci/devices/$_bdf
	[ -e "$_p/driver" ] && echo "$_bdf" >"$_p/driver/unbind"
	echo dma_map_benchmark >"$_p/driver_override"
	echo "$_bdf" >/sys/bus/pci/drivers_probe 2>/dev/null
	case "$(readlink "$_p/driver" 2>/dev/null)" in
	*/dma_map_benchmark) ;;
	*) check bench dma_map FAIL bdf="$_bdf" reason=bind; return 1 ;;
	esac
	_ok=0 _bad=0
	for _th in 1 $(nproc); do
		for _g in 1 16; do
			bench_begin
			if _o=$("$_tool" -t "$_th" -s "$B_MAP_S" -g "$_g" -b 64 2>&1); then
				# "average map latency(us):1.2 standard deviation:0.3"
				_m=$(echo "$_o" | sed -n 's/^average map latency(us):\([0-9.]*\) standard deviation:\([0-9.]*\).*/map_us=\1 map_sd_us=\2/p')
				_u=$(echo "$_o" | sed -n 's/^average unmap latency(us):\([0-9.]*\) standard deviation:\([0-9.]*\).*/unmap_us=\1 unmap_sd_us=\2/p')
				echo "BENCH dma_map threads=$_th granule=$_g seconds=$B_MAP_S $_m $_u $(bench_delta)"
				_ok=$((_ok + 1))
			else
				echo "BENCH dma_map threads=$_th granule=$_g error=$(echo "$_o" | tail -n1 | tr ' ' _)"
				_bad=$((_bad + 1))
			fi
		done
	done
	[ $_bad -eq 0 ] && check bench dma_map PASS bdf="$_bdf" runs=$_ok ||
		check bench dma_map FAIL bdf="$_bdf" runs=$_ok failed=$_bad
}

# fio, direct I/O, psync, on virtio-blk and nvme, in the last 16 MiB of the
# disks (the I/O checks own the first 48 MiB, which the host re-reads)
bench_fio() {
	_fio=$B_TOOLS/fio
	[ -x "$_fio" ] || { check bench fio FAIL reason=no-fio; return 1; }
	_ok=0 _bad=0
	for _spec in "blk:vd*" "nvme:nvme*n1"; do
		_k=${_spec%%:*}
		_d=$(wait_block "${_spec#*:}" "$H_WAIT") || { _bad=$((_bad + 1)); continue; }
		for _job in randread:4k randwrite:4k read:1M write:1M; do
			_rw=${_job%%:*} _bs=${_job#*:}
			case $_rw in
			randread|randwrite) _jn=$_rw$_bs ;;
			read) _jn=seqread$_bs ;;
			write) _jn=seqwrite$_bs ;;
			esac
			bench_begin
			echo "HARNESS JOB dev=$_d job=$_jn"
			bench_watch "$_d" "$_jn"
			# no System V IPC in the guest kernels: libshmshim.so
			_o=$(LD_PRELOAD=$B_TOOLS/libshmshim.so \
				LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu/ceph \
				"$_fio" --name="$_jn" --filename="/dev/$_d" --direct=1 \
				--ioengine=psync --rw="$_rw" --bs="$_bs" --offset=48M --size=16M \
				--runtime="$B_FIO_S" --time_based --thread --minimal 2>&1)
			bench_unwatch
			# terse v3: 7/8 read KiB/s and IOPS, 48/49 write
			_r=$(echo "$_o" | awk -F';' '/^3;/ && NF > 50 { if ($8 > 0) print "bw_kib=" $7 " iops=" $8; else print "bw_kib=" $48 " iops=" $49 }')
			if [ -n "$_r" ]; then
				echo "BENCH fio dev=$_d kind=$_k job=$_jn seconds=$B_FIO_S $_r $(bench_delta) transient_nslabs=$(bench_transient) shared_pages=$(bench_ctr shared_pages) cc_bytes=$(bench_cc_bytes)"
				_ok=$((_ok + 1))
			else
				echo "BENCH fio dev=$_d kind=$_k job=$_jn error=no-output out=$(echo "$_o" | head -n3 | tr ' \n' '_|' | cut -c1-200)"
				_bad=$((_bad + 1))
			fi
		done
	done
	[ $_bad -eq 0 ] && check bench fio PASS runs=$_ok ||
		check bench fio FAIL runs=$_ok failed=$_bad
}

bench_modload() { load_module cvm_dma_bench; }

mode_bench_main() {
	bench_params
	_boot_calls=$(bench_ctr calls)
	echo "BENCH boot calls=$_boot_calls to_shared=$(bench_ctr to_shared) to_private=$(bench_ctr to_private) pages=$(bench_ctr pages) shared_pages=$(bench_ctr shared_pages) cc_bytes=$(bench_cc_bytes) uptime=$(uptime_s)"
	# the harness workload first, each step on its own
	bench_step io disks
	bench_step net net_check
	bench_step rng rng_check
	bench_step rebind nvme_rebind
	bench_step modload bench_modload
	bench_step dma_alloc bench_dma_alloc
	bench_step dma_map bench_dma_map
	bench_step fio bench_fio
	_c=$(bench_ctr calls)
	echo "BENCH end calls=$_c after_boot=$((_c - _boot_calls)) shared_pages=$(bench_ctr shared_pages) cc_bytes=$(bench_cc_bytes) uptime=$(uptime_s)"
}
