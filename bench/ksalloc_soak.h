/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ksalloc_soak.h - the interface of /dev/ksalloc_soak (bench/ksalloc_soak.c)
 *
 * Shared by the soak module and its user-space half,
 * tools/testing/ksalloc_soak_user.c.  Like the uapi header it uses only
 * __u32/__u64, has no implicit padding, and every reserved field and flag
 * must be zero.
 *
 * Every holder of a frame, in the kernel or in user space, writes a
 * struct ksalloc_soak_tag at the start of the frame it got and checks on
 * free that the tag is still its own; before it frees the frame it writes
 * the free tag (holder KSALLOC_SOAK_FREE).  Whoever allocates a frame
 * checks that it carries the free tag: the allocator never writes into
 * frames, so anything else means that the frame was handed out twice, or
 * that someone wrote into it.
 */
#ifndef _KSALLOC_SOAK_H
#define _KSALLOC_SOAK_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* The holder of a free frame. */
#define KSALLOC_SOAK_FREE	0U
/* Holders: KSALLOC_SOAK_HOLDER(kind, number) */
#define KSALLOC_SOAK_HOLDER(kind, n)	(((kind) << 16) | ((n) & 0xffffU))
#define KSALLOC_SOAK_PROC	1U	/* a kthread bound to CPU n */
#define KSALLOC_SOAK_TIMER	2U	/* the soft hrtimer of CPU n */
#define KSALLOC_SOAK_TASKLET	3U	/* the tasklet of CPU n */
#define KSALLOC_SOAK_XFER	4U	/* the cross-CPU kthread of CPU n */
#define KSALLOC_SOAK_WAITER	5U	/* the waiting kthread of CPU n */
#define KSALLOC_SOAK_CHECK	6U	/* the final check */
#define KSALLOC_SOAK_USER	7U	/* user-space thread n */

#define KSALLOC_SOAK_TAG_MAGIC	0x4b534f4bU	/* "KOSK" in a little-endian dump */

struct ksalloc_soak_tag {	/* 16 bytes, at the start of a frame */
	__u32 holder;		/* KSALLOC_SOAK_FREE or a holder */
	__u32 check;		/* holder ^ (__u32)seq ^ KSALLOC_SOAK_TAG_MAGIC */
	__u64 seq;		/* the holder's allocation number; 0 when free */
};

struct ksalloc_soak_attach {	/* 8 bytes */
	__u32 fd;		/* a framed NONPAGED /dev/ksalloc descriptor */
	__u32 flags;		/* must be 0 */
};

/* What the kernel half did; every counter counts alloc+free pairs. */
struct ksalloc_soak_stats {	/* 160 bytes */
	__u64 target;		/* the ops module parameter */
	__u64 ops;		/* every pair of the kernel's holders */
	__u64 process;		/* by the bound kthreads */
	__u64 softirq;		/* by the timers and tasklets */
	__u64 cross_cpu;	/* allocated on one CPU, freed on the next */
	__u64 waiter;		/* by the waiting kthreads, hoards included */
	__u64 waits_served;	/* ksalloc_alloc_frame_wait() calls that got a frame */
	__u64 wait_timeouts;	/* ... that gave -ETIMEDOUT */
	__u64 wait_errors;	/* ... that failed otherwise */
	__u64 hoards;		/* times a waiter took every free frame first */
	__u64 enomem;		/* allocate_frame calls that found no free frame */
	__u64 queue_full;	/* cross-CPU frames freed at home: queue full */
	__u64 mismatches;	/* tags not as their holder left them */
	__u64 elapsed_ns;	/* from the start to the last holder stopped */
	__u32 cpus;		/* CPUs that ran holders */
	__u32 state;		/* KSALLOC_SOAK_STATE_* */
	__u64 reserved[5];
};

#define KSALLOC_SOAK_STATE_IDLE		0	/* not attached */
#define KSALLOC_SOAK_STATE_RUNNING	1
#define KSALLOC_SOAK_STATE_DONE		2	/* every holder stopped */

/* The final check, run once every holder has stopped. */
struct ksalloc_soak_check {	/* 32 bytes */
	__u32 frames;		/* out: the framing's frame count */
	__u32 drained;		/* out: frames allocate_frame gave before -ENOMEM */
	__u32 bad_tags;		/* out: drained frames without the free tag */
	__u32 allocated;	/* out: GET_STATUS allocated_frames after the check */
	__s32 wait_now;		/* out: ksalloc_alloc_frame_wait(0) on the empty pool */
	__s32 wait_tick;	/* out: ksalloc_alloc_frame_wait(1 jiffy), likewise */
	__u64 reserved;
};

#define KSALLOC_SOAK_IOC_MAGIC	0xBB
#define KSALLOC_SOAK_IOC_ATTACH	\
	_IOW(KSALLOC_SOAK_IOC_MAGIC, 0x00, struct ksalloc_soak_attach)
#define KSALLOC_SOAK_IOC_GET_STATS \
	_IOR(KSALLOC_SOAK_IOC_MAGIC, 0x01, struct ksalloc_soak_stats)
#define KSALLOC_SOAK_IOC_STOP	_IO(KSALLOC_SOAK_IOC_MAGIC, 0x02)
#define KSALLOC_SOAK_IOC_CHECK	\
	_IOR(KSALLOC_SOAK_IOC_MAGIC, 0x03, struct ksalloc_soak_check)

#endif /* _KSALLOC_SOAK_H */
