// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers of the ksalloc KUnit suites (kunit/unit.c, kunit/stress.c,
 * kunit/dma.c), and
 * the module's description: both suites are one module, ksalloc_kunit.
 *
 * The cases go through the exported API (include/linux/ksalloc.h); the few
 * internals they need (index-based calls, the invariant check, the global
 * byte count) are exported only into EXPORTED_FOR_KUNIT_TESTING.
 */

#include <kunit/test.h>
#include <linux/cpumask.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kstrtox.h>
#include <linux/kthread.h>
#include <linux/ksalloc.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "../module/ksalloc_internal.h"
#include "helpers.h"

KUNIT_DEFINE_ACTION_WRAPPER(ksalloc_close_action, ksalloc_close, struct ksalloc *);

/*
 * The bytes charged to the budget once every release asked for so far is
 * done: releases run from a work item (and a recheck after an RCU grace
 * period may hold the last reference), never in the caller's context.
 */
u64 ksalloc_test_charged(void)
{
	ksalloc_flush_releases(true);
	return ksalloc_charged_bytes();
}

/* The same, quicker when no recheck holds the last reference. */
u64 ksalloc_test_settle(u64 want)
{
	ksalloc_flush_releases(false);
	if (ksalloc_charged_bytes() == want)
		return want;
	return ksalloc_test_charged();
}

/* Creates an allocator that is closed when the test ends, unless closed. */
struct ksalloc *ksalloc_test_create(struct kunit *test, u32 frames,
				    u32 frame_size, u32 alignment,
				    u32 pool_type)
{
	struct ksalloc_framing f = {
		.frames = frames,
		.frame_size = frame_size,
		.alignment = alignment,
		.pool_type = pool_type,
	};
	struct ksalloc *alloc = ksalloc_create(&f);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, alloc);
	KUNIT_ASSERT_EQ(test, 0,
			kunit_add_action_or_reset(test, ksalloc_close_action, alloc));
	return alloc;
}

/* The same through ksalloc_create_ex(), for the suite "ksalloc_dma". */
struct ksalloc *ksalloc_test_create_ex(struct kunit *test,
				       const struct ksalloc_params *params)
{
	struct ksalloc *alloc = ksalloc_create_ex(params);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, alloc);
	KUNIT_ASSERT_EQ(test, 0,
			kunit_add_action_or_reset(test, ksalloc_close_action, alloc));
	return alloc;
}

/* Closes an allocator made by ksalloc_test_create() (or _ex()) now. */
void ksalloc_test_close(struct kunit *test, struct ksalloc *alloc)
{
	kunit_release_action(test, ksalloc_close_action, alloc);
}

u32 ksalloc_test_allocated(struct kunit *test, struct ksalloc *alloc)
{
	struct ksalloc_status st;

	KUNIT_EXPECT_EQ(test, 0, ksalloc_get_status(alloc, &st));
	return st.allocated_frames;
}

struct ksalloc_stats ksalloc_test_stats(struct kunit *test,
					struct ksalloc *alloc)
{
	struct ksalloc_stats s;

	KUNIT_EXPECT_EQ(test, 0, ksalloc_get_stats(alloc, &s));
	return s;
}

/*
 * The end of every test kthread: it waits for kthread_stop(), so that the
 * test may stop it at any time without racing its exit.
 */
int ksalloc_test_thread_exit(void)
{
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

/* The last of @running kthreads to finish completes @all_done. */
int ksalloc_test_thread_finish(atomic_t *running, struct completion *all_done)
{
	if (atomic_dec_and_test(running))
		complete(all_done);
	return ksalloc_test_thread_exit();
}

/* ---- work on a given CPU ------------------------------------------------- */

struct ksalloc_on_cpu {
	struct ksalloc *alloc;
	void **frames;
	int n;
	int op;
	int ret;
	struct completion done;
};

static int ksalloc_on_cpu_fn(void *data)
{
	struct ksalloc_on_cpu *o = data;
	int i;

	for (i = 0, o->ret = 0; i < o->n && !o->ret; i++) {
		if (o->op == KSALLOC_OP_FREE)
			ksalloc_free_frame(o->alloc, o->frames[i]);
		else if (o->op == KSALLOC_OP_ALLOC)
			o->ret = ksalloc_allocate_frame(o->alloc, &o->frames[i]);
		else
			o->ret = ksalloc_alloc_frame_wait(o->alloc, 10 * HZ,
							  &o->frames[i]);
	}
	complete(&o->done);
	return ksalloc_test_thread_exit();
}

/*
 * Runs @op on @n frames through the table (or the waiting call) in a
 * kthread bound to @cpu, so that the frames go to or come from that CPU's
 * cache.  Returns the first error, or 0.
 */
int ksalloc_test_on_cpu(struct kunit *test, int cpu, int op,
			struct ksalloc *alloc, void **frames, int n)
{
	struct ksalloc_on_cpu o = { .alloc = alloc, .frames = frames, .n = n, .op = op };
	struct task_struct *t;

	init_completion(&o.done);
	t = kthread_create_on_cpu(ksalloc_on_cpu_fn, &o, cpu, "ksalloc-c%u");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	wake_up_process(t);
	/* bounded, so a failure cannot hang; o lives until kthread_stop() */
	KUNIT_EXPECT_GT(test, wait_for_completion_timeout(&o.done, 30 * HZ), 0);
	kthread_stop(t);
	return o.ret;
}

/* Two online CPUs if there are, else the one twice. */
void ksalloc_test_two_cpus(int *a, int *b)
{
	*a = cpumask_first(cpu_online_mask);
	*b = cpumask_next(*a, cpu_online_mask);
	if (*b >= nr_cpu_ids)
		*b = *a;
}

/* ---- the files of debugfs and procfs, as user space uses them ------------ */

KUNIT_DEFINE_ACTION_WRAPPER(ksalloc_test_unmount, kern_unmount, struct vfsmount *);
KUNIT_DEFINE_ACTION_WRAPPER(ksalloc_test_fput, __fput_sync, struct file *);

/*
 * Mounts the filesystem @fstype ("debugfs", "proc") for the kernel alone:
 * the case's own /sys/kernel/debug or /proc, since the suites run before
 * init mounts anything.  Unmounted when the case ends.  NULL when the
 * kernel has no such filesystem or it cannot be mounted.
 */
struct vfsmount *ksalloc_test_mount(struct kunit *test, const char *fstype)
{
	struct file_system_type *type = get_fs_type(fstype);
	struct vfsmount *mnt;

	if (!type)
		return NULL;
	mnt = kern_mount(type);
	/* What put_filesystem() does; it is not exported. */
	module_put(type->owner);
	if (IS_ERR(mnt))
		return NULL;
	if (kunit_add_action_or_reset(test, ksalloc_test_unmount, mnt))
		return NULL;
	return mnt;
}

/*
 * Opens @path (relative to the root of @mnt) for reading and writing, as
 * open(2) would; closed when the case ends.  NULL when it does not exist.
 */
struct file *ksalloc_test_open(struct kunit *test, struct vfsmount *mnt,
			       const char *path)
{
	struct file *file = file_open_root_mnt(mnt, path, O_RDWR, 0);

	if (IS_ERR(file))
		return NULL;
	if (kunit_add_action_or_reset(test, ksalloc_test_fput, file))
		return NULL;
	return file;
}

/*
 * A page of user memory in the calling kthread's own mm (KUnit attaches
 * one to it), already faulted in, so that using it later allocates nothing:
 * fail_nth counts every allocation.  It serves the calling kthread only.
 * NULL when there is none.
 */
void __user *ksalloc_test_user_page(struct kunit *test)
{
	unsigned long addr;
	char zero = 0;

	addr = kunit_vm_mmap(test, NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
			     MAP_ANONYMOUS | MAP_PRIVATE, 0);
	if (!addr || IS_ERR_VALUE(addr))
		return NULL;
	if (copy_to_user((void __user *)addr, &zero, 1))
		return NULL;
	return (void __user *)addr;
}

/*
 * Writes @text into @file from its start, as write(2) does: the bytes go
 * through @ubuf, a page of ksalloc_test_user_page() of the calling kthread,
 * to the file's ->write().  kernel_write() would do without the user page,
 * but it takes only files with ->write_iter, and the attributes of debugfs
 * and the fail-nth file of procfs have ->write alone, which copies from
 * user memory; vfs_write() is not exported.  Returns 0 or -errno.
 */
int ksalloc_test_write(struct file *file, void __user *ubuf, const char *text)
{
	size_t len = strlen(text);
	loff_t pos = 0;
	ssize_t ret;

	if (!file->f_op->write)
		return -EINVAL;
	if (len > PAGE_SIZE || copy_to_user(ubuf, text, len))
		return -EFAULT;
	ret = file->f_op->write(file, ubuf, len, &pos);
	if (ret < 0)
		return ret;
	return ret == len ? 0 : -EIO;
}

/*
 * Reads @file from its start into @buf (@size bytes with the NUL), as
 * read(2) does, through @ubuf like ksalloc_test_write(), and ends the text
 * at its first newline.  Returns 0 or -errno.
 */
int ksalloc_test_read(struct file *file, void __user *ubuf, char *buf,
		      size_t size)
{
	loff_t pos = 0;
	ssize_t ret;

	if (!file->f_op->read || !size || size > PAGE_SIZE)
		return -EINVAL;
	ret = file->f_op->read(file, ubuf, size - 1, &pos);
	if (ret < 0)
		return ret;
	if (copy_from_user(buf, ubuf, ret))
		return -EFAULT;
	buf[ret] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/*
 * Reads all of @file (at most @size bytes with the NUL) into @buf, as
 * ksalloc_test_read() does, but keeps every line.  Returns 0 or -errno.
 */
int ksalloc_test_read_text(struct file *file, void __user *ubuf, char *buf,
			   size_t size)
{
	loff_t pos = 0;
	size_t done = 0;
	ssize_t ret;

	if (!file->f_op->read || !size || size > PAGE_SIZE)
		return -EINVAL;
	while (done < size - 1) {
		ret = file->f_op->read(file, ubuf, size - 1 - done, &pos);
		if (ret < 0)
			return ret;
		if (!ret)
			break;
		if (copy_from_user(buf + done, ubuf, ret))
			return -EFAULT;
		done += ret;
	}
	buf[done] = '\0';
	return 0;
}

/* Finds "@key value" in the lines of @text; the value, or NULL. */
static const char *ksalloc_test_field(char *text, const char *key)
{
	size_t n = strlen(key);
	char *line;

	while ((line = strsep(&text, "\n")))
		if (!strncmp(line, key, n) && line[n] == ' ')
			return line + n + 1;
	return NULL;
}

/*
 * The number on the line "@key value" of the allocator's debugfs file
 * ksalloc/ID/@name, into @val, read as user space reads it; @fs is the
 * case's, zeroed before the first call.  False, said once, when the kernel
 * has no debugfs; a missing file, line or number fails the case.
 */
bool ksalloc_test_info(struct kunit *test, struct ksalloc_test_fs *fs,
		       struct ksalloc *alloc, const char *name,
		       const char *key, u64 *val)
{
	struct file *file;
	const char *v;
	char path[64];

	if (!fs->tried) {
		fs->tried = true;
		fs->mnt = ksalloc_test_mount(test, "debugfs");
		fs->ubuf = fs->mnt ? ksalloc_test_user_page(test) : NULL;
		if (!fs->ubuf)
			kunit_info(test, "no debugfs: ksalloc/ID/%s not checked\n",
				   name);
	}
	if (!fs->ubuf)
		return false;
	snprintf(path, sizeof(path), "ksalloc/%llu/%s", ksalloc_id(alloc), name);
	file = ksalloc_test_open(test, fs->mnt, path);
	if (!file) {
		KUNIT_FAIL(test, "no %s in debugfs", path);
		return false;
	}
	if (ksalloc_test_read_text(file, fs->ubuf, fs->text, sizeof(fs->text))) {
		KUNIT_FAIL(test, "cannot read %s", path);
		return false;
	}
	v = ksalloc_test_field(fs->text, key);
	if (!v || kstrtoull(v, 0, val)) {
		KUNIT_FAIL(test, "no number for \"%s\" in %s", key, path);
		return false;
	}
	return true;
}

MODULE_IMPORT_NS("KSALLOC");
MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
MODULE_DESCRIPTION("KUnit tests for ksalloc");
MODULE_LICENSE("GPL");
