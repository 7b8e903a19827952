#include "core/witness_quorum.h"

#include <algorithm>

#include "core/checkpoint.h"

namespace countersign::witness {

QuorumReport check_quorum(const note::Note& checkpoint, const std::vector<note::Verifier>& witnesses,
                          std::size_t required) {
  QuorumReport r;
  r.required = required;
  std::vector<std::string> seen;
  for (const auto& w : witnesses) {
    // Distinct keys: the same name, id and key given twice is one witness.
    std::string id = w.vkey();
    if (std::find(seen.begin(), seen.end(), id) != seen.end()) continue;
    seen.push_back(id);
    CosignerCheck c;
    c.label = w.label();
    auto ts = note::verify_cosignature(checkpoint, w);
    if (ts.ok()) {
      c.valid = true;
      c.time = *ts;
      ++r.valid;
    } else {
      c.problem = ts.error().message;
    }
    r.witnesses.push_back(std::move(c));
  }
  return r;
}

Result<void> require_quorum(const QuorumReport& r) {
  if (r.met()) return {};
  std::string by, missing;
  for (const auto& w : r.witnesses) {
    if (w.valid) {
      by += (by.empty() ? "" : ", ") + w.label;
    } else {
      missing += (missing.empty() ? "" : "; ") + w.problem;
    }
  }
  return Error(Errc::kRejected, "witness quorum not met: " + std::to_string(r.valid) +
                                    " valid cosignature(s) of the " + std::to_string(r.required) +
                                    " required" + (by.empty() ? std::string() : " (by " + by + ")") +
                                    "; missing: " + missing);
}

Result<note::Note> merge_cosignatures(const std::string& note_text, const std::vector<std::string>& extra,
                                      const std::vector<std::string>& what) {
  CS_TRY(note::Note base, note::Note::parse(note_text));
  std::vector<std::string> lines;
  for (const auto& s : base.signatures()) lines.push_back(s.line());
  for (std::size_t i = 0; i < extra.size(); ++i) {
    const std::string name = i < what.size() ? what[i] : "note " + std::to_string(i + 1);
    auto n = note::Note::parse(extra[i]);
    if (!n.ok()) return n.error().with_context(name);
    if (n->text() != base.text()) {
      auto a = Checkpoint::parse(base.text());
      auto b = Checkpoint::parse(n->text());
      std::string sizes = a.ok() && b.ok()
                              ? " (size " + std::to_string(b->size) + ", not " + std::to_string(a->size) + ")"
                              : "";
      return Error(Errc::kInvalidArgument, name + " is about another checkpoint" + sizes);
    }
    for (const auto& s : n->signatures()) {
      if (std::find(lines.begin(), lines.end(), s.line()) != lines.end()) continue;
      if (base.signatures().size() >= note::kMaxSignatures)
        return Error(Errc::kInvalidArgument,
                     "more than " + std::to_string(note::kMaxSignatures) + " signatures");
      lines.push_back(s.line());
      base.add_signature(s);
    }
  }
  return base;
}

}  // namespace countersign::witness
