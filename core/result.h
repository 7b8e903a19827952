// Result<T>: the error-as-value type used at every module boundary.
//
// A Result holds either a value or an Error. An Error carries an enumerated code that
// callers branch on and a message a person can act on ("manifest /files/3/sha256: expected
// 64 lowercase hex digits"). No exceptions cross module boundaries (STYLE.md).
#pragma once

#include <cstdlib>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace countersign {

enum class Errc {
  kInvalidArgument,  // a caller or user passed something unusable
  kMalformed,        // input bytes do not parse (JSON syntax, base64, DER, ...)
  kInvalidDocument,  // parses, but breaks a rule of DESIGN.md
  kUnknownSchema,    // "schema" is missing or not one we know
  kCrypto,           // a cryptographic operation failed or a signature did not verify
  kIo,               // file system or stream error
  kNotFound,         // a file, key or device that was asked for is not there
  kWrongPassphrase,  // a key file could not be decrypted
  kWrongPin,         // a PIN was wrong; Error::retries says how many tries are left
  kPinLocked,        // no PIN tries left
  kNoDevice,         // no reader, card or authenticator
  kTimeout,          // waited too long (touch, network)
  kCancelled,        // the user cancelled (a security key request stopped on request)
  kHashMismatch,     // bytes do not have the hash they were promised to have
  kRejected,         // a policy decision said no (threshold not met, expired, ...)
  kUnsupported,      // valid request we cannot do here
  kInternal,         // a bug or an unexpected library failure
};

// Short stable name of an error code ("malformed", "wrong-pin"), for --json output.
const char* errc_name(Errc code);

struct Error {
  Errc code = Errc::kInternal;
  std::string message;
  int retries = -1;  // PIN tries left where known (kWrongPin), else -1

  Error() = default;
  Error(Errc c, std::string m, int r = -1) : code(c), message(std::move(m)), retries(r) {}

  // Returns a copy whose message is prefixed with `context: `.
  Error with_context(const std::string& context) const {
    return Error(code, context + ": " + message, retries);
  }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT(implicit)
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(implicit)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // Precondition: ok(). Calling these on an error aborts (a programming error).
  T& value() & {
    check();
    return std::get<0>(v_);
  }
  const T& value() const& {
    check();
    return std::get<0>(v_);
  }
  T&& value() && {
    check();
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // Precondition: !ok().
  const Error& error() const& {
    if (ok()) std::abort();
    return std::get<1>(v_);
  }
  Error&& error() && {
    if (ok()) std::abort();
    return std::get<1>(std::move(v_));
  }

 private:
  void check() const {
    if (!ok()) std::abort();
  }
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT(implicit)

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& {
    if (ok_) std::abort();
    return error_;
  }
  Error&& error() && {
    if (ok_) std::abort();
    return std::move(error_);
  }

 private:
  Error error_;
  bool ok_ = true;
};

inline Error make_error(Errc code, std::string message) { return Error(code, std::move(message)); }

}  // namespace countersign

// CS_TRY(auto x, expr): evaluates expr (a Result<T>); on error returns the error from the
// enclosing function, else binds the value. CS_TRY_VOID(expr) for Result<void>.
#define CS_CONCAT_INNER(a, b) a##b
#define CS_CONCAT(a, b) CS_CONCAT_INNER(a, b)
#define CS_TRY_IMPL(tmp, decl, expr)            \
  auto tmp = (expr);                            \
  if (!tmp.ok()) return std::move(tmp).error(); \
  decl = std::move(tmp).value()
#define CS_TRY(decl, expr) CS_TRY_IMPL(CS_CONCAT(cs_try_, __LINE__), decl, expr)
#define CS_TRY_VOID(expr)                                           \
  do {                                                              \
    auto cs_try_void_ = (expr);                                     \
    if (!cs_try_void_.ok()) return std::move(cs_try_void_).error(); \
  } while (0)
