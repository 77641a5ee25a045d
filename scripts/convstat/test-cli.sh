#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# CLI test for convstat: runs the binary on a small sample log and checks the
# JSON figures, the text summary, --map and the exit codes.
#
# usage: test-cli.sh PATH/TO/convstat
# CONVSTAT_WRAPPER (e.g. "valgrind -q --error-exitcode=1") prefixes each run.

set -u

case "${1:-}" in
-h|--help)
	awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); if (n || $0 != "") { print; n++ }; next }
	     NR > 2 { exit }' "$0"
	exit 0 ;;
esac

BIN=${1:?usage: test-cli.sh PATH/TO/convstat}
WRAP=${CONVSTAT_WRAPPER:-}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "  FAIL: $*" >&2; }

# run ARGS...: sets $out, $err, $rc
run() {
	# shellcheck disable=SC2086
	$WRAP "$BIN" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	out=$(cat "$TMP/out")
	err=$(cat "$TMP/err")
}

expect_rc() {
	if [ "$rc" -eq "$1" ]; then ok; else bad "$2: exit $rc, expected $1 (stderr: $err)"; fi
}

# Sample log: 8 accepted records (7 misaligned), 1 refused, 3 malformed,
# comment and blank lines; the expected figures are worked out after it.
cat >"$TMP/log" <<'LOG'
# kernel 6.12.9 cvm_emulate=1
S 0x200000 512 dma_direct_alloc+0x1c4/0x2e0<dma_alloc_attrs+0x6f/0xd0<nvme_alloc_queue+0x8a/0x1b0

S 0x400000 1 swiotlb_map+0x10/0x20<dma_map_page_attrs+0x1/0x2<e1000_xmit+0x3/0x4
S 0x401000 1 swiotlb_map+0x11/0x20<dma_map_page_attrs+0x5/0x2<e1000_xmit+0x7/0x4
P 0x400000 1 swiotlb_unmap+0x1/0x2<dma_unmap_page_attrs+0x3/0x4<e1000_clean+0x5/0x6
s 0x400000 1 swiotlb_map+0x10/0x20<dma_map_page_attrs+0x1/0x2<e1000_xmit+0x3/0x4
S 0x1ff000 514 big+0x1/0x2
P 0x1000000 4 ?
this is not a record
S 0xzz 1 f+0x1/0x2
S 0x10000000000 1 f+0x1/0x2
S 0x600000 1 nvme_setup+0x3d/0x60 [nvme]
S 0x800000 3 we"ird\sym+0x1/0x2
LOG
# Walk-through:
#  S 0x200000 512  : shared 512, mixed 0, redundant 0, snp 1
#  S 0x400000 1    : shared 513, mixed 1 (0x400000), snp 1
#  S 0x401000 1    : shared 514, mixed 1, snp 1
#  P 0x400000 1    : shared 513, mixed 1, snp 1
#  S 0x1ff000 514  : pages 0x1ff000 (new), 0x200000-0x3fffff (512 redundant),
#                    0x400000 (new): shared 515, mixed 2 (0x0, 0x400000), snp 1
#  P 0x1000000 4   : 4 redundant, snp 1
#  S 0x600000 1    : shared 516, mixed 3, snp 1
#  S 0x800000 3    : shared 519, mixed 4, snp 1
# => shared_bytes_end = peak = 519 * 4096 = 2125824, mixed end = peak = 4,
#    redundant 516, snp_exits 8, tdx_calls 8, refused 1, malformed 3.

check_json() {
	python3 - "$TMP/out" <<'PY'
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
want = {
    "calls": 8, "to_shared": 6, "to_private": 2, "refused": 1,
    "pages": 512 + 1 + 1 + 1 + 514 + 4 + 1 + 3, "misaligned": 7,
    "mixed_2m_end": 4, "mixed_2m_peak": 4,
    "shared_bytes_end": 519 * 4096, "shared_bytes_peak": 519 * 4096,
    "tdx_calls": 8, "snp_exits": 8, "malformed": 3, "redundant_pages": 516,
}
sites = [
    {"site": "S swiotlb_map<dma_map_page_attrs<e1000_xmit", "calls": 2, "pages": 2},
    {"site": "S big", "calls": 1, "pages": 514},
    {"site": "P ?", "calls": 1, "pages": 4},
    {"site": 'S we"ird\\sym', "calls": 1, "pages": 3},
    {"site": "P swiotlb_unmap<dma_unmap_page_attrs<e1000_clean", "calls": 1, "pages": 1},
    {"site": "S nvme_setup [nvme]", "calls": 1, "pages": 1},
]
errs = []
if list(d.keys()) != list(want.keys()) + ["sites"]:
    errs.append("keys: %s" % list(d.keys()))
for k, v in want.items():
    if d.get(k) != v:
        errs.append("%s = %r, expected %r" % (k, d.get(k), v))
if d.get("sites") != sites:
    errs.append("sites = %r" % d.get("sites"))
for e in errs:
    print("  " + e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY
}

# --json on a file, on stdin and on '-'
run --json "$TMP/log"
expect_rc 0 "--json FILE"
if check_json; then ok; else bad "--json FILE figures"; fi
# grep-level checks too (do not depend on python)
if grep -q '"calls": 8,' "$TMP/out" && grep -q '"snp_exits": 8,' "$TMP/out" &&
   grep -q '"site": "S we\\"ird\\\\sym"' "$TMP/out"; then ok; else bad "--json grep"; fi

$WRAP "$BIN" --json <"$TMP/log" >"$TMP/out" 2>"$TMP/err"; rc=$?
expect_rc 0 "--json <stdin"
if check_json; then ok; else bad "--json stdin figures"; fi

$WRAP "$BIN" --json - <"$TMP/log" >"$TMP/out" 2>"$TMP/err"; rc=$?
expect_rc 0 "--json -"
if check_json; then ok; else bad "--json - figures"; fi

# CRLF line ends and a missing final new line give the same figures.
sed 's/$/\r/' "$TMP/log" | head -c -2 >"$TMP/log.crlf"
run --json "$TMP/log.crlf"
expect_rc 0 "--json CRLF"
if check_json; then ok; else bad "--json CRLF figures"; fi

# Empty input: all zero, empty sites.
: >"$TMP/empty"
run --json "$TMP/empty"
expect_rc 0 "--json empty"
if python3 - "$TMP/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["sites"] == [] and all(v == 0 for k, v in d.items() if k != "sites") else 1)
PY
then ok; else bad "empty input figures: $out"; fi

# Text summary with the site table sorted by calls.
run "$TMP/log"
expect_rc 0 "text"
if grep -Eq '^calls +8$' <<<"$out" && grep -Eq '^malformed +3$' <<<"$out" &&
   grep -Eq '^shared_bytes_peak +2125824 ' <<<"$out"; then ok; else bad "text figures: $out"; fi
first_site=$(grep -E '^ +[0-9]+ +[0-9]+  ' <<<"$out" | head -n 1)
if grep -Eq '^ +2 +2  S swiotlb_map<dma_map_page_attrs<e1000_xmit$' <<<"$first_site"
then ok; else bad "text site table: $first_site"; fi

# --map: every touched 2 MiB region, ascending.
run --map "$TMP/log"
expect_rc 0 "--map"
expected_map='0x0 1 mixed
0x200000 512 shared
0x400000 2 mixed
0x600000 1 mixed
0x800000 3 mixed
0x1000000 0 private'
if [ "$out" = "$expected_map" ]; then ok; else bad "--map output: $out"; fi

# Usage errors and unreadable input: exit 2 with a message.
run --bogus "$TMP/log"
expect_rc 2 "unknown option"
if grep -q "unknown option" <<<"$err"; then ok; else bad "unknown option message"; fi
run "$TMP/log" "$TMP/log"
expect_rc 2 "two files"
run --json --map "$TMP/log"
expect_rc 2 "--json --map"
run "$TMP/does-not-exist"
expect_rc 2 "missing file"
if grep -q "cannot open" <<<"$err"; then ok; else bad "missing file message: $err"; fi
run "$TMP"
expect_rc 2 "directory"
if grep -q "cannot read" <<<"$err"; then ok; else bad "directory message: $err"; fi
run --help
expect_rc 0 "--help"
if grep -q "usage: convstat" <<<"$out"; then ok; else bad "--help text"; fi

echo "test-cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
