/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the fuzz programs share (common.c): the device, messages, the
 * clock, errno names and the parsing of numbers.
 *
 *	ksalloc_fuzz		the fuzzer of the ABI (ksalloc_fuzz.c, ops.c)
 *	ksalloc_fuzz_hold	holds framed descriptors, for the limit and
 *				memory-cgroup tests
 *	ksalloc_fuzz_faults	fails the allocations of SET_FRAMING in turn
 */
#ifndef KSALLOC_FUZZ_H
#define KSALLOC_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEFAULT_DEVICE	"/dev/ksalloc"
#define MAX_ERRNO	134	/* errno values counted one by one */

extern const char *prog;	/* the program's name, for messages */
extern const char *device;	/* the device node, --device */
extern size_t page;		/* the page size */

void fuzz_init(const char *name);
void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t now_ns(void);
const char *errname(int e);
bool parse_number(const char *s, unsigned long long *val);
bool parse_seconds(const char *s, double *val);
bool options_done(bool ok, int argc, char **argv);

#endif /* KSALLOC_FUZZ_H */
