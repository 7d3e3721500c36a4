#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# soak.sh - a long mixed load on one allocator in a two-vCPU guest.
#
# Builds ksalloc.ko and bench/ksalloc_soak.ko against one kernel
# (scripts/build.sh) and tools/testing/ksalloc_soak_user, packs them with
# scripts/guest/soak.sh into an initramfs and boots it under multi-threaded
# TCG with two vCPUs (run_guest of scripts/lib.sh, vm.sh --strict: a
# WARNING or UBSAN line fails the run at once).  In the guest, ksalloc_soak_user creates the allocator,
# hands it to the module, whose holders run on both CPUs (kthreads,
# timers, tasklets, cross-CPU queues, waiters) until --ops alloc+free pairs
# are done, while it allocates, polls and waits from user space itself;
# every holder checks the tags it wrote into its frames.  The guest's lines
# are relayed to stderr as they come, its checks become "PASS:
# soak/FLAVOUR/check" lines; the last line is "PASS: soak/FLAVOUR (...)"
# or "FAIL: soak/FLAVOUR (...)".

set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Kernel pairs per second the guest manages at least, for the timeout.
# Measured on this 2-core host, shared with other jobs: the stock kernel
# did 0.3 to 0.9 M/s, the debug kernel (KASAN, lockdep) about 0.05 M/s.
readonly RATE_STOCK=200000 RATE_DEBUG=25000
# Boot, module loads and the final checks, and what the guest keeps for
# its report after its own time limit.
readonly SLACK=240 REPORT=90

usage()
{
	cat <<EOF
Usage: $PROG [--kernel FLAVOUR] [--ops N] [--timeout SECONDS]
             [--frames N] [--size BYTES] [--param NAME=VALUE]...

Boot FLAVOUR (default 6.12) with two vCPUs and run the soak test: N
alloc+free pairs (default 100000000) by the holders of ksalloc_soak.ko on
every CPU, with user-space holders of ksalloc_soak_user alongside, every
frame tagged and checked; then every frame must be back and the kernel log
clean (no WARN, BUG, KASAN, lockdep or "sleeping function" report).

  --kernel FLAVOUR   6.1, 6.12, 6.12-rt or debug (scripts/kernels.sh;
                     debug is built by scripts/debug-kernel.sh, ~15 min)
  --ops N            kernel alloc+free pairs (default 100000000)
  --timeout SECONDS  of the whole boot (default: from --ops, $RATE_STOCK
                     pairs/s, $RATE_DEBUG on the debug kernel, + $SLACK s)
  --frames N         frames of the allocator (default 128)
  --size BYTES       bytes per frame, at least 16 (default 64)
  --param NAME=VALUE a parameter of ksalloc_soak.ko (modinfo lists them:
                     period_us, softirq_budget, wait_jiffies, hoard_every);
                     the debug kernel gets period_us=2000 first, so that
                     its slow softirqs leave the kthreads some time
  -h, --help         this text

The console log goes to \${KSALLOC_OUT:-out}/logs/soak-FLAVOUR.log.
10^8 pairs took 3.5 to 5 minutes on 6.12 (a 2-core host shared with
other jobs), 10^7 on the debug kernel about 3 minutes.
Exit status: 0 PASS, 1 FAIL, 2 usage error.
EOF
}

main()
{
	local kernel=6.12 ops=100000000 timeout='' frames=128 size=64
	local conf rc=0 start=$SECONDS rate n
	local -a params=()

	while [[ $# -gt 0 ]]; do
		case $1 in
		-h | --help) usage; return 0 ;;
		--kernel | --ops | --timeout | --frames | --size | --param)
			[[ $# -ge 2 ]] || DIE_STATUS=2 die "$1 needs an argument"
			case $1 in
			--param)
				[[ $2 =~ ^[a-z_]+=[0-9]+$ ]] ||
					DIE_STATUS=2 die "--param wants NAME=NUMBER, got '$2'"
				params+=("$2")
				;;
			--kernel) kernel=$2 ;;
			--ops) ops=$2 ;;
			--timeout) timeout=$2 ;;
			--frames) frames=$2 ;;
			--size) size=$2 ;;
			esac
			shift
			;;
		*) usage >&2; DIE_STATUS=2 die "unknown argument '$1'" ;;
		esac
		shift
	done
	case $kernel in
	6.1 | 6.12 | 6.12-rt | debug) ;;
	*) DIE_STATUS=2 die "unknown flavour '$kernel' (try --help)" ;;
	esac
	for n in "$ops" "$frames" "$size" ${timeout:+"$timeout"}; do
		[[ $n =~ ^[1-9][0-9]*$ ]] || DIE_STATUS=2 die "not a positive number: '$n'"
	done
	rate=$RATE_STOCK
	if [[ $kernel == debug ]]; then
		rate=$RATE_DEBUG
		params=(period_us=2000 "${params[@]}")
	fi
	[[ -n $timeout ]] || timeout=$((SLACK + ops / rate))
	[[ $timeout -gt $((REPORT + 30)) ]] ||
		DIE_STATUS=2 die "--timeout $timeout leaves no time for the soak"

	msg "building against $kernel"
	guest_build soak "$kernel" || return 1
	build_tools ksalloc_soak_user 2>>"$logs/soak-build-$kernel.log" ||
		die "tools build failed: see $logs/soak-build-$kernel.log"

	# The guest stops the holders itself REPORT seconds before the VM's
	# timeout, so that a slow run still reports what it did.
	conf=$(printf 'SOAK_OPS=%s\nSOAK_PARAMS="%s"\nSOAK_USER_ARGS="--frames %s --size %s --seconds %s"' \
		"$ops" "${params[*]}" "$frames" "$size" "$((timeout - REPORT))")
	msg "$kernel: $ops pairs, $frames frames of $size bytes, timeout $timeout s${params[*]:+, ${params[*]}}"
	run_guest --smp 2 --timeout "$timeout" --strict --live \
		--config /etc/soak.conf "$conf" \
		soak "$kernel" "$here/guest/soak.sh" \
		"$KO/ksalloc.ko:/lib/modules/" \
		"$KO/bench/ksalloc_soak.ko:/lib/modules/" \
		"$tools/ksalloc_soak_user:/bin/" || rc=1

	if [[ $rc -eq 0 ]] && grep -qx 'soak: ok' "$GUEST_OUT" &&
	   ! grep -q '^GUEST-FAIL: ' "$GUEST_OUT"; then
		echo "PASS: soak/$kernel ($ops pairs, $((SECONDS - start)) s)"
		return 0
	fi
	echo "FAIL: soak/$kernel ($((SECONDS - start)) s, see $logs/soak-$kernel.log)"
	return 1
}

main "$@"
