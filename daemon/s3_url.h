// The s3_archive setting's URL (daemon/config.h), parsed without any network code: the
// configuration library, which the helper links too, checks it when the file is read.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace countersign::daemon {

// "https://HOST[:PORT]/BUCKET[/PREFIX...]" split into endpoint, bucket and prefix (without
// slashes at either end; empty when absent). Errors (kInvalidArgument) say which part is
// missing or not allowed: a scheme other than http/https, a query, a bucket name outside
// S3's rules (3-63 of a-z 0-9 . -).
struct S3Url {
  std::string endpoint, bucket, prefix;
};
Result<S3Url> parse_s3_url(std::string_view url);

}  // namespace countersign::daemon
