#include "daemon/config.h"
#include "daemon/s3_url.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include "core/signed_note.h"

namespace countersign::daemon {
namespace {

constexpr std::string_view kMinimal =
    "# a box\n"
    "policy = /etc/countersign/policy.json\n"
    "state_dir = /var/lib/countersign/\n"
    "box_id = box-7f3a\n"
    "log_key = /etc/countersign/log.key\n";

TEST(ConfigTest, MinimalFileGetsDefaults) {
  auto c = parse_config(kMinimal, "countersignd.conf");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_TRUE(c->validate().ok());
  EXPECT_EQ(c->state_dir, "/var/lib/countersign");
  EXPECT_EQ(c->models_dir(), "/var/lib/countersign/models");
  EXPECT_EQ(c->staging_dir(), "/var/lib/countersign/models/.staging");
  EXPECT_EQ(c->socket, "/run/countersign/countersignd.sock");
  EXPECT_EQ(c->parallel, 4u);
  EXPECT_EQ(c->range_threshold, 64u << 20);
  EXPECT_EQ(c->connections_per_file, 8u);
  EXPECT_EQ(c->max_body, 16u << 20);
  EXPECT_EQ(c->snapshot.kind, SnapshotSpec::Kind::kNone);
  EXPECT_EQ(c->helper.front(), "sudo");
}

TEST(ConfigTest, EveryKeyParses) {
  std::string text(kMinimal);
  text +=
      "socket = /run/cs.sock\nlisten = 127.0.0.1:8441\nmirror = https://m1.internal/gemma/\n"
      "mirror = file:///mnt/usb/gemma/\nsnapshot = btrfs:/var/lib/countersign/models\n"
      "helper = /usr/libexec/countersign/countersign-system\nparallel = 8\nskew = 2m\nmax_body = 1MiB\n"
      "range_threshold = 1GiB\nconnections_per_file = 1\n"
      "stall_timeout = 10s\nconnect_timeout = 5s\nhf_token_file = /etc/countersign/hf\n"
      "s3_credentials_file = /etc/countersign/s3\n";
  auto c = parse_config(text, "f");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->mirrors.size(), 2u);
  EXPECT_EQ(c->mirrors[1].type, Source::Type::kFile);
  EXPECT_EQ(c->snapshot.to_string(), "btrfs:/var/lib/countersign/models");
  EXPECT_EQ(c->helper, std::vector<std::string>{"/usr/libexec/countersign/countersign-system"});
  EXPECT_EQ(c->parallel, 8u);
  EXPECT_EQ(c->range_threshold, 1u << 30);
  EXPECT_EQ(c->connections_per_file, 1u);
  EXPECT_EQ(c->skew_seconds, 120);
  EXPECT_EQ(c->max_body, 1u << 20);
  EXPECT_EQ(c->stall_timeout_seconds, 10);
  EXPECT_EQ(c->listen, "127.0.0.1:8441");
  auto v6 = parse_config(std::string(kMinimal) + "listen = [::1]:8441\n", "f");
  ASSERT_TRUE(v6.ok()) << v6.error().message;
  EXPECT_EQ(v6->listen, "[::1]:8441");
}

TEST(ConfigTest, SystemRootAndItsSnapshot) {
  auto plain = parse_config(kMinimal, "f");
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(plain->system_root, "/");
  EXPECT_EQ(plain->system_admindir(), "/var/lib/dpkg");
  EXPECT_EQ(plain->system_snapshot.kind, SnapshotSpec::Kind::kNone);

  auto c = parse_config(
      std::string(kMinimal) + "system_root = /srv/box-root/\nsystem_snapshot = btrfs:/srv/box-root\n", "f");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_TRUE(c->validate().ok()) << c->validate().error().message;
  EXPECT_EQ(c->system_root, "/srv/box-root");
  EXPECT_EQ(c->system_admindir(), "/srv/box-root/var/lib/dpkg");
  EXPECT_EQ(c->system_snapshot.to_string(), "btrfs:/srv/box-root");

  struct Bad {
    std::string text;
    std::string says;
  };
  for (const auto& [text, says] : std::vector<Bad>{
           {"system_root = srv/root\n", "system_root: \"srv/root\" is not an absolute path"},
           {"system_root = /srv/../etc\n", "must be a plain absolute path"},
           {"system_snapshot = zfs:tank/root\n", "zfs is not supported yet"},
           {"system_snapshot = lvm:/dev/x\n", "is not a snapshot backend"},
       }) {
    auto r = parse_config(std::string(kMinimal) + text, "box.conf");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error().message.find("box.conf:6: "), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(says), std::string::npos) << r.error().message;
  }
  // The snapshot must cover the system root, and cannot be the running /.
  auto other =
      parse_config(std::string(kMinimal) + "system_root = /srv/a\nsystem_snapshot = btrfs:/srv/b\n", "f");
  ASSERT_TRUE(other.ok());
  ASSERT_FALSE(other->validate().ok());
  EXPECT_NE(other->validate().error().message.find("must be the system root /srv/a"), std::string::npos)
      << other->validate().error().message;
  auto slash = parse_config(std::string(kMinimal) + "system_snapshot = btrfs:/\n", "f");
  ASSERT_TRUE(slash.ok());
  ASSERT_FALSE(slash->validate().ok());
  EXPECT_NE(slash->validate().error().message.find("running root"), std::string::npos)
      << slash->validate().error().message;
}

TEST(ConfigTest, TheS3ArchiveIsOffByDefaultAndNeedsItsCredentials) {
  auto plain = parse_config(kMinimal, "f");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->s3_archive);
  EXPECT_EQ(plain->s3_archive_retention_seconds, 365 * 86400);
  EXPECT_EQ(plain->s3_archive_segment_entries, 256u);

  auto c = parse_config(std::string(kMinimal) +
                            "s3_archive = https://s3.eu-central-1.amazonaws.com/acme-audit/countersign/eu\n"
                            "s3_archive_region = eu-central-1\n"
                            "s3_archive_credentials = /etc/countersign/s3-archive.credentials\n"
                            "s3_archive_retention = 2555d\ns3_archive_segment_entries = 1000\n"
                            "s3_archive_segment_time = 1h\n",
                        "f");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_TRUE(c->validate().ok()) << c->validate().error().message;
  EXPECT_EQ(c->s3_archive_region, "eu-central-1");
  EXPECT_EQ(c->s3_archive_retention_seconds, 2555 * 86400);
  EXPECT_EQ(c->s3_archive_segment_entries, 1000u);
  EXPECT_EQ(c->s3_archive_segment_seconds, 3600);
  auto u = parse_s3_url(*c->s3_archive);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->endpoint, "https://s3.eu-central-1.amazonaws.com");
  EXPECT_EQ(u->bucket, "acme-audit");
  EXPECT_EQ(u->prefix, "countersign/eu");

  struct Bad {
    std::string text;
    std::string says;
  };
  for (const auto& [text, says] : std::vector<Bad>{
           {"s3_archive = s3.amazonaws.com/b\n", "no scheme"},
           {"s3_archive = ftp://h/bucket\n", "must be https"},
           {"s3_archive = https://h\n", "no bucket"},
           {"s3_archive = https://h/Bad_Bucket\n", "is not an S3 bucket name"},
           {"s3_archive = https://h/bucket?x=1\n", "no query"},
           {"s3_archive_region = EU\n", "is not a region name"},
           {"s3_archive_retention = 1h\n", "at least 1d"},
           {"s3_archive_segment_entries = 5000\n", "s3_archive_segment_entries"},
           {"s3_archive_credentials = creds\n", "is not an absolute path"},
       }) {
    auto r = parse_config(std::string(kMinimal) + text, "box.conf");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error().message.find("box.conf:6: "), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(says), std::string::npos) << r.error().message;
  }
  for (const auto& [text, says] : std::vector<Bad>{
           {"s3_archive = https://h/bucket\n", "needs s3_archive_credentials"},
           {"s3_archive_credentials = /etc/c\n", "need s3_archive"},
       }) {
    auto r = parse_config(std::string(kMinimal) + text, "box.conf");
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_FALSE(r->validate().ok()) << text;
    EXPECT_NE(r->validate().error().message.find(says), std::string::npos) << r->validate().error().message;
  }
}

TEST(ConfigTest, LogDestinationsAreOffByDefaultAndSyslogNeedsItsCa) {
  auto plain = parse_config(kMinimal, "f");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->syslog);
  EXPECT_FALSE(plain->journal);
  EXPECT_EQ(plain->ship_retry_seconds, 10);

  auto c = parse_config(std::string(kMinimal) +
                            "syslog = siem.example.com:6514\nsyslog_ca = /etc/countersign/siem-ca.pem\n"
                            "journal = yes\nship_retry = 30s\n",
                        "f");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_TRUE(c->validate().ok()) << c->validate().error().message;
  EXPECT_EQ(*c->syslog, "siem.example.com:6514");
  EXPECT_TRUE(c->journal);
  EXPECT_EQ(c->ship_retry_seconds, 30);
  auto v6 = parse_host_port("syslog", "[::1]:6514");
  ASSERT_TRUE(v6.ok()) << v6.error().message;
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 6514);

  struct Bad {
    std::string text;
    std::string says;
  };
  for (const auto& [text, says] : std::vector<Bad>{
           {"syslog = siem.example.com\n", "is not HOST:PORT"},
           {"syslog = ::1:6514\n", "goes in brackets"},
           {"syslog = siem.example.com:70000\n", "is not a whole number in 1..65535"},
           {"syslog = siem_example!:6514\n", "no DNS name or IPv4 address"},
           {"syslog_ca = siem-ca.pem\n", "is not an absolute path"},
           {"journal = maybe\n", "journal: \"maybe\" is not yes or no"},
           {"ship_retry = 2h\n", "ship_retry: must be 1s..1h"},
       }) {
    auto r = parse_config(std::string(kMinimal) + text, "box.conf");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error().message.find("box.conf:6: "), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(says), std::string::npos) << r.error().message;
  }
  for (const auto& [text, says] : std::vector<Bad>{
           {"syslog = siem.example.com:6514\n", "needs syslog_ca"},
           {"syslog_ca = /etc/ca.pem\n", "need syslog"},
           {"syslog = s:1\nsyslog_ca = /ca.pem\nsyslog_cert = /c.pem\n", "set both or neither"},
       }) {
    auto r = parse_config(std::string(kMinimal) + text, "box.conf");
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_FALSE(r->validate().ok()) << text;
    EXPECT_NE(r->validate().error().message.find(says), std::string::npos) << r->validate().error().message;
  }
}

TEST(ConfigTest, WitnessesAreCosignerKeysWithAnOptionalUrl) {
  const std::string cosigner =
      note::Signer::generate("auditor.example/w", note::kTypeCosignatureV1)->verifier().vkey();
  const std::string log_key = note::Signer::generate("box.example/audit")->verifier().vkey();
  auto c = parse_config(std::string(kMinimal) + "witness = " + cosigner +
                            " https://witness.auditor.example/add-checkpoint\nwitness = " +
                            note::Signer::generate("b", note::kTypeCosignatureV1)->verifier().vkey() + "\n",
                        "f");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->witnesses.size(), 2u);
  EXPECT_EQ(c->witnesses[0].vkey, cosigner);
  EXPECT_EQ(*c->witnesses[0].url, "https://witness.auditor.example/add-checkpoint");
  EXPECT_FALSE(c->witnesses[1].url);
  struct Bad {
    std::string text;
    std::string says;
  };
  for (const auto& [text, says] : std::vector<Bad>{
           {"witness = " + log_key + "\n", "is not a cosigner key (type 0x04"},
           {"witness = not-a-key\n", "witness: "},
           {"witness = " + cosigner + " http://witness.example/add-checkpoint\n", "is not an https:// URL"},
           {"witness = " + cosigner + " https://a/ https://b/\n", "expected VKEY [URL]"},
       }) {
    auto r = parse_config(std::string(kMinimal) + text, "box.conf");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error().message.find("box.conf:6: "), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(says), std::string::npos) << r.error().message;
  }
  auto twice =
      parse_config(std::string(kMinimal) + "witness = " + cosigner + "\nwitness = " + cosigner + "\n", "f");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message.find("listed twice"), std::string::npos) << twice.error().message;
}

TEST(ConfigTest, ListenAddressesAreNumeric) {
  auto v4 = parse_listen_address("127.0.0.1:8441");
  ASSERT_TRUE(v4.ok()) << v4.error().message;
  EXPECT_EQ(v4->get()->sa_family, AF_INET);
  auto v6 = parse_listen_address("[::1]:0");
  ASSERT_TRUE(v6.ok()) << v6.error().message;
  EXPECT_EQ(v6->get()->sa_family, AF_INET6);
  EXPECT_EQ(v6->size, sizeof(sockaddr_in6));
  EXPECT_FALSE(parse_listen_address("localhost:8441").ok());
  EXPECT_FALSE(parse_listen_address("[::1]").ok());
  EXPECT_FALSE(parse_listen_address("127.0.0.1:http").ok());
}

TEST(ConfigTest, ErrorsNameFileLineAndKey) {
  struct Case {
    std::string text, expect;
  };
  const Case cases[] = {
      {"policy = relative/policy.json\n",
       "f.conf:1: policy: \"relative/policy.json\" is not an absolute path"},
      {"\n\nparallel = 0\n", "f.conf:3: parallel: \"0\" is not a whole number in 1..64"},
      {"colour = blue\n", "f.conf:1: unknown key \"colour\""},
      {"just words\n", "f.conf:1: expected \"key = value\""},
      {"snapshot = lvm:/x\n", "f.conf:1: snapshot: \"lvm:/x\" is not a snapshot backend"},
      {"snapshot = zfs:/tank\n", "is not a zfs dataset name"},
      {"max_body = lots\n", "max_body: \"lots\" is not a size"},
      {"range_threshold = 8MB\n", "f.conf:1: range_threshold: \"8MB\" is not a size"},
      {"connections_per_file = 0\n", "f.conf:1: connections_per_file: \"0\" is not a whole number in 1..64"},
      {"connections_per_file = 65\n",
       "f.conf:1: connections_per_file: \"65\" is not a whole number in 1..64"},
      {"mirror = gopher://x/\n", "f.conf:1: mirror:"},
      {"skew = soon\n", "f.conf:1: skew:"},
      {"listen = 8441\n", "listen: \"8441\" is not HOST:PORT"},
      {"listen = box.internal:8441\n",
       "f.conf:1: listen: \"box.internal:8441\" is not a numeric IPv4 or IPv6 address and port"},
      {"listen = ::1:8441\n", "f.conf:1: listen: \"::1:8441\": an IPv6 address goes in brackets"},
      {"listen = [::1]:0\n", "f.conf:1: listen: \"0\" is not a whole number in 1..65535"},
      {"box_id = \n", "f.conf:1: box_id: empty value"},
  };
  for (const auto& c : cases) {
    auto r = parse_config(c.text, "f.conf");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.error().message.find(c.expect), std::string::npos) << r.error().message;
  }
}

TEST(ConfigTest, MissingRequiredKeysAreListed) {
  auto c = parse_config("box_id = b\n", "f");
  ASSERT_TRUE(c.ok());
  auto v = c->validate();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().message, "missing required setting(s): policy state_dir log_key");
}

TEST(ConfigTest, SnapshotSpecs) {
  EXPECT_EQ(SnapshotSpec::parse("zfs:tank/countersign/models")->target, "tank/countersign/models");
  EXPECT_FALSE(SnapshotSpec::parse("btrfs:relative").ok());
  EXPECT_FALSE(SnapshotSpec::parse("zfs:tank;rm -rf /").ok());
  EXPECT_FALSE(SnapshotSpec::parse("zfs:-o").ok());
}

// ---- the HTTP listener's keys ----------------------------------------------------------------

TEST(ConfigTest, HttpListenerKeysHaveSafeDefaults) {
  auto c = parse_config(kMinimal, "f");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_FALSE(c->socket_group.has_value());
  EXPECT_EQ(c->max_connections, 256u);
  EXPECT_EQ(c->max_connections_per_peer, 16u);
  EXPECT_EQ(c->max_body_memory, 64u << 20);
  EXPECT_EQ(c->header_timeout_seconds, 10);
  EXPECT_EQ(c->body_timeout_seconds, 60);
  EXPECT_FALSE(c->tls_cert || c->tls_key || c->tls_client_ca);
}

TEST(ConfigTest, SocketGroupIsAGroupName) {
  auto c = parse_config(std::string(kMinimal) + "socket_group = countersign-api\n", "f");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->socket_group, "countersign-api");
  for (const char* bad : {"-rf", "a b", "wheel;x", "x/y"}) {
    auto r = parse_config(std::string("socket_group = ") + bad + "\n", "f.conf");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(
        r.error().message.find("f.conf:1: socket_group: \"" + std::string(bad) + "\" is not a group name"),
        std::string::npos)
        << r.error().message;
  }
}

TEST(ConfigTest, ConnectionLimitsAreValidated) {
  auto c = parse_config(std::string(kMinimal) + "max_connections = 64\nmax_connections_per_peer = 8\n", "f");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->max_connections, 64u);
  EXPECT_EQ(c->max_connections_per_peer, 8u);
  EXPECT_TRUE(c->validate().ok());
  auto zero = parse_config("max_connections = 0\n", "f.conf");
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().message, "f.conf:1: max_connections: \"0\" is not a whole number in 1..16384");
  auto per_peer = parse_config("max_connections_per_peer = lots\n", "f.conf");
  ASSERT_FALSE(per_peer.ok());
  EXPECT_NE(per_peer.error().message.find("max_connections_per_peer: \"lots\" is not a whole number"),
            std::string::npos);
  auto more =
      parse_config(std::string(kMinimal) + "max_connections = 8\nmax_connections_per_peer = 9\n", "f");
  ASSERT_TRUE(more.ok());
  auto v = more->validate();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().message, "max_connections_per_peer: 9 is more than max_connections (8)");
}

TEST(ConfigTest, MaxBodyMemoryMustHoldOneMaxBody) {
  auto c = parse_config(std::string(kMinimal) + "max_body_memory = 32MiB\n", "f");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->max_body_memory, 32u << 20);
  EXPECT_TRUE(c->validate().ok());
  auto bad = parse_config("max_body_memory = much\n", "f.conf");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("f.conf:1: max_body_memory: \"much\" is not a size"), std::string::npos);
  auto small = parse_config(std::string(kMinimal) + "max_body_memory = 1MiB\n", "f");
  ASSERT_TRUE(small.ok());
  auto v = small->validate();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().message,
            "max_body_memory: 1048576 bytes cannot hold one request of max_body (16777216 bytes)");
}

TEST(ConfigTest, HeaderAndBodyTimeoutsAreDurations) {
  auto c = parse_config(std::string(kMinimal) + "header_timeout = 5s\nbody_timeout = 2m\n", "f");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->header_timeout_seconds, 5);
  EXPECT_EQ(c->body_timeout_seconds, 120);
  auto bad = parse_config("header_timeout = soon\n", "f.conf");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("f.conf:1: header_timeout: \"soon\" is not a duration"),
            std::string::npos);
  auto long_body = parse_config("body_timeout = 2h\n", "f.conf");
  ASSERT_FALSE(long_body.ok());
  EXPECT_EQ(long_body.error().message, "f.conf:1: body_timeout: at most 1h");
}

TEST(ConfigTest, ListenNeedsTlsCertAndKey) {
  const std::string listen = std::string(kMinimal) + "listen = 127.0.0.1:8441\n";
  auto plain = parse_config(listen, "f");
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  auto v = plain->validate();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().message,
            "listen: the TCP listener is HTTPS only and needs tls_cert and tls_key (PEM files)");
  auto cert_only = parse_config(listen + "tls_cert = /etc/countersign/tls/cert.pem\n", "f");
  ASSERT_TRUE(cert_only.ok());
  EXPECT_FALSE(cert_only->validate().ok());
  auto tls =
      parse_config(listen +
                       "tls_cert = /etc/countersign/tls/cert.pem\ntls_key = /etc/countersign/tls/key.pem\n"
                       "tls_client_ca = /etc/countersign/tls/clients.pem\n",
                   "f");
  ASSERT_TRUE(tls.ok()) << tls.error().message;
  EXPECT_TRUE(tls->validate().ok()) << tls->validate().error().message;
  EXPECT_EQ(tls->tls_cert, "/etc/countersign/tls/cert.pem");
  EXPECT_EQ(tls->tls_key, "/etc/countersign/tls/key.pem");
  EXPECT_EQ(tls->tls_client_ca, "/etc/countersign/tls/clients.pem");
  for (const char* key : {"tls_cert", "tls_key", "tls_client_ca"}) {
    auto r = parse_config(std::string(key) + " = tls/relative.pem\n", "f.conf");
    ASSERT_FALSE(r.ok()) << key;
    EXPECT_EQ(r.error().message,
              "f.conf:1: " + std::string(key) + ": \"tls/relative.pem\" is not an absolute path");
  }
}

}  // namespace
}  // namespace countersign::daemon
