// Strict JSON parsing and RFC 8785 (JSON Canonicalization Scheme) serialization.
//
// parse() accepts RFC 8259 JSON and rejects, with an error naming line, column and byte
// offset: duplicate object keys, invalid UTF-8, lone surrogates (raw or as \uD800 escapes),
// numbers that are not finite IEEE-754 doubles, trailing data after the value, and nesting
// deeper than kMaxDepth. Every number is kept as a double (number_float), as JCS sees it.
//
// serialize() writes the canonical form: object members sorted by the UTF-16 code units of
// their names, no whitespace, strings escaped as ECMAScript JSON.stringify does, numbers
// as ECMAScript Number.prototype.toString prints them (-0 as 0). Integer values held as
// number_integer / number_unsigned are printed as the double they convert to, which is
// exact within +-2^53.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/sha256.h"

namespace countersign::jcs {

inline constexpr int kMaxDepth = 128;

Result<nlohmann::json> parse(std::string_view text);

// Canonical bytes. Fails (kInvalidArgument) for values JCS cannot represent: NaN or
// infinite numbers, binary values, strings that are not valid UTF-8.
Result<std::string> serialize(const nlohmann::json& value);

// SHA-256 of serialize(value): the document hash of DESIGN.md.
Result<Digest> hash(const nlohmann::json& value);

// ECMAScript Number.prototype.toString for a finite double (shortest round-trip digits).
std::string format_number(double value);

}  // namespace countersign::jcs
