// Fuzz target: the records the daemon and the System component keep on disk and read back
// at every start: the daemon's job records (daemon/state.h JobRecord), the helper's proposal
// records and veto records (system/records.h). The first byte picks the record type; the
// rest is the file's text. A record that parses must write out to JSON that parses again to
// the same canonical bytes, and a refusal must say why.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/jcs.h"
#include "daemon/state.h"
#include "system/records.h"

using namespace countersign;
using namespace countersign::daemon;

namespace {

template <typename Record>
void round_trip(const nlohmann::json& j) {
  auto record = Record::from_json(j);
  if (!record.ok()) {
    if (record.error().message.empty()) std::abort();
    return;
  }
  const nlohmann::json out = record->to_json();
  auto again = Record::from_json(out);
  if (!again.ok()) std::abort();
  auto a = jcs::serialize(out);
  auto b = jcs::serialize(again->to_json());
  if (!a.ok() || !b.ok() || *a != *b) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1 || size > 256 * 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto j = jcs::parse(text);  // as state.cpp and records.cpp read their files
  if (!j.ok()) return 0;
  switch (data[0] % 3) {
    case 0:
      round_trip<JobRecord>(*j);
      break;
    case 1:
      round_trip<ProposalRecord>(*j);
      break;
    default:
      round_trip<VetoRecord>(*j);
      break;
  }
  return 0;
}
