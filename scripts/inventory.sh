#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The conversion-site inventory: every place in the kernel tree that changes
# the private/shared state of x86 guest memory, checked against the table
# Documentation/conversion-sites.tsv.  See usage() and
# Documentation/design.md, "The conversion-site inventory".
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
	cat <<EOF
usage: scripts/inventory.sh [--help] [--ref REF] [--table FILE]
                            [--scan | --update | --summary | --files FILE...]

Lists every call, at git ref REF (default: branch '$BR_SERIES') of the kernel
tree \$TREE, of a function that changes the shared state of x86
guest memory (set_memory_{de,en}crypted(), early_set_memory_*(), the DMA and
swiotlb wrappers, the x86 conversion core and its enc_status_change/kexec
hooks, the SEV/SNP, TDX, Hyper-V and decompressor primitives, VGA_MAP_MEM),
with Coccinelle (spatch), one row per (file, enclosing function, callee)
with the number of call sites, and compares it with the table.

  (default)   the gate: the key columns (file, function, callee, calls) of
              the table must equal the scan; a new, vanished or changed
              site fails, named file:function:callee (new ones with their
              line numbers); so does a row with TODO or an unknown guest or
              handling value.  Prints PASS/FAIL lines and
              "inventory: N passed, N failed".
  --scan      print the scan (key columns and line numbers), no check
  --update    rewrite the key columns of the table from the scan, keeping
              the hand-written columns of known sites; new sites get TODO,
              which the gate rejects until they are filled in
  --summary   per guest type, the sites that still convert below 2 MiB,
              with size and frequency (from the table)
  --files F.. scan these C files (paths relative to the current directory)
              instead of a ref, no check; for trying out a change
  --ref REF   the git ref to scan (default: $BR_SERIES)
  --table F   the table (default: Documentation/conversion-sites.tsv)

Environment:
  TREE             the kernel git repository (now $TREE)
  INVENTORY_CACHE  scans by commit (default \$BUILD/inventory; empty: none)
  INVENTORY_TMP    scratch directory (default: a mktemp directory, removed)
EOF
}

TABLE=$ROOT/Documentation/conversion-sites.tsv
REF=$BR_SERIES
INVENTORY_CACHE=${INVENTORY_CACHE-$BUILD/inventory}
MODE=gate
FILES=()

# What is tracked.  Calls of these functions or macros ...
CALLEES=(
	# the generic API and its early, page-table-only x86 variant
	set_memory_decrypted set_memory_encrypted
	early_set_memory_decrypted early_set_memory_encrypted
	# DMA wrappers: dma-direct, the series' shared chunks
	dma_set_decrypted dma_set_encrypted
	swiotlb_cc_set_shared swiotlb_cc_set_private
	# the x86 conversion core
	__set_memory_enc_dec __set_memory_enc_pgtable
	# x86 macro that converts the legacy VGA buffer
	VGA_MAP_MEM
	# SEV, SEV-ES, SNP (KVM hypercall, page state changes)
	early_set_mem_enc_dec_hypercall notify_page_enc_status_changed
	snp_set_memory_shared snp_set_memory_private
	early_snp_set_memory_shared early_snp_set_memory_private
	# the boot decompressor (arch/x86/boot/compressed)
	set_page_decrypted set_page_encrypted
	snp_set_page_shared snp_set_page_private __page_state_change
	# TDX
	tdx_enc_status_changed tdx_map_gpa
	# Hyper-V vTOM
	hv_vtom_set_host_visibility hv_mark_gpa_visibility
)
# ... and calls through these x86_platform.guest hooks (member calls).
HOOKS=(enc_status_change_prepare enc_status_change_finish
       enc_kexec_begin enc_kexec_finish)

# Values the hand-written columns may take.
GUESTS=(TDX SNP SEV SEV-ES HV-vTOM none)
HANDLING_RE='^(shared-chunks|2M-by-construction|unchecked|refused|plumbing|exempt:[a-z0-9-]+)$'
HEADER=$'file\tfunction\tcallee\tcalls\tguests\tsize\talign\tfrequency\thandling\treason'

while [ $# -gt 0 ]; do
	case $1 in
	-h|--help) usage; exit 0 ;;
	--ref) REF=${2:?--ref needs a value}; shift ;;
	--table) TABLE=${2:?--table needs a value}; shift ;;
	--scan) MODE=scan ;;
	--update) MODE=update ;;
	--summary) MODE=summary ;;
	--files) MODE=files; shift; FILES=("$@"); break ;;
	*) usage >&2; die "unknown argument '$1'" ;;
	esac
	shift
done

join_by() { local IFS=$1; shift; echo "$*"; }

# The paths scanned: the whole tree but tools/, Documentation/, samples/,
# scripts/ and the arch/ directories other than x86.
pathspecs() {
	local a
	printf '%s\n' '*.c' '*.h' ':(exclude)tools' ':(exclude)Documentation' \
		':(exclude)samples' ':(exclude)scripts'
	while read -r a; do
		[ "$a" = arch/x86 ] || printf ':(exclude)%s\n' "$a"
	done < <(git -C "$TREE" ls-tree --name-only "$SHA" arch/)
}

# The semantic patch: every call of a tracked name, every member call of a
# tracked hook; prints file, enclosing function (macro name for a call in
# a #define body), callee, line.
cocci() {
	cat <<EOF
@r@
identifier fn =~ "^($(join_by '|' "${CALLEES[@]}"))\$";
expression list es;
position p;
@@
fn@p(es)

@h@
identifier fn =~ "^($(join_by '|' "${HOOKS[@]}"))\$";
expression e;
expression list es;
position p;
@@
e.fn@p(es)

@initialize:python@
@@
import re

def site(p, fn):
    f, el, line = p[0].file, p[0].current_element, int(p[0].line)
    if el == "something_else":
        # a #define body: name the macro
        with open(f) as src:
            lines = src.read().split("\n")[:line]
        for l in reversed(lines):
            m = re.match(r"\s*#\s*define\s+(\w+)", l)
            if m:
                el = m.group(1)
                break
    print("%s\t%s\t%s\t%d" % (f, el, fn, line))

@script:python@
fn << r.fn;
p << r.p;
@@
site(p, fn)

@script:python@
fn << h.fn;
p << h.p;
@@
site(p, fn)
EOF
}

# grep_calls DIR FILE...: file<TAB>line of every textual call of a tracked
# name outside comments, string literals, #if 0 blocks and top-level
# (definition or prototype) lines: the cross-check that spatch parsed every
# function.
grep_calls() {
	local dir=$1; shift
	(cd "$dir" && awk -v names="$(join_by '|' "${CALLEES[@]}")" \
			  -v hooks="$(join_by '|' "${HOOKS[@]}")" '
		FNR == 1 { incomment = 0; if0 = 0 }
		{
			l = $0
			if (incomment) {
				if (!sub(/^.*\*\//, "", l)) next
				incomment = 0
			}
			gsub(/"([^"\\]|\\.)*"/, "\"\"", l)
			gsub(/\/\*.*\*\//, "", l)
			if (sub(/\/\*.*$/, "", l)) incomment = 1
			sub(/\/\/.*$/, "", l)
			if (l ~ /^[ \t]*#[ \t]*if/) {
				if (if0) if0++
				else if (l ~ /^[ \t]*#[ \t]*if[ \t]+0([^0-9A-Za-z_]|$)/) if0 = 1
			} else if (l ~ /^[ \t]*#[ \t]*(else|elif)/) {
				if (if0 == 1) if0 = 0
			} else if (l ~ /^[ \t]*#[ \t]*endif/) {
				if (if0) if0--
			}
			if (if0 || l !~ /^[ \t]/) next
			if (l ~ "(^|[^A-Za-z0-9_])(" names ")[ \t]*\\(" ||
			    l ~ "(\\.|->)[ \t]*(" hooks ")[ \t]*\\(")
				printf "%s\t%d\n", FILENAME, FNR
		}' "$@")
}

# scan_files OUT DIR FILE...: OUT gets file<TAB>function<TAB>callee<TAB>line
# for the FILEs (relative to DIR), sorted; fails, naming file and line, if
# spatch missed a call that grep_calls sees.
scan_files() {
	local out=$1 dir=$2 missed; shift 2
	cocci >"$TMPD/sites.cocci"
	(cd "$dir" && spatch --very-quiet --no-includes --no-show-diff \
		--sp-file "$TMPD/sites.cocci" "$@") >"$TMPD/spatch.out" 2>"$TMPD/spatch.err" ||
		{ cat "$TMPD/spatch.err" >&2; die "inventory: spatch failed"; }
	LC_ALL=C sort -t$'\t' -k1,1 -k2,2 -k3,3 -k4,4n -u "$TMPD/spatch.out" >"$out"
	missed=$(grep_calls "$dir" "$@" | LC_ALL=C sort -u |
		LC_ALL=C comm -23 - <(cut -f1,4 "$out" | LC_ALL=C sort -u) || true)
	[ -z "$missed" ] && return 0
	echo "$missed" | while IFS=$'\t' read -r f l; do
		echo "FAIL scan: $f:$l calls a tracked function but spatch did not attribute it (unparsed function?): $(sed -n "${l}p" "$dir/$f" | sed 's/^[ \t]*//')"
	done
	return 1
}

# scan OUT: scan_files() on the files of commit SHA that name a tracked
# function
scan() {
	local out=$1 w=$TMPD/src n files specs pats=()
	for n in "${CALLEES[@]}" "${HOOKS[@]}"; do pats+=(-e "$n"); done
	mapfile -t specs < <(pathspecs)
	# a superset (fixed strings are fast); spatch is exact
	mapfile -t files < <(git -C "$TREE" grep -l -F "${pats[@]}" "$SHA" -- "${specs[@]}")
	files=("${files[@]#"$SHA:"}")
	[ ${#files[@]} -gt 0 ] || die "inventory: no file at $REF names a tracked function"
	rm -rf "$w"; mkdir -p "$w"
	git -C "$TREE" archive "$SHA" -- "${files[@]}" | tar -x -C "$w"
	scan_files "$out" "$w" "${files[@]}"
}

# scan_cached OUT: scan(), or its earlier result for the same commit and
# the same version of this script (a commit never changes).
scan_cached() {
	local out=$1 key cached
	key=$SHA-$(sha1sum "$0" | cut -c1-12)
	cached=${INVENTORY_CACHE:+$INVENTORY_CACHE/scan-$key.tsv}
	if [ -n "$cached" ] && [ -f "$cached" ]; then
		cp "$cached" "$out"
		return 0
	fi
	scan "$out" || return 1
	if [ -n "$cached" ]; then
		mkdir -p "$INVENTORY_CACHE"
		cp "$out" "$cached.tmp" && mv "$cached.tmp" "$cached"
	fi
}

# keys SCAN: file<TAB>function<TAB>callee<TAB>calls<TAB>lines (comma list)
keys() {
	awk -F'\t' -v OFS='\t' '
		{ k = $1 OFS $2 OFS $3
		  if (!(k in n)) order[++m] = k
		  n[k]++; lines[k] = (k in lines) ? lines[k] "," $4 : $4 }
		END { for (i = 1; i <= m; i++) print order[i], n[order[i]], lines[order[i]] }' "$1"
}

# table_rows: the table without its header and blank lines
table_rows() {
	[ -f "$TABLE" ] || die "inventory: no table $TABLE (create it with --update)"
	awk -F'\t' 'NR > 1 && NF' "$TABLE"
}

# compare KEYS: PASS/FAIL lines; returns the number of failures
compare() {
	local keysf=$1
	awk -F'\t' -v guests="$(join_by ' ' "${GUESTS[@]}")" -v hre="$HANDLING_RE" \
	    -v header="$HEADER" '
		BEGIN { ng = split(guests, g, " "); for (i = 1; i <= ng; i++) okg[g[i]] = 1
			ncols = split(header, col, "\t") }
		FNR == NR { k = $1 ":" $2 ":" $3; scan[k] = $4; lines[k] = $5; sorder[++ns] = k; next }
		{
			k = $1 ":" $2 ":" $3; row++
			if (k in seen) { bad("duplicate table row " k); next }
			seen[k] = 1
			if (!(k in scan)) { bad("vanished site " k ": in the table, not in the tree"); next }
			if (scan[k] != $4) bad("site " k ": " scan[k] " call(s) in the tree (line " lines[k] "), the table says " $4)
			if (NF != ncols) { bad("site " k ": " NF " columns, want " ncols); next }
			todo = ""
			for (i = 5; i <= NF; i++) if ($i ~ /TODO/ || $i == "") todo = todo (todo == "" ? "" : ", ") col[i]
			if (todo != "") { bad("site " k ": TODO or empty: " todo); next }
			n = split($5, gg, ",")
			for (i = 1; i <= n; i++) if (!(gg[i] in okg)) bad("site " k ": unknown guest \"" gg[i] "\"")
			if ($9 !~ hre) bad("site " k ": unknown handling \"" $9 "\"")
		}
		END {
			for (i = 1; i <= ns; i++)
				if (!(sorder[i] in seen))
					bad("new site " sorder[i] " (line " lines[sorder[i]] "): not in the table (scripts/inventory.sh --update, then fill in the TODO columns)")
			printf "%d %d\n", ns, row
			exit nbad > 0
		}
		function bad(msg) { print "FAIL " msg > "/dev/stderr"; nbad++ }' \
		"$keysf" <(table_rows)
}

gate() {
	local keysf=$TMPD/keys counts rc=0 np=0 nf=0 nsites
	if scan_cached "$TMPD/scan"; then
		echo "PASS scan: spatch attributed every call ($(wc -l <"$TMPD/scan") call sites)"
		np=$((np + 1))
	else
		nf=$((nf + 1))
	fi
	keys "$TMPD/scan" >"$keysf"
	nsites=$(wc -l <"$keysf")
	counts=$(compare "$keysf" 2>"$TMPD/compare.err") || rc=$?
	if [ $rc -eq 0 ]; then
		echo "PASS table: $nsites sites at $REF (${SHA:0:12}) match $(basename "$TABLE")"
		np=$((np + 1))
	else
		cat "$TMPD/compare.err"
		echo "FAIL table: $(basename "$TABLE") does not match the $nsites sites at $REF (rows: ${counts#* })"
		nf=$((nf + 1))
	fi
	echo "inventory: $np passed, $nf failed"
	[ $nf -eq 0 ]
}

update() {
	local keysf=$TMPD/keys new=$TMPD/table.new
	scan_cached "$TMPD/scan" || die "inventory: incomplete scan, table not updated"
	keys "$TMPD/scan" >"$keysf"
	{
		echo "$HEADER"
		awk -F'\t' -v OFS='\t' '
			FNR == NR { if (FNR > 1 && NF) { k = $1 OFS $2 OFS $3; rest[k] = $5
				    for (i = 6; i <= NF; i++) rest[k] = rest[k] OFS $i }
				    next }
			{ k = $1 OFS $2 OFS $3
			  if (k in rest) { print k, $4, rest[k]; delete rest[k] }
			  else { print k, $4, "TODO", "TODO", "TODO", "TODO", "TODO", "TODO"
				 print "new site " $1 ":" $2 ":" $3 " (line " $5 ")" > "/dev/stderr" } }
			END { for (k in rest) { split(k, a, OFS)
				print "dropped vanished site " a[1] ":" a[2] ":" a[3] > "/dev/stderr" } }' \
			<(echo "$HEADER"; if [ -f "$TABLE" ]; then table_rows; fi) "$keysf"
	} >"$new"
	mv "$new" "$TABLE"
	log "inventory: $(($(wc -l <"$TABLE") - 1)) sites written to $TABLE"
}

# Handling values of rows that do not convert below 2 MiB themselves.
NOT_SUB2M_RE='^(shared-chunks|2M-by-construction|plumbing|exempt:zero-pages)$'

# summary: per guest type, the sites that still convert below 2 MiB
summary() {
	local g
	for g in "${GUESTS[@]}"; do
		[ "$g" = none ] && continue
		table_rows | awk -F'\t' -v g="$g" -v skip="$NOT_SUB2M_RE" '
			$9 ~ skip { next }
			{ n = split($5, gg, ","); for (i = 1; i <= n; i++) if (gg[i] == g) {
				rows[++m] = sprintf("  %s:%s:%s [%s]\n      %s; %s", $1, $2, $3, $9, $6, $8); break } }
			END { printf "%s: %d site(s) below 2 MiB\n", g, m
			      for (i = 1; i <= m; i++) print rows[i] }'
	done
}

TMPD=${INVENTORY_TMP:-}
if [ -z "$TMPD" ]; then
	TMPD=$(mktemp -d "${TMPDIR:-/tmp}/inventory.XXXXXX")
	trap 'rm -rf "$TMPD"' EXIT
fi
mkdir -p "$TMPD"

[ "$MODE" = summary ] && { summary; exit 0; }
need_cmd spatch coccinelle
if [ "$MODE" = files ]; then
	[ ${#FILES[@]} -gt 0 ] || die "inventory: --files needs files"
	rc=0
	scan_files "$TMPD/scan" . "${FILES[@]}" || rc=$?
	cat "$TMPD/scan"
	exit $rc
fi

[ -d "$TREE/.git" ] || [ -f "$TREE/HEAD" ] || die "no kernel tree at $TREE: run 'make tree'"
SHA=$(git -C "$TREE" rev-parse -q --verify "$REF^{commit}") ||
	die "inventory: '$REF' is not a commit in $TREE"

case $MODE in
scan) scan_cached "$TMPD/scan"; cat "$TMPD/scan" ;;
update) update ;;
gate) gate ;;
esac
