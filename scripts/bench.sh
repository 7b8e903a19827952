#!/usr/bin/env bash
# Benchmarks, with ratios against peer tools doing the same work. Not part of the tests:
# timings depend on the machine. Usage: scripts/bench.sh [DATA_MIB]   (default 1024)
#
#   manifest create   vs sequential `openssl dgst -sha256` (target >= 1.6x on 2 cores)
#                     and `sha256sum` (target >= 5x) over the same files, page cache warm
#   JCS canon         100,000-file manifest vs node + the canonicalize npm package (>= 3x)
#   bundle verify     5-of-9 in process (< 1 ms)
#   audit log         appends/s with fsync, proof generation at 1 M entries
#                     (COUNTERSIGN_LOG_BENCH_ENTRIES=N for a shorter run)
#   install           countersignd installing 8 files from nginx vs aria2c and curl + sha256sum
#                     (COUNTERSIGN_INSTALL_BENCH_MIB=N total, default 4096)
#   fetch             ranged fetching: capped mirror vs aria2c -x8 and the link's limit, warm
#                     vs curl + sync and aria2c, last byte to install-complete of one large
#                     file, CPU per file of 160 shards (tests/bench/fetch_bench.sh, its env)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build"  # RelWithDebInfo (-O2), the same binaries the tests use
mib=${1:-1024}
"$here/scripts/setup.sh" "$build" -DCOUNTERSIGN_BUILD_BENCH=ON
cs="$build/cli/countersign"
work=$(mktemp -d /tmp/countersign-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

# best_of N CMD...: prints the best wall time in seconds over N runs.
best_of() {
  local n=$1; shift
  local best=""
  for _ in $(seq "$n"); do
    local t0 t1
    t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N)
    best=$(python3 -c "t=$t1-$t0; b='$best'; print(t if b=='' or t<float(b) else b)")
  done
  echo "$best"
}
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }

echo "== audit log: appends/s with fsync; proofs at ${COUNTERSIGN_LOG_BENCH_ENTRIES:-1000000} entries"
"$build/tests/bench/log_bench" "$work/log" "${COUNTERSIGN_LOG_BENCH_ENTRIES:-1000000}"

echo "== bundle verify"
"$build/tests/bench/verify_bench"

echo "== JCS: 100,000-file manifest"
"$build/tests/bench/make_big_manifest" 100000 > "$work/big.json"
ours=$(best_of 5 "$cs" canon "$work/big.json")
cat > "$work/canon.js" <<'JS'
// canonicalize 4 is an ES module only: load it with a dynamic import.
const fs = require('fs');
const path = require('path');
(async () => {
const mod = await import(path.join(process.env.NODE_MODULES_DIR, 'canonicalize', 'lib', 'canonicalize.js'));
const canonicalize = mod.default || mod;
const text = fs.readFileSync(process.argv[2], 'utf8');
let best = Infinity;
for (let i = 0; i < 5; i++) {
  const t0 = process.hrtime.bigint();
  const out = canonicalize(JSON.parse(text));
  const t = Number(process.hrtime.bigint() - t0) / 1e9;
  if (out.length === 0) throw new Error('empty');
  best = Math.min(best, t);
}
console.log(best);
})();
JS
node_t=$(NODE_MODULES_DIR="$build/npm/node_modules" node "$work/canon.js" "$work/big.json")
ours_inproc=$("$build/tests/bench/jcs_bench" "$work/big.json" 5)
ours_dom=$("$build/tests/bench/jcs_bench" "$work/big.json" 5 --dom)
echo "in process, text to canonical text, file in memory: countersign ${ours_inproc}s, node ${node_t}s"
echo "ratio node/countersign (in process): $(ratio "$node_t" "$ours_inproc")x (target >= 3x)"
echo "countersign through a DOM (jcs::parse + jcs::serialize, what document parsing uses):" \
  "${ours_dom}s, ratio against node $(ratio "$node_t" "$ours_dom")x"
echo "countersign canon as a whole process (start, read 16 MB, parse, write): ${ours}s;" \
  "ratio against node in process: $(ratio "$node_t" "$ours")x"

echo "== manifest create: ${mib} MiB in 32 large files + 2000 small files"
mkdir -p "$work/model/small"
per=$((mib / 32))
for i in $(seq -w 1 32); do head -c "$((per * 1024 * 1024))" /dev/urandom > "$work/model/shard-$i.bin"; done
for i in $(seq 1 2000); do head -c 4096 /dev/urandom > "$work/model/small/f$i"; done
find "$work/model" -type f -exec cat {} + > /dev/null
mapfile -t files < <(cd "$work/model" && find . -type f | sort)
cd "$work/model"
ours=$(best_of 3 "$cs" manifest create --name b --version 1 --license MIT .)
openssl_t=$(best_of 3 openssl dgst -sha256 "${files[@]}")
sha256sum_t=$(best_of 3 sha256sum "${files[@]}")
echo "countersign: ${ours}s  openssl dgst: ${openssl_t}s  sha256sum: ${sha256sum_t}s  ($(nproc) cores)"
echo "ratio vs sequential openssl: $(ratio "$openssl_t" "$ours")x (target >= 1.6x on 2 cores)"
echo "ratio vs sha256sum:          $(ratio "$sha256sum_t" "$ours")x (target >= 5x)"

echo
cd "$here"
"$here/tests/bench/install_bench.sh" "$build" "${COUNTERSIGN_INSTALL_BENCH_MIB:-4096}"

echo
"$here/tests/bench/fetch_bench.sh" "$build"
