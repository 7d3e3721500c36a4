// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_observe - what debugfs and the tracepoints say about ksalloc
 *
 * The allocator id (KSALLOC_IOC_GET_ID, the "ksalloc_id:" line of
 * /proc/PID/fdinfo), the files of /sys/kernel/debug/ksalloc/ checked
 * against GET_STATUS and GET_STATS after a known sequence of ioctls, a
 * waiter and a poller as debugfs shows them, the budget, an owner's
 * self-chosen name escaped, status adding up while frames move, and the
 * events of the "ksalloc" trace system through tracefs.  Needs ksalloc.ko
 * loaded and root; mounts debugfs and tracefs where they are not mounted.
 * With KSALLOC_TRACEPOINTS=n in the environment (a module built so), the
 * tracepoint tests skip.  Run it in a VM (scripts/vm.sh), never on a
 * machine whose tracing it would disturb.
 *
 * One event is not checked here: ksalloc_wait_end with result=closed.  It
 * needs the handle closed under a waiter, but the close is the last
 * release of the allocator's file, and a waiter in user space is in an
 * ioctl of that file, which keeps it from being released.  Only a waiter
 * in the kernel (ksalloc_alloc_frame_wait()) can see it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/ksalloc.h>

#include "kselftest_harness.h"

#define DEV		"/dev/ksalloc"
#define PARAMS		"/sys/module/ksalloc/parameters/"
#define DEBUGFS		"/sys/kernel/debug"
#define DBG		DEBUGFS "/ksalloc/"
#define TRACEFS		"/sys/kernel/tracing"
#define TRACING		TRACEFS "/"

/* ioctl() as -errno, or 0. */
static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

/* A new descriptor with a framing of @frames frames of @size bytes. */
static int open_framed(uint32_t frames, uint32_t size, uint32_t align)
{
	struct ksalloc_framing f = {
		.frames = frames, .frame_size = size, .alignment = align,
	};
	int fd = open(DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (xioctl(fd, KSALLOC_IOC_SET_FRAMING, &f)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

static uint64_t get_id(int fd)
{
	uint64_t id = 0;

	return xioctl(fd, KSALLOC_IOC_GET_ID, &id) ? 0 : id;
}

/* ALLOC without waiting: the frame's index, or -errno. */
static int64_t alloc_nowait(int fd)
{
	struct ksalloc_frame fr = { .flags = KSALLOC_ALLOC_NOWAIT };
	int ret = xioctl(fd, KSALLOC_IOC_ALLOC, &fr);

	return ret ? (int64_t)ret : (int64_t)fr.index;
}

static int free_frame(int fd, uint32_t index)
{
	struct ksalloc_frame fr = { .index = index };

	return xioctl(fd, KSALLOC_IOC_FREE, &fr);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Reads a whole file into a new string (at most 1 MiB), or NULL. */
static char *slurp(const char *path)
{
	size_t len = 0, cap = 1 << 20;
	char *buf = malloc(cap + 1);
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	return buf;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

/*
 * The value of the first "KEY VALUE" line of @path whose key is @key,
 * copied to @val: 0, -ENOENT when no line has that key, -errno when the
 * file cannot be read.
 */
static int kv_str(const char *path, const char *key, char *val, size_t len)
{
	char *buf = slurp(path), *line, *save = NULL;
	size_t klen = strlen(key);
	int ret = -ENOENT;

	if (!buf)
		return -errno ?: -EIO;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			snprintf(val, len, "%s", line + klen + 1);
			ret = 0;
			break;
		}
	}
	free(buf);
	return ret;
}

/* kv_str() of a number (decimal, or 0x hexadecimal); -1 when missing. */
static int64_t kv(const char *path, const char *key)
{
	char val[64], *end;
	long long v;

	if (kv_str(path, key, val, sizeof(val)))
		return -1;
	v = strtoll(val, &end, 0);
	return *end ? -1 : v;
}

/*
 * The value of @key in @buf, a file's contents, as a number; -1 when no
 * line has that key.  For two keys of one read of a file.
 */
static int64_t kv_in(const char *buf, const char *key)
{
	size_t klen = strlen(key);
	const char *p;

	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return strtoll(p + klen + 1, NULL, 0);
	return -1;
}

/*
 * Whether @path is made of exactly the lines of the @n keys @keys, each
 * once, in any order: no other line, no key twice.
 */
static bool kv_exact_keys(const char *path, const char *const *keys, size_t n)
{
	char *buf = slurp(path), *line, *save = NULL;
	unsigned int seen[16] = { 0 };
	size_t lines = 0, i;
	bool ok = buf && n <= 16;

	for (line = ok ? strtok_r(buf, "\n", &save) : NULL; line && ok;
	     line = strtok_r(NULL, "\n", &save), lines++) {
		for (i = 0; i < n; i++) {
			size_t klen = strlen(keys[i]);

			if (!strncmp(line, keys[i], klen) && line[klen] == ' ')
				break;
		}
		ok = i < n && !seen[i]++;
	}
	free(buf);
	return ok && lines == n;
}

/* The path of file @name of the debugfs directory of allocator @id. */
static const char *dbg(uint64_t id, const char *name)
{
	static char path[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(path[i], sizeof(path[i]), DBG "%" PRIu64 "/%s", id, name);
	return path[i];
}

/* The value of @key in file @name of allocator @id's directory. */
static int64_t dkv(uint64_t id, const char *name, const char *key)
{
	return kv(dbg(id, name), key);
}

/*
 * Whether every line of @path is "key value": a key of [a-z0-9_], one
 * space, a value.  Returns the number of lines, or -1.
 */
static int kv_lines(const char *path)
{
	char *buf = slurp(path), *line, *save = NULL;
	int n = 0;

	if (!buf || !*buf) {
		free(buf);
		return -1;
	}
	for (line = strtok_r(buf, "\n", &save); line && n >= 0;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t k = strspn(line, "abcdefghijklmnopqrstuvwxyz0123456789_");

		n = k && line[k] == ' ' && line[k + 1] && line[k + 1] != ' ' ?
		    n + 1 : -1;
	}
	free(buf);
	return n;
}

static bool exists(const char *path)
{
	struct stat st;

	return !stat(path, &st);
}

/* Waits up to 5 s for @path to appear (@want) or go (!@want). */
static bool wait_path(const char *path, bool want)
{
	int i;

	for (i = 0; i < 500 && exists(path) != want; i++)
		sleep_ms(10);
	return exists(path) == want;
}

/* Waits up to 5 s until file @name of @id says @key @val. */
static bool wait_kv(uint64_t id, const char *name, const char *key, int64_t val)
{
	int i;

	for (i = 0; i < 500 && dkv(id, name, key) != val; i++)
		sleep_ms(10);
	return dkv(id, name, key) == val;
}

/* Waits up to 5 s for the charged bytes to stop moving; returns them. */
static int64_t settled_bytes(void)
{
	int64_t a = kv(DBG "budget", "total_bytes"), b;
	int i;

	for (i = 0; i < 100; i++) {
		sleep_ms(50);
		b = kv(DBG "budget", "total_bytes");
		if (a == b)
			break;
		a = b;
	}
	return a;
}

/* The number a file of one line holds (a module parameter), or -1. */
static int64_t read_num(const char *path)
{
	char *buf = slurp(path);
	int64_t v = -1;

	if (buf && *buf)
		v = strtoll(buf, NULL, 0);
	free(buf);
	return v;
}

/* The number of possible CPUs, from a list like "0-3" or "0,2-3". */
static long possible_cpus(void)
{
	char *buf = slurp("/sys/devices/system/cpu/possible"), *q, *save = NULL;
	long n = 0;
	int lo, hi;

	if (!buf)
		return -1;
	for (q = strtok_r(buf, ",\n", &save); q; q = strtok_r(NULL, ",\n", &save))
		n += sscanf(q, "%d-%d", &lo, &hi) == 2 ? hi - lo + 1 : 1;
	free(buf);
	return n;
}

/* The id on the "ksalloc_id:" line of /proc/self/fdinfo/@fd, or 0. */
static uint64_t fdinfo_id(int fd)
{
	char path[64], *buf, *p;
	uint64_t id = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	buf = slurp(path);
	p = buf ? strstr(buf, "\nksalloc_id:\t") : NULL;
	if (p)
		id = strtoull(p + strlen("\nksalloc_id:\t"), NULL, 10);
	free(buf);
	return id;
}

/* Mounts debugfs and tracefs where they are not mounted yet. */
static void mount_fs(void)
{
	if (!exists(DBG))
		mount("debugfs", DEBUGFS, "debugfs", 0, NULL);
	if (!exists(TRACING "events"))
		mount("tracefs", TRACEFS, "tracefs", 0, NULL);
}

/*
 * The first @n CPUs this task may run on, in @cpus; returns how many
 * there are, up to @n.
 */
static int allowed_cpus(int *cpus, int n)
{
	cpu_set_t set;
	int cpu, k = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 0;
	for (cpu = 0; cpu < CPU_SETSIZE && k < n; cpu++)
		if (CPU_ISSET(cpu, &set))
			cpus[k++] = cpu;
	return k;
}

/* Binds the calling thread to @cpu; 0 or -errno. */
static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* A thread that sleeps in ALLOC or poll(), and what it got. */
struct sleeper {
	pthread_t thread;
	int fd;
	int64_t timeout_ns;
	volatile pid_t tid;
	int ret;
	uint32_t index;
	short revents;
};

static void *alloc_fn(void *arg)
{
	struct sleeper *s = arg;
	struct ksalloc_frame fr = { .timeout_ns = s->timeout_ns };

	s->tid = syscall(SYS_gettid);
	s->ret = xioctl(s->fd, KSALLOC_IOC_ALLOC, &fr);
	s->index = fr.index;
	return NULL;
}

static void *poll_fn(void *arg)
{
	struct sleeper *s = arg;
	struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };

	s->tid = syscall(SYS_gettid);
	s->ret = poll(&pfd, 1, 5000);
	s->revents = pfd.revents;
	return NULL;
}

static int start(struct sleeper *s, int fd, int64_t timeout_ns,
		 void *(*fn)(void *))
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->timeout_ns = timeout_ns;
	s->ret = -EINPROGRESS;
	return pthread_create(&s->thread, NULL, fn, s);
}

FIXTURE(observe) {
	int fd;
	uint64_t id;
};

/* An allocator of 64 frames of 256 bytes, with debugfs and tracefs. */
FIXTURE_SETUP(observe)
{
	mount_fs();
	ASSERT_TRUE(exists(DBG "budget")) TH_LOG("no " DBG "budget");
	self->fd = open_framed(64, 256, 0);
	ASSERT_LE(0, self->fd);
	self->id = get_id(self->fd);
	ASSERT_NE(0, self->id);
}

FIXTURE_TEARDOWN(observe)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* GET_ID: a report (any descriptor), nonzero, one per allocator. */
TEST(get_id_report)
{
	char path[64];
	uint64_t a_id, b_id, c_id, x = 1;
	int ro, a, b, c, d, re;

	mount_fs();
	ro = open(DEV, O_RDONLY | O_CLOEXEC);
	a = open(DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, ro);
	ASSERT_LE(0, a);
	/* Unframed: -EBADFD, on a read-only descriptor too (not -EBADF). */
	EXPECT_EQ(-EBADFD, xioctl(ro, KSALLOC_IOC_GET_ID, &x));
	EXPECT_EQ(-EBADFD, xioctl(a, KSALLOC_IOC_GET_ID, &x));
	EXPECT_EQ(1, x);
	EXPECT_EQ(0, fdinfo_id(a));
	close(a);

	a = open_framed(4, 1000, 63);
	b = open_framed(4, 1000, 63);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	a_id = get_id(a);
	b_id = get_id(b);
	EXPECT_NE(0, a_id);
	EXPECT_NE(0, b_id);
	EXPECT_NE(a_id, b_id);
	EXPECT_EQ(a_id, fdinfo_id(a));
	EXPECT_EQ(b_id, fdinfo_id(b));
	EXPECT_TRUE(exists(dbg(a_id, "status")));

	/* A dup is the same handle, by ioctl and by fdinfo. */
	d = dup(a);
	ASSERT_LE(0, d);
	EXPECT_EQ(a_id, get_id(d));
	EXPECT_EQ(a_id, fdinfo_id(d));
	/* A reopen through /proc, read-only, is a new, unframed handle. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", a);
	re = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, re);
	EXPECT_EQ(-EBADFD, xioctl(re, KSALLOC_IOC_GET_ID, &x));
	EXPECT_EQ(0, fdinfo_id(re));

	/* Never reused while the module is loaded. */
	close(a);
	close(d);
	c = open_framed(4, 1000, 63);
	ASSERT_LE(0, c);
	c_id = get_id(c);
	EXPECT_NE(a_id, c_id);
	EXPECT_NE(b_id, c_id);
	close(c);
	close(b);
	close(re);
	close(ro);
}

/* Every file of the contract exists and is made of "key value" lines. */
TEST_F(observe, debugfs_files)
{
	static const char *const budget[] = {
		"allocators", "total_bytes", "max_total_bytes", "left_bytes",
		"max_pool_bytes", "max_frames", "max_frame_size",
	};
	static const struct {
		const char *file;
		const char *keys[9];
	} files[] = {
		{ "framing", { "flags", "pool_type", "frames", "frame_size",
			       "alignment", "stride", "bytes" } },
		{ "status", { "state", "allocated_frames", "free_frames",
			      "dispatch", "owner_pid", "owner_comm" } },
		{ "stats", { "allocs", "frees", "alloc_failures", "waits",
			     "wait_timeouts", "handoffs", "peak_allocated",
			     "waiters" } },
		{ "caches", { "cpu0" } },
		{ "waiters", { "waiters" } },
		{ "pollers", { "pollers", "armed" } },
		{ "holders", { "user", "kernel" } },
	};
	char val[64];
	size_t i, k;

	EXPECT_EQ(ARRAY_SIZE(budget), kv_lines(DBG "budget"));
	for (i = 0; i < ARRAY_SIZE(budget); i++)
		EXPECT_LE(0, kv(DBG "budget", budget[i])) TH_LOG("budget key %zu", i);
	for (i = 0; i < ARRAY_SIZE(files); i++) {
		const char *path = dbg(self->id, files[i].file);

		EXPECT_LT(0, kv_lines(path)) TH_LOG("%s", path);
		for (k = 0; k < ARRAY_SIZE(files[i].keys) && files[i].keys[k]; k++)
			EXPECT_EQ(0, kv_str(path, files[i].keys[k], val, sizeof(val)))
				TH_LOG("%s: %s", path, files[i].keys[k]);
	}
	/* One line per possible CPU. */
	EXPECT_EQ(possible_cpus(), kv_lines(dbg(self->id, "caches")));
	EXPECT_EQ(1, kv_lines(dbg(self->id, "waiters")));
	EXPECT_EQ(0, dkv(self->id, "waiters", "waiters"));
}

/* After ALLOC x3, FREE, ALLOC_BATCH 5: seven frames in user space. */
TEST_F(observe, debugfs_agrees_with_ioctls)
{
	struct ksalloc_frame_batch batch;
	struct ksalloc_functiontable_info ft;
	struct ksalloc_status st;
	struct ksalloc_stats ks;
	char comm[32], val[64], *nl, *p;
	int64_t sum = 0, n, i, got[3];
	uint32_t idx[5];

	for (i = 0; i < 3; i++) {
		got[i] = alloc_nowait(self->fd);
		ASSERT_LE(0, got[i]);
	}
	ASSERT_EQ(0, free_frame(self->fd, got[1]));
	batch = (struct ksalloc_frame_batch){ .indices = (uintptr_t)idx, .count = 5 };
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_ALLOC_BATCH, &batch));
	ASSERT_EQ(5, batch.count);
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_GET_STATUS, &st));
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_GET_STATS, &ks));
	ASSERT_EQ(7, st.allocated_frames);

	EXPECT_EQ(64, dkv(self->id, "framing", "frames"));
	EXPECT_EQ(256, dkv(self->id, "framing", "frame_size"));
	EXPECT_EQ(256, dkv(self->id, "framing", "stride"));
	EXPECT_EQ(0, dkv(self->id, "framing", "flags"));
	EXPECT_LT(64 * 256, dkv(self->id, "framing", "bytes"));

	EXPECT_EQ(0, kv_str(dbg(self->id, "status"), "state", val, sizeof(val)));
	EXPECT_STREQ("open", val);
	EXPECT_EQ(st.allocated_frames, dkv(self->id, "status", "allocated_frames"));
	n = dkv(self->id, "status", "free_frames");
	EXPECT_EQ(64 - st.allocated_frames, n);
	EXPECT_EQ(0, dkv(self->id, "status", "dispatch"));
	EXPECT_EQ(getpid(), dkv(self->id, "status", "owner_pid"));
	p = slurp("/proc/self/comm");
	ASSERT_NE(NULL, p);
	snprintf(comm, sizeof(comm), "%s", p);
	free(p);
	nl = strchr(comm, '\n');
	if (nl)
		*nl = '\0';
	EXPECT_EQ(0, kv_str(dbg(self->id, "status"), "owner_comm", val, sizeof(val)));
	EXPECT_STREQ(comm, val);

	/* The caches hold some of the free frames; the shared stack the rest. */
	for (i = 0; i < 4096; i++) {
		char key[16];
		int64_t c;

		snprintf(key, sizeof(key), "cpu%" PRId64, i);
		c = dkv(self->id, "caches", key);
		if (c < 0)
			continue;
		EXPECT_GE(32, c);
		sum += c;
	}
	EXPECT_LT(0, sum) TH_LOG("the first ALLOC refills this CPU's cache");
	EXPECT_GE(n, sum);

	EXPECT_EQ(7, dkv(self->id, "holders", "user"));
	EXPECT_EQ(0, dkv(self->id, "holders", "kernel"));

	EXPECT_EQ(ks.allocs, dkv(self->id, "stats", "allocs"));
	EXPECT_EQ(ks.frees, dkv(self->id, "stats", "frees"));
	EXPECT_EQ(ks.alloc_failures, dkv(self->id, "stats", "alloc_failures"));
	EXPECT_EQ(ks.waits, dkv(self->id, "stats", "waits"));
	EXPECT_EQ(ks.wait_timeouts, dkv(self->id, "stats", "wait_timeouts"));
	EXPECT_EQ(ks.handoffs, dkv(self->id, "stats", "handoffs"));
	EXPECT_EQ(ks.peak_allocated, dkv(self->id, "stats", "peak_allocated"));
	EXPECT_EQ(ks.waiters, dkv(self->id, "stats", "waiters"));
	EXPECT_EQ(8, ks.allocs);
	EXPECT_EQ(1, ks.frees);

	/* The function table switches dispatch on. */
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_GET_FUNCTIONTABLE, &ft));
	EXPECT_EQ(1, dkv(self->id, "status", "dispatch"));
}

/* A task blocked in ALLOC shows in waiters, a poll() in pollers. */
TEST(debugfs_waiters_pollers)
{
	struct sleeper s;
	char val[64];
	int64_t held, ms = -1;
	uint64_t id;
	pid_t tid;
	int fd, n;

	mount_fs();
	fd = open_framed(1, 64, 0);
	ASSERT_LE(0, fd);
	id = get_id(fd);
	held = alloc_nowait(fd);
	ASSERT_EQ(0, held);

	ASSERT_EQ(0, start(&s, fd, 5000000000LL, alloc_fn));
	EXPECT_TRUE(wait_kv(id, "waiters", "waiters", 1));
	sleep_ms(20);
	EXPECT_EQ(0, kv_str(dbg(id, "waiters"), "waiter", val, sizeof(val)));
	n = sscanf(val, "%d %" SCNd64, &tid, &ms);
	EXPECT_EQ(2, n) TH_LOG("waiter %s", val);
	EXPECT_EQ(s.tid, tid);
	EXPECT_LE(0, ms);
	EXPECT_EQ(1, dkv(id, "stats", "waiters"));
	ASSERT_EQ(0, free_frame(fd, held));
	pthread_join(s.thread, NULL);
	EXPECT_EQ(0, s.ret);
	EXPECT_EQ(0, dkv(id, "waiters", "waiters"));
	EXPECT_EQ(1, dkv(id, "stats", "handoffs"));

	/* The frame is the waiter's now: none is free, a poller waits. */
	EXPECT_EQ(0, dkv(id, "pollers", "pollers"));
	ASSERT_EQ(0, start(&s, fd, 0, poll_fn));
	EXPECT_TRUE(wait_kv(id, "pollers", "pollers", 1));
	EXPECT_EQ(1, dkv(id, "pollers", "armed"));
	ASSERT_EQ(0, free_frame(fd, 0));
	pthread_join(s.thread, NULL);
	EXPECT_EQ(1, s.ret);
	EXPECT_TRUE(s.revents & POLLOUT);
	EXPECT_EQ(0, dkv(id, "pollers", "armed"));
	EXPECT_TRUE(wait_kv(id, "pollers", "pollers", 0));
	close(fd);
}

/* The budget grows by a framing's bytes, and is given back at close. */
TEST(debugfs_budget)
{
	int64_t before, after, bytes, allocators, max_total;
	char path[128];
	uint64_t id;
	int fd, try;

	mount_fs();
	max_total = read_num(PARAMS "max_total_bytes");
	ASSERT_LT(0, max_total);
	EXPECT_EQ(max_total, kv(DBG "budget", "max_total_bytes"));
	EXPECT_EQ(read_num(PARAMS "max_pool_bytes"), kv(DBG "budget", "max_pool_bytes"));
	EXPECT_EQ(read_num(PARAMS "max_frames"), kv(DBG "budget", "max_frames"));
	EXPECT_EQ(read_num(PARAMS "max_frame_size"), kv(DBG "budget", "max_frame_size"));
	for (try = 0; try < 3; try++) {
		before = settled_bytes();
		allocators = kv(DBG "budget", "allocators");
		fd = open_framed(100, 3000, 0);
		ASSERT_LE(0, fd);
		id = get_id(fd);
		bytes = dkv(id, "framing", "bytes");
		after = kv(DBG "budget", "total_bytes");
		if (after - before == bytes)
			break;
		close(fd);
	}
	EXPECT_EQ(before + bytes, after);
	EXPECT_LE(100 * 3000, bytes);
	EXPECT_EQ(allocators + 1, kv(DBG "budget", "allocators"));
	EXPECT_EQ(max_total - after, kv(DBG "budget", "left_bytes"));

	snprintf(path, sizeof(path), DBG "%" PRIu64, id);
	EXPECT_TRUE(exists(path));
	close(fd);
	/* The release runs from a work item: the directory goes soon. */
	EXPECT_TRUE(wait_path(path, false));
	EXPECT_EQ(before, settled_bytes());
	EXPECT_EQ(allocators, kv(DBG "budget", "allocators"));
}

/* The name a task gives itself to forge lines, and how status shows it. */
#define FORGED_COMM	"a\nallocs 9\t\\\x01"
#define ESCAPED_COMM	"a\\nallocs 9\\t\\\\\\001"

/* Frames an allocator from a thread named FORGED_COMM; its descriptor. */
static void *forged_fn(void *arg)
{
	int *fd = arg;

	*fd = prctl(PR_SET_NAME, FORGED_COMM) ? -errno : open_framed(4, 64, 0);
	return NULL;
}

/*
 * A task picks its own name: status escapes it, so that the file still has
 * its six keys, each once, and owner_comm is the name on one line.
 */
TEST(debugfs_owner_comm_escaped)
{
	static const char *const keys[] = {
		"state", "allocated_frames", "free_frames", "dispatch",
		"owner_pid", "owner_comm",
	};
	pthread_t thread;
	char val[64];
	uint64_t id;
	int fd = -1;

	mount_fs();
	ASSERT_EQ(0, pthread_create(&thread, NULL, forged_fn, &fd));
	pthread_join(thread, NULL);
	ASSERT_LE(0, fd);
	id = get_id(fd);
	ASSERT_NE(0, id);

	EXPECT_TRUE(kv_exact_keys(dbg(id, "status"), keys, ARRAY_SIZE(keys)))
		TH_LOG("status: not exactly its keys, each once");
	EXPECT_EQ(ARRAY_SIZE(keys), kv_lines(dbg(id, "status")));
	EXPECT_EQ(0, kv_str(dbg(id, "status"), "owner_comm", val, sizeof(val)));
	EXPECT_STREQ(ESCAPED_COMM, val);
	EXPECT_EQ(0, dkv(id, "status", "allocated_frames"));
	EXPECT_EQ(getpid(), dkv(id, "status", "owner_pid"));
	close(fd);
}

/* A thread bound to one CPU that allocates and frees until told to stop. */
struct churner {
	pthread_t thread;
	int fd;
	int cpu;
	volatile bool stop;
	long pairs;
};

static void *churn_fn(void *arg)
{
	struct churner *c = arg;
	int64_t held[8];
	int i, n;

	if (pin(c->cpu))
		return NULL;
	while (!c->stop) {
		for (n = 0; n < 8 && (held[n] = alloc_nowait(c->fd)) >= 0; n++)
			;
		for (i = 0; i < n; i++)
			free_frame(c->fd, held[i]);
		c->pairs += n;
	}
	return NULL;
}

/*
 * While frames move through the caches, every read of status adds up:
 * allocated_frames + free_frames is the framing's frames, and free_frames
 * never more.  The two come from one look at the caches.
 */
TEST(debugfs_status_adds_up)
{
	struct churner c[2];
	int cpus[2], ncpu, i, reads, bad = 0;
	int64_t out, nfree;
	uint64_t id;
	char *buf;
	int fd;

	mount_fs();
	ncpu = allowed_cpus(cpus, 2);
	ASSERT_LE(1, ncpu);
	fd = open_framed(64, 64, 0);
	ASSERT_LE(0, fd);
	id = get_id(fd);
	for (i = 0; i < 2; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].fd = fd;
		c[i].cpu = cpus[i % ncpu];
		ASSERT_EQ(0, pthread_create(&c[i].thread, NULL, churn_fn, &c[i]));
	}
	for (reads = 0; reads < 20000; reads++) {
		buf = slurp(dbg(id, "status"));
		ASSERT_NE(NULL, buf);
		out = kv_in(buf, "allocated_frames");
		nfree = kv_in(buf, "free_frames");
		free(buf);
		if (out < 0 || nfree < 0 || out + nfree != 64 || nfree > 64) {
			if (!bad++)
				TH_LOG("read %d: allocated_frames %" PRId64
				       " free_frames %" PRId64, reads, out, nfree);
		}
	}
	for (i = 0; i < 2; i++) {
		c[i].stop = true;
		pthread_join(c[i].thread, NULL);
	}
	EXPECT_EQ(0, bad);
	EXPECT_LT(0, c[0].pairs + c[1].pairs);
	EXPECT_EQ(0, dkv(id, "status", "allocated_frames"));
	EXPECT_EQ(64, dkv(id, "status", "free_frames"));
	close(fd);
}

/* Enables the ksalloc events on a cleared buffer. */
static int trace_start(void)
{
	if (write_str(TRACING "events/ksalloc/enable", "0") ||
	    write_str(TRACING "trace", "") ||
	    write_str(TRACING "events/ksalloc/enable", "1"))
		return -1;
	return write_str(TRACING "tracing_on", "1");
}

static void trace_stop(void)
{
	write_str(TRACING "events/ksalloc/enable", "0");
}

/*
 * The fields of the first @event of allocator @id in @buf (the trace
 * file), as a line of "key=value" after the event's name, or NULL.
 */
static char *trace_find(const char *buf, const char *event, uint64_t id,
			char *line, size_t len)
{
	char pat[96];
	const char *p, *end;

	snprintf(pat, sizeof(pat), " %s: id=%" PRIu64 " ", event, id);
	p = strstr(buf, pat);
	if (!p)
		return NULL;
	p += strlen(event) + 3;
	end = strchrnul(p, '\n');
	snprintf(line, len, "%.*s", (int)(end - p), p);
	return line;
}

/* The value of " @key=" in a line of trace_find(), or -1. */
static int64_t field(const char *line, const char *key)
{
	char pat[48];
	const char *p;

	if (!line)
		return -1;
	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(line, pat);
	return p ? strtoll(p + strlen(pat), NULL, 0) : -1;
}

static bool field_is(const char *line, const char *key, const char *word)
{
	char pat[64];

	snprintf(pat, sizeof(pat), " %s=%s", key, word);
	return line && strstr(line, pat);
}

FIXTURE(trace) {
	char *buf;
	char line[512];
};

/*
 * A kernel without tracing skips; so does a module built with its
 * tracepoints compiled out, when KSALLOC_TRACEPOINTS=n says so.  Else the
 * events must be there.
 */
FIXTURE_SETUP(trace)
{
	const char *tp = getenv("KSALLOC_TRACEPOINTS");

	mount_fs();
	if (!exists(TRACING "events"))
		SKIP(return, "no tracefs events: a kernel without tracing");
	if (tp && !strcmp(tp, "n"))
		SKIP(return, "KSALLOC_TRACEPOINTS=n: the events are compiled out");
	ASSERT_TRUE(exists(TRACING "events/ksalloc"))
		TH_LOG("no " TRACING "events/ksalloc");
	ASSERT_EQ(0, trace_start());
	self->buf = NULL;
}

FIXTURE_TEARDOWN(trace)
{
	trace_stop();
	free(self->buf);
}

/* create: the framing and the bytes, under the id that GET_ID reports. */
TEST_F(trace, create_close_release)
{
	char path[128];
	uint64_t id;
	int64_t bytes;
	int fd;

	fd = open_framed(8, 1000, 63);
	ASSERT_LE(0, fd);
	id = get_id(fd);
	bytes = dkv(id, "framing", "bytes");
	ASSERT_EQ(0, alloc_nowait(fd));
	close(fd);
	snprintf(path, sizeof(path), DBG "%" PRIu64, id);
	ASSERT_TRUE(wait_path(path, false));
	self->buf = slurp(TRACING "trace");
	ASSERT_NE(NULL, self->buf);

	ASSERT_NE(NULL, trace_find(self->buf, "ksalloc_create", id, self->line,
				   sizeof(self->line))) TH_LOG("no ksalloc_create id=%" PRIu64, id);
	EXPECT_EQ(8, field(self->line, "frames"));
	EXPECT_EQ(1000, field(self->line, "frame_size"));
	EXPECT_EQ(1024, field(self->line, "stride"));
	EXPECT_EQ(0, field(self->line, "pool_type"));
	EXPECT_EQ(bytes, field(self->line, "bytes"));

	/* The first ALLOC takes the slow path and fills this CPU's cache. */
	EXPECT_NE(NULL, trace_find(self->buf, "ksalloc_alloc_slow", id,
				   self->line, sizeof(self->line)));
	EXPECT_EQ(0, field(self->line, "index"));
	EXPECT_EQ(1, field(self->line, "user"));
	EXPECT_EQ(1, field(self->line, "ret"));
	EXPECT_NE(NULL, trace_find(self->buf, "ksalloc_cache_refill", id,
				   self->line, sizeof(self->line)));
	EXPECT_EQ(7, field(self->line, "frames"));

	/* The close took the frame back: none out. */
	ASSERT_NE(NULL, trace_find(self->buf, "ksalloc_close", id, self->line,
				   sizeof(self->line)));
	EXPECT_EQ(0, field(self->line, "allocated"));
	ASSERT_NE(NULL, trace_find(self->buf, "ksalloc_release", id, self->line,
				   sizeof(self->line)));
	EXPECT_EQ(bytes, field(self->line, "bytes"));
}

/* ALLOC with NOWAIT on an empty allocator: an allocation failure. */
TEST_F(trace, alloc_fail)
{
	uint64_t id;
	int fd;

	fd = open_framed(1, 64, 0);
	ASSERT_LE(0, fd);
	id = get_id(fd);
	ASSERT_EQ(0, alloc_nowait(fd));
	ASSERT_EQ(-EAGAIN, alloc_nowait(fd));
	self->buf = slurp(TRACING "trace");
	ASSERT_NE(NULL, self->buf);
	ASSERT_NE(NULL, trace_find(self->buf, "ksalloc_alloc_fail", id,
				   self->line, sizeof(self->line)));
	EXPECT_EQ(1, field(self->line, "user"));
	EXPECT_EQ(-ENOMEM, field(self->line, "ret"));
	close(fd);
}

/* A wait that times out, and one that is served by a free. */
TEST_F(trace, wait_timeout_and_handoff)
{
	struct ksalloc_frame fr = { .timeout_ns = 50000000 };
	struct sleeper s;
	uint64_t id;
	int fd;

	fd = open_framed(1, 64, 0);
	ASSERT_LE(0, fd);
	id = get_id(fd);
	ASSERT_EQ(0, alloc_nowait(fd));
	ASSERT_EQ(-ETIMEDOUT, xioctl(fd, KSALLOC_IOC_ALLOC, &fr));
	self->buf = slurp(TRACING "trace");
	ASSERT_NE(NULL, self->buf);
	ASSERT_NE(NULL, trace_find(self->buf, "ksalloc_wait_start", id,
				   self->line, sizeof(self->line)));
	EXPECT_EQ(1, field(self->line, "waiters"));
	EXPECT_LE(50000000, field(self->line, "timeout_ns"));
	ASSERT_NE(NULL, trace_find(self->buf, "ksalloc_wait_end", id,
				   self->line, sizeof(self->line)));
	EXPECT_TRUE(field_is(self->line, "result", "timeout")) TH_LOG("%s", self->line);
	EXPECT_LE(50000000, field(self->line, "waited_ns")) TH_LOG("%s", self->line);
	free(self->buf);

	/* Now a waiter that another thread's free serves. */
	ASSERT_EQ(0, trace_start());
	ASSERT_EQ(0, start(&s, fd, 5000000000LL, alloc_fn));
	ASSERT_TRUE(wait_kv(id, "waiters", "waiters", 1));
	ASSERT_EQ(0, free_frame(fd, 0));
	pthread_join(s.thread, NULL);
	ASSERT_EQ(0, s.ret);
	self->buf = slurp(TRACING "trace");
	ASSERT_NE(NULL, self->buf);
	ASSERT_NE(NULL, trace_find(self->buf, "ksalloc_free_slow", id,
				   self->line, sizeof(self->line)));
	EXPECT_EQ(0, field(self->line, "index"));
	EXPECT_EQ(1, field(self->line, "user"));
	ASSERT_NE(NULL, trace_find(self->buf, "ksalloc_handoff", id,
				   self->line, sizeof(self->line)));
	EXPECT_EQ(0, field(self->line, "index"));
	EXPECT_EQ(s.tid, field(self->line, "pid"));
	ASSERT_NE(NULL, trace_find(self->buf, "ksalloc_wait_end", id,
				   self->line, sizeof(self->line)));
	EXPECT_TRUE(field_is(self->line, "result", "served")) TH_LOG("%s", self->line);
	EXPECT_EQ(0, field(self->line, "index"));
	EXPECT_LE(0, field(self->line, "waited_ns"));
	close(fd);
}

/* SIGUSR1's handler: the signal is there to interrupt ALLOC, nothing else. */
static void on_signal(int sig)
{
}

/*
 * A signal ends a blocking ALLOC with -EINTR, with or without SA_RESTART
 * (SPEC 7.3): wait_end says "signal", with no frame.
 */
TEST_F(trace, wait_signal)
{
	static const int flags[] = { 0, SA_RESTART };
	struct sigaction sa = { .sa_handler = on_signal }, old;
	struct sleeper s;
	uint64_t id;
	size_t i;
	int fd;

	fd = open_framed(1, 64, 0);
	ASSERT_LE(0, fd);
	id = get_id(fd);
	ASSERT_EQ(0, alloc_nowait(fd));
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		sa.sa_flags = flags[i];
		ASSERT_EQ(0, sigaction(SIGUSR1, &sa, i ? NULL : &old));
		/* A clear buffer, the events left on. */
		ASSERT_EQ(0, write_str(TRACING "trace", ""));
		ASSERT_EQ(0, start(&s, fd, 5000000000LL, alloc_fn));
		ASSERT_TRUE(wait_kv(id, "waiters", "waiters", 1));
		ASSERT_EQ(0, pthread_kill(s.thread, SIGUSR1));
		pthread_join(s.thread, NULL);
		EXPECT_EQ(-EINTR, s.ret) TH_LOG("sa_flags %#x", flags[i]);
		free(self->buf);
		self->buf = slurp(TRACING "trace");
		ASSERT_NE(NULL, self->buf);
		ASSERT_NE(NULL, trace_find(self->buf, "ksalloc_wait_end", id,
					   self->line, sizeof(self->line)))
			TH_LOG("no ksalloc_wait_end id=%" PRIu64, id);
		EXPECT_TRUE(field_is(self->line, "result", "signal"))
			TH_LOG("sa_flags %#x: %s", flags[i], self->line);
		/* No frame: the kernel's KSALLOC_NO_FRAME, U32_MAX. */
		EXPECT_EQ(UINT32_MAX, field(self->line, "index"));
		EXPECT_LT(0, field(self->line, "waited_ns"));
		EXPECT_GT(5000000000LL, field(self->line, "waited_ns"));
	}
	sigaction(SIGUSR1, &old, NULL);
	EXPECT_EQ(0, dkv(id, "waiters", "waiters"));
	close(fd);
}

/*
 * A free that finds this CPU's cache full sends a batch of it to the shared
 * stack: cache_flush, on that CPU.  48 frames taken and given back one by
 * one on one CPU overflow its cache, which holds 32.
 */
TEST_F(trace, cache_flush)
{
	int64_t held[48], frames;
	int cpu, i;
	uint64_t id;
	int fd;

	ASSERT_EQ(1, allowed_cpus(&cpu, 1));
	ASSERT_EQ(0, pin(cpu));
	fd = open_framed(64, 64, 0);
	ASSERT_LE(0, fd);
	id = get_id(fd);
	for (i = 0; i < 48; i++) {
		held[i] = alloc_nowait(fd);
		ASSERT_LE(0, held[i]);
	}
	for (i = 0; i < 48; i++)
		ASSERT_EQ(0, free_frame(fd, held[i]));
	self->buf = slurp(TRACING "trace");
	ASSERT_NE(NULL, self->buf);
	ASSERT_NE(NULL, trace_find(self->buf, "ksalloc_cache_flush", id,
				   self->line, sizeof(self->line)))
		TH_LOG("no ksalloc_cache_flush id=%" PRIu64, id);
	EXPECT_EQ(cpu, field(self->line, "cpu")) TH_LOG("%s", self->line);
	frames = field(self->line, "frames");
	EXPECT_LT(0, frames) TH_LOG("%s", self->line);
	EXPECT_GE(32, frames) TH_LOG("%s", self->line);
	EXPECT_EQ(64, dkv(id, "status", "free_frames"));
	close(fd);
}

/*
 * An allocation on one CPU when every free frame sits in another CPU's
 * cache takes them from there: cache_steal names that other CPU.  Eight
 * frames: the first ALLOC on CPU A moves the other seven into A's cache,
 * and the shared stack is empty.
 */
TEST_F(trace, cache_steal)
{
	char key[2][16];
	int cpus[2], i;
	uint64_t id;
	int fd;

	if (allowed_cpus(cpus, 2) < 2)
		SKIP(return, "needs two CPUs");
	for (i = 0; i < 2; i++)
		snprintf(key[i], sizeof(key[i]), "cpu%d", cpus[i]);
	ASSERT_EQ(0, pin(cpus[0]));
	fd = open_framed(8, 64, 0);
	ASSERT_LE(0, fd);
	id = get_id(fd);
	ASSERT_EQ(0, alloc_nowait(fd));
	EXPECT_EQ(7, dkv(id, "caches", key[0]));
	EXPECT_EQ(0, dkv(id, "caches", key[1]));
	ASSERT_EQ(0, pin(cpus[1]));
	ASSERT_LE(0, alloc_nowait(fd));
	self->buf = slurp(TRACING "trace");
	ASSERT_NE(NULL, self->buf);
	ASSERT_NE(NULL, trace_find(self->buf, "ksalloc_cache_steal", id,
				   self->line, sizeof(self->line)))
		TH_LOG("no ksalloc_cache_steal id=%" PRIu64, id);
	EXPECT_EQ(cpus[0], field(self->line, "cpu")) TH_LOG("%s", self->line);
	EXPECT_EQ(7, field(self->line, "frames")) TH_LOG("%s", self->line);
	EXPECT_EQ(2, dkv(id, "status", "allocated_frames"));
	close(fd);
}

TEST_HARNESS_MAIN
