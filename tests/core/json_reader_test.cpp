#include "core/json_reader.h"

#include <gtest/gtest.h>

namespace countersign {
namespace {

using nlohmann::json;

json object_with(int members) {
  json j = json::object();
  for (int i = 0; i < members; ++i) j["m" + std::to_string(100 + i)] = i;
  return j;
}

std::string name(int i) { return "m" + std::to_string(100 + i); }

TEST(ObjectReader, FinishAcceptsAnObjectWhoseEveryMemberWasRead) {
  for (int n : {1, 15, 16, 17, 40}) {  // below, at and above what the reader keeps inline
    json j = object_with(n);
    auto r = ObjectReader::open(j, "doc", "/x");
    ASSERT_TRUE(r.ok());
    for (int i = n - 1; i >= 0; --i) ASSERT_TRUE(r->integer(name(i)).ok());
    EXPECT_TRUE(r->finish().ok()) << n << " members";
  }
}

TEST(ObjectReader, FinishNamesTheFirstMemberNotRead) {
  for (int n : {3, 16, 17, 40}) {
    json j = object_with(n);
    auto r = ObjectReader::open(j, "doc", "/x");
    ASSERT_TRUE(r.ok());
    for (int i = 0; i < n; ++i) {
      if (i == n / 2) continue;
      ASSERT_TRUE(r->integer(name(i)).ok());
      ASSERT_TRUE(r->integer(name(i)).ok()) << "reading a member twice counts it once";
    }
    // Asking for members that are absent must not make up for the one not read.
    EXPECT_FALSE(r->optional_string("absent1").value().has_value());
    EXPECT_FALSE(r->optional_bool("absent2").value().has_value());
    EXPECT_FALSE(r->member("absent3").ok());
    auto done = r->finish();
    ASSERT_FALSE(done.ok()) << n << " members";
    EXPECT_EQ(done.error().message, "doc /x/" + name(n / 2) + ": unknown field");
  }
}

TEST(ObjectReader, StringViewPointsIntoTheDocument) {
  json j = {{"path", "weights/model-00001-of-00002.safetensors"}, {"n", 1}};
  auto r = ObjectReader::open(j, "doc", "");
  ASSERT_TRUE(r.ok());
  auto s = r->string_view("path");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "weights/model-00001-of-00002.safetensors");
  EXPECT_EQ(s->data(), j["path"].get_ref<const std::string&>().data());
  auto bad = r->string_view("n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "doc /n: must be a string, not a number");
}

}  // namespace
}  // namespace countersign
