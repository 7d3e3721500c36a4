// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_soak_user - the user-space half of the soak test
 *
 *	ksalloc_soak_user [--frames N] [--size BYTES] [--seconds S] [--progress S]
 *
 * Creates an allocator on /dev/ksalloc (NONPAGED, --frames frames of
 * --size bytes, 8-byte aligned), maps its pool, writes the free tag of
 * bench/ksalloc_soak.h into every frame and hands the descriptor to
 * /dev/ksalloc_soak, whose holders then run on every CPU until the ops
 * parameter of ksalloc_soak.ko is reached.  Meanwhile three threads hold
 * frames from user space on the same allocator, each tagging the frames it
 * gets through the mapping and checking the tags when it frees them:
 *
 *   poll    poll() for POLLOUT (level-triggered), then ALLOC with NOWAIT;
 *   epoll   edge-triggered epoll for EPOLLOUT, then ALLOC_BATCH until
 *           EAGAIN (or 64 frames held), then FREE_BATCH of them all;
 *   waiter  ALLOC waiting 1 to 4 ms, while the main thread sends it
 *           SIGUSR1 (an SA_RESTART handler) every 5 ms.
 *
 * A poll that times out (100 ms; epoll: 1 s after a drain) while the kernel
 * holders run, and then finds readiness still missing while GET_STATUS
 * counts free frames, is a stall: a missed wake-up (see check_stall()).
 *
 * When the kernel holders are done the threads stop and free what they
 * hold.  Then every frame must be back: GET_STATUS allocated_frames 0,
 * GET_STATS allocs == frees; KSALLOC_SOAK_IOC_CHECK drains the pool in the
 * kernel (every frame, each with the free tag) and ALLOC_BATCH drains it
 * again from here.  Prints the counts and "soak: ok" or "soak: FAIL ...".
 * Exit status: 0 ok, 1 a check failed, 2 usage or setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
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
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/ksalloc.h>
#include "../../bench/ksalloc_soak.h"

#define PROG		"ksalloc_soak_user"
/* A line of the report. */
#define soak_info(fmt, ...)	printf("soak: " fmt, ##__VA_ARGS__)
#define ALIGN_MASK	7U	/* the tags are 8-byte words */
#define MAX_HELD	64	/* most frames a thread holds */
#define BATCH		16	/* frames per ALLOC_BATCH */
#define MAX_REPORTS	10	/* mismatches printed in full */
#define POLL_MS		100
#define EPOLL_MS	1000
#define CONFIRM_MS	100
#define SIGNAL_US	5000

enum { T_POLL, T_EPOLL, T_WAITER, NR_THREADS };
static const char *const thread_names[NR_THREADS] = { "poll", "epoll", "waiter" };

struct held {
	uint32_t index;
	uint64_t seq;
};

struct worker {
	pthread_t tid;
	unsigned int nr;
	uint32_t holder;
	uint32_t rnd;
	uint64_t seq;
	struct held held[MAX_HELD];
	unsigned int nheld;
	/* read by the main thread while it runs: relaxed atomics */
	atomic_ullong allocs, frees, wakeups, timeouts, stalls;
	atomic_ullong eagain, eintr, errors, mismatches;
};

/* Settings. */
static const char *device = "/dev/ksalloc";
static const char *soak_device = "/dev/ksalloc_soak";
static unsigned int frames = 128, frame_size = 64;
static unsigned int seconds, progress = 10;

static int afd = -1, sfd = -1;
static unsigned char *pool;
static size_t pool_len;
static uint32_t stride;
static struct worker workers[NR_THREADS];
static atomic_bool stop, kernel_running;
static atomic_uint reports;

static void errmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void add(atomic_ullong *counter, unsigned long long n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static unsigned long long get(atomic_ullong *counter)
{
	return atomic_load_explicit(counter, memory_order_relaxed);
}

static uint32_t rnd(struct worker *w)
{
	uint32_t x = w->rnd;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	w->rnd = x;
	return x;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The tag at the start of a frame, read and written a field at a time with
 * relaxed atomics: the kernel's holders use the same memory, and a check
 * must read what is there now, not what the compiler remembers.
 */
static struct ksalloc_soak_tag *tag_of(uint32_t index)
{
	return (struct ksalloc_soak_tag *)(pool + (size_t)index * stride);
}

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

static void tag_write(uint32_t index, uint32_t holder, uint64_t seq)
{
	struct ksalloc_soak_tag *t = tag_of(index);

	STORE(t->holder, holder);
	STORE(t->check, holder ^ (uint32_t)seq ^ KSALLOC_SOAK_TAG_MAGIC);
	STORE(t->seq, seq);
}

static bool tag_is(uint32_t index, uint32_t holder, uint64_t seq)
{
	struct ksalloc_soak_tag *t = tag_of(index);

	return LOAD(t->holder) == holder && LOAD(t->seq) == seq &&
	       LOAD(t->check) == (holder ^ (uint32_t)seq ^ KSALLOC_SOAK_TAG_MAGIC);
}

/* Counts a tag that is not as it should be, and prints the first few. */
static void bad_tag(struct worker *w, uint32_t index, const char *what,
		    uint32_t holder, uint64_t seq)
{
	struct ksalloc_soak_tag *t;

	add(&w->mismatches, 1);
	if (atomic_fetch_add(&reports, 1) >= MAX_REPORTS)
		return;
	if (index >= frames) {
		soak_info("mismatch: %s thread: frame %u %s (%u frames)\n",
			  thread_names[w->nr], index, what, frames);
		return;
	}
	t = tag_of(index);
	soak_info("mismatch: %s thread: frame %u %s: tag holder %#x seq %llu check %#x, want holder %#x seq %llu\n",
		  thread_names[w->nr], index, what, LOAD(t->holder),
		  (unsigned long long)LOAD(t->seq), LOAD(t->check), holder,
		  (unsigned long long)seq);
}

/* Makes a frame just allocated the thread's, if it is free as it should. */
static void claim(struct worker *w, uint32_t index)
{
	struct held *h = &w->held[w->nheld++];

	add(&w->allocs, 1);
	h->index = index;
	h->seq = 0;
	if (index >= frames) {
		bad_tag(w, index, "out of range", KSALLOC_SOAK_FREE, 0);
		w->nheld--;
		return;
	}
	if (!tag_is(index, KSALLOC_SOAK_FREE, 0))
		bad_tag(w, index, "allocated while not free", KSALLOC_SOAK_FREE, 0);
	h->seq = ++w->seq;
	tag_write(index, w->holder, h->seq);
}

/* Checks a held frame's tag and writes the free tag, before its FREE. */
static void unclaim(struct worker *w, const struct held *h)
{
	if (!tag_is(h->index, w->holder, h->seq))
		bad_tag(w, h->index, "changed while held", w->holder, h->seq);
	tag_write(h->index, KSALLOC_SOAK_FREE, 0);
}

static void free_held(struct worker *w, unsigned int i)
{
	struct ksalloc_frame f = { .index = w->held[i].index };

	unclaim(w, &w->held[i]);
	w->held[i] = w->held[--w->nheld];
	if (ioctl(afd, KSALLOC_IOC_FREE, &f)) {
		add(&w->errors, 1);
		errmsg("%s thread: FREE of frame %u: %s", thread_names[w->nr],
		       f.index, strerror(errno));
		return;
	}
	add(&w->frees, 1);
}

/* ALLOC, with NOWAIT or a timeout.  Returns 0 or an errno. */
static int alloc_one(struct worker *w, uint32_t flags, int64_t timeout_ns)
{
	struct ksalloc_frame f = { .flags = flags, .timeout_ns = timeout_ns };

	if (ioctl(afd, KSALLOC_IOC_ALLOC, &f))
		return errno;
	if (f.offset != (uint64_t)f.index * stride)
		bad_tag(w, f.index, "at an unexpected offset", KSALLOC_SOAK_FREE, 0);
	claim(w, f.index);
	return 0;
}

/* The frames GET_STATUS counts free now (0 when it fails). */
static unsigned int free_frames(struct worker *w)
{
	struct ksalloc_status st;

	if (ioctl(afd, KSALLOC_IOC_GET_STATUS, &st)) {
		add(&w->errors, 1);
		return 0;
	}
	return frames - st.allocated_frames;
}

/*
 * After a poll timed out while the kernel's holders run (they free frames
 * all the time): is readiness missing while frames are free?  That is a
 * stall.  Level-triggered: GET_STATUS counts free frames and poll() without
 * a timeout says not ready, three times in a row.  Edge-triggered (@epfd,
 * after a drain saw none free, so an edge is owed): GET_STATUS counts free
 * frames before and after CONFIRM_MS more without an event.
 */
static void check_stall(struct worker *w, int epfd)
{
	struct pollfd p = { .fd = afd, .events = POLLOUT };
	struct epoll_event ev;
	unsigned int k, nfree = 0;

	if (!atomic_load(&kernel_running))
		return;
	if (epfd < 0) {
		for (k = 0; k < 3; k++) {
			nfree = free_frames(w);
			if (!nfree || poll(&p, 1, 0))
				return;
		}
	} else {
		if (!free_frames(w))
			return;
		if (epoll_wait(epfd, &ev, 1, CONFIRM_MS)) {
			add(&w->wakeups, 1);
			return;
		}
		nfree = free_frames(w);
		if (!nfree)
			return;
	}
	if (!atomic_load(&kernel_running))
		return;
	add(&w->stalls, 1);
	soak_info("stall: %s thread: no readiness for %d ms, %u of %u frames free\n",
		  thread_names[w->nr], epfd < 0 ? POLL_MS : EPOLL_MS + CONFIRM_MS,
		  nfree, frames);
}

static void *poll_thread(void *arg)
{
	struct worker *w = arg;
	struct pollfd p = { .fd = afd, .events = POLLOUT };
	int n, err;

	while (!atomic_load(&stop)) {
		n = poll(&p, 1, POLL_MS);
		if (n < 0) {
			if (errno != EINTR)
				add(&w->errors, 1);
			continue;
		}
		if (n == 0) {
			add(&w->timeouts, 1);
			check_stall(w, -1);
			continue;
		}
		if (!(p.revents & POLLOUT)) {
			add(&w->errors, 1);
			continue;
		}
		add(&w->wakeups, 1);
		if (w->nheld < MAX_HELD) {
			err = alloc_one(w, KSALLOC_ALLOC_NOWAIT, 0);
			if (err == EAGAIN)
				add(&w->eagain, 1);
			else if (err)
				add(&w->errors, 1);
		}
		while (w->nheld > rnd(w) % 4)
			free_held(w, rnd(w) % w->nheld);
	}
	while (w->nheld)
		free_held(w, 0);
	return NULL;
}

/* Takes frames with ALLOC_BATCH until none is free.  Returns true then. */
static bool drain(struct worker *w)
{
	uint32_t idx[BATCH];
	struct ksalloc_frame_batch b;
	unsigned int i;

	while (w->nheld < MAX_HELD) {
		b = (struct ksalloc_frame_batch){
			.indices = (uintptr_t)idx,
			.count = MAX_HELD - w->nheld < BATCH ? MAX_HELD - w->nheld : BATCH,
		};
		if (ioctl(afd, KSALLOC_IOC_ALLOC_BATCH, &b)) {
			if (errno == EAGAIN) {
				add(&w->eagain, 1);
				return true;
			}
			add(&w->errors, 1);
			return false;
		}
		for (i = 0; i < b.count && i < BATCH; i++)
			claim(w, idx[i]);
	}
	return false;
}

static void free_batch(struct worker *w)
{
	uint32_t idx[MAX_HELD];
	struct ksalloc_frame_batch b = { .indices = (uintptr_t)idx };
	unsigned int i;

	for (i = 0; i < w->nheld; i++) {
		unclaim(w, &w->held[i]);
		idx[i] = w->held[i].index;
	}
	b.count = w->nheld;
	w->nheld = 0;
	if (!b.count)
		return;
	if (ioctl(afd, KSALLOC_IOC_FREE_BATCH, &b) || b.count != i) {
		add(&w->errors, 1);
		errmsg("epoll thread: FREE_BATCH of %u frames freed %u: %s", i,
		       b.count, strerror(errno));
	}
	add(&w->frees, b.count);
}

static void *epoll_thread(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLET };
	bool drained = false;
	int epfd, n;

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, afd, &ev)) {
		errmsg("epoll: %s", strerror(errno));
		add(&w->errors, 1);
		return NULL;
	}
	while (!atomic_load(&stop)) {
		n = epoll_wait(epfd, &ev, 1, EPOLL_MS);
		if (n < 0) {
			if (errno != EINTR)
				add(&w->errors, 1);
			continue;
		}
		if (n == 0) {
			add(&w->timeouts, 1);
			/* An edge is owed only after a drain saw none free. */
			if (drained)
				check_stall(w, epfd);
		} else {
			add(&w->wakeups, 1);
		}
		drained = drain(w);
		free_batch(w);
	}
	close(epfd);
	return NULL;
}

static void *waiter_thread(void *arg)
{
	struct worker *w = arg;
	int err;

	while (!atomic_load(&stop)) {
		err = w->nheld < MAX_HELD ?
		      alloc_one(w, 0, (1 + rnd(w) % 4) * 1000000LL) : 0;
		if (err == ETIMEDOUT)
			add(&w->timeouts, 1);
		else if (err == EINTR)
			add(&w->eintr, 1);
		else if (err)
			add(&w->errors, 1);
		while (w->nheld > rnd(w) % 3)
			free_held(w, 0);
	}
	while (w->nheld)
		free_held(w, 0);
	return NULL;
}

static void *thread_main(void *arg)
{
	struct worker *w = arg;

	switch (w->nr) {
	case T_POLL:
		return poll_thread(w);
	case T_EPOLL:
		return epoll_thread(w);
	default:
		return waiter_thread(w);
	}
}

static void on_signal(int sig)
{
	(void)sig;
}

static void print_help(FILE *out)
{
	fprintf(out,
		"usage: " PROG " [--frames N] [--size BYTES] [--seconds S] [--progress S]\n"
		"              [--device PATH] [--soak-device PATH]\n"
		"\n"
		"The user-space half of the ksalloc soak (load ksalloc_soak.ko first).\n"
		"  --frames N      frames of the allocator (default 128)\n"
		"  --size BYTES    bytes per frame, at least 16 (default 64)\n"
		"  --seconds S     stop and fail when the kernel is not done after S\n"
		"                  seconds (default 0: no limit)\n"
		"  --progress S    a progress line every S seconds (default 10, 0: none)\n"
		"Exit status: 0 ok, 1 a check failed, 2 usage or setup error.\n");
}

static unsigned int parse_uint(const char *opt, const char *arg)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 0);
	if (errno || end == arg || *end || v > UINT32_MAX) {
		errmsg("%s wants a number, got '%s'", opt, arg);
		exit(2);
	}
	return v;
}

static void parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "frames", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "progress", required_argument, NULL, 'p' },
		{ "device", required_argument, NULL, 'd' },
		{ "soak-device", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			frames = parse_uint("--frames", optarg);
			break;
		case 's':
			frame_size = parse_uint("--size", optarg);
			break;
		case 't':
			seconds = parse_uint("--seconds", optarg);
			break;
		case 'p':
			progress = parse_uint("--progress", optarg);
			break;
		case 'd':
			device = optarg;
			break;
		case 'D':
			soak_device = optarg;
			break;
		case 'h':
			print_help(stdout);
			exit(0);
		default:
			print_help(stderr);
			exit(2);
		}
	}
	if (optind < argc || !frames || frame_size < sizeof(struct ksalloc_soak_tag)) {
		print_help(stderr);
		exit(2);
	}
}

/*
 * Frames the allocator, maps it and writes the free tag into every frame,
 * which it takes one by one with ALLOC: each once, at its offset.
 */
static int setup(void)
{
	struct ksalloc_framing fr = {
		.pool_type = KSALLOC_POOL_NONPAGED,
		.frames = frames,
		.frame_size = frame_size,
		.alignment = ALIGN_MASK,
	};
	struct ksalloc_frame f;
	long page = sysconf(_SC_PAGESIZE);
	unsigned char *seen;
	unsigned int i;
	int ret = -1;

	afd = open(device, O_RDWR | O_CLOEXEC);
	if (afd < 0) {
		errmsg("open %s: %s", device, strerror(errno));
		return -1;
	}
	if (ioctl(afd, KSALLOC_IOC_SET_FRAMING, &fr)) {
		errmsg("SET_FRAMING %u x %u bytes: %s", frames, frame_size,
		       strerror(errno));
		return -1;
	}
	stride = (frame_size + ALIGN_MASK) & ~ALIGN_MASK;
	pool_len = ((size_t)stride * frames + page - 1) & ~(size_t)(page - 1);
	pool = mmap(NULL, pool_len, PROT_READ | PROT_WRITE, MAP_SHARED, afd, 0);
	if (pool == MAP_FAILED) {
		errmsg("mmap %zu bytes: %s", pool_len, strerror(errno));
		return -1;
	}

	seen = calloc(frames, 1);
	if (!seen)
		return -1;
	for (i = 0; i < frames; i++) {
		f = (struct ksalloc_frame){ .flags = KSALLOC_ALLOC_NOWAIT };
		if (ioctl(afd, KSALLOC_IOC_ALLOC, &f)) {
			errmsg("ALLOC of frame %u of %u: %s", i + 1, frames,
			       strerror(errno));
			goto out;
		}
		if (f.index >= frames || seen[f.index] ||
		    f.offset != (uint64_t)f.index * stride) {
			errmsg("ALLOC gave frame %u at offset %llu (stride %u)",
			       f.index, (unsigned long long)f.offset, stride);
			goto out;
		}
		seen[f.index] = 1;
		tag_write(f.index, KSALLOC_SOAK_FREE, 0);
	}
	f = (struct ksalloc_frame){ .flags = KSALLOC_ALLOC_NOWAIT };
	if (!ioctl(afd, KSALLOC_IOC_ALLOC, &f) || errno != EAGAIN) {
		errmsg("ALLOC on an empty pool did not fail with EAGAIN");
		goto out;
	}
	ret = 0;
out:
	for (i = 0; i < frames; i++) {
		f = (struct ksalloc_frame){ .index = i };
		if (seen[i] && ioctl(afd, KSALLOC_IOC_FREE, &f)) {
			errmsg("FREE of frame %u: %s", i, strerror(errno));
			ret = -1;
		}
	}
	free(seen);
	return ret;
}

static int soak_stats(struct ksalloc_soak_stats *st)
{
	if (ioctl(sfd, KSALLOC_SOAK_IOC_GET_STATS, st)) {
		errmsg("GET_STATS of %s: %s", soak_device, strerror(errno));
		return -1;
	}
	return 0;
}

static unsigned long long user_allocs(void)
{
	unsigned long long n = 0;
	unsigned int i;

	for (i = 0; i < NR_THREADS; i++)
		n += get(&workers[i].allocs);
	return n;
}

/* Runs the user threads until the kernel's holders are done. */
static int run(struct ksalloc_soak_stats *st)
{
	struct ksalloc_soak_attach at = { .fd = afd };
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	double start, next_progress, next_stats = 0, t;
	unsigned int i;
	int ret = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);

	sfd = open(soak_device, O_RDWR | O_CLOEXEC);
	if (sfd < 0) {
		errmsg("open %s: %s (is ksalloc_soak.ko loaded?)", soak_device,
		       strerror(errno));
		return -1;
	}
	if (ioctl(sfd, KSALLOC_SOAK_IOC_ATTACH, &at)) {
		errmsg("ATTACH: %s", strerror(errno));
		return -1;
	}
	atomic_store(&kernel_running, true);
	start = now();
	next_progress = start + progress;

	for (i = 0; i < NR_THREADS; i++) {
		workers[i].nr = i;
		workers[i].holder = KSALLOC_SOAK_HOLDER(KSALLOC_SOAK_USER, i);
		workers[i].rnd = 0x9e3779b9U * (i + 1);
		if (pthread_create(&workers[i].tid, NULL, thread_main, &workers[i])) {
			errmsg("pthread_create failed");
			exit(2);
		}
	}

	for (;;) {
		usleep(SIGNAL_US);
		pthread_kill(workers[T_WAITER].tid, SIGUSR1);
		t = now();
		if (t < next_stats)
			continue;
		next_stats = t + 0.2;
		if (soak_stats(st)) {
			ret = -1;
			break;
		}
		if (st->state == KSALLOC_SOAK_STATE_DONE)
			break;
		if (progress && t >= next_progress) {
			next_progress += progress;
			soak_info("progress: %.0f s, kernel ops %llu of %llu, user allocs %llu, mismatches %llu\n",
				  t - start,
				  (unsigned long long)st->ops,
				  (unsigned long long)st->target, user_allocs(),
				  (unsigned long long)st->mismatches);
			fflush(stdout);
		}
		if (seconds && t - start > seconds) {
			soak_info("time limit of %u s reached: stopping\n", seconds);
			ioctl(sfd, KSALLOC_SOAK_IOC_STOP);
			soak_stats(st);
			ret = 1;
			break;
		}
	}
	atomic_store(&kernel_running, false);
	atomic_store(&stop, true);
	for (i = 0; i < NR_THREADS; i++)
		pthread_join(workers[i].tid, NULL);
	return ret;
}

static char failures[1024];

static void failed(const char *fmt, ...)
{
	size_t len = strlen(failures);
	va_list ap;

	if (len + 3 >= sizeof(failures))
		return;
	if (len)
		strcat(failures, "; ");
	len = strlen(failures);
	va_start(ap, fmt);
	vsnprintf(failures + len, sizeof(failures) - len, fmt, ap);
	va_end(ap);
}

static const char *errname(int err)
{
	switch (err) {
	case 0:
		return "0";
	case -EAGAIN:
		return "-EAGAIN";
	case -ETIMEDOUT:
		return "-ETIMEDOUT";
	case -ENODEV:
		return "-ENODEV";
	default:
		return "another error";
	}
}

/* Every frame is back: counted so, and takeable from here, each free. */
static void final_checks(void)
{
	struct ksalloc_status status;
	struct ksalloc_stats stats;
	struct ksalloc_soak_check check;
	struct ksalloc_frame_batch b;
	struct worker *w = &workers[T_EPOLL];
	uint32_t *idx;
	unsigned int i, bad = 0;

	if (ioctl(afd, KSALLOC_IOC_GET_STATUS, &status) ||
	    ioctl(afd, KSALLOC_IOC_GET_STATS, &stats)) {
		failed("GET_STATUS/GET_STATS: %s", strerror(errno));
		return;
	}
	soak_info("allocator: allocs %llu frees %llu alloc_failures %llu waits %llu wait_timeouts %llu handoffs %llu peak %llu, allocated_frames %u\n",
		  (unsigned long long)stats.allocs, (unsigned long long)stats.frees,
		  (unsigned long long)stats.alloc_failures,
		  (unsigned long long)stats.waits,
		  (unsigned long long)stats.wait_timeouts,
		  (unsigned long long)stats.handoffs,
		  (unsigned long long)stats.peak_allocated,
		  status.allocated_frames);
	if (status.allocated_frames)
		failed("%u frames still allocated", status.allocated_frames);
	if (stats.allocs != stats.frees)
		failed("allocs %llu != frees %llu", (unsigned long long)stats.allocs,
		       (unsigned long long)stats.frees);

	if (ioctl(sfd, KSALLOC_SOAK_IOC_CHECK, &check)) {
		failed("KSALLOC_SOAK_IOC_CHECK: %s", strerror(errno));
	} else {
		soak_info("kernel check: drained %u of %u frames, %u without the free tag, wait(0) %s, wait(1 jiffy) %s, then %u allocated\n",
			  check.drained, check.frames, check.bad_tags,
			  errname(check.wait_now), errname(check.wait_tick),
			  check.allocated);
		if (check.drained != check.frames)
			failed("the kernel drained %u of %u frames", check.drained,
			       check.frames);
		if (check.bad_tags)
			failed("%u drained frames without the free tag", check.bad_tags);
		if (check.wait_now != -EAGAIN || check.wait_tick != -ETIMEDOUT)
			failed("waits on the empty pool: %s, %s", errname(check.wait_now),
			       errname(check.wait_tick));
		if (check.allocated)
			failed("%u frames allocated after the kernel check", check.allocated);
	}

	/* Again from user space, all in one ALLOC_BATCH. */
	idx = calloc(frames + 1, sizeof(*idx));
	if (!idx)
		return;
	b = (struct ksalloc_frame_batch){ .indices = (uintptr_t)idx, .count = frames + 1 };
	if (ioctl(afd, KSALLOC_IOC_ALLOC_BATCH, &b)) {
		failed("ALLOC_BATCH of every frame: %s", strerror(errno));
		b.count = 0;
	}
	for (i = 0; i < b.count; i++) {
		if (idx[i] >= frames || !tag_is(idx[i], KSALLOC_SOAK_FREE, 0)) {
			bad_tag(w, idx[i], "drained without the free tag",
				KSALLOC_SOAK_FREE, 0);
			bad++;
		}
	}
	soak_info("user check: ALLOC_BATCH drained %u of %u frames, %u without the free tag\n",
		  b.count, frames, bad);
	if (b.count != frames)
		failed("ALLOC_BATCH drained %u of %u frames", b.count, frames);
	if (b.count && ioctl(afd, KSALLOC_IOC_FREE_BATCH, &b))
		failed("FREE_BATCH: %s", strerror(errno));
	free(idx);

	if (ioctl(afd, KSALLOC_IOC_GET_STATUS, &status) ||
	    ioctl(afd, KSALLOC_IOC_GET_STATS, &stats))
		failed("GET_STATUS/GET_STATS: %s", strerror(errno));
	else if (status.allocated_frames || stats.allocs != stats.frees)
		failed("at the end: %u allocated, allocs %llu frees %llu",
		       status.allocated_frames, (unsigned long long)stats.allocs,
		       (unsigned long long)stats.frees);
}

static void print_kernel(const struct ksalloc_soak_stats *st)
{
	double secs = st->elapsed_ns / 1e9;

	soak_info("kernel: %llu ops (target %llu) on %u CPUs in %.1f s, %.2f M ops/s\n",
		  (unsigned long long)st->ops, (unsigned long long)st->target,
		  st->cpus, secs, secs > 0 ? st->ops / secs / 1e6 : 0.0);
	soak_info("kernel: process %llu, softirq %llu, cross-CPU %llu, waiters %llu (ops = alloc+free pairs)\n",
		  (unsigned long long)st->process, (unsigned long long)st->softirq,
		  (unsigned long long)st->cross_cpu, (unsigned long long)st->waiter);
	soak_info("kernel: waits served %llu, timed out %llu, failed %llu; hoards %llu; ENOMEM %llu; cross-CPU queue full %llu\n",
		  (unsigned long long)st->waits_served,
		  (unsigned long long)st->wait_timeouts,
		  (unsigned long long)st->wait_errors,
		  (unsigned long long)st->hoards, (unsigned long long)st->enomem,
		  (unsigned long long)st->queue_full);
}

static void print_user(void)
{
	struct worker *w;
	unsigned int i;

	for (i = 0; i < NR_THREADS; i++) {
		w = &workers[i];
		soak_info("user %s: allocs %llu frees %llu wakeups %llu timeouts %llu stalls %llu EAGAIN %llu EINTR %llu errors %llu mismatches %llu\n",
			  thread_names[i], get(&w->allocs), get(&w->frees),
			  get(&w->wakeups), get(&w->timeouts), get(&w->stalls),
			  get(&w->eagain), get(&w->eintr), get(&w->errors),
			  get(&w->mismatches));
		if (get(&w->allocs) != get(&w->frees))
			failed("user %s thread: %llu allocs, %llu frees",
			       thread_names[i], get(&w->allocs), get(&w->frees));
	}
	soak_info("user: poll wakeups %llu, epoll wakeups %llu, waiter allocs %llu (timed out %llu, EINTR %llu)\n",
		  get(&workers[T_POLL].wakeups), get(&workers[T_EPOLL].wakeups),
		  get(&workers[T_WAITER].allocs), get(&workers[T_WAITER].timeouts),
		  get(&workers[T_WAITER].eintr));
}

int main(int argc, char **argv)
{
	unsigned long long user_ops = 0, user_bad = 0, stalls = 0, errors = 0;
	struct ksalloc_soak_stats st = {};
	unsigned int i;
	int rc;

	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (setup())
		return 2;
	soak_info("%u frames of %u bytes (stride %u), %ld CPUs\n", frames,
		  frame_size, stride, sysconf(_SC_NPROCESSORS_ONLN));
	rc = run(&st);
	if (rc < 0)
		return 2;
	if (rc)
		failed("the kernel holders did not finish in %u s", seconds);

	print_kernel(&st);
	print_user();
	final_checks();
	for (i = 0; i < NR_THREADS; i++) {
		user_ops += get(&workers[i].frees);
		user_bad += get(&workers[i].mismatches);
		stalls += get(&workers[i].stalls);
		errors += get(&workers[i].errors);
	}

	if (st.ops < st.target)
		failed("%llu of %llu kernel ops", (unsigned long long)st.ops,
		       (unsigned long long)st.target);
	if (st.mismatches || user_bad)
		failed("%llu kernel and %llu user tag mismatches",
		       (unsigned long long)st.mismatches, user_bad);
	if (st.wait_errors)
		failed("%llu kernel waits or allocations failed with an unexpected error",
		       (unsigned long long)st.wait_errors);
	if (stalls)
		failed("%llu poll stalls", stalls);
	if (errors)
		failed("%llu user calls failed unexpectedly", errors);

	soak_info("total: %llu ops (kernel %llu + user %llu), tag mismatches %llu (kernel %llu, user %llu), elapsed %.1f s\n",
		  (unsigned long long)st.ops + user_ops, (unsigned long long)st.ops,
		  user_ops, (unsigned long long)st.mismatches + user_bad,
		  (unsigned long long)st.mismatches, user_bad, st.elapsed_ns / 1e9);

	close(sfd);
	munmap(pool, pool_len);
	close(afd);
	if (failures[0]) {
		soak_info("FAIL %s\n", failures);
		return 1;
	}
	soak_info("ok\n");
	return 0;
}
