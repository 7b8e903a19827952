#include "core/signature_file.h"

#include "core/jcs.h"
#include "core/json_reader.h"

namespace countersign {

using nlohmann::json;

namespace {

constexpr std::string_view kDoc = "signature";

// The statement a file's "schema" names; an approval when it names none of them (then the
// reader says what is wrong: "schema" missing, or which schema it is not).
Statement statement_of(const json& doc) {
  const auto it = doc.is_object() ? doc.find("schema") : doc.end();
  if (it != doc.end() && it->is_string()) {
    for (Statement s : {Statement::kApproval, Statement::kVeto, Statement::kLiveness}) {
      if (it->get_ref<const json::string_t&>() == statement_schema(s)) return s;
    }
  }
  return Statement::kApproval;
}

}  // namespace

std::string_view statement_schema(Statement s) {
  switch (s) {
    case Statement::kApproval:
      return kSignatureSchema;
    case Statement::kVeto:
      return kVetoSchema;
    case Statement::kLiveness:
      return kLivenessSchema;
  }
  return kSignatureSchema;
}

Result<void> SignatureFile::expect(Statement s) const {
  if (f_.statement == s) return {};
  return Error(Errc::kInvalidArgument, std::string(kDoc) + ": this file is a " +
                                           std::string(statement_noun(f_.statement)) + " (\"schema\": \"" +
                                           std::string(statement_schema(f_.statement)) + "\"), not a " +
                                           std::string(statement_noun(s)));
}

Result<SignatureFile> SignatureFile::parse(const json& doc) {
  CS_TRY(auto r, ObjectReader::open(doc, kDoc, ""));
  const Statement statement = statement_of(doc);
  CS_TRY_VOID(r.expect_schema(statement_schema(statement)));
  SignatureFile s;
  s.f_.statement = statement;
  CS_TRY(s.f_.proposal, r.digest(statement == Statement::kLiveness ? "challenge" : "proposal"));
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

Result<SignatureFile> SignatureFile::parse_text(std::string_view text) {
  return parse_document_text<SignatureFile>(text, "signature");
}

Result<SignatureFile> SignatureFile::create(Fields fields) {
  SignatureFile s;
  s.f_ = std::move(fields);
  return parse(s.to_json());
}

json SignatureFile::to_json() const {
  json j;
  j["schema"] = statement_schema(f_.statement);
  j[f_.statement == Statement::kLiveness ? "challenge" : "proposal"] = digest_to_string(f_.proposal);
  j["key"] = f_.key;
  j["alg"] = alg_name(f_.alg);
  j["signature"] = base64_encode(f_.signature);
  if (is_fido2(f_.alg)) j["authenticator_data"] = base64_encode(f_.authenticator_data);
  if (f_.signer) j["signer"] = *f_.signer;
  if (f_.signed_at) j["signed"] = format_rfc3339(*f_.signed_at);
  return j;
}

Result<SignatureFile> sign_statement(Signer& signer, Statement statement, const Digest& digest,
                                     std::optional<std::string> signer_name, UnixTime now) {
  const SigningInput input = signing_input(statement, digest);
  CS_TRY(SignatureValue v, signer.sign(input));
  // Check our own output before handing it to anyone: a signer that returns garbage
  // (wrong PIN path, firmware bug) must fail here, not at the box.
  const PublicKey& pk = signer.public_key();
  CS_TRY_VOID(pk.verify(input, v.signature, v.authenticator_data, false));
  SignatureFile::Fields f;
  f.statement = statement;
  f.proposal = digest;
  f.key = pk.id();
  f.alg = pk.alg();
  f.signature = std::move(v.signature);
  f.authenticator_data = std::move(v.authenticator_data);
  f.signer = std::move(signer_name);
  f.signed_at = now;
  return SignatureFile::create(std::move(f));
}

}  // namespace countersign
