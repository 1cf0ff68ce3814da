#!/usr/bin/env bash
# cargo test and clippy for the userspace workspace (includes the protocol
# core shared with the module, its boringtun interop and property tests).
. "$(dirname "$0")/lib.sh"
cd "$WGRS_TOP/userspace"
say "cargo test --workspace"
cargo test --locked --workspace --release 2>&1
say "cargo test (wgrs-interop: the protocol core against boringtun)"
cargo test --locked --release --manifest-path wgrs-interop/Cargo.toml 2>&1
say "cargo clippy -- -D warnings (workspace and wgrs-interop)"
cargo clippy --locked --workspace --all-targets --release --quiet -- -D warnings
cargo clippy --locked --all-targets --release --quiet --manifest-path wgrs-interop/Cargo.toml -- -D warnings
say "cargo fmt --check (workspace and wgrs-interop; the shared core in rust/proto too)"
cargo fmt --check
cargo fmt --check --manifest-path wgrs-interop/Cargo.toml
