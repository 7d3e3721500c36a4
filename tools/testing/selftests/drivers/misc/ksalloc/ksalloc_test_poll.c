// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_test_poll.c - selftests of /dev/ksalloc, included by
 * ksalloc_test.c.
 *
 * Readiness through poll, select and epoll (level- and edge-triggered, frees
 * on the same and on another CPU, frees into a cache), and no IPIs on an
 * empty pool.
 */
#include "ksalloc_test.h"

TEST_F(ksalloc, poll_readiness)
{
	struct pollfd pfd = {
		.fd = self->fd, .events = POLLOUT | POLLWRNORM | POLLIN };
	struct epoll_event ev = { .events = EPOLLOUT };
	int i, ep;

	ASSERT_EQ(0, frame_default(self->fd));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->fd, &ev));
	for (i = 0; i < NFRAMES; i++) {
		pfd.revents = 0;
		ASSERT_EQ(1, poll(&pfd, 1, 0));
		/* writable while a frame is free, never readable */
		ASSERT_EQ(POLLOUT | POLLWRNORM, pfd.revents);
		ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 0));
		ASSERT_EQ(EPOLLOUT, ev.events);
		ASSERT_EQ(i, alloc_frame(self->fd, 0, 0));
	}
	pfd.revents = 0;
	ASSERT_EQ(0, poll(&pfd, 1, 0));
	ASSERT_EQ(0, poll(&pfd, 1, 50));
	ASSERT_EQ(0, epoll_wait(ep, &ev, 1, 0));
	ASSERT_EQ(0, free_frame(self->fd, 2));
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	ASSERT_EQ(POLLOUT | POLLWRNORM, pfd.revents);
	ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	close(ep);
}

struct delayed_free {
	int fd;
	uint32_t index;
	int ret;
};

static void *delayed_free_fn(void *arg)
{
	struct delayed_free *d = arg;

	usleep(200000);
	d->ret = free_frame(d->fd, d->index);
	return NULL;
}

TEST_F(ksalloc, poll_wakes_on_free)
{
	struct pollfd pfd = { .fd = self->fd, .events = POLLOUT | POLLWRNORM };
	struct delayed_free d = { .index = 3, .ret = -1 };
	pthread_t t;
	uint64_t t0, dt;
	int i;

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ(i, alloc_frame(self->fd, 0, 0))
			TH_LOG("frame %d", i);
	}
	d.fd = self->fd;
	ASSERT_EQ(0, pthread_create(&t, NULL, delayed_free_fn, &d));
	t0 = now_ms();
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	dt = now_ms() - t0;
	pthread_join(t, NULL);
	ASSERT_EQ(0, d.ret);
	ASSERT_EQ(POLLOUT | POLLWRNORM, pfd.revents);
	ASSERT_GE(dt, 150U);
	ASSERT_LT(dt, 9000U);
}

/* The @n-th CPU (from 0) this process may run on, or -1. */
static int allowed_cpu(int n)
{
	cpu_set_t set;
	int cpu;

	if (sched_getaffinity(0, sizeof(set), &set))
		return -1;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, &set) && !n--)
			return cpu;
	}
	return -1;
}

/* Pins the calling thread to @cpu; 0 or -errno. */
static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -errno;
	return sched_getcpu() == cpu ? 0 : -EAGAIN;
}

/* A FREE from a thread pinned to @cpu, after @delay_ms. */
struct pinned_free {
	pthread_t thread;
	int fd;
	uint32_t index;
	int cpu;
	unsigned int delay_ms;
	int ret;
};

static void *pinned_free_fn(void *arg)
{
	struct pinned_free *d = arg;

	d->ret = pin_to(d->cpu);
	if (d->ret)
		return NULL;
	usleep(d->delay_ms * 1000);
	d->ret = free_frame(d->fd, d->index);
	return NULL;
}

static int start_pinned_free(struct pinned_free *d, int fd, uint32_t index,
			     int cpu, unsigned int delay_ms)
{
	*d = (struct pinned_free){ .fd = fd, .index = index, .cpu = cpu,
				   .delay_ms = delay_ms, .ret = -1 };
	return pthread_create(&d->thread, NULL, pinned_free_fn, d);
}

/*
 * Edge-triggered epoll on @fd, framed here: the first epoll_wait() takes
 * the edge of the fresh pool, then every frame is taken (and, with
 * @until_eagain, one more ALLOC fails) on @cpu_alloc.  A free on @cpu_free
 * is the next edge, whether the frame goes to a CPU's cache or not.
 */
static void epoll_et_case(struct __test_metadata *_metadata, int fd,
			  int cpu_alloc, int cpu_free, bool until_eagain)
{
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLET };
	struct pinned_free d;
	uint32_t idx[NFRAMES];
	uint64_t t0, dt;
	int ep, n;

	ASSERT_EQ(0, pin_to(cpu_alloc));
	ASSERT_EQ(0, frame_default(fd));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	ASSERT_EQ(EPOLLOUT, ev.events);

	ASSERT_EQ(0, take_all(fd, idx, NFRAMES));
	if (until_eagain) {
		ASSERT_EQ(-EAGAIN, alloc_frame(fd, KSALLOC_ALLOC_NOWAIT, 0))
			TH_LOG("the pool is not empty");
	}
	/* no edge since the first */
	ASSERT_EQ(0, epoll_wait(ep, &ev, 1, 0));

	ASSERT_EQ(0, start_pinned_free(&d, fd, idx[1], cpu_free, 100));
	t0 = now_ms();
	n = epoll_wait(ep, &ev, 1, 2000);
	dt = now_ms() - t0;
	pthread_join(d.thread, NULL);
	ASSERT_EQ(0, d.ret) TH_LOG("FREE on CPU %d", cpu_free);
	ASSERT_EQ(1, n) TH_LOG("no EPOLLOUT %llu ms after a free on CPU %d%s%d%s",
			       (unsigned long long)dt, cpu_free,
			       " (frames taken on CPU ", cpu_alloc,
			       until_eagain ? ", then EAGAIN)" : ")");
	ASSERT_EQ(EPOLLOUT, ev.events);
	/* and the frame is there to take */
	ASSERT_EQ((int)idx[1], alloc_frame(fd, KSALLOC_ALLOC_NOWAIT, 0));
	close(ep);
}

TEST_F(ksalloc, epoll_et_wakes_on_free_same_cpu)
{
	int cpu = allowed_cpu(0), fd2;

	ASSERT_LE(0, cpu);
	epoll_et_case(_metadata, self->fd, cpu, cpu, false);
	fd2 = open(DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	epoll_et_case(_metadata, fd2, cpu, cpu, true);
	close(fd2);
}

TEST_F(ksalloc, epoll_et_wakes_on_free_other_cpu)
{
	int cpu0 = allowed_cpu(0), cpu1 = allowed_cpu(1), fd2;

	if (cpu1 < 0)
		SKIP(return, "needs two CPUs");
	epoll_et_case(_metadata, self->fd, cpu0, cpu1, false);
	fd2 = open(DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	epoll_et_case(_metadata, fd2, cpu0, cpu1, true);
	close(fd2);
}

/*
 * Level-triggered epoll, registered all along: each round the pool runs
 * dry (no event), and one free from a thread, on this CPU or the other in
 * turn, is seen at once.
 */
TEST_F(ksalloc, epoll_lt_repeated)
{
	int cpu0 = allowed_cpu(0), cpu1 = allowed_cpu(1);
	struct epoll_event ev = { .events = EPOLLOUT };
	struct pinned_free d;
	uint32_t idx[NFRAMES];
	uint64_t t0, dt;
	int ep, round, cpu, n, i;

	ASSERT_LE(0, cpu0);
	if (cpu1 < 0)
		cpu1 = cpu0;
	ASSERT_EQ(0, pin_to(cpu0));
	ASSERT_EQ(0, frame_default(self->fd));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->fd, &ev));

	for (round = 0; round < 6; round++) {
		cpu = round & 1 ? cpu1 : cpu0;
		ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 0)) TH_LOG("round %d", round);
		ASSERT_EQ(0, take_all(self->fd, idx, NFRAMES));
		t0 = now_ms();
		ASSERT_EQ(0, epoll_wait(ep, &ev, 1, 100)) TH_LOG("round %d", round);
		ASSERT_LT(now_ms() - t0, 1000U);

		ASSERT_EQ(0, start_pinned_free(&d, self->fd, idx[round % NFRAMES],
					       cpu, 50));
		t0 = now_ms();
		n = epoll_wait(ep, &ev, 1, 2000);
		dt = now_ms() - t0;
		pthread_join(d.thread, NULL);
		ASSERT_EQ(0, d.ret);
		ASSERT_EQ(1, n) TH_LOG("round %d: no EPOLLOUT %llu ms after a free on CPU %d",
				       round, (unsigned long long)dt, cpu);
		ASSERT_EQ(EPOLLOUT, ev.events);
		/* level-triggered: still ready until someone takes it */
		ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 0));
		for (i = 0; i < NFRAMES; i++) {
			if (i != round % NFRAMES) {
				ASSERT_EQ(0, free_frame(self->fd, idx[i]))
					TH_LOG("frame %u", idx[i]);
			}
		}
	}
	ASSERT_EQ(0, outstanding(self->fd));
	close(ep);
}

/* poll() or select() for a frame, in a thread pinned to @cpu. */
struct poller {
	pthread_t thread;
	int fd;
	int cpu;
	bool use_select;
	int ret;
	short revents;
	uint64_t ms;
	int started;
	int done;
};

static void *poller_fn(void *arg)
{
	struct poller *p = arg;
	struct pollfd pfd = { .fd = p->fd, .events = POLLOUT | POLLWRNORM };
	struct timeval tv = { .tv_sec = 5 };
	uint64_t t0;
	fd_set wfds;

	p->ret = pin_to(p->cpu);
	if (p->ret)
		goto out;
	t0 = now_ms();
	__atomic_store_n(&p->started, 1, __ATOMIC_RELEASE);
	if (p->use_select) {
		FD_ZERO(&wfds);
		FD_SET(p->fd, &wfds);
		p->ret = select(p->fd + 1, NULL, &wfds, NULL, &tv);
		p->revents = FD_ISSET(p->fd, &wfds) ? POLLOUT | POLLWRNORM : 0;
	} else {
		p->ret = poll(&pfd, 1, 5000);
		p->revents = pfd.revents;
	}
	p->ms = now_ms() - t0;
out:
	__atomic_store_n(&p->started, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * A thread blocks in poll() (or select()) on an empty pool; another frees
 * a frame on the poller's CPU or on the other one.  The poller wakes.
 */
TEST_F(ksalloc, poll_wakes_on_cache_free)
{
	int cpu0 = allowed_cpu(0), cpu1 = allowed_cpu(1);
	const struct {
		int poll_cpu, free_cpu;
		bool use_select;
	} rounds[] = {
		{ 0, 0, false }, { 0, 1, false }, { 1, 0, false }, { 0, 1, true },
	};
	uint32_t idx[NFRAMES];
	struct poller p;
	int cpus[2], r;

	ASSERT_LE(0, cpu0);
	cpus[0] = cpu0;
	cpus[1] = cpu1 < 0 ? cpu0 : cpu1;
	ASSERT_EQ(0, pin_to(cpu0));
	ASSERT_EQ(0, frame_default(self->fd));
	ASSERT_EQ(0, take_all(self->fd, idx, NFRAMES));

	for (r = 0; r < (int)ARRAY_SIZE(rounds); r++) {
		p = (struct poller){ .fd = self->fd,
				     .cpu = cpus[rounds[r].poll_cpu],
				     .use_select = rounds[r].use_select };
		ASSERT_EQ(0, pthread_create(&p.thread, NULL, poller_fn, &p));
		ASSERT_EQ(0, wait_flag(&p.started));
		usleep(100000);
		ASSERT_FALSE(__atomic_load_n(&p.done, __ATOMIC_ACQUIRE))
			TH_LOG("round %d: poll did not block", r);
		ASSERT_EQ(0, pin_to(cpus[rounds[r].free_cpu]));
		ASSERT_EQ(0, free_frame(self->fd, idx[r % NFRAMES]));
		ASSERT_EQ(0, wait_flag(&p.done)) TH_LOG("round %d: poll still blocked", r);
		pthread_join(p.thread, NULL);
		ASSERT_EQ(1, p.ret) TH_LOG("round %d", r);
		ASSERT_EQ(POLLOUT | POLLWRNORM, p.revents);
		ASSERT_GE(p.ms, 50U);
		/* empty again, from the first CPU */
		ASSERT_EQ(0, pin_to(cpu0));
		ASSERT_EQ((int)idx[r % NFRAMES],
			  alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0));
	}
}

/* The function-call interrupts CPU @cpu has taken, or -1. */
static long long call_interrupts(int cpu)
{
	char line[4096], *p, *end;
	long long n = -1;
	int col = -1, i;
	FILE *f;

	f = fopen("/proc/interrupts", "re");
	if (!f)
		return -1;
	/* the header names the columns: CPU0 CPU1 ... */
	if (fgets(line, sizeof(line), f)) {
		for (i = 0, p = strtok(line, " \t\n"); p; p = strtok(NULL, " \t\n"), i++) {
			if (!strncmp(p, "CPU", 3) && atoi(p + 3) == cpu)
				col = i;
		}
	}
	while (col >= 0 && fgets(line, sizeof(line), f)) {
		p = line + strspn(line, " ");
		if (strncmp(p, "CAL:", 4))
			continue;
		p += 4;
		for (i = 0; i <= col; i++) {
			n = strtoll(p, &end, 10);
			if (end == p) {
				n = -1;
				break;
			}
			p = end;
		}
		break;
	}
	fclose(f);
	return n;
}

/*
 * A process that polls and tries to allocate on an empty pool, over and
 * over, on one CPU: the other CPU, whose cache holds nothing, gets no
 * function-call IPI for it (SPEC 7.9).
 */
TEST_F(ksalloc, no_ipi_when_empty)
{
	int cpu0 = allowed_cpu(0), cpu1 = allowed_cpu(1);
	struct pollfd pfd = { .fd = self->fd, .events = POLLOUT };
	const int loops = 20000;
	uint32_t idx[NFRAMES];
	long long before, after;
	int i;

	if (cpu1 < 0)
		SKIP(return, "needs two CPUs");
	before = call_interrupts(cpu1);
	if (before < 0)
		SKIP(return, "no CAL row for CPU %d in /proc/interrupts", cpu1);
	ASSERT_EQ(0, pin_to(cpu0));
	ASSERT_EQ(0, frame_default(self->fd));
	ASSERT_EQ(0, take_all(self->fd, idx, NFRAMES));

	before = call_interrupts(cpu1);
	for (i = 0; i < loops; i++) {
		ASSERT_EQ(0, poll(&pfd, 1, 0));
		ASSERT_EQ(-EAGAIN, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0));
	}
	after = call_interrupts(cpu1);
	TH_LOG("CPU %d: %lld function-call interrupts in %d rounds", cpu1,
	       after - before, loops);
	ASSERT_LT(after - before, 50);
}
