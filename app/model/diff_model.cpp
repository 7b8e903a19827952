#include "app/model/diff_model.h"
#include "app/model/format.h"

#include <QColor>
#include <QPainter>

#include "core/bytes.h"

namespace countersign::app {

namespace {

// A 16 px (32 device px) shape icon drawn at run time: no image files to ship, sharp at 2x.
QImage shape_icon(DiffModel::Kind kind) {
  QImage img(32, 32, QImage::Format_ARGB32_Premultiplied);
  img.fill(Qt::transparent);
  img.setDevicePixelRatio(2.0);
  QPainter p(&img);
  p.setRenderHint(QPainter::Antialiasing);
  QPen pen(Qt::black, 2.5);
  switch (kind) {
    case DiffModel::Kind::kAdded:
      p.setBrush(QColor(0x1b, 0x7f, 0x3b));
      p.setPen(Qt::NoPen);
      p.drawEllipse(QRectF(1, 1, 14, 14));
      p.setPen(QPen(Qt::white, 2.0));
      p.drawLine(QPointF(4.5, 8), QPointF(11.5, 8));
      p.drawLine(QPointF(8, 4.5), QPointF(8, 11.5));
      break;
    case DiffModel::Kind::kRemoved:
      p.setBrush(QColor(0xb3, 0x26, 0x1e));
      p.setPen(Qt::NoPen);
      p.drawRect(QRectF(1.5, 1.5, 13, 13));
      p.setPen(QPen(Qt::white, 2.0));
      p.drawLine(QPointF(4.5, 8), QPointF(11.5, 8));
      break;
    case DiffModel::Kind::kChanged: {
      p.setBrush(QColor(0xc2, 0x7c, 0x0e));
      p.setPen(pen);
      p.setPen(Qt::NoPen);
      const QPointF tri[3] = {QPointF(8, 1), QPointF(15, 14.5), QPointF(1, 14.5)};
      p.drawPolygon(tri, 3);
      break;
    }
  }
  return img;
}

QString size_text(std::uint64_t size) {
  return QString::fromStdString(human_size(size)) + QStringLiteral(" (") + grouped(size) +
         QStringLiteral(")");
}

}  // namespace

DiffModel::DiffModel(QObject* parent) : QAbstractTableModel(parent) {
  icons_[0] = shape_icon(Kind::kAdded);
  icons_[1] = shape_icon(Kind::kRemoved);
  icons_[2] = shape_icon(Kind::kChanged);
}

void DiffModel::set_diff(ManifestDiff diff) {
  beginResetModel();
  diff_ = std::move(diff);
  rows_.clear();
  rows_.reserve(diff_.added.size() + diff_.removed.size() + diff_.changed.size());
  for (std::size_t i = 0; i < diff_.changed.size(); ++i) rows_.push_back({Kind::kChanged, i});
  for (std::size_t i = 0; i < diff_.added.size(); ++i) rows_.push_back({Kind::kAdded, i});
  for (std::size_t i = 0; i < diff_.removed.size(); ++i) rows_.push_back({Kind::kRemoved, i});
  endResetModel();
}

void DiffModel::clear() { set_diff(ManifestDiff{}); }

int DiffModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int DiffModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : kColumnCount; }

QVariant DiffModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount()) return {};
  const Row& r = rows_[static_cast<std::size_t>(index.row())];
  if (role == kKindRole) return static_cast<int>(r.kind);
  const ManifestFile* before = nullptr;
  const ManifestFile* after = nullptr;
  switch (r.kind) {
    case Kind::kAdded:
      after = &diff_.added[r.index];
      break;
    case Kind::kRemoved:
      before = &diff_.removed[r.index];
      break;
    case Kind::kChanged:
      before = &diff_.changed[r.index].before;
      after = &diff_.changed[r.index].after;
      break;
  }
  const int col = index.column();
  if (role == Qt::DecorationRole && col == kChange) return icons_[static_cast<int>(r.kind)];
  if (role == kSortRole && (col == kBefore || col == kAfter)) {
    const ManifestFile* f = col == kBefore ? before : after;
    return QVariant::fromValue<qulonglong>(f ? f->size : 0);
  }
  if (role == Qt::BackgroundRole) {
    switch (r.kind) {
      case Kind::kAdded:
        return QColor(0xe3, 0xf4, 0xe6);
      case Kind::kRemoved:
        return QColor(0xfb, 0xe4, 0xe2);
      case Kind::kChanged:
        return QColor(0xfd, 0xf1, 0xdc);
    }
  }
  if (role == Qt::ForegroundRole) return QColor(Qt::black);
  if (role != Qt::DisplayRole && role != Qt::ToolTipRole && role != kSortRole) return {};
  switch (col) {
    case kChange:
      switch (r.kind) {
        case Kind::kAdded:
          return tr("+ added");
        case Kind::kRemoved:
          return tr("− removed");
        case Kind::kChanged:
          return tr("Δ changed");
      }
      return {};
    case kPath:
      return untrusted(after ? after->path : before->path);
    case kBefore:
      return before ? size_text(before->size) : QString();
    case kAfter:
      return after ? size_text(after->size) : QString();
    case kDetail: {
      if (r.kind != Kind::kChanged) {
        return QStringLiteral("sha256 ") +
               QString::fromStdString(hex_encode((after ? after : before)->sha256).substr(0, 16));
      }
      const auto& c = diff_.changed[r.index];
      if (!c.hash_changed()) {
        return tr("size changed, same hash: %1 → %2 bytes")
            .arg(grouped(c.before.size), grouped(c.after.size));
      }
      const QString hashes = QString::fromStdString(hex_encode(c.before.sha256).substr(0, 16)) +
                             QStringLiteral(" → ") +
                             QString::fromStdString(hex_encode(c.after.sha256).substr(0, 16));
      return (c.size_changed() ? tr("size and hash changed: ") : tr("hash changed, same size: ")) + hashes;
    }
    default:
      return {};
  }
}

QVariant DiffModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
    return QAbstractTableModel::headerData(section, orientation, role);
  switch (section) {
    case kChange:
      return tr("Change");
    case kPath:
      return tr("Path");
    case kBefore:
      return tr("Before");
    case kAfter:
      return tr("After");
    case kDetail:
      return tr("Detail");
    default:
      return {};
  }
}

}  // namespace countersign::app
