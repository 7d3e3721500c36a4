// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_producer - a sample in-kernel consumer of ksalloc: the timer source
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
 * The timer never waits for a frame.  KSALLOC_PRODUCER_IOC_CREATE makes a
 * plain allocator in the kernel instead (contiguous frames on request).
 *
 * KSALLOC_PRODUCER_IOC_HOLD takes a frame through the table and keeps it,
 * as a driver keeps a frame its device is filling: the frame is kernel
 * code's, so user space cannot free it.  It is there for the selftests.
 *
 * This file is the timer source and the module's entry points; the stream
 * machinery (attach, detach, the read() queue, poll, the counters, the
 * frame format) is ksalloc_stream.c, which the PCI source of ksalloc_edu.c
 * shares.
 */

#include <linux/hrtimer.h>
#include <linux/ksalloc.h>
#include <linux/miscdevice.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/numa.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include "ksalloc_stream.h"

/* At most this many timer ticks per second; faster rates fill bursts. */
#define KSALLOC_PRODUCER_MAX_TICKS	1000
/* Most frames, and most bytes, one tick fills. */
#define KSALLOC_PRODUCER_MAX_BURST	128
#define KSALLOC_PRODUCER_BURST_BYTES	SZ_8M

/**
 * struct ksalloc_producer - one open of /dev/ksalloc_producer
 * @s: its stream
 * @burst: most frames one tick fills
 * @ticks: timer ticks per second
 * @period: time between two ticks
 * @credit: frames owed, in units of 1/@ticks frame; owned by the timer
 * @timer: the producing hrtimer, in softirq mode
 *
 * @burst, @ticks and @period change under the stream's mutex, and only
 * while the timer is cancelled: the timer reads them without a lock.
 */
struct ksalloc_producer {
	struct ksalloc_stream s;
	u32 burst;
	u32 ticks;
	ktime_t period;
	u64 credit;
	struct hrtimer timer;
};

static struct ksalloc_producer *to_producer(struct ksalloc_stream *s)
{
	return container_of(s, struct ksalloc_producer, s);
}

/*
 * One tick, in softirq context: fills the frames owed since the last tick,
 * never waiting for one.
 */
static enum hrtimer_restart ksalloc_producer_tick(struct hrtimer *timer)
{
	struct ksalloc_producer *p = container_of(timer, struct ksalloc_producer,
						  timer);
	struct ksalloc_stream *s = &p->s;
	bool queued = false;
	u64 n, late = 0;
	void *frame;
	int ret = 0;

	p->credit += (u64)s->rate * hrtimer_forward_now(timer, p->period);
	n = div_u64(p->credit, p->ticks);
	p->credit -= n * p->ticks;
	if (n > p->burst) {
		late = n - p->burst;
		n = p->burst;
	}
	if (late)
		ksalloc_stream_drop(s, KSALLOC_STREAM_OVERRUN, late);

	for (; n; n--) {
		ret = ksalloc_stream_take(s, &frame);
		if (ret == -ENODEV)
			break;
		if (ret) {
			/* None free now, none this tick: drop what is owed. */
			ksalloc_stream_drop(s, KSALLOC_STREAM_NO_FRAME, n);
			break;
		}
		/* Only this timer writes the sequence: reading it is safe. */
		ksalloc_stream_fill(frame, s->frame_size,
				    ksalloc_stream_sequence(s));
		queued |= ksalloc_stream_deliver(s, frame);
	}

	if (queued)
		ksalloc_stream_wake(s);
	return ret == -ENODEV ? HRTIMER_NORESTART : HRTIMER_RESTART;
}

/* A plain allocator, contiguous frames on request. */
static struct ksalloc *ksalloc_producer_create(struct ksalloc_stream *s,
					       const struct ksalloc_framing *framing,
					       u32 flags)
{
	struct ksalloc_params params = {
		.framing = framing,
		.flags = flags & KSALLOC_PRODUCER_CREATE_CONTIG ?
			 KSALLOC_CREATE_CONTIG : 0,
		.dir = DMA_NONE,
		.node = NUMA_NO_NODE,
	};

	return ksalloc_create_ex(&params);
}

static int ksalloc_producer_attach(struct ksalloc_stream *s, bool created)
{
	struct ksalloc_producer *p = to_producer(s);

	p->burst = clamp_t(u32, KSALLOC_PRODUCER_BURST_BYTES / s->frame_size,
			   1, KSALLOC_PRODUCER_MAX_BURST);
	return 0;
}

static void ksalloc_producer_start(struct ksalloc_stream *s)
{
	struct ksalloc_producer *p = to_producer(s);

	p->ticks = min_t(u32, s->rate, KSALLOC_PRODUCER_MAX_TICKS);
	p->period = ns_to_ktime(div_u64(NSEC_PER_SEC, p->ticks));
	p->credit = 0;
	hrtimer_start(&p->timer, p->period, HRTIMER_MODE_REL_SOFT);
}

static int ksalloc_producer_stop(struct ksalloc_stream *s)
{
	hrtimer_cancel(&to_producer(s)->timer);
	return 0;
}

static const struct ksalloc_stream_ops ksalloc_producer_ops = {
	.create	= ksalloc_producer_create,
	.attach	= ksalloc_producer_attach,
	.start	= ksalloc_producer_start,
	.stop	= ksalloc_producer_stop,
};

static int ksalloc_producer_open(struct inode *inode, struct file *file)
{
	struct ksalloc_producer *p;

	p = kzalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);
	if (!p)
		return -ENOMEM;
	ksalloc_stream_init(&p->s, &ksalloc_producer_ops);
	hrtimer_init(&p->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
	p->timer.function = ksalloc_producer_tick;
	file->private_data = &p->s;
	return stream_open(inode, file);
}

static int ksalloc_producer_release(struct inode *inode, struct file *file)
{
	struct ksalloc_producer *p = to_producer(file->private_data);

	ksalloc_stream_destroy(&p->s);
	kfree(p);
	return 0;
}

static const struct file_operations ksalloc_producer_fops = {
	.owner		= THIS_MODULE,
	.open		= ksalloc_producer_open,
	.release	= ksalloc_producer_release,
	.read		= ksalloc_stream_read,
	.poll		= ksalloc_stream_poll,
	.unlocked_ioctl	= ksalloc_stream_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

static struct miscdevice ksalloc_producer_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "ksalloc_producer",
	.fops	= &ksalloc_producer_fops,
	.mode	= 0600,
};

static int __init ksalloc_producer_init(void)
{
	int ret = misc_register(&ksalloc_producer_misc);

	if (ret)
		return ret;
	ret = ksalloc_edu_init();
	if (ret)
		misc_deregister(&ksalloc_producer_misc);
	return ret;
}
module_init(ksalloc_producer_init);

static void __exit ksalloc_producer_exit(void)
{
	ksalloc_edu_exit();
	misc_deregister(&ksalloc_producer_misc);
}
module_exit(ksalloc_producer_exit);

MODULE_DESCRIPTION("ksalloc sample: softirq frame producers (a timer, the edu PCI device)");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("KSALLOC");
