#!/usr/bin/env bash
# shellcheck disable=SC2317 # the checks run indirectly, through report()
# SPDX-License-Identifier: GPL-2.0
#
# lint.sh - the static checks, which need no kernel build.
#
# checkpatch.pl --strict from the 6.12 source over every C file, header
# and Kconfig of the repository (tools/ too), kernel-doc over the kernel's
# side, the documentation (the kernel-doc directives of Documentation/
# against the sources, the reStructuredText through docutils), and the
# uapi header compiled alone as C and C++ (64-bit, and 32-bit where
# gcc-multilib is installed).
#
# Prints one "PASS: lint/<check>" or "FAIL: lint/<check>" line per check;
# the details of a failure go to stderr.

set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage()
{
	cat <<EOF
Usage: $PROG

Runs checkpatch.pl --strict over every C file, header and Kconfig,
kernel-doc -none over the kernel's sources and headers, checks the
kernel-doc directives and the reStructuredText of Documentation/, and
compiles the uapi header alone.
EOF
}

# module/compat.h is the one file whose job is to test the kernel version.
readonly VERSIONED=module/compat.h
# Trace headers (TRACE_EVENT()) are laid out like the kernel's own
# (include/trace/events/, samples/trace_events/): "TP_PROTO(" and
# "TP_STRUCT__entry(" end their lines, and the arguments line up with the
# macro, not with its parenthesis.
readonly TRACE_RE='(^|/)[a-z_]*trace[a-z_]*\.h$'
readonly TRACE_IGNORE=OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT

# User-space programs and their library (tools/) follow the kernel's
# style, but for what C and the C library ask of them that the kernel's
# headers would supply; tools/ include only the uapi header:
#   VOLATILE                       a flag a signal handler sets is
#                                  "volatile sig_atomic_t" (C11 7.14.1.1)
#   PREFER_DEFINED_ATTRIBUTE_MACRO __printf() and friends are macros of
#                                  the kernel's compiler_attributes.h
#   BIT_MACRO                      BIT() is the kernel's, from vdso/bits.h
#   USE_NEGATIVE_ERRNO             errno(3) values are positive in user
#                                  space (errno, the values tests expect)
# and CamelCase is allowed for the C library's <inttypes.h> macros
# (PRIu64, SCNx32, ...) only.  checkpatch already allows the C99 integer
# types under tools/.
readonly USER_IGNORE=VOLATILE,PREFER_DEFINED_ATTRIBUTE_MACRO,BIT_MACRO,USE_NEGATIVE_ERRNO
readonly INTTYPES_RE='CAMELCASE: Avoid CamelCase: <(PRI|SCN)[diouxX](8|16|32|64|PTR|MAX|FAST[0-9]+|LEAST[0-9]+)?>'

status=0

# report NAME COMMAND...: runs a check that must print nothing and succeed.
report()
{
	local name=$1 out
	shift

	if out=$("$@" 2>&1) && [[ -z $out ]]; then
		echo "PASS: lint/$name"
	else
		printf '%s\n' "$out" >&2
		echo "FAIL: lint/$name"
		status=1
	fi
}

checkpatch()
{
	"$src/scripts/checkpatch.pl" --strict --no-tree --quiet --terse \
		--show-types "$@" |
		grep -v '^total: 0 errors, 0 warnings, 0 checks' |
		grep -Ev "$INTTYPES_RE" |
		grep -Ev '^total: [0-9]+ errors, [0-9]+ warnings, [0-9]+ checks'
	return "${PIPESTATUS[0]}"
}

# checkpatch_user FILE...: checkpatch exits 1 for what the filter drops
# too: only the lines it prints count.
checkpatch_user()
{
	checkpatch --ignore "$USER_IGNORE" -f "$@" || true
}

# files PATTERN...: the work tree's files matching a pattern of git
# ls-files, tracked (and not deleted) or new, sorted.
files()
{
	local f

	git ls-files -co --exclude-standard "$@" | sort -u |
		while read -r f; do
			[[ ! -e $f ]] || echo "$f"
		done
}

uapi_c()
{
	echo '#include <linux/ksalloc.h>' |
		gcc "$@" -std=c99 -Wall -Wextra -Wpedantic -Werror -Wpadded \
			-fsyntax-only -Iinclude/uapi -x c -
}

uapi_cxx()
{
	echo '#include <linux/ksalloc.h>' |
		g++ "$@" -std=c++11 -Wall -Wextra -Wpedantic -Werror -Wpadded \
			-fsyntax-only -Iinclude/uapi -x c++ -
}

main()
{
	local -a sources kernel trace user documented docs

	case ${1:-} in
	-h | --help) usage; return 0 ;;
	'') ;;
	*) usage >&2; exit 2 ;;
	esac

	src=$("$here/deps.sh" --source-dir)
	cd "$repo"
	mapfile -t sources < <(files '*.c' '*.h' 'Kconfig')
	mapfile -t kernel < <(printf '%s\n' "${sources[@]}" | grep -v '^tools/' |
		grep -vxF "$VERSIONED" | grep -Ev "$TRACE_RE" || true)
	mapfile -t trace < <(printf '%s\n' "${sources[@]}" | grep -v '^tools/' |
		grep -E "$TRACE_RE" || true)
	mapfile -t user < <(printf '%s\n' "${sources[@]}" | grep '^tools/' || true)
	mapfile -t documented < <(files 'include/*.h' 'module/*.c' 'module/*.h')
	mapfile -t docs < <(files 'Documentation/*.rst')

	report checkpatch checkpatch -f "${kernel[@]}"
	report checkpatch-versioned checkpatch \
		--ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON -f "$VERSIONED"
	if [[ ${#trace[@]} -gt 0 ]]; then
		report checkpatch-trace checkpatch --ignore "$TRACE_IGNORE" -f "${trace[@]}"
	fi
	if [[ ${#user[@]} -gt 0 ]]; then
		report checkpatch-tools checkpatch_user "${user[@]}"
	fi
	report kernel-doc "$src/scripts/kernel-doc" -none -Wall "${documented[@]}"
	if [[ ${#docs[@]} -gt 0 ]]; then
		python3 -c 'import docutils' 2>/dev/null || apt_install python3-docutils
		report doc-kernel-doc "$here/doc-check.py" kernel-doc \
			"$src/scripts/kernel-doc" "${docs[@]}"
		report doc-rst "$here/doc-check.py" rst "${docs[@]}"
		report doc-examples "$here/doc-check.py" examples "${docs[@]}"
	fi

	report uapi-c uapi_c
	report uapi-c++ uapi_cxx
	if echo 'int main(void) { return 0; }' |
		gcc -m32 -x c -o /dev/null - 2>/dev/null; then
		report uapi-c-m32 uapi_c -m32
	fi
	return "$status"
}

main "$@"
