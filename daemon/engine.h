// The box-side engine of countersignd (DESIGN.md "Box-side daemon"), the unprivileged,
// network-facing side: accepts bundles and signatures, checks them against its copy of the
// policy in force for a quick answer, hands each approved bundle to the System component
// (countersign-system `accept`, which verifies it again itself and decides), runs one job at
// a time from a queue, and reports what it sees to the audit log through the helper. The
// HTTP API (api.h) is a thin layer over these calls; every call is thread-safe and returns a
// Reply (HTTP status + JSON body) so it can be tested without a socket.
//
// Install pipeline (install-model): free-space check, the helper's snapshot, fetch every
// file into models/.staging/<hash> (fetch.h), then the helper seals the tree, re-hashes every
// file against the manifest it accepted and moves it to models/<hash> read-only in one rename.
// Failure at any step removes the staging and gives the proposal up (the helper logs why); a
// stop or crash during the fetch leaves the job "running" and the next start resumes it
// (HTTP Range), so models/ only ever holds complete verified models.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/timeutil.h"
#include "daemon/config.h"

namespace countersign::daemon {

struct Reply {
  int status = 200;
  nlohmann::json body;           // sent as JSON unless `text` is set
  std::optional<std::string> text;  // text/plain body (signed checkpoints, JSON lines)
};

// {"error": code, "reason": message}
Reply error_reply(int status, std::string_view code, const std::string& reason);

class Engine {
 public:
  // Replays the policy chain the System component keeps (refuses a broken one) and opens the
  // daemon's state dir. Changes nothing: call start().
  static Result<std::unique_ptr<Engine>> open(const Config& config, Clock clock = system_now);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Logs daemon-started, queues what a previous run left (its jobs, and proposals the helper
  // accepted that have no job yet), cleans other staging, then starts the worker.
  Result<void> start();
  // Stops the worker (an install in progress is cancelled and resumes at the next start),
  // logs daemon-stopped and signs a final checkpoint. Idempotent.
  void stop();

  // POST /v1/bundles
  Reply submit_bundle(std::string_view body);
  // POST /v1/proposals: {"proposal": {...}, "manifest": {...}}
  Reply create_pending(std::string_view body);
  // POST /v1/proposals/<hex>/signatures: one signature file
  Reply add_signature(std::string_view proposal_hex, std::string_view body);
  // GET /v1/proposals/<hex>
  Reply pending(std::string_view proposal_hex);

  Reply status();
  Reply job(std::string_view proposal_hex);
  Reply jobs();
  Reply models();
  Reply policy();
  Reply snapshots();

  Reply log_checkpoint();
  Reply log_entries(std::uint64_t start, std::optional<std::uint64_t> end);
  Reply log_inclusion(std::uint64_t index, std::uint64_t tree_size);
  Reply log_consistency(std::uint64_t old_size, std::uint64_t new_size);

  // Blocks until the queue is empty and no job runs, or the timeout passes (tests, demo).
  bool wait_idle(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace countersign::daemon
