// Signature file: one approver's vote (DESIGN.md "Signature file"). `signer` and `signed`
// are hints for people: not trusted and not covered by the signature.
//
// The same file carries the other signed statements (DESIGN.md "What exactly is signed"):
// a veto ("schema": "countersign/veto/v1", "proposal": the proposal id) and a liveness proof
// ("schema": "countersign/liveness/v1", "challenge": the challenge's hash in place of
// "proposal"). Each is signed over its own signing input (core/keys.h), so a veto edited to
// look like an approval, or the reverse, does not verify.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/keys.h"
#include "core/result.h"
#include "core/sha256.h"
#include "core/timeutil.h"

namespace countersign {

inline constexpr std::string_view kSignatureSchema = "countersign/signature/v1";
inline constexpr std::string_view kVetoSchema = "countersign/veto/v1";
inline constexpr std::string_view kLivenessSchema = "countersign/liveness/v1";

// The file schema of each statement.
std::string_view statement_schema(Statement s);

class SignatureFile {
 public:
  struct Fields {
    Statement statement = Statement::kApproval;
    Digest proposal{};  // the proposal id; for a liveness proof the challenge's hash
    std::string key;    // key id, 64 lowercase hex
    Alg alg = Alg::kEd25519;
    Bytes signature;
    Bytes authenticator_data;  // FIDO2 only; empty otherwise
    std::optional<std::string> signer;
    std::optional<UnixTime> signed_at;
  };

  // Any of the three statements; check statement() or expect() where one kind is wanted.
  static Result<SignatureFile> parse(const nlohmann::json& doc);
  static Result<SignatureFile> parse_text(std::string_view text);
  static Result<SignatureFile> create(Fields fields);

  const Fields& fields() const { return f_; }
  Statement statement() const { return f_.statement; }
  // kInvalidArgument ("this file is a veto, not an approval") unless it holds `s`.
  Result<void> expect(Statement s) const;
  // The signed digest: the proposal id, or the challenge's hash for a liveness proof.
  const Digest& proposal() const { return f_.proposal; }
  const std::string& key() const { return f_.key; }
  Alg alg() const { return f_.alg; }
  nlohmann::json to_json() const;

 private:
  SignatureFile() = default;
  Fields f_;
};

// Signs `digest` as `statement` with `signer` and returns the file (not yet written). The
// signature is verified against the signer's public key before it is returned.
Result<SignatureFile> sign_statement(Signer& signer, Statement statement, const Digest& digest,
                                     std::optional<std::string> signer_name, UnixTime now);
// The approval of `proposal_id`.
inline Result<SignatureFile> sign_proposal(Signer& signer, const Digest& proposal_id,
                                           std::optional<std::string> signer_name, UnixTime now) {
  return sign_statement(signer, Statement::kApproval, proposal_id, std::move(signer_name), now);
}

}  // namespace countersign
