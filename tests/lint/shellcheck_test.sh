#!/usr/bin/env bash
# Every shell script of the tree passes shellcheck at severity "warning" (errors and warnings;
# infos and style notes are left to review). Sourced files are followed (-x) from each
# script's own directory. Usage: shellcheck_test.sh SOURCE_DIR. Skips (77) when the tool is
# not installed, unless COUNTERSIGN_REQUIRE_INTEGRATION=1.
set -euo pipefail
src=${1:?usage: shellcheck_test.sh SOURCE_DIR}
if ! command -v shellcheck >/dev/null; then
  if [ "${COUNTERSIGN_REQUIRE_INTEGRATION:-0}" = 1 ]; then echo "FAIL (required): shellcheck is not installed" >&2; exit 1; fi
  echo "SKIP: shellcheck is not installed (apt-get install shellcheck)"; exit 77
fi
cd "$src"
# Every *.sh, and the extension-less scripts (.ci/run), wherever they are; not the build trees.
mapfile -t scripts < <(find . -path './build*' -prune -o -path './.git' -prune -o \
  -type f \( -name '*.sh' -o -path './.ci/*' \) -print | LC_ALL=C sort)
[ ${#scripts[@]} -gt 5 ] || { echo "FAIL: found only ${#scripts[@]} scripts under $src" >&2; exit 1; }
shellcheck -x -P SCRIPTDIR -S warning "${scripts[@]}"
echo "shellcheck: ${#scripts[@]} scripts clean at severity warning"
