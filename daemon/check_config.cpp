#include "daemon/check_config.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/secret.h"
#include "smartcard/attestation.h"
#include "system/records.h"

namespace countersign::daemon {
namespace {

// An existing directory this process may create entries in (access(2) with the real ids,
// which are the daemon's: it is not set-id).
Result<void> writable_dir(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0)
    return Error(Errc::kNotFound, "missing (" + std::string(std::strerror(errno)) + ")");
  if (::access(path.c_str(), W_OK | X_OK) != 0)
    return Error(Errc::kRejected, "not writable by this user (" + std::string(std::strerror(errno)) + ")");
  return {};
}

}  // namespace

int check_config(const Config& config, SystemClient& helper, std::ostream& out) {
  bool all_ok = true;
  auto report = [&](const std::string& what, const std::string& path, const Result<void>& r) {
    if (r.ok()) {
      out << "ok   " << what << ": " << path << "\n";
    } else {
      all_ok = false;
      out << "FAIL " << what << ": " << path << ": " << r.error().message << "\n";
    }
  };
  report("policy chain replays", config.policy, [&]() -> Result<void> {
    CS_TRY(auto roots, attestation::Roots::pinned_plus(config.attestation_roots));
    CS_TRY(auto chain, read_policy_chain(config, [&roots](const PolicyKey& k) {
             return attestation::check(k, roots).verified;
           }));
    (void)chain;
    return {};
  }());
  report("daemon state directory", config.daemon_dir(), writable_dir(config.daemon_dir()));
  report("staging directory", config.staging_dir(), writable_dir(config.staging_dir()));
  if (config.hf_token_file)
    report("hf_token_file private", *config.hf_token_file, check_private_file(*config.hf_token_file));
  if (config.s3_credentials_file)
    report("s3_credentials_file private", *config.s3_credentials_file,
           check_private_file(*config.s3_credentials_file));
  if (config.s3_archive_credentials)
    report("s3_archive_credentials private", *config.s3_archive_credentials,
           check_private_file(*config.s3_archive_credentials));

  auto checked = helper.check();
  if (!checked.ok()) {
    report("countersign-system check", "", checked.error());
  } else {
    for (const auto& c : checked->value("checks", nlohmann::json::array())) {
      if (!c.is_object()) continue;
      const std::string what = "helper: " + c.value("check", std::string("?"));
      const std::string path = c.value("path", std::string());
      if (c.value("ok", false)) {
        report(what, path, Result<void>());
      } else {
        report(what, path, Error(Errc::kRejected, c.value("detail", std::string("failed"))));
      }
    }
    if (!checked->value("ok", false)) all_ok = false;
  }
  out << (all_ok ? "configuration checked: all passed\n" : "configuration checked: something is wrong\n");
  return all_ok ? 0 : 2;
}

}  // namespace countersign::daemon
