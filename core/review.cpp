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

std::string package_change_counts(const Manifest& m) {
  std::size_t upgraded = 0, added = 0, removed = 0;
  for (const auto& c : m.packages()) {
    if (c.remove) {
      ++removed;
    } else if (c.replaces) {
      ++upgraded;
    } else {
      ++added;
    }
  }
  return std::to_string(upgraded) + " upgraded, " + std::to_string(added) + " new, " +
         std::to_string(removed) + " removed";
}

std::string_view change_name(PackageChangeRow::Change c) {
  switch (c) {
    case PackageChangeRow::Change::kUpgrade:
      return "upgrade";
    case PackageChangeRow::Change::kInstall:
      return "install";
    case PackageChangeRow::Change::kRemove:
      return "remove";
  }
  return "?";
}

std::vector<PackageChangeRow> package_changes(const Manifest& m, const PackagesReview* review) {
  std::vector<PackageChangeRow> out;
  out.reserve(m.packages().size());
  for (const auto& c : m.packages()) {
    PackageChangeRow row;
    row.package = c.qualified_name();
    row.installed = c.replaces.value_or("");
    if (c.remove) {
      row.change = PackageChangeRow::Change::kRemove;
      out.push_back(std::move(row));
      continue;
    }
    row.change = c.replaces ? PackageChangeRow::Change::kUpgrade : PackageChangeRow::Change::kInstall;
    row.approved = c.version;
    row.file = c.file;
    if (review) {
      const PackageReview* pr = review->find(c.name, c.architecture);
      if (!pr) {
        row.review_problem = "the review has no entry for this package";
      } else if (pr->new_version != c.version || pr->old_version != c.replaces) {
        row.review_problem = "the review describes " + pr->old_version.value_or("nothing") + " -> " +
                             pr->new_version + ", not this change";
        row.review_mismatch = true;
      } else {
        row.changelog = pr->changelog;
        row.review_note = pr->note;
      }
    }
    out.push_back(std::move(row));
  }
  return out;
}

std::string describe_package_changes(const Manifest& m, const PackagesReview* review,
                                     const std::string& indent) {
  const auto e = [](std::string_view t) { return escape_untrusted(t); };
  std::ostringstream o;
  o << indent << package_change_counts(m) << "\n";
  const std::string under = indent + "         ";
  for (const auto& row : package_changes(m, review)) {
    switch (row.change) {
      case PackageChangeRow::Change::kRemove:
        o << indent << "remove   " << e(row.package) << "  " << e(row.installed) << "\n";
        continue;
      case PackageChangeRow::Change::kUpgrade:
        o << indent << "upgrade  " << e(row.package) << "  " << e(row.installed) << " -> " << e(row.approved)
          << "\n";
        break;
      case PackageChangeRow::Change::kInstall:
        o << indent << "install  " << e(row.package) << "  " << e(row.approved) << " (new)\n";
        break;
    }
    if (row.review_problem) {
      // A review of another change is marked "!", as a name that may imitate another.
      o << under << (row.review_mismatch ? "! " + e(*row.review_problem) : "(" + e(*row.review_problem) + ")")
        << "\n";
      continue;
    }
    for (const auto& entry : row.changelog) {
      o << under << e(entry.version) << "  " << e(entry.distribution) << "\n";
      // Each line of the text on its own line, escaped: the text cannot draw lines of its own.
      std::string_view text = entry.text;
      for (std::size_t lines = 0; !text.empty() && lines < kMaxChangelogEntryText; ++lines) {
        auto nl = text.find('\n');
        const std::string_view line = text.substr(0, nl);
        if (line.find_first_not_of(" \t") == std::string_view::npos) {
          o << "\n";
        } else {
          o << under << "  " << e(line) << "\n";
        }
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
      }
    }
    if (row.review_note) o << under << "(" << e(*row.review_note) << ")\n";
  }
  return o.str();
}

std::string describe_bundle_subject(const Bundle& b) {
  std::ostringstream o;
  const Proposal& p = b.proposal();
  if (p.proposer()) o << "Proposer " << escape_untrusted(*p.proposer()) << "\n";
  if (p.note()) o << "Note     " << escape_untrusted(*p.note()) << "\n";
  if (const auto& m = b.manifest(); m && m->is_packages()) {
    o << "Packages " << escape_untrusted(m->name()) << " " << escape_untrusted(m->version())
      << ": Debian packages changed on the box\n";
    o << describe_package_changes(*m, nullptr, "         ");
    if (m->description()) o << "         " << escape_untrusted(*m->description()) << "\n";
    o << describe_name_warnings(*m);
  } else if (m) {
    o << "Manifest " << escape_untrusted(m->name()) << " " << escape_untrusted(m->version()) << ", "
      << m->files().size() << " file" << (m->files().size() == 1 ? "" : "s") << "\n";
    if (m->description()) o << "         " << escape_untrusted(*m->description()) << "\n";
    o << describe_name_warnings(*m);
  }
  return o.str();
}

}  // namespace countersign
