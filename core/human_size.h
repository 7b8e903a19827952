// Byte counts for people, shared by the diff, the CLI, the app and the box's messages.
#pragma once

#include <cstdint>
#include <string>

namespace countersign {

// "4.6 GiB", "512 B": binary units for people.
std::string human_size(std::uint64_t bytes);

}  // namespace countersign
