// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite "ksalloc_dma": allocators a device can use (SPEC 8).  The
 * refusals of ksalloc_create_ex(), the bus addresses and scatterlists of
 * frames, binding and unbinding, a device that cannot reach the pool, the
 * contiguous and custom backings, the sync helpers in softirq context,
 * and the NUMA node of the pool.  The device backing, the limits of a
 * bind and ksalloc_install_fd() are the suite "ksalloc_dma_backing"
 * (kunit/dma_backing.c), on the helpers of kunit/dma.h.
 *
 * The device is a KUnit platform device that no driver binds.  The cases
 * that map memory for it need DMA: under UML (NO_DMA) its mask cannot be
 * set, and they are skipped with that reason.  scripts/kunit.sh's x86_64
 * profiles (kcsan, kasan, rt) run them, with no IOMMU, so that the bus
 * address of a byte is phys_to_dma() of its physical address, which the
 * cases check.  Only the kasan profile has debugfs: elsewhere the checks
 * of ksalloc/ID/dma are left out, and the case says so.
 */

#include <kunit/platform_device.h>
#include <kunit/test.h>
#include <linux/device.h>
#include <linux/dma-direct.h>
#include <linux/dma-mapping.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/interrupt.h>
#include <linux/ksalloc.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/platform_device.h>
#include <linux/scatterlist.h>
#include <linux/string.h>
#include <linux/timer.h>
#include <linux/vmalloc.h>

#include "../module/ksalloc_internal.h"
#include "dma.h"
#include "helpers.h"

/* ---- the device, the memory behind frames, debugfs ----------------------- */

/* Runs the releases the case queued, before its device goes. */
static void ksalloc_dma_flush_action(void *unused)
{
	ksalloc_test_charged();
}

/*
 * At the end of the case, the releases of the allocators created from now
 * on run before what was set up until now goes.
 */
void ksalloc_dma_flush_later(struct kunit *test)
{
	int ret = kunit_add_action_or_reset(test, ksalloc_dma_flush_action,
					    NULL);

	KUNIT_ASSERT_EQ(test, 0, ret);
}

/*
 * A platform device of the case's own, removed when the case ends, after
 * the allocators created later are closed and released.
 */
struct device *ksalloc_dma_device(struct kunit *test)
{
	struct platform_device *pdev;

	pdev = kunit_platform_device_alloc(test, "ksalloc-dma-test",
					   PLATFORM_DEVID_AUTO);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, pdev);
	KUNIT_ASSERT_EQ(test, 0, kunit_platform_device_add(test, pdev));
	ksalloc_dma_flush_later(test);
	return &pdev->dev;
}

/* The same, able to reach @mask; skips the case where there is no DMA. */
struct device *ksalloc_dma_capable(struct kunit *test, u64 mask)
{
	struct device *dev = ksalloc_dma_device(test);
	int ret = dma_coerce_mask_and_coherent(dev, mask);

	if (ret)
		kunit_skip(test, "no DMA for a platform device here (%d)", ret);
	return dev;
}

/* Bus addresses are physical ones (phys_to_dma()): no IOMMU translates. */
bool ksalloc_dma_direct(struct device *dev)
{
	return !device_iommu_mapped(dev);
}

/* The page that holds byte @off of frame @index. */
struct page *ksalloc_dma_page(struct ksalloc *alloc, u32 index, u32 off)
{
	void *p = ksalloc_frame_ptr(alloc, index) + off;

	return is_vmalloc_addr(p) ? vmalloc_to_page(p) : virt_to_page(p);
}

/* The physical address of byte @off of frame @index. */
phys_addr_t ksalloc_dma_phys(struct ksalloc *alloc, u32 index, u32 off)
{
	void *p = ksalloc_frame_ptr(alloc, index) + off;

	return page_to_phys(ksalloc_dma_page(alloc, index, off)) +
	       offset_in_page(p);
}

/* The offset in frame @index of the first page boundary after byte @off. */
static u32 ksalloc_dma_next_page(struct ksalloc *alloc, u32 index, u32 off)
{
	void *p = ksalloc_frame_ptr(alloc, index) + off;

	return off + PAGE_SIZE - offset_in_page(p);
}

/*
 * The physically contiguous runs of the first @len bytes of frame
 * @index, counted from the memory alone.
 */
unsigned int ksalloc_dma_runs(struct ksalloc *alloc, u32 index, u32 len)
{
	unsigned int runs = 1;
	u32 o;

	for (o = ksalloc_dma_next_page(alloc, index, 0); o < len;
	     o = ksalloc_dma_next_page(alloc, index, o))
		if (ksalloc_dma_phys(alloc, index, o) !=
		    ksalloc_dma_phys(alloc, index, o - 1) + 1)
			runs++;
	return runs;
}

/* The case's debugfs (ksalloc_test_info()), in test->priv. */
int ksalloc_dma_init(struct kunit *test)
{
	test->priv = kunit_kzalloc(test, sizeof(struct ksalloc_test_fs),
				   GFP_KERNEL);
	return test->priv ? 0 : -ENOMEM;
}

void ksalloc_dma_expect_info(struct kunit *test, struct ksalloc *alloc,
			     const char *key, u64 want)
{
	u64 v;

	if (ksalloc_test_info(test, test->priv, alloc, "dma", key, &v))
		KUNIT_EXPECT_EQ_MSG(test, v, want, "dma: %s", key);
}

/* ---- what a bound frame must look like ---------------------------------- */

/*
 * Checks the bus segment [@off, @off + @len) of frame @index at @dma:
 * every byte of it that starts a page, and its last byte, give the same
 * segment from where they are, and lie at their physical address.
 */
static void ksalloc_dma_check_segment(struct kunit *test, struct ksalloc *alloc,
				      struct device *dev, u32 index, u32 off,
				      u32 len, dma_addr_t dma)
{
	u32 o, l, end = off + len;

	for (o = off; o < end; o = ksalloc_dma_next_page(alloc, index, o)) {
		KUNIT_EXPECT_EQ(test, dma + (o - off),
				ksalloc_frame_dma(alloc, index, o, &l));
		KUNIT_EXPECT_EQ(test, l, end - o);
		if (ksalloc_dma_direct(dev))
			KUNIT_EXPECT_EQ(test, dma + (o - off),
					phys_to_dma(dev, ksalloc_dma_phys(alloc, index, o)));
	}
	KUNIT_EXPECT_EQ(test, dma + len - 1,
			ksalloc_frame_dma(alloc, index, end - 1, &l));
	KUNIT_EXPECT_EQ(test, l, 1);
}

/*
 * Walks frame @index (@size bytes) by its bus segments: they tile it, and
 * each ends where the bus is no longer contiguous.  Returns their number.
 */
static unsigned int ksalloc_dma_walk(struct kunit *test, struct ksalloc *alloc,
				     struct device *dev, u32 index, u32 size)
{
	dma_addr_t dma, prev_end = DMA_MAPPING_ERROR;
	unsigned int segs = 0;
	u32 off = 0, len;

	while (off < size) {
		len = 0;
		dma = ksalloc_frame_dma(alloc, index, off, &len);
		KUNIT_ASSERT_NE_MSG(test, dma, DMA_MAPPING_ERROR,
				    "frame %u offset %u", index, off);
		KUNIT_ASSERT_GT(test, len, 0);
		KUNIT_ASSERT_LE(test, len, size - off);
		/* else the previous segment was too short */
		KUNIT_EXPECT_NE(test, dma, prev_end);
		ksalloc_dma_check_segment(test, alloc, dev, index, off, len, dma);
		prev_end = dma + len;
		off += len;
		segs++;
	}
	return segs;
}

#define KSALLOC_DMA_SG 16

/*
 * Checks ksalloc_frame_sg() of frame @index against the memory and
 * against ksalloc_frame_dma(): its pages tile the frame in order, so do
 * its bus segments; one entry less is -E2BIG.  Returns the entries.
 */
static int ksalloc_dma_check_sg(struct kunit *test, struct ksalloc *alloc,
				u32 index, u32 size)
{
	struct scatterlist *sg, *s;
	u32 cpu = 0, bus = 0, l;
	int n, i;

	sg = kunit_kcalloc(test, KSALLOC_DMA_SG, sizeof(*sg), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sg);
	n = ksalloc_frame_sg(alloc, index, sg, KSALLOC_DMA_SG);
	KUNIT_ASSERT_GT(test, n, 0);
	KUNIT_EXPECT_TRUE(test, sg_is_last(&sg[n - 1]));
	for_each_sg(sg, s, n, i) {
		KUNIT_ASSERT_LT(test, cpu, size);
		KUNIT_EXPECT_EQ(test, page_to_phys(sg_page(s)) + s->offset,
				ksalloc_dma_phys(alloc, index, cpu));
		KUNIT_EXPECT_EQ(test, page_to_phys(sg_page(s)) + s->offset +
				s->length - 1,
				ksalloc_dma_phys(alloc, index, cpu + s->length - 1));
		cpu += s->length;
		if (!sg_dma_len(s) || bus >= size)
			continue;
		KUNIT_EXPECT_EQ(test, sg_dma_address(s),
				ksalloc_frame_dma(alloc, index, bus, &l));
		KUNIT_EXPECT_LE(test, sg_dma_len(s), l);
		bus += sg_dma_len(s);
	}
	KUNIT_EXPECT_EQ(test, cpu, size);
	KUNIT_EXPECT_EQ(test, bus, size);
	if (n > 1)
		KUNIT_EXPECT_EQ(test, -E2BIG,
				ksalloc_frame_sg(alloc, index, sg, n - 1));
	return n;
}

/*
 * Checks every frame of @alloc, bound to @dev, and what must fail.
 * Returns the bus segments of all frames.
 */
unsigned int ksalloc_dma_check_bound(struct kunit *test, struct ksalloc *alloc,
				     struct device *dev, u32 frames, u32 size)
{
	struct scatterlist sg[2];
	unsigned int segs, all = 0;
	u32 i, len;

	for (i = 0; i < frames; i++) {
		segs = ksalloc_dma_walk(test, alloc, dev, i, size);
		if (ksalloc_dma_direct(dev))
			KUNIT_EXPECT_EQ_MSG(test, segs,
					    ksalloc_dma_runs(alloc, i, size),
					    "frame %u", i);
		ksalloc_dma_check_sg(test, alloc, i, size);
		all += segs;
	}
	KUNIT_EXPECT_EQ(test, DMA_MAPPING_ERROR,
			ksalloc_frame_dma(alloc, frames, 0, &len));
	KUNIT_EXPECT_EQ(test, DMA_MAPPING_ERROR,
			ksalloc_frame_dma(alloc, U32_MAX, 0, &len));
	KUNIT_EXPECT_EQ(test, DMA_MAPPING_ERROR,
			ksalloc_frame_dma(alloc, 0, size, &len));
	KUNIT_EXPECT_EQ(test, DMA_MAPPING_ERROR,
			ksalloc_frame_dma(alloc, 0, U32_MAX, &len));
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_frame_sg(alloc, frames, sg, 2));
	ksalloc_dma_expect_info(test, alloc, "bound", 1);
	return all;
}

/* Checks that no frame of @alloc has a bus address. */
void ksalloc_dma_check_unbound(struct kunit *test, struct ksalloc *alloc,
			       u32 frames)
{
	struct scatterlist sg[4];
	u32 i, len;

	for (i = 0; i < frames; i++)
		KUNIT_EXPECT_EQ_MSG(test, DMA_MAPPING_ERROR,
				    ksalloc_frame_dma(alloc, i, 0, &len),
				    "frame %u", i);
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_frame_sg(alloc, 0, sg, 4));
	ksalloc_dma_expect_info(test, alloc, "bound", 0);
	ksalloc_dma_expect_info(test, alloc, "mapped_bytes", 0);
}

/* What ksalloc_create_ex() of @p returns: 0 (closed again) or -errno. */
int ksalloc_dma_create_err(const struct ksalloc_params *p)
{
	struct ksalloc *alloc = ksalloc_create_ex(p);

	if (IS_ERR_OR_NULL(alloc))
		return PTR_ERR_OR_ZERO(alloc) ?: -EFAULT;
	ksalloc_close(alloc);
	return 0;
}

/* ---- custom backing ------------------------------------------------------ */

#define KSALLOC_DMA_CHUNKS	32
#define KSALLOC_DMA_PATTERN	0x5a	/* what the backing fills chunks with */
#define KSALLOC_DMA_MARK	0xc3	/* what the cases write into frames */

struct ksalloc_dma_chunk {
	struct page *page;
	size_t size;
	dma_addr_t dma;
	bool freed;
};

/*
 * The backing of the cases: it fills every chunk with the pattern, and
 * when it frees one counts the bytes that are neither the pattern nor the
 * case's mark.  With @dev it maps the even chunks itself.  With @block
 * its pages are the chunks of a page each, in order or @reverse.  The counters
 * are written in process context (creation, the release's work item) and
 * read once ksalloc_test_charged() has waited for the release.
 */
struct ksalloc_dma_ops_ctx {
	struct ksalloc_dma_chunk chunk[KSALLOC_DMA_CHUNKS];
	int calls;
	int fail_at;
	int frees;
	int bad_frees;
	int bad_gfp;
	int bad_node;
	int node;
	size_t size;
	size_t marked;
	size_t foreign;
	struct device *dev;
	struct page *block;
	int block_pages;
	bool reverse;
};

/*
 * @size bytes of contiguous order-0 pages from @node, as the backing
 * contract asks (alloc_pages_exact_nid() is __meminit without memory
 * hotplug), and their free.
 */
static struct page *ksalloc_dma_pages(int node, size_t size, gfp_t gfp)
{
	unsigned int order = get_order(size), i;
	struct page *page = alloc_pages_node(node, gfp, order);

	if (!page)
		return NULL;
	split_page(page, order);
	for (i = size >> PAGE_SHIFT; i < 1U << order; i++)
		__free_page(page + i);
	return page;
}

static void ksalloc_dma_free_pages(struct page *page, size_t size)
{
	size_t i;

	for (i = 0; i < size >> PAGE_SHIFT; i++)
		__free_page(page + i);
}

static struct page *ksalloc_dma_ops_alloc(void *priv, size_t size, int node,
					  gfp_t gfp, dma_addr_t *dma)
{
	struct ksalloc_dma_ops_ctx *c = priv;
	struct ksalloc_dma_chunk *ch;
	int call = c->calls++;
	struct page *page;

	c->size = size;
	if (call == c->fail_at || call >= KSALLOC_DMA_CHUNKS)
		return NULL;
	if (!(gfp & __GFP_ACCOUNT))
		c->bad_gfp++;
	if (node != c->node)
		c->bad_node++;
	if (c->block && call < c->block_pages)
		page = c->block + (c->reverse ? c->block_pages - 1 - call : call);
	else
		page = ksalloc_dma_pages(node, size,
					 gfp & ~(__GFP_HIGHMEM | __GFP_COMP));
	if (!page)
		return NULL;
	memset(page_address(page), KSALLOC_DMA_PATTERN, size);
	ch = &c->chunk[call];
	ch->page = page;
	ch->size = size;
	ch->dma = DMA_MAPPING_ERROR;
	if (c->dev && !(call & 1)) {
		ch->dma = dma_map_page(c->dev, ch->page, 0, size,
				       DMA_BIDIRECTIONAL);
		if (dma_mapping_error(c->dev, ch->dma)) {
			ksalloc_dma_free_pages(page, size);
			return NULL;
		}
		*dma = ch->dma;
	}
	return ch->page;
}

static void ksalloc_dma_ops_free(void *priv, struct page *page, size_t size,
				 dma_addr_t dma)
{
	struct ksalloc_dma_ops_ctx *c = priv;
	struct ksalloc_dma_chunk *ch = NULL;
	u8 *p = page_address(page);
	size_t i;

	c->frees++;
	for (i = 0; i < KSALLOC_DMA_CHUNKS && !ch; i++)
		if (c->chunk[i].page == page && !c->chunk[i].freed)
			ch = &c->chunk[i];
	if (!ch || ch->size != size || ch->dma != dma) {
		c->bad_frees++;
		return;
	}
	ch->freed = true;
	for (i = 0; i < size; i++) {
		if (p[i] == KSALLOC_DMA_MARK)
			c->marked++;
		else if (p[i] != KSALLOC_DMA_PATTERN)
			c->foreign++;
	}
	if (dma != DMA_MAPPING_ERROR)
		dma_unmap_page(c->dev, dma, size, DMA_BIDIRECTIONAL);
	ksalloc_dma_free_pages(page, size);
}

static const struct ksalloc_backing_ops ksalloc_dma_ops = {
	.alloc = ksalloc_dma_ops_alloc,
	.free = ksalloc_dma_ops_free,
	.owner = THIS_MODULE,
};

static struct ksalloc_dma_ops_ctx *ksalloc_dma_ops_ctx(struct kunit *test)
{
	struct ksalloc_dma_ops_ctx *c = kunit_kzalloc(test, sizeof(*c),
						      GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, c);
	/* the releases call ->free(), so they run before @c goes */
	ksalloc_dma_flush_later(test);
	c->fail_at = -1;
	c->node = NUMA_NO_NODE;
	return c;
}

/* The chunk of @c whose first page is @page, or NULL. */
static struct ksalloc_dma_chunk *ksalloc_dma_chunk_of(struct ksalloc_dma_ops_ctx *c,
						      struct page *page)
{
	int i;

	for (i = 0; i < c->calls && i < KSALLOC_DMA_CHUNKS; i++)
		if (c->chunk[i].page == page)
			return &c->chunk[i];
	return NULL;
}

/* The bytes of frames 0..@frames-1 that are not the pattern: the marks. */
static size_t ksalloc_dma_scan(struct kunit *test, struct ksalloc *alloc,
			       u32 frames, u32 size)
{
	size_t marked = 0;
	u32 i, j;
	u8 *p;

	for (i = 0; i < frames; i++) {
		p = ksalloc_frame_ptr(alloc, i);
		for (j = 0; j < size; j++) {
			if (p[j] == KSALLOC_DMA_MARK)
				marked++;
			else
				KUNIT_EXPECT_EQ_MSG(test, p[j], KSALLOC_DMA_PATTERN,
						    "frame %u byte %u", i, j);
		}
	}
	return marked;
}

/* ---- the cases ----------------------------------------------------------- */

struct ksalloc_dma_refusal {
	const char *desc;
	u32 pool_type;
	u32 frames;
	u32 frame_size;
	u32 alignment;
	u32 framing_flags;
	unsigned int flags;
	bool dev;
	bool ops;
	int dir;
	int expect;
};

#define REFUSE(_desc, _type, _frames, _size, _align, _fflags, _flags, _dev, \
	       _ops, _dir, _err)					    \
	{ _desc, _type, _frames, _size, _align, _fflags, _flags, _dev, _ops, \
	  _dir, _err }

static const struct ksalloc_dma_refusal ksalloc_dma_refusals[] = {
	REFUSE("paged_with_dev", 1, 4, 256, 0, 0, 0, true, false,
	       DMA_FROM_DEVICE, -EINVAL),
	REFUSE("paged_contig", 1, 4, 256, 0, 0, KSALLOC_CREATE_CONTIG, false,
	       false, DMA_FROM_DEVICE, -EINVAL),
	REFUSE("paged_with_ops", 1, 4, 256, 0, 0, 0, false, true,
	       DMA_FROM_DEVICE, -EINVAL),
	REFUSE("device_without_dev", 0, 4, 256, 0, 0, KSALLOC_CREATE_DEVICE,
	       false, false, DMA_FROM_DEVICE, -EINVAL),
	REFUSE("device_with_ops", 0, 4, 256, 0, 0, KSALLOC_CREATE_DEVICE, true,
	       true, DMA_FROM_DEVICE, -EINVAL),
	REFUSE("paged_contig_device", 1, 4, 256, 0, 0,
	       KSALLOC_CREATE_CONTIG | KSALLOC_CREATE_DEVICE, true, false,
	       DMA_FROM_DEVICE, -EINVAL),
	REFUSE("unknown_flag", 0, 4, 256, 0, 0, 0x4, false, false,
	       DMA_FROM_DEVICE, -EINVAL),
	REFUSE("unknown_high_flag", 0, 4, 256, 0, 0, 0x80000000, true, false,
	       DMA_FROM_DEVICE, -EINVAL),
	REFUSE("dir_none", 0, 4, 256, 0, 0, 0, true, false, DMA_NONE, -EINVAL),
	REFUSE("dir_out_of_range", 0, 4, 256, 0, 0, 0, true, false, 4, -EINVAL),
	REFUSE("dir_negative", 0, 4, 256, 0, 0, 0, true, false, -1, -EINVAL),
	REFUSE("zero_frames", 0, 0, 256, 0, 0, 0, true, false,
	       DMA_FROM_DEVICE, -EINVAL),
	REFUSE("zero_size", 0, 4, 0, 0, 0, KSALLOC_CREATE_CONTIG, false, true,
	       DMA_FROM_DEVICE, -EINVAL),
	REFUSE("align_not_mask", 0, 4, 64, 2, 0, 0, false, true,
	       DMA_FROM_DEVICE, -EINVAL),
	REFUSE("unknown_framing_flag", 0, 4, 64, 0, 0x10, 0, true, false,
	       DMA_FROM_DEVICE, -EINVAL),
	REFUSE("unknown_pool_type", 2, 4, 64, 0, 0, 0, false, false,
	       DMA_FROM_DEVICE, -EINVAL),
	REFUSE("pool_over_limit", 0, 65536, 2048, PAGE_SIZE - 1, 0, 0, false,
	       true, DMA_FROM_DEVICE, -ENOMEM),
	REFUSE("contig_over_limit", 0, 65536, 2048, 0, 0,
	       KSALLOC_CREATE_CONTIG, false, false, DMA_FROM_DEVICE, -ENOMEM),
};

static void ksalloc_dma_refusal_desc(const struct ksalloc_dma_refusal *r,
				     char *desc)
{
	strscpy(desc, r->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(ksalloc_dma_refusal, ksalloc_dma_refusals,
		  ksalloc_dma_refusal_desc);

/*
 * ksalloc_create_ex() refuses what it cannot do, before it allocates or
 * charges anything, and the framing's own refusals stay what they were.
 * No DMA is needed: the device is never mapped for.
 */
static void ksalloc_dma_refusal_test(struct kunit *test)
{
	const struct ksalloc_dma_refusal *r = test->param_value;
	struct ksalloc_dma_ops_ctx *c = ksalloc_dma_ops_ctx(test);
	struct ksalloc_framing f = ksalloc_dma_framing(r->frames, r->frame_size,
						       r->alignment);
	struct ksalloc_params p = {
		.framing = &f, .flags = r->flags, .dir = r->dir,
		.node = NUMA_NO_NODE,
	};
	u64 start = ksalloc_test_charged();

	f.pool_type = r->pool_type;
	f.flags = r->framing_flags;
	if (r->dev)
		p.dev = ksalloc_dma_device(test);
	if (r->ops) {
		p.ops = &ksalloc_dma_ops;
		p.ops_priv = c;
	}
	KUNIT_EXPECT_EQ(test, ksalloc_dma_create_err(&p), r->expect);
	KUNIT_EXPECT_EQ(test, c->calls, 0);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(start), start);
}

/*
 * Binding an allocator of the default backing: every frame has bus
 * addresses that tile it, one segment per physically contiguous run
 * (frames of 1.5 pages: some straddle two pages, some three), its
 * scatterlist agrees, and the device is held while bound.  One binding at
 * a time, which only its device unbinds; unbinding takes every address
 * away, and a new binding works.
 */
static void ksalloc_dma_bind_test(struct kunit *test)
{
	struct device *dev = ksalloc_dma_capable(test, DMA_BIT_MASK(64));
	const u32 frames = 6, size = PAGE_SIZE + PAGE_SIZE / 2 + 8;
	struct device *other = ksalloc_dma_device(test);
	struct ksalloc *alloc = ksalloc_test_create(test, frames, size, 0,
						    KSALLOC_POOL_NONPAGED);
	unsigned int refs = kref_read(&dev->kobj.kref);

	ksalloc_dma_check_unbound(test, alloc, frames);
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_bind(alloc, dev, DMA_NONE));
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_bind(alloc, dev, 4));
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_bind(alloc, NULL, DMA_TO_DEVICE));
	KUNIT_EXPECT_EQ(test, refs, kref_read(&dev->kobj.kref));

	KUNIT_ASSERT_EQ(test, 0, ksalloc_bind(alloc, dev, DMA_FROM_DEVICE));
	KUNIT_EXPECT_GT(test, kref_read(&dev->kobj.kref), refs);
	KUNIT_EXPECT_EQ(test, -EBUSY, ksalloc_bind(alloc, dev, DMA_TO_DEVICE));
	ksalloc_dma_check_bound(test, alloc, dev, frames, size);
	ksalloc_dma_expect_info(test, alloc, "direction", DMA_FROM_DEVICE);
	ksalloc_dma_expect_info(test, alloc, "mapped_bytes",
				PAGE_ALIGN(frames * size));
	/* only the device of the binding ends it */
	ksalloc_unbind(alloc, other);
	ksalloc_unbind(alloc, NULL);
	ksalloc_dma_check_bound(test, alloc, dev, frames, size);

	ksalloc_unbind(alloc, dev);
	KUNIT_EXPECT_EQ(test, refs, kref_read(&dev->kobj.kref));
	ksalloc_dma_check_unbound(test, alloc, frames);
	/* a second unbind is nothing */
	ksalloc_unbind(alloc, dev);

	KUNIT_ASSERT_EQ(test, 0, ksalloc_bind(alloc, dev, DMA_BIDIRECTIONAL));
	ksalloc_dma_check_bound(test, alloc, dev, frames, size);
	ksalloc_dma_expect_info(test, alloc, "direction", DMA_BIDIRECTIONAL);
	ksalloc_unbind(alloc, dev);
	KUNIT_EXPECT_EQ(test, refs, kref_read(&dev->kobj.kref));
}

/*
 * An allocator that user space created and a driver took from its file:
 * the binding outlives the close of the file until the driver unbinds;
 * once closed, it cannot be bound again (-ENODEV); and nothing stays
 * charged at the end.
 */
static void ksalloc_dma_bind_user_test(struct kunit *test)
{
	struct device *dev = ksalloc_dma_capable(test, DMA_BIT_MASK(64));
	struct ksalloc_framing f = ksalloc_dma_framing(5, 3000, 0);
	u64 start = ksalloc_test_charged();
	struct ksalloc *alloc;
	struct file *file;

	file = ksalloc_kunit_file(&f);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, file);
	alloc = ksalloc_get_file(file);
	if (IS_ERR(alloc))
		__fput_sync(file);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, alloc);

	KUNIT_EXPECT_EQ(test, 0, ksalloc_bind(alloc, dev, DMA_TO_DEVICE));
	ksalloc_dma_check_bound(test, alloc, dev, f.frames, f.frame_size);
	__fput_sync(file);
	/* closed by user space, still bound for the driver */
	ksalloc_dma_check_bound(test, alloc, dev, f.frames, f.frame_size);
	ksalloc_unbind(alloc, dev);
	ksalloc_dma_check_unbound(test, alloc, f.frames);
	KUNIT_EXPECT_EQ(test, -ENODEV, ksalloc_bind(alloc, dev, DMA_TO_DEVICE));
	ksalloc_dma_check_unbound(test, alloc, f.frames);
	ksalloc_put(alloc);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(start), start);
}

/*
 * A device that cannot reach the pool: with no IOMMU, a mask of 20 bits
 * is below every page the page allocator hands out (x86 keeps the first
 * MiB to itself).  The binding fails with -ERANGE before it maps anything
 * (DMA-API would warn at the first page mapped beyond the mask), and
 * leaves nothing behind: the device with its full mask binds next.
 */
static void ksalloc_dma_reach_test(struct kunit *test)
{
	struct device *dev = ksalloc_dma_capable(test, DMA_BIT_MASK(64));
	const u64 mask = DMA_BIT_MASK(20);
	const u32 frames = 8, size = PAGE_SIZE;
	struct ksalloc *alloc = ksalloc_test_create(test, frames, size, 0,
						    KSALLOC_POOL_NONPAGED);
	struct ksalloc_framing f = ksalloc_dma_framing(frames, size, 0);
	struct ksalloc_params p = {
		.framing = &f, .dev = dev, .dir = DMA_FROM_DEVICE,
		.node = NUMA_NO_NODE,
	};
	unsigned int beyond = 0;
	u32 i;

	if (!ksalloc_dma_direct(dev))
		kunit_skip(test, "an IOMMU reaches every page");
	/* by hand: dma_set_mask() refuses a mask below ZONE_DMA */
	*dev->dma_mask = mask;
	dev->coherent_dma_mask = mask;
	for (i = 0; i < frames; i++)
		if (phys_to_dma(dev, ksalloc_dma_phys(alloc, i, size - 1)) > mask)
			beyond++;
	KUNIT_ASSERT_GT(test, beyond, 0);

	KUNIT_EXPECT_EQ(test, -ERANGE, ksalloc_bind(alloc, dev, DMA_FROM_DEVICE));
	ksalloc_dma_check_unbound(test, alloc, frames);
	KUNIT_EXPECT_EQ(test, -ERANGE, ksalloc_dma_create_err(&p));

	KUNIT_ASSERT_EQ(test, 0, dma_coerce_mask_and_coherent(dev, DMA_BIT_MASK(64)));
	KUNIT_ASSERT_EQ(test, 0, ksalloc_bind(alloc, dev, DMA_FROM_DEVICE));
	ksalloc_dma_check_bound(test, alloc, dev, frames, size);
	ksalloc_unbind(alloc, dev);
}

/*
 * Contiguous frames, with no device: the stride is the frame rounded up
 * to pages, and each frame is one physically contiguous run.
 */
static void ksalloc_dma_contig_test(struct kunit *test)
{
	const u32 frames = 4, size = 2 * PAGE_SIZE + 100;
	struct ksalloc_framing f = ksalloc_dma_framing(frames, size, 0);
	struct ksalloc_params p = {
		.framing = &f, .flags = KSALLOC_CREATE_CONTIG,
		.node = NUMA_NO_NODE,
	};
	u64 start = ksalloc_test_charged();
	struct ksalloc *alloc = ksalloc_test_create_ex(test, &p);
	u32 i;

	for (i = 0; i < frames; i++) {
		KUNIT_EXPECT_EQ(test, ksalloc_frame_ptr(alloc, i) -
				ksalloc_frame_ptr(alloc, 0),
				(long)i * PAGE_ALIGN(size));
		KUNIT_EXPECT_EQ_MSG(test, 1, ksalloc_dma_runs(alloc, i, PAGE_ALIGN(size)),
				    "frame %u", i);
	}
	KUNIT_EXPECT_GE(test, ksalloc_charged_bytes(),
			start + frames * PAGE_ALIGN(size));
	ksalloc_test_close(test, alloc);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(start), start);
}

/*
 * Contiguous frames bound at creation: one bus segment covers each frame,
 * and so does one scatterlist entry.
 */
static void ksalloc_dma_contig_bound_test(struct kunit *test)
{
	struct device *dev = ksalloc_dma_capable(test, DMA_BIT_MASK(64));
	const u32 frames = 4, size = 3 * PAGE_SIZE - 1;
	struct ksalloc_framing f = ksalloc_dma_framing(frames, size, 0);
	struct ksalloc_params p = {
		.framing = &f, .flags = KSALLOC_CREATE_CONTIG, .dev = dev,
		.dir = DMA_FROM_DEVICE, .node = NUMA_NO_NODE,
	};
	struct ksalloc *alloc = ksalloc_test_create_ex(test, &p);
	u32 i, len;

	KUNIT_EXPECT_EQ(test, frames,
			ksalloc_dma_check_bound(test, alloc, dev, frames, size));
	for (i = 0; i < frames; i++) {
		KUNIT_EXPECT_NE(test, DMA_MAPPING_ERROR,
				ksalloc_frame_dma(alloc, i, 0, &len));
		KUNIT_EXPECT_EQ(test, len, size);
	}
	ksalloc_dma_expect_info(test, alloc, "mapped_bytes",
				frames * PAGE_ALIGN(size));
	/* the binding of the creation stays: it goes at the release */
	KUNIT_EXPECT_EQ(test, -EBUSY, ksalloc_bind(alloc, dev, DMA_FROM_DEVICE));
}

struct ksalloc_dma_bh {
	struct timer_list timer;
	struct tasklet_struct tasklet;
	struct completion timer_done;
	struct completion tasklet_done;
	struct ksalloc *alloc;
	dma_addr_t dma[8];
	u32 frames;
	u32 size;
	u32 same_dma;
	bool timer_in_softirq;
	bool tasklet_in_softirq;
};

/* Before the device writes: every frame whole, as a capture driver does. */
static void ksalloc_dma_timer_fn(struct timer_list *t)
{
	struct ksalloc_dma_bh *b = from_timer(b, t, timer);
	u32 i, len;

	b->timer_in_softirq = in_softirq();
	for (i = 0; i < b->frames; i++) {
		ksalloc_sync_for_device(b->alloc, i, 0, b->size);
		if (ksalloc_frame_dma(b->alloc, i, 0, &len) == b->dma[i])
			b->same_dma++;
	}
	complete(&b->timer_done);
}

/* After it wrote: each frame in two ranges, the second across a page. */
static void ksalloc_dma_tasklet_fn(struct tasklet_struct *t)
{
	struct ksalloc_dma_bh *b = from_tasklet(b, t, tasklet);
	u32 i;

	b->tasklet_in_softirq = in_softirq();
	for (i = 0; i < b->frames; i++) {
		ksalloc_sync_for_cpu(b->alloc, i, 0, 100);
		ksalloc_sync_for_cpu(b->alloc, i, 100, b->size - 100);
	}
	complete(&b->tasklet_done);
}

/*
 * The sync helpers and ksalloc_frame_dma() from a timer and a tasklet on
 * a bound allocator; on an unbound one, and out of range, they do nothing
 * and say nothing.
 */
static void ksalloc_dma_sync_softirq_test(struct kunit *test)
{
	struct device *dev = ksalloc_dma_capable(test, DMA_BIT_MASK(64));
	struct ksalloc_dma_bh *b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);
	u32 i, len;

	KUNIT_ASSERT_NOT_NULL(test, b);
	b->frames = ARRAY_SIZE(b->dma);
	b->size = PAGE_SIZE + 300;
	b->alloc = ksalloc_test_create(test, b->frames, b->size, 0,
				       KSALLOC_POOL_NONPAGED);
	ksalloc_sync_for_device(b->alloc, 0, 0, b->size);
	ksalloc_sync_for_cpu(b->alloc, 0, 0, b->size);
	KUNIT_ASSERT_EQ(test, 0, ksalloc_bind(b->alloc, dev, DMA_BIDIRECTIONAL));
	ksalloc_dma_expect_info(test, b->alloc, "syncs_for_device", 0);
	ksalloc_dma_expect_info(test, b->alloc, "syncs_for_cpu", 0);
	for (i = 0; i < b->frames; i++)
		b->dma[i] = ksalloc_frame_dma(b->alloc, i, 0, &len);

	init_completion(&b->timer_done);
	init_completion(&b->tasklet_done);
	timer_setup(&b->timer, ksalloc_dma_timer_fn, 0);
	tasklet_setup(&b->tasklet, ksalloc_dma_tasklet_fn);
	mod_timer(&b->timer, jiffies + 1);
	KUNIT_EXPECT_GT(test, wait_for_completion_timeout(&b->timer_done, 10 * HZ), 0);
	tasklet_schedule(&b->tasklet);
	KUNIT_EXPECT_GT(test, wait_for_completion_timeout(&b->tasklet_done, 10 * HZ), 0);
	timer_delete_sync(&b->timer);
	tasklet_kill(&b->tasklet);

	KUNIT_EXPECT_TRUE(test, b->timer_in_softirq);
	KUNIT_EXPECT_TRUE(test, b->tasklet_in_softirq);
	KUNIT_EXPECT_EQ(test, b->same_dma, b->frames);
	ksalloc_dma_expect_info(test, b->alloc, "syncs_for_device", b->frames);
	ksalloc_dma_expect_info(test, b->alloc, "syncs_for_cpu", 2 * b->frames);

	/* out of range: nothing synced, nothing said */
	ksalloc_sync_for_device(b->alloc, b->frames, 0, 1);
	ksalloc_sync_for_device(b->alloc, 0, b->size, 1);
	ksalloc_sync_for_cpu(b->alloc, 0, b->size + 1, 1);
	ksalloc_sync_for_cpu(b->alloc, 0, 0, 0);
	ksalloc_dma_expect_info(test, b->alloc, "syncs_for_device", b->frames);
	ksalloc_dma_expect_info(test, b->alloc, "syncs_for_cpu", 2 * b->frames);
	/* a range past the end is cut there */
	ksalloc_sync_for_cpu(b->alloc, 0, 1, b->size);
	ksalloc_dma_expect_info(test, b->alloc, "syncs_for_cpu",
				2 * b->frames + 1);
	ksalloc_unbind(b->alloc, dev);
	ksalloc_sync_for_device(b->alloc, 0, 0, b->size);
	ksalloc_sync_for_cpu(b->alloc, 0, 0, b->size);
}

/*
 * Custom backing with no device: one call per page of the pool, each
 * charged with __GFP_ACCOUNT on the node asked for; the frames are the
 * backing's pages; the core writes nothing into them, from the creation
 * to the release; each chunk goes back to free() once, as it came.
 */
static void ksalloc_dma_ops_test(struct kunit *test)
{
	struct ksalloc_dma_ops_ctx *c = ksalloc_dma_ops_ctx(test);
	const u32 frames = 10, size = 1500;
	struct ksalloc_framing f = ksalloc_dma_framing(frames, size, 0);
	struct ksalloc_params p = {
		.framing = &f, .node = NUMA_NO_NODE, .ops = &ksalloc_dma_ops,
		.ops_priv = c,
	};
	const int chunks = PAGE_ALIGN(frames * size) / PAGE_SIZE;
	u64 start = ksalloc_test_charged();
	struct ksalloc *alloc = ksalloc_test_create_ex(test, &p);
	void *frame[3];
	u32 i;

	KUNIT_EXPECT_EQ(test, c->calls, chunks);
	KUNIT_EXPECT_EQ(test, c->size, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, c->bad_gfp, 0);
	KUNIT_EXPECT_EQ(test, c->bad_node, 0);
	KUNIT_EXPECT_GE(test, ksalloc_charged_bytes(), start + chunks * PAGE_SIZE);
	for (i = 0; i < frames; i++) {
		struct page *page = ksalloc_dma_page(alloc, i, 0);

		KUNIT_EXPECT_NOT_NULL(test, ksalloc_dma_chunk_of(c, page));
	}
	KUNIT_EXPECT_EQ(test, 0, ksalloc_dma_scan(test, alloc, frames, size));

	for (i = 0; i < ARRAY_SIZE(frame); i++)
		KUNIT_ASSERT_EQ(test, 0, ksalloc_allocate_frame(alloc, &frame[i]));
	memset(frame[1], KSALLOC_DMA_MARK, 16);
	for (i = 0; i < ARRAY_SIZE(frame); i++)
		ksalloc_free_frame(alloc, frame[i]);
	KUNIT_EXPECT_EQ(test, 16, ksalloc_dma_scan(test, alloc, frames, size));
	/* its ->free() and @ops_priv are the driver's: no descriptor */
	KUNIT_EXPECT_EQ(test, -EOPNOTSUPP, ksalloc_install_fd(alloc, 0));

	ksalloc_test_close(test, alloc);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(start), start);
	KUNIT_EXPECT_EQ(test, c->frees, chunks);
	KUNIT_EXPECT_EQ(test, c->bad_frees, 0);
	KUNIT_EXPECT_EQ(test, c->marked, 16);
	KUNIT_EXPECT_EQ(test, c->foreign, 0);
}

static const int ksalloc_dma_fail_points[] = { 0, 1, 3 };

static void ksalloc_dma_fail_desc(const int *k, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "chunk_%d", *k);
}

KUNIT_ARRAY_PARAM(ksalloc_dma_fail, ksalloc_dma_fail_points,
		  ksalloc_dma_fail_desc);

/*
 * A backing that fails at chunk k: the creation fails with -ENOMEM, asks
 * for nothing more, and gives chunks 0..k-1 back, all of them, as they
 * came, with every byte uncharged.
 */
static void ksalloc_dma_ops_fail_test(struct kunit *test)
{
	const int *k = test->param_value;
	struct ksalloc_dma_ops_ctx *c = ksalloc_dma_ops_ctx(test);
	struct ksalloc_framing f = ksalloc_dma_framing(4, PAGE_SIZE, 0);
	struct ksalloc_params p = {
		.framing = &f, .node = NUMA_NO_NODE, .ops = &ksalloc_dma_ops,
		.ops_priv = c,
	};
	u64 start = ksalloc_test_charged();
	int i;

	c->fail_at = *k;
	KUNIT_EXPECT_EQ(test, ksalloc_dma_create_err(&p), -ENOMEM);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(start), start);
	KUNIT_EXPECT_EQ(test, c->calls, *k + 1);
	KUNIT_EXPECT_EQ(test, c->frees, *k);
	KUNIT_EXPECT_EQ(test, c->bad_frees, 0);
	KUNIT_EXPECT_EQ(test, c->foreign, 0);
	for (i = 0; i < *k; i++)
		KUNIT_EXPECT_TRUE_MSG(test, c->chunk[i].freed, "chunk %d", i);
}

/*
 * Contiguous custom backing: one call per frame of the stride, each frame
 * one of the backing's chunks, contiguous.
 */
static void ksalloc_dma_ops_contig_test(struct kunit *test)
{
	struct ksalloc_dma_ops_ctx *c = ksalloc_dma_ops_ctx(test);
	const u32 frames = 3, size = 2 * PAGE_SIZE + 1;
	struct ksalloc_framing f = ksalloc_dma_framing(frames, size, 0);
	struct ksalloc_params p = {
		.framing = &f, .flags = KSALLOC_CREATE_CONTIG,
		.node = NUMA_NO_NODE, .ops = &ksalloc_dma_ops, .ops_priv = c,
	};
	u64 start = ksalloc_test_charged();
	struct ksalloc *alloc = ksalloc_test_create_ex(test, &p);
	u32 i;

	KUNIT_EXPECT_EQ(test, c->calls, frames);
	KUNIT_EXPECT_EQ(test, c->size, PAGE_ALIGN(size));
	for (i = 0; i < frames; i++) {
		KUNIT_EXPECT_PTR_EQ(test, ksalloc_dma_page(alloc, i, 0),
				    c->chunk[i].page);
		KUNIT_EXPECT_EQ(test, 1, ksalloc_dma_runs(alloc, i, PAGE_ALIGN(size)));
	}
	KUNIT_EXPECT_EQ(test, 0, ksalloc_dma_scan(test, alloc, frames, size));
	ksalloc_test_close(test, alloc);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(start), start);
	KUNIT_EXPECT_EQ(test, c->frees, frames);
	KUNIT_EXPECT_EQ(test, c->bad_frees, 0);
	KUNIT_EXPECT_EQ(test, c->foreign, 0);
}

/*
 * Custom backing bound at creation, mapping the even chunks itself: the
 * bus addresses of those are the backing's, the odd ones the core maps;
 * free() gets the backing's own addresses back.
 */
static void ksalloc_dma_ops_bound_test(struct kunit *test)
{
	struct device *dev = ksalloc_dma_capable(test, DMA_BIT_MASK(64));
	struct ksalloc_dma_ops_ctx *c = ksalloc_dma_ops_ctx(test);
	const u32 frames = 4, size = PAGE_SIZE;
	struct ksalloc_framing f = ksalloc_dma_framing(frames, size, 0);
	struct ksalloc_params p = {
		.framing = &f, .dev = dev, .dir = DMA_BIDIRECTIONAL,
		.node = NUMA_NO_NODE, .ops = &ksalloc_dma_ops, .ops_priv = c,
	};
	u64 start = ksalloc_test_charged();
	struct ksalloc_dma_chunk *ch;
	struct ksalloc *alloc;
	u32 i, len;

	c->dev = dev;
	alloc = ksalloc_test_create_ex(test, &p);
	KUNIT_ASSERT_EQ(test, c->calls, frames);
	ksalloc_dma_check_bound(test, alloc, dev, frames, size);
	for (i = 0; i < frames; i++) {
		ch = ksalloc_dma_chunk_of(c, ksalloc_dma_page(alloc, i, 0));
		KUNIT_ASSERT_NOT_NULL(test, ch);
		if (ch->dma != DMA_MAPPING_ERROR)
			KUNIT_EXPECT_EQ(test, ch->dma,
					ksalloc_frame_dma(alloc, i, 0, &len));
	}
	ksalloc_test_close(test, alloc);
	KUNIT_EXPECT_EQ(test, ksalloc_test_settle(start), start);
	KUNIT_EXPECT_EQ(test, c->frees, frames);
	KUNIT_EXPECT_EQ(test, c->bad_frees, 0);
}

static const bool ksalloc_dma_orders[] = { false, true };

static void ksalloc_dma_order_desc(const bool *reverse, char *desc)
{
	strscpy(desc, *reverse ? "reverse" : "in_order", KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(ksalloc_dma_order, ksalloc_dma_orders,
		  ksalloc_dma_order_desc);

/*
 * Bus segments follow the memory exactly: frames of 1.5 pages on pages
 * of one block, handed out in order (so each frame is one segment) or in
 * reverse (so each page of a frame is a segment of its own).
 */
static void ksalloc_dma_adjacent_test(struct kunit *test)
{
	struct device *dev = ksalloc_dma_capable(test, DMA_BIT_MASK(64));
	struct ksalloc_dma_ops_ctx *c = ksalloc_dma_ops_ctx(test);
	const u32 frames = 3, size = PAGE_SIZE + PAGE_SIZE / 2;
	struct ksalloc_framing f = ksalloc_dma_framing(frames, size, 0);
	struct ksalloc_params p = {
		.framing = &f, .dev = dev, .dir = DMA_TO_DEVICE,
		.node = NUMA_NO_NODE, .ops = &ksalloc_dma_ops, .ops_priv = c,
	};
	struct ksalloc *alloc;
	u32 i, pages;

	if (!ksalloc_dma_direct(dev))
		kunit_skip(test, "an IOMMU decides what is contiguous");
	c->block_pages = PAGE_ALIGN(frames * size) >> PAGE_SHIFT;
	c->block = ksalloc_dma_pages(NUMA_NO_NODE, c->block_pages << PAGE_SHIFT,
				     GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c->block);
	c->reverse = *(const bool *)test->param_value;
	alloc = ksalloc_test_create_ex(test, &p);
	KUNIT_ASSERT_EQ(test, c->calls, c->block_pages);
	for (i = 0; i < frames; i++) {
		pages = DIV_ROUND_UP(i * size % PAGE_SIZE + size, PAGE_SIZE);
		KUNIT_EXPECT_EQ_MSG(test, c->reverse ? pages : 1,
				    ksalloc_dma_walk(test, alloc, dev, i, size),
				    "frame %u", i);
		KUNIT_EXPECT_EQ(test, pages, ksalloc_dma_check_sg(test, alloc, i, size));
	}
	ksalloc_test_close(test, alloc);
	ksalloc_test_charged();
	KUNIT_EXPECT_EQ(test, c->frees, c->block_pages);
	KUNIT_EXPECT_EQ(test, c->bad_frees, 0);
}

/*
 * The pool on the node asked for: node 0 here, for the default backing
 * and for custom backing, which is told it.
 */
static void ksalloc_dma_node_test(struct kunit *test)
{
	struct ksalloc_dma_ops_ctx *c = ksalloc_dma_ops_ctx(test);
	const u32 frames = 8, size = PAGE_SIZE;
	struct ksalloc_framing f = ksalloc_dma_framing(frames, size, 0);
	struct ksalloc_params p = { .framing = &f, .node = 0 };
	struct ksalloc *alloc;
	u32 i;

	if (!node_online(0))
		kunit_skip(test, "node 0 is offline");
	p.node = MAX_NUMNODES;
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_dma_create_err(&p));
	p.node = -2;
	KUNIT_EXPECT_EQ(test, -EINVAL, ksalloc_dma_create_err(&p));
	p.node = 0;
	alloc = ksalloc_test_create_ex(test, &p);
	for (i = 0; i < frames; i++)
		KUNIT_EXPECT_EQ_MSG(test, 0, page_to_nid(ksalloc_dma_page(alloc, i, 0)),
				    "frame %u", i);
	ksalloc_dma_expect_info(test, alloc, "node", 0);
	ksalloc_dma_expect_info(test, alloc, "pages_node0", frames);

	c->node = 0;
	p.ops = &ksalloc_dma_ops;
	p.ops_priv = c;
	alloc = ksalloc_test_create_ex(test, &p);
	KUNIT_EXPECT_EQ(test, c->calls, frames);
	KUNIT_EXPECT_EQ(test, c->bad_node, 0);
	for (i = 0; i < frames; i++)
		KUNIT_EXPECT_EQ(test, 0, page_to_nid(ksalloc_dma_page(alloc, i, 0)));
}

static struct kunit_case ksalloc_dma_test_cases[] = {
	KUNIT_CASE_PARAM(ksalloc_dma_refusal_test, ksalloc_dma_refusal_gen_params),
	KUNIT_CASE(ksalloc_dma_bind_test),
	KUNIT_CASE(ksalloc_dma_bind_user_test),
	KUNIT_CASE(ksalloc_dma_reach_test),
	KUNIT_CASE(ksalloc_dma_contig_test),
	KUNIT_CASE(ksalloc_dma_contig_bound_test),
	KUNIT_CASE(ksalloc_dma_sync_softirq_test),
	KUNIT_CASE(ksalloc_dma_ops_test),
	KUNIT_CASE_PARAM(ksalloc_dma_ops_fail_test, ksalloc_dma_fail_gen_params),
	KUNIT_CASE(ksalloc_dma_ops_contig_test),
	KUNIT_CASE(ksalloc_dma_ops_bound_test),
	KUNIT_CASE_PARAM(ksalloc_dma_adjacent_test, ksalloc_dma_order_gen_params),
	KUNIT_CASE(ksalloc_dma_node_test),
	{}
};

static struct kunit_suite ksalloc_dma_test_suite = {
	.name = "ksalloc_dma",
	.init = ksalloc_dma_init,
	.test_cases = ksalloc_dma_test_cases,
};

kunit_test_suite(ksalloc_dma_test_suite);
