// Diff: what changes against the previous manifest (named by the proposal's `previous`,
// found in a folder of known manifests, or opened by hand): counts first, then metadata
// changes, then the file rows. A packages manifest carries its own "before" (each package's
// `replaces`, the box's version when planned): Diff shows its package changes instead.
#pragma once

#include <QLineEdit>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <optional>
#include <utility>

#include "app/model/diff_model.h"
#include "app/model/packages_model.h"
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
  // A packages manifest: its changes against the box's versions (shown instead of the file diff).
  QSortFilterProxyModel* packages_proxy() const { return packages_proxy_; }
  QTableView* packages_table() const { return packages_table_; }
  QLineEdit* filter() const { return filter_; }

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
  PackagesModel* packages_;
  QSortFilterProxyModel* packages_proxy_;
  QTableView* packages_table_;
  QWidget* open_previous_;
  QWidget* choose_folder_;
  // True when the packages table was shown (the file diff's cache is then stale).
  bool showed_packages_ = false;
  void show_packages(const Workspace& ws);
  // (previous, current) manifest hashes of the diff shown; recomputed only when they change.
  std::optional<std::pair<Digest, Digest>> shown_;
};

}  // namespace countersign::app
