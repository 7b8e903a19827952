// The CLI's side of countersignd's API (daemon/api.h): HTTP/1.1 over the daemon's Unix
// socket (or a TCP URL) with libcurl.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace countersign::cli {

// Default socket: $COUNTERSIGN_SOCKET, else /run/countersign/countersignd.sock.
inline constexpr const char* kSocketEnv = "COUNTERSIGN_SOCKET";
inline constexpr const char* kDefaultSocket = "/run/countersign/countersignd.sock";

struct BoxEndpoint {
  std::string socket;               // Unix socket path (used unless url is set)
  std::optional<std::string> url;   // "http://127.0.0.1:8441" for the optional TCP listener
  std::string describe() const { return url ? *url : socket; }
};

struct HttpReply {
  long status = 0;
  std::string body;
};

// One request. kIo "cannot reach countersignd at ...: ..." when the daemon does not answer.
Result<HttpReply> box_request(const BoxEndpoint& box, std::string_view method, std::string_view path,
                              std::string_view body = {}, long timeout_seconds = 60);

}  // namespace countersign::cli
