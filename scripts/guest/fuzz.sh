#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the fuzz guest (busybox sh), packed by scripts/fuzz.sh with its
# settings in /etc/ksalloc-fuzz.conf:
#
#   FUZZ_SECONDS FUZZ_SEED FUZZ_THREADS   our fuzzer (tools/testing/fuzz/)
#   TRINITY_SECONDS TRINITY_CHILDREN TRINITY_SEED   trinity on /dev/ksalloc
#   TRINITY_CALLS   when not 0: trinity stops after so many calls, and
#                   must have made them
#
# Loads ksalloc.ko, injects faults into SET_FRAMING where the kernel can,
# runs the fuzzer, then trinity, each for its time, and checks that
# nothing broke: the fuzzer's own consistency check, a dmesg
# without reports, a taint of O and E at most, and rmmod.  Each check
# prints "GUEST-PASS: name" or "GUEST-FAIL: name"; "FUZZ-STAT: ..." lines
# carry the numbers to the host.  Ends with the KSALLOC-RESULT marker.

# shellcheck source=scripts/guest/lib.sh
. /lib/ksalloc/guest.sh

FUZZ_SECONDS=60 FUZZ_SEED=1 FUZZ_THREADS=4
TRINITY_SECONDS=60 TRINITY_CHILDREN=4 TRINITY_SEED=1 TRINITY_CALLS=0
# shellcheck source=/dev/null
[ -r /etc/ksalloc-fuzz.conf ] && . /etc/ksalloc-fuzz.conf

echo "guest kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ { print $2 / 1024 " MiB" }' /proc/meminfo)"
echo "FUZZ-STAT: taint-before $(cat /proc/sys/kernel/tainted)"
# Trinity children run as nobody: the node must be theirs to open.
check insmod insmod $M/ksalloc.ko mode=0666
wait_node

# 0. Where the kernel injects faults (the debug kernel): fail each
# allocation of SET_FRAMING in turn.  Quietly: the injected faults would
# otherwise print stack traces.
dbg=/sys/kernel/debug
if [ -e /proc/self/fail-nth ]; then
	mount -t debugfs debugfs $dbg 2>/dev/null
	for d in failslab fail_page_alloc; do
		echo N >$dbg/$d/ignore-gfp-wait
		echo 0 >$dbg/$d/verbose
	done
	echo N >$dbg/fail_page_alloc/ignore-gfp-highmem
	echo 0 >$dbg/fail_page_alloc/min-order
	out=$(ksalloc_fuzz_faults --frames 64 --size 4096 2>&1)
	rc=$?
	echo "$out" | sed 's/^/FUZZ-STAT: /'
	check fault-injection [ "$rc" = 0 ]
	# Again, one fault per module load: after each, the module unloads.
	faults=$(echo "$out" | sed -n 's/^faults \([0-9]*\) injected.*/\1/p')
	n=1 unloads=0
	while [ "$n" -le "${faults:-0}" ]; do
		ksalloc_fuzz_faults --frames 64 --size 4096 --nth "$n" >/dev/null 2>&1 &&
			rmmod ksalloc && insmod $M/ksalloc.ko mode=0666 &&
			wait_node && [ -c /dev/ksalloc ] &&
			unloads=$((unloads + 1))
		n=$((n + 1))
	done
	echo "FUZZ-STAT: fault-unloads $unloads of ${faults:-0}"
	check fault-unload [ "${faults:-0}" -gt 0 -a "$unloads" = "${faults:-0}" ]
fi

# 1. Our fuzzer: knows the ABI, checks every answer and the books at the end.
if [ "$FUZZ_SECONDS" != 0 ]; then
	start=$(date +%s)
	ksalloc_fuzz --seed "$FUZZ_SEED" --seconds "$FUZZ_SECONDS" \
		--threads "$FUZZ_THREADS" --json >/tmp/fuzz.json 2>/tmp/fuzz.err
	rc=$?
	echo "FUZZ-STAT: fuzz-wall $(($(date +%s) - start))"
	sed 's/^/FUZZ-JSON: /' /tmp/fuzz.json
	head -n 30 /tmp/fuzz.err
	check fuzz-consistency [ "$rc" = 0 ]
fi

# 2. trinity, aimed at the device: it opens every file under its victim
# path (-V) once for its fd pool, so the path is a directory of 32 nodes of
# /dev/ksalloc, which makes most of its pool ours (next to the inotify,
# fanotify and userfaultfd descriptors it always makes; its "pseudo"
# provider is the one that opens the victims).  It calls ioctl, mmap, poll
# and close on them, as nobody (as root it would want --dangerous and wait
# 10 s first), in a directory of its own.
if [ "$TRINITY_SECONDS" != 0 ]; then
	mkdir -p /tmp/trinity /tmp/victims && chmod 777 /tmp/trinity
	dev=$(cat /sys/class/misc/ksalloc/dev)
	i=0
	while [ $i -lt 32 ]; do
		mknod -m 0666 /tmp/victims/ksalloc$i c "${dev%%:*}" "${dev##*:}"
		i=$((i + 1))
	done
	grep -q '^nobody:' /etc/passwd 2>/dev/null ||
		echo 'nobody:x:65534:65534:nobody:/tmp/trinity:/bin/sh' >>/etc/passwd
	grep -q '^nogroup:' /etc/group 2>/dev/null ||
		echo 'nogroup:x:65534:' >>/etc/group
	ncalls=
	[ "$TRINITY_CALLS" = 0 ] || ncalls="-N $TRINITY_CALLS"
	start=$(date +%s)
	(cd /tmp/trinity && timeout -s INT "$TRINITY_SECONDS" \
		su -s /bin/sh nobody -c "exec trinity -q -l off --stats \
		-V /tmp/victims -c ioctl -c mmap -c poll -c close \
		--disable-fds=sockets,pipes,perf,epoll,eventfd,timerfd,testfile,memfd,drm \
		-C $TRINITY_CHILDREN -s $TRINITY_SEED $ncalls" >/tmp/trinity.log 2>&1) &
	tp=$!
	# Proof that it aims where it should: its descriptors of /dev/ksalloc.
	t=$((TRINITY_SECONDS / 3 + 1))
	[ $t -le 60 ] || t=60
	sleep $t
	n=0
	for f in /proc/[0-9]*/fd/*; do
		case "$(readlink "$f" 2>/dev/null)" in
		/tmp/victims/ksalloc*) n=$((n + 1)) ;;
		esac
	done
	echo "FUZZ-STAT: trinity-ksalloc-fds $n"
	check trinity-has-ksalloc-fds [ "$n" -gt 0 ]
	wait $tp
	rc=$?
	echo "FUZZ-STAT: trinity-wall $(($(date +%s) - start)) exit $rc"
	# What it opened, the summary and the errno tables, without the
	# per-child chatter.
	grep -vE 'futex|Disabled fd provider|Continuing in|^$' /tmp/trinity.log |
		tail -n 80 | sed 's/^/TRINITY: /'
	calls=$(grep -oE 'Ran [0-9]+ syscalls' /tmp/trinity.log | tail -n 1 | grep -oE '[0-9]+')
	echo "FUZZ-STAT: trinity-calls ${calls:-0}"
	check trinity-ran [ "${calls:-0}" -gt 0 ]
	[ "$TRINITY_CALLS" = 0 ] ||
		check trinity-made-all-calls [ "${calls:-0}" -ge "$TRINITY_CALLS" ]
	[ "${calls:-0}" -gt 0 ] || tail -n 40 /tmp/trinity.log
fi

# 3. After all that: nothing leaked (where kmemleak is built in, while the
# module's symbols still name the allocation sites), a clean log, no new
# taint, and the module leaves.
kmemleak_clean kmemleak-clean ksalloc
check_kernel_clean
echo "FUZZ-STAT: taint $taint $(taint_letters "$taint")"
i=0
until rmmod ksalloc 2>/dev/null; do
	# trinity's children may still be on their way out.
	i=$((i + 1))
	[ $i -lt 50 ] || break
	sleep 0.2
done
check rmmod [ $i -lt 50 ]

finish
