#!/usr/bin/env bash
# Other WireGuard implementations for the interop suite that the VM root
# cannot have from Debian: boringtun-cli, built from crates.io into the
# cache (about 3 minutes the first time). The VM sees the cache's tools/
# directory at /mnt/tools. Prints that directory.
. "$(dirname "$0")/lib.sh"

BORINGTUN_VERSION=0.6.0
tools="$WGRS_CACHE/tools"
bt="$tools/boringtun-$BORINGTUN_VERSION"
mkdir -p "$tools"
if [ ! -x "$bt/bin/boringtun-cli" ]; then
	say "cargo install boringtun-cli $BORINGTUN_VERSION (about 3 minutes; log: $WGRS_CACHE/boringtun-install.log)"
	rm -rf "$bt"
	run_logged "$WGRS_CACHE/boringtun-install.log" \
		cargo install --locked boringtun-cli --version "=$BORINGTUN_VERSION" --root "$bt"
	rm -f "$bt/.crates.toml" "$bt/.crates2.json"
fi
# One name for the suite, whatever the version.
ln -sfn "boringtun-$BORINGTUN_VERSION/bin/boringtun-cli" "$tools/boringtun-cli"
echo "$tools"
