#include "daemon/s3_archive.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/audit_entry.h"
#include "core/bytes.h"
#include "core/checkpoint.h"
#include "core/fileio.h"
#include "core/merkle.h"
#include "core/sha256.h"
#include "core/signed_note.h"
#include "core/timeutil.h"
#include "daemon/credentials.h"
#include "daemon/s3_client.h"

namespace countersign::daemon {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

std::string padded(std::uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%012" PRIu64, n);
  return buf;
}

std::string base_key(const std::string& prefix, const std::string& box_id) {
  return (prefix.empty() ? std::string() : prefix + "/") + box_id;
}

class S3Archive final : public LogDestination {
 public:
  S3Archive(const Config& config, S3Url url, S3Credentials credentials)
      : client_({url.endpoint, url.bucket, config.s3_archive_region, config.s3_archive_ca.value_or("")},
                std::move(credentials)),
        url_(std::move(url)),
        box_id_(config.box_id),
        retention_(config.s3_archive_retention_seconds),
        segment_entries_(config.s3_archive_segment_entries),
        segment_time_(std::chrono::seconds(config.s3_archive_segment_seconds)),
        checkpoint_cursor_(config.daemon_dir() + "/ship/s3.checkpoints.json") {}

  std::string name() const override { return "s3"; }
  std::string describe() const override {
    return "S3 archive " + client_.url_of(url_.prefix) + " (Object Lock)";
  }
  std::size_t batch_limit() const override { return segment_entries_; }

  bool ready(std::uint64_t first_index, std::size_t available, bool flushing) override {
    if (available >= segment_entries_ || flushing) return true;
    const auto now = SteadyClock::now();
    if (!waiting_since_ || waiting_first_ != first_index) {
      waiting_first_ = first_index;
      waiting_since_ = now;
    }
    return now - *waiting_since_ >= segment_time_;
  }

  Result<void> deliver(std::uint64_t first_index, const std::vector<std::string>& entries) override {
    if (entries.empty()) return {};
    std::string body;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      body += audit::export_line(first_index + i, entries[i], merkle::leaf_hash(as_bytes(entries[i])));
      body += '\n';
    }
    const std::uint64_t last = first_index + entries.size() - 1;
    CS_TRY_VOID(put_once(s3_segment_key(url_.prefix, box_id_, first_index, last), body));
    waiting_since_.reset();
    return {};
  }

  Result<void> after(const audit::AuditLog& log, std::uint64_t delivered) override {
    const std::string file = log.dir() + "/checkpoints";
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
      if (errno == ENOENT) return {};
      return Error(Errc::kIo, "cannot inspect " + file + ": " + std::strerror(errno));
    }
    if (st.st_size == seen_size_ && !waiting_for_entries_) return {};
    if (!uploaded_) CS_TRY_VOID(load_cursor());
    CS_TRY(std::vector<std::string> notes, log.checkpoints());
    // `log` knows the checkpoints there were when it was opened; the file may have grown
    // since. What it read is remembered, so that those appended later are read next round.
    off_t read_size = static_cast<off_t>(audit::kHeaderSize);
    for (const auto& n : notes) read_size += static_cast<off_t>(audit::kRecordOverhead + n.size());
    waiting_for_entries_ = false;
    for (std::size_t i = *uploaded_; i < notes.size(); ++i) {
      CS_TRY(note::Note n, note::Note::parse(notes[i]));
      CS_TRY(Checkpoint cp, Checkpoint::parse(n.text()));
      if (cp.size > delivered) {  // its entries are not all in the bucket yet
        waiting_for_entries_ = true;
        break;
      }
      CS_TRY_VOID(put_once(s3_checkpoint_key(url_.prefix, box_id_, cp.size), notes[i]));
      uploaded_ = i + 1;
      CS_TRY_VOID(write_file_atomic(checkpoint_cursor_, json{{"uploaded", *uploaded_}}.dump() + "\n", 0640));
    }
    seen_size_ = std::min(st.st_size, read_size);
    return {};
  }

 private:
  Result<void> load_cursor() {
    struct stat st {};
    if (::lstat(checkpoint_cursor_.c_str(), &st) != 0) {
      if (errno != ENOENT)
        return Error(Errc::kIo, "cannot inspect " + checkpoint_cursor_ + ": " + std::strerror(errno));
      uploaded_ = 0;
      return {};
    }
    CS_TRY(std::string text, read_file(checkpoint_cursor_, 4096));
    json j = json::parse(text, nullptr, false);
    if (!j.is_object() || !j.contains("uploaded") || !j["uploaded"].is_number_unsigned()) {
      return Error(Errc::kInvalidDocument,
                   checkpoint_cursor_ +
                       ": not a cursor ({\"uploaded\": N}); remove it to upload every "
                       "checkpoint again (those already there are kept)");
    }
    uploaded_ = j["uploaded"].get<std::size_t>();
    return {};
  }

  // PUT unless the key already holds exactly these bytes; other bytes there are an error.
  // What the key holds is told by the SHA-256 the box put beside it (x-amz-meta-sha256), or
  // else by its ETag, the MD5 of the bytes unless the bucket encrypts with KMS.
  Result<void> put_once(const std::string& key, const std::string& bytes) {
    CS_TRY(std::optional<S3Client::Head> existing, client_.head(key));
    if (existing) {
      const std::string our_sha = hex_encode(sha256(bytes));
      std::string theirs, ours;
      if (!existing->sha256.empty()) {
        if (existing->sha256 == our_sha) return {};
        theirs = "SHA-256 " + existing->sha256, ours = "SHA-256 " + our_sha;
      } else if (!existing->kms) {
        const std::string md5 = md5_hex(bytes);
        if (existing->etag == md5) return {};
        theirs = "ETag " + existing->etag, ours = "MD5 " + md5;
      } else {
        theirs = "no x-amz-meta-sha256, and a KMS ETag that says nothing of its bytes";
        ours = "SHA-256 " + our_sha;
      }
      return Error(Errc::kRejected, client_.url_of(key) + " already holds other bytes (" + theirs +
                                        ", this box's have " + ours +
                                        "): not uploading a second version under the same key; find out who "
                                        "wrote it (the bucket's access log)");
    }
    CS_TRY(std::string version, client_.put_locked(key, bytes, system_now() + retention_));
    (void)version;
    return {};
  }

  S3Client client_;
  S3Url url_;
  std::string box_id_;
  std::int64_t retention_;
  std::size_t segment_entries_;
  std::chrono::seconds segment_time_;
  std::string checkpoint_cursor_;
  std::uint64_t waiting_first_ = 0;
  std::optional<SteadyClock::time_point> waiting_since_;
  std::optional<std::size_t> uploaded_;  // checkpoints uploaded (loaded on first use)
  off_t seen_size_ = -1;                 // the checkpoints file's bytes read when last looked at
  bool waiting_for_entries_ = false;
};

}  // namespace

std::string s3_segment_key(const std::string& prefix, const std::string& box_id, std::uint64_t first,
                           std::uint64_t last) {
  return base_key(prefix, box_id) + "/segments/" + padded(first) + "-" + padded(last) + ".jsonl";
}

std::string s3_checkpoint_key(const std::string& prefix, const std::string& box_id, std::uint64_t size) {
  return base_key(prefix, box_id) + "/checkpoints/" + padded(size) + ".note";
}

Result<std::unique_ptr<LogDestination>> s3_archive_destination(const Config& config) {
  if (!config.s3_archive) return Error(Errc::kInvalidArgument, "s3_archive is not set");
  auto url = parse_s3_url(*config.s3_archive);
  if (!url.ok()) return url.error().with_context("s3_archive");
  if (!config.s3_archive_credentials) {
    return Error(Errc::kInvalidArgument,
                 "s3_archive needs s3_archive_credentials (access key id, secret key)");
  }
  CS_TRY(SecretBytes contents, read_private_secret_file(*config.s3_archive_credentials));
  auto credentials = parse_s3_credentials(contents.view());
  if (!credentials.ok()) {
    return Error(Errc::kInvalidArgument, *config.s3_archive_credentials +
                                             ": expected two lines, the access key id then the secret key");
  }
  return std::unique_ptr<LogDestination>(new S3Archive(config, std::move(*url), std::move(*credentials)));
}

}  // namespace countersign::daemon
