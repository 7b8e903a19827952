// Fetching a manifest's files into a staging directory (DESIGN.md "Box-side daemon",
// Install): sources tried in order (box mirrors, then the manifest's), several files at once
// through one libcurl multi handle, SHA-256 computed while the bytes stream in (no second
// pass), a transfer cut the moment it exceeds the declared size, resumed with HTTP Range
// after an interruption or a restart, slow or stalled sources dropped for the next one.
//
// Staging layout (the privileged helper relies on it), for staging directory <staging>
// (<models>/.staging/<manifest hex>):
// - <staging>/<path>: complete, verified files only, directories created as needed. Nothing
//   else is ever written inside <staging>.
// - <staging>.parts/<index>: the partial download of manifest.files()[index] (decimal, as
//   std::to_string writes it), a sibling directory of <staging>, so no temporary name can be
//   a manifest path. Created (0750) when a file needs fetching; renamed to <staging>/<path>
//   once its size and SHA-256 verified; the directory is removed, empty, once every file
//   verified, and kept with its files after an error or a cancel, for a resume.
// Every file is opened relative to a directory descriptor with O_NOFOLLOW on every
// component: a symlink (or anything that is not a regular file or directory) found in
// staging, or anything in the parts directory that is not a regular file named by an index
// of this manifest, aborts the fetch (staging was tampered with).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/manifest.h"
#include "core/result.h"
#include "core/secret.h"

namespace countersign::daemon {

struct S3Credentials {
  std::string access_key_id;
  SecretBytes secret_access_key;
};

struct FetchSettings {
  unsigned parallel = 4;  // files in flight at once
  // Ranged fetching (config range_threshold, connections_per_file): an HTTP-sourced file of
  // at least range_threshold bytes (and more than one range) is fetched as ranges of
  // range_size over up to connections_per_file connections, written in place, hashed in file
  // order as the contiguous prefix grows (docs/daemon.md "Ranged fetching").
  std::uint64_t range_threshold = 64u << 20;
  unsigned connections_per_file = 8;  // 1..64; 1 = one connection a file
  // Not a config key: 8 MiB keeps a slow connection from holding the hash frontier back by
  // more than one range, and one request per range costs nothing next to its bytes (aria2's
  // -k). The range map records it: a map written with another range size is not trusted.
  // Tests set it smaller to cut small files into many ranges.
  std::uint64_t range_size = 8u << 20;
  std::int64_t connect_timeout_seconds = 15;
  std::int64_t stall_timeout_seconds = 30;  // below 1 KiB/s for this long: next source
  long max_redirects = 5;
  std::optional<SecretBytes> hf_token;  // Bearer token, sent only to huggingface sources
  std::optional<S3Credentials> s3;      // SigV4 for s3 sources when set
  std::string ca_file;                  // optional CA bundle for https (tests); empty = system
  // libcurl CURLOPT_CONNECT_TO entries, "HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT": reach a
  // source's host at another address (split-horizon networks; tests point huggingface.co at
  // a local server). TLS still checks the certificate against the source's own host name.
  std::vector<std::string> connect_to;
};

// What happened, for the audit log. Called on the fetching thread.
struct FetchEvent {
  enum class Kind {
    kSourceFailed,  // could not get the file from this source (HTTP error, timeout, ...)
    kHashMismatch,  // the source gave wrong bytes: too many, too few or a wrong SHA-256
    kFileVerified,  // the file is complete and verified
  };
  Kind kind = Kind::kSourceFailed;
  std::string path;    // manifest path
  std::string source;  // Source::describe() of the source involved
  std::string reason;  // for failures: what went wrong ("HTTP 404", "more bytes than the 1024 declared")
};

struct FileProgress {
  std::size_t file = 0;     // index into manifest.files()
  std::uint64_t done = 0;   // bytes verified-so-far (streamed and hashed)
  std::uint64_t total = 0;  // declared size
  std::string source;       // source currently used (describe()), empty when idle
};

struct FetchObserver {
  std::function<void(const FetchEvent&)> on_event;
  // Throttled by the fetcher (at most a few times a second per file).
  std::function<void(const FileProgress&)> on_progress;
  // Polled; returning true stops all transfers and fetch_manifest returns kInternal "cancelled".
  std::function<bool()> cancelled;
};

// Fetches every file of `manifest` into `staging_dir` (an existing directory, not a symlink;
// its parent must be writable for the parts directory). `mirrors` are tried before
// manifest.sources(), in order. Files already complete at <staging>/<path> are re-hashed and
// kept when they match, deleted and fetched again when not; partial files
// <staging>.parts/<index> are hashed and resumed with a Range request (a source that ignores
// Range is read from the start again).
// Returns when every file verified (and <staging>.parts is gone), or with an error naming
// the first file no source could deliver (kNotFound "no source gave the right bytes for
// PATH: <last reason per source>"), or the tampering found in staging or its parts directory
// (kInvalidArgument "staging was tampered with: NAME ..."). It never deletes staging_dir
// itself.
//
// In detail (what a caller and the audit log can rely on):
// - A source giving too many bytes (cut before they reach the disk), too few, or a wrong
//   SHA-256: kHashMismatch event, its partial file is deleted, next source from byte 0. When
//   the wrong file began with bytes from an earlier attempt (a partial file from before a
//   restart, or from the previous source), the same source is first asked again from byte 0.
// - HTTP errors, refused or failed connections, TLS failures, a stall (below 1 KiB/s for
//   stall_timeout_seconds): kSourceFailed event; the bytes so far are kept and the next
//   source is asked for the rest with Range. A connection that drops mid-file is first
//   resumed on the same source with Range, up to twice, without an event.
// - kNotFound also when some file still needs bytes and there is no source at all.
// - Other errors: kIo (staging cannot be written), kInternal "cancelled" (observer), which
//   keep the partial files for the next run. Transfers still running when it returns are
//   stopped.
Result<void> fetch_manifest(const Manifest& manifest, std::span<const Source> mirrors,
                            const std::string& staging_dir, const FetchSettings& settings,
                            const FetchObserver& observer);

// The URL libcurl fetches for one file of one source ("file://" URLs for file sources,
// every path segment percent-encoded).
std::string fetch_url(const Source& source, std::string_view path);

// What fetch_manifest asks libcurl to do for one file of one source, as plain data so tests
// can check it. Holds no secret: only whether one is sent.
struct RequestPlan {
  std::string url;                // fetch_url()
  std::string protocols;          // CURLOPT_PROTOCOLS_STR: "http,https", or "file" for file sources
  bool follow_redirects = false;  // to http/https only, at most FetchSettings::max_redirects
  bool bearer_token = false;      // hf_token as "Authorization: Bearer" (huggingface sources only)
  std::string aws_sigv4;          // CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3"; empty = not signed
};
RequestPlan plan_request(const Source& source, std::string_view path, const FetchSettings& settings);

}  // namespace countersign::daemon
