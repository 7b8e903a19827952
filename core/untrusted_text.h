// Text from documents and requests is shown to people who decide on it, so it must not be
// able to lie (DESIGN.md "Identifiers and encodings"). Three rules, one place:
//
// - Names (file paths, names, versions, ids, roles, source fields: everything that is not
//   free text) must be valid UTF-8 without C0 controls (U+0000-U+001F), DEL and C1 controls
//   (U+007F-U+009F), U+2028, U+2029, and the bidi formatting characters U+061C, U+200E,
//   U+200F, U+202A-U+202E, U+2066-U+2069. name_problem() says why a text is not a name, with
//   the byte offset; documents refuse such names at parse (ObjectReader::name), so the CLI,
//   the app and the box agree.
// - Every untrusted text is shown through escape_untrusted(): never interpreted by a terminal
//   or a widget, never broken into lines by the document.
// - A name that mixes scripts (a Cyrillic "а" in "model.sаfetensors") can imitate another
//   name, so script_warning() flags it for the reviewer; it is shown, not refused.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace countersign {

// nullopt when `text` may be a name; else what is wrong and where, e.g. "U+202E (a bidi
// formatting character) at byte 8" or "invalid UTF-8 at byte 3".
std::optional<std::string> name_problem(std::string_view text);

// `text` as shown to people: printable characters as they are; C0 controls, DEL, C1 controls
// and bytes that are not valid UTF-8 as `\xNN` (C1 as the escape of its code point,
// `\x9b`); U+2028, U+2029, bidi formatting characters and the other invisible format
// characters (soft hyphen, zero-width characters, word joiners, the BOM, ...) and code points
// that are no character (unassigned as of the Unicode version in core/unicode_unassigned.inc,
// and the noncharacters, which a terminal draws as nothing) as `<U+XXXX>`.
// So that every escape means one thing, a backslash is shown as `\\` and a "<U+" that was in
// the text as `\x3cU+`.
std::string escape_untrusted(std::string_view text);

// The same, for messages: at most `max_bytes` of the text (cut on a character boundary),
// then "…" when there was more.
std::string escape_untrusted(std::string_view text, std::size_t max_bytes);

// nullopt when `name` is not a likely imitation of another; else why, for the reviewer, e.g.
// "mixes scripts: Latin and Cyrillic (U+0430 at byte 7)" for "model.sаfetensors". Modelled
// on UTS #39 section 5.2 "Highly Restrictive": each word (a run of letters between
// separators such as '.', '-', '_', '/', spaces and digits) must be in one script, or within
// Latin+Han+Hiragana+Katakana, Latin+Han+Bopomofo or Latin+Han+Hangul. Combining marks take
// the script of their letter; letters of scripts the table does not know are not counted.
// The byte offset (into `name`) is that of the first letter of the script with the fewest
// letters in the word. Anywhere in the name, fullwidth or mathematical Latin letters beside
// ASCII letters are flagged too: "mixes fullwidth Latin and ASCII letters (U+FF4D at byte
// 0)" for "ｍodel". So "модель.bin", "Zoë Ångström" and "日本語モデル" are not flagged.
// Whole-script imitations (a word all in Cyrillic letters that look Latin, "ѕсоре") are not
// detected.
std::optional<std::string> script_warning(std::string_view name);

}  // namespace countersign
