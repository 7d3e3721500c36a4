// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_bench - the capture-driver stream across CPUs: mode stream
 */

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/hardirq.h>
#include <linux/hrtimer.h>
#include <linux/kprobes.h>
#include <linux/kthread.h>
#include <linux/ksalloc.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "ksalloc_bench.h"

/*
 * Streaming across CPUs.  A pinned soft hrtimer on the producer CPU
 * allocates bursts of frames through the function table and queues them
 * on a ring that has one writer and one reader; a pinned soft hrtimer on
 * the consumer CPU takes them off and frees them.  Only the allocation
 * and free loops are timed, a burst at a time, so the cost per frame is
 * what the allocator costs when every frame changes CPU.  The baseline,
 * "same", is the same producer freeing each burst itself right after
 * allocating it: pairs on one CPU, timed the same way.  Each kthread only
 * arms its own CPU's timer and waits for it, and the two sides poll the
 * ring, so that the bench itself sends no IPI during a measurement.
 */
#define KSALLOC_BENCH_STREAM_RING	64	/* frames in flight, a power of two */
#define KSALLOC_BENCH_STREAM_BURST	16	/* frames per timed loop */
#define KSALLOC_BENCH_STREAM_BURSTS	8	/* timed loops per softirq run */
/* Buckets of 1 ns per frame; the last one takes every slower burst. */
#define KSALLOC_BENCH_STREAM_HIST	2048

/*
 * The function-call and reschedule IPIs all CPUs received so far: the CAL
 * and RES rows of /proc/interrupts, summed.  False where there are no such
 * counters (not x86).
 */
static bool ksalloc_bench_ipis(u64 *cal, u64 *res)
{
#if defined(CONFIG_X86) && defined(CONFIG_SMP)
	unsigned int cpu;

	*cal = 0;
	*res = 0;
	for_each_possible_cpu(cpu) {
		*cal += per_cpu(irq_stat, cpu).irq_call_count;
		*res += per_cpu(irq_stat, cpu).irq_resched_count;
	}
	return true;
#else
	return false;
#endif
}

/**
 * struct ksalloc_bench_probe - a kprobe counting the entries of a function
 * @kp: the kprobe, by symbol name
 * @name: the name of its count in "stream:" lines
 * @hits: times the function was entered
 * @registered: @kp is registered
 */
struct ksalloc_bench_probe {
	struct kprobe kp;
	const char *name;
	atomic_long_t hits;
	bool registered;
};

static int ksalloc_bench_probe_hit(struct kprobe *kp, struct pt_regs *regs)
{
	struct ksalloc_bench_probe *p =
		container_of(kp, struct ksalloc_bench_probe, kp);

	atomic_long_inc(&p->hits);
	return 0;
}

/*
 * The core's two slow paths (module/frames.c, both noinline), known by
 * symbol name only.  A name not found is reported, and its count is -1.
 */
static struct ksalloc_bench_probe ksalloc_bench_probes[] = {
	{
		.kp = { .symbol_name = "ksalloc_take",
			.pre_handler = ksalloc_bench_probe_hit },
		.name = "take",
	},
	{
		.kp = { .symbol_name = "ksalloc_give_slow",
			.pre_handler = ksalloc_bench_probe_hit },
		.name = "give_slow",
	},
};

/* Registers every probe it can; returns how many are registered. */
static unsigned int ksalloc_bench_probes_register(void)
{
	struct ksalloc_bench_probe *p;
	unsigned int n = 0;
	int ret;

	for (p = ksalloc_bench_probes;
	     p < ksalloc_bench_probes + ARRAY_SIZE(ksalloc_bench_probes); p++) {
		ret = register_kprobe(&p->kp);
		p->registered = !ret;
		n += p->registered;
		if (ret)
			pr_info("stream: probe=%s symbol=%s not registered: %d%s\n",
				p->name, p->kp.symbol_name, ret,
				ret == -ENOENT ? " (symbol not found)" : "");
		else
			pr_info("stream: probe=%s symbol=%s registered\n",
				p->name, p->kp.symbol_name);
	}
	return n;
}

static void ksalloc_bench_probes_unregister(void)
{
	struct ksalloc_bench_probe *p;

	for (p = ksalloc_bench_probes;
	     p < ksalloc_bench_probes + ARRAY_SIZE(ksalloc_bench_probes); p++)
		if (p->registered)
			unregister_kprobe(&p->kp);
}

struct ksalloc_bench_stream;

/**
 * struct ksalloc_bench_stream_side - the producer or the consumer
 * @s: the measurement
 * @task: the kthread that drives @timer, bound to the side's CPU
 * @timer: runs the side's work in softirq context, pinned to the CPU
 * @run_done: completed by @timer after each run
 * @moved: frames the last run of @timer moved
 * @ns: time spent in the timed loops
 * @frames: frames allocated (producer) or freed (consumer)
 * @failed: failed allocations
 * @hist: frames by the ns per frame of their timed loop, for a median that
 *        a vCPU which the host preempted in mid-loop does not shift
 *
 * Written only on the side's CPU, but for @frames and @failed, which the
 * controller reads once both sides are done.
 */
struct ksalloc_bench_stream_side {
	struct ksalloc_bench_stream *s;
	struct task_struct *task;
	struct hrtimer timer;
	struct completion run_done;
	u32 moved;
	u64 ns;
	u64 frames;
	u64 failed;
	u32 hist[KSALLOC_BENCH_STREAM_HIST];
};

/* Accounts for a timed loop of @n frames that took @ns. */
static void ksalloc_bench_stream_time(struct ksalloc_bench_stream_side *d,
				      u32 n, u64 ns)
{
	d->ns += ns;
	d->frames += n;
	if (n)
		d->hist[min_t(u64, div_u64(ns, n), KSALLOC_BENCH_STREAM_HIST - 1)] += n;
}

/* The median ns per frame of @d's timed loops. */
static u32 ksalloc_bench_stream_median(const struct ksalloc_bench_stream_side *d)
{
	u64 seen = 0;
	u32 i;

	for (i = 0; i < KSALLOC_BENCH_STREAM_HIST - 1; i++) {
		seen += d->hist[i];
		if (seen * 2 >= d->frames)
			break;
	}
	return i;
}

/**
 * struct ksalloc_bench_stream - one streaming measurement
 * @head: frames queued so far; written by the producer, with release
 * @tail: frames taken off so far; written by the consumer, with release
 * @ring: slot i & mask holds a frame while @tail <= i < @head
 * @prod: the producer; in "same" mode also frees, as the consumer
 * @cons: the consumer: its timing, and in "cross" mode its kthread
 * @cross: the consumer runs on another CPU
 * @ready: the consumer polls the ring
 * @stop: the producer queues nothing more
 * @drained: the consumer freed everything queued
 * @duration_ns: how long the producer produces
 * @wall_ns: from the producer's start to the consumer's last free
 * @ipis: CAL and RES IPIs over @wall_ns, all CPUs, or -1
 * @done: completed by the producer at the end
 */
struct ksalloc_bench_stream {
	u32 head ____cacheline_aligned_in_smp;
	u32 tail ____cacheline_aligned_in_smp;
	void *ring[KSALLOC_BENCH_STREAM_RING] ____cacheline_aligned_in_smp;
	struct ksalloc_bench_stream_side prod ____cacheline_aligned_in_smp;
	struct ksalloc_bench_stream_side cons ____cacheline_aligned_in_smp;
	bool cross;
	bool ready;
	bool stop;
	bool drained;
	u64 duration_ns;
	u64 wall_ns;
	s64 ipis[2];
	struct completion done;
};

/* Producer: allocates a burst, as much as the ring has room for, and queues it. */
static u32 ksalloc_bench_stream_fill(struct ksalloc_bench_stream *s)
{
	void *frames[KSALLOC_BENCH_STREAM_BURST];
	u32 head = s->head, n, i;
	u64 t0;

	/* Pairs with the release in _drain(): the consumer is done with it. */
	n = KSALLOC_BENCH_STREAM_RING - (head - smp_load_acquire(&s->tail));
	n = min(n, KSALLOC_BENCH_STREAM_BURST);
	if (!n)
		return 0;
	t0 = ktime_get_ns();
	for (i = 0; i < n; i++)
		if (ksalloc_bench_kb.table.allocate_frame(ksalloc_bench_kb.alloc, &frames[i]))
			break;
	ksalloc_bench_stream_time(&s->prod, i, ktime_get_ns() - t0);
	s->prod.failed += i < n;

	for (n = 0; n < i; n++)
		s->ring[(head + n) & (KSALLOC_BENCH_STREAM_RING - 1)] = frames[n];
	/* Pairs with the acquire in _drain(): the slots are written. */
	smp_store_release(&s->head, head + i);
	return i;
}

/* Consumer: takes a burst off the ring and frees it. */
static u32 ksalloc_bench_stream_drain(struct ksalloc_bench_stream *s)
{
	void *frames[KSALLOC_BENCH_STREAM_BURST];
	u32 tail = s->tail, n, i;
	u64 t0;

	/* Pairs with the release in _fill(). */
	n = smp_load_acquire(&s->head) - tail;
	n = min(n, KSALLOC_BENCH_STREAM_BURST);
	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		frames[i] = s->ring[(tail + i) & (KSALLOC_BENCH_STREAM_RING - 1)];
	/* Pairs with the acquire in _fill(): the slots were read. */
	smp_store_release(&s->tail, tail + n);

	t0 = ktime_get_ns();
	for (i = 0; i < n; i++)
		ksalloc_bench_kb.table.free_frame(ksalloc_bench_kb.alloc, frames[i]);
	ksalloc_bench_stream_time(&s->cons, n, ktime_get_ns() - t0);
	return n;
}

static enum hrtimer_restart ksalloc_bench_stream_timer(struct hrtimer *timer)
{
	struct ksalloc_bench_stream_side *d =
		container_of(timer, struct ksalloc_bench_stream_side, timer);
	struct ksalloc_bench_stream *s = d->s;
	u32 b, n;

	d->moved = 0;
	for (b = 0; b < KSALLOC_BENCH_STREAM_BURSTS; b++) {
		if (d == &s->cons) {
			n = ksalloc_bench_stream_drain(s);
		} else {
			n = ksalloc_bench_stream_fill(s);
			if (n && !s->cross)
				ksalloc_bench_stream_drain(s);
		}
		if (!n)
			break;
		d->moved += n;
	}
	complete(&d->run_done);
	return HRTIMER_NORESTART;
}

/* Runs the side's timer once, on its CPU, and waits for it. */
static void ksalloc_bench_stream_kick(struct ksalloc_bench_stream_side *d)
{
	reinit_completion(&d->run_done);
	hrtimer_start(&d->timer, 0, HRTIMER_MODE_REL_PINNED_SOFT);
	wait_for_completion(&d->run_done);
	if (!d->moved)
		cpu_relax();
	cond_resched();
}

static int ksalloc_bench_stream_prod_fn(void *arg)
{
	struct ksalloc_bench_stream *s = arg;
	u64 start, cal[2], res[2];
	bool ipis;

	/* Polling, not woken: a wake-up from another CPU may be an IPI. */
	while (s->cross && !READ_ONCE(s->ready))
		usleep_range(10, 20);

	ipis = ksalloc_bench_ipis(&cal[0], &res[0]);
	start = ktime_get_ns();
	do {
		ksalloc_bench_stream_kick(&s->prod);
	} while (ktime_get_ns() - start < s->duration_ns);
	/* Pairs with the acquire in _cons_fn(): everything is queued. */
	smp_store_release(&s->stop, true);
	/* Pairs with the release in _cons_fn(): the last free is over. */
	while (s->cross && !smp_load_acquire(&s->drained))
		usleep_range(10, 20);
	s->wall_ns = ktime_get_ns() - start;
	if (ipis && ksalloc_bench_ipis(&cal[1], &res[1])) {
		s->ipis[0] = cal[1] - cal[0];
		s->ipis[1] = res[1] - res[0];
	}

	complete(&s->done);
	ksalloc_bench_park();
	return 0;
}

static int ksalloc_bench_stream_cons_fn(void *arg)
{
	struct ksalloc_bench_stream *s = arg;
	bool stop;

	WRITE_ONCE(s->ready, true);
	do {
		/* Pairs with the release in _prod_fn(). */
		stop = smp_load_acquire(&s->stop);
		ksalloc_bench_stream_kick(&s->cons);
	} while (!stop || s->cons.moved);
	/* Pairs with the acquire in _prod_fn(). */
	smp_store_release(&s->drained, true);

	ksalloc_bench_park();
	return 0;
}

static void ksalloc_bench_stream_side_init(struct ksalloc_bench_stream *s,
					   struct ksalloc_bench_stream_side *d)
{
	d->s = s;
	init_completion(&d->run_done);
	hrtimer_init(&d->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_SOFT);
	d->timer.function = ksalloc_bench_stream_timer;
}

/*
 * One streaming measurement, printed: producer on @prod_cpu, consumer on
 * @cons_cpu ("cross") or the producer itself ("same", @cons_cpu unused).
 * @probed: the probes are registered; their counts are printed.
 */
static int ksalloc_bench_stream_one(unsigned int run, bool cross, bool probed,
				    unsigned int prod_cpu, unsigned int cons_cpu)
{
	long hits[ARRAY_SIZE(ksalloc_bench_probes)];
	struct ksalloc_bench_stream *s;
	struct task_struct *task;
	unsigned int i;
	int ret = 0;

	s = kvzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	s->cross = cross;
	s->duration_ns = (u64)ksalloc_bench_ms * NSEC_PER_MSEC;
	s->ipis[0] = -1;
	s->ipis[1] = -1;
	init_completion(&s->done);
	ksalloc_bench_stream_side_init(s, &s->prod);
	ksalloc_bench_stream_side_init(s, &s->cons);
	for (i = 0; i < ARRAY_SIZE(ksalloc_bench_probes); i++)
		atomic_long_set(&ksalloc_bench_probes[i].hits, 0);

	task = kthread_create_on_cpu(ksalloc_bench_stream_prod_fn, s, prod_cpu,
				     "ksalloc_bench/%u");
	if (IS_ERR(task)) {
		ret = PTR_ERR(task);
		goto err_free;
	}
	s->prod.task = task;
	if (cross) {
		task = kthread_create_on_cpu(ksalloc_bench_stream_cons_fn, s,
					     cons_cpu, "ksalloc_bench/%u");
		if (IS_ERR(task)) {
			ret = PTR_ERR(task);
			/* Never woken: it does not run at all. */
			kthread_stop(s->prod.task);
			goto err_free;
		}
		s->cons.task = task;
		wake_up_process(s->cons.task);
	}
	wake_up_process(s->prod.task);
	wait_for_completion(&s->done);
	kthread_stop(s->prod.task);
	if (s->cons.task)
		kthread_stop(s->cons.task);

	for (i = 0; i < ARRAY_SIZE(ksalloc_bench_probes); i++)
		hits[i] = probed && ksalloc_bench_probes[i].registered ?
			  atomic_long_read(&ksalloc_bench_probes[i].hits) : -1;
	if (s->prod.failed)
		pr_warn("stream: %llu allocations failed\n", s->prod.failed);
	if (s->prod.frames != s->cons.frames) {
		pr_err("stream: %llu frames allocated, %llu freed\n",
		       s->prod.frames, s->cons.frames);
		ret = -EIO;
	}
	pr_info("stream: run=%u mode=%s probed=%d producer_cpu=%u consumer_cpu=%u frames=%llu alloc_ns=%llu free_ns=%llu alloc_median_ns=%u free_median_ns=%u wall_ns=%llu cal_ipis=%lld res_ipis=%lld %s=%ld %s=%ld failed=%llu\n",
		run, cross ? "cross" : "same", probed, prod_cpu,
		cross ? cons_cpu : prod_cpu, s->cons.frames, s->prod.ns,
		s->cons.ns, ksalloc_bench_stream_median(&s->prod),
		ksalloc_bench_stream_median(&s->cons), s->wall_ns,
		s->ipis[0], s->ipis[1],
		ksalloc_bench_probes[0].name, hits[0],
		ksalloc_bench_probes[1].name, hits[1], s->prod.failed);

err_free:
	kvfree(s);
	return ret;
}

int ksalloc_bench_stream(void)
{
	unsigned int prod = cpumask_first(cpu_online_mask);
	unsigned int cons = cpumask_next(prod, cpu_online_mask);
	unsigned int run, probed;
	int ret = 0;

	if (cons >= nr_cpu_ids) {
		pr_info("stream: n/a (one CPU online)\n");
		return 0;
	}
	/*
	 * Timed without probes first, as a probe costs more than a fast path;
	 * then again with them, to count the slow paths.  Registering patches
	 * the kernel text (and sends IPIs), so it happens once, between.
	 */
	for (run = 0; !ret && run < ksalloc_bench_runs; run++) {
		ret = ksalloc_bench_stream_one(run, false, false, prod, cons);
		if (!ret)
			ret = ksalloc_bench_stream_one(run, true, false, prod, cons);
	}
	if (ret)
		return ret;
	probed = ksalloc_bench_probes_register();
	for (run = 0; !ret && probed && run < ksalloc_bench_runs; run++) {
		ret = ksalloc_bench_stream_one(run, false, true, prod, cons);
		if (!ret)
			ret = ksalloc_bench_stream_one(run, true, true, prod, cons);
	}
	ksalloc_bench_probes_unregister();
	return ret;
}
