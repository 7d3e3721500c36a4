// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_fuzz - a targeted, seeded fuzzer of /dev/ksalloc, and a holder of
 * framed descriptors for the limit and memory-cgroup tests
 *
 *	ksalloc_fuzz [fuzz] --seed N --seconds T --threads N [--json]
 *	ksalloc_fuzz hold --frames N --size S [--fds K] [--seconds T] [--touch]
 *			  [--cgroup DIR]
 *	ksalloc_fuzz faults [--frames N] [--size S] [--nth N]
 *
 * fuzz: worker threads share a few allocator "slots" (descriptors with a
 * framing and a mapping of the pool) and hammer them with a weighted mix of
 * valid and mutated requests: ALLOC (waiting, timed, NOWAIT), FREE of held,
 * out-of-range and believed-free frames, batches with bad pointers and bad
 * indices in the middle, flipped reserved and flag bits, crafted ioctl
 * numbers (other sizes, directions, magics), SET_FRAMING on a spare handle
 * with every kind of bad framing, mmap (PROT_EXEC, MAP_PRIVATE, too large,
 * offsets), mprotect, munmap, poll, fcntl(O_NONBLOCK), dup, close and
 * reopen, fork while the pool is mapped (the child scribbles over every
 * frame and exits), and a thread that sends signals to the workers while
 * they wait in ALLOC.  Bad pointers are NULL, unmapped, PROT_NONE,
 * read-only, misaligned, kernel addresses and buffers that run into a guard
 * page.
 *
 * Every errno the ABI fixes is checked where it does not depend on timing.
 * Every frame the fuzzer is told it holds is tracked per slot in a small
 * state machine, so that a frame handed out twice, a free of a held frame
 * that fails, or a count that disagrees with GET_STATUS is a violation.
 * Whenever a slot is closed, and at the end, nothing else runs on it: then
 * GET_STATUS must count exactly the frames held.  At the end every frame is
 * freed, allocated_frames must be 0, and the whole pool is allocated again
 * (each frame once, at its own offset, written and read back through the
 * mapping) and freed.
 *
 * The decisions of each thread come from its own generator, seeded from
 * --seed and the thread number, so a run is repeatable up to the
 * interleaving of the threads.  Exit status: 0 no violation, 1 violations,
 * 2 usage or setup error.
 *
 * hold: opens --fds descriptors (default 1), frames each with --frames x
 * --size, prints "framed X/K" and the errno of the first that failed,
 * "ready", then waits --seconds (default 0; until SIGTERM/SIGINT when < 0)
 * and closes them.  --touch maps each pool, allocates every frame and
 * writes every page.  --cgroup moves the process into the cgroup v2
 * directory DIR after the opens and before the framings, so that the
 * opener and the caller of SET_FRAMING are in different memory cgroups.
 * Exit status 0 when all were framed, 1 otherwise.
 *
 * faults: see cmd_faults().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <linux/ksalloc.h>

#define PROG		"ksalloc_fuzz"
#define DEFAULT_DEVICE	"/dev/ksalloc"
#define PARAMS		"/sys/module/ksalloc/parameters/"

#define MAX_THREADS	32
#define MAX_SLOTS	8
#define MAX_FRAMES	256	/* most frames of a fuzzed allocator */
#define MAX_ERRNO	134	/* errno values counted one by one */
#define MAX_REPORTS	20	/* violations printed in full */

/* Frame states, as the fuzzer believes them (see claim_frame()). */
enum {
	F_FREE,		/* free in the kernel, nobody holds it */
	F_HELD,		/* allocated by us */
	F_BUSY,		/* a thread is freeing it */
	F_PROBE,	/* a thread frees it, believing it free: must fail */
	F_STOLEN,	/* a probe freed it under an allocation in flight */
};

/* What the counters are kept per: the ioctls, then the other calls. */
enum op {
	OP_SET_FRAMING, OP_GET_STATUS, OP_GET_FUNCTIONTABLE, OP_ALLOC, OP_FREE,
	OP_ALLOC_BATCH, OP_FREE_BATCH, OP_GET_STATS, OP_BAD_IOCTL,
	OP_OPEN, OP_CLOSE, OP_DUP, OP_MMAP, OP_MUNMAP, OP_MPROTECT, OP_POLL,
	OP_FCNTL, OP_FORK, OP_SIGNAL, NR_OPS
};

static const char *const op_names[NR_OPS] = {
	"SET_FRAMING", "GET_STATUS", "GET_FUNCTIONTABLE", "ALLOC", "FREE",
	"ALLOC_BATCH", "FREE_BATCH", "GET_STATS", "bad_ioctl",
	"open", "close", "dup", "mmap", "munmap", "mprotect", "poll",
	"fcntl", "fork", "signal",
};

struct slot {
	pthread_rwlock_t rw;	/* read: use the slot; write: close, reopen */
	int fd;
	struct ksalloc_framing f;
	uint32_t stride;
	unsigned char *map;	/* the whole pool, or NULL */
	size_t maplen;
	size_t poolbytes;
	_Atomic int state[MAX_FRAMES];
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

/* Settings. */
static const char *device = DEFAULT_DEVICE;
static uint64_t seed = 1;
static double seconds = 10;
static unsigned int nthreads = 4;
static unsigned int nslots = 4;
static bool json;
static bool verbose;

/* Module limits, read at start so that framings can be judged. */
static uint64_t lim_max_frames = 65536, lim_max_frame_size = 4 << 20;
static uint64_t lim_max_pool = 64 << 20;

static size_t page;
static struct slot slots[MAX_SLOTS];
static struct thread threads[MAX_THREADS];
static atomic_bool stop;
static atomic_ulong violations;
static atomic_ulong stolen, probes_hit, signals_caught, children;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Bad addresses: a PROT_NONE page, a read-only page, and a writable page
 * followed by a PROT_NONE guard page.  Unmapped addresses are taken below
 * mmap_min_addr and just above user space, where nothing is ever mapped (a
 * hole made with munmap() would be filled by the next mmap()).
 */
static unsigned char *page_none, *page_ro, *page_edge;
#define ADDR_LOW	((void *)(uintptr_t)0x1000)
#define ADDR_HIGH	((void *)(uintptr_t)0x0000800000000000ULL)
#define ADDR_KERNEL	((void *)(uintptr_t)0xffff888000000000ULL)

static void errmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* A broken promise of the ABI. */
static void violation(const char *fmt, ...)
{
	unsigned long n = atomic_fetch_add(&violations, 1);
	va_list ap;

	if (n >= MAX_REPORTS)
		return;
	va_start(ap, fmt);
	pthread_mutex_lock(&report_lock);
	fprintf(stderr, PROG ": VIOLATION: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&report_lock);
	va_end(ap);
}

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(struct thread *t)
{
	return splitmix(&t->rng);
}

/* 0 .. n-1 */
static uint32_t below(struct thread *t, uint32_t n)
{
	return n ? (uint32_t)(rnd(t) % n) : 0;
}

static bool chance(struct thread *t, unsigned int percent)
{
	return below(t, 100) < percent;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Counts one call of @op that returned @ret (-1 with errno, or >= 0). */
static int count(struct thread *t, enum op op, long ret)
{
	int e = ret < 0 ? errno : 0;

	t->calls++;
	t->count[op][e >= 0 && e < MAX_ERRNO ? e : MAX_ERRNO]++;
	errno = e;
	return e;
}

/* ioctl(), counted under @op; returns 0 or the errno. */
static int xioctl(struct thread *t, enum op op, int fd, unsigned long cmd,
		  void *arg)
{
	return count(t, op, ioctl(fd, cmd, arg));
}

static const char *errname(int e)
{
	const char *s;

	if (!e)
		return "OK";
	if (e >= MAX_ERRNO)
		return "other";
	s = strerrorname_np(e);
	return s ? s : "?";
}

/* Expects @got to be @want, for the errnos that do not depend on timing. */
static void expect(const char *what, int got, int want)
{
	if (got != want)
		violation("%s: got %s, want %s", what, errname(got), errname(want));
}

static uint32_t stride_of(const struct ksalloc_framing *f)
{
	uint64_t a = (uint64_t)f->alignment + 1;

	return (uint32_t)((f->frame_size + a - 1) / a * a);
}

/* What SET_FRAMING must answer for @f, by the rules of SPEC section 2. */
static int framing_errno(const struct ksalloc_framing *f)
{
	uint64_t st, total;

	if (f->reserved || (f->flags & ~(KSALLOC_REQUIREMENTF_INPLACE_MODIFIER |
					 KSALLOC_REQUIREMENTF_SYSTEM_MEMORY |
					 KSALLOC_REQUIREMENTF_FRAME_INTEGRITY |
					 KSALLOC_REQUIREMENTF_MUST_ALLOCATE |
					 KSALLOC_REQUIREMENTF_PREFERENCES_ONLY)))
		return EINVAL;
	if (f->pool_type > KSALLOC_POOL_PAGED)
		return EINVAL;
	if (!f->frames || f->frames > lim_max_frames)
		return EINVAL;
	if (!f->frame_size || f->frame_size > lim_max_frame_size)
		return EINVAL;
	if (f->alignment >= page || (f->alignment & (f->alignment + 1)))
		return EINVAL;
	st = stride_of(f);
	total = st * f->frames;
	if (total > lim_max_pool)
		return ENOMEM;
	return 0;
}

/* A random framing that is valid and small. */
static void random_framing(struct thread *t, struct ksalloc_framing *f)
{
	static const uint32_t sizes[] = { 1, 7, 64, 100, 1000, 4096, 4097, 12345 };

	memset(f, 0, sizeof(*f));
	f->frames = 1 + below(t, chance(t, 70) ? 16 : MAX_FRAMES);
	f->frame_size = chance(t, 50) ? sizes[below(t, 8)] : 1 + below(t, 16384);
	f->alignment = chance(t, 50) ? 0 : (1u << below(t, 13)) - 1;
	f->pool_type = chance(t, 80) ? KSALLOC_POOL_NONPAGED : KSALLOC_POOL_PAGED;
	f->flags = chance(t, 30) ? KSALLOC_REQUIREMENTF_SYSTEM_MEMORY : 0;
}

/*
 * A bad user pointer of one of the kinds the kernel must refuse.  The two
 * that straddle a boundary leave 2 bytes before it, so that no access of
 * 4 bytes or more (one frame index, any struct) can succeed.
 */
static void *bad_pointer(struct thread *t)
{
	switch (below(t, 8)) {
	case 0: return NULL;
	case 1: return (void *)(uintptr_t)1;
	case 2: return page_none;
	case 3: return ADDR_LOW;
	case 4: return (char *)ADDR_HIGH - 2;	/* straddles the top of user space */
	case 5: return ADDR_KERNEL;
	default: return page_edge + page - 2;	/* runs into the guard page */
	}
}

/* --- frame tracking ----------------------------------------------------- */

/*
 * The kernel handed @index to us (ALLOC, ALLOC_BATCH).  Marks it held.
 * Returns false when it was not ours to keep: a probe (a free of a frame
 * believed free) freed it between the kernel's answer and now, which is a
 * race of the fuzzer, not of the kernel.  A frame that stays held by us
 * meanwhile was handed out twice.
 */
static bool claim_frame(struct slot *s, uint32_t index)
{
	uint64_t deadline = 0;
	int st;

	if (index >= s->f.frames) {
		violation("fd %d: frame %u handed out, only %u frames", s->fd,
			  index, s->f.frames);
		return false;
	}
	for (;;) {
		st = F_FREE;
		if (atomic_compare_exchange_strong(&s->state[index], &st, F_HELD))
			return true;
		if (st == F_STOLEN) {
			if (atomic_compare_exchange_strong(&s->state[index], &st, F_FREE)) {
				atomic_fetch_add(&stolen, 1);
				return false;
			}
			continue;
		}
		if (st == F_HELD) {
			if (!deadline)
				deadline = now_ns() + 2000000000ULL;
			else if (now_ns() > deadline) {
				violation("fd %d: frame %u handed out while held",
					  s->fd, index);
				return false;
			}
		}
		sched_yield();
	}
}

/* Takes a held frame for freeing (F_HELD -> F_BUSY), starting at random. */
static int grab_held(struct thread *t, struct slot *s)
{
	uint32_t n = s->f.frames, start = below(t, n), i;
	int st;

	for (i = 0; i < n; i++) {
		uint32_t idx = (start + i) % n;

		st = F_HELD;
		if (atomic_compare_exchange_strong(&s->state[idx], &st, F_BUSY))
			return idx;
	}
	return -1;
}

static unsigned int count_state(struct slot *s, int want)
{
	unsigned int i, n = 0;

	for (i = 0; i < s->f.frames; i++)
		n += atomic_load(&s->state[i]) == want;
	return n;
}

/* --- slots --------------------------------------------------------------- */

/* Opens and frames slot @s with a random valid framing and maps it. */
static int slot_open(struct thread *t, struct slot *s)
{
	struct ksalloc_framing f;
	unsigned int i;
	int e;

	s->fd = open(device, O_RDWR | O_CLOEXEC);
	if (count(t, OP_OPEN, s->fd)) {
		errmsg("open %s: %s", device, strerror(errno));
		return -1;
	}
	do {
		random_framing(t, &f);
	} while (framing_errno(&f));
	e = xioctl(t, OP_SET_FRAMING, s->fd, KSALLOC_IOC_SET_FRAMING, &f);
	if (e) {
		errmsg("SET_FRAMING %u x %u: %s", f.frames, f.frame_size, strerror(e));
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	s->f = f;
	s->stride = stride_of(&f);
	s->poolbytes = ((size_t)s->stride * f.frames + page - 1) / page * page;
	for (i = 0; i < MAX_FRAMES; i++)
		atomic_store(&s->state[i], F_FREE);
	s->map = mmap(NULL, s->poolbytes, PROT_READ | PROT_WRITE, MAP_SHARED,
		      s->fd, 0);
	if (count(t, OP_MMAP, s->map == MAP_FAILED ? -1 : 0)) {
		violation("mmap of the whole pool (%zu bytes): %s", s->poolbytes,
			  strerror(errno));
		s->map = NULL;
	}
	s->maplen = s->map ? s->poolbytes : 0;
	return 0;
}

/* Under the write lock: nobody else uses the slot, so counts are exact. */
static void slot_check_exact(struct thread *t, struct slot *s, const char *when)
{
	struct ksalloc_status st;
	unsigned int held = count_state(s, F_HELD);
	unsigned int odd = s->f.frames - held - count_state(s, F_FREE);
	int e;

	e = xioctl(t, OP_GET_STATUS, s->fd, KSALLOC_IOC_GET_STATUS, &st);
	if (e) {
		violation("%s: GET_STATUS: %s", when, errname(e));
		return;
	}
	if (st.allocated_frames != held || odd)
		violation("%s: fd %d: kernel counts %u frames out, we hold %u (%u in transit)",
			  when, s->fd, st.allocated_frames, held, odd);
}

/* Closes the slot in one of several orders; the kernel takes back the rest. */
static void slot_close(struct thread *t, struct slot *s)
{
	int fd2 = -1;
	int i;

	slot_check_exact(t, s, "before close");
	if (chance(t, 30)) {
		/* Free what we hold first, in one batch. */
		uint32_t idx[MAX_FRAMES], n = 0;
		struct ksalloc_frame_batch b = { 0 };

		while ((i = grab_held(t, s)) >= 0)
			idx[n++] = i;
		if (n) {
			b.indices = (uintptr_t)idx;
			b.count = n;
			expect("FREE_BATCH of all held frames",
			       xioctl(t, OP_FREE_BATCH, s->fd, KSALLOC_IOC_FREE_BATCH, &b), 0);
			if (b.count != n)
				violation("FREE_BATCH freed %u of %u", b.count, n);
			for (i = 0; i < (int)n; i++)
				atomic_store(&s->state[idx[i]], F_FREE);
		}
	}
	if (chance(t, 20)) {
		/* A dup keeps the file: closing the original changes nothing. */
		fd2 = dup(s->fd);
		count(t, OP_DUP, fd2);
		if (fd2 >= 0) {
			count(t, OP_CLOSE, close(s->fd));
			s->fd = fd2;
			slot_check_exact(t, s, "after closing a dup");
		}
	}
	if (s->map && chance(t, 50)) {
		/* The mapping holds the file: close first, unmap last. */
		count(t, OP_CLOSE, close(s->fd));
		count(t, OP_MUNMAP, munmap(s->map, s->maplen));
	} else {
		if (s->map)
			count(t, OP_MUNMAP, munmap(s->map, s->maplen));
		count(t, OP_CLOSE, close(s->fd));
	}
	s->map = NULL;
	s->fd = -1;
}

/* --- the operations ------------------------------------------------------ */

static void op_alloc(struct thread *t, struct slot *s)
{
	struct ksalloc_frame fr = { 0 };
	bool bad_flags = false;
	void *arg = &fr;
	int e, kind = below(t, 10);

	switch (kind) {
	case 0: fr.flags = KSALLOC_ALLOC_NOWAIT; break;
	case 1: fr.timeout_ns = 0; break;
	case 2: fr.timeout_ns = -1; break;	/* a signal or a free ends it */
	case 3: fr.flags = 1u << (1 + below(t, 31)); bad_flags = true; break;
	case 4: arg = bad_pointer(t); break;
	case 5: arg = page_ro; break;
	default: fr.timeout_ns = (int64_t)below(t, 20000000); break;
	}
	if (kind == 5) {
		/* Read-only: the frame is taken, the copy-out fails, it goes back. */
		pthread_rwlock_rdlock(&s->probe);
		e = xioctl(t, OP_ALLOC, s->fd, KSALLOC_IOC_ALLOC, arg);
		pthread_rwlock_unlock(&s->probe);
		if (e != EFAULT && e != EAGAIN && e != ETIMEDOUT && e != EINTR)
			violation("ALLOC into a read-only struct: %s", errname(e));
		return;
	}
	fr.index = (uint32_t)rnd(t);	/* output only: ignored */
	e = xioctl(t, OP_ALLOC, s->fd, KSALLOC_IOC_ALLOC, arg);
	if (bad_flags) {
		expect("ALLOC with unknown flags", e, EINVAL);
		if (!e)
			claim_frame(s, fr.index);
		return;
	}
	if (kind == 4) {
		expect("ALLOC with a bad pointer", e, EFAULT);
		return;
	}
	if (e) {
		if (e != EAGAIN && e != ETIMEDOUT && e != EINTR)
			violation("ALLOC: %s", errname(e));
		return;
	}
	if (fr.offset != (uint64_t)fr.index * s->stride)
		violation("ALLOC: frame %u at offset %" PRIu64 ", stride %u",
			  fr.index, (uint64_t)fr.offset, s->stride);
	if (!claim_frame(s, fr.index))
		return;
	/* Write the frame through the mapping: user data never harms the kernel. */
	if (s->map)
		memset(s->map + fr.offset, (int)rnd(t),
		       s->f.frame_size < 256 ? s->f.frame_size : 256);
}

static void op_free(struct thread *t, struct slot *s)
{
	struct ksalloc_frame fr = { 0 };
	int idx, e, st;

	switch (below(t, 6)) {
	case 0:	/* out of range */
		fr.index = chance(t, 50) ? s->f.frames + below(t, 1000) : 0xffffffffu - below(t, 4);
		expect("FREE out of range",
		       xioctl(t, OP_FREE, s->fd, KSALLOC_IOC_FREE, &fr), EINVAL);
		return;
	case 1:	/* a frame believed free: a double free unless one is in flight */
		fr.index = below(t, s->f.frames);
		if (pthread_rwlock_trywrlock(&s->probe))
			return;
		st = F_FREE;
		if (!atomic_compare_exchange_strong(&s->state[fr.index], &st, F_PROBE)) {
			pthread_rwlock_unlock(&s->probe);
			return;
		}
		e = xioctl(t, OP_FREE, s->fd, KSALLOC_IOC_FREE, &fr);
		pthread_rwlock_unlock(&s->probe);
		if (!e) {
			/* An allocation was in flight: its thread sees F_STOLEN. */
			atomic_fetch_add(&probes_hit, 1);
			atomic_store(&s->state[fr.index], F_STOLEN);
		} else {
			expect("FREE of a free frame", e, EINVAL);
			atomic_store(&s->state[fr.index], F_FREE);
		}
		return;
	case 2:	/* bad pointer */
		expect("FREE with a bad pointer",
		       xioctl(t, OP_FREE, s->fd, KSALLOC_IOC_FREE,
			      bad_pointer(t)), EFAULT);
		return;
	default:
		break;
	}
	idx = grab_held(t, s);
	if (idx < 0)
		return;
	fr.index = idx;
	fr.timeout_ns = (int64_t)rnd(t);	/* ignored by FREE */
	fr.offset = rnd(t);
	if (chance(t, 15)) {
		fr.flags = 1u << below(t, 32);
		expect("FREE with flags", xioctl(t, OP_FREE, s->fd, KSALLOC_IOC_FREE, &fr),
		       EINVAL);
		atomic_store(&s->state[idx], F_HELD);
		return;
	}
	e = xioctl(t, OP_FREE, s->fd, KSALLOC_IOC_FREE, &fr);
	if (e) {
		violation("FREE of held frame %u: %s", idx, errname(e));
		atomic_store(&s->state[idx], F_HELD);
		return;
	}
	atomic_store(&s->state[idx], F_FREE);
}

static void op_alloc_batch(struct thread *t, struct slot *s)
{
	uint32_t idx[MAX_FRAMES + 8], seen[MAX_FRAMES / 32 + 1] = { 0 };
	struct ksalloc_frame_batch b = { 0 };
	uint32_t want, i;
	int e;

	want = 1 + below(t, s->f.frames + 4);
	b.indices = (uintptr_t)idx;
	b.count = want;
	switch (below(t, 8)) {
	case 0:
		b.flags = 1u << below(t, 32);
		e = xioctl(t, OP_ALLOC_BATCH, s->fd, KSALLOC_IOC_ALLOC_BATCH, &b);
		expect("ALLOC_BATCH with flags", e, EINVAL);
		return;
	case 1:
		b.count = 0;
		e = xioctl(t, OP_ALLOC_BATCH, s->fd, KSALLOC_IOC_ALLOC_BATCH, &b);
		expect("ALLOC_BATCH of 0", e, EINVAL);
		return;
	case 2:
		/* Indices nowhere: the frames taken must all go back. */
		b.indices = (uintptr_t)(chance(t, 30) ? page_ro : bad_pointer(t));
		pthread_rwlock_rdlock(&s->probe);
		e = xioctl(t, OP_ALLOC_BATCH, s->fd, KSALLOC_IOC_ALLOC_BATCH, &b);
		pthread_rwlock_unlock(&s->probe);
		if (e != EFAULT && e != EAGAIN)
			violation("ALLOC_BATCH into a bad buffer: %s", errname(e));
		return;
	case 3:
		e = xioctl(t, OP_ALLOC_BATCH, s->fd, KSALLOC_IOC_ALLOC_BATCH,
			   bad_pointer(t));
		expect("ALLOC_BATCH with a bad pointer", e, EFAULT);
		return;
	case 4:
		b.count = 0xffffffffu - below(t, 16);	/* huge: never more than free */
		break;
	default:
		break;
	}
	want = b.count;
	e = xioctl(t, OP_ALLOC_BATCH, s->fd, KSALLOC_IOC_ALLOC_BATCH, &b);
	if (e) {
		if (e != EAGAIN)
			violation("ALLOC_BATCH: %s", errname(e));
		return;
	}
	if (!b.count || b.count > s->f.frames || b.count > want)
		violation("ALLOC_BATCH: %u frames of %u wanted, %u in the pool",
			  b.count, want, s->f.frames);
	for (i = 0; i < b.count && i < s->f.frames; i++) {
		if (idx[i] < s->f.frames) {
			if (seen[idx[i] / 32] & (1u << (idx[i] % 32)))
				violation("ALLOC_BATCH: frame %u twice", idx[i]);
			seen[idx[i] / 32] |= 1u << (idx[i] % 32);
		}
		claim_frame(s, idx[i]);
	}
}

static void op_free_batch(struct thread *t, struct slot *s)
{
	uint32_t idx[MAX_FRAMES + 1], n = 0, k, bad = UINT32_MAX, i;
	struct ksalloc_frame_batch b = { 0 };
	int e, j;

	switch (below(t, 6)) {
	case 0:
		b.count = 1 + below(t, 8);
		b.indices = (uintptr_t)bad_pointer(t);
		e = xioctl(t, OP_FREE_BATCH, s->fd, KSALLOC_IOC_FREE_BATCH, &b);
		if (e != EFAULT || b.count)
			violation("FREE_BATCH from a bad buffer: %s, count %u",
				  errname(e), b.count);
		return;
	case 2: {
		/*
		 * A huge count over a few indices that run into the guard
		 * page: whatever is read, nothing may be freed (out of range).
		 */
		uint32_t m = 1 + below(t, 63), *u = (uint32_t *)(page_edge + page) - m;

		for (i = 0; i < m; i++)
			u[i] = s->f.frames + i;
		b.count = 0xffffffffu - below(t, 4);
		b.indices = (uintptr_t)u;
		e = xioctl(t, OP_FREE_BATCH, s->fd, KSALLOC_IOC_FREE_BATCH, &b);
		if ((e != EFAULT && e != EINVAL) || b.count)
			violation("FREE_BATCH of a huge count: %s, count %u", errname(e),
				  b.count);
		return;
	}
	case 1:
		b.count = 1;
		b.flags = 1u << below(t, 32);
		b.indices = (uintptr_t)idx;
		idx[0] = UINT32_MAX;
		expect("FREE_BATCH with flags",
		       xioctl(t, OP_FREE_BATCH, s->fd, KSALLOC_IOC_FREE_BATCH, &b), EINVAL);
		return;
	default:
		break;
	}
	k = 1 + below(t, s->f.frames);
	while (n < k && (j = grab_held(t, s)) >= 0)
		idx[n++] = j;
	if (chance(t, 30)) {
		/* A bad index in the middle stops the batch right there. */
		bad = below(t, n + 1);
		memmove(idx + bad + 1, idx + bad, (n - bad) * sizeof(*idx));
		idx[bad] = s->f.frames + below(t, 100);
		n++;
	}
	if (!n)
		return;
	b.count = n;
	b.indices = (uintptr_t)idx;
	e = xioctl(t, OP_FREE_BATCH, s->fd, KSALLOC_IOC_FREE_BATCH, &b);
	if (bad == UINT32_MAX) {
		if (e || b.count != n)
			violation("FREE_BATCH of %u held frames: %s, %u freed", n,
				  errname(e), b.count);
	} else if (e != EINVAL || b.count != bad) {
		violation("FREE_BATCH with a bad index at %u of %u: %s, %u freed",
			  bad, n, errname(e), b.count);
	}
	for (i = 0; i < n; i++) {
		if (i == bad)
			continue;
		atomic_store(&s->state[idx[i]], i < b.count ? F_FREE : F_HELD);
	}
}

static void op_query(struct thread *t, struct slot *s)
{
	struct ksalloc_functiontable_info ft;
	struct ksalloc_status st;
	struct ksalloc_stats sx;
	int e;

	switch (below(t, 6)) {
	case 0:
		memset(&st, 0xa5, sizeof(st));
		e = xioctl(t, OP_GET_STATUS, s->fd, KSALLOC_IOC_GET_STATUS, &st);
		if (e)
			violation("GET_STATUS: %s", errname(e));
		else if (st.reserved || st.framing.reserved ||
			 memcmp(&st.framing, &s->f, sizeof(s->f)) ||
			 st.allocated_frames > s->f.frames)
			violation("GET_STATUS: framing or count wrong (%u out)",
				  st.allocated_frames);
		return;
	case 1:
		expect("GET_STATUS into a bad or read-only buffer",
		       xioctl(t, OP_GET_STATUS, s->fd, KSALLOC_IOC_GET_STATUS,
			      chance(t, 50) ? (void *)page_ro : bad_pointer(t)),
		       EFAULT);
		return;
	case 2:
		memset(&ft, 0xa5, sizeof(ft));
		e = xioctl(t, OP_GET_FUNCTIONTABLE, s->fd,
			   KSALLOC_IOC_GET_FUNCTIONTABLE, &ft);
		if (s->f.pool_type == KSALLOC_POOL_PAGED)
			expect("GET_FUNCTIONTABLE of a paged pool", e, EOPNOTSUPP);
		else if (e)
			violation("GET_FUNCTIONTABLE: %s", errname(e));
		else if (ft.reserved || ft.reserved2 || ft.flags != KSALLOC_FT_DISPATCH)
			violation("GET_FUNCTIONTABLE: flags %#x, reserved not 0", ft.flags);
		return;
	case 3:
		e = xioctl(t, OP_GET_FUNCTIONTABLE, s->fd, KSALLOC_IOC_GET_FUNCTIONTABLE,
			   bad_pointer(t));
		/* The buffer is checked first, before anything is switched on. */
		expect("GET_FUNCTIONTABLE into a bad buffer", e, EFAULT);
		return;
	case 4:
		e = xioctl(t, OP_GET_STATS, s->fd, KSALLOC_IOC_GET_STATS, &sx);
		if (e)
			violation("GET_STATS: %s", errname(e));
		else if (sx.peak_allocated > s->f.frames || sx.waiters > nthreads)
			violation("GET_STATS: peak %" PRIu64 ", waiters %" PRIu64,
				  (uint64_t)sx.peak_allocated, (uint64_t)sx.waiters);
		return;
	default:
		/* SET_FRAMING once only. */
		expect("second SET_FRAMING",
		       xioctl(t, OP_SET_FRAMING, s->fd, KSALLOC_IOC_SET_FRAMING, &s->f),
		       EBUSY);
		return;
	}
}

/* Ioctl numbers that are not ours: other sizes, directions, numbers, magics. */
static void op_bad_ioctl(struct thread *t, struct slot *s)
{
	static const unsigned long good[] = {
		KSALLOC_IOC_SET_FRAMING, KSALLOC_IOC_GET_STATUS,
		KSALLOC_IOC_GET_FUNCTIONTABLE, KSALLOC_IOC_ALLOC, KSALLOC_IOC_FREE,
		KSALLOC_IOC_ALLOC_BATCH, KSALLOC_IOC_FREE_BATCH, KSALLOC_IOC_GET_STATS,
	};
	unsigned long cmd = good[below(t, 8)];
	unsigned char buf[256] = { 0 };
	unsigned int i;

	switch (below(t, 5)) {
	case 0:	/* another size: none, or a larger struct */
		cmd = _IOC(_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd),
			   chance(t, 30) ? 0 : _IOC_SIZE(cmd) + 8 * (1 + below(t, 8)));
		break;
	case 1:	/* another direction */
		cmd ^= (unsigned long)(1 + below(t, 3)) << _IOC_DIRSHIFT;
		break;
	case 2:	/* another number */
		cmd = _IOC(_IOC_DIR(cmd), KSALLOC_IOC_MAGIC, 8 + below(t, 248), _IOC_SIZE(cmd));
		break;
	case 3:	/* another magic */
		cmd = (cmd & ~((unsigned long)_IOC_TYPEMASK << _IOC_TYPESHIFT)) |
		      ((unsigned long)((KSALLOC_IOC_MAGIC + 1 + below(t, 255)) & 0xff) << _IOC_TYPESHIFT);
		break;
	default:	/* any 32 bits */
		cmd = (uint32_t)rnd(t);
		break;
	}
	for (i = 0; i < 8; i++)
		if (cmd == good[i])
			return;
	/* A few generic ioctls the VFS answers itself; not ours to judge. */
	switch (_IOC_TYPE(cmd)) {
	case 0: case 'T': case 'f': case 'X': case 0x94: case 0x15:
		return;
	}
	expect("unknown ioctl", xioctl(t, OP_BAD_IOCTL, s->fd, cmd, buf), ENOTTY);
}

static void op_mmap(struct thread *t, struct slot *s)
{
	size_t len = s->poolbytes;
	int prot = PROT_READ | PROT_WRITE, flags = MAP_SHARED, want = 0;
	off_t off = 0;
	unsigned char *p;
	int e;

	switch (below(t, 8)) {
	case 0: prot |= PROT_EXEC; want = EPERM; break;
	case 1: flags = MAP_PRIVATE; want = EINVAL; break;
	case 2: len += page * (1 + below(t, 4)); want = ENXIO; break;
	case 3: off = (off_t)page * (s->poolbytes / page + below(t, 3)); want = ENXIO; break;
	case 4:
		if (s->poolbytes > page) {
			off = (off_t)page * (1 + below(t, s->poolbytes / page - 1));
			len = s->poolbytes - off;
		}
		break;
	case 5: prot = PROT_READ; break;
	default: break;
	}
	p = mmap(NULL, len, prot, flags, s->fd, off);
	e = count(t, OP_MMAP, p == MAP_FAILED ? -1 : 0);
	if (want == ENXIO && e == EINVAL)
		e = ENXIO;	/* either says "not that much" */
	if (e != want)
		violation("mmap len %zu off %lld prot %#x flags %#x: %s, want %s",
			  len, (long long)off, prot, flags, errname(e), errname(want));
	if (e)
		return;
	if (prot & PROT_WRITE) {
		/* Anything at all, anywhere in the pool. */
		memset(p + below(t, len), (int)rnd(t), 1);
		if (chance(t, 10))
			memset(p, (int)rnd(t), len);
	}
	if (chance(t, 30)) {
		/* The pool may never become executable. */
		e = count(t, OP_MPROTECT, mprotect(p, page, PROT_READ | PROT_EXEC));
		if (e != EACCES)
			violation("mprotect PROT_EXEC of the pool: %s", errname(e));
	}
	count(t, OP_MUNMAP, munmap(p, len));
}

static void op_poll(struct thread *t, struct slot *s)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLOUT | POLLIN };
	int n;

	n = poll(&pfd, 1, (int)below(t, 3));
	count(t, OP_POLL, n);
	if (n > 0 && (pfd.revents & ~(POLLOUT | POLLWRNORM)))
		violation("poll: revents %#x", pfd.revents);
}

static void op_fcntl(struct thread *t, struct slot *s)
{
	int fl = fcntl(s->fd, F_GETFL);

	if (fl < 0)
		return;
	fl = chance(t, 30) ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	count(t, OP_FCNTL, fcntl(s->fd, F_SETFL, fl));
}

/* The child scribbles over the whole pool, asks a few things, and exits. */
static void op_fork(struct thread *t, struct slot *s)
{
	unsigned char fill = (unsigned char)rnd(t);
	bool unmap = chance(t, 30), closefd = chance(t, 30);
	pid_t pid;
	int status;

	pid = fork();
	count(t, OP_FORK, pid);
	if (pid < 0)
		return;
	if (!pid) {
		struct ksalloc_status st;
		struct ksalloc_frame fr = { .flags = 1u << 7 };

		if (s->map)
			memset(s->map, fill, s->maplen);
		ioctl(s->fd, KSALLOC_IOC_GET_STATUS, &st);
		ioctl(s->fd, KSALLOC_IOC_ALLOC, &fr);	/* bad flags: changes nothing */
		if (unmap && s->map)
			munmap(s->map, s->maplen);
		if (closefd)
			close(s->fd);
		_exit(0);
	}
	atomic_fetch_add(&children, 1);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		violation("forked child: status %#x", status);
}

/* A spare handle: unconfigured, then framed with a mutated framing. */
static void op_spare(struct thread *t)
{
	struct ksalloc_framing f;
	struct ksalloc_frame fr = { 0 };
	struct ksalloc_status st;
	struct pollfd pfd;
	int fd, e, want;
	void *p;

	fd = open(device, O_RDWR | O_CLOEXEC | (chance(t, 20) ? O_NONBLOCK : 0));
	if (count(t, OP_OPEN, fd))
		return;
	switch (below(t, 4)) {
	case 0:
		expect("ALLOC before SET_FRAMING",
		       xioctl(t, OP_ALLOC, fd, KSALLOC_IOC_ALLOC, &fr), EBADFD);
		break;
	case 1:
		p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
		expect("mmap before SET_FRAMING", count(t, OP_MMAP, p == MAP_FAILED ? -1 : 0),
		       EBADFD);
		if (p != MAP_FAILED)
			munmap(p, page);
		break;
	case 2:
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		count(t, OP_POLL, poll(&pfd, 1, 0));
		if (!(pfd.revents & POLLERR))
			violation("poll before SET_FRAMING: revents %#x", pfd.revents);
		break;
	default:
		expect("GET_STATUS before SET_FRAMING",
		       xioctl(t, OP_GET_STATUS, fd, KSALLOC_IOC_GET_STATUS, &st), EBADFD);
		break;
	}

	/* Mutate a valid framing, judge it, and frame only what is small. */
	random_framing(t, &f);
	switch (below(t, 10)) {
	case 0: f.reserved = 1u << below(t, 32); break;
	case 1: f.flags |= 1u << (4 + below(t, 27)); break;
	case 2: f.pool_type = 2 + below(t, 100); break;
	case 3: f.frames = chance(t, 50) ? 0 : (uint32_t)lim_max_frames + 1 + below(t, 3); break;
	case 4: f.frame_size = chance(t, 50) ? 0 : (uint32_t)rnd(t) | 0x80000000u; break;
	case 5: f.alignment = chance(t, 50) ? (uint32_t)rnd(t) : (uint32_t)page - 1 + below(t, 3); break;
	case 6: f.frames = (uint32_t)lim_max_frames; f.frame_size = (uint32_t)lim_max_frame_size; break;
	case 7: f.frames = 1 + below(t, (uint32_t)lim_max_frames);
		f.frame_size = (uint32_t)lim_max_pool / f.frames + 1 + below(t, 4096); break;
	case 8:
		/* A bad pointer instead of a framing. */
		e = xioctl(t, OP_SET_FRAMING, fd, KSALLOC_IOC_SET_FRAMING,
			   bad_pointer(t));
		expect("SET_FRAMING from a bad pointer", e, EFAULT);
		break;
	default: break;
	}
	want = framing_errno(&f);
	if (!want && (uint64_t)stride_of(&f) * f.frames > (1u << 20))
		goto out;	/* valid but big: not the fuzzer's business */
	e = xioctl(t, OP_SET_FRAMING, fd, KSALLOC_IOC_SET_FRAMING, &f);
	if (e != want && !(want == 0 && e == ENOMEM))
		violation("SET_FRAMING flags %#x pool %u %u x %u align %#x reserved %#x: %s, want %s",
			  f.flags, f.pool_type, f.frames, f.frame_size, f.alignment,
			  f.reserved, errname(e), errname(want));
	if (e && chance(t, 50)) {
		/* A refused framing changes nothing: a good one still works. */
		random_framing(t, &f);
		expect("SET_FRAMING after a refused one",
		       xioctl(t, OP_SET_FRAMING, fd, KSALLOC_IOC_SET_FRAMING, &f), 0);
	}
out:
	count(t, OP_CLOSE, close(fd));
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_fetch_add_explicit(&signals_caught, 1, memory_order_relaxed);
}

static void *worker(void *arg)
{
	struct thread *t = arg;
	struct slot *s;
	unsigned int op;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		s = &slots[below(t, nslots)];
		op = below(t, 1000);
		if (op < 8) {
			/* Close and reopen, when nobody else is in the slot. */
			if (pthread_rwlock_trywrlock(&s->rw))
				continue;
			if (s->fd >= 0)
				slot_close(t, s);
			slot_open(t, s);
			pthread_rwlock_unlock(&s->rw);
			continue;
		}
		if (op < 40) {
			op_spare(t);
			continue;
		}
		pthread_rwlock_rdlock(&s->rw);
		if (s->fd < 0) {
			pthread_rwlock_unlock(&s->rw);
			continue;
		}
		if (op < 300)
			op_alloc(t, s);
		else if (op < 560)
			op_free(t, s);
		else if (op < 640)
			op_alloc_batch(t, s);
		else if (op < 720)
			op_free_batch(t, s);
		else if (op < 800)
			op_query(t, s);
		else if (op < 850)
			op_bad_ioctl(t, s);
		else if (op < 900)
			op_mmap(t, s);
		else if (op < 960)
			op_poll(t, s);
		else if (op < 975)
			op_fcntl(t, s);
		else if (op < 980)
			op_fork(t, s);
		pthread_rwlock_unlock(&s->rw);
	}
	return NULL;
}

/* Interrupts the workers, to catch them waiting in ALLOC. */
static void *signaller(void *arg)
{
	struct thread *t = arg;
	struct timespec ts;

	while (!atomic_load(&stop)) {
		ts.tv_sec = 0;
		ts.tv_nsec = 200000 + below(t, 5000000);
		nanosleep(&ts, NULL);
		count(t, OP_SIGNAL, pthread_kill(threads[below(t, nthreads)].tid, SIGUSR1));
	}
	return NULL;
}

/*
 * The end: free what is held, then allocate the whole pool again, each
 * frame once and at its offset, write it and read it back, and free it.
 */
static void final_check(struct thread *t, struct slot *s, unsigned int nr)
{
	uint32_t idx[MAX_FRAMES], n = 0, i, got = 0;
	struct ksalloc_frame_batch b = { 0 };
	struct ksalloc_frame fr;
	struct ksalloc_status st;
	char what[64];
	int e, j;

	snprintf(what, sizeof(what), "final slot %u", nr);
	slot_check_exact(t, s, what);
	while ((j = grab_held(t, s)) >= 0) {
		fr = (struct ksalloc_frame){ .index = j };
		expect("final FREE of a held frame",
		       xioctl(t, OP_FREE, s->fd, KSALLOC_IOC_FREE, &fr), 0);
		atomic_store(&s->state[j], F_FREE);
	}
	memset(&st, 0, sizeof(st));
	e = xioctl(t, OP_GET_STATUS, s->fd, KSALLOC_IOC_GET_STATUS, &st);
	if (e || st.allocated_frames)
		violation("%s: %s, %u frames still out after freeing all", what,
			  errname(e), st.allocated_frames);

	fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) & ~O_NONBLOCK);
	for (;;) {
		fr = (struct ksalloc_frame){ .flags = KSALLOC_ALLOC_NOWAIT };
		e = xioctl(t, OP_ALLOC, s->fd, KSALLOC_IOC_ALLOC, &fr);
		if (e)
			break;
		if (n >= s->f.frames || fr.index >= s->f.frames) {
			violation("%s: frame %u beyond the pool", what, fr.index);
			break;
		}
		if (atomic_exchange(&s->state[fr.index], F_HELD) != F_FREE)
			violation("%s: frame %u allocated twice", what, fr.index);
		if (fr.offset != (uint64_t)fr.index * s->stride)
			violation("%s: frame %u at offset %" PRIu64, what, fr.index,
				  (uint64_t)fr.offset);
		if (s->map)
			memset(s->map + fr.offset, 0x40 + fr.index % 64, s->f.frame_size);
		idx[n++] = fr.index;
	}
	if (e != EAGAIN || n != s->f.frames)
		violation("%s: allocated %u of %u frames again, then %s", what, n,
			  s->f.frames, errname(e));
	for (i = 0; s->map && i < n; i++) {
		const unsigned char *p = s->map + (size_t)idx[i] * s->stride;

		if (p[0] != 0x40 + idx[i] % 64 || p[s->f.frame_size - 1] != 0x40 + idx[i] % 64)
			violation("%s: frame %u overlaps another", what, idx[i]);
		got++;
	}
	if (n) {
		b.indices = (uintptr_t)idx;
		b.count = n;
		e = xioctl(t, OP_FREE_BATCH, s->fd, KSALLOC_IOC_FREE_BATCH, &b);
		if (e || b.count != n)
			violation("%s: FREE_BATCH of all: %s, %u of %u", what,
				  errname(e), b.count, n);
		for (i = 0; i < n; i++)
			atomic_store(&s->state[idx[i]], F_FREE);
	}
	e = xioctl(t, OP_GET_STATUS, s->fd, KSALLOC_IOC_GET_STATUS, &st);
	if (e || st.allocated_frames)
		violation("%s: %u frames out at the very end", what, st.allocated_frames);
	if (verbose)
		errmsg("%s: %u x %u, all %u frames allocated, checked (%u mapped) and freed",
		       what, s->f.frames, s->f.frame_size, n, got);
}

static void read_limit(const char *name, uint64_t *val)
{
	char path[128];
	FILE *f;
	unsigned long long v;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fscanf(f, "%llu", &v) == 1)
		*val = v;
	fclose(f);
}

static void setup_pages(void)
{
	unsigned char *p = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		errmsg("mmap: %s", strerror(errno));
		exit(2);
	}
	page_none = p;
	page_ro = p + page;
	page_edge = p + 2 * page;
	memset(p, 0, 4 * page);
	mprotect(page_none, page, PROT_NONE);
	mprotect(page_ro, page, PROT_READ);
	mprotect(page_edge + page, page, PROT_NONE);
}

static void print_report(double secs)
{
	uint64_t total[NR_OPS][MAX_ERRNO + 1] = { { 0 } }, calls = 0, n;
	unsigned int i, o, e;
	bool first_op = true, first;

	for (i = 0; i <= nthreads; i++) {
		calls += threads[i].calls;
		for (o = 0; o < NR_OPS; o++)
			for (e = 0; e <= MAX_ERRNO; e++)
				total[o][e] += threads[i].count[o][e];
	}
	if (!json) {
		printf("ksalloc_fuzz: seed %" PRIu64 ", %u threads, %u slots, %.1f s: "
		       "%" PRIu64 " calls, %.0f calls/s, %lu violations\n",
		       seed, nthreads, nslots, secs, calls, secs > 0 ? calls / secs : 0,
		       atomic_load(&violations));
		printf("ksalloc_fuzz: %lu signals caught, %lu forks, %lu probe races, %lu stolen\n",
		       atomic_load(&signals_caught), atomic_load(&children),
		       atomic_load(&probes_hit), atomic_load(&stolen));
		for (o = 0; o < NR_OPS; o++) {
			for (n = 0, e = 0; e <= MAX_ERRNO; e++)
				n += total[o][e];
			if (!n)
				continue;
			printf("  %-18s %9" PRIu64 ":", op_names[o], n);
			for (e = 0; e <= MAX_ERRNO; e++)
				if (total[o][e])
					printf(" %s=%" PRIu64, errname(e), total[o][e]);
			printf("\n");
		}
		return;
	}
	printf("{\"tool\":\"ksalloc_fuzz\",\"seed\":%" PRIu64 ",\"threads\":%u,\"slots\":%u,"
	       "\"seconds\":%.3f,\"calls\":%" PRIu64 ",\"calls_per_s\":%.1f,"
	       "\"violations\":%lu,\"signals\":%lu,\"forks\":%lu,\"probe_races\":%lu,"
	       "\"stolen\":%lu,\"ops\":{",
	       seed, nthreads, nslots, secs, calls, secs > 0 ? calls / secs : 0,
	       atomic_load(&violations), atomic_load(&signals_caught),
	       atomic_load(&children), atomic_load(&probes_hit), atomic_load(&stolen));
	for (o = 0; o < NR_OPS; o++) {
		for (n = 0, e = 0; e <= MAX_ERRNO; e++)
			n += total[o][e];
		if (!n)
			continue;
		printf("%s\"%s\":{\"calls\":%" PRIu64 ",\"errno\":{", first_op ? "" : ",",
		       op_names[o], n);
		first_op = false;
		first = true;
		for (e = 0; e <= MAX_ERRNO; e++) {
			if (!total[o][e])
				continue;
			printf("%s\"%s\":%" PRIu64, first ? "" : ",", errname(e), total[o][e]);
			first = false;
		}
		printf("}}");
	}
	printf("}}\n");
}

static int cmd_fuzz(void)
{
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	struct thread *sig = &threads[nthreads];
	uint64_t start, end;
	unsigned int i;
	int kicks;

	read_limit("max_frames", &lim_max_frames);
	read_limit("max_frame_size", &lim_max_frame_size);
	read_limit("max_pool_bytes", &lim_max_pool);
	setup_pages();
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (i = 0; i <= nthreads; i++) {
		uint64_t x = seed ^ ((uint64_t)i << 48);

		threads[i].nr = i;
		threads[i].rng = splitmix(&x);
	}
	for (i = 0; i < nslots; i++) {
		pthread_rwlock_init(&slots[i].rw, NULL);
		pthread_rwlock_init(&slots[i].probe, NULL);
		if (slot_open(sig, &slots[i]))
			return 2;
	}

	start = now_ns();
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&threads[i].tid, NULL, worker, &threads[i])) {
			errmsg("pthread_create failed");
			return 2;
		}
	if (pthread_create(&sig->tid, NULL, signaller, sig)) {
		errmsg("pthread_create failed");
		return 2;
	}
	while (now_ns() - start < (uint64_t)(seconds * 1e9))
		usleep(50000);
	atomic_store(&stop, true);
	pthread_join(sig->tid, NULL);
	/* Workers may wait in ALLOC without a limit: interrupt them until done. */
	for (i = 0; i < nthreads; i++) {
		for (kicks = 0; pthread_tryjoin_np(threads[i].tid, NULL); kicks++) {
			pthread_kill(threads[i].tid, SIGUSR1);
			usleep(10000);
			if (kicks == 3000) {
				violation("thread %u stuck for 30 s", i);
				fflush(NULL);
				_exit(1);
			}
		}
	}
	end = now_ns();

	for (i = 0; i < nslots; i++) {
		final_check(sig, &slots[i], i);
		slot_close(sig, &slots[i]);
	}
	print_report((end - start) / 1e9);
	return atomic_load(&violations) ? 1 : 0;
}

/* --- hold ---------------------------------------------------------------- */

static volatile sig_atomic_t hold_stop;

static void on_hold_signal(int sig)
{
	(void)sig;
	hold_stop = 1;
}

/* Moves this process into the cgroup v2 directory @dir; 0 or -1. */
static int move_to_cgroup(const char *dir)
{
	char path[4096];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		errmsg("open %s: %s", path, strerror(errno));
		return -1;
	}
	/* "0" is the writer itself */
	ok = write(fd, "0\n", 2) == 2;
	if (!ok)
		errmsg("write %s: %s", path, strerror(errno));
	close(fd);
	return ok ? 0 : -1;
}

static int cmd_hold(uint32_t frames, uint32_t size, unsigned int fds, double secs,
		    bool touch, const char *cgroup)
{
	struct sigaction sa = { .sa_handler = on_hold_signal };
	struct ksalloc_framing f = { .frames = frames, .frame_size = size };
	int *fd = calloc(fds, sizeof(*fd));
	unsigned int i, opened, framed = 0;
	int first_err = 0, open_err = 0;
	uint64_t end;

	if (!fd)
		return 2;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (opened = 0; opened < fds; opened++) {
		fd[opened] = open(device, O_RDWR | O_CLOEXEC);
		if (fd[opened] < 0) {
			open_err = errno;
			break;
		}
	}
	if (cgroup && move_to_cgroup(cgroup))
		return 2;
	for (i = 0; i < opened; i++) {
		if (ioctl(fd[i], KSALLOC_IOC_SET_FRAMING, &f)) {
			first_err = errno;
			break;
		}
		framed++;
		if (touch) {
			size_t len = ((size_t)frames * size + page - 1) / page * page;
			struct ksalloc_frame fr = { .flags = KSALLOC_ALLOC_NOWAIT };
			unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
						MAP_SHARED, fd[i], 0);

			if (p == MAP_FAILED) {
				errmsg("mmap %zu bytes: %s", len, strerror(errno));
				return 2;
			}
			memset(p, 0x5a, len);
			while (!ioctl(fd[i], KSALLOC_IOC_ALLOC, &fr))
				;
			munmap(p, len);
		}
	}
	/* Only the framed ones are held. */
	for (i = framed; i < opened; i++)
		close(fd[i]);
	if (!first_err)
		first_err = open_err;
	printf("framed %u/%u %u x %u%s%s\n", framed, fds, frames, size,
	       first_err ? " error " : "", first_err ? strerrorname_np(first_err) : "");
	printf("ready\n");
	fflush(stdout);
	end = now_ns() + (uint64_t)(secs * 1e9);
	while (!hold_stop && (secs < 0 || now_ns() < end))
		usleep(20000);
	for (i = 0; i < framed; i++)
		close(fd[i]);
	free(fd);
	return framed == fds ? 0 : 1;
}

/*
 * faults: fails the 1st, 2nd, ... allocation that SET_FRAMING makes, one at
 * a time, through /proc/thread-self/fail-nth (FAULT_INJECTION, FAILSLAB,
 * FAIL_PAGE_ALLOC).  An injected fault must end in ENOMEM, or in a framing
 * that works (the allocation site did without); then the handle must
 * allocate and free a frame.  Stops at the first n that no allocation
 * reaches: that framing must have worked untouched.  With @only, fails
 * the @only-th allocation alone, so that the caller can unload the module
 * after each fault.
 */
static int cmd_faults(uint32_t frames, uint32_t size, unsigned int only)
{
	struct ksalloc_framing f = { .frames = frames, .frame_size = size };
	unsigned int injected = 0, enomem = 0, recovered = 0, bad = 0, n;
	char buf[32];
	int fd, nth, r, err;
	ssize_t len;

	nth = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (nth < 0) {
		errmsg("/proc/thread-self/fail-nth: %s (no FAULT_INJECTION?)",
		       strerror(errno));
		return 2;
	}
	for (n = only ? only : 1; n < 100000 && (!only || n == only); n++) {
		struct ksalloc_frame fr = { .flags = KSALLOC_ALLOC_NOWAIT };

		fd = open(device, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			errmsg("open %s: %s", device, strerror(errno));
			return 2;
		}
		len = snprintf(buf, sizeof(buf), "%u", n);
		if (pwrite(nth, buf, len, 0) != len) {
			errmsg("fail-nth: %s", strerror(errno));
			return 2;
		}
		r = ioctl(fd, KSALLOC_IOC_SET_FRAMING, &f);
		err = errno;
		len = pread(nth, buf, sizeof(buf) - 1, 0);
		buf[len > 0 ? len : 0] = 0;
		/* Not 0: fewer than n allocations, so none failed. */
		if (atoi(buf)) {
			if (pwrite(nth, "0", 1, 0) != 1 || r) {
				errmsg("framing without a fault failed: %s", strerror(err));
				bad++;
			}
			close(fd);
			break;
		}
		injected++;
		if (!r) {
			recovered++;
			if (ioctl(fd, KSALLOC_IOC_ALLOC, &fr) ||
			    ioctl(fd, KSALLOC_IOC_FREE, &(struct ksalloc_frame){ .index = fr.index })) {
				errmsg("fault %u: framed, but ALLOC+FREE: %s", n, strerror(errno));
				bad++;
			}
		} else if (err == ENOMEM) {
			enomem++;
		} else {
			errmsg("fault %u: SET_FRAMING failed with %s, not ENOMEM", n,
			       strerrorname_np(err));
			bad++;
		}
		close(fd);
	}
	close(nth);
	printf("faults %u injected: %u ENOMEM, %u recovered, %u wrong\n",
	       injected, enomem, recovered, bad);
	return bad || !injected ? 1 : 0;
}

/* --- main ---------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " [--device PATH] [fuzz] [--seed N] [--seconds T] [--threads N]\n"
"                    [--slots N] [--json] [--verbose]\n"
"       " PROG " [--device PATH] hold --frames N --size S [--fds K]\n"
"                    [--seconds T] [--touch] [--cgroup DIR]\n"
"       " PROG " [--device PATH] faults [--frames N] [--size S] [--nth N]\n"
"\n"
"fuzz (default): a seeded, repeatable fuzz of the /dev/ksalloc ABI by\n"
"--threads workers (default 4) on --slots allocators (default 4) for\n"
"--seconds (default 10), then a consistency check of every allocator.\n"
"Prints the calls made and the errno distribution per call (--json: one\n"
"JSON object).  Exit status 0, 1 when the ABI was broken, 2 usage error.\n"
"\n"
"hold: opens --fds descriptors (default 1), frames each with --frames x\n"
"--size, prints 'framed X/K [error ERRNO]' and 'ready', waits --seconds\n"
"(default 0, < 0 until SIGTERM) and closes them.  --touch maps each pool,\n"
"writes it and allocates every frame.  --cgroup moves the process into the\n"
"cgroup v2 directory DIR after opening and before framing.  Exit status 0\n"
"when all were framed.\n"
"\n"
"faults: fails the n-th allocation of SET_FRAMING (--frames x --size,\n"
"default 64 x 4096) for n = 1, 2, ... through /proc/thread-self/fail-nth;\n"
"each must give ENOMEM or a framing that works.  --nth N fails the N-th\n"
"alone.  Needs FAULT_INJECTION.  Exit status 0 when every fault ended\n"
"cleanly and at least one was injected.\n");
}

int main(int argc, char **argv)
{
	enum { OPT_SEED = 256, OPT_SECONDS, OPT_THREADS, OPT_SLOTS, OPT_JSON,
	       OPT_FRAMES, OPT_SIZE, OPT_FDS, OPT_TOUCH, OPT_DEVICE, OPT_VERBOSE,
	       OPT_NTH, OPT_CGROUP };
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "seconds", required_argument, NULL, OPT_SECONDS },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "slots", required_argument, NULL, OPT_SLOTS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "verbose", no_argument, NULL, OPT_VERBOSE },
		{ "frames", required_argument, NULL, OPT_FRAMES },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "fds", required_argument, NULL, OPT_FDS },
		{ "touch", no_argument, NULL, OPT_TOUCH },
		{ "device", required_argument, NULL, OPT_DEVICE },
		{ "nth", required_argument, NULL, OPT_NTH },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long frames = 0, size = 0, fds = 1, nth = 0;
	const char *cmd = "fuzz", *cgroup = NULL;
	bool touch = false, secs_given = false;
	char *end;
	int c;

	page = (size_t)sysconf(_SC_PAGESIZE);
	if (argc > 1 && argv[1][0] != '-') {
		cmd = argv[1];
		argv++;
		argc--;
	}
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		errno = 0;
		end = NULL;
		switch (c) {
		case OPT_SEED: seed = strtoull(optarg, &end, 0); break;
		case OPT_SECONDS: seconds = strtod(optarg, &end); secs_given = true; break;
		case OPT_THREADS: nthreads = strtoul(optarg, &end, 0); break;
		case OPT_SLOTS: nslots = strtoul(optarg, &end, 0); break;
		case OPT_FRAMES: frames = strtoull(optarg, &end, 0); break;
		case OPT_SIZE: size = strtoull(optarg, &end, 0); break;
		case OPT_FDS: fds = strtoull(optarg, &end, 0); break;
		case OPT_JSON: json = true; break;
		case OPT_VERBOSE: verbose = true; break;
		case OPT_TOUCH: touch = true; break;
		case OPT_DEVICE: device = optarg; break;
		case OPT_NTH: nth = strtoull(optarg, &end, 0); break;
		case OPT_CGROUP: cgroup = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (end && (errno || *end || end == optarg)) {
			errmsg("bad number '%s'", optarg);
			return 2;
		}
	}
	if (optind != argc) {
		errmsg("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (!strcmp(cmd, "faults")) {
		if (nth >= 100000) {
			errmsg("faults: --nth must be below 100000");
			return 2;
		}
		return cmd_faults(frames ? frames : 64, size ? size : 4096, nth);
	}
	if (!strcmp(cmd, "hold")) {
		if (!frames || frames > UINT32_MAX || !size || size > UINT32_MAX ||
		    !fds || fds > 100000) {
			errmsg("hold: needs --frames and --size (and --fds 1..100000)");
			return 2;
		}
		return cmd_hold(frames, size, fds, secs_given ? seconds : 0, touch,
				cgroup);
	}
	if (strcmp(cmd, "fuzz")) {
		errmsg("unknown command '%s'", cmd);
		return 2;
	}
	if (!nthreads || nthreads >= MAX_THREADS || !nslots || nslots > MAX_SLOTS ||
	    !(seconds > 0)) {
		errmsg("--threads 1..%d, --slots 1..%d, --seconds > 0", MAX_THREADS - 1,
		       MAX_SLOTS);
		return 2;
	}
	return cmd_fuzz();
}
