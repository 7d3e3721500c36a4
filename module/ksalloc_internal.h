/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksalloc - what the core offers the rest of ksalloc.ko (and KUnit)
 *
 * The character device speaks in frame indices, not pointers, tells user
 * space's frames from the kernel's, and waits interruptibly; these helpers
 * give it that without exposing the core's data structure.  Nothing here
 * is exported to other modules except, under CONFIG_KUNIT, into the
 * EXPORTED_FOR_KUNIT_TESTING namespace.
 */
#ifndef _KSALLOC_INTERNAL_H
#define _KSALLOC_INTERNAL_H

#include <linux/ksalloc.h>
#include <linux/types.h>
#include <linux/wait.h>

struct ksalloc_dmabuf;
struct mem_cgroup;
struct page;

/* The module parameters (main.c). */
extern umode_t ksalloc_dev_mode;
extern unsigned int ksalloc_max_frames;
extern unsigned int ksalloc_max_frame_size;
extern unsigned long ksalloc_max_pool_bytes;
extern unsigned long ksalloc_max_total_bytes;

int ksalloc_alloc_index(struct ksalloc *alloc, u32 *index);
int ksalloc_free_index(struct ksalloc *alloc, u32 index);
int ksalloc_alloc_many(struct ksalloc *alloc, u32 *indices, u32 count);
void ksalloc_hand_to_user(struct ksalloc *alloc, const u32 *indices, u32 n);
int ksalloc_free_user(struct ksalloc *alloc, u32 index);
u32 ksalloc_free_user_many(struct ksalloc *alloc, const u32 *indices, u32 n);
int ksalloc_wait_index(struct ksalloc *alloc, long timeout, unsigned int state,
		       bool user, u32 *index);
u64 ksalloc_frame_offset(struct ksalloc *alloc, u32 index);
bool ksalloc_dispatch_active(struct ksalloc *alloc);
wait_queue_head_t *ksalloc_poll_queue(struct ksalloc *alloc);
bool ksalloc_poll_ready(struct ksalloc *alloc);
struct page **ksalloc_pool_pages(struct ksalloc *alloc, unsigned int *nr);
u64 ksalloc_id(struct ksalloc *alloc);
bool ksalloc_is_closed(struct ksalloc *alloc);
bool ksalloc_backing_custom(const struct ksalloc *alloc);
u64 ksalloc_charged_bytes(void);
long ksalloc_ioctl_export_dmabuf(struct ksalloc *alloc,
				 struct mem_cgroup *memcg,
				 struct ksalloc_dmabuf __user *argp);

int ksalloc_core_init(void);
void ksalloc_core_exit(void);
int ksalloc_dev_init(void);
void ksalloc_dev_exit(void);

#if IS_ENABLED(CONFIG_KUNIT)
void ksalloc_flush_releases(bool rcu);
unsigned long ksalloc_hotplug_pass(unsigned int cpu);
int ksalloc_check_invariants(struct ksalloc *alloc);
u32 ksalloc_cached_frames(struct ksalloc *alloc, int cpu);
struct file *ksalloc_kunit_file(const struct ksalloc_framing *framing);
#endif

#endif /* _KSALLOC_INTERNAL_H */
