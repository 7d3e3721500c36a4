// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc-ptyrun --check-json: a strict JSON (RFC 8259) parser that prints
 * every leaf as PATH=VALUE (strings decoded, without quotes) and every
 * array's length as PATH#=N, so that a busybox shell can check the
 * structure and the values with grep.  Paths join object keys and array
 * indices with '.': "0.frames=8" is member frames of the first element.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ptyrun.h"
#include "../utf8.h"

#define JSON_MAX_DEPTH 64
#define JSON_PATH_MAX 4096

struct json {
	const char *s, *p;	/* the text, the position */
	FILE *out;
	char path[JSON_PATH_MAX];
	size_t plen;
	int depth;
	const char *err;
};

static bool json_value(struct json *j);

static bool fail(struct json *j, const char *what)
{
	if (!j->err)
		j->err = what;
	return false;
}

static void skip_ws(struct json *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
		j->p++;
}

/* Appends ".@name" (or "@name" at the root) to the path; returns the old length. */
static size_t path_push(struct json *j, const char *name, size_t len)
{
	size_t old = j->plen, dot = old ? 1 : 0;

	if (old + dot + len + 1 > sizeof(j->path)) {
		fail(j, "path too long");
		return old;
	}
	if (dot)
		j->path[j->plen++] = '.';
	memcpy(j->path + j->plen, name, len);
	j->plen += len;
	j->path[j->plen] = '\0';
	return old;
}

static void path_pop(struct json *j, size_t old)
{
	j->plen = old;
	j->path[old] = '\0';
}

static void put_utf8(char *buf, size_t *n, unsigned long c)
{
	if (c < 0x80) {
		buf[(*n)++] = c;
	} else if (c < 0x800) {
		buf[(*n)++] = 0xc0 | c >> 6;
		buf[(*n)++] = 0x80 | (c & 0x3f);
	} else if (c < 0x10000) {
		buf[(*n)++] = 0xe0 | c >> 12;
		buf[(*n)++] = 0x80 | ((c >> 6) & 0x3f);
		buf[(*n)++] = 0x80 | (c & 0x3f);
	} else {
		buf[(*n)++] = 0xf0 | c >> 18;
		buf[(*n)++] = 0x80 | ((c >> 12) & 0x3f);
		buf[(*n)++] = 0x80 | ((c >> 6) & 0x3f);
		buf[(*n)++] = 0x80 | (c & 0x3f);
	}
}

static bool hex4(const char *p, unsigned long *v)
{
	int i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		if (!isxdigit((unsigned char)p[i]))
			return false;
		*v = *v << 4 | (isdigit((unsigned char)p[i]) ? p[i] - '0' :
				(tolower((unsigned char)p[i]) - 'a' + 10));
	}
	return true;
}

/* One escape after the backslash at j->p; appends it to @buf. */
static bool json_escape(struct json *j, char *buf, size_t *n)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	unsigned long c, lo;
	const char *e = strchr(from, *j->p);

	if (*j->p && e) {
		buf[(*n)++] = to[e - from];
		j->p++;
		return true;
	}
	if (*j->p != 'u' || !hex4(j->p + 1, &c))
		return fail(j, "bad escape in a string");
	j->p += 5;
	if (c >= 0xd800 && c < 0xdc00) {
		if (j->p[0] != '\\' || j->p[1] != 'u' || !hex4(j->p + 2, &lo) ||
		    lo < 0xdc00 || lo > 0xdfff)
			return fail(j, "unpaired surrogate");
		c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
		j->p += 6;
	} else if (c >= 0xdc00 && c < 0xe000) {
		return fail(j, "unpaired surrogate");
	}
	put_utf8(buf, n, c);
	return true;
}

/* A string at j->p; its decoded text goes to *@out (malloc'd). */
static bool json_string(struct json *j, char **out)
{
	const char *start = ++j->p;
	size_t n = 0, len;
	char *buf;

	buf = malloc(strlen(start) * 4 + 1);	/* decoded is never longer */
	if (!buf)
		return fail(j, "out of memory");
	while (*j->p != '"') {
		if (!*j->p || (unsigned char)*j->p < 0x20) {
			free(buf);
			return fail(j, *j->p ? "control character in a string" :
				    "unterminated string");
		}
		if (*j->p == '\\') {
			j->p++;
			if (!json_escape(j, buf, &n)) {
				free(buf);
				return false;
			}
			continue;
		}
		len = utf8_len((const unsigned char *)j->p);
		if (!len) {
			free(buf);
			return fail(j, "not UTF-8 in a string");
		}
		memcpy(buf + n, j->p, len);
		n += len;
		j->p += len;
	}
	j->p++;
	buf[n] = '\0';
	*out = buf;
	return true;
}

static bool digits(struct json *j)
{
	const char *s = j->p;

	while (isdigit((unsigned char)*j->p))
		j->p++;
	return j->p > s;
}

static bool json_number(struct json *j)
{
	const char *start = j->p;

	if (*j->p == '-')
		j->p++;
	if (*j->p == '0')
		j->p++;
	else if (!digits(j))
		return fail(j, "bad number");
	if (*j->p == '.') {
		j->p++;
		if (!digits(j))
			return fail(j, "bad fraction");
	}
	if (*j->p == 'e' || *j->p == 'E') {
		j->p++;
		if (*j->p == '+' || *j->p == '-')
			j->p++;
		if (!digits(j))
			return fail(j, "bad exponent");
	}
	fprintf(j->out, "%s=%.*s\n", j->path, (int)(j->p - start), start);
	return true;
}

static bool json_object(struct json *j)
{
	size_t old;
	char *key;
	bool ok;

	j->p++;
	skip_ws(j);
	if (*j->p == '}') {
		j->p++;
		return true;
	}
	for (;;) {
		skip_ws(j);
		if (*j->p != '"' || !json_string(j, &key))
			return fail(j, "expected a member name");
		skip_ws(j);
		if (*j->p != ':') {
			free(key);
			return fail(j, "expected ':'");
		}
		j->p++;
		old = path_push(j, key, strlen(key));
		free(key);
		ok = json_value(j);
		path_pop(j, old);
		if (!ok)
			return false;
		skip_ws(j);
		if (*j->p == '}') {
			j->p++;
			return true;
		}
		if (*j->p != ',')
			return fail(j, "expected ',' or '}'");
		j->p++;
	}
}

static bool json_array(struct json *j)
{
	char idx[24];
	size_t n = 0, old;
	bool ok;

	j->p++;
	skip_ws(j);
	if (*j->p != ']') {
		for (;;) {
			snprintf(idx, sizeof(idx), "%zu", n++);
			old = path_push(j, idx, strlen(idx));
			ok = json_value(j);
			path_pop(j, old);
			if (!ok)
				return false;
			skip_ws(j);
			if (*j->p == ']')
				break;
			if (*j->p != ',')
				return fail(j, "expected ',' or ']'");
			j->p++;
		}
	}
	j->p++;
	fprintf(j->out, "%s#=%zu\n", j->path, n);
	return true;
}

static bool json_word(struct json *j, const char *w)
{
	size_t n = strlen(w);

	if (strncmp(j->p, w, n))
		return fail(j, "unexpected character");
	j->p += n;
	fprintf(j->out, "%s=%s\n", j->path, w);
	return true;
}

static bool json_value(struct json *j)
{
	char *str;
	bool ok;

	skip_ws(j);
	if (++j->depth > JSON_MAX_DEPTH)
		return fail(j, "nested too deep");
	switch (*j->p) {
	case '{':
		ok = json_object(j);
		break;
	case '[':
		ok = json_array(j);
		break;
	case '"':
		ok = json_string(j, &str);
		if (ok) {
			fprintf(j->out, "%s=%s\n", j->path, str);
			free(str);
		}
		break;
	case 't':
		ok = json_word(j, "true");
		break;
	case 'f':
		ok = json_word(j, "false");
		break;
	case 'n':
		ok = json_word(j, "null");
		break;
	default:
		ok = *j->p == '-' || isdigit((unsigned char)*j->p) ?
		     json_number(j) : fail(j, "expected a value");
		break;
	}
	j->depth--;
	return ok;
}

int json_check(FILE *in, FILE *out)
{
	struct json j = { .out = out };
	size_t len = 0, cap = 65536, n;
	char *buf = malloc(cap), *p;

	while (buf && (n = fread(buf + len, 1, cap - len - 1, in)) > 0) {
		len += n;
		if (cap - len < 2) {
			p = realloc(buf, cap * 2);
			if (!p)
				free(buf);
			buf = p;
			cap *= 2;
		}
	}
	if (!buf) {
		fprintf(stderr, "ksalloc-ptyrun: json: out of memory\n");
		return 1;
	}
	buf[len] = '\0';
	if (strlen(buf) != len) {
		fprintf(stderr, "ksalloc-ptyrun: json: NUL byte in the input\n");
		free(buf);
		return 1;
	}
	j.s = buf;
	j.p = buf;
	if (json_value(&j)) {
		skip_ws(&j);
		if (*j.p)
			fail(&j, "text after the value");
	}
	if (j.err)
		fprintf(stderr, "ksalloc-ptyrun: json: byte %zu: %s\n",
			(size_t)(j.p - j.s), j.err);
	free(buf);
	return j.err ? 1 : 0;
}
