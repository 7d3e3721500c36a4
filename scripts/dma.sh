#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# dma.sh - frames a device writes by DMA: QEMU's edu PCI device streaming
# into ksalloc frames, on each kernel, in each machine of edu_machine
# (scripts/lib.sh): no IOMMU with a 64-bit mask, a 28-bit mask with 1 GiB,
# an Intel IOMMU, swiotlb=force, and two NUMA nodes with edu on node 1.
#
# Builds ksalloc.ko and ksalloc_producer.ko (which holds edu's driver) for
# each kernel, and ksalloc-ctl, boots one guest per machine (run_guest of
# scripts/lib.sh, two vCPUs under TCG) with scripts/guest/dma.sh as /init,
# and prints "PASS: dma/<kernel>/<machine>/<check>" (FAIL:, SKIP:) for
# each check of the guest.  The console log of every guest must also hold
# no kernel report (scripts/kernel-reports) and no DMA-API, swiotlb or
# IOMMU fault line: that is the check "log-clean".

set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly KERNELS="6.1 6.12 6.12-rt"
# Kernel lines that are DMA trouble, beyond kernel-reports: DMA-API debug
# reports, a full bounce buffer, an address beyond the mask, IOMMU faults.
readonly DMA_REPORTS_RE='DMA-API|swiotlb buffer is full|overflow mask|DMAR: DRHD: handling fault|DMAR: \[DMA (Read|Write)'
# ... but for what DMA_API_DEBUG says at boot.
readonly DMA_BOOT_RE='DMA-API: (preallocated [0-9]+ debug entries|debugging enabled by kernel config)'
readonly KMSG_RE='^\[ *[0-9]+\.[0-9]+\]'

usage()
{
	cat <<EOF
Usage: $PROG [--kernel FLAVOUR]... [--machine NAME]...

Streams frames from QEMU's edu device into ksalloc on each --kernel
(default: $KERNELS; or debug, scripts/debug-kernel.sh) in each --machine
(default: $EDU_MACHINES), one guest boot each.  Console logs go to
\${KSALLOC_OUT:-out}/logs/dma-FLAVOUR-MACHINE.log.  Exit status 0 when
every check passed.

Machines (scripts/lib.sh, edu_machine):
  plain64  no IOMMU, edu and its driver with a 64-bit mask
  mask28   -m 1G, edu's default 28-bit mask
  iommu    -M q35 with intel-iommu, intel_iommu=on, 28-bit mask
  swiotlb  swiotlb=force, 64-bit mask
  numa     two NUMA nodes, edu behind a pxb-pcie on node 1
EOF
}

# log_reports LOG: prints the kernel lines of LOG that are reports.
log_reports()
{
	grep -E "$KMSG_RE" "$1" | grep -E "$KERNEL_REPORTS_RE|$DMA_REPORTS_RE" |
		grep -vE "$DMA_BOOT_RE"
}

# run_machine KERNEL MACHINE: one guest; its checks as
# dma/KERNEL/MACHINE/check.  Returns 1 when one failed.
run_machine()
{
	local k=$1 m=$2 name=dma-$1-$2 out a rc=0 start=$SECONDS
	local -a args

	edu_machine "$m" || die "unknown machine '$m' (want one of: $EDU_MACHINES)"
	args=(--name "$name" --smp 2 --mem "$EDU_MEM" --timeout 600
	      --config /etc/ksalloc-dma.conf "$EDU_CONF")
	[[ -z $EDU_APPEND ]] || args+=(--append "$EDU_APPEND")
	for a in "${EDU_QEMU[@]}"; do
		args+=(--qemu "$a")
	done
	out=$(run_guest "${args[@]}" dma "$k" "$here/guest/dma.sh" \
		"$KO/ksalloc.ko:/lib/modules/" \
		"$KO/samples/ksalloc_producer.ko:/lib/modules/" \
		"$tools/ksalloc-ctl:/bin/") || rc=1
	# The machine goes after the kernel in every line run_guest made.
	sed -E "s#^(PASS|FAIL|SKIP): dma/$k/#\1: dma/$k/$m/#" <<<"$out"
	if [[ -f $logs/$name.log ]] && log_reports "$logs/$name.log" >&2; then
		echo "FAIL: dma/$k/$m/log-clean (see $logs/$name.log)"
		rc=1
	elif [[ -f $logs/$name.log ]]; then
		echo "PASS: dma/$k/$m/log-clean"
	fi
	# run_guest ran in a subshell: its GUEST_OUT is not ours.
	grep -h '^dma \|^edu: \|^dma-api: \|^swiotlb: ' "$logs/$name.out" 2>/dev/null |
		sed "s|^|$k: |" >&2 || true
	msg "$k/$m took $((SECONDS - start)) s"
	return "$rc"
}

main()
{
	local k m status=0
	local -a kernels=() machines=()

	while [[ $# -gt 0 ]]; do
		case $1 in
		-h | --help) usage; return 0 ;;
		--kernel | --machine)
			[[ $# -ge 2 ]] || die "$1 needs an argument"
			if [[ $1 == --kernel ]]; then
				kernels+=("$2")
			else
				edu_machine "$2" ||
					die "unknown machine '$2' (want one of: $EDU_MACHINES)"
				machines+=("$2")
			fi
			shift
			;;
		*) usage >&2; exit 2 ;;
		esac
		shift
	done
	[[ ${#kernels[@]} -gt 0 ]] || read -ra kernels <<<"$KERNELS"
	[[ ${#machines[@]} -gt 0 ]] || read -ra machines <<<"$EDU_MACHINES"

	build_tools ksalloc-ctl
	for k in "${kernels[@]}"; do
		guest_build dma "$k" || { status=1; continue; }
		for m in "${machines[@]}"; do
			run_machine "$k" "$m" || status=1
		done
	done
	return "$status"
}

main "$@"
