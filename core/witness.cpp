#include "core/witness.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/audit_proof.h"
#include "core/fileio.h"
#include "core/merkle.h"
#include "core/sha256.h"
#include "core/unique_fd.h"
#include "core/untrusted_text.h"

namespace countersign::witness {

namespace {

namespace fs = std::filesystem;

Error malformed(const std::string& what) {
  return Error(Errc::kMalformed, "add-checkpoint request: " + what);
}

// "size 5 (root AbC...=)": how every message names a tree head.
std::string head(std::uint64_t size, const Digest& root) {
  return "size " + std::to_string(size) + " (root " + base64_encode(root) + ")";
}

Result<std::uint64_t> parse_decimal(std::string_view s) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return malformed("bad old size");
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return malformed("bad old size");
    std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return malformed("old size overflows");
    v = v * 10 + d;
  }
  return v;
}

Result<void> make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
    return Error(Errc::kIo, "cannot create " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Error(Errc::kIo, path + " is not a directory");
  return {};
}

// File name for an origin: its safe characters (for a person listing the directory) and 8 hex
// digits of its hash (so that two origins never share a file).
std::string file_stem(const std::string& origin) {
  std::string safe;
  for (char c : origin.substr(0, 64)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-' || c == '_';
    safe += ok ? c : '_';
  }
  Digest h = sha256(as_bytes(origin));
  return safe + "-" + hex_encode(ByteView(h.data(), 4));
}

}  // namespace

Result<Request> Request::parse(std::string_view body) {
  if (body.size() > kMaxRequestSize)
    return malformed("larger than " + std::to_string(kMaxRequestSize) + " bytes");
  auto next_line = [&](std::string_view& line) -> bool {
    std::size_t nl = body.find('\n');
    if (nl == std::string_view::npos) return false;
    line = body.substr(0, nl);
    body.remove_prefix(nl + 1);
    return true;
  };
  std::string_view line;
  if (!next_line(line) || line.substr(0, 4) != "old ") return malformed("does not start with \"old <size>\"");
  Request r;
  CS_TRY(r.old_size, parse_decimal(line.substr(4)));
  for (;;) {
    if (!next_line(line)) return malformed("no empty line before the checkpoint");
    if (line.empty()) break;
    if (r.proof.size() == kMaxProofLines)
      return malformed("more than " + std::to_string(kMaxProofLines) + " consistency proof lines");
    auto h = base64_decode(line);
    if (!h.ok() || h->size() != 32)
      return malformed("consistency proof line " + std::to_string(r.proof.size() + 1) +
                       " is not base64 of a 32-byte hash");
    r.proof.push_back(std::move(h).value());
  }
  r.checkpoint = std::string(body);
  return r;
}

std::string Request::serialize() const {
  std::string out = "old " + std::to_string(old_size) + "\n";
  for (const auto& h : proof) out += base64_encode(h) + "\n";
  return out + "\n" + checkpoint;
}

Result<Request> request_from_consistency_doc(const nlohmann::json& doc) {
  auto str = [&](const char* k) -> Result<std::string> {
    if (!doc.is_object() || !doc.contains(k) || !doc[k].is_string())
      return Error(Errc::kInvalidDocument, std::string("consistency proof: \"") + k + "\" missing");
    return doc[k].get<std::string>();
  };
  if (!doc.is_object() || !doc.contains("schema") || doc["schema"] != audit::kConsistencyProofSchema) {
    return Error(Errc::kUnknownSchema,
                 std::string("not a consistency proof (\"schema\" is not \"") +
                     audit::kConsistencyProofSchema +
                     "\"): make one with countersign box log prove --consistency OLD NEW");
  }
  CS_TRY(std::string old_text, str("old_checkpoint"));
  CS_TRY(std::string new_text, str("new_checkpoint"));
  CS_TRY(note::Note old_note, note::Note::parse(old_text));
  auto old_cp = Checkpoint::parse(old_note.text());
  if (!old_cp.ok()) return old_cp.error().with_context("old checkpoint");
  if (!doc.contains("proof") || !doc["proof"].is_array())
    return Error(Errc::kInvalidDocument, "consistency proof: \"proof\" missing");
  Request r;
  r.old_size = old_cp->size;
  r.old_root = old_cp->root;
  r.checkpoint = new_text;
  for (const auto& h : doc["proof"]) {
    auto b = h.is_string() ? base64_decode(h.get<std::string>()) : Result<Bytes>(Error(Errc::kMalformed, ""));
    if (!b.ok() || b->size() != 32)
      return Error(Errc::kInvalidDocument, "consistency proof: \"proof\" holds something that is not a hash");
    r.proof.push_back(std::move(b).value());
  }
  if (r.proof.size() > kMaxProofLines)
    return Error(Errc::kInvalidDocument, "consistency proof: more than 63 hashes");
  return r;
}

int http_status(Status s) {
  switch (s) {
    case Status::kCosigned:
      return 200;
    case Status::kUnknownLog:
      return 404;
    case Status::kBadSignature:
      return 403;
    case Status::kBadRequest:
      return 400;
    case Status::kConflict:
      return 409;
    case Status::kBadProof:
      return 422;
  }
  return 500;
}

Result<Witness> Witness::open(const std::string& state_dir, std::vector<note::Verifier> log_keys,
                              note::Signer cosigner) {
  std::vector<LogKey> keys;
  for (auto& k : log_keys) keys.push_back({k.name(), std::move(k)});
  return open(state_dir, std::move(keys), std::move(cosigner));
}

Result<Witness> Witness::open(const std::string& state_dir, std::vector<LogKey> log_keys,
                              note::Signer cosigner) {
  if (cosigner.verifier().type() != note::kTypeCosignatureV1) {
    return Error(Errc::kInvalidArgument, cosigner.verifier().label() +
                                             " is not a cosigner key (make one with log keygen --cosigner)");
  }
  if (log_keys.empty()) return Error(Errc::kInvalidArgument, "no log key to witness");
  for (const auto& k : log_keys) {
    if (k.key.type() != note::kTypeEd25519)
      return Error(Errc::kInvalidArgument, k.key.label() + " is not a log key (type 0x01)");
    if (k.origin.empty()) return Error(Errc::kInvalidArgument, "empty log origin for " + k.key.label());
  }
  CS_TRY_VOID(make_dir(state_dir));
  CS_TRY_VOID(make_dir(state_dir + "/logs"));
  CS_TRY_VOID(make_dir(state_dir + "/evidence"));
  return Witness(state_dir, std::move(log_keys), std::move(cosigner));
}

std::string Witness::state_path(const std::string& origin) const {
  return dir_ + "/logs/" + file_stem(origin) + ".checkpoint";
}

Result<std::optional<std::string>> Witness::latest(const std::string& origin) const {
  const std::string path = state_path(origin);
  if (!fs::exists(path)) return std::optional<std::string>();
  CS_TRY(std::string text, read_file(path, note::kMaxNoteSize));
  return std::optional<std::string>(std::move(text));
}

Result<Outcome> Witness::add_checkpoint(const Request& req, std::uint64_t now) const {
  Outcome out;
  auto refuse = [&](Status s, std::string message) {
    out.status = s;
    out.message = std::move(message);
    return out;
  };
  auto n = note::Note::parse(req.checkpoint);
  if (!n.ok()) return refuse(Status::kBadRequest, n.error().message);
  auto cp = Checkpoint::parse(n->text());
  if (!cp.ok()) return refuse(Status::kBadRequest, cp.error().message);
  out.checkpoint = *cp;
  const std::string origin = escape_untrusted(cp->origin, 200);

  // tlog-witness: unknown origin 404; no signature by a trusted key 403 (others ignored).
  std::vector<const note::Verifier*> keys;
  for (const auto& k : log_keys_)
    if (k.origin == cp->origin) keys.push_back(&k.key);
  if (keys.empty())
    return refuse(Status::kUnknownLog, "this witness has no log key for origin \"" + origin + "\"");
  std::string why;
  for (const note::Verifier* k : keys) {
    auto v = note::verify(*n, *k);
    if (v.ok()) {
      out.log_label = k->label();
      break;
    }
    why = v.error().message;
  }
  if (out.log_label.empty())
    return refuse(Status::kBadSignature, "checkpoint of " + head(cp->size, cp->root) + ": " + why);
  if (req.old_size > cp->size) {
    return refuse(Status::kBadRequest, "old size " + std::to_string(req.old_size) +
                                           " is larger than the checkpoint's size " +
                                           std::to_string(cp->size));
  }

  // Check and update under the lock: two requests never both pass against the same state.
  const std::string lock_path = dir_ + "/lock";
  UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (lock.get() < 0) return Error(Errc::kIo, "cannot open " + lock_path + ": " + std::strerror(errno));
  if (::flock(lock.get(), LOCK_EX) != 0)
    return Error(Errc::kIo, "cannot lock " + lock_path + ": " + std::strerror(errno));

  CS_TRY(std::optional<std::string> stored, latest(cp->origin));
  if (stored) {
    // Our own record, re-verified: a state file that no key vouches for stops the witness.
    auto sn = note::Note::parse(*stored);
    auto sc = sn.ok() ? Checkpoint::parse(sn->text()) : Result<Checkpoint>(sn.error());
    bool verified = false;
    for (const note::Verifier* k : keys) verified = verified || (sn.ok() && note::verify(*sn, *k).ok());
    if (!sc.ok() || !verified || sc->origin != cp->origin) {
      return Error(Errc::kHashMismatch,
                   state_path(cp->origin) + " does not hold a checkpoint signed by the log key for \"" +
                       origin + "\": refusing to cosign (was the state or the log key changed?)");
    }
    out.known = *sc;
    out.known_size = sc->size;
  }

  // Keeps a validly signed checkpoint that contradicts what this witness saw.
  auto keep_evidence = [&] {
    std::string path = dir_ + "/evidence/" + file_stem(cp->origin) + "-" + std::to_string(cp->size) + "-" +
                       hex_encode(ByteView(cp->root.data(), 8)) + ".checkpoint";
    if (!fs::exists(path)) (void)write_file_atomic(path, req.checkpoint, 0600);
  };

  const std::string submitted = head(cp->size, cp->root);
  if (req.old_size != out.known_size) {
    if (!out.known) {
      return refuse(Status::kConflict, "this witness has cosigned no checkpoint of \"" + origin +
                                           "\" yet, but the request starts from size " +
                                           std::to_string(req.old_size) + ": submit it with old size 0");
    }
    const std::string known = head(out.known->size, out.known->root);
    if (cp->size < out.known->size) {
      keep_evidence();
      return refuse(Status::kConflict, "ROLLBACK: the log's checkpoint of " + submitted +
                                           " is smaller than the checkpoint of " + known +
                                           " this witness cosigned for \"" + origin +
                                           "\"; a log never shrinks. Not cosigned.");
    }
    if (cp->size == out.known->size && cp->root != out.known->root) {
      keep_evidence();
      return refuse(Status::kConflict, "FORK: the log's checkpoint of " + submitted +
                                           " has the size of the checkpoint of " + known +
                                           " this witness cosigned for \"" + origin +
                                           "\" but another root: two histories. Not cosigned.");
    }
    return refuse(Status::kConflict,
                  "the consistency proof starts at size " + std::to_string(req.old_size) +
                      ", but the last checkpoint of \"" + origin + "\" this witness cosigned is " + known +
                      ": ask for a proof from size " + std::to_string(out.known->size) + " to " +
                      std::to_string(cp->size) + " (countersign box log prove --consistency " +
                      std::to_string(out.known->size) + " " + std::to_string(cp->size) + ")");
  }

  if (!out.known) {
    if (!req.proof.empty())
      return refuse(Status::kBadRequest, "a consistency proof from old size 0 must be empty");
    out.first_seen = true;
    out.message = "first checkpoint of \"" + origin + "\" seen by this witness: " + submitted +
                  " accepted on trust (no earlier checkpoint to check it against)";
  } else {
    const Checkpoint& k = *out.known;
    const std::string known = head(k.size, k.root);
    if (req.old_root && *req.old_root != k.root) {
      keep_evidence();
      return refuse(Status::kBadProof,
                    "FORK: the proof starts from a checkpoint of " + head(req.old_size, *req.old_root) +
                        ", but this witness cosigned " + known + " for \"" + origin +
                        "\": two histories. The new checkpoint, " + submitted + ", is not cosigned.");
    }
    if (cp->size == k.size) {
      if (cp->root != k.root) {
        keep_evidence();
        return refuse(Status::kConflict, "FORK: the log's checkpoint of " + submitted +
                                             " has the size of the checkpoint of " + known +
                                             " this witness cosigned for \"" + origin +
                                             "\" but another root: two histories. Not cosigned.");
      }
      if (!req.proof.empty()) return refuse(Status::kBadRequest, "a proof between equal sizes must be empty");
      out.message = "checkpoint of " + submitted + " is the one this witness cosigned last";
    } else {
      auto v = merkle::verify_consistency(k.size, cp->size, req.proof, ByteView(k.root), ByteView(cp->root));
      if (!v.ok()) {
        keep_evidence();
        return refuse(Status::kBadProof,
                      "FORK: the log's checkpoint of " + submitted +
                          " is not consistent with the checkpoint of " + known +
                          " this witness cosigned for \"" + origin + "\" (" + v.error().message +
                          "): the log rewrote its history or the proof is wrong. Not cosigned.");
      }
      out.message = "checkpoint of " + submitted + " extends the checkpoint of " + known +
                    " this witness cosigned: consistency proof verified";
    }
  }

  // Persist, then answer (tlog-witness: "MUST persist the new checkpoint before responding").
  CS_TRY(note::Signature sig, cosigner_.cosign(n->text(), now));
  CS_TRY_VOID(write_file_atomic(state_path(cp->origin), req.checkpoint, 0600));
  out.status = Status::kCosigned;
  out.cosignatures.push_back(std::move(sig));
  return out;
}

}  // namespace countersign::witness
