#!/usr/bin/env bash
# Sets everything up (Debian packages, npm reference packages), builds with warnings as
# errors, and runs every test suite; then builds the Debian packages twice and checks they
# are identical (scripts/check-reproducible.sh), installs them in a clean Debian 12 root
# (tests/packaging/install_test.sh); then builds again with ASan+UBSan and runs the suites
# under the sanitizers; then runs every libFuzzer target for a bounded time (scripts/fuzz.sh).
# Prints how long each step took. Usage: scripts/test.sh
#
#   COUNTERSIGN_SKIP_SANITIZE=1   skip the sanitizer build (quick local runs)
#   COUNTERSIGN_SKIP_PACKAGES=1   skip the package build, reproducibility and install test
#   COUNTERSIGN_FUZZ_SECONDS=N    seconds per fuzz target (default 15; 0 skips the fuzz run)
#   COUNTERSIGN_REQUIRE_INTEGRATION=1   an integration test that cannot start fails instead
#                                       of skipping (CI sets this)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build"
jobs=$(nproc)

timings=()
# step NAME COMMAND...: runs it and records how long it took.
step() {
  local name=$1 t=$SECONDS
  shift
  "$@"
  timings+=("$(printf '%5d s  %s' $((SECONDS - t)) "$name")")
}
report() {
  echo "== time per step"
  printf '%s\n' "${timings[@]}"
}
trap report EXIT

step "setup and build" "$here/scripts/setup.sh" "$build"
export COUNTERSIGN_NODE_MODULES="$build/npm/node_modules"

# Label `package` (the install test) needs the packages: it runs below, after they are built.
echo "== tests (build: $build)"
step "tests" ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout 600 -LE package

if [ "${COUNTERSIGN_SKIP_PACKAGES:-0}" != 1 ]; then
  # Two package builds from HEAD in two directories; the first build's packages are kept in
  # build/debs, where the install test (COUNTERSIGN_DEBS_DIR) finds them.
  echo "== Debian packages: build twice, compare (scripts/check-reproducible.sh)"
  step "packages: two builds + lintian + compare" "$here/scripts/check-reproducible.sh" "$build/debs"
  echo "== package install test in a clean Debian 12 root"
  step "packages: install test" ctest --test-dir "$build" --output-on-failure -L package --timeout 1800
fi

if [ "${COUNTERSIGN_SKIP_SANITIZE:-0}" != 1 ]; then
  asan="$here/build-asan"
  mkdir -p "$asan/npm" && ln -sfn "$build/npm/node_modules" "$asan/npm/node_modules"
  step "ASan+UBSan build" env COUNTERSIGN_SKIP_APT=1 "$here/scripts/setup.sh" "$asan" \
    -DCOUNTERSIGN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
  echo "== tests under ASan+UBSan (build: $asan)"
  step "tests under ASan+UBSan" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    LSAN_OPTIONS="suppressions=$here/tests/lsan-suppressions.txt" \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$asan" --output-on-failure -j"$jobs" --timeout 1200 -LE package
fi

fuzz_seconds=${COUNTERSIGN_FUZZ_SECONDS:-15}
if [ "$fuzz_seconds" != 0 ]; then
  echo "== fuzz targets, $fuzz_seconds s each (scripts/fuzz.sh; clang, libFuzzer, ASan+UBSan)"
  step "fuzz: build + $fuzz_seconds s per target" "$here/scripts/fuzz.sh" --seconds "$fuzz_seconds"
fi
