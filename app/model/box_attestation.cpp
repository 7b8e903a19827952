#include "app/model/box_attestation.h"

#include "app/model/workspace.h"
#include "core/fileio.h"
#include "core/signed_note.h"
#include "core/untrusted_text.h"
#include "core/x509.h"
#include "smartcard/nitro_binding.h"

namespace countersign::app {

namespace {

constexpr std::uint64_t kMaxVkeyFile = 4096;

using Tone = BoxAttestationLine::Tone;

// Why the binding was not checked, for an approved document judged without a box: what is
// missing first that --box-log-key alone would not fix.
std::string binding_not_checked(const Workspace& ws) {
  std::string why = "give --box-log-key";
  if (!ws.proposal) {
    why = "no proposal open to name the box";
  } else if (!ws.proposal->boxes() || ws.proposal->boxes()->empty()) {
    why = "the proposal names no box";
  } else if (ws.proposal->boxes()->size() > 1) {
    why = "the proposal names " + std::to_string(ws.proposal->boxes()->size()) +
          " boxes; an attestation binds one";
  }
  return " — binding to the box not checked (" + why + ")";
}

}  // namespace

Result<Bytes> read_box_log_key(const std::string& path) {
  CS_TRY(std::string text, read_file(path, kMaxVkeyFile));
  auto verifier = note::Verifier::parse(text);
  if (!verifier.ok()) return verifier.error().with_context(path);
  auto spki = nitro::log_key_spki(*verifier);
  if (!spki.ok()) return spki.error().with_context(path);
  return spki;
}

Result<Bytes> read_box_tls_key(const std::string& path) { return x509::read_spki(path); }

Result<std::vector<Bytes>> read_nitro_root(const std::string& path) {
  CS_TRY(std::vector<Bytes> roots, x509::read_certificates(path));
  if (roots.empty()) return Error(Errc::kMalformed, path + ": no certificate");
  return roots;
}

BoxAttestationLine box_attestation(const Workspace& ws, UnixTime now) {
  const Rule* rule = ws.policy && ws.proposal ? ws.policy->rule_for(ws.proposal->action()) : nullptr;
  if (!ws.attestation) {
    if (rule != nullptr && rule->attested_image) {
      return {Tone::kRefused, "NOT CHECKED: the rule for " + std::string(action_name(ws.proposal->action())) +
                                  " requires an attested image; open the box's attestation (countersign box "
                                  "attest -o att.cbor)"};
    }
    return {Tone::kPlain, "not checked (no attestation document open)"};
  }
  if (!ws.policy) return {Tone::kPlain, "not checked: open the policy to judge the attestation"};

  std::optional<nitro::BoxKeys> box;
  if (ws.nitro.log_key_spki && ws.proposal && ws.proposal->boxes() && ws.proposal->boxes()->size() == 1) {
    box = nitro::BoxKeys{ws.proposal->boxes()->front(), *ws.nitro.log_key_spki, ws.nitro.tls_key_spki};
  }
  const nitro::Verdict v =
      nitro::judge(ws.attestation->cose, *ws.policy, ws.nitro.roots, now, now, box, std::nullopt);
  BoxAttestationLine out;
  if (v.approved) {
    out.tone = ws.nitro.test_root.empty() ? Tone::kApproved : Tone::kWarning;
    out.text = v.line + (box ? std::string() : binding_not_checked(ws));
  } else {
    out.tone = Tone::kRefused;
    out.text = "NOT APPROVED: " + v.line;
  }
  if (!ws.nitro.test_root.empty()) {
    out.text += "\nWARNING: checked against " + escape_untrusted(ws.nitro.test_root) +
                ", not the pinned AWS Nitro Enclaves root: this proves nothing about AWS hardware";
  }
  return out;
}

}  // namespace countersign::app
