#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# libksalloc and ksalloc-ctl on the host, without a kernel: make install
# into a scratch DESTDIR and every file where it belongs; the README's
# example compiled against the installed tree through pkg-config, shared
# and static; the library's sources against a fake device
# (libksalloc-fake-test), 64- and 32-bit; ksalloc-ctl list, list --json
# and top against a fake debugfs tree (KSALLOC_DEBUGFS), top under a pty
# (ksalloc-ptyrun), and the messages for a missing or unreadable
# directory.  Prints one "PASS: lib/<name>" or "FAIL: lib/<name>" line per
# check ("SKIP: lib/<name>" for one this machine cannot run); exit status
# 1 when one failed.
set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage()
{
	cat <<EOF_USAGE
usage: $PROG

Installs libksalloc and ksalloc-ctl with DESTDIR into a scratch directory,
compiles the README's example against it, and runs ksalloc-ctl list and
top against a fake debugfs tree.  Needs no kernel and no root.
EOF_USAGE
}

status=0
work=
o=

# check NAME COMMAND...: a check that passes when the command succeeds;
# its output goes to stderr.
check()
{
	local name=$1
	shift

	if "$@" >&2; then
		echo "PASS: lib/$name"
	else
		echo "FAIL: lib/$name"
		status=1
	fi
}

# ---- make install ----------------------------------------------------------

# VERSION of tools/Makefile, the one place that says it.
LIB_VERSION=$(make -s -C "$repo/tools" version)
readonly LIB_VERSION LIB_MAJOR=${LIB_VERSION%%.*}

install_tree()
{
	make -s -C "$repo/tools" O="$o" DESTDIR="$work/dest" PREFIX=/usr install &&
		make -s -C "$repo/tools" O="$o" "$o/ksalloc-ptyrun"
}

installed_files()
{
	local d=$work/dest/usr f absent=0

	for f in lib/libksalloc.a "lib/libksalloc.so.$LIB_VERSION" \
		include/libksalloc.h include/libksalloc/linux/ksalloc.h \
		lib/pkgconfig/libksalloc.pc bin/ksalloc-ctl \
		share/man/man1/ksalloc-ctl.1 share/man/man3/libksalloc.3 \
		share/man/man3/ksalloc_open.3 share/man/man3/ksalloc_strerror.3; do
		[[ -f $d/$f ]] || { echo "missing: /usr/$f"; absent=1; }
	done
	[[ -x $d/bin/ksalloc-ctl ]] || { echo "ksalloc-ctl is not executable"; absent=1; }
	return "$absent"
}

so_links()
{
	local d=$work/dest/usr/lib

	[[ $(readlink "$d/libksalloc.so") == "libksalloc.so.$LIB_MAJOR" ]] &&
		[[ $(readlink "$d/libksalloc.so.$LIB_MAJOR") == "libksalloc.so.$LIB_VERSION" ]] &&
		objdump -p "$d/libksalloc.so.$LIB_VERSION" |
			grep -q "SONAME *libksalloc.so.$LIB_MAJOR\$"
}

# The shared library exports the API (ksalloc_*) and nothing else.
so_exports()
{
	local d=$work/dest/usr/lib others

	others=$(nm -D --defined-only "$d/libksalloc.so" | awk '$2 == "T" { print $3 }' |
		grep -v '^ksalloc_' || true)
	[[ -z $others ]] || { echo "exported beyond the API: $others"; return 1; }
	nm -D --defined-only "$d/libksalloc.so" | grep -q ' T ksalloc_strerror@@LIBKSALLOC_'
}

# The installed uapi header's guard is the one headers_install writes, so
# that it and a system's <linux/ksalloc.h> never both define the ABI.
uapi_guard()
{
	local h=$work/dest/usr/include/libksalloc/linux/ksalloc.h

	grep -q '^#ifndef _LINUX_KSALLOC_H$' "$h" && ! grep -q _UAPI "$h" &&
		grep -q KSALLOC_IOC_GET_ID "$h"
}

# The version is VERSION everywhere: libksalloc.h's macros, the .pc file
# (pkg-config-version), the man pages and ksalloc-ctl --version.
version_once()
{
	local h=$work/dest/usr/include/libksalloc.h m=$work/dest/usr/share/man v

	v=$(printf '#include "%s"\nLIBKSALLOC_VERSION_MAJOR.LIBKSALLOC_VERSION_MINOR.LIBKSALLOC_VERSION_PATCH\n' \
		"$h" | gcc -E -P -I"$repo/include/uapi" -x c - | tail -n 1 | tr -d ' ')
	echo "VERSION $LIB_VERSION, libksalloc.h $v"
	[[ $v == "$LIB_VERSION" ]] &&
		[[ $("$work/dest/usr/bin/ksalloc-ctl" --version) == "ksalloc-ctl $LIB_VERSION" ]] &&
		grep -q "^\.TH .* \"ksalloc $LIB_VERSION\"" "$m/man1/ksalloc-ctl.1" &&
		grep -q "^\.TH .* \"libksalloc $LIB_VERSION\"" "$m/man3/libksalloc.3" &&
		! grep -rq '@[A-Z]*@' "$m" "$work/dest/usr/lib/pkgconfig"
}

# Under PREFIX, the .pc file's directories are relative to ${prefix}.
pc_dirs()
{
	local f=$work/dest/usr/lib/pkgconfig/libksalloc.pc

	grep -qx 'prefix=/usr' "$f" && grep -qx "libdir=\${prefix}/lib" "$f" &&
		grep -qx "includedir=\${prefix}/include" "$f"
}

# -Werror with WERROR=1 (the default), not with WERROR=0.
werror_knob()
{
	local on off

	on=$(make -n -B -C "$repo/tools" O="$work/o-n" lib)
	off=$(make -n -B -C "$repo/tools" O="$work/o-n" WERROR=0 lib)
	[[ $on == *-Werror* && $off != *-Werror* && $off == *-Wextra* ]]
}

# A distribution's install: its LDFLAGS (here -z now) on the shared
# library, WERROR=0, a LIBDIR outside PREFIX (absolute in the .pc), and
# STATIC=0: ksalloc-ctl uses the shared library.
install_distro()
{
	local d=$work/dest2 so ctl

	make -s -C "$repo/tools" O="$work/o2" DESTDIR="$d" PREFIX=/opt/ks LIBDIR=/usr/lib64 \
		STATIC=0 WERROR=0 LDFLAGS=-Wl,-z,now install || return 1
	so=$d/usr/lib64/libksalloc.so.$LIB_VERSION ctl=$d/opt/ks/bin/ksalloc-ctl
	readelf -d "$so" | grep -q BIND_NOW || { echo "no -z now: $so"; return 1; }
	objdump -p "$ctl" | grep -q "NEEDED *libksalloc.so.$LIB_MAJOR\$" ||
		{ echo "not linked against libksalloc.so: $ctl"; return 1; }
	[[ $(LD_LIBRARY_PATH=$d/usr/lib64 "$ctl" --version) == "ksalloc-ctl $LIB_VERSION" ]] &&
		grep -qx 'libdir=/usr/lib64' "$d/usr/lib64/pkgconfig/libksalloc.pc" &&
		grep -qx "includedir=\${prefix}/include" "$d/usr/lib64/pkgconfig/libksalloc.pc"
}

man_pages()
{
	local m=$work/dest/usr/share/man page

	for page in "$m/man1/ksalloc-ctl.1" "$m/man3/libksalloc.3"; do
		grep -q '^\.TH ' "$page" || { echo "$page: no .TH"; return 1; }
	done
	[[ $(cat "$m/man3/ksalloc_open.3") == '.so man3/libksalloc.3' ]]
}

# groff -ww (every warning) over the installed pages: nothing to say.
man_groff()
{
	local m=$work/dest/usr/share/man page

	for page in "$m/man1/ksalloc-ctl.1" "$m/man3/libksalloc.3"; do
		[[ -z $(groff -man -ww -z "$page" 2>&1) ]] ||
			{ groff -man -ww -z "$page"; return 1; }
	done
}

# ---- the library against a fake device ----------------------------------------

# fake_device FLAG...: libksalloc-fake-test (the library's sources with a
# fake ioctl() and mmap()) built with FLAGs, under UBSan where gcc has it.
fake_device()
{
	local bin=$work/fake-test$1 t=$repo/tools ubsan=(-fsanitize=undefined
		-fno-sanitize-recover=all)

	echo 'int main(void) { return 0; }' |
		gcc "$@" "${ubsan[@]}" -x c -o /dev/null - 2>/dev/null || ubsan=()
	gcc "$@" "${ubsan[@]}" -std=gnu11 -O2 -Wall -Wextra -Werror -I"$repo/include/uapi" \
		-I"$t/lib/ksalloc" -o "$bin" "$t/lib/ksalloc/tests/libksalloc-fake-test.c" \
		"$t/lib/ksalloc/ksalloc.c" "$t/lib/ksalloc/strerror.c" && "$bin"
}

have_m32()
{
	echo 'int main(void) { return 0; }' | gcc -m32 -x c -o /dev/null - 2>/dev/null
}

# ---- the README's example ----------------------------------------------------

extract_example()
{
	sed -n '/^<!-- libksalloc-example -->$/,/^<!-- \/libksalloc-example -->$/p' \
		"$repo/README.md" | sed '1,/^```c$/d; /^```$/,$d' >"$work/example.c"
	[[ -s $work/example.c ]] && grep -q 'libksalloc.h' "$work/example.c"
}

pc()
{
	PKG_CONFIG_PATH=$work/dest/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$work/dest \
		pkg-config "$@"
}

pkgconfig_version()
{
	[[ $(pc --modversion libksalloc) == "$LIB_VERSION" ]]
}

# run_example BINARY [ENV...]: it must run, and without /dev/ksalloc fail
# with the library's words for ENOENT.
run_example()
{
	local bin=$1 out rc=0
	shift

	out=$(env "$@" "$bin" 2>&1) || rc=$?
	echo "$bin: exit $rc: $out"
	if [[ -e /dev/ksalloc ]]; then
		return 0	# a host with the module: any answer of it will do
	fi
	[[ $rc -eq 1 && $out == *"no /dev/ksalloc (is ksalloc.ko loaded?)"* ]]
}

example_shared()
{
	# shellcheck disable=SC2046 # pkg-config's words are separate flags
	gcc -std=c11 -Wall -Wextra -Werror -o "$work/example-shared" "$work/example.c" \
		$(pc --cflags --libs libksalloc) &&
		objdump -p "$work/example-shared" | grep -q "NEEDED *libksalloc.so.$LIB_MAJOR\$" &&
		run_example "$work/example-shared" LD_LIBRARY_PATH="$work/dest/usr/lib"
}

example_static()
{
	# shellcheck disable=SC2046
	gcc -std=c11 -Wall -Wextra -Werror -static -o "$work/example-static" \
		"$work/example.c" $(pc --static --cflags --libs libksalloc) &&
		! objdump -p "$work/example-static" | grep -q 'NEEDED' &&
		run_example "$work/example-static"
}

# The header from C++, and alongside the uapi header it includes.
header_cxx()
{
	# shellcheck disable=SC2046
	printf '#include <libksalloc.h>\n#include <linux/ksalloc.h>\nint main() { return ksalloc_fd(nullptr); }\n' |
		g++ -std=c++11 -Wall -Wextra -Werror -fsyntax-only -x c++ - \
			$(pc --cflags libksalloc)
}

# ---- list and top on a fake debugfs tree -------------------------------------

# fake_alloc DIR ID FRAMES SIZE USED POOL_TYPE ALLOCS FLAGS [COMM]: one
# allocator directory.  FLAGS as the kernel prints them (%#x): 0, 0x1, ...
# The owner's comm is fake-ID, and COMM after it (any bytes but NUL and
# newline, as prctl(PR_SET_NAME) allows).
fake_alloc()
{
	local d=$1/$2

	mkdir -p "$d"
	printf 'flags %s\npool_type %s\nframes %s\nframe_size %s\nalignment 0\nstride %s\nbytes %s\n' \
		"$8" "$6" "$3" "$4" "$4" $(($3 * $4 + 4096)) >"$d/framing"
	printf 'state open\nallocated_frames %s\nfree_frames %s\ndispatch 0\nowner_pid 4242\nowner_comm fake-%s%s\n' \
		"$5" $(($3 - $5)) "$2" "${9:-}" >"$d/status"
	fake_stats "$d" "$7"
	printf 'cpu0 1\ncpu1 0\n' >"$d/caches"
	printf 'waiters 1\nwaiter 4243 120\n' >"$d/waiters"
	printf 'pollers 0\narmed 1\n' >"$d/pollers"
	printf 'user %s\nkernel 0\n' "$5" >"$d/holders"
}

# fake_stats DIR ALLOCS: the stats file, replaced in one rename.
fake_stats()
{
	printf 'allocs %s\nfrees %s\nalloc_failures 0\nwaits 0\nwait_timeouts 0\nhandoffs 0\npeak_allocated 1\nwaiters 1\n' \
		"$2" "$2" >"$1/stats.new"
	mv "$1/stats.new" "$1/stats"
}

fake_tree()
{
	local d=$work/dbg/ksalloc

	mkdir -p "$d" "$work/empty/ksalloc"
	printf 'allocators 2\ntotal_bytes 1000\nmax_total_bytes 268435456\nleft_bytes 268434456\n' \
		>"$d/budget"
	cp "$d/budget" "$work/empty/ksalloc/budget"
	fake_alloc "$d" 7 8 4096 3 0 100 0
	# A comm that is not UTF-8, with a control character.
	fake_alloc "$d" 12 16 1024 5 1 0 0x80000001 $'\xff\x01"\\'
	# An allocator whose directory went between readdir and the reads.
	ln -s "$work/gone" "$d/99"
}

ctl()
{
	KSALLOC_DEBUGFS=${dbg:-$work/dbg/ksalloc} "$o/ksalloc-ctl" "$@"
}

list_text()
{
	ctl list >"$work/list" || return 1
	cat "$work/list"
	[[ $(wc -l <"$work/list") -eq 3 ]] &&
		grep -Eq '^ +7 +open +nonpaged +8 +4096 +4096 +3 +5 +1 +0 +36864 +4242 +fake-7$' \
			"$work/list" &&
		grep -Eq '^ +12 +open +paged +16 +1024 +1024 +5 +11 ' "$work/list"
}

list_empty()
{
	[[ $(dbg=$work/empty/ksalloc ctl list | wc -l) -eq 1 ]] &&
		[[ $(dbg=$work/empty/ksalloc ctl list --json) == '[]' ]]
}

list_json()
{
	ctl list --json >"$work/json" &&
		"$o/ksalloc-ptyrun" --check-json <"$work/json" >"$work/flat" || return 1
	grep -qx '#=2' "$work/flat" && grep -qx '0.id=7' "$work/flat" &&
		grep -qx '0.frames=8' "$work/flat" && grep -qx '0.owner_comm=fake-7' "$work/flat" &&
		grep -qx '0.caches.cpu0=1' "$work/flat" && grep -qx '0.waiter.0.pid=4243' "$work/flat" &&
		grep -qx '1.id=12' "$work/flat" && grep -qx '1.pool_type=1' "$work/flat" &&
		grep -qx '0.flags=0' "$work/flat" && grep -qx '1.flags=2147483649' "$work/flat" ||
		return 1
	if command -v python3 >/dev/null; then
		python3 -c 'import json, sys; a = json.load(sys.stdin); assert a[1]["frames"] == 16' \
			<"$work/json"
	fi
}

# The comm of allocator 12 is fake-12, 0xff (not UTF-8), ^A, a quote and a
# backslash: JSON that the checker takes, with U+FFFD for the 0xff.
list_json_bytes()
{
	local want

	grep -c $'\xff' "$work/json" && return 1
	grep -F '"owner_comm":"fake-12\ufffd\u0001\"\\"' "$work/json" || return 1
	want=$'1.owner_comm=fake-12\xef\xbf\xbd\x01"\\'
	grep -qxF "$want" "$work/flat"
}

# The JSON checker must refuse what is not JSON, nor UTF-8.
json_checker_refuses()
{
	local bad

	for bad in '[' '[1,]' '{"a":1,}' '[01]' '"\x"' '[1] 2' '{"a" 1}' "['a']" \
		$'"\xff"' $'"\xc0\xaf"' $'"\xed\xa0\x80"' $'"\xf4\x90\x80\x80"' $'"\xe2\x82"'; do
		if printf '%s' "$bad" | "$o/ksalloc-ptyrun" --check-json >/dev/null 2>&1; then
			echo "accepted: $bad"
			return 1
		fi
	done
	printf '[{"a":[1,-2.5e3,"x\\u00e9\303\251\360\237\230\200"]},true,null]' |
		"$o/ksalloc-ptyrun" --check-json
}

# top for 1 s while allocator 7's counters grow by 50 every 0.1 s.
top_plain()
{
	local i pid esc

	esc=$(printf '\033')
	(
		for i in $(seq 1 20); do
			fake_stats "$work/dbg/ksalloc/7" $((100 + 50 * i))
			sleep 0.1
		done
	) &
	pid=$!
	ctl top --seconds 1 --interval 0.5 </dev/null >"$work/top" || { wait "$pid"; return 1; }
	wait "$pid"
	cat "$work/top"
	[[ $(grep -c '^ksalloc-ctl top - .*allocators 2' "$work/top") -eq 3 ]] &&
		! grep -q "$esc" "$work/top" &&
		awk '$1 == 7 { r7 = $5 } $1 == 12 { r12 = $5 }
		     END { exit !(r7 + 0 > 0 && r12 == "0.0") }' "$work/top"
}

top_pty_q()
{
	KSALLOC_DEBUGFS=$work/dbg/ksalloc "$o/ksalloc-ptyrun" --timeout 10 --check-termios \
		--expect 'HANDOFFS/s' --expect 'fake-12' --send q -- "$o/ksalloc-ctl" top --interval 0.2 \
		>"$work/pty" 2>&1
	local rc=$?
	cat "$work/pty"
	[[ $rc -eq 0 ]] && grep -qx 'ptyrun: exit 0' "$work/pty" &&
		grep -qx 'ptyrun: terminal restored' "$work/pty"
}

# ptyrun_top LOG PTYRUN-ARGS...: ksalloc-ptyrun (10 s at most, the
# terminal checked) on the fake tree, from $work (a core dump stays
# there); its output in LOG, also on stderr, the command's in LOG.out.
# Returns its status.
ptyrun_top()
{
	local log=$1 rc=0
	shift

	(cd "$work" && ulimit -c 0 &&
		KSALLOC_DEBUGFS=$work/dbg/ksalloc "$o/ksalloc-ptyrun" --timeout 10 \
			--check-termios --log "$log.out" "$@") >"$log" 2>&1 || rc=$?
	cat "$log"
	return "$rc"
}

# top | head, its keys from the terminal: the reader goes, and top dies of
# SIGPIPE with the terminal restored; with SIGPIPE ignored, the write
# error ends it with status 1.
top_pipe()
{
	local trap=$1 want=$2

	# shellcheck disable=SC2016 # for the inner shell
	ptyrun_top "$work/pty-pipe" --expect 'top exit [0-9]+' -- sh -c \
		"$trap"'{ "$0" top --interval 0.1; echo "top exit $?" >&2; } | head -n 1 >/dev/null' \
		"$o/ksalloc-ctl" &&
		grep -aEq "^top exit ${want}([^0-9]|$)" "$work/pty-pipe.out" &&
		grep -qx 'ptyrun: terminal restored' "$work/pty-pipe"
}

# ^\ (SIGQUIT) ends top like ^C: the terminal restored, then the signal.
top_pty_quit()
{
	local rc=0

	ptyrun_top "$work/pty-quit" --expect 'HANDOFFS/s' --send '\x1c' -- \
		"$o/ksalloc-ctl" top --interval 0.2 || rc=$?
	[[ $rc -eq 131 ]] && grep -qx 'ptyrun: signal 3' "$work/pty-quit" &&
		grep -qx 'ptyrun: terminal restored' "$work/pty-quit"
}

missing_message()
{
	local out rc=0

	out=$(dbg=$work/dbg/none ctl list 2>&1) || rc=$?
	echo "$out"
	[[ $rc -eq 1 && $out == *"debugfs is not mounted on $work/dbg"* ]]
}

# Not root: below a directory of mode 0, which only root may enter (its
# owner may not either); run as nobody when this is root.
not_root_message()
{
	local out

	mkdir -p "$work/private/ksalloc"
	chmod 0 "$work/private"
	if [[ $EUID -ne 0 ]]; then
		out=$(dbg=$work/private/ksalloc ctl list 2>&1) && return 1
	else
		KSALLOC_DEBUGFS=$work/private/ksalloc "$o/ksalloc-ptyrun" --uid 65534 \
			--log "$work/noroot" -- "$o/ksalloc-ctl" list && return 1
		out=$(cat "$work/noroot")
	fi
	echo "$out"
	[[ $out == *"permission denied: reading debugfs needs root"* ]]
}

cleanup()
{
	# The not-root check's directory, which not even its owner may enter.
	[[ ! -d $work/private ]] || chmod 0700 "$work/private"
	rm -rf "$work"
}

main()
{
	case ${1:-} in
	-h | --help) usage; return 0 ;;
	'') ;;
	*) usage >&2; exit 2 ;;
	esac
	need pkg-config:pkg-config gcc:gcc g++:g++ objdump:binutils readelf:binutils

	work=$(mktemp -d)
	trap cleanup EXIT
	chmod 0755 "$work"	# nobody runs ksalloc-ctl from here
	o=$work/o

	check install install_tree
	check install-files installed_files
	check shared-library-links so_links
	check shared-library-exports so_exports
	check uapi-header-guard uapi_guard
	check version-once version_once
	check pkg-config-dirs pc_dirs
	check werror-knob werror_knob
	check install-distro install_distro
	check man-pages man_pages
	if command -v groff >/dev/null; then
		check man-pages-groff man_groff
	else
		echo "SKIP: lib/man-pages-groff (no groff: groff-base)"
	fi
	check pkg-config-version pkgconfig_version
	check readme-example-extracted extract_example
	check readme-example-shared example_shared
	check readme-example-static example_static
	check header-c++ header_cxx
	check fake-device fake_device -m64
	if have_m32; then
		check fake-device-32 fake_device -m32
	else
		echo "SKIP: lib/fake-device-32 (gcc cannot build 32-bit: gcc-multilib)"
	fi

	fake_tree
	check ctl-list list_text
	check ctl-list-empty list_empty
	check ctl-list-json list_json
	check ctl-list-json-not-utf8 list_json_bytes
	check json-checker-refuses json_checker_refuses
	check ctl-top-plain top_plain
	check ctl-top-pty-q top_pty_q
	check ctl-top-pipe-sigpipe top_pipe '' 141
	check ctl-top-pipe-sigpipe-ignored top_pipe 'trap "" PIPE; ' 1
	check ctl-top-pty-sigquit top_pty_quit
	check ctl-missing-message missing_message
	check ctl-not-root-message not_root_message
	return "$status"
}

main "$@"
