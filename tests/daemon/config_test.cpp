#include "daemon/config.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

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
      "stall_timeout = 10s\nconnect_timeout = 5s\nhf_token_file = /etc/countersign/hf\n"
      "s3_credentials_file = /etc/countersign/s3\n";
  auto c = parse_config(text, "f");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->mirrors.size(), 2u);
  EXPECT_EQ(c->mirrors[1].type, Source::Type::kFile);
  EXPECT_EQ(c->snapshot.to_string(), "btrfs:/var/lib/countersign/models");
  EXPECT_EQ(c->helper, std::vector<std::string>{"/usr/libexec/countersign/countersign-system"});
  EXPECT_EQ(c->parallel, 8u);
  EXPECT_EQ(c->skew_seconds, 120);
  EXPECT_EQ(c->max_body, 1u << 20);
  EXPECT_EQ(c->stall_timeout_seconds, 10);
  EXPECT_EQ(c->listen, "127.0.0.1:8441");
  auto v6 = parse_config(std::string(kMinimal) + "listen = [::1]:8441\n", "f");
  ASSERT_TRUE(v6.ok()) << v6.error().message;
  EXPECT_EQ(v6->listen, "[::1]:8441");
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

}  // namespace
}  // namespace countersign::daemon
