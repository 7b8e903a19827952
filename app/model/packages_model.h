// The package table of a packages manifest (Review and Diff views): one row per change, in
// the manifest's order (core's package_changes, the same as `manifest show`): the change,
// the package, the version the box had when planned, the version approved, what its Debian
// changelog says between the two (from the review material of `packages plan --review`, when
// one for this manifest is open) and the .deb it comes from. The changelog cell shows one line
// per entry ("1.1-1: New upstream release: greets in French as well."); its tooltip the whole
// entries. Every text escaped (escape_untrusted): it came from a .deb.
#pragma once

#include <QStringList>
#include <vector>

#include "app/model/rows_model.h"
#include "core/manifest.h"
#include "core/packages_review.h"

namespace countersign::app {

class PackagesModel : public RowsModel {
  Q_OBJECT

 public:
  enum Column { kChange, kPackage, kInstalled, kApproved, kChangelog, kFile, kColumnCount };

  explicit PackagesModel(QObject* parent = nullptr);
  // The rows of `m` (a packages manifest; none otherwise) with `review`'s changelog entries
  // (nullptr: no review material open for it).
  void set_manifest(const Manifest& m, const PackagesReview* review);
  void clear();

  QVariant data(const QModelIndex& index, int role) const override;

 private:
  std::vector<QString> changelog_tips_;  // per row: every entry, each line escaped
};

}  // namespace countersign::app
