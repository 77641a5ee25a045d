#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Tests of the harness that need no kernel build and no QEMU run (command
# lines for tcg/tdx/snp, console and counter parsing, cross-check, report,
# initramfs, guest scripts).  The last line is "N passed, N failed".
#
# usage: tests/harness/run-tests.sh [--help] [NAME-FILTER...]
set -uo pipefail
case "${1:-}" in
-h|--help) awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "$0"; exit 0 ;;
esac
exec python3 "$(dirname "$0")/test_harness.py" "$@"
