#!/usr/bin/env bash
# The module graph of docs/architecture.md: CMake's own --graphviz output of the project's
# libraries and the four programs (no tests, fuzzers, benchmarks or external libraries),
# written to docs/architecture/modules.dot and rendered to modules.svg with Graphviz.
#
#   scripts/module-graph.sh        (needs cmake, graphviz's dot and the build dependencies:
#                                   scripts/setup.sh installs them, apt-get install graphviz)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/docs/architecture"
command -v dot >/dev/null || { echo "module-graph.sh: dot is not installed (apt-get install graphviz)" >&2; exit 2; }
work=$(mktemp -d /tmp/countersign-graph.XXXXXX)
trap 'rm -rf "$work"' EXIT
# CMake reads these options from the build directory.
cat >"$work/CMakeGraphVizOptions.cmake" <<'OPTIONS'
set(GRAPHVIZ_GRAPH_NAME "countersign")
set(GRAPHVIZ_EXTERNAL_LIBS FALSE)
set(GRAPHVIZ_INTERFACE_LIBS FALSE)
set(GRAPHVIZ_CUSTOM_TARGETS FALSE)
set(GRAPHVIZ_GENERATE_PER_TARGET FALSE)
set(GRAPHVIZ_GENERATE_DEPENDERS FALSE)
set(GRAPHVIZ_IGNORE_TARGETS "_test$" "_fuzz$" "_replay$" "bench" "fixture" "virtual" "^gtest" "^gmock"
    "tool" "fake" "stub" "_test_util$" "^cs_" "soak" "^make_")
OPTIONS
cmake -S "$here" -B "$work" -DCOUNTERSIGN_BUILD_APP=ON --graphviz="$work/modules.dot" >"$work/configure.log" 2>&1 ||
  { tail -n 20 "$work/configure.log" >&2; exit 1; }
mkdir -p "$out"
# Left to right, and without CMake's legend (the doc explains the shapes).
sed -e 's/^digraph "countersign" {/digraph "countersign" {\n  rankdir = "LR";/' \
  -e '/subgraph clusterLegend/,/^}/d' "$work/modules.dot" >"$out/modules.dot"
dot -Tsvg "$out/modules.dot" -o "$out/modules.svg"
echo "wrote $out/modules.dot and $out/modules.svg ($(grep -c 'shape' "$out/modules.dot") targets)"
