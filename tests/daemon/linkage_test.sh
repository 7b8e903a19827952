#!/usr/bin/env bash
# What the box's two programs link (DESIGN.md "The parts": the daemon is core's verify side
# only; docs/design-notes.md "What the box links"). Fails on anything outside the allowed set,
# naming the binary and the library or symbol.
#
#   countersignd          NEEDED entries (readelf -d: the libraries the binary itself asks
#                         for, not what they pull in) only from: libc, libm, libstdc++,
#                         libgcc_s, ld-linux, libpthread, libcrypto, libssl, libcurl,
#                         libmicrohttpd, libgnutls (libmicrohttpd's TLS, which the daemon
#                         calls to verify client certificates), libsodium; under -DCOUNTERSIGN_SANITIZE=ON also
#                         libasan, libubsan.
#   countersign-system    the same without libcurl, libmicrohttpd and libgnutls.
#   both                  nothing in the whole loaded set (ldd, transitive) from libfido2,
#                         libpcsclite, Qt, libudev or libcbor (and, for the helper, libcurl
#                         or libmicrohttpd); no symbol, undefined (nm -D --undefined-only) or
#                         defined (nm, the full table), of the terminal prompt (tcgetattr,
#                         tcsetattr), Argon2 (crypto_pwhash*), libfido2 (fido_*), libcbor
#                         (cbor_*) or core's signing side (prompt_secret, SoftwareKey,
#                         hash_tree, diff_manifests, describe_proposal).
#
# Usage: tests/daemon/linkage_test.sh COUNTERSIGND COUNTERSIGN_SYSTEM
#        tests/daemon/linkage_test.sh --must-refuse BINARY
# The second form checks BINARY (the CLI, which links all of the above) against the
# daemon's rules and succeeds only if they refuse it: the check can fail.
set -euo pipefail

for tool in readelf nm ldd; do
  command -v "$tool" >/dev/null || {
    echo "FAIL: $tool is not installed (binutils, libc-bin)" >&2
    exit 1
  }
done

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# allowed_needed ROLE SONAME: whether ROLE (daemon or helper) may ask for SONAME directly.
allowed_needed() {
  case "$2" in
    libc.so.* | libm.so.* | libstdc++.so.* | libgcc_s.so.* | ld-linux*.so.* | libpthread.so.*) return 0 ;;
    libcrypto.so.* | libssl.so.* | libsodium.so.*) return 0 ;;
    libasan.so.* | libubsan.so.*) return 0 ;;  # -DCOUNTERSIGN_SANITIZE=ON
    libcurl.so.* | libmicrohttpd.so.* | libgnutls.so.*) [ "$1" = daemon ] ;;
    *) return 1 ;;
  esac
}

# forbidden_loaded ROLE SONAME: whether SONAME may not be loaded at all, even by a library.
forbidden_loaded() {
  case "$2" in
    libfido2.so.* | libpcsclite.so.* | libQt*.so.* | libudev.so.* | libcbor.so.*) return 0 ;;
    libcurl.so.* | libcurl-*.so.* | libmicrohttpd.so.*) [ "$1" = helper ] ;;
    *) return 1 ;;
  esac
}

# Symbols neither program may hold: C names (extended regex on the raw name) and core's
# signing side (extended regex on the demangled name).
forbidden_c='^(tcgetattr|tcsetattr|crypto_pwhash.*|fido_.*|cbor_.*)$'
forbidden_cxx='^countersign::(prompt_secret|SoftwareKey::|hash_tree|diff_manifests|describe_proposal)'
forbidden_c_helper='^(curl_.*|MHD_.*)$'

# check ROLE NAME BINARY
check() {
  local role=$1 name=$2 bin=$3 lib sym
  if [ ! -x "$bin" ]; then
    fail "$name: $bin is not built"
    return
  fi
  local needed
  needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p')
  [ -n "$needed" ] || fail "$name ($bin): readelf -d lists no NEEDED entries"
  for lib in $needed; do
    allowed_needed "$role" "$lib" || fail "$name ($bin) links $lib, which is not in its allowed set"
  done
  # ldd: "libx.so.1 => /path (0x...)", "/lib64/ld-linux-x86-64.so.2 (0x...)", "linux-vdso.so.1 (...)".
  local loaded
  loaded=$(ldd "$bin" | awk '{print $1}' | sed 's|.*/||')
  [ -n "$loaded" ] || fail "$name ($bin): ldd lists nothing"
  for lib in $loaded; do
    # A direct one is reported above; this is what a library it links pulls in.
    if forbidden_loaded "$role" "$lib" && ! grep -qxF "$lib" <<<"$needed"; then
      fail "$name ($bin) loads $lib, pulled in by a library it links (ldd)"
    fi
  done

  local undefined defined defined_cxx
  undefined=$(nm -D --undefined-only "$bin" | awk '{print $NF}' | sed 's/@.*//')
  defined=$(nm --defined-only "$bin" 2>/dev/null | awk '{print $NF}')
  [ -n "$defined" ] || fail "$name ($bin) has no symbol table (stripped?): nothing to check"
  defined_cxx=$(nm -C --defined-only "$bin" | sed 's/^[0-9a-f]* [A-Za-z] //')
  for sym in $(printf '%s\n' "$undefined" | grep -E "$forbidden_c" || true); do
    fail "$name ($bin) needs the symbol $sym"
  done
  for sym in $(printf '%s\n' "$defined" | grep -E "$forbidden_c" | sort -u || true); do
    fail "$name ($bin) defines the symbol $sym"
  done
  while IFS= read -r sym; do
    [ -n "$sym" ] && fail "$name ($bin) holds core's signing side: $sym"
  done < <(printf '%s\n' "$defined_cxx" | grep -E "$forbidden_cxx" | sort -u || true)
  if [ "$role" = helper ]; then
    for sym in $(printf '%s\n' "$undefined" "$defined" | grep -E "$forbidden_c_helper" | sort -u || true); do
      fail "$name ($bin) holds the symbol $sym (no curl, no HTTP in the helper)"
    done
  fi
}

if [ "${1:-}" = --must-refuse ]; then
  [ $# -eq 2 ] || { echo "usage: $0 --must-refuse BINARY" >&2; exit 2; }
  out=$(check daemon "$(basename "$2")" "$2" 2>&1; echo "failures=$failures")
  echo "$out"
  for want in "links libfido2" "links libpcsclite" "needs the symbol tcgetattr" "needs the symbol crypto_pwhash" \
    "needs the symbol fido_" "holds core's signing side: countersign::prompt_secret"; do
    grep -qF "$want" <<<"$out" || { echo "FAIL: the daemon's rules did not report \"$want\" for $2" >&2; exit 1; }
  done
  echo "ok: the daemon's rules refuse $2"
  exit 0
fi

[ $# -eq 2 ] || { echo "usage: $0 COUNTERSIGND COUNTERSIGN_SYSTEM" >&2; exit 2; }
check daemon countersignd "$1"
check helper countersign-system "$2"
if [ "$failures" -gt 0 ]; then
  echo "$failures linkage failure(s); DESIGN.md \"The parts\" and docs/design-notes.md say what the box may link" >&2
  exit 1
fi
echo "ok: countersignd and countersign-system link only their allowed sets"
