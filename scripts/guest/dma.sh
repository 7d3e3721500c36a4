#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the DMA guests of scripts/dma.sh (busybox sh).  QEMU gives the
# guest an edu PCI device (1234:11e8) in one of the machines of
# edu_machine (scripts/lib.sh); /etc/ksalloc-dma.conf says which and what
# to expect:
#
#   MACHINE      the machine's name
#   DMA_BITS     the dma_bits parameter of ksalloc_producer.ko (edu's driver)
#   USER_STREAM  a stream into an allocator user space framed: "pass", or
#                "pass-or-erange" (the driver's attach may also fail with
#                ERANGE, which must never come with a corrupt frame), or "no"
#   CREATE       a stream into a kernel allocator of device memory
#                (ksalloc-ctl stream --create): "pass" or "no"
#   NODE         the NUMA node edu must sit on, and that the pages of the
#                --create stream must all come from (empty: not checked)
#   IOMMU        1: edu must be in an IOMMU group
#   SWIOTLB      1: the user-framed stream must use swiotlb's bounce slots
#                while it runs, and give them all back after
#   DMESG        an extended regexp that dmesg must match (empty: none)
#
# The checks are named without the machine: scripts/dma.sh puts it in.
# Every stream checks each frame's header, sequence and CRC in user space
# (ksalloc-ctl stream); a check here also wants at least MIN_FRAMES frames
# received, none corrupt, and the allocator's debugfs "dma" file to say
# "bound 1" while the stream runs.  After both streams and rmmod, dmesg
# must hold no kernel report, and on a kernel with DMA_API_DEBUG nothing
# may be left mapped and no error counted.

# shellcheck source=scripts/guest/lib.sh
. /lib/ksalloc/guest.sh
# shellcheck disable=SC1091 # made by scripts/dma.sh
. /etc/ksalloc-dma.conf

readonly EDU_NODE=/dev/ksalloc_edu
readonly DEBUGFS=/sys/kernel/debug
readonly DMA_API=$DEBUGFS/dma-api
# The stream: 8 frames of 6000 bytes (two edu transfers each, 0.2 to
# 0.6 s a frame), asked for at 5 a second.
readonly FRAMES=8 SIZE=6000 RATE=5 STREAM_SECS=3 MIN_FRAMES=2

mount -t debugfs debugfs $DEBUGFS 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null

echo "guest kernel $(uname -r), $(nproc) CPUs, machine $MACHINE"

# The PCI function of edu, as "0000:bb:dd.f"; none: empty.
edu_function() {
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = 0x1234 ] &&
			[ "$(cat "$d/device")" = 0x11e8 ] && { echo "${d##*/}"; return; }
	done
}

# json_num KEY FILE: the number of "KEY":N in the one-line JSON of FILE.
json_num() {
	sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p" "$2"
}

# watch_dma PID OUT: while PID runs, keeps in OUT a copy of a debugfs dma
# file of ksalloc that says "bound 1" (the last one seen), in OUT.framing
# its allocator's framing file, in OUT.swiotlb the most swiotlb slots in
# use while it was bound, and in OUT.dma-api the fewest free entries of
# DMA_API_DEBUG then.
watch_dma() {
	while kill -0 "$1" 2>/dev/null; do
		for f in "$DEBUGFS"/ksalloc/*/dma; do
			grep -qx 'bound 1' "$f" 2>/dev/null || continue
			# Both or neither: the allocator may go between the two
			# reads, and a redirection truncates before cat fails.
			cat "${f%/dma}/framing" >"$2.ftmp" 2>/dev/null &&
				cat "$f" >"$2.tmp" 2>/dev/null &&
				mv "$2.ftmp" "$2.framing" && mv "$2.tmp" "$2"
			free=$(cat "$DMA_API/num_free_entries" 2>/dev/null)
			[ "${free:-0}" -ge "$(cat "$2.dma-api" 2>/dev/null || echo 999999999)" ] ||
				echo "$free" >"$2.dma-api"
			used=$(cat "$DEBUGFS/swiotlb/io_tlb_used" 2>/dev/null)
			[ "${used:-0}" -le "$(cat "$2.swiotlb" 2>/dev/null || echo 0)" ] ||
				echo "$used" >"$2.swiotlb"
		done
		sleep 0.2
	done
}

# stream KIND [OPTION...]: one stream from edu; KIND names the files
# /tmp/KIND.{json,err,dma}.  Prints a summary line; returns the exit
# status of ksalloc-ctl.
stream() {
	kind=$1
	shift
	rm -f "/tmp/$kind.dma" "/tmp/$kind.dma.swiotlb" "/tmp/$kind.dma.dma-api"
	ksalloc-ctl --producer $EDU_NODE stream "$@" --frames $FRAMES \
		--size $SIZE --rate $RATE --seconds $STREAM_SECS --json \
		>"/tmp/$kind.json" 2>"/tmp/$kind.err" &
	pid=$!
	watch_dma $pid "/tmp/$kind.dma"
	wait $pid
	rc=$?
	echo "dma $MACHINE $kind: exit $rc, received $(json_num frames_received \
/tmp/"$kind".json), corrupt $(json_num corrupt /tmp/"$kind".json), drops \
$(json_num drops /tmp/"$kind".json)"
	cat "/tmp/$kind.json" "/tmp/$kind.err"
	[ ! -f "/tmp/$kind.dma" ] || sed "s/^/dma $kind: /" "/tmp/$kind.dma"
	return $rc
}

# stream_sound KIND: the stream of KIND ended well, with at least
# MIN_FRAMES frames and none corrupt.
stream_sound() {
	n=$(json_num frames_received "/tmp/$1.json")
	c=$(json_num corrupt "/tmp/$1.json")
	grep -q '"ok":true' "/tmp/$1.json" && [ "${n:-0}" -ge $MIN_FRAMES ] &&
		[ "$c" = 0 ]
}

# stream_checks KIND RC: the checks of a stream that must pass.
stream_checks() {
	check "$1-stream" [ "$2" = 0 ]
	check "$1-frames-sound" stream_sound "$1"
	check "$1-bound-while-streaming" [ -f "/tmp/$1.dma" ]
}

# A user-framed stream where attach may fail with ERANGE: which of the two
# happened is in the checks' names (user-attach-reachable or
# user-stream-erange); a corrupt frame fails either way.
user_pass_or_erange() {
	if [ "$1" = 0 ]; then
		pass user-attach-reachable
		stream_checks user 0
	elif grep -q 'Numerical result out of range' /tmp/user.err &&
		[ "$(json_num corrupt /tmp/user.json)" = "" ]; then
		pass "user-stream-erange"
		check "user-erange-not-bound" [ ! -f /tmp/user.dma ]
	else
		fail "user-stream"
	fi
}

# The pages of the --create stream all lie on node NODE: the dma file's
# pages_node<N> lines add up to the pool's pages, all on NODE.
pages_on_node() {
	f=/tmp/create.dma
	frames=$(sed -n 's/^frames //p' "$f.framing")
	stride=$(sed -n 's/^stride //p' "$f.framing")
	want=$(((frames * stride + 4095) / 4096))
	total=$(sed -n 's/^pages_node[0-9]* //p' "$f" | awk '{ s += $1 } END { print s + 0 }')
	on=$(sed -n "s/^pages_node$NODE //p" "$f")
	echo "dma $MACHINE create: $want pool pages, $total in the dma file, ${on:-0} on node $NODE"
	[ "$want" -gt 0 ] && [ "$total" = "$want" ] && [ "${on:-0}" = "$want" ]
}

dmesg_has() { dmesg | grep -Eq "$1"; }

# DMA_API_DEBUG: no error, and no mapping of edu's left.
dma_api_clean() {
	[ -d $DMA_API ] || { skip "dma-api-debug (not in this kernel)"; return; }
	echo "dma-api: errors $(cat $DMA_API/error_count), free entries" \
		"$(cat $DMA_API/num_free_entries) of $(cat $DMA_API/nr_total_entries)"
	check "dma-api-no-errors" [ "$(cat $DMA_API/error_count)" = 0 ]
	# It saw the binding's mappings: fewer free entries while streaming.
	low=$(cat /tmp/create.dma.dma-api /tmp/user.dma.dma-api 2>/dev/null | sort -n | head -1)
	echo "dma-api: ${low:-no} free entries at least while bound"
	check "dma-api-saw-mappings" [ "${low:-999999999}" -lt "$free_before" ]
	if [ -r $DMA_API/dump ]; then
		grep "$edu" $DMA_API/dump | head -5
		refuse "dma-api-nothing-mapped" grep -q "$edu" $DMA_API/dump
	else
		check "dma-api-nothing-mapped" \
			[ "$(cat $DMA_API/num_free_entries)" = "$free_before" ]
	fi
}

edu=$(edu_function)
check "edu-present" [ -n "$edu" ]
if [ -n "$edu" ]; then
	echo "edu: $edu, numa_node $(cat /sys/bus/pci/devices/"$edu"/numa_node)"
	[ -z "$NODE" ] || check "edu-on-node$NODE" \
		[ "$(cat /sys/bus/pci/devices/"$edu"/numa_node)" = "$NODE" ]
	[ "$IOMMU" != 1 ] || check edu-iommu-group \
		[ -e /sys/bus/pci/devices/"$edu"/iommu_group ]
fi
if [ -n "$DMESG" ]; then
	dmesg | grep -E "$DMESG" | head -3
	check dmesg-machine dmesg_has "$DMESG"
fi
free_before=$(cat $DMA_API/num_free_entries 2>/dev/null)

check "insmod-ksalloc" insmod $M/ksalloc.ko
check "insmod-edu" insmod $M/ksalloc_producer.ko dma_bits="$DMA_BITS"
i=0
while [ ! -c $EDU_NODE ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "edu-node" [ -c $EDU_NODE ]

# swiotlb's slots in use now.
tlb_used() { cat "$DEBUGFS/swiotlb/io_tlb_used" 2>/dev/null || echo 0; }

# unmapped BEFORE: the slots in use are back to BEFORE within 5 s (the
# allocator is released by a work item).
unmapped() {
	i=0
	while [ "$(tlb_used)" != "$1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	echo "swiotlb: $(tlb_used) slots used after the stream, $1 before"
	[ "$(tlb_used)" = "$1" ]
}

if [ "$USER_STREAM" != no ]; then
	tlb_before=$(tlb_used)
	stream user
	rc=$?
	case $USER_STREAM in
	pass) stream_checks user $rc ;;
	*) user_pass_or_erange $rc ;;
	esac
	if [ "$SWIOTLB" = 1 ]; then
		echo "swiotlb: at most $(cat /tmp/user.dma.swiotlb 2>/dev/null) slots used while bound"
		check user-bounced [ "$(cat /tmp/user.dma.swiotlb 2>/dev/null || echo 0)" -gt 0 ]
		check user-unmapped-after unmapped "$tlb_before"
	fi
fi
if [ "$CREATE" = pass ]; then
	stream create --create
	stream_checks create $?
	[ -z "$NODE" ] || check "create-pages-node$NODE" pages_on_node
	# Device memory, each frame one run of pages: one transfer segment.
	stream contig --create --contig
	stream_checks contig $?
	check contig-backing grep -qx 'contig 1' /tmp/contig.dma
fi
# edu refuses frames over 256 KiB: the CRC it makes in softirq is bounded.
too_big() {
	ksalloc-ctl --producer $EDU_NODE stream --create --frames 2 \
		--size 262145 --rate 5 --seconds 1 2>&1 | tee /dev/stderr |
		grep -q 'Invalid argument'
}
[ "$MACHINE" != plain64 ] || check create-over-256k-einval too_big

check "rmmod-edu" rmmod ksalloc_producer
check "rmmod-ksalloc" rmmod ksalloc
dma_api_clean
check_kernel_clean
finish
