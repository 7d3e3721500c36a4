#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build.sh - build the modules out of tree against one kernel's headers.
#
# The sources are copied to a directory of the cache per kernel and work
# tree, so that builds for several kernels never share object files and
# the work tree stays clean.  A build with make variables that change the
# objects (KSALLOC_TRACEPOINTS=n, ...; anything but W=, C= and V=) gets a
# directory of its own too, so that it never overwrites the normal build.

set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage()
{
	cat <<EOF
Usage: $PROG FLAVOUR|KDIR [MAKE_ARG...]
       $PROG --tools-dir

Copies the sources to \${KSALLOC_CACHE:-\$HOME/.cache/ksalloc}/build/NAME-TREE
(NAME-TREE-VAR-VALUE... when MAKE_ARGs set variables other than W, C and
V) and runs 'make -C KDIR M=that-copy MAKE_ARG... modules'.  FLAVOUR is a
kernel of scripts/kernels.sh (6.1, 6.12, 6.12-rt, debug); a directory is
used as KDIR itself.  Prints the directory holding the built .ko files on
the last line.

With --tools-dir, prints where this work tree's user-space tools and guest
images go (\${KSALLOC_CACHE:-\$HOME/.cache/ksalloc}/tools-TREE) and exits.

Examples: $PROG 6.12 W=1 C=2
          $PROG 6.12 KSALLOC_TRACEPOINTS=n
EOF
}

# variant MAKE_ARG...: the suffix of the build directory for these make
# arguments: "-VAR-VALUE" for each variable that changes the objects (no
# "=": make takes a path with one for an assignment), any character but
# letters, digits, "_", "." and "-" made "_".
variant()
{
	local arg suffix=''

	for arg in "$@"; do
		case $arg in
		W=* | C=* | V=* | -*) ;;
		[A-Za-z_]*=*)
			arg=${arg%%=*}-${arg#*=}
			suffix+=-${arg//[^A-Za-z0-9_.-]/_}
			;;
		esac
	done
	echo "$suffix"
}

main()
{
	local target kdir name out

	case ${1:-} in
	-h | --help) usage; return 0 ;;
	--tools-dir) echo "$tools"; return 0 ;;
	'') usage >&2; exit 2 ;;
	esac
	target=$1
	shift

	if [[ -d $target ]]; then
		kdir=$(cd "$target" && pwd)
		name=$(basename "$kdir")
	else
		kdir=$("$here/kernels.sh" kdir "$target")
		name=$target
	fi

	out=$cache/build/$name-$tree$(variant "$@")
	mkdir -p "$out"
	rsync -a --delete --exclude=.git --exclude=out \
		--include='*/' --include='Kbuild' --include='Kconfig' --include='*.[ch]' \
		--exclude='*' "$repo/" "$out/"
	make -C "$kdir" M="$out" "$@" modules >&2
	echo "$out"
}

main "$@"
