/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the KUnit suites of ksalloc share (kunit/helpers.c): allocators
 * that close themselves when a case ends, the budget once the releases are
 * done, kthreads that end on kthread_stop(), work on a given CPU, and the
 * files of debugfs and procfs opened and written as user space does.
 */
#ifndef _KSALLOC_KUNIT_HELPERS_H
#define _KSALLOC_KUNIT_HELPERS_H

#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/ksalloc.h>
#include <linux/types.h>
#include <asm/page.h>

struct file;
struct vfsmount;

u64 ksalloc_test_charged(void);
u64 ksalloc_test_settle(u64 want);
struct ksalloc *ksalloc_test_create(struct kunit *test, u32 frames,
				    u32 frame_size, u32 alignment,
				    u32 pool_type);
struct ksalloc *ksalloc_test_create_ex(struct kunit *test,
				       const struct ksalloc_params *params);
void ksalloc_test_close(struct kunit *test, struct ksalloc *alloc);
u32 ksalloc_test_allocated(struct kunit *test, struct ksalloc *alloc);
struct ksalloc_stats ksalloc_test_stats(struct kunit *test,
					struct ksalloc *alloc);

int ksalloc_test_thread_exit(void);
int ksalloc_test_thread_finish(atomic_t *running, struct completion *all_done);

/* What ksalloc_test_on_cpu() does with each frame. */
enum { KSALLOC_OP_ALLOC, KSALLOC_OP_FREE, KSALLOC_OP_WAIT };

int ksalloc_test_on_cpu(struct kunit *test, int cpu, int op,
			struct ksalloc *alloc, void **frames, int n);
void ksalloc_test_two_cpus(int *a, int *b);

struct vfsmount *ksalloc_test_mount(struct kunit *test, const char *fstype);
struct file *ksalloc_test_open(struct kunit *test, struct vfsmount *mnt,
			       const char *path);
void __user *ksalloc_test_user_page(struct kunit *test);
int ksalloc_test_write(struct file *file, void __user *ubuf, const char *text);
int ksalloc_test_read(struct file *file, void __user *ubuf, char *buf,
		      size_t size);
int ksalloc_test_read_text(struct file *file, void __user *ubuf, char *buf,
			   size_t size);

/* What ksalloc_test_info() keeps for a case: a debugfs mount, a buffer. */
struct ksalloc_test_fs {
	bool tried;
	struct vfsmount *mnt;
	void __user *ubuf;
	char text[PAGE_SIZE];
};

bool ksalloc_test_info(struct kunit *test, struct ksalloc_test_fs *fs,
		       struct ksalloc *alloc, const char *name,
		       const char *key, u64 *val);

#endif /* _KSALLOC_KUNIT_HELPERS_H */
