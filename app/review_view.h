// Review: the proposal in plain words with its id as a fingerprint to read aloud, and the
// manifest (name, version, license, sources, the filterable file table; for a packages
// manifest, the filterable table of package changes with their changelog entries).
#pragma once

#include <QFormLayout>
#include <QLineEdit>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QTimer>
#include <map>
#include <optional>

#include "app/model/manifest_files_model.h"
#include "app/model/packages_model.h"
#include "app/view.h"

namespace countersign::app {

class ReviewView : public View {
  Q_OBJECT

 public:
  ReviewView(Session& session, QWidget* parent = nullptr);
  void refresh() override;

  // For tests.
  QLabel* field(const QString& name) const;
  QLineEdit* filter() const { return filter_; }
  QSortFilterProxyModel* files_proxy() const { return proxy_; }
  // A packages manifest's changes (shown instead of the file table).
  QSortFilterProxyModel* packages_proxy() const { return packages_proxy_; }
  QTableView* packages_table() const { return packages_table_; }
  QTableView* files_table() const { return table_; }

 private:
  QLabel* add_field(QFormLayout* form, const QString& name, const QString& label);
  // The packages table (and its line above it) for a packages manifest; the file table otherwise.
  void show_packages(const Workspace& ws);
  std::map<QString, QLabel*> fields_;
  ManifestFilesModel* files_;
  QSortFilterProxyModel* proxy_;
  QLineEdit* filter_;
  QTableView* table_;
  QFormLayout* manifest_form_ = nullptr;
  PackagesModel* packages_;
  QSortFilterProxyModel* packages_proxy_;
  QTableView* packages_table_;
  QTimer filter_timer_;
  std::optional<Digest> shown_manifest_;  // the file table is refilled only when this changes
};

}  // namespace countersign::app
