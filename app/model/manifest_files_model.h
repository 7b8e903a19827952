// The file table of a manifest: path, size in human units, exact bytes, SHA-256. One row
// per file, texts made on demand in data(), so 100,000 files cost one vector copy and no
// per-row objects. Sort and filter with a QSortFilterProxyModel (sort_role() for sizes).
#pragma once

#include <QAbstractTableModel>
#include <vector>

#include "core/manifest.h"

namespace countersign::app {

class ManifestFilesModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  enum Column { kPath, kSize, kBytes, kSha256, kColumnCount };
  // Numeric value for sorting the size columns (the display text sorts wrongly).
  static constexpr int kSortRole = Qt::UserRole + 1;

  explicit ManifestFilesModel(QObject* parent = nullptr) : QAbstractTableModel(parent) {}
  void set_files(std::vector<ManifestFile> files);
  const std::vector<ManifestFile>& files() const { return files_; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

 private:
  std::vector<ManifestFile> files_;
};

}  // namespace countersign::app
