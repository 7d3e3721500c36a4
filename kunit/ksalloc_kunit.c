// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for ksalloc
 *
 * Run with:
 *	./tools/testing/kunit/kunit.py run --kunitconfig=drivers/misc/ksalloc/kunit
 *
 * The cases go through the exported API (include/linux/ksalloc.h); the few
 * internals they need (index-based calls, the invariant check, the global
 * byte count) are exported only into EXPORTED_FOR_KUNIT_TESTING.
 */

#include <kunit/test.h>
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/fault-inject.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/ksalloc.h>
#include <linux/random.h>
#include <linux/sizes.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/timer.h>
#include <linux/vmalloc.h>

#include "../module/ksalloc_internal.h"

KUNIT_DEFINE_ACTION_WRAPPER(ksalloc_close_action, ksalloc_close, struct ksalloc *);

/*
 * The bytes charged to the budget once every release asked for so far is
 * done: releases run from a work item (and a recheck after an RCU grace
 * period may hold the last reference), never in the caller's context.
 */
static u64 ksalloc_test_charged(void)
{
	ksalloc_flush_releases(true);
	return ksalloc_charged_bytes();
}

/* The same, quicker when no recheck holds the last reference. */
static u64 ksalloc_test_settle(u64 want)
{
	ksalloc_flush_releases(false);
	if (ksalloc_charged_bytes() == want)
		return want;
	return ksalloc_test_charged();
}

/* Creates an allocator that is closed when the test ends, unless closed. */
static struct ksalloc *ksalloc_test_create(struct kunit *test, u32 frames,
					   u32 frame_size, u32 alignment,
					   u32 pool_type)
{
	struct ksalloc_framing f = {
		.frames = frames,
		.frame_size = frame_size,
		.alignment = alignment,
		.pool_type = pool_type,
	};
	struct ksalloc *alloc = ksalloc_create(&f);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, alloc);
	KUNIT_ASSERT_EQ(test, 0,
			kunit_add_action_or_reset(test, ksalloc_close_action, alloc));
	return alloc;
}

/* Closes an allocator made by ksalloc_test_create() now. */
static void ksalloc_test_close(struct kunit *test, struct ksalloc *alloc)
{
	kunit_release_action(test, ksalloc_close_action, alloc);
}

static u32 ksalloc_test_allocated(struct kunit *test, struct ksalloc *alloc)
{
	struct ksalloc_status st;

	KUNIT_EXPECT_EQ(test, 0, ksalloc_get_status(alloc, &st));
	return st.allocated_frames;
}

static struct ksalloc_stats ksalloc_test_stats(struct kunit *test,
					       struct ksalloc *alloc)
{
	struct ksalloc_stats s;

	KUNIT_EXPECT_EQ(test, 0, ksalloc_get_stats(alloc, &s));
	return s;
}

/*
 * The end of every test kthread: it waits for kthread_stop(), so that the
 * test may stop it at any time without racing its exit.
 */
static int ksalloc_thread_exit(void)
{
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

/* The last of @running kthreads to finish completes @all_done. */
static int ksalloc_thread_finish(atomic_t *running, struct completion *all_done)
{
	if (atomic_dec_and_test(running))
		complete(all_done);
	return ksalloc_thread_exit();
}

/* ---- framing validation ------------------------------------------------ */

struct ksalloc_framing_case {
	const char *name;
	struct ksalloc_framing framing;
	int expect;
};

#define FRAMING(_name, _flags, _type, _frames, _size, _align, _rsvd, _err) \
	{ .name = _name, .expect = _err, .framing = {			     \
		.flags = _flags, .pool_type = _type, .frames = _frames,	     \
		.frame_size = _size, .alignment = _align, .reserved = _rsvd } }

static const struct ksalloc_framing_case ksalloc_framing_cases[] = {
	FRAMING("one_byte", 0, 0, 1, 1, 0, 0, 0),
	FRAMING("aligned_64", 0, 0, 16, 100, 63, 0, 0),
	FRAMING("page_aligned", 0, 0, 3, 1, PAGE_SIZE - 1, 0, 0),
	FRAMING("paged_pool", 0, 1, 4, 256, 7, 0, 0),
	FRAMING("all_known_flags", 0x8000000f, 0, 2, 64, 0, 0, 0),
	FRAMING("zero_frames", 0, 0, 0, 64, 0, 0, -EINVAL),
	FRAMING("zero_size", 0, 0, 4, 0, 0, 0, -EINVAL),
	FRAMING("too_many_frames", 0, 0, U32_MAX, 1, 0, 0, -EINVAL),
	FRAMING("huge_frame", 0, 0, 1, U32_MAX, 0, 0, -EINVAL),
	FRAMING("pool_over_limit", 0, 0, 65536, 2048, PAGE_SIZE - 1, 0, -ENOMEM),
	FRAMING("frames_times_size_over_limit", 0, 0, 65536, SZ_4M, 0, 0, -ENOMEM),
	FRAMING("align_not_mask", 0, 0, 4, 64, 2, 0, -EINVAL),
	FRAMING("align_page_size", 0, 0, 4, 64, PAGE_SIZE, 0, -EINVAL),
	FRAMING("align_over_page", 0, 0, 4, 64, 2 * PAGE_SIZE - 1, 0, -EINVAL),
	FRAMING("align_all_ones", 0, 0, 4, 64, U32_MAX, 0, -EINVAL),
	FRAMING("unknown_flag", 0x10, 0, 4, 64, 0, 0, -EINVAL),
	FRAMING("unknown_pool_type", 0, 2, 4, 64, 0, 0, -EINVAL),
	FRAMING("reserved_set", 0, 0, 4, 64, 0, 1, -EINVAL),
};

static void ksalloc_framing_desc(const struct ksalloc_framing_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(ksalloc_framing, ksalloc_framing_cases, ksalloc_framing_desc);

/*
 * A framing is accepted or refused with the expected errno, a refusal
 * leaves no memory charged, and an accepted framing yields frames that are
 * distinct, aligned, writable over frame_size and index-addressable.
 */
static void ksalloc_framing_test(struct kunit *test)
{
	const struct ksalloc_framing_case *c = test->param_value;
	u64 before = ksalloc_test_charged();
	struct ksalloc_status st;
	struct ksalloc *alloc;
	u32 i;

	alloc = ksalloc_create(&c->framing);
	if (c->expect) {
		KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(alloc), c->expect);
		KUNIT_EXPECT_EQ(test, ksalloc_test_settle(before), before);
		return;
	}
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, alloc);
	KUNIT_EXPECT_GT(test, ksalloc_charged_bytes(), before);
	KUNIT_EXPECT_EQ(test, 0, ksalloc_get_status(alloc, &st));
	KUNIT_EXPECT_EQ(test, 0, memcmp(&st.framing, &c->framing, sizeof(st.framing)));
	KUNIT_EXPECT_EQ(test, st.allocated_frames, 0);
	KUNIT_EXPECT_EQ(test, st.reserved, 0);

	for (i = 0; i < c->framing.frames; i++) {
		u8 *p = ksalloc_frame_ptr(alloc, i);

		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_EXPECT_EQ(test, (unsigned long)p & c->framing.alignment, 0);
		KUNIT_EXPECT_EQ(test, ksalloc_frame_index(alloc, p), i);
		memset(p, 0xa5, c->framing.frame_size);
	}
	ksalloc_close(alloc);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(before), before);
}

/* ---- allocation and free ------------------------------------------------ */

/* Every frame can be taken once; then -ENOMEM at once, with NULL. */
static void ksalloc_exhaust_test(struct kunit *test)
{
	struct ksalloc *alloc = ksalloc_test_create(test, 8, 128, 0, 0);
	void *frames[8], *extra = (void *)1;
	u32 i;

	for (i = 0; i < 8; i++)
		KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &frames[i]));
	KUNIT_EXPECT_EQ(test, -ENOMEM, ksalloc_allocate_frame(alloc, &extra));
	KUNIT_EXPECT_NULL(test, extra);
	KUNIT_EXPECT_EQ(test, 1, ksalloc_test_stats(test, alloc).alloc_failures);
	KUNIT_EXPECT_EQ(test, 8, ksalloc_test_allocated(test, alloc));

	ksalloc_free_frame(alloc, frames[3]);
	KUNIT_EXPECT_EQ(test, 0, ksalloc_allocate_frame(alloc, &extra));
	KUNIT_EXPECT_PTR_EQ(test, extra, frames[3]);
	for (i = 0; i < 8; i++)
		ksalloc_free_frame(alloc, frames[i]);
	KUNIT_EXPECT_EQ(test, 0, ksalloc_test_allocated(test, alloc));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(alloc));
}

/*
 * Allocated frames are distinct, aligned to alignment + 1, inside the pool
 * and a stride apart; pointer and index convert both ways.
 */
static void ksalloc_distinct_test(struct kunit *test)
{
	const u32 n = 16, size = 100, align = 63;
	struct ksalloc *alloc = ksalloc_test_create(test, n, size, align, 0);
	u8 *base = ksalloc_frame_ptr(alloc, 0);
	u8 *end = base + n * round_up(size, align + 1);
	void **frames = kunit_kcalloc(test, n, sizeof(*frames), GFP_KERNEL);
	u32 i, j;

	KUNIT_ASSERT_NOT_NULL(test, frames);
	for (i = 0; i < n; i++) {
		u8 *p;

		KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &frames[i]));
		p = frames[i];
		KUNIT_EXPECT_TRUE(test, p >= base && p + size <= end);
		KUNIT_EXPECT_EQ(test, (unsigned long)p & align, 0);
		KUNIT_EXPECT_EQ(test, (p - base) % round_up(size, align + 1), 0);
		KUNIT_EXPECT_EQ(test, ksalloc_frame_index(alloc, p), i);
		KUNIT_EXPECT_PTR_EQ(test, ksalloc_frame_ptr(alloc, i), (void *)p);
		for (j = 0; j < i; j++)
			KUNIT_EXPECT_PTR_NE(test, frames[i], frames[j]);
	}
	KUNIT_EXPECT_NULL(test, ksalloc_frame_ptr(alloc, n));
	KUNIT_EXPECT_EQ(test, KSALLOC_NO_FRAME, ksalloc_frame_index(alloc, end));
	KUNIT_EXPECT_EQ(test, KSALLOC_NO_FRAME, ksalloc_frame_index(alloc, base - 1));
	KUNIT_EXPECT_EQ(test, KSALLOC_NO_FRAME, ksalloc_frame_index(alloc, base + 1));
	for (i = 0; i < n; i++)
		ksalloc_free_frame(alloc, frames[i]);
}

/*
 * A double free, a pointer of another allocator, a pointer inside a frame,
 * one past the pool and an index out of range are refused and change
 * nothing: counts, stats and the free list stay as they were.
 */
static void ksalloc_bad_free_test(struct kunit *test)
{
	struct ksalloc *alloc = ksalloc_test_create(test, 4, 64, 0, 0);
	struct ksalloc *other = ksalloc_test_create(test, 4, 64, 0, 0);
	struct ksalloc_stats before, after;
	void *a, *b, *foreign;
	int local;

	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &a));
	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &b));
	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(other, &foreign));
	ksalloc_free_frame(alloc, b);
	before = ksalloc_test_stats(test, alloc);

	ksalloc_free_frame(alloc, b);			/* double free */
	ksalloc_free_frame(alloc, foreign);		/* other allocator */
	ksalloc_free_frame(alloc, (u8 *)a + 1);		/* not a boundary */
	ksalloc_free_frame(alloc, (u8 *)ksalloc_frame_ptr(alloc, 3) + 64);
	ksalloc_free_frame(alloc, &local);		/* not a frame at all */
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_free_index(alloc, 4));
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_free_index(alloc, U32_MAX));
	KUNIT_EXPECT_EQ(test, -EINVAL,
			ksalloc_free_index(alloc, ksalloc_frame_index(alloc, b)));

	after = ksalloc_test_stats(test, alloc);
	KUNIT_EXPECT_EQ(test, 0, memcmp(&before, &after, sizeof(before)));
	KUNIT_EXPECT_EQ(test, 1, ksalloc_test_allocated(test, alloc));
	KUNIT_EXPECT_EQ(test, 1, ksalloc_test_allocated(test, other));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(alloc));

	ksalloc_free_frame(alloc, a);
	ksalloc_free_frame(other, foreign);
	KUNIT_EXPECT_EQ(test, 0, ksalloc_test_allocated(test, alloc));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_test_allocated(test, other));
}

/* Status and stats follow every allocation, free and failure. */
static void ksalloc_status_test(struct kunit *test)
{
	struct ksalloc *alloc = ksalloc_test_create(test, 5, 32, 3, 0);
	struct ksalloc_stats s;
	void *f[5], *none;
	u32 i;

	for (i = 0; i < 5; i++) {
		KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &f[i]));
		KUNIT_EXPECT_EQ(test, i + 1, ksalloc_test_allocated(test, alloc));
	}
	KUNIT_EXPECT_EQ(test, -ENOMEM, ksalloc_allocate_frame(alloc, &none));
	for (i = 0; i < 3; i++)
		ksalloc_free_frame(alloc, f[i]);
	KUNIT_EXPECT_EQ(test, 2, ksalloc_test_allocated(test, alloc));

	s = ksalloc_test_stats(test, alloc);
	KUNIT_EXPECT_EQ(test, s.allocs, 5);
	KUNIT_EXPECT_EQ(test, s.frees, 3);
	KUNIT_EXPECT_EQ(test, s.alloc_failures, 1);
	KUNIT_EXPECT_EQ(test, s.peak_allocated, 5);
	KUNIT_EXPECT_EQ(test, s.waits, 0);
	KUNIT_EXPECT_EQ(test, s.waiters, 0);
	ksalloc_free_frame(alloc, f[3]);
	ksalloc_free_frame(alloc, f[4]);
}

/* ---- function table and lifetime ----------------------------------------- */

/*
 * The table works while open; after close allocate_frame fails with
 * -ENODEV, the table can no longer be acquired, frees are still accepted,
 * and the memory is released only at the last put.
 */
static void ksalloc_table_lifecycle_test(struct kunit *test)
{
	u64 before = ksalloc_test_charged();
	struct ksalloc_function_table t = {};
	struct ksalloc *alloc;
	void *a, *b;

	alloc = ksalloc_test_create(test, 4, 512, 0, 0);
	KUNIT_EXPECT_FALSE(test, ksalloc_dispatch_active(alloc));
	KUNIT_ASSERT_EQ(test, 0, ksalloc_get_function_table(alloc, &t));
	KUNIT_EXPECT_TRUE(test, ksalloc_dispatch_active(alloc));
	KUNIT_EXPECT_TRUE(test, t.allocate_frame == ksalloc_allocate_frame);
	KUNIT_EXPECT_TRUE(test, t.free_frame == ksalloc_free_frame);
	KUNIT_ASSERT_EQ(test, 0, t.allocate_frame(alloc, &a));
	KUNIT_ASSERT_EQ(test, 0, t.allocate_frame(alloc, &b));
	t.free_frame(alloc, b);

	ksalloc_get(alloc);			/* a consumer's reference */
	ksalloc_test_close(test, alloc);
	KUNIT_EXPECT_FALSE(test, ksalloc_dispatch_active(alloc));
	KUNIT_EXPECT_EQ(test, -ENODEV, t.allocate_frame(alloc, &b));
	KUNIT_EXPECT_NULL(test, b);
	KUNIT_EXPECT_EQ(test, -ENODEV, ksalloc_get_function_table(alloc, &t));
	KUNIT_EXPECT_EQ(test, -ENODEV, ksalloc_alloc_frame_wait(alloc, 1, &b));
	KUNIT_EXPECT_GT(test, ksalloc_charged_bytes(), before);

	/* The consumer goes first: the outstanding frame keeps the memory. */
	ksalloc_put(alloc);
	KUNIT_EXPECT_GT(test, ksalloc_charged_bytes(), before);
	KUNIT_EXPECT_EQ(test, 1, ksalloc_test_allocated(test, alloc));
	t.free_frame(alloc, a);			/* last frame: memory goes */
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(before), before);

	/* The other order: all frames back, then the last reference. */
	alloc = ksalloc_test_create(test, 2, 64, 0, 0);
	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &a));
	ksalloc_get(alloc);
	ksalloc_test_close(test, alloc);
	ksalloc_free_frame(alloc, a);
	KUNIT_EXPECT_GT(test, ksalloc_charged_bytes(), before);
	ksalloc_put(alloc);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(before), before);
}

/*
 * Frames held by user space (taken for it, or handed to it by a driver) are
 * taken back when the handle closes; frames the kernel holds are not, and
 * stay valid until their holder frees them.
 */
static void ksalloc_close_reclaims_user_test(struct kunit *test)
{
	u64 before = ksalloc_test_charged();
	struct ksalloc *alloc = ksalloc_test_create(test, 6, 64, 0, 0);
	u32 idx[3];
	void *kern, *handed;

	KUNIT_ASSERT_EQ(test, 3, ksalloc_alloc_many(alloc, idx, 3));
	ksalloc_hand_to_user(alloc, idx, 3);
	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &kern));
	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &handed));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_frame_to_user(alloc, handed));
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_frame_to_user(alloc, (u8 *)kern + 1));
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_free_index(alloc, idx[2]));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_free_user(alloc, idx[2]));
	KUNIT_EXPECT_EQ(test, -EINVAL,
			ksalloc_frame_to_user(alloc, ksalloc_frame_ptr(alloc, idx[2])));
	KUNIT_EXPECT_EQ(test, 4, ksalloc_test_allocated(test, alloc));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(alloc));

	ksalloc_get(alloc);
	ksalloc_test_close(test, alloc);
	/* Two taken for user space and one handed to it came back. */
	KUNIT_EXPECT_EQ(test, 1, ksalloc_test_allocated(test, alloc));
	KUNIT_EXPECT_EQ(test, -ENODEV, ksalloc_frame_to_user(alloc, kern));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(alloc));
	ksalloc_free_frame(alloc, kern);
	KUNIT_EXPECT_EQ(test, 0, ksalloc_test_allocated(test, alloc));
	ksalloc_put(alloc);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(before), before);
}

struct ksalloc_bh_free {
	struct timer_list timer;
	struct completion done;
	struct ksalloc *alloc;
	void *frame;
	bool in_softirq;
};

static void ksalloc_bh_free_fn(struct timer_list *t)
{
	struct ksalloc_bh_free *bf = from_timer(bf, t, timer);

	bf->in_softirq = in_softirq();
	ksalloc_free_frame(bf->alloc, bf->frame);	/* drops the last reference */
	complete(&bf->done);
}

/*
 * The last reference can go in softirq context: a closed allocator whose
 * last frame comes back from a timer is released there, safely.
 */
static void ksalloc_release_in_softirq_test(struct kunit *test)
{
	struct ksalloc_bh_free *bf = kunit_kzalloc(test, sizeof(*bf), GFP_KERNEL);
	u64 before = ksalloc_test_charged();

	KUNIT_ASSERT_NOT_NULL(test, bf);
	bf->alloc = ksalloc_test_create(test, 4, 3 * PAGE_SIZE, 0, 0);
	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(bf->alloc, &bf->frame));
	ksalloc_test_close(test, bf->alloc);
	KUNIT_EXPECT_GT(test, ksalloc_charged_bytes(), before);

	init_completion(&bf->done);
	timer_setup(&bf->timer, ksalloc_bh_free_fn, 0);
	mod_timer(&bf->timer, jiffies + 1);
	KUNIT_EXPECT_GT(test, wait_for_completion_timeout(&bf->done, 10 * HZ), 0);
	timer_delete_sync(&bf->timer);
	KUNIT_EXPECT_TRUE(test, bf->in_softirq);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(before), before);
}

/* A PAGED pool has no DISPATCH interface, but allocates by waiting. */
static void ksalloc_paged_test(struct kunit *test)
{
	struct ksalloc *alloc = ksalloc_test_create(test, 2, 64, 0,
						    KSALLOC_POOL_PAGED);
	struct ksalloc_function_table t = {};
	void *f;

	KUNIT_EXPECT_EQ(test, -EOPNOTSUPP, ksalloc_get_function_table(alloc, &t));
	KUNIT_EXPECT_NULL(test, t.allocate_frame);
	KUNIT_EXPECT_FALSE(test, ksalloc_dispatch_active(alloc));
	KUNIT_ASSERT_EQ(test, 0, ksalloc_alloc_frame_wait(alloc, 0, &f));
	ksalloc_free_frame(alloc, f);
}

/* ---- waiters -------------------------------------------------------------- */

struct ksalloc_waiter_ctx {
	struct ksalloc *alloc;
	struct task_struct *task;
	struct completion done;
	long timeout;
	void *frame;
	int ret;
};

static int ksalloc_waiter_fn(void *data)
{
	struct ksalloc_waiter_ctx *w = data;

	w->ret = ksalloc_alloc_frame_wait(w->alloc, w->timeout, &w->frame);
	complete(&w->done);
	return ksalloc_thread_exit();
}

static void ksalloc_stop_waiter(void *data)
{
	struct ksalloc_waiter_ctx *w = data;

	kthread_stop(w->task);
}

/*
 * Starts @n waiting kthreads one after the other, each queued before the
 * next starts, so that their arrival order is known.
 */
static struct ksalloc_waiter_ctx *ksalloc_start_waiters(struct kunit *test,
							struct ksalloc *alloc,
							int n)
{
	struct ksalloc_waiter_ctx *w = kunit_kcalloc(test, n, sizeof(*w), GFP_KERNEL);
	u64 queued = ksalloc_test_stats(test, alloc).waiters;
	int i, tries;

	KUNIT_ASSERT_NOT_NULL(test, w);
	for (i = 0; i < n; i++) {
		w[i].alloc = alloc;
		w[i].timeout = 30 * HZ;	/* bounded, so a failure cannot hang */
		init_completion(&w[i].done);
		w[i].task = kthread_run(ksalloc_waiter_fn, &w[i], "ksalloc-w%d", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(w[i].task));
		KUNIT_ASSERT_EQ(test, 0,
				kunit_add_action_or_reset(test, ksalloc_stop_waiter, &w[i]));
		for (tries = 0; tries < 500; tries++) {
			if (ksalloc_test_stats(test, alloc).waiters == queued + i + 1)
				break;
			msleep(20);
		}
		KUNIT_ASSERT_EQ(test, queued + i + 1,
				ksalloc_test_stats(test, alloc).waiters);
	}
	return w;
}

/*
 * Waiters are served strictly in arrival order, each by a direct hand-off:
 * right after a free, the frame is already the oldest waiter's and a
 * non-waiting allocation cannot take it.
 */
static void ksalloc_waiters_fifo_test(struct kunit *test)
{
	const int n = 4;
	struct ksalloc *alloc = ksalloc_test_create(test, n, 64, 0, 0);
	struct ksalloc_waiter_ctx *w;
	void *frames[4], *stolen;
	int i;

	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &frames[i]));
	w = ksalloc_start_waiters(test, alloc, n);

	for (i = 0; i < n; i++) {
		/* free in reverse, so index order cannot fake arrival order */
		ksalloc_free_frame(alloc, frames[n - 1 - i]);
		KUNIT_EXPECT_EQ(test, -ENOMEM, ksalloc_allocate_frame(alloc, &stolen));
		KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&w[i].done, 10 * HZ), 0);
		KUNIT_EXPECT_EQ(test, w[i].ret, 0);
		KUNIT_EXPECT_PTR_EQ(test, w[i].frame, frames[n - 1 - i]);
	}
	KUNIT_EXPECT_EQ(test, n, ksalloc_test_stats(test, alloc).handoffs);
	KUNIT_EXPECT_EQ(test, 0, ksalloc_test_stats(test, alloc).waiters);
	KUNIT_EXPECT_EQ(test, n, ksalloc_test_allocated(test, alloc));
	for (i = 0; i < n; i++)
		ksalloc_free_frame(alloc, w[i].frame);
	KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(alloc));
}

/* A wait times out with -ETIMEDOUT; a zero timeout never waits. */
static void ksalloc_wait_timeout_test(struct kunit *test)
{
	struct ksalloc *alloc = ksalloc_test_create(test, 1, 64, 0, 0);
	struct ksalloc_stats s;
	void *f, *g;

	KUNIT_ASSERT_EQ(test, 0, ksalloc_alloc_frame_wait(alloc, 0, &f));
	KUNIT_EXPECT_EQ(test, -EAGAIN, ksalloc_alloc_frame_wait(alloc, 0, &g));
	KUNIT_EXPECT_EQ(test, -ETIMEDOUT, ksalloc_alloc_frame_wait(alloc, 2, &g));
	KUNIT_EXPECT_NULL(test, g);
	s = ksalloc_test_stats(test, alloc);
	KUNIT_EXPECT_EQ(test, s.waits, 1);
	KUNIT_EXPECT_EQ(test, s.wait_timeouts, 1);
	KUNIT_EXPECT_EQ(test, s.waiters, 0);
	ksalloc_free_frame(alloc, f);
	KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(alloc));
}

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

/* Closing wakes every waiter with -ENODEV and leaves none queued. */
static void ksalloc_close_wakes_test(struct kunit *test)
{
	const int n = 3;
	struct ksalloc *alloc = ksalloc_test_create(test, 1, 64, 0, 0);
	struct ksalloc_waiter_ctx *w;
	void *f;
	int i;

	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &f));
	w = ksalloc_start_waiters(test, alloc, n);
	ksalloc_get(alloc);
	ksalloc_test_close(test, alloc);
	for (i = 0; i < n; i++) {
		KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&w[i].done, 10 * HZ), 0);
		KUNIT_EXPECT_EQ(test, w[i].ret, -ENODEV);
		KUNIT_EXPECT_NULL(test, w[i].frame);
	}
	KUNIT_EXPECT_EQ(test, 0, ksalloc_test_stats(test, alloc).waiters);
	ksalloc_free_frame(alloc, f);
	ksalloc_put(alloc);
}

/* ---- per-CPU caches ------------------------------------------------------ */

enum { KSALLOC_OP_ALLOC, KSALLOC_OP_FREE, KSALLOC_OP_WAIT };

struct ksalloc_on_cpu {
	struct ksalloc *alloc;
	void **frames;
	int n;
	int op;
	int ret;
	struct completion done;
};

static int ksalloc_on_cpu_fn(void *data)
{
	struct ksalloc_on_cpu *o = data;
	int i;

	for (i = 0, o->ret = 0; i < o->n && !o->ret; i++) {
		if (o->op == KSALLOC_OP_FREE)
			ksalloc_free_frame(o->alloc, o->frames[i]);
		else if (o->op == KSALLOC_OP_ALLOC)
			o->ret = ksalloc_allocate_frame(o->alloc, &o->frames[i]);
		else
			o->ret = ksalloc_alloc_frame_wait(o->alloc, 10 * HZ,
							  &o->frames[i]);
	}
	complete(&o->done);
	return ksalloc_thread_exit();
}

/*
 * Runs @op on @n frames through the table (or the waiting call) in a
 * kthread bound to @cpu, so that the frames go to or come from that CPU's
 * cache.  Returns the first error, or 0.
 */
static int ksalloc_on_cpu(struct kunit *test, int cpu, int op,
			  struct ksalloc *alloc, void **frames, int n)
{
	struct ksalloc_on_cpu o = { .alloc = alloc, .frames = frames, .n = n, .op = op };
	struct task_struct *t;

	init_completion(&o.done);
	t = kthread_create_on_cpu(ksalloc_on_cpu_fn, &o, cpu, "ksalloc-c%u");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	wake_up_process(t);
	/* bounded, so a failure cannot hang; o lives until kthread_stop() */
	KUNIT_EXPECT_GT(test, wait_for_completion_timeout(&o.done, 30 * HZ), 0);
	kthread_stop(t);
	return o.ret;
}

/* Two online CPUs if there are, else the one twice. */
static void ksalloc_two_cpus(int *a, int *b)
{
	*a = cpumask_first(cpu_online_mask);
	*b = cpumask_next(*a, cpu_online_mask);
	if (*b >= nr_cpu_ids)
		*b = *a;
}

/*
 * Frames freed on one CPU wait in its cache, yet reach everyone: a
 * non-waiting allocation on another CPU gets them (no -ENOMEM while a frame
 * is cached anywhere), a waiting one is served from them without queueing,
 * and once a task waits, a free on another CPU skips its cache and goes
 * straight to the waiter.
 */
static void ksalloc_cache_reach_test(struct kunit *test)
{
	const int n = 8;
	struct ksalloc *alloc = ksalloc_test_create(test, n, 64, 0, 0);
	struct ksalloc_waiter_ctx *w;
	void *f[8], *none;
	int a, b, i;

	ksalloc_two_cpus(&a, &b);
	KUNIT_ASSERT_EQ(test, 0, ksalloc_on_cpu(test, b, KSALLOC_OP_ALLOC, alloc, f, n));
	KUNIT_EXPECT_EQ(test, n, ksalloc_test_allocated(test, alloc));

	/* Three frames into a's cache, then all taken back from b. */
	KUNIT_ASSERT_EQ(test, 0, ksalloc_on_cpu(test, a, KSALLOC_OP_FREE, alloc, f, 3));
	KUNIT_EXPECT_EQ(test, 3, ksalloc_cached_frames(alloc, a));
	KUNIT_EXPECT_EQ(test, n - 3, ksalloc_test_allocated(test, alloc));
	KUNIT_ASSERT_EQ(test, 0, ksalloc_on_cpu(test, b, KSALLOC_OP_ALLOC, alloc, f, 3));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_cached_frames(alloc, a));
	KUNIT_EXPECT_EQ(test, -ENOMEM, ksalloc_allocate_frame(alloc, &none));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(alloc));

	/* A waiting allocation on b is served from a's cache, never queued. */
	KUNIT_ASSERT_EQ(test, 0, ksalloc_on_cpu(test, a, KSALLOC_OP_FREE, alloc, f, 2));
	KUNIT_EXPECT_EQ(test, 2, ksalloc_cached_frames(alloc, a));
	KUNIT_ASSERT_EQ(test, 0, ksalloc_on_cpu(test, b, KSALLOC_OP_WAIT, alloc, f, 2));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_test_stats(test, alloc).waits);
	KUNIT_EXPECT_EQ(test, n, ksalloc_test_allocated(test, alloc));

	/* With a task queued, a free on a bypasses a's cache: a hand-off. */
	w = ksalloc_start_waiters(test, alloc, 1);
	KUNIT_ASSERT_EQ(test, 0, ksalloc_on_cpu(test, a, KSALLOC_OP_FREE, alloc, &f[4], 1));
	KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&w[0].done, 10 * HZ), 0);
	KUNIT_EXPECT_EQ(test, w[0].ret, 0);
	KUNIT_EXPECT_PTR_EQ(test, w[0].frame, f[4]);
	KUNIT_EXPECT_EQ(test, 0, ksalloc_cached_frames(alloc, a));
	KUNIT_EXPECT_EQ(test, 1, ksalloc_test_stats(test, alloc).handoffs);
	f[4] = w[0].frame;

	for (i = 0; i < n; i++)
		ksalloc_free_frame(alloc, f[i]);
	KUNIT_EXPECT_EQ(test, 0, ksalloc_test_allocated(test, alloc));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(alloc));
}

/*
 * More frames than a cache holds, all freed on one CPU: the cache fills,
 * overflows to the shared stack a batch at a time, and every frame can be
 * taken again.
 */
static void ksalloc_cache_overflow_test(struct kunit *test)
{
	const int n = 128;
	struct ksalloc *alloc = ksalloc_test_create(test, n, 64, 0, 0);
	void **f = kunit_kcalloc(test, n, sizeof(*f), GFP_KERNEL);
	struct ksalloc_stats st;
	int cpu, round, i;

	KUNIT_ASSERT_NOT_NULL(test, f);
	ksalloc_two_cpus(&cpu, &i);
	for (round = 0; round < 2; round++) {
		KUNIT_ASSERT_EQ(test, 0, ksalloc_on_cpu(test, cpu, KSALLOC_OP_ALLOC, alloc, f, n));
		KUNIT_EXPECT_EQ(test, n, ksalloc_test_allocated(test, alloc));
		KUNIT_ASSERT_EQ(test, 0, ksalloc_on_cpu(test, cpu, KSALLOC_OP_FREE, alloc, f, n));
		KUNIT_EXPECT_GT(test, ksalloc_cached_frames(alloc, cpu), 0);
		KUNIT_EXPECT_LE(test, ksalloc_cached_frames(alloc, cpu), 32);
		KUNIT_EXPECT_EQ(test, 0, ksalloc_test_allocated(test, alloc));
		KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(alloc));
	}
	st = ksalloc_test_stats(test, alloc);
	KUNIT_EXPECT_EQ(test, st.allocs, 2 * n);
	KUNIT_EXPECT_EQ(test, st.frees, 2 * n);
	/* Sampled when the lock is taken: short of the peak by less than a cache. */
	KUNIT_EXPECT_LE(test, st.peak_allocated, n);
	KUNIT_EXPECT_GT(test, st.peak_allocated, n - 32);
}

#if IS_ENABLED(CONFIG_HOTPLUG_CPU)
static void ksalloc_add_cpu(void *data)
{
	add_cpu((unsigned long)data);
}

/* A CPU that goes offline gives the frames in its cache back. */
static void ksalloc_cpu_offline_test(struct kunit *test)
{
	const int n = 8;
	struct ksalloc *alloc = ksalloc_test_create(test, n, 64, 0, 0);
	void *f[8];
	int cpu, i;

	cpu = cpumask_last(cpu_online_mask);
	if (num_online_cpus() < 2 || !cpu)
		kunit_skip(test, "needs a second online CPU");

	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &f[i]));
	KUNIT_ASSERT_EQ(test, 0, ksalloc_on_cpu(test, cpu, KSALLOC_OP_FREE, alloc, f, 5));
	KUNIT_ASSERT_EQ(test, 5, ksalloc_cached_frames(alloc, cpu));

	if (remove_cpu(cpu))
		kunit_skip(test, "CPU %d cannot go offline", cpu);
	KUNIT_ASSERT_EQ(test, 0,
			kunit_add_action_or_reset(test, ksalloc_add_cpu,
						  (void *)(unsigned long)cpu));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_cached_frames(alloc, cpu));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(alloc));
	KUNIT_EXPECT_EQ(test, n - 5, ksalloc_test_allocated(test, alloc));
	for (i = 0; i < 5; i++)
		KUNIT_EXPECT_EQ(test, 0, ksalloc_allocate_frame(alloc, &f[i]));
	for (i = 0; i < n; i++)
		ksalloc_free_frame(alloc, f[i]);
	KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(alloc));
}
#else
static void ksalloc_cpu_offline_test(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_HOTPLUG_CPU");
}
#endif

/* ---- softirq context -------------------------------------------------------- */

struct ksalloc_bh_ctx {
	struct ksalloc *alloc;
	struct ksalloc_function_table table;
	struct timer_list timer;
	struct tasklet_struct tasklet;
	struct completion timer_done, tasklet_done;
	bool timer_in_softirq, tasklet_in_softirq;
	int timer_ok, tasklet_ok;
};

/* Allocates every frame through the table, then frees them all. */
static int ksalloc_bh_cycle(struct ksalloc_bh_ctx *c)
{
	void *f[8];
	int i, ok = 0;

	for (i = 0; i < 8; i++)
		if (!c->table.allocate_frame(c->alloc, &f[i]))
			ok++;
	if (!c->table.allocate_frame(c->alloc, &f[0]))	/* must fail */
		ok = -1;
	for (i = 0; i < 8; i++)
		c->table.free_frame(c->alloc, ksalloc_frame_ptr(c->alloc, i));
	return ok;
}

static void ksalloc_bh_timer_fn(struct timer_list *t)
{
	struct ksalloc_bh_ctx *c = from_timer(c, t, timer);

	c->timer_in_softirq = in_softirq() && !in_hardirq();
	c->timer_ok = ksalloc_bh_cycle(c);
	complete(&c->timer_done);
}

static void ksalloc_bh_tasklet_fn(struct tasklet_struct *t)
{
	struct ksalloc_bh_ctx *c = from_tasklet(c, t, tasklet);

	c->tasklet_in_softirq = in_softirq() && !in_hardirq();
	c->tasklet_ok = ksalloc_bh_cycle(c);
	complete(&c->tasklet_done);
}

/* The table works from a timer and from a tasklet, both in softirq. */
static void ksalloc_softirq_test(struct kunit *test)
{
	struct ksalloc_bh_ctx *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, c);
	c->alloc = ksalloc_test_create(test, 8, 256, 15, 0);
	KUNIT_ASSERT_EQ(test, 0, ksalloc_get_function_table(c->alloc, &c->table));
	init_completion(&c->timer_done);
	init_completion(&c->tasklet_done);
	timer_setup(&c->timer, ksalloc_bh_timer_fn, 0);
	tasklet_setup(&c->tasklet, ksalloc_bh_tasklet_fn);

	mod_timer(&c->timer, jiffies + 1);
	KUNIT_EXPECT_GT(test, wait_for_completion_timeout(&c->timer_done, 10 * HZ), 0);
	tasklet_schedule(&c->tasklet);
	KUNIT_EXPECT_GT(test, wait_for_completion_timeout(&c->tasklet_done, 10 * HZ), 0);
	timer_delete_sync(&c->timer);
	tasklet_kill(&c->tasklet);

	KUNIT_EXPECT_TRUE(test, c->timer_in_softirq);
	KUNIT_EXPECT_TRUE(test, c->tasklet_in_softirq);
	KUNIT_EXPECT_EQ(test, c->timer_ok, 8);
	KUNIT_EXPECT_EQ(test, c->tasklet_ok, 8);
	KUNIT_EXPECT_EQ(test, 0, ksalloc_test_allocated(test, c->alloc));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(c->alloc));
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
	return ksalloc_thread_finish(&s->running, &s->all_done);
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
	return ksalloc_thread_exit();
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
	return ksalloc_thread_exit();
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
	return ksalloc_thread_finish(&s->running, &s->all_done);
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
	return ksalloc_thread_finish(&s->running, &s->all_done);
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
	ksalloc_thread_finish(&r->running, &r->all_done);
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
	return ksalloc_thread_exit();
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

/* ---- the promises of SPEC 7 ------------------------------------------------ */

struct ksalloc_put_bh {
	struct timer_list timer;
	struct completion done;
	struct ksalloc *alloc;
	bool in_softirq;
};

static void ksalloc_put_bh_fn(struct timer_list *t)
{
	struct ksalloc_put_bh *p = from_timer(p, t, timer);

	p->in_softirq = in_softirq();
	ksalloc_put(p->alloc);
	complete(&p->done);
}

/*
 * SPEC 7.7 and 7.8: the last reference goes in softirq context while
 * someone else (a pipe, a pin) holds a page of the pool.  The page keeps
 * exactly the bytes its holder wrote: the release writes nothing into the
 * pool (vfree() from softirq would store a list node in it).  And the pool
 * stays charged until that page reference goes.
 */
static void ksalloc_release_keeps_bytes_test(struct kunit *test)
{
	struct ksalloc_put_bh *p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);
	const struct ksalloc_framing f = { .frames = 4, .frame_size = PAGE_SIZE };
	u64 before = ksalloc_test_charged();
	struct page *page;
	u8 *frame, *mem;
	size_t i, bad = 0;

	KUNIT_ASSERT_NOT_NULL(test, p);
	p->alloc = ksalloc_create(&f);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p->alloc);
	frame = ksalloc_frame_ptr(p->alloc, 0);
	memset(frame, 0x5a, PAGE_SIZE);
	page = vmalloc_to_page(frame);
	KUNIT_ASSERT_NOT_NULL(test, page);
	get_page(page);

	ksalloc_get(p->alloc);
	ksalloc_close(p->alloc);	/* every frame is back: the handle goes */
	init_completion(&p->done);
	timer_setup(&p->timer, ksalloc_put_bh_fn, 0);
	mod_timer(&p->timer, jiffies + 1);
	KUNIT_EXPECT_GT(test, wait_for_completion_timeout(&p->done, 10 * HZ), 0);
	timer_delete_sync(&p->timer);
	KUNIT_EXPECT_TRUE(test, p->in_softirq);

	/* Released now, but the page is still held: still charged. */
	KUNIT_EXPECT_GT(test, ksalloc_test_charged(), before);
	mem = kmap_local_page(page);
	for (i = 0; i < PAGE_SIZE; i++)
		bad += mem[i] != 0x5a;
	kunmap_local(mem);
	KUNIT_EXPECT_EQ_MSG(test, bad, 0, "bytes of frame 0 changed by the release");
	put_page(page);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(before), before);
}

/*
 * SPEC 7.6: the last free after ksalloc_close() drops the handle, and may
 * drop the last reference; under the caller's spinlock, nothing sleeps
 * (DEBUG_ATOMIC_SLEEP would report "sleeping function called").
 */
static void ksalloc_last_free_atomic_test(struct kunit *test)
{
	const struct ksalloc_framing f = { .frames = 2, .frame_size = 3 * PAGE_SIZE };
	u64 before = ksalloc_test_charged();
	DEFINE_SPINLOCK(lock);
	struct ksalloc *alloc;
	void *frame;

	alloc = ksalloc_create(&f);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, alloc);
	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &frame));
	ksalloc_close(alloc);
	KUNIT_EXPECT_GT(test, ksalloc_charged_bytes(), before);

	spin_lock(&lock);
	ksalloc_free_frame(alloc, frame);	/* the last frame: the handle goes */
	spin_unlock(&lock);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(before), before);

	/* The same with the last reference put under the lock. */
	alloc = ksalloc_create(&f);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, alloc);
	ksalloc_get(alloc);
	ksalloc_close(alloc);
	ksalloc_flush_releases(true);
	spin_lock(&lock);
	ksalloc_put(alloc);
	spin_unlock(&lock);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(before), before);
}

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
	u64 end;

	local_irq_disable();
	end = ktime_get_mono_fast_ns() + 3 * NSEC_PER_SEC;
	WRITE_ONCE(s->spinning, true);
	while (!READ_ONCE(s->allocated)) {
		if (ktime_get_mono_fast_ns() > end) {
			s->spin_timed_out = true;
			break;
		}
		cpu_relax();
	}
	local_irq_enable();
	complete(&s->spin_done);
	return ksalloc_thread_exit();
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
	ksalloc_two_cpus(&a, &b);
	if (a == b)
		kunit_skip(test, "needs two online CPUs");
	KUNIT_ASSERT_TRUE(test, alloc_cpumask_var(&saved, GFP_KERNEL));
	cpumask_copy(saved, current->cpus_ptr);
	/* The test itself must not be stuck on b. */
	KUNIT_ASSERT_EQ(test, 0, set_cpus_allowed_ptr(current, cpumask_of(a)));

	KUNIT_ASSERT_EQ(test, 0, ksalloc_on_cpu(test, b, KSALLOC_OP_ALLOC, alloc, f, n));
	KUNIT_ASSERT_EQ(test, 0, ksalloc_on_cpu(test, b, KSALLOC_OP_FREE, alloc, f, n));
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

/*
 * SPEC 7.8: an allocator is charged for everything it costs, not only its
 * pool: a one-page pool costs the page, the per-CPU caches of every
 * possible CPU, the free stack, the states and the page array.  All of it
 * comes back.
 */
static void ksalloc_budget_metadata_test(struct kunit *test)
{
	const struct ksalloc_framing f = { .frames = 1, .frame_size = PAGE_SIZE };
	u64 before = ksalloc_test_charged(), cost;
	struct ksalloc *alloc;

	alloc = ksalloc_create(&f);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, alloc);
	cost = ksalloc_charged_bytes() - before;
	kunit_info(test, "one page of frames costs %llu bytes\n", cost);
	/* 32 indices of 4 bytes per possible CPU at least. */
	KUNIT_EXPECT_GT(test, cost, PAGE_SIZE + num_possible_cpus() * 128 + 4 + 1);
	ksalloc_close(alloc);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(before), before);
}

/*
 * SPEC 7.6: callers with interrupts disabled are refused, the same way
 * whatever the caches hold: allocate_frame says -EPERM, free_frame leaves
 * the frame with the caller.
 */
static void ksalloc_irqs_off_refused_test(struct kunit *test)
{
	const struct ksalloc_framing framing = { .frames = 2, .frame_size = 64 };
	struct ksalloc *alloc = ksalloc_test_create(test, 4, 64, 0, 0);
	struct ksalloc *other;
	unsigned long flags;
	u64 before;
	void *f, *g = NULL;
	int ret;

	local_irq_save(flags);
	ret = ksalloc_allocate_frame(alloc, &g);
	local_irq_restore(flags);
	KUNIT_EXPECT_EQ(test, ret, -EPERM);
	KUNIT_EXPECT_NULL(test, g);

	/* A frame in this CPU's cache changes nothing. */
	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &f));
	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &g));
	ksalloc_free_frame(alloc, g);
	local_irq_save(flags);
	ret = ksalloc_allocate_frame(alloc, &g);
	ksalloc_free_frame(alloc, f);
	local_irq_restore(flags);
	KUNIT_EXPECT_EQ(test, ret, -EPERM);
	KUNIT_EXPECT_EQ(test, 1, ksalloc_test_allocated(test, alloc));
	ksalloc_free_frame(alloc, f);
	KUNIT_EXPECT_EQ(test, 0, ksalloc_test_allocated(test, alloc));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(alloc));

	/* A close with interrupts off is not lost: it runs a little later. */
	before = ksalloc_test_charged();
	other = ksalloc_create(&framing);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, other);
	ksalloc_get(other);
	local_irq_save(flags);
	ksalloc_close(other);
	local_irq_restore(flags);
	ksalloc_flush_releases(false);
	KUNIT_EXPECT_EQ(test, -ENODEV, ksalloc_allocate_frame(other, &g));
	ksalloc_put(other);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(before), before);
}

/*
 * SPEC 7.1: a frame goes to user space once; user space frees only what it
 * holds, kernel code only what kernel code holds.
 */
static void ksalloc_who_frees_test(struct kunit *test)
{
	struct ksalloc *alloc = ksalloc_test_create(test, 4, 64, 0, 0);
	void *f;
	u32 i;

	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &f));
	i = ksalloc_frame_index(alloc, f);
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_free_user(alloc, i));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_frame_to_user(alloc, f));
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_frame_to_user(alloc, f));
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_free_index(alloc, i));
	KUNIT_EXPECT_EQ(test, 1, ksalloc_test_allocated(test, alloc));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_free_user(alloc, i));
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_free_user(alloc, i));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_test_allocated(test, alloc));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(alloc));
}

struct ksalloc_poll_probe {
	struct wait_queue_entry wq;
	atomic_t wakes;
};

static int ksalloc_poll_probe_wake(struct wait_queue_entry *wq,
				   unsigned int mode, int sync, void *key)
{
	struct ksalloc_poll_probe *p = container_of(wq, struct ksalloc_poll_probe, wq);

	atomic_inc(&p->wakes);
	return 0;
}

/*
 * SPEC 7.4: a poller that stays registered (as a level- or edge-triggered
 * epoll entry does) is woken by the free that follows every moment with no
 * free frame, once, also when nobody polled in between (the allocation
 * that took the last frame arms it); and after that wake-up the caches
 * work again.
 */
static void ksalloc_poll_edges_test(struct kunit *test)
{
	struct ksalloc *alloc = ksalloc_test_create(test, 4, 64, 0, 0);
	struct ksalloc_poll_probe *p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);
	cpumask_var_t saved;
	int cpu, round, i, w;
	void *f[4];

	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_TRUE(test, alloc_cpumask_var(&saved, GFP_KERNEL));
	cpumask_copy(saved, current->cpus_ptr);
	cpu = cpumask_first(cpu_online_mask);
	KUNIT_ASSERT_EQ(test, 0, set_cpus_allowed_ptr(current, cpumask_of(cpu)));
	init_waitqueue_func_entry(&p->wq, ksalloc_poll_probe_wake);
	add_wait_queue(ksalloc_poll_queue(alloc), &p->wq);

	for (round = 0; round < 4; round++) {
		for (i = 0; i < 4; i++)
			KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &f[i]));
		/* Every other round, a poller also looks and finds nothing. */
		if (round & 1)
			KUNIT_EXPECT_FALSE(test, ksalloc_poll_ready(alloc));
		w = atomic_read(&p->wakes);
		ksalloc_free_frame(alloc, f[0]);
		KUNIT_EXPECT_EQ_MSG(test, atomic_read(&p->wakes), w + 1, "round %d", round);
		KUNIT_EXPECT_TRUE(test, ksalloc_poll_ready(alloc));
		for (i = 1; i < 4; i++)
			ksalloc_free_frame(alloc, f[i]);
		/* No more wake-ups, and the frees went to this CPU's cache. */
		KUNIT_EXPECT_EQ(test, atomic_read(&p->wakes), w + 1);
		KUNIT_EXPECT_GT(test, ksalloc_cached_frames(alloc, cpu), 0);
		KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(alloc));
	}

	remove_wait_queue(ksalloc_poll_queue(alloc), &p->wq);
	set_cpus_allowed_ptr(current, saved);
	free_cpumask_var(saved);
}

/* ---- fault injection ------------------------------------------------------- */

#if IS_ENABLED(CONFIG_FAULT_INJECTION_DEBUG_FS) && IS_ENABLED(CONFIG_FAILSLAB) && \
	IS_ENABLED(CONFIG_FAIL_PAGE_ALLOC)
/*
 * The knobs of failslab and fail_page_alloc are static variables in mm/,
 * reachable only through their debugfs files.  A debugfs file made with
 * debugfs_create_bool() or debugfs_create_u32() keeps the address of its
 * variable in its inode's i_private, which is how we find them.
 */
static void *ksalloc_fault_knob(const char *dir, const char *name)
{
	struct dentry *d, *f;
	void *p = NULL;

	d = debugfs_lookup(dir, NULL);
	if (!d)
		return NULL;
	f = debugfs_lookup(name, d);
	if (f) {
		p = d_inode(f)->i_private;
		dput(f);
	}
	dput(d);
	return p;
}

struct ksalloc_fault_knobs {
	bool *slab_ignore_reclaim, *page_ignore_reclaim;
	u32 *page_min_order, *slab_verbose, *page_verbose;
	bool slab_ignore_reclaim_was, page_ignore_reclaim_was;
	u32 page_min_order_was, slab_verbose_was, page_verbose_was;
};

static void ksalloc_fault_restore(void *data)
{
	struct ksalloc_fault_knobs *k = data;

	*k->slab_ignore_reclaim = k->slab_ignore_reclaim_was;
	*k->page_ignore_reclaim = k->page_ignore_reclaim_was;
	*k->page_min_order = k->page_min_order_was;
	*k->slab_verbose = k->slab_verbose_was;
	*k->page_verbose = k->page_verbose_was;
}

/*
 * Lets fail_nth fail every slab and page allocation, also those that may
 * sleep and those of order 0, quietly; undone when the test ends.
 */
static void ksalloc_fault_setup(struct kunit *test)
{
	struct ksalloc_fault_knobs *k = kunit_kzalloc(test, sizeof(*k), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, k);
	k->slab_ignore_reclaim = ksalloc_fault_knob("failslab", "ignore-gfp-wait");
	k->slab_verbose = ksalloc_fault_knob("failslab", "verbose");
	k->page_ignore_reclaim = ksalloc_fault_knob("fail_page_alloc", "ignore-gfp-wait");
	k->page_min_order = ksalloc_fault_knob("fail_page_alloc", "min-order");
	k->page_verbose = ksalloc_fault_knob("fail_page_alloc", "verbose");
	if (!k->slab_ignore_reclaim || !k->slab_verbose || !k->page_ignore_reclaim ||
	    !k->page_min_order || !k->page_verbose)
		kunit_skip(test, "the failslab or fail_page_alloc debugfs knobs are missing");

	k->slab_ignore_reclaim_was = *k->slab_ignore_reclaim;
	k->page_ignore_reclaim_was = *k->page_ignore_reclaim;
	k->page_min_order_was = *k->page_min_order;
	k->slab_verbose_was = *k->slab_verbose;
	k->page_verbose_was = *k->page_verbose;
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, ksalloc_fault_restore, k));
	*k->slab_ignore_reclaim = false;
	*k->page_ignore_reclaim = false;
	*k->page_min_order = 0;
	*k->slab_verbose = 0;
	*k->page_verbose = 0;
}

/*
 * Makes the n-th allocation of @make fail, for n = 1, 2, ... until @make
 * runs without reaching an n-th allocation.  Each failure must be a clean
 * -ENOMEM with nothing left charged; a fault that @make absorbed (a
 * fallback inside the allocator it called) must leave a working object,
 * which @undo then releases.  Returns the number of faults injected.
 */
static int ksalloc_fault_each(struct kunit *test, const char *what,
			      void *(*make)(void), void (*undo)(void *obj))
{
	u64 before = ksalloc_test_charged();
	int n, failed = 0, absorbed = 0;

	for (n = 1; n < 10000; n++) {
		unsigned int left;
		void *obj;

		WRITE_ONCE(current->fail_nth, n);
		obj = make();
		left = READ_ONCE(current->fail_nth);
		WRITE_ONCE(current->fail_nth, 0);

		if (IS_ERR(obj)) {
			KUNIT_EXPECT_EQ_MSG(test, PTR_ERR(obj), -ENOMEM,
					    "%s, fault %d", what, n);
		} else {
			undo(obj);
		}
		KUNIT_EXPECT_EQ_MSG(test, ksalloc_test_settle(before), before,
				    "%s, fault %d", what, n);
		if (left) {
			/* No n-th allocation: this run had no fault. */
			KUNIT_EXPECT_FALSE_MSG(test, IS_ERR(obj), "%s without a fault", what);
			break;
		}
		if (IS_ERR(obj))
			failed++;
		else
			absorbed++;
	}
	kunit_info(test, "%s: %d faults injected, %d failed cleanly, %d absorbed\n",
		   what, n - 1, failed, absorbed);
	KUNIT_EXPECT_GT(test, failed, 0);
	return n - 1;
}

/* 16 frames of 3000 bytes: a pool of several pages, and a stride. */
static const struct ksalloc_framing ksalloc_fault_framing = {
	.frames = 16, .frame_size = 3000, .alignment = 63,
};

static void *ksalloc_fault_create(void)
{
	return ksalloc_create(&ksalloc_fault_framing);
}

static void ksalloc_fault_close(void *obj)
{
	ksalloc_close(obj);
}

static void *ksalloc_fault_file(void)
{
	return ksalloc_kunit_file(&ksalloc_fault_framing);
}

static void ksalloc_fault_fput(void *obj)
{
	__fput_sync(obj);
}

/*
 * Every allocation that ksalloc_create() makes, failed one at a time, and
 * the same for a framed file (the handle, the allocator, the file), which
 * is what open() and KSALLOC_IOC_SET_FRAMING together allocate.
 */
static void ksalloc_fault_inject_test(struct kunit *test)
{
	int faults;

	ksalloc_fault_setup(test);
	faults = ksalloc_fault_each(test, "ksalloc_create()", ksalloc_fault_create,
				    ksalloc_fault_close);
	faults += ksalloc_fault_each(test, "framed file", ksalloc_fault_file,
				     ksalloc_fault_fput);
	kunit_info(test, "%d faults injected in all\n", faults);
}
#else
static void ksalloc_fault_inject_test(struct kunit *test)
{
	kunit_skip(test, "needs FAULT_INJECTION_DEBUG_FS, FAILSLAB and FAIL_PAGE_ALLOC");
}
#endif

static struct kunit_case ksalloc_test_cases[] = {
	KUNIT_CASE_PARAM(ksalloc_framing_test, ksalloc_framing_gen_params),
	KUNIT_CASE(ksalloc_exhaust_test),
	KUNIT_CASE(ksalloc_distinct_test),
	KUNIT_CASE(ksalloc_bad_free_test),
	KUNIT_CASE(ksalloc_status_test),
	KUNIT_CASE(ksalloc_table_lifecycle_test),
	KUNIT_CASE(ksalloc_close_reclaims_user_test),
	KUNIT_CASE(ksalloc_release_in_softirq_test),
	KUNIT_CASE(ksalloc_paged_test),
	KUNIT_CASE(ksalloc_waiters_fifo_test),
	KUNIT_CASE(ksalloc_wait_timeout_test),
	KUNIT_CASE_SLOW(ksalloc_timeout_race_test),
	KUNIT_CASE(ksalloc_close_wakes_test),
	KUNIT_CASE(ksalloc_cache_reach_test),
	KUNIT_CASE(ksalloc_cache_overflow_test),
	KUNIT_CASE(ksalloc_cpu_offline_test),
	KUNIT_CASE(ksalloc_softirq_test),
	KUNIT_CASE_SLOW(ksalloc_stress_test),
	KUNIT_CASE_SLOW(ksalloc_softirq_vs_task_test),
	KUNIT_CASE_SLOW(ksalloc_timeout_handoff_test),
	KUNIT_CASE_SLOW(ksalloc_close_race_test),
	KUNIT_CASE_SLOW(ksalloc_last_put_race_test),
	KUNIT_CASE(ksalloc_fault_inject_test),
	KUNIT_CASE(ksalloc_release_keeps_bytes_test),
	KUNIT_CASE(ksalloc_last_free_atomic_test),
	KUNIT_CASE(ksalloc_softirq_steal_test),
	KUNIT_CASE_SLOW(ksalloc_hotplug_linear_test),
	KUNIT_CASE(ksalloc_budget_metadata_test),
	KUNIT_CASE(ksalloc_irqs_off_refused_test),
	KUNIT_CASE(ksalloc_who_frees_test),
	KUNIT_CASE(ksalloc_poll_edges_test),
	{}
};

static struct kunit_suite ksalloc_test_suite = {
	.name = "ksalloc",
	.test_cases = ksalloc_test_cases,
};

kunit_test_suite(ksalloc_test_suite);

MODULE_IMPORT_NS("KSALLOC");
MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
MODULE_DESCRIPTION("KUnit tests for ksalloc");
MODULE_LICENSE("GPL");
