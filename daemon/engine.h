// The box-side engine of countersignd (DESIGN.md "Box-side daemon"), the unprivileged,
// network-facing side, as one object that wires the parts together:
//
//   Admission     bundles, pending proposals, signatures one at a time; the daemon's advisory
//                 check, then the helper's `accept` (admission.h)
//   JobQueue      the persisted queue and its one worker (job_queue.h)
//   runners       one per action (runners.h), run by the worker
//   AuditReporter every report of the daemon, with its failure policy (audit_reporter.h)
//   LogReader     the audit log, read-only (log_reader.h)
//
// over the System component (SystemClient, system_client.h) and the fetcher (fetcher.h).
// Calls return domain results; the HTTP API (api.h) maps them to statuses and bodies. Every
// call is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/box_packages.h"
#include "core/liveness.h"
#include "core/policy.h"
#include "core/result.h"
#include "core/snapshot_doc.h"
#include "core/timeutil.h"
#include "daemon/config.h"
#include "daemon/job.h"
#include "daemon/log_shipper.h"
#include "daemon/witnesses.h"

namespace countersign::daemon {

class Admission;
class JobQueue;
class LogReader;

// GET /v1/status
struct EngineStatus {
  std::string box;
  std::string domain;  // of the policy in force
  std::uint64_t policy_version = 0;
  Digest policy_hash{};
  std::size_t queued = 0;          // jobs waiting
  std::optional<JobView> running;  // the job the worker runs
  std::string snapshot_backend;    // SnapshotSpec::to_string()
  std::size_t executed = 0;        // proposal ids in the helper's executed set
  std::uint64_t log_report_failures = 0;
  std::optional<std::uint64_t> log_size;     // nullopt when the log cannot be read
  std::vector<ShipStatus> log_destinations;  // syslog, journal: how far each got
  std::vector<WitnessStatus> witnesses;      // what each witness cosigned last
};

// One directory models/<hex> (GET /v1/models).
struct InstalledModel {
  std::string hex;  // the manifest hash
  std::string path;
  std::optional<nlohmann::json> record;  // the helper's installed/<hex>.json, when readable
};

// GET /v1/snapshots: the helper's snapshots as documents a restore-snapshot proposal approves.
struct SnapshotListing {
  std::string backend;  // SnapshotSpec::to_string(); "none": no snapshots
  std::vector<SnapshotDoc> snapshots;
};

class Engine {
 public:
  // Replays the policy chain the System component keeps (refuses a broken one), reads the
  // attestation roots and the fetch credentials, and opens the daemon's state dir. Changes
  // nothing: call start().
  static Result<std::unique_ptr<Engine>> open(const Config& config, Clock clock = system_now);
  ~Engine();  // stop()
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Reports daemon-started, queues what a previous run left (JobQueue::recover), has the
  // helper remove other staging, signs a checkpoint, then starts the worker.
  Result<void> start();
  // Stops the worker (an install in progress is cancelled and resumes at the next start),
  // reports daemon-stopped and signs a final checkpoint. Idempotent.
  void stop();

  Admission& admission();
  const JobQueue& jobs() const;
  LogReader& log();
  // The witnesses of the log (daemon/witnesses.h): their cosignatures, kept by the daemon.
  Witnesses& witnesses();

  EngineStatus status() const;
  // Every models/<hex> directory, by hash.
  std::vector<InstalledModel> models() const;
  Policy policy() const;
  // Error: the helper could not list them (its code and message). The helper's answer is
  // kept until a job finishes or a minute passes, so that requests do not each start it.
  Result<SnapshotListing> snapshots();
  // GET /v1/packages: the Debian packages installed in system_root, as dpkg-query reads its
  // database (no helper: the database is readable by anyone). Error kIo when dpkg-query
  // fails, kInvalidDocument when its output does not read.
  Result<BoxPackages> packages() const;

  // POST /v1/challenges: a fresh liveness challenge for the policy's domain and this box,
  // kept for challenge_lifetime (daemon/challenges.h).
  Result<Challenge> issue_challenge();
  // POST /v1/proofs: a liveness proof (a signature file) for a challenge this daemon issued,
  // handed to the helper, which checks it and logs approver-proved. Errors: kMalformed (not
  // a signature file), kInvalidArgument (another statement: the message names the endpoint
  // to use), kNotFound (no such challenge kept), the helper's kRejected and others.
  Result<nlohmann::json> prove(std::string_view body);
  // GET /v1/attestation[?nonce=HEX]: the box's attestation document, which the helper asks
  // its Nitro Secure Module for (binding box_id, the log key and the TLS key; `nonce`, 1 to
  // 1024 bytes, when given). Returns the helper's answer; kUnsupported when the box has no
  // NSM, kInvalidArgument for a bad nonce.
  Result<nlohmann::json> attestation(const std::optional<Bytes>& nonce);
  // GET /v1/approvers: each approver's latest proof, from the audit log, and the warnings
  // (core/liveness.h liveness_report), as of now.
  Result<LivenessReport> approvers();
  UnixTime now() const;

  // Blocks until the queue is empty and no job runs, or the timeout passes (tests, demo).
  bool wait_idle(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace countersign::daemon
