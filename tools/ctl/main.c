// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc-ctl - look at ksalloc allocators and stream frames through them
 *
 *   ksalloc-ctl info [--frames N --size S --align MASK --paged] [--json]
 *   ksalloc-ctl stream --frames N --size S --rate R --seconds T [--create [--contig]]
 *                      [--json] [--quiet]
 *   ksalloc-ctl bench [--iters N] [--frames N] [--size S] [--json]
 *   ksalloc-ctl list [--json]
 *   ksalloc-ctl top [--interval S] [--seconds T]
 *   ksalloc-ctl hold [--frames N --size S] [--alloc K] [--churn] [--seconds T]
 *   ksalloc-ctl export [--frames N --size S] [--frame]
 *
 * Everything done to /dev/ksalloc goes through libksalloc; list and top
 * read debugfs (/sys/kernel/debug/ksalloc, or $KSALLOC_DEBUGFS).
 *
 * Exit status: 0 success, 1 failure, 2 usage error.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <string.h>

#include "ctl.h"
#include "../../samples/ksalloc_producer.h"

/* VERSION of tools/Makefile. */
#ifndef KSALLOC_VERSION
#error "KSALLOC_VERSION is not defined: build with tools/Makefile"
#endif

static const char usage_head[] =
	"Usage: " PROG " [--device PATH] [--producer PATH] COMMAND [OPTIONS]\n"
	"       " PROG " --help | --version\n"
	"\n"
	"Commands:\n"
	"  info     create an allocator and print its framing, status, counters and\n"
	"           function table\n"
	"  stream   stream frames from the sample producer (a softirq timer, or the\n"
	"           edu PCI device) through an allocator into this process,\n"
	"           checking every frame\n"
	"  bench    time the ioctls: ALLOC+FREE against two ioctls that return at\n"
	"           once (the system-call floor), the batch ioctls per frame, and\n"
	"           the hand-off: FREE until a thread asleep in ALLOC runs, against\n"
	"           an eventfd wake-up\n"
	"  list     every allocator of the module, one line each (from debugfs)\n"
	"  top      the allocators' rates, refreshed like top(1) (from debugfs);\n"
	"           q quits\n"
	"  hold     create an allocator, take frames and keep it for a while: an\n"
	"           allocator for list and top to show\n"
	"  help     this text\n"
	"\n"
	"info options:\n"
	"  --frames N      frames in the pool (default 8)\n"
	"  --size S        bytes per frame; k/M suffixes allowed (default 4096)\n"
	"  --align MASK    alignment mask 2^n-1, e.g. 63 for 64 bytes (default 0)\n"
	"  --paged         a PAGED pool (it has no function table)\n"
	"  --json          print JSON\n"
	"\n"
	"stream options:\n"
	"  --frames N      frames in the pool (default 64)\n";

static const char usage_stream[] =
	"  --align MASK    alignment mask (default 0)\n";

static const char usage_tail[] =
	"  --seconds T     how long to stream; fractions allowed (default 5)\n"
	"  --teardown HOW  detach (default): stop, drain, detach and check that\n"
	"                  every frame came back; close-producer: close the\n"
	"                  producer while it runs, then check; close-allocator:\n"
	"                  close the allocator while attached and running, then\n"
	"                  the producer (for testing the kernel's teardown paths)\n"
	"  --json          print the summary as JSON\n"
	"  --quiet         no live display and no text summary\n"
	"  --create        have the producer create the allocator in the kernel\n"
	"                  (for /dev/ksalloc_edu: memory allocated for the device)\n"
	"                  and stream through the descriptor it returns, instead\n"
	"                  of framing one on --device\n"
	"  --contig        with --create: physically contiguous frames\n"
	"\n"
	"bench options:\n"
	"  --iters N       timed pairs of each kind (default 100000)\n"
	"  --frames N      frames in the pool (default 1024)\n"
	"  --size S        bytes per frame (default 256)\n"
	"  --json          print JSON\n"
	"\n"
	"list options:\n"
	"  --json          a JSON array, one object per allocator, with the keys of\n"
	"                  its debugfs files\n"
	"\n"
	"top options:\n"
	"  --interval S    seconds between refreshes; fractions allowed (default 1)\n"
	"  --seconds T     stop after T seconds (default: when q is pressed)\n"
	"  When standard output is not a terminal, top prints plain blocks, one\n"
	"  per refresh, with no escape codes.\n"
	"\n"
	"hold options:\n"
	"  --frames N      frames in the pool (default 8)\n"
	"  --size S        bytes per frame (default 4096)\n"
	"  --align MASK    alignment mask (default 0)\n"
	"  --paged         a PAGED pool\n"
	"  --alloc K       frames to take and hold (default 0)\n"
	"  --churn         allocate and free the other frames in a loop meanwhile\n"
	"  --seconds T     how long to hold (default: until SIGINT or SIGTERM)\n"
	"  hold prints \"id N\" once the allocator is framed and its frames taken.\n"
	"\n"
	"export options:\n"
	"  --frames N      frames in the pool (default 4)\n"
	"  --size S        bytes per frame (default 4096)\n"
	"  --frame         export one frame (its stride a multiple of the page\n"
	"                  size) instead of the pool\n"
	"  export writes a pattern into the pool, exports it as a dma-buf and\n"
	"  compares every byte through the dma-buf's mapping, before and after\n"
	"  closing the allocator.\n"
	"\n"
	"Global options:\n"
	"  --device PATH   the allocator device (default " DEFAULT_DEVICE ")\n"
	"  --producer PATH the producer device (default " DEFAULT_PRODUCER ")\n"
	"  -h, --help      this text\n"
	"  -V, --version   print the version\n"
	"\n"
	"Environment:\n"
	"  KSALLOC_DEBUGFS the module's debugfs directory, for list and top\n"
	"                  (default /sys/kernel/debug/ksalloc)\n"
	"\n"
	"Exit status: 0 success, 1 failure (for stream: a corrupt or lost frame),\n"
	"2 usage error.\n";

void usage(FILE *f)
{
	fputs(usage_head, f);
	fprintf(f, "  --size S        bytes per frame, at least %zu (default 4096)\n",
		sizeof(struct ksalloc_producer_frame));
	fputs(usage_stream, f);
	fprintf(f, "  --rate R        frames per second, 1..%u (default 1000)\n",
		KSALLOC_PRODUCER_MAX_RATE);
	fputs(usage_tail, f);
}

static const struct {
	const char *name;
	const char *argv0;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "info", PROG " info", cmd_info },
	{ "stream", PROG " stream", cmd_stream },
	{ "bench", PROG " bench", cmd_bench },
	{ "list", PROG " list", cmd_list },
	{ "top", PROG " top", cmd_top },
	{ "hold", PROG " hold", cmd_hold },
	{ "export", PROG " export", cmd_export },
};

int main(int argc, char **argv)
{
	enum { OPT_DEVICE = 256, OPT_PRODUCER };
	static const struct option opts[] = {
		{ "device", required_argument, NULL, OPT_DEVICE },
		{ "producer", required_argument, NULL, OPT_PRODUCER },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd;
	size_t i;
	int c;

	argv[0] = PROG;
	/* "+": stop at the command; its options are its own. */
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case OPT_DEVICE:
			device = optarg;
			break;
		case OPT_PRODUCER:
			producer = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf(PROG " " KSALLOC_VERSION "\n");
			return 0;
		default:
			return usage_hint();
		}
	}
	if (optind >= argc)
		return usage_error("no command");

	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 0;	/* rescan from argv[1] of the command, glibc style */
	if (!strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		if (!strcmp(cmd, commands[i].name)) {
			argv[0] = (char *)commands[i].argv0;
			return commands[i].fn(argc, argv);
		}
	}
	return usage_error("unknown command '%s'", cmd);
}
