// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc-ptyrun - run a command on a pseudo-terminal and drive it
 *
 *   ksalloc-ptyrun [--timeout S] [--expect RE | --send KEYS | --sleep S]...
 *                  [--uid N] [--check-termios] [--log FILE] -- COMMAND...
 *   ksalloc-ptyrun --check-json < FILE
 *
 * The steps run in the order given: --expect waits (at most --timeout
 * seconds) until what the command printed since the last match matches
 * the extended regular expression RE; --send writes KEYS to the terminal
 * (with \n, \r, \t, \e, \xHH and \\ escapes: "\x03" is ^C); --sleep
 * waits.  Then it waits (--timeout again) for the command to end and
 * prints "ptyrun: exit N" or "ptyrun: signal N".  --check-termios compares
 * the terminal's modes after the command with those before it.
 *
 * Exit status: the command's (128 + N after signal N) when every step
 * passed; 124 when a step or the wait timed out (the command is killed,
 * and the end of its output is printed), 125 when the terminal was not
 * restored, 126 when the command could not be run.
 *
 * --check-json parses standard input as JSON (RFC 8259) and prints each
 * leaf as PATH=VALUE, each array's length as PATH#=N; exit 1 if invalid.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ptyrun.h"

#define PROG "ptyrun"
#define OUT_MAX (4 << 20)

enum step_kind { STEP_EXPECT, STEP_SEND, STEP_SLEEP };

struct step {
	enum step_kind kind;
	const char *arg;
};

struct run {
	struct step *steps;
	int nsteps;
	double timeout;
	long uid;		/* -1: as is */
	bool check_termios;
	FILE *log;
	int master, slave;
	pid_t pid;
	char *out;		/* everything printed, NULs made '.' */
	size_t len, mark;	/* mark: end of the last match */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char help_text[] =
	"usage: ksalloc-ptyrun [--timeout S] [--expect RE | --send KEYS | --sleep S]...\n"
	"                      [--uid N] [--check-termios] [--log FILE] -- COMMAND...\n"
	"       ksalloc-ptyrun --check-json < FILE\n";

/*
 * Reads what the command printed, waiting up to @ms.  Returns the bytes
 * read, or -1 on error.
 */
static int pump(struct run *r, int ms)
{
	struct pollfd pfd = { .fd = r->master, .events = POLLIN };
	char buf[4096], *p;
	ssize_t n, i;

	if (poll(&pfd, 1, ms) <= 0)
		return 0;
	n = read(r->master, buf, sizeof(buf));
	if (n <= 0)
		return n < 0 && errno != EAGAIN && errno != EINTR ? -1 : 0;
	if (r->log)
		fwrite(buf, 1, n, r->log);
	if (r->len + n + 1 > OUT_MAX)
		return n;	/* enough kept to judge */
	p = realloc(r->out, r->len + n + 1);
	if (!p)
		return -1;
	r->out = p;
	for (i = 0; i < n; i++)
		r->out[r->len++] = buf[i] ? buf[i] : '.';
	r->out[r->len] = '\0';
	return n;
}

/* Prints the end of the output, escaped, to stdout. */
static void show_tail(const struct run *r)
{
	size_t i = r->len > 600 ? r->len - 600 : 0;

	printf(PROG ": last output: \"");
	for (; i < r->len; i++) {
		unsigned char c = r->out[i];

		if (c == '\n')
			printf("\\n");
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\"\n");
}

static int step_expect(struct run *r, const char *re_src, uint64_t deadline)
{
	regmatch_t m;
	regex_t re;
	int err;

	err = regcomp(&re, re_src, REG_EXTENDED | REG_NEWLINE);
	if (err) {
		printf(PROG ": bad regular expression '%s'\n", re_src);
		return 126;
	}
	for (;;) {
		if (r->out && !regexec(&re, r->out + r->mark, 1, &m, 0)) {
			r->mark += m.rm_eo;
			regfree(&re);
			return 0;
		}
		if (now_ms() >= deadline)
			break;
		if (pump(r, 50) < 0)
			break;
	}
	regfree(&re);
	printf(PROG ": timed out waiting for /%s/\n", re_src);
	show_tail(r);
	return 124;
}

/* The C escapes of --send. */
static size_t unescape(const char *s, char *out)
{
	static const char from[] = "nrte\\", to[] = "\n\r\t\033\\";
	const char *p;
	size_t n = 0;
	unsigned int v;
	int len;

	while (*s) {
		if (*s != '\\' || !s[1]) {
			out[n++] = *s++;
			continue;
		}
		s++;
		p = strchr(from, *s);
		if (p) {
			out[n++] = to[p - from];
			s++;
		} else if (*s == 'x' && sscanf(s + 1, "%2x%n", &v, &len) == 1) {
			out[n++] = v;
			s += 1 + len;
		} else {
			out[n++] = *s++;
		}
	}
	return n;
}

static int step_send(struct run *r, const char *keys)
{
	char *buf = malloc(strlen(keys) + 1);
	size_t n;
	int ret = 0;

	if (!buf)
		return 126;
	n = unescape(keys, buf);
	if (write(r->master, buf, n) != (ssize_t)n) {
		perror(PROG ": write");
		ret = 126;
	}
	free(buf);
	return ret;
}

static void step_sleep(struct run *r, const char *secs)
{
	uint64_t until = now_ms() + (uint64_t)(atof(secs) * 1000);

	while (now_ms() < until)
		pump(r, (int)(until - now_ms()));
}

/* In the child: the pty becomes the controlling terminal and stdio. */
static void child(struct run *r, const char *slave_name, char **argv)
{
	int fd;

	setsid();
	fd = open(slave_name, O_RDWR);
	if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0) {
		perror(PROG ": controlling terminal");
		_exit(126);
	}
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
	close(r->master);
	close(r->slave);
	if (r->uid >= 0 && (setgroups(0, NULL) || setgid(r->uid) || setuid(r->uid))) {
		perror(PROG ": set uid");
		_exit(126);
	}
	/* This program ignores SIGPIPE; the command gets it as usual. */
	signal(SIGPIPE, SIG_DFL);
	execvp(argv[0], argv);
	fprintf(stderr, PROG ": %s: %s\n", argv[0], strerror(errno));
	_exit(126);
}

static int open_pty(struct run *r, char *name, size_t len)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };

	r->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (r->master < 0 || grantpt(r->master) || unlockpt(r->master) ||
	    ptsname_r(r->master, name, len)) {
		perror(PROG ": pty");
		return -1;
	}
	r->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (r->slave < 0) {
		perror(PROG ": open pty slave");
		return -1;
	}
	ioctl(r->slave, TIOCSWINSZ, &ws);
	return 0;
}

/* Waits for the command to end; returns its status as the shell has it. */
static int reap(struct run *r, uint64_t deadline)
{
	int status;
	pid_t p;

	for (;;) {
		p = waitpid(r->pid, &status, WNOHANG);
		if (p == r->pid)
			break;
		if (now_ms() >= deadline) {
			printf(PROG ": timed out waiting for the command to end\n");
			show_tail(r);
			kill(r->pid, SIGKILL);
			waitpid(r->pid, &status, 0);
			return -1;
		}
		pump(r, 20);
	}
	while (pump(r, 0) > 0)
		;	/* the last of its output */
	if (WIFSIGNALED(status)) {
		printf(PROG ": signal %d\n", WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	printf(PROG ": exit %d\n", WEXITSTATUS(status));
	return WEXITSTATUS(status);
}

static bool same_termios(const struct termios *a, const struct termios *b)
{
	return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag &&
	       a->c_cflag == b->c_cflag && a->c_lflag == b->c_lflag &&
	       !memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc));
}

static int run_steps(struct run *r)
{
	uint64_t deadline;
	int i, ret = 0;

	for (i = 0; i < r->nsteps && !ret; i++) {
		deadline = now_ms() + (uint64_t)(r->timeout * 1000);
		switch (r->steps[i].kind) {
		case STEP_EXPECT:
			ret = step_expect(r, r->steps[i].arg, deadline);
			break;
		case STEP_SEND:
			ret = step_send(r, r->steps[i].arg);
			break;
		case STEP_SLEEP:
			step_sleep(r, r->steps[i].arg);
			break;
		}
	}
	return ret;
}

static int run(struct run *r, char **argv)
{
	struct termios before, after;
	char name[128];
	int ret, status;

	if (open_pty(r, name, sizeof(name)) || tcgetattr(r->slave, &before))
		return 126;
	fflush(stdout);
	r->pid = fork();
	if (r->pid < 0) {
		perror(PROG ": fork");
		return 126;
	}
	if (r->pid == 0)
		child(r, name, argv);

	ret = run_steps(r);
	if (ret) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
		return ret;
	}
	status = reap(r, now_ms() + (uint64_t)(r->timeout * 1000));
	if (status < 0)
		return 124;
	if (r->check_termios) {
		if (tcgetattr(r->slave, &after) || !same_termios(&before, &after)) {
			printf(PROG ": terminal not restored (lflag %#x, was %#x)\n",
			       (unsigned int)after.c_lflag, (unsigned int)before.c_lflag);
			return 125;
		}
		printf(PROG ": terminal restored\n");
	}
	return status;
}

static int add_step(struct run *r, enum step_kind kind, const char *arg)
{
	struct step *s = realloc(r->steps, (r->nsteps + 1) * sizeof(*s));

	if (!s)
		return -1;
	r->steps = s;
	s[r->nsteps].kind = kind;
	s[r->nsteps++].arg = arg;
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_TIMEOUT = 256, OPT_EXPECT, OPT_SEND, OPT_SLEEP, OPT_UID,
	       OPT_TERMIOS, OPT_LOG, OPT_JSON };
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "expect", required_argument, NULL, OPT_EXPECT },
		{ "send", required_argument, NULL, OPT_SEND },
		{ "sleep", required_argument, NULL, OPT_SLEEP },
		{ "uid", required_argument, NULL, OPT_UID },
		{ "check-termios", no_argument, NULL, OPT_TERMIOS },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "check-json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run r = { .timeout = 10, .uid = -1, .master = -1, .slave = -1 };
	int c;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_TIMEOUT:
			r.timeout = atof(optarg);
			break;
		case OPT_EXPECT:
		case OPT_SEND:
		case OPT_SLEEP:
			if (add_step(&r, c == OPT_EXPECT ? STEP_EXPECT :
				     c == OPT_SEND ? STEP_SEND : STEP_SLEEP, optarg))
				return 126;
			break;
		case OPT_UID:
			r.uid = atol(optarg);
			break;
		case OPT_TERMIOS:
			r.check_termios = true;
			break;
		case OPT_LOG:
			r.log = fopen(optarg, "w");
			if (!r.log) {
				perror(optarg);
				return 126;
			}
			break;
		case OPT_JSON:
			return json_check(stdin, stdout);
		case 'h':
			fputs(help_text, stdout);
			return 0;
		default:
			fputs(help_text, stderr);
			return 126;
		}
	}
	if (optind >= argc || r.timeout <= 0) {
		fputs(help_text, stderr);
		return 126;
	}
	signal(SIGPIPE, SIG_IGN);
	return run(&r, argv + optind);
}
