#include "daemon/api_reply.h"

namespace countersign::daemon {

Reply error_reply(int status, std::string_view code, const std::string& reason) {
  return Reply{status, nlohmann::json{{"error", std::string(code)}, {"reason", reason}}, std::nullopt};
}

int status_for(const Error& e) {
  switch (e.code) {
    case Errc::kNotFound:
      return kHttpNotFound;
    case Errc::kRejected:
      return kHttpForbidden;
    case Errc::kUnsupported:
      return kHttpUnprocessable;
    case Errc::kIo:
    case Errc::kInternal:
      return kHttpInternalError;
    default:
      return kHttpBadRequest;
  }
}

Reply reply_for(const Error& e) { return error_reply(status_for(e), errc_name(e.code), e.message); }

}  // namespace countersign::daemon
