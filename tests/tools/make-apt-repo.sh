#!/usr/bin/env bash
# Makes the local Debian repository of the packages-gate tests: small packages built
# with dpkg-deb in two versions, indexed with apt-ftparchive, Release signed with a throwaway
# OpenPGP key (gpg in batch mode). Usage: tests/tools/make-apt-repo.sh OUT_DIR
#
# OUT_DIR/repo/       the repository, served as it is (nginx root, or a file:// source):
#                     dists/bookworm-cs/{InRelease,Release,Release.gpg}
#                     dists/bookworm-cs/{main,broken}/binary-ARCH/Packages{,.gz}
#                     pool/{main,broken}/<first letter>/<package>/<package>_<version>_<arch>.deb
# OUT_DIR/keyring.gpg the repository key (binary keyring, for `signed-by=` / --keyring)
# OUT_DIR/other-keyring.gpg a key that did not sign the repository
# OUT_DIR/v1/         the version-1 .debs: what the box has installed before the upgrade
# OUT_DIR/tampered/   a copy of repo/ in which cs-hello 1.1-1's .deb has one byte changed
#                     (same size, so only the hash can tell)
# ARCH is `dpkg --print-architecture`. Packages (component main unless said):
#   libcs-greet1 1.0-1, 1.1-1   a library ("Multi-Arch: same")
#   cs-hello     1.0-1, 1.1-1   1.1-1 depends on libcs-greet1 (>= 1.1)
#   cs-scripted  1.0-1, 2.0-1   postinst writes /var/lib/cs-scripted/configured-VERSION
#   cs-new       1.0-1          only in the new state: a new install
#   cs-old       1.0-1          installed before, removed by a plan
#   cs-doc       1.0-1, 1.1-1   Architecture: all
#   cs-broken    1.0-1 (main), 2.0-1 (component broken, its postinst exits 1)
# Every package has /usr/share/doc/<name>/changelog.Debian.gz with one entry per version up
# to its own, newest first; 1.1-1 entries say "New upstream release: ...".
# Deterministic apart from the key: SOURCE_DATE_EPOCH fixes every timestamp.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
out=$1
for tool in dpkg-deb apt-ftparchive gpg gzip; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is not installed (scripts/setup.sh installs it)" >&2; exit 3; }
done
arch=$(dpkg --print-architecture)
export SOURCE_DATE_EPOCH=1764547200 # 2025-12-01T00:00:00Z
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out/repo" "$out/v1" "$out/tampered" "$out/build" "$out/gnupg" "$out/other-gnupg"
mkdir -p "$out/repo" "$out/v1" "$out/build"

# changelog NAME VERSION...: the Debian changelog of NAME listing VERSION... (newest first).
changelog() {
  local name=$1
  shift
  local day=20
  for v in "$@"; do
    local text
    case $v in
      1.0-1) text="Initial release." ;;
      1.1-1) text="New upstream release: greets in French as well." ;;
      2.0-1) text="New upstream release: configuration moved to /etc/$name." ;;
      *) text="Packaging update." ;;
    esac
    printf '%s (%s) bookworm; urgency=medium\n\n  * %s\n\n -- Countersign Tests <tests@countersign.invalid>  Mon, %02d Nov 2025 10:00:00 +0000\n\n' \
      "$name" "$v" "$text" "$day"
    day=$((day - 1))
  done
}

# build NAME VERSION ARCH COMPONENT "DEPENDS" POSTINST_BODY OLDER_VERSION...
build() {
  local name=$1 version=$2 pkg_arch=$3 component=$4 depends=$5 postinst=$6
  shift 6
  local dir="$out/build/${name}_${version}"
  mkdir -p "$dir/DEBIAN" "$dir/usr/share/doc/$name" "$dir/usr/share/$name"
  {
    echo "Package: $name"
    echo "Version: $version"
    echo "Architecture: $pkg_arch"
    echo "Maintainer: Countersign Tests <tests@countersign.invalid>"
    [ "$name" = libcs-greet1 ] && echo "Multi-Arch: same"
    [ -n "$depends" ] && echo "Depends: $depends"
    echo "Section: misc"
    echo "Priority: optional"
    echo "Description: $name, a package of the Countersign tests"
    echo " Version $version of $name."
  } >"$dir/DEBIAN/control"
  if [ -n "$postinst" ]; then
    printf '#!/bin/sh\nset -e\n%s\n' "$postinst" >"$dir/DEBIAN/postinst"
    chmod 0755 "$dir/DEBIAN/postinst"
  fi
  echo "$name $version" >"$dir/usr/share/$name/VERSION"
  changelog "$name" "$version" "$@" | gzip -9n >"$dir/usr/share/doc/$name/changelog.Debian.gz"
  find "$dir" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  local pool="$out/repo/pool/$component/${name:0:1}/$name"
  mkdir -p "$pool"
  dpkg-deb --root-owner-group -Zxz --build "$dir" "$pool/${name}_${version}_${pkg_arch}.deb" >/dev/null
  # cs-new is only in the new state: the box has never had it.
  if [ "${version%%-*}" = 1.0 ] && [ "$name" != cs-new ]; then cp "$pool/${name}_${version}_${pkg_arch}.deb" "$out/v1/"; fi
}

scripted_postinst='if [ "$1" = configure ]; then mkdir -p /var/lib/cs-scripted; echo ok >"/var/lib/cs-scripted/configured-$2-to-'
build libcs-greet1 1.0-1 "$arch" main "" ""
build libcs-greet1 1.1-1 "$arch" main "" "" 1.0-1
build cs-hello 1.0-1 "$arch" main "libcs-greet1 (>= 1.0)" ""
build cs-hello 1.1-1 "$arch" main "libcs-greet1 (>= 1.1)" "" 1.0-1
build cs-scripted 1.0-1 all main "" "${scripted_postinst}1.0-1\"; fi"
build cs-scripted 2.0-1 all main "" "${scripted_postinst}2.0-1\"; fi" 1.0-1
build cs-new 1.0-1 all main "" ""
build cs-old 1.0-1 all main "" ""
build cs-doc 1.0-1 all main "" ""
build cs-doc 1.1-1 all main "" "" 1.0-1
build cs-broken 1.0-1 all main "" ""
build cs-broken 2.0-1 all broken "" 'if [ "$1" = configure ]; then echo "cs-broken: configuration failed" >&2; exit 1; fi' 1.0-1
rm -rf "$out/build"

# Index and release.
cd "$out/repo"
for component in main broken; do
  mkdir -p "dists/bookworm-cs/$component/binary-$arch"
  apt-ftparchive packages "pool/$component" >"dists/bookworm-cs/$component/binary-$arch/Packages"
  gzip -9nk "dists/bookworm-cs/$component/binary-$arch/Packages"
done
apt-ftparchive \
  -o APT::FTPArchive::Release::Origin=Countersign-Tests \
  -o APT::FTPArchive::Release::Suite=bookworm-cs \
  -o APT::FTPArchive::Release::Codename=bookworm-cs \
  -o APT::FTPArchive::Release::Architectures="$arch" \
  -o APT::FTPArchive::Release::Components="main broken" \
  -o APT::FTPArchive::Release::Date="$(LC_ALL=C date -u -d "@$SOURCE_DATE_EPOCH" '+%a, %d %b %Y %H:%M:%S UTC')" \
  release dists/bookworm-cs >"$out/release.tmp"
mv "$out/release.tmp" dists/bookworm-cs/Release

# Throwaway keys: no passphrase, private to OUT_DIR.
newkey() { # GNUPGHOME UID KEYRING
  mkdir -p "$1" && chmod 0700 "$1"
  GNUPGHOME=$1 gpg --batch --quiet --passphrase '' --quick-gen-key "$2" ed25519 sign never 2>/dev/null
  GNUPGHOME=$1 gpg --batch --quiet --export >"$3"
}
newkey "$out/gnupg" "Countersign test repository <repo@countersign.invalid>" "$out/keyring.gpg"
newkey "$out/other-gnupg" "Somebody else <other@countersign.invalid>" "$out/other-keyring.gpg"
GNUPGHOME="$out/gnupg" gpg --batch --quiet --yes --clearsign -o dists/bookworm-cs/InRelease dists/bookworm-cs/Release
GNUPGHOME="$out/gnupg" gpg --batch --quiet --yes --armor --detach-sign -o dists/bookworm-cs/Release.gpg \
  dists/bookworm-cs/Release
gpgconf --homedir "$out/gnupg" --kill all 2>/dev/null || true
gpgconf --homedir "$out/other-gnupg" --kill all 2>/dev/null || true

# The tampered mirror: one byte of cs-hello 1.1-1 changed, at the end (inside the data member).
cp -a "$out/repo" "$out/tampered"
victim="$out/tampered/pool/main/c/cs-hello/cs-hello_1.1-1_${arch}.deb"
size=$(stat -c %s "$victim")
printf '\x00' | dd of="$victim" bs=1 seek=$((size - 2)) conv=notrunc status=none
echo "$out/repo"
