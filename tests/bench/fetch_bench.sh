#!/usr/bin/env bash
# Benchmark: how fast the box installs from a mirror, against what users would pick instead
# (docs/benchmarks.md "Fetching"). Four measurements, each a whole `submit --wait` on a fresh
# box (countersignd + countersign-system from BUILD_DIR) fetching from nginx on 127.0.0.1:
#
#   1 capped   a model of 2 files from a mirror that caps each connection (nginx limit_rate
#              per request), against aria2c -x8 -s8 -k8M --checksum with as many connections,
#              and against the limit (connections x cap, or what a bare curl moves over
#              loopback, whichever is slower). Targets >= 1.0x aria2c, >= 0.85x the limit.
#   2 warm     the same model without a cap, page cache warm: against parallel curl -o + sync
#              (no verification, the same durability) >= 0.9x, and aria2c --checksum >= 1.5x.
#   3 big      one large file: from the last byte on disk to install-complete in the audit log
#              (target < 1 s plus the helper's re-hash, which is reported on its own).
#   4 shards   160 files of 32 MiB (DeepSeek-R1's 163 shards, scaled down): CPU per file on
#              the box, from the same bytes as 5 files: (CPU(160) - CPU(5)) / 155 (< 2 ms);
#              both one connection a file, so that only the number of files differs.
#
# Ratios are peer time / ours (>= 1 means we are faster). Nothing here is asserted.
#
# Usage: tests/bench/fetch_bench.sh BUILD_DIR
#   COUNTERSIGN_FETCH_BENCH="1 2 3 4"   which of them to run
#   COUNTERSIGN_FETCH_BENCH_MIB=1024    size of the 2-file model (1, 2)
#   COUNTERSIGN_FETCH_BENCH_CAP=40m     nginx limit_rate per connection (1)
#   COUNTERSIGN_FETCH_BENCH_BIG_MIB=8192  the one large file (3)
#   COUNTERSIGN_FETCH_BENCH_SHARDS=160 COUNTERSIGN_FETCH_BENCH_SHARD_MIB=32  (4)
#   COUNTERSIGN_FETCH_BENCH_ROUNDS=3    rounds of 1, 2 and 4 (each contender's best counts)
#   COUNTERSIGN_FETCH_BENCH_KEEP=1      keep the work directory (without the models): the
#                                       mirror's access log, each box's state and log
# Needs nginx-light, aria2 and curl (scripts/setup.sh installs them), and as much free disk
# as twice the largest model.
set -euo pipefail
bench_dir=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
cs="$build/cli/countersign"
which_runs=${COUNTERSIGN_FETCH_BENCH:-1 2 3 4}
two_mib=${COUNTERSIGN_FETCH_BENCH_MIB:-1024}
cap=${COUNTERSIGN_FETCH_BENCH_CAP:-40m}
big_mib=${COUNTERSIGN_FETCH_BENCH_BIG_MIB:-8192}
shards=${COUNTERSIGN_FETCH_BENCH_SHARDS:-160}
shard_mib=${COUNTERSIGN_FETCH_BENCH_SHARD_MIB:-32}
rounds=${COUNTERSIGN_FETCH_BENCH_ROUNDS:-3}
conns=8 # connections_per_file, the config default; aria2c gets as many (-x8 -s8)
work=$(mktemp -d "${TMPDIR:-/tmp}/countersign-fetch-bench.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}" ${box_pid:+"$box_pid"}; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${COUNTERSIGN_FETCH_BENCH_KEEP:-0}" = 1 ]; then
    rm -rf "$work/www"
    echo "kept $work (the mirror's access log: $work/nginx/access.log, each box's log: $work/*/box/log)"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
cd "$work"
# shellcheck source=lib/box.sh
. "$bench_dir/lib/box.sh"
# shellcheck source=../../scripts/lib/local-mirror.sh
. "$bench_dir/../../scripts/lib/local-mirror.sh"

runs() { case " $which_runs " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
py() { python3 -c "$@"; }

# make_model DIR COUNT MIB: COUNT files of MIB MiB of pseudo-random bytes (AES-CTR of zeros:
# incompressible, and much faster to make than /dev/urandom).
make_model() {
  local dir=$1 count=$2 mib=$3 i
  mkdir -p "$dir"
  for i in $(seq -w 1 "$count"); do
    # openssl ends on SIGPIPE when head has enough: not a failure.
    { openssl enc -aes-128-ctr -pbkdf2 -nosalt -pass "pass:$dir-$i" < /dev/zero 2>/dev/null || true; } |
      head -c "$((mib * 1024 * 1024))" > "$dir/shard-$i.bin"
  done
}

# aria2c over the files of manifest M from URL, each with its SHA-256 checked; prints seconds.
aria() {
  local m=$1 url=$2 jobs=$3 t0 t1
  py 'import json,sys
for f in json.load(open(sys.argv[1]))["files"]:
    print(sys.argv[2] + f["path"]); print("  out=" + f["path"]); print("  checksum=sha-256=" + f["sha256"])' \
    "$m" "$url" > aria.txt
  rm -rf aria
  t0=$(bench_now)
  aria2c -q -i aria.txt -d aria -j "$jobs" -x $conns -s $conns -k 8M --file-allocation=none \
    --check-integrity=true --allow-overwrite=true
  t1=$(bench_now)
  rm -rf aria
  py "print($t1 - $t0)"
}

# Parallel curl -o of the files of manifest M from URL, nothing verified; with "sync", then
# sync(1) (the durability of an install). Prints seconds.
curl_all() {
  local m=$1 url=$2 then_sync=${3:-} t0 t1 args=() path
  rm -rf curl; mkdir -p curl
  while read -r path; do args+=(-o "curl/$path" "$url$path"); done < <(
    py 'import json,sys
for f in json.load(open(sys.argv[1]))["files"]: print(f["path"])' "$m")
  t0=$(bench_now)
  curl -s --no-progress-meter --parallel --parallel-max 16 "${args[@]}"
  if [ "$then_sync" = sync ]; then sync; fi
  t1=$(bench_now)
  rm -rf curl
  py "print($t1 - $t0)"
}

# box_run NAME MODEL URL [CONF_LINE...]: installs MODEL (a directory under www/) from URL on
# a fresh box; sets install_seconds, check_seconds, box_rss_kib, box_cpu_seconds.
box_run() {
  local name=$1 model=$2 url=$3; shift 3
  rm -rf "${work:?}/$name"  # an earlier round's keys and bundle
  bench_approve "$work/$name" "www/$model" "$url"
  bench_box_start "$work/$name" "$@"
  bench_box_install "$work/$name"
  bench_box_stop "$work/$name"
}

echo "== fetch bench, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), SHA extensions: $(grep -q -w sha_ni /proc/cpuinfo && echo yes || echo no)"
mkdir -p www
start_local_mirror "$work/nginx" "$work/www" "$cap"; pids+=("$mirror_pid")
base="http://127.0.0.1:$mirror_port"

if runs 1 || runs 2; then
  make_model www/two 2 $((two_mib / 2))
  cat www/two/* > /dev/null  # the mirror's files in the page cache, as on a LAN mirror
fi

# Rounds: each contender runs $rounds times, in an order that rotates every round, and its
# fastest round counts. On a VM the first writes into memory the guest has not touched yet
# cost several times more than later ones, and whoever runs first pays for them.
# keep_best: after a box_run, the fastest round's figures in best_* (install, fetch, helper, RSS).
keep_best() {
  if [ -z "${best_install:-}" ] || py "import sys; sys.exit(0 if $install_seconds < $best_install else 1)"; then
    best_install=$install_seconds best_fetch=$fetch_seconds best_rss=$box_rss_kib
    best_helper=$(py "print($seal_wait_seconds + $check_seconds)")
  fi
}
# min_into VAR SECONDS: VAR = min(VAR, SECONDS)
min_into() {
  local v=${!1:-}
  if [ -z "$v" ] || py "import sys; sys.exit(0 if $2 < $v else 1)"; then printf -v "$1" '%s' "$2"; fi
}
# rotated I N: the numbers 0..N-1 starting at I % N
rotated() { local i; for i in $(seq 0 $(($2 - 1))); do echo $((($1 + i) % $2)); done; }

# best_of_rounds NAME URL [sync]: $rounds rounds of countersignd (box_run NAME two URL, 8
# connections a file, 2 files at once), aria2c from URL and a bare curl from the mirror's
# uncapped /two/ (then sync(1) when asked), in rotating order; sets best_* (ours), aria_t and
# curl_t (each contender's fastest round).
best_of_rounds() {
  local name=$1 url=$2 then_sync=${3:-} r c
  best_install='' aria_t='' curl_t=''
  for r in $(seq 0 $((rounds - 1))); do
    for c in $(rotated "$r" 3); do
      case $c in
        0) box_run "$name" two "$url" "parallel = 2" "connections_per_file = $conns"; keep_best ;;
        1) min_into aria_t "$(aria "$work/$name/manifest.json" "$url" 2)" ;;
        2) min_into curl_t "$(curl_all "$work/$name/manifest.json" "$base/two/" "$then_sync")" ;;
      esac
    done
  done
}

if runs 1; then
  echo "== 1: 2 files x $((two_mib / 2)) MiB, each connection capped at $cap/s, $conns connections a file, best of $rounds"
  best_of_rounds capped "$base/capped/two/"
  py "
import re
mib, ours, aria, curl = $two_mib, $best_install, $aria_t, $curl_t
m = re.fullmatch(r'(\d+)([km]?)', '$cap'); cap = int(m[1]) * {'': 1, 'k': 1024, 'm': 1 << 20}[m[2]]
capped = mib * (1 << 20) / (2 * $conns * cap)
limit = max(capped, curl)
print(f'countersignd       : {ours:7.2f} s  ({mib / ours:7.1f} MiB/s), peak RSS {$best_rss / 1024:.1f} MiB')
print(f'                     the fetch {$best_fetch:.2f} s, then the helper {$best_helper:.2f} s')
print(f'aria2c -x$conns -s$conns    : {aria:7.2f} s  ratio aria2c/ours = {aria / ours:.2f} (target >= 1.0)')
print(f'the limit          : {limit:7.2f} s  (2 x $conns connections x $cap/s: {capped:.2f} s; bare curl over loopback: {curl:.2f} s)')
print(f'                               ratio limit/ours = {limit / ours:.2f} (target >= 0.85)')
print(f'                               ratio limit/our fetch = {limit / $best_fetch:.2f} (without the helper)')
"
fi

if runs 2; then
  echo "== 2: the same 2 files, no cap, page cache warm, best of $rounds"
  best_of_rounds warm "$base/two/" sync
  py "
mib, ours, curl, aria = $two_mib, $best_install, $curl_t, $aria_t
print(f'countersignd       : {ours:7.2f} s  ({mib / ours:7.1f} MiB/s), peak RSS {$best_rss / 1024:.1f} MiB')
print(f'                     the fetch {$best_fetch:.2f} s, then the helper {$best_helper:.2f} s')
print(f'curl -o + sync     : {curl:7.2f} s  ratio curl/ours = {curl / ours:.2f} (target >= 0.9)')
print(f'aria2c --checksum  : {aria:7.2f} s  ratio aria2c/ours = {aria / ours:.2f} (target >= 1.5)')
"
fi
rm -rf www/two

if runs 3; then
  echo "== 3: one file of $big_mib MiB: from its last byte to install-complete"
  make_model www/big 1 "$big_mib"
  cat www/big/* > /dev/null
  bench_approve "$work/big" www/big "$base/big/"
  bench_box_start "$work/big" "connections_per_file = $conns"
  size=$((big_mib * 1024 * 1024))
  # Watches the partial file (every byte on disk: its allocated blocks cover its size, as
  # ranges land out of order) and the audit log (install-complete appended), every 2 ms.
  python3 - "$work/big/box/state" "$size" > big.times <<'PY' & watcher=$!
import glob, os, sys, time
state, size = sys.argv[1], int(sys.argv[2])
last_byte = None
deadline = time.time() + 3600
while time.time() < deadline:
    if last_byte is None:
        for p in glob.glob(state + "/models/.staging/*.parts/0"):
            try:
                if os.stat(p).st_blocks * 512 >= size:
                    last_byte = time.time()
            except FileNotFoundError:
                pass
    for p in glob.glob(state + "/log/*"):
        try:
            with open(p, "rb") as f:
                if b"install-complete" in f.read():
                    print(last_byte if last_byte is not None else "nan", time.time())
                    sys.exit(0)
        except (IsADirectoryError, FileNotFoundError):
            pass
    time.sleep(0.002)
PY
  pids+=("$watcher")
  bench_box_install "$work/big"
  wait "$watcher" || true
  bench_box_stop "$work/big"
  read -r last_byte logged < big.times
  py "
last, logged, check, seal, total = $last_byte, $logged, $check_seconds, $seal_wait_seconds, $install_seconds
helper = seal + check
print(f'countersignd       : {total:7.2f} s  ({$big_mib / total:7.1f} MiB/s), peak RSS {$box_rss_kib / 1024:.1f} MiB')
print(f'last byte on disk -> install-complete: {logged - last:.2f} s, of which the helper re-hashing {helper:.2f} s')
print(f'                   (the seal ahead after the fetch {seal:.2f} s, the install step {check:.2f} s)')
print(f'                               without the helper: {logged - last - helper:.2f} s (target < 1 s)')
"
  rm -rf www/big
fi

if runs 4; then
  total_mib=$((shards * shard_mib))
  echo "== 4: $shards files x $shard_mib MiB against the same $total_mib MiB in 5 files: CPU per file on the box"
  make_model www/shards "$shards" "$shard_mib"
  make_model www/five 5 $((total_mib / 5))
  cat www/shards/* www/five/* > /dev/null
  # Both runs one connection a file (no file is fetched in ranges), so that what differs is
  # the number of files, not the way they are fetched.
  # Rounds in rotating order, the least CPU of each counting (see "Rounds" above).
  five_t='' five_cpu='' shards_t='' shards_cpu='' shards_rss=0
  for r in $(seq 0 $((rounds - 1))); do
    for c in $(rotated "$r" 2); do
      if [ "$c" = 0 ]; then
        box_run five five "$base/five/" "range_threshold = 1024GiB"
        min_into five_t "$install_seconds"; min_into five_cpu "$box_cpu_seconds"
      else
        box_run shards shards "$base/shards/" "range_threshold = 1024GiB"
        min_into shards_t "$install_seconds"; min_into shards_cpu "$box_cpu_seconds"
        shards_rss=$((box_rss_kib > shards_rss ? box_rss_kib : shards_rss))
      fi
    done
  done
  py "
n, t, cpu, t5, cpu5 = $shards, $shards_t, $shards_cpu, $five_t, $five_cpu
print(f'{n} files          : {t:7.2f} s, box CPU {cpu:.2f} s; peak RSS {$shards_rss / 1024:.1f} MiB')
print(f'5 files            : {t5:7.2f} s, box CPU {cpu5:.2f} s')
print(f'CPU per file       : {(cpu - cpu5) / (n - 5) * 1000:.2f} ms (target < 2 ms)')
"
  rm -rf www/shards www/five
fi
