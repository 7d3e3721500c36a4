#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The dma-buf guest (scripts/dmabuf.sh): KSALLOC_IOC_EXPORT_DMABUF against
# real importers.  1: the EXPORT_DMABUF selftests.  2: vgem (DRM PRIME):
# the pool and a frame imported, checked through the tracepoints (vgem's
# attachment and its mapping), re-exported, compared and closed, and the
# ksalloc descriptor closed under an attachment.  3: vivid (V4L2): capture
# into exported frames with vivid's vmalloc allocator (a per-page
# allocator) and its dma-contig allocator (a contiguous allocator from the
# producer), and a per-page allocator refused by dma-contig.  4: where the
# kernel has them, kmemleak and DMA_API_DEBUG are clean.  5: every module
# unloads, and the kernel log holds no checker's report.
. /lib/ksalloc/guest.sh

X=/lib/modules/extra
T=/sys/kernel/tracing

# run_logged NAME CMD...: CMD's checks, and the rest of its output indented.
run_logged() {
	name=$1
	shift
	"$@" >"/tmp/$name.log" 2>&1
	rc=$?
	grep '^GUEST-' "/tmp/$name.log"
	grep -v '^GUEST-' "/tmp/$name.log" | sed 's/^/  /'
	[ $rc = 0 ] || fail "$name/exit-$rc"
}

check insmod-ksalloc insmod $M/ksalloc.ko
wait_node
check insmod-producer insmod $M/ksalloc_producer.ko

# 1: the ABI.
timeout 300 ksalloc_test -t dmabuf_refused -t dmabuf_frame_not_held \
	-t dmabuf_mmap_same_bytes -t dmabuf_sync -t dmabuf_outlives_descriptor \
	-t readonly_descriptor_ebadf >/tmp/selftest.log 2>&1
echo "selftests: exit $?"
sed -n 's/^ok [0-9]* /GUEST-PASS: selftest\//p; s/^not ok [0-9]* /GUEST-FAIL: selftest\//p' \
	/tmp/selftest.log
if grep -q '^not ok' /tmp/selftest.log; then
	sed 's/^/  /' /tmp/selftest.log
	fails=$((fails + 1))
fi

# The importers' modules, dependencies first; vivid later, with parameters.
for m in $(cat $X/order); do
	[ "$m" = vivid ] || check "insmod-$m" insmod "$X/$m.ko"
done

# 2: vgem, with the tracepoints on.
mount -t tracefs tracefs $T 2>/dev/null
for e in attach detach map export release; do
	echo 1 >"$T/events/ksalloc/ksalloc_dmabuf_$e/enable"
done
card=$(ls -d /sys/class/drm/card[0-9] 2>/dev/null | head -n 1)
check vgem-card [ -n "$card" ]
run_logged vgem ksalloc_import vgem "/dev/dri/${card##*/}"
sleep 1
cat $T/trace >/tmp/trace
grep ksalloc_dmabuf /tmp/trace | sed 's/^ */  /' | head -n 40
check vgem-attach-traced grep -q 'ksalloc_dmabuf_attach: .*dev=vgem' /tmp/trace
check vgem-map-traced grep -Eq 'ksalloc_dmabuf_map: .*dev=vgem dir=0 dma_entries=[1-9][0-9]* result=0' /tmp/trace
check vgem-detach-traced grep -q 'ksalloc_dmabuf_detach: .*dev=vgem' /tmp/trace
# Every export was released: as many release events as exports.
n_exp=$(grep -c 'ksalloc_dmabuf_export: .*result=[0-9]' /tmp/trace)
n_rel=$(grep -c 'ksalloc_dmabuf_release:' /tmp/trace)
echo "exports $n_exp, releases $n_rel"
check vgem-every-dmabuf-released [ "$n_exp" -gt 0 ] && [ "$n_exp" = "$n_rel" ]

# 3: vivid, a capture node on vmalloc (video0) and one on dma-contig (video1).
check insmod-vivid insmod $X/vivid.ko n_devs=2 node_types=0x1,0x1 allocators=0,1
i=0
while [ ! -c /dev/video1 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
run_logged vivid-vmalloc-pages ksalloc_import vivid /dev/video0 pages
run_logged vivid-contig-contig ksalloc_import vivid /dev/video1 contig
run_logged vivid-contig-pages ksalloc_import vivid /dev/video1 pages refused
echo 0 >$T/tracing_on
grep -c ksalloc_dmabuf_map $T/trace | sed 's/^/dmabuf map events: /'

# 4: on the debug kernel, with every dma-buf gone: nothing of ours leaked,
# and DMA_API_DEBUG saw no error and holds no importer's mapping.
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
kmemleak_clean kmemleak-clean 'ksalloc|dma_buf'
A=/sys/kernel/debug/dma-api
if [ -d $A ]; then
	echo "dma-api: errors $(cat $A/error_count)," \
		"$(cat $A/num_free_entries) of $(cat $A/nr_total_entries) free"
	check dma-api-no-errors [ "$(cat $A/error_count)" = 0 ]
	# It tracked the importers' mappings on the way.
	check dma-api-saw-mappings \
		[ "$(cat $A/min_free_entries)" -lt "$(cat $A/nr_total_entries)" ]
	grep -E 'vgem|vivid' $A/dump | head -n 5
	refuse dma-api-nothing-mapped grep -Eq 'vgem|vivid' $A/dump
else
	skip "dma-api-debug (not in this kernel)"
fi

# 5: everything unloads.
for m in $(sed '1!G;h;$!d' $X/order); do
	check "rmmod-$m" rmmod "$m"
done
check rmmod-producer rmmod ksalloc_producer
check rmmod-ksalloc rmmod ksalloc
check_kernel_clean
finish
