// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite "ksalloc": the unit cases, one behaviour each, quick and
 * deterministic: framing validation, allocation and free, double-free
 * detection, the function-table lifecycle, FIFO waiters, the per-CPU
 * caches, calls from softirq context, the promises of SPEC 7 and every
 * allocation failed in turn.  The races and stress runs are the suite
 * "ksalloc_stress" (kunit/stress.c); both are the module ksalloc_kunit.
 *
 * Run with:
 *	./tools/testing/kunit/kunit.py run --kunitconfig=drivers/misc/ksalloc/kunit
 * which skips ksalloc_fault_inject_test, as scripts/kunit.sh's UML run does:
 * it needs --kconfig_add CONFIG_...=y of DEBUG_FS, FAULT_INJECTION, FAILSLAB,
 * FAULT_INJECTION_DEBUG_FS and FAIL_PAGE_ALLOC, as the kasan profile adds.
 */

#include <kunit/test.h>
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/ksalloc.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timer.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>

#include "../module/ksalloc_internal.h"
#include "helpers.h"

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
	return ksalloc_test_thread_exit();
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

	ksalloc_test_two_cpus(&a, &b);
	KUNIT_ASSERT_EQ(test, 0, ksalloc_test_on_cpu(test, b, KSALLOC_OP_ALLOC, alloc, f, n));
	KUNIT_EXPECT_EQ(test, n, ksalloc_test_allocated(test, alloc));

	/* Three frames into a's cache, then all taken back from b. */
	KUNIT_ASSERT_EQ(test, 0, ksalloc_test_on_cpu(test, a, KSALLOC_OP_FREE, alloc, f, 3));
	KUNIT_EXPECT_EQ(test, 3, ksalloc_cached_frames(alloc, a));
	KUNIT_EXPECT_EQ(test, n - 3, ksalloc_test_allocated(test, alloc));
	KUNIT_ASSERT_EQ(test, 0, ksalloc_test_on_cpu(test, b, KSALLOC_OP_ALLOC, alloc, f, 3));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_cached_frames(alloc, a));
	KUNIT_EXPECT_EQ(test, -ENOMEM, ksalloc_allocate_frame(alloc, &none));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_check_invariants(alloc));

	/* A waiting allocation on b is served from a's cache, never queued. */
	KUNIT_ASSERT_EQ(test, 0, ksalloc_test_on_cpu(test, a, KSALLOC_OP_FREE, alloc, f, 2));
	KUNIT_EXPECT_EQ(test, 2, ksalloc_cached_frames(alloc, a));
	KUNIT_ASSERT_EQ(test, 0, ksalloc_test_on_cpu(test, b, KSALLOC_OP_WAIT, alloc, f, 2));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_test_stats(test, alloc).waits);
	KUNIT_EXPECT_EQ(test, n, ksalloc_test_allocated(test, alloc));

	/* With a task queued, a free on a bypasses a's cache: a hand-off. */
	w = ksalloc_start_waiters(test, alloc, 1);
	KUNIT_ASSERT_EQ(test, 0, ksalloc_test_on_cpu(test, a, KSALLOC_OP_FREE, alloc, &f[4], 1));
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
	ksalloc_test_two_cpus(&cpu, &i);
	for (round = 0; round < 2; round++) {
		KUNIT_ASSERT_EQ(test, 0,
				ksalloc_test_on_cpu(test, cpu, KSALLOC_OP_ALLOC, alloc, f, n));
		KUNIT_EXPECT_EQ(test, n, ksalloc_test_allocated(test, alloc));
		KUNIT_ASSERT_EQ(test, 0,
				ksalloc_test_on_cpu(test, cpu, KSALLOC_OP_FREE, alloc, f, n));
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
	KUNIT_ASSERT_EQ(test, 0, ksalloc_test_on_cpu(test, cpu, KSALLOC_OP_FREE, alloc, f, 5));
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

/*
 * What a user sets in debugfs before failing allocations through fail-nth
 * (Documentation/fault-injection/fault-injection.rst): every slab and page
 * allocation may fail, also one that may sleep, one of order 0 and one
 * that may come from highmem, and the failures are quiet.  These knobs
 * are the whole system's: every other user of failslab and fail_page_alloc
 * sees them changed until KUnit's cleanup sets them back.  Neither set nor
 * restored: failslab/cache-filter (when Y, only the caches marked in
 * /sys/kernel/slab/NAME/failslab fail, none of ksalloc's, and fail-nth
 * does not even count their allocations) and the stack-trace filter
 * (stacktrace-depth, require-*, reject-*), which fail-nth obeys too.  A
 * fresh boot has both off.
 */
static const struct {
	const char *path;
	const char *value;
} ksalloc_fault_knobs[] = {
	{ "failslab/ignore-gfp-wait", "N" },
	{ "failslab/verbose", "0" },
	{ "fail_page_alloc/ignore-gfp-wait", "N" },
	{ "fail_page_alloc/ignore-gfp-highmem", "N" },
	{ "fail_page_alloc/min-order", "0" },
	{ "fail_page_alloc/verbose", "0" },
};

#define KSALLOC_FAULT_KNOBS	ARRAY_SIZE(ksalloc_fault_knobs)

struct ksalloc_fault {
	struct kunit *test;
	struct file *knob[KSALLOC_FAULT_KNOBS];
	char was[KSALLOC_FAULT_KNOBS][16];	/* what the knobs said before */
	struct file *fail_nth;	/* /proc/thread-self/fail-nth of the case */
	void __user *ubuf;	/* the case's page of user memory */
};

/* Sets the knobs back; runs in KUnit's cleanup kthread, with a page of its own. */
static void ksalloc_fault_restore(void *data)
{
	struct ksalloc_fault *f = data;
	void __user *ubuf = ksalloc_test_user_page(f->test);
	unsigned int i;

	for (i = 0; i < KSALLOC_FAULT_KNOBS; i++)
		if (!ubuf || ksalloc_test_write(f->knob[i], ubuf, f->was[i]))
			kunit_err(f->test, "%s not set back to %s\n",
				  ksalloc_fault_knobs[i].path, f->was[i]);
}

/*
 * Opens the knobs of failslab and fail_page_alloc in debugfs and the
 * case's fail-nth in procfs, and sets the knobs as a user would, until the
 * case ends.  Skips the case where the kernel has no fault injection.
 */
static struct ksalloc_fault *ksalloc_fault_setup(struct kunit *test)
{
	struct ksalloc_fault *f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	struct vfsmount *debugfs, *proc;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, f);
	f->test = test;
	debugfs = ksalloc_test_mount(test, "debugfs");
	proc = ksalloc_test_mount(test, "proc");
	if (!debugfs || !proc)
		kunit_skip(test, "needs debugfs and procfs");
	for (i = 0; i < KSALLOC_FAULT_KNOBS; i++) {
		f->knob[i] = ksalloc_test_open(test, debugfs, ksalloc_fault_knobs[i].path);
		if (!f->knob[i])
			kunit_skip(test, "no %s in debugfs (%s)", ksalloc_fault_knobs[i].path,
				   "needs FAULT_INJECTION_DEBUG_FS, FAILSLAB, FAIL_PAGE_ALLOC");
	}
	f->fail_nth = ksalloc_test_open(test, proc, "thread-self/fail-nth");
	if (!f->fail_nth)
		kunit_skip(test, "no fail-nth in procfs (needs FAULT_INJECTION)");
	f->ubuf = ksalloc_test_user_page(test);
	KUNIT_ASSERT_TRUE_MSG(test, !!f->ubuf, "no page of user memory");

	for (i = 0; i < KSALLOC_FAULT_KNOBS; i++)
		KUNIT_ASSERT_EQ(test, 0, ksalloc_test_read(f->knob[i], f->ubuf, f->was[i],
							   sizeof(f->was[i])));
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, ksalloc_fault_restore, f));
	for (i = 0; i < KSALLOC_FAULT_KNOBS; i++)
		KUNIT_ASSERT_EQ_MSG(test, 0, ksalloc_test_write(f->knob[i], f->ubuf,
								ksalloc_fault_knobs[i].value),
				    "%s", ksalloc_fault_knobs[i].path);
	return f;
}

/*
 * Makes the n-th allocation of @make fail, for n = 1, 2, ... until @make
 * runs without reaching an n-th allocation, by writing n to fail-nth
 * before and reading it after (0: the fault was injected), as a program
 * does around a system call.  Each failure must be a clean -ENOMEM with
 * nothing left charged; a fault that @make absorbed (a fallback inside
 * the allocator it called) must leave a working object, which @undo then
 * releases.  Returns the number of faults injected.
 */
static int ksalloc_fault_each(struct kunit *test, struct ksalloc_fault *f,
			      const char *what, void *(*make)(void),
			      void (*undo)(void *obj))
{
	u64 before = ksalloc_test_charged();
	int n, failed = 0, absorbed = 0;
	char nth[16], left[16];

	for (n = 1; n < 10000; n++) {
		void *obj;

		snprintf(nth, sizeof(nth), "%d", n);
		KUNIT_ASSERT_EQ(test, 0, ksalloc_test_write(f->fail_nth, f->ubuf, nth));
		obj = make();
		KUNIT_ASSERT_EQ(test, 0, ksalloc_test_read(f->fail_nth, f->ubuf, left,
							   sizeof(left)));
		KUNIT_ASSERT_EQ(test, 0, ksalloc_test_write(f->fail_nth, f->ubuf, "0"));

		if (IS_ERR(obj)) {
			KUNIT_EXPECT_EQ_MSG(test, PTR_ERR(obj), -ENOMEM,
					    "%s, fault %d", what, n);
		} else {
			undo(obj);
		}
		KUNIT_EXPECT_EQ_MSG(test, ksalloc_test_settle(before), before,
				    "%s, fault %d", what, n);
		if (strcmp(left, "0")) {
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
	struct ksalloc_fault *f = ksalloc_fault_setup(test);
	int faults;

	faults = ksalloc_fault_each(test, f, "ksalloc_create()", ksalloc_fault_create,
				    ksalloc_fault_close);
	faults += ksalloc_fault_each(test, f, "framed file", ksalloc_fault_file,
				     ksalloc_fault_fput);
	kunit_info(test, "%d faults injected in all\n", faults);
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
	KUNIT_CASE(ksalloc_close_wakes_test),
	KUNIT_CASE(ksalloc_cache_reach_test),
	KUNIT_CASE(ksalloc_cache_overflow_test),
	KUNIT_CASE(ksalloc_cpu_offline_test),
	KUNIT_CASE(ksalloc_softirq_test),
	KUNIT_CASE(ksalloc_fault_inject_test),
	KUNIT_CASE(ksalloc_release_keeps_bytes_test),
	KUNIT_CASE(ksalloc_last_free_atomic_test),
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
