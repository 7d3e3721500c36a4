/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksalloc-ctl: a snapshot of the module's debugfs directory.
 *
 * Every file there is text, one "key value" pair per line.  A snapshot
 * holds the budget file and, for every allocator directory (named by the
 * allocator's id), the pairs of its files in the order read: framing,
 * status, stats, holders, pollers, waiters (keys seen before are left
 * out), plus the per-CPU caches and the waiter lines apart.
 */
#ifndef KSALLOC_CTL_DEBUGFS_H
#define KSALLOC_CTL_DEBUGFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEBUGFS_DEFAULT "/sys/kernel/debug/ksalloc"

struct kv {
	char *key;
	char *val;
};

struct kvlist {
	struct kv *v;
	size_t n, cap;
};

struct dbg_alloc {
	uint64_t id;
	struct kvlist keys;	/* framing, status, stats, holders, pollers, waiters */
	struct kvlist caches;	/* "cpuN" -> frames */
	struct kvlist waiter;	/* "waiter" -> "PID WAITED_MS", oldest first */
};

struct dbg_snap {
	struct kvlist budget;
	struct dbg_alloc *allocs;	/* sorted by id */
	size_t n;
};

const char *dbg_root(void);
int dbg_read(const char *root, struct dbg_snap *snap);
void dbg_free(struct dbg_snap *snap);

const char *kv_get(const struct kvlist *l, const char *key);
const char *kv_str(const struct kvlist *l, const char *key);
bool kv_u64(const struct kvlist *l, const char *key, uint64_t *out);

#endif /* KSALLOC_CTL_DEBUGFS_H */
