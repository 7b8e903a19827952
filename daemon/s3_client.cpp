#include "daemon/s3_client.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "core/bytes.h"
#include "core/sha256.h"

namespace countersign::daemon {
namespace {

constexpr std::size_t kMaxAnswer = 1u << 20;
constexpr long kConnectTimeout = 15;
constexpr long kRequestTimeout = 60;

struct Curl {
  CURL* h = curl_easy_init();
  curl_slist* headers = nullptr;
  ~Curl() {
    curl_slist_free_all(headers);
    if (h != nullptr) curl_easy_cleanup(h);
  }
};

struct Answer {
  S3Response* r;
  bool too_big = false;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* a = static_cast<Answer*>(user);
  const std::size_t len = size * n;
  if (a->r->body.size() + len > kMaxAnswer) {
    a->too_big = true;
    return 0;
  }
  a->r->body.append(data, len);
  return len;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* a = static_cast<Answer*>(user);
  const std::size_t len = size * n;
  std::string_view line(data, len);
  const auto colon = line.find(':');
  if (colon != std::string_view::npos && a->r->headers.size() < 128) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    a->r->headers[name] = std::string(value.substr(0, 4096));
  }
  return len;
}

// The text between <tag> and </tag> in an S3 XML document, from `from`; npos-safe.
std::string xml_text(const std::string& doc, const std::string& tag, std::size_t& from) {
  const std::string open = "<" + tag + ">", close = "</" + tag + ">";
  const auto a = doc.find(open, from);
  if (a == std::string::npos) {
    from = std::string::npos;
    return {};
  }
  const auto b = doc.find(close, a + open.size());
  if (b == std::string::npos) {
    from = std::string::npos;
    return {};
  }
  from = b + close.size();
  return doc.substr(a + open.size(), b - a - open.size());
}

std::string xml_unescape(std::string s) {
  static const std::pair<std::string_view, char> kEntities[] = {
      {"&quot;", '"'}, {"&apos;", '\''}, {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}};
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    bool replaced = false;
    if (s[i] == '&') {
      for (const auto& [name, c] : kEntities) {
        if (s.compare(i, name.size(), name) == 0) {
          out += c;
          i += name.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out += s[i++];
  }
  return out;
}

std::string digest_base64(std::string_view bytes, const EVP_MD* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), out, &len, md, nullptr);
  return base64_encode(ByteView(out, len));
}

}  // namespace

std::string md5_hex(std::string_view bytes) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), out, &len, EVP_md5(), nullptr);
  return hex_encode(ByteView(out, len));
}

std::string md5_base64(std::string_view bytes) { return digest_base64(bytes, EVP_md5()); }

std::string s3_uri_encode(std::string_view s, bool keep_slash) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string S3Response::error_text() const {
  std::size_t from = 0;
  const std::string code = xml_text(body, "Code", from);
  from = 0;
  const std::string message = xml_text(body, "Message", from);
  std::string out = "HTTP " + std::to_string(status);
  if (!code.empty()) out += " " + xml_unescape(code);
  if (!message.empty()) out += ": " + xml_unescape(message);
  return out;
}

S3Client::S3Client(S3Location where, S3Credentials credentials)
    : where_(std::move(where)), credentials_(std::move(credentials)) {}

std::string S3Client::url_of(const std::string& key) const {
  return where_.endpoint + "/" + where_.bucket + (key.empty() ? "" : "/" + key);
}

Result<S3Response> S3Client::request(const std::string& method, const std::string& key,
                                     const std::string& query, std::string_view body,
                                     const std::vector<std::string>& headers) const {
  Curl c;
  if (c.h == nullptr) return Error(Errc::kInternal, "libcurl could not make a handle");
  const std::string url = where_.endpoint + "/" + where_.bucket +
                          (key.empty() ? "" : "/" + s3_uri_encode(key, true)) +
                          (query.empty() ? "" : "?" + query);
  const std::string sigv4 = "aws:amz:" + where_.region + ":s3";
  SecretBytes secret(credentials_.secret_access_key.size() + 1);
  if (!credentials_.secret_access_key.empty()) {
    std::memcpy(secret.data(), credentials_.secret_access_key.data(), credentials_.secret_access_key.size());
  }
  std::vector<std::string> all = headers;
  all.push_back("x-amz-content-sha256: " + hex_encode(sha256(body)));
  if (method == "PUT" || method == "POST") all.push_back("Content-Type: application/octet-stream");
  for (const auto& h : all) {
    curl_slist* next = curl_slist_append(c.headers, h.c_str());
    if (next == nullptr) return Error(Errc::kInternal, "out of memory for a request header");
    c.headers = next;
  }
  S3Response r;
  Answer a{&r};
  bool ok = true;
  auto set = [&](CURLcode code) { ok = ok && code == CURLE_OK; };
  set(curl_easy_setopt(c.h, CURLOPT_URL, url.c_str()));
  set(curl_easy_setopt(c.h, CURLOPT_PROTOCOLS_STR, "http,https"));
  set(curl_easy_setopt(c.h, CURLOPT_NOSIGNAL, 1L));
  set(curl_easy_setopt(c.h, CURLOPT_CONNECTTIMEOUT, kConnectTimeout));
  set(curl_easy_setopt(c.h, CURLOPT_TIMEOUT, kRequestTimeout));
  set(curl_easy_setopt(c.h, CURLOPT_AWS_SIGV4, sigv4.c_str()));
  set(curl_easy_setopt(c.h, CURLOPT_USERNAME, credentials_.access_key_id.c_str()));
  set(curl_easy_setopt(c.h, CURLOPT_PASSWORD, reinterpret_cast<const char*>(secret.data())));
  set(curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, c.headers));
  set(curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, on_body));
  set(curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &a));
  set(curl_easy_setopt(c.h, CURLOPT_HEADERFUNCTION, on_header));
  set(curl_easy_setopt(c.h, CURLOPT_HEADERDATA, &a));
  if (!where_.ca_file.empty()) set(curl_easy_setopt(c.h, CURLOPT_CAINFO, where_.ca_file.c_str()));
  if (method == "HEAD") {
    set(curl_easy_setopt(c.h, CURLOPT_NOBODY, 1L));
  } else if (method != "GET") {
    set(curl_easy_setopt(c.h, CURLOPT_CUSTOMREQUEST, method.c_str()));
  }
  if (method == "PUT" || method == "POST") {
    set(curl_easy_setopt(c.h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size())));
    set(curl_easy_setopt(c.h, CURLOPT_POSTFIELDS, body.data()));
  }
  if (!ok) return Error(Errc::kInternal, "libcurl refused an option for " + url);
  char why[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c.h, CURLOPT_ERRORBUFFER, why);
  const CURLcode rc = curl_easy_perform(c.h);
  if (a.too_big) return Error(Errc::kIo, method + " " + url + ": the answer is larger than 1 MiB");
  if (rc != CURLE_OK) {
    return Error(Errc::kIo, method + " " + url + ": " + (why[0] != '\0' ? why : curl_easy_strerror(rc)));
  }
  curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

Result<std::string> S3Client::put_locked(const std::string& key, std::string_view bytes,
                                         UnixTime retain_until) const {
  CS_TRY(S3Response r, request("PUT", key, {}, bytes,
                               {"Content-MD5: " + md5_base64(bytes), "x-amz-object-lock-mode: COMPLIANCE",
                                "x-amz-object-lock-retain-until-date: " + format_rfc3339(retain_until),
                                "x-amz-meta-sha256: " + hex_encode(sha256(bytes))}));
  if (r.status != 200) return Error(Errc::kIo, "PUT " + url_of(key) + ": " + r.error_text());
  auto etag = r.headers.find("etag");
  auto sse = r.headers.find("x-amz-server-side-encryption");
  const bool kms = sse != r.headers.end() && sse->second.starts_with("aws:kms");
  if (etag != r.headers.end() && !kms) {  // the server checked Content-MD5 either way
    std::string e = etag->second;
    e.erase(std::remove(e.begin(), e.end(), '"'), e.end());
    if (e != md5_hex(bytes)) {
      return Error(Errc::kHashMismatch, "PUT " + url_of(key) + ": the server stored ETag " + e +
                                            ", not the MD5 of what was sent (" + md5_hex(bytes) + ")");
    }
  }
  auto v = r.headers.find("x-amz-version-id");
  return v == r.headers.end() ? std::string() : v->second;
}

Result<std::optional<S3Client::Head>> S3Client::head(const std::string& key) const {
  CS_TRY(S3Response r, request("HEAD", key));
  if (r.status == 404) return std::optional<Head>();
  if (r.status != 200) return Error(Errc::kIo, "HEAD " + url_of(key) + ": HTTP " + std::to_string(r.status));
  auto etag = r.headers.find("etag");
  if (etag == r.headers.end()) return Error(Errc::kIo, "HEAD " + url_of(key) + ": no ETag in the answer");
  Head h;
  h.etag = etag->second;
  h.etag.erase(std::remove(h.etag.begin(), h.etag.end(), '"'), h.etag.end());
  if (auto m = r.headers.find("x-amz-meta-sha256"); m != r.headers.end()) h.sha256 = m->second;
  auto sse = r.headers.find("x-amz-server-side-encryption");
  h.kms = sse != r.headers.end() && sse->second.starts_with("aws:kms");
  return std::optional<Head>(std::move(h));
}

Result<std::string> S3Client::get(const std::string& key, const std::string& version_id) const {
  CS_TRY(S3Response r,
         request("GET", key, version_id.empty() ? "" : "versionId=" + s3_uri_encode(version_id, false)));
  if (r.status == 404) return Error(Errc::kNotFound, "GET " + url_of(key) + ": no such object");
  if (r.status != 200) return Error(Errc::kIo, "GET " + url_of(key) + ": " + r.error_text());
  return std::move(r.body);
}

Result<std::vector<std::string>> S3Client::list(const std::string& prefix) const {
  std::vector<std::string> keys;
  std::string token;
  for (int page = 0; page < 100000; ++page) {
    std::string query = token.empty() ? "" : "continuation-token=" + s3_uri_encode(token, false) + "&";
    query += "list-type=2&prefix=" + s3_uri_encode(prefix, false);
    CS_TRY(S3Response r, request("GET", {}, query));
    if (r.status != 200) return Error(Errc::kIo, "list " + url_of(prefix) + ": " + r.error_text());
    for (std::size_t from = 0; from != std::string::npos;) {
      std::string contents = xml_text(r.body, "Contents", from);
      if (from == std::string::npos) break;
      std::size_t k = 0;
      std::string key = xml_text(contents, "Key", k);
      if (k != std::string::npos) keys.push_back(xml_unescape(key));
    }
    std::size_t t = 0;
    const std::string truncated = xml_text(r.body, "IsTruncated", t);
    t = 0;
    token = xml_unescape(xml_text(r.body, "NextContinuationToken", t));
    if (truncated != "true" || token.empty()) return keys;
  }
  return Error(Errc::kIo, "list " + url_of(prefix) + ": more than 100000 pages");
}

}  // namespace countersign::daemon
