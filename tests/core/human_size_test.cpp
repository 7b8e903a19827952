#include "core/human_size.h"

#include <gtest/gtest.h>

namespace countersign {
namespace {

TEST(HumanSize, BinaryUnits) {
  EXPECT_EQ(human_size(0), "0 B");
  EXPECT_EQ(human_size(512), "512 B");
  EXPECT_EQ(human_size(1023), "1023 B");
  EXPECT_EQ(human_size(1024), "1.0 KiB");
  EXPECT_EQ(human_size(1536), "1.5 KiB");
  EXPECT_EQ(human_size(std::uint64_t{5} << 30), "5.0 GiB");
  EXPECT_EQ(human_size(4976698672u), "4.6 GiB");
  EXPECT_EQ(human_size(std::uint64_t{1} << 50), "1.0 PiB");
  EXPECT_EQ(human_size(std::uint64_t{1} << 60), "1024.0 PiB");
}

}  // namespace
}  // namespace countersign
