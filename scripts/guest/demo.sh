#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the `make run` guest: load ksalloc and the sample producer, show
# an allocator, then stream frames from the producer's softirq timer into
# ksalloc-ctl for five seconds.

# shellcheck source=scripts/guest/lib.sh
. /lib/ksalloc/guest.sh

echo
echo "== $(uname -r): insmod ksalloc.ko ksalloc_producer.ko"
insmod /lib/modules/ksalloc.ko || ksalloc-result FAIL insmod ksalloc
insmod /lib/modules/ksalloc_producer.ko || ksalloc-result FAIL insmod producer
ls -l /dev/ksalloc /dev/ksalloc_producer

echo
echo "== ksalloc-ctl info --frames 16 --size 2048 --align 63"
ksalloc-ctl info --frames 16 --size 2048 --align 63 || ksalloc-result FAIL info

echo
echo "== ksalloc-ctl stream --frames 64 --size 4096 --rate 2000 --seconds 5"
if ksalloc-ctl stream --frames 64 --size 4096 --rate 2000 --seconds 5; then
	rmmod ksalloc_producer ksalloc
	ksalloc-result PASS
fi
ksalloc-result FAIL stream
