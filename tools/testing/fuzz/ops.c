// SPDX-License-Identifier: GPL-2.0
/*
 * The operations of the ABI fuzzer (see ksalloc_fuzz.c): each does one kind of call
 * on a slot, or on a spare handle of its own, with valid or mutated
 * arguments, and checks what the ABI promises of the answer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <linux/ksalloc.h>

#include "abi.h"

void op_alloc(struct thread *t, struct slot *s)
{
	struct ksalloc_frame fr = { 0 };
	bool bad_flags = false;
	void *arg = &fr;
	int e, kind = below(t, 10);

	switch (kind) {
	case 0:
		fr.flags = KSALLOC_ALLOC_NOWAIT;
		break;
	case 1:
		fr.timeout_ns = 0;
		break;
	case 2:
		fr.timeout_ns = -1;	/* a signal or a free ends it */
		break;
	case 3:
		fr.flags = 1u << (1 + below(t, 31));
		bad_flags = true;
		break;
	case 4:
		arg = bad_pointer(t);
		break;
	case 5:
		arg = page_ro;
		break;
	default:
		fr.timeout_ns = (int64_t)below(t, 20000000);
		break;
	}
	if (kind == 5) {
		/* Read-only: the frame is taken, the copy-out fails, it goes back. */
		pthread_rwlock_rdlock(&s->probe);
		e = xioctl(t, OP_ALLOC, s->fd, KSALLOC_IOC_ALLOC, arg);
		pthread_rwlock_unlock(&s->probe);
		if (e != EFAULT && e != EAGAIN && e != ETIMEDOUT && e != EINTR)
			violation("ALLOC into a read-only struct: %s", errname(e));
		return;
	}
	fr.index = (uint32_t)rnd(t);	/* output only: ignored */
	e = xioctl(t, OP_ALLOC, s->fd, KSALLOC_IOC_ALLOC, arg);
	if (bad_flags) {
		expect("ALLOC with unknown flags", e, EINVAL);
		if (!e)
			claim_frame(s, fr.index);
		return;
	}
	if (kind == 4) {
		expect("ALLOC with a bad pointer", e, EFAULT);
		return;
	}
	if (e) {
		if (e != EAGAIN && e != ETIMEDOUT && e != EINTR)
			violation("ALLOC: %s", errname(e));
		return;
	}
	if (fr.offset != (uint64_t)fr.index * s->stride)
		violation("ALLOC: frame %u at offset %" PRIu64 ", stride %u",
			  fr.index, (uint64_t)fr.offset, s->stride);
	if (!claim_frame(s, fr.index))
		return;
	/* Write the frame through the mapping: user data never harms the kernel. */
	if (s->map)
		memset(s->map + fr.offset, (int)rnd(t),
		       s->f.frame_size < 256 ? s->f.frame_size : 256);
}

void op_free(struct thread *t, struct slot *s)
{
	struct ksalloc_frame fr = { 0 };
	int idx, e, st;

	switch (below(t, 6)) {
	case 0:	/* out of range */
		fr.index = chance(t, 50) ? s->f.frames + below(t, 1000) : 0xffffffffu - below(t, 4);
		expect("FREE out of range",
		       xioctl(t, OP_FREE, s->fd, KSALLOC_IOC_FREE, &fr), EINVAL);
		return;
	case 1:	/* a frame believed free: a double free unless one is in flight */
		fr.index = below(t, s->f.frames);
		if (pthread_rwlock_trywrlock(&s->probe))
			return;
		st = F_FREE;
		if (!atomic_compare_exchange_strong(&s->state[fr.index], &st, F_PROBE)) {
			pthread_rwlock_unlock(&s->probe);
			return;
		}
		e = xioctl(t, OP_FREE, s->fd, KSALLOC_IOC_FREE, &fr);
		pthread_rwlock_unlock(&s->probe);
		if (!e) {
			/* An allocation was in flight: its thread sees F_STOLEN. */
			atomic_fetch_add(&probes_hit, 1);
			atomic_store(&s->state[fr.index], F_STOLEN);
		} else {
			expect("FREE of a free frame", e, EINVAL);
			atomic_store(&s->state[fr.index], F_FREE);
		}
		return;
	case 2:	/* bad pointer */
		expect("FREE with a bad pointer",
		       xioctl(t, OP_FREE, s->fd, KSALLOC_IOC_FREE,
			      bad_pointer(t)), EFAULT);
		return;
	default:
		break;
	}
	idx = grab_held(t, s);
	if (idx < 0)
		return;
	fr.index = idx;
	fr.timeout_ns = (int64_t)rnd(t);	/* ignored by FREE */
	fr.offset = rnd(t);
	if (chance(t, 15)) {
		fr.flags = 1u << below(t, 32);
		expect("FREE with flags", xioctl(t, OP_FREE, s->fd, KSALLOC_IOC_FREE, &fr),
		       EINVAL);
		atomic_store(&s->state[idx], F_HELD);
		return;
	}
	e = xioctl(t, OP_FREE, s->fd, KSALLOC_IOC_FREE, &fr);
	if (e) {
		violation("FREE of held frame %u: %s", idx, errname(e));
		atomic_store(&s->state[idx], F_HELD);
		return;
	}
	atomic_store(&s->state[idx], F_FREE);
}

void op_alloc_batch(struct thread *t, struct slot *s)
{
	uint32_t idx[MAX_FRAMES + 8], seen[MAX_FRAMES / 32 + 1] = { 0 };
	struct ksalloc_frame_batch b = { 0 };
	uint32_t want, i;
	int e;

	want = 1 + below(t, s->f.frames + 4);
	b.indices = (uintptr_t)idx;
	b.count = want;
	switch (below(t, 8)) {
	case 0:
		b.flags = 1u << below(t, 32);
		e = xioctl(t, OP_ALLOC_BATCH, s->fd, KSALLOC_IOC_ALLOC_BATCH, &b);
		expect("ALLOC_BATCH with flags", e, EINVAL);
		return;
	case 1:
		b.count = 0;
		e = xioctl(t, OP_ALLOC_BATCH, s->fd, KSALLOC_IOC_ALLOC_BATCH, &b);
		expect("ALLOC_BATCH of 0", e, EINVAL);
		return;
	case 2:
		/* Indices nowhere: the frames taken must all go back. */
		b.indices = (uintptr_t)(chance(t, 30) ? page_ro : bad_pointer(t));
		pthread_rwlock_rdlock(&s->probe);
		e = xioctl(t, OP_ALLOC_BATCH, s->fd, KSALLOC_IOC_ALLOC_BATCH, &b);
		pthread_rwlock_unlock(&s->probe);
		if (e != EFAULT && e != EAGAIN)
			violation("ALLOC_BATCH into a bad buffer: %s", errname(e));
		return;
	case 3:
		e = xioctl(t, OP_ALLOC_BATCH, s->fd, KSALLOC_IOC_ALLOC_BATCH,
			   bad_pointer(t));
		expect("ALLOC_BATCH with a bad pointer", e, EFAULT);
		return;
	case 4:
		b.count = 0xffffffffu - below(t, 16);	/* huge: never more than free */
		break;
	default:
		break;
	}
	want = b.count;
	e = xioctl(t, OP_ALLOC_BATCH, s->fd, KSALLOC_IOC_ALLOC_BATCH, &b);
	if (e) {
		if (e != EAGAIN)
			violation("ALLOC_BATCH: %s", errname(e));
		return;
	}
	if (!b.count || b.count > s->f.frames || b.count > want)
		violation("ALLOC_BATCH: %u frames of %u wanted, %u in the pool",
			  b.count, want, s->f.frames);
	for (i = 0; i < b.count && i < s->f.frames; i++) {
		if (idx[i] < s->f.frames) {
			if (seen[idx[i] / 32] & (1u << (idx[i] % 32)))
				violation("ALLOC_BATCH: frame %u twice", idx[i]);
			seen[idx[i] / 32] |= 1u << (idx[i] % 32);
		}
		claim_frame(s, idx[i]);
	}
}

void op_free_batch(struct thread *t, struct slot *s)
{
	uint32_t idx[MAX_FRAMES + 1], n = 0, k, bad = UINT32_MAX, i;
	struct ksalloc_frame_batch b = { 0 };
	int e, j;

	switch (below(t, 6)) {
	case 0:
		b.count = 1 + below(t, 8);
		b.indices = (uintptr_t)bad_pointer(t);
		e = xioctl(t, OP_FREE_BATCH, s->fd, KSALLOC_IOC_FREE_BATCH, &b);
		if (e != EFAULT || b.count)
			violation("FREE_BATCH from a bad buffer: %s, count %u",
				  errname(e), b.count);
		return;
	case 2: {
		/*
		 * A huge count over a few indices that run into the guard
		 * page: whatever is read, nothing may be freed (out of range).
		 */
		uint32_t m = 1 + below(t, 63), *u = (uint32_t *)(page_edge + page) - m;

		for (i = 0; i < m; i++)
			u[i] = s->f.frames + i;
		b.count = 0xffffffffu - below(t, 4);
		b.indices = (uintptr_t)u;
		e = xioctl(t, OP_FREE_BATCH, s->fd, KSALLOC_IOC_FREE_BATCH, &b);
		if ((e != EFAULT && e != EINVAL) || b.count)
			violation("FREE_BATCH of a huge count: %s, count %u", errname(e),
				  b.count);
		return;
	}
	case 1:
		b.count = 1;
		b.flags = 1u << below(t, 32);
		b.indices = (uintptr_t)idx;
		idx[0] = UINT32_MAX;
		expect("FREE_BATCH with flags",
		       xioctl(t, OP_FREE_BATCH, s->fd, KSALLOC_IOC_FREE_BATCH, &b), EINVAL);
		return;
	default:
		break;
	}
	k = 1 + below(t, s->f.frames);
	while (n < k && (j = grab_held(t, s)) >= 0)
		idx[n++] = j;
	if (chance(t, 30)) {
		/* A bad index in the middle stops the batch right there. */
		bad = below(t, n + 1);
		memmove(idx + bad + 1, idx + bad, (n - bad) * sizeof(*idx));
		idx[bad] = s->f.frames + below(t, 100);
		n++;
	}
	if (!n)
		return;
	b.count = n;
	b.indices = (uintptr_t)idx;
	e = xioctl(t, OP_FREE_BATCH, s->fd, KSALLOC_IOC_FREE_BATCH, &b);
	if (bad == UINT32_MAX) {
		if (e || b.count != n)
			violation("FREE_BATCH of %u held frames: %s, %u freed", n,
				  errname(e), b.count);
	} else if (e != EINVAL || b.count != bad) {
		violation("FREE_BATCH with a bad index at %u of %u: %s, %u freed",
			  bad, n, errname(e), b.count);
	}
	for (i = 0; i < n; i++) {
		if (i == bad)
			continue;
		atomic_store(&s->state[idx[i]], i < b.count ? F_FREE : F_HELD);
	}
}

void op_query(struct thread *t, struct slot *s)
{
	struct ksalloc_functiontable_info ft;
	struct ksalloc_status st;
	struct ksalloc_stats sx;
	uint64_t id;
	int e;

	switch (below(t, 8)) {
	case 0:
		memset(&st, 0xa5, sizeof(st));
		e = xioctl(t, OP_GET_STATUS, s->fd, KSALLOC_IOC_GET_STATUS, &st);
		if (e)
			violation("GET_STATUS: %s", errname(e));
		else if (st.reserved || st.framing.reserved ||
			 memcmp(&st.framing, &s->f, sizeof(s->f)) ||
			 st.allocated_frames > s->f.frames)
			violation("GET_STATUS: framing or count wrong (%u out)",
				  st.allocated_frames);
		return;
	case 1:
		expect("GET_STATUS into a bad or read-only buffer",
		       xioctl(t, OP_GET_STATUS, s->fd, KSALLOC_IOC_GET_STATUS,
			      chance(t, 50) ? (void *)page_ro : bad_pointer(t)),
		       EFAULT);
		return;
	case 2:
		memset(&ft, 0xa5, sizeof(ft));
		e = xioctl(t, OP_GET_FUNCTIONTABLE, s->fd,
			   KSALLOC_IOC_GET_FUNCTIONTABLE, &ft);
		if (s->f.pool_type == KSALLOC_POOL_PAGED)
			expect("GET_FUNCTIONTABLE of a paged pool", e, EOPNOTSUPP);
		else if (e)
			violation("GET_FUNCTIONTABLE: %s", errname(e));
		else if (ft.reserved || ft.reserved2 || ft.flags != KSALLOC_FT_DISPATCH)
			violation("GET_FUNCTIONTABLE: flags %#x, reserved not 0", ft.flags);
		return;
	case 3:
		e = xioctl(t, OP_GET_FUNCTIONTABLE, s->fd, KSALLOC_IOC_GET_FUNCTIONTABLE,
			   bad_pointer(t));
		/* The buffer is checked first, before anything is switched on. */
		expect("GET_FUNCTIONTABLE into a bad buffer", e, EFAULT);
		return;
	case 4:
		e = xioctl(t, OP_GET_STATS, s->fd, KSALLOC_IOC_GET_STATS, &sx);
		if (e)
			violation("GET_STATS: %s", errname(e));
		else if (sx.peak_allocated > s->f.frames || sx.waiters > nthreads)
			violation("GET_STATS: peak %" PRIu64 ", waiters %" PRIu64,
				  (uint64_t)sx.peak_allocated, (uint64_t)sx.waiters);
		return;
	case 5:
		/* The same id for as long as the descriptor lives. */
		id = 0;
		e = xioctl(t, OP_GET_ID, s->fd, KSALLOC_IOC_GET_ID, &id);
		if (e || id != s->id)
			violation("GET_ID: %s, id %" PRIu64 ", was %" PRIu64,
				  errname(e), id, s->id);
		return;
	case 6:
		expect("GET_ID into a bad or read-only buffer",
		       xioctl(t, OP_GET_ID, s->fd, KSALLOC_IOC_GET_ID,
			      chance(t, 50) ? (void *)page_ro : bad_pointer(t)),
		       EFAULT);
		return;
	default:
		/* SET_FRAMING once only. */
		expect("second SET_FRAMING",
		       xioctl(t, OP_SET_FRAMING, s->fd, KSALLOC_IOC_SET_FRAMING, &s->f),
		       EBUSY);
		return;
	}
}

/*
 * EXPORT_DMABUF (SPEC 8): the pool, a frame we hold, and refusals.  Every
 * dma-buf is closed again at once; its size is checked.
 */
void op_export(struct thread *t, struct slot *s)
{
	static const uint32_t bad_flags[] = {
		O_NONBLOCK, O_ACCMODE, O_APPEND, O_TRUNC, O_CREAT, 0x40000000U,
	};
	struct ksalloc_dmabuf d = { .fd_flags = O_RDWR | O_CLOEXEC,
				    .index = KSALLOC_DMABUF_POOL, .fd = -1 };
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	bool paged = s->f.pool_type == KSALLOC_POOL_PAGED;
	size_t want_size = s->poolbytes;
	int e, idx = -1, want;
	off_t size;

	switch (below(t, 6)) {
	case 0:	/* the pool */
		want = paged ? EINVAL : 0;
		d.fd_flags = below(t, 3) | (chance(t, 50) ? O_CLOEXEC : 0);
		break;
	case 1:	/* a frame we hold */
		idx = grab_held(t, s);
		if (idx < 0)
			return;
		d.index = idx;
		want = paged || s->stride % page ? EINVAL : 0;
		want_size = s->stride;
		break;
	case 2:	/* past the last frame */
		d.index = s->f.frames + below(t, 1000);
		want = EINVAL;
		break;
	case 3:
		d.fd_flags |= bad_flags[below(t, ARRAY_SIZE(bad_flags))];
		want = EINVAL;
		break;
	case 4:
		d.reserved = 1 + below(t, 0xffff);
		want = EINVAL;
		break;
	default:
		expect("EXPORT_DMABUF from a bad pointer",
		       xioctl(t, OP_EXPORT_DMABUF, s->fd, KSALLOC_IOC_EXPORT_DMABUF,
			      bad_pointer(t)), EFAULT);
		return;
	}
	e = xioctl(t, OP_EXPORT_DMABUF, s->fd, KSALLOC_IOC_EXPORT_DMABUF, &d);
	if (idx >= 0)
		atomic_store(&s->state[idx], F_HELD);
	expect("EXPORT_DMABUF", e, want);
	if (e)
		return;
	if (d.fd < 0) {
		violation("EXPORT_DMABUF: fd %d", d.fd);
		return;
	}
	size = lseek(d.fd, 0, SEEK_END);
	if (size != (off_t)want_size)
		violation("EXPORT_DMABUF of %u: size %lld, not %zu", d.index,
			  (long long)size, want_size);
	close(d.fd);
}

/* Ioctl numbers that are not ours: other sizes, directions, numbers, magics. */
void op_bad_ioctl(struct thread *t, struct slot *s)
{
	static const unsigned long good[] = {
		KSALLOC_IOC_SET_FRAMING, KSALLOC_IOC_GET_STATUS,
		KSALLOC_IOC_GET_FUNCTIONTABLE, KSALLOC_IOC_ALLOC, KSALLOC_IOC_FREE,
		KSALLOC_IOC_ALLOC_BATCH, KSALLOC_IOC_FREE_BATCH, KSALLOC_IOC_GET_STATS,
		KSALLOC_IOC_GET_ID, KSALLOC_IOC_EXPORT_DMABUF,
	};
	unsigned long cmd = good[below(t, ARRAY_SIZE(good))];
	unsigned char buf[256] = { 0 };
	unsigned long magic;
	unsigned int i;

	switch (below(t, 5)) {
	case 0:	/* another size: none, or a larger struct */
		cmd = _IOC(_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd),
			   chance(t, 30) ? 0 : _IOC_SIZE(cmd) + 8 * (1 + below(t, 8)));
		break;
	case 1:	/* another direction */
		cmd ^= (unsigned long)(1 + below(t, 3)) << _IOC_DIRSHIFT;
		break;
	case 2:	/* another number: past GET_ID */
		cmd = _IOC(_IOC_DIR(cmd), KSALLOC_IOC_MAGIC, 10 + below(t, 246),
			   _IOC_SIZE(cmd));
		break;
	case 3:	/* another magic */
		magic = (KSALLOC_IOC_MAGIC + 1 + below(t, 255)) & 0xff;
		cmd = (cmd & ~((unsigned long)_IOC_TYPEMASK << _IOC_TYPESHIFT)) |
		      (magic << _IOC_TYPESHIFT);
		break;
	default:	/* any 32 bits */
		cmd = (uint32_t)rnd(t);
		break;
	}
	for (i = 0; i < ARRAY_SIZE(good); i++)
		if (cmd == good[i])
			return;
	/* A few generic ioctls the VFS answers itself; not ours to judge. */
	switch (_IOC_TYPE(cmd)) {
	case 0: case 'T': case 'f': case 'X': case 0x94: case 0x15:
		return;
	}
	expect("unknown ioctl", xioctl(t, OP_BAD_IOCTL, s->fd, cmd, buf), ENOTTY);
}

void op_mmap(struct thread *t, struct slot *s)
{
	size_t len = s->poolbytes;
	int prot = PROT_READ | PROT_WRITE, flags = MAP_SHARED, want = 0;
	off_t off = 0;
	unsigned char *p;
	int e;

	switch (below(t, 8)) {
	case 0:
		prot |= PROT_EXEC;
		want = EPERM;
		break;
	case 1:
		flags = MAP_PRIVATE;
		want = EINVAL;
		break;
	case 2:
		len += page * (1 + below(t, 4));
		want = ENXIO;
		break;
	case 3:
		off = (off_t)page * (s->poolbytes / page + below(t, 3));
		want = ENXIO;
		break;
	case 4:
		if (s->poolbytes > page) {
			off = (off_t)page * (1 + below(t, s->poolbytes / page - 1));
			len = s->poolbytes - off;
		}
		break;
	case 5:
		prot = PROT_READ;
		break;
	default:
		break;
	}
	p = mmap(NULL, len, prot, flags, s->fd, off);
	e = count(t, OP_MMAP, p == MAP_FAILED ? -1 : 0);
	if (want == ENXIO && e == EINVAL)
		e = ENXIO;	/* either says "not that much" */
	if (e != want)
		violation("mmap len %zu off %lld prot %#x flags %#x: %s, want %s",
			  len, (long long)off, prot, flags, errname(e), errname(want));
	if (e)
		return;
	if (prot & PROT_WRITE) {
		/* Anything at all, anywhere in the pool. */
		memset(p + below(t, len), (int)rnd(t), 1);
		if (chance(t, 10))
			memset(p, (int)rnd(t), len);
	}
	if (chance(t, 30)) {
		/* The pool may never become executable. */
		e = count(t, OP_MPROTECT, mprotect(p, page, PROT_READ | PROT_EXEC));
		if (e != EACCES)
			violation("mprotect PROT_EXEC of the pool: %s", errname(e));
	}
	count(t, OP_MUNMAP, munmap(p, len));
}

void op_poll(struct thread *t, struct slot *s)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLOUT | POLLIN };
	int n;

	n = poll(&pfd, 1, (int)below(t, 3));
	count(t, OP_POLL, n);
	if (n > 0 && (pfd.revents & ~(POLLOUT | POLLWRNORM)))
		violation("poll: revents %#x", pfd.revents);
}

void op_fcntl(struct thread *t, struct slot *s)
{
	int fl = fcntl(s->fd, F_GETFL);

	if (fl < 0)
		return;
	fl = chance(t, 30) ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	count(t, OP_FCNTL, fcntl(s->fd, F_SETFL, fl));
}

/*
 * The child scribbles over the whole pool, asks a few things (the same id
 * among them: the file is shared), and exits; 3 when the id was not the same.
 */
void op_fork(struct thread *t, struct slot *s)
{
	unsigned char fill = (unsigned char)rnd(t);
	bool unmap = chance(t, 30), closefd = chance(t, 30);
	pid_t pid;
	int status;

	pid = fork();
	count(t, OP_FORK, pid);
	if (pid < 0)
		return;
	if (!pid) {
		struct ksalloc_status st;
		struct ksalloc_frame fr = { .flags = 1u << 7 };
		uint64_t id = 0;

		if (s->map)
			memset(s->map, fill, s->maplen);
		ioctl(s->fd, KSALLOC_IOC_GET_STATUS, &st);
		ioctl(s->fd, KSALLOC_IOC_ALLOC, &fr);	/* bad flags: changes nothing */
		if (ioctl(s->fd, KSALLOC_IOC_GET_ID, &id) || id != s->id)
			_exit(3);
		if (unmap && s->map)
			munmap(s->map, s->maplen);
		if (closefd)
			close(s->fd);
		_exit(0);
	}
	atomic_fetch_add(&children, 1);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
		violation("forked child: GET_ID did not give id %" PRIu64, s->id);
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		violation("forked child: status %#x", status);
}

/* An unframed spare handle: only SET_FRAMING works on it. */
static void spare_unframed(struct thread *t, int fd)
{
	struct ksalloc_frame fr = { 0 };
	struct ksalloc_status st;
	struct pollfd pfd;
	uint64_t id;
	void *p;

	switch (below(t, 5)) {
	case 0:
		expect("ALLOC before SET_FRAMING",
		       xioctl(t, OP_ALLOC, fd, KSALLOC_IOC_ALLOC, &fr), EBADFD);
		break;
	case 1:
		p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
		expect("mmap before SET_FRAMING", count(t, OP_MMAP, p == MAP_FAILED ? -1 : 0),
		       EBADFD);
		if (p != MAP_FAILED)
			munmap(p, page);
		break;
	case 2:
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		count(t, OP_POLL, poll(&pfd, 1, 0));
		if (!(pfd.revents & POLLERR))
			violation("poll before SET_FRAMING: revents %#x", pfd.revents);
		break;
	case 3:
		expect("GET_ID before SET_FRAMING",
		       xioctl(t, OP_GET_ID, fd, KSALLOC_IOC_GET_ID, &id), EBADFD);
		break;
	default:
		expect("GET_STATUS before SET_FRAMING",
		       xioctl(t, OP_GET_STATUS, fd, KSALLOC_IOC_GET_STATUS, &st), EBADFD);
		break;
	}
}

/* A read-only spare handle may only look (SPEC 7.2), so it stays unframed. */
static void spare_readonly(struct thread *t, int fd)
{
	struct ksalloc_framing f;
	uint64_t id;

	expect("GET_ID of a read-only handle",
	       xioctl(t, OP_GET_ID, fd, KSALLOC_IOC_GET_ID, &id), EBADFD);
	random_framing(t, &f);
	expect("SET_FRAMING of a read-only handle",
	       xioctl(t, OP_SET_FRAMING, fd, KSALLOC_IOC_SET_FRAMING, &f), EBADF);
	expect("GET_ID of a read-only handle after SET_FRAMING",
	       xioctl(t, OP_GET_ID, fd, KSALLOC_IOC_GET_ID, &id), EBADFD);
}

/* One field of a valid framing made wrong, or none (then a bad pointer, once). */
static void mutate_framing(struct thread *t, int fd, struct ksalloc_framing *f)
{
	switch (below(t, 10)) {
	case 0:
		f->reserved = 1u << below(t, 32);
		break;
	case 1:
		f->flags |= 1u << (4 + below(t, 27));
		break;
	case 2:
		f->pool_type = 2 + below(t, 100);
		break;
	case 3:
		f->frames = chance(t, 50) ? 0 : (uint32_t)lim_max_frames + 1 + below(t, 3);
		break;
	case 4:
		f->frame_size = chance(t, 50) ? 0 : (uint32_t)rnd(t) | 0x80000000u;
		break;
	case 5:
		f->alignment = chance(t, 50) ? (uint32_t)rnd(t) :
					       (uint32_t)page - 1 + below(t, 3);
		break;
	case 6:
		f->frames = (uint32_t)lim_max_frames;
		f->frame_size = (uint32_t)lim_max_frame_size;
		break;
	case 7:
		f->frames = 1 + below(t, (uint32_t)lim_max_frames);
		f->frame_size = (uint32_t)lim_max_pool / f->frames + 1 + below(t, 4096);
		break;
	case 8:
		/* A bad pointer instead of a framing. */
		expect("SET_FRAMING from a bad pointer",
		       xioctl(t, OP_SET_FRAMING, fd, KSALLOC_IOC_SET_FRAMING,
			      bad_pointer(t)), EFAULT);
		break;
	default:
		break;
	}
}

/* Frames @fd with @f, judged by the rules; a framed handle gets a new id. */
static void spare_frame(struct thread *t, int fd, struct ksalloc_framing *f)
{
	int e, want = framing_errno(f);
	uint64_t id = 0;

	if (!want && (uint64_t)stride_of(f) * f->frames > (1u << 20))
		return;		/* valid but big: not the fuzzer's business */
	e = xioctl(t, OP_SET_FRAMING, fd, KSALLOC_IOC_SET_FRAMING, f);
	if (e != want && !(want == 0 && e == ENOMEM))
		violation("SET_FRAMING flags %#x pool %u %u x %u align %#x reserved %#x: %s, %s %s",
			  f->flags, f->pool_type, f->frames, f->frame_size, f->alignment,
			  f->reserved, errname(e), "want", errname(want));
	if (e && chance(t, 50)) {
		/* A refused framing changes nothing: a good one still works. */
		random_framing(t, f);
		e = xioctl(t, OP_SET_FRAMING, fd, KSALLOC_IOC_SET_FRAMING, f);
		expect("SET_FRAMING after a refused one", e, 0);
	}
	if (e)
		return;
	e = xioctl(t, OP_GET_ID, fd, KSALLOC_IOC_GET_ID, &id);
	expect("GET_ID of a framed spare handle", e, 0);
	if (!e)
		id_new(id, "a spare handle");
}

/* A spare handle: unconfigured, then framed with a mutated framing. */
void op_spare(struct thread *t)
{
	bool readonly = chance(t, 10);
	struct ksalloc_framing f;
	int fd;

	fd = open(device, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC |
		  (chance(t, 20) ? O_NONBLOCK : 0));
	if (count(t, OP_OPEN, fd))
		return;
	if (readonly) {
		spare_readonly(t, fd);
	} else {
		spare_unframed(t, fd);
		random_framing(t, &f);
		mutate_framing(t, fd, &f);
		spare_frame(t, fd, &f);
	}
	count(t, OP_CLOSE, close(fd));
}
