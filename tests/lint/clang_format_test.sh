#!/usr/bin/env bash
# Every C++ file of the tree is formatted as .clang-format says (clang-format --dry-run
# --Werror): the style is applied, not only checked in. Lists the files that differ and how
# to fix them. Usage: clang_format_test.sh SOURCE_DIR. Skips (77) when clang-format is not
# installed, unless COUNTERSIGN_REQUIRE_INTEGRATION=1.
set -euo pipefail
src=${1:?usage: clang_format_test.sh SOURCE_DIR}
tool=$(command -v clang-format-14 || command -v clang-format || true)
if [ -z "$tool" ]; then
  if [ "${COUNTERSIGN_REQUIRE_INTEGRATION:-0}" = 1 ]; then echo "FAIL (required): clang-format is not installed" >&2; exit 1; fi
  echo "SKIP: clang-format is not installed (apt-get install clang-format)"; exit 77
fi
cd "$src"
# The C++ sources wherever they are; not the build trees or node_modules.
mapfile -t files < <(find . \( -path './build*' -o -path './.git' -o -path '*/node_modules' \) -prune -o \
  -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.cpp.in' \) -print | LC_ALL=C sort)
[ ${#files[@]} -gt 100 ] || { echo "FAIL: found only ${#files[@]} C++ files under $src" >&2; exit 1; }
bad=()
for f in "${files[@]}"; do
  "$tool" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "FAIL: ${#bad[@]} of ${#files[@]} files are not formatted as .clang-format says:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "fix: $tool -i ${bad[*]}" >&2
  exit 1
fi
echo "clang-format: ${#files[@]} files formatted"
