// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc-ctl info: create an allocator and print its framing, status,
 * counters and what its function table looks like from user space.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "ctl.h"

struct info {
	struct ksalloc_functiontable_info ft;
	struct ksalloc_status st;
	struct ksalloc_stats stats;
	int ft_err;		/* of GET_FUNCTIONTABLE: -EOPNOTSUPP for PAGED */
};

static void print_stats_text(const struct ksalloc_stats *s)
{
	printf("  stats:          allocs %llu, frees %llu, failures %llu, waits %llu,\n"
	       "                  timeouts %llu, handoffs %llu, peak %llu, waiters %llu\n",
	       (unsigned long long)s->allocs, (unsigned long long)s->frees,
	       (unsigned long long)s->alloc_failures, (unsigned long long)s->waits,
	       (unsigned long long)s->wait_timeouts, (unsigned long long)s->handoffs,
	       (unsigned long long)s->peak_allocated, (unsigned long long)s->waiters);
}

static void print_stats_json(const struct ksalloc_stats *s)
{
	printf("\"stats\":{\"allocs\":%llu,\"frees\":%llu,\"alloc_failures\":%llu,",
	       (unsigned long long)s->allocs, (unsigned long long)s->frees,
	       (unsigned long long)s->alloc_failures);
	printf("\"waits\":%llu,\"wait_timeouts\":%llu,\"handoffs\":%llu,",
	       (unsigned long long)s->waits, (unsigned long long)s->wait_timeouts,
	       (unsigned long long)s->handoffs);
	printf("\"peak_allocated\":%llu,\"waiters\":%llu}",
	       (unsigned long long)s->peak_allocated, (unsigned long long)s->waiters);
}

static const char *pool_name(const struct ksalloc_status *st)
{
	return st->framing.pool_type == KSALLOC_POOL_PAGED ? "paged" : "nonpaged";
}

static void info_json(const struct info *in)
{
	const struct ksalloc_functiontable_info *ft = &in->ft;
	const struct ksalloc_status *st = &in->st;

	printf("{\"device\":");
	json_str(device);
	printf(",\"framing\":{\"flags\":%u,\"pool_type\":\"%s\",",
	       st->framing.flags, pool_name(st));
	printf("\"frames\":%u,\"frame_size\":%u,\"alignment\":%u},",
	       st->framing.frames, st->framing.frame_size, st->framing.alignment);
	printf("\"status\":{\"allocated_frames\":%u},", st->allocated_frames);
	print_stats_json(&in->stats);
	if (in->ft_err) {
		printf(",\"function_table\":{\"supported\":false,\"error\":");
		json_str(strerror(-in->ft_err));
		printf("}}\n");
		return;
	}
	printf(",\"function_table\":{\"supported\":true,\"dispatch\":%s,",
	       ft->flags & KSALLOC_FT_DISPATCH ? "true" : "false");
	printf("\"addresses_visible\":%s,",
	       ft->allocate_frame || ft->free_frame ? "true" : "false");
	printf("\"allocate_frame\":\"0x%016llx\",\"free_frame\":\"0x%016llx\"}}\n",
	       (unsigned long long)ft->allocate_frame,
	       (unsigned long long)ft->free_frame);
}

static void info_text(const struct info *in)
{
	const struct ksalloc_functiontable_info *ft = &in->ft;
	const struct ksalloc_status *st = &in->st;
	const char *dispatch = ft->flags & KSALLOC_FT_DISPATCH ?
			       "dispatch active" : "inactive";

	printf("allocator %s\n", device);
	printf("  framing:        %u frames x %u bytes, alignment mask %#x, %s pool, flags %#x\n",
	       st->framing.frames, st->framing.frame_size, st->framing.alignment,
	       pool_name(st), st->framing.flags);
	printf("  status:         %u frames allocated\n", st->allocated_frames);
	print_stats_text(&in->stats);
	if (in->ft_err)
		printf("  function table: not available: %s (paged pool)\n",
		       strerror(-in->ft_err));
	else if (ft->allocate_frame || ft->free_frame)
		printf("  function table: %s, allocate_frame 0x%016llx, free_frame 0x%016llx\n",
		       dispatch, (unsigned long long)ft->allocate_frame,
		       (unsigned long long)ft->free_frame);
	else
		printf("  function table: %s, addresses hidden (kptr_restrict)\n",
		       dispatch);
}

/* Everything info prints, from a new allocator.  Returns 0 or 1. */
static int info_query(const struct framing_opts *o, struct info *in)
{
	struct ksalloc_allocator *a;
	int err;

	a = open_allocator(o, false);
	if (!a)
		return 1;
	in->ft_err = ksalloc_query_functiontable(a, &in->ft);
	if (in->ft_err && in->ft_err != -EOPNOTSUPP) {
		errmsg_err(in->ft_err, "%s: get function table", device);
		goto err_destroy;
	}
	err = ksalloc_query_status(a, &in->st);
	if (err) {
		errmsg_err(err, "%s: get status", device);
		goto err_destroy;
	}
	err = ksalloc_query_stats(a, &in->stats);
	if (err) {
		errmsg_err(err, "%s: get stats", device);
		goto err_destroy;
	}
	ksalloc_destroy(a);
	return 0;

err_destroy:
	ksalloc_destroy(a);
	return 1;
}

int cmd_info(int argc, char **argv)
{
	enum { OPT_ALIGN = OPT_OWN, OPT_PAGED };
	static const struct option opts[] = {
		{ "frames", required_argument, NULL, OPT_FRAMES },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "align", required_argument, NULL, OPT_ALIGN },
		{ "paged", no_argument, NULL, OPT_PAGED },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct framing_opts o = { .frames = 8, .size = 4096 };
	struct info in;
	bool json = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		ret = common_opt("info", c, &o, &json, 1, 1);
		if (ret == OPT_TAKEN)
			continue;
		if (ret >= 0)
			return ret;
		switch (c) {
		case OPT_ALIGN:
			if (!parse_u32(optarg, &o.align, 0, UINT32_MAX))
				return usage_error("info: bad --align '%s'", optarg);
			break;
		case OPT_PAGED:
			o.paged = true;
			break;
		}
	}
	if (optind < argc)
		return usage_error("info: unexpected argument '%s'", argv[optind]);

	if (info_query(&o, &in))
		return 1;
	if (json)
		info_json(&in);
	else
		info_text(&in);
	return 0;
}
