#!/usr/bin/env bash
# Benchmark: countersignd installing a model of 8 files from nginx on loopback, against
# aria2c (per-file --checksum=sha-256, same parallelism) and against curl (parallel) followed
# by sha256sum. Prints wall times, ratios (peer time / ours: >= 1 means we are faster) and the
# daemon's peak RSS, and what the System component's re-hash of every staged file costs.
# Targets: at least as fast as aria2c; peak RSS under 64 MiB; the re-hash makes the
# install at most 15% slower.
#
# Usage: tests/bench/install_bench.sh BUILD_DIR [TOTAL_MIB]   (default 4096: 8 files of 512 MiB)
# Needs nginx-light, aria2, curl (scripts/setup.sh installs the first two; curl is Debian's).
set -euo pipefail
bench_dir=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
total_mib=${2:-4096}
cs="$build/cli/countersign"
files=8
parallel=4
per_mib=$((total_mib / files))
work=$(mktemp -d /tmp/countersign-install-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}" ${box_pid:+"$box_pid"}; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"

echo "== install bench: $files files x $per_mib MiB from nginx on 127.0.0.1, $parallel at a time"
mkdir -p www/model
for i in $(seq 1 $files); do
  head -c $((per_mib * 1024 * 1024)) /dev/urandom > "www/model/shard-$i.bin"
done
# shellcheck source=../../scripts/lib/local-mirror.sh
. "$bench_dir/../../scripts/lib/local-mirror.sh"
start_local_mirror "$work/nginx" "$work/www"; pids+=("$mirror_pid")
url="http://127.0.0.1:$mirror_port/model/"

# Approval: a 1-of-1 policy is enough to measure the install.
# shellcheck source=lib/box.sh
. "$bench_dir/lib/box.sh"
bench_approve "$work" www/model "$url"
python3 - <<'PY' > checksums.txt
import json
m = json.load(open("manifest.json"))
for f in m["files"]:
    print(f["sha256"], f["path"])
PY

sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
# Page cache: the served files stay cached (as on a LAN mirror); every tool writes fresh files.
cat www/model/* > /dev/null

# --- countersignd ---
bench_box_start "$work" "parallel = $parallel"
bench_box_install "$work"
ours=$install_seconds check=$check_seconds rss_kib=$box_rss_kib
bench_box_stop "$work"

# --- aria2c with per-file SHA-256 ---
: > aria.txt
while read -r sum path; do
  printf '%s\n  out=%s\n  checksum=sha-256=%s\n' "$url$path" "$path" "$sum" >> aria.txt
done < checksums.txt
mkdir -p aria
t0=$(bench_now)
aria2c -q -i aria.txt -d aria -j $parallel -x 1 --file-allocation=none --check-integrity=true --allow-overwrite=true
t1=$(bench_now)
aria=$(python3 -c "print($t1-$t0)")
rm -rf aria

# --- curl (parallel), then sha256sum ---
mkdir -p curl
args=()
while read -r _ path; do args+=(-o "curl/$path" "$url$path"); done < checksums.txt
t0=$(bench_now)
curl -s --no-progress-meter --parallel --parallel-max $parallel "${args[@]}"
(cd curl && sha256sum --quiet -c ../checksums.txt)
t1=$(bench_now)
curlt=$(python3 -c "print($t1-$t0)")
rm -rf curl

python3 - "$ours" "$aria" "$curlt" "$rss_kib" "$total_mib" "$check" <<'PY'
import sys
ours, aria, curl, rss, mib = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
check = float(sys.argv[6])
print(f"countersignd submit --wait : {ours:7.2f} s  ({mib/ours:7.1f} MiB/s, verified, installed read-only)")
print(f"  of which the helper's seal + re-hash + rename: {check:.2f} s; the install is {ours/(ours-check):.2f}x the time without it (target <= 1.15)")
print(f"aria2c --checksum          : {aria:7.2f} s  ratio aria2c/ours = {aria/ours:.2f}  (target >= 1.0)")
print(f"curl --parallel + sha256sum: {curl:7.2f} s  ratio curl+sha256sum/ours = {curl/ours:.2f}")
print(f"countersignd peak RSS      : {rss/1024:7.1f} MiB  (target < 64 MiB)")
PY
