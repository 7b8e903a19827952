// The secrets the fetcher sends to sources (FetchSettings, daemon/fetch.h), read from the
// files the configuration names into SecretBytes; never logged, never in a message.
//
//   hf_token_file         the Hugging Face token (core's read_private_secret_file: the
//                         whole file less one trailing newline)
//   s3_credentials_file   two lines: the access key id, then the secret access key
#pragma once

#include <cstdint>
#include <span>

#include "core/result.h"
#include "daemon/config.h"
#include "daemon/fetch.h"

namespace countersign::daemon {

// Splits the contents of an s3_credentials_file (as read_secret_file returns them) at the
// first newline: the access key id before it, the secret access key after it, without any
// trailing "\n" or "\r". Error (kInvalidArgument, naming the key, not the contents): there is
// no newline.
Result<S3Credentials> parse_s3_credentials(std::span<const std::uint8_t> contents);

// Reads hf_token_file and s3_credentials_file, those that are set, into `settings`. Each
// must be readable and writable by its owner only (core/secret.h read_private_secret_file):
// otherwise kRejected, naming the file, its mode and "chmod 600". Errors name the file or
// the key, never the contents.
Result<void> load_fetch_credentials(const Config& config, FetchSettings& settings);

}  // namespace countersign::daemon
