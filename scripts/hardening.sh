#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# hardening.sh - limits, memory-cgroup accounting and teardown races of
# ksalloc in a QEMU guest, per kernel.
#
# Builds ksalloc.ko and the sample producer against each kernel's headers
# (scripts/build.sh) and the static tools, boots scripts/guest/hardening.sh
# as /init (scripts/vm.sh) and prints one "PASS: hardening/<kernel>/<check>"
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

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# This work tree's user-space tools and guest images.
tools=$("$here/build.sh" --tools-dir)
cache=${KSALLOC_CACHE:-$HOME/.cache/ksalloc}
logs=${KSALLOC_OUT:-$repo/out}/logs

main()
{
	local fuzz=false loops=20 k ko img conf rc status=0 start
	local -a kernels=() files=()

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

	mkdir -p "$logs" "$tools"
	make -s -C "$repo/tools" O="$tools" >&2

	for k in "${kernels[@]}"; do
		start=$SECONDS
		ko=$("$here/build.sh" "$k" 2>"$logs/hardening-build-$k.log" | tail -n 1) || {
			echo "FAIL: hardening/$k/build (see $logs/hardening-build-$k.log)"
			status=1
			continue
		}
		conf=$(mktemp "${TMPDIR:-/tmp}/ksalloc-hardening-conf.XXXXXX")
		echo "HARDENING_LOOPS=$loops" >"$conf"
		files=(--file "$ko/ksalloc.ko:/lib/modules/"
		       --file "$ko/samples/ksalloc_producer.ko:/lib/modules/"
		       --file "$tools/ksalloc-ctl:/bin/"
		       --file "$tools/ksalloc_fuzz:/bin/"
		       --file "$conf:/etc/ksalloc-hardening.conf")
		img="$tools/hardening-$k.cpio.gz"
		"$here/initramfs.sh" -o "$img" --init "$here/guest/hardening.sh" \
			"${files[@]}" >/dev/null
		rm -f "$conf"

		rc=0
		"$here/vm.sh" --kernel "$("$here/kernels.sh" vmlinux "$k")" --initrd "$img" \
			--smp 2 --mem 1024 --timeout 900 --quiet \
			--log "$logs/hardening-$k.log" \
			>"$logs/hardening-$k.out" 2>&1 </dev/null || rc=$?
		tr -d '\r' <"$logs/hardening-$k.out" >"$logs/hardening-$k.out.tmp"
		mv "$logs/hardening-$k.out.tmp" "$logs/hardening-$k.out"
		sed -n "s|^GUEST-PASS: |PASS: hardening/$k/|p; s|^GUEST-FAIL: |FAIL: hardening/$k/|p" \
			"$logs/hardening-$k.out"
		grep -E '^(memcg:|MemAvailable:|taint:|HARDENING-TIME:|hold |.*: failed in round)' \
			"$logs/hardening-$k.out" | sed "s|^|$k: |" >&2 || true
		if [[ $rc -ne 0 ]]; then
			echo "FAIL: hardening/$k/guest (vm.sh exit $rc, see $logs/hardening-$k.log)"
			status=1
		fi
		msg "$k: hardening took $((SECONDS - start)) s"

		if $fuzz; then
			"$here/fuzz.sh" --short --kernel "$k" || status=1
		fi
	done
	return "$status"
}

main "$@"
