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
 * This file is the allocator's life: what a framing costs and its charge,
 * the creation, the reports (status, stats), the close of the handle, the
 * release, and CPU hotplug.
 * Taking and giving frames, the waiters and the pollers are in frames.c,
 * whose top comment says who may touch which part of the allocator and in
 * which context; the per-CPU caches are in cache.c.
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
#include <linux/cpuhotplug.h>
#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/log2.h>
#include <linux/math.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/numa.h>
#include <linux/overflow.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/reciprocal_div.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <kunit/visibility.h>

#include "core.h"

#define CREATE_TRACE_POINTS
#include "ksalloc_trace.h"

/* Bytes held by all live allocators, bounded by ksalloc_max_total_bytes. */
static atomic64_t ksalloc_total_bytes = ATOMIC64_INIT(0);
/* The last allocator id handed out: ids start at 1. */
static atomic64_t ksalloc_last_id = ATOMIC64_INIT(0);

#define KSALLOC_REQUIREMENTF_ALL (KSALLOC_REQUIREMENTF_INPLACE_MODIFIER | \
				  KSALLOC_REQUIREMENTF_SYSTEM_MEMORY | \
				  KSALLOC_REQUIREMENTF_FRAME_INTEGRITY | \
				  KSALLOC_REQUIREMENTF_MUST_ALLOCATE | \
				  KSALLOC_REQUIREMENTF_PREFERENCES_ONLY)

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
atomic_t ksalloc_rechecks = ATOMIC_INIT(0);

static void ksalloc_reap(struct work_struct *work);
static DECLARE_DELAYED_WORK(ksalloc_reap_work, ksalloc_reap);

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
 * what it costs with the backing of @p (everything counts, SPEC 7.8).
 * Returns 0, -EINVAL for a framing that is malformed, -ENOMEM for one that
 * is too large.
 */
static int ksalloc_check_framing(const struct ksalloc_params *p,
				 struct ksalloc_layout *l)
{
	const struct ksalloc_framing *f = p->framing;
	u64 st, total, limit = READ_ONCE(ksalloc_max_pool_bytes);
	size_t chunks;

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
	/* A contiguous frame is a whole allocation of its own. */
	if (p->flags & KSALLOC_CREATE_CONTIG)
		st = PAGE_ALIGN(st);
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
	/* The backing's bus address of each chunk lives as long as the pages. */
	chunks = p->flags & KSALLOC_CREATE_CONTIG ? f->frames : l->pool >> PAGE_SHIFT;
	if (p->ops)
		l->pool_cost += ksalloc_kv_bytes(chunks * sizeof(dma_addr_t));
	l->meta_cost = ksalloc_kv_bytes((size_t)f->frames * sizeof(u32)) +
		       ksalloc_kv_bytes(l->state) +
		       (size_t)num_possible_cpus() * sizeof(struct ksalloc_cache) +
		       ksalloc_debugfs_bytes();
	if (l->pool_cost + l->meta_cost > limit)
		return -ENOMEM;
	return 0;
}

/* Takes @bytes out of the global budget, or fails with -ENOMEM. */
int ksalloc_charge(size_t bytes)
{
	u64 limit = READ_ONCE(ksalloc_max_total_bytes);
	s64 cur = atomic64_read(&ksalloc_total_bytes);

	do {
		if (bytes > limit || cur > limit - bytes)
			return -ENOMEM;
	} while (!atomic64_try_cmpxchg(&ksalloc_total_bytes, &cur, cur + bytes));
	return 0;
}

void ksalloc_uncharge(size_t bytes)
{
	atomic64_sub(bytes, &ksalloc_total_bytes);
}

/* Bytes held by all allocators now, for debugfs and KUnit. */
u64 ksalloc_charged_bytes(void)
{
	return atomic64_read(&ksalloc_total_bytes);
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_charged_bytes);

static void ksalloc_release_work(struct work_struct *work);
static void ksalloc_close_work(struct work_struct *work);

/* The immutable fields of a new allocator, and who created it. */
static void ksalloc_init_layout(struct ksalloc *alloc,
				const struct ksalloc_framing *framing,
				const struct ksalloc_layout *l)
{
	alloc->framing = *framing;
	alloc->frames = framing->frames;
	alloc->stride = l->stride;
	alloc->span = (unsigned long)alloc->frames * l->stride;
	alloc->stride_shift = is_power_of_2(l->stride) ? ilog2(l->stride) : 0;
	alloc->stride_recip = reciprocal_value(l->stride);
	alloc->pool_cost = l->pool_cost;
	alloc->meta_cost = l->meta_cost;
	/* A kernel thread belongs to no process: its pid reads 0. */
	if (!(current->flags & PF_KTHREAD))
		alloc->owner_pid = task_tgid_nr(current);
	get_task_comm(alloc->owner_comm, current);
}

/*
 * What ksalloc_create_ex() refuses with -EINVAL before looking at the
 * framing: unknown flags, device memory without a device (or one without a
 * DMA mask, or a kernel without DMA) or with custom callbacks, a device,
 * flags or callbacks for a PAGED pool, half a set of callbacks, a bad
 * direction or node.
 */
static int ksalloc_check_params(const struct ksalloc_params *p)
{
	unsigned int flags;

	if (!p || !p->framing)
		return -EINVAL;
	flags = p->flags;
	if (flags & ~(KSALLOC_CREATE_CONTIG | KSALLOC_CREATE_DEVICE))
		return -EINVAL;
	if (p->framing->pool_type == KSALLOC_POOL_PAGED &&
	    (p->dev || flags || p->ops))
		return -EINVAL;
	/* Without CONFIG_HAS_DMA (UML) no device memory can be allocated. */
	if ((flags & KSALLOC_CREATE_DEVICE) &&
	    (!IS_ENABLED(CONFIG_HAS_DMA) || !p->dev || p->ops ||
	     !p->dev->dma_mask || !*p->dev->dma_mask))
		return -EINVAL;
	if (p->ops && (!p->ops->alloc || !p->ops->free))
		return -EINVAL;
	if (p->dev && !valid_dma_direction(p->dir))
		return -EINVAL;
	if (p->node != NUMA_NO_NODE &&
	    (p->node < 0 || p->node >= MAX_NUMNODES || !node_online(p->node)))
		return -EINVAL;
	return 0;
}

/* The locks, lists and work items of a new allocator, and its free stack. */
static void ksalloc_init_state(struct ksalloc *alloc)
{
	u32 i;

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
}

/* Numbers a new allocator and makes it visible: list, debugfs, trace. */
static void ksalloc_publish(struct ksalloc *alloc)
{
	struct ksalloc_binding *b = alloc->binding;

	/* Only a created allocator takes an id: none is ever wasted. */
	alloc->id = atomic64_inc_return(&ksalloc_last_id);

	mutex_lock(&ksalloc_all_lock);
	list_add(&alloc->node, &ksalloc_all);
	mutex_unlock(&ksalloc_all_lock);
	ksalloc_debugfs_add(alloc);
	/* After the directory: a tool that reacts to the event finds it. */
	trace_ksalloc_create(alloc);
	if (b)
		trace_ksalloc_bind(alloc, b->dev, b->dir,
				   (u64)alloc->nr_pages << PAGE_SHIFT, 0);
}

/**
 * ksalloc_create_ex() - create an allocator for a device, or on custom memory
 * @params: the framing, and where its memory comes from and for whom
 *
 * The Linux form of KsCreateDefaultAllocatorEx().  As ksalloc_create(),
 * with memory from the backing that @params asks for: order-0 pages by
 * default; with %KSALLOC_CREATE_CONTIG one physically contiguous
 * allocation per frame (the stride rounded up to whole pages); with
 * %KSALLOC_CREATE_DEVICE, alone or with %KSALLOC_CREATE_CONTIG, the same
 * from the zone that @params->dev reaches without bouncing when no IOMMU
 * translates its DMA (as dma-direct chooses it: ZONE_DMA32 or ZONE_DMA
 * for a narrow mask), every page checked against its mask; or chunks from
 * @params->ops.  The memory comes from @params->node if it can (by default
 * the device's node).  With @params->dev the allocator is bound to it
 * (see ksalloc_bind()) until the release, or until ksalloc_unbind().
 * Everything, the backing's memory included, is charged as for
 * ksalloc_create(); nothing is ever written into the frames.  Device
 * memory is ordinary memory, mapped for the device by that binding: once
 * the driver unbinds (in its remove() at the latest), the pages are plain
 * pages that user space may keep (ksalloc_install_fd()) after the device
 * is gone.  Memory that custom backing mapped itself stays mapped until
 * the pages go: the driver closes such an allocator, and drops its
 * references, before its remove() returns.
 *
 * Context: Process context; may sleep.
 * Return: the allocator, holding one reference that ksalloc_close() drops,
 * ERR_PTR(-EINVAL) for malformed framing or parameters (see the text) or,
 * with @dev, a stride that is not a multiple of dma_get_cache_alignment(),
 * ERR_PTR(-ENOMEM) over the module's limits or when the backing has no
 * memory, ERR_PTR(-ERANGE) when the device cannot reach the memory or map
 * a frame whole (see ksalloc_bind()), ERR_PTR(-ENODEV) when the callbacks'
 * module is going.
 */
struct ksalloc *ksalloc_create_ex(const struct ksalloc_params *params)
{
	struct ksalloc_layout l;
	struct ksalloc *alloc;
	int ret;

	might_sleep();
	ret = ksalloc_check_params(params);
	if (!ret)
		ret = ksalloc_check_framing(params, &l);
	if (!ret)
		ret = ksalloc_charge(l.pool_cost + l.meta_cost);
	if (ret)
		return ERR_PTR(ret);

	ret = -ENOMEM;
	alloc = kzalloc(sizeof(*alloc), GFP_KERNEL_ACCOUNT);
	if (!alloc)
		goto err_uncharge;
	ksalloc_init_layout(alloc, params->framing, &l);
	mutex_init(&alloc->bind_lock);
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
	ret = ksalloc_backing_init(alloc, params);
	if (ret)
		goto err_free_cache;
	ret = ksalloc_alloc_pool(alloc, l.pool);
	if (ret)
		goto err_put_backing;
	if (params->dev) {
		ret = ksalloc_bind_created(alloc, params->dev, params->dir);
		if (ret)
			goto err_free_pool;
	}

	ksalloc_init_state(alloc);
	ksalloc_publish(alloc);
	return alloc;

err_free_pool:
	vunmap(alloc->pool);
	ksalloc_backing_free(alloc);
	goto err_free_cache;
err_put_backing:
	ksalloc_backing_put(alloc);
err_free_cache:
	free_percpu(alloc->cache);
err_free_state:
	kvfree(alloc->state);
err_free_stack:
	kvfree(alloc->free_stack);
err_free_alloc:
	mutex_destroy(&alloc->bind_lock);
	kfree(alloc);
err_uncharge:
	ksalloc_uncharge(l.pool_cost + l.meta_cost);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_NS_GPL(ksalloc_create_ex, "KSALLOC");

/**
 * ksalloc_create() - create an allocator with a preallocated pool
 * @framing: frame count, size, alignment mask and pool type
 *
 * The Linux form of KsCreateAllocator().  Every frame is allocated here, so
 * that allocating a frame later never allocates memory.  The pool and the
 * metadata are charged to the active memory cgroup (the caller's, unless
 * set_active_memcg() says otherwise) and, all of it, to the module's
 * budget (max_pool_bytes, max_total_bytes).  ksalloc_create_ex() with the
 * default backing, order-0 pages from any node, and no device.
 *
 * Context: Process context; may sleep.
 * Return: the allocator, holding one reference that ksalloc_close() drops,
 * or ERR_PTR(-EINVAL) for a malformed framing, ERR_PTR(-ENOMEM) for one over
 * the module's limits or when memory runs out.
 */
struct ksalloc *ksalloc_create(const struct ksalloc_framing *framing)
{
	const struct ksalloc_params params = {
		.framing = framing,
		.dir = DMA_NONE,
		.node = NUMA_NO_NODE,
	};

	if (!framing)
		return ERR_PTR(-EINVAL);
	return ksalloc_create_ex(&params);
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

	ksalloc_backing_free(alloc);
	mutex_destroy(&alloc->bind_lock);
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
	LIST_HEAD(ready);

	mutex_lock(&ksalloc_all_lock);
	list_for_each_entry_safe(alloc, tmp, &ksalloc_reaped, node)
		if (!ksalloc_pages_held(alloc))
			list_move(&alloc->node, &ready);
	if (!list_empty(&ksalloc_reaped))
		queue_delayed_work(ksalloc_wq, &ksalloc_reap_work, HZ);
	mutex_unlock(&ksalloc_all_lock);

	/*
	 * Without the lock: custom backing's free(), the device's and the
	 * module's puts may take locks of their own, or sleep.
	 */
	list_for_each_entry_safe(alloc, tmp, &ready, node) {
		list_del(&alloc->node);
		ksalloc_free_pool(alloc);
		cond_resched();
	}
}

/*
 * The last reference is gone; in process context now.  Nothing is written
 * into the pool: it is unmapped, and its pages are freed when nobody else
 * holds them.
 */
static void ksalloc_release_work(struct work_struct *work)
{
	struct ksalloc *alloc = container_of(work, struct ksalloc, release);

	trace_ksalloc_release(alloc);
	/*
	 * Its debugfs files read everything freed below: debugfs_remove()
	 * returns once no read of them is under way, and none starts after.
	 */
	ksalloc_debugfs_remove(alloc);
	/* Off the list first: the hotplug callback reads the caches. */
	mutex_lock(&ksalloc_all_lock);
	list_del(&alloc->node);
	mutex_unlock(&ksalloc_all_lock);

	/* Nothing stays mapped for a device once the allocator is gone. */
	ksalloc_unbind_release(alloc);
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
 * Return: nothing.
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
 * Return: nothing.
 */
void ksalloc_put(struct ksalloc *alloc)
{
	if (alloc)
		kref_put(&alloc->ref, ksalloc_release);
}
EXPORT_SYMBOL_NS_GPL(ksalloc_put, "KSALLOC");

/* The id of @alloc, for KSALLOC_IOC_GET_ID and fdinfo. */
u64 ksalloc_id(struct ksalloc *alloc)
{
	return alloc->id;
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_id);

/* Whether the handle of @alloc was closed; a snapshot. */
bool ksalloc_is_closed(struct ksalloc *alloc)
{
	return READ_ONCE(alloc->closed);
}

/* Allocators created and not yet released, for debugfs. */
unsigned int ksalloc_nr_allocators(void)
{
	struct ksalloc *alloc;
	unsigned int n = 0;

	mutex_lock(&ksalloc_all_lock);
	list_for_each_entry(alloc, &ksalloc_all, node)
		n++;
	mutex_unlock(&ksalloc_all_lock);
	return n;
}

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
 * Return: nothing.
 */
void ksalloc_close(struct ksalloc *alloc)
{
	u32 i, out;
	bool idle;

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
	WRITE_ONCE(alloc->closed, true);
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
	out = ksalloc_out_locked(alloc);
	spin_unlock_bh(&alloc->lock);

	trace_ksalloc_close(alloc, out);
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

/* The pages of the pool, for mmap(): page i maps pool byte i * PAGE_SIZE. */
struct page **ksalloc_pool_pages(struct ksalloc *alloc, unsigned int *nr)
{
	*nr = alloc->nr_pages;
	return alloc->pages;
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_pool_pages);

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

/*
 * Called by the module's init: the work queue, the hotplug callback and
 * the debugfs directory.
 */
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
	ksalloc_debugfs_init();
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
	/* Every release removed its allocator's directory. */
	ksalloc_debugfs_exit();
}

#if IS_ENABLED(CONFIG_KUNIT)
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
