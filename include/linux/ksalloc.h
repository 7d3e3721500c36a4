/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksalloc - Kernel Streaming style stream allocator: in-kernel API
 *
 * A consumer driver creates an allocator with ksalloc_create(), or takes one
 * that user space created with ksalloc_fdget(), then acquires its function
 * table and allocates and frees fixed-size frames from any context up to and
 * including softirq:
 *
 *	struct ksalloc_function_table t;
 *	void *frame;
 *
 *	if (!ksalloc_get_function_table(alloc, &t) &&
 *	    !t.allocate_frame(alloc, &frame)) {
 *		fill(frame);
 *		t.free_frame(alloc, frame);
 *	}
 *
 * Every symbol lives in the KSALLOC namespace: a consumer module says
 * KSALLOC_IMPORT_NS() once (MODULE_IMPORT_NS("KSALLOC") on 6.13 and later).
 */
#ifndef _LINUX_KSALLOC_H
#define _LINUX_KSALLOC_H

#include <linux/types.h>
#include <linux/module.h>
#include <uapi/linux/ksalloc.h>

struct file;
struct ksalloc;

/*
 * MODULE_IMPORT_NS(KSALLOC) in any kernel: the spelling of the namespace
 * argument changed in 6.13, the modinfo tag it produces did not.
 */
#define KSALLOC_IMPORT_NS() MODULE_INFO(import_ns, "KSALLOC")

/* ksalloc_frame_index() of a pointer that is not a frame of the allocator */
#define KSALLOC_NO_FRAME U32_MAX

/**
 * struct ksalloc_function_table - the DISPATCH interface of an allocator
 * @allocate_frame: take a free frame without sleeping; 0, -ENOMEM when none
 *                  is free anywhere, -ENODEV once the allocator is closed,
 *                  -EPERM when called with interrupts disabled.
 * @free_frame: give a frame kernel code holds back without sleeping; hands
 *              it straight to the oldest waiter, if any.
 *
 * The Linux form of KSSTREAMALLOCATOR_FUNCTIONTABLE.  Both calls work in
 * process context and in softirq context (timers, tasklets, NAPI, BH
 * disabled), with interrupts enabled; neither waits for another CPU.
 * Callers with interrupts disabled (hardirq handlers, netpoll) are refused
 * with a one-time warning: allocate_frame fails, free_frame leaves the
 * frame with the caller.
 */
struct ksalloc_function_table {
	int  (*allocate_frame)(struct ksalloc *alloc, void **frame);
	void (*free_frame)(struct ksalloc *alloc, void *frame);
};

struct ksalloc *ksalloc_create(const struct ksalloc_framing *framing);
void ksalloc_close(struct ksalloc *alloc);
struct ksalloc *ksalloc_get_file(struct file *file);
struct ksalloc *ksalloc_fdget(int fd);
void ksalloc_get(struct ksalloc *alloc);
void ksalloc_put(struct ksalloc *alloc);
int  ksalloc_get_function_table(struct ksalloc *alloc,
				struct ksalloc_function_table *table);
int  ksalloc_allocate_frame(struct ksalloc *alloc, void **frame);
void ksalloc_free_frame(struct ksalloc *alloc, void *frame);
int  ksalloc_alloc_frame_wait(struct ksalloc *alloc, long timeout_jiffies,
			      void **frame);
int  ksalloc_get_status(struct ksalloc *alloc, struct ksalloc_status *status);
int  ksalloc_get_stats(struct ksalloc *alloc, struct ksalloc_stats *stats);
int  ksalloc_frame_to_user(struct ksalloc *alloc, void *frame);
u32  ksalloc_frame_index(struct ksalloc *alloc, const void *frame);
void *ksalloc_frame_ptr(struct ksalloc *alloc, u32 index);

#endif /* _LINUX_KSALLOC_H */
