#!/usr/bin/env bash
# The countersign-app slot, whether or not the tree has the app: the launcher and icon
# are valid; packaging/CMakeLists.txt installs them, and the files debian/countersign-app.install
# packs, exactly when CMake has a countersign-app target; scripts/build-debs.sh sees that target
# (scripts/lib/app-target.sh) and builds the package exactly then (debian/control profile).
# Also: the rest of packaging/CMakeLists.txt installs the daemon's files where debian/ expects
# them. Usage: tests/packaging/app_slot_test.sh SOURCE_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
pass() { echo "ok: $*"; }
for tool in desktop-file-validate xmllint dh_listpackages cmake cc; do
  if ! command -v "$tool" >/dev/null; then
    msg="$tool is not installed (scripts/setup.sh installs desktop-file-utils, libxml2-utils, debhelper)"
    [ "${COUNTERSIGN_REQUIRE_INTEGRATION:-0}" = 1 ] && { echo "FAIL: $msg" >&2; exit 1; }
    echo "SKIP: $msg"
    exit 77
  fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

desktop=$src/packaging/app/countersign-app.desktop
icon=$src/packaging/app/countersign-app.svg
out=$(desktop-file-validate "$desktop" 2>&1) && [ -z "$out" ] && pass "desktop-file-validate" ||
  fail "desktop-file-validate: $out"
grep -qx 'Exec=countersign-app %F' "$desktop" && grep -qx 'Icon=countersign-app' "$desktop" &&
  pass "the launcher runs countersign-app with the icon countersign-app" || fail "Exec=/Icon= in $desktop"
out=$(xmllint --noout "$icon" 2>&1) && pass "the icon is well-formed XML" || fail "xmllint: $out"
xmllint --xpath 'string(/*[local-name()="svg"]/@viewBox)' "$icon" | grep -qx '0 0 64 64' &&
  pass "the icon is an SVG with a square viewBox" || fail "$icon: no <svg viewBox=\"0 0 64 64\">"

# ---- detection --------------------------------------------------------------------------------
# shellcheck source=../../scripts/lib/app-target.sh
. "$src/scripts/lib/app-target.sh"
# has_app WANT CMAKELISTS_TEXT
has_app() {
  local d
  d=$(mktemp -d "$tmp/tree.XXXX")
  mkdir -p "$d/app"
  printf '%s\n' "$2" >"$d/app/CMakeLists.txt"
  if countersign_has_app_target "$d"; then got=yes; else got=no; fi
  [ "$got" = "$1" ] && pass "detects app target: $1 for '$2'" || fail "detects app target: $got for '$2'"
}
has_app yes 'add_executable(countersign-app main.cpp)'
has_app yes '  qt_add_executable(countersign-app'
has_app yes 'qt6_add_executable( countersign-app WIN32 main.cpp)'
has_app no 'add_executable(countersign-app-tests main.cpp)'
has_app no '# add_executable(countersign-app main.cpp)'
has_app no 'add_library(countersign-app STATIC x.cpp)'

# ---- which packages the profile builds --------------------------------------------------------
pkgs=$(cd "$src" && DEB_BUILD_PROFILES=pkg.countersign.noapp dh_listpackages | LC_ALL=C sort | paste -sd' ')
[ "$pkgs" = "countersign countersignd" ] && pass "profile noapp: $pkgs" || fail "profile noapp builds: $pkgs"
pkgs=$(cd "$src" && DEB_BUILD_PROFILES='' dh_listpackages | LC_ALL=C sort | paste -sd' ')
[ "$pkgs" = "countersign countersign-app countersignd" ] && pass "no profile: $pkgs" || fail "no profile builds: $pkgs"

# ---- what packaging/CMakeLists.txt installs, with and without the target ---------------------
# A stub project: packaging/ after an optional countersign-app target, as the root
# CMakeLists.txt adds it after app/.
install_tree() {
  local with_app=$2 p=$tmp/$1
  mkdir -p "$p/src"
  echo 'int main(void) { return 0; }' >"$p/src/main.c"
  {
    echo 'cmake_minimum_required(VERSION 3.25)'
    echo 'project(stub LANGUAGES C)'
    [ "$with_app" = yes ] && echo 'add_executable(countersign-app main.c)' &&
      echo 'install(TARGETS countersign-app RUNTIME DESTINATION bin)'
    echo "add_subdirectory(\"$src/packaging\" packaging)"
  } >"$p/src/CMakeLists.txt"
  cmake -S "$p/src" -B "$p/build" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_SYSCONFDIR=/etc \
    -DCOUNTERSIGN_SYSTEMD_UNIT_DIR=/lib/systemd/system >"$p/log" 2>&1 &&
    cmake --build "$p/build" >>"$p/log" 2>&1 &&
    DESTDIR="$p/root" cmake --install "$p/build" >>"$p/log" 2>&1 || { cat "$p/log" >&2; return 1; }
  (cd "$p/root" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
}
with=$(install_tree with yes)
without=$(install_tree without no)
app_files=$(LC_ALL=C sort "$src/debian/countersign-app.install")
got=$(comm -23 <(echo "$with") <(echo "$without"))
[ "$got" = "$app_files" ] && pass "with the target, the app's files are installed as debian/countersign-app.install lists them" ||
  fail "with the target, installed in addition: $got; debian/countersign-app.install: $app_files"
daemon_files=$(grep -v '^usr/bin/\|^usr/libexec/' "$src/debian/countersignd.install" | LC_ALL=C sort)
[ "$without" = "$daemon_files" ] && pass "without it: only the daemon's files, as debian/countersignd.install lists them" ||
  fail "without the target, installed: $without; expected $daemon_files"
mode=$(stat -c %a "$tmp/without/root/etc/sudoers.d/countersign" 2>/dev/null || true)
[ "$mode" = 440 ] && pass "sudoers file installed 0440" || fail "sudoers file mode '$mode'"

[ "$failures" -eq 0 ]
