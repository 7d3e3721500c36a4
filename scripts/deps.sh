#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Installs, from Debian's archive, what building and testing ksalloc needs,
# and unpacks linux-source-6.12 (for KUnit, checkpatch.pl and kernel-doc)
# into the cache.  Quick when everything is already there.
#
# Never installs a kernel image or 6.12 header package (they would pull an
# image into /boot): scripts/kernels.sh fetches those into the cache.
set -euo pipefail

usage() {
	cat <<USAGE
usage: ${0##*/} [--source-dir]

Installs the Debian packages ksalloc needs and unpacks linux-source-6.12
into \${KSALLOC_CACHE:-\$HOME/.cache/ksalloc}.  With --source-dir, prints
the unpacked source directory afterwards.
USAGE
}

print_dir=
case "${1:-}" in
-h|--help) usage; exit 0 ;;
--source-dir) print_dir=1 ;;
"") ;;
*) usage >&2; exit 2 ;;
esac

cache=${KSALLOC_CACHE:-$HOME/.cache/ksalloc}
pkgs=(build-essential g++ bc bison flex libelf-dev libssl-dev dwarves kmod
      sparse python3 xz-utils cpio rsync busybox-static qemu-system-x86
      linux-source-6.12)
[ "$(dpkg --print-architecture)" = amd64 ] && pkgs+=(gcc-multilib)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

src="$cache/linux-source-6.12"
if [ ! -f "$src/Makefile" ]; then
	echo "deps: unpacking linux-source-6.12 into $cache" >&2
	mkdir -p "$cache"
	rm -rf "$src.tmp"
	mkdir "$src.tmp"
	tar -C "$src.tmp" -xf /usr/src/linux-source-6.12.tar.xz
	mv "$src.tmp/linux-source-6.12" "$src"
	rmdir "$src.tmp"
fi
[ -z "$print_dir" ] || echo "$src"
