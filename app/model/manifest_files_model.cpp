#include "app/model/manifest_files_model.h"
#include "app/model/format.h"

#include <QColor>

#include "core/bytes.h"
#include "core/manifest_diff.h"
#include "core/untrusted_text.h"

namespace countersign::app {

void ManifestFilesModel::set_files(std::vector<ManifestFile> files) {
  beginResetModel();
  files_ = std::move(files);
  endResetModel();
}

int ManifestFilesModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(files_.size());
}

int ManifestFilesModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : kColumnCount;
}

QVariant ManifestFilesModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount()) return {};
  const ManifestFile& f = files_[static_cast<std::size_t>(index.row())];
  if (role == kSortRole && (index.column() == kSize || index.column() == kBytes))
    return QVariant::fromValue<qulonglong>(f.size);
  if (role == Qt::TextAlignmentRole && (index.column() == kSize || index.column() == kBytes))
    return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
  if (role == Qt::ForegroundRole && index.column() == kPath && script_warning(f.path))
    return QColor(0xb3, 0x26, 0x1e);
  if (role != Qt::DisplayRole && role != Qt::ToolTipRole && role != kSortRole) return {};
  switch (index.column()) {
    case kPath: {
      // A name that may imitate another is flagged where it is read (core's script_warning,
      // the same as `manifest show`), not refused.
      if (role == kSortRole) return untrusted(f.path);
      const auto warning = script_warning(f.path);
      return warning ? untrusted(f.path) + QStringLiteral("  ⚠ this name ") + QString::fromStdString(*warning)
                     : untrusted(f.path);
    }
    case kSize:
      return QString::fromStdString(human_size(f.size));
    case kBytes:
      return grouped(f.size);
    case kSha256:
      return QString::fromStdString(hex_encode(f.sha256));
    default:
      return {};
  }
}

QVariant ManifestFilesModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
    return QAbstractTableModel::headerData(section, orientation, role);
  switch (section) {
    case kPath:
      return tr("Path");
    case kSize:
      return tr("Size");
    case kBytes:
      return tr("Bytes");
    case kSha256:
      return tr("SHA-256");
    default:
      return {};
  }
}

}  // namespace countersign::app
