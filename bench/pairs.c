// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_bench - the alloc+free pairs: modes cost, pair and scale
 */

#include <linux/bottom_half.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/hardirq.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/ksalloc.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/mempool.h>
#include <linux/minmax.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timex.h>

#include "ksalloc_bench.h"

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
		if (ksalloc_bench_kb.table.allocate_frame(ksalloc_bench_kb.alloc, &frame)) {
			failed++;
			continue;
		}
		ksalloc_bench_kb.table.free_frame(ksalloc_bench_kb.alloc, frame);
	}
	return failed;
}

static u32 ksalloc_bench_direct(u32 n)
{
	void *frame;
	u32 i, failed = 0;

	for (i = 0; i < n; i++) {
		if (ksalloc_allocate_frame(ksalloc_bench_kb.alloc, &frame)) {
			failed++;
			continue;
		}
		ksalloc_free_frame(ksalloc_bench_kb.alloc, frame);
	}
	return failed;
}

static u32 ksalloc_bench_kmem_cache(u32 n)
{
	void *obj;
	u32 i, failed = 0;

	for (i = 0; i < n; i++) {
		obj = kmem_cache_alloc(ksalloc_bench_kb.cache, GFP_ATOMIC);
		if (!obj) {
			failed++;
			continue;
		}
		kmem_cache_free(ksalloc_bench_kb.cache, obj);
	}
	return failed;
}

static u32 ksalloc_bench_mempool(u32 n)
{
	void *obj;
	u32 i, failed = 0;

	for (i = 0; i < n; i++) {
		obj = mempool_alloc(ksalloc_bench_kb.mempool, GFP_ATOMIC);
		if (!obj) {
			failed++;
			continue;
		}
		mempool_free(obj, ksalloc_bench_kb.mempool);
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

	spin_lock_bh(&ksalloc_bench_kb.naive_lock);
	if (ksalloc_bench_kb.naive_nr)
		obj = ksalloc_bench_kb.naive_stack[--ksalloc_bench_kb.naive_nr];
	spin_unlock_bh(&ksalloc_bench_kb.naive_lock);
	return obj;
}

static noinline void ksalloc_bench_naive_free(void *obj)
{
	spin_lock_bh(&ksalloc_bench_kb.naive_lock);
	ksalloc_bench_kb.naive_stack[ksalloc_bench_kb.naive_nr++] = obj;
	spin_unlock_bh(&ksalloc_bench_kb.naive_lock);
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

int ksalloc_bench_objpool_init(void)
{
	return objpool_init(&ksalloc_bench_objpool, KSALLOC_BENCH_OBJECTS,
			    KSALLOC_BENCH_SIZE, GFP_KERNEL, NULL, NULL, NULL);
}

void ksalloc_bench_objpool_fini(void)
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
int ksalloc_bench_objpool_init(void)
{
	return -EOPNOTSUPP;
}

void ksalloc_bench_objpool_fini(void)
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

int ksalloc_bench_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* Sleeps until kthread_stop(), so that the controller may always call it. */
void ksalloc_bench_park(void)
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
	n = job->iters ? ksalloc_bench_warmup : job->chunk;
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
		.iters = ksalloc_bench_iters,
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

int ksalloc_bench_cost(void)
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
int ksalloc_bench_pair(void)
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

int ksalloc_bench_scale(void)
{
	unsigned int all = ksalloc_bench_cpus ? min(ksalloc_bench_cpus, num_online_cpus()) :
			   num_online_cpus();
	const struct ksalloc_bench_type *type;
	struct ksalloc_bench_job job;
	unsigned int run;
	int ret, ctx;

	for (run = 0; run < ksalloc_bench_runs; run++) {
		for (type = ksalloc_bench_types;
		     type < ksalloc_bench_types + ARRAY_SIZE(ksalloc_bench_types);
		     type++) {
			if (!type->scale || !type->loop)
				continue;
			for (ctx = 0; ctx < 2; ctx++) {
				job = (struct ksalloc_bench_job){
					.type = type,
					.softirq = ctx,
					.duration_ns = (u64)ksalloc_bench_ms * NSEC_PER_MSEC,
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
