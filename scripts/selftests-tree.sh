#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests-tree.sh - the selftests built the way a kernel tree builds them.
#
# Links the repository into the linux-source-6.12 tree of the cache
# (scripts/jury-rig.sh) and runs, there,
#
#	make -C tools/testing/selftests TARGETS=drivers/misc/ksalloc O=DIR
#
# with the output in the cache, so that the tree stays clean for KUnit's
# builds.  Prints "PASS: selftests-tree/<program>" for each program lib.mk
# built, or "FAIL: selftests-tree/..." lines.

set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main()
{
	local src out log status=0 p

	case ${1:-} in
	-h | --help) echo "Usage: $PROG"; return 0 ;;
	'') ;;
	*) echo "Usage: $PROG" >&2; return 2 ;;
	esac
	src=$("$here/deps.sh" --source-dir)
	out=$tools/selftests-tree
	log=$logs/selftests-tree.log
	mkdir -p "$logs"
	rm -rf "$out"
	# The tree's drivers/misc/ksalloc names one work tree at a time; KUnit
	# runs (scripts/kunit.sh) take the same lock.
	exec 9>"$src/.ksalloc-kunit.lock"
	flock 9
	"$here/jury-rig.sh" "$src" >/dev/null
	if ! make -C "$src/tools/testing/selftests" TARGETS=drivers/misc/ksalloc \
		O="$out" >"$log" 2>&1; then
		echo "FAIL: selftests-tree/make (see $log)"
		return 1
	fi
	if grep -E '(warning|error):' "$log" >&2; then
		echo "FAIL: selftests-tree/warnings (see $log)"
		status=1
	fi
	for p in ksalloc_test ksalloc_observe; do
		if [[ -x $out/kselftest/drivers/misc/ksalloc/$p ]]; then
			echo "PASS: selftests-tree/$p"
		else
			echo "FAIL: selftests-tree/$p (not built, see $log)"
			status=1
		fi
	done
	return "$status"
}

main "$@"
