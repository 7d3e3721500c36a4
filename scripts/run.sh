#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make run`: installs what is missing, builds ksalloc.ko, the producer and
# ksalloc-ctl for the stock Debian 6.12 kernel, boots that kernel under
# QEMU and streams frames from the producer's softirq timer into user
# space (scripts/guest/demo.sh).  Exits 0 when the stream was clean.
set -euo pipefail

usage() {
	cat <<USAGE
usage: ${0##*/} [FLAVOUR]

Boots FLAVOUR (default 6.12; or 6.1, 6.12-rt) with ksalloc loaded and
streams frames for five seconds.  The console log is kept in
\${KSALLOC_OUT:-out}/logs/run-FLAVOUR.log.
USAGE
}
case "${1:-}" in
-h|--help) usage; exit 0 ;;
esac

k=${1:-6.12}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# This work tree's user-space tools and guest images.
tools=$("$here/build.sh" --tools-dir)
cache=${KSALLOC_CACHE:-$HOME/.cache/ksalloc}
logs=${KSALLOC_OUT:-$repo/out}/logs
mkdir -p "$logs" "$tools"

echo "run: installing what is missing and building (the first time takes a few minutes)"
"$here/deps.sh"
ko=$("$here/build.sh" "$k" 2>"$logs/run-build-$k.log" | tail -n 1) ||
	{ tail -n 30 "$logs/run-build-$k.log" >&2; exit 1; }
make -s -C "$repo/tools" O="$tools" "$tools/ksalloc-ctl"
img="$tools/run-$k.cpio.gz"
"$here/initramfs.sh" -o "$img" --init "$here/guest/demo.sh" \
	--file "$ko/ksalloc.ko:/lib/modules/" \
	--file "$ko/samples/ksalloc_producer.ko:/lib/modules/" \
	--file "$tools/ksalloc-ctl:/bin/" >/dev/null
exec "$here/vm.sh" --kernel "$("$here/kernels.sh" vmlinux "$k")" --initrd "$img" \
	--smp 2 --timeout 300 --quiet --log "$logs/run-$k.log" </dev/null
