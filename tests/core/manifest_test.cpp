#include "core/manifest.h"

#include <gtest/gtest.h>

#include <string>

#include "core/jcs.h"
#include "core/sha256.h"
#include "tests/core/document_test_util.h"

namespace countersign {
namespace {

using countersign::testing::FailsWith;
using nlohmann::json;

const std::string kHashAbc =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";  // SHA-256("abc")
const std::string kHashEmpty =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";  // SHA-256("")
const std::string kRevision = "0123456789abcdef0123456789abcdef01234567";

// A valid manifest as a person might write it: whitespace, keys in no particular order.
const std::string kPretty = R"({
  "version": "1",
  "schema": "countersign/manifest/v1",
  "name": "tiny",
  "kind": "model",
  "sources": [ { "revision": ")" +
                            kRevision + R"(", "type": "huggingface", "repo": "org/tiny" } ],
  "license": { "spdx": "MIT" },
  "files": [
    { "size": 3, "sha256": ")" +
                            kHashAbc + R"(", "path": "a.bin" },
    { "sha256": ")" + kHashEmpty +
                            R"(", "path": "dir/b.bin", "size": 0 }
  ]
})";

// The same document in RFC 8785 form, written out by hand.
const std::string kCanonical =
    R"({"files":[{"path":"a.bin","sha256":")" + kHashAbc + R"(","size":3},{"path":"dir/b.bin","sha256":")" +
    kHashEmpty +
    R"(","size":0}],"kind":"model","license":{"spdx":"MIT"},"name":"tiny","schema":"countersign/manifest/v1",)"
    R"("sources":[{"repo":"org/tiny","revision":")" +
    kRevision + R"(","type":"huggingface"}],"version":"1"})";

json base_doc() {
  auto doc = jcs::parse(kPretty);
  EXPECT_TRUE(doc.ok()) << doc.error().message;
  return *doc;
}

json file_entry(const std::string& path, json size = 1, const std::string& sha = kHashAbc) {
  return json{{"path", path}, {"size", std::move(size)}, {"sha256", sha}};
}

// base_doc() with its files replaced by `paths` (in the given order).
json with_files(std::initializer_list<std::string> paths) {
  json doc = base_doc();
  doc["files"] = json::array();
  for (const auto& p : paths) doc["files"].push_back(file_entry(p));
  return doc;
}

// Parses `text` with jcs::parse first, as documents arrive from files.
Result<Manifest> parse_json_text(const std::string& text) { return Manifest::parse_text(text); }

TEST(Manifest, ParsesValidDocument) {
  auto m = Manifest::parse_text(kPretty);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->kind(), "model");
  EXPECT_EQ(m->name(), "tiny");
  EXPECT_EQ(m->version(), "1");
  EXPECT_EQ(m->license().spdx, "MIT");
  EXPECT_FALSE(m->license().url.has_value());
  ASSERT_EQ(m->files().size(), 2u);
  EXPECT_EQ(m->files()[0].path, "a.bin");
  EXPECT_EQ(m->files()[0].size, 3u);
  EXPECT_EQ(hex_encode(m->files()[0].sha256), kHashAbc);
  EXPECT_EQ(m->files()[1].path, "dir/b.bin");
  EXPECT_EQ(m->total_size(), 3u);
  ASSERT_EQ(m->sources().size(), 1u);
  EXPECT_EQ(m->sources()[0].type, Source::Type::kHuggingFace);
  EXPECT_EQ(m->sources()[0].repo, "org/tiny");
}

TEST(ManifestHash, IsSha256OfHandWrittenCanonicalForm) {
  auto m = Manifest::parse_text(kPretty);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->hash(), sha256(kCanonical));
  auto canon = jcs::serialize(base_doc());
  ASSERT_TRUE(canon.ok());
  EXPECT_EQ(*canon, kCanonical);
}

TEST(ManifestHash, IndependentOfWhitespaceAndKeyOrder) {
  auto a = Manifest::parse_text(kPretty);
  auto b = Manifest::parse_text(kCanonical);
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(a->hash(), b->hash());
  auto canon = jcs::serialize(*jcs::parse(kPretty));
  ASSERT_TRUE(canon.ok());
  EXPECT_EQ(a->hash(), sha256(*canon));
}

TEST(ManifestHash, ToJsonRoundTripsToTheSameHash) {
  auto a = Manifest::parse_text(kPretty);
  ASSERT_TRUE(a.ok());
  auto b = Manifest::parse(a->to_json());
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->hash(), a->hash());
  EXPECT_EQ(*jcs::serialize(a->to_json()), kCanonical);
}

TEST(ManifestHash, ChangesWithAnyFileByte) {
  json doc = base_doc();
  doc["files"][0]["size"] = 4;
  auto a = Manifest::parse(base_doc());
  auto b = Manifest::parse(doc);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_NE(a->hash(), b->hash());
}

TEST(ManifestCreate, SortsFilesAndValidates) {
  Manifest::Fields f;
  f.name = "tiny";
  f.version = "1";
  f.license.spdx = "MIT";
  f.files = {{"dir/b.bin", 0, *digest_from_string("sha256:" + kHashEmpty)},
             {"a.bin", 3, *digest_from_string("sha256:" + kHashAbc)}};
  auto src = Source::from_spec("hf:org/tiny@" + kRevision);
  ASSERT_TRUE(src.ok()) << src.error().message;
  f.sources.push_back(*src);
  auto m = Manifest::create(f);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->files()[0].path, "a.bin");
  EXPECT_EQ(m->hash(), sha256(kCanonical));

  f.files.push_back({"../escape", 1, {}});
  EXPECT_TRUE(FailsWith(Manifest::create(f), Errc::kInvalidDocument, {"/files/0/path", ".."}));
}

// ---- schema and unknown fields ----------------------------------------------------------

TEST(ManifestReject, UnknownSchema) {
  json doc = base_doc();
  doc["schema"] = "countersign/manifest/v2";
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kUnknownSchema, {"countersign/manifest/v2"}));
  doc.erase("schema");
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kUnknownSchema, {"schema", "missing"}));
  doc["schema"] = "countersign/proposal/v1";
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kUnknownSchema, {"countersign/proposal/v1"}));
}

TEST(ManifestReject, UnknownTopLevelField) {
  json doc = base_doc();
  doc["signed_by"] = "mallory";
  EXPECT_TRUE(
      FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"manifest /signed_by", "unknown field"}));
}

TEST(ManifestReject, UnknownNestedFields) {
  json doc = base_doc();
  doc["files"][1]["mode"] = 493;
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/files/1/mode", "unknown field"}));
  doc = base_doc();
  doc["license"]["text"] = "...";
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/license/text", "unknown field"}));
  doc = base_doc();
  doc["sources"][0]["token"] = "secret";
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/sources/0/token", "unknown field"}));
}

TEST(ManifestReject, MissingAndWronglyTypedFields) {
  json doc = base_doc();
  doc.erase("name");
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/name", "missing"}));
  doc = base_doc();
  doc["files"] = json::array();
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/files"}));
  doc = base_doc();
  doc["files"][0]["size"] = "3";
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/files/0/size", "number"}));
  doc = base_doc();
  doc["kind"] = "dataset";
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/kind", "dataset"}));
}

TEST(ManifestReject, TopLevelNotAnObject) {
  EXPECT_TRUE(FailsWith(parse_json_text("[1,2]"), Errc::kInvalidDocument, {"manifest", "object"}));
}

TEST(ManifestReject, SyntaxErrorSaysManifest) {
  auto r = parse_json_text(R"({"schema": "countersign/manifest/v1",})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kMalformed);
  EXPECT_NE(r.error().message.find("manifest"), std::string::npos) << r.error().message;
}

// ---- path rules ---------------------------------------------------------------------------

struct PathCase {
  std::string path;
  std::string says;
};

class ManifestBadPath : public ::testing::TestWithParam<PathCase> {};

TEST_P(ManifestBadPath, IsRejectedWithPointerAndReason) {
  const PathCase& c = GetParam();
  EXPECT_TRUE(FailsWith(Manifest::parse(with_files({"a.bin", c.path})), Errc::kInvalidDocument,
                        {"manifest /files/1/path", c.says}));
  EXPECT_TRUE(check_manifest_path(c.path).has_value());
}

INSTANTIATE_TEST_SUITE_P(
    Rules, ManifestBadPath,
    ::testing::Values(PathCase{"/etc/passwd", "relative"}, PathCase{"../etc/passwd", "\"..\""},
                      PathCase{"b/../../x", "\"..\""}, PathCase{"b/./c", "\".\""}, PathCase{"./b", "\".\""},
                      PathCase{"b//c", "empty segment"}, PathCase{"b/", "empty segment"},
                      PathCase{"", "empty"}, PathCase{"b\\c", "backslash"},
                      PathCase{std::string("b\0c", 3), "U+0000 (a control character) at byte 1"}));

TEST(ManifestPath, AcceptsOrdinaryPaths) {
  for (const char* p : {"a", "a.b", "dir/sub/file.safetensors", "..a", "a..", ".hidden", "a b", "ünïcode"}) {
    EXPECT_FALSE(check_manifest_path(p).has_value()) << p << ": " << *check_manifest_path(p);
  }
}

TEST(ManifestReject, DuplicatePath) {
  EXPECT_TRUE(FailsWith(Manifest::parse(with_files({"a.bin", "a.bin"})), Errc::kInvalidDocument,
                        {"/files/1/path", "twice"}));
}

TEST(ManifestReject, UnsortedFilesSaySorted) {
  EXPECT_TRUE(FailsWith(Manifest::parse(with_files({"b.bin", "a.bin"})), Errc::kInvalidDocument,
                        {"/files/1/path", "sorted"}));
  // Byte order, not locale order: "B" (0x42) sorts before "a" (0x61).
  EXPECT_TRUE(Manifest::parse(with_files({"B.bin", "a.bin"})).ok());
  EXPECT_TRUE(FailsWith(Manifest::parse(with_files({"a.bin", "B.bin"})), Errc::kInvalidDocument,
                        {"/files/1/path", "sorted"}));
  // "a-b" < "a/b" < "a0" in bytes.
  EXPECT_TRUE(Manifest::parse(with_files({"a-b", "a/b", "a0"})).ok());
}

TEST(ManifestReject, FileThatIsAlsoADirectory) {
  EXPECT_TRUE(FailsWith(Manifest::parse(with_files({"a", "a/b"})), Errc::kInvalidDocument,
                        {"/files/1/path", "\"a\""}));
  EXPECT_TRUE(FailsWith(Manifest::parse(with_files({"x", "x/y/z"})), Errc::kInvalidDocument,
                        {"/files/1/path", "\"x\""}));
  EXPECT_TRUE(FailsWith(Manifest::parse(with_files({"m/n", "m/n/o"})), Errc::kInvalidDocument,
                        {"/files/1/path", "\"m/n\""}));
  // A shared prefix that is not a whole segment is fine.
  EXPECT_TRUE(Manifest::parse(with_files({"a", "ab/c"})).ok());
}

// ---- sizes and hashes ---------------------------------------------------------------------

TEST(ManifestReject, SizeAboveTwoToThe53MinusOne) {
  // As read from text: jcs::parse keeps every number as a double.
  std::string text = kPretty;
  auto pos = text.find("\"size\": 3");
  ASSERT_NE(pos, std::string::npos);
  std::string too_big = text;
  too_big.replace(pos, 9, "\"size\": 9007199254740992");
  EXPECT_TRUE(FailsWith(Manifest::parse_text(too_big), Errc::kInvalidDocument, {"/files/0/size", "2^53"}));
  std::string max_ok = text;
  max_ok.replace(pos, 9, "\"size\": 9007199254740991");
  auto m = Manifest::parse_text(max_ok);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->files()[0].size, 9007199254740991u);
  // And as an integer built in code.
  json doc = base_doc();
  doc["files"][0]["size"] = std::uint64_t{1} << 53;
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/files/0/size"}));
  doc["files"][0]["size"] = 1e300;
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/files/0/size"}));
}

TEST(ManifestReject, NegativeSize) {
  json doc = base_doc();
  doc["files"][0]["size"] = -1.0;
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/files/0/size", "negative"}));
  doc["files"][0]["size"] = -1;
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/files/0/size", "negative"}));
}

TEST(ManifestReject, FractionalSize) {
  json doc = base_doc();
  doc["files"][1]["size"] = 2.5;
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/files/1/size", "whole"}));
  // 3.0 is the same JSON number as 3 and is accepted.
  doc["files"][1]["size"] = 3.0;
  EXPECT_TRUE(Manifest::parse(doc).ok());
}

TEST(ManifestReject, Sha256Not64LowercaseHex) {
  for (const std::string& bad : {std::string(63, 'a'), std::string(65, 'a'), std::string(64, 'A'),
                                 std::string(64, 'g'), "sha256:" + kHashAbc, std::string()}) {
    json doc = base_doc();
    doc["files"][1]["sha256"] = bad;
    EXPECT_TRUE(
        FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/files/1/sha256", "64 lowercase hex"}))
        << bad;
  }
}

// ---- sources ------------------------------------------------------------------------------

TEST(ManifestReject, UnknownSourceType) {
  json doc = base_doc();
  doc["sources"].push_back(json{{"type", "ftp"}, {"base", "ftp://x/"}});
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument,
                        {"/sources/1/type", "unknown source type", "ftp"}));
}

TEST(ManifestReject, HuggingFaceRevisionNot40Hex) {
  for (const std::string& bad : {std::string("main"), kRevision.substr(0, 39), kRevision + "0",
                                 std::string(40, 'A'), std::string("v1.0")}) {
    json doc = base_doc();
    doc["sources"][0]["revision"] = bad;
    EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/sources/0/revision", "40"}))
        << bad;
  }
}

TEST(ManifestReject, BadSourceFields) {
  json doc = base_doc();
  doc["sources"][0]["repo"] = "no-slash";
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/sources/0/repo"}));
  doc = base_doc();
  doc["sources"] = json::array({json{{"type", "https"}, {"base", "ftp://mirror/"}}});
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/sources/0/base"}));
  doc["sources"] = json::array({json{{"type", "file"}, {"base", "relative/dir/"}}});
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/sources/0/base", "absolute"}));
  doc["sources"] = json::array({json{{"type", "s3"}, {"bucket", "Upper_Case"}}});
  EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/sources/0/bucket"}));
}

TEST(ManifestSources, AllFourTypesParse) {
  json doc = base_doc();
  doc["sources"] = json::array({
      json{{"type", "huggingface"}, {"repo", "google/gemma"}, {"revision", kRevision}},
      json{{"type", "s3"}, {"bucket", "acme-models"}, {"prefix", "gemma/"}, {"region", "eu-west-1"}},
      json{{"type", "https"}, {"base", "https://mirror.internal/models/gemma/"}},
      json{{"type", "file"}, {"base", "/mnt/usb/gemma/"}},
  });
  auto m = Manifest::parse(doc);
  ASSERT_TRUE(m.ok()) << m.error().message;
  ASSERT_EQ(m->sources().size(), 4u);
  EXPECT_EQ(m->sources()[0].location_of("dir/b.bin"),
            "https://huggingface.co/google/gemma/resolve/" + kRevision + "/dir/b.bin");
  EXPECT_EQ(m->sources()[1].location_of("a b.bin"),
            "https://acme-models.s3.eu-west-1.amazonaws.com/gemma/a%20b.bin");
  EXPECT_EQ(m->sources()[2].location_of("dir/b.bin"), "https://mirror.internal/models/gemma/dir/b.bin");
  EXPECT_EQ(m->sources()[3].location_of("dir/b.bin"), "/mnt/usb/gemma/dir/b.bin");
}

TEST(SourceSpec, ParsesCliForms) {
  auto hf = Source::from_spec("hf:google/gemma@" + kRevision);
  ASSERT_TRUE(hf.ok()) << hf.error().message;
  EXPECT_EQ(hf->repo, "google/gemma");
  EXPECT_EQ(hf->revision, kRevision);
  auto s3 = Source::from_spec("s3://acme-models/gemma/?region=eu-west-1");
  ASSERT_TRUE(s3.ok()) << s3.error().message;
  EXPECT_EQ(s3->bucket, "acme-models");
  EXPECT_EQ(s3->prefix, "gemma/");
  EXPECT_EQ(s3->region, "eu-west-1");
  auto https = Source::from_spec("https://mirror/x");
  ASSERT_TRUE(https.ok());
  EXPECT_EQ(https->base, "https://mirror/x/");
  auto file = Source::from_spec("file:///mnt/usb/x");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->base, "/mnt/usb/x/");

  EXPECT_TRUE(
      FailsWith(Source::from_spec("hf:google/gemma@main"), Errc::kInvalidArgument, {"hf:google/gemma@main"}));
  EXPECT_TRUE(FailsWith(Source::from_spec("ftp://x/"), Errc::kInvalidArgument, {"ftp://x/"}));
}

// Bucket and region become part of a host name: anything that could change the host (a "/",
// a dot label, an IP address, upper case) is refused with the field named, in manifests and
// in source specs (a configured mirror is parsed as a spec).
TEST(ManifestReject, S3BucketAndRegionMustBeDnsLabels) {
  for (const std::string& region :
       std::vector<std::string>{"x.attacker.example/", "us-east-1.evil.example", "US-EAST-1", "eu_west_1",
                                "-us-east-1", "", std::string(33, 'a'), "us-east-1#", "us east 1"}) {
    json doc = base_doc();
    doc["sources"] = json::array({json{{"type", "s3"}, {"bucket", "acme-models"}, {"region", region}}});
    EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/sources/0/region", "AWS region"}))
        << region;
  }
  for (const std::string& bucket : std::vector<std::string>{
           "ab", std::string(64, 'a'), "acme..models", ".acme", "acme.", "acme-", "-acme", "192.168.1.1",
           "acme/evil", "evil.example/x?", "acme_models", "a@b.example", "acme.-models"}) {
    json doc = base_doc();
    doc["sources"] = json::array({json{{"type", "s3"}, {"bucket", bucket}}});
    EXPECT_TRUE(FailsWith(Manifest::parse(doc), Errc::kInvalidDocument, {"/sources/0/bucket", "bucket name"}))
        << bucket;
  }
  EXPECT_TRUE(FailsWith(Source::from_spec("s3://acme-models/gemma/?region=x.attacker.example/"),
                        Errc::kInvalidArgument, {"region"}));
  EXPECT_TRUE(FailsWith(Source::from_spec("s3://10.0.0.1/gemma/"), Errc::kInvalidArgument, {"bucket"}));
}

TEST(ManifestSources, ValidS3NamesYieldTheVirtualHostedUrl) {
  for (const std::string& bucket : std::vector<std::string>{"abc", "acme-models", "acme.models.v2", "1acme",
                                                            std::string(63, 'b'), "192.168.1.1.x"}) {
    auto s = Source::from_spec("s3://" + bucket + "/p/?region=ap-southeast-2");
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(s->location_of("f.bin"), "https://" + bucket + ".s3.ap-southeast-2.amazonaws.com/p/f.bin");
  }
  // A Source assembled by hand is not trusted either: no URL from unchecked pieces.
  Source bad;
  bad.type = Source::Type::kS3;
  bad.bucket = "acme-models";
  bad.region = "x.attacker.example/";
  EXPECT_EQ(bad.location_of("f.bin"), "");
}

}  // namespace
}  // namespace countersign
