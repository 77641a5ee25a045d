# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# harness.mode=shell: an interactive shell on the console (run.sh --shell),
# after the harness set the guest up (debugfs, devices, the test-only
# modules under /harness/modules).  Leaving the shell ends the workload:
# the counters are printed and the guest powers off.

mode_shell_main() {
	echo "HARNESS SHELL: busybox sh on the console; 'exit' (or Ctrl-D) powers the guest off"
	# a controlling terminal for job control and Ctrl-C
	setsid cttyhack sh -i
	check shell interactive PASS rc=$?
}
