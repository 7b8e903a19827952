// countersignd: the box-side verifier (DESIGN.md "Box-side daemon", docs/daemon.md).
//
//   countersignd --config /etc/countersign/countersignd.conf [--KEY VALUE]...
//
// Every configuration key (daemon/config.h) is also a flag, with '-' for '_'; flags override
// the file. Exit status: 0 after SIGTERM/SIGINT, 1 when the daemon fails while running, 2 for
// an invalid configuration or policy (nothing is started).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "daemon/api.h"
#include "daemon/check_config.h"
#include "daemon/config.h"
#include "daemon/engine.h"
#include "daemon/http_server.h"

namespace {

using namespace countersign;
using namespace countersign::daemon;

int run(int argc, char** argv) {
  CLI::App app{
      "countersignd: accepts M-of-N approved bundles, verifies them against the box's policy, fetches and "
      "verifies every byte, installs read-only into models/<manifest hash>, and records everything in a "
      "signed audit log.\n\nThe API is HTTP/1.1 + JSON on a Unix socket; talk to it with `countersign "
      "submit` and `countersign box`. Exit status: 0 stopped by a signal, 1 failed while running, 2 invalid "
      "configuration or policy.",
      "countersignd"};
  std::string config_path;
  bool check_only = false;
  app.add_option("-c,--config", config_path, "Configuration file (key = value lines)");
  app.add_flag("--check-config", check_only,
               "Check the configuration, policy chain, directories, credentials and the helper (read-only), "
               "then exit: 0 all passed, 2 something is wrong");
  app.set_version_flag("--version", std::string("countersignd ") + COUNTERSIGN_VERSION);
  app.footer(
      "Every configuration key is also a flag (--state-dir for state_dir); flags override the file.\n"
      "Example: countersignd --config /etc/countersign/countersignd.conf\n"
      "         countersignd --config FILE --check-config\n"
      "See docs/daemon.md and packaging/countersignd.conf (the commented default).");
  std::map<std::string, std::vector<std::string>> flags;
  for (const auto& key : config_keys()) {
    std::string dashed(key.name);
    for (auto& c : dashed) c = c == '_' ? '-' : c;
    auto* opt = app.add_option("--" + dashed, flags[std::string(key.name)], std::string(key.help));
    if (key.name != "mirror") opt->expected(1);
    opt->allow_extra_args(false);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  Config config;
  if (!config_path.empty()) {
    auto c = load_config(config_path);
    if (!c.ok()) {
      std::cerr << "countersignd: " << c.error().message << "\n";
      return 2;
    }
    config = std::move(*c);
  }
  for (const auto& [key, values] : flags) {
    if (key == "mirror" && !values.empty()) config.mirrors.clear();
    for (const auto& v : values) {
      auto r = config.set(key, v);
      if (!r.ok()) {
        std::cerr << "countersignd: --" << key << ": " << r.error().message << "\n";
        return 2;
      }
    }
  }
  if (auto v = config.validate(); !v.ok()) {
    std::cerr << "countersignd: " << v.error().message << "\n";
    return 2;
  }

  // Read-only: no Engine (which would log daemon-started and create directories).
  if (check_only) {
    HelperSystemClient helper(config.helper, SystemPaths(config));
    return check_config(config, helper, std::cout);
  }

  // Signals are taken by sigwait below; block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto engine = Engine::open(config);
  if (!engine.ok()) {
    std::cerr << "countersignd: " << engine.error().message << "\n";
    return 2;
  }
  if (auto s = (*engine)->start(); !s.ok()) {
    std::cerr << "countersignd: " << s.error().message << "\n";
    return 1;
  }
  HttpServer::Options o;
  o.unix_path = config.socket;
  o.tcp = config.listen;
  o.max_body = config.max_body;
  o.socket_group = config.socket_group;
  o.tls_cert = config.tls_cert;
  o.tls_key = config.tls_key;
  o.tls_client_ca = config.tls_client_ca;
  o.max_body_memory = config.max_body_memory;
  o.max_connections = config.max_connections;
  o.max_connections_per_peer = config.max_connections_per_peer;
  o.header_timeout_seconds = static_cast<unsigned>(config.header_timeout_seconds);
  o.body_timeout_seconds = static_cast<unsigned>(config.body_timeout_seconds);
  Api api(**engine);
  auto server = HttpServer::start(o, [&api](const HttpRequest& r) { return api.route(r); });
  if (!server.ok()) {
    std::cerr << "countersignd: " << server.error().message << "\n";
    return 1;
  }
  std::cerr << "countersignd: box " << config.box_id << " listening on " << config.socket
            << (config.listen ? " and " + *config.listen : std::string()) << "\n";
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::cerr << "countersignd: stopping (" << (sig == SIGTERM ? "SIGTERM" : "SIGINT") << ")\n";
  server->reset();  // no new requests
  (*engine)->stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run(argc, argv); }
