// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_import - ksalloc dma-bufs in importers that ksalloc did not write
 *
 *   ksalloc_import vgem DRI-NODE
 *	DRM PRIME on vgem: imports the pool's dma-buf and a frame's with
 *	DRM_IOCTL_PRIME_FD_TO_HANDLE (vgem attaches and maps them for its
 *	device), exports the handle again with PRIME_HANDLE_TO_FD (the same
 *	dma-buf), compares bytes through the dma-buf's mmap, and closes the
 *	handles (unmap, detach); then closes the ksalloc descriptor while
 *	vgem still holds an attachment of the pool, and checks the bytes.
 *   ksalloc_import vivid VIDEO-NODE [contig|pages]
 *	V4L2_MEMORY_DMABUF capture from vivid into exported frames: every
 *	other frame of the pool is queued; the test pattern must land in the
 *	queued frames and nowhere else.  "contig" makes the allocator with
 *	the producer's KSALLOC_PRODUCER_CREATE_CONTIG (for vivid's
 *	dma-contig allocator), "pages" frames it on /dev/ksalloc; with
 *	"pages" on a dma-contig node the queue must refuse the buffer.
 *
 * Prints "GUEST-PASS: name" / "GUEST-FAIL: name" lines; exit status 1 on
 * any failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/dma-buf.h>
#include <linux/ksalloc.h>
#include <linux/videodev2.h>

#include "ksalloc_producer.h"

/* The few DRM ioctls used, as include/uapi/drm/drm.h defines them. */
struct drm_gem_close_arg { uint32_t handle, pad; };
struct drm_prime_handle_arg { uint32_t handle, flags; int32_t fd; };
#define DRM_IOCTL_GEM_CLOSE_ _IOW('d', 0x09, struct drm_gem_close_arg)
#define DRM_IOCTL_PRIME_HANDLE_TO_FD_ _IOWR('d', 0x2d, struct drm_prime_handle_arg)
#define DRM_IOCTL_PRIME_FD_TO_HANDLE_ _IOWR('d', 0x2e, struct drm_prime_handle_arg)

static int fails;

static void check(const char *name, int ok)
{
	printf("GUEST-%s: %s\n", ok ? "PASS" : "FAIL", name);
	fflush(stdout);
	fails += !ok;
}

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	int r;

	do {
		r = ioctl(fd, cmd, arg);
	} while (r && errno == EINTR);
	return r ? -errno : 0;
}

static int export(int fd, uint32_t index)
{
	struct ksalloc_dmabuf d = { .fd_flags = O_RDWR | O_CLOEXEC,
				    .index = index, .fd = -1 };
	int r = xioctl(fd, KSALLOC_IOC_EXPORT_DMABUF, &d);

	return r ? r : d.fd;
}

static unsigned char pat(size_t i)
{
	return (unsigned char)(i * 29 + (i >> 12) + 1);
}

/* The bytes of @len from a dma-buf's own mapping against pat(@base + i). */
static int dmabuf_matches(int fd, size_t base, size_t len)
{
	struct dma_buf_sync s = { DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ };
	unsigned char *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	size_t i, bad = 0;

	if (m == MAP_FAILED)
		return 0;
	xioctl(fd, DMA_BUF_IOCTL_SYNC, &s);
	for (i = 0; i < len; i++)
		bad += m[i] != pat(base + i);
	s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
	xioctl(fd, DMA_BUF_IOCTL_SYNC, &s);
	munmap(m, len);
	if (bad)
		printf("# %zu of %zu bytes differ\n", bad, len);
	else
		printf("# compared %zu bytes\n", len);
	return !bad;
}

static int import(int dri, int fd, uint32_t *handle)
{
	struct drm_prime_handle_arg p = { .fd = fd };
	int r = xioctl(dri, DRM_IOCTL_PRIME_FD_TO_HANDLE_, &p);

	*handle = p.handle;
	return r;
}

static int gem_close(int dri, uint32_t handle)
{
	struct drm_gem_close_arg c = { .handle = handle };

	return xioctl(dri, DRM_IOCTL_GEM_CLOSE_, &c);
}

/* Imports @fd, re-exports it and checks the bytes; 1 if all went well. */
static int vgem_roundtrip(const char *what, int dri, int fd, size_t base,
			  size_t len)
{
	struct drm_prime_handle_arg p = { .flags = O_RDWR | O_CLOEXEC };
	char name[64];
	uint32_t h, h2;
	int ok;

	snprintf(name, sizeof(name), "vgem-import-%s", what);
	check(name, !import(dri, fd, &h));
	/* The same dma-buf imported twice is the same object. */
	snprintf(name, sizeof(name), "vgem-import-%s-again-same-handle", what);
	check(name, !import(dri, fd, &h2) && h2 == h);
	p.handle = h;
	snprintf(name, sizeof(name), "vgem-reexport-%s", what);
	ok = !xioctl(dri, DRM_IOCTL_PRIME_HANDLE_TO_FD_, &p) && p.fd >= 0;
	check(name, ok);
	if (ok) {
		snprintf(name, sizeof(name), "vgem-reexport-%s-bytes", what);
		check(name, dmabuf_matches(p.fd, base, len));
		close(p.fd);
	}
	snprintf(name, sizeof(name), "vgem-gem-close-%s", what);
	check(name, !gem_close(dri, h));
	return 1;
}

static int run_vgem(const char *node)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len, i;
	struct ksalloc_framing f = { .frames = 4, .frame_size = 3 * page };
	struct ksalloc_frame fr = { .flags = KSALLOC_ALLOC_NOWAIT };
	int ks, dri, pfd, ffd;
	unsigned char *pool;
	uint32_t h;

	dri = open(node, O_RDWR | O_CLOEXEC);
	ks = open("/dev/ksalloc", O_RDWR | O_CLOEXEC);
	if (dri < 0 || ks < 0 || xioctl(ks, KSALLOC_IOC_SET_FRAMING, &f)) {
		check("vgem-setup", 0);
		return 1;
	}
	len = (size_t)f.frames * f.frame_size;
	pool = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, ks, 0);
	if (pool == MAP_FAILED || xioctl(ks, KSALLOC_IOC_ALLOC, &fr)) {
		check("vgem-setup", 0);
		return 1;
	}
	for (i = 0; i < len; i++)
		pool[i] = pat(i);
	pfd = export(ks, KSALLOC_DMABUF_POOL);
	ffd = export(ks, fr.index);
	check("vgem-export-pool-and-frame", pfd >= 0 && ffd >= 0);
	if (pfd < 0 || ffd < 0)
		return 1;
	vgem_roundtrip("pool", dri, pfd, 0, len);
	vgem_roundtrip("frame", dri, ffd, fr.offset, f.frame_size);

	/* The ksalloc descriptor goes while vgem holds the pool attached. */
	check("vgem-import-pool-hold", !import(dri, pfd, &h));
	munmap(pool, len);
	close(ks);
	check("vgem-attached-pool-outlives-descriptor",
	      dmabuf_matches(pfd, 0, len));
	close(pfd);
	close(ffd);
	/* vgem holds the last reference: closing the handle frees the pool. */
	check("vgem-gem-close-last", !gem_close(dri, h));
	close(dri);
	return 0;
}

/* --- vivid -------------------------------------------------------------- */

#define VIVID_FRAMES	6

/*
 * The allocator: framed on /dev/ksalloc, or created contiguous by the
 * producer, whose descriptor (*@prod) must stay open while it is used.
 */
static int vivid_allocator(const char *how, struct v4l2_format *fmt,
			   uint32_t *stride, int *prod)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint32_t size = (fmt->fmt.pix.sizeimage + page - 1) / page * page;
	struct ksalloc_framing f = { .frames = VIVID_FRAMES, .frame_size = size };
	int fd;

	*stride = size;
	if (!strcmp(how, "pages")) {
		fd = open("/dev/ksalloc", O_RDWR | O_CLOEXEC);
		if (fd >= 0 && xioctl(fd, KSALLOC_IOC_SET_FRAMING, &f)) {
			close(fd);
			return -1;
		}
		return fd;
	}
	*prod = open("/dev/ksalloc_producer", O_RDWR | O_CLOEXEC);
	if (*prod < 0)
		return -1;
	{
		struct ksalloc_producer_create c = {
			.framing = f, .flags = KSALLOC_PRODUCER_CREATE_CONTIG };

		fd = xioctl(*prod, KSALLOC_PRODUCER_IOC_CREATE, &c) ? -1 : (int)c.fd;
	}
	return fd;
}

/* How many bytes of frame @i differ from the fill byte, in [from, to). */
static size_t changed(const unsigned char *p, size_t from, size_t to)
{
	size_t n = 0;

	for (; from < to; from++)
		n += p[from] != 0xee;
	return n;
}

static int vivid_queue(int vfd, int ks, uint32_t buf, uint32_t frame,
		       uint32_t stride)
{
	struct v4l2_buffer b = {
		.index = buf, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		.memory = V4L2_MEMORY_DMABUF, .length = stride,
	};
	int fd = export(ks, frame), r;

	if (fd < 0)
		return fd;
	b.m.fd = fd;
	r = xioctl(vfd, VIDIOC_QBUF, &b);
	/* vb2 holds its own reference to the dma-buf. */
	close(fd);
	return r;
}

/* Captures into frames 0, 2, 4; frames 1, 3, 5 must stay untouched. */
static int vivid_capture(const char *tag, int vfd, int ks, unsigned char *pool,
			 uint32_t stride, uint32_t image, int want_refusal)
{
	enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	struct v4l2_buffer b;
	char name[96];
	int i, r, got = 0;
	size_t n;

	for (i = 0; i < 3; i++) {
		r = vivid_queue(vfd, ks, i, 2 * i, stride);
		if (want_refusal) {
			snprintf(name, sizeof(name), "vivid-%s-qbuf-refused-%d", tag, i);
			printf("# QBUF: %s\n", strerror(-r));
			check(name, r < 0);
			return 0;
		}
		snprintf(name, sizeof(name), "vivid-%s-qbuf-%d", tag, i);
		check(name, !r);
		if (r)
			return 0;
	}
	snprintf(name, sizeof(name), "vivid-%s-streamon", tag);
	check(name, !xioctl(vfd, VIDIOC_STREAMON, &type));
	for (i = 0; i < 3; i++) {
		memset(&b, 0, sizeof(b));
		b.type = type;
		b.memory = V4L2_MEMORY_DMABUF;
		if (xioctl(vfd, VIDIOC_DQBUF, &b))
			break;
		got++;
		printf("# dequeued buffer %u, %u bytes\n", b.index, b.bytesused);
	}
	snprintf(name, sizeof(name), "vivid-%s-captured-3", tag);
	check(name, got == 3);
	xioctl(vfd, VIDIOC_STREAMOFF, &type);
	for (i = 0; i < VIVID_FRAMES; i++) {
		size_t base = (size_t)i * stride;

		n = changed(pool, base, base + image);
		printf("# frame %d: %zu of %u image bytes written\n", i, n, image);
		snprintf(name, sizeof(name), "vivid-%s-frame-%d-%s", tag, i,
			 i % 2 ? "untouched" : "has-pattern");
		check(name, i % 2 ? n == 0 : n > image / 2);
		snprintf(name, sizeof(name), "vivid-%s-frame-%d-tail-untouched", tag, i);
		check(name, !changed(pool, base + image, base + stride));
	}
	return 0;
}

static int run_vivid(const char *node, const char *how, int want_refusal)
{
	struct v4l2_format fmt = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	struct v4l2_requestbuffers rb = {
		.count = 3, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		.memory = V4L2_MEMORY_DMABUF,
	};
	struct ksalloc_frame fr = { .flags = KSALLOC_ALLOC_NOWAIT };
	unsigned char *pool;
	uint32_t stride;
	int vfd, ks, i, prod = -1;
	char tag[64];

	snprintf(tag, sizeof(tag), "%s-%s", strrchr(node, '/') + 1, how);
	vfd = open(node, O_RDWR | O_CLOEXEC);
	fmt.fmt.pix.width = 320;
	fmt.fmt.pix.height = 240;
	fmt.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
	fmt.fmt.pix.field = V4L2_FIELD_NONE;
	if (vfd < 0 || xioctl(vfd, VIDIOC_S_FMT, &fmt)) {
		printf("# %s: open or S_FMT: %s\n", node, strerror(errno));
		check(tag, 0);
		return 1;
	}
	printf("# %s: %ux%u, %u bytes an image\n", node, fmt.fmt.pix.width,
	       fmt.fmt.pix.height, fmt.fmt.pix.sizeimage);
	ks = vivid_allocator(how, &fmt, &stride, &prod);
	pool = ks < 0 ? MAP_FAILED :
	       mmap(NULL, (size_t)VIVID_FRAMES * stride, PROT_READ | PROT_WRITE,
		    MAP_SHARED, ks, 0);
	if (pool == MAP_FAILED) {
		printf("# allocator %s: %s\n", how, strerror(errno));
		check(tag, 0);
		return 1;
	}
	memset(pool, 0xee, (size_t)VIVID_FRAMES * stride);
	for (i = 0; i < VIVID_FRAMES; i++) {
		/* All of them, so that user space holds every one. */
		if (xioctl(ks, KSALLOC_IOC_ALLOC, &fr)) {
			check(tag, 0);
			return 1;
		}
	}
	if (xioctl(vfd, VIDIOC_REQBUFS, &rb) || rb.count < 3) {
		printf("# REQBUFS: %s, %u\n", strerror(errno), rb.count);
		check(tag, 0);
		return 1;
	}
	vivid_capture(tag, vfd, ks, pool, stride, fmt.fmt.pix.sizeimage,
		      want_refusal);
	rb.count = 0;
	xioctl(vfd, VIDIOC_REQBUFS, &rb);
	munmap(pool, (size_t)VIVID_FRAMES * stride);
	close(ks);
	if (prod >= 0)
		close(prod);
	close(vfd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "vgem")) {
		run_vgem(argv[2]);
	} else if (argc >= 4 && !strcmp(argv[1], "vivid")) {
		run_vivid(argv[2], argv[3], argc > 4 && !strcmp(argv[4], "refused"));
	} else {
		fprintf(stderr, "usage: %s vgem NODE | vivid NODE contig|pages [refused]\n",
			argv[0]);
		return 2;
	}
	return fails ? 1 : 0;
}
