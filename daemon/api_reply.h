// What the API answers (daemon/api.h): an HTTP status and a JSON body (or a text one), and
// how an Error becomes one. Errors are {"error": code, "reason": message}.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace countersign::daemon {

inline constexpr int kHttpOk = 200, kHttpCreated = 201, kHttpAccepted = 202, kHttpBadRequest = 400,
                     kHttpForbidden = 403, kHttpNotFound = 404, kHttpConflict = 409, kHttpUnprocessable = 422,
                     kHttpInternalError = 500, kHttpServiceUnavailable = 503;

struct Reply {
  int status = kHttpOk;
  nlohmann::json body;              // sent as JSON unless `text` is set
  std::optional<std::string> text;  // text/plain body (signed checkpoints, JSON lines)
};

// {"error": code, "reason": message}
Reply error_reply(int status, std::string_view code, const std::string& reason);

// The HTTP status for an error by its code: kNotFound 404, kRejected 403, kUnsupported 422,
// kIo and kInternal 500, anything else (a request that does not parse or is not a valid
// document) 400.
int status_for(const Error& e);
// error_reply(status_for(e), errc_name(e.code), e.message)
Reply reply_for(const Error& e);

}  // namespace countersign::daemon
