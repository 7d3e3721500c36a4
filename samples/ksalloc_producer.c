// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_producer - a sample in-kernel consumer of ksalloc
 *
 * Shaped like a capture driver: user space creates an allocator on
 * /dev/ksalloc and hands its descriptor to /dev/ksalloc_producer; a timer in
 * softirq context then fills frames taken through the allocator's function
 * table and queues their indices for read().  User space checks each frame
 * through mmap() of the allocator and gives it back with KSALLOC_IOC_FREE:
 *
 *	ioctl(pfd, KSALLOC_PRODUCER_IOC_ATTACH, &(struct ksalloc_producer_attach){ .fd = afd });
 *	ioctl(pfd, KSALLOC_PRODUCER_IOC_SET_RATE, &(__u32){ 1000 });
 *	while (read(pfd, &index, sizeof(index)) == sizeof(index)) {
 *		check(pool + index * stride);
 *		ioctl(afd, KSALLOC_IOC_FREE, &(struct ksalloc_frame){ .index = index });
 *	}
 *
 * One open of the device is one stream.  Every sequence number the timer
 * hands out is either delivered to read() in a frame or counted as a drop:
 * no free frame (the consumer is behind), the read() queue full, or the
 * timer so late that it would have to fill more than one burst of frames.
 * The timer never waits for a frame.
 *
 * KSALLOC_PRODUCER_IOC_HOLD takes a frame through the table and keeps it,
 * as a driver keeps a frame its device is filling: the frame is kernel
 * code's, so user space cannot free it.  It is there for the selftests.
 *
 * Detach, close of this device and close of the allocator may come in any
 * order.  Detaching stops the timer, frees every frame still queued or held
 * back through the table and drops the reference on the allocator.  An allocator
 * closed while attached makes allocate_frame fail with -ENODEV: production
 * stops there and read() sees the end of the stream once the queue is empty.
 */

#include <linux/build_bug.h>
#include <linux/crc32.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/kfifo.h>
#include <linux/ksalloc.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "ksalloc_producer.h"

static_assert(sizeof(struct ksalloc_producer_frame) == 32);
static_assert(sizeof(struct ksalloc_producer_attach) == 8);
static_assert(sizeof(struct ksalloc_producer_stats) == 64);

/* At most this many timer ticks per second; faster rates fill bursts. */
#define KSALLOC_PRODUCER_MAX_TICKS	1000
/* Most frames, and most bytes, one tick fills. */
#define KSALLOC_PRODUCER_MAX_BURST	128
#define KSALLOC_PRODUCER_BURST_BYTES	SZ_8M
/* Most indices the read() queue holds. */
#define KSALLOC_PRODUCER_MAX_QUEUE	SZ_1M
/* Indices moved per round when the queue is emptied. */
#define KSALLOC_PRODUCER_CHUNK		64

/**
 * struct ksalloc_producer - one stream, one open of /dev/ksalloc_producer
 * @mutex: serialises attach, detach, rate changes and the dequeue of read()
 *         (so that a detach never frees what a reader is copying out)
 * @alloc: the attached allocator, holding a reference; NULL when detached
 * @table: its function table
 * @frame_size: its frame size in bytes
 * @held: frames taken by KSALLOC_PRODUCER_IOC_HOLD, kept until the detach
 * @nr_held: number of valid entries in @held
 * @burst: most frames one tick fills
 * @rate: frames per second, 0 when stopped
 * @ticks: timer ticks per second
 * @period: time between two ticks
 * @credit: frames owed, in units of 1/@ticks frame; owned by the timer
 * @timer: the producing hrtimer, in softirq mode
 * @wq: readers and pollers waiting for indices or for the end
 * @lock: protects @fifo, @stats and @flags below; taken by the timer in
 *        softirq context and with _bh in process context
 * @fifo: indices of filled frames, waiting for read()
 * @stats: counters as GET_STATS reports them (queued and flags aside)
 * @flags: KSALLOC_PRODUCER_F_*
 *
 * @alloc, @table, @frame_size, @burst, @rate, @ticks and @period change
 * under @mutex, and only while the timer is cancelled: the timer reads
 * them without a lock.  @held and @nr_held are under @mutex alone.
 */
struct ksalloc_producer {
	/* serialises attach, detach, rate changes and read()'s dequeue */
	struct mutex mutex;
	struct ksalloc *alloc;
	struct ksalloc_function_table table;
	u32 frame_size;
	void *held[KSALLOC_PRODUCER_MAX_HELD];
	u32 nr_held;
	u32 burst;
	u32 rate;
	u32 ticks;
	ktime_t period;
	u64 credit;
	struct hrtimer timer;
	wait_queue_head_t wq;

	/* protects the read() queue, the counters and the flags */
	spinlock_t lock;
	DECLARE_KFIFO_PTR(fifo, u32);
	struct ksalloc_producer_stats stats;
	u32 flags;
};

/*
 * Writes the header and the payload of frame @seq.  A frame may start at
 * any byte (alignment mask 0), so the header is built aside and copied in.
 */
static void ksalloc_producer_fill(void *frame, u32 frame_size, u64 seq)
{
	struct ksalloc_producer_frame hdr = {
		.magic = KSALLOC_PRODUCER_MAGIC,
		.header_size = sizeof(hdr),
		.sequence = seq,
		.length = frame_size - sizeof(hdr),
	};
	u8 *payload = frame + sizeof(hdr);
	__le64 word;
	u32 i;

	for (i = 0; i < hdr.length; i += sizeof(word)) {
		word = cpu_to_le64(seq ^ (u64)(i / sizeof(word)) *
				   KSALLOC_PRODUCER_PATTERN);
		memcpy(payload + i, &word, min_t(u32, sizeof(word), hdr.length - i));
	}
	hdr.checksum = ~crc32_le(~0U, payload, hdr.length);
	hdr.timestamp_ns = ktime_get_ns();
	memcpy(frame, &hdr, sizeof(hdr));
}

/* Counts @n lost sequence numbers in @counter.  Called with @lock held. */
static void ksalloc_producer_drop(struct ksalloc_producer *p, u64 *counter,
				  u64 n)
{
	lockdep_assert_held(&p->lock);
	*counter += n;
	p->stats.drops += n;
	p->stats.sequence += n;
}

/*
 * One tick, in softirq context: fills the frames owed since the last tick,
 * never waiting for one.
 */
static enum hrtimer_restart ksalloc_producer_tick(struct hrtimer *timer)
{
	struct ksalloc_producer *p = container_of(timer, struct ksalloc_producer,
						  timer);
	bool queued = false, closed = false, full;
	u64 n, late = 0;
	void *frame;
	u32 index;
	int ret;

	p->credit += (u64)p->rate * hrtimer_forward_now(timer, p->period);
	n = div_u64(p->credit, p->ticks);
	p->credit -= n * p->ticks;
	if (n > p->burst) {
		late = n - p->burst;
		n = p->burst;
	}
	if (late) {
		spin_lock(&p->lock);
		ksalloc_producer_drop(p, &p->stats.overruns, late);
		spin_unlock(&p->lock);
	}

	for (; n; n--) {
		ret = p->table.allocate_frame(p->alloc, &frame);
		if (ret == -ENODEV) {
			closed = true;
			break;
		}
		if (ret) {
			/* None free now, none this tick: drop what is owed. */
			spin_lock(&p->lock);
			ksalloc_producer_drop(p, &p->stats.no_frame, n);
			spin_unlock(&p->lock);
			break;
		}

		/* Only this timer writes the sequence: reading it is safe. */
		ksalloc_producer_fill(frame, p->frame_size, p->stats.sequence);
		index = ksalloc_frame_index(p->alloc, frame);

		spin_lock(&p->lock);
		full = !kfifo_put(&p->fifo, index);
		if (full) {
			ksalloc_producer_drop(p, &p->stats.queue_full, 1);
		} else {
			p->stats.produced++;
			p->stats.sequence++;
		}
		spin_unlock(&p->lock);

		if (full)
			p->table.free_frame(p->alloc, frame);
		else
			queued = true;
	}

	if (queued)
		wake_up_interruptible_poll(&p->wq, EPOLLIN | EPOLLRDNORM);
	if (closed) {
		spin_lock(&p->lock);
		p->flags |= KSALLOC_PRODUCER_F_CLOSED;
		p->stats.rate = 0;
		spin_unlock(&p->lock);
		wake_up_interruptible_poll(&p->wq, EPOLLHUP);
		return HRTIMER_NORESTART;
	}
	return HRTIMER_RESTART;
}

/* Whether no more indices will come: detached, or the allocator closed. */
static bool ksalloc_producer_ended(struct ksalloc_producer *p)
{
	lockdep_assert_held(&p->lock);
	return p->flags != KSALLOC_PRODUCER_F_ATTACHED;
}

/* Whether read() has something to return: an index, or the end. */
static bool ksalloc_producer_readable(struct ksalloc_producer *p, bool *ended)
{
	bool ret;

	spin_lock_bh(&p->lock);
	*ended = ksalloc_producer_ended(p);
	ret = !kfifo_is_empty(&p->fifo) || *ended;
	spin_unlock_bh(&p->lock);
	return ret;
}

/*
 * Takes up to @count indices off the queue and copies them to @buf.  An
 * index that cannot be copied is freed back, so a bad buffer loses no frame.
 * Returns the number copied, or -EFAULT when none was.
 */
static ssize_t ksalloc_producer_dequeue(struct ksalloc_producer *p,
					u32 __user *buf, size_t count)
{
	u32 idx[KSALLOC_PRODUCER_CHUNK];
	size_t done = 0;
	unsigned int n, m, i;

	lockdep_assert_held(&p->mutex);
	if (!p->alloc)
		return 0;

	while (done < count) {
		spin_lock_bh(&p->lock);
		n = kfifo_out(&p->fifo, idx, min_t(size_t, count - done,
						   ARRAY_SIZE(idx)));
		spin_unlock_bh(&p->lock);
		if (!n)
			break;
		/*
		 * From here on a frame is user space's to free: if its handle
		 * closes first, the close takes it back.  A frame of an
		 * allocator that is closed already goes back at once.
		 */
		for (i = 0, m = 0; i < n; i++) {
			void *frame = ksalloc_frame_ptr(p->alloc, idx[i]);

			if (ksalloc_frame_to_user(p->alloc, frame))
				p->table.free_frame(p->alloc, frame);
			else
				idx[m++] = idx[i];
		}
		n = m;
		if (copy_to_user(buf + done, idx, n * sizeof(u32))) {
			for (i = 0; i < n; i++)
				p->table.free_frame(p->alloc,
						    ksalloc_frame_ptr(p->alloc, idx[i]));
			return done ? done : -EFAULT;
		}
		done += n;
	}
	return done;
}

/*
 * Reads frame indices, whole __u32s only.  Blocks until at least one is
 * queued, unless O_NONBLOCK; returns 0 at the end of the stream.
 */
static ssize_t ksalloc_producer_read(struct file *file, char __user *buf,
				     size_t count, loff_t *ppos)
{
	struct ksalloc_producer *p = file->private_data;
	bool ended;
	ssize_t ret;

	count /= sizeof(u32);
	if (!count)
		return -EINVAL;

	for (;;) {
		if (!ksalloc_producer_readable(p, &ended)) {
			if (file->f_flags & O_NONBLOCK)
				return -EAGAIN;
			ret = wait_event_interruptible(p->wq,
						       ksalloc_producer_readable(p, &ended));
			if (ret)
				return ret;
		}

		ret = mutex_lock_interruptible(&p->mutex);
		if (ret)
			return ret;
		ret = ksalloc_producer_dequeue(p, (u32 __user *)buf, count);
		mutex_unlock(&p->mutex);
		if (ret)
			return ret < 0 ? ret : ret * sizeof(u32);
		/* Nothing was queued: the end, or another reader was faster. */
		if (ended)
			return 0;
	}
}

static __poll_t ksalloc_producer_poll(struct file *file, poll_table *wait)
{
	struct ksalloc_producer *p = file->private_data;
	__poll_t mask = 0;

	poll_wait(file, &p->wq, wait);
	spin_lock_bh(&p->lock);
	if (!kfifo_is_empty(&p->fifo))
		mask = EPOLLIN | EPOLLRDNORM;
	else if (ksalloc_producer_ended(p))
		mask = EPOLLHUP;
	spin_unlock_bh(&p->lock);
	return mask;
}

static int ksalloc_producer_attach(struct ksalloc_producer *p,
				   void __user *argp)
{
	struct ksalloc_producer_attach arg;
	struct ksalloc_status status;
	struct ksalloc *alloc;
	typeof(p->fifo) fifo;
	u32 entries, stride;
	u32 *buf, *old;
	int ret;

	lockdep_assert_held(&p->mutex);
	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.fd > INT_MAX)
		return -EINVAL;
	if (p->alloc)
		return -EBUSY;

	alloc = ksalloc_fdget(arg.fd);
	if (IS_ERR(alloc))
		return PTR_ERR(alloc);
	ret = ksalloc_get_function_table(alloc, &p->table);
	if (ret)
		goto err_put;
	ksalloc_get_status(alloc, &status);
	if (status.framing.frame_size < sizeof(struct ksalloc_producer_frame)) {
		ret = -EINVAL;
		goto err_put;
	}

	entries = roundup_pow_of_two(clamp_t(u32, status.framing.frames, 2,
					     KSALLOC_PRODUCER_MAX_QUEUE));
	buf = kvmalloc_array(entries, sizeof(u32), GFP_KERNEL);
	if (!buf) {
		ret = -ENOMEM;
		goto err_put;
	}
	ret = kfifo_init(&fifo, buf, entries * sizeof(u32));
	if (ret)
		goto err_free_buf;
	stride = status.framing.frames < 2 ? status.framing.frame_size :
		 (u8 *)ksalloc_frame_ptr(alloc, 1) -
		 (u8 *)ksalloc_frame_ptr(alloc, 0);

	/* The old queue is empty and the timer stopped: swap in the new one. */
	spin_lock_bh(&p->lock);
	old = p->fifo.kfifo.data;
	p->fifo = fifo;
	memset(&p->stats, 0, sizeof(p->stats));
	p->stats.frame_stride = stride;
	p->flags = KSALLOC_PRODUCER_F_ATTACHED;
	spin_unlock_bh(&p->lock);
	kvfree(old);

	p->alloc = alloc;
	p->frame_size = status.framing.frame_size;
	p->burst = clamp_t(u32, KSALLOC_PRODUCER_BURST_BYTES / p->frame_size,
			   1, KSALLOC_PRODUCER_MAX_BURST);
	p->rate = 0;
	return 0;

err_free_buf:
	kvfree(buf);
err_put:
	ksalloc_put(alloc);
	return ret;
}

static int ksalloc_producer_detach(struct ksalloc_producer *p)
{
	u32 idx[KSALLOC_PRODUCER_CHUNK];
	unsigned int n, i;

	lockdep_assert_held(&p->mutex);
	if (!p->alloc)
		return -ENOTCONN;

	hrtimer_cancel(&p->timer);
	do {
		spin_lock_bh(&p->lock);
		n = kfifo_out(&p->fifo, idx, ARRAY_SIZE(idx));
		if (!n) {
			p->flags = 0;
			p->stats.rate = 0;
		}
		spin_unlock_bh(&p->lock);
		for (i = 0; i < n; i++)
			p->table.free_frame(p->alloc,
					    ksalloc_frame_ptr(p->alloc, idx[i]));
	} while (n);
	while (p->nr_held)
		p->table.free_frame(p->alloc, p->held[--p->nr_held]);

	ksalloc_put(p->alloc);
	p->alloc = NULL;
	p->rate = 0;
	wake_up_interruptible_poll(&p->wq, EPOLLHUP);
	return 0;
}

static int ksalloc_producer_set_rate(struct ksalloc_producer *p,
				     u32 __user *argp)
{
	bool closed;
	u32 rate;

	lockdep_assert_held(&p->mutex);
	if (get_user(rate, argp))
		return -EFAULT;
	if (rate > KSALLOC_PRODUCER_MAX_RATE)
		return -EINVAL;
	if (!p->alloc)
		return -ENOTCONN;

	hrtimer_cancel(&p->timer);
	spin_lock_bh(&p->lock);
	closed = p->flags & KSALLOC_PRODUCER_F_CLOSED;
	if (!closed)
		p->stats.rate = rate;
	spin_unlock_bh(&p->lock);
	if (closed)
		return -ENODEV;

	p->rate = rate;
	if (!rate)
		return 0;
	p->ticks = min_t(u32, rate, KSALLOC_PRODUCER_MAX_TICKS);
	p->period = ns_to_ktime(div_u64(NSEC_PER_SEC, p->ticks));
	p->credit = 0;
	hrtimer_start(&p->timer, p->period, HRTIMER_MODE_REL_SOFT);
	return 0;
}

/*
 * Takes one frame through the table and keeps it, held by kernel code,
 * until the detach.  Tells user space its index, which is all it may do
 * with the frame: look at it through mmap().
 */
static int ksalloc_producer_hold(struct ksalloc_producer *p, u32 __user *argp)
{
	void *frame;
	int ret;

	lockdep_assert_held(&p->mutex);
	if (!p->alloc)
		return -ENOTCONN;
	if (p->nr_held == ARRAY_SIZE(p->held))
		return -ENOSPC;
	ret = p->table.allocate_frame(p->alloc, &frame);
	if (ret)
		return ret;
	if (put_user(ksalloc_frame_index(p->alloc, frame), argp)) {
		p->table.free_frame(p->alloc, frame);
		return -EFAULT;
	}
	p->held[p->nr_held++] = frame;
	return 0;
}

static int ksalloc_producer_get_stats(struct ksalloc_producer *p,
				      void __user *argp)
{
	struct ksalloc_producer_stats stats;

	spin_lock_bh(&p->lock);
	stats = p->stats;
	stats.queued = kfifo_len(&p->fifo);
	stats.flags = p->flags;
	spin_unlock_bh(&p->lock);

	return copy_to_user(argp, &stats, sizeof(stats)) ? -EFAULT : 0;
}

static long ksalloc_producer_ioctl(struct file *file, unsigned int cmd,
				   unsigned long arg)
{
	struct ksalloc_producer *p = file->private_data;
	void __user *argp = (void __user *)arg;
	long ret;

	if (cmd == KSALLOC_PRODUCER_IOC_GET_STATS)
		return ksalloc_producer_get_stats(p, argp);

	mutex_lock(&p->mutex);
	switch (cmd) {
	case KSALLOC_PRODUCER_IOC_ATTACH:
		ret = ksalloc_producer_attach(p, argp);
		break;
	case KSALLOC_PRODUCER_IOC_DETACH:
		ret = ksalloc_producer_detach(p);
		break;
	case KSALLOC_PRODUCER_IOC_SET_RATE:
		ret = ksalloc_producer_set_rate(p, argp);
		break;
	case KSALLOC_PRODUCER_IOC_HOLD:
		ret = ksalloc_producer_hold(p, argp);
		break;
	default:
		ret = -ENOTTY;
		break;
	}
	mutex_unlock(&p->mutex);
	return ret;
}

static int ksalloc_producer_open(struct inode *inode, struct file *file)
{
	struct ksalloc_producer *p;

	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	mutex_init(&p->mutex);
	spin_lock_init(&p->lock);
	init_waitqueue_head(&p->wq);
	hrtimer_init(&p->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
	p->timer.function = ksalloc_producer_tick;
	file->private_data = p;
	return stream_open(inode, file);
}

static int ksalloc_producer_release(struct inode *inode, struct file *file)
{
	struct ksalloc_producer *p = file->private_data;

	mutex_lock(&p->mutex);
	if (p->alloc)
		ksalloc_producer_detach(p);
	mutex_unlock(&p->mutex);

	kvfree(p->fifo.kfifo.data);
	mutex_destroy(&p->mutex);
	kfree(p);
	return 0;
}

static const struct file_operations ksalloc_producer_fops = {
	.owner		= THIS_MODULE,
	.open		= ksalloc_producer_open,
	.release	= ksalloc_producer_release,
	.read		= ksalloc_producer_read,
	.poll		= ksalloc_producer_poll,
	.unlocked_ioctl	= ksalloc_producer_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

static struct miscdevice ksalloc_producer_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "ksalloc_producer",
	.fops	= &ksalloc_producer_fops,
	.mode	= 0600,
};
module_misc_device(ksalloc_producer_misc);

MODULE_DESCRIPTION("ksalloc sample: a softirq frame producer");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("KSALLOC");
