#include "smartcard/cbor_reader.h"

#include <limits>
#include <string>

namespace countersign::cbor {

Error Reader::malformed(std::size_t at, const std::string& what) const {
  return make_error(Errc::kMalformed, "CBOR: " + what + " at byte " + std::to_string(at));
}

Result<Head> Reader::head() {
  const std::size_t at = pos_;
  if (at < in_.size() && (in_[at] >> 5) > 5) {
    return malformed(at, "a tag, float or simple value (major type " + std::to_string(in_[at] >> 5) + ")");
  }
  return item_head();
}

Result<Head> Reader::item_head() {
  const std::size_t at = pos_;
  if (at >= in_.size()) return malformed(at, "input ends where an item should start");
  const std::uint8_t initial = in_[at];
  const std::uint8_t major = initial >> 5;
  const std::uint8_t info = initial & 0x1f;
  if (major == 7) {
    // RFC 8949 section 3.3: 20 false, 21 true, 22 null; 23 undefined, 24 a one-byte simple
    // value, 25-27 floats. Only the first three have a meaning here.
    if (info < 20 || info > 22) return malformed(at, "a float or simple value other than false, true, null");
    pos_ += 1;
    return Head{Major::kSimple, info};
  }
  if (info == 31) return malformed(at, "an indefinite length");
  if (info >= 28) return malformed(at, "reserved additional information " + std::to_string(info));
  std::uint64_t arg = info;
  if (info >= 24) {
    const std::size_t n = std::size_t{1} << (info - 24);  // 1, 2, 4 or 8 bytes
    if (in_.size() - at - 1 < n) return malformed(at, "the head's argument is cut off");
    arg = 0;
    for (std::size_t i = 0; i < n; ++i) arg = arg << 8 | in_[at + 1 + i];
    // Shortest form: a value below 24 goes in the initial byte, and an argument of n bytes
    // must need more than n/2 of them.
    const std::uint64_t floor = n == 1 ? 24 : std::uint64_t{1} << (8 * n / 2);
    if (arg < floor) return malformed(at, "a head not in its shortest form");
    pos_ += n;
  }
  pos_ += 1;
  return Head{static_cast<Major>(major), arg};
}

Result<std::int64_t> Reader::integer() {
  const std::size_t at = pos_;
  CS_TRY(Head h, head());
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (h.major != Major::kUnsigned && h.major != Major::kNegative) return malformed(at, "not an integer");
  if (h.argument > kMax) return malformed(at, "an integer out of range");
  const auto v = static_cast<std::int64_t>(h.argument);
  return h.major == Major::kUnsigned ? v : -1 - v;
}

Result<ByteView> Reader::string_of(Major major, const char* what) {
  const std::size_t at = pos_;
  CS_TRY(Head h, head());
  if (h.major != major) return malformed(at, std::string("not a ") + what);
  if (h.argument > remaining()) {
    return malformed(at, std::string("a ") + what + " of " + std::to_string(h.argument) + " bytes where " +
                             std::to_string(remaining()) + " are left");
  }
  const ByteView out = in_.subspan(pos_, static_cast<std::size_t>(h.argument));
  pos_ += out.size();
  return out;
}

Result<ByteView> Reader::bytes() { return string_of(Major::kBytes, "byte string"); }

Result<ByteView> Reader::text() { return string_of(Major::kText, "text string"); }

Result<std::uint64_t> Reader::map() {
  const std::size_t at = pos_;
  CS_TRY(Head h, head());
  if (h.major != Major::kMap) return malformed(at, "not a map");
  return h.argument;
}

Result<std::uint64_t> Reader::array() {
  const std::size_t at = pos_;
  CS_TRY(Head h, head());
  if (h.major != Major::kArray) return malformed(at, "not an array");
  return h.argument;
}

bool Reader::skip_tag(std::uint64_t tag) {
  const std::size_t at = pos_;
  if (at >= in_.size() || (in_[at] >> 5) != 6) return false;
  auto h = item_head();
  if (h.ok() && h->argument == tag) return true;
  pos_ = at;
  return false;
}

bool Reader::skip_null() {
  if (pos_ >= in_.size() || in_[pos_] != 0xf6) return false;
  pos_ += 1;
  return true;
}

}  // namespace countersign::cbor
