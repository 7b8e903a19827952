#include "core/checkpoint.h"

#include <limits>

#include "core/bytes.h"

namespace countersign {

Result<Checkpoint> Checkpoint::parse(std::string_view text) {
  auto bad = [](const std::string& why) { return Error(Errc::kMalformed, "checkpoint: " + why); };
  if (text.empty() || text.back() != '\n') return bad("note text does not end in a newline");
  std::vector<std::string_view> lines;
  std::string_view rest = text.substr(0, text.size() - 1);
  while (true) {
    std::size_t nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl));
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  // tlog-checkpoint "Note text": at least three non-empty lines.
  if (lines.size() < 3) return bad("needs an origin, a tree size and a root hash line");
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) return bad("line " + std::to_string(i + 1) + " is empty");
  }
  Checkpoint c;
  c.origin = std::string(lines[0]);
  std::string_view size = lines[1];
  if ((size.size() > 1 && size[0] == '0') || size.size() > 20) {
    return bad("line 2: tree size \"" + std::string(size) +
               "\" is not a decimal number without leading zeroes");
  }
  for (char ch : size) {
    if (ch < '0' || ch > '9')
      return bad("line 2: tree size \"" + std::string(size) + "\" is not a decimal number");
    std::uint64_t digit = static_cast<std::uint64_t>(ch - '0');
    if (c.size > (std::numeric_limits<std::uint64_t>::max() - digit) / 10)
      return bad("line 2: tree size overflows");
    c.size = c.size * 10 + digit;
  }
  auto root = base64_decode(lines[2]);
  if (!root.ok() || root->size() != 32) return bad("line 3: root hash is not base64 of 32 bytes");
  std::copy(root->begin(), root->end(), c.root.begin());
  for (std::size_t i = 3; i < lines.size(); ++i) c.extensions.emplace_back(lines[i]);
  return c;
}

std::string Checkpoint::to_text() const {
  std::string t = origin + "\n" + std::to_string(size) + "\n" + base64_encode(root) + "\n";
  for (const auto& e : extensions) t += e + "\n";
  return t;
}

}  // namespace countersign
