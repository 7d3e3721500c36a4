# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# What every test guest's /init shares (busybox sh).  scripts/initramfs.sh
# puts this file in each image as /lib/ksalloc/guest.sh; an /init starts
# with ". /lib/ksalloc/guest.sh".  It mounts the usual file systems and
# gives the checks their form: each prints "GUEST-PASS: name",
# "GUEST-FAIL: name" or "GUEST-SKIP: name", which run_guest of
# scripts/lib.sh turns into the host's PASS:/FAIL:/SKIP: lines, and
# finish() reports the KSALLOC-RESULT marker to scripts/vm.sh.

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp && mount -t tmpfs tmpfs /tmp

# shellcheck disable=SC2034 # for the scripts that source this
M=/lib/modules
fails=0

# The report of any of the kernel's checkers, or of the OOM killer: the
# extended regexp of scripts/kernel-reports, which scripts/initramfs.sh
# packs as one line.
KERNEL_REPORTS=$(cat /lib/ksalloc/kernel-reports)

pass() { echo "GUEST-PASS: $1"; }
fail() { echo "GUEST-FAIL: $1"; fails=$((fails + 1)); }
# A check that could not run here (the host reports it as SKIP:).
skip() { echo "GUEST-SKIP: $1"; }

# check NAME COMMAND...: a check that passes when the command succeeds.
check() {
	name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

# refuse NAME COMMAND...: a check that passes when the command fails.
refuse() {
	name=$1
	shift
	if "$@" 2>/dev/null; then fail "$name"; else pass "$name"; fi
}

quiet() { "$@" >/dev/null 2>&1; }

# tap NAME NOTE PROGRAM [ARG...]: runs the kselftest-harness PROGRAM (at
# most five minutes) and turns each TAP line "ok N test", "ok N test #
# SKIP why" or "not ok N test" into the check NAME/test; prints a line
# "selftests NAME NOTE: N passed, N failed, N skipped, exit RC" for the
# host's log.  A PROGRAM that reports no test fails the check
# NAME/no-tests, one that exits non-zero without a failed test
# NAME/exit-RC.
tap() {
	name=$1
	note=$2
	log=/tmp/$1.log
	shift 2
	timeout 300 "$@" >"$log" 2>&1
	rc=$?
	awk -v name="$name" '
	/^(not )?ok [0-9]+ / {
		test = $0
		verdict = test ~ /^not / ? "FAIL" : test ~ /# *SKIP/ ? "SKIP" : "PASS"
		sub(/^(not )?ok [0-9]+ /, "", test)
		sub(/ *#.*/, "", test)
		print "GUEST-" verdict ": " name "/" test
	}' "$log" >"$log.checks"
	cat "$log.checks"
	n_ok=$(grep -c '^GUEST-PASS: ' "$log.checks")
	n_bad=$(grep -c '^GUEST-FAIL: ' "$log.checks")
	n_skip=$(grep -c '^GUEST-SKIP: ' "$log.checks")
	fails=$((fails + n_bad))
	echo "selftests $name$note: $n_ok passed, $n_bad failed, $n_skip skipped, exit $rc"
	if [ "$rc" != 0 ] || [ "$n_bad" != 0 ] || [ $((n_ok + n_skip)) = 0 ]; then
		if [ $((n_ok + n_skip + n_bad)) = 0 ]; then
			fail "$name/no-tests"
		elif [ "$n_bad" = 0 ]; then
			fail "$name/exit-$rc"
		fi
		grep -B2 -A12 '^not ok\|^# RUN' "$log" | grep -v '^# \(RUN\|OK\)' | tail -40
	fi
}

# Waits up to 5 s for devtmpfs to show /dev/ksalloc after an insmod.
wait_node() {
	i=0
	while [ ! -c /dev/ksalloc ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}

# The taint flags as letters, in the kernel's order
# (Documentation/admin-guide/tainted-kernels.rst).
taint_letters() {
	t=$1 out='' i=0
	for l in P F S R M B U D A W C I O E L K X T N J; do
		[ $(((t >> i) & 1)) = 1 ] && out="$out$l"
		i=$((i + 1))
	done
	echo "${out:--}"
}

# The checks that end every run: no report in the kernel log, and no taint
# but O and E (our module is out of tree and unsigned).
check_kernel_clean() {
	if dmesg | grep -E "$KERNEL_REPORTS"; then
		fail dmesg-clean
	else
		pass dmesg-clean
	fi
	taint=$(cat /proc/sys/kernel/tainted)
	echo "taint: $taint $(taint_letters "$taint")"
	check taint-only-OE [ $((taint & ~0x3000)) = 0 ]
}

# kmemleak_clean NAME REGEXP: where kmemleak is built in, check NAME that
# no object it suspects has a backtrace line matching the extended REGEXP
# (a module's functions are named only while it is loaded).  Two scans:
# kmemleak reports an object only once it has seen it unreferenced twice.
kmemleak_clean() {
	leaks=/sys/kernel/debug/kmemleak
	[ -w $leaks ] || return 0
	echo scan >$leaks
	echo scan >$leaks
	n=$(grep -cE "$2" $leaks)
	echo "kmemleak: $n backtrace lines match '$2'"
	check "$1" [ "$n" = 0 ]
	[ "$n" = 0 ] || grep -E -B5 -A15 "$2" $leaks | head -n 60
}

# Reports the run's result to the host and powers off.
finish() {
	if [ "$fails" = 0 ]; then
		ksalloc-result PASS
	else
		ksalloc-result FAIL "$fails checks failed"
	fi
}
