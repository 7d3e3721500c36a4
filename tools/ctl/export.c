// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc-ctl export: the pool, or one frame, as a dma-buf, checked.
 *
 * It frames an allocator, writes a pattern into the pool through the
 * descriptor's mapping, exports the pool (or, with --frame, one frame it
 * takes) with KSALLOC_IOC_EXPORT_DMABUF, and compares every byte through
 * the dma-buf's own mapping, between DMA_BUF_IOCTL_SYNC start and end.
 * Then it closes the allocator and compares again: the dma-buf keeps the
 * pool.  It prints one line, "pool|frame I: dma-buf of N bytes, compared
 * N bytes", or the first byte that differs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/dma-buf.h>

#include "ctl.h"

struct export {
	struct framing_opts o;
	bool frame;
};

static int export_options(int argc, char **argv, struct export *e)
{
	enum { OPT_FRAME = OPT_OWN };
	static const struct option opts[] = {
		{ "frames", required_argument, NULL, OPT_FRAMES },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "frame", no_argument, NULL, OPT_FRAME },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, ret;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		ret = common_opt("export", c, &e->o, NULL, 1, 1);
		if (ret == OPT_TAKEN)
			continue;
		if (ret >= 0)
			return ret;
		if (c == OPT_FRAME)
			e->frame = true;
	}
	if (optind < argc)
		return usage_error("export: unexpected argument '%s'", argv[optind]);
	return -1;
}

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 131 + (i >> 12));
}

/*
 * Compares @len bytes of @fd's mapping with the pattern from @base, inside
 * a CPU access of the dma-buf.  0, or -1 with a message.
 */
static int export_compare(int fd, size_t base, size_t len)
{
	struct dma_buf_sync sync = { DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ };
	unsigned char *m;
	size_t i;
	int ret = 0;

	m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		errmsg("mmap of the dma-buf: %s", strerror(errno));
		return -1;
	}
	if (ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync)) {
		errmsg("DMA_BUF_IOCTL_SYNC start: %s", strerror(errno));
		ret = -1;
	}
	for (i = 0; !ret && i < len; i++) {
		if (m[i] != pattern(base + i)) {
			errmsg("dma-buf byte %zu is %#x, not %#x", i, m[i],
			       pattern(base + i));
			ret = -1;
		}
	}
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
	if (ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) && !ret) {
		errmsg("DMA_BUF_IOCTL_SYNC end: %s", strerror(errno));
		ret = -1;
	}
	munmap(m, len);
	return ret;
}

int cmd_export(int argc, char **argv)
{
	struct export e = { .o = { .frames = 4, .size = 4096 } };
	struct ksalloc_allocator *a;
	uint32_t index = KSALLOC_EXPORT_POOL;
	size_t i, base = 0, len, pool;
	unsigned char *p;
	int ret, fd;
	off_t size;

	ret = export_options(argc, argv, &e);
	if (ret >= 0)
		return ret;
	a = open_allocator(&e.o, true);
	if (!a)
		return 1;
	ret = 1;
	p = ksalloc_pool(a);
	pool = ksalloc_pool_size(a);
	for (i = 0; i < pool; i++)
		p[i] = pattern(i);
	len = pool;
	if (e.frame) {
		fd = ksalloc_alloc_nowait(a, &index);
		if (fd) {
			errmsg_err(fd, "%s: alloc", device);
			goto out;
		}
		base = (size_t)((unsigned char *)ksalloc_frame_addr(a, index) - p);
		len = ksalloc_stride(a);
	}
	fd = ksalloc_export_dmabuf(a, index, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		errmsg_err(fd, "%s: export %s", device, e.frame ? "frame" : "pool");
		goto out;
	}
	size = lseek(fd, 0, SEEK_END);
	if (size != (off_t)len) {
		errmsg("the dma-buf has %lld bytes, not %zu", (long long)size, len);
		goto out_close;
	}
	if (export_compare(fd, base, len))
		goto out_close;
	/* The dma-buf holds the pool after the allocator is gone. */
	ksalloc_destroy(a);
	a = NULL;
	if (export_compare(fd, base, len))
		goto out_close;
	if (e.frame)
		printf("frame %" PRIu32 ": ", index);
	else
		printf("pool: ");
	printf("dma-buf of %zu bytes, compared %zu bytes twice\n", len, len);
	ret = 0;
out_close:
	close(fd);
out:
	ksalloc_destroy(a);
	return ret;
}
