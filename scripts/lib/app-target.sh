# shellcheck shell=bash
# Sourced by scripts/build-debs.sh and tests/packaging/app_slot_test.sh.
#
#   countersign_has_app_target SRCDIR   true when a CMakeLists.txt under SRCDIR defines the
#                                       executable target countersign-app (the Qt desktop app)
#
# A static look at the sources, not a CMake run: it decides which build dependencies to
# install (the app's Qt ones are marked <!pkg.countersign.noapp> in debian/control), so it has
# to work before they are installed. debian/rules checks the answer against CMake's targets.
countersign_has_app_target() {
  grep -rqsE --include=CMakeLists.txt \
    '^[[:space:]]*(qt6?_)?add_executable\([[:space:]]*countersign-app([[:space:]]|\)|$)' "$1"
}
