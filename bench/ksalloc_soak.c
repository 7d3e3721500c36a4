// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_soak - a long mixed load on one allocator, checking every frame
 *
 * User space creates an allocator on /dev/ksalloc and hands its descriptor
 * to /dev/ksalloc_soak; from then on every online CPU runs holders of frames
 * on it until @ops alloc+free pairs are done (tools/testing/ksalloc_soak_user.c
 * is the user-space half, scripts/soak.sh boots both in QEMU):
 *
 *	ioctl(sfd, KSALLOC_SOAK_IOC_ATTACH, &(struct ksalloc_soak_attach){ .fd = afd });
 *	do
 *		ioctl(sfd, KSALLOC_SOAK_IOC_GET_STATS, &stats);
 *	while (stats.state != KSALLOC_SOAK_STATE_DONE);
 *	ioctl(sfd, KSALLOC_SOAK_IOC_CHECK, &check);
 *
 * The holders of each CPU:
 *
 *   proc     a bound kthread: takes 1 to 8 frames through the function
 *            table and frees them, in or out of order, every other round
 *            with BH disabled;
 *   timer    a pinned soft hrtimer, re-armed every @period_us: same-CPU
 *            pairs in softirq context, and frames for the next CPU;
 *   tasklet  scheduled by the timer: frees the frames other CPUs queued
 *            for this one, and does a few same-CPU pairs;
 *   xfer     a bound kthread: frames for the next CPU, through its queue
 *            (a spinlock-protected ring), and frees those queued here;
 *            when the next CPU's queue is full it frees the frame itself
 *            and sleeps a little (under TCG that vCPU may not be running);
 *   waiter   a bound kthread in ksalloc_alloc_frame_wait() with timeouts of
 *            1 to @wait_jiffies jiffies; now and then it first takes every
 *            free frame (a hoard), so that it really waits and the frees of
 *            the others are handed to it.
 *
 * "The next CPU" goes round the online CPUs, so frames allocated on CPU0 are
 * freed on CPU1 and those of CPU1 on CPU0 (with two CPUs).
 *
 * Every holder tags the frames it gets (bench/ksalloc_soak.h) and checks the
 * tags when it frees them: a frame handed out twice, or written by someone
 * else while held, is a mismatch, logged (the first ten) and counted.
 * When the holders stop (the target reached, KSALLOC_SOAK_IOC_STOP or the
 * close of the device), the frames still queued are freed; then
 * KSALLOC_SOAK_IOC_CHECK takes every frame of the pool from one CPU.
 *
 * Only include/linux/ksalloc.h is used, as by any outside driver.
 */

#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/bottom_half.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/ksalloc.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "ksalloc_soak.h"

static_assert(sizeof(struct ksalloc_soak_tag) == 16);
static_assert(sizeof(struct ksalloc_soak_attach) == 8);
static_assert(sizeof(struct ksalloc_soak_stats) == 160);
static_assert(sizeof(struct ksalloc_soak_check) == 32);

/* Most frames a proc or xfer round takes at once. */
#define KSALLOC_SOAK_BATCH	8
/* Entries of a cross-CPU queue (a power of two). */
#define KSALLOC_SOAK_QUEUE	32
/* Pairs a holder counts before it adds them to the shared count. */
#define KSALLOC_SOAK_FLUSH	256
/* Most frames a waiter hoards. */
#define KSALLOC_SOAK_MAX_HOARD	1024
/* Mismatches logged; the rest are only counted. */
#define KSALLOC_SOAK_LOG	10

static ulong ops = 100000000;
module_param(ops, ulong, 0644);
MODULE_PARM_DESC(ops, "Alloc+free pairs of the kernel's holders before they stop, 0 for no limit (default 100000000)");

static uint period_us = 500;
module_param(period_us, uint, 0644);
MODULE_PARM_DESC(period_us, "Microseconds between two runs of each CPU's timer (default 500)");

static uint softirq_budget = 64;
module_param(softirq_budget, uint, 0644);
MODULE_PARM_DESC(softirq_budget, "Same-CPU pairs per timer run; the tasklet does a quarter (default 64)");

static uint wait_jiffies = 2;
module_param(wait_jiffies, uint, 0644);
MODULE_PARM_DESC(wait_jiffies, "Longest timeout of the waiters, in jiffies (default 2)");

static uint hoard_every = 8;
module_param(hoard_every, uint, 0644);
MODULE_PARM_DESC(hoard_every, "A waiter hoards every free frame before one wait in this many (default 8)");

/* ksalloc_soak.flags */
#define KSALLOC_SOAK_F_STOP	0

/**
 * struct ksalloc_soak_holder - one holder of frames, with its counters
 * @soak: the soak it belongs to
 * @id: its holder tag, KSALLOC_SOAK_HOLDER()
 * @rnd: its xorshift32 state
 * @seq: its last allocation number
 * @unflushed: pairs not yet added to ksalloc_soak.done
 * @pairs: alloc+free pairs it finished
 * @cross: of those, frames another CPU allocated
 * @enomem: allocate_frame calls that found no free frame
 * @mismatches: tags not as expected
 * @served: waits that got a frame
 * @timeouts: waits that timed out
 * @errors: waits and allocations that failed otherwise
 * @hoards: hoards taken
 * @queue_full: frames it freed itself because the next CPU's queue was full
 *
 * Only its own context writes a holder; GET_STATS reads the counters
 * without a lock (WRITE_ONCE/READ_ONCE).
 */
struct ksalloc_soak_holder {
	struct ksalloc_soak *soak;
	u32 id;
	u32 rnd;
	u64 seq;
	u64 unflushed;
	u64 pairs;
	u64 cross;
	u64 enomem;
	u64 mismatches;
	u64 served;
	u64 timeouts;
	u64 errors;
	u64 hoards;
	u64 queue_full;
};

/* A frame, the holder that tagged it and the sequence it wrote. */
struct ksalloc_soak_held {
	void *frame;
	u64 seq;
	u32 holder;
};

/**
 * struct ksalloc_soak_queue - frames other CPUs hand to one CPU
 * @lock: protects @head, @tail and @ring; taken in softirq context by
 *        timers and tasklets, with _bh by the kthreads
 * @head: next entry to take
 * @tail: next entry to fill
 * @ring: the entries, %KSALLOC_SOAK_QUEUE of them
 */
struct ksalloc_soak_queue {
	/* protects head, tail and ring */
	spinlock_t lock;
	u32 head;
	u32 tail;
	struct ksalloc_soak_held ring[KSALLOC_SOAK_QUEUE];
};

/**
 * struct ksalloc_soak_cpu - the holders of one CPU
 * @cpu: the CPU
 * @next: the holders of the CPU its frames go to
 * @proc: the proc kthread's holder
 * @timer: the timer's holder
 * @tasklet: the tasklet's holder
 * @xfer: the xfer kthread's holder
 * @waiter: the waiter kthread's holder
 * @proc_task: the proc kthread; it starts @hrtimer on its CPU
 * @xfer_task: the xfer kthread
 * @waiter_task: the waiter kthread
 * @hrtimer: the re-arming soft hrtimer, pinned to @cpu
 * @bh_tasklet: the tasklet, scheduled by @hrtimer
 * @queue: frames the previous CPU handed to this one
 * @hoard: the waiter's hoard, @soak->hoard_max entries
 */
struct ksalloc_soak_cpu {
	unsigned int cpu;
	struct ksalloc_soak_cpu *next;
	struct ksalloc_soak_holder proc;
	struct ksalloc_soak_holder timer;
	struct ksalloc_soak_holder tasklet;
	struct ksalloc_soak_holder xfer;
	struct ksalloc_soak_holder waiter;
	struct task_struct *proc_task;
	struct task_struct *xfer_task;
	struct task_struct *waiter_task;
	struct hrtimer hrtimer;
	struct tasklet_struct bh_tasklet;
	struct ksalloc_soak_queue queue;
	struct ksalloc_soak_held *hoard;
};

/**
 * struct ksalloc_soak - one soak, one open of /dev/ksalloc_soak
 * @mutex: serialises attach, teardown, the check and release, and
 *         guards @state
 * @alloc: the allocator, holding a reference; NULL until attached
 * @table: its function table
 * @frames: its frame count
 * @hoard_max: most frames a waiter hoards
 * @target: pairs before the holders stop (0: until told)
 * @done: pairs flushed by the holders
 * @flags: %KSALLOC_SOAK_F_STOP once the holders are to stop
 * @logged: mismatches logged so far
 * @stop_work: stops every holder (ksalloc_soak_teardown())
 * @state: KSALLOC_SOAK_STATE_*
 * @start_ns: when the holders started
 * @elapsed_ns: from @start_ns until the last holder stopped
 * @period: @period_us as a ktime
 * @check: the holder of the teardown and of the final check
 * @nr_cpus: entries of @cpus
 * @cpus: the holders of each online CPU
 */
struct ksalloc_soak {
	/* serialises attach, teardown, check and release; guards state */
	struct mutex mutex;
	struct ksalloc *alloc;
	struct ksalloc_function_table table;
	u32 frames;
	u32 hoard_max;
	u64 target;
	atomic64_t done;
	unsigned long flags;
	atomic_t logged;
	struct work_struct stop_work;
	u32 state;
	u64 start_ns;
	u64 elapsed_ns;
	ktime_t period;
	struct ksalloc_soak_holder check;
	unsigned int nr_cpus;
	struct ksalloc_soak_cpu **cpus;
};

static void ksalloc_soak_add(u64 *counter, u64 n)
{
	WRITE_ONCE(*counter, *counter + n);
}

static u32 ksalloc_soak_rnd(struct ksalloc_soak_holder *h)
{
	u32 x = h->rnd;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	h->rnd = x;
	return x;
}

static void ksalloc_soak_holder_init(struct ksalloc_soak_holder *h,
				     struct ksalloc_soak *s, u32 kind, u32 n)
{
	h->soak = s;
	h->id = KSALLOC_SOAK_HOLDER(kind, n);
	h->rnd = get_random_u32() | 1;
}

static void ksalloc_soak_request_stop(struct ksalloc_soak *s)
{
	if (!test_and_set_bit(KSALLOC_SOAK_F_STOP, &s->flags))
		schedule_work(&s->stop_work);
}

static bool ksalloc_soak_stopping(struct ksalloc_soak *s)
{
	return test_bit(KSALLOC_SOAK_F_STOP, &s->flags);
}

/* Counts @n pairs of @h; the holder that reaches the target stops them all. */
static void ksalloc_soak_done(struct ksalloc_soak_holder *h, u64 n)
{
	struct ksalloc_soak *s = h->soak;

	ksalloc_soak_add(&h->pairs, n);
	h->unflushed += n;
	if (h->unflushed < KSALLOC_SOAK_FLUSH)
		return;
	if (atomic64_add_return(h->unflushed, &s->done) >= s->target && s->target)
		ksalloc_soak_request_stop(s);
	h->unflushed = 0;
}

/*
 * Frames are 8-byte aligned (checked at attach), so the tag is read and
 * written field by field with READ_ONCE/WRITE_ONCE: the compiler may neither
 * elide a check of what it just wrote nor tear a field.
 */
static void ksalloc_soak_tag_write(void *frame, u32 holder, u64 seq)
{
	struct ksalloc_soak_tag *tag = frame;

	WRITE_ONCE(tag->holder, holder);
	WRITE_ONCE(tag->check, holder ^ (u32)seq ^ KSALLOC_SOAK_TAG_MAGIC);
	WRITE_ONCE(tag->seq, seq);
}

static bool ksalloc_soak_tag_is(const void *frame, u32 holder, u64 seq)
{
	const struct ksalloc_soak_tag *tag = frame;

	return READ_ONCE(tag->holder) == holder && READ_ONCE(tag->seq) == seq &&
	       READ_ONCE(tag->check) == (holder ^ (u32)seq ^ KSALLOC_SOAK_TAG_MAGIC);
}

/* Counts a mismatch and logs the first few. */
static void ksalloc_soak_mismatch(struct ksalloc_soak_holder *h,
				  const void *frame, const char *what,
				  u32 holder, u64 seq)
{
	const struct ksalloc_soak_tag *tag = frame;
	struct ksalloc_soak *s = h->soak;

	ksalloc_soak_add(&h->mismatches, 1);
	if (atomic_inc_return(&s->logged) > KSALLOC_SOAK_LOG)
		return;
	pr_err("holder %#x on CPU %d: frame %u %s: tag holder %#x seq %llu check %#x, want holder %#x seq %llu\n",
	       h->id, raw_smp_processor_id(), ksalloc_frame_index(s->alloc, frame),
	       what, READ_ONCE(tag->holder), READ_ONCE(tag->seq),
	       READ_ONCE(tag->check), holder, seq);
}

/*
 * Makes a frame just allocated @h's: it must be a frame of the allocator and
 * carry the free tag.  Returns the sequence written into it.
 */
static u64 ksalloc_soak_claim(struct ksalloc_soak_holder *h, void *frame)
{
	struct ksalloc_soak *s = h->soak;

	if (unlikely(ksalloc_frame_index(s->alloc, frame) == KSALLOC_NO_FRAME)) {
		ksalloc_soak_add(&h->mismatches, 1);
		if (atomic_inc_return(&s->logged) <= KSALLOC_SOAK_LOG)
			pr_err("holder %#x: %p is not a frame\n", h->id, frame);
		return 0;
	}
	if (unlikely(!ksalloc_soak_tag_is(frame, KSALLOC_SOAK_FREE, 0)))
		ksalloc_soak_mismatch(h, frame, "allocated while not free",
				      KSALLOC_SOAK_FREE, 0);
	ksalloc_soak_tag_write(frame, h->id, ++h->seq);
	return h->seq;
}

/*
 * Takes a frame through the function table and claims it.  Returns false
 * when none is free.  Never sleeps.
 */
static bool ksalloc_soak_get(struct ksalloc_soak_holder *h,
			     struct ksalloc_soak_held *held)
{
	struct ksalloc_soak *s = h->soak;
	int ret;

	ret = s->table.allocate_frame(s->alloc, &held->frame);
	if (unlikely(ret)) {
		if (ret == -ENOMEM)
			ksalloc_soak_add(&h->enomem, 1);
		else
			ksalloc_soak_add(&h->errors, 1);
		return false;
	}
	held->seq = ksalloc_soak_claim(h, held->frame);
	held->holder = h->id;
	return true;
}

/* Checks the tag of a held frame, writes the free tag and frees it. */
static void ksalloc_soak_put(struct ksalloc_soak_holder *h,
			     const struct ksalloc_soak_held *held)
{
	struct ksalloc_soak *s = h->soak;

	if (unlikely(!ksalloc_soak_tag_is(held->frame, held->holder, held->seq)))
		ksalloc_soak_mismatch(h, held->frame, "changed while held",
				      held->holder, held->seq);
	ksalloc_soak_tag_write(held->frame, KSALLOC_SOAK_FREE, 0);
	s->table.free_frame(s->alloc, held->frame);
}

/*
 * Takes up to @n frames and frees them again, in order or in reverse.
 * Returns the pairs done; fewer than @n when the pool ran dry.
 */
static u32 ksalloc_soak_pairs(struct ksalloc_soak_holder *h, u32 n,
			      bool reverse)
{
	struct ksalloc_soak_held held[KSALLOC_SOAK_BATCH];
	u32 got, i;

	n = min_t(u32, n, KSALLOC_SOAK_BATCH);
	for (got = 0; got < n; got++)
		if (!ksalloc_soak_get(h, &held[got]))
			break;
	for (i = 0; i < got; i++)
		ksalloc_soak_put(h, &held[reverse ? got - 1 - i : i]);
	return got;
}

static bool ksalloc_soak_push(struct ksalloc_soak_queue *q,
			      const struct ksalloc_soak_held *held)
{
	bool ok;

	spin_lock(&q->lock);
	ok = q->tail - q->head < KSALLOC_SOAK_QUEUE;
	if (ok)
		q->ring[q->tail++ % KSALLOC_SOAK_QUEUE] = *held;
	spin_unlock(&q->lock);
	return ok;
}

static bool ksalloc_soak_pop(struct ksalloc_soak_queue *q,
			     struct ksalloc_soak_held *held)
{
	bool ok;

	spin_lock(&q->lock);
	ok = q->tail != q->head;
	if (ok)
		*held = q->ring[q->head++ % KSALLOC_SOAK_QUEUE];
	spin_unlock(&q->lock);
	return ok;
}

/*
 * Takes up to @n frames for the next CPU's queue; one that does not fit is
 * freed here, and ends the round.  With BH disabled or in softirq context.
 * Returns false when the queue was full.
 */
static bool ksalloc_soak_send(struct ksalloc_soak_holder *h,
			      struct ksalloc_soak_cpu *c, u32 n)
{
	struct ksalloc_soak_held held;

	for (; n; n--) {
		if (!ksalloc_soak_get(h, &held))
			break;
		if (ksalloc_soak_push(&c->next->queue, &held))
			continue;
		ksalloc_soak_put(h, &held);
		ksalloc_soak_add(&h->queue_full, 1);
		ksalloc_soak_done(h, 1);
		return false;
	}
	return true;
}

/*
 * Frees up to @n frames other CPUs queued for this one.  With BH disabled
 * or in softirq context.
 */
static void ksalloc_soak_receive(struct ksalloc_soak_holder *h,
				 struct ksalloc_soak_cpu *c, u32 n)
{
	struct ksalloc_soak_held held;
	u32 got;

	for (got = 0; got < n; got++) {
		if (!ksalloc_soak_pop(&c->queue, &held))
			break;
		ksalloc_soak_put(h, &held);
	}
	if (got) {
		ksalloc_soak_add(&h->cross, got);
		ksalloc_soak_done(h, got);
	}
}

static int ksalloc_soak_proc_fn(void *data)
{
	struct ksalloc_soak_cpu *c = data;
	struct ksalloc_soak_holder *h = &c->proc;
	struct ksalloc_soak *s = h->soak;
	u32 round, n;
	bool bh;

	hrtimer_start(&c->hrtimer, s->period, HRTIMER_MODE_REL_PINNED_SOFT);
	for (round = 0; !kthread_should_stop(); round++) {
		bh = round & 1;
		if (bh)
			local_bh_disable();
		n = ksalloc_soak_pairs(h, 1 + ksalloc_soak_rnd(h) % KSALLOC_SOAK_BATCH,
				       round & 2);
		if (bh)
			local_bh_enable();
		ksalloc_soak_done(h, n);
		cond_resched();
	}
	return 0;
}

static int ksalloc_soak_xfer_fn(void *data)
{
	struct ksalloc_soak_cpu *c = data;
	struct ksalloc_soak_holder *h = &c->xfer;
	bool sent;
	u32 n;

	while (!kthread_should_stop()) {
		n = 1 + ksalloc_soak_rnd(h) % KSALLOC_SOAK_BATCH;
		local_bh_disable();
		sent = ksalloc_soak_send(h, c, n);
		ksalloc_soak_receive(h, c, 2 * n);
		local_bh_enable();
		/*
		 * The next CPU is behind (under TCG its vCPU may not be
		 * running at all): let this CPU's other holders run.
		 */
		if (!sent)
			usleep_range(20, 50);
		else
			cond_resched();
	}
	return 0;
}

/* Takes every free frame, up to hoard_max.  Returns how many. */
static u32 ksalloc_soak_hoard(struct ksalloc_soak_holder *h,
			      struct ksalloc_soak_held *hoard)
{
	u32 n = 0;

	while (n < h->soak->hoard_max && ksalloc_soak_get(h, &hoard[n]))
		n++;
	ksalloc_soak_add(&h->hoards, 1);
	return n;
}

static int ksalloc_soak_waiter_fn(void *data)
{
	struct ksalloc_soak_cpu *c = data;
	struct ksalloc_soak_holder *h = &c->waiter;
	struct ksalloc_soak *s = h->soak;
	struct ksalloc_soak_held held;
	long timeout;
	u32 n, i;
	int ret;

	while (!kthread_should_stop()) {
		n = 0;
		if (hoard_every && !(ksalloc_soak_rnd(h) % hoard_every))
			n = ksalloc_soak_hoard(h, c->hoard);

		timeout = 1 + ksalloc_soak_rnd(h) % max(wait_jiffies, 1U);
		ret = ksalloc_alloc_frame_wait(s->alloc, timeout, &held.frame);
		if (!ret) {
			ksalloc_soak_add(&h->served, 1);
			held.seq = ksalloc_soak_claim(h, held.frame);
			held.holder = h->id;
		} else if (ret == -ETIMEDOUT) {
			ksalloc_soak_add(&h->timeouts, 1);
		} else {
			ksalloc_soak_add(&h->errors, 1);
		}

		/* Give the hoard back one by one: the first go to waiters. */
		for (i = 0; i < n; i++)
			ksalloc_soak_put(h, &c->hoard[i]);
		if (!ret)
			ksalloc_soak_put(h, &held);
		ksalloc_soak_done(h, n + !ret);
		usleep_range(200, 400);
	}
	return 0;
}

static enum hrtimer_restart ksalloc_soak_timer_fn(struct hrtimer *timer)
{
	struct ksalloc_soak_cpu *c = container_of(timer, struct ksalloc_soak_cpu,
						  hrtimer);
	struct ksalloc_soak_holder *h = &c->timer;
	struct ksalloc_soak *s = h->soak;
	u32 done = 0, n;

	while (done < softirq_budget) {
		n = ksalloc_soak_pairs(h, 1 + ksalloc_soak_rnd(h) % 4, done & 1);
		if (!n)
			break;
		done += n;
	}
	ksalloc_soak_done(h, done);
	ksalloc_soak_send(h, c, 1 + ksalloc_soak_rnd(h) % 4);
	tasklet_schedule(&c->bh_tasklet);

	if (ksalloc_soak_stopping(s))
		return HRTIMER_NORESTART;
	hrtimer_forward_now(timer, s->period);
	return HRTIMER_RESTART;
}

static void ksalloc_soak_tasklet_fn(struct tasklet_struct *t)
{
	struct ksalloc_soak_cpu *c = from_tasklet(c, t, bh_tasklet);
	struct ksalloc_soak_holder *h = &c->tasklet;
	u32 done = 0, n;

	ksalloc_soak_receive(h, c, KSALLOC_SOAK_QUEUE / 4);
	while (done < softirq_budget / 4) {
		n = ksalloc_soak_pairs(h, 1 + ksalloc_soak_rnd(h) % 4, done & 1);
		if (!n)
			break;
		done += n;
	}
	ksalloc_soak_done(h, done);
}

/* Sums the counters of every holder into @st. */
static void ksalloc_soak_sum(struct ksalloc_soak *s,
			     struct ksalloc_soak_stats *st)
{
	struct ksalloc_soak_holder *all[5], *h;
	struct ksalloc_soak_cpu *c;
	unsigned int i, k;
	u64 pairs, cross;

	memset(st, 0, sizeof(*st));
	st->target = s->target;
	st->cpus = s->nr_cpus;
	st->state = READ_ONCE(s->state);
	if (st->state == KSALLOC_SOAK_STATE_DONE)
		st->elapsed_ns = s->elapsed_ns;
	else if (st->state == KSALLOC_SOAK_STATE_RUNNING)
		st->elapsed_ns = ktime_get_ns() - s->start_ns;

	for (i = 0; i < s->nr_cpus; i++) {
		c = s->cpus[i];
		all[0] = &c->proc;
		all[1] = &c->timer;
		all[2] = &c->tasklet;
		all[3] = &c->xfer;
		all[4] = &c->waiter;
		for (k = 0; k < ARRAY_SIZE(all); k++) {
			h = all[k];
			pairs = READ_ONCE(h->pairs);
			cross = READ_ONCE(h->cross);
			st->ops += pairs;
			st->cross_cpu += cross;
			if (h == &c->proc || h == &c->xfer)
				st->process += pairs - cross;
			else if (h == &c->timer || h == &c->tasklet)
				st->softirq += pairs - cross;
			else
				st->waiter += pairs;
			st->waits_served += READ_ONCE(h->served);
			st->wait_timeouts += READ_ONCE(h->timeouts);
			st->wait_errors += READ_ONCE(h->errors);
			st->hoards += READ_ONCE(h->hoards);
			st->enomem += READ_ONCE(h->enomem);
			st->queue_full += READ_ONCE(h->queue_full);
			st->mismatches += READ_ONCE(h->mismatches);
		}
	}
	h = &s->check;
	st->ops += READ_ONCE(h->pairs);
	st->cross_cpu += READ_ONCE(h->cross);
	st->wait_errors += READ_ONCE(h->errors);
	st->mismatches += READ_ONCE(h->mismatches);
}

static void ksalloc_soak_stop_task(struct task_struct **task)
{
	if (*task) {
		kthread_stop(*task);
		*task = NULL;
	}
}

/*
 * Stops every holder, in an order that keeps one from starting another:
 * the proc kthreads start the timers, the timers schedule the tasklets.
 * Then frees what the queues still hold.
 */
static void ksalloc_soak_teardown(struct ksalloc_soak *s)
{
	struct ksalloc_soak_stats st;
	struct ksalloc_soak_held held;
	struct ksalloc_soak_cpu *c;
	unsigned int i;
	u32 n;

	lockdep_assert_held(&s->mutex);
	if (s->state != KSALLOC_SOAK_STATE_RUNNING)
		return;
	set_bit(KSALLOC_SOAK_F_STOP, &s->flags);

	for (i = 0; i < s->nr_cpus; i++)
		ksalloc_soak_stop_task(&s->cpus[i]->proc_task);
	for (i = 0; i < s->nr_cpus; i++)
		hrtimer_cancel(&s->cpus[i]->hrtimer);
	for (i = 0; i < s->nr_cpus; i++)
		tasklet_kill(&s->cpus[i]->bh_tasklet);
	for (i = 0; i < s->nr_cpus; i++) {
		ksalloc_soak_stop_task(&s->cpus[i]->xfer_task);
		ksalloc_soak_stop_task(&s->cpus[i]->waiter_task);
	}

	for (i = 0; i < s->nr_cpus; i++) {
		c = s->cpus[i];
		n = 0;
		local_bh_disable();
		while (ksalloc_soak_pop(&c->queue, &held)) {
			ksalloc_soak_put(&s->check, &held);
			n++;
		}
		local_bh_enable();
		ksalloc_soak_add(&s->check.cross, n);
		ksalloc_soak_add(&s->check.pairs, n);
	}

	s->elapsed_ns = ktime_get_ns() - s->start_ns;
	WRITE_ONCE(s->state, KSALLOC_SOAK_STATE_DONE);

	ksalloc_soak_sum(s, &st);
	pr_info("done: %llu pairs in %llu ms (process %llu, softirq %llu, cross-CPU %llu, waiters %llu), %llu tag mismatches\n",
		st.ops, div_u64(st.elapsed_ns, NSEC_PER_MSEC), st.process,
		st.softirq, st.cross_cpu, st.waiter, st.mismatches);
}

static void ksalloc_soak_stop_work(struct work_struct *work)
{
	struct ksalloc_soak *s = container_of(work, struct ksalloc_soak,
					      stop_work);

	mutex_lock(&s->mutex);
	ksalloc_soak_teardown(s);
	mutex_unlock(&s->mutex);
}

static void ksalloc_soak_free_cpus(struct ksalloc_soak *s)
{
	unsigned int i;

	for (i = 0; i < s->nr_cpus; i++) {
		if (!s->cpus[i])
			continue;
		kvfree(s->cpus[i]->hoard);
		kfree(s->cpus[i]);
	}
	kfree(s->cpus);
	s->cpus = NULL;
	s->nr_cpus = 0;
}

static int ksalloc_soak_setup_cpu(struct ksalloc_soak *s,
				  struct ksalloc_soak_cpu *c, unsigned int cpu)
{
	struct task_struct *task;

	c->cpu = cpu;
	ksalloc_soak_holder_init(&c->proc, s, KSALLOC_SOAK_PROC, cpu);
	ksalloc_soak_holder_init(&c->timer, s, KSALLOC_SOAK_TIMER, cpu);
	ksalloc_soak_holder_init(&c->tasklet, s, KSALLOC_SOAK_TASKLET, cpu);
	ksalloc_soak_holder_init(&c->xfer, s, KSALLOC_SOAK_XFER, cpu);
	ksalloc_soak_holder_init(&c->waiter, s, KSALLOC_SOAK_WAITER, cpu);
	spin_lock_init(&c->queue.lock);
	hrtimer_init(&c->hrtimer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_SOFT);
	c->hrtimer.function = ksalloc_soak_timer_fn;
	tasklet_setup(&c->bh_tasklet, ksalloc_soak_tasklet_fn);

	c->hoard = kvmalloc_array(s->hoard_max, sizeof(*c->hoard), GFP_KERNEL);
	if (!c->hoard)
		return -ENOMEM;

	task = kthread_create_on_cpu(ksalloc_soak_proc_fn, c, cpu, "ksoak_proc/%u");
	if (IS_ERR(task))
		return PTR_ERR(task);
	c->proc_task = task;
	task = kthread_create_on_cpu(ksalloc_soak_xfer_fn, c, cpu, "ksoak_xfer/%u");
	if (IS_ERR(task))
		return PTR_ERR(task);
	c->xfer_task = task;
	task = kthread_create_on_cpu(ksalloc_soak_waiter_fn, c, cpu, "ksoak_wait/%u");
	if (IS_ERR(task))
		return PTR_ERR(task);
	c->waiter_task = task;
	return 0;
}

/* The allocator's table and framing, and frames that can hold the tags. */
static int ksalloc_soak_check_alloc(struct ksalloc_soak *s,
				    struct ksalloc *alloc,
				    struct ksalloc_status *status)
{
	int ret = ksalloc_get_function_table(alloc, &s->table);

	if (!ret)
		ret = ksalloc_get_status(alloc, status);
	if (ret)
		return ret;
	/* The tags are read and written as aligned 4- and 8-byte words. */
	if (status->framing.frame_size < sizeof(struct ksalloc_soak_tag))
		return -EINVAL;
	if (!IS_ALIGNED((unsigned long)ksalloc_frame_ptr(alloc, 0), 8) ||
	    (status->framing.frames > 1 &&
	     !IS_ALIGNED((unsigned long)ksalloc_frame_ptr(alloc, 1), 8)))
		return -EINVAL;
	return 0;
}

static int ksalloc_soak_attach(struct ksalloc_soak *s, void __user *argp)
{
	struct ksalloc_soak_attach arg;
	struct ksalloc_status status;
	struct ksalloc_soak_cpu *c;
	struct ksalloc *alloc;
	unsigned int cpu, i;
	int ret;

	lockdep_assert_held(&s->mutex);
	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.fd > INT_MAX)
		return -EINVAL;
	if (s->alloc)
		return -EBUSY;

	alloc = ksalloc_fdget(arg.fd);
	if (IS_ERR(alloc))
		return PTR_ERR(alloc);
	ret = ksalloc_soak_check_alloc(s, alloc, &status);
	if (ret)
		goto err_put;

	s->alloc = alloc;
	s->frames = status.framing.frames;
	s->hoard_max = min_t(u32, s->frames, KSALLOC_SOAK_MAX_HOARD);
	s->target = ops;
	s->period = ns_to_ktime((u64)clamp(period_us, 10U, 1000000U) * NSEC_PER_USEC);
	ksalloc_soak_holder_init(&s->check, s, KSALLOC_SOAK_CHECK, 0);

	ret = -ENOMEM;
	s->cpus = kcalloc(num_online_cpus(), sizeof(*s->cpus), GFP_KERNEL);
	if (!s->cpus)
		goto err_detach;
	for_each_online_cpu(cpu) {
		if (s->nr_cpus == num_online_cpus())
			break;
		c = kzalloc(sizeof(*c), GFP_KERNEL);
		if (!c) {
			ret = -ENOMEM;
			goto err_stop;
		}
		s->cpus[s->nr_cpus++] = c;
		ret = ksalloc_soak_setup_cpu(s, c, cpu);
		if (ret)
			goto err_stop;
	}
	for (i = 0; i < s->nr_cpus; i++)
		s->cpus[i]->next = s->cpus[(i + 1) % s->nr_cpus];

	s->start_ns = ktime_get_ns();
	s->state = KSALLOC_SOAK_STATE_RUNNING;
	for (i = 0; i < s->nr_cpus; i++) {
		c = s->cpus[i];
		wake_up_process(c->proc_task);
		wake_up_process(c->xfer_task);
		wake_up_process(c->waiter_task);
	}
	pr_info("soak of %llu pairs on %u CPUs, %u frames of %u bytes\n",
		s->target, s->nr_cpus, s->frames, status.framing.frame_size);
	return 0;

err_stop:
	/* Never woken: kthread_stop() keeps them from running at all. */
	for (i = 0; i < s->nr_cpus; i++) {
		c = s->cpus[i];
		ksalloc_soak_stop_task(&c->proc_task);
		ksalloc_soak_stop_task(&c->xfer_task);
		ksalloc_soak_stop_task(&c->waiter_task);
	}
	ksalloc_soak_free_cpus(s);
err_detach:
	s->alloc = NULL;
err_put:
	ksalloc_put(alloc);
	return ret;
}

/*
 * The final check, once the holders stopped and while user space holds
 * nothing: every frame can be taken again on this CPU alone (none is lost,
 * none stuck in another CPU's cache), each with the free tag; on the empty
 * pool a wait without a timeout fails at once and one of a jiffy times out.
 */
static int ksalloc_soak_check(struct ksalloc_soak *s, void __user *argp)
{
	struct ksalloc_soak_holder *h = &s->check;
	struct ksalloc_soak_check out = {};
	struct ksalloc_soak_held *held;
	struct ksalloc_status status;
	u64 before = READ_ONCE(h->mismatches);
	u32 n = 0, i;
	void *frame;

	lockdep_assert_held(&s->mutex);
	if (s->state != KSALLOC_SOAK_STATE_DONE)
		return s->alloc ? -EBUSY : -ENOTCONN;

	held = kvmalloc_array((size_t)s->frames + 1, sizeof(*held), GFP_KERNEL);
	if (!held)
		return -ENOMEM;

	local_bh_disable();
	while (n <= s->frames && ksalloc_soak_get(h, &held[n]))
		n++;
	local_bh_enable();
	out.frames = s->frames;
	out.drained = n;
	out.bad_tags = READ_ONCE(h->mismatches) - before;

	out.wait_now = ksalloc_alloc_frame_wait(s->alloc, 0, &frame);
	if (!out.wait_now && n <= s->frames) {
		held[n].seq = ksalloc_soak_claim(h, frame);
		held[n++].holder = h->id;
	}
	out.wait_tick = ksalloc_alloc_frame_wait(s->alloc, 1, &frame);
	if (!out.wait_tick && n <= s->frames) {
		held[n].seq = ksalloc_soak_claim(h, frame);
		held[n++].holder = h->id;
	}

	local_bh_disable();
	for (i = 0; i < n; i++)
		ksalloc_soak_put(h, &held[i]);
	local_bh_enable();
	ksalloc_soak_add(&h->pairs, n);
	kvfree(held);

	ksalloc_get_status(s->alloc, &status);
	out.allocated = status.allocated_frames;
	out.bad_tags = READ_ONCE(h->mismatches) - before;
	return copy_to_user(argp, &out, sizeof(out)) ? -EFAULT : 0;
}

static long ksalloc_soak_ioctl(struct file *file, unsigned int cmd,
			       unsigned long arg)
{
	struct ksalloc_soak *s = file->private_data;
	void __user *argp = (void __user *)arg;
	struct ksalloc_soak_stats st;
	long ret;

	switch (cmd) {
	case KSALLOC_SOAK_IOC_ATTACH:
		mutex_lock(&s->mutex);
		ret = ksalloc_soak_attach(s, argp);
		mutex_unlock(&s->mutex);
		return ret;
	case KSALLOC_SOAK_IOC_GET_STATS:
		mutex_lock(&s->mutex);
		ksalloc_soak_sum(s, &st);
		mutex_unlock(&s->mutex);
		return copy_to_user(argp, &st, sizeof(st)) ? -EFAULT : 0;
	case KSALLOC_SOAK_IOC_STOP:
		ksalloc_soak_request_stop(s);
		flush_work(&s->stop_work);
		return 0;
	case KSALLOC_SOAK_IOC_CHECK:
		mutex_lock(&s->mutex);
		ret = ksalloc_soak_check(s, argp);
		mutex_unlock(&s->mutex);
		return ret;
	default:
		return -ENOTTY;
	}
}

static int ksalloc_soak_open(struct inode *inode, struct file *file)
{
	struct ksalloc_soak *s;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	mutex_init(&s->mutex);
	atomic64_set(&s->done, 0);
	atomic_set(&s->logged, 0);
	INIT_WORK(&s->stop_work, ksalloc_soak_stop_work);
	file->private_data = s;
	return stream_open(inode, file);
}

static int ksalloc_soak_release(struct inode *inode, struct file *file)
{
	struct ksalloc_soak *s = file->private_data;

	ksalloc_soak_request_stop(s);
	flush_work(&s->stop_work);

	mutex_lock(&s->mutex);
	if (s->alloc) {
		ksalloc_soak_free_cpus(s);
		ksalloc_put(s->alloc);
		s->alloc = NULL;
	}
	mutex_unlock(&s->mutex);
	mutex_destroy(&s->mutex);
	kfree(s);
	return 0;
}

static const struct file_operations ksalloc_soak_fops = {
	.owner		= THIS_MODULE,
	.open		= ksalloc_soak_open,
	.release	= ksalloc_soak_release,
	.unlocked_ioctl	= ksalloc_soak_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

static struct miscdevice ksalloc_soak_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "ksalloc_soak",
	.fops	= &ksalloc_soak_fops,
};

module_misc_device(ksalloc_soak_misc);

MODULE_DESCRIPTION("ksalloc soak test: a long mixed load on one allocator");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("KSALLOC");
