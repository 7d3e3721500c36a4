#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the `make run` guest: load ksalloc and the sample producer, show
# an allocator, then stream frames from the producer's softirq timer into
# ksalloc-ctl for five seconds.  Each step is a check ("GUEST-PASS: name"
# or "GUEST-FAIL: name"); the run ends with the KSALLOC-RESULT marker.

# shellcheck source=scripts/guest/lib.sh
. /lib/ksalloc/guest.sh

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
