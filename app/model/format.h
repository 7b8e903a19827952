// Number formats for people, the same on every machine (no locale): "4,976,698,672".
#pragma once

#include <QString>
#include <cstdint>

namespace countersign::app {

QString grouped(std::uint64_t n);

}  // namespace countersign::app
