/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksalloc - tracepoints
 *
 * The events of the "ksalloc" trace system, under
 * /sys/kernel/tracing/events/ksalloc/.  Every event starts with the id of
 * its allocator (KSALLOC_IOC_GET_ID, the name of its debugfs directory).
 * They fire on the slow paths only: an allocation or a free served by
 * this CPU's cache is never traced.  Some fire in softirq context or under
 * the allocator's lock: they copy numbers, nothing else.
 *
 * Built with KSALLOC_TRACEPOINTS=n, Kbuild defines NOTRACE and every
 * trace_ksalloc_*() call below compiles to nothing.
 *
 * core.c defines CREATE_TRACE_POINTS; TRACE_INCLUDE_PATH is this
 * directory, which Kbuild adds to that object's include path.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM ksalloc

#if !defined(_KSALLOC_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _KSALLOC_TRACE_H

#include <linux/device.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/types.h>

#include "core.h"

TRACE_EVENT(ksalloc_create,
	TP_PROTO(const struct ksalloc *alloc),
	TP_ARGS(alloc),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(u32, frames)
		__field(u32, frame_size)
		__field(u32, stride)
		__field(u32, pool_type)
		__field(u64, bytes)
	),
	TP_fast_assign(
		__entry->id = alloc->id;
		__entry->frames = alloc->frames;
		__entry->frame_size = alloc->framing.frame_size;
		__entry->stride = alloc->stride;
		__entry->pool_type = alloc->framing.pool_type;
		__entry->bytes = alloc->pool_cost + alloc->meta_cost;
	),
	TP_printk("id=%llu frames=%u frame_size=%u stride=%u pool_type=%u bytes=%llu",
		  __entry->id, __entry->frames, __entry->frame_size,
		  __entry->stride, __entry->pool_type, __entry->bytes)
);

TRACE_EVENT(ksalloc_close,
	TP_PROTO(const struct ksalloc *alloc, u32 allocated),
	TP_ARGS(alloc, allocated),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(u32, allocated)
	),
	TP_fast_assign(
		__entry->id = alloc->id;
		__entry->allocated = allocated;
	),
	TP_printk("id=%llu allocated=%u", __entry->id, __entry->allocated)
);

TRACE_EVENT(ksalloc_release,
	TP_PROTO(const struct ksalloc *alloc),
	TP_ARGS(alloc),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(u64, bytes)
	),
	TP_fast_assign(
		__entry->id = alloc->id;
		__entry->bytes = alloc->pool_cost + alloc->meta_cost;
	),
	TP_printk("id=%llu bytes=%llu", __entry->id, __entry->bytes)
);

TRACE_EVENT(ksalloc_alloc_slow,
	TP_PROTO(const struct ksalloc *alloc, u32 index, bool user, int ret),
	TP_ARGS(alloc, index, user, ret),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(u32, index)
		__field(bool, user)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->id = alloc->id;
		__entry->index = index;
		__entry->user = user;
		__entry->ret = ret;
	),
	TP_printk("id=%llu index=%u user=%d ret=%d", __entry->id,
		  __entry->index, __entry->user, __entry->ret)
);

TRACE_EVENT(ksalloc_free_slow,
	TP_PROTO(const struct ksalloc *alloc, u32 index, bool user),
	TP_ARGS(alloc, index, user),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(u32, index)
		__field(bool, user)
	),
	TP_fast_assign(
		__entry->id = alloc->id;
		__entry->index = index;
		__entry->user = user;
	),
	TP_printk("id=%llu index=%u user=%d", __entry->id, __entry->index,
		  __entry->user)
);

TRACE_EVENT(ksalloc_wait_start,
	TP_PROTO(const struct ksalloc *alloc, u64 waiters, s64 timeout_ns),
	TP_ARGS(alloc, waiters, timeout_ns),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(u64, waiters)
		__field(s64, timeout_ns)
	),
	TP_fast_assign(
		__entry->id = alloc->id;
		__entry->waiters = waiters;
		__entry->timeout_ns = timeout_ns;
	),
	TP_printk("id=%llu waiters=%llu timeout_ns=%lld", __entry->id,
		  __entry->waiters, __entry->timeout_ns)
);

TRACE_EVENT(ksalloc_wait_end,
	TP_PROTO(const struct ksalloc *alloc, int result, u64 waited_ns,
		 u32 index),
	TP_ARGS(alloc, result, waited_ns, index),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(int, result)
		__field(u64, waited_ns)
		__field(u32, index)
	),
	TP_fast_assign(
		__entry->id = alloc->id;
		__entry->result = result;
		__entry->waited_ns = waited_ns;
		__entry->index = index;
	),
	TP_printk("id=%llu result=%s waited_ns=%llu index=%u", __entry->id,
		  __print_symbolic(__entry->result,
				   { KSALLOC_WAIT_SERVED, "served" },
				   { KSALLOC_WAIT_TIMEOUT, "timeout" },
				   { KSALLOC_WAIT_SIGNAL, "signal" },
				   { KSALLOC_WAIT_CLOSED, "closed" }),
		  __entry->waited_ns, __entry->index)
);

TRACE_EVENT(ksalloc_handoff,
	TP_PROTO(const struct ksalloc *alloc, u32 index, pid_t pid),
	TP_ARGS(alloc, index, pid),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(u32, index)
		__field(pid_t, pid)
	),
	TP_fast_assign(
		__entry->id = alloc->id;
		__entry->index = index;
		__entry->pid = pid;
	),
	TP_printk("id=%llu index=%u pid=%d", __entry->id, __entry->index,
		  __entry->pid)
);

DECLARE_EVENT_CLASS(ksalloc_cache,
	TP_PROTO(const struct ksalloc *alloc, int cpu, u32 frames),
	TP_ARGS(alloc, cpu, frames),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(int, cpu)
		__field(u32, frames)
	),
	TP_fast_assign(
		__entry->id = alloc->id;
		__entry->cpu = cpu;
		__entry->frames = frames;
	),
	TP_printk("id=%llu cpu=%d frames=%u", __entry->id, __entry->cpu,
		  __entry->frames)
);

/* Frames moved from the shared stack into this CPU's cache. */
DEFINE_EVENT(ksalloc_cache, ksalloc_cache_refill,
	TP_PROTO(const struct ksalloc *alloc, int cpu, u32 frames),
	TP_ARGS(alloc, cpu, frames)
);

/* Frames moved out of a cache to the waiters or the shared stack. */
DEFINE_EVENT(ksalloc_cache, ksalloc_cache_flush,
	TP_PROTO(const struct ksalloc *alloc, int cpu, u32 frames),
	TP_ARGS(alloc, cpu, frames)
);

/* Frames an allocation took from the cache of @cpu, this CPU's or not. */
DEFINE_EVENT(ksalloc_cache, ksalloc_cache_steal,
	TP_PROTO(const struct ksalloc *alloc, int cpu, u32 frames),
	TP_ARGS(alloc, cpu, frames)
);

TRACE_EVENT(ksalloc_alloc_fail,
	TP_PROTO(const struct ksalloc *alloc, bool user, int ret),
	TP_ARGS(alloc, user, ret),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(bool, user)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->id = alloc->id;
		__entry->user = user;
		__entry->ret = ret;
	),
	TP_printk("id=%llu user=%d ret=%d", __entry->id, __entry->user,
		  __entry->ret)
);

/*
 * A bind: the device's name (cut at 31 bytes), the direction, the bytes
 * mapped (0 on failure) and the result.  The binding that
 * ksalloc_create_ex() makes fires right after ksalloc_create.
 */
TRACE_EVENT(ksalloc_bind,
	TP_PROTO(const struct ksalloc *alloc, const struct device *dev, int dir,
		 u64 mapped, int result),
	TP_ARGS(alloc, dev, dir, mapped, result),
	TP_STRUCT__entry(
		__field(u64, id)
		__array(char, dev, 32)
		__field(int, dir)
		__field(u64, mapped)
		__field(int, result)
	),
	TP_fast_assign(
		__entry->id = alloc->id;
		strscpy(__entry->dev, dev ? dev_name(dev) : "", sizeof(__entry->dev));
		__entry->dir = dir;
		__entry->mapped = mapped;
		__entry->result = result;
	),
	TP_printk("id=%llu dev=%s dir=%d mapped=%llu result=%d", __entry->id,
		  __entry->dev, __entry->dir, __entry->mapped, __entry->result)
);

TRACE_EVENT(ksalloc_unbind,
	TP_PROTO(const struct ksalloc *alloc),
	TP_ARGS(alloc),
	TP_STRUCT__entry(
		__field(u64, id)
	),
	TP_fast_assign(
		__entry->id = alloc->id;
	),
	TP_printk("id=%llu", __entry->id)
);

/* A sync helper's call; len 0 when it did nothing (not bound, no frame). */
TRACE_EVENT(ksalloc_dma_sync,
	TP_PROTO(const struct ksalloc *alloc, u32 index, u32 offset, u32 len,
		 bool for_device),
	TP_ARGS(alloc, index, offset, len, for_device),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(u32, index)
		__field(u32, offset)
		__field(u32, len)
		__field(bool, for_device)
	),
	TP_fast_assign(
		__entry->id = alloc->id;
		__entry->index = index;
		__entry->offset = offset;
		__entry->len = len;
		__entry->for_device = for_device;
	),
	TP_printk("id=%llu index=%u offset=%u len=%u for_device=%d",
		  __entry->id, __entry->index, __entry->offset, __entry->len,
		  __entry->for_device)
);

/* KSALLOC_IOC_EXPORT_DMABUF: index ~0 for the pool; result the fd or -errno. */
TRACE_EVENT(ksalloc_dmabuf_export,
	TP_PROTO(const struct ksalloc *alloc, u32 index, u32 pages, int result),
	TP_ARGS(alloc, index, pages, result),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(u32, index)
		__field(u32, pages)
		__field(int, result)
	),
	TP_fast_assign(
		__entry->id = alloc->id;
		__entry->index = index;
		__entry->pages = pages;
		__entry->result = result;
	),
	TP_printk("id=%llu index=%u pages=%u result=%d", __entry->id,
		  __entry->index, __entry->pages, __entry->result)
);

/* The last reference to an exported dma-buf is gone. */
TRACE_EVENT(ksalloc_dmabuf_release,
	TP_PROTO(const struct ksalloc *alloc, u32 index),
	TP_ARGS(alloc, index),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(u32, index)
	),
	TP_fast_assign(
		__entry->id = alloc->id;
		__entry->index = index;
	),
	TP_printk("id=%llu index=%u", __entry->id, __entry->index)
);

/* An importer attached: its scatterlist has sg_entries entries. */
TRACE_EVENT(ksalloc_dmabuf_attach,
	TP_PROTO(const struct ksalloc *alloc, const struct device *dev,
		 u32 sg_entries),
	TP_ARGS(alloc, dev, sg_entries),
	TP_STRUCT__entry(
		__field(u64, id)
		__array(char, dev, 32)
		__field(u32, sg_entries)
	),
	TP_fast_assign(
		__entry->id = alloc->id;
		strscpy(__entry->dev, dev ? dev_name(dev) : "", sizeof(__entry->dev));
		__entry->sg_entries = sg_entries;
	),
	TP_printk("id=%llu dev=%s sg_entries=%u", __entry->id, __entry->dev,
		  __entry->sg_entries)
);

TRACE_EVENT(ksalloc_dmabuf_detach,
	TP_PROTO(const struct ksalloc *alloc, const struct device *dev),
	TP_ARGS(alloc, dev),
	TP_STRUCT__entry(
		__field(u64, id)
		__array(char, dev, 32)
	),
	TP_fast_assign(
		__entry->id = alloc->id;
		strscpy(__entry->dev, dev ? dev_name(dev) : "", sizeof(__entry->dev));
	),
	TP_printk("id=%llu dev=%s", __entry->id, __entry->dev)
);

/*
 * An importer's mapping: dir the direction (DMA_NONE, 3, for an unmap),
 * dma_entries the bus segments it got, result 0 or -errno.
 */
TRACE_EVENT(ksalloc_dmabuf_map,
	TP_PROTO(const struct ksalloc *alloc, const struct device *dev, int dir,
		 u32 dma_entries, int result),
	TP_ARGS(alloc, dev, dir, dma_entries, result),
	TP_STRUCT__entry(
		__field(u64, id)
		__array(char, dev, 32)
		__field(int, dir)
		__field(u32, dma_entries)
		__field(int, result)
	),
	TP_fast_assign(
		__entry->id = alloc->id;
		strscpy(__entry->dev, dev ? dev_name(dev) : "", sizeof(__entry->dev));
		__entry->dir = dir;
		__entry->dma_entries = dma_entries;
		__entry->result = result;
	),
	TP_printk("id=%llu dev=%s dir=%d dma_entries=%u result=%d",
		  __entry->id, __entry->dev, __entry->dir, __entry->dma_entries,
		  __entry->result)
);

/* DMA_BUF_IOCTL_SYNC of an exported dma-buf. */
TRACE_EVENT(ksalloc_dmabuf_sync,
	TP_PROTO(const struct ksalloc *alloc, u32 index, bool for_device),
	TP_ARGS(alloc, index, for_device),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(u32, index)
		__field(bool, for_device)
	),
	TP_fast_assign(
		__entry->id = alloc->id;
		__entry->index = index;
		__entry->for_device = for_device;
	),
	TP_printk("id=%llu index=%u for_device=%d", __entry->id,
		  __entry->index, __entry->for_device)
);

#endif /* _KSALLOC_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE ksalloc_trace
#include <trace/define_trace.h>
