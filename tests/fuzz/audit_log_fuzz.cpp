// Fuzz target for the audit log's parsers: a log record (core/audit_log.h parse_record),
// an entry (audit_entry.h check_entry), an export line (parse_export_line), a signed note,
// a checkpoint body and a verifier key (signed_note.h, checkpoint.h). Every input goes to
// all of them.
//
// Properties checked:
//  - a record that parses has a payload within the limit and ends within the input;
//  - an export line that parses is re-exported to a line that parses to the same values;
//  - a note that parses re-serializes to a note that parses to the same text and
//    signatures, and verification with an unrelated key fails cleanly;
//  - a verifier key that parses re-encodes to a key that parses to the same key id.
// Any violation calls abort() so libFuzzer records the input.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/audit_entry.h"
#include "core/audit_log.h"
#include "core/checkpoint.h"
#include "core/signed_note.h"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "audit_log_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace countersign;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  std::uint64_t next = 0;
  auto rec = audit::parse_record(text, 0, audit::kMaxEntrySize, next);
  if (rec.ok()) {
    if (rec->payload.size() > audit::kMaxEntrySize || next > size) fail("record out of bounds");
    (void)audit::check_entry(rec->payload, 0);
  }
  (void)audit::check_entry(text, 0);

  auto line = audit::parse_export_line(text);
  if (line.ok()) {
    auto again = audit::parse_export_line(audit::export_line(line->index, line->entry, line->leaf_hash));
    if (!again.ok() || again->entry != line->entry || again->index != line->index)
      fail("export line round trip");
  }

  auto n = note::Note::parse(text);
  if (n.ok()) {
    auto again = note::Note::parse(n->serialize());
    if (!again.ok() || again->text() != n->text() || again->signatures().size() != n->signatures().size()) {
      fail("note round trip");
    }
    static const auto unrelated =
        note::Verifier::parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k");
    if (!unrelated.ok()) fail("fixed vkey does not parse");
    (void)note::verify(*n, *unrelated);
    (void)note::verify_cosignature(*n, *unrelated);
    (void)Checkpoint::parse(n->text());
  }
  (void)Checkpoint::parse(text);

  auto v = note::Verifier::parse(text);
  if (v.ok()) {
    auto again = note::Verifier::parse(v->vkey());
    if (!again.ok() || again->key_id() != v->key_id()) fail("vkey round trip");
  }
  return 0;
}
