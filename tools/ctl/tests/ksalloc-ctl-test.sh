#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# ksalloc-ctl-test: ksalloc-ctl list, list --json and top against the
# module's debugfs, in a guest (busybox sh), as root, after insmod
# ksalloc.ko, with ksalloc-ctl, ksalloc-ptyrun and libksalloc-test in
# /bin.  Allocators come from background "ksalloc-ctl hold" processes;
# --json is parsed by "ksalloc-ptyrun --check-json"; top runs under a pty
# through ksalloc-ptyrun.  At the end debugfs is unmounted for a moment to
# check the message.  Prints "GUEST-PASS: ctl/NAME" or "GUEST-FAIL:
# ctl/NAME" per check and exits 1 if any failed.
#
# usage: ksalloc-ctl-test

DBG=/sys/kernel/debug
D=$DBG/ksalloc
T=/tmp/ksalloc-ctl-test
ESC=$(printf '\033')
failed=0
holders=

rm -rf $T && mkdir -p $T

ok() { echo "GUEST-PASS: ctl/$1"; }
bad() {
	echo "GUEST-FAIL: ctl/$1"
	failed=$((failed + 1))
	[ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/# /' "$2" | head -40
	return 0
}
# check NAME LOG COMMAND...: passes when the command succeeds.
check() {
	name=$1 log=$2
	shift 2
	if "$@"; then ok "$name"; else bad "$name" "$log"; fi
}

# hold FILE ARGS...: a background "ksalloc-ctl hold"; waits up to 10 s
# for its id, then FILE.id holds the id and FILE.pid the process.
hold() {
	f=$1
	shift
	ksalloc-ctl hold "$@" >"$f" 2>"$f.err" &
	holders="$holders $!"
	echo $! >"$f.pid"
	i=0
	while ! grep -q '^id ' "$f" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	sed -n 's/^id //p' "$f" >"$f.id"
}

# field ID COLUMN: that column of allocator ID's line in $T/list.
field() { awk -v id="$1" -v c="$2" '$1 == id { print $c }' $T/list; }

# jfield INDEX KEY: a value of object INDEX in $T/flat (check-json output).
jfield() { sed -n "s/^$1\.$2=//p" $T/flat; }

# jindex ID: the index of the object whose id is ID in $T/flat.
jindex() { sed -n "s/^\([0-9]*\)\.id=$1\$/\1/p" $T/flat; }

# gone ID: waits up to 10 s for allocator ID's directory to go.
gone() {
	i=0
	while [ -d "$D/$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ ! -d "$D/$1" ]
}

grep -q " $DBG debugfs " /proc/mounts || mount -t debugfs debugfs $DBG
# ksalloc-ptyrun's terminals.
if ! grep -q ' /dev/pts devpts ' /proc/mounts; then
	mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
fi

# ---- no allocator ---------------------------------------------------------
# What ran before may leave an allocator whose memory goes from a work
# item: give it up to 10 s.
# some_allocator: whether debugfs shows an allocator's directory.
some_allocator() {
	for d in "$D"/[0-9]*; do
		[ -d "$d" ] && return 0
	done
	return 1
}
i=0
while some_allocator && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
list_none() {
	ksalloc-ctl list >$T/list 2>&1 &&
		[ "$(wc -l <$T/list)" = 1 ] && grep -q '^ *ID  *STATE  *POOL' $T/list
}
check list-none $T/list list_none
json_none() {
	ksalloc-ctl list --json >$T/json 2>&1 && [ "$(cat $T/json)" = "[]" ] &&
		ksalloc-ptyrun --check-json <$T/json >$T/flat && [ "$(cat $T/flat)" = "#=0" ]
}
check list-json-none $T/json json_none

# ---- export: a dma-buf of the pool and of a frame, compared ----------------
ksalloc-ctl export --frames 3 --size 8192 >$T/export 2>&1
check export-pool $T/export grep -qx 'pool: dma-buf of 24576 bytes, compared 24576 bytes twice' $T/export
ksalloc-ctl export --frames 3 --size 4096 --frame >$T/export 2>&1
check export-frame $T/export grep -qx 'frame [0-2]: dma-buf of 4096 bytes, compared 4096 bytes twice' $T/export
# a stride that is not a multiple of the page: refused, status 1
export_refused() {
	! ksalloc-ctl export --frames 2 --size 1000 --frame >$T/export 2>&1 &&
		grep -q 'export frame' $T/export
}
check export-frame-refused $T/export export_refused

# ---- two allocators held by other processes --------------------------------
hold $T/h1 --frames 8 --size 4096 --alloc 3 --seconds 120
hold $T/h2 --frames 16 --size 1000 --align 63 --paged --alloc 5 --seconds 120
id1=$(cat $T/h1.id) pid1=$(cat $T/h1.pid)
id2=$(cat $T/h2.id) pid2=$(cat $T/h2.pid)
echo "held: $id1 by $pid1, $id2 by $pid2"
hold_ids() { [ -n "$id1" ] && [ -n "$id2" ] && [ "$id1" != "$id2" ]; }
check hold-ids $T/h1.err hold_ids

ksalloc-ctl list >$T/list 2>&1
cat $T/list
check list-two $T/list [ "$(wc -l <$T/list)" = 3 ]
# ID STATE POOL FRAMES FRAME_SIZE STRIDE USED FREE WAITERS DISPATCH BYTES PID COMM
list_fields() {
	[ "$(field "$id1" 2)" = open ] && [ "$(field "$id1" 3)" = nonpaged ] &&
	[ "$(field "$id1" 4)" = 8 ] && [ "$(field "$id1" 5)" = 4096 ] &&
	[ "$(field "$id1" 6)" = 4096 ] && [ "$(field "$id1" 7)" = 3 ] &&
	[ "$(field "$id1" 8)" = 5 ] && [ "$(field "$id1" 12)" = "$pid1" ] &&
	[ "$(field "$id1" 13)" = ksalloc-ctl ] &&
	[ "$(field "$id2" 3)" = paged ] && [ "$(field "$id2" 4)" = 16 ] &&
	[ "$(field "$id2" 5)" = 1000 ] && [ "$(field "$id2" 6)" = 1024 ] &&
	[ "$(field "$id2" 7)" = 5 ] && [ "$(field "$id2" 12)" = "$pid2" ]
}
check list-fields-match-framing $T/list list_fields
# The bytes column is the framing file's, and covers at least the pool
# that hold framed: frames x stride, in whole pages.
page=$(getconf PAGESIZE 2>/dev/null || echo 4096)
pool_bytes() { echo $((($1 * $2 + page - 1) / page * page)); }
list_bytes() {
	b1=$(field "$id1" 11) b2=$(field "$id2" 11)
	echo "bytes: $b1 (pool $(pool_bytes 8 4096)), $b2 (pool $(pool_bytes 16 1024))"
	[ "$b1" = "$(sed -n 's/^bytes //p' "$D/$id1/framing")" ] &&
		[ "$b1" -ge "$(pool_bytes 8 4096)" ] && [ "$b2" -ge "$(pool_bytes 16 1024)" ]
}
check list-bytes-match-debugfs $T/list list_bytes

json_two() {
	ksalloc-ctl list --json >$T/json 2>&1 &&
		ksalloc-ptyrun --check-json <$T/json >$T/flat && grep -qx '#=2' $T/flat
}
check list-json-parses $T/json json_two
json_fields() {
	j=$(jindex "$id1") k=$(jindex "$id2")
	[ -n "$j" ] && [ -n "$k" ] &&
	[ "$(jfield "$j" frames)" = 8 ] && [ "$(jfield "$j" frame_size)" = 4096 ] &&
	[ "$(jfield "$j" allocated_frames)" = 3 ] && [ "$(jfield "$j" state)" = open ] &&
	[ "$(jfield "$j" owner_pid)" = "$pid1" ] && [ "$(jfield "$j" pool_type)" = 0 ] &&
	[ "$(jfield "$j" owner_comm)" = ksalloc-ctl ] &&
	[ "$(jfield "$k" pool_type)" = 1 ] && [ "$(jfield "$k" alignment)" = 63 ] &&
	[ "$(jfield "$k" stride)" = 1024 ] && [ "$(jfield "$k" allocated_frames)" = 5 ]
}
check list-json-fields $T/flat json_fields
# Every key of the debugfs contract, in each object.
json_keys() {
	for key in flags pool_type frames frame_size alignment stride bytes state \
		allocated_frames free_frames dispatch owner_pid owner_comm allocs frees \
		alloc_failures waits wait_timeouts handoffs peak_allocated waiters user \
		kernel pollers armed caches.cpu0 waiter#; do
		for o in 0 1; do
			grep -q "^$o\.$key=" $T/flat || { echo "no $o.$key"; return 1; }
		done
	done
}
check list-json-keys $T/flat json_keys
# The stats the JSON shows are the debugfs file's (the holders are idle),
# and what the holders did: 3 and 5 ALLOCs that succeeded, no FREE.
json_matches_debugfs() {
	j=$(jindex "$id1") k=$(jindex "$id2")
	for key in allocs frees alloc_failures; do
		[ "$(jfield "$j" $key)" = "$(sed -n "s/^$key //p" "$D/$id1/stats")" ] || return 1
	done
	[ "$(jfield "$j" allocs)" = 3 ] && [ "$(jfield "$j" frees)" = 0 ] &&
		[ "$(jfield "$j" alloc_failures)" = 0 ] && [ "$(jfield "$j" peak_allocated)" = 3 ] &&
		[ "$(jfield "$j" free_frames)" = 5 ] &&
		[ "$(jfield "$k" allocs)" = 5 ] && [ "$(jfield "$k" frees)" = 0 ] &&
		[ "$(jfield "$k" free_frames)" = 11 ]
}
check list-json-matches-debugfs $T/flat json_matches_debugfs

# ---- top: plain blocks, rates of a load ------------------------------------
hold $T/h3 --frames 4 --size 256 --alloc 1 --churn --seconds 60
id3=$(cat $T/h3.id)
top_plain() {
	ksalloc-ctl top --seconds 2 --interval 1 </dev/null >$T/top 2>&1 || return 1
	cat $T/top
	! grep -q "$ESC" $T/top &&
		[ "$(grep -c '^ksalloc-ctl top - ' $T/top)" = 3 ] &&
		[ "$(grep -c '^ *ID  *STATE  *USED/FRAMES' $T/top)" = 3 ]
}
check top-plain-blocks $T/top top_plain
# ID STATE USED/FRAMES WAITERS ALLOCS/s FREES/s FAILS/s HANDOFFS/s PID COMM,
# in the last block.
last_rate() { awk -v id="$1" -v c="$2" '$1 == id { v = $c } END { print v }' $T/top; }
top_rates() {
	a3=$(last_rate "$id3" 5) f3=$(last_rate "$id3" 6) a1=$(last_rate "$id1" 5)
	echo "allocs/s: churning $a3 (frees/s $f3), idle $a1"
	awk -v a="$a3" -v f="$f3" -v i="$a1" \
		'BEGIN { exit !(a + 0 > 0 && f + 0 > 0 && i == "0.0") }' &&
		[ "$(last_rate "$id1" 3)" = 3/8 ] && [ "$(last_rate "$id1" 2)" = open ]
}
check top-rates-follow-load $T/top top_rates
kill "$(cat $T/h3.pid)"
wait "$(cat $T/h3.pid)"

# ---- top on a terminal -------------------------------------------------------
pty() {
	log=$1
	shift
	ksalloc-ptyrun --timeout 30 --log "$log.out" "$@" >"$log" 2>&1
	echo $? >"$log.rc"
	cat "$log"
}
# Allocator 2's line: its id first (not "allocators N" of the header).
pty $T/pty-q --check-termios --expect 'ALLOCS/s' --expect "^ *$id2 " --send q \
	-- ksalloc-ctl top --interval 0.5
check top-pty-q-quits $T/pty-q [ "$(cat $T/pty-q.rc)" = 0 ]
check top-pty-q-restores-terminal $T/pty-q grep -q '^ptyrun: terminal restored' $T/pty-q
check top-pty-escape-codes $T/pty-q.out grep -q "$ESC\[H" $T/pty-q.out
pty $T/pty-int --check-termios --expect 'ALLOCS/s' --send '\x03' \
	-- ksalloc-ctl top --interval 0.5
sigint_restores() {
	grep -q '^ptyrun: signal 2' $T/pty-int && grep -q 'terminal restored' $T/pty-int
}
check top-pty-sigint-restores $T/pty-int sigint_restores
pty $T/pty-sec --check-termios -- ksalloc-ctl top --seconds 1 --interval 0.3
seconds_end() {
	[ "$(cat $T/pty-sec.rc)" = 0 ] && grep -q 'terminal restored' $T/pty-sec
}
check top-pty-seconds $T/pty-sec seconds_end
# ^\ (SIGQUIT) restores the terminal before the signal ends top; no core
# is left, in $T.
# shellcheck disable=SC3045 # busybox sh has ulimit -c
(ulimit -c 0 2>/dev/null; cd $T && pty $T/pty-quit --check-termios --expect 'ALLOCS/s' \
	--send '\x1c' -- ksalloc-ctl top --interval 0.5)
sigquit_restores() {
	grep -q '^ptyrun: signal 3' $T/pty-quit && grep -q 'terminal restored' $T/pty-quit
}
check top-pty-sigquit-restores $T/pty-quit sigquit_restores
# top_pipe LOG STATUS [TRAP]: top | head, keys from the terminal; top must
# end with STATUS and the terminal restored.
top_pipe() {
	pty "$1" --check-termios --expect 'top exit [0-9]+' -- sh -c \
		"${3:-}"'{ ksalloc-ctl top --interval 0.2; echo "top exit $?" >&2; } | head -n 1 >/dev/null'
	grep -Eq "^top exit ${2}([^0-9]|$)" "$1.out" && grep -q 'terminal restored' "$1"
}
# The reader goes: SIGPIPE ends top; ignored, the write error does (1).
check top-pipe-sigpipe-restores $T/pipe.out top_pipe $T/pipe 141
check top-pipe-sigpipe-ignored-ends $T/pipe-ign.out top_pipe $T/pipe-ign 1 'trap "" PIPE; '

# ---- messages ----------------------------------------------------------------
pty $T/noroot --uid 65534 --expect 'permission denied: reading debugfs needs root' \
	-- ksalloc-ctl list
check list-not-root-message $T/noroot [ "$(cat $T/noroot.rc)" = 1 ]
not_loaded() {
	KSALLOC_DEBUGFS=$DBG/ksalloc-none ksalloc-ctl list >$T/nl 2>&1
	rc=$?
	cat $T/nl
	[ $rc = 1 ] && grep -q 'ksalloc is not loaded' $T/nl
}
check list-not-loaded-message $T/nl not_loaded

# An allocator that goes leaves the list.
kill "$pid1"
wait "$pid1"
closed_goes() {
	gone "$id1" && ksalloc-ctl list >$T/list 2>&1 && [ -z "$(field "$id1" 1)" ] &&
		[ "$(field "$id2" 1)" = "$id2" ]
}
check list-closed-allocator-goes $T/list closed_goes

not_mounted() {
	umount $DBG/tracing 2>/dev/null
	umount $DBG || return 1
	ksalloc-ctl list >$T/nm 2>&1
	rc=$?
	cat $T/nm
	mount -t debugfs debugfs $DBG
	[ $rc = 1 ] && grep -q 'debugfs is not mounted' $T/nm
}
check list-debugfs-not-mounted-message $T/nm not_mounted
after_remount() { ksalloc-ctl list >$T/list 2>&1 && [ "$(field "$id2" 1)" = "$id2" ]; }
check list-after-remount $T/list after_remount

for p in $holders; do kill "$p" 2>/dev/null; done
for p in $holders; do wait "$p" 2>/dev/null; done

# ---- the library against the device ------------------------------------------
if [ -x /bin/libksalloc-test ]; then
	libksalloc-test >$T/lib 2>&1
	rc=$?
	sed -n 's/^ok [0-9]* \(.*\)/GUEST-PASS: ctl\/\1/p;
		s/^not ok [0-9]* \(.*\)/GUEST-FAIL: ctl\/\1/p' $T/lib
	failed=$((failed + $(grep -c '^not ok ' $T/lib)))
	grep '^#' $T/lib
	lib_exit() { [ "$rc" = 0 ] && grep -q '^ok ' $T/lib; }
	check libksalloc-test-exit $T/lib lib_exit
else
	bad libksalloc-test-present
fi

echo "ksalloc-ctl-test: $failed failed"
[ "$failed" = 0 ]
