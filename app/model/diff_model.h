// The file changes between two manifests (core's diff_manifests), one row per added,
// removed or changed file. The change is said in words and with a shape icon (+, −, Δ) as
// well as a colour, so it reads the same for colour-blind people and in grey-scale prints.
#pragma once

#include <QAbstractTableModel>
#include <QImage>
#include <vector>

#include "core/manifest_diff.h"

namespace countersign::app {

class DiffModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  enum Column { kChange, kPath, kBefore, kAfter, kDetail, kColumnCount };
  enum class Kind { kAdded, kRemoved, kChanged };
  static constexpr int kSortRole = Qt::UserRole + 1;
  static constexpr int kKindRole = Qt::UserRole + 2;

  explicit DiffModel(QObject* parent = nullptr);
  // Rows in order: changed, added, removed (each in path order, as core gives them).
  void set_diff(ManifestDiff diff);
  void clear();
  const ManifestDiff& diff() const { return diff_; }
  Kind kind_at(int row) const { return rows_[static_cast<std::size_t>(row)].kind; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

 private:
  struct Row {
    Kind kind;
    std::size_t index;  // into diff_.added / removed / changed
  };
  ManifestDiff diff_;
  std::vector<Row> rows_;
  QImage icons_[3];
};

}  // namespace countersign::app
