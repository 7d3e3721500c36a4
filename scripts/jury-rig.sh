#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Links this repository into a kernel source tree where an upstream posting
# would put it, and adds the lines that make it part of the tree:
#
#	drivers/misc/ksalloc            -> the repository
#	drivers/misc/Kconfig:           source "drivers/misc/ksalloc/Kconfig"
#	drivers/misc/Makefile:          obj-$(CONFIG_KSALLOC) += ksalloc/
#	include/linux/ksalloc.h         -> the in-kernel API
#	include/uapi/linux/ksalloc.h    -> the uapi header (make headers
#	                                   installs it; the selftests find it)
#	tools/testing/selftests/drivers/misc/ksalloc/
#	                                a directory of links to the files of
#	                                the selftests, so that lib.mk's relative
#	                                paths resolve inside the tree:
#	                                make -C tools/testing/selftests \
#	                                        TARGETS=drivers/misc/ksalloc
#	Documentation/userspace-api/ioctl/ioctl-number.rst
#	                                the lines of codes 0xB9 and 0xBA
#	Documentation/{userspace-api,driver-api}/ksalloc.rst
#	                                -> the repository's, when it has them,
#	                                   listed in the index.rst toctrees
#
# Running it again is harmless: every line is added once, and the links
# are made anew (so that they name this work tree).
set -euo pipefail

readonly PROG=${0##*/}

usage() {
	cat <<USAGE
usage: $PROG KERNEL_SOURCE_DIR

Links $(cd "$(dirname "$0")/.." && pwd) into KERNEL_SOURCE_DIR as
drivers/misc/ksalloc, hooks it into drivers/misc/{Kconfig,Makefile}, and
adds its uapi header, selftests, ioctl numbers and documentation.
USAGE
}

die() {
	echo "$PROG: $*" >&2
	exit 1
}

case "${1:-}" in
-h|--help) usage; exit 0 ;;
"") usage >&2; exit 2 ;;
esac

tree=$(cd "$1" && pwd)
repo=$(cd "$(dirname "$0")/.." && pwd)
misc="$tree/drivers/misc"

[ -f "$misc/Kconfig" ] || die "$tree is not a kernel tree"

# The module, and the two lines that build it.
ln -sfn "$repo" "$misc/ksalloc"
grep -q 'drivers/misc/ksalloc/Kconfig' "$misc/Kconfig" ||
	sed -i '$ s|^endmenu$|source "drivers/misc/ksalloc/Kconfig"\nendmenu|' "$misc/Kconfig"
grep -q 'drivers/misc/ksalloc/Kconfig' "$misc/Kconfig" || die "could not hook $misc/Kconfig"
if ! grep -q 'CONFIG_KSALLOC' "$misc/Makefile"; then
	# shellcheck disable=SC2016 # a Makefile line, not for the shell
	echo 'obj-$(CONFIG_KSALLOC)		+= ksalloc/' >>"$misc/Makefile"
fi

# The headers where the tree's own are.  Both, or neither: the kernel's
# include path has include/ and include/uapi/ before the module's include/,
# so <linux/ksalloc.h> must find the in-kernel API there first.
ln -sfn "$repo/include/linux/ksalloc.h" "$tree/include/linux/ksalloc.h"
ln -sfn "$repo/include/uapi/linux/ksalloc.h" "$tree/include/uapi/linux/ksalloc.h"

# The selftests: a real directory (lib.mk is included by a relative path,
# which a link to the repository would resolve outside the tree) holding
# links to the repository's files, the stale ones removed first.  What the
# build leaves there (the programs) stays.
st=tools/testing/selftests/drivers/misc/ksalloc
mkdir -p "$tree/$st"
find "$tree/$st" -maxdepth 1 -type l -delete
for f in "$repo/$st"/*; do
	ln -s "$f" "$tree/$st/"
done

# hexval HH: the value of the hex digits HH, in awk (mawk has no strtonum).
# ioctl_lines FILE: adds the 0xB9 and 0xBA lines to the table of
# ioctl-number.rst, before the first code above them, once.
ioctl_lines() {
	local rst=$1

	grep -q '^0xB9 .*ksalloc' "$rst" && return 0
	awk '
		function hexval(s,   i, v) {
			v = 0
			for (i = 1; i <= length(s); i++)
				v = v * 16 + index("0123456789ABCDEF", toupper(substr(s, i, 1))) - 1
			return v
		}
		!done && /^0x[0-9A-Fa-f][0-9A-Fa-f]  / && hexval(substr($0, 3, 2)) > 186 {
			printf "%-6s%-7s%-58s%s\n", "0xB9", "00-09", "uapi/linux/ksalloc.h",
				"ksalloc, a Windows KS stream allocator port"
			printf "%-6s%-7s%-58s%s\n", "0xBA", "00-05",
				"drivers/misc/ksalloc/samples/ksalloc_producer.h",
				"ksalloc sample frame producer"
			done = 1
		}
		{ print }
		END { if (!done) exit 1 }
	' "$rst" >"$rst.ksalloc" || { rm -f "$rst.ksalloc"; die "no place for 0xB9 in $rst"; }
	mv "$rst.ksalloc" "$rst"
}
ioctl_lines "$tree/Documentation/userspace-api/ioctl/ioctl-number.rst"

# toctree_entry INDEX HEADING ENTRY: lists ENTRY in the toctree under
# HEADING of INDEX, before the first entry that sorts after it (or last),
# once.
toctree_entry() {
	local index=$1 heading=$2 entry=$3

	grep -qx "   $entry" "$index" && return 0
	awk -v heading="$heading" -v entry="$entry" '
		$0 == heading { in_section = 1 }
		in_section && /^\.\. toctree::/ { in_tree = 1 }
		in_tree && /^   [^ :]/ {
			listed = 1
			if (!done && substr($0, 4) > entry) {
				print "   " entry
				done = 1
			}
		}
		in_tree && listed && /^$/ {
			if (!done)
				print "   " entry
			done = 1
			in_tree = in_section = 0
		}
		{ print }
		END { if (!done) exit 1 }
	' "$index" >"$index.ksalloc" || { rm -f "$index.ksalloc"; die "no toctree \"$heading\" in $index"; }
	mv "$index.ksalloc" "$index"
}

# The documentation, when the repository has it.
for book in userspace-api driver-api; do
	[ -f "$repo/Documentation/$book/ksalloc.rst" ] || continue
	ln -sfn "$repo/Documentation/$book/ksalloc.rst" "$tree/Documentation/$book/ksalloc.rst"
done
[ ! -f "$repo/Documentation/userspace-api/ksalloc.rst" ] ||
	toctree_entry "$tree/Documentation/userspace-api/index.rst" "Devices and I/O" ksalloc
[ ! -f "$repo/Documentation/driver-api/ksalloc.rst" ] ||
	toctree_entry "$tree/Documentation/driver-api/index.rst" "Subsystem-specific APIs" ksalloc

echo "ksalloc linked into $tree"
