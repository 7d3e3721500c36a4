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

#include <linux/dma-direction.h>
#include <linux/types.h>
#include <linux/module.h>
#include <uapi/linux/ksalloc.h>

struct device;
struct dma_buf;
struct file;
struct page;
struct scatterlist;
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

/*
 * Frames a device can use (SPEC 8).  The Linux form of
 * KsCreateDefaultAllocatorEx() and of an AVStream device's adapter object.
 */

/* struct ksalloc_params::flags */
#define KSALLOC_CREATE_CONTIG	0x1	/* each frame physically contiguous */
#define KSALLOC_CREATE_DEVICE	0x2	/* memory @dev reaches without bouncing */

/**
 * struct ksalloc_backing_ops - custom backing, as KsCreateDefaultAllocatorEx()
 * @alloc: returns @size bytes of physically contiguous memory, as
 *         @size >> PAGE_SHIFT consecutive struct pages, each holding its own
 *         reference (an order-0 page, or alloc_pages_node() then
 *         split_page() and the tail freed: alloc_pages_exact_nid() is not
 *         exported), from node @node if it can; @gfp is what the core would use
 *         (__GFP_ACCOUNT included, so that the memory cgroup pays).  Sets
 *         *@dma to the bus address when the backing mapped the memory for the
 *         bound device itself, else leaves DMA_MAPPING_ERROR there and the
 *         core maps it.  NULL when it has none; the creation then fails with
 *         -ENOMEM.  Never writes anything into the memory after returning.
 * @free: takes back what @alloc returned, with the same @size and @dma; the
 *        core calls it once nobody else holds a page (a pipe, a pin).
 * @owner: the module of @alloc and @free (THIS_MODULE), held until the
 *         last @free; NULL for built-in code
 *
 * @size is PAGE_SIZE, or the stride with %KSALLOC_CREATE_CONTIG.  Both are
 * called in process context and may sleep.  A bus address set by @alloc is
 * one for the device of the creation (&ksalloc_params.dev), that
 * dma_sync_single_for_device() and _for_cpu() accept; with any other
 * device or direction the core maps the memory itself.  Such an address
 * lives as long as the pages, which is why ksalloc_install_fd() refuses
 * an allocator whose backing set one.
 */
struct ksalloc_backing_ops {
	struct page *(*alloc)(void *priv, size_t size, int node, gfp_t gfp,
			      dma_addr_t *dma);
	void (*free)(void *priv, struct page *page, size_t size, dma_addr_t dma);
	struct module *owner;
};

/**
 * struct ksalloc_params - what ksalloc_create_ex() creates
 * @framing: frame count, size, alignment mask and pool type (NONPAGED)
 * @flags: %KSALLOC_CREATE_CONTIG, %KSALLOC_CREATE_DEVICE, or both (contiguous
 *         frames the device reaches)
 * @dev: the device to bind the allocator to, or NULL
 * @dir: the direction of the device's transfers, with @dev
 * @node: the NUMA node of the memory; NUMA_NO_NODE means @dev's node, or
 *        any node without @dev
 * @ops: custom backing, or NULL
 * @ops_priv: passed to @ops
 */
struct ksalloc_params {
	const struct ksalloc_framing *framing;
	unsigned int flags;
	struct device *dev;
	enum dma_data_direction dir;
	int node;
	const struct ksalloc_backing_ops *ops;
	void *ops_priv;
};

struct ksalloc *ksalloc_create_ex(const struct ksalloc_params *params);
int  ksalloc_bind(struct ksalloc *alloc, struct device *dev,
		  enum dma_data_direction dir);
void ksalloc_unbind(struct ksalloc *alloc, struct device *dev);
dma_addr_t ksalloc_frame_dma(struct ksalloc *alloc, u32 index, u32 offset,
			     u32 *len);
int  ksalloc_frame_sg(struct ksalloc *alloc, u32 index,
		      struct scatterlist *sg, unsigned int nents);
void ksalloc_sync_for_device(struct ksalloc *alloc, u32 index, u32 offset,
			     u32 len);
void ksalloc_sync_for_cpu(struct ksalloc *alloc, u32 index, u32 offset,
			  u32 len);
int  ksalloc_install_fd(struct ksalloc *alloc, unsigned int flags);

struct dma_buf *ksalloc_export_dmabuf(struct ksalloc *alloc, u32 index,
				      unsigned int flags);

#endif /* _LINUX_KSALLOC_H */
