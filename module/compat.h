/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksalloc - the one place that knows how the supported kernels differ
 *
 * Supported: 6.1 and 6.12 (including PREEMPT_RT).  Anything that is spelled
 * differently between them is wrapped here and nowhere else.
 */
#ifndef _KSALLOC_COMPAT_H
#define _KSALLOC_COMPAT_H

#include <linux/mm.h>
#include <linux/version.h>

/*
 * The namespace of every exported symbol, for EXPORT_SYMBOL_NS_GPL(sym,
 * KSALLOC_NS): a string from 6.13 on, a bare token (that the macro
 * stringifies) before.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
#define KSALLOC_NS "KSALLOC"
#else
#define KSALLOC_NS KSALLOC
#endif

/*
 * vm_flags_set() and friends came in 6.3, when vm_area_struct::vm_flags
 * became read-only; 6.1 writes the field directly (the caller holds the
 * mmap lock for writing either way).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
static inline void ksalloc_vm_flags_mod(struct vm_area_struct *vma,
					vm_flags_t set, vm_flags_t clear)
{
	vm_flags_mod(vma, set, clear);
}
#else
static inline void ksalloc_vm_flags_mod(struct vm_area_struct *vma,
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

#endif /* _KSALLOC_COMPAT_H */
