// smartcard/nitro: real AWS Nitro Enclaves attestation documents
// (tests/data/nitro-attestation/SOURCE.txt) verified against the pinned AWS root, and every
// refusal of the parser and the verifier with its own reason. Documents the tests change are
// re-encoded by the small CBOR writer below (AWS's key cannot re-sign them, so a changed
// payload is refused for its signature, or earlier by the parser).
#include "smartcard/nitro.h"

#include <gtest/gtest.h>

#include <string>

#include "core/fileio.h"
#include "core/sha256.h"
#include "smartcard/attestation_roots.h"
#include "tests/cbor_writer.h"

namespace countersign::nitro {
namespace {

const std::string kData = std::string(COUNTERSIGN_TEST_DATA) + "/nitro-attestation/";

Bytes vector_bytes(const std::string& name) {
  auto text = read_file(kData + name);
  EXPECT_TRUE(text.ok()) << name;
  std::string b64;
  for (char c : text.ok() ? *text : std::string()) {
    if (c != '\n' && c != '\r') b64 += c;
  }
  auto raw = base64_decode(b64);
  EXPECT_TRUE(raw.ok()) << name;
  return raw.ok() ? *raw : Bytes{};
}

const Bytes& real() {
  static const Bytes b = vector_bytes("nitro_attestation.b64");
  return b;
}
const Bytes& debug_doc() {
  static const Bytes b = vector_bytes("nitro_attestation_debug.b64");
  return b;
}

UnixTime own_time(const Bytes& doc) {
  auto d = parse(doc);
  EXPECT_TRUE(d.ok()) << d.error().message;
  return d.ok() ? d->timestamp_ms / 1000 : 0;
}

using Writer = test_util::CborWriter;

// What a test changes in a document before it is encoded again.
struct Edit {
  std::string digest = "SHA384";
  std::vector<std::pair<std::string, Bytes>> extra_fields;  // appended byte-string fields
  bool repeat_module_id = false;
  bool drop_certificate = false;
  bool tag18 = false;
  bool null_nonce = false;
};

Bytes encode(const Document& d, const Edit& e = {}) {
  Writer p;
  std::uint64_t fields = 6 + e.extra_fields.size();
  fields += (d.public_key ? 1u : 0u) + (d.user_data ? 1u : 0u) + ((d.nonce || e.null_nonce) ? 1u : 0u);
  fields += e.repeat_module_id ? 1u : 0u;
  fields -= e.drop_certificate ? 1u : 0u;
  p.head(5, fields);
  p.text("module_id");
  p.text(d.module_id);
  p.text("digest");
  p.text(e.digest);
  p.text("timestamp");
  p.head(0, static_cast<std::uint64_t>(d.timestamp_ms));
  p.text("pcrs");
  p.head(5, d.pcrs.size());
  for (const auto& [i, v] : d.pcrs) {
    p.head(0, i);
    p.bytes(v);
  }
  if (!e.drop_certificate) {
    p.text("certificate");
    p.bytes(d.certificate);
  }
  p.text("cabundle");
  p.head(4, d.cabundle.size());
  for (const Bytes& c : d.cabundle) p.bytes(c);
  if (d.public_key) {
    p.text("public_key");
    p.bytes(*d.public_key);
  }
  if (d.user_data) {
    p.text("user_data");
    p.bytes(*d.user_data);
  }
  if (e.null_nonce) {
    p.text("nonce");
    p.out.push_back(0xf6);
  } else if (d.nonce) {
    p.text("nonce");
    p.bytes(*d.nonce);
  }
  for (const auto& [k, v] : e.extra_fields) {
    p.text(k);
    p.bytes(v);
  }
  if (e.repeat_module_id) {
    p.text("module_id");
    p.text(d.module_id);
  }
  Writer w;
  if (e.tag18) w.head(6, 18);
  w.head(4, 4);
  w.bytes(d.protected_header);
  w.head(5, 0);
  w.bytes(p.out);
  w.bytes(d.signature);
  return w.out;
}

Document parsed(const Bytes& doc) {
  auto d = parse(doc);
  EXPECT_TRUE(d.ok()) << d.error().message;
  return d.ok() ? *d : Document{};
}

void expect_error(const Result<Report>& r, Errc code, const std::string& words) {
  ASSERT_FALSE(r.ok()) << "expected: " << words;
  EXPECT_EQ(r.error().code, code) << r.error().message;
  EXPECT_NE(r.error().message.find(words), std::string::npos) << r.error().message;
}

void expect_parse_error(const Bytes& doc, Errc code, const std::string& words) {
  auto r = parse(doc);
  ASSERT_FALSE(r.ok()) << "expected: " << words;
  EXPECT_EQ(r.error().code, code) << r.error().message;
  EXPECT_NE(r.error().message.find(words), std::string::npos) << r.error().message;
}

TEST(NitroRoot, TheZipIsTheOneAwsPublishesAndThePinnedPemIsRecorded) {
  auto zip = read_file(kData + "AWS_NitroEnclaves_Root-G1.zip");
  auto published = read_file(kData + "AWS_NitroEnclaves_Root-G1.sha256.hex");
  ASSERT_TRUE(zip.ok() && published.ok());
  EXPECT_EQ(hex_encode(sha256(*zip)), published->substr(0, 64));
  EXPECT_EQ(hex_encode(sha256(attestation::pinned_nitro_root_pem())),
            "6eb9688305e4bbca67f44b59c29a0661ae930f09b5945b5d1d9ae01125c8d6c0");
  ASSERT_EQ(pinned_roots().size(), 1u);
  // The zip holds root.pem deflated; its local file header (PKWARE APPNOTE 4.3.7) records the
  // CRC-32 and size of the file it holds, which must be those of the pinned PEM.
  const std::string pem(attestation::pinned_nitro_root_pem());
  const std::string& z = *zip;
  ASSERT_GT(z.size(), 30u);
  ASSERT_EQ(z.substr(0, 4), std::string("PK\x03\x04", 4));
  auto le32 = [&z](std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v |= std::uint32_t{static_cast<std::uint8_t>(z[at + i])} << (8 * i);
    return v;
  };
  std::uint32_t crc = 0xffffffffu;  // CRC-32 (ISO-HDLC), bit by bit
  for (char c : pem) {
    crc ^= static_cast<std::uint8_t>(c);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  EXPECT_EQ(le32(14), ~crc);
  EXPECT_EQ(le32(22), pem.size());
  EXPECT_EQ(z.substr(30, 8), "root.pem");
}

TEST(NitroVerify, TheRealDocumentVerifiesAtItsOwnTime) {
  auto r = verify(real(), pinned_roots(), own_time(real()));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->module_id, "i-0a22e5c5f24d22174-enc0191cceb4289903f");
  EXPECT_EQ(r->timestamp_ms, 1725719859545);
  EXPECT_FALSE(r->debug);
  ASSERT_EQ(r->pcrs.size(), 16u);
  EXPECT_EQ(hex_encode(r->pcrs.at(0)).substr(0, 16), "e72a46ca80a260fb");
  ASSERT_TRUE(r->public_key && r->user_data && r->nonce);
  EXPECT_EQ(r->user_data->size(), 1024u);
  EXPECT_NE(r->leaf_subject.find("i-0a22e5c5f24d22174-enc0191cceb4289903f"), std::string::npos)
      << r->leaf_subject;
}

TEST(NitroVerify, TheRealDocumentFailsNowForItsExpiredCertificate) {
  // 2026-12-02: the leaf lived for hours around 2024-09-07.
  expect_error(verify(real(), pinned_roots(), 1796212800), Errc::kRejected, "certificate has expired");
}

TEST(NitroVerify, TheDebugDocumentIsReportedAsDebug) {
  auto r = verify(debug_doc(), pinned_roots(), own_time(debug_doc()));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->debug);
  EXPECT_EQ(r->module_id, "i-0a22e5c5f24d22174-enc0191ccebaf8feaba");
}

TEST(NitroVerify, ReEncodingTheRealDocumentGivesItsBytes) {
  // The writer above is faithful, so the documents it changes differ only where a test says.
  EXPECT_EQ(encode(parsed(real())), real());
  EXPECT_EQ(encode(parsed(debug_doc())), debug_doc());
}

TEST(NitroVerify, ATamperedPayloadByteIsRefusedForItsSignature) {
  Bytes doc = real();
  const std::string id = "i-0a22e5c5f24d22174";
  auto at = std::search(doc.begin(), doc.end(), id.begin(), id.end());
  ASSERT_NE(at, doc.end());
  *(at + 2) = '1';  // another instance id, same length: still parses
  expect_error(verify(doc, pinned_roots(), own_time(real())), Errc::kCrypto, "signature does not verify");
}

TEST(NitroVerify, ATamperedSignatureIsRefused) {
  Bytes doc = real();
  doc[doc.size() - 10] ^= 0x01;
  expect_error(verify(doc, pinned_roots(), own_time(real())), Errc::kCrypto, "signature does not verify");
}

TEST(NitroVerify, AChainCutShortIsRefused) {
  Document d = parsed(real());
  d.cabundle.pop_back();  // the intermediate that issued the leaf
  expect_error(verify(encode(d), pinned_roots(), own_time(real())), Errc::kRejected,
               "unable to get local issuer certificate");
}

TEST(NitroVerify, AnotherRootIsRefused) {
  expect_error(verify(real(), attestation::pinned_fido2_roots(), own_time(real())), Errc::kRejected,
               "certificate chain does not verify");
  expect_error(verify(real(), {}, own_time(real())), Errc::kRejected, "certificate chain does not verify");
}

TEST(NitroParse, RefusesAnotherAlgorithm) {
  Bytes doc = real();
  ASSERT_EQ(doc[5], 0x22);  // 84 44 a1 01 38 22: alg -35
  doc[5] = 0x23;            // -36, ES512
  expect_parse_error(doc, Errc::kUnsupported, "algorithm is -36, not ES384 (-35) at byte 4");
  Document d = parsed(real());
  d.protected_header = {0xa1, 0x01, 0x26};  // ES256
  expect_parse_error(encode(d), Errc::kUnsupported, "algorithm is -7");
  d.protected_header = {0xa2, 0x01, 0x38, 0x22, 0x04, 0x40};  // a key id too
  expect_parse_error(encode(d), Errc::kMalformed, "protected header");
}

TEST(NitroParse, RefusesTrailingBytes) {
  Bytes doc = real();
  doc.push_back(0x00);
  expect_parse_error(doc, Errc::kMalformed, "1 bytes after the COSE_Sign1 at byte 7539");
}

TEST(NitroParse, RefusesOversizeFields) {
  Document d = parsed(real());
  d.user_data = Bytes(1025, 0x55);
  expect_parse_error(encode(d), Errc::kInvalidDocument, "\"user_data\" of 1025 bytes");
  d = parsed(real());
  d.cabundle.resize(9, d.cabundle.front());
  expect_parse_error(encode(d), Errc::kInvalidDocument, "\"cabundle\" of 9 certificates");
  d = parsed(real());
  d.module_id = std::string(129, 'i');
  expect_parse_error(encode(d), Errc::kInvalidDocument, "\"module_id\" of 129 bytes");
  d = parsed(real());
  d.certificate = Bytes(4097, 0x30);
  expect_parse_error(encode(d), Errc::kInvalidDocument, "\"certificate\" of 4097 bytes");
  Bytes big(kMaxDocument + 1, 0x00);
  expect_parse_error(big, Errc::kInvalidDocument, "more than 32768");
}

TEST(NitroParse, RefusesUnknownRepeatedMissingAndWrongFields) {
  Document d = parsed(real());
  d.nonce.reset();  // room for one more field within the nine a payload may have
  Edit unknown;
  unknown.extra_fields = {{"mode", {0x01}}};
  expect_parse_error(encode(d, unknown), Errc::kInvalidDocument, "unknown payload field \"mode\"");
  Edit repeated;
  repeated.repeat_module_id = true;
  expect_parse_error(encode(d, repeated), Errc::kMalformed, "\"module_id\" repeated");
  Edit missing;
  missing.drop_certificate = true;
  expect_parse_error(encode(d, missing), Errc::kMalformed, "no \"certificate\"");
  Edit digest;
  digest.digest = "SHA256";
  expect_parse_error(encode(d, digest), Errc::kUnsupported, "\"digest\" is \"SHA256\"");
  Edit ten;
  ten.extra_fields = {{"a", {}}, {"b", {}}};
  expect_parse_error(encode(d, ten), Errc::kInvalidDocument, "10 fields, more than the 9");
}

TEST(NitroParse, AcceptsTag18AndANullNonce) {
  Document d = parsed(real());
  Edit e;
  e.tag18 = true;
  e.null_nonce = true;
  d.nonce.reset();
  auto back = parse(encode(d, e));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_FALSE(back->nonce.has_value());
  EXPECT_EQ(back->module_id, d.module_id);
}

TEST(NitroParse, RefusesEveryTruncation) {
  // Every proper prefix of both documents is refused (and, under ASan, read within bounds).
  for (const Bytes* doc : {&real(), &debug_doc()}) {
    for (std::size_t n = 0; n < doc->size(); ++n) {
      auto r = parse(ByteView(doc->data(), n));
      ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes";
      ASSERT_EQ(r.error().code, Errc::kMalformed) << n << ": " << r.error().message;
    }
  }
}

TEST(NitroParse, ErrorsNameTheFieldAndTheByte) {
  Document d = parsed(real());
  d.pcrs.erase(15);
  Bytes doc = encode(d);
  // Make PCR 14's value one byte short: find its 48-byte head 58 30 after the key 0e.
  const Bytes needle{0x0e, 0x58, 0x30};
  auto at = std::search(doc.begin(), doc.end(), needle.begin(), needle.end());
  ASSERT_NE(at, doc.end());
  *(at + 2) = 0x2f;
  auto r = parse(doc);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("\"pcrs/14\" of 47 bytes (allowed: 48 to 48) at byte " +
                                   std::to_string(at + 1 - doc.begin())),
            std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace countersign::nitro
