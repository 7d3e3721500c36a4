/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * libksalloc - the user-space side of /dev/ksalloc
 *
 * A thin layer over the ioctls of <linux/ksalloc.h>: an allocator is opened
 * and framed, its pool mapped, and frames are then allocated and freed by
 * index.  The library keeps no global state: every call works on the
 * struct ksalloc_allocator it is given, and calls on one allocator from
 * several threads are as safe as the ioctls they make (alloc, free, batch,
 * status, stats, id and the poll helpers may run concurrently;
 * ksalloc_set_framing(), ksalloc_map(), ksalloc_unmap() and
 * ksalloc_destroy() may not run alongside anything else on the same
 * allocator).
 *
 * Every function that can fail returns 0 (or a count) on success and a
 * negative errno on failure; ksalloc_strerror() says what it means.
 *
 *	struct ksalloc_allocator *a;
 *	uint32_t i;
 *	int err = ksalloc_open_frames(&a, 8, 4096, 63);
 *
 *	if (!err && !(err = ksalloc_alloc_timed(a, &i, 1000000000)))
 *		err = ksalloc_free(a, i);
 *	ksalloc_destroy(a);
 *
 * Build with the flags of "pkg-config --cflags --libs libksalloc".
 */
#ifndef LIBKSALLOC_H
#define LIBKSALLOC_H

#include <stddef.h>
#include <stdint.h>
#include <linux/ksalloc.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBKSALLOC_VERSION_MAJOR 0
#define LIBKSALLOC_VERSION_MINOR 1
#define LIBKSALLOC_VERSION_PATCH 0

/* The device ksalloc_open() opens when given no path. */
#define KSALLOC_DEVICE_PATH "/dev/ksalloc"

/* An open descriptor of /dev/ksalloc, framed or not yet.  Opaque. */
struct ksalloc_allocator;

int ksalloc_open(struct ksalloc_allocator **ap, const char *path, int oflags);
int ksalloc_set_framing(struct ksalloc_allocator *a,
			const struct ksalloc_framing *framing);
int ksalloc_open_framed(struct ksalloc_allocator **ap,
			const struct ksalloc_framing *framing);
int ksalloc_open_frames(struct ksalloc_allocator **ap, uint32_t frames,
			uint32_t frame_size, uint32_t alignment);
void ksalloc_destroy(struct ksalloc_allocator *a);

int ksalloc_fd(const struct ksalloc_allocator *a);
const struct ksalloc_framing *ksalloc_get_framing(const struct ksalloc_allocator *a);
uint32_t ksalloc_stride(const struct ksalloc_allocator *a);

int ksalloc_map(struct ksalloc_allocator *a);
void ksalloc_unmap(struct ksalloc_allocator *a);
void *ksalloc_pool(const struct ksalloc_allocator *a);
size_t ksalloc_pool_size(const struct ksalloc_allocator *a);
void *ksalloc_frame_addr(const struct ksalloc_allocator *a, uint32_t index);

int ksalloc_alloc(struct ksalloc_allocator *a, uint32_t *index);
int ksalloc_alloc_nowait(struct ksalloc_allocator *a, uint32_t *index);
int ksalloc_alloc_timed(struct ksalloc_allocator *a, uint32_t *index,
			int64_t timeout_ns);
int ksalloc_free(struct ksalloc_allocator *a, uint32_t index);
int ksalloc_alloc_batch(struct ksalloc_allocator *a, uint32_t *indices,
			uint32_t count);
int ksalloc_free_batch(struct ksalloc_allocator *a, const uint32_t *indices,
		       uint32_t count, uint32_t *done);

int ksalloc_query_status(struct ksalloc_allocator *a, struct ksalloc_status *st);
int ksalloc_query_stats(struct ksalloc_allocator *a, struct ksalloc_stats *st);
int ksalloc_query_id(struct ksalloc_allocator *a, uint64_t *id);
int ksalloc_query_functiontable(struct ksalloc_allocator *a,
				struct ksalloc_functiontable_info *ft);

int ksalloc_wait_free(struct ksalloc_allocator *a, int64_t timeout_ns);

/* The index of ksalloc_export_dmabuf() that exports the whole pool. */
#define KSALLOC_EXPORT_POOL KSALLOC_DMABUF_POOL
int ksalloc_export_dmabuf(struct ksalloc_allocator *a, uint32_t index,
			  int fd_flags);

const char *ksalloc_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* LIBKSALLOC_H */
