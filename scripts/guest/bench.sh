#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the benchmark guest (busybox sh).  Loads ksalloc.ko, runs
# "ksalloc-ctl bench $USER_BENCH" when USER_BENCH is set, then loads
# ksalloc_bench.ko with BENCH_ARGS: the benchmarks run while it loads.
# When TRACE_ARGS is set and /lib/modules/notrace/ holds the two modules
# built with KSALLOC_TRACEPOINTS=n, it then loads ksalloc.ko and the bench
# with TRACE_ARGS, unloads both, and does the same with the notrace pair.  The three variables come from /etc/bench.conf.
#
# Prints each line the module and the tool wrote as "BENCH: <line>" for
# scripts/bench.sh, those of the two later runs as "BENCH: tracepoints-in:
# <line>" and "BENCH: tracepoints-out: <line>", checks dmesg and ends with
# the KSALLOC-RESULT marker that scripts/vm.sh reads.

# shellcheck source=scripts/guest/lib.sh
. /lib/ksalloc/guest.sh

BENCH_ARGS="" USER_BENCH="" TRACE_ARGS=""
# shellcheck source=/dev/null
[ -r /etc/bench.conf ] && . /etc/bench.conf

echo "guest kernel $(uname -r), $(nproc) CPUs, args: $BENCH_ARGS"

# Nothing on the serial console while the loops run: under icount every
# character printed would be counted too.  The log buffer keeps it all.
dmesg -n 1

# bench_lines PREFIX: the bench module's lines of the kernel log as
# "BENCH: PREFIX<line>", then an empty log for the next run.  Its messages
# start with "ksalloc_bench: ", or "bench/ksalloc_bench: " when Kbuild
# links it from several files from the top directory (KBUILD_MODNAME).
bench_lines() {
	dmesg | sed -n "s/^\[[ 0-9.]*\] \(bench\/\)\{0,1\}ksalloc_bench: /BENCH: $1/p"
	if dmesg | grep -E "$KERNEL_REPORTS"; then
		ksalloc-result FAIL "the kernel log has a report"
	fi
	dmesg -c >/dev/null
}

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
bench_lines ""
[ $rc = 0 ] && { rmmod ksalloc_bench || rc=1; }
rmmod ksalloc || rc=1

# The same pair with ksalloc.ko's tracepoints compiled in, then out, each
# with the bench module of its build (their symbol versions differ).
if [ $rc = 0 ] && [ -n "$TRACE_ARGS" ] && [ -f $M/notrace/ksalloc.ko ]; then
	for build in in out; do
		dir=$M
		[ $build = out ] && dir=$M/notrace
		insmod $dir/ksalloc.ko || { rc=1; break; }
		# shellcheck disable=SC2086 # TRACE_ARGS holds several parameters
		insmod $dir/ksalloc_bench.ko $TRACE_ARGS || rc=$?
		bench_lines "tracepoints-$build: "
		[ $rc = 0 ] && { rmmod ksalloc_bench || rc=1; }
		rmmod ksalloc || rc=1
		[ $rc = 0 ] || break
	done
fi

if dmesg | grep -E "$KERNEL_REPORTS"; then
	ksalloc-result FAIL "the kernel log has a report"
fi
if [ $rc = 0 ]; then
	ksalloc-result PASS
else
	ksalloc-result FAIL "ksalloc_bench failed ($rc)"
fi
