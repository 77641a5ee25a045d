#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tests of the harness (scripts/harness/, scripts/guest/) that need no
kernel and no QEMU run: generated QEMU command lines (tcg, tdx, snp), the
console parser (CHECK / GUEST lines), the cross-check on a synthetic
conversion log with matching and mismatching guest counters, the run
assertions, report.py on synthetic run directories, the initramfs builder
and the guest shell scripts.

Run through tests/harness/run-tests.sh; the last line is "N passed, N failed".
"""
import argparse
import base64
import gzip
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
H = os.path.join(ROOT, "scripts", "harness")
GUEST = os.path.join(ROOT, "scripts", "guest")
sys.path.insert(0, H)
sys.dont_write_bytecode = True  # no __pycache__ in scripts/harness/
import analyze  # noqa: E402
import report  # noqa: E402

BUSYBOX = shutil.which("busybox") or "/bin/busybox"
REAL_CONVSTAT = os.environ.get("CONVSTAT",
                               os.path.join(ROOT, "build", "bin", "convstat"))


def run_sh(*args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([os.path.join(H, "run.sh")] + list(args),
                          capture_output=True, text=True, env=e, timeout=60)


def cmdline(*args):
    p = run_sh("--print-cmdline", *args)
    if p.returncode != 0:
        raise AssertionError("run.sh --print-cmdline failed: %s" % p.stderr)
    return shlex.split(p.stdout)


def opt_values(argv, opt):
    return [argv[i + 1] for i, a in enumerate(argv) if a == opt]


def append_of(argv):
    (a,) = opt_values(argv, "-append")
    return a.split()


# -- synthetic data -----------------------------------------------------------

SYN_LOG = """\
# cvm_emulate: synthetic log for the harness tests
S 0x1000000 32768 mem_encrypt_init+0x10/0x40<start_kernel+0x5a0/0x7c0<x86_64_start_reservations+0x18/0x30
S 0x10a3c000 4 dma_direct_alloc+0x1c4/0x2e0<dma_alloc_attrs+0x6f/0xd0<nvme_alloc_queue+0x8a/0x1b0
P 0x10a3c000 4 dma_set_encrypted+0x2c/0x70<dma_direct_free+0xc1/0x140<nvme_free_queues+0x3d/0x60
S 0x10a40000 1 dma_direct_alloc+0x1c4/0x2e0<dma_alloc_attrs+0x6f/0xd0<nvme_dbbuf_dma_alloc+0x30/0x90
s 0x10b00000 2 dma_direct_alloc+0x1c4/0x2e0<dma_alloc_attrs+0x6f/0xd0<nvme_alloc_queue+0x8a/0x1b0
"""
# What the log above means (Documentation/conversion-log.md), by hand:
SYN_FIGURES = {"calls": 4, "to_shared": 3, "to_private": 1, "refused": 1,
               "pages": 32768 + 4 + 4 + 1, "misaligned": 3,
               "mixed_2m_end": 1, "mixed_2m_peak": 1,
               "shared_bytes_end": (32768 + 1) * 4096,
               "shared_bytes_peak": (32768 + 4) * 4096, "malformed": 0,
               # 0x10a00000 is mixed twice (4, then 1 shared pages)
               "split_2m_ever": 1, "double_alloc_peak_bytes": 4 * 4096}
SYN_GUEST = {"calls": 4, "to_shared": 3, "to_private": 1, "pages": 32777,
             "misaligned": 3, "refused": 1, "dma_to_private": 0,
             "shared_pages": 32769}
SYN_MAP = "0x1000000 512 shared\n" + "".join(
    "0x%x 512 shared\n" % (0x1000000 + i * 0x200000) for i in range(1, 64)) + \
    "0x10a00000 1 mixed\n"
SYN_CONVSTAT = dict(SYN_FIGURES, tdx_calls=4, snp_exits=4, redundant_pages=0,
                    sites=[{"site": "S dma_direct_alloc<dma_alloc_attrs<nvme_alloc_queue",
                            "calls": 1, "pages": 4},
                           {"site": "P dma_set_encrypted<dma_direct_free<nvme_free_queues",
                            "calls": 1, "pages": 4},
                           {"site": "S dma_direct_alloc<dma_alloc_attrs<nvme_dbbuf_dma_alloc",
                            "calls": 1, "pages": 1}])


# The patched kernel under the emulated CVM (strict policy), as measured:
# vgacon's VGA buffer (not RAM, below 1 MiB), the 2 MiB shared chunk and the
# 128 MiB boot SWIOTLB pool.
SYN_P_LOG = """\
# cvm_emulate: synthetic log of the patched kernel
S 0xb8000 2 vgacon_startup+0x29e/0x36e<con_init+0x26/0x20c<console_init+0x22/0x26
S 0x75400000 512 swiotlb_cc_update_mem_attributes+0x2e/0x9f<swiotlb_update_mem_attributes+0x5/0x36<mem_encrypt_init+0x14/0xde
S 0x75800000 32768 mem_encrypt_init+0x14/0xde<start_kernel+0x5b9/0x623<x86_64_start_reservations+0x25/0x25
"""
P_PAGES = 2 + 512 + 32768
SYN_P_FIGURES = {"calls": 3, "to_shared": 3, "to_private": 0, "refused": 0,
                 "pages": P_PAGES, "misaligned": 1, "mixed_2m_end": 1,
                 "mixed_2m_peak": 1, "shared_bytes_end": P_PAGES * 4096,
                 "shared_bytes_peak": P_PAGES * 4096, "malformed": 0,
                 "split_2m_ever": 1, "double_alloc_peak_bytes": 2 * 4096}
SYN_P_CONVSTAT = dict(SYN_P_FIGURES, tdx_calls=3, snp_exits=3,
                      redundant_pages=0,
                      sites=[{"site": "S vgacon_startup<con_init<console_init",
                              "calls": 1, "pages": 2}])
SYN_P_GUEST = {"calls": 3, "to_shared": 3, "to_private": 0, "pages": P_PAGES,
               "misaligned": 1, "refused": 0, "dma_to_private": 0,
               "shared_pages": P_PAGES, "cc_conversion.policy": "warn",
               "cc_conversion.refused": 0, "swiotlb.cc_bytes": 2097152,
               "swiotlb.cc_chunks": 1}
ZERO_CONVSTAT = {"calls": 0, "to_shared": 0, "to_private": 0, "refused": 0,
                 "pages": 0, "misaligned": 0, "mixed_2m_end": 0,
                 "mixed_2m_peak": 0, "shared_bytes_end": 0,
                 "shared_bytes_peak": 0, "malformed": 0, "tdx_calls": 0,
                 "snp_exits": 0, "redundant_pages": 0, "split_2m_ever": 0,
                 "double_alloc_peak_bytes": 0, "sites": []}


def console_text(guest=SYN_GUEST, checks=None, done=True, shas=None):
    """A console log as the guest prints it (CRLF, kernel noise).  The
    pseudo-counters cc_conversion.policy and cc_conversion.refused of GUEST
    become what the series' x86 policy prints in the kernel log: its boot
    line, and one report per refused conversion."""
    shas = shas or {}
    guest = dict(guest)
    x86 = []
    if "cc_conversion.policy" in guest:
        x86.append("[    0.900000] cc_conversion: conversion granule 2048 KiB, "
                   "cc_conversion_align=%s" % guest.pop("cc_conversion.policy"))
    for i in range(guest.pop("cc_conversion.refused", 0)):
        x86.append("[    1.000000] cc_conversion: f%d+0x1/0x2: converting 1 "
                   "page(s) at 0x%x to shared: not aligned to the host's "
                   "2048 KiB, refused (cc_conversion_align=strict)"
                   % (i, 0x10000000 + i * 4096))
    lines = [
        "SeaBIOS (version 1.16.2-debian-1.16.2-1)",
        "[    0.000000] Linux version 6.12.117 (root@x) (gcc 12.2.0) #1 SMP",
        "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
        "[    0.000000] BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved",
        "[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x000000007ffdffff] usable",
    ] + x86 + [
        "[    5.912345] Run /init as init process",
        "HARNESS START uptime=6.02 id=abcdef012345 kernel=6.12.117 mode=full cycles=10 cpus=2",
    ]
    if checks is None:
        checks = []
        for k, d in (("blk", "vda"), ("scsi", "sda"), ("nvme", "nvme0n1")):
            checks.append("CHECK io %s PASS disk=%s dev=%s offset=0 bytes=4096 sha256=%s"
                          % (d, k, d, shas.get(k, "0" * 64)))
        checks += ["CHECK net hub PASS a=eth0 b=eth1 tcp_bytes=4194304",
                   "[    9.100000] virtio_net virtio3 eth1: noise in the middle",
                   "CHECK rng hwrng PASS current=virtio_rng.0 bytes=4096",
                   "CHECK rebind nvme PASS cycles=10 bdf=0000:00:04.0",
                   "CHECK io nvme0n1-after-rebind PASS disk=nvme dev=nvme0n1 offset=8192 bytes=4096 sha256=%s"
                   % shas.get("nvme2", "0" * 64)]
    lines += checks
    lines.append("HARNESS COUNTERS BEGIN")
    lines += ["GUEST %s %s" % kv for kv in guest.items()]
    lines += ["GUEST swiotlb.io_tlb_nslabs 65536", "GUEST note some-string"]
    lines.append("HARNESS COUNTERS END")
    lines.append("HARNESS RESULT pass=7 fail=0 skip=0 uptime=20.5")
    lines.append("KMSG [   10.000000] CHECK io fake FAIL inside dmesg must be ignored")
    if done:
        lines.append("HARNESS DONE")
        lines.append("[   21.000000] reboot: Power down")
    return "\r\n".join(lines) + "\r\n"


def stub_convstat(dirpath, figures=SYN_CONVSTAT, map_text=SYN_MAP):
    """A stand-in for build/bin/convstat that prints fixed output: it tests
    the harness logic independently of the analyzer."""
    p = os.path.join(dirpath, "convstat-stub")
    with open(os.path.join(dirpath, "stub.json"), "w") as fh:
        json.dump(figures, fh)
    with open(os.path.join(dirpath, "stub.map"), "w") as fh:
        fh.write(map_text)
    with open(p, "w") as fh:
        fh.write("#!/bin/sh\nd=$(dirname \"$0\")\ncase \"$1\" in\n"
                 "--json) cat \"$d/stub.json\" ;;\n--map) cat \"$d/stub.map\" ;;\n"
                 "*) exit 2 ;;\nesac\n")
    os.chmod(p, 0o755)
    return p


def make_run(tmp, name="baseline", guest=SYN_GUEST, done=True, checks=None,
             convstat_fig=SYN_CONVSTAT, log=SYN_LOG, meta=None, corrupt=None):
    """A synthetic run directory with console.log, conv.log and disk images
    holding the patterns the console claims; analysed with a stub convstat."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    shas = {}
    for k, off in (("blk", 0), ("scsi", 0), ("nvme", 0)):
        data = hashlib.sha256(k.encode()).digest() * 128  # 4096 bytes
        shas[k] = hashlib.sha256(data).hexdigest()
        img = bytearray(16384)
        img[0:4096] = data
        if k == "nvme":
            data2 = hashlib.sha256(b"again").digest() * 128
            shas["nvme2"] = hashlib.sha256(data2).hexdigest()
            img[8192:12288] = data2
        if corrupt == k:
            img[100] ^= 0xFF
        with open(os.path.join(d, "disk-%s.img" % k), "wb") as fh:
            fh.write(img)
    with open(os.path.join(d, "console.log"), "w") as fh:
        fh.write(console_text(guest, checks, done, shas))
    with open(os.path.join(d, "conv.log"), "w") as fh:
        fh.write(log)
    cs = stub_convstat(tmp if name == "baseline" else d, convstat_fig)
    m = {"label": name, "variant": name, "platform": "tcg", "cvm": "on",
         "mode": "full", "cycles": "10", "mem": "2G", "smp": "2",
         "base_version": "linux-source-6.12 6.12.117-1~deb12u1",
         "wall_s": "42.0", "timed_out": "0", "host_start_s": "7.5"}
    m.update(meta or {})
    s = analyze.analyze(d, cs, m)
    return d, s


class TestCmdline(unittest.TestCase):
    def test_tcg_default(self):
        a = cmdline()
        self.assertEqual(a[0], "qemu-system-x86_64")
        self.assertEqual(opt_values(a, "-accel"), ["tcg"])
        self.assertNotIn("kvm", " ".join(a))
        self.assertNotIn("-enable-kvm", a)
        self.assertEqual(opt_values(a, "-cpu"), ["max"])
        for f in ("-nographic", "-no-reboot", "-nodefaults"):
            self.assertIn(f, a)
        self.assertEqual(opt_values(a, "-smp"), ["2"])
        self.assertEqual(opt_values(a, "-m"), ["2G"])
        ap = append_of(a)
        self.assertIn("cvm_emulate=on", ap)
        self.assertIn("harness.cycles=10", ap)
        self.assertIn("console=ttyS0", ap)
        self.assertFalse(any(w.startswith("swiotlb=") for w in ap))
        # debugcon on 0x403 into conv.log, console into console.log
        ch = opt_values(a, "-chardev")
        self.assertEqual(len(ch), 1)
        self.assertTrue(ch[0].startswith("file,id=cvmlog,path="))
        self.assertTrue(ch[0].endswith("/conv.log"))
        self.assertIn("isa-debugcon,iobase=0x403,chardev=cvmlog",
                      opt_values(a, "-device"))
        (ser,) = opt_values(a, "-serial")
        self.assertTrue(ser.startswith("file:") and ser.endswith("/console.log"))

    def test_tcg_device_matrix(self):
        a = cmdline()
        devs = opt_values(a, "-device")
        kinds = [d.split(",")[0] for d in devs]
        for k in ("virtio-blk-pci", "virtio-scsi-pci", "scsi-hd", "nvme",
                  "virtio-rng-pci"):
            self.assertIn(k, kinds)
        self.assertEqual(kinds.count("virtio-net-pci"), 2)
        for d in devs:
            if d.startswith("virtio-"):
                self.assertIn("iommu_platform=on", d, d)
                self.assertIn("disable-legacy=on", d, d)
        nvme = [d for d in devs if d.startswith("nvme,")][0]
        self.assertIn("serial=", nvme)
        self.assertIn("drive=", nvme)
        # network: only two hub ports on hub 0, never a host backend
        nets = opt_values(a, "-netdev")
        self.assertEqual(sorted(nets), ["hubport,id=n0,hubid=0",
                                        "hubport,id=n1,hubid=0"])
        joined = " ".join(a)
        for bad in ("user", "tap", "bridge", "socket", "vde", "-nic"):
            self.assertFalse(any(n.startswith(bad) for n in nets))
        self.assertNotIn(" -nic ", joined)
        self.assertNotIn(" -net ", joined)
        # every drive is a raw file in the run directory
        for drv in opt_values(a, "-drive"):
            self.assertIn("format=raw", drv)
            self.assertIn("if=none", drv)

    def test_options(self):
        a = cmdline("--cycles", "50", "--swiotlb", "1024", "--smp", "4",
                    "--mem", "4G", "--extra-append", "foo=1 bar",
                    "--out", "/tmp/xx-run")
        ap = append_of(a)
        self.assertIn("harness.cycles=50", ap)
        self.assertIn("swiotlb=1024", ap)
        self.assertIn("foo=1", ap)
        self.assertIn("bar", ap)
        self.assertEqual(opt_values(a, "-smp"), ["4"])
        self.assertEqual(opt_values(a, "-m"), ["4G"])
        self.assertIn("file:/tmp/xx-run/console.log", opt_values(a, "-serial"))
        self.assertFalse(os.path.exists("/tmp/xx-run"),
                         "--print-cmdline must not create anything")

    def test_kernel_and_variant(self):
        a = cmdline("--variant", "patched")
        self.assertTrue(opt_values(a, "-kernel")[0].endswith(
            "build/kbuild/patched/arch/x86/boot/bzImage"))
        self.assertIn("/results/runs/patched/", " ".join(a))
        a = cmdline("--kernel", "/x/bzImage", "--variant", "baseline",
                    "--swiotlb", "512")
        self.assertEqual(opt_values(a, "-kernel"), ["/x/bzImage"])
        self.assertIn("/results/runs/baseline-swiotlb/", " ".join(a))

    def test_cvm_off(self):
        a = cmdline("--cvm", "off")
        self.assertNotIn("cvm_emulate=on", append_of(a))
        self.assertEqual(opt_values(a, "-accel"), ["tcg"])

    def test_tdx(self):
        a = cmdline("--platform", "tdx", "--bios", "/fw/OVMF.tdx.fd")
        self.assertEqual(opt_values(a, "-accel"), ["kvm"])
        self.assertNotIn("tcg", " ".join(a))
        self.assertIn("tdx-guest,id=tdx0", opt_values(a, "-object"))
        (mach,) = opt_values(a, "-machine")
        self.assertIn("q35", mach)
        self.assertIn("confidential-guest-support=tdx0", mach)
        self.assertIn("kernel-irqchip=split", mach)
        self.assertEqual(opt_values(a, "-bios"), ["/fw/OVMF.tdx.fd"])
        self.assertEqual(opt_values(a, "-cpu"), ["host"])
        # real hardware: no emulated CVM, no debugcon log
        self.assertNotIn("cvm_emulate=on", append_of(a))
        self.assertNotIn("isa-debugcon", " ".join(a))
        self.assertEqual(opt_values(a, "-chardev"), [])
        for d in opt_values(a, "-device"):
            if d.startswith("virtio-"):
                self.assertIn("iommu_platform=on", d)
        self.assertIn("/results/runs/baseline-tdx/", " ".join(a))

    def test_snp(self):
        a = cmdline("--platform", "snp", "--bios", "/fw/OVMF.amdsev.fd",
                    "--mem", "4G")
        self.assertEqual(opt_values(a, "-accel"), ["kvm"])
        objs = opt_values(a, "-object")
        self.assertIn("sev-snp-guest,id=sev0,cbitpos=51,reduced-phys-bits=1",
                      objs)
        self.assertIn("memory-backend-memfd,id=ram0,size=4G,share=true,"
                      "prealloc=false", objs)
        (mach,) = opt_values(a, "-machine")
        self.assertIn("confidential-guest-support=sev0", mach)
        self.assertIn("memory-backend=ram0", mach)
        self.assertEqual(opt_values(a, "-bios"), ["/fw/OVMF.amdsev.fd"])
        self.assertEqual(opt_values(a, "-cpu"), ["EPYC-v4"])
        self.assertNotIn("isa-debugcon", " ".join(a))
        a = cmdline("--platform", "snp", "--cpu", "host")
        self.assertEqual(opt_values(a, "-cpu"), ["host"])
        self.assertEqual(opt_values(a, "-bios"), ["/usr/share/ovmf/OVMF.fd"])

    def test_bad_arguments(self):
        for args, word in ((["--platform", "sgx"], "--platform"),
                           (["--cycles", "ten"], "--cycles"),
                           (["--cvm", "maybe"], "--cvm"),
                           (["--mem", "lots"], "--mem"),
                           (["--bogus"], "unknown argument"),
                           (["--cycles"], "needs an argument")):
            p = run_sh("--print-cmdline", *args)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn(word, p.stderr, args)

    def test_help(self):
        for s in ("run.sh", "check.sh", "mkinitramfs.sh"):
            p = subprocess.run([os.path.join(H, s), "--help"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, s)
            self.assertIn("usage:", p.stdout, s)

    def test_missing_analyzer_is_a_clear_error(self):
        p = run_sh("--accel", "tcg", "--kernel", "/etc/hostname", "--out",
                   tempfile.mkdtemp(prefix="cvm-h-"),
                   env={"CONVSTAT": "/nonexistent/convstat"})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("make convstat", p.stderr)

    def test_missing_kernel_is_a_clear_error(self):
        p = run_sh("--accel", "tcg", "--kernel", "/nonexistent/bzImage")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no kernel", p.stderr)


class TestOwnKernel(unittest.TestCase):
    """--accel, --exec, --shell and the config check of --kernel"""

    def test_accel(self):
        a = cmdline("--accel", "tcg")
        self.assertEqual(opt_values(a, "-accel"), ["tcg"])
        for args, word in ((["--accel", "xen"], "--accel"),
                           (["--platform", "snp", "--accel", "tcg"], "KVM only")):
            p = run_sh("--print-cmdline", *args)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn(word, p.stderr, args)

    def test_exec_and_shell(self):
        cmd = "echo 'a b' = \"c\"; exit 3"
        ap = append_of(cmdline("--exec", cmd))
        self.assertIn("harness.mode=exec", ap)
        (enc,) = [w.split("=", 1)[1] for w in ap if w.startswith("harness.exec=")]
        self.assertEqual(base64.b64decode(enc).decode(), cmd)
        a = cmdline("--shell")
        self.assertIn("harness.mode=shell", append_of(a))
        self.assertEqual(opt_values(a, "-serial"), ["mon:stdio"])
        p = run_sh("--print-cmdline", "--shell", "--exec", "true")
        self.assertNotEqual(p.returncode, 0)

    def test_config_check(self):
        d = tempfile.mkdtemp(prefix="cvm-h-")
        try:
            k = os.path.join(d, "bzImage")
            open(k, "w").close()
            cfg = os.path.join(d, "config")
            with open(cfg, "w") as f:
                f.write("CONFIG_BLK_DEV_INITRD=y\nCONFIG_VIRTIO_BLK=m\n")
            p = run_sh("--accel", "tcg", "--kernel", k, "--config", cfg,
                       "--out", os.path.join(d, "out"), "--mode", "bench",
                       env={"CONVSTAT": "/bin/true"})
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("lacks what the harness needs", p.stderr)
            self.assertIn("CONFIG_VIRTIO_BLK=y (virtio-blk)", p.stderr)
            self.assertIn("CONFIG_CVM_EMULATE=y", p.stderr)
            self.assertIn("CONFIG_DMA_MAP_BENCHMARK=y", p.stderr)
            self.assertNotIn("CONFIG_BLK_DEV_INITRD=y (", p.stderr)
            self.assertFalse(os.path.exists(os.path.join(d, "out")),
                             "nothing may be created before the check")
            p = run_sh("--accel", "tcg", "--kernel", k, "--config",
                       os.path.join(d, "none"), env={"CONVSTAT": "/bin/true"})
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("--config: no file", p.stderr)
        finally:
            shutil.rmtree(d)


class TestGuestCmdline(unittest.TestCase):
    """cmdline_value(), the one parser of the guest's command line"""

    def value(self, line, *args):
        with tempfile.NamedTemporaryFile("w", suffix=".cmdline") as f:
            f.write(line + "\n")
            f.flush()
            p = subprocess.run(
                [BUSYBOX, "sh", "-c", '. "$1"; shift; cmdline_value "$@"', "sh",
                 os.path.join(ROOT, "scripts", "guest", "workload.sh")] + list(args),
                capture_output=True, text=True, timeout=30,
                env=dict(os.environ, H_CMDLINE=f.name))
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.rstrip("\n")

    def test_values(self):
        line = "console=ttyS0 harness.mode=bench harness.x=1 harness.x=2 harness.e= harness.xy=9"
        self.assertEqual(self.value(line, "harness.mode"), "bench")
        self.assertEqual(self.value(line, "harness.x", "d"), "2")
        self.assertEqual(self.value(line, "harness.e", "d"), "")
        self.assertEqual(self.value(line, "harness.none", "d"), "d")
        self.assertEqual(self.value(line, "harness.none"), "")
        self.assertEqual(self.value("harness.exec=YSBi=", "harness.exec"), "YSBi=")


class TestConsole(unittest.TestCase):
    def test_parse(self):
        c = analyze.parse_console(console_text())
        self.assertTrue(c["started"])
        self.assertTrue(c["done"])
        self.assertEqual(c["kernel_release"], "6.12.117")
        self.assertEqual(c["start"]["uptime"], "6.02")
        self.assertEqual(c["last_kernel_ts_before_start"], 5.912345)
        self.assertEqual(c["ram_ranges"], [[0, 0x9fc00], [0x100000, 0x7ffe0000]])
        kinds = [(x["kind"], x["subject"], x["status"]) for x in c["checks"]]
        self.assertIn(("io", "vda", "PASS"), kinds)
        self.assertIn(("rebind", "nvme", "PASS"), kinds)
        self.assertNotIn(("io", "fake", "FAIL"), kinds)  # KMSG lines ignored
        self.assertEqual(c["checks"][0]["fields"]["disk"], "blk")
        self.assertEqual(c["checks"][0]["fields"]["offset"], 0)

    def test_guest_counters_generic(self):
        c = analyze.parse_console(console_text())
        g = c["guest"]
        self.assertEqual(g["calls"], 4)
        self.assertEqual(g["shared_pages"], 32769)
        self.assertEqual(g["swiotlb.io_tlb_nslabs"], 65536)
        self.assertEqual(g["note"], "some-string")
        c = analyze.parse_console(
            "GUEST hexval 0x20\nGUEST neg -3\n  GUEST indented 1\n"
            "GUEST too many words\nxGUEST bad 1\n")
        self.assertEqual(c["guest"], {"hexval": 32, "neg": -3})

    def test_parse_kv(self):
        self.assertEqual(analyze.parse_kv(" a=1 b='x' c d=0x10 e=1.5"),
                         {"a": 1, "b": "x", "d": 16, "e": "1.5"})

    def test_guest_aliases(self):
        self.assertEqual(analyze.guest_counter({"conversions": 7}, "calls"), 7)
        self.assertIsNone(analyze.guest_counter({}, "calls"))


class TestCrosscheck(unittest.TestCase):
    def test_match(self):
        r = analyze.crosscheck(SYN_FIGURES, SYN_GUEST)
        self.assertEqual([x["name"] for x in r],
                         ["calls", "to_shared", "to_private", "pages",
                          "misaligned", "refused", "shared_bytes_end"])
        self.assertTrue(all(x["ok"] for x in r), r)

    def test_mismatch_detected(self):
        for key, val in (("calls", 5), ("misaligned", 2), ("refused", 0),
                         ("pages", 32776), ("shared_pages", 32768)):
            g = dict(SYN_GUEST)
            g[key] = val
            r = analyze.crosscheck(SYN_FIGURES, g)
            bad = [x["name"] for x in r if not x["ok"]]
            want = "shared_bytes_end" if key == "shared_pages" else key
            self.assertEqual(bad, [want], key)

    def test_missing_guest_counter_is_a_mismatch(self):
        g = dict(SYN_GUEST)
        del g["to_private"]
        r = analyze.crosscheck(SYN_FIGURES, g)
        self.assertEqual([x["name"] for x in r if not x["ok"]], ["to_private"])

    def test_snapshot_prefix(self):
        log = SYN_LOG + analyze.SNAPSHOT_MARK + "\nP 0x1000000 512 x\n"
        self.assertEqual(analyze.snapshot_prefix(log), SYN_LOG)
        self.assertIsNone(analyze.snapshot_prefix(SYN_LOG))


class TmpDirTest(unittest.TestCase):
    """A test with a scratch directory, self.tmp, removed afterwards."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cvm-harness-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp)


class TestAnalyze(TmpDirTest):
    def test_good_run(self):
        d, s = make_run(self.tmp)
        self.assertEqual(s["failures"], [])
        self.assertTrue(s["ok"])
        self.assertTrue(s["crosscheck"]["ok"])
        self.assertEqual(s["crosscheck"]["source"], "full log")
        self.assertEqual(s["detector_dma_to_private"], 0)
        self.assertEqual(len(s["host_verify"]), 4)
        self.assertTrue(all(v["ok"] for v in s["host_verify"]))
        self.assertEqual(s["timing"]["boot_s"], 6.02)
        self.assertEqual(s["map_regions"], {"private": 0, "shared": 64,
                                            "mixed": 1})
        for f in ("summary.json", "convstat.json", "guest.json", "map.txt"):
            self.assertTrue(os.path.exists(os.path.join(d, f)), f)
        with open(os.path.join(d, "guest.json")) as fh:
            self.assertEqual(json.load(fh)["calls"], 4)
        self.assertTrue(all(ok for _, ok, _ in analyze.assertions(s)))

    def test_mismatch_fails_the_run(self):
        g = dict(SYN_GUEST, calls=5)
        d, s = make_run(self.tmp, guest=g)
        self.assertFalse(s["ok"])
        self.assertFalse(s["crosscheck"]["ok"])
        self.assertTrue(any("cross-check mismatch: calls analyzer=4 guest=5"
                            in f for f in s["failures"]), s["failures"])
        a = dict((n, ok) for n, ok, _ in analyze.assertions(s))
        self.assertFalse(a["harness-crosscheck"])
        p = subprocess.run([sys.executable, os.path.join(H, "analyze.py"),
                            "--assert", d], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("FAIL harness-crosscheck (calls analyzer=4 guest=5)",
                      p.stdout)

    def test_snapshot_used_for_crosscheck(self):
        # records after the marker are not in the guest counters; the stub
        # prints the same figures for both, so the source must say snapshot
        log = SYN_LOG + analyze.SNAPSHOT_MARK + "\n"
        d, s = make_run(self.tmp, log=log)
        self.assertEqual(s["crosscheck"]["source"], "snapshot")
        self.assertTrue(os.path.exists(os.path.join(d, "conv.snapshot.log")))

    def test_missing_done(self):
        d, s = make_run(self.tmp, done=False)
        self.assertFalse(s["ok"])
        self.assertTrue(any("HARNESS DONE" in f for f in s["failures"]))

    def test_timeout(self):
        d, s = make_run(self.tmp, done=False,
                        meta={"timed_out": "1", "timeout": "300"})
        self.assertTrue(any(f.startswith("timeout: QEMU killed after 300s")
                            for f in s["failures"]))
        a = dict((n, ok) for n, ok, _ in analyze.assertions(s))
        self.assertFalse(a["harness-boot"])

    def test_failed_and_missing_checks(self):
        checks = ["CHECK io vda FAIL disk=blk dev=vda offset=0 bytes=4096 reason=write",
                  "CHECK rng hwrng PASS"]
        d, s = make_run(self.tmp, checks=checks)
        f = "\n".join(s["failures"])
        self.assertIn("check failed: io vda", f)
        for m in ("io scsi", "io nvme", "net hub", "rebind nvme",
                  "io nvme after rebind"):
            self.assertIn("check missing: %s" % m, f)
        self.assertFalse(s["io_ok"])

    def test_host_verify_catches_corruption(self):
        d, s = make_run(self.tmp, corrupt="scsi")
        self.assertFalse(s["ok"])
        self.assertTrue(any("host verify io sda in disk-scsi.img" in f
                            for f in s["failures"]), s["failures"])

    def test_detector(self):
        d, s = make_run(self.tmp, guest=dict(SYN_GUEST, dma_to_private=3))
        self.assertTrue(any("DMA-to-private detector fired 3" in f
                            for f in s["failures"]))
        a = dict((n, ok) for n, ok, _ in analyze.assertions(s))
        self.assertFalse(a["harness-dma-to-private-zero"])

    def test_check_sh_on_a_run_dir(self):
        d, s = make_run(self.tmp)
        p = subprocess.run([os.path.join(H, "check.sh"), "--run", d],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        lines = p.stdout.splitlines()
        names = [l.split()[1] for l in lines]
        self.assertEqual(names, [
            "harness-boot", "harness-io", "harness-net", "harness-rng",
            "harness-nvme-rebind", "harness-dma-to-private-zero",
            "harness-baseline-misaligned", "harness-log-wellformed",
            "harness-crosscheck"])
        self.assertTrue(all(l.startswith("PASS ") for l in lines), lines)
        d2, _ = make_run(self.tmp, "bad", guest=dict(SYN_GUEST, pages=1))
        p = subprocess.run([os.path.join(H, "check.sh"), "--run", d2],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("FAIL harness-crosscheck (pages analyzer=32777 guest=1)",
                      p.stdout)

    def test_no_misaligned_on_baseline_is_a_failure(self):
        fig = dict(SYN_CONVSTAT, misaligned=0)
        d, s = make_run(self.tmp, convstat_fig=fig,
                        guest=dict(SYN_GUEST, misaligned=0))
        a = dict((n, ok) for n, ok, _ in analyze.assertions(s))
        self.assertFalse(a["harness-baseline-misaligned"])
        self.assertTrue(a["harness-crosscheck"])

    def test_malformed(self):
        d, s = make_run(self.tmp, convstat_fig=dict(SYN_CONVSTAT, malformed=2))
        self.assertTrue(any("2 malformed" in f for f in s["failures"]))

    def test_no_guest_counters(self):
        d, s = make_run(self.tmp, guest={})
        self.assertTrue(any("cross-check impossible" in f
                            for f in s["failures"]))

    def test_missing_analyzer(self):
        d = os.path.join(self.tmp, "r")
        os.makedirs(d)
        with open(os.path.join(d, "console.log"), "w") as fh:
            fh.write(console_text())
        open(os.path.join(d, "conv.log"), "w").close()
        s = analyze.analyze(d, "/nonexistent/convstat", {"cycles": "10"})
        self.assertTrue(any("make convstat" in f for f in s["failures"]))

    def test_platform_mode_without_log(self):
        d = os.path.join(self.tmp, "tdx")
        os.makedirs(d)
        with open(os.path.join(d, "console.log"), "w") as fh:
            fh.write(console_text(guest={"tdx.calls": 12, "tdx.misaligned": 0}))
        s = analyze.analyze(d, None, {"platform": "tdx", "cycles": "10"})
        self.assertIsNone(s["crosscheck"]["ok"])
        self.assertEqual(s["guest"]["tdx.calls"], 12)
        self.assertTrue(any("no conversion log" in n for n in s["notes"]))
        self.assertFalse(any("convstat" in f for f in s["failures"]))


VGA = "S 0xb8000 2 vgacon_startup+0x29e/0x36e<con_init+0x26/0x20c<console_init+0x22/0x26\n"
NVME = "dma_direct_alloc+0x1c4/0x2e0<dma_alloc_attrs+0x6f/0xd0<nvme_alloc_queue+0x8a/0x1b0"


def recs(text):
    tmp = tempfile.mkdtemp(prefix="cvm-harness-test-")
    try:
        with open(os.path.join(tmp, "conv.log"), "w") as fh:
            fh.write(text)
        return analyze.read_records(os.path.join(tmp, "conv.log"))
    finally:
        shutil.rmtree(tmp)


# e820 of console_text(): [0, 0x9fc00) and [1 MiB, 0x7ffe0000)
E820 = [[0, 0x9fc00], [0x100000, 0x7ffe0000]]


class TestLogFacts(unittest.TestCase):
    """The replay of a conversion log used by the patched assertions."""

    def test_patched_log(self):
        f = analyze.log_facts(recs(SYN_P_LOG), E820)
        self.assertEqual(f["calls"], 3)
        self.assertEqual([r["gpa"] for r in f["misaligned"]], [0xb8000])
        self.assertEqual([r["gpa"] for r in f["nonram"]], [0xb8000])
        self.assertEqual(f["nonram_calls"], 1)
        self.assertEqual(f["mixed_end"], {0})
        self.assertEqual(f["mixed_ever"], {0})
        self.assertEqual(f["mixed_peak"], 1)
        # 0x75400000 and the 64 regions of the 128 MiB pool; not region 0
        self.assertEqual(len(f["ram_regions_shared"]), 65)
        self.assertNotIn(0, f["ram_regions_shared"])

    def test_replay(self):
        log = ("# comment\n"
               "S 0x200000 256 a+0x1/0x2\n"          # region 0x200000 mixed
               "S 0x300000 256 a+0x1/0x2\n"          # now fully shared
               "S 0x400000 1 a+0x1/0x2\n"            # 0x400000 mixed
               "p 0x400000 1 a+0x1/0x2\n"            # refused: no change
               "P 0x400000 1 a+0x1/0x2\n"            # private again
               "garbage line\n"
               "S 0x5ff000 2 a+0x1/0x2\n")           # straddles two regions
        f = analyze.log_facts(recs(log), E820)
        self.assertEqual(f["calls"], 5)
        self.assertEqual(len(f["misaligned"]), 6)   # the refused one too
        self.assertEqual(f["nonram"], [])
        self.assertEqual(f["mixed_end"], {0x400000, 0x600000})
        self.assertEqual(f["mixed_ever"], {0x200000, 0x400000, 0x600000})
        self.assertEqual(f["mixed_peak"], 2)
        self.assertEqual(f["ram_regions_shared"],
                         {0x200000, 0x400000, 0x600000})

    def test_ram_rule(self):
        # below 1 MiB is not enough: 0x9e000 is usable e820 RAM
        r = recs("S 0x9e000 1 x+0x1/0x2\nS 0xa0000 32 y+0x1/0x2\n"
                 "S 0x9f000 2 z+0x1/0x2\nS 0xfed00000 1 m+0x1/0x2\n")
        self.assertEqual([analyze.overlaps_ram(x, E820) for x in r],
                         [True, False, True, False])
        self.assertEqual(analyze.regions_of(r[3]), {0xfec00000})
        self.assertEqual(analyze.record_text(r[0]), "S 0x9e000+1p x")


# Lines and whether convstat accepts them as a record (convstat_parse_line());
# shared with TestWithRealConvstat, which checks the table against convstat.
RECORD_RULES = (
    ("S 0x200000 512 f+0x1/0x2", True),
    ("s 0x200000 1 f", True),
    ("P 0xFFFFFFFFFF000 1 f", True),           # the last page below 2^52
    ("S 0x0 1099511627776 f", True),           # 2^40 pages: all of 2^52
    ("S 0x0 400000000 f", True),               # 1.6 TB: fine since 52 bits
    ("S 0x10000000000 1 f", True),             # at 1 TiB (the old limit)
    ("S 0x00000200000 0001 f", True),          # leading zeros
    ("S 0x600000 1 nvme_setup+0x3d/0x60 [nvme]", True),  # a space in the site
    ("S 0x600000 1 f \t\r", True),             # trailing white space
    ("S 0x0 1099511627777 f", False),          # more pages than 2^52 holds
    ("S 0x1000 1099511627776 f", False),       # ends above 2^52
    ("S 0xFFFFFFFFFF000 2 f", False),
    ("S 0x10000000000000 1 f", False),         # at 2^52
    ("S 0x%s 1 f" % ("f" * 400), False),
    ("S 0x0 %s f" % ("9" * 5000), False),      # beyond int()'s digit limit
    ("S 0x200800 1 f", False),                 # not 4 KiB aligned
    ("S 0x200000 0 f", False),
    ("S 0x200000 1", False),
    ("S 0x200000 1 ", False),
    ("S 0x200000 1  f", False),                # site with a leading space
    ("S 0x200000 1 f\x01", False),
    ("S 0x200000 1 f\xe9", False),
    ("S 0x200000 1 f\x00g", False),
    ("X 0x200000 1 f", False),
    ("S 200000 1 f", False),
    ("S 0X200000 1 f", False),
    ("S 0x200000 -1 f", False),
    ("S 0x200000 +1 f", False),
    ("S  0x200000 1 f", False),
)


class TestRecords(unittest.TestCase):
    """analyze.py reads conversion logs by convstat's rules."""

    def test_rules(self):
        for line, ok in RECORD_RULES:
            r = analyze.parse_record(line.encode("latin-1") + b"\n")
            self.assertEqual(isinstance(r, dict), ok, repr(line))
        self.assertEqual(analyze.parse_record(b"# x\n"), "comment")
        self.assertEqual(analyze.parse_record(b" \t\r\n"), "blank")
        r = analyze.parse_record(b"S 0x600000 1 nvme_setup+0x3d/0x60 [nvme]\r\n")
        self.assertEqual(r["site"], "nvme_setup+0x3d/0x60 [nvme]")

    def test_huge_page_count_is_malformed(self):
        self.assertEqual(recs("S 0x0 1099511627777 f\nS 0x200000 1 f\n"),
                         [{"dir": "S", "accepted": True, "gpa": 0x200000,
                           "pages": 1, "site": "f"}])

    def test_lines_end_at_newline_only(self):
        # a lone CR is not a line end for convstat: one malformed line
        self.assertEqual(recs("S 0x200000 1 f\rS 0x400000 1 g\n"), [])

    def test_replay_is_bounded(self):
        """The biggest valid record (all of 1 TiB) is replayed region by
        region, in seconds, not page by page."""
        code = ("import sys; sys.dont_write_bytecode = True; "
                "sys.path.insert(0, %r); import analyze; "
                "f = analyze.log_facts([analyze.parse_record(l) for l in "
                "(b'S 0x0 268435456 f', b'P 0x201000 1 g')], [[0, 1 << 40]]); "
                "print(f['calls'], sorted(f['mixed_end']), f['mixed_peak'], "
                "len(f['ram_regions_shared']))" % H)
        p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                           text=True, timeout=20)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split(), ["2", "[2097152]", "1", "524288"])


class TestPatchedAssertions(unittest.TestCase):
    """The assertions of 'make check' on runs of the patched kernel, without
    a CVM, and across runs, on synthetic run directories."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cvm-harness-test-")
        self.n = 0

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def patched(self, log=SYN_P_LOG, fig=None, guest=None, cycles=10,
                name=None):
        self.n += 1
        name = name or "patched-%d" % self.n
        d, s = make_run(self.tmp, name, guest=guest or SYN_P_GUEST,
                        convstat_fig=fig or SYN_P_CONVSTAT, log=log,
                        meta={"variant": "patched", "cycles": str(cycles)})
        return d, s

    def nocvm(self, variant="patched", log="", guest=None, name=None):
        self.n += 1
        name = name or "%s-nocvm-%d" % (variant, self.n)
        return make_run(self.tmp, name, guest=guest or {}, log=log,
                        convstat_fig=ZERO_CONVSTAT,
                        meta={"variant": variant, "cvm": "off"})

    def res(self, d, s):
        return {n: (ok, det) for n, ok, det in
                analyze.patched_assertions(s, d)}

    def test_good(self):
        d, s = self.patched()
        self.assertEqual(s["failures"], [])
        r = analyze.patched_assertions(s, d)
        self.assertEqual([n for n, _, _ in r], ["patched-c10-" + x for x in (
            "boot", "io", "net", "rng", "nvme-rebind", "dma-to-private-zero",
            "log-wellformed", "crosscheck", "policy", "refused-zero",
            "misaligned-below-1m", "mixed-nonram-only", "calls-bound")])
        self.assertTrue(all(ok for _, ok, _ in r), r)
        a = dict((n, det) for n, _, det in r)
        self.assertIn("S 0xb8000+2p vgacon_startup<con_init",
                      a["patched-c10-misaligned-below-1m"])
        self.assertIn("[0x0]", a["patched-c10-mixed-nonram-only"])
        self.assertEqual(a["patched-c10-calls-bound"],
                         "calls=3 <= 65 RAM 2 MiB regions ever shared + 1 "
                         "non-RAM calls")

    def test_misaligned_ram_record(self):
        # a 4 KiB coherent allocation of nvme, converted and back
        log = SYN_P_LOG + "S 0x10a3c000 4 %s\nP 0x10a3c000 4 %s\n" % (
            NVME, NVME.replace("dma_direct_alloc", "dma_set_encrypted"))
        fig = dict(SYN_P_CONVSTAT, calls=5, to_shared=4, to_private=1,
                   pages=P_PAGES + 8, misaligned=3, mixed_2m_peak=2,
                   shared_bytes_peak=(P_PAGES + 4) * 4096)
        g = dict(SYN_P_GUEST, calls=5, to_shared=4, to_private=1,
                 pages=P_PAGES + 8, misaligned=3)
        d, s = self.patched(log, fig, g)
        a = self.res(d, s)
        self.assertTrue(a["patched-c10-crosscheck"][0])
        self.assertFalse(a["patched-c10-misaligned-below-1m"][0])
        self.assertIn("2 of 3 misaligned records in RAM or above 1 MiB: "
                      "S 0x10a3c000+4p dma_direct_alloc<dma_alloc_attrs; "
                      "P 0x10a3c000+4p dma_set_encrypted<dma_alloc_attrs",
                      a["patched-c10-misaligned-below-1m"][1])
        # mixed only while the allocation lived: at any time, not at the end
        self.assertFalse(a["patched-c10-mixed-nonram-only"][0])
        self.assertIn("end 0 [], at any time 1 [0x10a00000]",
                      a["patched-c10-mixed-nonram-only"][1])
        self.assertTrue(a["patched-c10-policy"][0])

    def test_misaligned_low_ram_record(self):
        # below 1 MiB, but usable e820 RAM: a misaligned RAM conversion
        log = SYN_P_LOG + "S 0x9e000 1 x+0x1/0x2\n"
        fig = dict(SYN_P_CONVSTAT, calls=4, to_shared=4, pages=P_PAGES + 1,
                   misaligned=2, shared_bytes_end=(P_PAGES + 1) * 4096)
        d, s = self.patched(log, fig, dict(SYN_P_GUEST, calls=4, to_shared=4,
                                           pages=P_PAGES + 1, misaligned=2,
                                           shared_pages=P_PAGES + 1))
        a = self.res(d, s)
        self.assertFalse(a["patched-c10-misaligned-below-1m"][0])
        self.assertIn("1 of 2 misaligned records in RAM or above 1 MiB: "
                      "S 0x9e000+1p x", a["patched-c10-misaligned-below-1m"][1])
        # region 0 holds the VGA record: mixed there is allowed
        self.assertTrue(a["patched-c10-mixed-nonram-only"][0])

    def test_nonram_above_1m(self):
        # MMIO is not RAM, but the harness VM converts nothing above 1 MiB
        # that is not RAM: flagged
        log = SYN_P_LOG + "S 0xfed00000 1 m+0x1/0x2\n"
        fig = dict(SYN_P_CONVSTAT, calls=4, to_shared=4, pages=P_PAGES + 1,
                   misaligned=2, mixed_2m_end=2, mixed_2m_peak=2,
                   shared_bytes_end=(P_PAGES + 1) * 4096)
        g = dict(SYN_P_GUEST, calls=4, to_shared=4, pages=P_PAGES + 1,
                 misaligned=2, shared_pages=P_PAGES + 1)
        d, s = self.patched(log, fig, g)
        a = self.res(d, s)
        self.assertFalse(a["patched-c10-misaligned-below-1m"][0])
        self.assertIn("S 0xfed00000+1p m", a["patched-c10-misaligned-below-1m"][1])
        self.assertTrue(a["patched-c10-mixed-nonram-only"][0])
        self.assertIn("[0x0 0xfec00000]", a["patched-c10-mixed-nonram-only"][1])

    def test_refused(self):
        d, s = self.patched(guest=dict(SYN_P_GUEST,
                                       **{"cc_conversion.refused": 2}))
        a = self.res(d, s)
        self.assertFalse(a["patched-c10-refused-zero"][0])
        self.assertIn("reported refused by the x86 policy: 2,",
                      a["patched-c10-refused-zero"][1])
        # a refusal of the platform (lower-case record) fails it too
        d, s = self.patched(SYN_P_LOG + "s 0x75600000 512 x+0x1/0x2\n",
                            dict(SYN_P_CONVSTAT, refused=1),
                            dict(SYN_P_GUEST, refused=1))
        a = self.res(d, s)
        self.assertTrue(a["patched-c10-crosscheck"][0])
        self.assertFalse(a["patched-c10-refused-zero"][0])
        self.assertIn("refused records in conv.log (platform): 1",
                      a["patched-c10-refused-zero"][1])

    def test_policy_and_missing_counters(self):
        # no command line: the default, warn, is expected
        d, s = self.patched(guest=dict(SYN_P_GUEST,
                                       **{"cc_conversion.policy": "strict"}))
        a = self.res(d, s)
        self.assertEqual(a["patched-c10-policy"],
                         (False, "cc_conversion_align=strict at boot, "
                          "expected warn from the command line"))
        # the command line asks for strict: strict is expected
        with open(os.path.join(d, "qemu-cmdline.txt"), "w") as fh:
            fh.write("qemu-system-x86_64 -kernel bz -append 'console=ttyS0 "
                     "cc_conversion_align=strict'\n")
        self.assertTrue(self.res(d, s)["patched-c10-policy"][0])
        g = dict((k, v) for k, v in SYN_P_GUEST.items()
                 if not k.startswith("cc_conversion."))
        d, s = self.patched(guest=g)
        a = self.res(d, s)
        for n in ("policy", "refused-zero"):
            ok, det = a["patched-c10-" + n]
            self.assertFalse(ok, n)
            self.assertIn("no 'cc_conversion: conversion granule' line", det)

    def test_mixed_region_without_nonram(self):
        # half of a 2 MiB region shared: mixed at the end, no non-RAM record
        log = SYN_P_LOG + "S 0x75600000 256 x+0x1/0x2\n"
        fig = dict(SYN_P_CONVSTAT, calls=4, pages=P_PAGES + 256,
                   misaligned=2, mixed_2m_end=2, mixed_2m_peak=2,
                   shared_bytes_end=(P_PAGES + 256) * 4096)
        d, s = self.patched(log, fig)
        a = self.res(d, s)
        ok, det = a["patched-c10-mixed-nonram-only"]
        self.assertFalse(ok)
        self.assertEqual(det, "mixed regions without a non-RAM conversion: "
                         "end 1 [0x75600000], at any time 1 [0x75600000]; "
                         "non-RAM regions [0x0]")
        # the replay must agree with the analyzer, or it proves nothing
        d, s = self.patched(log, dict(fig, mixed_2m_peak=3))
        ok, det = self.res(d, s)["patched-c10-mixed-nonram-only"]
        self.assertFalse(ok)
        self.assertIn("disagrees with the analyzer", det)

    def test_calls_bound(self):
        # the same 2 MiB region converted again and again
        cyc = "".join("S 0x75600000 512 x+0x1/0x2\nP 0x75600000 512 y+0x1/0x2\n"
                      for _ in range(40))
        fig = dict(SYN_P_CONVSTAT, calls=83, to_shared=43, to_private=40,
                   pages=P_PAGES + 80 * 512)
        d, s = self.patched(SYN_P_LOG + cyc, fig)
        ok, det = self.res(d, s)["patched-c10-calls-bound"]
        self.assertFalse(ok)
        self.assertEqual(det, "calls=83 > 66 RAM 2 MiB regions ever shared "
                         "+ 1 non-RAM calls")
        # analyzer and log must agree on the calls
        d, s = self.patched(fig=dict(SYN_P_CONVSTAT, calls=4))
        ok, det = self.res(d, s)["patched-c10-calls-bound"]
        self.assertFalse(ok)
        self.assertIn("analyzer calls=4, conv.log has 3 accepted records", det)

    def test_missing_log(self):
        d, s = self.patched()
        os.unlink(os.path.join(d, "conv.log"))
        a = self.res(d, s)
        for n in ("misaligned-below-1m", "mixed-nonram-only", "calls-bound"):
            self.assertFalse(a["patched-c10-" + n][0], n)
            self.assertIn("conv.log", a["patched-c10-" + n][1])

    def test_calls_flat_and_compare(self):
        _, p10 = self.patched(cycles=10)
        _, p50 = self.patched(cycles=50)
        _, b = make_run(self.tmp, "baseline")
        r = analyze.cross_assertions([b], [p10, p50])
        self.assertEqual([(n, ok) for n, ok, _ in r],
                         [("patched-calls-flat", True),
                          ("compare-baseline-patched", True)])
        self.assertEqual(r[0][2], "3 calls at 10 cycles, 3 calls at 50 cycles")
        self.assertTrue(r[1][2].startswith(
            "calls baseline 4 > patched 3 (cycles 10 / 10)"), r[1][2])
        # calls growing with the cycles
        fig = dict(SYN_P_CONVSTAT, calls=7)
        _, grow = self.patched(cycles=50, fig=fig,
                               guest=dict(SYN_P_GUEST, calls=7))
        (n, ok, det), = analyze.cross_assertions([], [p10, grow])
        self.assertEqual(n, "patched-calls-flat")
        self.assertFalse(ok)
        self.assertIn("3 calls at 10 cycles, 7 calls at 50 cycles: the calls "
                      "grow with the workload", det)
        # two runs of the same workload compare nothing
        _, again = self.patched(cycles=10)
        (n, ok, det), = analyze.cross_assertions([], [p10, again])
        self.assertFalse(ok)
        self.assertIn("same cycles", det)
        # a patched kernel that converts as much as the baseline
        r = analyze.cross_assertions([b], [grow])
        self.assertEqual([(n, ok) for n, ok, _ in r],
                         [("compare-baseline-patched", False)])
        self.assertIn("calls baseline 4 NOT > patched 7", r[0][2])

    def test_nocvm_check_label(self):
        # check.sh --kernels debug: the debug pair, named for the role
        d, s = self.nocvm()
        for label, variant in (("check-patched-nocvm", "debug"),
                               ("check-baseline-nocvm", "debugbase")):
            t = dict(s, label=label, variant=variant)
            r = analyze.nocvm_assertions(t, d)
            self.assertEqual(r[0][0], label[len("check-"):] + "-boot")

    def test_nocvm(self):
        d, s = self.nocvm()
        self.assertEqual(s["failures"], [])
        r = analyze.nocvm_assertions(s, d)
        self.assertEqual([n for n, _, _ in r], ["patched-nocvm-" + x for x in (
            "boot", "io", "net", "rng", "nvme-rebind", "no-conversions",
            "no-cc-swiotlb")])
        self.assertTrue(all(ok for _, ok, _ in r), r)
        a = dict((n, det) for n, _, det in r)
        self.assertEqual(a["patched-nocvm-no-conversions"],
                         "cvm=off, conv.log: 0 records, "
                         "x86 policy line: absent")
        self.assertEqual(a["patched-nocvm-no-cc-swiotlb"],
                         "no swiotlb.cc_* counters (no cc debugfs)")
        # counters present but zero are fine
        d, s = self.nocvm(guest={"swiotlb.cc_bytes": 0})
        a = dict((n, (ok, det)) for n, ok, det in
                 analyze.nocvm_assertions(s, d))
        self.assertEqual(a["patched-nocvm-no-cc-swiotlb"],
                         (True, "swiotlb.cc_bytes=0"))
        self.assertTrue(a["patched-nocvm-no-conversions"][0])

    def test_nocvm_failures(self):
        d, s = self.nocvm(log="# cvm_emulate: x\n" + VGA,
                          guest={"swiotlb.cc_bytes": 2097152,
                                 "swiotlb.cc_chunks": 1})
        a = dict((n, (ok, det)) for n, ok, det in
                 analyze.nocvm_assertions(s, d))
        self.assertEqual(a["patched-nocvm-no-conversions"],
                         (False, "cvm=off, conv.log: 1 records, "
                          "x86 policy line: absent"))
        self.assertEqual(a["patched-nocvm-no-cc-swiotlb"],
                         (False, "swiotlb.cc_bytes=2097152, swiotlb.cc_chunks"
                          "=1: shared memory in use without a CVM"))
        # a CVM run is not a run without CVM
        d, s = self.patched()
        a = dict((n, ok) for n, ok, _ in
                 analyze.nocvm_assertions(s, d, prefix="x"))
        self.assertFalse(a["x-no-conversions"])

    def test_assert_cli(self):
        b, _ = make_run(self.tmp, "baseline")
        p10, _ = self.patched(cycles=10)
        p50, _ = self.patched(cycles=50)
        n, _ = self.nocvm()
        nb, _ = self.nocvm("baseline")
        argv = [sys.executable, os.path.join(H, "analyze.py"), "--assert",
                "--baseline", b, "--patched", p10, "--patched", p50,
                "--nocvm", n, "--nocvm", nb]
        p = subprocess.run(argv, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 9 + 13 + 13 + 7 + 7 + 2)
        self.assertTrue(all(l.startswith("PASS ") and l.endswith(")")
                            for l in lines), lines)
        names = [l.split()[1] for l in lines]
        for x in ("harness-crosscheck", "patched-c10-calls-bound",
                  "patched-c50-mixed-nonram-only", "patched-nocvm-no-cc-swiotlb",
                  "baseline-nocvm-no-conversions", "patched-calls-flat",
                  "compare-baseline-patched"):
            self.assertIn(x, names)
        self.assertEqual(len(set(names)), len(names))
        # a missing run directory is a failure, the others still run
        p = subprocess.run(argv[:-2] + ["--nocvm", "/nonexistent"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("FAIL nocvm-summary (/nonexistent:", p.stdout)
        self.assertIn("PASS compare-baseline-patched", p.stdout)
        p = subprocess.run(argv[:3] + ["--patched"], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 2)

    def check_sh(self, *args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.run([os.path.join(H, "check.sh")] + list(args),
                              capture_output=True, text=True, timeout=120,
                              env=e, stdin=subprocess.DEVNULL)

    def test_check_sh_from(self):
        runs = os.path.join(self.tmp, "runs")
        make_run(self.tmp, "runs/check-baseline")
        self.patched(cycles=10, name="runs/check-patched")
        self.patched(cycles=50, name="runs/check-patched-c50")
        d, _ = self.patched(cycles=2, name="runs/check-patched-off",
                            guest=dict(SYN_P_GUEST,
                                       **{"cc_conversion.policy": "off"}))
        with open(os.path.join(d, "qemu-cmdline.txt"), "w") as fh:
            fh.write("qemu -append 'cvm_emulate=on cc_conversion_align=off'\n")
        self.nocvm(name="runs/check-patched-nocvm")
        self.nocvm("baseline", name="runs/check-baseline-nocvm")
        for name, params in (("check-patched-ccoff", "swiotlb_cc=off"),
                             ("check-patched-ccoff-strict", "swiotlb_cc=off "
                              "cc_conversion_align=strict")):
            d, _ = make_run(
                self.tmp, "runs/" + name, log=SYN_LOG.rsplit("s 0x", 1)[0],
                convstat_fig=dict(SYN_CONVSTAT, refused=0),
                guest=dict(SYN_GUEST, refused=0, **{
                    "cc_conversion.policy": "off",
                    "cc_conversion.refused": 0}))
            with open(os.path.join(d, "qemu-cmdline.txt"), "w") as fh:
                fh.write("qemu -append 'cvm_emulate=on %s'\n" % params)
        p = self.check_sh("--from", runs)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 86)
        self.assertTrue(all(l.startswith("PASS ") for l in lines), lines)
        self.assertEqual(lines[-1].split()[1], "compare-baseline-patched")
        # one bad run fails the whole check
        shutil.rmtree(os.path.join(runs, "check-patched-c50"))
        self.patched(cycles=50, name="runs/check-patched-c50",
                     fig=dict(SYN_P_CONVSTAT, calls=9),
                     guest=dict(SYN_P_GUEST, calls=9))
        p = self.check_sh("--from", runs)
        self.assertEqual(p.returncode, 1)
        self.assertIn("FAIL patched-calls-flat (3 calls at 10 cycles, 9 calls "
                      "at 50 cycles, 3 calls at 2 cycles: the calls grow with "
                      "the workload)", p.stdout)

    def test_check_sh_missing_patched_kernel(self):
        # default: make's pair; --kernels debug: make check's pair
        for args, vb, vp in (((), "baseline", "patched"),
                             (("--kernels", "debug"), "debugbase", "debug")):
            kb = os.path.join(self.tmp, "kbuild-" + vp)
            os.makedirs(os.path.join(kb, vb, "arch/x86/boot"))
            open(os.path.join(kb, vb, "arch/x86/boot/bzImage"), "w").close()
            cs = stub_convstat(self.tmp)
            p = self.check_sh(*args, env={"KBUILD": kb, "CONVSTAT": cs,
                                          "RESULTS": os.path.join(self.tmp, "res")})
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertEqual(p.stdout.splitlines(), [
                "PASS harness-kernel (%s/%s/arch/x86/boot/bzImage, %s)"
                % (kb, vb, cs),
                "FAIL patched-kernel (missing %s/%s/arch/x86/boot/bzImage: "
                "build it with 'scripts/build-kernel.sh %s')" % (kb, vp, vp)])
            self.assertFalse(os.path.exists(os.path.join(self.tmp, "res")),
                             "nothing may boot")
        p = self.check_sh("--kernels", "bogus")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--kernels needs release or debug", p.stderr)

    def test_check_sh_refuses_run_options(self):
        for opt in ("--cycles", "--variant", "--cvm", "--out"):
            p = self.check_sh(opt, "x")
            self.assertNotEqual(p.returncode, 0, opt)
            self.assertIn("check.sh chooses %s" % opt, p.stderr)


@unittest.skipUnless(os.access(REAL_CONVSTAT, os.X_OK),
                     "build/bin/convstat not built (make convstat)")
class TestWithRealConvstat(unittest.TestCase):
    """The synthetic log through the real analyzer: its figures must be the
    hand-computed ones, so the cross-check agrees with the synthetic guest
    counters and catches a mismatch."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cvm-harness-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_figures_and_crosscheck(self):
        d = os.path.join(self.tmp, "run")
        os.makedirs(d)
        with open(os.path.join(d, "conv.log"), "w") as fh:
            fh.write(SYN_LOG)
        out, err = analyze.run_convstat(REAL_CONVSTAT,
                                        os.path.join(d, "conv.log"), "json")
        self.assertIsNone(err)
        fig = json.loads(out)
        for k, v in SYN_FIGURES.items():
            self.assertEqual(fig.get(k), v, k)
        self.assertTrue(all(x["ok"] for x in analyze.crosscheck(fig, SYN_GUEST)))
        bad = analyze.crosscheck(fig, dict(SYN_GUEST, to_shared=2))
        self.assertEqual([x["name"] for x in bad if not x["ok"]], ["to_shared"])
        out, err = analyze.run_convstat(REAL_CONVSTAT,
                                        os.path.join(d, "conv.log"), "map")
        self.assertIsNone(err)
        rows = analyze.parse_map(out)
        self.assertIn((0x10a00000, 1, "mixed"), rows)

    def test_record_rules_agree_with_convstat(self):
        """parse_record() accepts exactly what convstat accepts."""
        for i, (line, ok) in enumerate(RECORD_RULES):
            p = os.path.join(self.tmp, "r%d.log" % i)
            with open(p, "wb") as fh:
                fh.write(line.encode("latin-1") + b"\n")
            out, err = analyze.run_convstat(REAL_CONVSTAT, p, "json")
            self.assertIsNone(err)
            fig = json.loads(out)
            self.assertEqual(fig["malformed"], 0 if ok else 1, repr(line))
            self.assertEqual(fig["calls"] + fig["refused"], 1 if ok else 0,
                             repr(line))

    def test_replay_agrees_with_convstat(self):
        """log_facts() replays a log like convstat: same calls, mixed
        regions at the end and at the peak."""
        logs = (SYN_LOG, SYN_P_LOG,
                SYN_P_LOG + "S 0x75600000 256 x+0x1/0x2\n",
                "S 0x200000 256 a+0x1/0x2\nS 0x300000 256 a+0x1/0x2\n"
                "S 0x400000 1 a+0x1/0x2\np 0x400000 1 a+0x1/0x2\n"
                "P 0x400000 1 a+0x1/0x2\nS 0x5ff000 2 a+0x1/0x2\n"
                "S 0x800000 8 a+0x1/0x2\nS 0x801000 8 a+0x1/0x2\n"
                "P 0x800000 16 a+0x1/0x2\n",
                # beyond 1 TiB, up to 2^52; the last two are malformed
                "S 0xfffffff000 2 a+0x1/0x2\nS 0xfffffffff000 1 a+0x1/0x2\n"
                "S 0xffffffffff000 1 a+0x1/0x2\nP 0xfffffffe00000 511 a\n"
                "S 0xffffffffff000 2 a+0x1/0x2\nS 0x10000000000000 1 a\n")
        for i, log in enumerate(logs):
            p = os.path.join(self.tmp, "l%d.log" % i)
            with open(p, "w") as fh:
                fh.write(log)
            out, err = analyze.run_convstat(REAL_CONVSTAT, p, "json")
            self.assertIsNone(err)
            fig = json.loads(out)
            f = analyze.log_facts(analyze.read_records(p), E820)
            self.assertEqual((f["calls"], len(f["mixed_end"]), f["mixed_peak"],
                              len(f["mixed_ever"])),
                             (fig["calls"], fig["mixed_2m_end"],
                              fig["mixed_2m_peak"], fig["split_2m_ever"]), i)
            out, err = analyze.run_convstat(REAL_CONVSTAT, p, "map")
            mixed = {b for b, _, st in analyze.parse_map(out) if st == "mixed"}
            self.assertEqual(f["mixed_end"], mixed, i)


class TestReport(TmpDirTest):
    def test_report(self):
        b, _ = make_run(self.tmp, "baseline")
        pfig = dict(SYN_CONVSTAT, calls=2, misaligned=0, mixed_2m_end=0,
                    mixed_2m_peak=0, split_2m_ever=0,
                    double_alloc_peak_bytes=0, sites=[])
        pg = dict(SYN_GUEST, calls=2, misaligned=0)
        p, _ = make_run(self.tmp, "patched", convstat_fig=pfig, guest=pg,
                        meta={"variant": "patched"})
        bvf = os.path.join(self.tmp, "base-version")
        with open(bvf, "w") as fh:
            fh.write("linux-source-6.12 6.12.117-1~deb12u1 linux-6.12.117\n")
        out = os.path.join(self.tmp, "results")
        # patched given first: baseline must still be the first column
        r = subprocess.run([sys.executable, os.path.join(H, "report.py"),
                            "--out", out, "--base-version", bvf, p, b],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(out, "report.md")) as fh:
            md = fh.read()
        self.assertIn("Base: `linux-source-6.12 6.12.117-1~deb12u1", md)
        self.assertIn("| figure | baseline | patched | change |", md)
        self.assertIn("| calls | 4 | 2 | -2 (-50%) |", md)
        self.assertIn("| misaligned | 3 | 0 | -3 (-100%) |", md)
        for f in analyze.CONVSTAT_FIGURES:
            self.assertIn("| %s |" % f, md)
        # host cost side by side
        self.assertIn("## Host cost (modelled: 2 MiB host pages)", md)
        self.assertIn("| host cost | baseline | patched | change |", md)
        self.assertIn("| split_2m_ever | 1 | 0 | -1 (-100%) |", md)
        self.assertIn("| double_alloc_peak_bytes | 16384 (0.0 MiB) | "
                      "0 (0.0 MiB) | -16384 (-100%) |", md)
        self.assertIn("| dma_to_private | 0 | 0 |", md)
        self.assertIn("`S dma_direct_alloc<dma_alloc_attrs<nvme_alloc_queue` | 1 | 4 | 0 | 0 |", md)
        self.assertIn("| io vda | PASS | PASS |", md)
        self.assertIn("![baseline](baseline-memory.svg)", md)
        self.assertIn("| result | agree | agree |", md)
        with open(os.path.join(out, "report.json")) as fh:
            rep = json.load(fh)
        self.assertEqual([x["label"] for x in rep["runs"]], ["baseline", "patched"])
        self.assertEqual(rep["base_version"],
                         "linux-source-6.12 6.12.117-1~deb12u1 linux-6.12.117")
        for lab in ("baseline", "patched"):
            svg = os.path.join(out, "%s-memory.svg" % lab)
            root = ET.parse(svg).getroot()
            ns = "{http://www.w3.org/2000/svg}"
            cells = [e for e in root.iter(ns + "rect") if e.get("class")]
            # e820 above: [0, 0x9fc00) + [1 MiB, 0x7ffe0000): 1024 regions
            self.assertEqual(len(cells), 1024)
            by = {}
            for e in cells:
                by[e.get("class")] = by.get(e.get("class"), 0) + 1
            self.assertEqual(by, {"private": 959, "shared": 64, "mixed": 1})
            text = "".join(root.itertext())
            for w in ("private (959)", "shared (64)", "mixed (1)"):
                self.assertIn(w, text)

    def test_layout_without_e820(self):
        run = {"label": "x", "summary": {"mem": "4G"}, "convstat": {},
               "regions": [(0x100000000, 3, "mixed")]}
        bases = report.ram_regions(run["summary"], run["regions"])
        self.assertEqual(len(bases), 2048)
        self.assertEqual(bases[0], 0)
        self.assertIn(0x100000000, bases)
        self.assertNotIn(0x80000000, bases)  # the PCI hole
        svg, counts = report.memory_svg(run)
        self.assertEqual(counts["mixed"], 1)
        ET.fromstring(svg.split("\n", 1)[1])

    def test_named_report_leaves_report_md_alone(self):
        """make harness writes report-harness.md: make's 6-run report.md,
        report.json and memory pictures stay as they are."""
        b, _ = make_run(self.tmp, "baseline")
        out = os.path.join(self.tmp, "results")
        os.makedirs(out)
        mine = {"report.md": "six runs\n", "report.json": "{}\n",
                "baseline-memory.svg": "<svg/>\n"}
        for n, t in mine.items():
            with open(os.path.join(out, n), "w") as fh:
                fh.write(t)
        r = subprocess.run([sys.executable, os.path.join(H, "report.py"),
                            "--out", out, "--name", "report-harness", b],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        for n, t in mine.items():
            with open(os.path.join(out, n)) as fh:
                self.assertEqual(fh.read(), t, n)
        with open(os.path.join(out, "report-harness.md")) as fh:
            md = fh.read()
        self.assertIn("![baseline](report-harness-baseline-memory.svg)", md)
        for n in ("report-harness.json", "report-harness-baseline-memory.svg"):
            self.assertTrue(os.path.exists(os.path.join(out, n)), n)
        self.assertIn("report-harness.md", r.stdout)

    def test_option_without_value(self):
        r = subprocess.run([sys.executable, os.path.join(H, "report.py"),
                            "--out"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertNotIn("Traceback", r.stderr)
        self.assertIn("usage:", r.stderr)

    def test_duplicate_labels_refused(self):
        b, _ = make_run(self.tmp, "baseline")
        r = subprocess.run([sys.executable, os.path.join(H, "report.py"),
                            "--out", os.path.join(self.tmp, "o"), b, b],
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("share a label", r.stderr)


class TestInitramfs(unittest.TestCase):
    def test_deterministic_and_complete(self):
        tmp = tempfile.mkdtemp(prefix="cvm-harness-test-")
        try:
            outs = []
            for i in range(2):
                o = os.path.join(tmp, "i%d.cpio.gz" % i)
                p = subprocess.run([os.path.join(H, "mkinitramfs.sh"), "--out", o],
                                   capture_output=True, text=True, timeout=120)
                self.assertEqual(p.returncode, 0, p.stderr)
                with open(o, "rb") as fh:
                    outs.append(fh.read())
            self.assertEqual(outs[0], outs[1], "initramfs not deterministic")
            names = cpio_names(gzip.decompress(outs[0]))
            for n in ("init", "bin/busybox", "bin/sh", "bin/dd", "bin/sha256sum",
                      "bin/ip", "bin/unshare", "bin/nsenter", "bin/nc",
                      "bin/poweroff", "harness/workload.sh", "dev/console",
                      "sbin"):
                self.assertIn(n, names)
        finally:
            shutil.rmtree(tmp)

    def test_mkcpio_format(self):
        tmp = tempfile.mkdtemp(prefix="cvm-harness-test-")
        try:
            src = os.path.join(tmp, "src")
            os.makedirs(os.path.join(src, "d"))
            with open(os.path.join(src, "d", "f"), "w") as fh:
                fh.write("hello")
            os.symlink("d/f", os.path.join(src, "l"))
            out = os.path.join(tmp, "o.cpio.gz")
            subprocess.run([sys.executable, os.path.join(H, "mkcpio.py"),
                            "--nod", "/dev/null:c:1:3:666", src, out], check=True)
            if shutil.which("cpio"):
                with open(out, "rb") as fh:
                    raw = gzip.decompress(fh.read())
                p = subprocess.run(["cpio", "-itv", "--quiet"], input=raw,
                                   capture_output=True)
                listing = p.stdout.decode()
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn("d/f", listing)
                self.assertIn("l -> d/f", listing)
                self.assertIn("dev/null", listing)
        finally:
            shutil.rmtree(tmp)


def cpio_names(raw):
    names = []
    i = 0
    while i < len(raw):
        assert raw[i:i + 6] == b"070701", "bad cpio magic at %d" % i
        f = [int(raw[i + 6 + 8 * k:i + 14 + 8 * k], 16) for k in range(13)]
        fsize, nsize = f[6], f[11]
        name = raw[i + 110:i + 110 + nsize - 1].decode()
        if name == "TRAILER!!!":
            break
        names.append(name)
        i += 110 + nsize
        i += (4 - i % 4) % 4
        i += fsize
        i += (4 - i % 4) % 4
    return names


@unittest.skipUnless(os.path.exists(BUSYBOX), "busybox not installed")
class TestGuestScripts(unittest.TestCase):
    def test_syntax(self):
        for f in ("init", "workload.sh"):
            p = subprocess.run([BUSYBOX, "sh", "-n", os.path.join(GUEST, f)],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, "%s: %s" % (f, p.stderr))

    def test_posix_sh_syntax(self):
        dash = shutil.which("dash")
        if not dash:
            self.skipTest("dash not installed")
        for f in ("init", "workload.sh"):
            p = subprocess.run([dash, "-n", os.path.join(GUEST, f)],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, "%s: %s" % (f, p.stderr))

    def _sh(self, script):
        return subprocess.run([BUSYBOX, "sh", "-c",
                               ". %s/workload.sh\n%s" % (GUEST, script)],
                              capture_output=True, text=True, timeout=30)

    def test_counter_files(self):
        tmp = tempfile.mkdtemp(prefix="cvm-harness-test-")
        try:
            st = os.path.join(tmp, "stats")
            with open(st, "w") as fh:
                fh.write("calls 186\nmisaligned 183\nshared_pages 32800\n")
            one = os.path.join(tmp, "io_tlb_used")
            with open(one, "w") as fh:
                fh.write("17\n")
            p = self._sh('print_counter_file %s ""; print_counter_file %s swiotlb.'
                         % (st, one))
            self.assertEqual(p.stdout.splitlines(),
                             ["GUEST calls 186", "GUEST misaligned 183",
                              "GUEST shared_pages 32800",
                              "GUEST swiotlb.io_tlb_used 17"])
            g = analyze.parse_console(p.stdout)["guest"]
            self.assertEqual(g["calls"], 186)
        finally:
            shutil.rmtree(tmp)

    def test_check_counts(self):
        p = self._sh("check io vda PASS a=1; check net hub FAIL; check x y SKIP;"
                     " echo $H_PASS $H_FAIL $H_SKIP")
        self.assertEqual(p.stdout.splitlines(),
                         ["CHECK io vda PASS a=1", "CHECK net hub FAIL",
                          "CHECK x y SKIP", "1 1 1"])


# -- kernel splats (analyze.find_splats, always on) ------------------------------

SPLAT_LOCKDEP = """\
[   12.345678] ======================================================
[   12.345679] WARNING: possible circular locking dependency detected
[   12.345680] 6.12.117 #1 Not tainted
[   12.345681] ------------------------------------------------------
[   12.345682] kworker/0:1/15 is trying to acquire lock:
[   12.345683] ffffffff82a0c0d8 (swiotlb_cc_lock){....}-{2:2}, at: swiotlb_cc_free+0x2a/0x120
"""
SPLAT_KASAN = """\
[   13.000001] ==================================================================
[   13.000002] BUG: KASAN: slab-use-after-free in swiotlb_cc_shrink_fn+0x8c/0x1f0
[   13.000003] Read of size 8 at addr ffff888004f1a6c8 by task kworker/1:2/57
"""
SPLAT_SLEEP = """\
[   14.100000] BUG: sleeping function called from invalid context at mm/vmalloc.c:2968
[   14.100001] in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 0, name: swapper/1
[   14.100002] preempt_count: 101, expected: 0
"""
SPLAT_DMA_API = """\
[   15.200000] ------------[ cut here ]------------
[   15.200001] DMA-API: nvme 0000:00:04.0: device driver frees DMA memory with wrong function [device address=0x0000000004f00000] [size=4096 bytes] [mapped as coherent] [unmapped as single]
[   15.200002] WARNING: CPU: 1 PID: 88 at kernel/dma/debug.c:1023 check_unmap+0x5b1/0x9b0
[   15.200003] Modules linked in: cvm_dma_stress(O)
[   15.200004] ---[ end trace 0000000000000000 ]---
[   15.200005] DMA-API: Mapped at:
[   15.200006]  debug_dma_map_page+0x4f/0x299
"""
SPLAT_WARN = """\
[   16.300000] ------------[ cut here ]------------
[   16.300001] WARNING: CPU: 0 PID: 1 at kernel/dma/swiotlb_cc.c:431 __swiotlb_cc_free+0x1b4/0x1e0
[   16.300002] Modules linked in:
[   16.300003] CPU: 0 UID: 0 PID: 1 Comm: sh Not tainted 6.12.117 #1
[   16.300004] RIP: 0010:__swiotlb_cc_free+0x1b4/0x1e0
[   16.300005] Call Trace:
[   16.300006]  <TASK>
[   16.300007]  ? __warn+0x8c/0x180
[   16.300008]  </TASK>
[   16.300009] ---[ end trace 0000000000000000 ]---
"""
SPLAT_PANIC = """\
[   17.400000] Kernel panic - not syncing: Fatal exception in interrupt
[   17.400001] Kernel Offset: disabled
"""
SPLAT_HUNG = """\
[  130.000000] INFO: task fio:214 blocked for more than 61 seconds.
[  130.000001]       Not tainted 6.12.117 #1
[  130.000002] "echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.
"""
SPLAT_HARDLOCKUP = """\
[  140.000000] watchdog: Watchdog detected hard LOCKUP on cpu 1
"""
BENIGN = """\
[    0.512345] DMA-API: preallocated 65536 debug entries
[    0.512346] DMA-API: debugging enabled by kernel config
[   10.000000] cvm_dma_stress: loading out-of-tree module taints kernel.
[   10.000001] software IO TLB: leaking 2048 KiB of shared memory that cannot be made private again
[   10.000002] nvme nvme0: pci function 0000:00:04.0
[   10.000003] CHECK stress alloc PASS warnings=0 bugs=0
"""


class TestSplats(TmpDirTest):
    def kinds(self, text, expected=None):
        return [(s["kind"], s["expected"])
                for s in analyze.find_splats(text, expected)]

    def test_each_kind(self):
        for text, kind in ((SPLAT_LOCKDEP, "lockdep"), (SPLAT_KASAN, "kasan"),
                           (SPLAT_SLEEP, "sleep-in-atomic"),
                           (SPLAT_DMA_API, "dma-api"), (SPLAT_WARN, "warn"),
                           (SPLAT_PANIC, "panic"), (SPLAT_HUNG, "hung-task"),
                           (SPLAT_HARDLOCKUP, "lockup")):
            with self.subTest(kind=kind):
                k = self.kinds(BENIGN + text + BENIGN)
                self.assertEqual(k[:1], [(kind, False)], k)
                # one report is one splat (its WARNING line and the
                # "DMA-API: Mapped at:" continuation included)
                self.assertEqual(len(k), 1, k)

    def test_benign_lines(self):
        self.assertEqual(analyze.find_splats(BENIGN), [])

    def test_console_and_kmsg_count_once(self):
        kmsg = "".join("KMSG " + l + "\n" for l in SPLAT_WARN.splitlines())
        sp = analyze.find_splats(SPLAT_WARN + "HARNESS DONE\n" + kmsg)
        self.assertEqual(len(sp), 1, sp)
        # only in the KMSG dump (loglevel kept it off the console): found
        self.assertEqual(len(analyze.find_splats(kmsg)), 1)

    def test_lone_cut_here(self):
        sp = analyze.find_splats("[    1.0] ------------[ cut here ]------------\n"
                                 "[    1.1] something odd\n")
        self.assertEqual([s["kind"] for s in sp], ["warn"])

    def test_expected(self):
        text = ("[    9.0] ------------[ cut here ]------------\n"
                "[    9.1] CPA VMM failure to convert memory (addr=0000000012345678, numpages=512) to private: -5\n"
                "[    9.2] WARNING: CPU: 0 PID: 40 at arch/x86/mm/pat/set_memory.c:2236 __set_memory_enc_pgtable+0x2a0/0x2f0\n")
        self.assertEqual(self.kinds(text, "CPA VMM failure"), [("warn", True)])
        self.assertEqual(self.kinds(text + SPLAT_KASAN, "CPA VMM failure"),
                         [("warn", True), ("kasan", False)])

    def test_splat_fails_the_run(self):
        for text in (SPLAT_LOCKDEP, SPLAT_KASAN, SPLAT_SLEEP, SPLAT_DMA_API,
                     SPLAT_WARN, SPLAT_PANIC, SPLAT_HUNG):
            tmp = tempfile.mkdtemp(dir=self.tmp)
            d, s = make_run(tmp)
            self.assertTrue(s["ok"], s["failures"])
            with open(os.path.join(d, "console.log"), "a") as fh:
                fh.write(BENIGN + text)
            s = analyze.analyze(d, stub_convstat(d), {})
            self.assertFalse(s["ok"])
            self.assertTrue(any(f.startswith("kernel splat (") for f in
                                s["failures"]), s["failures"])
            self.assertGreaterEqual(len(s["splats"]), 1)
        # the good run has none
        d, s = make_run(tempfile.mkdtemp(dir=self.tmp))
        self.assertEqual(s["splats"], [])


# -- stress.sh (no QEMU: its options and the summary of a run directory) -------

STRESS = os.path.join(H, "stress.sh")


def stress_run_dir(tmp, checks, splats="", result=None):
    """A run directory as run.sh leaves it after a stress scenario."""
    d = tempfile.mkdtemp(dir=tmp)
    con = "\n".join(["[    0.0] Linux version 6.12.117",
                     "HARNESS START uptime=9.0 mode=stress"] + checks +
                    [splats, "HARNESS RESULT pass=1 fail=0 skip=0",
                     "HARNESS DONE", "[   40.0] reboot: Power down"]) + "\n"
    with open(os.path.join(d, "console.log"), "w") as fh:
        fh.write(con)
    s = analyze.analyze(d, None, {"platform": "tdx", "mode": "stress",
                                  "qemu_rc": "0", "wall_s": "41.5"})
    return d, s


INV = ["CHECK invariant boot PASS shared_pages=1026",
       "CHECK invariant load-accounting PASS shared_pages=1026",
       "CHECK invariant load-ranges PASS mixed_regions=1",
       "CHECK invariant load-detector PASS dma_to_private=0",
       "CHECK invariant giveback PASS shared_pages=3074 boot=1026 leaked_pages=2048",
       "CHECK invariant end-accounting PASS shared_pages=3074",
       "CHECK invariant end-ranges PASS mixed_regions=1",
       "CHECK invariant end-detector PASS dma_to_private=0"]


class TestStress(TmpDirTest):
    def summ(self, name, d, rc=0, kind="stress"):
        return subprocess.run([STRESS, "--summarize", name, d, str(rc), kind],
                              capture_output=True, text=True, timeout=60)

    def test_options(self):
        p = subprocess.run([STRESS, "--list"], capture_output=True, text=True)
        self.assertEqual(p.stdout.split(), ["rebind", "swiotlb", "alloc",
                                            "pagefail", "fragment", "lowmask",
                                            "convfail", "periodic", "probefail",
                                            "chaos", "badinput"])
        p = subprocess.run([STRESS, "--scenario", "bogus", "--no-build"],
                           capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("unknown scenario 'bogus'", p.stderr)
        p = subprocess.run([STRESS, "--help"], capture_output=True, text=True)
        self.assertIn("--reduced", p.stdout)

    def test_summary_probefail(self):
        d, s = stress_run_dir(self.tmp, INV + [
            "CHECK stress probefail PASS runs=48 end=time in_bind=5 in_probe=13 "
            "in_find_vqs=15 survived=15 budget_bytes=46080 step=256 device=virtio1",
            "CHECK io sda-after-probefail PASS disk=scsi dev=sda offset=0 bytes=8"])
        p = self.summ("probefail", d)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("inside virtio_find_vqs() 15 (its error path)", p.stdout)
        # without the I/O check after the sweep: a failure
        d, s = stress_run_dir(self.tmp, INV + [
            "CHECK stress probefail PASS runs=1 end=none in_bind=0 in_probe=1 "
            "in_find_vqs=1 survived=0 budget_bytes=0 step=256 device=virtio1"])
        p = self.summ("probefail", d)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("io sda-after-probefail", p.stdout)

    def test_summary_chaos(self):
        base = INV + ["CHECK stress chaos-alloc PASS allocs=900 bytes=100 errors=0"]
        chaos = ("CHECK stress chaos PASS seconds=30 rebinds=7 binds_failed=3 "
                 "slab_failures=12 page_failures=40 refused=25 every=3")
        # the figures, and every check the scenario needs: the I/O loops
        # on virtio-blk and virtio-scsi and the nvme disk after the
        # injectors are missing here
        d, s = stress_run_dir(self.tmp, base + [chaos])
        p = self.summ("chaos", d)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("7 rebinds of nvme + virtio-net (3 binds failed), 12 slab and "
                      "40 order-9 page allocations failed, 25 conversions refused",
                      p.stdout)
        self.assertIn("missing checks: io vda-stress, io sda-stress, "
                      "io nvme0n1-after-chaos", p.stdout)
        d, s = stress_run_dir(self.tmp, base + [
            chaos.replace("PASS", "FAIL") + " reason=nothing-refused"])
        p = self.summ("chaos", d)
        self.assertIn("failed checks: stress chaos", p.stdout)

    def test_summary_lowmask(self):
        d, s = stress_run_dir(self.tmp, INV + [
            "CHECK stress lowmask-alloc PASS allocs=900 bytes=100 errors=0",
            "CHECK stress lowmask PASS devices=4 min_mask_bits=24 "
            "min_mask_allocs=210 low_mask_allocs=430 nomem_kernel=0 calls=4 "
            "misaligned=0 cc_grow=1 cc_bytes=6291456"])
        p = self.summ("lowmask", d)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("devices down to 24 bits: 210 allocations of the 24-bit "
                      "device (430 below 32 bits), blocking allocations that "
                      "failed 0; 4 conversion calls, 0 below 2 MiB; 1 chunks "
                      "grown", p.stdout)
        self.assertIn("lowmask-alloc: 900 allocs", p.stdout)
        # the guest's verdict is the scenario's
        d, s = stress_run_dir(self.tmp, INV + [
            "CHECK stress lowmask-alloc PASS allocs=900 bytes=100 errors=0",
            "CHECK stress lowmask FAIL devices=4 min_mask_bits=24 "
            "min_mask_allocs=0 nomem_kernel=3 reason=blocking-allocation-failed"])
        p = self.summ("lowmask", d)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("failed checks: stress lowmask", p.stdout)
        # without the module's own check: missing
        d, s = stress_run_dir(self.tmp, INV + [
            "CHECK stress lowmask PASS devices=4 min_mask_bits=24"])
        p = self.summ("lowmask", d)
        self.assertIn("missing checks: stress lowmask-alloc", p.stdout)

    def test_summary_pass_and_figures(self):
        d, s = stress_run_dir(self.tmp, INV + [
            "CHECK stress convfail PASS every=3 refused_shared=3 refused_private=2",
            "CHECK stress convfail-shared PASS allocs=10 bytes=100 errors=0",
            "CHECK stress convfail-private PASS allocs=12 bytes=120 errors=0"] + [
            "CHECK io %s-stress PASS disk=x rounds=2 io_bytes=100 eio=1 corrupt=0"
            % d for d in ("vda", "sda", "nvme0n1")])
        p = self.summ("convfail", d)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertTrue(p.stdout.startswith("PASS stress-convfail ("), p.stdout)
        for f in ("to shared 3, to private 2", "leaked 2048 pages",
                  "shared end 3074 = boot 1026 + leaked 2048", "splats 0",
                  "shutdown clean", "eio 3, corrupt 0", "wall 41.5s"):
            self.assertIn(f, p.stdout)

    def test_summary_failures(self):
        # a missing invariant, a splat, an unclean end, run.sh's status
        d, s = stress_run_dir(self.tmp, INV[:-1] + ["CHECK stress alloc PASS allocs=5 errors=0"])
        p = self.summ("alloc", d)
        self.assertEqual(p.returncode, 1)
        self.assertIn("missing checks: invariant end-detector", p.stdout)
        d, s = stress_run_dir(self.tmp, INV + ["CHECK stress alloc PASS allocs=5 errors=0"],
                              splats="[   30.0] BUG: KASAN: slab-out-of-bounds in x+0x1/0x2")
        p = self.summ("alloc", d, rc=1)
        self.assertTrue(p.stdout.startswith("FAIL stress-alloc"), p.stdout)
        self.assertIn("splats 1", p.stdout)
        d, s = stress_run_dir(self.tmp, INV + ["CHECK stress alloc PASS allocs=5 errors=0"])
        self.assertEqual(self.summ("alloc", d).returncode, 0)
        self.assertEqual(self.summ("alloc", d, rc=1).returncode, 1)
        with open(os.path.join(d, "console.log")) as fh:
            con = fh.read().replace("reboot: Power down", "")
        with open(os.path.join(d, "console.log"), "w") as fh:
            fh.write(con)
        p = self.summ("alloc", d)
        self.assertEqual(p.returncode, 1)
        self.assertIn("shutdown NOT clean", p.stdout)

    def test_guest_scripts(self):
        for f in ("mode-stress.sh", "mode-badinput.sh"):
            for sh in ([BUSYBOX, "sh", "-n"], ["dash", "-n"]):
                if not shutil.which(sh[0]):
                    continue
                p = subprocess.run(sh + [os.path.join(GUEST, f)],
                                   capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, "%s %s: %s" % (sh, f, p.stderr))


def main():
    ap = argparse.ArgumentParser(
        prog="test_harness.py", description=__doc__,
        usage="%(prog)s [--help] [NAME-FILTER...]",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("filters", nargs="*", metavar="NAME-FILTER",
                    help="run only the tests whose id contains one of these")
    filters = ap.parse_args().filters
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromModule(sys.modules[__name__])
    # make bench's offline tests (scripts/bench/), next to this file
    sys.path.insert(0, HERE)
    suite.addTests(loader.loadTestsFromModule(__import__("test_bench")))
    if filters:
        suite = unittest.TestSuite(
            t for t in _flatten(suite) if any(a in t.id() for a in filters))
    r = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(r.failures) + len(r.errors) + len(r.unexpectedSuccesses)
    skipped = len(r.skipped)
    passed = r.testsRun - failed - skipped
    if skipped:
        print("%d skipped: %s" % (skipped, "; ".join(
            "%s (%s)" % (t.id().split(".", 1)[1], why) for t, why in r.skipped)))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def _flatten(s):
    for t in s:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t


class ExpectedPolicyTest(unittest.TestCase):
    """The policy the series gives the emulated CVM guest (2 MiB granule)
    for each command line the harness uses."""

    def test_rule(self):
        e = analyze.expected_policy
        self.assertEqual(e([]), "warn")
        self.assertEqual(e(["cc_conversion_align=strict"]), "strict")
        self.assertEqual(e(["cc_conversion_align=off"]), "off")
        # malformed values leave the default
        self.assertEqual(e(["cc_conversion_align=bogus"]), "warn")
        self.assertEqual(e(["cc_conversion_align=strict",
                            "cc_conversion_align=x"]), "strict")
        # swiotlb_cc=off: off whatever cc_conversion_align says
        self.assertEqual(e(["swiotlb_cc=off"]), "off")
        self.assertEqual(e(["swiotlb_cc=off", "cc_conversion_align=strict"]),
                         "off")
        self.assertEqual(e(["swiotlb_cc=off", "swiotlb_cc=4M",
                            "cc_conversion_align=strict"]), "strict")

    def test_kernel_params(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(analyze.kernel_params(d), [])
            with open(os.path.join(d, "qemu-cmdline.txt"), "w") as fh:
                fh.write("qemu -m 2G -append 'a=1 swiotlb_cc=off b' -smp 2\n")
            self.assertEqual(analyze.kernel_params(d),
                             ["a=1", "swiotlb_cc=off", "b"])

    def test_stock_run(self):
        # the patched kernel with swiotlb_cc=off: baseline assertions plus
        # policy off and nothing refused
        with tempfile.TemporaryDirectory() as tmp:
            g = dict(SYN_GUEST, **{"cc_conversion.policy": "off",
                                   "cc_conversion.refused": 0})
            d, s = make_run(tmp, "check-patched-ccoff", guest=g)
            with open(os.path.join(d, "qemu-cmdline.txt"), "w") as fh:
                fh.write("qemu -append 'cvm_emulate=on swiotlb_cc=off'\n")
            r = {n: ok for n, ok, _ in analyze.stock_assertions(s, d)}
            # the synthetic log holds one refused (platform) record
            self.assertFalse(r.pop("patched-ccoff-refused-zero"))
            self.assertTrue(all(r.values()), r)
            self.assertIn("patched-ccoff-baseline-misaligned", r)
            self.assertIn("patched-ccoff-policy", r)
            # a guest that still warns there fails
            g["cc_conversion.policy"] = "warn"
            d, s = make_run(tmp, "check-patched-ccoff2", guest=g)
            with open(os.path.join(d, "qemu-cmdline.txt"), "w") as fh:
                fh.write("qemu -append 'swiotlb_cc=off "
                         "cc_conversion_align=strict'\n")
            r = {n: ok for n, ok, _ in analyze.stock_assertions(s, d)}
            self.assertFalse(r["patched-ccoff2-policy"])


class InventoryOfSiteTest(unittest.TestCase):
    """The report names the inventory rows of each conversion-log site."""

    def test_sites(self):
        inv = report.load_inventory()
        self.assertGreater(len(inv), 50)
        self.assertEqual(report.inventory_of(
            "S dma_direct_alloc<dma_alloc_attrs<nvme_alloc_queue", inv),
            "kernel/dma/direct.c:dma_direct_alloc [shared-chunks]")
        self.assertEqual(report.inventory_of(
            "S vgacon_startup<con_init<console_init", inv),
            "drivers/video/console/vgacon.c:vgacon_startup [exempt:nonram]")
        # the second frame when the first has no row (an inlined helper)
        self.assertEqual(report.inventory_of(
            "S nosuchfn<atomic_pool_expand<x", inv),
            "kernel/dma/pool.c:atomic_pool_expand [shared-chunks]")
        self.assertEqual(report.inventory_of("S a<b<c", inv), "")



# -- stalls (run.sh --stall, scripts/harness/stall.py) --------------------------

import stall  # noqa: E402


class TestStall(TmpDirTest):
    def test_stalled_run_fails_and_names_the_device(self):
        d, s = make_run(self.tmp)
        self.assertTrue(s["ok"], s["failures"])
        s = analyze.analyze(d, stub_convstat(d),
                            {"stalled": "1", "stall_device": "vda"})
        self.assertFalse(s["ok"])
        self.assertTrue(s["stalled"])
        self.assertEqual(s["stall_device"], "vda")
        self.assertTrue(any(f.startswith("stall:") and "vda" in f
                            for f in s["failures"]), s["failures"])

    def test_last_job(self):
        con = os.path.join(self.tmp, "console.log")
        with open(con, "w") as fh:
            fh.write("HARNESS JOB dev=vda job=randread4k\n"
                     "BENCH fio dev=vda kind=blk job=randread4k bw_kib=1\n"
                     "HARNESS JOB dev=nvme0n1 job=randwrite4k\n")
        self.assertEqual(stall.last_job(con), ("nvme0n1", "randwrite4k"))
        self.assertEqual(stall.last_job(os.path.join(self.tmp, "none")),
                         (None, None))

    def test_no_qemu(self):
        out, text = stall.collect(os.path.join(self.tmp, "no.sock"))
        self.assertTrue(out["errors"] and out["errors"][0].startswith("QMP"))
        self.assertEqual(stall.main(["--qmp", os.path.join(self.tmp, "no.sock"),
                                     "--out", self.tmp]), 1)
        self.assertTrue(os.path.exists(os.path.join(self.tmp, "stall.json")))

    @unittest.skipUnless(shutil.which("qemu-system-x86_64"), "needs QEMU")
    def test_collect_from_qemu(self):
        """A real QEMU (no guest: -S), virtio-blk and virtio-net: every
        device and queue is reported, nothing is in flight, and the vCPU
        registers are there."""
        sock = os.path.join(self.tmp, "qmp.sock")
        img = os.path.join(self.tmp, "d.img")
        with open(img, "wb") as fh:
            fh.truncate(1 << 20)
        q = subprocess.Popen(
            ["qemu-system-x86_64", "-nodefaults", "-display", "none", "-S",
             "-machine", "q35", "-accel", "tcg",
             "-qmp", "unix:%s,server=on,wait=off" % sock,
             "-drive", "file=%s,format=raw,if=none,id=d0" % img,
             "-device", "virtio-blk-pci,drive=d0",
             "-netdev", "hubport,id=n0,hubid=0",
             "-device", "virtio-net-pci,netdev=n0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                if os.path.exists(sock) or q.poll() is not None:
                    break
                time.sleep(0.1)
            out, text = stall.collect(sock)
        finally:
            q.kill()
            q.wait()
        self.assertEqual(out["errors"], [])
        self.assertEqual(out["queues_in_flight"], [])
        self.assertIn("virtio-queue-status virtio-blk queue 0", text)
        self.assertIn("virtio-queue-status virtio-net queue 2", text)
        self.assertIn("==== info registers -a", text)
        self.assertIn("EIP=", text)


if __name__ == "__main__":
    sys.exit(main())
