// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc-ctl bench: the ioctls through libksalloc, timed against the
 * system-call floor (two raw ioctls that the device refuses at once), the
 * batch ioctls per frame, and the hand-off from FREE to a thread asleep in
 * ALLOC against an eventfd wake-up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ctl.h"

/* An ioctl number the device does not know: it returns -ENOTTY at once. */
#define BENCH_NOP_IOCTL _IO(KSALLOC_IOC_MAGIC, 0x3f)
#define BENCH_BATCH 64

struct bench_result {
	const char *type;
	uint64_t elems;
	uint64_t ns;
};

/* Nanoseconds per element; under QEMU -icount, guest instructions. */
static double per_elem(const struct bench_result *r)
{
	return r->elems ? (double)r->ns / r->elems : 0;
}

static int bench_floor(struct ksalloc_allocator *a, uint32_t iters,
		       struct bench_result *r)
{
	int fd = ksalloc_fd(a);
	uint64_t t0;
	uint32_t i;

	t0 = now_ns();
	for (i = 0; i < iters; i++) {
		if (ioctl(fd, BENCH_NOP_IOCTL) != -1 || errno != ENOTTY ||
		    ioctl(fd, BENCH_NOP_IOCTL) != -1 || errno != ENOTTY) {
			errmsg("%s: the no-op ioctl did not fail with ENOTTY", device);
			return -1;
		}
	}
	r->ns = now_ns() - t0;
	r->elems = iters;
	return 0;
}

static int bench_pair(struct ksalloc_allocator *a, uint32_t iters,
		      struct bench_result *r)
{
	uint32_t i, index;
	uint64_t t0;
	int err;

	t0 = now_ns();
	for (i = 0; i < iters; i++) {
		err = ksalloc_alloc_nowait(a, &index);
		if (!err)
			err = ksalloc_free(a, index);
		if (err) {
			errmsg_err(err, "%s: ALLOC+FREE", device);
			return -1;
		}
	}
	r->ns = now_ns() - t0;
	r->elems = iters;
	return 0;
}

static int bench_batch(struct ksalloc_allocator *a, uint32_t iters,
		       struct bench_result *r)
{
	uint32_t idx[BENCH_BATCH], i, rounds = iters / BENCH_BATCH + 1;
	uint64_t t0;
	int n;

	t0 = now_ns();
	for (i = 0; i < rounds; i++) {
		n = ksalloc_alloc_batch(a, idx, BENCH_BATCH);
		if (n != BENCH_BATCH) {
			errmsg_err(n < 0 ? n : 0, "%s: ALLOC_BATCH of %u (got %d)",
				   device, BENCH_BATCH, n);
			return -1;
		}
		n = ksalloc_free_batch(a, idx, BENCH_BATCH, NULL);
		if (n) {
			errmsg_err(n, "%s: FREE_BATCH of %u", device, BENCH_BATCH);
			return -1;
		}
	}
	r->ns = now_ns() - t0;
	r->elems = (uint64_t)rounds * BENCH_BATCH;
	return 0;
}

/*
 * Hand-off latency: a thread sleeps in ALLOC on a pool of one frame, which
 * this thread holds; it frees the frame, and the time until the waiter runs
 * again is one sample.  The baseline is the same two threads, the waiter
 * asleep in read() of an eventfd that this thread writes.
 *
 * go says what the waiter does next: 1 sleep (set by this thread), 2 wait
 * for the next 1 (set by the waiter, only over a 1), 0 return (set by this
 * thread, never overwritten).  woken is set when the waiter ran, err when
 * it failed (a negative errno), before woken.
 */
struct handoff {
	struct ksalloc_allocator *a;
	int efd;
	bool use_eventfd;
	atomic_int go;
	atomic_int woken;
	atomic_int err;
	atomic_uint_fast64_t t1;
};

/* One wake-up of the waiter: 0, or a negative errno. */
static int handoff_sleep(struct handoff *h)
{
	uint32_t index;
	uint64_t v;
	int err;

	/* The wait is bounded, should this thread fail. */
	if (h->use_eventfd) {
		if (read(h->efd, &v, sizeof(v)) != sizeof(v))
			return errno ? -errno : -EIO;
		atomic_store(&h->t1, now_ns());
		return 0;
	}
	err = ksalloc_alloc_timed(h->a, &index, 5000000000);
	if (err)
		return err;
	atomic_store(&h->t1, now_ns());
	return ksalloc_free(h->a, index);
}

static void *handoff_waiter(void *arg)
{
	struct handoff *h = arg;
	int err, sleep_now;

	for (;;) {
		/* Yield: on one CPU, a spin would hold it for a whole tick. */
		while (atomic_load(&h->go) == 2)
			sched_yield();
		if (!atomic_load(&h->go))
			return NULL;
		err = handoff_sleep(h);
		if (err)
			atomic_store(&h->err, err);
		/* 1 -> 2; a 0 (stop) stays. */
		sleep_now = 1;
		atomic_compare_exchange_strong(&h->go, &sleep_now, 2);
		atomic_store(&h->woken, 1);
		if (err)
			return NULL;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Takes a sample: wakes the waiter and waits until it ran.  0 or -errno. */
static int handoff_sample(struct handoff *h, uint64_t *lat)
{
	struct ksalloc_stats st;
	uint64_t t0, one = 1;
	uint32_t index = 0;
	int err;

	if (!h->use_eventfd) {
		err = ksalloc_alloc_nowait(h->a, &index);
		if (err)
			return err;
	}
	atomic_store(&h->woken, 0);
	atomic_store(&h->go, 1);
	/*
	 * Until it sleeps: queued in ALLOC, or given time to block in read();
	 * or until it failed.
	 */
	do {
		usleep(100);
		err = ksalloc_query_stats(h->a, &st);
		if (err)
			return err;
	} while (!h->use_eventfd && st.waiters != 1 && !atomic_load(&h->woken));
	t0 = now_ns();
	if (h->use_eventfd) {
		if (write(h->efd, &one, sizeof(one)) != sizeof(one))
			return errno ? -errno : -EIO;
	} else {
		err = ksalloc_free(h->a, index);
		if (err)
			return err;
	}
	while (!atomic_load(&h->woken))
		sched_yield();
	err = atomic_load(&h->err);
	if (err)
		return err;
	*lat = atomic_load(&h->t1) - t0;
	return 0;
}

/* The median of @samples hand-offs, in ns, or 0 after a message. */
static uint64_t bench_handoff(bool use_eventfd, uint32_t samples)
{
	struct framing_opts o = { .frames = 1, .size = 64 };
	struct handoff h = { .use_eventfd = use_eventfd, .efd = -1 };
	uint64_t *lat = calloc(samples, sizeof(*lat)), one = 1, med = 0;
	const char *what = use_eventfd ? "eventfd" : device;
	pthread_t t;
	uint32_t i;
	int err;

	if (!lat) {
		errmsg("out of memory");
		return 0;
	}
	h.a = open_allocator(&o, false);
	if (!h.a)
		goto out;
	h.efd = eventfd(0, EFD_CLOEXEC);
	if (h.efd < 0) {
		errmsg_errno("eventfd");
		goto out;
	}
	atomic_store(&h.go, 2);
	err = pthread_create(&t, NULL, handoff_waiter, &h);
	if (err) {
		errmsg("pthread_create: %s", strerror(err));
		goto out;
	}
	for (i = 0; i < samples; i++) {
		err = handoff_sample(&h, &lat[i]);
		if (err)
			break;
	}
	atomic_store(&h.go, 0);
	/*
	 * A waiter left asleep by a failure: wake it.  In ALLOC it times out;
	 * in read(), the write wakes it, and it sees go 0.
	 */
	if (err && use_eventfd && write(h.efd, &one, sizeof(one)) != sizeof(one))
		errmsg_errno("eventfd: wake the waiter");
	pthread_join(t, NULL);
	if (err) {
		errmsg_err(err, "%s: hand-off sample %u", what, i);
	} else {
		qsort(lat, samples, sizeof(*lat), cmp_u64);
		med = lat[samples / 2];
	}
out:
	if (h.efd >= 0)
		close(h.efd);
	ksalloc_destroy(h.a);
	free(lat);
	return med;
}

static int bench_options(int argc, char **argv, struct framing_opts *o,
			 uint32_t *iters, bool *json)
{
	enum { OPT_ITERS = OPT_OWN };
	static const struct option opts[] = {
		{ "iters", required_argument, NULL, OPT_ITERS },
		{ "frames", required_argument, NULL, OPT_FRAMES },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, ret;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		ret = common_opt("bench", c, o, json, BENCH_BATCH, 1);
		if (ret == OPT_TAKEN)
			continue;
		if (ret >= 0)
			return ret;
		if (c == OPT_ITERS && !parse_u32(optarg, iters, 10, UINT32_MAX / 2))
			return usage_error("bench: bad --iters '%s'", optarg);
	}
	if (optind < argc)
		return usage_error("bench: unexpected argument '%s'", argv[optind]);
	return -1;
}

struct bench_report {
	const struct framing_opts *o;
	uint32_t iters;
	const struct bench_result *res;	/* floor, pair, batch */
	size_t nres;
	uint64_t handoff, wakeup;	/* medians, ns */
};

static void bench_print(const struct bench_report *b, bool json)
{
	double floor_ = per_elem(&b->res[0]);
	double pair = per_elem(&b->res[1]);
	double batch = per_elem(&b->res[2]);
	size_t i;

	if (json) {
		printf("{\"frames\": %u, \"size\": %u, \"iters\": %u",
		       b->o->frames, b->o->size, b->iters);
		for (i = 0; i < b->nres; i++)
			printf(", \"%s_ns\": %.3f", b->res[i].type, per_elem(&b->res[i]));
		printf(", \"handoff_ns\": %" PRIu64 ", \"eventfd_wakeup_ns\": %" PRIu64,
		       b->handoff, b->wakeup);
		printf(", \"pair_over_floor\": %.4f", floor_ ? pair / floor_ : 0);
		printf(", \"batch_over_pair\": %.4f", pair ? batch / pair : 0);
		printf(", \"handoff_over_eventfd\": %.4f}\n",
		       (double)b->handoff / b->wakeup);
		return;
	}
	for (i = 0; i < b->nres; i++)
		printf("Type:%s Per elem: 0 cycles(tsc) %.3f ns (invoke count:%" PRIu64 ")\n",
		       b->res[i].type, per_elem(&b->res[i]), b->res[i].elems);
	printf("ALLOC+FREE / floor: %.3f\n", floor_ ? pair / floor_ : 0);
	printf("batch of %u per frame / ALLOC+FREE: %.4f\n", BENCH_BATCH,
	       pair ? batch / pair : 0);
	printf("handoff: kind=user_free_to_alloc median_ns=%" PRIu64 "\n", b->handoff);
	printf("handoff: kind=user_eventfd median_ns=%" PRIu64 "\n", b->wakeup);
	printf("FREE -> waiter back from ALLOC / eventfd wake-up: %.3f\n",
	       (double)b->handoff / b->wakeup);
}

/*
 * Times, on one allocator: two no-op ioctls (the floor), ALLOC+FREE, and
 * ALLOC_BATCH+FREE_BATCH of 64 per frame, each after a warm-up of a tenth;
 * then the hand-off, against an eventfd wake-up.  Prints one line per kind
 * in the kernel's time_bench style, the hand-off medians, then the ratios.
 */
int cmd_bench(int argc, char **argv)
{
	static int (*const run[])(struct ksalloc_allocator *, uint32_t,
				  struct bench_result *) = {
		bench_floor, bench_pair, bench_batch,
	};
	struct bench_result res[] = {
		{ .type = "user_floor_pair" },
		{ .type = "user_ioctl_pair" },
		{ .type = "user_batch64_frame" },
	};
	struct framing_opts o = { .frames = 1024, .size = 256 };
	struct bench_report b = {
		.o = &o, .iters = 100000, .res = res, .nres = ARRAY_SIZE(res),
	};
	struct ksalloc_allocator *a;
	struct bench_result warm;
	uint32_t samples = 200;
	bool json = false;
	size_t i;
	int ret;

	ret = bench_options(argc, argv, &o, &b.iters, &json);
	if (ret >= 0)
		return ret;

	a = open_allocator(&o, false);
	if (!a)
		return 1;
	for (i = 0; i < ARRAY_SIZE(run); i++) {
		if (run[i](a, b.iters / 10, &warm) || run[i](a, b.iters, &res[i])) {
			ksalloc_destroy(a);
			return 1;
		}
	}
	ksalloc_destroy(a);
	b.handoff = bench_handoff(false, samples);
	b.wakeup = bench_handoff(true, samples);
	if (!b.handoff || !b.wakeup)
		return 1;
	bench_print(&b, json);
	return 0;
}
