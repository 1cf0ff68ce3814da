#!/usr/bin/env bash
# Generate the wgrs_gate family's kernel policies and ops table and its UAPI
# header from Documentation/netlink/specs/wgrs_gate.yaml with the kernel's
# own YNL generator (tools/net/ynl/pyynl/ynl_gen_c.py from the kernel source
# we build against). The results are committed under rust/sys/gen/; with
# --check, regenerate into a temporary directory and fail if they differ.
. "$(dirname "$0")/lib.sh"

check=
[ "${1:-}" = --check ] && check=1
src=$("$WGRS_TOP/scripts/fetch-kernel.sh")
gen="$src/tools/net/ynl/pyynl/ynl_gen_c.py"
[ -f "$gen" ] || die "no YNL generator at $gen"
# Debian's python3-yaml and python3-jsonschema (setup-host.sh) are all the
# generator needs; it validates the spec against the kernel's schema.
py=python3
"$py" -c 'import yaml, jsonschema' 2>/dev/null ||
	die "the YNL generator needs python3-yaml and python3-jsonschema (scripts/setup-host.sh installs them)"

# The generator finds the schema next to the spec's directory, and names
# the spec relative to the tree root it finds by walking up to a
# MAINTAINERS file (without one it loops forever at "/"): lay out a small
# tree.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/Documentation/netlink/specs" "$tmp/out/uapi/linux"
: >"$tmp/MAINTAINERS"
cp "$src"/Documentation/netlink/*.yaml "$tmp/Documentation/netlink/"
cp "$WGRS_TOP/Documentation/netlink/specs/wgrs_gate.yaml" "$tmp/Documentation/netlink/specs/"
spec="$tmp/Documentation/netlink/specs/wgrs_gate.yaml"
(
	cd "$(dirname "$gen")"
	timeout 300 "$py" ynl_gen_c.py --mode kernel --header --spec "$spec" -o "$tmp/out/wgrs_gate_nl.h"
	timeout 300 "$py" ynl_gen_c.py --mode kernel --source --spec "$spec" -o "$tmp/out/wgrs_gate_nl.c"
	timeout 300 "$py" ynl_gen_c.py --mode uapi --header --spec "$spec" -o "$tmp/out/uapi/linux/wgrs_gate.h"
) >"$tmp/gen.log" 2>&1 || { cat "$tmp/gen.log" >&2; die "ynl_gen_c.py failed"; }

dst="$WGRS_TOP/rust/sys/gen"
if [ -n "$check" ]; then
	if ! diff -ru "$dst" "$tmp/out" >&2; then
		die "rust/sys/gen is out of date with the YNL spec: run scripts/gen-netlink.sh"
	fi
	say "rust/sys/gen matches Documentation/netlink/specs/wgrs_gate.yaml"
else
	rm -rf "$dst"
	mkdir -p "$dst"
	cp -r "$tmp/out/." "$dst/"
	say "generated $(cd "$dst" && find . -type f | sort | tr '\n' ' ')"
fi
