// AWS Nitro Enclaves attestation documents, read and verified offline (DESIGN.md "Policy",
// `images`; AWS, aws-nitro-enclaves-nsm-api docs/attestation_process.md).
//
// A document is a COSE_Sign1 (RFC 9052 section 4.2), optionally under tag 18:
//   [protected: bstr .cbor {1: -35}, unprotected: {}, payload: bstr .cbor {...}, signature: bstr]
// signed with ES384 by the leaf certificate in the payload, whose chain (`cabundle`, root
// first) ends at the pinned AWS Nitro Enclaves root. The payload is a map of exactly the
// fields AWS documents: module_id, digest ("SHA384"), timestamp (ms since the epoch), pcrs
// (index 0..31 -> 48 bytes), certificate (DER), cabundle (DER, root first), and the optional
// public_key, user_data and nonce (each a byte string or null).
//
// parse() is strict and allocation-bounded: cbor::Reader reads it (no general CBOR decoder,
// nothing allocated before its length is checked against the input and a field's limit);
// every head in its shortest form, definite lengths, no unknown or repeated key, nothing after
// the document. Errors name the field and the byte offset in the document.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/timeutil.h"

namespace countersign::nitro {

// Limits (AWS NSM API: user_data, nonce and public_key are at most 1024 bytes each; the
// other limits are generous bounds on what a Nitro hypervisor emits, about 7.5 KB in all).
inline constexpr std::size_t kMaxDocument = 32 * 1024;
inline constexpr std::size_t kMaxModuleId = 128;
inline constexpr std::size_t kMaxCertificate = 4096;
inline constexpr std::size_t kMaxCabundle = 8;
inline constexpr std::size_t kMaxOptionalField = 1024;
inline constexpr std::size_t kPcrCount = 32;
inline constexpr std::size_t kPcrSize = 48;

using Pcr = std::array<std::uint8_t, kPcrSize>;

// A document as read, not yet verified: nothing in it is to be believed until verify() says so.
struct Document {
  Bytes protected_header;  // the protected header's bytes, as signed
  Bytes payload;           // the payload's bytes, as signed
  Bytes signature;         // r || s, 96 bytes
  std::string module_id;   // untrusted text: show through escape_untrusted
  std::int64_t timestamp_ms = 0;
  std::map<unsigned, Pcr> pcrs;
  Bytes certificate;                                  // the leaf, DER
  std::vector<Bytes> cabundle;                        // DER, root first
  std::optional<Bytes> public_key, user_data, nonce;  // absent or null: nullopt
};

// Reads a document (raw CBOR). Errors: kMalformed for CBOR that breaks the rules above or a
// missing or repeated field, kUnsupported for another algorithm or digest, kInvalidDocument
// for an unknown field or a field over its limit; the message names the field and the byte.
Result<Document> parse(ByteView cose);

// What a verified document states.
struct Report {
  std::string module_id;
  std::int64_t timestamp_ms = 0;
  std::map<unsigned, Pcr> pcrs;
  // PCRs 0, 1 and 2 all zero (or absent): the enclave ran in debug mode, so its memory was
  // open to the parent instance and the PCRs prove nothing (AWS, "Nitro Enclaves concepts").
  bool debug = false;
  std::optional<Bytes> public_key, user_data, nonce;
  std::string leaf_subject;  // the leaf certificate's subject, one line
};

// Verifies `cose`: parse(), then the chain cabundle -> certificate against `roots` (DER)
// only, with every certificate valid at `at`, then the ES384 signature over the COSE
// Sig_structure ["Signature1", protected, h'', payload] with the leaf's P-384 key.
// Errors: parse()'s; kRejected naming the certificate and OpenSSL's reason when the chain
// does not verify ("certificate has expired"); kUnsupported when the leaf key is not P-384;
// kCrypto when the signature does not verify.
Result<Report> verify(ByteView cose, const std::vector<Bytes>& roots, UnixTime at);

// The AWS Nitro Enclaves root compiled in (smartcard/roots/, SOURCE.txt there), DER.
std::vector<Bytes> pinned_roots();

// The COSE Sig_structure of RFC 9052 section 4.4 for a COSE_Sign1 with no external data.
Bytes sig_structure(ByteView protected_header, ByteView payload);

}  // namespace countersign::nitro
