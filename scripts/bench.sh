#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench.sh - measure ksalloc against its performance targets.
#
# Builds ksalloc.ko and bench/ksalloc_bench.ko against one stock kernel
# (scripts/build.sh), packs them with scripts/guest/bench.sh into an
# initramfs and boots it twice (scripts/vm.sh):
#
#   1. --icount: one vCPU, -icount shift=0,align=off,sleep=off.  The guest
#      clock advances 1 ns per guest instruction, so the "ns" the module
#      prints are instructions, exact and repeatable: the cost of each
#      alloc+free pair, in process context with BH off and in softirq.
#   2. --smp 2, multi-threaded TCG, no icount: wall clock.  Two bound
#      kthreads hammer one allocator (and each of the other pools), one CPU
#      alone and then both, repeated --runs times; plus the hand-off
#      latency; and the capture-driver stream: frames allocated in softirq
#      on CPU 0 and freed in softirq on CPU 1, against the same producer
#      freeing them itself on CPU 0, with the IPIs all CPUs received and,
#      in a second series with kprobes on ksalloc_take() and
#      ksalloc_give_slow(), the slow-path entries.  This host has two
#      cores that other jobs share, so these figures are noisy: medians,
#      with the range.
#
# The icount boot also times the table pair with ksalloc.ko built as
# usual and then with KSALLOC_TRACEPOINTS=n (scripts/build.sh keeps that
# build apart), for the cost of the tracepoints compiled in.
#
# Then scripts/bench-report.py reads ksalloc.ko's disassembly for the
# atomic read-modify-write instructions on the alloc and free paths (every
# reachable path, and the fast paths alone: from the entry point to a
# return without a call to another function of the module), works out the
# metadata per frame from the sizes of the core's structs that the bench
# module prints, and prints one table with every ratio against its
# target: value, target, ok or MISS.  --json prints the same as one
# JSON object instead.

set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage()
{
	cat <<EOF
Usage: $PROG [--json] [--kernel FLAVOUR] [--runs N] [--iters N] [--ms N]
             [--samples N] [--no-icount] [--no-smp] [--slow REGEX]

Boot FLAVOUR (default 6.12) under QEMU twice, once with -icount for the
cost of each operation in guest instructions and once with two vCPUs for
scaling, hand-off latency and the cross-CPU stream (IPIs and slow-path
entries included), and print the performance table (README,
"Performance").

  --json          print the results as JSON on stdout, not the table
  --kernel F      6.1, 6.12 or 6.12-rt (see scripts/kernels.sh)
  --runs N        repetitions of the two-vCPU measurements (default 7)
  --iters N       timed pairs per cost measurement (default 1000000)
  --ms N          milliseconds per scale or stream measurement (default 250)
  --samples N     hand-off round trips of each kind per run (default 500)
  --no-icount     skip the icount boot (its last results are reported)
  --no-smp        skip the two-vCPU boot (likewise)
  --slow REGEX    in-module functions matching this (extended regexp) are
                  slow paths, left out of the atomic count and listed apart
                  (default '$DEFAULT_SLOW')
  -h, --help      this text

The icount boot also times the table pair with ksalloc.ko's tracepoints
compiled in and out (scripts/build.sh FLAVOUR KSALLOC_TRACEPOINTS=n).
Console logs and the raw module output go to \${KSALLOC_OUT:-out}/logs/
bench-FLAVOUR-{icount,smp}.{log,out}.  Takes about 2 to 5 minutes.
Exit status: 0 when both boots gave results (whatever they say), 1 when
a boot failed, 2 for a usage error.
EOF
}

readonly DEFAULT_SLOW='_slow|_refill|_flush|_drain|\.cold$'

# has_tracepoints KO: the module defines tracepoints of its own.
has_tracepoints()
{
	# Not grep -q: nm would die of SIGPIPE, and pipefail see it.
	nm "$1" 2>/dev/null | grep ' __tracepoint_ksalloc_' >/dev/null
}

# notrace_build: builds the modules with KSALLOC_TRACEPOINTS=n beside the
# normal build, and sets NOTRACE_KO to that build's directory when the
# tracepoints are gone from its ksalloc.ko; else sets trace_note to why the
# tracepoint row has no figures.
notrace_build()
{
	local log=$logs/bench-build-$kernel-notrace.log dir

	NOTRACE_KO=''
	if ! has_tracepoints "$KO/ksalloc.ko"; then
		trace_note='ksalloc.ko has no tracepoints to compile out'
	elif ! dir=$("$here/build.sh" "$kernel" KSALLOC_TRACEPOINTS=n 2>"$log" | tail -n 1) ||
	     [[ ! -f $dir/ksalloc.ko ]]; then
		trace_note="the KSALLOC_TRACEPOINTS=n build failed (see $log)"
	elif has_tracepoints "$dir/ksalloc.ko"; then
		trace_note='KSALLOC_TRACEPOINTS=n left the tracepoints in ksalloc.ko'
	else
		NOTRACE_KO=$dir
	fi
	[[ -z $trace_note ]] || msg "tracepoint row: $trace_note"
}

# boot NAME VM_ARGS...: packs the image for one boot, runs it, and leaves
# the guest's "BENCH:" lines in $logs/bench-$kernel-NAME.out.
boot()
{
	local name=$1 args user='' trace='' out rc=0
	local -a files=("$KO/ksalloc.ko:/lib/modules/"
			"$KO/bench/ksalloc_bench.ko:/lib/modules/"
			"$tools/ksalloc-ctl:/bin/")
	shift

	case $name in
	icount)
		args="mode=frames,cost,handoff iters=$iters samples=$samples runs=1"
		user="--iters $((iters / 10))"
		if [[ -n $NOTRACE_KO ]]; then
			trace="mode=pair iters=$iters"
			# Its own bench module: the symbol versions differ.
			files+=("$NOTRACE_KO/ksalloc.ko:/lib/modules/notrace/"
				"$NOTRACE_KO/bench/ksalloc_bench.ko:/lib/modules/notrace/")
		fi
		;;
	smp) args="mode=scale,handoff,stream ms=$ms samples=$samples runs=$runs" ;;
	esac

	out=$logs/bench-$kernel-$name.out
	msg "$name boot: $args${trace:+; tracepoints in and out: $trace}"
	run_guest --name "bench-$kernel-$name" --timeout 900 "$@" \
		--config /etc/bench.conf \
		"$(printf 'BENCH_ARGS="%s"\nUSER_BENCH="%s"\nTRACE_ARGS="%s"' \
			"$args" "$user" "$trace")" \
		bench "$kernel" "$here/guest/bench.sh" "${files[@]}" >&2 || rc=1
	sed -n 's/^BENCH: //p' "$GUEST_OUT" >"$out.tmp"
	mv "$out.tmp" "$out"
	if [[ $rc -ne 0 ]]; then
		msg "$name boot failed: see $logs/bench-$kernel-$name.log"
		return 1
	fi
	msg "$name boot: $(wc -l <"$out") lines from the module"
}

main()
{
	local json=false do_icount=true do_smp=true slow=$DEFAULT_SLOW
	local status=0 start=$SECONDS n
	local -a report_args

	trace_note='' NOTRACE_KO=''

	kernel=6.12 runs=7 iters=1000000 ms=250 samples=500
	while [[ $# -gt 0 ]]; do
		case $1 in
		-h | --help) usage; return 0 ;;
		--json) json=true ;;
		--no-icount) do_icount=false ;;
		--no-smp) do_smp=false ;;
		--kernel | --runs | --iters | --ms | --samples | --slow)
			[[ $# -ge 2 ]] || die "$1 needs an argument"
			case $1 in
			--kernel) kernel=$2 ;;
			--runs) runs=$2 ;;
			--iters) iters=$2 ;;
			--ms) ms=$2 ;;
			--samples) samples=$2 ;;
			--slow) slow=$2 ;;
			esac
			shift
			;;
		*) usage >&2; DIE_STATUS=2 die "unknown argument '$1'" ;;
		esac
		shift
	done
	for n in "$runs" "$iters" "$ms" "$samples"; do
		[[ $n =~ ^[1-9][0-9]*$ ]] || DIE_STATUS=2 die "not a positive number: '$n'"
	done

	need python3:python3 objdump:binutils nm:binutils
	mkdir -p "$logs"
	msg "building against $kernel"
	guest_build bench "$kernel" >&2 ||
		die "build failed: see $logs/bench-build-$kernel.log"
	build_tools 2>>"$logs/bench-build-$kernel.log" ||
		die "tools build failed: see $logs/bench-build-$kernel.log"
	$do_icount && notrace_build

	if $do_icount; then
		rm -f "$logs/bench-$kernel-icount.out"
		boot icount --icount --smp 1 || status=1
	fi
	if $do_smp; then
		rm -f "$logs/bench-$kernel-smp.out"
		boot smp --smp 2 || status=1
	fi

	objdump -dr --no-show-raw-insn "$KO/ksalloc.ko" >"$logs/bench-$kernel-ksalloc.dis"
	report_args=(--kernel "$kernel" --runs "$runs" --iters "$iters" --ms "$ms"
		     --samples "$samples" --slow "$slow")
	! $json || report_args+=(--json)
	[[ -z $trace_note ]] || report_args+=(--tracepoints-note "$trace_note")
	"$here/bench-report.py" "${report_args[@]}" \
		"$logs/bench-$kernel-icount.out" "$logs/bench-$kernel-smp.out" \
		"$logs/bench-$kernel-ksalloc.dis"
	msg "done in $((SECONDS - start)) s; logs in $logs"
	return "$status"
}

main "$@"
