// SLIP-0039 (Shamir's Secret-Sharing for Mnemonic Codes), two levels: a master secret is
// encrypted with a passphrase (shamir/cipher.h), the result is split among groups with a
// group threshold, and each group's share is split among its members with a member
// threshold (shamir/secret_sharing.h). Each member share is one mnemonic (shamir/share.h).
// Compatible with python-shamir-mnemonic (the reference) and Trezor.
//
// Groups and members are numbered from 1 in every message (the mnemonic stores 0-based
// indices). Errors name the input line of the share they are about.
//
// A wrong passphrase CANNOT be detected: every passphrase decrypts the shares to some
// secret. Check the recovered secret against something you know (a key id, an address).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/secret.h"
#include "shamir/share.h"

namespace countersign::shamir {

struct GroupSpec {
  unsigned threshold = 1;  // members needed, 1..count
  unsigned count = 1;      // members, 1..16; threshold 1 needs count 1 (SLIP-0039)
};

struct SplitParams {
  unsigned group_threshold = 1;         // groups needed, 1..groups.size()
  std::vector<GroupSpec> groups;        // 1..16 groups
  bool extendable = false;              // the extendable backup flag
  std::uint8_t iteration_exponent = 1;  // 0..15; PBKDF2 does 10000 << e iterations in all
};

struct ShareSet {
  std::uint16_t identifier = 0;
  bool extendable = false;
  std::uint8_t iteration_exponent = 0;
  unsigned group_threshold = 1;
  std::vector<GroupSpec> groups;
  std::vector<std::vector<SecretBytes>> mnemonics;  // [group][member], each one mnemonic
};

// Encrypts `master_secret` (16..32 bytes, even length) with `passphrase` (printable ASCII,
// may be empty) and splits it per `params` with a fresh random 15-bit identifier.
// kInvalidArgument for a secret length, passphrase, layout or exponent out of range.
Result<ShareSet> generate_mnemonics(const SecretBytes& master_secret, const SecretBytes& passphrase,
                                    const SplitParams& params);

// A fresh random master secret of `bits` bits (128..256, a multiple of 16) from libsodium.
Result<SecretBytes> generate_master_secret(unsigned bits);

// One mnemonic as the custodian gave it, with its 1-based line number for messages.
struct MnemonicInput {
  std::size_t line = 0;
  SecretBytes text;
};

struct ParsedShare {
  std::size_t line = 0;
  Share share;
};

// Parses every mnemonic and checks that they form one set. Errors:
//   kMalformed   "line 3: word 5 \"acadamic\" is not in the SLIP-39 word list; closest: ..."
//                "line 2: invalid checksum: ...", "line 4: invalid padding ..." (every bad
//                line is listed, one per line of the message)
//   kInvalidArgument  shares from different sets ("line 2 is from a different set than
//                line 1: identifier 123 vs 456"), also for the extendable flag, iteration
//                exponent, group threshold and group count; shares of one group with
//                different member thresholds or value lengths; a duplicate share ("line 4
//                repeats line 2 (group 1, member 3)") or two different shares with the same
//                group and member number; no mnemonics at all.
Result<std::vector<ParsedShare>> decode_mnemonics(std::span<const MnemonicInput> mnemonics);

// Recovers the encrypted master secret from decoded shares. Extra shares and extra groups
// are allowed and must agree with the others. Errors:
//   kRejected      not enough shares: says how many groups are needed and, for each group
//                  that was started, how many more shares it needs
//   kHashMismatch  "digest mismatch" (shares that do not belong together), or an extra
//                  share that disagrees with the rest of its group (names its line)
Result<SecretBytes> recover_encrypted_secret(std::span<const ParsedShare> shares);

// decode + recover + decrypt with `passphrase`. A wrong passphrase is not an error (see the
// header comment).
Result<SecretBytes> combine_mnemonics(std::span<const MnemonicInput> mnemonics,
                                      const SecretBytes& passphrase);

struct GroupReport {
  unsigned number = 0;  // 1-based
  unsigned threshold = 0;
  unsigned shares_present = 0;
  unsigned member_count_hint = 0;  // highest member number seen
};

struct CheckReport {
  std::uint16_t identifier = 0;
  bool extendable = false;
  std::uint8_t iteration_exponent = 0;
  unsigned group_threshold = 0;
  unsigned group_count = 0;
  std::size_t secret_bits = 0;
  std::vector<GroupReport> groups;    // one per group of the set, in order
  std::vector<std::string> problems;  // empty when the set is good
  // Subsets of threshold size that were recovered one by one (digest checked), and how
  // many there are; capped explicitly when huge. All of them are covered regardless by the
  // consistency check (every share lies on its group's polynomial).
  std::uint64_t subsets_recovered = 0;
  std::uint64_t subsets_total = 0;  // saturates at UINT64_MAX
  bool capped = false;
};

// Dry run over a complete set of shares, without decrypting: every mnemonic parses (as in
// decode_mnemonics, whose errors it returns), every group of the set has at least its
// threshold of shares, every share agrees with the others of its group and every group with
// the others, and up to `max_recoveries` threshold subsets (members within each group, then
// groups) recover with a valid digest. Findings go to CheckReport::problems.
Result<CheckReport> check_mnemonics(std::span<const MnemonicInput> mnemonics,
                                    std::uint64_t max_recoveries = 5000);

}  // namespace countersign::shamir
