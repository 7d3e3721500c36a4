// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_test_dmabuf.c - selftests of /dev/ksalloc, included by
 * ksalloc_test.c.
 *
 * KSALLOC_IOC_EXPORT_DMABUF (SPEC 8): every refusal with its errno, the
 * dma-buf's size, its mmap() against the descriptor's, DMA_BUF_IOCTL_SYNC,
 * and the dma-buf keeping the pool alive after the descriptor is closed.
 */
#include "ksalloc_test.h"

/* EXPORT_DMABUF: the new descriptor, or -errno. */
static int export_dmabuf(int fd, uint32_t index, uint32_t fd_flags)
{
	struct ksalloc_dmabuf d = {
		.fd_flags = fd_flags, .index = index, .fd = -1 };
	int ret = xioctl(fd, KSALLOC_IOC_EXPORT_DMABUF, &d);

	return ret ? ret : d.fd;
}

/* A framing of @frames frames of two pages each, stride two pages. */
static int frame_pages(int fd, uint32_t frames)
{
	return set_framing(fd, KSALLOC_POOL_NONPAGED, frames, 2 * PAGE, 0);
}

TEST_F(ksalloc, dmabuf_refused)
{
	struct ksalloc_dmabuf d = { .fd_flags = O_RDWR,
				    .index = KSALLOC_DMABUF_POOL, .fd = -1 };
	int ro, paged, idx, i;
	const uint32_t bad_flags[] = {
		O_NONBLOCK, O_ACCMODE, O_RDWR | O_APPEND, O_RDWR | O_TRUNC,
		0x80000000U, O_RDWR | O_SYNC,
	};

	/* unframed: -EBADFD */
	ASSERT_EQ(-EBADFD, export_dmabuf(self->fd, KSALLOC_DMABUF_POOL, O_RDWR));

	/* a read-only descriptor: -EBADF, whatever the access asked */
	ro = open(DEV, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, ro);
	EXPECT_EQ(-EBADF, export_dmabuf(ro, KSALLOC_DMABUF_POOL, O_RDONLY));
	close(ro);

	/* a paged pool: -EINVAL */
	paged = open(DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, paged);
	ASSERT_EQ(0, set_framing(paged, KSALLOC_POOL_PAGED, 2, 2 * PAGE, 0));
	idx = alloc_frame(paged, KSALLOC_ALLOC_NOWAIT, 0);
	ASSERT_LE(0, idx);
	EXPECT_EQ(-EINVAL, export_dmabuf(paged, KSALLOC_DMABUF_POOL, O_RDWR));
	EXPECT_EQ(-EINVAL, export_dmabuf(paged, idx, O_RDWR));
	close(paged);

	/* a stride that is not a multiple of the page: the frame -EINVAL */
	ASSERT_EQ(0, frame_default(self->fd));
	idx = alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0);
	ASSERT_LE(0, idx);
	EXPECT_EQ(-EINVAL, export_dmabuf(self->fd, idx, O_RDWR));

	/* flags and reserved, on the pool that can be exported */
	for (i = 0; i < (int)ARRAY_SIZE(bad_flags); i++) {
		EXPECT_EQ(-EINVAL, export_dmabuf(self->fd, KSALLOC_DMABUF_POOL,
						 bad_flags[i]))
			TH_LOG("fd_flags %#x", bad_flags[i]);
	}
	d.reserved = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, KSALLOC_IOC_EXPORT_DMABUF, &d));
	/* a refusal writes nothing back */
	EXPECT_EQ(-1, d.fd);
	d.reserved = 0;
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_EXPORT_DMABUF, &d));
	ASSERT_LE(0, d.fd);
	/* O_CLOEXEC was not asked for */
	EXPECT_EQ(0, fcntl(d.fd, F_GETFD) & FD_CLOEXEC);
	close(d.fd);
	EXPECT_EQ(0, free_frame(self->fd, idx));
}

TEST_F(ksalloc, dmabuf_frame_not_held)
{
	uint32_t idx[NFRAMES];
	int fd;

	ASSERT_EQ(0, frame_pages(self->fd, NFRAMES));
	/* free frames, and indices past the end: -EINVAL */
	EXPECT_EQ(-EINVAL, export_dmabuf(self->fd, 0, O_RDWR));
	EXPECT_EQ(-EINVAL, export_dmabuf(self->fd, NFRAMES, O_RDWR));
	EXPECT_EQ(-EINVAL, export_dmabuf(self->fd, KSALLOC_DMABUF_POOL - 1,
					 O_RDWR));
	ASSERT_EQ(0, take_all(self->fd, idx, NFRAMES));
	fd = export_dmabuf(self->fd, idx[1], O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* its size is the stride */
	EXPECT_EQ((off_t)(2 * PAGE), lseek(fd, 0, SEEK_END));
	close(fd);
	/* freed, it is no longer user space's to export */
	ASSERT_EQ(0, free_frame(self->fd, idx[1]));
	EXPECT_EQ(-EINVAL, export_dmabuf(self->fd, idx[1], O_RDWR));
}

TEST_F(ksalloc, dmabuf_mmap_same_bytes)
{
	size_t len = NFRAMES * 2 * PAGE;
	unsigned char *pool, *whole, *one;
	struct ksalloc_frame fr = { .flags = KSALLOC_ALLOC_NOWAIT };
	int pfd, ffd, rfd;
	size_t i;

	ASSERT_EQ(0, frame_pages(self->fd, NFRAMES));
	pool = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(pool != MAP_FAILED);
	for (i = 0; i < len; i++)
		pool[i] = (unsigned char)(i * 7 + i / PAGE);

	pfd = export_dmabuf(self->fd, KSALLOC_DMABUF_POOL, O_RDWR);
	ASSERT_LE(0, pfd);
	/* the pool's dma-buf is as large as the descriptor's mapping */
	EXPECT_EQ((off_t)len, lseek(pfd, 0, SEEK_END));
	whole = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, pfd, 0);
	ASSERT_TRUE(whole != MAP_FAILED);
	EXPECT_EQ(0, memcmp(pool, whole, len));
	/* no more than that, never executable, never private */
	EXPECT_TRUE(mmap(NULL, len + PAGE, PROT_READ, MAP_SHARED, pfd, 0) ==
		    MAP_FAILED);
	EXPECT_TRUE(mmap(NULL, PAGE, PROT_READ | PROT_EXEC, MAP_SHARED, pfd,
			 0) == MAP_FAILED);
	EXPECT_EQ(EPERM, errno);
	EXPECT_TRUE(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, pfd, 0) ==
		    MAP_FAILED);
	EXPECT_EQ(EINVAL, errno);

	/* one frame: its bytes, at the offset ALLOC gave, both ways */
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_ALLOC, &fr));
	ffd = export_dmabuf(self->fd, fr.index, O_RDWR);
	ASSERT_LE(0, ffd);
	one = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ffd, 0);
	ASSERT_TRUE(one != MAP_FAILED);
	EXPECT_EQ(0, memcmp(pool + fr.offset, one, 2 * PAGE));
	memset(one + PAGE - 8, 0xa5, 16);
	EXPECT_EQ(0xa5, pool[fr.offset + PAGE - 8]);
	EXPECT_EQ(0xa5, whole[fr.offset + PAGE + 7]);
	/* a mapping at a page offset of the dma-buf */
	munmap(one, 2 * PAGE);
	one = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, ffd, PAGE);
	ASSERT_TRUE(one != MAP_FAILED);
	EXPECT_EQ(0, memcmp(pool + fr.offset + PAGE, one, PAGE));
	munmap(one, PAGE);

	/* a read-only dma-buf maps for reading only */
	rfd = export_dmabuf(self->fd, fr.index, O_RDONLY);
	ASSERT_LE(0, rfd);
	EXPECT_TRUE(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, rfd,
			 0) == MAP_FAILED);
	EXPECT_EQ(EACCES, errno);
	one = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, rfd, 0);
	ASSERT_TRUE(one != MAP_FAILED);
	EXPECT_EQ(pool[fr.offset], one[0]);
	munmap(one, PAGE);
	close(rfd);

	close(ffd);
	close(pfd);
	munmap(whole, len);
	munmap(pool, len);
}

TEST_F(ksalloc, dmabuf_sync)
{
	struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW };
	int fd, idx;

	ASSERT_EQ(0, frame_pages(self->fd, 2));
	idx = alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0);
	ASSERT_LE(0, idx);
	fd = export_dmabuf(self->fd, idx, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, xioctl(fd, DMA_BUF_IOCTL_SYNC, &sync));
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
	EXPECT_EQ(0, xioctl(fd, DMA_BUF_IOCTL_SYNC, &sync));
	sync.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ;
	EXPECT_EQ(0, xioctl(fd, DMA_BUF_IOCTL_SYNC, &sync));
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
	EXPECT_EQ(0, xioctl(fd, DMA_BUF_IOCTL_SYNC, &sync));
	/* the dma-buf core refuses what is not a sync */
	sync.flags = 0x100;
	EXPECT_EQ(-EINVAL, xioctl(fd, DMA_BUF_IOCTL_SYNC, &sync));
	close(fd);
}

/*
 * The dma-buf outlives the descriptor: its pages stay, with what was
 * written into them, and can still be mapped and written.
 */
TEST_F(ksalloc, dmabuf_outlives_descriptor)
{
	size_t len = 2 * 2 * PAGE;
	unsigned char *pool, *m;
	int pfd, ffd, idx;
	size_t i;

	ASSERT_EQ(0, frame_pages(self->fd, 2));
	pool = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(pool != MAP_FAILED);
	for (i = 0; i < len; i++)
		pool[i] = (unsigned char)(i ^ 0x5a);
	idx = alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0);
	ASSERT_LE(0, idx);
	pfd = export_dmabuf(self->fd, KSALLOC_DMABUF_POOL, O_RDWR);
	ASSERT_LE(0, pfd);
	ffd = export_dmabuf(self->fd, idx, O_RDWR);
	ASSERT_LE(0, ffd);
	munmap(pool, len);
	close(self->fd);
	self->fd = -1;

	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, pfd, 0);
	ASSERT_TRUE(m != MAP_FAILED);
	for (i = 0; i < len; i++) {
		if (m[i] != (unsigned char)(i ^ 0x5a)) {
			ASSERT_EQ((unsigned char)(i ^ 0x5a), m[i])
				TH_LOG("byte %zu", i);
		}
	}
	close(pfd);
	/* the mapping holds on after its dma-buf's descriptor is gone */
	m[0] = 0x11;
	ASSERT_EQ(0x11, m[0]);
	munmap(m, len);
	m = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, ffd, 0);
	ASSERT_TRUE(m != MAP_FAILED);
	EXPECT_EQ((unsigned char)((idx * 2 * PAGE + 1) ^ 0x5a), m[1]);
	/* the byte written through the pool's dma-buf, if it was this frame's */
	EXPECT_TRUE(idx != 0 || m[0] == 0x11);
	munmap(m, 2 * PAGE);
	close(ffd);
}
