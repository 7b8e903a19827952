#!/usr/bin/env bash
# Installs everything Countersign needs to build and test on Debian 12, then configures and
# builds it. Safe to run again. Usage: scripts/setup.sh [BUILD_DIR] [extra cmake args...]
#
#   BUILD_DIR defaults to ./build. Set COUNTERSIGN_SKIP_APT=1 to skip the package step
#   (when you manage packages yourself). COUNTERSIGN_TARGETS="countersign countersignd ..."
#   builds only those targets (and what they link) and skips the npm reference packages,
#   which only the tests use: scripts/demo.sh and scripts/fuzz.sh build this way.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$here/build"}
shift || true

# Debian packages: compiler and build tools; the libraries we link (OpenSSL 3, libsodium,
# nlohmann/json, CLI11); GoogleTest; node + npm for the reference implementations the
# integration tests compare against (canonicalize, slip39); openssl/coreutils for benchmarks;
# libcurl and libmicrohttpd for the daemon; libfido2 and libcbor for FIDO2 authenticators; nginx-light (model mirror), btrfs-progs (snapshots)
# and sudo (visudo checks the sudoers file) for its integration tests; aria2 and curl for its
# benchmark; pcscd, vsmartcard-vpcd and libpcsclite-dev for the PIV smartcard signer and its
# integration tests (a virtual card behind the real pcscd; OpenSC cross-checks that card);
# debhelper (dh_listpackages), desktop-file-utils and libxml2-utils for the packaging tests
# (tests/packaging/app_slot_test.sh) and debootstrap for the package install test (a clean
# Debian 12 root; scripts/build-debs.sh installs what building the packages needs itself).
packages=(
  build-essential cmake pkg-config git ca-certificates python3
  libssl-dev openssl libsodium-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev
  libcurl4-openssl-dev libmicrohttpd-dev
  # GnuTLS, libmicrohttpd's TLS library: countersignd verifies TCP clients' certificates with it
  # (daemon/http_server.cpp).
  libgnutls28-dev
  libfido2-dev libcbor-dev
  nginx-light btrfs-progs sudo aria2 curl
  libpcsclite-dev pcscd vsmartcard-vpcd opensc opensc-pkcs11
  # countersign-app, the desktop app: Qt 6 Widgets, QR codes of signatures, and a virtual X
  # server (xvfb-run needs xauth) with a font for scripts/app-screenshots.sh.
  qt6-base-dev libqrencode-dev xvfb xauth fonts-dejavu-core
  # Debian packages: debhelper builds them; desktop-file-utils and libxml2-utils check
  # the app's launcher and icon; debootstrap makes the clean root of the install test.
  debhelper desktop-file-utils libxml2-utils debootstrap
  # tests/cli/terminal_view_test.cpp checks what a terminal (tmux) shows of `manifest show`.
  tmux
  # the local Debian repository of the packages-gate tests (dpkg-dev's
  # dpkg-scanpackages and dpkg-parsechangelog, apt-utils' apt-ftparchive, gpg signs its Release).
  dpkg-dev apt-utils gpg
  # every shell script is checked by shellcheck (tests/lint/shellcheck_test.sh), every C++
  # file by clang-format (tests/lint/clang_format_test.sh)
  shellcheck clang-format
  # the SIEM collector of the log-shipping tests (tests/daemon/rsyslog_fixture.h):
  # rsyslog with its GnuTLS driver, TLS on loopback.
  rsyslog rsyslog-gnutls
  # the S3 server with Object Lock of the archive tests (tests/daemon/radosgw_fixture.h):
  # Ceph's radosgw on a one-node cluster (monitor, memstore OSD) on loopback.
  ceph-mon ceph-osd radosgw ceph-common
)
node_packages=(nodejs npm)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

if [ "${COUNTERSIGN_SKIP_APT:-0}" != 1 ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # node and npm may come from another source (nodesource); only ask apt when absent.
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then missing+=("${node_packages[@]}"); fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing Debian packages: ${missing[*]}"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

# Reference implementations used by integration tests, pinned, installed into the build
# tree (nothing global).
npm_dir="$build/npm"
if [ -z "${COUNTERSIGN_TARGETS:-}" ] && { [ ! -d "$npm_dir/node_modules/canonicalize" ] || [ ! -d "$npm_dir/node_modules/slip39" ]; }; then
  echo "== installing npm reference packages into $npm_dir"
  mkdir -p "$npm_dir"
  npm install --silent --no-audit --no-fund --no-save --prefix "$npm_dir" canonicalize@4.0.0 slip39@0.1.9 >/dev/null
fi

echo "== configuring $build"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOUNTERSIGN_WERROR=ON "$@" >/dev/null
if [ -n "${COUNTERSIGN_TARGETS:-}" ]; then
  read -r -a targets <<<"$COUNTERSIGN_TARGETS"
  echo "== building ${targets[*]}"
  cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"
else
  echo "== building"
  cmake --build "$build" -j"$(nproc)"
fi
