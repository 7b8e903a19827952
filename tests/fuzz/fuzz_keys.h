// The fixed keys of the fuzz targets that check signed checkpoints (tlog_proof,
// witness_request): public test keys, derived from SHA-256("countersign fuzz " + name), so
// that the seeds make_log_seeds writes verify and the fuzzer can mutate everything but the
// signed checkpoint and still reach the proof checks behind the signature. Never a real key.
#pragma once

#include <string_view>

namespace countersign::fuzz {

inline constexpr std::string_view kLogVkey =
    "fuzz.countersign.example/log+28ff087e+AQcPW3cu85ZNj5wm8tmlcbnQjHvrLt+NKjSHmeL/EnF3";
inline constexpr std::string_view kWitnessVkey =
    "fuzz.countersign.example/w1+8e459665+BHh0cWHwzIdXK+GsVRePvJlkU+ZuX7rcAWJXd6rsU0SP";

}  // namespace countersign::fuzz
