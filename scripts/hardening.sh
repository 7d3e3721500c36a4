#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# hardening.sh - limits, memory-cgroup accounting and teardown races of
# ksalloc in a QEMU guest, per kernel.
#
# Builds ksalloc.ko and the sample producer against each kernel's headers
# (scripts/build.sh) and the static tools, boots scripts/guest/hardening.sh
# as /init (run_guest of scripts/lib.sh) and prints one "PASS: hardening/<kernel>/<check>"
# or "FAIL: ..." line per check, like scripts/integration.sh.  With --fuzz
# it then runs the short fuzz pass (scripts/fuzz.sh --short) on each
# kernel too.

set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage()
{
	cat <<EOF
Usage: $PROG [--fuzz] [--loops N] [FLAVOUR...]

Runs the hardening guest on each FLAVOUR of scripts/kernels.sh (default:
6.1 6.12 6.12-rt):

  limits    one huge framing and many framed descriptors hit
            max_pool_bytes / max_total_bytes with ENOMEM (small limits and
            the defaults), the guest keeps its memory, closing returns the
            budget
  memcg     the pool is charged to the opener's memory cgroup (cgroup v2
            memory.current grows by the pool) and uncharged on close
  teardown  rmmod refused while busy, producer detach / close / allocator
            close while the producer's timer fires, kill -9 of a streaming
            ksalloc-ctl, each N times; then the whole budget frames (no
            leak), dmesg is clean, taint is O/E at most, both modules unload

  --fuzz      also run scripts/fuzz.sh --short on each FLAVOUR
  --loops N   rounds of each teardown loop (default 20)
  -h, --help  this text

Console logs: \${KSALLOC_OUT:-out}/logs/hardening-FLAVOUR.log.
Exit status 0 when every check passed.
EOF
}

main()
{
	local fuzz=false loops=20 k t status=0 start
	local -a kernels=() files

	while [[ $# -gt 0 ]]; do
		case $1 in
		-h | --help) usage; return 0 ;;
		--fuzz) fuzz=true ;;
		--loops)
			[[ $# -ge 2 ]] || die "$1 needs an argument"
			loops=$2
			shift
			;;
		-*) usage >&2; die "unknown argument '$1'" ;;
		*) kernels+=("$1") ;;
		esac
		shift
	done
	[[ $loops =~ ^[1-9][0-9]*$ ]] || die "--loops wants a number, got '$loops'"
	[[ ${#kernels[@]} -gt 0 ]] || kernels=(6.1 6.12 6.12-rt)

	build_tools
	for k in "${kernels[@]}"; do
		start=$SECONDS
		guest_build hardening "$k" || { status=1; continue; }
		# The fuzz programs: the guest's hold helper is one of them.
		files=("$KO/ksalloc.ko:/lib/modules/"
		       "$KO/samples/ksalloc_producer.ko:/lib/modules/"
		       "$tools/ksalloc-ctl:/bin/")
		for t in "$tools"/ksalloc_fuzz*; do
			[[ ! -x $t ]] || files+=("$t:/bin/")
		done
		run_guest --smp 2 --mem 1024 --timeout 900 \
			--show '^(memcg:|MemAvailable:|taint:|HARDENING-TIME:|hold |.*: failed in round)' \
			--config /etc/ksalloc-hardening.conf "HARDENING_LOOPS=$loops" \
			hardening "$k" "$here/guest/hardening.sh" "${files[@]}" ||
			status=1
		msg "$k: hardening took $((SECONDS - start)) s"

		if $fuzz; then
			"$here/fuzz.sh" --short --kernel "$k" || status=1
		fi
	done
	return "$status"
}

main "$@"
