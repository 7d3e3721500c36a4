/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksalloc-ctl: what the commands share.  Each command lives in its own
 * file (info.c, stream.c, bench.c, hold.c, list.c, top.c); main.c parses
 * the global options and dispatches; util.c has the messages, the number
 * parsers and the framing options; debugfs.c reads /sys/kernel/debug/ksalloc.
 */
#ifndef KSALLOC_CTL_H
#define KSALLOC_CTL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <libksalloc.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

#define PROG "ksalloc-ctl"

#define EXIT_USAGE 2

#define DEFAULT_DEVICE "/dev/ksalloc"
#define DEFAULT_PRODUCER "/dev/ksalloc_producer"

/* --device and --producer */
extern const char *device;
extern const char *producer;

/* Set by on_signal(), for the commands that stop on SIGINT/SIGTERM. */
extern volatile sig_atomic_t stop_requested;
void on_signal(int sig);
void catch_stop_signals(void);

void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void errmsg_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void errmsg_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void usage(FILE *f);
int usage_hint(void);
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

bool parse_u32(const char *s, uint32_t *out, uint32_t min, uint32_t max);
bool parse_seconds(const char *s, double *out, double min, double max);
uint64_t now_ns(void);
void json_str(const char *str);

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

int common_opt(const char *cmd, int c, struct framing_opts *o, bool *json,
	       uint32_t min_frames, uint32_t min_size);
struct ksalloc_allocator *open_allocator(const struct framing_opts *o, bool map);

int cmd_info(int argc, char **argv);
int cmd_stream(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_hold(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_top(int argc, char **argv);

#endif /* KSALLOC_CTL_H */
