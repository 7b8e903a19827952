#!/usr/bin/env bash
# Installs the packages in a clean Debian 12 root and checks what an administrator would see.
# Usage: tests/packaging/install_test.sh DEBS_DIR WORK_DIR [ROOT_CACHE]
#
# A clean bookworm minbase root is unpacked in WORK_DIR from the tarball tests/tools/debian-root.sh
# keeps in ROOT_CACHE (made with debootstrap from the mirror the first time in a build tree, and
# shared with the packages gate's tests; default WORK_DIR/root-cache), the packages are
# installed in it with `apt-get install ./…deb`, then:
#   countersign --version and countersignd --version run, and countersignd reads the default
#   configuration and refuses it only for the missing box_id;
#   systemd-analyze verify accepts the installed unit, which is installed but not enabled;
#   visudo -cf accepts the installed sudoers file, sudo loads it and lists the helper's rules;
#   the system user countersign exists (no login shell), and the state directories exist with
#   the owners and modes of packaging/tmpfiles/countersign.conf;
#   the daemon's user, through sudo and the packaged rule, plays a compromised daemon: an
#   under-threshold bundle, an install nobody approved, a forged log entry, a form sudo does
#   not allow, staged bytes that are not the manifest's, a replay and another box's bundle
#   are all refused; the approved
#   model installs root-owned and read-only, once; the log, the key and the helper's records
#   cannot be written (or, the key, read) by the daemon's user;
#   the group countersign-api exists apart from the daemon's; countersignd, run as the unit runs
#   it, gives its socket to that group: a member reaches the box (and is refused a replay,
#   exit 1) but cannot read the daemon's token (0600 countersign); anyone else cannot connect
#   (exit 3, permission denied);
#   apt-get remove leaves nothing but the conffiles and the state under /var/lib/countersign;
#   apt-get purge leaves nothing at all (the user stays: Debian does not reuse uids).
#
# Exit 77 (ctest SKIP_RETURN_CODE) with the reason when this machine cannot do it (not root,
# no debootstrap, no packages, mirror unreachable); with COUNTERSIGN_REQUIRE_INTEGRATION=1
# (CI) those are failures instead. COUNTERSIGN_DEBIAN_MIRROR overrides deb.debian.org.
set -euo pipefail
[ $# -eq 2 ] || [ $# -eq 3 ] || { echo "usage: $0 DEBS_DIR WORK_DIR [ROOT_CACHE]" >&2; exit 2; }
debs_dir=$1
work=$2
root_cache=${3:-$work/root-cache}
mirror=${COUNTERSIGN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
start=$SECONDS

skip() {
  if [ "${COUNTERSIGN_REQUIRE_INTEGRATION:-0}" = 1 ]; then
    echo "FAIL (COUNTERSIGN_REQUIRE_INTEGRATION=1): $*" >&2
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
pass() { echo "ok: $*"; }

[ "$(id -u)" -eq 0 ] || skip "debootstrap and chroot need root"
command -v debootstrap >/dev/null || skip "debootstrap is not installed (apt-get install debootstrap)"
shopt -s nullglob
debs=("$debs_dir"/countersign_*.deb "$debs_dir"/countersignd_*.deb)
[ ${#debs[@]} -eq 2 ] ||
  skip "no countersign and countersignd packages in $debs_dir (scripts/build-debs.sh $debs_dir)"
# countersign-app is built where Qt 6 is (CI installs it): then it is installed and checked too.
app_debs=("$debs_dir"/countersign-app_*.deb)
ours=(countersign countersignd)
if [ ${#app_debs[@]} -eq 1 ]; then
  debs+=("${app_debs[0]}")
  ours+=(countersign-app)
fi

mkdir -p "$work"
# One directory a run: the root, its file lists and the logs.
run=$(mktemp -d "$(cd "$work" && pwd)/run.XXXXXX")
root=$run/root
mkdir "$root"
mounted=()
daemon_pid=
cleanup() {
  local i
  if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[$i]}" || umount -l "${mounted[$i]}" || true; done
  # Delete the root only when nothing is mounted inside it any more.
  if ! findmnt -rn -o TARGET | grep -q "^$root"; then
    if [ "$failures" -eq 0 ]; then rm -rf "$run"; else echo "the root and logs are kept for inspection: $run"; fi
  fi
}
trap cleanup EXIT
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
  DEBIAN_FRONTEND=noninteractive HOME=/root "$@"; }
# apt_in_root ARGS...: apt-get in the root, its output in $run/apt.log (shown when it fails).
apt_in_root() {
  if ! in_root apt-get -y -q "$@" >>"$run/apt.log" 2>&1; then
    tail -n 30 "$run/apt.log" >&2
    echo "FAIL: apt-get $*; log: $run/apt.log" >&2
    failures=$((failures + 1))
    exit 1
  fi
}

echo "== a clean bookworm (minbase) root from $root_cache into $root"
t=$SECONDS
here=$(cd "$(dirname "$0")/../.." && pwd)
if ! tarball=$(COUNTERSIGN_DEBIAN_MIRROR=$mirror "$here/tests/tools/debian-root.sh" "$root_cache" 2>"$run/debootstrap.log"); then
  tail -n 20 "$run/debootstrap.log" >&2
  skip "no Debian root: $(tail -n 1 "$run/debootstrap.log")"
fi
tar --numeric-owner --xattrs -C "$root" -xf "$tarball"
echo "   $((SECONDS - t)) s"

# /proc for apt, dpkg and systemd's tools; nothing else is needed (debootstrap made /dev).
mount -t proc proc "$root/proc"
mounted+=("$root/proc")
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The usual guard in a chroot: no service is started by maintainer scripts.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/tmp/debs"
cp "${debs[@]}" "$root/tmp/debs/"
names=()
for d in "${debs[@]}"; do names+=("/tmp/debs/$(basename "$d")"); done

# Everything on the root's file system except what changes on its own (apt's lists and
# caches, logs, dpkg's database of what is installed, temporary and API file systems).
snapshot() {
  (cd "$root" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run \
    -o -path ./tmp -o -path ./var/tmp -o -path ./var/cache -o -path ./var/log \
    -o -path ./var/lib/apt -o -path ./var/lib/dpkg \) -prune -o -print | LC_ALL=C sort) >"$1"
}

echo "== the packages' dependencies from the mirror"
t=$SECONDS
apt_in_root update
# Their Depends without our own packages: then the snapshot below holds everything else, and
# what remove and purge leave behind can be compared with it.
deps=$(for d in "${debs[@]}"; do dpkg-deb -f "$d" Depends; done | tr ',' '\n' |
  sed -E 's/^ +| +$//g' | grep -vE '^countersign(d|-app)?( |$)' | paste -sd, -)
# Without Recommends (Qt's would pull in GTK): the Depends are what must be enough.
apt_in_root satisfy --no-install-recommends "$deps"
snapshot "$run/before"
echo "   $((SECONDS - t)) s"

echo "== apt-get install ${names[*]}"
apt_in_root install --no-install-recommends "${names[@]}"

# ---- what is installed ----------------------------------------------------------------------
version=$(in_root countersign --version) || true
[[ $version =~ ^countersign\ [0-9]+\.[0-9]+\.[0-9]+$ ]] && pass "countersign --version: $version" ||
  fail "countersign --version printed '$version'"
dversion=$(in_root countersignd --version) || true
[[ $dversion =~ ^countersignd\ [0-9] ]] && pass "countersignd --version: $dversion" ||
  fail "countersignd --version printed '$dversion'"
set +e
check=$(in_root countersignd --config /etc/countersign/countersignd.conf --check-config 2>&1)
status=$?
set -e
[ $status -eq 2 ] && [[ $check == *"box_id"* ]] &&
  pass "countersignd --check-config refuses the default configuration for box_id only" ||
  fail "countersignd --check-config: exit $status: $check"

if [ ${#app_debs[@]} -eq 1 ]; then
  # stdout only: Qt may warn on stderr (no XDG_RUNTIME_DIR in a chroot).
  aversion=$(in_root env QT_QPA_PLATFORM=offscreen countersign-app --version 2>/dev/null) || true
  [[ $aversion =~ ^countersign-app\ [0-9]+\.[0-9]+\.[0-9]+$ ]] && pass "countersign-app --version: $aversion" ||
    fail "countersign-app --version printed '$aversion'"
  [ -f "$root/usr/share/applications/countersign-app.desktop" ] &&
    [ -f "$root/usr/share/icons/hicolor/scalable/apps/countersign-app.svg" ] &&
    pass "countersign-app launcher and icon" || fail "countersign-app launcher or icon missing"
fi

unit=/lib/systemd/system/countersignd.service
# In the root itself: the unit's ExecStart=, User= and targets are checked against what the
# packages installed there. --man=no: minbase has no man (the page is checked below).
if out=$(in_root systemd-analyze verify --man=no "$unit" 2>&1) && [[ $out != *countersignd.service:* ]]; then
  pass "systemd-analyze verify $unit"
else
  fail "systemd-analyze verify $unit: $out"
fi
enabled=$(in_root systemctl is-enabled countersignd.service 2>&1 || true)
[ "$enabled" = disabled ] && pass "countersignd.service is installed and not enabled" ||
  fail "systemctl is-enabled countersignd.service: $enabled"
[ -f "$root/usr/share/man/man8/countersignd.8.gz" ] && [ -f "$root/usr/share/man/man1/countersign.1.gz" ] &&
  pass "man pages countersign(1), countersignd(8)" || fail "man pages missing"

sudoers=/etc/sudoers.d/countersign
out=$(in_root visudo -cf "$sudoers" 2>&1) && pass "visudo -cf $sudoers" || fail "visudo -cf $sudoers: $out"
out=$(in_root visudo -c 2>&1) && pass "visudo -c (the whole configuration, with sudoers.d)" || fail "visudo -c: $out"
rules=$(in_root sudo -l -U countersign 2>&1 || true)
[[ $rules == *"NOPASSWD: /usr/libexec/countersign/countersign-system accept"* ]] &&
  pass "sudo -l -U countersign lists the helper's rules" || fail "sudo -l -U countersign: $rules"

# expect_stat PATH MODE OWNER GROUP
expect_stat() {
  local got
  got=$(in_root stat -c '%a %U %G' "$1" 2>&1 || true)
  [ "$got" = "$2 $3 $4" ] && pass "$1 $got" || fail "$1: expected '$2 $3 $4', got '$got'"
}
expect_stat "$sudoers" 440 root root
expect_stat /etc/countersign/countersignd.conf 644 root root
expect_stat /usr/libexec/countersign/countersign-system 755 root root
expect_stat /usr/bin/countersignd 755 root root

user=$(in_root getent passwd countersign || true)
IFS=: read -r _ _ uid gid _ home shell <<<"$user"
if [ -n "$user" ] && [ "$uid" -lt 1000 ] && [ "$shell" = /usr/sbin/nologin ] && [ "$home" = /var/lib/countersign ]; then
  pass "system user: $user"
else
  fail "user countersign: '$user'"
fi
group=$(in_root getent group countersign || true)
[ -n "$group" ] && [ "$(cut -d: -f3 <<<"$group")" = "$gid" ] && pass "group: $group" || fail "group countersign: '$group'"

# packaging/tmpfiles/countersign.conf
expect_stat /var/lib/countersign 755 root root
expect_stat /var/lib/countersign/models 755 root root
expect_stat /var/lib/countersign/models/.staging 750 countersign countersign
expect_stat /var/lib/countersign/snapshots 700 root root
expect_stat /var/lib/countersign/log 755 root root
expect_stat /var/lib/countersign/system 755 root root
expect_stat /var/lib/countersign/daemon 750 countersign countersign

conffiles=$(in_root dpkg-query -W -f='${Conffiles}\n' countersign countersignd | awk 'NF {print $1}' | LC_ALL=C sort)
[ "$conffiles" = $'/etc/countersign/countersignd.conf\n/etc/sudoers.d/countersign' ] &&
  pass "conffiles: $(echo $conffiles)" || fail "conffiles: $conffiles"

# ---- a compromised daemon, through the packaged sudoers rule --------------------------------
# The daemon's user (countersign) calls the System component the way countersignd does,
# through sudo with the packaged rule, and tries what an attacker who owns the daemon would.
echo "== the daemon's user against the System component, through sudo"
helper=/usr/libexec/countersign/countersign-system
conf=/etc/countersign/countersignd.conf
# expect_exit STATUS LABEL COMMAND...: the command (run as countersign) exits STATUS.
as_daemon() { in_root runuser -u countersign -- "$@"; }
expect_exit() {
  local want=$1 label=$2 got out
  shift 2
  set +e
  out=$("$@" 2>&1)
  got=$?
  set -e
  [ "$got" -eq "$want" ] && pass "$label (exit $got)" || fail "$label: exit $got, expected $want: $out"
  last_output=$out
}
cs_root() { in_root env COUNTERSIGN_PASSPHRASE=install-test-only countersign "$@"; }
mkdir -p "$root/tmp/box/model"
printf 'hello\n' >"$root/tmp/box/model/hello.txt"
cs_root key generate --out /tmp/box/alice.key >/dev/null
cs_root key generate --out /tmp/box/bob.key >/dev/null
cs_root log keygen --name box-test.example/audit --out /etc/countersign/log.key >/dev/null
cs_root policy create --domain acme-prod --approver alice:/tmp/box/alice.key --approver bob:/tmp/box/bob.key \
  --rule install-model=2 -o /etc/countersign/policy.json
sed -i 's/^#box_id = .*/box_id = box-test/' "$root$conf"
cs_root manifest create --name hello --version 1 --license MIT --source https://mirror.invalid/hello/ \
  -o /tmp/box/manifest.json /tmp/box/model >/dev/null
cs_root proposal create --domain acme-prod --action install-model --manifest /tmp/box/manifest.json \
  --box box-test --expires 7d -o /tmp/box/proposal.json
cs_root sign --key /tmp/box/alice.key --signer alice /tmp/box/proposal.json -o /tmp/box/alice.sig
cs_root sign --key /tmp/box/bob.key --signer bob /tmp/box/proposal.json -o /tmp/box/bob.sig
cs_root bundle assemble --proposal /tmp/box/proposal.json --manifest /tmp/box/manifest.json \
  /tmp/box/alice.sig -o /tmp/box/one.json
cs_root bundle assemble --proposal /tmp/box/proposal.json --manifest /tmp/box/manifest.json \
  /tmp/box/alice.sig /tmp/box/bob.sig -o /tmp/box/two.json
cs_root proposal create --domain acme-prod --action install-model --manifest /tmp/box/manifest.json \
  --box box-other --expires 7d -o /tmp/box/other-box.json
cs_root sign --key /tmp/box/alice.key --signer alice /tmp/box/other-box.json -o /tmp/box/other-alice.sig
cs_root sign --key /tmp/box/bob.key --signer bob /tmp/box/other-box.json -o /tmp/box/other-bob.sig
cs_root bundle assemble --proposal /tmp/box/other-box.json --manifest /tmp/box/manifest.json \
  /tmp/box/other-alice.sig /tmp/box/other-bob.sig -o /tmp/box/other-bundle.json
chmod 0755 "$root/tmp/box"
chmod 0644 "$root"/tmp/box/*.json
proposal=$(cs_root hash /tmp/box/proposal.json)
proposal=${proposal#sha256:}
manifest=$(cs_root hash /tmp/box/manifest.json)
manifest=${manifest#sha256:}
staged=/var/lib/countersign/models/.staging/$manifest

expect_exit 1 "a proposal without its bundle is refused" as_daemon sudo -n "$helper" accept <"$root/tmp/box/proposal.json"
expect_exit 1 "an under-threshold bundle is refused" as_daemon sudo -n "$helper" accept <"$root/tmp/box/one.json"
[[ $last_output == *threshold* ]] || fail "the refusal does not name the threshold: $last_output"
expect_exit 1 "an install nobody approved is refused" as_daemon sudo -n "$helper" model install "$proposal"
printf '{"event":"install-complete","manifest":"sha256:%s"}' "$manifest" >"$root/tmp/box/forged.json"
expect_exit 1 "a forged install-complete in the log is refused" as_daemon sudo -n "$helper" log append <"$root/tmp/box/forged.json"
expect_exit 1 "sudo refuses a form the rule does not allow" as_daemon sudo -n "$helper" model install "$proposal" --force
expect_exit 0 "the approved bundle is accepted" as_daemon sudo -n "$helper" accept <"$root/tmp/box/two.json"
as_daemon mkdir "$staged"
as_daemon sh -c "printf 'HELLO\n' >$staged/hello.txt"
expect_exit 1 "staged bytes that are not the manifest's are refused" as_daemon sudo -n "$helper" model install "$proposal"
[[ $last_output == *SHA-256* ]] || fail "the refusal does not name the hash: $last_output"
[ -e "$root/var/lib/countersign/models/$manifest" ] && fail "a model was installed from wrong bytes"
as_daemon mkdir "$staged"
as_daemon sh -c "printf 'hello\n' >$staged/hello.txt"
expect_exit 0 "the approved model installs" as_daemon sudo -n "$helper" model install "$proposal"
expect_stat "/var/lib/countersign/models/$manifest/hello.txt" 444 root root
expect_exit 1 "the same proposal does not install twice" as_daemon sudo -n "$helper" model install "$proposal"
expect_exit 1 "a replayed bundle is refused" as_daemon sudo -n "$helper" accept <"$root/tmp/box/two.json"
[[ $last_output == *replayed* ]] || fail "the refusal does not say replayed: $last_output"
expect_exit 1 "another box's bundle is refused" as_daemon sudo -n "$helper" accept <"$root/tmp/box/other-bundle.json"
[[ $last_output == *box* ]] || fail "the refusal does not name the box: $last_output"
# The daemon's user can read the log but neither write it nor read its key nor the helper's records.
expect_exit 0 "the daemon's user reads the log" as_daemon head -c 15 /var/lib/countersign/log/entries
[ "$last_output" = "cs-audit-log v1" ] || fail "the log's header as the daemon's user reads it: $last_output"
# A redirection the shell cannot open is exit status 2 (sh(1)), with the reason.
for target in /var/lib/countersign/log/entries /var/lib/countersign/system/executed \
  "/var/lib/countersign/models/$manifest/hello.txt"; do
  expect_exit 2 "the daemon's user cannot write $target" as_daemon sh -c "echo x >>$target"
  [[ $last_output == *"Permission denied"* ]] || fail "writing $target: $last_output"
done
expect_exit 1 "the daemon's user cannot read the log key" as_daemon cat /etc/countersign/log.key
entries=$(tr -c '[:print:]' '\n' <"$root/var/lib/countersign/log/entries")
for e in bundle-rejected action-refused install-refused bundle-verified install-complete; do
  [[ $entries == *"\"event\":\"$e\""* ]] && pass "the log records $e" || fail "the log has no $e: $entries"
done
grep -a '"event":"install-complete"' <<<"$entries" | grep -q reported_by &&
  fail "install-complete marked as reported by the daemon" || pass "install-complete is the helper's own entry"
expect_stat /var/lib/countersign/system 755 root root
expect_stat /var/lib/countersign/system/executed 644 root root
expect_stat /etc/countersign/log.key 600 root root

# ---- who may talk to the box ----------------------------------------------------------------
# countersignd as the unit runs it (User=countersign, Group=countersign,
# SupplementaryGroups=countersign-api, RuntimeDirectory= with mode 0755), with the daemon's
# Hugging Face token 0600 countersign. Clients are processes with and without the group
# (setpriv: no account is added to the root's user database).
echo "== countersignd's socket and the group countersign-api"
api_group=$(in_root getent group countersign-api || true)
api_gid=$(cut -d: -f3 <<<"$api_group")
[ -n "$api_group" ] && [ "$api_gid" != "$gid" ] && pass "group: $api_group (not the daemon's $gid)" ||
  fail "group countersign-api: '$api_group'"
printf 'hf_install_test_token\n' >"$root/etc/countersign/hf-token"
in_root chown countersign:countersign /etc/countersign/hf-token
in_root chmod 0600 /etc/countersign/hf-token
echo "hf_token_file = /etc/countersign/hf-token" >>"$root$conf"
in_root install -d -m 0755 -o countersign -g countersign /run/countersign
sock=/run/countersign/countersignd.sock
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
  setpriv --reuid=countersign --regid=countersign --groups=countersign-api \
  countersignd --config "$conf" >"$run/countersignd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$root$sock" ] && break; sleep 0.1; done
if [ -S "$root$sock" ]; then
  expect_stat "$sock" 660 countersign countersign-api
  member() { in_root setpriv --reuid=64900 --regid=64900 --groups="$api_gid" "$@"; }
  outsider() { in_root setpriv --reuid=64901 --regid=64901 --clear-groups "$@"; }
  expect_exit 0 "a member of countersign-api reaches the box" member countersign box status
  expect_exit 1 "a member of countersign-api submits; the box refuses a replay" member countersign submit /tmp/box/two.json
  [[ $last_output == *replayed* ]] || fail "the refusal does not say replayed: $last_output"
  expect_exit 1 "a member of countersign-api cannot read the daemon's token" member cat /etc/countersign/hf-token
  expect_exit 3 "anyone else cannot connect" outsider countersign box status
  [[ $last_output == *"cannot reach countersignd at $sock: permission denied"* ]] ||
    fail "the outsider's error does not say permission denied at $sock: $last_output"
else
  fail "countersignd did not listen on $sock: $(cat "$run/countersignd.log")"
fi
kill "$daemon_pid"
set +e
wait "$daemon_pid"
status=$?
set -e
daemon_pid=
[ $status -eq 0 ] && pass "countersignd stops on SIGTERM (exit 0)" ||
  fail "countersignd exit $status on SIGTERM: $(cat "$run/countersignd.log")"
sed -i '/^hf_token_file = /d' "$root$conf"

# What this section added outside the state directory goes, so remove and purge are judged
# on the packages alone (the state under /var/lib/countersign is what remove must keep).
rm -f "$root/etc/countersign/log.key" "$root/etc/countersign/log.key.pub" "$root/etc/countersign/policy.json" \
  "$root/etc/countersign/hf-token"

# ---- remove and purge -----------------------------------------------------------------------
# diff_since LABEL ALLOWED_REGEX: paths added or removed since the snapshot before install;
# additions must match ALLOWED_REGEX (anchored), removals are never allowed.
diff_since() {
  local label=$1 allowed=$2 extra missing
  snapshot "$run/$label"
  extra=$(comm -13 "$run/before" "$run/$label" | grep -vE "^($allowed)$" || true)
  missing=$(comm -23 "$run/before" "$run/$label")
  [ -z "$extra" ] && pass "after $label: nothing left beyond what is allowed" ||
    fail "after $label, left behind: $(echo $extra)"
  [ -z "$missing" ] || fail "after $label, gone from the base system: $(echo $missing)"
}

echo "== apt-get remove"
apt_in_root remove "${ours[@]}"
# Debian policy 10.7.3: conffiles stay until purge (dpkg state "rc"). deb-systemd-helper keeps
# its record of the unit's enablement (…/countersignd.service.dsh-also) until purge, so that a
# reinstall restores what the administrator chose; it is state under /var/lib too.
diff_since remove '\./var/lib/countersign(/.*)?|\./etc/countersign|\./etc/countersign/countersignd\.conf|\./etc/sudoers\.d/countersign|\./var/lib/systemd/deb-systemd-helper-enabled/countersignd\.service\.dsh-also'
[ -f "$root/var/lib/countersign/log/entries" ] && pass "remove keeps the state" || fail "remove deleted the state"

echo "== apt-get purge"
# Only what dpkg still knows ("rc": removed, conffiles left); a package without conffiles is
# gone after remove, and apt cannot even name it (it comes from no repository).
purge=()
for p in "${ours[@]}"; do
  if in_root dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^rc'; then purge+=("$p"); fi
done
[ ${#purge[@]} -gt 0 ] && apt_in_root purge "${purge[@]}"
diff_since purge ''
[ -e "$root/var/lib/countersign" ] && fail "purge left /var/lib/countersign" || pass "purge removed the state"
in_root getent passwd countersign >/dev/null && pass "the user stays after purge (its uid is not reused)" ||
  fail "the user was removed"

echo "== $((SECONDS - start)) s, $failures failure(s)"
[ "$failures" -eq 0 ]
