#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz (clang, ASan+UBSan, coverage-guided), each for a
# bounded time, and fails when any of them finds a crash, a leak, a timeout or an
# out-of-memory input. Builds build-fuzz/ with clang and only the fuzz targets.
#
#   scripts/fuzz.sh                     every target for 20 s (the CI smoke run)
#   scripts/fuzz.sh --seconds 60 json   one target for a minute
#   scripts/fuzz.sh --hours 8           a campaign: 8 hours shared out among the targets
#                                       (docs/fuzzing.md records the last one)
#
# Each target starts from its seed corpus (tests/fuzz/corpus/NAME, never modified) plus what
# earlier runs found (build-fuzz/corpus/NAME, kept between runs). A crashing input is written
# to build-fuzz/crashes/NAME-crash-HASH: reproduce it with `build-fuzz/tests/fuzz/NAME_fuzzer
# FILE`, then add it to the seed corpus once fixed, so that the normal test run (the
# fuzz_replay.NAME tests) keeps checking it. At the end a table per target: executions,
# executions per second, coverage (edges), corpus size. build-fuzz/fuzz-summary.md holds it.
#
# Exit codes: 0 nothing found; 1 a target found something (named); 2 bad usage.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build-fuzz"
seconds=20
hours=""
targets=()
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    --hours) hours=${2:?--hours needs a number}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
case "$seconds" in '' | *[!0-9]*) echo "fuzz.sh: --seconds must be a whole number, not $seconds" >&2; exit 2 ;; esac
if [ -n "$hours" ]; then
  case "$hours" in '' | *[!0-9.]*) echo "fuzz.sh: --hours must be a number, not $hours" >&2; exit 2 ;; esac
fi

corpus_root="$here/tests/fuzz/corpus"
if [ ${#targets[@]} -eq 0 ]; then
  for d in "$corpus_root"/*/; do targets+=("$(basename "$d")"); done
fi
for t in "${targets[@]}"; do
  [ -d "$corpus_root/$t" ] || { echo "fuzz.sh: no fuzz target $t (no $corpus_root/$t)" >&2; exit 2; }
done
if [ -n "$hours" ]; then
  seconds=$(awk -v h="$hours" -v n="${#targets[@]}" 'BEGIN { printf "%d", h * 3600 / n }')
fi

# clang and its libFuzzer runtime; the rest is what scripts/setup.sh installs.
if [ "${COUNTERSIGN_SKIP_APT:-0}" != 1 ] && ! dpkg-query -W -f='${Status}' clang libclang-rt-14-dev 2>/dev/null |
  grep -c "install ok installed" | grep -qx 2; then
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev
fi

fuzzers=()
for t in "${targets[@]}"; do fuzzers+=("${t}_fuzzer"); done
CC=clang CXX=clang++ COUNTERSIGN_TARGETS="${fuzzers[*]}" "$here/scripts/setup.sh" "$build" \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCOUNTERSIGN_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo

mkdir -p "$build/crashes" "$build/logs"
summary="$build/fuzz-summary.md"
{
  echo "| target | seconds | executions | exec/s | edges | corpus | result |"
  echo "|---|---:|---:|---:|---:|---:|---|"
} >"$summary"
failed=()
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS="suppressions=$here/tests/lsan-suppressions.txt"
for t in "${targets[@]}"; do
  work="$build/corpus/$t"
  log="$build/logs/$t.log"
  mkdir -p "$work"
  echo "== $t: ${seconds} s"
  set +e
  # -timeout: one input longer than 10 s is a finding; -rss_limit_mb: so is 2 GB of memory.
  "$build/tests/fuzz/${t}_fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/crashes/$t-" "$work" "$corpus_root/$t" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  edges=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  size=$(find "$work" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    result="FOUND (exit $rc): $(grep -m1 -E '^==[0-9]+==ERROR|SUMMARY|ALARM|out-of-memory|deadly signal' "$log" || true)"
    failed+=("$t")
    echo "fuzz.sh: $t found something; log: $log; input: $(ls -t "$build/crashes/$t-"* 2>/dev/null | head -1)" >&2
    tail -n 30 "$log" >&2
  fi
  echo "| $t | $seconds | ${runs:-?} | ${rate:-?} | ${edges:-?} | $size | $result |" >>"$summary"
done
cat "$summary"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: findings in ${failed[*]} (inputs in $build/crashes/)" >&2
  exit 1
fi
