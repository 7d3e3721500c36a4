#!/usr/bin/env bash
# shellcheck disable=SC2317 # the checks run indirectly, through report()
# SPDX-License-Identifier: GPL-2.0
#
# Static checks that need no kernel build: checkpatch.pl --strict and
# kernel-doc from the 6.12 source, and the uapi header compiled alone as C
# and C++ (64-bit, and 32-bit where gcc-multilib is installed).
#
# Prints one "PASS: lint/<check>" or "FAIL: lint/<check>" line per check;
# the details of a failure go to stderr.
set -euo pipefail

usage() {
	cat <<USAGE
usage: ${0##*/}

Runs checkpatch.pl --strict, kernel-doc -none and the standalone uapi
header compiles on the ksalloc sources.
USAGE
}
case "${1:-}" in
-h|--help) usage; exit 0 ;;
"") ;;
*) usage >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
src=$("$here/deps.sh" --source-dir)
cd "$repo"
status=0

# report NAME COMMAND...: runs a check that must print nothing and succeed.
report() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1) && [ -z "$out" ]; then
		echo "PASS: lint/$name"
	else
		printf '%s\n' "$out" >&2
		echo "FAIL: lint/$name"
		status=1
	fi
}

mapfile -t sources < <(git ls-files -co --exclude-standard \
	'*.c' '*.h' 'Kconfig' | grep -v '^tools/' || true)
mapfile -t documented < <(git ls-files -co --exclude-standard \
	'include/*.h' 'module/*.c' | sort)

checkpatch() {
	"$src/scripts/checkpatch.pl" --strict --no-tree --quiet --terse \
		--show-types "$@" | grep -v '^total: 0 errors, 0 warnings, 0 checks'
	return "${PIPESTATUS[0]}"
}
# module/compat.h is the one file of the module whose job is to test the
# kernel version; the benchmark tests it for objpool, which 6.1 lacks.
versioned=(module/compat.h bench/ksalloc_bench.c)
mapfile -t plain < <(printf '%s\n' "${sources[@]}" |
	grep -vxF -f <(printf '%s\n' "${versioned[@]}"))
report checkpatch checkpatch -f "${plain[@]}"
report checkpatch-versioned checkpatch \
	--ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON -f "${versioned[@]}"
report kernel-doc "$src/scripts/kernel-doc" -none -Wall "${documented[@]}"

uapi_c() {
	echo '#include <linux/ksalloc.h>' |
		gcc "$@" -std=c99 -Wall -Wextra -Wpedantic -Werror -Wpadded \
			-fsyntax-only -Iinclude/uapi -x c -
}
uapi_cxx() {
	echo '#include <linux/ksalloc.h>' |
		g++ "$@" -std=c++11 -Wall -Wextra -Wpedantic -Werror -Wpadded \
			-fsyntax-only -Iinclude/uapi -x c++ -
}
report uapi-c uapi_c
report uapi-c++ uapi_cxx
if echo 'int main(void) { return 0; }' |
	gcc -m32 -x c -o /dev/null - 2>/dev/null; then
	report uapi-c-m32 uapi_c -m32
fi
exit "$status"
