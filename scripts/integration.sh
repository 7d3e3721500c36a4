#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Integration on stock Debian kernels: builds ksalloc.ko and the producer
# against each kernel's headers, builds the static user-space tools once,
# packs them with scripts/guest/integration.sh into an initramfs and boots
# it under QEMU (scripts/vm.sh).  Prints one "PASS: integration/<kernel>/<check>"
# or "FAIL: ..." line per check the guest reports.
set -euo pipefail

usage() {
	cat <<USAGE
usage: ${0##*/} [FLAVOUR...]

Runs the integration guest on each FLAVOUR of scripts/kernels.sh (default:
6.1 6.12 6.12-rt).  Console logs go to \${KSALLOC_OUT:-out}/logs/vm-FLAVOUR.log.
USAGE
}
case "${1:-}" in
-h|--help) usage; exit 0 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# This work tree's user-space tools and guest images.
tools=$("$here/build.sh" --tools-dir)
cache=${KSALLOC_CACHE:-$HOME/.cache/ksalloc}
logs=${KSALLOC_OUT:-$repo/out}/logs
mkdir -p "$logs" "$tools"
[ $# -gt 0 ] || set -- 6.1 6.12 6.12-rt

make -s -C "$repo/tools" O="$tools" >&2
status=0
for k in "$@"; do
	start=$(date +%s)
	ko=$("$here/build.sh" "$k" 2>"$logs/integration-build-$k.log" | tail -n 1) || {
		echo "FAIL: integration/$k/build (see $logs/integration-build-$k.log)"
		status=1
		continue
	}
	files=(--file "$ko/ksalloc.ko:/lib/modules/"
	       --file "$ko/samples/ksalloc_producer.ko:/lib/modules/")
	for t in ksalloc-ctl ksalloc_test ksalloc_test32; do
		[ ! -x "$tools/$t" ] || files+=(--file "$tools/$t:/bin/")
	done
	img="$tools/integration-$k.cpio.gz"
	"$here/initramfs.sh" -o "$img" --init "$here/guest/integration.sh" \
		"${files[@]}" >/dev/null

	rc=0
	"$here/vm.sh" --kernel "$("$here/kernels.sh" vmlinux "$k")" --initrd "$img" \
		--smp 2 --timeout 900 --quiet --log "$logs/vm-$k.log" \
		>"$logs/vm-$k.out" 2>&1 </dev/null || rc=$?
	sed -n "s|^GUEST-PASS: |PASS: integration/$k/|p; s|^GUEST-FAIL: |FAIL: integration/$k/|p" \
		"$logs/vm-$k.out" | tr -d '\r'
	grep -E '^selftests ' "$logs/vm-$k.out" | tr -d '\r' | sed "s|^|$k: |" >&2 || true
	if [ "$rc" -ne 0 ]; then
		echo "FAIL: integration/$k/guest (vm.sh exit $rc, see $logs/vm-$k.log)"
		status=1
	fi
	echo "$k: integration took $(($(date +%s) - start)) s" >&2
done
exit "$status"
