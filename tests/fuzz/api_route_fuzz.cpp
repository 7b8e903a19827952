// Fuzz target: countersignd's whole API as its HTTP server calls it, Api::route (daemon/api.h)
// on a started Engine over a box of tests/daemon/box_fixture.h (five approvers, a policy, the
// log key, countersign-system as the helper) in a temporary directory made once per process.
// Every endpoint is reachable, with the state it changes: pending proposals, signatures,
// vetoes, challenges and proofs, bundles handed to the helper, the log read back.
//
// Input: the first line is "METHOD PATH[?QUERY]" (QUERY as name=value pairs joined by '&', not
// percent-decoded: the server hands route() decoded values), the rest is the body.
//
// Properties checked (abort() so libFuzzer records the input): route() answers every request
// with a status from 200 to 599; an error (4xx, 5xx) is {"error": CODE, "reason": WHY} or a
// refused bundle's {"error": "rejected", "reasons": [...]} with CODE and WHY non-empty; a
// success is a JSON value or a text body.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "daemon/api.h"
#include "daemon/engine.h"
#include "tests/daemon/box_fixture.h"

using namespace countersign;

namespace {

[[noreturn]] void fail(const char* what, const daemon::Reply& r) {
  std::fprintf(stderr, "api_route_fuzz: %s (status %d, body %s)\n", what, r.status, r.body.dump().c_str());
  std::abort();
}

// The box, its engine and the API, made on the first input and kept: an engine starts in
// tens of milliseconds, far too slow per input.
struct Box {
  std::filesystem::path dir;
  std::unique_ptr<test_util::BoxFixture> fixture;
  std::unique_ptr<daemon::Engine> engine;
  std::unique_ptr<daemon::Api> api;

  Box() {
    char templ[] = "/tmp/cs-api-fuzz-XXXXXX";
    if (!::mkdtemp(templ)) {
      std::perror("api_route_fuzz: mkdtemp");
      std::abort();
    }
    dir = templ;
    fixture = std::make_unique<test_util::BoxFixture>(dir);
    auto opened = daemon::Engine::open(fixture->config());
    if (!opened.ok()) {
      std::fprintf(stderr, "api_route_fuzz: engine: %s\n", opened.error().message.c_str());
      std::abort();
    }
    engine = std::move(opened).value();
    if (auto s = engine->start(); !s.ok()) {
      std::fprintf(stderr, "api_route_fuzz: start: %s\n", s.error().message.c_str());
      std::abort();
    }
    api = std::make_unique<daemon::Api>(*engine);
  }
  ~Box() {
    api.reset();
    if (engine) engine->stop();
    engine.reset();
    fixture.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Box& box() {
  static Box b;
  return b;
}

daemon::HttpRequest request_of(std::string_view input) {
  daemon::HttpRequest r;
  const auto nl = input.find('\n');
  std::string_view line = input.substr(0, nl);
  r.body = nl == std::string_view::npos ? std::string() : std::string(input.substr(nl + 1));
  const auto sp = line.find(' ');
  r.method = std::string(line.substr(0, sp));
  std::string_view target = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  const auto q = target.find('?');
  r.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) {
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
      const auto amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      const auto eq = pair.find('=');
      r.query[std::string(pair.substr(0, eq))] =
          eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1));
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  r.peer.transport = daemon::Peer::Transport::kUnix;
  r.peer.uid = ::getuid();
  r.peer.gid = ::getgid();
  r.peer.pid = ::getpid();
  return r;
}

bool non_empty_string(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_string() && !j[key].get<std::string>().empty();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const daemon::HttpRequest request = request_of(std::string_view(reinterpret_cast<const char*>(data), size));
  const daemon::Reply r = box().api->route(request);
  if (r.status < 200 || r.status > 599) fail("status out of range", r);
  if (r.status >= 400) {
    if (r.text) fail("an error as text", r);
    if (!r.body.is_object() || !non_empty_string(r.body, "error")) fail("an error without its code", r);
    const bool reasons =
        r.body.contains("reasons") && r.body["reasons"].is_array() && !r.body["reasons"].empty();
    if (!non_empty_string(r.body, "reason") && !reasons) fail("an error that does not say why", r);
  } else if (!r.text && r.body.is_discarded()) {
    fail("a success with no body", r);
  }
  return 0;
}
