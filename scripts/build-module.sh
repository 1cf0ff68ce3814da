#!/usr/bin/env bash
# Build wgrs.ko. Against $KDIR when given (any 7.x kernel build tree made with
# CONFIG_RUST=y by the same rustc), else against our cached test kernel.
. "$(dirname "$0")/lib.sh"

if [ -n "${KDIR:-}" ]; then
	kdir=$(cd "$KDIR" && pwd)
else
	kdir=$("$WGRS_TOP/scripts/build-kernel.sh")
fi
[ -f "$kdir/.config" ] || die "KDIR=$kdir is not a configured kernel build tree"
grep -q '^CONFIG_RUST=y' "$kdir/.config" || die "$kdir was not built with CONFIG_RUST=y"
[ -f "$kdir/rust/libkernel.rmeta" ] || die "$kdir has no rust/libkernel.rmeta: build the kernel first"
llvm=()
grep -q '^CONFIG_CC_IS_CLANG=y' "$kdir/.config" && llvm=(LLVM="$LLVM_SUFFIX")

say "building wgrs.ko against $kdir"
make -C "$kdir" M="$WGRS_TOP" "${llvm[@]}" ${V:+V=$V} modules >&2
modinfo "$WGRS_TOP/wgrs.ko" >/dev/null || die "wgrs.ko was not produced"
echo "$kdir"
