#!/usr/bin/env bash
# Screenshots of every main view of countersign-app, for people to look at (docs/app.md).
# Starts the app under Xvfb (xvfb-run) on a fixture bundle and policy, with the previous
# manifest in a known-manifests folder, the log export, one veto (dave's) and the box's
# attestation document (made by app_fixture_tool under a test Nitro root, so Review shows its
# WARNING line), and saves 01-review.png ... 07-log.png.
#
#   scripts/app-screenshots.sh [BUILD_DIR] [OUT_DIR]
#   (defaults: build-app, BUILD_DIR/app-screenshots; needs the countersign-app and
#    app_fixture_tool targets built). Also run by ctest as app_screenshots.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build-app}
out=${2:-$build/app-screenshots}
app="$build/app/countersign-app"
tool="$build/tests/app/app_fixture_tool"
for f in "$app" "$tool"; do
  [ -x "$f" ] || { echo "missing $f: cmake --build $build --target countersign-app app_fixture_tool" >&2; exit 2; }
done
work=$(mktemp -d /tmp/countersign-shots.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$tool" "$work" 2000 >/dev/null
rm -rf "$out"
mkdir -p "$out"
# A private settings home so the run neither reads nor writes the user's recent files.
export XDG_CONFIG_HOME="$work/config"
xvfb-run -a -s "-screen 0 1280x900x24" \
  "$app" --known-manifests "$work/known" --screenshot-dir "$out" \
  --box-log-key "$work/box-log.pub" --box-tls-key "$work/box-tls.pem" --nitro-root "$work/root.pem" \
  "$work/bundle.json" "$work/policy.json" "$work/log.jsonl" "$work/checkpoint.note" "$work/dave.veto.json" \
  "$work/att.cbor"
n=0
for v in review diff sign collect verify policy log; do
  f=$(ls "$out"/*-"$v".png 2>/dev/null || true)
  if [ -z "$f" ] || [ ! -s "$f" ]; then echo "no screenshot of the $v view" >&2; exit 1; fi
  # A view with text and tables compresses to tens of kilobytes; a blank window to a few.
  if [ "$(stat -c %s "$f")" -lt 20000 ]; then echo "$f looks blank ($(stat -c %s "$f") bytes)" >&2; exit 1; fi
  n=$((n + 1))
done
echo "$n screenshots in $out"
