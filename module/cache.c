// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc - the per-CPU frame caches
 *
 * Every allocator has, per possible CPU, a ring of up to
 * KSALLOC_CACHE_SIZE free frame indices in front of its shared free stack
 * (frames.c).  A frame in a ring is free: any allocation, on any CPU, may
 * take it.
 *
 *   field        written by                          how
 *   -----------  ----------------------------------  ---------------------
 *   tail, idx[]  the owner CPU only                  interrupts off, plain
 *                                                    stores, tail last with
 *                                                    release
 *   head         any CPU                             cmpxchg, interrupts off
 *   allocs,      the owner CPU only                  interrupts off
 *   frees
 *
 * Put (a free on the fast path): the owner writes slot tail and then
 * tail + 1, with release.  No atomic instruction: nobody else writes tail.
 *
 * Take (an allocation): read head, read tail with acquire, read the slots
 * in between, then cmpxchg head forward.  The owner's own allocation does
 * this too; so does another CPU whose own ring and the shared stack are
 * empty, and the CPU hotplug callback for a dead CPU.  One atomic
 * instruction per take, however many frames it takes.
 *
 * Why a take returns what it read: a slot is written again only by a put
 * at tail = slot + KSALLOC_CACHE_SIZE, which happens only after the owner
 * saw (with acquire) head > slot, that is after some cmpxchg moved head
 * past it; any taker that read the slot before then and still expects
 * that old head fails its cmpxchg.  Takers run with interrupts off, so
 * that head would have to travel 2^32 slots during one short window (an
 * NMI or a preempted vCPU can stretch it, not that far) to fool their
 * cmpxchg (ABA).  Head is read with acquire before tail, and again after
 * a failed cmpxchg, so that a taker never pairs a new head with an old
 * tail on a weakly ordered CPU.
 *
 * Why this makes -ENOMEM exact without asking any CPU for help (no entry
 * point may wait for another CPU outside task context, so there is no IPI
 * here): the core's slow path holds its lock, under which alone the shared
 * stack changes and frames move between the stack and a ring (refill,
 * flush, the hotplug callback).  It tries the stack, then every ring,
 * summing the tails it saw empty (ksalloc_cache_steal()), then compares
 * that sum with the sum of the current tails (ksalloc_cache_tails()).
 * Tails only grow, so an equal sum means that nothing was put in any ring
 * between its first look and the second: each ring was empty through an
 * interval, every first look precedes every second look, so all the
 * intervals share a moment when the stack and every ring were empty.  A
 * frame that a take holds is not free: it belongs to an allocation.  A
 * different sum makes the slow path look again; each retry means that
 * some frame was freed meanwhile, so the system as a whole makes progress.
 * The sum is modulo 2^32: it could only miss exactly 2^32 puts made during
 * one scan.
 *
 * Cost: an allocation from the own ring takes one cmpxchg on a line that
 * only its own CPU writes, except when another CPU steals; a free takes
 * none.  A CPU that steals writes the victim's head line once per
 * batch of up to KSALLOC_CACHE_BATCH frames.
 *
 * Limits: a ring is FIFO (oldest free frame first), which reuses frames
 * a little less warm than a stack would; a ring holds 32 frames, so an
 * allocator of few frames may have them all in one CPU's ring, from where
 * other CPUs steal them in batches; a steal scans every possible CPU, so
 * the slow path of an empty allocator costs O(nr_cpu_ids) loads.
 *
 * The core orders these rings against its bypass flag (FIFO hand-off to
 * waiters, pollers, close): see ksalloc_request_recheck_locked() in frames.c.
 */

#include <linux/cpumask.h>
#include <linux/minmax.h>
#include <linux/smp.h>

#include "cache.h"

/**
 * ksalloc_cache_fill() - put frames in this CPU's ring
 * @c: this CPU's ring
 * @idx: the frames
 * @n: how many
 *
 * Context: the owner CPU, interrupts off.
 * Return: how many were put: fewer than @n once the ring is full.
 */
u32 ksalloc_cache_fill(struct ksalloc_cache *c, const u32 *idx, u32 n)
{
	u32 i, tail;

	for (i = 0; i < n && ksalloc_cache_room(c, &tail); i++)
		ksalloc_cache_push(c, tail, idx[i]);
	return i;
}

/**
 * ksalloc_cache_steal() - take frames from the first ring that has some
 * @pc: the rings of one allocator
 * @idx: where to store the frames
 * @max: at most this many, at least 1
 * @tails: when nothing was found, the sum of the tails seen, each with its
 *         ring empty
 * @from: when frames were taken, the CPU whose ring they came from
 *
 * Starts with this CPU's ring and goes round every possible CPU, online or
 * not (a CPU that is going offline keeps its ring until the hotplug
 * callback empties it, and its frames are free all the same).
 *
 * Context: Any CPU, interrupts off or on; never waits for another CPU.
 * Return: how many frames were taken, all from one ring.
 */
u32 ksalloc_cache_steal(struct ksalloc_cache __percpu *pc, u32 *idx, u32 max,
			u32 *tails, int *from)
{
	unsigned long flags;
	u32 sum = 0, t, n;
	int start, cpu;

	start = raw_smp_processor_id();
	cpu = start;
	do {
		/* Interrupts off for one take at a time, not for the scan. */
		local_irq_save(flags);
		n = ksalloc_cache_take(per_cpu_ptr(pc, cpu), idx, max, &t);
		local_irq_restore(flags);
		if (n)
			break;
		sum += t;
		cpu = cpumask_next(cpu, cpu_possible_mask);
		if (cpu >= nr_cpu_ids)
			cpu = cpumask_first(cpu_possible_mask);
	} while (cpu != start);
	*tails = sum;
	*from = cpu;
	return n;
}

/**
 * ksalloc_cache_tails() - the sum of every ring's tail, modulo 2^32
 * @pc: the rings of one allocator
 *
 * Context: Any context.
 * Return: the sum; it changes whenever a frame is put in any ring.
 */
u32 ksalloc_cache_tails(struct ksalloc_cache __percpu *pc)
{
	u32 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu) {
		/* Acquire: after the scan's loads (see the top comment). */
		sum += smp_load_acquire(&per_cpu_ptr(pc, cpu)->tail);
	}
	return sum;
}

/**
 * ksalloc_cache_frames() - the frames in every ring now
 * @pc: the rings of one allocator
 *
 * Context: Any context.
 * Return: a snapshot, exact only while nobody allocates or frees.
 */
u32 ksalloc_cache_frames(struct ksalloc_cache __percpu *pc)
{
	u32 n = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		n += ksalloc_cache_count(per_cpu_ptr(pc, cpu));
	return n;
}
