#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Links this repository into a kernel source tree as drivers/misc/ksalloc and
# adds the two lines that make it part of the build:
#
#	drivers/misc/Kconfig:   source "drivers/misc/ksalloc/Kconfig"
#	drivers/misc/Makefile:  obj-$(CONFIG_KSALLOC) += ksalloc/
#
# Running it again is harmless.
set -euo pipefail

usage() {
	cat <<USAGE
usage: ${0##*/} KERNEL_SOURCE_DIR

Links $(cd "$(dirname "$0")/.." && pwd) into KERNEL_SOURCE_DIR as
drivers/misc/ksalloc and hooks it into drivers/misc/{Kconfig,Makefile}.
USAGE
}

case "${1:-}" in
-h|--help) usage; exit 0 ;;
"") usage >&2; exit 2 ;;
esac

tree=$(cd "$1" && pwd)
repo=$(cd "$(dirname "$0")/.." && pwd)
misc="$tree/drivers/misc"

[ -f "$misc/Kconfig" ] || { echo "${0##*/}: $tree is not a kernel tree" >&2; exit 1; }

ln -sfn "$repo" "$misc/ksalloc"
grep -q 'drivers/misc/ksalloc/Kconfig' "$misc/Kconfig" ||
	sed -i '$ s|^endmenu$|source "drivers/misc/ksalloc/Kconfig"\nendmenu|' "$misc/Kconfig"
grep -q 'drivers/misc/ksalloc/Kconfig' "$misc/Kconfig" ||
	{ echo "${0##*/}: could not hook $misc/Kconfig" >&2; exit 1; }
if ! grep -q 'CONFIG_KSALLOC' "$misc/Makefile"; then
	# shellcheck disable=SC2016 # a Makefile line, not for the shell
	echo 'obj-$(CONFIG_KSALLOC)		+= ksalloc/' >>"$misc/Makefile"
fi
echo "ksalloc linked into $tree"
