// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_stream - the stream machinery of ksalloc_producer.ko
 *
 * What /dev/ksalloc_producer and /dev/ksalloc_edu share (see
 * ksalloc_stream.h): attach and detach of an allocator, the read() queue,
 * poll(), the counters, HOLD, CREATE and the frame format.
 *
 * Every sequence number a source hands out is either delivered to read()
 * in a frame or counted as a drop: no free frame (the consumer is behind),
 * the read() queue full, or a source so late that it would have to fill
 * more than one burst of frames.  A source never waits for a frame.
 *
 * Detach, close of the stream's device and close of the allocator may come
 * in any order.  Detaching stops the source, frees every frame still queued
 * or held back through the table and drops the reference on the allocator
 * (closes it, when CREATE made it).  An allocator closed while attached makes
 * allocate_frame fail with -ENODEV: production stops there and read() sees
 * the end of the stream once the queue is empty.
 */

#include <linux/build_bug.h>
#include <linux/crc32.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/slab.h>
#include <linux/sizes.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "ksalloc_stream.h"

static_assert(sizeof(struct ksalloc_producer_frame) == 32);
static_assert(sizeof(struct ksalloc_producer_attach) == 8);
static_assert(sizeof(struct ksalloc_producer_stats) == 64);
static_assert(sizeof(struct ksalloc_producer_create) == 32);

/* Most indices the read() queue holds. */
#define KSALLOC_STREAM_MAX_QUEUE	SZ_1M
/* Indices moved per round when the queue is emptied. */
#define KSALLOC_STREAM_CHUNK		64

/*
 * Writes payload bytes @start .. @start + @len of frame @seq to @buf: word i
 * of the payload is seq ^ (i * KSALLOC_PRODUCER_PATTERN), little-endian.
 */
static void ksalloc_stream_payload(u8 *buf, u32 start, u32 len, u64 seq)
{
	u32 i, end = start + len, b, n;
	__le64 word;

	for (i = start; i < end; i += n) {
		b = i % sizeof(word);
		n = min_t(u32, sizeof(word) - b, end - i);
		word = cpu_to_le64(seq ^ (u64)(i / sizeof(word)) *
				   KSALLOC_PRODUCER_PATTERN);
		memcpy(buf + i - start, (u8 *)&word + b, n);
	}
}

/**
 * ksalloc_stream_fill() - write the whole of frame @seq in place
 * @frame: the frame
 * @frame_size: its size, at least the header's
 * @seq: its sequence number
 *
 * A frame may start at any byte (alignment mask 0), so the header is built
 * aside and copied in.
 */
void ksalloc_stream_fill(void *frame, u32 frame_size, u64 seq)
{
	struct ksalloc_producer_frame hdr = {
		.magic = KSALLOC_PRODUCER_MAGIC,
		.header_size = sizeof(hdr),
		.sequence = seq,
		.length = frame_size - sizeof(hdr),
	};
	u8 *payload = frame + sizeof(hdr);

	ksalloc_stream_payload(payload, 0, hdr.length, seq);
	hdr.checksum = ~crc32_le(~0U, payload, hdr.length);
	hdr.timestamp_ns = ktime_get_ns();
	memcpy(frame, &hdr, sizeof(hdr));
}

/**
 * ksalloc_stream_header() - the header of frame @seq, for a chunked fill
 * @hdr: filled in, CRC included
 * @frame_size: the frame's size, at least the header's
 * @seq: its sequence number
 * @scratch: a buffer the payload is generated into, @scratch_size at a time
 * @scratch_size: its size, nonzero
 */
void ksalloc_stream_header(struct ksalloc_producer_frame *hdr, u32 frame_size,
			   u64 seq, void *scratch, u32 scratch_size)
{
	u32 crc = ~0U, off, n;

	*hdr = (struct ksalloc_producer_frame){
		.magic = KSALLOC_PRODUCER_MAGIC,
		.header_size = sizeof(*hdr),
		.sequence = seq,
		.length = frame_size - sizeof(*hdr),
	};
	for (off = 0; off < hdr->length; off += n) {
		n = min(scratch_size, hdr->length - off);
		ksalloc_stream_payload(scratch, off, n, seq);
		crc = crc32_le(crc, scratch, n);
	}
	hdr->checksum = ~crc;
	hdr->timestamp_ns = ktime_get_ns();
}

/**
 * ksalloc_stream_frame_bytes() - bytes @off .. @off + @len of a frame
 * @buf: where they go
 * @hdr: the frame's header, from ksalloc_stream_header()
 * @off: the first byte, from the start of the frame
 * @len: how many; @off + @len at most the frame's size
 */
void ksalloc_stream_frame_bytes(void *buf, const struct ksalloc_producer_frame *hdr,
				u32 off, u32 len)
{
	u32 n = 0;

	if (off < sizeof(*hdr)) {
		n = min_t(u32, sizeof(*hdr) - off, len);
		memcpy(buf, (const u8 *)hdr + off, n);
	}
	if (len > n)
		ksalloc_stream_payload(buf + n, off + n - sizeof(*hdr), len - n,
				       hdr->sequence);
}

/* Counts @n lost sequence numbers in @counter.  Called with @lock held. */
static void ksalloc_stream_drop_locked(struct ksalloc_stream *s, u64 *counter,
				       u64 n)
{
	lockdep_assert_held(&s->lock);
	*counter += n;
	s->stats.drops += n;
	s->stats.sequence += n;
}

/**
 * ksalloc_stream_drop() - count sequence numbers the source lost
 * @s: the stream
 * @why: no free frame, or an overrun
 * @n: how many
 */
void ksalloc_stream_drop(struct ksalloc_stream *s,
			 enum ksalloc_stream_drop why, u64 n)
{
	spin_lock_bh(&s->lock);
	ksalloc_stream_drop_locked(s, why == KSALLOC_STREAM_NO_FRAME ?
				   &s->stats.no_frame : &s->stats.overruns, n);
	spin_unlock_bh(&s->lock);
}

/**
 * ksalloc_stream_take() - take a frame to fill, never waiting
 * @s: the stream, with a running source
 * @frame: the frame
 *
 * Return: 0; -ENOMEM when none is free (the caller counts the drop);
 * -ENODEV once the allocator is closed: the stream has ended, and the
 * source must stop taking frames.
 */
int ksalloc_stream_take(struct ksalloc_stream *s, void **frame)
{
	int ret = s->table.allocate_frame(s->alloc, frame);

	if (ret == -ENODEV)
		ksalloc_stream_end(s);
	return ret ? (ret == -ENODEV ? ret : -ENOMEM) : 0;
}

/**
 * ksalloc_stream_end() - end the stream: no more frames will come
 * @s: the stream
 *
 * For an allocator that was closed, or a source that cannot go on: read()
 * returns what is queued, then the end, and SET_RATE gives -ENODEV until
 * the detach.
 */
void ksalloc_stream_end(struct ksalloc_stream *s)
{
	spin_lock_bh(&s->lock);
	s->flags |= KSALLOC_PRODUCER_F_CLOSED;
	s->stats.rate = 0;
	spin_unlock_bh(&s->lock);
	wake_up_interruptible_poll(&s->wq, EPOLLHUP);
}

/**
 * ksalloc_stream_deliver() - queue a filled frame for read()
 * @s: the stream
 * @frame: a frame of ksalloc_stream_take(), holding the next sequence number
 *
 * The frame is queued, or freed and counted as a drop when the queue is
 * full.  Either way its sequence number is used.  The caller wakes the
 * readers with ksalloc_stream_wake().
 *
 * Return: whether it was queued.
 */
bool ksalloc_stream_deliver(struct ksalloc_stream *s, void *frame)
{
	u32 index = ksalloc_frame_index(s->alloc, frame);
	bool full;

	spin_lock_bh(&s->lock);
	full = !kfifo_put(&s->fifo, index);
	if (full) {
		ksalloc_stream_drop_locked(s, &s->stats.queue_full, 1);
	} else {
		s->stats.produced++;
		s->stats.sequence++;
	}
	spin_unlock_bh(&s->lock);

	if (full)
		s->table.free_frame(s->alloc, frame);
	return !full;
}

/**
 * ksalloc_stream_wake() - wake the readers after ksalloc_stream_deliver()
 * @s: the stream
 */
void ksalloc_stream_wake(struct ksalloc_stream *s)
{
	wake_up_interruptible_poll(&s->wq, EPOLLIN | EPOLLRDNORM);
}

/* Whether no more indices will come: detached, or the allocator closed. */
static bool ksalloc_stream_ended(struct ksalloc_stream *s)
{
	lockdep_assert_held(&s->lock);
	return s->flags != KSALLOC_PRODUCER_F_ATTACHED;
}

/* Whether read() has something to return: an index, or the end. */
static bool ksalloc_stream_readable(struct ksalloc_stream *s, bool *ended)
{
	bool ret;

	spin_lock_bh(&s->lock);
	*ended = ksalloc_stream_ended(s);
	ret = !kfifo_is_empty(&s->fifo) || *ended;
	spin_unlock_bh(&s->lock);
	return ret;
}

/*
 * Takes up to @n indices off the queue into @idx, with a reference on the
 * allocator they belong to (*@alloc, NULL when detached) and its table, so
 * that they outlive a detach while they are copied out without @mutex.
 * Returns how many, or -EINTR.
 */
static int ksalloc_stream_dequeue(struct ksalloc_stream *s, u32 *idx,
				  unsigned int n, struct ksalloc **alloc,
				  struct ksalloc_function_table *table)
{
	int ret;

	*alloc = NULL;
	ret = mutex_lock_interruptible(&s->mutex);
	if (ret)
		return ret;
	if (s->alloc) {
		spin_lock_bh(&s->lock);
		n = kfifo_out(&s->fifo, idx, n);
		spin_unlock_bh(&s->lock);
		if (n) {
			ksalloc_get(s->alloc);
			*alloc = s->alloc;
			*table = s->table;
		}
	} else {
		n = 0;
	}
	mutex_unlock(&s->mutex);
	return n;
}

/*
 * Copies @n dequeued indices to @buf, outside @mutex: a buffer that faults
 * (userfaultfd, say) must not stall a detach, which the device's removal
 * waits for.  Each index copied is handed to user space, which frees it; an
 * index not copied, or of an allocator closed meanwhile, is freed back, so
 * a bad buffer loses no frame.  Returns the number of indices copied.
 */
static unsigned int ksalloc_stream_copy_out(struct ksalloc *alloc,
					    const struct ksalloc_function_table *table,
					    u32 __user *buf, const u32 *idx,
					    unsigned int n)
{
	unsigned int copied, i;
	void *frame;

	copied = n - DIV_ROUND_UP(copy_to_user(buf, idx, n * sizeof(u32)),
				  sizeof(u32));
	for (i = 0; i < n; i++) {
		frame = ksalloc_frame_ptr(alloc, idx[i]);
		if (i >= copied || ksalloc_frame_to_user(alloc, frame))
			table->free_frame(alloc, frame);
	}
	ksalloc_put(alloc);
	return copied;
}

/*
 * Moves up to @count indices from the queue to @buf, a chunk at a time.
 * Returns the number copied, or -EFAULT or -EINTR when none was.
 */
static ssize_t ksalloc_stream_read_indices(struct ksalloc_stream *s,
					   u32 __user *buf, size_t count)
{
	struct ksalloc_function_table table;
	u32 idx[KSALLOC_STREAM_CHUNK];
	struct ksalloc *alloc;
	unsigned int copied;
	size_t done = 0;
	int n;

	while (done < count) {
		n = ksalloc_stream_dequeue(s, idx, min_t(size_t, count - done,
							 ARRAY_SIZE(idx)),
					   &alloc, &table);
		if (n <= 0)
			return done ? done : n;
		copied = ksalloc_stream_copy_out(alloc, &table, buf + done, idx, n);
		done += copied;
		if (copied < (unsigned int)n)
			return done ? done : -EFAULT;
	}
	return done;
}

/**
 * ksalloc_stream_read() - read() of a stream's device
 * @file: its file; private_data is the stream
 * @buf: where the indices go
 * @count: bytes; whole __u32s only
 * @ppos: unused
 *
 * Blocks until at least one index is queued, unless O_NONBLOCK.
 *
 * Return: bytes read, 0 at the end of the stream, or -errno.
 */
ssize_t ksalloc_stream_read(struct file *file, char __user *buf, size_t count,
			    loff_t *ppos)
{
	struct ksalloc_stream *s = file->private_data;
	bool ended;
	ssize_t ret;

	count /= sizeof(u32);
	if (!count)
		return -EINVAL;

	for (;;) {
		if (!ksalloc_stream_readable(s, &ended)) {
			if (file->f_flags & O_NONBLOCK)
				return -EAGAIN;
			ret = wait_event_interruptible(s->wq,
						       ksalloc_stream_readable(s, &ended));
			if (ret)
				return ret;
		}

		ret = ksalloc_stream_read_indices(s, (u32 __user *)buf, count);
		if (ret)
			return ret < 0 ? ret : ret * sizeof(u32);
		/* Nothing was queued: the end, or another reader was faster. */
		if (ended)
			return 0;
	}
}

/**
 * ksalloc_stream_poll() - poll() of a stream's device
 * @file: its file; private_data is the stream
 * @wait: the poll table
 *
 * Return: EPOLLIN while indices are queued, EPOLLHUP at the end.
 */
__poll_t ksalloc_stream_poll(struct file *file, poll_table *wait)
{
	struct ksalloc_stream *s = file->private_data;
	__poll_t mask = 0;

	poll_wait(file, &s->wq, wait);
	spin_lock_bh(&s->lock);
	if (!kfifo_is_empty(&s->fifo))
		mask = EPOLLIN | EPOLLRDNORM;
	else if (ksalloc_stream_ended(s))
		mask = EPOLLHUP;
	spin_unlock_bh(&s->lock);
	return mask;
}

/* Drops the stream's hold on @alloc: its reference, or its handle. */
static void ksalloc_stream_let_go(struct ksalloc *alloc, bool created)
{
	if (created)
		ksalloc_close(alloc);
	else
		ksalloc_put(alloc);
}

/*
 * Attaches @alloc, whose reference (or handle, when @created) the stream
 * takes over, also on failure.
 */
static int ksalloc_stream_attach_alloc(struct ksalloc_stream *s,
				       struct ksalloc *alloc, bool created)
{
	struct ksalloc_status status;
	typeof(s->fifo) fifo;
	u32 entries, stride;
	u32 *buf, *old;
	int ret;

	lockdep_assert_held(&s->mutex);
	ret = ksalloc_get_function_table(alloc, &s->table);
	if (ret)
		goto err_let_go;
	ksalloc_get_status(alloc, &status);
	if (status.framing.frame_size < sizeof(struct ksalloc_producer_frame)) {
		ret = -EINVAL;
		goto err_let_go;
	}

	entries = roundup_pow_of_two(clamp_t(u32, status.framing.frames, 2,
					     KSALLOC_STREAM_MAX_QUEUE));
	buf = kvmalloc_array(entries, sizeof(u32), GFP_KERNEL_ACCOUNT);
	if (!buf) {
		ret = -ENOMEM;
		goto err_let_go;
	}
	ret = kfifo_init(&fifo, buf, entries * sizeof(u32));
	if (ret)
		goto err_free_buf;
	stride = status.framing.frames < 2 ? status.framing.frame_size :
		 (u8 *)ksalloc_frame_ptr(alloc, 1) -
		 (u8 *)ksalloc_frame_ptr(alloc, 0);

	s->alloc = alloc;
	s->created = created;
	s->frame_size = status.framing.frame_size;
	s->rate = 0;
	ret = s->ops->attach ? s->ops->attach(s, created) : 0;
	if (ret) {
		s->alloc = NULL;
		s->created = false;
		goto err_free_buf;
	}

	/* The old queue is empty and the source stopped: swap in the new one. */
	spin_lock_bh(&s->lock);
	old = s->fifo.kfifo.data;
	s->fifo = fifo;
	memset(&s->stats, 0, sizeof(s->stats));
	s->stats.frame_stride = stride;
	s->flags = KSALLOC_PRODUCER_F_ATTACHED;
	spin_unlock_bh(&s->lock);
	kvfree(old);
	return 0;

err_free_buf:
	kvfree(buf);
err_let_go:
	ksalloc_stream_let_go(alloc, created);
	return ret;
}

/*
 * The allocator of a /dev/ksalloc descriptor, which must be open for
 * writing (SPEC 7.2): frames are written into, and freed through it.
 */
static struct ksalloc *ksalloc_stream_fdget(u32 fd)
{
	struct ksalloc *alloc;
	struct file *file;

	file = fget(fd);
	if (!file)
		return ERR_PTR(-EBADF);
	alloc = file->f_mode & FMODE_WRITE ? ksalloc_get_file(file) :
		ERR_PTR(-EBADF);
	fput(file);
	return alloc;
}

static int ksalloc_stream_attach(struct ksalloc_stream *s,
				 const struct ksalloc_producer_attach *arg)
{
	struct ksalloc *alloc;

	lockdep_assert_held(&s->mutex);
	if (arg->flags || arg->fd > INT_MAX)
		return -EINVAL;
	if (s->alloc)
		return -EBUSY;

	alloc = ksalloc_stream_fdget(arg->fd);
	if (IS_ERR(alloc))
		return PTR_ERR(alloc);
	return ksalloc_stream_attach_alloc(s, alloc, false);
}

/*
 * KSALLOC_PRODUCER_IOC_CREATE: an allocator made by the source, attached,
 * and a new /dev/ksalloc descriptor of it for user space, in *@fd.
 */
static int ksalloc_stream_create(struct ksalloc_stream *s,
				 const struct ksalloc_producer_create *arg,
				 int *fd)
{
	struct ksalloc *alloc;
	int ret;

	lockdep_assert_held(&s->mutex);
	if (arg->flags & ~KSALLOC_PRODUCER_CREATE_CONTIG)
		return -EINVAL;
	if (s->alloc)
		return -EBUSY;

	alloc = s->ops->create(s, &arg->framing, arg->flags);
	if (IS_ERR(alloc))
		return PTR_ERR(alloc);
	ret = ksalloc_stream_attach_alloc(s, alloc, true);
	if (ret)
		return ret;
	*fd = ksalloc_install_fd(alloc, O_CLOEXEC);
	if (*fd < 0) {
		ksalloc_stream_detach(s);
		return *fd;
	}
	return 0;
}

/* Stops the source and frees every frame it queued; called with @mutex. */
static void ksalloc_stream_drain(struct ksalloc_stream *s)
{
	u32 idx[KSALLOC_STREAM_CHUNK];
	unsigned int n, i;

	lockdep_assert_held(&s->mutex);
	/* A source that failed to stop keeps the frame it could not take back. */
	s->ops->stop(s);
	do {
		spin_lock_bh(&s->lock);
		n = kfifo_out(&s->fifo, idx, ARRAY_SIZE(idx));
		if (!n) {
			s->flags = 0;
			s->stats.rate = 0;
		}
		spin_unlock_bh(&s->lock);
		for (i = 0; i < n; i++)
			s->table.free_frame(s->alloc,
					    ksalloc_frame_ptr(s->alloc, idx[i]));
	} while (n);
	while (s->nr_held)
		s->table.free_frame(s->alloc, s->held[--s->nr_held]);
}

/**
 * ksalloc_stream_detach() - stop the source and let the allocator go
 * @s: the stream, its mutex held
 *
 * Return: 0, or -ENOTCONN when nothing is attached.
 */
int ksalloc_stream_detach(struct ksalloc_stream *s)
{
	lockdep_assert_held(&s->mutex);
	if (!s->alloc)
		return -ENOTCONN;

	ksalloc_stream_drain(s);
	if (s->ops->detach)
		s->ops->detach(s);
	ksalloc_stream_let_go(s->alloc, s->created);
	s->alloc = NULL;
	s->created = false;
	s->rate = 0;
	wake_up_interruptible_poll(&s->wq, EPOLLHUP);
	return 0;
}

/*
 * Stops the source, and starts it again at @rate unless that is 0.  A
 * source that cannot stop cleanly (a device that no longer answers) fails
 * with its errno, and so does every rate after it.
 */
static int ksalloc_stream_set_rate(struct ksalloc_stream *s, u32 rate)
{
	bool closed;
	int ret;

	lockdep_assert_held(&s->mutex);
	if (!s->alloc)
		return -ENOTCONN;

	ret = s->ops->stop(s);
	spin_lock_bh(&s->lock);
	closed = s->flags & KSALLOC_PRODUCER_F_CLOSED;
	s->stats.rate = ret || closed ? 0 : rate;
	spin_unlock_bh(&s->lock);
	if (ret)
		return ret;
	if (closed)
		return -ENODEV;

	s->rate = rate;
	if (rate)
		s->ops->start(s);
	return 0;
}

/*
 * Takes one frame through the table and keeps it, held by kernel code,
 * until the detach.  Tells user space its index, which is all it may do
 * with the frame: look at it through mmap().
 */
static int ksalloc_stream_hold(struct ksalloc_stream *s, u32 *index)
{
	void *frame;
	int ret;

	lockdep_assert_held(&s->mutex);
	if (!s->alloc)
		return -ENOTCONN;
	if (s->nr_held == ARRAY_SIZE(s->held))
		return -ENOSPC;
	ret = s->table.allocate_frame(s->alloc, &frame);
	if (ret)
		return ret;
	*index = ksalloc_frame_index(s->alloc, frame);
	s->held[s->nr_held++] = frame;
	return 0;
}

static int ksalloc_stream_get_stats(struct ksalloc_stream *s, void __user *argp)
{
	struct ksalloc_producer_stats stats;

	spin_lock_bh(&s->lock);
	stats = s->stats;
	stats.queued = kfifo_len(&s->fifo);
	stats.flags = s->flags;
	spin_unlock_bh(&s->lock);

	return copy_to_user(argp, &stats, sizeof(stats)) ? -EFAULT : 0;
}

/*
 * The ioctls below copy from and to user space only without @mutex: the
 * removal of a device takes @mutex under the device lock, and must not
 * wait for a user buffer that faults (userfaultfd, a slow mapping).  A
 * buffer that is written to after the work is proven writable first.
 */
static int ksalloc_stream_ioc_attach(struct ksalloc_stream *s,
				     void __user *argp)
{
	struct ksalloc_producer_attach arg;
	int ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	mutex_lock(&s->mutex);
	ret = ksalloc_stream_attach(s, &arg);
	mutex_unlock(&s->mutex);
	return ret;
}

static int ksalloc_stream_ioc_detach(struct ksalloc_stream *s)
{
	int ret;

	mutex_lock(&s->mutex);
	ret = ksalloc_stream_detach(s);
	mutex_unlock(&s->mutex);
	return ret;
}

static int ksalloc_stream_ioc_set_rate(struct ksalloc_stream *s,
				       u32 __user *argp)
{
	u32 rate;
	int ret;

	if (get_user(rate, argp))
		return -EFAULT;
	if (rate > KSALLOC_PRODUCER_MAX_RATE)
		return -EINVAL;
	mutex_lock(&s->mutex);
	ret = ksalloc_stream_set_rate(s, rate);
	mutex_unlock(&s->mutex);
	return ret;
}

/*
 * A buffer that stops being writable between the proof and the answer
 * gets -EFAULT; the frame stays held until the detach, like any other.
 */
static int ksalloc_stream_ioc_hold(struct ksalloc_stream *s, u32 __user *argp)
{
	u32 index;
	int ret;

	if (put_user(KSALLOC_NO_FRAME, argp))
		return -EFAULT;
	mutex_lock(&s->mutex);
	ret = ksalloc_stream_hold(s, &index);
	mutex_unlock(&s->mutex);
	if (ret)
		return ret;
	return put_user(index, argp) ? -EFAULT : 0;
}

static int ksalloc_stream_ioc_create(struct ksalloc_stream *s,
				     void __user *argp)
{
	struct ksalloc_producer_create __user *uarg = argp;
	struct ksalloc_producer_create arg;
	int ret, fd;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (put_user(-1, &uarg->fd))
		return -EFAULT;
	mutex_lock(&s->mutex);
	ret = ksalloc_stream_create(s, &arg, &fd);
	mutex_unlock(&s->mutex);
	if (ret)
		return ret;
	/* The descriptor is user space's now, whatever comes of this. */
	return put_user(fd, &uarg->fd) ? -EFAULT : 0;
}

/**
 * ksalloc_stream_ioctl() - the ioctls of samples/ksalloc_producer.h
 * @file: the stream's file; private_data is the stream
 * @cmd: the ioctl
 * @arg: its argument
 *
 * Return: 0, a descriptor's errno, or -ENOTTY for an unknown ioctl.
 */
long ksalloc_stream_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct ksalloc_stream *s = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case KSALLOC_PRODUCER_IOC_ATTACH:
		return ksalloc_stream_ioc_attach(s, argp);
	case KSALLOC_PRODUCER_IOC_DETACH:
		return ksalloc_stream_ioc_detach(s);
	case KSALLOC_PRODUCER_IOC_SET_RATE:
		return ksalloc_stream_ioc_set_rate(s, argp);
	case KSALLOC_PRODUCER_IOC_GET_STATS:
		return ksalloc_stream_get_stats(s, argp);
	case KSALLOC_PRODUCER_IOC_HOLD:
		return ksalloc_stream_ioc_hold(s, argp);
	case KSALLOC_PRODUCER_IOC_CREATE:
		return ksalloc_stream_ioc_create(s, argp);
	default:
		return -ENOTTY;
	}
}

/**
 * ksalloc_stream_init() - set up a detached stream
 * @s: the stream, zeroed
 * @ops: its source
 */
void ksalloc_stream_init(struct ksalloc_stream *s,
			 const struct ksalloc_stream_ops *ops)
{
	s->ops = ops;
	mutex_init(&s->mutex);
	spin_lock_init(&s->lock);
	init_waitqueue_head(&s->wq);
}

/**
 * ksalloc_stream_destroy() - detach and free what the stream holds
 * @s: the stream; nobody else uses it any more
 */
void ksalloc_stream_destroy(struct ksalloc_stream *s)
{
	mutex_lock(&s->mutex);
	if (s->alloc)
		ksalloc_stream_detach(s);
	mutex_unlock(&s->mutex);

	kvfree(s->fifo.kfifo.data);
	s->fifo.kfifo.data = NULL;
	mutex_destroy(&s->mutex);
}
