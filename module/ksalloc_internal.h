/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksalloc - what the core offers the rest of ksalloc.ko (and KUnit)
 *
 * The character device speaks in frame indices, not pointers, and waits
 * interruptibly; these helpers give it that without exposing the core's
 * data structure.  Nothing here is exported to other modules except, under
 * CONFIG_KUNIT, into the EXPORTED_FOR_KUNIT_TESTING namespace.
 */
#ifndef _KSALLOC_INTERNAL_H
#define _KSALLOC_INTERNAL_H

#include <linux/ksalloc.h>
#include <linux/poll.h>

struct vm_area_struct;

int ksalloc_alloc_index(struct ksalloc *alloc, u32 *index);
int ksalloc_alloc_user(struct ksalloc *alloc, u32 *indices, u32 count);
int ksalloc_free_index(struct ksalloc *alloc, u32 index);
u32 ksalloc_free_many(struct ksalloc *alloc, const u32 *indices, u32 n);
int ksalloc_wait_index(struct ksalloc *alloc, long timeout, unsigned int state,
		       bool user, u32 *index);
u64 ksalloc_frame_offset(struct ksalloc *alloc, u32 index);
bool ksalloc_dispatch_active(struct ksalloc *alloc);
__poll_t ksalloc_poll(struct ksalloc *alloc, struct file *file,
		      poll_table *wait);
int ksalloc_mmap(struct ksalloc *alloc, struct vm_area_struct *vma);
int ksalloc_core_init(void);
void ksalloc_core_exit(void);

#if IS_ENABLED(CONFIG_KUNIT)
u64 ksalloc_charged_bytes(void);
int ksalloc_check_invariants(struct ksalloc *alloc);
u32 ksalloc_cached_frames(struct ksalloc *alloc, int cpu);
struct file *ksalloc_kunit_file(const struct ksalloc_framing *framing);
#endif

#endif /* _KSALLOC_INTERNAL_H */
