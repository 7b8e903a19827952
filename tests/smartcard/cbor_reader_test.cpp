// smartcard/cbor_reader: the strict bounded CBOR reader (RFC 8949) under the COSE_Key and
// authenticatorData parsers: shortest-form heads, no indefinite lengths, every length
// bounded by the input.
#include "smartcard/cbor_reader.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace countersign::cbor {
namespace {

Result<std::int64_t> integer(const Bytes& in) {
  Reader r(in);
  auto v = r.integer();
  if (v.ok()) {
    EXPECT_TRUE(r.at_end());
  }
  return v;
}

TEST(CborReader, ReadsIntegersInTheirShortestForm) {
  EXPECT_EQ(*integer({0x00}), 0);
  EXPECT_EQ(*integer({0x17}), 23);
  EXPECT_EQ(*integer({0x18, 0x18}), 24);
  EXPECT_EQ(*integer({0x19, 0x01, 0x00}), 256);
  EXPECT_EQ(*integer({0x1a, 0x00, 0x01, 0x00, 0x00}), 65536);
  EXPECT_EQ(*integer({0x1b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00}), std::int64_t{1} << 32);
  EXPECT_EQ(*integer({0x20}), -1);
  EXPECT_EQ(*integer({0x26}), -7);
  EXPECT_EQ(*integer({0x38, 0x18}), -25);
  EXPECT_EQ(*integer({0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}),
            std::numeric_limits<std::int64_t>::min());
}

TEST(CborReader, RefusesLongerHeadsThanNeeded) {
  // CTAP 2.1 section 8 (canonical CBOR), RFC 8949 section 4.2.1.
  for (const Bytes& in : std::vector<Bytes>{{0x18, 0x17},
                                            {0x19, 0x00, 0xff},
                                            {0x1a, 0x00, 0x00, 0xff, 0xff},
                                            {0x1b, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff},
                                            {0x38, 0x00},
                                            {0x58, 0x01, 0xaa}}) {
    Reader r(in);
    auto h = r.head();
    ASSERT_FALSE(h.ok()) << hex_encode(in);
    EXPECT_EQ(h.error().code, Errc::kMalformed);
    EXPECT_NE(h.error().message.find("shortest form"), std::string::npos) << h.error().message;
  }
}

TEST(CborReader, RefusesWhatFido2DataNeverHolds) {
  for (const Bytes& in : std::vector<Bytes>{{},            // nothing
                                            {0x19, 0x01},  // argument cut off
                                            {0x1c},
                                            {0x1d},
                                            {0x1e},                    // reserved
                                            {0x5f, 0x41, 0x00, 0xff},  // indefinite byte string
                                            {0xbf, 0xff},              // indefinite map
                                            {0xc0, 0x00},              // tag
                                            {0xf5},                    // true
                                            {0xf9, 0x3c, 0x00}}) {     // half float
    Reader r(in);
    auto h = r.head();
    ASSERT_FALSE(h.ok()) << hex_encode(in);
    EXPECT_EQ(h.error().code, Errc::kMalformed);
  }
  EXPECT_FALSE(integer({0x3b, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}).ok()) << "below int64";
  EXPECT_FALSE(integer({0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}).ok()) << "above int64";
  EXPECT_FALSE(integer({0x40}).ok()) << "a byte string is not an integer";
}

TEST(CborReader, BoundsByteStringsByTheInput) {
  const Bytes two{0x42, 0xaa, 0xbb, 0x01};
  Reader r(two);
  auto b = r.bytes();
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(Bytes(b->begin(), b->end()), (Bytes{0xaa, 0xbb}));
  EXPECT_EQ(b->data(), two.data() + 1) << "a view into the input, not a copy";
  EXPECT_EQ(r.offset(), 3u);
  EXPECT_EQ(r.remaining(), 1u);

  const Bytes huge_in{0x5a, 0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 0x02, 0x03};
  Reader huge(huge_in);
  auto h = huge.bytes();
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.error().code, Errc::kMalformed);
  EXPECT_EQ(h.error().message, "CBOR: a byte string of 4294967295 bytes where 4 are left at byte 0");
  const Bytes longest{0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, short_by_one{0x43, 0xaa, 0xbb},
      text{0x62, 0x61, 0x62};
  EXPECT_FALSE(Reader(longest).bytes().ok());
  EXPECT_FALSE(Reader(short_by_one).bytes().ok()) << "one byte short";
  EXPECT_FALSE(Reader(text).bytes().ok()) << "a text string is not a byte string";
}

TEST(CborReader, AMapHeadIsOnlyACount) {
  // The 9 bytes that make cbor_load allocate 2^64 - 1 map entries are, here, a number that
  // the caller compares with what it expects.
  const Bytes nine{0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  Reader r(nine);
  auto n = r.map();
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, std::numeric_limits<std::uint64_t>::max());
  EXPECT_TRUE(r.at_end());
  const Bytes five{0xa5}, array{0x85};
  EXPECT_EQ(*Reader(five).map(), 5u);
  EXPECT_FALSE(Reader(array).map().ok()) << "an array is not a map";
}

}  // namespace
}  // namespace countersign::cbor

namespace countersign::cbor {
namespace {

TEST(CborReader, ReadsTextArraysTagsAndTheThreeSimpleValues) {
  const Bytes in{0xd2, 0x84, 0x63, 'a', 'b', 'c', 0xf4, 0xf5, 0xf6};  // 18([ "abc", false, true, null ])
  Reader r(in);
  EXPECT_FALSE(r.skip_tag(17)) << "another tag is not skipped";
  EXPECT_EQ(r.offset(), 0u);
  EXPECT_TRUE(r.skip_tag(18));
  auto n = r.array();
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 4u);
  auto t = r.text();
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(std::string(t->begin(), t->end()), "abc");
  EXPECT_FALSE(r.skip_null()) << "false is not null";
  auto f = r.item_head();
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->major, Major::kSimple);
  EXPECT_EQ(f->argument, 20u);
  auto tr = r.item_head();
  ASSERT_TRUE(tr.ok());
  EXPECT_EQ(tr->argument, 21u);
  EXPECT_TRUE(r.skip_null());
  EXPECT_TRUE(r.at_end());
  EXPECT_FALSE(r.skip_null()) << "nothing left";
  EXPECT_FALSE(r.skip_tag(18)) << "nothing left";
}

TEST(CborReader, KeepsItsStrictnessForTheNewTypes) {
  for (const Bytes& in : std::vector<Bytes>{{0xf7},                   // undefined
                                            {0xf8, 0x20},             // one-byte simple value
                                            {0xf9, 0x3c, 0x00},       // half float
                                            {0xd8, 0x12},             // tag 18 not in shortest form
                                            {0x7f, 0x61, 'a', 0xff},  // indefinite text
                                            {0x9f, 0xff},             // indefinite array
                                            {0x78, 0x01, 'a'}}) {     // text head not shortest
    Reader r(in);
    auto h = r.item_head();
    ASSERT_FALSE(h.ok()) << hex_encode(in);
    EXPECT_EQ(h.error().code, Errc::kMalformed);
  }
  const Bytes long_text{0x63, 'a', 'b'};
  Reader r(long_text);
  auto t = r.text();
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("a text string of 3 bytes where 2 are left at byte 0"), std::string::npos)
      << t.error().message;
  const Bytes bytes_not_text{0x41, 0x00};
  Reader b(bytes_not_text);
  EXPECT_FALSE(b.text().ok());
  Reader a(bytes_not_text);
  EXPECT_FALSE(a.array().ok());
  const Bytes tag18_not_shortest{0xd8, 0x12, 0x80};
  Reader s(tag18_not_shortest);
  EXPECT_FALSE(s.skip_tag(18)) << "a tag head not in shortest form is not skipped";
  EXPECT_EQ(s.offset(), 0u);
}

}  // namespace
}  // namespace countersign::cbor
