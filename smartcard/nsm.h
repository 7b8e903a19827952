// The Nitro Secure Module of an AWS Nitro Enclave (/dev/nsm): asking it for an attestation
// document over its ioctl (AWS, aws-nitro-enclaves-nsm-api: src/api/mod.rs for the messages,
// src/driver/mod.rs for the ioctl; Linux drivers/misc/nsm.c and include/uapi/linux/nsm.h
// since 6.8 for the same interface in the kernel).
//
// A request and its response are CBOR as serde writes AWS's Rust enums: externally tagged,
// fields in declaration order, an absent option as null. The one request used here:
//   {"Attestation": {"user_data": bstr / null, "nonce": bstr / null, "public_key": bstr / null}}
// answered by {"Attestation": {"document": bstr}} or {"Error": "<ErrorCode>"}.
// The ioctl is NSM_IOCTL_RAW = _IOWR(0x0A, 0, struct {iovec request; iovec response}) on
// 64-bit Linux: 0xC0200A00. Requests are at most 4 KiB, responses at most 12 KiB; the
// driver sets the response length to what it wrote.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/bytes.h"
#include "core/result.h"

namespace countersign::nsm {

inline constexpr const char* kDefaultDevice = "/dev/nsm";
inline constexpr std::size_t kMaxRequest = 0x1000;
inline constexpr std::size_t kMaxResponse = 0x3000;
inline constexpr std::size_t kMaxField = 1024;  // user_data, nonce, public_key (NSM API)
inline constexpr unsigned long kIoctlRaw = 0xC0200A00UL;

struct AttestationRequest {
  std::optional<Bytes> user_data, nonce, public_key;
};

// The request's CBOR, byte for byte as AWS's library writes it. kInvalidArgument when a field
// is over kMaxField bytes.
Result<Bytes> encode(const AttestationRequest& request);

// The document in a response. Errors: kRejected naming the NSM's error code ("the Nitro
// Secure Module refused the request: InvalidArgument"); kMalformed for anything that is not
// one of the two answers above (the offset of what is wrong), or trailing bytes.
Result<Bytes> decode_response(ByteView response);

// Asks the device at `device` for a document. Errors name the device: kUnsupported when there
// is no such device ("no attestation available: this box has no Nitro Secure Module (/dev/nsm
// does not exist)") or the file is not a character device, kIo when it cannot be opened or
// its ioctl fails (a character device that is no NSM answers ENOTTY), and decode_response's.
Result<Bytes> attest(const std::string& device, const AttestationRequest& request);

}  // namespace countersign::nsm
