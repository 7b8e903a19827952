#include "shamir/wordlist.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <utility>

namespace countersign::shamir::wordlist {

namespace {

constexpr std::array<std::string_view, kWordCount> kWords = {
#include "shamir/wordlist_data.inc"
};

constexpr bool sorted_and_unique() {
  for (std::size_t i = 1; i < kWords.size(); ++i) {
    if (!(kWords[i - 1] < kWords[i])) return false;
  }
  return true;
}
static_assert(sorted_and_unique(), "index_of relies on a sorted word list");

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      const std::size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string_view word(std::uint16_t index) {
  if (index >= kWordCount) std::abort();
  return kWords[index];
}

std::optional<std::uint16_t> index_of(std::string_view w) {
  const auto it = std::lower_bound(kWords.begin(), kWords.end(), w);
  if (it == kWords.end() || *it != w) return std::nullopt;
  return static_cast<std::uint16_t>(it - kWords.begin());
}

std::vector<std::string_view> closest(std::string_view w, std::size_t max) {
  std::vector<std::pair<std::size_t, std::size_t>> ranked;  // (distance, index)
  ranked.reserve(kWordCount);
  for (std::size_t i = 0; i < kWordCount; ++i) {
    std::size_t d = edit_distance(w, kWords[i]);
    if (w.size() >= 4 && kWords[i].substr(0, 4) == w.substr(0, 4)) d = 0;
    ranked.emplace_back(d, i);
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string_view> out;
  for (std::size_t i = 0; i < ranked.size() && out.size() < max; ++i) out.push_back(kWords[ranked[i].second]);
  return out;
}

}  // namespace countersign::shamir::wordlist
