// A strict, bounded reader of the little CBOR (RFC 8949) that FIDO2 data and AWS Nitro
// attestation documents hold: integers, byte and text strings, array and map heads, tags and
// the simple values false, true and null (a COSE_Key, CTAP's wrapping of authenticatorData,
// a COSE_Sign1 and its Nitro payload).
//
// It allocates nothing: a head only says how many bytes or entries follow, and every byte
// string's length is checked against the bytes left before it is used (a general decoder
// such as libcbor's cbor_load allocates what a map head declares, 35 GB for a 9-byte input).
// Strict where CTAP2's canonical encoding is (CTAP 2.1 section 8, RFC 8949 section 4.2.1):
// definite lengths only, every head in its shortest form. head() refuses tags and simple
// values (FIDO2 data never holds them); item_head() allows tags and false/true/null, which
// COSE (RFC 9052) and Nitro documents use. Floats, other simple values and indefinite
// lengths are errors everywhere; nothing here needs them. Text strings are not checked for
// valid UTF-8 here: the caller that shows or compares one does (see text()).
//
// Errors are kMalformed with the offset of the offending head ("at byte 12"); after one, the
// reader's position is unspecified and it is not to be used further.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/bytes.h"
#include "core/result.h"

namespace countersign::cbor {

// The major types of RFC 8949 section 3.1 this reader knows.
enum class Major : std::uint8_t {
  kUnsigned = 0,
  kNegative = 1,
  kBytes = 2,
  kText = 3,
  kArray = 4,
  kMap = 5,
  kTag = 6,
  kSimple = 7
};

struct Head {
  Major major;
  std::uint64_t argument;  // the value (integers), the length (strings) or the count (arrays, maps)
};

class Reader {
 public:
  // Reads `in`, which must outlive the reader and the views it returns.
  explicit Reader(ByteView in) : in_(in) {}
  explicit Reader(Bytes&&) = delete;  // would dangle

  // One head. Errors: no bytes left, a truncated argument, reserved additional information
  // (28-30), an indefinite length (31), a longer argument than needed, major type 6 or 7.
  Result<Head> head();
  // One head of any major type this reader knows: as head(), and also a tag (major type 6,
  // argument the tag number) or a simple value false (20), true (21) or null (22) (major
  // type 7, argument the simple value). Errors: as head(), floats and other simple values.
  Result<Head> item_head();
  // An integer (major type 0 or 1) that fits std::int64_t.
  Result<std::int64_t> integer();
  // A byte string (major type 2); the view points into the input. Errors as head(), another
  // major type, or a length beyond the bytes left.
  Result<ByteView> bytes();
  // A text string (major type 3) as its bytes; the view points into the input. Errors as
  // bytes(). The bytes are not checked for UTF-8.
  Result<ByteView> text();
  // The head of a map (major type 5): its number of entries. The entries are not read.
  Result<std::uint64_t> map();
  // The head of an array (major type 4): its number of items. The items are not read.
  Result<std::uint64_t> array();
  // True when the next byte is the head of `tag` (major type 6), which is then consumed;
  // false, consuming nothing, for anything else (including the end of the input).
  bool skip_tag(std::uint64_t tag);
  // True when the next byte is null (0xf6), which is then consumed; false otherwise.
  bool skip_null();

  std::size_t offset() const { return pos_; }
  std::size_t remaining() const { return in_.size() - pos_; }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  Error malformed(std::size_t at, const std::string& what) const;
  Result<ByteView> string_of(Major major, const char* what);
  ByteView in_;
  std::size_t pos_ = 0;
};

}  // namespace countersign::cbor
