#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# dmabuf.sh - ksalloc's dma-bufs in importers that ksalloc did not write.
#
# Builds ksalloc.ko and the producer against each kernel, packs them with
# the stock kernel's own vgem (DRM) and vivid (V4L2) modules and every
# module they depend on (modinfo -F depends, recursively; .ko.xz
# decompressed), and boots scripts/guest/dmabuf.sh under QEMU.  The guest
# runs the EXPORT_DMABUF selftests, imports the pool and a frame into vgem
# with DRM PRIME, and captures from vivid into exported frames on its
# vmalloc and its dma-contig allocator (ksalloc_import).  Prints one
# "PASS: dmabuf/<kernel>/<check>" or "FAIL: ..." line per check.
set -euo pipefail
readonly PROG=${0##*/}
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage()
{
	cat <<EOF
Usage: $PROG [FLAVOUR...]
Runs the dma-buf guest on each FLAVOUR of scripts/kernels.sh (default:
6.1 6.12 6.12-rt).  Console logs go to \${KSALLOC_OUT:-out}/logs/
dmabuf-FLAVOUR.log.  Exit status 0 when every check passed.
EOF
}

readonly IMPORTERS="vgem vivid"
readonly PROGRAMS="ksalloc_test ksalloc_import"

# module_path MODDIR NAME: the file of module NAME (- and _ alike).
module_path()
{
	local pat=${2//[-_]/[-_]}

	find "$1/kernel" \( -name "$pat.ko" -o -name "$pat.ko.xz" -o \
		-name "$pat.ko.zst" \) -print | head -n 1
}

# pack_visit MODDIR OUTDIR NAME: NAME after its dependencies (pack_modules).
pack_visit()
{
	local moddir=$1 out=$2 name=$3 file d

	grep -qx "$name" "$out/order" && return 0
	file=$(module_path "$moddir" "$name")
	[[ -n $file ]] || die "module $name not in $moddir"
	for d in $(modinfo -F depends "$file" | tr ',' ' '); do
		pack_visit "$moddir" "$out" "$d"
	done
	case $file in
	*.xz) xz -dc "$file" >"$out/$name.ko" ;;
	*.zst) zstd -qdc "$file" >"$out/$name.ko" ;;
	*) cp "$file" "$out/$name.ko" ;;
	esac
	echo "$name" >>"$out/order"
}

# pack_modules MODDIR OUTDIR: every module of $IMPORTERS and their
# dependencies, uncompressed in OUTDIR, and OUTDIR/order, the names in an
# order that insmod can follow (dependencies first).
pack_modules()
{
	local m

	rm -rf "$2"
	mkdir -p "$2"
	: >"$2/order"
	for m in $IMPORTERS; do
		pack_visit "$1" "$2" "$m"
	done
}

main()
{
	local k t start status=0 moddir mods
	local -a files

	case ${1:-} in
	-h | --help) usage; return 0 ;;
	-*) usage >&2; exit 2 ;;
	esac
	[[ $# -gt 0 ]] || set -- 6.1 6.12 6.12-rt

	# shellcheck disable=SC2086
	build_tools $PROGRAMS
	for k in "$@"; do
		start=$SECONDS
		guest_build dmabuf "$k" || { status=1; continue; }
		moddir=$("$here/kernels.sh" moddir "$k")
		mods=$tools/dmabuf-modules-$k
		pack_modules "$moddir" "$mods"
		files=("$KO/ksalloc.ko:/lib/modules/"
		       "$KO/samples/ksalloc_producer.ko:/lib/modules/"
		       "$mods:/lib/modules/extra")
		for t in $PROGRAMS; do
			files+=("$tools/$t:/bin/")
		done
		run_guest --smp 2 --timeout 900 dmabuf "$k" \
			"$here/guest/dmabuf.sh" "${files[@]}" || status=1
		msg "$k: dmabuf took $((SECONDS - start)) s"
	done
	return "$status"
}

main "$@"
