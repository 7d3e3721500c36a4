/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksalloc_stream - what the frame sources of ksalloc_producer.ko share
 *
 * One stream is what one open of /dev/ksalloc_producer or of
 * /dev/ksalloc_edu serves: an attached allocator, the read() queue of
 * filled frames, the counters, the frames held by KSALLOC_PRODUCER_IOC_HOLD
 * and the ioctls of samples/ksalloc_producer.h.  A source fills frames:
 * the hrtimer of ksalloc_producer.c, or the edu PCI device of
 * ksalloc_edu.c.  It takes frames with ksalloc_stream_take(), writes the
 * frame format (ksalloc_stream_fill(), or chunk by chunk with
 * ksalloc_stream_frame_bytes()) and gives them to ksalloc_stream_deliver(),
 * all in softirq context.
 *
 * The core calls the source's ops with the stream's mutex held.  Between
 * start and stop the source may run; stop returns once it no longer does,
 * so that @alloc, @table and @frame_size, which change only while the source
 * is stopped, are read by the source without a lock.
 */
#ifndef _KSALLOC_STREAM_H
#define _KSALLOC_STREAM_H

#include <linux/fs.h>
#include <linux/kfifo.h>
#include <linux/ksalloc.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>

#include "ksalloc_producer.h"

struct ksalloc_stream;

/**
 * struct ksalloc_stream_ops - a frame source
 * @create: creates an allocator for KSALLOC_PRODUCER_IOC_CREATE with
 *          ksalloc_create_ex(); %KSALLOC_PRODUCER_CREATE_CONTIG in @flags
 *          asks for contiguous frames.  Returns it or an ERR_PTR.
 * @attach: an allocator is being attached (@created: by @create); may
 *          refuse it with an errno.  Optional.
 * @detach: undoes @attach, once the source is stopped.  Optional.
 * @start: the rate is set to a nonzero value: start filling frames.
 * @stop: stop, and return only once no frame is being filled.  Returns
 *        0, or -EIO when the source could not stop cleanly: it is dead,
 *        refuses every later attach, create and rate with -EIO, and keeps
 *        whatever it could not take back (see ksalloc_edu.c).
 *
 * All are called with the stream's mutex held, in process context.
 */
struct ksalloc_stream_ops {
	struct ksalloc *(*create)(struct ksalloc_stream *s,
				  const struct ksalloc_framing *framing,
				  u32 flags);
	int (*attach)(struct ksalloc_stream *s, bool created);
	void (*detach)(struct ksalloc_stream *s);
	void (*start)(struct ksalloc_stream *s);
	int (*stop)(struct ksalloc_stream *s);
};

/**
 * struct ksalloc_stream - one stream
 * @ops: its source
 * @mutex: serialises attach, detach, rate changes and the dequeue of read()
 *         (which takes a reference on @alloc, so that a detach never frees
 *         what a reader is copying out); never held over a user copy
 * @alloc: the attached allocator, holding a reference; NULL when detached
 * @table: its function table
 * @frame_size: its frame size in bytes
 * @created: @alloc was made by KSALLOC_PRODUCER_IOC_CREATE: the detach
 *           closes it
 * @rate: frames per second, 0 when stopped
 * @held: frames taken by KSALLOC_PRODUCER_IOC_HOLD, kept until the detach
 * @nr_held: number of valid entries in @held
 * @wq: readers and pollers waiting for indices or for the end
 * @lock: protects @fifo, @stats and @flags below; taken by the source in
 *        softirq context and with _bh in process context
 * @fifo: indices of filled frames, waiting for read()
 * @stats: counters as GET_STATS reports them (queued and flags aside)
 * @flags: KSALLOC_PRODUCER_F_*
 *
 * @alloc, @table, @frame_size, @created and @rate change under @mutex, and
 * only while the source is stopped.  @held and @nr_held are under @mutex
 * alone.  @stats.sequence is written by the source alone while it runs.
 */
struct ksalloc_stream {
	const struct ksalloc_stream_ops *ops;
	/* serialises attach, detach, rate changes and read()'s dequeue */
	struct mutex mutex;
	struct ksalloc *alloc;
	struct ksalloc_function_table table;
	u32 frame_size;
	bool created;
	u32 rate;
	void *held[KSALLOC_PRODUCER_MAX_HELD];
	u32 nr_held;
	wait_queue_head_t wq;

	/* protects the read() queue, the counters and the flags */
	spinlock_t lock;
	DECLARE_KFIFO_PTR(fifo, u32);
	struct ksalloc_producer_stats stats;
	u32 flags;
};

void ksalloc_stream_init(struct ksalloc_stream *s,
			 const struct ksalloc_stream_ops *ops);
void ksalloc_stream_destroy(struct ksalloc_stream *s);
int ksalloc_stream_detach(struct ksalloc_stream *s);

ssize_t ksalloc_stream_read(struct file *file, char __user *buf, size_t count,
			    loff_t *ppos);
__poll_t ksalloc_stream_poll(struct file *file, poll_table *wait);
long ksalloc_stream_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg);

/* For the sources, in softirq context. */
int ksalloc_stream_take(struct ksalloc_stream *s, void **frame);
bool ksalloc_stream_deliver(struct ksalloc_stream *s, void *frame);
void ksalloc_stream_wake(struct ksalloc_stream *s);
void ksalloc_stream_end(struct ksalloc_stream *s);

/* Which counter ksalloc_stream_drop() adds to. */
enum ksalloc_stream_drop {
	KSALLOC_STREAM_NO_FRAME,
	KSALLOC_STREAM_OVERRUN,
};

void ksalloc_stream_drop(struct ksalloc_stream *s,
			 enum ksalloc_stream_drop why, u64 n);

/* The sequence number of the next frame; only the running source calls it. */
static inline u64 ksalloc_stream_sequence(struct ksalloc_stream *s)
{
	return s->stats.sequence;
}

void ksalloc_stream_fill(void *frame, u32 frame_size, u64 seq);
void ksalloc_stream_header(struct ksalloc_producer_frame *hdr, u32 frame_size,
			   u64 seq, void *scratch, u32 scratch_size);
void ksalloc_stream_frame_bytes(void *buf, const struct ksalloc_producer_frame *hdr,
				u32 off, u32 len);

/* edu's 64-bit registers take 8-byte writes only: 64-bit kernels alone. */
#if IS_ENABLED(CONFIG_PCI) && IS_ENABLED(CONFIG_64BIT)
int ksalloc_edu_init(void);
void ksalloc_edu_exit(void);
#else
static inline int ksalloc_edu_init(void) { return 0; }
static inline void ksalloc_edu_exit(void) { }
#endif

#endif /* _KSALLOC_STREAM_H */
