// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_bench - how fast is the ksalloc function table?
 *
 * Loading the module runs the benchmarks picked with mode= and prints the
 * results in the style of the kernel's time_bench (the page_pool
 * benchmarks); unload it afterwards:
 *
 *	insmod ksalloc_bench.ko mode=cost,handoff iters=1000000
 *	dmesg | grep ksalloc_bench
 *	rmmod ksalloc_bench
 *
 * Every figure is for an alloc+free pair of one 256-byte object, from:
 *
 *   ksalloc_pair         ksalloc through its function table, as a driver
 *                        calls it (the allocator has 1024 frames);
 *   ksalloc_direct_pair  the same through the exported functions;
 *   kmem_cache_pair      a kmem_cache of 256-byte objects;
 *   mempool_pair         a mempool over that kmem_cache;
 *   objpool_pair         an objpool of 1024 objects (6.7 and later);
 *   naive_pair           a spin_lock_bh-protected stack of 1024
 *                        preallocated objects: the naive design;
 *   empty_loop           the loop alone, to subtract from the others.
 *
 * The modes, comma separated:
 *
 *   cost     each pair @iters times after @warmup untimed ones, on one
 *            CPU, timed with ktime_get_ns() around chunks of pairs: in
 *            process context with BH disabled ("Type:NAME") and in softirq
 *            context, from a pinned soft hrtimer ("Type:NAME_softirq").
 *   scale    each pair hammered for @ms milliseconds by kthreads bound to
 *            their CPUs, all on one shared allocator or pool: first on one
 *            CPU alone, then on every online CPU at once (at most @cpus),
 *            in both contexts; "scale:" lines give the aggregate ops/s.
 *   handoff  the latency from a free in softirq context to a kthread
 *            blocked in ksalloc_alloc_frame_wait() running again, against
 *            a bare complete() -> wait_for_completion() round trip between
 *            the same contexts on the same CPU, @samples of each.
 *   frames   fills every frame with a pattern, allocates and frees them
 *            all twice, and counts the bytes of the frames that changed:
 *            the allocator must keep nothing inside frames.
 *   pair     ksalloc_pair and empty_loop alone, as in cost, in process
 *            context only: the figure scripts/bench.sh compares between
 *            ksalloc.ko built with and without its tracepoints.
 *   stream   the capture-driver pattern, for @ms milliseconds: frames
 *            allocated in softirq on one CPU, handed over to another and
 *            freed there in softirq; against the same producer freeing
 *            its frames itself, on its CPU.  "stream:" lines give the time
 *            spent allocating and freeing, the IPIs all CPUs received and,
 *            in a second series with kprobes on the core's slow paths, how
 *            often those ran.  Needs two online CPUs.
 *
 * scale, handoff and stream repeat @runs times, interleaved, for medians.
 * Every load first prints a "sizes:" line, the sizes of the core's own
 * structures that the report's metadata row is made of.
 *
 * The benchmarks use only include/linux/ksalloc.h, as any outside driver,
 * so they measure whatever the core does behind the exported API.
 */

#include <linux/bottom_half.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/hardirq.h>
#include <linux/hrtimer.h>
#include <linux/jiffies.h>
#include <linux/kprobes.h>
#include <linux/kthread.h>
#include <linux/ksalloc.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/mempool.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timex.h>

/*
 * The core's private header, for sizeof() alone: the metadata per frame,
 * per CPU and per allocator that the report prints is what this build of
 * the core takes, not numbers copied into the report.  No field is read
 * and nothing of it is called.
 */
#include "../module/core.h"

#define KSALLOC_BENCH_OBJECTS	1024
#define KSALLOC_BENCH_SIZE	256
/*
 * Pairs per BH-off stretch or softirq run: cost mode, scale mode.  A scale
 * chunk lasts a few milliseconds under TCG, so that the CPUs overlap for
 * most of the window even when the host is slow to run a vCPU again.
 */
#define KSALLOC_BENCH_CHUNK	10000
#define KSALLOC_BENCH_CHUNK_SCALE 30000
/* Hand-off: the timer fires this long after the waiter went to sleep. */
#define KSALLOC_BENCH_HANDOFF_DELAY ns_to_ktime(50 * NSEC_PER_USEC)
#define KSALLOC_BENCH_PATTERN	0xa5

static char *mode = "cost,handoff,frames";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "What to run, comma separated: cost, pair, scale, handoff, frames, stream (default cost,handoff,frames)");

static uint iters = 1000000;
module_param(iters, uint, 0444);
MODULE_PARM_DESC(iters, "Timed pairs per cost measurement (default 1000000)");

static uint warmup = 10000;
module_param(warmup, uint, 0444);
MODULE_PARM_DESC(warmup, "Untimed pairs before each cost measurement (default 10000)");

static uint ms = 250;
module_param(ms, uint, 0444);
MODULE_PARM_DESC(ms, "Milliseconds per scale or stream measurement (default 250)");

static uint cpus;
module_param(cpus, uint, 0444);
MODULE_PARM_DESC(cpus, "Most CPUs of the all-CPU scale measurement, 0 for all online (default 0)");

static uint runs = 1;
module_param(runs, uint, 0444);
MODULE_PARM_DESC(runs, "Repetitions of the scale, handoff and stream measurements (default 1)");

static uint samples = 500;
module_param(samples, uint, 0444);
MODULE_PARM_DESC(samples, "Hand-off round trips of each kind per run (default 500)");

/**
 * struct ksalloc_bench - everything the pairs allocate from
 * @alloc: the ksalloc allocator, 1024 frames of 256 bytes
 * @table: its function table
 * @cache: the kmem_cache of 256-byte objects
 * @mempool: a mempool over @cache
 * @naive_lock: protects @naive_nr and @naive_stack
 * @naive_nr: number of free objects on @naive_stack
 * @naive_stack: the free objects of the naive pool
 * @naive_mem: the objects of the naive pool
 * @objpool: the objpool was set up
 *
 * Set up before any benchmark runs and shared by all CPUs.
 */
struct ksalloc_bench {
	struct ksalloc *alloc;
	struct ksalloc_function_table table;
	struct kmem_cache *cache;
	mempool_t *mempool;

	/* protects the naive pool's free stack */
	spinlock_t naive_lock;
	u32 naive_nr;
	void **naive_stack;
	void *naive_mem;
	bool objpool;
};

static struct ksalloc_bench kb;

/*
 * The loops.  Each runs @n alloc+free pairs and returns the number of
 * allocations that failed (which then freed nothing).
 */

static u32 ksalloc_bench_empty(u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		barrier();
	return 0;
}

static u32 ksalloc_bench_table(u32 n)
{
	void *frame;
	u32 i, failed = 0;

	for (i = 0; i < n; i++) {
		if (kb.table.allocate_frame(kb.alloc, &frame)) {
			failed++;
			continue;
		}
		kb.table.free_frame(kb.alloc, frame);
	}
	return failed;
}

static u32 ksalloc_bench_direct(u32 n)
{
	void *frame;
	u32 i, failed = 0;

	for (i = 0; i < n; i++) {
		if (ksalloc_allocate_frame(kb.alloc, &frame)) {
			failed++;
			continue;
		}
		ksalloc_free_frame(kb.alloc, frame);
	}
	return failed;
}

static u32 ksalloc_bench_kmem_cache(u32 n)
{
	void *obj;
	u32 i, failed = 0;

	for (i = 0; i < n; i++) {
		obj = kmem_cache_alloc(kb.cache, GFP_ATOMIC);
		if (!obj) {
			failed++;
			continue;
		}
		kmem_cache_free(kb.cache, obj);
	}
	return failed;
}

static u32 ksalloc_bench_mempool(u32 n)
{
	void *obj;
	u32 i, failed = 0;

	for (i = 0; i < n; i++) {
		obj = mempool_alloc(kb.mempool, GFP_ATOMIC);
		if (!obj) {
			failed++;
			continue;
		}
		mempool_free(obj, kb.mempool);
	}
	return failed;
}

/*
 * The naive pool: one spinlock, one stack.  Kept out of line, as the
 * other allocators are, so that its loop pays for the calls as theirs do.
 */
static noinline void *ksalloc_bench_naive_alloc(void)
{
	void *obj = NULL;

	spin_lock_bh(&kb.naive_lock);
	if (kb.naive_nr)
		obj = kb.naive_stack[--kb.naive_nr];
	spin_unlock_bh(&kb.naive_lock);
	return obj;
}

static noinline void ksalloc_bench_naive_free(void *obj)
{
	spin_lock_bh(&kb.naive_lock);
	kb.naive_stack[kb.naive_nr++] = obj;
	spin_unlock_bh(&kb.naive_lock);
}

static u32 ksalloc_bench_naive(u32 n)
{
	void *obj;
	u32 i, failed = 0;

	for (i = 0; i < n; i++) {
		obj = ksalloc_bench_naive_alloc();
		if (!obj) {
			failed++;
			continue;
		}
		ksalloc_bench_naive_free(obj);
	}
	return failed;
}

/* objpool came in 6.7 (module/compat.h): before, its row reads "n/a". */
#ifdef KSALLOC_HAVE_OBJPOOL
#include <linux/objpool.h>

static struct objpool_head ksalloc_bench_objpool;

static int ksalloc_bench_objpool_init(void)
{
	return objpool_init(&ksalloc_bench_objpool, KSALLOC_BENCH_OBJECTS,
			    KSALLOC_BENCH_SIZE, GFP_KERNEL, NULL, NULL, NULL);
}

static void ksalloc_bench_objpool_fini(void)
{
	objpool_fini(&ksalloc_bench_objpool);
}

static u32 ksalloc_bench_objpool_loop(u32 n)
{
	void *obj;
	u32 i, failed = 0;

	for (i = 0; i < n; i++) {
		obj = objpool_pop(&ksalloc_bench_objpool);
		if (!obj) {
			failed++;
			continue;
		}
		objpool_push(obj, &ksalloc_bench_objpool);
	}
	return failed;
}
#else
static int ksalloc_bench_objpool_init(void)
{
	return -EOPNOTSUPP;
}

static void ksalloc_bench_objpool_fini(void)
{
}

#define ksalloc_bench_objpool_loop NULL
#endif

/**
 * struct ksalloc_bench_type - one thing to time
 * @name: the Type: of its lines
 * @loop: runs pairs; NULL when this kernel lacks it
 * @scale: worth timing on all CPUs at once
 */
struct ksalloc_bench_type {
	const char *name;
	u32 (*loop)(u32 n);
	bool scale;
};

static const struct ksalloc_bench_type ksalloc_bench_types[] = {
	{ "empty_loop",		ksalloc_bench_empty,		false },
	{ "ksalloc_pair",	ksalloc_bench_table,		true },
	{ "ksalloc_direct_pair", ksalloc_bench_direct,		false },
	{ "kmem_cache_pair",	ksalloc_bench_kmem_cache,	true },
	{ "mempool_pair",	ksalloc_bench_mempool,		true },
	{ "objpool_pair",	ksalloc_bench_objpool_loop,	true },
	{ "naive_pair",		ksalloc_bench_naive,		true },
};

/**
 * struct ksalloc_bench_job - one measurement, on one or more CPUs
 * @type: what to time
 * @softirq: run the pairs in softirq context, else with BH disabled
 * @iters: timed pairs per CPU, or 0 to run for @duration_ns
 * @duration_ns: how long each CPU runs when @iters is 0
 * @chunk: pairs per BH-off stretch or softirq run
 */
struct ksalloc_bench_job {
	const struct ksalloc_bench_type *type;
	bool softirq;
	u64 iters;
	u64 duration_ns;
	u32 chunk;
};

/**
 * struct ksalloc_bench_worker - a kthread bound to one CPU
 * @job: what it runs
 * @task: the kthread
 * @timer: runs a chunk in softirq context, pinned to the CPU
 * @chunk_done: completed by @timer after its chunk
 * @done: completed when the measurement is over
 * @chunk_n: pairs of the chunk @timer runs
 * @ops: timed pairs
 * @ns: time spent in timed chunks
 * @cycles: TSC cycles spent in timed chunks
 * @wall: time from the first timed chunk to the end of the last
 * @failed: failed allocations
 * @bad_context: a chunk ran in the wrong context
 */
struct ksalloc_bench_worker {
	const struct ksalloc_bench_job *job;
	struct task_struct *task;
	struct hrtimer timer;
	struct completion chunk_done;
	struct completion done;
	u32 chunk_n;
	u64 ops;
	u64 ns;
	u64 cycles;
	u64 wall;
	u64 failed;
	bool bad_context;
};

/* Runs and times one chunk, in the context the job asks for. */
static void ksalloc_bench_chunk(struct ksalloc_bench_worker *w, u32 n)
{
	u64 t0, t1, c0, c1;

	if (w->job->softirq ? !in_serving_softirq() :
	    in_serving_softirq() || !in_softirq())
		w->bad_context = true;

	t0 = ktime_get_ns();
	c0 = get_cycles();
	w->failed += w->job->type->loop(n);
	c1 = get_cycles();
	t1 = ktime_get_ns();

	w->ns += t1 - t0;
	w->cycles += c1 - c0;
	w->ops += n;
}

static enum hrtimer_restart ksalloc_bench_chunk_timer(struct hrtimer *timer)
{
	struct ksalloc_bench_worker *w =
		container_of(timer, struct ksalloc_bench_worker, timer);

	ksalloc_bench_chunk(w, w->chunk_n);
	complete(&w->chunk_done);
	return HRTIMER_NORESTART;
}

/*
 * Runs one chunk of @n pairs and waits for it.  In softirq context the
 * kthread sleeps until the timer has run the chunk; in process context a
 * timed job sleeps as briefly after each chunk.  Untimed either way, the
 * sleeps make both contexts look alike to a hypervisor: a vCPU that never
 * idles is the first to lose its host CPU when the host is busy.
 */
static void ksalloc_bench_step(struct ksalloc_bench_worker *w, u32 n)
{
	if (w->job->softirq) {
		w->chunk_n = n;
		reinit_completion(&w->chunk_done);
		hrtimer_start(&w->timer, 0, HRTIMER_MODE_REL_PINNED_SOFT);
		wait_for_completion(&w->chunk_done);
	} else {
		local_bh_disable();
		ksalloc_bench_chunk(w, n);
		local_bh_enable();
		if (w->job->duration_ns)
			usleep_range(1, 2);
	}
	cond_resched();
}

/* Sleeps until kthread_stop(), so that the controller may always call it. */
static void ksalloc_bench_park(void)
{
	set_current_state(TASK_INTERRUPTIBLE);
	while (!kthread_should_stop()) {
		schedule();
		set_current_state(TASK_INTERRUPTIBLE);
	}
	__set_current_state(TASK_RUNNING);
}

static int ksalloc_bench_worker_fn(void *arg)
{
	struct ksalloc_bench_worker *w = arg;
	const struct ksalloc_bench_job *job = w->job;
	u64 left, start;
	u32 n;

	/* The same amount of untimed work on every CPU, in the same context. */
	n = job->iters ? warmup : job->chunk;
	if (n)
		ksalloc_bench_step(w, n);
	w->ops = 0;
	w->ns = 0;
	w->cycles = 0;
	w->failed = 0;

	start = ktime_get_ns();
	if (job->iters) {
		for (left = job->iters; left; left -= n) {
			n = min_t(u64, left, job->chunk);
			ksalloc_bench_step(w, n);
		}
	} else {
		do {
			ksalloc_bench_step(w, job->chunk);
		} while (ktime_get_ns() - start < job->duration_ns);
	}
	w->wall = ktime_get_ns() - start;

	hrtimer_cancel(&w->timer);
	complete(&w->done);
	ksalloc_bench_park();
	return 0;
}

/**
 * struct ksalloc_bench_result - what a job measured, summed over its CPUs
 * @ncpus: CPUs that ran it
 * @ops: timed pairs
 * @ns: the longest time a CPU spent in timed chunks
 * @cycles: the TSC cycles of that CPU
 * @wall: the longest time from a CPU's first timed chunk to its last
 * @rate: pairs per second, the sum of every CPU's
 * @failed: failed allocations
 */
struct ksalloc_bench_result {
	unsigned int ncpus;
	u64 ops;
	u64 ns;
	u64 cycles;
	u64 wall;
	u64 rate;
	u64 failed;
};

/*
 * Runs @job on @ncpus CPUs at once, the first ones online, one bound
 * kthread each.  Returns 0 or a negative errno.
 */
static int ksalloc_bench_run(const struct ksalloc_bench_job *job,
			     unsigned int ncpus,
			     struct ksalloc_bench_result *res)
{
	struct ksalloc_bench_worker *workers, *w;
	struct task_struct *task;
	unsigned int cpu, n = 0, i;
	int ret = 0;

	workers = kcalloc(ncpus, sizeof(*workers), GFP_KERNEL);
	if (!workers)
		return -ENOMEM;

	/* Create every kthread first, so that they start together. */
	for_each_online_cpu(cpu) {
		if (n == ncpus)
			break;
		w = &workers[n];
		w->job = job;
		init_completion(&w->chunk_done);
		init_completion(&w->done);
		hrtimer_init(&w->timer, CLOCK_MONOTONIC,
			     HRTIMER_MODE_REL_PINNED_SOFT);
		w->timer.function = ksalloc_bench_chunk_timer;
		task = kthread_create_on_cpu(ksalloc_bench_worker_fn, w, cpu,
					     "ksalloc_bench/%u");
		if (IS_ERR(task)) {
			ret = PTR_ERR(task);
			goto err_stop;
		}
		w->task = task;
		n++;
	}

	for (i = 0; i < n; i++)
		wake_up_process(workers[i].task);

	memset(res, 0, sizeof(*res));
	res->ncpus = n;
	for (i = 0; i < n; i++) {
		w = &workers[i];
		wait_for_completion(&w->done);
		kthread_stop(w->task);
		if (w->bad_context) {
			pr_err("%s: a chunk ran in the wrong context\n",
			       job->type->name);
			ret = -EIO;
		}
		res->ops += w->ops;
		res->failed += w->failed;
		res->wall = max(res->wall, w->wall);
		if (w->ns > res->ns) {
			res->ns = w->ns;
			res->cycles = w->cycles;
		}
		if (w->ns)
			res->rate += mul_u64_u64_div_u64(w->ops, NSEC_PER_SEC,
							 w->ns);
	}
	kfree(workers);
	return ret;

err_stop:
	/* Never woken: kthread_stop() keeps them from running at all. */
	while (n--)
		kthread_stop(workers[n].task);
	kfree(workers);
	return ret;
}

/* Prints a time_bench line: the cost of one pair, @ops pairs in @ns. */
static void ksalloc_bench_print(const char *name, u64 ops, u64 ns, u64 cycles)
{
	u64 milli_ns = ops ? div64_u64(ns * 1000, ops) : 0;
	u64 per_cycles = ops ? div64_u64(cycles, ops) : 0;

	pr_info("Type:%s Per elem: %llu cycles(tsc) %llu.%03llu ns (step:0) - (measurement period time:%llu.%09llu sec time_interval:%llu) - (invoke count:%llu tsc_interval:%llu)\n",
		name, per_cycles, milli_ns / 1000, milli_ns % 1000,
		ns / NSEC_PER_SEC, ns % NSEC_PER_SEC, ns, ops, cycles);
}

/* The name of a measurement: NAME, NAME_softirq, with _cpusN for scale. */
static void ksalloc_bench_name(char *buf, size_t size,
			       const struct ksalloc_bench_job *job,
			       unsigned int ncpus)
{
	size_t len = scnprintf(buf, size, "%s%s", job->type->name,
			       job->softirq ? "_softirq" : "");

	if (ncpus)
		scnprintf(buf + len, size - len, "_cpus%u", ncpus);
}

/* One cost measurement, printed. */
static int ksalloc_bench_cost_one(const struct ksalloc_bench_type *type,
				  bool softirq)
{
	struct ksalloc_bench_job job = {
		.type = type,
		.softirq = softirq,
		.iters = iters,
		.chunk = KSALLOC_BENCH_CHUNK,
	};
	struct ksalloc_bench_result res;
	char name[64];
	int ret;

	ksalloc_bench_name(name, sizeof(name), &job, 0);
	if (!type->loop) {
		pr_info("Type:%s n/a (not in this kernel)\n", name);
		return 0;
	}
	ret = ksalloc_bench_run(&job, 1, &res);
	if (ret)
		return ret;
	if (res.failed)
		pr_warn("%s: %llu allocations failed\n", name, res.failed);
	ksalloc_bench_print(name, res.ops, res.ns, res.cycles);
	return 0;
}

static int ksalloc_bench_cost(void)
{
	const struct ksalloc_bench_type *type;
	int ret, ctx;

	for (type = ksalloc_bench_types;
	     type < ksalloc_bench_types + ARRAY_SIZE(ksalloc_bench_types);
	     type++) {
		for (ctx = 0; ctx < 2; ctx++) {
			ret = ksalloc_bench_cost_one(type, ctx);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* The table pair and the empty loop, in process context only. */
static int ksalloc_bench_pair(void)
{
	const struct ksalloc_bench_type *type;
	int ret;

	for (type = ksalloc_bench_types;
	     type < ksalloc_bench_types + ARRAY_SIZE(ksalloc_bench_types);
	     type++) {
		if (strcmp(type->name, "empty_loop") &&
		    strcmp(type->name, "ksalloc_pair"))
			continue;
		ret = ksalloc_bench_cost_one(type, false);
		if (ret)
			return ret;
	}
	return 0;
}

/* One scale measurement on @ncpus CPUs, printed. */
static int ksalloc_bench_scale_one(const struct ksalloc_bench_job *job,
				   unsigned int ncpus, unsigned int run)
{
	struct ksalloc_bench_result res;
	char name[64];
	int ret;

	ret = ksalloc_bench_run(job, ncpus, &res);
	if (ret)
		return ret;
	ksalloc_bench_name(name, sizeof(name), job, res.ncpus);
	/* Per elem: the aggregate cost, all CPUs' pairs in the longest time. */
	ksalloc_bench_print(name, res.ops, res.ns, res.cycles);
	pr_info("scale: type=%s ctx=%s cpus=%u run=%u ops=%llu ns=%llu wall_ns=%llu ops_per_sec=%llu failed=%llu\n",
		job->type->name, job->softirq ? "softirq" : "process",
		res.ncpus, run, res.ops, res.ns, res.wall, res.rate,
		res.failed);
	return 0;
}

static int ksalloc_bench_scale(void)
{
	unsigned int all = cpus ? min(cpus, num_online_cpus()) :
			   num_online_cpus();
	const struct ksalloc_bench_type *type;
	struct ksalloc_bench_job job;
	unsigned int run;
	int ret, ctx;

	for (run = 0; run < runs; run++) {
		for (type = ksalloc_bench_types;
		     type < ksalloc_bench_types + ARRAY_SIZE(ksalloc_bench_types);
		     type++) {
			if (!type->scale || !type->loop)
				continue;
			for (ctx = 0; ctx < 2; ctx++) {
				job = (struct ksalloc_bench_job){
					.type = type,
					.softirq = ctx,
					.duration_ns = (u64)ms * NSEC_PER_MSEC,
					.chunk = KSALLOC_BENCH_CHUNK_SCALE,
				};
				/* One CPU alone, then all of them at once. */
				ret = ksalloc_bench_scale_one(&job, 1, run);
				if (!ret && all > 1)
					ret = ksalloc_bench_scale_one(&job, all, run);
				if (ret)
					return ret;
			}
		}
	}
	return 0;
}

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

	for (h->n = 0; h->n < samples; h->n++) {
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

static int ksalloc_bench_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
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
	h->lat[0] = kvcalloc(samples, sizeof(u64), GFP_KERNEL);
	h->lat[1] = kvcalloc(samples, sizeof(u64), GFP_KERNEL);
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

static int ksalloc_bench_handoff(void)
{
	unsigned int run;
	int ret;

	if (!samples)
		return -EINVAL;
	for (run = 0; run < runs; run++) {
		ret = ksalloc_bench_handoff_run(run);
		if (ret)
			return ret;
	}
	return 0;
}

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
 * The core's two slow paths (module/core.c, both noinline): the one place
 * where the bench knows more of the core than include/linux/ksalloc.h, by
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
		if (kb.table.allocate_frame(kb.alloc, &frames[i]))
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
		kb.table.free_frame(kb.alloc, frames[i]);
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
	s->duration_ns = (u64)ms * NSEC_PER_MSEC;
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

static int ksalloc_bench_stream(void)
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
	for (run = 0; !ret && run < runs; run++) {
		ret = ksalloc_bench_stream_one(run, false, false, prod, cons);
		if (!ret)
			ret = ksalloc_bench_stream_one(run, true, false, prod, cons);
	}
	if (ret)
		return ret;
	probed = ksalloc_bench_probes_register();
	for (run = 0; !ret && probed && run < runs; run++) {
		ret = ksalloc_bench_stream_one(run, false, true, prod, cons);
		if (!ret)
			ret = ksalloc_bench_stream_one(run, true, true, prod, cons);
	}
	ksalloc_bench_probes_unregister();
	return ret;
}

/* Counts the bytes of every frame that no longer hold the pattern. */
static u64 ksalloc_bench_frames_changed(void)
{
	const u8 *p;
	u64 changed = 0;
	u32 i, j;

	for (i = 0; i < KSALLOC_BENCH_OBJECTS; i++) {
		p = ksalloc_frame_ptr(kb.alloc, i);
		for (j = 0; j < KSALLOC_BENCH_SIZE; j++)
			changed += p[j] != KSALLOC_BENCH_PATTERN;
	}
	return changed;
}

static int ksalloc_bench_frames(void)
{
	void **frames;
	u64 changed = 0;
	int round, ret = 0;
	u32 i;

	frames = kvcalloc(KSALLOC_BENCH_OBJECTS, sizeof(*frames), GFP_KERNEL);
	if (!frames)
		return -ENOMEM;

	for (i = 0; i < KSALLOC_BENCH_OBJECTS; i++)
		memset(ksalloc_frame_ptr(kb.alloc, i), KSALLOC_BENCH_PATTERN,
		       KSALLOC_BENCH_SIZE);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < KSALLOC_BENCH_OBJECTS; i++) {
			ret = kb.table.allocate_frame(kb.alloc, &frames[i]);
			if (ret)
				break;
		}
		changed += ksalloc_bench_frames_changed();
		while (i--)
			kb.table.free_frame(kb.alloc, frames[i]);
		changed += ksalloc_bench_frames_changed();
		if (ret)
			break;
	}
	kvfree(frames);
	if (ret) {
		pr_err("frames: could not take all %u frames: %d\n",
		       KSALLOC_BENCH_OBJECTS, ret);
		return ret;
	}
	pr_info("frames: frames=%u frame_size=%u bytes_changed=%llu\n",
		KSALLOC_BENCH_OBJECTS, KSALLOC_BENCH_SIZE, changed);
	return 0;
}

/*
 * What the core's metadata is made of, in bytes: struct ksalloc per
 * allocator, a struct ksalloc_cache (of cache_frames slots) per possible
 * CPU, a free stack entry and a state byte per frame (the state array
 * rounded up to a power of two), a page pointer per pool page.
 */
static void ksalloc_bench_sizes(void)
{
	pr_info("sizes: ksalloc=%zu cache=%zu cache_frames=%u waiter=%zu free_stack_entry=%zu state_entry=%zu page_ptr=%zu page_size=%lu possible_cpus=%u\n",
		sizeof(struct ksalloc), sizeof(struct ksalloc_cache),
		KSALLOC_CACHE_SIZE, sizeof(struct ksalloc_waiter),
		sizeof_field(struct ksalloc, free_stack[0]),
		sizeof_field(struct ksalloc, state[0]),
		sizeof_field(struct ksalloc, pages[0]), PAGE_SIZE,
		num_possible_cpus());
}

static int ksalloc_bench_setup(void)
{
	const struct ksalloc_framing framing = {
		.pool_type = KSALLOC_POOL_NONPAGED,
		.frames = KSALLOC_BENCH_OBJECTS,
		.frame_size = KSALLOC_BENCH_SIZE,
		.alignment = L1_CACHE_BYTES - 1,
	};
	int ret;
	u32 i;

	kb.alloc = ksalloc_create(&framing);
	if (IS_ERR(kb.alloc))
		return PTR_ERR(kb.alloc);
	ret = ksalloc_get_function_table(kb.alloc, &kb.table);
	if (ret)
		goto err_close;

	ret = -ENOMEM;
	kb.cache = kmem_cache_create("ksalloc_bench", KSALLOC_BENCH_SIZE, 0, 0,
				     NULL);
	if (!kb.cache)
		goto err_close;
	kb.mempool = mempool_create_slab_pool(16, kb.cache);
	if (!kb.mempool)
		goto err_destroy_cache;

	spin_lock_init(&kb.naive_lock);
	kb.naive_mem = kvcalloc(KSALLOC_BENCH_OBJECTS, KSALLOC_BENCH_SIZE,
				GFP_KERNEL);
	kb.naive_stack = kvcalloc(KSALLOC_BENCH_OBJECTS,
				  sizeof(*kb.naive_stack), GFP_KERNEL);
	if (!kb.naive_mem || !kb.naive_stack)
		goto err_free_naive;
	for (i = 0; i < KSALLOC_BENCH_OBJECTS; i++)
		kb.naive_stack[i] = kb.naive_mem + i * KSALLOC_BENCH_SIZE;
	kb.naive_nr = KSALLOC_BENCH_OBJECTS;

	ret = ksalloc_bench_objpool_init();
	if (ret && ret != -EOPNOTSUPP)
		goto err_free_naive;
	kb.objpool = !ret;
	return 0;

err_free_naive:
	kvfree(kb.naive_stack);
	kvfree(kb.naive_mem);
	mempool_destroy(kb.mempool);
err_destroy_cache:
	kmem_cache_destroy(kb.cache);
err_close:
	ksalloc_close(kb.alloc);
	return ret;
}

static void ksalloc_bench_teardown(void)
{
	if (kb.objpool)
		ksalloc_bench_objpool_fini();
	kvfree(kb.naive_stack);
	kvfree(kb.naive_mem);
	mempool_destroy(kb.mempool);
	kmem_cache_destroy(kb.cache);
	/* Every frame is back: this drops the last reference. */
	ksalloc_close(kb.alloc);
}

static const struct {
	const char *name;
	int (*run)(void);
} ksalloc_bench_modes[] = {
	{ "frames",	ksalloc_bench_frames },
	{ "cost",	ksalloc_bench_cost },
	{ "pair",	ksalloc_bench_pair },
	{ "handoff",	ksalloc_bench_handoff },
	{ "scale",	ksalloc_bench_scale },
	{ "stream",	ksalloc_bench_stream },
};

/* Returns the bitmask of ksalloc_bench_modes[] that mode= names. */
static int ksalloc_bench_parse_mode(unsigned long *mask)
{
	char *buf, *s, *word;
	unsigned int i;
	int ret = 0;

	buf = kstrdup(mode, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	*mask = 0;
	s = strim(buf);
	while ((word = strsep(&s, ",")) != NULL) {
		if (!*word)
			continue;
		for (i = 0; i < ARRAY_SIZE(ksalloc_bench_modes); i++)
			if (!strcmp(word, ksalloc_bench_modes[i].name))
				break;
		if (!strcmp(word, "all")) {
			*mask |= BIT(ARRAY_SIZE(ksalloc_bench_modes)) - 1;
		} else if (i < ARRAY_SIZE(ksalloc_bench_modes)) {
			*mask |= BIT(i);
		} else {
			pr_err("unknown mode '%s'\n", word);
			ret = -EINVAL;
		}
	}
	kfree(buf);
	return ret;
}

static int __init ksalloc_bench_init(void)
{
	unsigned long mask;
	unsigned int i;
	int ret;

	ret = ksalloc_bench_parse_mode(&mask);
	if (ret)
		return ret;
	if (!iters || !ms || !runs)
		return -EINVAL;

	ret = ksalloc_bench_setup();
	if (ret)
		return ret;
	pr_info("start: mode=%s iters=%u warmup=%u ms=%u runs=%u samples=%u online_cpus=%u\n",
		mode, iters, warmup, ms, runs, samples, num_online_cpus());
	ksalloc_bench_sizes();
	for (i = 0; i < ARRAY_SIZE(ksalloc_bench_modes); i++) {
		if (!(mask & BIT(i)))
			continue;
		ret = ksalloc_bench_modes[i].run();
		if (ret) {
			pr_err("%s: %d\n", ksalloc_bench_modes[i].name, ret);
			break;
		}
	}
	ksalloc_bench_teardown();
	if (!ret)
		pr_info("done\n");
	/* Nothing stays behind: a successful load is a finished benchmark. */
	return ret;
}

static void __exit ksalloc_bench_exit(void)
{
}

module_init(ksalloc_bench_init);
module_exit(ksalloc_bench_exit);

MODULE_IMPORT_NS("KSALLOC");
MODULE_DESCRIPTION("Benchmarks of the ksalloc function table");
MODULE_LICENSE("GPL");
