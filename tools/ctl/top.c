// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc-ctl top: the allocators' rates, refreshed like top(1).
 *
 * Every --interval it reads debugfs and prints one line per allocator:
 * allocs, frees, failures and hand-offs per second since the refresh
 * before (the first refresh, and an allocator not seen before, show "-"),
 * frames in use of the pool, waiters and state.  On a terminal it redraws
 * the screen; otherwise it prints plain blocks, a blank line between two.
 * When standard input is a terminal it is put in raw mode, and q ends the
 * view; the terminal is restored on every way out, SIGINT and SIGTERM
 * included (they are then raised again, so the caller sees them).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "debugfs.h"

#define TOP_FMT "%7s %-6s %12s %7s %10s %10s %8s %10s %7s %s"

/* The counters a rate is shown for, as the stats file names them. */
static const char *const top_counters[] = {
	"allocs", "frees", "alloc_failures", "handoffs",
};

#define NR_COUNTERS ARRAY_SIZE(top_counters)

struct top_prev {
	uint64_t id;
	uint64_t c[NR_COUNTERS];
};

struct top {
	double interval, seconds;	/* seconds <= 0: until q */
	bool tty_out, tty_in;
	struct termios saved;		/* of stdin, when tty_in */
	int stop_sig;			/* the signal that ended it, or 0 */
	/* the refresh before */
	struct top_prev *prev;
	size_t nprev;
	uint64_t prev_ns;
};

static volatile sig_atomic_t top_signal;

static void top_on_signal(int sig)
{
	top_signal = sig;
}

static int top_options(int argc, char **argv, struct top *t)
{
	enum { OPT_INTERVAL = OPT_OWN, OPT_SECONDS };
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "seconds", required_argument, NULL, OPT_SECONDS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, ret;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		ret = common_opt("top", c, NULL, NULL, 0, 0);
		if (ret >= 0)
			return ret;
		switch (c) {
		case OPT_INTERVAL:
			if (!parse_seconds(optarg, &t->interval, 0.0099, 3600))
				return usage_error("top: bad --interval '%s' (0.01..3600)",
						   optarg);
			break;
		case OPT_SECONDS:
			if (!parse_seconds(optarg, &t->seconds, 0, 1e6))
				return usage_error("top: bad --seconds '%s'", optarg);
			break;
		}
	}
	if (optind < argc)
		return usage_error("top: unexpected argument '%s'", argv[optind]);
	return -1;
}

/* Raw mode on stdin, and the signals that must restore it. */
static int top_terminal_setup(struct top *t)
{
	struct sigaction sa = { .sa_handler = top_on_signal };
	struct termios raw;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (!t->tty_in)
		return 0;
	if (tcgetattr(STDIN_FILENO, &t->saved)) {
		errmsg_errno("tcgetattr");
		return -1;
	}
	raw = t->saved;
	raw.c_lflag &= ~(ICANON | ECHO);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw)) {
		errmsg_errno("tcsetattr");
		return -1;
	}
	return 0;
}

static void top_terminal_restore(struct top *t)
{
	if (t->tty_out) {
		fputs("\033[?25h", stdout);	/* the cursor back */
		fflush(stdout);
	}
	if (t->tty_in)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &t->saved);
}

static const struct top_prev *top_find_prev(const struct top *t, uint64_t id)
{
	size_t i;

	for (i = 0; i < t->nprev; i++)
		if (t->prev[i].id == id)
			return &t->prev[i];
	return NULL;
}

/* The rate of counter @i of @a since the refresh before, or "-". */
static void top_rate(const struct top_prev *p,
		     const struct top_prev *now, size_t i, double dt,
		     char *buf, size_t len)
{
	if (!p || dt <= 0 || now->c[i] < p->c[i])
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f", (now->c[i] - p->c[i]) / dt);
}

static void top_header(const struct top *t, const struct dbg_snap *snap)
{
	uint64_t total, max;
	char when[16];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf(PROG " top - %s  allocators %zu", when, snap->n);
	if (kv_u64(&snap->budget, "total_bytes", &total) &&
	    kv_u64(&snap->budget, "max_total_bytes", &max))
		printf("  bytes %" PRIu64 " of %" PRIu64, total, max);
	printf("  every %.2g s%s\n", t->interval, t->tty_in ? "  (q quits)" : "");
	printf(TOP_FMT "\n", "ID", "STATE", "USED/FRAMES", "WAITERS", "ALLOCS/s",
	       "FREES/s", "FAILS/s", "HANDOFFS/s", "PID", "COMM");
}

static void top_line(const struct top *t, const struct dbg_alloc *a,
		     const struct top_prev *now, double dt)
{
	const struct top_prev *p = top_find_prev(t, a->id);
	const struct kvlist *k = &a->keys;
	char id[24], used[32], rate[NR_COUNTERS][24];
	size_t i;

	snprintf(id, sizeof(id), "%" PRIu64, a->id);
	snprintf(used, sizeof(used), "%s/%s", kv_str(k, "allocated_frames"),
		 kv_str(k, "frames"));
	for (i = 0; i < NR_COUNTERS; i++)
		top_rate(p, now, i, dt, rate[i], sizeof(rate[i]));
	printf(TOP_FMT "\n", id, kv_str(k, "state"), used, kv_str(k, "waiters"),
	       rate[0], rate[1], rate[2], rate[3], kv_str(k, "owner_pid"),
	       kv_str(k, "owner_comm"));
}

/* One refresh.  Returns 0, or -1 after a message. */
static int top_refresh(struct top *t, bool first)
{
	struct dbg_snap snap;
	struct top_prev *now;
	uint64_t ns = now_ns();
	double dt = (ns - t->prev_ns) / 1e9;
	size_t i, j;

	if (dbg_read(dbg_root(), &snap))
		return -1;
	now = calloc(snap.n ? snap.n : 1, sizeof(*now));
	if (!now) {
		dbg_free(&snap);
		errmsg("out of memory");
		return -1;
	}
	for (i = 0; i < snap.n; i++) {
		now[i].id = snap.allocs[i].id;
		for (j = 0; j < NR_COUNTERS; j++)
			if (!kv_u64(&snap.allocs[i].keys, top_counters[j], &now[i].c[j]))
				now[i].c[j] = 0;
	}

	if (t->tty_out)
		fputs("\033[?25l\033[H\033[2J", stdout);
	else if (!first)
		putchar('\n');
	top_header(t, &snap);
	for (i = 0; i < snap.n; i++)
		top_line(t, &snap.allocs[i], &now[i], dt);
	fflush(stdout);

	free(t->prev);
	t->prev = now;
	t->nprev = snap.n;
	t->prev_ns = ns;
	dbg_free(&snap);
	return 0;
}

/*
 * Waits until @until (CLOCK_MONOTONIC ns), reading keys.  Returns 1 when
 * q was pressed or a signal came, 0 at @until.
 */
static int top_wait(struct top *t, uint64_t until)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	uint64_t ns;
	char key;
	int n;

	while (!top_signal && (ns = now_ns()) < until) {
		n = poll(&pfd, t->tty_in ? 1 : 0, (int)((until - ns + 999999) / 1000000));
		if (n < 0 && errno != EINTR) {
			errmsg_errno("poll");
			return 1;
		}
		if (n <= 0 || !(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (read(STDIN_FILENO, &key, 1) != 1) {
			t->tty_in = false;	/* end of input: keys are over */
			continue;
		}
		if (key == 'q' || key == 'Q')
			return 1;
	}
	return top_signal ? 1 : 0;
}

int cmd_top(int argc, char **argv)
{
	struct top t = { .interval = 1 };
	uint64_t start, next, deadline = UINT64_MAX;
	int ret, status = 0;
	bool tty_in;

	ret = top_options(argc, argv, &t);
	if (ret >= 0)
		return ret;
	t.tty_out = isatty(STDOUT_FILENO);
	tty_in = isatty(STDIN_FILENO);
	t.tty_in = tty_in;
	if (top_terminal_setup(&t))
		return 1;

	start = now_ns();
	t.prev_ns = start;
	if (t.seconds > 0)
		deadline = start + (uint64_t)(t.seconds * 1e9);
	next = start;
	for (;;) {
		if (top_refresh(&t, next == start)) {
			status = 1;
			break;
		}
		if (next >= deadline)
			break;
		next += (uint64_t)(t.interval * 1e9);
		if (next > deadline)
			next = deadline;
		if (top_wait(&t, next))
			break;
	}
	t.tty_in = tty_in;
	top_terminal_restore(&t);
	free(t.prev);
	if (top_signal) {
		signal(top_signal, SIG_DFL);
		raise(top_signal);
	}
	return status;
}
