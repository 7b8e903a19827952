// What the fetcher asks for, per source type: the URL (DESIGN.md "Manifest": a file's URL is
// the source base joined with its path) and the libcurl settings that carry credentials and
// restrict protocols. No network.
#include <gtest/gtest.h>

#include <string>

#include "daemon/fetch.h"

namespace countersign::daemon {
namespace {

const std::string kRevision = "0123456789abcdef0123456789abcdef01234567";

Source hf() {
  Source s;
  s.type = Source::Type::kHuggingFace;
  s.repo = "google/gemma-4-12b-it";
  s.revision = kRevision;
  return s;
}

Source s3(std::string region) {
  Source s;
  s.type = Source::Type::kS3;
  s.bucket = "acme-models";
  s.prefix = "gemma-4-12b/";
  s.region = std::move(region);
  return s;
}

Source of_spec(const std::string& spec) {
  auto s = Source::from_spec(spec);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return s.ok() ? *s : Source{};
}

TEST(FetchUrlTest, HuggingFaceResolvesThePinnedRevision) {
  EXPECT_EQ(fetch_url(hf(), "model-00001-of-00005.safetensors"),
            "https://huggingface.co/google/gemma-4-12b-it/resolve/" + kRevision +
                "/model-00001-of-00005.safetensors");
  EXPECT_EQ(
      fetch_url(hf(), "sub dir/tokenizer.json"),
      "https://huggingface.co/google/gemma-4-12b-it/resolve/" + kRevision + "/sub%20dir/tokenizer.json");
}

TEST(FetchUrlTest, S3UsesTheRegionalVirtualHostedEndpoint) {
  EXPECT_EQ(fetch_url(s3("eu-west-1"), "a/model.safetensors"),
            "https://acme-models.s3.eu-west-1.amazonaws.com/gemma-4-12b/a/model.safetensors");
  EXPECT_EQ(fetch_url(s3(""), "model.safetensors"),
            "https://acme-models.s3.amazonaws.com/gemma-4-12b/model.safetensors");
}

TEST(FetchUrlTest, HttpsJoinsBaseAndEncodedPath) {
  EXPECT_EQ(fetch_url(of_spec("https://mirror.internal/models/gemma"), "a b/c#1.bin"),
            "https://mirror.internal/models/gemma/a%20b/c%231.bin");
}

TEST(FetchUrlTest, FileSourceBecomesAPercentEncodedFileUrl) {
  EXPECT_EQ(fetch_url(of_spec("file:///mnt/usb stick/gemma/"), "sub/x y%.bin"),
            "file:///mnt/usb%20stick/gemma/sub/x%20y%25.bin");
  EXPECT_EQ(fetch_url(of_spec("file:///mnt/usb/"), "a.bin"), "file:///mnt/usb/a.bin");
}

FetchSettings with_credentials() {
  FetchSettings s;
  std::string token = "hf_test_token";
  s.hf_token = SecretBytes::copy_of(as_bytes(token));
  std::string secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  s.s3 = S3Credentials{"AKIDEXAMPLE", SecretBytes::copy_of(as_bytes(secret))};
  return s;
}

TEST(PlanRequestTest, HuggingFaceTokenGoesOnlyToHuggingFace) {
  FetchSettings creds = with_credentials();
  auto p = plan_request(hf(), "a.bin", creds);
  EXPECT_TRUE(p.bearer_token);
  EXPECT_EQ(p.protocols, "http,https");
  EXPECT_TRUE(p.follow_redirects);  // huggingface redirects to its CDN
  EXPECT_TRUE(p.aws_sigv4.empty());

  EXPECT_FALSE(plan_request(hf(), "a.bin", FetchSettings{}).bearer_token);
  EXPECT_FALSE(plan_request(of_spec("https://mirror.internal/m/"), "a.bin", creds).bearer_token);
  EXPECT_FALSE(plan_request(s3("eu-west-1"), "a.bin", creds).bearer_token);
  EXPECT_FALSE(plan_request(of_spec("file:///mnt/usb/"), "a.bin", creds).bearer_token);
}

TEST(PlanRequestTest, S3IsSignedWithSigV4ForItsRegionWhenCredentialsAreSet) {
  FetchSettings creds = with_credentials();
  EXPECT_EQ(plan_request(s3("eu-west-1"), "a.bin", creds).aws_sigv4, "aws:amz:eu-west-1:s3");
  EXPECT_EQ(plan_request(s3(""), "a.bin", creds).aws_sigv4, "aws:amz:us-east-1:s3");
  EXPECT_TRUE(plan_request(s3("eu-west-1"), "a.bin", FetchSettings{}).aws_sigv4.empty());
  EXPECT_TRUE(plan_request(hf(), "a.bin", creds).aws_sigv4.empty());
  EXPECT_TRUE(plan_request(of_spec("https://mirror.internal/m/"), "a.bin", creds).aws_sigv4.empty());
}

TEST(PlanRequestTest, FileSourcesSpeakOnlyFileAndNeverRedirect) {
  auto p = plan_request(of_spec("file:///mnt/usb/"), "a.bin", with_credentials());
  EXPECT_EQ(p.protocols, "file");
  EXPECT_FALSE(p.follow_redirects);
  EXPECT_EQ(p.url, "file:///mnt/usb/a.bin");
}

TEST(PlanRequestTest, NoRedirectsWhenMaxRedirectsIsZero) {
  FetchSettings s;
  s.max_redirects = 0;
  EXPECT_FALSE(plan_request(of_spec("https://mirror.internal/m/"), "a.bin", s).follow_redirects);
}

// The region goes into the SigV4 scope and the host: an unvalidated one (a Source built by
// hand) yields neither a URL nor a signing scope.
TEST(PlanRequestTest, S3RegionThatIsNoDnsLabelIsNeverUsed) {
  const FetchSettings creds = with_credentials();
  const RequestPlan plan = plan_request(s3("x.attacker.example/"), "a.bin", creds);
  EXPECT_EQ(plan.url, "");
  EXPECT_EQ(plan.aws_sigv4, "");
}

}  // namespace
}  // namespace countersign::daemon
