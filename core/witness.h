// A transparency-log witness (DESIGN.md "Audit log", witnesses; docs/audit-log.md
// "Witnesses"): it cosigns a log's checkpoint (c2sp.org/tlog-cosignature, type 0x04) only
// after checking that it extends the last checkpoint of that log it cosigned, so that the
// log cannot show one history to one auditor and another to the next.
//
// The checks are those of c2sp.org/tlog-witness "add-checkpoint", in the spec's order; the
// offline command (`countersign log witness`) and the HTTP service (`log witness serve`)
// both call Witness::add_checkpoint, and map its Status to an exit code or HTTP status.
//
// State, per log origin (= the log key's name), in STATE_DIR (created 0700):
//   STATE_DIR/lock                          flock(LOCK_EX) held for check + update, so two
//                                           witness processes on one directory never race
//                                           (the spec's "performed atomically")
//   STATE_DIR/logs/<safe origin>-<8 hex>.checkpoint
//                                           the last cosigned checkpoint, as submitted (a
//                                           signed note), written atomically (fileio.h)
//   STATE_DIR/evidence/<...>-<size>-<root hex>.checkpoint
//                                           a checkpoint with a valid log signature that was
//                                           refused as a fork or rollback: proof that the log
//                                           misbehaved, kept for the auditor
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/checkpoint.h"
#include "core/result.h"
#include "core/signed_note.h"

namespace countersign::witness {

// tlog-witness: "The client MUST NOT send more than 63 consistency proof lines."
inline constexpr std::size_t kMaxProofLines = 63;
// Largest add-checkpoint body: the old size line, 63 proof lines and a signed note.
inline constexpr std::size_t kMaxRequestSize = 64 + kMaxProofLines * 46 + note::kMaxNoteSize;

// An add-checkpoint request: "old <size>\n", proof lines, "\n", the signed checkpoint.
struct Request {
  std::uint64_t old_size = 0;
  std::vector<Bytes> proof;
  std::string checkpoint;  // the signed note, as submitted
  // Offline only (a consistency proof file carries the old checkpoint): its root, so that a
  // fork at the witness's own size is reported with both roots before the proof is tried.
  std::optional<Digest> old_root;

  // Parses a request body. kMalformed naming what is wrong (HTTP 400).
  static Result<Request> parse(std::string_view body);
  std::string serialize() const;
};

// A consistency proof file (core/audit_proof.h, kConsistencyProofSchema) as a request: old
// size and root from its old checkpoint, its proof, its new checkpoint.
Result<Request> request_from_consistency_doc(const nlohmann::json& doc);

enum class Status {
  kCosigned,      // 200: the cosignature lines follow
  kUnknownLog,    // 404: no log key for the checkpoint's origin
  kBadSignature,  // 403: no valid signature by a log key for that origin
  kBadRequest,    // 400: old size above the checkpoint's size, a proof for old size 0, ...
  kConflict,      // 409: old size is not the size this witness cosigned, or same size and
                  //      another root (a fork), or a smaller size (a rollback)
  kBadProof,      // 422: the consistency proof does not verify (a fork)
};

// The HTTP status the tlog-witness spec gives each outcome.
int http_status(Status s);

struct Outcome {
  Status status = Status::kBadRequest;
  // For a person: what was checked, or what is wrong, naming sizes and roots.
  std::string message;
  // The size of the latest checkpoint this witness cosigned for the origin (0 if none), the
  // body of a 409 answer.
  std::uint64_t known_size = 0;
  std::optional<Checkpoint> known;            // that checkpoint, when there is one
  std::optional<Checkpoint> checkpoint;       // the submitted one, when it parsed
  std::string log_label;                      // the log key that verified it, NAME+ID
  bool first_seen = false;                    // accepted on trust: the witness knew no checkpoint
  std::vector<note::Signature> cosignatures;  // kCosigned: one, by the witness key
};

// A log this witness follows: the checkpoint origin it signs and its key. For countersign
// logs the origin is the key's name (audit::open_checkpoint insists); other logs differ
// (sum.golang.org signs origin "go.sum database tree").
struct LogKey {
  std::string origin;
  note::Verifier key;
};

class Witness {
 public:
  // Creates STATE_DIR (0700) and its subdirectories when missing. `log_keys`: the logs it
  // witnesses (type 0x01 keys; several may share an origin, during a key rotation); a key
  // alone stands for the origin of its name.
  // `cosigner` must be a type 0x04 key. kInvalidArgument / kIo naming what is wrong.
  static Result<Witness> open(const std::string& state_dir, std::vector<LogKey> log_keys,
                              note::Signer cosigner);
  static Result<Witness> open(const std::string& state_dir, std::vector<note::Verifier> log_keys,
                              note::Signer cosigner);

  Witness(Witness&&) noexcept = default;
  Witness& operator=(Witness&&) noexcept = default;

  const note::Verifier& cosigner() const { return cosigner_.verifier(); }

  // The add-checkpoint checks; on success the new checkpoint is recorded (atomically, under
  // the lock) before the cosignature is returned. A refusal is an Outcome, not an Error;
  // Error only when the state cannot be read or written (kIo), or a state file no longer
  // verifies with the configured log key (kHashMismatch): then nothing is cosigned.
  Result<Outcome> add_checkpoint(const Request& req, std::uint64_t now) const;

  // The last cosigned checkpoint of `origin` (signed note text), if any.
  Result<std::optional<std::string>> latest(const std::string& origin) const;

 private:
  Witness(std::string dir, std::vector<LogKey> keys, note::Signer s)
      : dir_(std::move(dir)), log_keys_(std::move(keys)), cosigner_(std::move(s)) {}
  std::string state_path(const std::string& origin) const;
  std::string dir_;
  std::vector<LogKey> log_keys_;
  note::Signer cosigner_;
};

}  // namespace countersign::witness
