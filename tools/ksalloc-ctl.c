// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc-ctl - look at ksalloc allocators and stream frames through them
 *
 *   ksalloc-ctl info [--frames N --size S --align MASK --paged] [--json]
 *   ksalloc-ctl stream --frames N --size S --rate R --seconds T [--json] [--quiet]
 *   ksalloc-ctl bench [--iters N] [--frames N] [--size S] [--json]
 *
 * "info" creates an allocator on /dev/ksalloc and prints its status, its
 * counters and what its function table looks like from user space.
 * "stream" creates an allocator, hands it to the sample producer
 * (/dev/ksalloc_producer), which fills frames from a softirq timer, and
 * consumes them: every frame is checked through mmap() of the allocator
 * (magic, sequence, length, CRC-32 of the payload) and freed with
 * KSALLOC_IOC_FREE.  It exits 1 if a frame was corrupt or a frame went
 * missing.  "bench" times the ioctls against the system-call floor.
 *
 * Exit status: 0 success, 1 failure, 2 usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/ksalloc.h>
#include "../samples/ksalloc_producer.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

#define PROG "ksalloc-ctl"
#define VERSION "0.1.0"

#define EXIT_USAGE 2

#define DEFAULT_DEVICE "/dev/ksalloc"
#define DEFAULT_PRODUCER "/dev/ksalloc_producer"

/* Indices taken per read() of the producer. */
#define READ_CHUNK 256
/* Live display updates per second. */
#define DISPLAY_HZ 4

static const char *device = DEFAULT_DEVICE;
static const char *producer = DEFAULT_PRODUCER;
static volatile sig_atomic_t stop_requested;

static void errmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* "ksalloc-ctl: WHAT: strerror(errno)" */
static void errmsg_errno(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(err));
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " [--device PATH] [--producer PATH] COMMAND [OPTIONS]\n"
"       " PROG " --help | --version\n"
"\n"
"Commands:\n"
"  info     create an allocator and print its framing, status, counters and\n"
"           function table\n"
"  stream   stream frames from the sample producer (a softirq timer) through\n"
"           an allocator into this process, checking every frame\n"
"  bench    time the ioctls: ALLOC+FREE against two ioctls that return at\n"
"           once (the system-call floor), the batch ioctls per frame, and\n"
"           the hand-off: FREE until a thread asleep in ALLOC runs, against\n"
"           an eventfd wake-up\n"
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
"  --frames N      frames in the pool (default 64)\n"
"  --size S        bytes per frame, at least %zu (default 4096)\n"
"  --align MASK    alignment mask (default 0)\n"
"  --rate R        frames per second, 1..%u (default 1000)\n"
"  --seconds T     how long to stream; fractions allowed (default 5)\n"
"  --teardown HOW  detach (default): stop, drain, detach and check that\n"
"                  every frame came back; close-producer: close the\n"
"                  producer while it runs, then check; close-allocator:\n"
"                  close the allocator while attached and running, then\n"
"                  the producer (for testing the kernel's teardown paths)\n"
"  --json          print the summary as JSON\n"
"  --quiet         no live display and no text summary\n"
"\n"
"bench options:\n"
"  --iters N       timed pairs of each kind (default 100000)\n"
"  --frames N      frames in the pool (default 1024)\n"
"  --size S        bytes per frame (default 256)\n"
"  --json          print JSON\n"
"\n"
"Global options:\n"
"  --device PATH   the allocator device (default " DEFAULT_DEVICE ")\n"
"  --producer PATH the producer device (default " DEFAULT_PRODUCER ")\n"
"  -h, --help      this text\n"
"  -V, --version   print the version\n"
"\n"
"Exit status: 0 success, 1 failure (for stream: a corrupt or lost frame),\n"
"2 usage error.\n",
		sizeof(struct ksalloc_producer_frame), KSALLOC_PRODUCER_MAX_RATE);
}

/* After getopt's own complaint. */
static int usage_hint(void)
{
	fprintf(stderr, "Try '" PROG " --help' for more information.\n");
	return EXIT_USAGE;
}

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" PROG " --help' for more information.\n");
	return EXIT_USAGE;
}

/* An unsigned number with an optional k/K/m/M/g/G (binary) suffix. */
static bool parse_u32(const char *s, uint32_t *out, uint32_t min, uint32_t max)
{
	unsigned long long v;
	char *end;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno)
		return false;
	switch (*end) {
	case 'k': case 'K':
		v <<= 10, end++;
		break;
	case 'm': case 'M':
		v <<= 20, end++;
		break;
	case 'g': case 'G':
		v <<= 30, end++;
		break;
	}
	if (*end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* CRC-32 of IEEE 802.3, as zlib's crc32() and the kernel's ~crc32_le(~0). */
static uint32_t crc_table[8][256];

static void crc32_init(void)
{
	uint32_t c;
	int i, j;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (j = 1; j < 8; j++)
			crc_table[j][i] = (crc_table[j - 1][i] >> 8) ^
					  crc_table[0][crc_table[j - 1][i] & 0xff];
}

static uint32_t crc32_buf(const unsigned char *p, size_t len)
{
	uint32_t c = ~0u, lo, hi;

	for (; len >= 8; len -= 8, p += 8) {
		/* little-endian assembly, so that any host gets the same CRC */
		lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
			  (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
		     (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
		c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		    crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		    crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
		    crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
	}
	while (len--)
		c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

struct framing_opts {
	uint32_t frames;
	uint32_t size;
	uint32_t align;
	bool paged;
};

/* Options of more than one command; each command numbers its own after. */
enum { OPT_FRAMES = 256, OPT_SIZE, OPT_JSON, OPT_OWN };

/* common_opt() took the option: go on with the next. */
#define OPT_TAKEN (-2)

/*
 * Handles --frames, --size, --json and --help for @cmd, with the command's
 * least frames and frame size, and getopt's '?'.  Returns -1 when @c is
 * none of them, OPT_TAKEN when it was taken, or the exit status: 0 after
 * --help, EXIT_USAGE after the message for a bad option.
 */
static int common_opt(const char *cmd, int c, struct framing_opts *o, bool *json,
		      uint32_t min_frames, uint32_t min_size)
{
	switch (c) {
	case 'h':
		usage(stdout);
		return 0;
	case '?':
		return usage_hint();
	case OPT_FRAMES:
		if (!parse_u32(optarg, &o->frames, min_frames, UINT32_MAX))
			return usage_error("%s: bad --frames '%s' (at least %u)",
					   cmd, optarg, min_frames);
		return OPT_TAKEN;
	case OPT_SIZE:
		if (!parse_u32(optarg, &o->size, min_size, UINT32_MAX))
			return usage_error("%s: bad --size '%s' (at least %u)",
					   cmd, optarg, min_size);
		return OPT_TAKEN;
	case OPT_JSON:
		*json = true;
		return OPT_TAKEN;
	}
	return -1;
}

/* Opens the allocator device and frames it.  Returns the fd or -1. */
static int open_allocator(const struct framing_opts *o,
			  struct ksalloc_framing *f)
{
	int fd;

	memset(f, 0, sizeof(*f));
	f->pool_type = o->paged ? KSALLOC_POOL_PAGED : KSALLOC_POOL_NONPAGED;
	f->frames = o->frames;
	f->frame_size = o->size;
	f->alignment = o->align;

	fd = open(device, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		errmsg_errno("open %s", device);
		return -1;
	}
	if (ioctl(fd, KSALLOC_IOC_SET_FRAMING, f)) {
		errmsg_errno("%s: set framing (%u frames x %u bytes, alignment mask %#x)",
			     device, f->frames, f->frame_size, f->alignment);
		close(fd);
		return -1;
	}
	return fd;
}

/* Prints @str as a JSON string, quotes included. */
static void json_str(const char *str)
{
	const unsigned char *p;

	putchar('"');
	for (p = (const unsigned char *)str; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* ---- info ------------------------------------------------------------ */

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
	printf("\"stats\":{\"allocs\":%llu,\"frees\":%llu,\"alloc_failures\":%llu,"
	       "\"waits\":%llu,\"wait_timeouts\":%llu,\"handoffs\":%llu,"
	       "\"peak_allocated\":%llu,\"waiters\":%llu}",
	       (unsigned long long)s->allocs, (unsigned long long)s->frees,
	       (unsigned long long)s->alloc_failures, (unsigned long long)s->waits,
	       (unsigned long long)s->wait_timeouts, (unsigned long long)s->handoffs,
	       (unsigned long long)s->peak_allocated, (unsigned long long)s->waiters);
}

static int cmd_info(int argc, char **argv)
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
	struct ksalloc_functiontable_info ft;
	struct ksalloc_framing f;
	struct ksalloc_status st;
	struct ksalloc_stats stats;
	bool json = false;
	int fd, c, ret, ft_err = 0;

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

	fd = open_allocator(&o, &f);
	if (fd < 0)
		return 1;

	memset(&ft, 0, sizeof(ft));
	if (ioctl(fd, KSALLOC_IOC_GET_FUNCTIONTABLE, &ft)) {
		ft_err = errno;
		if (ft_err != EOPNOTSUPP) {
			errmsg_errno("%s: get function table", device);
			goto err_close;
		}
	}
	if (ioctl(fd, KSALLOC_IOC_GET_STATUS, &st)) {
		errmsg_errno("%s: get status", device);
		goto err_close;
	}
	if (ioctl(fd, KSALLOC_IOC_GET_STATS, &stats)) {
		errmsg_errno("%s: get stats", device);
		goto err_close;
	}
	close(fd);

	if (json) {
		printf("{\"device\":");
		json_str(device);
		printf(",\"framing\":{\"flags\":%u,\"pool_type\":\"%s\","
		       "\"frames\":%u,\"frame_size\":%u,\"alignment\":%u},"
		       "\"status\":{\"allocated_frames\":%u},",
		       st.framing.flags,
		       st.framing.pool_type == KSALLOC_POOL_PAGED ? "paged" : "nonpaged",
		       st.framing.frames, st.framing.frame_size, st.framing.alignment,
		       st.allocated_frames);
		print_stats_json(&stats);
		if (ft_err) {
			printf(",\"function_table\":{\"supported\":false,\"error\":");
			json_str(strerror(ft_err));
			printf("}}\n");
		} else {
			printf(",\"function_table\":{\"supported\":true,\"dispatch\":%s,"
			       "\"addresses_visible\":%s,"
			       "\"allocate_frame\":\"0x%016llx\",\"free_frame\":\"0x%016llx\"}}\n",
			       ft.flags & KSALLOC_FT_DISPATCH ? "true" : "false",
			       ft.allocate_frame || ft.free_frame ? "true" : "false",
			       (unsigned long long)ft.allocate_frame,
			       (unsigned long long)ft.free_frame);
		}
		return 0;
	}

	printf("allocator %s\n", device);
	printf("  framing:        %u frames x %u bytes, alignment mask %#x, %s pool, flags %#x\n",
	       st.framing.frames, st.framing.frame_size, st.framing.alignment,
	       st.framing.pool_type == KSALLOC_POOL_PAGED ? "paged" : "nonpaged",
	       st.framing.flags);
	printf("  status:         %u frames allocated\n", st.allocated_frames);
	print_stats_text(&stats);
	if (ft_err)
		printf("  function table: not available: %s (paged pool)\n",
		       strerror(ft_err));
	else if (ft.allocate_frame || ft.free_frame)
		printf("  function table: %s, allocate_frame 0x%016llx, free_frame 0x%016llx\n",
		       ft.flags & KSALLOC_FT_DISPATCH ? "dispatch active" : "inactive",
		       (unsigned long long)ft.allocate_frame,
		       (unsigned long long)ft.free_frame);
	else
		printf("  function table: %s, addresses hidden (kptr_restrict)\n",
		       ft.flags & KSALLOC_FT_DISPATCH ? "dispatch active" : "inactive");
	return 0;

err_close:
	close(fd);
	return 1;
}

/* ---- stream ---------------------------------------------------------- */

enum teardown { TEARDOWN_DETACH, TEARDOWN_CLOSE_PRODUCER, TEARDOWN_CLOSE_ALLOCATOR };

struct stream {
	/* setup */
	struct framing_opts o;
	uint32_t rate;
	double seconds;
	enum teardown teardown;
	bool json, quiet, live;
	int afd, pfd;
	unsigned char *pool;
	size_t pool_len;
	uint32_t stride;
	/* what was seen */
	uint64_t received;	/* indices read from the producer */
	uint64_t corrupt;	/* frames whose header or payload was wrong */
	uint64_t gaps;		/* sequence numbers skipped between frames */
	uint64_t reordered;	/* frames whose sequence did not increase */
	uint64_t free_errors;	/* KSALLOC_IOC_FREE refused */
	uint64_t next_seq;	/* the sequence expected next */
	uint64_t lat_sum, lat_max;
	uint64_t start, end;
	/* the live display */
	uint64_t last_display, last_received;
	/* the end */
	struct ksalloc_producer_stats pstats;
	struct ksalloc_stats astats;
	bool have_pstats, have_astats;
	int32_t allocated_after;	/* -1: unknown */
};

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/*
 * Whether the payload is what the producer writes for @seq: little-endian
 * 64-bit words, word i = seq ^ (i * KSALLOC_PRODUCER_PATTERN), the last one
 * cut short.
 */
static bool pattern_ok(const unsigned char *p, uint32_t len, uint64_t seq)
{
	unsigned char want[8];
	uint64_t w;
	uint32_t i, j, n;

	for (i = 0; i < len; i += 8) {
		w = seq ^ (uint64_t)(i / 8) * KSALLOC_PRODUCER_PATTERN;
		for (j = 0; j < 8; j++)
			want[j] = w >> (8 * j);
		n = len - i < 8 ? len - i : 8;
		if (memcmp(p + i, want, n))
			return false;
	}
	return true;
}

/* Checks frame @index; counts what is wrong.  Returns true if it is sound. */
static bool check_frame(struct stream *s, uint32_t index, uint64_t now)
{
	struct ksalloc_producer_frame h;
	const unsigned char *frame;
	uint32_t want_len = s->o.size - sizeof(h);

	if (index >= s->o.frames) {
		if (!s->corrupt++)
			errmsg("frame index %u out of range (%u frames)", index,
			       s->o.frames);
		return false;
	}
	frame = s->pool + (size_t)index * s->stride;
	memcpy(&h, frame, sizeof(h));

	if (h.magic != KSALLOC_PRODUCER_MAGIC || h.header_size != sizeof(h) ||
	    h.length != want_len) {
		if (!s->corrupt++)
			errmsg("frame %u: bad header (magic %#x, header %u, length %u)",
			       index, h.magic, h.header_size, h.length);
		return false;
	}
	if (crc32_buf(frame + sizeof(h), h.length) != h.checksum) {
		if (!s->corrupt++)
			errmsg("frame %u (sequence %llu): checksum mismatch", index,
			       (unsigned long long)h.sequence);
		return false;
	}
	if (!pattern_ok(frame + sizeof(h), h.length, h.sequence)) {
		if (!s->corrupt++)
			errmsg("frame %u (sequence %llu): payload is not the sequence's pattern",
			       index, (unsigned long long)h.sequence);
		return false;
	}
	if (h.sequence < s->next_seq) {
		if (!s->reordered++)
			errmsg("frame %u: sequence %llu after %llu", index,
			       (unsigned long long)h.sequence,
			       (unsigned long long)s->next_seq - 1);
		s->corrupt++;
		return false;
	}
	s->gaps += h.sequence - s->next_seq;
	s->next_seq = h.sequence + 1;
	if (now > h.timestamp_ns) {
		s->lat_sum += now - h.timestamp_ns;
		if (now - h.timestamp_ns > s->lat_max)
			s->lat_max = now - h.timestamp_ns;
	}
	return true;
}

static int free_frame(struct stream *s, uint32_t index)
{
	struct ksalloc_frame fr = { .index = index };

	if (ioctl(s->afd, KSALLOC_IOC_FREE, &fr)) {
		if (!s->free_errors++)
			errmsg_errno("%s: free frame %u", device, index);
		return -1;
	}
	return 0;
}

/*
 * Reads what the producer has queued, checks and frees it.  Returns the
 * number of indices read, 0 when none is queued (or at the end of the
 * stream, with *eof set), -1 on error.
 */
static ssize_t consume(struct stream *s, bool *eof)
{
	uint32_t idx[READ_CHUNK];
	ssize_t n, i;
	uint64_t now;

	n = read(s->pfd, idx, sizeof(idx));
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		errmsg_errno("read %s", producer);
		return -1;
	}
	if (n == 0) {
		*eof = true;
		return 0;
	}
	if (n % sizeof(uint32_t)) {
		errmsg("read %s: %zd bytes, not whole indices", producer, n);
		return -1;
	}
	n /= sizeof(uint32_t);
	now = now_ns();
	for (i = 0; i < n; i++) {
		check_frame(s, idx[i], now);
		s->received++;
		if (idx[i] < s->o.frames)
			free_frame(s, idx[i]);
	}
	return n;
}

static void display(struct stream *s, uint64_t now, bool force)
{
	struct ksalloc_producer_stats ps;
	struct ksalloc_status st;
	struct ksalloc_stats as;
	double dt, fps;

	if (!s->live || (!force && now - s->last_display < 1000000000ull / DISPLAY_HZ))
		return;
	dt = (now - s->last_display) / 1e9;
	fps = dt > 0 ? (s->received - s->last_received) / dt : 0;
	s->last_display = now;
	s->last_received = s->received;

	if (ioctl(s->pfd, KSALLOC_PRODUCER_IOC_GET_STATS, &ps) ||
	    ioctl(s->afd, KSALLOC_IOC_GET_STATUS, &st) ||
	    ioctl(s->afd, KSALLOC_IOC_GET_STATS, &as))
		return;
	fprintf(stderr, "\r\033[K%6.1fs  %8.0f frames/s  received %llu  drops %llu  "
		"outstanding %u  waits %llu  corrupt %llu",
		(now - s->start) / 1e9, fps, (unsigned long long)s->received,
		(unsigned long long)ps.drops, st.allocated_frames,
		(unsigned long long)as.waits, (unsigned long long)s->corrupt);
	fflush(stderr);
}

static int stream_setup(struct stream *s)
{
	struct ksalloc_producer_attach at = { 0 };
	struct ksalloc_producer_stats ps;
	struct ksalloc_framing f;
	long page = sysconf(_SC_PAGESIZE);

	s->afd = open_allocator(&s->o, &f);
	if (s->afd < 0)
		return -1;

	/* The layout of the pool, as the kernel core defines it. */
	s->stride = (s->o.size + s->o.align) & ~s->o.align;
	s->pool_len = ((size_t)s->stride * s->o.frames + page - 1) & ~(size_t)(page - 1);
	s->pool = mmap(NULL, s->pool_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       s->afd, 0);
	if (s->pool == MAP_FAILED) {
		s->pool = NULL;
		errmsg_errno("mmap %s (%zu bytes)", device, s->pool_len);
		return -1;
	}

	s->pfd = open(producer, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (s->pfd < 0) {
		errmsg_errno("open %s", producer);
		return -1;
	}
	at.fd = s->afd;
	if (ioctl(s->pfd, KSALLOC_PRODUCER_IOC_ATTACH, &at)) {
		errmsg_errno("%s: attach %s", producer, device);
		return -1;
	}
	if (ioctl(s->pfd, KSALLOC_PRODUCER_IOC_GET_STATS, &ps)) {
		errmsg_errno("%s: get stats", producer);
		return -1;
	}
	if (ps.frame_stride != s->stride) {
		errmsg("%s: frame stride %u, expected %u", producer,
		       ps.frame_stride, s->stride);
		return -1;
	}
	return 0;
}

static int set_rate(struct stream *s, uint32_t rate)
{
	if (ioctl(s->pfd, KSALLOC_PRODUCER_IOC_SET_RATE, &rate)) {
		errmsg_errno("%s: set rate %u", producer, rate);
		return -1;
	}
	return 0;
}

/* Polls and consumes until the time is up.  Returns 0 or -1. */
static int stream_run(struct stream *s)
{
	uint64_t deadline, now, wait_ns;
	struct pollfd pfd = { .fd = s->pfd, .events = POLLIN };
	bool eof = false;
	ssize_t n;

	s->start = s->last_display = now_ns();
	deadline = s->start + (uint64_t)(s->seconds * 1e9);
	if (set_rate(s, s->rate))
		return -1;

	while (!stop_requested) {
		now = now_ns();
		display(s, now, false);
		if (now >= deadline)
			break;
		wait_ns = deadline - now;
		if (s->live && wait_ns > 1000000000ull / DISPLAY_HZ)
			wait_ns = 1000000000ull / DISPLAY_HZ;
		if (poll(&pfd, 1, (int)((wait_ns + 999999) / 1000000)) < 0) {
			if (errno == EINTR)
				continue;
			errmsg_errno("poll %s", producer);
			return -1;
		}
		/* One batch, then back to the clock: the queue may never empty. */
		n = consume(s, &eof);
		if (n < 0)
			return -1;
		if (eof) {
			errmsg("%s: the stream ended early", producer);
			return -1;
		}
	}
	s->end = now_ns();
	return 0;
}

/* Stops the producer, consumes what it had queued, detaches. */
static int stream_finish_detach(struct stream *s)
{
	struct ksalloc_status st;
	bool eof = false;
	ssize_t n;

	/* The timer is cancelled when this returns: the queue is final. */
	if (set_rate(s, 0))
		return -1;
	do {
		n = consume(s, &eof);
	} while (n > 0);
	if (n < 0)
		return -1;

	if (ioctl(s->pfd, KSALLOC_PRODUCER_IOC_GET_STATS, &s->pstats) == 0)
		s->have_pstats = true;
	else
		errmsg_errno("%s: get stats", producer);
	if (ioctl(s->pfd, KSALLOC_PRODUCER_IOC_DETACH)) {
		errmsg_errno("%s: detach", producer);
		return -1;
	}
	if (ioctl(s->afd, KSALLOC_IOC_GET_STATS, &s->astats) == 0)
		s->have_astats = true;
	else
		errmsg_errno("%s: get stats", device);
	if (ioctl(s->afd, KSALLOC_IOC_GET_STATUS, &st)) {
		errmsg_errno("%s: get status", device);
		return -1;
	}
	s->allocated_after = st.allocated_frames;
	return 0;
}

/* Closes the producer while it runs; its release must give every frame back. */
static int stream_finish_close_producer(struct stream *s)
{
	struct ksalloc_status st;

	if (ioctl(s->pfd, KSALLOC_PRODUCER_IOC_GET_STATS, &s->pstats) == 0)
		s->have_pstats = true;
	close(s->pfd);
	s->pfd = -1;
	if (ioctl(s->afd, KSALLOC_IOC_GET_STATS, &s->astats) == 0)
		s->have_astats = true;
	if (ioctl(s->afd, KSALLOC_IOC_GET_STATUS, &st)) {
		errmsg_errno("%s: get status", device);
		return -1;
	}
	s->allocated_after = st.allocated_frames;
	return 0;
}

/*
 * Closes the allocator while the producer runs: the producer must see the
 * handle closed, stop, and end the stream; then closes the producer, which
 * frees what it still had queued.
 */
static int stream_finish_close_allocator(struct stream *s)
{
	struct pollfd pfd = { .fd = s->pfd, .events = POLLIN };
	int i, ret = -1;

	if (ioctl(s->afd, KSALLOC_IOC_GET_STATS, &s->astats) == 0)
		s->have_astats = true;
	/* The mapping holds the file: unmap it, or the close closes nothing. */
	munmap(s->pool, s->pool_len);
	s->pool = NULL;
	close(s->afd);
	s->afd = -1;

	/* The producer must stop on its own: -ENODEV from allocate_frame. */
	for (i = 0; i < 50; i++) {
		if (ioctl(s->pfd, KSALLOC_PRODUCER_IOC_GET_STATS, &s->pstats)) {
			errmsg_errno("%s: get stats", producer);
			break;
		}
		s->have_pstats = true;
		if (s->pstats.flags & KSALLOC_PRODUCER_F_CLOSED) {
			ret = 0;
			break;
		}
		poll(&pfd, 0, 100);
	}
	if (ret)
		errmsg("%s: the producer did not notice the allocator closing",
		       producer);
	/* Queued frames stay unread: closing the producer must free them. */
	close(s->pfd);
	s->pfd = -1;
	return ret;
}

static void stream_summary(struct stream *s, bool ok)
{
	double secs = (s->end - s->start) / 1e9;
	double fps = secs > 0 ? s->received / secs : 0;
	uint64_t drops = s->have_pstats ? s->pstats.drops : 0;
	uint64_t gaps = s->gaps;
	double lat_avg = s->received - s->corrupt ?
			 s->lat_sum / 1e3 / (s->received - s->corrupt) : 0;

	/* Drops after the last frame read show as a gap at the end. */
	if (s->have_pstats && s->pstats.sequence > s->next_seq &&
	    s->teardown == TEARDOWN_DETACH)
		gaps += s->pstats.sequence - s->next_seq;

	if (s->json) {
		printf("{\"frames\":%u,\"frame_size\":%u,\"alignment\":%u,\"rate\":%u,"
		       "\"seconds\":%.3f,\"teardown\":\"%s\",",
		       s->o.frames, s->o.size, s->o.align, s->rate, secs,
		       s->teardown == TEARDOWN_DETACH ? "detach" :
		       s->teardown == TEARDOWN_CLOSE_PRODUCER ? "close-producer" :
		       "close-allocator");
		printf("\"frames_received\":%llu,\"corrupt\":%llu,\"sequence_gaps\":%llu,"
		       "\"drops\":%llu,\"frames_per_second\":%.1f,",
		       (unsigned long long)s->received, (unsigned long long)s->corrupt,
		       (unsigned long long)gaps, (unsigned long long)drops, fps);
		if (s->have_pstats)
			printf("\"producer\":{\"produced\":%llu,\"sequence\":%llu,"
			       "\"no_frame\":%llu,\"queue_full\":%llu,\"overruns\":%llu},",
			       (unsigned long long)s->pstats.produced,
			       (unsigned long long)s->pstats.sequence,
			       (unsigned long long)s->pstats.no_frame,
			       (unsigned long long)s->pstats.queue_full,
			       (unsigned long long)s->pstats.overruns);
		if (s->have_astats)
			printf("\"peak_outstanding\":%llu,\"waits\":%llu,",
			       (unsigned long long)s->astats.peak_allocated,
			       (unsigned long long)s->astats.waits);
		printf("\"latency_avg_us\":%.1f,\"latency_max_us\":%.1f,"
		       "\"free_errors\":%llu,",
		       lat_avg, s->lat_max / 1e3, (unsigned long long)s->free_errors);
		if (s->allocated_after >= 0)
			printf("\"allocated_after\":%d,", s->allocated_after);
		printf("\"ok\":%s}\n", ok ? "true" : "false");
		return;
	}
	if (s->quiet)
		return;

	printf("stream: %u frames x %u bytes, rate %u/s, %.2f s, teardown %s\n",
	       s->o.frames, s->o.size, s->rate, secs,
	       s->teardown == TEARDOWN_DETACH ? "detach" :
	       s->teardown == TEARDOWN_CLOSE_PRODUCER ? "close-producer" :
	       "close-allocator");
	printf("  frames received   %llu\n", (unsigned long long)s->received);
	printf("  corrupt frames    %llu\n", (unsigned long long)s->corrupt);
	printf("  sequence gaps     %llu\n", (unsigned long long)gaps);
	if (s->have_pstats)
		printf("  drops             %llu (no free frame %llu, queue full %llu, late timer %llu)\n",
		       (unsigned long long)drops,
		       (unsigned long long)s->pstats.no_frame,
		       (unsigned long long)s->pstats.queue_full,
		       (unsigned long long)s->pstats.overruns);
	printf("  frames/s          %.1f\n", fps);
	if (s->have_astats) {
		printf("  peak outstanding  %llu\n",
		       (unsigned long long)s->astats.peak_allocated);
		printf("  waits             %llu\n",
		       (unsigned long long)s->astats.waits);
	}
	printf("  latency           avg %.1f us, max %.1f us\n", lat_avg,
	       s->lat_max / 1e3);
	if (s->allocated_after >= 0)
		printf("  allocated after   %d\n", s->allocated_after);
	printf("  result            %s\n", ok ? "ok" : "FAILED");
}

/* Whether every frame is accounted for.  Complains about what is not. */
static bool stream_exact(struct stream *s)
{
	bool ok = true;

	if (s->allocated_after > 0) {
		errmsg("%d frames still allocated after the stream", s->allocated_after);
		ok = false;
	}
	if (s->free_errors) {
		errmsg("%llu frees refused", (unsigned long long)s->free_errors);
		ok = false;
	}
	if (s->teardown != TEARDOWN_DETACH || !s->have_pstats)
		return ok;
	/* Every sequence number was delivered or dropped, none twice. */
	if (s->received != s->pstats.produced ||
	    s->received + s->pstats.drops != s->pstats.sequence) {
		errmsg("counts disagree: received %llu, produced %llu, drops %llu, sequence %llu",
		       (unsigned long long)s->received,
		       (unsigned long long)s->pstats.produced,
		       (unsigned long long)s->pstats.drops,
		       (unsigned long long)s->pstats.sequence);
		ok = false;
	}
	if (!s->corrupt && s->gaps + (s->pstats.sequence - s->next_seq) !=
	    s->pstats.drops) {
		errmsg("sequence gaps %llu, but the producer dropped %llu",
		       (unsigned long long)(s->gaps + s->pstats.sequence - s->next_seq),
		       (unsigned long long)s->pstats.drops);
		ok = false;
	}
	return ok;
}

static int cmd_stream(int argc, char **argv)
{
	enum { OPT_ALIGN = OPT_OWN, OPT_RATE, OPT_SECONDS, OPT_TEARDOWN, OPT_QUIET };
	static const struct option opts[] = {
		{ "frames", required_argument, NULL, OPT_FRAMES },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "align", required_argument, NULL, OPT_ALIGN },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "seconds", required_argument, NULL, OPT_SECONDS },
		{ "teardown", required_argument, NULL, OPT_TEARDOWN },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct stream s = {
		.o = { .frames = 64, .size = 4096 },
		.rate = 1000, .seconds = 5, .afd = -1, .pfd = -1,
		.allocated_after = -1,
	};
	struct sigaction sa = { .sa_handler = on_signal };
	bool ok = false;
	char *end;
	int c, ret;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		ret = common_opt("stream", c, &s.o, &s.json, 1,
				 sizeof(struct ksalloc_producer_frame));
		if (ret == OPT_TAKEN)
			continue;
		if (ret >= 0)
			return ret;
		switch (c) {
		case OPT_ALIGN:
			if (!parse_u32(optarg, &s.o.align, 0, UINT32_MAX) ||
			    (s.o.align & (s.o.align + 1)))
				return usage_error("stream: bad --align '%s' (a mask 2^n-1)",
						   optarg);
			break;
		case OPT_RATE:
			if (!parse_u32(optarg, &s.rate, 1, KSALLOC_PRODUCER_MAX_RATE))
				return usage_error("stream: bad --rate '%s' (1..%u)", optarg,
						   KSALLOC_PRODUCER_MAX_RATE);
			break;
		case OPT_SECONDS:
			errno = 0;
			s.seconds = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(s.seconds > 0) ||
			    s.seconds > 1e6)
				return usage_error("stream: bad --seconds '%s'", optarg);
			break;
		case OPT_TEARDOWN:
			if (!strcmp(optarg, "detach"))
				s.teardown = TEARDOWN_DETACH;
			else if (!strcmp(optarg, "close-producer"))
				s.teardown = TEARDOWN_CLOSE_PRODUCER;
			else if (!strcmp(optarg, "close-allocator"))
				s.teardown = TEARDOWN_CLOSE_ALLOCATOR;
			else
				return usage_error("stream: bad --teardown '%s'", optarg);
			break;
		case OPT_QUIET:
			s.quiet = true;
			break;
		}
	}
	if (optind < argc)
		return usage_error("stream: unexpected argument '%s'", argv[optind]);
	s.live = !s.quiet && isatty(STDERR_FILENO);

	crc32_init();
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (stream_setup(&s) || stream_run(&s))
		goto out;
	if (s.live)
		fputc('\n', stderr);	/* keep the last progress line */

	switch (s.teardown) {
	case TEARDOWN_DETACH:
		ret = stream_finish_detach(&s);
		break;
	case TEARDOWN_CLOSE_PRODUCER:
		ret = stream_finish_close_producer(&s);
		break;
	default:
		ret = stream_finish_close_allocator(&s);
		break;
	}
	if (ret)
		goto out;
	ok = stream_exact(&s) && !s.corrupt;
	stream_summary(&s, ok);

out:
	if (s.live && !s.end)
		fprintf(stderr, "\n");
	if (s.pool)
		munmap(s.pool, s.pool_len);
	if (s.pfd >= 0)
		close(s.pfd);
	if (s.afd >= 0)
		close(s.afd);
	return ok ? 0 : 1;
}

/* An ioctl number the device does not know: it returns -ENOTTY at once. */
#define BENCH_NOP_IOCTL _IO(KSALLOC_IOC_MAGIC, 0x3f)
#define BENCH_BATCH 64

struct bench_result {
	const char *type;
	uint64_t elems;
	uint64_t ns;
};

/* Nanoseconds per element; under QEMU -icount, guest instructions. */
static double per_elem(const struct bench_result *r)
{
	return r->elems ? (double)r->ns / r->elems : 0;
}

static int bench_floor(int fd, uint32_t iters, struct bench_result *r)
{
	uint64_t t0;
	uint32_t i;

	t0 = now_ns();
	for (i = 0; i < iters; i++) {
		if (ioctl(fd, BENCH_NOP_IOCTL) != -1 || errno != ENOTTY ||
		    ioctl(fd, BENCH_NOP_IOCTL) != -1 || errno != ENOTTY) {
			errmsg("%s: the no-op ioctl did not fail with ENOTTY", device);
			return -1;
		}
	}
	r->ns = now_ns() - t0;
	r->elems = iters;
	return 0;
}

static int bench_pair(int fd, uint32_t iters, struct bench_result *r)
{
	struct ksalloc_frame fr;
	uint64_t t0;
	uint32_t i;

	t0 = now_ns();
	for (i = 0; i < iters; i++) {
		/* timeout_ns 0: never waits, and FREE takes the struct as it is */
		memset(&fr, 0, sizeof(fr));
		if (ioctl(fd, KSALLOC_IOC_ALLOC, &fr) || ioctl(fd, KSALLOC_IOC_FREE, &fr)) {
			errmsg_errno("%s: ALLOC+FREE", device);
			return -1;
		}
	}
	r->ns = now_ns() - t0;
	r->elems = iters;
	return 0;
}

static int bench_batch(int fd, uint32_t iters, struct bench_result *r)
{
	uint32_t idx[BENCH_BATCH], i, rounds = iters / BENCH_BATCH + 1;
	struct ksalloc_frame_batch b;
	uint64_t t0;

	t0 = now_ns();
	for (i = 0; i < rounds; i++) {
		memset(&b, 0, sizeof(b));
		b.indices = (uintptr_t)idx;
		b.count = BENCH_BATCH;
		if (ioctl(fd, KSALLOC_IOC_ALLOC_BATCH, &b) || b.count != BENCH_BATCH) {
			errmsg_errno("%s: ALLOC_BATCH of %u (got %u)", device,
				     BENCH_BATCH, b.count);
			return -1;
		}
		if (ioctl(fd, KSALLOC_IOC_FREE_BATCH, &b) || b.count != BENCH_BATCH) {
			errmsg_errno("%s: FREE_BATCH of %u", device, BENCH_BATCH);
			return -1;
		}
	}
	r->ns = now_ns() - t0;
	r->elems = (uint64_t)rounds * BENCH_BATCH;
	return 0;
}

/*
 * Hand-off latency: a thread sleeps in ALLOC on a pool of one frame, which
 * this thread holds; it frees the frame, and the time until the waiter runs
 * again is one sample.  The baseline is the same two threads, the waiter
 * asleep in read() of an eventfd that this thread writes.
 */
struct handoff {
	int afd, efd;
	bool use_eventfd;
	atomic_int go;		/* 1: sleep now; 0: stop */
	atomic_int woken;	/* the waiter ran */
	atomic_uint_fast64_t t1;
};

static void *handoff_waiter(void *arg)
{
	struct handoff *h = arg;
	struct ksalloc_frame fr;
	uint64_t v;

	for (;;) {
		/* Yield: on one CPU, a spin would hold it for a whole tick. */
		while (atomic_load(&h->go) == 2)
			sched_yield();
		if (!atomic_load(&h->go))
			return NULL;
		memset(&fr, 0, sizeof(fr));
		fr.timeout_ns = 5000000000;	/* bounded, should this thread fail */
		if (h->use_eventfd ? read(h->efd, &v, sizeof(v)) != sizeof(v) :
		    ioctl(h->afd, KSALLOC_IOC_ALLOC, &fr) != 0)
			return (void *)1;
		atomic_store(&h->t1, now_ns());
		if (!h->use_eventfd && ioctl(h->afd, KSALLOC_IOC_FREE, &fr))
			return (void *)1;
		atomic_store(&h->go, 2);
		atomic_store(&h->woken, 1);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The median of @samples hand-offs, in ns, or 0 when it failed. */
static uint64_t bench_handoff(bool use_eventfd, uint32_t samples)
{
	struct framing_opts o = { .frames = 1, .size = 64 };
	struct handoff h = { .use_eventfd = use_eventfd };
	uint64_t *lat = calloc(samples, sizeof(*lat)), t0, one = 1, med = 0;
	struct ksalloc_frame fr;
	struct ksalloc_stats st;
	struct ksalloc_framing f;
	pthread_t t;
	void *ret;
	uint32_t i;

	h.afd = open_allocator(&o, &f);
	h.efd = eventfd(0, EFD_CLOEXEC);
	if (!lat || h.afd < 0 || h.efd < 0)
		goto out;
	atomic_store(&h.go, 2);
	if (pthread_create(&t, NULL, handoff_waiter, &h))
		goto out;
	for (i = 0; i < samples; i++) {
		memset(&fr, 0, sizeof(fr));
		if (!use_eventfd && ioctl(h.afd, KSALLOC_IOC_ALLOC, &fr))
			break;
		atomic_store(&h.woken, 0);
		atomic_store(&h.go, 1);
		/* Until it sleeps: queued in ALLOC, or given time to block in read(). */
		do {
			usleep(100);
			if (ioctl(h.afd, KSALLOC_IOC_GET_STATS, &st))
				break;
		} while (!use_eventfd && st.waiters != 1);
		t0 = now_ns();
		if (use_eventfd ? write(h.efd, &one, sizeof(one)) != sizeof(one) :
		    ioctl(h.afd, KSALLOC_IOC_FREE, &fr) != 0)
			break;
		while (!atomic_load(&h.woken))
			sched_yield();
		lat[i] = atomic_load(&h.t1) - t0;
	}
	atomic_store(&h.go, 0);
	/* A waiter left asleep by a failure: wake it (ALLOC times out). */
	if (i < samples && use_eventfd && write(h.efd, &one, sizeof(one)) != sizeof(one))
		errmsg_errno("eventfd");
	pthread_join(t, &ret);
	if (i == samples && !ret) {
		qsort(lat, samples, sizeof(*lat), cmp_u64);
		med = lat[samples / 2];
	} else {
		errmsg_errno("%s: hand-off sample %u", use_eventfd ? "eventfd" : device, i);
	}
out:
	if (h.efd >= 0)
		close(h.efd);
	if (h.afd >= 0)
		close(h.afd);
	free(lat);
	return med;
}

/*
 * Times, on one allocator: two no-op ioctls (the floor), ALLOC+FREE, and
 * ALLOC_BATCH+FREE_BATCH of 64 per frame, each after a warm-up of a tenth;
 * then the hand-off, against an eventfd wake-up.  Prints one line per kind
 * in the kernel's time_bench style, the hand-off medians, then the ratios.
 */
static int cmd_bench(int argc, char **argv)
{
	enum { OPT_ITERS = OPT_OWN };
	static const struct option opts[] = {
		{ "iters", required_argument, NULL, OPT_ITERS },
		{ "frames", required_argument, NULL, OPT_FRAMES },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static int (*const run[])(int, uint32_t, struct bench_result *) = {
		bench_floor, bench_pair, bench_batch,
	};
	struct bench_result res[] = {
		{ .type = "user_floor_pair" },
		{ .type = "user_ioctl_pair" },
		{ .type = "user_batch64_frame" },
	};
	struct framing_opts o = { .frames = 1024, .size = 256 };
	uint32_t iters = 100000, samples = 200;
	uint64_t handoff, wakeup;
	struct ksalloc_framing f;
	struct bench_result warm;
	double pair, floor_, batch;
	bool json = false;
	size_t i;
	int fd, c, ret;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		ret = common_opt("bench", c, &o, &json, BENCH_BATCH, 1);
		if (ret == OPT_TAKEN)
			continue;
		if (ret >= 0)
			return ret;
		switch (c) {
		case OPT_ITERS:
			if (!parse_u32(optarg, &iters, 10, UINT32_MAX / 2))
				return usage_error("bench: bad --iters '%s'", optarg);
			break;
		}
	}
	if (optind < argc)
		return usage_error("bench: unexpected argument '%s'", argv[optind]);

	fd = open_allocator(&o, &f);
	if (fd < 0)
		return 1;
	for (i = 0; i < ARRAY_SIZE(run); i++) {
		if (run[i](fd, iters / 10, &warm) || run[i](fd, iters, &res[i])) {
			close(fd);
			return 1;
		}
	}
	close(fd);
	handoff = bench_handoff(false, samples);
	wakeup = bench_handoff(true, samples);
	if (!handoff || !wakeup)
		return 1;

	floor_ = per_elem(&res[0]);
	pair = per_elem(&res[1]);
	batch = per_elem(&res[2]);
	if (json) {
		printf("{\"frames\": %u, \"size\": %u, \"iters\": %u", o.frames, o.size, iters);
		for (i = 0; i < ARRAY_SIZE(res); i++)
			printf(", \"%s_ns\": %.3f", res[i].type, per_elem(&res[i]));
		printf(", \"handoff_ns\": %" PRIu64 ", \"eventfd_wakeup_ns\": %" PRIu64,
		       handoff, wakeup);
		printf(", \"pair_over_floor\": %.4f, \"batch_over_pair\": %.4f"
		       ", \"handoff_over_eventfd\": %.4f}\n",
		       floor_ ? pair / floor_ : 0, pair ? batch / pair : 0,
		       (double)handoff / wakeup);
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(res); i++)
		printf("Type:%s Per elem: 0 cycles(tsc) %.3f ns (invoke count:%" PRIu64 ")\n",
		       res[i].type, per_elem(&res[i]), res[i].elems);
	printf("ALLOC+FREE / floor: %.3f\n", floor_ ? pair / floor_ : 0);
	printf("batch of %u per frame / ALLOC+FREE: %.4f\n", BENCH_BATCH,
	       pair ? batch / pair : 0);
	printf("handoff: kind=user_free_to_alloc median_ns=%" PRIu64 "\n", handoff);
	printf("handoff: kind=user_eventfd median_ns=%" PRIu64 "\n", wakeup);
	printf("FREE -> waiter back from ALLOC / eventfd wake-up: %.3f\n",
	       (double)handoff / wakeup);
	return 0;
}

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
			printf(PROG " " VERSION "\n");
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
	argv[0] = !strcmp(cmd, "info") ? PROG " info" :
		  !strcmp(cmd, "bench") ? PROG " bench" : PROG " stream";
	if (!strcmp(cmd, "info"))
		return cmd_info(argc, argv);
	if (!strcmp(cmd, "bench"))
		return cmd_bench(argc, argv);
	if (!strcmp(cmd, "stream"))
		return cmd_stream(argc, argv);
	if (!strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	return usage_error("unknown command '%s'", cmd);
}
