// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc - /sys/kernel/debug/ksalloc/: what the allocators are doing
 *
 *	budget		the module's budget: used, left and the limits
 *	ID/		one directory per allocator, named by its id
 *	   framing	the framing and what it costs
 *	   status	open or closed, frames out and free, the creator
 *	   stats	the counters of KSALLOC_IOC_GET_STATS
 *	   caches	the frames in each possible CPU's cache
 *	   waiters	the tasks waiting for a frame, oldest first
 *	   pollers	the poll wait queue, and whether a free will wake it
 *	   holders	the frames user space and kernel code hold
 *	   dma		the device binding, the backing, the pages per node
 *
 * Every file is text, one "key value" pair per line, keys in lowercase
 * with underscores, values in decimal unless they say otherwise; tools
 * (ksalloc-ctl list and top) parse them.  The one string that a user
 * chooses, owner_comm (any task names itself), is escaped into printable
 * ASCII, so that it cannot make lines of its own.
 *
 * Lifetime: a directory is created with its allocator and removed by the
 * release (core.c), in process context, before anything its files read is
 * freed.  debugfs_remove() waits for every read of the files under way and
 * makes later ones fail (the full proxy of debugfs_create_file()), so a
 * reader never sees a freed allocator, and needs no reference of its own.
 * A closed allocator whose frames are still out keeps its directory.  The
 * pool of a released allocator whose pages someone else still holds (a
 * pipe, a pin) stays in the budget's total_bytes, but not in allocators.
 *
 * What that wait costs: a read is under way for the whole of the proxy's
 * read(), and seq_read() copies to the reader's buffer inside it.  So a
 * reader (only root reaches debugfs) whose buffer faults slowly, on
 * userfaultfd or a FUSE mapping, holds up the release in debugfs_remove():
 * its work item, and the allocator's memory, which stays taken from the
 * budget until that read returns; module exit, which waits for the
 * releases, waits for it too.  The allocator's lock is not held meanwhile.
 *
 * A read takes the allocator's lock for a snapshot only, and formats
 * afterwards; nothing is copied to user space under a lock (seq_file).
 * As upstream asks, nothing here checks what debugfs returns: without
 * debugfs, or when it fails, ksalloc works the same.
 */

#include <linux/dcache.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string_helpers.h>
#include <linux/timekeeping.h>

#include "core.h"

/*
 * /sys/kernel/debug/ksalloc: an ERR_PTR when debugfs failed, NULL outside
 * the module's init and exit
 */
static struct dentry *ksalloc_debugfs_root;

static int ksalloc_debugfs_budget_show(struct seq_file *m, void *unused)
{
	u64 total = ksalloc_charged_bytes();
	u64 max_total = READ_ONCE(ksalloc_max_total_bytes);

	seq_printf(m, "allocators %u\n", ksalloc_nr_allocators());
	seq_printf(m, "total_bytes %llu\n", total);
	seq_printf(m, "max_total_bytes %llu\n", max_total);
	seq_printf(m, "left_bytes %llu\n", total < max_total ? max_total - total : 0);
	seq_printf(m, "max_pool_bytes %lu\n", READ_ONCE(ksalloc_max_pool_bytes));
	seq_printf(m, "max_frames %u\n", READ_ONCE(ksalloc_max_frames));
	seq_printf(m, "max_frame_size %u\n", READ_ONCE(ksalloc_max_frame_size));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ksalloc_debugfs_budget);

/* Immutable: no lock. */
static int ksalloc_debugfs_framing_show(struct seq_file *m, void *unused)
{
	struct ksalloc *alloc = m->private;
	const struct ksalloc_framing *f = &alloc->framing;

	seq_printf(m, "flags %#x\n", f->flags);
	seq_printf(m, "pool_type %u\n", f->pool_type);
	seq_printf(m, "frames %u\n", f->frames);
	seq_printf(m, "frame_size %u\n", f->frame_size);
	seq_printf(m, "alignment %u\n", f->alignment);
	seq_printf(m, "stride %u\n", alloc->stride);
	seq_printf(m, "bytes %zu\n", alloc->pool_cost + alloc->meta_cost);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ksalloc_debugfs_framing);

static int ksalloc_debugfs_status_show(struct seq_file *m, void *unused)
{
	struct ksalloc *alloc = m->private;
	bool closed, dispatch;
	u32 free;

	spin_lock_bh(&alloc->lock);
	closed = alloc->closed;
	dispatch = alloc->dispatch;
	/* One snapshot of the caches for both, as GET_STATUS takes it. */
	free = ksalloc_free_locked(alloc);
	spin_unlock_bh(&alloc->lock);

	seq_printf(m, "state %s\n", closed ? "closed" : "open");
	seq_printf(m, "allocated_frames %u\n", alloc->frames - free);
	seq_printf(m, "free_frames %u\n", free);
	seq_printf(m, "dispatch %d\n", dispatch);
	seq_printf(m, "owner_pid %d\n", alloc->owner_pid);
	/*
	 * Any task names itself (PR_SET_NAME): printable ASCII stays as it
	 * is, the backslash and every other byte are escaped ("\n", "\\",
	 * "\e", "\303"), so that the name is one line of printable ASCII.
	 */
	seq_puts(m, "owner_comm ");
	seq_escape_str(m, alloc->owner_comm, ESCAPE_ANY | ESCAPE_NAP | ESCAPE_APPEND, "\\");
	seq_putc(m, '\n');
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ksalloc_debugfs_status);

static int ksalloc_debugfs_stats_show(struct seq_file *m, void *unused)
{
	struct ksalloc_stats st;
	int ret = ksalloc_get_stats(m->private, &st);

	if (ret)
		return ret;
	seq_printf(m, "allocs %llu\n", st.allocs);
	seq_printf(m, "frees %llu\n", st.frees);
	seq_printf(m, "alloc_failures %llu\n", st.alloc_failures);
	seq_printf(m, "waits %llu\n", st.waits);
	seq_printf(m, "wait_timeouts %llu\n", st.wait_timeouts);
	seq_printf(m, "handoffs %llu\n", st.handoffs);
	seq_printf(m, "peak_allocated %llu\n", st.peak_allocated);
	seq_printf(m, "waiters %llu\n", st.waiters);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ksalloc_debugfs_stats);

/* A snapshot of each ring's count, taken without the lock, as they change. */
static int ksalloc_debugfs_caches_show(struct seq_file *m, void *unused)
{
	struct ksalloc *alloc = m->private;
	int cpu;

	for_each_possible_cpu(cpu)
		seq_printf(m, "cpu%d %u\n", cpu,
			   ksalloc_cache_count(per_cpu_ptr(alloc->cache, cpu)));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ksalloc_debugfs_caches);

/* What the waiters file shows of one waiter. */
struct ksalloc_debugfs_waiter {
	pid_t pid;
	u64 start_ns;
};

/*
 * The waiters are copied under the lock into a buffer sized beforehand;
 * those that queued in between are counted in the first line but not
 * listed.
 */
static int ksalloc_debugfs_waiters_show(struct seq_file *m, void *unused)
{
	struct ksalloc *alloc = m->private;
	struct ksalloc_debugfs_waiter *snap;
	struct ksalloc_waiter *w;
	size_t cap, n = 0, i;
	u64 queued, now;

	spin_lock_bh(&alloc->lock);
	cap = alloc->stats.waiters;
	spin_unlock_bh(&alloc->lock);
	snap = kvmalloc_array(cap ?: 1, sizeof(*snap), GFP_KERNEL);
	if (!snap)
		return -ENOMEM;

	spin_lock_bh(&alloc->lock);
	list_for_each_entry(w, &alloc->waiters, node) {
		if (n == cap)
			break;
		snap[n].pid = w->pid;
		snap[n].start_ns = w->start_ns;
		n++;
	}
	queued = alloc->stats.waiters;
	spin_unlock_bh(&alloc->lock);

	now = ktime_get_ns();
	seq_printf(m, "waiters %llu\n", queued);
	for (i = 0; i < n; i++)
		seq_printf(m, "waiter %d %llu\n", snap[i].pid,
			   div_u64(now - snap[i].start_ns, NSEC_PER_MSEC));
	kvfree(snap);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ksalloc_debugfs_waiters);

static int ksalloc_debugfs_pollers_show(struct seq_file *m, void *unused)
{
	struct ksalloc *alloc = m->private;
	wait_queue_head_t *wq = &alloc->freeframe_wq;
	struct list_head *pos;
	unsigned long flags;
	unsigned int n = 0;
	bool armed;

	spin_lock_irqsave(&wq->lock, flags);
	list_for_each(pos, &wq->head)
		n++;
	spin_unlock_irqrestore(&wq->lock, flags);
	spin_lock_bh(&alloc->lock);
	armed = alloc->poll_armed;
	spin_unlock_bh(&alloc->lock);

	seq_printf(m, "pollers %u\n", n);
	seq_printf(m, "armed %d\n", armed);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ksalloc_debugfs_pollers);

/*
 * A frame's holder is its state byte; they are read one by one without the
 * lock, so while frames move the sums are a snapshot.
 */
static int ksalloc_debugfs_holders_show(struct seq_file *m, void *unused)
{
	struct ksalloc *alloc = m->private;
	u32 user = 0, kernel = 0, i;

	for (i = 0; i < alloc->frames; i++) {
		u8 st = READ_ONCE(*ksalloc_state(alloc, i));

		user += st == KSALLOC_FRAME_USER;
		kernel += st == KSALLOC_FRAME_KERNEL;
		if ((i & 4095) == 4095)
			cond_resched();
	}
	seq_printf(m, "user %u\n", user);
	seq_printf(m, "kernel %u\n", kernel);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ksalloc_debugfs_holders);

static int ksalloc_debugfs_dma_show(struct seq_file *m, void *unused)
{
	return ksalloc_dma_show(m, m->private);
}
DEFINE_SHOW_ATTRIBUTE(ksalloc_debugfs_dma);

static const struct {
	const char *name;
	const struct file_operations *fops;
} ksalloc_debugfs_files[] = {
	{ "framing", &ksalloc_debugfs_framing_fops },
	{ "status", &ksalloc_debugfs_status_fops },
	{ "stats", &ksalloc_debugfs_stats_fops },
	{ "caches", &ksalloc_debugfs_caches_fops },
	{ "waiters", &ksalloc_debugfs_waiters_fops },
	{ "pollers", &ksalloc_debugfs_pollers_fops },
	{ "holders", &ksalloc_debugfs_holders_fops },
	{ "dma", &ksalloc_debugfs_dma_fops },
};

/**
 * ksalloc_debugfs_bytes() - what an allocator's directory costs
 *
 * The dentries and inodes of the directory and its files, and the proxy
 * data debugfs keeps for a file that was opened: an estimate, charged with
 * the rest of the allocator (SPEC 7.8), or 0 without debugfs.
 *
 * Context: Any context.
 * Return: the bytes.
 */
size_t ksalloc_debugfs_bytes(void)
{
	if (IS_ERR_OR_NULL(ksalloc_debugfs_root))
		return 0;
	return (ARRAY_SIZE(ksalloc_debugfs_files) + 1) *
	       (sizeof(struct dentry) + sizeof(struct inode) + 128);
}

/**
 * ksalloc_debugfs_add() - create the directory of a new allocator
 * @alloc: the allocator, ready for its files to be read
 *
 * Context: Process context; may sleep.
 */
void ksalloc_debugfs_add(struct ksalloc *alloc)
{
	char name[24];
	size_t i;

	snprintf(name, sizeof(name), "%llu", alloc->id);
	alloc->debugfs = debugfs_create_dir(name, ksalloc_debugfs_root);
	for (i = 0; i < ARRAY_SIZE(ksalloc_debugfs_files); i++)
		debugfs_create_file(ksalloc_debugfs_files[i].name, 0444,
				    alloc->debugfs, alloc,
				    ksalloc_debugfs_files[i].fops);
}

/**
 * ksalloc_debugfs_remove() - remove the directory of an allocator
 * @alloc: the allocator, being released
 *
 * Returns once no read of its files is under way; none starts after.
 *
 * Context: Process context; may sleep.
 */
void ksalloc_debugfs_remove(struct ksalloc *alloc)
{
	debugfs_remove(alloc->debugfs);
	alloc->debugfs = NULL;
}

/**
 * ksalloc_debugfs_init() - create /sys/kernel/debug/ksalloc and its budget
 *
 * Context: Process context, at module init, before any allocator.
 */
void ksalloc_debugfs_init(void)
{
	ksalloc_debugfs_root = debugfs_create_dir("ksalloc", NULL);
	debugfs_create_file("budget", 0444, ksalloc_debugfs_root, NULL,
			    &ksalloc_debugfs_budget_fops);
}

/**
 * ksalloc_debugfs_exit() - remove /sys/kernel/debug/ksalloc
 *
 * Context: Process context, at module exit, once every allocator was
 * released (and with it its directory).
 */
void ksalloc_debugfs_exit(void)
{
	debugfs_remove(ksalloc_debugfs_root);
	ksalloc_debugfs_root = NULL;
}
