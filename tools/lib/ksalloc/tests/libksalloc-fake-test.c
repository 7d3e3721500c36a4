// SPDX-License-Identifier: GPL-2.0
/*
 * libksalloc-fake-test - libksalloc on the host, against a fake device
 *
 * Built from the library's sources with this file, which defines ioctl(),
 * mmap() and munmap(): the library's calls come here, so it runs without
 * the module, 64-bit and 32-bit (scripts/libksalloc-check.sh builds and
 * runs it).  The fake keeps one framing, as the kernel does, and maps a
 * static buffer.  It checks what needs no kernel or what no kernel would
 * do: the access modes ksalloc_open() takes, the mapping's size in 64
 * bits, frame addresses bounded by the pool, a handle framed even when
 * GET_STATUS fails, POLLNVAL, and ksalloc_strerror(INT_MIN).  Prints a
 * TAP line per case; exit status 1 if one failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libksalloc.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The fake device: one framing for every descriptor. */
static struct {
	bool framed;
	bool status_fails;	/* GET_STATUS fails with EIO */
	struct ksalloc_framing framing;
	unsigned int mmaps;
	size_t mmap_len;
} fake;

static char fake_pool[1 << 16] __attribute__((aligned(1 << 16)));

int ioctl(int fd, unsigned long req, ...)
{
	struct ksalloc_status *st;
	va_list ap;
	void *arg;

	(void)fd;
	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	switch (req) {
	case KSALLOC_IOC_SET_FRAMING:
		if (fake.framed) {
			errno = EBUSY;
			return -1;
		}
		fake.framing = *(struct ksalloc_framing *)arg;
		fake.framed = true;
		return 0;
	case KSALLOC_IOC_GET_STATUS:
		if (!fake.framed || fake.status_fails) {
			errno = fake.framed ? EIO : EBADFD;
			return -1;
		}
		st = arg;
		memset(st, 0, sizeof(*st));
		st->framing = fake.framing;
		return 0;
	}
	errno = ENOTTY;
	return -1;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	(void)addr;
	(void)prot;
	(void)flags;
	(void)fd;
	(void)off;
	fake.mmaps++;
	fake.mmap_len = len;
	return fake_pool;
}

int munmap(void *addr, size_t len)
{
	(void)addr;
	(void)len;
	return 0;
}

static void fake_reset(void)
{
	memset(&fake, 0, sizeof(fake));
}

static int tests, failures;
static jmp_buf case_failed;

static void check(bool ok, const char *what, int line)
{
	if (ok)
		return;
	printf("# line %d: %s\n", line, what);
	longjmp(case_failed, 1);
}

#define CHECK(cond) check(cond, #cond, __LINE__)

/* An allocator on /dev/null, framed by the fake with @frames x @size. */
static struct ksalloc_allocator *fake_framed(uint32_t frames, uint32_t size,
					     uint32_t align)
{
	struct ksalloc_framing f = {
		.frames = frames, .frame_size = size, .alignment = align,
	};
	struct ksalloc_allocator *a;

	fake_reset();
	CHECK(ksalloc_open(&a, "/dev/null", O_RDWR) == 0);
	CHECK(ksalloc_set_framing(a, &f) == 0);
	return a;
}

static void open_modes(void)
{
	struct ksalloc_allocator *a = (void *)1;

	CHECK(ksalloc_open(&a, "/dev/null", O_WRONLY) == -EINVAL && !a);
	CHECK(ksalloc_open(&a, "/dev/null", O_ACCMODE) == -EINVAL && !a);
	CHECK(ksalloc_open(&a, "/dev/null", O_RDONLY | O_NONBLOCK) == 0 && a);
	ksalloc_destroy(a);
	CHECK(ksalloc_open(&a, "/dev/null", O_RDWR) == 0 && a);
	ksalloc_destroy(a);
}

/* 2^17 frames of 64 KiB: 8 GiB, which a 32-bit size_t does not hold. */
static void map_size_64bit(void)
{
	struct ksalloc_allocator *a = fake_framed(1 << 17, 1 << 16, 0);
	int err = ksalloc_map(a);

	if (sizeof(size_t) < 8) {
		CHECK(err == -EOVERFLOW && !fake.mmaps && !ksalloc_pool(a));
	} else {
		CHECK(err == 0 && fake.mmap_len == 1ull << 33);
		CHECK(ksalloc_pool_size(a) == 1ull << 33);
	}
	ksalloc_destroy(a);
}

static void frame_addr_bounds(void)
{
	struct ksalloc_allocator *a = fake_framed(4, 100, 63);

	CHECK(!ksalloc_frame_addr(a, 0));	/* not mapped */
	CHECK(ksalloc_map(a) == 0 && ksalloc_pool_size(a) == (size_t)getpagesize());
	CHECK(ksalloc_frame_addr(a, 3) == fake_pool + 3 * 128);
	CHECK(!ksalloc_frame_addr(a, 4));
	CHECK(!ksalloc_frame_addr(a, UINT32_MAX));
	ksalloc_destroy(a);
}

/* The kernel framed the handle: the library says so, GET_STATUS or not. */
static void framed_without_status(void)
{
	struct ksalloc_framing f = { .frames = 8, .frame_size = 1000, .alignment = 63 };
	const struct ksalloc_framing *got;
	struct ksalloc_allocator *a;

	fake_reset();
	fake.status_fails = true;
	CHECK(ksalloc_open(&a, "/dev/null", O_RDWR) == 0);
	CHECK(ksalloc_set_framing(a, &f) == 0);
	got = ksalloc_get_framing(a);
	CHECK(got && got->frames == 8 && got->frame_size == 1000);
	CHECK(ksalloc_stride(a) == 1024);
	CHECK(ksalloc_set_framing(a, &f) == -EBUSY);
	CHECK(ksalloc_map(a) == 0 && ksalloc_frame_addr(a, 7) == fake_pool + 7 * 1024);
	ksalloc_destroy(a);
}

static void wait_not_open(void)
{
	struct ksalloc_allocator *a;

	CHECK(ksalloc_open(&a, "/dev/null", O_RDWR) == 0);
	close(ksalloc_fd(a));
	CHECK(ksalloc_wait_free(a, 0) == -EBADF);
	ksalloc_destroy(a);	/* its close() fails: nothing else is open */
}

static void strerror_extremes(void)
{
	CHECK(ksalloc_strerror(INT_MIN));
	CHECK(ksalloc_strerror(INT_MAX));
	CHECK(!strcmp(ksalloc_strerror(-ENOENT), ksalloc_strerror(ENOENT)));
}

int main(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {
		{ "fake_open_modes", open_modes },
		{ "fake_map_size_64bit", map_size_64bit },
		{ "fake_frame_addr_bounds", frame_addr_bounds },
		{ "fake_framed_without_status", framed_without_status },
		{ "fake_wait_not_open", wait_not_open },
		{ "fake_strerror_extremes", strerror_extremes },
	};
	size_t i;
	bool ok;

	setvbuf(stdout, NULL, _IOLBF, 0);	/* the lines before a sanitizer's abort */
	printf("TAP version 13\n1..%zu\n", ARRAY_SIZE(cases));
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (setjmp(case_failed)) {
			ok = false;
		} else {
			cases[i].fn();
			ok = true;
		}
		printf("%sok %d %s\n", ok ? "" : "not ", ++tests, cases[i].name);
		failures += !ok;
	}
	printf("# %d passed, %d failed\n", tests - failures, failures);
	return failures ? 1 : 0;
}
