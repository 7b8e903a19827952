#!/usr/bin/env bash
# scripts/check-reproducible.sh --compare against real packages and real .buildinfo files: a
# probe source package built twice with dpkg-buildpackage (which runs dpkg-genbuildinfo, as
# scripts/build-debs.sh's builds do) in a temp dir. Asserts what an auditor reads: identical
# packages from one environment pass; different packages from the same recorded environment
# are called a reproducibility bug; different packages from environments that differ name the
# build dependency and both versions; a missing .buildinfo is said, not guessed around.
# Usage: compare_test.sh SOURCE_DIR. Skips (77) without dpkg-buildpackage, unless
# COUNTERSIGN_REQUIRE_INTEGRATION=1.
set -euo pipefail
src=${1:?usage: compare_test.sh SOURCE_DIR}
check="$src/scripts/check-reproducible.sh"
skip() {
  if [ "${COUNTERSIGN_REQUIRE_INTEGRATION:-0}" = 1 ]; then echo "FAIL (required): $1" >&2; exit 1; fi
  echo "SKIP: $1"; exit 77
}
command -v dpkg-buildpackage >/dev/null || skip "dpkg-buildpackage is not installed (apt-get install dpkg-dev)"

work=$(mktemp -d /tmp/cs-compare-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; echo "--- last output:" >&2; cat "$work/out" >&2; exit 1; }

# probe NAME CONTENT: builds the probe package with CONTENT in its one file into $work/NAME/.
probe() {
  local dir="$work/build-$1"
  mkdir -p "$dir/pkg/debian/source" "$work/$1"
  cat >"$dir/pkg/debian/control" <<'CONTROL'
Source: cs-repro-probe
Section: misc
Priority: optional
Maintainer: Countersign tests <tests@countersign.invalid>
Build-Depends: libssl-dev
Standards-Version: 4.6.2

Package: cs-repro-probe
Architecture: all
Description: probe package of the reproducibility comparison test
 It holds one file.
CONTROL
  cat >"$dir/pkg/debian/changelog" <<'CHANGELOG'
cs-repro-probe (1.0) unstable; urgency=medium

  * Probe.

 -- Countersign tests <tests@countersign.invalid>  Tue, 01 Dec 2026 00:00:00 +0000
CHANGELOG
  echo "3.0 (native)" >"$dir/pkg/debian/source/format"
  printf '%s\n' '#!/usr/bin/make -f' 'build build-arch build-indep:' 'clean:' \
    '	rm -rf debian/tmp debian/files' 'binary binary-arch binary-indep:' \
    '	mkdir -p debian/tmp/DEBIAN debian/tmp/usr/share/cs-repro-probe' \
    '	echo "$$PROBE_CONTENT" > debian/tmp/usr/share/cs-repro-probe/data' \
    '	dpkg-gencontrol -pcs-repro-probe -Pdebian/tmp' '	dpkg-deb --root-owner-group --build debian/tmp ..' \
    >"$dir/pkg/debian/rules"
  chmod +x "$dir/pkg/debian/rules"
  (cd "$dir/pkg" && SOURCE_DATE_EPOCH=1764547200 PROBE_CONTENT=$2 dpkg-buildpackage -b -us -uc >"$dir/log" 2>&1) ||
    { cat "$dir/log" >&2; echo "FAIL: dpkg-buildpackage of the probe failed" >&2; exit 1; }
  cp "$dir"/*.deb "$dir"/*.buildinfo "$work/$1/"
}
probe a one
probe same one
probe other two
[ -n "$(ls "$work/a"/*.buildinfo)" ] || fail "dpkg-buildpackage wrote no .buildinfo"

# 1. One environment, one content: identical, and the environments are the same.
"$check" --compare "$work/a" "$work/same" >"$work/out" 2>&1 || fail "identical builds were refused"
grep -q "the same: .* build dependencies and the architecture" "$work/out" || fail "same environment not said"
grep -q "identical: 1 packages" "$work/out" || fail "identical package not reported"

# 2. One environment, another content: a reproducibility bug, said as such.
set +e; "$check" --compare "$work/a" "$work/other" >"$work/out" 2>&1; rc=$?; set -e
[ $rc -eq 1 ] || fail "different packages: exit $rc, expected 1"
grep -q "DIFFERS" "$work/out" || fail "the differing package is not named"
grep -q "although the recorded build environments are the same" "$work/out" || fail "not called a reproducibility bug"

# 3. Another environment (libssl-dev at another version, as another Debian 12 point release
#    would have it): the build dependency and both versions are named.
version=$(sed -nE 's/^ libssl-dev \(= (.*)\),?$/\1/p' "$work/other"/*.buildinfo)
[ -n "$version" ] || fail "the probe's .buildinfo does not record libssl-dev"
sed -i -E "s/^ libssl-dev \\(= .*\\)(,?)\$/ libssl-dev (= 3.0.99-1~test)\\1/" "$work/other"/*.buildinfo
set +e; "$check" --compare "$work/a" "$work/other" >"$work/out" 2>&1; rc=$?; set -e
[ $rc -eq 1 ] || fail "different environments: exit $rc, expected 1"
grep -qF "libssl-dev: $version in the first, 3.0.99-1~test in the second" "$work/out" ||
  fail "the differing build dependency is not named with both versions"
grep -q "and so do 1 entries of the recorded build environment" "$work/out" || fail "the likely cause is not said"

# 4. No .buildinfo on one side: said, and the packages are still compared.
rm "$work/same"/*.buildinfo
"$check" --compare "$work/a" "$work/same" >"$work/out" 2>&1 || fail "a missing .buildinfo made identical packages fail"
grep -q "has 0 .buildinfo files (expected one); environments not compared" "$work/out" || fail "missing .buildinfo not said"
echo "PASS"
