#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# deps.sh - install what building and testing ksalloc needs.
#
# Installs the Debian packages, and unpacks linux-source-6.12 (for KUnit,
# checkpatch.pl and kernel-doc) into the cache.  Quick when everything is
# already there.
#
# Never installs a kernel image or 6.12 header package (they would pull an
# image into /boot): scripts/kernels.sh fetches those into the cache.

set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage()
{
	cat <<EOF
Usage: $PROG [--source-dir]

Installs the Debian packages ksalloc needs and unpacks linux-source-6.12
into \${KSALLOC_CACHE:-\$HOME/.cache/ksalloc}.  With --source-dir, prints
the unpacked source directory afterwards.
EOF
}

PACKAGES=(build-essential g++ bc bison flex libelf-dev libssl-dev dwarves kmod
	  sparse python3 python3-docutils pkg-config groff-base xz-utils cpio rsync busybox-static
	  qemu-system-x86 linux-source-6.12)

install_packages()
{
	local p
	local -a pkgs=("${PACKAGES[@]}") missing=()

	[[ $(dpkg --print-architecture) != amd64 ]] || pkgs+=(gcc-multilib)
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[[ ${#missing[@]} -gt 0 ]] || return 0
	msg "installing ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
	apt_install "${missing[@]}"
}

unpack_source()
{
	local src=$1

	[[ ! -f $src/Makefile ]] || return 0
	msg "unpacking linux-source-6.12 into $cache"
	mkdir -p "$cache"
	rm -rf "$src.tmp"
	mkdir "$src.tmp"
	tar -C "$src.tmp" -xf /usr/src/linux-source-6.12.tar.xz
	mv "$src.tmp/linux-source-6.12" "$src"
	rmdir "$src.tmp"
}

main()
{
	local print_dir=false src=$cache/linux-source-6.12

	case ${1:-} in
	-h | --help) usage; return 0 ;;
	--source-dir) print_dir=true ;;
	'') ;;
	*) usage >&2; exit 2 ;;
	esac

	install_packages
	unpack_source "$src"
	! $print_dir || echo "$src"
}

main "$@"
