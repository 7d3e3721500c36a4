# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# lib.sh - what the host scripts share: sourced, never run.
#
# Every script of scripts/ has the same shape: "set -euo pipefail", then
#
#	readonly PROG=${0##*/}
#	source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# a usage() for --help, its functions, and a main() called last as
# 'main "$@"'.  The sourcing script may set DIE_STATUS (the exit status of
# die(), 1 by default).  Sourcing sets these globals:
#
#	here    scripts/, where this file is
#	repo    the work tree
#	cache   ${KSALLOC_CACHE:-$HOME/.cache/ksalloc}
#	tools   this work tree's user-space tools and guest images in the
#	        cache (what "scripts/build.sh --tools-dir" prints)
#	logs    ${KSALLOC_OUT:-$repo/out}/logs
#	KERNEL_REPORTS_RE
#	        the extended regexp of scripts/kernel-reports: a line of a
#	        kernel log that matches it is a report of one of the kernel's
#	        checkers (grep -E "$KERNEL_REPORTS_RE" LOG)
#
# and the helpers below: msg, die, as_root, apt_install, need,
# build_tools, guest_build and run_guest.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${KSALLOC_CACHE:-$HOME/.cache/ksalloc}
# Every work tree has its own directories in the cache, so that two trees
# (a CI clone and a developer's) never build over each other.
tree=$(printf '%s' "$repo" | md5sum | cut -c1-8)
tools=$cache/tools-$tree
logs=${KSALLOC_OUT:-$repo/out}/logs
# shellcheck disable=SC2034 # for the scripts that source this
KERNEL_REPORTS_RE=$(sed '/^#/d; /^$/d' "$here/kernel-reports" | paste -sd '|')

msg()
{
	printf '%s: %s\n' "${PROG:-${0##*/}}" "$*" >&2
}

die()
{
	msg "error: $*"
	exit "${DIE_STATUS:-1}"
}

# Runs a command as root: directly when we are root, else through sudo.
as_root()
{
	if [[ $EUID -eq 0 ]]; then
		"$@"
	else
		sudo "$@"
	fi
}

# Installs Debian packages, without their recommendations.
apt_install()
{
	msg "installing $*"
	as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends "$@" >&2
}

# Installs the package named after each "command:package" pair whose
# command is missing.
need()
{
	local pair missing=()

	for pair in "$@"; do
		command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
	done
	[[ ${#missing[@]} -eq 0 ]] || apt_install "${missing[@]}"
}

# build_tools [PROGRAM...]: builds the user-space tools into $tools (all of
# them, or the PROGRAMs named), quietly.
build_tools()
{
	local -a targets=()
	local p

	for p in "$@"; do
		targets+=("$tools/$p")
	done
	mkdir -p "$tools"
	make -s -C "$repo/tools" O="$tools" "${targets[@]}" >&2
}

# guest_build LABEL KERNEL [MAKE_ARG...]: builds the modules against
# KERNEL (scripts/build.sh), the log in $logs/LABEL-build-KERNEL.log, and
# sets KO to the directory of the .ko files.  On failure prints
# "FAIL: LABEL/KERNEL/build (see LOG)" and returns 1.
guest_build()
{
	local label=$1 k=$2 log
	shift 2

	log=$logs/$label-build-$k.log
	mkdir -p "$logs"
	if ! KO=$("$here/build.sh" "$k" "$@" 2>"$log" | tail -n 1) || [[ -z $KO ]]; then
		echo "FAIL: $label/$k/build (see $log)"
		return 1
	fi
}

# vm_exit_reason STATUS: what an exit status of scripts/vm.sh means.
vm_exit_reason()
{
	case $1 in
	1) echo "the guest reported FAIL" ;;
	3) echo "kernel crash" ;;
	4) echo "no result" ;;
	124) echo "timed out" ;;
	*) echo "vm.sh failed" ;;
	esac
}

# tcg_stale_int3 LOG: the guest's kernel died of an "Oops: int3" whose
# trapping byte is no longer an int3.  The kernel patches its code (static
# keys, jump labels) by writing int3 first and the new bytes after, and
# runs the bytes it finds when the int3 traps; an Oops there, with the
# "Code:" line (the bytes in memory) showing no 0xcc before the trapping
# address, means the CPU executed code that was already rewritten: under
# QEMU's multi-threaded TCG a vCPU can run a stale translation of a page
# another vCPU patched.  Real hardware cannot do this after text_poke's
# serialising IPIs, so run_guest boots such a guest once more.
tcg_stale_int3()
{
	local code

	# 6.12 prints "Oops: int3: 0000 [#1]", 6.1 "int3: 0000 [#1]".
	grep -Eq '(Oops: )?int3: [0-9a-f]{4} \[#' "$1" || return 1
	code=$(grep -E -m1 -A6 '(Oops: )?int3: [0-9a-f]{4} \[#' "$1" |
		grep -m1 'Code: ') || return 1
	[[ $code =~ ([0-9a-f]{2})\ \<[0-9a-f]{2}\> ]] || return 1
	[[ ${BASH_REMATCH[1]} != cc ]]
}

# run_guest [OPTION...] LABEL KERNEL INIT [SRC:DEST...]
#
# Boots KERNEL (a flavour of scripts/kernels.sh) with an initramfs of INIT
# as /init and the files SRC:DEST (scripts/initramfs.sh --file), and turns
# the guest's "GUEST-PASS: name", "GUEST-FAIL: name" and "GUEST-SKIP:
# name" lines into "PASS: LABEL/KERNEL/name" (FAIL:, SKIP:) on stdout.  A
# guest that reports FAIL, crashes, stops without a result or times out
# adds "FAIL: LABEL/KERNEL/guest (why, vm.sh exit N, see LOG)".  A guest
# that died of a stale int3 (tcg_stale_int3) boots once more, and says so
# with "SKIP: LABEL/KERNEL/stale-int3".
#
#   --name NAME         the files' name (default LABEL-KERNEL): the image
#                       $tools/NAME.cpio.gz, the console log $logs/NAME.log
#                       and its non-kernel lines, without CRs,
#                       $logs/NAME.out (GUEST_OUT is set to that)
#   --config DEST TEXT  a file holding the line(s) TEXT at DEST in the image
#   --libs-of BINARY    the shared libraries of BINARY (initramfs.sh)
#   --smp N, --mem MB, --timeout SECONDS, --icount, --strict
#                       passed to scripts/vm.sh (default --smp 2
#                       --timeout 900)
#   --append CMDLINE    more kernel command line (may repeat)
#   --qemu ARG          one more QEMU argument (may repeat)
#   --show REGEX        console lines matching REGEX (extended) also go to
#                       stderr, as "KERNEL: line"
#   --live              every non-kernel console line also goes to stderr
#                       as it comes
#
# Returns 0 when the guest reported PASS, else 1.
run_guest()
{
	local name='' show='' live=false smp=2 timeout=900 conf rc=0 what
	local label k init img log arg
	local -a vm=() qemu=() files=() confs=()

	while [[ $# -gt 0 ]]; do
		case $1 in
		--name) name=$2; shift ;;
		--config)
			conf=$(mktemp "${TMPDIR:-/tmp}/ksalloc-guest-conf.XXXXXX")
			printf '%s\n' "$3" >"$conf"
			confs+=("$conf")
			files+=(--file "$conf:$2")
			shift 2
			;;
		--libs-of) files+=(--libs-of "$2"); shift ;;
		--smp) smp=$2; shift ;;
		--timeout) timeout=$2; shift ;;
		--mem) vm+=(--mem "$2"); shift ;;
		--append) vm+=(--append "$2"); shift ;;
		--icount | --strict) vm+=("$1") ;;
		--qemu) qemu+=("$2"); shift ;;
		--show) show=$2; shift ;;
		--live) live=true ;;
		*) break ;;
		esac
		shift
	done
	[[ $# -ge 3 ]] || die "run_guest: want LABEL KERNEL INIT [SRC:DEST...]"
	label=$1 k=$2 init=$3
	shift 3
	for arg in "$@"; do
		files+=(--file "$arg")
	done
	name=${name:-$label-$k}
	img=$tools/$name.cpio.gz
	log=$logs/$name.log
	GUEST_OUT=$logs/$name.out
	mkdir -p "$logs" "$tools"

	if ! "$here/initramfs.sh" -o "$img" --init "$init" "${files[@]}" \
		>/dev/null 2>"$logs/$name.initramfs.log"; then
		rm -f "${confs[@]}"
		echo "FAIL: $label/$k/initramfs (see $logs/$name.initramfs.log)"
		return 1
	fi
	rm -f "${confs[@]}"

	local -a ps
	local try
	for try in 1 2; do
		# PIPESTATUS is read first thing in either branch, before any
		# other command replaces it.
		if "$here/vm.sh" --kernel "$("$here/kernels.sh" vmlinux "$k")" \
			--initrd "$img" --smp "$smp" --timeout "$timeout" "${vm[@]}" \
			--quiet --log "$log" ${qemu[@]:+-- "${qemu[@]}"} </dev/null 2>&1 |
			tr -d '\r' |
			if $live; then tee "$GUEST_OUT" >&2; else cat >"$GUEST_OUT"; fi; then
			ps=("${PIPESTATUS[@]}")
		else
			ps=("${PIPESTATUS[@]}")
		fi
		# vm.sh's status first; a lost console (tr, tee or cat failing)
		# is a failure too, since the check lines may be incomplete.
		rc=${ps[0]}
		[[ $rc -ne 0 || "${ps[*]}" == "0 0 0" ]] || rc=4
		[[ $rc -eq 3 && $try -eq 1 ]] && tcg_stale_int3 "$log" || break
		cp "$log" "$log.stale-int3"
		echo "SKIP: $label/$k/stale-int3 (the first boot ran an int3 that" \
			"was no longer in memory, see $log.stale-int3; booted again)"
	done
	sed -n "s|^GUEST-PASS: |PASS: $label/$k/|p; s|^GUEST-FAIL: |FAIL: $label/$k/|p;
		s|^GUEST-SKIP: |SKIP: $label/$k/|p" "$GUEST_OUT"
	[[ -z $show ]] || grep -E "$show" "$GUEST_OUT" | sed "s|^|$k: |" >&2 || true
	if [[ $rc -eq 0 ]] && ! grep -q '^GUEST-PASS: ' "$GUEST_OUT"; then
		echo "FAIL: $label/$k/no-checks (the guest passed nothing, see $log)"
		return 1
	fi
	if [[ $rc -ne 0 ]]; then
		what=$(vm_exit_reason "$rc")
		echo "FAIL: $label/$k/guest ($what, vm.sh exit $rc, see $log)"
		return 1
	fi
}

# The QEMU machines with an edu PCI device (1234:11e8) that scripts/dma.sh
# runs and `make run DEMO=edu` boots, all under TCG.  edu masks the
# addresses it uses with its dma_mask property, so the driver's dma_bits
# (ksalloc_producer.ko) must say the same: 28 bits by default.
# shellcheck disable=SC2034 # for the scripts that source this
readonly EDU_MACHINES="plain64 mask28 iommu swiotlb numa"
readonly EDU_MASK64=dma_mask=0xffffffffffffffff

# edu_machine NAME: sets EDU_QEMU (QEMU arguments), EDU_MEM (MiB),
# EDU_APPEND (kernel command line) and EDU_CONF, the lines of
# /etc/ksalloc-dma.conf that tell scripts/guest/dma.sh what to expect
# (see there).  Returns 1 for an unknown NAME.
#
#   plain64  no IOMMU, a 64-bit mask: both streams
#   mask28   1 GiB and edu's 28-bit mask, so that plain pages lie above
#            it: device memory streams; a user-framed pool either streams
#            or its binding fails with ERANGE
#   iommu    q35 with an Intel IOMMU (before edu on the command line) and
#            intel_iommu=on, 28 bits: the IOMMU remaps every page
#   swiotlb  swiotlb=force, 64 bits: every transfer is bounced, so a
#            missing sync shows as a stale frame
#   numa     two nodes of 1 GiB, one CPU (and socket) each, edu behind a
#            pxb-pcie host bridge on node 1: the device memory comes from
#            node 1
# shellcheck disable=SC2034,SC2054 # globals for the caller; commas are QEMU's
edu_machine()
{
	local bits=64 user=pass create=pass node='' dmesg='' iommu=0 swiotlb=0

	EDU_MEM=1024 EDU_APPEND=''
	case $1 in
	plain64) EDU_QEMU=(-device "edu,$EDU_MASK64") ;;
	mask28)
		EDU_QEMU=(-device edu)
		bits=28 user=pass-or-erange
		;;
	iommu)
		EDU_QEMU=(-M q35 -device intel-iommu,intremap=off -device edu)
		EDU_APPEND=intel_iommu=on
		bits=28 iommu=1
		dmesg='DMAR: Intel\(R\) Virtualization Technology for Directed I/O'
		;;
	swiotlb)
		EDU_QEMU=(-device "edu,$EDU_MASK64")
		EDU_APPEND=swiotlb=force
		dmesg='software IO TLB: (mapped|area num)' swiotlb=1
		;;
	numa)
		EDU_MEM=2048
		# A socket per node: one LLC across two nodes makes 6.1 warn
		# (topology_sane).  QEMU merges this -smp with vm.sh's.
		EDU_QEMU=(-M q35 -smp 2,sockets=2
			-object memory-backend-ram,id=m0,size=1G
			-object memory-backend-ram,id=m1,size=1G
			-numa node,nodeid=0,cpus=0,memdev=m0
			-numa node,nodeid=1,cpus=1,memdev=m1
			-device pxb-pcie,id=pxb1,bus_nr=128,numa_node=1
			-device pcie-root-port,id=rp1,bus=pxb1,chassis=1
			-device "edu,bus=rp1,$EDU_MASK64")
		user=no node=1
		;;
	*) return 1 ;;
	esac
	EDU_CONF="MACHINE=$1
DMA_BITS=$bits
USER_STREAM=$user
CREATE=$create
NODE=$node
IOMMU=$iommu
SWIOTLB=$swiotlb
DMESG='$dmesg'"
}
