// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc-ctl list: every allocator of the module, from debugfs.  One line
 * each under a header, or with --json an array of objects whose keys are
 * those of the debugfs files ("id" first, "caches" an object of the
 * per-CPU counts, "waiter" an array of the waiters, oldest first).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "debugfs.h"

#define LIST_FMT "%6s %-6s %-8s %7s %10s %7s %6s %6s %7s %8s %10s %7s %s\n"

static const char *pool_type_name(const char *v)
{
	if (!v)
		return "-";
	if (!strcmp(v, "0"))
		return "nonpaged";
	if (!strcmp(v, "1"))
		return "paged";
	return v;
}

static void list_header(void)
{
	printf(LIST_FMT, "ID", "STATE", "POOL", "FRAMES", "FRAME_SIZE", "STRIDE",
	       "USED", "FREE", "WAITERS", "DISPATCH", "BYTES", "PID", "COMM");
}

static void list_line(const struct dbg_alloc *a)
{
	const struct kvlist *k = &a->keys;
	char id[24];

	snprintf(id, sizeof(id), "%" PRIu64, a->id);
	printf(LIST_FMT, id, kv_str(k, "state"),
	       pool_type_name(kv_get(k, "pool_type")),
	       kv_str(k, "frames"), kv_str(k, "frame_size"),
	       kv_str(k, "stride"), kv_str(k, "allocated_frames"),
	       kv_str(k, "free_frames"), kv_str(k, "waiters"),
	       kv_str(k, "dispatch"), kv_str(k, "bytes"),
	       kv_str(k, "owner_pid"), kv_str(k, "owner_comm"));
}

/* Whether @s is a number JSON can carry as it is: 0 or [1-9][0-9]*. */
static bool json_decimal(const char *s)
{
	if (!strcmp(s, "0"))
		return true;
	if (*s < '1' || *s > '9')
		return false;
	return strspn(s, "0123456789") == strlen(s) && strlen(s) <= 20;
}

static bool json_hex(const char *s)
{
	return s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && s[2] &&
	       strspn(s + 2, "0123456789abcdefABCDEF") == strlen(s + 2) &&
	       strlen(s + 2) <= 16;
}

/* A value as a JSON number when it is one, else as a string. */
static void json_value(const char *key, const char *val)
{
	if (strcmp(key, "owner_comm") && json_decimal(val))
		fputs(val, stdout);
	else if (strcmp(key, "owner_comm") && json_hex(val))
		printf("%llu", strtoull(val, NULL, 16));
	else
		json_str(val);
}

static void json_member(const char *key, const char *val, bool *first)
{
	printf("%s", *first ? "" : ",");
	*first = false;
	json_str(key);
	putchar(':');
	json_value(key, val);
}

/* "waiter PID WAITED_MS" lines as [{"pid":P,"waited_ms":M},...]. */
static void json_waiters(const struct kvlist *w)
{
	unsigned long long pid, ms;
	size_t i;

	printf(",\"waiter\":[");
	for (i = 0; i < w->n; i++) {
		if (sscanf(w->v[i].val, "%llu %llu", &pid, &ms) != 2) {
			pid = 0;
			ms = 0;
		}
		printf("%s{\"pid\":%llu,\"waited_ms\":%llu}", i ? "," : "", pid, ms);
	}
	putchar(']');
}

static void json_alloc(const struct dbg_alloc *a)
{
	bool first;
	size_t i;

	printf("{\"id\":%" PRIu64, a->id);
	for (i = 0; i < a->keys.n; i++) {
		first = false;
		json_member(a->keys.v[i].key, a->keys.v[i].val, &first);
	}
	printf(",\"caches\":{");
	first = true;
	for (i = 0; i < a->caches.n; i++)
		json_member(a->caches.v[i].key, a->caches.v[i].val, &first);
	putchar('}');
	json_waiters(&a->waiter);
	putchar('}');
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dbg_snap snap;
	bool json = false;
	size_t i;
	int c, ret;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		ret = common_opt("list", c, NULL, &json, 0, 0);
		if (ret == OPT_TAKEN)
			continue;
		if (ret >= 0)
			return ret;
	}
	if (optind < argc)
		return usage_error("list: unexpected argument '%s'", argv[optind]);

	if (dbg_read(dbg_root(), &snap))
		return 1;
	if (json) {
		putchar('[');
		for (i = 0; i < snap.n; i++) {
			if (i)
				putchar(',');
			json_alloc(&snap.allocs[i]);
		}
		printf("]\n");
	} else {
		list_header();
		for (i = 0; i < snap.n; i++)
			list_line(&snap.allocs[i]);
	}
	dbg_free(&snap);
	return fflush(stdout) ? 1 : 0;
}
