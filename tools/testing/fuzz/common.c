// SPDX-License-Identifier: GPL-2.0
/*
 * The code that every fuzz program uses, see fuzz.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

const char *prog = "ksalloc_fuzz";
const char *device = DEFAULT_DEVICE;
size_t page = 4096;

/* Every program's start: its name for messages, and the page size. */
void fuzz_init(const char *name)
{
	prog = name;
	page = (size_t)sysconf(_SC_PAGESIZE);
}

void errmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* "OK" for 0, the errno's name, or "other" past MAX_ERRNO. */
const char *errname(int e)
{
	const char *s;

	if (!e)
		return "OK";
	if (e >= MAX_ERRNO)
		return "other";
	s = strerrorname_np(e);
	return s ? s : "?";
}

/* A whole number (decimal, 0x hex or 0 octal); false and a message if not. */
bool parse_number(const char *s, unsigned long long *val)
{
	char *end;

	errno = 0;
	*val = strtoull(s, &end, 0);
	if (errno || *end || end == s || *s == '-') {
		errmsg("bad number '%s'", s);
		return false;
	}
	return true;
}

/* A number of seconds, which may be fractional or negative. */
bool parse_seconds(const char *s, double *val)
{
	char *end;

	errno = 0;
	*val = strtod(s, &end);
	if (errno || *end || end == s) {
		errmsg("bad number of seconds '%s'", s);
		return false;
	}
	return true;
}

/*
 * After getopt_long(): whether the options parsed (@ok) and none of
 * @argv is left over; false with a message when some is.
 */
bool options_done(bool ok, int argc, char **argv)
{
	if (ok && optind != argc) {
		errmsg("unexpected argument '%s'", argv[optind]);
		ok = false;
	}
	return ok;
}
