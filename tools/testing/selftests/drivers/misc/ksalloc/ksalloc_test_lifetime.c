// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_test_lifetime.c - selftests of /dev/ksalloc, included by
 * ksalloc_test.c.
 *
 * The function-table report under kptr_restrict and without privileges,
 * paged pools, access modes, a frame the producer holds, closing while
 * waiting, mappings and frames that outlive the descriptor, and a threads
 * stress.
 */
#include "ksalloc_test.h"

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
		ASSERT_EQ(0, free_frame(self->fd, i))
			TH_LOG("frame %d", i);
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
	struct ksalloc_dmabuf dmabuf = { .index = KSALLOC_DMABUF_POOL };
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
		{ "EXPORT_DMABUF", KSALLOC_IOC_EXPORT_DMABUF, &dmabuf },
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
	EXPECT_EQ(-EBADFD, xioctl(ro, KSALLOC_IOC_GET_ID, buf));
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
			ASSERT_NE(held[j], held[i])
				TH_LOG("frames %d and %d", j, i);
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
		ASSERT_LE(0, alloc_frame(self->fd, KSALLOC_ALLOC_NOWAIT, 0))
			TH_LOG("allocation %d", i);
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

/*
 * ATTACH takes only a descriptor that may change the allocator (SPEC 7.2):
 * a read-only one is -EBADF, and nothing is attached.
 */
TEST_F(ksalloc, producer_attach_readonly_ebadf)
{
	char path[64];
	int pfd, ro;

	if (access(PRODUCER, F_OK))
		SKIP(return, "no %s (ksalloc_producer.ko not loaded)", PRODUCER);
	ASSERT_EQ(0, frame_default(self->fd));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", self->fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, ro);
	pfd = open(PRODUCER, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, pfd);
	ASSERT_EQ(-EBADF, producer_attach(pfd, ro));
	ASSERT_EQ(-ENOTCONN, producer_hold(pfd));
	ASSERT_EQ(0, producer_attach(pfd, self->fd));
	close(pfd);
	close(ro);
}

/*
 * CREATE: the producer makes the allocator in the kernel and hands back a
 * descriptor of it, which maps and frees like one user space framed.
 * Unknown flags and reserved framing bits are -EINVAL, a second CREATE or
 * an ATTACH on top is -EBUSY, and the producer's close closes it: frames
 * user space still holds come back, and the descriptor sees -ENODEV.
 */
TEST_F(ksalloc, producer_create)
{
	struct ksalloc_producer_create c = { 0 };
	struct ksalloc_status st;
	int pfd, fd, i, held;
	uint8_t *map;

	if (access(PRODUCER, F_OK))
		SKIP(return, "no %s (ksalloc_producer.ko not loaded)", PRODUCER);
	pfd = open(PRODUCER, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, pfd);
	c.framing = (struct ksalloc_framing){ .frames = 4, .frame_size = 6000 };
	c.flags = ~KSALLOC_PRODUCER_CREATE_CONTIG;
	ASSERT_EQ(-EINVAL, xioctl(pfd, KSALLOC_PRODUCER_IOC_CREATE, &c));
	c.flags = 0;
	c.framing.reserved = 1;
	ASSERT_EQ(-EINVAL, xioctl(pfd, KSALLOC_PRODUCER_IOC_CREATE, &c));
	c.framing.reserved = 0;
	c.fd = -1;
	ASSERT_EQ(0, xioctl(pfd, KSALLOC_PRODUCER_IOC_CREATE, &c));
	fd = c.fd;
	ASSERT_LE(0, fd);
	ASSERT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(-EBUSY, xioctl(pfd, KSALLOC_PRODUCER_IOC_CREATE, &c));
	ASSERT_EQ(-EBUSY, producer_attach(pfd, self->fd));

	ASSERT_EQ(0, xioctl(fd, KSALLOC_IOC_GET_STATUS, &st));
	ASSERT_EQ(4U, st.framing.frames);
	ASSERT_EQ(6000U, st.framing.frame_size);
	map = mmap(NULL, 4 * 6000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	for (i = 0; i < 4; i++) {
		held = alloc_frame(fd, KSALLOC_ALLOC_NOWAIT, 0);
		ASSERT_LE(0, held) TH_LOG("allocation %d", i);
		memset(map + (size_t)held * 6000, 0xa5, 6000);
	}
	ASSERT_EQ(-EAGAIN, alloc_frame(fd, KSALLOC_ALLOC_NOWAIT, 0));
	ASSERT_EQ(0, free_frame(fd, held));
	ASSERT_EQ(-EINVAL, free_frame(fd, held));
	ASSERT_EQ(3, outstanding(fd));

	close(pfd);
	ASSERT_EQ(-ENODEV, alloc_frame(fd, 0, -1));
	ASSERT_EQ(0, munmap(map, 4 * 6000));
	close(fd);
}

/* Closing one of two descriptors is no close of the handle. */
TEST_F(ksalloc, close_dup_while_waiting)
{
	struct waiter w;
	int fd2, i;

	ASSERT_EQ(0, frame_default(self->fd));
	for (i = 0; i < NFRAMES; i++) {
		ASSERT_EQ(i, alloc_frame(self->fd, 0, 0))
			TH_LOG("frame %d", i);
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
		ASSERT_EQ(i, alloc_frame(self->fd, 0, 0))
			TH_LOG("frame %d", i);
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
		ASSERT_EQ(0xa5, m[i])
			TH_LOG("byte %zu", i);
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
