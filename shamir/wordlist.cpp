#include "shamir/wordlist.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
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

constexpr std::size_t longest_word() {
  std::size_t n = 0;
  for (auto w : kWords) n = std::max(n, w.size());
  return n;
}
constexpr std::size_t kLongestWord = longest_word();  // 8 in SLIP-0039

// Levenshtein distance from `a` to the list word `b`, or `bound` as soon as it is known to be
// at least `bound`. One row on the stack: `closest` runs it against all 1024 words for every
// unknown word, so it allocates nothing and gives up early on the words that cannot rank.
// Not coverage-instrumented under libFuzzer: its comparisons tell the fuzzer nothing about
// the input's structure, and tracing them cost the slip39 target nine tenths of its time.
#if defined(__clang__)
__attribute__((no_sanitize("coverage")))
#endif
std::size_t
edit_distance(std::string_view a, std::string_view b, std::size_t bound) {
  const std::size_t length_gap = a.size() > b.size() ? a.size() - b.size() : b.size() - a.size();
  if (length_gap >= bound) return bound;
  // Plain arithmetic on a C array: std::min and std::array's operator[] are separate,
  // instrumented calls in the fuzz build.
  std::size_t row[kLongestWord + 1];
  const std::size_t n = b.size();
  for (std::size_t j = 0; j <= n; ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    std::size_t row_min = i;
    for (std::size_t j = 1; j <= n; ++j) {
      const std::size_t up = row[j];
      std::size_t best = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      if (best < row_min) row_min = best;
      diagonal = up;
    }
    if (row_min >= bound) return bound;  // every later row is at least this
  }
  return row[n] < bound ? row[n] : bound;
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
  // The best `max` so far as (distance, index), in (distance, list order): a later word
  // ranks only when strictly closer than the last of them, so that is its bound.
  std::vector<std::pair<std::size_t, std::size_t>> best;
  if (max == 0) return {};
  for (std::size_t i = 0; i < kWordCount; ++i) {
    const std::size_t bound = best.size() < max ? SIZE_MAX : best.back().first;
    const bool same_start = w.size() >= 4 && kWords[i].substr(0, 4) == w.substr(0, 4);
    const std::size_t d = same_start ? 0 : edit_distance(w, kWords[i], bound);
    if (d >= bound) continue;
    const auto at = std::upper_bound(best.begin(), best.end(), d,
                                     [](std::size_t v, const auto& entry) { return v < entry.first; });
    best.insert(at, {d, i});
    if (best.size() > max) best.pop_back();
  }
  std::vector<std::string_view> out;
  for (const auto& [d, i] : best) out.push_back(kWords[i]);
  return out;
}

}  // namespace countersign::shamir::wordlist
