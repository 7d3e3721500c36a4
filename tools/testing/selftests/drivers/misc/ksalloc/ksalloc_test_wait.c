// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_test_wait.c - selftests of /dev/ksalloc, included by
 * ksalloc_test.c.
 *
 * Allocation and free, exhaustion, timeouts, FIFO waiters, and signals
 * (EINTR, SA_RESTART).
 */
#include "ksalloc_test.h"

TEST_F(ksalloc, alloc_free_all)
{
	struct ksalloc_frame fr;
	struct ksalloc_stats s;
	int i;

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 0; i < NFRAMES; i++) {
		/* index and offset are output only: garbage in is ignored */
		fr = (struct ksalloc_frame){ .index = 77, .offset = ~0ULL,
					     .timeout_ns = -1 };
		ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_ALLOC, &fr));
		ASSERT_EQ((uint32_t)i, fr.index);
		ASSERT_EQ((uint64_t)i * STRIDE, fr.offset);
		ASSERT_EQ(0U, fr.flags);
		ASSERT_EQ(-1, fr.timeout_ns);
		ASSERT_EQ(i + 1, outstanding(self->fd));
	}
	s = stats_of(self->fd);
	ASSERT_EQ(NFRAMES, s.allocs);
	ASSERT_EQ(NFRAMES, s.peak_allocated);
	ASSERT_EQ(0U, s.frees);

	/* FREE ignores offset and timeout_ns: the ALLOC result goes back as is */
	fr = (struct ksalloc_frame){ .index = 2, .offset = 12345, .timeout_ns = -7 };
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_FREE, &fr));
	ASSERT_EQ(NFRAMES - 1, outstanding(self->fd));
	/* the frame freed last is reused first */
	ASSERT_EQ(2, alloc_frame(self->fd, 0, 0));
	for (i = NFRAMES - 1; i >= 0; i--) {
		ASSERT_EQ(0, free_frame(self->fd, i))
			TH_LOG("frame %d", i);
	}
	s = stats_of(self->fd);
	ASSERT_EQ(NFRAMES + 1, s.allocs);
	ASSERT_EQ(NFRAMES + 1, s.frees);
	ASSERT_EQ(NFRAMES, s.peak_allocated);
	ASSERT_EQ(0U, s.waiters);
	ASSERT_EQ(0, outstanding(self->fd));
}

TEST_F(ksalloc, free_invalid_changes_nothing)
{
	const uint32_t bad[] = { 1, NFRAMES, NFRAMES + 1, 1000, 0x80000000,
				 0xffffffff };
	struct ksalloc_stats before, after;
	size_t i;

	ASSERT_EQ(0, frame_default(self->fd));
	ASSERT_EQ(0, alloc_frame(self->fd, 0, 0));
	before = stats_of(self->fd);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, free_frame(self->fd, bad[i]))
			TH_LOG("index %u", bad[i]);
	}
	after = stats_of(self->fd);
	ASSERT_EQ(0, memcmp(&before, &after, sizeof(before)));
	ASSERT_EQ(1, outstanding(self->fd));

	ASSERT_EQ(0, free_frame(self->fd, 0));
	/* double free */
	before = stats_of(self->fd);
	ASSERT_EQ(-EINVAL, free_frame(self->fd, 0));
	after = stats_of(self->fd);
	ASSERT_EQ(0, memcmp(&before, &after, sizeof(before)));
	ASSERT_EQ(0, outstanding(self->fd));
	/* and all frames are still there, once each */
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_LE(0, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0))
			TH_LOG("allocation %zu", i);
	}
	ASSERT_EQ(-EAGAIN, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0));
}

TEST_F(ksalloc, exhausted_eagain)
{
	struct ksalloc_stats s;
	int i, fl;

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ(i, alloc_frame(self->fd, 0, -1))
			TH_LOG("frame %d", i);
	}
	ASSERT_EQ(-EAGAIN, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, -1));
	ASSERT_EQ(-EAGAIN, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 1000000000));
	ASSERT_EQ(-EAGAIN, alloc_frame(self->fd, 0, 0));

	fl = fcntl(self->fd, F_GETFL);
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, fl | O_NONBLOCK));
	ASSERT_EQ(-EAGAIN, alloc_frame(self->fd, 0, -1));
	ASSERT_EQ(-EAGAIN, alloc_frame(self->fd, 0, 1000000000));
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, fl));

	s = stats_of(self->fd);
	ASSERT_EQ(5U, s.alloc_failures);
	ASSERT_EQ(0U, s.waits);
	ASSERT_EQ(0U, s.waiters);

	/* one back: NOWAIT and O_NONBLOCK get it */
	ASSERT_EQ(0, free_frame(self->fd, 1));
	ASSERT_EQ(1, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0));
}

TEST_F(ksalloc, alloc_timeout)
{
	const int64_t timeouts_ns[] = { 1, 1000000, 50000000 };
	struct ksalloc_stats s;
	uint64_t t0, dt;
	size_t i;

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ((int)i, alloc_frame(self->fd, 0, 0))
			TH_LOG("frame %zu", i);
	}
	for (i = 0; i < ARRAY_SIZE(timeouts_ns); i++) {
		t0 = now_ms();
		ASSERT_EQ(-ETIMEDOUT, alloc_frame(self->fd, 0, timeouts_ns[i]));
		dt = now_ms() - t0;
		/* never early */
		ASSERT_GE(dt, (uint64_t)(timeouts_ns[i] / 1000000));
		ASSERT_LT(dt, 5000U);
	}
	s = stats_of(self->fd);
	ASSERT_EQ(3U, s.waits);
	ASSERT_EQ(3U, s.wait_timeouts);
	ASSERT_EQ(0U, s.waiters);
	ASSERT_EQ(NFRAMES, outstanding(self->fd));
	/* a frame that is free is taken at once whatever the timeout */
	ASSERT_EQ(0, free_frame(self->fd, 3));
	ASSERT_EQ(3, alloc_frame(self->fd, 0, INT64_MAX));
}

struct waiter {
	pthread_t thread;
	int fd;
	int64_t timeout_ns;
	int ret;
	uint32_t index;
	int done;
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;
	struct ksalloc_frame fr = { .timeout_ns = w->timeout_ns };

	w->ret = xioctl(w->fd, KSALLOC_IOC_ALLOC, &fr);
	w->index = fr.index;
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int start_waiter(struct waiter *w, int fd, int64_t timeout_ns)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->timeout_ns = timeout_ns;
	return pthread_create(&w->thread, NULL, waiter_fn, w);
}

static bool is_done(struct waiter *w)
{
	return __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
}

TEST_F(ksalloc, fifo_waiters)
{
	const uint32_t order[3] = { 2, 0, 3 };
	struct waiter w[3];
	struct ksalloc_stats s;
	int i, j;

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ(i, alloc_frame(self->fd, 0, 0))
			TH_LOG("frame %d", i);
	}
	/* queue them one by one, so their order is known */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, start_waiter(&w[i], self->fd, -1));
		ASSERT_EQ(0, wait_waiters(self->fd, i + 1));
	}
	usleep(20000);
	for (i = 0; i < 3; i++) {
		ASSERT_FALSE(is_done(&w[i]))
			TH_LOG("waiter %d done early", i);
	}

	/* each free goes to the oldest waiter, and to nobody else */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, free_frame(self->fd, order[i]));
		ASSERT_EQ(0, wait_flag(&w[i].done));
		ASSERT_EQ(0, w[i].ret);
		ASSERT_EQ(order[i], w[i].index);
		usleep(10000);
		for (j = i + 1; j < 3; j++) {
			ASSERT_FALSE(is_done(&w[j]))
				TH_LOG("waiter %d early", j);
		}
		ASSERT_EQ(NFRAMES, outstanding(self->fd));
	}
	for (i = 0; i < 3; i++)
		pthread_join(w[i].thread, NULL);
	s = stats_of(self->fd);
	ASSERT_EQ(3U, s.waits);
	ASSERT_EQ(3U, s.handoffs);
	ASSERT_EQ(0U, s.waiters);
	ASSERT_EQ(NFRAMES + 3, s.allocs);
}

/* Lock-free atomics are safe in a signal handler, as sig_atomic_t is. */
static atomic_int signals_seen;

static void count_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&signals_seen, 1);
}

static int catch_signal(int sig, int flags)
{
	struct sigaction sa = { .sa_handler = count_signal, .sa_flags = flags };

	sigemptyset(&sa.sa_mask);
	atomic_store(&signals_seen, 0);
	return sigaction(sig, &sa, NULL);
}

TEST_F(ksalloc, signal_eintr)
{
	struct itimerval it = { .it_value = { .tv_usec = 100000 } };
	const int64_t timeouts_ns[] = { -1, 10000000000LL };
	struct ksalloc_stats s;
	size_t i;

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ((int)i, alloc_frame(self->fd, 0, 0))
			TH_LOG("frame %zu", i);
	}
	ASSERT_EQ(0, catch_signal(SIGALRM, 0));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
		ASSERT_EQ(-EINTR, alloc_frame(self->fd, 0, timeouts_ns[i]));
		ASSERT_EQ(i + 1, atomic_load(&signals_seen));
	}
	s = stats_of(self->fd);
	ASSERT_EQ(2U, s.waits);
	ASSERT_EQ(0U, s.waiters);
	ASSERT_EQ(0U, s.wait_timeouts);
	ASSERT_EQ(NFRAMES, outstanding(self->fd));
}

struct restart_helper {
	pthread_t main_thread;
	int fd;
	int ok;
};

static void *restart_helper_fn(void *arg)
{
	struct restart_helper *r = arg;

	if (wait_waiters(r->fd, 1))
		return NULL;
	pthread_kill(r->main_thread, SIGUSR1);
	/* the handler ran, and the ALLOC was asked again */
	while (!atomic_load(&signals_seen))
		usleep(1000);
	if (wait_waiters(r->fd, 1))
		return NULL;
	r->ok = !free_frame(r->fd, 1);
	return NULL;
}

/*
 * SA_RESTART does not restart an ALLOC wait (SPEC 7.3): the call ends with
 * -EINTR, as epoll_wait() does, and the caller asks again.
 */
TEST_F(ksalloc, signal_restart)
{
	struct restart_helper r = { .main_thread = pthread_self() };
	pthread_t helper;
	struct ksalloc_stats s;
	int i;

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ(i, alloc_frame(self->fd, 0, 0))
			TH_LOG("frame %d", i);
	}
	ASSERT_EQ(0, catch_signal(SIGUSR1, SA_RESTART));
	r.fd = self->fd;
	ASSERT_EQ(0, pthread_create(&helper, NULL, restart_helper_fn, &r));
	/* interrupted, not restarted by the kernel */
	ASSERT_EQ(-EINTR, alloc_frame(self->fd, 0, -1));
	ASSERT_EQ(1, atomic_load(&signals_seen));
	/* asked again, then served */
	ASSERT_EQ(1, alloc_frame(self->fd, 0, -1));
	pthread_join(helper, NULL);
	ASSERT_EQ(1, r.ok);
	ASSERT_EQ(1, atomic_load(&signals_seen));
	s = stats_of(self->fd);
	ASSERT_EQ(2U, s.waits);
	ASSERT_EQ(1U, s.handoffs);
	ASSERT_EQ(0U, s.waiters);
}

static atomic_int alarms_seen;

/* Counts SIGALRMs, and stops the timer after 150 of them. */
static void count_alarm(int sig)
{
	static const struct itimerval off;

	(void)sig;
	if (atomic_fetch_add(&alarms_seen, 1) + 1 >= 150)
		setitimer(ITIMER_REAL, &off, NULL);
}

/*
 * SA_RESTART does not restart an ALLOC wait (SPEC 7.3): under a 10 ms
 * interval timer, a 200 ms ALLOC ends at the first signal with -EINTR.
 * Restarted instead, it would start its 200 ms again at every signal and
 * never expire; the handler stops the timer after 1.5 s so that such a
 * kernel ends the test too.
 */
TEST_F(ksalloc, alloc_timeout_sa_restart)
{
	const struct itimerval it = { .it_interval = { .tv_usec = 10000 },
				      .it_value = { .tv_usec = 10000 } };
	const struct itimerval off = {};
	struct sigaction sa = { .sa_handler = count_alarm,
				.sa_flags = SA_RESTART };
	struct ksalloc_stats s;
	uint32_t idx[NFRAMES];
	uint64_t t0, dt;
	int ret;

	ASSERT_EQ(0, frame_default(self->fd));
	ASSERT_EQ(0, take_all(self->fd, idx, NFRAMES));
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	atomic_store(&alarms_seen, 0);

	t0 = now_ms();
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	ret = alloc_frame(self->fd, 0, 200000000);
	dt = now_ms() - t0;
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &off, NULL));
	ASSERT_EQ(-EINTR, ret) TH_LOG("after %llu ms and %d signals",
				      (unsigned long long)dt, atomic_load(&alarms_seen));
	ASSERT_LT(dt, 1000U);
	ASSERT_LE(1, atomic_load(&alarms_seen));
	s = stats_of(self->fd);
	ASSERT_EQ(0U, s.waiters);
	ASSERT_EQ(0U, s.wait_timeouts);
	ASSERT_EQ(NFRAMES, outstanding(self->fd));
}
