#include "daemon/witnesses.h"

#include <curl/curl.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/audit_log.h"
#include "core/audit_proof.h"
#include "core/bytes.h"
#include "core/checkpoint.h"
#include "core/fileio.h"
#include "core/signed_note.h"
#include "core/untrusted_text.h"
#include "core/witness.h"

namespace countersign::daemon {
namespace {

using nlohmann::json;

constexpr auto kPollInterval = std::chrono::seconds(1);
constexpr std::size_t kMaxAnswer = 64 * 1024;

struct Answer {
  long status = 0;
  std::string body;
};

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  auto* body = static_cast<std::string*>(out);
  if (body->size() + size * n > kMaxAnswer) return 0;  // aborts the transfer
  body->append(data, size * n);
  return size * n;
}

// POST `body` to `url` (tlog-witness add-checkpoint), bounded in time and answer size.
Result<Answer> post(const std::string& url, const std::string& body, const Config& config) {
  CURL* c = curl_easy_init();
  if (c == nullptr) return Error(Errc::kInternal, "curl_easy_init failed");
  Answer a;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: text/plain; charset=utf-8");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  if (config.witness_ca) curl_easy_setopt(c, CURLOPT_CAINFO, config.witness_ca->c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &a.body);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(config.connect_timeout_seconds));
  curl_easy_setopt(c, CURLOPT_TIMEOUT,
                   static_cast<long>(config.connect_timeout_seconds + config.stall_timeout_seconds));
  const CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) return Error(Errc::kIo, std::string(curl_easy_strerror(rc)));
  return a;
}

std::string key_id_hex(const note::Verifier& v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v.key_id());
  return buf;
}

}  // namespace

struct Witnesses::Impl {
  struct Witness {
    note::Verifier key;
    std::optional<std::string> url;
    std::string state_file;
    std::uint64_t cosigned = 0;
    std::optional<std::string> error;
    std::thread thread;
  };

  Config config;
  std::string dir;
  std::vector<std::unique_ptr<Witness>> witnesses;
  mutable std::mutex mu;  // the fields above that change, and the cosigned/ files
  std::condition_variable cv;
  bool stopping = false;
  bool started = false;

  std::string lines_file(std::uint64_t size) const {
    return dir + "/cosigned/" + std::to_string(size) + ".txt";
  }

  // The kept lines for `size`. Caller holds mu.
  std::vector<std::string> kept(std::uint64_t size) const {
    std::vector<std::string> out;
    auto text = read_file(lines_file(size), 1u << 20);
    if (!text.ok()) return out;
    for (std::size_t pos = 0; pos < text->size();) {
      auto nl = text->find('\n', pos);
      if (nl == std::string::npos) break;
      out.push_back(text->substr(pos, nl - pos + 1));
      pos = nl + 1;
    }
    return out;
  }

  // Keeps a verified cosignature line on checkpoint `size`. Caller holds mu.
  Result<void> keep(std::uint64_t size, const std::string& line) {
    auto lines = kept(size);
    for (const auto& l : lines) {
      if (l == line) return {};
    }
    lines.push_back(line);
    std::string text;
    for (const auto& l : lines) text += l;
    return write_file_atomic(lines_file(size), text, 0640);
  }

  // `line` (one signature line) verifies as `w`'s cosignature on `checkpoint_text`.
  static Result<void> verify_line(const std::string& checkpoint_text, const std::string& line,
                                  const note::Verifier& key) {
    CS_TRY(note::Note n, note::Note::parse(checkpoint_text + "\n" + line));
    CS_TRY_VOID(note::verify_cosignature(n, key));
    return {};
  }

  Result<void> save_state(Witness& w, std::uint64_t size) {
    CS_TRY_VOID(write_file_atomic(w.state_file, json{{"size", size}}.dump() + "\n", 0640));
    w.cosigned = size;
    return {};
  }

  // One round for a witness with a URL: offers the newest checkpoint when it has not
  // cosigned it. A 409 answer (it knows another size) is followed, at most twice.
  Result<void> offer(Witness& w) {
    CS_TRY(audit::AuditLog log, audit::AuditLog::open(config.log_dir(), audit::AuditLog::Mode::kReadOnly));
    auto newest = audit::find_checkpoint(log, 0);
    if (!newest.ok()) return newest.error().code == Errc::kNotFound ? Result<void>{} : newest.error();
    const auto& [note_text, cp] = *newest;
    std::uint64_t old = 0;
    {
      std::lock_guard lock(mu);
      if (w.cosigned == cp.size && !kept(cp.size).empty()) return {};
      old = w.cosigned > cp.size ? 0 : w.cosigned;
    }
    CS_TRY(note::Note parsed, note::Note::parse(note_text));
    for (int attempt = 0; attempt < 3; ++attempt) {
      witness::Request req;
      req.old_size = old;
      req.checkpoint = note_text;
      if (old > 0 && old < cp.size) {
        CS_TRY(auto proof, log.consistency_proof(old, cp.size));
        for (const auto& d : proof) req.proof.emplace_back(d.begin(), d.end());
      }
      auto answer = post(*w.url, req.serialize(), config);
      if (!answer.ok()) return Error(Errc::kIo, "cannot reach " + *w.url + ": " + answer.error().message);
      const std::string first = escape_untrusted(answer->body.substr(0, answer->body.find('\n')), 200);
      if (answer->status == 409) {
        // The body is the size the witness cosigned last (text/x.tlog.size).
        std::uint64_t known = 0;
        try {
          known = std::stoull(answer->body);
        } catch (const std::exception&) {
          return Error(Errc::kMalformed, *w.url + " answered 409 without a size: " + first);
        }
        if (known > cp.size) {
          return Error(Errc::kRejected, "the witness has cosigned a checkpoint of size " +
                                            std::to_string(known) + ", beyond this log's newest (" +
                                            std::to_string(cp.size) +
                                            "): another history under this log's name?");
        }
        if (known == old) return Error(Errc::kRejected, *w.url + " answered 409 for its own size: " + first);
        old = known;
        continue;
      }
      if (answer->status != 200) {
        return Error(Errc::kRejected, *w.url + " answered " + std::to_string(answer->status) + ": " + first);
      }
      // One or more cosignature lines; each must verify by this witness's key.
      std::lock_guard lock(mu);
      bool any = false;
      for (std::size_t pos = 0; pos < answer->body.size();) {
        auto nl = answer->body.find('\n', pos);
        if (nl == std::string::npos) break;
        const std::string line = answer->body.substr(pos, nl - pos + 1);
        pos = nl + 1;
        if (!verify_line(parsed.text(), line, w.key).ok()) continue;
        CS_TRY_VOID(keep(cp.size, line));
        any = true;
      }
      if (!any) {
        return Error(Errc::kCrypto, *w.url + " answered no cosignature by " + w.key.label() +
                                        " that verifies on checkpoint " + std::to_string(cp.size));
      }
      return save_state(w, cp.size);
    }
    return Error(Errc::kRejected, *w.url + " kept answering 409");
  }

  void run(Witness& w) {
    std::string reported;
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (stopping) return;
      }
      auto r = offer(w);
      std::unique_lock lock(mu);
      if (!r.ok()) {
        w.error = r.error().message;
        if (reported != r.error().message) {
          reported = r.error().message;
          std::fprintf(stderr, "countersignd: witness %s: %s (trying again every %llds)\n",
                       w.key.label().c_str(), escape_untrusted(reported, 400).c_str(),
                       static_cast<long long>(config.ship_retry_seconds));
        }
        cv.wait_for(lock, std::chrono::seconds(config.ship_retry_seconds), [this] { return stopping; });
      } else {
        w.error.reset();
        reported.clear();
        cv.wait_for(lock, kPollInterval, [this] { return stopping; });
      }
    }
  }
};

Witnesses::Witnesses(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Witnesses::~Witnesses() { stop(); }

Result<std::unique_ptr<Witnesses>> Witnesses::open(const Config& config) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->dir = config.daemon_dir() + "/witness";
  if (!config.witnesses.empty()) {
    for (const std::string& d : {impl->dir, impl->dir + "/cosigned"}) {
      if (::mkdir(d.c_str(), 0750) != 0 && errno != EEXIST) {
        return Error(Errc::kIo, "cannot create " + d + ": " + std::strerror(errno));
      }
    }
  }
  for (const auto& spec : config.witnesses) {
    auto w = std::make_unique<Impl::Witness>(
        Impl::Witness{*note::Verifier::parse(spec.vkey), spec.url, "", 0, {}, {}});
    w->state_file = impl->dir + "/" + key_id_hex(w->key) + ".json";
    struct stat st {};
    if (::lstat(w->state_file.c_str(), &st) == 0) {
      CS_TRY(std::string text, read_file(w->state_file, 4096));
      json j = json::parse(text, nullptr, false);
      if (!j.is_object() || !j.contains("size") || !j["size"].is_number_unsigned()) {
        return Error(Errc::kInvalidDocument, w->state_file + ": not a witness state ({\"size\": N})");
      }
      w->cosigned = j["size"].get<std::uint64_t>();
    }
    impl->witnesses.push_back(std::move(w));
  }
  return std::unique_ptr<Witnesses>(new Witnesses(std::move(impl)));
}

void Witnesses::start() {
  std::lock_guard lock(impl_->mu);
  if (impl_->started) return;
  impl_->started = true;
  for (auto& w : impl_->witnesses) {
    if (!w->url) continue;
    Impl::Witness* witness = w.get();
    w->thread = std::thread([this, witness] { impl_->run(*witness); });
  }
}

void Witnesses::stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  for (auto& w : impl_->witnesses) {
    if (w->thread.joinable()) w->thread.join();
  }
}

std::string Witnesses::with_cosignatures(const std::string& checkpoint_note) const {
  if (impl_->witnesses.empty()) return checkpoint_note;
  auto n = note::Note::parse(checkpoint_note);
  if (!n.ok()) return checkpoint_note;
  auto cp = Checkpoint::parse(n->text());
  if (!cp.ok()) return checkpoint_note;
  std::lock_guard lock(impl_->mu);
  std::string out = checkpoint_note;
  for (const auto& line : impl_->kept(cp->size)) {
    if (out.find(line) == std::string::npos) out += line;
  }
  return out;
}

Result<json> Witnesses::add_cosignatures(std::string_view text) {
  CS_TRY(note::Note n, note::Note::parse(text));
  CS_TRY(Checkpoint cp, Checkpoint::parse(n.text()));
  CS_TRY(audit::AuditLog log,
         audit::AuditLog::open(impl_->config.log_dir(), audit::AuditLog::Mode::kReadOnly));
  auto ours = audit::find_checkpoint(log, cp.size);
  if (!ours.ok()) {
    if (ours.error().code != Errc::kNotFound) return ours.error();
    return Error(Errc::kNotFound,
                 "this box's log has no signed checkpoint of size " + std::to_string(cp.size));
  }
  CS_TRY(note::Note own, note::Note::parse(ours->first));
  if (own.text() != n.text()) {
    return Error(Errc::kRejected, "not this box's checkpoint of size " + std::to_string(cp.size) +
                                      ": its root is " + hex_encode(cp.root) + ", this log's is " +
                                      hex_encode(ours->second.root));
  }
  json cosigned_by = json::array();
  json ignored = json::array();
  std::lock_guard lock(impl_->mu);
  for (const auto& sig : n.signatures()) {
    const std::string line = sig.line();
    Impl::Witness* match = nullptr;
    for (const auto& w : impl_->witnesses) {
      if (w->key.name() == sig.name && w->key.key_id() == sig.key_id) match = w.get();
    }
    if (match == nullptr) {
      // The log's own signature, or a key this box does not list as a witness.
      bool is_log = false;
      for (const auto& s : own.signatures()) is_log = is_log || s.line() == line;
      if (!is_log)
        ignored.push_back({{"key", escape_untrusted(sig.name, 200)}, {"reason", "not a configured witness"}});
      continue;
    }
    auto ok = Impl::verify_line(n.text(), line, match->key);
    if (!ok.ok()) {
      ignored.push_back({{"key", match->key.label()}, {"reason", ok.error().message}});
      continue;
    }
    CS_TRY_VOID(impl_->keep(cp.size, line));
    if (cp.size > match->cosigned) CS_TRY_VOID(impl_->save_state(*match, cp.size));
    cosigned_by.push_back(match->key.label());
  }
  if (cosigned_by.empty()) {
    std::string why =
        "no cosignature by a configured witness verifies on checkpoint " + std::to_string(cp.size);
    if (!ignored.empty())
      why +=
          " (" + ignored[0]["key"].get<std::string>() + ": " + ignored[0]["reason"].get<std::string>() + ")";
    return Error(Errc::kRejected, why);
  }
  return json{{"size", cp.size}, {"cosigned_by", cosigned_by}, {"ignored", ignored}};
}

std::vector<WitnessStatus> Witnesses::status() const {
  std::lock_guard lock(impl_->mu);
  std::vector<WitnessStatus> out;
  for (const auto& w : impl_->witnesses) out.push_back({w->key.label(), w->url, w->cosigned, w->error});
  return out;
}

}  // namespace countersign::daemon
