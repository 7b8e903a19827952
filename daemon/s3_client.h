// A small S3 client over libcurl for the audit log's immutable copy (daemon/s3_archive.h):
// path-style requests (ENDPOINT/BUCKET/KEY) signed with AWS Signature Version 4 by libcurl
// (CURLOPT_AWS_SIGV4), the payload's SHA-256 sent in x-amz-content-sha256 (libcurl 7.88
// does not compute it) and its MD5 in Content-MD5, the integrity header S3 requires on a
// PUT with Object Lock and checks before it stores a byte.
//
// Works with AWS S3 and with Ceph's radosgw (what the tests run). Every request is bounded
// in time (connect 15 s, whole request 60 s) and in answer size (1 MiB).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/secret.h"
#include "core/timeutil.h"
#include "daemon/fetch.h"
#include "daemon/s3_url.h"

namespace countersign::daemon {

struct S3Location {
  std::string endpoint;  // "https://s3.eu-central-1.amazonaws.com" (no trailing slash)
  std::string bucket;
  std::string region = "us-east-1";
  std::string ca_file;  // optional CA bundle for https; empty: the system's
};

struct S3Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
  // "AccessDenied: forbidden by object lock" from an S3 error document, or "HTTP 403".
  std::string error_text() const;
};

class S3Client {
 public:
  S3Client(S3Location where, S3Credentials credentials);

  // One signed request. `key` is the object key (empty: the bucket itself); `query` is
  // already in canonical form (sorted, values percent-encoded, e.g. "versionId=abc" or
  // "list-type=2&prefix=a%2Fb"). Fails only when no answer came (kIo naming the URL and
  // libcurl's reason); an HTTP error status is an answer.
  Result<S3Response> request(const std::string& method, const std::string& key, const std::string& query = {},
                             std::string_view body = {}, const std::vector<std::string>& headers = {}) const;

  // PUT of `bytes` under `key`, version locked in COMPLIANCE mode until `retain_until`, with
  // their SHA-256 as user metadata (x-amz-meta-sha256, lowercase hex): what the object holds
  // can be told from a HEAD where its ETag is not the MD5 (SSE-KMS buckets). The ETag the
  // answer carries must be the MD5 of `bytes` unless the server says it encrypted with KMS.
  // Errors name the key and the server's code and message. Returns the version id.
  Result<std::string> put_locked(const std::string& key, std::string_view bytes, UnixTime retain_until) const;
  // What a HEAD says of an object that exists (nullopt when the server says 404).
  struct Head {
    std::string etag;    // quotes removed
    std::string sha256;  // x-amz-meta-sha256, empty when absent
    bool kms = false;    // x-amz-server-side-encryption: aws:kms... (the ETag is not the MD5)
  };
  Result<std::optional<Head>> head(const std::string& key) const;
  // The object's bytes (kNotFound when absent).
  Result<std::string> get(const std::string& key, const std::string& version_id = {}) const;
  // Keys under `prefix` (ListObjectsV2, every page).
  Result<std::vector<std::string>> list(const std::string& prefix) const;

  std::string url_of(const std::string& key) const;  // for messages

 private:
  S3Location where_;
  S3Credentials credentials_;
};

// For the request's headers and for comparing with an ETag: lowercase hex MD5 and its
// base64 (Content-MD5).
std::string md5_hex(std::string_view bytes);
std::string md5_base64(std::string_view bytes);
// RFC 3986 unreserved characters kept, everything else %XX (SigV4's URI encoding); '/'
// kept when `keep_slash`.
std::string s3_uri_encode(std::string_view s, bool keep_slash);

}  // namespace countersign::daemon
