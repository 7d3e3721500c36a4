#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the `make run` guest: load ksalloc and the sample producer, show
# an allocator, then stream frames from the producer's softirq timer into
# ksalloc-ctl for five seconds.  With DEMO=edu in /etc/ksalloc-demo.conf
# (`make run DEMO=edu`) the frames come from QEMU's edu PCI device by DMA
# instead: a pool user space framed, then one of device memory that the
# driver creates.  Each step is a check ("GUEST-PASS: name" or
# "GUEST-FAIL: name"); the run ends with the KSALLOC-RESULT marker.

# shellcheck source=scripts/guest/lib.sh
. /lib/ksalloc/guest.sh
DEMO=timer
# shellcheck disable=SC1091 # made by scripts/run.sh
[ ! -r /etc/ksalloc-demo.conf ] || . /etc/ksalloc-demo.conf

# The edu device and the frames it writes.
demo_edu() {
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x1234:0x11e8 ] &&
			echo "${d##*/} edu 1234:11e8, irq $(cat "$d/irq"), numa_node $(cat "$d/numa_node")"
	done
	echo
	echo "== insmod ksalloc.ko; insmod ksalloc_producer.ko dma_bits=$DMA_BITS (edu's driver)"
	check insmod-ksalloc insmod $M/ksalloc.ko
	check insmod-edu insmod $M/ksalloc_producer.ko dma_bits="$DMA_BITS"
	i=0
	while [ ! -c /dev/ksalloc_edu ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	ls -l /dev/ksalloc_edu
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null

	for how in user create; do
		opt=
		[ $how = user ] || opt=--create
		echo
		echo "== ksalloc-ctl --producer /dev/ksalloc_edu stream${opt:+ $opt} --frames 8 --size 6000 --rate 5 --seconds 3"
		# stderr to a file: no progress line over the dma file below.
		ksalloc-ctl --producer /dev/ksalloc_edu stream $opt --frames 8 \
			--size 6000 --rate 5 --seconds 3 2>/tmp/stream.err &
		pid=$!
		sleep 1.5
		for f in /sys/kernel/debug/ksalloc/*/dma; do
			grep -qx 'bound 1' "$f" 2>/dev/null || continue
			echo "-- $f while streaming:"
			cat "$f"
		done
		check "edu-stream-$how" wait $pid
		cat /tmp/stream.err
	done
	check rmmod rmmod ksalloc_producer ksalloc
	check_kernel_clean
}

if [ "$DEMO" = edu ]; then
	echo
	echo "== $(uname -r): frames by DMA from QEMU's edu device"
	demo_edu
	finish
fi

echo
echo "== $(uname -r): insmod ksalloc.ko ksalloc_producer.ko"
check insmod-ksalloc insmod $M/ksalloc.ko
check insmod-producer insmod $M/ksalloc_producer.ko
ls -l /dev/ksalloc /dev/ksalloc_producer

echo
echo "== ksalloc-ctl info --frames 16 --size 2048 --align 63"
check info ksalloc-ctl info --frames 16 --size 2048 --align 63

echo
echo "== ksalloc-ctl stream --frames 64 --size 4096 --rate 2000 --seconds 5"
check stream ksalloc-ctl stream --frames 64 --size 4096 --rate 2000 --seconds 5
check rmmod rmmod ksalloc_producer ksalloc
finish
