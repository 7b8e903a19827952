// The CLI's side of countersignd's API (daemon/api.h, docs/api.md): HTTP/1.1 over the
// daemon's Unix socket (or a TCP URL) with libcurl.
//
// Two ways a request can fail, and the commands keep them apart (docs/api.md, "Exit codes"):
// the box answered and said no (an error status with the API's {"error": ...} body: exit 1,
// 2 for a request it found malformed), or the API did not answer at all (no socket, refused,
// timeout, TLS, the connection closed without an answer, an answer that is not the API's:
// kExitUnreachable, 3). box_request's errors are always the second kind; api_answer tells
// the two apart in what came back.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace countersign::cli {

// Default socket: $COUNTERSIGN_SOCKET, else /run/countersign/countersignd.sock.
inline constexpr const char* kSocketEnv = "COUNTERSIGN_SOCKET";
inline constexpr const char* kDefaultSocket = "/run/countersign/countersignd.sock";

// The group whose members may connect to the socket (packaging/countersignd.conf).
inline constexpr const char* kApiGroup = "countersign-api";

struct BoxEndpoint {
  std::string socket;                 // Unix socket path (used unless url is set)
  std::optional<std::string> url;     // "https://127.0.0.1:8441" for the optional TCP listener
  std::optional<std::string> cacert;  // PEM CA to trust for an https URL instead of the system's
  std::string describe() const { return url ? *url : socket; }
};

struct HttpReply {
  long status = 0;
  std::string body;
};

// One request; any HTTP status is a reply. An error means countersignd's API did not
// answer, "cannot reach countersignd at <socket or URL>: <what failed>": kNotFound when
// there is no socket at the path, kTimeout when connecting or the whole request took longer
// than allowed, kIo for everything else (refused, permission denied, closed without an
// answer, TLS, not HTTP, an answer over 256 MiB).
Result<HttpReply> box_request(const BoxEndpoint& box, std::string_view method, std::string_view path,
                              std::string_view body = {}, long timeout_seconds = 60);

// What the box said, checked to be the API's answer: a 2xx reply with `json_expected`
// needs a JSON body (`json` holds it); an error status needs {"error": "<code>", ...}
// (`json` holds it; `reason` is its "reason", or its "reasons" joined, or the code).
struct ApiAnswer {
  long status = 0;
  nlohmann::json json;  // null for a 2xx text answer
  std::string reason;   // empty unless status >= 400
  bool ok() const { return status >= 200 && status < 300; }
};
// kMalformed "countersignd at <where> answered <what>, which is not its API's answer" when
// the reply is not one the API gives (a proxy's page, another server on the socket): a
// failure to reach the box, like box_request's errors.
Result<ApiAnswer> api_answer(const BoxEndpoint& box, const HttpReply& reply, bool json_expected = true);

}  // namespace countersign::cli
