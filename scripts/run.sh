#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh - `make run`: stream frames through ksalloc in a QEMU guest.
#
# Installs what is missing, builds ksalloc.ko, the producer and
# ksalloc-ctl for the stock Debian 6.12 kernel, boots that kernel under
# QEMU (run_guest of scripts/lib.sh) and streams frames from the
# producer's softirq timer into user space (scripts/guest/demo.sh).  With
# --demo edu the guest has QEMU's edu PCI device (the plain64 machine of
# edu_machine, scripts/lib.sh), and the frames come from it by DMA.  The
# guest's console shows as it comes; its checks end as "PASS:
# run/FLAVOUR/check" lines.  Exits 0 when the stream was clean.

set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage()
{
	cat <<EOF
Usage: $PROG [--demo timer|edu] [FLAVOUR]

Boots FLAVOUR (default 6.12; or 6.1, 6.12-rt) with ksalloc loaded and
streams frames for five seconds from the producer's softirq timer (--demo
timer, the default), or for three seconds twice from QEMU's edu PCI device
by DMA (--demo edu): into a pool user space framed, then into device
memory the driver allocated.  The console log is kept in
\${KSALLOC_OUT:-out}/logs/run-FLAVOUR.log.
EOF
}

main()
{
	local k demo=timer a
	local -a args=()

	while [[ $# -gt 0 ]]; do
		case $1 in
		-h | --help) usage; return 0 ;;
		--demo)
			[[ $# -ge 2 ]] || die "--demo needs an argument"
			demo=$2
			shift
			;;
		-*) usage >&2; exit 2 ;;
		*) break ;;
		esac
		shift
	done
	k=${1:-6.12}
	case $demo in
	timer) ;;
	edu)
		edu_machine plain64
		args=(--mem "$EDU_MEM" --config /etc/ksalloc-demo.conf
		      "DEMO=edu
DMA_BITS=64")
		for a in "${EDU_QEMU[@]}"; do
			args+=(--qemu "$a")
		done
		;;
	*) die "unknown demo '$demo' (want timer or edu)" ;;
	esac

	echo "run: installing what is missing and building (the first time takes a few minutes)"
	"$here/deps.sh"
	guest_build run "$k" || { tail -n 30 "$logs/run-build-$k.log" >&2; return 1; }
	build_tools ksalloc-ctl
	run_guest --smp 2 --timeout 300 --live "${args[@]}" run "$k" "$here/guest/demo.sh" \
		"$KO/ksalloc.ko:/lib/modules/" \
		"$KO/samples/ksalloc_producer.ko:/lib/modules/" \
		"$tools/ksalloc-ctl:/bin/" 2>&1
}

main "$@"
