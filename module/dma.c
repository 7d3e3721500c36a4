// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc - frames a device can use: the binding of a pool to a device
 *
 * A binding (struct ksalloc_binding, core.h) is the bus address of every
 * chunk of the pool (backing.c) for one device and one direction.  It is
 * built whole by ksalloc_bind() (or by ksalloc_create_ex() for the device
 * of the creation), then published in &ksalloc.binding, and is immutable
 * until it goes, but for its two sync counters:
 *
 *   what             written by                 read by
 *   ---------------  -------------------------  --------------------------
 *   binding pointer  bind, unbind, release,     the DMA helpers, any
 *                    under bind_lock            context, smp_load_acquire()
 *   dma[]            before the publication     the DMA helpers
 *   sync counters    the sync helpers (atomic)  debugfs
 *
 * So the helpers (ksalloc_frame_dma(), ksalloc_frame_sg(), the syncs) take
 * no lock, allocate nothing and work in softirq context.  The one rule is
 * the binder's: it must not call them for an allocator while it unbinds
 * it, which ksalloc_unbind() does not wait for (nothing in softirq does).
 *
 * Reachability: when the device's DMA is not translated by an IOMMU (no
 * DMA domain: direct mapping, swiotlb, an identity domain), a page beyond
 * its DMA mask could only be reached through a bounce buffer; a bind then
 * fails with -ERANGE and maps nothing, as it does for a chunk larger than
 * dma_max_mapping_size() (a contiguous frame that swiotlb cannot bounce).
 * The device backing takes its pages from the zone the device reaches
 * (ksalloc_dma_zone()), and is then bound like any pool.  Only addresses
 * that custom backing set for the device and direction of the creation
 * are used as they are, never mapped again.
 *
 * Mapping and unmapping skip the CPU sync (DMA_ATTR_SKIP_CPU_SYNC): the
 * binder syncs, with ksalloc_sync_for_device() before every transfer and
 * ksalloc_sync_for_cpu() after it.  So a bind or an unbind never writes
 * into frames (swiotlb would copy a stale bounce slot over them at the
 * unmap, SPEC 7.7) nor flushes the pool's caches on a non-coherent
 * machine.  A stride that is not a multiple of dma_get_cache_alignment()
 * would put two frames in one cache line, which no sync can keep apart:
 * such an allocator is not bound (-EINVAL).
 *
 * A binding's memory is charged (SPEC 7.8) like the rest of the allocator;
 * the mappings themselves (IOMMU page tables, swiotlb slots) belong to the
 * DMA layer and are not.
 */

#include <linux/device.h>
#include <linux/dma-direct.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/kref.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/overflow.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/swiotlb.h>

#include "core.h"
#include "ksalloc_trace.h"

/* The chunk that holds byte @offset of frame @index, and the offset in it. */
static unsigned int ksalloc_chunk_of(const struct ksalloc *alloc, u32 index,
				     u32 offset, size_t *off)
{
	u64 pos;

	if (alloc->contig) {
		*off = offset;
		return index;
	}
	pos = (u64)index * alloc->stride + offset;
	*off = offset_in_page(pos);
	return pos >> PAGE_SHIFT;
}

/*
 * Whether the backing's bus address of chunk @i serves @dev in @dir: only
 * custom backing sets one, for the device and direction of the creation.
 */
static bool ksalloc_backing_mapped(const struct ksalloc *alloc,
				   struct device *dev,
				   enum dma_data_direction dir, unsigned int i)
{
	return alloc->chunk_dma && dev == alloc->backing_dev &&
	       dir == alloc->backing_dir &&
	       alloc->chunk_dma[i] != DMA_MAPPING_ERROR;
}

/* Whether an IOMMU translates the DMA of @dev for the DMA API. */
static bool ksalloc_dma_translated(struct device *dev)
{
	struct iommu_domain *domain = iommu_get_domain_for_dev(dev);

	return domain && iommu_is_dma_domain(domain);
}

/**
 * ksalloc_dma_bounces() - whether mapping pages for a device would bounce
 * @dev: the device
 * @pages: the pages, each mapped whole
 * @n: how many
 *
 * For the dma-buf exporter, which refuses such an importer: its bounce
 * slot would hold a copy of pool pages that others write meanwhile, and a
 * sync would copy it back over them.
 *
 * Return: true when no IOMMU translates @dev's DMA and swiotlb bounces
 * everything for it, other mapping ops than dma-direct's map it (Xen's
 * swiotlb, which bounces by rules of its own), or a page lies beyond what
 * it reaches; false for a device without a DMA mask.
 */
bool ksalloc_dma_bounces(struct device *dev, struct page **pages,
			 unsigned int n)
{
	unsigned int i;

	/* No mask: nothing to check here, and nothing it could map. */
	if (!IS_ENABLED(CONFIG_HAS_DMA) || !dev->dma_mask || !*dev->dma_mask ||
	    ksalloc_dma_translated(dev))
		return false;
	/*
	 * swiotlb=force, or mapping ops other than dma-direct's: Xen's
	 * swiotlb bounces by rules of its own (AMD's GART, which remaps
	 * instead, is refused too: a rare machine, and conservative).
	 */
	if (is_swiotlb_force_bounce(dev) || get_dma_ops(dev))
		return true;
	for (i = 0; i < n; i++) {
		if (!dma_capable(dev, phys_to_dma(dev, page_to_phys(pages[i])),
				 PAGE_SIZE, true))
			return true;
	}
	return false;
}

/**
 * ksalloc_dma_zone() - the zone of the pages a device reaches directly
 * @dev: the device of a creation with %KSALLOC_CREATE_DEVICE
 *
 * When no IOMMU translates @dev's DMA: none when the mask (cut by the
 * bus's limit) covers all memory, ZONE_DMA32 when it covers 32 bits, else
 * ZONE_DMA (or ZONE_DMA32 where there is no ZONE_DMA).  Simpler than
 * dma-direct, which tries ZONE_DMA32 first for masks above ZONE_DMA's
 * limit: on x86, a mask under 32 bits takes the lowest 16 MiB, which every
 * GFP_DMA user shares.  The mask is compared with physical addresses, as
 * on x86, where bus and physical addresses agree.  The bind checks every
 * page, so a zone that does not fit fails with -ERANGE, never silently.
 *
 * Context: Any context.
 * Return: 0, %GFP_DMA32 or %GFP_DMA.
 */
gfp_t ksalloc_dma_zone(struct device *dev)
{
	u64 mask;

	if (!IS_ENABLED(CONFIG_HAS_DMA) || ksalloc_dma_translated(dev))
		return 0;
	mask = min_not_zero(dma_get_mask(dev), dev->bus_dma_limit);
	if (mask >= dma_get_required_mask(dev))
		return 0;
	if (IS_ENABLED(CONFIG_ZONE_DMA32) &&
	    (mask >= DMA_BIT_MASK(32) || !IS_ENABLED(CONFIG_ZONE_DMA)))
		return GFP_DMA32;
	if (IS_ENABLED(CONFIG_ZONE_DMA))
		return GFP_DMA;
	return 0;
}

/*
 * -ERANGE when @dev would need a bounce buffer to reach a chunk that the
 * binding maps, or when swiotlb bounces everything (swiotlb=force, a
 * confidential guest) and a chunk is larger than it bounces (256 KiB);
 * checked before anything is mapped.  A chunk that @dev reaches is never
 * bounced, whatever dma_max_mapping_size() says for the device as a whole.
 */
static int ksalloc_dma_reachable(struct ksalloc *alloc, struct device *dev,
				 enum dma_data_direction dir)
{
	bool translated = ksalloc_dma_translated(dev);
	size_t max = dma_max_mapping_size(dev);
	unsigned int i;
	phys_addr_t phys;

	for (i = 0; i < alloc->nr_chunks; i++) {
		if (ksalloc_backing_mapped(alloc, dev, dir, i))
			continue;
		if (translated)
			continue;
		if (alloc->chunk_size > max && is_swiotlb_force_bounce(dev))
			return -ERANGE;
		phys = page_to_phys(alloc->pages[i * alloc->chunk_pages]);
		if (!dma_capable(dev, phys_to_dma(dev, phys), alloc->chunk_size,
				 true))
			return -ERANGE;
	}
	return 0;
}

/*
 * Mappings skip the CPU sync (DMA_ATTR_SKIP_CPU_SYNC): the binder syncs
 * with the helpers, before and after every transfer.  Without it a
 * swiotlb unmap would copy a stale bounce slot over the frames (a write
 * into them that nobody asked for, SPEC 7.7), and a non-coherent machine
 * would flush or invalidate the whole pool at bind and unbind.
 */
#define KSALLOC_DMA_ATTRS DMA_ATTR_SKIP_CPU_SYNC

/* Unmaps the first @n chunks of @b that the binding mapped itself. */
static void ksalloc_dma_unmap(struct ksalloc *alloc, struct ksalloc_binding *b,
			      unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (!ksalloc_backing_mapped(alloc, b->dev, b->dir, i))
			dma_unmap_page_attrs(b->dev, b->dma[i],
					     alloc->chunk_size, b->dir,
					     KSALLOC_DMA_ATTRS);
		if ((i & 255) == 255)
			cond_resched();
	}
}

/* Bus addresses for every chunk: the backing's, or a mapping of ours. */
static int ksalloc_dma_map_chunks(struct ksalloc *alloc,
				  struct ksalloc_binding *b)
{
	unsigned int i;

	for (i = 0; i < alloc->nr_chunks; i++) {
		if (ksalloc_backing_mapped(alloc, b->dev, b->dir, i)) {
			b->dma[i] = alloc->chunk_dma[i];
			continue;
		}
		b->dma[i] = dma_map_page_attrs(b->dev,
					       alloc->pages[i * alloc->chunk_pages],
					       0, alloc->chunk_size, b->dir,
					       KSALLOC_DMA_ATTRS);
		if (dma_mapping_error(b->dev, b->dma[i])) {
			ksalloc_dma_unmap(alloc, b, i);
			return -ENOMEM;
		}
		if ((i & 255) == 255)
			cond_resched();
	}
	return 0;
}

/**
 * ksalloc_charge_dma() - charge what a binding or a dma-buf of a pool costs
 * @alloc: the allocator
 * @cost: bytes
 *
 * Against max_pool_bytes with what the pool itself and every binding,
 * dma-buf and attachment of it cost (SPEC 7.8), and against the budget.
 *
 * Return: 0, or -ENOMEM over a limit.
 */
int ksalloc_charge_dma(struct ksalloc *alloc, size_t cost)
{
	long sum = atomic_long_add_return(cost, &alloc->dma_cost);

	if (alloc->pool_cost + alloc->meta_cost + sum >
	    READ_ONCE(ksalloc_max_pool_bytes) || ksalloc_charge(cost)) {
		atomic_long_sub(cost, &alloc->dma_cost);
		return -ENOMEM;
	}
	return 0;
}

/**
 * ksalloc_uncharge_dma() - undo ksalloc_charge_dma()
 * @alloc: the allocator
 * @cost: bytes, as charged
 */
void ksalloc_uncharge_dma(struct ksalloc *alloc, size_t cost)
{
	atomic_long_sub(cost, &alloc->dma_cost);
	ksalloc_uncharge(cost);
}

static void ksalloc_binding_free(struct ksalloc *alloc, struct ksalloc_binding *b)
{
	size_t cost = b->cost;

	ksalloc_dma_unmap(alloc, b, alloc->nr_chunks);
	put_device(b->dev);
	kvfree(b);
	ksalloc_uncharge_dma(alloc, cost);
}

/*
 * A complete binding of @alloc's pool for @dev, not yet published, or an
 * ERR_PTR: -EINVAL when @dev has no DMA mask or frames would share a cache
 * line, -ENOMEM over the limits or without memory or mapping space,
 * -ERANGE when @dev cannot reach a page or map a chunk whole.
 */
static struct ksalloc_binding *ksalloc_binding_new(struct ksalloc *alloc,
						   struct device *dev,
						   enum dma_data_direction dir)
{
	struct ksalloc_binding *b;
	size_t size = struct_size(b, dma, alloc->nr_chunks);
	size_t cost = ksalloc_kv_bytes(size);
	int ret;

	lockdep_assert_held(&alloc->bind_lock);
	if (!dev->dma_mask || !*dev->dma_mask)
		return ERR_PTR(-EINVAL);
	/* Two frames sharing a cache line cannot be synced apart. */
	if (alloc->stride % dma_get_cache_alignment())
		return ERR_PTR(-EINVAL);
	ret = ksalloc_dma_reachable(alloc, dev, dir);
	if (ret)
		return ERR_PTR(ret);
	if (ksalloc_charge_dma(alloc, cost))
		return ERR_PTR(-ENOMEM);

	b = kvzalloc(size, GFP_KERNEL_ACCOUNT);
	if (!b) {
		ret = -ENOMEM;
		goto err_uncharge;
	}
	b->dev = dev;
	b->dir = dir;
	b->cost = cost;
	ret = ksalloc_dma_map_chunks(alloc, b);
	if (ret)
		goto err_free;
	get_device(dev);
	return b;

err_free:
	kvfree(b);
err_uncharge:
	ksalloc_uncharge_dma(alloc, cost);
	return ERR_PTR(ret);
}

/**
 * ksalloc_bind_created() - bind a new allocator to the device of its creation
 * @alloc: the allocator, not yet visible to anyone
 * @dev: &ksalloc_params.dev
 * @dir: &ksalloc_params.dir
 *
 * The binding holds no reference on the allocator: it goes at the
 * release, or at ksalloc_unbind().
 *
 * Context: Process context; may sleep.
 * Return: 0, or an errno of ksalloc_bind().
 */
int ksalloc_bind_created(struct ksalloc *alloc, struct device *dev,
			 enum dma_data_direction dir)
{
	struct ksalloc_binding *b;

	mutex_lock(&alloc->bind_lock);
	b = ksalloc_binding_new(alloc, dev, dir);
	if (!IS_ERR(b)) {
		/* Pairs with smp_load_acquire() in the DMA helpers. */
		smp_store_release(&alloc->binding, b);
	}
	mutex_unlock(&alloc->bind_lock);
	return PTR_ERR_OR_ZERO(b);
}

/**
 * ksalloc_bind() - map every frame of an allocator for a device
 * @alloc: the allocator, for instance one user space created, taken with
 *         ksalloc_fdget()
 * @dev: the device that will read or write the frames
 * @dir: the direction of its transfers
 *
 * The Linux form of an AVStream device's adapter object.  Maps the whole
 * pool for @dev with dma_map_page_attrs(), page by page (a frame at a time
 * for contiguous frames), so that every frame has a bus address
 * (ksalloc_frame_dma()) or a scatterlist (ksalloc_frame_sg()) until
 * ksalloc_unbind().  The mappings skip the CPU sync
 * (%DMA_ATTR_SKIP_CPU_SYNC), at the bind and at the unbind: the driver
 * calls ksalloc_sync_for_device() before every transfer and
 * ksalloc_sync_for_cpu() after it, and nothing else syncs.  When an IOMMU
 * does not translate @dev's DMA and a page lies beyond its DMA mask, or
 * when a chunk (a contiguous frame) is larger than dma_max_mapping_size(),
 * nothing is mapped: -ERANGE, with no warning; an allocator from
 * ksalloc_create_ex() with %KSALLOC_CREATE_DEVICE has memory that every
 * device of its kind reaches.  The binding holds a reference on @dev and
 * one on @alloc, which ksalloc_unbind() drops; the frames stay mapped
 * while it lasts, through ksalloc_close() too.  At most one binding at a
 * time.
 *
 * Context: Process context; may sleep.  Takes the allocator's bind mutex.
 * Return: 0; -EINVAL for a NULL @dev, a @dir that is not a transfer
 * direction, a PAGED pool, a device without a DMA mask or a stride that
 * is not a multiple of dma_get_cache_alignment(); -ENODEV when @alloc was
 * closed; -EBUSY when it is bound already; -ERANGE when @dev cannot reach
 * a page or map a chunk whole; -ENOMEM over the module's limits or when
 * memory or mapping space runs out.
 */
int ksalloc_bind(struct ksalloc *alloc, struct device *dev,
		 enum dma_data_direction dir)
{
	struct ksalloc_binding *b = NULL;
	bool closed;
	int ret;

	might_sleep();
	if (!dev || !valid_dma_direction(dir) ||
	    alloc->framing.pool_type == KSALLOC_POOL_PAGED)
		return -EINVAL;

	mutex_lock(&alloc->bind_lock);
	spin_lock_bh(&alloc->lock);
	closed = alloc->closed;
	spin_unlock_bh(&alloc->lock);
	if (closed) {
		ret = -ENODEV;
	} else if (alloc->binding) {
		ret = -EBUSY;
	} else {
		b = ksalloc_binding_new(alloc, dev, dir);
		ret = PTR_ERR_OR_ZERO(b);
	}
	if (!ret) {
		b->holds_ref = true;
		ksalloc_get(alloc);
		/* Pairs with smp_load_acquire() in the DMA helpers. */
		smp_store_release(&alloc->binding, b);
	}
	mutex_unlock(&alloc->bind_lock);

	trace_ksalloc_bind(alloc, dev, dir,
			   ret ? 0 : (u64)alloc->nr_pages << PAGE_SHIFT, ret);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(ksalloc_bind, "KSALLOC");

/*
 * Unpublishes the binding, when it is one for @dev (or any, with a NULL
 * @dev); returns it, or NULL when there was none.
 */
static struct ksalloc_binding *ksalloc_unpublish(struct ksalloc *alloc,
						 struct device *dev)
{
	struct ksalloc_binding *b;

	mutex_lock(&alloc->bind_lock);
	b = alloc->binding;
	if (b && dev && b->dev != dev)
		b = NULL;
	if (b)
		WRITE_ONCE(alloc->binding, NULL);
	mutex_unlock(&alloc->bind_lock);
	if (b)
		trace_ksalloc_unbind(alloc);
	return b;
}

/**
 * ksalloc_unbind() - end the binding of an allocator to a device
 * @alloc: the allocator
 * @dev: the device it is bound to
 *
 * Unmaps every frame, drops the reference on the device and, for a
 * binding of ksalloc_bind(), the one on @alloc.  Frames the device still
 * writes to must be stopped first: nothing here waits for the device, nor
 * for the DMA helpers, which the binder must not call meanwhile.  A driver
 * unbinds in its remove() or before, so that nothing stays mapped for a
 * device that is gone.  Nothing happens when @alloc is not bound to @dev:
 * another driver holding a reference on the allocator cannot end a
 * binding that is not its own.
 *
 * Context: Process context; may sleep.  Takes the allocator's bind mutex.
 * Return: nothing.
 */
void ksalloc_unbind(struct ksalloc *alloc, struct device *dev)
{
	struct ksalloc_binding *b;
	bool put;

	might_sleep();
	if (!dev)
		return;
	b = ksalloc_unpublish(alloc, dev);
	if (!b)
		return;
	put = b->holds_ref;
	ksalloc_binding_free(alloc, b);
	if (put)
		ksalloc_put(alloc);
}
EXPORT_SYMBOL_NS_GPL(ksalloc_unbind, "KSALLOC");

/**
 * ksalloc_unbind_release() - end a binding left at the release
 * @alloc: the allocator, being released
 *
 * Only a binding of ksalloc_create_ex() can be left (one of ksalloc_bind()
 * holds a reference): it is unmapped here.
 *
 * Context: Process context (the release's work item); may sleep.
 */
void ksalloc_unbind_release(struct ksalloc *alloc)
{
	struct ksalloc_binding *b = ksalloc_unpublish(alloc, NULL);

	if (b)
		ksalloc_binding_free(alloc, b);
}

/**
 * ksalloc_frame_dma() - the bus address of a byte of a frame
 * @alloc: the allocator, bound to a device
 * @index: the frame
 * @offset: the byte, from the start of the frame
 * @len: set to the bytes contiguous on the bus from there to the end of
 *       the frame (0 on failure); may be NULL
 *
 * A frame of the default backing may span pages that are not contiguous
 * for the device: a driver that moves a frame in one transfer asks again
 * at @offset + *@len, or uses ksalloc_frame_sg().
 *
 * Context: Process or softirq context (what KUnit runs it in); takes no
 * lock, allocates nothing.
 * Must not race with ksalloc_unbind() of the same allocator.
 * Return: the bus address for the bound device, or DMA_MAPPING_ERROR when
 * @alloc is not bound, @index is not a frame or @offset is not below the
 * frame size.
 */
dma_addr_t ksalloc_frame_dma(struct ksalloc *alloc, u32 index, u32 offset,
			     u32 *len)
{
	/* Pairs with smp_store_release() in ksalloc_bind(). */
	const struct ksalloc_binding *b = smp_load_acquire(&alloc->binding);
	unsigned int c, first;
	u32 left, n;
	size_t off;

	if (len)
		*len = 0;
	if (!b || index >= alloc->frames || offset >= alloc->framing.frame_size)
		return DMA_MAPPING_ERROR;

	left = alloc->framing.frame_size - offset;
	first = ksalloc_chunk_of(alloc, index, offset, &off);
	c = first;
	n = min_t(size_t, left, alloc->chunk_size - off);
	while (n < left && b->dma[c + 1] == b->dma[c] + alloc->chunk_size) {
		c++;
		n += min_t(size_t, left - n, alloc->chunk_size);
	}
	if (len)
		*len = n;
	return b->dma[first] + off;
}
EXPORT_SYMBOL_NS_GPL(ksalloc_frame_dma, "KSALLOC");

/**
 * ksalloc_frame_sg() - a frame as a DMA-mapped scatterlist
 * @alloc: the allocator, bound to a device
 * @index: the frame
 * @sg: the caller's array, initialised here (sg_init_table())
 * @nents: the entries of @sg
 *
 * One entry per chunk of memory the frame lies in (a page, or the whole
 * frame for contiguous frames), with its page, offset and length, and its
 * sg_dma_address() and sg_dma_len() from the binding: the list is mapped
 * already and must not be passed to dma_map_sg().  The last entry used is
 * marked as the end.
 *
 * Context: Process or softirq context (what KUnit runs it in); takes no
 * lock, allocates nothing.
 * Must not race with ksalloc_unbind() of the same allocator.
 * Return: the entries used, -E2BIG when @nents is too small (nothing is
 * written), -EINVAL when @alloc is not bound or @index is not a frame.
 */
int ksalloc_frame_sg(struct ksalloc *alloc, u32 index, struct scatterlist *sg,
		     unsigned int nents)
{
	/* Pairs with smp_store_release() in ksalloc_bind(). */
	const struct ksalloc_binding *b = smp_load_acquire(&alloc->binding);
	u32 left = alloc->framing.frame_size, n;
	unsigned int c, i, count;
	struct scatterlist *s;
	size_t off;

	if (!b || !sg || index >= alloc->frames)
		return -EINVAL;
	c = ksalloc_chunk_of(alloc, index, 0, &off);
	count = alloc->contig ? 1 : DIV_ROUND_UP(off + left, PAGE_SIZE);
	if (count > nents)
		return -E2BIG;

	sg_init_table(sg, count);
	for_each_sg(sg, s, count, i) {
		n = min_t(size_t, left, alloc->chunk_size - off);
		sg_set_page(s, alloc->pages[c * alloc->chunk_pages], n, off);
		sg_dma_address(s) = b->dma[c] + off;
		sg_dma_len(s) = n;
		left -= n;
		off = 0;
		c++;
	}
	return count;
}
EXPORT_SYMBOL_NS_GPL(ksalloc_frame_sg, "KSALLOC");

/* Syncs bytes [@offset, @offset + @len) of frame @index, cut at its end. */
static void ksalloc_dma_sync(struct ksalloc *alloc, u32 index, u32 offset,
			     u32 len, bool for_device)
{
	/* Pairs with smp_store_release() in ksalloc_bind(). */
	struct ksalloc_binding *b = smp_load_acquire(&alloc->binding);
	unsigned int c;
	size_t off, n;

	if (!b || index >= alloc->frames ||
	    offset >= alloc->framing.frame_size)
		len = 0;
	else
		len = min(len, alloc->framing.frame_size - offset);
	trace_ksalloc_dma_sync(alloc, index, offset, len, for_device);
	if (!len)
		return;

	c = ksalloc_chunk_of(alloc, index, offset, &off);
	for (; len; len -= n, c++, off = 0) {
		n = min_t(size_t, len, alloc->chunk_size - off);
		if (for_device)
			dma_sync_single_range_for_device(b->dev, b->dma[c], off,
							 n, b->dir);
		else
			dma_sync_single_range_for_cpu(b->dev, b->dma[c], off,
						      n, b->dir);
	}
	atomic_long_inc(for_device ? &b->syncs_for_device : &b->syncs_for_cpu);
}

/**
 * ksalloc_sync_for_device() - give bytes of a frame to the device
 * @alloc: the allocator, bound to a device
 * @index: the frame
 * @offset: the first byte, from the start of the frame
 * @len: the bytes; cut at the end of the frame
 *
 * Before the device reads or writes them: dma_sync_single_for_device()
 * over the chunks they lie in, with the binding's direction.  A call for
 * an allocator that is not bound, a frame that does not exist or an
 * offset beyond the frame does nothing (the ksalloc_dma_sync event shows
 * it with len 0).
 *
 * Context: Process or softirq context, as KUnit runs it; takes no lock of
 * ksalloc, allocates nothing.  Must not race
 * with ksalloc_unbind() of the same allocator.
 * Return: nothing.
 */
void ksalloc_sync_for_device(struct ksalloc *alloc, u32 index, u32 offset,
			     u32 len)
{
	ksalloc_dma_sync(alloc, index, offset, len, true);
}
EXPORT_SYMBOL_NS_GPL(ksalloc_sync_for_device, "KSALLOC");

/**
 * ksalloc_sync_for_cpu() - take bytes of a frame back from the device
 * @alloc: the allocator, bound to a device
 * @index: the frame
 * @offset: the first byte, from the start of the frame
 * @len: the bytes; cut at the end of the frame
 *
 * After the device wrote or read them, before the CPU looks:
 * dma_sync_single_for_cpu() over the chunks they lie in, with the
 * binding's direction.  Does nothing where ksalloc_sync_for_device() does
 * nothing.
 *
 * Context: As ksalloc_sync_for_device().
 * Return: nothing.
 */
void ksalloc_sync_for_cpu(struct ksalloc *alloc, u32 index, u32 offset,
			  u32 len)
{
	ksalloc_dma_sync(alloc, index, offset, len, false);
}
EXPORT_SYMBOL_NS_GPL(ksalloc_sync_for_cpu, "KSALLOC");

/**
 * ksalloc_dma_show() - the debugfs file "dma" of an allocator
 * @m: the file
 * @alloc: the allocator
 *
 * The binding and the backing, and on which node the pool's pages are.
 *
 * Context: Process context; takes the bind mutex.
 * Return: 0, or -ENOMEM.
 */
int ksalloc_dma_show(struct seq_file *m, struct ksalloc *alloc)
{
	struct ksalloc_binding *b;
	unsigned int *nodes, i;
	int nid;

	nodes = kcalloc(nr_node_ids, sizeof(*nodes), GFP_KERNEL);
	if (!nodes)
		return -ENOMEM;
	for (i = 0; i < alloc->nr_pages; i++)
		nodes[page_to_nid(alloc->pages[i])]++;

	mutex_lock(&alloc->bind_lock);
	b = alloc->binding;
	seq_printf(m, "bound %d\n", !!b);
	seq_printf(m, "device %s\n", b ? dev_name(b->dev) : "none");
	seq_printf(m, "direction %d\n", b ? b->dir : DMA_NONE);
	seq_printf(m, "backing %s\n", ksalloc_backing_name(alloc));
	seq_printf(m, "contig %d\n", alloc->contig);
	seq_printf(m, "node %d\n", alloc->nid);
	seq_printf(m, "mapped_bytes %llu\n",
		   b ? (u64)alloc->nr_pages << PAGE_SHIFT : 0);
	seq_printf(m, "syncs_for_device %lu\n",
		   b ? atomic_long_read(&b->syncs_for_device) : 0);
	seq_printf(m, "syncs_for_cpu %lu\n",
		   b ? atomic_long_read(&b->syncs_for_cpu) : 0);
	mutex_unlock(&alloc->bind_lock);

	for_each_node(nid)
		if (nodes[nid])
			seq_printf(m, "pages_node%d %u\n", nid, nodes[nid]);
	kfree(nodes);
	return 0;
}
