#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# debug-kernel.sh - the "debug" kernel of scripts/kernels.sh.
#
# 6.12 from linux-source-6.12 with KASAN, lockdep, DEBUG_ATOMIC_SLEEP,
# DEBUG_LIST, kmemleak, fault injection and DMA_API_DEBUG, configured down
# to what the QEMU guests use (PCI with MSI, the Intel IOMMU, swiotlb and
# NUMA for the machines of scripts/dma.sh, vgem and vivid for
# scripts/dmabuf.sh), and built with loadable modules
# so that ksalloc.ko is built against it out of tree like against the
# stock kernels.

set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage()
{
	cat <<EOF
Usage: $PROG kdir|vmlinuz|version|moddir

Builds the debug kernel the first time (10 to 15 minutes on two cores;
later runs only check it), in .debug-kasan of the kernel tree that
scripts/deps.sh unpacks, then prints:

  kdir     its build directory, for make -C KDIR M=DIR modules
  vmlinuz  its bzImage
  version  its release (uname -r)
  moddir   its modules, installed (lib/modules/VERSION)

Progress goes to stderr, the answer alone to stdout.
EOF
}

# What the guests need (a serial console, an initramfs, devtmpfs, modules,
# 32-bit binaries, cgroup v2 with the memory controller, the file
# descriptors trinity makes; PCI with MSI and PCI Express ports, the Intel
# IOMMU, swiotlb and ACPI NUMA for the edu machines of scripts/dma.sh),
# then the debugging options.
opts=(SMP SERIAL_8250 SERIAL_8250_CONSOLE BLK_DEV_INITRD RD_GZIP DEVTMPFS
      DEVTMPFS_MOUNT MODULES MODULE_UNLOAD BINFMT_ELF BINFMT_SCRIPT
      IA32_EMULATION PROC_FS SYSFS TMPFS SHMEM MULTIUSER FUTEX EPOLL
      SIGNALFD TIMERFD EVENTFD INOTIFY_USER FANOTIFY USERFAULTFD NET UNIX
      CGROUPS MEMCG HIGH_RES_TIMERS
      PCI PCI_MSI PCIEPORTBUS IOMMU_SUPPORT INTEL_IOMMU SWIOTLB NUMA
      X86_64_ACPI_NUMA
      DEBUG_KERNEL KASAN KASAN_GENERIC KASAN_VMALLOC PROVE_LOCKING
      DEBUG_ATOMIC_SLEEP DEBUG_LIST DEBUG_FS DEBUG_KMEMLEAK FAULT_INJECTION
      FAILSLAB FAIL_PAGE_ALLOC FAULT_INJECTION_DEBUG_FS
      DMA_API_DEBUG DMA_API_DEBUG_SG
      FB DRM=m DRM_VGEM=m MEDIA_SUPPORT=m MEDIA_TEST_SUPPORT VIDEO_DEV=m
      V4L_TEST_DRIVERS
      VIDEO_VIVID=m)

configure()
{
	local o missing=()

	mkdir -p "$b"
	# NAME is built in, NAME=m a module.
	for o in "${opts[@]}"; do
		[[ $o == *=* ]] && echo "CONFIG_$o" || echo "CONFIG_$o=y"
	done >"$b/.config"
	make -s -C "$src" O="$b" ARCH=x86_64 olddefconfig >&2
	for o in "${opts[@]}"; do
		[[ $o == *=* ]] || o=$o=y
		grep -qx "CONFIG_$o" "$b/.config" || missing+=("$o")
	done
	[[ ${#missing[@]} -eq 0 ]] || die "the config lacks: ${missing[*]}"
}

build()
{
	local stamp=$b/.ksalloc-opts want

	want=$(printf '%s\n' "${opts[@]}")
	if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
		msg "configuring the debug kernel in $b"
		configure
		echo "$want" >"$stamp"
	fi
	msg "building the debug kernel (bzImage, modules)"
	make -s -C "$src" O="$b" ARCH=x86_64 -j"$(nproc)" bzImage modules >&2
}

main()
{
	local cmd lockfd

	case ${1:-} in
	-h | --help) usage; return 0 ;;
	kdir | vmlinuz | version | moddir) cmd=$1 ;;
	*) usage >&2; exit 2 ;;
	esac
	src=$("$here/deps.sh" --source-dir)
	b=$src/.debug-kasan

	# One build at a time: the integration, hardening and fuzz scripts
	# may all ask at once.
	exec {lockfd}>"$b.lock"
	flock "$lockfd"
	build
	case $cmd in
	kdir) echo "$b" ;;
	vmlinuz) echo "$b/arch/x86/boot/bzImage" ;;
	version) make -s -C "$src" O="$b" ARCH=x86_64 kernelrelease ;;
	moddir)
		# Its own modules (the dma-buf importers), installed afresh.
		rm -rf "$b/.modules"
		make -s -C "$src" O="$b" ARCH=x86_64 \
			INSTALL_MOD_PATH="$b/.modules" modules_install >&2
		echo "$b/.modules/lib/modules/$(make -s -C "$src" O="$b" \
			ARCH=x86_64 kernelrelease)"
		;;
	esac
}

main "$@"
