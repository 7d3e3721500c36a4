/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksalloc_bench - what the files of the benchmark module share
 *
 * main.c loads the module, sets up the pools and runs the modes; pairs.c
 * times the alloc+free pairs (modes cost, pair, scale), handoff.c the
 * hand-off latency, stream.c the cross-CPU stream.
 */
#ifndef _KSALLOC_BENCH_H
#define _KSALLOC_BENCH_H

#include <linux/ksalloc.h>
#include <linux/ktime.h>
#include <linux/mempool.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/types.h>

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

/* The module parameters (main.c). */
extern uint ksalloc_bench_iters;
extern uint ksalloc_bench_warmup;
extern uint ksalloc_bench_ms;
extern uint ksalloc_bench_cpus;
extern uint ksalloc_bench_runs;
extern uint ksalloc_bench_samples;

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

extern struct ksalloc_bench ksalloc_bench_kb;

/* pairs.c */
int ksalloc_bench_objpool_init(void);
void ksalloc_bench_objpool_fini(void);
void ksalloc_bench_park(void);
int ksalloc_bench_cmp_u64(const void *a, const void *b);
int ksalloc_bench_cost(void);
int ksalloc_bench_pair(void);
int ksalloc_bench_scale(void);

/* handoff.c */
int ksalloc_bench_handoff(void);

/* stream.c */
int ksalloc_bench_stream(void);

#endif /* _KSALLOC_BENCH_H */
