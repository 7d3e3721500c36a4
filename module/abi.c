// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc - the user-space ABI, pinned
 *
 * Every struct of include/uapi/linux/ksalloc.h is checked here for size and
 * for the offset of every field, so that the layout shared by 32-bit and
 * 64-bit processes can never drift.  This file generates no code.
 */

#include <linux/build_bug.h>
#include <linux/stddef.h>
#include <uapi/linux/ksalloc.h>

#define KSALLOC_ABI(type, field, off) \
	static_assert(offsetof(struct type, field) == (off))

static_assert(sizeof(struct ksalloc_framing) == 24);
KSALLOC_ABI(ksalloc_framing, flags, 0);
KSALLOC_ABI(ksalloc_framing, pool_type, 4);
KSALLOC_ABI(ksalloc_framing, frames, 8);
KSALLOC_ABI(ksalloc_framing, frame_size, 12);
KSALLOC_ABI(ksalloc_framing, alignment, 16);
KSALLOC_ABI(ksalloc_framing, reserved, 20);

static_assert(sizeof(struct ksalloc_status) == 32);
KSALLOC_ABI(ksalloc_status, framing, 0);
KSALLOC_ABI(ksalloc_status, allocated_frames, 24);
KSALLOC_ABI(ksalloc_status, reserved, 28);

static_assert(sizeof(struct ksalloc_functiontable_info) == 32);
KSALLOC_ABI(ksalloc_functiontable_info, flags, 0);
KSALLOC_ABI(ksalloc_functiontable_info, reserved, 4);
KSALLOC_ABI(ksalloc_functiontable_info, allocate_frame, 8);
KSALLOC_ABI(ksalloc_functiontable_info, free_frame, 16);
KSALLOC_ABI(ksalloc_functiontable_info, reserved2, 24);

static_assert(sizeof(struct ksalloc_frame) == 24);
KSALLOC_ABI(ksalloc_frame, flags, 0);
KSALLOC_ABI(ksalloc_frame, index, 4);
KSALLOC_ABI(ksalloc_frame, offset, 8);
KSALLOC_ABI(ksalloc_frame, timeout_ns, 16);

static_assert(sizeof(struct ksalloc_frame_batch) == 16);
KSALLOC_ABI(ksalloc_frame_batch, indices, 0);
KSALLOC_ABI(ksalloc_frame_batch, count, 8);
KSALLOC_ABI(ksalloc_frame_batch, flags, 12);

static_assert(sizeof(struct ksalloc_stats) == 64);
KSALLOC_ABI(ksalloc_stats, allocs, 0);
KSALLOC_ABI(ksalloc_stats, frees, 8);
KSALLOC_ABI(ksalloc_stats, alloc_failures, 16);
KSALLOC_ABI(ksalloc_stats, waits, 24);
KSALLOC_ABI(ksalloc_stats, wait_timeouts, 32);
KSALLOC_ABI(ksalloc_stats, handoffs, 40);
KSALLOC_ABI(ksalloc_stats, peak_allocated, 48);
KSALLOC_ABI(ksalloc_stats, waiters, 56);

static_assert(sizeof(struct ksalloc_dmabuf) == 16);
KSALLOC_ABI(ksalloc_dmabuf, fd_flags, 0);
KSALLOC_ABI(ksalloc_dmabuf, index, 4);
KSALLOC_ABI(ksalloc_dmabuf, fd, 8);
KSALLOC_ABI(ksalloc_dmabuf, reserved, 12);
