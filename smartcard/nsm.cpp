#include "smartcard/nsm.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "core/untrusted_text.h"
#include "smartcard/cbor_reader.h"

namespace countersign::nsm {
namespace {

// The argument of NSM_IOCTL_RAW: two iovecs, each {u64 address, u64 length}.
struct RawMessage {
  std::uint64_t request_addr, request_len, response_addr, response_len;
};
static_assert(sizeof(RawMessage) == 32, "NSM_IOCTL_RAW's size is part of its number");
static_assert(kIoctlRaw == ((3UL << 30) | (sizeof(RawMessage) << 16) | (0x0AUL << 8) | 0UL),
              "_IOWR(0x0A, 0, struct nsm_raw)");

void head(Bytes& out, std::uint8_t major, std::size_t n) {
  const auto m = static_cast<std::uint8_t>(major << 5);
  if (n < 24) {
    out.push_back(static_cast<std::uint8_t>(m | n));
  } else if (n <= 0xff) {
    out.push_back(static_cast<std::uint8_t>(m | 24));
    out.push_back(static_cast<std::uint8_t>(n));
  } else {
    out.push_back(static_cast<std::uint8_t>(m | 25));
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(static_cast<std::uint8_t>(n));
  }
}

void text(Bytes& out, std::string_view t) {
  head(out, 3, t.size());
  out.insert(out.end(), t.begin(), t.end());
}

void optional_bytes(Bytes& out, const std::optional<Bytes>& b) {
  if (!b) {
    out.push_back(0xf6);
    return;
  }
  head(out, 2, b->size());
  out.insert(out.end(), b->begin(), b->end());
}

Error malformed(std::size_t at, const std::string& what) {
  return Error(Errc::kMalformed, "the Nitro Secure Module's response is malformed: " + what + " (at byte " +
                                     std::to_string(at) + ")");
}

bool is(ByteView got, std::string_view want) {
  return got.size() == want.size() && std::equal(got.begin(), got.end(), want.begin());
}

}  // namespace

Result<Bytes> encode(const AttestationRequest& request) {
  for (const auto& [name, field] :
       {std::pair<const char*, const std::optional<Bytes>*>{"user_data", &request.user_data},
        {"nonce", &request.nonce},
        {"public_key", &request.public_key}}) {
    if (*field && (*field)->size() > kMaxField) {
      return Error(Errc::kInvalidArgument, std::string("the attestation request's ") + name + " is " +
                                               std::to_string((*field)->size()) + " bytes, over the NSM's " +
                                               std::to_string(kMaxField));
    }
  }
  Bytes out;
  head(out, 5, 1);
  text(out, "Attestation");
  head(out, 5, 3);
  text(out, "user_data");
  optional_bytes(out, request.user_data);
  text(out, "nonce");
  optional_bytes(out, request.nonce);
  text(out, "public_key");
  optional_bytes(out, request.public_key);
  return out;
}

Result<Bytes> decode_response(ByteView response) {
  cbor::Reader r(response);
  auto entries = r.map();
  if (!entries.ok()) return malformed(0, "not a CBOR map");
  if (*entries != 1) return malformed(0, "a map of " + std::to_string(*entries) + " entries, not 1");
  const std::size_t at = r.offset();
  auto variant = r.text();
  if (!variant.ok()) return malformed(at, "the answer is not named by a text string");
  if (is(*variant, "Error")) {
    const std::size_t code_at = r.offset();
    auto code = r.text();
    if (!code.ok()) return malformed(code_at, "an Error whose code is not a text string");
    if (!r.at_end()) return malformed(r.offset(), "bytes after the answer");
    const std::string shown =
        escape_untrusted(std::string_view(reinterpret_cast<const char*>(code->data()), code->size()), 64);
    return Error(Errc::kRejected, "the Nitro Secure Module refused the attestation request: " + shown);
  }
  if (!is(*variant, "Attestation")) {
    const std::string shown = escape_untrusted(
        std::string_view(reinterpret_cast<const char*>(variant->data()), variant->size()), 64);
    return malformed(at, "an answer \"" + shown + "\", not Attestation or Error");
  }
  const std::size_t inner_at = r.offset();
  auto fields = r.map();
  if (!fields.ok() || *fields != 1) return malformed(inner_at, "Attestation is not a map of one field");
  const std::size_t name_at = r.offset();
  auto name = r.text();
  if (!name.ok() || !is(*name, "document"))
    return malformed(name_at, "Attestation's field is not \"document\"");
  const std::size_t doc_at = r.offset();
  auto doc = r.bytes();
  if (!doc.ok()) return malformed(doc_at, "the document is not a byte string");
  if (!r.at_end()) return malformed(r.offset(), "bytes after the answer");
  return Bytes(doc->begin(), doc->end());
}

Result<Bytes> attest(const std::string& device, const AttestationRequest& request) {
  CS_TRY(Bytes req, encode(request));
  struct stat st {};
  if (::stat(device.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return Error(Errc::kUnsupported, "no attestation available: this box has no Nitro Secure Module (" +
                                           device + " does not exist)");
    }
    return Error(Errc::kIo, "cannot reach the Nitro Secure Module " + device + ": " + std::strerror(errno));
  }
  if (!S_ISCHR(st.st_mode)) {
    return Error(Errc::kUnsupported, "no attestation available: " + device +
                                         " is not a character device, so not a Nitro Secure Module");
  }
  const int fd = ::open(device.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return Error(Errc::kIo, "cannot open the Nitro Secure Module " + device + ": " + std::strerror(errno));
  Bytes resp(kMaxResponse);
  RawMessage msg{reinterpret_cast<std::uintptr_t>(req.data()), req.size(),
                 reinterpret_cast<std::uintptr_t>(resp.data()), resp.size()};
  int rc = 0;
  do {
    rc = ::ioctl(fd, kIoctlRaw, &msg);
  } while (rc < 0 && errno == EINTR);
  const int saved = errno;
  ::close(fd);
  if (rc < 0) {
    return Error(Errc::kIo, "the attestation request to " + device + " failed: " + std::strerror(saved) +
                                (saved == ENOTTY ? " (the device is not a Nitro Secure Module)" : ""));
  }
  if (msg.response_len > resp.size()) {
    return Error(Errc::kIo, device + " answered " + std::to_string(msg.response_len) +
                                " bytes into a buffer of " + std::to_string(resp.size()));
  }
  resp.resize(msg.response_len);
  return decode_response(resp);
}

}  // namespace countersign::nsm
