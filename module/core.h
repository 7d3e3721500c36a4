/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksalloc - the allocator's data structure, shared by the files of the core
 *
 * core.c (the allocator's life: creation, accounting, release, close, CPU
 * hotplug), frames.c (taking and giving frames, waiters, pollers, the
 * function table) and debugfs.c (which reads these fields) see struct
 * ksalloc through this header; nothing outside module/ does, but the
 * benchmark, which prints the sizes below.  Who may touch which field, and
 * in which context, is written at the top of frames.c and beside each
 * field.
 */
#ifndef _KSALLOC_CORE_H
#define _KSALLOC_CORE_H

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/dma-direction.h>
#include <linux/hardirq.h>
#include <linux/hash.h>
#include <linux/irqflags.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/reciprocal_div.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "cache.h"
#include "ksalloc_internal.h"

/* Values of struct ksalloc::state[] */
enum {
	KSALLOC_FRAME_FREE,	/* in a cache or on the shared stack */
	KSALLOC_FRAME_KERNEL,	/* held by kernel code */
	KSALLOC_FRAME_USER,	/* held by user space; taken back at close */
};

/* Values of struct ksalloc::backing: where the pool's memory comes from */
enum {
	KSALLOC_BACKING_PAGES,	/* order-0 pages, one at a time */
	KSALLOC_BACKING_CONTIG,	/* one split high-order block per frame */
	KSALLOC_BACKING_DEVICE,	/* pages or contig, from the device's zone */
	KSALLOC_BACKING_CUSTOM,	/* struct ksalloc_backing_ops */
};

/**
 * struct ksalloc_binding - the pool, mapped for one device (dma.c)
 * @dev: the device, with a reference (get_device())
 * @dir: the direction of its transfers
 * @holds_ref: ksalloc_bind() took a reference on the allocator, that
 *             ksalloc_unbind() drops; a binding of ksalloc_create_ex()
 *             holds none and goes at the release
 * @cost: bytes charged for this and @dma
 * @syncs_for_device: calls of ksalloc_sync_for_device() that synced
 * @syncs_for_cpu: calls of ksalloc_sync_for_cpu() that synced
 * @dma: the bus address of each chunk of the pool (&ksalloc.chunk_size
 *       bytes from &ksalloc.pages[i * &ksalloc.chunk_pages])
 *
 * Built whole, then published in &ksalloc.binding with
 * smp_store_release(); immutable from then on but for the counters, until
 * it is unpublished and freed by ksalloc_unbind() or the release.
 */
struct ksalloc_binding {
	struct device *dev;
	enum dma_data_direction dir;
	bool holds_ref;
	size_t cost;
	atomic_long_t syncs_for_device;
	atomic_long_t syncs_for_cpu;
	dma_addr_t dma[];
};

/**
 * struct ksalloc_waiter - a task sleeping for a frame
 * @node: link in &ksalloc.waiters while queued, empty once served
 * @done: completed when the waiter is served or the allocator closes
 * @index: the frame handed over, valid when @status is 0
 * @status: -EINPROGRESS while queued, 0 when served, -ENODEV on close
 * @kind: the state the frame gets, %KSALLOC_FRAME_KERNEL or _USER
 * @pid: the waiting task, for debugfs and the hand-off tracepoint
 * @start_ns: when it queued (ktime_get_ns()), for debugfs and tracing
 *
 * Lives on the waiting task's stack.  Everything but @done is written
 * under &ksalloc.lock.
 */
struct ksalloc_waiter {
	struct list_head node;
	struct completion done;
	u32 index;
	int status;
	u8 kind;
	pid_t pid;
	u64 start_ns;
};

/* How a wait ended, for the ksalloc_wait_end tracepoint. */
#define KSALLOC_WAIT_SERVED	0	/* it got a frame */
#define KSALLOC_WAIT_TIMEOUT	1	/* -ETIMEDOUT */
#define KSALLOC_WAIT_SIGNAL	2	/* -EINTR */
#define KSALLOC_WAIT_CLOSED	3	/* -ENODEV: the handle was closed */

/**
 * struct ksalloc - one allocator
 * @framing: the framing as accepted; immutable
 * @frames: number of frames; immutable
 * @stride: distance between two frames in bytes; immutable
 * @span: @frames * @stride, the bytes of the pool that hold frames; immutable
 * @stride_shift: log2(@stride) when @stride is a power of two, else 0;
 *                immutable
 * @stride_recip: reciprocal of @stride, to find a frame without a division
 * @pool: kernel mapping of the pool; immutable until released
 * @cache: the per-CPU caches (cache.c)
 * @state: one %KSALLOC_FRAME_* byte per frame, at ksalloc_state()
 * @state_mask: the size of @state, a power of two, minus one; immutable
 * @bypass: frees and allocations skip the caches; written under @lock,
 *          read locklessly by the fast paths
 * @freeframe_wq: pollers waiting for a frame to become free
 * @ref: references; the handle holds one until closed with no frame out
 * @pages: the pages behind @pool; immutable
 * @nr_pages: number of @pages; immutable
 * @backing: where the pages come from, %KSALLOC_BACKING_*; immutable
 * @nid: the NUMA node asked of the backing, or NUMA_NO_NODE; immutable
 * @chunk_size: bytes of one allocation of the backing: PAGE_SIZE, or the
 *              stride for %KSALLOC_BACKING_CONTIG and contiguous custom
 *              backing; immutable
 * @chunk_pages: @chunk_size in pages; immutable
 * @nr_chunks: the allocations of the backing, @nr_pages / @chunk_pages;
 *             immutable
 * @contig: a chunk is a frame (@chunk_size is the stride); immutable
 * @gfp: the flags of the backing's allocations, the zone of the device
 *       for %KSALLOC_BACKING_DEVICE; immutable
 * @chunk_dma: the bus address of each chunk for @backing_dev, set by
 *             custom backing, DMA_MAPPING_ERROR where it set none; NULL
 *             for the other backings; immutable
 * @backing_dev: the device of ksalloc_create_ex() with custom backing,
 *               with a reference until the pages go; NULL otherwise;
 *               immutable
 * @backing_dir: the direction given with @backing_dev; immutable
 * @ops: custom backing, or NULL; its module is held until the pages go
 * @ops_priv: passed to @ops
 * @bind_lock: serialises ksalloc_bind() and ksalloc_unbind(), the writers
 *             of @binding, and the readers that sleep (debugfs)
 * @binding: the device mapping, or NULL; written under @bind_lock with
 *           smp_store_release() (a complete binding) or WRITE_ONCE()
 *           (NULL), read by the DMA helpers with smp_load_acquire()
 * @pool_cost: bytes charged until the pages go: pool, page array, this
 * @meta_cost: bytes charged until the release: stack, states, caches,
 *             debugfs entries
 * @dma_cost: bytes charged for the binding, the dma-bufs of the pool and
 *            their attachments (ksalloc_charge_dma()); the dma-bufs may
 *            outlive the release
 * @id: the allocator's number (KSALLOC_IOC_GET_ID), never 0, unique while
 *      the module is loaded; immutable
 * @owner_pid: the thread group that created the allocator, 0 for a kernel
 *             thread; immutable
 * @owner_comm: the name of the task that created it; immutable
 * @debugfs: its directory under /sys/kernel/debug/ksalloc/, an ERR_PTR
 *           when there is none; removed at the release, before anything
 *           that its files read is freed
 * @node: link in ksalloc_all (live) or ksalloc_reaped (pages still held
 *        elsewhere), under ksalloc_all_lock
 * @recheck: the RCU callback of ksalloc_request_recheck_locked()
 * @release: the work item of the last reference
 * @close_work: runs ksalloc_close() for a caller with interrupts disabled
 * @lock: protects every field below it, and @bypass's writers
 * @nr_free: number of valid entries in @free_stack
 * @free_stack: indices of the free frames not in a cache
 * @waiters: FIFO of &struct ksalloc_waiter, oldest first
 * @closed: the handle is closed; no more allocations or waiters
 * @handle_put: the handle's reference was dropped (closed, every frame back)
 * @dispatch: the function table was acquired (KS DISPATCH interface)
 * @poll_armed: the allocator had no free frame while someone polled; the
 *              next free wakes the pollers
 * @recheck_pending: @recheck is queued, holding a reference
 * @recheck_again: @recheck must run once more, after another grace period
 * @stats: counters reported by ksalloc_get_stats(), but for the fast
 *         path's, which live in the caches
 */
struct ksalloc {
	struct ksalloc_framing framing;
	u32 frames;
	u32 stride;
	unsigned long span;
	u8 stride_shift;
	struct reciprocal_value stride_recip;
	void *pool;
	struct ksalloc_cache __percpu *cache;
	u8 *state;
	u32 state_mask;
	bool bypass;
	wait_queue_head_t freeframe_wq;
	struct kref ref;
	struct page **pages;
	unsigned int nr_pages;
	u8 backing;
	int nid;
	size_t chunk_size;
	unsigned int chunk_pages;
	unsigned int nr_chunks;
	bool contig;
	gfp_t gfp;
	dma_addr_t *chunk_dma;
	struct device *backing_dev;
	enum dma_data_direction backing_dir;
	const struct ksalloc_backing_ops *ops;
	void *ops_priv;
	struct mutex bind_lock;	/* protects binding's writers (bind, unbind) */
	struct ksalloc_binding *binding;
	size_t pool_cost;
	size_t meta_cost;
	atomic_long_t dma_cost;
	u64 id;
	pid_t owner_pid;
	char owner_comm[TASK_COMM_LEN];
	struct dentry *debugfs;
	struct list_head node;
	struct rcu_head recheck;
	struct work_struct release;
	struct work_struct close_work;

	/*
	 * protects the free stack, the waiters, the flags and the stats, and
	 * orders the writers of bypass
	 */
	spinlock_t lock;
	u32 nr_free;
	u32 *free_stack;
	struct list_head waiters;
	bool closed;
	bool handle_put;
	bool dispatch;
	bool poll_armed;
	bool recheck_pending;
	bool recheck_again;
	struct ksalloc_stats stats;
};

/* Rechecks queued with call_rcu_hurry() and not yet done (core.c). */
extern atomic_t ksalloc_rechecks;

/*
 * The state byte of frame @index.  Frames next to each other have their
 * bytes in different cache lines (the index times an odd constant, modulo
 * the power-of-two size, is a permutation), so that CPUs working on
 * neighbouring frames do not bounce one line between them.
 */
static __always_inline u8 *ksalloc_state(struct ksalloc *alloc, u32 index)
{
	return &alloc->state[(index * GOLDEN_RATIO_32) & alloc->state_mask];
}

/*
 * Entry points that do not sleep refuse callers with interrupts disabled
 * (hardirq handlers, netpoll's NAPI poll): their slow paths take @lock
 * with spin_lock_bh(), which must not be taken so.  On PREEMPT_RT, where
 * @lock is a sleeping lock, they also refuse callers with preemption
 * disabled (a raw spinlock held).  Refusing always, not only when a slow
 * path is needed, makes the rule the same whatever the caches hold.
 */
static inline bool ksalloc_may_lock(void)
{
	return likely(!irqs_disabled() && !in_hardirq() &&
		      (!IS_ENABLED(CONFIG_PREEMPT_RT) || preemptible()));
}

/* Recomputes &ksalloc.bypass after closed, the waiters or poll_armed changed. */
static inline void ksalloc_update_bypass_locked(struct ksalloc *alloc)
{
	lockdep_assert_held(&alloc->lock);
	WRITE_ONCE(alloc->bypass, alloc->closed || alloc->poll_armed ||
		   !list_empty(&alloc->waiters));
}

/*
 * Frames free now: the shared stack and one sum of the caches.  The fast
 * paths change the caches without the lock, so the sum is a snapshot that
 * may overshoot; it is capped at @frames.  A report of frames out and free
 * derives both from one call, so that they add up.
 */
static inline u32 ksalloc_free_locked(struct ksalloc *alloc)
{
	u32 free = alloc->nr_free + ksalloc_cache_frames(alloc->cache);

	lockdep_assert_held(&alloc->lock);
	return min(free, alloc->frames);
}

/* Frames out now, for peak_allocated and the status. */
static inline u32 ksalloc_out_locked(struct ksalloc *alloc)
{
	return alloc->frames - ksalloc_free_locked(alloc);
}

static inline void ksalloc_sample_peak_locked(struct ksalloc *alloc)
{
	u32 out = ksalloc_out_locked(alloc);

	if (out > alloc->stats.peak_allocated)
		alloc->stats.peak_allocated = out;
}

/* What kvmalloc() of @size takes at least. */
static inline size_t ksalloc_kv_bytes(size_t size)
{
	return size > KMALLOC_MAX_CACHE_SIZE ? PAGE_ALIGN(size) :
	       kmalloc_size_roundup(size);
}

int ksalloc_charge(size_t bytes);
void ksalloc_uncharge(size_t bytes);

/* backing.c: the pool's memory */
int ksalloc_backing_init(struct ksalloc *alloc,
			 const struct ksalloc_params *params);
int ksalloc_alloc_pool(struct ksalloc *alloc, size_t bytes);
void ksalloc_backing_free(struct ksalloc *alloc);
void ksalloc_backing_put(struct ksalloc *alloc);
const char *ksalloc_backing_name(const struct ksalloc *alloc);
gfp_t ksalloc_dma_zone(struct device *dev);
bool ksalloc_dma_bounces(struct device *dev, struct page **pages,
			 unsigned int n);
int ksalloc_charge_dma(struct ksalloc *alloc, size_t cost);
void ksalloc_uncharge_dma(struct ksalloc *alloc, size_t cost);

/* dma.c: the device binding */
int ksalloc_bind_created(struct ksalloc *alloc, struct device *dev,
			 enum dma_data_direction dir);
void ksalloc_unbind_release(struct ksalloc *alloc);
struct seq_file;
int ksalloc_dma_show(struct seq_file *m, struct ksalloc *alloc);

/* Allocators created and not yet released (core.c). */
unsigned int ksalloc_nr_allocators(void);

bool ksalloc_context_ok(void);
void ksalloc_request_recheck_locked(struct ksalloc *alloc);
bool ksalloc_give_locked(struct ksalloc *alloc, u32 index);
bool ksalloc_sweep_cpu_locked(struct ksalloc *alloc, int cpu);
bool ksalloc_sweep_locked(struct ksalloc *alloc);

/* debugfs.c: /sys/kernel/debug/ksalloc/ */
void ksalloc_debugfs_init(void);
void ksalloc_debugfs_exit(void);
size_t ksalloc_debugfs_bytes(void);
void ksalloc_debugfs_add(struct ksalloc *alloc);
void ksalloc_debugfs_remove(struct ksalloc *alloc);

#endif /* _KSALLOC_CORE_H */
