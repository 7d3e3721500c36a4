// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc - Kernel Streaming style stream allocator: /dev/ksalloc
 *
 * Every open() of the misc device is one allocator handle.  In five lines:
 *
 *	struct ksalloc_framing f = { .frames = 8, .frame_size = 4096 };
 *	struct ksalloc_frame fr = { .timeout_ns = -1 };
 *	int fd = open("/dev/ksalloc", O_RDWR);
 *	ioctl(fd, KSALLOC_IOC_SET_FRAMING, &f);
 *	void *pool = mmap(NULL, 8 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
 *	ioctl(fd, KSALLOC_IOC_ALLOC, &fr);	... use pool + fr.offset ...
 *	ioctl(fd, KSALLOC_IOC_FREE, &(struct ksalloc_frame){ .index = fr.index });
 *
 * A handle starts unconfigured: until KSALLOC_IOC_SET_FRAMING succeeds,
 * every other ioctl and mmap() fail with -EBADFD.  The framing creates the
 * allocator (ksalloc_create()), which the handle then owns; the release of
 * the last descriptor is the KS "handle closed" (ksalloc_close()).  Kernel
 * consumers take an allocator from a descriptor with ksalloc_fdget() or
 * ksalloc_get_file() and hold their own reference.
 *
 * Frames that user space allocated through the handle are marked as user
 * space's in the core; when the last descriptor goes (a process that exits
 * or crashes holding frames) ksalloc_close() takes them back, so that
 * neither the pool nor its share of max_total_bytes leaks.  Frames held by
 * kernel consumers are theirs to free, after the close too.
 *
 * KSALLOC_IOC_GET_ID and the "ksalloc_id:" line of /proc/PID/fdinfo/FD
 * name the allocator as its debugfs directory (/sys/kernel/debug/ksalloc/ID)
 * and the ksalloc tracepoints do.
 *
 * Each ioctl copies its struct in once, checks every reserved field and flag
 * before anything changes, and fills in its output, reserved fields zeroed.
 * The layouts are the same for 32-bit and 64-bit processes, so compat_ioctl
 * is the same handler.
 */

#include <linux/anon_inodes.h>
#include <linux/capability.h>
#include <linux/compiler.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/memcontrol.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>
#include <kunit/visibility.h>

#include "ksalloc_internal.h"

/*
 * FREE_BATCH reads the caller's indices in chunks of this many, so that a
 * batch of any length needs no allocation.
 */
#define KSALLOC_BATCH_CHUNK 64

/**
 * struct ksalloc_handle - what an open descriptor of /dev/ksalloc holds
 * @lock: serialises KSALLOC_IOC_SET_FRAMING, so that only one framing can
 *        succeed; it is the only writer of @alloc
 * @alloc: the allocator, NULL until framed.  Written once, under @lock, with
 *         smp_store_release(); read without the lock with smp_load_acquire()
 *         (ksalloc_handle_alloc()), which is all the hot ioctls need: the
 *         allocator then lives until the release of the file.
 * @memcg: the opener's memory cgroup, which the framing is charged to
 *         (SPEC 7.8), whoever calls SET_FRAMING; a reference, or NULL
 * @kptr_ok: the opener could see raw kernel pointers (ksalloc_kptr_visible()
 *           at open time, like /proc/kallsyms judges by the opener)
 * @borrowed: @alloc was created in the kernel and handed over with
 *            ksalloc_install_fd(): the handle holds a reference, which the
 *            release drops, instead of owning the allocator
 */
struct ksalloc_handle {
	struct mutex lock;		/* serialises SET_FRAMING (@alloc's writer) */
	struct ksalloc *alloc;
	struct mem_cgroup *memcg;
	bool kptr_ok;
	bool borrowed;
};

static const struct file_operations ksalloc_fops;

/* The allocator of a handle, or NULL while it is unconfigured. */
static struct ksalloc *ksalloc_handle_alloc(struct ksalloc_handle *h)
{
	/* Pairs with smp_store_release() in ksalloc_ioctl_set_framing(). */
	return smp_load_acquire(&h->alloc);
}

/*
 * Whether the current task may see raw kernel addresses, by the rules that
 * /proc/kallsyms follows (kallsyms_show_value()).  Neither that function nor
 * kptr_restrict is exported to modules in 6.1 or 6.12, so the value of
 * kptr_restrict is read back from vsprintf's %pK, which implements it:
 * kptr_restrict 2 prints zeros for everyone, 1 prints the address only to a
 * task with CAP_SYSLOG running with unchanged ids, and 0 prints a hash.
 * On top of that, like kallsyms, the task needs CAP_SYSLOG; the exception
 * that kallsyms makes for kptr_restrict 0 with perf_event_paranoid <= 1 is
 * not made here, which only ever shows less.
 */
static bool ksalloc_kptr_visible(void)
{
	char buf[2 * sizeof(void *) + 1];

	if (!ns_capable_noaudit(&init_user_ns, CAP_SYSLOG))
		return false;
	snprintf(buf, sizeof(buf), "%pK", &ksalloc_fops);
	return buf[strspn(buf, "0")] != '\0';
}

/*
 * Relative timeout of KSALLOC_IOC_ALLOC in jiffies: < 0 waits without
 * limit, 0 never waits.  A positive timeout is rounded up to whole jiffies
 * plus one for the jiffy already begun, so that -ETIMEDOUT never comes
 * before timeout_ns has passed.
 */
static long ksalloc_timeout(s64 timeout_ns)
{
	unsigned long j;

	if (timeout_ns < 0)
		return MAX_SCHEDULE_TIMEOUT;
	if (!timeout_ns)
		return 0;
	j = nsecs_to_jiffies(timeout_ns);
	if (jiffies_to_nsecs(j) < (u64)timeout_ns)
		j++;
	return min_t(unsigned long, j + 1, MAX_SCHEDULE_TIMEOUT - 1);
}

static long ksalloc_ioctl_set_framing(struct ksalloc_handle *h,
				      void __user *argp)
{
	struct ksalloc_framing framing;
	struct mem_cgroup *old;
	struct ksalloc *alloc;
	long ret = 0;

	if (copy_from_user(&framing, argp, sizeof(framing)))
		return -EFAULT;

	mutex_lock(&h->lock);
	if (h->alloc) {
		ret = -EBUSY;
		goto out_unlock;
	}
	/*
	 * Validates the framing; a refused one leaves the handle as it was.
	 * Everything it allocates is charged to the opener's memory cgroup.
	 */
	old = set_active_memcg(h->memcg);
	alloc = ksalloc_create(&framing);
	set_active_memcg(old);
	if (IS_ERR(alloc)) {
		ret = PTR_ERR(alloc);
		goto out_unlock;
	}
	/* Pairs with smp_load_acquire() in ksalloc_handle_alloc(). */
	smp_store_release(&h->alloc, alloc);
out_unlock:
	mutex_unlock(&h->lock);
	return ret;
}

static long ksalloc_ioctl_get_status(struct ksalloc *alloc, void __user *argp)
{
	struct ksalloc_status status;
	int ret = ksalloc_get_status(alloc, &status);

	if (ret)
		return ret;
	if (copy_to_user(argp, &status, sizeof(status)))
		return -EFAULT;
	return 0;
}

static long ksalloc_ioctl_get_functiontable(struct ksalloc_handle *h,
					    struct ksalloc *alloc,
					    void __user *argp)
{
	struct ksalloc_functiontable_info info = {};
	struct ksalloc_function_table table;
	int ret;

	/* A call that cannot report must not switch anything on. */
	if (clear_user(argp, sizeof(info)))
		return -EFAULT;
	/* Switches the DISPATCH interface on, as the KS property does. */
	ret = ksalloc_get_function_table(alloc, &table);
	if (ret)
		return ret;

	if (ksalloc_dispatch_active(alloc))
		info.flags = KSALLOC_FT_DISPATCH;
	if (h->kptr_ok && ksalloc_kptr_visible()) {
		info.allocate_frame = (uintptr_t)table.allocate_frame;
		info.free_frame = (uintptr_t)table.free_frame;
	}
	if (copy_to_user(argp, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

/* Writes the output fields of ALLOC: one user access window, no copy. */
static int ksalloc_put_frame(struct ksalloc_frame __user *uframe, u32 index,
			     u64 offset)
{
	if (!user_write_access_begin(uframe, sizeof(*uframe)))
		return -EFAULT;
	unsafe_put_user(index, &uframe->index, efault);
	unsafe_put_user(offset, &uframe->offset, efault);
	user_write_access_end();
	return 0;
efault:
	user_write_access_end();
	return -EFAULT;
}

static long ksalloc_ioctl_alloc(struct file *file, struct ksalloc *alloc,
				struct ksalloc_frame __user *argp)
{
	struct ksalloc_frame frame;
	long timeout;
	u32 index;
	int ret;

	if (copy_from_user(&frame, argp, sizeof(frame)))
		return -EFAULT;
	/* index and offset are output only; their input is ignored. */
	if (frame.flags & ~KSALLOC_ALLOC_NOWAIT)
		return -EINVAL;

	if ((frame.flags & KSALLOC_ALLOC_NOWAIT) || (file->f_flags & O_NONBLOCK))
		timeout = 0;
	else
		timeout = ksalloc_timeout(frame.timeout_ns);
	/*
	 * Make sure the answer can be written before a frame is taken, by
	 * writing back what was read: only a racing munmap() can then make
	 * the write below fail.
	 */
	if (ksalloc_put_frame(argp, frame.index, frame.offset))
		return -EFAULT;

	/*
	 * -EAGAIN, -ETIMEDOUT, -EINTR or -ENODEV as they come: a signal ends
	 * the wait with -EINTR, never a restart (SPEC 7.3).
	 */
	ret = ksalloc_wait_index(alloc, timeout, TASK_INTERRUPTIBLE, true, &index);
	if (ret)
		return ret;

	if (ksalloc_put_frame(argp, index, ksalloc_frame_offset(alloc, index))) {
		/*
		 * Nobody learnt of the frame (the buffer was unmapped under
		 * us): give it back, so none is lost.
		 */
		ksalloc_free_user(alloc, index);
		return -EFAULT;
	}
	return 0;
}

/*
 * FREE: flags must be 0; offset and timeout_ns are ignored, so that the
 * struct an ALLOC without flags filled in can be handed back as it is.
 */
static long ksalloc_ioctl_free(struct ksalloc *alloc, void __user *argp)
{
	struct ksalloc_frame frame;

	if (copy_from_user(&frame, argp, sizeof(frame)))
		return -EFAULT;
	if (frame.flags)
		return -EINVAL;
	return ksalloc_free_user(alloc, frame.index);
}

/*
 * ALLOC_BATCH never waits.  It takes up to count frames, at most as many as
 * are free (so never more than the allocator has), and gives them all back
 * if the caller cannot be told about them.
 */
static long ksalloc_ioctl_alloc_batch(struct ksalloc *alloc, void __user *argp)
{
	struct ksalloc_frame_batch batch;
	struct ksalloc_status status;
	u32 __user *uindices;
	u32 *indices;
	u32 n, done, chunk;
	int ret;

	if (copy_from_user(&batch, argp, sizeof(batch)))
		return -EFAULT;
	if (batch.flags || !batch.count)
		return -EINVAL;
	uindices = u64_to_user_ptr(batch.indices);

	ksalloc_get_status(alloc, &status);
	n = status.framing.frames - status.allocated_frames;
	/* Try one even when none looks free: it fails as ALLOC with NOWAIT. */
	n = clamp_t(u32, n, 1, batch.count);

	/* As for ALLOC: check that the answer can be written first. */
	if (clear_user(uindices, n * sizeof(*uindices)) ||
	    copy_to_user(argp, &batch, sizeof(batch)))
		return -EFAULT;
	indices = kvmalloc_array(n, sizeof(*indices), GFP_KERNEL_ACCOUNT);
	if (!indices)
		return -ENOMEM;
	/*
	 * A chunk per lock hold, so that the lock is never held for long;
	 * only the first chunk's -ENOMEM is the exact "none free".
	 */
	for (done = 0; done < n; done += chunk) {
		chunk = min_t(u32, n - done, KSALLOC_BATCH_CHUNK);
		ret = ksalloc_alloc_many(alloc, indices + done, chunk);
		if (ret < (int)chunk) {
			done += max(ret, 0);
			break;
		}
	}
	if (!done) {
		kvfree(indices);
		return ret == -ENOMEM ? -EAGAIN : ret;
	}

	ret = 0;
	batch.count = done;
	/*
	 * The frames are still the kernel's (see ksalloc_alloc_many()): user
	 * space gets them once both answers are out, so that a failed copy
	 * can give back only frames that nobody else can have freed.
	 */
	if (copy_to_user(uindices, indices, done * sizeof(*indices)) ||
	    copy_to_user(argp, &batch, sizeof(batch))) {
		while (done--)
			ksalloc_free_index(alloc, indices[done]);
		ret = -EFAULT;
	} else {
		ksalloc_hand_to_user(alloc, indices, done);
	}
	kvfree(indices);
	return ret;
}

/*
 * FREE_BATCH frees in order and stops at the first index that is not an
 * outstanding frame (-EINVAL) or that cannot be read (-EFAULT).  count is
 * written back in every case: the number of frames freed.
 */
static long ksalloc_ioctl_free_batch(struct ksalloc *alloc, void __user *argp)
{
	u32 chunk[KSALLOC_BATCH_CHUNK];
	struct ksalloc_frame_batch batch;
	u32 __user *uindices;
	u32 done = 0, n, i;
	int ret = 0;

	if (copy_from_user(&batch, argp, sizeof(batch)))
		return -EFAULT;
	if (batch.flags || !batch.count)
		return -EINVAL;
	uindices = u64_to_user_ptr(batch.indices);

	while (!ret && done < batch.count) {
		n = min_t(u32, batch.count - done, KSALLOC_BATCH_CHUNK);
		if (copy_from_user(chunk, uindices + done, n * sizeof(*chunk))) {
			ret = -EFAULT;
			break;
		}
		i = ksalloc_free_user_many(alloc, chunk, n);
		done += i;
		if (i < n)
			ret = -EINVAL;
		cond_resched();
	}

	/* The _IOWR copy-out is ours to do, and on error too. */
	batch.count = done;
	if (copy_to_user(argp, &batch, sizeof(batch)))
		return -EFAULT;
	return ret;
}

/* GET_ID: the allocator's number, as debugfs and the tracepoints show it. */
static long ksalloc_ioctl_get_id(struct ksalloc *alloc, u64 __user *argp)
{
	return put_user(ksalloc_id(alloc), argp);
}

static long ksalloc_ioctl_get_stats(struct ksalloc *alloc, void __user *argp)
{
	struct ksalloc_stats stats;
	int ret = ksalloc_get_stats(alloc, &stats);

	if (ret)
		return ret;
	if (copy_to_user(argp, &stats, sizeof(stats)))
		return -EFAULT;
	return 0;
}

/*
 * The command number encodes the size of its struct, so a caller with a
 * struct of another size asks for a command that does not exist: -ENOTTY.
 * Everything but the three reports (status, stats, id) needs a descriptor
 * open for writing (SPEC 7.2): -EBADF on a read-only one.
 */
static long ksalloc_dev_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	struct ksalloc_handle *h = file->private_data;
	struct ksalloc *alloc = ksalloc_handle_alloc(h);
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case KSALLOC_IOC_GET_STATUS:
		return alloc ? ksalloc_ioctl_get_status(alloc, argp) : -EBADFD;
	case KSALLOC_IOC_GET_STATS:
		return alloc ? ksalloc_ioctl_get_stats(alloc, argp) : -EBADFD;
	case KSALLOC_IOC_GET_ID:
		return alloc ? ksalloc_ioctl_get_id(alloc, argp) : -EBADFD;
	case KSALLOC_IOC_SET_FRAMING:
	case KSALLOC_IOC_GET_FUNCTIONTABLE:
	case KSALLOC_IOC_ALLOC:
	case KSALLOC_IOC_FREE:
	case KSALLOC_IOC_ALLOC_BATCH:
	case KSALLOC_IOC_FREE_BATCH:
	case KSALLOC_IOC_EXPORT_DMABUF:
		break;
	default:
		return -ENOTTY;
	}

	if (!(file->f_mode & FMODE_WRITE))
		return -EBADF;
	if (cmd == KSALLOC_IOC_SET_FRAMING)
		return ksalloc_ioctl_set_framing(h, argp);
	if (!alloc)
		return -EBADFD;

	switch (cmd) {
	case KSALLOC_IOC_GET_FUNCTIONTABLE:
		return ksalloc_ioctl_get_functiontable(h, alloc, argp);
	case KSALLOC_IOC_ALLOC:
		return ksalloc_ioctl_alloc(file, alloc, argp);
	case KSALLOC_IOC_FREE:
		return ksalloc_ioctl_free(alloc, argp);
	case KSALLOC_IOC_ALLOC_BATCH:
		return ksalloc_ioctl_alloc_batch(alloc, argp);
	case KSALLOC_IOC_EXPORT_DMABUF:
		return ksalloc_ioctl_export_dmabuf(alloc, h->memcg, argp);
	default:
		return ksalloc_ioctl_free_batch(alloc, argp);
	}
}

/*
 * The pool, shared and never executable: frame i is at the offset that
 * ALLOC returns.  A mapping larger than the pool fails (-ENXIO).
 */
static int ksalloc_dev_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct ksalloc *alloc = ksalloc_handle_alloc(file->private_data);
	struct page **pages;
	unsigned int nr;

	if (!alloc)
		return -EBADFD;
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	vm_flags_mod(vma, VM_DONTEXPAND | VM_DONTDUMP, VM_MAYEXEC);
	pages = ksalloc_pool_pages(alloc, &nr);
	return vm_map_pages(vma, pages, nr);
}

/*
 * EPOLLOUT | EPOLLWRNORM while a frame is free; EPOLLERR until framed.
 * Every transition from no free frame to one wakes the queue, for poll,
 * select, epoll (edge- or level-triggered) and io_uring alike.
 */
static __poll_t ksalloc_dev_poll(struct file *file, poll_table *wait)
{
	struct ksalloc *alloc = ksalloc_handle_alloc(file->private_data);

	if (!alloc)
		return EPOLLERR;
	poll_wait(file, ksalloc_poll_queue(alloc), wait);
	return ksalloc_poll_ready(alloc) ? EPOLLOUT | EPOLLWRNORM : 0;
}

/* /proc/PID/fdinfo/FD: the allocator's id, once framed. */
static void ksalloc_dev_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct ksalloc *alloc = ksalloc_handle_alloc(file->private_data);

	if (alloc)
		seq_printf(m, "ksalloc_id:\t%llu\n", ksalloc_id(alloc));
}

static int ksalloc_dev_open(struct inode *inode, struct file *file)
{
	struct ksalloc_handle *h;
	int ret;

	ret = nonseekable_open(inode, file);
	if (ret)
		return ret;
	h = kzalloc(sizeof(*h), GFP_KERNEL_ACCOUNT);
	if (!h)
		return -ENOMEM;
	mutex_init(&h->lock);
	h->memcg = get_mem_cgroup_from_mm(current->mm);
	h->kptr_ok = ksalloc_kptr_visible();
	file->private_data = h;
	return 0;
}

/*
 * The last descriptor is gone: the KS "allocator handle closed".  No mapping
 * is left either (each holds the file), so user space can neither free nor
 * touch the frames it still held: ksalloc_close() takes them back.  A
 * descriptor of ksalloc_install_fd() only drops its reference: the
 * allocator is its creator's, whose ksalloc_close() takes back what user
 * space still holds.
 */
static int ksalloc_dev_release(struct inode *inode, struct file *file)
{
	struct ksalloc_handle *h = file->private_data;

	if (h->alloc && h->borrowed)
		ksalloc_put(h->alloc);
	else if (h->alloc)
		ksalloc_close(h->alloc);
	mem_cgroup_put(h->memcg);
	mutex_destroy(&h->lock);
	kfree(h);
	return 0;
}

static const struct file_operations ksalloc_fops = {
	.owner		= THIS_MODULE,
	.open		= ksalloc_dev_open,
	.release	= ksalloc_dev_release,
	.unlocked_ioctl	= ksalloc_dev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= ksalloc_dev_mmap,
	.poll		= ksalloc_dev_poll,
	.show_fdinfo	= ksalloc_dev_show_fdinfo,
};

static struct miscdevice ksalloc_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "ksalloc",
	.fops	= &ksalloc_fops,
};

/**
 * ksalloc_get_file() - take the allocator of a /dev/ksalloc file
 * @file: an open file of /dev/ksalloc, that the caller holds a reference on
 *
 * For a driver that is handed an allocator by user space.  The file
 * reference the caller holds keeps the file from being released, so the
 * allocator cannot be closed under us while we take our reference.  The
 * allocator may be closed any time after: allocation then fails with
 * -ENODEV, but the reference keeps it in memory until ksalloc_put().
 *
 * Context: Any context that may hold a file reference; never sleeps.
 * Return: the allocator with one more reference, ERR_PTR(-EINVAL) when
 * @file is not a /dev/ksalloc file, ERR_PTR(-EBADFD) when it has no framing
 * yet.
 */
struct ksalloc *ksalloc_get_file(struct file *file)
{
	struct ksalloc *alloc;

	if (!file || file->f_op != &ksalloc_fops)
		return ERR_PTR(-EINVAL);
	alloc = ksalloc_handle_alloc(file->private_data);
	if (!alloc)
		return ERR_PTR(-EBADFD);
	ksalloc_get(alloc);
	return alloc;
}
EXPORT_SYMBOL_NS_GPL(ksalloc_get_file, "KSALLOC");

/**
 * ksalloc_fdget() - take the allocator behind a file descriptor
 * @fd: a descriptor of /dev/ksalloc in the current task
 *
 * Like ksalloc_get_file(), for a descriptor passed in by user space (for
 * instance in an ioctl of the consumer's own device).  The descriptor may be
 * closed right after; the returned reference stays valid.
 *
 * Context: Process context.
 * Return: the allocator with one more reference, ERR_PTR(-EBADF) when @fd
 * is not an open descriptor, ERR_PTR(-EINVAL) when it is not one of
 * /dev/ksalloc, ERR_PTR(-EBADFD) when it has no framing yet.
 */
struct ksalloc *ksalloc_fdget(int fd)
{
	struct ksalloc *alloc;
	struct file *file;

	if (fd < 0)
		return ERR_PTR(-EBADF);
	file = fget(fd);
	if (!file)
		return ERR_PTR(-EBADF);
	alloc = ksalloc_get_file(file);
	fput(file);
	return alloc;
}
EXPORT_SYMBOL_NS_GPL(ksalloc_fdget, "KSALLOC");

/**
 * ksalloc_install_fd() - give user space a descriptor of a kernel allocator
 * @alloc: an allocator created in the kernel (ksalloc_create() or
 *         ksalloc_create_ex())
 * @flags: %O_CLOEXEC or 0
 *
 * A new descriptor of the current task, open for reading and writing, with
 * the file operations of /dev/ksalloc on an anonymous inode: user space
 * can mmap() the pool, ALLOC and FREE frames (those that the kernel hands
 * over with ksalloc_frame_to_user() too), poll(), and ask for the status,
 * the stats and the id, as on a descriptor it framed itself
 * (SET_FRAMING fails with -EBUSY).  The file holds its own reference on
 * @alloc; closing it does not close the allocator, which stays its
 * creator's to close.  Frames that user space allocated through the
 * descriptor and did not free stay out after the descriptor is closed;
 * they come back at the creator's ksalloc_close(), as every frame held
 * by user space does.  The pool and the frames are charged as they were
 * at the creation.  User space could make the pages outlast the driver
 * that created the allocator (a descriptor, a mapping, a pipe), so an
 * allocator with custom backing is refused: its ->free() and @ops_priv
 * (and a bus address it set) belong to that driver.
 *
 * Context: Process context, in the task that gets the descriptor; may
 * sleep.
 * Return: the descriptor, -EINVAL for flags other than %O_CLOEXEC, -ENODEV
 * when @alloc was closed, -EOPNOTSUPP for custom backing, -EMFILE when the
 * task has no descriptor left, -ENOMEM.
 */
int ksalloc_install_fd(struct ksalloc *alloc, unsigned int flags)
{
	struct ksalloc_handle *h;
	struct file *file;
	int fd;

	might_sleep();
	if (flags & ~O_CLOEXEC)
		return -EINVAL;
	if (ksalloc_is_closed(alloc))
		return -ENODEV;
	if (ksalloc_backing_custom(alloc))
		return -EOPNOTSUPP;
	h = kzalloc(sizeof(*h), GFP_KERNEL_ACCOUNT);
	if (!h)
		return -ENOMEM;
	mutex_init(&h->lock);
	h->kptr_ok = ksalloc_kptr_visible();
	h->borrowed = true;
	fd = get_unused_fd_flags(flags);
	if (fd < 0)
		goto err_free_handle;
	ksalloc_get(alloc);
	h->alloc = alloc;
	file = anon_inode_getfile("[ksalloc]", &ksalloc_fops, h, O_RDWR);
	if (IS_ERR(file)) {
		ksalloc_put(alloc);
		put_unused_fd(fd);
		fd = PTR_ERR(file);
		goto err_free_handle;
	}
	fd_install(fd, file);
	return fd;

err_free_handle:
	mutex_destroy(&h->lock);
	kfree(h);
	return fd;
}
EXPORT_SYMBOL_NS_GPL(ksalloc_install_fd, "KSALLOC");

#if IS_ENABLED(CONFIG_KUNIT)
/**
 * ksalloc_kunit_file() - a framed /dev/ksalloc file without the device
 * @framing: the framing of its allocator
 *
 * For KUnit: a file with the device's file operations on an anonymous
 * inode, owning a new allocator as if KSALLOC_IOC_SET_FRAMING had been
 * done, so that ksalloc_get_file() and the release of the last reference
 * (ksalloc_close()) can be tested without a device node or a process.
 *
 * Context: Process context; may sleep.
 * Return: the file, or an ERR_PTR() of ksalloc_create() or of the file's
 * allocation.
 */
struct file *ksalloc_kunit_file(const struct ksalloc_framing *framing)
{
	struct ksalloc_handle *h;
	struct ksalloc *alloc;
	struct file *file;

	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return ERR_PTR(-ENOMEM);
	mutex_init(&h->lock);
	alloc = ksalloc_create(framing);
	if (IS_ERR(alloc)) {
		file = ERR_CAST(alloc);
		goto err_free_handle;
	}
	h->alloc = alloc;
	file = anon_inode_getfile("[ksalloc]", &ksalloc_fops, h, O_RDWR);
	if (IS_ERR(file))
		goto err_close;
	return file;

err_close:
	ksalloc_close(alloc);
err_free_handle:
	mutex_destroy(&h->lock);
	kfree(h);
	return file;
}
EXPORT_SYMBOL_IF_KUNIT(ksalloc_kunit_file);
#endif

/* Called by the module's init and exit (main.c). */
int ksalloc_dev_init(void)
{
	ksalloc_misc.mode = ksalloc_dev_mode;
	return misc_register(&ksalloc_misc);
}

void ksalloc_dev_exit(void)
{
	misc_deregister(&ksalloc_misc);
}
