// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_edu - a capture driver for QEMU's edu PCI device (1234:11e8)
 *
 * Streams frames into a ksalloc allocator by DMA, the way a capture card
 * would, with the user-space ABI of /dev/ksalloc_producer on
 * /dev/ksalloc_edu (ksalloc_edu1, ... for more devices):
 *
 *	ioctl(pfd, KSALLOC_PRODUCER_IOC_CREATE, &create);   // or ATTACH
 *	ioctl(pfd, KSALLOC_PRODUCER_IOC_SET_RATE, &(__u32){ 5 });
 *	while (read(pfd, &index, sizeof(index)) == sizeof(index)) {
 *		check(pool + index * stride);
 *		ioctl(create.fd, KSALLOC_IOC_FREE, &(struct ksalloc_frame){ .index = index });
 *	}
 *
 * ATTACH binds the user's allocator to the device (ksalloc_bind(), refused
 * with its errno, -ERANGE for pages the DMA mask cannot reach); CREATE makes
 * one of memory allocated for the device, which needs no bouncing whatever
 * the mask.  edu has a 4 KiB buffer at device address 0x40000 and one DMA
 * engine, whose every transfer completes on a 100 ms timer.  A frame is
 * filled chunk by chunk, each at most 4095 bytes (a 4096-byte transfer
 * aborts QEMU 7.2) and within one bus-contiguous segment of the frame, in
 * two transfers: from a coherent staging buffer into edu's buffer, then
 * from there into the frame, with ksalloc_sync_for_device() before and
 * ksalloc_sync_for_cpu() after.  Each completion raises an MSI; the
 * handler acks it and schedules the tasklet, which moves on to the next
 * step in softirq context.  One transfer is in flight per device, and one
 * open of the node at a time.
 *
 * The rate bounds the frames started per second; a device slower than the
 * rate delivers what it can, and a drop is counted only when a frame was due
 * and none was free (then the tasklet looks again 1 ms later at the soonest,
 * and every frame due meanwhile is a drop too).  Frames are at most
 * KSALLOC_PRODUCER_EDU_MAX_FRAME_SIZE bytes.  A transfer that has not ended
 * 2 s into a stop makes the device dead: its frame and the binding are
 * leaked on purpose, and ATTACH, CREATE and SET_RATE fail with -EIO.
 *
 * edu masks the addresses it is given with its own dma_mask property
 * (28 bits by default): give QEMU the same width as the dma_bits parameter
 * (-device edu,dma_mask=0xffffffffffffffff with dma_bits=64), or memory is
 * silently corrupted.
 */

#include <linux/dma-mapping.h>
#include <linux/hrtimer.h>
#include <linux/idr.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/iopoll.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/numa.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include "ksalloc_stream.h"

#define EDU_ID			0x00
#define EDU_IRQ_STATUS		0x24
#define EDU_IRQ_ACK		0x64
#define EDU_DMA_SRC		0x80
#define EDU_DMA_DST		0x88
#define EDU_DMA_COUNT		0x90
#define EDU_DMA_CMD		0x98
#define  EDU_DMA_START		0x1
#define  EDU_DMA_TO_RAM		0x2
#define  EDU_DMA_IRQ		0x4

/* edu's buffer, as the DMA engine addresses it */
#define EDU_BUFFER		0x40000
/* Most bytes one transfer moves (4096 aborts QEMU 7.2) */
#define EDU_CHUNK		4095
/* How long a stop waits for the transfer in flight (each takes 100 ms) */
#define EDU_STOP_TIMEOUT_MS	2000
/* Soonest the tasklet looks again for a free frame, when none was */
#define EDU_RETRY_NS		NSEC_PER_MSEC

static unsigned int dma_bits = 28;
module_param(dma_bits, uint, 0444);
MODULE_PARM_DESC(dma_bits,
		 "Width of the edu devices' DMA mask, 28 (edu's default) to 64; match -device edu,dma_mask=");

static DEFINE_IDA(ksalloc_edu_ida);
static struct pci_driver ksalloc_edu_driver;

/* What the tasklet waits for. */
enum ksalloc_edu_step {
	EDU_IDLE,		/* no frame, or waiting for the rate */
	EDU_TO_DEVICE,		/* a chunk: staging buffer -> edu's buffer */
	EDU_TO_FRAME,		/* the chunk: edu's buffer -> the frame */
};

/**
 * struct ksalloc_edu - one edu device and its stream
 * @s: the stream of its node
 * @pdev: the device
 * @regs: BAR 0
 * @irq: its MSI
 * @id: the number of its node (0: ksalloc_edu)
 * @name: the node's name
 * @misc: the node
 * @ref: held by the driver binding and by an open file
 * @busy: bit 0 set while the node is open
 * @gone: the device was removed; under @s.mutex
 * @dead: a stop timed out with a transfer in flight; under @s.mutex.  The
 *        frame being filled and the binding are kept for good, so that the
 *        device never writes memory that was given back.
 * @staging: coherent buffer the chunks are written into
 * @staging_dma: its bus address
 * @tasklet: the bottom half of the MSI, and of @timer
 * @timer: when the next frame is due, if it was not at once
 * @lock: protects everything below; the tasklet's, taken with _bh in
 *        process context
 * @running: frames are to be filled
 * @step: what the tasklet waits for
 * @period: 1 s / rate
 * @next: when the next frame is due
 * @frame: the frame being filled, or NULL
 * @index: its index
 * @off: the first byte of the chunk in flight
 * @len: the chunk's length
 * @dma: the bus address of byte @off of @frame
 * @hdr: @frame's header
 */
struct ksalloc_edu {
	struct ksalloc_stream s;
	struct pci_dev *pdev;
	void __iomem *regs;
	int irq;
	int id;
	char name[24];
	struct miscdevice misc;
	struct kref ref;
	unsigned long busy;
	bool gone;
	bool dead;
	void *staging;
	dma_addr_t staging_dma;
	struct tasklet_struct tasklet;
	struct hrtimer timer;

	/* protects the DMA engine's state below */
	spinlock_t lock;
	bool running;
	enum ksalloc_edu_step step;
	ktime_t period;
	ktime_t next;
	void *frame;
	u32 index;
	u32 off;
	u32 len;
	dma_addr_t dma;
	struct ksalloc_producer_frame hdr;
};

static struct ksalloc_edu *to_edu(struct ksalloc_stream *s)
{
	return container_of(s, struct ksalloc_edu, s);
}

static bool ksalloc_edu_dma_busy(struct ksalloc_edu *edu)
{
	return readl(edu->regs + EDU_DMA_CMD) & EDU_DMA_START;
}

static void ksalloc_edu_dma(struct ksalloc_edu *edu, u64 src, u64 dst, u32 len,
			    u32 dir)
{
	/* edu takes its 64-bit registers whole: 8-byte writes only. */
	writeq(src, edu->regs + EDU_DMA_SRC);
	writeq(dst, edu->regs + EDU_DMA_DST);
	writeq(len, edu->regs + EDU_DMA_COUNT);
	writeq(EDU_DMA_START | EDU_DMA_IRQ | dir, edu->regs + EDU_DMA_CMD);
}

/* Gives the frame being filled back; called with @lock, no DMA in flight. */
static void ksalloc_edu_drop_frame(struct ksalloc_edu *edu)
{
	lockdep_assert_held(&edu->lock);
	if (!edu->frame)
		return;
	if (edu->step == EDU_TO_FRAME)
		ksalloc_sync_for_cpu(edu->s.alloc, edu->index, edu->off, edu->len);
	edu->s.table.free_frame(edu->s.alloc, edu->frame);
	edu->frame = NULL;
	edu->step = EDU_IDLE;
}

/* Starts the chunk at @off: into edu's buffer first. */
static void ksalloc_edu_next_chunk(struct ksalloc_edu *edu)
{
	struct ksalloc_stream *s = &edu->s;
	u32 len;

	lockdep_assert_held(&edu->lock);
	edu->dma = ksalloc_frame_dma(s->alloc, edu->index, edu->off, &len);
	if (edu->dma == DMA_MAPPING_ERROR) {
		dev_err_ratelimited(&edu->pdev->dev,
				    "frame %u has no bus address at %u: stream ended\n",
				    edu->index, edu->off);
		edu->step = EDU_IDLE;	/* the last chunk is synced already */
		ksalloc_edu_drop_frame(edu);
		edu->running = false;
		ksalloc_stream_end(s);
		return;
	}
	edu->len = min3(len, s->frame_size - edu->off, (u32)EDU_CHUNK);
	ksalloc_stream_frame_bytes(edu->staging, &edu->hdr, edu->off, edu->len);
	edu->step = EDU_TO_DEVICE;
	ksalloc_edu_dma(edu, edu->staging_dma, EDU_BUFFER, edu->len, 0);
}

/*
 * A frame was due and none was free.  The tasklet looks again no sooner
 * than EDU_RETRY_NS from now (or a period, if longer), so that a fast rate
 * does not make a timer storm of a consumer that is behind; every frame due
 * until then is lost, and counted.  A device slower than the rate is not
 * owed frames for it: nothing before @now is counted.
 */
static void ksalloc_edu_no_frame(struct ksalloc_edu *edu, ktime_t now)
{
	u64 period = ktime_to_ns(edu->period);
	u64 lost = DIV_ROUND_UP_ULL(max_t(u64, period, EDU_RETRY_NS), period);

	lockdep_assert_held(&edu->lock);
	ksalloc_stream_drop(&edu->s, KSALLOC_STREAM_NO_FRAME, lost);
	edu->next = ktime_add_ns(now, lost * period);
	hrtimer_start(&edu->timer, edu->next, HRTIMER_MODE_ABS_SOFT);
}

/* Takes the next frame when it is due; called with @lock, nothing in flight. */
static void ksalloc_edu_next_frame(struct ksalloc_edu *edu)
{
	struct ksalloc_stream *s = &edu->s;
	ktime_t now = ktime_get();
	void *frame;
	int ret;

	lockdep_assert_held(&edu->lock);
	if (ktime_before(now, edu->next)) {
		hrtimer_start(&edu->timer, edu->next, HRTIMER_MODE_ABS_SOFT);
		return;
	}
	ret = ksalloc_stream_take(s, &frame);
	if (ret == -ENODEV) {
		edu->running = false;
		return;
	}
	if (ret) {
		ksalloc_edu_no_frame(edu, now);
		return;
	}
	/* A device slower than the rate is not owed frames for it. */
	edu->next = ktime_add(edu->next, edu->period);
	if (ktime_before(edu->next, now))
		edu->next = now;

	edu->frame = frame;
	edu->index = ksalloc_frame_index(s->alloc, frame);
	edu->off = 0;
	/* The tasklet alone writes the sequence while it runs. */
	ksalloc_stream_header(&edu->hdr, s->frame_size,
			      ksalloc_stream_sequence(s), edu->staging, EDU_CHUNK);
	ksalloc_edu_next_chunk(edu);
}

/* The bottom half: moves on once the transfer in flight is done. */
static void ksalloc_edu_tasklet(struct tasklet_struct *t)
{
	struct ksalloc_edu *edu = from_tasklet(edu, t, tasklet);
	struct ksalloc_stream *s = &edu->s;
	bool queued = false;

	spin_lock(&edu->lock);
	if (!edu->running ||
	    (edu->step != EDU_IDLE && ksalloc_edu_dma_busy(edu)))
		goto unlock;

	switch (edu->step) {
	case EDU_TO_DEVICE:
		ksalloc_sync_for_device(s->alloc, edu->index, edu->off, edu->len);
		edu->step = EDU_TO_FRAME;
		ksalloc_edu_dma(edu, EDU_BUFFER, edu->dma, edu->len,
				EDU_DMA_TO_RAM);
		break;
	case EDU_TO_FRAME:
		ksalloc_sync_for_cpu(s->alloc, edu->index, edu->off, edu->len);
		edu->off += edu->len;
		if (edu->off < s->frame_size) {
			ksalloc_edu_next_chunk(edu);
			break;
		}
		queued = ksalloc_stream_deliver(s, edu->frame);
		edu->frame = NULL;
		edu->step = EDU_IDLE;
		fallthrough;
	case EDU_IDLE:
		ksalloc_edu_next_frame(edu);
		break;
	}
unlock:
	spin_unlock(&edu->lock);
	if (queued)
		ksalloc_stream_wake(s);
}

static irqreturn_t ksalloc_edu_irq(int irq, void *data)
{
	struct ksalloc_edu *edu = data;
	u32 status = readl(edu->regs + EDU_IRQ_STATUS);

	if (!status)
		return IRQ_NONE;
	writel(status, edu->regs + EDU_IRQ_ACK);
	tasklet_schedule(&edu->tasklet);
	return IRQ_HANDLED;
}

static enum hrtimer_restart ksalloc_edu_due(struct hrtimer *timer)
{
	struct ksalloc_edu *edu = container_of(timer, struct ksalloc_edu, timer);

	tasklet_schedule(&edu->tasklet);
	return HRTIMER_NORESTART;
}

/* Memory allocated for the device, each frame contiguous if asked. */
static struct ksalloc *ksalloc_edu_create(struct ksalloc_stream *s,
					  const struct ksalloc_framing *framing,
					  u32 flags)
{
	struct ksalloc_edu *edu = to_edu(s);
	struct ksalloc_params params = {
		.framing = framing,
		.flags = KSALLOC_CREATE_DEVICE |
			 (flags & KSALLOC_PRODUCER_CREATE_CONTIG ?
			  KSALLOC_CREATE_CONTIG : 0),
		.dev = &edu->pdev->dev,
		.dir = DMA_FROM_DEVICE,
		.node = NUMA_NO_NODE,
	};

	if (edu->gone)
		return ERR_PTR(-ENODEV);
	if (edu->dead)
		return ERR_PTR(-EIO);
	if (framing->frame_size > KSALLOC_PRODUCER_EDU_MAX_FRAME_SIZE)
		return ERR_PTR(-EINVAL);
	return ksalloc_create_ex(&params);
}

static int ksalloc_edu_attach(struct ksalloc_stream *s, bool created)
{
	struct ksalloc_edu *edu = to_edu(s);

	if (edu->gone)
		return -ENODEV;
	if (edu->dead)
		return -EIO;
	/*
	 * Each frame's header is made whole when the frame is taken: its
	 * payload generated and CRC'd in softirq context, under @lock.  The
	 * cap bounds that to 256 KiB a frame, well under a millisecond, at
	 * most once per frame, and every frame takes two transfers of
	 * 100 ms a chunk.
	 */
	if (s->frame_size > KSALLOC_PRODUCER_EDU_MAX_FRAME_SIZE)
		return -EINVAL;
	return created ? 0 : ksalloc_bind(s->alloc, &edu->pdev->dev,
					  DMA_FROM_DEVICE);
}

static void ksalloc_edu_detach(struct ksalloc_stream *s)
{
	struct ksalloc_edu *edu = to_edu(s);

	/* A dead device may still write into the pool: the binding stays. */
	if (!edu->dead)
		ksalloc_unbind(s->alloc, &edu->pdev->dev);
}

static void ksalloc_edu_start(struct ksalloc_stream *s)
{
	struct ksalloc_edu *edu = to_edu(s);

	spin_lock_bh(&edu->lock);
	edu->period = ns_to_ktime(div_u64(NSEC_PER_SEC, s->rate));
	edu->next = ktime_get();
	edu->step = EDU_IDLE;
	edu->running = true;
	spin_unlock_bh(&edu->lock);
	tasklet_schedule(&edu->tasklet);
}

/*
 * A transfer is still in flight after the stop's wait: the device is dead.
 * The frame it writes into is never given back, and the allocator is kept
 * (one reference of the device's, never dropped, so that neither its pages
 * nor its mappings go, even for an allocator that CREATE made and the
 * detach closes).  Deliberately leaked: better than a device writing into
 * memory that was freed.  Bus mastering is turned off, for what that stops.
 */
static void ksalloc_edu_die(struct ksalloc_edu *edu)
{
	lockdep_assert_held(&edu->s.mutex);
	dev_err(&edu->pdev->dev,
		"DMA still running after %d ms: device dead, frame %u and the binding kept\n",
		EDU_STOP_TIMEOUT_MS, edu->index);
	edu->dead = true;
	ksalloc_get(edu->s.alloc);
	pci_clear_master(edu->pdev);
	ksalloc_stream_end(&edu->s);
}

/*
 * Stops the DMA engine: nothing new starts, the transfer in flight is
 * waited for, and the frame being filled goes back.  -EIO once the device
 * is dead.
 */
static int ksalloc_edu_stop(struct ksalloc_stream *s)
{
	struct ksalloc_edu *edu = to_edu(s);
	int ret;
	u32 cmd;

	lockdep_assert_held(&s->mutex);
	if (edu->dead)
		return -EIO;
	spin_lock_bh(&edu->lock);
	edu->running = false;
	spin_unlock_bh(&edu->lock);

	hrtimer_cancel(&edu->timer);
	ret = readl_poll_timeout(edu->regs + EDU_DMA_CMD, cmd,
				 !(cmd & EDU_DMA_START), USEC_PER_MSEC,
				 EDU_STOP_TIMEOUT_MS * USEC_PER_MSEC);
	synchronize_irq(edu->irq);
	tasklet_kill(&edu->tasklet);
	if (ret) {
		ksalloc_edu_die(edu);
		return -EIO;
	}

	spin_lock_bh(&edu->lock);
	ksalloc_edu_drop_frame(edu);
	spin_unlock_bh(&edu->lock);
	return 0;
}

static const struct ksalloc_stream_ops ksalloc_edu_ops = {
	.create	= ksalloc_edu_create,
	.attach	= ksalloc_edu_attach,
	.detach	= ksalloc_edu_detach,
	.start	= ksalloc_edu_start,
	.stop	= ksalloc_edu_stop,
};

static void ksalloc_edu_free(struct kref *ref)
{
	struct ksalloc_edu *edu = container_of(ref, struct ksalloc_edu, ref);

	ksalloc_stream_destroy(&edu->s);
	kfree(edu);
}

/* One open at a time: the device has one DMA engine. */
static int ksalloc_edu_open(struct inode *inode, struct file *file)
{
	struct ksalloc_edu *edu = container_of(file->private_data,
					       struct ksalloc_edu, misc);

	/* misc_open() holds misc_mtx: the remove cannot drop @ref meanwhile. */
	if (test_and_set_bit(0, &edu->busy))
		return -EBUSY;
	kref_get(&edu->ref);
	file->private_data = &edu->s;
	return stream_open(inode, file);
}

static int ksalloc_edu_release(struct inode *inode, struct file *file)
{
	struct ksalloc_edu *edu = to_edu(file->private_data);

	mutex_lock(&edu->s.mutex);
	if (edu->s.alloc)
		ksalloc_stream_detach(&edu->s);
	mutex_unlock(&edu->s.mutex);
	clear_bit(0, &edu->busy);
	kref_put(&edu->ref, ksalloc_edu_free);
	return 0;
}

static const struct file_operations ksalloc_edu_fops = {
	.owner		= THIS_MODULE,
	.open		= ksalloc_edu_open,
	.release	= ksalloc_edu_release,
	.read		= ksalloc_stream_read,
	.poll		= ksalloc_stream_poll,
	.unlocked_ioctl	= ksalloc_stream_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

/* The device: BAR 0, the DMA mask, MSI, the staging buffer. */
static int ksalloc_edu_setup(struct ksalloc_edu *edu)
{
	struct pci_dev *pdev = edu->pdev;
	u32 id;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = pcim_iomap_regions(pdev, BIT(0), ksalloc_edu_driver.name);
	if (ret)
		return ret;
	edu->regs = pcim_iomap_table(pdev)[0];
	id = readl(edu->regs + EDU_ID);
	if ((id & 0xffff) != 0xed) {
		dev_err(&pdev->dev, "not an edu device (id %#x)\n", id);
		return -ENODEV;
	}
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(dma_bits));
	if (ret)
		return ret;
	pci_set_master(pdev);
	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI);
	if (ret < 0)
		return ret;
	edu->irq = pci_irq_vector(pdev, 0);
	/* A status left by an earlier driver must not fire at request_irq(). */
	writel(readl(edu->regs + EDU_IRQ_STATUS), edu->regs + EDU_IRQ_ACK);
	edu->staging = dmam_alloc_coherent(&pdev->dev, EDU_CHUNK,
					   &edu->staging_dma, GFP_KERNEL);
	return edu->staging ? 0 : -ENOMEM;
}

static int ksalloc_edu_probe(struct pci_dev *pdev,
			     const struct pci_device_id *ent)
{
	struct ksalloc_edu *edu;
	int ret;

	if (dma_bits < 28 || dma_bits > 64)
		return -EINVAL;
	edu = kzalloc(sizeof(*edu), GFP_KERNEL);
	if (!edu)
		return -ENOMEM;
	kref_init(&edu->ref);
	edu->pdev = pdev;
	ksalloc_stream_init(&edu->s, &ksalloc_edu_ops);
	spin_lock_init(&edu->lock);
	tasklet_setup(&edu->tasklet, ksalloc_edu_tasklet);
	hrtimer_init(&edu->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_SOFT);
	edu->timer.function = ksalloc_edu_due;

	ret = ksalloc_edu_setup(edu);
	if (ret)
		goto err_put;
	edu->id = ida_alloc(&ksalloc_edu_ida, GFP_KERNEL);
	if (edu->id < 0) {
		ret = edu->id;
		goto err_put;
	}
	if (edu->id)
		snprintf(edu->name, sizeof(edu->name), "ksalloc_edu%d", edu->id);
	else
		strscpy(edu->name, "ksalloc_edu", sizeof(edu->name));
	/* Named for the node, as /proc/interrupts shows it. */
	ret = request_irq(edu->irq, ksalloc_edu_irq, 0, edu->name, edu);
	if (ret)
		goto err_free_id;
	edu->misc = (struct miscdevice){
		.minor	= MISC_DYNAMIC_MINOR,
		.name	= edu->name,
		.fops	= &ksalloc_edu_fops,
		.parent	= &pdev->dev,
		.mode	= 0600,
	};
	ret = misc_register(&edu->misc);
	if (ret)
		goto err_free_irq;
	pci_set_drvdata(pdev, edu);
	dev_info(&pdev->dev, "/dev/%s, %u-bit DMA mask\n", edu->name, dma_bits);
	return 0;

err_free_irq:
	free_irq(edu->irq, edu);
	/* The handler may have scheduled it before it went. */
	tasklet_kill(&edu->tasklet);
err_free_id:
	ida_free(&ksalloc_edu_ida, edu->id);
err_put:
	kref_put(&edu->ref, ksalloc_edu_free);
	return ret;
}

/*
 * The node goes first, so that nothing opens it; then whatever stream
 * runs is stopped and detached (an open file sees the end, and -ENODEV
 * from ATTACH and CREATE).  The structure lives on until that file closes.
 */
static void ksalloc_edu_remove(struct pci_dev *pdev)
{
	struct ksalloc_edu *edu = pci_get_drvdata(pdev);

	misc_deregister(&edu->misc);
	mutex_lock(&edu->s.mutex);
	edu->gone = true;
	if (edu->s.alloc)
		ksalloc_stream_detach(&edu->s);
	mutex_unlock(&edu->s.mutex);
	free_irq(edu->irq, edu);
	tasklet_kill(&edu->tasklet);
	ida_free(&ksalloc_edu_ida, edu->id);
	kref_put(&edu->ref, ksalloc_edu_free);
}

static const struct pci_device_id ksalloc_edu_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{ }
};
MODULE_DEVICE_TABLE(pci, ksalloc_edu_ids);

static struct pci_driver ksalloc_edu_driver = {
	.name		= "ksalloc_edu",
	.id_table	= ksalloc_edu_ids,
	.probe		= ksalloc_edu_probe,
	.remove		= ksalloc_edu_remove,
};

/**
 * ksalloc_edu_init() - register the edu driver, from the module's init
 *
 * Return: 0 or -errno.
 */
int ksalloc_edu_init(void)
{
	return pci_register_driver(&ksalloc_edu_driver);
}

/**
 * ksalloc_edu_exit() - unregister it, from the module's exit
 */
void ksalloc_edu_exit(void)
{
	pci_unregister_driver(&ksalloc_edu_driver);
}
