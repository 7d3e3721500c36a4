#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh - every test of ksalloc, in order.
#
# Static checks (scripts/lint.sh), the library's own checks
# (scripts/libksalloc-check.sh), the W=1 builds against each kernel's
# headers, sparse, the selftests built by a kernel tree's lib.mk
# (scripts/selftests-tree.sh), the KUnit suites, and on the three stock Debian
# kernels under QEMU: integration, then hardening (limits, memory cgroup,
# teardown loops) with a short fuzz pass, then QEMU's edu PCI device
# streaming into frames by DMA (scripts/dma.sh): its five machines on the
# three kernels (`make dma` adds the debug kernel), and dma-bufs of
# ksalloc imported by vgem and vivid (scripts/dmabuf.sh).  Each check prints one "PASS:
# <name>", "FAIL: <name>" or "SKIP: <name>" line; the last line is the
# tally, "N passed, N failed, N skipped".  Full logs go to out/logs/ (or
# $KSALLOC_OUT/logs).

set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage()
{
	cat <<EOF
Usage: $PROG [--quick]

Runs every ksalloc test and ends with the line 'N passed, N failed,
N skipped'.  Exits 0 only when nothing failed.  --quick runs the static
checks, the library's checks and the builds only (no KUnit, no QEMU).
EOF
}

# step NAME LOG COMMAND...: runs a command whose own output holds PASS/FAIL
# lines; a command that fails without printing a FAIL line counts as one,
# and so does one that passes without printing a PASS line.
step()
{
	local name=$1 log=$2 rc=0 lines
	shift 2

	echo "== $name" >&2
	lines=$(wc -l <"$results")
	"$@" 2>"$log" | tee -a "$results" || rc=$?
	if [[ $rc -ne 0 ]]; then
		tail -n +"$((lines + 1))" "$results" | grep -q '^FAIL: ' ||
			echo "FAIL: $name (exit $rc, see $log)" | tee -a "$results"
		tail -n 40 "$log" >&2
	elif ! tail -n +"$((lines + 1))" "$results" | grep -q '^PASS: '; then
		echo "FAIL: $name (no check passed, see $log)" | tee -a "$results"
	fi
}

# build_check NAME FLAVOUR ARGS...: a W=1 (or sparse) build that must be
# silent.
build_check()
{
	local name=$1 log
	shift

	log=$logs/build-$name.log
	if "$here/build.sh" "$@" >"$log" 2>&1 &&
	   ! grep -E '(warning|error):' "$log" >&2; then
		echo "PASS: build/$name"
	else
		echo "FAIL: build/$name (see $log)"
		return 1
	fi
}

main()
{
	local full=true k p passed failed skipped

	case ${1:-} in
	-h | --help) usage; return 0 ;;
	--quick) full=false ;;
	'') ;;
	*) usage >&2; exit 2 ;;
	esac

	mkdir -p "$logs"
	results=$logs/results.txt
	: >"$results"
	if ! "$here/deps.sh" >"$logs/deps.log" 2>&1; then
		tail -n 40 "$logs/deps.log" >&2
		echo "FAIL: deps (see $logs/deps.log)"
		echo "0 passed, 1 failed, 0 skipped"
		exit 1
	fi

	step lint "$logs/lint.log" "$here/lint.sh"
	step libksalloc "$logs/libksalloc.stderr" "$here/libksalloc-check.sh"
	for k in 6.1 6.12 6.12-rt; do
		step "build-$k" "$logs/build-$k.stderr" build_check "$k-W1" "$k" W=1
	done
	step sparse "$logs/sparse.stderr" build_check 6.12-sparse 6.12 C=2
	if $full; then
		step selftests-tree "$logs/selftests-tree.stderr" "$here/selftests-tree.sh"
		step kunit "$logs/kunit.stderr" "$here/kunit.sh" --log "$logs/kunit.log"
		for p in kcsan kasan rt; do
			step "kunit-$p" "$logs/kunit-$p.stderr" \
				"$here/kunit.sh" --profile "$p" --log "$logs/kunit-$p.log"
		done
		step integration "$logs/integration.stderr" "$here/integration.sh"
		grep -h ': selftests \|integration took' "$logs/integration.stderr" >&2 || true
		step hardening "$logs/hardening.stderr" "$here/hardening.sh" --fuzz
		step dma "$logs/dma.stderr" "$here/dma.sh"
		grep -h 'dma.sh: .* took' "$logs/dma.stderr" >&2 || true
		step dmabuf "$logs/dmabuf.stderr" "$here/dmabuf.sh"
	fi

	passed=$(grep -c '^PASS: ' "$results" || true)
	failed=$(grep -c '^FAIL: ' "$results" || true)
	skipped=$(grep -c '^SKIP: ' "$results" || true)
	echo "$passed passed, $failed failed, $skipped skipped"
	[[ $failed -eq 0 ]]
}

main "$@"
