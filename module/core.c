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
 * bookkeeping is kept out of band:
 *
 *  - state: one byte per frame, FREE, KERNEL (held by kernel code) or
 *    USER (held by user space, taken through /dev/ksalloc or handed over
 *    with ksalloc_frame_to_user(); ksalloc_close() takes those back).  A
 *    free claims the frame with one cmpxchg from KERNEL or USER to FREE, so
 *    a double free, or two parties racing to free one frame, is refused and
 *    changes nothing;
 *  - free_stack[0 .. nr_free-1]: the shared stack of free frame indices,
 *    under struct ksalloc::lock, LIFO so that warm frames are reused first;
 *  - cache: a per-CPU cache (magazine) of up to KSALLOC_CACHE_SIZE free
 *    indices in front of the shared stack, touched only by its own CPU with
 *    interrupts off, refilled and flushed KSALLOC_CACHE_BATCH at a time
 *    under the lock;
 *  - waiters: the FIFO of tasks sleeping in ksalloc_alloc_frame_wait() (or
 *    the ALLOC ioctl), each with its own completion on its own stack.
 *
 * The function table's fast path: allocate_frame pops its CPU's cache and
 * free_frame pushes onto it, with interrupts off and no lock.  Allocation
 * takes no atomic read-modify-write instruction; a free takes the one
 * cmpxchg of its claim.  Everything else goes through the lock.
 *
 * No frame stays in a cache when it is needed elsewhere ("drain on a
 * miss"): an allocation that finds both its cache and the shared stack
 * empty asks every CPU whose cache holds frames to give them back, through
 * an IPI to that CPU, and waits for the answer (ksalloc_drain()).
 * So allocate_frame reports -ENOMEM only when no frame is free anywhere.
 * While a task waits, a poller waits or the handle is closed, the caches
 * are bypassed (struct ksalloc::bypass): whoever sets the flag first drains
 * every online CPU, and from then on every free goes through the lock,
 * where it is handed straight to the oldest waiter.  The IPI that
 * drains a CPU also orders that CPU after the flag.  A CPU that goes offline
 * gives its cache back from a CPU hotplug callback.
 *
 * A waiter queues only when no frame is free, and a frame that comes back
 * while waiters are queued is handed straight to the oldest one: its index
 * is stored in the waiter, the waiter is unlinked and completed, all under
 * the lock, and the frame never reaches the free stack.  A waiter that
 * times out or catches a signal decides under the same lock whether it was
 * served in the meantime: if it was, it keeps the frame, so no race between
 * a wake-up and a timeout loses one.
 *
 * Pollers (the KS FREEFRAME event) sleep on freeframe_wq, which is woken
 * when the shared stack goes from empty to not empty.
 *
 * The lock is taken with spin_lock_bh() everywhere, and the caches are
 * touched with interrupts off.  That makes every entry point safe in
 * process context and in softirq context (timers, tasklets, NAPI), which is
 * the Linux meaning of the KS "IRQL <= DISPATCH_LEVEL" contract.  Hardirq
 * context is not supported.  Only the waiting paths sleep; they say so with
 * might_sleep().
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
#include <linux/cpuhotplug.h>
#include <linux/hash.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/log2.h>
#include <linux/math.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/percpu.h>
#include <linux/poll.h>
#include <linux/reciprocal_div.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/smp.h>
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

/* Values of struct ksalloc::state[] */
enum {
	KSALLOC_FRAME_FREE,	/* in a cache or on the shared stack */
	KSALLOC_FRAME_KERNEL,	/* held by kernel code */
	KSALLOC_FRAME_USER,	/* held by user space; taken back at close */
};

/* Frames a CPU's cache holds at most, and how many move at once. */
#define KSALLOC_CACHE_SIZE	32
#define KSALLOC_CACHE_BATCH	16

/**
 * struct ksalloc_waiter - a task sleeping for a frame
 * @node: link in &ksalloc.waiters while queued, empty once served
 * @done: completed when the waiter is served or the allocator closes
 * @index: the frame handed over, valid when @status is 0
 * @status: -EINPROGRESS while queued, 0 when served, -ENODEV on close
 * @user: the frame goes to user space (%KSALLOC_FRAME_USER)
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
 * struct ksalloc_drain - a request to empty one CPU's cache
 * @n: number of indices in @idx
 * @done: set (with release) by the CPU once @idx and @n are written
 * @idx: the frames taken out of the cache
 *
 * Lives on the requester's stack; see ksalloc_drain().
 */
struct ksalloc_drain {
	u32 n;
	int done;
	u32 idx[KSALLOC_CACHE_SIZE];
};

/**
 * struct ksalloc_cache - one CPU's cache of free frames
 * @count: number of indices in @idx
 * @idx: free frames, the most recently freed last
 * @allocs: allocations served from @idx
 * @frees: frees taken into @idx
 * @drain: empties @idx on this CPU when another CPU asks, by IPI
 * @req: where @drain puts the frames; set by the holder of
 *       &ksalloc.drain_lock before it sends @drain
 *
 * @count, @idx and the counters are written only by their own CPU with
 * interrupts off (or, for a CPU that is gone, by the hotplug callback), so
 * the fast path needs neither a lock nor an atomic instruction.  Other CPUs
 * only peek at @count and sum the counters, with READ_ONCE().
 */
struct ksalloc_cache {
	u32 count;
	u32 idx[KSALLOC_CACHE_SIZE];
	u64 allocs;
	u64 frees;
	call_single_data_t drain;
	struct ksalloc_drain *req;
};

/**
 * struct ksalloc - one allocator
 * @framing: the framing as accepted; immutable
 * @frames: number of frames; immutable
 * @stride: distance between two frames in bytes; immutable
 * @span: @frames * @stride, the bytes of the pool that hold frames; immutable
 * @stride_shift: log2(@stride) when @stride is a power of two, else 0;
 *                immutable
 * @stride_recip: reciprocal of @stride, to find a frame without a division
 * @pool: kernel mapping of the pool; immutable
 * @pages: the pages behind @pool, owned by its mapping; immutable
 * @nr_pages: number of @pages; immutable
 * @cache: the per-CPU caches (see &struct ksalloc_cache)
 * @state: one %KSALLOC_FRAME_* byte per frame, at ksalloc_state(); changed
 *         by its owner, or by cmpxchg when freed
 * @state_mask: the size of @state, a power of two, minus one; immutable
 * @bypass: frees and allocations skip the caches; written under @lock,
 *          read locklessly by the fast path
 * @ref: references; the handle holds one until closed with no frame out
 * @node: link in ksalloc_all, for the CPU hotplug callback
 * @freeframe_wq: pollers waiting for a frame to become free
 * @drain_lock: serialises ksalloc_drain(), whose requests use the caches'
 *              @req and @drain; taken before @lock, never inside it
 * @lock: protects every field below it, and @bypass's writers
 * @nr_free: number of valid entries in @free_stack
 * @free_stack: indices of the free frames not in a cache
 * @waiters: FIFO of &struct ksalloc_waiter, oldest first
 * @closed: the handle is closed; no more allocations or waiters
 * @handle_put: the handle's reference was dropped (closed, every frame back)
 * @dispatch: the function table was acquired (KS DISPATCH interface)
 * @poll_armed: a poller saw no free frame and waits for the stack to refill
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
	struct page **pages;
	unsigned int nr_pages;
	struct ksalloc_cache __percpu *cache;
	u8 *state;
	u32 state_mask;
	bool bypass;
	struct kref ref;
	struct list_head node;
	wait_queue_head_t freeframe_wq;

	/* serialises the drain requests: the caches' req and drain fields */
	spinlock_t drain_lock;

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
	struct ksalloc_stats stats;
};

/* Every live allocator, for the CPU hotplug callback. */
static LIST_HEAD(ksalloc_all);
/* protects ksalloc_all */
static DEFINE_SPINLOCK(ksalloc_all_lock);
/* the dynamic CPU hotplug state of ksalloc_cpu_dead(), or <= 0 */
static int ksalloc_hp_state;

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

static void ksalloc_drain_ipi(void *info);

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
	int ret, cpu;

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
	alloc->span = (unsigned long)alloc->frames * stride;
	alloc->stride_shift = is_power_of_2(stride) ? ilog2(stride) : 0;
	alloc->stride_recip = reciprocal_value(stride);

	alloc->free_stack = kvmalloc_array(alloc->frames, sizeof(u32),
					   GFP_KERNEL_ACCOUNT);
	if (!alloc->free_stack)
		goto err_free_alloc;
	alloc->state_mask = roundup_pow_of_two(alloc->frames) - 1;
	alloc->state = kvzalloc(alloc->state_mask + 1, GFP_KERNEL_ACCOUNT);
	if (!alloc->state)
		goto err_free_stack;
	alloc->cache = alloc_percpu_gfp(struct ksalloc_cache, GFP_KERNEL_ACCOUNT);
	if (!alloc->cache)
		goto err_free_state;
	ret = ksalloc_alloc_pool(alloc, bytes);
	if (ret)
		goto err_free_cache;

	for_each_possible_cpu(cpu) {
		struct ksalloc_cache *c = per_cpu_ptr(alloc->cache, cpu);

		INIT_CSD(&c->drain, ksalloc_drain_ipi, c);
	}
	/* Lowest index on top, so a fresh allocator hands out 0, 1, 2, ... */
	for (i = 0; i < alloc->frames; i++)
		alloc->free_stack[i] = alloc->frames - 1 - i;
	alloc->nr_free = alloc->frames;

	kref_init(&alloc->ref);
	init_waitqueue_head(&alloc->freeframe_wq);
	spin_lock_init(&alloc->drain_lock);
	spin_lock_init(&alloc->lock);
	INIT_LIST_HEAD(&alloc->waiters);

	spin_lock_bh(&ksalloc_all_lock);
	list_add(&alloc->node, &ksalloc_all);
	spin_unlock_bh(&ksalloc_all_lock);
	return alloc;

err_free_cache:
	free_percpu(alloc->cache);
err_free_state:
	kvfree(alloc->state);
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

	spin_lock_bh(&ksalloc_all_lock);
	list_del(&alloc->node);
	spin_unlock_bh(&ksalloc_all_lock);

	vfree(alloc->pool);
	free_percpu(alloc->cache);
	kvfree(alloc->state);
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
 * The state byte of frame @index.  Frames next to each other have their
 * bytes in different cache lines (the index times an odd constant, modulo
 * the power-of-two size, is a permutation), so that CPUs working on
 * neighbouring frames do not bounce one line between them.
 */
static __always_inline u8 *ksalloc_state(struct ksalloc *alloc, u32 index)
{
	return &alloc->state[(index * GOLDEN_RATIO_32) & alloc->state_mask];
}

/* Recomputes &ksalloc.bypass after closed, the waiters or poll_armed changed. */
static void ksalloc_update_bypass_locked(struct ksalloc *alloc)
{
	lockdep_assert_held(&alloc->lock);
	WRITE_ONCE(alloc->bypass, alloc->closed || alloc->poll_armed ||
		   !list_empty(&alloc->waiters));
}

/* Frames in the per-CPU caches now; exact only while nobody allocates. */
static u32 ksalloc_cached(struct ksalloc *alloc)
{
	u32 n = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		n += READ_ONCE(per_cpu_ptr(alloc->cache, cpu)->count);
	return n;
}

/* Frames out now, for peak_allocated and the status. */
static u32 ksalloc_out_locked(struct ksalloc *alloc)
{
	u32 free = alloc->nr_free + ksalloc_cached(alloc);

	lockdep_assert_held(&alloc->lock);
	return free < alloc->frames ? alloc->frames - free : 0;
}

static void ksalloc_sample_peak_locked(struct ksalloc *alloc)
{
	u32 out = ksalloc_out_locked(alloc);

	if (out > alloc->stats.peak_allocated)
		alloc->stats.peak_allocated = out;
}

/*
 * Gives a free frame (state FREE, in no cache) to the oldest waiter, else
 * puts it on the shared stack.  Returns true when that made a closed
 * allocator idle: the caller then drops the handle's reference, once it no
 * longer touches the allocator.
 */
static bool ksalloc_give_locked(struct ksalloc *alloc, u32 index)
{
	struct ksalloc_waiter *w;

	lockdep_assert_held(&alloc->lock);
	w = list_first_entry_or_null(&alloc->waiters, struct ksalloc_waiter, node);
	if (w) {
		/* Direct hand-off: the frame never becomes free. */
		WRITE_ONCE(*ksalloc_state(alloc, index),
			   w->user ? KSALLOC_FRAME_USER : KSALLOC_FRAME_KERNEL);
		list_del_init(&w->node);
		w->index = index;
		w->status = 0;
		alloc->stats.waiters--;
		alloc->stats.handoffs++;
		alloc->stats.allocs++;
		complete(&w->done);
		ksalloc_update_bypass_locked(alloc);
		return false;
	}

	/*
	 * Under the lock: the caller need not hold a reference, only the
	 * frame, so once the lock is dropped a free of the last frame of a
	 * closed allocator elsewhere may release it.
	 */
	if (!alloc->nr_free)
		wake_up_poll(&alloc->freeframe_wq, EPOLLOUT | EPOLLWRNORM);
	alloc->free_stack[alloc->nr_free++] = index;
	if (alloc->closed && !alloc->handle_put && alloc->nr_free == alloc->frames) {
		alloc->handle_put = true;
		return true;
	}
	return false;
}

/* Takes up to @max frames off the shared stack for a holder of @kind. */
static u32 ksalloc_pop_locked(struct ksalloc *alloc, u32 *idx, u32 max, u8 kind)
{
	u32 n = min(max, alloc->nr_free), i;

	lockdep_assert_held(&alloc->lock);
	for (i = 0; i < n; i++) {
		idx[i] = alloc->free_stack[--alloc->nr_free];
		WRITE_ONCE(*ksalloc_state(alloc, idx[i]), kind);
	}
	alloc->stats.allocs += n;
	return n;
}

/* Empties a cache into a drain request; on its own CPU, interrupts off. */
static void ksalloc_cache_empty(struct ksalloc_cache *c, struct ksalloc_drain *req)
{
	req->n = c->count;
	memcpy(req->idx, c->idx, c->count * sizeof(u32));
	WRITE_ONCE(c->count, 0);
}

static void ksalloc_drain_ipi(void *info)
{
	struct ksalloc_cache *c = info;
	struct ksalloc_drain *req = c->req;

	ksalloc_cache_empty(c, req);
	/* Pairs with the acquire in ksalloc_drain(): @req is written. */
	smp_store_release(&req->done, 1);
}

/*
 * Brings the frames in the per-CPU caches back to the shared stack, or to
 * waiters.  Each CPU empties its own cache in an IPI while the caller
 * spins, one CPU at a time: remote caches are never touched, so the fast
 * path needs no lock.  With @all every online CPU is asked, even one whose
 * cache looks empty; that orders each of them after a change of
 * &ksalloc.bypass made before the call, since a CPU reads bypass with
 * interrupts off and the IPI runs between two such sections.
 *
 * Returns true when this made a closed allocator idle (see
 * ksalloc_give_locked()).  The caller must not hold &ksalloc.lock, nor have
 * interrupts off.
 */
static bool ksalloc_drain(struct ksalloc *alloc, bool all)
{
	struct ksalloc_drain req;
	unsigned long flags;
	bool idle = false;
	int cpu;
	u32 i;

	lockdep_assert_irqs_enabled();
	spin_lock_bh(&alloc->drain_lock);
	for_each_online_cpu(cpu) {
		struct ksalloc_cache *c = per_cpu_ptr(alloc->cache, cpu);

		if (!all && !READ_ONCE(c->count))
			continue;
		req.n = 0;
		req.done = 0;
		/* No CPU goes offline while this one runs with preemption off. */
		preempt_disable();
		if (cpu == smp_processor_id()) {
			local_irq_save(flags);
			ksalloc_cache_empty(c, &req);
			local_irq_restore(flags);
		} else if (cpu_online(cpu)) {
			c->req = &req;
			/* Only this task, under drain_lock, sends it: never busy. */
			if (WARN_ON_ONCE(smp_call_function_single_async(cpu, &c->drain)))
				req.done = 1;
			/* Pairs with ksalloc_drain_ipi()'s release. */
			while (!smp_load_acquire(&req.done))
				cpu_relax();
		}
		preempt_enable();
		if (!req.n)
			continue;
		spin_lock_bh(&alloc->lock);
		for (i = 0; i < req.n; i++)
			idle |= ksalloc_give_locked(alloc, req.idx[i]);
		spin_unlock_bh(&alloc->lock);
	}
	spin_unlock_bh(&alloc->drain_lock);
	return idle;
}

/*
 * Tops this CPU's cache up from the shared stack, by a batch at most.  Under
 * the lock, so on this CPU (BH is off, or on PREEMPT_RT migration is).
 */
static void ksalloc_cache_refill_locked(struct ksalloc *alloc)
{
	struct ksalloc_cache *c;
	unsigned long flags;
	u32 n;

	lockdep_assert_held(&alloc->lock);
	local_irq_save(flags);
	c = this_cpu_ptr(alloc->cache);
	n = min3(KSALLOC_CACHE_SIZE - c->count, KSALLOC_CACHE_BATCH, alloc->nr_free);
	alloc->nr_free -= n;
	memcpy(&c->idx[c->count], &alloc->free_stack[alloc->nr_free],
	       n * sizeof(u32));
	WRITE_ONCE(c->count, c->count + n);
	local_irq_restore(flags);
}

/*
 * Makes room in this CPU's cache when it is full: its oldest batch goes to
 * the shared stack.  Under the lock, which keeps this task on this CPU.
 * Only the copy runs with interrupts off: on PREEMPT_RT the wake-up in
 * ksalloc_give_locked() takes a sleeping lock.
 */
static void ksalloc_cache_flush_locked(struct ksalloc *alloc)
{
	u32 idx[KSALLOC_CACHE_BATCH], n = 0, i;
	struct ksalloc_cache *c;
	unsigned long flags;

	lockdep_assert_held(&alloc->lock);
	local_irq_save(flags);
	c = this_cpu_ptr(alloc->cache);
	if (c->count == KSALLOC_CACHE_SIZE) {
		n = KSALLOC_CACHE_BATCH;
		memcpy(idx, c->idx, n * sizeof(u32));
		memmove(c->idx, &c->idx[n], (c->count - n) * sizeof(u32));
		WRITE_ONCE(c->count, c->count - n);
	}
	local_irq_restore(flags);

	/* Not closed (no bypass), so this cannot make the allocator idle. */
	for (i = 0; i < n; i++)
		ksalloc_give_locked(alloc, idx[i]);
}

/*
 * The fast path: takes a frame for a holder of @kind from this CPU's cache,
 * with interrupts off and no atomic instruction.  False when the cache is
 * empty or bypassed.
 */
static __always_inline bool ksalloc_cache_pop(struct ksalloc *alloc, u8 kind,
					      u32 *index)
{
	struct ksalloc_cache *c;
	unsigned long flags;
	bool hit = false;

	local_irq_save(flags);
	c = this_cpu_ptr(alloc->cache);
	if (likely(c->count && !READ_ONCE(alloc->bypass))) {
		*index = c->idx[c->count - 1];
		WRITE_ONCE(c->count, c->count - 1);
		WRITE_ONCE(c->allocs, c->allocs + 1);
		WRITE_ONCE(*ksalloc_state(alloc, *index), kind);
		hit = true;
	}
	local_irq_restore(flags);
	return hit;
}

/*
 * The fast path: gives an outstanding frame back to this CPU's cache, with
 * interrupts off and the one cmpxchg that claims it from state @old.  False
 * when the cache is full or bypassed, or the frame is not in state @old:
 * the slow path then decides.
 */
static __always_inline bool ksalloc_cache_push(struct ksalloc *alloc, u32 index,
					       u8 old)
{
	struct ksalloc_cache *c;
	unsigned long flags;
	bool hit = false;

	local_irq_save(flags);
	c = this_cpu_ptr(alloc->cache);
	if (likely(c->count < KSALLOC_CACHE_SIZE && !READ_ONCE(alloc->bypass) &&
		   old != KSALLOC_FRAME_FREE &&
		   try_cmpxchg(ksalloc_state(alloc, index), &old, KSALLOC_FRAME_FREE))) {
		c->idx[c->count] = index;
		WRITE_ONCE(c->count, c->count + 1);
		WRITE_ONCE(c->frees, c->frees + 1);
		hit = true;
	}
	local_irq_restore(flags);
	return hit;
}

/*
 * The slow path of every allocation: takes up to @count frames for a
 * holder of @kind off the shared stack, after draining the caches if the
 * stack holds fewer.  With @refill, tops this CPU's cache up as well; with
 * @count_failure, an empty allocator counts in stats.alloc_failures.
 * Returns the number of frames taken, -ENOMEM when none is free anywhere,
 * -ENODEV once closed.
 */
static noinline int ksalloc_alloc_slow(struct ksalloc *alloc, u32 *idx,
				       u32 count, u8 kind, bool refill,
				       bool count_failure)
{
	bool drained = false, idle = false;
	int n;

	for (;;) {
		spin_lock_bh(&alloc->lock);
		if (alloc->closed) {
			n = -ENODEV;
			goto out_unlock;
		}
		/*
		 * All in one go, under one lock: between two takes, a frame of
		 * the first could be freed by someone else and come back in
		 * the second, twice in one answer.
		 */
		if (alloc->nr_free >= count || drained) {
			n = ksalloc_pop_locked(alloc, idx, count, kind);
			break;
		}
		/* Short: what the caches hold is free too. */
		spin_unlock_bh(&alloc->lock);
		idle = ksalloc_drain(alloc, false);
		drained = true;
	}

	/*
	 * The pollers left: let the caches work again.  A poller that is
	 * just arriving has added itself to the queue already and takes the
	 * lock after us, so it sees poll_armed clear and arms it again.
	 */
	if (alloc->poll_armed && !waitqueue_active(&alloc->freeframe_wq)) {
		alloc->poll_armed = false;
		ksalloc_update_bypass_locked(alloc);
	}
	if (n && refill && !alloc->bypass)
		ksalloc_cache_refill_locked(alloc);
	if (!n) {
		if (count_failure)
			alloc->stats.alloc_failures++;
		n = -ENOMEM;
	}
	ksalloc_sample_peak_locked(alloc);
out_unlock:
	spin_unlock_bh(&alloc->lock);
	if (idle)
		ksalloc_put(alloc);
	return n;
}

/**
 * ksalloc_alloc_index() - take a free frame by index without sleeping
 * @alloc: the allocator
 * @index: where to store the frame's index
 *
 * As the table's allocate_frame: this CPU's cache first, then the shared
 * stack, then the other CPUs' caches.
 *
 * Context: Process or softirq context; never sleeps.
 * Return: 0, -ENOMEM when no frame is free, -ENODEV once closed.
 */
int ksalloc_alloc_index(struct ksalloc *alloc, u32 *index)
{
	int ret;

	if (ksalloc_cache_pop(alloc, KSALLOC_FRAME_KERNEL, index))
		return 0;
	ret = ksalloc_alloc_slow(alloc, index, 1, KSALLOC_FRAME_KERNEL, true, true);
	return ret < 0 ? ret : 0;
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_alloc_index);

/**
 * ksalloc_alloc_user() - take free frames for user space without sleeping
 * @alloc: the allocator
 * @indices: where to store the frames' indices
 * @count: how many frames are wanted, at least 1
 *
 * Takes as many free frames as there are, up to @count: from the shared
 * stack, and when it holds fewer, from the caches after draining them.
 * Marks them held by user space, to be taken back by ksalloc_close().
 *
 * Context: Process or softirq context; never sleeps.
 * Return: the number of frames taken, or -ENOMEM when none is free,
 * -ENODEV once closed.
 */
int ksalloc_alloc_user(struct ksalloc *alloc, u32 *indices, u32 count)
{
	return ksalloc_alloc_slow(alloc, indices, count, KSALLOC_FRAME_USER,
				  false, true);
}

/*
 * Claims an outstanding frame for its free, whoever holds it: its state
 * becomes FREE.  False when it was free already (a double free).
 */
static bool ksalloc_claim(struct ksalloc *alloc, u32 index)
{
	u8 old = READ_ONCE(*ksalloc_state(alloc, index));

	do {
		if (old == KSALLOC_FRAME_FREE)
			return false;
	} while (!try_cmpxchg(ksalloc_state(alloc, index), &old, KSALLOC_FRAME_FREE));
	return true;
}

/*
 * Frees @n frames by index, in order, under one lock: each is handed to the
 * oldest waiter if there is one, else put on the shared stack.  Stops at
 * the first index that is not an outstanding frame.  With @flush, also
 * makes room in this CPU's cache if it is full.  Returns how many were
 * freed.
 */
static u32 ksalloc_free_locked_many(struct ksalloc *alloc, const u32 *indices,
				    u32 n, bool flush)
{
	bool idle = false;
	u32 done;

	spin_lock_bh(&alloc->lock);
	for (done = 0; done < n; done++) {
		u32 index = indices[done];

		if (index >= alloc->frames || !ksalloc_claim(alloc, index))
			break;
		alloc->stats.frees++;
		idle |= ksalloc_give_locked(alloc, index);
	}
	if (flush && !alloc->bypass)
		ksalloc_cache_flush_locked(alloc);
	spin_unlock_bh(&alloc->lock);

	/* The last frame of a closed allocator carries the handle's reference. */
	if (idle)
		ksalloc_put(alloc);
	return done;
}

/* The slow path of every single free: see ksalloc_free_locked_many(). */
static noinline int ksalloc_free_slow(struct ksalloc *alloc, u32 index)
{
	return ksalloc_free_locked_many(alloc, &index, 1, true) ? 0 : -EINVAL;
}

/**
 * ksalloc_free_many() - give frames back by index, under one lock
 * @alloc: the allocator
 * @indices: the frames, freed in this order
 * @n: how many
 *
 * For FREE_BATCH: as ksalloc_free_index() for each, but the lock is taken
 * once, and the frames go to the waiters and the shared stack, not to a
 * cache.
 *
 * Context: Process or softirq context; never sleeps.
 * Return: the number of frames freed; fewer than @n when
 * @indices[return value] is out of range or not outstanding.
 */
u32 ksalloc_free_many(struct ksalloc *alloc, const u32 *indices, u32 n)
{
	return ksalloc_free_locked_many(alloc, indices, n, false);
}

/**
 * ksalloc_free_index() - give a frame back by index
 * @alloc: the allocator
 * @index: the frame
 *
 * Hands the frame to the oldest waiter if there is one, else puts it in
 * this CPU's cache or on the shared stack.  Whoever holds the frame, kernel
 * or user space.  Works after ksalloc_close() too.
 *
 * Context: Process or softirq context; never sleeps.
 * Return: 0, or -EINVAL when @index is out of range or not outstanding, in
 * which case nothing changed.
 */
int ksalloc_free_index(struct ksalloc *alloc, u32 index)
{
	if (index < alloc->frames &&
	    ksalloc_cache_push(alloc, index, READ_ONCE(*ksalloc_state(alloc, index))))
		return 0;
	return ksalloc_free_slow(alloc, index);
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
 * ksalloc_free_index().  The first waiter turns the caches off and drains
 * them, so that every frame that comes back reaches the waiters.  A waiter
 * that times out or is signalled after it was served keeps the frame and
 * succeeds.
 *
 * Context: Process context; may sleep.
 * Return: 0, -EAGAIN when @timeout is 0 and no frame is free, -ETIMEDOUT,
 * -ERESTARTSYS on a signal, -ENODEV when the allocator is or gets closed.
 */
int ksalloc_wait_index(struct ksalloc *alloc, long timeout, unsigned int state,
		       bool user, u32 *index)
{
	u8 kind = user ? KSALLOC_FRAME_USER : KSALLOC_FRAME_KERNEL;
	struct ksalloc_waiter w;
	bool arm, idle = false;
	long left;
	int ret;

	might_sleep();
	if (ksalloc_cache_pop(alloc, kind, index))
		return 0;
	ret = ksalloc_alloc_slow(alloc, index, 1, kind, true, !timeout);
	if (ret != -ENOMEM)
		return ret < 0 ? ret : 0;
	if (!timeout)
		return -EAGAIN;

	spin_lock_bh(&alloc->lock);
	if (alloc->closed || ksalloc_pop_locked(alloc, index, 1, kind)) {
		ret = alloc->closed ? -ENODEV : 0;
		spin_unlock_bh(&alloc->lock);
		return ret;
	}
	init_completion(&w.done);
	w.status = -EINPROGRESS;
	w.user = user;
	list_add_tail(&w.node, &alloc->waiters);
	alloc->stats.waits++;
	alloc->stats.waiters++;
	arm = !alloc->bypass;
	ksalloc_update_bypass_locked(alloc);
	spin_unlock_bh(&alloc->lock);

	/* Frames still cached come back, to the waiters first. */
	if (arm)
		idle = ksalloc_drain(alloc, true);

	left = ksalloc_sleep(&w.done, timeout, state);
	if (left <= 0) {
		spin_lock_bh(&alloc->lock);
		if (w.status == -EINPROGRESS) {
			/* Not served: leave the queue empty-handed. */
			list_del(&w.node);
			alloc->stats.waiters--;
			if (!left)
				alloc->stats.wait_timeouts++;
			ksalloc_update_bypass_locked(alloc);
			spin_unlock_bh(&alloc->lock);
			ret = left ? (int)left : -ETIMEDOUT;
			goto out;
		}
		/* Served while giving up: the frame is ours, keep it. */
		spin_unlock_bh(&alloc->lock);
	}

	ret = w.status;
	if (!ret)
		*index = w.index;
out:
	if (idle)
		ksalloc_put(alloc);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_wait_index);

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
	bool idle;
	u32 i;

	spin_lock_bh(&alloc->lock);
	if (WARN_ON_ONCE(alloc->closed)) {
		spin_unlock_bh(&alloc->lock);
		return;
	}
	alloc->closed = true;
	alloc->dispatch = false;
	ksalloc_wake_all_locked(alloc);
	ksalloc_update_bypass_locked(alloc);
	spin_unlock_bh(&alloc->lock);

	/* From here on every free goes through the lock. */
	idle = ksalloc_drain(alloc, true);

	spin_lock_bh(&alloc->lock);
	for (i = 0; i < alloc->frames; i++) {
		u8 old = KSALLOC_FRAME_USER;

		if (READ_ONCE(*ksalloc_state(alloc, i)) == KSALLOC_FRAME_USER &&
		    try_cmpxchg(ksalloc_state(alloc, i), &old, KSALLOC_FRAME_FREE)) {
			alloc->stats.frees++;
			idle |= ksalloc_give_locked(alloc, i);
		}
	}
	if (!alloc->handle_put && alloc->nr_free == alloc->frames) {
		alloc->handle_put = true;
		idle = true;
	}
	spin_unlock_bh(&alloc->lock);

	if (idle)
		ksalloc_put(alloc);
}
EXPORT_SYMBOL_NS_GPL(ksalloc_close, KSALLOC_NS);

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

/*
 * The index of the frame at @frame, or KSALLOC_NO_FRAME: a shift for a
 * power-of-two stride, else a multiplication by the stride's reciprocal.
 */
static __always_inline u32 __ksalloc_frame_index(struct ksalloc *alloc,
						 const void *frame)
{
	/* Below the pool, the difference wraps far above the span. */
	unsigned long off = (unsigned long)frame - (unsigned long)alloc->pool;
	u32 index;

	if (off >= alloc->span)
		return KSALLOC_NO_FRAME;
	if (likely(alloc->stride_shift))
		return off & (alloc->stride - 1) ? KSALLOC_NO_FRAME :
		       off >> alloc->stride_shift;
	if (likely(off <= U32_MAX))
		index = reciprocal_divide(off, alloc->stride_recip);
	else
		index = off / alloc->stride;
	if ((unsigned long)index * alloc->stride != off)
		return KSALLOC_NO_FRAME;
	return index;
}

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
	return __ksalloc_frame_index(alloc, frame);
}
EXPORT_SYMBOL_NS_GPL(ksalloc_frame_index, KSALLOC_NS);

/* Byte offset of frame @index in the pool, and so in mmap() of it. */
u64 ksalloc_frame_offset(struct ksalloc *alloc, u32 index)
{
	return (u64)index * alloc->stride;
}

static noinline int ksalloc_allocate_slow(struct ksalloc *alloc, void **frame)
{
	u32 index;
	int ret;

	ret = ksalloc_alloc_slow(alloc, &index, 1, KSALLOC_FRAME_KERNEL, true, true);
	*frame = ret < 0 ? NULL : alloc->pool + (size_t)index * alloc->stride;
	return ret < 0 ? ret : 0;
}

/**
 * ksalloc_allocate_frame() - take a free frame without sleeping
 * @alloc: the allocator
 * @frame: where to store the frame's address; NULL on failure
 *
 * The allocate_frame entry of the function table (KStrAllocateFrame).
 * Served from this CPU's cache when it holds a frame, with interrupts off
 * and no atomic instruction; else from the shared stack.  Never waits: when
 * no frame is free anywhere it fails at once.
 *
 * Context: Process or softirq context; never sleeps.  Not in hardirq.
 * Return: 0, -ENOMEM when no frame is free, -ENODEV once closed.
 */
int ksalloc_allocate_frame(struct ksalloc *alloc, void **frame)
{
	u32 index;

	if (likely(ksalloc_cache_pop(alloc, KSALLOC_FRAME_KERNEL, &index))) {
		*frame = alloc->pool + (size_t)index * alloc->stride;
		return 0;
	}
	return ksalloc_allocate_slow(alloc, frame);
}
EXPORT_SYMBOL_NS_GPL(ksalloc_allocate_frame, KSALLOC_NS);

/**
 * ksalloc_free_frame() - give a frame back
 * @alloc: the allocator
 * @frame: the frame's address, as returned by an allocation
 *
 * The free_frame entry of the function table (KStrFreeFrame).  The frame
 * goes to this CPU's cache, with interrupts off and one cmpxchg, unless
 * tasks wait: then it goes straight to the oldest of them.  Accepted after
 * ksalloc_close() too.  A pointer that is not an outstanding frame of
 * @alloc (a double free, a foreign pointer) is refused with a rate-limited
 * warning and changes nothing.
 *
 * Context: Process or softirq context; never sleeps.  Not in hardirq.
 */
void ksalloc_free_frame(struct ksalloc *alloc, void *frame)
{
	u32 index = __ksalloc_frame_index(alloc, frame);

	if (unlikely(index == KSALLOC_NO_FRAME)) {
		pr_warn_ratelimited("free of %p: not a frame of this allocator\n",
				    frame);
		return;
	}
	/* A frame the table frees is normally the kernel's: try that state. */
	if (likely(ksalloc_cache_push(alloc, index, KSALLOC_FRAME_KERNEL)))
		return;
	if (ksalloc_free_slow(alloc, index))
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
	u8 old = KSALLOC_FRAME_KERNEL;
	int ret = 0;

	if (index == KSALLOC_NO_FRAME)
		return -EINVAL;
	spin_lock_bh(&alloc->lock);
	if (READ_ONCE(*ksalloc_state(alloc, index)) == KSALLOC_FRAME_FREE)
		ret = -EINVAL;
	else if (alloc->closed)
		ret = -ENODEV;
	else if (!try_cmpxchg(ksalloc_state(alloc, index), &old, KSALLOC_FRAME_USER) &&
		 old != KSALLOC_FRAME_USER)
		ret = -EINVAL;	/* freed under our feet */
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
 * The Linux form of KSPROPERTY_STREAMALLOCATOR_STATUS.  Frames in the
 * per-CPU caches count as free; while other CPUs allocate, the count is a
 * snapshot that may be a few frames off.
 *
 * Context: Process or softirq context; never sleeps.
 * Return: 0.
 */
int ksalloc_get_status(struct ksalloc *alloc, struct ksalloc_status *status)
{
	memset(status, 0, sizeof(*status));
	status->framing = alloc->framing;
	spin_lock_bh(&alloc->lock);
	status->allocated_frames = ksalloc_out_locked(alloc);
	spin_unlock_bh(&alloc->lock);
	return 0;
}
EXPORT_SYMBOL_NS_GPL(ksalloc_get_status, KSALLOC_NS);

/**
 * ksalloc_get_stats() - the allocator's counters
 * @alloc: the allocator
 * @stats: filled in
 *
 * The fast path counts per CPU; those counts are summed in.  peak_allocated
 * is sampled whenever an allocation takes the lock (at least once per
 * %KSALLOC_CACHE_BATCH allocations on a CPU, and on every failure) and
 * here, so a peak shorter than that may go unseen.
 *
 * Context: Process or softirq context; never sleeps.
 * Return: 0.
 */
int ksalloc_get_stats(struct ksalloc *alloc, struct ksalloc_stats *stats)
{
	int cpu;

	spin_lock_bh(&alloc->lock);
	ksalloc_sample_peak_locked(alloc);
	*stats = alloc->stats;
	spin_unlock_bh(&alloc->lock);

	for_each_possible_cpu(cpu) {
		struct ksalloc_cache *c = per_cpu_ptr(alloc->cache, cpu);

		stats->allocs += READ_ONCE(c->allocs);
		stats->frees += READ_ONCE(c->frees);
	}
	return 0;
}
EXPORT_SYMBOL_NS_GPL(ksalloc_get_stats, KSALLOC_NS);

/**
 * ksalloc_poll() - poll for a free frame
 * @alloc: the allocator
 * @file: the file being polled
 * @wait: the poll table
 *
 * A poller that finds no frame on the shared stack turns the caches off
 * until the pollers are gone, and drains them, so that every frame that
 * comes back reaches the stack and wakes it.
 *
 * Context: Process context.
 * Return: EPOLLOUT | EPOLLWRNORM while at least one frame is free, else 0.
 */
__poll_t ksalloc_poll(struct ksalloc *alloc, struct file *file,
		      poll_table *wait)
{
	bool ready, arm = false, idle = false;

	poll_wait(file, &alloc->freeframe_wq, wait);
	spin_lock_bh(&alloc->lock);
	ready = alloc->nr_free;
	if (!ready && !alloc->poll_armed) {
		arm = !alloc->bypass;
		alloc->poll_armed = true;
		ksalloc_update_bypass_locked(alloc);
	}
	spin_unlock_bh(&alloc->lock);

	if (arm) {
		idle = ksalloc_drain(alloc, true);
		spin_lock_bh(&alloc->lock);
		ready = alloc->nr_free;
		spin_unlock_bh(&alloc->lock);
	}
	if (idle)
		ksalloc_put(alloc);
	return ready ? EPOLLOUT | EPOLLWRNORM : 0;
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

/*
 * A CPU is gone: its caches go back to their allocators.  Runs on another
 * CPU once the dead one no longer runs anything, so its caches can be read
 * directly.
 */
static int ksalloc_cpu_dead(unsigned int cpu)
{
	struct ksalloc_drain req;
	struct ksalloc *alloc, *found;
	bool idle;
	u32 i;

	do {
		found = NULL;
		spin_lock_bh(&ksalloc_all_lock);
		list_for_each_entry(alloc, &ksalloc_all, node) {
			if (READ_ONCE(per_cpu_ptr(alloc->cache, cpu)->count) &&
			    kref_get_unless_zero(&alloc->ref)) {
				found = alloc;
				break;
			}
		}
		spin_unlock_bh(&ksalloc_all_lock);
		if (!found)
			break;

		idle = false;
		spin_lock_bh(&found->drain_lock);
		ksalloc_cache_empty(per_cpu_ptr(found->cache, cpu), &req);
		spin_lock(&found->lock);
		for (i = 0; i < req.n; i++)
			idle |= ksalloc_give_locked(found, req.idx[i]);
		spin_unlock(&found->lock);
		spin_unlock_bh(&found->drain_lock);
		if (idle)
			ksalloc_put(found);
		ksalloc_put(found);
	} while (found);
	return 0;
}

/* Called by the module's init: the CPU hotplug callback. */
int ksalloc_core_init(void)
{
	int ret = cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "misc/ksalloc:dead",
					    NULL, ksalloc_cpu_dead);

	if (ret < 0)
		return ret;
	ksalloc_hp_state = ret;
	return 0;
}

void ksalloc_core_exit(void)
{
	cpuhp_remove_state_nocalls(ksalloc_hp_state);
}

#if IS_ENABLED(CONFIG_KUNIT)
/* Pool bytes held by all allocators now. */
u64 ksalloc_charged_bytes(void)
{
	return atomic64_read(&ksalloc_total_bytes);
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_charged_bytes);

/* Frames in the cache of @cpu now. */
u32 ksalloc_cached_frames(struct ksalloc *alloc, int cpu)
{
	return READ_ONCE(per_cpu_ptr(alloc->cache, cpu)->count);
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_cached_frames);

/* Accounts for frame @f seen free in a cache or on the stack. */
static bool ksalloc_check_free(struct ksalloc *alloc, unsigned long *seen, u32 f)
{
	return f < alloc->frames &&
	       READ_ONCE(*ksalloc_state(alloc, f)) == KSALLOC_FRAME_FREE &&
	       !__test_and_set_bit(f, seen);
}

/*
 * Checks, while nobody allocates or frees, that every frame is in exactly
 * one place: free with state FREE, once, on the shared stack or in one
 * cache; or out, with state KERNEL or USER.  Also that no waiter is queued
 * while a frame is free.  Returns 0 or -EUCLEAN.
 */
int ksalloc_check_invariants(struct ksalloc *alloc)
{
	unsigned long *seen;
	u32 i, nfree = 0;
	int ret = 0, cpu;

	seen = bitmap_zalloc(alloc->frames, GFP_KERNEL);
	if (!seen)
		return -ENOMEM;

	spin_lock_bh(&alloc->drain_lock);
	spin_lock(&alloc->lock);
	for (i = 0; i < alloc->frames; i++) {
		u8 st = READ_ONCE(*ksalloc_state(alloc, i));

		if (st > KSALLOC_FRAME_USER)
			ret = -EUCLEAN;
		nfree += st == KSALLOC_FRAME_FREE;
	}
	if (alloc->nr_free > alloc->frames ||
	    (alloc->nr_free && !list_empty(&alloc->waiters)) ||
	    nfree != alloc->nr_free + ksalloc_cached(alloc))
		ret = -EUCLEAN;
	for (i = 0; !ret && i < alloc->nr_free; i++)
		if (!ksalloc_check_free(alloc, seen, alloc->free_stack[i]))
			ret = -EUCLEAN;
	for_each_possible_cpu(cpu) {
		struct ksalloc_cache *c = per_cpu_ptr(alloc->cache, cpu);

		for (i = 0; !ret && i < READ_ONCE(c->count); i++)
			if (!ksalloc_check_free(alloc, seen, c->idx[i]))
				ret = -EUCLEAN;
	}
	spin_unlock(&alloc->lock);
	spin_unlock_bh(&alloc->drain_lock);

	bitmap_free(seen);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_check_invariants);
#endif

MODULE_DESCRIPTION("Kernel Streaming style stream allocator");
MODULE_LICENSE("GPL");
