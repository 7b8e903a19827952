#include "daemon/config.h"

#include <netdb.h>

#include <cctype>
#include <charconv>
#include <cstring>

#include "core/fileio.h"
#include "core/signed_note.h"
#include "core/timeutil.h"
#include "daemon/s3_url.h"

namespace countersign::daemon {
namespace {

std::string_view trim(std::string_view s) {
  const auto* ws = " \t\r";
  auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

Result<std::uint64_t> parse_uint(std::string_view key, std::string_view v, std::uint64_t lo,
                                 std::uint64_t hi) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < lo || n > hi) {
    return Error(Errc::kInvalidArgument, std::string(key) + ": \"" + std::string(v) +
                                             "\" is not a whole number in " + std::to_string(lo) + ".." +
                                             std::to_string(hi));
  }
  return n;
}

// "16MiB", "512KiB", "1GiB", "1048576".
Result<std::uint64_t> parse_size(std::string_view key, std::string_view v) {
  std::uint64_t mult = 1;
  std::string_view num = v;
  struct Unit {
    std::string_view suffix;
    std::uint64_t mult;
  };
  static constexpr Unit kUnits[] = {{"KiB", 1u << 10}, {"MiB", 1u << 20}, {"GiB", 1u << 30}, {"B", 1}};
  for (const auto& u : kUnits) {
    if (v.size() > u.suffix.size() && v.ends_with(u.suffix)) {
      mult = u.mult;
      num = v.substr(0, v.size() - u.suffix.size());
      break;
    }
  }
  auto n = parse_uint(key, num, 1, (std::uint64_t{1} << 40) / mult);
  if (!n.ok()) {
    return Error(Errc::kInvalidArgument, std::string(key) + ": \"" + std::string(v) +
                                             "\" is not a size (a number with optional KiB, MiB or GiB)");
  }
  return *n * mult;
}

Result<std::int64_t> parse_seconds(std::string_view key, std::string_view v) {
  auto d = parse_duration(v);
  if (!d.ok()) return Error(Errc::kInvalidArgument, std::string(key) + ": " + d.error().message);
  return *d;
}

Result<std::string> absolute_path(std::string_view key, std::string_view v) {
  if (v.empty() || v.front() != '/') {
    return Error(Errc::kInvalidArgument,
                 std::string(key) + ": \"" + std::string(v) + "\" is not an absolute path");
  }
  return std::string(v);
}

}  // namespace

Result<SnapshotSpec> SnapshotSpec::parse(std::string_view text) {
  SnapshotSpec s;
  if (text == "none") return s;
  if (text.starts_with("btrfs:")) {
    s.kind = Kind::kBtrfs;
    s.target = std::string(text.substr(6));
    if (s.target.empty() || s.target.front() != '/') {
      return Error(Errc::kInvalidArgument,
                   "btrfs snapshots need an absolute subvolume path: btrfs:/var/lib/countersign/models");
    }
    return s;
  }
  if (text.starts_with("zfs:")) {
    s.kind = Kind::kZfs;
    s.target = std::string(text.substr(4));
    // zfs dataset names: components of [A-Za-z0-9_.:-] separated by '/', no leading '/'.
    bool ok = !s.target.empty() && s.target.front() != '/' && s.target.back() != '/' &&
              s.target.find("//") == std::string::npos;
    for (char c : s.target) {
      bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                     c == '.' || c == ':' || c == '-' || c == '/';
      ok = ok && allowed;
    }
    if (!ok || s.target.front() == '-') {
      return Error(Errc::kInvalidArgument,
                   "\"" + s.target + "\" is not a zfs dataset name (like tank/countersign/models)");
    }
    return s;
  }
  return Error(
      Errc::kInvalidArgument,
      "\"" + std::string(text) + "\" is not a snapshot backend: use none, btrfs:PATH or zfs:DATASET");
}

std::string SnapshotSpec::backend_name() const {
  switch (kind) {
    case Kind::kBtrfs:
      return "btrfs";
    case Kind::kZfs:
      return "zfs";
    case Kind::kNone:
      break;
  }
  return "none";
}

std::string SnapshotSpec::to_string() const {
  switch (kind) {
    case Kind::kNone:
      return "none";
    case Kind::kBtrfs:
      return "btrfs:" + target;
    case Kind::kZfs:
      return "zfs:" + target;
  }
  return "none";
}

const std::vector<ConfigKey>& config_keys() {
  static const std::vector<ConfigKey> keys = {
      {"policy", "Policy file: the box's root of trust (required)"},
      {"state_dir", "State directory: executed ids, jobs, audit log, models/ (required)"},
      {"box_id", "This box's id; proposals that name boxes must list it (required)"},
      {"log_key", "Ed25519 key that signs audit log checkpoints, from `countersign log keygen` (required)"},
      {"socket", "API Unix socket (default /run/countersign/countersignd.sock)"},
      {"listen", "Also serve the API on TCP HOST:PORT (numeric host, IPv6 in brackets: [::1]:8441)"},
      {"mirror", "Box-local mirror tried before the manifest's sources, a source spec (repeatable)"},
      {"snapshot", "Snapshot backend: none, btrfs:SUBVOLUME or zfs:DATASET"},
      {"nsm_device",
       "The Nitro Secure Module the System component asks for the box's attestation (default /dev/nsm)"},
      {"system_root", "Root file system Debian packages are installed into, with dpkg --root (default /)"},
      {"system_snapshot",
       "Snapshot backend of system_root, taken before every install-packages: none (the default) or "
       "btrfs:SYSTEM_ROOT (a btrfs subvolume); zfs is not supported yet"},
      {"helper",
       "How to run the privileged helper (default: sudo -n /usr/libexec/countersign/countersign-system)"},
      {"parallel", "Files fetched at once, 1..64 (default 4)"},
      {"range_threshold",
       "Files this size or larger may be fetched as byte ranges over several connections (default 64MiB)"},
      {"connections_per_file",
       "Connections one file larger than range_threshold is fetched over, 1..64 (default 8; 1: one a file)"},
      {"skew", "Tolerated clock difference for a proposal's creation time (default 5m)"},
      {"max_body", "Largest API request body, e.g. 16MiB (the default)"},
      {"stall_timeout", "Drop a source slower than 1 KiB/s for this long (default 30s)"},
      {"connect_timeout", "Drop a source that does not connect within this (default 15s)"},
      {"install_deadline", "Give an install up when its fetch has not finished within this (default 24h)"},
      {"challenge_lifetime", "A liveness challenge must be answered within this (default 7d)"},
      {"min_throughput",
       "Give an install up when it fetches less than this per second over throughput_window (default 16KiB; "
       "0: no minimum)"},
      {"throughput_window", "The window min_throughput is measured over (default 10m)"},
      {"max_pending", "Most proposals waiting for signatures at once (default 64)"},
      {"max_pending_bytes", "Most bytes of proposals waiting for signatures (default 64MiB)"},
      {"refusal_interval",
       "Refusals of one peer for one reason are logged once per interval, with their count (default 60s)"},
      {"hf_token_file", "File holding a Hugging Face token (sent to huggingface sources only)"},
      {"s3_credentials_file", "File with two lines, S3 access key id and secret key (SigV4 for s3 sources)"},
      {"attestation_root",
       "Also trust this attestation root (PEM or DER) for require_attestation rules; Yubico's FIDO and PIV "
       "roots are built in (repeatable)"},
      {"witness",
       "An auditor's witness: its cosigner key (vkey) and, when the box can reach it, its tlog-witness "
       "add-checkpoint URL (repeatable)"},
      {"witness_ca", "PEM CA bundle https witness URLs must chain to (default: the system's)"},
      // The HTTP listener.
      {"socket_group", "Group of the API Unix socket, mode 0660 (default: the daemon's own group)"},
      {"max_connections", "Open API connections at once, all listeners together, 1..16384 (default 256)"},
      {"max_connections_per_peer",
       "Open API connections of one uid (Unix socket) or IP address (TCP), at most max_connections (default "
       "16)"},
      {"max_body_memory",
       "Request bodies buffered at once across all connections, at least max_body (default 64MiB); a request "
       "that does not fit gets 503 busy"},
      {"header_timeout",
       "A connection must send its complete request headers within this of connecting (default 10s)"},
      {"body_timeout", "A request must send its complete body within this of its headers (default 60s)"},
      {"tls_cert",
       "PEM certificate (chain) of the TCP listener, HTTPS with TLS 1.3 only (required with listen)"},
      {"tls_key", "PEM private key of tls_cert, readable only by its owner (required with listen)"},
      {"tls_client_ca",
       "PEM CA certificate(s): TCP clients must then present a client certificate issued by one of them"},
      {"syslog", "Send every audit log entry as RFC 5424 syslog over TLS (RFC 5425) to this HOST:PORT"},
      {"syslog_ca",
       "PEM CA certificate(s) the syslog collector's certificate must chain to (required with syslog)"},
      {"syslog_name",
       "The name or IP address the collector's certificate must carry (default: syslog's host)"},
      {"syslog_cert", "PEM client certificate (chain) presented to the syslog collector (optional)"},
      {"syslog_key", "PEM private key of syslog_cert, readable only by its owner"},
      {"journal", "yes: also write every audit log entry as a JSON line on standard output (the journal)"},
      {"ship_retry", "Wait this long before trying a failed log destination again (default 10s)"},
      {"s3_archive",
       "Upload the audit log (sealed segments and signed checkpoints) to this S3 bucket with Object Lock: "
       "https://HOST/BUCKET[/PREFIX]"},
      {"s3_archive_region", "The bucket's region, for SigV4 (default us-east-1)"},
      {"s3_archive_credentials",
       "File with two lines, the access key id and secret key the box uploads with (readable only by its "
       "owner)"},
      {"s3_archive_ca", "PEM CA bundle the S3 endpoint's certificate must chain to (default: the system's)"},
      {"s3_archive_retention", "How long each uploaded version is locked in COMPLIANCE mode (default 365d)"},
      {"s3_archive_segment_entries", "Seal a segment at this many entries (1..4096, default 256)"},
      {"s3_archive_segment_time", "... or once its first entry has waited this long (default 5m)"},
  };
  return keys;
}

Result<void> Config::set(std::string_view key, std::string_view value) {
  auto v = trim(value);
  auto prefix = [&](const Error& e) { return Error(e.code, std::string(key) + ": " + e.message); };
  if (key == "policy") {
    CS_TRY(policy, absolute_path(key, v));
  } else if (key == "state_dir") {
    CS_TRY(std::string p, absolute_path(key, v));
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    state_dir = p;
  } else if (key == "box_id") {
    if (v.empty() || v.size() > 128)
      return Error(Errc::kInvalidArgument, "box_id: must be 1..128 characters");
    for (char c : v) {
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
        return Error(Errc::kInvalidArgument, "box_id: must not contain spaces or control characters");
      }
    }
    box_id = std::string(v);
  } else if (key == "log_key") {
    CS_TRY(log_key, absolute_path(key, v));
  } else if (key == "socket") {
    CS_TRY(socket, absolute_path(key, v));
    if (socket.size() >= 108)
      return Error(Errc::kInvalidArgument, "socket: path longer than a Unix socket allows (107 bytes)");
  } else if (key == "listen") {
    CS_TRY_VOID(parse_listen_address(v));  // HOST:PORT with a numeric host
    CS_TRY_VOID(parse_uint(key, v.substr(v.rfind(':') + 1), 1, 65535));
    listen = std::string(v);
  } else if (key == "mirror") {
    auto s = Source::from_spec(v);
    if (!s.ok()) return prefix(s.error());
    mirrors.push_back(*s);
  } else if (key == "snapshot") {
    auto s = SnapshotSpec::parse(v);
    if (!s.ok()) return prefix(s.error());
    snapshot = *s;
  } else if (key == "nsm_device") {
    CS_TRY(nsm_device, absolute_path(key, v));
  } else if (key == "system_root") {
    CS_TRY(system_root, absolute_path(key, v));
    while (system_root.size() > 1 && system_root.back() == '/') system_root.pop_back();
    if (system_root.find("/../") != std::string::npos || system_root.ends_with("/..") ||
        system_root.find("/./") != std::string::npos || system_root.ends_with("/.") ||
        system_root.find("//") != std::string::npos) {
      return Error(Errc::kInvalidArgument,
                   "system_root: \"" + std::string(v) + "\" must be a plain absolute path (no ., .. or //)");
    }
  } else if (key == "system_snapshot") {
    auto s = SnapshotSpec::parse(v);
    if (!s.ok()) return prefix(s.error());
    if (s->kind == SnapshotSpec::Kind::kZfs) {
      return Error(Errc::kUnsupported,
                   "system_snapshot: zfs is not supported yet for the system root (use btrfs:PATH or none)");
    }
    while (s->target.size() > 1 && s->target.back() == '/') s->target.pop_back();
    system_snapshot = *s;
  } else if (key == "helper") {
    std::vector<std::string> words;
    std::string cur;
    for (char c : v) {
      if (c == ' ' || c == '\t') {
        if (!cur.empty()) words.push_back(std::move(cur)), cur.clear();
      } else {
        cur += c;
      }
    }
    if (!cur.empty()) words.push_back(cur);
    bool absolute = !words.empty() && words.front().front() == '/';
    bool via_sudo = words.size() >= 2 && words.front() == "sudo" && words.back().front() == '/';
    if (!absolute && !via_sudo) {
      return Error(Errc::kInvalidArgument,
                   "helper: must be an absolute path, or sudo [options] followed by one");
    }
    helper = std::move(words);
  } else if (key == "parallel") {
    CS_TRY(auto n, parse_uint(key, v, 1, 64));
    parallel = static_cast<unsigned>(n);
  } else if (key == "range_threshold") {
    CS_TRY(range_threshold, parse_size(key, v));
  } else if (key == "connections_per_file") {
    CS_TRY(auto n, parse_uint(key, v, 1, 64));
    connections_per_file = static_cast<unsigned>(n);
  } else if (key == "skew") {
    CS_TRY(skew_seconds, parse_seconds(key, v));
  } else if (key == "max_body") {
    CS_TRY(max_body, parse_size(key, v));
  } else if (key == "stall_timeout") {
    CS_TRY(stall_timeout_seconds, parse_seconds(key, v));
  } else if (key == "connect_timeout") {
    CS_TRY(connect_timeout_seconds, parse_seconds(key, v));
  } else if (key == "install_deadline") {
    CS_TRY(install_deadline_seconds, parse_seconds(key, v));
  } else if (key == "challenge_lifetime") {
    CS_TRY(challenge_lifetime_seconds, parse_seconds(key, v));
  } else if (key == "min_throughput") {
    if (v == "0") {
      min_throughput = 0;
    } else {
      CS_TRY(min_throughput, parse_size(key, v));
    }
  } else if (key == "throughput_window") {
    CS_TRY(throughput_window_seconds, parse_seconds(key, v));
  } else if (key == "max_pending") {
    CS_TRY(auto n, parse_uint(key, v, 1, 100000));
    max_pending = static_cast<std::size_t>(n);
  } else if (key == "max_pending_bytes") {
    CS_TRY(max_pending_bytes, parse_size(key, v));
  } else if (key == "refusal_interval") {
    CS_TRY(refusal_interval_seconds, parse_seconds(key, v));
  } else if (key == "hf_token_file") {
    CS_TRY(std::string p, absolute_path(key, v));
    hf_token_file = p;
  } else if (key == "s3_credentials_file") {
    CS_TRY(std::string p, absolute_path(key, v));
    s3_credentials_file = p;
  } else if (key == "attestation_root") {
    CS_TRY(std::string p, absolute_path(key, v));
    attestation_roots.push_back(p);
  } else if (key == "witness") {
    const auto sp = v.find_first_of(" \t");
    WitnessSpec w;
    w.vkey = std::string(v.substr(0, sp));
    auto key_ok = note::Verifier::parse(w.vkey);
    if (!key_ok.ok()) return Error(Errc::kInvalidArgument, "witness: " + key_ok.error().message);
    if (key_ok->type() != note::kTypeCosignatureV1) {
      return Error(Errc::kInvalidArgument,
                   "witness: " + key_ok->label() +
                       " is not a cosigner key (type 0x04: countersign log keygen --cosigner)");
    }
    for (const auto& other : witnesses) {
      if (other.vkey == w.vkey)
        return Error(Errc::kInvalidArgument, "witness: " + key_ok->label() + " is listed twice");
    }
    if (sp != std::string_view::npos) {
      const std::string url(trim(v.substr(sp)));
      const bool https = url.starts_with("https://");
      const bool loopback_http = url.starts_with("http://127.0.0.1:") || url.starts_with("http://[::1]:") ||
                                 url.starts_with("http://localhost:");
      if (!https && !loopback_http) {
        return Error(Errc::kInvalidArgument,
                     "witness: \"" + url +
                         "\" is not an https:// URL (plain http only to 127.0.0.1, [::1] "
                         "or localhost)");
      }
      if (url.find_first_of(" \t") != std::string::npos)
        return Error(Errc::kInvalidArgument, "witness: expected VKEY [URL], got more words");
      w.url = url;
    }
    witnesses.push_back(std::move(w));
  } else if (key == "socket_group") {
    // A POSIX portable group name; that it exists is checked when the socket is made.
    bool ok = !v.empty() && v.size() <= 32 && v.front() != '-';
    for (char c : v) {
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '.' || c == '-');
    }
    if (!ok) {
      return Error(Errc::kInvalidArgument, "socket_group: \"" + std::string(v) +
                                               "\" is not a group name (letters, digits, _ . -; at most 32)");
    }
    socket_group = std::string(v);
  } else if (key == "max_connections") {
    CS_TRY(auto n, parse_uint(key, v, 1, 16384));
    max_connections = static_cast<unsigned>(n);
  } else if (key == "max_connections_per_peer") {
    CS_TRY(auto n, parse_uint(key, v, 1, 16384));
    max_connections_per_peer = static_cast<unsigned>(n);
  } else if (key == "max_body_memory") {
    CS_TRY(max_body_memory, parse_size(key, v));
  } else if (key == "header_timeout" || key == "body_timeout") {
    CS_TRY(std::int64_t s, parse_seconds(key, v));
    if (s > 3600) return Error(Errc::kInvalidArgument, std::string(key) + ": at most 1h");
    (key == "header_timeout" ? header_timeout_seconds : body_timeout_seconds) = s;
  } else if (key == "tls_cert") {
    CS_TRY(std::string p, absolute_path(key, v));
    tls_cert = p;
  } else if (key == "tls_key") {
    CS_TRY(std::string p, absolute_path(key, v));
    tls_key = p;
  } else if (key == "tls_client_ca") {
    CS_TRY(std::string p, absolute_path(key, v));
    tls_client_ca = p;
  } else if (key == "syslog") {
    CS_TRY_VOID(parse_host_port(key, v));
    syslog = std::string(v);
  } else if (key == "syslog_ca" || key == "syslog_cert" || key == "syslog_key") {
    CS_TRY(std::string p, absolute_path(key, v));
    (key == "syslog_ca" ? syslog_ca : key == "syslog_cert" ? syslog_cert : syslog_key) = p;
  } else if (key == "syslog_name") {
    for (char c : v) {
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
        return Error(Errc::kInvalidArgument, "syslog_name: must not contain spaces or control characters");
    }
    syslog_name = std::string(v);
  } else if (key == "journal") {
    if (v != "yes" && v != "no")
      return Error(Errc::kInvalidArgument, "journal: \"" + std::string(v) + "\" is not yes or no");
    journal = v == "yes";
  } else if (key == "ship_retry") {
    CS_TRY(ship_retry_seconds, parse_seconds(key, v));
    if (ship_retry_seconds < 1 || ship_retry_seconds > 3600)
      return Error(Errc::kInvalidArgument, "ship_retry: must be 1s..1h");
  } else if (key == "s3_archive") {
    auto u = parse_s3_url(v);
    if (!u.ok()) return Error(Errc::kInvalidArgument, "s3_archive: " + u.error().message);
    s3_archive = std::string(v);
  } else if (key == "s3_archive_region") {
    if (v.empty() || v.size() > 64 ||
        v.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string_view::npos)
      return Error(Errc::kInvalidArgument,
                   "s3_archive_region: \"" + std::string(v) + "\" is not a region name");
    s3_archive_region = std::string(v);
  } else if (key == "witness_ca") {
    CS_TRY(std::string p, absolute_path(key, v));
    witness_ca = p;
  } else if (key == "s3_archive_credentials" || key == "s3_archive_ca") {
    CS_TRY(std::string p, absolute_path(key, v));
    (key == "s3_archive_ca" ? s3_archive_ca : s3_archive_credentials) = p;
  } else if (key == "s3_archive_retention") {
    CS_TRY(s3_archive_retention_seconds, parse_seconds(key, v));
    if (s3_archive_retention_seconds < 86400)
      return Error(Errc::kInvalidArgument,
                   "s3_archive_retention: at least 1d (S3 retention is counted in days)");
  } else if (key == "s3_archive_segment_entries") {
    CS_TRY(auto n, parse_uint(key, v, 1, 4096));
    s3_archive_segment_entries = n;
  } else if (key == "s3_archive_segment_time") {
    CS_TRY(s3_archive_segment_seconds, parse_seconds(key, v));
    if (s3_archive_segment_seconds < 1 || s3_archive_segment_seconds > 86400)
      return Error(Errc::kInvalidArgument, "s3_archive_segment_time: must be 1s..1d");
  } else {
    return Error(Errc::kInvalidArgument, "unknown key \"" + std::string(key) + "\"");
  }
  return {};
}

Result<void> Config::validate() const {
  std::string missing;
  if (policy.empty()) missing += " policy";
  if (state_dir.empty()) missing += " state_dir";
  if (box_id.empty()) missing += " box_id";
  if (log_key.empty()) missing += " log_key";
  if (!missing.empty()) return Error(Errc::kInvalidArgument, "missing required setting(s):" + missing);
  if (state_dir == "/") return Error(Errc::kInvalidArgument, "state_dir: must not be /");
  // The HTTP listener: TCP is served over HTTPS only.
  if (listen && (!tls_cert || !tls_key)) {
    return Error(Errc::kInvalidArgument,
                 "listen: the TCP listener is HTTPS only and needs tls_cert and tls_key (PEM files)");
  }
  if (tls_cert.has_value() != tls_key.has_value()) {
    return Error(Errc::kInvalidArgument, "tls_cert and tls_key: set both or neither");
  }
  if (max_connections_per_peer > max_connections) {
    return Error(Errc::kInvalidArgument,
                 "max_connections_per_peer: " + std::to_string(max_connections_per_peer) +
                     " is more than max_connections (" + std::to_string(max_connections) + ")");
  }
  if (max_body > max_body_memory) {
    return Error(Errc::kInvalidArgument, "max_body_memory: " + std::to_string(max_body_memory) +
                                             " bytes cannot hold one request of max_body (" +
                                             std::to_string(max_body) + " bytes)");
  }
  if (syslog && !syslog_ca) {
    return Error(Errc::kInvalidArgument,
                 "syslog: needs syslog_ca, the CA the collector's certificate must chain to (the log "
                 "is never sent to an unauthenticated collector)");
  }
  if (!syslog && (syslog_ca || syslog_name || syslog_cert || syslog_key)) {
    return Error(Errc::kInvalidArgument, "syslog_ca, syslog_name, syslog_cert and syslog_key need syslog");
  }
  if (syslog_cert.has_value() != syslog_key.has_value()) {
    return Error(Errc::kInvalidArgument, "syslog_cert and syslog_key: set both or neither");
  }
  if (s3_archive && !s3_archive_credentials) {
    return Error(Errc::kInvalidArgument,
                 "s3_archive: needs s3_archive_credentials, the file with the key the box uploads with");
  }
  if (!s3_archive && (s3_archive_credentials || s3_archive_ca)) {
    return Error(Errc::kInvalidArgument, "s3_archive_credentials and s3_archive_ca need s3_archive");
  }
  // The system snapshot covers exactly the system root; a restore swaps the subvolume in its
  // parent directory, which the mounted root of a running system ("/") does not allow.
  if (system_snapshot.kind == SnapshotSpec::Kind::kBtrfs) {
    if (system_snapshot.target != system_root) {
      return Error(Errc::kInvalidArgument, "system_snapshot: btrfs:" + system_snapshot.target +
                                               " must be the system root " + system_root +
                                               " (the snapshot must cover what dpkg changes)");
    }
    if (system_root == "/") {
      return Error(Errc::kUnsupported,
                   "system_snapshot: btrfs:/ cannot be restored while it is the running root; make "
                   "system_root a subvolume below / (docs/daemon.md \"Debian packages\")");
    }
  }
  return {};
}

Result<Config> parse_config(std::string_view text, const std::string& file_name) {
  Config c;
  std::size_t line_no = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    auto where = file_name + ":" + std::to_string(line_no) + ": ";
    auto t = trim(line);
    if (t.empty() || t.front() == '#') continue;
    auto eq = t.find('=');
    if (eq == std::string_view::npos) {
      return Error(Errc::kInvalidArgument,
                   where + "expected \"key = value\", got \"" + std::string(t) + "\"");
    }
    auto key = trim(t.substr(0, eq));
    auto value = trim(t.substr(eq + 1));
    if (value.empty()) return Error(Errc::kInvalidArgument, where + std::string(key) + ": empty value");
    auto r = c.set(key, value);
    if (!r.ok()) return Error(r.error().code, where + r.error().message);
  }
  return c;
}

namespace {

// "HOST:PORT" split at its last colon, an IPv6 host's brackets removed. The errors name `key`
// and give `example` of the form.
Result<std::pair<std::string, std::string>> split_host_port(std::string_view key, std::string_view text,
                                                            std::string_view example) {
  const std::string head = std::string(key) + ": \"" + std::string(text) + "\"";
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Error(Errc::kInvalidArgument, head + " is not HOST:PORT (like " + std::string(example) + ")");
  }
  std::string host(text.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return Error(Errc::kInvalidArgument, head + ": an IPv6 address goes in brackets, like [::1]" +
                                             std::string(example.substr(example.rfind(':'))));
  }
  return std::pair{host, std::string(text.substr(colon + 1))};
}

}  // namespace

Result<HostPort> parse_host_port(std::string_view key, std::string_view text) {
  CS_TRY(auto split, split_host_port(key, text, "siem.example.com:6514"));
  auto& [host, port_text] = split;
  auto bad = [&](const std::string& why) {
    return Error(Errc::kInvalidArgument, std::string(key) + ": \"" + std::string(text) + "\" " + why);
  };
  if (host.empty()) return bad("has no host");
  const bool bracketed = text.front() == '[';
  for (char c : host) {
    const bool ok = bracketed ? std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.'
                              : std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
    if (!ok)
      return bad(bracketed ? "has no IPv6 address in brackets"
                           : "has a host that is no DNS name or IPv4 address");
  }
  CS_TRY(auto port, parse_uint(key, port_text, 1, 65535));
  return HostPort{host, static_cast<std::uint16_t>(port)};
}

Result<ListenAddress> parse_listen_address(std::string_view host_port) {
  CS_TRY(auto split, split_host_port("listen", host_port, "127.0.0.1:8441"));
  const auto& [host, port] = split;
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return Error(Errc::kInvalidArgument,
                 "listen: \"" + std::string(host_port) +
                     "\" is not a numeric IPv4 or IPv6 address and port: " + ::gai_strerror(rc));
  }
  ListenAddress a;
  a.size = found->ai_addrlen;
  std::memcpy(&a.storage, found->ai_addr, found->ai_addrlen);
  ::freeaddrinfo(found);
  return a;
}

Result<Config> load_config(const std::string& path) {
  auto text = read_file(path, 1 << 20);
  if (!text.ok()) return Error(text.error().code, path + ": " + text.error().message);
  return parse_config(*text, path);
}

}  // namespace countersign::daemon
