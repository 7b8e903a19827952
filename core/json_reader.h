// Strict reading of one JSON object of a signed document: typed getters that name the
// JSON Pointer of what is wrong ("/files/3/sha256: expected 64 lowercase hex digits"), and
// a final check that no unknown member is present (DESIGN.md: an unknown field in a signed
// document is an error, never ignored).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/jcs.h"
#include "core/result.h"
#include "core/sha256.h"
#include "core/timeutil.h"

namespace countersign {

// Largest integer our documents allow: 2^53 - 1 (DESIGN.md).
inline constexpr std::uint64_t kMaxDocumentInteger = (std::uint64_t{1} << 53) - 1;

// Error of kind kInvalidDocument naming `doc` (e.g. "manifest") and a JSON pointer.
Error document_error(std::string_view doc, const std::string& pointer, const std::string& message);

// Appends a reference token to a JSON pointer, escaping '~' and '/' (RFC 6901).
std::string pointer_append(const std::string& pointer, std::string_view token);
std::string pointer_append(const std::string& pointer, std::size_t index);

class ObjectReader {
 public:
  // Fails unless `value` is an object.
  static Result<ObjectReader> open(const nlohmann::json& value, std::string_view doc, std::string pointer);

  bool has(std::string_view key) const;
  const std::string& pointer() const { return pointer_; }
  std::string child(std::string_view key) const { return pointer_append(pointer_, key); }
  Error error(std::string_view key, const std::string& message) const;

  Result<const nlohmann::json*> member(std::string_view key);  // required, any type
  Result<std::string> string(std::string_view key);            // required string
  // Required string, as a view into the document (valid while the document lives).
  Result<std::string_view> string_view(std::string_view key);
  Result<std::string> non_empty_string(std::string_view key);
  Result<std::optional<std::string>> optional_string(std::string_view key);
  // A name (DESIGN.md "Identifiers and encodings", core/untrusted_text.h): a non-empty string
  // without control, separator or bidi formatting characters; the error names the character
  // and its byte offset.
  Result<std::string> name(std::string_view key);
  // Absent, or a string that is empty or a name (what is empty is checked by the caller).
  Result<std::optional<std::string>> optional_name(std::string_view key);
  Result<std::uint64_t> integer(std::string_view key, std::uint64_t min = 0,
                                std::uint64_t max = kMaxDocumentInteger);
  Result<std::optional<bool>> optional_bool(std::string_view key);
  Result<Bytes> base64(std::string_view key);
  Result<Digest> digest(std::string_view key);  // "sha256:<hex>"
  Result<UnixTime> time(std::string_view key);
  Result<const nlohmann::json::array_t*> array(std::string_view key);
  Result<const nlohmann::json*> object(std::string_view key);
  // Required array of names (as name()); `unique` rejects repeats.
  Result<std::vector<std::string>> string_array(std::string_view key, bool unique);

  // Checks the schema member equals `schema` (kUnknownSchema otherwise).
  Result<void> expect_schema(std::string_view schema);
  // Fails with the first member that no getter asked for.
  Result<void> finish() const;

 private:
  ObjectReader(const nlohmann::json& value, std::string_view doc, std::string pointer)
      : value_(&value), doc_(doc), pointer_(std::move(pointer)) {}
  // Looks `key` up and records the member as read.
  const nlohmann::json* find(std::string_view key);
  bool was_read(const std::string* name) const;
  const nlohmann::json* value_;
  std::string doc_;
  std::string pointer_;
  // The members read so far, each once, as pointers to the object's own names: finish()
  // compares their count with the object's size. Documents' objects are small, so this
  // costs no allocation unless an object has more than kInline members read.
  static constexpr std::size_t kInline = 16;
  std::array<const std::string*, kInline> read_{};
  std::size_t read_count_ = 0;
  std::vector<const std::string*> read_more_;
};

// The parse_text of every document type: strict JSON (core/jcs.h), errors prefixed with the
// document's name, then Doc::parse.
template <typename Doc>
Result<Doc> parse_document_text(std::string_view text, std::string_view name) {
  auto doc = jcs::parse(text);
  if (!doc.ok()) return doc.error().with_context(std::string(name));
  return Doc::parse(*doc);
}

// Reads a JSON number as an integer in [min, max]; `what` names it in errors.
Result<std::uint64_t> json_integer(const nlohmann::json& v, std::uint64_t min, std::uint64_t max);

}  // namespace countersign
