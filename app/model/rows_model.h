// RowsModel: a read-only table of texts built once from a document (approvers, policy
// keys, log entries: hundreds to thousands of rows). Subclasses fill it from core types;
// views sort and filter it through a QSortFilterProxyModel.
#pragma once

#include <QAbstractTableModel>
#include <QStringList>
#include <vector>

namespace countersign::app {

class RowsModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  explicit RowsModel(QStringList headers, QObject* parent = nullptr)
      : QAbstractTableModel(parent), headers_(std::move(headers)) {}

  // The text shown in a cell; empty outside the table.
  QString text(int row, int column) const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

 protected:
  void set_rows(std::vector<QStringList> rows);
  // Optional per-row decoration (icon) and tooltip; called from data().
  virtual QVariant row_decoration(int /*row*/) const { return {}; }

 private:
  QStringList headers_;
  std::vector<QStringList> rows_;
};

}  // namespace countersign::app
