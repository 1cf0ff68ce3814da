#!/usr/bin/env bash
# `make bench`: wgrs.ko against the in-tree C wireguard.ko in one VM boot of
# the release kernel (the test kernel's configuration without the debug
# options), 2 vCPUs, the two drivers alternating over several rounds
# (tools/testing/selftests/wgrs/bench.sh), under the wgrs_insn QEMU plugin
# that counts guest instructions (scripts/build-plugin.sh). Prints, for every
# figure, the C median, the wgrs median, the ratio wgrs/C and the spread,
# the gate's cost, the in-module microbenchmarks and a kernel profile of each
# driver (scripts/bench_report.py), and writes it all to
# Documentation/performance.rst.
#
#   scripts/bench.sh [ROUNDS [SECONDS]]        (default 5 rounds of 10 s)
#
# wgrs.ko is built against the release kernel in a directory of its own
# under the cache, so the debug build in the checkout stays as it is.
# WGRS_BENCH_SRC=DIR builds it from another tree's Kbuild and rust/ (a
# baseline: `git worktree add DIR REV`); the report says which.
. "$(dirname "$0")/lib.sh"

rounds=${1:-5} secs=${2:-10}
[[ $rounds =~ ^[1-9][0-9]*$ && $secs =~ ^[1-9][0-9]*$ ]] ||
	die "usage: scripts/bench.sh [ROUNDS [SECONDS]] (positive integers)"
export WGRS_KERNEL=release

say "release kernel (built and cached apart from the debug one; ~20 min the first time)"
kdir=$("$WGRS_TOP/scripts/build-kernel.sh" release)
"$WGRS_TOP/scripts/make-rootfs.sh" >/dev/null
"$WGRS_TOP/scripts/build-userspace.sh" >/dev/null

mod="$WGRS_CACHE/bench-module"
say "building wgrs.ko against the release kernel in $mod"
mkdir -p "$mod"
bsrc=${WGRS_BENCH_SRC:-$WGRS_TOP}
[ -f "$bsrc/Kbuild" ] && [ -d "$bsrc/rust" ] || die "WGRS_BENCH_SRC=$bsrc has no Kbuild and rust/"
rev=$(git -C "$bsrc" describe --always --dirty 2>/dev/null || echo unknown)
# What a build generates stays out of the copy (the checkout's may be for the
# debug kernel), and what the last build here generated goes: its bindings
# may be newer than a header copied with an older time stamp (another
# tree's), and make would keep them. The build here regenerates its own.
rsync -a --delete --delete-excluded --exclude '*.o' --exclude '*.cmd' --exclude '*.ko' \
	--exclude 'bindings_generated.rs' --exclude 'static_wrappers.c' \
	"$bsrc/Kbuild" "$bsrc/rust" "$mod/"
llvm=()
grep -q '^CONFIG_CC_IS_CLANG=y' "$kdir/.config" && llvm=(LLVM="$LLVM_SUFFIX")
run_logged "$mod/build.log" make -C "$kdir" M="$mod" "${llvm[@]}" modules
modinfo "$mod/wgrs.ko" >/dev/null || die "wgrs.ko was not built against the release kernel"
say "the C driver's allowed-IPs trie as a module of its own (wg_aips_bench.ko)"
ctrie=$("$WGRS_TOP/scripts/build-c-allowedips.sh" "$kdir" "$WGRS_CACHE/bench-c-allowedips")
say "the instruction-counting QEMU plugin"
plugin=$("$WGRS_TOP/scripts/build-plugin.sh")

out="$WGRS_TOP/out/bench"
rm -rf "$out"
mkdir -p "$out"
cp "$plugin/wgrs-mark" "$out/wgrs-mark"
cp "$ctrie" "$out/wg_aips_bench.ko"
: >"$out/insn.txt"
say "benchmark: $rounds rounds of $secs s per figure, C and wgrs alternating (log: $out/console.log)"
set +e
VM_IO="$out" WGRS_KO="$mod/wgrs.ko" WGRS_QEMU_PLUGIN="$plugin/wgrs_insn.so,out=$out/insn.txt" \
	"$WGRS_TOP/scripts/vm.sh" --cpus 2 --timeout 7200 -- \
	env WGRS_BIN=/mnt/wgrs/userspace/target/release \
	/mnt/wgrs/tools/testing/selftests/wgrs/bench.sh --rounds "$rounds" --seconds "$secs" \
	--insn /mnt/io/insn.txt --c-trie /mnt/io/wg_aips_bench.ko >"$out/console.log" 2>&1
rc=$?
set -e
grep -E '^(ok|not ok) ' "$out/console.log" | grep -v '^ok ' >&2 || true
[ "$rc" = 0 ] || die "the benchmark failed (exit $rc); see $out/console.log"

# "# BENCH figure driver round value unit" -> the table.
grep -o '# BENCH .*' "$out/console.log" | awk '{ print $3, $4, $5, $6, $7 }' >"$out/raw.txt"
table=$(python3 "$WGRS_TOP/scripts/bench_report.py" "$out" 64)
printf '%s\n' "$table" | tee "$out/table.txt"

kver=$(cat "$kdir/include/config/kernel.release")
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
doc="$WGRS_TOP/Documentation/performance.rst"
tmpdoc=$(mktemp)
{
	sed -n '1,/^.. bench-table-start/p' "$doc"
	echo
	echo "Measured $(date -u +%Y-%m-%d) by \`\`make bench\`\` ($rounds rounds of $secs s per figure):"
	echo "release kernel $kver under QEMU/TCG, 2 vCPUs, on a host with $(nproc) CPUs ($cpu);"
	echo "wgrs.ko from $rev."
	echo
	echo "::"
	echo
	printf '%s\n' "$table" | sed 's/^/    /'
	echo
	sed -n '/^.. bench-table-end/,$p' "$doc"
} >"$tmpdoc"
mv "$tmpdoc" "$doc"
say "table written to Documentation/performance.rst (raw numbers: $out/raw.txt)"
