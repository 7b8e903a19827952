// Plain-words summaries of documents for people about to sign or check them.
#pragma once

#include <string>

#include "core/proposal.h"
#include "core/timeutil.h"

namespace countersign::cli {

// Multi-line description of a proposal: action, domain, boxes, manifest, times (with time
// left), note, and the proposal id grouped for reading aloud.
std::string describe_proposal(const Proposal& p, UnixTime now);

// The id in groups of four hex digits ("1a2b 3c4d ..."), easier to compare by voice.
std::string grouped_hex(const Digest& d);

}  // namespace countersign::cli
