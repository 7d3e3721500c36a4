// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_test - user-space selftests of /dev/ksalloc
 *
 * Every ioctl and every errno of the ABI (include/uapi/linux/ksalloc.h),
 * bad pointers and odd structs, FIFO waiting, timeouts and signals, poll,
 * mmap, user space scribbling over the frames, batches, the function-table
 * report under kptr_restrict, and what closing a descriptor does; and the
 * rules of SPEC section 7: who may free what, access modes, signals under
 * SA_RESTART, readiness for poll, select and epoll (level- and
 * edge-triggered, frees on any CPU), and no IPIs on an empty pool.  Built
 * 64-bit and, as ksalloc_test32, 32-bit: the second run goes through
 * compat_ioctl.  Needs ksalloc.ko loaded and root (for kptr_restrict and
 * dropping privileges); free_kernel_held_frame_einval also needs
 * ksalloc_producer.ko and skips without it.  Run it in a VM, see
 * scripts/vm.sh.
 *
 * The tests are in one file per subject, all included here:
 * kselftest_harness.h keeps its list of tests in static variables, so
 * every TEST() of one program must be in one translation unit.
 *
 *	ksalloc_test_abi.c	the ioctl numbers, framing, errnos, bad pointers
 *	ksalloc_test_wait.c	allocation, exhaustion, timeouts, FIFO, signals
 *	ksalloc_test_poll.c	poll, select and epoll readiness, IPIs
 *	ksalloc_test_mmap.c	the mapping, scribbling, batches
 *	ksalloc_test_lifetime.c	the function table, access modes, the
 *				producer, closing, a threads stress
 *	ksalloc_test_dmabuf.c	EXPORT_DMABUF: refusals, mmap, sync, lifetime
 */
#include "ksalloc_test.h"

#include "ksalloc_test_abi.c"
#include "ksalloc_test_wait.c"
#include "ksalloc_test_poll.c"
#include "ksalloc_test_mmap.c"
#include "ksalloc_test_lifetime.c"
#include "ksalloc_test_dmabuf.c"

TEST_HARNESS_MAIN
