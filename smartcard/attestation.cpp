#include "smartcard/attestation.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <memory>

#include "core/x509.h"
#include "smartcard/attestation_roots.h"
#include "smartcard/fido2_attestation.h"

namespace countersign::attestation {
namespace {

using X509Ptr = x509::CertificatePtr;
struct ObjFree {
  void operator()(ASN1_OBJECT* p) const { ASN1_OBJECT_free(p); }
};
struct IntFree {
  void operator()(ASN1_INTEGER* p) const { ASN1_INTEGER_free(p); }
};

X509Ptr parse_cert(const Bytes& der) { return x509::parse_certificate(der); }

// True when `child` names `parent` as its issuer and carries a signature by its key.
bool signed_by(X509* child, X509* parent) {
  EVP_PKEY* key = X509_get0_pubkey(parent);
  const bool ok = key != nullptr &&
                  X509_NAME_cmp(X509_get_issuer_name(child), X509_get_subject_name(parent)) == 0 &&
                  X509_verify(child, key) == 1;
  ERR_clear_error();
  return ok;
}

// The raw value of the extension `oid` of `cert`, if present.
std::optional<Bytes> extension(X509* cert, const char* oid) {
  std::unique_ptr<ASN1_OBJECT, ObjFree> obj(OBJ_txt2obj(oid, 1));
  if (!obj) return std::nullopt;
  const int i = X509_get_ext_by_OBJ(cert, obj.get(), -1);
  if (i < 0) return std::nullopt;
  const ASN1_OCTET_STRING* v = X509_EXTENSION_get_data(X509_get_ext(cert, i));
  if (v == nullptr) return std::nullopt;
  const unsigned char* p = ASN1_STRING_get0_data(v);
  return Bytes(p, p + ASN1_STRING_length(v));
}

// Yubico's PIN and touch policy values (Yubico, "PIV attestation").
std::string pin_policy_name(std::uint8_t v) {
  switch (v) {
    case 1:
      return "never";
    case 2:
      return "once";
    case 3:
      return "always";
    default:
      return "unknown (" + std::to_string(v) + ")";
  }
}
std::string touch_policy_name(std::uint8_t v) {
  switch (v) {
    case 1:
      return "never";
    case 2:
      return "always";
    case 3:
      return "cached";
    default:
      return "unknown (" + std::to_string(v) + ")";
  }
}

PivFacts piv_facts(X509* leaf, const Bytes& leaf_der) {
  PivFacts f;
  f.subject = x509::subject_line(leaf_der);
  if (auto fw = extension(leaf, "1.3.6.1.4.1.41482.3.3"); fw && fw->size() == 3) {
    f.firmware = std::to_string((*fw)[0]) + "." + std::to_string((*fw)[1]) + "." + std::to_string((*fw)[2]);
  }
  if (auto sn = extension(leaf, "1.3.6.1.4.1.41482.3.7")) {
    const unsigned char* p = sn->data();
    std::unique_ptr<ASN1_INTEGER, IntFree> n(d2i_ASN1_INTEGER(nullptr, &p, static_cast<long>(sn->size())));
    std::uint64_t v = 0;
    if (n && ASN1_INTEGER_get_uint64(&v, n.get()) == 1 && v <= 0xFFFFFFFFu)
      f.serial = static_cast<std::uint32_t>(v);
    ERR_clear_error();
  }
  if (auto pol = extension(leaf, "1.3.6.1.4.1.41482.3.8"); pol && pol->size() == 2) {
    f.pin_policy = pin_policy_name((*pol)[0]);
    f.touch_policy = touch_policy_name((*pol)[1]);
  }
  return f;
}

std::string describe(const PivFacts& f) {
  std::string s = "YubiKey";
  if (f.serial) s += " serial " + std::to_string(*f.serial);
  if (!f.firmware.empty()) s += ", firmware " + f.firmware;
  if (!f.pin_policy.empty()) s += ", PIN " + f.pin_policy + ", touch " + f.touch_policy;
  return s;
}

}  // namespace

std::string fido2_model(ByteView aaguid) {
  // Yubico, "YubiKey Hardware FIDO2 AAGUIDs" (one AAGUID covers several form factors).
  static const std::pair<const char*, const char*> kYubico[] = {
      {"cb69481e8ff7403993ec0a2729a154a8", "YubiKey 5 / 5 Nano / 5C / 5C Nano (firmware 5.1)"},
      {"ee882879721c491397753dfcce97072a", "YubiKey 5 / 5 Nano / 5C / 5C Nano (firmware 5.2, 5.4)"},
      {"fa2b99dc9e3942578f924a30d23c4118", "YubiKey 5 NFC (firmware 5.1)"},
      {"2fc0579f811347eab116bb5a8db9202a", "YubiKey 5 NFC / 5C NFC (firmware 5.2, 5.4)"},
      {"c1f9a0bc1dd2404ab27f8e29047a43fd", "YubiKey 5 NFC FIPS / 5C NFC FIPS (firmware 5.4)"},
      {"73bb0cd4e50249b89c6fb59445bf720b", "YubiKey 5 Nano FIPS / 5C FIPS / 5C Nano FIPS (firmware 5.4)"},
      {"c5ef55ffad9a4b9fb580adebafe026d0", "YubiKey 5Ci (firmware 5.2, 5.4)"},
  };
  const std::string hex = hex_encode(aaguid);
  for (const auto& [id, name] : kYubico) {
    if (hex == id) return name;
  }
  return "";
}

Roots Roots::pinned() { return Roots{pinned_fido2_roots(), pinned_piv_roots()}; }

Result<void> Roots::add_files(const std::vector<std::string>& paths) {
  for (const auto& path : paths) {
    CS_TRY(auto certs, x509::read_certificates(path));
    fido2.insert(fido2.end(), certs.begin(), certs.end());
    piv.insert(piv.end(), certs.begin(), certs.end());
  }
  return {};
}

Result<Roots> Roots::pinned_plus(const std::vector<std::string>& paths) {
  Roots r = pinned();
  CS_TRY_VOID(r.add_files(paths));
  return r;
}

Result<PivFacts> verify_yubikey_piv(const PolicyKey& key, const std::vector<Bytes>& roots_der) {
  if (!key.attestation) return make_error(Errc::kInvalidArgument, "the key carries no attestation");
  const Attestation& att = *key.attestation;
  if (att.format != "yubikey-piv")
    return make_error(Errc::kInvalidArgument, "attestation format " + att.format + " is not yubikey-piv");
  if (att.certificates.size() < 2)
    return make_error(Errc::kInvalidDocument,
                      "a yubikey-piv attestation needs the slot attestation certificate and the "
                      "attestation key's certificate");
  std::vector<X509Ptr> chain;
  for (std::size_t i = 0; i < att.certificates.size(); ++i) {
    X509Ptr c = parse_cert(att.certificates[i]);
    if (!c)
      return make_error(Errc::kMalformed,
                        "attestation certificate " + std::to_string(i) + " is not DER X.509");
    chain.push_back(std::move(c));
  }
  CS_TRY(PublicKey attested, x509::public_key_from_certificate(att.certificates[0]));
  if (attested.id() != key.key.id())
    return make_error(Errc::kInvalidDocument,
                      "the attestation is for another public key (" + attested.id() + ")");
  for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
    if (!signed_by(chain[i].get(), chain[i + 1].get()))
      return make_error(Errc::kCrypto, "attestation certificate " + std::to_string(i) +
                                           " is not signed by certificate " + std::to_string(i + 1));
  }
  X509* last = chain.back().get();
  bool anchored = false;
  for (const Bytes& der : roots_der) {
    if (der == att.certificates.back()) {  // the chain carries the root itself
      anchored = true;
      break;
    }
    X509Ptr root = parse_cert(der);
    if (root && signed_by(last, root.get())) {
      anchored = true;
      break;
    }
  }
  if (!anchored)
    return make_error(Errc::kRejected, "the attestation chain (issuer " +
                                           x509::subject_line(att.certificates.back()) +
                                           ") does not end at a pinned root");
  return piv_facts(chain.front().get(), att.certificates.front());
}

nlohmann::json Check::to_json() const {
  nlohmann::json j{{"verified", verified},
                   {"format", format.empty() ? nlohmann::json() : nlohmann::json(format)},
                   {"detail", detail}};
  if (!aaguid.empty()) j["aaguid"] = aaguid;
  if (!model.empty()) j["model"] = model;
  if (!subject.empty()) j["subject"] = subject;
  if (!piv.firmware.empty()) j["firmware"] = piv.firmware;
  if (piv.serial) j["serial"] = *piv.serial;
  if (!piv.pin_policy.empty()) j["pin_policy"] = piv.pin_policy;
  if (!piv.touch_policy.empty()) j["touch_policy"] = piv.touch_policy;
  return j;
}

Check check(const PolicyKey& key, const Roots& roots) {
  Check c;
  if (!key.attestation) {
    c.detail = "no hardware attestation";
    return c;
  }
  c.format = key.attestation->format;
  if (c.format == "fido2-packed") {
    auto r = fido2::verify_attestation(key, kFido2RpId, roots.fido2);
    if (!r.ok()) {
      c.detail = "fido2-packed NOT verified: " + r.error().message;
      return c;
    }
    c.verified = true;
    c.aaguid = hex_encode(r->aaguid);
    c.model = fido2_model(r->aaguid);
    c.subject = r->subject;
    c.detail = "fido2-packed verified: " + (c.model.empty() ? r->subject : c.model) + ", aaguid " + c.aaguid;
  } else if (c.format == "yubikey-piv") {
    auto r = verify_yubikey_piv(key, roots.piv);
    if (!r.ok()) {
      c.detail = "yubikey-piv NOT verified: " + r.error().message;
      return c;
    }
    c.verified = true;
    c.piv = *r;
    c.subject = r->subject;
    c.detail = "yubikey-piv verified: " + describe(*r);
  } else {
    c.detail = "attestation format \"" + c.format + "\" is not one this build knows";
  }
  return c;
}

}  // namespace countersign::attestation
