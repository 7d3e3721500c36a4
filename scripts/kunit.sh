#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the ksalloc KUnit suite through tools/testing/kunit/kunit.py on the
# 6.12 source tree, with the module linked in by scripts/jury-rig.sh, under
# the kernel's debug options, and fails on a failed case or on any report
# from lockdep, KASAN, UBSAN or the atomic-sleep check in the log.
#
# Prints one "PASS: kunit/<case>" or "FAIL: kunit/<case>" line per case.
set -euo pipefail

usage() {
	cat <<USAGE
usage: ${0##*/} [--log FILE]

Builds and runs the "ksalloc" KUnit suite on UML with PROVE_LOCKING,
DEBUG_ATOMIC_SLEEP, KASAN and UBSAN.  The kernel build is kept in the
cache (\${KSALLOC_CACHE:-\$HOME/.cache/ksalloc}), so a second run only
rebuilds what changed.  --log keeps the full kunit.py output.
USAGE
}

log=
while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	--log) log=$2; shift ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

here=$(cd "$(dirname "$0")" && pwd)
src=$("$here/deps.sh" --source-dir)
"$here/jury-rig.sh" "$src" >/dev/null

build=.kunit-uml
[ -n "$log" ] || log=$(mktemp)
mkdir -p "$(dirname "$log")"

# Debug options on top of kunit/.kunitconfig.
# UBSAN_ALIGNMENT is off: UML's own code trips it, and x86 does not care.
# UML_PCI_OVER_VIRTIO is off: without a device it warns at boot.
opts=(CONFIG_DEBUG_KERNEL=y CONFIG_PROVE_LOCKING=y CONFIG_DEBUG_ATOMIC_SLEEP=y
      CONFIG_KASAN=y CONFIG_UBSAN=y CONFIG_UBSAN_ALIGNMENT=n CONFIG_DEBUG_LIST=y
      CONFIG_UML_PCI_OVER_VIRTIO=n)
kadd=()
for o in "${opts[@]}"; do kadd+=(--kconfig_add "$o"); done

status=0
(cd "$src" && ./tools/testing/kunit/kunit.py run \
	--kunitconfig=drivers/misc/ksalloc/kunit --build_dir="$build" \
	--jobs="$(nproc)" --timeout=1200 --raw_output=all "${kadd[@]}") \
	>"$log" 2>&1 || status=$?

# One line per case of the suite (KTAP: cases are indented one level).
awk '
	/^ *# Subtest: ksalloc$/ { in_suite = 1; next }
	in_suite && /^    (not )?ok [0-9]+ / {
		name = $0; sub(/^ *(not )?ok [0-9]+ /, "", name); sub(/ .*/, "", name)
		print ($0 ~ /^    not ok/ ? "FAIL" : "PASS") ": kunit/" name
		cases++
	}
	in_suite && /^(not )?ok [0-9]+ ksalloc/ { in_suite = 0 }
	END { if (!cases) print "FAIL: kunit/no-cases-ran" }
' "$log"

# Any report from the kernel's checkers fails the run.
pattern='WARNING:|BUG:|Oops|possible recursive locking|sleeping function called|'
pattern+='inconsistent lock state|circular locking|lock held when returning|'
pattern+='KASAN|KCSAN|UBSAN|kmemleak|list_add corruption|list_del corruption'
if grep -E "$pattern" "$log" >&2; then
	echo "FAIL: kunit/log-scan"
	status=1
else
	echo "PASS: kunit/log-scan"
fi
grep -q '^    not ok' "$log" && status=1
exit "$status"
