// SPDX-License-Identifier: GPL-2.0
/*
 * ksalloc - the module: its parameters, init and exit
 *
 * The core (core.c, frames.c, cache.c) and the character device (dev.c)
 * read the limits below; they can be changed at run time through
 * /sys/module/ksalloc/parameters/ and apply to the next framing.
 */

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sizes.h>
#include <kunit/visibility.h>

#include "ksalloc_internal.h"

umode_t ksalloc_dev_mode = 0600;
module_param_named(mode, ksalloc_dev_mode, ushort, 0444);
MODULE_PARM_DESC(mode, "Permissions of /dev/ksalloc (default 0600)");

unsigned int ksalloc_max_frames = 65536;
module_param_named(max_frames, ksalloc_max_frames, uint, 0644);
MODULE_PARM_DESC(max_frames, "Most frames one allocator may have (default 65536)");

unsigned int ksalloc_max_frame_size = SZ_4M;
module_param_named(max_frame_size, ksalloc_max_frame_size, uint, 0644);
MODULE_PARM_DESC(max_frame_size, "Largest frame in bytes (default 4 MiB)");

unsigned long ksalloc_max_pool_bytes = SZ_64M;
EXPORT_SYMBOL_IF_KUNIT(ksalloc_max_pool_bytes);
module_param_named(max_pool_bytes, ksalloc_max_pool_bytes, ulong, 0644);
MODULE_PARM_DESC(max_pool_bytes,
		 "Most bytes one allocator may cost, pool and metadata (default 64 MiB)");

unsigned long ksalloc_max_total_bytes = SZ_256M;
module_param_named(max_total_bytes, ksalloc_max_total_bytes, ulong, 0644);
MODULE_PARM_DESC(max_total_bytes,
		 "Most bytes all allocators together may cost (default 256 MiB)");

static int __init ksalloc_init(void)
{
	int ret;

	if (ksalloc_dev_mode & ~0777) {
		pr_err("mode %#o is not a permission mask\n", ksalloc_dev_mode);
		return -EINVAL;
	}
	ret = ksalloc_core_init();
	if (ret)
		return ret;
	ret = ksalloc_dev_init();
	if (ret)
		ksalloc_core_exit();
	return ret;
}
module_init(ksalloc_init);

static void __exit ksalloc_exit(void)
{
	ksalloc_dev_exit();
	ksalloc_core_exit();
}
module_exit(ksalloc_exit);

MODULE_DESCRIPTION("Kernel Streaming style stream allocator");
MODULE_LICENSE("GPL");
