#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# fuzz.sh - fuzz /dev/ksalloc in a QEMU guest: our own ABI-aware fuzzer
# (ksalloc_fuzz, tools/testing/fuzz/), its fault injection into SET_FRAMING
# (ksalloc_fuzz_faults) and trinity, then check the kernel.
#
# Builds ksalloc.ko against the kernel's headers (scripts/build.sh), the
# two static programs, fetches trinity (Debian package, unpacked into the
# cache, its shared libraries packed along), boots scripts/guest/fuzz.sh
# as /init (run_guest of scripts/lib.sh) and prints one
# "PASS: fuzz/<kernel>/<check>" or "FAIL: ..." line per check, plus the
# calls made per tool, calls/s, the errno distribution and the taint
# decoded.

set -euo pipefail

readonly PROG=${0##*/}
# "make fuzz SECONDS=N": bash starts its SECONDS counter at the value it
# inherits, so read it before any time passes.
readonly ENV_SECONDS=$SECONDS
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage()
{
	cat <<EOF
Usage: $PROG [--kernel FLAVOUR]... [--seconds T] [--short] [--seed N]
             [--threads N] [--children N] [--share PCT] [--trinity-calls N]

Fuzz ksalloc in a guest of each FLAVOUR of scripts/kernels.sh (default
6.12) for T seconds in all (default: the SECONDS or FUZZ_SECONDS
environment variable, else 600): by default 40% our fuzzer, 60% trinity
on /dev/ksalloc (ioctl, mmap, poll, close).  Then checks the fuzzer's
books, dmesg, taint (O and E allowed) and rmmod.

  --kernel FLAVOUR  6.1, 6.12, 6.12-rt or debug (may repeat)
  --seconds T       the time budget per kernel
  --short           the CI pass: 90 s of fuzzing per kernel (about 2 min)
  --seed N          seed of both fuzzers (default 1)
  --threads N       threads of our fuzzer (default 4)
  --children N      trinity children (default 4)
  --share PCT       our fuzzer's share of the time, 0-100 (default 40)
  --trinity-calls N trinity stops after N calls, and fewer fail the run
                    (e.g. --share 0 --trinity-calls 1000000 --seconds 7200)
  -h, --help        this text

Console logs: \${KSALLOC_OUT:-out}/logs/fuzz-FLAVOUR.log.
Exit status 0 when every check passed.
EOF
}

# Prints the path of the trinity binary, unpacked from Debian's package
# into the cache the first time.
fetch_trinity()
{
	local dir=$cache/trinity deb

	if [[ ! -x $dir/root/usr/bin/trinity ]]; then
		mkdir -p "$dir"
		rm -rf "$dir/root" "$dir"/*.deb
		(cd "$dir" && apt-get download trinity >&2) ||
			{ as_root apt-get update -qq >&2 && (cd "$dir" && apt-get download trinity >&2); } ||
			die "cannot download the trinity package"
		deb=$(echo "$dir"/trinity_*.deb)
		dpkg-deb -x "$deb" "$dir/root"
	fi
	echo "$dir/root/usr/bin/trinity"
}

# Prints the summary of what the guest printed (run_guest prints the
# PASS:/FAIL: lines), on stderr.
report()
{
	local k=$1 out=$2 json

	json=$(sed -n 's/^FUZZ-JSON: //p' "$out" | head -n 1)
	{
		if [[ -n $json ]]; then
			python3 - "$k" "$json" <<'EOF' || echo "$k: ksalloc_fuzz: $json"
import json, sys
k, j = sys.argv[1], json.loads(sys.argv[2])
print(f"{k}: ksalloc_fuzz: {j['calls']} calls in {j['seconds']:.0f} s, "
      f"{j['calls_per_s']:.0f} calls/s, {j['violations']} violations, "
      f"{j['signals']} signals, {j['forks']} forks (seed {j['seed']})")
for op, v in j['ops'].items():
    errs = ' '.join(f"{e}={n}" for e, n in sorted(v['errno'].items(), key=lambda x: -x[1]))
    print(f"{k}:   {op:18} {v['calls']:>9}: {errs}")
EOF
		fi
		sed -n "s|^FUZZ-STAT: |$k: |p; s|^TRINITY: |$k: trinity: |p" "$out"
	} >&2
}

main()
{
	local budget=${FUZZ_SECONDS:-600} short=false seed=1
	local threads=4 children=4 share=40 tcalls=0
	local k conf trinity status=0 start
	local fuzz_s trinity_s timeout
	local -a kernels=()

	[[ -n ${FUZZ_SECONDS:-} || $ENV_SECONDS -lt 2 ]] || budget=$ENV_SECONDS
	while [[ $# -gt 0 ]]; do
		case $1 in
		-h | --help) usage; return 0 ;;
		--short) short=true ;;
		--kernel | --seconds | --seed | --threads | --children | --share | --trinity-calls)
			[[ $# -ge 2 ]] || die "$1 needs an argument"
			case $1 in
			--kernel) kernels+=("$2") ;;
			--seconds) budget=$2 ;;
			--seed) seed=$2 ;;
			--threads) threads=$2 ;;
			--children) children=$2 ;;
			--share) share=$2 ;;
			--trinity-calls) tcalls=$2 ;;
			esac
			shift
			;;
		*) usage >&2; die "unknown argument '$1'" ;;
		esac
		shift
	done
	$short && budget=90
	[[ $budget =~ ^[1-9][0-9]*$ ]] || die "--seconds wants a number, got '$budget'"
	[[ ${#kernels[@]} -gt 0 ]] || kernels=(6.12)
	[[ $share =~ ^[0-9]+$ && $share -le 100 ]] || die "--share wants 0-100, got '$share'"
	[[ $tcalls =~ ^[0-9]+$ ]] || die "--trinity-calls wants a number, got '$tcalls'"
	fuzz_s=$((budget * share / 100))
	[[ $fuzz_s -gt 0 || $share -eq 0 ]] || fuzz_s=1
	trinity_s=$((budget - fuzz_s))
	[[ $trinity_s -gt 0 || $share -eq 100 ]] || trinity_s=1
	# Boot, load, the checks after; TCG may be slow on a busy host.
	timeout=$((budget + 300))

	need python3:python3 dpkg-deb:dpkg
	mkdir -p "$logs"
	build_tools ksalloc_fuzz ksalloc_fuzz_faults
	trinity=$(fetch_trinity)
	conf="FUZZ_SECONDS=$fuzz_s FUZZ_SEED=$seed FUZZ_THREADS=$threads
TRINITY_SECONDS=$trinity_s TRINITY_CHILDREN=$children TRINITY_SEED=$seed
TRINITY_CALLS=$tcalls"

	for k in "${kernels[@]}"; do
		start=$SECONDS
		guest_build fuzz "$k" || { status=1; continue; }
		msg "$k: fuzzing for $budget s ($fuzz_s s ksalloc_fuzz, $trinity_s s trinity)"
		run_guest --smp 2 --mem 1024 --timeout "$timeout" \
			--config /etc/ksalloc-fuzz.conf "$conf" --libs-of "$trinity" \
			fuzz "$k" "$here/guest/fuzz.sh" \
			"$KO/ksalloc.ko:/lib/modules/" \
			"$tools/ksalloc_fuzz:/bin/" "$tools/ksalloc_fuzz_faults:/bin/" \
			"$trinity:/bin/trinity" || status=1
		report "$k" "$GUEST_OUT"
		msg "$k: fuzz took $((SECONDS - start)) s"
	done
	return "$status"
}

main "$@"
