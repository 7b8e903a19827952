// Who is on the other end of an API connection, as the kernel or TLS says, never as the
// request claims: SO_PEERCRED of a Unix-socket client (unix(7)), the address of a TCP one and,
// where the TLS listener asks for them, the SHA-256 of its client certificate. Every
// submission is logged with it; floods are counted per peer (key()).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace countersign::daemon {

struct Peer {
  enum class Transport { kUnknown, kUnix, kTcp };
  Transport transport = Transport::kUnknown;
  // kUnix: the client's credentials at connect time.
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::optional<pid_t> pid;
  // kTcp: the numeric address ("127.0.0.1", "::1") and port.
  std::string address;
  std::uint16_t port = 0;
  // kTcp with client certificates: "sha256:<hex>" of the certificate's DER.
  std::optional<std::string> client_certificate;

  // What floods are counted by: "uid:1000" for a Unix client, "ip:127.0.0.1" for a TCP one
  // (ports change with every connection), "unknown" otherwise.
  std::string key() const {
    switch (transport) {
      case Transport::kUnix:
        return uid ? "uid:" + std::to_string(*uid) : "unix";
      case Transport::kTcp:
        return "ip:" + address;
      case Transport::kUnknown:
        break;
    }
    return "unknown";
  }

  // As log entries carry it: {"transport": "unix", "uid": 1000, "gid": 1000, "pid": 42} or
  // {"transport": "tcp", "address": "127.0.0.1", "port": 50312[, "client_certificate": ...]}.
  nlohmann::json to_json() const {
    nlohmann::json j = nlohmann::json::object();
    switch (transport) {
      case Transport::kUnix:
        j["transport"] = "unix";
        if (uid) j["uid"] = *uid;
        if (gid) j["gid"] = *gid;
        if (pid) j["pid"] = *pid;
        break;
      case Transport::kTcp:
        j["transport"] = "tcp";
        j["address"] = address;
        j["port"] = port;
        if (client_certificate) j["client_certificate"] = *client_certificate;
        break;
      case Transport::kUnknown:
        j["transport"] = "unknown";
        break;
    }
    return j;
  }
};

}  // namespace countersign::daemon
