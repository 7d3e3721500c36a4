#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the integration guest (busybox sh).  Loads ksalloc.ko with
# default and non-default parameters, checks the device node, runs the
# selftests (64-bit, and 32-bit through compat_ioctl where the host could
# build them), the debugfs and tracepoint test ksalloc_observe and
# ksalloc-ctl-test (list, top, libksalloc), loads the softirq producer and
# runs the selftest that needs it, streams frames from the producer, checks that busy modules refuse to unload, unloads,
# loads again, and scans dmesg.  Each check prints "GUEST-PASS: name" or
# "GUEST-FAIL: name"; the run ends with the KSALLOC-RESULT marker that
# scripts/vm.sh reads.

# shellcheck source=scripts/guest/lib.sh
. /lib/ksalloc/guest.sh

# node_mode MODE: /dev/ksalloc shows up with permissions MODE.
node_mode() {
	wait_node
	[ "$(stat -c %a /dev/ksalloc 2>/dev/null)" = "$1" ]
}
param() { cat "/sys/module/ksalloc/parameters/$1"; }

echo "guest kernel $(uname -r), $(nproc) CPUs"

# 1, 2: default parameters, then non-default ones.
check insmod-default insmod $M/ksalloc.ko
check node-mode-0600 node_mode 600
check param-defaults [ "$(param max_frames)" = 65536 ]
check rmmod-default rmmod ksalloc
check insmod-params insmod $M/ksalloc.ko mode=0660 max_frames=128 max_pool_bytes=1048576
check node-mode-0660 node_mode 660
check param-max-frames-128 [ "$(param max_frames)" = 128 ]
check framing-within-limits quiet ksalloc-ctl info --frames 128 --size 4096
refuse framing-over-max-frames ksalloc-ctl info --frames 129 --size 64
refuse framing-over-max-pool-bytes ksalloc-ctl info --frames 64 --size 32768
check rmmod-params rmmod ksalloc
check insmod-again insmod $M/ksalloc.ko

# selftests LABEL HARNESS-ARGS...: the ABI selftests, 64-bit and 32-bit
# (through compat_ioctl; the host reports a SKIP when it could not build
# them), with the harness's filter options.
selftests() {
	label=$1
	shift
	tap selftest64 "$label" /bin/ksalloc_test "$@"
	[ ! -x /bin/ksalloc_test32 ] || tap selftest32 "$label" /bin/ksalloc_test32 "$@"
}

# 3: the selftests, but those that need the producer (they run in 4).
selftests "" -T free_kernel_held_frame_einval -T producer_attach_readonly_ebadf \
	-T producer_create

# The debugfs files and tracepoints (ksalloc_observe), and ksalloc-ctl
# list/top and libksalloc (ksalloc-ctl-test, which prints its own checks).
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
tap observe "" /bin/ksalloc_observe
timeout 300 ksalloc-ctl-test >/tmp/ctl-test.log 2>&1
rc=$?
cat /tmp/ctl-test.log
n_bad=$(grep -c '^GUEST-FAIL: ' /tmp/ctl-test.log)
fails=$((fails + n_bad))
if [ "$rc" != 0 ] && [ "$n_bad" = 0 ]; then
	fail "ksalloc-ctl-test/exit-$rc"
elif ! grep -q '^GUEST-PASS: ' /tmp/ctl-test.log; then
	fail ksalloc-ctl-test/no-checks
fi

# Refusal: ksalloc stays while a descriptor is open.
exec 3<>/dev/ksalloc
refuse rmmod-refused-while-open rmmod ksalloc
exec 3>&-

# 4: the producer streams frames from softirq into user space.
check insmod-producer insmod $M/ksalloc_producer.ko
# A frame the producer (kernel code) holds: user space cannot free it;
# ATTACH wants a writable descriptor; CREATE makes the allocator.
selftests " with the producer" -t free_kernel_held_frame_einval \
	-t producer_attach_readonly_ebadf -t producer_create
refuse rmmod-refused-while-producer-loaded rmmod ksalloc
check ctl-info ksalloc-ctl info
check stream ksalloc-ctl stream --frames 64 --size 4096 --rate 1000 --seconds 3
# The same with the producer, then the allocator, closed while frames fly.
for how in close-producer close-allocator; do
	check "stream-$how" quiet ksalloc-ctl stream --frames 16 --size 1024 \
		--rate 5000 --seconds 1 --teardown $how
done

# 5, 6: unload both, load and unload again.
check rmmod-producer rmmod ksalloc_producer
check rmmod-ksalloc rmmod ksalloc
check insmod-reload insmod $M/ksalloc.ko
check rmmod-reload rmmod ksalloc

# 7: the kernel log must hold no report of any checker.
check_kernel_clean
finish
