# Shared settings for wgrs scripts. Source it; do not run it.
# shellcheck shell=bash

set -euo pipefail

WGRS_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything that is expensive to make lives outside the checkout, so a fresh
# clone (as CI makes) reuses it.
WGRS_CACHE=${WGRS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wgrs}
KERNEL_SERIES=${KERNEL_SERIES:-7.2}
LLVM_SUFFIX=${LLVM_SUFFIX:--19}
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm${LLVM_SUFFIX}/lib}
export PATH="$HOME/.cargo/bin:$PATH"

mkdir -p "$WGRS_CACHE"

say() { printf '\033[1m[wgrs]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[wgrs] error:\033[0m %s\n' "$*" >&2; exit 1; }

# Run a long command, keeping its full log in a file and printing a heartbeat
# with the last log line every 30 s so that nobody stares at a silent terminal.
run_logged() {
	local log=$1; shift
	local start=$SECONDS
	"$@" >"$log" 2>&1 &
	local pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		local i
		for i in $(seq 30); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 1
		done
		if kill -0 "$pid" 2>/dev/null; then
			say "  ... $((SECONDS - start))s: $(tail -n 1 "$log" | cut -c1-100)"
		fi
	done
	if ! wait "$pid"; then
		tail -n 40 "$log" >&2
		die "command failed: $* (full log: $log)"
	fi
}

# Write an APT configuration that only this project uses, pointing at a copy of
# the first stanza of the host's own debian.sources with another suite. It never
# touches the host's sources: packages fetched this way are only downloaded.
private_apt_conf() { # SUITE DIR [TYPES]   (TYPES: deb by default, or deb-src)
	local suite=$1 dir=$2 types=${3:-deb}
	local src=/etc/apt/sources.list.d/debian.sources
	[ -r "$src" ] || die "cannot read $src to derive the $suite source"
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/parts"
	awk -v suite="$suite" -v types="$types" '
		/^[[:space:]]*$/ { if (seen) exit; next }
		/^Suites:/ { print "Suites: " suite; seen=1; next }
		/^Types:/ { print "Types: " types; seen=1; next }
		{ print; seen=1 }
	' "$src" >"$dir/parts/wgrs-$suite.sources"
	cat >"$dir/apt.conf" <<CONF
Dir::Etc::SourceList "/dev/null";
Dir::Etc::SourceParts "$dir/parts";
Dir::State::Lists "$dir/lists";
Dir::Cache "$dir/cache";
Acquire::Check-Valid-Until "false";
CONF
}
