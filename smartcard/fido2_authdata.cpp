#include "smartcard/fido2_authdata.h"

#include <algorithm>
#include <string>

#include "smartcard/cose_key.h"

namespace countersign::fido2 {
namespace {

constexpr std::size_t kRpIdHashBytes = 32;
constexpr std::size_t kHeaderBytes = kRpIdHashBytes + 1 + 4;  // rpIdHash, flags, signCount
constexpr std::size_t kAaguidBytes = 16;
constexpr std::size_t kMaxCredentialIdBytes = 1023;  // WebAuthn Level 2, 6.5.1

Error bad(const std::string& what) { return make_error(Errc::kMalformed, "authenticatorData: " + what); }

}  // namespace

Result<AttestedAuthenticatorData> parse_attested_authenticator_data(Alg alg, ByteView data) {
  if (!is_fido2(alg))
    return make_error(Errc::kInvalidArgument, "not a FIDO2 algorithm: " + std::string(alg_name(alg)));
  if (data.size() < kHeaderBytes)
    return bad(std::to_string(data.size()) + " bytes, shorter than its " + std::to_string(kHeaderBytes) +
               "-byte header");
  Digest rp_id_hash{};
  std::copy_n(data.begin(), rp_id_hash.size(), rp_id_hash.begin());
  const std::uint8_t flags = data[kRpIdHashBytes];
  const std::uint32_t sign_count = std::uint32_t{data[33]} << 24 | std::uint32_t{data[34]} << 16 |
                                   std::uint32_t{data[35]} << 8 | std::uint32_t{data[36]};
  if ((flags & kFlagAttestedCredential) == 0)
    return bad("the AT flag is not set: no attested credential data");
  if ((flags & kFlagExtensions) != 0) return bad("the ED flag is set: extensions that were not asked for");

  ByteView rest = data.subspan(kHeaderBytes);
  if (rest.size() < kAaguidBytes + 2) return bad("attested credential data cut off before the credential id");
  const ByteView aaguid = rest.first(kAaguidBytes);
  const std::size_t id_len = std::size_t{rest[kAaguidBytes]} << 8 | rest[kAaguidBytes + 1];
  rest = rest.subspan(kAaguidBytes + 2);
  if (id_len == 0 || id_len > kMaxCredentialIdBytes)
    return bad("credentialIdLength " + std::to_string(id_len) + " is not 1 to 1023");
  if (id_len > rest.size())
    return bad("a credential id of " + std::to_string(id_len) + " bytes where " +
               std::to_string(rest.size()) + " are left");
  const ByteView credential_id = rest.first(id_len);
  rest = rest.subspan(id_len);

  auto cose = parse_cose_key(alg, rest);
  if (!cose.ok()) return std::move(cose).error().with_context("authenticatorData");
  if (cose->length != rest.size())
    return bad(std::to_string(rest.size() - cose->length) + " bytes after the credential public key");
  return AttestedAuthenticatorData{rp_id_hash,
                                   flags,
                                   sign_count,
                                   Bytes(aaguid.begin(), aaguid.end()),
                                   Bytes(credential_id.begin(), credential_id.end()),
                                   std::move(cose->key)};
}

}  // namespace countersign::fido2
