#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Self-test of the conversion-site inventory (scripts/inventory.sh); the
# inventory step of make check.  See usage().
set -uo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
	cat <<EOF
usage: scripts/test-inventory.sh [--help]

1. the gate on the real ref ('$BR_SERIES' of \$TREE) passes
2. in a scratch clone of \$TREE (git clone --shared, removed on exit; the
   tree itself is not written to), a commit on top of '$BR_SERIES' that
   adds a conversion caller and removes one: the gate fails, naming the
   new site with its line number and the vanished site
3. --update on that commit (table copy): the new site gets TODO, the
   hand-written columns of the other sites are kept, the vanished site
   is dropped, and the gate rejects the TODO
4. the cross-check of the scan (--files on a small C file): a call in a
   function spatch cannot parse fails with its line, one in #if 0 does not
Prints one "PASS name" / "FAIL name" line per test and
"inventory self-test: N passed, N failed".
EOF
}
case "${1:-}" in
-h|--help) usage; exit 0 ;;
"") ;;
*) usage >&2; die "unknown argument '$1'" ;;
esac

INV=$ROOT/scripts/inventory.sh
TABLE=$ROOT/Documentation/conversion-sites.tsv
npass=0; nfail=0
ok()  { echo "PASS $1"; npass=$((npass + 1)); }
bad() { echo "FAIL $1${2:+: $2}"; nfail=$((nfail + 1)); }

T=$(mktemp -d "${TMPDIR:-/tmp}/test-inventory.XXXXXX")
trap 'rm -rf "$T"' EXIT

# run_gate NAME want(pass|fail) ARGS...: run the gate, keep its output in
# $T/NAME.out, show its summary lines
run_gate() {
	local name=$1 want=$2 rc=0; shift 2
	"$INV" "$@" >"$T/$name.out" 2>&1 || rc=$?
	# (not its "N passed, N failed" line: check.sh would count it)
	grep -E '^(PASS|FAIL) ' "$T/$name.out" | sed 's/^/    > /' | head -n 12
	if [ "$want" = pass ] && [ $rc -ne 0 ]; then
		bad "$name" "gate failed"; return 1
	elif [ "$want" = fail ] && [ $rc -eq 0 ]; then
		bad "$name" "gate passed"; return 1
	fi
}

# expect_in NAME FILE PATTERN: PASS if FILE has a line matching PATTERN
expect_in() {
	if grep -qF -- "$3" "$2"; then ok "$1"; else bad "$1" "no '$3' in the output"; fi
}

# 1. the real ref
run_gate real-ref pass && ok "real-ref:$(grep -m1 '^PASS table' "$T/real-ref.out" | cut -d: -f2-)"

# 2. a scratch commit: a new caller in kernel/dma/pool.c, the call of
# __set_percpu_decrypted() removed (a statement of its own, in a file the
# series does not touch)
CLONE=$T/linux
git clone -q --shared --no-checkout "$TREE" "$CLONE" || die "cannot clone $TREE"
BASE=$(git -C "$CLONE" rev-parse "origin/$BR_SERIES^{commit}") || die "no $BR_SERIES in $TREE"
add_f=kernel/dma/pool.c
del_f=arch/x86/kernel/kvm.c
del_line='early_set_memory_decrypted((unsigned long) ptr, size);'

printf -v fake '\nstatic int inventory_selftest_fake(void *p)\n{\n\treturn set_memory_decrypted((unsigned long)p, 1);\n}\n'
add_blob=$(git -C "$CLONE" show "$BASE:$add_f" | cat - <(printf '%s' "$fake") | git -C "$CLONE" hash-object -w --stdin)
add_line=$(git -C "$CLONE" cat-file -p "$add_blob" | grep -n 'return set_memory_decrypted((unsigned long)p, 1);' | cut -d: -f1)
del_blob=$(git -C "$CLONE" show "$BASE:$del_f" | grep -vF -- "$del_line" | git -C "$CLONE" hash-object -w --stdin)
# (grep -c, not grep -q: -q stops reading early, the writer gets SIGPIPE
# and pipefail turns a match into a failure)
if [ "$(git -C "$CLONE" show "$BASE:$del_f" | grep -cF -- "$del_line")" != 1 ] ||
   [ "$(git -C "$CLONE" cat-file -p "$del_blob" | grep -cF -- "$del_line")" != 0 ] || [ -z "$add_line" ]; then
	bad setup "could not edit $add_f / $del_f at $BR_SERIES"
else
	export GIT_INDEX_FILE=$T/index
	git -C "$CLONE" read-tree "$BASE"
	git -C "$CLONE" update-index --cacheinfo "100644,$add_blob,$add_f" \
		--cacheinfo "100644,$del_blob,$del_f"
	tree=$(git -C "$CLONE" write-tree)
	unset GIT_INDEX_FILE
	FAKE=$(GIT_AUTHOR_NAME="$TOOL_NAME" GIT_AUTHOR_EMAIL="$TOOL_EMAIL" \
	       GIT_COMMITTER_NAME="$TOOL_NAME" GIT_COMMITTER_EMAIL="$TOOL_EMAIL" \
	       GIT_AUTHOR_DATE="$TOOL_DATE" GIT_COMMITTER_DATE="$TOOL_DATE" \
	       git -C "$CLONE" commit-tree "$tree" -p "$BASE" -m "inventory self-test: one caller more, one less")

	export TREE=$CLONE INVENTORY_CACHE=$T/cache
	if run_gate fake-ref fail --ref "$FAKE"; then
		expect_in new-site-named "$T/fake-ref.out" \
			"FAIL new site $add_f:inventory_selftest_fake:set_memory_decrypted (line $add_line)"
		expect_in vanished-site-named "$T/fake-ref.out" \
			"FAIL vanished site $del_f:__set_percpu_decrypted:early_set_memory_decrypted"
	fi

	# 3. --update on a copy of the table
	cp "$TABLE" "$T/table.tsv"
	if "$INV" --ref "$FAKE" --table "$T/table.tsv" --update >"$T/update.out" 2>&1; then
		if grep -qF "$add_f"$'\tinventory_selftest_fake\tset_memory_decrypted\t1\tTODO\t' "$T/table.tsv"; then
			ok update-new-row-todo
		else
			bad update-new-row-todo "no TODO row for the new site"
		fi
		if grep -qF "$del_f"$'\t__set_percpu_decrypted\t' "$T/table.tsv"; then
			bad update-vanished-row-dropped
		else
			ok update-vanished-row-dropped
		fi
		# every other row is unchanged, hand-written columns included
		if diff <(grep -v -e inventory_selftest_fake -e $'\t__set_percpu_decrypted\t' "$T/table.tsv") \
			<(grep -v $'\t__set_percpu_decrypted\t' "$TABLE") >"$T/update.diff"; then
			ok update-keeps-hand-columns
		else
			bad update-keeps-hand-columns "$(head -n 4 "$T/update.diff")"
		fi
		run_gate updated-table fail --ref "$FAKE" --table "$T/table.tsv" &&
			expect_in todo-rejected "$T/updated-table.out" \
				"FAIL site $add_f:inventory_selftest_fake:set_memory_decrypted: TODO or empty: guests, size"
	else
		bad update "$(tail -n 3 "$T/update.out")"
	fi
fi

# 4. the cross-check: a call in a function spatch cannot parse (an iterator
# macro it does not know) fails the scan with its line; a call in #if 0
# does not count; a plain call is a row
mkdir -p "$T/x/drivers"
cat >"$T/x/drivers/x.c" <<'SRC'
static int parsed(void *p)
{
	return set_memory_decrypted((unsigned long)p, 1);
}

#if 0
static int disabled(void *p)
{
	return set_memory_decrypted((unsigned long)p, 1);
}
#endif

static void unparsed(void *p)
{
	inventory_unknown_iterator(p) {
		set_memory_encrypted((unsigned long)p, 1);
	}
}
SRC
if (cd "$T/x" && "$INV" --files drivers/x.c) >"$T/files.out" 2>&1; then
	bad cross-check-unparsed "the scan passed"
else
	expect_in cross-check-unparsed "$T/files.out" "FAIL scan: drivers/x.c:16 calls a tracked function"
fi
if grep -q 'x.c:9' "$T/files.out"; then
	bad cross-check-if0 "a call in #if 0 was flagged"
else
	ok cross-check-if0
fi
expect_in cross-check-row "$T/files.out" "drivers/x.c"$'\tparsed\tset_memory_decrypted\t3'

echo "inventory self-test: $npass passed, $nfail failed"
[ $nfail -eq 0 ]
