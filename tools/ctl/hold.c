// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc-ctl hold: an allocator that stays, for list and top to show.
 *
 * It frames an allocator, takes --alloc frames and keeps them, prints
 * "id N" (the allocator's id, its name in debugfs), then waits --seconds
 * or until SIGINT/SIGTERM.  With --churn it allocates and frees the other
 * frames in a loop meanwhile, never waiting: every refused allocation
 * (none free) counts as a failure in the allocator's stats.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

struct hold {
	struct framing_opts o;
	uint32_t nalloc;
	double seconds;		/* <= 0: until a signal */
	bool churn;
};

static int hold_options(int argc, char **argv, struct hold *h)
{
	enum { OPT_ALIGN = OPT_OWN, OPT_PAGED, OPT_ALLOC, OPT_CHURN, OPT_SECONDS };
	static const struct option opts[] = {
		{ "frames", required_argument, NULL, OPT_FRAMES },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "align", required_argument, NULL, OPT_ALIGN },
		{ "paged", no_argument, NULL, OPT_PAGED },
		{ "alloc", required_argument, NULL, OPT_ALLOC },
		{ "churn", no_argument, NULL, OPT_CHURN },
		{ "seconds", required_argument, NULL, OPT_SECONDS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, ret;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		ret = common_opt("hold", c, &h->o, NULL, 1, 1);
		if (ret == OPT_TAKEN)
			continue;
		if (ret >= 0)
			return ret;
		switch (c) {
		case OPT_ALIGN:
			if (!parse_u32(optarg, &h->o.align, 0, UINT32_MAX))
				return usage_error("hold: bad --align '%s'", optarg);
			break;
		case OPT_PAGED:
			h->o.paged = true;
			break;
		case OPT_ALLOC:
			if (!parse_u32(optarg, &h->nalloc, 0, UINT32_MAX))
				return usage_error("hold: bad --alloc '%s'", optarg);
			break;
		case OPT_CHURN:
			h->churn = true;
			break;
		case OPT_SECONDS:
			if (!parse_seconds(optarg, &h->seconds, 0, 1e6))
				return usage_error("hold: bad --seconds '%s'", optarg);
			break;
		}
	}
	if (optind < argc)
		return usage_error("hold: unexpected argument '%s'", argv[optind]);
	if (h->nalloc > h->o.frames)
		return usage_error("hold: --alloc %u is more than --frames %u",
				   h->nalloc, h->o.frames);
	return -1;
}

/* Allocates and frees until @deadline or a signal.  Returns 0 or -1. */
static int hold_churn(struct ksalloc_allocator *a, uint64_t deadline)
{
	uint32_t index, i;
	int err;

	while (!stop_requested && now_ns() < deadline) {
		for (i = 0; i < 256; i++) {
			err = ksalloc_alloc_nowait(a, &index);
			if (err == -EAGAIN)
				continue;
			if (!err)
				err = ksalloc_free(a, index);
			if (err) {
				errmsg_err(err, "%s: churn", device);
				return -1;
			}
		}
	}
	return 0;
}

static void hold_sleep(uint64_t deadline)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 100000000 };

	/* A signal ends nanosleep() early: stop_requested is then set. */
	while (!stop_requested && now_ns() < deadline)
		nanosleep(&ts, NULL);
}

int cmd_hold(int argc, char **argv)
{
	struct hold h = { .o = { .frames = 8, .size = 4096 } };
	struct ksalloc_allocator *a;
	uint64_t id, deadline = UINT64_MAX;
	uint32_t i, index;
	int ret, err;

	ret = hold_options(argc, argv, &h);
	if (ret >= 0)
		return ret;
	catch_stop_signals();
	a = open_allocator(&h.o, false);
	if (!a)
		return 1;
	ret = 1;
	for (i = 0; i < h.nalloc; i++) {
		err = ksalloc_alloc_nowait(a, &index);
		if (err) {
			errmsg_err(err, "%s: frame %u of %u", device, i + 1, h.nalloc);
			goto out;
		}
	}
	err = ksalloc_query_id(a, &id);
	if (err) {
		errmsg_err(err, "%s: get id", device);
		goto out;
	}
	printf("id %" PRIu64 "\n", id);
	fflush(stdout);

	if (h.seconds > 0)
		deadline = now_ns() + (uint64_t)(h.seconds * 1e9);
	if (h.churn) {
		if (hold_churn(a, deadline))
			goto out;
	} else {
		hold_sleep(deadline);
	}
	ret = 0;
out:
	ksalloc_destroy(a);
	return ret;
}
