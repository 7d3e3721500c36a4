// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc - Kernel Streaming style stream allocator: the core
 *
 * An allocator owns one pool of @frames fixed-size frames, allocated when
 * the allocator is created and never grown.  Frame i lives at
 * pool + i * stride, where stride = round_up(frame_size, alignment + 1).
 * The pool is built from individually allocated pages mapped contiguously
 * with vmap(), so that the same pages can later be mapped into user space.
 *
 * Because user space may map the pool, the pool holds frame data only.  All
 * bookkeeping is kept out of band, in three structures guarded by one
 * spinlock (struct ksalloc::lock):
 *
 *  - free_stack[0 .. nr_free-1]: the indices of the free frames, used as a
 *    LIFO stack so that recently freed, cache-warm frames are reused first;
 *  - outstanding: a bitmap with one bit per frame, set while the frame is
 *    allocated.  A free of a frame whose bit is clear (a double free) or of
 *    a pointer that is not a frame boundary is refused and changes nothing;
 *  - user: a bitmap of the outstanding frames that user space holds, taken
 *    through /dev/ksalloc or handed over with ksalloc_frame_to_user().
 *    Nobody else can free those once the handle is closed, so
 *    ksalloc_close() takes them back;
 *  - waiters: the FIFO of tasks sleeping in ksalloc_alloc_frame_wait() (or
 *    the ALLOC ioctl), each with its own completion on its own stack.
 *
 * Pollers (the KS FREEFRAME event) sleep on freeframe_wq, which is woken
 * only when the free stack goes from empty to not empty, the one moment
 * poll readiness changes.
 *
 * A waiter queues only when no frame is free, and a frame that comes back
 * while waiters are queued is handed straight to the oldest one: its index
 * is stored in the waiter, the waiter is unlinked and completed, all under
 * the lock, and the frame never reaches the free stack.  So nr_free is 0
 * whenever a waiter is queued, a non-waiting allocation can never overtake
 * a waiter, and a waiter that times out or catches a signal decides under
 * the same lock whether it was served in the meantime: if it was, it keeps
 * the frame, so no race between a wake-up and a timeout loses one.
 *
 * The lock is taken with spin_lock_bh() everywhere.  That makes every entry
 * point safe in process context and in softirq context (timers, tasklets,
 * NAPI), which is the Linux meaning of the KS "IRQL <= DISPATCH_LEVEL"
 * contract.  Hardirq context is not supported.  Only the waiting paths
 * sleep; they say so with might_sleep().
 *
 * Lifetime: ksalloc_create() returns an allocator holding one reference,
 * the "handle".  ksalloc_close() invalidates the handle: allocation fails
 * with -ENODEV from then on and every waiter wakes with -ENODEV, but frames
 * still outstanding stay valid and may be freed.  The handle's reference is
 * dropped when the allocator is closed and its last frame is back, and the
 * memory goes when the last reference of all is put.  Consumers hold their
 * own reference (ksalloc_get()) for as long as they use the allocator.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/completion.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/math.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>
#include <kunit/visibility.h>

#include "compat.h"
#include "ksalloc_internal.h"

static unsigned int max_frames = 65536;
module_param(max_frames, uint, 0644);
MODULE_PARM_DESC(max_frames, "Most frames one allocator may have (default 65536)");

static unsigned int max_frame_size = SZ_4M;
module_param(max_frame_size, uint, 0644);
MODULE_PARM_DESC(max_frame_size, "Largest frame in bytes (default 4 MiB)");

static unsigned long max_pool_bytes = SZ_64M;
module_param(max_pool_bytes, ulong, 0644);
MODULE_PARM_DESC(max_pool_bytes, "Largest pool of one allocator in bytes (default 64 MiB)");

static unsigned long max_total_bytes = SZ_256M;
module_param(max_total_bytes, ulong, 0644);
MODULE_PARM_DESC(max_total_bytes, "Pool bytes of all allocators together (default 256 MiB)");

/* Pool bytes held by all live allocators, bounded by max_total_bytes. */
static atomic64_t ksalloc_total_bytes = ATOMIC64_INIT(0);

#define KSALLOC_REQUIREMENTF_ALL (KSALLOC_REQUIREMENTF_INPLACE_MODIFIER | \
				  KSALLOC_REQUIREMENTF_SYSTEM_MEMORY | \
				  KSALLOC_REQUIREMENTF_FRAME_INTEGRITY | \
				  KSALLOC_REQUIREMENTF_MUST_ALLOCATE | \
				  KSALLOC_REQUIREMENTF_PREFERENCES_ONLY)

/**
 * struct ksalloc_waiter - a task sleeping for a frame
 * @node: link in &ksalloc.waiters while queued, empty once served
 * @done: completed when the waiter is served or the allocator closes
 * @index: the frame handed over, valid when @status is 0
 * @status: -EINPROGRESS while queued, 0 when served, -ENODEV on close
 * @user: the frame goes to user space (see &ksalloc.user)
 *
 * Lives on the waiting task's stack.  Everything but @done is written
 * under &ksalloc.lock.
 */
struct ksalloc_waiter {
	struct list_head node;
	struct completion done;
	u32 index;
	int status;
	bool user;
};

/**
 * struct ksalloc - one allocator
 * @framing: the framing as accepted; immutable
 * @frames: number of frames; immutable
 * @stride: distance between two frames in bytes; immutable
 * @pool: kernel mapping of the pool; immutable
 * @pages: the pages behind @pool, owned by its mapping; immutable
 * @nr_pages: number of @pages; immutable
 * @ref: references; the handle holds one until closed with no frame out
 * @freeframe_wq: pollers waiting for a frame to become free
 * @lock: protects every field below it
 * @nr_free: number of valid entries in @free_stack
 * @free_stack: indices of the free frames
 * @outstanding: bitmap of the frames allocated now
 * @user: bitmap of the outstanding frames held by user space
 * @waiters: FIFO of &struct ksalloc_waiter, oldest first
 * @closed: the handle is closed; no more allocations or waiters
 * @dispatch: the function table was acquired (KS DISPATCH interface)
 * @stats: counters reported by ksalloc_get_stats()
 */
struct ksalloc {
	struct ksalloc_framing framing;
	u32 frames;
	u32 stride;
	void *pool;
	struct page **pages;
	unsigned int nr_pages;
	struct kref ref;
	wait_queue_head_t freeframe_wq;

	/* protects the free stack, both bitmaps, the waiters, the flags, the stats */
	spinlock_t lock;
	u32 nr_free;
	u32 *free_stack;
	unsigned long *outstanding;
	unsigned long *user;
	struct list_head waiters;
	bool closed;
	bool dispatch;
	struct ksalloc_stats stats;
};

static size_t ksalloc_pool_bytes(const struct ksalloc *alloc)
{
	return (size_t)alloc->nr_pages << PAGE_SHIFT;
}

/*
 * Checks a framing against the ABI and the module limits, and works out the
 * stride and the page-rounded size of the pool.  Returns 0, -EINVAL for a
 * framing that is malformed, -ENOMEM for one that is too large.
 */
static int ksalloc_check_framing(const struct ksalloc_framing *f, u32 *stride,
				 size_t *bytes)
{
	u64 st, total;

	if (f->reserved || (f->flags & ~KSALLOC_REQUIREMENTF_ALL))
		return -EINVAL;
	if (f->pool_type != KSALLOC_POOL_NONPAGED &&
	    f->pool_type != KSALLOC_POOL_PAGED)
		return -EINVAL;
	if (!f->frames || f->frames > READ_ONCE(max_frames))
		return -EINVAL;
	if (!f->frame_size || f->frame_size > READ_ONCE(max_frame_size))
		return -EINVAL;
	if (f->alignment >= PAGE_SIZE || (f->alignment & (f->alignment + 1)))
		return -EINVAL;

	st = round_up((u64)f->frame_size, (u64)f->alignment + 1);
	if (st > U32_MAX || check_mul_overflow(st, (u64)f->frames, &total) ||
	    total > READ_ONCE(max_pool_bytes) || total > SIZE_MAX - PAGE_SIZE)
		return -ENOMEM;

	*stride = st;
	*bytes = PAGE_ALIGN(total);
	return 0;
}

/* Takes @bytes out of the global budget, or fails with -ENOMEM. */
static int ksalloc_charge(size_t bytes)
{
	u64 limit = READ_ONCE(max_total_bytes);
	s64 cur = atomic64_read(&ksalloc_total_bytes);

	do {
		if (bytes > limit || cur > limit - bytes)
			return -ENOMEM;
	} while (!atomic64_try_cmpxchg(&ksalloc_total_bytes, &cur, cur + bytes));
	return 0;
}

static void ksalloc_uncharge(size_t bytes)
{
	atomic64_sub(bytes, &ksalloc_total_bytes);
}

/*
 * Allocates the pool page by page, charged to the caller's memory cgroup,
 * and maps it contiguously.  The mapping takes over the pages and their
 * array (VM_MAP_PUT_PAGES), so one vfree() releases everything, and vfree()
 * defers itself when the last reference goes in softirq context.
 */
static int ksalloc_alloc_pool(struct ksalloc *alloc, size_t bytes)
{
	unsigned int i;

	alloc->nr_pages = bytes >> PAGE_SHIFT;
	alloc->pages = kvcalloc(alloc->nr_pages, sizeof(*alloc->pages),
				GFP_KERNEL_ACCOUNT);
	if (!alloc->pages)
		return -ENOMEM;

	for (i = 0; i < alloc->nr_pages; i++) {
		alloc->pages[i] = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO |
					     __GFP_NOWARN);
		if (!alloc->pages[i])
			goto err_free_pages;
		cond_resched();
	}

	alloc->pool = vmap(alloc->pages, alloc->nr_pages,
			   VM_MAP | VM_MAP_PUT_PAGES, PAGE_KERNEL);
	if (!alloc->pool)
		goto err_free_pages;
	return 0;

err_free_pages:
	while (i--)
		__free_page(alloc->pages[i]);
	kvfree(alloc->pages);
	return -ENOMEM;
}

/**
 * ksalloc_create() - create an allocator with a preallocated pool
 * @framing: frame count, size, alignment mask and pool type
 *
 * The Linux form of KsCreateAllocator().  Every frame is allocated here, so
 * that allocating a frame later never allocates memory.  The pool is
 * charged to the caller's memory cgroup.
 *
 * Context: Process context; may sleep.
 * Return: the allocator, holding one reference that ksalloc_close() drops,
 * or ERR_PTR(-EINVAL) for a malformed framing, ERR_PTR(-ENOMEM) for one over
 * the module's limits or when memory runs out.
 */
struct ksalloc *ksalloc_create(const struct ksalloc_framing *framing)
{
	struct ksalloc *alloc;
	size_t bytes;
	u32 stride, i;
	int ret;

	might_sleep();
	ret = ksalloc_check_framing(framing, &stride, &bytes);
	if (ret)
		return ERR_PTR(ret);
	ret = ksalloc_charge(bytes);
	if (ret)
		return ERR_PTR(ret);

	ret = -ENOMEM;
	alloc = kzalloc(sizeof(*alloc), GFP_KERNEL_ACCOUNT);
	if (!alloc)
		goto err_uncharge;
	alloc->framing = *framing;
	alloc->frames = framing->frames;
	alloc->stride = stride;

	alloc->free_stack = kvmalloc_array(alloc->frames, sizeof(u32),
					   GFP_KERNEL_ACCOUNT);
	if (!alloc->free_stack)
		goto err_free_alloc;
	alloc->outstanding = bitmap_zalloc(alloc->frames, GFP_KERNEL_ACCOUNT);
	if (!alloc->outstanding)
		goto err_free_stack;
	alloc->user = bitmap_zalloc(alloc->frames, GFP_KERNEL_ACCOUNT);
	if (!alloc->user)
		goto err_free_outstanding;
	ret = ksalloc_alloc_pool(alloc, bytes);
	if (ret)
		goto err_free_user;

	/* Lowest index on top, so a fresh allocator hands out 0, 1, 2, ... */
	for (i = 0; i < alloc->frames; i++)
		alloc->free_stack[i] = alloc->frames - 1 - i;
	alloc->nr_free = alloc->frames;

	kref_init(&alloc->ref);
	init_waitqueue_head(&alloc->freeframe_wq);
	spin_lock_init(&alloc->lock);
	INIT_LIST_HEAD(&alloc->waiters);
	return alloc;

err_free_user:
	bitmap_free(alloc->user);
err_free_outstanding:
	bitmap_free(alloc->outstanding);
err_free_stack:
	kvfree(alloc->free_stack);
err_free_alloc:
	kfree(alloc);
err_uncharge:
	ksalloc_uncharge(bytes);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_NS_GPL(ksalloc_create, KSALLOC_NS);

static void ksalloc_release(struct kref *ref)
{
	struct ksalloc *alloc = container_of(ref, struct ksalloc, ref);
	size_t bytes = ksalloc_pool_bytes(alloc);

	vfree(alloc->pool);
	bitmap_free(alloc->user);
	bitmap_free(alloc->outstanding);
	kvfree(alloc->free_stack);
	kfree(alloc);
	ksalloc_uncharge(bytes);
}

/**
 * ksalloc_get() - take a reference on an allocator
 * @alloc: the allocator
 *
 * Context: Any context.
 */
void ksalloc_get(struct ksalloc *alloc)
{
	kref_get(&alloc->ref);
}
EXPORT_SYMBOL_NS_GPL(ksalloc_get, KSALLOC_NS);

/**
 * ksalloc_put() - drop a reference on an allocator
 * @alloc: the allocator, or NULL
 *
 * The memory of the allocator is freed when the last reference goes, which
 * is never before it was closed and every frame came back.  In softirq
 * context the pool itself is unmapped and freed a little later, from a
 * work item of the kernel's vmalloc code.
 *
 * Context: Process context, or softirq context (also with BH disabled).
 * Not in hardirq context, nor in process context under a spinlock.
 */
void ksalloc_put(struct ksalloc *alloc)
{
	if (alloc)
		kref_put(&alloc->ref, ksalloc_release);
}
EXPORT_SYMBOL_NS_GPL(ksalloc_put, KSALLOC_NS);

/*
 * Wakes every waiter with -ENODEV.  The waiters stay on their own stacks;
 * once unlinked and completed under the lock they are never touched again.
 */
static void ksalloc_wake_all_locked(struct ksalloc *alloc)
{
	struct ksalloc_waiter *w, *tmp;

	lockdep_assert_held(&alloc->lock);
	list_for_each_entry_safe(w, tmp, &alloc->waiters, node) {
		list_del_init(&w->node);
		w->status = -ENODEV;
		alloc->stats.waiters--;
		complete(&w->done);
	}
}

/* Puts a frame that is outstanding back on the free stack. */
static void ksalloc_push_locked(struct ksalloc *alloc, u32 index)
{
	lockdep_assert_held(&alloc->lock);
	__clear_bit(index, alloc->outstanding);
	__clear_bit(index, alloc->user);
	alloc->free_stack[alloc->nr_free++] = index;
}

/**
 * ksalloc_close() - close the handle of an allocator
 * @alloc: the allocator
 *
 * The KS "allocator handle closed": the function table is invalid from now
 * on (allocate_frame returns -ENODEV), every waiter wakes with -ENODEV, and
 * no new waiter is accepted.  Frames that user space held are taken back,
 * since nobody is left to free them.  Frames that kernel code holds stay
 * valid and may be freed, through the table or otherwise.  Drops the
 * reference returned by ksalloc_create(), once the last outstanding frame
 * is back.
 *
 * Context: Process or softirq context.  Must be called once.
 */
void ksalloc_close(struct ksalloc *alloc)
{
	unsigned int index;
	bool idle;

	spin_lock_bh(&alloc->lock);
	if (WARN_ON_ONCE(alloc->closed)) {
		spin_unlock_bh(&alloc->lock);
		return;
	}
	alloc->closed = true;
	alloc->dispatch = false;
	ksalloc_wake_all_locked(alloc);
	for_each_set_bit(index, alloc->user, alloc->frames) {
		ksalloc_push_locked(alloc, index);
		alloc->stats.frees++;
	}
	idle = alloc->nr_free == alloc->frames;
	spin_unlock_bh(&alloc->lock);

	if (idle)
		ksalloc_put(alloc);
}
EXPORT_SYMBOL_NS_GPL(ksalloc_close, KSALLOC_NS);

/* Pops a free frame.  Returns 0, -ENODEV once closed, -ENOMEM if none. */
static int ksalloc_take_locked(struct ksalloc *alloc, u32 *index)
{
	u32 i, out;

	lockdep_assert_held(&alloc->lock);
	if (alloc->closed)
		return -ENODEV;
	if (!alloc->nr_free)
		return -ENOMEM;

	i = alloc->free_stack[--alloc->nr_free];
	__set_bit(i, alloc->outstanding);
	alloc->stats.allocs++;
	out = alloc->frames - alloc->nr_free;
	if (out > alloc->stats.peak_allocated)
		alloc->stats.peak_allocated = out;
	*index = i;
	return 0;
}

/**
 * ksalloc_alloc_index() - take a free frame by index without sleeping
 * @alloc: the allocator
 * @index: where to store the frame's index
 *
 * Context: Process or softirq context; never sleeps.
 * Return: 0, -ENOMEM when no frame is free, -ENODEV once closed.
 */
int ksalloc_alloc_index(struct ksalloc *alloc, u32 *index)
{
	int ret;

	spin_lock_bh(&alloc->lock);
	ret = ksalloc_take_locked(alloc, index);
	if (ret == -ENOMEM)
		alloc->stats.alloc_failures++;
	spin_unlock_bh(&alloc->lock);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_alloc_index);

/**
 * ksalloc_alloc_user() - take free frames for user space without sleeping
 * @alloc: the allocator
 * @indices: where to store the frames' indices
 * @count: how many frames are wanted, at least 1
 *
 * Takes as many free frames as there are, up to @count, under one lock, and
 * marks them held by user space, to be taken back by ksalloc_close().
 *
 * Context: Process or softirq context; never sleeps.
 * Return: the number of frames taken, or -ENOMEM when none is free,
 * -ENODEV once closed.
 */
int ksalloc_alloc_user(struct ksalloc *alloc, u32 *indices, u32 count)
{
	int ret = 0;
	u32 done;

	spin_lock_bh(&alloc->lock);
	for (done = 0; done < count; done++) {
		ret = ksalloc_take_locked(alloc, &indices[done]);
		if (ret)
			break;
		__set_bit(indices[done], alloc->user);
	}
	if (ret == -ENOMEM && !done)
		alloc->stats.alloc_failures++;
	spin_unlock_bh(&alloc->lock);
	return done ? done : ret;
}

/**
 * ksalloc_free_index() - give a frame back by index
 * @alloc: the allocator
 * @index: the frame
 *
 * Hands the frame to the oldest waiter if there is one, else puts it on the
 * free stack.  Works after ksalloc_close() too.
 *
 * Context: Process or softirq context; never sleeps.
 * Return: 0, or -EINVAL when @index is out of range or not outstanding, in
 * which case nothing changed.
 */
int ksalloc_free_index(struct ksalloc *alloc, u32 index)
{
	struct ksalloc_waiter *w;
	bool idle = false;

	if (index >= alloc->frames)
		return -EINVAL;

	spin_lock_bh(&alloc->lock);
	if (!test_bit(index, alloc->outstanding)) {
		spin_unlock_bh(&alloc->lock);
		return -EINVAL;
	}
	alloc->stats.frees++;

	w = list_first_entry_or_null(&alloc->waiters, struct ksalloc_waiter, node);
	if (w) {
		/* Direct hand-off: the frame stays outstanding, now the waiter's. */
		__assign_bit(index, alloc->user, w->user);
		list_del_init(&w->node);
		w->index = index;
		w->status = 0;
		alloc->stats.waiters--;
		alloc->stats.handoffs++;
		alloc->stats.allocs++;
		complete(&w->done);
	} else {
		bool refilled = !alloc->nr_free;

		ksalloc_push_locked(alloc, index);
		idle = alloc->closed && alloc->nr_free == alloc->frames;
		/*
		 * Under the lock: the caller need not hold a reference, only
		 * the frame, so once the lock is dropped a free of the last
		 * frame of a closed allocator elsewhere may release it.
		 */
		if (refilled)
			wake_up_poll(&alloc->freeframe_wq, EPOLLOUT | EPOLLWRNORM);
	}
	spin_unlock_bh(&alloc->lock);

	/* The last frame of a closed allocator carries the handle's reference. */
	if (idle)
		ksalloc_put(alloc);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_free_index);

static long ksalloc_sleep(struct completion *done, long timeout,
			  unsigned int state)
{
	if (state == TASK_INTERRUPTIBLE)
		return wait_for_completion_interruptible_timeout(done, timeout);
	if (state == TASK_KILLABLE)
		return wait_for_completion_killable_timeout(done, timeout);
	return wait_for_completion_timeout(done, timeout);
}

/**
 * ksalloc_wait_index() - take a frame by index, waiting for one if needed
 * @alloc: the allocator
 * @timeout: jiffies to wait: 0 never waits, MAX_SCHEDULE_TIMEOUT has no limit
 * @state: TASK_INTERRUPTIBLE, TASK_KILLABLE or TASK_UNINTERRUPTIBLE
 * @user: the frame is for user space (see ksalloc_alloc_user())
 * @index: where to store the frame's index
 *
 * Waiters are served first in, first out, by direct hand-off from
 * ksalloc_free_index().  A waiter that times out or is signalled after it
 * was served keeps the frame and succeeds.
 *
 * Context: Process context; may sleep.
 * Return: 0, -EAGAIN when @timeout is 0 and no frame is free, -ETIMEDOUT,
 * -ERESTARTSYS on a signal, -ENODEV when the allocator is or gets closed.
 */
int ksalloc_wait_index(struct ksalloc *alloc, long timeout, unsigned int state,
		       bool user, u32 *index)
{
	struct ksalloc_waiter w;
	long left;
	int ret;

	might_sleep();
	spin_lock_bh(&alloc->lock);
	ret = ksalloc_take_locked(alloc, index);
	if (ret != -ENOMEM || !timeout) {
		if (!ret && user)
			__set_bit(*index, alloc->user);
		if (ret == -ENOMEM) {
			alloc->stats.alloc_failures++;
			ret = -EAGAIN;
		}
		spin_unlock_bh(&alloc->lock);
		return ret;
	}
	init_completion(&w.done);
	w.status = -EINPROGRESS;
	w.user = user;
	list_add_tail(&w.node, &alloc->waiters);
	alloc->stats.waits++;
	alloc->stats.waiters++;
	spin_unlock_bh(&alloc->lock);

	left = ksalloc_sleep(&w.done, timeout, state);
	if (left <= 0) {
		spin_lock_bh(&alloc->lock);
		if (w.status == -EINPROGRESS) {
			/* Not served: leave the queue empty-handed. */
			list_del(&w.node);
			alloc->stats.waiters--;
			if (!left)
				alloc->stats.wait_timeouts++;
			spin_unlock_bh(&alloc->lock);
			return left ? (int)left : -ETIMEDOUT;
		}
		/* Served while giving up: the frame is ours, keep it. */
		spin_unlock_bh(&alloc->lock);
	}

	if (w.status)
		return w.status;
	*index = w.index;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_wait_index);

/**
 * ksalloc_frame_ptr() - the address of a frame
 * @alloc: the allocator
 * @index: the frame's index
 *
 * Context: Any context.
 * Return: the frame's kernel address, or NULL when @index is out of range.
 */
void *ksalloc_frame_ptr(struct ksalloc *alloc, u32 index)
{
	if (index >= alloc->frames)
		return NULL;
	return alloc->pool + (size_t)index * alloc->stride;
}
EXPORT_SYMBOL_NS_GPL(ksalloc_frame_ptr, KSALLOC_NS);

/**
 * ksalloc_frame_index() - the index of a frame
 * @alloc: the allocator
 * @frame: the frame's kernel address
 *
 * Context: Any context.
 * Return: the frame's index, or %KSALLOC_NO_FRAME when @frame is not the
 * start of a frame of @alloc.
 */
u32 ksalloc_frame_index(struct ksalloc *alloc, const void *frame)
{
	unsigned long off = (unsigned long)frame - (unsigned long)alloc->pool;
	unsigned long index;

	if ((unsigned long)frame < (unsigned long)alloc->pool)
		return KSALLOC_NO_FRAME;
	index = off / alloc->stride;
	if (index >= alloc->frames || index * alloc->stride != off)
		return KSALLOC_NO_FRAME;
	return index;
}
EXPORT_SYMBOL_NS_GPL(ksalloc_frame_index, KSALLOC_NS);

/* Byte offset of frame @index in the pool, and so in mmap() of it. */
u64 ksalloc_frame_offset(struct ksalloc *alloc, u32 index)
{
	return (u64)index * alloc->stride;
}

/**
 * ksalloc_allocate_frame() - take a free frame without sleeping
 * @alloc: the allocator
 * @frame: where to store the frame's address; NULL on failure
 *
 * The allocate_frame entry of the function table (KStrAllocateFrame).
 * Never waits: when no frame is free it fails at once.
 *
 * Context: Process or softirq context; never sleeps.  Not in hardirq.
 * Return: 0, -ENOMEM when no frame is free, -ENODEV once closed.
 */
int ksalloc_allocate_frame(struct ksalloc *alloc, void **frame)
{
	u32 index;
	int ret;

	ret = ksalloc_alloc_index(alloc, &index);
	*frame = ret ? NULL : alloc->pool + (size_t)index * alloc->stride;
	return ret;
}
EXPORT_SYMBOL_NS_GPL(ksalloc_allocate_frame, KSALLOC_NS);

/**
 * ksalloc_free_frame() - give a frame back
 * @alloc: the allocator
 * @frame: the frame's address, as returned by an allocation
 *
 * The free_frame entry of the function table (KStrFreeFrame).  A frame
 * returned while tasks wait goes straight to the oldest of them.  Accepted
 * after ksalloc_close() too.  A pointer that is not an outstanding frame of
 * @alloc (a double free, a foreign pointer) is refused with a rate-limited
 * warning and changes nothing.
 *
 * Context: Process or softirq context; never sleeps.  Not in hardirq.
 */
void ksalloc_free_frame(struct ksalloc *alloc, void *frame)
{
	u32 index = ksalloc_frame_index(alloc, frame);

	if (index == KSALLOC_NO_FRAME)
		pr_warn_ratelimited("free of %p: not a frame of this allocator\n",
				    frame);
	else if (ksalloc_free_index(alloc, index))
		pr_warn_ratelimited("free of frame %u: not allocated (double free?)\n",
				    index);
}
EXPORT_SYMBOL_NS_GPL(ksalloc_free_frame, KSALLOC_NS);

/**
 * ksalloc_alloc_frame_wait() - take a frame, waiting for one if none is free
 * @alloc: the allocator
 * @timeout_jiffies: how long to wait: < 0 without limit, 0 never
 * @frame: where to store the frame's address; NULL on failure
 *
 * The in-kernel form of the pending KS ALLOC request.  Waiters are served
 * first in, first out: a frame freed while tasks wait is handed to the
 * oldest directly.  Only a fatal signal interrupts the wait.
 *
 * Context: Process context; may sleep.
 * Return: 0, -EAGAIN when @timeout_jiffies is 0 and no frame is free,
 * -ETIMEDOUT, -ERESTARTSYS on a fatal signal, -ENODEV when the allocator is
 * or gets closed.
 */
int ksalloc_alloc_frame_wait(struct ksalloc *alloc, long timeout_jiffies,
			     void **frame)
{
	long timeout = timeout_jiffies < 0 ? MAX_SCHEDULE_TIMEOUT : timeout_jiffies;
	u32 index;
	int ret;

	ret = ksalloc_wait_index(alloc, timeout, TASK_KILLABLE, false, &index);
	*frame = ret ? NULL : alloc->pool + (size_t)index * alloc->stride;
	return ret;
}
EXPORT_SYMBOL_NS_GPL(ksalloc_alloc_frame_wait, KSALLOC_NS);

/**
 * ksalloc_frame_to_user() - hand a frame over to user space
 * @alloc: the allocator
 * @frame: an outstanding frame the caller holds
 *
 * For a driver that fills a frame and passes its index to user space, which
 * frees it through /dev/ksalloc.  From now on the frame is user space's: if
 * the allocator's handle is closed before user space freed it, the close
 * takes it back.  The caller must not free it any more.
 *
 * Context: Process or softirq context; never sleeps.
 * Return: 0, -EINVAL when @frame is not an outstanding frame of @alloc,
 * -ENODEV once closed (the frame then stays the caller's to free).
 */
int ksalloc_frame_to_user(struct ksalloc *alloc, void *frame)
{
	u32 index = ksalloc_frame_index(alloc, frame);
	int ret = 0;

	if (index == KSALLOC_NO_FRAME)
		return -EINVAL;
	spin_lock_bh(&alloc->lock);
	if (!test_bit(index, alloc->outstanding))
		ret = -EINVAL;
	else if (alloc->closed)
		ret = -ENODEV;
	else
		__set_bit(index, alloc->user);
	spin_unlock_bh(&alloc->lock);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(ksalloc_frame_to_user, KSALLOC_NS);

/**
 * ksalloc_get_function_table() - acquire the DISPATCH interface
 * @alloc: the allocator
 * @table: filled with the allocate_frame and free_frame entry points
 *
 * The Linux form of KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE.  Marks the
 * allocator's DISPATCH interface active.  Frames freed through the table
 * complete waiting requests like any other free.  The table stays callable
 * after ksalloc_close(), but allocate_frame then fails with -ENODEV.
 *
 * Context: Process or softirq context; never sleeps.
 * Return: 0, -EOPNOTSUPP for a %KSALLOC_POOL_PAGED pool, -ENODEV once closed.
 */
int ksalloc_get_function_table(struct ksalloc *alloc,
			       struct ksalloc_function_table *table)
{
	int ret = 0;

	if (alloc->framing.pool_type != KSALLOC_POOL_NONPAGED)
		return -EOPNOTSUPP;

	spin_lock_bh(&alloc->lock);
	if (alloc->closed)
		ret = -ENODEV;
	else
		alloc->dispatch = true;
	spin_unlock_bh(&alloc->lock);
	if (ret)
		return ret;

	table->allocate_frame = ksalloc_allocate_frame;
	table->free_frame = ksalloc_free_frame;
	return 0;
}
EXPORT_SYMBOL_NS_GPL(ksalloc_get_function_table, KSALLOC_NS);

/* Whether the function table was acquired and the handle is still open. */
bool ksalloc_dispatch_active(struct ksalloc *alloc)
{
	bool active;

	spin_lock_bh(&alloc->lock);
	active = alloc->dispatch;
	spin_unlock_bh(&alloc->lock);
	return active;
}

/**
 * ksalloc_get_status() - the framing and the number of frames out
 * @alloc: the allocator
 * @status: filled in; reserved fields are zeroed
 *
 * The Linux form of KSPROPERTY_STREAMALLOCATOR_STATUS.
 *
 * Context: Process or softirq context; never sleeps.
 * Return: 0.
 */
int ksalloc_get_status(struct ksalloc *alloc, struct ksalloc_status *status)
{
	memset(status, 0, sizeof(*status));
	status->framing = alloc->framing;
	spin_lock_bh(&alloc->lock);
	status->allocated_frames = alloc->frames - alloc->nr_free;
	spin_unlock_bh(&alloc->lock);
	return 0;
}
EXPORT_SYMBOL_NS_GPL(ksalloc_get_status, KSALLOC_NS);

/**
 * ksalloc_get_stats() - the allocator's counters
 * @alloc: the allocator
 * @stats: filled with a consistent snapshot
 *
 * Context: Process or softirq context; never sleeps.
 * Return: 0.
 */
int ksalloc_get_stats(struct ksalloc *alloc, struct ksalloc_stats *stats)
{
	spin_lock_bh(&alloc->lock);
	*stats = alloc->stats;
	spin_unlock_bh(&alloc->lock);
	return 0;
}
EXPORT_SYMBOL_NS_GPL(ksalloc_get_stats, KSALLOC_NS);

/**
 * ksalloc_poll() - poll for a free frame
 * @alloc: the allocator
 * @file: the file being polled
 * @wait: the poll table
 *
 * Context: Process context.
 * Return: EPOLLOUT | EPOLLWRNORM while at least one frame is free, else 0.
 */
__poll_t ksalloc_poll(struct ksalloc *alloc, struct file *file,
		      poll_table *wait)
{
	__poll_t mask;

	poll_wait(file, &alloc->freeframe_wq, wait);
	spin_lock_bh(&alloc->lock);
	mask = alloc->nr_free ? EPOLLOUT | EPOLLWRNORM : 0;
	spin_unlock_bh(&alloc->lock);
	return mask;
}

/**
 * ksalloc_mmap() - map the pool into user space
 * @alloc: the allocator
 * @vma: the mapping; its flags are the caller's business
 *
 * Frame i appears at ksalloc_frame_offset(i) from the start of a mapping
 * at offset 0.
 *
 * Context: Process context, mmap lock held.
 * Return: 0, or -ENXIO when the mapping is larger than the pool.
 */
int ksalloc_mmap(struct ksalloc *alloc, struct vm_area_struct *vma)
{
	return vm_map_pages(vma, alloc->pages, alloc->nr_pages);
}

#if IS_ENABLED(CONFIG_KUNIT)
/* Pool bytes held by all allocators now. */
u64 ksalloc_charged_bytes(void)
{
	return atomic64_read(&ksalloc_total_bytes);
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_charged_bytes);

/*
 * Checks that the free stack and the bitmap agree: every frame is either on
 * the free stack exactly once with its bit clear, or outstanding with its
 * bit set, and no waiter is queued while a frame is free.  Returns 0 or
 * -EUCLEAN.
 */
int ksalloc_check_invariants(struct ksalloc *alloc)
{
	unsigned long *seen;
	int ret = 0;
	u32 i;

	seen = bitmap_zalloc(alloc->frames, GFP_KERNEL);
	if (!seen)
		return -ENOMEM;

	spin_lock_bh(&alloc->lock);
	if (alloc->nr_free > alloc->frames ||
	    bitmap_weight(alloc->outstanding, alloc->frames) !=
	    alloc->frames - alloc->nr_free ||
	    !bitmap_subset(alloc->user, alloc->outstanding, alloc->frames) ||
	    (alloc->nr_free && !list_empty(&alloc->waiters)))
		ret = -EUCLEAN;
	for (i = 0; !ret && i < alloc->nr_free; i++) {
		u32 f = alloc->free_stack[i];

		if (f >= alloc->frames || test_bit(f, alloc->outstanding) ||
		    __test_and_set_bit(f, seen))
			ret = -EUCLEAN;
	}
	spin_unlock_bh(&alloc->lock);

	bitmap_free(seen);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_check_invariants);
#endif

MODULE_DESCRIPTION("Kernel Streaming style stream allocator");
MODULE_LICENSE("GPL");
