// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc-ctl stream: an allocator handed to the sample producer
 * (/dev/ksalloc_producer), which fills frames from a softirq timer; this
 * process consumes them, checks every frame through mmap() of the
 * allocator (magic, sequence, length, CRC-32 of the payload) and frees it.
 * It fails if a frame was corrupt or a frame went missing.  The producer's
 * own ioctls are made raw, with samples/ksalloc_producer.h.  With --create
 * the producer makes the allocator (KSALLOC_PRODUCER_IOC_CREATE) and hands
 * back a descriptor of it, which libksalloc did not open: its few ioctls
 * and its mapping are made raw here too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctl.h"
#include "../../samples/ksalloc_producer.h"

/* Indices taken per read() of the producer. */
#define READ_CHUNK 256
/* Live display updates per second. */
#define DISPLAY_HZ 4

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

enum teardown { TEARDOWN_DETACH, TEARDOWN_CLOSE_PRODUCER, TEARDOWN_CLOSE_ALLOCATOR };

struct stream {
	/* setup */
	struct framing_opts o;
	uint32_t rate;
	double seconds;
	enum teardown teardown;
	bool json, quiet, live;
	bool create, contig;	/* --create, --contig */
	struct ksalloc_allocator *a;	/* NULL with --create */
	int afd;		/* the allocator's descriptor */
	void *map;		/* with --create: the mapping of the pool */
	size_t map_size;
	int pfd;
	const unsigned char *pool;
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

/* The allocator's ioctls, through libksalloc or, with --create, raw. */
static int raw_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? (errno ? -errno : -EIO) : 0;
}

static int alloc_free(struct stream *s, uint32_t index)
{
	struct ksalloc_frame f = { .index = index };

	return s->a ? ksalloc_free(s->a, index) :
	       raw_ioctl(s->afd, KSALLOC_IOC_FREE, &f);
}

static int alloc_status(struct stream *s, struct ksalloc_status *st)
{
	return s->a ? ksalloc_query_status(s->a, st) :
	       raw_ioctl(s->afd, KSALLOC_IOC_GET_STATUS, st);
}

static int alloc_stats(struct stream *s, struct ksalloc_stats *st)
{
	return s->a ? ksalloc_query_stats(s->a, st) :
	       raw_ioctl(s->afd, KSALLOC_IOC_GET_STATS, st);
}

/* Unmaps and closes the allocator's descriptor. */
static void alloc_destroy(struct stream *s)
{
	if (s->map)
		munmap(s->map, s->map_size);
	if (!s->a && s->afd >= 0)
		close(s->afd);
	ksalloc_destroy(s->a);
	s->a = NULL;
	s->map = NULL;
	s->afd = -1;
	s->pool = NULL;
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
	int err = alloc_free(s, index);

	if (err) {
		if (!s->free_errors++)
			errmsg_err(err, "%s: free frame %u", device, index);
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
	    alloc_status(s, &st) || alloc_stats(s, &as))
		return;
	fprintf(stderr,
		"\r\033[K%6.1fs  %8.0f frames/s  received %llu  drops %llu  outstanding %u  waits %llu  corrupt %llu",
		(now - s->start) / 1e9, fps, (unsigned long long)s->received,
		(unsigned long long)ps.drops, st.allocated_frames,
		(unsigned long long)as.waits, (unsigned long long)s->corrupt);
	fflush(stderr);
}

/* Opens and frames an allocator, and attaches it to the producer. */
static int stream_attach(struct stream *s)
{
	struct ksalloc_producer_attach at = { 0 };

	s->a = open_allocator(&s->o, true);
	if (!s->a)
		return -1;
	s->afd = ksalloc_fd(s->a);
	s->pool = ksalloc_pool(s->a);
	s->stride = ksalloc_stride(s->a);
	at.fd = s->afd;
	if (ioctl(s->pfd, KSALLOC_PRODUCER_IOC_ATTACH, &at)) {
		errmsg_errno("%s: attach %s", producer, device);
		return -1;
	}
	return 0;
}

/* Has the producer create the allocator, and maps the descriptor it gives. */
static int stream_create(struct stream *s)
{
	struct ksalloc_producer_create c = {
		.framing = {
			.pool_type = KSALLOC_POOL_NONPAGED,
			.frames = s->o.frames,
			.frame_size = s->o.size,
			.alignment = s->o.align,
		},
		.flags = s->contig ? KSALLOC_PRODUCER_CREATE_CONTIG : 0,
	};
	struct ksalloc_producer_stats ps;
	long page = sysconf(_SC_PAGESIZE);
	uint64_t len;

	if (ioctl(s->pfd, KSALLOC_PRODUCER_IOC_CREATE, &c)) {
		errmsg_errno("%s: create %u frames x %u bytes%s", producer,
			     s->o.frames, s->o.size, s->contig ? ", contiguous" : "");
		return -1;
	}
	s->afd = c.fd;
	if (ioctl(s->pfd, KSALLOC_PRODUCER_IOC_GET_STATS, &ps)) {
		errmsg_errno("%s: get stats", producer);
		return -1;
	}
	/* The producer's stride is the kernel's: contiguous frames round up. */
	s->stride = ps.frame_stride;
	len = (uint64_t)s->stride * s->o.frames;
	len = (len + page - 1) & ~(uint64_t)(page - 1);
	if (len > SIZE_MAX) {
		errmsg("%s: a pool of %llu bytes cannot be mapped", producer,
		       (unsigned long long)len);
		return -1;
	}
	s->map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, s->afd, 0);
	if (s->map == MAP_FAILED) {
		s->map = NULL;
		errmsg_errno("mmap the allocator of %s", producer);
		return -1;
	}
	s->map_size = len;
	s->pool = s->map;
	return 0;
}

static int stream_setup(struct stream *s)
{
	struct ksalloc_producer_stats ps;

	s->pfd = open(producer, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (s->pfd < 0) {
		errmsg_errno("open %s", producer);
		return -1;
	}
	if (s->create ? stream_create(s) : stream_attach(s))
		return -1;
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

	s->start = now_ns();
	s->last_display = s->start;
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
	int err;
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
	err = alloc_stats(s, &s->astats);
	if (!err)
		s->have_astats = true;
	else
		errmsg_err(err, "%s: get stats", device);
	err = alloc_status(s, &st);
	if (err) {
		errmsg_err(err, "%s: get status", device);
		return -1;
	}
	s->allocated_after = st.allocated_frames;
	return 0;
}

/* Closes the producer while it runs; its release must give every frame back. */
static int stream_finish_close_producer(struct stream *s)
{
	struct ksalloc_status st;
	int err;

	if (ioctl(s->pfd, KSALLOC_PRODUCER_IOC_GET_STATS, &s->pstats) == 0)
		s->have_pstats = true;
	close(s->pfd);
	s->pfd = -1;
	if (alloc_stats(s, &s->astats) == 0)
		s->have_astats = true;
	err = alloc_status(s, &st);
	if (err) {
		errmsg_err(err, "%s: get status", device);
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

	if (alloc_stats(s, &s->astats) == 0)
		s->have_astats = true;
	/* The mapping holds the file: destroy unmaps it, then closes. */
	alloc_destroy(s);

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

static const char *teardown_name(enum teardown t)
{
	return t == TEARDOWN_DETACH ? "detach" :
	       t == TEARDOWN_CLOSE_PRODUCER ? "close-producer" : "close-allocator";
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
		printf("{\"frames\":%u,\"frame_size\":%u,\"alignment\":%u,\"rate\":%u,",
		       s->o.frames, s->o.size, s->o.align, s->rate);
		printf("\"seconds\":%.3f,\"teardown\":\"%s\",", secs,
		       teardown_name(s->teardown));
		printf("\"frames_received\":%llu,\"corrupt\":%llu,\"sequence_gaps\":%llu,",
		       (unsigned long long)s->received, (unsigned long long)s->corrupt,
		       (unsigned long long)gaps);
		printf("\"drops\":%llu,\"frames_per_second\":%.1f,",
		       (unsigned long long)drops, fps);
		if (s->have_pstats) {
			printf("\"producer\":{\"produced\":%llu,\"sequence\":%llu,",
			       (unsigned long long)s->pstats.produced,
			       (unsigned long long)s->pstats.sequence);
			printf("\"no_frame\":%llu,\"queue_full\":%llu,\"overruns\":%llu},",
			       (unsigned long long)s->pstats.no_frame,
			       (unsigned long long)s->pstats.queue_full,
			       (unsigned long long)s->pstats.overruns);
		}
		if (s->have_astats)
			printf("\"peak_outstanding\":%llu,\"waits\":%llu,",
			       (unsigned long long)s->astats.peak_allocated,
			       (unsigned long long)s->astats.waits);
		printf("\"latency_avg_us\":%.1f,\"latency_max_us\":%.1f,",
		       lat_avg, s->lat_max / 1e3);
		printf("\"free_errors\":%llu,", (unsigned long long)s->free_errors);
		if (s->allocated_after >= 0)
			printf("\"allocated_after\":%d,", s->allocated_after);
		printf("\"ok\":%s}\n", ok ? "true" : "false");
		return;
	}
	if (s->quiet)
		return;

	printf("stream: %u frames x %u bytes, rate %u/s, %.2f s, teardown %s\n",
	       s->o.frames, s->o.size, s->rate, secs, teardown_name(s->teardown));
	printf("  frames received   %llu\n", (unsigned long long)s->received);
	printf("  corrupt frames    %llu\n", (unsigned long long)s->corrupt);
	printf("  sequence gaps     %llu\n", (unsigned long long)gaps);
	if (s->have_pstats) {
		printf("  drops             %llu", (unsigned long long)drops);
		printf(" (no free frame %llu, queue full %llu, late timer %llu)\n",
		       (unsigned long long)s->pstats.no_frame,
		       (unsigned long long)s->pstats.queue_full,
		       (unsigned long long)s->pstats.overruns);
	}
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

/* Parses the options of stream into @s.  Returns -1, or the exit status. */
static int stream_options(int argc, char **argv, struct stream *s)
{
	enum { OPT_ALIGN = OPT_OWN, OPT_RATE, OPT_SECONDS, OPT_TEARDOWN, OPT_QUIET,
	       OPT_CREATE, OPT_CONTIG };
	static const struct option opts[] = {
		{ "frames", required_argument, NULL, OPT_FRAMES },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "align", required_argument, NULL, OPT_ALIGN },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "seconds", required_argument, NULL, OPT_SECONDS },
		{ "teardown", required_argument, NULL, OPT_TEARDOWN },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "create", no_argument, NULL, OPT_CREATE },
		{ "contig", no_argument, NULL, OPT_CONTIG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, ret;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		ret = common_opt("stream", c, &s->o, &s->json, 1,
				 sizeof(struct ksalloc_producer_frame));
		if (ret == OPT_TAKEN)
			continue;
		if (ret >= 0)
			return ret;
		switch (c) {
		case OPT_ALIGN:
			if (!parse_u32(optarg, &s->o.align, 0, UINT32_MAX) ||
			    (s->o.align & (s->o.align + 1)))
				return usage_error("stream: bad --align '%s' (a mask 2^n-1)",
						   optarg);
			break;
		case OPT_RATE:
			if (!parse_u32(optarg, &s->rate, 1, KSALLOC_PRODUCER_MAX_RATE))
				return usage_error("stream: bad --rate '%s' (1..%u)", optarg,
						   KSALLOC_PRODUCER_MAX_RATE);
			break;
		case OPT_SECONDS:
			if (!parse_seconds(optarg, &s->seconds, 0, 1e6))
				return usage_error("stream: bad --seconds '%s'", optarg);
			break;
		case OPT_TEARDOWN:
			if (!strcmp(optarg, "detach"))
				s->teardown = TEARDOWN_DETACH;
			else if (!strcmp(optarg, "close-producer"))
				s->teardown = TEARDOWN_CLOSE_PRODUCER;
			else if (!strcmp(optarg, "close-allocator"))
				s->teardown = TEARDOWN_CLOSE_ALLOCATOR;
			else
				return usage_error("stream: bad --teardown '%s'", optarg);
			break;
		case OPT_QUIET:
			s->quiet = true;
			break;
		case OPT_CREATE:
			s->create = true;
			break;
		case OPT_CONTIG:
			s->contig = true;
			break;
		}
	}
	if (optind < argc)
		return usage_error("stream: unexpected argument '%s'", argv[optind]);
	if (s->contig && !s->create)
		return usage_error("stream: --contig needs --create");
	/* Its creator, the producer, closes such an allocator, not this process. */
	if (s->create && s->teardown == TEARDOWN_CLOSE_ALLOCATOR)
		return usage_error("stream: --teardown close-allocator cannot go with --create");
	return -1;
}

int cmd_stream(int argc, char **argv)
{
	struct stream s = {
		.o = { .frames = 64, .size = 4096 },
		.rate = 1000, .seconds = 5, .pfd = -1, .afd = -1,
		.allocated_after = -1,
	};
	bool ok = false;
	int ret;

	ret = stream_options(argc, argv, &s);
	if (ret >= 0)
		return ret;
	s.live = !s.quiet && isatty(STDERR_FILENO);

	crc32_init();
	catch_stop_signals();

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
	if (s.pfd >= 0)
		close(s.pfd);
	alloc_destroy(&s);
	return ok ? 0 : 1;
}
