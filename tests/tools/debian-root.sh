#!/usr/bin/env bash
# A clean Debian 12 (bookworm) minbase root as a tarball, made once with debootstrap and kept in
# CACHE_DIR for every test that needs a real Debian system: the package install test
# (tests/packaging/install_test.sh) and the packages gate's install into a debootstrap'd root
# (tests/daemon/packages_install_test.cpp). Prints the tarball's path.
#
#   tests/tools/debian-root.sh CACHE_DIR
#
# The tarball is CACHE_DIR/bookworm-minbase-ARCH.tar (numeric owners, every file of the root);
# it is made from COUNTERSIGN_DEBIAN_MIRROR (default http://deb.debian.org/debian) when it is not
# there yet, under a lock, so runs side by side make it once. The cache lives in the build tree:
# a fresh checkout starts from the mirror. Delete it to start again.
#
# Exit 77 with the reason on standard error when this machine cannot make one (not root, no
# debootstrap, the mirror unreachable); 2 for a usage error.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 CACHE_DIR" >&2; exit 2; }
cache=$1
mirror=${COUNTERSIGN_DEBIAN_MIRROR:-http://deb.debian.org/debian}

cannot() { echo "$*" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || cannot "debootstrap needs root"
command -v debootstrap >/dev/null || cannot "debootstrap is not installed (apt-get install debootstrap)"
arch=$(dpkg --print-architecture)
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
tarball=$cache/bookworm-minbase-$arch.tar

exec 9>"$cache/.lock"
flock 9
if [ ! -s "$tarball" ]; then
  work=$(mktemp -d "$cache/make.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  echo "debian-root: debootstrap bookworm (minbase, $arch) from $mirror" >&2
  t=$SECONDS
  if ! debootstrap --variant=minbase --arch="$arch" bookworm "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 20 "$work/debootstrap.log" >&2
    cannot "debootstrap failed (no access to $mirror?)"
  fi
  # apt's downloaded packages are not part of the system.
  rm -f "$work/root"/var/cache/apt/archives/*.deb
  tar --numeric-owner --xattrs -C "$work/root" -cf "$work/root.tar" .
  mv "$work/root.tar" "$tarball"
  echo "debian-root: $tarball made in $((SECONDS - t)) s" >&2
fi
echo "$tarball"
