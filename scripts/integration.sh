#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# integration.sh - ksalloc on stock Debian kernels, in a QEMU guest.
#
# Builds ksalloc.ko and the producer against each kernel's headers, builds
# the static user-space tools once, packs them with
# scripts/guest/integration.sh into an initramfs and boots it under QEMU
# (run_guest of scripts/lib.sh).  The guest runs the selftests, and
# ksalloc_observe (debugfs, tracepoints) and ksalloc-ctl-test (list, top,
# libksalloc).  Prints one "PASS: integration/<kernel>/<check>"
# or "FAIL: ..." line per check the guest reports.

set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage()
{
	cat <<EOF
Usage: $PROG [FLAVOUR...]

Runs the integration guest on each FLAVOUR of scripts/kernels.sh (default:
6.1 6.12 6.12-rt).  Console logs go to \${KSALLOC_OUT:-out}/logs/
integration-FLAVOUR.log, the guest's own lines to integration-FLAVOUR.out.
Exit status 0 when every check passed.
EOF
}

# The programs of $tools the guest runs (ksalloc-ctl-test runs
# ksalloc-ptyrun and libksalloc-test).  ksalloc_test32 exists where gcc
# can build 32-bit programs; without it the compat_ioctl run is a SKIP.
readonly PROGRAMS="ksalloc-ctl ksalloc_test ksalloc_test32 ksalloc_observe
	ksalloc-ctl-test ksalloc-ptyrun libksalloc-test"

main()
{
	local k t start status=0
	local -a files

	case ${1:-} in
	-h | --help) usage; return 0 ;;
	-*) usage >&2; exit 2 ;;
	esac
	[[ $# -gt 0 ]] || set -- 6.1 6.12 6.12-rt

	build_tools
	for k in "$@"; do
		start=$SECONDS
		guest_build integration "$k" || { status=1; continue; }
		files=("$KO/ksalloc.ko:/lib/modules/"
		       "$KO/samples/ksalloc_producer.ko:/lib/modules/")
		for t in $PROGRAMS; do
			if [[ -x $tools/$t ]]; then
				files+=("$tools/$t:/bin/")
			elif [[ $t == ksalloc_test32 ]]; then
				echo "SKIP: integration/$k/selftest32 (no 32-bit build)"
			else
				echo "FAIL: integration/$k/$t (not built in $tools)"
				status=1
			fi
		done
		run_guest --smp 2 --timeout 900 --show '^selftests ' \
			integration "$k" "$here/guest/integration.sh" "${files[@]}" ||
			status=1
		msg "$k: integration took $((SECONDS - start)) s"
	done
	return "$status"
}

main "$@"
