#include "core/signature_file.h"

#include "core/jcs.h"
#include "core/json_reader.h"

namespace countersign {

using nlohmann::json;

namespace {
constexpr std::string_view kDoc = "signature";
}

Result<SignatureFile> SignatureFile::parse(const json& doc) {
  CS_TRY(auto r, ObjectReader::open(doc, kDoc, ""));
  CS_TRY_VOID(r.expect_schema(kSignatureSchema));
  SignatureFile s;
  CS_TRY(s.f_.proposal, r.digest("proposal"));
  CS_TRY(s.f_.key, r.string("key"));
  if (!is_lower_hex(s.f_.key, 64)) return r.error("key", "must be a key id: 64 lowercase hex digits");
  CS_TRY(std::string alg, r.string("alg"));
  auto a = alg_from_name(alg);
  if (!a.ok()) return r.error("alg", a.error().message);
  s.f_.alg = *a;
  CS_TRY(s.f_.signature, r.base64("signature"));
  if (s.f_.signature.empty()) return r.error("signature", "must not be empty");
  if (is_fido2(s.f_.alg)) {
    CS_TRY(s.f_.authenticator_data, r.base64("authenticator_data"));
    if (s.f_.authenticator_data.size() < 37) {
      return r.error("authenticator_data", "is shorter than the 37 bytes of FIDO2 authenticator data");
    }
  } else if (r.has("authenticator_data")) {
    return r.error("authenticator_data", "is only allowed with fido2-* algorithms");
  }
  CS_TRY(s.f_.signer, r.optional_name("signer"));
  if (r.has("signed")) {
    CS_TRY(s.f_.signed_at, r.time("signed"));
  } else {
    (void)r.optional_string("signed");
  }
  CS_TRY_VOID(r.finish());
  return s;
}

Result<SignatureFile> SignatureFile::parse_text(std::string_view text) { return parse_document_text<SignatureFile>(text, "signature"); }

Result<SignatureFile> SignatureFile::create(Fields fields) {
  SignatureFile s;
  s.f_ = std::move(fields);
  return parse(s.to_json());
}

json SignatureFile::to_json() const {
  json j;
  j["schema"] = kSignatureSchema;
  j["proposal"] = digest_to_string(f_.proposal);
  j["key"] = f_.key;
  j["alg"] = alg_name(f_.alg);
  j["signature"] = base64_encode(f_.signature);
  if (is_fido2(f_.alg)) j["authenticator_data"] = base64_encode(f_.authenticator_data);
  if (f_.signer) j["signer"] = *f_.signer;
  if (f_.signed_at) j["signed"] = format_rfc3339(*f_.signed_at);
  return j;
}

Result<SignatureFile> sign_proposal(Signer& signer, const Digest& proposal_id, std::optional<std::string> signer_name,
                                    UnixTime now) {
  SigningInput input = signing_input(proposal_id);
  CS_TRY(SignatureValue v, signer.sign(input));
  // Check our own output before handing it to anyone: a signer that returns garbage
  // (wrong PIN path, firmware bug) must fail here, not at the box.
  const PublicKey& pk = signer.public_key();
  CS_TRY_VOID(pk.verify(input, v.signature, v.authenticator_data, false));
  SignatureFile::Fields f;
  f.proposal = proposal_id;
  f.key = pk.id();
  f.alg = pk.alg();
  f.signature = std::move(v.signature);
  f.authenticator_data = std::move(v.authenticator_data);
  f.signer = std::move(signer_name);
  f.signed_at = now;
  return SignatureFile::create(std::move(f));
}

}  // namespace countersign
