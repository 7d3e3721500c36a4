// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite "ksalloc_dmabuf": ksalloc_export_dmabuf() and the exporter
 * of module/dmabuf.c, seen from an importer that is a platform device of
 * the case's own: the scatterlist of an attachment against the pool's
 * pages and bus addresses, the one cached mapping per attachment, vmap and
 * the CPU-access calls, a dma-buf keeping the pool alive after
 * ksalloc_close() with the budget back once it goes, and every refusal.
 * The cases that map need DMA and are skipped without it (UML).
 */

#include <kunit/test.h>
#include <linux/dma-buf.h>
#include <linux/dma-direct.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/gfp.h>
#include <linux/iosys-map.h>
#include <linux/ksalloc.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/string.h>
#include "../module/ksalloc_internal.h"
#include "dma.h"
#include "helpers.h"

MODULE_INFO(import_ns, "DMA_BUF");

KUNIT_DEFINE_ACTION_WRAPPER(ksalloc_dmabuf_put_action, dma_buf_put,
			    struct dma_buf *);

#define KSALLOC_DMABUF_MARK 0x5a

/* A dma-buf of @index that is put when the case ends, unless put before. */
static struct dma_buf *ksalloc_dmabuf_get(struct kunit *test,
					  struct ksalloc *alloc, u32 index,
					  unsigned int flags)
{
	struct dma_buf *dmabuf = ksalloc_export_dmabuf(alloc, index, flags);
	int ret;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dmabuf);
	ret = kunit_add_action_or_reset(test, ksalloc_dmabuf_put_action, dmabuf);
	KUNIT_ASSERT_EQ(test, 0, ret);
	return dmabuf;
}

static void ksalloc_dmabuf_put(struct kunit *test, struct dma_buf *dmabuf)
{
	kunit_release_action(test, ksalloc_dmabuf_put_action, dmabuf);
}

/*
 * The bytes charged once every dma-buf put so far is released: the last
 * fput() of a kthread's file runs from a work item (delayed_fput).
 */
static u64 ksalloc_dmabuf_settle(u64 want)
{
	flush_delayed_fput();
	return ksalloc_test_settle(want);
}

/* The bytes charged, once the dma-bufs of the cases before are gone. */
static u64 ksalloc_dmabuf_charged(void)
{
	flush_delayed_fput();
	return ksalloc_test_charged();
}

/*
 * The mapping of @sgt for @dev: its pages are those of frame @index from
 * its first byte on, all @size bytes of them and no more, and where no
 * IOMMU translates, each page's bus address is its physical address.
 */
static void ksalloc_dmabuf_check_sgt(struct kunit *test, struct ksalloc *alloc,
				     struct device *dev, u32 index,
				     struct sg_table *sgt, size_t size)
{
	struct sg_dma_page_iter dit;
	struct sg_page_iter it;
	size_t off = 0;

	for_each_sgtable_page(sgt, &it, 0) {
		KUNIT_EXPECT_PTR_EQ(test, sg_page_iter_page(&it),
				    ksalloc_dma_page(alloc, index, off));
		off += PAGE_SIZE;
	}
	KUNIT_EXPECT_EQ(test, off, size);

	off = 0;
	for_each_sgtable_dma_page(sgt, &dit, 0) {
		if (ksalloc_dma_direct(dev))
			KUNIT_EXPECT_EQ(test, sg_page_iter_dma_address(&dit),
					phys_to_dma(dev, ksalloc_dma_phys(alloc, index, off)));
		off += PAGE_SIZE;
	}
	KUNIT_EXPECT_EQ(test, off, size);
}

/*
 * Attaches @dev to @dmabuf and maps it twice: the same table both times
 * (the core caches an attachment's mapping), checked against the pool.
 */
static void ksalloc_dmabuf_import(struct kunit *test, struct ksalloc *alloc,
				  struct dma_buf *dmabuf, struct device *dev,
				  u32 index)
{
	struct dma_buf_attachment *attach;
	struct sg_table *sgt, *again;

	attach = dma_buf_attach(dmabuf, dev);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, attach);
	sgt = dma_buf_map_attachment_unlocked(attach, DMA_BIDIRECTIONAL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
	ksalloc_dmabuf_check_sgt(test, alloc, dev, index, sgt, dmabuf->size);
	again = dma_buf_map_attachment_unlocked(attach, DMA_BIDIRECTIONAL);
	KUNIT_EXPECT_PTR_EQ(test, again, sgt);
	if (!IS_ERR(again))
		dma_buf_unmap_attachment_unlocked(attach, again,
						  DMA_BIDIRECTIONAL);
	KUNIT_EXPECT_EQ(test, 0,
			dma_buf_begin_cpu_access(dmabuf, DMA_BIDIRECTIONAL));
	KUNIT_EXPECT_EQ(test, 0,
			dma_buf_end_cpu_access(dmabuf, DMA_BIDIRECTIONAL));
	dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_BIDIRECTIONAL);
	dma_buf_detach(dmabuf, attach);
}

/*
 * The pool as one dma-buf: the size mmap() maps, vmap is the pool's own
 * mapping, an importer's mapping is the pool's pages, and the dma-buf
 * keeps the pool after ksalloc_close(), its charge gone with the dma-buf.
 */
static void ksalloc_dmabuf_pool_test(struct kunit *test)
{
	const u32 frames = 6, size = 1536;
	u64 start = ksalloc_dmabuf_charged();
	struct ksalloc *alloc = ksalloc_test_create(test, frames, size, 0,
						    KSALLOC_POOL_NONPAGED);
	struct dma_buf *dmabuf;
	struct iosys_map map;
	struct device *dev;
	u8 *p;

	dmabuf = ksalloc_dmabuf_get(test, alloc, KSALLOC_DMABUF_POOL, O_RDWR);
	KUNIT_EXPECT_EQ(test, dmabuf->size, PAGE_ALIGN(frames * size));
	KUNIT_ASSERT_EQ(test, 0, dma_buf_vmap_unlocked(dmabuf, &map));
	KUNIT_EXPECT_PTR_EQ(test, map.vaddr, ksalloc_frame_ptr(alloc, 0));
	p = map.vaddr;

	/* Closed, the pool lives on in the dma-buf (KASAN watches). */
	ksalloc_test_close(test, alloc);
	KUNIT_EXPECT_GT(test, ksalloc_test_charged(), start);
	memset(p, KSALLOC_DMABUF_MARK, dmabuf->size);
	KUNIT_EXPECT_EQ(test, p[dmabuf->size - 1], KSALLOC_DMABUF_MARK);
	/* Before a skip: the core BUG()s on a dma-buf released vmapped. */
	dma_buf_vunmap_unlocked(dmabuf, &map);

	dev = ksalloc_dma_capable(test, DMA_BIT_MASK(64));
	ksalloc_dmabuf_import(test, alloc, dmabuf, dev, 0);
	ksalloc_dmabuf_put(test, dmabuf);
	KUNIT_EXPECT_EQ(test, ksalloc_dmabuf_settle(start), start);
}

/*
 * One frame the kernel holds, in a pool whose stride is two pages: a
 * dma-buf of exactly that frame's pages, which freeing the frame does not
 * revoke.
 */
static void ksalloc_dmabuf_frame_test(struct kunit *test)
{
	const u32 frames = 4, size = 2 * PAGE_SIZE;
	struct ksalloc *alloc = ksalloc_test_create(test, frames, size, 0,
						    KSALLOC_POOL_NONPAGED);
	struct dma_buf *dmabuf;
	struct iosys_map map;
	struct device *dev;
	void *frame;
	u32 index;

	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &frame));
	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &frame));
	index = ksalloc_frame_index(alloc, frame);
	dmabuf = ksalloc_dmabuf_get(test, alloc, index, O_RDONLY | O_CLOEXEC);
	KUNIT_EXPECT_EQ(test, dmabuf->size, size);
	KUNIT_ASSERT_EQ(test, 0, dma_buf_vmap_unlocked(dmabuf, &map));
	KUNIT_EXPECT_PTR_EQ(test, map.vaddr, frame);
	dma_buf_vunmap_unlocked(dmabuf, &map);

	ksalloc_free_frame(alloc, frame);
	dev = ksalloc_dma_capable(test, DMA_BIT_MASK(64));
	ksalloc_dmabuf_import(test, alloc, dmabuf, dev, index);
}

/* A backing of order-0 pages of its own, to see custom backing refused. */
static struct page *ksalloc_dmabuf_page_alloc(void *priv, size_t size,
					      int node, gfp_t gfp,
					      dma_addr_t *dma)
{
	return alloc_pages_node(node, gfp, 0);
}

static void ksalloc_dmabuf_page_free(void *priv, struct page *page,
				     size_t size, dma_addr_t dma)
{
	__free_page(page);
}

static const struct ksalloc_backing_ops ksalloc_dmabuf_pages_ops = {
	.alloc = ksalloc_dmabuf_page_alloc,
	.free = ksalloc_dmabuf_page_free,
};

static int ksalloc_dmabuf_err(struct ksalloc *alloc, u32 index,
			      unsigned int flags)
{
	struct dma_buf *dmabuf = ksalloc_export_dmabuf(alloc, index, flags);

	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	dma_buf_put(dmabuf);
	return 0;
}

/* Everything SPEC 8 refuses, and what the in-kernel call adds. */
static void ksalloc_dmabuf_refusal_test(struct kunit *test)
{
	struct ksalloc *pages = ksalloc_test_create(test, 4, PAGE_SIZE, 0,
						    KSALLOC_POOL_NONPAGED);
	struct ksalloc *odd = ksalloc_test_create(test, 4, 1536, 0,
						  KSALLOC_POOL_NONPAGED);
	struct ksalloc *paged = ksalloc_test_create(test, 4, PAGE_SIZE, 0,
						    KSALLOC_POOL_PAGED);
	struct ksalloc_framing f = ksalloc_dma_framing(4, PAGE_SIZE, 0);
	struct ksalloc_params p = {
		.framing = &f, .node = NUMA_NO_NODE,
		.ops = &ksalloc_dmabuf_pages_ops,
	};
	struct ksalloc *custom = ksalloc_test_create_ex(test, &p);
	u64 start = ksalloc_dmabuf_charged();
	void *frame, *held;
	u32 index;

	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(pages, &held));
	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(pages, &frame));
	index = ksalloc_frame_index(pages, frame);
	/* the access mode, and nothing but O_CLOEXEC beside it */
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_dmabuf_err(pages, index, 3));
	KUNIT_EXPECT_EQ(test, -EINVAL,
			ksalloc_dmabuf_err(pages, index, O_RDWR | O_APPEND));
	KUNIT_EXPECT_EQ(test, 0, ksalloc_dmabuf_err(pages, index, O_WRONLY));
	/* a frame the caller holds: not a free one, nor one user space has */
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_dmabuf_err(pages, 4, O_RDWR));
	KUNIT_EXPECT_EQ(test, -EINVAL,
			ksalloc_dmabuf_err(pages, KSALLOC_DMABUF_POOL - 1, O_RDWR));
	ksalloc_free_frame(pages, frame);
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_dmabuf_err(pages, index, O_RDWR));
	KUNIT_ASSERT_EQ(test, 0, ksalloc_frame_to_user(pages, held));
	KUNIT_EXPECT_EQ(test, -EINVAL,
			ksalloc_dmabuf_err(pages, ksalloc_frame_index(pages, held),
					   O_RDWR));
	/* a frame of a stride that is not whole pages; the pool is fine */
	KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(odd, &frame));
	KUNIT_EXPECT_EQ(test, -EINVAL,
			ksalloc_dmabuf_err(odd, ksalloc_frame_index(odd, frame),
					   O_RDWR));
	KUNIT_EXPECT_EQ(test, 0,
			ksalloc_dmabuf_err(odd, KSALLOC_DMABUF_POOL, O_RDWR));
	ksalloc_free_frame(odd, frame);
	/* no paged pool, no custom backing */
	KUNIT_EXPECT_EQ(test, -EINVAL,
			ksalloc_dmabuf_err(paged, KSALLOC_DMABUF_POOL, O_RDWR));
	KUNIT_EXPECT_EQ(test, -EOPNOTSUPP,
			ksalloc_dmabuf_err(custom, KSALLOC_DMABUF_POOL, O_RDWR));
	/* what the refusals and the exports charged is back */
	KUNIT_EXPECT_EQ(test, ksalloc_dmabuf_settle(start), start);

	/* nothing once closed (a reference of ours keeps it to look at) */
	ksalloc_get(odd);
	ksalloc_test_close(test, odd);
	KUNIT_EXPECT_EQ(test, -ENODEV,
			ksalloc_dmabuf_err(odd, KSALLOC_DMABUF_POOL, O_RDWR));
	ksalloc_put(odd);
}

/*
 * An importer that would reach the pool only through a bounce buffer is
 * refused when it maps (-ERANGE): the slot would hold a copy of pages that
 * others write, and a sync would copy it back over them.  It may attach:
 * an importer that only vmaps never bounces.
 */
static void ksalloc_dmabuf_bounce_test(struct kunit *test)
{
	struct device *dev = ksalloc_dma_capable(test, DMA_BIT_MASK(64));
	const u64 mask = DMA_BIT_MASK(20);
	struct ksalloc *alloc = ksalloc_test_create(test, 8, PAGE_SIZE, 0,
						    KSALLOC_POOL_NONPAGED);
	struct dma_buf_attachment *attach;
	struct dma_buf *dmabuf;
	struct sg_table *sgt;

	if (!ksalloc_dma_direct(dev))
		kunit_skip(test, "an IOMMU reaches every page");
	dmabuf = ksalloc_dmabuf_get(test, alloc, KSALLOC_DMABUF_POOL, O_RDWR);
	/* by hand: dma_set_mask() refuses a mask below ZONE_DMA */
	*dev->dma_mask = mask;
	dev->coherent_dma_mask = mask;
	KUNIT_ASSERT_GT(test, phys_to_dma(dev, ksalloc_dma_phys(alloc, 7, 0)),
			mask);
	attach = dma_buf_attach(dmabuf, dev);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, attach);
	sgt = dma_buf_map_attachment_unlocked(attach, DMA_BIDIRECTIONAL);
	KUNIT_EXPECT_EQ(test, -ERANGE, PTR_ERR_OR_ZERO(sgt));
	dma_buf_detach(dmabuf, attach);

	/* a mask narrowed after attach(): refused at the map too */
	KUNIT_ASSERT_EQ(test, 0, dma_coerce_mask_and_coherent(dev, DMA_BIT_MASK(64)));
	attach = dma_buf_attach(dmabuf, dev);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, attach);
	*dev->dma_mask = mask;
	sgt = dma_buf_map_attachment_unlocked(attach, DMA_FROM_DEVICE);
	KUNIT_EXPECT_EQ(test, -ERANGE, PTR_ERR_OR_ZERO(sgt));
	dma_buf_detach(dmabuf, attach);

	/* no mask at all: it attaches (a vmap is all it could use), maps nothing */
	*dev->dma_mask = 0;
	attach = dma_buf_attach(dmabuf, dev);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, attach);
	sgt = dma_buf_map_attachment_unlocked(attach, DMA_TO_DEVICE);
	KUNIT_EXPECT_EQ(test, -EINVAL, PTR_ERR_OR_ZERO(sgt));
	dma_buf_detach(dmabuf, attach);

	KUNIT_ASSERT_EQ(test, 0, dma_coerce_mask_and_coherent(dev, DMA_BIT_MASK(64)));
	ksalloc_dmabuf_import(test, alloc, dmabuf, dev, 0);
}

/*
 * Contiguous frames of four pages for an importer whose segments may not
 * cross an 8 KiB boundary: every frame comes in two segments, each within
 * one 8 KiB block (dma-direct passes a segment to the device as it is).
 */
static void ksalloc_dmabuf_boundary_test(struct kunit *test)
{
	struct device *dev = ksalloc_dma_capable(test, DMA_BIT_MASK(64));
	const unsigned long boundary = 2 * PAGE_SIZE - 1;
	const u32 frames = 4, size = 4 * PAGE_SIZE;
	struct ksalloc_framing f = ksalloc_dma_framing(frames, size, 0);
	struct ksalloc_params p = {
		.framing = &f, .flags = KSALLOC_CREATE_CONTIG,
		.node = NUMA_NO_NODE,
	};
	struct ksalloc *alloc = ksalloc_test_create_ex(test, &p);
	struct dma_buf_attachment *attach;
	struct dma_buf *dmabuf;
	struct scatterlist *sg;
	struct sg_table *sgt;
	unsigned int i;
	dma_addr_t a;

	if (!ksalloc_dma_direct(dev))
		kunit_skip(test, "an IOMMU keeps to the boundary itself");
	dmabuf = ksalloc_dmabuf_get(test, alloc, KSALLOC_DMABUF_POOL, O_RDWR);
	/* a boundary within a page: no segment can keep to it */
	dma_set_seg_boundary(dev, PAGE_SIZE / 2 - 1);	/* void from 6.11 on */
	attach = dma_buf_attach(dmabuf, dev);
	KUNIT_EXPECT_EQ(test, -EINVAL, PTR_ERR_OR_ZERO(attach));
	if (!IS_ERR(attach))
		dma_buf_detach(dmabuf, attach);

	dma_set_seg_boundary(dev, boundary);
	KUNIT_ASSERT_EQ(test, dma_get_seg_boundary(dev), boundary);
	attach = dma_buf_attach(dmabuf, dev);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, attach);
	sgt = dma_buf_map_attachment_unlocked(attach, DMA_FROM_DEVICE);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
	ksalloc_dmabuf_check_sgt(test, alloc, dev, 0, sgt, dmabuf->size);
	for_each_sgtable_dma_sg(sgt, sg, i) {
		a = sg_dma_address(sg);
		KUNIT_EXPECT_EQ_MSG(test, a | boundary,
				    (a + sg_dma_len(sg) - 1) | boundary,
				    "segment %u: %pad + %u", i, &a,
				    sg_dma_len(sg));
	}
	/* each frame is one physical run: two segments, no more */
	KUNIT_EXPECT_EQ(test, sgt->nents, 2 * frames);
	dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_FROM_DEVICE);
	dma_buf_detach(dmabuf, attach);
}

static void ksalloc_dmabuf_restore_limit(void *limit)
{
	WRITE_ONCE(ksalloc_max_pool_bytes, (unsigned long)limit);
}

/*
 * SPEC 7.8: a dma-buf counts against max_pool_bytes with the pool it
 * exports, and so does an attachment.
 */
static void ksalloc_dmabuf_limit_test(struct kunit *test)
{
	unsigned long limit = READ_ONCE(ksalloc_max_pool_bytes);
	u64 before = ksalloc_dmabuf_charged(), cost;
	struct ksalloc *alloc = ksalloc_test_create(test, 1, PAGE_SIZE, 0,
						    KSALLOC_POOL_NONPAGED);
	struct dma_buf_attachment *attach;
	struct dma_buf *dmabuf;
	struct device *dev;
	int ret;

	cost = ksalloc_charged_bytes() - before;
	ret = kunit_add_action_or_reset(test, ksalloc_dmabuf_restore_limit,
					(void *)limit);
	KUNIT_ASSERT_EQ(test, 0, ret);
	/* What the pool costs, and not a byte more: no dma-buf. */
	WRITE_ONCE(ksalloc_max_pool_bytes, cost);
	KUNIT_EXPECT_EQ(test, -ENOMEM,
			ksalloc_dmabuf_err(alloc, KSALLOC_DMABUF_POOL, O_RDWR));
	/* Room for a dma-buf, not for an attachment as well. */
	WRITE_ONCE(ksalloc_max_pool_bytes, cost + 4 * PAGE_SIZE);
	dmabuf = ksalloc_dmabuf_get(test, alloc, KSALLOC_DMABUF_POOL, O_RDWR);
	WRITE_ONCE(ksalloc_max_pool_bytes, ksalloc_charged_bytes() - before);
	/* 64 bits where there is DMA, so that no page is out of reach */
	dev = ksalloc_dma_device(test);
	if (dma_coerce_mask_and_coherent(dev, DMA_BIT_MASK(64)))
		kunit_info(test, "no DMA mask: the attachment is not mapped");
	attach = dma_buf_attach(dmabuf, dev);
	KUNIT_EXPECT_EQ(test, -ENOMEM, PTR_ERR_OR_ZERO(attach));
	if (!IS_ERR(attach))
		dma_buf_detach(dmabuf, attach);
	ksalloc_dmabuf_put(test, dmabuf);
	KUNIT_EXPECT_EQ(test, ksalloc_dmabuf_settle(before + cost),
			before + cost);
}

static struct kunit_case ksalloc_dmabuf_test_cases[] = {
	KUNIT_CASE(ksalloc_dmabuf_pool_test),
	KUNIT_CASE(ksalloc_dmabuf_frame_test),
	KUNIT_CASE(ksalloc_dmabuf_refusal_test),
	KUNIT_CASE(ksalloc_dmabuf_bounce_test),
	KUNIT_CASE(ksalloc_dmabuf_boundary_test),
	KUNIT_CASE(ksalloc_dmabuf_limit_test),
	{}
};

static struct kunit_suite ksalloc_dmabuf_test_suite = {
	.name = "ksalloc_dmabuf",
	.test_cases = ksalloc_dmabuf_test_cases,
};

kunit_test_suite(ksalloc_dmabuf_test_suite);
