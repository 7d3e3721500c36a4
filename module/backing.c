// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc - the memory behind a pool
 *
 * A pool is @nr_pages order-0 pages (struct ksalloc::pages[]), mapped
 * contiguously with vmap() for the kernel and page by page for user space
 * (vm_map_pages()).  The backing hands them out in @nr_chunks chunks of
 * @chunk_size bytes each, every page of a chunk with its own reference:
 *
 *   backing  chunk         from                        bus address
 *   -------  ------------  --------------------------  -----------------
 *   pages    PAGE_SIZE     alloc_page(), or on @node   mapped at bind
 *   contig   the stride    alloc_pages_node() of the   mapped at bind,
 *                          stride's order, split and   one per frame
 *                          trimmed to the stride
 *   device   as pages or   the same, from the zone     mapped at the
 *            contig        the device reaches          creation's bind
 *   custom   PAGE_SIZE or  ksalloc_backing_ops.alloc   the backing's, or
 *            the stride                                mapped at bind
 *
 * Device memory is ordinary memory from the zone that the device's mask
 * reaches without bouncing (ksalloc_dma_zone()), never dma_alloc_pages():
 * user space may hold the pool (a descriptor of ksalloc_install_fd(), a
 * mapping, a pipe) after the driver's remove(), which an allocation of the
 * DMA API must not outlive.  Mapped at the creation's bind and unmapped at
 * the unbind or the release, the pages are then plain pages, freed as
 * those of the default backing; the device is not held for them.
 *
 * Every chunk is allocated with GFP_KERNEL_ACCOUNT | __GFP_ZERO, so that
 * the memory cgroup pays and no frame shows what the memory held before;
 * after that nothing writes into it (SPEC 7.7).  Chunks are freed through
 * the backing that gave them, once no page is held by anyone else (core.c,
 * ksalloc_reap()): the module of custom callbacks, and the device they
 * mapped chunks for, are held until then.
 */

#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/numa.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "core.h"

#define KSALLOC_GFP (GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN)

/**
 * ksalloc_backing_init() - choose the backing of a new allocator
 * @alloc: the allocator, its stride set
 * @params: checked parameters of ksalloc_create_ex()
 *
 * With custom callbacks, takes a reference on their module and on
 * &ksalloc_params.dev (the device of the addresses they may set), which
 * ksalloc_backing_free() or ksalloc_backing_put() drop.
 *
 * Context: Process context.
 * Return: 0, or -ENODEV when the callbacks' module is going away.
 */
int ksalloc_backing_init(struct ksalloc *alloc,
			 const struct ksalloc_params *params)
{
	const struct ksalloc_backing_ops *ops = params->ops;

	alloc->nid = params->node;
	if (alloc->nid == NUMA_NO_NODE && params->dev)
		alloc->nid = dev_to_node(params->dev);
	alloc->contig = params->flags & KSALLOC_CREATE_CONTIG;
	alloc->chunk_size = alloc->contig ? alloc->stride : PAGE_SIZE;
	alloc->chunk_pages = alloc->chunk_size >> PAGE_SHIFT;
	alloc->gfp = KSALLOC_GFP;
	if (ops) {
		alloc->backing = KSALLOC_BACKING_CUSTOM;
	} else if (params->flags & KSALLOC_CREATE_DEVICE) {
		alloc->backing = KSALLOC_BACKING_DEVICE;
		alloc->gfp |= ksalloc_dma_zone(params->dev);
	} else if (alloc->contig) {
		alloc->backing = KSALLOC_BACKING_CONTIG;
	} else {
		alloc->backing = KSALLOC_BACKING_PAGES;
	}

	if (ops && ops->owner && !try_module_get(ops->owner))
		return -ENODEV;
	alloc->ops = ops;
	alloc->ops_priv = params->ops_priv;
	if (ops && params->dev) {
		alloc->backing_dev = get_device(params->dev);
		alloc->backing_dir = params->dir;
	}
	return 0;
}

/**
 * ksalloc_backing_put() - drop what ksalloc_backing_init() took
 * @alloc: the allocator, whose chunks are gone
 *
 * Context: Process context.
 */
void ksalloc_backing_put(struct ksalloc *alloc)
{
	put_device(alloc->backing_dev);
	alloc->backing_dev = NULL;
	if (alloc->ops && alloc->ops->owner)
		module_put(alloc->ops->owner);
	alloc->ops = NULL;
}

/*
 * @size bytes of physically contiguous order-0 pages, each with its own
 * reference: a block of the next order up, split, its tail given back.
 */
static struct page *ksalloc_alloc_contig(int node, size_t size, gfp_t gfp)
{
	unsigned int order = get_order(size);
	unsigned long i, n = size >> PAGE_SHIFT;
	struct page *page;

	page = alloc_pages_node(node, gfp | __GFP_RETRY_MAYFAIL, order);
	if (!page)
		return NULL;
	split_page(page, order);
	for (i = n; i < (1UL << order); i++)
		__free_page(page + i);
	return page;
}

/* Chunk @i from the backing; custom backing's bus address in chunk_dma[@i]. */
static struct page *ksalloc_alloc_chunk(struct ksalloc *alloc, unsigned int i)
{
	if (alloc->backing == KSALLOC_BACKING_CUSTOM) {
		alloc->chunk_dma[i] = DMA_MAPPING_ERROR;
		return alloc->ops->alloc(alloc->ops_priv, alloc->chunk_size,
					 alloc->nid, KSALLOC_GFP,
					 &alloc->chunk_dma[i]);
	}
	if (alloc->contig)
		return ksalloc_alloc_contig(alloc->nid, alloc->chunk_size,
					    alloc->gfp);
	if (alloc->nid == NUMA_NO_NODE)
		return alloc_page(alloc->gfp);
	return alloc_pages_node(alloc->nid, alloc->gfp, 0);
}

/* Gives chunk @i back to the backing it came from. */
static void ksalloc_free_chunk(struct ksalloc *alloc, unsigned int i)
{
	struct page *page = alloc->pages[i * alloc->chunk_pages];
	unsigned int j;

	if (alloc->backing == KSALLOC_BACKING_CUSTOM) {
		alloc->ops->free(alloc->ops_priv, page, alloc->chunk_size,
				 alloc->chunk_dma[i]);
		return;
	}
	for (j = 0; j < alloc->chunk_pages; j++)
		__free_page(page + j);
}

/* Frees the first @n chunks and the arrays. */
static void ksalloc_free_chunks(struct ksalloc *alloc, unsigned int n)
{
	while (n--) {
		ksalloc_free_chunk(alloc, n);
		cond_resched();
	}
	kvfree(alloc->chunk_dma);
	alloc->chunk_dma = NULL;
	kvfree(alloc->pages);
	alloc->pages = NULL;
}

/**
 * ksalloc_alloc_pool() - allocate the pool and map it for the kernel
 * @alloc: the allocator, its backing chosen
 * @bytes: the pool's size, a multiple of the chunk size
 *
 * The pages and their arrays stay the allocator's: the release unmaps the
 * pool and ksalloc_backing_free() frees them once nobody else holds them.
 *
 * Context: Process context; may sleep.
 * Return: 0, or -ENOMEM with nothing left allocated.
 */
int ksalloc_alloc_pool(struct ksalloc *alloc, size_t bytes)
{
	unsigned int i, j;
	struct page *page;

	alloc->nr_pages = bytes >> PAGE_SHIFT;
	alloc->nr_chunks = alloc->nr_pages / alloc->chunk_pages;
	alloc->pages = kvcalloc(alloc->nr_pages, sizeof(*alloc->pages),
				GFP_KERNEL_ACCOUNT);
	if (!alloc->pages)
		return -ENOMEM;
	if (alloc->backing == KSALLOC_BACKING_CUSTOM) {
		alloc->chunk_dma = kvmalloc_array(alloc->nr_chunks,
						  sizeof(*alloc->chunk_dma),
						  GFP_KERNEL_ACCOUNT);
		if (!alloc->chunk_dma) {
			i = 0;
			goto err_free_chunks;
		}
	}

	for (i = 0; i < alloc->nr_chunks; i++) {
		page = ksalloc_alloc_chunk(alloc, i);
		if (!page)
			goto err_free_chunks;
		for (j = 0; j < alloc->chunk_pages; j++)
			alloc->pages[i * alloc->chunk_pages + j] = page + j;
		cond_resched();
	}

	alloc->pool = vmap(alloc->pages, alloc->nr_pages, VM_MAP, PAGE_KERNEL);
	if (!alloc->pool)
		goto err_free_chunks;
	return 0;

err_free_chunks:
	ksalloc_free_chunks(alloc, i);
	return -ENOMEM;
}

/**
 * ksalloc_backing_free() - free the pool's pages through their backing
 * @alloc: the allocator, unmapped, whose pages nobody else holds
 *
 * Context: Process context; may sleep.
 */
void ksalloc_backing_free(struct ksalloc *alloc)
{
	ksalloc_free_chunks(alloc, alloc->nr_chunks);
	ksalloc_backing_put(alloc);
}

/**
 * ksalloc_backing_custom() - whether the pool's memory is custom backing's
 * @alloc: the allocator
 *
 * Its ->free() and private data (and a bus address it set) are the
 * creating driver's, which the pages must not outlive:
 * ksalloc_install_fd() refuses such an allocator.
 *
 * Context: Any context.
 * Return: true for custom backing.
 */
bool ksalloc_backing_custom(const struct ksalloc *alloc)
{
	return alloc->backing == KSALLOC_BACKING_CUSTOM;
}

/**
 * ksalloc_backing_name() - the backing's name, for debugfs
 * @alloc: the allocator
 *
 * Context: Any context.
 * Return: "pages", "contig", "device" or "custom".
 */
const char *ksalloc_backing_name(const struct ksalloc *alloc)
{
	static const char * const names[] = {
		[KSALLOC_BACKING_PAGES] = "pages",
		[KSALLOC_BACKING_CONTIG] = "contig",
		[KSALLOC_BACKING_DEVICE] = "device",
		[KSALLOC_BACKING_CUSTOM] = "custom",
	};

	return names[alloc->backing];
}
