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
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/ksalloc.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/timer.h>

#include "../module/ksalloc_internal.h"

KUNIT_DEFINE_ACTION_WRAPPER(ksalloc_close_action, ksalloc_close, struct ksalloc *);

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
	u64 before = ksalloc_charged_bytes();
	struct ksalloc_status st;
	struct ksalloc *alloc;
	u32 i;

	alloc = ksalloc_create(&c->framing);
	if (c->expect) {
		KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(alloc), c->expect);
		KUNIT_EXPECT_EQ(test, ksalloc_charged_bytes(), before);
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
	KUNIT_EXPECT_EQ(test, ksalloc_charged_bytes(), before);
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
	u64 before = ksalloc_charged_bytes();
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
	KUNIT_EXPECT_EQ(test, ksalloc_charged_bytes(), before);

	/* The other order: all frames back, then the last reference. */
	alloc = ksalloc_test_create(test, 2, 64, 0, 0);
	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &a));
	ksalloc_get(alloc);
	ksalloc_test_close(test, alloc);
	ksalloc_free_frame(alloc, a);
	KUNIT_EXPECT_GT(test, ksalloc_charged_bytes(), before);
	ksalloc_put(alloc);
	KUNIT_EXPECT_EQ(test, ksalloc_charged_bytes(), before);
}

/*
 * Frames held by user space (taken for it, or handed to it by a driver) are
 * taken back when the handle closes; frames the kernel holds are not, and
 * stay valid until their holder frees them.
 */
static void ksalloc_close_reclaims_user_test(struct kunit *test)
{
	u64 before = ksalloc_charged_bytes();
	struct ksalloc *alloc = ksalloc_test_create(test, 6, 64, 0, 0);
	u32 idx[3];
	void *kern, *handed;

	KUNIT_ASSERT_EQ(test, 3, ksalloc_alloc_user(alloc, idx, 3));
	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &kern));
	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &handed));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_frame_to_user(alloc, handed));
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_frame_to_user(alloc, (u8 *)kern + 1));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_free_index(alloc, idx[2]));
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
	KUNIT_EXPECT_EQ(test, ksalloc_charged_bytes(), before);
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
	u64 before = ksalloc_charged_bytes();

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
	KUNIT_EXPECT_EQ(test, ksalloc_charged_bytes(), before);
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
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
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

struct ksalloc_stress {
	struct ksalloc *alloc;
	struct ksalloc_function_table table;
	atomic_t owner[KSALLOC_STRESS_FRAMES];	/* 0 free, else the holder's id */
	atomic_long_t ops;
	atomic_t errors;
	atomic_t running;
	struct completion all_done;
	struct timer_list timer;
	void *timer_held[KSALLOC_TIMER_HOLD];
	struct tasklet_struct tasklet;
	bool stop;
};

/* Claims a fresh frame for @id (its slot must be free) and fills it. */
static void ksalloc_stress_claim(struct ksalloc_stress *s, void *frame, int id)
{
	u32 i = ksalloc_frame_index(s->alloc, frame);

	if (i >= KSALLOC_STRESS_FRAMES || atomic_cmpxchg(&s->owner[i], 0, id))
		atomic_inc(&s->errors);
	memset(frame, id, KSALLOC_STRESS_SIZE);
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

	while (atomic_long_read(&s->ops) < KSALLOC_STRESS_OPS) {
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
	if (atomic_dec_and_test(&s->running))
		complete(&s->all_done);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

/*
 * Kthreads bound to every CPU, a self-rearming timer and a tasklet all
 * allocate, write, verify and free through the table until at least 10^6
 * frames went through, with the pool exhausted often enough that waits and
 * hand-offs happen.  No frame may be handed out twice, no pattern may be
 * disturbed, and at the end every frame is free and the free list intact.
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
	/* One last tick gives the timer's frames back and stops it. */
	WRITE_ONCE(s->stop, true);
	mod_timer(&s->timer, jiffies);
	while (timer_pending(&s->timer))
		msleep(20);
	timer_delete_sync(&s->timer);
	tasklet_kill(&s->tasklet);

	st = ksalloc_test_stats(test, s->alloc);
	kunit_info(test, "%ld frames through %d CPUs, timer and tasklet; %llu waits, %llu hand-offs\n",
		   atomic_long_read(&s->ops), n, st.waits, st.handoffs);
	KUNIT_EXPECT_GE(test, atomic_long_read(&s->ops), KSALLOC_STRESS_OPS);
	KUNIT_EXPECT_GT(test, st.waits, 0);
	KUNIT_EXPECT_GT(test, st.handoffs, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&s->errors), 0);
	KUNIT_EXPECT_EQ(test, st.allocs, st.frees);
	KUNIT_EXPECT_EQ(test, 0, ksalloc_test_allocated(test, s->alloc));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(s->alloc));
}

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
	KUNIT_CASE(ksalloc_softirq_test),
	KUNIT_CASE_SLOW(ksalloc_stress_test),
	{}
};

static struct kunit_suite ksalloc_test_suite = {
	.name = "ksalloc",
	.test_cases = ksalloc_test_cases,
};

kunit_test_suite(ksalloc_test_suite);

KSALLOC_IMPORT_NS();
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
MODULE_DESCRIPTION("KUnit tests for ksalloc");
MODULE_LICENSE("GPL");
