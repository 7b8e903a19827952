#include "core/audit_verify.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>

#include "core/audit_entry.h"
#include "core/bytes.h"
#include "core/fileio.h"
#include "core/jcs.h"
#include "core/merkle.h"

namespace countersign::audit {

namespace {

struct Held {
  Checkpoint cp;
  std::string where;  // "checkpoint 3 in <dir>/checkpoints", "checkpoint file 1"
  bool extra = false;
};

// The tree recomputed from the entries, every level kept in memory (2n hashes) so that
// roots at any checkpoint size and consistency proofs come from what was recomputed.
class Recomputed {
 public:
  void add(const Digest& leaf) {
    range_.append(leaf, [this](unsigned k, std::uint64_t, const Digest& h) {
      if (levels_.size() <= k) levels_.resize(k + 1);
      levels_[k].push_back(h);
    });
  }
  std::uint64_t size() const { return range_.size(); }
  merkle::SubtreeSource source() const {
    return [this](unsigned k, std::uint64_t j) -> Result<Digest> {
      if (k >= levels_.size() || j >= levels_[k].size())
        return Error(Errc::kInternal, "subtree not computed");
      return levels_[k][j];
    };
  }
  Result<Digest> root_at(std::uint64_t n) const {
    if (n == 0) return merkle::empty_root();
    return merkle::range_hash(source(), 0, n);
  }

 private:
  merkle::CompactRange range_;
  std::vector<std::vector<Digest>> levels_;
};

std::string range_text(std::uint64_t a, std::uint64_t b) {
  return b - a == 1 ? "entry " + std::to_string(a)
                    : "entries " + std::to_string(a) + ".." + std::to_string(b - 1);
}

Result<VerifyReport> finish(Recomputed& tree, std::vector<Held> held, std::optional<TornTail> torn) {
  if (held.empty()) {
    return Error(Errc::kRejected, "no signed checkpoint: nothing vouches for the " +
                                      std::to_string(tree.size()) + " entries (give one with --checkpoint)");
  }
  // Check roots from the smallest size up, so the first mismatch bounds the first bad entry.
  std::stable_sort(held.begin(), held.end(),
                   [](const Held& a, const Held& b) { return a.cp.size < b.cp.size; });
  std::uint64_t good = 0;  // entries [0, good) are vouched for by a matching checkpoint
  for (const Held& h : held) {
    if (h.cp.size > tree.size()) {
      return Error(Errc::kHashMismatch, h.where + " covers " + std::to_string(h.cp.size) +
                                            " entries but the log has " + std::to_string(tree.size()) + ": " +
                                            range_text(tree.size(), h.cp.size) + " dropped or truncated");
    }
    CS_TRY(Digest root, tree.root_at(h.cp.size));
    if (root != h.cp.root) {
      return Error(
          Errc::kHashMismatch,
          h.where + " (size " + std::to_string(h.cp.size) + ") does not match the entries: " +
              (good < h.cp.size ? range_text(good, h.cp.size) : std::string("the history")) +
              " changed, dropped, reordered or inserted after it was signed" +
              (good > 0 ? " (entries before " + std::to_string(good) + " match an earlier checkpoint)" : ""));
    }
    good = h.cp.size;
  }
  VerifyReport r;
  r.entries = tree.size();
  CS_TRY(r.root, tree.root_at(tree.size()));
  r.checkpoints_checked = held.size();
  r.newest = held.back().cp;
  r.unsigned_entries = tree.size() - r.newest.size;
  r.torn = torn;
  // RFC 9162 section 2.1.4: each checkpoint the auditor brought is consistent with the newest.
  for (const Held& h : held) {
    if (!h.extra) continue;
    if (h.cp.size > 0 && h.cp.size < r.newest.size) {
      CS_TRY(auto proof, merkle::consistency_proof(tree.source(), h.cp.size, r.newest.size));
      auto ok = merkle::verify_consistency(h.cp.size, r.newest.size, proof, h.cp.root, r.newest.root);
      if (!ok.ok()) return ok.error().with_context(h.where + " is not consistent with the newest checkpoint");
    }
    r.consistent.push_back(h.cp);
  }
  return r;
}

Result<std::vector<Held>> open_extras(const std::vector<std::string>& notes, const note::Verifier& key) {
  std::vector<Held> out;
  for (std::size_t i = 0; i < notes.size(); ++i) {
    std::string where = "given checkpoint " + std::to_string(i + 1);
    auto cp = open_checkpoint(notes[i], key);
    if (!cp.ok()) return cp.error().with_context(where);
    out.push_back({*cp, where, true});
  }
  return out;
}

Result<void> add_entry(Recomputed& tree, std::uint64_t index, std::string_view bytes,
                       const std::string& where) {
  auto e = check_entry(bytes, index);
  if (!e.ok()) return e.error().with_context(where);
  tree.add(merkle::leaf_hash(as_bytes(bytes)));
  return {};
}

}  // namespace

Result<Checkpoint> open_checkpoint(std::string_view note_text, const note::Verifier& key) {
  CS_TRY(note::Note n, note::Note::parse(note_text));
  CS_TRY_VOID(note::verify(n, key));
  CS_TRY(Checkpoint cp, Checkpoint::parse(n.text()));
  // tlog-checkpoint "Signatures": the log's key name should match the origin; ours always do.
  if (cp.origin != key.name()) {
    return Error(Errc::kCrypto,
                 "checkpoint origin \"" + cp.origin + "\" is not the log key's name \"" + key.name() + "\"");
  }
  return cp;
}

Result<VerifyReport> verify_log_dir(const std::string& dir, const note::Verifier& key,
                                    const std::vector<std::string>& extra_checkpoints) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) return Error(Errc::kNotFound, dir + " is not a log directory");
  const std::string cp_path = (fs::path(dir) / "checkpoints").string();
  std::vector<Held> held;
  std::uint64_t cp_index = 0;
  CS_TRY(auto torn_cp,
         scan_record_file(cp_path, kCheckpointsHeader, note::kMaxNoteSize, "checkpoints",
                          [&](const Record& r) -> Result<void> {
                            std::string where = "checkpoint " + std::to_string(cp_index++) + " in " + cp_path;
                            auto cp = open_checkpoint(r.payload, key);
                            if (!cp.ok()) return cp.error().with_context(where);
                            if (!held.empty() && cp->size < held.back().cp.size) {
                              return Error(Errc::kInvalidDocument,
                                           where + ": size " + std::to_string(cp->size) +
                                               " is smaller than the " + std::to_string(held.back().cp.size) +
                                               " of the checkpoint before it");
                            }
                            held.push_back({*cp, where, false});
                            return {};
                          }));
  (void)torn_cp;  // a checkpoint torn mid-write was never handed out; nothing to check
  CS_TRY(auto extras, open_extras(extra_checkpoints, key));
  held.insert(held.end(), extras.begin(), extras.end());

  // The leaf hashes the writer stored, to name a rewritten entry exactly.
  std::ifstream leaves((fs::path(dir) / "tree-00").string(), std::ios::binary);
  Recomputed tree;
  const std::string entries_path = (fs::path(dir) / "entries").string();
  CS_TRY(
      auto torn,
      scan_record_file(
          entries_path, kEntriesHeader, kMaxEntrySize, "entries", [&](const Record& r) -> Result<void> {
            std::uint64_t i = tree.size();
            std::string where = "entry " + std::to_string(i) + " (byte " + std::to_string(r.offset) + " of " +
                                entries_path + ")";
            Digest stored{};
            if (leaves && leaves.read(reinterpret_cast<char*>(stored.data()), 32) && stored != r.checksum) {
              return Error(Errc::kHashMismatch, where +
                                                    ": leaf hash differs from the one recorded in tree-00 "
                                                    "when it was appended (entry rewritten)");
            }
            return add_entry(tree, i, r.payload, where);
          }));
  return finish(tree, std::move(held), torn);
}

Result<VerifyReport> verify_export(const std::string& jsonl_path, const note::Verifier& key,
                                   const std::vector<std::string>& extra_checkpoints) {
  std::ifstream in(jsonl_path, std::ios::binary);
  if (!in) return Error(Errc::kNotFound, "cannot open " + jsonl_path);
  CS_TRY(auto held, open_extras(extra_checkpoints, key));
  Recomputed tree;
  std::string line;
  std::uint64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::string where = jsonl_path + " line " + std::to_string(line_no);
    auto parsed = parse_export_line(line);
    if (!parsed.ok()) return parsed.error().with_context(where);
    if (parsed->index != tree.size()) {
      return Error(Errc::kInvalidDocument,
                   where + ": index " + std::to_string(parsed->index) + ", expected " +
                       std::to_string(tree.size()) +
                       " (the export must hold the whole log from entry 0, in order)");
    }
    CS_TRY_VOID(add_entry(tree, parsed->index, parsed->entry,
                          where + " (entry " + std::to_string(parsed->index) + ")"));
  }
  if (in.bad()) return Error(Errc::kIo, "cannot read " + jsonl_path);
  return finish(tree, std::move(held), std::nullopt);
}

namespace {

// The MSG part of an RFC 5424 message (section 6): after PRI VERSION, TIMESTAMP, HOSTNAME,
// APP-NAME, PROCID, MSGID (one space each) and STRUCTURED-DATA ("-", or [elements] whose
// quoted values may escape a quote, a backslash and ']'), one space; a UTF-8 BOM before it
// is dropped.
Result<std::string_view> syslog_msg(std::string_view line) {
  if (line.empty() || line[0] != '<') return Error(Errc::kMalformed, "not an RFC 5424 message (no <PRI>)");
  std::size_t pos = 0;
  for (int field = 0; field < 6; ++field) {
    pos = line.find(' ', pos);
    if (pos == std::string_view::npos) return Error(Errc::kMalformed, "RFC 5424 header cut short");
    ++pos;
  }
  if (pos < line.size() && line[pos] == '-') {
    ++pos;
  } else {
    while (pos < line.size() && line[pos] == '[') {
      bool quoted = false;
      for (++pos; pos < line.size(); ++pos) {
        const char c = line[pos];
        if (quoted && c == '\\') {
          ++pos;  // the escaped character
        } else if (c == '"') {
          quoted = !quoted;
        } else if (!quoted && c == ']') {
          break;
        }
      }
      if (pos >= line.size()) return Error(Errc::kMalformed, "structured data not closed");
      ++pos;
    }
  }
  if (pos >= line.size() || line[pos] != ' ')
    return Error(Errc::kMalformed, "no message after the structured data");
  std::string_view msg = line.substr(pos + 1);
  if (msg.starts_with("\xEF\xBB\xBF")) msg.remove_prefix(3);
  return msg;
}

}  // namespace

bool looks_like_syslog(std::string_view first_line) {
  return first_line.size() > 2 && first_line[0] == '<' && first_line[1] >= '0' && first_line[1] <= '9';
}

Result<SyslogCopyReport> verify_syslog_copy(const std::string& path, const note::Verifier& key,
                                            const std::vector<std::string>& extra_checkpoints) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(Errc::kNotFound, "cannot open " + path);
  CS_TRY(auto held, open_extras(extra_checkpoints, key));
  Recomputed tree;
  SyslogCopyReport out;
  std::string line;
  std::uint64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    ++out.lines;
    const std::string where = path + " line " + std::to_string(line_no);
    auto msg = syslog_msg(line);
    if (!msg.ok()) return msg.error().with_context(where);
    auto parsed = jcs::parse(*msg);
    if (!parsed.ok())
      return Error(Errc::kMalformed,
                   where + ": the message is not an entry (" + parsed.error().message + ")");
    const nlohmann::json& e = *parsed;
    // JCS numbers are doubles; a seq is a whole number within 2^53 (check_entry checks it
    // again for entries that count).
    const double d = e.is_object() && e.contains("seq") && e["seq"].is_number() ? e["seq"].get<double>() : -1;
    if (d < 0 || d > 9007199254740991.0 || d != static_cast<double>(static_cast<std::uint64_t>(d))) {
      return Error(Errc::kInvalidDocument, where + ": the entry has no \"seq\" (a whole number)");
    }
    const auto n = static_cast<std::uint64_t>(d);
    if (n < tree.size()) {
      // Sent again after a reconnect: the same bytes as the first time, or the copy lies.
      CS_TRY(Digest first, tree.source()(0, n));
      if (merkle::leaf_hash(as_bytes(*msg)) != first) {
        return Error(Errc::kHashMismatch, where + ": entry " + std::to_string(n) +
                                              " differs from the copy of it received earlier");
      }
      ++out.duplicates;
      continue;
    }
    if (n > tree.size()) {
      return Error(Errc::kHashMismatch, where + ": " + range_text(tree.size(), n) +
                                            " missing (the copy goes on at seq " + std::to_string(n) + ")");
    }
    CS_TRY_VOID(add_entry(tree, n, *msg, where + " (entry " + std::to_string(n) + ")"));
  }
  if (in.bad()) return Error(Errc::kIo, "cannot read " + path);
  CS_TRY(out.log, finish(tree, std::move(held), std::nullopt));
  return out;
}

namespace {

// "000000000000-000000000255.jsonl" -> {0, 255}; "000000000256.note" -> 256.
bool parse_number(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return true;
}

struct Segment {
  std::uint64_t first = 0, last = 0;
  std::string path;
};

}  // namespace

Result<BucketCopyReport> verify_bucket_copy(const std::string& dir, const note::Verifier& key,
                                            const std::vector<std::string>& extra_checkpoints) {
  namespace fs = std::filesystem;
  const fs::path seg_dir = fs::path(dir) / "segments", cp_dir = fs::path(dir) / "checkpoints";
  if (!fs::is_directory(seg_dir)) return Error(Errc::kNotFound, seg_dir.string() + " is not a directory");
  std::error_code ec;
  std::vector<Segment> segments;
  for (const auto& e : fs::directory_iterator(seg_dir, ec)) {
    const std::string name = e.path().filename().string();
    std::uint64_t first = 0, last = 0;
    const auto dash = name.find('-');
    const bool ok = name.size() > 6 && name.ends_with(".jsonl") && dash != std::string::npos &&
                    parse_number(std::string_view(name).substr(0, dash), first) &&
                    parse_number(std::string_view(name).substr(dash + 1, name.size() - 6 - dash - 1), last) &&
                    first <= last;
    if (!ok) {
      return Error(Errc::kInvalidDocument,
                   e.path().string() + ": not a segment name (FIRST-LAST.jsonl, entries FIRST..LAST)");
    }
    segments.push_back({first, last, e.path().string()});
  }
  if (ec) return Error(Errc::kIo, "cannot list " + seg_dir.string() + ": " + ec.message());
  std::sort(segments.begin(), segments.end(), [](const Segment& a, const Segment& b) {
    return a.first != b.first ? a.first < b.first : a.last < b.last;
  });

  std::vector<Held> held;
  if (fs::is_directory(cp_dir)) {
    std::vector<fs::path> notes;
    for (const auto& e : fs::directory_iterator(cp_dir, ec)) notes.push_back(e.path());
    if (ec) return Error(Errc::kIo, "cannot list " + cp_dir.string() + ": " + ec.message());
    std::sort(notes.begin(), notes.end());
    for (const auto& p : notes) {
      const std::string name = p.filename().string();
      std::uint64_t size = 0;
      if (!name.ends_with(".note") ||
          !parse_number(std::string_view(name).substr(0, name.size() - 5), size)) {
        return Error(Errc::kInvalidDocument, p.string() + ": not a checkpoint name (SIZE.note)");
      }
      CS_TRY(std::string text, read_file(p.string(), note::kMaxNoteSize));
      auto cp = open_checkpoint(text, key);
      if (!cp.ok()) return cp.error().with_context(p.string());
      if (cp->size != size) {
        return Error(Errc::kInvalidDocument, p.string() + ": holds the checkpoint of size " +
                                                 std::to_string(cp->size) + ", not " + std::to_string(size));
      }
      held.push_back({*cp, p.string(), false});
    }
  }
  CS_TRY(auto extras, open_extras(extra_checkpoints, key));
  held.insert(held.end(), extras.begin(), extras.end());

  BucketCopyReport report;
  report.segments = segments.size();
  std::vector<std::pair<std::uint64_t, std::uint64_t>> missing;  // [first, end)
  Recomputed tree;
  std::vector<Digest> leaves;  // to compare segments that overlap
  for (const Segment& seg : segments) {
    if (seg.first > tree.size()) {
      // A gap: the tree stops here; the rest is only named.
      missing.push_back({tree.size(), seg.first});
      break;
    }
    std::ifstream in(seg.path, std::ios::binary);
    if (!in) return Error(Errc::kIo, "cannot open " + seg.path);
    std::string line;
    std::uint64_t expect = seg.first;
    while (std::getline(in, line)) {
      const std::string where = seg.path + " line " + std::to_string(expect - seg.first + 1);
      auto parsed = parse_export_line(line);
      if (!parsed.ok()) return parsed.error().with_context(where);
      if (parsed->index != expect || expect > seg.last) {
        return Error(Errc::kInvalidDocument,
                     where + ": index " + std::to_string(parsed->index) + ", expected " +
                         (expect > seg.last ? "none (the name ends at " + std::to_string(seg.last) + ")"
                                            : std::to_string(expect)));
      }
      if (expect < tree.size()) {
        if (leaves[expect] != parsed->leaf_hash) {
          return Error(Errc::kHashMismatch, where + ": entry " + std::to_string(expect) +
                                                " differs from the same entry in an earlier segment");
        }
      } else {
        CS_TRY_VOID(
            add_entry(tree, expect, parsed->entry, where + " (entry " + std::to_string(expect) + ")"));
        leaves.push_back(parsed->leaf_hash);
      }
      ++expect;
    }
    if (in.bad()) return Error(Errc::kIo, "cannot read " + seg.path);
    if (expect != seg.last + 1) {
      return Error(Errc::kInvalidDocument, seg.path + ": ends at entry " + std::to_string(expect) +
                                               ", its name says it holds up to " + std::to_string(seg.last));
    }
  }
  std::uint64_t covered = 0;
  for (const Held& h : held) covered = std::max(covered, h.cp.size);
  if (missing.empty() && covered > tree.size()) missing.push_back({tree.size(), covered});
  if (!missing.empty()) {
    // Name every gap, also those after the first (from the segment names alone).
    std::uint64_t end = missing.front().second;
    for (const Segment& seg : segments) {
      if (seg.last + 1 <= end) {
        end = std::max(end, seg.last + 1);
        continue;
      }
      if (seg.first > end) missing.push_back({end, seg.first});
      end = std::max(end, seg.last + 1);
    }
    if (covered > end) missing.push_back({end, covered});
    std::string text;
    for (const auto& [a, b] : missing) text += (text.empty() ? "" : ", ") + range_text(a, b);
    return Error(
        Errc::kHashMismatch,
        dir + ": no segment holds " + text +
            (covered > 0 ? " (the newest checkpoint covers " + std::to_string(covered) + " entries)" : ""));
  }
  CS_TRY(report.log, finish(tree, std::move(held), std::nullopt));
  return report;
}

}  // namespace countersign::audit
