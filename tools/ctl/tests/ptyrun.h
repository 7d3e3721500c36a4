/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KSALLOC_PTYRUN_H
#define KSALLOC_PTYRUN_H

#include <stdio.h>

/* json.c: checks the JSON text on @in and prints its leaves; 0 or 1. */
int json_check(FILE *in, FILE *out);

#endif /* KSALLOC_PTYRUN_H */
