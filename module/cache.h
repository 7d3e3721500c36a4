/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksalloc - the per-CPU frame caches: what the core's fast path inlines
 *
 * The design, its proof and its limits are at the top of cache.c.  In
 * short: each CPU has a ring of free frame indices.  Only its own CPU puts
 * indices in (with interrupts off, no atomic instruction); any CPU takes
 * them out, with one cmpxchg on the ring's head.
 */
#ifndef _KSALLOC_CACHE_H
#define _KSALLOC_CACHE_H

#include <linux/atomic.h>
#include <linux/compiler.h>
#include <linux/minmax.h>
#include <linux/percpu.h>
#include <linux/types.h>

/* Frames a CPU's cache holds at most (a power of two), and a batch. */
#define KSALLOC_CACHE_SIZE	32
#define KSALLOC_CACHE_MASK	(KSALLOC_CACHE_SIZE - 1)
#define KSALLOC_CACHE_BATCH	16

/**
 * struct ksalloc_cache - one CPU's ring of free frames
 * @head: the next slot to take; advanced by cmpxchg, by any CPU
 * @tail: the next slot to fill; written only by the owner CPU, with
 *        interrupts off, with release
 * @idx: the ring; slot @i holds a frame while @head <= @i < @tail (modulo
 *       2^32)
 * @allocs: allocations the owner served from @idx; written by the owner
 * @frees: frees the owner put in @idx; written by the owner
 *
 * @tail - @head is the number of frames in the ring, at most
 * %KSALLOC_CACHE_SIZE.  Both only grow (modulo 2^32).
 */
struct ksalloc_cache {
	u32 head;
	u32 tail;
	u32 idx[KSALLOC_CACHE_SIZE];
	u64 allocs;
	u64 frees;
};

/*
 * Takes up to @max frames from the head of @c into @idx, with one cmpxchg.
 * Any CPU, interrupts off (so that the window between reading the head and
 * the cmpxchg is short: the head would have to move 2^32 slots during one
 * such window to come back, ABA).  Returns how many were taken; when none,
 * *@tail is the tail seen with the ring empty, for ksalloc_cache_tails().
 */
static __always_inline u32 ksalloc_cache_take(struct ksalloc_cache *c,
					      u32 *idx, u32 max, u32 *tail)
{
	u32 head, t, n, i;

	/*
	 * Acquire: the head is read before the tail, on every architecture;
	 * a head newer than the tail would look like a ring of 2^32 frames.
	 */
	head = smp_load_acquire(&c->head);
	for (;;) {
		/* Pairs with the release in ksalloc_cache_push(): slots written. */
		t = smp_load_acquire(&c->tail);
		n = t - head;
		if (unlikely(n > KSALLOC_CACHE_SIZE)) {
			/* The head moved on since it was read: read it again. */
			head = smp_load_acquire(&c->head);
			continue;
		}
		n = min(n, max);
		if (!n) {
			*tail = t;
			return 0;
		}
		for (i = 0; i < n; i++)
			idx[i] = READ_ONCE(c->idx[(head + i) & KSALLOC_CACHE_MASK]);
		/*
		 * A slot is written again only once the head passed it, and
		 * then this cmpxchg fails: what was read is what was taken.
		 */
		if (try_cmpxchg(&c->head, &head, head + n))
			return n;
		/* A failed cmpxchg orders nothing: read the head again. */
		head = smp_load_acquire(&c->head);
	}
}

/*
 * Takes the oldest frame of this CPU's ring @c, with one cmpxchg: the fast
 * path's ksalloc_cache_take() of one frame.  The owner CPU, interrupts
 * off; it reads its own tail, which is current, so it needs neither the
 * acquire of head nor the guard against a head newer than the tail.
 * Returns 0 when the ring is empty, else 1 + the frames that were left
 * behind it (so 1 means the ring is now empty).
 */
static __always_inline u32 ksalloc_cache_pop(struct ksalloc_cache *c, u32 *index)
{
	u32 head = READ_ONCE(c->head), tail;

	do {
		/* Pairs with the release in ksalloc_cache_push(). */
		tail = smp_load_acquire(&c->tail);
		if (tail == head)
			return 0;
		*index = READ_ONCE(c->idx[head & KSALLOC_CACHE_MASK]);
	} while (!try_cmpxchg(&c->head, &head, head + 1));
	return tail - head;
}

/*
 * Whether this CPU's ring @c has room for one more frame, at *@tail.  The
 * owner CPU, interrupts off; room only grows until the owner pushes.
 */
static __always_inline bool ksalloc_cache_room(struct ksalloc_cache *c, u32 *tail)
{
	*tail = c->tail;
	/*
	 * Pairs with the cmpxchg of a taker: once it moved the head past a
	 * slot, its read of that slot is done, and the slot may be reused.
	 */
	return *tail - smp_load_acquire(&c->head) < KSALLOC_CACHE_SIZE;
}

/*
 * Puts a frame at @tail of this CPU's ring @c, where ksalloc_cache_room()
 * found room.  The owner CPU only, interrupts off; no atomic instruction.
 * Everything the caller wrote before is visible to whoever takes the
 * frame.
 */
static __always_inline void ksalloc_cache_push(struct ksalloc_cache *c,
					       u32 tail, u32 index)
{
	WRITE_ONCE(c->idx[tail & KSALLOC_CACHE_MASK], index);
	/* Pairs with the acquire in ksalloc_cache_take()/_pop(). */
	smp_store_release(&c->tail, tail + 1);
}

/* Frames in @c now; a snapshot, exact only while its CPU is idle. */
static inline u32 ksalloc_cache_count(struct ksalloc_cache *c)
{
	/* Acquire: the head first, so that the difference is never negative. */
	u32 head = smp_load_acquire(&c->head);

	return min_t(u32, READ_ONCE(c->tail) - head, KSALLOC_CACHE_SIZE);
}

u32 ksalloc_cache_fill(struct ksalloc_cache *c, const u32 *idx, u32 n);
u32 ksalloc_cache_steal(struct ksalloc_cache __percpu *pc, u32 *idx, u32 max,
			u32 *tails, int *from);
u32 ksalloc_cache_tails(struct ksalloc_cache __percpu *pc);
u32 ksalloc_cache_frames(struct ksalloc_cache __percpu *pc);

#endif /* _KSALLOC_CACHE_H */
