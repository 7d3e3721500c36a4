/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ksalloc - Kernel Streaming style stream allocator: user-space ABI
 *
 * An allocator is a file descriptor of /dev/ksalloc.  KSALLOC_IOC_SET_FRAMING
 * gives it a pool of fixed-size frames; frames are then allocated and freed by
 * index with the ioctls below and reached through mmap() of the descriptor.
 *
 * Every struct here is made of __u32/__u64/__s64 only, has no implicit
 * padding and is a multiple of 8 bytes, so 32-bit and 64-bit processes share
 * one layout.  Reserved fields and unknown flag bits must be zero on input
 * (else -EINVAL) and are zero on output.
 */
#ifndef _UAPI_LINUX_KSALLOC_H
#define _UAPI_LINUX_KSALLOC_H

#include <linux/ioctl.h>
#include <linux/types.h>

struct ksalloc_framing {          /* KSALLOCATOR_FRAMING, 24 bytes */
	__u32 flags;              /* KSALLOC_REQUIREMENTF_* */
	__u32 pool_type;          /* KSALLOC_POOL_NONPAGED (0) or KSALLOC_POOL_PAGED (1) */
	__u32 frames;             /* most frames outstanding at once, >= 1 */
	__u32 frame_size;         /* bytes per frame, >= 1 */
	__u32 alignment;          /* FILE_*_ALIGNMENT-style mask: 2^n - 1, at most PAGE_SIZE - 1 */
	__u32 reserved;
};

#define KSALLOC_POOL_NONPAGED 0
#define KSALLOC_POOL_PAGED    1

/* flags, same values as KS: */
#define KSALLOC_REQUIREMENTF_INPLACE_MODIFIER 0x00000001
#define KSALLOC_REQUIREMENTF_SYSTEM_MEMORY    0x00000002
#define KSALLOC_REQUIREMENTF_FRAME_INTEGRITY  0x00000004
#define KSALLOC_REQUIREMENTF_MUST_ALLOCATE    0x00000008
#define KSALLOC_REQUIREMENTF_PREFERENCES_ONLY 0x80000000

struct ksalloc_status {           /* KSSTREAMALLOCATOR_STATUS, 32 bytes */
	struct ksalloc_framing framing;   /* as accepted */
	__u32 allocated_frames;           /* frames outstanding now */
	__u32 reserved;
};

struct ksalloc_functiontable_info {   /* 32 bytes */
	__u32 flags;              /* out: KSALLOC_FT_DISPATCH when the table is active */
	__u32 reserved;
	__u64 allocate_frame;     /* out: kernel address, or 0 where the caller may not */
	__u64 free_frame;         /*      see kernel pointers (kptr_restrict, as kallsyms) */
	__u64 reserved2;
};

#define KSALLOC_FT_DISPATCH 0x1

struct ksalloc_frame {            /* 24 bytes */
	__u32 flags;              /* in (ALLOC): KSALLOC_ALLOC_NOWAIT */
	__u32 index;              /* out (ALLOC) / in (FREE): frame number, 0 .. frames-1 */
	__u64 offset;             /* out (ALLOC): byte offset of the frame in mmap() of the fd */
	__s64 timeout_ns;         /* in (ALLOC): < 0 no limit, 0 never wait, > 0 relative */
};

#define KSALLOC_ALLOC_NOWAIT 0x1

struct ksalloc_frame_batch {      /* 16 bytes */
	__u64 indices;            /* user pointer to __u32[count] */
	__u32 count;              /* in: wanted; out: done */
	__u32 flags;              /* must be 0 */
};

struct ksalloc_stats {            /* 64 bytes */
	__u64 allocs, frees, alloc_failures, waits;
	__u64 wait_timeouts, handoffs, peak_allocated, waiters;
};

#define KSALLOC_IOC_MAGIC 0xB9
#define KSALLOC_IOC_SET_FRAMING       _IOW(KSALLOC_IOC_MAGIC, 0x00, struct ksalloc_framing)
#define KSALLOC_IOC_GET_STATUS        _IOR(KSALLOC_IOC_MAGIC, 0x01, struct ksalloc_status)
#define KSALLOC_IOC_GET_FUNCTIONTABLE \
	_IOR(KSALLOC_IOC_MAGIC, 0x02, struct ksalloc_functiontable_info)
#define KSALLOC_IOC_ALLOC             _IOWR(KSALLOC_IOC_MAGIC, 0x03, struct ksalloc_frame)
#define KSALLOC_IOC_FREE              _IOW(KSALLOC_IOC_MAGIC, 0x04, struct ksalloc_frame)
#define KSALLOC_IOC_ALLOC_BATCH       _IOWR(KSALLOC_IOC_MAGIC, 0x05, struct ksalloc_frame_batch)
#define KSALLOC_IOC_FREE_BATCH        _IOWR(KSALLOC_IOC_MAGIC, 0x06, struct ksalloc_frame_batch)
#define KSALLOC_IOC_GET_STATS         _IOR(KSALLOC_IOC_MAGIC, 0x07, struct ksalloc_stats)

/*
 * A dma-buf of the pool (index KSALLOC_DMABUF_POOL: the size that mmap() of
 * the descriptor maps, frame i at the offset ALLOC returns) or of one frame
 * that user space holds (the stride bytes from its offset; needs a stride
 * that is a multiple of the page size).  fd_flags: O_CLOEXEC and the access
 * mode of the new file (O_RDONLY, O_WRONLY or O_RDWR), nothing else.  The
 * dma-buf keeps the pool alive after the descriptor is closed.  Needs a
 * descriptor open for writing (-EBADF); a PAGED pool, a frame user space
 * does not hold, unknown fd_flags or a nonzero reserved are -EINVAL.
 */
struct ksalloc_dmabuf {           /* 16 bytes */
	__u32 fd_flags;           /* in: O_CLOEXEC and the access mode only */
	__u32 index;              /* in: a frame user space holds, or KSALLOC_DMABUF_POOL */
	__s32 fd;                 /* out: the new dma-buf file descriptor */
	__u32 reserved;           /* must be 0 */
};

#define KSALLOC_DMABUF_POOL 0xffffffffU
#define KSALLOC_IOC_EXPORT_DMABUF     _IOWR(KSALLOC_IOC_MAGIC, 0x08, struct ksalloc_dmabuf)

/*
 * The allocator's id: a number that no other allocator gets while the
 * module stays loaded, never 0.  It names the allocator's directory in
 * debugfs (/sys/kernel/debug/ksalloc/ID), is the "id" field of its
 * tracepoint events and the "ksalloc_id" line of the descriptor's
 * /proc/PID/fdinfo entry.  Any descriptor; -EBADFD before SET_FRAMING.
 */
#define KSALLOC_IOC_GET_ID            _IOR(KSALLOC_IOC_MAGIC, 0x09, __u64)

#endif /* _UAPI_LINUX_KSALLOC_H */
