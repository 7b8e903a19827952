// countersignd's configuration: one file of `key = value` lines, shared by the daemon and the
// privileged helper (countersign-system), with every key also settable as a daemon flag.
//
//   # comment
//   policy     = /etc/countersign/policy.json     the box's root of trust (required)
//   state_dir  = /var/lib/countersign              executed ids, jobs, log, models/ (required)
//   box_id     = box-7f3a                          this box's id (required)
//   log_key    = /etc/countersign/log.key          Ed25519 log signing key, from `countersign log keygen`
//   socket     = /run/countersign/countersignd.sock
//   listen     = 127.0.0.1:8441                    optional TCP listener (same API)
//   mirror     = https://mirror.internal/models/   box-local mirror, tried before the manifest's
//                                                  sources; repeatable; a source spec like
//                                                  `countersign manifest create --source`
//   snapshot   = none | btrfs:PATH | zfs:DATASET
//   system_root     = /                            the root file system Debian packages go into
//   system_snapshot = none | btrfs:PATH            its snapshot backend (PATH: system_root, a
//                                                  btrfs subvolume); zfs is not supported yet
//   nsm_device      = /dev/nsm                     the Nitro Secure Module (attested_image rules,
//                                                  `countersign box attest`)
//   helper     = sudo -n /usr/libexec/countersign/countersign-system
//   parallel   = 4                                 files fetched at once
//   range_threshold      = 64MiB                   files this size or larger may be fetched as
//                                                  byte ranges over several connections
//   connections_per_file = 8                       ... over at most this many, 1..64 (1: one
//                                                  connection a file); see FetchSettings
//   skew       = 5m                                tolerated clock difference
//   max_body   = 16MiB                             largest API request body
//   stall_timeout   = 30s                          a source slower than 1 KiB/s this long is dropped
//   connect_timeout = 15s
//   install_deadline  = 24h                        an install's fetch must finish within this
//   challenge_lifetime = 7d                        a liveness challenge is answered within this
//   min_throughput    = 16KiB                      ... and fetch at least this per second over
//   throughput_window = 10m                        this window (0: no minimum)
//   max_pending       = 64                         proposals waiting for signatures, at most
//   max_pending_bytes = 64MiB                      ... and their bytes at most
//   refusal_interval  = 60s                        one log entry per peer and reason per interval
//   hf_token_file   = /etc/countersign/hf-token    Hugging Face token (sent to huggingface.co only)
//   s3_credentials_file = /etc/countersign/s3      two lines: access key id, secret key
//   attestation_root = /etc/countersign/vendor.pem extra attestation root for require_attestation
//                                                  rules (repeatable; Yubico's are built in)
//   witness = VKEY [URL]                           an auditor's witness (repeatable): its cosigner
//                                                  key (vkey, type 0x04) and, when the box can reach
//                                                  it, its tlog-witness add-checkpoint URL
//                                                  (daemon/witnesses.h)
//
// The HTTP listener (daemon/http_server.h, docs/daemon.md "The HTTP listener"):
//   socket_group             = countersign-api     the Unix socket's group (mode 0660); unset: the
//                                                  daemon's own group
//   max_connections          = 256                 open API connections, all listeners together
//   max_connections_per_peer = 16                  per uid on the Unix socket, per IP address on TCP
//   max_body_memory          = 64MiB               request bodies buffered at once, all connections;
//                                                  at least max_body
//   header_timeout           = 10s                 accept to complete request headers (total, not idle)
//   body_timeout             = 60s                 headers to complete body (total, not idle)
//   tls_cert                 = /etc/countersign/tls/cert.pem   PEM certificate (chain) of the TCP
//                                                  listener; required with listen
//   tls_key                  = /etc/countersign/tls/key.pem    its PEM private key, readable only by
//                                                  its owner; required with listen
//   tls_client_ca            = /etc/countersign/tls/clients.pem  when set, TCP clients must present
//                                                  a certificate issued by one of these CAs
//
// The audit log leaving the box (daemon/log_shipper.h, docs/audit-log.md "Leaving the box"):
//   syslog        = siem.example.com:6514           RFC 5424 syslog over TLS (RFC 5425) to this
//                                                  collector, every entry as it is appended
//   syslog_ca     = /etc/countersign/siem-ca.pem   the CA(s) the collector's certificate must
//                                                  chain to (required with syslog)
//   syslog_name   = siem.example.com               the name (or IP) its certificate must carry
//                                                  (default: the host of syslog)
//   syslog_cert   = /etc/countersign/siem-client.pem   optional client certificate, and its key
//   syslog_key    = /etc/countersign/siem-client.key   (readable only by its owner)
//   journal       = no | yes                       also one JSON line per entry on standard
//                                                  output (the unit hands it to the journal)
//   ship_retry    = 10s                            wait between attempts when a destination fails
//   s3_archive    = https://s3.eu-central-1.amazonaws.com/BUCKET[/PREFIX]   an S3 bucket with
//                                                  Object Lock (path style) for the log's
//                                                  immutable copy (daemon/s3_archive.h)
//   s3_archive_region      = eu-central-1          its SigV4 region (default us-east-1)
//   s3_archive_credentials = /etc/countersign/s3-archive.credentials   two lines, access key id
//                                                  then secret key, readable only by its owner
//                                                  (required with s3_archive)
//   s3_archive_ca          = /etc/countersign/s3-ca.pem   optional CA bundle for https
//   witness_ca             = /etc/countersign/witness-ca.pem   optional CA bundle for https
//                                                  witness URLs (default: the system's)
//   s3_archive_retention   = 365d                  each version is locked (COMPLIANCE) this long
//   s3_archive_segment_entries = 256               a segment is sealed at this many entries
//                                                  (1..4096) ...
//   s3_archive_segment_time    = 5m                ... or when its first entry waited this long
//
// Paths must be absolute. Errors name the file, line and key.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/manifest.h"
#include "core/result.h"

namespace countersign::daemon {

struct SnapshotSpec {
  enum class Kind { kNone, kBtrfs, kZfs };
  Kind kind = Kind::kNone;
  std::string target;  // btrfs: subvolume path; zfs: dataset name
  static Result<SnapshotSpec> parse(std::string_view text);
  std::string to_string() const;
  // "none", "btrfs" or "zfs": the backend as snapshot documents name it.
  std::string backend_name() const;
};

struct Config {
  std::string policy;
  std::string state_dir;
  std::string box_id;
  std::string log_key;
  std::string socket = "/run/countersign/countersignd.sock";
  std::optional<std::string> listen;  // "HOST:PORT"
  std::vector<Source> mirrors;
  SnapshotSpec snapshot;
  // install-packages (docs/daemon.md "Debian packages"): the root file system dpkg installs
  // into (dpkg --root), and the snapshot backend that covers it (none or btrfs:SYSTEM_ROOT).
  std::string system_root = "/";
  std::string nsm_device = "/dev/nsm";
  SnapshotSpec system_snapshot;
  std::vector<std::string> helper = {"sudo", "-n", "/usr/libexec/countersign/countersign-system"};
  unsigned parallel = 4;
  std::uint64_t range_threshold = 64u << 20;
  unsigned connections_per_file = 8;
  std::int64_t skew_seconds = 300;
  std::uint64_t max_body = 16u << 20;
  std::int64_t stall_timeout_seconds = 30;
  std::int64_t connect_timeout_seconds = 15;
  std::int64_t install_deadline_seconds = 24 * 3600;
  // A liveness challenge (POST /v1/challenges) older than this is refused by the helper.
  std::int64_t challenge_lifetime_seconds = 7 * 86400;
  std::uint64_t min_throughput = 16u << 10;  // bytes per second; 0: none
  std::int64_t throughput_window_seconds = 600;
  std::size_t max_pending = 64;
  std::uint64_t max_pending_bytes = 64u << 20;
  std::int64_t refusal_interval_seconds = 60;
  std::optional<std::string> hf_token_file;
  std::optional<std::string> s3_credentials_file;
  std::vector<std::string> attestation_roots;
  struct WitnessSpec {
    std::string vkey;                // a type 0x04 verifier key
    std::optional<std::string> url;  // none: the witness cosigns offline (box log cosign)
  };
  std::vector<WitnessSpec> witnesses;
  // The HTTP listener (see the comment block above).
  std::optional<std::string> socket_group;
  unsigned max_connections = 256;
  unsigned max_connections_per_peer = 16;
  std::uint64_t max_body_memory = 64u << 20;
  std::int64_t header_timeout_seconds = 10;
  std::int64_t body_timeout_seconds = 60;
  std::optional<std::string> tls_cert;
  std::optional<std::string> tls_key;
  std::optional<std::string> tls_client_ca;
  // The audit log leaving the box (see the comment block above).
  std::optional<std::string> syslog;  // "HOST:PORT"
  std::optional<std::string> syslog_ca;
  std::optional<std::string> syslog_name;
  std::optional<std::string> syslog_cert;
  std::optional<std::string> syslog_key;
  bool journal = false;
  std::int64_t ship_retry_seconds = 10;
  std::optional<std::string> s3_archive;  // "https://HOST/BUCKET[/PREFIX]"
  std::string s3_archive_region = "us-east-1";
  std::optional<std::string> s3_archive_credentials;
  std::optional<std::string> s3_archive_ca;
  std::optional<std::string> witness_ca;  // CA bundle for witness URLs (default: the system's)
  std::int64_t s3_archive_retention_seconds = 365 * 86400;
  std::size_t s3_archive_segment_entries = 256;
  std::int64_t s3_archive_segment_seconds = 300;

  // Derived paths.
  std::string models_dir() const { return state_dir + "/models"; }
  std::string staging_dir() const { return state_dir + "/models/.staging"; }
  std::string log_dir() const { return state_dir + "/log"; }
  // The daemon's own records (executed ids, jobs, pending proposals, rotated policy): owned
  // by the daemon's user, while state_dir itself and models/ belong to root.
  std::string daemon_dir() const { return state_dir + "/daemon"; }
  // dpkg's database in the system root ("/var/lib/dpkg" when system_root is /).
  std::string system_admindir() const {
    return (system_root == "/" ? std::string() : system_root) + "/var/lib/dpkg";
  }

  // Sets one key from text. Errors name the key ("parallel: must be 1..64").
  Result<void> set(std::string_view key, std::string_view value);
  // Checks required keys and consistency after all sets: listen needs tls_cert and tls_key;
  // max_connections_per_peer <= max_connections; max_body <= max_body_memory;
  // system_snapshot btrfs:PATH names system_root, which is not "/" (see config.cpp).
  Result<void> validate() const;
};

// Parses config text; errors are "FILE:LINE: key: what is wrong".
Result<Config> parse_config(std::string_view text, const std::string& file_name);
Result<Config> load_config(const std::string& path);

// A numeric listen address: "HOST:PORT" with an IPv4 host or a bracketed IPv6 one
// ("127.0.0.1:8441", "[::1]:8441"; port 0 asks for any free port). Never a name to look up.
struct ListenAddress {
  sockaddr_storage storage{};
  socklen_t size = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};
Result<ListenAddress> parse_listen_address(std::string_view host_port);

// A destination "HOST:PORT": a DNS name, an IPv4 address or a bracketed IPv6 one, and a port
// 1..65535 ("siem.example.com:6514", "[::1]:6514"). kInvalidArgument naming `key` otherwise.
struct HostPort {
  std::string host;  // without brackets
  std::uint16_t port = 0;
};
Result<HostPort> parse_host_port(std::string_view key, std::string_view text);

// The keys parse_config knows, in the order above, with a line of help each (countersignd
// turns every key into a flag).
struct ConfigKey {
  std::string_view name;
  std::string_view help;
};
const std::vector<ConfigKey>& config_keys();

}  // namespace countersign::daemon
