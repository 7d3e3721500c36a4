#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# initramfs.sh - pack a busybox initramfs that runs one test script as /init.
#
# The archive (gzip'd newc cpio, owned by root, entries sorted) holds:
#
#   /bin/busybox          the host's busybox-static, with a symlink for every
#                         applet at the path "busybox --list-full" gives
#   /bin/ksalloc-result   the result helper described in scripts/vm.sh
#   /dev /proc /sys /tmp /run /root /mnt   empty mount points (and
#                         /dev/console, /dev/null when packed as root)
#   /init                 the --init script (mode 0755)
#   /lib/ksalloc/guest.sh what the /init scripts share (scripts/guest/lib.sh)
#   /lib/ksalloc/kernel-reports   the expression of scripts/kernel-reports
#                         on one line: a kernel log line matching it is a
#                         report of one of the kernel's checkers
#   --file SRC:DEST       each extra file (or directory) at DEST
#   --libs-of BINARY      the shared libraries BINARY loads, per ldd(1), at
#                         the host paths, so a dynamic binary runs as is
#
# /init is run by the kernel with nothing mounted; the --help shows a
# minimal script.  When /init exits the kernel panics, which scripts/vm.sh
# reports as a crash: end with ksalloc-result, which powers the VM off.

set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage()
{
	cat <<'EOF'
Usage: initramfs.sh -o OUT.cpio.gz --init INIT_SCRIPT
                    [--file SRC:DEST]... [--libs-of BINARY]...

Build a gzip'd newc initramfs from busybox-static, INIT_SCRIPT as /init,
and the extra files.

  -o, --output FILE    the archive to write
  --init SCRIPT        the script the kernel runs as /init
  --file SRC:DEST      copy SRC (file or directory) to DEST in the image;
                       DEST ending in / keeps SRC's name (may repeat)
  --libs-of BINARY     add the shared libraries BINARY needs, found with
                       ldd (may repeat; a static binary adds nothing)
  -h, --help           this text

Every busybox applet is linked under /bin, /sbin, /usr/bin or /usr/sbin,
and /bin/ksalloc-result reports to scripts/vm.sh:

  ksalloc-result PASS               print "KSALLOC-RESULT: PASS", power off
  ksalloc-result FAIL <reason...>   print "KSALLOC-RESULT: FAIL <reason>", power off

A minimal INIT_SCRIPT:

  #!/bin/sh
  mount -t proc proc /proc
  mount -t sysfs sysfs /sys
  mount -t devtmpfs devtmpfs /dev
  insmod /lib/modules/ksalloc.ko || ksalloc-result FAIL insmod
  ...
  ksalloc-result PASS
EOF
}

# Print the path of a statically linked busybox, installing busybox-static
# if the host has none (the dynamic "busybox" package would not run in an
# initramfs without its libraries).
static_busybox()
{
	local bb=/bin/busybox

	if [[ ! -x $bb ]] || ldd "$bb" >/dev/null 2>&1; then
		apt_install busybox-static
	fi
	ldd "$bb" >/dev/null 2>&1 && die "$bb is not statically linked"
	echo "$bb"
}

# The guest half of the result convention of scripts/vm.sh.
write_result_helper()
{
	cat >"$1" <<'EOF'
#!/bin/sh
# ksalloc-result PASS | FAIL <reason...>
#
# Report the test result to scripts/vm.sh and power the VM off.  The
# marker line on the console is the result; should the power-off fail,
# the isa-debug-exit port (0xf4) stops QEMU: 0x10 for PASS, 0x11 for FAIL.
case "$1" in
PASS)	line="KSALLOC-RESULT: PASS"; code='\020' ;;
FAIL)	shift; line="KSALLOC-RESULT: FAIL ${*:-unspecified}"; code='\021' ;;
*)	echo "usage: ksalloc-result PASS | FAIL <reason...>" >&2; exit 2 ;;
esac
# One write to the console, from the start of a line.
echo
echo "$line"
sync
poweroff -f
[ -c /dev/port ] || mknod /dev/port c 1 4 2>/dev/null
printf "$code" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
sleep 10
exit 1
EOF
	chmod 0755 "$1"
}

# copy_in STAGE SRC DEST: copy a file or directory into the image.
copy_in()
{
	local stage=$1 src=$2 dest=$3

	[[ -e $src ]] || die "--file: no such file: $src"
	[[ $dest == /* ]] || die "--file: destination must be absolute: $dest"
	[[ $dest == */ ]] && dest+=${src##*/}

	mkdir -p "$stage$(dirname "$dest")"
	# Never write through an applet symlink into /bin/busybox.
	rm -rf "${stage:?}$dest"
	cp -a --no-preserve=ownership "$src" "$stage$dest"
}

# add_libs STAGE BINARY: copy in what the dynamic loader needs for BINARY.
add_libs()
{
	local stage=$1 bin=$2 lib

	[[ -e $bin ]] || die "--libs-of: no such file: $bin"
	# "ldd" fails on a static binary: nothing to add then.
	ldd "$bin" >/dev/null 2>&1 || return 0

	# Lines look like "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)"
	# or "/lib64/ld-linux-x86-64.so.2 (0x...)"; vdso has no path.
	while IFS= read -r lib; do
		[[ -e $stage$lib ]] && continue
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib"
	done < <(ldd "$bin" | awk '
		$2 == "=>" && $3 ~ /^\// { print $3 }
		$1 ~ /^\// { print $1 }')
}

# base_image STAGE BUSYBOX: what every image holds: the mount points,
# busybox and its applets, ksalloc-result and /lib/ksalloc.
base_image()
{
	local stage=$1 busybox=$2

	mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,mnt,etc}
	chmod 1777 "$stage/tmp"
	# The kernel opens /dev/console before /init runs; its built-in
	# initramfs has one too, so without root the nodes are not needed.
	if [[ $EUID -eq 0 ]]; then
		mknod -m 600 "$stage/dev/console" c 5 1
		mknod -m 666 "$stage/dev/null" c 1 3
	fi

	cp "$busybox" "$stage/bin/busybox"
	# One symlink per applet, made by one process (perl is Essential in
	# Debian) rather than several hundred ln(1)s.
	"$busybox" --list-full | (cd "$stage" && perl -nle '
		next if $_ eq "bin/busybox";
		symlink("/bin/busybox", $_) or die "$_: $!\n";')
	write_result_helper "$stage/bin/ksalloc-result"
	# What the /init scripts of scripts/guest/ share.
	mkdir -p "$stage/lib/ksalloc"
	cp "$here/guest/lib.sh" "$stage/lib/ksalloc/guest.sh"
	# The kernel-report regexp of scripts/kernel-reports, as one line.
	printf '%s\n' "$KERNEL_REPORTS_RE" >"$stage/lib/ksalloc/kernel-reports"
}

main()
{
	local out='' init='' stage busybox arg
	local -a files=() libs_of=()

	while [[ $# -gt 0 ]]; do
		case $1 in
		-h | --help)
			usage
			return 0
			;;
		-o | --output)
			[[ $# -ge 2 ]] || die "$1 needs an argument"
			out=$2
			shift
			;;
		--init)
			[[ $# -ge 2 ]] || die "$1 needs an argument"
			init=$2
			shift
			;;
		--file)
			[[ $# -ge 2 ]] || die "$1 needs an argument"
			[[ $2 == *:* ]] || die "--file wants SRC:DEST, got '$2'"
			files+=("$2")
			shift
			;;
		--libs-of)
			[[ $# -ge 2 ]] || die "$1 needs an argument"
			libs_of+=("$2")
			shift
			;;
		*)
			usage >&2
			die "unknown argument '$1'"
			;;
		esac
		shift
	done
	[[ -n $out ]] || die "no -o OUT.cpio.gz (try --help)"
	[[ -n $init ]] || die "no --init SCRIPT (try --help)"
	[[ -f $init ]] || die "--init: no such file: $init"

	need cpio:cpio gzip:gzip ldd:libc-bin
	busybox=$(static_busybox)

	stage=$(mktemp -d "${TMPDIR:-/tmp}/ksalloc-initramfs.XXXXXX")
	# shellcheck disable=SC2064 # expand now: stage is local
	trap "rm -rf '$stage'" EXIT

	base_image "$stage" "$busybox"
	for arg in "${files[@]}"; do
		copy_in "$stage" "${arg%:*}" "${arg##*:}"
	done
	for arg in "${libs_of[@]}"; do
		add_libs "$stage" "$arg"
	done

	rm -f "$stage/init"
	cp "$init" "$stage/init"
	chmod 0755 "$stage/init"

	# Sorted names, root-owned, no host inode numbers or times: the same
	# inputs give the same archive.
	find "$stage" -exec touch -h -d "@${SOURCE_DATE_EPOCH:-0}" {} +
	mkdir -p "$(dirname "$out")"
	(cd "$stage" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0 --reproducible) |
		gzip -n >"$out.tmp"
	mv "$out.tmp" "$out"
	msg "wrote $out ($(du -h "$out" | cut -f1))"
}

main "$@"
