#include "smartcard/nitro_binding.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/jcs.h"
#include "core/untrusted_text.h"

namespace countersign::nitro {

Result<const Image*> match_image(const Report& report, const Policy& policy) {
  if (report.debug) {
    return make_error(Errc::kRejected,
                      "the enclave ran in debug mode (PCRs 0, 1 and 2 are zero): its memory was open to the "
                      "parent instance, so it matches no approved image");
  }
  std::string why;
  for (const Image& image : policy.images()) {
    if (image.platform != "aws-nitro") continue;
    std::string differs;
    for (const auto& [index, value] : image.pcrs) {
      const auto it = report.pcrs.find(index);
      if (it == report.pcrs.end()) {
        differs = "the document has no PCR " + std::to_string(index);
        break;
      }
      if (!std::equal(value.begin(), value.end(), it->second.begin(), it->second.end())) {
        differs =
            "PCR " + std::to_string(index) + " is " + hex_encode(it->second) + ", not " + hex_encode(value);
        break;
      }
    }
    if (differs.empty()) return &image;
    why += (why.empty() ? "" : "; ") + escape_untrusted(image.name) + ": " + differs;
  }
  if (why.empty()) return make_error(Errc::kRejected, "the policy lists no aws-nitro images");
  return make_error(Errc::kRejected, "the document matches no approved image (" + why + ")");
}

Result<Digest> binding(std::string_view box_id, ByteView log_key_spki, std::optional<ByteView> tls_key_spki) {
  if (auto problem = name_problem(box_id); problem || box_id.empty()) {
    return make_error(Errc::kInvalidArgument, "box id \"" + escape_untrusted(box_id, 64) +
                                                  "\" is not a name" + (problem ? ": " + *problem : ""));
  }
  nlohmann::json doc{{"box", std::string(box_id)}, {"log_key", base64_encode(log_key_spki)}};
  if (tls_key_spki) doc["tls_key"] = base64_encode(*tls_key_spki);
  return jcs::hash(doc);
}

Result<void> check_binding(const Report& report, std::string_view box_id, ByteView log_key_spki,
                           std::optional<ByteView> tls_key_spki) {
  if (!report.user_data)
    return make_error(Errc::kRejected, "the document carries no user_data, so it binds no box");
  if (report.user_data->size() != 32) {
    return make_error(Errc::kRejected, "the document's user_data is " +
                                           std::to_string(report.user_data->size()) +
                                           " bytes, not a 32-byte binding to a box");
  }
  CS_TRY(Digest want, binding(box_id, log_key_spki, tls_key_spki));
  if (!std::equal(want.begin(), want.end(), report.user_data->begin(), report.user_data->end())) {
    return make_error(Errc::kRejected, "the document's user_data does not bind box " +
                                           escape_untrusted(box_id) + " with this log key" +
                                           (tls_key_spki ? " and TLS key" : "") +
                                           " (it was made for another box or another key)");
  }
  return {};
}

Result<SelfAttestation> check_self(ByteView cose, const Policy& policy, const std::vector<Bytes>& roots,
                                   UnixTime at, ByteView nonce, const BoxKeys& box) {
  auto report = verify(cose, roots, at);
  if (!report.ok()) return report.error().with_context("the box's attestation does not verify");
  if (!report->nonce ||
      !std::equal(nonce.begin(), nonce.end(), report->nonce->begin(), report->nonce->end())) {
    return make_error(Errc::kRejected,
                      "the box's attestation does not carry the nonce it was asked for, so it is not fresh");
  }
  auto image = match_image(*report, policy);
  if (!image.ok()) return image.error().with_context("the box's attestation");
  std::optional<ByteView> tls;
  if (box.tls_key_spki) tls = ByteView(*box.tls_key_spki);
  auto bound = check_binding(*report, box.box_id, box.log_key_spki, tls);
  if (!bound.ok()) return bound.error().with_context("the box's attestation");
  return SelfAttestation{(*image)->name, std::move(*report)};
}

Verdict judge(ByteView cose, const Policy& policy, const std::vector<Bytes>& roots, UnixTime at, UnixTime now,
              const std::optional<BoxKeys>& box, const std::optional<Bytes>& nonce) {
  Verdict v;
  auto report = verify(cose, roots, at);
  if (!report.ok()) {
    v.line = "the attestation document does not verify: " + report.error().message;
    return v;
  }
  v.report = *report;
  auto image = match_image(*report, policy);
  if (!image.ok()) {
    v.line = image.error().message;
    return v;
  }
  v.image = (*image)->name;
  if (box) {
    std::optional<ByteView> tls;
    if (box->tls_key_spki) tls = ByteView(*box->tls_key_spki);
    auto bound = check_binding(*report, box->box_id, box->log_key_spki, tls);
    if (!bound.ok()) {
      v.line = bound.error().message;
      return v;
    }
  }
  if (nonce && !(report->nonce && *report->nonce == *nonce)) {
    v.line = "the document's nonce is not the one asked for (a replayed or another request's document)";
    return v;
  }
  v.approved = true;
  v.line = (box ? escape_untrusted(box->box_id) : std::string("the enclave")) + " runs approved image " +
           escape_untrusted(v.image) + ", attested " + format_age(report->timestamp_ms / 1000, now);
  return v;
}

Result<Bytes> document_from_file_text(std::string_view text, const std::string& name) {
  if (text.empty()) return make_error(Errc::kMalformed, name + " is empty");
  const auto first = static_cast<std::uint8_t>(text[0]);
  if (first == 0xd2 || first == 0x84) return Bytes(text.begin(), text.end());
  std::string b64;
  for (char c : text) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') b64 += c;
  }
  auto raw = base64_decode(b64);
  if (!raw.ok()) {
    return make_error(Errc::kMalformed, name + " is neither a CBOR COSE_Sign1 (it starts with byte 0x" +
                                            hex_encode(ByteView(&first, 1)) + ") nor the base64 of one");
  }
  return raw;
}

Result<Bytes> log_key_spki(const note::Verifier& log_key) {
  if (log_key.type() != note::kTypeEd25519) {
    return make_error(Errc::kInvalidArgument, log_key.label() + " is not a log key (type 0x01, Ed25519)");
  }
  CS_TRY(PublicKey key, PublicKey::from_raw(Alg::kEd25519, log_key.public_key()));
  return key.spki();
}

}  // namespace countersign::nitro
