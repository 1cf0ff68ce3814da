#!/usr/bin/env bash
# The C driver's allowed-IPs trie as a module of its own, for make bench's
# trie figures (tools/bench/c-allowedips): copies allowedips.[ch] from the
# kernel source next to the benchmark's own files in OUTDIR and builds
# wg_aips_bench.ko against the kernel build KDIR. Prints the module's path.
#
#   scripts/build-c-allowedips.sh KDIR OUTDIR
. "$(dirname "$0")/lib.sh"

[ $# = 2 ] || die "usage: scripts/build-c-allowedips.sh KDIR OUTDIR"
kdir=$1 dir=$2
src=$(readlink -f "$kdir/source" 2>/dev/null || echo "$kdir")
wg="$src/drivers/net/wireguard"
[ -f "$wg/allowedips.c" ] && [ -f "$wg/allowedips.h" ] || die "no drivers/net/wireguard/allowedips.[ch] under $src"
mkdir -p "$dir/selftest"
cp "$wg/allowedips.c" "$wg/allowedips.h" "$WGRS_TOP/tools/bench/c-allowedips/"{Kbuild,peer.h,wg_aips_bench.c} "$dir/"
# allowedips.c ends by including its selftest, which is empty without DEBUG.
: >"$dir/selftest/allowedips.c"
llvm=()
grep -q '^CONFIG_CC_IS_CLANG=y' "$kdir/.config" && llvm=(LLVM="$LLVM_SUFFIX")
run_logged "$dir/build.log" make -C "$kdir" M="$dir" "${llvm[@]}" modules >&2
[ -f "$dir/wg_aips_bench.ko" ] || die "wg_aips_bench.ko was not built (see $dir/build.log)"
echo "$dir/wg_aips_bench.ko"
