#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the build into a temporary DESTDIR and checks the layout, man pages, completion and unit.
#
# usage: check_install.sh BUILD_DIR SOURCE_DIR
# Exits 77 (skipped) with a reason when groff/man are missing; systemd-analyze is optional.
set -uo pipefail

build="$1"
src="$2"
fail=0
bad() { echo "FAIL: $*"; fail=1; }

have_man=0
command -v man >/dev/null && have_man=1
if ! command -v groff >/dev/null; then
	echo "SKIP: groff is not installed (apt-get install groff-base man-db)"
	exit 77
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if ! DESTDIR="$tmp" cmake --install "$build" --prefix /usr >"$tmp.log" 2>&1; then
	cat "$tmp.log"
	rm -f "$tmp.log"
	echo "FAIL: cmake --install"
	exit 1
fi
rm -f "$tmp.log"
root="$tmp/usr"

# 1. The layout.
for f in bin/tracectl sbin/tracectl-agent share/tracectl/dev-pki.sh; do
	[[ -x "$root/$f" ]] || bad "missing executable usr/$f"
done
for f in share/man/man1/tracectl.1 share/man/man8/tracectl-agent.8 \
	lib/systemd/system/tracectl-agent.service \
	share/bash-completion/completions/tracectl share/bash-completion/completions/tracectl-agent \
	share/doc/tracectl/examples/agent.env.example; do
	[[ -f "$root/$f" ]] || bad "missing usr/$f"
done
"$root/bin/tracectl" --version >/dev/null || bad "installed tracectl --version"
"$root/sbin/tracectl-agent" --version >/dev/null || bad "installed tracectl-agent --version"

# overstrike (x\bx) and SGR escapes out, without needing col(1)
plain() { sed -e 's/.\x08//g' -e 's/\x1b\[[0-9;]*m//g'; }

# 2. Man pages render without warnings and document every option and exit status.
check_page() { # PAGE BINARY
	local page="$1" bin="$2" text opt code warn
	warn="$(groff -man -ww -z "$page" 2>&1)"
	[[ -z "$warn" ]] || bad "groff warnings in ${page##*/}: $warn"
	if [[ $have_man -eq 1 ]]; then
		warn="$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)"
		[[ -z "$warn" ]] || bad "man warnings in ${page##*/}: $warn"
		text="$(MANWIDTH=200 man -l "$page" 2>/dev/null | plain)"
	else
		text="$(groff -man -Tascii -rLL=200n "$page" 2>/dev/null | plain)"
	fi
	for opt in $("$bin" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
		grep -qF -- "$opt" <<<"$text" || bad "${page##*/} does not document $opt (from ${bin##*/} --help)"
	done
	# exit codes: "  N  text" lines after "Exit status" in --help, or "Exit status: 0 ..., 1 ..."
	for code in $("$bin" --help | sed -n '/^Exit status/,$p' | grep -oE '(^  |, |: )[0-9]+ ' | grep -oE '[0-9]+'); do
		sed -n '/^EXIT STATUS/,/^[A-Z]/p' <<<"$text" | grep -qE "^ +$code( |$)" ||
			bad "${page##*/} EXIT STATUS does not list $code (from ${bin##*/} --help)"
	done
}
check_page "$root/share/man/man1/tracectl.1" "$root/bin/tracectl"
check_page "$root/share/man/man8/tracectl-agent.8" "$root/sbin/tracectl-agent"

# 3. Bash completion parses and knows every catalog probe.
comp="$root/share/bash-completion/completions/tracectl"
bash -n "$comp" || bad "bash -n $comp"
got="$(bash -c 'source "$1"; COMP_WORDS=(tracectl attach h1 ""); COMP_CWORD=3; _tracectl; echo "${COMPREPLY[*]}"' _ "$comp")"
for d in "$src"/probes/*/; do
	d="${d%/}"
	p="${d##*/}"
	[[ " $got " == *" $p "* ]] || bad "completion does not offer probe $p (got: $got)"
done

# 4. The systemd unit points at the installed agent and passes systemd's own check.
unit="$root/lib/systemd/system/tracectl-agent.service"
grep -q '^ExecStart=/usr/sbin/tracectl-agent ' "$unit" || bad "ExecStart is not /usr/sbin/tracectl-agent: $(grep ^ExecStart= "$unit")"
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$tmp/verify"
	sed "s|^ExecStart=/usr/sbin/tracectl-agent |ExecStart=$root/sbin/tracectl-agent |" "$unit" >"$tmp/verify/tracectl-agent.service"
	out="$(systemd-analyze verify --man=no "$tmp/verify/tracectl-agent.service" 2>&1)" ||
		bad "systemd-analyze verify: $out"
	[[ -z "$out" ]] || bad "systemd-analyze verify: $out"
else
	echo "note: systemd-analyze not installed: unit syntax not verified"
fi

[[ $fail -eq 0 ]] && echo "install layout, man pages, completion and unit OK"
exit $fail
