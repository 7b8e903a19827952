#include "daemon/credentials.h"

#include <string_view>

#include "core/bytes.h"
#include "core/secret.h"

namespace countersign::daemon {

Result<S3Credentials> parse_s3_credentials(std::span<const std::uint8_t> contents) {
  // A view of the guarded bytes: the secret is copied once, into SecretBytes.
  std::string_view text(reinterpret_cast<const char*>(contents.data()), contents.size());
  auto nl = text.find('\n');
  if (nl == std::string_view::npos) {
    return Error(Errc::kInvalidArgument,
                 "s3_credentials_file: expected two lines, access key id then secret key");
  }
  auto secret = text.substr(nl + 1);
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.remove_suffix(1);
  return S3Credentials{std::string(text.substr(0, nl)), SecretBytes::copy_of(as_bytes(secret))};
}

Result<void> load_fetch_credentials(const Config& config, FetchSettings& settings) {
  // Only their owner (the daemon's user) may read them: anyone else who could would hold the
  // box's credentials for its sources. Refused, naming the file and its mode.
  if (config.hf_token_file) {
    CS_TRY(SecretBytes token, read_private_secret_file(*config.hf_token_file));
    settings.hf_token.emplace(std::move(token));
  }
  if (config.s3_credentials_file) {
    CS_TRY(SecretBytes contents, read_private_secret_file(*config.s3_credentials_file));
    CS_TRY(S3Credentials creds, parse_s3_credentials(contents.view()));
    settings.s3.emplace(std::move(creds));
  }
  return {};
}

}  // namespace countersign::daemon
