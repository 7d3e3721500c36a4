# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers shared by the scripts: sourced, never run.  The sourcing script
# sets PROG (its name, for messages), and may set DIE_STATUS (the exit
# status of die(), 1 by default).

msg()
{
	printf '%s: %s\n' "$PROG" "$*" >&2
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
