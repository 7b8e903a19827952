// Log: an exported audit log browsed as a table, and verified against the log's public key
// (and the opened checkpoint) as `countersign log verify` does.
#pragma once

#include <QLineEdit>
#include <QSortFilterProxyModel>
#include <QTableView>

#include "app/model/log_model.h"
#include "app/view.h"

namespace countersign::app {

class LogView : public View {
  Q_OBJECT

 public:
  LogView(Session& session, QWidget* parent = nullptr);
  void refresh() override;

  // Verifies with the vkey in `key_path`; the result goes to status().
  bool verify_with_key_file(const QString& key_path);
  QLabel* status() const { return status_; }
  LogModel* model() const { return model_; }

 private:
  QLabel* header_;
  QLabel* status_;
  QLineEdit* filter_;
  LogModel* model_;
  QSortFilterProxyModel* proxy_;
  QTableView* table_;
};

}  // namespace countersign::app
