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
 * view.  The terminal is restored on every way out: SIGINT, SIGTERM,
 * SIGHUP, SIGQUIT and SIGPIPE end the view and are then raised again, so
 * that the caller sees them; SIGTSTP restores it and stops (SIGSTOP), and
 * SIGCONT puts it back in raw mode and redraws.  A signal ignored when top
 * starts stays ignored.  The signals are blocked but in ppoll(), so none
 * comes between the test of the flags and the wait.  A write error on
 * standard output (a reader that went away, with SIGPIPE ignored) ends
 * the view with status 1.
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
	bool tty_out, tty_in;		/* stdout, stdin are terminals */
	bool keys;			/* keys are read: stdin a terminal, not at its end */
	struct termios saved;		/* of stdin, when tty_in */
	sigset_t orig_mask;		/* the mask at the start, for ppoll() */
	bool refreshed;			/* a refresh was printed */
	/* the refresh before */
	struct top_prev *prev;
	size_t nprev;
	uint64_t prev_ns;
};

/* The signal that ends the view, or 0; and SIGTSTP or SIGCONT came. */
static volatile sig_atomic_t top_signal, top_tstp, top_cont;

static void top_on_signal(int sig)
{
	if (sig == SIGTSTP)
		top_tstp = 1;
	else if (sig == SIGCONT)
		top_cont = 1;
	else
		top_signal = sig;
}

/* What the view handles: the signals that end it, then SIGTSTP, SIGCONT. */
static const int top_signals[] = {
	SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP, SIGCONT,
};

enum top_wake { TOP_TIMEOUT, TOP_QUIT, TOP_TSTP, TOP_CONT, TOP_ERROR };

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

/*
 * Catches the signals of top_signals[] that are not ignored, and blocks
 * them: they come only in ppoll().  Returns 0, or -1 after a message.
 */
static int top_signals_setup(struct top *t)
{
	struct sigaction sa = { .sa_handler = top_on_signal }, old;
	sigset_t block;
	size_t i;

	sigemptyset(&block);
	for (i = 0; i < ARRAY_SIZE(top_signals); i++) {
		if (sigaction(top_signals[i], NULL, &old) || old.sa_handler == SIG_IGN)
			continue;
		sigaddset(&block, top_signals[i]);
		sigaction(top_signals[i], &sa, NULL);
	}
	if (sigprocmask(SIG_BLOCK, &block, &t->orig_mask)) {
		errmsg_errno("sigprocmask");
		return -1;
	}
	return 0;
}

/* Raw mode on stdin, when it is a terminal.  Returns 0, or -1 after a message. */
static int top_terminal_raw(struct top *t)
{
	struct termios raw;

	if (!t->tty_in)
		return 0;
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

/* One refresh.  Returns 0, or -1 after a message (none for EPIPE). */
static int top_refresh(struct top *t)
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
	else if (t->refreshed)
		putchar('\n');
	t->refreshed = true;
	top_header(t, &snap);
	for (i = 0; i < snap.n; i++)
		top_line(t, &snap.allocs[i], &now[i], dt);

	free(t->prev);
	t->prev = now;
	t->nprev = snap.n;
	t->prev_ns = ns;
	dbg_free(&snap);
	/* A reader that went away (EPIPE) needs no message. */
	if ((fflush(stdout) || ferror(stdout)) && errno != EPIPE) {
		errmsg_errno("standard output");
		return -1;
	}
	return ferror(stdout) ? -1 : 0;
}

/*
 * Waits until @until (CLOCK_MONOTONIC ns), reading keys, with the
 * signals of top_signals[] let in.  Returns TOP_TIMEOUT at @until,
 * TOP_QUIT when q was pressed or a signal ends the view, TOP_TSTP or
 * TOP_CONT after SIGTSTP or SIGCONT, TOP_ERROR after a message.
 */
static enum top_wake top_wait(struct top *t, uint64_t until)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	struct timespec ts;
	uint64_t ns;
	char key;
	int n;

	for (;;) {
		if (top_signal)
			return TOP_QUIT;
		if (top_tstp) {
			top_tstp = 0;
			return TOP_TSTP;
		}
		if (top_cont) {
			top_cont = 0;
			return TOP_CONT;
		}
		ns = now_ns();
		if (ns >= until)
			return TOP_TIMEOUT;
		ts.tv_sec = (until - ns) / 1000000000;
		ts.tv_nsec = (until - ns) % 1000000000;
		n = ppoll(&pfd, t->keys ? 1 : 0, &ts, &t->orig_mask);
		if (n < 0 && errno != EINTR) {
			errmsg_errno("ppoll");
			return TOP_ERROR;
		}
		if (n <= 0 || !(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (read(STDIN_FILENO, &key, 1) != 1) {
			t->keys = false;	/* end of input: keys are over */
			continue;
		}
		if (key == 'q' || key == 'Q')
			return TOP_QUIT;
	}
}

/*
 * Waits until @until as top_wait(), stopping on SIGTSTP (the terminal
 * restored) and redrawing on SIGCONT (in raw mode again).  Returns 0 at
 * @until, 1 when the view ends, -1 after a message.
 */
static int top_sleep(struct top *t, uint64_t until)
{
	sigset_t pending;

	for (;;) {
		switch (top_wait(t, until)) {
		case TOP_TIMEOUT:
			return 0;
		case TOP_QUIT:
			return 1;
		case TOP_ERROR:
			return -1;
		case TOP_TSTP:
			top_terminal_restore(t);
			raise(SIGSTOP);
			/* Continued: SIGCONT is pending, unless it is ignored. */
			if (sigpending(&pending) || !sigismember(&pending, SIGCONT))
				top_cont = 1;
			break;
		case TOP_CONT:
			if (top_terminal_raw(t) || (t->tty_out && top_refresh(t)))
				return -1;
			break;
		}
	}
}

int cmd_top(int argc, char **argv)
{
	struct top t = { .interval = 1 };
	uint64_t start, next, deadline = UINT64_MAX;
	int ret, status = 0;

	ret = top_options(argc, argv, &t);
	if (ret >= 0)
		return ret;
	t.tty_out = isatty(STDOUT_FILENO);
	t.tty_in = isatty(STDIN_FILENO);
	t.keys = t.tty_in;
	if (t.tty_in && tcgetattr(STDIN_FILENO, &t.saved)) {
		errmsg_errno("tcgetattr");
		return 1;
	}
	if (top_signals_setup(&t))
		return 1;
	if (top_terminal_raw(&t)) {
		status = 1;
		goto out;
	}

	start = now_ns();
	t.prev_ns = start;
	if (t.seconds > 0)
		deadline = start + (uint64_t)(t.seconds * 1e9);
	next = start;
	for (;;) {
		if (top_refresh(&t)) {
			status = 1;
			break;
		}
		if (next >= deadline)
			break;
		next += (uint64_t)(t.interval * 1e9);
		if (next > deadline)
			next = deadline;
		ret = top_sleep(&t, next);
		if (ret) {
			status = ret < 0;
			break;
		}
	}
	top_terminal_restore(&t);
out:
	free(t.prev);
	/* A signal still blocked comes now; the one that ended the view again. */
	sigprocmask(SIG_SETMASK, &t.orig_mask, NULL);
	if (top_signal) {
		signal(top_signal, SIG_DFL);
		raise(top_signal);
	}
	return status;
}
