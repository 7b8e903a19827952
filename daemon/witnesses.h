// The box's side of its witnesses (DESIGN.md "Audit log", witnesses; docs/audit-log.md
// "Witnesses"): auditors cosign the box's checkpoints (c2sp.org/tlog-cosignature) only after
// checking a consistency proof from the last checkpoint they cosigned, so the box cannot show
// one history to one auditor and another to the next.
//
//   witness = VKEY [URL]    (countersignd.conf, repeatable) a witness's cosigner key (type
//                           0x04 vkey, `countersign log keygen --cosigner`) and, for one the
//                           box can reach, its c2sp.org/tlog-witness add-checkpoint URL
//
// For each witness with a URL, a thread offers every new checkpoint of the log to it
// (add-checkpoint: the size it last cosigned, a consistency proof from there, the signed
// checkpoint); a 409 answer tells the size the witness knows, from which the proof is made
// again. A witness reached only by sneakernet cosigns offline (`countersign log witness`),
// and its cosignature is handed in with `countersign box log cosign` (POST
// /v1/log/cosignatures). Either way the box keeps the cosignatures it verified, by
// checkpoint size, in state_dir/daemon/witness/, and serves its checkpoint with them (GET
// /v1/log/checkpoint), so that `countersign log verify --witness ... --quorum K` can require
// K of them. The daemon only reads the log; it keeps what witnesses said beside it.
//
//   daemon/witness/<key id>.json         {"size": N}: the size this witness last cosigned
//   daemon/witness/cosigned/<size>.txt   the verified cosignature lines on checkpoint <size>
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "daemon/config.h"

namespace countersign::daemon {

// What GET /v1/status says of a witness.
struct WitnessStatus {
  std::string witness;               // the key's label, NAME+ID
  std::optional<std::string> url;    // none: cosigns offline
  std::uint64_t cosigned = 0;        // the size of the newest checkpoint it cosigned
  std::optional<std::string> error;  // the last attempt's failure, while it lasts
};

class Witnesses {
 public:
  // Parses each `witness` line (kInvalidArgument naming it: not a cosigner key, not an
  // http(s) URL) and loads what daemon/witness/ holds.
  static Result<std::unique_ptr<Witnesses>> open(const Config& config);
  ~Witnesses();  // stop()
  Witnesses(const Witnesses&) = delete;
  Witnesses& operator=(const Witnesses&) = delete;

  // One thread per witness with a URL; each looks for a new checkpoint every second.
  void start();
  void stop();

  // `checkpoint_note` (one of the log's signed checkpoints) with the cosignatures kept for
  // it added; as it is when there are none.
  std::string with_cosignatures(const std::string& checkpoint_note) const;
  // POST /v1/log/cosignatures: `note` is one of the box's checkpoints with cosignature lines
  // (what `countersign log witness -o` writes). Each line by a configured witness that
  // verifies is kept. Returns {"size", "cosigned_by": [...], "ignored": [{"key", "reason"}]}.
  // Errors: kMalformed (not a signed note), kNotFound (the log has no checkpoint of that
  // size), kRejected (another checkpoint of that size: not this box's history; or no line
  // by a configured witness verifies).
  Result<nlohmann::json> add_cosignatures(std::string_view note);
  std::vector<WitnessStatus> status() const;

 private:
  struct Impl;
  explicit Witnesses(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace countersign::daemon
