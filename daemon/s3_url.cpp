#include "daemon/s3_url.h"

namespace countersign::daemon {
namespace {

bool bucket_name_ok(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
  }
  return true;
}

}  // namespace

Result<S3Url> parse_s3_url(std::string_view url) {
  S3Url out;
  std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return Error(Errc::kInvalidArgument, "expected https://HOST/BUCKET[/PREFIX], got no scheme");
  }
  const std::string_view scheme = url.substr(0, scheme_end);
  if (scheme != "https" && scheme != "http") {
    return Error(Errc::kInvalidArgument, "the scheme must be https (or http on a trusted network), not \"" +
                                             std::string(scheme) + "\"");
  }
  if (url.find_first_of("?#") != std::string_view::npos) {
    return Error(Errc::kInvalidArgument, "no query or fragment: https://HOST/BUCKET[/PREFIX]");
  }
  const std::size_t host_start = scheme_end + 3;
  const std::size_t path = url.find('/', host_start);
  if (path == std::string_view::npos || path == host_start) {
    return Error(Errc::kInvalidArgument, "no bucket: expected https://HOST/BUCKET[/PREFIX]");
  }
  out.endpoint = std::string(url.substr(0, path));
  std::string_view rest = url.substr(path + 1);
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const std::size_t slash = rest.find('/');
  out.bucket = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) out.prefix = std::string(rest.substr(slash + 1));
  if (!bucket_name_ok(out.bucket)) {
    return Error(Errc::kInvalidArgument,
                 "\"" + out.bucket + "\" is not an S3 bucket name (3 to 63 of a-z, 0-9, '.', '-')");
  }
  if (out.prefix.find("//") != std::string::npos || (!out.prefix.empty() && out.prefix.front() == '/')) {
    return Error(Errc::kInvalidArgument, "the prefix \"" + out.prefix + "\" has an empty path segment");
  }
  return out;
}

}  // namespace countersign::daemon
