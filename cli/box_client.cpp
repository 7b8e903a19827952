#include "cli/box_client.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace countersign::cli {
namespace {

std::size_t collect(char* data, std::size_t size, std::size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->size() > (256u << 20)) return 0;  // a runaway answer: stop
  out->append(data, size * n);
  return size * n;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

Result<HttpReply> box_request(const BoxEndpoint& box, std::string_view method, std::string_view path,
                              std::string_view body, long timeout_seconds) {
  global_init();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> h(curl_easy_init(), &curl_easy_cleanup);
  if (!h) return Error(Errc::kInternal, "curl_easy_init failed");
  CURL* c = h.get();
  std::string url = (box.url ? *box.url : std::string("http://localhost")) + std::string(path);
  if (!box.url) curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, box.socket.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_seconds);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  HttpReply reply;
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr, &curl_slist_free_all);
  if (method == "POST") {
    headers.reset(curl_slist_append(nullptr, "Content-Type: application/json"));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  } else if (method != "GET") {
    return Error(Errc::kInternal, "unsupported method " + std::string(method));
  }
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    return Error(Errc::kIo, "cannot reach countersignd at " + box.describe() + ": " + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

}  // namespace countersign::cli
