// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_fuzz_hold - holds framed descriptors of /dev/ksalloc, for the
 * limit and memory-cgroup tests (scripts/guest/hardening.sh)
 *
 *	ksalloc_fuzz_hold --frames N --size S [--fds K] [--seconds T]
 *			  [--touch] [--cgroup DIR] [--device PATH]
 *
 * Opens --fds descriptors (default 1), frames each with --frames x --size,
 * prints "framed X/K" and the errno of the first that failed, "ready",
 * then waits --seconds (default 0; until SIGTERM/SIGINT when < 0) and
 * closes them.  --touch maps each pool, allocates every frame and writes
 * every page.  --cgroup moves the process into the cgroup v2 directory DIR
 * after the opens and before the framings, so that the opener and the
 * caller of SET_FRAMING are in different memory cgroups.  Exit status 0
 * when all were framed, 1 otherwise, 2 usage or setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/ksalloc.h>

#include "fuzz.h"

static volatile sig_atomic_t hold_stop;

static void on_hold_signal(int sig)
{
	(void)sig;
	hold_stop = 1;
}

/* Moves this process into the cgroup v2 directory @dir; 0 or -1. */
static int move_to_cgroup(const char *dir)
{
	char path[4096];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		errmsg("open %s: %s", path, strerror(errno));
		return -1;
	}
	/* "0" is the writer itself */
	ok = write(fd, "0\n", 2) == 2;
	if (!ok)
		errmsg("write %s: %s", path, strerror(errno));
	close(fd);
	return ok ? 0 : -1;
}

static int cmd_hold(uint32_t frames, uint32_t size, unsigned int fds, double secs,
		    bool touch, const char *cgroup)
{
	struct sigaction sa = { .sa_handler = on_hold_signal };
	struct ksalloc_framing f = { .frames = frames, .frame_size = size };
	int *fd = calloc(fds, sizeof(*fd));
	unsigned int i, opened, framed = 0;
	int first_err = 0, open_err = 0;
	uint64_t end;

	if (!fd)
		return 2;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (opened = 0; opened < fds; opened++) {
		fd[opened] = open(device, O_RDWR | O_CLOEXEC);
		if (fd[opened] < 0) {
			open_err = errno;
			break;
		}
	}
	if (cgroup && move_to_cgroup(cgroup))
		return 2;
	for (i = 0; i < opened; i++) {
		if (ioctl(fd[i], KSALLOC_IOC_SET_FRAMING, &f)) {
			first_err = errno;
			break;
		}
		framed++;
		if (touch) {
			size_t len = ((size_t)frames * size + page - 1) / page * page;
			struct ksalloc_frame fr = { .flags = KSALLOC_ALLOC_NOWAIT };
			unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
						MAP_SHARED, fd[i], 0);

			if (p == MAP_FAILED) {
				errmsg("mmap %zu bytes: %s", len, strerror(errno));
				return 2;
			}
			memset(p, 0x5a, len);
			while (!ioctl(fd[i], KSALLOC_IOC_ALLOC, &fr))
				;
			munmap(p, len);
		}
	}
	/* Only the framed ones are held. */
	for (i = framed; i < opened; i++)
		close(fd[i]);
	if (!first_err)
		first_err = open_err;
	printf("framed %u/%u %u x %u%s%s\n", framed, fds, frames, size,
	       first_err ? " error " : "", first_err ? strerrorname_np(first_err) : "");
	printf("ready\n");
	fflush(stdout);
	end = now_ns() + (uint64_t)(secs * 1e9);
	while (!hold_stop && (secs < 0 || now_ns() < end))
		usleep(20000);
	for (i = 0; i < framed; i++)
		close(fd[i]);
	free(fd);
	return framed == fds ? 0 : 1;
}

static void hold_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s --frames N --size S [--fds K] [--seconds T] [--touch]\n"
		"       [--cgroup DIR] [--device PATH]\n"
		"\n"
		"Opens --fds descriptors (default 1), frames each with --frames x\n"
		"--size, prints 'framed X/K [error ERRNO]' and 'ready', waits --seconds\n"
		"(default 0, < 0 until SIGTERM) and closes them.  --touch maps each pool,\n"
		"writes it and allocates every frame.  --cgroup moves the process into the\n"
		"cgroup v2 directory DIR after opening and before framing.  Exit status 0\n"
		"when all were framed.\n", prog);
}

int main(int argc, char **argv)
{
	enum { OPT_FRAMES = 256, OPT_SIZE, OPT_FDS, OPT_SECONDS, OPT_TOUCH,
	       OPT_CGROUP, OPT_DEVICE };
	static const struct option opts[] = {
		{ "frames", required_argument, NULL, OPT_FRAMES },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "fds", required_argument, NULL, OPT_FDS },
		{ "seconds", required_argument, NULL, OPT_SECONDS },
		{ "touch", no_argument, NULL, OPT_TOUCH },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "device", required_argument, NULL, OPT_DEVICE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long frames = 0, size = 0, fds = 1;
	const char *cgroup = NULL;
	double secs = 0;
	bool touch = false, ok = true;
	int c;

	fuzz_init("ksalloc_fuzz_hold");

	while (ok && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_FRAMES:
			ok = parse_number(optarg, &frames);
			break;
		case OPT_SIZE:
			ok = parse_number(optarg, &size);
			break;
		case OPT_FDS:
			ok = parse_number(optarg, &fds);
			break;
		case OPT_SECONDS:
			ok = parse_seconds(optarg, &secs);
			break;
		case OPT_TOUCH:
			touch = true;
			break;
		case OPT_CGROUP:
			cgroup = optarg;
			break;
		case OPT_DEVICE:
			device = optarg;
			break;
		case 'h':
			hold_usage(stdout);
			return 0;
		default:
			hold_usage(stderr);
			return 2;
		}
	}
	if (!options_done(ok, argc, argv))
		return 2;
	if (!frames || frames > UINT32_MAX || !size || size > UINT32_MAX ||
	    !fds || fds > 100000) {
		errmsg("needs --frames and --size (and --fds 1..100000)");
		return 2;
	}
	return cmd_hold(frames, size, fds, secs, touch, cgroup);
}
