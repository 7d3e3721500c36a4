// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite "ksalloc_dma_backing": the device backing (ordinary memory
 * from the zone the device reaches, bound at the creation, plain pages
 * once unbound), what a bind checks before it maps (the size of one
 * mapping, the cache line), addresses that custom backing set for one
 * device and one direction only, and ksalloc_install_fd() (its flags and
 * refusals, and the frames user space allocates through it).
 *
 * As in the suite "ksalloc_dma" (kunit/dma.c, whose helpers kunit/dma.h
 * shares): the device is a KUnit platform device that no driver binds,
 * the cases that map memory are skipped where there is no DMA (UML), and
 * the x86_64 profiles of scripts/kunit.sh run them with no IOMMU.
 */

#include <kunit/test.h>
#include <linux/device.h>
#include <linux/dma-direct.h>
#include <linux/dma-mapping.h>
#include <linux/fcntl.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/ksalloc.h>
#include <linux/kref.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/rcupdate.h>
#include <linux/sizes.h>
#include <linux/swiotlb.h>
#include <linux/uaccess.h>

#include "dma.h"
#include "helpers.h"

/*
 * Gives @dev the narrowest mask that a zone serves: 24 bits where
 * ZONE_DMA is, else 32.  Returns it.
 */
static u64 ksalloc_dmab_narrow(struct kunit *test, struct device *dev)
{
	if (dma_set_mask_and_coherent(dev, DMA_BIT_MASK(24)))
		KUNIT_ASSERT_EQ(test, 0,
				dma_set_mask_and_coherent(dev, DMA_BIT_MASK(32)));
	return dma_get_mask(dev);
}

/* Checks that every byte of frames 0..@frames-1 lies within @mask. */
static void ksalloc_dmab_within(struct kunit *test, struct ksalloc *alloc,
				struct device *dev, u32 frames, u32 size,
				u64 mask)
{
	u32 i, len;

	for (i = 0; i < frames; i++) {
		KUNIT_EXPECT_LE_MSG(test, ksalloc_frame_dma(alloc, i, size - 1, &len),
				    mask, "frame %u", i);
		if (ksalloc_dma_direct(dev))
			KUNIT_EXPECT_LE_MSG(test,
					    ksalloc_dma_phys(alloc, i, size - 1),
					    mask, "frame %u", i);
		if (dev_to_node(dev) != NUMA_NO_NODE)
			KUNIT_EXPECT_EQ(test, page_to_nid(ksalloc_dma_page(alloc, i, 0)),
					dev_to_node(dev));
	}
}

/*
 * Device memory: every page within the device's mask and on its node,
 * mapped for it at the creation.  The pool holds no reference on the
 * device, only the binding does: once unbound the device has its
 * references back, the frames still work, the pool binds again as any
 * pool, and the release frees it all.
 */
static void ksalloc_dmab_device_test(struct kunit *test)
{
	struct device *dev = ksalloc_dma_capable(test, DMA_BIT_MASK(64));
	const u32 frames = 8, size = 2000;
	struct ksalloc_framing f = ksalloc_dma_framing(frames, size, 0);
	struct ksalloc_params p = {
		.framing = &f, .flags = KSALLOC_CREATE_DEVICE, .dev = dev,
		.dir = DMA_BIDIRECTIONAL, .node = NUMA_NO_NODE,
	};
	u64 mask, start = ksalloc_test_charged();
	struct ksalloc *alloc;
	unsigned int refs;
	void *frame;

	mask = ksalloc_dmab_narrow(test, dev);
	set_dev_node(dev, first_online_node);
	refs = kref_read(&dev->kobj.kref);
	alloc = ksalloc_test_create_ex(test, &p);

	ksalloc_dma_check_bound(test, alloc, dev, frames, size);
	ksalloc_dmab_within(test, alloc, dev, frames, size, mask);
	ksalloc_dma_expect_info(test, alloc, "direction", DMA_BIDIRECTIONAL);
	KUNIT_EXPECT_EQ(test, kref_read(&dev->kobj.kref), refs + 1);

	ksalloc_unbind(alloc, dev);
	KUNIT_EXPECT_EQ(test, kref_read(&dev->kobj.kref), refs);
	ksalloc_dma_check_unbound(test, alloc, frames);
	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &frame));
	ksalloc_free_frame(alloc, frame);

	KUNIT_ASSERT_EQ(test, 0, ksalloc_bind(alloc, dev, DMA_FROM_DEVICE));
	ksalloc_dma_check_bound(test, alloc, dev, frames, size);
	ksalloc_unbind(alloc, dev);
	ksalloc_test_close(test, alloc);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(start), start);
	KUNIT_EXPECT_EQ(test, kref_read(&dev->kobj.kref), refs);
}

/*
 * Contiguous device memory: each frame one physically contiguous run
 * within the mask, one bus segment; closed while still bound, the release
 * unmaps and frees it all.
 */
static void ksalloc_dmab_device_contig_test(struct kunit *test)
{
	struct device *dev = ksalloc_dma_capable(test, DMA_BIT_MASK(64));
	const u32 frames = 4, size = 2 * PAGE_SIZE + 100;
	struct ksalloc_framing f = ksalloc_dma_framing(frames, size, 0);
	struct ksalloc_params p = {
		.framing = &f, .dev = dev, .dir = DMA_FROM_DEVICE,
		.flags = KSALLOC_CREATE_CONTIG | KSALLOC_CREATE_DEVICE,
		.node = NUMA_NO_NODE,
	};
	u64 mask, start = ksalloc_test_charged();
	struct ksalloc *alloc;
	u32 i, len;

	mask = ksalloc_dmab_narrow(test, dev);
	alloc = ksalloc_test_create_ex(test, &p);
	KUNIT_EXPECT_EQ(test, frames,
			ksalloc_dma_check_bound(test, alloc, dev, frames, size));
	ksalloc_dmab_within(test, alloc, dev, frames, size, mask);
	for (i = 0; i < frames; i++) {
		KUNIT_EXPECT_EQ_MSG(test, 1,
				    ksalloc_dma_runs(alloc, i, PAGE_ALIGN(size)),
				    "frame %u", i);
		KUNIT_EXPECT_NE(test, DMA_MAPPING_ERROR,
				ksalloc_frame_dma(alloc, i, 0, &len));
		KUNIT_EXPECT_EQ(test, len, size);
	}
	ksalloc_dma_expect_info(test, alloc, "mapped_bytes",
				frames * PAGE_ALIGN(size));
	ksalloc_test_close(test, alloc);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(start), start);
}

/*
 * Device memory for a device that reaches less than any zone: with no
 * IOMMU, a mask of 20 bits is below every page of ZONE_DMA (x86 keeps
 * the first MiB to itself).  The creation checks every page as a bind
 * does: -ERANGE, with nothing left allocated or charged.
 */
static void ksalloc_dmab_device_reach_test(struct kunit *test)
{
	struct device *dev = ksalloc_dma_capable(test, DMA_BIT_MASK(64));
	const u64 mask = DMA_BIT_MASK(20);
	struct ksalloc_framing f = ksalloc_dma_framing(4, PAGE_SIZE, 0);
	struct ksalloc_params p = {
		.framing = &f, .flags = KSALLOC_CREATE_DEVICE, .dev = dev,
		.dir = DMA_FROM_DEVICE, .node = NUMA_NO_NODE,
	};
	u64 start = ksalloc_test_charged();

	if (!ksalloc_dma_direct(dev))
		kunit_skip(test, "an IOMMU reaches every page");
	/* by hand: dma_set_mask() refuses a mask below ZONE_DMA */
	*dev->dma_mask = mask;
	dev->coherent_dma_mask = mask;
	KUNIT_EXPECT_EQ(test, -ERANGE, ksalloc_dma_create_err(&p));
	p.flags |= KSALLOC_CREATE_CONTIG;
	KUNIT_EXPECT_EQ(test, -ERANGE, ksalloc_dma_create_err(&p));
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(start), start);
}

/*
 * Binds @alloc to @dev, expecting @want: a binding that works is checked
 * and ended, a refused one leaves nothing mapped.
 */
static void ksalloc_dmab_expect_bind(struct kunit *test, struct ksalloc *alloc,
				     struct device *dev, u32 frames, u32 size,
				     int want)
{
	KUNIT_EXPECT_EQ(test, want, ksalloc_bind(alloc, dev, DMA_FROM_DEVICE));
	if (want) {
		ksalloc_dma_check_unbound(test, alloc, frames);
		return;
	}
	ksalloc_dma_check_bound(test, alloc, dev, frames, size);
	ksalloc_unbind(alloc, dev);
}

/*
 * What a bind checks before it maps, with the answer worked out from the
 * device: where swiotlb bounces everything, a contiguous frame larger than
 * it bounces (dma_max_mapping_size(), 256 KiB) is -ERANGE, and so is a
 * creation bound to such a device; a stride that would put two
 * frames in one cache line of non-coherent DMA (dma_get_cache_alignment())
 * is -EINVAL, one aligned to it binds.
 */
static void ksalloc_dmab_bind_limits_test(struct kunit *test)
{
	struct device *dev = ksalloc_dma_capable(test, DMA_BIT_MASK(64));
	const u32 big = SZ_512K, odd = 72;
	u32 line = dma_get_cache_alignment();
	struct ksalloc_framing f = ksalloc_dma_framing(2, big, 0);
	struct ksalloc_params p = {
		.framing = &f, .flags = KSALLOC_CREATE_CONTIG,
		.dir = DMA_FROM_DEVICE, .node = NUMA_NO_NODE,
	};
	int want = big > dma_max_mapping_size(dev) &&
		   is_swiotlb_force_bounce(dev) ? -ERANGE : 0;
	u64 start = ksalloc_test_charged();
	struct ksalloc *alloc;

	kunit_info(test, "max mapping %zu, cache line %u\n",
		   dma_max_mapping_size(dev), line);
	alloc = ksalloc_test_create_ex(test, &p);
	ksalloc_dmab_expect_bind(test, alloc, dev, f.frames, big, want);
	ksalloc_test_close(test, alloc);
	p.dev = dev;
	KUNIT_EXPECT_EQ(test, want, ksalloc_dma_create_err(&p));

	alloc = ksalloc_test_create(test, 4, odd, 0, KSALLOC_POOL_NONPAGED);
	ksalloc_dmab_expect_bind(test, alloc, dev, 4, odd,
				 odd % line ? -EINVAL : 0);
	ksalloc_test_close(test, alloc);
	alloc = ksalloc_test_create(test, 4, odd, line - 1,
				    KSALLOC_POOL_NONPAGED);
	ksalloc_dmab_expect_bind(test, alloc, dev, 4, odd, 0);
	ksalloc_test_close(test, alloc);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(start), start);
}

/* ---- custom backing that sets bus addresses of its own ------------------- */

#define KSALLOC_DMAB_CHUNKS 8

/*
 * A backing that "maps" every chunk itself, to addresses no RAM of a
 * test machine has: whoever maps a chunk again gives another address,
 * and nothing passes these to the DMA API (the case syncs nothing).
 */
struct ksalloc_dmab_fake {
	int calls;
	int frees;
	int bad_frees;
	struct page *page[KSALLOC_DMAB_CHUNKS];
};

static dma_addr_t ksalloc_dmab_fake_dma(int i)
{
	return DMA_BIT_MASK(48) - (dma_addr_t)(i + 1) * SZ_1M;
}

static struct page *ksalloc_dmab_fake_alloc(void *priv, size_t size, int node,
					    gfp_t gfp, dma_addr_t *dma)
{
	struct ksalloc_dmab_fake *c = priv;
	int call = c->calls++;

	if (size != PAGE_SIZE || call >= KSALLOC_DMAB_CHUNKS)
		return NULL;
	c->page[call] = alloc_pages_node(node, gfp, 0);
	if (c->page[call])
		*dma = ksalloc_dmab_fake_dma(call);
	return c->page[call];
}

static void ksalloc_dmab_fake_free(void *priv, struct page *page, size_t size,
				   dma_addr_t dma)
{
	struct ksalloc_dmab_fake *c = priv;
	int i;

	c->frees++;
	for (i = 0; i < c->calls && i < KSALLOC_DMAB_CHUNKS; i++)
		if (c->page[i] == page)
			break;
	if (i == c->calls || i == KSALLOC_DMAB_CHUNKS ||
	    dma != ksalloc_dmab_fake_dma(i))
		c->bad_frees++;
	__free_page(page);
}

static const struct ksalloc_backing_ops ksalloc_dmab_fake_ops = {
	.alloc = ksalloc_dmab_fake_alloc,
	.free = ksalloc_dmab_fake_free,
	.owner = THIS_MODULE,
};

/* How many of frames 0..@frames-1 have the fake address as bus address. */
static u32 ksalloc_dmab_fake_frames(struct ksalloc *alloc, u32 frames)
{
	u32 i, len, n = 0;

	for (i = 0; i < frames; i++)
		n += ksalloc_frame_dma(alloc, i, 0, &len) ==
		     ksalloc_dmab_fake_dma(i);
	return n;
}

/*
 * Bus addresses that custom backing set serve the device and the
 * direction of the creation only: bound again for another direction or
 * another device, the core maps every chunk itself.  Such memory stays
 * mapped as long as its pages, and ksalloc_install_fd() refuses it, as it
 * refuses every custom backing.
 */
static void ksalloc_dmab_backing_mapped_test(struct kunit *test)
{
	struct device *dev = ksalloc_dma_capable(test, DMA_BIT_MASK(64));
	struct device *other = ksalloc_dma_capable(test, DMA_BIT_MASK(64));
	struct ksalloc_dmab_fake *c = kunit_kzalloc(test, sizeof(*c),
						    GFP_KERNEL);
	const u32 frames = 4;
	struct ksalloc_framing f = ksalloc_dma_framing(frames, PAGE_SIZE, 0);
	struct ksalloc_params p = {
		.framing = &f, .dev = dev, .dir = DMA_TO_DEVICE,
		.node = NUMA_NO_NODE, .ops = &ksalloc_dmab_fake_ops,
	};
	u64 start = ksalloc_test_charged();
	struct ksalloc *alloc;

	KUNIT_ASSERT_NOT_NULL(test, c);
	/* the releases call ->free(), so they run before @c goes */
	ksalloc_dma_flush_later(test);
	p.ops_priv = c;
	alloc = ksalloc_test_create_ex(test, &p);
	KUNIT_ASSERT_EQ(test, c->calls, frames);
	KUNIT_EXPECT_EQ(test, frames, ksalloc_dmab_fake_frames(alloc, frames));
	KUNIT_EXPECT_EQ(test, -EOPNOTSUPP, ksalloc_install_fd(alloc, 0));
	ksalloc_unbind(alloc, dev);
	ksalloc_dma_check_unbound(test, alloc, frames);

	KUNIT_ASSERT_EQ(test, 0, ksalloc_bind(alloc, dev, DMA_FROM_DEVICE));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_dmab_fake_frames(alloc, frames));
	ksalloc_dma_check_bound(test, alloc, dev, frames, PAGE_SIZE);
	ksalloc_unbind(alloc, dev);

	KUNIT_ASSERT_EQ(test, 0, ksalloc_bind(alloc, other, DMA_TO_DEVICE));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_dmab_fake_frames(alloc, frames));
	ksalloc_dma_check_bound(test, alloc, other, frames, PAGE_SIZE);
	ksalloc_unbind(alloc, other);

	KUNIT_ASSERT_EQ(test, 0, ksalloc_bind(alloc, dev, DMA_TO_DEVICE));
	KUNIT_EXPECT_EQ(test, frames, ksalloc_dmab_fake_frames(alloc, frames));
	/* a binding of ksalloc_bind() holds the allocator until the unbind */
	ksalloc_unbind(alloc, dev);
	ksalloc_test_close(test, alloc);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(start), start);
	KUNIT_EXPECT_EQ(test, c->frees, frames);
	KUNIT_EXPECT_EQ(test, c->bad_frees, 0);
}

/* ---- ksalloc_install_fd() ------------------------------------------------ */

/* Whether descriptor @fd of the current task is closed on exec. */
static bool ksalloc_dmab_cloexec(int fd)
{
	bool ret;

	rcu_read_lock();
	ret = close_on_exec(fd, current->files);
	rcu_read_unlock();
	return ret;
}

/*
 * ksalloc_install_fd(): O_CLOEXEC is its only flag, and it is honoured;
 * the descriptor is a file of /dev/ksalloc, open for reading and writing,
 * on the kernel's allocator; closing it leaves the allocator open and
 * drops its reference; a closed allocator gets no descriptor.
 */
static void ksalloc_dmab_install_fd_test(struct kunit *test)
{
	struct ksalloc *alloc = ksalloc_test_create(test, 4, 256, 0,
						    KSALLOC_POOL_NONPAGED);
	u64 start = ksalloc_test_charged();
	struct ksalloc *got;
	struct file *file;
	void *frame;
	int fd, fd2;

	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_install_fd(alloc, O_NONBLOCK));
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_install_fd(alloc, O_CLOEXEC | O_RDWR));
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_install_fd(alloc, ~0U));
	fd = ksalloc_install_fd(alloc, O_CLOEXEC);
	KUNIT_ASSERT_GE(test, fd, 0);
	fd2 = ksalloc_install_fd(alloc, 0);
	if (fd2 < 0)
		close_fd(fd);
	KUNIT_ASSERT_GE(test, fd2, 0);
	KUNIT_EXPECT_TRUE(test, ksalloc_dmab_cloexec(fd));
	KUNIT_EXPECT_FALSE(test, ksalloc_dmab_cloexec(fd2));

	file = fget(fd);
	KUNIT_EXPECT_NOT_NULL(test, file);
	if (file) {
		KUNIT_EXPECT_EQ(test, file->f_mode & (FMODE_READ | FMODE_WRITE),
				FMODE_READ | FMODE_WRITE);
		got = ksalloc_get_file(file);
		KUNIT_EXPECT_PTR_EQ(test, got, alloc);
		if (!IS_ERR(got))
			ksalloc_put(got);
	}
	KUNIT_EXPECT_EQ(test, 0, close_fd(fd));
	KUNIT_EXPECT_EQ(test, 0, close_fd(fd2));
	if (file)
		__fput_sync(file);

	/* still open, and nothing is charged for the descriptors any more */
	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &frame));
	ksalloc_free_frame(alloc, frame);
	KUNIT_EXPECT_EQ(test, ksalloc_test_charged(), start);

	ksalloc_get(alloc);
	ksalloc_test_close(test, alloc);
	KUNIT_EXPECT_EQ(test, -ENODEV, ksalloc_install_fd(alloc, 0));
	ksalloc_put(alloc);
}

/* An ioctl of @file with its struct @arg (@size bytes) through @ubuf. */
static long ksalloc_dmab_ioctl(struct file *file, void __user *ubuf,
			       unsigned int cmd, void *arg, size_t size)
{
	long ret;

	if (copy_to_user(ubuf, arg, size))
		return -EFAULT;
	ret = file->f_op->unlocked_ioctl(file, cmd, (unsigned long)ubuf);
	if (!ret && copy_from_user(arg, ubuf, size))
		return -EFAULT;
	return ret;
}

/*
 * Frames that user space allocates through a descriptor of
 * ksalloc_install_fd() (KSALLOC_IOC_ALLOC of its file) stay out when the
 * descriptor goes, and come back at the creator's ksalloc_close(): the
 * allocator is released and every byte uncharged.
 */
static void ksalloc_dmab_install_fd_frames_test(struct kunit *test)
{
	const u32 frames = 6;
	struct ksalloc_framing f = ksalloc_dma_framing(frames, 1000, 0);
	struct ksalloc_frame fr, idx[3];
	u64 start = ksalloc_test_charged();
	void __user *ubuf = ksalloc_test_user_page(test);
	struct ksalloc *alloc;
	struct file *file;
	int fd, i;

	if (!ubuf)
		kunit_skip(test, "no user memory for the ioctls");
	alloc = ksalloc_create(&f);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, alloc);
	fd = ksalloc_install_fd(alloc, O_CLOEXEC);
	file = fd < 0 ? NULL : fget(fd);
	if (fd >= 0)
		close_fd(fd);
	if (!file)
		ksalloc_close(alloc);
	KUNIT_ASSERT_NOT_NULL(test, file);

	for (i = 0; i < ARRAY_SIZE(idx); i++) {
		idx[i] = (struct ksalloc_frame){ .flags = KSALLOC_ALLOC_NOWAIT };
		KUNIT_EXPECT_EQ(test, 0,
				ksalloc_dmab_ioctl(file, ubuf, KSALLOC_IOC_ALLOC,
						   &idx[i], sizeof(idx[i])));
		KUNIT_EXPECT_LT(test, idx[i].index, frames);
	}
	KUNIT_EXPECT_NE(test, idx[0].index, idx[1].index);
	KUNIT_EXPECT_NE(test, idx[1].index, idx[2].index);
	KUNIT_EXPECT_EQ(test, -EBUSY,
			ksalloc_dmab_ioctl(file, ubuf, KSALLOC_IOC_SET_FRAMING,
					   &f, sizeof(f)));
	fr = (struct ksalloc_frame){ .index = idx[0].index };
	KUNIT_EXPECT_EQ(test, 0, ksalloc_dmab_ioctl(file, ubuf, KSALLOC_IOC_FREE,
						    &fr, sizeof(fr)));
	KUNIT_EXPECT_EQ(test, 2, ksalloc_test_allocated(test, alloc));

	__fput_sync(file);
	/* user space's frames stay out: the allocator is the creator's */
	KUNIT_EXPECT_EQ(test, 2, ksalloc_test_allocated(test, alloc));
	ksalloc_close(alloc);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(start), start);
}

static struct kunit_case ksalloc_dmab_test_cases[] = {
	KUNIT_CASE(ksalloc_dmab_device_test),
	KUNIT_CASE(ksalloc_dmab_device_contig_test),
	KUNIT_CASE(ksalloc_dmab_device_reach_test),
	KUNIT_CASE(ksalloc_dmab_bind_limits_test),
	KUNIT_CASE(ksalloc_dmab_backing_mapped_test),
	KUNIT_CASE(ksalloc_dmab_install_fd_test),
	KUNIT_CASE(ksalloc_dmab_install_fd_frames_test),
	{}
};

static struct kunit_suite ksalloc_dmab_test_suite = {
	.name = "ksalloc_dma_backing",
	.init = ksalloc_dma_init,
	.test_cases = ksalloc_dmab_test_cases,
};

kunit_test_suite(ksalloc_dmab_test_suite);
