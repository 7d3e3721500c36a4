/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksalloc_test.h - what the selftests of /dev/ksalloc share: the headers,
 * the defaults, the helpers and the fixture.  ksalloc_test.c includes it
 * and then every ksalloc_test_*.c (see there why they are one translation
 * unit); each of those includes it too, for its readers and editors.
 */
#ifndef KSALLOC_TEST_H
#define KSALLOC_TEST_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
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
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/dma-buf.h>
#include <linux/ksalloc.h>

#include "ksalloc_producer.h"
#include "kselftest_harness.h"

#define DEV		"/dev/ksalloc"
#define PARAMS		"/sys/module/ksalloc/parameters/"
#define KPTR_RESTRICT	"/proc/sys/kernel/kptr_restrict"

/* The default framing of most tests: 4 frames of 1000 bytes, stride 1024. */
#define NFRAMES		4
#define FSIZE		1000
#define FALIGN		63
#define STRIDE		1024

#define PAGE		((size_t)sysconf(_SC_PAGESIZE))

/* ioctl() as -errno, or 0. */
static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static int set_framing(int fd, uint32_t pool, uint32_t frames, uint32_t size,
		       uint32_t align)
{
	struct ksalloc_framing f = {
		.pool_type = pool,
		.frames = frames,
		.frame_size = size,
		.alignment = align,
	};

	return xioctl(fd, KSALLOC_IOC_SET_FRAMING, &f);
}

static int frame_default(int fd)
{
	return set_framing(fd, KSALLOC_POOL_NONPAGED, NFRAMES, FSIZE, FALIGN);
}

/* ALLOC: index or -errno. */
static int alloc_frame(int fd, uint32_t flags, int64_t timeout_ns)
{
	struct ksalloc_frame fr = { .flags = flags, .timeout_ns = timeout_ns };
	int ret = xioctl(fd, KSALLOC_IOC_ALLOC, &fr);

	return ret ? ret : (int)fr.index;
}

static int free_frame(int fd, uint32_t index)
{
	struct ksalloc_frame fr = { .index = index };

	return xioctl(fd, KSALLOC_IOC_FREE, &fr);
}

/* Takes every frame with ALLOC NOWAIT, no more: their indices in @idx. */
static int take_all(int fd, uint32_t *idx, int n)
{
	int i, ret;

	for (i = 0; i < n; i++) {
		ret = alloc_frame(fd, KSALLOC_ALLOC_NOWAIT, 0);
		if (ret < 0)
			return ret;
		idx[i] = ret;
	}
	return 0;
}

/* Frames outstanding, or -errno. */
static int outstanding(int fd)
{
	struct ksalloc_status st;
	int ret = xioctl(fd, KSALLOC_IOC_GET_STATUS, &st);

	return ret ? ret : (int)st.allocated_frames;
}

static struct ksalloc_stats stats_of(int fd)
{
	struct ksalloc_stats s;

	memset(&s, 0xff, sizeof(s));
	if (xioctl(fd, KSALLOC_IOC_GET_STATS, &s))
		memset(&s, 0xee, sizeof(s));
	return s;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to 5 s until GET_STATS counts @n waiters; 0 or -1. */
static int wait_waiters(int fd, uint64_t n)
{
	uint64_t end = now_ms() + 5000;

	while (now_ms() < end) {
		if (stats_of(fd).waiters == n)
			return 0;
		usleep(1000);
	}
	return -1;
}

/* Waits up to 5 s until *@flag is set; 0 or -1. */
static int wait_flag(int *flag)
{
	uint64_t end = now_ms() + 5000;

	while (now_ms() < end) {
		if (__atomic_load_n(flag, __ATOMIC_ACQUIRE))
			return 0;
		usleep(1000);
	}
	return -1;
}

/* A module parameter, or @def when it cannot be read. */
static uint64_t param(const char *name, uint64_t def)
{
	char path[128], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return def;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return def;
	buf[n] = '\0';
	return strtoull(buf, NULL, 0);
}

static int read_int_file(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return atoi(buf);
}

static int write_int_file(const char *path, int val)
{
	char buf[32];
	int fd, len, ok;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	len = snprintf(buf, sizeof(buf), "%d\n", val);
	ok = write(fd, buf, len) == len;
	close(fd);
	return ok ? 0 : -1;
}

/* A page of memory, then an unmapped page: for structs that run off the end. */
static char *page_before_hole(void)
{
	char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p + PAGE, PAGE);
	return p;
}

/* An address that is certainly not mapped. */
static void *unmapped_address(void)
{
	void *p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p, PAGE);
	return p;
}

/* A read-only page holding @len bytes of @src. */
static void *readonly_copy(const void *src, size_t len)
{
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, src, len);
	if (mprotect(p, PAGE, PROT_READ)) {
		munmap(p, PAGE);
		return NULL;
	}
	return p;
}

/*
 * Note: ASSERT_*() and EXPECT_*() expand to more than one statement, so
 * every loop or if around one has braces.
 */
static const struct {
	const char *name;
	unsigned long cmd;
} all_cmds[] = {
	{ "SET_FRAMING", KSALLOC_IOC_SET_FRAMING },
	{ "GET_STATUS", KSALLOC_IOC_GET_STATUS },
	{ "GET_FUNCTIONTABLE", KSALLOC_IOC_GET_FUNCTIONTABLE },
	{ "ALLOC", KSALLOC_IOC_ALLOC },
	{ "FREE", KSALLOC_IOC_FREE },
	{ "ALLOC_BATCH", KSALLOC_IOC_ALLOC_BATCH },
	{ "FREE_BATCH", KSALLOC_IOC_FREE_BATCH },
	{ "GET_STATS", KSALLOC_IOC_GET_STATS },
	{ "GET_ID", KSALLOC_IOC_GET_ID },
	{ "EXPORT_DMABUF", KSALLOC_IOC_EXPORT_DMABUF },
};

FIXTURE(ksalloc) {
	int fd;
	int kptr_saved;
};

FIXTURE_SETUP(ksalloc)
{
	self->kptr_saved = -1;
	self->fd = open(DEV, O_RDWR | O_CLOEXEC);
	/* Without the module there is nothing to test; any other error fails. */
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "no %s (is ksalloc.ko loaded?)", DEV);
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", DEV, strerror(errno));
}

FIXTURE_TEARDOWN(ksalloc)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->kptr_saved >= 0)
		write_int_file(KPTR_RESTRICT, self->kptr_saved);
}

#endif /* KSALLOC_TEST_H */
