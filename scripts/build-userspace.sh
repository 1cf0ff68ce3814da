#!/usr/bin/env bash
# Build the userspace workspace (wgrs CLI, wgrs-gated, libraries), release.
. "$(dirname "$0")/lib.sh"
cd "$WGRS_TOP/userspace"
say "cargo build --release (userspace workspace)"
cargo build --release --locked --workspace --quiet
