# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Bitmap vs genalloc carving of 2 MiB chunks (scripts/bench/carve.sh),
# sourced by workload.sh for harness.mode=carve (busybox sh, POSIX).
#
# Loads kernel/modules/cvm_carve_bench and runs each scheme
# harness.carve_reps times (default 3), alternating, for
# harness.carve_ms each (default 1000), one thread per vCPU:
#   CHECK carve IMPL-REP PASS impl=... threads=... ops_per_s=... fails=...
#         overhead_bytes_per_chunk=...

mode_carve_main() {
	_reps=$(cmdline_value harness.carve_reps 3)
	_ms=$(cmdline_value harness.carve_ms 1000)
	load_module cvm_carve_bench duration_ms="$_ms" || return
	_r=/sys/kernel/debug/cvm_carve_bench/run
	_k=1
	while [ $_k -le "$_reps" ]; do
		for _i in bitmap genalloc; do
			if echo $_i >$_r; then
				# shellcheck disable=SC2046 # name=value fields
				check carve "$_i-$_k" PASS $(cat $_r)
			else
				check carve "$_i-$_k" FAIL reason=run-failed
			fi
		done
		_k=$((_k + 1))
	done
}
