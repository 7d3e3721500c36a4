// SPDX-License-Identifier: GPL-2.0
/*
 * libksalloc-test - libksalloc against the real /dev/ksalloc (in a guest)
 *
 * Each case prints a TAP line, "ok N name" or "not ok N name", and the
 * program exits 1 if any failed.  It checks what the library adds to the
 * raw ABI (which the selftests cover): errors as negative errnos and
 * their descriptions, the framing and stride it learns, frame addresses,
 * the waits, the batch counts, the id.
 *
 * A failed CHECK() returns to main() at once, past the rest of the case:
 * the allocators a case opens are registered (held()), and main() closes
 * what is left of them after each case, passed or failed, once it has
 * stopped and joined the case's thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include <libksalloc.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static int tests, failures;
/* Where a failed CHECK() goes: back to main(), which reports the case. */
static jmp_buf case_failed;

static void check(bool ok, const char *what, int line)
{
	if (ok)
		return;
	printf("# line %d: %s\n", line, what);
	longjmp(case_failed, 1);
}

#define CHECK(cond) check(cond, #cond, __LINE__)

/* The allocators the running case has open, for main() to close. */
static struct ksalloc_allocator *case_allocs[4];

/* Registers @a, open, for main() to close after the case. */
static struct ksalloc_allocator *held(struct ksalloc_allocator *a)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(case_allocs); i++) {
		if (!case_allocs[i]) {
			case_allocs[i] = a;
			return a;
		}
	}
	check(false, "case_allocs is full", __LINE__);
	return a;
}

/* Closes @a, which held() registered, before the end of the case. */
static void drop(struct ksalloc_allocator *a)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(case_allocs); i++)
		if (case_allocs[i] == a)
			case_allocs[i] = NULL;
	ksalloc_destroy(a);
}

static void report(const char *name, bool ok)
{
	printf("%sok %d %s\n", ok ? "" : "not ", ++tests, name);
	if (!ok)
		failures++;
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static bool open_errors(void)
{
	struct ksalloc_allocator *a = (void *)1;
	struct ksalloc_framing f = { .frames = 0, .frame_size = 64 };
	struct ksalloc_status st;
	uint32_t i;

	CHECK(ksalloc_open(&a, "/dev/ksalloc-none", O_RDWR) == -ENOENT && !a);
	CHECK(ksalloc_open(&a, NULL, O_RDWR) == 0 && held(a));
	CHECK(ksalloc_query_status(a, &st) == -EBADFD);
	CHECK(ksalloc_alloc_nowait(a, &i) == -EBADFD);
	CHECK(ksalloc_map(a) == -EBADFD && !ksalloc_get_framing(a));
	CHECK(ksalloc_set_framing(a, &f) == -EINVAL);
	f.frames = 4;
	CHECK(ksalloc_set_framing(a, &f) == 0);	/* a refusal changed nothing */
	CHECK(ksalloc_set_framing(a, &f) == -EBUSY);
	drop(a);
	ksalloc_destroy(NULL);
	return true;
}

static bool strerror_terms(void)
{
	CHECK(strstr(ksalloc_strerror(-EBADFD), "not framed"));
	CHECK(strstr(ksalloc_strerror(-EBUSY), "already framed"));
	CHECK(strstr(ksalloc_strerror(EAGAIN), "no free frame"));
	CHECK(!strcmp(ksalloc_strerror(-ENOSPC), strerror(ENOSPC)));
	return true;
}

static bool layout(void)
{
	struct ksalloc_allocator *a;
	const struct ksalloc_framing *f;
	uint32_t i, j;
	char *p;

	CHECK(ksalloc_open_frames(&a, 5, 100, 63) == 0 && held(a));
	f = ksalloc_get_framing(a);
	CHECK(f && f->frames == 5 && f->frame_size == 100 && f->alignment == 63);
	CHECK(ksalloc_stride(a) == 128);
	CHECK(ksalloc_pool(a) && ksalloc_pool_size(a) >= 5 * 128);
	CHECK(ksalloc_pool_size(a) % sysconf(_SC_PAGESIZE) == 0);
	CHECK(!ksalloc_frame_addr(a, 5));
	CHECK(ksalloc_alloc_nowait(a, &i) == 0 && i < 5);
	p = ksalloc_frame_addr(a, i);
	CHECK(p == (char *)ksalloc_pool(a) + i * 128);
	memset(p, 0xa5, 100);
	CHECK(ksalloc_alloc_nowait(a, &j) == 0 && j != i);
	CHECK((unsigned char)p[99] == 0xa5);	/* another frame left it alone */
	CHECK(ksalloc_free(a, i) == 0 && ksalloc_free(a, j) == 0);
	CHECK(ksalloc_free(a, i) == -EINVAL);	/* not held any more */
	drop(a);
	return true;
}

static bool waits(void)
{
	struct ksalloc_allocator *a;
	uint32_t idx[2], i;
	uint64_t t0;

	CHECK(ksalloc_open_frames(&a, 2, 64, 0) == 0 && held(a));
	CHECK(ksalloc_wait_free(a, 0) == 0);
	CHECK(ksalloc_alloc_nowait(a, &idx[0]) == 0);
	CHECK(ksalloc_alloc_timed(a, &idx[1], 0) == 0);
	CHECK(ksalloc_alloc_nowait(a, &i) == -EAGAIN);
	CHECK(ksalloc_alloc_timed(a, &i, 0) == -EAGAIN);
	t0 = ms_now();
	CHECK(ksalloc_alloc_timed(a, &i, 20000000) == -ETIMEDOUT);
	CHECK(ms_now() - t0 >= 19);
	t0 = ms_now();
	CHECK(ksalloc_wait_free(a, 20000000) == -ETIMEDOUT);
	CHECK(ms_now() - t0 >= 19);
	CHECK(ksalloc_free(a, idx[1]) == 0);
	CHECK(ksalloc_wait_free(a, -1) == 0);
	CHECK(ksalloc_free(a, idx[0]) == 0);
	drop(a);
	return true;
}

/*
 * What free_later() works on.  Static, not on the case's stack: after a
 * failed CHECK() the thread runs on until main() stops and joins it.
 */
static struct late_free {
	struct ksalloc_allocator *a;
	uint32_t index;
	atomic_bool stop;	/* set by main() after a failed case */
	pthread_t thread;
	bool started;		/* thread runs, or ended and was not joined */
} late;

static void *free_later(void *arg)
{
	struct late_free *lf = arg;
	struct ksalloc_stats st;

	/* Until the main thread waits in ksalloc_alloc(). */
	do {
		usleep(1000);
		if (atomic_load(&lf->stop))
			return (void *)(intptr_t)-ECANCELED;
	} while (!ksalloc_query_stats(lf->a, &st) && st.waiters < 1);
	return (void *)(intptr_t)ksalloc_free(lf->a, lf->index);
}

/* Stops free_later() if it runs, and joins it. */
static void *late_join(void)
{
	void *ret = NULL;

	if (late.started) {
		atomic_store(&late.stop, true);
		pthread_join(late.thread, &ret);
		late.started = false;
	}
	return ret;
}

static bool blocking_handoff(void)
{
	struct ksalloc_stats st;
	uint32_t i;

	atomic_store(&late.stop, false);
	CHECK(ksalloc_open_frames(&late.a, 1, 64, 0) == 0 && held(late.a));
	CHECK(ksalloc_alloc_nowait(late.a, &late.index) == 0);
	CHECK(pthread_create(&late.thread, NULL, free_later, &late) == 0);
	late.started = true;
	CHECK(ksalloc_alloc(late.a, &i) == 0 && i == late.index);
	/* It freed the frame before it ended: stop has no effect now. */
	CHECK(!late_join());
	CHECK(ksalloc_query_stats(late.a, &st) == 0);
	CHECK(st.handoffs >= 1 && st.allocs == 2 && st.frees == 1 && st.waits >= 1);
	CHECK(ksalloc_free(late.a, i) == 0);
	drop(late.a);
	return true;
}

static bool batches(void)
{
	struct ksalloc_allocator *a;
	uint32_t idx[16], done = 99;
	struct ksalloc_status st;

	CHECK(ksalloc_open_frames(&a, 8, 256, 0) == 0 && held(a));
	CHECK(ksalloc_alloc_batch(a, idx, 16) == 8);
	CHECK(ksalloc_alloc_batch(a, idx + 8, 1) == -EAGAIN);
	CHECK(ksalloc_query_status(a, &st) == 0 && st.allocated_frames == 8);
	idx[3] = idx[2];	/* freed twice: the batch stops at the second */
	CHECK(ksalloc_free_batch(a, idx, 8, &done) == -EINVAL && done == 3);
	CHECK(ksalloc_query_status(a, &st) == 0 && st.allocated_frames == 5);
	drop(a);
	return true;
}

/* The id is GET_ID's, never 0, and the fdinfo line says the same. */
static bool id_and_fdinfo(void)
{
	struct ksalloc_allocator *a, *b;
	char path[64], line[128];
	uint64_t id, id2, seen = 0;
	FILE *f;

	CHECK(ksalloc_open_frames(&a, 1, 64, 0) == 0 && held(a));
	CHECK(ksalloc_open_frames(&b, 1, 64, 0) == 0 && held(b));
	CHECK(ksalloc_query_id(a, &id) == 0 && id != 0);
	CHECK(ksalloc_query_id(b, &id2) == 0 && id2 != 0 && id2 != id);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ksalloc_fd(a));
	f = fopen(path, "r");
	CHECK(f);
	while (fgets(line, sizeof(line), f))
		sscanf(line, "ksalloc_id: %llu", (unsigned long long *)&seen);
	fclose(f);
	CHECK(seen == id);
	drop(b);
	drop(a);
	return true;
}

static bool paged_and_readonly(void)
{
	struct ksalloc_framing f = {
		.pool_type = KSALLOC_POOL_PAGED, .frames = 4, .frame_size = 4096,
	};
	struct ksalloc_functiontable_info ft;
	struct ksalloc_allocator *a;

	CHECK(ksalloc_open_framed(&a, &f) == 0 && held(a));
	CHECK(ksalloc_query_functiontable(a, &ft) == -EOPNOTSUPP);
	drop(a);
	CHECK(ksalloc_open(&a, NULL, O_RDONLY) == 0 && held(a));
	f.pool_type = KSALLOC_POOL_NONPAGED;
	CHECK(ksalloc_set_framing(a, &f) == -EBADF);
	drop(a);
	return true;
}

/* A frame's dma-buf maps its bytes, and outlives the allocator. */
static bool export_dmabuf(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct ksalloc_allocator *a;
	unsigned char *p, *m;
	int fd, pfd;
	uint32_t i;

	CHECK(ksalloc_open_frames(&a, 3, page, 0) == 0 && held(a));
	CHECK(ksalloc_stride(a) == page);
	CHECK(ksalloc_export_dmabuf(a, 0, O_RDWR) == -EINVAL);	/* not held */
	CHECK(ksalloc_export_dmabuf(a, KSALLOC_EXPORT_POOL, O_NONBLOCK) == -EINVAL);
	CHECK(ksalloc_alloc_nowait(a, &i) == 0);
	p = ksalloc_frame_addr(a, i);
	memset(p, 0x3c, page);
	fd = ksalloc_export_dmabuf(a, i, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	pfd = ksalloc_export_dmabuf(a, KSALLOC_EXPORT_POOL, O_RDONLY);
	CHECK(pfd >= 0);
	CHECK(lseek(pfd, 0, SEEK_END) == (off_t)ksalloc_pool_size(a));
	close(pfd);
	drop(a);
	m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	CHECK(m[0] == 0x3c && m[page - 1] == 0x3c);
	munmap(m, page);
	close(fd);
	return true;
}

int main(void)
{
	static const struct {
		const char *name;
		bool (*fn)(void);
	} cases[] = {
		{ "lib_open_errors", open_errors },
		{ "lib_strerror_terms", strerror_terms },
		{ "lib_layout", layout },
		{ "lib_waits", waits },
		{ "lib_blocking_handoff", blocking_handoff },
		{ "lib_batches", batches },
		{ "lib_id_and_fdinfo", id_and_fdinfo },
		{ "lib_paged_and_readonly", paged_and_readonly },
		{ "lib_export_dmabuf", export_dmabuf },
	};
	size_t i, j;
	bool ok;

	printf("TAP version 13\n1..%zu\n", ARRAY_SIZE(cases));
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (setjmp(case_failed))
			ok = false;
		else
			ok = cases[i].fn();
		/* What a failed case left: its thread first, then its allocators. */
		late_join();
		for (j = 0; j < ARRAY_SIZE(case_allocs); j++) {
			ksalloc_destroy(case_allocs[j]);
			case_allocs[j] = NULL;
		}
		report(cases[i].name, ok);
	}
	printf("# %d passed, %d failed\n", tests - failures, failures);
	return failures ? 1 : 0;
}
