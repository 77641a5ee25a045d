# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# The harness workload, sourced by /init (busybox sh, POSIX).
#
# Parameters from /proc/cmdline (all optional):
#   harness.mode=full|boot|NAME  boot: only print the counters; NAME: the
#                            workload of /harness/mode-NAME.sh (default full)
#   harness.cycles=N         nvme unbind/bind cycles (default 10, 0 = none)
#   harness.io_mb=N          MiB written and read back per I/O check (16)
#   harness.net=1|0          the two-NIC network check (default 1)
#   harness.loglevel=N       console loglevel during the workload (5: warnings
#                            and worse reach the console, info does not)
#   harness.stats=P[,P...]   more counter files or debugfs directories to
#                            print as GUEST lines (e.g. the series' counters)
#   harness.wait=S           how long to wait for a device to appear (30)
#
# Disks (each a raw file on the host, see scripts/harness/run.sh): virtio-blk
# (vd*), virtio-scsi (sd*), nvme (nvme*n1).  Every I/O check writes its own
# region of the disk, so the host can verify every pattern in the image file
# afterwards (key=value fields disk=, offset=, bytes=, sha256=).

H_MODE=full
H_CYCLES=10
H_IO_MB=16
H_NET=1
H_LOGLEVEL=5
H_STATS=
H_WAIT=30
H_PASS=0
H_FAIL=0
H_SKIP=0

# cmdline_value NAME [DEFAULT]: the value of the kernel parameter NAME
# (NAME=VALUE; the last one wins), or DEFAULT if there is none.  The one
# parser of the command line for every workload (H_CMDLINE: another file,
# for the host-side tests).
cmdline_value() {
	_cv=${2-}
	# the words of the command line, split on purpose
	# shellcheck disable=SC2013
	for _w in $(cat "${H_CMDLINE:-/proc/cmdline}"); do
		case "$_w" in
		"$1"=*) _cv=${_w#*=} ;;
		esac
	done
	printf '%s\n' "$_cv"
}

harness_params() {
	H_MODE=$(cmdline_value harness.mode "$H_MODE")
	H_CYCLES=$(cmdline_value harness.cycles "$H_CYCLES")
	H_IO_MB=$(cmdline_value harness.io_mb "$H_IO_MB")
	H_NET=$(cmdline_value harness.net "$H_NET")
	H_LOGLEVEL=$(cmdline_value harness.loglevel "$H_LOGLEVEL")
	H_STATS=$(cmdline_value harness.stats "$H_STATS")
	H_WAIT=$(cmdline_value harness.wait "$H_WAIT")
}

uptime_s() { cut -d' ' -f1 /proc/uptime; }

# load_module NAME [PARAM=VALUE...]: insmod /harness/modules/NAME.ko (a
# test-only module of kernel/modules/, see scripts/harness/modules.sh);
# a CHECK line says whether it loaded
load_module() {
	_lm=$1
	shift
	if [ ! -f "/harness/modules/$_lm.ko" ]; then
		check module "$_lm" FAIL reason=not-in-initramfs
		return 1
	fi
	if _lm_err=$(insmod "/harness/modules/$_lm.ko" "$@" 2>&1); then
		check module "$_lm" PASS
		return 0
	fi
	check module "$_lm" FAIL "reason=$(echo "$_lm_err" | tr ' ' _ | cut -c1-80)"
	return 1
}

# check KIND SUBJECT PASS|FAIL|SKIP [key=value...]
check() {
	case "$3" in
	PASS) H_PASS=$((H_PASS + 1)) ;;
	FAIL) H_FAIL=$((H_FAIL + 1)) ;;
	*) H_SKIP=$((H_SKIP + 1)) ;;
	esac
	echo "CHECK $*"
}

note() { echo "HARNESS NOTE $*"; }

# first_block GLOB: name of the first block device matching /sys/block/GLOB
first_block() {
	for _fb in /sys/block/$1; do
		[ -e "$_fb" ] && { echo "${_fb##*/}"; return 0; }
	done
	return 1
}

# wait_block GLOB SECONDS: wait until such a device exists, has a node in
# /dev and a non-zero size; print its name
wait_block() {
	_wb_i=0
	while [ $_wb_i -lt $(($2 * 10)) ]; do
		if _wb_n=$(first_block "$1") && [ -b "/dev/$_wb_n" ] &&
		   [ "$(cat "/sys/block/$_wb_n/size" 2>/dev/null || echo 0)" -gt 0 ]; then
			echo "$_wb_n"
			return 0
		fi
		usleep 100000
		_wb_i=$((_wb_i + 1))
	done
	return 1
}

# io_check SUBJECT DEV DISK OFFSET_MB BS: write H_IO_MB MiB of random data
# at OFFSET_MB with O_DIRECT in blocks of BS, read it back with O_DIRECT in
# 64 KiB blocks, compare SHA-256.  Prints one CHECK line.
io_check() {
	_s=$1 _d=$2 _k=$3 _o=$4 _bs=$5
	_bytes=$((H_IO_MB * 1048576))
	_pat=/tmp/pat.$_s
	_f="disk=$_k dev=$_d offset=$((_o * 1048576)) bytes=$_bytes"
	if ! dd if=/dev/urandom of="$_pat" bs=1M count="$H_IO_MB" 2>/dev/null; then
		check io "$_s" FAIL "$_f" reason=urandom
		return 1
	fi
	_want=$(sha256sum <"$_pat")
	_want=${_want%% *}
	if ! dd if="$_pat" of="/dev/$_d" bs="$_bs" seek=$((_o * 1048576)) \
		oflag=direct,seek_bytes conv=notrunc,fsync 2>/tmp/dd."$_s".err; then
		check io "$_s" FAIL "$_f" reason=write "($(tail -n1 /tmp/dd."$_s".err))"
		rm -f "$_pat"
		return 1
	fi
	rm -f "$_pat"
	_got=$(dd if="/dev/$_d" bs=64k skip=$((_o * 16)) count=$((H_IO_MB * 16)) \
		iflag=direct 2>/tmp/dd."$_s".err | sha256sum)
	_got=${_got%% *}
	if [ "$_want" = "$_got" ]; then
		check io "$_s" PASS "$_f" sha256="$_want"
	else
		check io "$_s" FAIL "$_f" sha256="$_want" got="$_got"
		return 1
	fi
}

# Parallel writes on all disks at once (large O_DIRECT requests): with a
# small swiotlb= this exhausts the bounce pool and forces dynamic growth.
io_parallel() {
	_pids=
	for _e in $H_DISKS; do
		_k=${_e%%:*} _d=${_e#*:}
		io_check "$_d-parallel" "$_d" "$_k" 16 4M >/tmp/par."$_d" 2>&1 &
		_pids="$_pids $!"
	done
	for _p in $_pids; do wait "$_p"; done
	for _e in $H_DISKS; do
		_d=${_e#*:}
		cat /tmp/par."$_d"
		grep -q '^CHECK io .* PASS' /tmp/par."$_d" && H_PASS=$((H_PASS + 1)) ||
			H_FAIL=$((H_FAIL + 1))
	done
}

disks() {
	H_DISKS=
	for _spec in "blk:vd*" "scsi:sd*" "nvme:nvme*n1"; do
		_k=${_spec%%:*}
		if _d=$(wait_block "${_spec#*:}" "$H_WAIT"); then
			H_DISKS="$H_DISKS $_k:$_d"
		else
			check io "$_k" FAIL disk="$_k" reason=no-device
		fi
	done
	for _e in $H_DISKS; do
		io_check "${_e#*:}" "${_e#*:}" "${_e%%:*}" 0 1M
	done
	[ -n "$H_DISKS" ] && io_parallel
}

nvme_rebind() {
	_nr_drv=/sys/bus/pci/drivers/nvme
	if [ "$H_CYCLES" -eq 0 ]; then
		check rebind nvme SKIP cycles=0
		return 0
	fi
	_nr_bdf=
	for _nr_x in "$_nr_drv"/0000:*; do [ -e "$_nr_x" ] && { _nr_bdf=${_nr_x##*/}; break; }; done
	if [ -z "$_nr_bdf" ]; then
		check rebind nvme FAIL reason=no-nvme-bound
		return 1
	fi
	_nr_t0=$(uptime_s)
	_nr_i=0
	_nr_why=
	while [ $_nr_i -lt "$H_CYCLES" ]; do
		echo "$_nr_bdf" >"$_nr_drv/unbind" 2>/dev/null || { _nr_why=unbind; break; }
		echo "$_nr_bdf" >"$_nr_drv/bind" 2>/dev/null || { _nr_why=bind; break; }
		wait_block 'nvme*n1' "$H_WAIT" >/dev/null || { _nr_why=no-namespace; break; }
		_nr_i=$((_nr_i + 1))
	done
	_nr_t1=$(uptime_s)
	if [ $_nr_i -eq "$H_CYCLES" ]; then
		check rebind nvme PASS cycles="$_nr_i" bdf="$_nr_bdf" t0="$_nr_t0" t1="$_nr_t1"
	else
		check rebind nvme FAIL cycles="$_nr_i" of="$H_CYCLES" bdf="$_nr_bdf" reason="$_nr_why"
		return 1
	fi
	if _nr_d=$(wait_block 'nvme*n1' "$H_WAIT"); then
		io_check "$_nr_d-after-rebind" "$_nr_d" nvme 32 1M
	else
		check io nvme-after-rebind FAIL disk=nvme reason=no-device
	fi
}

rng_check() {
	_cur=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
	if [ ! -c /dev/hwrng ]; then
		check rng hwrng FAIL reason=no-/dev/hwrng current="$_cur"
		return 1
	fi
	_n=$(timeout 20 head -c 4096 /dev/hwrng 2>/dev/null | wc -c)
	case "$_cur" in
	virtio_rng*) ;;
	*) check rng hwrng FAIL current="$_cur" bytes="$_n" reason=not-virtio; return 1 ;;
	esac
	if [ "$_n" -eq 4096 ]; then
		check rng hwrng PASS current="$_cur" bytes="$_n"
	else
		check rng hwrng FAIL current="$_cur" bytes="$_n"
	fi
}

# The virtio NICs, in PCI order.
virtio_nics() {
	for _n in /sys/class/net/*; do
		case "$(readlink "$_n/device/driver" 2>/dev/null)" in
		*/virtio_net) echo "${_n##*/}" ;;
		esac
	done
}

wait_carrier() {
	_wc_i=0
	while [ $_wc_i -lt 50 ]; do
		[ "$(cat "/sys/class/net/$1/carrier" 2>/dev/null)" = 1 ] && return 0
		usleep 100000
		_wc_i=$((_wc_i + 1))
	done
	return 1
}

# Two virtio NICs on one QEMU hub, no host backend.  The second NIC moves to
# its own network namespace, so that traffic between the two addresses
# really crosses the hub instead of the loopback device: ping (small and
# large frames), then a data-checked TCP transfer with nc.
net_check() {
	[ "$H_NET" = 1 ] || { check net hub SKIP reason=disabled; return 0; }
	# one word per NIC: split on purpose
	# shellcheck disable=SC2046
	set -- $(virtio_nics)
	if [ $# -lt 2 ]; then
		check net hub FAIL nics=$# reason=need-two-virtio-nics
		return 1
	fi
	_a=$1 _b=$2
	ip link set "$_a" up && ip link set "$_b" up
	if ! wait_carrier "$_a" || ! wait_carrier "$_b"; then
		check net hub FAIL a="$_a" b="$_b" reason=no-carrier
		return 1
	fi
	unshare -n sleep 600 &
	_ns=$!
	usleep 200000
	_x() { nsenter -t "$_ns" -n "$@"; }
	if ! ip link set "$_b" netns "$_ns" 2>/tmp/net.err; then
		kill "$_ns" 2>/dev/null
		check net hub FAIL a="$_a" b="$_b" reason=netns "($(cat /tmp/net.err))"
		return 1
	fi
	_x ip link set lo up
	_x ip addr add 10.203.0.2/24 dev "$_b"
	_x ip link set "$_b" up
	ip addr add 10.203.0.1/24 dev "$_a"
	_why=
	timeout 30 ping -q -c 3 -W 5 10.203.0.2 >/tmp/net.ping 2>&1 || _why=ping
	[ -z "$_why" ] && { timeout 60 ping -q -A -c 200 -s 1400 -W 5 10.203.0.2 \
		>>/tmp/net.ping 2>&1 || _why=ping-large; }
	_sum=-
	if [ -z "$_why" ]; then
		dd if=/dev/urandom of=/tmp/net.pat bs=64k count=64 2>/dev/null
		_want=$(sha256sum </tmp/net.pat)
		_want=${_want%% *}
		rm -f /tmp/net.recv /tmp/net.in
		# the listener's stdin must not reach EOF: busybox nc would
		# half-close and the sender would stop after its first buffer
		mkfifo /tmp/net.in
		exec 9<>/tmp/net.in
		_x timeout 60 nc -l -p 7777 </tmp/net.in >/tmp/net.recv 2>/dev/null &
		_l=$!
		_j=0
		while [ $_j -lt 50 ]; do
			_x netstat -ltn 2>/dev/null | grep -q ':7777 ' && break
			usleep 100000
			_j=$((_j + 1))
		done
		timeout 60 nc 10.203.0.2 7777 </tmp/net.pat >/dev/null 2>&1
		wait "$_l"
		exec 9>&-
		rm -f /tmp/net.in
		_sum=$(sha256sum </tmp/net.recv)
		_sum=${_sum%% *}
		[ "$_sum" = "$_want" ] || _why=tcp-data
		rm -f /tmp/net.pat /tmp/net.recv
	fi
	_rx=$(_x cat /proc/net/dev 2>/dev/null | awk -v d="$_b:" '$1 == d { print $3 }')
	_loss=$(grep -o '[0-9]*% packet loss' /tmp/net.ping | tr '\n' ' ')
	# back to our namespace: destroying the namespace returns the NIC
	kill "$_ns" 2>/dev/null
	wait "$_ns" 2>/dev/null
	if [ -z "$_why" ]; then
		check net hub PASS a="$_a" b="$_b" tcp_bytes=4194304 sha256="$_sum" rx_packets_b="$_rx"
	else
		check net hub FAIL a="$_a" b="$_b" reason="$_why" loss="'$_loss'" rx_packets_b="$_rx"
		return 1
	fi
}

# PCI devices and their drivers (informational).
list_devices() {
	for _p in /sys/bus/pci/devices/*; do
		_drv=$(readlink "$_p/driver" 2>/dev/null)
		echo "HARNESS DEVICE ${_p##*/} $(cat "$_p/vendor"):$(cat "$_p/device") driver=${_drv##*/}"
	done
}

# print_counter_file FILE PREFIX: "name value" lines -> GUEST PREFIXname value;
# a file with a single value -> GUEST PREFIX<file name> value
print_counter_file() {
	_lines=$(wc -l <"$1" 2>/dev/null || echo 0)
	_first=$(head -n1 "$1" 2>/dev/null)
	# split on purpose: a first line of one word gives $# = 3
	# shellcheck disable=SC2086
	set -- "$1" "$2" $_first
	if [ "$_lines" -le 1 ] && [ $# -eq 3 ]; then
		echo "GUEST $2${1##*/} $3"
		return
	fi
	while read -r _n _v _rest; do
		[ -n "$_n" ] && [ -n "$_v" ] && echo "GUEST $2$_n $_v"
	done <"$1"
}

print_counters() {
	_c=/sys/kernel/debug/cvm_emulate
	echo "HARNESS COUNTERS BEGIN"
	if [ -r "$_c/stats" ]; then
		print_counter_file "$_c/stats" ""
	elif [ -d "$_c" ]; then
		for _f in "$_c"/*; do [ -f "$_f" ] && print_counter_file "$_f" ""; done
	fi
	for _f in /sys/kernel/debug/swiotlb/*; do
		[ -f "$_f" ] && print_counter_file "$_f" swiotlb.
	done
	for _p in $(echo "$H_STATS" | tr ',' ' '); do
		if [ -d "$_p" ]; then
			for _f in "$_p"/*; do
				[ -f "$_f" ] && print_counter_file "$_f" "${_p##*/}."
			done
		elif [ -r "$_p" ]; then
			print_counter_file "$_p" ""
		else
			note "stats source $_p missing"
		fi
	done
	echo "HARNESS COUNTERS END"
	# Tell the host where the counters were taken, in the conversion log
	# itself, if the emulated CVM offers a way (conversions after this
	# point, e.g. at poweroff, are then left out of the cross-check).
	if [ -w "$_c/mark" ]; then
		echo "harness: counters snapshot" >"$_c/mark" 2>/dev/null
	fi
}

harness_main() {
	harness_params
	_kmsg0=$(dmesg | wc -l)
	dmesg -n "$H_LOGLEVEL" 2>/dev/null
	echo "HARNESS START uptime=$(uptime_s) id=$(cat /etc/harness-id 2>/dev/null) kernel=$(uname -r) mode=$H_MODE cycles=$H_CYCLES cpus=$(nproc)"
	case "$H_MODE" in
	boot) ;;
	full)
		disks
		net_check
		rng_check
		nvme_rebind
		;;
	*)
		# more workloads: /harness/mode-NAME.sh defines mode_NAME_main
		if [ -r "/harness/mode-$H_MODE.sh" ]; then
			# shellcheck source=/dev/null # one of mode-*.sh, checked on its own
			. "/harness/mode-$H_MODE.sh"
			"mode_${H_MODE}_main"
		else
			check mode "$H_MODE" FAIL reason=no-/harness/mode-"$H_MODE".sh
		fi
		;;
	esac
	list_devices
	sync
	print_counters
	echo "HARNESS RESULT pass=$H_PASS fail=$H_FAIL skip=$H_SKIP uptime=$(uptime_s)"
	# kernel messages of the workload, whatever the console loglevel was
	dmesg | tail -n +$((_kmsg0 + 1)) | sed 's/^/KMSG /'
	echo "HARNESS DONE"
}
