#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the soak guest (busybox sh).  Loads ksalloc.ko and
# ksalloc_soak.ko with ops=$SOAK_OPS and $SOAK_PARAMS, runs
# ksalloc_soak_user $SOAK_USER_ARGS (its output goes straight to the
# console), unloads both, prints what the two modules logged, and checks
# the kernel log.  The three variables come from /etc/soak.conf.  Each
# check prints "GUEST-PASS: name" or "GUEST-FAIL: name"; the run ends with
# the KSALLOC-RESULT marker that scripts/vm.sh reads.

# shellcheck source=scripts/guest/lib.sh
. /lib/ksalloc/guest.sh

SOAK_OPS=100000000 SOAK_PARAMS="" SOAK_USER_ARGS=""
# shellcheck source=/dev/null
[ -r /etc/soak.conf ] && . /etc/soak.conf

echo "guest kernel $(uname -r), $(nproc) CPUs, ops $SOAK_OPS $SOAK_PARAMS"

# wait_soak_node: up to 5 s for /dev/ksalloc_soak after the insmod.
wait_soak_node() {
	i=0
	while [ ! -c /dev/ksalloc_soak ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	[ -c /dev/ksalloc_soak ]
}

insmod "$M/ksalloc.ko" || ksalloc-result FAIL "insmod ksalloc.ko"
wait_node
# shellcheck disable=SC2086 # SOAK_PARAMS holds several parameters
check insmod-soak insmod "$M/ksalloc_soak.ko" ops="$SOAK_OPS" $SOAK_PARAMS
check soak-node wait_soak_node

start=$(date +%s)
# shellcheck disable=SC2086 # SOAK_USER_ARGS holds several options
ksalloc_soak_user $SOAK_USER_ARGS
rc=$?
echo "soak: ksalloc_soak_user exited $rc after $(($(date +%s) - start)) s"
check soak [ $rc = 0 ]

check rmmod-soak rmmod ksalloc_soak
check rmmod-ksalloc rmmod ksalloc
dmesg | sed -n 's/^\[[ 0-9.]*\] \(ksalloc[a-z_]*: \)/dmesg: \1/p'
# The core refuses a double free or a foreign pointer with a warning that
# is not a WARN(): it means a holder freed what it did not hold.
if dmesg | grep -E 'ksalloc: .*(double free|not a frame|refused)'; then
	fail no-bad-free
else
	pass no-bad-free
fi
check_kernel_clean
finish
