#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# kernels.sh - fetch stock Debian kernels to build and boot ksalloc against.
#
# For each flavour this downloads, with apt-get download (no root needed,
# nothing is installed on the host, /boot is never touched):
#
#   linux-image-<release>            the bootable image and the kernel's own modules
#   linux-headers-<release>          the arch headers (.config, Module.symvers, ...)
#   linux-headers-<abi>-common[-rt]  the common headers the arch Makefile includes
#   linux-kbuild-<...>               scripts/ and the host tools (fixdep, modpost)
#
# The header packages are the ones the arch headers package Depends on, all
# pinned to its version.  Everything is unpacked with dpkg -x into one root
# per flavour, and the few absolute /usr/src references Debian leaves in it
# are made relative so that
#
#   make -C "$(scripts/kernels.sh kdir 6.12)" M=$PWD modules
#
# builds an out-of-tree module against it.  The compressed image is also
# unpacked to a plain vmlinux ELF: QEMU boots that through the PVH entry
# point without the decompressor, which under TCG saves 1 s (zstd, 6.12)
# to 2.5 s (xz, 6.1) a boot.
#
# "Newest" is whatever apt offers now (apt-cache, sort -V).  Once a flavour
# is in the cache it is used as is, without asking apt, until
# "fetch --refresh" looks again and replaces it if there is a newer one.
#
# Cache layout, under ${KSALLOC_CACHE:-$HOME/.cache/ksalloc}/kernels:
#
#   .lock                   flock(1) against concurrent fetches
#   <flavour>/release       uname -r of the kernel, e.g. 6.12.117+deb12-amd64
#   <flavour>/packages      the package=version list that was unpacked
#   <flavour>/root/         dpkg -x of all of them:
#       boot/vmlinuz-<release>
#       boot/vmlinux-<release>          (unpacked from vmlinuz)
#       lib/modules/<release>/          (depmod run; build, source made relative)
#       usr/src/linux-headers-<release>/        <- kdir
#       usr/src/linux-headers-<abi>-common[-rt]/
#       usr/lib/linux-kbuild-<...>/
#
# What this needs and the kdir is useless without (gcc-12, make, kmod's
# depmod, xz, zstd) is installed with apt-get when missing.

set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
readonly FLAVOURS="6.1 6.12 6.12-rt"
CACHE=${KSALLOC_CACHE:-$HOME/.cache/ksalloc}/kernels

usage()
{
	cat <<EOF
Usage: $PROG fetch [--refresh] FLAVOUR...|all
       $PROG kdir FLAVOUR
       $PROG vmlinuz FLAVOUR
       $PROG vmlinux FLAVOUR
       $PROG version FLAVOUR
       $PROG moddir FLAVOUR
       $PROG list

Fetch stock Debian kernels (image + headers) into a cache and print paths
into it.  FLAVOUR is one of: $FLAVOURS, or debug.

  6.1       newest linux-image-6.1.0-N-amd64 (bookworm)
  6.12      newest linux-image-6.12.N+deb12-amd64
  6.12-rt   newest linux-image-6.12.N+deb12-rt-amd64 (PREEMPT_RT)
  debug     not fetched but built: 6.12 with KASAN and lockdep
            (scripts/debug-kernel.sh); kdir, vmlinuz, vmlinux and version

Commands:
  fetch     download and unpack; quick when cached.  --refresh asks apt
            for the newest version again and replaces an outdated copy.
  kdir      print the headers build dir, for make -C KDIR M=DIR modules
  vmlinuz   print the path of the bootable kernel image (bzImage)
  vmlinux   print the path of the same kernel uncompressed (ELF); QEMU
            boots it (PVH) faster than the bzImage under TCG
  version   print the kernel release (uname -r)
  moddir    print the stock kernel's lib/modules/<release> directory
  list      print the flavours and what is cached for each

kdir, vmlinuz, vmlinux, version and moddir fetch first when needed; progress goes to
stderr, the answer alone to stdout.

Environment:
  KSALLOC_CACHE   cache root (default \$HOME/.cache/ksalloc); kernels are
                  kept in \$KSALLOC_CACHE/kernels/<flavour>/
EOF
}

check_flavour()
{
	case $1 in
	6.1 | 6.12 | 6.12-rt | debug) ;;
	*) die "unknown flavour '$1' (want one of: $FLAVOURS)" ;;
	esac
}

# The apt package name prefix and the exact pattern of a flavour's image.
# The patterns leave out -cloud, -rt (for the non-rt ones), -dbg and -unsigned.
image_prefix()
{
	case $1 in
	6.1) echo linux-image-6.1.0- ;;
	6.12 | 6.12-rt) echo linux-image-6.12. ;;
	esac
}

image_regex()
{
	case $1 in
	6.1) echo '^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
	6.12) echo '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' ;;
	6.12-rt) echo '^linux-image-6\.12\.[0-9]+\+deb12-rt-amd64$' ;;
	esac
}

# Print the candidate version of a package, or nothing if apt has none.
candidate()
{
	apt-cache policy "$1" 2>/dev/null |
		awk '$1 == "Candidate:" && $2 != "(none)" { print $2; exit }'
}

# Print the first alternative of every Depends entry of the candidate
# version of a package, one name a line, without version constraints.
depends()
{
	apt-cache show --no-all-versions "$1" |
		sed -n 's/^Depends: //p' | tr ',' '\n' |
		sed -e 's/|.*//' -e 's/(.*)//' -e 's/[[:space:]]//g' -e '/^$/d'
}

# resolve FLAVOUR: print "release" then the package=version lines to fetch.
resolve()
{
	local flavour=$1 name release hver img_ver dep
	local -a names=()
	local tried_update=false

	while :; do
		mapfile -t names < <(apt-cache pkgnames "$(image_prefix "$flavour")" |
			grep -E "$(image_regex "$flavour")" | sort -rV)
		[[ ${#names[@]} -gt 0 ]] && break
		if $tried_update || [[ $EUID -ne 0 ]]; then
			die "apt offers no $(image_regex "$flavour") (run apt-get update?)"
		fi
		msg "apt knows no kernel for $flavour: running apt-get update"
		apt-get update >&2
		tried_update=true
	done

	# The newest image that apt can download together with its headers.
	for name in "${names[@]}"; do
		release=${name#linux-image-}
		img_ver=$(candidate "$name")
		hver=$(candidate "linux-headers-$release")
		[[ -n $img_ver && -n $hver ]] && break
		release=
	done
	[[ -n $release ]] || die "no downloadable image+headers for $flavour"

	echo "$release"
	echo "linux-image-$release=$img_ver"
	echo "linux-headers-$release=$hver"
	# The -common[-rt] headers and linux-kbuild come from the same source
	# package as the arch headers: pin them to the same version.
	for dep in $(depends "linux-headers-$release"); do
		case $dep in
		linux-headers-* | linux-kbuild-*) echo "$dep=$hver" ;;
		esac
	done
}

# extract_vmlinux BZIMAGE OUT: write the kernel ELF inside BZIMAGE to OUT,
# as the kernel's scripts/extract-vmlinux does: find the payload by its
# compression magic, decompress it, and keep the first that is an ELF.
extract_vmlinux()
{
	local image=$1 out=$2 magic tool offset

	for magic in zstd:'\x28\xb5\x2f\xfd' xz:'\xfd7zXZ\x00' gzip:'\x1f\x8b\x08'; do
		tool=${magic%%:*}
		for offset in $(LC_ALL=C grep -aobUP "${magic#*:}" "$image" |
			cut -d: -f1 | head -3); do
			# Decompressors complain about the data after the
			# payload; what they wrote before that is what counts.
			tail -c +$((offset + 1)) "$image" | "$tool" -dc >"$out.tmp" 2>/dev/null || true
			if [[ $(head -c 4 "$out.tmp" | od -An -tx1 | tr -d ' ') == 7f454c46 ]]; then
				mv "$out.tmp" "$out"
				return 0
			fi
		done
	done
	rm -f "$out.tmp"
	return 1
}

# Make every absolute symlink under ROOT point, relatively, inside ROOT.
relink_absolute()
{
	local root=$1 link target

	while IFS= read -r -d '' link; do
		target=$(readlink "$link")
		ln -sfn "$(realpath -ms --relative-to="${link%/*}" "$root$target")" "$link"
	done < <(find "$root" -type l -lname '/*' -print0)
}

# Turn the Debian setup in ROOT into a self-contained kdir.
fixup_root()
{
	local root=$1 release=$2 mk bad

	relink_absolute "$root"

	# The package's postinst would run depmod: do it here so that modprobe
	# works on a copy of the stock modules (and modules.dep exists).
	depmod -b "$root" "$release"

	# The arch headers Makefile is a single
	#   include /usr/src/linux-headers-<abi>-common/Makefile
	# Include the sibling directory of wherever this Makefile really is.
	for mk in "$root"/usr/src/linux-headers-*/Makefile; do
		# shellcheck disable=SC2016 # make syntax, not shell
		sed -i 's|^include /usr/src/\(.*\)$|include $(dir $(realpath $(lastword $(MAKEFILE_LIST))))../\1|' "$mk"
	done

	# Nothing the build reads may still point at the host's /usr/src or
	# /usr/lib/linux-kbuild-*, and no symlink may dangle.
	bad=$(grep -rIl -e '/usr/src/linux-' -e '/usr/lib/linux-kbuild' \
		--include='Makefile*' --include='Kbuild*' --include='*.include' \
		--include='.kernelvariables' --include='*.mk' \
		"$root"/usr/src/linux-headers-* "$root"/usr/lib/linux-kbuild-*/scripts ||
		true)
	[[ -z $bad ]] || die "absolute references left in: $bad"
	bad=$(find -L "$root/usr/src" "$root/lib/modules/$release" -maxdepth 2 -type l)
	[[ -z $bad ]] || die "dangling symlinks: $bad"

	[[ -f $root/usr/src/linux-headers-$release/Makefile ]] ||
		die "no headers for $release in $root"
	[[ -f $root/boot/vmlinuz-$release ]] || die "no vmlinuz-$release in $root"
	extract_vmlinux "$root/boot/vmlinuz-$release" "$root/boot/vmlinux-$release" ||
		die "cannot unpack vmlinux from vmlinuz-$release"
	[[ -d $root/lib/modules/$release/kernel ]] || die "no modules for $release in $root"
}

# fetch_one FLAVOUR REFRESH: download and unpack FLAVOUR unless it is cached
# (and, with REFRESH=true, still the newest).  Call with the lock held.
fetch_one()
{
	local flavour=$1 refresh=$2 dir=$CACHE/$1 release pkg work
	local -a want

	if [[ -f $dir/release && -d $dir/root ]] && ! $refresh; then
		# A cache made by an older kernels.sh lacks what later
		# fix-ups add; they are all idempotent.
		release=$(cat "$dir/release")
		if [[ ! -f $dir/root/boot/vmlinux-$release ]]; then
			msg "$flavour: completing the cached $release"
			fixup_root "$dir/root" "$release"
		fi
		return 0
	fi

	work=$(resolve "$flavour")
	mapfile -t want <<<"$work"
	release=${want[0]}
	want=("${want[@]:1}")

	if [[ -f $dir/packages && -d $dir/root ]] &&
		[[ "$(printf '%s\n' "${want[@]}")" == "$(cat "$dir/packages")" ]]; then
		msg "$flavour: $release is up to date"
		return 0
	fi

	msg "$flavour: fetching $release"
	work=$(mktemp -d "$CACHE/.fetch-$flavour.XXXXXX")
	# shellcheck disable=SC2064 # expand now: work is local
	trap "rm -rf '$work'" EXIT

	mkdir "$work/debs" "$work/root"
	# apt drops privileges to _apt for downloads, which cannot write into
	# root's home; downloading as root is harmless here.
	(cd "$work/debs" &&
		apt-get -q -o APT::Sandbox::User="$(id -un)" download "${want[@]}") >&2 ||
		die "$flavour: apt-get download ${want[*]} failed"

	for pkg in "$work"/debs/*.deb; do
		msg "$flavour: unpacking ${pkg##*/}"
		dpkg -x "$pkg" "$work/root"
	done
	fixup_root "$work/root" "$release"

	printf '%s\n' "${want[@]}" >"$work/packages"
	echo "$release" >"$work/release"

	# Swap the new root in; the old one (if any) goes only after that.
	rm -rf "$dir.old"
	[[ -d $dir ]] && mv "$dir" "$dir.old"
	mkdir "$dir"
	mv "$work/root" "$work/packages" "$work/release" "$dir/"
	rm -rf "$dir.old" "$work"
	trap - EXIT
	msg "$flavour: $release ready in $dir/root"
}

fetch()
{
	local refresh=false flavour lockfd
	local -a flavours=()

	for flavour in "$@"; do
		case $flavour in
		--refresh) refresh=true ;;
		all) read -ra flavours <<<"$FLAVOURS" ;;
		*) check_flavour "$flavour" && flavours+=("$flavour") ;;
		esac
	done
	[[ ${#flavours[@]} -gt 0 ]] || die "fetch: which flavour? (try --help)"

	need gcc-12:gcc-12 make:make depmod:kmod xz:xz-utils zstd:zstd

	mkdir -p "$CACHE"
	exec {lockfd}>"$CACHE/.lock"
	flock "$lockfd"
	for flavour in "${flavours[@]}"; do
		fetch_one "$flavour" "$refresh"
	done
	exec {lockfd}>&-
}

# Print the release of a flavour, fetching it first if needed.
release_of()
{
	local flavour=$1 release

	check_flavour "$flavour"
	if [[ -f $CACHE/$flavour/release ]]; then
		release=$(cat "$CACHE/$flavour/release")
		[[ -f $CACHE/$flavour/root/boot/vmlinux-$release ]] || fetch "$flavour"
	else
		fetch "$flavour"
	fi
	cat "$CACHE/$flavour/release"
}

list()
{
	local flavour

	for flavour in $FLAVOURS; do
		if [[ -f $CACHE/$flavour/release ]]; then
			printf '%-8s %s\n' "$flavour" "$(cat "$CACHE/$flavour/release")"
		else
			printf '%-8s %s\n' "$flavour" "(not fetched)"
		fi
	done
}

main()
{
	local cmd=${1:-} release

	[[ $# -gt 0 ]] && shift
	case $cmd in
	-h | --help | help)
		usage
		return 0
		;;
	fetch)
		fetch "$@"
		return 0
		;;
	list)
		list
		return 0
		;;
	kdir | vmlinuz | vmlinux | version | moddir)
		[[ $# -eq 1 ]] || die "$cmd: want exactly one FLAVOUR (try --help)"
		;;
	*)
		usage >&2
		return 2
		;;
	esac

	if [[ $1 == debug ]]; then
		# Built, not fetched: scripts/debug-kernel.sh.
		case $cmd in
		kdir | version | moddir)
			exec "$(dirname "$0")/debug-kernel.sh" "$cmd" ;;
		vmlinuz | vmlinux) exec "$(dirname "$0")/debug-kernel.sh" vmlinuz ;;
		esac
	fi
	release=$(release_of "$1")
	case $cmd in
	kdir) echo "$CACHE/$1/root/usr/src/linux-headers-$release" ;;
	vmlinuz) echo "$CACHE/$1/root/boot/vmlinuz-$release" ;;
	vmlinux) echo "$CACHE/$1/root/boot/vmlinux-$release" ;;
	version) echo "$release" ;;
	moddir) echo "$CACHE/$1/root/lib/modules/$release" ;;
	esac
}

main "$@"
