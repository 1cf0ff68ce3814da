#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run every cargo-fuzz target of userspace/wgrs-proto for N seconds each.
#   scripts/fuzz.sh [seconds-per-target]   (default 10: the `make check` smoke run)
# Installs the nightly toolchain and cargo-fuzz when missing. Corpora,
# artifacts and logs live outside the checkout, in $WGRS_FUZZ_DIR
# (default ~/.cache/wgrs/fuzz). Prints one line per target; exits non-zero
# if any target crashes (the crash input is kept in the artifacts dir).
. "$(dirname "$0")/lib.sh"

secs="${1:-10}"
case "$secs" in ''|*[!0-9]*) echo "usage: $0 [seconds-per-target]" >&2; exit 2;; esac

fuzz_crate="$WGRS_TOP/userspace/wgrs-proto/fuzz"
work="${WGRS_FUZZ_DIR:-$WGRS_CACHE/fuzz}"
nice_cmd=(nice -n 19)

mkdir -p "$work/logs"
if ! rustup toolchain list | grep -q '^nightly'; then
    say "fuzz: installing the nightly toolchain (cargo-fuzz needs it)"
    run_logged "$work/logs/nightly-install.log" rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    say "fuzz: cargo install cargo-fuzz (a few minutes, once)"
    run_logged "$work/logs/cargo-fuzz-install.log" "${nice_cmd[@]}" cargo install --locked cargo-fuzz
fi

cd "$fuzz_crate"
targets=$(cargo +nightly fuzz list)

say "fuzz: building targets"
run_logged "$work/logs/build.log" "${nice_cmd[@]}" cargo +nightly fuzz build

failed=0
for t in $targets; do
    corpus="$work/corpus/$t"
    artifacts="$work/artifacts/$t"
    log="$work/logs/$t.log"
    mkdir -p "$corpus" "$artifacts"
    status=ok
    if ! "${nice_cmd[@]}" cargo +nightly fuzz run "$t" "$corpus" -- \
            -max_total_time="$secs" -artifact_prefix="$artifacts/" \
            -print_final_stats=1 -max_len=2048 >"$log" 2>&1; then
        status=CRASH
        failed=1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
    printf 'fuzz: %-14s %-5s execs=%s cov=%s corpus=%s\n' \
        "$t" "$status" "${execs:-?}" "${cov:-?}" "$(find "$corpus" -type f | wc -l)"
    if [ "$status" != ok ]; then
        grep -m 5 -E 'panicked|ERROR|Test unit written' "$log" | sed 's/^/    /' || true
        echo "    log: $log" 
    fi
done
exit "$failed"
