#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the ksalloc KUnit suites ("ksalloc", the unit cases of kunit/unit.c,
# and "ksalloc_stress", the races of kunit/stress.c) through
# tools/testing/kunit/kunit.py on the 6.12 source tree, with the module
# linked in by scripts/jury-rig.sh, under the kernel's debug options, and
# fails on a failed case, on a case or suite that did not run, or on any
# report of the kernel's checkers in the log (scripts/kernel-reports).
#
# Prints one "PASS: kunit/<suite>/<case>" (FAIL:, SKIP:) line per case.
set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<USAGE
usage: ${0##*/} [--profile uml|kcsan|kasan|rt] [--log FILE]

Builds and runs the "ksalloc" and "ksalloc_stress" KUnit suites under one
of four profiles:

  uml    (default) UML, 1 CPU: PROVE_LOCKING, DEBUG_ATOMIC_SLEEP, KASAN,
         UBSAN, DEBUG_LIST.
  kcsan  x86_64 under QEMU TCG (never KVM), 4 vCPUs: SMP, PROVE_LOCKING,
         DEBUG_ATOMIC_SLEEP, KCSAN with the interrupt watcher and every
         race reported, changed value or not.
  kasan  x86_64 under QEMU TCG, 2 vCPUs: generic KASAN with KASAN_VMALLOC,
         DEBUG_OBJECTS (timers, work, free), PROVE_LOCKING, and
         FAULT_INJECTION, FAILSLAB, FAIL_PAGE_ALLOC for the fault
         injection case.
  rt     x86_64 under QEMU TCG, 2 vCPUs: PREEMPT_RT, PROVE_LOCKING and
         DEBUG_ATOMIC_SLEEP, which report a sleeping lock taken where
         interrupts or preemption are off.

Each profile has its own build directory in the kernel tree of the cache
(\${KSALLOC_CACHE:-\$HOME/.cache/ksalloc}), so a second run only rebuilds
what changed.  --log keeps the full kunit.py output.
USAGE
}

profile=uml
log=
while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	--log) [ $# -ge 2 ] || { usage >&2; exit 2; }; log=$2; shift ;;
	--profile) [ $# -ge 2 ] || { usage >&2; exit 2; }; profile=$2; shift ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

# Options common to every profile, on top of kunit/.kunitconfig.
opts=(CONFIG_DEBUG_KERNEL=y CONFIG_PROVE_LOCKING=y CONFIG_DEBUG_ATOMIC_SLEEP=y
      CONFIG_DEBUG_LIST=y)
# kunit.py's own arguments for the profile.
args=()
# x86_64 guests: a panic reboots at once, and QEMU (-no-reboot) exits, so
# that a crash fails the run instead of waiting for kunit.py's timeout.
x86=(--arch=x86_64 --kernel_args=panic=-1)
case "$profile" in
uml)
	build=.kunit-uml
	# UBSAN_ALIGNMENT is off: UML's own code trips it, and x86 does not care.
	# UML_PCI_OVER_VIRTIO is off: without a device it warns at boot.
	opts+=(CONFIG_KASAN=y CONFIG_UBSAN=y CONFIG_UBSAN_ALIGNMENT=n
	       CONFIG_UML_PCI_OVER_VIRTIO=n)
	;;
kcsan)
	build=.kunit-x86_64-kcsan
	# More vCPUs than the host has cores, so that the vCPU threads are
	# preempted at arbitrary points and accesses interleave.  TCG is
	# asked for by name: KVM is not usable on these machines.
	args=("${x86[@]}" --qemu_args='-smp 4 -accel tcg,thread=multi')
	# The interrupt watcher catches races between a task and a softirq
	# on its own CPU; REPORT_VALUE_CHANGE_ONLY=n reports a race even when
	# the value read happened to be unchanged.  Both are runtime choices
	# of kernel/kcsan only, not of how the rest is instrumented.
	opts+=(CONFIG_SMP=y CONFIG_KCSAN=y CONFIG_KCSAN_INTERRUPT_WATCHER=y
	       CONFIG_KCSAN_REPORT_VALUE_CHANGE_ONLY=n)
	;;
kasan)
	build=.kunit-x86_64-kasan
	args=("${x86[@]}" --qemu_args='-smp 2 -accel tcg,thread=multi')
	opts+=(CONFIG_SMP=y CONFIG_KASAN=y CONFIG_KASAN_GENERIC=y
	       CONFIG_KASAN_VMALLOC=y
	       CONFIG_DEBUG_OBJECTS=y CONFIG_DEBUG_OBJECTS_TIMERS=y
	       CONFIG_DEBUG_OBJECTS_WORK=y CONFIG_DEBUG_OBJECTS_FREE=y
	       CONFIG_DEBUG_OBJECTS_ENABLE_DEFAULT=1
	       CONFIG_DEBUG_FS=y CONFIG_FAULT_INJECTION=y
	       CONFIG_FAULT_INJECTION_DEBUG_FS=y CONFIG_FAILSLAB=y
	       CONFIG_FAIL_PAGE_ALLOC=y)
	;;
rt)
	build=.kunit-x86_64-rt
	# PREEMPT_RT: spinlock_t sleeps, softirqs run in threads, and with
	# DEBUG_ATOMIC_SLEEP a sleeping lock taken with interrupts or
	# preemption off is reported.
	args=("${x86[@]}" --qemu_args='-smp 2 -accel tcg,thread=multi')
	opts+=(CONFIG_SMP=y CONFIG_EXPERT=y CONFIG_PREEMPT_RT=y)
	;;
*)
	usage >&2
	exit 2
	;;
esac

src=$("$here/deps.sh" --source-dir)
# One source tree serves every work tree: its drivers/misc/ksalloc link
# names one of them, so runs take turns.
exec 9>"$src/.ksalloc-kunit.lock"
flock 9
"$here/jury-rig.sh" "$src" >/dev/null
# make goes by the times of the sources: an object built from another work
# tree's copy may look newer than this tree's source, and be kept.  So the
# module's objects go when the tree they were built from is another one.
if [ "$(cat "$src/$build/.ksalloc-tree" 2>/dev/null)" != "$repo" ]; then
	rm -rf "$src/$build/drivers/misc/ksalloc"
	mkdir -p "$src/$build"
	printf '%s\n' "$repo" >"$src/$build/.ksalloc-tree"
fi

# qemu_configs/x86_64.py boots with qboot (Debian's qemu-system-data has
# it).  Without it, the same configuration but QEMU's default firmware.
has_qboot() {
	local dir

	while read -r dir; do
		[ -e "$dir/qboot.rom" ] && return 0
	done < <(qemu-system-x86_64 -L help 2>/dev/null || true)
	return 1
}
if [ "$profile" != uml ] && ! has_qboot; then
	mkdir -p "$src/$build"
	sed "/'-bios', 'qboot.rom'/s/\['-bios', 'qboot.rom'\]/[]/" \
		"$src/tools/testing/kunit/qemu_configs/x86_64.py" \
		>"$src/$build/qemu-x86_64-seabios.py"
	args+=(--qemu_config="$build/qemu-x86_64-seabios.py")
fi

[ -n "$log" ] || log=$(mktemp)
mkdir -p "$(dirname "$log")"

kadd=()
for o in "${opts[@]}"; do kadd+=(--kconfig_add "$o"); done

status=0
(cd "$src" && ./tools/testing/kunit/kunit.py run \
	--kunitconfig=drivers/misc/ksalloc/kunit --build_dir="$build" \
	--jobs="$(nproc)" --timeout=1200 --raw_output=all \
	"${args[@]}" "${kadd[@]}") \
	>"$log" 2>&1 || status=$?

# Every "suite/case" of the sources: the cases listed in the kunit_case
# array of each file under kunit/ that defines a suite (one a file).
expected_cases() {
	local f

	for f in "$repo"/kunit/*.c; do
		awk '/KUNIT_CASE[A-Z_]*\(/ {
			c = $0; sub(/^[^(]*\(/, "", c); sub(/[,)].*/, "", c); cases[++n] = c
		}
		/^[ \t]*\.name = "/ { s = $0; sub(/^[^"]*"/, "", s); sub(/".*/, "", s) }
		END { if (s) for (i = 1; i <= n; i++) print s "/" cases[i] }' "$f"
	done
}

# One line per case of each suite (KTAP: a suite's header and its cases
# are indented one level, its own result line not at all), named after the
# profile: kunit/ for uml, kunit-PROFILE/ for the others; then a FAIL for
# each case of the sources that did not report, and for each suite that
# did not run at all.
label=kunit
[ "$profile" = uml ] || label=kunit-$profile
results=$(awk -v label="$label" -v want="$(expected_cases | tr '\n' ' ')" '
	BEGIN {
		n = split(want, w, " ")
		for (i = 1; i <= n; i++) {
			split(w[i], p, "/")
			suites[p[1]] = 1
		}
	}
	/^    # Subtest: / {
		s = $0; sub(/^    # Subtest: /, "", s)
		if (s in suites) { suite = s; ran[s] = 1 }
		next
	}
	suite != "" && /^    (not )?ok [0-9]+ / {
		name = $0; sub(/^ *(not )?ok [0-9]+ /, "", name); sub(/ .*/, "", name)
		verdict = $0 ~ /^    not ok/ ? "FAIL" : $0 ~ /# SKIP/ ? "SKIP" : "PASS"
		print verdict ": " label "/" suite "/" name
		seen[suite "/" name] = 1
	}
	suite != "" && /^(not )?ok [0-9]+ / { suite = "" }
	END {
		for (s in suites)
			if (!(s in ran))
				print "FAIL: " label "/" s "/suite-did-not-run"
		for (i = 1; i <= n; i++)
			if (!(w[i] in seen))
				print "FAIL: " label "/" w[i] " (did not run)"
		if (!n)
			print "FAIL: " label "/no-cases-in-the-sources"
	}
' "$log")
printf '%s\n' "$results"
grep -q '^FAIL' <<<"$results" && status=1

# Any report from the kernel's checkers fails the run.
if grep -E "$KERNEL_REPORTS_RE" "$log" >&2; then
	echo "FAIL: $label/log-scan"
	status=1
else
	echo "PASS: $label/log-scan"
fi
exit "$status"
