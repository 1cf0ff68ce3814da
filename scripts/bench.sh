#!/usr/bin/env bash
# `make bench`: wgrs.ko against the in-tree C wireguard.ko in one VM boot of
# the release kernel (the test kernel's configuration without the debug
# options), 2 vCPUs, the two drivers alternating over several rounds
# (tools/testing/selftests/wgrs/bench.sh). Prints, for every figure, the C
# median, the wgrs median, the ratio wgrs/C and the spread, and writes the
# table to Documentation/performance.rst.
#
#   scripts/bench.sh [ROUNDS [SECONDS]]        (default 5 rounds of 10 s)
#
# wgrs.ko is built against the release kernel in a directory of its own
# under the cache, so the debug build in the checkout stays as it is.
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
rsync -a --delete --exclude '*.o' --exclude '*.cmd' "$WGRS_TOP/Kbuild" "$WGRS_TOP/rust" "$mod/"
llvm=()
grep -q '^CONFIG_CC_IS_CLANG=y' "$kdir/.config" && llvm=(LLVM="$LLVM_SUFFIX")
run_logged "$mod/build.log" make -C "$kdir" M="$mod" "${llvm[@]}" modules
modinfo "$mod/wgrs.ko" >/dev/null || die "wgrs.ko was not built against the release kernel"

out="$WGRS_TOP/out/bench"
rm -rf "$out"
mkdir -p "$out"
say "benchmark: $rounds rounds of $secs s per figure, C and wgrs alternating (log: $out/console.log)"
set +e
VM_IO="$out" WGRS_KO="$mod/wgrs.ko" "$WGRS_TOP/scripts/vm.sh" --cpus 2 --timeout 7200 -- \
	env WGRS_BIN=/mnt/wgrs/userspace/target/release \
	/mnt/wgrs/tools/testing/selftests/wgrs/bench.sh --rounds "$rounds" --seconds "$secs" \
	>"$out/console.log" 2>&1
rc=$?
set -e
grep -E '^(ok|not ok) ' "$out/console.log" | grep -v '^ok ' >&2 || true
[ "$rc" = 0 ] || die "the benchmark failed (exit $rc); see $out/console.log"

# "# BENCH figure driver round value unit" -> the table.
grep -o '# BENCH .*' "$out/console.log" | awk '{ print $3, $4, $5, $6, $7 }' >"$out/raw.txt"
table=$(awk '
	function median(a, n,   i, j, t) {
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{
		key = $1 SUBSEP $2; n[key]++; v[key, n[key]] = $4; unit[$1] = $5
		if (!($1 in seen)) { seen[$1] = 1; order[++nf] = $1 }
		if ($2 != "wireguard") wgrs = $2
	}
	END {
		printf "%-10s %-7s %12s %12s %7s %13s %13s\n", "figure", "unit", "C median", "wgrs median", "wgrs/C", "C spread", "wgrs spread"
		for (f = 1; f <= nf; f++) {
			fig = order[f]
			for (d = 0; d < 2; d++) {
				drv = d ? wgrs : "wireguard"; k = fig SUBSEP drv; m = n[k]
				lo = hi = v[k, 1]
				for (i = 1; i <= m; i++) { a[i] = v[k, i]; if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
				med[d] = m ? median(a, m) : 0
				spread[d] = (m && med[d]) ? sprintf("%d..%d%%", (lo / med[d] - 1) * 100, (hi / med[d] - 1) * 100) : "-"
			}
			ratio = med[0] ? sprintf("%.2f", med[1] / med[0]) : "-"
			printf "%-10s %-7s %12s %12s %7s %13s %13s\n", fig, unit[fig], med[0], med[1], ratio, spread[0], spread[1]
		}
	}' "$out/raw.txt")
printf '%s\n' "$table" | tee "$out/table.txt"

kver=$(cat "$kdir/include/config/kernel.release")
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
doc="$WGRS_TOP/Documentation/performance.rst"
tmpdoc=$(mktemp)
{
	sed -n '1,/^.. bench-table-start/p' "$doc"
	echo
	echo "Measured $(date -u +%Y-%m-%d) by \`\`make bench\`\` ($rounds rounds of $secs s per figure):"
	echo "release kernel $kver under QEMU/TCG, 2 vCPUs, on a host with $(nproc) CPUs ($cpu)."
	echo
	echo "::"
	echo
	printf '%s\n' "$table" | sed 's/^/    /'
	echo
	sed -n '/^.. bench-table-end/,$p' "$doc"
} >"$tmpdoc"
mv "$tmpdoc" "$doc"
say "table written to Documentation/performance.rst (raw numbers: $out/raw.txt)"
