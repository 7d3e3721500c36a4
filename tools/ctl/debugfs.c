// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc-ctl: reading /sys/kernel/debug/ksalloc (or $KSALLOC_DEBUGFS).
 *
 * An allocator's directory goes when its memory does, which may be while
 * it is being read: a directory or file that is gone (ENOENT), or a file
 * removed under an open descriptor (EIO, ENODEV), makes that allocator
 * skipped, not an error.  A missing or unreadable root is an error, with
 * a message that says why: debugfs not mounted, ksalloc not loaded, or
 * not root.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "ctl.h"
#include "debugfs.h"

#ifndef DEBUGFS_MAGIC
#define DEBUGFS_MAGIC 0x64626720
#endif

/* Most bytes read from one file: far more than any of ours holds. */
#define DBG_FILE_MAX (1 << 20)

/* The files of an allocator's directory whose pairs go into keys. */
static const char *const dbg_key_files[] = {
	"framing", "status", "stats", "holders", "pollers", "waiters",
};

const char *dbg_root(void)
{
	const char *r = getenv("KSALLOC_DEBUGFS");

	return r && *r ? r : DEBUGFS_DEFAULT;
}

static int kv_add(struct kvlist *l, const char *key, size_t klen, const char *val)
{
	struct kv *v;

	if (l->n == l->cap) {
		v = realloc(l->v, (l->cap ? 2 * l->cap : 16) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = l->cap ? 2 * l->cap : 16;
	}
	v = &l->v[l->n];
	v->key = strndup(key, klen);
	v->val = strdup(val);
	if (!v->key || !v->val) {
		free(v->key);
		free(v->val);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

static void kv_free(struct kvlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].val);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

const char *kv_get(const struct kvlist *l, const char *key)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].key, key))
			return l->v[i].val;
	return NULL;
}

/* The value of @key, or "-" when there is none. */
const char *kv_str(const struct kvlist *l, const char *key)
{
	const char *v = kv_get(l, key);

	return v && *v ? v : "-";
}

/* A decimal or 0x-hex value. */
bool kv_u64(const struct kvlist *l, const char *key, uint64_t *out)
{
	const char *s = kv_get(l, key);
	char *end;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return !errno && !*end;
}

/*
 * Reads @path whole into a NUL-terminated buffer.  Returns it, or NULL
 * with errno set.
 */
static char *read_file(const char *path)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *p;
	ssize_t n;
	int fd, err;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto err_free;
	for (;;) {
		if (cap - len < 2) {
			if (cap >= DBG_FILE_MAX) {
				errno = EFBIG;
				goto err_close;
			}
			p = realloc(buf, cap * 2);
			if (!p)
				goto err_close;
			buf = p;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto err_close;
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;

err_close:
	err = errno;
	close(fd);
	errno = err;
err_free:
	err = errno;
	free(buf);
	errno = err;
	return NULL;
}

enum { PAIRS_ALL, PAIRS_NEW };

/*
 * Adds the "key value" lines of @text to @l: every line (PAIRS_ALL), or
 * only those whose key @l does not hold yet (PAIRS_NEW).  Lines with the
 * key "waiter" go to @waiter when it is given.
 */
static int parse_pairs(char *text, struct kvlist *l, int mode, struct kvlist *waiter)
{
	char *line, *save = NULL, *sp, *val;
	size_t klen;
	int err;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		sp = strchr(line, ' ');
		klen = sp ? (size_t)(sp - line) : strlen(line);
		val = sp ? sp + 1 : line + klen;
		while (*val == ' ')
			val++;
		if (!klen)
			continue;
		if (waiter && klen == 6 && !strncmp(line, "waiter", 6)) {
			err = kv_add(waiter, line, klen, val);
		} else {
			line[klen] = '\0';
			if (mode == PAIRS_NEW && kv_get(l, line))
				continue;
			err = kv_add(l, line, klen, val);
		}
		if (err)
			return err;
	}
	return 0;
}

/* @dir/@name into @buf of PATH_MAX; false (errno ENAMETOOLONG) if too long. */
static bool path_join(char *buf, const char *dir, const char *name)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", dir, name);

	if (n < 0 || n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return false;
	}
	return true;
}

/* Whether @err says that what was being read is gone. */
static bool gone(int err)
{
	return err == ENOENT || err == ENODEV || err == EIO || err == ESTALE;
}

static void dbg_alloc_free(struct dbg_alloc *a)
{
	kv_free(&a->keys);
	kv_free(&a->caches);
	kv_free(&a->waiter);
}

/*
 * Reads the allocator directory @dir.  Returns 0, 1 when it vanished
 * meanwhile, or -1 after a message.
 */
static int dbg_read_alloc(const char *dir, struct dbg_alloc *a)
{
	char path[PATH_MAX], *text;
	size_t i;
	int err;

	for (i = 0; i <= ARRAY_SIZE(dbg_key_files); i++) {
		const char *file = i < ARRAY_SIZE(dbg_key_files) ?
				   dbg_key_files[i] : "caches";

		if (!path_join(path, dir, file))
			goto err_msg;
		text = read_file(path);
		if (!text) {
			if (!gone(errno))
				goto err_msg;
			if (access(dir, F_OK))
				return 1;	/* the allocator went */
			continue;		/* a file this module lacks */
		}
		if (i < ARRAY_SIZE(dbg_key_files))
			err = parse_pairs(text, &a->keys, PAIRS_NEW, &a->waiter);
		else
			err = parse_pairs(text, &a->caches, PAIRS_ALL, NULL);
		free(text);
		if (err) {
			errno = -err;
			goto err_msg;
		}
	}
	return 0;

err_msg:
	if (errno == EACCES)
		errmsg("%s: permission denied: reading debugfs needs root", path);
	else
		errmsg_errno("%s", path);
	return -1;
}

/* Explains why @root cannot be read; @err is the errno of stat or opendir. */
static void dbg_explain(const char *root, int err)
{
	char parent[PATH_MAX], *dir;
	struct statfs sfs;
	int rc;

	if (err == EACCES) {
		errmsg("%s: permission denied: reading debugfs needs root", root);
		return;
	}
	if (err != ENOENT) {
		errno = err;
		errmsg_errno("%s", root);
		return;
	}
	snprintf(parent, sizeof(parent), "%s", root);
	dir = dirname(parent);
	rc = statfs(dir, &sfs);
	if (rc == 0 && sfs.f_type == DEBUGFS_MAGIC)
		errmsg("ksalloc is not loaded: no %s (insmod ksalloc.ko)", root);
	else if (rc && errno == EACCES)
		errmsg("%s: permission denied: reading debugfs needs root", dir);
	else
		errmsg("debugfs is not mounted on %s, so there is no %s (mount -t debugfs none %s)",
		       dir, root, dir);
}

static int cmp_alloc(const void *x, const void *y)
{
	const struct dbg_alloc *a = x, *b = y;

	return a->id < b->id ? -1 : a->id > b->id;
}

/* Whether @name is an allocator's directory name: a decimal id. */
static bool alloc_name(const char *name, uint64_t *id)
{
	char *end;

	if (*name < '1' || *name > '9')
		return false;
	errno = 0;
	*id = strtoull(name, &end, 10);
	return !errno && !*end;
}

/* Adds the allocator of @dir to @snap.  Returns 0, or -1 after a message. */
static int dbg_add_alloc(struct dbg_snap *snap, const char *dir, uint64_t id,
			 size_t *cap)
{
	struct dbg_alloc *a;
	int ret;

	if (snap->n == *cap) {
		a = realloc(snap->allocs, (*cap ? 2 * *cap : 8) * sizeof(*a));
		if (!a) {
			errmsg("out of memory");
			return -1;
		}
		snap->allocs = a;
		*cap = *cap ? 2 * *cap : 8;
	}
	a = &snap->allocs[snap->n];
	memset(a, 0, sizeof(*a));
	a->id = id;
	ret = dbg_read_alloc(dir, a);
	if (ret) {
		dbg_alloc_free(a);
		return ret < 0 ? -1 : 0;
	}
	snap->n++;
	return 0;
}

/*
 * Reads the budget and every allocator under @root into @snap.  Returns
 * 0, or -1 after a message (then @snap holds nothing).
 */
int dbg_read(const char *root, struct dbg_snap *snap)
{
	char path[PATH_MAX], *text;
	struct dirent *de;
	size_t cap = 0;
	uint64_t id;
	DIR *d;

	memset(snap, 0, sizeof(*snap));
	d = opendir(root);
	if (!d) {
		dbg_explain(root, errno);
		return -1;
	}
	while ((errno = 0, de = readdir(d))) {
		if (!alloc_name(de->d_name, &id))
			continue;
		if (!path_join(path, root, de->d_name)) {
			errmsg_errno("%s/%s", root, de->d_name);
			goto err;
		}
		if (dbg_add_alloc(snap, path, id, &cap))
			goto err;
	}
	if (errno) {
		errmsg_errno("read %s", root);
		goto err;
	}
	closedir(d);
	d = NULL;
	qsort(snap->allocs, snap->n, sizeof(*snap->allocs), cmp_alloc);

	text = path_join(path, root, "budget") ? read_file(path) : NULL;
	if (text) {
		parse_pairs(text, &snap->budget, PAIRS_ALL, NULL);
		free(text);
	}
	return 0;

err:
	if (d)
		closedir(d);
	dbg_free(snap);
	return -1;
}

void dbg_free(struct dbg_snap *snap)
{
	size_t i;

	for (i = 0; i < snap->n; i++)
		dbg_alloc_free(&snap->allocs[i]);
	free(snap->allocs);
	kv_free(&snap->budget);
	memset(snap, 0, sizeof(*snap));
}
