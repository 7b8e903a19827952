#include "core/json_reader.h"

#include "core/untrusted_text.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace countersign {

using nlohmann::json;

Error document_error(std::string_view doc, const std::string& pointer, const std::string& message) {
  return Error(
      Errc::kInvalidDocument,
      std::string(doc) + " " + (pointer.empty() ? std::string("(top level)") : pointer) + ": " + message);
}

std::string pointer_append(const std::string& pointer, std::string_view token) {
  std::string out = pointer + "/";
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string pointer_append(const std::string& pointer, std::size_t index) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, index).ptr;
  std::string out;
  out.reserve(pointer.size() + 1 + static_cast<std::size_t>(end - digits));
  out += pointer;
  out += '/';
  out.append(digits, end);
  return out;
}

static const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::binary:
      return "binary";
    case json::value_t::discarded:
      return "nothing";
    default:
      return "a number";
  }
}

Result<std::uint64_t> json_integer(const json& v, std::uint64_t min, std::uint64_t max) {
  std::uint64_t n = 0;
  if (v.is_number_unsigned()) {
    n = v.get<std::uint64_t>();
  } else if (v.is_number_integer()) {
    auto i = v.get<std::int64_t>();
    if (i < 0) return make_error(Errc::kInvalidDocument, "must not be negative");
    n = static_cast<std::uint64_t>(i);
  } else if (v.is_number_float()) {
    double d = v.get<double>();
    if (!std::isfinite(d) || d != std::floor(d)) {
      return make_error(Errc::kInvalidDocument, "must be a whole number");
    }
    if (d < 0) return make_error(Errc::kInvalidDocument, "must not be negative");
    if (d > static_cast<double>(kMaxDocumentInteger)) {
      return make_error(Errc::kInvalidDocument, "is larger than 2^53-1");
    }
    n = static_cast<std::uint64_t>(d);
  } else {
    return make_error(Errc::kInvalidDocument, std::string("must be a number, not ") + type_name(v));
  }
  if (n < min || n > max) {
    return make_error(Errc::kInvalidDocument,
                      "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return n;
}

Result<ObjectReader> ObjectReader::open(const json& value, std::string_view doc, std::string pointer) {
  if (!value.is_object()) {
    return document_error(doc, pointer, std::string("must be an object, not ") + type_name(value));
  }
  return ObjectReader(value, doc, std::move(pointer));
}

bool ObjectReader::has(std::string_view key) const { return value_->contains(key); }

Error ObjectReader::error(std::string_view key, const std::string& message) const {
  return document_error(doc_, child(key), message);
}

const json* ObjectReader::find(std::string_view key) {
  const auto& object = value_->get_ref<const json::object_t&>();
  auto it = object.find(key);
  if (it == object.end()) return nullptr;
  const std::string* name = &it->first;
  if (!was_read(name)) {
    if (read_count_ < kInline) {
      read_[read_count_] = name;
    } else {
      read_more_.push_back(name);
    }
    ++read_count_;
  }
  return &it->second;
}

Result<const json*> ObjectReader::member(std::string_view key) {
  const json* v = find(key);
  if (v == nullptr) return document_error(doc_, child(key), "is missing");
  return v;
}

Result<std::string_view> ObjectReader::string_view(std::string_view key) {
  CS_TRY(const json* v, member(key));
  if (!v->is_string()) return error(key, std::string("must be a string, not ") + type_name(*v));
  return std::string_view(v->get_ref<const json::string_t&>());
}

Result<std::string> ObjectReader::string(std::string_view key) {
  CS_TRY(std::string_view s, string_view(key));
  return std::string(s);
}

Result<std::string> ObjectReader::non_empty_string(std::string_view key) {
  CS_TRY(std::string s, string(key));
  if (s.empty()) return error(key, "must not be empty");
  return s;
}

Result<std::string> ObjectReader::name(std::string_view key) {
  CS_TRY(std::string s, non_empty_string(key));
  if (auto why = name_problem(s))
    return error(key, "\"" + escape_untrusted(s, 80) + "\" cannot be a name: " + *why);
  return s;
}

Result<std::optional<std::string>> ObjectReader::optional_name(std::string_view key) {
  if (!has(key)) return std::optional<std::string>();
  CS_TRY(std::string s, string(key));
  if (auto why = name_problem(s))
    return error(key, "\"" + escape_untrusted(s, 80) + "\" cannot be a name: " + *why);
  return std::optional<std::string>(std::move(s));
}

Result<std::optional<std::string>> ObjectReader::optional_string(std::string_view key) {
  if (!has(key)) return std::optional<std::string>();
  CS_TRY(std::string s, string(key));
  return std::optional<std::string>(std::move(s));
}

Result<std::uint64_t> ObjectReader::integer(std::string_view key, std::uint64_t min, std::uint64_t max) {
  CS_TRY(const json* v, member(key));
  auto n = json_integer(*v, min, max);
  if (!n.ok()) return error(key, n.error().message);
  return *n;
}

Result<std::optional<bool>> ObjectReader::optional_bool(std::string_view key) {
  const json* v = find(key);
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_boolean()) return error(key, std::string("must be true or false, not ") + type_name(*v));
  return std::optional<bool>(v->get<bool>());
}

Result<Bytes> ObjectReader::base64(std::string_view key) {
  CS_TRY(std::string s, string(key));
  auto b = base64_decode(s);
  if (!b.ok()) return error(key, "is not standard base64 with padding");
  return std::move(b).value();
}

Result<Digest> ObjectReader::digest(std::string_view key) {
  CS_TRY(std::string s, string(key));
  auto d = digest_from_string(s);
  if (!d.ok()) return error(key, "\"" + s + "\" is not \"sha256:\" followed by 64 lowercase hex digits");
  return *d;
}

Result<UnixTime> ObjectReader::time(std::string_view key) {
  CS_TRY(std::string s, string(key));
  auto t = parse_rfc3339(s);
  if (!t.ok()) return error(key, t.error().message);
  return *t;
}

Result<const json::array_t*> ObjectReader::array(std::string_view key) {
  CS_TRY(const json* v, member(key));
  if (!v->is_array()) return error(key, std::string("must be an array, not ") + type_name(*v));
  return v->get_ptr<const json::array_t*>();
}

Result<const json*> ObjectReader::object(std::string_view key) {
  CS_TRY(const json* v, member(key));
  if (!v->is_object()) return error(key, std::string("must be an object, not ") + type_name(*v));
  return v;
}

Result<std::vector<std::string>> ObjectReader::string_array(std::string_view key, bool unique) {
  CS_TRY(const json::array_t* arr, array(key));
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const json& v = (*arr)[i];
    std::string p = pointer_append(child(key), i);
    if (!v.is_string()) return document_error(doc_, p, std::string("must be a string, not ") + type_name(v));
    auto s = v.get<std::string>();
    if (s.empty()) return document_error(doc_, p, "must not be empty");
    if (auto why = name_problem(s))
      return document_error(doc_, p, "\"" + escape_untrusted(s, 80) + "\" cannot be a name: " + *why);
    if (unique && !seen.insert(s).second)
      return document_error(doc_, p, "\"" + escape_untrusted(s, 80) + "\" is listed twice");
    out.push_back(std::move(s));
  }
  return out;
}

Result<void> ObjectReader::expect_schema(std::string_view schema) {
  const json* v = find("schema");
  if (v == nullptr || !v->is_string()) {
    return Error(Errc::kUnknownSchema,
                 doc_ + ": \"schema\" is missing; expected \"" + std::string(schema) + "\"");
  }
  if (v->get_ref<const json::string_t&>() != schema) {
    return Error(Errc::kUnknownSchema,
                 doc_ + ": schema \"" + v->get<std::string>() + "\" is not \"" + std::string(schema) + "\"");
  }
  return {};
}

Result<void> ObjectReader::finish() const {
  const auto& object = value_->get_ref<const json::object_t&>();
  if (read_count_ == object.size()) return {};  // every member was read
  for (const auto& [key, value] : object) {
    if (!was_read(&key)) return document_error(doc_, child(key), "unknown field");
  }
  return {};
}

bool ObjectReader::was_read(const std::string* name) const {
  const auto inline_end = read_.begin() + static_cast<std::ptrdiff_t>(std::min(read_count_, kInline));
  return std::find(read_.begin(), inline_end, name) != inline_end ||
         std::find(read_more_.begin(), read_more_.end(), name) != read_more_.end();
}

}  // namespace countersign
