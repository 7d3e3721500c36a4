#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh - `make run`: stream frames through ksalloc in a QEMU guest.
#
# Installs what is missing, builds ksalloc.ko, the producer and
# ksalloc-ctl for the stock Debian 6.12 kernel, boots that kernel under
# QEMU (run_guest of scripts/lib.sh) and streams frames from the
# producer's softirq timer into user space (scripts/guest/demo.sh).  The
# guest's console shows as it comes; its checks end as "PASS:
# run/FLAVOUR/check" lines.  Exits 0 when the stream was clean.

set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage()
{
	cat <<EOF
Usage: $PROG [FLAVOUR]

Boots FLAVOUR (default 6.12; or 6.1, 6.12-rt) with ksalloc loaded and
streams frames for five seconds.  The console log is kept in
\${KSALLOC_OUT:-out}/logs/run-FLAVOUR.log.
EOF
}

main()
{
	local k

	case ${1:-} in
	-h | --help) usage; return 0 ;;
	-*) usage >&2; exit 2 ;;
	esac
	k=${1:-6.12}

	echo "run: installing what is missing and building (the first time takes a few minutes)"
	"$here/deps.sh"
	guest_build run "$k" || { tail -n 30 "$logs/run-build-$k.log" >&2; return 1; }
	build_tools ksalloc-ctl
	run_guest --smp 2 --timeout 300 --live run "$k" "$here/guest/demo.sh" \
		"$KO/ksalloc.ko:/lib/modules/" \
		"$KO/samples/ksalloc_producer.ko:/lib/modules/" \
		"$tools/ksalloc-ctl:/bin/" 2>&1
}

main "$@"
