#include "cli/review.h"

#include <sstream>

namespace countersign::cli {

std::string grouped_hex(const Digest& d) {
  std::string hex = hex_encode(d);
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 4) {
    if (i != 0) out += (i % 32 == 0) ? "\n              " : " ";
    out += hex.substr(i, 4);
  }
  return out;
}

std::string describe_proposal(const Proposal& p, UnixTime now) {
  std::ostringstream o;
  o << "Proposal id   " << grouped_hex(p.id()) << "\n";
  o << "Action        " << action_name(p.action()) << ": " << action_description(p.action()) << "\n";
  o << "Domain        " << p.domain() << "\n";
  o << (p.action() == Action::kRotatePolicy ? "New policy    " : "Manifest      ") << digest_to_string(p.manifest())
    << "\n";
  if (p.previous()) o << "Replaces      " << digest_to_string(*p.previous()) << "\n";
  o << "Boxes         ";
  if (p.boxes()) {
    for (std::size_t i = 0; i < p.boxes()->size(); ++i) o << (i ? ", " : "") << (*p.boxes())[i];
  } else {
    o << "any box of the domain";
  }
  o << "\n";
  o << "Created       " << format_rfc3339(p.created()) << "\n";
  o << "Expires       " << format_rfc3339(p.expires());
  if (now < p.expires()) {
    o << " (in " << format_duration(p.expires() - now) << ")";
  } else {
    o << " (EXPIRED " << format_duration(now - p.expires()) << " ago)";
  }
  o << "\n";
  if (p.note()) o << "Note          " << *p.note() << "\n";
  return o.str();
}

}  // namespace countersign::cli
