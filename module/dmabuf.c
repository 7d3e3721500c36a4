// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc - dma-buf export of the pool or of one frame (SPEC 8)
 *
 * KSALLOC_IOC_EXPORT_DMABUF makes a dma-buf of pool pages, so that user
 * space can hand frames to V4L2, DRM PRIME or any other importer without a
 * copy.  The exporter here is as plain as dma-buf exporters go:
 *
 * - The dma-buf holds a reference on the allocator, which keeps the pages,
 *   their kernel mapping and the allocator's charge alive after the
 *   descriptor is closed; release() drops it.  Its own bookkeeping (this
 *   struct, and each attachment's scatterlist) counts against the budget
 *   and max_pool_bytes with the pool and its binding (ksalloc_charge_dma()),
 *   and so do (an
 *   estimate of) the dma-buf, its reservation object and the file, inode
 *   and dentry of its descriptor.  All but the dma-buf and its reservation
 *   object, which the core allocates unaccounted, are charged to the
 *   memory cgroup of the descriptor's opener.
 * - Each attachment gets a scatterlist of the exported pages at attach(),
 *   in segments of at most what the device takes in one segment and in
 *   one mapping, in whole pages, none crossing its segment boundary on the
 *   bus; a device that takes less than a page in a segment cannot attach
 *   (-EINVAL).  A device whose mapping would bounce cannot map (-ERANGE):
 *   its slot would hold a copy of pages that others write, and a sync
 *   would copy it back over them.  It may attach, since an importer that
 *   only vmaps never bounces.  Where swiotlb bounces everything
 *   (swiotlb=force, a confidential guest), no device maps.
 * - map_dma_buf() maps the table for the importer's device both ways
 *   (DMA_BIDIRECTIONAL, whatever the importer asked) with
 *   DMA_ATTR_SKIP_CPU_SYNC, then writes the CPU's caches back; the unmap
 *   syncs nothing.  Neither invalidates: on a machine that is not
 *   coherent, that would drop what holders of other frames wrote.  A
 *   DMA_BUF_IOCTL_SYNC with DMA_BUF_SYNC_START does invalidate there, over
 *   the whole dma-buf: on a pool's, it is the caller's to know that no
 *   other holder has writes in the caches.  The ops set cache_sgt_mapping,
 *   so the dma-buf core maps an attachment once, hands the same table to
 *   every dma_buf_map_attachment() and unmaps it at detach; a second
 *   direction is refused.  Nothing stays mapped after detach().
 * - mmap() inserts the pages (vm_map_pages(): each mapped page holds a page
 *   reference, which the core's reaper waits for); never executable.
 * - vmap() returns the pool's own kernel mapping: nothing to undo.
 * - begin/end_cpu_access() sync every mapped attachment of this dma-buf
 *   for the CPU and back to the devices.  Another dma-buf of the same pages
 *   has attachments of its own, which a sync here does not reach.
 *
 * Freeing an exported frame does not revoke its dma-buf (SPEC 8): using
 * memory that is still exported is the holder's business, as with mmap().
 */

#include <linux/dcache.h>
#include <linux/dma-buf.h>
#include <linux/dma-direct.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/err.h>
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/iosys-map.h>
#include <linux/list.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "core.h"
#include "ksalloc_trace.h"

/*
 * The DMA_BUF namespace, imported in a way that every kernel from 6.1 on
 * accepts (MODULE_IMPORT_NS() takes a bare name before 6.13).
 */
MODULE_INFO(import_ns, "DMA_BUF");

/**
 * struct ksalloc_export - one dma-buf of pool memory
 * @alloc: the allocator, with a reference until release()
 * @memcg: the opener's memory cgroup, with a reference, or NULL; every
 *         allocation of the exporter is charged to it
 * @pages: the first exported page, in &ksalloc.pages
 * @nr_pages: the exported pages
 * @index: the exported frame, or %KSALLOC_DMABUF_POOL
 * @offset: byte offset of the first page in the pool
 * @lock: protects @attachments and the mapping state of each of them
 * @attachments: &struct ksalloc_export_att, one per attach()
 */
struct ksalloc_export {
	struct ksalloc *alloc;
	struct mem_cgroup *memcg;
	struct page **pages;
	unsigned int nr_pages;
	u32 index;
	size_t offset;
	struct mutex lock;	/* protects attachments, and their mapping */
	struct list_head attachments;
};

/**
 * struct ksalloc_export_att - one importer's attachment
 * @node: link in &ksalloc_export.attachments
 * @dev: the importer's device
 * @sgt: the exported pages, DMA-mapped for @dev (both ways, see
 *       ksalloc_dmabuf_map()) while @dir is not DMA_NONE
 * @dir: the direction the importer mapped for, %DMA_NONE while unmapped
 * @cost: bytes charged for this attachment
 */
struct ksalloc_export_att {
	struct list_head node;
	struct device *dev;
	struct sg_table sgt;
	enum dma_data_direction dir;
	size_t cost;
};

#ifdef CONFIG_MEMCG
static struct mem_cgroup *ksalloc_memcg_get(struct mem_cgroup *memcg)
{
	if (memcg)
		css_get(&memcg->css);
	return memcg;
}
#else
static struct mem_cgroup *ksalloc_memcg_get(struct mem_cgroup *memcg)
{
	return memcg;
}
#endif

/*
 * What an export costs: this struct, the dma-buf with the reservation
 * object dma_buf_export() allocates with it, and an estimate of the file,
 * inode and dentry of its descriptor (slab objects of the core).
 */
static size_t ksalloc_export_cost(void)
{
	return kmalloc_size_roundup(sizeof(struct ksalloc_export)) +
	       kmalloc_size_roundup(sizeof(struct dma_buf) +
				    sizeof(struct dma_resv)) +
	       sizeof(struct file) + sizeof(struct inode) +
	       sizeof(struct dentry);
}

/*
 * What a scatterlist of @n entries costs, at most: one kmalloc() up to
 * SG_MAX_SINGLE_ALLOC entries, else chained pages that each hold
 * SG_MAX_SINGLE_ALLOC - 1 entries and the link to the next.
 */
static size_t ksalloc_sg_cost(unsigned int n)
{
	if (n <= SG_MAX_SINGLE_ALLOC)
		return kmalloc_size_roundup(n * sizeof(struct scatterlist));
	return DIV_ROUND_UP(n, SG_MAX_SINGLE_ALLOC - 1) * PAGE_SIZE;
}

/* What an attachment and its scatterlist cost, at most. */
static size_t ksalloc_export_att_cost(const struct ksalloc_export *exp)
{
	return kmalloc_size_roundup(sizeof(struct ksalloc_export_att)) +
	       ksalloc_sg_cost(exp->nr_pages);
}

/*
 * The longest segment @dev takes: its max segment size, capped at what
 * one mapping may span (a bounce buffer's slot), in whole pages.  0 when
 * the device cannot take even one page in a segment.
 */
static unsigned int ksalloc_dmabuf_seg_max(struct device *dev)
{
	size_t seg = min_t(size_t, dma_get_max_seg_size(dev),
			   dma_max_mapping_size(dev));

	seg = round_down(seg, PAGE_SIZE);
	return seg < PAGE_SIZE ? 0 : seg;
}

/*
 * Puts @n pages in @sgt (NULL: only counts), pages adjacent both in memory
 * and on @dev's bus in one segment of at most @seg bytes that never
 * crosses a multiple of @boundary + 1 on the bus: dma-direct hands each
 * segment to the device as it is.  (Where an IOMMU translates, it keeps to
 * the boundary itself, and the bus addresses here are only a bound.)
 * Returns the number of segments.
 */
static unsigned int ksalloc_dmabuf_fill(struct sg_table *sgt,
					struct device *dev,
					struct page **pages, unsigned int n,
					unsigned int seg, u64 boundary)
{
	struct scatterlist *sg = NULL;
	dma_addr_t start = 0, bend = 0, a;
	phys_addr_t end = 0, p;
	unsigned int i, nents = 0;

	for (i = 0; i < n; i++) {
		p = page_to_phys(pages[i]);
		a = phys_to_dma(dev, p);
		if (nents && p == end && a == bend &&
		    a + PAGE_SIZE - start <= seg &&
		    (start | boundary) == ((a + PAGE_SIZE - 1) | boundary)) {
			end += PAGE_SIZE;
			bend += PAGE_SIZE;
			if (sg)
				sg->length += PAGE_SIZE;
			continue;
		}
		if (sgt) {
			sg = sg ? sg_next(sg) : sgt->sgl;
			sg_set_page(sg, pages[i], PAGE_SIZE, 0);
		}
		start = a;
		bend = a + PAGE_SIZE;
		end = p + PAGE_SIZE;
		nents++;
	}
	return nents;
}

/*
 * The table of @exp's pages for @dev, in the segments @dev takes: -EINVAL
 * when it cannot take a page in one segment.
 */
static int ksalloc_dmabuf_table(struct ksalloc_export *exp, struct device *dev,
				struct sg_table *sgt)
{
	unsigned int seg = ksalloc_dmabuf_seg_max(dev), nents;
	u64 boundary = dma_get_seg_boundary(dev);
	int ret;

	if (!seg || boundary < PAGE_SIZE - 1)
		return -EINVAL;
	nents = ksalloc_dmabuf_fill(NULL, dev, exp->pages, exp->nr_pages, seg,
				    boundary);
	ret = sg_alloc_table(sgt, nents, GFP_KERNEL_ACCOUNT);
	if (ret)
		return ret;
	ksalloc_dmabuf_fill(sgt, dev, exp->pages, exp->nr_pages, seg, boundary);
	return 0;
}

static int ksalloc_dmabuf_attach(struct dma_buf *dmabuf,
				 struct dma_buf_attachment *attach)
{
	struct ksalloc_export *exp = dmabuf->priv;
	size_t cost = ksalloc_export_att_cost(exp);
	struct ksalloc_export_att *att;
	struct mem_cgroup *old;
	int ret;

	ret = ksalloc_charge_dma(exp->alloc, cost);
	if (ret)
		return ret;
	old = set_active_memcg(exp->memcg);
	att = kzalloc(sizeof(*att), GFP_KERNEL_ACCOUNT);
	ret = -ENOMEM;
	if (att)
		ret = ksalloc_dmabuf_table(exp, attach->dev, &att->sgt);
	set_active_memcg(old);
	if (ret) {
		kfree(att);
		ksalloc_uncharge_dma(exp->alloc, cost);
		return ret;
	}
	att->dev = attach->dev;
	att->dir = DMA_NONE;
	att->cost = cost;
	attach->priv = att;
	mutex_lock(&exp->lock);
	list_add_tail(&att->node, &exp->attachments);
	mutex_unlock(&exp->lock);
	trace_ksalloc_dmabuf_attach(exp->alloc, attach->dev, att->sgt.orig_nents);
	return 0;
}

/*
 * Unmaps @att without a CPU sync: on a machine that is not coherent, that
 * would invalidate the cache over every frame of the table, and with it
 * what their holders wrote since (SPEC 7.7).  DMA_BUF_IOCTL_SYNC with
 * DMA_BUF_SYNC_START is how the CPU sees what a device wrote.  Under the
 * export's lock.
 */
static void ksalloc_dmabuf_unmap_locked(struct ksalloc_export_att *att)
{
	if (att->dir == DMA_NONE)
		return;
	dma_unmap_sgtable(att->dev, &att->sgt, DMA_BIDIRECTIONAL,
			  DMA_ATTR_SKIP_CPU_SYNC);
	att->dir = DMA_NONE;
}

static void ksalloc_dmabuf_detach(struct dma_buf *dmabuf,
				  struct dma_buf_attachment *attach)
{
	struct ksalloc_export *exp = dmabuf->priv;
	struct ksalloc_export_att *att = attach->priv;

	mutex_lock(&exp->lock);
	list_del(&att->node);
	/* An importer that detaches mapped: nothing stays mapped. */
	ksalloc_dmabuf_unmap_locked(att);
	mutex_unlock(&exp->lock);
	trace_ksalloc_dmabuf_detach(exp->alloc, att->dev);
	sg_free_table(&att->sgt);
	ksalloc_uncharge_dma(exp->alloc, att->cost);
	kfree(att);
}

static struct sg_table *ksalloc_dmabuf_map(struct dma_buf_attachment *attach,
					   enum dma_data_direction dir)
{
	struct ksalloc_export *exp = attach->dmabuf->priv;
	struct ksalloc_export_att *att = attach->priv;
	int ret = 0;

	/* A device with no mask maps nothing (the DMA API warns). */
	if (!valid_dma_direction(dir) || !att->dev->dma_mask ||
	    !*att->dev->dma_mask)
		return ERR_PTR(-EINVAL);
	mutex_lock(&exp->lock);
	if (att->dir == DMA_NONE) {
		/*
		 * A mapping that would bounce is refused (see the top of
		 * this file), here and not at attach(): an importer that
		 * only vmaps never maps, and its mask may change between
		 * the two.  Mapped both ways and
		 * without a CPU sync, then written back: the CPU's dirty lines
		 * reach memory before a device reads or writes there, and
		 * nothing is invalidated, which on a machine that is not
		 * coherent would lose what holders of other frames wrote
		 * (SPEC 7.7).
		 */
		if (ksalloc_dma_bounces(att->dev, exp->pages, exp->nr_pages))
			ret = -ERANGE;
		else
			ret = dma_map_sgtable(att->dev, &att->sgt,
					      DMA_BIDIRECTIONAL,
					      DMA_ATTR_SKIP_CPU_SYNC);
		if (!ret) {
			dma_sync_sgtable_for_device(att->dev, &att->sgt,
						    DMA_BIDIRECTIONAL);
			att->dir = dir;
		}
	} else if (att->dir != dir) {
		/* One mapping per attachment: the core caches it (ops). */
		ret = -EBUSY;
	}
	mutex_unlock(&exp->lock);
	trace_ksalloc_dmabuf_map(exp->alloc, att->dev, dir,
				 ret ? 0 : att->sgt.nents, ret);
	return ret ? ERR_PTR(ret) : &att->sgt;
}

static void ksalloc_dmabuf_unmap(struct dma_buf_attachment *attach,
				 struct sg_table *sgt,
				 enum dma_data_direction dir)
{
	struct ksalloc_export *exp = attach->dmabuf->priv;
	struct ksalloc_export_att *att = attach->priv;

	mutex_lock(&exp->lock);
	ksalloc_dmabuf_unmap_locked(att);
	mutex_unlock(&exp->lock);
	trace_ksalloc_dmabuf_map(exp->alloc, att->dev, DMA_NONE, 0, 0);
}

/* The last reference to the dma-buf is gone: so is ours on the pool. */
static void ksalloc_dmabuf_release(struct dma_buf *dmabuf)
{
	struct ksalloc_export *exp = dmabuf->priv;

	trace_ksalloc_dmabuf_release(exp->alloc, exp->index);
	mutex_destroy(&exp->lock);
	mem_cgroup_put(exp->memcg);
	ksalloc_uncharge_dma(exp->alloc, ksalloc_export_cost());
	ksalloc_put(exp->alloc);
	kfree(exp);
}

/* Shared and never executable, as mmap() of the descriptor. */
static int ksalloc_dmabuf_mmap(struct dma_buf *dmabuf,
			       struct vm_area_struct *vma)
{
	struct ksalloc_export *exp = dmabuf->priv;

	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	vm_flags_mod(vma, VM_DONTEXPAND | VM_DONTDUMP, VM_MAYEXEC);
	/* vm_map_pages() honours vm_pgoff and checks the size. */
	return vm_map_pages(vma, exp->pages, exp->nr_pages);
}

/* The pool is mapped in the kernel all its life: no vunmap to undo it. */
static int ksalloc_dmabuf_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct ksalloc_export *exp = dmabuf->priv;

	iosys_map_set_vaddr(map, exp->alloc->pool + exp->offset);
	return 0;
}

/* DMA_BUF_IOCTL_SYNC: every mapped attachment, for the CPU or the device. */
static void ksalloc_dmabuf_sync(struct ksalloc_export *exp, bool for_cpu)
{
	struct ksalloc_export_att *att;

	mutex_lock(&exp->lock);
	list_for_each_entry(att, &exp->attachments, node) {
		if (att->dir == DMA_NONE)
			continue;
		if (for_cpu)
			dma_sync_sgtable_for_cpu(att->dev, &att->sgt,
						 DMA_BIDIRECTIONAL);
		else
			dma_sync_sgtable_for_device(att->dev, &att->sgt,
						    DMA_BIDIRECTIONAL);
		cond_resched();
	}
	mutex_unlock(&exp->lock);
	trace_ksalloc_dmabuf_sync(exp->alloc, exp->index, !for_cpu);
}

static int ksalloc_dmabuf_begin_cpu(struct dma_buf *dmabuf,
				    enum dma_data_direction dir)
{
	ksalloc_dmabuf_sync(dmabuf->priv, true);
	return 0;
}

static int ksalloc_dmabuf_end_cpu(struct dma_buf *dmabuf,
				  enum dma_data_direction dir)
{
	ksalloc_dmabuf_sync(dmabuf->priv, false);
	return 0;
}

static const struct dma_buf_ops ksalloc_dmabuf_ops = {
	.cache_sgt_mapping	= true,
	.attach			= ksalloc_dmabuf_attach,
	.detach			= ksalloc_dmabuf_detach,
	.map_dma_buf		= ksalloc_dmabuf_map,
	.unmap_dma_buf		= ksalloc_dmabuf_unmap,
	.release		= ksalloc_dmabuf_release,
	.mmap			= ksalloc_dmabuf_mmap,
	.vmap			= ksalloc_dmabuf_vmap,
	.begin_cpu_access	= ksalloc_dmabuf_begin_cpu,
	.end_cpu_access		= ksalloc_dmabuf_end_cpu,
};

/*
 * Checks an export of frame @index (or of the pool) held as @held, with the
 * dma-buf access mode and O_CLOEXEC in @fd_flags, and fills in which pages
 * @exp exports.  -EINVAL for everything SPEC 8 refuses, -EOPNOTSUPP for
 * custom backing, -ENODEV once closed.
 */
static int ksalloc_export_check(struct ksalloc *alloc, u32 index, u32 fd_flags,
				u8 held, struct ksalloc_export *exp)
{
	u32 acc = fd_flags & O_ACCMODE;

	if ((fd_flags & ~(O_CLOEXEC | O_ACCMODE)) ||
	    (acc != O_RDONLY && acc != O_WRONLY && acc != O_RDWR))
		return -EINVAL;
	if (alloc->framing.pool_type == KSALLOC_POOL_PAGED)
		return -EINVAL;
	/* As ksalloc_install_fd(): an importer may outlast the driver. */
	if (ksalloc_backing_custom(alloc))
		return -EOPNOTSUPP;
	if (ksalloc_is_closed(alloc))
		return -ENODEV;
	exp->index = index;
	if (index == KSALLOC_DMABUF_POOL) {
		exp->offset = 0;
		exp->pages = alloc->pages;
		exp->nr_pages = alloc->nr_pages;
		return 0;
	}
	if (index >= alloc->frames || !PAGE_ALIGNED(alloc->stride) ||
	    READ_ONCE(*ksalloc_state(alloc, index)) != held)
		return -EINVAL;
	exp->offset = ksalloc_frame_offset(alloc, index);
	exp->pages = alloc->pages + (exp->offset >> PAGE_SHIFT);
	exp->nr_pages = alloc->stride >> PAGE_SHIFT;
	return 0;
}

/*
 * The dma-buf of frame @index or of the pool, held as @held, its
 * bookkeeping charged to @memcg (NULL: the caller's).  The one export path
 * of the ioctl and of ksalloc_export_dmabuf().
 */
static struct dma_buf *ksalloc_export(struct ksalloc *alloc, u32 index,
				      u32 fd_flags, u8 held,
				      struct mem_cgroup *memcg)
{
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	size_t cost = ksalloc_export_cost();
	struct ksalloc_export *exp;
	struct mem_cgroup *old;
	struct dma_buf *dmabuf;
	int ret;

	old = set_active_memcg(memcg);
	exp = kzalloc(sizeof(*exp), GFP_KERNEL_ACCOUNT);
	set_active_memcg(old);
	if (!exp)
		return ERR_PTR(-ENOMEM);
	/* A refusal says why, not that a limit was reached as well. */
	ret = ksalloc_export_check(alloc, index, fd_flags, held, exp);
	if (!ret)
		ret = ksalloc_charge_dma(alloc, cost);
	if (ret) {
		kfree(exp);
		return ERR_PTR(ret);
	}
	mutex_init(&exp->lock);
	INIT_LIST_HEAD(&exp->attachments);
	ksalloc_get(alloc);
	exp->alloc = alloc;
	exp->memcg = ksalloc_memcg_get(memcg);

	info.ops = &ksalloc_dmabuf_ops;
	info.size = (size_t)exp->nr_pages << PAGE_SHIFT;
	info.flags = fd_flags & O_ACCMODE;
	info.priv = exp;
	/* The dma-buf, its file and inode are the opener's memory too. */
	old = set_active_memcg(memcg);
	dmabuf = dma_buf_export(&info);
	set_active_memcg(old);
	trace_ksalloc_dmabuf_export(alloc, index, exp->nr_pages,
				    PTR_ERR_OR_ZERO(dmabuf));
	if (!IS_ERR(dmabuf))
		return dmabuf;	/* its release frees @exp */
	/* In the order of the release. */
	mutex_destroy(&exp->lock);
	mem_cgroup_put(exp->memcg);
	ksalloc_uncharge_dma(alloc, cost);
	ksalloc_put(alloc);
	kfree(exp);
	return dmabuf;
}

/**
 * ksalloc_export_dmabuf() - a dma-buf of a frame the caller holds, or of the pool
 * @alloc: the allocator, not %KSALLOC_POOL_PAGED
 * @index: a frame kernel code holds (from the function table,
 *         ksalloc_allocate_frame() or ksalloc_alloc_frame_wait()), or
 *         %KSALLOC_DMABUF_POOL for the whole pool
 * @flags: the dma-buf's access mode, %O_RDONLY, %O_WRONLY or %O_RDWR (an
 *         %O_CLOEXEC is allowed and means nothing here: dma_buf_fd() takes it)
 *
 * What KSALLOC_IOC_EXPORT_DMABUF does for user space, for a driver that
 * hands frames to an importer itself (dma_buf_fd() makes a descriptor of
 * it).  A frame needs a stride that is a multiple of %PAGE_SIZE; it is the
 * dma-buf's whole size.  The dma-buf keeps the pool memory alive after
 * ksalloc_close(); freeing the frame does not revoke it.  Its bookkeeping
 * counts against max_pool_bytes and the budget, and is charged to the
 * memory cgroup of the caller (of the task that attaches, for an
 * attachment).
 *
 * Context: Process context; may sleep.
 * Return: the dma-buf with one reference (dma_buf_put() drops it),
 * ERR_PTR(-EINVAL) for a paged pool, a frame kernel code does not hold, a
 * stride that is not whole pages or other @flags, ERR_PTR(-EOPNOTSUPP) for
 * custom backing (whose memory belongs to its driver, which an importer
 * may outlast), ERR_PTR(-ENODEV) once @alloc is closed, ERR_PTR(-ENOMEM)
 * over the budget, or an error of dma_buf_export().
 */
struct dma_buf *ksalloc_export_dmabuf(struct ksalloc *alloc, u32 index,
				      unsigned int flags)
{
	might_sleep();
	return ksalloc_export(alloc, index, flags, KSALLOC_FRAME_KERNEL, NULL);
}
EXPORT_SYMBOL_NS_GPL(ksalloc_export_dmabuf, "KSALLOC");

/*
 * A descriptor for @dmabuf, installed only once user space has its
 * number: a failed copy leaves no descriptor behind and drops the dma-buf.
 */
static int ksalloc_export_fd(struct dma_buf *dmabuf, u32 fd_flags,
			     struct ksalloc_dmabuf __user *argp)
{
	int fd = get_unused_fd_flags(fd_flags & O_CLOEXEC);

	if (fd < 0) {
		dma_buf_put(dmabuf);
		return fd;
	}
	if (put_user(fd, &argp->fd)) {
		put_unused_fd(fd);
		dma_buf_put(dmabuf);
		return -EFAULT;
	}
	fd_install(fd, dmabuf->file);
	return fd;
}

/**
 * ksalloc_ioctl_export_dmabuf() - KSALLOC_IOC_EXPORT_DMABUF
 * @alloc: the allocator of a descriptor open for writing
 * @memcg: the opener's memory cgroup, or NULL
 * @argp: the user's struct ksalloc_dmabuf
 *
 * Context: Process context; may sleep.
 * Return: 0 with the new descriptor in the user's fd, -EFAULT, -EINVAL for
 * what SPEC 8 refuses, -ENOMEM over a limit or without memory, or an
 * error of dma_buf_export() or of the descriptor.
 */
long ksalloc_ioctl_export_dmabuf(struct ksalloc *alloc,
				 struct mem_cgroup *memcg,
				 struct ksalloc_dmabuf __user *argp)
{
	struct ksalloc_dmabuf req;
	struct dma_buf *dmabuf;
	int fd;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	if (req.reserved)
		return -EINVAL;
	dmabuf = ksalloc_export(alloc, req.index, req.fd_flags,
				KSALLOC_FRAME_USER, memcg);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	/* Once installed, another thread may close it: nothing after this. */
	fd = ksalloc_export_fd(dmabuf, req.fd_flags, argp);
	return fd < 0 ? fd : 0;
}
