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
 * The benchmarks call only what include/linux/ksalloc.h exports, as any
 * outside driver, so they measure whatever the core does behind the
 * exported API.  Only the "sizes:" line, for the report's metadata row,
 * needs more: for it this file includes the core's private module/core.h,
 * for sizeof() of its structures alone (see that #include below).
 *
 * This file loads the module, sets up what the pairs allocate from, and
 * runs the modes asked for; ksalloc_bench.h says where the others are.
 */

#include <linux/bitops.h>
#include <linux/cpumask.h>
#include <linux/ksalloc.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "ksalloc_bench.h"

/*
 * The core's private header, for sizeof() alone: the metadata per frame,
 * per CPU and per allocator that the report prints is what this build of
 * the core takes, not numbers copied into the report.  No field is read
 * and nothing of it is called.
 */
#include "../module/core.h"

static char *mode = "cost,handoff,frames";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "What to run, comma separated: cost, pair, scale, handoff, frames, stream (default cost,handoff,frames)");

uint ksalloc_bench_iters = 1000000;
module_param_named(iters, ksalloc_bench_iters, uint, 0444);
MODULE_PARM_DESC(iters, "Timed pairs per cost measurement (default 1000000)");

uint ksalloc_bench_warmup = 10000;
module_param_named(warmup, ksalloc_bench_warmup, uint, 0444);
MODULE_PARM_DESC(warmup, "Untimed pairs before each cost measurement (default 10000)");

uint ksalloc_bench_ms = 250;
module_param_named(ms, ksalloc_bench_ms, uint, 0444);
MODULE_PARM_DESC(ms, "Milliseconds per scale or stream measurement (default 250)");

uint ksalloc_bench_cpus;
module_param_named(cpus, ksalloc_bench_cpus, uint, 0444);
MODULE_PARM_DESC(cpus, "Most CPUs of the all-CPU scale measurement, 0 for all online (default 0)");

uint ksalloc_bench_runs = 1;
module_param_named(runs, ksalloc_bench_runs, uint, 0444);
MODULE_PARM_DESC(runs, "Repetitions of the scale, handoff and stream measurements (default 1)");

uint ksalloc_bench_samples = 500;
module_param_named(samples, ksalloc_bench_samples, uint, 0444);
MODULE_PARM_DESC(samples, "Hand-off round trips of each kind per run (default 500)");

struct ksalloc_bench ksalloc_bench_kb;

/* Counts the bytes of every frame that no longer hold the pattern. */
static u64 ksalloc_bench_frames_changed(void)
{
	struct ksalloc_bench *kb = &ksalloc_bench_kb;
	const u8 *p;
	u64 changed = 0;
	u32 i, j;

	for (i = 0; i < KSALLOC_BENCH_OBJECTS; i++) {
		p = ksalloc_frame_ptr(kb->alloc, i);
		for (j = 0; j < KSALLOC_BENCH_SIZE; j++)
			changed += p[j] != KSALLOC_BENCH_PATTERN;
	}
	return changed;
}

static int ksalloc_bench_frames(void)
{
	struct ksalloc_bench *kb = &ksalloc_bench_kb;
	void **frames;
	u64 changed = 0;
	int round, ret = 0;
	u32 i;

	frames = kvcalloc(KSALLOC_BENCH_OBJECTS, sizeof(*frames), GFP_KERNEL);
	if (!frames)
		return -ENOMEM;

	for (i = 0; i < KSALLOC_BENCH_OBJECTS; i++)
		memset(ksalloc_frame_ptr(kb->alloc, i), KSALLOC_BENCH_PATTERN,
		       KSALLOC_BENCH_SIZE);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < KSALLOC_BENCH_OBJECTS; i++) {
			ret = kb->table.allocate_frame(kb->alloc, &frames[i]);
			if (ret)
				break;
		}
		changed += ksalloc_bench_frames_changed();
		while (i--)
			kb->table.free_frame(kb->alloc, frames[i]);
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
	struct ksalloc_bench *kb = &ksalloc_bench_kb;
	const struct ksalloc_framing framing = {
		.pool_type = KSALLOC_POOL_NONPAGED,
		.frames = KSALLOC_BENCH_OBJECTS,
		.frame_size = KSALLOC_BENCH_SIZE,
		.alignment = L1_CACHE_BYTES - 1,
	};
	int ret;
	u32 i;

	kb->alloc = ksalloc_create(&framing);
	if (IS_ERR(kb->alloc))
		return PTR_ERR(kb->alloc);
	ret = ksalloc_get_function_table(kb->alloc, &kb->table);
	if (ret)
		goto err_close;

	ret = -ENOMEM;
	kb->cache = kmem_cache_create("ksalloc_bench", KSALLOC_BENCH_SIZE, 0, 0,
				      NULL);
	if (!kb->cache)
		goto err_close;
	kb->mempool = mempool_create_slab_pool(16, kb->cache);
	if (!kb->mempool)
		goto err_destroy_cache;

	spin_lock_init(&kb->naive_lock);
	kb->naive_mem = kvcalloc(KSALLOC_BENCH_OBJECTS, KSALLOC_BENCH_SIZE,
				 GFP_KERNEL);
	kb->naive_stack = kvcalloc(KSALLOC_BENCH_OBJECTS,
				   sizeof(*kb->naive_stack), GFP_KERNEL);
	if (!kb->naive_mem || !kb->naive_stack)
		goto err_free_naive;
	for (i = 0; i < KSALLOC_BENCH_OBJECTS; i++)
		kb->naive_stack[i] = kb->naive_mem + i * KSALLOC_BENCH_SIZE;
	kb->naive_nr = KSALLOC_BENCH_OBJECTS;

	ret = ksalloc_bench_objpool_init();
	if (ret && ret != -EOPNOTSUPP)
		goto err_free_naive;
	kb->objpool = !ret;
	return 0;

err_free_naive:
	kvfree(kb->naive_stack);
	kvfree(kb->naive_mem);
	mempool_destroy(kb->mempool);
err_destroy_cache:
	kmem_cache_destroy(kb->cache);
err_close:
	ksalloc_close(kb->alloc);
	return ret;
}

static void ksalloc_bench_teardown(void)
{
	struct ksalloc_bench *kb = &ksalloc_bench_kb;

	if (kb->objpool)
		ksalloc_bench_objpool_fini();
	kvfree(kb->naive_stack);
	kvfree(kb->naive_mem);
	mempool_destroy(kb->mempool);
	kmem_cache_destroy(kb->cache);
	/* Every frame is back: this drops the last reference. */
	ksalloc_close(kb->alloc);
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
	if (!ksalloc_bench_iters || !ksalloc_bench_ms || !ksalloc_bench_runs)
		return -EINVAL;

	ret = ksalloc_bench_setup();
	if (ret)
		return ret;
	pr_info("start: mode=%s iters=%u warmup=%u ms=%u runs=%u samples=%u online_cpus=%u\n",
		mode, ksalloc_bench_iters, ksalloc_bench_warmup, ksalloc_bench_ms,
		ksalloc_bench_runs, ksalloc_bench_samples, num_online_cpus());
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
