#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the benchmark guest (busybox sh).  Loads ksalloc.ko, runs
# "ksalloc-ctl bench $USER_BENCH" when USER_BENCH is set, then loads
# ksalloc_bench.ko with BENCH_ARGS, both from /etc/bench.conf: the
# benchmarks run while it loads.  Prints each line the module and the tool
# wrote as "BENCH: <line>" for scripts/bench.sh, unloads both, checks
# dmesg and ends with the KSALLOC-RESULT marker that scripts/vm.sh reads.

# shellcheck source=scripts/guest/lib.sh
. /lib/ksalloc/guest.sh

BENCH_ARGS="" USER_BENCH=""
# shellcheck source=/dev/null
[ -r /etc/bench.conf ] && . /etc/bench.conf

echo "guest kernel $(uname -r), $(nproc) CPUs, args: $BENCH_ARGS"

# Nothing on the serial console while the loops run: under icount every
# character printed would be counted too.  The log buffer keeps it all.
dmesg -n 1

insmod $M/ksalloc.ko || ksalloc-result FAIL "insmod ksalloc.ko"
rc=0
if [ -n "$USER_BENCH" ]; then
	wait_node
	# shellcheck disable=SC2086 # USER_BENCH holds several options
	ksalloc-ctl bench $USER_BENCH >/tmp/user-bench 2>&1 || rc=$?
	sed 's/^/BENCH: /' /tmp/user-bench
fi
# shellcheck disable=SC2086 # BENCH_ARGS holds several parameters
insmod $M/ksalloc_bench.ko $BENCH_ARGS || rc=$?

dmesg | sed -n 's/^\[[ 0-9.]*\] ksalloc_bench: /BENCH: /p'

[ $rc = 0 ] && { rmmod ksalloc_bench || rc=1; }
rmmod ksalloc || rc=1

if dmesg | grep -E "$KERNEL_REPORTS"; then
	ksalloc-result FAIL "the kernel log has a report"
fi
if [ $rc = 0 ]; then
	ksalloc-result PASS
else
	ksalloc-result FAIL "ksalloc_bench failed ($rc)"
fi
