// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_test_mmap.c - selftests of /dev/ksalloc, included by
 * ksalloc_test.c.
 *
 * The mapping of the pool, user space scribbling over the frames,
 * ALLOC_BATCH and FREE_BATCH.
 */
#include "ksalloc_test.h"

TEST_F(ksalloc, mmap_shared)
{
	size_t len = (NFRAMES * STRIDE + PAGE - 1) / PAGE * PAGE;
	unsigned char *m1, *m2;
	struct ksalloc_frame fr;
	int i;

	ASSERT_EQ(0, frame_default(self->fd));
	m1 = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(m1 != MAP_FAILED);
	m2 = mmap(NULL, len, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(m2 != MAP_FAILED);
	for (i = 0; i < NFRAMES; i++) {
		fr = (struct ksalloc_frame){ .timeout_ns = 0 };
		ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_ALLOC, &fr));
		ASSERT_LE(fr.offset + FSIZE, len);
		memset(m1 + fr.offset, 0x10 + i, FSIZE);
	}
	/* both mappings show the same pages, frame i at its offset */
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ(0x10 + i, m2[(size_t)i * STRIDE]);
		ASSERT_EQ(0x10 + i, m2[(size_t)i * STRIDE + FSIZE - 1]);
	}
	/* a fresh pool is zeroed, also between frames */
	ASSERT_EQ(0, m2[FSIZE]);
	/* a partial mapping at a page offset works too */
	if (len > PAGE) {
		unsigned char *m3 = mmap(NULL, PAGE, PROT_READ, MAP_SHARED,
					 self->fd, PAGE);

		ASSERT_TRUE(m3 != MAP_FAILED);
		ASSERT_EQ(m1[PAGE], m3[0]);
		munmap(m3, PAGE);
	}
	munmap(m2, len);
	munmap(m1, len);
}

TEST_F(ksalloc, mmap_refused)
{
	size_t len = (NFRAMES * STRIDE + PAGE - 1) / PAGE * PAGE;
	void *m;

	ASSERT_EQ(0, frame_default(self->fd));
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->fd, 0);
	ASSERT_TRUE(m == MAP_FAILED);
	ASSERT_EQ(EINVAL, errno);
	m = mmap(NULL, len, PROT_READ | PROT_EXEC, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(m == MAP_FAILED);
	ASSERT_EQ(EPERM, errno);
	/* beyond the pool: too long, or starting past its end */
	m = mmap(NULL, len + PAGE, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(m == MAP_FAILED);
	ASSERT_EQ(ENXIO, errno);
	m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->fd, len);
	ASSERT_TRUE(m == MAP_FAILED);
	ASSERT_EQ(ENXIO, errno);

	/* and a good mapping cannot be made executable later */
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(m != MAP_FAILED);
	ASSERT_EQ(-1, mprotect(m, len, PROT_READ | PROT_EXEC));
	ASSERT_EQ(EACCES, errno);
	/* nor grown */
	ASSERT_TRUE(mremap(m, len, len + PAGE, MREMAP_MAYMOVE) == MAP_FAILED);
	munmap(m, len);
}

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void scribble(unsigned char *m, size_t len, uint32_t *seed)
{
	size_t i;

	for (i = 0; i + 4 <= len; i += 4) {
		uint32_t v = xorshift(seed);

		memcpy(m + i, &v, 4);
	}
}

TEST_F(ksalloc, scribble_frames_changes_nothing)
{
	const uint32_t frames = 64, size = 3000;
	size_t len = ((size_t)frames * size + PAGE - 1) / PAGE * PAGE;
	struct ksalloc_frame_batch batch;
	uint32_t idx[64], seed = 0x12345678;
	struct ksalloc_stats s;
	unsigned char *m;
	uint32_t i;
	int round;

	ASSERT_EQ(0, set_framing(self->fd, KSALLOC_POOL_NONPAGED, frames,
				 size, 0));
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(m != MAP_FAILED);

	for (round = 0; round < 3; round++) {
		/* all free, all outstanding, half outstanding */
		scribble(m, len, &seed);
		ASSERT_EQ(0, outstanding(self->fd));
		batch = (struct ksalloc_frame_batch){
			.indices = (uintptr_t)idx, .count = frames };
		ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_ALLOC_BATCH, &batch));
		ASSERT_EQ(frames, batch.count);
		scribble(m, len, &seed);
		ASSERT_EQ((int)frames, outstanding(self->fd));
		ASSERT_EQ(-EAGAIN, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0));
		for (i = 0; i < frames; i += 2) {
			ASSERT_EQ(0, free_frame(self->fd, idx[i]))
				TH_LOG("frame %u", idx[i]);
		}
		scribble(m, len, &seed);
		ASSERT_EQ(-EINVAL, free_frame(self->fd, idx[0]));
		for (i = 0; i < frames / 2; i++) {
			ASSERT_LE(0, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0))
				TH_LOG("allocation %u", i);
		}
		ASSERT_EQ(-EAGAIN, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0));
		/* every frame exactly once */
		batch = (struct ksalloc_frame_batch){
			.indices = (uintptr_t)idx, .count = frames };
		for (i = 0; i < frames; i++)
			idx[i] = i;
		ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_FREE_BATCH, &batch));
		ASSERT_EQ(frames, batch.count);
	}
	s = stats_of(self->fd);
	ASSERT_EQ(s.allocs, s.frees);
	ASSERT_EQ(frames, s.peak_allocated);
	ASSERT_EQ(0, outstanding(self->fd));
	munmap(m, len);
}

TEST_F(ksalloc, alloc_batch)
{
	uint32_t idx[16];
	struct ksalloc_frame_batch batch = {
		.indices = (uintptr_t)idx, .count = 16 };
	bool seen[NFRAMES] = {};
	struct ksalloc_stats s;
	uint32_t i, got;

	ASSERT_EQ(0, frame_default(self->fd));
	ASSERT_EQ(0, alloc_frame(self->fd, 0, 0));
	memset(idx, 0xff, sizeof(idx));
	/* wants 16, 3 are free */
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_ALLOC_BATCH, &batch));
	ASSERT_EQ(NFRAMES - 1, batch.count);
	ASSERT_EQ(0U, batch.flags);
	for (i = 0; i < batch.count; i++) {
		ASSERT_LT(idx[i], NFRAMES);
		ASSERT_FALSE(seen[idx[i]]);
		seen[idx[i]] = true;
	}
	ASSERT_FALSE(seen[0]);
	/* the array past count is untouched */
	ASSERT_EQ(0xffffffffU, idx[batch.count]);
	ASSERT_EQ(NFRAMES, outstanding(self->fd));

	batch.count = 1;
	ASSERT_EQ(-EAGAIN, xioctl(self->fd, KSALLOC_IOC_ALLOC_BATCH, &batch));
	ASSERT_EQ(0, free_frame(self->fd, 2));
	ASSERT_EQ(0, free_frame(self->fd, 0));
	batch.count = 1;
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_ALLOC_BATCH, &batch));
	ASSERT_EQ(1U, batch.count);
	/* one of the two just freed; which one is the caches' business */
	ASSERT_TRUE(idx[0] == 0 || idx[0] == 2);
	got = idx[0];
	s = stats_of(self->fd);
	ASSERT_EQ(NFRAMES + 1, s.allocs);
	ASSERT_EQ(1U, s.alloc_failures);

	/* a huge count takes what is free and writes no further */
	ASSERT_EQ(0, free_frame(self->fd, got));
	ASSERT_EQ(0, free_frame(self->fd, 3));
	memset(idx, 0xff, sizeof(idx));
	batch.count = 0xffffffff;
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_ALLOC_BATCH, &batch));
	ASSERT_EQ(3U, batch.count);	/* 0, 2 and 3 */
	ASSERT_EQ(0xffffffffU, idx[3]);
	ASSERT_EQ(NFRAMES, outstanding(self->fd));
}

TEST_F(ksalloc, free_batch_partial)
{
	uint32_t idx[5] = { 0, 1, 1, 2, 3 };	/* 1 twice: stops there */
	struct ksalloc_frame_batch batch = {
		.indices = (uintptr_t)idx, .count = 5 };
	int i;

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ(i, alloc_frame(self->fd, 0, 0))
			TH_LOG("frame %d", i);
	}
	ASSERT_EQ(-EINVAL, xioctl(self->fd, KSALLOC_IOC_FREE_BATCH, &batch));
	ASSERT_EQ(2U, batch.count);
	ASSERT_EQ(NFRAMES - 2, outstanding(self->fd));
	ASSERT_EQ(-EINVAL, free_frame(self->fd, 0));
	ASSERT_EQ(-EINVAL, free_frame(self->fd, 1));

	/* out of range first: nothing freed */
	idx[0] = NFRAMES;
	idx[1] = 2;
	batch.count = 2;
	ASSERT_EQ(-EINVAL, xioctl(self->fd, KSALLOC_IOC_FREE_BATCH, &batch));
	ASSERT_EQ(0U, batch.count);
	ASSERT_EQ(NFRAMES - 2, outstanding(self->fd));

	/* the rest */
	idx[0] = 3;
	idx[1] = 2;
	batch.count = 2;
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_FREE_BATCH, &batch));
	ASSERT_EQ(2U, batch.count);
	ASSERT_EQ(0, outstanding(self->fd));
}

/* A long FREE_BATCH whose indices run into an unmapped page. */
TEST_F(ksalloc, free_batch_efault_midway)
{
	const uint32_t frames = 200;
	char *edge = page_before_hole();
	uint32_t *idx, n = 150, i, got[200];
	struct ksalloc_frame_batch batch;
	int ret;

	ASSERT_TRUE(!!edge);
	ASSERT_EQ(0, set_framing(self->fd, KSALLOC_POOL_NONPAGED, frames, 64, 0));
	/*
	 * In whatever order they come: a task that moves to another CPU
	 * midway gets that CPU's batch next.
	 */
	for (i = 0; i < frames; i++) {
		ret = alloc_frame(self->fd, 0, 0);
		ASSERT_LE(0, ret) TH_LOG("frame %u", i);
		got[i] = ret;
	}
	/* n readable indices, then the hole */
	idx = (uint32_t *)(edge + PAGE) - n;
	for (i = 0; i < n; i++)
		idx[i] = got[i];
	batch = (struct ksalloc_frame_batch){
		.indices = (uintptr_t)idx, .count = frames };
	ASSERT_EQ(-EFAULT, xioctl(self->fd, KSALLOC_IOC_FREE_BATCH, &batch));
	/* read in chunks: what was freed is reported, up to n */
	ASSERT_LE(batch.count, n);
	ASSERT_LT(0U, batch.count);
	ASSERT_EQ((int)(frames - batch.count), outstanding(self->fd));
	ASSERT_EQ(-EINVAL, free_frame(self->fd, got[batch.count - 1]));
	ASSERT_EQ(0, free_frame(self->fd, got[batch.count]));

	/* unmapped from the start */
	batch = (struct ksalloc_frame_batch){
		.indices = (uintptr_t)unmapped_address(), .count = 1 };
	ASSERT_EQ(-EFAULT, xioctl(self->fd, KSALLOC_IOC_FREE_BATCH, &batch));
	ASSERT_EQ(0U, batch.count);
	batch.indices = 0;
	batch.count = 1;
	ASSERT_EQ(-EFAULT, xioctl(self->fd, KSALLOC_IOC_ALLOC_BATCH, &batch));
	munmap(edge, PAGE);
}
