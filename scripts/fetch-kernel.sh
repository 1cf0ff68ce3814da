#!/usr/bin/env bash
# Download Debian's linux-source-7.2 package and unpack it into the cache.
# Only downloads: the host's apt sources stay as they are (see lib.sh).
# Prints the source directory on stdout.
. "$(dirname "$0")/lib.sh"

src_root="$WGRS_CACHE/src"
mkdir -p "$src_root"
stamp="$src_root/linux-source-$KERNEL_SERIES.ready"
if [ -f "$stamp" ] && [ -d "$(cat "$stamp")" ]; then
	cat "$stamp"
	exit 0
fi

pkg="linux-source-$KERNEL_SERIES"
deb=
for suite in sid trixie-backports; do
	aptdir="$WGRS_CACHE/apt-$suite"
	private_apt_conf "$suite" "$aptdir"
	say "looking for $pkg in $suite (private APT configuration, host sources untouched)"
	if ! APT_CONFIG="$aptdir/apt.conf" apt-get update >"$aptdir/update.log" 2>&1; then
		say "apt-get update for $suite failed (see $aptdir/update.log)"
		continue
	fi
	ver=$(APT_CONFIG="$aptdir/apt.conf" apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
	if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
		say "$pkg is not in $suite"
		continue
	fi
	case "$ver" in
	"$KERNEL_SERIES".*) ;;
	*) say "$suite has $pkg $ver, not a $KERNEL_SERIES release"; continue ;;
	esac
	say "downloading $pkg $ver from $suite (~165 MB)"
	rm -f "$src_root"/"${pkg}"_*.deb
	(cd "$src_root" && run_logged "$aptdir/download.log" env APT_CONFIG="$aptdir/apt.conf" apt-get download "$pkg=$ver")
	deb=$(ls "$src_root"/"${pkg}"_*.deb)
	break
done
[ -n "$deb" ] || die "could not download $pkg from sid or trixie-backports"

say "unpacking $(basename "$deb")"
tmp="$src_root/unpack.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
dpkg-deb -x "$deb" "$tmp"
tarball=$(ls "$tmp"/usr/src/linux-source-*.tar.xz)
tar -C "$src_root" -xf "$tarball"
dir="$src_root/$(basename "$tarball" .tar.xz)"
rm -rf "$tmp"
[ -f "$dir/Makefile" ] || die "unpacked tree $dir has no Makefile"
version=$(make -s -C "$dir" kernelversion)
say "kernel source $version ready in $dir"
echo "$dir" >"$stamp"
echo "$dir"
