# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# The series' KUnit suites as modules (scripts/harness/kunit-modules.sh),
# sourced by workload.sh for harness.mode=kunit (busybox sh, POSIX).
#
# Loads every module of /harness/modules/kunit.order in that order (KUnit
# runs a module's suites while it loads), reads each new suite's results
# from debugfs kunit/SUITE/results (KTAP: test cases indented by four
# spaces, parameters by eight) and says per suite:
#   CHECK kunit SUITE PASS|FAIL module=M cases=N passed=P failed=F skipped=S
# A suite fails on any failed or skipped case (the emulated CVM is a CVM:
# nothing may skip) and when it has no case.  Then every module is
# unloaded, in reverse order: CHECK kunit unload PASS|FAIL.
#   harness.kunit_modules=M1,M2   only these modules of kunit.order (the
#                                 boot without CVM: not the emulated CVM's)

KU_DIR=/harness/modules
KU_DBG=/sys/kernel/debug/kunit

# ku_suite MODULE SUITE: one CHECK line from the suite's results
ku_suite() {
	_r=$KU_DBG/$2/results
	if [ ! -r "$_r" ]; then
		check kunit "$2" FAIL module="$1" reason=no-results
		return
	fi
	_n=$(grep -cE '^    (not )?ok [0-9]+ ' "$_r")
	_f=$(grep -cE '^    not ok [0-9]+ ' "$_r")
	_s=$(grep -E '^    ok [0-9]+ ' "$_r" | grep -c '# SKIP')
	_p=$((_n - _f - _s))
	_leaf=$(grep -cE '^        (not )?ok [0-9]+ ' "$_r")
	_fv="module=$1 cases=$_n passed=$_p failed=$_f skipped=$_s params=$_leaf"
	# shellcheck disable=SC2086 # $_fv: name=value fields, split on purpose
	if [ "$_n" -gt 0 ] && [ "$_f" -eq 0 ] && [ "$_s" -eq 0 ]; then
		check kunit "$2" PASS $_fv
	else
		check kunit "$2" FAIL $_fv
		grep -E '^    not ok|# SKIP' "$_r" | head -n 5 | sed 's/^ */KUNIT /'
	fi
}

# the suites in debugfs, one line
ku_suites() {
	_l=
	for _p in "$KU_DBG"/*/; do
		[ -d "$_p" ] || continue
		_p=${_p%/}
		_l="$_l ${_p##*/}"
	done
	echo "$_l"
}

mode_kunit_main() {
	if [ ! -s $KU_DIR/kunit.order ]; then
		check kunit modules FAIL reason=no-KUnit-modules-in-initramfs
		return
	fi
	_only=$(cmdline_value harness.kunit_modules "")
	_loaded=
	while read -r _m; do
		if [ -n "$_only" ]; then
			case ",$_only," in *",$_m,"*) ;; *) continue ;; esac
		fi
		_before=" $(ku_suites) "
		if ! _err=$(insmod "$KU_DIR/$_m.ko" 2>&1); then
			check kunit "$_m" FAIL reason=insmod:"$(echo "$_err" | tr ' ' _ | cut -c1-60)"
			continue
		fi
		_loaded="$_m $_loaded"
		_new=0
		for _s in $(ku_suites); do
			case "$_before" in *" $_s "*) continue ;; esac
			ku_suite "$_m" "$_s"
			_new=$((_new + 1))
		done
		[ $_new -gt 0 ] || check kunit "$_m" FAIL reason=no-suite
	done <$KU_DIR/kunit.order
	# a module asked for that kunit.order does not have fails
	for _m in $(echo "$_only" | tr ',' ' '); do
		grep -qx "$_m" $KU_DIR/kunit.order ||
			check kunit "$_m" FAIL reason=not-in-kunit.order
	done
	_bad=
	for _m in $_loaded; do
		rmmod "$_m" 2>/dev/null || _bad="$_bad,$_m"
	done
	if [ -z "$_bad" ]; then
		# shellcheck disable=SC2086 # $_loaded: words, joined by commas
		check kunit unload PASS modules="$(echo $_loaded | tr ' ' ,)"
	else
		check kunit unload FAIL failed="${_bad#,}"
	fi
}
