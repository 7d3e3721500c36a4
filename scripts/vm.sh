#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# vm.sh - boot a kernel and an initramfs under QEMU and report the result.
#
# The VM is qemu-system-x86_64 with TCG (multi-threaded with more than one
# vCPU; single-threaded with instruction counting for --icount), no display,
# no reboot, the console on ttyS0, streamed to stdout and kept in --log.
#
# Result convention (guest -> host); the first that applies wins:
#
#   1. Kernel crash: a console line with "Kernel panic - not syncing",
#      "Oops", "kernel BUG at", "BUG:" or "general protection fault" fails
#      the run, whatever else was reported.  The command line has panic=-1
#      and oops=panic, so with -no-reboot QEMU exits right after a crash.
#      (An /init that exits panics the kernel too.)
#   2. A marker line on the console, at the start of a line:
#         KSALLOC-RESULT: PASS
#         KSALLOC-RESULT: FAIL <reason>
#      The first marker is the result.  The guest should then power off
#      (poweroff -f); vm.sh stops QEMU itself if it has not a few seconds
#      after the marker.
#   3. The isa-debug-exit device at I/O port 0xf4: a byte V written there
#      makes QEMU exit with status (V << 1) | 1.  V = 0x10 is PASS (status
#      33), any other V is FAIL.  For guests that cannot print; the shell
#      can do it with:  printf '\020' | dd of=/dev/port bs=1 seek=244
#   4. Nothing: QEMU exited without a result, or the timeout struck.
#
# A crash before the kernel runs /init cannot come from the test.  Multi-
# threaded TCG has rare ones of its own (an "Oops: int3" when a vCPU runs
# stale code across a static key flip), so such a boot is tried again, up
# to --retries times, before it counts.
#
# initramfs.sh puts the guest half in every image as /bin/ksalloc-result:
#   ksalloc-result PASS             prints the PASS marker and powers off
#   ksalloc-result FAIL <reason>    prints the FAIL marker and powers off
#
# With --strict, WARNING:, UBSAN: and hung-task lines are crashes too.
#
# Exit status: 0 PASS; 1 FAIL; 2 usage or setup error; 3 kernel crash (or,
# with --strict, a warning); 4 no result; 124 timeout.
#
# For a test time the summary line gives the seconds from starting QEMU to
# the result.

set -euo pipefail
shopt -s extglob

readonly PROG=${0##*/}
readonly DIE_STATUS=2	# die() is for usage errors here
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Console lines that mean the kernel is in trouble (extended regexps).
readonly CRASH_RE='Kernel panic - not syncing|Oops[: ]|kernel BUG at|BUG: |general protection fault'
readonly STRICT_RE='WARNING:|UBSAN:|INFO: task .* blocked for more than'
# A printk line: "[    1.234567] ..."
readonly KMSG_RE='^\[ *[0-9]+\.[0-9]+\]'
readonly FIRST_KMSG='[    0.000000] '
readonly MARKER='KSALLOC-RESULT: '

# The kernel's line just before it starts /init.
readonly INIT_RE='Run .* as init process'

# Seconds to wait for QEMU to exit after the result, and at most after the
# last line printed then.
readonly GRACE=5 GRACE_MAX=30

usage()
{
	cat <<EOF
Usage: $PROG --kernel VMLINUZ --initrd CPIO [--smp N] [--mem MB]
              [--timeout SECONDS] [--log FILE] [--append 'CMDLINE']
              [--icount] [--quiet] [--strict] [--retries N]
              [-- QEMU_ARGS...]

Boot VMLINUZ with CPIO under qemu-system-x86_64 (TCG) and exit 0 only if
the guest reported PASS.  The console goes to stdout and to --log.

  --kernel FILE      kernel image (e.g. from scripts/kernels.sh vmlinuz)
  --initrd FILE      initramfs (e.g. from scripts/initramfs.sh)
  --smp N            vCPUs, multi-threaded TCG when N > 1 (default 2)
  --mem MB           guest memory (default 1024)
  --timeout SECONDS  stop QEMU with timeout(1) after this long (default 300)
  --log FILE         keep the whole console output in FILE
  --append CMDLINE   more kernel command line (may repeat; later wins)
  --icount           exact instruction counting: -smp 1, single-threaded
                     TCG, -icount shift=0,align=off,sleep=off
                     (the guest clock then counts 1 ns per instruction)
  --quiet            print only non-kernel lines (and crashes) on stdout;
                     the log still gets everything
  --strict           treat WARNING:, UBSAN: and hung tasks as crashes
  --retries N        boot again up to N times when the kernel crashes
                     before it runs /init (default 2)
  -- QEMU_ARGS       passed to QEMU as they are

The guest reports with a "KSALLOC-RESULT: PASS" or "KSALLOC-RESULT: FAIL
<reason>" line (/bin/ksalloc-result in images from scripts/initramfs.sh)
or through isa-debug-exit at port 0xf4 (0x10 = PASS).  A panic, Oops or
BUG fails the run.  See the top of this script for the details.

Exit status: 0 PASS, 1 FAIL, 2 usage error, 3 kernel crash, 4 no result,
124 timeout.
EOF
}

# Set NOW to the microseconds since the epoch (no fork).
now_us()
{
	local t=${EPOCHREALTIME/[.,]/}

	NOW=$((10#$t))
}

# Print microseconds as seconds with two decimals.
secs()
{
	printf '%d.%02d' $(($1 / 1000000)) $(($1 % 1000000 / 10000))
}

# Settings, from the command line.
kernel='' initrd='' smp=2 mem=1024 timeout=300 log='' append=''
icount=false quiet=false strict=false retries=2
extra=()
logfd=''

# State of one boot, set while its console is read.
NOW=0
start_us=0       # when QEMU was started
verdict=''       # PASS, FAIL, CRASH, TIMEOUT or NORESULT
reason=''        # the FAIL reason or the crash line
verdict_us=0     # when the verdict came, since start
deadline_us=0    # stop QEMU when this passes (0: no deadline)
hard_deadline_us=0
init_seen=false  # the kernel has started /init
qpid=''          # timeout(1) running QEMU
qrc=0            # its exit status
stopped=false    # vm.sh stopped QEMU after the result
end_us=0         # how long QEMU ran

# Report a verdict once; later ones do not overwrite it, except that a
# crash overrides a marker.
set_verdict()
{
	[[ -n $verdict && ( $verdict == CRASH || $1 != CRASH ) ]] && return 0
	now_us
	verdict=$1
	reason=$2
	if [[ $verdict_us -eq 0 ]]; then
		verdict_us=$((NOW - start_us))
		hard_deadline_us=$((NOW + GRACE_MAX * 1000000))
	fi
	deadline_us=$((NOW + GRACE * 1000000))
}

# Handle one console line: log it, show it, look for a result.
handle_line()
{
	local line=$1 show=true

	# The kernel's first line follows the firmware's last one on the same
	# line, after a terminal reset (ESC c) or, booting a vmlinux, right
	# after it: split them.
	if [[ $line == ?*$'\e'c* ]]; then
		handle_line "${line%%$'\e'c*}"
		handle_line "${line#*$'\e'c}"
		return
	fi
	if [[ $line == ?*"$FIRST_KMSG"* ]]; then
		handle_line "${line%%"$FIRST_KMSG"*}"
		handle_line "$FIRST_KMSG${line#*"$FIRST_KMSG"}"
		return
	fi
	# Drop carriage returns and the escape sequences the firmware sends
	# (reset, clear screen, no line wrap): they would mess up a terminal.
	line=${line//$'\r'/}
	line=${line//$'\e'c/}
	line=${line//$'\e'\[*([0-9;?])[A-Za-z]/}

	[[ -n $logfd ]] && printf '%s\n' "$line" >&"$logfd"

	if [[ $line =~ $CRASH_RE ]] || { $strict && [[ $line =~ $STRICT_RE ]]; }; then
		set_verdict CRASH "$line"
	elif [[ $line == "${MARKER}PASS" || $line == "${MARKER}PASS "* ]]; then
		set_verdict PASS ''
	elif [[ $line == "${MARKER}FAIL"* ]]; then
		line=${line#"${MARKER}FAIL"}
		set_verdict FAIL "${line# }"
		line=${MARKER}FAIL$line
	elif [[ $line =~ $INIT_RE ]]; then
		init_seen=true
	fi
	if $quiet && [[ $line =~ $KMSG_RE && $verdict != CRASH ]]; then
		show=false
	fi

	# The guest is still talking after its result: give it a bit longer.
	if [[ $deadline_us -ne 0 ]]; then
		now_us
		deadline_us=$((NOW + GRACE * 1000000))
		[[ $deadline_us -gt $hard_deadline_us ]] && deadline_us=$hard_deadline_us
	fi

	if $show; then
		printf '%s\n' "$line"
	fi
}

# Turn what QEMU's exit status says into a verdict when the console gave
# none: timeout(1) struck, or isa-debug-exit was written.
classify_exit()
{
	local code

	[[ -n $verdict ]] && return 0
	if $stopped; then
		verdict=NORESULT
	elif [[ $qrc -eq 124 || $qrc -eq 137 ]]; then
		verdict=TIMEOUT
	elif [[ $qrc -gt 1 && $((qrc & 1)) -eq 1 ]]; then
		code=$((qrc >> 1))
		verdict_us=$end_us
		if [[ $code -eq 16 ]]; then
			verdict=PASS
		else
			verdict=FAIL
			reason=$(printf 'debug-exit code 0x%02x' "$code")
		fi
	else
		verdict=NORESULT
	fi
}

# boot QEMU_CMD...: run one VM to its end and leave the outcome in the
# state variables above.
boot()
{
	local tmp fifo infd line part rc

	verdict='' reason='' verdict_us=0 deadline_us=0 hard_deadline_us=0
	init_seen=false stopped=false qrc=0

	tmp=$(mktemp -d "${TMPDIR:-/tmp}/ksalloc-vm.XXXXXX")
	fifo=$tmp/console
	mkfifo "$fifo"

	# timeout(1) sends SIGTERM, on which QEMU exits cleanly, then SIGKILL
	# 10 s later if it must.  No stdin: CI has none, and QEMU must not
	# stop on a terminal it does not own.
	now_us
	start_us=$NOW
	timeout --kill-after=10 "$timeout" "$@" </dev/null >"$fifo" 2>&1 &
	qpid=$!
	# shellcheck disable=SC2064 # expand now: locals
	trap "kill -TERM $qpid 2>/dev/null; rm -rf '$tmp'" EXIT
	exec {infd}<"$fifo"

	# Read the console until QEMU closes it.  read -t returns the partial
	# line it has so far when it times out: keep it for the next round.
	line=''
	while :; do
		part=''
		if IFS= read -r -t 1 -u "$infd" part; then
			handle_line "$line$part"
			line=''
		else
			rc=$?
			line+=$part
			if [[ $rc -le 128 ]]; then
				[[ -z $line ]] || handle_line "$line"
				break
			fi
		fi
		now_us
		if [[ $deadline_us -ne 0 && $NOW -gt $deadline_us ]] && ! $stopped; then
			msg "the guest did not stop after its result: stopping QEMU"
			kill -TERM "$qpid" 2>/dev/null || true
			stopped=true
		fi
	done
	exec {infd}<&-
	wait "$qpid" || qrc=$?
	now_us
	end_us=$((NOW - start_us))
	trap - EXIT
	rm -rf "$tmp"

	classify_exit
}

# Print the outcome, append it to the log, and exit with its status.
report()
{
	local status text

	case $verdict in
	PASS)
		status=0
		text="PASS: result after $(secs "$verdict_us") s"
		;;
	FAIL)
		status=1
		text="FAIL: ${reason:-no reason given}; result after $(secs "$verdict_us") s"
		;;
	CRASH)
		status=3
		text="FAIL: kernel crash after $(secs "$verdict_us") s: $reason"
		;;
	TIMEOUT)
		status=124
		text="TIMEOUT: no result in $timeout s; QEMU stopped by timeout(1)"
		;;
	*)
		status=4
		if [[ $qrc -eq 0 ]] || $stopped; then
			text="NO RESULT: the guest stopped without reporting one"
		else
			text="NO RESULT: QEMU exited with status $qrc"
		fi
		;;
	esac
	text+=" (QEMU ran $(secs "$end_us") s)"

	[[ -z $logfd ]] || printf '%s: %s\n' "$PROG" "$text" >&"$logfd"
	printf '%s: %s\n' "$PROG" "$text"
	[[ -z $log || $status -eq 0 ]] || msg "console log: $log"
	exit "$status"
}

parse_args()
{
	while [[ $# -gt 0 ]]; do
		case $1 in
		-h | --help)
			usage
			exit 0
			;;
		--kernel | --initrd | --smp | --mem | --timeout | --log | --append | --retries)
			[[ $# -ge 2 ]] || die "$1 needs an argument"
			case $1 in
			--kernel) kernel=$2 ;;
			--initrd) initrd=$2 ;;
			--smp) smp=$2 ;;
			--mem) mem=$2 ;;
			--timeout) timeout=$2 ;;
			--log) log=$2 ;;
			--append) append+=" $2" ;;
			--retries) retries=$2 ;;
			esac
			shift
			;;
		--icount) icount=true ;;
		--quiet) quiet=true ;;
		--strict) strict=true ;;
		--)
			shift
			extra=("$@")
			break
			;;
		*)
			usage >&2
			die "unknown argument '$1'"
			;;
		esac
		shift
	done
	[[ -n $kernel ]] || die "no --kernel (try --help)"
	[[ -n $initrd ]] || die "no --initrd (try --help)"
	[[ -r $kernel ]] || die "cannot read kernel $kernel"
	[[ -r $initrd ]] || die "cannot read initrd $initrd"
	[[ $smp =~ ^[1-9][0-9]*$ ]] || die "--smp wants a number, got '$smp'"
	[[ $mem =~ ^[1-9][0-9]*$ ]] || die "--mem wants megabytes, got '$mem'"
	[[ $timeout =~ ^[1-9][0-9]*$ ]] || die "--timeout wants seconds, got '$timeout'"
	[[ $retries =~ ^[0-9]+$ ]] || die "--retries wants a number, got '$retries'"
	if $icount && [[ $smp -ne 1 ]]; then
		msg "--icount: using 1 vCPU"
		smp=1
	fi
}

main()
{
	local attempt cmdline what
	local -a qemu

	parse_args "$@"
	need qemu-system-x86_64:qemu-system-x86 timeout:coreutils

	# Everything the kernel prints reaches the console (and so the log);
	# any panic or Oops ends the VM at once.
	cmdline="console=ttyS0 panic=-1 oops=panic loglevel=8 printk.time=1 edd=off rdinit=/init$append"

	qemu=(qemu-system-x86_64 -nographic -no-reboot -nodefaults
		-serial stdio -m "$mem" -kernel "$kernel" -initrd "$initrd"
		-append "$cmdline"
		-device "isa-debug-exit,iobase=0xf4,iosize=0x04")
	if $icount; then
		qemu+=(-accel "tcg,thread=single" -smp 1
			-icount "shift=0,align=off,sleep=off")
	elif [[ $smp -gt 1 ]]; then
		qemu+=(-accel "tcg,thread=multi" -smp "$smp")
	else
		qemu+=(-accel tcg -smp 1)
	fi
	qemu+=("${extra[@]}")

	if [[ -n $log ]]; then
		mkdir -p "$(dirname "$log")"
		exec {logfd}>"$log"
	fi
	trap 'exit 130' INT TERM HUP

	what="${kernel##*/}, $smp vCPU(s), $mem MiB"
	$icount && what+=", icount"
	for ((attempt = 0; ; attempt++)); do
		msg "booting $what, timeout $timeout s"
		[[ -z $logfd ]] || printf '# %s\n' "${qemu[*]}" >&"$logfd"
		boot "${qemu[@]}"
		if [[ $verdict != CRASH ]] || $init_seen || ((attempt >= retries)); then
			break
		fi
		msg "kernel crash before /init, not the test's doing: booting again"
		[[ -z $logfd ]] || printf '%s: crash before /init: booting again\n' "$PROG" >&"$logfd"
	done
	report
}

main "$@"
