// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite "ksalloc_stress": the races and stress runs of ksalloc, each
 * many rounds or a time budget long: kthreads on every CPU, timers,
 * tasklets and soft hrtimers against each other, timeouts against
 * hand-offs, the close and the last put against late frees, a softirq
 * against a CPU with interrupts off, and CPU hotplug over 4096
 * allocators.  The unit cases are the suite "ksalloc" (kunit/unit.c).
 */

#include <kunit/test.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/ksalloc.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timer.h>

#include "../module/ksalloc_internal.h"
#include "helpers.h"

/* ---- a timeout against a free in the same tick ------------------------------ */

struct ksalloc_timed_free {
	struct timer_list timer;
	struct completion fired;
	struct ksalloc *alloc;
	void *frame;
};

static void ksalloc_timed_free_fn(struct timer_list *t)
{
	struct ksalloc_timed_free *tf = from_timer(tf, t, timer);

	ksalloc_free_frame(tf->alloc, tf->frame);
	complete(&tf->fired);
}

/*
 * A free from a timer races with a waiter's timeout expiring in the same
 * tick.  Whichever wins, the frame is never lost: after every round it is
 * either the waiter's or free again.
 */
static void ksalloc_timeout_race_test(struct kunit *test)
{
	struct ksalloc *alloc = ksalloc_test_create(test, 1, 64, 0, 0);
	struct ksalloc_timed_free *tf = kunit_kzalloc(test, sizeof(*tf), GFP_KERNEL);
	int round, served = 0, timed_out = 0;
	void *got;

	KUNIT_ASSERT_NOT_NULL(test, tf);
	tf->alloc = alloc;
	init_completion(&tf->fired);
	timer_setup(&tf->timer, ksalloc_timed_free_fn, 0);
	for (round = 0; round < 300; round++) {
		int ret;

		KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &tf->frame));
		reinit_completion(&tf->fired);
		mod_timer(&tf->timer, jiffies + 1 + (round & 1));
		ret = ksalloc_alloc_frame_wait(alloc, 1 + (round % 3 == 0), &got);
		/* Let the free happen if the wait gave up first. */
		KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&tf->fired, 10 * HZ), 0);
		if (!ret) {
			KUNIT_EXPECT_PTR_EQ(test, got, tf->frame);
			ksalloc_free_frame(alloc, got);
			served++;
		} else {
			KUNIT_EXPECT_EQ(test, ret, -ETIMEDOUT);
			timed_out++;
		}
		KUNIT_ASSERT_EQ(test, 0, ksalloc_test_allocated(test, alloc));
		KUNIT_ASSERT_EQ(test, 0, ksalloc_check_invariants(alloc));
	}
	timer_delete_sync(&tf->timer);
	kunit_info(test, "%d served, %d timed out\n", served, timed_out);
	KUNIT_EXPECT_EQ(test, served + timed_out, 300);
}

/* ---- stress ----------------------------------------------------------------- */

#define KSALLOC_STRESS_FRAMES	8
#define KSALLOC_STRESS_SIZE	64
#define KSALLOC_STRESS_OPS	1000000
#define KSALLOC_STRESS_HOLD	6	/* frames a kthread holds at once */
#define KSALLOC_TIMER_HOLD	2	/* frames the timer keeps across ticks */

/*
 * The stress cases run to an operation or round count.  Under QEMU TCG
 * with KCSAN or KASAN (the x86_64 profiles of scripts/kunit.sh) they are
 * tens of times slower than on UML, so there they also stop when their time
 * budget is spent, and report how far they got.
 */
#define KSALLOC_BUDGET_SECS	(IS_ENABLED(CONFIG_UML) ? 300 : 20)

static unsigned long ksalloc_deadline(unsigned int secs)
{
	return jiffies + secs * HZ;
}

struct ksalloc_stress {
	struct ksalloc *alloc;
	struct ksalloc_function_table table;
	atomic_t owner[KSALLOC_STRESS_FRAMES];	/* 0 free, else the holder's id */
	atomic_long_t got;			/* frames taken, by anyone */
	atomic_long_t ops;			/* frames given back */
	atomic_long_t bh_ops;			/* of which in softirq context */
	atomic_long_t timeouts;			/* waits that timed out */
	atomic_t errors;
	atomic_t running;
	struct completion all_done;
	struct timer_list timer;
	void *timer_held[KSALLOC_TIMER_HOLD];
	struct tasklet_struct tasklet;
	struct hrtimer hrtimer;
	unsigned long deadline;
	long target;
	bool stop;
};

static bool ksalloc_stress_over(struct ksalloc_stress *s)
{
	return atomic_long_read(&s->ops) >= s->target ||
	       time_after(jiffies, READ_ONCE(s->deadline));
}

/* Claims a fresh frame for @id (its slot must be free) and fills it. */
static void ksalloc_stress_claim(struct ksalloc_stress *s, void *frame, int id)
{
	u32 i = ksalloc_frame_index(s->alloc, frame);

	if (i >= KSALLOC_STRESS_FRAMES || atomic_cmpxchg(&s->owner[i], 0, id))
		atomic_inc(&s->errors);
	memset(frame, id, KSALLOC_STRESS_SIZE);
	atomic_long_inc(&s->got);
}

/* Checks that nobody touched @id's frame, releases and frees it. */
static void ksalloc_stress_release(struct ksalloc_stress *s, void *frame, int id)
{
	u32 i = ksalloc_frame_index(s->alloc, frame);
	u8 *p = frame;
	int k;

	for (k = 0; k < KSALLOC_STRESS_SIZE; k++)
		if (p[k] != (u8)id)
			atomic_inc(&s->errors);
	if (i >= KSALLOC_STRESS_FRAMES || atomic_cmpxchg(&s->owner[i], id, 0) != id)
		atomic_inc(&s->errors);
	s->table.free_frame(s->alloc, frame);
	atomic_long_inc(&s->ops);
	if (in_serving_softirq())
		atomic_long_inc(&s->bh_ops);
}

/* Quick allocate-use-free cycles, as a softirq consumer would do. */
static void ksalloc_stress_bh(struct ksalloc_stress *s, int id)
{
	void *f;
	int n;

	for (n = 0; n < 32; n++) {
		if (s->table.allocate_frame(s->alloc, &f))
			continue;
		ksalloc_stress_claim(s, f, id);
		ksalloc_stress_release(s, f, id);
	}
}

/*
 * Every tick the timer gives back the frames it kept since the last tick
 * (handing them to waiting kthreads), keeps new ones, and cycles a few.
 */
static void ksalloc_stress_timer_fn(struct timer_list *t)
{
	struct ksalloc_stress *s = from_timer(s, t, timer);
	bool stop = READ_ONCE(s->stop);
	int k;

	for (k = 0; k < KSALLOC_TIMER_HOLD; k++) {
		if (s->timer_held[k])
			ksalloc_stress_release(s, s->timer_held[k], 0xf0);
		s->timer_held[k] = NULL;
		if (!stop && !s->table.allocate_frame(s->alloc, &s->timer_held[k]))
			ksalloc_stress_claim(s, s->timer_held[k], 0xf0);
	}
	ksalloc_stress_bh(s, 0xf1);
	if (!stop)
		mod_timer(&s->timer, jiffies + 1);
}

/*
 * Stops the softirq side of a stress run: one last tick of the timer gives
 * its frames back and does not rearm, then the tasklet is killed.
 */
static void ksalloc_stress_stop_bh(struct ksalloc_stress *s)
{
	WRITE_ONCE(s->stop, true);
	mod_timer(&s->timer, jiffies);
	while (timer_pending(&s->timer))
		msleep(20);
	timer_delete_sync(&s->timer);
	tasklet_kill(&s->tasklet);
}

static void ksalloc_stress_tasklet_fn(struct tasklet_struct *t)
{
	struct ksalloc_stress *s = from_tasklet(s, t, tasklet);

	ksalloc_stress_bh(s, 0xf2);
}

/*
 * Each round takes up to KSALLOC_STRESS_HOLD frames through the table,
 * now and then waits for one more (served by a hand-off from the timer or
 * another CPU), then checks and frees them all.
 */
static int ksalloc_stress_thread(void *data)
{
	struct ksalloc_stress *s = data;
	int id = 1 + smp_processor_id() % 0x7f;
	void *held[KSALLOC_STRESS_HOLD + 1];
	unsigned long round = 0;

	while (!ksalloc_stress_over(s)) {
		int n = 0, k;

		while (n < KSALLOC_STRESS_HOLD &&
		       !s->table.allocate_frame(s->alloc, &held[n]))
			ksalloc_stress_claim(s, held[n++], id);
		if (++round % 128 == 0 &&
		    !ksalloc_alloc_frame_wait(s->alloc, 2, &held[n]))
			ksalloc_stress_claim(s, held[n++], id);
		for (k = 0; k < n; k++)
			ksalloc_stress_release(s, held[k], id);
		if (round % 16 == 0) {
			tasklet_schedule(&s->tasklet);
			cond_resched();
		}
	}
	return ksalloc_test_thread_finish(&s->running, &s->all_done);
}

/*
 * Kthreads bound to every CPU, a self-rearming timer and a tasklet all
 * allocate, write, verify and free through the table until at least 10^6
 * frames went through (on UML; under QEMU TCG until the time budget is
 * spent), with the pool exhausted often enough that waits and hand-offs
 * happen.  No frame may be handed out twice, no pattern may be disturbed,
 * and at the end every frame is free and the free list intact.
 */
static void ksalloc_stress_test(struct kunit *test)
{
	struct ksalloc_stress *s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);
	struct task_struct **tasks;
	struct ksalloc_stats st;
	int cpu, i = 0, n = num_online_cpus();

	KUNIT_ASSERT_NOT_NULL(test, s);
	tasks = kunit_kcalloc(test, nr_cpu_ids, sizeof(*tasks), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, tasks);
	s->alloc = ksalloc_test_create(test, KSALLOC_STRESS_FRAMES,
				       KSALLOC_STRESS_SIZE, 7, 0);
	KUNIT_ASSERT_EQ(test, 0, ksalloc_get_function_table(s->alloc, &s->table));
	init_completion(&s->all_done);
	atomic_set(&s->running, n);
	s->target = KSALLOC_STRESS_OPS;
	s->deadline = ksalloc_deadline(KSALLOC_BUDGET_SECS);
	timer_setup(&s->timer, ksalloc_stress_timer_fn, 0);
	tasklet_setup(&s->tasklet, ksalloc_stress_tasklet_fn);
	mod_timer(&s->timer, jiffies + 1);

	for_each_online_cpu(cpu) {
		tasks[i] = kthread_create_on_cpu(ksalloc_stress_thread, s, cpu,
						 "ksalloc-stress/%u");
		KUNIT_ASSERT_FALSE(test, IS_ERR(tasks[i]));
		wake_up_process(tasks[i++]);
	}
	KUNIT_EXPECT_GT(test, wait_for_completion_timeout(&s->all_done, 600 * HZ), 0);
	for (i = 0; i < n; i++)
		kthread_stop(tasks[i]);
	ksalloc_stress_stop_bh(s);

	st = ksalloc_test_stats(test, s->alloc);
	kunit_info(test, "%ld frames through %d CPUs, timer and tasklet (%ld in softirq); %llu waits, %llu hand-offs\n",
		   atomic_long_read(&s->ops), n, atomic_long_read(&s->bh_ops),
		   st.waits, st.handoffs);
	/*
	 * Under TCG with more vCPUs than host cores, a vCPU that the host
	 * preempts while it holds the allocator's lock leaves the others
	 * spinning for a host time slice, so there the count is far lower.
	 */
	if (IS_ENABLED(CONFIG_UML))
		KUNIT_EXPECT_GE(test, atomic_long_read(&s->ops), KSALLOC_STRESS_OPS);
	else
		KUNIT_EXPECT_GE(test, atomic_long_read(&s->ops), 1000);
	KUNIT_EXPECT_GT(test, st.waits, 0);
	KUNIT_EXPECT_GT(test, st.handoffs, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&s->errors), 0);
	KUNIT_EXPECT_EQ(test, st.allocs, st.frees);
	KUNIT_EXPECT_EQ(test, st.allocs, atomic_long_read(&s->got));
	KUNIT_EXPECT_EQ(test, st.frees, atomic_long_read(&s->ops));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_test_allocated(test, s->alloc));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(s->alloc));
}

/* ---- softirq on one CPU against process context on another --------------- */

#define KSALLOC_HRTIMER_NS	(200 * NSEC_PER_USEC)

static enum hrtimer_restart ksalloc_stress_hrtimer_fn(struct hrtimer *t)
{
	struct ksalloc_stress *s = container_of(t, struct ksalloc_stress, hrtimer);

	ksalloc_stress_bh(s, 0xf3);
	if (READ_ONCE(s->stop))
		return HRTIMER_NORESTART;
	hrtimer_forward_now(t, ns_to_ktime(KSALLOC_HRTIMER_NS));
	return HRTIMER_RESTART;
}

/*
 * Runs on the softirq CPU: starts the soft hrtimer there (pinned) and keeps
 * scheduling the tasklet there, until the process side is done.
 */
static int ksalloc_bh_driver_fn(void *data)
{
	struct ksalloc_stress *s = data;

	hrtimer_start(&s->hrtimer, ns_to_ktime(KSALLOC_HRTIMER_NS),
		      HRTIMER_MODE_REL_PINNED_SOFT);
	while (!READ_ONCE(s->stop)) {
		tasklet_schedule(&s->tasklet);
		usleep_range(50, 100);
	}
	hrtimer_cancel(&s->hrtimer);
	complete(&s->all_done);
	return ksalloc_test_thread_exit();
}

/* Process context: cycles of up to KSALLOC_STRESS_HOLD frames, some BH-off. */
static int ksalloc_task_side_fn(void *data)
{
	struct ksalloc_stress *s = data;
	void *held[KSALLOC_STRESS_HOLD];
	unsigned long round = 0;

	while (!ksalloc_stress_over(s)) {
		bool bh_off = ++round & 1;
		int n = 0, k;

		if (bh_off)
			local_bh_disable();
		while (n < KSALLOC_STRESS_HOLD &&
		       !s->table.allocate_frame(s->alloc, &held[n]))
			ksalloc_stress_claim(s, held[n++], 0x11);
		for (k = 0; k < n; k++)
			ksalloc_stress_release(s, held[k], 0x11);
		if (bh_off)
			local_bh_enable();
		if (round % 64 == 0)
			cond_resched();
	}
	WRITE_ONCE(s->stop, true);
	complete(&s->all_done);
	return ksalloc_test_thread_exit();
}

/*
 * A timer, a tasklet and a soft hrtimer, all on one CPU, allocate and free
 * through the table against a kthread bound to another CPU (the same one
 * on a uniprocessor, where softirqs then interrupt it), which sometimes runs
 * with BH disabled.  No frame is handed out twice or disturbed, and at the
 * end every frame is back, with as many allocations as frees.
 */
static void ksalloc_softirq_vs_task_test(struct kunit *test)
{
	struct ksalloc_stress *s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);
	unsigned int bh_cpu = cpumask_first(cpu_online_mask), task_cpu;
	struct task_struct *driver, *task;
	struct ksalloc_stats st;

	KUNIT_ASSERT_NOT_NULL(test, s);
	task_cpu = cpumask_next(bh_cpu, cpu_online_mask);
	if (task_cpu >= nr_cpu_ids)
		task_cpu = bh_cpu;
	s->alloc = ksalloc_test_create(test, KSALLOC_STRESS_FRAMES,
				       KSALLOC_STRESS_SIZE, 7, 0);
	KUNIT_ASSERT_EQ(test, 0, ksalloc_get_function_table(s->alloc, &s->table));
	s->target = KSALLOC_STRESS_OPS / 2;
	s->deadline = ksalloc_deadline(KSALLOC_BUDGET_SECS / 2);
	init_completion(&s->all_done);
	timer_setup(&s->timer, ksalloc_stress_timer_fn, TIMER_PINNED);
	tasklet_setup(&s->tasklet, ksalloc_stress_tasklet_fn);
	hrtimer_init(&s->hrtimer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_SOFT);
	s->hrtimer.function = ksalloc_stress_hrtimer_fn;
	s->timer.expires = jiffies + 1;
	add_timer_on(&s->timer, bh_cpu);

	driver = kthread_create_on_cpu(ksalloc_bh_driver_fn, s, bh_cpu,
				       "ksalloc-bh/%u");
	KUNIT_ASSERT_FALSE(test, IS_ERR(driver));
	task = kthread_create_on_cpu(ksalloc_task_side_fn, s, task_cpu,
				     "ksalloc-task/%u");
	if (IS_ERR(task)) {
		WRITE_ONCE(s->stop, true);
		task = NULL;
	}
	wake_up_process(driver);
	if (task)
		wake_up_process(task);
	/* Both the task side and the softirq driver complete. */
	KUNIT_EXPECT_GT(test, wait_for_completion_timeout(&s->all_done, 600 * HZ), 0);
	KUNIT_EXPECT_GT(test, wait_for_completion_timeout(&s->all_done, 60 * HZ), 0);
	if (task)
		kthread_stop(task);
	kthread_stop(driver);
	KUNIT_ASSERT_NOT_NULL(test, task);

	ksalloc_stress_stop_bh(s);

	st = ksalloc_test_stats(test, s->alloc);
	kunit_info(test, "%ld frames, %ld of them in softirq on CPU %u, the rest by a task on CPU %u\n",
		   atomic_long_read(&s->ops), atomic_long_read(&s->bh_ops),
		   bh_cpu, task_cpu);
	KUNIT_EXPECT_GT(test, atomic_long_read(&s->bh_ops), 0);
	KUNIT_EXPECT_GT(test, atomic_long_read(&s->ops) - atomic_long_read(&s->bh_ops), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&s->errors), 0);
	KUNIT_EXPECT_EQ(test, st.allocs, atomic_long_read(&s->got));
	KUNIT_EXPECT_EQ(test, st.frees, atomic_long_read(&s->ops));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_test_allocated(test, s->alloc));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(s->alloc));
}

/* ---- waiters timing out during hand-offs ----------------------------------- */

#define KSALLOC_HANDOFF_FRAMES	2

/* Waits with a timeout of one or two jiffies, over and over. */
static int ksalloc_short_waiter_fn(void *data)
{
	struct ksalloc_stress *s = data;
	int id = 0x20 + (current->pid & 0x1f);
	unsigned long n = 0;

	while (!ksalloc_stress_over(s)) {
		void *f;
		int ret = ksalloc_alloc_frame_wait(s->alloc, 1 + (++n & 1), &f);

		if (!ret) {
			ksalloc_stress_claim(s, f, id);
			udelay(get_random_u32_below(20));
			ksalloc_stress_release(s, f, id);
			if (n % 4 == 0)
				usleep_range(20, 200);
		} else if (ret == -ETIMEDOUT) {
			atomic_long_inc(&s->timeouts);
		} else {
			atomic_inc(&s->errors);
		}
	}
	return ksalloc_test_thread_finish(&s->running, &s->all_done);
}

/*
 * Waits its turn for both frames, holds them for up to three jiffies, so
 * that the waiters queued meanwhile time out, then frees them.
 */
static int ksalloc_slow_holder_fn(void *data)
{
	struct ksalloc_stress *s = data;
	void *held[2];

	while (!ksalloc_stress_over(s)) {
		int n = 0, k, ret;

		while (n < 2) {
			ret = ksalloc_alloc_frame_wait(s->alloc, HZ, &held[n]);
			if (ret) {
				if (ret == -ETIMEDOUT)
					atomic_long_inc(&s->timeouts);
				else
					atomic_inc(&s->errors);
				break;
			}
			ksalloc_stress_claim(s, held[n++], 0x12);
		}
		/* In jiffies, the clock of the waiters' timeouts. */
		schedule_timeout_uninterruptible(1 + get_random_u32_below(3));
		for (k = 0; k < n; k++)
			ksalloc_stress_release(s, held[k], 0x12);
	}
	return ksalloc_test_thread_finish(&s->running, &s->all_done);
}

/*
 * Several kthreads wait with timeouts of one or two jiffies while a timer
 * (which keeps frames from one tick to the next) and a kthread (which waits
 * for both frames and keeps them for a random while) give frames back, so
 * that timeouts expire in the same tick as hand-offs.  No frame is lost: every frame anyone got
 * was given back, the allocator counted as many allocations and frees as
 * the holders did, each queued wait was either served or timed out, and
 * every frame is free at the end.
 */
static void ksalloc_timeout_handoff_test(struct kunit *test)
{
	struct ksalloc_stress *s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);
	int i, n = max(3U, 2 * num_online_cpus());
	struct task_struct **tasks;
	struct ksalloc_stats st;

	KUNIT_ASSERT_NOT_NULL(test, s);
	tasks = kunit_kcalloc(test, n + 1, sizeof(*tasks), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, tasks);
	s->alloc = ksalloc_test_create(test, KSALLOC_HANDOFF_FRAMES,
				       KSALLOC_STRESS_SIZE, 0, 0);
	KUNIT_ASSERT_EQ(test, 0, ksalloc_get_function_table(s->alloc, &s->table));
	s->target = LONG_MAX;
	s->deadline = ksalloc_deadline(5);
	init_completion(&s->all_done);
	atomic_set(&s->running, n + 1);
	timer_setup(&s->timer, ksalloc_stress_timer_fn, 0);
	tasklet_setup(&s->tasklet, ksalloc_stress_tasklet_fn);
	mod_timer(&s->timer, jiffies + 1);

	for (i = 0; i <= n; i++) {
		tasks[i] = kthread_run(i < n ? ksalloc_short_waiter_fn :
				       ksalloc_slow_holder_fn, s, "ksalloc-to/%d", i);
		if (IS_ERR(tasks[i])) {
			tasks[i] = NULL;
			WRITE_ONCE(s->deadline, jiffies);
			if (atomic_dec_and_test(&s->running))
				complete(&s->all_done);
		}
	}
	KUNIT_EXPECT_GT(test, wait_for_completion_timeout(&s->all_done, 600 * HZ), 0);
	for (i = 0; i <= n; i++)
		if (tasks[i])
			kthread_stop(tasks[i]);
	WRITE_ONCE(s->stop, true);
	mod_timer(&s->timer, jiffies);
	while (timer_pending(&s->timer))
		msleep(20);
	timer_delete_sync(&s->timer);
	tasklet_kill(&s->tasklet);
	for (i = 0; i <= n; i++)
		KUNIT_ASSERT_NOT_NULL(test, tasks[i]);

	st = ksalloc_test_stats(test, s->alloc);
	kunit_info(test, "%d waiters: %ld frames, %llu waits, %llu hand-offs, %ld timeouts\n",
		   n, atomic_long_read(&s->ops), st.waits, st.handoffs,
		   atomic_long_read(&s->timeouts));
	KUNIT_EXPECT_EQ(test, atomic_read(&s->errors), 0);
	KUNIT_EXPECT_GT(test, st.handoffs, 0);
	KUNIT_EXPECT_GT(test, atomic_long_read(&s->timeouts), 0);
	KUNIT_EXPECT_EQ(test, st.wait_timeouts, atomic_long_read(&s->timeouts));
	KUNIT_EXPECT_EQ(test, st.waits, st.handoffs + st.wait_timeouts);
	KUNIT_EXPECT_EQ(test, st.waiters, 0);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&s->got), atomic_long_read(&s->ops));
	KUNIT_EXPECT_EQ(test, st.allocs, atomic_long_read(&s->got));
	KUNIT_EXPECT_EQ(test, st.frees, atomic_long_read(&s->ops));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_test_allocated(test, s->alloc));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(s->alloc));
}

/* ---- close against waiters, table users and ksalloc_get_file() ----------- */

#define KSALLOC_CLOSE_WAITERS	3
#define KSALLOC_CLOSE_THREADS	(KSALLOC_CLOSE_WAITERS + 2)

struct ksalloc_close_race {
	struct ksalloc *alloc;
	struct ksalloc_function_table table;
	struct file *file;
	int drop_at;			/* the getter drops its file reference then */
	atomic_t errors;
	atomic_t running;
	atomic_long_t ops;
	atomic_long_t late_frees;	/* frees accepted after -ENODEV was seen */
	atomic_long_t gets;		/* ksalloc_get_file() calls */
	struct completion all_done;
	struct timer_list timer;
	void *timer_held[2];
	bool timer_closed;
	struct completion timer_done;
};

static void ksalloc_close_race_exit(struct ksalloc_close_race *r)
{
	ksalloc_test_thread_finish(&r->running, &r->all_done);
}

/* Frees a frame by index: after the close too, it must be accepted. */
static void ksalloc_close_race_free(struct ksalloc_close_race *r, void *f,
				    bool late)
{
	if (ksalloc_free_index(r->alloc, ksalloc_frame_index(r->alloc, f)))
		atomic_inc(&r->errors);
	if (late)
		atomic_long_inc(&r->late_frees);
	atomic_long_inc(&r->ops);
}

/* Waits (10 s at most) until the close answers -ENODEV. */
static int ksalloc_close_waiter_fn(void *data)
{
	struct ksalloc_close_race *r = data;
	void *f;
	int ret;

	while (!(ret = ksalloc_alloc_frame_wait(r->alloc, 10 * HZ, &f))) {
		cond_resched();
		ksalloc_close_race_free(r, f, false);
	}
	if (ret != -ENODEV)
		atomic_inc(&r->errors);
	ksalloc_close_race_exit(r);
	return 0;
}

/* Keeps up to two frames through the table; frees them after the close. */
static int ksalloc_close_user_fn(void *data)
{
	struct ksalloc_close_race *r = data;
	void *held[2] = {};
	unsigned int k = 0;
	int ret;

	for (;;) {
		if (held[k])
			ksalloc_close_race_free(r, held[k], false);
		held[k] = NULL;
		ret = r->table.allocate_frame(r->alloc, &held[k]);
		if (ret == -ENODEV)
			break;
		if (ret && ret != -ENOMEM)
			atomic_inc(&r->errors);
		k ^= 1;
		cond_resched();
	}
	for (k = 0; k < 2; k++)
		if (held[k])
			ksalloc_close_race_free(r, held[k], true);
	ksalloc_close_race_exit(r);
	return 0;
}

/*
 * Takes the allocator from the file again and again, holding a file
 * reference of its own, which it drops after drop_at rounds; then goes on
 * with the last allocator reference it took until the close, and puts it.
 */
static int ksalloc_close_getter_fn(void *data)
{
	struct ksalloc_close_race *r = data;
	struct ksalloc *prev = NULL, *a;
	void *f;
	int i, ret;

	for (i = 0; i < r->drop_at; i++) {
		get_file(r->file);
		a = ksalloc_get_file(r->file);
		__fput_sync(r->file);
		if (a != r->alloc) {
			atomic_inc(&r->errors);
			break;
		}
		atomic_long_inc(&r->gets);
		ksalloc_put(prev);
		prev = a;
	}
	__fput_sync(r->file);		/* our own file reference */
	if (prev) {
		while (!(ret = r->table.allocate_frame(prev, &f)))
			ksalloc_close_race_free(r, f, false);
		if (ret != -ENODEV && ret != -ENOMEM)
			atomic_inc(&r->errors);
		ksalloc_put(prev);
	}
	ksalloc_close_race_exit(r);
	return 0;
}

/* Softirq table user: keeps two frames across ticks until the close. */
static void ksalloc_close_timer_fn(struct timer_list *t)
{
	struct ksalloc_close_race *r = from_timer(r, t, timer);
	int k, ret;

	for (k = 0; k < 2; k++) {
		if (r->timer_held[k])
			ksalloc_close_race_free(r, r->timer_held[k], r->timer_closed);
		r->timer_held[k] = NULL;
		if (r->timer_closed)
			continue;
		ret = r->table.allocate_frame(r->alloc, &r->timer_held[k]);
		if (ret == -ENODEV)
			r->timer_closed = true;
		else if (ret && ret != -ENOMEM)
			atomic_inc(&r->errors);
	}
	if (r->timer_closed && !r->timer_held[0] && !r->timer_held[1])
		complete(&r->timer_done);
	else
		mod_timer(&r->timer, jiffies + 1);
}

/*
 * Many rounds, each with a fresh framed file: waiters, a table user in a
 * kthread and one in a timer, and a thread taking the allocator with
 * ksalloc_get_file() all run while the last two file references are
 * dropped at random moments, so that the release (ksalloc_close()) races
 * with all of them.  Every waiter ends with -ENODEV, frees after the close
 * are accepted, no frame stays out, and once the test's own reference goes
 * the memory is released.
 */
static void ksalloc_close_race_test(struct kunit *test)
{
	struct ksalloc_close_race *r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	const struct ksalloc_framing framing = { .frames = 2, .frame_size = 64 };
	struct task_struct *tasks[KSALLOC_CLOSE_THREADS];
	unsigned long deadline = ksalloc_deadline(KSALLOC_BUDGET_SECS / 4);
	u64 before = ksalloc_test_charged();
	long late = 0, ops = 0, gets = 0;
	int round, rounds = 200, i;
	void *held;

	KUNIT_ASSERT_NOT_NULL(test, r);
	for (round = 0; round < rounds && !time_after(jiffies, deadline); round++) {
		memset(r, 0, sizeof(*r));
		r->file = ksalloc_kunit_file(&framing);
		KUNIT_ASSERT_FALSE(test, IS_ERR(r->file));
		r->alloc = ksalloc_get_file(r->file);	/* the test's reference */
		KUNIT_ASSERT_FALSE(test, IS_ERR(r->alloc));
		KUNIT_ASSERT_EQ(test, 0, ksalloc_get_function_table(r->alloc, &r->table));
		r->drop_at = get_random_u32_below(64);
		init_completion(&r->all_done);
		init_completion(&r->timer_done);
		atomic_set(&r->running, KSALLOC_CLOSE_THREADS);
		/*
		 * Every fourth round the test holds a frame through the close
		 * itself, so that a free after the close happens for sure:
		 * the table users hold frames at the close only by chance
		 * (the waiters come first).
		 */
		held = NULL;
		if ((round & 3) == 3)
			KUNIT_ASSERT_EQ(test, 0, r->table.allocate_frame(r->alloc, &held));
		timer_setup(&r->timer, ksalloc_close_timer_fn, 0);
		mod_timer(&r->timer, jiffies);

		get_file(r->file);			/* the getter's */
		for (i = 0; i < KSALLOC_CLOSE_THREADS; i++) {
			int (*fn)(void *) = i < KSALLOC_CLOSE_WAITERS ?
				ksalloc_close_waiter_fn : i == KSALLOC_CLOSE_WAITERS ?
				ksalloc_close_user_fn : ksalloc_close_getter_fn;

			tasks[i] = kthread_run(fn, r, "ksalloc-close/%d", i);
			KUNIT_ASSERT_FALSE(test, IS_ERR(tasks[i]));
		}
		/* Drop the opener's reference a random while later. */
		if (round & 1)
			udelay(get_random_u32_below(200));
		else
			msleep(get_random_u32_below(3));
		__fput_sync(r->file);

		KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&r->all_done, 60 * HZ), 0);
		KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&r->timer_done, 60 * HZ), 0);
		for (i = 0; i < KSALLOC_CLOSE_THREADS; i++)
			kthread_stop(tasks[i]);
		timer_delete_sync(&r->timer);
		if (held)
			ksalloc_close_race_free(r, held, true);

		KUNIT_ASSERT_EQ(test, atomic_read(&r->errors), 0);
		KUNIT_ASSERT_EQ(test, 0, ksalloc_test_allocated(test, r->alloc));
		KUNIT_ASSERT_EQ(test, 0, ksalloc_check_invariants(r->alloc));
		KUNIT_ASSERT_FALSE(test, ksalloc_dispatch_active(r->alloc));
		KUNIT_ASSERT_GT(test, ksalloc_charged_bytes(), before);
		ksalloc_put(r->alloc);			/* the last reference */
		late += atomic_long_read(&r->late_frees);
		ops += atomic_long_read(&r->ops);
		gets += atomic_long_read(&r->gets);
	}
	/*
	 * Every allocator is released, once the rechecks' grace periods are
	 * over: waiting for that each round would make rounds few.
	 */
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(before), before);
	kunit_info(test, "%d rounds: %ld frees (%ld after the close), %ld ksalloc_get_file()\n",
		   round, ops, late, gets);
	KUNIT_EXPECT_GT(test, late, 0);
	KUNIT_EXPECT_GT(test, gets, 0);
}

/* ---- the last put against a late free --------------------------------------- */

enum ksalloc_last_put_kind {
	KSALLOC_LP_PUT_VS_FREE,		/* a consumer's put against the last free */
	KSALLOC_LP_FREE_VS_FREE,	/* two frees, no reference held */
	KSALLOC_LP_FREE_IN_FREE,	/* a softirq frees the last frame inside a free */
	KSALLOC_LP_KINDS
};

struct ksalloc_last_put;

struct ksalloc_lp_worker {
	struct ksalloc_last_put *lp;
	struct task_struct *task;
	struct completion start, done;
	int id;
};

struct ksalloc_last_put {
	struct ksalloc *alloc;
	enum ksalloc_last_put_kind kind;
	void *frame[2];
	atomic_t ready;
	bool quit;
	struct tasklet_struct tasklet;
	struct completion tasklet_done;
	struct ksalloc_lp_worker w[2];
};

static void ksalloc_lp_tasklet_fn(struct tasklet_struct *t)
{
	struct ksalloc_last_put *lp = from_tasklet(lp, t, tasklet);

	ksalloc_free_frame(lp->alloc, lp->frame[1]);
	complete(&lp->tasklet_done);
}

static void ksalloc_lp_act(struct ksalloc_last_put *lp, int id)
{
	switch (lp->kind) {
	case KSALLOC_LP_PUT_VS_FREE:
		if (id)
			ksalloc_put(lp->alloc);
		else
			ksalloc_free_frame(lp->alloc, lp->frame[0]);
		break;
	case KSALLOC_LP_FREE_VS_FREE:
		ksalloc_free_frame(lp->alloc, lp->frame[id]);
		break;
	case KSALLOC_LP_FREE_IN_FREE:
		if (id)
			break;
		/*
		 * Pending, the tasklet runs when the free's spin_unlock_bh()
		 * enables BH again, before the free returns.
		 */
		tasklet_schedule(&lp->tasklet);
		ksalloc_free_frame(lp->alloc, lp->frame[0]);
		break;
	default:
		break;
	}
}

static int ksalloc_lp_worker_fn(void *data)
{
	struct ksalloc_lp_worker *w = data;
	struct ksalloc_last_put *lp = w->lp;

	for (;;) {
		unsigned long until;

		wait_for_completion(&w->start);
		if (READ_ONCE(lp->quit))
			break;
		/* Start together, when there are two CPUs to race on. */
		atomic_inc(&lp->ready);
		until = jiffies + HZ / 10;
		while (num_online_cpus() > 1 && atomic_read(&lp->ready) < 2 &&
		       time_before(jiffies, until))
			cpu_relax();
		ksalloc_lp_act(lp, w->id);
		complete(&w->done);
	}
	return ksalloc_test_thread_exit();
}

static void ksalloc_lp_stop(void *data)
{
	struct ksalloc_last_put *lp = data;
	int i;

	WRITE_ONCE(lp->quit, true);
	for (i = 0; i < 2; i++) {
		complete(&lp->w[i].start);
		kthread_stop(lp->w[i].task);
	}
}

/*
 * Many rounds on two CPUs, each with a fresh allocator, closed while the
 * frames are out: a consumer's last ksalloc_put() against the free of the
 * last frame (which drops the handle's reference), two frames freed at
 * once by holders that keep no reference, and a free interrupted on its
 * own CPU, right after it unlocked, by a softirq freeing the last frame.
 * Whichever goes last releases the allocator; nobody may touch it after
 * (KASAN watches), and the bytes charged come back every round.
 */
static void ksalloc_last_put_race_test(struct kunit *test)
{
	struct ksalloc_last_put *lp = kunit_kzalloc(test, sizeof(*lp), GFP_KERNEL);
	const struct ksalloc_framing framing = { .frames = 2, .frame_size = 64 };
	unsigned long deadline = ksalloc_deadline(KSALLOC_BUDGET_SECS / 4);
	unsigned int cpu[2], per_kind[KSALLOC_LP_KINDS] = {};
	u64 before = ksalloc_test_charged();
	int round, i;

	KUNIT_ASSERT_NOT_NULL(test, lp);
	cpu[0] = cpumask_first(cpu_online_mask);
	cpu[1] = cpumask_next(cpu[0], cpu_online_mask);
	if (cpu[1] >= nr_cpu_ids)
		cpu[1] = cpu[0];
	tasklet_setup(&lp->tasklet, ksalloc_lp_tasklet_fn);
	init_completion(&lp->tasklet_done);
	for (i = 0; i < 2; i++) {
		lp->w[i].lp = lp;
		lp->w[i].id = i;
		init_completion(&lp->w[i].start);
		init_completion(&lp->w[i].done);
		lp->w[i].task = kthread_create_on_cpu(ksalloc_lp_worker_fn, &lp->w[i],
						      cpu[i], "ksalloc-lp/%u");
		KUNIT_ASSERT_FALSE(test, IS_ERR(lp->w[i].task));
		wake_up_process(lp->w[i].task);
	}
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, ksalloc_lp_stop, lp));

	for (round = 0; round < 3000 && !time_after(jiffies, deadline); round++) {
		lp->kind = round % KSALLOC_LP_KINDS;
		lp->alloc = ksalloc_create(&framing);
		KUNIT_ASSERT_FALSE(test, IS_ERR(lp->alloc));
		KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(lp->alloc, &lp->frame[0]));
		if (lp->kind == KSALLOC_LP_PUT_VS_FREE)
			ksalloc_get(lp->alloc);		/* the consumer's */
		else
			KUNIT_ASSERT_EQ(test, 0,
					ksalloc_allocate_frame(lp->alloc, &lp->frame[1]));
		ksalloc_close(lp->alloc);
		KUNIT_ASSERT_EQ(test, 0, ksalloc_check_invariants(lp->alloc));

		atomic_set(&lp->ready, 0);
		reinit_completion(&lp->tasklet_done);
		for (i = 0; i < 2; i++) {
			reinit_completion(&lp->w[i].done);
			complete(&lp->w[i].start);
		}
		for (i = 0; i < 2; i++)
			KUNIT_ASSERT_GT(test,
					wait_for_completion_timeout(&lp->w[i].done, 30 * HZ), 0);
		if (lp->kind == KSALLOC_LP_FREE_IN_FREE)
			KUNIT_ASSERT_GT(test,
					wait_for_completion_timeout(&lp->tasklet_done, 30 * HZ), 0);
		per_kind[lp->kind]++;
	}
	tasklet_kill(&lp->tasklet);
	/* Released, each once and in whatever order: the budget is back. */
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(before), before);
	kunit_info(test, "%d rounds on CPUs %u and %u: %u put against free, %u free against free, %u free inside free\n",
		   round, cpu[0], cpu[1], per_kind[KSALLOC_LP_PUT_VS_FREE],
		   per_kind[KSALLOC_LP_FREE_VS_FREE], per_kind[KSALLOC_LP_FREE_IN_FREE]);
	KUNIT_EXPECT_GE(test, round, KSALLOC_LP_KINDS);
}

/* ---- a softirq against a CPU with interrupts off ---------------------------- */

struct ksalloc_steal {
	struct ksalloc *alloc;
	struct timer_list timer;
	struct completion timer_done, spin_done;
	bool spinning, allocated, spin_timed_out, in_softirq;
	void *frame;
	int ret;
};

/* On CPU b: interrupts off until the softirq on CPU a is done, 3 s at most. */
static int ksalloc_steal_spin_fn(void *data)
{
	struct ksalloc_steal *s = data;
	unsigned int us;

	/*
	 * Count microseconds rather than read a clock: with interrupts off,
	 * the NMI-safe clock races with the timekeeper on the other CPU,
	 * and KCSAN says so.
	 */
	local_irq_disable();
	WRITE_ONCE(s->spinning, true);
	for (us = 0; !READ_ONCE(s->allocated); us++) {
		if (us >= 3 * USEC_PER_SEC) {
			s->spin_timed_out = true;
			break;
		}
		udelay(1);
	}
	local_irq_enable();
	complete(&s->spin_done);
	return ksalloc_test_thread_exit();
}

static void ksalloc_steal_timer_fn(struct timer_list *t)
{
	struct ksalloc_steal *s = from_timer(s, t, timer);

	s->in_softirq = in_softirq() && !in_hardirq();
	s->ret = ksalloc_allocate_frame(s->alloc, &s->frame);
	WRITE_ONCE(s->allocated, true);
	complete(&s->timer_done);
}

/*
 * SPEC 7.5 and 7.6: every free frame sits in the cache of CPU b, which
 * runs with interrupts off.  An allocation in softirq on CPU a still gets
 * one, at once: it takes it from b's cache without b's help, and waits
 * for nothing (with an IPI it would wait until b turns interrupts on).
 */
static void ksalloc_softirq_steal_test(struct kunit *test)
{
	const int n = 8;
	struct ksalloc_steal *s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);
	struct ksalloc *alloc = ksalloc_test_create(test, n, 64, 0, 0);
	struct task_struct *spinner;
	cpumask_var_t saved;
	void *f[8];
	int a, b, i;

	KUNIT_ASSERT_NOT_NULL(test, s);
	ksalloc_test_two_cpus(&a, &b);
	if (a == b)
		kunit_skip(test, "needs two online CPUs");
	KUNIT_ASSERT_TRUE(test, alloc_cpumask_var(&saved, GFP_KERNEL));
	cpumask_copy(saved, current->cpus_ptr);
	/* The test itself must not be stuck on b. */
	KUNIT_ASSERT_EQ(test, 0, set_cpus_allowed_ptr(current, cpumask_of(a)));

	KUNIT_ASSERT_EQ(test, 0, ksalloc_test_on_cpu(test, b, KSALLOC_OP_ALLOC, alloc, f, n));
	KUNIT_ASSERT_EQ(test, 0, ksalloc_test_on_cpu(test, b, KSALLOC_OP_FREE, alloc, f, n));
	KUNIT_ASSERT_EQ(test, n, ksalloc_cached_frames(alloc, b));

	s->alloc = alloc;
	init_completion(&s->timer_done);
	init_completion(&s->spin_done);
	spinner = kthread_create_on_cpu(ksalloc_steal_spin_fn, s, b, "ksalloc-spin%u");
	KUNIT_ASSERT_FALSE(test, IS_ERR(spinner));
	wake_up_process(spinner);
	for (i = 0; i < 500 && !READ_ONCE(s->spinning); i++)
		msleep(20);
	KUNIT_EXPECT_TRUE(test, READ_ONCE(s->spinning));

	timer_setup(&s->timer, ksalloc_steal_timer_fn, TIMER_PINNED);
	s->timer.expires = jiffies + 1;
	add_timer_on(&s->timer, a);
	KUNIT_EXPECT_GT(test, wait_for_completion_timeout(&s->timer_done, 30 * HZ), 0);
	KUNIT_EXPECT_GT(test, wait_for_completion_timeout(&s->spin_done, 30 * HZ), 0);
	kthread_stop(spinner);
	timer_delete_sync(&s->timer);
	set_cpus_allowed_ptr(current, saved);
	free_cpumask_var(saved);

	KUNIT_EXPECT_TRUE(test, s->in_softirq);
	KUNIT_EXPECT_EQ(test, s->ret, 0);
	KUNIT_EXPECT_FALSE_MSG(test, s->spin_timed_out,
			       "the softirq waited for the CPU with interrupts off");
	if (!s->ret)
		ksalloc_free_frame(alloc, s->frame);
	KUNIT_EXPECT_EQ(test, 0, ksalloc_test_allocated(test, alloc));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(alloc));
}

/* ---- CPU hotplug over many allocators --------------------------------------- */

/*
 * SPEC 7.9: the CPU hotplug callback looks at each allocator once: 4096
 * allocators with frames in one CPU's cache take 4096 steps, not one walk
 * per allocator emptied.
 */
static void ksalloc_hotplug_linear_test(struct kunit *test)
{
	const int n = 4096;
	const struct ksalloc_framing f = { .frames = 1, .frame_size = 64 };
	struct ksalloc **allocs = kunit_kcalloc(test, n, sizeof(*allocs), GFP_KERNEL);
	unsigned long steps;
	cpumask_var_t saved;
	int cpu, i, cached = 0;
	void *frame;

	KUNIT_ASSERT_NOT_NULL(test, allocs);
	KUNIT_ASSERT_TRUE(test, alloc_cpumask_var(&saved, GFP_KERNEL));
	cpumask_copy(saved, current->cpus_ptr);
	cpu = cpumask_last(cpu_online_mask);
	KUNIT_ASSERT_EQ(test, 0, set_cpus_allowed_ptr(current, cpumask_of(cpu)));
	ksalloc_flush_releases(true);
	for (i = 0; i < n; i++) {
		allocs[i] = ksalloc_create(&f);
		if (IS_ERR(allocs[i]))
			break;
		/* Taken and freed on @cpu: the frame waits in its cache. */
		if (!ksalloc_allocate_frame(allocs[i], &frame))
			ksalloc_free_frame(allocs[i], frame);
		cached += ksalloc_cached_frames(allocs[i], cpu);
	}
	set_cpus_allowed_ptr(current, saved);
	free_cpumask_var(saved);
	KUNIT_EXPECT_EQ(test, i, n);
	KUNIT_EXPECT_EQ(test, cached, i);

	steps = ksalloc_hotplug_pass(cpu);
	kunit_info(test, "%d allocators, %lu steps\n", i, steps);
	KUNIT_EXPECT_GE(test, steps, (unsigned long)i);
	KUNIT_EXPECT_LE(test, steps, (unsigned long)i + 64);
	cached = 0;
	while (i--) {
		cached += ksalloc_cached_frames(allocs[i], cpu);
		ksalloc_close(allocs[i]);
	}
	KUNIT_EXPECT_EQ(test, cached, 0);
}

static struct kunit_case ksalloc_stress_cases[] = {
	KUNIT_CASE_SLOW(ksalloc_timeout_race_test),
	KUNIT_CASE_SLOW(ksalloc_stress_test),
	KUNIT_CASE_SLOW(ksalloc_softirq_vs_task_test),
	KUNIT_CASE_SLOW(ksalloc_timeout_handoff_test),
	KUNIT_CASE_SLOW(ksalloc_close_race_test),
	KUNIT_CASE_SLOW(ksalloc_last_put_race_test),
	KUNIT_CASE(ksalloc_softirq_steal_test),
	KUNIT_CASE_SLOW(ksalloc_hotplug_linear_test),
	{}
};

static struct kunit_suite ksalloc_stress_suite = {
	.name = "ksalloc_stress",
	.test_cases = ksalloc_stress_cases,
};

kunit_test_suite(ksalloc_stress_suite);
