// countersign submit / box: talking to countersignd (daemon/api.h) over its Unix socket.
//
//   countersign submit BUNDLE [--wait]        hand a bundle to the box (and watch the install)
//   countersign box status | jobs | job ID | models | packages [-o F] | policy | snapshots
//   countersign box attest [--nonce HEX] -o FILE
//   countersign box propose --proposal P --manifest M     collect signatures on the box
//   countersign box add-signature ID SIG...
//   countersign box veto VETO...                          vetoes, collected like signatures
//   countersign box challenge [-o FILE] | prove PROOF... | approvers   approver liveness
//   countersign box log checkpoint | export | prove       fetch what `log verify` checks offline
//
// Exit status (docs/api.md "Exit codes"): 0 success (accepted, installed); 1 the box refused,
// or the job failed or did not finish in time; 2 usage error, malformed input, or a request the
// box found malformed; 3 the box could not be reached (no socket, refused, timeout, TLS, the
// connection closed without an answer, an answer that is not the API's).
#include <sodium.h>

#include <chrono>
#include <thread>

#include "cli/box_client.h"
#include "cli/cli.h"
#include "core/box_packages.h"
#include "core/fileio.h"
#include "core/jcs.h"
#include "core/liveness.h"
#include "core/manifest_diff.h"
#include "core/signature_file.h"
#include "core/snapshot_doc.h"
#include "core/untrusted_text.h"

namespace countersign::cli {
namespace {

using nlohmann::json;

struct Common {
  std::string socket;
  std::string url;
  std::string cacert;
  bool json = false;
};

// The API did not answer: the message names the socket or URL and what failed; with --json
// also {"error": {"code": "unreachable", "message": ...}} on stdout.
int report_unreachable(Io& io, const Error& e, bool as_json) {
  io.err << "countersign: error: " << e.message << "\n";
  if (as_json) print_json(io, json{{"error", {{"code", "unreachable"}, {"message", e.message}}}});
  return kExitUnreachable;
}

// The box answered and said no: its reason on stderr (with --json its answer on stdout).
// A request it found malformed (400, 413) is exit 2, anything else it refused exit 1.
int report_refusal(Io& io, const ApiAnswer& a, bool as_json, const std::string& context = {}) {
  io.err << "countersign: " << (context.empty() ? "" : context + ": ") << "countersignd: " << a.reason
         << "\n";
  if (as_json) print_json(io, a.json);
  return a.status == 400 || a.status == 413 ? kExitUsage : kExitFailed;
}

BoxEndpoint endpoint(Io& io, const Common& c) {
  BoxEndpoint b;
  if (!c.url.empty()) b.url = c.url;
  if (!c.cacert.empty()) b.cacert = c.cacert;
  const char* env = io.getenv ? io.getenv(kSocketEnv) : nullptr;
  b.socket = !c.socket.empty() ? c.socket : (env && *env ? env : kDefaultSocket);
  return b;
}

constexpr const char* kBoxExitCodes = R"(Exit codes (docs/api.md):
  0  done: the box answered yes (accepted; with --wait, installed)
  1  the box refused (its reasons are printed), the job failed, or --wait timed out
  2  usage error or malformed input, or a request the box found malformed
  3  could not reach the box: no socket, connection refused, permission denied, timeout,
     TLS failure, closed without an answer, or an answer that is not countersignd's API
)";

// Every command that talks to the box: --socket, --url, --json, and the exit codes in --help.
void add_common(CLI::App* cmd, Common& c, bool json_flag = true) {
  const std::string footer = cmd->get_footer();
  cmd->footer(footer.empty() ? std::string(kBoxExitCodes) : footer + "\n\n" + kBoxExitCodes);
  cmd->add_option(
      "--socket", c.socket,
      std::string("countersignd's socket (default: $") + kSocketEnv + " or " + kDefaultSocket + ")");
  cmd->add_option("--url", c.url, "Talk to the daemon's HTTPS listener instead, e.g. https://127.0.0.1:8441");
  cmd->add_option("--cacert", c.cacert,
                  "With --url: trust this PEM CA for the box's certificate (not the system's)")
      ->check(CLI::ExistingFile);
  if (json_flag) cmd->add_flag("--json", c.json, "Print the daemon's JSON answer");
}

// One request and the API's answer to it, whatever its status; nullopt (reported, `rc` set to
// kExitUnreachable) when the API did not answer.
std::optional<ApiAnswer> exchange(Io& io, const Common& c, int& rc, std::string_view method,
                                  const std::string& path, std::string_view body = {}, long timeout = 60,
                                  bool json_expected = true) {
  const BoxEndpoint box = endpoint(io, c);
  auto reply = box_request(box, method, path, body, timeout);
  auto answer = reply.ok() ? api_answer(box, *reply, json_expected) : Result<ApiAnswer>(reply.error());
  if (!answer.ok()) {
    rc = report_unreachable(io, answer.error(), c.json);
    return std::nullopt;
  }
  return std::move(*answer);
}

// The box's JSON answer to one request; nullopt, reported and `rc` set, when the API did
// not answer (3) or the box said no (report_refusal, `context` before its reason).
std::optional<json> call(Io& io, const Common& c, int& rc, std::string_view method, const std::string& path,
                         std::string_view body = {}, const std::string& context = {}) {
  auto a = exchange(io, c, rc, method, path, body);
  if (!a) return std::nullopt;
  if (!a->ok()) {
    rc = report_refusal(io, *a, c.json, context);
    return std::nullopt;
  }
  return std::move(a->json);
}

// A text endpoint (/v1/log/checkpoint, /v1/log/entries): the body of a 2xx answer.
std::optional<std::string> fetch_text(Io& io, const Common& c, int& rc, const std::string& path,
                                      long timeout = 60) {
  const BoxEndpoint box = endpoint(io, c);
  auto reply = box_request(box, "GET", path, {}, timeout);
  auto answer = reply.ok() ? api_answer(box, *reply, false) : Result<ApiAnswer>(reply.error());
  if (!answer.ok()) {
    rc = report_unreachable(io, answer.error(), c.json);
    return std::nullopt;
  }
  if (!answer->ok()) {
    rc = report_refusal(io, *answer, c.json);
    return std::nullopt;
  }
  return std::move(reply->body);
}

std::uint64_t u64(const json& j, const char* k) {
  return j.contains(k) && j[k].is_number() ? static_cast<std::uint64_t>(j[k].get<double>()) : 0;
}

void print_rejection(Io& io, const json& body) {
  io.err << "countersign: the box rejected the bundle:\n";
  if (body.contains("reasons")) {
    for (const auto& r : body["reasons"]) io.err << "  - " << r.get<std::string>() << "\n";
  }
}

// --- submit ------------------------------------------------------------------------------
struct SubmitArgs {
  Common c;
  std::string bundle;
  bool wait = false;
  std::string timeout = "6h";
};

int watch_job(Io& io, const Common& c, const std::string& job, std::int64_t timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  bool drew = false;
  while (std::chrono::steady_clock::now() < deadline) {
    int rc = kExitOk;
    auto j = call(io, c, rc, "GET", "/v1/jobs/" + job);
    if (!j) return rc;
    std::string state = (*j)["state"];
    if (io.err_is_tty && j->contains("progress")) {
      const json& p = (*j)["progress"];
      std::string extra = std::to_string(u64(p, "files_done")) + "/" + std::to_string(u64(p, "files_total")) +
                          " files  " + human_size(u64(p, "bytes_done")) + " / " +
                          human_size(u64(p, "bytes_total"));
      if (!p["active"].empty()) extra += "  from " + p["active"][0].value("source", std::string());
      draw_progress_bar(io, (*j).value("phase", std::string("installing")), u64(p, "bytes_done"),
                        u64(p, "bytes_total"), extra.substr(0, 100),
                        state == "done" || state == "failed" || state == "vetoed");
      drew = true;
    }
    if (state == "done" || state == "failed" || state == "vetoed") {
      if (drew && !(io.err_is_tty && j->contains("progress"))) io.err << "\n";
      if (c.json) print_json(io, *j);
      if (state == "failed" || state == "vetoed") {
        io.err << "countersign: the job " << (state == "vetoed" ? "was vetoed" : "failed") << ": "
               << j->value("error", std::string("(no reason given)")) << "\n";
        return kExitFailed;
      }
      if (!c.json) {
        const json& res = (*j).contains("result") ? (*j)["result"] : json::object();
        io.out << "done: " << (*j)["action"].get<std::string>();
        if (res.contains("path")) io.out << ", installed in " << res["path"].get<std::string>();
        io.out << "\n";
      }
      return kExitOk;
    }
    // 50 ms: a job that ends is reported within a twentieth of a second (a GET over the
    // box's socket costs the daemon well under a millisecond).
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // The box answered all along: the job is not done yet, a failure of the wait (1).
  report_error(
      io, Error(Errc::kTimeout, "gave up waiting for job " + job + " after " + format_duration(timeout_s)),
      c.json);
  return kExitFailed;
}

int submit(Io& io, const SubmitArgs& a) {
  auto text = read_file_or_stdin(a.bundle, io.in, 64u << 20);
  if (!text.ok()) return report_error(io, text.error(), a.c.json);
  auto timeout = parse_duration(a.timeout);
  if (!timeout.ok()) return report_error(io, timeout.error().with_context("--timeout"), a.c.json);
  int rc = kExitOk;
  auto r = exchange(io, a.c, rc, "POST", "/v1/bundles", *text);
  if (!r) return rc;
  if (r->status != 202) {
    if (a.c.json) print_json(io, r->json);
    if (r->json.contains("reasons")) {
      print_rejection(io, r->json);
    } else {
      io.err << "countersign: countersignd: " << r->reason << "\n";
    }
    return r->status == 400 || r->status == 413 ? kExitUsage : kExitFailed;
  }
  if (!r->json.contains("job") || !r->json["job"].is_string()) {
    return report_unreachable(io,
                              Error(Errc::kMalformed, "countersignd at " + endpoint(io, a.c).describe() +
                                                          " accepted without a job id"),
                              a.c.json);
  }
  const json* body = &r->json;
  std::string job = (*body)["job"];
  if (!a.wait) {
    if (a.c.json) {
      print_json(io, *body);
    } else {
      io.out << "accepted: job " << job << " (" << (*body)["action"].get<std::string>() << ") queued\n"
             << "watch it with: countersign box job " << job << "\n";
    }
    return kExitOk;
  }
  io.err << "accepted: job " << job << " (" << (*body)["action"].get<std::string>() << ")\n";
  return watch_job(io, a.c, job, *timeout);
}

// --- box ---------------------------------------------------------------------------------
int show(Io& io, const Common& c, const std::string& path, const std::function<void(const json&)>& human) {
  int rc = kExitOk;
  auto j = call(io, c, rc, "GET", path);
  if (!j) return rc;
  if (c.json) {
    print_json(io, *j);
  } else {
    human(*j);
  }
  return kExitOk;
}

void human_status(Io& io, const json& j) {
  io.out << "box:       " << j["box"].get<std::string>() << "\n"
         << "domain:    " << j["domain"].get<std::string>() << " (policy version " << u64(j, "policy_version")
         << ", " << j["policy"].get<std::string>() << ")\n"
         << "snapshots: " << j["snapshot_backend"].get<std::string>() << "\n"
         << "log:       " << u64(j, "log_size") << " entries\n"
         << "executed:  " << u64(j, "executed") << " proposals, " << u64(j, "queued") << " queued\n";
  if (j.contains("running")) {
    const json& r = j["running"];
    io.out << "running:   " << r["action"].get<std::string>() << " " << r["job"].get<std::string>() << " ("
           << r["phase"].get<std::string>() << ")\n";
  }
}

void human_job(Io& io, const json& j) {
  io.out << j["job"].get<std::string>() << "  " << j["action"].get<std::string>() << "  "
         << j["state"].get<std::string>();
  if (j.contains("phase") && j["phase"] != j["state"]) io.out << " (" << j["phase"].get<std::string>() << ")";
  io.out << "  received " << j["received"].get<std::string>() << "\n";
  if (j.contains("error")) io.out << "  error: " << j["error"].get<std::string>() << "\n";
  if (j.contains("progress")) {
    const json& p = j["progress"];
    io.out << "  " << u64(p, "files_done") << "/" << u64(p, "files_total") << " files, "
           << human_size(u64(p, "bytes_done")) << " / " << human_size(u64(p, "bytes_total")) << "\n";
    for (const auto& f : p["active"]) {
      io.out << "    " << f["path"].get<std::string>() << "  " << human_size(u64(f, "done")) << " / "
             << human_size(u64(f, "total")) << "  from " << f["source"].get<std::string>() << "\n";
    }
  }
}

struct LogArgs {
  Common c;
  std::string out, checkpoint_out;
  std::uint64_t entry = 0, size = 0;
  std::vector<std::uint64_t> consistency;
  std::vector<std::string> cosigned;  // box log prove --cosigned
  bool tlog_proof = false;
};

int log_checkpoint(Io& io, const LogArgs& a) {
  int rc = kExitOk;
  auto cp = fetch_text(io, a.c, rc, "/v1/log/checkpoint");
  if (!cp) return rc;
  auto w = write_output(io, a.out, *cp);
  if (!w.ok()) return report_error(io, w.error(), false);
  return kExitOk;
}

// Follows the pages of /v1/log/entries (docs/api.md): each page starts where the previous
// one's lines end; an empty page is the end.
int log_export(Io& io, const LogArgs& a) {
  // The checkpoint first: every entry it covers is then in the export that follows.
  int rc = kExitOk;
  auto cp = fetch_text(io, a.c, rc, "/v1/log/checkpoint");
  if (!cp) return rc;
  std::string lines;
  std::uint64_t start = 0;
  for (;;) {
    auto page = fetch_text(io, a.c, rc, "/v1/log/entries?start=" + std::to_string(start), 300);
    if (!page) return rc;
    if (page->empty()) break;
    if (page->back() != '\n') {
      return report_unreachable(
          io,
          Error(Errc::kMalformed, "countersignd at " + endpoint(io, a.c).describe() +
                                      " answered a page of entries at " + std::to_string(start) +
                                      " that does not end with a whole line"),
          false);
    }
    lines += *page;
    start += static_cast<std::uint64_t>(std::count(page->begin(), page->end(), '\n'));
  }
  auto w = write_output(io, a.out, lines);
  if (!w.ok()) return report_error(io, w.error(), false);
  if (!a.checkpoint_out.empty()) {
    auto wc = write_output_file(a.checkpoint_out, *cp);
    if (!wc.ok()) return report_error(io, wc.error(), false);
  }
  io.err << "exported " << start << " entries\n";
  return kExitOk;
}

int log_prove(Io& io, const LogArgs& a, bool entry_given) {
  std::string path =
      entry_given ? "/v1/log/inclusion?index=" + std::to_string(a.entry) + "&size=" + std::to_string(a.size)
                  : "/v1/log/consistency?old=" + std::to_string(a.consistency[0]) +
                        "&new=" + std::to_string(a.consistency[1]);
  int rc = kExitOk;
  auto j = call(io, a.c, rc, "GET", path);
  if (!j) return rc;
  auto text = proof_output(*j, a.cosigned, a.tlog_proof);
  if (!text.ok()) return report_error(io, text.error(), false);
  auto w = write_output(io, a.out, *text);
  if (!w.ok()) return report_error(io, w.error(), false);
  if (!a.out.empty() && a.out != "-") io.err << "proof written to " << a.out << "\n";
  return kExitOk;
}

// --- vetoes and liveness ---------------------------------------------------------------------

std::string shown(const json& j, const char* k) {
  return j.contains(k) && j[k].is_string() ? escape_untrusted(j[k].get<std::string>(), 200)
                                           : std::string("?");
}

// box veto VETO...: each file names its proposal; the box judges it and answers the count.
int box_veto(Io& io, const Common& c, const std::vector<std::string>& files) {
  int result = kExitOk;
  json answers = json::array();
  for (const auto& path : files) {
    auto text = read_file(path, 1u << 20);
    auto sig = text.ok() ? SignatureFile::parse_text(*text) : Result<SignatureFile>(text.error());
    if (!sig.ok()) return report_error(io, sig.error().with_context(path), c.json);
    if (sig->statement() != Statement::kVeto) {
      return report_error(
          io,
          Error(Errc::kInvalidArgument,
                path + ": this file is " +
                    (sig->statement() == Statement::kApproval
                         ? "an approval, not a veto (add it with `countersign box add-signature`)"
                         : "a liveness proof, not a veto (hand it in with `countersign box prove`)")),
          c.json);
    }
    const std::string id = hex_encode(sig->proposal());
    int rc = kExitOk;
    auto a = exchange(io, c, rc, "POST", "/v1/proposals/" + id + "/vetoes", *text);
    if (!a) return rc;
    if (!a->ok()) {
      if (c.json) answers.push_back(a->json);
      io.err << "countersign: " << path << ": not counted: " << escape_untrusted(a->reason) << "\n";
      result = std::max(result, a->status == 400 || a->status == 413 ? kExitUsage : kExitFailed);
      continue;
    }
    const json& j = a->json;
    if (c.json) {
      answers.push_back(j);
      continue;
    }
    const std::string of = j.contains("veto") && j["veto"].is_number() ? std::to_string(u64(j, "veto")) : "?";
    io.out << path << ": vetoed by " << shown(j, "approver") << " (" << u64(j, "vetoes") << " of " << of
           << " vetoes)\n";
    if (j.value("vetoed", false)) {
      std::string by;
      for (const auto& v : j.value("vetoed_by", json::array())) {
        if (v.is_string()) by += (by.empty() ? "" : ", ") + escape_untrusted(v.get<std::string>(), 100);
      }
      io.out << u64(j, "vetoes") << " of " << of << " vetoes: this proposal is dead (vetoed by " << by
             << ")\n";
    }
  }
  if (c.json) print_json(io, answers.size() == 1 ? answers[0] : answers);
  return result;
}

// box challenge [-o FILE]
int box_challenge(Io& io, const Common& c, const std::string& out) {
  int rc = kExitOk;
  auto j = call(io, c, rc, "POST", "/v1/challenges");
  if (!j) return rc;
  if (c.json && out.empty()) {
    print_json(io, *j);
    return kExitOk;
  }
  auto w = write_output(io, out.empty() ? "-" : out, to_pretty_json(*j), true);
  if (!w.ok()) return report_error(io, w.error(), c.json);
  if (!out.empty()) {
    io.err << "challenge written to " << out << " (box " << shown(*j, "box") << ", issued "
           << shown(*j, "issued") << ")\nsign it with: countersign key prove --key KEY --challenge " << out
           << "\nthen hand the proof in with: countersign box prove PROOF\n";
    if (c.json) print_json(io, *j);
  }
  return kExitOk;
}

// box prove PROOF...
int box_prove(Io& io, const Common& c, const std::vector<std::string>& files) {
  int result = kExitOk;
  json answers = json::array();
  for (const auto& path : files) {
    auto text = read_file(path, 1u << 20);
    if (!text.ok()) return report_error(io, text.error(), c.json);
    int rc = kExitOk;
    auto a = exchange(io, c, rc, "POST", "/v1/proofs", *text);
    if (!a) return rc;
    if (c.json) answers.push_back(a->json);
    if (!a->ok()) {
      io.err << "countersign: " << path << ": not recorded: " << escape_untrusted(a->reason) << "\n";
      result = std::max(result, a->status == 400 || a->status == 413 ? kExitUsage : kExitFailed);
      continue;
    }
    if (!c.json) {
      io.out << path << ": recorded: " << shown(a->json, "approver") << " proved key "
             << shown(a->json, "key") << " (challenge issued " << shown(a->json, "issued") << ")\n";
    }
  }
  if (c.json) print_json(io, answers.size() == 1 ? answers[0] : answers);
  return result;
}

// box approvers: per approver the latest proof and its age, then the warnings ("warning:
// ..."; with --json on stderr). Exit 0 with warnings too: they are advice, not a failure.
int box_approvers(Io& io, const Common& c) {
  int rc = kExitOk;
  auto j = call(io, c, rc, "GET", "/v1/approvers");
  if (!j) return rc;
  if (c.json) {
    print_json(io, *j);
  }
  UnixTime box_now = 0;
  auto report = LivenessReport::from_json(*j, &box_now);
  if (!report.ok()) return report_error(io, report.error(), c.json);
  if (!c.json) io.out << report->to_text(box_now);
  // With --json stdout is for scripts: the warnings go to stderr as well.
  if (c.json) {
    for (const auto& w : report->warnings) io.err << "warning: " << escape_untrusted(w.message) << "\n";
  }
  return kExitOk;
}

}  // namespace

void add_box_commands(Registry& r) {
  auto s = std::make_shared<SubmitArgs>();
  auto* sub = r.app.add_subcommand("submit", "Hand an approved bundle to the box's countersignd");
  sub->footer(
      "The box verifies the bundle against its own policy, clock and box id, and queues it; with --wait\n"
      "this command follows the job (a progress bar on a terminal) until it is done or failed.");
  sub->add_option("BUNDLE", s->bundle, "Bundle file, or - for standard input")->required();
  sub->add_flag("--wait", s->wait, "Follow the job until it finishes");
  sub->add_option("--timeout", s->timeout, "With --wait: give up after this long (e.g. 30m)")
      ->capture_default_str();
  add_common(sub, s->c);
  sub->callback([&io = r.io, &rc = r.rc, s] { rc = submit(io, *s); });

  auto* box = r.app.add_subcommand(
      "box", "Ask the box's countersignd: status, jobs, models, packages, policy, snapshots, log");
  box->require_subcommand(1);
  auto c = std::make_shared<Common>();
  auto simple = [&](const char* name, const char* help, std::string path,
                    std::function<void(Io&, const json&)> human) {
    auto* cmd = box->add_subcommand(name, help);
    add_common(cmd, *c);
    cmd->callback([&io = r.io, &rc = r.rc, c, path, human] {
      rc = show(io, *c, path, [&](const json& j) { human(io, j); });
    });
  };
  simple("status", "Box id, policy in force, queue and the running job", "/v1/status", human_status);
  simple("jobs", "Every job the box accepted, oldest first", "/v1/jobs", [](Io& io, const json& j) {
    if (j["jobs"].empty()) io.out << "no jobs\n";
    for (const auto& job : j["jobs"]) human_job(io, job);
  });
  simple("models", "Installed models with their manifest and the proposal that installed them", "/v1/models",
         [](Io& io, const json& j) {
           if (j["models"].empty()) io.out << "no models installed\n";
           for (const auto& m : j["models"]) {
             io.out << m["hash"].get<std::string>() << "  " << m.value("name", std::string("?")) << " "
                    << m.value("version", std::string("")) << "\n  " << m["path"].get<std::string>() << "\n";
             if (m.contains("proposal")) {
               io.out << "  installed " << m.value("installed", std::string("")) << " by proposal "
                      << m["proposal"].get<std::string>() << "\n";
             }
           }
         });
  simple("policy", "The policy in force on the box (JSON)", "/v1/policy",
         [](Io& io, const json& j) { io.out << to_pretty_json(j["policy"]); });

  auto job_id = std::make_shared<std::string>();
  auto* job = box->add_subcommand("job", "One job: state, phase, progress per file and source");
  job->add_option("ID", *job_id, "Job id (the proposal id, 64 hex)")->required();
  add_common(job, *c);
  job->callback([&io = r.io, &rc = r.rc, c, job_id] {
    std::string id = job_id->starts_with("sha256:") ? job_id->substr(7) : *job_id;
    rc = show(io, *c, "/v1/jobs/" + id, [&](const json& j) { human_job(io, j); });
  });

  auto snap_dir = std::make_shared<std::string>();
  auto* snaps = box->add_subcommand("snapshots",
                                    "The box's snapshots, as documents a restore-snapshot proposal approves");
  snaps->footer(
      "With -o DIR, writes each snapshot document to DIR/<id>.json for `countersign proposal create\n"
      "--action restore-snapshot --manifest DIR/<id>.json`. A snapshot of the models directory\n"
      "says \"models\"; one of the system root (taken before each packages install) says \"system\n"
      "root\": restoring it rolls that packages change back (docs/packages.md).");
  snaps->add_option("-o,--out-dir", *snap_dir, "Write each snapshot document into this directory");
  add_common(snaps, *c);
  snaps->callback([&io = r.io, &rc = r.rc, c, snap_dir] {
    auto j = call(io, *c, rc, "GET", "/v1/snapshots");
    if (!j) return;
    for (const auto& snap : (*j)["snapshots"]) {
      const json& d = snap["document"];
      // The box's answer is untrusted: only a valid snapshot document names a file.
      auto doc = SnapshotDoc::parse(d);
      if (!doc.ok()) {
        rc = report_error(io, doc.error().with_context("the box's snapshot list"), c->json);
        return;
      }
      if (!snap_dir->empty()) {
        auto w = write_file_atomic(*snap_dir + "/" + d["id"].get<std::string>() + ".json", to_pretty_json(d));
        if (!w.ok()) {
          rc = report_error(io, w.error(), c->json);
          return;
        }
      }
      if (!c->json)
        io.out << shown(d, "id") << "  taken " << shown(d, "taken") << "  " << shown(snap, "hash")
               << (d.value("scope", "") == "system" ? "  system root (rolls a packages change back)"
                                                    : "  models")
               << "\n";
    }
    if (c->json) print_json(io, *j);
    if (!c->json && (*j)["snapshots"].empty())
      io.out << "no snapshots (backend " << (*j)["backend"].get<std::string>() << ")\n";
    rc = kExitOk;
  });

  auto pkg_out = std::make_shared<std::string>();
  auto* pkgs =
      box->add_subcommand("packages", "The box's installed Debian packages, as a planner reads them");
  pkgs->footer(
      "What dpkg's database on the box says (countersign/box-packages/v1, docs/packages.md). With -o FILE\n"
      "the document is written there for `countersign packages plan --box-status FILE`, on this machine\n"
      "or carried to an air-gapped one.");
  pkgs->add_option("-o,--output", *pkg_out, "Write the document to this file");
  add_common(pkgs, *c);
  pkgs->callback([&io = r.io, &rc = r.rc, c, pkg_out] {
    auto j = call(io, *c, rc, "GET", "/v1/packages");
    if (!j) return;
    auto doc = BoxPackages::parse(*j);
    if (!doc.ok()) {
      rc = report_error(io, doc.error().with_context("the box's answer to GET /v1/packages"), c->json);
      return;
    }
    if (!pkg_out->empty()) {
      auto w = write_file_atomic(*pkg_out, to_pretty_json(doc->to_json()));
      if (!w.ok()) {
        rc = report_error(io, w.error(), c->json);
        return;
      }
    }
    if (c->json) {
      print_json(io, doc->to_json());
    } else if (pkg_out->empty()) {
      for (const auto& p : doc->packages()) {
        io.out << escape_untrusted(p.name) << ":" << escape_untrusted(p.architecture) << " "
               << escape_untrusted(p.version) << "  " << escape_untrusted(p.status) << "\n";
      }
      if (doc->packages().empty()) io.out << "no packages in the box's dpkg database\n";
    } else {
      io.out << "wrote " << *pkg_out << ": " << doc->packages().size() << " packages of box "
             << escape_untrusted(doc->fields().box) << "\n";
    }
    rc = kExitOk;
  });

  struct AttestArgs {
    std::string nonce, output;
  };
  auto aa = std::make_shared<AttestArgs>();
  auto* att = box->add_subcommand("attest", "The box's AWS Nitro attestation document, for `attest verify`");
  att->footer(
      "The box's System component asks its Nitro Secure Module for a document that binds the box id,\n"
      "its log key and its API TLS key, with your nonce (a fresh random one when --nonce is not given),\n"
      "and this writes it to -o FILE. Nothing here is to be believed yet: check it offline with\n"
      "  countersign attest verify FILE --policy policy.json --box-id ID --log-key box-log.pub --nonce HEX\n"
      "(docs/attestation.md). A box without a Nitro Secure Module says so: exit 1, nothing written.");
  att->add_option("--nonce", aa->nonce, "Nonce to put in the document, hex (1 to 1024 bytes)");
  att->add_option("-o,--output", aa->output, "Write the document (CBOR) to this file")->required();
  add_common(att, *c);
  att->callback([&io = r.io, &rc = r.rc, c, aa] {
    Bytes nonce;
    if (aa->nonce.empty()) {
      nonce.resize(32);
      randombytes_buf(nonce.data(), nonce.size());
    } else {
      auto raw = hex_decode(aa->nonce);
      if (!raw.ok() || raw->empty() || raw->size() > 1024) {
        rc = report_error(io, make_error(Errc::kInvalidArgument, "--nonce: 1 to 1024 bytes in hex"), c->json);
        return;
      }
      nonce = std::move(*raw);
    }
    auto j = call(io, *c, rc, "GET", "/v1/attestation?nonce=" + hex_encode(nonce));
    if (!j) return;
    auto doc = j->contains("document") && (*j)["document"].is_string()
                   ? base64_decode((*j)["document"].get<std::string>())
                   : Result<Bytes>(make_error(Errc::kMalformed, "no document in it"));
    if (!doc.ok()) {
      rc = report_error(io, doc.error().with_context("the box's answer to GET /v1/attestation"), c->json);
      return;
    }
    auto w = write_file_atomic(aa->output, std::string(doc->begin(), doc->end()));
    if (!w.ok()) {
      rc = report_error(io, w.error(), c->json);
      return;
    }
    const std::string box_id = j->contains("binding") && (*j)["binding"].is_object()
                                   ? (*j)["binding"].value("box", std::string())
                                   : std::string();
    if (c->json) {
      print_json(io, json{{"output", aa->output},
                          {"bytes", doc->size()},
                          {"nonce", hex_encode(nonce)},
                          {"binding", j->value("binding", json::object())}});
    } else {
      io.out << "wrote " << aa->output << ": attestation document of box " << escape_untrusted(box_id) << " ("
             << doc->size() << " bytes), nonce " << hex_encode(nonce) << "\n"
             << "not checked yet: countersign attest verify " << aa->output << " --policy POLICY --box-id "
             << escape_untrusted(box_id) << " --log-key LOG_KEY --nonce " << hex_encode(nonce) << "\n";
    }
    rc = kExitOk;
  });

  struct ProposeArgs {
    std::string proposal, manifest;
  };
  auto pa = std::make_shared<ProposeArgs>();
  auto* propose =
      box->add_subcommand("propose", "Leave a proposal on the box; approvers add signatures one at a time");
  propose->add_option("--proposal", pa->proposal, "Proposal file")->required();
  propose->add_option("--manifest", pa->manifest, "The document it approves")->required();
  add_common(propose, *c);
  propose->callback([&io = r.io, &rc = r.rc, c, pa] {
    auto p = read_file(pa->proposal, 1u << 20);
    auto m = p.ok() ? read_file(pa->manifest, 64u << 20) : Result<std::string>(p.error());
    if (!m.ok()) {
      rc = report_error(io, m.error(), c->json);
      return;
    }
    auto pj = jcs::parse(*p);
    auto mj = jcs::parse(*m);
    if (!pj.ok() || !mj.ok()) {
      rc = report_error(
          io, (!pj.ok() ? pj.error().with_context(pa->proposal) : mj.error().with_context(pa->manifest)),
          c->json);
      return;
    }
    auto j = call(io, *c, rc, "POST", "/v1/proposals", json{{"proposal", *pj}, {"manifest", *mj}}.dump());
    if (!j) return;
    if (c->json) {
      print_json(io, *j);
    } else {
      io.out << "pending on the box: " << (*j)["proposal"].get<std::string>() << "\n";
      if ((*j)["report"].contains("missing")) {
        io.out << "still missing: ";
        for (const auto& m2 : (*j)["report"]["missing"]) io.out << m2.get<std::string>() << " ";
        io.out << "\n";
      }
    }
    rc = kExitOk;
  });

  struct AddSigArgs {
    std::string id;
    std::vector<std::string> sigs;
  };
  auto as = std::make_shared<AddSigArgs>();
  auto* add_sig = box->add_subcommand("add-signature", "Add signatures to a proposal pending on the box");
  add_sig->footer(
      "The box acts as soon as the action's rule is met; until then it says who is still missing.");
  add_sig->add_option("ID", as->id, "Proposal id (64 hex)")->required();
  add_sig->add_option("SIGNATURE", as->sigs, "Signature files")->required();
  add_common(add_sig, *c);
  add_sig->callback([&io = r.io, &rc = r.rc, c, as] {
    std::string id = as->id.starts_with("sha256:") ? as->id.substr(7) : as->id;
    rc = kExitOk;
    for (const auto& path : as->sigs) {
      auto text = read_file(path, 1u << 20);
      if (!text.ok()) {
        rc = report_error(io, text.error(), c->json);
        return;
      }
      auto j = call(io, *c, rc, "POST", "/v1/proposals/" + id + "/signatures", *text, path);
      if (!j) return;
      if (c->json) print_json(io, *j);
      if (!c->json && j->contains("job")) {
        io.out << path << ": the rule is met; job " << (*j)["job"].get<std::string>() << " queued\n";
      } else if (!c->json) {
        io.out << path << ": counted; still missing: ";
        for (const auto& m : (*j)["report"]["missing"]) io.out << m.get<std::string>() << " ";
        io.out << "\n";
      }
    }
  });

  auto veto_files = std::make_shared<std::vector<std::string>>();
  auto* veto =
      box->add_subcommand("veto", "Hand vetoes to the box: at the rule's count the proposal is dead");
  veto->footer(
      "Each VETO file (from `countersign veto`) names its proposal. The box counts a veto only from an\n"
      "approver the action's rule allows (its `veto: K`); at K vetoes a pending proposal is dropped and\n"
      "an accepted one is cancelled before its privileged step (its job ends \"vetoed\"). After the\n"
      "privileged step a veto is too late (exit 1). Prints, per file, whether it counted.");
  veto->add_option("VETO", *veto_files, "Veto files")->required()->check(CLI::ExistingFile);
  add_common(veto, *c);
  veto->callback([&io = r.io, &rc = r.rc, c, veto_files] { rc = box_veto(io, *c, *veto_files); });

  auto challenge_out = std::make_shared<std::string>();
  auto* challenge = box->add_subcommand("challenge", "Ask the box for a liveness challenge to sign");
  challenge->footer(
      "Approvers prove they still hold their keys: sign the challenge with `countersign key prove --key\n"
      "KEY --challenge FILE` and hand the proof in with `countersign box prove PROOF` before the box's\n"
      "challenge_lifetime (default 7 days) passes. The file is never overwritten.");
  challenge->add_option("-o,--out", *challenge_out, "Write the challenge here (default: standard output)");
  add_common(challenge, *c);
  challenge->callback(
      [&io = r.io, &rc = r.rc, c, challenge_out] { rc = box_challenge(io, *c, *challenge_out); });

  auto proof_files = std::make_shared<std::vector<std::string>>();
  auto* prove =
      box->add_subcommand("prove", "Hand liveness proofs to the box, which records them in its log");
  prove->footer(
      "The box checks each proof against the challenge it issued, its policy and its clock, and logs\n"
      "approver-proved; `countersign box approvers` then shows it.");
  prove->add_option("PROOF", *proof_files, "Liveness proof files")->required()->check(CLI::ExistingFile);
  add_common(prove, *c);
  prove->callback([&io = r.io, &rc = r.rc, c, proof_files] { rc = box_prove(io, *c, *proof_files); });

  auto* approvers =
      box->add_subcommand("approvers", "Each approver's latest liveness proof, and what it puts at risk");
  approvers->footer(
      "With the policy's liveness_days, warns (\"warning: ...\" lines; with --json also on standard error)\n"
      "when, counting only approvers proven within that many days, a rule's threshold could no longer be\n"
      "met. Warnings are advice: the exit status is still 0.");
  add_common(approvers, *c);
  approvers->callback([&io = r.io, &rc = r.rc, c] { rc = box_approvers(io, *c); });

  auto* log =
      box->add_subcommand("log", "Fetch the box's audit log, checkpoints and proofs for offline checks");
  log->require_subcommand(1);
  log->footer(
      "Check what you fetched with `countersign log verify` / `countersign log check-proof` and the\n"
      "box's log verifier key: the box cannot make them verify by lying.");
  auto la = std::make_shared<LogArgs>();
  auto* lc = log->add_subcommand("checkpoint", "The newest signed checkpoint");
  lc->add_option("-o,--out", la->out, "Write it here (default: standard output)");
  add_common(lc, la->c, false);
  lc->callback([&io = r.io, &rc = r.rc, la] { rc = log_checkpoint(io, *la); });
  auto* le = log->add_subcommand("export", "Every entry as JSON lines, plus the checkpoint");
  le->add_option("-o,--out", la->out, "Export file")->required();
  le->add_option("--checkpoint-out", la->checkpoint_out, "Also write the newest signed checkpoint here");
  add_common(le, la->c, false);
  le->callback([&io = r.io, &rc = r.rc, la] { rc = log_export(io, *la); });
  auto* lp = log->add_subcommand("prove", "An inclusion or consistency proof file, as `log prove` writes");
  lp->footer(
      "--consistency OLD NEW is what a witness needs (countersign log witness --proof FILE).\n"
      "--entry N --tlog-proof writes a C2SP tlog-proof; --cosigned adds witnesses' cosignatures to it.");
  auto* lp_entry = lp->add_option("--entry", la->entry, "Entry index");
  lp->add_option("--size", la->size, "Checkpoint size for --entry (default: newest)");
  auto* lp_cons = lp->add_option("--consistency", la->consistency, "OLD NEW tree sizes")->expected(2);
  lp_entry->excludes(lp_cons);
  lp->add_option("-o,--out", la->out, "Proof file (default: standard output)");
  lp->add_flag("--tlog-proof", la->tlog_proof, "Write --entry's proof as a C2SP tlog-proof")
      ->excludes(lp_cons);
  lp->add_option(
        "--cosigned", la->cosigned,
        "Checkpoint with witness cosignatures (log witness -o) to include; give --size with its size")
      ->allow_extra_args(false);
  add_common(lp, la->c, false);
  lp->callback([&io = r.io, &rc = r.rc, la, lp_entry, lp_cons] {
    if (lp_entry->count() == 0 && lp_cons->count() == 0) {
      rc = report_error(io, Error(Errc::kInvalidArgument, "give --entry N or --consistency OLD NEW"), false);
      return;
    }
    rc = log_prove(io, *la, lp_entry->count() > 0);
  });

  auto cosign_file = std::make_shared<std::string>();
  auto* lcs =
      log->add_subcommand("cosign", "Hand a witness's cosignature of the box's checkpoint to the box");
  lcs->footer(
      "For a witness the box cannot reach: the auditor runs `countersign log witness` offline and\n"
      "brings back its -o file (the checkpoint with the cosignature line). The box keeps every\n"
      "cosignature by a witness its configuration lists that verifies, and serves it with its\n"
      "checkpoint (`countersign box log checkpoint`), for `log verify --witness KEY --quorum K`.");
  lcs->add_option("FILE", *cosign_file, "The cosigned checkpoint (log witness -o), or - for standard input")
      ->required();
  add_common(lcs, la->c);
  lcs->callback([&io = r.io, &rc = r.rc, la, cosign_file] {
    auto text = read_file_or_stdin(*cosign_file, io.in, 1u << 20);
    if (!text.ok()) {
      rc = report_error(io, text.error(), la->c.json);
      return;
    }
    auto j = call(io, la->c, rc, "POST", "/v1/log/cosignatures", *text);
    if (!j) return;
    if (la->c.json) {
      print_json(io, *j);
    } else {
      for (const auto& w : (*j)["cosigned_by"]) {
        io.out << "kept the cosignature of " << escape_untrusted(w.get<std::string>()) << " on checkpoint "
               << u64(*j, "size") << "\n";
      }
      for (const auto& i : (*j)["ignored"]) {
        io.err << "ignored " << escape_untrusted(i["key"].get<std::string>()) << ": "
               << escape_untrusted(i["reason"].get<std::string>()) << "\n";
      }
    }
    rc = kExitOk;
  });
}

}  // namespace countersign::cli
