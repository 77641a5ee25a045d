# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# harness.mode=exec: run one command in the guest (run.sh --exec CMD) and
# print its output between two markers the host cuts out:
#
#   harness.exec=BASE64   the command, base64 (so that spaces, quotes and
#                         '=' survive the kernel command line); run by sh -c
#
#   EXEC BEGIN
#   ... the command's output (stdout and stderr) ...
#   EXEC END rc=N

mode_exec_main() {
	_cmd=$(cmdline_value harness.exec | base64 -d 2>/dev/null)
	if [ -z "$_cmd" ]; then
		check exec command FAIL reason=no-harness.exec
		return 1
	fi
	echo "EXEC BEGIN"
	sh -c "$_cmd" </dev/null 2>&1
	_rc=$?
	echo "EXEC END rc=$_rc"
	check exec command PASS rc=$_rc
}
