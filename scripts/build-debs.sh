#!/usr/bin/env bash
# Builds the Debian packages (countersign, countersignd, and countersign-app when the app is
# in the tree) into OUTDIR, then runs lintian on them (errors fail the build). Installs what
# it needs with apt-get. Usage: scripts/build-debs.sh OUTDIR
#
# The source is copied first (the files git knows, as they are in the working tree, or the
# whole tree when it is not a git checkout), so the build never writes into the checkout.
# SOURCE_DATE_EPOCH defaults to the commit time of HEAD: every timestamp in the packages
# comes from it (docs/packaging.md "Reproducible"). Beside the packages goes the .buildinfo
# dpkg-genbuildinfo writes (dpkg-buildpackage runs it): the exact version of every package
# installed in the build environment, so a rebuild can be made in, and compared against, the
# same environment (scripts/check-reproducible.sh --compare reads it).
#
#   COUNTERSIGN_DEB_WORKDIR=DIR   where to copy and build (default: a new directory beside
#                                 OUTDIR, removed at the end); must not exist yet
#   COUNTERSIGN_JOBS=N            parallel compile jobs (default: nproc)
#   COUNTERSIGN_SKIP_APT=1        do not install packages (you manage them yourself)
#   COUNTERSIGN_SKIP_LINTIAN=1    do not run lintian (scripts/check-reproducible.sh's second build)
set -euo pipefail
# All in a function, so bash has read the whole script before running any of it (editing
# the file while a build runs cannot change what runs).
main() {
  here=$(cd "$(dirname "$0")/.." && pwd)
  [ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
  mkdir -p "$1"
  out=$(cd "$1" && pwd)
  start=$SECONDS

  # A checkout of its own: a copy of the tree inside another repository's ignored build directory
  # (scripts/check-reproducible.sh) must not be taken for that repository.
  is_checkout() { [ "$(git -C "$here" rev-parse --show-toplevel 2>/dev/null)" = "$here" ]; }

  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

  # The app package exists when CMake has the countersign-app target (scripts/lib/app-target.sh);
  # without it the build profile pkg.countersign.noapp leaves that package out.
  # shellcheck source=lib/app-target.sh
  . "$here/scripts/lib/app-target.sh"
  profiles=()
  countersign_has_app_target "$here" || profiles=(pkg.countersign.noapp)
  profile_list=$(IFS=,; echo "${profiles[*]}")

  # Tools: dpkg-buildpackage (dpkg-dev), debhelper, lintian; then debian/control's
  # Build-Depends for this profile, through apt itself (apt-get build-dep on the source dir).
  if [ "${COUNTERSIGN_SKIP_APT:-0}" != 1 ]; then
    tools=(dpkg-dev debhelper fakeroot lintian git)
    missing=()
    for p in "${tools[@]}"; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
      echo "== installing Debian packages: ${missing[*]}"
      "${sudo_cmd[@]}" apt-get update -qq
      DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
    if ! (cd "$here" && dpkg-checkbuilddeps ${profile_list:+-P"$profile_list"} >/dev/null 2>&1); then
      echo "== installing build dependencies (debian/control)"
      "${sudo_cmd[@]}" apt-get update -qq
      (cd "$here" && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get build-dep -y -qq \
        --no-install-recommends ${profile_list:+-P "$profile_list"} ./ >/dev/null)
    fi
  fi

  # The version is CMake's project version; debian/changelog must say the same.
  cmake_version=$(sed -nE 's/^project\(countersign VERSION ([0-9.]+).*/\1/p' "$here/CMakeLists.txt")
  deb_version=$(cd "$here" && dpkg-parsechangelog -SVersion)
  if [ "$cmake_version" != "$deb_version" ]; then
    echo "build-debs: CMakeLists.txt says $cmake_version but debian/changelog says $deb_version" >&2
    exit 1
  fi

  if [ -z "${SOURCE_DATE_EPOCH:-}" ] && is_checkout; then
    SOURCE_DATE_EPOCH=$(git -C "$here" log -1 --format=%ct)
  fi
  # Otherwise dpkg-buildpackage takes it from debian/changelog.
  [ -n "${SOURCE_DATE_EPOCH:-}" ] && export SOURCE_DATE_EPOCH

  if [ -n "${COUNTERSIGN_DEB_WORKDIR:-}" ]; then
    work=$COUNTERSIGN_DEB_WORKDIR
    mkdir "$work"
    keep_work=1
  else
    work=$(mktemp -d "$out/../.countersign-debs.XXXXXX")
    keep_work=0
  fi
  work=$(cd "$work" && pwd)
  cleanup() { if [ "$keep_work" = 0 ]; then rm -rf "$work"; fi; }
  trap cleanup EXIT

  src="$work/countersign-$deb_version"
  mkdir "$src"
  echo "== copying the source to $src"
  if is_checkout; then
    # Tracked and new (not ignored) files as they are on disk; deleted ones are skipped.
    (cd "$here" && git ls-files -z --cached --others --exclude-standard |
      while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
      tar --null -T - -cf -) | tar -xf - -C "$src"
  else
    (cd "$here" && tar --exclude='./build*' --exclude=./out -cf - .) | tar -xf - -C "$src"
  fi

  jobs=${COUNTERSIGN_JOBS:-$(nproc)}
  echo "== dpkg-buildpackage (SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-from changelog}, profiles: ${profile_list:-none}, $jobs jobs)"
  (cd "$src" && DEB_BUILD_OPTIONS="parallel=$jobs ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -b -us -uc ${profile_list:+-P"$profile_list"} >"$work/build.log" 2>&1) || {
    tail -n 60 "$work/build.log" >&2
    echo "build-debs: dpkg-buildpackage failed; the whole log is $work/build.log" >&2
    keep_work=1
    exit 1
  }

  shopt -s nullglob
  debs=("$work"/*.deb "$work"/*.ddeb)
  [ ${#debs[@]} -gt 0 ] || { echo "build-debs: no packages were built" >&2; exit 1; }
  buildinfo=("$work"/*.buildinfo)
  [ ${#buildinfo[@]} -eq 1 ] || { echo "build-debs: dpkg-buildpackage wrote ${#buildinfo[@]} .buildinfo files, expected one" >&2; exit 1; }
  rm -f "$out"/*.deb "$out"/*.ddeb "$out"/*.buildinfo
  cp "${debs[@]}" "${buildinfo[@]}" "$out/"

  if [ "${COUNTERSIGN_SKIP_LINTIAN:-0}" != 1 ]; then
    echo "== lintian"
    # Errors fail; the remaining warnings and why they stay are in docs/packaging.md.
    lintian --fail-on error --info --display-level '>=warning' "$out"/*.deb
  fi

  echo "== packages in $out ($((SECONDS - start)) s)"
  (cd "$out" && sha256sum -- *.deb *.ddeb && echo "build environment: $(basename "${buildinfo[0]}")")
}

main "$@"
