// RS1024: the Reed-Solomon checksum over GF(1024) that ends every SLIP-0039 mnemonic
// (SLIP-0039 "Checksum"). Three 10-bit words; it detects any error in up to 3 words and
// makes a random change go unnoticed with probability below 1e-9.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace countersign::shamir::rs1024 {

inline constexpr std::size_t kChecksumWords = 3;

// The customization string: "shamir" for non-extendable shares, "shamir_extendable" for
// extendable ones (SLIP-0039, "extendable backup flag").
std::string_view customization(bool extendable);

// The three checksum words for `data` (10-bit values, without checksum).
std::array<std::uint16_t, kChecksumWords> create_checksum(std::span<const std::uint16_t> data,
                                                          bool extendable);

// True when `data_with_checksum` (10-bit values, checksum last) has a valid checksum.
bool verify_checksum(std::span<const std::uint16_t> data_with_checksum, bool extendable);

}  // namespace countersign::shamir::rs1024
