# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154 # sets and reads the caller's variables
# Sourced by the install benchmarks (tests/bench/install_bench.sh, fetch_bench.sh): a box on
# this machine (countersignd + countersign-system from BUILD, state in a temp directory) and
# a 1-of-1 approval of a model served from a local mirror.
#
#   bench_approve DIR MODEL_DIR URL   manifest of MODEL_DIR (source URL), policy, proposal,
#                                     signature and bundle in DIR; sets bench_job (the job id)
#   bench_box_start DIR [CONF_LINE...] a fresh box in DIR/box running DIR's policy, with the
#                                     extra config lines given; sets box_pid, box_sock
#   bench_box_install DIR             submits DIR/bundle.json and waits; sets install_seconds,
#                                     check_seconds (the helper's install step: re-hash of
#                                     what was not sealed ahead, rename), fetch_seconds (the
#                                     daemon's fetch), seal_wait_seconds (the wait after the fetch
#                                     for the helper's hashing ahead: a large file's re-hash),
#                                     box_rss_kib (countersignd's peak RSS) and box_cpu_seconds
#                                     (countersignd and the helpers it waited for, user + system)
#   bench_box_stop DIR                stops countersignd and removes the box's state
#
# Needs $cs (the countersign CLI) and $build (the build tree) set by the caller.

bench_now() { date +%s.%N; }

bench_approve() {
  local dir=$1 model=$2 url=$3
  mkdir -p "$dir"
  printf 'bench\n' > "$dir/pw"
  "$cs" manifest create --name bench --version 1 --license MIT --source "$url" -o "$dir/manifest.json" "$model" 2>/dev/null
  "$cs" key generate --out "$dir/a.key" --passphrase-file "$dir/pw" > "$dir/a.pub.json" 2>/dev/null
  "$cs" policy create --domain bench --approver "a:$dir/a.pub.json" --rule install-model=1 -o "$dir/policy.json" >/dev/null 2>&1
  "$cs" proposal create --domain bench --action install-model --manifest "$dir/manifest.json" --expires 1d \
    -o "$dir/p.json" 2>/dev/null
  "$cs" sign --key "$dir/a.key" --passphrase-file "$dir/pw" "$dir/p.json" -o "$dir/a.sig" 2>/dev/null
  "$cs" bundle assemble --proposal "$dir/p.json" --manifest "$dir/manifest.json" "$dir/a.sig" -o "$dir/bundle.json" 2>/dev/null
  [ -f "$dir/log.key" ] || "$cs" log keygen --name bench/audit --out "$dir/log.key" >/dev/null 2>&1
  bench_job=$("$cs" hash "$dir/p.json")
  bench_job=${bench_job#sha256:}
}

bench_box_start() {
  local dir=$1; shift
  rm -rf "$dir/box"
  mkdir -p "$dir/box/state/models/.staging"
  {
    echo "policy = $dir/policy.json"
    echo "state_dir = $dir/box/state"
    echo "box_id = bench"
    echo "log_key = $dir/log.key"
    echo "socket = $dir/box/cs.sock"
    echo "helper = $build/system/countersign-system"
    local line
    for line in "$@"; do echo "$line"; done
  } > "$dir/box/countersignd.conf"
  export COUNTERSIGN_SYSTEM_CONFIG="$dir/box/countersignd.conf"
  "$build/daemon/countersignd" --config "$dir/box/countersignd.conf" 2> "$dir/box/log" &
  box_pid=$!
  box_sock=$dir/box/cs.sock
  local _
  for _ in $(seq 100); do "$cs" box status --socket "$box_sock" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "countersignd did not start: $(cat "$dir/box/log")" >&2
  return 1
}

# user + system seconds of a process and of the children it waited for (/proc/PID/stat
# fields 14-17, in clock ticks).
bench_cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13 + $14 + $15) / hz }' "/proc/$1/stat"
}

bench_box_install() {
  local dir=$1 t0 t1
  t0=$(bench_now)
  if ! "$cs" submit "$dir/bundle.json" --socket "$box_sock" --wait >/dev/null 2> "$dir/submit.err"; then
    echo "the install failed: $(cat "$dir/submit.err"); countersignd: $(tail -5 "$dir/box/log")" >&2
    return 1
  fi
  t1=$(bench_now)
  install_seconds=$(python3 -c "print($t1 - $t0)")
  box_rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$box_pid/status")
  box_cpu_seconds=$(bench_cpu_seconds "$box_pid")
  local times
  times=$("$cs" box job "$bench_job" --socket "$box_sock" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)["result"]
t = r.get("timings", {})
print(r["check_seconds"], t.get("fetch_seconds", "nan"), t.get("seal_wait_seconds", "nan"))')
  read -r check_seconds fetch_seconds seal_wait_seconds <<<"$times"
}

bench_box_stop() {
  local dir=$1
  kill "$box_pid" 2>/dev/null || true
  wait "$box_pid" 2>/dev/null || true
  rm -rf "$dir/box"
}
