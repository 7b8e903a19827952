// Diff: what changes against the previous manifest (named by the proposal's `previous`,
// found in a folder of known manifests, or opened by hand): counts first, then metadata
// changes, then the file rows.
#pragma once

#include <QLineEdit>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <optional>
#include <utility>

#include "app/model/diff_model.h"
#include "app/view.h"

namespace countersign::app {

class DiffView : public View {
  Q_OBJECT

 public:
  DiffView(Session& session, QWidget* parent = nullptr);
  void refresh() override;

  QLabel* counts() const { return counts_; }
  QLabel* metadata() const { return metadata_; }
  DiffModel* model() const { return model_; }
  QSortFilterProxyModel* proxy() const { return proxy_; }

 signals:
  void open_previous_requested();
  void choose_folder_requested();

 private:
  QLabel* counts_;
  QLabel* metadata_;
  QLabel* source_;
  QLineEdit* filter_;
  DiffModel* model_;
  QSortFilterProxyModel* proxy_;
  QTableView* table_;
  // (previous, current) manifest hashes of the diff shown; recomputed only when they change.
  std::optional<std::pair<Digest, Digest>> shown_;
};

}  // namespace countersign::app
