#include "core/audit_proof.h"

#include "core/audit_entry.h"
#include "core/audit_verify.h"
#include "core/bytes.h"
#include "core/jcs.h"
#include "core/merkle.h"

namespace countersign::audit {

namespace {

void proof_b64(const std::vector<Digest>& proof, nlohmann::json& out) {
  out = nlohmann::json::array();
  for (const auto& h : proof) out.push_back(base64_encode(h));
}

Result<std::vector<Bytes>> proof_from_json(const nlohmann::json& j) {
  if (!j.is_array()) return Error(Errc::kInvalidDocument, "\"proof\" is not an array");
  std::vector<Bytes> out;
  for (const auto& h : j) {
    if (!h.is_string()) return Error(Errc::kInvalidDocument, "\"proof\" holds a non-string");
    auto b = base64_decode(h.get<std::string>());
    if (!b.ok()) return Error(Errc::kInvalidDocument, "\"proof\" holds something that is not base64");
    out.push_back(*b);
  }
  return out;
}

}  // namespace

Result<std::pair<std::string, Checkpoint>> find_checkpoint(const AuditLog& log, std::uint64_t size) {
  CS_TRY(auto notes, log.checkpoints());
  for (auto it = notes.rbegin(); it != notes.rend(); ++it) {
    CS_TRY(note::Note n, note::Note::parse(*it));
    CS_TRY(Checkpoint c, Checkpoint::parse(n.text()));
    if (size == 0 || c.size == size) return std::make_pair(*it, c);
  }
  return Error(Errc::kNotFound, size == 0
                                    ? "the log has no signed checkpoint"
                                    : "the log has no signed checkpoint of size " + std::to_string(size));
}

Result<nlohmann::json> inclusion_proof_doc(const AuditLog& log, std::uint64_t index,
                                           std::uint64_t tree_size) {
  CS_TRY(auto cp, find_checkpoint(log, tree_size));
  const Checkpoint& c = cp.second;
  if (index >= c.size) {
    return Error(Errc::kInvalidArgument, "entry " + std::to_string(index) +
                                             " is not covered by the checkpoint of size " +
                                             std::to_string(c.size));
  }
  CS_TRY(std::string bytes, log.entry(index));
  CS_TRY(Digest leaf, log.leaf_hash(index));
  CS_TRY(std::vector<Digest> proof, log.inclusion_proof(index, c.size));
  CS_TRY(nlohmann::json entry, jcs::parse(bytes));
  nlohmann::json doc = {{"schema", kInclusionProofSchema},
                        {"index", index},
                        {"tree_size", c.size},
                        {"entry", std::move(entry)},
                        {"leaf_hash", hex_encode(leaf)},
                        {"checkpoint", cp.first}};
  proof_b64(proof, doc["proof"]);
  return doc;
}

Result<nlohmann::json> consistency_proof_doc(const AuditLog& log, std::uint64_t old_size,
                                             std::uint64_t new_size) {
  CS_TRY(auto old_cp, find_checkpoint(log, old_size));
  CS_TRY(auto new_cp, find_checkpoint(log, new_size));
  CS_TRY(std::vector<Digest> proof, log.consistency_proof(old_size, new_size));
  nlohmann::json doc = {{"schema", kConsistencyProofSchema},
                        {"old_checkpoint", old_cp.first},
                        {"new_checkpoint", new_cp.first}};
  proof_b64(proof, doc["proof"]);
  return doc;
}

Result<std::string> check_inclusion(const std::string& entry, std::uint64_t index,
                                    const std::vector<Bytes>& proof, const std::string& checkpoint_note,
                                    const note::Verifier& key) {
  auto cp = open_checkpoint(checkpoint_note, key);
  if (!cp.ok()) return cp.error().with_context("checkpoint");
  auto e = check_entry(entry, index);
  if (!e.ok()) return e.error().with_context("entry");
  Digest leaf = merkle::leaf_hash(as_bytes(entry));
  auto r = merkle::verify_inclusion(index, cp->size, ByteView(leaf), proof, ByteView(cp->root));
  if (!r.ok()) return r.error().with_context("inclusion of entry " + std::to_string(index));
  return "entry " + std::to_string(index) + " is in the log: inclusion proof to the checkpoint of size " +
         std::to_string(cp->size) + " signed by " + key.label() + " verifies\n  " + entry + "\n";
}

Result<std::string> check_proof_doc(const nlohmann::json& d, const note::Verifier& key) {
  if (!d.is_object() || !d.contains("schema") || !d["schema"].is_string()) {
    return Error(Errc::kUnknownSchema, "not a countersign log proof (no \"schema\")");
  }
  const std::string schema = d["schema"];
  auto str = [&](const char* k) -> Result<std::string> {
    if (!d.contains(k) || !d[k].is_string())
      return Error(Errc::kInvalidDocument, std::string("\"") + k + "\" missing");
    return d[k].get<std::string>();
  };
  auto num = [&](const char* k) -> Result<std::uint64_t> {
    // jcs::parse keeps every number as a double; accept exact non-negative integers.
    double v = d.contains(k) && d[k].is_number() ? d[k].get<double>() : -1;
    if (v < 0 || v > 9007199254740991.0 || v != static_cast<double>(static_cast<std::uint64_t>(v))) {
      return Error(Errc::kInvalidDocument,
                   std::string("\"") + k + "\" missing or not a non-negative integer");
    }
    return static_cast<std::uint64_t>(v);
  };
  if (!d.contains("proof")) return Error(Errc::kInvalidDocument, "\"proof\" missing");
  CS_TRY(std::vector<Bytes> proof, proof_from_json(d["proof"]));
  if (schema == kInclusionProofSchema) {
    CS_TRY(std::string note_text, str("checkpoint"));
    CS_TRY(std::uint64_t index, num("index"));
    CS_TRY(std::uint64_t tree_size, num("tree_size"));
    if (!d.contains("entry") || !d["entry"].is_object())
      return Error(Errc::kInvalidDocument, "\"entry\" missing");
    CS_TRY(std::string bytes, jcs::serialize(d["entry"]));
    CS_TRY(std::string leaf_hex, str("leaf_hash"));
    if (leaf_hex != hex_encode(merkle::leaf_hash(as_bytes(bytes))))
      return Error(Errc::kHashMismatch, "\"leaf_hash\" is not the leaf hash of \"entry\"");
    auto cp = open_checkpoint(note_text, key);
    if (!cp.ok()) return cp.error().with_context("checkpoint");
    if (tree_size != cp->size)
      return Error(Errc::kInvalidDocument, "\"tree_size\" differs from the checkpoint's size");
    return check_inclusion(bytes, index, proof, note_text, key);
  }
  if (schema == kConsistencyProofSchema) {
    CS_TRY(std::string old_text, str("old_checkpoint"));
    CS_TRY(std::string new_text, str("new_checkpoint"));
    auto a = open_checkpoint(old_text, key);
    if (!a.ok()) return a.error().with_context("old checkpoint");
    auto b = open_checkpoint(new_text, key);
    if (!b.ok()) return b.error().with_context("new checkpoint");
    auto r = merkle::verify_consistency(a->size, b->size, proof, ByteView(a->root), ByteView(b->root));
    if (!r.ok()) {
      return r.error().with_context("checkpoints of size " + std::to_string(a->size) + " and " +
                                    std::to_string(b->size) + " are not consistent (history rewritten?)");
    }
    return "consistent: the log of " + std::to_string(b->size) + " entries extends the one of " +
           std::to_string(a->size) + " entries (both signed by " + key.label() + "); no history rewritten\n";
  }
  return Error(Errc::kUnknownSchema, "unknown proof schema \"" + schema + "\"");
}

}  // namespace countersign::audit
