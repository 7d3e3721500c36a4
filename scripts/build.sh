#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds the modules out of tree against one kernel's headers, in a copy of
# the sources kept in the cache, so that builds for several kernels never
# share object files and the work tree stays clean.
set -euo pipefail

usage() {
	cat <<USAGE
usage: ${0##*/} FLAVOUR|KDIR [MAKE_ARG...]
       ${0##*/} --tools-dir

Copies the sources to \${KSALLOC_CACHE:-\$HOME/.cache/ksalloc}/build/NAME-TREE and
runs 'make -C KDIR M=that-copy MAKE_ARG... modules'.  FLAVOUR is a kernel of
scripts/kernels.sh (6.1, 6.12, 6.12-rt); a directory is used as KDIR itself.
Prints the directory holding the built .ko files on the last line.
With --tools-dir, prints where this work tree's user-space tools and guest
images go (\${KSALLOC_CACHE:-\$HOME/.cache/ksalloc}/tools-TREE) and exits.

example: ${0##*/} 6.12 W=1 C=2
USAGE
}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${KSALLOC_CACHE:-$HOME/.cache/ksalloc}
# Every work tree has its own directories in the cache, so that two trees
# (a CI clone and a developer's) never build over each other.
tree=$(printf '%s' "$repo" | md5sum | cut -c1-8)

case "${1:-}" in
-h|--help) usage; exit 0 ;;
--tools-dir) echo "$cache/tools-$tree"; exit 0 ;;
"") usage >&2; exit 2 ;;
esac

target=$1
shift

if [ -d "$target" ]; then
	kdir=$(cd "$target" && pwd)
	name=$(basename "$kdir")
else
	kdir=$("$here/kernels.sh" kdir "$target")
	name=$target
fi

out="$cache/build/$name-$tree"
mkdir -p "$out"
rsync -a --delete --exclude=.git --exclude=out \
	--include='*/' --include='Kbuild' --include='Kconfig' --include='*.[ch]' \
	--exclude='*' "$repo/" "$out/"
make -C "$kdir" M="$out" "$@" modules >&2
echo "$out"
