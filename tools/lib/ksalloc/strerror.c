// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * ksalloc_strerror(): the errnos of /dev/ksalloc in its own terms.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "libksalloc.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	int err;
	const char *msg;
} ksalloc_errors[] = {
	{ EBADFD, "allocator not framed yet (set the framing first)" },
	{ EBUSY, "allocator already framed" },
	{ EAGAIN, "no free frame" },
	{ ETIMEDOUT, "timed out waiting for a free frame" },
	{ EINTR, "wait for a frame interrupted by a signal" },
	{ ENODEV, "allocator closed or being torn down" },
	{ EINVAL, "bad framing (or over max_frames), flag or reserved field, or frame not held" },
	{ ENOMEM, "over the module's limits (max_pool_bytes, max_total_bytes)" },
	{ EOPNOTSUPP, "not available on a paged pool" },
	{ EBADF, "descriptor not open for writing, or not open" },
	{ EPERM, "frames cannot be mapped executable" },
	{ ENXIO, "mapping larger than the pool" },
	{ EOVERFLOW, "pool larger than this process's address space" },
	{ ENOTTY, "not a ksalloc descriptor, or a request this module does not know" },
	{ EFAULT, "bad address passed to the device" },
	{ ENOENT, "no " KSALLOC_DEVICE_PATH " (is ksalloc.ko loaded?)" },
	{ EACCES, "permission denied on the device (see the module's mode parameter)" },
};

/**
 * ksalloc_strerror() - describe an error of libksalloc
 * @err: a negative errno as the library returns it (a positive one works too)
 *
 * Thread-safe for the errnos above; any other falls back to strerror(3).
 *
 * Return: a string that must not be modified or freed.
 */
const char *ksalloc_strerror(int err)
{
	size_t i;

	if (err < 0 && err != INT_MIN)	/* -INT_MIN is no int */
		err = -err;
	if (!err)
		return "success";
	for (i = 0; i < ARRAY_SIZE(ksalloc_errors); i++)
		if (ksalloc_errors[i].err == err)
			return ksalloc_errors[i].msg;
	return strerror(err);
}
