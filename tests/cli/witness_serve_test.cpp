// `countersign log witness serve` as two real processes on 127.0.0.1 (ports picked by the
// kernel), spoken to with libcurl as a log would (c2sp.org/tlog-witness add-checkpoint): both
// cosign a growing log, a forked copy's checkpoint is answered 422 / 409, a stale old size 409
// with the known size, and SIGTERM stops them cleanly.
#include <curl/curl.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "core/jcs.h"
#include "core/witness.h"
#include "tests/cli/cli_test_util.h"
#include "tests/test_util.h"
#include "tests/witness_process.h"

extern char** environ;

namespace countersign::cli {
namespace {

namespace fs = std::filesystem;

using test_util::WitnessProcess;

using test_util::contains;
using test_util::slurp;

struct Answer {
  long status = 0;
  std::string body, type;
};

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

Answer post(std::uint16_t port, const std::string& path, const std::string& body) {
  Answer a;
  CURL* c = curl_easy_init();
  std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &a.body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
  if (curl_easy_perform(c) == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
    char* type = nullptr;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
    if (type) a.type = type;
  }
  curl_easy_cleanup(c);
  return a;
}

class WitnessServeTest : public ::testing::Test {
 protected:
  test_util::CliRun run(const std::vector<std::string>& args) {
    return test_util::run_cli(args, [this] { return now_++; });
  }
  std::string p(const std::string& name) const { return (dir_ / name).string(); }
  void append(const std::string& log, int n, const std::string& event, const std::string& key = "box.key") {
    for (int i = 0; i < n; ++i)
      ASSERT_EQ(run({"log", "append", p(log), "--key", p(key), "--event", event}).rc, 0);
  }
  // The add-checkpoint body a log sends: from `log prove --consistency OLD NEW`, or old 0.
  std::string body(const std::string& log, std::uint64_t old_size, std::uint64_t new_size) {
    if (old_size == 0) {
      auto r = run({"log", "export", p(log), "--jsonl", "-o", p("x.jsonl"), "--checkpoint-out", p("x.cp")});
      EXPECT_EQ(r.rc, 0) << r;
      return "old 0\n\n" + slurp(p("x.cp"));
    }
    auto r =
        run({"log", "prove", p(log), "--consistency", std::to_string(old_size), std::to_string(new_size)});
    EXPECT_EQ(r.rc, 0) << r;
    auto req = witness::request_from_consistency_doc(*jcs::parse(r.out));
    EXPECT_TRUE(req.ok());
    return req->serialize();
  }
  test_util::TempDir tmp_{"witnessserve"};
  fs::path dir_ = tmp_.path();
  UnixTime now_ = 1795341600;
};

TEST_F(WitnessServeTest, TwoWitnessesCosignAGrowingLogAndRefuseAFork) {
  ASSERT_EQ(run({"log", "keygen", "--name", "box17.example.org/audit", "--out", p("box.key")}).rc, 0);
  for (const char* w : {"w1", "w2"}) {
    ASSERT_EQ(run({"log", "keygen", "--cosigner", "--name", std::string("auditor.example/") + w, "--out",
                   p(std::string(w) + ".key")})
                  .rc,
              0);
  }
  WitnessProcess w1(dir_, "w1", p("box.key.pub")), w2(dir_, "w2", p("box.key.pub"));
  ASSERT_NE(w1.port(), 0);
  ASSERT_NE(w2.port(), 0);

  append("log", 3, "bundle-received");
  std::string first = body("log", 0, 3);
  std::string cp3 = slurp(p("x.cp"));
  std::string lines;
  for (auto* w : {&w1, &w2}) {
    Answer a = post(w->port(), "/add-checkpoint", first);
    ASSERT_EQ(a.status, 200) << a.body << slurp(w->err());
    EXPECT_EQ(a.body.rfind("\xe2\x80\x94 auditor.example/", 0), 0u) << a.body;
  }
  // The log grows: both cosign with a proof from 3; their lines on the checkpoint meet a quorum of 2.
  append("log", 4, "install-complete");
  std::string grow = body("log", 3, 7);
  for (auto* w : {&w1, &w2}) {
    Answer a = post(w->port(), "/add-checkpoint", grow);
    ASSERT_EQ(a.status, 200) << a.body << slurp(w->err());
    lines += a.body;
  }
  auto req = witness::Request::parse(grow);
  test_util::spit(p("cp7.cosigned"), req->checkpoint + lines);
  auto v = run({"log", "verify", p("log"), "--key", p("box.key.pub"), "--checkpoint", p("cp7.cosigned"),
                "--witness", p("w1.key.pub"), "--witness", p("w2.key.pub"), "--quorum", "2"});
  EXPECT_EQ(v.rc, 0) << v;
  EXPECT_TRUE(contains(v.out, "2 valid cosignature(s) on the checkpoint of size 7")) << v;

  // A stale old size: 409 with the size the witness knows, as the spec says.
  Answer stale = post(w1.port(), "/add-checkpoint", grow);
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(stale.body, "7\n");
  EXPECT_EQ(stale.type, "text/x.tlog.size");
  // Rollback: the checkpoint of 3 from old size 3: old size is not 7, 409; the log names it.
  Answer back = post(w1.port(), "/add-checkpoint", "old 3\n\n" + cp3);
  EXPECT_EQ(back.status, 409);
  EXPECT_TRUE(contains(slurp(w1.err()), "409 ROLLBACK")) << slurp(w1.err());

  // A copy of the log directory diverges; its checkpoints go to a witness that saw the original.
  fs::copy(dir_ / "log", dir_ / "fork", fs::copy_options::recursive);
  append("fork", 3, "model-removed");
  append("log", 3, "install-complete");
  Answer fork = post(w1.port(), "/add-checkpoint", body("fork", 7, 10));
  // The fork extends 7 honestly (entries 0-6 are shared), so: w1 cosigns it... then the
  // original's checkpoint of 10 is the fork of it: same size, another root, 409.
  ASSERT_EQ(fork.status, 200) << fork.body;
  Answer original = post(w1.port(), "/add-checkpoint", body("log", 10, 10));
  EXPECT_EQ(original.status, 409) << original.body;
  EXPECT_EQ(original.body, "10\n");
  // A proof from 7 that does not lead to the checkpoint's root (the original's path with the
  // fork's checkpoint), to w2, which is at 7: 422, naming both sizes and roots.
  std::string log_proof = body("log", 7, 10);
  auto lp = witness::Request::parse(log_proof);
  auto fp = witness::Request::parse(body("fork", 7, 10));
  lp->checkpoint = fp->checkpoint;
  Answer bad = post(w2.port(), "/add-checkpoint", lp->serialize());
  EXPECT_EQ(bad.status, 422) << bad.body;
  EXPECT_TRUE(contains(bad.body, "FORK")) << bad.body;
  EXPECT_TRUE(contains(bad.body, "size 10 (root ")) << bad.body;
  EXPECT_TRUE(contains(bad.body, "size 7 (root ")) << bad.body;
  std::string w1log = slurp(w1.err());
  EXPECT_TRUE(contains(w1log, "FORK")) << w1log;

  // Malformed, unknown log, bad signature, wrong path and method, too large.
  EXPECT_EQ(post(w1.port(), "/add-checkpoint", "hello\n").status, 400);
  ASSERT_EQ(run({"log", "keygen", "--name", "other.example/audit", "--out", p("other.key")}).rc, 0);
  append("other", 1, "bundle-received", "other.key");
  EXPECT_EQ(post(w1.port(), "/add-checkpoint", body("other", 0, 1)).status, 404);
  std::string forged = "old 10\n\n" + fp->checkpoint;
  std::size_t nl = forged.find("\n10\n");
  forged.replace(nl + 1, 2, "11");
  EXPECT_EQ(post(w1.port(), "/add-checkpoint", forged).status, 403);
  EXPECT_EQ(post(w1.port(), "/other", "x").status, 404);
  EXPECT_EQ(post(w1.port(), "/add-checkpoint", std::string(witness::kMaxRequestSize + 10, 'a')).status, 413);

  // SIGTERM: a clean stop, exit 0, said on stderr.
  EXPECT_EQ(w1.stop(), 0);
  EXPECT_TRUE(contains(slurp(w1.err()), "stopped on SIGTERM")) << slurp(w1.err());
  EXPECT_EQ(w2.stop(), 0);
}

}  // namespace
}  // namespace countersign::cli
