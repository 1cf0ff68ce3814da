#!/usr/bin/env bash
# `make check`: install what is missing, build the kernel (cached), the VM
# root (cached), the module and userspace, then run every test: cargo tests
# and clippy, fuzz smoke runs, and the kselftest + KUnit suite in the VM.
# Keeps going after a failure so one run shows everything that is wrong.
. "$(dirname "$0")/lib.sh"

S="$WGRS_TOP/scripts"
out="$WGRS_TOP/out"
mkdir -p "$out"
declare -a names=() results=() times=()
failed=0

step() { # name cmd...
	local name=$1 start=$SECONDS rc
	shift
	say "=== $name"
	set +e
	"$@"
	rc=$?
	set -e
	names+=("$name")
	times+=($((SECONDS - start)))
	if [ $rc = 0 ]; then
		results+=(ok)
	else
		results+=("FAILED ($rc)")
		failed=1
	fi
	return $rc
}
skip_step() { names+=("$1"); results+=("not run: $2"); times+=(0); failed=1; }

# How much CPU this host gives: a fixed loop, alone and as two at once (on
# two free cores both take about the same time). The VM suites run on TCG and
# scale with it; the summary prints it so that a slow run can be told apart
# from a slow change.
calibrate() {
	local t0 t1 t2
	loop() { awk 'BEGIN { for (i = 0; i < 2e7; i++) s += i }'; }
	secs() { printf '%d.%02d s' $(($1 / 1000000000)) $(($1 / 10000000 % 100)); }
	t0=$(date +%s%N)
	loop
	t1=$(date +%s%N)
	loop & loop
	wait
	t2=$(date +%s%N)
	echo "$(secs $((t1 - t0))) alone, $(secs $((t2 - t1))) two at once"
}
host_cpu="$(nproc) CPUs, loop $(calibrate)"
total=$SECONDS
step "host setup" "$S/setup-host.sh" || true
kernel_ok=1 module_ok=1 user_ok=1
step "kernel (cached after the first run)" "$S/build-kernel.sh" >/dev/null || kernel_ok=
step "VM root (cached after the first run)" "$S/make-rootfs.sh" >/dev/null || kernel_ok=
step "gate family code matches its YNL spec" "$S/gen-netlink.sh" --check || true
step "documentation parses (reStructuredText)" "$S/check-docs.sh" || true
if [ -n "$kernel_ok" ]; then
	step "wgrs.ko" "$S/build-module.sh" >/dev/null || module_ok=
else
	skip_step "wgrs.ko" "no kernel"; module_ok=
fi
step "userspace build" "$S/build-userspace.sh" || user_ok=
step "interop peers (boringtun-cli, cached)" "$S/build-tools.sh" >/dev/null || true
step "userspace tests + clippy" bash -c "'$S/test-userspace.sh' 2>&1 | tee '$out/cargo-test.log'; exit \${PIPESTATUS[0]}" || true
step "fuzz smoke (10 s per target)" "$S/fuzz.sh" 10 || true
if [ -n "$module_ok" ] && [ -n "$user_ok" ]; then
	step "kselftest + KUnit in the VM" "$S/vm-tests.sh" || true
else
	skip_step "kselftest + KUnit in the VM" "module or userspace did not build"
fi

# Test-case totals: cargo's per-binary results and the KTAP cases.
cargo_pass=0 cargo_fail=0
if [ -f "$out/cargo-test.log" ]; then
	while read -r p f; do
		cargo_pass=$((cargo_pass + p)) cargo_fail=$((cargo_fail + f))
	done < <(sed -nE 's/^test result: [a-zA-Z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/p' "$out/cargo-test.log")
fi
ktap_pass=0 ktap_fail=0 ktap_skip=0
if [ -f "$out/vm-tests/ktap.log" ]; then
	read -r ktap_pass ktap_fail ktap_skip < <(awk '
		/^  ok [0-9]+ .*# SKIP/ { s++; next }
		/^  ok [0-9]+ / { p++; next }
		/^  not ok [0-9]+ / { f++ }
		END { print p + 0, f + 0, s + 0 }' "$out/vm-tests/ktap.log")
fi

echo
say "summary (total $((SECONDS - total)) s)"
for i in "${!names[@]}"; do
	printf '  %-40s %-28s %5ss\n' "${names[i]}" "${results[i]}" "${times[i]}"
done
printf '  host at the start: %s; at the end: %s\n' "$host_cpu" "$(calibrate)"
printf '  cargo test cases: %d passed, %d failed\n' "$cargo_pass" "$cargo_fail"
printf '  VM test cases (kselftest + KUnit suites): %d passed, %d failed, %d skipped\n' \
	"$ktap_pass" "$ktap_fail" "$ktap_skip"
echo "check: $((cargo_pass + ktap_pass)) passed, $((cargo_fail + ktap_fail)) failed, $ktap_skip skipped"
# A skipped case did not pass.
[ "$ktap_skip" -eq 0 ] && [ "$cargo_fail" -eq 0 ] && [ "$ktap_fail" -eq 0 ] || failed=1
exit $failed
