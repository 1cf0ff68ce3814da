#!/usr/bin/env bash
# Build the VM's root file system: a minimal Debian sid (its wireguard-tools and
# iproute2 are new enough for the 7.2 selftests; bookworm's are not). Cached by
# package list. The host's apt sources are not touched: mmdebstrap gets the
# mirror URI read from the host's own debian.sources. Prints the directory.
. "$(dirname "$0")/lib.sh"

PKGS=(
	iproute2 wireguard-tools wireguard-go iperf3 iputils-ping nftables iptables
	ncat kmod procps tcpdump ca-certificates curl jq less psmisc util-linux
	python3 python3-yaml   # gate.sh: the kernel's YNL CLI (tools/net/ynl)
	chromium-headless-shell fonts-dejavu-core   # agent.sh: the auth page in a real browser
)
key=$( { echo v2 sid; sed -n "/^# ncat-wrapper-begin/,/^# ncat-wrapper-end/p" "$0"; printf '%s\n' "${PKGS[@]}"; } | sha256sum | cut -c1-16)
root="$WGRS_CACHE/rootfs-sid-$key"
if [ -f "$root/.wgrs-ready" ]; then
	echo "$root"
	exit 0
fi

uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
[ -n "$uri" ] || die "no URIs: line in /etc/apt/sources.list.d/debian.sources"
keyring=$(awk '/^Signed-By:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)

say "making the VM root (Debian sid, minbase + ${#PKGS[@]} packages, ~1 min)"
rm -rf "$root" "$root.tmp"
include=$(IFS=,; echo "${PKGS[*]}")
run_logged "$WGRS_CACHE/rootfs.log" mmdebstrap --variant=minbase \
	--aptopt='Acquire::Check-Valid-Until "false"' \
	${keyring:+--keyring="$keyring"} \
	--include="$include" \
	--customize-hook='chroot "$1" update-alternatives --set iptables /usr/sbin/iptables-legacy' \
	--customize-hook='chroot "$1" update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy' \
	--customize-hook='echo wgrs-vm > "$1/etc/hostname"' \
	--customize-hook='rm -f "$1/etc/resolv.conf"; : > "$1/etc/resolv.conf"' \
	sid "$root.tmp" "deb $uri sid main"
# ncat-wrapper-begin
# ncat 7.99 (sid) answers SIGTERM by signalling its whole process group. The
# upstream netns.sh starts `ncat -l` in a process substitution and later
# kills it by PID, which then also kills netns.sh itself (it shares the
# group). A wrapper first in PATH runs ncat in a session of its own, with the
# same PID (setsid(1) does not fork when the caller is not a group leader) and
# the same command name, so netns.sh's `ss ... "ncat",pid=$!` check still
# matches. netns.sh itself stays unmodified.
mkdir -p "$root.tmp/usr/local/lib/wgrs"
ln -s /usr/bin/ncat "$root.tmp/usr/local/lib/wgrs/ncat"
cat >"$root.tmp/usr/local/bin/ncat" <<'WRAP'
#!/bin/sh
# See scripts/make-rootfs.sh in wgrs: keep ncat's SIGTERM within ncat.
exec setsid /usr/local/lib/wgrs/ncat "$@"
WRAP
chmod 0755 "$root.tmp/usr/local/bin/ncat"
# ncat-wrapper-end
mv "$root.tmp" "$root"
touch "$root/.wgrs-ready"
# Roots made from an older recipe are never used again (kept with
# WGRS_KEEP_OLD_KERNELS=1, while another checkout still boots one).
if [ -z "${WGRS_KEEP_OLD_KERNELS:-}" ]; then
	find "$WGRS_CACHE" -maxdepth 1 -name 'rootfs-sid-*' ! -path "$root" -exec rm -rf {} +
fi
say "VM root ready: $root ($(du -sh "$root" | cut -f1))"
echo "$root"
