// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc_fuzz_faults - fails the allocations of KSALLOC_IOC_SET_FRAMING
 * one at a time, through /proc/thread-self/fail-nth (scripts/guest/fuzz.sh)
 *
 *	ksalloc_fuzz_faults [--frames N] [--size S] [--nth N] [--device PATH]
 *
 * Needs FAULT_INJECTION with FAILSLAB and FAIL_PAGE_ALLOC, set up as the
 * guest does it (debugfs: ignore-gfp-wait N, verbose 0).  Exit status 0
 * when every fault ended cleanly and at least one was injected, 1
 * otherwise, 2 usage or setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/ksalloc.h>

#include "fuzz.h"

/*
 * faults: fails the 1st, 2nd, ... allocation that SET_FRAMING makes, one at
 * a time, through /proc/thread-self/fail-nth (FAULT_INJECTION, FAILSLAB,
 * FAIL_PAGE_ALLOC).  An injected fault must end in ENOMEM, or in a framing
 * that works (the allocation site did without); then the handle must
 * allocate and free a frame.  Stops at the first n that no allocation
 * reaches: that framing must have worked untouched.  With @only, fails
 * the @only-th allocation alone, so that the caller can unload the module
 * after each fault.
 */
static int cmd_faults(uint32_t frames, uint32_t size, unsigned int only)
{
	struct ksalloc_framing f = { .frames = frames, .frame_size = size };
	unsigned int injected = 0, enomem = 0, recovered = 0, bad = 0, n;
	char buf[32];
	int fd, nth, r, err;
	ssize_t len;

	nth = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (nth < 0) {
		errmsg("/proc/thread-self/fail-nth: %s (no FAULT_INJECTION?)",
		       strerror(errno));
		return 2;
	}
	for (n = only ? only : 1; n < 100000 && (!only || n == only); n++) {
		struct ksalloc_frame fr = { .flags = KSALLOC_ALLOC_NOWAIT };
		struct ksalloc_frame back = { 0 };

		fd = open(device, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			errmsg("open %s: %s", device, strerror(errno));
			return 2;
		}
		len = snprintf(buf, sizeof(buf), "%u", n);
		if (pwrite(nth, buf, len, 0) != len) {
			errmsg("fail-nth: %s", strerror(errno));
			return 2;
		}
		r = ioctl(fd, KSALLOC_IOC_SET_FRAMING, &f);
		err = errno;
		len = pread(nth, buf, sizeof(buf) - 1, 0);
		buf[len > 0 ? len : 0] = 0;
		/* Not 0: fewer than n allocations, so none failed. */
		if (atoi(buf)) {
			if (pwrite(nth, "0", 1, 0) != 1 || r) {
				errmsg("framing without a fault failed: %s", strerror(err));
				bad++;
			}
			close(fd);
			break;
		}
		injected++;
		if (!r) {
			recovered++;
			r = ioctl(fd, KSALLOC_IOC_ALLOC, &fr);
			if (!r) {
				back.index = fr.index;
				r = ioctl(fd, KSALLOC_IOC_FREE, &back);
			}
			if (r) {
				errmsg("fault %u: framed, but ALLOC+FREE: %s", n, strerror(errno));
				bad++;
			}
		} else if (err == ENOMEM) {
			enomem++;
		} else {
			errmsg("fault %u: SET_FRAMING failed with %s, not ENOMEM", n,
			       strerrorname_np(err));
			bad++;
		}
		close(fd);
	}
	close(nth);
	printf("faults %u injected: %u ENOMEM, %u recovered, %u wrong\n",
	       injected, enomem, recovered, bad);
	return bad || !injected ? 1 : 0;
}

static void faults_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [--frames N] [--size S] [--nth N] [--device PATH]\n"
		"\n"
		"Fails the n-th allocation of SET_FRAMING (--frames x --size, default\n"
		"64 x 4096) for n = 1, 2, ... through /proc/thread-self/fail-nth; each\n"
		"must give ENOMEM or a framing that works.  --nth N fails the N-th alone.\n"
		"Needs FAULT_INJECTION.  Exit status 0 when every fault ended cleanly and\n"
		"at least one was injected.\n", prog);
}

int main(int argc, char **argv)
{
	enum { OPT_FRAMES = 256, OPT_SIZE, OPT_NTH, OPT_DEVICE };
	static const struct option opts[] = {
		{ "frames", required_argument, NULL, OPT_FRAMES },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "nth", required_argument, NULL, OPT_NTH },
		{ "device", required_argument, NULL, OPT_DEVICE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long frames = 64, size = 4096, nth = 0;
	bool ok = true;
	int c;

	fuzz_init("ksalloc_fuzz_faults");

	while (ok && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_FRAMES:
			ok = parse_number(optarg, &frames);
			break;
		case OPT_SIZE:
			ok = parse_number(optarg, &size);
			break;
		case OPT_NTH:
			ok = parse_number(optarg, &nth);
			break;
		case OPT_DEVICE:
			device = optarg;
			break;
		case 'h':
			faults_usage(stdout);
			return 0;
		default:
			faults_usage(stderr);
			return 2;
		}
	}
	if (!options_done(ok, argc, argv))
		return 2;
	if (!frames || frames > UINT32_MAX || !size || size > UINT32_MAX || nth >= 100000) {
		errmsg("--frames and --size 1..2^32-1, --nth below 100000");
		return 2;
	}
	return cmd_faults(frames, size, nth);
}
