/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ksalloc_producer - the sample softirq frame producer: its user-space ABI
 *
 * /dev/ksalloc_producer: one open is one stream.  KSALLOC_PRODUCER_IOC_ATTACH
 * hands it a framed /dev/ksalloc descriptor; KSALLOC_PRODUCER_IOC_SET_RATE
 * starts a timer that fills frames of that allocator at the given rate.
 * read() returns the indices (__u32) of filled frames, poll() reports
 * EPOLLIN while there are some.  Each frame starts with a struct
 * ksalloc_producer_frame; user space checks it through mmap() of the
 * allocator and gives the frame back with KSALLOC_IOC_FREE.
 *
 * KSALLOC_PRODUCER_IOC_HOLD takes one frame of the attached allocator
 * through its function table and keeps it, held by the producer (kernel
 * code), and returns its index: a frame that user space must not be able
 * to free (KSALLOC_IOC_FREE gives -EINVAL).  At most
 * KSALLOC_PRODUCER_MAX_HELD are held (then -ENOSPC); none free is -ENOMEM,
 * no allocator attached -ENOTCONN, the allocator closed -ENODEV.  Detach
 * and close of the producer free every held frame through the table.
 *
 * KSALLOC_PRODUCER_IOC_CREATE has the producer create the allocator itself,
 * in the kernel (for /dev/ksalloc_edu: memory allocated for the PCI device,
 * bound to it), attach it and return a new /dev/ksalloc descriptor of it
 * (O_RDWR, close-on-exec) in @fd, which user space maps and frees frames
 * through as if it had framed it.  -EBUSY when an allocator is attached;
 * the framing's errors as KSALLOC_IOC_SET_FRAMING has them.  DETACH and
 * close of the producer close that allocator: frames user space still held
 * go back to it.
 *
 * /dev/ksalloc_edu takes frames of at most KSALLOC_PRODUCER_EDU_MAX_FRAME_SIZE
 * bytes: ATTACH and CREATE refuse larger ones with -EINVAL.  ATTACH of a
 * descriptor not open for writing is -EBADF, on either device.  When a
 * transfer of the edu device does not end, the device is dead: read() sees
 * the end of the stream, and ATTACH, CREATE and SET_RATE fail with -EIO
 * until the driver is bound again.
 *
 * Only __u32/__u64, no implicit padding, every struct a multiple of 8 bytes.
 * Reserved fields and unknown flags must be zero on input.
 */
#ifndef _UAPI_KSALLOC_PRODUCER_H
#define _UAPI_KSALLOC_PRODUCER_H

#include <linux/ioctl.h>
#include <linux/ksalloc.h>
#include <linux/types.h>

/* "KSFR" in a little-endian dump */
#define KSALLOC_PRODUCER_MAGIC 0x5246534bU

/*
 * At the start of every frame.  The payload follows the header and fills
 * the rest of the frame: a run of little-endian __u64 words, word i being
 * sequence ^ (i * KSALLOC_PRODUCER_PATTERN), cut short at the end of the
 * frame.  checksum is the CRC-32 of IEEE 802.3 (zlib's crc32()) of the
 * payload.
 */
struct ksalloc_producer_frame {   /* 32 bytes */
	__u32 magic;              /* KSALLOC_PRODUCER_MAGIC */
	__u32 header_size;        /* sizeof(struct ksalloc_producer_frame) */
	__u64 sequence;           /* 0, 1, 2, ...; a gap is a dropped frame */
	__u64 timestamp_ns;       /* CLOCK_MONOTONIC when the frame was filled */
	__u32 length;             /* payload bytes after the header */
	__u32 checksum;           /* CRC-32 of the payload */
};

#define KSALLOC_PRODUCER_PATTERN 0x9e3779b97f4a7c15ULL

struct ksalloc_producer_attach {  /* 8 bytes */
	__u32 fd;                 /* a framed, NONPAGED /dev/ksalloc descriptor, O_RDWR */
	__u32 flags;              /* must be 0 */
};

struct ksalloc_producer_stats {   /* 64 bytes */
	__u64 produced;           /* frames queued to read() */
	__u64 drops;              /* sequence numbers lost: the sum of the next three */
	__u64 no_frame;           /* no free frame in the allocator */
	__u64 queue_full;         /* the read() queue was full */
	__u64 overruns;           /* the timer ran late by more than a burst */
	__u64 sequence;           /* the next sequence number */
	__u32 queued;             /* indices waiting to be read now */
	__u32 rate;               /* frames per second, 0 when stopped */
	__u32 flags;              /* KSALLOC_PRODUCER_F_* */
	__u32 frame_stride;       /* bytes from one frame to the next in mmap() */
};

struct ksalloc_producer_create {  /* 32 bytes */
	struct ksalloc_framing framing;   /* in: as for KSALLOC_IOC_SET_FRAMING, NONPAGED */
	__u32 flags;              /* in: KSALLOC_PRODUCER_CREATE_* */
	__s32 fd;                 /* out: the new /dev/ksalloc descriptor */
};

#define KSALLOC_PRODUCER_CREATE_CONTIG 0x1   /* each frame physically contiguous */

#define KSALLOC_PRODUCER_F_ATTACHED 0x1   /* an allocator is attached */
#define KSALLOC_PRODUCER_F_CLOSED   0x2   /* it was closed: production stopped */

#define KSALLOC_PRODUCER_MAX_RATE 100000
#define KSALLOC_PRODUCER_MAX_HELD 8   /* most frames KSALLOC_PRODUCER_IOC_HOLD keeps */
#define KSALLOC_PRODUCER_EDU_MAX_FRAME_SIZE (256 * 1024)   /* /dev/ksalloc_edu's largest frame */

#define KSALLOC_PRODUCER_IOC_MAGIC 0xBA
#define KSALLOC_PRODUCER_IOC_ATTACH \
	_IOW(KSALLOC_PRODUCER_IOC_MAGIC, 0x00, struct ksalloc_producer_attach)
#define KSALLOC_PRODUCER_IOC_DETACH     _IO(KSALLOC_PRODUCER_IOC_MAGIC, 0x01)
#define KSALLOC_PRODUCER_IOC_SET_RATE   _IOW(KSALLOC_PRODUCER_IOC_MAGIC, 0x02, __u32)
#define KSALLOC_PRODUCER_IOC_GET_STATS \
	_IOR(KSALLOC_PRODUCER_IOC_MAGIC, 0x03, struct ksalloc_producer_stats)
#define KSALLOC_PRODUCER_IOC_HOLD       _IOR(KSALLOC_PRODUCER_IOC_MAGIC, 0x04, __u32)
#define KSALLOC_PRODUCER_IOC_CREATE \
	_IOWR(KSALLOC_PRODUCER_IOC_MAGIC, 0x05, struct ksalloc_producer_create)

#endif /* _UAPI_KSALLOC_PRODUCER_H */
