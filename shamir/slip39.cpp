#include "shamir/slip39.h"

#include <sodium.h>

#include <algorithm>
#include <limits>
#include <map>

#include "shamir/cipher.h"
#include "shamir/gf256.h"
#include "shamir/secret_sharing.h"

namespace countersign::shamir {

namespace {

std::string line_name(std::size_t line) { return "line " + std::to_string(line); }

// Shares of one group, in input order.
using GroupMap = std::map<unsigned, std::vector<const ParsedShare*>>;

GroupMap by_group(std::span<const ParsedShare> shares) {
  GroupMap groups;
  for (const ParsedShare& p : shares) groups[p.share.group_index].push_back(&p);
  return groups;
}

std::vector<gf256::Point> member_points(std::span<const ParsedShare* const> members) {
  std::vector<gf256::Point> points;
  for (const ParsedShare* p : members) points.push_back({p->share.member_index, p->share.value.view()});
  return points;
}

bool equal_secret(ByteView a, ByteView b) {
  return a.size() == b.size() && (a.empty() || sodium_memcmp(a.data(), b.data(), a.size()) == 0);
}

std::string lines_of(std::span<const ParsedShare* const> members) {
  std::string out;
  for (std::size_t i = 0; i < members.size(); ++i)
    out += (i == 0 ? "" : ", ") + std::to_string(members[i]->line);
  return (members.size() == 1 ? "line " : "lines ") + out;
}

struct GroupSecret {
  unsigned index = 0;
  SecretBytes value;
};

// Recovers a group's share from its first `threshold` members and checks that every
// further member lies on the same polynomial.
Result<SecretBytes> recover_group(unsigned group_number, std::span<const ParsedShare* const> members) {
  const unsigned threshold = members[0]->share.member_threshold;
  const auto used = members.subspan(0, threshold);
  const auto points = member_points(used);
  auto secret = recover_secret(threshold, points);
  if (!secret.ok()) {
    return secret.error().with_context("group " + std::to_string(group_number) + " (" + lines_of(used) + ")");
  }
  for (const ParsedShare* extra : members.subspan(threshold)) {
    CS_TRY(SecretBytes expected, gf256::interpolate(points, extra->share.member_index));
    if (!equal_secret(expected.view(), extra->share.value.view())) {
      return make_error(Errc::kHashMismatch, line_name(extra->line) +
                                                 " does not agree with the other shares of group " +
                                                 std::to_string(group_number) + " (" + lines_of(used) +
                                                 "): it is corrupt or from another backup");
    }
  }
  return secret;
}

// Binomial coefficient, saturating.
std::uint64_t choose(unsigned n, unsigned k) {
  if (k > n) return 0;
  std::uint64_t r = 1;
  for (unsigned i = 1; i <= k; ++i) r = r * (n - k + i) / i;  // exact for n <= 16
  return r;
}

std::uint64_t sat_mul(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a)
    return std::numeric_limits<std::uint64_t>::max();
  return a * b;
}
std::uint64_t sat_add(std::uint64_t a, std::uint64_t b) {
  return b > std::numeric_limits<std::uint64_t>::max() - a ? std::numeric_limits<std::uint64_t>::max()
                                                           : a + b;
}

// Calls f(indices) for each k-subset of {0..n-1} in lexicographic order while f returns true.
template <typename F>
void for_each_subset(unsigned n, unsigned k, F&& f) {
  if (k > n || k == 0) return;
  std::vector<unsigned> idx(k);
  for (unsigned i = 0; i < k; ++i) idx[i] = i;
  while (true) {
    if (!f(std::span<const unsigned>(idx))) return;
    int i = static_cast<int>(k) - 1;
    while (i >= 0 && idx[static_cast<std::size_t>(i)] == n - k + static_cast<unsigned>(i)) --i;
    if (i < 0) return;
    ++idx[static_cast<std::size_t>(i)];
    for (auto j = static_cast<std::size_t>(i) + 1; j < k; ++j) idx[j] = idx[j - 1] + 1;
  }
}

}  // namespace

Result<SecretBytes> generate_master_secret(unsigned bits) {
  if (bits < kMinSecretBytes * 8 || bits > kMaxSecretBytes * 8 || bits % 16 != 0) {
    return make_error(Errc::kInvalidArgument, "a secret has 128 to 256 bits, a multiple of 16");
  }
  SecretBytes secret(bits / 8);
  ensure_sodium_initialized();
  randombytes_buf(secret.data(), secret.size());
  return secret;
}

Result<ShareSet> generate_mnemonics(const SecretBytes& master_secret, const SecretBytes& passphrase,
                                    const SplitParams& params) {
  if (master_secret.size() < kMinSecretBytes || master_secret.size() > kMaxSecretBytes ||
      master_secret.size() % 2 != 0) {
    return make_error(Errc::kInvalidArgument,
                      "the secret must be 128 to 256 bits, an even number of bytes; got " +
                          std::to_string(master_secret.size() * 8) + " bits");
  }
  if (params.groups.empty() || params.groups.size() > kMaxShareCount) {
    return make_error(Errc::kInvalidArgument, "give 1 to 16 groups");
  }
  if (params.group_threshold < 1 || params.group_threshold > params.groups.size()) {
    return make_error(Errc::kInvalidArgument, "the group threshold (" +
                                                  std::to_string(params.group_threshold) +
                                                  ") must be between 1 and the number of groups (" +
                                                  std::to_string(params.groups.size()) + ")");
  }
  for (std::size_t g = 0; g < params.groups.size(); ++g) {
    const GroupSpec& spec = params.groups[g];
    const std::string name = "group " + std::to_string(g + 1) + " (" + std::to_string(spec.threshold) + "/" +
                             std::to_string(spec.count) + ")";
    if (spec.count < 1 || spec.count > kMaxShareCount || spec.threshold < 1 || spec.threshold > spec.count) {
      return make_error(Errc::kInvalidArgument, name + ": need 1 <= threshold <= count <= 16");
    }
    if (spec.threshold == 1 && spec.count > 1) {
      return make_error(Errc::kInvalidArgument,
                        name + ": SLIP-39 does not allow several shares with threshold 1; use 1/1 instead");
    }
  }
  if (params.iteration_exponent > 15)
    return make_error(Errc::kInvalidArgument, "the iteration exponent must be 0..15");
  CS_TRY_VOID(check_passphrase(passphrase));

  ShareSet out;
  std::uint16_t id = 0;
  randombytes_buf(&id, sizeof id);
  out.identifier = static_cast<std::uint16_t>(id & 0x7FFFu);
  out.extendable = params.extendable;
  out.iteration_exponent = params.iteration_exponent;
  out.group_threshold = params.group_threshold;
  out.groups = params.groups;

  CS_TRY(SecretBytes encrypted,
         encrypt_master_secret(master_secret, passphrase,
                               CipherParams{out.identifier, out.extendable, out.iteration_exponent}));
  CS_TRY(std::vector<RawShare> group_shares,
         split_secret(params.group_threshold, static_cast<unsigned>(params.groups.size()), encrypted));
  for (std::size_t g = 0; g < params.groups.size(); ++g) {
    const GroupSpec& spec = params.groups[g];
    CS_TRY(std::vector<RawShare> members, split_secret(spec.threshold, spec.count, group_shares[g].value));
    std::vector<SecretBytes> words;
    for (RawShare& m : members) {
      Share s;
      s.identifier = out.identifier;
      s.extendable = out.extendable;
      s.iteration_exponent = out.iteration_exponent;
      s.group_index = static_cast<std::uint8_t>(g);
      s.group_threshold = static_cast<std::uint8_t>(params.group_threshold);
      s.group_count = static_cast<std::uint8_t>(params.groups.size());
      s.member_index = m.x;
      s.member_threshold = static_cast<std::uint8_t>(spec.threshold);
      s.value = std::move(m.value);
      words.push_back(encode_share(s));
    }
    out.mnemonics.push_back(std::move(words));
  }
  return out;
}

Result<std::vector<ParsedShare>> decode_mnemonics(std::span<const MnemonicInput> mnemonics) {
  if (mnemonics.empty()) return make_error(Errc::kInvalidArgument, "no shares were given");
  std::vector<ParsedShare> parsed;
  std::string bad;
  for (const MnemonicInput& m : mnemonics) {
    auto share = parse_share(as_chars(m.text.view()));
    if (!share.ok()) {
      bad += (bad.empty() ? "" : "\n") + line_name(m.line) + ": " + share.error().message;
      continue;
    }
    parsed.push_back({m.line, std::move(*share)});
  }
  if (!bad.empty()) return make_error(Errc::kMalformed, bad);

  const ParsedShare& first = parsed[0];
  for (const ParsedShare& p : parsed) {
    const Share& a = first.share;
    const Share& b = p.share;
    std::string what;
    if (a.identifier != b.identifier) {
      what = "identifier " + std::to_string(b.identifier) + " vs " + std::to_string(a.identifier);
    } else if (a.extendable != b.extendable) {
      what = std::string("extendable flag ") + (b.extendable ? "set" : "not set") + " vs " +
             (a.extendable ? "set" : "not set");
    } else if (a.iteration_exponent != b.iteration_exponent) {
      what = "iteration exponent " + std::to_string(b.iteration_exponent) + " vs " +
             std::to_string(a.iteration_exponent);
    } else if (a.group_threshold != b.group_threshold) {
      what =
          "group threshold " + std::to_string(b.group_threshold) + " vs " + std::to_string(a.group_threshold);
    } else if (a.group_count != b.group_count) {
      what = "group count " + std::to_string(b.group_count) + " vs " + std::to_string(a.group_count);
    } else if (a.value.size() != b.value.size()) {
      what = "secret length " + std::to_string(b.value.size() * 8) + " vs " +
             std::to_string(a.value.size() * 8) + " bits";
    }
    if (!what.empty()) {
      return make_error(Errc::kInvalidArgument,
                        line_name(p.line) + " is from a different set of shares than " +
                            line_name(first.line) + ": " + what +
                            " (all shares of one backup begin with the same two words)");
    }
  }
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const Share& a = parsed[j].share;
      const Share& b = parsed[i].share;
      if (a.group_index != b.group_index) continue;
      const std::string group = "group " + std::to_string(a.group_index + 1);
      if (a.member_threshold != b.member_threshold) {
        return make_error(Errc::kInvalidArgument,
                          line_name(parsed[i].line) + " and " + line_name(parsed[j].line) + " are both in " +
                              group + " but need different numbers of shares (" +
                              std::to_string(b.member_threshold) + " vs " +
                              std::to_string(a.member_threshold) + "); one is corrupt or from another set");
      }
      if (a.member_index == b.member_index) {
        const std::string who = group + ", share " + std::to_string(a.member_index + 1);
        if (equal_secret(a.value.view(), b.value.view())) {
          return make_error(Errc::kInvalidArgument, "duplicate share: " + line_name(parsed[i].line) +
                                                        " repeats " + line_name(parsed[j].line) + " (" + who +
                                                        ")");
        }
        return make_error(Errc::kInvalidArgument,
                          "duplicate share number: " + line_name(parsed[j].line) + " and " +
                              line_name(parsed[i].line) + " are both " + who +
                              " but differ; one of them is corrupt or from another backup");
      }
    }
  }
  return parsed;
}

Result<SecretBytes> recover_encrypted_secret(std::span<const ParsedShare> shares) {
  if (shares.empty()) return make_error(Errc::kInvalidArgument, "no shares were given");
  const Share& common = shares[0].share;
  const GroupMap groups = by_group(shares);

  std::vector<GroupSecret> complete;
  std::string missing;
  for (const auto& [index, members] : groups) {
    const unsigned need = members[0]->share.member_threshold;
    if (members.size() >= need) {
      CS_TRY(SecretBytes value, recover_group(index + 1, members));
      complete.push_back({index, std::move(value)});
    } else {
      const auto more = need - members.size();
      missing += "\n  group " + std::to_string(index + 1) + ": " + std::to_string(members.size()) + " of " +
                 std::to_string(need) + " shares, " + std::to_string(more) + " more needed";
    }
  }
  const unsigned need_groups = common.group_threshold;
  if (complete.size() < need_groups) {
    const auto more = need_groups - complete.size();
    return make_error(Errc::kRejected, "not enough shares: " + std::to_string(need_groups) + " of " +
                                           std::to_string(common.group_count) + " groups are needed and " +
                                           std::to_string(complete.size()) + " " +
                                           (complete.size() == 1 ? "is" : "are") + " complete; complete " +
                                           std::to_string(more) + " more group" + (more == 1 ? "" : "s") +
                                           missing);
  }
  std::vector<gf256::Point> points;
  for (std::size_t i = 0; i < need_groups; ++i)
    points.push_back({static_cast<std::uint8_t>(complete[i].index), complete[i].value.view()});
  auto secret = recover_secret(need_groups, points);
  if (!secret.ok()) return secret.error().with_context("combining the groups");
  for (std::size_t i = need_groups; i < complete.size(); ++i) {
    SecretBytes expected;
    if (need_groups == 1) {
      expected = SecretBytes::copy_of(points[0].y);
    } else {
      CS_TRY(SecretBytes e, gf256::interpolate(points, static_cast<std::uint8_t>(complete[i].index)));
      expected = std::move(e);
    }
    if (!equal_secret(expected.view(), complete[i].value.view())) {
      return make_error(Errc::kHashMismatch,
                        "group " + std::to_string(complete[i].index + 1) +
                            " does not agree with the other groups: a share in it is corrupt or "
                            "from another backup");
    }
  }
  return secret;
}

Result<SecretBytes> combine_mnemonics(std::span<const MnemonicInput> mnemonics,
                                      const SecretBytes& passphrase) {
  CS_TRY(std::vector<ParsedShare> shares, decode_mnemonics(mnemonics));
  CS_TRY(SecretBytes encrypted, recover_encrypted_secret(shares));
  const Share& s = shares[0].share;
  return decrypt_master_secret(encrypted, passphrase,
                               CipherParams{s.identifier, s.extendable, s.iteration_exponent});
}

Result<CheckReport> check_mnemonics(std::span<const MnemonicInput> mnemonics, std::uint64_t max_recoveries) {
  CS_TRY(std::vector<ParsedShare> shares, decode_mnemonics(mnemonics));
  const Share& common = shares[0].share;
  CheckReport report;
  report.identifier = common.identifier;
  report.extendable = common.extendable;
  report.iteration_exponent = common.iteration_exponent;
  report.group_threshold = common.group_threshold;
  report.group_count = common.group_count;
  report.secret_bits = common.value.size() * 8;
  const GroupMap groups = by_group(shares);

  std::uint64_t budget = max_recoveries;
  std::vector<GroupSecret> complete;
  std::vector<std::uint64_t> member_subsets(common.group_count, 0);
  for (unsigned g = 0; g < common.group_count; ++g) {
    GroupReport gr;
    gr.number = g + 1;
    const auto it = groups.find(g);
    if (it == groups.end()) {
      report.problems.push_back("group " + std::to_string(g + 1) + " has no shares: it cannot be reached");
      report.groups.push_back(gr);
      continue;
    }
    const auto& members = it->second;
    gr.threshold = members[0]->share.member_threshold;
    gr.shares_present = static_cast<unsigned>(members.size());
    for (const ParsedShare* p : members)
      gr.member_count_hint = std::max(gr.member_count_hint, p->share.member_index + 1u);
    report.groups.push_back(gr);
    if (members.size() < gr.threshold) {
      report.problems.push_back("group " + std::to_string(g + 1) + " cannot be reached: " +
                                std::to_string(members.size()) + " of " + std::to_string(gr.threshold) +
                                " shares, " + std::to_string(gr.threshold - members.size()) + " more needed");
      continue;
    }
    // Consistency: all members on one polynomial, so every subset gives the same value.
    auto value = recover_group(g + 1, members);
    if (!value.ok()) {
      report.problems.push_back(value.error().message);
      continue;
    }
    member_subsets[g] = choose(gr.shares_present, gr.threshold);
    // Explicit recoveries of each threshold subset, up to the budget.
    bool failed = false;
    for_each_subset(gr.shares_present, gr.threshold, [&](std::span<const unsigned> idx) {
      if (budget == 0) {
        report.capped = true;
        return false;
      }
      --budget;
      ++report.subsets_recovered;
      std::vector<const ParsedShare*> subset;
      for (unsigned i : idx) subset.push_back(members[i]);
      auto got = recover_secret(gr.threshold, member_points(subset));
      if (!got.ok() || !equal_secret(got->view(), value->view())) {
        report.problems.push_back("group " + std::to_string(g + 1) + ": " + lines_of(subset) +
                                  " do not recover the group's share" +
                                  (got.ok() ? "" : ": " + got.error().message));
        failed = true;
        return false;
      }
      return true;
    });
    if (!failed) complete.push_back({g, std::move(*value)});
  }

  // All threshold subsets of the whole set: for each choice of group_threshold groups, the
  // product of the member subsets of those groups.
  for_each_subset(common.group_count, common.group_threshold, [&](std::span<const unsigned> idx) {
    std::uint64_t n = 1;
    for (unsigned g : idx) n = sat_mul(n, member_subsets[g]);
    report.subsets_total = sat_add(report.subsets_total, n);
    return true;
  });

  if (complete.size() >= common.group_threshold) {
    std::vector<gf256::Point> all;
    for (const GroupSecret& gs : complete)
      all.push_back({static_cast<std::uint8_t>(gs.index), gs.value.view()});
    auto reference =
        recover_secret(common.group_threshold, std::span(all).subspan(0, common.group_threshold));
    if (!reference.ok()) {
      report.problems.push_back("the groups do not combine: " + reference.error().message);
    } else {
      for_each_subset(
          static_cast<unsigned>(all.size()), common.group_threshold, [&](std::span<const unsigned> idx) {
            if (budget == 0) {
              report.capped = true;
              return false;
            }
            --budget;
            ++report.subsets_recovered;
            std::vector<gf256::Point> subset;
            std::string names;
            for (unsigned i : idx) {
              subset.push_back(all[i]);
              names += (names.empty() ? "" : ", ") + std::to_string(all[i].x + 1);
            }
            auto got = recover_secret(common.group_threshold, subset);
            if (!got.ok() || !equal_secret(got->view(), reference->view())) {
              report.problems.push_back("groups " + names + " do not recover the same secret as the others");
              return false;
            }
            return true;
          });
    }
  } else if (report.problems.empty()) {
    report.problems.push_back("fewer complete groups than the group threshold");
  }
  return report;
}

}  // namespace countersign::shamir
