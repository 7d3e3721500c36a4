/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the suites "ksalloc_dma" (kunit/dma.c, which defines these) and
 * "ksalloc_dma_backing" (kunit/dma_backing.c) share: a platform device of
 * the case's own, the memory behind a frame, and the checks of a bound
 * and of an unbound allocator.
 */
#ifndef _KSALLOC_KUNIT_DMA_H
#define _KSALLOC_KUNIT_DMA_H

#include <kunit/test.h>
#include <linux/ksalloc.h>
#include <linux/types.h>

struct device;
struct page;

void ksalloc_dma_flush_later(struct kunit *test);
struct device *ksalloc_dma_device(struct kunit *test);
struct device *ksalloc_dma_capable(struct kunit *test, u64 mask);
bool ksalloc_dma_direct(struct device *dev);
struct page *ksalloc_dma_page(struct ksalloc *alloc, u32 index, u32 off);
phys_addr_t ksalloc_dma_phys(struct ksalloc *alloc, u32 index, u32 off);
unsigned int ksalloc_dma_runs(struct ksalloc *alloc, u32 index, u32 len);
int ksalloc_dma_init(struct kunit *test);
void ksalloc_dma_expect_info(struct kunit *test, struct ksalloc *alloc,
			     const char *key, u64 want);
unsigned int ksalloc_dma_check_bound(struct kunit *test, struct ksalloc *alloc,
				     struct device *dev, u32 frames, u32 size);
void ksalloc_dma_check_unbound(struct kunit *test, struct ksalloc *alloc,
			       u32 frames);
int ksalloc_dma_create_err(const struct ksalloc_params *p);

static inline struct ksalloc_framing ksalloc_dma_framing(u32 frames, u32 size,
							 u32 alignment)
{
	return (struct ksalloc_framing){ .frames = frames, .frame_size = size,
					 .alignment = alignment };
}

#endif /* _KSALLOC_KUNIT_DMA_H */
