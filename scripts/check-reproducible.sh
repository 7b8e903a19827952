#!/usr/bin/env bash
# Builds the Debian packages twice from one commit and checks that they are byte-identical.
# Usage: scripts/check-reproducible.sh [OUTDIR [COMMIT]]
#        scripts/check-reproducible.sh --compare DIR_A DIR_B
#
# The two builds differ in what must not matter: the directory (different names and depths),
# the wall clock (one after the other), the time zone, the locale and the umask. Both take
# SOURCE_DATE_EPOCH from the commit time, as scripts/build-debs.sh does. Prints the SHA-256 of
# every package; exits 1 when any differs and says which files in it differ.
#
# OUTDIR (default build/debs-repro) receives the first build's packages; CI installs those
# (tests/packaging/install_test.sh). COMMIT defaults to HEAD; the builds use `git archive` of
# it, so uncommitted changes are not part of the check.
#
# --compare only compares two directories of packages built elsewhere, the same way (an
# auditor's own build against the packages a box runs, for instance). Both comparisons first
# compare the build environments the two .buildinfo files record (scripts/build-debs.sh puts
# one beside the packages): the build architecture and the exact version of every installed
# build dependency, naming each one that differs, so that packages that differ because one
# was built with libssl-dev 3.0.19 and the other with 3.0.22 say so.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

# show_diff A B: which members of the two .debs differ (control and data), file by file.
show_diff() {
  local a=$1 b=$2 x
  x="$base/diff/$(basename "$1")"
  mkdir -p "$x/a" "$x/b"
  echo "   ar members:"
  diff <(ar tv "$a") <(ar tv "$b") | sed 's/^/     /' || true
  for side in a b; do
    local deb=$a
    [ $side = b ] && deb=$b
    dpkg-deb -c "$deb" >"$x/$side.list"
    dpkg-deb -R "$deb" "$x/$side/root"
  done
  echo "   dpkg-deb -c (owners, modes, sizes, times, order):"
  diff "$x/a.list" "$x/b.list" | sed 's/^/     /' || true
  echo "   files whose contents differ:"
  (cd "$x/a/root" && find . -type f | LC_ALL=C sort) | while read -r f; do
    if [ ! -f "$x/b/root/$f" ]; then
      echo "     $f (only in the first build)"
    elif ! cmp -s "$x/a/root/$f" "$x/b/root/$f"; then
      echo "     $f: $(cd "$x" && cmp "a/root/$f" "b/root/$f" 2>&1 | head -n 1)"
    fi
  done
  echo "   for a full report: diffoscope $a $b"
}

# build_deps FILE: "name version" per line, sorted, from a .buildinfo's Installed-Build-Depends
# ("libssl-dev (= 3.0.19-1~deb12u2)," continuation lines), then "Build-Architecture arch".
build_deps() {
  {
    awk '/^Installed-Build-Depends:/ { f = 1; next }
         f && /^ / { sub(/^ +/, ""); sub(/,$/, ""); print; next }
         { f = 0 }' "$1" | sed -E 's/^([^ ]+) \(= (.*)\)$/\1 \2/'
    sed -n 's/^Build-Architecture: */Build-Architecture /p' "$1"
  } | LC_ALL=C sort
}

# compare_environments DIR_A DIR_B: what the two .buildinfo files record differently; sets
# `env_differences` (-1 when a .buildinfo is missing, so nothing can be said).
compare_environments() {
  local dir_a=$1 dir_b=$2 f
  local infos_a=("$dir_a"/*.buildinfo) infos_b=("$dir_b"/*.buildinfo)
  env_differences=-1
  for f in "$dir_a" "$dir_b"; do
    local infos=("$f"/*.buildinfo)
    if [ ${#infos[@]} -ne 1 ]; then
      echo "== build environment: $f has ${#infos[@]} .buildinfo files (expected one); environments not compared"
      return 0
    fi
  done
  build_deps "${infos_a[0]}" >"$base/env-a"
  build_deps "${infos_b[0]}" >"$base/env-b"
  echo "== build environment ($(basename "${infos_a[0]}") | $(basename "${infos_b[0]}"))"
  # name, first version, second version ("-" where a side does not have it); only differences.
  LC_ALL=C join -a1 -a2 -e - -o 0,1.2,2.2 "$base/env-a" "$base/env-b" |
    awk '$2 != $3 { printf "   %s: %s in the first, %s in the second\n", $1, $2, $3 }' >"$base/env-diff"
  env_differences=$(wc -l <"$base/env-diff")
  if [ "$env_differences" -eq 0 ]; then
    echo "   the same: $(wc -l <"$base/env-a") build dependencies and the architecture, version for version"
  else
    echo "   $env_differences differ:"
    cat "$base/env-diff"
  fi
}

# compare DIR_A DIR_B: SHA-256 of each package, identical or not, and what differs; sets
# `identical` to the number of identical packages and returns 1 on any difference.
compare() {
  local dir_a=$1 dir_b=$2 status=0 n a b sa sb f
  local names=()
  shopt -s nullglob
  for f in "$dir_a"/*.deb "$dir_a"/*.ddeb; do names+=("$(basename "$f")"); done
  for f in "$dir_b"/*.deb "$dir_b"/*.ddeb; do
    [ -e "$dir_a/$(basename "$f")" ] || { echo "only in the second build: $(basename "$f")"; status=1; }
  done
  [ ${#names[@]} -gt 0 ] || { echo "check-reproducible: no packages in $dir_a" >&2; return 1; }
  compare_environments "$dir_a" "$dir_b"
  echo "== SHA-256 (first build | second build)"
  identical=0
  for n in "${names[@]}"; do
    a="$dir_a/$n" b="$dir_b/$n"
    sa=$(sha256sum "$a" | cut -d' ' -f1)
    sb=$( [ -e "$b" ] && sha256sum "$b" | cut -d' ' -f1 || echo missing)
    if [ "$sa" = "$sb" ]; then
      echo "$sa  $n  identical"
      identical=$((identical + 1))
    else
      echo "$sa  $n  DIFFERS (second build: $sb)"
      status=1
      [ -e "$b" ] && show_diff "$a" "$b"
    fi
  done
  if [ $status -ne 0 ]; then
    if [ "$env_differences" -gt 0 ]; then
      echo "== the packages differ, and so do $env_differences entries of the recorded build environment (above):"
      echo "   rebuild in the environment the first .buildinfo records before looking further (docs/packaging.md)"
    elif [ "$env_differences" -eq 0 ]; then
      echo "== the packages differ although the recorded build environments are the same: a reproducibility bug"
    fi
  fi
  return $status
}

if [ "${1:-}" = --compare ]; then
  [ $# -eq 3 ] || { echo "usage: $0 --compare DIR_A DIR_B" >&2; exit 2; }
  base=$(mktemp -d)
  trap 'rm -rf "$base"' EXIT
  compare "$2" "$3" || { echo "check-reproducible: the packages differ" >&2; exit 1; }
  echo "== identical: $identical packages"
  exit 0
fi

out=${1:-"$here/build/debs-repro"}
commit=$(git -C "$here" rev-parse --verify "${2:-HEAD}^{commit}")
mkdir -p "$out"
out=$(cd "$out" && pwd)
start=$SECONDS

epoch=$(git -C "$here" log -1 --format=%ct "$commit")
base=$(mktemp -d "$out/../.countersign-repro.XXXXXX")
trap 'rm -rf "$base"' EXIT
echo "== commit $commit, SOURCE_DATE_EPOCH=$epoch"

# build NAME DIR [env...]: git archive of the commit into DIR/src, then that tree's own
# scripts/build-debs.sh, building in DIR/work, packages in DIR/out.
build() {
  local name=$1 dir=$2 src=$2/src dest=$2/out
  shift 2
  mkdir -p "$src" "$dest"
  git -C "$here" archive "$commit" | tar -xf - -C "$src"
  echo "== build $name in $src ($(date -u +%H:%M:%S) UTC)"
  local t=$SECONDS
  env SOURCE_DATE_EPOCH="$epoch" COUNTERSIGN_DEB_WORKDIR="$dir/work" "$@" "$src/scripts/build-debs.sh" "$dest" >"$base/$name.log" 2>&1 || {
    tail -n 40 "$base/$name.log" >&2
    echo "check-reproducible: build $name failed" >&2
    trap - EXIT
    exit 1
  }
  echo "   done in $((SECONDS - t)) s"
}

dir_a=$base/a
dir_b=$base/b/some/deeper/and/longer/path
# First build: lintian runs here (the packages CI installs). Second build: another, deeper
# path, another time zone, locale and umask; no apt step and no lintian (same packages).
build a "$dir_a" TZ=UTC LC_ALL=C.UTF-8
build b "$dir_b" \
  TZ=Pacific/Kiritimati LC_ALL=C COUNTERSIGN_SKIP_APT=1 COUNTERSIGN_SKIP_LINTIAN=1 \
  bash -c 'umask 0002 && exec "$@"' umask

status=0
compare "$dir_a/out" "$dir_b/out" || status=1

rm -f "$out"/*.deb "$out"/*.ddeb "$out"/*.buildinfo
cp "$dir_a/out"/* "$out/"
if [ $status -ne 0 ]; then
  trap - EXIT
  echo "check-reproducible: the packages differ; both builds are kept in $base" >&2
  exit 1
fi
echo "== reproducible: $identical packages identical ($((SECONDS - start)) s); the first build's are in $out"
