/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksalloc - the one place that knows how the supported kernels differ
 *
 * The sources are written against today's upstream spellings; Kbuild
 * force-includes this header (-include) into every object, and it
 * supplies those spellings on the older kernels we support, 6.1 to 6.12
 * (including PREEMPT_RT).  Nothing else in the tree tests a kernel
 * version.  On a current kernel every block here is empty.
 */
#ifndef _KSALLOC_COMPAT_H
#define _KSALLOC_COMPAT_H

#include <linux/export.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/version.h>

/*
 * Symbol namespaces are strings from 6.13 on: EXPORT_SYMBOL_NS_GPL(sym,
 * "KSALLOC") and MODULE_IMPORT_NS("KSALLOC").  Before, both macros
 * stringified a bare token, which would quote the string twice.  The
 * export macro's licence argument was "_gpl" before 6.5 and "GPL" since.
 *
 * The cost: in every object (this header is force-included) the two
 * macros then take a string only, kernel headers included.  A header that
 * uses the bare-token form at file scope no longer compiles in our
 * objects: 6.12's linux/pwm.h (MODULE_IMPORT_NS(PWM)).  Nor does a use of
 * a header's macro that expands to it: EXPORT_SYMBOL_ACPI_LIB() of
 * linux/acpi.h, EXPORT_PM_FN_NS_GPL() of linux/pm.h, and
 * EXPORT_SYMBOL_FWTBL_LIB() of linux/fw_table.h.  None of our objects
 * includes pwm.h or uses those macros.  EXPORT_SYMBOL_NS(), which
 * EXPORT_SYMBOL_IF_KUNIT() expands to with a bare token before 6.13, is
 * left alone.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0)
#undef EXPORT_SYMBOL_NS_GPL
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
#define EXPORT_SYMBOL_NS_GPL(sym, ns) __EXPORT_SYMBOL(sym, "_gpl", ns)
#else
#define EXPORT_SYMBOL_NS_GPL(sym, ns) __EXPORT_SYMBOL(sym, "GPL", ns)
#endif
#undef MODULE_IMPORT_NS
#define MODULE_IMPORT_NS(ns) MODULE_INFO(import_ns, ns)
#endif

/*
 * vm_flags_set() and friends came in 6.3, when vm_area_struct::vm_flags
 * became read-only; 6.1 writes the field directly (the caller holds the
 * mmap lock for writing either way).
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
static inline void vm_flags_mod(struct vm_area_struct *vma,
				vm_flags_t set, vm_flags_t clear)
{
	vma->vm_flags = (vma->vm_flags | set) & ~clear;
}
#endif

/*
 * call_rcu_hurry() came in 6.2 with lazy RCU callbacks; before, every
 * callback was as prompt as it is.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
#define call_rcu_hurry call_rcu
#endif

/*
 * objpool came in 6.7 (lib/objpool.c); the benchmark reports its row as
 * "n/a" before.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
#define KSALLOC_HAVE_OBJPOOL 1
#endif

#endif /* _KSALLOC_COMPAT_H */
