#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Stress scenarios on a debug kernel (lockdep, DEBUG_ATOMIC_SLEEP,
# DMA_API_DEBUG, fault injection): make stress (full set, variant kasan:
# with KASAN, and the hang detectors compiled in: hung tasks reported after
# 120 s, the lockup detectors off as in every run without --detectors), and
# the "stress" step of make check (--reduced, variant debug: make check's
# patched kernel, without KASAN).
#
# usage: scripts/harness/stress.sh [--help] [--list] [--reduced]
#                                  [--scenario NAME[,NAME...]] [--no-build]
#                                  [--variant V] [--out DIR]
#
#   --reduced        the smaller set of make check (fewer cycles, shorter
#                    loads, two bad-input boots instead of five)
#   --scenario LIST  only these scenarios (see --list), in this order
#   --no-build       do not (re)build the kernel first
#   --variant V      kernel build/kbuild/V (default kasan, with --reduced
#                    debug)
#   --out DIR        run directories (default results/stress[-reduced])
#   --summarize NAME RUNDIR RC KIND
#                    only print the line of one existing run directory
#                    (KIND stress or badinput, RC the exit status of run.sh)
#
# Scenarios (each one boot of scripts/harness/run.sh --mode stress, guest
# side in scripts/guest/mode-stress.sh; bounded by time and count):
#   rebind    nvme and virtio-net unbind/bind cycles, alternating, while
#             data-checked I/O runs on virtio-blk and virtio-scsi
#             (full 200 cycles each, reduced 20)
#   swiotlb   swiotlb=1024 (2 MiB boot pool), data-checked I/O on all three
#             disks at once: the pool grows, then shrinks back when idle
#             (full 60 s, reduced 15 s)
#   alloc     4 vCPUs, kernel/modules/cvm_dma_stress: coherent buffers of
#             random size (1 B..4 MiB) from threads on every CPU and (up to
#             64 KiB, GFP_ATOMIC) from an hrtimer in hard-IRQ context
#             (full 60 s, reduced 15 s)
#   pagefail  fail_page_alloc on allocations of order >= 9 (pool growth,
#             shared chunks) while the disks (swiotlb=1024) and the module
#             load the pools (full 40 s / 1000 failures, reduced 12 s / 200)
#   convfail  the emulated CVM refuses every 3rd conversion: to shared
#             while the load grows the pools, then to private while it
#             runs again and idle pools are given back (leaked on purpose)
#             (full 40 s, reduced 12 s)
#   fragment  fail_page_alloc fails every allocation of order >= 9 (no
#             free 2 MiB block, as in fragmented memory) while the module
#             allocates buffers below 2 MiB for its 64-, 32- and 30-bit
#             devices (the debug kernel has ZONE_DMA; the 30-bit device
#             must be served where the kernel has it), beyond the boot
#             chunk: every blocking allocation must succeed, from chunks
#             of the default CMA area (cma=32M@0-1G), with no conversion
#             below 2 MiB
#             (full 60 s, reduced 12 s)
#   lowmask   kernel/modules/cvm_dma_stress with a 24-bit device beside its
#             64-, 32- and 30-bit ones, buffers up to 256 KiB, threads and
#             hard-IRQ context: every blocking allocation must succeed and
#             the 24-bit device must be served (from ZONE_DMA: a chunk that
#             grew there, or pages converted on their own as stock does;
#             conversions below 2 MiB are reported, not refused)
#             (full 60 s, reduced 12 s)
#   periodic  kernel/modules/cvm_dma_stress, one thread, its 64- and
#             32-bit devices: a few MiB of
#             coherent memory allocated, held and freed every 2 s; no
#             conversion at all with the default boot chunk, none after
#             the first round with swiotlb_cc= (full 300 s, reduced 20 s)
#   probefail virtio_scsi's probe fails at one slab allocation after
#             another (failslab for the binding task, pci=nomsi: the first
#             allocation after a budget of 256 B more each time, doubled while the
#             first failure hits the same allocation; full: 64 B),
#             through scsi_host_alloc(), virtio_find_vqs() (with all its
#             fallbacks) and scsi_add_host(), until a bind gets through
#             with no failure or the first in the SCSI scan (full: at
#             most 1 h, reduced 420 s); probes must have failed inside
#             the probe and inside virtio_find_vqs(); then data-checked
#             I/O on the
#             disk (a host that makes find_vqs() fail must not crash the
#             guest: v1 of the series did)
#   chaos     every failure injector at once (conversions refused both
#             ways, order >= 9 page allocations, slab allocations of the
#             task that unbinds and binds nvme and virtio-net over and
#             over, pci=nomsi) with data-checked I/O on virtio-blk and
#             virtio-scsi and the module's threads and hard-IRQ
#             allocations; then both devices bound and working, nothing
#             shared unaccounted for (full 30 min, reduced 30 s)
#   badinput  boots with malformed, negative, empty, overflowing and huge
#             values of swiotlb_cc=, cc_conversion_align= and swiotlb=
#             (scripts/guest/mode-badinput.sh; reduced: malformed and
#             overflow)
# After every scenario the guest checks the invariants (mode-stress.sh):
# DMA-to-private detector 0, shared pages == pools + chunks + leaked +
# non-RAM, no partly shared 2 MiB region but the non-RAM one (and those of
# leaked pages, or of ZONE_DMA atomic pool pieces below 2 MiB), and after
# unbinding every device and the give-back of idle pools, shared pages ==
# boot + leaked, to the page.  Every run also fails on any kernel splat
# (analyze.py; the WARN of an injected conversion failure is expected in
# convfail) and on an unclean shutdown.
#
# Output: one line per scenario (per boot for badinput),
# "PASS|FAIL stress-NAME (figures)", then "N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

# summarize NAME DIR RC KIND: the figures of one run, one PASS/FAIL line
summarize() {
	python3 - "$@" <<'EOF'
import json, os, sys
name, d, rc, kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
try:
    s = json.load(open(os.path.join(d, "summary.json")))
except (OSError, ValueError) as e:
    print("FAIL stress-%s (no summary: %s)" % (name, e))
    sys.exit(1)
try:
    con = open(os.path.join(d, "console.log"), errors="replace").read()
except OSError:
    con = ""
det = s.get("checks_detail") or []
by = {}
for c in det:
    by["%s %s" % (c["kind"], c["subject"])] = c
g = s.get("guest") or {}
f = lambda key, fld, dflt="-": (by.get(key) or {}).get("fields", {}).get(fld, dflt)
need = {"stress": ["invariant boot", "invariant load-accounting",
                   "invariant load-ranges", "invariant load-detector",
                   "invariant giveback", "invariant end-accounting",
                   "invariant end-ranges", "invariant end-detector"],
        "badinput": ["badinput swiotlb_cc", "badinput cc_conversion_align",
                     "badinput swiotlb"]}[kind]
need += {"rebind": ["stress rebind", "io vda-stress", "io sda-stress"],
         "swiotlb": ["stress swiotlb-grow-shrink", "io vda-stress",
                     "io sda-stress", "io nvme0n1-stress"],
         "alloc": ["stress alloc"],
         "pagefail": ["stress pagefail", "stress pagefail-alloc",
                      "io vda-stress", "io sda-stress", "io nvme0n1-stress"],
         "convfail": ["stress convfail", "stress convfail-shared",
                      "stress convfail-private", "io vda-stress",
                      "io sda-stress", "io nvme0n1-stress"],
         "periodic": ["stress periodic", "stress periodic-first"],
         "fragment": ["stress fragment", "stress fragment-alloc"],
         "lowmask": ["stress lowmask", "stress lowmask-alloc"],
         "probefail": ["stress probefail", "io sda-after-probefail"],
         "chaos": ["stress chaos", "stress chaos-alloc", "io vda-stress",
                   "io sda-stress", "io nvme0n1-after-chaos"]}.get(name.split("-")[0], [])
missing = [n for n in need if n not in by]
failed = ["%s" % k for k, c in by.items() if c["status"] != "PASS"]
clean = (s.get("done") and not s.get("timed_out") and s.get("qemu_rc") == 0
         and "reboot: Power down" in con)
io = [c for c in det if c["kind"] == "io" and c["subject"].endswith("-stress")]
iob = sum(int(c["fields"].get("io_bytes", 0)) for c in io)
ior = sum(int(c["fields"].get("rounds", 0)) for c in io)
eio = sum(int(c["fields"].get("eio", 0)) for c in io)
cor = sum(int(c["fields"].get("corrupt", 0)) for c in io)
fig = []
if kind == "badinput":
    for p in ("swiotlb_cc", "cc_conversion_align", "swiotlb"):
        c = by.get("badinput " + p)
        if c:
            x = c["fields"]
            eff = x.get("boot_chunk", x.get("policy", x.get("nslabs")))
            fig.append("%s=%s -> %s (default %s), message %s" % (
                p, x.get("value"), eff, x.get("default"),
                str(x.get("message"))[:70]))
else:
    st = by.get("stress " + name) or by.get("stress %s-grow-shrink" % name) or {}
    sf = st.get("fields", {})
    if name == "rebind":
        fig.append("cycles nvme %s + virtio-net %s" % (sf.get("nvme_cycles"), sf.get("net_cycles")))
    elif name == "swiotlb":
        fig.append("pool slabs boot %s peak %s after %s (grew %s bytes, shrink %s s)" % (
            sf.get("pool_slabs_boot"), sf.get("pool_slabs_peak"),
            sf.get("pool_slabs_after"), sf.get("grown_bytes"), sf.get("shrink_wait_s")))
    elif name == "pagefail":
        fig.append("injected page-allocation failures %s of %s" % (sf.get("injected"), sf.get("of")))
    elif name == "fragment":
        fig.append("no order-9 block: blocking allocations that failed %s; %s conversion calls, %s below 2 MiB; %s chunks grown, %s of them from CMA, peak use %s B" % (
            sf.get("nomem_kernel"), sf.get("calls"), sf.get("misaligned"), sf.get("cc_grow"),
            sf.get("cc_grow_cma"), sf.get("cc_peak")))
    elif name == "lowmask":
        fig.append("devices down to %s bits: %s allocations of the 24-bit device (%s below 32 bits), blocking allocations that failed %s; %s conversion calls, %s below 2 MiB; %s chunks grown" % (
            sf.get("min_mask_bits"), sf.get("min_mask_allocs"), sf.get("low_mask_allocs"),
            sf.get("nomem_kernel"), sf.get("calls"), sf.get("misaligned"), sf.get("cc_grow")))
    elif name == "periodic":
        fig.append("%s periods of 2 s: first round %s conversion calls (%s chunks grown), later rounds %s calls (%s grown), %s allocations, %s errors" % (
            sf.get("periods"), sf.get("first_calls"), sf.get("first_grow"),
            sf.get("later_calls"), sf.get("later_grow"), sf.get("later_allocs"),
            sf.get("later_errors")))
    elif name == "probefail":
        fig.append("%s binds of virtio_scsi, the first slab allocation after a budget failing; binds that failed there: in the sysfs write or driver core %s, in the probe %s, inside virtio_find_vqs() %s (its error path); bound all the same %s; budget swept to %s B from steps of %s B, ended by %s" % (
            sf.get("runs"), sf.get("in_bind"), sf.get("in_probe"), sf.get("in_find_vqs"),
            sf.get("survived"), sf.get("budget_bytes"), sf.get("step"), sf.get("end")))
    elif name == "chaos":
        fig.append("%s s of every injector: %s rebinds of nvme + virtio-net (%s binds failed), %s slab and %s order-9 page allocations failed, %s conversions refused (every %s)" % (
            sf.get("seconds"), sf.get("rebinds"), sf.get("binds_failed"), sf.get("slab_failures"),
            sf.get("page_failures"), sf.get("refused"), sf.get("every")))
    elif name == "convfail":
        fig.append("conversion every %s refused: to shared %s, to private %s" % (
            sf.get("every"), sf.get("refused_shared"), sf.get("refused_private")))
    for sub in ("alloc", "pagefail-alloc", "fragment-alloc", "lowmask-alloc", "convfail-shared", "convfail-private", "chaos-alloc"):
        a = (by.get("stress " + sub) or {}).get("fields")
        if a:
            fig.append("%s: %s allocs %s B + %s hard-IRQ allocs %s B, no-memory %s/%s/%s (kernel/atomic/irq; smallest failed %s/%s/%s B), errors %s, %s ms" % (
                sub, a.get("allocs"), a.get("bytes"), a.get("irq_allocs"),
                a.get("irq_bytes"), a.get("nomem_kernel"), a.get("nomem_atomic"),
                a.get("nomem_irq"), a.get("nomem_kernel_min"),
                a.get("nomem_atomic_min"), a.get("nomem_irq_min"),
                a.get("errors"), a.get("ms")))
    if io:
        fig.append("io %d rounds %d B, eio %d, corrupt %d" % (ior, iob, eio, cor))
    gb = (by.get("invariant giveback") or {}).get("fields", {})
    fig.append("leaked %s pages; shared end %s = boot %s + leaked %s%s" % (
        gb.get("leaked_pages"), gb.get("shared_pages"), gb.get("boot"),
        gb.get("leaked_pages"),
        " + atomic pools grown %s" % gb.get("atomic_pools_grown")
        if str(gb.get("atomic_pools_grown", 0)) != "0" else ""))
    fig.append("refused (platform) %s" % g.get("refused"))
fig.append("dma_to_private %s" % s.get("detector_dma_to_private"))
fig.append("splats %d%s" % (len(s.get("splats") or []),
                            " (+%d expected)" % len(s["splats_expected"])
                            if s.get("splats_expected") else ""))
fig.append("shutdown %s" % ("clean" if clean else "NOT clean"))
fig.append("wall %ss" % (s.get("timing") or {}).get("wall_s"))
ok = rc == 0 and s.get("ok") and not missing and not failed and clean
why = []
if missing:
    why.append("missing checks: " + ", ".join(missing))
if failed:
    why.append("failed checks: " + ", ".join(failed))
why += (s.get("failures") or [])[:4]
print("%s stress-%s (%s)%s" % ("PASS" if ok else "FAIL", name, "; ".join(fig),
                               "" if ok else "\n    " + "\n    ".join(why)))
sys.exit(0 if ok else 1)
EOF
}

ALL=(rebind swiotlb alloc pagefail fragment lowmask convfail periodic probefail chaos badinput)
REDUCED=0
BUILD_KERNEL=1
VARIANT=
OUTDIR=
LIST=
SUMMARIZE=()
while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	--list) printf '%s\n' "${ALL[@]}"; exit 0 ;;
	--reduced) REDUCED=1 ;;
	--no-build) BUILD_KERNEL=0 ;;
	--scenario) [ $# -ge 2 ] || die "--scenario needs a list"; LIST=$2; shift ;;
	--variant) [ $# -ge 2 ] || die "--variant needs a name"; VARIANT=$2; shift ;;
	--out) [ $# -ge 2 ] || die "--out needs a directory"; OUTDIR=$2; shift ;;
	--summarize) [ $# -eq 5 ] || die "--summarize NAME RUNDIR RC KIND"; SUMMARIZE=("$2" "$3" "$4" "$5"); shift 4 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift
done
[ -n "$VARIANT" ] || { VARIANT=kasan; [ $REDUCED -eq 0 ] || VARIANT=debug; }
if [ ${#SUMMARIZE[@]} -eq 4 ]; then
	# the summary line of one existing run directory (tests)
	summarize "${SUMMARIZE[@]}"
	exit
fi
if [ -n "$LIST" ]; then
	IFS=, read -r -a SC <<<"$LIST"
	for s in "${SC[@]}"; do
		case " ${ALL[*]} " in *" $s "*) ;; *) die "unknown scenario '$s' (see --list)" ;; esac
	done
else
	SC=("${ALL[@]}")
fi
if [ $REDUCED -eq 1 ]; then
	OUTDIR=${OUTDIR:-$RESULTS/stress-reduced}
else
	OUTDIR=${OUTDIR:-$RESULTS/stress}
fi
mkdir -p "$OUTDIR"
# our own initramfs: concurrent runs of others must not race on the build
export INITRD=$BUILD/stress/initramfs.cpio.gz
mkdir -p "$BUILD/stress"

T0=$SECONDS
if [ $BUILD_KERNEL -eq 1 ]; then
	t=$SECONDS
	"$ROOT/scripts/build-kernel.sh" "$VARIANT" || { echo "FAIL stress-kernel (build-kernel.sh $VARIANT failed)"; echo "0 passed, 1 failed"; exit 1; }
	log "stress: kernel $VARIANT ready in $((SECONDS - t))s"
fi
K=$KBUILD/$VARIANT/arch/x86/boot/bzImage
[ -f "$K" ] || { echo "FAIL stress-kernel (no $K: scripts/build-kernel.sh $VARIANT)"; echo "0 passed, 1 failed"; exit 1; }
[ -x "${CONVSTAT:-$BIN/convstat}" ] || make -s -C "$ROOT/scripts/convstat" O="$BIN" >/dev/null ||
	die "stress: convstat does not build"

PASS=0
FAIL=0

# one_run NAME KIND run.sh-options...
one_run() {
	local name=$1 kind=$2 rc t=$SECONDS
	shift 2
	log "stress: $name"
	"$ROOT/scripts/harness/run.sh" --variant "$VARIANT" --label "stress-$name" \
		--out "$OUTDIR/$name" --io-mb 8 "$@" 2>&1 | sed -u 's/^/    /' >&2
	rc=${PIPESTATUS[0]}
	if summarize "$name" "$OUTDIR/$name" "$rc" "$kind"; then
		PASS=$((PASS + 1))
	else
		FAIL=$((FAIL + 1))
	fi
	log "stress: $name done in $((SECONDS - t))s"
}

if [ $REDUCED -eq 1 ]; then
	CYC=20 S_IO=15 S_ALLOC=15 S_PF=12 PF_TIMES=200 S_CF=12 S_PER=20 S_FR=12 S_LM=12 P_STEP=256 S_PROBE=420 S_CH=30
	BAD=(malformed overflow)
else
	CYC=200 S_IO=60 S_ALLOC=60 S_PF=40 PF_TIMES=1000 S_CF=40 S_PER=300 S_FR=60 S_LM=60 P_STEP=64 S_PROBE=3600 S_CH=1800
	BAD=(malformed negative empty overflow huge)
fi
LONG=$(printf 'x%.0s' $(seq 1 300))
bad_args() {
	case $1 in
	malformed) echo "swiotlb_cc=abc cc_conversion_align=bogus swiotlb=abc" ;;
	negative) echo "swiotlb_cc=-1 cc_conversion_align=-1 swiotlb=-1" ;;
	empty) echo "swiotlb_cc= cc_conversion_align= swiotlb=" ;;
	overflow) echo "swiotlb_cc=18446744073709551616 cc_conversion_align=$LONG swiotlb=18446744073709551616" ;;
	huge) echo "swiotlb_cc=64G cc_conversion_align=strictstrict swiotlb=33554432" ;;
	esac
}

for s in "${SC[@]}"; do
	case $s in
	rebind)
		one_run rebind stress --mode stress --cycles "$CYC" --timeout $((300 + CYC * 12)) \
			--extra-append "harness.stress=rebind" ;;
	swiotlb)
		one_run swiotlb stress --mode stress --cycles 0 --swiotlb 1024 --timeout $((300 + S_IO * 3)) \
			--extra-append "harness.stress=swiotlb harness.stress_s=$S_IO" ;;
	alloc)
		one_run alloc stress --mode stress --cycles 0 --smp 4 --timeout $((300 + S_ALLOC * 3)) \
			--extra-append "harness.stress=alloc harness.stress_s=$S_ALLOC" ;;
	pagefail)
		one_run pagefail stress --mode stress --cycles 0 --swiotlb 1024 --timeout $((300 + S_PF * 3)) \
			--extra-append "harness.stress=pagefail harness.stress_s=$S_PF harness.fail_times=$PF_TIMES" ;;
	convfail)
		HARNESS_EXPECT_SPLAT='CPA VMM failure to convert memory' \
		one_run convfail stress --mode stress --cycles 0 --swiotlb 1024 --timeout $((300 + S_CF * 3)) \
			--extra-append "harness.stress=convfail harness.stress_s=$S_CF harness.fail_every=3" ;;
	fragment)
		one_run fragment stress --mode stress --cycles 0 --timeout $((300 + S_FR * 3)) \
			--extra-append "cma=32M@0-1G harness.stress=fragment harness.stress_s=$S_FR" ;;
	lowmask)
		one_run lowmask stress --mode stress --cycles 0 --timeout $((300 + S_LM * 3)) \
			--extra-append "harness.stress=lowmask harness.stress_s=$S_LM" ;;
	periodic)
		one_run periodic stress --mode stress --cycles 0 --timeout $((300 + S_PER * 3)) \
			--extra-append "harness.stress=periodic harness.stress_s=$S_PER" ;;
	probefail)
		one_run probefail stress --mode stress --cycles 0 --timeout $((400 + S_PROBE * 3 / 2)) \
			--extra-append "pci=nomsi harness.stress=probefail harness.stress_s=$S_PROBE harness.probe_step=$P_STEP" ;;
	chaos)
		HARNESS_EXPECT_SPLAT='CPA VMM failure to convert memory' \
		one_run chaos stress --mode stress --cycles 0 --swiotlb 1024 --timeout $((400 + S_CH * 2)) \
			--extra-append "pci=nomsi harness.stress=chaos harness.stress_s=$S_CH harness.fail_every=3" ;;
	badinput)
		# the defaults: from the alloc run (no swiotlb=, no swiotlb_cc=)
		# of this invocation, else from a boot of our own
		ref=$OUTDIR/alloc/guest.json
		if [ ! -f "$ref" ] || [ "$ref" -ot "$K" ]; then
			"$ROOT/scripts/harness/run.sh" --variant "$VARIANT" --label stress-defaults \
				--out "$OUTDIR/defaults" --mode boot --cycles 0 --timeout 300 \
				2>&1 | sed -u 's/^/    /' >&2
			ref=$OUTDIR/defaults/guest.json
		fi
		read -r NS CC < <(python3 -c 'import json,sys; g=json.load(open(sys.argv[1])); print(g.get("swiotlb.io_tlb_nslabs","none"), g.get("swiotlb.cc_bytes","none"))' "$ref" 2>/dev/null || echo none none)
		for b in "${BAD[@]}"; do
			one_run "badinput-$b" badinput --mode badinput --cycles 0 --timeout 300 \
				--extra-append "harness.bad=$b harness.expect_nslabs=$NS harness.expect_cc=$CC $(bad_args "$b")"
		done
		;;
	esac
done
log "stress: $((PASS + FAIL)) runs in $((SECONDS - T0))s"
echo "$PASS passed, $FAIL failed"
[ $FAIL -eq 0 ]
