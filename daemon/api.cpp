#include "daemon/api.h"

#include <charconv>

#include "core/bytes.h"
#include "daemon/admission.h"
#include "daemon/job_queue.h"
#include "daemon/log_reader.h"

namespace countersign::daemon {
namespace {

using nlohmann::json;

// --- requests ------------------------------------------------------------------------

std::optional<std::uint64_t> query_uint(const HttpRequest& r, const char* key) {
  auto it = r.query.find(key);
  if (it == r.query.end()) return std::nullopt;
  std::uint64_t n = 0;
  const auto& v = it->second;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return n;
}

Reply bad_query(const char* key) {
  return error_reply(kHttpBadRequest, "malformed",
                     std::string("query parameter \"") + key + "\" missing or not a whole number");
}

Reply wrong_method(const HttpRequest& r, const char* allowed) {
  return error_reply(405, "method-not-allowed", r.method + " " + r.path + ": use " + allowed);
}

std::optional<Digest> parse_hex_id(std::string_view hex) {
  Digest d{};
  if (!decode_lower_hex(hex, d)) return std::nullopt;
  return d;
}

// --- admission results -----------------------------------------------------------------

std::string proposal_hex(const AdmissionResult& r) {
  return r.proposal ? hex_encode(*r.proposal) : std::string();
}

// A result that carries an Error: its status by its code.
Reply error_result(const AdmissionResult& r) {
  if (!r.error) return error_reply(kHttpInternalError, "internal", "the request failed without a reason");
  return reply_for(*r.error);
}

// A refused bundle: every reason, and the daemon's report when a verification ran.
Reply rejected_bundle(const AdmissionResult& r, int status) {
  json body = {{"error", "rejected"}, {"reasons", r.reasons}};
  if (!r.report.is_null()) body["report"] = r.report;
  return Reply{status, body, std::nullopt};
}

Reply pending_body(const AdmissionResult& r, int status) {
  return Reply{status, json{{"proposal", proposal_hex(r)}, {"state", "pending"}, {"report", r.report}},
               std::nullopt};
}

// POST /v1/bundles, and a signature that completes an approval.
Reply bundle_reply(const AdmissionResult& r) {
  switch (r.outcome) {
    case AdmissionOutcome::kAccepted:
      return Reply{kHttpAccepted,
                   json{{"job", proposal_hex(r)},
                        {"state", "queued"},
                        {"action", r.action ? std::string(action_name(*r.action)) : std::string()},
                        {"report", r.report}},
                   std::nullopt};
    case AdmissionOutcome::kRejected:
      return rejected_bundle(r, kHttpForbidden);
    case AdmissionOutcome::kReplayed:
      return rejected_bundle(r, kHttpConflict);
    case AdmissionOutcome::kUnsupported:
      return rejected_bundle(r, kHttpUnprocessable);
    case AdmissionOutcome::kMalformed:
      return rejected_bundle(r, kHttpBadRequest);
    case AdmissionOutcome::kHelperFailed:
      return error_reply(kHttpInternalError, "helper", r.error ? r.error->message : std::string());
    default:
      return error_result(r);
  }
}

// POST /v1/proposals and GET /v1/proposals/<hex>: refusals are {"error": "rejected",
// "reason": the first reason}, 403 for every check that fails (a replay too), 422 for what
// this box cannot do.
Reply proposal_reply(const AdmissionResult& r) {
  switch (r.outcome) {
    case AdmissionOutcome::kPendingCreated:
      return pending_body(r, kHttpCreated);
    case AdmissionOutcome::kPending:
      return pending_body(r, kHttpOk);
    case AdmissionOutcome::kAccepted:
      return Reply{kHttpOk,
                   json{{"proposal", proposal_hex(r)}, {"state", "accepted"}, {"job", proposal_hex(r)}},
                   std::nullopt};
    case AdmissionOutcome::kUnsupported:
      return error_reply(kHttpUnprocessable, "rejected",
                         r.reasons.empty() ? std::string() : r.reasons.front());
    case AdmissionOutcome::kRejected:
    case AdmissionOutcome::kReplayed:
      return error_reply(kHttpForbidden, "rejected", r.reasons.empty() ? std::string() : r.reasons.front());
    case AdmissionOutcome::kBusy:
      return error_reply(kHttpServiceUnavailable, "busy", r.error ? r.error->message : std::string());
    default:
      return error_result(r);
  }
}

// POST /v1/proposals/<hex>/signatures
Reply signature_reply(const AdmissionResult& r) {
  switch (r.outcome) {
    case AdmissionOutcome::kPending:
      return pending_body(r, kHttpOk);
    case AdmissionOutcome::kSignatureRejected:
      return Reply{kHttpUnprocessable,
                   json{{"error", "signature-rejected"},
                        {"reason", r.reasons.empty() ? std::string() : r.reasons.front()},
                        {"report", r.report}},
                   std::nullopt};
    case AdmissionOutcome::kMalformed:
    case AdmissionOutcome::kNotFound:
    case AdmissionOutcome::kInternalError:
      return error_result(r);
    default:
      return bundle_reply(r);  // the rule is met: submitted as a whole bundle
  }
}

// POST /v1/proposals/<hex>/vetoes
Reply veto_reply(const AdmissionResult& r) {
  const std::string reason = r.reasons.empty() ? std::string() : r.reasons.front();
  switch (r.outcome) {
    case AdmissionOutcome::kVetoCounted: {
      json body = r.report.is_object() ? r.report : json::object();
      body["proposal"] = proposal_hex(r);
      return Reply{kHttpOk, body, std::nullopt};
    }
    case AdmissionOutcome::kVetoRejected: {
      json body = {{"error", "veto-rejected"}, {"reason", reason}};
      if (!r.report.is_null()) body["report"] = r.report;
      return Reply{kHttpUnprocessable, body, std::nullopt};
    }
    case AdmissionOutcome::kTooLate:
      return error_reply(kHttpConflict, "too-late", reason);
    case AdmissionOutcome::kHelperFailed:
      return error_reply(kHttpInternalError, "helper", r.error ? r.error->message : std::string());
    default:
      return error_result(r);
  }
}

// --- jobs ------------------------------------------------------------------------------

json job_json(const JobView& v) {
  json j = {{"job", hex_encode(v.record.proposal)},
            {"action", std::string(action_name(v.record.action))},
            {"state", std::string(job_state_name(v.record.state))},
            {"phase", std::string(job_phase_name(v.phase))},
            {"received", format_rfc3339(v.record.received)}};
  if (v.record.finished) j["finished"] = format_rfc3339(*v.record.finished);
  if (v.record.error) j["error"] = *v.record.error;
  if (v.record.snapshot) j["snapshot"] = *v.record.snapshot;
  if (!v.record.result.is_null()) j["result"] = v.record.result;
  if (!v.files.empty()) {
    std::uint64_t total = 0, done = 0, verified = 0;
    json active = json::array();
    for (const auto& f : v.files) {
      total += f.total;
      done += f.done;
      verified += f.verified ? 1 : 0;
      if (!f.verified && f.done > 0 && active.size() < 64) {
        active.push_back({{"path", f.path}, {"done", f.done}, {"total", f.total}, {"source", f.source}});
      }
    }
    j["progress"] = {{"files_total", v.files.size()},
                     {"files_done", verified},
                     {"bytes_total", total},
                     {"bytes_done", done},
                     {"active", active}};
  }
  return j;
}

}  // namespace

Reply Api::submit_bundle(std::string_view body, const Peer& peer) {
  return bundle_reply(engine_.admission().submit_bundle(body, peer));
}

Reply Api::create_pending(std::string_view body, const Peer& peer) {
  return proposal_reply(engine_.admission().create_pending(body, peer));
}

Reply Api::add_signature(std::string_view proposal_hex, std::string_view body, const Peer& peer) {
  return signature_reply(engine_.admission().add_signature(proposal_hex, body, peer));
}

Reply Api::add_veto(std::string_view proposal_hex, std::string_view body, const Peer& peer) {
  return veto_reply(engine_.admission().add_veto(proposal_hex, body, peer));
}

Reply Api::challenge() {
  auto c = engine_.issue_challenge();
  if (!c.ok()) return reply_for(c.error());
  return Reply{kHttpCreated, c->to_json(), std::nullopt};
}

Reply Api::prove(std::string_view body) {
  auto proved = engine_.prove(body);
  if (!proved.ok()) {
    // The helper's refusal (a proof that does not hold) is a 403 like a refused bundle.
    if (proved.error().code == Errc::kRejected)
      return error_reply(kHttpForbidden, "rejected", proved.error().message);
    return reply_for(proved.error());
  }
  json out = {{"recorded", true}};
  for (const char* k : {"approver", "key", "challenge", "issued", "seq"}) {
    if (proved->is_object() && proved->contains(k)) out[k] = (*proved)[k];
  }
  if (proved->is_object() && proved->contains("recorded")) out["time"] = (*proved)["recorded"];
  return Reply{kHttpOk, out, std::nullopt};
}

Reply Api::approvers() {
  auto report = engine_.approvers();
  if (!report.ok()) return reply_for(report.error());
  return Reply{kHttpOk, report->to_json(engine_.now()), std::nullopt};
}

Reply Api::pending(std::string_view proposal_hex) {
  return proposal_reply(engine_.admission().lookup(proposal_hex));
}

Reply Api::status() {
  EngineStatus s = engine_.status();
  json j = {{"box", s.box},
            {"domain", s.domain},
            {"policy_version", s.policy_version},
            {"policy", digest_to_string(s.policy_hash)},
            {"queued", s.queued},
            {"snapshot_backend", s.snapshot_backend},
            {"executed", s.executed},
            {"log_report_failures", s.log_report_failures}};
  if (s.running) j["running"] = job_json(*s.running);
  if (s.log_size) j["log_size"] = *s.log_size;
  json destinations = json::array();
  for (const auto& d : s.log_destinations) {
    json one = {{"destination", d.destination}, {"delivered", d.delivered}};
    if (d.error) one["error"] = *d.error;
    destinations.push_back(std::move(one));
  }
  j["log_destinations"] = std::move(destinations);
  json witnesses = json::array();
  for (const auto& w : s.witnesses) {
    json one = {{"witness", w.witness}, {"cosigned", w.cosigned}};
    one["url"] = w.url ? json(*w.url) : json(nullptr);
    if (w.error) one["error"] = *w.error;
    witnesses.push_back(std::move(one));
  }
  j["witnesses"] = std::move(witnesses);
  return Reply{kHttpOk, j, std::nullopt};
}

Reply Api::job(std::string_view proposal_hex) {
  auto id = parse_hex_id(proposal_hex);
  if (!id) {
    return error_reply(kHttpBadRequest, "malformed", "a job id is the proposal id: 64 lowercase hex digits");
  }
  auto v = engine_.jobs().find(*id);
  if (!v) return error_reply(kHttpNotFound, "not-found", "no job for proposal " + std::string(proposal_hex));
  return Reply{kHttpOk, job_json(*v), std::nullopt};
}

Reply Api::jobs() {
  json out = json::array();
  for (const auto& v : engine_.jobs().list()) {
    json j = job_json(v);
    j.erase("progress");
    out.push_back(std::move(j));
  }
  return Reply{kHttpOk, json{{"jobs", out}}, std::nullopt};
}

Reply Api::models() {
  json out = json::array();
  for (const auto& model : engine_.models()) {
    json m = {{"hash", "sha256:" + model.hex}, {"path", model.path}};
    if (model.record) {
      const json& r = *model.record;
      if (r.contains("manifest")) {
        m["name"] = r["manifest"].value("name", "");
        m["version"] = r["manifest"].value("version", "");
        m["manifest"] = r["manifest"];
      }
      if (r.contains("proposal")) m["proposal"] = r["proposal"];
      if (r.contains("installed")) m["installed"] = r["installed"];
    }
    out.push_back(std::move(m));
  }
  return Reply{kHttpOk, json{{"models", out}}, std::nullopt};
}

Reply Api::policy() {
  Policy p = engine_.policy();
  return Reply{kHttpOk,
               json{{"version", p.version()}, {"hash", digest_to_string(p.hash())}, {"policy", p.to_json()}},
               std::nullopt};
}

Reply Api::snapshots() {
  auto listing = engine_.snapshots();
  if (!listing.ok()) return error_reply(kHttpInternalError, "helper", listing.error().message);
  json out = json::array();
  for (const auto& doc : listing->snapshots) {
    out.push_back({{"document", doc.to_json()}, {"hash", digest_to_string(doc.hash())}});
  }
  return Reply{kHttpOk, json{{"backend", listing->backend}, {"snapshots", out}}, std::nullopt};
}

Reply Api::packages() {
  auto list = engine_.packages();
  if (!list.ok()) return error_reply(kHttpInternalError, "dpkg", list.error().message);
  return Reply{kHttpOk, list->to_json(), std::nullopt};
}

Reply Api::attestation(const HttpRequest& r) {
  std::optional<Bytes> nonce;
  if (auto it = r.query.find("nonce"); it != r.query.end()) {
    auto raw = hex_decode(it->second);
    if (!raw.ok() || raw->empty() || raw->size() > 1024) {
      return error_reply(kHttpBadRequest, "invalid-argument", "nonce: 1 to 1024 bytes in hex");
    }
    nonce = std::move(*raw);
  }
  auto answer = engine_.attestation(nonce);
  if (!answer.ok()) {
    // No Nitro Secure Module: the box cannot attest, which is a fact about it, not a fault.
    if (answer.error().code == Errc::kUnsupported)
      return error_reply(kHttpNotFound, "no-attestation", answer.error().message);
    return reply_for(answer.error());
  }
  json out = json::object();
  for (const char* k : {"document", "binding", "device"}) {
    if (answer->is_object() && answer->contains(k)) out[k] = (*answer)[k];
  }
  if (!out.contains("document") || !out["document"].is_string())
    return error_reply(kHttpInternalError, "internal", "the System component answered no document");
  return Reply{kHttpOk, out, std::nullopt};
}

Reply Api::log_checkpoint() {
  auto cp = engine_.log().checkpoint();
  if (!cp.ok()) return reply_for(cp.error());
  return Reply{kHttpOk, nullptr, engine_.witnesses().with_cosignatures(*cp)};
}

Reply Api::add_cosignatures(std::string_view body) {
  auto added = engine_.witnesses().add_cosignatures(body);
  if (!added.ok()) {
    if (added.error().code == Errc::kRejected)
      return error_reply(kHttpUnprocessable, "rejected", added.error().message);
    return reply_for(added.error());
  }
  return Reply{kHttpOk, *added, std::nullopt};
}

static_assert(kLogPageEntries == LogReader::kMaxPage, "docs/api.md documents one page size");

Reply Api::log_entries(std::uint64_t start, std::optional<std::uint64_t> end, std::uint64_t limit) {
  auto lines = engine_.log().entries(start, end, limit);
  if (!lines.ok()) return reply_for(lines.error());
  return Reply{kHttpOk, nullptr, std::move(*lines)};
}

Reply Api::log_inclusion(std::uint64_t index, std::uint64_t tree_size) {
  auto doc = engine_.log().inclusion(index, tree_size);
  if (!doc.ok()) return reply_for(doc.error());
  return Reply{kHttpOk, std::move(*doc), std::nullopt};
}

Reply Api::log_consistency(std::uint64_t old_size, std::uint64_t new_size) {
  auto doc = engine_.log().consistency(old_size, new_size);
  if (!doc.ok()) return reply_for(doc.error());
  return Reply{kHttpOk, std::move(*doc), std::nullopt};
}

Reply Api::route(const HttpRequest& r) {
  std::string_view p = r.path;
  const bool get = r.method == "GET";
  const bool post = r.method == "POST";
  if (p == "/v1/status") return get ? status() : wrong_method(r, "GET");
  if (p == "/v1/bundles") return post ? submit_bundle(r.body, r.peer) : wrong_method(r, "POST");
  if (p == "/v1/proposals") return post ? create_pending(r.body, r.peer) : wrong_method(r, "POST");
  if (p.starts_with("/v1/proposals/")) {
    std::string_view rest = p.substr(14);
    if (rest.ends_with("/signatures")) {
      if (!post) return wrong_method(r, "POST");
      return add_signature(rest.substr(0, rest.size() - 11), r.body, r.peer);
    }
    if (rest.ends_with("/vetoes")) {
      if (!post) return wrong_method(r, "POST");
      return add_veto(rest.substr(0, rest.size() - 7), r.body, r.peer);
    }
    return get ? pending(rest) : wrong_method(r, "GET");
  }
  if (p == "/v1/challenges") return post ? challenge() : wrong_method(r, "POST");
  if (p == "/v1/proofs") return post ? prove(r.body) : wrong_method(r, "POST");
  if (p == "/v1/approvers") return get ? approvers() : wrong_method(r, "GET");
  if (p == "/v1/jobs") return get ? jobs() : wrong_method(r, "GET");
  if (p.starts_with("/v1/jobs/")) return get ? job(p.substr(9)) : wrong_method(r, "GET");
  if (p == "/v1/models") return get ? models() : wrong_method(r, "GET");
  if (p == "/v1/policy") return get ? policy() : wrong_method(r, "GET");
  if (p == "/v1/snapshots") return get ? snapshots() : wrong_method(r, "GET");
  if (p == "/v1/packages") return get ? packages() : wrong_method(r, "GET");
  if (p == "/v1/attestation") return get ? attestation(r) : wrong_method(r, "GET");
  if (p == "/v1/log/cosignatures") return post ? add_cosignatures(r.body) : wrong_method(r, "POST");
  if (p.starts_with("/v1/log/")) {
    if (!get) return wrong_method(r, "GET");
    std::string_view what = p.substr(8);
    if (what == "checkpoint") return log_checkpoint();
    if (what == "entries") {
      auto start = r.query.count("start") ? query_uint(r, "start") : std::optional<std::uint64_t>(0);
      if (!start) return bad_query("start");
      std::optional<std::uint64_t> end;
      if (r.query.count("end")) {
        end = query_uint(r, "end");
        if (!end) return bad_query("end");
      }
      auto limit =
          r.query.count("limit") ? query_uint(r, "limit") : std::optional<std::uint64_t>(kLogPageEntries);
      if (!limit) return bad_query("limit");
      return log_entries(*start, end, *limit);
    }
    if (what == "inclusion") {
      auto index = query_uint(r, "index");
      if (!index) return bad_query("index");
      auto size = r.query.count("size") ? query_uint(r, "size") : std::optional<std::uint64_t>(0);
      if (!size) return bad_query("size");
      return log_inclusion(*index, *size);
    }
    if (what == "consistency") {
      auto a = query_uint(r, "old");
      auto b = query_uint(r, "new");
      if (!a) return bad_query("old");
      if (!b) return bad_query("new");
      return log_consistency(*a, *b);
    }
  }
  return error_reply(kHttpNotFound, "not-found", "no such endpoint: " + r.method + " " + r.path);
}

}  // namespace countersign::daemon
