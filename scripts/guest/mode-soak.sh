# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest side of make soak (--mode soak, scripts/bench/soak.sh): the fio jobs
# of make bench, harness.soak_rounds=N times (default 1), nothing else, so
# that a boot is short and a hang inside fio is what the run is about.
# Parameters as mode-bench.sh (harness.bench_fio_s=, harness.stall_s=).
# Prints "BENCH boot ...", the "BENCH fio ..." lines of each round
# ("BENCH round N" before it) and "BENCH end ...".

# shellcheck source=mode-bench.sh
. /harness/mode-bench.sh

mode_soak_main() {
	bench_params
	_rounds=$(cmdline_value harness.soak_rounds 1)
	_boot_calls=$(bench_ctr calls)
	echo "BENCH boot calls=$_boot_calls shared_pages=$(bench_ctr shared_pages) cc_bytes=$(bench_cc_bytes) uptime=$(uptime_s)"
	_i=1
	while [ "$_i" -le "$_rounds" ]; do
		echo "BENCH round $_i"
		bench_fio
		_i=$((_i + 1))
	done
	_c=$(bench_ctr calls)
	echo "BENCH end calls=$_c after_boot=$((_c - _boot_calls)) shared_pages=$(bench_ctr shared_pages) cc_bytes=$(bench_cc_bytes) uptime=$(uptime_s)"
}
