// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * libksalloc: open, frame, map, allocate and free.
 *
 * struct ksalloc_allocator holds the descriptor and what the library
 * learnt once, when the framing was accepted: the framing as the kernel
 * reports it, the stride and the mapping of the pool.  None of it changes
 * afterwards, so the calls that only make an ioctl (alloc, free, batch,
 * status, stats, id, wait) read it from any thread without a lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "libksalloc.h"

struct ksalloc_allocator {
	int fd;
	int oflags;			/* O_ACCMODE bits of the open */
	int framed;			/* set by ksalloc_set_framing() */
	struct ksalloc_framing framing;	/* as accepted */
	uint32_t stride;		/* round_up(frame_size, alignment + 1) */
	void *pool;			/* the mapping, or NULL */
	size_t pool_size;		/* bytes of the mapping */
};

/* -errno of the last failed call. */
static int neg_errno(void)
{
	return errno ? -errno : -EIO;
}

/**
 * ksalloc_open() - open the allocator device, unframed
 * @ap: where the new allocator goes; NULL on failure
 * @path: the device, or NULL for KSALLOC_DEVICE_PATH
 * @oflags: O_RDWR or O_RDONLY, optionally O_NONBLOCK (ALLOC never waits);
 *	O_CLOEXEC is always added.  Not O_WRONLY: the pool could not be
 *	mapped (mmap(2) needs a descriptor open for reading).
 *
 * Return: 0, or a negative errno: -EINVAL for an access mode other than
 * O_RDWR and O_RDONLY, that of open(2), or -ENOMEM.
 */
int ksalloc_open(struct ksalloc_allocator **ap, const char *path, int oflags)
{
	struct ksalloc_allocator *a;
	int err;

	*ap = NULL;
	if ((oflags & O_ACCMODE) != O_RDWR && (oflags & O_ACCMODE) != O_RDONLY)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->fd = open(path ? path : KSALLOC_DEVICE_PATH, oflags | O_CLOEXEC);
	if (a->fd < 0) {
		err = neg_errno();
		free(a);
		return err;
	}
	a->oflags = oflags & O_ACCMODE;
	*ap = a;
	return 0;
}

/*
 * Learns the framing as accepted, and the stride the kernel uses.  The
 * kernel keeps the framing it accepted as given: should GET_STATUS fail,
 * @asked is it, and the handle is framed all the same.
 */
static void ksalloc_learn_framing(struct ksalloc_allocator *a,
				  const struct ksalloc_framing *asked)
{
	struct ksalloc_status st;

	a->framing = ksalloc_query_status(a, &st) ? *asked : st.framing;
	/* No overflow: the kernel accepts a stride of at most U32_MAX. */
	a->stride = (a->framing.frame_size + a->framing.alignment) &
		    ~a->framing.alignment;
	a->framed = 1;
}

/**
 * ksalloc_set_framing() - give an allocator its pool (KSALLOC_IOC_SET_FRAMING)
 * @a: an allocator opened for writing, not framed yet
 * @framing: the framing wanted; reserved must be 0
 *
 * A refused framing changes nothing: @a can be framed again.
 *
 * Return: 0; -EBUSY when @a is framed already, -EINVAL for a bad framing
 * or one over max_frames or max_frame_size, -ENOMEM over the module's byte
 * limits (max_pool_bytes, max_total_bytes), -EBADF on a read-only
 * descriptor.
 */
int ksalloc_set_framing(struct ksalloc_allocator *a,
			const struct ksalloc_framing *framing)
{
	struct ksalloc_framing f = *framing;

	if (ioctl(a->fd, KSALLOC_IOC_SET_FRAMING, &f))
		return neg_errno();
	ksalloc_learn_framing(a, framing);
	return 0;
}

/**
 * ksalloc_open_framed() - open /dev/ksalloc read-write, frame it, map it
 * @ap: where the new allocator goes; NULL on failure
 * @framing: the framing
 *
 * Return: 0, or the negative errno of the step that failed (open,
 * framing or mmap), with nothing left open.
 */
int ksalloc_open_framed(struct ksalloc_allocator **ap,
			const struct ksalloc_framing *framing)
{
	int err;

	err = ksalloc_open(ap, NULL, O_RDWR);
	if (err)
		return err;
	err = ksalloc_set_framing(*ap, framing);
	if (!err)
		err = ksalloc_map(*ap);
	if (err) {
		ksalloc_destroy(*ap);
		*ap = NULL;
	}
	return err;
}

/**
 * ksalloc_open_frames() - ksalloc_open_framed() of a NONPAGED pool
 * @ap: where the new allocator goes; NULL on failure
 * @frames: frames in the pool
 * @frame_size: bytes per frame
 * @alignment: alignment mask, 2^n - 1 (0: none)
 *
 * Return: as ksalloc_open_framed().
 */
int ksalloc_open_frames(struct ksalloc_allocator **ap, uint32_t frames,
			uint32_t frame_size, uint32_t alignment)
{
	struct ksalloc_framing f = {
		.pool_type = KSALLOC_POOL_NONPAGED,
		.frames = frames,
		.frame_size = frame_size,
		.alignment = alignment,
	};

	return ksalloc_open_framed(ap, &f);
}

/**
 * ksalloc_destroy() - unmap and close an allocator
 * @a: the allocator, or NULL
 *
 * The frames this process still holds go back with the descriptor; the
 * kernel keeps the memory until nobody uses it.
 */
void ksalloc_destroy(struct ksalloc_allocator *a)
{
	if (!a)
		return;
	ksalloc_unmap(a);
	close(a->fd);
	free(a);
}

/**
 * ksalloc_fd() - the descriptor, for poll(2), epoll or another process
 * @a: the allocator
 *
 * It stays the library's: do not close it.
 *
 * Return: the file descriptor.
 */
int ksalloc_fd(const struct ksalloc_allocator *a)
{
	return a->fd;
}

/**
 * ksalloc_get_framing() - the framing as the kernel accepted it
 * @a: the allocator
 *
 * Return: the framing, or NULL before ksalloc_set_framing() succeeded.
 */
const struct ksalloc_framing *ksalloc_get_framing(const struct ksalloc_allocator *a)
{
	return a->framed ? &a->framing : NULL;
}

/**
 * ksalloc_stride() - bytes from one frame to the next in the pool
 * @a: the allocator
 *
 * Return: the stride, 0 before the framing.
 */
uint32_t ksalloc_stride(const struct ksalloc_allocator *a)
{
	return a->stride;
}

/**
 * ksalloc_map() - map the pool, shared, readable and writable if @a is
 * @a: a framed allocator
 *
 * Mapping twice is not an error: the first mapping stays.
 *
 * Return: 0, -EBADFD before the framing, -EOVERFLOW for a pool larger
 * than the address space (32-bit), or the negative errno of mmap(2).
 */
int ksalloc_map(struct ksalloc_allocator *a)
{
	uint64_t page = sysconf(_SC_PAGESIZE), len;
	int prot = PROT_READ;
	void *p;

	if (a->pool)
		return 0;
	if (!a->framed)
		return -EBADFD;
	if (a->oflags != O_RDONLY)
		prot |= PROT_WRITE;
	/* At most U32_MAX * U32_MAX + a page: no overflow in 64 bits. */
	len = (uint64_t)a->stride * a->framing.frames;
	len = (len + page - 1) & ~(page - 1);
	if (len > SIZE_MAX)
		return -EOVERFLOW;
	p = mmap(NULL, len, prot, MAP_SHARED, a->fd, 0);
	if (p == MAP_FAILED)
		return neg_errno();
	a->pool = p;
	a->pool_size = len;
	return 0;
}

/**
 * ksalloc_unmap() - undo ksalloc_map()
 * @a: the allocator
 *
 * The mapping holds the allocator open: unmap before a close that must
 * end it.  Frame addresses are invalid afterwards.
 */
void ksalloc_unmap(struct ksalloc_allocator *a)
{
	if (!a->pool)
		return;
	munmap(a->pool, a->pool_size);
	a->pool = NULL;
	a->pool_size = 0;
}

/**
 * ksalloc_pool() - the mapping of the pool
 * @a: the allocator
 *
 * Return: its address, or NULL when not mapped.
 */
void *ksalloc_pool(const struct ksalloc_allocator *a)
{
	return a->pool;
}

/**
 * ksalloc_pool_size() - bytes mapped by ksalloc_map()
 * @a: the allocator
 *
 * Return: the size of the mapping, 0 when not mapped.
 */
size_t ksalloc_pool_size(const struct ksalloc_allocator *a)
{
	return a->pool_size;
}

/**
 * ksalloc_frame_addr() - where frame @index is in the mapping
 * @a: a mapped allocator
 * @index: a frame number
 *
 * Return: the frame's address (the offset ALLOC reports, in the mapping),
 * or NULL when @a is not mapped or @index is out of range (of the framing
 * or of the mapping).
 */
void *ksalloc_frame_addr(const struct ksalloc_allocator *a, uint32_t index)
{
	uint64_t off = (uint64_t)index * a->stride;

	if (!a->pool || index >= a->framing.frames ||
	    off + a->framing.frame_size > a->pool_size)
		return NULL;
	return (char *)a->pool + off;
}

static int ksalloc_alloc_one(struct ksalloc_allocator *a, uint32_t *index,
			     uint32_t flags, int64_t timeout_ns)
{
	struct ksalloc_frame fr = { .flags = flags, .timeout_ns = timeout_ns };

	if (ioctl(a->fd, KSALLOC_IOC_ALLOC, &fr))
		return neg_errno();
	*index = fr.index;
	return 0;
}

/**
 * ksalloc_alloc() - take a frame, waiting as long as it takes
 * @a: a framed allocator
 * @index: the frame's number
 *
 * Waiters are served first come, first served.  On a descriptor opened
 * with O_NONBLOCK this never waits.
 *
 * Return: 0; -EINTR on a signal, -ENODEV when the allocator is being torn
 * down, -EAGAIN under O_NONBLOCK.
 */
int ksalloc_alloc(struct ksalloc_allocator *a, uint32_t *index)
{
	return ksalloc_alloc_one(a, index, 0, -1);
}

/**
 * ksalloc_alloc_nowait() - take a frame if one is free
 * @a: a framed allocator
 * @index: the frame's number
 *
 * Return: 0, or -EAGAIN when none is free.
 */
int ksalloc_alloc_nowait(struct ksalloc_allocator *a, uint32_t *index)
{
	return ksalloc_alloc_one(a, index, KSALLOC_ALLOC_NOWAIT, 0);
}

/**
 * ksalloc_alloc_timed() - take a frame, waiting at most @timeout_ns
 * @a: a framed allocator
 * @index: the frame's number
 * @timeout_ns: < 0 no limit, 0 never wait, > 0 nanoseconds
 *
 * Return: 0; -ETIMEDOUT, -EAGAIN (@timeout_ns 0), -EINTR, -ENODEV.
 */
int ksalloc_alloc_timed(struct ksalloc_allocator *a, uint32_t *index,
			int64_t timeout_ns)
{
	return ksalloc_alloc_one(a, index, 0, timeout_ns);
}

/**
 * ksalloc_free() - give a frame back
 * @a: a framed allocator
 * @index: a frame this process holds
 *
 * Return: 0, or -EINVAL for a frame user space does not hold.
 */
int ksalloc_free(struct ksalloc_allocator *a, uint32_t index)
{
	struct ksalloc_frame fr = { .index = index };

	if (ioctl(a->fd, KSALLOC_IOC_FREE, &fr))
		return neg_errno();
	return 0;
}

/**
 * ksalloc_alloc_batch() - take up to @count free frames, never waiting
 * @a: a framed allocator
 * @indices: room for @count frame numbers
 * @count: how many are wanted, at most INT32_MAX
 *
 * Return: how many were taken (1..@count), -EAGAIN when none is free.
 */
int ksalloc_alloc_batch(struct ksalloc_allocator *a, uint32_t *indices,
			uint32_t count)
{
	struct ksalloc_frame_batch b = {
		.indices = (uintptr_t)indices,
		.count = count,
	};

	if (count > INT32_MAX)
		return -EINVAL;
	if (ioctl(a->fd, KSALLOC_IOC_ALLOC_BATCH, &b))
		return neg_errno();
	return (int)b.count;
}

/**
 * ksalloc_free_batch() - give frames back, in order
 * @a: a framed allocator
 * @indices: the frame numbers
 * @count: how many
 * @done: how many were freed, also on failure; may be NULL
 *
 * Return: 0 when all were freed; -EINVAL when @indices[*@done] is a frame
 * that user space does not hold (those before it are freed).
 */
int ksalloc_free_batch(struct ksalloc_allocator *a, const uint32_t *indices,
		       uint32_t count, uint32_t *done)
{
	struct ksalloc_frame_batch b = {
		.indices = (uintptr_t)indices,
		.count = count,
	};
	int err = 0;

	if (ioctl(a->fd, KSALLOC_IOC_FREE_BATCH, &b))
		err = neg_errno();
	if (done)
		*done = b.count;
	return err;
}

/**
 * ksalloc_query_status() - framing and frames outstanding (GET_STATUS)
 * @a: the allocator
 * @st: the status
 *
 * Return: 0, or -EBADFD before the framing.
 */
int ksalloc_query_status(struct ksalloc_allocator *a, struct ksalloc_status *st)
{
	if (ioctl(a->fd, KSALLOC_IOC_GET_STATUS, st))
		return neg_errno();
	return 0;
}

/**
 * ksalloc_query_stats() - the allocator's counters (GET_STATS)
 * @a: the allocator
 * @st: the counters
 *
 * Return: 0, or -EBADFD before the framing.
 */
int ksalloc_query_stats(struct ksalloc_allocator *a, struct ksalloc_stats *st)
{
	if (ioctl(a->fd, KSALLOC_IOC_GET_STATS, st))
		return neg_errno();
	return 0;
}

/**
 * ksalloc_query_id() - the allocator's id (GET_ID)
 * @a: the allocator
 * @id: the id: never 0, the name of its directory in debugfs
 *
 * Return: 0, -EBADFD before the framing, -ENOTTY from a module without it.
 */
int ksalloc_query_id(struct ksalloc_allocator *a, uint64_t *id)
{
	__u64 v;

	if (ioctl(a->fd, KSALLOC_IOC_GET_ID, &v))
		return neg_errno();
	*id = v;
	return 0;
}

/**
 * ksalloc_export_dmabuf() - a dma-buf of the pool or of a frame
 * (EXPORT_DMABUF)
 * @a: the allocator, framed, open for writing
 * @index: a frame held through @a, or KSALLOC_EXPORT_POOL for the pool
 * @fd_flags: O_CLOEXEC and O_RDONLY, O_WRONLY or O_RDWR
 *
 * The dma-buf can be handed to V4L2 (V4L2_MEMORY_DMABUF), DRM PRIME or
 * any importer, and mapped with mmap(); it keeps the pool alive after
 * ksalloc_destroy().  Close it with close().
 *
 * Return: the new descriptor, or -EINVAL (a frame not held, a stride that
 * is not a multiple of the page size, a paged pool, other flags), -EBADF
 * (a read-only allocator), -EBADFD before the framing, -ENOTTY from a
 * module without it.
 */
int ksalloc_export_dmabuf(struct ksalloc_allocator *a, uint32_t index,
			  int fd_flags)
{
	struct ksalloc_dmabuf d = {
		.fd_flags = (uint32_t)fd_flags, .index = index, .fd = -1 };

	if (ioctl(a->fd, KSALLOC_IOC_EXPORT_DMABUF, &d))
		return neg_errno();
	return d.fd;
}

/**
 * ksalloc_query_functiontable() - switch the dispatch interface on and
 * report it (GET_FUNCTIONTABLE)
 * @a: an allocator opened for writing
 * @ft: what the kernel reports; the addresses are 0 unless kptr_restrict
 *	lets this process see kernel pointers
 *
 * Return: 0, -EOPNOTSUPP for a PAGED pool, -EBADF on a read-only
 * descriptor.
 */
int ksalloc_query_functiontable(struct ksalloc_allocator *a,
				struct ksalloc_functiontable_info *ft)
{
	memset(ft, 0, sizeof(*ft));
	if (ioctl(a->fd, KSALLOC_IOC_GET_FUNCTIONTABLE, ft))
		return neg_errno();
	return 0;
}

/**
 * ksalloc_wait_free() - wait until a frame is free, without taking it
 * @a: a framed allocator
 * @timeout_ns: < 0 no limit, 0 only look, > 0 nanoseconds
 *
 * Another thread or process may take the frame first: this only says that
 * one was free (EPOLLOUT).  Use ksalloc_alloc_timed() to wait for a frame
 * of one's own.
 *
 * Return: 0 when a frame is free, -ETIMEDOUT when none became free in
 * time, -EINTR on a signal, -EBADFD before the framing, -EBADF when the
 * descriptor is not open (POLLNVAL).
 */
int ksalloc_wait_free(struct ksalloc_allocator *a, int64_t timeout_ns)
{
	struct pollfd pfd = { .fd = a->fd, .events = POLLOUT };
	struct timespec ts, *tsp = NULL;
	int n;

	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tsp = &ts;
	}
	n = ppoll(&pfd, 1, tsp, NULL);
	if (n < 0)
		return neg_errno();
	if (n == 0)
		return -ETIMEDOUT;
	if (pfd.revents & POLLNVAL)
		return -EBADF;
	if (pfd.revents & POLLERR)
		return -EBADFD;
	return pfd.revents & POLLOUT ? 0 : -EIO;
}
