// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc-ctl: messages, number parsing, the framing options.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "utf8.h"

const char *device = DEFAULT_DEVICE;
const char *producer = DEFAULT_PRODUCER;
volatile sig_atomic_t stop_requested;

void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* SIGINT and SIGTERM set stop_requested, and interrupt a wait. */
void catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void verrmsg(const char *fmt, va_list ap, const char *tail)
{
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	if (tail)
		fprintf(stderr, ": %s", tail);
	fputc('\n', stderr);
}

void errmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verrmsg(fmt, ap, NULL);
	va_end(ap);
}

/* "ksalloc-ctl: WHAT: strerror(errno)" */
void errmsg_errno(const char *fmt, ...)
{
	const char *s = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	verrmsg(fmt, ap, s);
	va_end(ap);
}

/* "ksalloc-ctl: WHAT: ksalloc_strerror(err)", for a libksalloc error. */
void errmsg_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verrmsg(fmt, ap, ksalloc_strerror(err));
	va_end(ap);
}

/* After getopt's own complaint. */
int usage_hint(void)
{
	fprintf(stderr, "Try '" PROG " --help' for more information.\n");
	return EXIT_USAGE;
}

int usage_error(const char *fmt, ...)
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
bool parse_u32(const char *s, uint32_t *out, uint32_t min, uint32_t max)
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

/* Seconds, fractions allowed, in (@min, @max]. */
bool parse_seconds(const char *s, double *out, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || end == s || !(v > min) || v > max)
		return false;
	*out = v;
	return true;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * Prints @str as a JSON string, quotes included.  Control characters are
 * escaped, and every byte that is not part of well-formed UTF-8 (an
 * owner_comm is whatever bytes the process gave prctl(PR_SET_NAME)) is
 * U+FFFD, the replacement character.
 */
void json_str(const char *str)
{
	const unsigned char *p = (const unsigned char *)str;
	size_t n;

	putchar('"');
	while (*p) {
		n = utf8_len(p);
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else if (!n)
			fputs("\\ufffd", stdout);
		else
			fwrite(p, 1, n, stdout);
		p += n ? n : 1;
	}
	putchar('"');
}

/*
 * Handles --frames, --size, --json and --help for @cmd, with the command's
 * least frames and frame size, and getopt's '?'.  Returns -1 when @c is
 * none of them, OPT_TAKEN when it was taken, or the exit status: 0 after
 * --help, EXIT_USAGE after the message for a bad option.
 */
int common_opt(const char *cmd, int c, struct framing_opts *o, bool *json,
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
		if (!json)
			return -1;
		*json = true;
		return OPT_TAKEN;
	}
	return -1;
}

/*
 * Opens the allocator device, frames it and, if @map, maps the pool.
 * Returns the allocator, or NULL after a message.
 */
struct ksalloc_allocator *open_allocator(const struct framing_opts *o, bool map)
{
	struct ksalloc_framing f = {
		.pool_type = o->paged ? KSALLOC_POOL_PAGED : KSALLOC_POOL_NONPAGED,
		.frames = o->frames,
		.frame_size = o->size,
		.alignment = o->align,
	};
	struct ksalloc_allocator *a;
	int err;

	err = ksalloc_open(&a, device, O_RDWR);
	if (err) {
		errmsg("open %s: %s", device, strerror(-err));
		return NULL;
	}
	err = ksalloc_set_framing(a, &f);
	if (err) {
		errmsg_err(err, "%s: set framing (%u frames x %u bytes, alignment mask %#x)",
			   device, f.frames, f.frame_size, f.alignment);
		goto err_destroy;
	}
	err = map ? ksalloc_map(a) : 0;
	if (err) {
		errmsg_err(err, "mmap %s", device);
		goto err_destroy;
	}
	return a;

err_destroy:
	ksalloc_destroy(a);
	return NULL;
}
