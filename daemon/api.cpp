#include "daemon/api.h"

#include <charconv>

namespace countersign::daemon {
namespace {

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
  return error_reply(400, "malformed", std::string("query parameter \"") + key + "\" missing or not a whole number");
}

Reply wrong_method(const HttpRequest& r, const char* allowed) {
  return error_reply(405, "method-not-allowed", r.method + " " + r.path + ": use " + allowed);
}

}  // namespace

Reply route(Engine& e, const HttpRequest& r) {
  std::string_view p = r.path;
  const bool get = r.method == "GET";
  const bool post = r.method == "POST";
  if (p == "/v1/status") return get ? e.status() : wrong_method(r, "GET");
  if (p == "/v1/bundles") return post ? e.submit_bundle(r.body) : wrong_method(r, "POST");
  if (p == "/v1/proposals") return post ? e.create_pending(r.body) : wrong_method(r, "POST");
  if (p.starts_with("/v1/proposals/")) {
    std::string_view rest = p.substr(14);
    if (rest.ends_with("/signatures")) {
      if (!post) return wrong_method(r, "POST");
      return e.add_signature(rest.substr(0, rest.size() - 11), r.body);
    }
    return get ? e.pending(rest) : wrong_method(r, "GET");
  }
  if (p == "/v1/jobs") return get ? e.jobs() : wrong_method(r, "GET");
  if (p.starts_with("/v1/jobs/")) return get ? e.job(p.substr(9)) : wrong_method(r, "GET");
  if (p == "/v1/models") return get ? e.models() : wrong_method(r, "GET");
  if (p == "/v1/policy") return get ? e.policy() : wrong_method(r, "GET");
  if (p == "/v1/snapshots") return get ? e.snapshots() : wrong_method(r, "GET");
  if (p.starts_with("/v1/log/")) {
    if (!get) return wrong_method(r, "GET");
    std::string_view what = p.substr(8);
    if (what == "checkpoint") return e.log_checkpoint();
    if (what == "entries") {
      auto start = r.query.count("start") ? query_uint(r, "start") : std::optional<std::uint64_t>(0);
      if (!start) return bad_query("start");
      std::optional<std::uint64_t> end;
      if (r.query.count("end")) {
        end = query_uint(r, "end");
        if (!end) return bad_query("end");
      }
      return e.log_entries(*start, end);
    }
    if (what == "inclusion") {
      auto index = query_uint(r, "index");
      if (!index) return bad_query("index");
      auto size = r.query.count("size") ? query_uint(r, "size") : std::optional<std::uint64_t>(0);
      if (!size) return bad_query("size");
      return e.log_inclusion(*index, *size);
    }
    if (what == "consistency") {
      auto a = query_uint(r, "old");
      auto b = query_uint(r, "new");
      if (!a) return bad_query("old");
      if (!b) return bad_query("new");
      return e.log_consistency(*a, *b);
    }
  }
  return error_reply(404, "not-found", "no such endpoint: " + r.method + " " + r.path);
}

}  // namespace countersign::daemon
