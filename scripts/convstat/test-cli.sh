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
S 0x10000000000000 1 f+0x1/0x2
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
#    redundant 516, snp_exits 8, tdx_calls 8, refused 1, malformed 3 (one
#    is S 0x10000000000000: at 2^52).
#    Host cost: regions 0x400000, 0x0, 0x600000, 0x800000 were mixed:
#    split_2m_ever 4; shared pages in mixed regions after each call:
#    0 1 2 1 3 3 4 7: double_alloc_peak_bytes = 7 * 4096 = 28672.

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
    "split_2m_ever": 4, "double_alloc_peak_bytes": 7 * 4096,
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
   grep -Eq '^shared_bytes_peak +2125824 ' <<<"$out" &&
   grep -Eq '^split_2m_ever +4$' <<<"$out" &&
   grep -Eq '^double_alloc_peak_bytes +28672 \(0\.0 MiB\)$' <<<"$out"
then ok; else bad "text figures: $out"; fi
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

# Independent reference model (Python, one set of shared 4 KiB pages per
# 2 MiB region, every figure recomputed from scratch after each call) fed
# the same random streams as convstat: unaligned, overlapping, straddling,
# refused and malformed records (ranges ending beyond 2^52, garbage), in
# clusters at 0, across the old 1 TiB limit, at 2^51 and at the top of the
# 52-bit space.  Every --json figure and the --map output must agree.
cat >"$TMP/model.py" <<'PY'
import json, random, sys

LIMIT, PAGE, RP = 1 << 52, 4096, 512
REGION = RP * PAGE


def gen(seed, n):
    rnd = random.Random(seed)
    bases = [0, (1 << 40) - 4 * REGION, (1 << 51) + 1000 * REGION,
             LIMIT - 16 * REGION]
    out = ["# model stream seed %d" % seed]
    for _ in range(n):
        base = rnd.choice(bases)
        span = 16 * RP                   # every cluster is 16 regions
        k = rnd.randrange(10)
        if k < 3:                        # a few pages anywhere
            first, cnt = rnd.randrange(span), rnd.randint(1, 8)
        elif k < 5:                      # up to three regions anywhere
            first, cnt = rnd.randrange(span), rnd.randint(1, 3 * RP)
        elif k < 7:                      # aligned regions
            first, cnt = rnd.randrange(16) * RP, RP * rnd.randint(1, 3)
        elif k < 9:                      # across a region boundary
            first = rnd.randrange(1, 16) * RP - rnd.randint(1, 4)
            cnt = rnd.randint(1, RP + 8)
        else:                            # large: runs of 16+ regions too
            first, cnt = rnd.randrange(span), rnd.randint(1, 2 * span)
        gpa = base + first * PAGE
        if gpa + cnt * PAGE > LIMIT and rnd.random() < 0.8:
            cnt = (LIMIT - gpa) // PAGE  # mostly ending at 2^52 exactly
        d = rnd.choice("SP")
        r = rnd.random()
        if r < 0.08:
            d = d.lower()                # refused
        elif r < 0.10:
            out.append(rnd.choice(["garbage", "S 0x1001 1 f", "S 0x0 0 f",
                                   "P 0x%x 1 f" % LIMIT]))
            continue
        site = rnd.choice(["f+0x1/0x2", "g+0x10/0x20<h+0x3/0x4", "?"])
        out.append("%s 0x%x %d %s" % (d, gpa, cnt, site))
    return "\n".join(out) + "\n"


def snp_entries(first, cnt):
    end = first + cnt
    a, b = -(-first // RP) * RP, end // RP * RP
    if a >= b:
        return cnt
    blocks = (b - a) // RP
    return blocks + cnt - blocks * RP


def model(text):
    f = dict.fromkeys(("calls", "to_shared", "to_private", "refused",
                       "pages", "misaligned", "mixed_2m_end",
                       "mixed_2m_peak", "shared_bytes_end",
                       "shared_bytes_peak", "tdx_calls", "snp_exits",
                       "malformed", "redundant_pages", "split_2m_ever",
                       "double_alloc_peak_bytes"), 0)
    shared = {}                          # region -> set of shared page numbers
    ever = set()
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        w = line.split(" ")
        try:
            d, gpa, cnt = w[0], int(w[1], 16), int(w[2])
            ok = (d in ("S", "P", "s", "p") and w[1].startswith("0x") and
                  gpa % PAGE == 0 and cnt > 0 and gpa + cnt * PAGE <= LIMIT
                  and len(w) > 3)
        except (ValueError, IndexError):
            ok = False
        if not ok:
            f["malformed"] += 1
            continue
        if d.islower():
            f["refused"] += 1
            continue
        first = gpa // PAGE
        f["calls"] += 1
        f["tdx_calls"] += 1
        f["to_shared" if d == "S" else "to_private"] += 1
        f["pages"] += cnt
        f["misaligned"] += first % RP != 0 or cnt % RP != 0
        f["snp_exits"] += -(-snp_entries(first, cnt) // 253)
        for pfn in range(first, first + cnt):
            s = shared.setdefault(pfn // RP, set())
            if d == "S":
                f["redundant_pages"] += pfn in s
                s.add(pfn)
            else:
                f["redundant_pages"] += pfn not in s
                s.discard(pfn)
        mixed = [r for r, s in shared.items() if 0 < len(s) < RP]
        ever.update(mixed)
        f["mixed_2m_end"] = len(mixed)
        f["mixed_2m_peak"] = max(f["mixed_2m_peak"], len(mixed))
        f["shared_bytes_end"] = sum(len(s) for s in shared.values()) * PAGE
        f["shared_bytes_peak"] = max(f["shared_bytes_peak"],
                                     f["shared_bytes_end"])
        f["split_2m_ever"] = len(ever)
        f["double_alloc_peak_bytes"] = max(
            f["double_alloc_peak_bytes"],
            sum(len(shared[r]) for r in mixed) * PAGE)
    state = lambda n: "private" if n == 0 else "shared" if n == RP else "mixed"
    rmap = ["0x%x %d %s" % (r * REGION, len(s), state(len(s)))
            for r, s in sorted(shared.items())]
    return f, rmap


if sys.argv[1] == "gen":
    sys.stdout.write(gen(int(sys.argv[2]), int(sys.argv[3])))
    sys.exit(0)
with open(sys.argv[2]) as fh:
    text = fh.read()
want, rmap = model(text)
with open(sys.argv[3]) as fh:
    got = json.load(fh)
with open(sys.argv[4]) as fh:
    gmap = fh.read().splitlines()
errs = ["%s: convstat %s, model %s" % (k, got.get(k), v)
        for k, v in want.items() if got.get(k) != v]
if gmap != rmap:
    errs.append("--map differs: %d vs %d lines, first difference %s" % (
        len(gmap), len(rmap), next(((a, b) for a, b in zip(gmap, rmap)
                                    if a != b), None)))
for e in errs:
    print("  " + e, file=sys.stderr)
print("%d lines: calls %d, refused %d, malformed %d, split_2m_ever %d, "
      "double_alloc_peak_bytes %d, regions %d" % (
          len(text.splitlines()), want["calls"], want["refused"],
          want["malformed"], want["split_2m_ever"],
          want["double_alloc_peak_bytes"], len(rmap)))
sys.exit(1 if errs else 0)
PY
for seed in $(seq 1 12); do
	python3 "$TMP/model.py" gen "$seed" 500 >"$TMP/rand.log"
	run --json "$TMP/rand.log"
	cp "$TMP/out" "$TMP/rand.json"
	run --map "$TMP/rand.log"
	cp "$TMP/out" "$TMP/rand.map"
	if python3 "$TMP/model.py" check "$TMP/rand.log" "$TMP/rand.json" \
		"$TMP/rand.map" >"$TMP/model.out"; then
		ok
	else
		bad "reference model, seed $seed: $(cat "$TMP/model.out")"
	fi
	[ -n "${CONVSTAT_VERBOSE:-}" ] && echo "  model seed $seed: $(cat "$TMP/model.out")"
done

echo "test-cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
