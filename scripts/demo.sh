#!/usr/bin/env bash
# The main job: sets everything up, builds, and walks through the whole approval flow on a
# demo model directory it generates: manifest, five approvers' keys, a 3-of-5 policy, a
# proposal, three signatures, a bundle, and the verification a box performs, followed by
# the refusals a box must make. Usage: scripts/demo.sh [WORK_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build"
"$here/scripts/setup.sh" "$build"
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

step "A demo model directory"
rm -rf model && mkdir -p model/tokenizer
head -c 3000000 /dev/urandom > model/model-00001-of-00002.safetensors
head -c 2000000 /dev/urandom > model/model-00002-of-00002.safetensors
echo '{"architectures": ["DemoForCausalLM"]}' > model/config.json
echo '{"version": "1.0"}' > model/tokenizer/tokenizer.json
ls -lR model | head -20

step "1. Manifest: every file with its size and SHA-256"
run "$cs" manifest create --name demo-llm-1b --version 2026-11-22 --license Apache-2.0 \
  --license-url https://www.apache.org/licenses/LICENSE-2.0 \
  --source "file://$work/model/" --source https://mirror.example.internal/demo-llm-1b/ \
  -o manifest.json model
run "$cs" manifest show manifest.json

step "2. Five approvers generate their keys (passphrase from a file here; a prompt on a laptop)"
umask 077
printf 'correct horse battery staple\n' > passphrase.txt
for who in alice bob carol dave erin; do
  run "$cs" key generate --out "$who.key" --passphrase-file passphrase.txt > "$who.pub.json"
done

step "3. Policy: 3 of 5 to install a model; 4 including compliance to rotate the policy"
run "$cs" policy create --domain acme-prod \
  --approver alice:alice.key:engineering --approver bob:bob.key:compliance \
  --approver carol:carol.key:audit --approver dave:dave.pub.json:engineering \
  --approver erin:erin.key:security \
  --name "alice=Alice Chen, CTO" --name "bob=Bob Okafor, Compliance" --name "carol=Carol Diaz, Audit firm" \
  --rule install-model=3 --rule remove-model=2 --rule rotate-policy=4 \
  --require-role rotate-policy=compliance -o policy.json
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

step "9. The box's audit log (countersignd will write it; here the entries are appended by hand)"
run "$cs" log keygen --name box-7f3a.acme-prod/audit --out box-log.key
proposal_id=$("$cs" hash proposal.json)
for event in bundle-received bundle-verified install-complete; do
  run "$cs" log append audit-log --key box-log.key --event "$event" --proposal "$proposal_id"
done
run "$cs" log show audit-log
run "$cs" log verify audit-log --key box-log.key.pub
echo "-- one byte of the log changed on disk:"
python3 - "$work/audit-log" <<'PY'
import pathlib, sys
p = pathlib.Path(sys.argv[1]) / "entries"
b = bytearray(p.read_bytes())
i = b.find(b"bundle-verified")
b[i] ^= 0x20
p.write_bytes(bytes(b))
PY
refuse "$cs" log verify audit-log --key box-log.key.pub

step "Done. Files are in $work"
