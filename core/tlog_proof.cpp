#include "core/tlog_proof.h"

#include "core/audit_proof.h"
#include "core/jcs.h"

namespace countersign::audit {

namespace {

constexpr std::size_t kMaxTlogProofSize = 1 << 20;
// As many hashes as a tree of 2^63 leaves needs (the tlog-witness bound for proofs, too).
constexpr std::size_t kMaxProofLines = 63;

Error malformed(const std::string& what) { return Error(Errc::kMalformed, "tlog-proof: " + what); }

Result<std::uint64_t> parse_index(std::string_view s) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0'))
    return malformed("index is not a decimal number without leading zeroes");
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return malformed("index is not a decimal number");
    std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return malformed("index overflows");
    v = v * 10 + d;
  }
  return v;
}

}  // namespace

bool is_tlog_proof(std::string_view text) {
  return text.substr(0, kTlogProofHeader.size() + 1) == std::string(kTlogProofHeader) + "\n";
}

Result<TlogProof> TlogProof::parse(std::string_view text) {
  if (text.size() > kMaxTlogProofSize) return malformed("larger than 1 MiB");
  std::size_t line_no = 0;
  std::string_view line;
  auto next = [&]() -> bool {
    std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return false;
    line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    ++line_no;
    return true;
  };
  auto where = [&] { return "line " + std::to_string(line_no) + ": "; };
  if (!next() || line != kTlogProofHeader)
    return malformed("line 1 is not \"" + std::string(kTlogProofHeader) + "\"");
  TlogProof p;
  if (!next()) return malformed("ends after line 1");
  if (line.substr(0, 6) == "extra ") {
    auto e = base64_decode(line.substr(6));
    if (!e.ok()) return malformed(where() + "extra data is not base64");
    p.extra.assign(e->begin(), e->end());
    if (!next()) return malformed("ends after the extra line");
  }
  if (line.substr(0, 6) != "index ") return malformed(where() + "expected \"index <N>\"");
  CS_TRY(p.index, parse_index(line.substr(6)));
  for (;;) {
    if (!next()) return malformed("no empty line before the checkpoint");
    if (line.empty()) break;
    if (p.proof.size() == kMaxProofLines) return malformed("more than 63 inclusion proof lines");
    auto h = base64_decode(line);
    if (!h.ok() || h->size() != 32) return malformed(where() + "not base64 of a 32-byte hash");
    p.proof.push_back(std::move(h).value());
  }
  p.checkpoint = std::string(text);
  CS_TRY(note::Note n, note::Note::parse(p.checkpoint));
  (void)n;
  return p;
}

std::string TlogProof::serialize() const {
  std::string out = std::string(kTlogProofHeader) + "\n";
  if (!extra.empty()) out += "extra " + base64_encode(as_bytes(extra)) + "\n";
  out += "index " + std::to_string(index) + "\n";
  for (const auto& h : proof) out += base64_encode(h) + "\n";
  return out + "\n" + checkpoint;
}

Result<TlogProof> tlog_proof_from_inclusion_doc(const nlohmann::json& doc,
                                                const std::string& checkpoint_note) {
  if (!doc.is_object() || !doc.contains("schema") || doc["schema"] != kInclusionProofSchema)
    return Error(Errc::kInvalidDocument, "not an inclusion proof (give --entry N)");
  auto bad = [](const char* what) {
    return Error(Errc::kInvalidDocument, std::string("inclusion proof: \"") + what + "\" missing or wrong");
  };
  if (!doc.contains("entry") || !doc["entry"].is_object()) return bad("entry");
  // From a file or the box the numbers were read by jcs::parse, as doubles: exact integers only.
  double index = doc.contains("index") && doc["index"].is_number() ? doc["index"].get<double>() : -1;
  if (index < 0 || index > 9007199254740991.0 ||
      index != static_cast<double>(static_cast<std::uint64_t>(index)))
    return bad("index");
  if (!doc.contains("checkpoint") || !doc["checkpoint"].is_string()) return bad("checkpoint");
  if (!doc.contains("proof") || !doc["proof"].is_array()) return bad("proof");
  TlogProof p;
  CS_TRY(p.extra, jcs::serialize(doc["entry"]));
  p.index = static_cast<std::uint64_t>(index);
  for (const auto& h : doc["proof"]) {
    auto b = h.is_string() ? base64_decode(h.get<std::string>()) : Result<Bytes>(bad("proof"));
    if (!b.ok() || b->size() != 32) return bad("proof");
    p.proof.push_back(std::move(b).value());
  }
  p.checkpoint = doc["checkpoint"].get<std::string>();
  if (!checkpoint_note.empty()) {
    CS_TRY(note::Note a, note::Note::parse(p.checkpoint));
    CS_TRY(note::Note b, note::Note::parse(checkpoint_note));
    if (a.text() != b.text())
      return Error(Errc::kInvalidArgument,
                   "the cosigned checkpoint is not the one the inclusion proof is for");
    p.checkpoint = checkpoint_note;
  }
  return p;
}

Result<std::string> check_tlog_proof(const TlogProof& p, const note::Verifier& key) {
  if (p.extra.empty()) {
    return Error(Errc::kInvalidDocument,
                 "tlog-proof has no \"extra\" line: countersign proofs carry the entry there, and without it "
                 "there is no entry to check");
  }
  return check_inclusion(p.extra, p.index, p.proof, p.checkpoint, key);
}

}  // namespace countersign::audit
