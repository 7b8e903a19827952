#!/usr/bin/env bash
# Sets everything up (Debian packages, npm reference packages), builds with warnings as
# errors, and runs every test suite; then builds again with ASan+UBSan and runs the suites
# under the sanitizers. Usage: scripts/test.sh
#
#   COUNTERSIGN_SKIP_SANITIZE=1   skip the sanitizer build (quick local runs)
#   COUNTERSIGN_REQUIRE_INTEGRATION=1   an integration test that cannot start fails instead
#                                       of skipping (CI sets this)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build"
jobs=$(nproc)

"$here/scripts/setup.sh" "$build"
export COUNTERSIGN_NODE_MODULES="$build/npm/node_modules"

echo "== tests (build: $build)"
ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout 600

if [ "${COUNTERSIGN_SKIP_SANITIZE:-0}" != 1 ]; then
  asan="$here/build-asan"
  mkdir -p "$asan/npm" && ln -sfn "$build/npm/node_modules" "$asan/npm/node_modules"
  COUNTERSIGN_SKIP_APT=1 "$here/scripts/setup.sh" "$asan" -DCOUNTERSIGN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
  echo "== tests under ASan+UBSan (build: $asan)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$asan" --output-on-failure -j"$jobs" --timeout 1200
fi
