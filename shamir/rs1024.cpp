#include "shamir/rs1024.h"

namespace countersign::shamir::rs1024 {

namespace {

// Generator constants of SLIP-0039 "Checksum" (reference rs1024_polymod).
constexpr std::array<std::uint32_t, 10> kGen = {0xE0E040,   0x1C1C080,  0x3838100,  0x7070200,  0xE0E0009,
                                                0x1C0C2412, 0x38086C24, 0x3090FC48, 0x21B1F890, 0x3F3F120};

class Polymod {
 public:
  void feed(std::uint32_t value) {
    const std::uint32_t top = chk_ >> 20;
    chk_ = ((chk_ & 0xFFFFFu) << 10) ^ value;
    for (unsigned i = 0; i < 10; ++i) {
      if (((top >> i) & 1u) != 0) chk_ ^= kGen[i];
    }
  }
  void feed_customization(bool extendable) {
    for (char c : customization(extendable)) feed(static_cast<std::uint8_t>(c));
  }
  std::uint32_t value() const { return chk_; }

 private:
  std::uint32_t chk_ = 1;
};

}  // namespace

std::string_view customization(bool extendable) { return extendable ? "shamir_extendable" : "shamir"; }

std::array<std::uint16_t, kChecksumWords> create_checksum(std::span<const std::uint16_t> data,
                                                          bool extendable) {
  Polymod p;
  p.feed_customization(extendable);
  for (std::uint16_t v : data) p.feed(v);
  for (std::size_t i = 0; i < kChecksumWords; ++i) p.feed(0);
  const std::uint32_t mod = p.value() ^ 1u;
  return {static_cast<std::uint16_t>((mod >> 20) & 1023u), static_cast<std::uint16_t>((mod >> 10) & 1023u),
          static_cast<std::uint16_t>(mod & 1023u)};
}

bool verify_checksum(std::span<const std::uint16_t> data_with_checksum, bool extendable) {
  Polymod p;
  p.feed_customization(extendable);
  for (std::uint16_t v : data_with_checksum) p.feed(v);
  return p.value() == 1;
}

}  // namespace countersign::shamir::rs1024
