// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_test - user-space selftests of /dev/ksalloc
 *
 * Every ioctl and every errno of the ABI (include/uapi/linux/ksalloc.h),
 * bad pointers and odd structs, FIFO waiting, timeouts and signals, poll,
 * mmap, user space scribbling over the frames, batches, the function-table
 * report under kptr_restrict, and what closing a descriptor does; and the
 * rules of SPEC section 7: who may free what, access modes, signals under
 * SA_RESTART, readiness for poll, select and epoll (level- and
 * edge-triggered, frees on any CPU), and no IPIs on an empty pool.  Built
 * 64-bit and, as ksalloc_test32, 32-bit: the second run goes through
 * compat_ioctl.  Needs ksalloc.ko loaded and root (for kptr_restrict and
 * dropping privileges); free_kernel_held_frame_einval also needs
 * ksalloc_producer.ko and skips without it.  Run it in a VM, see
 * scripts/vm.sh.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/ksalloc.h>

#include "../../samples/ksalloc_producer.h"
#include "kselftest_harness.h"

#define DEV		"/dev/ksalloc"
#define PARAMS		"/sys/module/ksalloc/parameters/"
#define KPTR_RESTRICT	"/proc/sys/kernel/kptr_restrict"

/* The default framing of most tests: 4 frames of 1000 bytes, stride 1024. */
#define NFRAMES		4
#define FSIZE		1000
#define FALIGN		63
#define STRIDE		1024

#define PAGE		((size_t)sysconf(_SC_PAGESIZE))

/* ioctl() as -errno, or 0. */
static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static int set_framing(int fd, uint32_t pool, uint32_t frames, uint32_t size,
		       uint32_t align)
{
	struct ksalloc_framing f = {
		.pool_type = pool,
		.frames = frames,
		.frame_size = size,
		.alignment = align,
	};

	return xioctl(fd, KSALLOC_IOC_SET_FRAMING, &f);
}

static int frame_default(int fd)
{
	return set_framing(fd, KSALLOC_POOL_NONPAGED, NFRAMES, FSIZE, FALIGN);
}

/* ALLOC: index or -errno. */
static int alloc_frame(int fd, uint32_t flags, int64_t timeout_ns)
{
	struct ksalloc_frame fr = { .flags = flags, .timeout_ns = timeout_ns };
	int ret = xioctl(fd, KSALLOC_IOC_ALLOC, &fr);

	return ret ? ret : (int)fr.index;
}

static int free_frame(int fd, uint32_t index)
{
	struct ksalloc_frame fr = { .index = index };

	return xioctl(fd, KSALLOC_IOC_FREE, &fr);
}

/* Takes every frame with ALLOC NOWAIT, no more: their indices in @idx. */
static int take_all(int fd, uint32_t *idx, int n)
{
	int i, ret;

	for (i = 0; i < n; i++) {
		ret = alloc_frame(fd, KSALLOC_ALLOC_NOWAIT, 0);
		if (ret < 0)
			return ret;
		idx[i] = ret;
	}
	return 0;
}

/* Frames outstanding, or -errno. */
static int outstanding(int fd)
{
	struct ksalloc_status st;
	int ret = xioctl(fd, KSALLOC_IOC_GET_STATUS, &st);

	return ret ? ret : (int)st.allocated_frames;
}

static struct ksalloc_stats stats_of(int fd)
{
	struct ksalloc_stats s;

	memset(&s, 0xff, sizeof(s));
	if (xioctl(fd, KSALLOC_IOC_GET_STATS, &s))
		memset(&s, 0xee, sizeof(s));
	return s;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to 5 s until GET_STATS counts @n waiters; 0 or -1. */
static int wait_waiters(int fd, uint64_t n)
{
	uint64_t end = now_ms() + 5000;

	while (now_ms() < end) {
		if (stats_of(fd).waiters == n)
			return 0;
		usleep(1000);
	}
	return -1;
}

/* Waits up to 5 s until *@flag is set; 0 or -1. */
static int wait_flag(int *flag)
{
	uint64_t end = now_ms() + 5000;

	while (now_ms() < end) {
		if (__atomic_load_n(flag, __ATOMIC_ACQUIRE))
			return 0;
		usleep(1000);
	}
	return -1;
}

/* A module parameter, or @def when it cannot be read. */
static uint64_t param(const char *name, uint64_t def)
{
	char path[128], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return def;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return def;
	buf[n] = '\0';
	return strtoull(buf, NULL, 0);
}

static int read_int_file(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return atoi(buf);
}

static int write_int_file(const char *path, int val)
{
	char buf[32];
	int fd, len, ok;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	len = snprintf(buf, sizeof(buf), "%d\n", val);
	ok = write(fd, buf, len) == len;
	close(fd);
	return ok ? 0 : -1;
}

/* A page of memory, then an unmapped page: for structs that run off the end. */
static char *page_before_hole(void)
{
	char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p + PAGE, PAGE);
	return p;
}

/* An address that is certainly not mapped. */
static void *unmapped_address(void)
{
	void *p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p, PAGE);
	return p;
}

/* A read-only page holding @len bytes of @src. */
static void *readonly_copy(const void *src, size_t len)
{
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, src, len);
	if (mprotect(p, PAGE, PROT_READ)) {
		munmap(p, PAGE);
		return NULL;
	}
	return p;
}

/*
 * Note: ASSERT_*() and EXPECT_*() expand to more than one statement, so
 * every loop or if around one has braces.
 */
static const struct {
	const char *name;
	unsigned long cmd;
} all_cmds[] = {
	{ "SET_FRAMING", KSALLOC_IOC_SET_FRAMING },
	{ "GET_STATUS", KSALLOC_IOC_GET_STATUS },
	{ "GET_FUNCTIONTABLE", KSALLOC_IOC_GET_FUNCTIONTABLE },
	{ "ALLOC", KSALLOC_IOC_ALLOC },
	{ "FREE", KSALLOC_IOC_FREE },
	{ "ALLOC_BATCH", KSALLOC_IOC_ALLOC_BATCH },
	{ "FREE_BATCH", KSALLOC_IOC_FREE_BATCH },
	{ "GET_STATS", KSALLOC_IOC_GET_STATS },
};

FIXTURE(ksalloc) {
	int fd;
	int kptr_saved;
};

FIXTURE_SETUP(ksalloc)
{
	self->kptr_saved = -1;
	self->fd = open(DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s (is ksalloc.ko loaded?)",
				      DEV, strerror(errno));
}

FIXTURE_TEARDOWN(ksalloc)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->kptr_saved >= 0)
		write_int_file(KPTR_RESTRICT, self->kptr_saved);
}

TEST(abi_layout)
{
	/* The same numbers in the 64-bit and in the 32-bit build. */
	ASSERT_EQ(24U, sizeof(struct ksalloc_framing));
	ASSERT_EQ(32U, sizeof(struct ksalloc_status));
	ASSERT_EQ(32U, sizeof(struct ksalloc_functiontable_info));
	ASSERT_EQ(24U, sizeof(struct ksalloc_frame));
	ASSERT_EQ(16U, sizeof(struct ksalloc_frame_batch));
	ASSERT_EQ(64U, sizeof(struct ksalloc_stats));
	ASSERT_EQ(0xc018b903UL, (unsigned long)KSALLOC_IOC_ALLOC);
	TH_LOG("%zu-bit process", sizeof(long) * 8);
}

TEST_F(ksalloc, device_node_mode)
{
	uint64_t mode = param("mode", 0600);
	struct stat st;

	ASSERT_EQ(0, fstat(self->fd, &st));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	ASSERT_EQ(mode, (uint64_t)(st.st_mode & 07777));
	ASSERT_EQ(0U, st.st_uid);
}

TEST_F(ksalloc, unconfigured_ebadfd)
{
	char buf[128] = {};
	struct pollfd pfd = { .fd = self->fd, .events = POLLOUT };
	size_t i;

	for (i = 1; i < ARRAY_SIZE(all_cmds); i++) {
		EXPECT_EQ(-EBADFD, xioctl(self->fd, all_cmds[i].cmd, buf))
			TH_LOG("%s", all_cmds[i].name);
	}
	EXPECT_TRUE(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd, 0) == MAP_FAILED);
	EXPECT_EQ(EBADFD, errno);
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLERR, pfd.revents);
	/* and then it can still be framed */
	ASSERT_EQ(0, frame_default(self->fd));
	ASSERT_EQ(0, outstanding(self->fd));
}

TEST_F(ksalloc, set_framing_twice_ebusy)
{
	struct ksalloc_status st;

	ASSERT_EQ(0, frame_default(self->fd));
	ASSERT_EQ(-EBUSY, frame_default(self->fd));
	ASSERT_EQ(-EBUSY, set_framing(self->fd, KSALLOC_POOL_PAGED, 1, 1, 0));
	/* even a framing that would be refused */
	ASSERT_EQ(-EBUSY, set_framing(self->fd, 7, 0, 0, 5));
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_GET_STATUS, &st));
	ASSERT_EQ(NFRAMES, st.framing.frames);
	ASSERT_EQ(FSIZE, st.framing.frame_size);
	ASSERT_EQ(FALIGN, st.framing.alignment);
	ASSERT_EQ(KSALLOC_POOL_NONPAGED, st.framing.pool_type);
}

TEST_F(ksalloc, framing_refused_then_accepted)
{
	uint32_t max_frames = param("max_frames", 65536);
	uint32_t max_size = param("max_frame_size", 4 << 20);
	uint64_t max_pool = param("max_pool_bytes", 64 << 20);
	const struct {
		struct ksalloc_framing f;
		int err;
	} bad[] = {
		{ { .frames = 1, .frame_size = 1, .reserved = 1 }, -EINVAL },
		{ { .frames = 1, .frame_size = 1, .flags = 0x10 }, -EINVAL },
		{ { .frames = 1, .frame_size = 1, .flags = 0x40000000 }, -EINVAL },
		{ { .frames = 1, .frame_size = 1, .pool_type = 2 }, -EINVAL },
		{ { .frames = 0, .frame_size = 1 }, -EINVAL },
		{ { .frames = 1, .frame_size = 0 }, -EINVAL },
		{ { .frames = max_frames + 1, .frame_size = 1 }, -EINVAL },
		{ { .frames = 1, .frame_size = max_size + 1 }, -EINVAL },
		{ { .frames = 1, .frame_size = 1, .alignment = 5 }, -EINVAL },
		{ { .frames = 1, .frame_size = 1, .alignment = 2 }, -EINVAL },
		{ { .frames = 1, .frame_size = 1,
		    .alignment = (uint32_t)PAGE * 2 - 1 }, -EINVAL },
		{ { .frames = 1, .frame_size = 1, .alignment = 0xffffffff },
		  -EINVAL },
		/* the pool over max_pool_bytes: -ENOMEM */
		{ { .frames = (uint32_t)(max_pool / max_size + 1),
		    .frame_size = max_size }, -ENOMEM },
	};
	struct ksalloc_framing good = {
		.flags = KSALLOC_REQUIREMENTF_SYSTEM_MEMORY |
			 KSALLOC_REQUIREMENTF_PREFERENCES_ONLY,
		.frames = 3, .frame_size = 100, .alignment = 7,
	};
	struct ksalloc_status st;
	size_t i;

	ASSERT_LE(max_pool / max_size + 1, max_frames)
		TH_LOG("module parameters make the -ENOMEM case impossible");
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct ksalloc_framing f = bad[i].f;

		EXPECT_EQ(bad[i].err, xioctl(self->fd, KSALLOC_IOC_SET_FRAMING, &f))
			TH_LOG("case %zu", i);
		/* refused: still unconfigured */
		EXPECT_EQ(-EBADFD, outstanding(self->fd)) TH_LOG("case %zu", i);
	}
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_SET_FRAMING, &good));
	memset(&st, 0xff, sizeof(st));
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_GET_STATUS, &st));
	ASSERT_EQ(0, memcmp(&good, &st.framing, sizeof(good)));
	ASSERT_EQ(0U, st.allocated_frames);
	ASSERT_EQ(0U, st.reserved);
}

TEST_F(ksalloc, unknown_ioctl_enotty)
{
	char buf[256] = {};
	const unsigned long cmds[] = {
		_IO(KSALLOC_IOC_MAGIC, 0x08),
		_IOWR(KSALLOC_IOC_MAGIC, 0x08, struct ksalloc_frame),
		_IOWR(KSALLOC_IOC_MAGIC, 0xff, struct ksalloc_frame),
		_IOR('T', 0x03, struct ksalloc_frame),	/* another magic */
		_IO(KSALLOC_IOC_MAGIC, 0x03),
		TCGETS,
		FIONREAD,
	};
	size_t i;
	int round;

	for (round = 0; round < 2; round++) {
		for (i = 0; i < ARRAY_SIZE(cmds); i++) {
			EXPECT_EQ(-ENOTTY, xioctl(self->fd, cmds[i], buf))
				TH_LOG("cmd %#lx, round %d", cmds[i], round);
		}
		if (!round) {
			ASSERT_EQ(0, frame_default(self->fd));
		}
	}
}

/* The same number with another size or direction is another command. */
TEST_F(ksalloc, wrong_size_or_direction_enotty)
{
	static char buf[4096];
	const int dirs[] = { _IOC_NONE, _IOC_READ, _IOC_WRITE,
			     _IOC_READ | _IOC_WRITE };
	size_t i, d;
	int round, delta;

	for (round = 0; round < 2; round++) {
		for (i = 0; i < ARRAY_SIZE(all_cmds); i++) {
			unsigned long cmd = all_cmds[i].cmd;
			int size = _IOC_SIZE(cmd);

			for (delta = -8; delta <= 8; delta += 4) {
				unsigned long c;

				if (!delta || size + delta < 0)
					continue;
				c = _IOC(_IOC_DIR(cmd), KSALLOC_IOC_MAGIC,
					 _IOC_NR(cmd), size + delta);
				EXPECT_EQ(-ENOTTY, xioctl(self->fd, c, buf))
					TH_LOG("%s size %d", all_cmds[i].name,
					       size + delta);
			}
			EXPECT_EQ(-ENOTTY, xioctl(self->fd,
				_IOC(_IOC_DIR(cmd), KSALLOC_IOC_MAGIC,
				     _IOC_NR(cmd), 0), buf));
			for (d = 0; d < 4; d++) {
				if ((unsigned int)dirs[d] == _IOC_DIR(cmd))
					continue;
				EXPECT_EQ(-ENOTTY, xioctl(self->fd,
					_IOC(dirs[d], KSALLOC_IOC_MAGIC,
					     _IOC_NR(cmd), size), buf))
					TH_LOG("%s dir %d", all_cmds[i].name,
					       dirs[d]);
			}
		}
		if (!round) {
			ASSERT_EQ(0, frame_default(self->fd));
		}
	}
	/* and the real commands still work */
	ASSERT_EQ(0, outstanding(self->fd));
}

TEST_F(ksalloc, efault_bad_pointers)
{
	char *edge = page_before_hole();
	void *hole = unmapped_address();
	void *bad[4];
	size_t i, b;

	ASSERT_TRUE(edge != NULL);
	ASSERT_TRUE(hole != NULL);
	bad[0] = NULL;
	bad[1] = hole;
	bad[2] = (void *)(uintptr_t)-4096L;	/* the top page */
	bad[3] = NULL;	/* set per command: runs off the end of a page */

	/* SET_FRAMING on an unconfigured handle: it stays unconfigured. */
	for (b = 0; b < 4; b++) {
		void *p = b == 3 ? edge + PAGE - 20 : bad[b];

		if (b == 3) {
			struct ksalloc_framing f = { .frames = 1, .frame_size = 1 };

			memcpy(p, &f, 20);
		}
		EXPECT_EQ(-EFAULT, xioctl(self->fd, KSALLOC_IOC_SET_FRAMING, p))
			TH_LOG("pointer %zu", b);
		EXPECT_EQ(-EBADFD, outstanding(self->fd));
	}

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 1; i < ARRAY_SIZE(all_cmds); i++) {
		unsigned long cmd = all_cmds[i].cmd;

		bad[3] = edge + PAGE - _IOC_SIZE(cmd) + 4;
		memset(bad[3], 0, _IOC_SIZE(cmd) - 4);
		for (b = 0; b < 4; b++) {
			EXPECT_EQ(-EFAULT, xioctl(self->fd, cmd, bad[b]))
				TH_LOG("%s pointer %zu", all_cmds[i].name, b);
		}
	}
	/* Nothing was taken or lost. */
	ASSERT_EQ(0, outstanding(self->fd));
	ASSERT_EQ(stats_of(self->fd).allocs, stats_of(self->fd).frees);
	munmap(edge, PAGE);
}

/* Output into read-only memory: -EFAULT, and no frame is lost. */
TEST_F(ksalloc, efault_readonly_output)
{
	struct ksalloc_frame fr = { .flags = KSALLOC_ALLOC_NOWAIT };
	struct ksalloc_frame_batch batch = { .count = NFRAMES };
	uint32_t indices[NFRAMES];
	struct ksalloc_stats s;
	void *ro;

	ASSERT_EQ(0, frame_default(self->fd));
	ro = readonly_copy(&fr, sizeof(fr));
	ASSERT_TRUE(ro != NULL);
	ASSERT_EQ(-EFAULT, xioctl(self->fd, KSALLOC_IOC_GET_STATUS, ro));
	ASSERT_EQ(-EFAULT, xioctl(self->fd, KSALLOC_IOC_GET_STATS, ro));
	ASSERT_EQ(-EFAULT, xioctl(self->fd, KSALLOC_IOC_GET_FUNCTIONTABLE, ro));

	/* ALLOC sees it cannot answer before it takes a frame */
	ASSERT_EQ(-EFAULT, xioctl(self->fd, KSALLOC_IOC_ALLOC, ro));
	ASSERT_EQ(0, outstanding(self->fd));
	s = stats_of(self->fd);
	ASSERT_EQ(0U, s.allocs);
	ASSERT_EQ(0U, s.frees);
	/* and the free stack is as it was: frame 0 comes first again */
	ASSERT_EQ(0, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0));
	ASSERT_EQ(0, free_frame(self->fd, 0));
	munmap(ro, PAGE);

	/* ALLOC_BATCH: indices into read-only memory */
	ro = readonly_copy(indices, sizeof(indices));
	ASSERT_TRUE(ro != NULL);
	batch.indices = (uintptr_t)ro;
	ASSERT_EQ(-EFAULT, xioctl(self->fd, KSALLOC_IOC_ALLOC_BATCH, &batch));
	ASSERT_EQ(0, outstanding(self->fd));
	munmap(ro, PAGE);

	/* ALLOC_BATCH: the struct itself read-only */
	batch.indices = (uintptr_t)indices;
	ro = readonly_copy(&batch, sizeof(batch));
	ASSERT_TRUE(ro != NULL);
	ASSERT_EQ(-EFAULT, xioctl(self->fd, KSALLOC_IOC_ALLOC_BATCH, ro));
	ASSERT_EQ(0, outstanding(self->fd));
	munmap(ro, PAGE);

	/* everything can still be allocated, each frame once */
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_ALLOC_BATCH, &batch));
	ASSERT_EQ(NFRAMES, batch.count);
	ASSERT_EQ((1U << NFRAMES) - 1, (1U << indices[0]) | (1U << indices[1]) |
				       (1U << indices[2]) | (1U << indices[3]));
	ASSERT_EQ(NFRAMES, outstanding(self->fd));
}

/* The kernel does not care about alignment of the argument. */
TEST_F(ksalloc, misaligned_pointer)
{
	uint64_t aligned[8];
	char *buf = (char *)aligned;
	struct ksalloc_frame fr = { .timeout_ns = 0 };
	struct ksalloc_status st;

	ASSERT_EQ(0, frame_default(self->fd));
	memcpy(buf + 1, &fr, sizeof(fr));
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_ALLOC, buf + 1));
	memcpy(&fr, buf + 1, sizeof(fr));
	ASSERT_EQ(0U, fr.index);
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_GET_STATUS, buf + 3));
	memcpy(&st, buf + 3, sizeof(st));
	ASSERT_EQ(1U, st.allocated_frames);
}

TEST_F(ksalloc, reserved_fields_and_flags_einval)
{
	const uint32_t bad_flags[] = { 0x2, 0x4, 0x100, 0x80000000, 0xffffffff };
	struct ksalloc_frame_batch batch;
	struct ksalloc_stats before, after;
	struct ksalloc_frame fr;
	uint32_t indices[2] = { 0, 0 };
	size_t i;
	int idx;

	ASSERT_EQ(0, frame_default(self->fd));
	idx = alloc_frame(self->fd, 0, 0);
	ASSERT_EQ(0, idx);
	before = stats_of(self->fd);

	for (i = 0; i < ARRAY_SIZE(bad_flags); i++) {
		fr = (struct ksalloc_frame){ .flags = bad_flags[i] };
		EXPECT_EQ(-EINVAL, xioctl(self->fd, KSALLOC_IOC_ALLOC, &fr));
		/* FREE takes no flags at all, not even NOWAIT */
		fr = (struct ksalloc_frame){ .flags = bad_flags[i], .index = 0 };
		EXPECT_EQ(-EINVAL, xioctl(self->fd, KSALLOC_IOC_FREE, &fr));
		batch = (struct ksalloc_frame_batch){
			.indices = (uintptr_t)indices, .count = 1,
			.flags = bad_flags[i] };
		EXPECT_EQ(-EINVAL, xioctl(self->fd, KSALLOC_IOC_ALLOC_BATCH, &batch));
		EXPECT_EQ(-EINVAL, xioctl(self->fd, KSALLOC_IOC_FREE_BATCH, &batch));
		EXPECT_EQ(1U, batch.count);
	}
	fr = (struct ksalloc_frame){ .flags = KSALLOC_ALLOC_NOWAIT };
	EXPECT_EQ(-EINVAL, xioctl(self->fd, KSALLOC_IOC_FREE, &fr));
	/* count 0 */
	batch = (struct ksalloc_frame_batch){ .indices = (uintptr_t)indices };
	EXPECT_EQ(-EINVAL, xioctl(self->fd, KSALLOC_IOC_ALLOC_BATCH, &batch));
	EXPECT_EQ(-EINVAL, xioctl(self->fd, KSALLOC_IOC_FREE_BATCH, &batch));

	/* nothing changed */
	after = stats_of(self->fd);
	ASSERT_EQ(0, memcmp(&before, &after, sizeof(before)));
	ASSERT_EQ(1, outstanding(self->fd));
	ASSERT_EQ(0, free_frame(self->fd, 0));
}

TEST_F(ksalloc, alloc_free_all)
{
	struct ksalloc_frame fr;
	struct ksalloc_stats s;
	int i;

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 0; i < NFRAMES; i++) {
		/* index and offset are output only: garbage in is ignored */
		fr = (struct ksalloc_frame){ .index = 77, .offset = ~0ULL,
					     .timeout_ns = -1 };
		ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_ALLOC, &fr));
		ASSERT_EQ((uint32_t)i, fr.index);
		ASSERT_EQ((uint64_t)i * STRIDE, fr.offset);
		ASSERT_EQ(0U, fr.flags);
		ASSERT_EQ(-1, fr.timeout_ns);
		ASSERT_EQ(i + 1, outstanding(self->fd));
	}
	s = stats_of(self->fd);
	ASSERT_EQ(NFRAMES, s.allocs);
	ASSERT_EQ(NFRAMES, s.peak_allocated);
	ASSERT_EQ(0U, s.frees);

	/* FREE ignores offset and timeout_ns: the ALLOC result goes back as is */
	fr = (struct ksalloc_frame){ .index = 2, .offset = 12345, .timeout_ns = -7 };
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_FREE, &fr));
	ASSERT_EQ(NFRAMES - 1, outstanding(self->fd));
	/* the frame freed last is reused first */
	ASSERT_EQ(2, alloc_frame(self->fd, 0, 0));
	for (i = NFRAMES - 1; i >= 0; i--) {
		ASSERT_EQ(0, free_frame(self->fd, i));
	}
	s = stats_of(self->fd);
	ASSERT_EQ(NFRAMES + 1, s.allocs);
	ASSERT_EQ(NFRAMES + 1, s.frees);
	ASSERT_EQ(NFRAMES, s.peak_allocated);
	ASSERT_EQ(0U, s.waiters);
	ASSERT_EQ(0, outstanding(self->fd));
}

TEST_F(ksalloc, free_invalid_changes_nothing)
{
	const uint32_t bad[] = { 1, NFRAMES, NFRAMES + 1, 1000, 0x80000000,
				 0xffffffff };
	struct ksalloc_stats before, after;
	size_t i;

	ASSERT_EQ(0, frame_default(self->fd));
	ASSERT_EQ(0, alloc_frame(self->fd, 0, 0));
	before = stats_of(self->fd);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, free_frame(self->fd, bad[i]))
			TH_LOG("index %u", bad[i]);
	}
	after = stats_of(self->fd);
	ASSERT_EQ(0, memcmp(&before, &after, sizeof(before)));
	ASSERT_EQ(1, outstanding(self->fd));

	ASSERT_EQ(0, free_frame(self->fd, 0));
	/* double free */
	before = stats_of(self->fd);
	ASSERT_EQ(-EINVAL, free_frame(self->fd, 0));
	after = stats_of(self->fd);
	ASSERT_EQ(0, memcmp(&before, &after, sizeof(before)));
	ASSERT_EQ(0, outstanding(self->fd));
	/* and all frames are still there, once each */
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_LE(0, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0));
	}
	ASSERT_EQ(-EAGAIN, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0));
}

TEST_F(ksalloc, exhausted_eagain)
{
	struct ksalloc_stats s;
	int i, fl;

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ(i, alloc_frame(self->fd, 0, -1));
	}
	ASSERT_EQ(-EAGAIN, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, -1));
	ASSERT_EQ(-EAGAIN, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 1000000000));
	ASSERT_EQ(-EAGAIN, alloc_frame(self->fd, 0, 0));

	fl = fcntl(self->fd, F_GETFL);
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, fl | O_NONBLOCK));
	ASSERT_EQ(-EAGAIN, alloc_frame(self->fd, 0, -1));
	ASSERT_EQ(-EAGAIN, alloc_frame(self->fd, 0, 1000000000));
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, fl));

	s = stats_of(self->fd);
	ASSERT_EQ(5U, s.alloc_failures);
	ASSERT_EQ(0U, s.waits);
	ASSERT_EQ(0U, s.waiters);

	/* one back: NOWAIT and O_NONBLOCK get it */
	ASSERT_EQ(0, free_frame(self->fd, 1));
	ASSERT_EQ(1, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0));
}

TEST_F(ksalloc, alloc_timeout)
{
	const int64_t timeouts_ns[] = { 1, 1000000, 50000000 };
	struct ksalloc_stats s;
	uint64_t t0, dt;
	size_t i;

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ((int)i, alloc_frame(self->fd, 0, 0));
	}
	for (i = 0; i < ARRAY_SIZE(timeouts_ns); i++) {
		t0 = now_ms();
		ASSERT_EQ(-ETIMEDOUT, alloc_frame(self->fd, 0, timeouts_ns[i]));
		dt = now_ms() - t0;
		/* never early */
		ASSERT_GE(dt, (uint64_t)(timeouts_ns[i] / 1000000));
		ASSERT_LT(dt, 5000U);
	}
	s = stats_of(self->fd);
	ASSERT_EQ(3U, s.waits);
	ASSERT_EQ(3U, s.wait_timeouts);
	ASSERT_EQ(0U, s.waiters);
	ASSERT_EQ(NFRAMES, outstanding(self->fd));
	/* a frame that is free is taken at once whatever the timeout */
	ASSERT_EQ(0, free_frame(self->fd, 3));
	ASSERT_EQ(3, alloc_frame(self->fd, 0, INT64_MAX));
}

struct waiter {
	pthread_t thread;
	int fd;
	int64_t timeout_ns;
	int ret;
	uint32_t index;
	int done;
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;
	struct ksalloc_frame fr = { .timeout_ns = w->timeout_ns };

	w->ret = xioctl(w->fd, KSALLOC_IOC_ALLOC, &fr);
	w->index = fr.index;
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int start_waiter(struct waiter *w, int fd, int64_t timeout_ns)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->timeout_ns = timeout_ns;
	return pthread_create(&w->thread, NULL, waiter_fn, w);
}

static bool is_done(struct waiter *w)
{
	return __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
}

TEST_F(ksalloc, fifo_waiters)
{
	const uint32_t order[3] = { 2, 0, 3 };
	struct waiter w[3];
	struct ksalloc_stats s;
	int i, j;

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ(i, alloc_frame(self->fd, 0, 0));
	}
	/* queue them one by one, so their order is known */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, start_waiter(&w[i], self->fd, -1));
		ASSERT_EQ(0, wait_waiters(self->fd, i + 1));
	}
	usleep(20000);
	for (i = 0; i < 3; i++) {
		ASSERT_FALSE(is_done(&w[i]));
	}

	/* each free goes to the oldest waiter, and to nobody else */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, free_frame(self->fd, order[i]));
		ASSERT_EQ(0, wait_flag(&w[i].done));
		ASSERT_EQ(0, w[i].ret);
		ASSERT_EQ(order[i], w[i].index);
		usleep(10000);
		for (j = i + 1; j < 3; j++) {
			ASSERT_FALSE(is_done(&w[j])) TH_LOG("waiter %d early", j);
		}
		ASSERT_EQ(NFRAMES, outstanding(self->fd));
	}
	for (i = 0; i < 3; i++)
		pthread_join(w[i].thread, NULL);
	s = stats_of(self->fd);
	ASSERT_EQ(3U, s.waits);
	ASSERT_EQ(3U, s.handoffs);
	ASSERT_EQ(0U, s.waiters);
	ASSERT_EQ(NFRAMES + 3, s.allocs);
}

static volatile sig_atomic_t signals_seen;

static void count_signal(int sig)
{
	(void)sig;
	signals_seen++;
}

static int catch_signal(int sig, int flags)
{
	struct sigaction sa = { .sa_handler = count_signal, .sa_flags = flags };

	sigemptyset(&sa.sa_mask);
	signals_seen = 0;
	return sigaction(sig, &sa, NULL);
}

TEST_F(ksalloc, signal_eintr)
{
	struct itimerval it = { .it_value = { .tv_usec = 100000 } };
	const int64_t timeouts_ns[] = { -1, 10000000000LL };
	struct ksalloc_stats s;
	size_t i;

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ((int)i, alloc_frame(self->fd, 0, 0));
	}
	ASSERT_EQ(0, catch_signal(SIGALRM, 0));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
		ASSERT_EQ(-EINTR, alloc_frame(self->fd, 0, timeouts_ns[i]));
		ASSERT_EQ((sig_atomic_t)(i + 1), signals_seen);
	}
	s = stats_of(self->fd);
	ASSERT_EQ(2U, s.waits);
	ASSERT_EQ(0U, s.waiters);
	ASSERT_EQ(0U, s.wait_timeouts);
	ASSERT_EQ(NFRAMES, outstanding(self->fd));
}

struct restart_helper {
	pthread_t main_thread;
	int fd;
	int ok;
};

static void *restart_helper_fn(void *arg)
{
	struct restart_helper *r = arg;

	if (wait_waiters(r->fd, 1))
		return NULL;
	pthread_kill(r->main_thread, SIGUSR1);
	/* the handler ran, and the ALLOC was asked again */
	while (!signals_seen)
		usleep(1000);
	if (wait_waiters(r->fd, 1))
		return NULL;
	r->ok = !free_frame(r->fd, 1);
	return NULL;
}

/*
 * SA_RESTART does not restart an ALLOC wait (SPEC 7.3): the call ends with
 * -EINTR, as epoll_wait() does, and the caller asks again.
 */
TEST_F(ksalloc, signal_restart)
{
	struct restart_helper r = { .main_thread = pthread_self() };
	pthread_t helper;
	struct ksalloc_stats s;
	int i;

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ(i, alloc_frame(self->fd, 0, 0));
	}
	ASSERT_EQ(0, catch_signal(SIGUSR1, SA_RESTART));
	r.fd = self->fd;
	ASSERT_EQ(0, pthread_create(&helper, NULL, restart_helper_fn, &r));
	/* interrupted, not restarted by the kernel */
	ASSERT_EQ(-EINTR, alloc_frame(self->fd, 0, -1));
	ASSERT_EQ(1, signals_seen);
	/* asked again, then served */
	ASSERT_EQ(1, alloc_frame(self->fd, 0, -1));
	pthread_join(helper, NULL);
	ASSERT_EQ(1, r.ok);
	ASSERT_EQ(1, signals_seen);
	s = stats_of(self->fd);
	ASSERT_EQ(2U, s.waits);
	ASSERT_EQ(1U, s.handoffs);
	ASSERT_EQ(0U, s.waiters);
}

static volatile sig_atomic_t alarms_seen;

/* Counts SIGALRMs, and stops the timer after 150 of them. */
static void count_alarm(int sig)
{
	static const struct itimerval off;

	(void)sig;
	if (++alarms_seen >= 150)
		setitimer(ITIMER_REAL, &off, NULL);
}

/*
 * SA_RESTART does not restart an ALLOC wait (SPEC 7.3): under a 10 ms
 * interval timer, a 200 ms ALLOC ends at the first signal with -EINTR.
 * Restarted instead, it would start its 200 ms again at every signal and
 * never expire; the handler stops the timer after 1.5 s so that such a
 * kernel ends the test too.
 */
TEST_F(ksalloc, alloc_timeout_sa_restart)
{
	const struct itimerval it = { .it_interval = { .tv_usec = 10000 },
				      .it_value = { .tv_usec = 10000 } };
	const struct itimerval off = {};
	struct sigaction sa = { .sa_handler = count_alarm,
				.sa_flags = SA_RESTART };
	struct ksalloc_stats s;
	uint32_t idx[NFRAMES];
	uint64_t t0, dt;
	int ret;

	ASSERT_EQ(0, frame_default(self->fd));
	ASSERT_EQ(0, take_all(self->fd, idx, NFRAMES));
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	alarms_seen = 0;

	t0 = now_ms();
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	ret = alloc_frame(self->fd, 0, 200000000);
	dt = now_ms() - t0;
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &off, NULL));
	ASSERT_EQ(-EINTR, ret) TH_LOG("after %llu ms and %d signals",
				      (unsigned long long)dt, (int)alarms_seen);
	ASSERT_LT(dt, 1000U);
	ASSERT_LE(1, alarms_seen);
	s = stats_of(self->fd);
	ASSERT_EQ(0U, s.waiters);
	ASSERT_EQ(0U, s.wait_timeouts);
	ASSERT_EQ(NFRAMES, outstanding(self->fd));
}

TEST_F(ksalloc, poll_readiness)
{
	struct pollfd pfd = {
		.fd = self->fd, .events = POLLOUT | POLLWRNORM | POLLIN };
	struct epoll_event ev = { .events = EPOLLOUT };
	int i, ep;

	ASSERT_EQ(0, frame_default(self->fd));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->fd, &ev));
	for (i = 0; i < NFRAMES; i++) {
		pfd.revents = 0;
		ASSERT_EQ(1, poll(&pfd, 1, 0));
		/* writable while a frame is free, never readable */
		ASSERT_EQ(POLLOUT | POLLWRNORM, pfd.revents);
		ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 0));
		ASSERT_EQ(EPOLLOUT, ev.events);
		ASSERT_EQ(i, alloc_frame(self->fd, 0, 0));
	}
	pfd.revents = 0;
	ASSERT_EQ(0, poll(&pfd, 1, 0));
	ASSERT_EQ(0, poll(&pfd, 1, 50));
	ASSERT_EQ(0, epoll_wait(ep, &ev, 1, 0));
	ASSERT_EQ(0, free_frame(self->fd, 2));
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	ASSERT_EQ(POLLOUT | POLLWRNORM, pfd.revents);
	ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	close(ep);
}

struct delayed_free {
	int fd;
	uint32_t index;
	int ret;
};

static void *delayed_free_fn(void *arg)
{
	struct delayed_free *d = arg;

	usleep(200000);
	d->ret = free_frame(d->fd, d->index);
	return NULL;
}

TEST_F(ksalloc, poll_wakes_on_free)
{
	struct pollfd pfd = { .fd = self->fd, .events = POLLOUT | POLLWRNORM };
	struct delayed_free d = { .index = 3, .ret = -1 };
	pthread_t t;
	uint64_t t0, dt;
	int i;

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ(i, alloc_frame(self->fd, 0, 0));
	}
	d.fd = self->fd;
	ASSERT_EQ(0, pthread_create(&t, NULL, delayed_free_fn, &d));
	t0 = now_ms();
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	dt = now_ms() - t0;
	pthread_join(t, NULL);
	ASSERT_EQ(0, d.ret);
	ASSERT_EQ(POLLOUT | POLLWRNORM, pfd.revents);
	ASSERT_GE(dt, 150U);
	ASSERT_LT(dt, 9000U);
}

/* The @n-th CPU (from 0) this process may run on, or -1. */
static int allowed_cpu(int n)
{
	cpu_set_t set;
	int cpu;

	if (sched_getaffinity(0, sizeof(set), &set))
		return -1;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, &set) && !n--)
			return cpu;
	}
	return -1;
}

/* Pins the calling thread to @cpu; 0 or -errno. */
static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -errno;
	return sched_getcpu() == cpu ? 0 : -EAGAIN;
}

/* A FREE from a thread pinned to @cpu, after @delay_ms. */
struct pinned_free {
	pthread_t thread;
	int fd;
	uint32_t index;
	int cpu;
	unsigned int delay_ms;
	int ret;
};

static void *pinned_free_fn(void *arg)
{
	struct pinned_free *d = arg;

	d->ret = pin_to(d->cpu);
	if (d->ret)
		return NULL;
	usleep(d->delay_ms * 1000);
	d->ret = free_frame(d->fd, d->index);
	return NULL;
}

static int start_pinned_free(struct pinned_free *d, int fd, uint32_t index,
			     int cpu, unsigned int delay_ms)
{
	*d = (struct pinned_free){ .fd = fd, .index = index, .cpu = cpu,
				   .delay_ms = delay_ms, .ret = -1 };
	return pthread_create(&d->thread, NULL, pinned_free_fn, d);
}

/*
 * Edge-triggered epoll on @fd, framed here: the first epoll_wait() takes
 * the edge of the fresh pool, then every frame is taken (and, with
 * @until_eagain, one more ALLOC fails) on @cpu_alloc.  A free on @cpu_free
 * is the next edge, whether the frame goes to a CPU's cache or not.
 */
static void epoll_et_case(struct __test_metadata *_metadata, int fd,
			  int cpu_alloc, int cpu_free, bool until_eagain)
{
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLET };
	struct pinned_free d;
	uint32_t idx[NFRAMES];
	uint64_t t0, dt;
	int ep, n;

	ASSERT_EQ(0, pin_to(cpu_alloc));
	ASSERT_EQ(0, frame_default(fd));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	ASSERT_EQ(EPOLLOUT, ev.events);

	ASSERT_EQ(0, take_all(fd, idx, NFRAMES));
	if (until_eagain) {
		ASSERT_EQ(-EAGAIN, alloc_frame(fd, KSALLOC_ALLOC_NOWAIT, 0));
	}
	/* no edge since the first */
	ASSERT_EQ(0, epoll_wait(ep, &ev, 1, 0));

	ASSERT_EQ(0, start_pinned_free(&d, fd, idx[1], cpu_free, 100));
	t0 = now_ms();
	n = epoll_wait(ep, &ev, 1, 2000);
	dt = now_ms() - t0;
	pthread_join(d.thread, NULL);
	ASSERT_EQ(0, d.ret) TH_LOG("FREE on CPU %d", cpu_free);
	ASSERT_EQ(1, n) TH_LOG("no EPOLLOUT %llu ms after a free on CPU %d%s%d%s",
			       (unsigned long long)dt, cpu_free,
			       " (frames taken on CPU ", cpu_alloc,
			       until_eagain ? ", then EAGAIN)" : ")");
	ASSERT_EQ(EPOLLOUT, ev.events);
	/* and the frame is there to take */
	ASSERT_EQ((int)idx[1], alloc_frame(fd, KSALLOC_ALLOC_NOWAIT, 0));
	close(ep);
}

TEST_F(ksalloc, epoll_et_wakes_on_free_same_cpu)
{
	int cpu = allowed_cpu(0), fd2;

	ASSERT_LE(0, cpu);
	epoll_et_case(_metadata, self->fd, cpu, cpu, false);
	fd2 = open(DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	epoll_et_case(_metadata, fd2, cpu, cpu, true);
	close(fd2);
}

TEST_F(ksalloc, epoll_et_wakes_on_free_other_cpu)
{
	int cpu0 = allowed_cpu(0), cpu1 = allowed_cpu(1), fd2;

	if (cpu1 < 0)
		SKIP(return, "needs two CPUs");
	epoll_et_case(_metadata, self->fd, cpu0, cpu1, false);
	fd2 = open(DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	epoll_et_case(_metadata, fd2, cpu0, cpu1, true);
	close(fd2);
}

/*
 * Level-triggered epoll, registered all along: each round the pool runs
 * dry (no event), and one free from a thread, on this CPU or the other in
 * turn, is seen at once.
 */
TEST_F(ksalloc, epoll_lt_repeated)
{
	int cpu0 = allowed_cpu(0), cpu1 = allowed_cpu(1);
	struct epoll_event ev = { .events = EPOLLOUT };
	struct pinned_free d;
	uint32_t idx[NFRAMES];
	uint64_t t0, dt;
	int ep, round, cpu, n, i;

	ASSERT_LE(0, cpu0);
	if (cpu1 < 0)
		cpu1 = cpu0;
	ASSERT_EQ(0, pin_to(cpu0));
	ASSERT_EQ(0, frame_default(self->fd));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->fd, &ev));

	for (round = 0; round < 6; round++) {
		cpu = round & 1 ? cpu1 : cpu0;
		ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 0)) TH_LOG("round %d", round);
		ASSERT_EQ(0, take_all(self->fd, idx, NFRAMES));
		t0 = now_ms();
		ASSERT_EQ(0, epoll_wait(ep, &ev, 1, 100)) TH_LOG("round %d", round);
		ASSERT_LT(now_ms() - t0, 1000U);

		ASSERT_EQ(0, start_pinned_free(&d, self->fd, idx[round % NFRAMES],
					       cpu, 50));
		t0 = now_ms();
		n = epoll_wait(ep, &ev, 1, 2000);
		dt = now_ms() - t0;
		pthread_join(d.thread, NULL);
		ASSERT_EQ(0, d.ret);
		ASSERT_EQ(1, n) TH_LOG("round %d: no EPOLLOUT %llu ms after a free on CPU %d",
				       round, (unsigned long long)dt, cpu);
		ASSERT_EQ(EPOLLOUT, ev.events);
		/* level-triggered: still ready until someone takes it */
		ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 0));
		for (i = 0; i < NFRAMES; i++) {
			if (i != round % NFRAMES) {
				ASSERT_EQ(0, free_frame(self->fd, idx[i]));
			}
		}
	}
	ASSERT_EQ(0, outstanding(self->fd));
	close(ep);
}

/* poll() or select() for a frame, in a thread pinned to @cpu. */
struct poller {
	pthread_t thread;
	int fd;
	int cpu;
	bool use_select;
	int ret;
	short revents;
	uint64_t ms;
	int started;
	int done;
};

static void *poller_fn(void *arg)
{
	struct poller *p = arg;
	struct pollfd pfd = { .fd = p->fd, .events = POLLOUT | POLLWRNORM };
	struct timeval tv = { .tv_sec = 5 };
	uint64_t t0;
	fd_set wfds;

	p->ret = pin_to(p->cpu);
	if (p->ret)
		goto out;
	t0 = now_ms();
	__atomic_store_n(&p->started, 1, __ATOMIC_RELEASE);
	if (p->use_select) {
		FD_ZERO(&wfds);
		FD_SET(p->fd, &wfds);
		p->ret = select(p->fd + 1, NULL, &wfds, NULL, &tv);
		p->revents = FD_ISSET(p->fd, &wfds) ? POLLOUT | POLLWRNORM : 0;
	} else {
		p->ret = poll(&pfd, 1, 5000);
		p->revents = pfd.revents;
	}
	p->ms = now_ms() - t0;
out:
	__atomic_store_n(&p->started, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * A thread blocks in poll() (or select()) on an empty pool; another frees
 * a frame on the poller's CPU or on the other one.  The poller wakes.
 */
TEST_F(ksalloc, poll_wakes_on_cache_free)
{
	int cpu0 = allowed_cpu(0), cpu1 = allowed_cpu(1);
	const struct {
		int poll_cpu, free_cpu;
		bool use_select;
	} rounds[] = {
		{ 0, 0, false }, { 0, 1, false }, { 1, 0, false }, { 0, 1, true },
	};
	uint32_t idx[NFRAMES];
	struct poller p;
	int cpus[2], r;

	ASSERT_LE(0, cpu0);
	cpus[0] = cpu0;
	cpus[1] = cpu1 < 0 ? cpu0 : cpu1;
	ASSERT_EQ(0, pin_to(cpu0));
	ASSERT_EQ(0, frame_default(self->fd));
	ASSERT_EQ(0, take_all(self->fd, idx, NFRAMES));

	for (r = 0; r < (int)ARRAY_SIZE(rounds); r++) {
		p = (struct poller){ .fd = self->fd,
				     .cpu = cpus[rounds[r].poll_cpu],
				     .use_select = rounds[r].use_select };
		ASSERT_EQ(0, pthread_create(&p.thread, NULL, poller_fn, &p));
		ASSERT_EQ(0, wait_flag(&p.started));
		usleep(100000);
		ASSERT_FALSE(__atomic_load_n(&p.done, __ATOMIC_ACQUIRE))
			TH_LOG("round %d: poll did not block", r);
		ASSERT_EQ(0, pin_to(cpus[rounds[r].free_cpu]));
		ASSERT_EQ(0, free_frame(self->fd, idx[r % NFRAMES]));
		ASSERT_EQ(0, wait_flag(&p.done)) TH_LOG("round %d: poll still blocked", r);
		pthread_join(p.thread, NULL);
		ASSERT_EQ(1, p.ret) TH_LOG("round %d", r);
		ASSERT_EQ(POLLOUT | POLLWRNORM, p.revents);
		ASSERT_GE(p.ms, 50U);
		/* empty again, from the first CPU */
		ASSERT_EQ(0, pin_to(cpu0));
		ASSERT_EQ((int)idx[r % NFRAMES],
			  alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0));
	}
}

/* The function-call interrupts CPU @cpu has taken, or -1. */
static long long call_interrupts(int cpu)
{
	char line[4096], *p, *end;
	long long n = -1;
	int col = -1, i;
	FILE *f;

	f = fopen("/proc/interrupts", "re");
	if (!f)
		return -1;
	/* the header names the columns: CPU0 CPU1 ... */
	if (fgets(line, sizeof(line), f)) {
		for (i = 0, p = strtok(line, " \t\n"); p; p = strtok(NULL, " \t\n"), i++) {
			if (!strncmp(p, "CPU", 3) && atoi(p + 3) == cpu)
				col = i;
		}
	}
	while (col >= 0 && fgets(line, sizeof(line), f)) {
		p = line + strspn(line, " ");
		if (strncmp(p, "CAL:", 4))
			continue;
		p += 4;
		for (i = 0; i <= col; i++) {
			n = strtoll(p, &end, 10);
			if (end == p) {
				n = -1;
				break;
			}
			p = end;
		}
		break;
	}
	fclose(f);
	return n;
}

/*
 * A process that polls and tries to allocate on an empty pool, over and
 * over, on one CPU: the other CPU, whose cache holds nothing, gets no
 * function-call IPI for it (SPEC 7.9).
 */
TEST_F(ksalloc, no_ipi_when_empty)
{
	int cpu0 = allowed_cpu(0), cpu1 = allowed_cpu(1);
	struct pollfd pfd = { .fd = self->fd, .events = POLLOUT };
	const int loops = 20000;
	uint32_t idx[NFRAMES];
	long long before, after;
	int i;

	if (cpu1 < 0)
		SKIP(return, "needs two CPUs");
	before = call_interrupts(cpu1);
	if (before < 0)
		SKIP(return, "no CAL row for CPU %d in /proc/interrupts", cpu1);
	ASSERT_EQ(0, pin_to(cpu0));
	ASSERT_EQ(0, frame_default(self->fd));
	ASSERT_EQ(0, take_all(self->fd, idx, NFRAMES));

	before = call_interrupts(cpu1);
	for (i = 0; i < loops; i++) {
		ASSERT_EQ(0, poll(&pfd, 1, 0));
		ASSERT_EQ(-EAGAIN, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0));
	}
	after = call_interrupts(cpu1);
	TH_LOG("CPU %d: %lld function-call interrupts in %d rounds", cpu1,
	       after - before, loops);
	ASSERT_LT(after - before, 50);
}

TEST_F(ksalloc, mmap_shared)
{
	size_t len = (NFRAMES * STRIDE + PAGE - 1) / PAGE * PAGE;
	unsigned char *m1, *m2;
	struct ksalloc_frame fr;
	int i;

	ASSERT_EQ(0, frame_default(self->fd));
	m1 = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(m1 != MAP_FAILED);
	m2 = mmap(NULL, len, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(m2 != MAP_FAILED);
	for (i = 0; i < NFRAMES; i++) {
		fr = (struct ksalloc_frame){ .timeout_ns = 0 };
		ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_ALLOC, &fr));
		ASSERT_LE(fr.offset + FSIZE, len);
		memset(m1 + fr.offset, 0x10 + i, FSIZE);
	}
	/* both mappings show the same pages, frame i at its offset */
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ(0x10 + i, m2[(size_t)i * STRIDE]);
		ASSERT_EQ(0x10 + i, m2[(size_t)i * STRIDE + FSIZE - 1]);
	}
	/* a fresh pool is zeroed, also between frames */
	ASSERT_EQ(0, m2[FSIZE]);
	/* a partial mapping at a page offset works too */
	if (len > PAGE) {
		unsigned char *m3 = mmap(NULL, PAGE, PROT_READ, MAP_SHARED,
					 self->fd, PAGE);

		ASSERT_TRUE(m3 != MAP_FAILED);
		ASSERT_EQ(m1[PAGE], m3[0]);
		munmap(m3, PAGE);
	}
	munmap(m2, len);
	munmap(m1, len);
}

TEST_F(ksalloc, mmap_refused)
{
	size_t len = (NFRAMES * STRIDE + PAGE - 1) / PAGE * PAGE;
	void *m;

	ASSERT_EQ(0, frame_default(self->fd));
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->fd, 0);
	ASSERT_TRUE(m == MAP_FAILED);
	ASSERT_EQ(EINVAL, errno);
	m = mmap(NULL, len, PROT_READ | PROT_EXEC, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(m == MAP_FAILED);
	ASSERT_EQ(EPERM, errno);
	/* beyond the pool: too long, or starting past its end */
	m = mmap(NULL, len + PAGE, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(m == MAP_FAILED);
	ASSERT_EQ(ENXIO, errno);
	m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->fd, len);
	ASSERT_TRUE(m == MAP_FAILED);
	ASSERT_EQ(ENXIO, errno);

	/* and a good mapping cannot be made executable later */
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(m != MAP_FAILED);
	ASSERT_EQ(-1, mprotect(m, len, PROT_READ | PROT_EXEC));
	ASSERT_EQ(EACCES, errno);
	/* nor grown */
	ASSERT_TRUE(mremap(m, len, len + PAGE, MREMAP_MAYMOVE) == MAP_FAILED);
	munmap(m, len);
}

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void scribble(unsigned char *m, size_t len, uint32_t *seed)
{
	size_t i;

	for (i = 0; i + 4 <= len; i += 4) {
		uint32_t v = xorshift(seed);

		memcpy(m + i, &v, 4);
	}
}

TEST_F(ksalloc, scribble_frames_changes_nothing)
{
	const uint32_t frames = 64, size = 3000;
	size_t len = ((size_t)frames * size + PAGE - 1) / PAGE * PAGE;
	struct ksalloc_frame_batch batch;
	uint32_t idx[64], seed = 0x12345678;
	struct ksalloc_stats s;
	unsigned char *m;
	uint32_t i;
	int round;

	ASSERT_EQ(0, set_framing(self->fd, KSALLOC_POOL_NONPAGED, frames,
				 size, 0));
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(m != MAP_FAILED);

	for (round = 0; round < 3; round++) {
		/* all free, all outstanding, half outstanding */
		scribble(m, len, &seed);
		ASSERT_EQ(0, outstanding(self->fd));
		batch = (struct ksalloc_frame_batch){
			.indices = (uintptr_t)idx, .count = frames };
		ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_ALLOC_BATCH, &batch));
		ASSERT_EQ(frames, batch.count);
		scribble(m, len, &seed);
		ASSERT_EQ((int)frames, outstanding(self->fd));
		ASSERT_EQ(-EAGAIN, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0));
		for (i = 0; i < frames; i += 2) {
			ASSERT_EQ(0, free_frame(self->fd, idx[i]));
		}
		scribble(m, len, &seed);
		ASSERT_EQ(-EINVAL, free_frame(self->fd, idx[0]));
		for (i = 0; i < frames / 2; i++) {
			ASSERT_LE(0, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0));
		}
		ASSERT_EQ(-EAGAIN, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0));
		/* every frame exactly once */
		batch = (struct ksalloc_frame_batch){
			.indices = (uintptr_t)idx, .count = frames };
		for (i = 0; i < frames; i++)
			idx[i] = i;
		ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_FREE_BATCH, &batch));
		ASSERT_EQ(frames, batch.count);
	}
	s = stats_of(self->fd);
	ASSERT_EQ(s.allocs, s.frees);
	ASSERT_EQ(frames, s.peak_allocated);
	ASSERT_EQ(0, outstanding(self->fd));
	munmap(m, len);
}

TEST_F(ksalloc, alloc_batch)
{
	uint32_t idx[16];
	struct ksalloc_frame_batch batch = {
		.indices = (uintptr_t)idx, .count = 16 };
	bool seen[NFRAMES] = {};
	struct ksalloc_stats s;
	uint32_t i, got;

	ASSERT_EQ(0, frame_default(self->fd));
	ASSERT_EQ(0, alloc_frame(self->fd, 0, 0));
	memset(idx, 0xff, sizeof(idx));
	/* wants 16, 3 are free */
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_ALLOC_BATCH, &batch));
	ASSERT_EQ(NFRAMES - 1, batch.count);
	ASSERT_EQ(0U, batch.flags);
	for (i = 0; i < batch.count; i++) {
		ASSERT_LT(idx[i], NFRAMES);
		ASSERT_FALSE(seen[idx[i]]);
		seen[idx[i]] = true;
	}
	ASSERT_FALSE(seen[0]);
	/* the array past count is untouched */
	ASSERT_EQ(0xffffffffU, idx[batch.count]);
	ASSERT_EQ(NFRAMES, outstanding(self->fd));

	batch.count = 1;
	ASSERT_EQ(-EAGAIN, xioctl(self->fd, KSALLOC_IOC_ALLOC_BATCH, &batch));
	ASSERT_EQ(0, free_frame(self->fd, 2));
	ASSERT_EQ(0, free_frame(self->fd, 0));
	batch.count = 1;
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_ALLOC_BATCH, &batch));
	ASSERT_EQ(1U, batch.count);
	/* one of the two just freed; which one is the caches' business */
	ASSERT_TRUE(idx[0] == 0 || idx[0] == 2);
	got = idx[0];
	s = stats_of(self->fd);
	ASSERT_EQ(NFRAMES + 1, s.allocs);
	ASSERT_EQ(1U, s.alloc_failures);

	/* a huge count takes what is free and writes no further */
	ASSERT_EQ(0, free_frame(self->fd, got));
	ASSERT_EQ(0, free_frame(self->fd, 3));
	memset(idx, 0xff, sizeof(idx));
	batch.count = 0xffffffff;
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_ALLOC_BATCH, &batch));
	ASSERT_EQ(3U, batch.count);	/* 0, 2 and 3 */
	ASSERT_EQ(0xffffffffU, idx[3]);
	ASSERT_EQ(NFRAMES, outstanding(self->fd));
}

TEST_F(ksalloc, free_batch_partial)
{
	uint32_t idx[5] = { 0, 1, 1, 2, 3 };	/* 1 twice: stops there */
	struct ksalloc_frame_batch batch = {
		.indices = (uintptr_t)idx, .count = 5 };
	int i;

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ(i, alloc_frame(self->fd, 0, 0));
	}
	ASSERT_EQ(-EINVAL, xioctl(self->fd, KSALLOC_IOC_FREE_BATCH, &batch));
	ASSERT_EQ(2U, batch.count);
	ASSERT_EQ(NFRAMES - 2, outstanding(self->fd));
	ASSERT_EQ(-EINVAL, free_frame(self->fd, 0));
	ASSERT_EQ(-EINVAL, free_frame(self->fd, 1));

	/* out of range first: nothing freed */
	idx[0] = NFRAMES;
	idx[1] = 2;
	batch.count = 2;
	ASSERT_EQ(-EINVAL, xioctl(self->fd, KSALLOC_IOC_FREE_BATCH, &batch));
	ASSERT_EQ(0U, batch.count);
	ASSERT_EQ(NFRAMES - 2, outstanding(self->fd));

	/* the rest */
	idx[0] = 3;
	idx[1] = 2;
	batch.count = 2;
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_FREE_BATCH, &batch));
	ASSERT_EQ(2U, batch.count);
	ASSERT_EQ(0, outstanding(self->fd));
}

/* A long FREE_BATCH whose indices run into an unmapped page. */
TEST_F(ksalloc, free_batch_efault_midway)
{
	const uint32_t frames = 200;
	char *edge = page_before_hole();
	uint32_t *idx, n = 150, i;
	struct ksalloc_frame_batch batch;

	ASSERT_TRUE(edge != NULL);
	ASSERT_EQ(0, set_framing(self->fd, KSALLOC_POOL_NONPAGED, frames, 64, 0));
	for (i = 0; i < frames; i++) {
		ASSERT_EQ((int)i, alloc_frame(self->fd, 0, 0));
	}
	/* n readable indices, then the hole */
	idx = (uint32_t *)(edge + PAGE) - n;
	for (i = 0; i < n; i++)
		idx[i] = i;
	batch = (struct ksalloc_frame_batch){
		.indices = (uintptr_t)idx, .count = frames };
	ASSERT_EQ(-EFAULT, xioctl(self->fd, KSALLOC_IOC_FREE_BATCH, &batch));
	/* read in chunks: what was freed is reported, up to n */
	ASSERT_LE(batch.count, n);
	ASSERT_LT(0U, batch.count);
	ASSERT_EQ((int)(frames - batch.count), outstanding(self->fd));
	ASSERT_EQ(-EINVAL, free_frame(self->fd, batch.count - 1));
	ASSERT_EQ(0, free_frame(self->fd, batch.count));

	/* unmapped from the start */
	batch = (struct ksalloc_frame_batch){
		.indices = (uintptr_t)unmapped_address(), .count = 1 };
	ASSERT_EQ(-EFAULT, xioctl(self->fd, KSALLOC_IOC_FREE_BATCH, &batch));
	ASSERT_EQ(0U, batch.count);
	batch.indices = 0;
	batch.count = 1;
	ASSERT_EQ(-EFAULT, xioctl(self->fd, KSALLOC_IOC_ALLOC_BATCH, &batch));
	munmap(edge, PAGE);
}

static int get_ft(int fd, struct ksalloc_functiontable_info *info)
{
	memset(info, 0xff, sizeof(*info));
	return xioctl(fd, KSALLOC_IOC_GET_FUNCTIONTABLE, info);
}

static bool is_kernel_address(uint64_t a)
{
	return a >= 0xffff800000000000ULL;
}

TEST_F(ksalloc, functiontable_kptr_restrict_root)
{
	struct ksalloc_functiontable_info info, first;
	int fd2;

	if (geteuid())
		SKIP(return, "needs root");
	self->kptr_saved = read_int_file(KPTR_RESTRICT);
	ASSERT_LE(0, self->kptr_saved);

	ASSERT_EQ(0, write_int_file(KPTR_RESTRICT, 1));
	ASSERT_EQ(0, frame_default(self->fd));
	ASSERT_EQ(0, get_ft(self->fd, &first));
	ASSERT_EQ(KSALLOC_FT_DISPATCH, first.flags);
	ASSERT_EQ(0U, first.reserved);
	ASSERT_EQ(0U, first.reserved2);
	ASSERT_TRUE(is_kernel_address(first.allocate_frame));
	ASSERT_TRUE(is_kernel_address(first.free_frame));
	ASSERT_NE(first.allocate_frame, first.free_frame);

	/* kptr_restrict 0: root (CAP_SYSLOG) still sees them */
	ASSERT_EQ(0, write_int_file(KPTR_RESTRICT, 0));
	ASSERT_EQ(0, get_ft(self->fd, &info));
	ASSERT_EQ(first.allocate_frame, info.allocate_frame);
	ASSERT_EQ(first.free_frame, info.free_frame);

	/* kptr_restrict 2: nobody does */
	ASSERT_EQ(0, write_int_file(KPTR_RESTRICT, 2));
	ASSERT_EQ(0, get_ft(self->fd, &info));
	ASSERT_EQ(KSALLOC_FT_DISPATCH, info.flags);
	ASSERT_EQ(0U, info.allocate_frame);
	ASSERT_EQ(0U, info.free_frame);
	ASSERT_EQ(0U, info.reserved);
	ASSERT_EQ(0U, info.reserved2);

	/* opened while 2: not later either (judged at open, like kallsyms) */
	fd2 = open(DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, write_int_file(KPTR_RESTRICT, 1));
	ASSERT_EQ(0, frame_default(fd2));
	ASSERT_EQ(0, get_ft(fd2, &info));
	ASSERT_EQ(0U, info.allocate_frame);
	ASSERT_EQ(0U, info.free_frame);
	close(fd2);

	/* the table works meanwhile; ALLOC and FREE are unaffected */
	ASSERT_EQ(0, alloc_frame(self->fd, 0, 0));
	ASSERT_EQ(0, free_frame(self->fd, 0));
}

/* In a child: 0 when the addresses came out as 0, else a step number. */
static int unprivileged_child(bool drop_cap_then_open)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	struct ksalloc_functiontable_info info;
	int fd;

	if (drop_cap_then_open) {
		/* stay uid 0, the owner of the node, without CAP_SYSLOG */
		if (syscall(SYS_capget, &hdr, data))
			return 10;
		data[CAP_TO_INDEX(CAP_SYSLOG)].effective &= ~CAP_TO_MASK(CAP_SYSLOG);
		data[CAP_TO_INDEX(CAP_SYSLOG)].permitted &= ~CAP_TO_MASK(CAP_SYSLOG);
		data[CAP_TO_INDEX(CAP_SYSLOG)].inheritable &= ~CAP_TO_MASK(CAP_SYSLOG);
		if (syscall(SYS_capset, &hdr, data))
			return 11;
		fd = open(DEV, O_RDWR);
		if (fd < 0)
			return 12;
	} else {
		/* opened as root, then privileges dropped */
		fd = open(DEV, O_RDWR);
		if (fd < 0)
			return 20;
		if (setgid(65534) || setuid(65534))
			return 21;
	}
	if (frame_default(fd))
		return 30;
	if (get_ft(fd, &info))
		return 31;
	if (info.flags != KSALLOC_FT_DISPATCH || info.reserved || info.reserved2)
		return 32;
	if (info.allocate_frame || info.free_frame)
		return 33;
	if (alloc_frame(fd, 0, 0) != 0 || free_frame(fd, 0))
		return 34;
	return 0;
}

TEST_F(ksalloc, functiontable_unprivileged_sees_zero)
{
	struct ksalloc_functiontable_info info;
	int mode, status;
	pid_t pid;

	if (geteuid())
		SKIP(return, "needs root to drop privileges");
	self->kptr_saved = read_int_file(KPTR_RESTRICT);
	ASSERT_LE(0, self->kptr_saved);
	/* the rule that shows root the addresses, and only root */
	ASSERT_EQ(0, write_int_file(KPTR_RESTRICT, 1));

	/* the check itself can fail: root does see the addresses */
	ASSERT_EQ(0, frame_default(self->fd));
	ASSERT_EQ(0, get_ft(self->fd, &info));
	ASSERT_NE(0U, info.allocate_frame);

	for (mode = 0; mode < 2; mode++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			_exit(unprivileged_child(mode));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("mode %d", mode);
	}
}

TEST_F(ksalloc, paged_pool)
{
	struct ksalloc_functiontable_info info;
	struct ksalloc_status st;
	unsigned char *m;
	int i;

	ASSERT_EQ(0, set_framing(self->fd, KSALLOC_POOL_PAGED, NFRAMES, FSIZE,
				 FALIGN));
	ASSERT_EQ(-EOPNOTSUPP, get_ft(self->fd, &info));
	ASSERT_EQ(0, xioctl(self->fd, KSALLOC_IOC_GET_STATUS, &st));
	ASSERT_EQ(KSALLOC_POOL_PAGED, st.framing.pool_type);
	m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(m != MAP_FAILED);
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ(i, alloc_frame(self->fd, 0, 0));
		m[i * STRIDE] = i;
	}
	ASSERT_EQ(-EAGAIN, alloc_frame(self->fd, 0, 0));
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ(0, free_frame(self->fd, i));
	}
	ASSERT_EQ(-EOPNOTSUPP, get_ft(self->fd, &info));
	munmap(m, PAGE);
}

/*
 * Access mode (SPEC 7.2): a descriptor opened read-only may only look.
 * Every call that changes something is -EBADF on it, before the check for
 * a framing (-EBADFD); the reports and poll() answer as on any unframed
 * handle.  Write-only is enough for everything but mmap().
 */
TEST_F(ksalloc, readonly_descriptor_ebadf)
{
	struct ksalloc_framing framing = {
		.frames = NFRAMES, .frame_size = FSIZE, .alignment = FALIGN };
	struct ksalloc_frame alloc = { .flags = KSALLOC_ALLOC_NOWAIT };
	struct ksalloc_frame fr = { .index = 0 };
	uint32_t idx[NFRAMES] = { 0 };
	struct ksalloc_frame_batch batch = {
		.indices = (uintptr_t)idx, .count = 1 };
	struct ksalloc_functiontable_info info = {};
	const struct {
		const char *name;
		unsigned long cmd;
		void *arg;
	} writers[] = {
		{ "SET_FRAMING", KSALLOC_IOC_SET_FRAMING, &framing },
		{ "GET_FUNCTIONTABLE", KSALLOC_IOC_GET_FUNCTIONTABLE, &info },
		{ "ALLOC", KSALLOC_IOC_ALLOC, &alloc },
		{ "FREE", KSALLOC_IOC_FREE, &fr },
		{ "ALLOC_BATCH", KSALLOC_IOC_ALLOC_BATCH, &batch },
		{ "FREE_BATCH", KSALLOC_IOC_FREE_BATCH, &batch },
	};
	struct pollfd pfd = { .events = POLLOUT };
	struct ksalloc_stats s;
	char buf[128] = {};
	size_t i;
	int ro, wo;

	ro = open(DEV, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, ro);
	for (i = 0; i < ARRAY_SIZE(writers); i++) {
		EXPECT_EQ(-EBADF, xioctl(ro, writers[i].cmd, writers[i].arg))
			TH_LOG("%s on O_RDONLY", writers[i].name);
	}
	EXPECT_EQ(-ENOTTY, xioctl(ro, _IO(KSALLOC_IOC_MAGIC, 0x3f), buf));
	/* SET_FRAMING did nothing: still unframed */
	EXPECT_EQ(-EBADFD, xioctl(ro, KSALLOC_IOC_GET_STATUS, buf));
	EXPECT_EQ(-EBADFD, xioctl(ro, KSALLOC_IOC_GET_STATS, buf));
	EXPECT_TRUE(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, ro, 0) == MAP_FAILED);
	EXPECT_EQ(EBADFD, errno);
	pfd.fd = ro;
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLERR, pfd.revents);
	close(ro);

	wo = open(DEV, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, wo);
	ASSERT_EQ(0, xioctl(wo, KSALLOC_IOC_SET_FRAMING, &framing));
	ASSERT_EQ(0, xioctl(wo, KSALLOC_IOC_GET_FUNCTIONTABLE, &info));
	ASSERT_EQ(KSALLOC_FT_DISPATCH, info.flags);
	ASSERT_EQ(0, xioctl(wo, KSALLOC_IOC_ALLOC, &alloc));
	ASSERT_EQ(0U, alloc.index);
	ASSERT_EQ(0, xioctl(wo, KSALLOC_IOC_FREE, &fr));
	batch.count = NFRAMES;
	ASSERT_EQ(0, xioctl(wo, KSALLOC_IOC_ALLOC_BATCH, &batch));
	ASSERT_EQ(NFRAMES, batch.count);
	ASSERT_EQ(NFRAMES, outstanding(wo));
	ASSERT_EQ(0, xioctl(wo, KSALLOC_IOC_FREE_BATCH, &batch));
	ASSERT_EQ(NFRAMES, batch.count);
	ASSERT_EQ(0, outstanding(wo));
	s = stats_of(wo);
	ASSERT_EQ(NFRAMES + 1, s.allocs);
	ASSERT_EQ(NFRAMES + 1, s.frees);
	pfd.fd = wo;
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	ASSERT_EQ(POLLOUT, pfd.revents);
	close(wo);
}

#define PRODUCER	"/dev/ksalloc_producer"

/* KSALLOC_PRODUCER_IOC_HOLD: the index of the frame now held, or -errno. */
static int producer_hold(int pfd)
{
	uint32_t index = ~0U;
	int ret = xioctl(pfd, KSALLOC_PRODUCER_IOC_HOLD, &index);

	return ret ? ret : (int)index;
}

static int producer_attach(int pfd, int fd)
{
	struct ksalloc_producer_attach a = { .fd = fd };

	return xioctl(pfd, KSALLOC_PRODUCER_IOC_ATTACH, &a);
}

/*
 * Who may free what (SPEC 7.1): a frame held by kernel code (here taken by
 * the sample producer through the function table, and kept) cannot be
 * freed from user space, by FREE or FREE_BATCH, and nothing changes when
 * user space tries; the producer's detach and close free it.  Needs
 * ksalloc_producer.ko.
 */
TEST_F(ksalloc, free_kernel_held_frame_einval)
{
	const uint32_t frames = KSALLOC_PRODUCER_MAX_HELD + 2;
	struct ksalloc_stats before, after;
	struct ksalloc_frame_batch batch;
	uint32_t held[KSALLOC_PRODUCER_MAX_HELD], idx[2];
	int pfd, user, n, i, j;

	if (access(PRODUCER, F_OK))
		SKIP(return, "no %s (ksalloc_producer.ko not loaded)", PRODUCER);
	ASSERT_EQ(0, set_framing(self->fd, KSALLOC_POOL_NONPAGED, frames,
				 FSIZE, FALIGN));
	pfd = open(PRODUCER, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, pfd);
	ASSERT_EQ(-ENOTCONN, producer_hold(pfd));
	ASSERT_EQ(0, producer_attach(pfd, self->fd));

	n = producer_hold(pfd);
	ASSERT_LE(0, n) TH_LOG("HOLD: %s", strerror(-n));
	ASSERT_GT((int)frames, n);
	held[0] = n;
	ASSERT_EQ(1, outstanding(self->fd));
	before = stats_of(self->fd);
	ASSERT_EQ(-EINVAL, free_frame(self->fd, held[0]));
	batch = (struct ksalloc_frame_batch){
		.indices = (uintptr_t)held, .count = 1 };
	ASSERT_EQ(-EINVAL, xioctl(self->fd, KSALLOC_IOC_FREE_BATCH, &batch));
	ASSERT_EQ(0U, batch.count);
	after = stats_of(self->fd);
	ASSERT_EQ(0, memcmp(&before, &after, sizeof(before)));
	ASSERT_EQ(1, outstanding(self->fd));

	/* a batch frees user space's frame and stops at the kernel's */
	user = alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0);
	ASSERT_LE(0, user);
	idx[0] = user;
	idx[1] = held[0];
	batch = (struct ksalloc_frame_batch){
		.indices = (uintptr_t)idx, .count = 2 };
	ASSERT_EQ(-EINVAL, xioctl(self->fd, KSALLOC_IOC_FREE_BATCH, &batch));
	ASSERT_EQ(1U, batch.count);
	ASSERT_EQ(1, outstanding(self->fd));

	/* the producer holds up to its limit, each frame once */
	for (i = 1; i < KSALLOC_PRODUCER_MAX_HELD; i++) {
		n = producer_hold(pfd);
		ASSERT_LE(0, n) TH_LOG("HOLD %d: %s", i, strerror(-n));
		ASSERT_GT((int)frames, n);
		held[i] = n;
		for (j = 0; j < i; j++) {
			ASSERT_NE(held[j], held[i]);
		}
		ASSERT_EQ(-EINVAL, free_frame(self->fd, held[i]));
	}
	ASSERT_EQ(-ENOSPC, producer_hold(pfd));
	ASSERT_EQ(KSALLOC_PRODUCER_MAX_HELD, outstanding(self->fd));

	/* the detach gives them all back */
	ASSERT_EQ(0, xioctl(pfd, KSALLOC_PRODUCER_IOC_DETACH, NULL));
	ASSERT_EQ(0, outstanding(self->fd));
	ASSERT_EQ(-ENOTCONN, producer_hold(pfd));

	/* none free: -ENOMEM; the close of the producer frees what it held */
	ASSERT_EQ(0, producer_attach(pfd, self->fd));
	for (i = 0; i < (int)frames - 1; i++) {
		ASSERT_LE(0, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0));
	}
	n = producer_hold(pfd);
	ASSERT_LE(0, n);
	held[0] = n;
	ASSERT_EQ(-ENOMEM, producer_hold(pfd));
	ASSERT_EQ(-EINVAL, free_frame(self->fd, held[0]));
	ASSERT_EQ((int)frames, outstanding(self->fd));
	close(pfd);
	ASSERT_EQ((int)frames - 1, outstanding(self->fd));
	ASSERT_EQ((int)held[0], alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0));
}

/* Closing one of two descriptors is no close of the handle. */
TEST_F(ksalloc, close_dup_while_waiting)
{
	struct waiter w;
	int fd2, i;

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ(i, alloc_frame(self->fd, 0, 0));
	}
	fd2 = dup(self->fd);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, start_waiter(&w, fd2, -1));
	ASSERT_EQ(0, wait_waiters(fd2, 1));
	close(self->fd);
	self->fd = -1;
	usleep(50000);
	ASSERT_FALSE(is_done(&w));
	ASSERT_EQ(0, free_frame(fd2, 1));
	ASSERT_EQ(0, wait_flag(&w.done));
	pthread_join(w.thread, NULL);
	ASSERT_EQ(0, w.ret);
	ASSERT_EQ(1U, w.index);
	close(fd2);
}

/*
 * The last close while a thread waits in ALLOC: the waiting ioctl holds the
 * file, so the handle lives until it returns (here by its timeout), and
 * the release comes after.
 */
TEST_F(ksalloc, close_last_fd_while_waiting)
{
	struct waiter w;
	int i, fd;

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ(i, alloc_frame(self->fd, 0, 0));
	}
	ASSERT_EQ(0, start_waiter(&w, self->fd, 300000000));
	ASSERT_EQ(0, wait_waiters(self->fd, 1));
	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(0, wait_flag(&w.done));
	pthread_join(w.thread, NULL);
	ASSERT_EQ(-ETIMEDOUT, w.ret);

	/* and the device is fine */
	fd = open(DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, frame_default(fd));
	ASSERT_EQ(0, alloc_frame(fd, 0, 0));
	close(fd);
}

TEST_F(ksalloc, mapping_outlives_fd)
{
	unsigned char *m;
	size_t i;

	ASSERT_EQ(0, frame_default(self->fd));
	m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(m != MAP_FAILED);
	ASSERT_EQ(0, alloc_frame(self->fd, 0, 0));
	memset(m, 0xa5, FSIZE);
	close(self->fd);
	self->fd = -1;
	for (i = 0; i < FSIZE; i++) {
		ASSERT_EQ(0xa5, m[i]);
	}
	memset(m, 0x5a, PAGE);
	ASSERT_EQ(0x5a, m[PAGE - 1]);
	ASSERT_EQ(0, munmap(m, PAGE));
}

/*
 * Frames a process never freed are given back when its last descriptor
 * goes: else every such close would leak the pool and its share of
 * max_total_bytes, and framing would soon fail with -ENOMEM.
 */
TEST_F(ksalloc, release_frees_user_frames)
{
	uint64_t max_total = param("max_total_bytes", 256 << 20);
	uint64_t max_pool = param("max_pool_bytes", 64 << 20);
	uint64_t max_size = param("max_frame_size", 4 << 20);
	uint64_t pool = max_pool < (16 << 20) ? max_pool : (16 << 20);
	uint32_t size, frames, rounds, r;
	struct ksalloc_frame_batch batch;
	uint32_t idx[2];
	int fd;

	size = (uint32_t)((pool / 4 < max_size ? pool / 4 : max_size) /
			  PAGE * PAGE);
	ASSERT_LT(0U, size);
	frames = (uint32_t)(pool / size);
	rounds = (uint32_t)(max_total / ((uint64_t)frames * size)) + 2;
	if (rounds > 100)
		SKIP(return, "max_total_bytes too large to exhaust");

	close(self->fd);
	self->fd = -1;
	for (r = 0; r < rounds; r++) {
		fd = open(DEV, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, set_framing(fd, KSALLOC_POOL_NONPAGED, frames,
					 size, 0)) TH_LOG("round %u of %u", r, rounds);
		ASSERT_EQ(0, alloc_frame(fd, 0, 0));
		batch = (struct ksalloc_frame_batch){
			.indices = (uintptr_t)idx, .count = 2 };
		ASSERT_EQ(0, xioctl(fd, KSALLOC_IOC_ALLOC_BATCH, &batch));
		close(fd);	/* with 3 frames out */
	}
}

struct stress {
	int fd;
	unsigned char *map;
	uint32_t id;
	int iterations;
	int errors;
};

static void *stress_fn(void *arg)
{
	struct stress *s = arg;
	struct ksalloc_frame fr;
	int i;

	for (i = 0; i < s->iterations; i++) {
		uint32_t *owner;

		fr = (struct ksalloc_frame){ .timeout_ns = -1 };
		if (xioctl(s->fd, KSALLOC_IOC_ALLOC, &fr)) {
			s->errors++;
			continue;
		}
		owner = (uint32_t *)(s->map + fr.offset);
		__atomic_store_n(owner, s->id, __ATOMIC_RELAXED);
		if (!(i & 7))
			sched_yield();
		/* nobody else holds this frame */
		if (__atomic_load_n(owner, __ATOMIC_RELAXED) != s->id)
			s->errors++;
		if (free_frame(s->fd, fr.index))
			s->errors++;
	}
	return NULL;
}

TEST_F_TIMEOUT(ksalloc, threads_stress, 120)
{
	struct stress st[4];
	pthread_t t[4];
	struct ksalloc_stats s;
	unsigned char *m;
	int i;

	ASSERT_EQ(0, set_framing(self->fd, KSALLOC_POOL_NONPAGED, 2, 64, 63));
	m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(m != MAP_FAILED);
	for (i = 0; i < 4; i++) {
		st[i] = (struct stress){ .fd = self->fd, .map = m, .id = i + 1,
					 .iterations = 2000 };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, stress_fn, &st[i]));
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ASSERT_EQ(0, st[i].errors) TH_LOG("thread %d", i);
	}
	s = stats_of(self->fd);
	ASSERT_EQ(8000U, s.allocs);
	ASSERT_EQ(8000U, s.frees);
	ASSERT_EQ(0U, s.waiters);
	ASSERT_EQ(2U, s.peak_allocated);
	ASSERT_EQ(0, outstanding(self->fd));
	munmap(m, PAGE);
}

TEST_HARNESS_MAIN
