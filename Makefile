# SPDX-License-Identifier: GPL-2.0
# cvm-dma-align: thin targets over scripts/ (each script has --help).

# The one place the base tree is pinned.  If this Debian version leaves the
# archive, scripts/deps.sh falls back to the newest linux-source-6.12 and
# says so loudly; every output records the exact version (build/base-version).
LINUX_SOURCE_VERSION := 6.12.117-1~deb12u1
# Revision of the series: subjects read "[PATCH v$(SERIES_VERSION) 00/NN]".
SERIES_VERSION := 9

export LINUX_SOURCE_VERSION SERIES_VERSION
FORCE ?= 0
S := scripts

.PHONY: all help deps tree export export-test kernels build-baseline \
	build-patched build-debug build-debugbase convstat initramfs harness harness-swiotlb \
	check-harness test-harness test-tooling test-tooling-unit inventory lint kunit \
	kunit-mutants check gates gate-am soak \
	gate-checkpatch gate-sparse gate-w1 gate-b4 gate-bisect clean \
	distclean

all: ## the main job: build both kernels, boot them, write the report in results/
	@$(S)/main.sh

help: ## this list
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | \
		awk -F':.*## ' '{ printf "  %-18s %s\n", $$1, $$2 }'

deps: ## install the Debian packages the project needs (apt-get)
	@$(S)/deps.sh

tree: deps ## base tree from linux-source-6.12 + branches series/test-base/test-series (FORCE=1 discards unexported work)
	@$(S)/prepare-tree.sh $(if $(filter 1,$(FORCE)),--force) all

export: ## regenerate patches/fixes/ from the fixes branch and patches/ from the series branch (format-patch, cover letters)
	@$(S)/export-series.sh --fixes
	@$(S)/export-series.sh

export-mine: ## the series under your git user.name/user.email, to send it: build/export-mine/ (patches/ keeps the project identity)
	@$(S)/export-series.sh --as-me --fixes
	@$(S)/export-series.sh --as-me

export-test: ## regenerate kernel/patches/ from the test-base branch
	@$(S)/export-series.sh --test

kernels: build-baseline build-patched ## build the baseline and patched guest kernels

build-baseline: ## build the baseline guest kernel (base + test-only patches)
	@$(S)/build-kernel.sh baseline

build-patched: ## build the patched guest kernel (series + test-only patches)
	@$(S)/build-kernel.sh patched

build-debug: ## make check's patched kernel: the series + lockdep, DMA-API debug, fault injection, KUnit suites =m
	@$(S)/build-kernel.sh debug
build-debugbase: ## make check's baseline kernel: base + the same debug options
	@$(S)/build-kernel.sh debugbase

convstat: ## build the conversion-log analyzer to build/bin/convstat
	@$(MAKE) -s -C scripts/convstat O=$(CURDIR)/build/bin

initramfs: ## build build/initramfs.cpio.gz (busybox + guest workload)
	@$(S)/harness/mkinitramfs.sh

harness: convstat ## boot the already built baseline and patched kernels, write results/report-harness.md (not make's report.md)
	@$(S)/harness/run.sh --variant baseline && $(S)/harness/run.sh --variant patched && \
	 python3 $(S)/harness/report.py --name report-harness results/runs/baseline results/runs/patched

harness-swiotlb: convstat ## the same with swiotlb=1024 (forces dynamic SWIOTLB growth): results/report-harness-swiotlb.md
	@$(S)/harness/run.sh --variant baseline --swiotlb 1024 && \
	 $(S)/harness/run.sh --variant patched --swiotlb 1024 && \
	 python3 $(S)/harness/report.py --name report-harness-swiotlb results/runs/baseline-swiotlb results/runs/patched-swiotlb

bench: convstat ## guest and host cost, baseline vs patched (dma_alloc, dma_map_benchmark, fio, scale axes): results/bench/report.md (long; see scripts/bench/bench.sh --help)
	@$(S)/bench/bench.sh $(BENCH_ARGS)

soak: convstat ## hangs and the fio ratio: 100 fio runs per kernel (20 boots of 5 rounds), ABBA, resumable (about 2 h; SOAK_ARGS="--runs 4"): results/soak/report.md
	@$(S)/bench/soak.sh $(SOAK_ARGS)

bench-carve: convstat ## bitmap (the series) vs genalloc carving of 2 MiB chunks, 1 and 8 vCPUs: results/bench/carve/report.md
	@$(S)/bench/carve.sh

kunit: ## the series' KUnit suites with kunit.py: series alone, then on the emulated CVM
	@kunit/run.sh all

kunit-modules: convstat ## the KUnit suites built as modules (=m) in the debug kernel, loaded, checked and unloaded in a plain VM and on the emulated CVM
	@$(S)/harness/kunit-modules.sh

kunit-mutants: ## break covered code on purpose (kunit/mutants.sh); each mutant must fail a KUnit test
	@kunit/mutants.sh

check-harness: convstat ## boot baseline and patched (CVM and plain) and print the harness assertions
	@$(S)/harness/check.sh

stress: convstat ## stress scenarios, full set, on the kasan kernel (debug + KASAN; hung-task detector on, lockup detectors off)
	@$(S)/harness/stress.sh

test-harness: ## offline harness tests (no kernel, no QEMU)
	@tests/harness/run-tests.sh

test-tooling: ## self-tests of the round trip and of every gate (good, empty, broken series)
	@$(S)/test-tooling.sh

inventory: ## conversion-site inventory: every caller at the series matches Documentation/conversion-sites.tsv (scripts/inventory.sh --help)
	@$(S)/inventory.sh $(INVENTORY_ARGS)

test-tooling-unit: ## offline tests of check.sh, gates.sh, every --help, the kunit lock, report names (no tree, no build)
	@tests/tooling/run-tests.sh

lint: ## shellcheck (exceptions in .shellcheckrc) and pyflakes3 on every script; ends with "lint: N passed, N failed"
	@$(S)/lint.sh

gates: gate-am gate-checkpatch gate-sparse gate-w1 gate-b4 gate-bisect ## all quality gates of the series

gate-am: ## each fix applies alone, then fixes + series with git am on a fresh base
	@$(S)/gates.sh am

gate-checkpatch: ## checkpatch.pl --strict: 0 errors, 0 warnings on every patch
	@$(S)/gates.sh checkpatch

gate-sparse: ## sparse (C=2) reports nothing new on the files the series touches
	@$(S)/gates.sh sparse

gate-w1: ## a W=1 build of the touched objects adds no warning
	@$(S)/gates.sh w1

gate-b4: ## b4 --offline-mode am -m accepts the exported mbox
	@$(S)/gates.sh b4

gate-bisect: ## every patch builds on its own (touched objects, W=1, at each commit)
	@$(S)/gates.sh bisect

check: ## all tests: tooling, gates, KUnit, harness assertions; ends with "N passed, N failed"
	@$(S)/check.sh

clean: ## remove build outputs (kernel builds, initramfs, results), keep the tree
	rm -rf build/kbuild build/src/*/.kbuild-* build/bin build/initramfs* build/gates results

distclean: ## remove everything generated, including the kernel tree
	rm -rf build results
