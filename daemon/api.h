// countersignd's HTTP API (JSON over HTTP/1.1; docs/api.md documents every endpoint for users:
// requests, answers, errors and the exit codes `countersign` maps them to):
//
//   GET  /v1/status                        box, policy in force, queue, running job
//   POST /v1/bundles                       a whole bundle → 202 job queued | 400/403/409/422 rejected
//   POST /v1/proposals                     {"proposal", "manifest"} → 201 pending, who is missing
//   GET  /v1/proposals/<id>                pending state
//   POST /v1/proposals/<id>/signatures     one signature file; the box acts when the rule is met
//   POST /v1/proposals/<id>/vetoes         one veto file; at the rule's count the proposal is dead
//   POST /v1/challenges                    a fresh liveness challenge
//   POST /v1/proofs                        a liveness proof for a challenge → approver-proved
//   GET  /v1/approvers                     each approver's latest proof, and the warnings
//   GET  /v1/jobs, /v1/jobs/<id>           job state, progress (bytes per file, current source)
//   GET  /v1/models                        installed models with manifest and proposal
//   GET  /v1/policy                        the policy in force
//   GET  /v1/snapshots                     snapshots as snapshot documents (for restore-snapshot)
//   GET  /v1/log/checkpoint                newest signed checkpoint (text)
//   GET  /v1/log/entries?start=N[&end=M][&limit=L]   one page of entries as JSON lines (the
//                                          `log export` format); the next page starts at N + lines
//   GET  /v1/log/inclusion?index=N[&size=S]     inclusion proof document
//   GET  /v1/log/consistency?old=A&new=B        consistency proof document
//
// Errors: {"error": "<code>", "reason": "<what is wrong>"} with a 4xx/5xx status; a refused
// bundle is {"error": "rejected", "reasons": [...], "report": {...}}.
//
// The API is the only layer that knows HTTP: each endpoint calls the engine (engine.h) and
// maps its domain result (AdmissionResult, JobView, Result<...>) to a Reply. Every method is
// thread-safe and can be called without a socket (tests).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "daemon/api_reply.h"
#include "daemon/engine.h"
#include "daemon/http_server.h"

namespace countersign::daemon {

// Entries in one page of /v1/log/entries at most, and without a `limit` (LogReader::kMaxPage).
inline constexpr std::uint64_t kLogPageEntries = 1000;

class Api {
 public:
  // `engine` must outlive the Api.
  explicit Api(Engine& engine) : engine_(engine) {}

  // Dispatches one request to the endpoint below (404 for no endpoint, 405 for a wrong
  // method, 400 for a query parameter that is missing or not a whole number).
  Reply route(const HttpRequest& request);

  // `peer`: who sent it (HttpRequest::peer), logged with it.
  Reply submit_bundle(std::string_view body, const Peer& peer = {});   // POST /v1/bundles
  Reply create_pending(std::string_view body, const Peer& peer = {});  // POST /v1/proposals
  Reply add_signature(std::string_view proposal_hex, std::string_view body,
                      const Peer& peer = {});  // POST .../signatures
  Reply add_veto(std::string_view proposal_hex, std::string_view body,
                 const Peer& peer = {});         // POST .../vetoes
  Reply challenge();                             // POST /v1/challenges
  Reply prove(std::string_view body);            // POST /v1/proofs
  Reply approvers();                             // GET /v1/approvers
  Reply pending(std::string_view proposal_hex);  // GET /v1/proposals/<hex>

  Reply status();
  Reply job(std::string_view proposal_hex);
  Reply jobs();
  Reply models();
  Reply policy();
  Reply snapshots();
  Reply attestation(const HttpRequest& r);  // GET /v1/attestation[?nonce=HEX]
  // GET /v1/packages: the box's installed Debian packages (countersign/box-packages/v1).
  Reply packages();

  // The newest checkpoint with the witnesses' cosignatures the box keeps for it.
  Reply log_checkpoint();
  // POST /v1/log/cosignatures: a checkpoint with cosignatures (countersign box log cosign).
  Reply add_cosignatures(std::string_view body);
  // One page (LogReader::entries): at most `limit` entries, capped at LogReader::kMaxPage.
  Reply log_entries(std::uint64_t start, std::optional<std::uint64_t> end,
                    std::uint64_t limit = kLogPageEntries);
  Reply log_inclusion(std::uint64_t index, std::uint64_t tree_size);
  Reply log_consistency(std::uint64_t old_size, std::uint64_t new_size);

 private:
  Engine& engine_;
};

}  // namespace countersign::daemon
