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

// Deepest nesting of arrays and objects parse() accepts; the outermost container is
// level 1.
inline constexpr int kMaxDepth = 128;

// Parses exactly one JSON value (RFC 8259; surrounding whitespace allowed). Every number
// becomes a number_float double; -0 stays -0. Numbers too small for a double round to
// (signed) zero as ECMAScript JSON.parse does; numbers too large are rejected. On failure
// returns kMalformed with a message "line L, column C (byte B): reason", e.g.
// `line 3, column 14 (byte 57): duplicate key "size"`. Lines and columns count from 1
// (lines end at LF; columns count characters, i.e. code points); the byte offset counts
// from 0. The parser does not recurse; nesting deeper than kMaxDepth is rejected.
Result<nlohmann::json> parse(std::string_view text);

// Canonical bytes. Fails (kInvalidArgument) for values JCS cannot represent: NaN or
// infinite numbers, binary values, strings or member names that are not valid UTF-8; the
// message names the offending value by JSON Pointer (RFC 6901). Never recurses, so values
// built in code may be nested arbitrarily deep.
Result<std::string> serialize(const nlohmann::json& value);

// SHA-256 of serialize(value): the document hash of DESIGN.md.
Result<Digest> hash(const nlohmann::json& value);

// The canonical bytes of a JSON text: exactly serialize(*parse(text)), and on bad input
// exactly parse(text)'s error, but without building an nlohmann::json value (a flat tape of
// the parsed values instead), which makes it several times faster on large documents.
// For `countersign canon` and anything else that has text and wants canonical text.
Result<std::string> canonicalize(std::string_view text);

// SHA-256 of canonicalize(text), streamed: the document hash of a JSON text.
Result<Digest> hash_text(std::string_view text);

// ECMAScript Number.prototype.toString for a finite double (shortest round-trip digits;
// RFC 8785 section 3.2.2.3): "0" for -0, plain decimal for 1e-7 <= |x| < 1e21, otherwise
// exponent form ("1e+21", "1.5e-7"). Non-finite values give "NaN", "Infinity",
// "-Infinity" as ECMAScript does, although serialize() rejects them.
std::string format_number(double value);

}  // namespace countersign::jcs
