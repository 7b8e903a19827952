// Public keys, signature algorithms and signature verification (DESIGN.md "What exactly
// is signed").
//
// The signing input is the 56 bytes "countersign/proposal/v1" || 0x00 || SHA-256(JCS(proposal)).
// Other statements (a veto, a liveness proof) are signed the same way over their own input:
// their schema name, 0x00, the 32-byte digest (signing_input(Statement, digest)), so that no
// signature can be replayed as another kind.
// PublicKey::verify checks one signature over such an input for its algorithm:
//   ed25519       Ed25519 (libsodium) over the input
//   ecdsa-p256    ECDSA over SHA-256(input), DER signature (OpenSSL)
//   ecdsa-p384    ECDSA over SHA-384(input), DER signature
//   fido2-es256   ECDSA P-256/SHA-256 over authenticatorData || SHA-256(input)
//   fido2-eddsa   Ed25519 over authenticatorData || SHA-256(input)
// For FIDO2, authenticatorData must carry rpIdHash = SHA-256("countersign") and the UP
// flag, and the UV flag when require_uv.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/result.h"
#include "core/sha256.h"

// OpenSSL's EVP_PKEY, forward-declared so that users of this header need not include OpenSSL.
struct evp_pkey_st;

namespace countersign {

enum class Alg { kEd25519, kEcdsaP256, kEcdsaP384, kFido2Es256, kFido2EdDsa };

// "ed25519", "ecdsa-p256", "ecdsa-p384", "fido2-es256", "fido2-eddsa".
std::string_view alg_name(Alg alg);
Result<Alg> alg_from_name(std::string_view name);
bool is_fido2(Alg alg);

inline constexpr std::string_view kSigningContext = "countersign/proposal/v1";
inline constexpr std::string_view kFido2RpId = "countersign";

// What a signature says: an approval of a proposal, a veto of a proposal, or a liveness
// proof over a box's challenge (DESIGN.md "What exactly is signed").
enum class Statement { kApproval, kVeto, kLiveness };
// The signing context of each: "countersign/proposal/v1", "countersign/veto/v1",
// "countersign/liveness/v1". The approval's and the liveness proof's inputs are 56 bytes, the
// veto's 52 (its context is shorter).
std::string_view signing_context(Statement s);
// "approval", "veto", "liveness proof": for people.
std::string_view statement_noun(Statement s);

using SigningInput = Bytes;

// DESIGN.md: context || 0x00 || raw 32-byte digest (the proposal id, or for a liveness
// proof the challenge's hash).
SigningInput signing_input(Statement statement, const Digest& digest);
// The approval's signing input over a proposal id.
inline SigningInput signing_input(const Digest& proposal_id) {
  return signing_input(Statement::kApproval, proposal_id);
}

class PublicKey;
namespace detail {
// The bare signature primitive of `key`'s algorithm over `message`, with none of the
// countersign framing: Ed25519 over message, or ECDSA (SHA-256 for P-256, SHA-384 for
// P-384) with a DER signature. For FIDO2 keys `message` is authenticatorData ||
// clientDataHash and the rpIdHash/flag checks are NOT done. Only for PublicKey::verify and
// for tests against foreign vectors; never accept a signature on this alone.
Result<void> verify_primitive(const PublicKey& key, ByteView message, ByteView signature);
}  // namespace detail

class PublicKey {
 public:
  // Parses SubjectPublicKeyInfo DER and checks that the key type and curve fit `alg`
  // (Ed25519 for ed25519 and fido2-eddsa, P-256 for ecdsa-p256 and fido2-es256, P-384 for
  // ecdsa-p384). Rejects trailing bytes and points not on the curve (for Ed25519: not a
  // canonical point of the prime-order subgroup). Only the one canonical encoding is
  // accepted (named curve, uncompressed point), so that one key has exactly one key id.
  // Errors: kMalformed for bytes that are not such DER, kInvalidArgument for a key of the
  // wrong type or curve for `alg`, kCrypto for an invalid point.
  static Result<PublicKey> parse(Alg alg, ByteView spki_der);

  // Builds the key from its raw form, as PIV cards and FIDO2 (COSE) report it: for
  // ed25519/fido2-eddsa the 32-byte Ed25519 public key, for the ECDSA algorithms the
  // uncompressed SEC1 point 0x04 || X || Y. Same checks as parse().
  static Result<PublicKey> from_raw(Alg alg, ByteView raw);

  Alg alg() const { return alg_; }
  const Bytes& spki() const { return spki_; }
  // Key id: hex SHA-256 of the SPKI DER (64 lowercase hex).
  const std::string& id() const { return id_; }

  // Verifies `signature` over `signing_input` (see the header comment). For non-FIDO2
  // algorithms `authenticator_data` must be empty. Returns kCrypto with a reason on failure.
  Result<void> verify(ByteView signing_input, ByteView signature, ByteView authenticator_data = {},
                      bool require_uv = false) const;

 private:
  friend Result<void> detail::verify_primitive(const PublicKey& key, ByteView message, ByteView signature);
  PublicKey() = default;
  Alg alg_ = Alg::kEd25519;
  Bytes spki_;
  std::string id_;
  // The parsed key, shared between copies (immutable after parse) so verify never
  // re-parses. Used for ECDSA; Ed25519 verification uses ed25519_raw_ with libsodium.
  std::shared_ptr<evp_pkey_st> pkey_;
  std::array<std::uint8_t, 32> ed25519_raw_{};
};

// What a signer produces: the signature and, for FIDO2, the authenticator data.
struct SignatureValue {
  Bytes signature;
  Bytes authenticator_data;
};

// One job: sign a signing input. Where the key lives (file, PIV card, FIDO2 authenticator)
// is behind this seam.
class Signer {
 public:
  virtual ~Signer() = default;
  virtual const PublicKey& public_key() const = 0;
  virtual Result<SignatureValue> sign(ByteView signing_input) = 0;
};

}  // namespace countersign
