#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the hardening guest (busybox sh), packed by scripts/hardening.sh.
#
#   limits     framings over max_pool_bytes / max_total_bytes fail with
#              ENOMEM, with small limits and with the defaults, without the
#              guest running out of memory; closing returns the budget
#   memcg      the pool is charged to the opener's memory cgroup (cgroup v2
#              memory.current), also when SET_FRAMING comes from a process
#              in another cgroup, and uncharged on close
#   teardown   each ~20 times: rmmod refused while busy (descriptor open,
#              producer loaded, producer attached), producer detach and
#              close while its timer fires, the allocator closed while the
#              producer holds frames, kill -9 of a streaming ksalloc-ctl;
#              then the whole budget can be framed (nothing leaked), dmesg
#              is clean, taint is O/E at most, and both modules unload
#
# Each check prints "GUEST-PASS: name" or "GUEST-FAIL: name"; the run ends
# with the KSALLOC-RESULT marker that scripts/vm.sh reads.

# shellcheck source=scripts/guest/lib.sh
. /lib/ksalloc/guest.sh

P=/sys/module/ksalloc/parameters
HARDENING_LOOPS=20
# shellcheck source=/dev/null
[ -r /etc/ksalloc-hardening.conf ] && . /etc/ksalloc-hardening.conf
N=$HARDENING_LOOPS
# The program that frames and holds allocators.
HOLD=ksalloc_fuzz_hold
mem_available_mb() { awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo; }
# hold_expect "framed X/K[ error E]" ARGS...: $HOLD prints that.
hold_expect() {
	want=$1
	shift
	got=$($HOLD "$@" 2>&1 | head -n 1)
	case "$got" in
	"$want"*) return 0 ;;
	esac
	echo "hold $*: got '$got', want '$want'"
	return 1
}
# loop NAME COMMAND...: COMMAND must succeed N times in a row.
loop() {
	name=$1
	shift
	n=0
	while [ $n -lt "$N" ]; do
		if ! "$@"; then
			echo "$name: failed in round $((n + 1))"
			fail "$name"
			return
		fi
		n=$((n + 1))
	done
	pass "$name"
}

echo "guest kernel $(uname -r), $(nproc) CPUs, $(mem_available_mb) MiB available"
t0=$(date +%s)

# --- limits: small ones first ---------------------------------------------
check insmod-small-limits insmod $M/ksalloc.ko max_pool_bytes=8388608 max_total_bytes=16777216
wait_node
mem0=$(mem_available_mb)
check limits-small/one-over-pool hold_expect "framed 0/1 4096 x 4096 error ENOMEM" --frames 4096 --size 4096
check limits-small/overflow hold_expect "framed 0/1 65536 x 4194304 error E" --frames 65536 --size 4194304
# 1010 pages and their metadata: four fit in 16 MiB, a fifth does not.
check limits-small/many-fds hold_expect "framed 4/64 1010 x 4096 error ENOMEM" --fds 64 --frames 1010 --size 4096
# Hold nearly the whole budget: more is refused, closing gives it back.
# Metadata counts too (SPEC 7.8), so 2 x 2000 pages leave about 330 KiB.
$HOLD --fds 2 --frames 2000 --size 4096 --seconds -1 >/tmp/hold.out 2>&1 &
hp=$!
i=0
while ! grep -q ready /tmp/hold.out && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
check limits-small/budget-held grep -q 'framed 2/2' /tmp/hold.out
check limits-small/budget-exhausted hold_expect "framed 0/1 128 x 4096 error ENOMEM" --frames 128 --size 4096
kill $hp
wait $hp
check limits-small/budget-returned hold_expect "framed 2/2" --fds 2 --frames 2000 --size 4096
# A pool of exactly max_pool_bytes is refused: its metadata counts too.
check limits-small/pool-plus-metadata hold_expect "framed 0/1 4096 x 2048 error ENOMEM" --frames 4096 --size 2048
check limits-small/budget-returned-one hold_expect "framed 1/1" --frames 4000 --size 2048 --touch
check rmmod-small-limits rmmod ksalloc

# --- limits: the defaults (64 MiB a pool, 256 MiB in all) -------------------
check insmod-defaults insmod $M/ksalloc.ko
wait_node
check limits-default/one-over-pool hold_expect "framed 0/1 16385 x 4096 error ENOMEM" --frames 16385 --size 4096
# Nearly the whole default budget held at once: the guest must keep going.
# 16256 pages and their metadata fit in one 64 MiB pool; four such fit in
# 256 MiB, leaving less than 256 pages.
$HOLD --fds 16 --frames 16256 --size 4096 --seconds -1 >/tmp/hold.out 2>&1 &
hp=$!
i=0
while ! grep -q ready /tmp/hold.out && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
check limits-default/many-fds grep -q 'framed 4/16 16256 x 4096 error ENOMEM' /tmp/hold.out
mem1=$(mem_available_mb)
check limits-default/budget-exhausted hold_expect "framed 0/1 256 x 4096 error ENOMEM" --frames 256 --size 4096
kill $hp
wait $hp
mem2=$(mem_available_mb)
echo "MemAvailable: $mem0 MiB at start, $mem1 MiB with the 256 MiB budget held, $mem2 MiB after"
# 256 MiB of 1 GiB: what is left must stay well above nothing.
check limits/no-oom [ "$mem1" -gt 128 ]
if dmesg | grep -qiE 'out of memory|oom-kill|page allocation failure'; then
	dmesg | grep -iE 'out of memory|oom-kill|page allocation failure' | head -n 5
	fail limits/no-oom-dmesg
else
	pass limits/no-oom-dmesg
fi
echo "HARDENING-TIME: limits $(($(date +%s) - t0)) s"

# --- memory cgroup -----------------------------------------------------------
t1=$(date +%s)
CG=/sys/fs/cgroup
memcg_setup() {
	mkdir -p $CG
	grep -q " $CG cgroup2 " /proc/mounts || mount -t cgroup2 none $CG || return 1
	echo +memory >$CG/cgroup.subtree_control || return 1
	mkdir -p $CG/ksalloc && [ -r $CG/ksalloc/memory.current ]
}
if memcg_setup; then
	pass memcg/setup
	before=$(cat $CG/ksalloc/memory.current)
	# The holder moves itself into the group, then opens and frames 8 MiB.
	sh -c "echo \$\$ >$CG/ksalloc/cgroup.procs && exec $HOLD --frames 2048 --size 4096 --seconds -1" \
		>/tmp/memcg.out 2>&1 &
	hp=$!
	i=0
	while ! grep -q ready /tmp/memcg.out && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	during=$(cat $CG/ksalloc/memory.current)
	kill $hp
	wait $hp
	sleep 0.5
	after=$(cat $CG/ksalloc/memory.current)
	echo "memcg: memory.current $before before, $during with 8 MiB framed, $after after close"
	check memcg/charged [ $((during - before)) -ge 8388608 ]
	# What stays is slab of the process's own, not the pool.
	check memcg/uncharged [ "$after" -lt $((before + 1048576)) ]

	# Opened in one group, framed from another (SPEC 7.8): the holder
	# opens in ksalloc-opener, moves itself into ksalloc-framer, then
	# frames 8 MiB.  The opener's group pays; the framer's does not.  Both
	# groups are new, so that nothing left from above is uncharged meanwhile.
	mkdir -p $CG/ksalloc-opener $CG/ksalloc-framer
	a0=$(cat $CG/ksalloc-opener/memory.current)
	b0=$(cat $CG/ksalloc-framer/memory.current)
	sh -c "echo \$\$ >$CG/ksalloc-opener/cgroup.procs && exec $HOLD \
		--frames 2048 --size 4096 --seconds -1 --cgroup $CG/ksalloc-framer" \
		>/tmp/memcg-framer.out 2>&1 &
	hp=$!
	i=0
	while ! grep -q ready /tmp/memcg-framer.out && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	a1=$(cat $CG/ksalloc-opener/memory.current)
	b1=$(cat $CG/ksalloc-framer/memory.current)
	check memcg/framer-moved grep -qx "$hp" $CG/ksalloc-framer/cgroup.procs
	check memcg/framer-framed grep -q 'framed 1/1' /tmp/memcg-framer.out
	kill $hp
	wait $hp
	sleep 0.5
	a2=$(cat $CG/ksalloc-opener/memory.current)
	echo "memcg: opener's memory.current $a0 before, $a1 with 8 MiB framed elsewhere, $a2 after close"
	echo "memcg: framer's memory.current $b0 before, $b1 with 8 MiB framed"
	check memcg/opener-charged [ $((a1 - a0)) -ge 8388608 ]
	check memcg/framer-not-charged [ $((b1 - b0)) -lt 1048576 ]
	check memcg/opener-uncharged [ "$a2" -lt $((a0 + 1048576)) ]
else
	fail memcg/setup
fi
echo "HARDENING-TIME: memcg $(($(date +%s) - t1)) s"

# --- teardown ----------------------------------------------------------------
t2=$(date +%s)
# A small budget: at the end, framing all of it proves nothing leaked.
echo 16777216 >$P/max_total_bytes
echo 16777216 >$P/max_pool_bytes

rmmod_refused_open() {
	exec 3<>/dev/ksalloc
	! rmmod ksalloc 2>/dev/null
	r=$?
	exec 3>&-
	return $r
}
loop teardown/rmmod-refused-fd-open rmmod_refused_open

check insmod-producer insmod $M/ksalloc_producer.ko
rmmod_refused_loaded() { ! rmmod ksalloc 2>/dev/null; }
loop teardown/rmmod-refused-producer-loaded rmmod_refused_loaded

# The producer attached and streaming: neither module may go.
rmmod_refused_attached() {
	ksalloc-ctl stream --frames 32 --size 4096 --rate 5000 --seconds 0.6 --quiet &
	sp=$!
	i=0
	while [ "$(cat /sys/module/ksalloc_producer/refcnt)" = 0 ] && [ $i -lt 100 ]; do
		sleep 0.02
		i=$((i + 1))
	done
	r=0
	rmmod ksalloc_producer 2>/dev/null && r=1
	rmmod ksalloc 2>/dev/null && r=1
	wait $sp || r=1
	return $r
}
loop teardown/rmmod-refused-producer-attached rmmod_refused_attached

# Detach, close the producer, or close the allocator while the timer fires
# at the highest rate; ksalloc-ctl checks that every frame came back.
for how in detach close-producer close-allocator; do
	loop "teardown/$how" quiet ksalloc-ctl stream --frames 16 --size 1024 \
		--rate 100000 --seconds 0.2 --teardown $how
done

# kill -9 of a streaming consumer: the releases must clean up after it.
kill9_stream() {
	ksalloc-ctl stream --frames 32 --size 2048 --rate 20000 --seconds 30 --quiet &
	sp=$!
	sleep 0.$((3 + n % 5))
	kill -9 $sp
	wait $sp
	[ $? = 137 ]
}
loop teardown/kill-9-stream kill9_stream
i=0
while [ "$(cat /sys/module/ksalloc_producer/refcnt)" != 0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check teardown/producer-idle [ "$(cat /sys/module/ksalloc_producer/refcnt)" = 0 ]
check teardown/ksalloc-idle [ "$(cat /sys/module/ksalloc/refcnt)" = 1 ]

# Nothing leaked: the whole budget frames, and touches, in one allocator.
# All but about 40 KiB of it: the pool's metadata counts too (SPEC 7.8).
check teardown/whole-budget hold_expect "framed 1/1" --frames 4064 --size 4096 --touch
echo "HARDENING-TIME: teardown $(($(date +%s) - t2)) s"

check rmmod-producer rmmod ksalloc_producer
check rmmod-ksalloc rmmod ksalloc

check_kernel_clean
echo "HARDENING-TIME: total $(($(date +%s) - t0)) s"
finish
