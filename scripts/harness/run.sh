#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot a guest kernel in QEMU with the harness device matrix, run the guest
# workload, then analyse the conversion log and cross-check it against the
# guest's own counters.
#
# usage: scripts/harness/run.sh [options]
#
#   --variant NAME      kernel build/kbuild/NAME/arch/x86/boot/bzImage and
#                       label of the run (default baseline)
#   --kernel PATH       boot this bzImage instead
#   --label NAME        name of the run in reports (default: the variant,
#                       plus "-swiotlb" with --swiotlb, "-nocvm" with --cvm off)
#   --out DIR           output directory (default results/runs/LABEL)
#   --cycles N          nvme unbind/bind cycles in the guest (default 10)
#   --swiotlb ARG       add swiotlb=ARG (e.g. 1024 = 1024 slabs of 2 KiB =
#                       2 MiB boot pool): small pools force dynamic growth
#   --smp N             vCPUs (default 2)
#   --mem SIZE          guest RAM, QEMU syntax (default 2G)
#   --cvm on|off        emulated CVM (cvm_emulate=on) or a plain VM (default on)
#   --mode M            guest workload: full (default), boot (counters only)
#                       or NAME (scripts/guest/mode-NAME.sh)
#   --io-mb N           MiB per I/O check (default 16)
#   --extra-append STR  more kernel parameters
#   --timeout S         kill QEMU after S seconds (default 420)
#   --stall S           if the guest has printed no progress line (CHECK,
#                       HARNESS or BENCH, not HARNESS STALL) for S seconds
#                       after the workload started (kernel messages, such as
#                       the detectors' reports, do not count), collect the
#                       guest's state from
#                       QEMU (scripts/harness/stall.py: virtio queues, block
#                       I/O counters, vCPU registers, the last conversion
#                       records, the device of the last "HARNESS JOB") into
#                       stall.txt/stall.json and kill QEMU (default 0: off)
#   --detectors         enable the guests' soft/hard lockup detectors
#                       (watchdog_thresh=30) and report tasks blocked for
#                       60 s (hung task); without it: nowatchdog, and the
#                       kernel's default of 120 s for blocked tasks
#   --initrd-extra F    append the initramfs archive F (e.g. fio and its
#                       libraries for make bench; the default one stays small)
#   --platform P        tcg (default): the emulated CVM + conversion log,
#                       under --accel; tdx | snp: a real confidential guest
#                       under KVM (UNTESTED on hardware, see
#                       Documentation/harness.md)
#   --accel A           auto (default): KVM if /dev/kvm runs a guest (a
#                       probe under a timeout, kept per host boot in
#                       build/accel-probe), else TCG; kvm; tcg.  For
#                       --platform tcg (tdx and snp always use KVM)
#   --shell             boot the guest with an interactive shell on this
#                       terminal (harness.mode=shell; no timeout, no
#                       analysis); 'exit' powers it off.  Ctrl-A x quits QEMU
#   --exec CMD          run CMD in the guest (sh -c, after the harness set it
#                       up), print its output, exit with its status (no
#                       analysis; --timeout applies)
#   --config FILE       the .config of --kernel, to check it has what the
#                       harness needs (default: .config of the kernel's
#                       build directory, if there is one)
#   --bios PATH         firmware for tdx/snp (default /usr/share/ovmf/OVMF.fd)
#   --cpu MODEL         -cpu for tdx/snp (default host for tdx, EPYC-v4 for snp)
#   --qemu PATH         QEMU binary (default qemu-system-x86_64)
#   --print-cmdline     print the QEMU command line and exit (nothing runs)
#   -h, --help          this text
#
# Outputs in DIR: console.log, conv.log (conversion records, tcg only),
# convstat.json, map.txt, guest.json, summary.json, qemu.log, dmesg.txt,
# disk-{blk,scsi,nvme}.img, stall.txt and stall.json after a stall.  QEMU's
# QMP socket is DIR/qmp.sock while the guest runs (in /tmp if that path is
# too long for a socket; qemu-cmdline.txt names it).  Exit status 0 only if
# the guest ran to its end, every check passed and the analyzer agrees with
# the guest counters.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

VARIANT=baseline
KERNEL=
LABEL=
OUT=
CYCLES=10
SWIOTLB=
SMP=2
MEM=2G
CVM=on
MODE=full
IO_MB=16
EXTRA=
TIMEOUT=420
STALL=0
DETECTORS=0
INITRD_EXTRA=
PLATFORM=tcg
ACCEL=auto
SHELL_MODE=0
EXEC=
KCONFIG=
BIOS=/usr/share/ovmf/OVMF.fd
CPU=
QEMU=${QEMU:-qemu-system-x86_64}
PRINT=0
# the emulated CVM's boot parameter (kernel/patches/)
CVM_PARAM=${CVM_PARAM:-cvm_emulate=on}
DISK_MB=64

while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	--variant) need_arg "$@"; VARIANT=$2; shift ;;
	--kernel) need_arg "$@"; KERNEL=$2; shift ;;
	--label) need_arg "$@"; LABEL=$2; shift ;;
	--out) need_arg "$@"; OUT=$2; shift ;;
	--cycles) need_arg "$@"; CYCLES=$2; shift ;;
	--swiotlb) need_arg "$@"; SWIOTLB=$2; shift ;;
	--smp) need_arg "$@"; SMP=$2; shift ;;
	--mem) need_arg "$@"; MEM=$2; shift ;;
	--cvm) need_arg "$@"; CVM=$2; shift ;;
	--mode) need_arg "$@"; MODE=$2; shift ;;
	--io-mb) need_arg "$@"; IO_MB=$2; shift ;;
	--extra-append) need_arg "$@"; EXTRA=$2; shift ;;
	--timeout) need_arg "$@"; TIMEOUT=$2; shift ;;
	--stall) need_arg "$@"; STALL=$2; shift ;;
	--detectors) DETECTORS=1 ;;
	--initrd-extra) need_arg "$@"; INITRD_EXTRA=$2; shift ;;
	--platform) need_arg "$@"; PLATFORM=$2; shift ;;
	--accel) need_arg "$@"; ACCEL=$2; shift ;;
	--shell) SHELL_MODE=1; MODE=shell ;;
	--exec) need_arg "$@"; EXEC=$2; MODE="exec"; shift ;;
	--config) need_arg "$@"; KCONFIG=$2; shift ;;
	--bios) need_arg "$@"; BIOS=$2; shift ;;
	--cpu) need_arg "$@"; CPU=$2; shift ;;
	--qemu) need_arg "$@"; QEMU=$2; shift ;;
	--print-cmdline) PRINT=1 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift
done

is_uint() { case "$1" in ''|*[!0-9]*) return 1 ;; esac; }
is_uint "$CYCLES" || die "--cycles: not a number: '$CYCLES'"
is_uint "$SMP" && [ "$SMP" -ge 1 ] || die "--smp: not a positive number: '$SMP'"
is_uint "$TIMEOUT" && [ "$TIMEOUT" -ge 1 ] || die "--timeout: not a positive number: '$TIMEOUT'"
is_uint "$STALL" || die "--stall: not a number of seconds: '$STALL'"
is_uint "$IO_MB" && [ "$IO_MB" -ge 1 ] && [ "$IO_MB" -le 16 ] || die "--io-mb: 1..16 (the disks are ${DISK_MB} MiB)"
case "$MEM" in *[!0-9KMGTkmgt]*|'') die "--mem: QEMU size expected (e.g. 2G, 1536M): '$MEM'" ;; esac
case "$CVM" in on|off) ;; *) die "--cvm: on or off, not '$CVM'" ;; esac
case "$MODE" in
full|boot) ;;
*)
	[[ "$MODE" =~ ^[a-z0-9_]+$ ]] && [ -f "$ROOT/scripts/guest/mode-$MODE.sh" ] ||
		die "--mode: full, boot or NAME of scripts/guest/mode-NAME.sh, not '$MODE'"
	;;
esac
case "$PLATFORM" in tcg|tdx|snp) ;; *) die "--platform: tcg, tdx or snp, not '$PLATFORM'" ;; esac
case "$ACCEL" in auto|kvm|tcg) ;; *) die "--accel: auto, kvm or tcg, not '$ACCEL'" ;; esac
[ "$PLATFORM" = tcg ] || [ "$ACCEL" != tcg ] || die "--platform $PLATFORM runs under KVM only, not --accel tcg"
[ $SHELL_MODE -eq 0 ] || [ -z "$EXEC" ] || die "--shell and --exec: one or the other"
case "$VARIANT" in ''|*[!A-Za-z0-9._-]*) die "--variant: letters, digits, . _ - only: '$VARIANT'" ;; esac

if [ -z "$LABEL" ]; then
	LABEL=$VARIANT
	[ -n "$SWIOTLB" ] && LABEL=$LABEL-swiotlb
	[ "$CVM" = off ] && LABEL=$LABEL-nocvm
	[ "$PLATFORM" != tcg ] && LABEL=$LABEL-$PLATFORM
fi
OUT=${OUT:-$RESULTS/runs/$LABEL}
KERNEL=${KERNEL:-$KBUILD/$VARIANT/arch/x86/boot/bzImage}
INITRD=${INITRD:-$BUILD/initramfs.cpio.gz}
CONVSTAT=${CONVSTAT:-$BIN/convstat}
case "$OUT" in /*) OUT_ABS=$OUT ;; *) OUT_ABS=$PWD/$OUT ;; esac

# ---- the kernel command line -------------------------------------------
APPEND="console=ttyS0 panic=-1 oops=panic rdinit=/init"
if [ "$PLATFORM" = tcg ] && [ "$CVM" = on ]; then
	APPEND+=" $CVM_PARAM"
fi
APPEND+=" harness.mode=$MODE harness.cycles=$CYCLES harness.io_mb=$IO_MB"
if [ $DETECTORS -eq 1 ]; then
	APPEND+=" watchdog_thresh=30 sysctl.kernel.hung_task_timeout_secs=60"
else
	APPEND+=" nowatchdog"
fi
# base64: spaces, quotes and '=' survive the kernel command line
[ -n "$EXEC" ] && APPEND+=" harness.exec=$(printf '%s' "$EXEC" | base64 -w0)"
[ -n "$SWIOTLB" ] && APPEND+=" swiotlb=$SWIOTLB"
[ -n "$EXTRA" ] && APPEND+=" $EXTRA"

# ---- the QEMU command line -----------------------------------------------
VIRTIO_OPTS="iommu_platform=on,disable-legacy=on"
Q=("$QEMU" -name "cvm-harness-$LABEL" -nodefaults -nographic -no-reboot
   -monitor none -smp "$SMP")
case $PLATFORM in
tcg)
	# --print-cmdline must not boot a probe guest: auto prints as tcg
	if [ $PRINT -eq 1 ] && [ "$ACCEL" = auto ]; then
		ACCEL_USED=tcg
	else
		ACCEL_USED=$(qemu_accel "$ACCEL" "$([ -f "$KERNEL" ] && echo "$KERNEL")") || exit 1
	fi
	Q+=(-accel "$ACCEL_USED" -cpu max -machine q35 -m "$MEM")
	;;
tdx)
	Q+=(-accel kvm -cpu "${CPU:-host}"
	    -object tdx-guest,id=tdx0
	    -machine q35,kernel-irqchip=split,hpet=off,confidential-guest-support=tdx0
	    -m "$MEM" -bios "$BIOS")
	;;
snp)
	Q+=(-accel kvm -cpu "${CPU:-EPYC-v4}"
	    -object "memory-backend-memfd,id=ram0,size=$MEM,share=true,prealloc=false"
	    -object sev-snp-guest,id=sev0,cbitpos=51,reduced-phys-bits=1
	    -machine q35,vmport=off,confidential-guest-support=sev0,memory-backend=ram0
	    -m "$MEM" -bios "$BIOS")
	;;
esac
SERIAL="file:$OUT_ABS/console.log"
[ $SHELL_MODE -eq 1 ] && SERIAL=mon:stdio
# QMP, for the stall collector (and for anyone debugging a live guest)
QMP_SOCK=$OUT_ABS/qmp.sock
# a UNIX socket path has at most 107 bytes: a deep run directory gets one
# in /tmp
[ ${#QMP_SOCK} -le 100 ] || QMP_SOCK=$(mktemp -u /tmp/cvm-qmp.XXXXXX.sock)
Q+=(-qmp "unix:$QMP_SOCK,server=on,wait=off")
Q+=(-kernel "$KERNEL" -initrd "$OUT_ABS/initrd.cpio.gz" -append "$APPEND"
    -serial "$SERIAL"
    # virtio-blk
    -drive "file=$OUT_ABS/disk-blk.img,format=raw,if=none,id=dblk"
    -device "virtio-blk-pci,drive=dblk,serial=cvm-blk,$VIRTIO_OPTS"
    # virtio-scsi + one disk
    -device "virtio-scsi-pci,id=scsi0,$VIRTIO_OPTS"
    -drive "file=$OUT_ABS/disk-scsi.img,format=raw,if=none,id=dscsi"
    -device scsi-hd,drive=dscsi,bus=scsi0.0,serial=cvm-scsi
    # nvme
    -drive "file=$OUT_ABS/disk-nvme.img,format=raw,if=none,id=dnvme"
    -device nvme,serial=cvm-nvme0,drive=dnvme
    # two NICs on one QEMU hub: guest-internal traffic, no host backend
    -netdev hubport,id=n0,hubid=0 -netdev hubport,id=n1,hubid=0
    -device "virtio-net-pci,netdev=n0,mac=52:54:00:c0:00:01,$VIRTIO_OPTS"
    -device "virtio-net-pci,netdev=n1,mac=52:54:00:c0:00:02,$VIRTIO_OPTS"
    # entropy
    -device "virtio-rng-pci,$VIRTIO_OPTS")
if [ "$PLATFORM" = tcg ]; then
	# the emulated CVM's "hypercall" log (Documentation/conversion-log.md)
	Q+=(-chardev "file,id=cvmlog,path=$OUT_ABS/conv.log"
	    -device isa-debugcon,iobase=0x403,chardev=cvmlog)
fi

# shell-quote only where needed, so the printed line stays readable
shquote() {
	local a out=
	for a in "$@"; do
		case "$a" in
		*[!A-Za-z0-9_./:=,@+%-]*|'') a="'${a//\'/\'\\\'\'}'" ;;
		esac
		out+="${out:+ }$a"
	done
	printf '%s\n' "$out"
}

if [ $PRINT -eq 1 ]; then
	shquote "${Q[@]}"
	exit 0
fi

# ---- preconditions, all checked before anything boots ----------------------
need_cmd "$QEMU" qemu-system-x86
need_cmd python3 python3
[ -f "$KERNEL" ] || die "no kernel $KERNEL: build it first ('scripts/build-kernel.sh $VARIANT') or pass --kernel"
if [ "$PLATFORM" = tcg ]; then
	[ -x "$CONVSTAT" ] || die "the analyzer $CONVSTAT is missing: run 'make convstat' (or set CONVSTAT=)"
else
	[ -e /dev/kvm ] || die "--platform $PLATFORM needs KVM (/dev/kvm) on a TDX/SNP host"
	[ -f "$BIOS" ] || die "--platform $PLATFORM needs firmware: --bios PATH (OVMF with $PLATFORM support)"
fi
[ -z "$INITRD_EXTRA" ] || [ -f "$INITRD_EXTRA" ] || die "--initrd-extra: no file '$INITRD_EXTRA'"

# What the harness needs of a kernel (=y): SYMBOL:why
NEED_CONFIG=(BLK_DEV_INITRD:initramfs RD_GZIP:initramfs DEVTMPFS:/dev
	PROC_FS:/proc SYSFS:/sys TMPFS:/tmp DEBUG_FS:"the guest counters"
	BINFMT_SCRIPT:"/init is a script" SERIAL_8250_CONSOLE:console=ttyS0
	PCI:"the device matrix" VIRTIO_PCI:"the device matrix"
	VIRTIO_BLK:virtio-blk SCSI_VIRTIO:virtio-scsi BLK_DEV_SD:virtio-scsi
	BLK_DEV_NVME:nvme VIRTIO_NET:virtio-net HW_RANDOM_VIRTIO:virtio-rng)
[ "$PLATFORM" = tcg ] && [ "$CVM" = on ] &&
	NEED_CONFIG+=(CVM_EMULATE:"the emulated CVM (kernel/patches), --cvm on")
[ "$MODE" = bench ] && NEED_CONFIG+=(DMA_MAP_BENCHMARK:"--mode bench")
if [ -n "$KCONFIG" ]; then
	[ -f "$KCONFIG" ] || die "--config: no file '$KCONFIG'"
elif [ -f "$(dirname "$KERNEL")/../../../.config" ]; then
	KCONFIG=$(dirname "$KERNEL")/../../../.config
fi
if [ -n "$KCONFIG" ]; then
	missing=()
	for n in "${NEED_CONFIG[@]}"; do
		grep -qx "CONFIG_${n%%:*}=y" "$KCONFIG" || missing+=("CONFIG_${n%%:*}=y (${n#*:})")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		printf '  %s\n' "${missing[@]}" >&2
		die "the kernel's config ($KCONFIG) lacks what the harness needs (above): add it, e.g. with scripts/kconfig/merge_config.sh and configs/guest.config"
	fi
else
	warn "run: no .config for $KERNEL (not in a build directory): its config is not checked; pass --config FILE"
fi
"$ROOT/scripts/harness/mkinitramfs.sh" --out "$INITRD"
# The test-only guest modules (kernel/modules/), built for this kernel
# when it comes from a build directory, go after the initramfs.
KBDIR=$(cd "$(dirname "$KERNEL")/../../.." && pwd)
MODCPIO=
if ls "${MODSRC:-$ROOT/kernel/modules}"/*/Kbuild >/dev/null 2>&1; then
	if [ -f "$KBDIR/Makefile" ] && [ -f "$KBDIR/.config" ]; then
		MODCPIO=$KBDIR/harness-modules.cpio.gz
		"$ROOT/scripts/harness/modules.sh" --out "$MODCPIO" "$KBDIR"
	else
		warn "run: $KERNEL has no build directory: booting without the guest modules"
	fi
fi

mkdir -p "$OUT_ABS"
OUT=$OUT_ABS
cat "$INITRD" ${MODCPIO:+"$MODCPIO"} ${INITRD_EXTRA:+"$INITRD_EXTRA"} >"$OUT/initrd.cpio.gz"
rm -f "$OUT"/{console.log,conv.log,conv.snapshot.log,convstat.json,map.txt,guest.json,summary.json,qemu.log,dmesg.txt,qemu-cmdline.txt,stall.txt,stall.json,qmp.sock}
for d in blk scsi nvme; do
	rm -f "$OUT/disk-$d.img"
	truncate -s "${DISK_MB}M" "$OUT/disk-$d.img"
done
: >"$OUT/console.log"
[ "$PLATFORM" = tcg ] && : >"$OUT/conv.log"
shquote "${Q[@]}" >"$OUT/qemu-cmdline.txt"

# ---- run ------------------------------------------------------------------
if [ $SHELL_MODE -eq 1 ]; then
	log "run $LABEL: $(basename "$KERNEL") ($PLATFORM, accel=$ACCEL_USED, cvm=$CVM, ${SMP} vCPU, $MEM): interactive shell; 'exit' powers off, Ctrl-A x quits QEMU"
	set +e
	"${Q[@]}"
	qrc=$?
	set -e
	log "run $LABEL: QEMU exited (rc=$qrc); conversion log ${OUT#"$ROOT"/}/conv.log"
	exit $qrc
fi
log "run $LABEL: $(basename "$KERNEL") ($PLATFORM, accel=${ACCEL_USED:-kvm}, cvm=$CVM, ${SMP} vCPU, $MEM, cycles=$CYCLES${SWIOTLB:+, swiotlb=$SWIOTLB}) -> ${OUT#"$ROOT"/}"
EVERY=${HARNESS_PROGRESS_EVERY:-10}
t0=$(date +%s.%N)
"${Q[@]}" </dev/null >"$OUT/qemu.log" 2>&1 &
QPID=$!
trap 'kill "$QPID" 2>/dev/null || true' EXIT
# stall_collect: the guest made no progress for STALL s: QEMU's view of it
# (scripts/harness/stall.py), then QEMU is killed
stall_collect() {
	stalled=1
	warn "run $LABEL: STALL: no progress line for ${STALL}s; collecting the guest's state"
	local sargs=(--qmp "$QMP_SOCK" --out "$OUT" --console "$OUT/console.log")
	[ "$PLATFORM" = tcg ] && sargs+=(--conv "$OUT/conv.log")
	python3 "$ROOT/scripts/harness/stall.py" "${sargs[@]}" 2>&1 | sed "s/^/  /" >&2 || true
	stall_device=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("device") or "")' \
		"$OUT/stall.json" 2>/dev/null || true)
	kill "$QPID" 2>/dev/null || true
	sleep 1
	kill -9 "$QPID" 2>/dev/null || true
}
start_s=
done_s=
timed_out=0
stalled=0
stall_device=
last_progress=$SECONDS
prog_n=0
prog_changed=$SECONDS
while kill -0 "$QPID" 2>/dev/null; do
	sleep 0.5
	el=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	if [ -z "$start_s" ] && grep -q 'HARNESS START' "$OUT/console.log"; then
		start_s=$el
		log "run $LABEL: workload started after ${el}s"
	fi
	if [ -z "$done_s" ] && grep -q 'HARNESS DONE' "$OUT/console.log"; then
		done_s=$el
	fi
	# a stall: the workload started, and no progress line since STALL s
	if [ "$STALL" -gt 0 ] && [ -n "$start_s" ] && [ -z "$done_s" ]; then
		n=$(grep -a -E '^(CHECK|HARNESS|BENCH) ' "$OUT/console.log" | grep -c -v '^HARNESS STALL' || true)
		if [ "$n" != "$prog_n" ]; then
			prog_n=$n
			prog_changed=$SECONDS
		elif [ $((SECONDS - prog_changed)) -ge "$STALL" ]; then
			stall_collect
			break
		fi
	fi
	if [ "${el%.*}" -ge "$TIMEOUT" ]; then
		timed_out=1
		kill "$QPID" 2>/dev/null || true
		sleep 1
		kill -9 "$QPID" 2>/dev/null || true
		break
	fi
	# HARNESS DONE seen but QEMU still up after 20 s: poweroff hung
	if [ -n "$done_s" ] && awk -v a="$el" -v b="$done_s" 'BEGIN { exit !(a - b > 20) }'; then
		warn "run $LABEL: guest printed HARNESS DONE but did not power off; killing QEMU"
		kill "$QPID" 2>/dev/null || true
		break
	fi
	if [ $((SECONDS - last_progress)) -ge "$EVERY" ]; then
		last_progress=$SECONDS
		st=$(grep -a -E '^(CHECK|HARNESS) ' "$OUT/console.log" | grep -v '^HARNESS DEVICE' | tail -n1 | tr -d '\r' | cut -c1-90 || true)
		[ -n "$st" ] || st=$(tail -n1 "$OUT/console.log" | tr -d '\r' | cut -c1-90)
		nrec=-
		[ -f "$OUT/conv.log" ] && nrec=$(grep -c '^[SPsp] ' "$OUT/conv.log" || true)
		log "run $LABEL: ${el}s, ${nrec} conversion records, $st"
	fi
done
qrc=0
wait "$QPID" 2>/dev/null || qrc=$?
trap - EXIT
rm -f "$QMP_SOCK"
t1=$(date +%s.%N)
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
[ $timed_out -eq 1 ] && warn "run $LABEL: TIMEOUT after ${TIMEOUT}s, QEMU killed"
log "run $LABEL: QEMU exited (rc=$qrc) after ${wall}s"

if [ -n "$EXEC" ]; then
	sed -n '/^EXEC BEGIN/,/^EXEC END/p' "$OUT/console.log" | tr -d '\r' | sed '1d;$d'
	erc=$(tr -d '\r' <"$OUT/console.log" | sed -n 's/^EXEC END rc=\([0-9]*\)$/\1/p' | tail -n1)
	[ -n "$erc" ] || die "run $LABEL: --exec: the command did not finish (timeout ${TIMEOUT}s?), see ${OUT#"$ROOT"/}/console.log"
	log "run $LABEL: --exec: exit status $erc (console: ${OUT#"$ROOT"/}/console.log)"
	exit "$erc"
fi

# ---- analyse --------------------------------------------------------------
base=
[ -f "$BUILD/base-version" ] && base=$(cat "$BUILD/base-version")
[ -f "$(dirname "$KERNEL")/../../../base-version" ] && base=$(cat "$(dirname "$KERNEL")/../../../base-version")
set +e
python3 "$ROOT/scripts/harness/analyze.py" "$OUT" \
	--convstat "$CONVSTAT" \
	--meta label="$LABEL" --meta variant="$VARIANT" --meta kernel="$KERNEL" \
	--meta platform="$PLATFORM" --meta cvm="$CVM" --meta mode="$MODE" \
	--meta cycles="$CYCLES" --meta swiotlb="$SWIOTLB" --meta smp="$SMP" \
	--meta mem="$MEM" --meta append="$APPEND" --meta base_version="$base" \
	--meta timeout="$TIMEOUT" --meta timed_out="$timed_out" \
	--meta stalled="$stalled" --meta stall_device="$stall_device" \
	--meta qemu_rc="$qrc" --meta wall_s="$wall" \
	--meta host_start_s="$start_s" --meta host_done_s="$done_s" \
	--meta expect_splat="${HARNESS_EXPECT_SPLAT:-}"
arc=$?
set -e
[ -f "$OUT/console.log" ] && grep -a '^KMSG ' "$OUT/console.log" | sed 's/^KMSG //' | tr -d '\r' >"$OUT/dmesg.txt" || true
[ $arc -eq 0 ] || die "run $LABEL: FAILED (see above; console: ${OUT#"$ROOT"/}/console.log; disk images kept)"
# The analysis re-read every pattern from the disk images; a passing run
# does not need them any more (3 x 64 MiB per run).  KEEP_DISKS=1 keeps them.
[ "${KEEP_DISKS:-0}" = 1 ] || rm -f "$OUT"/disk-{blk,scsi,nvme}.img
log "run $LABEL: OK (${wall}s wall), results in ${OUT#"$ROOT"/}"
