#include "core/policy_chain.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "core/fileio.h"
#include "core/jcs.h"
#include "core/json_reader.h"

namespace countersign {
namespace {

constexpr std::uint64_t kMaxBundleBytes = std::uint64_t{64} << 20;
constexpr std::uint64_t kMaxHeadBytes = 4096;

Error chain_error(const std::string& where, const std::string& why) {
  return Error(Errc::kInvalidDocument, "policy chain " + where + ": " + why);
}

}  // namespace

std::string rotation_file_name(std::uint64_t version) {
  return "rotation-" + std::to_string(version) + ".json";
}

Result<PolicyChain> replay_policy_chain(Policy root, std::vector<Bundle> rotations, const std::string& box_id,
                                        const std::function<bool(const PolicyKey&)>& attested) {
  Policy current = root;
  for (std::size_t i = 0; i < rotations.size(); ++i) {
    const Bundle& b = rotations[i];
    const std::string where = rotation_file_name(current.version() + 1);
    if (b.proposal().action() != Action::kRotatePolicy || !b.new_policy()) {
      return chain_error(where, "is not a rotate-policy bundle");
    }
    VerifyOptions o;
    o.now = b.proposal().created();
    o.skew_seconds = 0;
    o.box_id = box_id;
    o.already_executed = [](const Digest&) { return false; };
    o.attestation_verified = attested;
    VerifyReport report = verify_bundle(b, current, o);
    if (!report.approved) {
      std::string why = report.failures.empty()
                            ? "not approved"
                            : report.failures.front().check + ": " + report.failures.front().message;
      return chain_error(where, "does not verify under policy version " + std::to_string(current.version()) +
                                    " (" + why + ")");
    }
    current = *b.new_policy();
  }
  return PolicyChain{std::move(root), std::move(rotations), std::move(current)};
}

Result<PolicyChain> load_policy_chain(const Policy& root, const std::string& dir, const std::string& box_id,
                                      const std::function<bool(const PolicyKey&)>& attested) {
  namespace fs = std::filesystem;
  std::error_code ec;
  // Every rotation file present, by version: a gap or a stray one is an error, not skipped.
  std::set<std::uint64_t> present;
  bool has_head = false;
  if (fs::exists(dir, ec)) {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      if (name == kPolicyHeadFile) {
        has_head = true;
        continue;
      }
      constexpr std::string_view kPrefix = "rotation-", kSuffix = ".json";
      if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) continue;  // temp files of a crash
      const std::string digits = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
      std::uint64_t v = 0;
      bool digits_ok = !digits.empty() && digits.size() <= 15 && digits[0] != '0';
      for (char c : digits) {
        digits_ok = digits_ok && c >= '0' && c <= '9';
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
      }
      if (!digits_ok) return chain_error(dir + "/" + name, "is not a rotation file name");
      present.insert(v);
    }
    if (ec) return Error(Errc::kIo, "cannot list the policy chain " + dir + ": " + ec.message());
  }
  std::vector<Bundle> rotations;
  std::uint64_t version = root.version();
  while (present.count(version + 1)) {
    const std::string path = dir + "/" + rotation_file_name(version + 1);
    CS_TRY(std::string text, read_file(path, kMaxBundleBytes));
    auto b = Bundle::parse_text(text);
    if (!b.ok()) return chain_error(path, b.error().message);
    if (!b->new_policy() || b->new_policy()->version() != version + 1) {
      return chain_error(path, "does not hold policy version " + std::to_string(version + 1));
    }
    present.erase(version + 1);
    rotations.push_back(std::move(*b));
    ++version;
  }
  if (!present.empty()) {
    return chain_error(dir + "/" + rotation_file_name(*present.begin()),
                       "does not follow on from version " + std::to_string(version) +
                           " (a rotation in between is missing, or it is older than the root policy)");
  }
  if (!has_head && !rotations.empty()) {
    return chain_error(dir + "/" + kPolicyHeadFile, "is missing while rotation files exist");
  }
  CS_TRY(PolicyChain chain, replay_policy_chain(root, std::move(rotations), box_id, attested));
  if (has_head) {
    const std::string path = dir + "/" + kPolicyHeadFile;
    CS_TRY(std::string text, read_file(path, kMaxHeadBytes));
    auto j = jcs::parse(text);
    if (!j.ok()) return chain_error(path, j.error().message);
    auto r = ObjectReader::open(*j, "policy chain head", "");
    if (!r.ok()) return chain_error(path, r.error().message);
    auto head_version = r->integer("version");
    auto head_hash = r->digest("policy");
    if (!head_version.ok()) return chain_error(path, head_version.error().message);
    if (!head_hash.ok()) return chain_error(path, head_hash.error().message);
    if (auto done = r->finish(); !done.ok()) return chain_error(path, done.error().message);
    if (*head_version != chain.current.version()) {
      return chain_error(path, "says version " + std::to_string(*head_version) +
                                   " is in force, but the rotation "
                                   "files reach version " +
                                   std::to_string(chain.current.version()) + " (a rotation file is missing)");
    }
    if (*head_hash != chain.current.hash()) {
      return chain_error(path, "names policy " + digest_to_string(*head_hash) + ", but the chain gives " +
                                   digest_to_string(chain.current.hash()));
    }
  }
  return chain;
}

}  // namespace countersign
