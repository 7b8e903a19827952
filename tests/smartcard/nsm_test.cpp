// smartcard/nsm: the Nitro Secure Module's attestation request, byte for byte as AWS's own
// library (aws-nitro-enclaves-nsm-api, src/api/mod.rs `Request::Attestation`, serialised by
// serde: an externally tagged enum, fields in declaration order, None as null) writes it; its
// two answers; and what a box without the device, or with something else at its path, says.
#include "smartcard/nsm.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "tests/test_util.h"

namespace countersign::nsm {
namespace {

using test_util::contains;

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }
Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(NsmRequest, AttestationWithUserDataAndNonceIsAwsEncoding) {
  const Bytes user_data(32, 0xab);
  const Bytes nonce = *hex_decode("0102030405060708");
  auto got = encode({user_data, nonce, std::nullopt});
  ASSERT_TRUE(got.ok()) << got.error().message;
  // {"Attestation": {"user_data": h'abab..', "nonce": h'0102..08', "public_key": null}}
  const Bytes want = cat({{0xa1, 0x6b},
                          bytes_of("Attestation"),
                          {0xa3, 0x69},
                          bytes_of("user_data"),
                          {0x58, 0x20},
                          user_data,
                          {0x65},
                          bytes_of("nonce"),
                          {0x48},
                          nonce,
                          {0x6a},
                          bytes_of("public_key"),
                          {0xf6}});
  EXPECT_EQ(hex_encode(*got), hex_encode(want));
}

TEST(NsmRequest, AbsentFieldsAreNullAndLongOnesUseTwoByteLengths) {
  auto none = encode({});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(hex_encode(*none),
            "a16b4174746573746174696f6ea369757365725f64617461f6656e6f6e6365f66a7075626c69635f6b6579f6");
  const Bytes key(300, 0x01);
  auto with_key = encode({std::nullopt, std::nullopt, key});
  ASSERT_TRUE(with_key.ok());
  // public_key: a byte string head 0x59 0x01 0x2c (300) and the bytes, last in the map.
  const std::string h = hex_encode(*with_key);
  EXPECT_EQ(h.substr(h.size() - 2 * 303, 6), "59012c");
}

TEST(NsmRequest, AFieldOverTheNsmLimitIsRefusedNamingIt) {
  auto got = encode({Bytes(1025, 0), std::nullopt, std::nullopt});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::kInvalidArgument);
  EXPECT_TRUE(contains(got.error().message, "user_data is 1025 bytes, over the NSM's 1024"))
      << got.error().message;
}

TEST(NsmResponse, TheDocumentIsTakenFromAnAttestationAnswer) {
  const Bytes doc = {0x84, 0x44, 0xa1, 0x01, 0x38, 0x22};
  const Bytes answer =
      cat({{0xa1, 0x6b}, bytes_of("Attestation"), {0xa1, 0x68}, bytes_of("document"), {0x46}, doc});
  auto got = decode_response(answer);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, doc);
}

TEST(NsmResponse, AnErrorAnswerNamesTheNsmsCode) {
  const Bytes answer = cat({{0xa1, 0x65}, bytes_of("Error"), {0x6f}, bytes_of("InvalidArgument")});
  auto got = decode_response(answer);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::kRejected);
  EXPECT_TRUE(contains(got.error().message, "refused the attestation request: InvalidArgument"))
      << got.error().message;
}

TEST(NsmResponse, OtherAnswersAndTrailingBytesAreMalformedWithTheirOffset) {
  const Bytes good =
      cat({{0xa1, 0x6b}, bytes_of("Attestation"), {0xa1, 0x68}, bytes_of("document"), {0x41, 0x00}});
  Bytes trailing = good;
  trailing.push_back(0x00);
  auto t = decode_response(trailing);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, Errc::kMalformed);
  EXPECT_TRUE(
      contains(t.error().message, "bytes after the answer (at byte " + std::to_string(good.size()) + ")"))
      << t.error().message;

  const Bytes random_answer = cat({{0xa1, 0x69}, bytes_of("GetRandom"), {0xa0}});
  auto r = decode_response(random_answer);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error().message, "an answer \"GetRandom\", not Attestation or Error (at byte 1)"))
      << r.error().message;

  auto empty = decode_response({});
  ASSERT_FALSE(empty.ok());
  EXPECT_TRUE(contains(empty.error().message, "not a CBOR map")) << empty.error().message;

  // A declared length beyond the input: refused before anything is read or allocated.
  const Bytes huge = cat({{0xa1, 0x6b},
                          bytes_of("Attestation"),
                          {0xa1, 0x68},
                          bytes_of("document"),
                          {0x5a, 0xff, 0xff, 0xff, 0xff}});
  auto h = decode_response(huge);
  ASSERT_FALSE(h.ok());
  EXPECT_TRUE(contains(h.error().message, "the document is not a byte string")) << h.error().message;
}

TEST(NsmDevice, ABoxWithoutTheDeviceSaysNoAttestationIsAvailable) {
  test_util::TempDir dir("nsm");
  auto got = attest(dir.file("nsm"), {});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::kUnsupported);
  EXPECT_EQ(got.error().message, "no attestation available: this box has no Nitro Secure Module (" +
                                     dir.file("nsm") + " does not exist)");
}

TEST(NsmDevice, AFileThatIsNoCharacterDeviceIsNotTakenForOne) {
  test_util::TempDir dir("nsm");
  test_util::spit(dir.file("nsm"), "not a device");
  auto got = attest(dir.file("nsm"), {});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::kUnsupported);
  EXPECT_TRUE(contains(got.error().message, "is not a character device, so not a Nitro Secure Module"))
      << got.error().message;
  EXPECT_EQ(test_util::slurp(dir.file("nsm")), "not a device");  // opened for nothing, changed in nothing
}

TEST(NsmDevice, ACharacterDeviceThatIsNoNsmRefusesTheIoctl) {
  test_util::TempDir dir("nsm");
  // A node of the kernel's memory driver's zero device (1:5), made in the test's directory: a
  // character device that knows no NSM ioctl.
  const std::string node = dir.file("nsm");
  if (::mknod(node.c_str(), S_IFCHR | 0600, makedev(1, 5)) != 0)
    GTEST_SKIP() << "cannot make a device node here (mknod needs CAP_MKNOD): " << std::strerror(errno);
  auto got = attest(node, {Bytes(32, 1), Bytes(16, 2), std::nullopt});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::kIo);
  EXPECT_TRUE(contains(got.error().message, "the attestation request to " + node + " failed"))
      << got.error().message;
  EXPECT_TRUE(contains(got.error().message, "(the device is not a Nitro Secure Module)"))
      << got.error().message;
}

}  // namespace
}  // namespace countersign::nsm
