// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc - Kernel Streaming style stream allocator: the core
 *
 * An allocator owns one pool of @frames fixed-size frames, allocated when
 * the allocator is created and never grown.  Frame i lives at
 * pool + i * stride, where stride = round_up(frame_size, alignment + 1).
 * The pool is built from individually allocated pages mapped contiguously
 * with vmap(), so that the same pages can be mapped into user space.
 *
 * The pool holds frame data only.  No kernel data is ever written into it,
 * in any context, at teardown neither: the bookkeeping lives out of band.
 *
 *   what            where / lock         who changes it, in which context
 *   --------------  -------------------  ----------------------------------
 *   state[]         one byte per frame   the frame's holder: FREE, KERNEL
 *                                        (kernel code) or USER (user
 *                                        space); USER -> FREE by cmpxchg
 *   free_stack[]    @lock                slow paths, refill and flush
 *   cache           per CPU, cache.c     its CPU puts, any CPU takes
 *   waiters         @lock                ksalloc_wait_index() and frees
 *   bypass          written under @lock  read by the fast paths
 *   ref             kref                 any context
 *
 * Fast path (ksalloc_allocate_frame(), ksalloc_free_frame()): this CPU's
 * cache, with interrupts off and no lock.  An allocation costs one cmpxchg
 * (the take); a free of a frame kernel code holds costs no atomic
 * instruction, since only its holder may free it (user space frees only
 * frames in state USER, SPEC 7.1).  Everything else takes @lock.
 *
 * -ENOMEM is exact: a miss looks at the shared stack and at every CPU's
 * cache, taking frames from another CPU's cache without its help; see
 * cache.c for why that answer is exact.  No path waits for another CPU.
 *
 * FIFO hand-off: while a task waits, a poller waits for a frame, or the
 * handle is closed, the caches are bypassed (@bypass): every free takes
 * @lock and goes to the oldest waiter, or to the shared stack where it
 * wakes the pollers.  A fast path that read @bypass clear just before it
 * was set can still put a frame in its cache; so whoever sets @bypass also
 * asks for a recheck (ksalloc_request_recheck_locked()), an RCU callback
 * that runs once every such fast path is over (they run with interrupts
 * off, which an RCU grace period waits for) and sweeps every cache into
 * the waiters and the stack.  Nothing waits for that grace period.
 *
 * Readiness: EPOLLOUT is raised on every transition from no free frame to
 * one.  A poller that finds none, or an allocation that takes the last
 * free frame while someone polls, arms the pollers' wake-up (@poll_armed,
 * which turns @bypass on); the next free wakes them and disarms it, so a
 * poller that stays registered (level-triggered epoll) does not keep the
 * caches off.
 *
 * A waiter queues only when no frame is free, and a frame that comes back
 * while waiters are queued is handed straight to the oldest one: its index
 * is stored in the waiter, the waiter is unlinked and completed, all under
 * @lock.  A waiter that times out or catches a signal decides under the
 * same lock whether it was served in the meantime: if it was, it keeps the
 * frame.
 *
 * Contexts: every entry point that does not wait works in process context
 * and in softirq context (timers, tasklets, NAPI), which is the Linux
 * meaning of the KS "IRQL <= DISPATCH_LEVEL" contract.  Callers with
 * interrupts disabled (hardirq handlers, netpoll) are refused with a
 * one-time warning (ksalloc_context_ok()).  Only the waiting paths sleep;
 * they say so with might_sleep().
 *
 * Lifetime: ksalloc_create() returns an allocator holding one reference,
 * the "handle".  ksalloc_close() invalidates the handle: allocation fails
 * with -ENODEV from then on and every waiter wakes with -ENODEV, but frames
 * still outstanding stay valid and may be freed.  The handle's reference is
 * dropped when the allocator is closed and its last frame is back.  The
 * last reference of all queues the release on a work item, so that no put
 * and no free ever sleeps; the release unmaps the pool in process context.
 * Pool pages that someone else still holds (a pipe after vmsplice(), a
 * pin) stay charged until that reference goes (ksalloc_reap()).
 *
 * Accounting (SPEC 7.8): every byte an allocator costs, pool and metadata,
 * counts against max_pool_bytes and max_total_bytes, and is allocated with
 * __GFP_ACCOUNT, so it is charged to the active memory cgroup: the
 * character device makes that the opener's.
 */


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
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/percpu.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/reciprocal_div.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <kunit/visibility.h>

#include "cache.h"
#include "ksalloc_internal.h"

/* Bytes held by all live allocators, bounded by ksalloc_max_total_bytes. */
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

/* Flags of ksalloc_take() */
#define KSALLOC_TAKE_REFILL	BIT(0)	/* also top this CPU's cache up */
#define KSALLOC_TAKE_WAITS	BIT(1)	/* the caller waits when none is free */

/**
 * struct ksalloc_waiter - a task sleeping for a frame
 * @node: link in &ksalloc.waiters while queued, empty once served
 * @done: completed when the waiter is served or the allocator closes
 * @index: the frame handed over, valid when @status is 0
 * @status: -EINPROGRESS while queued, 0 when served, -ENODEV on close
 * @kind: the state the frame gets, %KSALLOC_FRAME_KERNEL or _USER
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
 * @pool_cost: bytes charged until the pages go: pool, page array, this
 * @meta_cost: bytes charged until the release: stack, states, caches
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
	size_t pool_cost;
	size_t meta_cost;
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

/* protects ksalloc_all, ksalloc_reaped and ksalloc_hotplug_steps */
static DEFINE_MUTEX(ksalloc_all_lock);
/* Every allocator not yet released, for the CPU hotplug callback. */
static LIST_HEAD(ksalloc_all);
/* Released allocators whose pages someone else still holds. */
static LIST_HEAD(ksalloc_reaped);
/* Allocators the hotplug callback looked at, for KUnit. */
static unsigned long ksalloc_hotplug_steps;
/* the dynamic CPU hotplug state of ksalloc_cpu_dead(), or <= 0 */
static int ksalloc_hp_state;
/* runs the releases and ksalloc_reap() */
static struct workqueue_struct *ksalloc_wq;
/*
 * Rechecks queued with call_rcu_hurry(), for module exit: a recheck can
 * queue itself again, which rcu_barrier() alone does not wait for.
 */
static atomic_t ksalloc_rechecks = ATOMIC_INIT(0);

static void ksalloc_reap(struct work_struct *work);
static DECLARE_DELAYED_WORK(ksalloc_reap_work, ksalloc_reap);

/* What kvmalloc() of @size takes at least. */
static size_t ksalloc_kv_bytes(size_t size)
{
	return size > KMALLOC_MAX_CACHE_SIZE ? PAGE_ALIGN(size) :
	       kmalloc_size_roundup(size);
}

/**
 * struct ksalloc_layout - what a framing costs
 * @stride: distance between two frames
 * @pool: bytes of the pool, whole pages
 * @state: bytes of the state array, a power of two
 * @pool_cost: bytes that live as long as the pool's pages
 * @meta_cost: bytes that go at the release
 */
struct ksalloc_layout {
	u32 stride;
	size_t pool;
	size_t state;
	size_t pool_cost;
	size_t meta_cost;
};

/*
 * Checks a framing against the ABI and the module limits, and works out
 * what it costs (everything counts, SPEC 7.8).  Returns 0, -EINVAL for a
 * framing that is malformed, -ENOMEM for one that is too large.
 */
static int ksalloc_check_framing(const struct ksalloc_framing *f,
				 struct ksalloc_layout *l)
{
	u64 st, total, limit = READ_ONCE(ksalloc_max_pool_bytes);

	if (f->reserved || (f->flags & ~KSALLOC_REQUIREMENTF_ALL))
		return -EINVAL;
	if (f->pool_type != KSALLOC_POOL_NONPAGED &&
	    f->pool_type != KSALLOC_POOL_PAGED)
		return -EINVAL;
	if (!f->frames || f->frames > READ_ONCE(ksalloc_max_frames))
		return -EINVAL;
	if (!f->frame_size || f->frame_size > READ_ONCE(ksalloc_max_frame_size))
		return -EINVAL;
	if (f->alignment >= PAGE_SIZE || (f->alignment & (f->alignment + 1)))
		return -EINVAL;

	st = round_up((u64)f->frame_size, (u64)f->alignment + 1);
	if (st > U32_MAX || check_mul_overflow(st, (u64)f->frames, &total) ||
	    total > limit)
		return -ENOMEM;

	/* All below is bounded by limit (an unsigned long) and frames. */
	l->stride = st;
	l->pool = PAGE_ALIGN(total);
	l->state = roundup_pow_of_two((unsigned long)f->frames);
	/*
	 * The kernel mapping of the pool costs its page tables (one page of
	 * entries per PTRS_PER_PTE pages) and its vm_struct and vmap_area.
	 */
	l->pool_cost = l->pool + sizeof(struct ksalloc) +
		       ksalloc_kv_bytes((l->pool >> PAGE_SHIFT) * sizeof(struct page *)) +
		       DIV_ROUND_UP(l->pool >> PAGE_SHIFT, PTRS_PER_PTE) * PAGE_SIZE +
		       sizeof(struct vm_struct) + sizeof(struct vmap_area);
	l->meta_cost = ksalloc_kv_bytes((size_t)f->frames * sizeof(u32)) +
		       ksalloc_kv_bytes(l->state) +
		       (size_t)num_possible_cpus() * sizeof(struct ksalloc_cache);
	if (l->pool_cost + l->meta_cost > limit)
		return -ENOMEM;
	return 0;
}

/* Takes @bytes out of the global budget, or fails with -ENOMEM. */
static int ksalloc_charge(size_t bytes)
{
	u64 limit = READ_ONCE(ksalloc_max_total_bytes);
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

static void ksalloc_free_pages(struct page **pages, unsigned int n)
{
	while (n--)
		__free_page(pages[n]);
	kvfree(pages);
}

/*
 * Allocates the pool page by page, charged to the active memory cgroup,
 * and maps it contiguously.  The pages and their array stay ours: the
 * release unmaps the pool and frees them once nobody else holds them.
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

	alloc->pool = vmap(alloc->pages, alloc->nr_pages, VM_MAP, PAGE_KERNEL);
	if (!alloc->pool)
		goto err_free_pages;
	return 0;

err_free_pages:
	ksalloc_free_pages(alloc->pages, i);
	return -ENOMEM;
}

static void ksalloc_release_work(struct work_struct *work);
static void ksalloc_close_work(struct work_struct *work);

/**
 * ksalloc_create() - create an allocator with a preallocated pool
 * @framing: frame count, size, alignment mask and pool type
 *
 * The Linux form of KsCreateAllocator().  Every frame is allocated here, so
 * that allocating a frame later never allocates memory.  The pool and the
 * metadata are charged to the active memory cgroup (the caller's, unless
 * set_active_memcg() says otherwise) and, all of it, to the module's
 * budget (max_pool_bytes, max_total_bytes).
 *
 * Context: Process context; may sleep.
 * Return: the allocator, holding one reference that ksalloc_close() drops,
 * or ERR_PTR(-EINVAL) for a malformed framing, ERR_PTR(-ENOMEM) for one over
 * the module's limits or when memory runs out.
 */
struct ksalloc *ksalloc_create(const struct ksalloc_framing *framing)
{
	struct ksalloc_layout l;
	struct ksalloc *alloc;
	u32 i;
	int ret;

	might_sleep();
	ret = ksalloc_check_framing(framing, &l);
	if (ret)
		return ERR_PTR(ret);
	ret = ksalloc_charge(l.pool_cost + l.meta_cost);
	if (ret)
		return ERR_PTR(ret);

	ret = -ENOMEM;
	alloc = kzalloc(sizeof(*alloc), GFP_KERNEL_ACCOUNT);
	if (!alloc)
		goto err_uncharge;
	alloc->framing = *framing;
	alloc->frames = framing->frames;
	alloc->stride = l.stride;
	alloc->span = (unsigned long)alloc->frames * l.stride;
	alloc->stride_shift = is_power_of_2(l.stride) ? ilog2(l.stride) : 0;
	alloc->stride_recip = reciprocal_value(l.stride);
	alloc->pool_cost = l.pool_cost;
	alloc->meta_cost = l.meta_cost;

	alloc->free_stack = kvmalloc_array(alloc->frames, sizeof(u32),
					   GFP_KERNEL_ACCOUNT);
	if (!alloc->free_stack)
		goto err_free_alloc;
	alloc->state_mask = l.state - 1;
	alloc->state = kvzalloc(l.state, GFP_KERNEL_ACCOUNT);
	if (!alloc->state)
		goto err_free_stack;
	alloc->cache = alloc_percpu_gfp(struct ksalloc_cache, GFP_KERNEL_ACCOUNT);
	if (!alloc->cache)
		goto err_free_state;
	ret = ksalloc_alloc_pool(alloc, l.pool);
	if (ret)
		goto err_free_cache;

	/* Lowest index on top, so a fresh allocator hands out 0, 1, 2, ... */
	for (i = 0; i < alloc->frames; i++)
		alloc->free_stack[i] = alloc->frames - 1 - i;
	alloc->nr_free = alloc->frames;

	kref_init(&alloc->ref);
	init_waitqueue_head(&alloc->freeframe_wq);
	spin_lock_init(&alloc->lock);
	INIT_LIST_HEAD(&alloc->waiters);
	INIT_WORK(&alloc->release, ksalloc_release_work);
	INIT_WORK(&alloc->close_work, ksalloc_close_work);

	mutex_lock(&ksalloc_all_lock);
	list_add(&alloc->node, &ksalloc_all);
	mutex_unlock(&ksalloc_all_lock);
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
	ksalloc_uncharge(l.pool_cost + l.meta_cost);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_NS_GPL(ksalloc_create, "KSALLOC");

/* Whether a page of the pool is held by someone but us (a pipe, a pin). */
static bool ksalloc_pages_held(struct ksalloc *alloc)
{
	unsigned int i;

	for (i = 0; i < alloc->nr_pages; i++)
		if (page_ref_count(alloc->pages[i]) != 1)
			return true;
	return false;
}

/* The pages are ours alone: they go, and with them the rest of the charge. */
static void ksalloc_free_pool(struct ksalloc *alloc)
{
	size_t cost = alloc->pool_cost;

	ksalloc_free_pages(alloc->pages, alloc->nr_pages);
	kfree(alloc);
	ksalloc_uncharge(cost);
}

/*
 * Frees the pools of released allocators whose pages came back, and looks
 * again a second later while some are still held.
 */
static void ksalloc_reap(struct work_struct *work)
{
	struct ksalloc *alloc, *tmp;

	mutex_lock(&ksalloc_all_lock);
	list_for_each_entry_safe(alloc, tmp, &ksalloc_reaped, node) {
		if (ksalloc_pages_held(alloc))
			continue;
		list_del(&alloc->node);
		ksalloc_free_pool(alloc);
	}
	if (!list_empty(&ksalloc_reaped))
		queue_delayed_work(ksalloc_wq, &ksalloc_reap_work, HZ);
	mutex_unlock(&ksalloc_all_lock);
}

/*
 * The last reference is gone; in process context now.  Nothing is written
 * into the pool: it is unmapped, and its pages are freed when nobody else
 * holds them.
 */
static void ksalloc_release_work(struct work_struct *work)
{
	struct ksalloc *alloc = container_of(work, struct ksalloc, release);

	/* Off the list first: the hotplug callback reads the caches. */
	mutex_lock(&ksalloc_all_lock);
	list_del(&alloc->node);
	mutex_unlock(&ksalloc_all_lock);

	vunmap(alloc->pool);
	free_percpu(alloc->cache);
	kvfree(alloc->state);
	kvfree(alloc->free_stack);
	ksalloc_uncharge(alloc->meta_cost);

	mutex_lock(&ksalloc_all_lock);
	if (ksalloc_pages_held(alloc)) {
		list_add_tail(&alloc->node, &ksalloc_reaped);
		queue_delayed_work(ksalloc_wq, &ksalloc_reap_work, HZ);
		alloc = NULL;
	}
	mutex_unlock(&ksalloc_all_lock);
	if (alloc)
		ksalloc_free_pool(alloc);
}

static void ksalloc_release(struct kref *ref)
{
	struct ksalloc *alloc = container_of(ref, struct ksalloc, ref);

	queue_work(ksalloc_wq, &alloc->release);
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
EXPORT_SYMBOL_NS_GPL(ksalloc_get, "KSALLOC");

/**
 * ksalloc_put() - drop a reference on an allocator
 * @alloc: the allocator, or NULL
 *
 * The allocator is released when the last reference goes, which is never
 * before it was closed and every frame came back.  The release runs later
 * from a work item, so this never sleeps.
 *
 * Context: Any context; never sleeps.
 */
void ksalloc_put(struct ksalloc *alloc)
{
	if (alloc)
		kref_put(&alloc->ref, ksalloc_release);
}
EXPORT_SYMBOL_NS_GPL(ksalloc_put, "KSALLOC");

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
static bool ksalloc_may_lock(void)
{
	return likely(!irqs_disabled() && !in_hardirq() &&
		      (!IS_ENABLED(CONFIG_PREEMPT_RT) || preemptible()));
}

static bool ksalloc_context_ok(void)
{
	if (ksalloc_may_lock())
		return true;
	pr_warn_once("called with interrupts or (on PREEMPT_RT) preemption disabled; refused\n");
	return false;
}

/* Recomputes &ksalloc.bypass after closed, the waiters or poll_armed changed. */
static void ksalloc_update_bypass_locked(struct ksalloc *alloc)
{
	lockdep_assert_held(&alloc->lock);
	WRITE_ONCE(alloc->bypass, alloc->closed || alloc->poll_armed ||
		   !list_empty(&alloc->waiters));
}

/* Frames out now, for peak_allocated and the status. */
static u32 ksalloc_out_locked(struct ksalloc *alloc)
{
	u32 free = alloc->nr_free + ksalloc_cache_frames(alloc->cache);

	lockdep_assert_held(&alloc->lock);
	return free < alloc->frames ? alloc->frames - free : 0;
}

static void ksalloc_sample_peak_locked(struct ksalloc *alloc)
{
	u32 out = ksalloc_out_locked(alloc);

	if (out > alloc->stats.peak_allocated)
		alloc->stats.peak_allocated = out;
}

static void ksalloc_recheck_rcu(struct rcu_head *head);

/*
 * Something just set &ksalloc.bypass (or needs a frame freed into a cache
 * found): once every fast path that may have missed that is over, that is
 * after an RCU grace period, ksalloc_recheck_rcu() sweeps the caches.  One
 * callback at a time, holding a reference; a request while it is queued
 * makes it run once more.  Never waits.
 */
static void ksalloc_request_recheck_locked(struct ksalloc *alloc)
{
	lockdep_assert_held(&alloc->lock);
	if (alloc->recheck_pending) {
		alloc->recheck_again = true;
		return;
	}
	alloc->recheck_pending = true;
	kref_get(&alloc->ref);
	atomic_inc(&ksalloc_rechecks);
	call_rcu_hurry(&alloc->recheck, ksalloc_recheck_rcu);
}

/*
 * The pollers saw, or might have seen, no free frame: the next free wakes
 * them.  Turns the caches off until then.
 */
static void ksalloc_arm_poll_locked(struct ksalloc *alloc)
{
	lockdep_assert_held(&alloc->lock);
	if (alloc->poll_armed || alloc->closed)
		return;
	alloc->poll_armed = true;
	ksalloc_update_bypass_locked(alloc);
	ksalloc_request_recheck_locked(alloc);
}

/*
 * Gives a free frame (state FREE, in no cache) to the oldest waiter, else
 * puts it on the shared stack and wakes armed pollers.  Returns true when
 * that made a closed allocator idle: the caller then drops the handle's
 * reference, once it no longer touches the allocator.
 */
static bool ksalloc_give_locked(struct ksalloc *alloc, u32 index)
{
	struct ksalloc_waiter *w;

	lockdep_assert_held(&alloc->lock);
	w = list_first_entry_or_null(&alloc->waiters, struct ksalloc_waiter, node);
	if (w) {
		/* Direct hand-off: the frame never becomes free. */
		WRITE_ONCE(*ksalloc_state(alloc, index), w->kind);
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

	alloc->free_stack[alloc->nr_free++] = index;
	if (alloc->poll_armed) {
		/*
		 * Under the lock: the caller need not hold a reference, only
		 * the frame, so once the lock is dropped a free of the last
		 * frame of a closed allocator elsewhere may release it.
		 */
		alloc->poll_armed = false;
		ksalloc_update_bypass_locked(alloc);
		wake_up_poll(&alloc->freeframe_wq, EPOLLOUT | EPOLLWRNORM);
	}
	if (alloc->closed && !alloc->handle_put && alloc->nr_free == alloc->frames) {
		alloc->handle_put = true;
		return true;
	}
	return false;
}

/*
 * Takes every frame out of the cache of @cpu (any CPU, online or not)
 * and gives each to the waiters or the stack.  Returns true when that made
 * a closed allocator idle.
 */
static bool ksalloc_sweep_cpu_locked(struct ksalloc *alloc, int cpu)
{
	struct ksalloc_cache *c = per_cpu_ptr(alloc->cache, cpu);
	u32 idx[KSALLOC_CACHE_SIZE], n, i, t;
	unsigned long flags;
	bool idle = false;

	lockdep_assert_held(&alloc->lock);
	if (!ksalloc_cache_count(c))
		return false;
	local_irq_save(flags);
	n = ksalloc_cache_take(c, idx, KSALLOC_CACHE_SIZE, &t);
	local_irq_restore(flags);
	for (i = 0; i < n; i++)
		idle |= ksalloc_give_locked(alloc, idx[i]);
	return idle;
}

/* ksalloc_sweep_cpu_locked() for every possible CPU. */
static bool ksalloc_sweep_locked(struct ksalloc *alloc)
{
	bool idle = false;
	int cpu;

	for_each_possible_cpu(cpu)
		idle |= ksalloc_sweep_cpu_locked(alloc, cpu);
	return idle;
}

/*
 * A grace period after &ksalloc.bypass was set: every fast path that read
 * it clear is over, so whatever they put in a cache is there now, and no
 * new one puts anything while bypass stays set.  Sweeps the caches into
 * the waiters and the stack, and wakes armed pollers if a frame is free.
 * Softirq context (or an rcuc thread).
 */
static void ksalloc_recheck_rcu(struct rcu_head *head)
{
	struct ksalloc *alloc = container_of(head, struct ksalloc, recheck);
	bool again, idle = false;

	spin_lock_bh(&alloc->lock);
	again = alloc->recheck_again;
	alloc->recheck_again = false;
	alloc->recheck_pending = again;
	if (alloc->bypass)
		idle = ksalloc_sweep_locked(alloc);
	if (alloc->poll_armed && alloc->nr_free) {
		alloc->poll_armed = false;
		ksalloc_update_bypass_locked(alloc);
		wake_up_poll(&alloc->freeframe_wq, EPOLLOUT | EPOLLWRNORM);
	}
	spin_unlock_bh(&alloc->lock);

	if (idle)
		ksalloc_put(alloc);
	if (again) {
		call_rcu_hurry(&alloc->recheck, ksalloc_recheck_rcu);
		return;
	}
	ksalloc_put(alloc);
	atomic_dec(&ksalloc_rechecks);
}

/*
 * An allocation took what may have been the last free frame while someone
 * polls: if no frame is free now, arm the pollers' wake-up.
 */
static void ksalloc_note_empty_locked(struct ksalloc *alloc)
{
	lockdep_assert_held(&alloc->lock);
	/*
	 * A poller queues itself before it takes the lock to look
	 * (ksalloc_poll_ready()), so under the lock the peek is exact.
	 */
	if (waitqueue_active(&alloc->freeframe_wq) && !alloc->nr_free &&
	    !ksalloc_cache_frames(alloc->cache))
		ksalloc_arm_poll_locked(alloc);
}

static noinline void ksalloc_note_empty(struct ksalloc *alloc)
{
	spin_lock_bh(&alloc->lock);
	ksalloc_note_empty_locked(alloc);
	spin_unlock_bh(&alloc->lock);
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
	return n;
}

/*
 * Tops this CPU's cache up from the shared stack, by a batch at most.  Under
 * the lock, so on this CPU (BH is off, or on PREEMPT_RT migration is).
 */
static void ksalloc_cache_refill_locked(struct ksalloc *alloc)
{
	struct ksalloc_cache *c;
	unsigned long flags;
	u32 n, tail;

	lockdep_assert_held(&alloc->lock);
	local_irq_save(flags);
	c = this_cpu_ptr(alloc->cache);
	n = min3(KSALLOC_CACHE_BATCH, alloc->nr_free,
		 KSALLOC_CACHE_SIZE - ksalloc_cache_count(c));
	/* The top of the stack first: it is taken first. */
	for (tail = c->tail; n--; tail++)
		ksalloc_cache_push(c, tail, alloc->free_stack[--alloc->nr_free]);
	local_irq_restore(flags);
}

/*
 * Makes room in this CPU's cache when it is full: its oldest batch goes to
 * the shared stack, within this one hold of the lock (see cache.c: frames
 * move between a cache and the stack only under the lock).
 */
static void ksalloc_cache_flush_locked(struct ksalloc *alloc)
{
	u32 idx[KSALLOC_CACHE_BATCH], n = 0, i, t;
	struct ksalloc_cache *c;
	unsigned long flags;

	lockdep_assert_held(&alloc->lock);
	local_irq_save(flags);
	c = this_cpu_ptr(alloc->cache);
	if (!ksalloc_cache_room(c, &t))
		n = ksalloc_cache_take(c, idx, KSALLOC_CACHE_BATCH, &t);
	local_irq_restore(flags);

	/* Not closed (no bypass), so this cannot make the allocator idle. */
	for (i = 0; i < n; i++)
		ksalloc_give_locked(alloc, idx[i]);
}

/*
 * The slow path of every allocation: takes up to @count frames for a
 * holder of @kind from the shared stack and, once that is empty, from any
 * CPU's cache.  Under the lock throughout, so that "none" is exact (see
 * cache.c).  While waiters are queued, every free frame is theirs.  With
 * %KSALLOC_TAKE_REFILL (and @count 1), tops this CPU's cache up from what
 * it finds; with %KSALLOC_TAKE_WAITS, a miss is not an allocation failure.
 * Frames taken are in state KERNEL until the end, so that a user FREE of a
 * frame of a batch not yet reported is refused.
 *
 * Returns the number of frames taken, -ENOMEM when none is free, -ENODEV
 * once closed, -EPERM with interrupts off.
 */
static noinline int ksalloc_take(struct ksalloc *alloc, u32 *idx, u32 count,
				 u8 kind, unsigned int flags)
{
	u32 buf[KSALLOC_CACHE_BATCH], got = 0, n, k, i, seen;
	bool refill = flags & KSALLOC_TAKE_REFILL, idle = false;
	unsigned long irq;
	int ret;

	if (!ksalloc_context_ok())
		return -EPERM;
	spin_lock_bh(&alloc->lock);
	if (alloc->closed) {
		ret = -ENODEV;
		goto out_unlock;
	}
	if (alloc->bypass)
		idle = ksalloc_sweep_locked(alloc);

	while (list_empty(&alloc->waiters)) {
		got += ksalloc_pop_locked(alloc, idx + got, count - got,
					  KSALLOC_FRAME_KERNEL);
		if (got == count)
			break;
		if (!refill) {
			n = ksalloc_cache_steal(alloc->cache, idx + got,
						count - got, &seen);
			for (i = 0; i < n; i++)
				WRITE_ONCE(*ksalloc_state(alloc, idx[got + i]),
					   KSALLOC_FRAME_KERNEL);
			got += n;
			if (n)
				continue;
		} else {
			n = ksalloc_cache_steal(alloc->cache, buf,
						KSALLOC_CACHE_BATCH, &seen);
			if (n) {
				idx[got++] = buf[0];
				WRITE_ONCE(*ksalloc_state(alloc, buf[0]),
					   KSALLOC_FRAME_KERNEL);
				/* The rest moves to this CPU, under the lock. */
				k = 0;
				if (!alloc->bypass) {
					local_irq_save(irq);
					k = ksalloc_cache_fill(this_cpu_ptr(alloc->cache),
							       buf + 1, n - 1);
					local_irq_restore(irq);
				}
				for (i = 1 + k; i < n; i++)
					ksalloc_give_locked(alloc, buf[i]);
				break;
			}
		}
		/* Nothing put anywhere since each cache was seen empty. */
		if (got || seen == ksalloc_cache_tails(alloc->cache))
			break;
	}

	if (refill && got && !alloc->bypass)
		ksalloc_cache_refill_locked(alloc);
	for (i = 0; kind != KSALLOC_FRAME_KERNEL && i < got; i++)
		WRITE_ONCE(*ksalloc_state(alloc, idx[i]), kind);
	alloc->stats.allocs += got;
	ret = got;
	if (!got) {
		if (!(flags & KSALLOC_TAKE_WAITS))
			alloc->stats.alloc_failures++;
		ret = -ENOMEM;
	}
	ksalloc_note_empty_locked(alloc);
	ksalloc_sample_peak_locked(alloc);
out_unlock:
	spin_unlock_bh(&alloc->lock);
	if (idle)
		ksalloc_put(alloc);
	return ret;
}

/*
 * The fast path of every allocation: one frame for a holder of @kind from
 * this CPU's cache, with interrupts off and the one cmpxchg of the take.
 * Returns 0 when the cache is empty or bypassed, or interrupts were off:
 * the slow path then decides.  Else 1 + the frames left in the cache; 1
 * means the caller must call ksalloc_took_last().
 */
static __always_inline u32 ksalloc_fast_take(struct ksalloc *alloc, u8 kind,
					     u32 *index)
{
	struct ksalloc_cache *c;
	unsigned long flags;
	u32 left = 0;

	if (IS_ENABLED(CONFIG_PREEMPT_RT) && unlikely(!preemptible()))
		return 0;
	local_irq_save(flags);
	if (likely(!irqs_disabled_flags(flags) && !READ_ONCE(alloc->bypass))) {
		c = this_cpu_ptr(alloc->cache);
		left = ksalloc_cache_pop(c, index);
		if (likely(left)) {
			WRITE_ONCE(*ksalloc_state(alloc, *index), kind);
			__this_cpu_inc(alloc->cache->allocs);
		}
	}
	local_irq_restore(flags);
	return left;
}

/*
 * A fast take emptied this CPU's cache: if someone polls, find out whether
 * that was the last free frame of all.  The cmpxchg of the take orders it
 * before the peek at the queue (see ksalloc_poll_ready()).
 */
static void ksalloc_took_last(struct ksalloc *alloc)
{
	/* Ordered after the take by its cmpxchg, as said above. */
	if (waitqueue_active(&alloc->freeframe_wq))
		ksalloc_note_empty(alloc);
}

/*
 * The rest of a single allocation whose fast take returned @left of 1 (it
 * emptied this CPU's cache and took @index) or 0 (a miss: the slow path,
 * with @flags for ksalloc_take()).  Returns 0 or what ksalloc_take() says.
 */
static int ksalloc_take_rest(struct ksalloc *alloc, u32 *index, u8 kind,
			     unsigned int flags, u32 left)
{
	int ret;

	if (left) {
		ksalloc_took_last(alloc);
		return 0;
	}
	ret = ksalloc_take(alloc, index, 1, kind, KSALLOC_TAKE_REFILL | flags);
	return ret < 0 ? ret : 0;
}

/*
 * The fast path of every free: gives a frame held in state @kind back to
 * this CPU's cache, with interrupts off.  A frame kernel code holds is
 * only ever freed by its holder, so its state changes with a plain store;
 * a frame user space holds may be freed by two threads at once, so it is
 * claimed with a cmpxchg.  False when the cache is full or bypassed, the
 * frame is not in state @kind, or interrupts were off.
 */
static __always_inline bool ksalloc_fast_give(struct ksalloc *alloc, u32 index,
					      u8 kind)
{
	u8 *st = ksalloc_state(alloc, index), old = kind;
	struct ksalloc_cache *c;
	unsigned long flags;
	bool hit = false;
	u32 tail;

	if (IS_ENABLED(CONFIG_PREEMPT_RT) && unlikely(!preemptible()))
		return false;
	local_irq_save(flags);
	c = this_cpu_ptr(alloc->cache);
	if (likely(!irqs_disabled_flags(flags) && !READ_ONCE(alloc->bypass) &&
		   ksalloc_cache_room(c, &tail))) {
		if (kind == KSALLOC_FRAME_KERNEL) {
			hit = READ_ONCE(*st) == KSALLOC_FRAME_KERNEL;
			if (hit)
				WRITE_ONCE(*st, KSALLOC_FRAME_FREE);
		} else {
			hit = try_cmpxchg(st, &old, KSALLOC_FRAME_FREE);
		}
		if (likely(hit)) {
			/* The state is FREE before the frame can be taken. */
			ksalloc_cache_push(c, tail, index);
			__this_cpu_inc(alloc->cache->frees);
		}
	}
	local_irq_restore(flags);
	return hit;
}

/*
 * Frees @n frames held in state @kind, by index, in order, under one lock:
 * each is handed to the oldest waiter if there is one, else put on the
 * shared stack.  Stops at the first index that is not a frame in state
 * @kind.  With @flush, also makes room in this CPU's cache if it is full.
 * Takes the lock.  Returns how many were freed.
 */
static u32 ksalloc_give_many(struct ksalloc *alloc, const u32 *indices, u32 n,
			     u8 kind, bool flush)
{
	bool idle = false;
	u32 done;

	spin_lock_bh(&alloc->lock);
	for (done = 0; done < n; done++) {
		u32 index = indices[done];
		u8 old = kind;

		if (index >= alloc->frames ||
		    !try_cmpxchg(ksalloc_state(alloc, index), &old, KSALLOC_FRAME_FREE))
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

/* The slow path of every single free: see ksalloc_give_many(). */
static noinline int ksalloc_give_slow(struct ksalloc *alloc, u32 index, u8 kind)
{
	if (!ksalloc_context_ok())
		return -EPERM;
	return ksalloc_give_many(alloc, &index, 1, kind, true) ? 0 : -EINVAL;
}

/**
 * ksalloc_alloc_index() - take a free frame by index without sleeping
 * @alloc: the allocator
 * @index: where to store the frame's index
 *
 * As the table's allocate_frame, for a frame kernel code will hold.
 *
 * Context: Process or softirq context, interrupts enabled; never sleeps.
 * Return: 0, -ENOMEM when no frame is free, -ENODEV once closed, -EPERM
 * with interrupts disabled.
 */
int ksalloc_alloc_index(struct ksalloc *alloc, u32 *index)
{
	u32 left = ksalloc_fast_take(alloc, KSALLOC_FRAME_KERNEL, index);

	if (left > 1)
		return 0;
	return ksalloc_take_rest(alloc, index, KSALLOC_FRAME_KERNEL, 0, left);
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_alloc_index);

/**
 * ksalloc_alloc_many() - take free frames for kernel code without sleeping
 * @alloc: the allocator
 * @indices: where to store the frames' indices
 * @count: how many frames are wanted, at least 1
 *
 * Takes as many free frames as there are, up to @count, from the shared
 * stack and the caches.  They stay the caller's (state KERNEL) until
 * ksalloc_hand_to_user(): ALLOC_BATCH takes them in chunks, and user space
 * must not be able to free a frame of the first chunk before the batch is
 * reported, and get it again in the second.
 *
 * Context: Process or softirq context, interrupts enabled; never sleeps.
 * Holds the allocator's lock while it takes up to @count frames: callers
 * ask for a bounded number at a time.
 * Return: the number of frames taken, or -ENOMEM when none is free,
 * -ENODEV once closed, -EPERM with interrupts disabled.
 */
int ksalloc_alloc_many(struct ksalloc *alloc, u32 *indices, u32 count)
{
	return ksalloc_take(alloc, indices, count, KSALLOC_FRAME_KERNEL, 0);
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_alloc_many);

/**
 * ksalloc_hand_to_user() - hand frames the caller holds to user space
 * @alloc: the allocator
 * @indices: frames taken with ksalloc_alloc_many()
 * @n: how many
 *
 * Context: Process context, with the allocator open (an ioctl of its
 * descriptor); never sleeps.
 */
void ksalloc_hand_to_user(struct ksalloc *alloc, const u32 *indices, u32 n)
{
	u32 i;

	/*
	 * The frames are the caller's, so nobody else changes their state,
	 * and the allocator is not closed: its descriptor is in an ioctl.
	 */
	for (i = 0; i < n; i++)
		WRITE_ONCE(*ksalloc_state(alloc, indices[i]), KSALLOC_FRAME_USER);
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_hand_to_user);

/**
 * ksalloc_free_index() - give a frame kernel code holds back, by index
 * @alloc: the allocator
 * @index: the frame
 *
 * As the table's free_frame.
 *
 * Context: Process or softirq context, interrupts enabled; never sleeps.
 * Return: 0, -EINVAL when @index is out of range or not held by kernel
 * code, in which case nothing changed; -EPERM with interrupts disabled.
 */
int ksalloc_free_index(struct ksalloc *alloc, u32 index)
{
	if (index < alloc->frames &&
	    ksalloc_fast_give(alloc, index, KSALLOC_FRAME_KERNEL))
		return 0;
	return ksalloc_give_slow(alloc, index, KSALLOC_FRAME_KERNEL);
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_free_index);

/**
 * ksalloc_free_user() - give a frame user space holds back, by index
 * @alloc: the allocator
 * @index: the frame
 *
 * For KSALLOC_IOC_FREE: only a frame in user space's hands (taken through
 * the device, or handed over with ksalloc_frame_to_user()) is accepted.
 *
 * Context: Process or softirq context, interrupts enabled; never sleeps.
 * Return: 0, or -EINVAL when @index is out of range or not held by user
 * space, in which case nothing changed.
 */
int ksalloc_free_user(struct ksalloc *alloc, u32 index)
{
	if (index < alloc->frames &&
	    ksalloc_fast_give(alloc, index, KSALLOC_FRAME_USER))
		return 0;
	return ksalloc_give_slow(alloc, index, KSALLOC_FRAME_USER);
}

/**
 * ksalloc_free_user_many() - give frames user space holds back, one lock
 * @alloc: the allocator
 * @indices: the frames, freed in this order
 * @n: how many
 *
 * For FREE_BATCH: as ksalloc_free_user() for each, but the lock is taken
 * once, and the frames go to the waiters and the shared stack, not to a
 * cache.
 *
 * Context: Process or softirq context, interrupts enabled; never sleeps.
 * Return: the number of frames freed; fewer than @n when
 * @indices[return value] is out of range or not held by user space.
 */
u32 ksalloc_free_user_many(struct ksalloc *alloc, const u32 *indices, u32 n)
{
	return ksalloc_give_many(alloc, indices, n, KSALLOC_FRAME_USER, false);
}

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
 * @user: the frame is for user space (freed by ksalloc_free_user())
 * @index: where to store the frame's index
 *
 * Waiters are served first in, first out, by direct hand-off from the
 * frees.  The first waiter turns the caches off; what they still hold is
 * swept to the waiters now and once more after an RCU grace period, when
 * no free can still be putting a frame in a cache (nothing waits for that
 * grace period).  A waiter that times out or is signalled after it was
 * served keeps the frame and succeeds.
 *
 * Context: Process context; may sleep.
 * Return: 0, -EAGAIN when @timeout is 0 and no frame is free, -ETIMEDOUT,
 * -EINTR on a signal (never a restart: the wait would start again with its
 * whole timeout, at the back of the queue), -ENODEV when the allocator is
 * or gets closed.
 */
int ksalloc_wait_index(struct ksalloc *alloc, long timeout, unsigned int state,
		       bool user, u32 *index)
{
	u8 kind = user ? KSALLOC_FRAME_USER : KSALLOC_FRAME_KERNEL;
	struct ksalloc_waiter w;
	bool idle = false;
	long left;
	int ret;
	u32 got;

	might_sleep();
	got = ksalloc_fast_take(alloc, kind, index);
	if (got > 1)
		return 0;
	ret = ksalloc_take_rest(alloc, index, kind,
				timeout ? KSALLOC_TAKE_WAITS : 0, got);
	if (ret != -ENOMEM)
		return ret;
	if (!timeout)
		return -EAGAIN;

	spin_lock_bh(&alloc->lock);
	if (alloc->closed || ksalloc_pop_locked(alloc, index, 1, kind)) {
		ret = alloc->closed ? -ENODEV : 0;
		if (!ret) {
			alloc->stats.allocs++;
			ksalloc_note_empty_locked(alloc);
		}
		spin_unlock_bh(&alloc->lock);
		return ret;
	}
	init_completion(&w.done);
	w.status = -EINPROGRESS;
	w.kind = kind;
	list_add_tail(&w.node, &alloc->waiters);
	alloc->stats.waits++;
	alloc->stats.waiters++;
	ksalloc_update_bypass_locked(alloc);
	/* Frames cached before bypass was seen come to the waiters. */
	idle = ksalloc_sweep_locked(alloc);
	ksalloc_request_recheck_locked(alloc);
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
			ksalloc_update_bypass_locked(alloc);
			spin_unlock_bh(&alloc->lock);
			ret = left ? -EINTR : -ETIMEDOUT;
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
 * Context: Process or softirq context, interrupts enabled; never sleeps.
 * Takes the allocator's lock; sends no IPI.  Must be called once.  A call
 * with interrupts disabled (on PREEMPT_RT: preemption disabled) is
 * deferred to a work item, with a one-time warning: the handle is then
 * closed a little later.
 */
void ksalloc_close(struct ksalloc *alloc)
{
	bool idle;
	u32 i;

	if (!ksalloc_may_lock()) {
		pr_warn_once("%s() with interrupts disabled: deferred to a work item\n",
			     __func__);
		queue_work(ksalloc_wq, &alloc->close_work);
		return;
	}
	/*
	 * Our own reference: while the lock is dropped below, the last frame
	 * may come back and another holder put the last reference.
	 */
	kref_get(&alloc->ref);
	spin_lock_bh(&alloc->lock);
	if (WARN_ON_ONCE(alloc->closed)) {
		spin_unlock_bh(&alloc->lock);
		ksalloc_put(alloc);
		return;
	}
	alloc->closed = true;
	alloc->dispatch = false;
	ksalloc_wake_all_locked(alloc);
	ksalloc_update_bypass_locked(alloc);
	/* From here on every free goes through the lock. */
	idle = ksalloc_sweep_locked(alloc);
	for (i = 0; i < alloc->frames; i++) {
		u8 old = KSALLOC_FRAME_USER;

		if (READ_ONCE(*ksalloc_state(alloc, i)) == KSALLOC_FRAME_USER &&
		    try_cmpxchg(ksalloc_state(alloc, i), &old, KSALLOC_FRAME_FREE)) {
			alloc->stats.frees++;
			idle |= ksalloc_give_locked(alloc, i);
		}
		/*
		 * Let others in now and then: no frame becomes user space's
		 * once closed, so what is left to look at stays as it is.
		 */
		if ((i & 1023) == 1023) {
			spin_unlock_bh(&alloc->lock);
			spin_lock_bh(&alloc->lock);
		}
	}
	if (!alloc->handle_put && alloc->nr_free == alloc->frames) {
		alloc->handle_put = true;
		idle = true;
	}
	/*
	 * A free that missed bypass may still put a frame in a cache; but
	 * with every frame on the stack, no free can be under way.
	 */
	if (!alloc->handle_put)
		ksalloc_request_recheck_locked(alloc);
	spin_unlock_bh(&alloc->lock);

	if (idle)
		ksalloc_put(alloc);
	ksalloc_put(alloc);
}
EXPORT_SYMBOL_NS_GPL(ksalloc_close, "KSALLOC");

static void ksalloc_close_work(struct work_struct *work)
{
	ksalloc_close(container_of(work, struct ksalloc, close_work));
}

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
EXPORT_SYMBOL_NS_GPL(ksalloc_frame_ptr, "KSALLOC");

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
EXPORT_SYMBOL_NS_GPL(ksalloc_frame_index, "KSALLOC");

/* Byte offset of frame @index in the pool, and so in mmap() of it. */
u64 ksalloc_frame_offset(struct ksalloc *alloc, u32 index)
{
	return (u64)index * alloc->stride;
}

/*
 * The rest of allocate_frame, a tail call away from the fast path: a take
 * that emptied this CPU's cache (@left 1, @index taken), or a miss (@left
 * 0), for ksalloc_take().
 */
static noinline int ksalloc_allocate_slow(struct ksalloc *alloc, void **frame,
					  u32 index, u32 left)
{
	int ret = ksalloc_take_rest(alloc, &index, KSALLOC_FRAME_KERNEL, 0, left);

	*frame = ret ? NULL : alloc->pool + (size_t)index * alloc->stride;
	return ret;
}

/**
 * ksalloc_allocate_frame() - take a free frame without sleeping
 * @alloc: the allocator
 * @frame: where to store the frame's address; NULL on failure
 *
 * The allocate_frame entry of the function table (KStrAllocateFrame).
 * Served from this CPU's cache when it holds a frame, with interrupts off
 * and one cmpxchg; else from the shared stack or another CPU's cache,
 * under the allocator's lock.  Never waits, for a frame or for another
 * CPU: when no frame is free anywhere it fails at once.
 *
 * Context: Process or softirq context (timers, tasklets, NAPI, BH
 * disabled), interrupts enabled; never sleeps, sends no IPI.  A caller
 * with interrupts disabled (hardirq, netpoll), or on PREEMPT_RT with
 * preemption disabled, is refused with a one-time warning.
 * Return: 0; -ENOMEM when no frame is free in the shared stack or in any
 * CPU's cache; -ENODEV once closed; -EPERM with interrupts disabled.
 */
int ksalloc_allocate_frame(struct ksalloc *alloc, void **frame)
{
	u32 index = 0, left = ksalloc_fast_take(alloc, KSALLOC_FRAME_KERNEL, &index);

	if (likely(left > 1)) {
		*frame = alloc->pool + (size_t)index * alloc->stride;
		return 0;
	}
	return ksalloc_allocate_slow(alloc, frame, index, left);
}
EXPORT_SYMBOL_NS_GPL(ksalloc_allocate_frame, "KSALLOC");

/* The rest of free_frame, a tail call away from the fast path. */
static noinline void ksalloc_free_frame_slow(struct ksalloc *alloc, void *frame,
					     u32 index)
{
	if (index == KSALLOC_NO_FRAME) {
		pr_warn_ratelimited("free of %p: not a frame of this allocator\n",
				    frame);
		return;
	}
	if (ksalloc_give_slow(alloc, index, KSALLOC_FRAME_KERNEL) == -EINVAL)
		pr_warn_ratelimited("free of frame %u: not held by kernel code (double free?)\n",
				    index);
}

/**
 * ksalloc_free_frame() - give a frame back
 * @alloc: the allocator
 * @frame: the frame's address, as returned by an allocation
 *
 * The free_frame entry of the function table (KStrFreeFrame).  The frame
 * goes to this CPU's cache, with interrupts off and no atomic instruction,
 * unless tasks wait: then it goes straight to the oldest of them.  Accepted
 * after ksalloc_close() too; the last free of a closed allocator may drop
 * the last reference, whose release is deferred to a work item.  A
 * pointer that is not a frame kernel code holds (a double free, a frame
 * handed to user space, a foreign pointer) is refused with a rate-limited
 * warning and changes nothing.  Only the holder may free a frame: two
 * kernel callers freeing one frame at the same moment is a bug that is
 * not caught.
 *
 * Context: Process or softirq context, also under the caller's spinlock_t,
 * interrupts enabled; never sleeps, sends no IPI.  A caller with
 * interrupts disabled (on PREEMPT_RT also with preemption disabled, as
 * under a raw spinlock) is refused with a one-time warning, and keeps the
 * frame.
 */
void ksalloc_free_frame(struct ksalloc *alloc, void *frame)
{
	u32 index = __ksalloc_frame_index(alloc, frame);

	if (likely(index != KSALLOC_NO_FRAME &&
		   ksalloc_fast_give(alloc, index, KSALLOC_FRAME_KERNEL)))
		return;
	ksalloc_free_frame_slow(alloc, frame, index);
}
EXPORT_SYMBOL_NS_GPL(ksalloc_free_frame, "KSALLOC");

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
 * -ETIMEDOUT, -EINTR on a fatal signal, -ENODEV when the allocator is or
 * gets closed.
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
EXPORT_SYMBOL_NS_GPL(ksalloc_alloc_frame_wait, "KSALLOC");

/**
 * ksalloc_frame_to_user() - hand a frame over to user space
 * @alloc: the allocator
 * @frame: a frame the caller (kernel code) holds
 *
 * For a driver that fills a frame and passes its index to user space, which
 * frees it through /dev/ksalloc.  From now on the frame is user space's: if
 * the allocator's handle is closed before user space freed it, the close
 * takes it back.  The caller must not free it any more.
 *
 * Context: Process or softirq context, interrupts enabled; never sleeps.
 * Return: 0; -EINVAL when @frame is not a frame that kernel code holds (a
 * free frame, or one user space holds already); -ENODEV once closed (the
 * frame then stays the caller's to free); -EPERM with interrupts disabled.
 */
int ksalloc_frame_to_user(struct ksalloc *alloc, void *frame)
{
	u32 index = ksalloc_frame_index(alloc, frame);
	int ret = 0;

	if (index == KSALLOC_NO_FRAME)
		return -EINVAL;
	if (!ksalloc_context_ok())
		return -EPERM;
	spin_lock_bh(&alloc->lock);
	if (READ_ONCE(*ksalloc_state(alloc, index)) != KSALLOC_FRAME_KERNEL)
		ret = -EINVAL;
	else if (alloc->closed)
		ret = -ENODEV;
	else
		WRITE_ONCE(*ksalloc_state(alloc, index), KSALLOC_FRAME_USER);
	spin_unlock_bh(&alloc->lock);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(ksalloc_frame_to_user, "KSALLOC");

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
 * Context: Process or softirq context, interrupts enabled; never sleeps.
 * Return: 0, -EOPNOTSUPP for a %KSALLOC_POOL_PAGED pool, -ENODEV once
 * closed, -EPERM with interrupts disabled.
 */
int ksalloc_get_function_table(struct ksalloc *alloc,
			       struct ksalloc_function_table *table)
{
	int ret = 0;

	if (alloc->framing.pool_type != KSALLOC_POOL_NONPAGED)
		return -EOPNOTSUPP;
	if (!ksalloc_context_ok())
		return -EPERM;

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
EXPORT_SYMBOL_NS_GPL(ksalloc_get_function_table, "KSALLOC");

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
 * Context: Process or softirq context, interrupts enabled; never sleeps.
 * Return: 0, or -EPERM with interrupts disabled (the framing is filled in).
 */
int ksalloc_get_status(struct ksalloc *alloc, struct ksalloc_status *status)
{
	memset(status, 0, sizeof(*status));
	status->framing = alloc->framing;
	if (!ksalloc_context_ok())
		return -EPERM;
	spin_lock_bh(&alloc->lock);
	status->allocated_frames = ksalloc_out_locked(alloc);
	spin_unlock_bh(&alloc->lock);
	return 0;
}
EXPORT_SYMBOL_NS_GPL(ksalloc_get_status, "KSALLOC");

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
 * Context: Process or softirq context, interrupts enabled; never sleeps.
 * Return: 0, or -EPERM with interrupts disabled (@stats zeroed).
 */
int ksalloc_get_stats(struct ksalloc *alloc, struct ksalloc_stats *stats)
{
	int cpu;

	memset(stats, 0, sizeof(*stats));
	if (!ksalloc_context_ok())
		return -EPERM;
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
EXPORT_SYMBOL_NS_GPL(ksalloc_get_stats, "KSALLOC");

/* The queue that pollers of @alloc sleep on. */
wait_queue_head_t *ksalloc_poll_queue(struct ksalloc *alloc)
{
	return &alloc->freeframe_wq;
}

/**
 * ksalloc_poll_ready() - whether a frame is free, for poll()
 * @alloc: the allocator
 *
 * Called after the poller is on ksalloc_poll_queue().  When no frame is
 * free, arms the pollers' wake-up: the next free wakes them (SPEC 7.4).
 *
 * Context: Process context; never sleeps.
 * Return: true while at least one frame is free (on the stack or in a cache).
 */
bool ksalloc_poll_ready(struct ksalloc *alloc)
{
	bool ready, idle = false;

	/*
	 * Pairs with the cmpxchg of the take in ksalloc_fast_take(): either
	 * it sees this poller queued, or this sees its cache empty.
	 */
	smp_mb();
	spin_lock_bh(&alloc->lock);
	if (alloc->bypass)
		idle = ksalloc_sweep_locked(alloc);
	ready = alloc->nr_free ||
		(list_empty(&alloc->waiters) && ksalloc_cache_frames(alloc->cache));
	if (!ready)
		ksalloc_arm_poll_locked(alloc);
	spin_unlock_bh(&alloc->lock);
	if (idle)
		ksalloc_put(alloc);
	return ready;
}

/* The pages of the pool, for mmap(): page i maps pool byte i * PAGE_SIZE. */
struct page **ksalloc_pool_pages(struct ksalloc *alloc, unsigned int *nr)
{
	*nr = alloc->nr_pages;
	return alloc->pages;
}

/*
 * A CPU is gone: its caches go back to their allocators, in one pass over
 * them.  Runs on another CPU once the dead one no longer runs anything.
 * (The frames in a dead CPU's cache were free all along: any allocation
 * may take them.  This only stops them from lingering there.)
 */
static int ksalloc_cpu_dead(unsigned int cpu)
{
	struct ksalloc *alloc;
	bool idle;

	mutex_lock(&ksalloc_all_lock);
	list_for_each_entry(alloc, &ksalloc_all, node) {
		ksalloc_hotplug_steps++;
		if (!ksalloc_cache_count(per_cpu_ptr(alloc->cache, cpu)))
			continue;
		spin_lock_bh(&alloc->lock);
		idle = ksalloc_sweep_cpu_locked(alloc, cpu);
		spin_unlock_bh(&alloc->lock);
		/* Only queues the release: the list stays as it is. */
		if (idle)
			ksalloc_put(alloc);
		cond_resched();
	}
	mutex_unlock(&ksalloc_all_lock);
	return 0;
}

/* Called by the module's init: the work queue and the hotplug callback. */
int ksalloc_core_init(void)
{
	int ret;

	ksalloc_wq = alloc_workqueue("ksalloc", WQ_MEM_RECLAIM, 0);
	if (!ksalloc_wq)
		return -ENOMEM;
	ret = cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "misc/ksalloc:dead",
					NULL, ksalloc_cpu_dead);
	if (ret < 0) {
		destroy_workqueue(ksalloc_wq);
		return ret;
	}
	ksalloc_hp_state = ret;
	return 0;
}

/*
 * Waits for the rechecks queued so far (with @rcu, also those they queue
 * again) and for the releases they and others queued.
 */
static void ksalloc_flush(bool rcu)
{
	do {
		if (rcu)
			rcu_barrier();
		flush_workqueue(ksalloc_wq);
	} while (rcu && atomic_read(&ksalloc_rechecks));
}

/*
 * Called by the module's exit, when no allocator is referenced any more:
 * waits for the last rechecks and releases.  Pools whose pages someone
 * else still holds are left to those holders: the pages are theirs now.
 */
void ksalloc_core_exit(void)
{
	struct ksalloc *alloc, *tmp;

	cpuhp_remove_state_nocalls(ksalloc_hp_state);
	ksalloc_flush(true);
	cancel_delayed_work_sync(&ksalloc_reap_work);
	list_for_each_entry_safe(alloc, tmp, &ksalloc_reaped, node) {
		list_del(&alloc->node);
		ksalloc_free_pool(alloc);
	}
	destroy_workqueue(ksalloc_wq);
}

#if IS_ENABLED(CONFIG_KUNIT)
/* Bytes held by all allocators now. */
u64 ksalloc_charged_bytes(void)
{
	return atomic64_read(&ksalloc_total_bytes);
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_charged_bytes);

/*
 * Waits until every release asked for so far is done, and reaps; with
 * @rcu, also those that a pending recheck will ask for.
 */
void ksalloc_flush_releases(bool rcu)
{
	ksalloc_flush(rcu);
	ksalloc_reap(NULL);
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_flush_releases);

/* Runs the CPU hotplug callback for @cpu; returns the allocators it saw. */
unsigned long ksalloc_hotplug_pass(unsigned int cpu)
{
	unsigned long before;

	mutex_lock(&ksalloc_all_lock);
	before = ksalloc_hotplug_steps;
	mutex_unlock(&ksalloc_all_lock);
	ksalloc_cpu_dead(cpu);
	mutex_lock(&ksalloc_all_lock);
	before = ksalloc_hotplug_steps - before;
	mutex_unlock(&ksalloc_all_lock);
	return before;
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_hotplug_pass);

/* Frames in the cache of @cpu now. */
u32 ksalloc_cached_frames(struct ksalloc *alloc, int cpu)
{
	return ksalloc_cache_count(per_cpu_ptr(alloc->cache, cpu));
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
 * while a frame is on the stack.  Returns 0 or -EUCLEAN.
 */
int ksalloc_check_invariants(struct ksalloc *alloc)
{
	unsigned long *seen;
	u32 i, nfree = 0;
	int ret = 0, cpu;

	seen = bitmap_zalloc(alloc->frames, GFP_KERNEL);
	if (!seen)
		return -ENOMEM;

	spin_lock_bh(&alloc->lock);
	for (i = 0; i < alloc->frames; i++) {
		u8 st = READ_ONCE(*ksalloc_state(alloc, i));

		if (st > KSALLOC_FRAME_USER)
			ret = -EUCLEAN;
		nfree += st == KSALLOC_FRAME_FREE;
	}
	if (alloc->nr_free > alloc->frames ||
	    (alloc->nr_free && !list_empty(&alloc->waiters)) ||
	    nfree != alloc->nr_free + ksalloc_cache_frames(alloc->cache))
		ret = -EUCLEAN;
	for (i = 0; !ret && i < alloc->nr_free; i++)
		if (!ksalloc_check_free(alloc, seen, alloc->free_stack[i]))
			ret = -EUCLEAN;
	for_each_possible_cpu(cpu) {
		struct ksalloc_cache *c = per_cpu_ptr(alloc->cache, cpu);
		u32 head = READ_ONCE(c->head), n = ksalloc_cache_count(c);

		if (n > KSALLOC_CACHE_SIZE)
			ret = -EUCLEAN;
		for (i = 0; !ret && i < n; i++)
			if (!ksalloc_check_free(alloc, seen,
						c->idx[(head + i) & KSALLOC_CACHE_MASK]))
				ret = -EUCLEAN;
	}
	spin_unlock_bh(&alloc->lock);

	bitmap_free(seen);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_check_invariants);
#endif
