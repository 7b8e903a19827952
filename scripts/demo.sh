#!/usr/bin/env bash
# The main job: sets everything up, builds, and walks through the whole story on one machine:
# a demo model (one file of a few hundred MB) served by a local web server (nginx on
# 127.0.0.1), its manifest, five approvers' keys, a 3-of-5 policy, a proposal, three
# signatures, a bundle and the refusals a box must make; then countersignd on a temp state
# dir installs it (progress bar), the model directory named by its hash is listed, and the
# box's audit log is fetched and verified offline. Usage: scripts/demo.sh [WORK_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build"
# Only the three programs the story runs: the test suite is scripts/test.sh's to build.
COUNTERSIGN_TARGETS="countersign countersignd countersign-system" "$here/scripts/setup.sh" "$build"
cs="$build/cli/countersign"

work=${1:-$(mktemp -d /tmp/countersign-demo.XXXXXX)}
mkdir -p "$work"
cd "$work"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }
# Runs a command that must fail with exit code 1 (the box refuses).
refuse() {
  printf '$ %s\n' "$*"
  set +e; "$@"; rc=$?; set -e
  if [ "$rc" -ne 1 ]; then echo "expected a refusal (exit 1), got exit $rc" >&2; exit 1; fi
  echo "(refused, exit $rc, as it must be)"
}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

step "A demo model directory, served by nginx on 127.0.0.1 (the model mirror)"
rm -rf model && mkdir -p model/tokenizer
head -c 300000000 /dev/urandom > model/model-00001-of-00002.safetensors
head -c 2000000 /dev/urandom > model/model-00002-of-00002.safetensors
echo '{"architectures": ["DemoForCausalLM"]}' > model/config.json
echo '{"version": "1.0"}' > model/tokenizer/tokenizer.json
ls -lR model | head -20
mkdir -p nginx/www && ln -sfn "$work/model" nginx/www/demo-llm-1b
. "$here/scripts/lib/local-mirror.sh"
start_local_mirror "$work/nginx" "$work/nginx/www"; pids+=("$mirror_pid")
mirror="http://127.0.0.1:$mirror_port/demo-llm-1b/"
echo "mirror: $mirror"

step "1. Manifest: every file with its size and SHA-256"
run "$cs" manifest create --name demo-llm-1b --version 2026-11-22 --license Apache-2.0 \
  --license-url https://www.apache.org/licenses/LICENSE-2.0 \
  --source http://127.0.0.1:9/demo-llm-1b/ --source "$mirror" \
  -o manifest.json model
run "$cs" manifest show manifest.json

step "2. Five approvers generate their keys (passphrase from a file here; a prompt on a laptop)"
umask 077
printf 'correct horse battery staple\n' > passphrase.txt
for who in alice bob carol dave erin; do
  run "$cs" key generate --out "$who.key" --passphrase-file passphrase.txt > "$who.pub.json"
done

step "3. Policy: 3 of 5 to install a model; 4 including compliance to rotate the policy; 2 vetoes end a removal, whose proposer cannot approve it; keys proven every 90 days"
run "$cs" policy create --domain acme-prod \
  --approver alice:alice.key:engineering --approver bob:bob.key:compliance \
  --approver carol:carol.key:audit --approver dave:dave.pub.json:engineering \
  --approver erin:erin.key:security \
  --name "alice=Alice Chen, CTO" --name "bob=Bob Okafor, Compliance" --name "carol=Carol Diaz, Audit firm" \
  --rule install-model=3 --rule remove-model=2 --rule rotate-policy=4 \
  --require-role rotate-policy=compliance --veto remove-model=2 --exclude-proposer remove-model \
  --liveness-days 90 -o policy.json
run "$cs" policy check policy.json

step "4. Proposal: install the model on box-7f3a, valid for 7 days"
run "$cs" proposal create --domain acme-prod --action install-model --manifest manifest.json \
  --box box-7f3a --expires 7d --note "Roll out demo-llm-1b to the support bot" -o proposal.json
run "$cs" proposal show proposal.json
run "$cs" hash proposal.json

step "5. Three approvers sign, each on their own machine"
for who in alice bob carol; do
  run "$cs" sign --key "$who.key" --passphrase-file passphrase.txt --signer "$who" proposal.json -o "$who.sig"
done

step "6. Assemble the bundle and verify it as box-7f3a would"
run "$cs" bundle assemble --proposal proposal.json --manifest manifest.json alice.sig bob.sig carol.sig -o bundle.json
run "$cs" bundle verify --policy policy.json --box box-7f3a bundle.json

step "7. What the box refuses"
echo "-- only two signatures:"
"$cs" bundle assemble --proposal proposal.json --manifest manifest.json alice.sig bob.sig -o two.json 2>/dev/null
refuse "$cs" bundle verify --policy policy.json --box box-7f3a two.json

echo "-- one signature is for another proposal:"
"$cs" proposal create --domain acme-prod --action install-model --manifest manifest.json --expires 7d \
  -o other-proposal.json 2>/dev/null
"$cs" sign --key carol.key --passphrase-file passphrase.txt other-proposal.json -o carol-other.sig 2>/dev/null
python3 - "$work" <<'PY'
import json, sys
d = sys.argv[1]
b = json.load(open(f"{d}/bundle.json"))
b["signatures"][2] = json.load(open(f"{d}/carol-other.sig"))
json.dump(b, open(f"{d}/mixed.json", "w"), indent=2)
PY
refuse "$cs" bundle verify --policy policy.json --box box-7f3a mixed.json

echo "-- two signatures from the same approver (one vote each):"
"$cs" sign --key alice.key --passphrase-file passphrase.txt proposal.json -o alice-again.sig 2>/dev/null
"$cs" bundle assemble --proposal proposal.json --manifest manifest.json alice.sig alice-again.sig bob.sig \
  -o dup.json 2>/dev/null
refuse "$cs" bundle verify --policy policy.json --box box-7f3a dup.json

echo "-- a box of another domain:"
sed 's/"acme-prod"/"acme-staging"/' policy.json > staging-policy.json
refuse "$cs" bundle verify --policy staging-policy.json --box box-7f3a bundle.json

echo "-- a box not named in the proposal:"
refuse "$cs" bundle verify --policy policy.json --box box-91c2 bundle.json

echo "-- after the proposal expired:"
refuse "$cs" bundle verify --policy policy.json --box box-7f3a --at 2099-01-01T00:00:00Z bundle.json

step "8. Key custody: alice splits her key into SLIP-39 shares (any 2 of 3), then restores it"
run "$cs" key backup alice.key --passphrase-file passphrase.txt --group-threshold 1 --group 2/3 > alice-shares.txt
cat alice-shares.txt
key_id=$(grep -o 'expect-key-id [0-9a-f]*' alice-shares.txt | cut -d' ' -f2)
# Two custodians bring their shares (lines as printed, numbering included).
grep -E '^  [13]\. ' alice-shares.txt > two-custodians.txt
rm -f alice-restored.key
run "$cs" key restore --alg ed25519 --expect-key-id "$key_id" --passphrase-file passphrase.txt \
  --out alice-restored.key < two-custodians.txt
run "$cs" shamir check < <(grep -E '^  [0-9]+\. ' alice-shares.txt)

step "9. The box: countersignd on a temp state dir, its System component countersign-system run directly (no sudo here)"
"$cs" log keygen --name box-7f3a.acme-prod/audit --out box-log.key
rm -rf box && mkdir -p box/state/models/.staging
cat > box/countersignd.conf <<EOF
policy = $work/policy.json
state_dir = $work/box/state
box_id = box-7f3a
log_key = $work/box-log.key
socket = $work/box/countersignd.sock
helper = $build/system/countersign-system
snapshot = none
parallel = 4
EOF
cat box/countersignd.conf
# The helper reads the same config (in production: /etc/countersign/countersignd.conf via sudo).
export COUNTERSIGN_SYSTEM_CONFIG="$work/box/countersignd.conf"
"$build/daemon/countersignd" --config box/countersignd.conf 2> box/countersignd.log & pids+=($!)
for _ in $(seq 100); do "$cs" box status --socket box/countersignd.sock >/dev/null 2>&1 && break; sleep 0.1; done
run "$cs" box status --socket box/countersignd.sock

step "10. Submit the bundle: countersign-system verifies it, the daemon fetches from the mirrors in order (the first, an offline mirror, is refused), countersign-system re-hashes every byte and installs read-only"
run "$cs" submit bundle.json --socket box/countersignd.sock --wait
hash=$("$cs" hash manifest.json); hash=${hash#sha256:}
run ls -l "box/state/models/$hash" "box/state/models/$hash/tokenizer"
run "$cs" box models --socket box/countersignd.sock
echo "-- the same bundle again (a replay):"
refuse "$cs" submit bundle.json --socket box/countersignd.sock

step "11. A compromised daemon cannot act alone: countersign-system checks everything itself"
helper="$build/system/countersign-system"
echo "-- the daemon asks the System component for an install nobody approved:"
refuse "$helper" model install "$(printf 'a%.0s' $(seq 64))"
echo "-- the daemon tries to write an install into the audit log:"
printf '{"event": "install-complete", "manifest": "sha256:%s"}' "$hash" > forged-entry.json
refuse "$helper" log append < forged-entry.json
echo "-- what the daemon may report is marked as its report; privileged steps are the helper's own:"
"$cs" box log export --socket box/countersignd.sock -o box-log-now.jsonl >/dev/null
python3 - "$work/box-log-now.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)["entry"]
    who = "daemon's report" if e.get("reported_by") == "daemon" else "countersign-system"
    print(f'  {e["seq"]:3}  {e["event"]:22} {who}')
PY

step "12. Governance: two approvers veto a removal the box holds; an approver proves their key is alive"
run "$cs" proposal create --domain acme-prod --action remove-model --manifest manifest.json --box box-7f3a \
  --expires 7d --proposer alice --note "Retire demo-llm-1b" -o removal.json
run "$cs" box propose --proposal removal.json --manifest manifest.json --socket box/countersignd.sock
for who in dave erin; do
  run "$cs" veto --key "$who.key" --passphrase-file passphrase.txt --signer "$who" removal.json -o "$who.veto"
  run "$cs" box veto "$who.veto" --socket box/countersignd.sock
done
echo "-- alice proposed it (her signature does not count), bob signs: the box refuses it, it is dead:"
for who in alice bob; do
  "$cs" sign --key "$who.key" --passphrase-file passphrase.txt removal.json -o "$who-removal.sig" 2>/dev/null
done
"$cs" bundle assemble --proposal removal.json --manifest manifest.json alice-removal.sig bob-removal.sig \
  dave.veto erin.veto -o removal-bundle.json 2>/dev/null
refuse "$cs" bundle verify --policy policy.json --box box-7f3a removal-bundle.json
echo "-- liveness: the box issues a challenge, carol answers it with her key, the box records it:"
run "$cs" box challenge -o challenge.json --socket box/countersignd.sock
run "$cs" key prove --key carol.key --passphrase-file passphrase.txt --challenge challenge.json -o carol.proof
run "$cs" box prove carol.proof --socket box/countersignd.sock
run "$cs" box approvers --socket box/countersignd.sock

step "13. The audit log, fetched from the box and verified offline with only its public key"
run "$cs" box log export --socket box/countersignd.sock -o box-log.jsonl --checkpoint-out box-checkpoint.txt
run "$cs" log show box-log.jsonl
run "$cs" log verify box-log.jsonl --key box-log.key.pub --checkpoint box-checkpoint.txt
echo "-- one byte of the exported log changed:"
sed 's/bundle-verified/bundle-verifieD/' box-log.jsonl > tampered-log.jsonl
refuse "$cs" log verify tampered-log.jsonl --key box-log.key.pub --checkpoint box-checkpoint.txt

step "Done. Files are in $work (the box's state in $work/box/state)"
