// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_test_abi.c - selftests of /dev/ksalloc, included by
 * ksalloc_test.c.
 *
 * The ioctl numbers and sizes, framing, the errnos of unframed and refused
 * handles, bad and read-only pointers, misaligned arguments, reserved fields
 * and flags.
 */
#include "ksalloc_test.h"

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
			ASSERT_EQ(0, frame_default(self->fd))
				TH_LOG("framing for round 1");
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
			unsigned long cmd = all_cmds[i].cmd, c0;
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
			c0 = _IOC(_IOC_DIR(cmd), KSALLOC_IOC_MAGIC, _IOC_NR(cmd), 0);
			EXPECT_EQ(-ENOTTY, xioctl(self->fd, c0, buf));
			for (d = 0; d < 4; d++) {
				if ((unsigned int)dirs[d] == _IOC_DIR(cmd))
					continue;
				c0 = _IOC(dirs[d], KSALLOC_IOC_MAGIC, _IOC_NR(cmd), size);
				EXPECT_EQ(-ENOTTY, xioctl(self->fd, c0, buf))
					TH_LOG("%s dir %d", all_cmds[i].name,
					       dirs[d]);
			}
		}
		if (!round) {
			ASSERT_EQ(0, frame_default(self->fd))
				TH_LOG("framing for round 1");
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

	ASSERT_TRUE(!!edge);
	ASSERT_TRUE(!!hole);
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
	ASSERT_TRUE(!!ro);
	ASSERT_EQ(-EFAULT, xioctl(self->fd, KSALLOC_IOC_GET_STATUS, ro));
	ASSERT_EQ(-EFAULT, xioctl(self->fd, KSALLOC_IOC_GET_STATS, ro));
	ASSERT_EQ(-EFAULT, xioctl(self->fd, KSALLOC_IOC_GET_FUNCTIONTABLE, ro));
	ASSERT_EQ(-EFAULT, xioctl(self->fd, KSALLOC_IOC_GET_ID, ro));

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
	ASSERT_TRUE(!!ro);
	batch.indices = (uintptr_t)ro;
	ASSERT_EQ(-EFAULT, xioctl(self->fd, KSALLOC_IOC_ALLOC_BATCH, &batch));
	ASSERT_EQ(0, outstanding(self->fd));
	munmap(ro, PAGE);

	/* ALLOC_BATCH: the struct itself read-only */
	batch.indices = (uintptr_t)indices;
	ro = readonly_copy(&batch, sizeof(batch));
	ASSERT_TRUE(!!ro);
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
