#include "cli/box_client.h"

#include <curl/curl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <mutex>

#include "core/jcs.h"

namespace countersign::cli {
namespace {

constexpr std::size_t kMaxAnswer = std::size_t{256} << 20;

struct Sink {
  std::string body;
  bool too_large = false;
};

std::size_t collect(char* data, std::size_t size, std::size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  if (sink->body.size() + size * n > kMaxAnswer) {  // a runaway answer: stop
    sink->too_large = true;
    return 0;
  }
  sink->body.append(data, size * n);
  return size * n;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Error unreachable(const BoxEndpoint& box, Errc code, const std::string& what) {
  return Error(code, "cannot reach countersignd at " + box.describe() + ": " + what);
}

// Before connecting: a socket path that is not there or not a socket says so plainly.
Result<void> check_socket_path(const BoxEndpoint& box) {
  struct stat st {};
  if (::stat(box.socket.c_str(), &st) != 0) {
    if (errno == ENOENT)
      return unreachable(box, Errc::kNotFound, "no socket there (is countersignd running?)");
    if (errno == EACCES) {
      return unreachable(box, Errc::kIo,
                         std::string("permission denied (members of group ") + kApiGroup + " may connect)");
    }
    return {};  // let connect() say what is wrong
  }
  if (!S_ISSOCK(st.st_mode)) return unreachable(box, Errc::kIo, "not a socket");
  return {};
}

// Why curl got no answer, in words a user can act on.
Error transport_error(const BoxEndpoint& box, CURLcode rc, const char* detail, const Sink& sink) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return unreachable(box, Errc::kTimeout, std::string("no answer in time (") + detail + ")");
    case CURLE_GOT_NOTHING:
      return unreachable(box, Errc::kIo, "the connection closed without an answer");
    case CURLE_COULDNT_CONNECT:
      if (!box.url && ::access(box.socket.c_str(), W_OK) != 0 && errno == EACCES) {
        return unreachable(box, Errc::kIo,
                           std::string("permission denied (members of group ") + kApiGroup + " may connect)");
      }
      return unreachable(box, Errc::kIo, std::string("connection refused (") + detail + ")");
    case CURLE_WRITE_ERROR:
      if (sink.too_large) return unreachable(box, Errc::kIo, "the answer is larger than 256 MiB");
      break;
    default:
      break;
  }
  return unreachable(box, Errc::kIo, detail);
}

// "HTTP 502 (37 bytes)", for messages about an answer that is not the API's.
std::string describe_reply(const HttpReply& r) {
  return "HTTP " + std::to_string(r.status) + " (" + std::to_string(r.body.size()) + " bytes)";
}

}  // namespace

Result<HttpReply> box_request(const BoxEndpoint& box, std::string_view method, std::string_view path,
                              std::string_view body, long timeout_seconds) {
  if (method != "GET" && method != "POST")
    return Error(Errc::kInternal, "unsupported method " + std::string(method));
  if (!box.url) CS_TRY_VOID(check_socket_path(box));
  global_init();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> h(curl_easy_init(), &curl_easy_cleanup);
  if (!h) return Error(Errc::kInternal, "curl_easy_init failed");
  CURL* c = h.get();
  std::string url = (box.url ? *box.url : std::string("http://localhost")) + std::string(path);
  if (!box.url) curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, box.socket.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  if (box.cacert) curl_easy_setopt(c, CURLOPT_CAINFO, box.cacert->c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_seconds);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, std::min(10L, timeout_seconds));
  char detail[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
  Sink sink;
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr, &curl_slist_free_all);
  if (method == "POST") {
    headers.reset(curl_slist_append(nullptr, "Content-Type: application/json"));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) return transport_error(box, rc, detail[0] ? detail : curl_easy_strerror(rc), sink);
  HttpReply reply;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  reply.body = std::move(sink.body);
  return reply;
}

Result<ApiAnswer> api_answer(const BoxEndpoint& box, const HttpReply& reply, bool json_expected) {
  auto not_the_api = [&](const std::string& what) {
    return Error(Errc::kMalformed, "countersignd at " + box.describe() + " answered " +
                                       describe_reply(reply) + " " + what +
                                       ", which is not its API's answer");
  };
  ApiAnswer a;
  a.status = reply.status;
  const bool error_status = reply.status >= 400;
  if (!error_status && (reply.status < 200 || reply.status >= 300))
    return not_the_api("with an unexpected status");
  if (!error_status && !json_expected) return a;
  auto j = jcs::parse(reply.body);
  if (!j.ok() || !j->is_object()) return not_the_api("with a body that is not a JSON object");
  if (!error_status) {
    a.json = std::move(*j);
    return a;
  }
  if (!j->contains("error") || !(*j)["error"].is_string()) return not_the_api("without an \"error\" member");
  if (j->contains("reasons") && (*j)["reasons"].is_array() && !(*j)["reasons"].empty()) {
    for (const auto& r : (*j)["reasons"]) {
      if (!a.reason.empty()) a.reason += "; ";
      a.reason += r.is_string() ? r.get<std::string>() : r.dump();
    }
  } else if (j->contains("reason") && (*j)["reason"].is_string() &&
             !(*j)["reason"].get<std::string>().empty()) {
    a.reason = (*j)["reason"].get<std::string>();
  } else {
    a.reason = (*j)["error"].get<std::string>();
  }
  a.json = std::move(*j);
  return a;
}

}  // namespace countersign::cli
