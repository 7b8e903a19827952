// Signature file: one approver's vote (DESIGN.md "Signature file"). `signer` and `signed`
// are hints for people: not trusted and not covered by the signature.
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

class SignatureFile {
 public:
  struct Fields {
    Digest proposal{};
    std::string key;  // key id, 64 lowercase hex
    Alg alg = Alg::kEd25519;
    Bytes signature;
    Bytes authenticator_data;  // FIDO2 only; empty otherwise
    std::optional<std::string> signer;
    std::optional<UnixTime> signed_at;
  };

  static Result<SignatureFile> parse(const nlohmann::json& doc);
  static Result<SignatureFile> parse_text(std::string_view text);
  static Result<SignatureFile> create(Fields fields);

  const Fields& fields() const { return f_; }
  const Digest& proposal() const { return f_.proposal; }
  const std::string& key() const { return f_.key; }
  Alg alg() const { return f_.alg; }
  nlohmann::json to_json() const;

 private:
  SignatureFile() = default;
  Fields f_;
};

// Signs `proposal_id` with `signer` and returns the signature file (not yet written).
Result<SignatureFile> sign_proposal(Signer& signer, const Digest& proposal_id, std::optional<std::string> signer_name,
                                    UnixTime now);

}  // namespace countersign
