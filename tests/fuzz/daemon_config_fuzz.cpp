// Fuzz target: countersignd.conf (daemon::parse_config, which both the daemon and the
// System component read), then the checks that run after it (Config::validate) and the
// listen address parser. A refusal must say why; nothing may crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "daemon/config.h"

using namespace countersign::daemon;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = parse_config(text, "fuzz.conf");
  if (!config.ok()) {
    if (config.error().message.empty()) std::abort();
    return 0;
  }
  if (auto valid = config->validate(); !valid.ok() && valid.error().message.empty()) std::abort();
  if (config->listen) {
    auto address = parse_listen_address(*config->listen);
    if (!address.ok() && address.error().message.empty()) std::abort();
  }
  // A snapshot setting that parsed must print back to the same setting.
  auto again = SnapshotSpec::parse(config->snapshot.to_string());
  if (!again.ok() || again->to_string() != config->snapshot.to_string()) std::abort();
  return 0;
}
