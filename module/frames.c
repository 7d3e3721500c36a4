// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc - Kernel Streaming style stream allocator: taking and giving frames
 *
 * An allocator (struct ksalloc, core.h; its life is in core.c) keeps its
 * free frames on a shared stack and in per-CPU caches in front of it, and
 * one byte of state per frame:
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
 */

#include <linux/completion.h>
#include <linux/jiffies.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/reciprocal_div.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/wait.h>
#include <kunit/visibility.h>

#include "core.h"
#include "ksalloc_trace.h"

/* Flags of ksalloc_take() */
#define KSALLOC_TAKE_REFILL	BIT(0)	/* also top this CPU's cache up */
#define KSALLOC_TAKE_WAITS	BIT(1)	/* the caller waits when none is free */

/*
 * ksalloc_may_lock(), or a one-time warning: for the entry points that
 * refuse callers with interrupts (on PREEMPT_RT: preemption) disabled.
 */
bool ksalloc_context_ok(void)
{
	if (ksalloc_may_lock())
		return true;
	pr_warn_once("called with interrupts or (on PREEMPT_RT) preemption disabled; refused\n");
	return false;
}

static void ksalloc_recheck_rcu(struct rcu_head *head);

/*
 * Something just set &ksalloc.bypass (or needs a frame freed into a cache
 * found): once every fast path that may have missed that is over, that is
 * after an RCU grace period, ksalloc_recheck_rcu() sweeps the caches.  One
 * callback at a time, holding a reference; a request while it is queued
 * makes it run once more.  Never waits.
 */
void ksalloc_request_recheck_locked(struct ksalloc *alloc)
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
bool ksalloc_give_locked(struct ksalloc *alloc, u32 index)
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
		/* The last look at the waiter: it may be gone once completed. */
		trace_ksalloc_handoff(alloc, index, w->pid);
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
bool ksalloc_sweep_cpu_locked(struct ksalloc *alloc, int cpu)
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
	if (n)
		trace_ksalloc_cache_flush(alloc, cpu, n);
	for (i = 0; i < n; i++)
		idle |= ksalloc_give_locked(alloc, idx[i]);
	return idle;
}

/* ksalloc_sweep_cpu_locked() for every possible CPU. */
bool ksalloc_sweep_locked(struct ksalloc *alloc)
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
	u32 n, i, tail;

	lockdep_assert_held(&alloc->lock);
	local_irq_save(flags);
	c = this_cpu_ptr(alloc->cache);
	n = min3(KSALLOC_CACHE_BATCH, alloc->nr_free,
		 KSALLOC_CACHE_SIZE - ksalloc_cache_count(c));
	/* The top of the stack first: it is taken first. */
	for (i = 0, tail = c->tail; i < n; i++, tail++)
		ksalloc_cache_push(c, tail, alloc->free_stack[--alloc->nr_free]);
	local_irq_restore(flags);
	if (n)
		trace_ksalloc_cache_refill(alloc, raw_smp_processor_id(), n);
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
	if (n)
		trace_ksalloc_cache_flush(alloc, raw_smp_processor_id(), n);

	/* Not closed (no bypass), so this cannot make the allocator idle. */
	for (i = 0; i < n; i++)
		ksalloc_give_locked(alloc, idx[i]);
}

/*
 * The second half of ksalloc_take(), once the shared stack is empty:
 * frames from the first CPU cache that has some.  Without @refill, up to
 * @max frames for the caller; with it, one for the caller and the rest of
 * a batch for this CPU's cache (for the waiters and the stack while the
 * caches are bypassed).  Returns how many the caller got, in state KERNEL;
 * when none, *@seen is what ksalloc_cache_steal() saw.
 */
static u32 ksalloc_steal_locked(struct ksalloc *alloc, u32 *idx, u32 max,
				bool refill, u32 *seen)
{
	u32 buf[KSALLOC_CACHE_BATCH], n, k = 0, i;
	unsigned long irq;
	int cpu;

	lockdep_assert_held(&alloc->lock);
	n = ksalloc_cache_steal(alloc->cache, refill ? buf : idx,
				refill ? KSALLOC_CACHE_BATCH : max, seen, &cpu);
	if (!n)
		return 0;
	trace_ksalloc_cache_steal(alloc, cpu, n);
	if (!refill) {
		for (i = 0; i < n; i++)
			WRITE_ONCE(*ksalloc_state(alloc, idx[i]),
				   KSALLOC_FRAME_KERNEL);
		return n;
	}

	idx[0] = buf[0];
	WRITE_ONCE(*ksalloc_state(alloc, buf[0]), KSALLOC_FRAME_KERNEL);
	/* The rest moves to this CPU, under the lock. */
	if (!alloc->bypass) {
		local_irq_save(irq);
		k = ksalloc_cache_fill(this_cpu_ptr(alloc->cache), buf + 1, n - 1);
		local_irq_restore(irq);
		if (k)
			trace_ksalloc_cache_refill(alloc, raw_smp_processor_id(), k);
	}
	for (i = 1 + k; i < n; i++)
		ksalloc_give_locked(alloc, buf[i]);
	return 1;
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
	bool refill = flags & KSALLOC_TAKE_REFILL, idle = false;
	u32 got = 0, n, i, seen;
	int ret = -EPERM;

	if (!ksalloc_context_ok())
		goto out;
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
		n = ksalloc_steal_locked(alloc, idx + got, count - got, refill,
					 &seen);
		got += n;
		/* Without refill, look again; with it, one frame is enough. */
		if (n && !refill)
			continue;
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
	trace_ksalloc_alloc_slow(alloc, ret > 0 ? idx[0] : KSALLOC_NO_FRAME,
				 kind == KSALLOC_FRAME_USER, ret);
out:
	/* A miss of a caller that goes on to wait is no failure yet. */
	if (ret < 0 && (ret != -ENOMEM || !(flags & KSALLOC_TAKE_WAITS)))
		trace_ksalloc_alloc_fail(alloc, kind == KSALLOC_FRAME_USER, ret);
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
		trace_ksalloc_free_slow(alloc, index, kind == KSALLOC_FRAME_USER);
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
 * Return: nothing.
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

/* How a wait that returned @ret ended, for the tracepoint. */
static int ksalloc_wait_result(int ret)
{
	if (!ret)
		return KSALLOC_WAIT_SERVED;
	if (ret == -ETIMEDOUT)
		return KSALLOC_WAIT_TIMEOUT;
	return ret == -EINTR ? KSALLOC_WAIT_SIGNAL : KSALLOC_WAIT_CLOSED;
}

/*
 * Sleeps until the queued waiter @w is served or the allocator closes, or
 * gives up after @timeout or on a signal, deciding under the lock whether
 * it was served meanwhile.  Returns 0 with the frame in @w->index,
 * -ENODEV, -ETIMEDOUT or -EINTR.
 */
static int ksalloc_sleep_queued(struct ksalloc *alloc, struct ksalloc_waiter *w,
				long timeout, unsigned int state)
{
	long left = ksalloc_sleep(&w->done, timeout, state);

	if (left <= 0) {
		spin_lock_bh(&alloc->lock);
		if (w->status == -EINPROGRESS) {
			/* Not served: leave the queue empty-handed. */
			list_del(&w->node);
			alloc->stats.waiters--;
			if (!left)
				alloc->stats.wait_timeouts++;
			ksalloc_update_bypass_locked(alloc);
			w->status = left ? -EINTR : -ETIMEDOUT;
		}
		/* Else served while giving up: the frame is ours, keep it. */
		spin_unlock_bh(&alloc->lock);
	}
	if (trace_ksalloc_wait_end_enabled())
		trace_ksalloc_wait_end(alloc, ksalloc_wait_result(w->status),
				       ktime_get_ns() - w->start_ns,
				       w->status ? KSALLOC_NO_FRAME : w->index);
	return w->status;
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
	w.pid = task_pid_nr(current);
	w.start_ns = ktime_get_ns();
	list_add_tail(&w.node, &alloc->waiters);
	alloc->stats.waits++;
	alloc->stats.waiters++;
	trace_ksalloc_wait_start(alloc, alloc->stats.waiters,
				 timeout == MAX_SCHEDULE_TIMEOUT ? -1 :
				 (s64)jiffies_to_nsecs(timeout));
	ksalloc_update_bypass_locked(alloc);
	/* Frames cached before bypass was seen come to the waiters. */
	idle = ksalloc_sweep_locked(alloc);
	ksalloc_request_recheck_locked(alloc);
	spin_unlock_bh(&alloc->lock);

	ret = ksalloc_sleep_queued(alloc, &w, timeout, state);
	if (!ret)
		*index = w.index;
	if (idle)
		ksalloc_put(alloc);
	return ret;
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
 * Return: nothing; a refused frame stays the caller's.
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
