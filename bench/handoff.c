// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_bench - the hand-off latency: mode handoff
 */

#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/ksalloc.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "ksalloc_bench.h"

/**
 * struct ksalloc_bench_handoff - a hand-off latency measurement
 * @timer: frees the frame or completes @done, in softirq context
 * @done: the bare completion of the baseline
 * @finished: completed when the kthread is done
 * @task: the waiting kthread
 * @alloc: an allocator of one frame
 * @table: its function table
 * @frame: the frame @timer frees
 * @use_ksalloc: @timer frees @frame, else it completes @done
 * @fired: ktime_get_ns() when @timer let the waiter go, 0 before
 * @lat: latencies of ksalloc hand-offs, then of completions
 * @n: round trips of each kind done
 * @err: why the measurement stopped early
 */
struct ksalloc_bench_handoff {
	struct hrtimer timer;
	struct completion done;
	struct completion finished;
	struct task_struct *task;
	struct ksalloc *alloc;
	struct ksalloc_function_table table;
	void *frame;
	bool use_ksalloc;
	u64 fired;
	u64 *lat[2];
	u32 n;
	int err;
};

static enum hrtimer_restart ksalloc_bench_handoff_timer(struct hrtimer *timer)
{
	struct ksalloc_bench_handoff *h =
		container_of(timer, struct ksalloc_bench_handoff, timer);
	struct ksalloc_stats st;

	/* Let go only of a waiter that sleeps (and, for ksalloc, is queued). */
	if (task_is_running(h->task) ||
	    (h->use_ksalloc && (ksalloc_get_stats(h->alloc, &st) || !st.waiters))) {
		hrtimer_forward_now(timer, ns_to_ktime(10 * NSEC_PER_USEC));
		return HRTIMER_RESTART;
	}

	h->fired = ktime_get_ns();
	if (h->use_ksalloc)
		h->table.free_frame(h->alloc, h->frame);
	else
		complete(&h->done);
	return HRTIMER_NORESTART;
}

/* Arms the timer of @h; it fires on this CPU, in softirq context. */
static void ksalloc_bench_handoff_arm(struct ksalloc_bench_handoff *h,
				      bool use_ksalloc)
{
	h->use_ksalloc = use_ksalloc;
	h->fired = 0;
	hrtimer_start(&h->timer, KSALLOC_BENCH_HANDOFF_DELAY,
		      HRTIMER_MODE_REL_PINNED_SOFT);
}

static int ksalloc_bench_handoff_fn(void *arg)
{
	struct ksalloc_bench_handoff *h = arg;
	void *frame = h->frame;
	long left;
	u64 now;
	int ret;

	for (h->n = 0; h->n < ksalloc_bench_samples; h->n++) {
		/* Give our frame to the timer and wait for it to come back. */
		h->frame = frame;
		ksalloc_bench_handoff_arm(h, true);
		ret = ksalloc_alloc_frame_wait(h->alloc, HZ, &frame);
		now = ktime_get_ns();
		if (ret) {
			hrtimer_cancel(&h->timer);
			/* Not freed by the timer: it is still ours. */
			frame = h->fired ? NULL : h->frame;
			h->err = ret;
			break;
		}
		h->lat[0][h->n] = now - h->fired;

		reinit_completion(&h->done);
		ksalloc_bench_handoff_arm(h, false);
		left = wait_for_completion_killable_timeout(&h->done, HZ);
		now = ktime_get_ns();
		if (left <= 0) {
			hrtimer_cancel(&h->timer);
			h->err = left ? (int)left : -ETIMEDOUT;
			break;
		}
		h->lat[1][h->n] = now - h->fired;
	}
	h->frame = frame;

	hrtimer_cancel(&h->timer);
	complete(&h->finished);
	ksalloc_bench_park();
	return 0;
}

static void ksalloc_bench_handoff_print(const char *kind, unsigned int run,
					u64 *lat, u32 n)
{
	u64 sum = 0;
	u32 i;

	for (i = 0; i < n; i++)
		sum += lat[i];
	sort(lat, n, sizeof(*lat), ksalloc_bench_cmp_u64, NULL);
	pr_info("handoff: kind=%s run=%u samples=%u median_ns=%llu min_ns=%llu p90_ns=%llu mean_ns=%llu\n",
		kind, run, n, lat[n / 2], lat[0], lat[n * 9 / 10],
		div64_u64(sum, n));
}

static int ksalloc_bench_handoff_run(unsigned int run)
{
	const struct ksalloc_framing framing = {
		.pool_type = KSALLOC_POOL_NONPAGED,
		.frames = 1,
		.frame_size = KSALLOC_BENCH_SIZE,
	};
	struct ksalloc_bench_handoff *h;
	struct task_struct *task;
	int ret;

	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	h->lat[0] = kvcalloc(ksalloc_bench_samples, sizeof(u64), GFP_KERNEL);
	h->lat[1] = kvcalloc(ksalloc_bench_samples, sizeof(u64), GFP_KERNEL);
	ret = -ENOMEM;
	if (!h->lat[0] || !h->lat[1])
		goto err_free;

	h->alloc = ksalloc_create(&framing);
	if (IS_ERR(h->alloc)) {
		ret = PTR_ERR(h->alloc);
		goto err_free;
	}
	ret = ksalloc_get_function_table(h->alloc, &h->table);
	if (ret)
		goto err_close;
	ret = h->table.allocate_frame(h->alloc, &h->frame);
	if (ret)
		goto err_close;

	init_completion(&h->done);
	init_completion(&h->finished);
	hrtimer_init(&h->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_SOFT);
	h->timer.function = ksalloc_bench_handoff_timer;
	task = kthread_create_on_cpu(ksalloc_bench_handoff_fn, h,
				     cpumask_first(cpu_online_mask),
				     "ksalloc_bench/%u");
	if (IS_ERR(task)) {
		ret = PTR_ERR(task);
		goto err_free_frame;
	}
	h->task = task;
	wake_up_process(task);
	wait_for_completion(&h->finished);
	kthread_stop(task);

	ret = h->err;
	if (ret) {
		pr_err("handoff: stopped after %u round trips: %d\n", h->n, ret);
	} else {
		ksalloc_bench_handoff_print("ksalloc", run, h->lat[0], h->n);
		ksalloc_bench_handoff_print("completion", run, h->lat[1], h->n);
	}

err_free_frame:
	if (h->frame)
		h->table.free_frame(h->alloc, h->frame);
err_close:
	ksalloc_close(h->alloc);
err_free:
	kvfree(h->lat[1]);
	kvfree(h->lat[0]);
	kfree(h);
	return ret;
}

int ksalloc_bench_handoff(void)
{
	unsigned int run;
	int ret;

	if (!ksalloc_bench_samples)
		return -EINVAL;
	for (run = 0; run < ksalloc_bench_runs; run++) {
		ret = ksalloc_bench_handoff_run(run);
		if (ret)
			return ret;
	}
	return 0;
}
