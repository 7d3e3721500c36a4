/* SPDX-License-Identifier: GPL-2.0 */
/*
 * utf8_len(): the length of the UTF-8 sequence at a byte, for JSON, whose
 * text is UTF-8 (RFC 8259): ksalloc-ctl escapes what is not, and the JSON
 * checker of ksalloc-ptyrun refuses it.
 */
#ifndef KSALLOC_CTL_UTF8_H
#define KSALLOC_CTL_UTF8_H

#include <stddef.h>

/*
 * The bytes of the well-formed UTF-8 sequence (RFC 3629: no overlong
 * form, no surrogate, nothing over U+10FFFF) that starts at @p, 1 to 4;
 * 0 when none does.  @p is NUL-terminated: no byte past a NUL is read.
 */
static inline size_t utf8_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] < 0xc2)
		return 0;		/* a continuation byte, or overlong */
	if (p[0] < 0xe0) {
		n = 2;
	} else if (p[0] < 0xf0) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (p[0] == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (p[0] < 0xf5) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;	/* overlong */
		else if (p[0] == 0xf4)
			hi = 0x8f;	/* over U+10FFFF */
	} else {
		return 0;
	}
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

#endif /* KSALLOC_CTL_UTF8_H */
