#include "app/model/packages_model.h"

#include <string_view>

#include "app/model/format.h"
#include "core/review.h"

namespace countersign::app {

namespace {

// The first line of an entry's text with words ("  * New upstream release." -> "New upstream
// release."), for the one-line cell.
std::string_view first_words(std::string_view text) {
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    const auto start = line.find_first_not_of(" \t*-");
    if (start != std::string_view::npos) return line.substr(start);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return {};
}

QString cell(const PackageChangeRow& row, bool have_review) {
  if (row.change == PackageChangeRow::Change::kRemove) return QString();
  if (!have_review) return QObject::tr("(no review material open: countersign packages plan --review)");
  if (row.review_problem) {
    return (row.review_mismatch ? QStringLiteral("! ") : QString()) + untrusted(*row.review_problem);
  }
  QStringList entries;
  for (const auto& e : row.changelog)
    entries << untrusted(e.version) + QStringLiteral(": ") + untrusted(first_words(e.text));
  QString out = entries.join(QStringLiteral("; "));
  if (row.review_note)
    out += (out.isEmpty() ? QString() : QStringLiteral(" ")) + QStringLiteral("(") +
           untrusted(*row.review_note) + QStringLiteral(")");
  return out;
}

QString tip(const PackageChangeRow& row) {
  QStringList lines;
  for (const auto& e : row.changelog) {
    lines << untrusted(e.version) + QStringLiteral("  ") + untrusted(e.distribution);
    std::string_view text = e.text;
    while (!text.empty()) {
      const auto nl = text.find('\n');
      lines << untrusted(text.substr(0, nl));
      if (nl == std::string_view::npos) break;
      text.remove_prefix(nl + 1);
    }
  }
  return lines.join(QStringLiteral("\n"));
}

}  // namespace

PackagesModel::PackagesModel(QObject* parent)
    : RowsModel({tr("Change"), tr("Package"), tr("Installed"), tr("Approved"), tr("Changelog"), tr("File")},
                parent) {}

void PackagesModel::set_manifest(const Manifest& m, const PackagesReview* review) {
  std::vector<QStringList> rows;
  changelog_tips_.clear();
  for (const PackageChangeRow& row : package_changes(m, review)) {
    rows.push_back({QString::fromUtf8(change_name(row.change).data(),
                                      static_cast<qsizetype>(change_name(row.change).size())),
                    untrusted(row.package), row.installed.empty() ? tr("(new)") : untrusted(row.installed),
                    row.approved.empty() ? tr("(removed)") : untrusted(row.approved),
                    cell(row, review != nullptr), untrusted(row.file)});
    changelog_tips_.push_back(tip(row));
  }
  set_rows(std::move(rows));
}

void PackagesModel::clear() {
  changelog_tips_.clear();
  set_rows({});
}

QVariant PackagesModel::data(const QModelIndex& index, int role) const {
  if (role == Qt::ToolTipRole && index.isValid() && index.column() == kChangelog &&
      static_cast<std::size_t>(index.row()) < changelog_tips_.size()) {
    const QString& t = changelog_tips_[static_cast<std::size_t>(index.row())];
    if (!t.isEmpty()) return t;
  }
  return RowsModel::data(index, role);
}

}  // namespace countersign::app
