// Plain-words summaries of documents for people about to sign or check them, shared by the
// CLI (`proposal show`, `sign`) and the app (Review view).
#pragma once

#include <string>

#include "core/bundle.h"
#include "core/proposal.h"
#include "core/timeutil.h"

namespace countersign {

// Multi-line description of a proposal: action, domain, boxes, manifest, times (with time
// left), note, and the proposal id grouped for reading aloud.
std::string describe_proposal(const Proposal& p, UnixTime now);

// What a bundle approves, in the words of its documents, for the end of a verification
// report (`bundle verify`, the app's Verify view): the proposer, the note, the manifest's
// name, version, file count and description. Untrusted text, all of it shown escaped.
std::string describe_bundle_subject(const Bundle& b);

// "2026-11-29T10:00:00Z (in 6d 23h)" or "... (EXPIRED 2h ago)": the expiry with time left.
std::string expiry_text(UnixTime expires, UnixTime now);

// The id in groups of four hex digits ("1a2b 3c4d ..."), easier to compare by voice.
std::string grouped_hex(const Digest& d);

}  // namespace countersign
