// Formats for people, the same on every machine: numbers without a locale
// ("4,976,698,672"), and text from documents as core's escaping rule shows it.
#pragma once

#include <QString>
#include <cstdint>
#include <string_view>

namespace countersign::app {

QString grouped(std::uint64_t n);

// Untrusted text (a file name, a note, a description, ...) for a widget: escape_untrusted
// (core/untrusted_text.h), so that a control or bidi character is seen as a marker
// ("<U+202E>", "\x1b") and never interpreted by Qt's text layout.
QString untrusted(std::string_view text);

}  // namespace countersign::app
