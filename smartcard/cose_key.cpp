#include "smartcard/cose_key.h"

#include <cstdint>
#include <optional>
#include <string>

#include "smartcard/cbor_reader.h"

namespace countersign::fido2 {
namespace {

// COSE labels and values (RFC 9052 section 7.1, RFC 9053 sections 2, 7.1 and 7.2; IANA "COSE
// Key Common Parameters", "COSE Key Type Parameters", "COSE Algorithms", "COSE Elliptic Curves").
constexpr std::int64_t kLabelKty = 1;
constexpr std::int64_t kLabelAlg = 3;
constexpr std::int64_t kLabelCrv = -1;
constexpr std::int64_t kLabelX = -2;
constexpr std::int64_t kLabelY = -3;
constexpr std::int64_t kKtyOkp = 1;
constexpr std::int64_t kKtyEc2 = 2;
constexpr std::int64_t kAlgEs256 = -7;
constexpr std::int64_t kAlgEdDsa = -8;
constexpr std::int64_t kCrvP256 = 1;
constexpr std::int64_t kCrvEd25519 = 6;
constexpr std::size_t kCoordinateBytes = 32;

Error bad(const std::string& what) { return make_error(Errc::kMalformed, "COSE_Key: " + what); }

// One integer parameter: present once, with the one value `alg` allows.
Result<void> expect_int(std::optional<std::int64_t>& slot, std::int64_t value, std::int64_t want,
                        const char* name) {
  if (slot) return bad(std::string(name) + " appears twice");
  slot = value;
  if (value != want)
    return bad(std::string(name) + " is " + std::to_string(value) + ", not " + std::to_string(want));
  return {};
}

// One coordinate: present once, a byte string of 32 bytes.
Result<void> expect_coordinate(std::optional<ByteView>& slot, ByteView value, const char* name) {
  if (slot) return bad(std::string(name) + " appears twice");
  if (value.size() != kCoordinateBytes)
    return bad(std::string(name) + " is " + std::to_string(value.size()) + " bytes, not 32");
  slot = value;
  return {};
}

}  // namespace

Result<CoseKey> parse_cose_key(Alg alg, ByteView in) {
  if (!is_fido2(alg))
    return make_error(Errc::kInvalidArgument, "not a FIDO2 algorithm: " + std::string(alg_name(alg)));
  const bool ec2 = alg == Alg::kFido2Es256;
  const std::uint64_t entries = ec2 ? 5 : 4;

  cbor::Reader r(in);
  auto count = r.map();
  if (!count.ok()) return std::move(count).error().with_context("COSE_Key");
  if (*count != entries)
    return bad("a " + std::string(alg_name(alg)) + " key has " + std::to_string(entries) +
               " parameters, not " + std::to_string(*count));

  std::optional<std::int64_t> kty, cose_alg, crv;
  std::optional<ByteView> x, y;
  for (std::uint64_t i = 0; i < entries; ++i) {
    auto label = r.integer();
    if (!label.ok()) return std::move(label).error().with_context("COSE_Key label");
    Result<void> ok;
    if (*label == kLabelX || (ec2 && *label == kLabelY)) {
      auto value = r.bytes();
      if (!value.ok()) return std::move(value).error().with_context("COSE_Key coordinate");
      ok =
          *label == kLabelX ? expect_coordinate(x, *value, "x (-2)") : expect_coordinate(y, *value, "y (-3)");
    } else if (*label == kLabelKty || *label == kLabelAlg || *label == kLabelCrv) {
      auto value = r.integer();
      if (!value.ok()) return std::move(value).error().with_context("COSE_Key parameter");
      if (*label == kLabelKty)
        ok = expect_int(kty, *value, ec2 ? kKtyEc2 : kKtyOkp, "kty (1)");
      else if (*label == kLabelAlg)
        ok = expect_int(cose_alg, *value, ec2 ? kAlgEs256 : kAlgEdDsa, "alg (3)");
      else
        ok = expect_int(crv, *value, ec2 ? kCrvP256 : kCrvEd25519, "crv (-1)");
    } else {
      return bad("label " + std::to_string(*label) + " has no place in a " + std::string(alg_name(alg)) +
                 " key");
    }
    if (!ok.ok()) return std::move(ok).error();
  }
  // `entries` labels, none unknown, none twice: every one is present.

  Bytes raw;
  if (ec2) {
    raw.reserve(1 + 2 * kCoordinateBytes);
    raw.push_back(0x04);  // SEC1 uncompressed point: 0x04 || x || y
    raw.insert(raw.end(), x->begin(), x->end());
    raw.insert(raw.end(), y->begin(), y->end());
  } else {
    raw.assign(x->begin(), x->end());
  }
  auto key = PublicKey::from_raw(alg, raw);
  if (!key.ok()) return std::move(key).error().with_context("COSE_Key");
  return CoseKey{std::move(*key), r.offset()};
}

}  // namespace countersign::fido2
