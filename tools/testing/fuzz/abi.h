/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the two halves of ksalloc_fuzz share: ksalloc_fuzz.c (the slots, the
 * books kept of every frame and id, the threads, the report) and ops.c
 * (the operations the workers pick from).
 */
#ifndef KSALLOC_FUZZ_ABI_H
#define KSALLOC_FUZZ_ABI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/ksalloc.h>

#include "fuzz.h"

#define MAX_THREADS	32
#define MAX_SLOTS	8
#define MAX_FRAMES	256	/* most frames of a fuzzed allocator */
#define MAX_REPORTS	20	/* violations printed in full */

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Frame states, as the fuzzer believes them (see claim_frame()). */
enum {
	F_FREE,		/* free in the kernel, nobody holds it */
	F_HELD,		/* allocated by us */
	F_BUSY,		/* a thread is freeing it */
	F_PROBE,	/* a thread frees it, believing it free: must fail */
	F_STOLEN,	/* a probe freed it under an allocation in flight */
};

/* What the counters are kept per: the ioctls, then the other calls. */
enum fuzz_op {
	OP_SET_FRAMING, OP_GET_STATUS, OP_GET_FUNCTIONTABLE, OP_ALLOC, OP_FREE,
	OP_ALLOC_BATCH, OP_FREE_BATCH, OP_GET_STATS, OP_GET_ID, OP_EXPORT_DMABUF,
	OP_BAD_IOCTL,
	OP_OPEN, OP_CLOSE, OP_DUP, OP_MMAP, OP_MUNMAP, OP_MPROTECT, OP_POLL,
	OP_FCNTL, OP_FORK, OP_SIGNAL, NR_OPS
};

struct slot {
	pthread_rwlock_t rw;	/* read: use the slot; write: close, reopen */
	int fd;
	struct ksalloc_framing f;
	uint32_t stride;
	uint64_t id;		/* what GET_ID said after SET_FRAMING */
	unsigned char *map;	/* the whole pool, or NULL */
	size_t maplen;
	size_t poolbytes;
	atomic_int state[MAX_FRAMES];
	/*
	 * Read: an ioctl that takes frames and, failing to tell us, gives
	 * them back (EFAULT on the way out).  Write (try only): a probe, a
	 * free of a frame believed free, which must not free such a frame
	 * under it, since nobody would ever claim it.
	 */
	pthread_rwlock_t probe;
};

struct thread {
	pthread_t tid;
	unsigned int nr;
	uint64_t rng;
	uint64_t calls;
	uint64_t count[NR_OPS][MAX_ERRNO + 1];	/* [op][0 = ok, errno, other] */
};

/* Settings and module limits (ksalloc_fuzz.c). */
extern unsigned int nthreads;
extern uint64_t lim_max_frames, lim_max_frame_size, lim_max_pool;

/* What the threads share (ksalloc_fuzz.c). */
extern struct thread threads[MAX_THREADS];
extern atomic_ulong stolen, probes_hit, signals_caught, children;

/*
 * Bad addresses: a PROT_NONE page, a read-only page, and a writable page
 * followed by a PROT_NONE guard page.  Unmapped addresses are taken below
 * mmap_min_addr and just above user space, where nothing is ever mapped (a
 * hole made with munmap() would be filled by the next mmap()).
 */
extern unsigned char *page_none, *page_ro, *page_edge;
#define ADDR_LOW	((void *)(uintptr_t)0x1000)
#define ADDR_HIGH	((void *)(uintptr_t)0x0000800000000000ULL)
#define ADDR_KERNEL	((void *)(uintptr_t)0xffff888000000000ULL)

uint64_t splitmix(uint64_t *x);

static inline uint64_t rnd(struct thread *t)
{
	return splitmix(&t->rng);
}

/* 0 .. n-1 */
static inline uint32_t below(struct thread *t, uint32_t n)
{
	return n ? (uint32_t)(rnd(t) % n) : 0;
}

static inline bool chance(struct thread *t, unsigned int percent)
{
	return below(t, 100) < percent;
}

/* ksalloc_fuzz.c: the books. */
void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int count(struct thread *t, enum fuzz_op op, long ret);
int xioctl(struct thread *t, enum fuzz_op op, int fd, unsigned long cmd, void *arg);
void expect(const char *what, int got, int want);
uint32_t stride_of(const struct ksalloc_framing *f);
int framing_errno(const struct ksalloc_framing *f);
void random_framing(struct thread *t, struct ksalloc_framing *f);
void *bad_pointer(struct thread *t);
bool claim_frame(struct slot *s, uint32_t index);
int grab_held(struct thread *t, struct slot *s);
void id_new(uint64_t id, const char *what);
void check_fdinfo_id(int fd, uint64_t id);

/* ops.c: what a worker does to a slot (read-locked) or on its own. */
void op_alloc(struct thread *t, struct slot *s);
void op_free(struct thread *t, struct slot *s);
void op_alloc_batch(struct thread *t, struct slot *s);
void op_free_batch(struct thread *t, struct slot *s);
void op_query(struct thread *t, struct slot *s);
void op_export(struct thread *t, struct slot *s);
void op_bad_ioctl(struct thread *t, struct slot *s);
void op_mmap(struct thread *t, struct slot *s);
void op_poll(struct thread *t, struct slot *s);
void op_fcntl(struct thread *t, struct slot *s);
void op_fork(struct thread *t, struct slot *s);
void op_spare(struct thread *t);

#endif /* KSALLOC_FUZZ_ABI_H */
