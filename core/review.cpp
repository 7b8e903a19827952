#include "core/review.h"

#include <sstream>

#include "core/untrusted_text.h"

namespace countersign {

std::string grouped_hex(const Digest& d) {
  std::string hex = hex_encode(d);
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 4) {
    if (i != 0) out += (i % 32 == 0) ? "\n              " : " ";
    out += hex.substr(i, 4);
  }
  return out;
}

std::string expiry_text(UnixTime expires, UnixTime now) {
  std::string out = format_rfc3339(expires);
  if (now < expires) return out + " (in " + format_duration(expires - now) + ")";
  return out + " (EXPIRED " + format_duration(now - expires) + " ago)";
}

std::vector<NameWarning> manifest_name_warnings(const Manifest& m) {
  std::vector<NameWarning> out;
  const auto check = [&out](std::string pointer, const std::string& name) {
    if (auto w = script_warning(name)) out.push_back({std::move(pointer), name, std::move(*w)});
  };
  check("/name", m.name());
  check("/version", m.version());
  for (std::size_t i = 0; i < m.files().size(); ++i)
    check("/files/" + std::to_string(i) + "/path", m.files()[i].path);
  return out;
}

std::string describe_name_warnings(const Manifest& m) {
  const std::vector<NameWarning> warnings = manifest_name_warnings(m);
  if (warnings.empty()) return "";
  std::ostringstream o;
  o << "Names to check  " << warnings.size()
    << (warnings.size() == 1 ? " name may imitate another" : " names may imitate others") << "\n";
  for (const auto& w : warnings) {
    o << "  " << w.pointer << "  " << escape_untrusted(w.name) << "\n";
    o << "  ! this name " << w.warning << "\n";
  }
  return o.str();
}

std::string describe_proposal(const Proposal& p, UnixTime now) {
  std::ostringstream o;
  o << "Proposal id   " << grouped_hex(p.id()) << "\n";
  o << "Action        " << action_name(p.action()) << ": " << action_description(p.action()) << "\n";
  o << "Domain        " << escape_untrusted(p.domain()) << "\n";
  o << (p.action() == Action::kRotatePolicy ? "New policy    " : "Manifest      ")
    << digest_to_string(p.manifest()) << "\n";
  if (p.previous()) o << "Replaces      " << digest_to_string(*p.previous()) << "\n";
  o << "Boxes         ";
  if (p.boxes()) {
    for (std::size_t i = 0; i < p.boxes()->size(); ++i)
      o << (i ? ", " : "") << escape_untrusted((*p.boxes())[i]);
  } else {
    o << "any box of the domain";
  }
  o << "\n";
  if (p.proposer()) o << "Proposer      " << escape_untrusted(*p.proposer()) << "\n";
  o << "Created       " << format_rfc3339(p.created()) << "\n";
  o << "Expires       " << expiry_text(p.expires(), now) << "\n";
  // The note is free text: any Unicode, shown escaped (a control or bidi character in it is
  // seen, never interpreted; core/untrusted_text.h).
  if (p.note()) o << "Note          " << escape_untrusted(*p.note()) << "\n";
  return o.str();
}

std::string describe_bundle_subject(const Bundle& b) {
  std::ostringstream o;
  const Proposal& p = b.proposal();
  if (p.proposer()) o << "Proposer " << escape_untrusted(*p.proposer()) << "\n";
  if (p.note()) o << "Note     " << escape_untrusted(*p.note()) << "\n";
  if (const auto& m = b.manifest()) {
    o << "Manifest " << escape_untrusted(m->name()) << " " << escape_untrusted(m->version()) << ", "
      << m->files().size() << " file" << (m->files().size() == 1 ? "" : "s") << "\n";
    if (m->description()) o << "         " << escape_untrusted(*m->description()) << "\n";
    o << describe_name_warnings(*m);
  }
  return o.str();
}

}  // namespace countersign
