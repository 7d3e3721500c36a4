// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_fuzz - a targeted, seeded fuzzer of the /dev/ksalloc ABI
 *
 *	ksalloc_fuzz [--seed N] [--seconds T] [--threads N] [--slots N]
 *		     [--json] [--verbose] [--device PATH]
 *
 * Worker threads share a few allocator "slots" (descriptors with a framing
 * and a mapping of the pool) and hammer them with a weighted mix of valid
 * and mutated requests (ops.c): ALLOC (waiting, timed, NOWAIT), FREE of
 * held, out-of-range and believed-free frames, batches with bad pointers
 * and bad indices in the middle, flipped reserved and flag bits, crafted
 * ioctl numbers (other sizes, directions, magics), GET_ID, SET_FRAMING on a
 * spare handle (read-only too) with every kind of bad framing, mmap
 * (PROT_EXEC, MAP_PRIVATE, too large, offsets), mprotect, munmap, poll,
 * fcntl(O_NONBLOCK), dup, close and reopen, fork while the pool is mapped
 * (the child scribbles over every frame and exits), and a thread that
 * sends signals to the workers while they wait in ALLOC.  Bad pointers
 * are NULL, unmapped, PROT_NONE, read-only, misaligned, kernel addresses
 * and buffers that run into a guard page.
 *
 * Every errno the ABI fixes is checked where it does not depend on timing.
 * Every frame the fuzzer is told it holds is tracked per slot in a small
 * state machine, so that a frame handed out twice, a free of a held frame
 * that fails, or a count that disagrees with GET_STATUS is a violation.
 * Every allocator id GET_ID reports is kept: it must not be 0, must stay
 * the same for the descriptor (its dups, its forked children, its fdinfo
 * line "ksalloc_id:"), and no two allocators may get the same one.
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
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
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
#include <linux/ksalloc.h>

#include "abi.h"

#define PARAMS		"/sys/module/ksalloc/parameters/"

static const char *const op_names[NR_OPS] = {
	"SET_FRAMING", "GET_STATUS", "GET_FUNCTIONTABLE", "ALLOC", "FREE",
	"ALLOC_BATCH", "FREE_BATCH", "GET_STATS", "GET_ID", "EXPORT_DMABUF",
	"bad_ioctl",
	"open", "close", "dup", "mmap", "munmap", "mprotect", "poll",
	"fcntl", "fork", "signal",
};

/* Settings. */
static uint64_t seed = 1;
static double seconds = 10;
unsigned int nthreads = 4;
static unsigned int nslots = 4;
static bool json;
static bool verbose;

/* Module limits, read at start so that framings can be judged. */
uint64_t lim_max_frames = 65536, lim_max_frame_size = 4 << 20;
uint64_t lim_max_pool = 64 << 20;

static struct slot slots[MAX_SLOTS];
struct thread threads[MAX_THREADS];
static atomic_bool stop;
static atomic_ulong violations;
atomic_ulong stolen, probes_hit, signals_caught, children;
/* Keeps the lines of one violation report together. */
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
unsigned char *page_none, *page_ro, *page_edge;

/* A broken promise of the ABI. */
void violation(const char *fmt, ...)
{
	unsigned long n = atomic_fetch_add(&violations, 1);
	va_list ap;

	if (n >= MAX_REPORTS)
		return;
	va_start(ap, fmt);
	pthread_mutex_lock(&report_lock);
	fprintf(stderr, "%s: VIOLATION: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&report_lock);
	va_end(ap);
}

uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Counts one call of @op that returned @ret (-1 with errno, or >= 0). */
int count(struct thread *t, enum fuzz_op op, long ret)
{
	int e = ret < 0 ? errno : 0;

	t->calls++;
	t->count[op][e >= 0 && e < MAX_ERRNO ? e : MAX_ERRNO]++;
	errno = e;
	return e;
}

/* ioctl(), counted under @op; returns 0 or the errno. */
int xioctl(struct thread *t, enum fuzz_op op, int fd, unsigned long cmd, void *arg)
{
	return count(t, op, ioctl(fd, cmd, arg));
}

/* Expects @got to be @want, for the errnos that do not depend on timing. */
void expect(const char *what, int got, int want)
{
	if (got != want)
		violation("%s: got %s, want %s", what, errname(got), errname(want));
}

uint32_t stride_of(const struct ksalloc_framing *f)
{
	uint64_t a = (uint64_t)f->alignment + 1;

	return (uint32_t)((f->frame_size + a - 1) / a * a);
}

/* What SET_FRAMING must answer for @f, by the rules of SPEC section 2. */
int framing_errno(const struct ksalloc_framing *f)
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
void random_framing(struct thread *t, struct ksalloc_framing *f)
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
void *bad_pointer(struct thread *t)
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
bool claim_frame(struct slot *s, uint32_t index)
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
			if (!deadline) {
				deadline = now_ns() + 2000000000ULL;
			} else if (now_ns() > deadline) {
				violation("fd %d: frame %u handed out while held",
					  s->fd, index);
				return false;
			}
		}
		sched_yield();
	}
}

/* Takes a held frame for freeing (F_HELD -> F_BUSY), starting at random. */
int grab_held(struct thread *t, struct slot *s)
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

/* --- allocator ids --------------------------------------------------------- */

/*
 * Every id GET_ID gave for a newly framed allocator, so that one handed out
 * twice while the module is loaded is seen.  Open addressing; when three
 * quarters full, later ids are no longer recorded.
 */
#define ID_SET_BITS	18
static uint64_t id_set[1u << ID_SET_BITS];
static unsigned long id_count;
static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;	/* id_set, id_count */

/* A newly framed allocator (@what) was told its id @id: a new one, not 0. */
void id_new(uint64_t id, const char *what)
{
	uint32_t mask = (1u << ID_SET_BITS) - 1;
	uint32_t h = (uint32_t)((id * 0x9e3779b97f4a7c15ULL) >> (64 - ID_SET_BITS));

	if (!id) {
		violation("%s: GET_ID gave 0", what);
		return;
	}
	pthread_mutex_lock(&id_lock);
	while (id_set[h] && id_set[h] != id)
		h = (h + 1) & mask;
	if (id_set[h] == id) {
		violation("%s: id %" PRIu64 " given to a second allocator", what, id);
	} else if (id_count < (mask + 1) / 4 * 3) {
		id_set[h] = id;
		id_count++;
	}
	pthread_mutex_unlock(&id_lock);
}

/* The fdinfo of @fd names the allocator @id: "ksalloc_id:\tN". */
void check_fdinfo_id(int fd, uint64_t id)
{
	unsigned long long v = 0;
	bool found = false;
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return;		/* no procfs: nothing to compare with */
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "ksalloc_id: %llu", &v) == 1;
	fclose(f);
	if (!found)
		violation("fd %d: no ksalloc_id line in %s", fd, path);
	else if (v != id)
		violation("fd %d: fdinfo says ksalloc_id %llu, GET_ID %" PRIu64, fd, v, id);
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
	s->id = 0;
	e = xioctl(t, OP_GET_ID, s->fd, KSALLOC_IOC_GET_ID, &s->id);
	if (e) {
		violation("GET_ID of a framed allocator: %s", errname(e));
	} else {
		id_new(s->id, "a slot");
		check_fdinfo_id(s->fd, s->id);
	}
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
		uint64_t id = 0;

		fd2 = dup(s->fd);
		count(t, OP_DUP, fd2);
		if (fd2 >= 0) {
			count(t, OP_CLOSE, close(s->fd));
			s->fd = fd2;
			expect("GET_ID of a dup",
			       xioctl(t, OP_GET_ID, fd2, KSALLOC_IOC_GET_ID, &id), 0);
			if (id != s->id)
				violation("fd %d: a dup says id %" PRIu64 ", not %" PRIu64,
					  fd2, id, s->id);
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
		else if (op < 785)
			op_query(t, s);
		else if (op < 800)
			op_export(t, s);
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

/* The counts of every thread summed into @total; returns the calls made. */
static uint64_t sum_counts(uint64_t total[NR_OPS][MAX_ERRNO + 1])
{
	uint64_t calls = 0;
	unsigned int i, o, e;

	for (i = 0; i <= nthreads; i++) {
		calls += threads[i].calls;
		for (o = 0; o < NR_OPS; o++)
			for (e = 0; e <= MAX_ERRNO; e++)
				total[o][e] += threads[i].count[o][e];
	}
	return calls;
}

static uint64_t op_calls(const uint64_t counts[MAX_ERRNO + 1])
{
	uint64_t n = 0;
	unsigned int e;

	for (e = 0; e <= MAX_ERRNO; e++)
		n += counts[e];
	return n;
}

static void print_text(double secs, uint64_t calls, uint64_t total[NR_OPS][MAX_ERRNO + 1])
{
	unsigned int o, e;

	printf("ksalloc_fuzz: seed %" PRIu64 ", %u threads, %u slots, %.1f s: ",
	       seed, nthreads, nslots, secs);
	printf("%" PRIu64 " calls, %.0f calls/s, %lu violations\n",
	       calls, secs > 0 ? calls / secs : 0, atomic_load(&violations));
	printf("ksalloc_fuzz: %lu signals caught, %lu forks, %lu probe races, %lu stolen\n",
	       atomic_load(&signals_caught), atomic_load(&children),
	       atomic_load(&probes_hit), atomic_load(&stolen));
	for (o = 0; o < NR_OPS; o++) {
		if (!op_calls(total[o]))
			continue;
		printf("  %-18s %9" PRIu64 ":", op_names[o], op_calls(total[o]));
		for (e = 0; e <= MAX_ERRNO; e++)
			if (total[o][e])
				printf(" %s=%" PRIu64, errname(e), total[o][e]);
		printf("\n");
	}
}

static void print_json(double secs, uint64_t calls, uint64_t total[NR_OPS][MAX_ERRNO + 1])
{
	bool first_op = true, first;
	unsigned int o, e;

	printf("{\"tool\":\"ksalloc_fuzz\",\"seed\":%" PRIu64 ",\"threads\":%u,\"slots\":%u,",
	       seed, nthreads, nslots);
	printf("\"seconds\":%.3f,\"calls\":%" PRIu64 ",\"calls_per_s\":%.1f,",
	       secs, calls, secs > 0 ? calls / secs : 0);
	printf("\"violations\":%lu,\"signals\":%lu,\"forks\":%lu,",
	       atomic_load(&violations), atomic_load(&signals_caught), atomic_load(&children));
	printf("\"probe_races\":%lu,\"stolen\":%lu,\"ops\":{",
	       atomic_load(&probes_hit), atomic_load(&stolen));
	for (o = 0; o < NR_OPS; o++) {
		if (!op_calls(total[o]))
			continue;
		printf("%s\"%s\":{\"calls\":%" PRIu64 ",\"errno\":{", first_op ? "" : ",",
		       op_names[o], op_calls(total[o]));
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

static void print_report(double secs)
{
	static uint64_t total[NR_OPS][MAX_ERRNO + 1];
	uint64_t calls = sum_counts(total);

	if (json)
		print_json(secs, calls, total);
	else
		print_text(secs, calls, total);
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

/* --- main ---------------------------------------------------------------- */

static void fuzz_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [--seed N] [--seconds T] [--threads N] [--slots N] [--json]\n"
		"       [--verbose] [--device PATH]\n"
		"\n"
		"A seeded, repeatable fuzz of the /dev/ksalloc ABI by --threads workers\n"
		"(default 4) on --slots allocators (default 4) for --seconds (default\n"
		"10), then a consistency check of every allocator.  Prints the calls\n"
		"made and the errno distribution per call (--json: one JSON object).\n"
		"Exit status 0, 1 when the ABI was broken, 2 usage error.\n"
		"\n"
		"The helpers that hold framed descriptors and inject faults are the\n"
		"programs ksalloc_fuzz_hold and ksalloc_fuzz_faults.\n", prog);
}

/* The options of the fuzzer into the settings; 0, or the exit status. */
static int fuzz_options(int argc, char **argv)
{
	enum { OPT_SEED = 256, OPT_SECONDS, OPT_THREADS, OPT_SLOTS, OPT_JSON,
	       OPT_VERBOSE, OPT_DEVICE };
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "seconds", required_argument, NULL, OPT_SECONDS },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "slots", required_argument, NULL, OPT_SLOTS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "verbose", no_argument, NULL, OPT_VERBOSE },
		{ "device", required_argument, NULL, OPT_DEVICE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v, threads_v = nthreads, slots_v = nslots;
	bool ok = true;
	int c;

	while (ok && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SEED:
			ok = parse_number(optarg, &v);
			seed = v;
			break;
		case OPT_SECONDS:
			ok = parse_seconds(optarg, &seconds);
			break;
		case OPT_THREADS:
			ok = parse_number(optarg, &threads_v);
			break;
		case OPT_SLOTS:
			ok = parse_number(optarg, &slots_v);
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_VERBOSE:
			verbose = true;
			break;
		case OPT_DEVICE:
			device = optarg;
			break;
		case 'h':
			fuzz_usage(stdout);
			return -1;
		default:
			fuzz_usage(stderr);
			return 2;
		}
	}
	if (!options_done(ok, argc, argv))
		return 2;
	if (!threads_v || threads_v >= MAX_THREADS || !slots_v || slots_v > MAX_SLOTS ||
	    !(seconds > 0)) {
		errmsg("--threads 1..%d, --slots 1..%d, --seconds > 0", MAX_THREADS - 1,
		       MAX_SLOTS);
		return 2;
	}
	nthreads = threads_v;
	nslots = slots_v;
	return 0;
}

int main(int argc, char **argv)
{
	int ret;

	fuzz_init("ksalloc_fuzz");
	ret = fuzz_options(argc, argv);
	if (ret)
		return ret < 0 ? 0 : ret;
	return cmd_fuzz();
}
